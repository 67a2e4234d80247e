/* The vector index's storage and writer side: create/destroy, chunked node storage, upsert, delete
 * (tombstones), compaction, lookups and statistics. Searches are in index_search.c, the HNSW graph
 * build in index_hnsw.c, the file format in index_file.c. */
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "rag/index_internal.h"

#define DEFAULT_M         16u
#define DEFAULT_EF_BUILD  200u
#define DEFAULT_EF_SEARCH 64u
#define DEFAULT_CAPACITY  1024u
#define DEFAULT_SEED      0x1d3c5a7e9b2f4d61ull
#define MAX_DIM           65536u
#define MAX_EF_BUILD      65536u
#define MAX_EF_SEARCH     (1u << 24)

static size_t align64(size_t n) {
    return (n + 63) & ~(size_t)63;
}

/* ---------------------------------------------------------------- chunks and the chunk table */

static idx_chunk *chunk_create(aw_index *idx) {
    size_t off_vec = align64(sizeof(idx_chunk));
    size_t off_upper = off_vec + align64((size_t)idx->chunk_nodes * idx->rec_bytes);
    size_t off_ids = off_upper + align64((size_t)idx->chunk_nodes * sizeof(void *));
    size_t off_meta = off_ids + align64((size_t)idx->chunk_nodes * sizeof(uint64_t));
    size_t off_lvl = off_meta + align64((size_t)idx->chunk_nodes * sizeof(aw_index_meta));
    size_t off_del = off_lvl + align64(idx->chunk_nodes);
    size_t total = off_del + align64(idx->chunk_nodes);
    char *p = aw_alloc(idx->allocator, total, 64);
    if (!p) return NULL;
    /* Zeroed: empty lists, no upper layers, no tombstones, zero padding. */
    memset(p, 0, total);
    idx_chunk *ch = (idx_chunk *)p;
    ch->records = (unsigned char *)(p + off_vec);
    ch->upper = (_Atomic uint32_t **)(p + off_upper);
    ch->ids = (uint64_t *)(p + off_ids);
    ch->metas = (aw_index_meta *)(p + off_meta);
    ch->levels = (uint8_t *)(p + off_lvl);
    ch->deleted = (_Atomic uint8_t *)(p + off_del);
    ch->bytes = total;
    return ch;
}

static void chunk_destroy(aw_index *idx, idx_chunk *ch) {
    for (uint32_t i = 0; i < idx->chunk_nodes; i++)
        if (ch->upper[i]) aw_free(idx->allocator, (void *)ch->upper[i], (size_t)ch->levels[i] * idx->upper_w * 4);
    aw_free(idx->allocator, ch, ch->bytes);
}

static idx_dir *dir_create(aw_index *idx, uint32_t cap, const idx_dir *from) {
    idx_dir *d = aw_alloc(idx->allocator, sizeof(idx_dir) + (size_t)cap * sizeof(d->chunks[0]), 64);
    if (!d) return NULL;
    d->retired = NULL;
    d->cap = cap;
    for (uint32_t i = 0; i < cap; i++) {
        idx_chunk *c = from && i < from->cap ? atomic_load_explicit(&((idx_dir *)from)->chunks[i], memory_order_relaxed)
                                             : NULL;
        atomic_init(&d->chunks[i], c);
    }
    return d;
}

aw_status idx_reserve_node(aw_index *idx, uint32_t node) {
    uint32_t c = node >> idx->chunk_shift;
    if (c < idx->chunk_count) return AW_OK;
    idx_dir *d = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    if (c >= d->cap) {
        uint32_t cap = d->cap * 2 > c + 1 ? d->cap * 2 : c + 1;
        idx_dir *nd = dir_create(idx, cap, d);
        if (!nd) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index: chunk table of %u entries", cap);
        nd->retired = d;
        atomic_store_explicit(&idx->dir, nd, memory_order_release);
        d = nd;
    }
    idx_chunk *ch = chunk_create(idx);
    if (!ch) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index: a chunk of %u vectors", idx->chunk_nodes);
    /* Relaxed is enough: a search reaches a node of this chunk only through a release that follows. */
    atomic_store_explicit(&d->chunks[c], ch, memory_order_relaxed);
    idx->chunk_count = c + 1;
    return AW_OK;
}

/* ---------------------------------------------------------------- create / destroy */

static aw_status fill_desc(const aw_index_desc *in, aw_index_desc *d) {
    if (!in) return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: desc is NULL");
    *d = *in;
    if (d->dim == 0 || d->dim > MAX_DIM)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: dim %u is outside 1..%u", d->dim, MAX_DIM);
    if ((unsigned)d->metric >= AW_INDEX_METRIC_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: unknown metric %d", (int)d->metric);
    if ((unsigned)d->kind >= AW_INDEX_KIND_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: unknown kind %d", (int)d->kind);
    if (d->m == 0) d->m = DEFAULT_M;
    if (d->m < 2 || d->m > 100) return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: m %u is outside 2..100", d->m);
    if (d->ef_construction == 0) d->ef_construction = DEFAULT_EF_BUILD;
    if (d->ef_construction > MAX_EF_BUILD)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: ef_construction %u is over %u", d->ef_construction, MAX_EF_BUILD);
    if (d->ef_search > MAX_EF_SEARCH)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: ef_search %u is over %u", d->ef_search, MAX_EF_SEARCH);
    if (d->ef_construction < d->m) d->ef_construction = d->m;
    if (d->ef_search == 0) d->ef_search = DEFAULT_EF_SEARCH;
    if (d->capacity == 0) d->capacity = DEFAULT_CAPACITY;
    if (d->seed == 0) d->seed = DEFAULT_SEED;
    if ((unsigned)d->simd >= AW_SIMD_LEVEL_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: unknown simd level %d", (int)d->simd);
    if ((unsigned)d->element >= AW_INDEX_ELEMENT_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_index_create: unknown element type %d", (int)d->element);
    if (d->element == AW_INDEX_ELEMENT_DEFAULT) d->element = AW_INDEX_F32;
    return AW_OK;
}

aw_index *aw_index_create(const aw_index_desc *desc) {
    aw_index_desc d;
    if (fill_desc(desc, &d) != AW_OK) return NULL;
    idx_kernels kern;
    if (!idx_kernels_get(d.simd, d.element, &kern)) {
        aw_error(AW_ERR_UNSUPPORTED, "aw_index_create: this CPU cannot run the %s kernels%s", aw_simd_level_str(d.simd),
                 d.element == AW_INDEX_F16 ? " for F16 storage" : "");
        return NULL;
    }
    const aw_allocator *a = d.allocator ? d.allocator : aw_heap_allocator();
    aw_index *idx = aw_alloc(a, sizeof *idx, 64);
    if (!idx) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_create: index");
        return NULL;
    }
    memset(idx, 0, sizeof *idx);
    idx->desc = d;
    idx->desc.allocator = a;
    idx->allocator = a;
    idx->kern = kern;
    bool f16 = d.element == AW_INDEX_F16;
    idx->dot = f16 ? kern.dot16 : kern.dot;
    idx->l2sq = f16 ? kern.l2sq16 : kern.l2sq;
    idx->elem_bytes = f16 ? 2 : 4;
    idx->stride = (d.dim + 15u) & ~15u;
    idx->links0_w = 1 + 2 * d.m;
    idx->vec_off = (idx->links0_w * 4 + 63) & ~63u;
    idx->rec_bytes = idx->vec_off + (idx->stride * idx->elem_bytes + 63) / 64 * 64; /* F16: records stay line-aligned */
    idx->chunk_shift = 0;
    while (idx->chunk_shift < 10 && ((size_t)idx->rec_bytes << (idx->chunk_shift + 1)) <= IDX_CHUNK_BYTES) idx->chunk_shift++;
    idx->chunk_nodes = 1u << idx->chunk_shift;
    idx->chunk_mask = idx->chunk_nodes - 1;
    idx->upper_w = 1 + d.m;
    idx->level_mult = 1.0 / log((double)d.m);
    atomic_init(&idx->nodes, 0);
    atomic_init(&idx->live, 0);
    atomic_init(&idx->entry, UINT64_MAX);
    atomic_init(&idx->upper_bytes, 0);
    aw_map_init(&idx->id_map, a);
    idx->zero_node = IDX_NONE;
    aw_rng_seed(&idx->rng, d.seed);
    pthread_mutex_init(&idx->writer, NULL);

    uint32_t chunks = (d.capacity + idx->chunk_nodes - 1) / idx->chunk_nodes;
    idx_dir *dir = dir_create(idx, chunks < 4 ? 4 : chunks, NULL);
    idx->vec_tmp = aw_alloc(a, (size_t)idx->stride * sizeof(float), 64);
    idx->build_cap = (d.ef_construction > 2 * d.m ? d.ef_construction : 2 * d.m) + 1;
    idx->build_work = aw_alloc(a, idx->build_cap * sizeof(idx_cand), 64);
    idx->build_pick = aw_alloc(a, idx->build_cap * sizeof(idx_cand), 64);
    if (!dir || !idx->vec_tmp || !idx->build_work || !idx->build_pick) goto oom;
    atomic_init(&idx->dir, dir);
    idx->build = aw_index_scratch_create(idx);
    if (!idx->build) goto oom;
    for (uint32_t c = 0; c < chunks; c++)
        if (idx_reserve_node(idx, c << idx->chunk_shift) != AW_OK) goto oom;
    if (aw_map_reserve(&idx->id_map, d.capacity) != AW_OK) goto oom;
    return idx;
oom:
    if (!atomic_load(&idx->dir) && dir) atomic_init(&idx->dir, dir);
    aw_index_destroy(idx);
    aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_create: storage for %u vectors of %u floats", d.capacity, d.dim);
    return NULL;
}

void aw_index_destroy(aw_index *idx) {
    if (!idx) return;
    const aw_allocator *a = idx->allocator;
    idx_dir *d = atomic_load(&idx->dir);
    if (d) {
        for (uint32_t c = 0; c < idx->chunk_count; c++) chunk_destroy(idx, atomic_load(&d->chunks[c]));
    }
    while (d) {
        idx_dir *next = d->retired;
        aw_free(a, d, sizeof(idx_dir) + (size_t)d->cap * sizeof(d->chunks[0]));
        d = next;
    }
    aw_index_scratch_destroy(idx->build);
    idx_batch_free(idx);
    aw_free(a, idx->vec_tmp, (size_t)idx->stride * sizeof(float));
    aw_free(a, idx->build_work, idx->build_cap * sizeof(idx_cand));
    aw_free(a, idx->build_pick, idx->build_cap * sizeof(idx_cand));
    aw_map_destroy(&idx->id_map);
    pthread_mutex_destroy(&idx->writer);
    aw_free(a, idx, sizeof *idx);
}

aw_index_desc aw_index_get_desc(const aw_index *idx) {
    return idx ? idx->desc : (aw_index_desc){0};
}

/* ---------------------------------------------------------------- vectors in */

aw_status idx_prepare_vector(const aw_index *idx, const float *v, float *out, const char *what) {
    uint32_t dim = idx->desc.dim;
    double norm = 0;
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(v[i])) return aw_error(AW_ERR_INVALID_ARG, "%s: element %u is not finite", what, i);
        norm += (double)v[i] * v[i];
    }
    if (idx->desc.metric == AW_INDEX_COSINE && fabs(norm - 1.0) <= AW_UNIT_NORM_TOLERANCE) {
        memcpy(out, v, dim * sizeof(float)); /* unit already: normalising again would move bits */
    } else if (idx->desc.metric == AW_INDEX_COSINE) {
        if (norm == 0) return aw_error(AW_ERR_INVALID_ARG, "%s: a zero vector has no direction (cosine)", what);
        float inv = (float)(1.0 / sqrt(norm));
        for (uint32_t i = 0; i < dim; i++) out[i] = v[i] * inv;
    } else {
        memcpy(out, v, dim * sizeof(float));
    }
    for (uint32_t i = dim; i < idx->stride; i++) out[i] = 0;
    return AW_OK;
}

aw_status idx_prepare_stored(const aw_index *idx, const float *v, float *out, const char *what) {
    aw_status st = idx_prepare_vector(idx, v, out, what);
    if (st != AW_OK || idx->elem_bytes == 4) return st;
    for (uint32_t i = 0; i < idx->desc.dim; i++)
        if (fabsf(out[i]) > 65504.0f)
            return aw_error(AW_ERR_INVALID_ARG, "%s: element %u (%g) is outside the half-precision range +-65504 (F16 storage)",
                            what, i, (double)out[i]);
    return AW_OK;
}

static bool find_node(const aw_index *idx, uint64_t id, uint32_t *node) {
    if (id == 0) {
        *node = idx->zero_node;
        return *node != IDX_NONE;
    }
    uint64_t v;
    if (!aw_map_get(&idx->id_map, id, &v)) return false;
    *node = (uint32_t)v;
    return true;
}

static aw_status set_node(aw_index *idx, uint64_t id, uint32_t node) {
    if (id == 0) {
        idx->zero_node = node;
        return AW_OK;
    }
    return aw_map_set(&idx->id_map, id, node);
}

static void tombstone(aw_index *idx, uint32_t node) {
    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    idx_chunk *ch = idx_chunk_at(idx, &dc, node);
    atomic_store_explicit(&ch->deleted[node & idx->chunk_mask], 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&idx->live, 1, memory_order_relaxed);
}

/* Stores a prepared vector as a new node (level drawn, upper lists allocated, id mapped) and
 * publishes it, unlinked: a search reaches it only once the graph links to it. *replaced receives
 * the node the id had (IDX_NONE if none), to be tombstoned once the new one is linked. Caller holds
 * the writer lock. On failure nothing changed. */
aw_status idx_store_node(aw_index *idx, uint64_t id, const float *prepared, const aw_index_meta *meta,
                         uint32_t *out_node, uint32_t *out_level, uint32_t *replaced) {
    uint32_t node = atomic_load_explicit(&idx->nodes, memory_order_relaxed);
    if (node >= IDX_MAX_NODES) return aw_error(AW_ERR_CAPACITY, "aw_index_upsert: %u vectors stored", node);
    aw_status st = idx_reserve_node(idx, node);
    if (st != AW_OK) return st;
    uint32_t old = IDX_NONE;
    bool replacing = find_node(idx, id, &old);
    /* Map first: it is the only step that can fail, and nothing is visible yet. */
    if (set_node(idx, id, node) != AW_OK) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_upsert: id map");

    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    idx_chunk *ch = idx_chunk_at(idx, &dc, node);
    uint32_t slot = node & idx->chunk_mask;
    if (idx->elem_bytes == 2) idx->kern.narrow(prepared, idx_vector_mut(idx, ch, node), idx->stride);
    else memcpy(idx_vector_mut(idx, ch, node), prepared, (size_t)idx->stride * sizeof(float));
    ch->ids[slot] = id;
    ch->metas[slot] = meta ? *meta : (aw_index_meta){0};
    ch->levels[slot] = 0;

    uint32_t level = 0;
    if (idx->desc.kind == AW_INDEX_HNSW) {
        level = idx_hnsw_draw_level(idx);
        if (level > 0) {
            size_t bytes = (size_t)level * idx->upper_w * 4;
            _Atomic uint32_t *up = aw_alloc(idx->allocator, bytes, 64);
            if (!up) {
                if (replacing) set_node(idx, id, old);
                else if (id) aw_map_remove(&idx->id_map, id);
                else idx->zero_node = IDX_NONE;
                return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_index_upsert: links of %u layers", level);
            }
            memset((void *)up, 0, bytes);
            ch->upper[slot] = up;
            ch->levels[slot] = (uint8_t)level;
            atomic_fetch_add_explicit(&idx->upper_bytes, bytes, memory_order_relaxed);
        }
    }
    /* Published for flat scans: everything above happens-before a scan that sees the new count. */
    atomic_store_explicit(&idx->nodes, node + 1, memory_order_release);
    atomic_fetch_add_explicit(&idx->live, 1, memory_order_relaxed);
    *out_node = node;
    *out_level = level;
    *replaced = replacing ? old : IDX_NONE;
    return AW_OK;
}

/* The id of a node that failed to link goes back to the node it replaced (or nowhere). */
void idx_unlink_failed(aw_index *idx, uint32_t node, uint32_t replaced) {
    tombstone(idx, node);
    const idx_dir *dc = atomic_load_explicit(&idx->dir, memory_order_relaxed);
    idx_chunk *ch = idx_chunk_at(idx, &dc, node);
    uint64_t id = ch->ids[node & idx->chunk_mask];
    if (replaced != IDX_NONE) set_node(idx, id, replaced);
    else if (id) aw_map_remove(&idx->id_map, id);
    else idx->zero_node = IDX_NONE;
}

void idx_tombstone(aw_index *idx, uint32_t node) {
    tombstone(idx, node);
}

/* Stores a prepared vector as a new node, links it and publishes it. Caller holds the writer lock. */
static aw_status add_node(aw_index *idx, uint64_t id, const float *prepared, const aw_index_meta *meta) {
    uint32_t node, level, old;
    aw_status st = idx_store_node(idx, id, prepared, meta, &node, &level, &old);
    if (st != AW_OK) return st;
    if (idx->desc.kind == AW_INDEX_HNSW) {
        st = idx_hnsw_insert(idx, node, level);
        if (st != AW_OK) {
            /* Only the scratch can fail to grow here; the node stays, unreachable but counted. */
            idx_unlink_failed(idx, node, old);
            return st;
        }
    }
    if (old != IDX_NONE) tombstone(idx, old);
    return AW_OK;
}

aw_status aw_index_upsert(aw_index *idx, uint64_t id, const float *vector, const aw_index_meta *meta) {
    if (!idx || !vector) return aw_error(AW_ERR_INVALID_ARG, "aw_index_upsert: NULL index or vector");
    pthread_mutex_lock(&idx->writer);
    aw_status st = idx_prepare_stored(idx, vector, idx->vec_tmp, "aw_index_upsert");
    if (st == AW_OK) st = add_node(idx, id, idx->vec_tmp, meta);
    pthread_mutex_unlock(&idx->writer);
    return st;
}

aw_status aw_index_delete(aw_index *idx, uint64_t id) {
    if (!idx) return aw_error(AW_ERR_INVALID_ARG, "aw_index_delete: NULL index");
    pthread_mutex_lock(&idx->writer);
    uint32_t node;
    aw_status st = AW_OK;
    if (!find_node(idx, id, &node)) {
        st = aw_error(AW_ERR_NOT_FOUND, "aw_index_delete: id %llu is not stored", (unsigned long long)id);
    } else {
        tombstone(idx, node);
        if (id) aw_map_remove(&idx->id_map, id);
        else idx->zero_node = IDX_NONE;
    }
    pthread_mutex_unlock(&idx->writer);
    return st;
}

/* ---------------------------------------------------------------- lookups */

uint32_t aw_index_count(const aw_index *idx) {
    return idx ? atomic_load_explicit(&((aw_index *)idx)->live, memory_order_relaxed) : 0;
}

aw_index_stats aw_index_get_stats(const aw_index *idx) {
    aw_index_stats s = {0};
    if (!idx) return s;
    aw_index *m = (aw_index *)idx;
    s.nodes = atomic_load(&m->nodes);
    s.count = atomic_load(&m->live);
    s.tombstones = s.nodes - s.count;
    uint64_t e = atomic_load(&m->entry);
    s.max_level = e == UINT64_MAX ? 0 : (uint32_t)(e >> 32);
    s.simd = idx->kern.level;
    idx_dir *d = atomic_load(&m->dir);
    uint64_t bytes = sizeof *idx + (uint64_t)idx->stride * 4;
    for (idx_dir *r = d; r; r = r->retired) bytes += sizeof(idx_dir) + (uint64_t)r->cap * sizeof(r->chunks[0]);
    for (uint32_t c = 0; c < d->cap; c++) {
        idx_chunk *ch = atomic_load_explicit(&d->chunks[c], memory_order_relaxed);
        if (ch) bytes += ch->bytes;
    }
    bytes += atomic_load(&m->upper_bytes);
    bytes += (uint64_t)idx->id_map.capacity * 16;
    s.bytes = bytes;
    return s;
}

aw_status aw_index_get(const aw_index *idx, uint64_t id, float *vector, aw_index_meta *meta) {
    if (!idx) return aw_error(AW_ERR_INVALID_ARG, "aw_index_get: NULL index");
    uint32_t node;
    if (!find_node(idx, id, &node))
        return aw_error(AW_ERR_NOT_FOUND, "aw_index_get: id %llu is not stored", (unsigned long long)id);
    const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
    idx_chunk *ch = idx_chunk_at(idx, &dc, node);
    if (vector) idx_copy_out(idx, idx_vector(idx, ch, node), vector, idx->desc.dim);
    if (meta) *meta = ch->metas[node & idx->chunk_mask];
    return AW_OK;
}

const float *aw_index_vector(const aw_index *idx, uint64_t id) {
    uint32_t node;
    if (!idx || idx->elem_bytes != 4 || !find_node(idx, id, &node)) return NULL;
    const idx_dir *dc = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
    return idx_vector(idx, idx_chunk_at(idx, &dc, node), node);
}

/* ---------------------------------------------------------------- compaction */

/* Swaps two indexes' contents except their writer locks (a mutex is never copied). */
static void swap_range(aw_index *a, aw_index *b, size_t from, size_t to) {
    unsigned char tmp[256];
    for (size_t off = from; off < to; off += sizeof tmp) {
        size_t n = to - off < sizeof tmp ? to - off : sizeof tmp;
        memcpy(tmp, (char *)a + off, n);
        memcpy((char *)a + off, (char *)b + off, n);
        memcpy((char *)b + off, tmp, n);
    }
}

static void swap_state(aw_index *a, aw_index *b) {
    swap_range(a, b, 0, offsetof(aw_index, writer));
    swap_range(a, b, offsetof(aw_index, writer) + sizeof(pthread_mutex_t), sizeof(aw_index));
}

/* A fresh index from the live nodes in node order (so the same index compacts to the same graph),
 * then the two swap contents. */
aw_status aw_index_compact(aw_index *idx) {
    if (!idx) return aw_error(AW_ERR_INVALID_ARG, "aw_index_compact: NULL index");
    pthread_mutex_lock(&idx->writer);
    aw_index_desc d = idx->desc;
    d.capacity = atomic_load(&idx->live);
    d.simd = idx->kern.level;
    aw_index *fresh = aw_index_create(&d);
    aw_status st = fresh ? AW_OK : aw_last_status();
    uint32_t nodes = atomic_load(&idx->nodes);
    const idx_dir *dc = atomic_load(&idx->dir);
    for (uint32_t n = 0; st == AW_OK && n < nodes; n++) {
        idx_chunk *ch = idx_chunk_at(idx, &dc, n);
        uint32_t slot = n & idx->chunk_mask;
        if (atomic_load_explicit(&ch->deleted[slot], memory_order_relaxed)) continue;
        /* Stored vectors are already prepared (normalised, padded; F16 widens and narrows back to
         * the same bits). */
        st = add_node(fresh, ch->ids[slot], idx_vector_f32(idx, idx_vector(idx, ch, n), idx->vec_tmp), &ch->metas[slot]);
    }
    if (st == AW_OK) {
        idx_batch_free(idx); /* its scratch is sized for the old graph */
        swap_state(idx, fresh); /* the old storage goes with `fresh` */
        idx->build->idx = idx;
        fresh->build->idx = fresh;
    }
    pthread_mutex_unlock(&idx->writer);
    aw_index_destroy(fresh);
    if (st != AW_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", aw_last_error());
        return aw_error(st, "aw_index_compact: %s", msg);
    }
    return AW_OK;
}
