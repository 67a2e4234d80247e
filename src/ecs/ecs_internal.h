/* Internal ECS data structures shared by the files of src/ecs: the world, component registry,
 * archetype tables with chunked SoA columns, the entity index, queries. */
#ifndef AW_ECS_INTERNAL_H
#define AW_ECS_INTERNAL_H

#include "aw/ecs.h"

#include <stdatomic.h>
#include <string.h>

#define ECS_DEFAULT_CHUNK_SIZE       (16u * 1024u)
#define ECS_DEFAULT_LARGE_CHUNK_SIZE (1024u * 1024u)
#define ECS_LOW_EDGES                32u /* components below this id get direct-indexed transition edges */
#define ECS_SMALL_CHUNKS             4u  /* a table's first chunks are small; the rest are large */
#define ECS_MIN_CHUNK_SIZE           1024u
#define ECS_MIN_ROWS_PER_CHUNK       8u
#define ECS_NO_TABLE                 UINT32_MAX
#define ECS_COLUMN_ALIGN             64u
#define ECS_TAG_PRESENT              INT16_MAX /* column_of value for a tag: present, no column */
#define ECS_RECORD_PAGE_BITS         12u       /* 4096 records (64 KiB) per page */
#define ECS_RECORD_PAGE_SIZE         (1u << ECS_RECORD_PAGE_BITS)
#define ECS_FREE_PAGE_BITS           14u /* 16384 indices: one record-pool block (64 KiB) per page */
#define ECS_FREE_PAGE_SIZE           (1u << ECS_FREE_PAGE_BITS)

typedef struct ecs_component_info {
    char *name;
    uint64_t name_hash;
    uint32_t size;
    uint32_t align;
    aw_ctor_fn ctor;
    aw_dtor_fn dtor;
    aw_move_fn move;
    aw_copy_fn copy;
    void *hook_user;
} ecs_component_info;

typedef struct ecs_column {
    aw_component component;
    uint32_t size;
    uint32_t offset[2]; /* byte offset inside a small [0] and a large [1] chunk (64-byte aligned) */
} ecs_column;

/* An archetype: all entities with exactly this component set. Rows live in fixed-size chunks:
 * the first ECS_SMALL_CHUNKS are small (the world's chunk_size, so the many small tables stay
 * small), the rest large (long column runs keep hardware prefetchers streaming). Each chunk
 * starts with the entity ids, then one column per non-tag component. */
typedef struct ecs_table {
    uint32_t id;
    uint32_t type_count;
    aw_component *type; /* sorted component ids, tags included */
    uint32_t column_count;
    ecs_column *columns; /* non-tag components, in type order */
    int16_t *column_of;  /* by component id < column_of_len: column, ECS_TAG_PRESENT or -1 */
    uint32_t column_of_len;
    uint64_t type_hash;
    bool has_hooks;

    uint32_t rows[2];      /* rows per small [0] and large [1] chunk */
    uint32_t small_chunks; /* ECS_SMALL_CHUNKS, or 0 when rows are too wide for small chunks */
    uint32_t large_bytes;  /* bytes per large chunk */
    bool large_pooled;     /* large_bytes is the world's large chunk size: from its pool */
    uint32_t count;        /* live rows */
    uint32_t row_capacity; /* rows the held chunks can store */
    void **chunks;
    uint32_t chunk_count; /* chunks held (may include one spare beyond the rows in use) */
    uint32_t chunk_capacity;

    /* Transition cache: low component ids index an array directly (no hashing on the common
     * path); the rest go through a map keyed by (component << 1 | removing). Values are
     * target table id + 1. */
    uint32_t low_edges[ECS_LOW_EDGES][2];
    aw_map edges;
    uint32_t tail_chunk, tail_row; /* where row `count` goes: appends and deletes never divide */
} ecs_table;

typedef struct ecs_record {
    uint32_t generation;
    uint32_t table; /* ECS_NO_TABLE: not alive (free, or reserved by a command buffer) */
    uint32_t chunk;
    uint32_t row; /* row inside the chunk */
} ecs_record;

typedef struct ecs_query_match {
    uint32_t table;
    int16_t column[AW_QUERY_MAX_TERMS]; /* column index per term, -1 for none */
} ecs_query_match;

struct aw_query {
    aw_world *world;
    uint32_t index; /* position in world->queries */
    uint32_t term_count;
    aw_term terms[AW_QUERY_MAX_TERMS];
    ecs_query_match *matches;
    uint32_t match_count;
    uint32_t match_capacity;
};

typedef struct ecs_resource_info {
    char *name;
    uint32_t size;
    uint32_t align;
    void *data;
    aw_dtor_fn dtor;
    void *hook_user;
} ecs_resource_info;

typedef struct ecs_event_buffer {
    uint8_t *data;
    uint32_t count;
    uint32_t capacity;
} ecs_event_buffer;

typedef struct ecs_event_info {
    char *name;
    uint32_t size;   /* registered size */
    uint32_t stride; /* size rounded up to align */
    uint32_t align;
    ecs_event_buffer buffers[2]; /* [older] = previous frame, [older ^ 1] = current frame */
    uint32_t older;
    uint64_t older_seq; /* sequence number of the first event in the older buffer */
} ecs_event_info;

/* A piece of a query for parallel work: rows [begin, begin + count) of one chunk of one match. */
typedef struct ecs_piece {
    uint32_t match;
    uint32_t chunk;
    uint32_t begin;
    uint32_t count;
    uint32_t row; /* rows of the query before this piece, in piece order */
} ecs_piece;

struct aw_system {
    aw_world *world;
    uint32_t index; /* registration order */
    char *name;
    uint32_t zone_id; /* its profiler zone name, interned on first use (0: not yet) */
    uint32_t phase;
    aw_query *query;
    aw_system_fn run;
    aw_system_chunk_fn each;
    uint32_t grain;
    bool exclusive;
    void *user;
    uint32_t *reads, *writes; /* declared component access (sets) */
    uint32_t read_count, write_count, access_capacity;
    uint32_t *resource_reads, *resource_writes;
    uint32_t resource_read_count, resource_write_count, resource_capacity;
    char **after, **before;
    uint32_t after_count, before_count;
    /* run state */
    aw_cmd_buffer *commands;       /* for run() */
    aw_cmd_buffer **piece_buffers; /* for each(): one per piece, applied in piece order */
    uint32_t piece_buffer_count, piece_buffer_capacity;
    ecs_piece *pieces;
    uint32_t piece_count, piece_capacity;
    aw_job job;
    aw_status status;  /* of the last run */
    uint32_t last_ns;  /* how long the last run of its pieces took */
};

/* Slot i holds the i-th system of the schedule and, for i < stage_count, stage i: it covers
 * systems [stage_end of stage i-1, stage_end) and last took stage_ns to run. */
typedef struct ecs_schedule_slot {
    aw_system *system;
    uint32_t stage_end;
    uint32_t stage_ns;
} ecs_schedule_slot;

typedef struct ecs_alloc_counters {
    _Atomic uint64_t allocs, reallocs, frees, failures, live_bytes, peak_bytes, total_bytes;
} ecs_alloc_counters;

struct aw_world {
    const aw_allocator *user_allocator;
    aw_allocator allocator; /* counts, then forwards to user_allocator */
    ecs_alloc_counters counters;
    aw_pool chunk_pool; /* small chunks */
    aw_pool large_pool; /* large chunks */
    uint32_t chunk_size;
    uint32_t large_chunk_size;

    ecs_component_info *components; /* index = component id; [0] unused */
    uint32_t component_count;       /* highest id + 1 */
    uint32_t component_capacity;
    aw_map component_names; /* name hash -> id (names are checked on lookup) */

    ecs_table **tables;
    uint32_t table_count;
    uint32_t table_capacity;
    aw_map table_index; /* type hash -> table id + 1 */

    aw_pool record_pool;       /* record pages, 2 MiB slabs (huge-page friendly) */
    ecs_record **record_pages; /* records in fixed pages that never move; index 0 unused */
    uint32_t record_page_count;
    uint32_t record_page_capacity;
    uint32_t record_count;    /* records that exist (fresh indices come after) */
    uint32_t **free_pages;    /* stack of destroyed indices, in pages from record_pool */
    uint32_t free_page_count; /* kept covering record_count so destroy never allocates */
    uint32_t free_page_capacity;
    _Atomic int64_t free_top;    /* may go negative while command buffers reserve ids */
    _Atomic uint32_t next_index; /* next fresh index for reservations */
    uint32_t alive_count;

    aw_query **queries;
    uint32_t query_count;
    uint32_t query_capacity;
    _Atomic int iter_depth; /* active iterators: structural changes are refused */

    ecs_resource_info *resources; /* [0] unused */
    uint32_t resource_count;
    uint32_t resource_capacity;
    ecs_event_info *events; /* [0] unused */
    uint32_t event_count;
    uint32_t event_capacity;

    aw_jobs *jobs; /* created on first parallel use unless supplied */
    bool owns_jobs;
    uint32_t threads;
    aw_system **systems; /* registration order */
    uint32_t system_count;
    uint32_t system_capacity;
    bool schedule_dirty;
    ecs_schedule_slot *schedule; /* [i].system: schedule order; [s].stage_*: stage s */
    uint32_t stage_count;
    uint32_t schedule_capacity;
    uint64_t frame;
    ecs_piece *pieces; /* scratch for aw_query_parallel */
    uint32_t piece_count, piece_capacity;
};

/* ---- shared helpers (src/ecs only) */

static inline bool ecs_locked(const aw_world *w) {
    return atomic_load_explicit(&w->iter_depth, memory_order_relaxed) != 0;
}
static inline void ecs_lock(aw_world *w, int delta) {
    atomic_fetch_add_explicit(&w->iter_depth, delta, memory_order_relaxed);
}

static inline uint32_t ecs_align_up(uint32_t v, uint32_t a) {
    return (v + a - 1) & ~(a - 1);
}

/* Copies a component value; small sizes (the common case) are inlined instead of calling memcpy. */
static inline void ecs_copy(void *dst, const void *src, uint32_t size) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (size >= 8 && size <= 16) {
        memcpy(d, s, 8);
        memcpy(d + size - 8, s + size - 8, 8);
    } else if (size >= 4 && size < 8) {
        memcpy(d, s, 4);
        memcpy(d + size - 4, s + size - 4, 4);
    } else {
        memcpy(d, s, size);
    }
}

static inline void ecs_zero(void *dst, uint32_t size) {
    static const uint8_t zeros[16];
    if (size <= 16)
        ecs_copy(dst, zeros, size);
    else
        memset(dst, 0, size);
}

static inline bool ecs_is_pow2(size_t v) {
    return v && !(v & (v - 1));
}

/* Grows *array (element size elem) to hold at least `needed` elements; doubling. */
aw_status ecs_grow(const aw_allocator *a, void **array, uint32_t *capacity, uint32_t needed, size_t elem);
char *ecs_strdup(const aw_allocator *a, const char *s);
void ecs_strfree(const aw_allocator *a, char *s);

static inline const ecs_component_info *ecs_component(const aw_world *w, aw_component c) {
    return (c > 0 && c < w->component_count) ? &w->components[c] : NULL;
}

aw_status ecs_null_world(const char *fn);
aw_status ecs_unknown_component(aw_component c, const char *fn);
static inline aw_status ecs_check_world(const aw_world *w, const char *fn) {
    /* The constant (rather than ecs_null_world's result) lets the compiler see w != NULL after. */
    return AW_LIKELY(w != NULL) ? AW_OK : (ecs_null_world(fn), AW_ERR_INVALID_ARG);
}
static inline aw_status ecs_check_component(const aw_world *w, aw_component c, const char *fn) {
    return AW_LIKELY(c > 0 && c < w->component_count)
               ? AW_OK
               : (ecs_unknown_component(c, fn), AW_ERR_UNKNOWN_COMPONENT);
}

/* ---- tables (table.c) */

ecs_table *ecs_table_for_type(aw_world *w, const aw_component *type, uint32_t count);
ecs_table *ecs_table_traverse_slow(aw_world *w, ecs_table *from, aw_component c, bool removing);
/* The table reached from `from` by adding (or removing) c; created on first use. NULL on OOM. */
static inline ecs_table *ecs_table_traverse(aw_world *w, ecs_table *from, aw_component c, bool removing) {
    if (c < ECS_LOW_EDGES && from->low_edges[c][removing]) return w->tables[from->low_edges[c][removing] - 1];
    return ecs_table_traverse_slow(w, from, c, removing);
}
void ecs_table_free(aw_world *w, ecs_table *t);
/* Makes room for `rows` more rows (acquiring chunks); all or nothing. */
aw_status ecs_table_grow(aw_world *w, ecs_table *t, uint32_t rows);
static inline aw_status ecs_table_reserve(aw_world *w, ecs_table *t, uint32_t rows) {
    return AW_LIKELY(t->count + (uint64_t)rows <= t->row_capacity) ? AW_OK : ecs_table_grow(w, t, rows);
}
uint64_t ecs_table_chunk_bytes(const aw_world *w, const ecs_table *t);
/* Releases chunks no longer needed by t->count (keeping one spare). */
void ecs_table_trim(aw_world *w, ecs_table *t);
/* Removes a row by moving the last row into it; does not run dtors on the removed row. */
void ecs_table_delete_row(aw_world *w, ecs_table *t, uint32_t chunk, uint32_t row);
void ecs_table_destruct_row(aw_world *w, ecs_table *t, uint32_t chunk, uint32_t row);
/* Appends a row for entity e (room must be reserved); returns its place. Columns are left
 * uninitialised. */
void ecs_table_append_row(ecs_table *t, aw_entity e, uint32_t *chunk, uint32_t *row);
/* Destroys every row (dtors) and releases all chunks. Records are not touched. */
void ecs_table_clear(aw_world *w, ecs_table *t);

static inline int ecs_table_column(const ecs_table *t, aw_component c) {
    return c < t->column_of_len ? t->column_of[c] : -1;
}
static inline uint32_t ecs_chunk_tier(const ecs_table *t, uint32_t chunk) {
    return chunk >= t->small_chunks;
}
/* First row held by chunk k. */
static inline uint32_t ecs_chunk_start(const ecs_table *t, uint32_t k) {
    return k < t->small_chunks ? k * t->rows[0]
                               : t->small_chunks * t->rows[0] + (k - t->small_chunks) * t->rows[1];
}
static inline void ecs_table_locate(const ecs_table *t, uint32_t index, uint32_t *chunk, uint32_t *row) {
    uint32_t small_total = t->small_chunks * t->rows[0];
    if (index < small_total) {
        *chunk = index / t->rows[0];
        *row = index - *chunk * t->rows[0];
    } else {
        uint32_t k = (index - small_total) / t->rows[1];
        *chunk = t->small_chunks + k;
        *row = index - small_total - k * t->rows[1];
    }
}
static inline uint8_t *ecs_column_ptr(const ecs_table *t, uint32_t col, uint32_t chunk, uint32_t row) {
    const ecs_column *c = &t->columns[col];
    return (uint8_t *)t->chunks[chunk] + c->offset[ecs_chunk_tier(t, chunk)] + (size_t)row * c->size;
}
static inline aw_entity *ecs_chunk_entities(const ecs_table *t, uint32_t chunk) {
    return (aw_entity *)t->chunks[chunk];
}
static inline uint32_t ecs_chunk_rows(const ecs_table *t, uint32_t chunk) {
    uint32_t start = ecs_chunk_start(t, chunk);
    if (t->count <= start) return 0;
    uint32_t left = t->count - start, cap = t->rows[ecs_chunk_tier(t, chunk)];
    return left < cap ? left : cap;
}

/* ---- entity index (entity.c) */

static inline ecs_record *ecs_record_at(const aw_world *w, uint32_t index) {
    return &w->record_pages[index >> ECS_RECORD_PAGE_BITS][index & (ECS_RECORD_PAGE_SIZE - 1)];
}
_Static_assert(ECS_FREE_PAGE_SIZE * sizeof(uint32_t) == ECS_RECORD_PAGE_SIZE * sizeof(ecs_record),
               "free-index pages and record pages share the record pool's block size");
static inline uint32_t *ecs_free_slot(const aw_world *w, uint32_t slot) {
    return &w->free_pages[slot >> ECS_FREE_PAGE_BITS][slot & (ECS_FREE_PAGE_SIZE - 1)];
}
static inline ecs_record *ecs_record_of(const aw_world *w, aw_entity e) {
    uint32_t index = AW_ENTITY_INDEX(e);
    if (index == 0 || index >= w->record_count) return NULL;
    ecs_record *r = ecs_record_at(w, index);
    if (r->generation != AW_ENTITY_GENERATION(e) || r->table == ECS_NO_TABLE) return NULL;
    return r;
}
aw_status ecs_stale(aw_entity e, const char *fn);
/* Makes records[0, count) exist, and the free list able to hold every index. */
aw_status ecs_grow_records(aw_world *w, uint32_t count);
static inline aw_status ecs_ensure_records(aw_world *w, uint32_t count) {
    return AW_LIKELY(count <= w->record_count) ? AW_OK : ecs_grow_records(w, count);
}
/* Marks an index dead: bumps its generation and pushes it on the free stack. */
void ecs_free_entity(aw_world *w, uint32_t index);
/* Reserves an id (thread-safe against other reservations). */
aw_entity ecs_reserve_id(aw_world *w);
/* Returns a reserved, never realised id to the free list with a new generation. */
void ecs_release_reserved(aw_world *w, aw_entity e);
/* Makes a reserved id alive in the empty table. */
aw_status ecs_realize(aw_world *w, aw_entity e);
aw_status ecs_spawn(aw_world *w, aw_entity reserved, const aw_component *comps, const void *const *data,
                    uint32_t n, aw_entity *out);
aw_status ecs_entity_add_data(aw_world *w, aw_entity e, ecs_record *rec, aw_component c, const void *data);

/* ---- queries (query.c) */

aw_status ecs_queries_prepare(aw_world *w);
void ecs_queries_match_table(aw_world *w, ecs_table *t);
void ecs_query_free(aw_query *q);

/* ---- systems and the scheduler (system.c, schedule.c) */

void ecs_system_free(aw_world *w, aw_system *s);
bool ecs_systems_conflict(const aw_system *a, const aw_system *b);
aw_status ecs_system_run(aw_system *s, uint32_t worker, float dt);
aw_status ecs_system_apply(aw_system *s);
aw_status ecs_build_pieces(aw_world *w, const aw_query *q, uint32_t grain, ecs_piece **pieces,
                           uint32_t *count, uint32_t *capacity);
void ecs_piece_iter(const aw_query *q, const ecs_piece *p, aw_iter *it);
aw_status ecs_ensure_jobs(aw_world *w);
void ecs_schedule_free(aw_world *w);
/* Debug-build checks that the running system declared what it touches. */
aw_status ecs_check_access(const aw_world *w, aw_component c, bool write, const char *fn);
aw_status ecs_check_resource_access(const aw_world *w, aw_resource r, const char *fn);
#ifdef AW_ACCESS_CHECKS
#define ECS_CHECK_ACCESS(w, c, write, fn)   ecs_check_access((w), (c), (write), (fn))
#define ECS_CHECK_RESOURCE_ACCESS(w, r, fn) ecs_check_resource_access((w), (r), (fn))
#else
#define ECS_CHECK_ACCESS(w, c, write, fn)   AW_OK
#define ECS_CHECK_RESOURCE_ACCESS(w, r, fn) AW_OK
#endif

/* ---- command buffers (command.c) */

aw_cmd_buffer *ecs_cmd_buffer_new(aw_world *w, bool provisional);

/* ---- resources and events */

void ecs_resources_free(aw_world *w);
void ecs_events_free(aw_world *w);

#endif /* AW_ECS_INTERNAL_H */
