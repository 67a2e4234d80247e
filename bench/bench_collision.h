/* The "collision" benchmark suite: the engine's flat-grid broadphase + narrowphase against the
 * Rust engine's Week 8 hash-map spatial hash, sort-and-sweep and brute force, on the same worlds
 * in the same run, with the pair counts cross-checked. */
#ifndef AW_BENCH_COLLISION_H
#define AW_BENCH_COLLISION_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Worlds of 1k, 10k, 100k and 1M circles (radius 0.5, 20% area coverage; sizes above
 * options->entities are skipped) plus a clustered 10k world. A variant whose pair count differs
 * from the others is reported on stderr and counted in report->failures. Returns AW_OK unless
 * the report itself could not grow. */
aw_status aw_bench_collision_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_COLLISION_H */
