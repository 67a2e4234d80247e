/* Vector index searches: the per-thread scratch, the exact flat scan, the HNSW layer search (shared
 * with the graph build) and the public search calls. Nothing here locks or, with a warm scratch,
 * allocates. */
#include <math.h>
#include <string.h>

#include "rag/index_internal.h"

/* ---------------------------------------------------------------- scratch */

aw_index_scratch *aw_index_scratch_create(const aw_index *idx) {
    if (!idx) {
        aw_error(AW_ERR_INVALID_ARG, "aw_index_scratch_create: NULL index");
        return NULL;
    }
    const aw_allocator *a = idx->allocator;
    aw_index_scratch *s = aw_alloc(a, sizeof *s, 64);
    if (!s) goto oom;
    memset(s, 0, sizeof *s);
    s->idx = idx;
    s->allocator = a;
    s->links = aw_alloc(a, (size_t)idx->links0_w * sizeof(uint32_t), 64);
    s->query = aw_alloc(a, (size_t)idx->stride * sizeof(float), 64);
    s->vec = aw_alloc(a, (size_t)idx->stride * sizeof(float), 64);
    if (!s->links || !s->query || !s->vec) goto oom;
    /* Sized for common searches; a larger ef grows it on first use. */
    uint32_t ef = idx->desc.ef_search < 256 ? idx->desc.ef_search : 256;
    if (idx_scratch_fit(s, atomic_load(&((aw_index *)idx)->nodes), ef) != AW_OK) goto oom;
    return s;
oom:
    aw_index_scratch_destroy(s);
    aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_scratch_create: search scratch");
    return NULL;
}

void aw_index_scratch_destroy(aw_index_scratch *s) {
    if (!s) return;
    const aw_allocator *a = s->allocator;
    aw_free(a, s->visited, (size_t)s->visited_cap * sizeof(uint16_t));
    aw_free(a, s->cand, (size_t)s->cand_cap * sizeof(idx_cand));
    aw_free(a, s->best, (size_t)s->best_cap * sizeof(idx_cand));
    aw_free(a, s->links, (size_t)s->idx->links0_w * sizeof(uint32_t));
    aw_free(a, s->query, (size_t)s->idx->stride * sizeof(float));
    aw_free(a, s->vec, (size_t)s->idx->stride * sizeof(float));
    aw_free(a, s, sizeof *s);
}

static aw_status grow(aw_index_scratch *s, void **p, uint32_t *cap, uint32_t need, size_t elem, bool zero) {
    if (need <= *cap) return AW_OK;
    uint32_t n = *cap + *cap / 2 > need ? *cap + *cap / 2 : need;
    void *q = aw_realloc(s->allocator, *p, (size_t)*cap * elem, (size_t)n * elem, 64);
    if (!q) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index: search scratch of %u entries", n);
    if (zero) memset((char *)q + (size_t)*cap * elem, 0, (size_t)(n - *cap) * elem);
    *p = q;
    *cap = n;
    return AW_OK;
}

aw_status idx_scratch_fit(aw_index_scratch *s, uint32_t nodes, uint32_t ef) {
    /* Nodes come a chunk at a time, so the visited marks grow by whole chunks. */
    uint32_t chunk = s->idx->chunk_nodes;
    uint32_t vis = (nodes + chunk - 1) & ~(chunk - 1);
    if (vis < chunk) vis = chunk;
    aw_status st = grow(s, (void **)&s->visited, &s->visited_cap, vis, sizeof(uint16_t), true);
    if (st == AW_OK) st = grow(s, (void **)&s->best, &s->best_cap, ef + 1, sizeof(idx_cand), false);
    if (st == AW_OK) st = grow(s, (void **)&s->cand, &s->cand_cap, 2 * ef + s->idx->links0_w, sizeof(idx_cand), false);
    return st;
}

void idx_scratch_begin(aw_index_scratch *s) {
    if (++s->mark == 0) {
        memset(s->visited, 0, (size_t)s->visited_cap * sizeof(uint16_t));
        s->mark = 1;
    }
}

/* ---------------------------------------------------------------- graph reads */

uint32_t idx_read_links(const aw_index *idx, const idx_chunk *ch, uint32_t node, uint32_t layer, uint32_t *out) {
    uint32_t slot = node & idx->chunk_mask;
    const _Atomic uint32_t *list;
    uint32_t cap;
    if (layer == 0) {
        list = idx_links0(idx, ch, node);
        cap = idx->links0_w - 1;
    } else {
        list = ch->upper[slot] + (size_t)(layer - 1) * idx->upper_w;
        cap = idx->upper_w - 1;
    }
    uint32_t n = atomic_load_explicit(&list[0], memory_order_acquire);
    if (n > cap) n = cap;
    for (uint32_t i = 0; i < n; i++) out[i] = atomic_load_explicit(&list[1 + i], memory_order_acquire);
    return n;
}

static inline bool node_deleted(const aw_index *idx, const idx_chunk *ch, uint32_t node) {
    return atomic_load_explicit(&ch->deleted[node & idx->chunk_mask], memory_order_relaxed) != 0;
}

bool aw_index_filter_match(const aw_index_filter *f, const aw_index_meta *m) {
    if (!f) return true;
    if (f->kinds && (m->kind >= 64 || !(f->kinds >> m->kind & 1))) return false;
    if ((m->tags & f->tags_all) != f->tags_all) return false;
    if (f->tags_any && !(m->tags & f->tags_any)) return false;
    if (m->tags & f->tags_none) return false;
    if (f->match_agent && m->agent != f->agent) return false;
    if (f->match_time && (m->timestamp < f->time_min || m->timestamp > f->time_max)) return false;
    return true;
}

/* Whether a search may return node: live and passing the filter. */
static inline bool node_passes(const aw_index *idx, const idx_chunk *ch, uint32_t node, const aw_index_filter *f) {
    if (node_deleted(idx, ch, node)) return false;
    if (!f) return true;
    uint32_t slot = node & idx->chunk_mask;
    if (!aw_index_filter_match(f, &ch->metas[slot])) return false;
    return !f->accept || f->accept(f->user, ch->ids[slot], &ch->metas[slot]);
}

uint32_t idx_greedy(const aw_index *idx, const float *q, uint32_t node, float *dist, uint32_t from, uint32_t stop) {
    const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
    uint32_t links[128];
    for (uint32_t layer = from; layer > stop; layer--) {
        bool moved = true;
        while (moved) {
            moved = false;
            const idx_chunk *ch = idx_chunk_at(idx, &dc, node);
            uint32_t n = idx_read_links(idx, ch, node, layer, links);
            for (uint32_t i = 0; i < n; i++) {
                uint32_t nb = links[i];
                const idx_chunk *nch = idx_chunk_at(idx, &dc, nb);
                float d = idx_distance(idx, q, idx_vector(idx, nch, nb));
                if (d < *dist) {
                    *dist = d;
                    node = nb;
                    moved = true;
                }
            }
        }
    }
    return node;
}

aw_status idx_search_layer(const aw_index *idx, aw_index_scratch *s, const float *q, uint32_t n_entry,
                           uint32_t ef, uint32_t layer, const aw_index_filter *filter, bool skip_deleted,
                           uint32_t *found) {
    const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
    bool filtering = filter || skip_deleted;
    uint32_t vis_cap = s->visited_cap;
    uint16_t mark = s->mark, *visited = s->visited;
    idx_cand *best = s->best, *cand = s->cand;
    uint32_t n_best = 0, n_cand = 0;
    float bound = INFINITY; /* the worst distance among `best` once it holds ef */

    idx_cand entries[4];
    uint32_t ne = n_entry < 4 ? n_entry : 4;
    memcpy(entries, s->best, ne * sizeof entries[0]);
    for (uint32_t i = 0; i < ne; i++) {
        idx_cand e = entries[i];
        visited[e.node] = mark;
        idx_heap_push_min(cand, &n_cand, e);
        if (!filtering || node_passes(idx, idx_chunk_at(idx, &dc, e.node), e.node, filter)) {
            idx_heap_push_max(best, &n_best, e);
            if (n_best > ef) idx_heap_pop_max(best, &n_best);
        }
    }
    if (n_best >= ef) bound = best[0].dist;

    uint32_t *links = s->links;
    /* Vectors of up to 16 lines are fetched whole as soon as their node is seen: every line of
     * every neighbour in flight at once. Longer ones get their first line only (more would queue
     * behind each other and measured slower), and the next one's second. */
    uint32_t vec_bytes = idx->stride * idx->elem_bytes;
    bool whole = vec_bytes <= 1024;
    while (n_cand) {
        idx_cand c = cand[0];
        /* Unfiltered, or once ef results are in: nothing nearer than the bound is left. */
        if (c.dist > bound) break;
        idx_heap_pop_min(cand, &n_cand);
        /* The next node to expand: its list is wanted after this one's distances. */
        if (n_cand) __builtin_prefetch(idx_links0(idx, idx_chunk_at(idx, &dc, cand[0].node), cand[0].node));
        const idx_chunk *ch = idx_chunk_at(idx, &dc, c.node);
        /* Read the list (acquire loads, see index_internal.h), keep the unvisited neighbours and
         * start fetching their records. */
        uint32_t slot = c.node & idx->chunk_mask;
        const _Atomic uint32_t *list =
            layer == 0 ? idx_links0(idx, ch, c.node) : ch->upper[slot] + (size_t)(layer - 1) * idx->upper_w;
        uint32_t n = atomic_load_explicit(&list[0], memory_order_acquire);
        uint32_t cap = layer == 0 ? idx->links0_w - 1 : idx->upper_w - 1;
        if (n > cap) n = cap;
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t nb = atomic_load_explicit(&list[1 + i], memory_order_acquire);
            if (nb >= vis_cap || visited[nb] == mark) continue;
            visited[nb] = mark;
            links[m++] = nb;
            const char *v = idx_vector(idx, idx_chunk_at(idx, &dc, nb), nb);
            __builtin_prefetch(v);
            if (whole)
                for (uint32_t b = 64; b < vec_bytes; b += 64) __builtin_prefetch(v + b);
        }
        for (uint32_t i = 0; i < m; i++) {
            uint32_t nb = links[i];
            const idx_chunk *nch = idx_chunk_at(idx, &dc, nb);
            if (!whole && i + 1 < m)
                __builtin_prefetch((const char *)idx_vector(idx, idx_chunk_at(idx, &dc, links[i + 1]), links[i + 1]) + 64);
            float d = idx_distance(idx, q, idx_vector(idx, nch, nb));
            if (n_best >= ef && d >= bound) continue;
            if (n_cand == s->cand_cap) {
                /* The frontier never holds more than the nodes visited: grow once to that. */
                aw_status st = grow(s, (void **)&s->cand, &s->cand_cap, vis_cap > n_cand ? vis_cap : n_cand + 1,
                                    sizeof(idx_cand), false);
                if (st != AW_OK) return st;
                cand = s->cand;
            }
            idx_heap_push_min(cand, &n_cand, (idx_cand){d, nb});
            if (!filtering || node_passes(idx, nch, nb, filter)) {
                idx_heap_push_max(best, &n_best, (idx_cand){d, nb});
                if (n_best > ef) idx_heap_pop_max(best, &n_best);
                if (n_best >= ef) bound = best[0].dist;
            }
        }
    }
    *found = n_best;
    return AW_OK;
}

/* ---------------------------------------------------------------- flat scan */

/* Exact: every published node that passes, into the max-heap s->best (k). */
static uint32_t flat_scan(const aw_index *idx, aw_index_scratch *s, const float *q, uint32_t k,
                          const aw_index_filter *filter, uint32_t nodes) {
    const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
    idx_cand *best = s->best;
    uint32_t n_best = 0;
    for (uint32_t base = 0; base < nodes; base += idx->chunk_nodes) {
        const idx_chunk *ch = idx_chunk_at(idx, &dc, base);
        uint32_t end = nodes - base < idx->chunk_nodes ? nodes - base : idx->chunk_nodes;
        for (uint32_t i = 0; i < end; i++) {
            uint32_t node = base + i;
            if (!node_passes(idx, ch, node, filter)) continue;
            float d = idx_distance(idx, q, idx_vector(idx, ch, node));
            if (n_best < k) {
                idx_heap_push_max(best, &n_best, (idx_cand){d, node});
            } else if (d < best[0].dist) {
                idx_heap_pop_max(best, &n_best);
                idx_heap_push_max(best, &n_best, (idx_cand){d, node});
            }
        }
    }
    return n_best;
}

/* ---------------------------------------------------------------- public search */

static aw_status search(const aw_index *idx, aw_index_scratch *s, const float *query, const aw_index_query *q,
                        aw_index_hit *hits, uint32_t *count) {
    aw_status st = idx_prepare_vector(idx, query, s->query, "aw_index_search: query");
    if (st != AW_OK) return st;
    /* The entry point first: every node it names is counted in `nodes` read after it. */
    uint64_t entry = atomic_load_explicit(&((aw_index *)idx)->entry, memory_order_acquire);
    uint32_t nodes = atomic_load_explicit(&((aw_index *)idx)->nodes, memory_order_acquire);
    /* No search returns more than the nodes there are, so k and ef stop there (and heaps stay small). */
    uint32_t k = q->k < nodes ? q->k : nodes;
    uint32_t ef = q->ef_search ? q->ef_search : idx->desc.ef_search;
    if (ef > nodes) ef = nodes;
    if (ef < k) ef = k;
    if (k == 0) return AW_OK;
    if ((st = idx_scratch_fit(s, nodes, ef)) != AW_OK) return st;

    uint32_t found = 0;
    if (idx->desc.kind == AW_INDEX_HNSW && entry != UINT64_MAX) {
        const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
        uint32_t ep = (uint32_t)entry, top = (uint32_t)(entry >> 32);
        float d = idx_distance(idx, s->query, idx_vector(idx, idx_chunk_at(idx, &dc, ep), ep));
        ep = idx_greedy(idx, s->query, ep, &d, top, 0);
        idx_scratch_begin(s);
        s->best[0] = (idx_cand){d, ep};
        if ((st = idx_search_layer(idx, s, s->query, 1, ef, 0, q->filter, true, &found)) != AW_OK) return st;
        /* A filter that few vectors pass can leave the walk short: then scan exactly. */
        if (found < k && q->filter && found < aw_index_count(idx)) found = flat_scan(idx, s, s->query, k, q->filter, nodes);
        while (found > k) idx_heap_pop_max(s->best, &found);
    } else if (idx->desc.kind == AW_INDEX_FLAT) {
        found = flat_scan(idx, s, s->query, k, q->filter, nodes);
    }

    /* Heap to sorted hits, nearest first. */
    const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
    for (uint32_t i = found; i > 0; i--) {
        idx_cand c = s->best[0];
        idx_heap_pop_max(s->best, &(uint32_t){i});
        const idx_chunk *ch = idx_chunk_at(idx, &dc, c.node);
        uint32_t slot = c.node & idx->chunk_mask;
        hits[i - 1] = (aw_index_hit){ch->ids[slot], c.dist, idx_similarity(idx, c.dist)};
        if (q->vectors)
            idx_copy_out(idx, idx_vector(idx, ch, c.node), q->vectors + (size_t)(i - 1) * idx->desc.dim, idx->desc.dim);
        if (q->metas) q->metas[i - 1] = ch->metas[slot];
    }
    *count = found;
    return AW_OK;
}

aw_status aw_index_search_ex(const aw_index *idx, aw_index_scratch *scratch, const float *query,
                             const aw_index_query *q, aw_index_hit *hits, uint32_t *count) {
    if (count) *count = 0;
    if (!idx || !query || !q || !hits || !count)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_search: NULL index, query, options, hits or count");
    if (q->k == 0) return aw_error(AW_ERR_INVALID_ARG, "aw_index_search: k is 0");
    if (scratch && scratch->idx != idx)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_search: the scratch was made for another index");
    if (scratch) return search(idx, scratch, query, q, hits, count);
    aw_index_scratch *tmp = aw_index_scratch_create(idx);
    if (!tmp) return aw_last_status();
    aw_status st = search(idx, tmp, query, q, hits, count);
    aw_index_scratch_destroy(tmp);
    return st;
}

aw_status aw_index_search(const aw_index *idx, aw_index_scratch *scratch, const float *query, uint32_t k,
                          const aw_index_filter *filter, aw_index_hit *hits, uint32_t *count) {
    aw_index_query q = {.k = k, .filter = filter};
    return aw_index_search_ex(idx, scratch, query, &q, hits, count);
}
