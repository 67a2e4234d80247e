/* Comparison of a stress report with a saved one: a ratio per metric and a verdict for each,
 * so a regression names the entity count, the metric and how much worse it got. */
#include "stress/stress_internal.h"

#include <math.h>
#include <string.h>

const char *stress_verdict_str(aw_stress_verdict v) {
    switch (v) {
    case AW_STRESS_SAME:
        return "ok";
    case AW_STRESS_IMPROVED:
        return "better";
    case AW_STRESS_REGRESSED:
        return "REGRESSION";
    default:
        return "info";
    }
}

typedef struct compare_ctx {
    FILE *out;
    double threshold;
    aw_stress_compare_result *res;
} compare_ctx;

/* Lower is better for every metric compared. A metric that was zero and is no longer (a
 * steady state that started allocating) is a regression of infinite ratio. */
static void metric(compare_ctx *c, uint32_t entities, const char *name, double base, double cur,
                   bool info_only) {
    double ratio = base > 0.0 ? cur / base : cur > 0.0 ? INFINITY : 1.0;
    aw_stress_verdict v = AW_STRESS_SAME;
    if (info_only)
        v = AW_STRESS_INFO;
    else if (ratio > 1.0 + c->threshold)
        v = AW_STRESS_REGRESSED;
    else if (ratio < 1.0 - c->threshold)
        v = AW_STRESS_IMPROVED;
    c->res->metrics++;
    if (v == AW_STRESS_REGRESSED) c->res->regressions++;
    if (v == AW_STRESS_IMPROVED) c->res->improvements++;
    if (!c->out) return;
    char pct[32] = "";
    if (v == AW_STRESS_REGRESSED || v == AW_STRESS_IMPROVED) {
        if (isfinite(ratio))
            snprintf(pct, sizeof pct, " (%+.1f%%)", (ratio - 1.0) * 100.0);
        else
            snprintf(pct, sizeof pct, " (was 0)");
    }
    fprintf(c->out, "%9u  %-28.28s %12.5g %12.5g %8.3f  %s%s\n", entities, name, base, cur, ratio,
            stress_verdict_str(v), pct);
}

static const aw_stress_result *find_run(const aw_stress_report *r, uint32_t entities) {
    for (uint32_t i = 0; i < r->run_count; i++)
        if (r->runs[i].entities == entities) return &r->runs[i];
    return NULL;
}

static void compare_run(compare_ctx *c, const aw_stress_result *b, const aw_stress_result *x) {
    uint32_t n = x->entities;
    metric(c, n, "frame mean ms", b->frame_ms.mean, x->frame_ms.mean, false);
    metric(c, n, "frame p50 ms", b->frame_ms.p50, x->frame_ms.p50, false);
    metric(c, n, "frame p95 ms", b->frame_ms.p95, x->frame_ms.p95, false);
    metric(c, n, "frame p99 ms", b->frame_ms.p99, x->frame_ms.p99, false);
    metric(c, n, "frame max ms", b->frame_ms.max, x->frame_ms.max, true);
    metric(c, n, "allocs per frame", b->allocs_per_frame, x->allocs_per_frame, false);
    metric(c, n, "bytes per frame", b->bytes_per_frame, x->bytes_per_frame, false);
    metric(c, n, "peak RSS MB", b->peak_rss_mb, x->peak_rss_mb, false);
    for (uint32_t k = 0; k < x->system_count; k++) {
        for (uint32_t j = 0; j < b->system_count; j++) {
            if (strcmp(b->systems[j].name, x->systems[k].name) != 0) continue;
            char name[AW_STRESS_NAME_SIZE + 16];
            snprintf(name, sizeof name, "%s mean us", x->systems[k].name);
            metric(c, n, name, b->systems[j].mean_us, x->systems[k].mean_us, false);
        }
    }
    /* Same workload, different end state: the simulation itself changed. */
    if (b->frames == x->frames && b->warmup == x->warmup && b->seed == x->seed &&
        b->world_hash != x->world_hash) {
        c->res->metrics++;
        c->res->regressions++;
        if (c->out)
            fprintf(
                c->out,
                "%9u  %-28s %12.12llx %12.12llx %8s  REGRESSION (world hash changed: same frames and seed, "
                "different result)\n",
                n, "world hash", (unsigned long long)b->world_hash, (unsigned long long)x->world_hash, "-");
    }
}

aw_status aw_stress_compare(const aw_stress_report *baseline, const aw_stress_report *current,
                            double threshold, FILE *out, aw_stress_compare_result *result) {
    if (!baseline || !current)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_compare: both reports are required");
    if (!(threshold >= 0.0) || threshold > 100.0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_compare: threshold %g is not in [0, 100]", threshold);
    aw_stress_compare_result res = {0};
    compare_ctx c = {.out = out, .threshold = threshold > 0.0 ? threshold : 0.10, .res = &res};
    if (out) {
        fprintf(out, "\ncompare with baseline (%s, %u thread%s; threshold %.1f%%, lower is better):\n",
                baseline->scenario, baseline->threads, baseline->threads == 1 ? "" : "s",
                c.threshold * 100.0);
        if (strcmp(baseline->scenario, current->scenario) != 0)
            fprintf(out, "warning: the baseline ran scenario '%s', this run '%s'\n", baseline->scenario,
                    current->scenario);
        if (baseline->threads != current->threads)
            fprintf(out, "warning: the baseline ran on %u threads, this run on %u\n", baseline->threads,
                    current->threads);
        fprintf(out, "%9s  %-28s %12s %12s %8s  %s\n", "entities", "metric", "baseline", "current", "ratio",
                "verdict");
    }
    for (uint32_t i = 0; i < current->run_count; i++) {
        const aw_stress_result *x = &current->runs[i], *b = find_run(baseline, x->entities);
        if (!b) {
            res.unmatched++;
            if (out) fprintf(out, "%9u  no baseline run with this entity count\n", x->entities);
            continue;
        }
        compare_run(&c, b, x);
    }
    for (uint32_t i = 0; i < baseline->run_count; i++)
        if (!find_run(current, baseline->runs[i].entities)) res.unmatched++;
    if (out) {
        if (res.regressions)
            fprintf(out, "verdict: %u regression%s beyond %.1f%% (of %u metrics compared)\n", res.regressions,
                    res.regressions == 1 ? "" : "s", c.threshold * 100.0, res.metrics);
        else
            fprintf(out, "verdict: no regression beyond %.1f%% (%u metrics compared, %u better)\n",
                    c.threshold * 100.0, res.metrics, res.improvements);
    }
    if (result) *result = res;
    return out && ferror(out) ? aw_error(AW_ERR_IO, "aw_stress_compare: write failed") : AW_OK;
}
