/* Batch insertion into the HNSW graph, in parallel on the job system and deterministic for any
 * thread count: vectors go in batches of IDX_BATCH; each batch's nodes search the graph as it was
 * when the batch began (in parallel, read-only) plus each other (exactly), pick their neighbours,
 * then the reverse links are written grouped by target node (in parallel, one writer per list).
 * Nothing a thread computes depends on which thread runs it or on timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag/index_internal.h"

#define IDX_BATCH      64u   /* nodes per batch: enough ranges for the workers, few enough that the
                                exact distances to batch peers stay cheap */
#define IDX_BATCH_MIN  1024u /* below this many nodes the graph is still forming: one at a time */

typedef struct batch_worker {
    aw_index_scratch *s;
    idx_cand *work, *pick; /* work_cap each */
    aw_status status;
} batch_worker;

/* A reverse link to add: `node` (new) into the list of `target` on `layer`. */
typedef struct link_req {
    uint32_t layer, target, node;
    float dist;
} link_req;

typedef struct idx_batch {
    aw_index *idx;
    uint32_t worker_count;
    batch_worker *w;
    uint32_t work_cap;
    /* The batch being linked. */
    uint32_t count, top, ep;                   /* ep: IDX_NONE when the graph is empty */
    uint32_t node[IDX_BATCH], level[IDX_BATCH], replaced[IDX_BATCH];
    uint32_t slot[IDX_BATCH + 1];              /* first (node, layer) slot of each batch node */
    idx_cand *picks;                           /* m per (node, layer) slot */
    uint32_t *npick;                           /* per slot */
    link_req *reqs;
    uint32_t *groups; /* start of each (layer, target) group in reqs, then the end */
    uint32_t slot_cap, pick_cap, req_cap, group_cap;
} idx_batch;

static void worker_free(const aw_allocator *a, batch_worker *w, uint32_t cap) {
    aw_index_scratch_destroy(w->s);
    aw_free(a, w->work, (size_t)cap * sizeof(idx_cand));
    aw_free(a, w->pick, (size_t)cap * sizeof(idx_cand));
}

void idx_batch_free(aw_index *idx) {
    idx_batch *b = idx->batch;
    if (!b) return;
    const aw_allocator *a = idx->allocator;
    for (uint32_t i = 0; i < b->worker_count; i++) worker_free(a, &b->w[i], b->work_cap);
    aw_free(a, b->w, (size_t)b->worker_count * sizeof *b->w);
    aw_free(a, b->picks, (size_t)b->pick_cap * sizeof(idx_cand));
    aw_free(a, b->npick, (size_t)b->slot_cap * sizeof(uint32_t));
    aw_free(a, b->reqs, (size_t)b->req_cap * sizeof(link_req));
    aw_free(a, b->groups, (size_t)b->group_cap * sizeof(uint32_t));
    aw_free(a, b, sizeof *b);
    idx->batch = NULL;
}

static bool grow_array(const aw_allocator *a, void **p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return true;
    uint32_t n = need > 2 * *cap ? need : 2 * *cap;
    void *q = aw_realloc(a, *p, (size_t)*cap * elem, (size_t)n * elem, 64);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

/* The batch state with scratch for `workers` threads, fit for `nodes` nodes. */
static aw_status batch_fit_workers(aw_index *idx, uint32_t workers, uint32_t nodes) {
    const aw_allocator *a = idx->allocator;
    if (!idx->batch) {
        idx->batch = aw_alloc(a, sizeof *idx->batch, 64);
        if (!idx->batch) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_upsert_batch: batch state");
        memset(idx->batch, 0, sizeof *idx->batch);
        uint32_t efc = idx->desc.ef_construction, m2 = 2 * idx->desc.m;
        idx->batch->work_cap = (efc > m2 ? efc : m2) + IDX_BATCH + 1;
    }
    idx_batch *b = idx->batch;
    b->idx = idx;
    if (workers > b->worker_count) {
        batch_worker *w = aw_realloc(a, b->w, (size_t)b->worker_count * sizeof *w, (size_t)workers * sizeof *w, 64);
        if (!w) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_upsert_batch: %u workers", workers);
        memset(w + b->worker_count, 0, (size_t)(workers - b->worker_count) * sizeof *w);
        b->w = w;
        b->worker_count = workers;
    }
    for (uint32_t i = 0; i < workers; i++) {
        batch_worker *w = &b->w[i];
        if (!w->s) {
            w->s = aw_index_scratch_create(idx);
            w->work = aw_alloc(a, (size_t)b->work_cap * sizeof(idx_cand), 64);
            w->pick = aw_alloc(a, (size_t)b->work_cap * sizeof(idx_cand), 64);
            if (!w->s || !w->work || !w->pick) {
                worker_free(a, w, b->work_cap);
                memset(w, 0, sizeof *w);
                return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_upsert_batch: worker scratch");
            }
        }
        aw_status st = idx_scratch_fit(w->s, nodes, idx->desc.ef_construction);
        if (st != AW_OK) return st;
    }
    return AW_OK;
}

/* Room for the stored batch's (node, layer) slots and the reverse links they ask for. */
static aw_status batch_fit_slots(aw_index *idx) {
    idx_batch *b = idx->batch;
    const aw_allocator *a = idx->allocator;
    uint32_t slots = b->slot[b->count], m = idx->desc.m;
    bool ok = grow_array(a, (void **)&b->npick, &b->slot_cap, slots, sizeof(uint32_t));
    ok = ok && grow_array(a, (void **)&b->picks, &b->pick_cap, slots * m, sizeof(idx_cand));
    ok = ok && grow_array(a, (void **)&b->reqs, &b->req_cap, slots * m, sizeof(link_req));
    ok = ok && grow_array(a, (void **)&b->groups, &b->group_cap, slots * m + 1, sizeof(uint32_t));
    return ok ? AW_OK : aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_upsert_batch: links of %u nodes", b->count);
}

/* ---------------------------------------------------------------- phase 1: neighbour searches */

/* Batch node i: the greedy descent and the layer searches over the graph as the batch found it,
 * plus the other batch nodes by exact distance, then the diversity heuristic per layer. Reads only. */
static void search_one(idx_batch *b, uint32_t i, batch_worker *w) {
    aw_index *idx = b->idx;
    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_acquire);
    uint32_t node = b->node[i], level = b->level[i], m = idx->desc.m;
    const float *q = idx_vector_f32(idx, idx_vector(idx, idx_chunk_at(idx, &dc, node), node), w->s->query);
    uint32_t ep = b->ep;
    float d = 0;
    if (ep != IDX_NONE) {
        d = idx_distance(idx, q, idx_vector(idx, idx_chunk_at(idx, &dc, ep), ep));
        if (b->top > level) ep = idx_greedy(idx, q, ep, &d, b->top, level);
    }
    for (uint32_t layer = level;; layer--) {
        uint32_t n = 0;
        if (ep != IDX_NONE && layer <= b->top) {
            idx_scratch_begin(w->s);
            w->s->best[0] = (idx_cand){d, ep};
            aw_status st = idx_search_layer(idx, w->s, q, 1, idx->desc.ef_construction, layer, NULL, false, &n);
            if (st != AW_OK) {
                w->status = st;
                return;
            }
            memcpy(w->work, w->s->best, n * sizeof *w->work);
            /* The nearest graph node starts the next layer down. */
            for (uint32_t k = 0; k < n; k++)
                if (w->work[k].dist < d || (w->work[k].dist == d && w->work[k].node < ep)) {
                    d = w->work[k].dist;
                    ep = w->work[k].node;
                }
        }
        for (uint32_t j = 0; j < b->count; j++) {
            if (j == i || b->level[j] < layer) continue;
            uint32_t o = b->node[j];
            w->work[n++] = (idx_cand){idx_distance(idx, q, idx_vector(idx, idx_chunk_at(idx, &dc, o), o)), o};
        }
        /* As a single insert would: the ef_construction nearest found go to the heuristic. */
        idx_sort_cands(w->work, n);
        uint32_t efc = idx->desc.ef_construction;
        uint32_t s = b->slot[i] + layer;
        uint32_t kept = idx_select_sorted(idx, &dc, w->work, n < efc ? n : efc, m, w->pick, w->s->vec);
        memcpy(b->picks + (size_t)s * m, w->pick, kept * sizeof *w->pick);
        b->npick[s] = kept;
        if (layer == 0) break;
    }
}

static void search_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    idx_batch *b = ctx;
    batch_worker *w = &b->w[worker];
    for (uint32_t i = begin; i < end && w->status == AW_OK; i++) search_one(b, i, w);
}

/* ---------------------------------------------------------------- phase 2: reverse links */

static int cmp_req(const void *pa, const void *pb) {
    const link_req *x = pa, *y = pb;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    if (x->target != y->target) return x->target < y->target ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* Adds group g's new nodes to its target's list: appended while there is room, else the list is
 * re-selected by the heuristic over its entries and all the new ones at once. */
static void link_group(idx_batch *b, uint32_t g, batch_worker *w) {
    aw_index *idx = b->idx;
    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    const link_req *r = b->reqs + b->groups[g], *end = b->reqs + b->groups[g + 1];
    uint32_t t = r->target, layer = r->layer;
    idx_chunk *ch = idx_chunk_at(idx, &dc, t);
    _Atomic uint32_t *list = idx_list_of(idx, ch, t, layer);
    uint32_t cap = layer == 0 ? idx->links0_w - 1 : idx->upper_w - 1;
    uint32_t n = atomic_load_explicit(&list[0], memory_order_relaxed), cnt = n;
    for (uint32_t k = 0; k < n; k++) w->work[k].node = atomic_load_explicit(&list[1 + k], memory_order_relaxed);
    for (; r < end; r++) {
        bool present = false;
        for (uint32_t k = 0; k < n && !present; k++) present = w->work[k].node == r->node;
        if (!present) w->work[cnt++] = (idx_cand){r->dist, r->node};
    }
    if (cnt == n) return;
    if (cnt <= cap) {
        for (uint32_t k = n; k < cnt; k++) atomic_store_explicit(&list[1 + k], w->work[k].node, memory_order_release);
        atomic_store_explicit(&list[0], cnt, memory_order_release);
        return;
    }
    const float *base = idx_vector_f32(idx, idx_vector(idx, ch, t), w->s->query);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t o = w->work[k].node;
        w->work[k].dist = idx_distance(idx, base, idx_vector(idx, idx_chunk_at(idx, &dc, o), o));
    }
    uint32_t kept = idx_select_neighbours(idx, &dc, w->work, cnt, cap, w->pick, w->s->vec);
    idx_write_list(list, w->pick, kept);
}

static void link_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    idx_batch *b = ctx;
    for (uint32_t g = begin; g < end; g++) link_group(b, g, &b->w[worker]);
}

static aw_status run(aw_jobs *jobs, uint32_t count, uint32_t grain, aw_range_fn fn, idx_batch *b) {
    if (jobs && aw_jobs_thread_count(jobs) > 1) return aw_jobs_parallel_for(jobs, count, grain, fn, b);
    fn(0, count, 0, b);
    return AW_OK;
}

/* Links the stored, unlinked batch nodes b->node[0..count) into the graph. On failure the graph is
 * unchanged (nothing is written before every search succeeded). */
static aw_status link_batch(aw_index *idx, aw_jobs *jobs) {
    idx_batch *b = idx->batch;
    uint32_t m = idx->desc.m;
    for (uint32_t i = 0; i < b->worker_count; i++) b->w[i].status = AW_OK;
    aw_status st = run(jobs, b->count, 4, search_range, b);
    for (uint32_t i = 0; i < b->worker_count && st == AW_OK; i++) st = b->w[i].status;
    if (st != AW_OK) return st;

    /* Each new node's own lists (one writer each), and the reverse links they ask for. */
    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    uint32_t nreq = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        idx_chunk *ch = idx_chunk_at(idx, &dc, b->node[i]);
        for (uint32_t layer = 0; layer <= b->level[i]; layer++) {
            uint32_t s = b->slot[i] + layer;
            const idx_cand *p = b->picks + (size_t)s * m;
            idx_write_list(idx_list_of(idx, ch, b->node[i], layer), p, b->npick[s]);
            for (uint32_t k = 0; k < b->npick[s]; k++)
                b->reqs[nreq++] = (link_req){layer, p[k].node, b->node[i], p[k].dist};
        }
    }
    qsort(b->reqs, nreq, sizeof *b->reqs, cmp_req);
    uint32_t groups = 0;
    for (uint32_t k = 0; k < nreq; k++)
        if (k == 0 || b->reqs[k].target != b->reqs[k - 1].target || b->reqs[k].layer != b->reqs[k - 1].layer)
            b->groups[groups++] = k;
    b->groups[groups] = nreq;
    /* The lists in a group are one target's: groups write disjoint lists. */
    st = run(jobs, groups, 16, link_range, b);
    if (st != AW_OK) return st; /* the job system refused to start: nothing ran */

    /* The highest new level (the first node that has it) becomes the entry if it tops the graph. */
    uint32_t best = 0;
    for (uint32_t i = 1; i < b->count; i++)
        if (b->level[i] > b->level[best]) best = i;
    if (b->ep == IDX_NONE || b->level[best] > b->top)
        atomic_store_explicit(&idx->entry, (uint64_t)b->level[best] << 32 | b->node[best], memory_order_release);
    return AW_OK;
}

aw_status aw_index_upsert_batch(aw_index *idx, aw_jobs *jobs, const uint64_t *ids, const float *vectors,
                                const aw_index_meta *metas, uint32_t n) {
    if (!idx || (n && (!ids || !vectors)))
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_upsert_batch: NULL index, ids or vectors");
    pthread_mutex_lock(&idx->writer);
    uint32_t dim = idx->desc.dim;
    aw_status st = AW_OK;
    /* Every vector is checked before anything changes. */
    for (uint32_t i = 0; i < n && st == AW_OK; i++) {
        char what[64];
        snprintf(what, sizeof what, "aw_index_upsert_batch: vector %u", i);
        st = idx_prepare_stored(idx, vectors + (size_t)i * dim, idx->vec_tmp, what);
    }
    uint32_t workers = jobs ? aw_jobs_thread_count(jobs) : 1;
    for (uint32_t at = 0; at < n && st == AW_OK;) {
        uint32_t nodes = atomic_load_explicit(&idx->nodes, memory_order_relaxed);
        if (idx->desc.kind != AW_INDEX_HNSW || nodes < IDX_BATCH_MIN) {
            /* One at a time, as aw_index_upsert. */
            uint32_t node, level, old;
            idx_prepare_vector(idx, vectors + (size_t)at * dim, idx->vec_tmp, "aw_index_upsert_batch");
            st = idx_store_node(idx, ids[at], idx->vec_tmp, metas ? &metas[at] : NULL, &node, &level, &old);
            if (st == AW_OK && idx->desc.kind == AW_INDEX_HNSW && (st = idx_hnsw_insert(idx, node, level)) != AW_OK)
                idx_unlink_failed(idx, node, old);
            else if (st == AW_OK && old != IDX_NONE)
                idx_tombstone(idx, old);
            at++;
            continue;
        }
        uint32_t count = n - at < IDX_BATCH ? n - at : IDX_BATCH;
        if ((st = batch_fit_workers(idx, workers, nodes + count)) != AW_OK) break;
        idx_batch *b = idx->batch;
        uint64_t entry = atomic_load_explicit(&idx->entry, memory_order_relaxed);
        b->ep = entry == UINT64_MAX ? IDX_NONE : (uint32_t)entry;
        b->top = entry == UINT64_MAX ? 0 : (uint32_t)(entry >> 32);
        b->count = 0;
        b->slot[0] = 0;
        for (uint32_t i = 0; i < count; i++) {
            idx_prepare_vector(idx, vectors + (size_t)(at + i) * dim, idx->vec_tmp, "aw_index_upsert_batch");
            st = idx_store_node(idx, ids[at + i], idx->vec_tmp, metas ? &metas[at + i] : NULL, &b->node[i],
                                &b->level[i], &b->replaced[i]);
            if (st != AW_OK) break;
            b->slot[i + 1] = b->slot[i] + b->level[i] + 1;
            b->count = i + 1;
        }
        /* A storage failure ends the batch at the failing item: the ones before it are linked. */
        aw_status link = b->count ? batch_fit_slots(idx) : AW_OK;
        if (link == AW_OK && b->count) link = link_batch(idx, jobs);
        for (uint32_t i = 0; i < b->count; i++) {
            if (link != AW_OK) idx_unlink_failed(idx, b->node[i], b->replaced[i]);
            else if (b->replaced[i] != IDX_NONE) idx_tombstone(idx, b->replaced[i]);
        }
        if (link != AW_OK) st = link;
        at += count;
    }
    pthread_mutex_unlock(&idx->writer);
    return st;
}
