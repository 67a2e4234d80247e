/* A whole aw-stress invocation as one library call: profiler session, the runs on one shared
 * job system, the table, JSON, trace, plot, capacity search and comparison. */
#include "aw/profile.h"
#include "stress/stress_internal.h"

#include <stdatomic.h>
#include <string.h>

static const uint32_t default_entities[] = {500, 1000, 2000, 5000};
#define CAPACITY_FRAMES 300u
#define CAPACITY_STALL_MS     2000u /* the stall probe before a capacity search: 2 s, */
#define CAPACITY_STALL_MIN_US 1000u /* gaps of 1 ms and more */
#define CAPACITY_WARMUP 30u

/* Progress over all runs of the plan, from each run's own progress. */
typedef struct plan_progress {
    const aw_stress_plan *plan;
    uint64_t done_before, total;
} plan_progress;

static void forward_progress(void *user, uint32_t done, uint32_t total) {
    plan_progress *p = user;
    (void)total;
    uint64_t all = p->done_before + done;
    p->plan->progress(p->plan->progress_user, (uint32_t)(all > UINT32_MAX ? UINT32_MAX : all),
                      (uint32_t)(p->total > UINT32_MAX ? UINT32_MAX : p->total));
}

static aw_status finish_outputs(const aw_stress_plan *plan, aw_stress_report *report, FILE *table,
                                bool profiling, aw_stress_outcome *outcome) {
    aw_status st = aw_stress_report_print(report, table);
    if (!st && profiling && report->run_count) {
        fprintf(table, "\nhotspots of the last run (%u entities), top 10 zones by total time:\n",
                report->runs[report->run_count - 1].entities);
        st = aw_profile_print_report(table, 10);
    }
    if (!st && plan->json_path) st = aw_stress_report_write_json(report, plan->json_path);
    if (!st && plan->plot_path) st = aw_stress_report_write_svg(report, plan->plot_path);
    if (!st && plan->trace_path) st = aw_profile_write_trace(plan->trace_path);
    if (!st && plan->compare_path) {
        aw_stress_report baseline;
        st = aw_stress_report_read_json(plan->compare_path, &baseline);
        if (!st) {
            aw_stress_compare_result cmp;
            st = aw_stress_compare(&baseline, report, plan->compare_threshold, table, &cmp);
            outcome->regressions = cmp.regressions;
            aw_stress_report_free(&baseline);
        }
    }
    fflush(table);
    return st;
}

/* Names the job system's threads in the trace. Each of `threads` ranges names the thread that
 * runs it after its worker index, then waits (up to 50 ms) until every thread has taken one, so
 * that no thread can take two while another sleeps. The job system naming its own workers would
 * make this unnecessary. */
typedef struct naming {
    _Atomic uint64_t seen; /* bit per worker index (the first 64) */
    uint32_t threads;
} naming;

static void name_worker(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)begin;
    (void)end;
    naming *n = ctx;
    char name[32];
    snprintf(name, sizeof name, worker ? "worker %u" : "main", worker);
    aw_profile_thread_name(name);
    atomic_fetch_or(&n->seen, 1ull << (worker & 63u));
    uint64_t deadline = aw_time_ns() + 50000000u;
    while ((uint32_t)__builtin_popcountll(atomic_load(&n->seen)) < n->threads && aw_time_ns() < deadline) {
    }
}

aw_status aw_stress_execute(const aw_stress_plan *plan, aw_stress_outcome *outcome) {
    aw_stress_outcome ignored;
    if (!outcome) outcome = &ignored;
    *outcome = (aw_stress_outcome){0};
    if (!plan) return aw_error(AW_ERR_INVALID_ARG, "aw_stress_execute: plan is NULL");
    const char *name = plan->scenario ? plan->scenario : "seed-profile";
    const aw_stress_scenario *scenario = aw_stress_scenario_find(name);
    if (!scenario) return aw_error(AW_ERR_NOT_FOUND, "aw_stress_execute: no scenario named '%s'", name);
    if (!(plan->compare_threshold >= 0.0) || plan->compare_threshold > 100.0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_execute: compare threshold %g is out of range",
                        plan->compare_threshold);
    const uint32_t *entities = plan->entities;
    uint32_t count = plan->entity_count;
    if (!entities || !count) {
        entities = plan->capacity ? NULL : default_entities;
        count = plan->capacity ? 0 : (uint32_t)(sizeof default_entities / sizeof default_entities[0]);
    }
    for (uint32_t i = 0; i < count; i++)
        if (!entities[i])
            return aw_error(AW_ERR_INVALID_ARG, "aw_stress_execute: entity count %u is zero", i);

    /* The profiler is what breaks frames down by system; a build without it still runs. */
    bool started = false;
    if (!aw_profile_active()) {
        aw_status pst = aw_profile_start(
            &(aw_profile_desc){.trace = plan->trace_path != NULL, .process_name = "aw-stress"});
        if (pst == AW_OK)
            started = true;
        else if (plan->trace_path || pst != AW_ERR_UNSUPPORTED)
            return aw_error(pst, "aw_stress_execute: %s", aw_last_error());
    }
    bool profiling = aw_profile_active();
    aw_profile_thread_name("main");
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = plan->threads});
    if (!jobs) {
        aw_status st = aw_last_status();
        if (started) aw_profile_stop();
        return st;
    }
    uint32_t threads = aw_jobs_thread_count(jobs);
    if (profiling && threads > 1) {
        naming n = {.threads = threads < 64 ? threads : 64};
        aw_jobs_parallel_for(jobs, n.threads, 1, name_worker, &n);
    }
    FILE *table = plan->json_path && strcmp(plan->json_path, "-") == 0 ? stderr : stdout;
    aw_stress_report report;
    aw_stress_report_init(&report, scenario->name, threads);
    /* The instrument's own cost, measured before any worker records: per-system times include it. */
    if (profiling) report.zone_cost_ns = aw_profile_zone_cost_ns(20000);
    if (threads > 1) report.roundtrip_before_ns = aw_profile_core_roundtrip_ns();

    aw_stress_desc base = {.scenario = scenario,
                           .frames = plan->frames,
                           .warmup = plan->warmup,
                           .jobs = jobs,
                           .seed = plan->seed,
                           .keep_samples = plan->plot_path != NULL};
    plan_progress progress = {.plan = plan};
    uint32_t frames = plan->frames ? plan->frames : 2000u;
    uint32_t warmup = plan->warmup == AW_STRESS_NO_WARMUP ? 0 : plan->warmup ? plan->warmup : 100u;
    progress.total = (uint64_t)count * (frames + warmup);
    if (plan->progress) {
        base.progress = forward_progress;
        base.progress_user = &progress;
    }
    aw_status st = AW_OK;
    for (uint32_t i = 0; i < count && !st; i++) {
        aw_stress_desc d = base;
        d.entities = entities[i];
        aw_stress_result r;
        st = aw_stress_run(&d, &r);
        if (!st) {
            st = aw_stress_report_add(&report, &r);
            if (st) aw_stress_result_free(&r);
        }
        progress.done_before += frames + warmup;
        outcome->runs++;
    }
    if (!st && plan->capacity) {
        /* Probes run many counts; without explicit frame counts they use shorter runs. */
        aw_stress_desc d = base;
        d.entities = count ? entities[0] : 1000u;
        d.frames = plan->frames ? plan->frames : CAPACITY_FRAMES;
        d.warmup = plan->warmup ? plan->warmup : CAPACITY_WARMUP;
        d.progress = NULL;
        report.stalls = aw_profile_host_stalls(CAPACITY_STALL_MS, CAPACITY_STALL_MIN_US);
        report.has_stalls = true;
        st = aw_stress_find_capacity(&d, AW_STRESS_BUDGET_MS, 0, &report.capacity);
        if (!st) {
            report.has_capacity = true;
            outcome->capacity_found = report.capacity.entities > 0;
            outcome->capacity = report.capacity.entities;
        }
    }
    if (!st && threads > 1) report.roundtrip_after_ns = aw_profile_core_roundtrip_ns();
    if (!st) st = finish_outputs(plan, &report, table, profiling, outcome);
    aw_stress_report_free(&report);
    aw_jobs_destroy(jobs);
    if (started) aw_profile_stop();
    return st;
}
