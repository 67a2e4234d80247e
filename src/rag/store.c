/* The vector store interface: argument checks in front of a backend's vtable, so every backend
 * (local HNSW, Chroma, the next REST server) sees only well-formed calls. */
#include <math.h>
#include <string.h>

#include "aw/rag.h"

struct aw_store {
    const aw_store_backend *backend;
    void *self;
    uint32_t dim;
    const aw_allocator *allocator;
};

static const char *const kind_names[AW_MEMORY_KIND_COUNT] = {"episodic", "semantic", "procedural", "lore",
                                                             "example"};

const char *aw_memory_kind_name(aw_memory_kind kind) {
    return (unsigned)kind < AW_MEMORY_KIND_COUNT ? kind_names[kind] : "?";
}

aw_status aw_memory_kind_parse(const char *name, aw_memory_kind *out) {
    for (int k = 0; name && k < AW_MEMORY_KIND_COUNT; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            if (out) *out = (aw_memory_kind)k;
            return AW_OK;
        }
    }
    return aw_error(AW_ERR_NOT_FOUND,
                    "memory: unknown kind '%s' (episodic, semantic, procedural, lore or example)",
                    name ? name : "(null)");
}

bool aw_store_filter_match(const aw_store_filter *f, const aw_store_meta *m) {
    if (!f) return true;
    if (f->kinds && (m->kind >= 32 || !(f->kinds & (1u << m->kind)))) return false;
    if (f->by_agent && m->agent != f->agent) return false;
    if (f->by_time && !(m->time >= f->time_min && m->time <= f->time_max)) return false;
    return true;
}

aw_store *aw_store_create(const aw_store_backend *backend, void *self, uint32_t dim, const aw_allocator *allocator) {
    if (!backend || !backend->upsert || !backend->remove || !backend->query || !backend->count || !backend->close) {
        aw_error(AW_ERR_INVALID_ARG, "store: the backend lacks an operation");
        return NULL;
    }
    if (dim == 0) {
        aw_error(AW_ERR_INVALID_ARG, "store: dim is 0");
        return NULL;
    }
    aw_store *s = aw_alloc(allocator, sizeof *s, _Alignof(aw_store));
    if (!s) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "store: no memory");
        return NULL;
    }
    *s = (aw_store){.backend = backend, .self = self, .dim = dim, .allocator = allocator};
    return s;
}

const char *aw_store_backend_name(const aw_store *store) {
    return store && store->backend->name ? store->backend->name : "?";
}

uint32_t aw_store_dim(const aw_store *store) {
    return store ? store->dim : 0;
}

aw_status aw_store_upsert(aw_store *store, const uint64_t *ids, const float *vectors, const aw_store_meta *meta,
                          uint32_t n) {
    if (!store || (n && (!ids || !vectors || !meta)))
        return aw_error(AW_ERR_INVALID_ARG, "store: upsert needs ids, vectors and metadata");
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == 0) return aw_error(AW_ERR_INVALID_ARG, "store: id 0 at %u (ids are non-zero)", i);
        if (meta[i].kind >= AW_MEMORY_KIND_COUNT)
            return aw_error(AW_ERR_INVALID_ARG, "store: kind %u of id %llu is out of range", meta[i].kind,
                            (unsigned long long)ids[i]);
        if (meta[i].agent >> 63)
            return aw_error(AW_ERR_INVALID_ARG, "store: agent of id %llu is 2^63 or more",
                            (unsigned long long)ids[i]);
        if (!isfinite(meta[i].time) || !isfinite(meta[i].importance))
            return aw_error(AW_ERR_INVALID_ARG, "store: time or importance of id %llu is not finite",
                            (unsigned long long)ids[i]);
        const float *v = vectors + (size_t)i * store->dim;
        for (uint32_t d = 0; d < store->dim; d++)
            if (!isfinite(v[d]))
                return aw_error(AW_ERR_INVALID_ARG, "store: vector of id %llu is not finite",
                                (unsigned long long)ids[i]);
    }
    return n ? store->backend->upsert(store->self, ids, vectors, meta, n) : AW_OK;
}

aw_status aw_store_delete(aw_store *store, const uint64_t *ids, uint32_t n) {
    if (!store || (n && !ids)) return aw_error(AW_ERR_INVALID_ARG, "store: delete needs ids");
    return n ? store->backend->remove(store->self, ids, n) : AW_OK;
}

aw_status aw_store_query(aw_store *store, const float *vector, uint32_t k, const aw_store_filter *filter,
                         aw_store_hit *hits, uint32_t *found) {
    if (found) *found = 0;
    if (!store || !vector || !found || (k && !hits))
        return aw_error(AW_ERR_INVALID_ARG, "store: query needs a vector, hits and found");
    for (uint32_t d = 0; d < store->dim; d++)
        if (!isfinite(vector[d])) return aw_error(AW_ERR_INVALID_ARG, "store: query vector is not finite");
    return k ? store->backend->query(store->self, vector, k, filter, hits, found) : AW_OK;
}

aw_status aw_store_count(aw_store *store, uint64_t *count) {
    if (!store || !count) return aw_error(AW_ERR_INVALID_ARG, "store: count needs a store and an output");
    return store->backend->count(store->self, count);
}

const float *aw_store_vector(const aw_store *store, uint64_t id) {
    return store && store->backend->vector ? store->backend->vector(store->self, id) : NULL;
}

void aw_store_close(aw_store *store) {
    if (!store) return;
    store->backend->close(store->self);
    aw_free(store->allocator, store, sizeof *store);
}
