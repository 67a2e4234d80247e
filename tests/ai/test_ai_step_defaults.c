/* Steps with an unset (zero) position get their kind's documented default place whoever planned
 * them, an LLM answer or a plug-in's hand-built intent as much as a data file: Retreat goes away
 * from its target (or the nearest enemy), TakeCover to the nearest cover point, Regroup to the
 * commander or the squad's centre, Patrol along the waypoints, ThrowExplosive at its target. A
 * default with nothing to find is refused with a category; no step walks to the world origin. */
#include "ai_test_util.h"

#include "aw/ai_llm.h"
#include "llm_test_util.h"

#define SELF_AT ((aw_vec3){50, 0, 50})

/* What the subject plans: an LLM answer (parsed against its snapshot), or a hand-built step whose
 * target is one of the entities below. */
typedef struct plan_source {
    const char *answer;
    aw_action_step step;
} plan_source;

static plan_source source;

static aw_plan_status canned_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    const plan_source *s = ctx;
    return aw_llm_parse_plan(s->answer, strlen(s->answer), req->snapshot, out) == AW_OK ? AW_PLAN_READY
                                                                                      : AW_PLAN_FAILED;
}

static aw_plan_status hand_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    (void)req;
    const plan_source *s = ctx;
    memset(out, 0, sizeof *out);
    out->step_count = 1;
    out->steps[0] = s->step;
    return AW_PLAN_READY;
}

/* Everyone but the subject stands still. */
static aw_plan_status idle_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    (void)ctx, (void)req;
    memset(out, 0, sizeof *out);
    out->step_count = 1;
    out->steps[0].kind = AW_ACTION_WAIT;
    out->steps[0].duration = 1.0f;
    return AW_PLAN_READY;
}

typedef struct scene {
    ai_fixture g;
    aw_entity self, near_enemy, far_enemy, ally1, ally2, boss;
    uint32_t idle;
} scene;

/* The subject at (50, 50), planned by the LLM slot (llm) or a plug-in in the utility slot (hand). */
static void scene_init(scene *s, bool llm) {
    memset(s, 0, sizeof *s);
    fixture_init(&s->g, 1);
    aw_ai *ai = s->g.ai;
    aw_orchestrator none = {.fallback = AW_ORCHESTRATOR_KIND_COUNT};
    aw_orchestrator o = none;
    o.kind = llm ? AW_ORCHESTRATOR_LLM : AW_ORCHESTRATOR_UTILITY;
    o.ctx = &source;
    o.plan = llm ? canned_plan : hand_plan;
    ASSERT_OK(aw_ai_set_orchestrator(ai, &o));
    o = none;
    o.kind = AW_ORCHESTRATOR_RULE;
    o.plan = idle_plan;
    ASSERT_OK(aw_ai_set_orchestrator(ai, &o));
    const char *json = llm ? "{\"types\":[{\"name\":\"subject\",\"orchestrator\":\"llm\",\"speed\":4,"
                             "\"perception_radius\":40,\"explosives\":2},"
                             "{\"name\":\"idle\",\"orchestrator\":\"rule\"}]}"
                           : "{\"types\":[{\"name\":\"subject\",\"orchestrator\":\"utility\",\"speed\":4,"
                             "\"perception_radius\":40,\"explosives\":2},"
                             "{\"name\":\"idle\",\"orchestrator\":\"rule\"}]}";
    ASSERT_OK(aw_ai_load_string(ai, json, strlen(json), "defaults.json"));
    ASSERT_OK(aw_ai_register_systems(ai));
    ASSERT_OK(aw_physics_register_system(s->g.physics, NULL) ? AW_OK : aw_last_status());
    s->idle = type_index(ai, "idle");
    s->self = aw_ai_spawn(ai, type_index(ai, "subject"), 0, SELF_AT);
    assert_true(s->self != AW_ENTITY_NULL);
}

/* Two enemies: the nearest 5 m off on -z ("E1"), the other 6 m off on +x ("E2"). */
static void add_enemies(scene *s) {
    s->near_enemy = aw_ai_spawn(s->g.ai, s->idle, 1, (aw_vec3){50, 0, 45});
    s->far_enemy = aw_ai_spawn(s->g.ai, s->idle, 1, (aw_vec3){56, 0, 50});
    assert_true(s->near_enemy && s->far_enemy);
}

/* Two cover points and two waypoints around the subject (nearest of each kind listed first). */
static void add_places(scene *s) {
    aw_ai_poi pois[] = {{AW_POI_COVER, {60, 0, 60}},
                        {AW_POI_COVER, {47, 0, 53}},
                        {AW_POI_WAYPOINT, {70, 0, 70}},
                        {AW_POI_WAYPOINT, {50, 0, 70}}};
    ASSERT_OK(aw_ai_set_pois(s->g.ai, pois, 4));
}

static void add_allies(scene *s) {
    s->ally1 = aw_ai_spawn(s->g.ai, s->idle, 0, (aw_vec3){45, 0, 50});
    s->ally2 = aw_ai_spawn(s->g.ai, s->idle, 0, (aw_vec3){45, 0, 56});
    assert_true(s->ally1 && s->ally2);
}

static void add_commander(scene *s) {
    s->boss = aw_ai_spawn(s->g.ai, s->idle, 0, (aw_vec3){30, 0, 30});
    assert_true(s->boss != AW_ENTITY_NULL);
    ASSERT_OK(aw_ai_set_commander(s->g.ai, 0, &(aw_ai_commander){.id = s->boss, .position = {30, 0, 30},
                                                                 .order = AW_ORDER_FOLLOW}));
}

/* Builds the grid the first frame's snapshots query (the physics system builds it after the AI). */
static void build_grid(scene *s) {
    aw_physics_step(s->g.physics, 0.0f);
}

/* Runs two frames: the subject plans, validates its first step and starts it. */
static void run(scene *s) {
    build_grid(s);
    for (int i = 0; i < 2; i++) ASSERT_OK(aw_world_progress(s->g.world, 1.0f / 60.0f));
}

static const aw_action_step *first_step(scene *s) {
    const aw_ai_plan *p = aw_entity_get_const(s->g.world, s->self, aw_ai_get_ids(s->g.ai).plan);
    assert_non_null(p);
    assert_true(p->intent.step_count >= 1);
    return &p->intent.steps[0];
}

/* The step went to `want` and the subject is heading there, at full speed. */
static void assert_heading(scene *s, aw_action_kind kind, aw_vec3 want) {
    const aw_action_step *st = first_step(s);
    assert_int_equal(st->kind, kind);
    assert_float_equal(st->position.x, want.x, 1e-4f);
    assert_float_equal(st->position.y, want.y, 1e-4f);
    assert_float_equal(st->position.z, want.z, 1e-4f);
    const aw_velocity *v = aw_entity_get_const(s->g.world, s->self, aw_ai_get_ids(s->g.ai).velocity);
    float dx = want.x - SELF_AT.x, dz = want.z - SELF_AT.z, d = sqrtf(dx * dx + dz * dz);
    assert_float_equal(v->x, dx / d * 4.0f, 1e-3f);
    assert_float_equal(v->z, dz / d * 4.0f, 1e-3f);
    assert_int_equal(aw_ai_get_stats(s->g.ai).refusals[AW_INVALID_NO_PATH], 0);
}

static void check_llm(const char *answer, void (*add)(scene *), aw_action_kind kind, aw_vec3 want) {
    scene s;
    scene_init(&s, true);
    source.answer = answer;
    add(&s);
    run(&s);
    assert_heading(&s, kind, want);
    fixture_fini(&s.g);
}

static void everything(scene *s) {
    add_enemies(s);
    add_places(s);
    add_allies(s);
}

static void everything_and_commander(scene *s) {
    everything(s);
    add_commander(s);
}

/* ---- LLM answers */

static void test_llm_retreat_from_target(void **state) {
    (void)state;
    /* E2 stands on +x: away from it is -x, not away from the nearer E1 (+z), not the origin. */
    check_llm("{\"steps\":[{\"kind\":\"Retreat\",\"target\":\"E2\"}]}", everything, AW_ACTION_RETREAT,
              (aw_vec3){40, 0, 50});
    check_llm("{\"steps\":[{\"kind\":\"Retreat\",\"target\":\"E2\",\"distance\":8}]}", everything,
              AW_ACTION_RETREAT, (aw_vec3){42, 0, 50});
}

static void test_llm_retreat_from_nearest(void **state) {
    (void)state;
    check_llm("{\"steps\":[{\"kind\":\"Retreat\"}]}", everything, AW_ACTION_RETREAT, (aw_vec3){50, 0, 60});
}

static void test_llm_take_cover(void **state) {
    (void)state;
    check_llm("{\"steps\":[{\"kind\":\"TakeCover\"}]}", everything, AW_ACTION_TAKE_COVER,
              (aw_vec3){47, 0, 53});
}

static void test_llm_regroup(void **state) {
    (void)state;
    check_llm("{\"steps\":[{\"kind\":\"Regroup\"}]}", everything_and_commander, AW_ACTION_REGROUP,
              (aw_vec3){30, 0, 30});
    check_llm("{\"steps\":[{\"kind\":\"Regroup\"}]}", everything, AW_ACTION_REGROUP, (aw_vec3){45, 0, 53});
}

static void test_llm_patrol(void **state) {
    (void)state;
    check_llm("{\"steps\":[{\"kind\":\"Patrol\"}]}", everything, AW_ACTION_PATROL, (aw_vec3){50, 0, 70});
}

/* ---- hand-built intents from a plug-in */

static aw_action_step step_of(aw_action_kind kind, aw_entity target, float distance) {
    aw_action_step st;
    memset(&st, 0, sizeof st);
    st.kind = (uint8_t)kind;
    st.target = target;
    st.distance = distance;
    return st;
}

static void test_hand_built(void **state) {
    (void)state;
    scene s;
    scene_init(&s, false);
    everything(&s);
    source.step = step_of(AW_ACTION_RETREAT, s.far_enemy, 0.0f);
    run(&s);
    assert_heading(&s, AW_ACTION_RETREAT, (aw_vec3){40, 0, 50});
    fixture_fini(&s.g);

    static const struct {
        aw_action_kind kind;
        aw_vec3 want;
    } cases[] = {{AW_ACTION_RETREAT, {50, 0, 60}},
                 {AW_ACTION_TAKE_COVER, {47, 0, 53}},
                 {AW_ACTION_REGROUP, {45, 0, 53}},
                 {AW_ACTION_PATROL, {50, 0, 70}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scene_init(&s, false);
        everything(&s);
        source.step = step_of(cases[i].kind, AW_ENTITY_NULL, 0.0f);
        run(&s);
        assert_heading(&s, cases[i].kind, cases[i].want);
        fixture_fini(&s.g);
    }

    scene_init(&s, false);
    everything_and_commander(&s);
    source.step = step_of(AW_ACTION_REGROUP, AW_ENTITY_NULL, 0.0f);
    run(&s);
    assert_heading(&s, AW_ACTION_REGROUP, (aw_vec3){30, 0, 30});
    fixture_fini(&s.g);

    /* Thrown at its target when no position is given. */
    scene_init(&s, false);
    everything(&s);
    source.step = step_of(AW_ACTION_THROW_EXPLOSIVE, s.far_enemy, 0.0f);
    build_grid(&s);
    ASSERT_OK(aw_world_progress(s.g.world, 1.0f / 60.0f));
    const aw_action_step *st = first_step(&s);
    assert_float_equal(st->position.x, 56.0f, 0);
    assert_float_equal(st->position.z, 50.0f, 0);
    aw_ai_stats stats = aw_ai_get_stats(s.g.ai);
    assert_int_equal(stats.projectiles_spawned, 1);
    fixture_fini(&s.g);
}

/* ---- nothing to resolve: refused with a category, never walked to the origin */

/* Runs a few frames and checks the subject's refusals all are (kind, category) and it stayed put. */
static void assert_refused(scene *s, aw_action_kind kind, aw_validation category) {
    aw_ai_ids ids = aw_ai_get_ids(s->g.ai);
    aw_event_cursor cur = {0};
    uint32_t refused = 0;
    build_grid(s);
    for (int frame = 0; frame < 4; frame++) {
        ASSERT_OK(aw_world_progress(s->g.world, 1.0f / 60.0f));
        const aw_ai_refusal *r;
        while ((r = aw_event_read(s->g.world, ids.refusal_event, &cur))) {
            if (r->agent != s->self) continue;
            assert_int_equal(r->kind, kind);
            assert_int_equal(r->category, category);
            refused++;
        }
    }
    assert_true(refused >= 1);
    const aw_position *p = aw_entity_get_const(s->g.world, s->self, ids.position);
    assert_float_equal(p->x, SELF_AT.x, 0);
    assert_float_equal(p->z, SELF_AT.z, 0);
}

static void refused_llm(const char *answer, aw_action_kind kind, aw_validation category) {
    scene s;
    scene_init(&s, true);
    source.answer = answer;
    assert_refused(&s, kind, category);
    fixture_fini(&s.g);
}

static void refused_hand(aw_action_step step, aw_action_kind kind, aw_validation category) {
    scene s;
    scene_init(&s, false);
    source.step = step;
    assert_refused(&s, kind, category);
    fixture_fini(&s.g);
}

static void test_llm_nothing_to_resolve(void **state) {
    (void)state;
    /* Alone: no enemy, no cover, no commander, no ally. */
    refused_llm("{\"steps\":[{\"kind\":\"Retreat\"}]}", AW_ACTION_RETREAT, AW_INVALID_NO_PATH);
    refused_llm("{\"steps\":[{\"kind\":\"TakeCover\"}]}", AW_ACTION_TAKE_COVER, AW_INVALID_NO_PATH);
    refused_llm("{\"steps\":[{\"kind\":\"Regroup\"}]}", AW_ACTION_REGROUP, AW_INVALID_NO_PATH);
}

static void test_hand_nothing_to_resolve(void **state) {
    (void)state;
    refused_hand(step_of(AW_ACTION_RETREAT, AW_ENTITY_NULL, 0), AW_ACTION_RETREAT, AW_INVALID_NO_PATH);
    refused_hand(step_of(AW_ACTION_TAKE_COVER, AW_ENTITY_NULL, 0), AW_ACTION_TAKE_COVER, AW_INVALID_NO_PATH);
    refused_hand(step_of(AW_ACTION_REGROUP, AW_ENTITY_NULL, 0), AW_ACTION_REGROUP, AW_INVALID_NO_PATH);
    refused_hand(step_of(AW_ACTION_THROW_EXPLOSIVE, AW_ENTITY_NULL, 0), AW_ACTION_THROW_EXPLOSIVE,
                 AW_INVALID_NO_PATH);
    aw_entity gone = ((aw_entity)77 << 32) | 3u; /* no such entity */
    refused_hand(step_of(AW_ACTION_RETREAT, gone, 0), AW_ACTION_RETREAT, AW_INVALID_TARGET);
    refused_hand(step_of(AW_ACTION_THROW_EXPLOSIVE, gone, 0), AW_ACTION_THROW_EXPLOSIVE, AW_INVALID_TARGET);
}

/* With no waypoint in reach a Patrol wanders 10 m off, never to the origin. */
static void test_patrol_without_route(void **state) {
    (void)state;
    for (int llm = 0; llm < 2; llm++) {
        scene s;
        scene_init(&s, llm);
        source.answer = "{\"steps\":[{\"kind\":\"Patrol\"}]}";
        source.step = step_of(AW_ACTION_PATROL, AW_ENTITY_NULL, 0);
        run(&s);
        const aw_action_step *st = first_step(&s);
        float dx = st->position.x - SELF_AT.x, dz = st->position.z - SELF_AT.z;
        assert_float_equal(sqrtf(dx * dx + dz * dz), 10.0f, 1e-3f);
        fixture_fini(&s.g);
    }
}

/* ---- outside the systems: aw_ai_plan_once and aw_ai_validate_step see the same places */

static void test_plan_once_and_validate(void **state) {
    (void)state;
    ai_fixture g;
    fixture_init(&g, 1);
    ASSERT_OK(aw_ai_set_orchestrator(g.ai, &(aw_orchestrator){.kind = AW_ORCHESTRATOR_LLM, .ctx = &source,
                                                               .plan = canned_plan,
                                                               .fallback = AW_ORCHESTRATOR_KIND_COUNT}));
    aw_world_snapshot snap = llm_test_snapshot(); /* self at (1, 2), E1 at (10, 5), commander at the origin */
    source.answer = "{\"steps\":[{\"kind\":\"Retreat\",\"target\":\"E1\"},{\"kind\":\"TakeCover\"},"
                    "{\"kind\":\"Regroup\"}]}";
    aw_plan_intent plan;
    assert_int_equal(aw_ai_plan_once(g.ai, AW_ORCHESTRATOR_LLM, &snap, &plan), AW_PLAN_READY);
    assert_int_equal(plan.step_count, 3);
    float dx = 1 - 10, dz = 2 - 5, len = sqrtf(dx * dx + dz * dz);
    assert_float_equal(plan.steps[0].position.x, 1 + dx / len * 10, 1e-4f);
    assert_float_equal(plan.steps[0].position.z, 2 + dz / len * 10, 1e-4f);
    assert_float_equal(plan.steps[1].position.x, 4, 0);
    assert_float_equal(plan.steps[1].position.z, -2, 0);
    /* The commander stands at the origin: found there, so marked as the origin, not unset. */
    assert_float_equal(plan.steps[2].position.x, 0, 0);
    assert_float_equal(plan.steps[2].position.z, 0, 0);
    assert_true(plan.steps[2].flags & AW_STEP_ORIGIN);
    assert_int_equal(aw_ai_validate_step(g.ai, &snap, &plan.steps[2]), AW_VALID);
    assert_int_equal(aw_ai_validate_step(g.ai, &snap, &plan.steps[1]), AW_VALID);

    /* A raw step is validated as it would be placed; nothing to place it by: refused. */
    aw_action_step st = step_of(AW_ACTION_REGROUP, AW_ENTITY_NULL, 0);
    assert_int_equal(aw_ai_validate_step(g.ai, &snap, &st), AW_VALID);
    snap.commander.id = AW_ENTITY_NULL;
    snap.ally_count = 0;
    assert_int_equal(aw_ai_validate_step(g.ai, &snap, &st), AW_INVALID_NO_PATH);
    st.flags = AW_STEP_ORIGIN; /* the origin, meant */
    assert_int_equal(aw_ai_validate_step(g.ai, &snap, &st), AW_VALID);
    fixture_fini(&g);
}

/* ---- the same places on any thread count */

/* Each agent plans one unset step of a kind picked by its index. */
static aw_plan_status mixed_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    (void)ctx;
    static const aw_action_kind kinds[] = {AW_ACTION_RETREAT, AW_ACTION_TAKE_COVER, AW_ACTION_REGROUP,
                                           AW_ACTION_PATROL, AW_ACTION_THROW_EXPLOSIVE};
    memset(out, 0, sizeof *out);
    out->step_count = 1;
    out->steps[0].kind = (uint8_t)kinds[AW_ENTITY_INDEX(req->agent) % 5u];
    if (out->steps[0].kind == AW_ACTION_THROW_EXPLOSIVE && req->snapshot->enemy_count)
        out->steps[0].target = req->snapshot->enemies[0].id;
    return AW_PLAN_READY;
}

enum { MIXED_AGENTS = 64 };

/* Every agent's plan and position after a few frames on `threads` threads. */
static void mixed_run(uint32_t threads, aw_plan_intent *plans, aw_vec3 *where) {
    ai_fixture g;
    fixture_init(&g, threads);
    ASSERT_OK(aw_ai_set_orchestrator(g.ai, &(aw_orchestrator){.kind = AW_ORCHESTRATOR_UTILITY,
                                                               .plan = mixed_plan,
                                                               .fallback = AW_ORCHESTRATOR_KIND_COUNT}));
    const char *json = "{\"types\":[{\"name\":\"mixed\",\"orchestrator\":\"utility\",\"explosives\":50}]}";
    ASSERT_OK(aw_ai_load_string(g.ai, json, strlen(json), "mixed.json"));
    ASSERT_OK(aw_ai_register_systems(g.ai));
    ASSERT_OK(aw_physics_register_system(g.physics, NULL) ? AW_OK : aw_last_status());
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    aw_ai_poi pois[12];
    for (uint32_t i = 0; i < 12; i++)
        pois[i] = (aw_ai_poi){i % 2 ? AW_POI_COVER : AW_POI_WAYPOINT,
                              {aw_rng_float_range(&rng, -60, 60), 0, aw_rng_float_range(&rng, -60, 60)}};
    ASSERT_OK(aw_ai_set_pois(g.ai, pois, 12));
    uint32_t type = (uint32_t)aw_ai_type_find(g.ai, "mixed");
    aw_entity agents[MIXED_AGENTS];
    for (uint32_t i = 0; i < MIXED_AGENTS; i++) {
        aw_vec3 p = {aw_rng_float_range(&rng, -60, 60), 0, aw_rng_float_range(&rng, -60, 60)};
        assert_true(agents[i] = aw_ai_spawn(g.ai, type, (uint8_t)(i % 3 == 0), p));
    }
    aw_physics_step(g.physics, 0.0f);
    for (int f = 0; f < 40; f++) ASSERT_OK(aw_world_progress(g.world, 1.0f / 60.0f));
    aw_ai_ids ids = aw_ai_get_ids(g.ai);
    for (uint32_t i = 0; i < MIXED_AGENTS; i++) {
        const aw_ai_plan *p = aw_entity_get_const(g.world, agents[i], ids.plan);
        const aw_position *at = aw_entity_get_const(g.world, agents[i], ids.position);
        assert_true(p && at);
        plans[i] = p->intent;
        where[i] = *at;
    }
    fixture_fini(&g);
}

static void test_any_thread_count(void **state) {
    (void)state;
    static aw_plan_intent one[MIXED_AGENTS], three[MIXED_AGENTS];
    static aw_vec3 at_one[MIXED_AGENTS], at_three[MIXED_AGENTS];
    mixed_run(1, one, at_one);
    mixed_run(3, three, at_three);
    assert_memory_equal(one, three, sizeof one);
    assert_memory_equal(at_one, at_three, sizeof at_one);
    uint32_t placed = 0; /* and most of them went somewhere */
    for (uint32_t i = 0; i < MIXED_AGENTS; i++) {
        aw_vec3 p = one[i].steps[0].position;
        placed += one[i].step_count && (p.x != 0.0f || p.z != 0.0f);
    }
    assert_true(placed >= MIXED_AGENTS / 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llm_retreat_from_target), cmocka_unit_test(test_llm_retreat_from_nearest),
        cmocka_unit_test(test_llm_take_cover),          cmocka_unit_test(test_llm_regroup),
        cmocka_unit_test(test_llm_patrol),              cmocka_unit_test(test_hand_built),
        cmocka_unit_test(test_llm_nothing_to_resolve),  cmocka_unit_test(test_hand_nothing_to_resolve),
        cmocka_unit_test(test_patrol_without_route),    cmocka_unit_test(test_plan_once_and_validate),
        cmocka_unit_test(test_any_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
