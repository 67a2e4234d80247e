/* Benchmark suites behind aw-bench: shared run options and the table of suites, so the tool stays a
 * flag parser and anything a C caller wants (run a suite, get the results) lives in this library. */
#ifndef AW_BENCH_H
#define AW_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "bench_report.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AW_BENCH_DEFAULT_ENTITIES 1000000u
#define AW_BENCH_DEFAULT_REPS     5u
#define AW_BENCH_DEFAULT_SEED     0x5eed2024u

typedef struct aw_bench_options {
    uint32_t entities;  /* entities per scenario; 0: AW_BENCH_DEFAULT_ENTITIES */
    uint32_t reps;      /* timed repetitions per scenario (medians); 0: AW_BENCH_DEFAULT_REPS */
    const char *filter; /* run only scenarios whose name contains this; NULL or "": all */
    uint64_t seed;      /* fixes random orders and data; 0: AW_BENCH_DEFAULT_SEED */
    bool verbose;       /* progress and checksums on stderr */
} aw_bench_options;

/* Options with every zero field replaced by its default. */
aw_bench_options aw_bench_options_resolve(const aw_bench_options *options);

/* True if the scenario name passes the options' filter. */
bool aw_bench_selected(const aw_bench_options *options, const char *name);

/* Known suite names, NULL-terminated ("ecs", ...); "all" runs each of them. */
const char *const *aw_bench_suite_names(void);
bool aw_bench_suite_exists(const char *suite);

/* Runs `suite` ("all" or a name from aw_bench_suite_names) and appends its results to report.
 * A scenario that fails is reported on stderr, counted in report->failures, and skipped; the
 * others still run. AW_ERR_NOT_FOUND for an unknown suite. */
aw_status aw_bench_run_suite(const char *suite, const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_H */
