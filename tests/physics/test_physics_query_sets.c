/* k-nearest into several layer sets in one walk (aw_physics_query_nearest_sets) against brute force
 * and against one aw_physics_query_nearest per set: layer masks, a filter mask, exclusions, caps,
 * large colliders, points outside the grid, after a response moved things, SIMD and scalar paths. */
#include "physics_test_util.h"

/* Brute force for one set: squared distances sorted, the first k kept. */
static uint32_t brute(const ref_body *b, uint32_t n, aw_vec3 c, float maxd, const aw_spatial_filter *f, uint32_t mask,
                      uint32_t k, aw_physics_hit *all) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (mask && !(b[i].layer & mask)) continue;
        if (f->mask && !(b[i].layer & f->mask)) continue;
        float d2;
        if (!ref_hit_within(&b[i], c, maxd, f, &d2)) continue;
        all[m++] = (aw_physics_hit){b[i].e, d2};
    }
    qsort(all, m, sizeof *all, ref_hit_cmp);
    return m < k ? m : k;
}

/* Every query on `t`, answers also written to `log` (compared between the SIMD and scalar worlds). */
static void check_sets(ptw *t, uint32_t seed, bool exact_positions, aw_physics_hit *log, uint32_t *log_count) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    aw_physics_hit *all = malloc(n * sizeof *all), out[3][32], one[32];
    for (int q = 0; q < 300; q++) {
        aw_vec3 c = {aw_rng_float_range(&rng, -90, 90), aw_rng_float_range(&rng, -4, 4), aw_rng_float_range(&rng, -90, 90)};
        if (q % 5 == 0) c = b[aw_rng_range(&rng, n)].p; /* on a collider, as an agent asks */
        float maxd = q % 3 == 0 ? 0.0f : aw_rng_float_range(&rng, 1, q % 2 ? 25.0f : 6.0f);
        aw_entity ex[2] = {b[aw_rng_range(&rng, n)].e, b[aw_rng_range(&rng, n)].e};
        aw_spatial_filter f = {.mask = q % 7 == 0 ? 3u : 0u, .exclude = ex, .exclude_count = q % 4 ? 1u : 2u};
        static const uint32_t masks[][3] = {{1, 6, 0}, {2, 5, 0}, {0, 4, 0}, {1, 2, 4}, {4, 0, 0}, {3, 6, 1}};
        const uint32_t *m = masks[q % 6];
        uint32_t count = q % 6 == 3 || q % 6 == 5 ? 3u : (q % 6 == 4 ? 1u : 2u);
        aw_physics_nearest_set sets[3];
        for (uint32_t s = 0; s < count; s++)
            sets[s] = (aw_physics_nearest_set){.mask = m[s], .k = q % 11 == 0 && s == 1 ? 0u : 1u + aw_rng_range(&rng, 31),
                                               .out = out[s], .count = 99};
        ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, maxd, &f, sets, count));
        for (uint32_t s = 0; s < count; s++) {
            uint32_t want = brute(b, n, c, maxd, &f, m[s], sets[s].k, all);
            if (!exact_positions) want = sets[s].count; /* moved since the build: compared with the single query only */
            if (sets[s].count != want) fail_msg("query %d set %u: %u results, brute force %u", q, s, sets[s].count, want);
            for (uint32_t i = 0; exact_positions && i < want; i++) {
                if (out[s][i].entity != all[i].entity)
                    fail_msg("query %d set %u, %u: entity %llx, brute force %llx (d %g vs %g)", q, s, i,
                             (unsigned long long)out[s][i].entity, (unsigned long long)all[i].entity,
                             out[s][i].distance, sqrtf(all[i].distance));
                assert_true(fabsf(out[s][i].distance - sqrtf(all[i].distance)) <= 1e-4f * (1 + out[s][i].distance));
            }
            /* The single-set query with the same mask gives the same answer, bit for bit. */
            if (!f.mask && sets[s].k) {
                aw_spatial_filter sf = f;
                sf.mask = m[s];
                uint32_t ns = 0;
                ASSERT_OK(aw_physics_query_nearest(t->p, c, sets[s].k, maxd, &sf, one, &ns));
                assert_int_equal(ns, sets[s].count);
                for (uint32_t i = 0; i < ns; i++) {
                    assert_true(one[i].entity == out[s][i].entity);
                    assert_true(one[i].distance == out[s][i].distance);
                }
            }
            for (uint32_t i = 0; i < sets[s].count && *log_count < 200000; i++) log[(*log_count)++] = out[s][i];
        }
    }
    free(all);
    free(b);
}

static void run_worlds(bool respond) {
    for (uint32_t seed = 1; seed <= 3; seed++) {
        aw_physics_hit *logs[2];
        uint32_t counts[2] = {0, 0};
        for (int scalar = 0; scalar < 2; scalar++) {
            logs[scalar] = malloc(200000 * sizeof(aw_physics_hit));
            ptw t = ptw_query_world(seed, respond, scalar != 0, true);
            check_sets(&t, seed * 31u, !respond, logs[scalar], &counts[scalar]);
            ptw_free(&t);
        }
        ref_assert_same_hits(logs[0], counts[0], logs[1], counts[1]);
        free(logs[0]);
        free(logs[1]);
    }
}

static void test_sets_static(void **state) {
    (void)state;
    run_worlds(false);
}

static void test_sets_after_response(void **state) {
    (void)state;
    run_worlds(true);
}

static void test_sets_bad_input(void **state) {
    (void)state;
    ptw t = ptw_query_world(5, false, false, true);
    aw_physics_hit hits[4];
    aw_physics_nearest_set sets[AW_PHYSICS_MAX_NEAREST_SETS + 1];
    for (uint32_t i = 0; i <= AW_PHYSICS_MAX_NEAREST_SETS; i++)
        sets[i] = (aw_physics_nearest_set){.mask = 1, .k = 4, .out = hits};
    aw_vec3 o = {0, 0, 0};
    assert_int_equal(aw_physics_query_nearest_sets(NULL, o, 5, NULL, sets, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_nearest_sets(t.p, o, 5, NULL, NULL, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_nearest_sets(t.p, o, 5, NULL, sets, AW_PHYSICS_MAX_NEAREST_SETS + 1),
                     AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_nearest_sets(t.p, (aw_vec3){NAN, 0, 0}, 5, NULL, sets, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_nearest_sets(t.p, o, -1, NULL, sets, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_nearest_sets(t.p, o, INFINITY, NULL, sets, 1), AW_ERR_INVALID_ARG);
    aw_spatial_filter bad = {.exclude_count = 2};
    assert_int_equal(aw_physics_query_nearest_sets(t.p, o, 5, &bad, sets, 1), AW_ERR_INVALID_ARG);
    sets[1].out = NULL;
    assert_int_equal(aw_physics_query_nearest_sets(t.p, o, 5, NULL, sets, 2), AW_ERR_INVALID_ARG);
    sets[1].k = 0; /* off: needs no out */
    ASSERT_OK(aw_physics_query_nearest_sets(t.p, o, 5, NULL, sets, 2));
    assert_int_equal(sets[1].count, 0);
    ASSERT_OK(aw_physics_query_nearest_sets(t.p, o, 5, NULL, sets, 0));
    ptw_free(&t);
    /* Before the first step the grid is empty: nothing found, no failure. */
    t = ptw_new(1, NULL);
    ptw_sphere(&t, 0, 0, 0, 1);
    sets[0] = (aw_physics_nearest_set){.k = 4, .out = hits, .count = 9};
    ASSERT_OK(aw_physics_query_nearest_sets(t.p, o, 0, NULL, sets, 1));
    assert_int_equal(sets[0].count, 0);
    ASSERT_OK(aw_physics_step(t.p, 0));
    ASSERT_OK(aw_physics_query_nearest_sets(t.p, o, 0, NULL, sets, 1));
    assert_int_equal(sets[0].count, 1);
    ptw_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_static),
        cmocka_unit_test(test_sets_after_response),
        cmocka_unit_test(test_sets_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
