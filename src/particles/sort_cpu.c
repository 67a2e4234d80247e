/* Spatial order for the CPU path's slots: every few steps the live particles are packed to the
 * front of the SoA in sphere-grid cell order, so a block holds neighbours and its sphere cull keeps
 * working however long recycling has mixed the slots. */
#include "particles/particles_internal.h"

#include <string.h>

/* The cell a particle sorts into: the sphere grid's own floor formula, one bucket past the last
 * cell for particles outside the grid. Pure float operations on the particle, so the order is the
 * same for every thread count and kernel. */
static uint32_t sort_key(const sphere_grid *g, float x, float z) {
    float fx = (x - g->min_x) * g->inv_cell, fz = (z - g->min_z) * g->inv_cell;
    uint32_t outside = (uint32_t)g->w * (uint32_t)g->h;
    if (!(fx >= 0.0f) || !(fx < (float)g->w) || !(fz >= 0.0f) || !(fz < (float)g->h)) return outside;
    return (uint32_t)fx + (uint32_t)fz * (uint32_t)g->w;
}

void particles_sort_by_cell(aw_particles *ps) {
    const sphere_grid *g = &ps->grid;
    if (!g->w || ps->live == 0) return;
    const particle_soa *s = &ps->soa;
    particle_soa *d = &ps->spare;
    uint32_t buckets = (uint32_t)g->w * (uint32_t)g->h + 1u, *start = ps->sort_start;
    memset(start, 0, (size_t)buckets * sizeof(uint32_t));
    for (uint32_t i = 0; i < ps->high_water; i++)
        if (s->age[i] < s->life[i]) start[sort_key(g, s->px[i], s->pz[i])]++;
    for (uint32_t b = 0, sum = 0; b < buckets; b++) {
        uint32_t n = start[b];
        start[b] = sum;
        sum += n;
    }
    /* Stable: within a cell, slot order. */
    for (uint32_t i = 0; i < ps->high_water; i++) {
        if (!(s->age[i] < s->life[i])) continue;
        uint32_t j = start[sort_key(g, s->px[i], s->pz[i])]++;
        d->px[j] = s->px[i], d->py[j] = s->py[i], d->pz[j] = s->pz[i];
        d->vx[j] = s->vx[i], d->vy[j] = s->vy[i], d->vz[j] = s->vz[i];
        d->age[j] = s->age[i], d->life[j] = s->life[i];
        d->id[j] = s->id[i], d->emitter[j] = s->emitter[i];
    }
    /* The spare's old contents past the live particles must read as free slots. */
    uint32_t dirty = ps->spare_high_water > ps->high_water ? ps->spare_high_water : ps->high_water;
    if (dirty > ps->live) {
        memset(d->age + ps->live, 0, (size_t)(dirty - ps->live) * sizeof(float));
        memset(d->life + ps->live, 0, (size_t)(dirty - ps->live) * sizeof(float));
    }
    particle_soa t = ps->soa;
    ps->soa = ps->spare;
    ps->spare = t;
    void *tb = ps->soa_block;
    ps->soa_block = ps->spare_block;
    ps->spare_block = tb;
    ps->spare_high_water = ps->high_water;
    ps->high_water = ps->live; /* every free slot is now past the live ones */
    ps->free_count = 0;
}
