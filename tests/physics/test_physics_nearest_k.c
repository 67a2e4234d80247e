/* The one-set path of aw_physics_query_nearest_sets for 2 <= k <= 16 (the planners' allies and
 * enemies), which buffers candidates and ranks them, against brute force, against the general
 * walk (the same set beside a second one), against aw_physics_query_nearest and against the scalar
 * world, bit for bit: layer masks, a filter mask, exclusions, caps, ties, large colliders, points
 * outside the grid, clusters denser than the buffer, after a response moved things. */
#include "physics_test_util.h"

/* Brute force for one set: the hits sorted, the first k kept. */
static uint32_t brute(const ref_body *b, uint32_t n, aw_vec3 c, float maxd, const aw_spatial_filter *f,
                      uint32_t mask, uint32_t k, aw_physics_hit *all) {
    uint32_t m = 0, want = (mask ? mask : UINT32_MAX) & (f->mask ? f->mask : UINT32_MAX);
    for (uint32_t i = 0; i < n; i++) {
        float d2;
        if (!(b[i].layer & want) || !ref_hit_within(&b[i], c, maxd, f, &d2)) continue;
        all[m++] = (aw_physics_hit){b[i].e, d2};
    }
    qsort(all, m, sizeof *all, ref_hit_cmp);
    return m < k ? m : k;
}

/* One query every way; its answer appended to `log`. Returns how many it found. */
static uint32_t check_query(ptw *t, const ref_body *b, uint32_t n, aw_physics_hit *all, aw_vec3 c, float maxd,
                            const aw_spatial_filter *f, uint32_t mask, uint32_t k, bool exact_positions,
                            aw_physics_hit *log, uint32_t *logged) {
    aw_physics_hit out[16], general[16], other[1], single[16];
    aw_physics_nearest_set set = {.mask = mask, .k = k, .out = out, .count = 99};
    ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, maxd, f, &set, 1));
    assert_true(set.count <= k);
    /* The general walk: the same set beside a second active one. */
    aw_physics_nearest_set sets2[2] = {{.mask = mask, .k = k, .out = general},
                                       {.mask = 2, .k = 1, .out = other}};
    ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, maxd, f, sets2, 2));
    assert_int_equal(set.count, sets2[0].count);
    for (uint32_t i = 0; i < set.count; i++) {
        assert_true(out[i].entity == general[i].entity);
        assert_true(out[i].distance == general[i].distance);
    }
    if (exact_positions) {
        uint32_t want = brute(b, n, c, maxd, f, mask, k, all);
        if (set.count != want) fail_msg("k %u: %u results, brute force %u", k, set.count, want);
        for (uint32_t i = 0; i < want; i++)
            if (out[i].entity != all[i].entity)
                fail_msg("k %u, %u: entity %llx, brute force %llx (d %g vs %g)", k, i,
                         (unsigned long long)out[i].entity, (unsigned long long)all[i].entity,
                         out[i].distance, sqrtf(all[i].distance));
    }
    if (!f->mask && mask) { /* the single-set query with the same mask, bit for bit */
        aw_spatial_filter sf = *f;
        sf.mask = mask;
        uint32_t ns = 0;
        ASSERT_OK(aw_physics_query_nearest(t->p, c, k, maxd, &sf, single, &ns));
        assert_int_equal(ns, set.count);
        for (uint32_t i = 0; i < ns; i++) {
            assert_true(single[i].entity == out[i].entity);
            assert_true(single[i].distance == out[i].distance);
        }
    }
    for (uint32_t i = 0; i < set.count; i++) log[(*logged)++] = out[i];
    return set.count;
}

enum { QUERIES = 1500, LOG_CAP = QUERIES * 16 };

static uint32_t check_world(ptw *t, uint32_t seed, bool exact_positions, aw_physics_hit *log) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    ref_body *b;
    uint32_t n = ref_bodies(t, &b), logged = 0, full = 0;
    aw_physics_hit *all = malloc(n * sizeof *all);
    for (int q = 0; q < QUERIES; q++) {
        float span = q % 10 == 0 ? 90.0f : 40.0f; /* some outside the grid */
        aw_vec3 c = {aw_rng_float_range(&rng, -span, span), aw_rng_float_range(&rng, -4, 4),
                     aw_rng_float_range(&rng, -span, span)};
        if (q % 3 == 0) c = b[aw_rng_range(&rng, n)].p;   /* on a collider, as an agent asks */
        if (q % 13 == 0) c = (aw_vec3){2.0f, 0.0f, 3.0f}; /* among the tied colliders */
        float maxd = q % 5 == 0 ? 0.0f : aw_rng_float_range(&rng, 0.5f, q % 2 ? 25.0f : 6.0f);
        aw_entity ex[2] = {b[aw_rng_range(&rng, n)].e, b[aw_rng_range(&rng, n)].e};
        if (q % 3 == 0) ex[0] = b[0].e;
        aw_spatial_filter f = {.mask = q % 7 == 0 ? 3u : 0u, .exclude = ex, .exclude_count = q % 4 ? 1u : 2u};
        static const uint32_t masks[] = {1, 2, 4, 6, 5, 0, 3};
        uint32_t k = 2 + aw_rng_range(&rng, 15);
        full += check_query(t, b, n, all, c, maxd, &f, masks[q % 7], k, exact_positions, log, &logged) == k;
    }
    if (full <= QUERIES / 2)
        fail_msg("%u of %d queries filled their k", full, QUERIES); /* the comparisons bite */
    free(all);
    free(b);
    return logged;
}

static void run_worlds(bool respond) {
    for (uint32_t seed = 1; seed <= 3; seed++) {
        aw_physics_hit *logs[2];
        uint32_t counts[2];
        for (int scalar = 0; scalar < 2; scalar++) { /* the scalar world takes the general walk */
            logs[scalar] = malloc(LOG_CAP * sizeof(aw_physics_hit));
            ptw t = ptw_query_world(seed, respond, scalar != 0, true);
            counts[scalar] = check_world(&t, seed * 71u, !respond, logs[scalar]);
            ptw_free(&t);
        }
        ref_assert_same_hits(logs[0], counts[0], logs[1], counts[1]);
        free(logs[0]);
        free(logs[1]);
    }
}

static void test_nearest_k_static(void **state) {
    (void)state;
    run_worlds(false);
}

static void test_nearest_k_after_response(void **state) {
    (void)state;
    run_worlds(true);
}

/* Clusters of 30-120 colliders within a cell, some on one point (every distance tied), so a row
 * holds more candidates than the buffer: it ranks down to k on the way, and the ties order by id. */
static void test_nearest_k_dense_clusters(void **state) {
    (void)state;
    aw_physics_hit *logs[2];
    uint32_t counts[2];
    for (int scalar = 0; scalar < 2; scalar++) {
        ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -20,
                                              .max_x = 20,
                                              .min_z = -20,
                                              .max_z = 20,
                                              .cell_size = 4,
                                              .no_response = true,
                                              .no_events = true,
                                              .scalar_only = scalar != 0});
        aw_rng rng;
        aw_rng_seed(&rng, 99);
        for (uint32_t cl = 0; cl < 12; cl++) {
            aw_vec3 at = {aw_rng_float_range(&rng, -18, 18), 0, aw_rng_float_range(&rng, -18, 18)};
            uint32_t count = 30 + aw_rng_range(&rng, 91);
            for (uint32_t i = 0; i < count; i++) {
                aw_vec3 p = at;
                if (cl % 3)
                    p = (aw_vec3){at.x + aw_rng_float_range(&rng, -1, 1), aw_rng_float_range(&rng, -1, 1),
                                  at.z + aw_rng_float_range(&rng, -1, 1)};
                ptw_spawn(&t, &(spawn_desc){.pos = p,
                                            .col = {.radius = 0.2f, .layer = 1u << aw_rng_range(&rng, 2)}});
            }
        }
        ASSERT_OK(aw_physics_step(t.p, 0.016f));
        ref_body *b;
        uint32_t n = ref_bodies(&t, &b), full = 0;
        aw_physics_hit *all = malloc(n * sizeof *all);
        logs[scalar] = malloc(LOG_CAP * sizeof(aw_physics_hit));
        counts[scalar] = 0;
        for (int q = 0; q < 600; q++) {
            aw_vec3 c = b[aw_rng_range(&rng, n)].p;
            aw_entity ex = b[aw_rng_range(&rng, n)].e;
            aw_spatial_filter f = {.exclude = &ex, .exclude_count = q % 2};
            uint32_t k = 2 + aw_rng_range(&rng, 15), mask = q % 3 == 2 ? 0u : 1u + (uint32_t)(q % 3);
            full += check_query(&t, b, n, all, c, q % 4 ? 3.0f : 0.0f, &f, mask, k, true, logs[scalar],
                                &counts[scalar]) == k;
        }
        assert_true(full > 500);
        free(all);
        free(b);
        ptw_free(&t);
    }
    ref_assert_same_hits(logs[0], counts[0], logs[1], counts[1]);
    free(logs[0]);
    free(logs[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nearest_k_static),
        cmocka_unit_test(test_nearest_k_after_response),
        cmocka_unit_test(test_nearest_k_dense_clusters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
