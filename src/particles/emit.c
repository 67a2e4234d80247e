/* Emission: continuous emitters in slot order, then queued bursts in call order, each particle's
 * start drawn from its emitter's counter-based RNG (key, sequence), so both paths agree. Slots are
 * taken in that order on one thread; the starts are drawn and written over the job system. */
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

static void write_particle(particle_soa *s, uint32_t i, const particle_spawn *p, uint32_t id, uint32_t emitter) {
    s->px[i] = p->px, s->py[i] = p->py, s->pz[i] = p->pz;
    s->vx[i] = p->vx, s->vy[i] = p->vy, s->vz[i] = p->vz;
    s->age[i] = 0.0f;
    s->life[i] = p->life;
    s->id[i] = id;
    s->emitter[i] = emitter;
}

/* Emits up to `count` particles of emitter `slot` at `at`; the rest are refused (no free slot).
 * On the GPU path only the lifetimes are drawn here (to know which particles take a slot); the
 * emit kernel draws the rest from the same (key, sequence). On the CPU path a run whose lifetimes
 * are all positive only takes its slots here (in order, so the same slots for any thread count)
 * and is recorded for particles_emit's parallel pass; a run that may draw zero lifetimes is
 * written at once. */
static void emit_run(aw_particles *ps, uint32_t slot, aw_vec3 at, uint32_t count) {
    emitter_slot *e = &ps->emitters[slot];
    uint32_t room = ps->capacity - ps->live;
    uint32_t take = count < room ? count : room;
    ps->stats.refused += count - take;
    if (!take) return;
    const aw_emitter_desc *d = &e->desc;
    if (ps->backend == AW_PARTICLES_GPU) {
        particles_gpu_add_run(ps, slot, at, take, e->sequence, ps->next_id);
        for (uint32_t k = 0; k < take; k++) {
            float life = d->lifetime_min + (d->lifetime_max - d->lifetime_min) * particle_random(e->seed32, e->sequence++, 3);
            if (life > 0.0f)
                ps->live++;
            else
                ps->stats.died++;
        }
        ps->next_id += take;
        ps->stats.total_emitted += take;
        return;
    }
    if (d->lifetime_min > 0.0f) {
        emit_plan *run = &ps->emit_runs[ps->emit_run_count++];
        *run = (emit_plan){.emitter = slot, .at = at, .first_sequence = e->sequence, .first_id = ps->next_id,
                           .first = ps->emit_planned, .count = take};
        for (uint32_t k = 0; k < take; k++) ps->emit_slots[ps->emit_planned + k] = take_slot(ps);
        ps->emit_planned += take;
        e->sequence += take;
        ps->next_id += take;
        ps->live += take;
        ps->stats.total_emitted += take;
        return;
    }
    for (uint32_t k = 0; k < take; k++) {
        uint32_t sequence = e->sequence++, id = ps->next_id++;
        ps->stats.total_emitted++;
        particle_spawn p = particles_spawn_state(e, at, sequence);
        if (!(p.life > 0.0f)) { /* a zero lifetime lives no step: emitted and dead at once */
            ps->stats.died++;
            continue;
        }
        write_particle(&ps->soa, take_slot(ps), &p, id, slot);
        ps->live++;
    }
}

/* Planned particles [begin, end): each finds its run (runs are in plan order) and draws its start. */
static void spawn_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)worker;
    aw_particles *ps = ctx;
    uint32_t lo = 0, hi = ps->emit_run_count - 1u; /* the last run with first <= begin */
    while (lo < hi) {
        uint32_t mid = (lo + hi + 1u) / 2u;
        if (ps->emit_runs[mid].first <= begin)
            lo = mid;
        else
            hi = mid - 1u;
    }
    for (uint32_t r = lo, i = begin; i < end; r++) {
        const emit_plan *run = &ps->emit_runs[r];
        const emitter_slot *e = &ps->emitters[run->emitter];
        for (uint32_t k = i - run->first; k < run->count && i < end; k++, i++) {
            particle_spawn p = particles_spawn_state(e, run->at, run->first_sequence + k);
            write_particle(&ps->soa, ps->emit_slots[i], &p, run->first_id + k, run->emitter);
        }
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

aw_status particles_emit(aw_particles *ps, float dt) {
    ps->emit_run_count = 0;
    ps->emit_planned = 0;
    for (uint32_t slot = 0; slot < ps->max_emitters; slot++) {
        emitter_slot *e = &ps->emitters[slot];
        if (!e->used) continue;
        uint32_t n = continuous_count(e, dt);
        if (n) emit_run(ps, slot, e->desc.position, n);
    }
    for (uint32_t b = 0; b < ps->burst_count; b++)
        emit_run(ps, ps->bursts[b].emitter, ps->bursts[b].at, ps->bursts[b].count);
    ps->burst_count = 0;
    if (!ps->emit_planned) return AW_OK;
    if (!ps->jobs) {
        spawn_range(0, ps->emit_planned, 0, ps);
        return AW_OK;
    }
    return aw_jobs_parallel_for(ps->jobs, ps->emit_planned, EMIT_GRAIN, spawn_range, ps);
}
