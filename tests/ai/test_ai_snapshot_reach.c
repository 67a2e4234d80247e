/* Planning snapshots walk the grid from the distance of an agent's 8th ally and enemy at its last
 * plan: whatever that hint says (missing, too short, too long, stale), the snapshot must be the one
 * built without it, and the hint left behind must be the new 8th distances. The world runs on two
 * threads (the planning system writes the table from parallel pieces): ThreadSanitizer runs it. */
/* ctest-label: threads */
#include "ai_test_util.h"

#include "../../src/ai/ai_internal.h"

typedef struct world {
    ai_fixture f;
    aw_query *q;
    aw_ai_ids ids;
} world;

/* Two teams in bands either side of x = 0 (so each agent has allies and enemies at all distances),
 * some far off alone (fewer than eight of either within reach), run for a while so the grid holds
 * moved positions, deaths and respawns. */
static void world_init(world *w, uint32_t seed) {
    fixture_init(&w->f, 2);
    load_example(w->f.ai, "combat.json");
    ASSERT_OK(aw_ai_register_systems(w->f.ai));
    assert_non_null(aw_physics_register_system(w->f.physics, NULL));
    const char *types[] = {"rifleman", "grenadier", "scout", "guard"};
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    for (int i = 0; i < 400; i++) {
        uint8_t team = (uint8_t)(i & 1);
        float x = (team ? 6.0f : -6.0f) + aw_rng_float_range(&rng, -6, 6), z = aw_rng_float_range(&rng, -30, 30);
        if (i % 50 == 0) x = team ? 80.0f : -80.0f; /* loners */
        assert_true(aw_ai_spawn(w->f.ai, (uint32_t)aw_ai_type_find(w->f.ai, types[i % 4]), team, (aw_vec3){x, 0, z}));
    }
    for (int frame = 0; frame < 120; frame++) ASSERT_OK(aw_world_progress(w->f.world, 1.0f / 60.0f));
    w->ids = aw_ai_get_ids(w->f.ai);
    w->q = aw_query_create(w->f.world,
                           &(aw_query_desc){AW_TERMS(AW_READ(w->ids.position), AW_READ(w->ids.velocity), AW_READ(w->ids.agent))});
    assert_non_null(w->q);
}

static void world_fini(world *w) {
    aw_query_destroy(w->q);
    fixture_fini(&w->f);
}

static float nth_distance(const aw_ai_contact *list, uint32_t count) {
    return count == AW_AI_MAX_CONTACTS ? list[AW_AI_MAX_CONTACTS - 1].distance : 0.0f;
}

static void test_hints_never_change_the_snapshot(void **state) {
    (void)state;
    world w;
    world_init(&w, 5);
    aw_ai *ai = w.f.ai;
    aw_rng rng;
    aw_rng_seed(&rng, 99);
    aw_world_snapshot plain, hinted;
    uint32_t agents = 0, full = 0, short_lists = 0;
    aw_iter it = aw_query_iter(w.q);
    while (aw_iter_next(&it)) {
        const aw_position *pos = AW_COLUMN(&it, aw_position, 0);
        const aw_velocity *vel = AW_COLUMN(&it, aw_velocity, 1);
        const aw_ai_agent *ag = AW_COLUMN(&it, aw_ai_agent, 2);
        for (uint32_t i = 0; i < it.count; i++) {
            aw_entity e = it.entities[i];
            for (int enemies = 0; enemies < 2; enemies++) {
                ASSERT_OK(ai_snapshot_fill(ai, e, &pos[i], &vel[i], &ag[i], ai->time, ai->frame, enemies, NULL, &plain));
                float ally8 = nth_distance(plain.allies, plain.ally_count);
                float enemy8 = nth_distance(plain.enemies, plain.enemy_count);
                agents++;
                full += ally8 > 0.0f && enemy8 > 0.0f;
                short_lists += ally8 == 0.0f || enemy8 == 0.0f;
                /* none, far too short, just short, exact, long, beyond the radius, random */
                float hints[][2] = {{0, 0},
                                    {0.01f, 0.01f},
                                    {ally8 * 0.9f, enemy8 * 0.9f},
                                    {ally8, enemy8},
                                    {ally8 + 3, enemy8 + 3},
                                    {500, 500},
                                    {aw_rng_float_range(&rng, 0, 25), aw_rng_float_range(&rng, 0, 25)}};
                for (size_t h = 0; h < sizeof hints / sizeof hints[0]; h++) {
                    ai_reach reach = {.entity = e, .ally = hints[h][0], .enemy = hints[h][1]};
                    ASSERT_OK(ai_snapshot_fill(ai, e, &pos[i], &vel[i], &ag[i], ai->time, ai->frame, enemies, &reach,
                                               &hinted));
                    if (memcmp(&plain, &hinted, sizeof plain) != 0)
                        fail_msg("agent %u, hint (%g, %g), enemies %d: the snapshot differs", (unsigned)AW_ENTITY_INDEX(e),
                                 (double)hints[h][0], (double)hints[h][1], enemies);
                    assert_true(reach.ally == ally8);
                    /* Without the enemy list the enemy hint is left as it was. */
                    assert_true(reach.enemy == (enemies ? enemy8 : hints[h][1]));
                }
            }
        }
    }
    aw_iter_fini(&it);
    assert_true(agents > 700);
    assert_true(full > 100);       /* both lists full: the bounded walk answers */
    assert_true(short_lists > 10); /* loners: the walk at the full radius answers */
    world_fini(&w);
}

/* The planning system keeps the table current: after a run, each planned agent's entry holds the
 * 8th distances of a snapshot built then, and entries of reused indices start over. */
static void test_table_follows_entities(void **state) {
    (void)state;
    world w;
    world_init(&w, 6);
    aw_ai *ai = w.f.ai;
    assert_non_null(ai->reach);
    uint32_t known = 0;
    for (uint32_t i = 0; i < ai->vital_capacity; i++) {
        ai_reach *r = &ai->reach[i];
        if (!r->entity) continue;
        assert_true(r->ally >= 0.0f && r->ally <= 20.0f);
        assert_true(r->enemy >= 0.0f && r->enemy <= 20.0f);
        known += r->ally > 0.0f;
    }
    assert_true(known > 200);
    /* An entry left by an earlier entity of the same index is reset, not read. */
    ai->reach[1] = (ai_reach){.entity = 12345, .ally = 3, .enemy = 4};
    aw_entity other = ((aw_entity)7 << 32) | 1u;
    ai_reach *r = ai_reach_of(ai, other);
    assert_non_null(r);
    assert_true(r->entity == other && r->ally == 0.0f && r->enemy == 0.0f);
    assert_null(ai_reach_of(ai, ((aw_entity)1 << 32) | (ai->vital_capacity + 5u)));
    world_fini(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hints_never_change_the_snapshot),
        cmocka_unit_test(test_table_follows_entities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
