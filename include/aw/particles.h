/* AstraWeave particles: burst and continuous emitters, structure-of-arrays storage, gravity, drag,
 * wind, ground-plane and sphere collisions, simulated on the CPU (SIMD, split across the job
 * system) or on the GPU (Vulkan compute), chosen at run time. */
#ifndef AW_PARTICLES_H
#define AW_PARTICLES_H

#include "aw/core.h"
#include "aw/ecs.h"
#include "aw/gpu.h"
#include "aw/jobs.h"
#include "aw/physics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An emitter handle: slot index in the low 16 bits (plus one), generation in the high 16.
 * 0 is no emitter; a destroyed emitter's handle is refused (AW_ERR_NOT_FOUND). */
typedef uint32_t aw_emitter;
#define AW_EMITTER_NULL ((aw_emitter)0)

typedef enum aw_particles_backend {
    AW_PARTICLES_AUTO = 0, /* the GPU when a Vulkan device with compute is given, else the CPU */
    AW_PARTICLES_CPU,
    AW_PARTICLES_GPU /* fails with AW_ERR_UNAVAILABLE without a usable device */
} aw_particles_backend;

/* Which CPU kernel runs the simulation. AUTO picks the widest the CPU supports at run time. */
typedef enum aw_particles_simd {
    AW_PARTICLES_SIMD_AUTO = 0,
    AW_PARTICLES_SIMD_SCALAR, /* the same kernel compiled for baseline x86-64 (SSE2) or the host */
    AW_PARTICLES_SIMD_AVX2,   /* AVX2 + FMA code generation (no contraction: results match SCALAR) */
    AW_PARTICLES_SIMD_AVX512, /* AVX-512F/VL/DQ/BW code generation */
    AW_PARTICLES_SIMD_COUNT
} aw_particles_simd;

/* Environment shared by every particle. aw_particles_default_forces() gives the defaults. */
typedef struct aw_particle_forces {
    aw_vec3 gravity;   /* m/s^2; default (0, -9.81, 0) */
    aw_vec3 wind;      /* velocity of the air (m/s) that drag pulls particles toward */
    float drag;        /* 1/s, >= 0: each step v += drag * (wind - v) * dt (capped at the wind) */
    bool ground;       /* collide with the plane y = ground_y; default true */
    float ground_y;    /* default 0 */
    float restitution; /* normal velocity kept on a bounce, [0, 1]; default 0.5 */
    float friction;    /* tangential velocity kept on a bounce, [0, 1]; default 0.9 */
} aw_particle_forces;
aw_particle_forces aw_particles_default_forces(void);

typedef struct aw_particles_desc {
    uint32_t capacity;     /* most live particles, required, <= 1 << 28 */
    uint32_t max_emitters; /* 0: 256 (at most 65535) */
    uint32_t max_spheres;  /* collision spheres per step, 0: 4096 */
    uint32_t max_bursts;   /* queued bursts per step, 0: 1024 */
    const aw_particle_forces *forces; /* NULL: aw_particles_default_forces() */
    aw_particles_backend backend;
    aw_particles_simd simd;
    aw_jobs *jobs;  /* CPU path: split steps over this job system; NULL: the calling thread only */
    aw_gpu *gpu;    /* a Vulkan device (include/aw/gpu.h) for the GPU path; NULL: none */
    uint64_t seed;  /* mixed into every emitter's RNG */
    const aw_allocator *allocator; /* NULL: aw_heap_allocator() */
} aw_particles_desc;

typedef struct aw_particles aw_particles;

/* Allocates everything a step will ever need. NULL with aw_last_error() on bad input (zero
 * capacity, NaN or negative forces...), AW_ERR_UNAVAILABLE when the GPU backend was demanded and
 * cannot run, or AW_ERR_UNSUPPORTED for a SIMD level this CPU lacks. */
aw_particles *aw_particles_create(const aw_particles_desc *desc);
void aw_particles_destroy(aw_particles *ps);

/* The path and kernel actually in use (AUTO resolved). */
aw_particles_backend aw_particles_get_backend(const aw_particles *ps);
aw_particles_simd aw_particles_get_simd(const aw_particles *ps);
/* Widest SIMD level this CPU runs; its name ("scalar", "avx2", "avx512"). */
aw_particles_simd aw_particles_simd_detect(void);
const char *aw_particles_simd_str(aw_particles_simd simd);
const char *aw_particles_backend_str(aw_particles_backend backend);

/* AW_ERR_INVALID_ARG for NaN, infinite or out-of-range values (nothing changes). */
aw_status aw_particles_set_forces(aw_particles *ps, const aw_particle_forces *forces);

/* ---------------------------------------------------------------- emitters */

typedef struct aw_emitter_desc {
    aw_vec3 position;
    aw_vec3 direction;  /* centre of the emission cone; zero: +y. Normalised on creation */
    float spread;       /* cone half-angle in radians, [0, pi]: 0 a jet, pi every direction */
    float speed_min, speed_max;       /* m/s; max < min is refused; both 0: at rest */
    float lifetime_min, lifetime_max; /* seconds >= 0; 0 lives no step (dies on the first) */
    float rate;     /* continuous particles per second, >= 0 (0: bursts only) */
    uint32_t burst; /* particles per trigger (aw_particles_burst with count 0, contacts, deaths) */
    float color_start[4], color_end[4]; /* RGBA over life (linear blend); both zero: white */
    float size_start, size_end;         /* billboard size over life; both 0: 0.1 */
    aw_entity entity;   /* follow this entity's Position (aw_particles_follow); 0: none */
    aw_vec3 offset;     /* from the entity's position */
    bool burst_on_death; /* with entity: emit one burst where the entity was when it disappears */
    bool inactive;       /* created paused (no continuous emission) */
    uint64_t seed;       /* 0: derived from the system seed and the emitter slot */
} aw_emitter_desc;

/* AW_ERR_INVALID_ARG for NaN or out-of-range fields, AW_ERR_CAPACITY past max_emitters. */
aw_status aw_particles_emitter_create(aw_particles *ps, const aw_emitter_desc *desc, aw_emitter *out);
/* Stops emission; particles already emitted live out their lifetimes. */
aw_status aw_particles_emitter_destroy(aw_particles *ps, aw_emitter emitter);
aw_status aw_particles_emitter_set_position(aw_particles *ps, aw_emitter emitter, aw_vec3 position);
aw_status aw_particles_emitter_set_active(aw_particles *ps, aw_emitter emitter, bool active);
uint32_t aw_particles_emitter_count(const aw_particles *ps);

/* Queues a burst of `count` particles (0: the emitter's burst) at `at` (NULL: the emitter's
 * position), emitted at the start of the next step in call order. AW_ERR_CAPACITY when the
 * queue (max_bursts) is full: the burst is refused, nothing else changes. */
aw_status aw_particles_burst(aw_particles *ps, aw_emitter emitter, uint32_t count, const aw_vec3 *at);

/* ---------------------------------------------------------------- gameplay and world hooks */

/* A collision sphere (the CPU path tests them, the GPU path uploads them each step). */
typedef struct aw_particle_sphere {
    aw_vec3 center;
    float radius; /* > 0 */
} aw_particle_sphere;

/* Replaces the spheres particles collide with. Copied into storage made at creation;
 * AW_ERR_CAPACITY past max_spheres, AW_ERR_INVALID_ARG for non-finite values (nothing changes). */
aw_status aw_particles_set_spheres(aw_particles *ps, const aw_particle_sphere *spheres, uint32_t count);

/* Reads the world's colliders (entities with the physics "Position" and "Collider" components,
 * through an ECS query; disabled and sensor colliders and invalid radii are left out) and uses
 * them as the spheres. Colliders beyond max_spheres are dropped and counted in the stats. */
aw_status aw_particles_gather_colliders(aw_particles *ps, aw_world *world);

/* Moves emitters that follow entities to their entity's Position + offset. An emitter whose
 * entity is gone stops; with burst_on_death it first queues its burst at the last position. */
aw_status aw_particles_follow(aw_particles *ps, aw_world *world);

/* Queues the emitter's burst at the contact point of every physics contact event ("aw_contact")
 * this cursor has not read yet (the midpoint of the two bodies). *out_bursts may be NULL. */
aw_status aw_particles_burst_on_contacts(aw_particles *ps, aw_world *world, aw_emitter emitter,
                                         aw_event_cursor *cursor, uint32_t *out_bursts);

/* ---------------------------------------------------------------- stepping and reading */

/* Emits (continuous emitters, then queued bursts, in order), then simulates every live particle
 * by dt seconds: forces, collisions, ageing; particles past their lifetime go back to the free
 * list. Allocates nothing. dt must be finite and >= 0. The same inputs and seed give the same
 * particles for any thread count and any SIMD level. */
aw_status aw_particles_step(aw_particles *ps, float dt);

typedef struct aw_particles_stats {
    uint32_t capacity, live, dead; /* dead = capacity - live */
    uint32_t emitters, spheres, spheres_dropped;
    uint32_t emitted, died, refused; /* last step; refused: emissions that found no free slot */
    uint64_t total_emitted;
    double emit_rate;                /* particles per second emitted by the last step */
    uint64_t step_ns, emit_ns, simulate_ns; /* last step */
    uint64_t steps;
    aw_particles_backend backend;
    aw_particles_simd simd;
    uint32_t threads;
} aw_particles_stats;
aw_particles_stats aw_particles_get_stats(const aw_particles *ps);

/* One live particle as seen from outside. */
typedef struct aw_particle {
    aw_vec3 position, velocity;
    float age, lifetime;
    float color[4];
    float size;
    uint32_t id; /* emission sequence number, unique within the system: the same on both paths */
    aw_emitter emitter;
} aw_particle;

/* Copies up to `capacity` live particles to out, ordered by id, and the live count to *count
 * (which may exceed capacity). On the GPU path this reads the device buffers back (slow: for
 * tests and tools, not for every frame). */
aw_status aw_particles_read(aw_particles *ps, aw_particle *out, uint32_t capacity, uint32_t *count);

/* Hash of every live particle's id, position, velocity and age, in id order (CPU path; the GPU
 * path reads back first). Equal hashes mean bit-identical simulations. */
uint64_t aw_particles_hash(aw_particles *ps);

/* The GPU path's draw through the renderer: include/aw/particles_vulkan.h. */

#ifdef __cplusplus
}
#endif

#endif /* AW_PARTICLES_H */
