/* Steps that act after their first frame are checked again on each frame that acts: a CoverFire volley
 * after its target moved out of range, went behind a wall or died, and a Heal or Revive that lands
 * after a walk on an ally who died, moved out of reach or got up, is refused with its category (the
 * refusal event and counters, the plan dropped) and does nothing: no damage, no round, no medkit. */
#include "ai_test_util.h"

#define DT (1.0f / 60.0f)

/* One agent (the actor) gets `step` once, then waits on a pending answer (which keeps what it runs);
 * every other agent gets no plan and stands still. */
typedef struct canned {
    aw_entity actor;
    aw_action_step step;
    bool given;
} canned;

static aw_plan_status canned_plan(void *ctx, const aw_plan_request *req, aw_plan_intent *out) {
    canned *c = ctx;
    memset(out, 0, sizeof *out);
    if (req->agent != c->actor) return AW_PLAN_FAILED;
    if (c->given) return AW_PLAN_PENDING;
    c->given = true;
    out->step_count = 1;
    out->steps[0] = c->step;
    return AW_PLAN_READY;
}

typedef struct scene {
    ai_fixture g;
    canned plan;
    aw_ai_ids ids;
    aw_event_cursor cursor;
    aw_entity actor, other;
} scene;

/* The actor at the origin and the other agent (team `team`) at `at`, a wall at z 5..6 across x -3..3;
 * the agents' type runs at `speed`. The actor plans `kind` on the other on its first frame
 * (scene_start). */
static void scene_init(scene *sc, aw_action_kind kind, uint8_t team, aw_vec3 at, float speed) {
    memset(sc, 0, sizeof *sc);
    sc->g.world = aw_world_create(&(aw_world_desc){.threads = 1});
    assert_non_null(sc->g.world);
    /* Integrating: the actor walks to whom it heals. */
    aw_physics_desc pd = {
        .min_x = -100, .min_z = -100, .max_x = 100, .max_z = 100, .integrate = true, .no_response = true};
    sc->g.physics = aw_physics_create(sc->g.world, &pd);
    assert_non_null(sc->g.physics);
    sc->g.ai = aw_ai_create(sc->g.world, &(aw_ai_desc){.bounds = {{-100, -100, -100}, {100, 100, 100}}});
    if (!sc->g.ai) fail_msg("aw_ai_create: %s", aw_last_error());
    aw_orchestrator o = {.kind = AW_ORCHESTRATOR_RULE,
                         .ctx = &sc->plan,
                         .plan = canned_plan,
                         .fallback = AW_ORCHESTRATOR_KIND_COUNT};
    ASSERT_OK(aw_ai_set_orchestrator(sc->g.ai, &o));
    char json[256];
    snprintf(json, sizeof json,
             "{\"types\":[{\"name\":\"t\",\"orchestrator\":\"rule\",\"speed\":%g,\"respawn_time\":100}]}",
             (double)speed);
    ASSERT_OK(aw_ai_load_string(sc->g.ai, json, strlen(json), "t.json"));
    ASSERT_OK(aw_ai_register_systems(sc->g.ai));
    ASSERT_OK(aw_physics_register_system(sc->g.physics, NULL) ? AW_OK : aw_last_status());
    aw_aabb wall = {{-3, -1, 5}, {3, 3, 6}};
    ASSERT_OK(aw_ai_set_obstacles(sc->g.ai, &wall, 1));
    uint32_t t = (uint32_t)aw_ai_type_find(sc->g.ai, "t");
    sc->actor = aw_ai_spawn(sc->g.ai, t, 0, (aw_vec3){0, 0, 0});
    sc->other = aw_ai_spawn(sc->g.ai, t, team, at);
    assert_true(sc->actor && sc->other);
    sc->ids = aw_ai_get_ids(sc->g.ai);
    sc->plan.actor = sc->actor;
    sc->plan.step.kind = (uint8_t)kind;
    sc->plan.step.target = sc->other;
}

/* The first frame: every agent plans, the actor's step starts. */
static void scene_start(scene *sc) {
    ASSERT_OK(aw_world_progress(sc->g.world, DT));
    const aw_ai_plan *p = aw_entity_get_const(sc->g.world, sc->actor, sc->ids.plan);
    assert_int_equal(p->intent.step_count, 1);
    assert_int_equal(p->intent.steps[0].kind, sc->plan.step.kind);
}

static aw_ai_agent *agent(scene *sc, aw_entity e) {
    aw_ai_agent *a = aw_entity_get(sc->g.world, e, sc->ids.agent);
    assert_non_null(a);
    return a;
}

static void place(scene *sc, aw_entity e, aw_vec3 at) {
    aw_position *p = aw_entity_get(sc->g.world, e, sc->ids.position);
    assert_non_null(p);
    *p = at;
}

/* Runs `frames` frames; returns the refusals raised meanwhile (all must be the actor's, of `kind`,
 * with `category`). */
static uint32_t run(scene *sc, int frames, aw_action_kind kind, aw_validation category) {
    uint32_t n = 0;
    for (int i = 0; i < frames; i++) {
        ASSERT_OK(aw_world_progress(sc->g.world, DT));
        const aw_ai_refusal *r;
        while ((r = aw_event_read(sc->g.world, sc->ids.refusal_event, &sc->cursor))) {
            assert_true(r->agent == sc->actor);
            assert_true(r->target == sc->other);
            assert_int_equal(r->kind, kind);
            assert_int_equal(r->category, category);
            n++;
        }
    }
    return n;
}

/* The actor's plan is gone and it stands still. */
static void assert_dropped(scene *sc) {
    const aw_ai_plan *p = aw_entity_get_const(sc->g.world, sc->actor, sc->ids.plan);
    assert_int_equal(p->intent.step_count, 0);
    assert_true(p->refusals >= 1);
    const aw_velocity *v = aw_entity_get_const(sc->g.world, sc->actor, sc->ids.velocity);
    assert_float_equal(v->x, 0.0f, 0);
    assert_float_equal(v->z, 0.0f, 0);
}

/* A CoverFire of 3 s on an enemy 10 m away: the first volley (5 hp) lands on the first frame, then
 * `move` changes the world before the next one (a volley every 0.5 s), which must be refused with
 * `category`. */
static void cover_fire_broken(void (*move)(scene *), aw_validation category) {
    scene sc;
    scene_init(&sc, AW_ACTION_COVER_FIRE, 1, (aw_vec3){10, 0, 0}, 5.0f);
    sc.plan.step.duration = 3.0f;
    scene_start(&sc);
    assert_float_equal(agent(&sc, sc.other)->hp, 95.0f, 0);
    assert_int_equal(agent(&sc, sc.actor)->ammo, 29);
    assert_int_equal(run(&sc, 10, AW_ACTION_COVER_FIRE, category), 0); /* mid-step, between volleys */
    move(&sc);
    float hp = agent(&sc, sc.other)->hp;
    assert_int_equal(run(&sc, 180, AW_ACTION_COVER_FIRE, category), 1);
    assert_float_equal(agent(&sc, sc.other)->hp, hp, 0); /* no damage after the change */
    assert_int_equal(agent(&sc, sc.actor)->ammo, 29);    /* no round spent */
    aw_ai_stats st = aw_ai_get_stats(sc.g.ai);
    assert_int_equal(st.refusals[category], 1);
    assert_int_equal(st.shots, 1);
    assert_dropped(&sc);
    fixture_fini(&sc.g);
}

static void out_of_range(scene *sc) {
    place(sc, sc->other, (aw_vec3){27, 0, 0}); /* weapon range 25, in the open */
}

static void behind_wall(scene *sc) {
    place(sc, sc->other, (aw_vec3){0, 0, 12}); /* 12 m away, the wall between */
}

static void dies(scene *sc) {
    agent(sc, sc->other)->hp = 4.0f; /* the next volley (5 hp) kills it: the one after must not fire */
}

static void test_cover_fire_target_out_of_range(void **state) {
    (void)state;
    cover_fire_broken(out_of_range, AW_INVALID_TARGET);
}

static void test_cover_fire_target_behind_wall(void **state) {
    (void)state;
    cover_fire_broken(behind_wall, AW_INVALID_NO_LINE_OF_SIGHT);
}

/* Its death takes one volley, so this one counts that volley apart. */
static void test_cover_fire_target_dies(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, AW_ACTION_COVER_FIRE, 1, (aw_vec3){10, 0, 0}, 5.0f);
    sc.plan.step.duration = 3.0f;
    scene_start(&sc);
    assert_int_equal(run(&sc, 10, AW_ACTION_COVER_FIRE, AW_INVALID_TARGET), 0);
    dies(&sc);
    assert_int_equal(run(&sc, 30, AW_ACTION_COVER_FIRE, AW_INVALID_TARGET), 0); /* the volley that kills */
    assert_float_equal(agent(&sc, sc.other)->hp, 0.0f, 0);
    assert_int_equal(agent(&sc, sc.actor)->ammo, 28);
    assert_int_equal(run(&sc, 150, AW_ACTION_COVER_FIRE, AW_INVALID_TARGET), 1);
    assert_int_equal(agent(&sc, sc.actor)->ammo, 28); /* nothing fired at the body */
    aw_ai_stats st = aw_ai_get_stats(sc.g.ai);
    assert_int_equal(st.refusals[AW_INVALID_TARGET], 1);
    assert_int_equal(st.shots, 2);
    assert_dropped(&sc);
    fixture_fini(&sc.g);
}

/* A Heal on a hurt ally 6 m away, walked to at 1 m/s: `change` happens a second into the walk; the
 * heal, when it would land (on arrival, or when the walk gives up after 10 s), must be refused. */
static void heal_broken(void (*change)(scene *)) {
    scene sc;
    scene_init(&sc, AW_ACTION_HEAL, 0, (aw_vec3){6, 0, 0}, 1.0f);
    agent(&sc, sc.other)->hp = 50.0f;
    scene_start(&sc);
    assert_int_equal(run(&sc, 60, AW_ACTION_HEAL, AW_INVALID_TARGET), 0);
    assert_int_equal(agent(&sc, sc.actor)->medkits, 1);
    const aw_position *at = aw_entity_get_const(sc.g.world, sc.actor, sc.ids.position);
    assert_true(at->x > 0.5f); /* walking over */
    change(&sc);
    assert_int_equal(run(&sc, 720, AW_ACTION_HEAL, AW_INVALID_TARGET), 1);
    assert_int_equal(agent(&sc, sc.actor)->medkits, 1); /* no medkit used */
    assert_float_equal(agent(&sc, sc.actor)->cooldowns[AW_COOLDOWN_HEAL], 0.0f, 0);
    aw_ai_stats st = aw_ai_get_stats(sc.g.ai);
    assert_int_equal(st.refusals[AW_INVALID_TARGET], 1);
    assert_dropped(&sc);
    fixture_fini(&sc.g);
}

static void ally_dies(scene *sc) {
    aw_ai_agent *a = agent(sc, sc->other);
    a->hp = 0.0f;
    a->respawn_timer = 100.0f;
}

static void ally_leaves(scene *sc) {
    place(sc, sc->other, (aw_vec3){60, 0, 0}); /* past the 30 m reach, and still past it at 10 s */
}

static void test_heal_ally_dies(void **state) {
    (void)state;
    heal_broken(ally_dies);
}

static void test_heal_ally_out_of_reach(void **state) {
    (void)state;
    heal_broken(ally_leaves);
}

/* A Revive of a downed ally who is up again (revived by someone else) before the medic arrives. */
static void test_revive_ally_got_up(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, AW_ACTION_REVIVE, 0, (aw_vec3){6, 0, 0}, 1.0f);
    ally_dies(&sc);
    scene_start(&sc);
    assert_int_equal(run(&sc, 60, AW_ACTION_REVIVE, AW_INVALID_TARGET), 0);
    aw_ai_agent *a = agent(&sc, sc.other);
    a->hp = 30.0f;
    a->respawn_timer = 0.0f;
    assert_int_equal(run(&sc, 720, AW_ACTION_REVIVE, AW_INVALID_TARGET), 1);
    assert_float_equal(agent(&sc, sc.actor)->cooldowns[AW_COOLDOWN_HEAL], 0.0f, 0); /* never treated */
    assert_dropped(&sc);
    fixture_fini(&sc.g);
}

/* Control: with nothing changed, the same steps run to the end unrefused. */
static void test_unchanged_steps_run(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, AW_ACTION_COVER_FIRE, 1, (aw_vec3){10, 0, 0}, 5.0f);
    sc.plan.step.duration = 3.0f;
    scene_start(&sc);
    assert_int_equal(run(&sc, 240, AW_ACTION_COVER_FIRE, AW_INVALID_TARGET), 0);
    int volleys = 30 - agent(&sc, sc.actor)->ammo; /* one every 0.5 s for 3 s, the ends included */
    assert_true(volleys >= 6 && volleys <= 7);
    assert_float_equal(agent(&sc, sc.other)->hp, 100.0f - 5.0f * (float)volleys, 0);
    fixture_fini(&sc.g);

    scene_init(&sc, AW_ACTION_HEAL, 0, (aw_vec3){6, 0, 0}, 1.0f);
    agent(&sc, sc.other)->hp = 50.0f;
    scene_start(&sc);
    assert_int_equal(run(&sc, 600, AW_ACTION_HEAL, AW_INVALID_TARGET), 0);
    assert_int_equal(agent(&sc, sc.actor)->medkits, 0);
    assert_float_equal(agent(&sc, sc.other)->hp, 90.0f, 0);
    fixture_fini(&sc.g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cover_fire_target_out_of_range),
        cmocka_unit_test(test_cover_fire_target_behind_wall),
        cmocka_unit_test(test_cover_fire_target_dies),
        cmocka_unit_test(test_heal_ally_dies),
        cmocka_unit_test(test_heal_ally_out_of_reach),
        cmocka_unit_test(test_revive_ally_got_up),
        cmocka_unit_test(test_unchanged_steps_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
