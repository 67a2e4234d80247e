/* The one-set, k = 1 path of aw_physics_query_nearest_sets (perception's nearest enemy, a
 * projectile's hit) against brute force, against the general walk (the first answer of the same set
 * with k = 2) and against aw_physics_query_nearest, bit for bit: layer masks, a filter mask,
 * exclusions, caps, ties, large colliders, points outside the grid, after a response moved things. */
#include "physics_test_util.h"

/* Brute force: the nearest by (squared distance, entity) that passes the masks and exclusions. */
static bool brute_one(const ref_body *b, uint32_t n, aw_vec3 c, float maxd, const aw_spatial_filter *f, uint32_t mask,
                      aw_physics_hit *best) {
    bool found = false;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t want = (mask ? mask : UINT32_MAX) & (f->mask ? f->mask : UINT32_MAX);
        if (!(b[i].layer & want)) continue;
        float d2;
        if (!ref_hit_within(&b[i], c, maxd, f, &d2)) continue;
        if (!found || d2 < best->distance || (d2 == best->distance && b[i].e < best->entity)) *best = (aw_physics_hit){b[i].e, d2};
        found = true;
    }
    return found;
}

static void check_world(ptw *t, uint32_t seed, bool exact_positions) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    uint32_t found = 0;
    for (int q = 0; q < 2000; q++) {
        aw_vec3 c = {aw_rng_float_range(&rng, -90, 90), aw_rng_float_range(&rng, -4, 4), aw_rng_float_range(&rng, -90, 90)};
        if (q % 3 == 0) c = b[aw_rng_range(&rng, n)].p; /* on a collider, as an agent asks */
        if (q % 17 == 0) c = (aw_vec3){2.0f, 0.0f, 3.0f}; /* among the tied colliders */
        float maxd = q % 5 == 0 ? 0.0f : aw_rng_float_range(&rng, 0.5f, q % 2 ? 25.0f : 4.0f);
        aw_entity ex[2] = {b[aw_rng_range(&rng, n)].e, b[aw_rng_range(&rng, n)].e};
        if (q % 3 == 0) ex[0] = AW_ENTITY_NULL;
        aw_spatial_filter f = {.mask = q % 7 == 0 ? 3u : 0u, .exclude = ex, .exclude_count = q % 4 ? 1u : 2u};
        static const uint32_t masks[] = {1, 2, 4, 6, 5, 0, 3};
        uint32_t mask = masks[q % 7];
        aw_physics_hit one = {0}, two[2], single = {0};
        aw_physics_nearest_set set = {.mask = mask, .k = 1, .out = &one, .count = 99};
        ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, maxd, &f, &set, 1));
        /* The general walk: the same set asking for two, and an off set beside it. */
        aw_physics_nearest_set sets2[2] = {{.mask = 1, .k = 0}, {.mask = mask, .k = 2, .out = two}};
        ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, maxd, &f, sets2, 2));
        assert_int_equal(set.count, sets2[1].count ? 1u : 0u);
        if (set.count) {
            found++;
            assert_true(one.entity == two[0].entity);
            assert_true(one.distance == two[0].distance);
        }
        if (exact_positions) {
            aw_physics_hit want = {0};
            bool has = brute_one(b, n, c, maxd, &f, mask, &want);
            assert_int_equal(set.count, has ? 1u : 0u);
            if (has && one.entity != want.entity)
                fail_msg("query %d: entity %llx, brute force %llx (d %g vs %g)", q, (unsigned long long)one.entity,
                         (unsigned long long)want.entity, one.distance, sqrtf(want.distance));
        }
        if (!f.mask && mask) { /* the single-set query with the same mask, bit for bit */
            aw_spatial_filter sf = f;
            sf.mask = mask;
            uint32_t ns = 0;
            ASSERT_OK(aw_physics_query_nearest(t->p, c, 1, maxd, &sf, &single, &ns));
            assert_int_equal(ns, set.count);
            if (ns) {
                assert_true(single.entity == one.entity);
                assert_true(single.distance == one.distance);
            }
        }
    }
    assert_true(found > 1000); /* most queries find something: the comparisons above bite */
    free(b);
}

static void test_nearest_one_static(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 3; seed++) {
        ptw t = ptw_query_world(seed, false, false, true);
        check_world(&t, seed * 57u, true);
        ptw_free(&t);
    }
}

static void test_nearest_one_after_response(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 3; seed++) {
        ptw t = ptw_query_world(seed, true, seed == 2, true);
        check_world(&t, seed * 57u, false);
        ptw_free(&t);
    }
}

/* The bad-input checks come before the path is chosen. */
static void test_nearest_one_bad_input(void **state) {
    (void)state;
    ptw t = ptw_query_world(1, false, false, false);
    aw_physics_hit hit;
    aw_physics_nearest_set set = {.mask = 1, .k = 1, .out = &hit, .count = 7};
    assert_int_equal(aw_physics_query_nearest_sets(t.p, (aw_vec3){NAN, 0, 0}, 5, NULL, &set, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(set.count, 0);
    assert_int_equal(aw_physics_query_nearest_sets(t.p, (aw_vec3){0, 0, 0}, -1, NULL, &set, 1), AW_ERR_INVALID_ARG);
    aw_spatial_filter bad = {.exclude_count = 1};
    assert_int_equal(aw_physics_query_nearest_sets(t.p, (aw_vec3){0, 0, 0}, 5, &bad, &set, 1), AW_ERR_INVALID_ARG);
    set.out = NULL;
    assert_int_equal(aw_physics_query_nearest_sets(t.p, (aw_vec3){0, 0, 0}, 5, NULL, &set, 1), AW_ERR_INVALID_ARG);
    ptw_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nearest_one_static),
        cmocka_unit_test(test_nearest_one_after_response),
        cmocka_unit_test(test_nearest_one_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
