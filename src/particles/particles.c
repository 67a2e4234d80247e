/* The particle system's life cycle: creation with every buffer a step needs, emitters, forces,
 * collision spheres, the step entry point that picks the CPU or GPU path, stats and read-out. */
#include "particles/particles_internal.h"

#include "aw/profile.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_EMITTERS 256u
#define DEFAULT_MAX_SPHERES  4096u
#define DEFAULT_MAX_BURSTS   1024u
#define MAX_EMITTERS         65535u
#define GRID_CELLS           ((size_t)SPHERE_GRID_MAX_SIDE * SPHERE_GRID_MAX_SIDE)

aw_particle_forces aw_particles_default_forces(void) {
    return (aw_particle_forces){.gravity = {0.0f, -9.81f, 0.0f},
                                .ground = true,
                                .ground_y = 0.0f,
                                .restitution = 0.5f,
                                .friction = 0.9f};
}

static aw_status check_forces(const aw_particle_forces *f) {
    if (!particles_finite3(f->gravity) || !particles_finite3(f->wind))
        return aw_error(AW_ERR_INVALID_ARG, "particles: gravity and wind must be finite");
    if (!isfinite(f->drag) || f->drag < 0.0f)
        return aw_error(AW_ERR_INVALID_ARG, "particles: drag must be finite and >= 0 (got %g)", (double)f->drag);
    if (!isfinite(f->ground_y)) return aw_error(AW_ERR_INVALID_ARG, "particles: ground_y must be finite");
    if (!(f->restitution >= 0.0f && f->restitution <= 1.0f))
        return aw_error(AW_ERR_INVALID_ARG, "particles: restitution must be in [0, 1] (got %g)",
                        (double)f->restitution);
    if (!(f->friction >= 0.0f && f->friction <= 1.0f))
        return aw_error(AW_ERR_INVALID_ARG, "particles: friction must be in [0, 1] (got %g)", (double)f->friction);
    return AW_OK;
}

const char *aw_particles_simd_str(aw_particles_simd simd) {
    switch (simd) {
    case AW_PARTICLES_SIMD_AUTO: return "auto";
    case AW_PARTICLES_SIMD_SCALAR: return "scalar";
    case AW_PARTICLES_SIMD_AVX2: return "avx2";
    case AW_PARTICLES_SIMD_AVX512: return "avx512";
    default: return "unknown";
    }
}

const char *aw_particles_backend_str(aw_particles_backend backend) {
    switch (backend) {
    case AW_PARTICLES_AUTO: return "auto";
    case AW_PARTICLES_CPU: return "cpu";
    case AW_PARTICLES_GPU: return "gpu";
    default: return "unknown";
    }
}

aw_particles_simd aw_particles_simd_detect(void) {
    if (particles_simd_supported(AW_PARTICLES_SIMD_AVX512)) return AW_PARTICLES_SIMD_AVX512;
    if (particles_simd_supported(AW_PARTICLES_SIMD_AVX2)) return AW_PARTICLES_SIMD_AVX2;
    return AW_PARTICLES_SIMD_SCALAR;
}

static size_t sort_hist_bytes(const aw_particles *ps) {
    return (size_t)particles_sort_chunks(ps->block_count) * (SORT_BUCKETS_MAX + 1u) * sizeof(uint32_t);
}

static size_t emit_runs_bytes(const aw_particles *ps) {
    return ((size_t)ps->max_emitters + ps->max_bursts) * sizeof(emit_plan);
}

/* Six arrays of max_spheres floats, each padded to 16. */
static size_t sphere_box_stride(const aw_particles *ps) {
    return ((size_t)ps->max_spheres + 15u) & ~(size_t)15u;
}

static size_t sphere_boxes_bytes(const aw_particles *ps) {
    return 6u * sphere_box_stride(ps) * sizeof(float);
}

static void free_storage(aw_particles *ps) {
    const aw_allocator *a = ps->allocator;
    aw_free(a, ps->soa_block, ps->soa_bytes);
    aw_free(a, ps->spare_block, ps->soa_bytes);
    aw_free(a, ps->sort_hist, sort_hist_bytes(ps));
    aw_free(a, ps->free_slots, (size_t)ps->capacity * sizeof(uint32_t));
    aw_free(a, ps->dead_slots, (size_t)ps->block_count * PARTICLE_BLOCK * sizeof(uint32_t));
    aw_free(a, ps->dead_counts, (size_t)ps->block_count * sizeof(uint32_t));
    aw_free(a, ps->emitters, (size_t)ps->max_emitters * sizeof(emitter_slot));
    aw_free(a, ps->bursts, (size_t)ps->max_bursts * sizeof(burst_request));
    aw_free(a, ps->emit_runs, emit_runs_bytes(ps));
    aw_free(a, ps->spheres, (size_t)ps->max_spheres * sizeof(aw_particle_sphere));
    aw_free(a, ps->grid.cell_start, GRID_CELLS * sizeof(uint32_t));
    aw_free(a, ps->grid.cell_count, GRID_CELLS * sizeof(uint32_t));
    aw_free(a, ps->grid.cell_min_y, GRID_CELLS * sizeof(float));
    aw_free(a, ps->grid.cell_max_y, GRID_CELLS * sizeof(float));
    aw_free(a, ps->grid.items, particles_grid_items_capacity(ps->max_spheres) * sizeof(uint32_t));
    aw_free(a, ps->grid.box_lo_x, sphere_boxes_bytes(ps));
}

/* Ten arrays of `capacity` 4-byte values, each starting on a 64-byte boundary, in one block. */
static aw_status alloc_soa(aw_particles *ps, particle_soa *soa, void **block) {
    size_t stride = ((size_t)ps->block_count * PARTICLE_BLOCK * sizeof(float) + 63u) & ~(size_t)63u;
    ps->soa_bytes = stride * 10u;
    uint8_t *base = aw_alloc(ps->allocator, ps->soa_bytes, 64);
    if (!base) return aw_error(AW_ERR_OUT_OF_MEMORY, "particles: out of memory for %u particles", ps->capacity);
    memset(base, 0, ps->soa_bytes);
    *block = base;
    float **floats[] = {&soa->px, &soa->py, &soa->pz, &soa->vx, &soa->vy, &soa->vz, &soa->age, &soa->life};
    for (size_t k = 0; k < 8; k++) *floats[k] = (float *)(base + k * stride);
    soa->id = (uint32_t *)(base + 8 * stride);
    soa->emitter = (uint32_t *)(base + 9 * stride);
    return AW_OK;
}

aw_particles *aw_particles_create(const aw_particles_desc *desc) {
    if (!desc) {
        aw_error(AW_ERR_INVALID_ARG, "particles: desc is NULL");
        return NULL;
    }
    if (desc->capacity == 0 || desc->capacity > PARTICLE_MAX_CAPACITY) {
        aw_error(AW_ERR_INVALID_ARG, "particles: capacity must be 1..%u (got %u)", PARTICLE_MAX_CAPACITY,
                 desc->capacity);
        return NULL;
    }
    if (desc->max_emitters > MAX_EMITTERS) {
        aw_error(AW_ERR_INVALID_ARG, "particles: max_emitters must be <= %u (got %u)", MAX_EMITTERS,
                 desc->max_emitters);
        return NULL;
    }
    if ((unsigned)desc->backend > AW_PARTICLES_GPU || (unsigned)desc->simd >= AW_PARTICLES_SIMD_COUNT) {
        aw_error(AW_ERR_INVALID_ARG, "particles: unknown backend %d or simd level %d", (int)desc->backend,
                 (int)desc->simd);
        return NULL;
    }
    aw_particle_forces forces = desc->forces ? *desc->forces : aw_particles_default_forces();
    if (check_forces(&forces)) return NULL;
    aw_particles_simd simd = desc->simd == AW_PARTICLES_SIMD_AUTO ? aw_particles_simd_detect() : desc->simd;
    if (!particles_simd_supported(simd)) {
        aw_error(AW_ERR_UNSUPPORTED, "particles: this CPU cannot run the %s kernel", aw_particles_simd_str(simd));
        return NULL;
    }

    const aw_allocator *a = desc->allocator ? desc->allocator : aw_heap_allocator();
    aw_particles *ps = aw_alloc(a, sizeof *ps, _Alignof(aw_particles));
    if (!ps) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "particles: out of memory");
        return NULL;
    }
    *ps = (aw_particles){.allocator = a,
                         .capacity = desc->capacity,
                         .max_emitters = desc->max_emitters ? desc->max_emitters : DEFAULT_MAX_EMITTERS,
                         .max_spheres = desc->max_spheres ? desc->max_spheres : DEFAULT_MAX_SPHERES,
                         .max_bursts = desc->max_bursts ? desc->max_bursts : DEFAULT_MAX_BURSTS,
                         .forces = forces,
                         .backend = AW_PARTICLES_CPU,
                         .simd = simd,
                         .jobs = desc->jobs,
                         .seed = desc->seed};
    ps->block_count = (ps->capacity + PARTICLE_BLOCK - 1u) / PARTICLE_BLOCK;
    aw_status st = alloc_soa(ps, &ps->soa, &ps->soa_block);
    if (!st) st = alloc_soa(ps, &ps->spare, &ps->spare_block);
    ps->sort_hist = aw_alloc(a, sort_hist_bytes(ps), 64);
    ps->free_slots = aw_alloc(a, (size_t)ps->capacity * sizeof(uint32_t), 64);
    ps->dead_slots = aw_alloc(a, (size_t)ps->block_count * PARTICLE_BLOCK * sizeof(uint32_t), 64);
    ps->dead_counts = aw_alloc(a, (size_t)ps->block_count * sizeof(uint32_t), 64);
    ps->emitters = aw_alloc(a, (size_t)ps->max_emitters * sizeof(emitter_slot), 64);
    ps->bursts = aw_alloc(a, (size_t)ps->max_bursts * sizeof(burst_request), 64);
    ps->emit_runs = aw_alloc(a, emit_runs_bytes(ps), 64);
    ps->emit_slots = ps->dead_slots;
    ps->spheres = aw_alloc(a, (size_t)ps->max_spheres * sizeof(aw_particle_sphere), 64);
    ps->grid.cell_start = aw_alloc(a, GRID_CELLS * sizeof(uint32_t), 64);
    ps->grid.cell_count = aw_alloc(a, GRID_CELLS * sizeof(uint32_t), 64);
    ps->grid.cell_min_y = aw_alloc(a, GRID_CELLS * sizeof(float), 64);
    ps->grid.cell_max_y = aw_alloc(a, GRID_CELLS * sizeof(float), 64);
    ps->grid.items = aw_alloc(a, particles_grid_items_capacity(ps->max_spheres) * sizeof(uint32_t), 64);
    ps->grid.box_lo_x = aw_alloc(a, sphere_boxes_bytes(ps), 64);
    if (ps->grid.box_lo_x) {
        float **boxes[] = {&ps->grid.box_hi_x, &ps->grid.box_lo_y, &ps->grid.box_hi_y, &ps->grid.box_lo_z,
                           &ps->grid.box_hi_z};
        for (size_t k = 0; k < 5; k++) *boxes[k] = ps->grid.box_lo_x + (k + 1u) * sphere_box_stride(ps);
    }
    if (!st && (!ps->grid.cell_start || !ps->grid.cell_count || !ps->grid.items || !ps->grid.box_lo_x || !ps->grid.cell_min_y ||
                !ps->grid.cell_max_y)) st = AW_ERR_OUT_OF_MEMORY;
    if (!st && (!ps->free_slots || !ps->sort_hist || !ps->dead_slots || !ps->dead_counts || !ps->emitters || !ps->bursts || !ps->emit_runs ||
                !ps->spheres))
        st = aw_error(AW_ERR_OUT_OF_MEMORY, "particles: out of memory for %u particles", ps->capacity);
    if (!st) {
        memset(ps->emitters, 0, (size_t)ps->max_emitters * sizeof(emitter_slot));
        memset(ps->dead_counts, 0, (size_t)ps->block_count * sizeof(uint32_t));
    }

    /* GPU when asked for or available; AUTO falls back to the CPU path quietly. */
    if (!st && desc->backend != AW_PARTICLES_CPU) {
        aw_status gst = desc->gpu ? particles_gpu_create(ps, desc->gpu)
                                  : aw_error(AW_ERR_UNAVAILABLE, "particles: no GPU device given");
        if (gst == AW_OK)
            ps->backend = AW_PARTICLES_GPU;
        else if (desc->backend == AW_PARTICLES_GPU)
            st = gst;
        else {
            particles_gpu_destroy(ps); /* whatever was made before the failure */
            aw_clear_error();
        }
    }
    if (st) {
        particles_gpu_destroy(ps);
        free_storage(ps);
        aw_free(a, ps, sizeof *ps);
        return NULL;
    }
    ps->stats.capacity = ps->capacity;
    ps->stats.backend = ps->backend;
    ps->stats.simd = ps->simd;
    ps->stats.threads = ps->jobs ? aw_jobs_thread_count(ps->jobs) : 1u;
    return ps;
}

void aw_particles_destroy(aw_particles *ps) {
    if (!ps) return;
    particles_gpu_destroy(ps);
    if (ps->collider_query) aw_query_destroy(ps->collider_query);
    free_storage(ps);
    aw_free(ps->allocator, ps, sizeof *ps);
}

aw_particles_backend aw_particles_get_backend(const aw_particles *ps) {
    return ps ? ps->backend : AW_PARTICLES_AUTO;
}

aw_particles_simd aw_particles_get_simd(const aw_particles *ps) {
    return ps ? ps->simd : AW_PARTICLES_SIMD_AUTO;
}

aw_status aw_particles_set_forces(aw_particles *ps, const aw_particle_forces *forces) {
    if (!ps || !forces) return aw_error(AW_ERR_INVALID_ARG, "particles: system and forces are required");
    aw_status st = check_forces(forces);
    if (st) return st;
    ps->forces = *forces;
    return AW_OK;
}

/* ---------------------------------------------------------------- emitters */

static aw_status check_emitter(const aw_emitter_desc *d) {
    if (!particles_finite3(d->position) || !particles_finite3(d->direction) || !particles_finite3(d->offset))
        return aw_error(AW_ERR_INVALID_ARG, "particles: emitter position, direction and offset must be finite");
    if (!(d->spread >= 0.0f && d->spread <= 3.14159274f))
        return aw_error(AW_ERR_INVALID_ARG, "particles: spread must be in [0, pi] (got %g)", (double)d->spread);
    if (!(d->speed_min >= 0.0f && d->speed_max >= d->speed_min && isfinite(d->speed_max)))
        return aw_error(AW_ERR_INVALID_ARG, "particles: speeds must be finite with 0 <= min <= max (got %g, %g)",
                        (double)d->speed_min, (double)d->speed_max);
    if (!(d->lifetime_min >= 0.0f && d->lifetime_max >= d->lifetime_min && isfinite(d->lifetime_max)))
        return aw_error(AW_ERR_INVALID_ARG,
                        "particles: lifetimes must be finite with 0 <= min <= max (got %g, %g)",
                        (double)d->lifetime_min, (double)d->lifetime_max);
    if (!(d->rate >= 0.0f && isfinite(d->rate)))
        return aw_error(AW_ERR_INVALID_ARG, "particles: rate must be finite and >= 0 (got %g)", (double)d->rate);
    if (!(isfinite(d->size_start) && isfinite(d->size_end) && d->size_start >= 0.0f && d->size_end >= 0.0f))
        return aw_error(AW_ERR_INVALID_ARG, "particles: sizes must be finite and >= 0");
    for (int k = 0; k < 4; k++)
        if (!isfinite(d->color_start[k]) || !isfinite(d->color_end[k]))
            return aw_error(AW_ERR_INVALID_ARG, "particles: colours must be finite");
    return AW_OK;
}

static aw_vec3 normalize3(aw_vec3 v) {
    float len = sqrtf(v.x * v.x + v.y * v.y + v.z * v.z);
    return (aw_vec3){v.x / len, v.y / len, v.z / len};
}

static aw_vec3 cross3(aw_vec3 a, aw_vec3 b) {
    return (aw_vec3){a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}

/* The emitter's cone basis, defaults and RNG key. */
static void emitter_prepare(aw_particles *ps, emitter_slot *e, uint32_t slot) {
    aw_emitter_desc *d = &e->desc;
    aw_vec3 dir = d->direction;
    if (dir.x == 0.0f && dir.y == 0.0f && dir.z == 0.0f) dir = (aw_vec3){0.0f, 1.0f, 0.0f};
    e->dir = normalize3(dir);
    aw_vec3 helper = fabsf(e->dir.y) < 0.999f ? (aw_vec3){0.0f, 1.0f, 0.0f} : (aw_vec3){1.0f, 0.0f, 0.0f};
    e->tangent = normalize3(cross3(helper, e->dir));
    e->bitangent = cross3(e->dir, e->tangent);
    e->cos_spread = cosf(d->spread);
    bool no_color = true;
    for (int k = 0; k < 4; k++) no_color = no_color && d->color_start[k] == 0.0f && d->color_end[k] == 0.0f;
    if (no_color)
        for (int k = 0; k < 4; k++) d->color_start[k] = d->color_end[k] = 1.0f;
    if (d->size_start == 0.0f && d->size_end == 0.0f) d->size_start = d->size_end = 0.1f;
    uint64_t seed = d->seed ? d->seed : aw_hash_combine(aw_hash_u64(ps->seed + 1u), slot);
    e->seed32 = (uint32_t)(seed ^ (seed >> 32));
}

static emitter_slot *emitter_of(aw_particles *ps, aw_emitter h) {
    uint32_t slot = (h & 0xffffu) - 1u, gen = h >> 16;
    if (!ps || h == AW_EMITTER_NULL || slot >= ps->max_emitters) return NULL;
    emitter_slot *e = &ps->emitters[slot];
    return e->used && e->generation == gen ? e : NULL;
}

aw_status aw_particles_emitter_create(aw_particles *ps, const aw_emitter_desc *desc, aw_emitter *out) {
    if (!ps || !desc) return aw_error(AW_ERR_INVALID_ARG, "particles: system and emitter desc are required");
    aw_status st = check_emitter(desc);
    if (st) return st;
    uint32_t slot = 0;
    while (slot < ps->max_emitters && ps->emitters[slot].used) slot++;
    if (slot == ps->max_emitters)
        return aw_error(AW_ERR_CAPACITY, "particles: all %u emitters are in use", ps->max_emitters);
    emitter_slot *e = &ps->emitters[slot];
    uint16_t generation = (uint16_t)(e->generation + 1u);
    if (generation == 0) generation = 1;
    *e = (emitter_slot){.desc = *desc, .generation = generation, .used = true, .active = !desc->inactive};
    emitter_prepare(ps, e, slot);
    ps->emitter_count++;
    if (out) *out = (slot + 1u) | ((uint32_t)generation << 16);
    return AW_OK;
}

aw_status aw_particles_emitter_destroy(aw_particles *ps, aw_emitter emitter) {
    emitter_slot *e = emitter_of(ps, emitter);
    if (!e) return aw_error(AW_ERR_NOT_FOUND, "particles: emitter %#x does not exist", emitter);
    /* Queued bursts of this emitter are dropped; its particles keep their slot's colours. */
    uint32_t slot = (uint32_t)(e - ps->emitters), kept = 0;
    for (uint32_t i = 0; i < ps->burst_count; i++)
        if (ps->bursts[i].emitter != slot) ps->bursts[kept++] = ps->bursts[i];
    ps->burst_count = kept;
    e->used = false;
    e->active = false;
    ps->emitter_count--;
    return AW_OK;
}

aw_status aw_particles_emitter_set_position(aw_particles *ps, aw_emitter emitter, aw_vec3 position) {
    emitter_slot *e = emitter_of(ps, emitter);
    if (!e) return aw_error(AW_ERR_NOT_FOUND, "particles: emitter %#x does not exist", emitter);
    if (!particles_finite3(position)) return aw_error(AW_ERR_INVALID_ARG, "particles: position must be finite");
    e->desc.position = position;
    return AW_OK;
}

aw_status aw_particles_emitter_set_active(aw_particles *ps, aw_emitter emitter, bool active) {
    emitter_slot *e = emitter_of(ps, emitter);
    if (!e) return aw_error(AW_ERR_NOT_FOUND, "particles: emitter %#x does not exist", emitter);
    e->active = active;
    return AW_OK;
}

uint32_t aw_particles_emitter_count(const aw_particles *ps) {
    return ps ? ps->emitter_count : 0;
}

aw_status aw_particles_burst(aw_particles *ps, aw_emitter emitter, uint32_t count, const aw_vec3 *at) {
    emitter_slot *e = emitter_of(ps, emitter);
    if (!e) return aw_error(AW_ERR_NOT_FOUND, "particles: emitter %#x does not exist", emitter);
    if (at && !particles_finite3(*at)) return aw_error(AW_ERR_INVALID_ARG, "particles: burst position must be finite");
    if (ps->burst_count == ps->max_bursts)
        return aw_error(AW_ERR_CAPACITY, "particles: the burst queue is full (%u)", ps->max_bursts);
    ps->bursts[ps->burst_count++] = (burst_request){.emitter = (uint32_t)(e - ps->emitters),
                                                    .count = count ? count : e->desc.burst,
                                                    .at = at ? *at : e->desc.position};
    return AW_OK;
}

aw_status aw_particles_set_spheres(aw_particles *ps, const aw_particle_sphere *spheres, uint32_t count) {
    if (!ps || (count && !spheres)) return aw_error(AW_ERR_INVALID_ARG, "particles: system and spheres are required");
    if (count > ps->max_spheres)
        return aw_error(AW_ERR_CAPACITY, "particles: %u spheres exceed max_spheres %u", count, ps->max_spheres);
    for (uint32_t i = 0; i < count; i++)
        if (!particles_finite3(spheres[i].center) || !isfinite(spheres[i].radius) || !(spheres[i].radius > 0.0f))
            return aw_error(AW_ERR_INVALID_ARG, "particles: sphere %u is not finite or has radius <= 0", i);
    if (count) memcpy(ps->spheres, spheres, (size_t)count * sizeof *spheres);
    ps->sphere_count = count;
    ps->spheres_dropped = 0;
    return AW_OK;
}

/* ---------------------------------------------------------------- stepping */

aw_status aw_particles_step(aw_particles *ps, float dt) {
    if (!ps) return aw_error(AW_ERR_INVALID_ARG, "particles: system is NULL");
    if (!isfinite(dt) || dt < 0.0f) return aw_error(AW_ERR_INVALID_ARG, "particles: dt must be finite and >= 0");
    AW_PROFILE_ZONE_BEGIN_CAT(zone, "particles", "particles_step");
    uint64_t t0 = aw_time_ns();
    uint64_t emitted_before = ps->stats.total_emitted;
    ps->stats.died = 0;
    ps->stats.refused = 0;
    aw_status st;
    if (ps->backend == AW_PARTICLES_GPU) {
        st = particles_gpu_step(ps, dt);
    } else {
        AW_PROFILE_ZONE_BEGIN_CAT(emit_zone, "particles", "particles_emit");
        st = particles_emit(ps, dt);
        AW_PROFILE_ZONE_END(emit_zone);
        uint64_t t1 = aw_time_ns();
        ps->stats.emit_ns = t1 - t0;
        sim_params params = particles_sim_params(ps, dt);
        AW_PROFILE_ZONE_BEGIN_CAT(sim_zone, "particles", "particles_simulate");
        if (!st) st = particles_simulate_cpu(ps, &params);
        if (!st && ++ps->steps_since_sort >= PARTICLE_SORT_EVERY) {
            ps->steps_since_sort = 0;
            AW_PROFILE_ZONE_BEGIN_CAT(sort_zone, "particles", "particles_sort");
            st = particles_sort_by_cell(ps);
            AW_PROFILE_ZONE_END(sort_zone);
        }
        AW_PROFILE_ZONE_END(sim_zone);
        ps->stats.simulate_ns = aw_time_ns() - t1;
    }
    ps->stats.emitted = (uint32_t)(ps->stats.total_emitted - emitted_before);
    ps->stats.step_ns = aw_time_ns() - t0;
    ps->stats.steps++;
    ps->stats.emit_rate = dt > 0.0f ? (double)ps->stats.emitted / (double)dt : 0.0;
    ps->stats.live = ps->live;
    ps->stats.dead = ps->capacity - ps->live;
    AW_PROFILE_COUNTER("particles.live", (double)ps->live);
    AW_PROFILE_COUNTER("particles.dead", (double)(ps->capacity - ps->live));
    AW_PROFILE_COUNTER("particles.emit_rate", ps->stats.emit_rate);
    AW_PROFILE_COUNTER("particles.step_us", (double)ps->stats.step_ns * 1e-3);
    AW_PROFILE_ZONE_END(zone);
    return st;
}

aw_particles_stats aw_particles_get_stats(const aw_particles *ps) {
    if (!ps) return (aw_particles_stats){0};
    aw_particles_stats s = ps->stats;
    s.emitters = ps->emitter_count;
    s.spheres = ps->sphere_count;
    s.spheres_dropped = ps->spheres_dropped;
    s.live = ps->live;
    s.dead = ps->capacity - ps->live;
    return s;
}

/* ---------------------------------------------------------------- read-out */

static int by_id(const void *a, const void *b) {
    uint32_t x = ((const aw_particle *)a)->id, y = ((const aw_particle *)b)->id;
    return (x > y) - (x < y);
}

aw_status aw_particles_read(aw_particles *ps, aw_particle *out, uint32_t capacity, uint32_t *count) {
    if (!ps || (capacity && !out)) return aw_error(AW_ERR_INVALID_ARG, "particles: system and output are required");
    if (ps->backend == AW_PARTICLES_GPU) {
        aw_status st = particles_gpu_read_back(ps);
        if (st) return st;
    }
    const particle_soa *s = &ps->soa;
    uint32_t n = 0;
    for (uint32_t i = 0; i < ps->high_water; i++) {
        if (!(s->age[i] < s->life[i])) continue;
        if (n < capacity) {
            const aw_emitter_desc *d = &ps->emitters[s->emitter[i]].desc;
            float t = s->age[i] / s->life[i];
            aw_particle *p = &out[n];
            *p = (aw_particle){.position = {s->px[i], s->py[i], s->pz[i]},
                               .velocity = {s->vx[i], s->vy[i], s->vz[i]},
                               .age = s->age[i],
                               .lifetime = s->life[i],
                               .size = d->size_start + (d->size_end - d->size_start) * t,
                               .id = s->id[i],
                               .emitter = (s->emitter[i] + 1u) |
                                          ((uint32_t)ps->emitters[s->emitter[i]].generation << 16)};
            for (int k = 0; k < 4; k++) p->color[k] = d->color_start[k] + (d->color_end[k] - d->color_start[k]) * t;
        }
        n++;
    }
    if (out && n && capacity) qsort(out, n < capacity ? n : capacity, sizeof *out, by_id);
    if (count) *count = n;
    return AW_OK;
}

/* Walks ids in order without a sort buffer: live particles hashed by (id, state) and combined with
 * a commutative sum of per-particle hashes, so slot order (which differs between paths) is moot. */
uint64_t aw_particles_hash(aw_particles *ps) {
    if (!ps) return 0;
    if (ps->backend == AW_PARTICLES_GPU && particles_gpu_read_back(ps)) return 0;
    const particle_soa *s = &ps->soa;
    uint64_t sum = 0, count = 0;
    for (uint32_t i = 0; i < ps->high_water; i++) {
        if (!(s->age[i] < s->life[i])) continue;
        float v[8] = {s->px[i], s->py[i], s->pz[i], s->vx[i], s->vy[i], s->vz[i], s->age[i], s->life[i]};
        sum += aw_hash_bytes(v, sizeof v, s->id[i]);
        count++;
    }
    return aw_hash_combine(sum, count);
}
