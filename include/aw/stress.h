/* AstraWeave stress framework: named scenarios run for many frames at several entity counts,
 * with frame-time statistics, per-system timings from the profiler, allocations per frame by
 * module, peak RSS and the final world hash; reports as a table, JSON and an SVG chart, a
 * capacity search against the frame budget, and comparison with a saved report. aw-stress is a
 * flag parser over this. */
#ifndef AW_STRESS_H
#define AW_STRESS_H

#include "aw/core.h"
#include "aw/ecs.h"
#include "aw/jobs.h"
#include "aw/profile.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AW_STRESS_BUDGET_MS    (1000.0 / 60.0) /* 16.67 ms: one frame at 60 FPS */
#define AW_STRESS_MAX_SYSTEMS  16u
#define AW_STRESS_MAX_MODULES  8u
#define AW_STRESS_MAX_COUNTERS 16u
#define AW_STRESS_NAME_SIZE    48u

/* ---------------------------------------------------------------- statistics */

typedef struct aw_stress_stats {
    double mean, p50, p95, p99, max, min;
    uint32_t count;
} aw_stress_stats;

/* Percentile p (0..100) of sorted values by linear interpolation between the closest ranks
 * (rank p/100 * (n-1), as numpy's default): p50 of {1, 2, 3, 4} is 2.5. 0 for n = 0. */
double aw_stress_percentile(const double *sorted, uint32_t count, double p);
/* Statistics of `count` samples; scratch holds count doubles (sorted copy), so nothing is
 * allocated. scratch may be the samples themselves (they are then sorted in place). */
aw_stress_stats aw_stress_stats_compute(const double *samples, uint32_t count, double *scratch);

/* ---------------------------------------------------------------- scenarios */

typedef struct aw_stress_ctx aw_stress_ctx;

/* A counting allocator over the heap for one module (for example "physics"): hand it to the
 * module so the run reports that module's allocations per frame. NULL past AW_STRESS_MAX_MODULES. */
const aw_allocator *aw_stress_module_allocator(aw_stress_ctx *ctx, const char *module);

/* What a scenario measures besides time, per frame (draw calls, collisions...). */
typedef struct aw_stress_counter {
    char name[AW_STRESS_NAME_SIZE];
    double value; /* last frame's value */
} aw_stress_counter;

typedef struct aw_stress_setup {
    aw_world *world; /* fresh, owned by the run */
    aw_stress_ctx *ctx;
    uint32_t entities;
    uint64_t seed;
    uint32_t threads;
    /* A real renderer draws this world (aw-demo): scenarios leave out their stand-in rendering
     * systems (seed-profile's counting "rendering") and the renderer's extraction takes their place. */
    bool external_renderer;
} aw_stress_setup;

typedef struct aw_stress_scenario {
    const char *name;
    const char *description;
    size_t state_size; /* zeroed state handed to the callbacks */
    /* Registers components and systems and spawns `entities` entities. */
    aw_status (*setup)(void *state, const aw_stress_setup *setup);
    /* After each frame, outside the timed region: fills counters[0..n) and returns n. Optional. */
    uint32_t (*frame_counters)(void *state, aw_world *world, aw_stress_counter *counters, uint32_t max);
    /* Frees what setup allocated outside the world. Optional. */
    void (*teardown)(void *state, aw_world *world);
} aw_stress_scenario;

/* The built-in scenarios, NULL-terminated ("seed-profile" first). */
const aw_stress_scenario *const *aw_stress_scenarios(void);
const aw_stress_scenario *aw_stress_scenario_find(const char *name);

/* ---------------------------------------------------------------- one run */

typedef void (*aw_stress_progress_fn)(void *user, uint32_t done, uint32_t total);

typedef struct aw_stress_desc {
    const aw_stress_scenario *scenario; /* required */
    uint32_t entities;                  /* required, > 0 */
    uint32_t frames;                    /* timed frames, 0: 2000 */
    uint32_t warmup;                    /* untimed frames first; AW_STRESS_NO_WARMUP for none, 0: 100 */
    uint32_t threads;                   /* 0: one per hardware thread (ignored with jobs) */
    aw_jobs *jobs;                      /* share a job system across runs (optional) */
    uint64_t seed;
    float dt; /* 0: 1.0 (the seed demo's dt) */
    /* Stop early once enough frames exceeded this many ms that the p99 must too (about 1% of
     * the frames; capacity probes). 0: never. */
    double abort_over_ms;
    bool keep_samples; /* keep every frame time (for the histogram plot) */
    aw_stress_progress_fn progress;
    void *progress_user;
} aw_stress_desc;
#define AW_STRESS_NO_WARMUP UINT32_MAX

typedef struct aw_stress_system_stats {
    char name[AW_STRESS_NAME_SIZE];
    double mean_us, p95_us, total_ms;
} aw_stress_system_stats;

typedef struct aw_stress_module_stats {
    char name[AW_STRESS_NAME_SIZE];
    double allocs_per_frame, bytes_per_frame;
} aw_stress_module_stats;

typedef struct aw_stress_result {
    uint32_t entities, frames, warmup, threads;
    uint64_t seed;
    aw_stress_stats frame_ms;                              /* over the timed frames, in ms */
    double fps;                                            /* 1000 / mean */
    double headroom_pct;                                   /* 100 * (1 - mean / 16.67 ms) */
    aw_stress_system_stats systems[AW_STRESS_MAX_SYSTEMS]; /* profiler zones of category "system" */
    uint32_t system_count;                    /* 0 when the profiler is compiled out or not running */
    double allocs_per_frame, bytes_per_frame; /* engine heap (aw_heap_stats) */
    aw_stress_module_stats modules[AW_STRESS_MAX_MODULES]; /* ecs, physics, ..., other */
    uint32_t module_count;
    double peak_rss_mb; /* peak resident set during the run (VmHWM, reset per run) */
    uint64_t world_hash;
    aw_stress_counter counters[AW_STRESS_MAX_COUNTERS];
    uint32_t counter_count;
    double setup_ms;
    bool aborted;    /* stopped early by abort_over_ms */
    double *samples; /* frame times in ms when keep_samples (owned) */
    uint32_t sample_count;
    uint32_t samples_allocated_; /* private */
} aw_stress_result;

/* Creates a world, sets the scenario up, runs warmup then timed frames of aw_world_progress
 * (only that call is timed), and fills *out. When a profiling session is running it collects
 * after every frame, resets its statistics after the warm-up, and takes the per-system times
 * from it. */
aw_status aw_stress_run(const aw_stress_desc *desc, aw_stress_result *out);
void aw_stress_result_free(aw_stress_result *result);

/* ---------------------------------------------------------------- capacity */

#define AW_STRESS_PROBE_RUNS 3 /* runs a capacity probe may take: the majority decides */

typedef struct aw_stress_probe {
    uint32_t entities;
    double p99_ms; /* the deciding p99: the middle of three runs, or the worse of two that agree */
    bool pass;
    uint32_t runs;                           /* 2 when the first two agree, else 3 */
    double run_p99_ms[AW_STRESS_PROBE_RUNS]; /* each run's p99, in run order (a run stopped early: over
                                                its frames so far; INFINITY: out of memory) */
} aw_stress_probe;

typedef struct aw_stress_capacity {
    uint32_t entities; /* largest passing count found, 0 if even the start failed */
    double p99_ms;     /* its p99 */
    double budget_ms;
    aw_stress_probe probes[64];
    uint32_t probe_count;
} aw_stress_capacity;

/* Largest entity count whose p99 frame time stays within budget_ms (0: 16.67): doubles from
 * desc->entities (0: 1000) until a count fails, then bisects down to 1% of the count. Each count
 * is judged by the median of three runs: a run is a full aw_stress_run of desc (frames and
 * warm-up as given) that stops early once its p99 has certainly failed, and the third run is
 * made only when the first two disagree. (One run's p99 is its third-worst frame of 300, which a
 * single burst of other work on the machine can decide.) Counts stop at max_entities (0: 16M). */
aw_status aw_stress_find_capacity(const aw_stress_desc *desc, double budget_ms, uint32_t max_entities,
                                  aw_stress_capacity *out);

/* ---------------------------------------------------------------- reports */

typedef struct aw_stress_report {
    char scenario[AW_STRESS_NAME_SIZE];
    uint32_t threads;
    bool profiler;       /* per-system times available */
    double zone_cost_ns; /* measured cost of one profiler zone (0: not measured) */
    /* aw_profile_core_roundtrip_ns before the first run and after the last (0: not measured, or
     * one thread): two-thread frame times scale with it, and a virtual machine can change it mid-run */
    double roundtrip_before_ns, roundtrip_after_ns;
    /* aw_profile_host_stalls before a capacity search (has_stalls): a probe's p99 is its third-worst
     * frame of 300, so a few stalls of a few ms decide it near the budget */
    bool has_stalls;
    aw_profile_stalls stalls;
    aw_stress_result *runs;
    uint32_t run_count, run_capacity;
    bool has_capacity;
    aw_stress_capacity capacity;
} aw_stress_report;

void aw_stress_report_init(aw_stress_report *report, const char *scenario, uint32_t threads);
/* Takes ownership of result's samples. */
aw_status aw_stress_report_add(aw_stress_report *report, aw_stress_result *result);
void aw_stress_report_free(aw_stress_report *report);

/* Human table: frame times, FPS, headroom, allocations, RSS, hash; per-system and per-module
 * breakdowns below it. */
aw_status aw_stress_report_print(const aw_stress_report *report, FILE *out);
/* {"scenario":..., "threads":..., "runs":[{"entities":N, "frames":F, "frame_ms":{...}, "fps":..,
 * "systems":{...}, "allocs_per_frame":.., "bytes_per_frame":.., "peak_rss_mb":.., "world_hash":"hex",
 * ...}]}; path "-" is stdout. */
aw_status aw_stress_report_write_json(const aw_stress_report *report, const char *path);
/* Reads what write_json wrote (unknown keys are ignored; missing required ones are AW_ERR_PARSE). */
aw_status aw_stress_report_read_json(const char *path, aw_stress_report *report);
/* SVG chart: frame time p50 and p99 against entity count, with the 16.67 ms budget when it is in
 * range, and a histogram of frame times per run (from kept samples). */
aw_status aw_stress_report_write_svg(const aw_stress_report *report, const char *path);

/* ---------------------------------------------------------------- comparison */

typedef enum aw_stress_verdict {
    AW_STRESS_SAME = 0,  /* within the threshold */
    AW_STRESS_IMPROVED,  /* better by more than the threshold */
    AW_STRESS_REGRESSED, /* worse by more than the threshold */
    AW_STRESS_INFO       /* reported only (max frame time: one outlier decides it) */
} aw_stress_verdict;

typedef struct aw_stress_compare_result {
    uint32_t metrics;     /* metrics compared */
    uint32_t regressions; /* metrics worse than the threshold, plus world-hash changes */
    uint32_t improvements;
    uint32_t unmatched; /* runs of one report without a run of the same entity count */
} aw_stress_compare_result;

/* Compares current with baseline run by run (matched by entity count): current/baseline for each
 * metric (frame mean/p50/p95/p99/max, allocations and bytes per frame, peak RSS, each system's
 * mean), where lower is better; a ratio above 1 + threshold (0: 0.10) is a regression. A different
 * world hash for the same frames and seed is a regression too (the simulation changed). Prints a
 * table with a verdict per metric to out (may be NULL). */
aw_status aw_stress_compare(const aw_stress_report *baseline, const aw_stress_report *current,
                            double threshold, FILE *out, aw_stress_compare_result *result);

/* ---------------------------------------------------------------- the whole aw-stress invocation */

typedef struct aw_stress_plan {
    const char *scenario;     /* NULL: "seed-profile" */
    const uint32_t *entities; /* NULL: 500, 1000, 2000, 5000 (none with capacity only) */
    uint32_t entity_count;
    uint32_t frames, warmup, threads; /* as aw_stress_desc */
    uint64_t seed;
    bool capacity;                  /* also search the capacity (alone when entities is NULL) */
    const char *json_path;          /* NULL: no JSON; "-": stdout (the table then goes to stderr) */
    const char *trace_path;         /* Chrome trace of every frame (profiler) */
    const char *plot_path;          /* SVG chart */
    const char *compare_path;       /* baseline JSON to compare against */
    double compare_threshold;       /* 0: 0.10 */
    aw_stress_progress_fn progress; /* called during runs (for a progress bar) */
    void *progress_user;
} aw_stress_plan;

typedef struct aw_stress_outcome {
    uint32_t runs;
    uint32_t regressions; /* from the comparison */
    bool capacity_found;
    uint32_t capacity;
} aw_stress_outcome;

/* Runs the plan: starts the profiler (unless compiled out or already running), runs each entity
 * count on one shared job system, prints the table, writes JSON, trace and plot, searches the
 * capacity and compares, as asked. Fails on the first error. */
aw_status aw_stress_execute(const aw_stress_plan *plan, aw_stress_outcome *outcome);

#ifdef __cplusplus
}
#endif

#endif /* AW_STRESS_H */
