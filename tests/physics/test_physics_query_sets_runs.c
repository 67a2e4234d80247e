/* aw_physics_query_nearest_sets where a grid row is walked as runs of cells: rows of dense cells of
 * one layer, empty cells between them, cells of layers no set wants, mixed and multi-bit layers;
 * answers against brute force, the single-set query (bit for bit) and the scalar path. */
#include "physics_test_util.h"

#define RUN_CELL 2.0f
#define RUN_HALF 32.0f /* the field is [-32, 32]^2: 32 x 32 cells of 2 m */

/* A field whose rows are stretches of 1-6 cells, each stretch one kind: empty, dense in layer 1,
 * dense in layer 2, a layer no query wants alone (4), or mixed (1, 2, 4 and 1|2 per collider). */
static ptw runs_world(uint32_t seed, bool scalar) {
    ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -RUN_HALF, .max_x = RUN_HALF, .min_z = -RUN_HALF,
                                          .max_z = RUN_HALF, .cell_size = RUN_CELL, .no_response = true,
                                          .no_events = true, .scalar_only = scalar});
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    uint32_t cells = (uint32_t)(2.0f * RUN_HALF / RUN_CELL);
    for (uint32_t row = 0; row < cells; row++) {
        uint32_t kind = 0, left = 0;
        for (uint32_t cell = 0; cell < cells; cell++) {
            if (!left) {
                left = 1 + aw_rng_range(&rng, 6);
                kind = aw_rng_range(&rng, 5);
            }
            left--;
            uint32_t n = kind == 0 ? 0 : 1 + aw_rng_range(&rng, 12);
            for (uint32_t i = 0; i < n; i++) {
                static const uint32_t mixed[] = {1, 2, 4, 3};
                uint32_t layer = kind == 1 ? 1u : kind == 2 ? 2u : kind == 3 ? 4u : mixed[aw_rng_range(&rng, 4)];
                float x = -RUN_HALF + ((float)cell + aw_rng_float_range(&rng, 0.05f, 0.95f)) * RUN_CELL;
                float z = -RUN_HALF + ((float)row + aw_rng_float_range(&rng, 0.05f, 0.95f)) * RUN_CELL;
                ptw_spawn(&t, &(spawn_desc){.pos = {x, aw_rng_float_range(&rng, -1, 1), z},
                                            .col = {.radius = aw_rng_float_range(&rng, 0.1f, 0.4f), .layer = layer}});
            }
        }
    }
    ASSERT_OK(aw_physics_step(t.p, 0.016f));
    return t;
}

static uint32_t brute(const ref_body *b, uint32_t n, aw_vec3 c, float maxd, const aw_spatial_filter *f, uint32_t mask,
                      uint32_t k, aw_physics_hit *all) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if ((mask && !(b[i].layer & mask)) || (f->mask && !(b[i].layer & f->mask))) continue;
        float d2;
        if (!ref_hit_within(&b[i], c, maxd, f, &d2)) continue;
        all[m++] = (aw_physics_hit){b[i].e, d2};
    }
    qsort(all, m, sizeof *all, ref_hit_cmp);
    return m < k ? m : k;
}

/* 400 queries; every answer appended to `log` for the scalar/SIMD comparison. */
static uint32_t check_runs(ptw *t, uint32_t seed, aw_physics_hit *log, uint32_t cap) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    ref_body *b;
    uint32_t n = ref_bodies(t, &b), logged = 0;
    aw_physics_hit *all = malloc(n * sizeof *all), out[3][32], one[32];
    static const uint32_t masks[][3] = {{1, 2, 0}, {2, 1, 0}, {1, 0, 0}, {2, 0, 0}, {4, 0, 0}, {3, 4, 0}, {1, 2, 4}, {0, 0, 0}};
    static const uint32_t counts[] = {2, 2, 1, 1, 1, 2, 3, 1};
    for (int q = 0; q < 400; q++) {
        aw_vec3 c = {aw_rng_float_range(&rng, -36, 36), aw_rng_float_range(&rng, -1, 1), aw_rng_float_range(&rng, -36, 36)};
        if (q % 3 == 0) c = b[aw_rng_range(&rng, n)].p; /* on a collider, as an agent asks */
        float maxd = q % 4 == 0 ? 0.0f : aw_rng_float_range(&rng, 2, q % 2 ? 20.0f : 6.0f);
        aw_entity ex = b[aw_rng_range(&rng, n)].e;
        aw_spatial_filter f = {.mask = q % 9 == 0 ? 3u : 0u, .exclude = &ex, .exclude_count = q % 5 == 0};
        uint32_t kind = (uint32_t)q % 8, count = counts[kind];
        aw_physics_nearest_set sets[3];
        for (uint32_t s = 0; s < count; s++)
            sets[s] = (aw_physics_nearest_set){.mask = masks[kind][s], .k = 1u + aw_rng_range(&rng, 32), .out = out[s],
                                               .count = 99};
        ASSERT_OK(aw_physics_query_nearest_sets(t->p, c, maxd, &f, sets, count));
        for (uint32_t s = 0; s < count; s++) {
            uint32_t want = brute(b, n, c, maxd, &f, masks[kind][s], sets[s].k, all);
            if (sets[s].count != want) fail_msg("query %d set %u: %u results, brute force %u", q, s, sets[s].count, want);
            for (uint32_t i = 0; i < want; i++) {
                if (out[s][i].entity != all[i].entity)
                    fail_msg("query %d set %u, %u: entity %llx, brute force %llx", q, s, i,
                             (unsigned long long)out[s][i].entity, (unsigned long long)all[i].entity);
                assert_true(fabsf(out[s][i].distance - sqrtf(all[i].distance)) <= 1e-4f * (1 + out[s][i].distance));
            }
            if (!f.mask) { /* the single-set query with the same mask: same answer, bit for bit */
                aw_spatial_filter sf = f;
                sf.mask = masks[kind][s];
                uint32_t ns = 0;
                ASSERT_OK(aw_physics_query_nearest(t->p, c, sets[s].k, maxd, &sf, one, &ns));
                assert_int_equal(ns, sets[s].count);
                for (uint32_t i = 0; i < ns; i++) {
                    assert_true(one[i].entity == out[s][i].entity);
                    assert_true(one[i].distance == out[s][i].distance);
                }
            }
            for (uint32_t i = 0; i < sets[s].count && logged < cap; i++) log[logged++] = out[s][i];
        }
    }
    free(all);
    free(b);
    return logged;
}

static void test_runs_against_brute_force_and_scalar(void **state) {
    (void)state;
    enum { CAP = 400 * 3 * 32 };
    for (uint32_t seed = 1; seed <= 4; seed++) {
        aw_physics_hit *logs[2];
        uint32_t counts[2];
        for (int scalar = 0; scalar < 2; scalar++) {
            logs[scalar] = malloc(CAP * sizeof(aw_physics_hit));
            ptw t = runs_world(seed, scalar != 0);
            counts[scalar] = check_runs(&t, seed * 17u, logs[scalar], CAP);
            ptw_free(&t);
        }
        ref_assert_same_hits(logs[0], counts[0], logs[1], counts[1]);
        free(logs[0]);
        free(logs[1]);
    }
}

/* One row: a wanted cell, then cells of an unwanted layer, then empty cells, then wanted cells; the
 * nearest wanted colliders lie on both sides of the break and must all be found in order. */
static void test_run_breaks_in_one_row(void **state) {
    (void)state;
    for (int scalar = 0; scalar < 2; scalar++) {
        ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -16, .max_x = 16, .min_z = -16, .max_z = 16, .cell_size = 2,
                                              .no_response = true, .no_events = true, .scalar_only = scalar != 0});
        aw_entity want[6];
        /* cells (x): [-16,-14) wanted, [-14,-8) unwanted, [-8,-2) empty, [-2, 4) wanted */
        want[0] = ptw_spawn(&t, &(spawn_desc){.pos = {-15, 0, 1}, .col = {.radius = 0.1f, .layer = 1}});
        for (int i = 0; i < 9; i++)
            ptw_spawn(&t, &(spawn_desc){.pos = {-13.5f + (float)i * 0.6f, 0, 1}, .col = {.radius = 0.1f, .layer = 2}});
        for (int i = 0; i < 5; i++)
            want[1 + i] = ptw_spawn(&t, &(spawn_desc){.pos = {-1.5f + (float)i * 1.2f, 0, 1}, .col = {.radius = 0.1f, .layer = 1}});
        ASSERT_OK(aw_physics_step(t.p, 0.016f));
        aw_physics_hit out[8];
        aw_physics_nearest_set set = {.mask = 1, .k = 8, .out = out};
        ASSERT_OK(aw_physics_query_nearest_sets(t.p, (aw_vec3){-7, 0, 1}, 0, NULL, &set, 1));
        assert_int_equal(set.count, 6);
        /* distances from x = -7: -1.5 (5.5), -0.3 (6.7), -15 (8), 0.9 (7.9)... sorted */
        aw_entity order[6] = {want[1], want[2], want[3], want[0], want[4], want[5]};
        float d[6] = {5.5f, 6.7f, 7.9f, 8.0f, 9.1f, 10.3f};
        for (uint32_t i = 0; i < 6; i++) {
            assert_true(out[i].entity == order[i]);
            assert_true(fabsf(out[i].distance - d[i]) < 1e-4f);
        }
        ptw_free(&t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_against_brute_force_and_scalar),
        cmocka_unit_test(test_run_breaks_in_one_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
