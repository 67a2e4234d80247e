/* Internals of the vector index (src/rag/index*.c): node storage in chunks, the neighbour lists
 * that searches read while the one writer changes them, search scratch, the distance kernels and the
 * file checksum.
 *
 * Concurrency (one writer, any number of searches, no locks on the search path):
 * - A node's vector, id, metadata, level and upper-list pointer are written before the node is
 *   published and never change after; its tombstone and its neighbour words are atomics.
 * - Every neighbour word (and count) is written with a release store and read with an acquire load.
 *   Every value a neighbour word ever holds is a node that was whole when it was stored, so reading
 *   a node id from a list happens-after everything the writer did to that node: its vector is
 *   readable. A list read while the writer rewrites it may mix old and new entries; each entry is
 *   still a real node, so the search only walks a slightly different path. No retry, no wait.
 * - Node count and entry point are release/acquire atomics; chunks never move. */
#ifndef AW_INDEX_INTERNAL_H
#define AW_INDEX_INTERNAL_H

#include "aw/rag.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define IDX_CHUNK_BYTES (256u << 10) /* record bytes per chunk, about: the chunk's node count follows */
#define IDX_MAX_NODES   0x7fffffffu
#define IDX_MAX_LEVEL   30u
#define IDX_NONE        0xffffffffu

/* ---------------------------------------------------------------- distance kernels (index_simd.c) */

/* Kernels read whole blocks of 16 elements: stored vectors and queries are padded with zeros to a
 * multiple of 16 (idx->stride), so no kernel has a tail loop on the hot path. `a` is a float32
 * query; `b` a stored vector of the kernel's element type. */
typedef float (*idx_kernel_fn)(const float *a, const void *b, uint32_t n);
typedef struct idx_kernels {
    idx_kernel_fn dot, l2sq;     /* b float32; n a multiple of 16 */
    idx_kernel_fn dot16, l2sq16; /* b IEEE half (F16 storage); n a multiple of 16 */
    void (*widen)(const uint16_t *in, float *out, uint32_t n);  /* half -> float, exact */
    void (*narrow)(const float *in, uint16_t *out, uint32_t n); /* float -> half, to nearest even */
    aw_simd_level level;
} idx_kernels;

/* The kernels of `level` (AUTO: the best) for `element` storage; false if the CPU cannot run them. */
bool idx_kernels_get(aw_simd_level level, aw_index_element element, idx_kernels *out);

/* ---------------------------------------------------------------- storage */

typedef struct idx_cand {
    float dist;
    uint32_t node;
} idx_cand;

/* One chunk of chunk_nodes nodes, one allocation. Each node's record holds its layer-0 list and,
 * right after it, its vector, as hnswlib lays them out: expanding a node reads the list from the
 * cache lines its distance was just computed from. Everything but the list words, `upper`'s words
 * and `deleted` is written
 * once before the node is published and read-only after, so searches read it plainly. */
typedef struct idx_chunk {
    unsigned char *records;      /* chunk_nodes * rec_bytes: layer-0 list (count, then 2m nodes),
                                    then the vector (stride elements, 64-byte aligned) */
    _Atomic uint32_t **upper;    /* per node: NULL, or level * (1 + m) words for layers 1..level */
    uint64_t *ids;
    aw_index_meta *metas;
    uint8_t *levels;
    _Atomic uint8_t *deleted; /* tombstone */
    size_t bytes;
} idx_chunk;

/* The table of chunks. Growing it publishes a bigger copy; old copies stay allocated (retired) until
 * the index is destroyed, so a search holding one never reads freed memory. */
typedef struct idx_dir {
    struct idx_dir *retired; /* the table this one replaced */
    uint32_t cap;
    _Atomic(idx_chunk *) chunks[];
} idx_dir;

struct aw_index {
    aw_index_desc desc; /* defaults filled in */
    const aw_allocator *allocator;
    idx_kernels kern;
    idx_kernel_fn dot, l2sq; /* the kernels of the stored element type */
    uint32_t elem_bytes;     /* bytes per stored element: 4 (F32) or 2 (F16) */
    uint32_t stride;   /* elements per stored vector: dim rounded up to 16 */
    uint32_t links0_w; /* words per layer-0 list: 1 + 2m */
    uint32_t vec_off;  /* bytes from a record's start to its vector: links0_w words, rounded to 64 so
                          vectors start on a cache line (a 448-byte row is 7 lines, not 8) */
    uint32_t rec_bytes; /* bytes per node record: vec_off + stride elements */
    uint32_t upper_w;  /* words per upper-layer list: 1 + m */
    double level_mult; /* 1 / ln(m) */
    uint32_t chunk_shift, chunk_nodes, chunk_mask; /* nodes per chunk: a power of two, so that a
                                                      chunk's records take about IDX_CHUNK_BYTES */

    _Atomic(idx_dir *) dir;
    _Atomic uint32_t nodes;      /* published nodes: 0..nodes-1 are whole */
    _Atomic uint32_t live;       /* nodes not deleted */
    _Atomic uint64_t entry;      /* HNSW entry: level << 32 | node, or UINT64_MAX when empty */
    _Atomic uint64_t upper_bytes; /* bytes of upper-layer lists */

    /* Writer side only (under `writer`). */
    pthread_mutex_t writer;
    aw_map id_map;           /* id -> node, for ids other than 0 */
    uint32_t zero_node;      /* node of id 0, or IDX_NONE */
    uint32_t chunk_count;
    aw_rng rng;
    aw_index_scratch *build; /* the writer's search scratch */
    float *vec_tmp;          /* stride floats: the vector being inserted, normalised and padded */
    idx_cand *build_work;    /* build_cap: candidates of one neighbour selection */
    idx_cand *build_pick;    /* build_cap: the selected ones */
    uint32_t build_cap;      /* max(ef_construction, 2m) + 1 */
    struct idx_batch *batch; /* batch insertion's buffers and per-worker scratch (index_batch.c) */
};

static inline idx_chunk *idx_chunk_at(const aw_index *idx, const idx_dir **cache, uint32_t node) {
    uint32_t c = node >> idx->chunk_shift;
    const idx_dir *d = *cache;
    idx_chunk *ch = c < d->cap ? atomic_load_explicit(&((idx_dir *)d)->chunks[c], memory_order_relaxed) : NULL;
    if (AW_UNLIKELY(!ch)) {
        /* The node was published after this table was read: the current table has its chunk. */
        d = atomic_load_explicit(&((aw_index *)idx)->dir, memory_order_acquire);
        *cache = d;
        ch = atomic_load_explicit(&((idx_dir *)d)->chunks[c], memory_order_relaxed);
    }
    return ch;
}

/* A node's stored vector, of the index's element type. */
static inline const void *idx_vector(const aw_index *idx, const idx_chunk *ch, uint32_t node) {
    return ch->records + (size_t)(node & idx->chunk_mask) * idx->rec_bytes + idx->vec_off;
}

static inline void *idx_vector_mut(const aw_index *idx, idx_chunk *ch, uint32_t node) {
    return ch->records + (size_t)(node & idx->chunk_mask) * idx->rec_bytes + idx->vec_off;
}

/* The first n elements of a stored vector into out as float32 (F16: widened). */
static inline void idx_copy_out(const aw_index *idx, const void *stored, float *out, uint32_t n) {
    if (idx->elem_bytes == 4) memcpy(out, stored, (size_t)n * sizeof(float));
    else idx->kern.widen(stored, out, n);
}

/* A stored vector as float32, to compare other nodes against: the record itself, or (F16) widened
 * into tmp (stride floats). */
static inline const float *idx_vector_f32(const aw_index *idx, const void *stored, float *tmp) {
    if (idx->elem_bytes == 4) return stored;
    idx->kern.widen(stored, tmp, idx->stride);
    return tmp;
}

/* The layer-0 list: count, then nodes. */
static inline _Atomic uint32_t *idx_links0(const aw_index *idx, const idx_chunk *ch, uint32_t node) {
    return (_Atomic uint32_t *)(ch->records + (size_t)(node & idx->chunk_mask) * idx->rec_bytes);
}

/* Distance of a padded float32 vector to a stored one under the index's metric (cosine vectors are
 * unit length). */
static inline float idx_distance(const aw_index *idx, const float *a, const void *b) {
    switch (idx->desc.metric) {
    case AW_INDEX_L2: return idx->l2sq(a, b, idx->stride);
    case AW_INDEX_DOT: return -idx->dot(a, b, idx->stride);
    default: return 1.0f - idx->dot(a, b, idx->stride);
    }
}

static inline float idx_similarity(const aw_index *idx, float distance) {
    switch (idx->desc.metric) {
    case AW_INDEX_L2: return -distance;
    case AW_INDEX_DOT: return -distance;
    default: return 1.0f - distance;
    }
}

/* Makes room for node `node` (a new chunk, a bigger table). Writer only. */
aw_status idx_reserve_node(aw_index *idx, uint32_t node);
/* Copies v into out (stride floats, zero padded), normalised under cosine. Checks finiteness (and a
 * non-zero norm under cosine); AW_ERR_INVALID_ARG names `what`. */
aw_status idx_prepare_vector(const aw_index *idx, const float *v, float *out, const char *what);
/* The same for a vector to store: under F16 every element must also be within +-65504. */
aw_status idx_prepare_stored(const aw_index *idx, const float *v, float *out, const char *what);

/* ---------------------------------------------------------------- search scratch (index_search.c) */

struct aw_index_scratch {
    const aw_index *idx;
    const aw_allocator *allocator;
    uint16_t *visited; /* per node: == mark when visited in this search (16 bits: half the cache
                          footprint of 32; cleared once every 65,535 searches) */
    uint32_t visited_cap;
    uint16_t mark;
    idx_cand *cand; /* min-heap: frontier */
    uint32_t cand_cap;
    idx_cand *best; /* max-heap: the best ef found */
    uint32_t best_cap;
    uint32_t *links; /* a copy of one neighbour list */
    float *query;    /* stride floats, prepared (the build's: the inserted node's vector as float) */
    float *vec;      /* stride floats: a stored vector widened to compare against (F16 storage) */
};

aw_status idx_scratch_fit(aw_index_scratch *s, uint32_t nodes, uint32_t ef);
/* Starts a search: a fresh visited mark. */
void idx_scratch_begin(aw_index_scratch *s);

/* Copies node's neighbour list of `layer` into out (acquire loads, see the top); returns the count. */
uint32_t idx_read_links(const aw_index *idx, const idx_chunk *ch, uint32_t node, uint32_t layer, uint32_t *out);

/* HNSW: the ef nearest to query found on `layer` starting from the entries in s->best[0..n_entry)
 * (their dist set). Results in s->best as a max-heap; returns their count. filter/NULL as in search
 * (a filtered search keeps walking through nodes it may not return). */
aw_status idx_search_layer(const aw_index *idx, aw_index_scratch *s, const float *q, uint32_t n_entry,
                           uint32_t ef, uint32_t layer, const aw_index_filter *filter, bool skip_deleted,
                           uint32_t *found);
/* Greedy descent from the entry point down to layer `stop` + 1... returns the nearest node on layer `stop`. */
uint32_t idx_greedy(const aw_index *idx, const float *q, uint32_t node, float *dist, uint32_t from, uint32_t stop);

/* Binary heaps over idx_cand by dist: max-heaps for the best found, min-heaps for the frontier.
 * Inline: they run once or twice per distance on the search path. */
static inline void idx_heap_push_max(idx_cand *h, uint32_t *n, idx_cand c) {
    uint32_t i = (*n)++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h[p].dist >= c.dist) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static inline void idx_heap_pop_max(idx_cand *h, uint32_t *n) {
    idx_cand last = h[--(*n)];
    uint32_t i = 0, size = *n;
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= size) break;
        uint32_t r = l + 1, big = r < size && h[r].dist > h[l].dist ? r : l;
        if (h[big].dist <= last.dist) break;
        h[i] = h[big];
        i = big;
    }
    if (size) h[i] = last;
}

static inline void idx_heap_push_min(idx_cand *h, uint32_t *n, idx_cand c) {
    uint32_t i = (*n)++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h[p].dist <= c.dist) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static inline void idx_heap_pop_min(idx_cand *h, uint32_t *n) {
    idx_cand last = h[--(*n)];
    uint32_t i = 0, size = *n;
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= size) break;
        uint32_t r = l + 1, small = r < size && h[r].dist < h[l].dist ? r : l;
        if (h[small].dist >= last.dist) break;
        h[i] = h[small];
        i = small;
    }
    if (size) h[i] = last;
}

/* ---------------------------------------------------------------- HNSW build (index_hnsw.c) */

/* Links the already-stored node (vector at its slot) into the graph at level `level`. Writer only. */
aw_status idx_hnsw_insert(aw_index *idx, uint32_t node, uint32_t level);
uint32_t idx_hnsw_draw_level(aw_index *idx);

/* The node's list on `layer` (0: layer 0, else the upper list). */
_Atomic uint32_t *idx_list_of(const aw_index *idx, idx_chunk *ch, uint32_t node, uint32_t layer);
/* Entries first, count last, all release: a reader that sees an entry sees its node whole. */
void idx_write_list(_Atomic uint32_t *list, const idx_cand *c, uint32_t n);
/* The diversity heuristic over c[0..n) (sorted here, nearest first, ties by node): at most max kept,
 * written to out; returns how many. tmp: stride floats of working memory (F16 storage). */
uint32_t idx_select_neighbours(const aw_index *idx, const idx_dir **dc, idx_cand *c, uint32_t n, uint32_t max,
                               idx_cand *out, float *tmp);
/* The same over candidates already sorted (idx_sort_cands: by distance, then node). */
uint32_t idx_select_sorted(const aw_index *idx, const idx_dir **dc, const idx_cand *c, uint32_t n, uint32_t max,
                           idx_cand *out, float *tmp);
void idx_sort_cands(idx_cand *c, uint32_t n);

/* ---------------------------------------------------------------- storage and batches (index.c, index_batch.c) */

/* Stores a prepared vector (stride floats) as a new, published but unlinked node, in the index's
 * element type; *replaced: the node the id had (IDX_NONE if none), tombstoned by the caller once the
 * new node is linked. Writer only. */
aw_status idx_store_node(aw_index *idx, uint64_t id, const float *prepared, const aw_index_meta *meta,
                         uint32_t *node, uint32_t *level, uint32_t *replaced);
/* Undoes the id mapping of a stored node that could not be linked and tombstones it. */
void idx_unlink_failed(aw_index *idx, uint32_t node, uint32_t replaced);
void idx_tombstone(aw_index *idx, uint32_t node);
/* Frees batch insertion's buffers (index_batch.c). */
void idx_batch_free(aw_index *idx);

/* ---------------------------------------------------------------- checksums (index_file.c) */

/* CRC-32C (Castagnoli), the iSCSI/ext4 polynomial, slicing by 8. crc starts at 0. */
uint32_t idx_crc32c(uint32_t crc, const void *data, size_t size);
/* aw_index_load_memory with the checksums optionally unchecked, so the fuzzer reaches the structure
 * checks behind them. */
aw_index *idx_load_memory(const void *data, size_t size, const aw_allocator *allocator, bool check_crc);

#endif /* AW_INDEX_INTERNAL_H */
