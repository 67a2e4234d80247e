/* Capacity search: the largest entity count whose p99 frame time fits the budget, by doubling
 * until a count fails, then bisecting between the last pass and the first failure; each count is
 * judged by the majority of up to three runs. */
#include "stress/stress_internal.h"

#include <math.h>

#define MAX_ENTITIES_DEFAULT (16u << 20)

/* One run at `entities`: its p99 (over the frames run when it stopped early over budget; INFINITY
 * when the machine could not hold the count: out of memory fails the run, not the search). */
static aw_status run_once(const aw_stress_desc *base, uint32_t entities, double budget, double *p99) {
    aw_stress_desc d = *base;
    d.entities = entities;
    d.abort_over_ms = budget;
    d.keep_samples = false;
    aw_stress_result r;
    aw_status st = aw_stress_run(&d, &r);
    *p99 = r.frame_ms.p99;
    if (r.aborted && !(*p99 > budget)) *p99 = INFINITY; /* stopped: a failure whatever its frames say */
    aw_stress_result_free(&r);
    if (st == AW_ERR_OUT_OF_MEMORY) {
        *p99 = INFINITY;
        return AW_OK;
    }
    return st;
}

/* One count: runs until two agree (two or three runs); the middle p99 of three, or the worse of
 * two that pass, or the better of two that fail, is the one reported. */
static aw_status probe(const aw_stress_desc *base, uint32_t entities, double budget, aw_stress_capacity *c,
                       bool *pass) {
    aw_stress_probe pr = {.entities = entities};
    uint32_t passes = 0;
    while (passes < 2 && pr.runs - passes < 2) {
        aw_status st = run_once(base, entities, budget, &pr.run_p99_ms[pr.runs]);
        if (st) return st;
        passes += pr.run_p99_ms[pr.runs++] <= budget;
    }
    pr.pass = passes >= 2;
    double v[AW_STRESS_PROBE_RUNS];
    for (uint32_t i = 0; i < pr.runs; i++) v[i] = pr.run_p99_ms[i];
    for (uint32_t i = 1; i < pr.runs; i++) /* sorted: the middle of three, or one of two */
        for (uint32_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    pr.p99_ms = pr.runs == 3 ? v[1] : pr.pass ? v[1] : v[0];
    *pass = pr.pass;
    if (c->probe_count < sizeof c->probes / sizeof c->probes[0]) c->probes[c->probe_count++] = pr;
    if (pr.pass && entities > c->entities) {
        c->entities = entities;
        c->p99_ms = pr.p99_ms;
    }
    return AW_OK;
}

aw_status aw_stress_find_capacity(const aw_stress_desc *desc, double budget_ms, uint32_t max_entities,
                                  aw_stress_capacity *out) {
    if (!desc || !out)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_find_capacity: desc and out are required");
    if (!(budget_ms >= 0.0))
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_find_capacity: budget must be >= 0");
    *out = (aw_stress_capacity){.budget_ms = budget_ms > 0.0 ? budget_ms : AW_STRESS_BUDGET_MS};
    uint32_t limit = max_entities ? max_entities : MAX_ENTITIES_DEFAULT;
    uint32_t n = desc->entities ? desc->entities : 1000u;
    if (n > limit) n = limit;
    uint32_t lo = 0, hi = 0; /* lo passed (0: none yet), hi failed (0: none yet) */
    bool pass = false;
    aw_status st;
    for (;;) {
        if ((st = probe(desc, n, out->budget_ms, out, &pass))) return st;
        if (!pass) {
            hi = n;
            break;
        }
        lo = n;
        if (n == limit) return AW_OK; /* passes at the limit: the capacity is at least that */
        n = n > limit / 2 ? limit : n * 2;
    }
    /* Bisect until the gap is within 1% of the passing count. */
    while (hi - lo > 1 && hi - lo > lo / 100u) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((st = probe(desc, mid, out->budget_ms, out, &pass))) return st;
        if (pass)
            lo = mid;
        else
            hi = mid;
    }
    return AW_OK;
}
