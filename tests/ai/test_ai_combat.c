/* The combat scenario end to end: the same world hash for any thread count, a steady agent count
 * through deaths and respawns, projectiles in flight, and no AI heap allocation per frame.
 * ctest-label below runs it under ThreadSanitizer too. */
/* ctest-label: threads */
#include "ai_test_util.h"

#include "../../src/ai/ai_internal.h"

static aw_stress_result run_after(uint32_t threads, uint32_t entities, uint32_t frames, uint32_t warmup) {
    const aw_stress_scenario *sc = aw_stress_scenario_find("combat");
    assert_non_null(sc);
    aw_stress_result r;
    aw_status st = aw_stress_run(&(aw_stress_desc){.scenario = sc, .entities = entities, .frames = frames,
                                                   .warmup = warmup, .threads = threads, .seed = 42},
                                 &r);
    if (st) fail_msg("combat run: %s", aw_last_error());
    return r;
}

static aw_stress_result run(uint32_t threads, uint32_t entities, uint32_t frames) {
    return run_after(threads, entities, frames, 30);
}

static double counter(const aw_stress_result *r, const char *name) {
    for (uint32_t i = 0; i < r->counter_count; i++)
        if (strcmp(r->counters[i].name, name) == 0) return r->counters[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

static void test_same_hash_for_any_thread_count(void **state) {
    (void)state;
    aw_stress_result one = run(1, 3000, 90), two = run(2, 3000, 90), four = run(4, 3000, 90);
    assert_true(one.world_hash == two.world_hash);
    assert_true(one.world_hash == four.world_hash);
    aw_stress_result again = run(2, 3000, 90);
    assert_true(again.world_hash == two.world_hash);
    aw_stress_result other_seed;
    assert_int_equal(aw_stress_run(&(aw_stress_desc){.scenario = aw_stress_scenario_find("combat"), .entities = 3000,
                                                     .frames = 90, .warmup = 30, .threads = 2, .seed = 43},
                                   &other_seed),
                     AW_OK);
    assert_true(other_seed.world_hash != two.world_hash);
    aw_stress_result_free(&one);
    aw_stress_result_free(&two);
    aw_stress_result_free(&four);
    aw_stress_result_free(&again);
    aw_stress_result_free(&other_seed);
}

/* Neither the AI nor the ECS under it (command buffers of spawns, destroys and respawns, which
 * the AI systems reserve from their row counts) touches the heap in a timed frame. */
static void assert_no_ai_allocations(const aw_stress_result *r) {
    uint32_t seen = 0;
    for (uint32_t m = 0; m < r->module_count; m++) {
        if (strcmp(r->modules[m].name, "ai") != 0 && strcmp(r->modules[m].name, "ecs") != 0) continue;
        seen++;
        if (r->modules[m].allocs_per_frame != 0.0 || r->modules[m].bytes_per_frame != 0.0)
            fail_msg("module %s: %g allocations, %g bytes per frame", r->modules[m].name, r->modules[m].allocs_per_frame,
                     r->modules[m].bytes_per_frame);
    }
    assert_int_equal(seen, 2);
}

static void test_steady_count_and_no_allocations(void **state) {
    (void)state;
    aw_stress_result r = run(2, 2000, 400);
    /* 2000 entities: 1800 agents, the rest budgeted for projectiles. */
    assert_float_equal(counter(&r, "ai.agents"), 1800.0, 0);
    assert_true(counter(&r, "entities") >= 1800.0);
    assert_no_ai_allocations(&r);
    assert_true(counter(&r, "render.visible") > 0);
    aw_stress_result_free(&r);
    /* Which worker records how much is the scheduler's choice, and the frame's record count wanders
     * up to late peaks: every thread count, at a larger field, must stay off the heap after warm-up
     * (the record buffers grow ahead of need, to twice the highest count). Warm-up here is the
     * opening second: every agent plans within its first 30 frames and opens fire, and the
     * projectiles of that first volley are the most the tables ever hold at this size. */
    uint32_t threads[] = {1, 4};
    for (uint32_t i = 0; i < 2; i++) {
        aw_stress_result more = run_after(threads[i], 4000, 300, 60);
        assert_no_ai_allocations(&more);
        aw_stress_result_free(&more);
    }
}

/* A 2-thread world with the combat example's agent types, the AI systems and the physics system. */
static void combat_fixture_init(ai_fixture *f) {
    fixture_init(f, 2);
    load_example(f->ai, "combat.json");
    ASSERT_OK(aw_ai_register_systems(f->ai));
    assert_non_null(aw_physics_register_system(f->physics, NULL));
}

/* A small skirmish built by hand: people die, come back, and the agent count holds. */
static void test_deaths_and_respawns(void **state) {
    (void)state;
    ai_fixture f;
    combat_fixture_init(&f);
    const char *types[] = {"rifleman", "grenadier", "scout", "guard"};
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    for (int i = 0; i < 200; i++) {
        uint8_t team = (uint8_t)(i & 1);
        float x = (team ? 6.0f : -6.0f) + aw_rng_float_range(&rng, -4, 4), z = aw_rng_float_range(&rng, -15, 15);
        assert_true(aw_ai_spawn(f.ai, (uint32_t)aw_ai_type_find(f.ai, types[i % 4]), team, (aw_vec3){x, 0, z}));
    }
    aw_ai_ids ids = aw_ai_get_ids(f.ai);
    aw_query *agents = aw_query_create(f.world, &(aw_query_desc){AW_TERMS(AW_READ(ids.agent))});
    aw_query *shots = aw_query_create(f.world, &(aw_query_desc){AW_TERMS(AW_READ(ids.projectile))});
    uint32_t most_projectiles = 0, respawn_frames = 0;
    uint64_t respawns = 0;
    for (int frame = 0; frame < 900; frame++) {
        uint32_t tables = aw_world_get_stats(f.world).tables;
        ASSERT_OK(aw_world_progress(f.world, 1.0f / 60.0f));
        assert_int_equal(aw_query_count(agents), 200);
        if (aw_query_count(shots) > most_projectiles) most_projectiles = aw_query_count(shots);
        /* A respawn walks the tables the spawns made: none is created in its frame (each new one
         * is several heap allocations in a steady-state frame). */
        if (aw_ai_get_stats(f.ai).respawns > respawns) {
            respawns = aw_ai_get_stats(f.ai).respawns;
            respawn_frames++;
            assert_int_equal(aw_world_get_stats(f.world).tables, tables);
        }
    }
    assert_true(respawn_frames > 0);
    aw_ai_stats st = aw_ai_get_stats(f.ai);
    if (!st.deaths || !st.respawns || !most_projectiles || !st.projectiles_expired)
        fail_msg("deaths %llu respawns %llu projectiles %u expired %llu shots %llu", (unsigned long long)st.deaths,
                 (unsigned long long)st.respawns, most_projectiles, (unsigned long long)st.projectiles_expired,
                 (unsigned long long)st.shots);
    assert_true(st.plans > 200);
    fixture_fini(&f);
}

/* Perception, planning and validation read other agents through the per-frame vitals table: between
 * planning and action every agent's entry must hold exactly its components (or be missing only while
 * its index is past the table, which grows between frames). */
typedef struct vitals_check {
    aw_ai *ai;
    aw_ai_ids ids;
    uint32_t checked, missing, wrong;
} vitals_check;

static void check_vitals(aw_system_ctx *ctx) {
    vitals_check *c = ctx->user;
    aw_query *q = aw_query_create(ctx->world, &(aw_query_desc){AW_TERMS(AW_READ(c->ids.position), AW_READ(c->ids.agent))});
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it)) {
        const aw_position *p = AW_COLUMN(&it, aw_position, 0);
        const aw_ai_agent *a = AW_COLUMN(&it, aw_ai_agent, 1);
        for (uint32_t i = 0; i < it.count; i++) {
            const ai_vital *v = ai_vital_of(c->ai, it.entities[i], ctx->frame);
            if (!v) {
                if (AW_ENTITY_INDEX(it.entities[i]) < c->ai->vital_capacity) c->wrong++;
                c->missing++;
                continue;
            }
            c->checked++;
            if (memcmp(&v->position, &p[i], sizeof p[i]) || v->hp != a[i].hp || v->stance != a[i].stance ||
                v->team != a[i].team)
                c->wrong++;
        }
    }
    aw_iter_fini(&it);
    aw_query_destroy(q);
}

static void test_vitals_match_components(void **state) {
    (void)state;
    ai_fixture f;
    combat_fixture_init(&f);
    vitals_check c = {.ai = f.ai, .ids = aw_ai_get_ids(f.ai)};
    aw_component reads[] = {c.ids.position, c.ids.agent};
    assert_non_null(aw_system_register(f.world, &(aw_system_desc){.name = "vitals_check",
                                                                  .phase = AW_PHASE_SIMULATION - 10u,
                                                                  .run = check_vitals,
                                                                  .reads = reads,
                                                                  .read_count = 2,
                                                                  .exclusive = true,
                                                                  .user = &c}));
    const char *types[] = {"rifleman", "grenadier", "scout", "guard"};
    aw_rng rng;
    aw_rng_seed(&rng, 11);
    for (int i = 0; i < 300; i++) {
        uint8_t team = (uint8_t)(i & 1);
        float x = (team ? 5.0f : -5.0f) + aw_rng_float_range(&rng, -4, 4), z = aw_rng_float_range(&rng, -15, 15);
        assert_true(aw_ai_spawn(f.ai, (uint32_t)aw_ai_type_find(f.ai, types[i % 4]), team, (aw_vec3){x, 0, z}));
    }
    for (int frame = 0; frame < 600; frame++) ASSERT_OK(aw_world_progress(f.world, 1.0f / 60.0f));
    aw_ai_stats st = aw_ai_get_stats(f.ai);
    assert_true(st.respawns > 0);        /* new entities came in (and indices were reused) */
    assert_int_equal(c.wrong, 0);
    assert_true(c.checked > 300u * 590u); /* only the first frame may miss (the table starts empty) */
    assert_true(c.missing <= 300u + st.respawns);
    fixture_fini(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_hash_for_any_thread_count),
        cmocka_unit_test(test_steady_count_and_no_allocations),
        cmocka_unit_test(test_deaths_and_respawns),
        cmocka_unit_test(test_vitals_match_components),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
