/* One instance of the CPU particle kernel (included by simulate_cpu.c once per SIMD level, no
 * include guard): the includer defines KERNEL_NAME(x) (a suffixed name), KERNEL_ATTR (target and
 * optimisation attributes), KERNEL_LOOP (a loop pragma, or nothing) and the level's
 * KERNEL_NAME(candidates) and KERNEL_NAME(collide) functions before each inclusion. */

/* Forces, integration, ground and ageing for one block; returns its deaths. Branch-free: every
 * condition is a select, so the loop vectorizes. */
static KERNEL_ATTR uint32_t KERNEL_NAME(integrate)(const sim_params *p, float *restrict px, float *restrict py,
                                                   float *restrict pz, float *restrict vx, float *restrict vy,
                                                   float *restrict vz, float *restrict age, float *restrict life) {
    const float dt = p->dt, gx = p->gx, gy = p->gy, gz = p->gz, k = p->drag_k;
    const float wx = p->wx, wy = p->wy, wz = p->wz, ground_y = p->ground ? p->ground_y : -INFINITY;
    const float e = p->restitution, f = p->friction;
    uint32_t deaths = 0;
    KERNEL_LOOP
    for (uint32_t i = 0; i < PARTICLE_BLOCK; i++) {
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
        deaths += (uint32_t)dies;
        px[i] = alive ? npx : px[i];
        py[i] = alive ? npy : py[i];
        pz[i] = alive ? npz : pz[i];
        vx[i] = alive ? nvx : vx[i];
        vy[i] = alive ? nvy : vy[i];
        vz[i] = alive ? nvz : vz[i];
        age[i] = alive ? na : a;
        life[i] = dies ? -1.0f : l; /* marked for the free list */
    }
    return deaths;
}

/* One block: integrate; list the candidates for collision (live particles in a grid cell with
 * spheres, within the cell's height range: KERNEL_NAME(candidates), defined per level by the
 * includer) and collide each with its cell's spheres in sphere order; then list the slots that died
 * (rare enough that a plain scan is fine). */
static KERNEL_ATTR uint32_t KERNEL_NAME(block)(const sim_params *p, const particle_soa *s, const sphere_grid *g,
                                               uint32_t block, uint32_t *restrict dead_out) {
    size_t o = (size_t)block * PARTICLE_BLOCK;
    float *px = s->px + o, *py = s->py + o, *pz = s->pz + o, *vx = s->vx + o, *vy = s->vy + o, *vz = s->vz + o;
    float *age = s->age + o, *life = s->life + o;
    uint32_t deaths = KERNEL_NAME(integrate)(p, px, py, pz, vx, vy, vz, age, life);
    if (g->w) {
        uint32_t index[PARTICLE_BLOCK];
        int32_t cell[PARTICLE_BLOCK];
        uint32_t n = KERNEL_NAME(candidates)(g, px, py, pz, age, life, index, cell);
        KERNEL_NAME(collide)(p, g, n, index, cell, px, py, pz, vx, vy, vz);
    }
    if (deaths) {
        uint32_t n = 0;
        KERNEL_LOOP
        for (uint32_t i = 0; i < PARTICLE_BLOCK && n < deaths; i++) {
            if (life[i] < 0.0f) {
                life[i] = 0.0f;
                age[i] = 0.0f;
                dead_out[n++] = (uint32_t)(o + i);
            }
        }
    }
    return deaths;
}
