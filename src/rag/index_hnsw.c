/* HNSW graph build (Malkov & Yashunin): level draws, the insertion walk down the layers, neighbour
 * selection by the diversity heuristic, and the reverse links, written so that searches running
 * at the same time always read lists of real nodes (see index_internal.h). Writer only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rag/index_internal.h"

uint32_t idx_hnsw_draw_level(aw_index *idx) {
    double u = aw_rng_double(&idx->rng); /* [0, 1): 1 - u is never 0 */
    double l = -log(1.0 - u) * idx->level_mult;
    return l >= IDX_MAX_LEVEL ? IDX_MAX_LEVEL : (uint32_t)l;
}

_Atomic uint32_t *idx_list_of(const aw_index *idx, idx_chunk *ch, uint32_t node, uint32_t layer) {
    uint32_t slot = node & idx->chunk_mask;
    if (layer == 0) return idx_links0(idx, ch, node);
    return ch->upper[slot] + (size_t)(layer - 1) * idx->upper_w;
}

/* Entries first, count last, all release: a reader that sees an entry sees its node whole. */
void idx_write_list(_Atomic uint32_t *list, const idx_cand *c, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) atomic_store_explicit(&list[1 + i], c[i].node, memory_order_release);
    atomic_store_explicit(&list[0], n, memory_order_release);
}

static inline bool cand_before(idx_cand a, idx_cand b) {
    return a.dist < b.dist || (a.dist == b.dist && a.node < b.node);
}

/* Quicksort (Hoare's partition around the middle element, insertion sort below 16) with the
 * comparison inlined: qsort's call through a pointer per comparison cost an insert ~8% of its time.
 * The order is by distance, then node id. */
void idx_sort_cands(idx_cand *c, uint32_t n) {
    while (n > 16) {
        idx_cand pivot = c[(n - 1) / 2];
        int64_t i = -1, j = n;
        for (;;) {
            do i++;
            while (cand_before(c[i], pivot));
            do j--;
            while (cand_before(pivot, c[j]));
            if (i >= j) break;
            idx_cand t = c[i];
            c[i] = c[j], c[j] = t;
        }
        uint32_t left = (uint32_t)j + 1; /* [0, left) and [left, n) */
        if (left < n - left) {
            idx_sort_cands(c, left); /* the smaller side recursively: depth stays logarithmic */
            c += left, n -= left;
        } else {
            idx_sort_cands(c + left, n - left);
            n = left;
        }
    }
    for (uint32_t i = 1; i < n; i++) {
        idx_cand v = c[i];
        uint32_t k = i;
        for (; k > 0 && cand_before(v, c[k - 1]); k--) c[k] = c[k - 1];
        c[k] = v;
    }
}

/* The diversity heuristic: walking c (sorted nearest first), keep a candidate only if it is nearer
 * to the base than to every one kept so far. At most max kept; writes them to out, returns count. */
uint32_t idx_select_neighbours(const aw_index *idx, const idx_dir **dc, idx_cand *c, uint32_t n, uint32_t max,
                               idx_cand *out, float *tmp) {
    idx_sort_cands(c, n);
    return idx_select_sorted(idx, dc, c, n, max, out, tmp);
}

uint32_t idx_select_sorted(const aw_index *idx, const idx_dir **dc, const idx_cand *c, uint32_t n, uint32_t max,
                           idx_cand *out, float *tmp) {
    if (n <= max) {
        memcpy(out, c, n * sizeof *c);
        return n;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n && kept < max; i++) {
        const float *v = kept ? idx_vector_f32(idx, idx_vector(idx, idx_chunk_at(idx, dc, c[i].node), c[i].node), tmp) : NULL;
        bool good = true;
        for (uint32_t j = 0; j < kept && good; j++) {
            const void *w = idx_vector(idx, idx_chunk_at(idx, dc, out[j].node), out[j].node);
            if (idx_distance(idx, v, w) < c[i].dist) good = false;
        }
        if (good) out[kept++] = c[i];
    }
    return kept;
}

/* Adds `node` to nb's list on `layer`; a full list is re-selected over its entries plus node.
 * base and tmp: stride floats each of working memory. */
static void link_back(aw_index *idx, const idx_dir **dc, uint32_t nb, uint32_t node, float dist, uint32_t layer,
                      idx_cand *work, idx_cand *pick, float *base_tmp, float *tmp) {
    idx_chunk *ch = idx_chunk_at(idx, dc, nb);
    _Atomic uint32_t *list = idx_list_of(idx, ch, nb, layer);
    uint32_t cap = layer == 0 ? idx->links0_w - 1 : idx->upper_w - 1;
    uint32_t n = atomic_load_explicit(&list[0], memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load_explicit(&list[1 + i], memory_order_relaxed) == node) return;
    if (n < cap) {
        atomic_store_explicit(&list[1 + n], node, memory_order_release);
        atomic_store_explicit(&list[0], n + 1, memory_order_release);
        return;
    }
    const float *base = idx_vector_f32(idx, idx_vector(idx, ch, nb), base_tmp);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t o = atomic_load_explicit(&list[1 + i], memory_order_relaxed);
        work[i] = (idx_cand){idx_distance(idx, base, idx_vector(idx, idx_chunk_at(idx, dc, o), o)), o};
    }
    work[n] = (idx_cand){dist, node};
    uint32_t kept = idx_select_neighbours(idx, dc, work, n + 1, cap, pick, tmp);
    idx_write_list(list, pick, kept);
}

aw_status idx_hnsw_insert(aw_index *idx, uint32_t node, uint32_t level) {
    uint64_t entry = atomic_load_explicit(&idx->entry, memory_order_relaxed);
    if (entry == UINT64_MAX) {
        atomic_store_explicit(&idx->entry, (uint64_t)level << 32 | node, memory_order_release);
        return AW_OK;
    }
    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    idx_chunk *ch = idx_chunk_at(idx, &dc, node);
    aw_index_scratch *s = idx->build;
    /* The stored vector, not the one given: under F16 every distance is between stored values. */
    const float *q = idx_vector_f32(idx, idx_vector(idx, ch, node), s->query);
    uint32_t ep = (uint32_t)entry, top = (uint32_t)(entry >> 32);
    float d = idx_distance(idx, q, idx_vector(idx, idx_chunk_at(idx, &dc, ep), ep));
    if (top > level) ep = idx_greedy(idx, q, ep, &d, top, level);

    uint32_t efc = idx->desc.ef_construction;
    aw_status st = idx_scratch_fit(s, node + 1, efc);
    if (st != AW_OK) return st;
    idx_cand *work = idx->build_work, *pick = idx->build_pick;
    uint32_t m = idx->desc.m;
    for (uint32_t layer = level < top ? level : top;; layer--) {
        idx_scratch_begin(s);
        s->best[0] = (idx_cand){d, ep};
        uint32_t found = 0;
        if ((st = idx_search_layer(idx, s, q, 1, efc, layer, NULL, false, &found)) != AW_OK) return st;
        memcpy(work, s->best, found * sizeof *work);
        uint32_t kept = idx_select_neighbours(idx, &dc, work, found, m, pick, s->vec);
        /* work is sorted now: its first entry is the nearest, the next layer's start. */
        ep = work[0].node;
        d = work[0].dist;
        idx_write_list(idx_list_of(idx, ch, node, layer), pick, kept);
        /* pick is reused by link_back: keep the kept set in s->cand, free until the next layer. */
        memcpy(s->cand, pick, kept * sizeof *pick);
        for (uint32_t i = 0; i < kept; i++)
            link_back(idx, &dc, s->cand[i].node, node, s->cand[i].dist, layer, work, pick, idx->vec_tmp, s->vec);
        if (layer == 0) break;
    }
    if (level > top) atomic_store_explicit(&idx->entry, (uint64_t)level << 32 | node, memory_order_release);
    return AW_OK;
}
