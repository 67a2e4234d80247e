/* The built-in orchestrators (rule, utility, GOAP, behavior tree) behind the plug-in interface, and
 * the call that runs an agent's orchestrator with its fallback. */
#include "ai/ai_internal.h"

#include <string.h>

static void begin(aw_plan_intent *out, const aw_plan_request *req, aw_orchestrator_kind kind) {
    memset(out, 0, sizeof *out);
    out->plan_id = req->plan_id;
    out->source = (uint8_t)kind;
}

/* Binds templates in order; the plan stops at the first that does not bind. */
static uint32_t bind_all(const ai_step_template *steps, uint32_t count, const aw_plan_request *req,
                         const ai_senses *senses, aw_plan_intent *out) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < count && n < AW_AI_MAX_STEPS; i++) {
        if (!ai_bind_step(&steps[i], req->snapshot, senses, req->type, &out->steps[n])) break;
        n++;
    }
    out->step_count = (uint8_t)n;
    return n;
}

aw_plan_status ai_plan_rule(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    const aw_ai *ai = ctx;
    const aw_agent_type *t = req->type;
    const ai_rule_set *set = &ai->lib->rule_sets[t->rules];
    ai_senses senses;
    ai_sense(req->snapshot, t, &senses);
    begin(out, req, AW_ORCHESTRATOR_RULE);
    for (uint32_t i = 0; i < set->rule_count; i++) {
        const ai_rule *r = &set->rules[i];
        if ((senses.facts & r->when_mask) != r->when_value) continue;
        if (bind_all(r->steps, r->step_count, req, &senses, out)) return AW_PLAN_READY;
    }
    return AW_PLAN_FAILED;
}

aw_plan_status ai_plan_utility(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    const aw_ai *ai = ctx;
    const aw_agent_type *t = req->type;
    const ai_utility_set *set = &ai->lib->utility[t->utility];
    ai_senses senses;
    ai_sense(req->snapshot, t, &senses);
    begin(out, req, AW_ORCHESTRATOR_UTILITY);
    float scores[AI_MAX_OPTIONS];
    /* Best first; an option whose steps do not bind (Revive with nobody down) gives way to the next. */
    int i = ai_utility_select(set, &senses, scores);
    while (i >= 0) {
        const ai_utility_option *o = &set->options[i];
        if (bind_all(o->steps, o->step_count, req, &senses, out)) return AW_PLAN_READY;
        scores[i] = 0.0f; /* tried */
        i = ai_utility_next(scores, set->option_count);
    }
    return AW_PLAN_FAILED;
}

aw_plan_status ai_plan_goap(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    const aw_ai *ai = ctx;
    const aw_agent_type *t = req->type;
    const ai_goap_domain *d = &ai->lib->domains[t->domain];
    ai_worker *w = ai_worker_of(ai, req->worker);
    ai_senses senses;
    ai_sense(req->snapshot, t, &senses);
    begin(out, req, AW_ORCHESTRATOR_GOAP);
    uint64_t state = ai_goap_state(d, &senses);
    for (uint32_t g = 0; g < d->goal_count; g++) {
        const ai_goap_goal *goal = &d->goals[g];
        if ((state & goal->when_mask) != goal->when_value) continue;
        if ((state & goal->goal_mask) == goal->goal_value) continue;
        uint8_t actions[AW_AI_MAX_STEPS];
        bool hit = false;
        int len = ai_goap_plan_cached(d, state, g, w->goap, actions, NULL, &hit);
        if (hit) w->stats.goap_cache_hits++;
        else w->stats.goap_cache_misses++;
        /* A plan cut to fit the intent would stop short of the goal: a longer one counts as none. */
        if (len <= 0 || len > (int)AW_AI_MAX_STEPS) continue;
        ai_step_template steps[AW_AI_MAX_STEPS];
        for (int i = 0; i < len; i++) steps[i] = d->actions[actions[i]].step;
        if (bind_all(steps, (uint32_t)len, req, &senses, out)) return AW_PLAN_READY;
    }
    return AW_PLAN_FAILED;
}

aw_plan_status ai_plan_bt(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    const aw_ai *ai = ctx;
    const aw_agent_type *t = req->type;
    ai_senses senses;
    ai_sense(req->snapshot, t, &senses);
    begin(out, req, AW_ORCHESTRATOR_BT);
    ai_bt_status st = ai_bt_tick(&ai->lib->trees[t->tree], req->snapshot, &senses, t,
                                 req->memory_count >= AW_AI_MEMORY_SLOTS ? req->memory : NULL, out);
    return st == AI_BT_SUCCESS && out->step_count ? AW_PLAN_READY : AW_PLAN_FAILED;
}

aw_plan_status ai_plan_with_fallback(aw_ai *ai, aw_orchestrator_kind kind, const aw_plan_request *req,
                                     aw_plan_intent *out, bool *used_fallback, ai_worker *w, bool poll) {
    *used_fallback = false;
    const aw_orchestrator *o = (unsigned)kind < AW_ORCHESTRATOR_KIND_COUNT ? &ai->orchestrators[kind] : NULL;
    aw_plan_status st = o && o->plan ? o->plan(o->ctx, req, out) : AW_PLAN_FAILED;
    if (st == AW_PLAN_READY) {
        out->plan_id = req->plan_id;
        out->source = (uint8_t)kind;
        out->fallback = 0;
        if (out->step_count > AW_AI_MAX_STEPS) out->step_count = AW_AI_MAX_STEPS;
        w->stats.plans++;
        return st;
    }
    if (st == AW_PLAN_PENDING) {
        w->stats.pending++;
        if (poll) return st; /* the fallback plan made when it was asked is still running */
    }
    aw_orchestrator_kind fb = o ? o->fallback : AW_ORCHESTRATOR_GOAP;
    if ((unsigned)fb >= AW_ORCHESTRATOR_KIND_COUNT || fb == kind || !ai->orchestrators[fb].plan) return st;
    const aw_orchestrator *f = &ai->orchestrators[fb];
    if (f->plan(f->ctx, req, out) == AW_PLAN_READY) {
        out->plan_id = req->plan_id;
        out->source = (uint8_t)fb;
        out->fallback = 1;
        if (out->step_count > AW_AI_MAX_STEPS) out->step_count = AW_AI_MAX_STEPS;
        *used_fallback = true;
        w->stats.plans++;
        w->stats.fallbacks++;
    }
    return st;
}
