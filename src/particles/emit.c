/* Emission: continuous emitters in slot order, then queued bursts in call order, each particle's
 * start drawn from its emitter's counter-based RNG (key, sequence), so both paths agree. */
#include "particles/particles_internal.h"

#define TWO_PI 6.28318530717958647692f

/* The cone sample, speed and lifetime of particle `sequence` of emitter e, born at `at`. */
particle_spawn particles_spawn_state(const emitter_slot *e, aw_vec3 at, uint32_t sequence) {
    const aw_emitter_desc *d = &e->desc;
    float u0 = particle_random(e->seed32, sequence, 0), u1 = particle_random(e->seed32, sequence, 1);
    float u2 = particle_random(e->seed32, sequence, 2), u3 = particle_random(e->seed32, sequence, 3);
    float cos_t = 1.0f - u0 * (1.0f - e->cos_spread);
    float sin_t = sqrtf(fmaxf(0.0f, 1.0f - cos_t * cos_t));
    float phi = TWO_PI * u1;
    float lx = sin_t * cosf(phi), ly = cos_t, lz = sin_t * sinf(phi);
    float speed = d->speed_min + (d->speed_max - d->speed_min) * u2;
    float life = d->lifetime_min + (d->lifetime_max - d->lifetime_min) * u3;
    return (particle_spawn){
        .px = at.x,
        .py = at.y,
        .pz = at.z,
        .vx = (e->tangent.x * lx + e->dir.x * ly + e->bitangent.x * lz) * speed,
        .vy = (e->tangent.y * lx + e->dir.y * ly + e->bitangent.y * lz) * speed,
        .vz = (e->tangent.z * lx + e->dir.z * ly + e->bitangent.z * lz) * speed,
        .life = life,
    };
}

/* Never-used slots first: after a cell sort they follow the live particles, so particles born
 * together fill blocks of their own instead of widening the sorted blocks' bounds. */
static uint32_t take_slot(aw_particles *ps) {
    if (ps->high_water < ps->capacity) return ps->high_water++;
    return ps->free_slots[--ps->free_count];
}

/* Emits up to `count` particles of emitter `slot` at `at`; the rest are refused (no free slot).
 * On the GPU path only the lifetimes are drawn here (to know which particles take a slot); the
 * emit kernel draws the rest from the same (key, sequence). */
static void emit_run(aw_particles *ps, uint32_t slot, aw_vec3 at, uint32_t count) {
    emitter_slot *e = &ps->emitters[slot];
    uint32_t room = ps->capacity - ps->live;
    uint32_t take = count < room ? count : room;
    ps->stats.refused += count - take;
    bool gpu = ps->backend == AW_PARTICLES_GPU;
    if (gpu && take) particles_gpu_add_run(ps, slot, at, take, e->sequence, ps->next_id);
    particle_soa *s = &ps->soa;
    const aw_emitter_desc *d = &e->desc;
    for (uint32_t k = 0; k < take; k++) {
        uint32_t sequence = e->sequence++, id = ps->next_id++;
        ps->stats.total_emitted++;
        if (gpu) {
            float life = d->lifetime_min + (d->lifetime_max - d->lifetime_min) * particle_random(e->seed32, sequence, 3);
            if (life > 0.0f)
                ps->live++;
            else
                ps->stats.died++;
            continue;
        }
        particle_spawn p = particles_spawn_state(e, at, sequence);
        if (!(p.life > 0.0f)) { /* a zero lifetime lives no step: emitted and dead at once */
            ps->stats.died++;
            continue;
        }
        uint32_t i = take_slot(ps);
        s->px[i] = p.px, s->py[i] = p.py, s->pz[i] = p.pz;
        s->vx[i] = p.vx, s->vy[i] = p.vy, s->vz[i] = p.vz;
        s->age[i] = 0.0f;
        s->life[i] = p.life;
        s->id[i] = id;
        s->emitter[i] = slot;
        ps->live++;
    }
}

/* The number of continuous particles emitter e owes for dt, keeping the fraction for later. */
static uint32_t continuous_count(emitter_slot *e, float dt) {
    if (!e->active || e->desc.rate <= 0.0f) return 0;
    double due = (double)e->carry + (double)e->desc.rate * (double)dt;
    double whole = floor(due);
    if (whole > 4294967295.0) whole = 4294967295.0;
    e->carry = (float)(due - whole);
    return (uint32_t)whole;
}

void particles_emit(aw_particles *ps, float dt) {
    for (uint32_t slot = 0; slot < ps->max_emitters; slot++) {
        emitter_slot *e = &ps->emitters[slot];
        if (!e->used) continue;
        uint32_t n = continuous_count(e, dt);
        if (n) emit_run(ps, slot, e->desc.position, n);
    }
    for (uint32_t b = 0; b < ps->burst_count; b++)
        emit_run(ps, ps->bursts[b].emitter, ps->bursts[b].at, ps->bursts[b].count);
    ps->burst_count = 0;
}
