/* GOAP: the cheapest plan on hand-made domains, randomized domains against brute-force search,
 * the plan cache, and the orchestrator on snapshots. */
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

/* Brute force: every action sequence up to `depth`, the cheapest reaching the goal. */
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
        if ((s & act->pre_mask) != act->pre_value) continue;
        brute(d, (s & ~act->effect_mask) | act->effect_value, gm, gv, depth - 1, g + act->cost);
    }
}

static void test_random_domains_match_brute_force(void **state) {
    (void)state;
    static ai_goap_domain d;
    aw_rng rng;
    aw_rng_seed(&rng, 1234);
    const uint32_t depth = 6;
    uint32_t solved = 0, unsolved = 0;
    for (int round = 0; round < 300; round++) {
        memset(&d, 0, sizeof d);
        uint32_t facts = 4 + aw_rng_range(&rng, 5), actions = 4 + aw_rng_range(&rng, 9);
        uint64_t all = (1ull << facts) - 1;
        for (uint32_t a = 0; a < actions; a++) {
            uint64_t pm = aw_rng_u64(&rng) & aw_rng_u64(&rng) & all;
            uint64_t em = aw_rng_u64(&rng) & aw_rng_u64(&rng) & all;
            if (!em) em = 1ull << aw_rng_range(&rng, facts);
            float cost = (float)(1 + aw_rng_range(&rng, 8)) * 0.5f;
            add_action(&d, pm, aw_rng_u64(&rng), em, aw_rng_u64(&rng), cost);
        }
        ai_goap_domain_finish(&d);
        uint64_t start = aw_rng_u64(&rng) & all;
        uint64_t gm = aw_rng_u64(&rng) & all;
        if (!gm) gm = 1;
        uint64_t gv = aw_rng_u64(&rng) & gm;
        uint8_t plan[AW_AI_MAX_STEPS];
        float cost = -1;
        int n = ai_goap_search(&d, start, gm, gv, AW_AI_MAX_STEPS, scratch, plan, &cost);
        best_cost = INFINITY;
        brute(&d, start, gm, gv, depth, 0.0f);
        if (n < 0) {
            /* No plan at all means no sequence of any length reaches it. */
            assert_true(isinf(best_cost));
            unsolved++;
            continue;
        }
        solved++;
        /* The plan replays to the goal at the reported cost. */
        if ((uint32_t)n <= AW_AI_MAX_STEPS) {
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
        }
        /* Never dearer than any sequence brute force found; as cheap when it fits the depth. */
        if (!isinf(best_cost)) assert_true(cost <= best_cost + 1e-4f);
        if ((uint32_t)n <= depth) assert_float_equal(cost, best_cost, 1e-4f);
    }
    assert_true(solved > 100);
    assert_true(unsolved > 0);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cheapest_of_two_routes),
        cmocka_unit_test(test_irrelevant_actions_are_cut),
        cmocka_unit_test(test_random_domains_match_brute_force),
        cmocka_unit_test(test_plan_cache),
        cmocka_unit_test(test_default_domain_on_snapshots),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
