/* Tool validation, one category at a time, against a real world (targets, ranges, physics line of
 * sight, obstacles, bounds), and the systems' side: a refused step raises an event with its category
 * and never runs, and a step's amount never lifts its type's limits (MoveTo speed, Heal hp). */
#include "ai_test_util.h"

#include "aw/ai_llm.h"

#include "../../src/ai/ai_internal.h" /* the type's perception radius */

static ai_fixture f;
static aw_entity self_e, enemy, ally, far_enemy, hidden_enemy;
static uint16_t soldier;

static int setup(void **state) {
    (void)state;
    fixture_init(&f, 1);
    load_example(f.ai, "squad.json");
    soldier = type_index(f.ai, "soldier");
    self_e = aw_ai_spawn(f.ai, soldier, 0, (aw_vec3){0, 0, 0});
    enemy = aw_ai_spawn(f.ai, soldier, 1, (aw_vec3){10, 0, 0});
    ally = aw_ai_spawn(f.ai, soldier, 0, (aw_vec3){-3, 0, 0});
    far_enemy = aw_ai_spawn(f.ai, soldier, 1, (aw_vec3){0, 0, -28});
    hidden_enemy = aw_ai_spawn(f.ai, soldier, 1, (aw_vec3){0, 0, 12});
    assert_true(self_e && enemy && ally && far_enemy && hidden_enemy);
    /* A wall between self and hidden_enemy. */
    aw_aabb wall = {{-3, -1, 5}, {3, 3, 6}};
    ASSERT_OK(aw_ai_set_obstacles(f.ai, &wall, 1));
    aw_physics_step(f.physics, 0.0f); /* build the grid the queries read */
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fixture_fini(&f);
    return 0;
}

static aw_world_snapshot snap(void) {
    aw_world_snapshot s;
    ASSERT_OK(aw_ai_build_snapshot(f.ai, self_e, &s));
    return s;
}

static aw_action_step step_at(aw_action_kind k, aw_entity target, aw_vec3 pos) {
    aw_action_step st;
    memset(&st, 0, sizeof st);
    st.kind = (uint8_t)k;
    st.target = target;
    st.position = pos;
    return st;
}

static void test_snapshot(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    assert_true(s.self.id == self_e);
    assert_int_equal(s.ally_count, 1);
    assert_true(s.allies[0].id == ally);
    assert_int_equal(s.enemy_count, 3); /* within 30 m, nearest first */
    assert_true(s.enemies[0].id == enemy);
    assert_true(s.enemies[1].id == hidden_enemy);
    assert_true(s.enemies[2].id == far_enemy);
    assert_int_equal(s.obstacle_count, 1);
}

static void test_valid_steps(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    aw_action_step st = step_at(AW_ACTION_ATTACK, enemy, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_VALID);
    st = step_at(AW_ACTION_MOVE_TO, 0, (aw_vec3){20, 0, 20});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_VALID);
    st = step_at(AW_ACTION_HEAL, 0, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_VALID);
}

static void test_out_of_bounds(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    aw_action_step st = step_at(AW_ACTION_MOVE_TO, 0, (aw_vec3){1000, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_OUT_OF_BOUNDS);
    st = step_at(AW_ACTION_MOVE_TO, 0, (aw_vec3){NAN, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_OUT_OF_BOUNDS);
}

static void test_cooldown(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    s.self.cooldowns[AW_COOLDOWN_ATTACK] = 0.4f;
    aw_action_step st = step_at(AW_ACTION_ATTACK, enemy, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_COOLDOWN);
    s.self.cooldowns[AW_COOLDOWN_EXPLOSIVE] = 2.0f;
    st = step_at(AW_ACTION_THROW_EXPLOSIVE, enemy, (aw_vec3){10, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_COOLDOWN);
}

static void test_no_line_of_sight(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    aw_action_step st = step_at(AW_ACTION_ATTACK, hidden_enemy, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_NO_LINE_OF_SIGHT);
    st = step_at(AW_ACTION_MARK_TARGET, hidden_enemy, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_NO_LINE_OF_SIGHT);
}

static void test_insufficient_resource(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    s.self.ammo = 0;
    aw_action_step st = step_at(AW_ACTION_ATTACK, enemy, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_INSUFFICIENT_RESOURCE);
    s.self.reserve_ammo = 0;
    st = step_at(AW_ACTION_RELOAD, 0, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_INSUFFICIENT_RESOURCE);
    s = snap();
    s.self.medkits = 0;
    st = step_at(AW_ACTION_HEAL, 0, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_INSUFFICIENT_RESOURCE);
    s.self.explosives = 0;
    st = step_at(AW_ACTION_THROW_EXPLOSIVE, enemy, (aw_vec3){10, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_INSUFFICIENT_RESOURCE);
}

static void test_invalid_target(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    aw_action_step st = step_at(AW_ACTION_ATTACK, ally, (aw_vec3){0, 0, 0}); /* own side */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_TARGET);
    st = step_at(AW_ACTION_ATTACK, far_enemy, (aw_vec3){0, 0, 0}); /* 28 m > 25 m range */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_TARGET);
    st = step_at(AW_ACTION_ATTACK, ((aw_entity)77 << 32) | 3u, (aw_vec3){0, 0, 0}); /* stale */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_TARGET);
    st = step_at(AW_ACTION_REVIVE, ally, (aw_vec3){0, 0, 0}); /* not downed */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_TARGET);
    st = step_at(AW_ACTION_THROW_EXPLOSIVE, 0, (aw_vec3){0, 0, 40}); /* beyond the throw */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_TARGET);
}

static void test_physics_blocked(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    aw_action_step st = step_at(AW_ACTION_MOVE_TO, 0, (aw_vec3){0, 0, 5.5f}); /* inside the wall */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_PHYSICS_BLOCKED);
    st = step_at(AW_ACTION_TAKE_COVER, 0, (aw_vec3){3.2f, 0, 5.5f}); /* touching it with the body */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_PHYSICS_BLOCKED);
}

static void test_no_path(void **state) {
    (void)state;
    aw_world_snapshot s = snap();
    aw_action_step st = step_at(AW_ACTION_NONE, 0, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_NO_PATH);
    st = step_at(AW_ACTION_RETREAT, 0, (aw_vec3){0, 0, 0}); /* from the nearest enemy */
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_VALID);
    aw_world_snapshot lone = s;
    lone.enemy_count = 0; /* from nothing, to nowhere */
    assert_int_equal(aw_ai_validate_step(f.ai, &lone, &st), AW_INVALID_NO_PATH);
    s.self.agent_type = type_index(f.ai, "follower"); /* its action set has no Heal */
    st = step_at(AW_ACTION_HEAL, 0, (aw_vec3){0, 0, 0});
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_NO_PATH);
    st.kind = 200;
    assert_int_equal(aw_ai_validate_step(f.ai, &s, &st), AW_INVALID_NO_PATH);
}

/* A plug-in rule orchestrator that always orders an attack on the nearest ally. */
static aw_plan_status traitor_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    (void)ctx;
    memset(out, 0, sizeof *out);
    if (!req->snapshot->ally_count) return AW_PLAN_FAILED;
    out->step_count = 1;
    out->steps[0].kind = AW_ACTION_ATTACK;
    out->steps[0].target = req->snapshot->allies[0].id;
    return AW_PLAN_READY;
}

static void test_refusal_event_and_no_execution(void **state) {
    (void)state;
    ai_fixture g;
    fixture_init(&g, 2);
    ASSERT_OK(aw_ai_set_orchestrator(g.ai, &(aw_orchestrator){.kind = AW_ORCHESTRATOR_RULE, .plan = traitor_plan,
                                                               .fallback = AW_ORCHESTRATOR_KIND_COUNT}));
    const char *json = "{\"types\":[{\"name\":\"traitor\",\"orchestrator\":\"rule\"}]}";
    ASSERT_OK(aw_ai_load_string(g.ai, json, strlen(json), "traitor.json"));
    ASSERT_OK(aw_ai_register_systems(g.ai));
    uint32_t t = (uint32_t)aw_ai_type_find(g.ai, "traitor");
    aw_entity a = aw_ai_spawn(g.ai, t, 0, (aw_vec3){0, 0, 0});
    aw_entity b = aw_ai_spawn(g.ai, t, 0, (aw_vec3){2, 0, 0});
    ASSERT_OK(aw_physics_register_system(g.physics, NULL) ? AW_OK : aw_last_status());
    aw_ai_ids ids = aw_ai_get_ids(g.ai);
    aw_event_cursor cur = {0};
    uint32_t refusals = 0;
    for (int frame = 0; frame < 70; frame++) { /* an agent with no plan waits for its turn (K = 30) */
        ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
        const aw_ai_refusal *r;
        while ((r = aw_event_read(g.world, ids.refusal_event, &cur))) {
            assert_int_equal(r->category, AW_INVALID_TARGET);
            assert_int_equal(r->kind, AW_ACTION_ATTACK);
            assert_true(r->agent == a || r->agent == b);
            refusals++;
        }
    }
    assert_true(refusals >= 2);
    const aw_ai_agent *sa = aw_entity_get_const(g.world, a, ids.agent);
    const aw_ai_agent *sb = aw_entity_get_const(g.world, b, ids.agent);
    assert_float_equal(sa->hp, 100.0f, 0); /* never shot */
    assert_float_equal(sb->hp, 100.0f, 0);
    assert_int_equal(sa->ammo, 30);        /* never fired */
    aw_ai_stats st = aw_ai_get_stats(g.ai);
    assert_true(st.refusals[AW_INVALID_TARGET] >= 2);
    assert_int_equal(st.shots, 0);
    fixture_fini(&g);
}

/* A plug-in orchestrator that answers with a canned LLM answer (none: no plan). */
static aw_plan_status canned_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    const char **answer = ctx;
    if (!*answer) return AW_PLAN_FAILED;
    aw_status st = aw_llm_parse_plan(*answer, strlen(*answer), req->snapshot, out);
    return st == AW_OK ? AW_PLAN_READY : AW_PLAN_FAILED;
}

/* A world with one agent of a type that runs at 4 m/s and heals 30 hp a medkit, planned by `answer`. */
static aw_entity canned_world(ai_fixture *g, const char **answer) {
    fixture_init(g, 1);
    ASSERT_OK(aw_ai_set_orchestrator(g->ai, &(aw_orchestrator){.kind = AW_ORCHESTRATOR_LLM, .ctx = answer,
                                                                .plan = canned_plan,
                                                                .fallback = AW_ORCHESTRATOR_KIND_COUNT}));
    const char *json = "{\"types\":[{\"name\":\"runner\",\"orchestrator\":\"llm\",\"speed\":4,"
                       "\"heal_amount\":30,\"medkits\":4}]}";
    ASSERT_OK(aw_ai_load_string(g->ai, json, strlen(json), "runner.json"));
    ASSERT_OK(aw_ai_register_systems(g->ai));
    ASSERT_OK(aw_physics_register_system(g->physics, NULL) ? AW_OK : aw_last_status());
    aw_entity e = aw_ai_spawn(g->ai, (uint32_t)aw_ai_type_find(g->ai, "runner"), 0, (aw_vec3){0, 0, 0});
    assert_true(e != AW_ENTITY_NULL);
    return e;
}

/* The agent's horizontal speed a frame into the MoveTo that `answer` plans. */
static float move_speed(const char *answer) {
    ai_fixture g;
    aw_entity e = canned_world(&g, &answer);
    aw_ai_ids ids = aw_ai_get_ids(g.ai);
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    const aw_ai_plan *plan = aw_entity_get_const(g.world, e, ids.plan);
    assert_int_equal(plan->intent.steps[0].kind, AW_ACTION_MOVE_TO);
    const aw_velocity *v = aw_entity_get_const(g.world, e, ids.velocity);
    float speed = sqrtf(v->x * v->x + v->z * v->z);
    fixture_fini(&g);
    return speed;
}

/* A MoveTo runs at the speed it asks for up to the type's, and no faster. */
static void test_move_speed_capped(void **state) {
    (void)state;
    const char *fast = "{\"steps\":[{\"kind\":\"MoveTo\",\"position\":[40,0,0],\"amount\":1000}]}";
    const char *slow = "{\"steps\":[{\"kind\":\"MoveTo\",\"position\":[40,0,0],\"amount\":2}]}";
    const char *unset = "{\"steps\":[{\"kind\":\"MoveTo\",\"position\":[40,0,0]}]}";
    assert_float_equal(move_speed(fast), 4.0f, 1e-4f);
    assert_float_equal(move_speed(slow), 2.0f, 1e-4f);
    assert_float_equal(move_speed(unset), 4.0f, 1e-4f);
}

/* The hp of an agent hurt to 10 after the Heal that `heal` plans. */
static float healed_hp(const char *heal) {
    ai_fixture g;
    const char *answer = NULL; /* no plan on the first frame, at full health */
    aw_entity e = canned_world(&g, &answer);
    aw_ai_ids ids = aw_ai_get_ids(g.ai);
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    aw_ai_agent *a = aw_entity_get(g.world, e, ids.agent);
    a->hp = 10.0f;
    answer = heal;
    aw_ai_plan *plan = aw_entity_get(g.world, e, ids.plan);
    plan->trigger = AW_TRIGGER_SCHEDULED + 1; /* plan now rather than at its turn */
    ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    a = aw_entity_get(g.world, e, ids.agent);
    assert_int_equal(a->medkits, 3); /* one used */
    float hp = a->hp;
    fixture_fini(&g);
    return hp;
}

/* A Heal restores what it asks for up to the type's heal amount, and no more. */
static void test_heal_capped(void **state) {
    (void)state;
    const char *big = "{\"steps\":[{\"kind\":\"Heal\",\"target\":\"self\",\"amount\":1000}]}";
    const char *small = "{\"steps\":[{\"kind\":\"Heal\",\"target\":\"self\",\"amount\":5}]}";
    const char *unset = "{\"steps\":[{\"kind\":\"Heal\"}]}";
    assert_float_equal(healed_hp(big), 40.0f, 0);
    assert_float_equal(healed_hp(small), 15.0f, 0);
    assert_float_equal(healed_hp(unset), 40.0f, 0);
}

/* Nearest points of interest and boxes in a snapshot, against a scan of the whole lists sorted by
 * (distance, index): the snapshot reads x-sorted windows, which must not change the answer, ties
 * and boxes wider than the reach included. */
typedef struct ref_item {
    float d;
    uint32_t i;
} ref_item;

static int ref_cmp(const void *a, const void *b) {
    const ref_item *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static float ref_box_distance(const aw_aabb *b, aw_vec3 p) {
    float dx = p.x < b->min.x ? b->min.x - p.x : (p.x > b->max.x ? p.x - b->max.x : 0.0f);
    float dz = p.z < b->min.z ? b->min.z - p.z : (p.z > b->max.z ? p.z - b->max.z : 0.0f);
    return sqrtf(dx * dx + dz * dz);
}

static void test_snapshot_level_lists(void **state) {
    (void)state;
    ai_fixture g;
    fixture_init(&g, 1);
    load_example(g.ai, "squad.json");
    uint16_t type = type_index(g.ai, "soldier");
    float r = aw_ai_type(g.ai, type)->perception_radius;
    aw_rng rng;
    aw_rng_seed(&rng, 99);
    enum { BOXES = 300, POIS = 200, AGENTS = 60 };
    static aw_aabb boxes[BOXES];
    static aw_ai_poi pois[POIS];
    for (uint32_t i = 0; i < BOXES; i++) {
        float cx = aw_rng_float_range(&rng, -80, 80), cz = aw_rng_float_range(&rng, -80, 80);
        float ex = i % 37 == 0 ? aw_rng_float_range(&rng, 20, 60) : aw_rng_float_range(&rng, 0.5f, 3); /* some long walls */
        if (i % 5 == 0 && i) cx = boxes[i - 1].min.x + ex; /* repeated edges: equal distances */
        boxes[i] = (aw_aabb){{cx - ex, 0, cz - 1}, {cx + ex, 3, cz + 1}};
    }
    for (uint32_t i = 0; i < POIS; i++) {
        pois[i] = (aw_ai_poi){(uint32_t)(i % 2 ? AW_POI_COVER : AW_POI_WAYPOINT),
                              {aw_rng_float_range(&rng, -80, 80), 0, aw_rng_float_range(&rng, -80, 80)}};
        if (i % 7 == 0 && i) pois[i].position = pois[i - 1].position; /* duplicates: ties by index */
    }
    ASSERT_OK(aw_ai_set_obstacles(g.ai, boxes, BOXES));
    ASSERT_OK(aw_ai_set_pois(g.ai, pois, POIS));
    aw_entity agents[AGENTS];
    for (uint32_t a = 0; a < AGENTS; a++)
        assert_true(agents[a] = aw_ai_spawn(g.ai, type, (uint8_t)(a & 1),
                                            (aw_vec3){aw_rng_float_range(&rng, -90, 90), 0, aw_rng_float_range(&rng, -90, 90)}));
    aw_physics_step(g.physics, 0.0f);
    static ref_item ref[BOXES + POIS];
    for (uint32_t a = 0; a < AGENTS; a++) {
        aw_world_snapshot s;
        ASSERT_OK(aw_ai_build_snapshot(g.ai, agents[a], &s));
        aw_vec3 p = s.self.position;
        uint32_t n = 0;
        for (uint32_t i = 0; i < POIS; i++) {
            float dx = pois[i].position.x - p.x, dz = pois[i].position.z - p.z, d = sqrtf(dx * dx + dz * dz);
            if (d <= r) ref[n++] = (ref_item){d, i};
        }
        qsort(ref, n, sizeof *ref, ref_cmp);
        assert_int_equal(s.poi_count, n < AW_AI_MAX_POIS ? n : AW_AI_MAX_POIS);
        for (uint32_t k = 0; k < s.poi_count; k++)
            assert_memory_equal(&s.pois[k], &pois[ref[k].i], sizeof(aw_ai_poi));
        n = 0;
        for (uint32_t i = 0; i < BOXES; i++) {
            float d = ref_box_distance(&boxes[i], p);
            if (d <= r) ref[n++] = (ref_item){d, i};
        }
        qsort(ref, n, sizeof *ref, ref_cmp);
        assert_int_equal(s.obstacle_count, n < AW_AI_MAX_OBSTACLES ? n : AW_AI_MAX_OBSTACLES);
        for (uint32_t k = 0; k < s.obstacle_count; k++)
            assert_memory_equal(&s.obstacles[k], &boxes[ref[k].i], sizeof(aw_aabb));
    }
    fixture_fini(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot),          cmocka_unit_test(test_snapshot_level_lists),
        cmocka_unit_test(test_valid_steps),
        cmocka_unit_test(test_out_of_bounds),     cmocka_unit_test(test_cooldown),
        cmocka_unit_test(test_no_line_of_sight),  cmocka_unit_test(test_insufficient_resource),
        cmocka_unit_test(test_invalid_target),    cmocka_unit_test(test_physics_blocked),
        cmocka_unit_test(test_no_path),           cmocka_unit_test(test_refusal_event_and_no_execution),
        cmocka_unit_test(test_move_speed_capped), cmocka_unit_test(test_heal_capped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
