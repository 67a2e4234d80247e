/* Behavior trees, utility sets, rule sets and GOAP domains from data/ai/squad.json on hand-made
 * situations with known right answers, and the plug-in interface with an asynchronous orchestrator
 * and its fallback. */
#include "ai_test_util.h"

#include "../../src/ai/ai_internal.h"

static ai_fixture f;
static const aw_entity ENEMY = ((aw_entity)1 << 32) | 20u, ALLY = ((aw_entity)1 << 32) | 30u;

static int setup(void **state) {
    (void)state;
    fixture_init(&f, 1);
    load_example(f.ai, "squad.json");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fixture_fini(&f);
    return 0;
}

static void expect_kinds(const aw_plan_intent *p, const aw_action_kind *kinds, uint32_t n) {
    if (p->step_count != n) fail_msg("plan has %u steps, expected %u", p->step_count, n);
    for (uint32_t i = 0; i < n; i++)
        if (p->steps[i].kind != kinds[i])
            fail_msg("step %u is %s, expected %s", i, aw_action_kind_name(p->steps[i].kind), aw_action_kind_name(kinds[i]));
}

static void test_bt_branches(void **state) {
    (void)state;
    uint16_t t = type_index(f.ai, "sentry");
    aw_world_snapshot s;
    aw_plan_intent p;
    /* Enemy seen: mark and strafe in parallel, then a burst of three. */
    base_snapshot(&s, t);
    add_contact(&s, true, ENEMY, (aw_vec3){12, 0, 0}, 100);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_BT, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_MARK_TARGET, AW_ACTION_STRAFE, AW_ACTION_ATTACK, AW_ACTION_ATTACK,
                                        AW_ACTION_ATTACK},
                 5);
    assert_int_equal(p.steps[1].direction, -1);
    assert_true(p.steps[4].target == ENEMY);
    /* Nobody around, empty magazine: the inverter branch reloads. */
    base_snapshot(&s, t);
    s.self.ammo = 0;
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_BT, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_RELOAD}, 1);
    /* Nobody around, loaded: scan, and within its cooldown patrol instead. */
    base_snapshot(&s, t);
    float memory[AW_AI_MEMORY_SLOTS] = {0};
    ai_senses senses;
    const aw_agent_type *type = aw_ai_type(f.ai, t);
    ai_sense(&s, type, &senses);
    aw_plan_intent q;
    memset(&q, 0, sizeof q);
    const ai_bt *tree = &f.ai->lib->trees[type->tree];
    assert_int_equal(ai_bt_tick(tree, &s, &senses, type, memory, &q), AI_BT_SUCCESS);
    expect_kinds(&q, (aw_action_kind[]){AW_ACTION_SCAN}, 1);
    s.time += 2.0;
    memset(&q, 0, sizeof q);
    assert_int_equal(ai_bt_tick(tree, &s, &senses, type, memory, &q), AI_BT_SUCCESS);
    expect_kinds(&q, (aw_action_kind[]){AW_ACTION_PATROL}, 1);
    s.time += 4.0; /* 6 s after the scan: ready again */
    memset(&q, 0, sizeof q);
    ai_bt_tick(tree, &s, &senses, type, memory, &q);
    expect_kinds(&q, (aw_action_kind[]){AW_ACTION_SCAN}, 1);
}

static void test_utility_choices(void **state) {
    (void)state;
    uint16_t t = type_index(f.ai, "medic");
    aw_world_snapshot s;
    aw_plan_intent p;
    /* A downed ally outweighs everything (weight 2). */
    base_snapshot(&s, t);
    s.self.hp = 30;
    add_contact(&s, false, ALLY, (aw_vec3){5, 0, 0}, 0.0f);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_UTILITY, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_REVIVE}, 1);
    assert_true(p.steps[0].target == ALLY);
    /* Hurt with medkits and nobody down: heal self. */
    base_snapshot(&s, t);
    s.self.hp = 20;
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_UTILITY, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_HEAL}, 1);
    /* Healthy, outnumbered 3 to 0, no medkits: retreat scores 1 * mean(1, 0.3)... above hold. */
    base_snapshot(&s, t);
    s.self.hp = 70;
    s.self.medkits = 0;
    for (int i = 0; i < 3; i++) add_contact(&s, true, ENEMY + (aw_entity)i, (aw_vec3){10, 0, (float)i}, 100);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_UTILITY, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_RETREAT}, 1);
    assert_true(p.steps[0].position.x < 0); /* away from the enemies */
    /* Nothing at all: hold. */
    base_snapshot(&s, t);
    s.self.medkits = 0;
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_UTILITY, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_WAIT}, 1);
}

/* The best option whose steps bind wins: a Revive that outscores everything gives way when nobody is
 * down, to the next best (equal scores: the first listed); no option binding fails the plan. */
static void test_utility_falls_through(void **state) {
    (void)state;
    ai_fixture g;
    fixture_init(&g, 1);
    const char *json = "{\"utility_sets\":["
                       "{\"name\":\"carer\",\"options\":["
                       "{\"name\":\"scan\",\"weight\":0.5,\"steps\":[{\"kind\":\"Scan\",\"duration\":1}]},"
                       "{\"name\":\"revive\",\"weight\":2,\"steps\":[\"Revive\"]},"
                       "{\"name\":\"wait\",\"weight\":1,\"steps\":[{\"kind\":\"Wait\",\"duration\":1}]},"
                       "{\"name\":\"wait_longer\",\"weight\":1,"
                       "\"steps\":[{\"kind\":\"Wait\",\"duration\":2}]}]},"
                       "{\"name\":\"stuck\",\"options\":["
                       "{\"name\":\"revive\",\"weight\":2,\"steps\":[\"Revive\"]},"
                       "{\"name\":\"approach\",\"weight\":1,"
                       "\"steps\":[{\"kind\":\"Approach\",\"target\":\"nearest_enemy\"}]}]}],"
                       "\"types\":[{\"name\":\"carer\",\"orchestrator\":\"utility\",\"utility\":\"carer\"},"
                       "{\"name\":\"stuck\",\"orchestrator\":\"utility\",\"utility\":\"stuck\"}]}";
    ASSERT_OK(aw_ai_load_string(g.ai, json, strlen(json), "fall_through.json"));
    aw_world_snapshot s;
    aw_plan_intent p;
    base_snapshot(&s, type_index(g.ai, "carer"));
    assert_int_equal(aw_ai_plan_once(g.ai, AW_ORCHESTRATOR_UTILITY, &s, &p), AW_PLAN_READY);
    assert_int_equal(p.source, AW_ORCHESTRATOR_UTILITY);
    assert_int_equal(p.fallback, 0);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_WAIT}, 1);
    assert_float_equal(p.steps[0].duration, 1.0f, 0);
    /* With somebody down the Revive binds and wins as before. */
    add_contact(&s, false, ALLY, (aw_vec3){5, 0, 0}, 0.0f);
    assert_int_equal(aw_ai_plan_once(g.ai, AW_ORCHESTRATOR_UTILITY, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_REVIVE}, 1);
    /* Nobody down, nobody to approach: nothing binds, and the plan fails (no fallback to hide it). */
    ASSERT_OK(aw_ai_set_fallback(g.ai, AW_ORCHESTRATOR_UTILITY, AW_ORCHESTRATOR_KIND_COUNT));
    base_snapshot(&s, type_index(g.ai, "stuck"));
    assert_int_equal(aw_ai_plan_once(g.ai, AW_ORCHESTRATOR_UTILITY, &s, &p), AW_PLAN_FAILED);
    fixture_fini(&g);
}

static void test_curves(void **state) {
    (void)state;
    ai_consideration lin = {.curve = AI_CURVE_LINEAR, .m = -1, .b = 1};
    assert_float_equal(ai_curve_eval(&lin, 0.25f), 0.75f, 1e-6f);
    ai_consideration quad = {.curve = AI_CURVE_POLYNOMIAL, .m = 1, .k = 2};
    assert_float_equal(ai_curve_eval(&quad, 0.5f), 0.25f, 1e-6f);
    ai_consideration logi = {.curve = AI_CURVE_LOGISTIC, .m = 10, .k = 1, .c = 0.5f};
    assert_float_equal(ai_curve_eval(&logi, 0.5f), 0.5f, 1e-6f);
    assert_true(ai_curve_eval(&logi, 0.9f) > 0.95f);
    ai_consideration step = {.curve = AI_CURVE_STEP, .c = 0.5f, .m = 1, .b = 0};
    assert_float_equal(ai_curve_eval(&step, 0.49f), 0.0f, 0);
    assert_float_equal(ai_curve_eval(&step, 0.5f), 1.0f, 0);
    assert_float_equal(ai_curve_eval(&lin, NAN), 1.0f, 0); /* NaN input reads as 0 */
    ai_consideration big = {.curve = AI_CURVE_LINEAR, .m = 5};
    assert_float_equal(ai_curve_eval(&big, 1.0f), 1.0f, 0); /* clamped */
}

static void test_rules(void **state) {
    (void)state;
    uint16_t t = type_index(f.ai, "follower");
    aw_world_snapshot s;
    aw_plan_intent p;
    base_snapshot(&s, t);
    s.commander = (aw_ai_commander){.id = ALLY, .position = {1, 0, 1}, .order = AW_ORDER_RETREAT,
                                    .order_position = {-40, 0, 5}};
    add_contact(&s, true, ENEMY, (aw_vec3){5, 0, 0}, 100);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_RULE, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_MOVE_TO}, 1);
    assert_float_equal(p.steps[0].position.x, -40, 0);
    s.commander.order = AW_ORDER_NONE;
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_RULE, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_ATTACK}, 1);
    base_snapshot(&s, t);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_RULE, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_PATROL}, 1);
}

static void test_goap_domain_from_file(void **state) {
    (void)state;
    uint16_t t = type_index(f.ai, "assaulter");
    aw_world_snapshot s;
    aw_plan_intent p;
    /* In range with cover nearby: mark (0.5) + cover (1.5) + aimed shot (1) = 3 beats mark + suppress
     * (3.5). */
    base_snapshot(&s, t);
    add_contact(&s, true, ENEMY, (aw_vec3){10, 0, 0}, 100);
    s.obstacles[0] = (aw_aabb){{-4, 0, 2}, {-2, 2, 4}};
    s.obstacle_count = 1;
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &p), AW_PLAN_READY);
    assert_int_equal(p.step_count, 3);
    int mark = -1, cover = -1, shot = -1;
    for (int i = 0; i < 3; i++) {
        if (p.steps[i].kind == AW_ACTION_MARK_TARGET) mark = i;
        if (p.steps[i].kind == AW_ACTION_TAKE_COVER) cover = i;
        if (p.steps[i].kind == AW_ACTION_AIMED_SHOT) shot = i;
    }
    assert_true(mark >= 0 && cover >= 0 && shot > cover);
    /* Without cover: mark and suppress. */
    s.obstacle_count = 0;
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &p), AW_PLAN_READY);
    assert_int_equal(p.step_count, 2);
    assert_true(p.steps[0].kind == AW_ACTION_COVER_FIRE || p.steps[1].kind == AW_ACTION_COVER_FIRE);
    /* Nobody around: scan to find someone. */
    base_snapshot(&s, t);
    assert_int_equal(aw_ai_plan_once(f.ai, AW_ORCHESTRATOR_GOAP, &s, &p), AW_PLAN_READY);
    expect_kinds(&p, (aw_action_kind[]){AW_ACTION_SCAN}, 1);
}

/* An orchestrator that answers on the third call, like a remote model. */
typedef struct slow_ctx {
    int calls;
} slow_ctx;

static aw_plan_status slow_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    slow_ctx *c = ctx;
    if (++c->calls < 3) return AW_PLAN_PENDING;
    memset(out, 0, sizeof *out);
    out->step_count = 1;
    out->steps[0].kind = AW_ACTION_SCAN;
    out->steps[0].duration = 1.0f;
    (void)req;
    return AW_PLAN_READY;
}

static void test_async_orchestrator_with_fallback(void **state) {
    (void)state;
    ai_fixture g;
    fixture_init(&g, 1);
    slow_ctx sc = {0};
    aw_orchestrator o = {.kind = AW_ORCHESTRATOR_LLM, .ctx = &sc, .plan = slow_plan};
    snprintf(o.name, sizeof o.name, "slow");
    ASSERT_OK(aw_ai_set_orchestrator(g.ai, &o));
    assert_int_equal(aw_ai_get_orchestrator(g.ai, AW_ORCHESTRATOR_LLM)->fallback, AW_ORCHESTRATOR_GOAP);
    const char *json = "{\"types\":[{\"name\":\"remote\",\"orchestrator\":\"llm\"}]}";
    ASSERT_OK(aw_ai_load_string(g.ai, json, strlen(json), "t"));
    ASSERT_OK(aw_ai_register_systems(g.ai));
    aw_entity e = aw_ai_spawn(g.ai, (uint32_t)aw_ai_type_find(g.ai, "remote"), 0, (aw_vec3){0, 0, 0});
    assert_true(e != AW_ENTITY_NULL);
    aw_ai_ids ids = aw_ai_get_ids(g.ai);
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    const aw_ai_plan *plan = aw_entity_get_const(g.world, e, ids.plan);
    assert_int_equal(plan->waiting, 1);
    assert_int_equal(plan->intent.fallback, 1); /* GOAP's plan runs meanwhile */
    assert_int_equal(plan->intent.source, AW_ORCHESTRATOR_GOAP);
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    plan = aw_entity_get_const(g.world, e, ids.plan);
    assert_int_equal(plan->waiting, 0);
    assert_int_equal(plan->intent.source, AW_ORCHESTRATOR_LLM);
    assert_int_equal(plan->intent.fallback, 0);
    assert_int_equal(plan->intent.steps[0].kind, AW_ACTION_SCAN);
    assert_int_equal(sc.calls, 3);
    aw_ai_stats st = aw_ai_get_stats(g.ai);
    assert_true(st.pending >= 2);
    assert_true(st.fallbacks >= 1);
    fixture_fini(&g);
}

static aw_entity forgotten;
static void slow_forget(void *ctx, aw_entity agent) {
    (void)ctx;
    forgotten = agent;
}

/* A dead agent is replaced after its respawn time, and its orchestrator is told to forget it. */
static void test_death_respawn_and_forget(void **state) {
    (void)state;
    ai_fixture g;
    fixture_init(&g, 1);
    slow_ctx sc = {0};
    ASSERT_OK(aw_ai_set_orchestrator(g.ai, &(aw_orchestrator){.kind = AW_ORCHESTRATOR_LLM, .ctx = &sc,
                                                               .plan = slow_plan, .forget = slow_forget}));
    const char *json = "{\"types\":[{\"name\":\"remote\",\"orchestrator\":\"llm\",\"respawn_time\":0.05}]}";
    ASSERT_OK(aw_ai_load_string(g.ai, json, strlen(json), "t"));
    ASSERT_OK(aw_ai_register_systems(g.ai));
    aw_entity e = aw_ai_spawn(g.ai, (uint32_t)aw_ai_type_find(g.ai, "remote"), 1, (aw_vec3){3, 0, 4});
    aw_ai_ids ids = aw_ai_get_ids(g.ai);
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    aw_ai_agent *a = aw_entity_get(g.world, e, ids.agent);
    a->hp = 0.0f; /* as if shot */
    a->respawn_timer = 0.05f;
    for (int i = 0; i < 6; i++) ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    assert_false(aw_entity_alive(g.world, e));
    assert_true(forgotten == e);
    aw_query *q = aw_query_create(g.world, &(aw_query_desc){AW_TERMS(AW_READ(ids.agent))});
    assert_int_equal(aw_query_count(q), 1); /* replaced, same team, full health */
    aw_iter it = aw_query_iter(q);
    assert_true(aw_iter_next(&it));
    const aw_ai_agent *b = AW_COLUMN(&it, aw_ai_agent, 0);
    assert_int_equal(b[0].team, 1);
    assert_float_equal(b[0].hp, 100.0f, 0);
    aw_iter_fini(&it);
    aw_ai_stats st = aw_ai_get_stats(g.ai);
    assert_int_equal(st.respawns, 1);
    fixture_fini(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bt_branches),         cmocka_unit_test(test_utility_choices),
        cmocka_unit_test(test_utility_falls_through),
        cmocka_unit_test(test_curves),              cmocka_unit_test(test_rules),
        cmocka_unit_test(test_goap_domain_from_file), cmocka_unit_test(test_async_orchestrator_with_fallback),
        cmocka_unit_test(test_death_respawn_and_forget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
