/* The CPU simulation: one kernel body over blocks of SoA particles (forces, ground, spheres,
 * ageing), compiled three times (plain scalar, AVX2, AVX-512) and picked at run time, with the
 * blocks split across the job system and deaths gathered in block order. */
#include "particles/particles_internal.h"

#include <string.h>

/* Bit-identical results on every level: no contraction into FMA (gcc does none in ISO C mode),
 * and nothing reassociated (min/max and integer sums only). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define LANES 16u /* accumulator lanes for the block bounds: a multiple of every vector width */

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

typedef uint32_t (*block_fn)(const sim_params *p, const particle_soa *s, const aw_particle_sphere *spheres,
                             uint32_t sphere_count, uint32_t block, uint32_t *dead_out);

#define KERNEL_CAT2_(a, b) a##_##b
#define KERNEL_CAT_(a, b)  KERNEL_CAT2_(a, b)

/* The plain scalar loop: the same body with vectorization switched off, as the baseline the SIMD
 * kernels are measured against and the path for CPUs without AVX2. */
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
        ps->dead_counts[b] = job->kernel(job->params, &ps->soa, ps->spheres, ps->sphere_count, b,
                                         ps->dead_slots + (size_t)b * PARTICLE_BLOCK);
}

aw_status particles_simulate_cpu(aw_particles *ps, const sim_params *params) {
    uint32_t blocks = (ps->high_water + PARTICLE_BLOCK - 1u) / PARTICLE_BLOCK;
    if (blocks == 0 || ps->live == 0) return AW_OK;
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
