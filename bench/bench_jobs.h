/* The "jobs" benchmark suite: what the job system costs to dispatch (an empty parallel_for, a
 * submit + wait of one empty job, each beside the inline path) and how well a compute-bound loop
 * scales from one thread to two. */
#ifndef AW_BENCH_JOBS_H
#define AW_BENCH_JOBS_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs every scenario that passes options->filter and appends one result per scenario to report;
 * options->entities is the item count of the compute-bound loop. Scenarios that fail are named
 * on stderr, counted in report->failures, and skipped. Returns AW_OK unless the report itself
 * could not grow. */
aw_status aw_bench_jobs_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_JOBS_H */
