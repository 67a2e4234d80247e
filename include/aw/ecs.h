/* AstraWeave ECS: entities, run-time components in archetype tables (SoA columns in pooled
 * chunks), cached queries, command buffers, resources and events. */
#ifndef AW_ECS_H
#define AW_ECS_H

#include "aw/core.h"
#include "aw/jobs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- ids */

/* Entity id: low 32 bits index, high 32 bits generation. 0 is never a live entity. */
typedef uint64_t aw_entity;
#define AW_ENTITY_NULL          ((aw_entity)0)
#define AW_ENTITY_INDEX(e)      ((uint32_t)((e)&0xffffffffu))
#define AW_ENTITY_GENERATION(e) ((uint32_t)((e) >> 32))

/* Component id, 1-based in registration order; 0 is "none". */
typedef uint32_t aw_component;

typedef struct aw_world aw_world;

/* ---------------------------------------------------------------- world */

typedef struct aw_world_desc {
    const aw_allocator *allocator; /* NULL: aw_heap_allocator() */
    uint32_t chunk_size;           /* bytes per small table chunk, 0: 16 KiB (power of two, >= 1 KiB) */
    uint32_t large_chunk_size;     /* bytes per large chunk, used once a table outgrows its first
                                      four small chunks; 0: 1 MiB (power of two) */
    uint32_t entity_capacity;      /* entity records to reserve up front (0: grow on demand) */
    uint32_t threads;              /* threads for the world's job system, caller included (0: one per
                                      hardware thread; 1: everything inline) */
    aw_jobs *jobs;                 /* share an existing job system instead (threads is then ignored) */
} aw_world_desc;

/* Returns NULL with aw_last_error() set on failure. desc may be NULL (all defaults). */
aw_world *aw_world_create(const aw_world_desc *desc);
/* Runs every dtor hook and frees all memory. NULL is ignored. */
void aw_world_destroy(aw_world *world);
/* Destroys every entity (ids of destroyed entities stay stale); keeps components, tables,
 * queries, resources, queued events and memory for reuse. */
aw_status aw_world_clear(aw_world *world);
/* Number of live entities. */
uint32_t aw_world_entity_count(const aw_world *world);
/* Hash of all live entity ids and their component bytes. Independent of memory addresses,
 * table creation order and row order; equal worlds (same ids, same data) hash equal. */
uint64_t aw_world_hash(const aw_world *world);
/* Ends a frame: advances the event buffers (see events below). */
void aw_world_end_frame(aw_world *world);
/* Counters of the allocations this world made through its allocator. */
aw_alloc_stats aw_world_alloc_stats(const aw_world *world);

/* Memory statistics, for tooling and tests. */
typedef struct aw_world_stats {
    uint32_t entities;
    uint32_t tables;
    uint32_t components;
    uint32_t queries;
    uint64_t chunks_in_use;
    uint64_t chunk_bytes;
} aw_world_stats;
aw_world_stats aw_world_get_stats(const aw_world *world);

/* ---------------------------------------------------------------- components */

/* Lifecycle hooks work on arrays of `count` elements. Without hooks, new components are
 * zero-filled, moves are memcpy and removal does nothing. */
typedef void (*aw_ctor_fn)(void *ptr, uint32_t count, void *user);
typedef void (*aw_dtor_fn)(void *ptr, uint32_t count, void *user);
/* Moves src into uninitialised dst; src is treated as destroyed afterwards (no dtor call). */
/* A value added with data (set, bulk, command set) is constructed first, then assigned with the
 * copy hook (or bytes), so every ctor call is matched by exactly one dtor call. */
typedef void (*aw_move_fn)(void *dst, void *src, uint32_t count, void *user);
/* Assigns src onto the constructed dst (used by set). */
typedef void (*aw_copy_fn)(void *dst, const void *src, uint32_t count, void *user);

typedef struct aw_component_desc {
    const char *name; /* required, unique per world; copied */
    size_t size;      /* 0 makes a tag: no storage */
    size_t align;     /* 0: natural alignment for size (up to 16); else a power of two <= 64 */
    aw_ctor_fn ctor;
    aw_dtor_fn dtor;
    aw_move_fn move;
    aw_copy_fn copy;
    void *hook_user;
} aw_component_desc;

/* Returns the new id, or 0 with aw_last_error() set (duplicate name, bad size/alignment...). */
aw_component aw_component_register(aw_world *world, const aw_component_desc *desc);
/* Returns the id registered under name, or 0. */
aw_component aw_component_lookup(const aw_world *world, const char *name);
/* Registered size (0 for tags and unknown ids). */
size_t aw_component_size(const aw_world *world, aw_component component);
const char *aw_component_name(const aw_world *world, aw_component component);

/* Registers a C type under its own name: AW_COMPONENT(world, Position). */
#define AW_COMPONENT(world, T)                                                                               \
    aw_component_register((world), &(aw_component_desc){.name = #T, .size = sizeof(T), .align = _Alignof(T)})
#define AW_TAG(world, name_) aw_component_register((world), &(aw_component_desc){.name = #name_})

/* ---------------------------------------------------------------- entities */

/* Creates an empty entity. Returns AW_ENTITY_NULL with aw_last_error() set on failure
 * (out of memory, or AW_ERR_LOCKED while a query iterates: use a command buffer). */
aw_entity aw_entity_create(aw_world *world);
aw_status aw_entity_destroy(aw_world *world, aw_entity entity);
bool aw_entity_alive(const aw_world *world, aw_entity entity);

/* Adds a component (constructed by its ctor, else zeroed). AW_ERR_ALREADY_PRESENT if there. */
aw_status aw_entity_add(aw_world *world, aw_entity entity, aw_component component);
/* Removes a component. AW_ERR_NOT_PRESENT if absent. */
aw_status aw_entity_remove(aw_world *world, aw_entity entity, aw_component component);
/* Copies `size` bytes into the component, adding it first if absent. size must equal the
 * registered size (AW_ERR_SIZE_MISMATCH); tags take data NULL and size 0. Writing a present
 * component is not a structural change and is allowed while iterating. */
aw_status aw_entity_set(aw_world *world, aw_entity entity, aw_component component, const void *data,
                        size_t size);
/* Pointer to the component's data, valid until the next structural change; NULL with
 * aw_last_error() set if the entity is stale or lacks the component (or it is a tag). */
void *aw_entity_get(aw_world *world, aw_entity entity, aw_component component);
const void *aw_entity_get_const(const aw_world *world, aw_entity entity, aw_component component);
bool aw_entity_has(const aw_world *world, aw_entity entity, aw_component component);

#define AW_SET(world, e, c, T, ...) aw_entity_set((world), (e), (c), &(T)__VA_ARGS__, sizeof(T))
#define AW_GET(world, e, c, T)      ((T *)aw_entity_get((world), (e), (c)))

/* Creates `count` entities that share one component set, with initial data copied from
 * column arrays: data[i] points to `count` values of components[i] (NULL: construct/zero;
 * ignored for tags). Ids are written to out_entities if non-NULL. All or nothing. */
typedef struct aw_bulk_desc {
    uint32_t count;
    const aw_component *components;
    uint32_t component_count;
    const void *const *data;
    aw_entity *out_entities;
} aw_bulk_desc;
aw_status aw_entity_create_bulk(aw_world *world, const aw_bulk_desc *desc);

/* ---------------------------------------------------------------- queries */

#define AW_QUERY_MAX_TERMS 16

typedef enum aw_term_oper {
    AW_TERM_WITH = 0, /* must be present; column provided */
    AW_TERM_WITHOUT,  /* must be absent; no column */
    AW_TERM_OPTIONAL  /* column provided where present, else NULL */
} aw_term_oper;

typedef enum aw_access {
    AW_ACCESS_READ = 0,
    AW_ACCESS_WRITE,
    AW_ACCESS_NONE /* filter only: the system never touches the data */
} aw_access;

typedef struct aw_term {
    aw_component component;
    aw_term_oper oper;
    aw_access access;
} aw_term;

typedef struct aw_query_desc {
    const aw_term *terms;
    uint32_t term_count; /* 1..AW_QUERY_MAX_TERMS */
} aw_query_desc;

/* Term shorthands (fully designated, so -Wextra stays quiet). */
#define AW_READ(c)                                                                                           \
    { .component = (c), .oper = AW_TERM_WITH, .access = AW_ACCESS_READ }
#define AW_WRITE(c)                                                                                          \
    { .component = (c), .oper = AW_TERM_WITH, .access = AW_ACCESS_WRITE }
#define AW_WITHOUT(c)                                                                                        \
    { .component = (c), .oper = AW_TERM_WITHOUT, .access = AW_ACCESS_NONE }
#define AW_OPTIONAL(c, acc)                                                                                  \
    { .component = (c), .oper = AW_TERM_OPTIONAL, .access = (acc) }
#define AW_FILTER(c)                                                                                         \
    { .component = (c), .oper = AW_TERM_WITH, .access = AW_ACCESS_NONE }

/* Fills .terms and .term_count from a list: AW_TERMS(AW_WRITE(pos), AW_READ(vel)) */
#define AW_TERMS(...)                                                                                        \
    .terms = (const aw_term[]){__VA_ARGS__},                                                                 \
    .term_count = (uint32_t)(sizeof((aw_term[]){__VA_ARGS__}) / sizeof(aw_term))

typedef struct aw_query aw_query;

/* The set of matching tables is cached and kept current as tables appear. Queries belong to
 * the world and are freed with it (or earlier with aw_query_destroy). NULL on bad input. */
aw_query *aw_query_create(aw_world *world, const aw_query_desc *desc);
void aw_query_destroy(aw_query *query);
/* Number of entities the query matches now. */
uint32_t aw_query_count(const aw_query *query);

/* One chunk at a time: `count` rows, entity ids, and one column pointer per term (NULL for
 * WITHOUT terms, tags and absent OPTIONAL terms). While any iterator is active, structural
 * changes are refused with AW_ERR_LOCKED; an iterator finishes when next() returns false, or
 * by aw_iter_fini() when leaving a loop early. Iterators are single-use: a finished one keeps
 * returning false; call aw_query_iter() again to iterate again. */
typedef struct aw_iter {
    uint32_t count;
    const aw_entity *entities;
    void *columns[AW_QUERY_MAX_TERMS];
    /* private */
    aw_query *query_;
    uint32_t table_;
    uint32_t chunk_;
    bool active_;
} aw_iter;

aw_iter aw_query_iter(aw_query *query);
bool aw_iter_next(aw_iter *it);
void aw_iter_fini(aw_iter *it);
/* Typed column access: AW_COLUMN(it, Position, 0) */
#define AW_COLUMN(it, T, term) ((T *)(it)->columns[(term)])

/* Per-entity convenience: calls fn(entity, columns, user) for every match, where columns[i] points
 * at the entity's data for term i (or NULL). */
typedef void (*aw_each_fn)(aw_entity entity, void *const *columns, void *user);
void aw_query_each(aw_query *query, aw_each_fn fn, void *user);

/* ---------------------------------------------------------------- command buffers */

/* Records structural changes to apply later (for example after iterating). Commands apply in
 * the order they were recorded. Reusing a buffer frame after frame allocates nothing. */
typedef struct aw_cmd_buffer aw_cmd_buffer;

aw_cmd_buffer *aw_cmd_buffer_create(aw_world *world);
void aw_cmd_buffer_destroy(aw_cmd_buffer *buffer);
/* Reserves an entity id now; the entity becomes alive when the buffer is applied. */
aw_entity aw_cmd_create(aw_cmd_buffer *buffer);
aw_status aw_cmd_destroy(aw_cmd_buffer *buffer, aw_entity entity);
aw_status aw_cmd_add(aw_cmd_buffer *buffer, aw_entity entity, aw_component component);
aw_status aw_cmd_remove(aw_cmd_buffer *buffer, aw_entity entity, aw_component component);
aw_status aw_cmd_set(aw_cmd_buffer *buffer, aw_entity entity, aw_component component, const void *data,
                     size_t size);
uint32_t aw_cmd_buffer_count(const aw_cmd_buffer *buffer);
/* Bytes one command takes in a buffer: `payload` is the component size of a set, 0 for the rest. */
size_t aw_cmd_size(size_t payload);
/* Grows the buffer (if needed) to hold `bytes` of commands (sums of aw_cmd_size) and `creates`
 * entity creations before its next reallocation, so a system that knows a bound from its row
 * count can take the allocation up front instead of in whichever frame first reaches it. */
aw_status aw_cmd_buffer_reserve(aw_cmd_buffer *buffer, size_t bytes, uint32_t creates);
/* Applies every command in order and empties the buffer. Commands that cannot apply (entity
 * destroyed meanwhile, component already present...) are skipped; the rest still apply. The
 * status is the first failure's (its message counts the skipped commands), else AW_OK.
 * AW_ERR_LOCKED (nothing applied) while a query iterates. */
aw_status aw_cmd_buffer_apply(aw_cmd_buffer *buffer);
/* Drops the recorded commands; reserved ids are returned to the world. */
void aw_cmd_buffer_reset(aw_cmd_buffer *buffer);

/* ---------------------------------------------------------------- resources */

/* Typed singletons owned by the world. */
typedef uint32_t aw_resource;
typedef struct aw_resource_desc {
    const char *name;    /* required, unique */
    size_t size;         /* > 0 */
    size_t align;        /* 0: natural; else power of two <= 64 */
    const void *initial; /* NULL: zero-filled */
    aw_dtor_fn dtor;
    void *hook_user;
} aw_resource_desc;

aw_resource aw_resource_register(aw_world *world, const aw_resource_desc *desc);
aw_resource aw_resource_lookup(const aw_world *world, const char *name);
void *aw_resource_get(aw_world *world, aw_resource resource);
aw_status aw_resource_set(aw_world *world, aw_resource resource, const void *data, size_t size);

#define AW_RESOURCE(world, T, ...)                                                                           \
    aw_resource_register(                                                                                    \
        (world), &(aw_resource_desc){.name = #T, .size = sizeof(T), .align = _Alignof(T), __VA_ARGS__})

/* ---------------------------------------------------------------- events */

/* Typed, double-buffered events. Events sent during frame N are visible during frames N and
 * N+1, then dropped by aw_world_end_frame(). Readers that must see each event once keep an
 * aw_event_cursor. Buffers are reused: a steady stream allocates nothing. */
typedef uint32_t aw_event_type;
typedef struct aw_event_desc {
    const char *name; /* required, unique */
    size_t size;      /* > 0 */
    size_t align;     /* 0: natural */
} aw_event_desc;

aw_event_type aw_event_register(aw_world *world, const aw_event_desc *desc);
aw_status aw_event_send(aw_world *world, aw_event_type type, const void *data, size_t size);
/* Grows the queue this frame's sends go to (if needed) to hold `count` events in all, so a system
 * that knows a bound can take the allocation up front instead of in the frame that first needs it. */
aw_status aw_event_reserve(aw_world *world, aw_event_type type, uint32_t count);
/* Visible events: the previous frame's, then this frame's so far. */
uint32_t aw_event_count(const aw_world *world, aw_event_type type);
const void *aw_event_get(const aw_world *world, aw_event_type type, uint32_t index);

typedef struct aw_event_cursor {
    uint64_t next_seq; /* zero-initialise; advanced by aw_event_read */
} aw_event_cursor;
/* Returns the next visible event this cursor has not read, or NULL. */
const void *aw_event_read(const aw_world *world, aw_event_type type, aw_event_cursor *cursor);

#define AW_EVENT(world, T)                                                                                   \
    aw_event_register((world), &(aw_event_desc){.name = #T, .size = sizeof(T), .align = _Alignof(T)})

/* ---------------------------------------------------------------- systems and the scheduler */

/* Phases order a frame; systems run by phase, then by their before/after constraints, then by
 * registration order. Phases are numbers so user phases fit between the built-in ones
 * (for example AW_PHASE_PERCEPTION + 50). */
#define AW_PHASE_PRE_SIMULATION  100u
#define AW_PHASE_PERCEPTION      200u
#define AW_PHASE_AI_PLANNING     300u
#define AW_PHASE_SIMULATION      400u
#define AW_PHASE_PHYSICS         500u
#define AW_PHASE_POST_SIMULATION 600u
#define AW_PHASE_PRESENTATION    700u

typedef struct aw_system aw_system;

/* What a system callback sees. `commands` records deferred structural changes; they are applied
 * at the next sync point in a fixed order (system, then task), so results do not depend on the
 * thread count. Ids returned by aw_cmd_create on it are provisional: usable in later commands
 * of the same buffer, real once applied (aw_cmd_resolve). */
typedef struct aw_system_ctx {
    aw_world *world;
    aw_system *system;
    aw_query *query; /* the system's query, or NULL */
    aw_cmd_buffer *commands;
    uint32_t worker; /* thread index in the job system */
    uint32_t task;   /* task index for chunk systems (deterministic), else 0 */
    uint32_t row;    /* chunk systems: the piece's first row in the query's order (the rows of the
                        pieces before it; all pieces cover 0 .. aw_query_count - 1), else 0 */
    float dt;
    uint64_t frame;
    void *user;
} aw_system_ctx;

typedef void (*aw_system_fn)(aw_system_ctx *ctx);
/* Runs on one piece of the query (a chunk, or `grain` rows of one); pieces run in parallel. */
typedef void (*aw_system_chunk_fn)(aw_system_ctx *ctx, const aw_iter *piece);

typedef struct aw_system_desc {
    const char *name;          /* required, unique */
    uint32_t phase;            /* 0: AW_PHASE_SIMULATION */
    aw_query_desc query;       /* optional; its terms count as declared access */
    aw_system_fn run;          /* called once per frame, or ... */
    aw_system_chunk_fn each;   /* ... called per piece of the query, in parallel */
    uint32_t grain;            /* rows per piece for `each` (0: 1024) */
    const aw_component *reads; /* further declared access */
    uint32_t read_count;
    const aw_component *writes;
    uint32_t write_count;
    const aw_resource *read_resources;
    uint32_t read_resource_count;
    const aw_resource *write_resources;
    uint32_t write_resource_count;
    bool exclusive;           /* conflicts with every system; may change the world directly */
    const char *const *after; /* names of systems this one must follow */
    uint32_t after_count;
    const char *const *before; /* names of systems this one must precede */
    uint32_t before_count;
    void *user;
} aw_system_desc;

/* Registers a system. NULL with aw_last_error() on bad input (no callback, duplicate name,
 * unknown component...). The schedule is rebuilt before the next frame. */
aw_system *aw_system_register(aw_world *world, const aw_system_desc *desc);
aw_system *aw_system_lookup(const aw_world *world, const char *name);
const char *aw_system_name(const aw_system *system);

/* Runs one frame: every system in schedule order (non-conflicting ones concurrently), sync
 * points where a later system needs earlier commands, a final sync, then aw_world_end_frame().
 * AW_ERR_CYCLE if before/after constraints form a cycle (nothing runs). */
aw_status aw_world_progress(aw_world *world, float dt);

/* Resolves a provisional id from a system's command buffer after it was applied; returns
 * the id unchanged if it is not provisional, AW_ENTITY_NULL if unknown. */
aw_entity aw_cmd_resolve(const aw_cmd_buffer *buffer, aw_entity provisional);

/* The schedule as text (one line per system: stage, name, phase, what it waits for), for
 * tooling and tests; returns the number of bytes needed (snprintf-style). */
size_t aw_world_describe_schedule(aw_world *world, char *out, size_t size);

/* Parallel iteration outside systems: fn runs on pieces of `grain` rows (0: 1024) on the
 * world's job system. Structural changes are refused while it runs, as with aw_iter. */
typedef void (*aw_piece_fn)(const aw_iter *piece, uint32_t worker, void *ctx);
aw_status aw_query_parallel(aw_query *query, uint32_t grain, aw_piece_fn fn, void *ctx);

/* The job system the world runs on. */
aw_jobs *aw_world_jobs(aw_world *world);

#ifdef __cplusplus
}
#endif

#endif /* AW_ECS_H */
