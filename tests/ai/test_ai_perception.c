/* Perception against a reference: after the perception system, every agent whose turn it was holds
 * exactly the nearest enemy (and its distance, bit for bit) that an independent k-nearest query over
 * the full perception radius returns, whatever the order the looks ran in, the bound taken from the
 * last enemy seen, and the thread count; also with the AI's allocator failing (the unordered path). */
/* ctest-label: threads */
#include "ai_test_util.h"

#include "../../src/ai/ai_internal.h"

typedef struct perception_check {
    aw_ai *ai;
    aw_physics *physics;
    aw_ai_ids ids;
    uint32_t interval;
    uint32_t looked, found, none, wrong;
} perception_check;

static void check_perception(aw_system_ctx *ctx) {
    perception_check *c = ctx->user;
    aw_query *q = aw_query_create(ctx->world, &(aw_query_desc){AW_TERMS(AW_READ(c->ids.position), AW_READ(c->ids.agent),
                                                                         AW_READ(c->ids.perception))});
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it)) {
        const aw_position *p = AW_COLUMN(&it, aw_position, 0);
        const aw_ai_agent *a = AW_COLUMN(&it, aw_ai_agent, 1);
        const aw_ai_perception *per = AW_COLUMN(&it, aw_ai_perception, 2);
        for (uint32_t i = 0; i < it.count; i++) {
            aw_entity e = it.entities[i];
            if ((AW_ENTITY_INDEX(e) + ctx->frame) % c->interval || a[i].hp <= 0.0f) continue;
            c->looked++;
            uint32_t enemies = 0;
            for (uint32_t t = 0; t < AW_AI_MAX_TEAMS; t++)
                if (t != a[i].team) enemies |= AW_AI_TEAM_LAYER(t);
            aw_spatial_filter f = {.mask = enemies, .exclude = &e, .exclude_count = 1};
            aw_physics_hit hit;
            uint32_t n = 0;
            float radius = ai_type_of(c->ai, a[i].agent_type)->perception_radius;
            ASSERT_OK(aw_physics_query_nearest(c->physics, p[i], 1, radius, &f, &hit, &n));
            if (n) {
                c->found++;
                if (per[i].nearest_enemy != hit.entity || per[i].enemy_distance != hit.distance) c->wrong++;
            } else {
                c->none++;
                if (per[i].nearest_enemy != AW_ENTITY_NULL || per[i].enemy_distance != INFINITY) c->wrong++;
            }
        }
    }
    aw_iter_fini(&it);
    aw_query_destroy(q);
}

/* An allocator that can be told to fail: with it, perception's lists cannot grow and every look
 * takes the unordered path. */
typedef struct starving {
    bool fail;
} starving;

static void *starving_alloc(void *user, size_t size, size_t align) {
    return ((starving *)user)->fail ? NULL : aw_alloc(NULL, size, align);
}

static void *starving_realloc(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    return ((starving *)user)->fail ? NULL : aw_realloc(NULL, ptr, old_size, new_size, align);
}

static void starving_free(void *user, void *ptr, size_t size) {
    (void)user;
    aw_free(NULL, ptr, size);
}

static void run_with(uint32_t threads, uint32_t interval, bool starve) {
    starving hunger = {0};
    aw_allocator alloc = {starving_alloc, starving_realloc, starving_free, &hunger};
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = threads});
    assert_non_null(w);
    aw_physics *physics = aw_physics_create(w, &(aw_physics_desc){.min_x = -150, .min_z = -150, .max_x = 150,
                                                                 .max_z = 150, .cell_size = 6.0f, .integrate = true,
                                                                 .no_events = true});
    assert_non_null(physics);
    aw_ai *ai = aw_ai_create(w, &(aw_ai_desc){.perception_interval = interval,
                                              .fixed_dt = 1.0f / 60.0f,
                                              .allocator = &alloc,
                                              .bounds = {{-150, -1e6f, -150}, {150, 1e6f, 150}}});
    if (!ai) fail_msg("aw_ai_create: %s", aw_last_error());
    load_example(ai, "combat.json");
    ASSERT_OK(aw_ai_register_systems(ai));
    assert_non_null(aw_physics_register_system(physics, NULL));
    perception_check c = {.ai = ai, .physics = physics, .ids = aw_ai_get_ids(ai), .interval = interval};
    aw_component reads[] = {c.ids.position, c.ids.agent, c.ids.perception};
    assert_non_null(aw_system_register(w, &(aw_system_desc){.name = "perception_check",
                                                            .phase = AW_PHASE_PERCEPTION + 50u,
                                                            .run = check_perception,
                                                            .reads = reads,
                                                            .read_count = 3,
                                                            .exclusive = true,
                                                            .user = &c}));
    const char *types[] = {"rifleman", "grenadier", "scout", "guard"};
    aw_rng rng;
    aw_rng_seed(&rng, 5 + threads);
    /* Two teams in bands 24 m wide across a field wider than the perception radius: agents deep in
     * a band see no enemy, agents near a border do, and the fighting moves them. */
    for (int i = 0; i < 3000; i++) {
        float x = aw_rng_float_range(&rng, -140, 140), z = aw_rng_float_range(&rng, -140, 140);
        uint8_t team = (uint8_t)((int)floorf((x + 150.0f) / 24.0f) & 1);
        assert_true(aw_ai_spawn(ai, (uint32_t)aw_ai_type_find(ai, types[i % 4]), team, (aw_vec3){x, 0, z}));
    }
    hunger.fail = starve;
    for (int frame = 0; frame < 240; frame++) ASSERT_OK(aw_world_progress(w, 1.0f / 60.0f));
    if (c.wrong || c.found < 3000u * 240u / interval / 4u || c.none < 100u)
        fail_msg("%u threads, interval %u: %u looks, %u with an enemy, %u without, %u wrong", threads, interval, c.looked,
                 c.found, c.none, c.wrong);
    if (starve) { /* no list ever grew: every look ran unordered, and each was still exact */
        for (uint32_t k = 0; k < ai->worker_count; k++) assert_int_equal(ai->workers[k].look_capacity, 0);
        assert_int_equal(ai->look_capacity, 0);
    } else {
        assert_true(aw_ai_get_stats(ai).deaths > 0); /* the world changed while it was watched */
        assert_true(ai->look_capacity > 0);
    }
    aw_world_destroy(w);
}

static void run(uint32_t threads, uint32_t interval) {
    run_with(threads, interval, false);
}

static void test_perception_matches_reference(void **state) {
    (void)state;
    run(1, 8);
    run(2, 8);
    run(2, 1);
    run(3, 5);
}

/* Out of memory from the first frame: perception still answers exactly. */
static void test_perception_without_memory(void **state) {
    (void)state;
    run_with(1, 8, true);
    run_with(2, 4, true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perception_matches_reference),
        cmocka_unit_test(test_perception_without_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
