/* Capacity search: the largest entity count whose p99 frame time fits the budget, by doubling
 * until a run fails, then bisecting between the last pass and the first failure. */
#include "stress/stress_internal.h"

#include <math.h>

#define MAX_ENTITIES_DEFAULT (16u << 20)

/* One probe; a count the machine cannot hold (out of memory) fails rather than aborting. */
static aw_status probe(const aw_stress_desc *base, uint32_t entities, double budget, aw_stress_capacity *c,
                       bool *pass) {
    aw_stress_desc d = *base;
    d.entities = entities;
    d.abort_over_ms = budget;
    d.keep_samples = false;
    aw_stress_result r;
    aw_status st = aw_stress_run(&d, &r);
    double p99 = r.frame_ms.p99;
    if (st == AW_ERR_OUT_OF_MEMORY) {
        st = AW_OK;
        p99 = INFINITY;
        r.aborted = true;
    }
    aw_stress_result_free(&r);
    if (st) return st;
    *pass = !r.aborted && p99 <= budget;
    if (c->probe_count < sizeof c->probes / sizeof c->probes[0])
        c->probes[c->probe_count++] = (aw_stress_probe){.entities = entities, .p99_ms = p99, .pass = *pass};
    if (*pass && entities > c->entities) {
        c->entities = entities;
        c->p99_ms = p99;
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
