/* GOAP: the cheapest plan on hand-made domains, the depth limit (a plan fits one intent), randomized
 * domains against brute-force search, the plan cache, and the orchestrator on snapshots. */
#include "ai_test_util.h"

#include "../../src/ai/ai_internal.h"

static ai_goap_scratch *scratch;

static int setup(void **state) {
    (void)state;
    scratch = ai_goap_scratch_create(NULL);
    return scratch ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    ai_goap_scratch_destroy(scratch, NULL);
    return 0;
}

static void add_action(ai_goap_domain *d, uint64_t pm, uint64_t pv, uint64_t em, uint64_t ev, float cost) {
    ai_goap_action *a = &d->actions[d->action_count++];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "a%u", d->action_count - 1);
    a->pre_mask = pm, a->pre_value = pv & pm, a->effect_mask = em, a->effect_value = ev & em, a->cost = cost;
    a->step.kind = AW_ACTION_WAIT;
}

static void test_cheapest_of_two_routes(void **state) {
    (void)state;
    static ai_goap_domain d;
    memset(&d, 0, sizeof d);
    enum { A = 1, B = 2, GOAL = 4 };
    add_action(&d, 0, 0, A, A, 1.0f);          /* 0: get a */
    add_action(&d, A, A, GOAL, GOAL, 5.0f);    /* 1: a -> goal, 5 */
    add_action(&d, 0, 0, B, B, 1.0f);          /* 2: get b */
    add_action(&d, B, B, GOAL, GOAL, 1.0f);    /* 3: b -> goal, 1 */
    add_action(&d, 0, 0, GOAL, GOAL, 2.5f);    /* 4: straight to the goal, 2.5 */
    ai_goap_domain_finish(&d);
    uint8_t plan[AW_AI_MAX_STEPS];
    float cost = 0;
    int n = ai_goap_search(&d, 0, GOAL, GOAL, AW_AI_MAX_STEPS, scratch, plan, &cost);
    assert_int_equal(n, 2);
    assert_int_equal(plan[0], 2);
    assert_int_equal(plan[1], 3);
    assert_float_equal(cost, 2.0f, 1e-6f);
    /* Make route b dearer: the single action wins. */
    d.actions[3].cost = 3.0f;
    ai_goap_domain_finish(&d);
    n = ai_goap_search(&d, 0, GOAL, GOAL, AW_AI_MAX_STEPS, scratch, plan, &cost);
    assert_int_equal(n, 1);
    assert_int_equal(plan[0], 4);
    /* Already there: an empty plan. Unreachable: none. */
    assert_int_equal(ai_goap_search(&d, GOAL, GOAL, GOAL, AW_AI_MAX_STEPS, scratch, plan, &cost), 0);
    assert_int_equal(ai_goap_search(&d, 0, 8, 8, AW_AI_MAX_STEPS, scratch, plan, &cost), -1);
}

/* A chain of `length` actions of cost 1 from nothing to bit `length - 1`, actions 0 to length - 1. */
static void add_chain(ai_goap_domain *d, uint32_t length) {
    add_action(d, 0, 0, 1, 1, 1.0f);
    for (uint32_t i = 1; i < length; i++) {
        uint64_t prev = 1ull << (i - 1), next = 1ull << i;
        add_action(d, prev, prev, next, next, 1.0f);
    }
}

/* Ten cheap steps cannot fit one intent: the single dear action is the cheapest plan that does. */
static void test_long_cheap_chain_loses_to_short_plan(void **state) {
    (void)state;
    static ai_goap_domain d;
    memset(&d, 0, sizeof d);
    const uint64_t goal = 1ull << 9;
    add_chain(&d, 10);
    add_action(&d, 0, 0, goal, goal, 100.0f); /* 10: straight to the goal */
    ai_goap_domain_finish(&d);
    uint8_t plan[AW_AI_MAX_STEPS];
    float cost = 0;
    assert_int_equal(ai_goap_search(&d, 0, goal, goal, AW_AI_MAX_STEPS, scratch, plan, &cost), 1);
    assert_int_equal(plan[0], 10);
    assert_float_equal(cost, 100.0f, 1e-6f);
    /* A chain exactly as long as the limit fits, and wins. */
    const uint64_t last = 1ull << (AW_AI_MAX_STEPS - 1);
    int n = ai_goap_search(&d, 0, last, last, AW_AI_MAX_STEPS, scratch, plan, &cost);
    assert_int_equal(n, AW_AI_MAX_STEPS);
    for (uint32_t i = 0; i < AW_AI_MAX_STEPS; i++) assert_int_equal(plan[i], i);
    assert_float_equal(cost, (float)AW_AI_MAX_STEPS, 1e-6f);
}

/* The only plan is longer than the limit: no plan, from the search and from the cache. */
static void test_plan_beyond_the_limit_is_none(void **state) {
    (void)state;
    static ai_goap_domain d;
    memset(&d, 0, sizeof d);
    add_chain(&d, AW_AI_MAX_STEPS + 1);
    const uint64_t goal = 1ull << AW_AI_MAX_STEPS;
    d.goal_count = 1;
    d.goals[0].goal_mask = d.goals[0].goal_value = goal;
    ai_goap_domain_finish(&d);
    uint8_t plan[AW_AI_MAX_STEPS];
    float cost = 0;
    assert_int_equal(ai_goap_search(&d, 0, goal, goal, AW_AI_MAX_STEPS, scratch, plan, &cost), -1);
    bool hit = true;
    ai_goap_cache_clear(scratch);
    assert_int_equal(ai_goap_plan_cached(&d, 0, 0, scratch, plan, &cost, &hit), -1);
    assert_false(hit);
    assert_int_equal(ai_goap_plan_cached(&d, 0, 0, scratch, plan, &cost, &hit), -1);
    assert_true(hit);
    /* One step in: the rest fits. A smaller limit cuts shorter chains the same way. */
    int n = ai_goap_search(&d, 1, goal, goal, AW_AI_MAX_STEPS, scratch, plan, &cost);
    assert_int_equal(n, AW_AI_MAX_STEPS);
    assert_int_equal(ai_goap_search(&d, 0, 4, 4, 3, scratch, plan, &cost), 3);
    assert_int_equal(ai_goap_search(&d, 0, 4, 4, 2, scratch, plan, &cost), -1);
}

/* The cheap way to a state takes too many steps to finish from there: the dear, short way to it must
 * survive the cheap one reaching it later. */
static void test_dearer_shorter_path_to_a_state_is_kept(void **state) {
    (void)state;
    static ai_goap_domain d;
    memset(&d, 0, sizeof d);
    enum { P1 = 1, P2 = 2, X = 4 };
    add_action(&d, 0, 0, P1, P1, 1.0f);           /* 0 */
    add_action(&d, P1, P1, P2, P2, 1.0f);         /* 1 */
    add_action(&d, P2, P2, X | P1 | P2, X, 1.0f); /* 2: only x, in 3 steps, cost 3 */
    add_action(&d, 0, 0, X, X, 10.0f);            /* 3: only x, in 1 step, cost 10 */
    const uint32_t tail = AW_AI_MAX_STEPS - 2; /* steps from x to the goal: 3 + tail is one too many */
    uint64_t prev = X;
    for (uint32_t i = 0; i < tail; i++) {
        uint64_t next = (uint64_t)8 << i;
        add_action(&d, prev, prev, next, next, 1.0f);
        prev = next;
    }
    ai_goap_domain_finish(&d);
    uint8_t plan[AW_AI_MAX_STEPS];
    float cost = 0;
    int n = ai_goap_search(&d, 0, prev, prev, AW_AI_MAX_STEPS, scratch, plan, &cost);
    assert_int_equal(n, 1 + (int)tail);
    assert_int_equal(plan[0], 3);
    assert_float_equal(cost, 10.0f + (float)tail, 1e-6f);
    /* With one step less to go, the cheap way fits. */
    prev >>= 1;
    n = ai_goap_search(&d, 0, prev, prev, AW_AI_MAX_STEPS, scratch, plan, &cost);
    assert_int_equal(n, AW_AI_MAX_STEPS);
    assert_int_equal(plan[0], 0);
    assert_float_equal(cost, (float)AW_AI_MAX_STEPS, 1e-6f);
}

/* Actions that only set bits neither the goal nor any useful precondition reads (cheap ones, which
 * A* would otherwise combine on every plateau) never enter the plan nor grow the search. */
static void test_irrelevant_actions_are_cut(void **state) {
    (void)state;
    static ai_goap_domain d;
    enum { A = 1, GOAL = 2, NOISE = 4 };
    uint8_t plan[AW_AI_MAX_STEPS];
    float cost = 0;
    uint32_t nodes[2];
    for (int with_noise = 0; with_noise < 2; with_noise++) {
        memset(&d, 0, sizeof d);
        if (with_noise)
            for (uint32_t i = 0; i < 6; i++) add_action(&d, 0, 0, (uint64_t)NOISE << i, (uint64_t)NOISE << i, 0.1f);
        uint8_t first = (uint8_t)d.action_count;
        add_action(&d, 0, 0, A, A, 1.0f);       /* get a */
        add_action(&d, A, A, GOAL, GOAL, 1.0f); /* a -> goal */
        if (with_noise) add_action(&d, 0, 0, A, 0, 0.1f); /* drops a: sets no wanted value */
        ai_goap_domain_finish(&d);
        assert_int_equal(ai_goap_search(&d, 0, GOAL, GOAL, AW_AI_MAX_STEPS, scratch, plan, &cost), 2);
        assert_int_equal(plan[0], first);
        assert_int_equal(plan[1], first + 1);
        assert_float_equal(cost, 2.0f, 1e-6f);
        nodes[with_noise] = ai_goap_last_nodes(scratch);
    }
    assert_int_equal(nodes[0], nodes[1]);
}

/* Brute force: every action sequence of at most `depth` actions, the cheapest reaching the goal. */
static float best_cost;
static void brute(const ai_goap_domain *d, uint64_t s, uint64_t gm, uint64_t gv, uint32_t depth, float g) {
    if (g >= best_cost) return;
    if ((s & gm) == gv) {
        best_cost = g;
        return;
    }
    if (!depth) return;
    for (uint32_t a = 0; a < d->action_count; a++) {
        const ai_goap_action *act = &d->actions[a];
        uint64_t next = (s & ~act->effect_mask) | act->effect_value;
        if ((s & act->pre_mask) != act->pre_value || next == s) continue; /* a no-op only adds cost */
        brute(d, next, gm, gv, depth - 1, g + act->cost);
    }
}

/* At every limit from 0 to AW_AI_MAX_STEPS, the search's plan replays to the goal within the limit at
 * the cost brute force finds, and there is none exactly when brute force finds none. Every other
 * domain is a cheap chain through all its facts with a few dear shortcuts: long plans, some past
 * the limit, and limits that cost a cheaper plan. */
static void test_random_domains_match_brute_force(void **state) {
    (void)state;
    static ai_goap_domain d;
    aw_rng rng;
    aw_rng_seed(&rng, 1234);
    uint32_t solved = 0, unsolved = 0, full_length = 0, binding_limits = 0;
    for (int round = 0; round < 1000; round++) {
        memset(&d, 0, sizeof d);
        bool chained = round & 1;
        uint32_t facts = chained ? 6 + aw_rng_range(&rng, 5) : 4 + aw_rng_range(&rng, 5);
        uint32_t random_actions = chained ? 2 + aw_rng_range(&rng, 3) : 4 + aw_rng_range(&rng, 9);
        uint64_t all = (1ull << facts) - 1;
        if (chained) add_chain(&d, facts); /* long plans: cheap, and often past the limit */
        for (uint32_t a = 0; a < random_actions; a++) {
            uint64_t pm = aw_rng_u64(&rng) & aw_rng_u64(&rng) & all;
            uint64_t em = aw_rng_u64(&rng) & aw_rng_u64(&rng) & all;
            if (chained) pm &= aw_rng_u64(&rng), em &= aw_rng_u64(&rng); /* shortcuts: dear, few bits */
            if (!em) em = 1ull << aw_rng_range(&rng, facts);
            float cost = (float)(1 + aw_rng_range(&rng, 8)) * (chained ? 1.5f : 0.5f);
            add_action(&d, pm, aw_rng_u64(&rng), em, aw_rng_u64(&rng), cost);
        }
        ai_goap_domain_finish(&d);
        uint64_t start = aw_rng_u64(&rng) & all;
        uint64_t gm = aw_rng_u64(&rng) & all;
        if (chained) start &= aw_rng_u64(&rng), gm = (gm & aw_rng_u64(&rng)) | 1ull << (facts - 1);
        if (!gm) gm = 1;
        uint64_t gv = aw_rng_u64(&rng) & gm;
        if (chained) gv |= 1ull << (facts - 1);
        float shallower_cost = INFINITY; /* brute force's cost one limit down */
        for (uint32_t limit = 0; limit <= AW_AI_MAX_STEPS; limit++) {
            uint8_t plan[AW_AI_MAX_STEPS];
            float cost = -1;
            int n = ai_goap_search(&d, start, gm, gv, limit, scratch, plan, &cost);
            best_cost = INFINITY;
            brute(&d, start, gm, gv, limit, 0.0f);
            if (isinf(best_cost)) {
                assert_int_equal(n, -1);
                if (limit == AW_AI_MAX_STEPS) unsolved++;
                continue;
            }
            assert_true(n >= 0 && (uint32_t)n <= limit);
            uint64_t s = start;
            float g = 0;
            for (int i = 0; i < n; i++) {
                const ai_goap_action *act = &d.actions[plan[i]];
                assert_true((s & act->pre_mask) == act->pre_value);
                s = (s & ~act->effect_mask) | act->effect_value;
                g += act->cost;
            }
            assert_true((s & gm) == gv);
            assert_float_equal(g, cost, 1e-4f);
            assert_float_equal(cost, best_cost, 1e-4f);
            if (limit == AW_AI_MAX_STEPS) solved++;
            if ((uint32_t)n == AW_AI_MAX_STEPS) full_length++;
            if (!isinf(shallower_cost) && best_cost < shallower_cost) binding_limits++;
            shallower_cost = best_cost;
        }
    }
    /* Enough of each kind: plans, none, plans of the full length, limits that cost a cheaper plan. */
    assert_true(solved > 300);
    assert_true(unsolved > 100);
    assert_true(full_length >= 5);
    assert_true(binding_limits >= 20);
}

static void test_plan_cache(void **state) {
    (void)state;
    static ai_goap_domain d;
    memset(&d, 0, sizeof d);
    add_action(&d, 0, 0, 1, 1, 1.0f);
    add_action(&d, 1, 1, 2, 2, 1.0f);
    d.goal_count = 1;
    d.goals[0].goal_mask = d.goals[0].goal_value = 2;
    ai_goap_domain_finish(&d);
    uint8_t a[AW_AI_MAX_STEPS], b[AW_AI_MAX_STEPS];
    bool hit = true;
    float c1, c2;
    ai_goap_cache_clear(scratch);
    int n1 = ai_goap_plan_cached(&d, 0, 0, scratch, a, &c1, &hit);
    assert_false(hit);
    int n2 = ai_goap_plan_cached(&d, 0, 0, scratch, b, &c2, &hit);
    assert_true(hit);
    assert_int_equal(n1, 2);
    assert_int_equal(n2, 2);
    assert_memory_equal(a, b, 2);
    assert_float_equal(c1, c2, 0);
    ai_goap_plan_cached(&d, 1, 0, scratch, b, &c2, &hit); /* another state: another key */
    assert_false(hit);
}

static void test_default_domain_on_snapshots(void **state) {
    (void)state;
    ai_fixture f;
    fixture_init(&f, 1);
    uint16_t soldier = type_index(f.ai, "soldier");
    aw_world_snapshot s;
    aw_plan_intent plan;
    /* Low hp with a medkit: survive first. */
    base_snapshot(&s, soldier);
    s.self.hp = 20.0f;
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &plan), AW_PLAN_READY);
    assert_int_equal(plan.source, AW_ORCHESTRATOR_GOAP);
    assert_int_equal(plan.steps[0].kind, AW_ACTION_HEAL);
    /* An enemy out of range: approach, then attack (2 + 1.5 beats anything else). */
    base_snapshot(&s, soldier);
    add_contact(&s, true, ((aw_entity)1 << 32) | 7u, (aw_vec3){28, 0, 0}, 100.0f);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &plan), AW_PLAN_READY);
    assert_int_equal(plan.step_count, 2);
    assert_int_equal(plan.steps[0].kind, AW_ACTION_APPROACH);
    assert_int_equal(plan.steps[1].kind, AW_ACTION_ATTACK);
    assert_true(plan.steps[1].target == (((aw_entity)1 << 32) | 7u));
    /* Empty magazine, enemy in range: reload, then attack. */
    base_snapshot(&s, soldier);
    s.self.ammo = 0;
    add_contact(&s, true, ((aw_entity)1 << 32) | 7u, (aw_vec3){10, 0, 0}, 100.0f);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &plan), AW_PLAN_READY);
    assert_int_equal(plan.step_count, 2);
    assert_int_equal(plan.steps[0].kind, AW_ACTION_RELOAD);
    assert_int_equal(plan.steps[1].kind, AW_ACTION_ATTACK);
    fixture_fini(&f);
}

/* A domain in JSON: ten Scan steps of cost 1 from nothing to `done`, then `more` actions (each with
 * its leading comma), then `goals`. */
static int chain_json(char *out, size_t size, const char *name, const char *more, const char *goals) {
    int n = snprintf(out, size, "{\"name\": \"%s\", \"actions\": [", name);
    for (int i = 0; i < 10; i++) {
        char pre[32] = "";
        if (i) snprintf(pre, sizeof pre, "\"p%d\": true", i - 1);
        char effect[32];
        if (i < 9) snprintf(effect, sizeof effect, "\"p%d\": true", i);
        else snprintf(effect, sizeof effect, "\"done\": true");
        n += snprintf(out + n, size - (size_t)n, "%s{\"name\": \"c%d\", \"cost\": 1, \"pre\": {%s}, "
                      "\"effect\": {%s}, \"step\": \"Scan\"}", i ? ", " : "", i, pre, effect);
    }
    return n + snprintf(out + n, size - (size_t)n, "%s], \"goals\": [%s]}", more, goals);
}

/* Through the orchestrator: ten cheap steps would not fit one intent, and the first eight of them
 * would not reach the goal. The dear single step wins; with none, the next goal is planned; with no
 * other goal there is no plan. */
static void test_orchestrator_plans_reach_the_goal(void **state) {
    (void)state;
    static char json[8192];
    int n = snprintf(json, sizeof json, "{\"goap_domains\": [");
    n += chain_json(json + n, sizeof json - (size_t)n, "chain_or_direct",
                    ", {\"name\": \"direct\", \"cost\": 100, \"effect\": {\"done\": true}, "
                    "\"step\": \"Wait\"}",
                    "{\"name\": \"finish\", \"priority\": 1, \"goal\": {\"done\": true}}");
    n += snprintf(json + n, sizeof json - (size_t)n, ", ");
    n += chain_json(json + n, sizeof json - (size_t)n, "chain_then_look",
                    ", {\"name\": \"look\", \"cost\": 1, \"effect\": {\"looked\": true}, "
                    "\"step\": \"Reload\"}",
                    "{\"name\": \"finish\", \"priority\": 2, \"goal\": {\"done\": true}}, "
                    "{\"name\": \"look\", \"priority\": 1, \"goal\": {\"looked\": true}}");
    n += snprintf(json + n, sizeof json - (size_t)n, ", ");
    n += chain_json(json + n, sizeof json - (size_t)n, "chain_only", "",
                    "{\"name\": \"finish\", \"priority\": 1, \"goal\": {\"done\": true}}");
    n += snprintf(json + n, sizeof json - (size_t)n,
                  "], \"types\": ["
                  "{\"name\": \"direct\", \"orchestrator\": \"goap\", \"domain\": \"chain_or_direct\"}, "
                  "{\"name\": \"looker\", \"orchestrator\": \"goap\", \"domain\": \"chain_then_look\"}, "
                  "{\"name\": \"stuck\", \"orchestrator\": \"goap\", \"domain\": \"chain_only\"}]}");
    assert_true(n > 0 && (size_t)n < sizeof json);
    ai_fixture f;
    fixture_init(&f, 1);
    ASSERT_OK(aw_ai_load_string(f.ai, json, (size_t)n, "chains.json"));
    ASSERT_OK(aw_ai_set_fallback(f.ai, AW_ORCHESTRATOR_GOAP, AW_ORCHESTRATOR_KIND_COUNT));
    aw_world_snapshot s;
    aw_plan_intent plan;
    base_snapshot(&s, type_index(f.ai, "direct"));
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &plan), AW_PLAN_READY);
    assert_int_equal(plan.step_count, 1);
    assert_int_equal(plan.steps[0].kind, AW_ACTION_WAIT);
    base_snapshot(&s, type_index(f.ai, "looker"));
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &plan), AW_PLAN_READY);
    assert_int_equal(plan.step_count, 1);
    assert_int_equal(plan.steps[0].kind, AW_ACTION_RELOAD);
    base_snapshot(&s, type_index(f.ai, "stuck"));
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &plan), AW_PLAN_FAILED);
    fixture_fini(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cheapest_of_two_routes),
        cmocka_unit_test(test_long_cheap_chain_loses_to_short_plan),
        cmocka_unit_test(test_plan_beyond_the_limit_is_none),
        cmocka_unit_test(test_dearer_shorter_path_to_a_state_is_kept),
        cmocka_unit_test(test_irrelevant_actions_are_cut),
        cmocka_unit_test(test_random_domains_match_brute_force),
        cmocka_unit_test(test_plan_cache),
        cmocka_unit_test(test_default_domain_on_snapshots),
        cmocka_unit_test(test_orchestrator_plans_reach_the_goal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
