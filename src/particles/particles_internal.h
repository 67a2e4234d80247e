/* Shared by the particle module's files (src/particles only): the system's state, the SoA
 * storage, the counter-based RNG both paths use, and the CPU and GPU back ends' entry points. */
#ifndef AW_PARTICLES_INTERNAL_H
#define AW_PARTICLES_INTERNAL_H

#include "aw/particles.h"

#include <math.h>
#include <stdatomic.h>

/* Particles per block: the unit of SIMD loops, sphere culling, death lists and job ranges. */
#define PARTICLE_BLOCK 1024u
/* Blocks per job range (16K particles): ranges are fixed, so results never depend on threads. */
#define PARTICLE_RANGE_BLOCKS 16u
#define PARTICLE_MAX_CAPACITY (1u << 28)

/* Structure of arrays, 64-byte aligned. A slot is live while age < life; a free slot has
 * age = life = 0. A particle that died this step is marked age = -1 until it is recycled. */
typedef struct particle_soa {
    float *px, *py, *pz;
    float *vx, *vy, *vz;
    float *age, *life;
    uint32_t *id;      /* emission sequence number */
    uint32_t *emitter; /* emitter slot */
} particle_soa;

typedef struct emitter_slot {
    aw_emitter_desc desc;
    aw_vec3 dir, tangent, bitangent; /* emission cone basis */
    float cos_spread;
    uint32_t seed32; /* per-emitter RNG key */
    uint32_t sequence; /* particles this emitter has emitted: the RNG counter */
    float carry;       /* fractional continuous emission left from the last step */
    uint16_t generation;
    bool used, active;
} emitter_slot;

typedef struct burst_request {
    uint32_t emitter; /* slot */
    uint32_t count;
    aw_vec3 at;
} burst_request;

/* What the simulation kernel needs per step. */
typedef struct sim_params {
    float dt;
    float gx, gy, gz; /* gravity * dt */
    float wx, wy, wz; /* wind */
    float drag_k;     /* min(drag * dt, 1) */
    float ground_y;
    bool ground;
    float restitution, friction;
} sim_params;

/* Spheres binned on a uniform grid over x-z, rebuilt every step: a particle tests only the spheres
 * of its cell, and only when its height is within theirs. A cell is at least as wide as the largest
 * sphere's radius, so a sphere spans at most 3 x 3 cells; the same floor formula places spheres and
 * particles. */
#define SPHERE_GRID_MAX_SIDE 256u
typedef struct sphere_grid {
    float min_x, min_z, inv_cell;
    float min_y, max_y; /* height range of every sphere: particles above or below skip the grid */
    int32_t w, h;       /* 0: no spheres */
    uint32_t *cell_start; /* first item of each cell */
    uint32_t *cell_count; /* items per cell (a separate array: the vector pass gathers it) */
    float *cell_min_y, *cell_max_y; /* height range of the cell's spheres */
    uint32_t *items;      /* sphere indices, ascending within a cell */
    const aw_particle_sphere *spheres;
    uint32_t sphere_count;
    /* Each sphere's box (center -/+ radius) as six arrays of max_spheres, for vector box tests. */
    float *box_lo_x, *box_hi_x, *box_lo_y, *box_hi_y, *box_lo_z, *box_hi_z;
} sphere_grid;
/* A block whose bounds meet at most NEAR_SPHERES_MAX spheres has each SUB_BLOCK slots sweep
 * those that meet their own bounds; more, it goes through the grid. */
#define NEAR_SPHERES_MAX 64u
#define SUB_BLOCK        64u

/* Spheres tested against a block's bounds per vector pass. */
#define NEAR_SCAN 64u

typedef struct particles_gpu particles_gpu;

/* One planned emission run of the CPU path: `count` particles of one emitter at `at`, whose slots
 * are emit_slots[first, first + count). */
typedef struct emit_plan {
    uint32_t emitter;
    aw_vec3 at;
    uint32_t first_sequence, first_id;
    uint32_t first, count;
} emit_plan;
/* Planned particles per job range of the emission pass. */
#define EMIT_GRAIN 1024u

struct aw_particles {
    const aw_allocator *allocator;
    uint32_t capacity, max_emitters, max_spheres, max_bursts;
    aw_particle_forces forces;
    aw_particles_backend backend;
    aw_particles_simd simd;
    aw_jobs *jobs;
    uint64_t seed;

    particle_soa soa;
    size_t soa_bytes; /* one allocation holds every array */
    void *soa_block;
    /* CPU path: every PARTICLE_SORT_EVERY steps the live particles are copied into `spare` in cell
     * order and the two swap (sort_cpu.c). */
    particle_soa spare;
    void *spare_block;
    uint32_t spare_high_water; /* slots of `spare` that may hold stale particles */
    uint32_t *sort_hist;       /* per sort chunk: SORT_BUCKETS_MAX + 1 counters (sort_cpu.c) */
    uint32_t steps_since_sort;
    uint32_t *free_slots; /* stack of recycled slots */
    uint32_t free_count;
    uint32_t high_water; /* slots [high_water, capacity) were never used */
    uint32_t live;
    uint32_t next_id;
    uint32_t *dead_slots;  /* per block: slots that died this step (block b at b * PARTICLE_BLOCK) */
    uint32_t *dead_counts; /* per block */
    uint32_t block_count;

    emitter_slot *emitters;
    uint32_t emitter_count;
    burst_request *bursts;
    uint32_t burst_count;
    emit_plan *emit_runs; /* max_emitters + max_bursts: this step's planned runs */
    uint32_t emit_run_count;
    uint32_t *emit_slots; /* planned particles' slots: borrows dead_slots (empty between steps) */
    uint32_t emit_planned;
    aw_particle_sphere *spheres;
    uint32_t sphere_count, spheres_dropped;
    sphere_grid grid;

    /* world hooks: components looked up on first use */
    aw_query *collider_query;
    aw_world *collider_world;

    aw_particles_stats stats;
    particles_gpu *gpu;
};

/* ---- counter-based RNG: the same integer hash in C and in shaders/particles_emit.comp */

static inline uint32_t particle_hash(uint32_t v) {
    uint32_t state = v * 747796405u + 2891336453u;
    uint32_t word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}
/* Uniform in [0, 1): 24 random bits, exact in a float. */
static inline float particle_random(uint32_t key, uint32_t sequence, uint32_t k) {
    return (float)(particle_hash(key ^ particle_hash(sequence * 8u + k)) >> 8) * (1.0f / 16777216.0f);
}

/* The initial state of one particle (shared by the CPU emitter and the GPU path's upload). */
typedef struct particle_spawn {
    float px, py, pz, vx, vy, vz, life;
} particle_spawn;
particle_spawn particles_spawn_state(const emitter_slot *e, aw_vec3 at, uint32_t sequence);

/* emit.c: continuous emission and queued bursts, in a fixed order. On the GPU path it records
 * runs for the emit kernel instead of writing the SoA. */
aw_status particles_emit(aw_particles *ps, float dt);

/* sphere_grid.c: rebuilds ps->grid from ps->spheres (allocates nothing). */
void particles_grid_build(aw_particles *ps);
size_t particles_grid_items_capacity(uint32_t max_spheres);

/* sort_cpu.c: packs the live particles to the front in sphere-grid cell order (allocates
 * nothing; needs this step's grid), split over the job system in up to PARTICLE_SORT_CHUNKS
 * chunks of whole blocks; grids of more than SORT_BUCKETS_MAX cells sort by coarser cells. It
 * borrows dead_slots (empty between steps) for the per-slot keys. */
#define PARTICLE_SORT_EVERY  16u
#define PARTICLE_SORT_CHUNKS 32u
#define SORT_BUCKETS_MAX     4096u
uint32_t particles_sort_chunks(uint32_t block_count);
aw_status particles_sort_by_cell(aw_particles *ps);

/* simulate_cpu.c */
aw_status particles_simulate_cpu(aw_particles *ps, const sim_params *params);
bool particles_simd_supported(aw_particles_simd simd);
sim_params particles_sim_params(const aw_particles *ps, float dt);

/* gpu.c: NULL-safe; the GPU back end exists only with a Vulkan device. */
aw_status particles_gpu_create(aw_particles *ps, aw_gpu *gpu);
/* Records one emission run for the GPU's emit kernel (called by emit.c on the GPU path). */
void particles_gpu_add_run(aw_particles *ps, uint32_t emitter, aw_vec3 at, uint32_t count, uint32_t first_sequence,
                           uint32_t first_id);
void particles_gpu_destroy(aw_particles *ps);
aw_status particles_gpu_step(aw_particles *ps, float dt);
aw_status particles_gpu_read_back(aw_particles *ps);

static inline bool particles_finite3(aw_vec3 v) {
    return isfinite(v.x) && isfinite(v.y) && isfinite(v.z);
}

#endif /* AW_PARTICLES_INTERNAL_H */
