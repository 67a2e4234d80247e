/* The "render" benchmark suite: 100,000 entities over 4 meshes x 4 materials drawn by the Vulkan
 * renderer, batched, indirect and naive (one draw per entity) side by side in the same run. */
#ifndef AW_BENCH_RENDER_H
#define AW_BENCH_RENDER_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the scenarios that pass options->filter. options->entities other than the default changes
 * the entity count (and the "100k" in the names). Without a Vulkan device the suite fails with a
 * message (counted in report->failures). */
aw_status aw_bench_render_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_RENDER_H */
