/* The local backend: the store interface over the in-process vector index.
 * (Interim: an exact scan under a read-write lock until the HNSW index lands.) */
#include <pthread.h>
#include <string.h>

#include "aw/rag.h"

typedef struct local_store {
    const aw_allocator *allocator;
    uint32_t dim;
    pthread_rwlock_t lock;
    aw_map slot_of; /* id -> slot */
    uint64_t *ids;
    aw_store_meta *meta;
    float *vec;
    uint32_t count, cap;
} local_store;

static aw_status local_grow(local_store *s, uint32_t need) {
    if (need <= s->cap) return AW_OK;
    uint32_t cap = s->cap ? s->cap : 256;
    while (cap < need) cap *= 2;
    uint64_t *ids = aw_realloc(s->allocator, s->ids, sizeof *ids * s->cap, sizeof *ids * cap, 64);
    if (ids) s->ids = ids;
    aw_store_meta *meta = aw_realloc(s->allocator, s->meta, sizeof *meta * s->cap, sizeof *meta * cap, 64);
    if (meta) s->meta = meta;
    float *vec = aw_realloc(s->allocator, s->vec, sizeof *vec * s->dim * s->cap, sizeof *vec * s->dim * cap, 64);
    if (vec) s->vec = vec;
    if (!ids || !meta || !vec) return aw_error(AW_ERR_OUT_OF_MEMORY, "local store: no memory for %u vectors", cap);
    s->cap = cap;
    return AW_OK;
}

static aw_status local_upsert(void *self, const uint64_t *ids, const float *vectors, const aw_store_meta *meta,
                              uint32_t n) {
    local_store *s = self;
    pthread_rwlock_wrlock(&s->lock);
    aw_status st = local_grow(s, s->count + n);
    if (st == AW_OK) st = aw_map_reserve(&s->slot_of, s->count + n);
    for (uint32_t i = 0; i < n && st == AW_OK; i++) {
        uint64_t slot;
        if (!aw_map_get(&s->slot_of, ids[i], &slot)) {
            slot = s->count++;
            aw_map_set(&s->slot_of, ids[i], slot);
        }
        s->ids[slot] = ids[i];
        s->meta[slot] = meta[i];
        memcpy(s->vec + slot * s->dim, vectors + (size_t)i * s->dim, sizeof(float) * s->dim);
    }
    pthread_rwlock_unlock(&s->lock);
    return st;
}

static aw_status local_remove(void *self, const uint64_t *ids, uint32_t n) {
    local_store *s = self;
    pthread_rwlock_wrlock(&s->lock);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t slot;
        if (!aw_map_get(&s->slot_of, ids[i], &slot)) continue;
        aw_map_remove(&s->slot_of, ids[i]);
        uint32_t last = --s->count;
        if (slot != last) {
            s->ids[slot] = s->ids[last];
            s->meta[slot] = s->meta[last];
            memcpy(s->vec + slot * s->dim, s->vec + (size_t)last * s->dim, sizeof(float) * s->dim);
            aw_map_set(&s->slot_of, s->ids[slot], slot);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return AW_OK;
}

static aw_status local_query(void *self, const float *q, uint32_t k, const aw_store_filter *filter,
                             aw_store_hit *hits, uint32_t *found) {
    local_store *s = self;
    uint32_t n = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (uint32_t i = 0; i < s->count; i++) {
        if (!aw_store_filter_match(filter, &s->meta[i])) continue;
        const float *v = s->vec + (size_t)i * s->dim;
        float dot = 0;
        for (uint32_t d = 0; d < s->dim; d++) dot += q[d] * v[d];
        aw_store_hit h = {.id = s->ids[i], .similarity = dot};
        uint32_t at = n < k ? n++ : k;
        while (at > 0 && (hits[at - 1].similarity < h.similarity ||
                          (hits[at - 1].similarity == h.similarity && hits[at - 1].id > h.id))) {
            if (at < k) hits[at] = hits[at - 1];
            at--;
        }
        if (at < k) hits[at] = h;
    }
    pthread_rwlock_unlock(&s->lock);
    *found = n;
    return AW_OK;
}

static aw_status local_count(void *self, uint64_t *count) {
    local_store *s = self;
    pthread_rwlock_rdlock(&s->lock);
    *count = s->count;
    pthread_rwlock_unlock(&s->lock);
    return AW_OK;
}

static void local_close(void *self) {
    local_store *s = self;
    aw_free(s->allocator, s->ids, sizeof *s->ids * s->cap);
    aw_free(s->allocator, s->meta, sizeof *s->meta * s->cap);
    aw_free(s->allocator, s->vec, sizeof *s->vec * s->dim * s->cap);
    aw_map_destroy(&s->slot_of);
    pthread_rwlock_destroy(&s->lock);
    aw_free(s->allocator, s, sizeof *s);
}

static const aw_store_backend local_backend = {
    .name = "local",
    .upsert = local_upsert,
    .remove = local_remove,
    .query = local_query,
    .count = local_count,
    .close = local_close,
};

aw_store *aw_store_open_local(const aw_store_local_desc *desc) {
    aw_store_local_desc d = desc ? *desc : (aw_store_local_desc){0};
    local_store *s = aw_alloc(d.allocator, sizeof *s, 64);
    if (!s) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "local store: no memory");
        return NULL;
    }
    *s = (local_store){.allocator = d.allocator, .dim = d.dim ? d.dim : AW_EMBED_DIM};
    pthread_rwlock_init(&s->lock, NULL);
    aw_map_init(&s->slot_of, d.allocator);
    aw_store *store = aw_store_create(&local_backend, s, s->dim, d.allocator);
    if (!store) local_close(s);
    return store;
}
