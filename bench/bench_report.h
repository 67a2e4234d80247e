/* Benchmark results: medians of repeated samples, a baseline measured in the same run, optional
 * targets, printed as a table for people and written as JSON (via jansson) for tools. */
#ifndef AW_BENCH_REPORT_H
#define AW_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "aw/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AW_BENCH_SUITE_MAX 16
#define AW_BENCH_NAME_MAX  48
#define AW_BENCH_UNIT_MAX  16

/* One scenario's summary. Medians, not means: shared machines produce outliers in one direction. */
typedef struct aw_bench_result {
    char suite[AW_BENCH_SUITE_MAX];
    char name[AW_BENCH_NAME_MAX];
    char unit[AW_BENCH_UNIT_MAX];
    double value;    /* median of the samples */
    double min, max; /* spread of the samples, to judge the noise */
    double baseline; /* median of the baseline samples, when has_baseline */
    double target;   /* bound the value should meet, when has_target */
    bool has_baseline;
    bool has_target;
    bool target_is_min; /* target is a lower bound (speedups), not an upper one */
    uint32_t reps;      /* samples behind value */
} aw_bench_result;

/* What a scenario hands over: raw samples; the report computes medians itself. */
typedef struct aw_bench_entry {
    const char *suite;     /* NULL: the report's suite */
    const char *name;      /* required */
    const char *unit;      /* required: "ms", "ns/entity"... */
    const double *samples; /* required, sample_count >= 1 */
    uint32_t sample_count;
    const double *baseline_samples; /* NULL or baseline_count 0: no baseline */
    uint32_t baseline_count;
    double target;      /* <= 0: no target */
    bool target_is_min; /* true: value should be >= target (a speedup); false: <= target (a time) */
} aw_bench_entry;

typedef struct aw_bench_report {
    char suite[AW_BENCH_SUITE_MAX];
    aw_bench_result *results;
    uint32_t count;
    uint32_t capacity;
    uint32_t failures; /* scenarios that could not run; the tool turns this into its exit code */
} aw_bench_report;

void aw_bench_report_init(aw_bench_report *report, const char *suite);
void aw_bench_report_destroy(aw_bench_report *report);

/* Adds one result. AW_ERR_INVALID_ARG for missing fields, AW_ERR_OUT_OF_MEMORY if growth fails. */
aw_status aw_bench_report_add(aw_bench_report *report, const aw_bench_entry *entry);

/* Counts a scenario that failed to run (its message goes to stderr from the caller). */
void aw_bench_report_fail(aw_bench_report *report);

/* Median of `count` values (mean of the two middle ones for an even count). Sorts `values` in
 * place, so callers pass a scratch copy. Returns 0 for count 0. */
double aw_bench_median(double *values, uint32_t count);

/* Whether a result meets its target (true when it has none). */
bool aw_bench_target_met(const aw_bench_result *result);

/* Table: scenario, median, unit, baseline, ratio (value / baseline), target and whether it is met. */
void aw_bench_report_print(const aw_bench_report *report, FILE *out);

/* {"suite":..., "results":[{"name","value","unit",...}]}; path "-" writes to stdout. */
aw_status aw_bench_report_write_json(const aw_bench_report *report, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_REPORT_H */
