/* The local backend: the store interface over the in-process vector index (HNSW, or the exact flat
 * index), cosine metric. Searching threads borrow per-thread index scratch from a small lock-free
 * pool, so a query allocates nothing once each thread has had one. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "aw/rag.h"

#define SCRATCH_SLOTS 16 /* concurrent searches served without allocating; more use a temporary */

typedef struct local_store {
    const aw_allocator *allocator;
    aw_index *index;
    aw_jobs *jobs;
    uint32_t dim;
    _Atomic int busy[SCRATCH_SLOTS];
    aw_index_scratch *scratch[SCRATCH_SLOTS];
} local_store;

/* Times are seconds as doubles; the index keeps int64 timestamps: milliseconds, clamped. */
static int64_t to_ms(double t, bool up) {
    double ms = up ? ceil(t * 1000.0) : floor(t * 1000.0);
    if (!(ms > -9.2e18)) return INT64_MIN;
    if (!(ms < 9.2e18)) return INT64_MAX;
    return (int64_t)ms;
}

static aw_status local_upsert(void *self, const uint64_t *ids, const float *vectors, const aw_store_meta *meta,
                              uint32_t n) {
    local_store *s = self;
    aw_index_meta m[256];
    for (uint32_t at = 0; at < n; at += 256) {
        uint32_t count = n - at < 256 ? n - at : 256;
        for (uint32_t i = 0; i < count; i++)
            m[i] = (aw_index_meta){.kind = meta[at + i].kind, .agent = meta[at + i].agent,
                                   .timestamp = to_ms(meta[at + i].time, false)};
        aw_status st = aw_index_upsert_batch(s->index, s->jobs, ids + at, vectors + (size_t)at * s->dim, m, count);
        if (st != AW_OK) return st;
    }
    return AW_OK;
}

static aw_status local_remove(void *self, const uint64_t *ids, uint32_t n) {
    local_store *s = self;
    for (uint32_t i = 0; i < n; i++) {
        aw_status st = aw_index_delete(s->index, ids[i]);
        if (st != AW_OK && st != AW_ERR_NOT_FOUND) return st;
    }
    aw_clear_error();
    return AW_OK;
}

static aw_status local_query(void *self, const float *q, uint32_t k, const aw_store_filter *filter,
                             aw_store_hit *hits, uint32_t *found) {
    local_store *s = self;
    aw_index_filter f = {0};
    if (filter) {
        f.kinds = filter->kinds;
        f.match_agent = filter->by_agent;
        f.agent = filter->agent;
        f.match_time = filter->by_time;
        f.time_min = to_ms(filter->time_min, true);
        f.time_max = to_ms(filter->time_max, false);
    }
    int slot = -1;
    for (int i = 0; i < SCRATCH_SLOTS && slot < 0; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong_explicit(&s->busy[i], &expected, 1, memory_order_acquire,
                                                    memory_order_relaxed))
            slot = i;
    }
    aw_index_scratch *scratch = NULL;
    if (slot >= 0) {
        if (!s->scratch[slot]) s->scratch[slot] = aw_index_scratch_create(s->index);
        scratch = s->scratch[slot];
    }
    aw_index_hit buf[1024]; /* index hits carry a distance too: converted below */
    uint32_t want = k < 1024 ? k : 1024, n = 0;
    aw_status st = aw_index_search(s->index, scratch, q, want, filter ? &f : NULL, buf, &n);
    if (slot >= 0) atomic_store_explicit(&s->busy[slot], 0, memory_order_release);
    if (st != AW_OK) return st;
    for (uint32_t i = 0; i < n; i++) hits[i] = (aw_store_hit){.id = buf[i].id, .similarity = buf[i].similarity};
    *found = n;
    return AW_OK;
}

static aw_status local_count(void *self, uint64_t *count) {
    *count = aw_index_count(((local_store *)self)->index);
    return AW_OK;
}

static const float *local_vector(void *self, uint64_t id) {
    return aw_index_vector(((local_store *)self)->index, id);
}

static void local_close(void *self) {
    local_store *s = self;
    for (int i = 0; i < SCRATCH_SLOTS; i++) aw_index_scratch_destroy(s->scratch[i]);
    aw_index_destroy(s->index);
    aw_free(s->allocator, s, sizeof *s);
}

static const aw_store_backend local_backend = {
    .name = "local",
    .upsert = local_upsert,
    .remove = local_remove,
    .query = local_query,
    .count = local_count,
    .close = local_close,
    .vector = local_vector,
};

aw_store *aw_store_open_local(const aw_store_local_desc *desc) {
    aw_store_local_desc d = desc ? *desc : (aw_store_local_desc){0};
    local_store *s = aw_alloc(d.allocator, sizeof *s, 64);
    if (!s) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "local store: no memory");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->allocator = d.allocator;
    s->jobs = d.jobs;
    s->index = aw_index_create(&(aw_index_desc){
        .dim = d.dim ? d.dim : AW_EMBED_DIM,
        .metric = AW_INDEX_COSINE,
        .kind = d.exact ? AW_INDEX_FLAT : AW_INDEX_HNSW,
        .m = d.m,
        .ef_construction = d.ef_construction,
        .ef_search = d.ef_search,
        .allocator = d.allocator,
        .element = d.element,
    });
    if (!s->index) {
        aw_free(d.allocator, s, sizeof *s);
        return NULL;
    }
    s->dim = aw_index_get_desc(s->index).dim;
    aw_store *store = aw_store_create(&local_backend, s, s->dim, d.allocator);
    if (!store) local_close(s);
    return store;
}
