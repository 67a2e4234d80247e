/* The CPU simulation: one kernel body over blocks of SoA particles (forces, ground, spheres,
 * ageing), compiled three times (plain scalar, AVX2, AVX-512) and picked at run time, with the
 * blocks split across the job system and deaths gathered in block order. */
#include "particles/particles_internal.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* Bit-identical results on every level: no contraction into FMA (gcc does none in ISO C mode),
 * and nothing reassociated (min/max and integer sums only). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

sim_params particles_sim_params(const aw_particles *ps, float dt) {
    const aw_particle_forces *f = &ps->forces;
    float k = f->drag * dt;
    return (sim_params){.dt = dt,
                        .gx = f->gravity.x * dt,
                        .gy = f->gravity.y * dt,
                        .gz = f->gravity.z * dt,
                        .wx = f->wind.x,
                        .wy = f->wind.y,
                        .wz = f->wind.z,
                        .drag_k = k < 1.0f ? k : 1.0f,
                        .ground_y = f->ground_y,
                        .ground = f->ground,
                        .restitution = f->restitution,
                        .friction = f->friction};
}

typedef uint32_t (*block_fn)(const sim_params *p, const particle_soa *s, const sphere_grid *g, uint32_t block,
                             uint32_t *dead_out);

/* One particle against the spheres of its cell, in sphere order: pushed out to the surface, the
 * velocity's normal part reflected with restitution and its tangential part kept by friction.
 * Scalar on every level, so every level gives the same bits. */
static inline void particles_collide_cell(const sim_params *p, const sphere_grid *g, uint32_t cell, float *px,
                                          float *py, float *pz, float *vx, float *vy, float *vz) {
    const uint32_t *items = g->items + g->cell_start[cell];
    const float e = p->restitution, f = p->friction;
    for (uint32_t k = 0, n = g->cell_count[cell]; k < n; k++) {
        const aw_particle_sphere s = g->spheres[items[k]];
        float dx = *px - s.center.x, dy = *py - s.center.y, dz = *pz - s.center.z;
        float d2 = dx * dx + dy * dy + dz * dz;
        if (!(d2 < s.radius * s.radius) || !(d2 > 1e-12f)) continue;
        float inv = 1.0f / sqrtf(d2);
        float nx = dx * inv, ny = dy * inv, nz = dz * inv;
        *px = s.center.x + nx * s.radius;
        *py = s.center.y + ny * s.radius;
        *pz = s.center.z + nz * s.radius;
        float vn = *vx * nx + *vy * ny + *vz * nz;
        if (vn < 0.0f) {
            float tx = *vx - vn * nx, ty = *vy - vn * ny, tz = *vz - vn * nz;
            *vx = tx * f - nx * (vn * e);
            *vy = ty * f - ny * (vn * e);
            *vz = tz * f - nz * (vn * e);
        }
    }
}

#define KERNEL_CAT2_(a, b) a##_##b
#define KERNEL_CAT_(a, b)  KERNEL_CAT2_(a, b)

/* The plain scalar loop: the same body with vectorization switched off, as the baseline the SIMD
 * kernels are measured against and the path for CPUs without AVX2. */
/* Collision candidates, the plain way: live particles inside the grid and the spheres' height
 * range, whose cell has spheres spanning the particle's height. The SIMD levels below compute the
 * same set with the same float operations, with gathers. */
static uint32_t candidates_scalar(const sphere_grid *g, const float *px, const float *py, const float *pz,
                                  const float *age, const float *life, uint32_t *index, int32_t *cell_out) {
    const float w = (float)g->w, h = (float)g->h;
    uint32_t n = 0;
    for (uint32_t i = 0; i < PARTICLE_BLOCK; i++) {
        float fx = (px[i] - g->min_x) * g->inv_cell, fz = (pz[i] - g->min_z) * g->inv_cell;
        if (!(age[i] < life[i]) || !(fx >= 0.0f) || !(fx < w) || !(fz >= 0.0f) || !(fz < h) ||
            !(py[i] >= g->min_y) || !(py[i] <= g->max_y))
            continue;
        int32_t c = (int32_t)fx + (int32_t)fz * g->w;
        if (!g->cell_count[c] || !(py[i] >= g->cell_min_y[c]) || !(py[i] <= g->cell_max_y[c])) continue;
        index[n] = i;
        cell_out[n++] = c;
    }
    return n;
}

/* Collides each listed particle with its cell's spheres, one particle at a time. */
static void collide_scalar(const sim_params *p, const sphere_grid *g, uint32_t n, const uint32_t *index,
                           const int32_t *cell, float *px, float *py, float *pz, float *vx, float *vy, float *vz) {
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = index[k];
        particles_collide_cell(p, g, (uint32_t)cell[k], px + i, py + i, pz + i, vx + i, vy + i, vz + i);
    }
}

/* Bounds kept in 16 lanes reduced to one value per axis. Min and max are exact and no NaN enters
 * the lanes (the selects keep it out), so any order gives values that compare the same: the
 * vector levels reduce with their own instructions. */
static inline void halve_scalar(float lo[3][16], float hi[3][16], float out_lo[3], float out_hi[3]) {
    for (uint32_t a = 0; a < 3; a++) {
        out_lo[a] = lo[a][0], out_hi[a] = hi[a][0];
        for (uint32_t j = 1; j < 16; j++) {
            out_lo[a] = lo[a][j] < out_lo[a] ? lo[a][j] : out_lo[a];
            out_hi[a] = hi[a][j] > out_hi[a] ? hi[a][j] : out_hi[a];
        }
    }
}

#define KERNEL_NAME(x) KERNEL_CAT_(x, scalar)
#if defined(__clang__)
#define KERNEL_ATTR __attribute__((noinline))
#define KERNEL_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define KERNEL_ATTR __attribute__((noinline, optimize("no-tree-vectorize", "no-tree-slp-vectorize")))
#define KERNEL_LOOP
#endif
#include "particles/simulate_kernel.h"
#undef KERNEL_NAME
#undef KERNEL_ATTR
#undef KERNEL_LOOP

#if defined(__x86_64__) && defined(__GNUC__)
#define AW_PARTICLES_X86 1

__attribute__((target("avx2"))) static inline void halve_avx2(float lo[3][16], float hi[3][16], float out_lo[3],
                                                               float out_hi[3]) {
    for (uint32_t a = 0; a < 3; a++) {
        __m256 l = _mm256_min_ps(_mm256_loadu_ps(lo[a]), _mm256_loadu_ps(lo[a] + 8));
        __m256 h = _mm256_max_ps(_mm256_loadu_ps(hi[a]), _mm256_loadu_ps(hi[a] + 8));
        __m128 l4 = _mm_min_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1));
        __m128 h4 = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        l4 = _mm_min_ps(l4, _mm_movehl_ps(l4, l4));
        h4 = _mm_max_ps(h4, _mm_movehl_ps(h4, h4));
        out_lo[a] = _mm_cvtss_f32(_mm_min_ss(l4, _mm_shuffle_ps(l4, l4, 1)));
        out_hi[a] = _mm_cvtss_f32(_mm_max_ss(h4, _mm_shuffle_ps(h4, h4, 1)));
    }
}

__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) static inline void
halve_avx512(float lo[3][16], float hi[3][16], float out_lo[3], float out_hi[3]) {
    for (uint32_t a = 0; a < 3; a++) {
        out_lo[a] = _mm512_reduce_min_ps(_mm512_loadu_ps(lo[a]));
        out_hi[a] = _mm512_reduce_max_ps(_mm512_loadu_ps(hi[a]));
    }
}

__attribute__((target("avx2"))) static uint32_t candidates_avx2(const sphere_grid *g, const float *px,
                                                                const float *py, const float *pz, const float *age,
                                                                const float *life, uint32_t *index,
                                                                int32_t *cell_out) {
    const __m256 min_x = _mm256_set1_ps(g->min_x), min_z = _mm256_set1_ps(g->min_z), inv = _mm256_set1_ps(g->inv_cell);
    const __m256 w = _mm256_set1_ps((float)g->w), h = _mm256_set1_ps((float)g->h), zero = _mm256_setzero_ps();
    const __m256 min_y = _mm256_set1_ps(g->min_y), max_y = _mm256_set1_ps(g->max_y);
    const __m256i iw = _mm256_set1_epi32(g->w);
    uint32_t n = 0;
    for (uint32_t i = 0; i < PARTICLE_BLOCK; i += 8) {
        __m256 x = _mm256_loadu_ps(px + i), y = _mm256_loadu_ps(py + i), z = _mm256_loadu_ps(pz + i);
        __m256 fx = _mm256_mul_ps(_mm256_sub_ps(x, min_x), inv), fz = _mm256_mul_ps(_mm256_sub_ps(z, min_z), inv);
        __m256 m = _mm256_cmp_ps(_mm256_loadu_ps(age + i), _mm256_loadu_ps(life + i), _CMP_LT_OQ);
        m = _mm256_and_ps(m, _mm256_and_ps(_mm256_cmp_ps(fx, zero, _CMP_GE_OQ), _mm256_cmp_ps(fx, w, _CMP_LT_OQ)));
        m = _mm256_and_ps(m, _mm256_and_ps(_mm256_cmp_ps(fz, zero, _CMP_GE_OQ), _mm256_cmp_ps(fz, h, _CMP_LT_OQ)));
        m = _mm256_and_ps(m, _mm256_and_ps(_mm256_cmp_ps(y, min_y, _CMP_GE_OQ), _mm256_cmp_ps(y, max_y, _CMP_LE_OQ)));
        if (!_mm256_movemask_ps(m)) continue;
        __m256i cell = _mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_mullo_epi32(_mm256_cvttps_epi32(fz), iw));
        __m256i mi = _mm256_castps_si256(m);
        __m256i count = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)g->cell_count, cell, mi, 4);
        mi = _mm256_andnot_si256(_mm256_cmpeq_epi32(count, _mm256_setzero_si256()), mi);
        m = _mm256_castsi256_ps(mi);
        if (!_mm256_movemask_ps(m)) continue;
        __m256 lo = _mm256_mask_i32gather_ps(zero, g->cell_min_y, cell, m, 4);
        __m256 hi = _mm256_mask_i32gather_ps(zero, g->cell_max_y, cell, m, 4);
        m = _mm256_and_ps(m, _mm256_and_ps(_mm256_cmp_ps(y, lo, _CMP_GE_OQ), _mm256_cmp_ps(y, hi, _CMP_LE_OQ)));
        uint32_t bits = (uint32_t)_mm256_movemask_ps(m);
        int32_t cells[8];
        _mm256_storeu_si256((__m256i *)cells, cell);
        while (bits) {
            uint32_t j = (uint32_t)__builtin_ctz(bits);
            index[n] = i + j;
            cell_out[n++] = cells[j];
            bits &= bits - 1u;
        }
    }
    return n;
}

__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) static uint32_t
candidates_avx512(const sphere_grid *g, const float *px, const float *py, const float *pz, const float *age,
                  const float *life, uint32_t *index, int32_t *cell_out) {
    const __m512 min_x = _mm512_set1_ps(g->min_x), min_z = _mm512_set1_ps(g->min_z), inv = _mm512_set1_ps(g->inv_cell);
    const __m512 w = _mm512_set1_ps((float)g->w), h = _mm512_set1_ps((float)g->h), zero = _mm512_setzero_ps();
    const __m512 min_y = _mm512_set1_ps(g->min_y), max_y = _mm512_set1_ps(g->max_y);
    const __m512i iw = _mm512_set1_epi32(g->w);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint32_t n = 0;
    for (uint32_t i = 0; i < PARTICLE_BLOCK; i += 16) {
        __m512 x = _mm512_loadu_ps(px + i), y = _mm512_loadu_ps(py + i), z = _mm512_loadu_ps(pz + i);
        __m512 fx = _mm512_mul_ps(_mm512_sub_ps(x, min_x), inv), fz = _mm512_mul_ps(_mm512_sub_ps(z, min_z), inv);
        __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(age + i), _mm512_loadu_ps(life + i), _CMP_LT_OQ);
        m &= _mm512_cmp_ps_mask(fx, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(fx, w, _CMP_LT_OQ);
        m &= _mm512_cmp_ps_mask(fz, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(fz, h, _CMP_LT_OQ);
        m &= _mm512_cmp_ps_mask(y, min_y, _CMP_GE_OQ) & _mm512_cmp_ps_mask(y, max_y, _CMP_LE_OQ);
        if (!m) continue;
        __m512i cell = _mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_mullo_epi32(_mm512_cvttps_epi32(fz), iw));
        __m512i count = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, cell, g->cell_count, 4);
        m &= _mm512_test_epi32_mask(count, count);
        if (!m) continue;
        __m512 lo = _mm512_mask_i32gather_ps(zero, m, cell, g->cell_min_y, 4);
        __m512 hi = _mm512_mask_i32gather_ps(zero, m, cell, g->cell_max_y, 4);
        m &= _mm512_cmp_ps_mask(y, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(y, hi, _CMP_LE_OQ);
        _mm512_mask_compressstoreu_epi32(index + n, m, _mm512_add_epi32(lanes, _mm512_set1_epi32((int)i)));
        _mm512_mask_compressstoreu_epi32(cell_out + n, m, cell);
        n += (uint32_t)__builtin_popcount(m);
    }
    return n;
}

/* Sixteen candidates at a time: gather their state, walk their cells' sphere lists in step (lane
 * k's n-th sphere is its cell's n-th), masked updates, scatter back (indices within a block are
 * distinct). The same operations in the same order as particles_collide_cell, without FMA, so
 * the bits match the scalar path. */
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) static void
collide_avx512(const sim_params *p, const sphere_grid *g, uint32_t n, const uint32_t *index, const int32_t *cell,
               float *px, float *py, float *pz, float *vx, float *vy, float *vz) {
    const __m512 e = _mm512_set1_ps(p->restitution), f = _mm512_set1_ps(p->friction);
    const __m512 eps = _mm512_set1_ps(1e-12f), one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const float *sph = (const float *)g->spheres;
    for (uint32_t k0 = 0; k0 < n; k0 += 16) {
        __mmask16 live = n - k0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k0)) - 1u);
        __m512i idx = _mm512_maskz_loadu_epi32(live, index + k0);
        __m512i c = _mm512_maskz_loadu_epi32(live, cell + k0);
        __m512 x = _mm512_mask_i32gather_ps(zero, live, idx, px, 4), y = _mm512_mask_i32gather_ps(zero, live, idx, py, 4);
        __m512 z = _mm512_mask_i32gather_ps(zero, live, idx, pz, 4), u = _mm512_mask_i32gather_ps(zero, live, idx, vx, 4);
        __m512 v = _mm512_mask_i32gather_ps(zero, live, idx, vy, 4), w = _mm512_mask_i32gather_ps(zero, live, idx, vz, 4);
        __m512i start = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, c, g->cell_start, 4);
        __m512i count = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, c, g->cell_count, 4);
        for (uint32_t m = 0;; m++) {
            __mmask16 act = live & _mm512_cmpgt_epu32_mask(count, _mm512_set1_epi32((int)m));
            if (!act) break;
            __m512i item = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), act,
                                                       _mm512_add_epi32(start, _mm512_set1_epi32((int)m)), g->items, 4);
            __m512i base = _mm512_slli_epi32(item, 2); /* 4 floats per sphere */
            __m512 cx = _mm512_mask_i32gather_ps(zero, act, base, sph, 4);
            __m512 cy = _mm512_mask_i32gather_ps(zero, act, base, sph + 1, 4);
            __m512 cz = _mm512_mask_i32gather_ps(zero, act, base, sph + 2, 4);
            __m512 r = _mm512_mask_i32gather_ps(one, act, base, sph + 3, 4);
            __m512 dx = _mm512_sub_ps(x, cx), dy = _mm512_sub_ps(y, cy), dz = _mm512_sub_ps(z, cz);
            __m512 d2 = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(dx, dx), _mm512_mul_ps(dy, dy)), _mm512_mul_ps(dz, dz));
            __mmask16 hit = act & _mm512_cmp_ps_mask(d2, _mm512_mul_ps(r, r), _CMP_LT_OQ) &
                            _mm512_cmp_ps_mask(d2, eps, _CMP_GT_OQ);
            if (!hit) continue;
            __m512 inv = _mm512_div_ps(one, _mm512_sqrt_ps(_mm512_mask_blend_ps(hit, one, d2)));
            __m512 nx = _mm512_mul_ps(dx, inv), ny = _mm512_mul_ps(dy, inv), nz = _mm512_mul_ps(dz, inv);
            x = _mm512_mask_add_ps(x, hit, cx, _mm512_mul_ps(nx, r));
            y = _mm512_mask_add_ps(y, hit, cy, _mm512_mul_ps(ny, r));
            z = _mm512_mask_add_ps(z, hit, cz, _mm512_mul_ps(nz, r));
            __m512 vn = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(u, nx), _mm512_mul_ps(v, ny)), _mm512_mul_ps(w, nz));
            __mmask16 in = hit & _mm512_cmp_ps_mask(vn, zero, _CMP_LT_OQ);
            __m512 ve = _mm512_mul_ps(vn, e);
            __m512 tx = _mm512_sub_ps(u, _mm512_mul_ps(vn, nx)), ty = _mm512_sub_ps(v, _mm512_mul_ps(vn, ny));
            __m512 tz = _mm512_sub_ps(w, _mm512_mul_ps(vn, nz));
            u = _mm512_mask_sub_ps(u, in, _mm512_mul_ps(tx, f), _mm512_mul_ps(nx, ve));
            v = _mm512_mask_sub_ps(v, in, _mm512_mul_ps(ty, f), _mm512_mul_ps(ny, ve));
            w = _mm512_mask_sub_ps(w, in, _mm512_mul_ps(tz, f), _mm512_mul_ps(nz, ve));
        }
        _mm512_mask_i32scatter_ps(px, live, idx, x, 4);
        _mm512_mask_i32scatter_ps(py, live, idx, y, 4);
        _mm512_mask_i32scatter_ps(pz, live, idx, z, 4);
        _mm512_mask_i32scatter_ps(vx, live, idx, u, 4);
        _mm512_mask_i32scatter_ps(vy, live, idx, v, 4);
        _mm512_mask_i32scatter_ps(vz, live, idx, w, 4);
    }
}

#define collide_avx2 collide_scalar
#define KERNEL_LOOP
#define KERNEL_NAME(x) KERNEL_CAT_(x, avx2)
#define KERNEL_ATTR    __attribute__((noinline, target("avx2")))
#include "particles/simulate_kernel.h"
#undef KERNEL_NAME
#undef KERNEL_ATTR
#define KERNEL_NAME(x) KERNEL_CAT_(x, avx512)
#define KERNEL_ATTR    __attribute__((noinline, target("avx512f,avx512vl,avx512dq,avx512bw")))
#include "particles/simulate_kernel.h"
#undef KERNEL_NAME
#undef KERNEL_ATTR
#undef KERNEL_LOOP
#endif

bool particles_simd_supported(aw_particles_simd simd) {
    switch (simd) {
    case AW_PARTICLES_SIMD_AUTO:
    case AW_PARTICLES_SIMD_SCALAR: return true;
#if AW_PARTICLES_X86
    case AW_PARTICLES_SIMD_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2");
    case AW_PARTICLES_SIMD_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#endif
    default: return false;
    }
}

static block_fn kernel_for(aw_particles_simd simd) {
#if AW_PARTICLES_X86
    if (simd == AW_PARTICLES_SIMD_AVX512) return block_avx512;
    if (simd == AW_PARTICLES_SIMD_AVX2) return block_avx2;
#endif
    (void)simd;
    return block_scalar;
}

typedef struct sim_job {
    aw_particles *ps;
    const sim_params *params;
    block_fn kernel;
} sim_job;

static void simulate_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)worker;
    const sim_job *job = ctx;
    aw_particles *ps = job->ps;
    for (uint32_t b = begin; b < end; b++)
        ps->dead_counts[b] = job->kernel(job->params, &ps->soa, &ps->grid, b, ps->dead_slots + (size_t)b * PARTICLE_BLOCK);
}

aw_status particles_simulate_cpu(aw_particles *ps, const sim_params *params) {
    uint32_t blocks = (ps->high_water + PARTICLE_BLOCK - 1u) / PARTICLE_BLOCK;
    if (blocks == 0 || ps->live == 0) return AW_OK;
    particles_grid_build(ps);
    sim_job job = {.ps = ps, .params = params, .kernel = kernel_for(ps->simd)};
    if (ps->jobs) {
        aw_status st = aw_jobs_parallel_for(ps->jobs, blocks, PARTICLE_RANGE_BLOCKS, simulate_range, &job);
        if (st) return st;
    } else {
        simulate_range(0, blocks, 0, &job);
    }
    /* Deaths go back to the free list in block order: the same list for any thread count. */
    for (uint32_t b = 0; b < blocks; b++) {
        uint32_t n = ps->dead_counts[b];
        if (!n) continue;
        memcpy(ps->free_slots + ps->free_count, ps->dead_slots + (size_t)b * PARTICLE_BLOCK, n * sizeof(uint32_t));
        ps->free_count += n;
        ps->live -= n;
        ps->stats.died += n;
        ps->dead_counts[b] = 0;
    }
    return AW_OK;
}
