/* Bad input never crashes or corrupts the grid: NaN and infinite positions, negative or NaN
 * radii, bad velocities and bodies are refused per collider with a status and counted, the rest
 * still collide exactly as brute force says; bad descriptors, duplicate contexts, mismatched
 * components and failing allocators are refused cleanly. */
#include "physics_test_util.h"

static void test_bad_colliders_are_skipped(void **state) {
    (void)state;
    ptw t = ptw_new(2, &(aw_physics_desc){.min_x = -20, .max_x = 20, .min_z = -20, .max_z = 20, .no_events = true});
    aw_rng rng;
    aw_rng_seed(&rng, 3);
    for (int i = 0; i < 3000; i++)
        ptw_sphere(&t, aw_rng_float_range(&rng, -20, 20), 0, aw_rng_float_range(&rng, -20, 20), 0.4f);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    aw_entity first = 0;
    uint32_t refused = 0;
    for (int i = 0; i < 3; i++) {
        aw_entity e = ptw_sphere(&t, bad[i], 0, 0, 0.5f);
        if (!first) first = e;
        ptw_sphere(&t, 0, bad[i], 0, 0.5f);
        ptw_sphere(&t, 0, 0, bad[i], 0.5f);
        ptw_sphere(&t, 0, 0, 0, bad[i]);
        refused += 4;
    }
    ptw_sphere(&t, 1, 0, 1, -0.5f); /* negative radius */
    refused++;
    /* Bad velocity or body: refused too (a NaN would spread through the response). */
    ptw_spawn(&t, &(spawn_desc){.pos = {2, 0, 2}, .col = {.radius = 0.5f}, .has_vel = true, .vel = {NAN, 0, 0}});
    ptw_spawn(&t, &(spawn_desc){.pos = {2, 0, 2.5f}, .col = {.radius = 0.5f}, .body = true, .rb = {.inv_mass = -1}});
    ptw_spawn(&t, &(spawn_desc){.pos = {2, 0, 3}, .col = {.radius = 0.5f}, .body = true,
                                .rb = {.inv_mass = 1, .restitution = INFINITY}});
    refused += 3;
    for (int round = 0; round < 3; round++) {
        aw_status st = aw_physics_step(t.p, 0.016f);
        assert_int_equal(st, AW_ERR_INVALID_ARG);
        assert_non_null(strstr(aw_last_error(), "skipped"));
        aw_physics_stats s = aw_physics_get_stats(t.p);
        assert_int_equal(s.skipped, refused);
        assert_true(s.first_skipped == first);
        assert_int_equal(s.colliders, 3000);
        uint32_t n;
        const aw_contact *c = aw_physics_contacts(t.p, &n);
        for (uint32_t i = 0; i < n; i++) assert_true(isfinite(c[i].depth) && isfinite(c[i].normal.x));
    }
    /* Queries still work and never return refused entities. */
    aw_entity out[4096];
    uint32_t n = 0;
    ASSERT_OK(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, 1000, NULL, out, 4096, &n));
    assert_int_equal(n, 3000);
    ptw_free(&t);
}

/* Finite values beyond the limits would overflow the step's arithmetic (two radii of 2e38 sum to
 * infinity; opposite speeds of 3e38 make an infinite impulse): skipped like non-finite ones, and
 * everything the step writes stays finite. The bodies share one radius in groups of eight, so on
 * the SIMD path the vector gather's own checks are the ones tested. */
static void test_values_beyond_limits_are_skipped(void **state) {
    (void)state;
    for (int scalar = 0; scalar < 2; scalar++) {
        ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -20, .max_x = 20, .min_z = -20, .max_z = 20,
                                              .integrate = true, .no_events = true, .scalar_only = scalar});
        enum { N = 64 };
        aw_entity ids[N];
        for (int i = 0; i < N; i++) {
            spawn_desc s = {.pos = {(float)(i / 2) * 1.5f - 20.0f, 0, (float)(i % 2) * 0.8f}, .col = {.radius = 0.5f},
                            .body = true, .rb = {.inv_mass = 1, .restitution = 0.5f}, .has_vel = true,
                            .vel = {i % 2 ? -1.0f : 1.0f, 0, 0}};
            if (i == 3) s.vel.x = 3e38f;
            if (i == 12) s.vel.z = -3e38f;
            if (i == 21) s.rb.restitution = 3.0f;
            if (i == 30) s.rb.restitution = -0.5f;
            if (i == 39) s.col.radius = 2e38f;
            if (i == 50) s.col.radius = 1e19f;
            if (i == 58) s.rb.inv_mass = 3e38f * 10.0f; /* infinity, as an overflow makes it */
            ids[i] = ptw_spawn(&t, &s);
        }
        for (int round = 0; round < 2; round++) {
            assert_int_equal(aw_physics_step(t.p, 0.016f), AW_ERR_INVALID_ARG);
            assert_int_equal(aw_physics_get_stats(t.p).skipped, 7);
            for (int i = 0; i < N; i++) {
                const aw_vec3 *p = aw_entity_get_const(t.w, ids[i], t.ids.position);
                const aw_vec3 *v = aw_entity_get_const(t.w, ids[i], t.ids.velocity);
                if (!isfinite(p->x) || !isfinite(p->y) || !isfinite(p->z) || !isfinite(v->x) || !isfinite(v->y) ||
                    !isfinite(v->z))
                    fail_msg("%s path: body %d went non-finite", scalar ? "scalar" : "SIMD", i);
            }
        }
        ptw_free(&t);
    }
}

static void test_pairs_exact_despite_bad_ones(void **state) {
    (void)state;
    ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -20, .max_x = 20, .min_z = -20, .max_z = 20, .no_response = true,
                                          .no_events = true});
    aw_rng rng;
    aw_rng_seed(&rng, 4);
    for (int i = 0; i < 2000; i++) {
        float x = aw_rng_float_range(&rng, -22, 22), z = aw_rng_float_range(&rng, -22, 22), r = aw_rng_float(&rng);
        if (i % 37 == 0) x = NAN;
        if (i % 41 == 0) r = -r - 0.01f;
        if (i % 43 == 0) z = INFINITY;
        ptw_sphere(&t, x, 0, z, r);
    }
    assert_int_equal(aw_physics_step(t.p, 0), AW_ERR_INVALID_ARG);
    check_pairs_now(&t, "pairs beside bad colliders");
    /* Fix them: the next step is clean. */
    aw_iter it = aw_query_iter(t.all);
    while (aw_iter_next(&it)) {
        aw_vec3 *p = it.columns[0];
        aw_collider *c = it.columns[1];
        for (uint32_t i = 0; i < it.count; i++) {
            if (!isfinite(p[i].x)) p[i].x = 0;
            if (!isfinite(p[i].z)) p[i].z = 0;
            if (c[i].radius < 0) c[i].radius = 0.1f;
        }
    }
    ASSERT_OK(aw_physics_step(t.p, 0));
    assert_int_equal(aw_physics_get_stats(t.p).skipped, 0);
    check_pairs_now(&t, "after fixing");
    ptw_free(&t);
}

static void test_bad_desc_and_setup(void **state) {
    (void)state;
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 1});
    assert_null(aw_physics_create(NULL, NULL));
    assert_null(aw_physics_create(w, &(aw_physics_desc){.min_x = 5, .max_x = 1, .min_z = 0, .max_z = 1}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_null(aw_physics_create(w, &(aw_physics_desc){.min_x = NAN, .max_x = 1, .min_z = 0, .max_z = 1}));
    assert_null(aw_physics_create(w, &(aw_physics_desc){.cell_size = -1}));
    assert_null(aw_physics_create(w, &(aw_physics_desc){.correction = 2}));
    assert_null(aw_physics_create(w, &(aw_physics_desc){.max_x = INFINITY, .max_z = 1}));
    /* A "Position" of the wrong size is refused, not reinterpreted. */
    assert_true(aw_component_register(w, &(aw_component_desc){.name = "Position", .size = 8}) != 0);
    assert_null(aw_physics_create(w, NULL));
    assert_int_equal(aw_last_status(), AW_ERR_SIZE_MISMATCH);
    assert_null(aw_physics_get(w));
    aw_world_destroy(w);

    w = aw_world_create(&(aw_world_desc){.threads = 1});
    aw_component pos = aw_component_register(w, &(aw_component_desc){.name = "MyPos", .size = 12, .align = 4});
    aw_physics *p = aw_physics_create(w, &(aw_physics_desc){.position = pos});
    assert_non_null(p);
    assert_int_equal(aw_physics_get_ids(p).position, pos);
    assert_null(aw_physics_create(w, NULL)); /* one per world */
    assert_int_equal(aw_last_status(), AW_ERR_ALREADY_PRESENT);
    assert_int_equal(aw_physics_step(p, NAN), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_step(NULL, 0), AW_ERR_INVALID_ARG);
    aw_world_destroy(w); /* frees the context too */

    w = aw_world_create(&(aw_world_desc){.threads = 1});
    assert_null(aw_physics_create(w, &(aw_physics_desc){.velocity = 999}));
    assert_int_equal(aw_last_status(), AW_ERR_UNKNOWN_COMPONENT);
    aw_world_destroy(w);
}

static void test_out_of_memory(void **state) {
    (void)state;
    /* Fail the physics allocator at every point of setup and of the first steps: each failure is
     * a status, never a crash, and a later step with memory available is correct. */
    for (int64_t budget = 0; budget < 40; budget++) {
        count_alloc ca;
        count_alloc_init(&ca);
        ptw t = ptw_new(2, &(aw_physics_desc){.min_x = -30, .max_x = 30, .min_z = -30, .max_z = 30, .no_events = true,
                                              .no_response = true, .allocator = &ca.iface});
        aw_rng rng;
        aw_rng_seed(&rng, 5);
        for (int i = 0; i < 6000; i++)
            ptw_sphere(&t, aw_rng_float_range(&rng, -30, 30), 0, aw_rng_float_range(&rng, -30, 30), i % 300 ? 0.4f : 3);
        atomic_store(&ca.fail_after, budget);
        aw_status st = aw_physics_step(t.p, 0);
        assert_true(st == AW_OK || st == AW_ERR_OUT_OF_MEMORY);
        aw_entity out[8];
        uint32_t n;
        ASSERT_OK(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, 3, NULL, out, 8, &n));
        atomic_store(&ca.fail_after, -1);
        ASSERT_OK(aw_physics_step(t.p, 0));
        check_pairs_now(&t, "after out of memory");
        ptw_free(&t);
    }
}

/* Contact events the world cannot queue (its allocator fails) are a status after the step, with
 * the number lost; the step's contacts and response are complete, and the next step with memory
 * sends them all. */
static void test_unsent_events_are_reported(void **state) {
    (void)state;
    count_alloc ca;
    count_alloc_init(&ca);
    aw_world *w = aw_world_create(&(aw_world_desc){.threads = 1, .allocator = &ca.iface});
    assert_non_null(w);
    aw_physics *p = aw_physics_create(w, &(aw_physics_desc){.min_x = -40, .max_x = 40, .min_z = -40, .max_z = 40});
    assert_non_null(p);
    aw_physics_ids ids = aw_physics_get_ids(p);
    for (int i = 0; i < 300; i++) { /* 150 overlapping pairs, far apart */
        aw_vec3 at = {(float)(i / 2 % 15) * 5.0f - 35.0f, 0, (float)(i / 30) * 5.0f - 35.0f + (float)(i % 2) * 0.5f};
        aw_collider c = {.radius = 0.5f};
        aw_entity e = aw_entity_create(w);
        ASSERT_OK(aw_entity_set(w, e, ids.position, &at, sizeof at));
        ASSERT_OK(aw_entity_set(w, e, ids.collider, &c, sizeof c));
    }
    atomic_store(&ca.fail_after, 0);
    aw_status st = aw_physics_step(p, 0);
    atomic_store(&ca.fail_after, -1);
    assert_int_equal(st, AW_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(aw_last_error(), "150 of 150 contact events not sent"));
    uint32_t n;
    aw_physics_contacts(p, &n);
    assert_int_equal(n, 150);
    ASSERT_OK(aw_physics_step(p, 0));
    assert_int_equal(aw_event_count(w, ids.contact_event), 150);
    aw_world_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_colliders_are_skipped),
        cmocka_unit_test(test_values_beyond_limits_are_skipped),
        cmocka_unit_test(test_pairs_exact_despite_bad_ones),
        cmocka_unit_test(test_bad_desc_and_setup),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_unsent_events_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
