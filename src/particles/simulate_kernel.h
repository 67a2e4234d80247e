/* One instance of the CPU particle kernel (included by simulate_cpu.c once per SIMD level, no
 * include guard): the includer defines KERNEL_NAME(x) (a suffixed name), KERNEL_ATTR (target and
 * optimisation attributes), KERNEL_LOOP (a loop pragma, or nothing) and the level's
 * KERNEL_NAME(halve), KERNEL_NAME(candidates) and KERNEL_NAME(collide) functions before each
 * inclusion. */

/* Forces, integration, ground and ageing for one block, and the bounds of each SUB_BLOCK slots'
 * particles that live on (empty, lo > hi, when none does) from the same registers, in 16 lanes
 * that KERNEL_NAME(halve) reduces; returns its deaths. Branch-free: every condition is a select,
 * so the inner loop vectorizes. */
static KERNEL_ATTR uint32_t KERNEL_NAME(integrate)(const sim_params *p, float *restrict px, float *restrict py,
                                                   float *restrict pz, float *restrict vx, float *restrict vy,
                                                   float *restrict vz, float *restrict age, float *restrict life,
                                                   float sub_lo[][3], float sub_hi[][3]) {
    const float dt = p->dt, gx = p->gx, gy = p->gy, gz = p->gz, k = p->drag_k;
    const float wx = p->wx, wy = p->wy, wz = p->wz, ground_y = p->ground ? p->ground_y : -INFINITY;
    const float e = p->restitution, f = p->friction;
    uint32_t deaths = 0;
    for (uint32_t sb = 0; sb < PARTICLE_BLOCK / SUB_BLOCK; sb++) {
        float lo[3][16], hi[3][16];
        for (uint32_t a = 0; a < 3; a++)
            for (uint32_t j = 0; j < 16; j++) lo[a][j] = INFINITY, hi[a][j] = -INFINITY;
        KERNEL_LOOP
        for (uint32_t i0 = sb * SUB_BLOCK; i0 < (sb + 1u) * SUB_BLOCK; i0 += 16) {
            KERNEL_LOOP
            for (uint32_t j = 0; j < 16; j++) {
                uint32_t i = i0 + j;
                float a = age[i], l = life[i];
                int alive = a < l;
                float nvx = vx[i] + gx + k * (wx - vx[i]);
                float nvy = vy[i] + gy + k * (wy - vy[i]);
                float nvz = vz[i] + gz + k * (wz - vz[i]);
                float npx = px[i] + nvx * dt, npy = py[i] + nvy * dt, npz = pz[i] + nvz * dt;
                int below = npy < ground_y;
                float bounce_vy = nvy < 0.0f ? -nvy * e : nvy;
                npy = below ? ground_y : npy;
                nvy = below ? bounce_vy : nvy;
                nvx = below ? nvx * f : nvx;
                nvz = below ? nvz * f : nvz;
                float na = a + dt;
                int dies = alive & (na >= l);
                int keep = alive & (na < l);
                deaths += (uint32_t)dies;
                px[i] = alive ? npx : px[i];
                py[i] = alive ? npy : py[i];
                pz[i] = alive ? npz : pz[i];
                vx[i] = alive ? nvx : vx[i];
                vy[i] = alive ? nvy : vy[i];
                vz[i] = alive ? nvz : vz[i];
                age[i] = alive ? na : a;
                life[i] = dies ? -1.0f : l; /* marked for the free list */
                float bx = keep ? npx : INFINITY, by = keep ? npy : INFINITY, bz = keep ? npz : INFINITY;
                lo[0][j] = bx < lo[0][j] ? bx : lo[0][j];
                lo[1][j] = by < lo[1][j] ? by : lo[1][j];
                lo[2][j] = bz < lo[2][j] ? bz : lo[2][j];
                bx = keep ? npx : -INFINITY, by = keep ? npy : -INFINITY, bz = keep ? npz : -INFINITY;
                hi[0][j] = bx > hi[0][j] ? bx : hi[0][j];
                hi[1][j] = by > hi[1][j] ? by : hi[1][j];
                hi[2][j] = bz > hi[2][j] ? bz : hi[2][j];
            }
        }
        KERNEL_NAME(halve)(lo, hi, sub_lo[sb], sub_hi[sb]);
    }
    return deaths;
}

/* One sphere against `count` (a multiple of 16) live particles, branch-free within 16 slots
 * (vectorizes): the same operations as particles_collide_cell, so a particle gets the same bits
 * either way. Most particles near a sphere's box miss the sphere itself: 16 slots without a hit
 * skip the square root, the division and the stores. */
static KERNEL_ATTR void KERNEL_NAME(sphere)(const sim_params *p, aw_particle_sphere s, float *restrict px,
                                            float *restrict py, float *restrict pz, float *restrict vx,
                                            float *restrict vy, float *restrict vz, const float *restrict age,
                                            const float *restrict life, uint32_t count) {
    const float cx = s.center.x, cy = s.center.y, cz = s.center.z, r = s.radius, r2 = r * r;
    const float e = p->restitution, f = p->friction;
    for (uint32_t i0 = 0; i0 < count; i0 += 16) {
        int any = 0;
        KERNEL_LOOP
        for (uint32_t i = i0; i < i0 + 16; i++) {
            float dx = px[i] - cx, dy = py[i] - cy, dz = pz[i] - cz;
            float d2 = dx * dx + dy * dy + dz * dz;
            any |= (age[i] < life[i]) & (d2 < r2) & (d2 > 1e-12f);
        }
        if (!any) continue;
        KERNEL_LOOP
        for (uint32_t i = i0; i < i0 + 16; i++) {
            float dx = px[i] - cx, dy = py[i] - cy, dz = pz[i] - cz;
            float d2 = dx * dx + dy * dy + dz * dz;
            int hit = (age[i] < life[i]) & (d2 < r2) & (d2 > 1e-12f);
            float inv = 1.0f / sqrtf(hit ? d2 : 1.0f);
            float nx = dx * inv, ny = dy * inv, nz = dz * inv;
            float vn = vx[i] * nx + vy[i] * ny + vz[i] * nz;
            int in = hit & (vn < 0.0f);
            float tx = vx[i] - vn * nx, ty = vy[i] - vn * ny, tz = vz[i] - vn * nz;
            float bvx = tx * f - nx * (vn * e), bvy = ty * f - ny * (vn * e), bvz = tz * f - nz * (vn * e);
            px[i] = hit ? cx + nx * r : px[i];
            py[i] = hit ? cy + ny * r : py[i];
            pz[i] = hit ? cz + nz * r : pz[i];
            vx[i] = in ? bvx : vx[i];
            vy[i] = in ? bvy : vy[i];
            vz[i] = in ? bvz : vz[i];
        }
    }
}

/* Which of `count` boxes meet [lo, hi]: flags (0 or 1) per box, vectorized. The same compares as
 * a scalar test, so every level picks the same spheres. */
static KERNEL_ATTR void KERNEL_NAME(boxes_meet)(const float *restrict lx, const float *restrict hx,
                                                const float *restrict ly, const float *restrict hy,
                                                const float *restrict lz, const float *restrict hz, uint32_t count,
                                                const float lo[3], const float hi[3], int32_t *restrict meets) {
    const float l0 = lo[0], l1 = lo[1], l2 = lo[2], h0 = hi[0], h1 = hi[1], h2 = hi[2];
    KERNEL_LOOP
    for (uint32_t k = 0; k < count; k++)
        meets[k] = !((hx[k] < l0) | (lx[k] > h0) | (hy[k] < l1) | (ly[k] > h1) | (hz[k] < l2) | (lz[k] > h2));
}

/* The spheres whose boxes meet [lo, hi], ascending, into near[NEAR_SPHERES_MAX] and their boxes
 * into nb[6][NEAR_SPHERES_MAX]; returns how many, or NEAR_SPHERES_MAX + 1 when there are more. */
static KERNEL_ATTR uint32_t KERNEL_NAME(near_spheres)(const sphere_grid *g, const float lo[3], const float hi[3],
                                                      uint32_t *restrict near, float nb[6][NEAR_SPHERES_MAX]) {
    int32_t meets[NEAR_SCAN];
    uint32_t n = 0;
    for (uint32_t k0 = 0; k0 < g->sphere_count; k0 += NEAR_SCAN) {
        uint32_t m = g->sphere_count - k0 < NEAR_SCAN ? g->sphere_count - k0 : NEAR_SCAN;
        KERNEL_NAME(boxes_meet)(g->box_lo_x + k0, g->box_hi_x + k0, g->box_lo_y + k0, g->box_hi_y + k0,
                                g->box_lo_z + k0, g->box_hi_z + k0, m, lo, hi, meets);
        for (uint32_t k = 0; k < m; k++) {
            if (!meets[k]) continue;
            if (n == NEAR_SPHERES_MAX) return NEAR_SPHERES_MAX + 1u;
            uint32_t s = k0 + k;
            near[n] = s;
            nb[0][n] = g->box_lo_x[s], nb[1][n] = g->box_hi_x[s], nb[2][n] = g->box_lo_y[s];
            nb[3][n] = g->box_hi_y[s], nb[4][n] = g->box_lo_z[s], nb[5][n] = g->box_hi_z[s];
            n++;
        }
    }
    return n;
}

/* One block: integrate; list the candidates for collision (live particles in a grid cell with
 * spheres, within the cell's height range: KERNEL_NAME(candidates), defined per level by the
 * includer) and collide each with its cell's spheres in sphere order; then list the slots that died
 * (16 at a time). */
static KERNEL_ATTR uint32_t KERNEL_NAME(block)(const sim_params *p, const particle_soa *s, const sphere_grid *g,
                                               uint32_t block, uint32_t *restrict dead_out) {
    size_t o = (size_t)block * PARTICLE_BLOCK;
    float *px = s->px + o, *py = s->py + o, *pz = s->pz + o, *vx = s->vx + o, *vy = s->vy + o, *vz = s->vz + o;
    float *age = s->age + o, *life = s->life + o;
    enum { SUBS = PARTICLE_BLOCK / SUB_BLOCK };
    float sub_lo[SUBS][3], sub_hi[SUBS][3];
    uint32_t deaths = KERNEL_NAME(integrate)(p, px, py, pz, vx, vy, vz, age, life, sub_lo, sub_hi);
    if (g->w) {
        /* The block's bounds are its sub-blocks' union. Spheres whose boxes meet the block's:
         * when no more than NEAR_SPHERES_MAX, each sub-block sweeps those that meet its own bounds
         * (dense, vectorized, no gathers: sub-blocks of neighbours meet few); when more, each
         * candidate particle takes its own cell's spheres from the grid. */
        float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
        for (uint32_t j = 0; j < SUBS; j++) {
            for (uint32_t a = 0; a < 3; a++) {
                lo[a] = sub_lo[j][a] < lo[a] ? sub_lo[j][a] : lo[a];
                hi[a] = sub_hi[j][a] > hi[a] ? sub_hi[j][a] : hi[a];
            }
        }
        uint32_t near[NEAR_SPHERES_MAX], n_near = 0;
        float nb[6][NEAR_SPHERES_MAX];
        if (lo[0] <= hi[0]) n_near = KERNEL_NAME(near_spheres)(g, lo, hi, near, nb);
        if (n_near <= NEAR_SPHERES_MAX) {
            int32_t meets[NEAR_SPHERES_MAX];
            for (uint32_t j = 0; j < SUBS && n_near; j++) {
                if (!(sub_lo[j][0] <= sub_hi[j][0])) continue;
                uint32_t f = j * SUB_BLOCK;
                KERNEL_NAME(boxes_meet)(nb[0], nb[1], nb[2], nb[3], nb[4], nb[5], n_near, sub_lo[j], sub_hi[j], meets);
                for (uint32_t k = 0; k < n_near; k++)
                    if (meets[k])
                        KERNEL_NAME(sphere)(p, g->spheres[near[k]], px + f, py + f, pz + f, vx + f, vy + f, vz + f,
                                            age + f, life + f, SUB_BLOCK);
            }
        } else {
            uint32_t index[PARTICLE_BLOCK];
            int32_t cell[PARTICLE_BLOCK];
            uint32_t n = KERNEL_NAME(candidates)(g, px, py, pz, age, life, index, cell);
            KERNEL_NAME(collide)(p, g, n, index, cell, px, py, pz, vx, vy, vz);
        }
    }
    if (deaths) {
        /* A few deaths per block: test 16 slots at once (a vector compare) before looking at one. */
        uint32_t n = 0;
        for (uint32_t i0 = 0; i0 < PARTICLE_BLOCK && n < deaths; i0 += 16) {
            int any = 0;
            KERNEL_LOOP
            for (uint32_t j = 0; j < 16; j++) any |= life[i0 + j] < 0.0f;
            if (!any) continue;
            for (uint32_t i = i0; i < i0 + 16; i++) {
                if (life[i] < 0.0f) {
                    life[i] = 0.0f;
                    age[i] = 0.0f;
                    dead_out[n++] = (uint32_t)(o + i);
                }
            }
        }
    }
    return deaths;
}
