/* The "particles" benchmark suite: one step of a million particles (emission, forces, ground and
 * sphere collisions, deaths) on the CPU with 1 and 2 threads, the SIMD kernel against the plain
 * scalar loop in the same run, and the GPU path where a Vulkan device is present. */
#ifndef AW_BENCH_PARTICLES_H
#define AW_BENCH_PARTICLES_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* options->entities particles (default 1M): scenarios cpu_<N>_step_ms_1t (baseline: the scalar
 * kernel), cpu_<N>_step_ms_2t (target 4 ms at 1M; baseline: 1 thread), simd_speedup_1t (scalar
 * time / SIMD time per repetition), gpu_<N>_step_ms (on the AW_GPU_DEVICE or best device; skipped
 * with a note when there is none). --filter gpu runs the GPU scenario alone. */
aw_status aw_bench_particles_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_PARTICLES_H */
