/* The "ecs" benchmark suite: scenarios named and shaped after abeimler/ecs_benchmark at 1M entities,
 * each timed as the median of repeated runs and, where it makes sense, set beside a plain-array
 * baseline measured in the same run. */
#ifndef AW_BENCH_ECS_H
#define AW_BENCH_ECS_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs every scenario that passes options->filter and appends one result per scenario to report.
 * Scenarios that fail (an ECS call refused, a query matching the wrong count) are named on stderr
 * with aw_last_error(), counted in report->failures, and skipped. Returns AW_OK unless the report
 * itself could not grow. */
aw_status aw_bench_ecs_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_ECS_H */
