/* The per-step grid of collision spheres over the ground plane (x, z): counts, prefix sums and
 * sphere indices in ascending order per cell, plus every sphere's box, into storage made at
 * creation. */
#include "particles/particles_internal.h"

#include <string.h>

size_t particles_grid_items_capacity(uint32_t max_spheres) {
    return (size_t)max_spheres * 9u + 1u;
}

/* Cell range of [lo, hi] on one axis, clamped to the grid (a sphere spans at most three cells). */
static void span(float lo, float hi, float min, float inv, int32_t side, int32_t *a, int32_t *b) {
    int32_t x0 = (int32_t)((lo - min) * inv), x1 = (int32_t)((hi - min) * inv);
    if (x0 < 0) x0 = 0;
    if (x1 > side - 1) x1 = side - 1;
    if (x1 > x0 + 2) x1 = x0 + 2; /* rounding can never widen a span past two cell sizes */
    *a = x0, *b = x1;
}

void particles_grid_build(aw_particles *ps) {
    sphere_grid *g = &ps->grid;
    g->spheres = ps->spheres;
    g->sphere_count = ps->sphere_count;
    g->w = g->h = 0;
    uint32_t n = ps->sphere_count;
    if (!n) return;
    for (uint32_t i = 0; i < n; i++) {
        const aw_particle_sphere *s = &ps->spheres[i];
        g->box_lo_x[i] = s->center.x - s->radius, g->box_hi_x[i] = s->center.x + s->radius;
        g->box_lo_y[i] = s->center.y - s->radius, g->box_hi_y[i] = s->center.y + s->radius;
        g->box_lo_z[i] = s->center.z - s->radius, g->box_hi_z[i] = s->center.z + s->radius;
    }
    float min_x = INFINITY, min_z = INFINITY, max_x = -INFINITY, max_z = -INFINITY, max_r = 0.0f;
    g->min_y = INFINITY, g->max_y = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        const aw_particle_sphere *s = &ps->spheres[i];
        min_x = fminf(min_x, s->center.x - s->radius), max_x = fmaxf(max_x, s->center.x + s->radius);
        min_z = fminf(min_z, s->center.z - s->radius), max_z = fmaxf(max_z, s->center.z + s->radius);
        max_r = fmaxf(max_r, s->radius);
        g->min_y = fminf(g->min_y, s->center.y - s->radius), g->max_y = fmaxf(g->max_y, s->center.y + s->radius);
    }
    /* A cell as wide as the largest sphere's radius (a bit more, so rounding never makes a sphere
     * span four cells): small cells keep particles beside a sphere out of its cells. Widened when
     * the grid would exceed 256 cells a side. */
    float cell = max_r * 1.001f;
    float side = (float)(SPHERE_GRID_MAX_SIDE - 1u);
    if ((max_x - min_x) / cell > side) cell = (max_x - min_x) / side * 1.001f;
    if ((max_z - min_z) / cell > side) cell = (max_z - min_z) / side * 1.001f;
    g->min_x = min_x, g->min_z = min_z;
    g->inv_cell = 1.0f / cell;
    g->w = (int32_t)((max_x - min_x) * g->inv_cell) + 1;
    g->h = (int32_t)((max_z - min_z) * g->inv_cell) + 1;
    if (g->w > (int32_t)SPHERE_GRID_MAX_SIDE) g->w = SPHERE_GRID_MAX_SIDE;
    if (g->h > (int32_t)SPHERE_GRID_MAX_SIDE) g->h = SPHERE_GRID_MAX_SIDE;
    size_t cells = (size_t)g->w * (size_t)g->h;
    memset(g->cell_count, 0, cells * sizeof(uint32_t));
    for (size_t c = 0; c < cells; c++) g->cell_min_y[c] = INFINITY, g->cell_max_y[c] = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        const aw_particle_sphere *s = &ps->spheres[i];
        int32_t x0, x1, z0, z1;
        span(s->center.x - s->radius, s->center.x + s->radius, g->min_x, g->inv_cell, g->w, &x0, &x1);
        span(s->center.z - s->radius, s->center.z + s->radius, g->min_z, g->inv_cell, g->h, &z0, &z1);
        for (int32_t z = z0; z <= z1; z++)
            for (int32_t x = x0; x <= x1; x++) {
                size_t c = (size_t)z * (size_t)g->w + (size_t)x;
                g->cell_count[c]++;
                g->cell_min_y[c] = fminf(g->cell_min_y[c], s->center.y - s->radius);
                g->cell_max_y[c] = fmaxf(g->cell_max_y[c], s->center.y + s->radius);
            }
    }
    uint32_t sum = 0;
    for (size_t c = 0; c < cells; c++) {
        g->cell_start[c] = sum;
        sum += g->cell_count[c];
        g->cell_count[c] = 0; /* refilled below as the insertion cursor */
    }
    for (uint32_t i = 0; i < n; i++) {
        const aw_particle_sphere *s = &ps->spheres[i];
        int32_t x0, x1, z0, z1;
        span(s->center.x - s->radius, s->center.x + s->radius, g->min_x, g->inv_cell, g->w, &x0, &x1);
        span(s->center.z - s->radius, s->center.z + s->radius, g->min_z, g->inv_cell, g->h, &z0, &z1);
        for (int32_t z = z0; z <= z1; z++)
            for (int32_t x = x0; x <= x1; x++) {
                size_t c = (size_t)z * (size_t)g->w + (size_t)x;
                g->items[g->cell_start[c] + g->cell_count[c]++] = i;
            }
    }
}
