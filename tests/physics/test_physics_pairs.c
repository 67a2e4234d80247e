/* Grid pairs against brute force, as sets, over many seeds and layouts: uniform densities, bodies
 * outside the bounds, exactly on cell borders, coincident, huge, zero radius, layer masks, both
 * sort paths, rebuilds after moves, spawns and despawns. */
#include "physics_test_util.h"

static const aw_physics_desc small_bounds = {.min_x = -50, .max_x = 50, .min_z = -50, .max_z = 50, .no_response = true,
                                             .no_events = true};

static void step_and_check(ptw *t, const char *what) {
    aw_status st = aw_physics_step(t->p, 0.0f);
    if (st != AW_OK) fail_msg("%s: step: %s", what, aw_last_error());
    check_pairs_now(t, what);
}

static void test_uniform_densities(void **state) {
    (void)state;
    const uint32_t counts[] = {1, 2, 17, 300, 2000};
    const float rmax[] = {0.0f, 0.5f, 2.0f, 8.0f};
    for (uint32_t seed = 1; seed <= 6; seed++)
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
            for (size_t ri = 0; ri < sizeof rmax / sizeof rmax[0]; ri++) {
                ptw t = ptw_new(1, &small_bounds);
                aw_rng rng;
                aw_rng_seed(&rng, seed * 977 + ci * 31 + ri);
                float half = 5.0f + (float)ci * 10.0f; /* denser with few, sparser with many */
                for (uint32_t i = 0; i < counts[ci]; i++)
                    ptw_sphere(&t, aw_rng_float_range(&rng, -half, half), aw_rng_float_range(&rng, -2, 2),
                               aw_rng_float_range(&rng, -half, half), aw_rng_float(&rng) * rmax[ri]);
                char what[96];
                snprintf(what, sizeof what, "uniform seed %u n %u rmax %g", seed, counts[ci], rmax[ri]);
                step_and_check(&t, what);
                ptw_free(&t);
            }
}

static void test_outside_bounds(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 8; seed++) {
        ptw t = ptw_new(1, &small_bounds);
        aw_rng rng;
        aw_rng_seed(&rng, seed);
        for (uint32_t i = 0; i < 1500; i++) {
            float span = (i % 3 == 0) ? 400.0f : ((i % 3 == 1) ? 60.0f : 45.0f);
            float x = aw_rng_float_range(&rng, -span, span), z = aw_rng_float_range(&rng, -span, span);
            if (i % 50 == 0) x = (i % 100 == 0) ? 1e7f : -3e6f; /* far away, clamped to a border cell */
            ptw_sphere(&t, x, 0, z, 0.2f + aw_rng_float(&rng));
        }
        /* A cluster far outside: all in the same corner cell, still every pair found. */
        for (uint32_t i = 0; i < 60; i++) ptw_sphere(&t, 1000.0f + (float)(i % 8), 0, -1000.0f + (float)(i / 8), 0.6f);
        step_and_check(&t, "outside bounds");
        aw_physics_stats s = aw_physics_get_stats(t.p);
        assert_true(s.outside > 500);
        ptw_free(&t);
    }
}

static void test_cell_borders(void **state) {
    (void)state;
    /* Cell size 1 (set), radii 0.5: centres on integer and half-integer lattice points sit on cell
     * borders, pairs at distance exactly 1 touch (no contact), a hair closer overlap. */
    for (int variant = 0; variant < 4; variant++) {
        aw_physics_desc d = small_bounds;
        d.cell_size = variant < 2 ? 1.0f : 0.0f;
        ptw t = ptw_new(1, &d);
        aw_rng rng;
        aw_rng_seed(&rng, 42u + (uint32_t)variant);
        for (int x = -20; x <= 20; x++)
            for (int z = -20; z <= 20; z++) {
                float fx = (float)x * (variant & 1 ? 0.5f : 1.0f), fz = (float)z * (variant & 1 ? 0.5f : 1.0f);
                float r = 0.5f;
                if (aw_rng_range(&rng, 4) == 0) r = nextafterf(0.5f, 1.0f);
                if (aw_rng_range(&rng, 4) == 0) fx = nextafterf(fx, 100.0f);
                ptw_sphere(&t, fx, 0, fz, r);
            }
        /* The exact bounds edges and corners. */
        ptw_sphere(&t, 50.0f, 0, 50.0f, 0.5f);
        ptw_sphere(&t, 49.5f, 0, 50.0f, 0.5f);
        ptw_sphere(&t, -50.0f, 0, -50.0f, 0.5f);
        ptw_sphere(&t, -49.0f, 0, -50.0f, 0.5f);
        step_and_check(&t, "cell borders");
        ptw_free(&t);
    }
}

static void test_coincident_zero_huge(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 6; seed++) {
        ptw t = ptw_new(1, &small_bounds);
        aw_rng rng;
        aw_rng_seed(&rng, seed * 7);
        for (uint32_t i = 0; i < 200; i++) ptw_sphere(&t, 3.0f, 1.0f, -2.0f, (i % 4) ? 0.3f : 0.0f); /* coincident */
        for (uint32_t i = 0; i < 50; i++) ptw_sphere(&t, -7.0f, 0.0f, 7.0f, 0.0f); /* coincident points: no contact */
        for (uint32_t i = 0; i < 1000; i++)
            ptw_sphere(&t, aw_rng_float_range(&rng, -45, 45), aw_rng_float_range(&rng, -1, 1),
                       aw_rng_float_range(&rng, -45, 45), (i % 3) ? 0.4f : 0.0f);
        /* Huge colliders: bigger than a cell, a quarter of the world, larger than the world. */
        ptw_sphere(&t, 0, 0, 0, 12.0f);
        ptw_sphere(&t, 30, 5, -30, 25.0f);
        ptw_sphere(&t, -10, 0, 10, 500.0f);
        ptw_sphere(&t, 900, 0, 900, 1300.0f); /* outside, reaching in */
        ptw_sphere(&t, 0, 1e4f, 0, 100.0f);   /* high above: height matters */
        step_and_check(&t, "coincident/zero/huge");
        aw_physics_stats s = aw_physics_get_stats(t.p);
        assert_true(s.large >= 4);
        ptw_free(&t);
    }
}

static void test_many_large(void **state) {
    (void)state;
    /* Mixed radii where many exceed the fitted cell: they go to the large list, or the cell grows. */
    for (uint32_t seed = 1; seed <= 4; seed++) {
        ptw t = ptw_new(1, &small_bounds);
        aw_rng rng;
        aw_rng_seed(&rng, seed * 13);
        for (uint32_t i = 0; i < 1200; i++) {
            float r = (i % 10 == 0) ? aw_rng_float_range(&rng, 2, 6) : aw_rng_float_range(&rng, 0, 0.3f);
            ptw_sphere(&t, aw_rng_float_range(&rng, -50, 50), 0, aw_rng_float_range(&rng, -50, 50), r);
        }
        step_and_check(&t, "many large (auto cell)");
        ptw_free(&t);
        aw_physics_desc d = small_bounds;
        d.cell_size = 0.25f; /* most colliders bigger than a cell */
        t = ptw_new(1, &d);
        aw_rng_seed(&rng, seed * 13);
        for (uint32_t i = 0; i < 800; i++)
            ptw_sphere(&t, aw_rng_float_range(&rng, -30, 30), 0, aw_rng_float_range(&rng, -30, 30),
                       aw_rng_float_range(&rng, 0, 1.0f));
        step_and_check(&t, "many large (set cell)");
        ptw_free(&t);
    }
}

static void test_layers(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 5; seed++) {
        ptw t = ptw_new(1, &small_bounds);
        aw_rng rng;
        aw_rng_seed(&rng, seed * 101);
        for (uint32_t i = 0; i < 1500; i++) {
            aw_collider c = {.radius = aw_rng_float_range(&rng, 0, 1.2f), .layer = aw_rng_range(&rng, 4),
                             .mask = aw_rng_range(&rng, 8)};
            if (i % 97 == 0) c.flags = AW_COLLIDER_DISABLED;
            if (i % 89 == 0) c.flags |= AW_COLLIDER_SENSOR;
            ptw_spawn(&t, &(spawn_desc){.pos = {aw_rng_float_range(&rng, -25, 25), 0, aw_rng_float_range(&rng, -25, 25)},
                                        .col = c});
        }
        step_and_check(&t, "layers");
        ptw_free(&t);
    }
}

static void test_radix_path_and_rebuilds(void **state) {
    (void)state;
    /* Above the counting-sort threshold the radix path runs; positions then move, entities come
     * and go, radii change (new cell size) and every rebuild must match brute force again. */
    for (uint32_t threads = 1; threads <= 2; threads++) {
        ptw t = ptw_new(threads, &(aw_physics_desc){.min_x = -100, .max_x = 100, .min_z = -100, .max_z = 100,
                                                    .no_response = true, .no_events = true});
        aw_rng rng;
        aw_rng_seed(&rng, 5 + threads);
        enum { N = 20000 };
        aw_entity *ids = malloc(N * sizeof *ids);
        for (uint32_t i = 0; i < N; i++)
            ids[i] = ptw_sphere(&t, aw_rng_float_range(&rng, -110, 110), aw_rng_float_range(&rng, -1, 1),
                                aw_rng_float_range(&rng, -110, 110), aw_rng_float_range(&rng, 0, 0.5f));
        step_and_check(&t, "radix");
        for (int round = 0; round < 3; round++) {
            for (uint32_t i = 0; i < N; i += 3) {
                aw_vec3 *p = aw_entity_get(t.w, ids[i], t.ids.position);
                if (!p) continue;
                p->x += aw_rng_float_range(&rng, -2, 2);
                p->z += aw_rng_float_range(&rng, -2, 2);
            }
            for (uint32_t i = (uint32_t)round; i < N; i += 50) {
                if (aw_entity_alive(t.w, ids[i])) ASSERT_OK(aw_entity_destroy(t.w, ids[i]));
            }
            for (uint32_t i = 0; i < 300; i++)
                ptw_sphere(&t, aw_rng_float_range(&rng, -100, 100), 0, aw_rng_float_range(&rng, -100, 100),
                           round == 1 ? 1.5f : 0.25f);
            if (round == 2) /* shrink every radius: the chosen cell changes, keys are recomputed */
                for (uint32_t i = 1; i < N; i += 2) {
                    aw_collider *c = aw_entity_get(t.w, ids[i], t.ids.collider);
                    if (c) c->radius *= 0.25f;
                }
            char what[64];
            snprintf(what, sizeof what, "rebuild %d threads %u", round, threads);
            step_and_check(&t, what);
        }
        free(ids);
        ptw_free(&t);
    }
}

static void test_empty_and_single(void **state) {
    (void)state;
    ptw t = ptw_new(1, NULL);
    ASSERT_OK(aw_physics_step(t.p, 0.016f));
    uint32_t n = 99;
    aw_physics_contacts(t.p, &n);
    assert_int_equal(n, 0);
    ptw_sphere(&t, 0, 0, 0, 1);
    ASSERT_OK(aw_physics_step(t.p, 0.016f));
    aw_physics_contacts(t.p, &n);
    assert_int_equal(n, 0);
    ptw_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_uniform_densities),
        cmocka_unit_test(test_outside_bounds),
        cmocka_unit_test(test_cell_borders),
        cmocka_unit_test(test_coincident_zero_huge),
        cmocka_unit_test(test_many_large),
        cmocka_unit_test(test_layers),
        cmocka_unit_test(test_radix_path_and_rebuilds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
