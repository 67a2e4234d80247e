/* Physics internals shared by its files: the gathered rows, the CSR grid in cell order and the
 * per-task pair buffers, all owned by aw_physics and reused from step to step. */
#ifndef AW_PHYSICS_INTERNAL_H
#define AW_PHYSICS_INTERNAL_H

#include "aw/jobs.h"
#include "aw/physics.h"

#include <stdatomic.h>

/* The pair test has an AVX2 path, chosen at run time (aw_physics.use_avx2), beside the scalar one. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PHYS_HAVE_AVX2 1
#else
#define PHYS_HAVE_AVX2 0
#endif

/* Task sizes. They fix how work is split, independently of the thread count, which is what makes
 * every per-task output (and so the concatenated result) the same for 1 or 8 threads. */
#define PHYS_ROW_GRAIN 4096u   /* rows per gather task (whole chunks are grouped up to this) */
#define PHYS_PAIR_GRAIN 512u   /* cell-ordered slots per pair-finding task */
#define PHYS_LARGE_GRAIN 4u    /* large colliders per pair-finding task */
#define PHYS_SORT_GRAIN 5000u  /* least rows per task of the counting sort */
#define PHYS_SMALL_SORT 32768u /* up to this many rows: one sequential counting sort, else bands */
#define PHYS_CONTACT_INLINE 256u /* up to this many contacts: the contact pass runs on the caller */
#define PHYS_RBUCKETS 64u      /* radius histogram buckets (binary exponents) */

/* gkey sentinels before compaction: large colliders sort after every cell, refused rows last. */
#define PHYS_KEY_LARGE (UINT32_MAX - 1u)
#define PHYS_KEY_INVALID UINT32_MAX

/* The columns of one ECS chunk, recorded once per step; rows [base, base + count). */
typedef struct phys_chunk {
    aw_position *pos;
    aw_velocity *vel; /* NULL where the table has no Velocity */
    const aw_collider *col;
    const aw_rigid_body *rb; /* NULL where the table has no RigidBody */
    const aw_entity *ent;
    uint32_t count, base;
} phys_chunk;

/* What one gather task found; reduced in task order. */
typedef struct phys_gather_out {
    uint32_t small, large, invalid, skipped;
    uint32_t masked; /* colliders whose mask is not every layer */
    uint32_t layered; /* colliders on a layer other than the default */
    aw_entity first_skipped;
    uint32_t rcount[PHYS_RBUCKETS];
    float rmax[PHYS_RBUCKETS];
} phys_gather_out;

/* A collider's record in gather order, whole in one 32-byte block (two a cache line): the sort
 * reads them in cell order, scattered over the rows, and in a big world each read is a miss, from
 * the other core when the other thread gathered that row. One line per row instead of one per
 * field. */
typedef struct phys_record {
    float x, y, z, r;
    uint32_t layer, mask; /* zero defaults applied */
    aw_entity ent;
} phys_record;
_Static_assert(sizeof(phys_record) == 32, "phys_record: 32 bytes, two a cache line");

/* Slack past the end of the cell-ordered arrays and of every pair buffer: the SIMD pair test loads
 * and stores whole groups of 8 lanes and masks the ones past a run's end. */
#define PHYS_PAD 16u

/* The automatic choice between splitting a step over the job system and running it on the
 * caller (see aw_physics_desc.always_parallel): a probe of PHYS_PROBE_STEPS steps, the first half
 * split and the second on the caller, records their times; then the faster by median runs until
 * PHYS_PROBE_EVERY steps have passed. Halves of 8 steps (medians of 7): with 4 the 1k bench's
 * choice flipped between runs on a host whose other work moves single steps by 10%. */
#define PHYS_AUTO_MAX_ROWS 65536u
#define PHYS_PROBE_STEPS 16u
#define PHYS_PROBE_EVERY 1024u
typedef struct phys_threading {
    uint32_t step;                       /* steps since the last probe began */
    uint64_t probe_ns[PHYS_PROBE_STEPS]; /* the probe's step times: split, then on the caller */
    bool on_caller;                      /* the choice after the last probe */
} phys_threading;

/* One pair-finding task: small slots [begin, end) or large slots; its own buffer of hits as
 * cell-ordered slot pairs (pi[k], pj[k]), so tasks never share memory and their outputs
 * concatenate in task order. The contact pass turns hits into normals and depths. */
typedef struct phys_task {
    uint32_t *pi, *pj;
    uint32_t count;    /* pairs found (may exceed capacity: then only counted) */
    uint32_t capacity; /* usable entries; both buffers hold PHYS_PAD more */
    uint32_t offset;   /* where its pairs start among the step's contacts */
    uint64_t tests;
} phys_task;

/* Static obstacle boxes on their own CSR grid (boxes go into every cell they cover). */
typedef struct phys_obstacles {
    aw_aabb *boxes;
    uint32_t count;
    uint32_t *items;   /* box indices, by cell */
    uint32_t item_count;
    uint32_t *start;   /* cells + 1 offsets into items */
    uint32_t width, height;
    double min_x, min_z, cell, inv_cell;
} phys_obstacles;

struct aw_physics {
    aw_world *world;
    const aw_allocator *alloc;
    aw_physics_desc desc;
    aw_physics_ids ids;
    aw_query *query;
    aw_jobs *jobs; /* NULL: run everything on the caller */
    aw_jobs *step_jobs; /* this step's: jobs, or NULL when the step runs on the caller */
    phys_threading threading;
    float dt;

    /* gather: chunk list, task grouping, per-row cell key and chunk index (gather order) */
    phys_chunk *chunks;
    uint32_t chunk_count, chunk_cap;
    uint32_t *group_first; /* first chunk of each gather task, plus a terminator */
    uint32_t group_count, group_cap;
    phys_gather_out *gather_out;
    uint32_t gather_out_cap;
    uint32_t rows, row_cap;
    uint32_t *gkey, *gchunk;
    phys_record *g; /* valid rows' records, gather order */

    /* sort scratch: (key << 32 | row) items by band, per-task band histograms */
    uint64_t *items_a;
    uint32_t *hist;
    size_t hist_cap;

    /* the grid: slots in cell order; [0, n_small) in cells, [n_small, n_valid) large colliders.
     * Structure of arrays, so the pair test loads 8 candidates' coordinates at once. */
    uint32_t *order; /* slot -> row */
    uint32_t *key;   /* slot -> compact cell key */
    float *bx, *by, *bz, *br;
    uint32_t *blayer;
    uint32_t *bmask; /* filled only when some collider filters (!all_default_layers) */
    aw_entity *bent;    /* slot -> entity, filled only when slot_entities */
    bool slot_entities; /* this step copied entities into slot order: see phys_slot_entity */
    atomic_bool entity_reads; /* a query read entities since the last step (a hint, relaxed) */
    bool all_default_layers; /* every collider meets every other: the pair test skips the layer check */
    bool has_cell_layers; /* cell_layers holds each cell's layer union (layers or masks vary) */
    bool use_avx2;           /* the CPU has AVX2 (and the build may use it) */
    uint64_t compress_lut[256]; /* mask -> indices of its set bits, one per byte, low first */
    uint32_t n_small, n_large, n_valid;
    uint32_t *cell_start; /* cells + width + 3 entries; past `cells` all equal n_small */
    size_t cell_start_cap;
    uint32_t *cell_layers; /* per cell: its colliders' layers OR-ed (masked k-nearest skips cells);
                           * built only when some collider is off the default layer */
    size_t cell_layers_cap;
    uint32_t *outside;    /* slots whose centre was outside the grid at build time */
    uint32_t n_outside;
    double min_x, min_z, cell, inv_cell;
    float small_r_max;    /* colliders up to this radius live in cells */
    uint32_t width, height, cells;
    float margin;         /* how far the response moved anything since the build (x or z) */

    /* pairs and contacts */
    phys_task *tasks;
    uint32_t task_count, task_cap;
    aw_contact *contacts;
    uint32_t contact_count, contact_cap;
    uint32_t *touched;    /* slots the response moved (with repeats) */
    uint32_t pairs_hint;  /* most pairs any task found so far: new task buffers start at this size */
    uint32_t touched_count, touched_cap;

    phys_obstacles obstacles;
    aw_physics_stats stats;
};

/* Runs fn over task indices [0, count) on the job system (or inline). */
void phys_parallel(aw_physics *p, uint32_t count, aw_range_fn fn, void *ctx);
/* Grows *ptr to hold at least `need` elements of `size` bytes (contents kept); capacity in
 * elements. Allocation happens only when a step needs more than any step before. */
aw_status phys_reserve(aw_physics *p, void **ptr, size_t *capacity, size_t need, size_t size);
aw_status phys_reserve_u32(aw_physics *p, void **ptr, uint32_t *capacity, size_t need, size_t size);

/* grid.c */

aw_status phys_grid_prepare(aw_physics *p, uint32_t rows);
void phys_grid_choose_cell(aw_physics *p, const uint32_t *rcount, const float *rmax, uint32_t valid);
aw_status phys_grid_build(aw_physics *p, uint32_t n_small, uint32_t n_large);
aw_status phys_find_pairs(aw_physics *p);

/* Cell coordinate of v, clamped to [0, n); *outside (if given) is set when it had to clamp.
 * Double precision keeps the cell of a float coordinate exact enough for the safety margins. */
static inline uint32_t phys_cell(double v, double lo, double inv, uint32_t n, bool *outside) {
    double u = (v - lo) * inv;
    /* Truncation is floor here (u >= 0), and avoids a libm call without SSE4.1. */
    if (u >= 0.0 && u < (double)n) return (uint32_t)u;
    if (outside) *outside = true;
    return u >= 0.0 ? n - 1 : 0;
}

/* A row's cell key; colliders too big for a cell get PHYS_KEY_LARGE. */
static inline uint32_t phys_row_key(const aw_physics *p, float x, float z, float r, bool *outside) {
    uint32_t cx = phys_cell(x, p->min_x, p->inv_cell, p->width, outside);
    uint32_t cy = phys_cell(z, p->min_z, p->inv_cell, p->height, outside);
    return r > p->small_r_max ? PHYS_KEY_LARGE : cy * p->width + cx;
}

/* A slot's entity. Through `order` it is two dependent loads, the second a cache miss in a big
 * world: most of the k-nearest walks' time at 90k agents. So a big world that is being queried
 * copies its entities into slot order in the sort, and a query reads them from the lines its walk
 * is already in. Small worlds fit in cache, and a world nobody queries would only pay for the copy
 * (0.10-0.16 ms of the 100k step's band pass, half of it won back by the contact pass). Either way
 * the entity is the same. */
static inline aw_entity phys_slot_entity(const aw_physics *p, uint32_t s) {
    return p->slot_entities ? p->bent[s] : p->g[p->order[s]].ent;
}

/* Called by the queries that read entities: the next step copies them (see above). The flag is
 * written once per step whatever the number of queries, so readers on other threads share it. */
static inline void phys_note_entity_reads(const aw_physics *p) {
    if (!p) return;
    atomic_bool *flag = (atomic_bool *)&((aw_physics *)p)->entity_reads; /* heap object, never const */
    if (!atomic_load_explicit(flag, memory_order_relaxed))
        atomic_store_explicit(flag, true, memory_order_relaxed);
}

/* query.c */
void phys_obstacles_free(aw_physics *p);

#endif /* AW_PHYSICS_INTERNAL_H */
