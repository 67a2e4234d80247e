/* Spatial order for the CPU path's slots: every few steps the live particles are packed to the
 * front of the SoA in sphere-grid cell order, so a block holds neighbours and its sphere cull keeps
 * working however long recycling has mixed the slots. A stable counting sort split over the job
 * system: per-chunk bucket counts, prefix sums in (bucket, chunk) order, per-chunk scatter. */
#include "particles/particles_internal.h"

#include <string.h>

/* A slot that holds no live particle: its key and destination both read this. */
#define SORT_DEAD UINT32_MAX

typedef struct sort_job {
    aw_particles *ps;
    uint32_t *key;      /* per slot: the bucket, then the destination slot */
    uint32_t *hist;     /* per chunk: SORT_BUCKETS_MAX + 1 counters, then write cursors */
    uint32_t buckets;   /* sort cells + 1 (the last for particles outside the grid) */
    uint32_t shift, sort_w; /* sort cell = grid cell coarsened by 2^shift on each axis */
    uint32_t chunk_slots;   /* slots per chunk (a multiple of PARTICLE_BLOCK) */
    uint32_t chunks;
    uint32_t dirty;         /* the spare's slots [live, dirty) may hold stale particles */
} sort_job;

/* The bucket a particle sorts into: the sphere grid's own floor formula, coarsened, one bucket past
 * the last for particles outside the grid. Pure float operations on the particle, so the order is
 * the same for every thread count and kernel. */
static uint32_t sort_key(const sphere_grid *g, const sort_job *job, float x, float z) {
    float fx = (x - g->min_x) * g->inv_cell, fz = (z - g->min_z) * g->inv_cell;
    if (!(fx >= 0.0f) || !(fx < (float)g->w) || !(fz >= 0.0f) || !(fz < (float)g->h)) return job->buckets - 1u;
    return ((uint32_t)fx >> job->shift) + ((uint32_t)fz >> job->shift) * job->sort_w;
}

static void chunk_slots(const sort_job *job, uint32_t chunk, uint32_t *lo, uint32_t *hi) {
    uint32_t high = job->ps->high_water;
    *lo = chunk * job->chunk_slots;
    *hi = *lo + job->chunk_slots < high ? *lo + job->chunk_slots : high;
}

/* Pass 1: each chunk's keys and bucket counts. */
static void count_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)worker;
    const sort_job *job = ctx;
    const particle_soa *s = &job->ps->soa;
    const sphere_grid *g = &job->ps->grid;
    for (uint32_t c = begin; c < end; c++) {
        uint32_t *hist = job->hist + (size_t)c * (SORT_BUCKETS_MAX + 1u), lo, hi;
        memset(hist, 0, job->buckets * sizeof(uint32_t));
        chunk_slots(job, c, &lo, &hi);
        for (uint32_t i = lo; i < hi; i++) {
            uint32_t k = s->age[i] < s->life[i] ? sort_key(g, job, s->px[i], s->pz[i]) : SORT_DEAD;
            job->key[i] = k;
            if (k != SORT_DEAD) hist[k]++;
        }
    }
}

/* One array's scatter over a chunk: one array at a time keeps the open write streams (one per
 * bucket) few enough for the caches and the TLB. */
static void scatter_f32(const uint32_t *restrict dest, const float *restrict src, float *restrict dst, uint32_t lo,
                        uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++)
        if (dest[i] != SORT_DEAD) dst[dest[i]] = src[i];
}

static void scatter_u32(const uint32_t *restrict dest, const uint32_t *restrict src, uint32_t *restrict dst,
                        uint32_t lo, uint32_t hi) {
    for (uint32_t i = lo; i < hi; i++)
        if (dest[i] != SORT_DEAD) dst[dest[i]] = src[i];
}

/* Pass 3: each chunk turns its keys into destinations (slot order within a bucket: stable) and
 * copies its particles; it also clears its share of the spare's stale tail. */
static void scatter_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)worker;
    const sort_job *job = ctx;
    const aw_particles *ps = job->ps;
    const particle_soa *s = &ps->soa, *d = &ps->spare;
    for (uint32_t c = begin; c < end; c++) {
        uint32_t *cursor = job->hist + (size_t)c * (SORT_BUCKETS_MAX + 1u), lo, hi;
        chunk_slots(job, c, &lo, &hi);
        for (uint32_t i = lo; i < hi; i++)
            if (job->key[i] != SORT_DEAD) job->key[i] = cursor[job->key[i]]++;
        const float *src[] = {s->px, s->py, s->pz, s->vx, s->vy, s->vz, s->age, s->life};
        float *dst[] = {d->px, d->py, d->pz, d->vx, d->vy, d->vz, d->age, d->life};
        for (size_t a = 0; a < sizeof src / sizeof src[0]; a++) scatter_f32(job->key, src[a], dst[a], lo, hi);
        scatter_u32(job->key, s->id, d->id, lo, hi);
        scatter_u32(job->key, s->emitter, d->emitter, lo, hi);
        /* The spare's old contents past the live particles must read as free slots. */
        uint32_t clear_lo = lo > ps->live ? lo : ps->live;
        uint32_t clear_hi = c + 1u == job->chunks || hi > job->dirty ? job->dirty : hi; /* the last takes the rest */
        if (clear_hi > clear_lo) {
            memset(d->age + clear_lo, 0, (size_t)(clear_hi - clear_lo) * sizeof(float));
            memset(d->life + clear_lo, 0, (size_t)(clear_hi - clear_lo) * sizeof(float));
        }
    }
}

uint32_t particles_sort_chunks(uint32_t block_count) {
    return block_count < PARTICLE_SORT_CHUNKS ? (block_count ? block_count : 1u) : PARTICLE_SORT_CHUNKS;
}

aw_status particles_sort_by_cell(aw_particles *ps) {
    const sphere_grid *g = &ps->grid;
    if (!g->w || ps->live == 0) return AW_OK;
    sort_job job = {.ps = ps, .key = ps->dead_slots, .hist = ps->sort_hist};
    /* Coarsen until the buckets fit the counters made at creation. */
    uint32_t sw = (uint32_t)g->w, sh = (uint32_t)g->h;
    while (sw * sh > SORT_BUCKETS_MAX) {
        job.shift++;
        sw = ((uint32_t)g->w + (1u << job.shift) - 1u) >> job.shift;
        sh = ((uint32_t)g->h + (1u << job.shift) - 1u) >> job.shift;
    }
    job.sort_w = sw;
    job.buckets = sw * sh + 1u;
    /* Chunks cover whole blocks; how many depends on the capacity only. Any split gives the same
     * stable order. */
    uint32_t blocks = (ps->high_water + PARTICLE_BLOCK - 1u) / PARTICLE_BLOCK;
    uint32_t max_chunks = particles_sort_chunks(ps->block_count);
    uint32_t chunk_blocks = (blocks + max_chunks - 1u) / max_chunks;
    job.chunk_slots = chunk_blocks * PARTICLE_BLOCK;
    uint32_t chunks = job.chunks = (blocks + chunk_blocks - 1u) / chunk_blocks;
    job.dirty = ps->spare_high_water > ps->high_water ? ps->spare_high_water : ps->high_water;

    aw_status st = ps->jobs ? aw_jobs_parallel_for(ps->jobs, chunks, 1, count_range, &job)
                            : (count_range(0, chunks, 0, &job), AW_OK);
    if (st) return st;
    /* Pass 2: bucket b of chunk c starts after every earlier bucket and after bucket b of every
     * earlier chunk. */
    uint32_t sum = 0;
    for (uint32_t b = 0; b < job.buckets; b++)
        for (uint32_t c = 0; c < chunks; c++) {
            uint32_t *h = job.hist + (size_t)c * (SORT_BUCKETS_MAX + 1u) + b, n = *h;
            *h = sum;
            sum += n;
        }
    st = ps->jobs ? aw_jobs_parallel_for(ps->jobs, chunks, 1, scatter_range, &job)
                  : (scatter_range(0, chunks, 0, &job), AW_OK);
    if (st) return st;

    particle_soa t = ps->soa;
    ps->soa = ps->spare;
    ps->spare = t;
    void *tb = ps->soa_block;
    ps->soa_block = ps->spare_block;
    ps->spare_block = tb;
    ps->spare_high_water = ps->high_water;
    ps->high_water = ps->live; /* every free slot is now past the live ones */
    ps->free_count = 0;
    return AW_OK;
}
