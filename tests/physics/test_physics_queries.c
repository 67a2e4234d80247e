/* Spatial queries against brute force: radius (spheres and centres), box, k-nearest and rays
 * (colliders and obstacle boxes), with filters, outside-bounds and huge colliders, and after a
 * response moved things (queries must allow for it until the next rebuild). */
#include "physics_test_util.h"

#include <float.h>

static bool excluded(const aw_spatial_filter *f, const ref_body *b) {
    if (f->mask && !(b->layer & f->mask)) return true;
    for (uint32_t i = 0; i < f->exclude_count; i++)
        if (f->exclude[i] == b->e) return true;
    return false;
}

static void compare_sets(aw_entity *got, uint32_t ng, aw_entity *want, uint32_t nw, const char *what) {
    qsort(got, ng, sizeof *got, entity_cmp);
    qsort(want, nw, sizeof *want, entity_cmp);
    if (ng != nw || memcmp(got, want, ng * sizeof *got) != 0) fail_msg("%s: engine %u, brute force %u", what, ng, nw);
}

static void check_radius_and_box(ptw *t, aw_rng *rng) {
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    aw_entity *got = malloc((n + 1) * sizeof *got), *want = malloc((n + 1) * sizeof *want);
    for (int q = 0; q < 200; q++) {
        aw_vec3 c = {aw_rng_float_range(rng, -70, 70), aw_rng_float_range(rng, -4, 4), aw_rng_float_range(rng, -70, 70)};
        float radius = q % 7 == 0 ? 0.0f : aw_rng_float_range(rng, 0, q % 5 == 0 ? 30.0f : 4.0f);
        aw_entity ex[2] = {b[aw_rng_range(rng, n)].e, b[aw_rng_range(rng, n)].e};
        aw_spatial_filter f = {.mask = q % 3 == 0 ? 0u : 1u + aw_rng_range(rng, 7), .exclude = ex,
                               .exclude_count = q % 4 == 0 ? 2u : 0u, .flags = q % 2 ? AW_QUERY_CENTERS : 0u};
        uint32_t ng = 0, nw = 0;
        ASSERT_OK(aw_physics_query_radius(t->p, c, radius, &f, got, n + 1, &ng));
        for (uint32_t i = 0; i < n; i++) {
            float dx = b[i].p.x - c.x, dy = b[i].p.y - c.y, dz = b[i].p.z - c.z;
            float rr = (f.flags & AW_QUERY_CENTERS) ? radius : radius + b[i].r;
            if (dx * dx + dy * dy + dz * dz <= rr * rr && !excluded(&f, &b[i])) want[nw++] = b[i].e;
        }
        compare_sets(got, ng, want, nw, "radius query");
        /* Capacity smaller than the result: the count still says how many. */
        uint32_t nc = 0;
        ASSERT_OK(aw_physics_query_radius(t->p, c, radius, &f, got, 1, &nc));
        assert_int_equal(nc, nw);

        aw_aabb box = {{c.x - aw_rng_float(rng) * 8, c.y - aw_rng_float(rng) * 3, c.z - aw_rng_float(rng) * 8},
                       {c.x + aw_rng_float(rng) * 8, c.y + aw_rng_float(rng) * 3, c.z + aw_rng_float(rng) * 8}};
        ASSERT_OK(aw_physics_query_aabb(t->p, box, &f, got, n + 1, &ng));
        nw = 0;
        for (uint32_t i = 0; i < n; i++) {
            const aw_vec3 *p = &b[i].p;
            float gx = p->x < box.min.x ? box.min.x - p->x : (p->x > box.max.x ? p->x - box.max.x : 0.0f);
            float gy = p->y < box.min.y ? box.min.y - p->y : (p->y > box.max.y ? p->y - box.max.y : 0.0f);
            float gz = p->z < box.min.z ? box.min.z - p->z : (p->z > box.max.z ? p->z - box.max.z : 0.0f);
            bool in = (f.flags & AW_QUERY_CENTERS) ? (gx == 0 && gy == 0 && gz == 0)
                                                   : gx * gx + gy * gy + gz * gz <= b[i].r * b[i].r;
            if (in && !excluded(&f, &b[i])) want[nw++] = b[i].e;
        }
        compare_sets(got, ng, want, nw, "aabb query");
    }
    free(got);
    free(want);
    free(b);
}

static void check_nearest(ptw *t, aw_rng *rng) {
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    aw_physics_hit *all = malloc(n * sizeof *all), out[64];
    for (int q = 0; q < 150; q++) {
        aw_vec3 c = {aw_rng_float_range(rng, -90, 90), aw_rng_float_range(rng, -4, 4), aw_rng_float_range(rng, -90, 90)};
        uint32_t k = 1 + aw_rng_range(rng, 63);
        float maxd = q % 3 == 0 ? aw_rng_float_range(rng, 1, 10) : 0.0f;
        aw_spatial_filter f = {.mask = q % 4 == 0 ? 2u : 0u};
        uint32_t ng = 0, nw = 0;
        ASSERT_OK(aw_physics_query_nearest(t->p, c, k, maxd, &f, out, &ng));
        for (uint32_t i = 0; i < n; i++) {
            if (excluded(&f, &b[i])) continue;
            float dx = b[i].p.x - c.x, dy = b[i].p.y - c.y, dz = b[i].p.z - c.z;
            float d2 = dx * dx + dy * dy + dz * dz;
            if (maxd > 0 && d2 > maxd * maxd) continue;
            all[nw++] = (aw_physics_hit){b[i].e, d2};
        }
        qsort(all, nw, sizeof *all, ref_hit_cmp);
        uint32_t want = nw < k ? nw : k;
        if (ng != want) fail_msg("nearest: %u results, brute force %u", ng, want);
        for (uint32_t i = 0; i < ng; i++) {
            if (out[i].entity != all[i].entity)
                fail_msg("nearest %u: entity %llx, brute force %llx (d %g vs %g)", i, (unsigned long long)out[i].entity,
                         (unsigned long long)all[i].entity, out[i].distance, sqrtf(all[i].distance));
            assert_true(fabsf(out[i].distance - sqrtf(all[i].distance)) <= 1e-4f * (1 + out[i].distance));
        }
    }
    free(all);
    free(b);
}

/* Reference ray against a sphere, in double: fraction of the first hit in [0, 1], or -1. */
static double ref_ray_sphere(aw_vec3 a, aw_vec3 d, aw_vec3 c, float r) {
    double mx = (double)a.x - c.x, my = (double)a.y - c.y, mz = (double)a.z - c.z;
    double cc = mx * mx + my * my + mz * mz - (double)r * r;
    if (cc <= 0) return 0;
    double aa = (double)d.x * d.x + (double)d.y * d.y + (double)d.z * d.z;
    double bb = mx * d.x + my * d.y + mz * d.z;
    if (aa == 0 || bb >= 0) return -1;
    double disc = bb * bb - aa * cc;
    if (disc < 0) return -1;
    double t = (-bb - sqrt(disc)) / aa;
    return t <= 1 ? t : -1;
}

static double ref_ray_box(aw_vec3 a, aw_vec3 d, const aw_aabb *b) {
    double o[3] = {a.x, a.y, a.z}, dd[3] = {d.x, d.y, d.z}, lo[3] = {b->min.x, b->min.y, b->min.z},
           hi[3] = {b->max.x, b->max.y, b->max.z}, t0 = 0, t1 = 1;
    for (int k = 0; k < 3; k++) {
        if (dd[k] == 0) {
            if (o[k] < lo[k] || o[k] > hi[k]) return -1;
            continue;
        }
        double ta = (lo[k] - o[k]) / dd[k], tb = (hi[k] - o[k]) / dd[k];
        if (ta > tb) {
            double s = ta;
            ta = tb;
            tb = s;
        }
        t0 = fmax(t0, ta);
        t1 = fmin(t1, tb);
        if (t0 > t1) return -1;
    }
    return t0;
}

static void check_rays(ptw *t, aw_rng *rng, const aw_aabb *boxes, uint32_t nbox) {
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    for (int q = 0; q < 400; q++) {
        aw_vec3 from = {aw_rng_float_range(rng, -80, 80), aw_rng_float_range(rng, -3, 3), aw_rng_float_range(rng, -80, 80)};
        aw_vec3 to = {aw_rng_float_range(rng, -80, 80), aw_rng_float_range(rng, -3, 3), aw_rng_float_range(rng, -80, 80)};
        if (q % 9 == 0) to = (aw_vec3){from.x + 0.5f, from.y, from.z}; /* short */
        if (q % 13 == 0) to = (aw_vec3){from.x, from.y + 5, from.z};  /* vertical */
        aw_entity ex = b[aw_rng_range(rng, n)].e;
        aw_spatial_filter f = {.exclude = &ex, .exclude_count = q % 2, .mask = q % 5 == 0 ? 4u : 0u,
                               .flags = q % 7 == 0 ? AW_RAY_SKIP_OBSTACLES : (q % 11 == 0 ? AW_RAY_SKIP_ENTITIES : 0u)};
        aw_vec3 d = {to.x - from.x, to.y - from.y, to.z - from.z};
        double best = 2;
        aw_entity best_e = 0;
        if (!(f.flags & AW_RAY_SKIP_ENTITIES))
            for (uint32_t i = 0; i < n; i++) {
                if (excluded(&f, &b[i])) continue;
                double tt = ref_ray_sphere(from, d, b[i].p, b[i].r);
                if (tt >= 0 && tt < best) {
                    best = tt;
                    best_e = b[i].e;
                }
            }
        if (!(f.flags & AW_RAY_SKIP_OBSTACLES))
            for (uint32_t i = 0; i < nbox; i++) {
                double tt = ref_ray_box(from, d, &boxes[i]);
                if (tt >= 0 && tt < best) {
                    best = tt;
                    best_e = 0;
                }
            }
        aw_ray_hit hit;
        bool got = aw_physics_raycast(t->p, from, to, &f, &hit);
        assert_int_equal(got, best <= 1);
        assert_int_equal(aw_physics_line_of_sight(t->p, from, to, &f), !(best <= 1));
        if (!got) continue;
        if (fabs(hit.fraction - best) > 1e-5) fail_msg("ray %d: fraction %g, brute force %g", q, hit.fraction, best);
        if (hit.entity != best_e && fabs(hit.fraction - best) > 1e-9)
            fail_msg("ray %d: hit %llx, brute force %llx", q, (unsigned long long)hit.entity, (unsigned long long)best_e);
        assert_true(hit.entity ? hit.obstacle == -1 : hit.obstacle >= 0);
    }
    free(b);
}

static void test_queries_static(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 4; seed++) {
        ptw t = ptw_query_world(seed, false, false, false);
        aw_rng rng;
        aw_rng_seed(&rng, seed + 100);
        check_radius_and_box(&t, &rng);
        check_nearest(&t, &rng);
        check_rays(&t, &rng, NULL, 0);
        ptw_free(&t);
    }
}

static void test_queries_after_response(void **state) {
    (void)state;
    /* The response moves bodies after the grid was built; queries read the moved positions. */
    for (uint32_t seed = 1; seed <= 4; seed++) {
        ptw t = ptw_query_world(seed * 31, true, false, false);
        ASSERT_OK(aw_physics_step(t.p, 0.016f));
        aw_rng rng;
        aw_rng_seed(&rng, seed + 200);
        check_radius_and_box(&t, &rng);
        check_nearest(&t, &rng);
        check_rays(&t, &rng, NULL, 0);
        ptw_free(&t);
    }
}

static void test_rays_with_obstacles(void **state) {
    (void)state;
    ptw t = ptw_query_world(77, false, false, false);
    aw_rng rng;
    aw_rng_seed(&rng, 78);
    aw_aabb boxes[300];
    for (int i = 0; i < 300; i++) {
        aw_vec3 c = {aw_rng_float_range(&rng, -100, 100), aw_rng_float_range(&rng, -3, 3),
                     aw_rng_float_range(&rng, -100, 100)};
        float sx = aw_rng_float_range(&rng, 0, i % 50 == 0 ? 60.0f : 3.0f), sz = aw_rng_float_range(&rng, 0, 3);
        boxes[i] = (aw_aabb){{c.x - sx, c.y - 1, c.z - sz}, {c.x + sx, c.y + 1, c.z + sz}};
    }
    ASSERT_OK(aw_physics_set_obstacles(t.p, boxes, 300));
    check_rays(&t, &rng, boxes, 300);
    /* Line of sight blocked by a wall, clear around it. */
    aw_aabb wall = {{-1, -10, -10}, {1, 10, 10}};
    ASSERT_OK(aw_physics_set_obstacles(t.p, &wall, 1));
    aw_spatial_filter skip = {.flags = AW_RAY_SKIP_ENTITIES};
    assert_false(aw_physics_line_of_sight(t.p, (aw_vec3){-5, 0, 0}, (aw_vec3){5, 0, 0}, &skip));
    assert_true(aw_physics_line_of_sight(t.p, (aw_vec3){-5, 0, 20}, (aw_vec3){5, 0, 20}, &skip));
    aw_ray_hit hit;
    assert_true(aw_physics_raycast(t.p, (aw_vec3){-5, 0, 0}, (aw_vec3){5, 0, 0}, &skip, &hit));
    assert_int_equal(hit.obstacle, 0);
    assert_true(fabsf(hit.fraction - 0.4f) < 1e-6f);
    assert_true(hit.normal.x == -1.0f);
    ASSERT_OK(aw_physics_set_obstacles(t.p, NULL, 0));
    assert_true(aw_physics_line_of_sight(t.p, (aw_vec3){-5, 0, 0}, (aw_vec3){5, 0, 0}, &skip));
    /* Bad boxes are refused and leave the old set. */
    ASSERT_OK(aw_physics_set_obstacles(t.p, &wall, 1));
    aw_aabb bad = {{0, 0, 0}, {NAN, 1, 1}};
    assert_int_equal(aw_physics_set_obstacles(t.p, &bad, 1), AW_ERR_INVALID_ARG);
    aw_aabb inverted = {{1, 0, 0}, {0, 1, 1}};
    assert_int_equal(aw_physics_set_obstacles(t.p, &inverted, 1), AW_ERR_INVALID_ARG);
    assert_false(aw_physics_line_of_sight(t.p, (aw_vec3){-5, 0, 0}, (aw_vec3){5, 0, 0}, &skip));
    ptw_free(&t);
}

static void test_query_bad_input(void **state) {
    (void)state;
    ptw t = ptw_query_world(5, false, false, false);
    aw_entity out[4];
    uint32_t n = 7;
    assert_int_equal(aw_physics_query_radius(t.p, (aw_vec3){NAN, 0, 0}, 1, NULL, out, 4, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(n, 0);
    assert_int_equal(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, -1, NULL, out, 4, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, INFINITY, NULL, out, 4, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, 1, NULL, NULL, 4, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_radius(NULL, (aw_vec3){0, 0, 0}, 1, NULL, out, 4, &n), AW_ERR_INVALID_ARG);
    ASSERT_OK(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, 5, NULL, NULL, 0, &n)); /* count only */
    aw_spatial_filter bad_filter = {.exclude_count = 3};
    assert_int_equal(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, 1, &bad_filter, out, 4, &n), AW_ERR_INVALID_ARG);
    aw_aabb inverted = {{1, 1, 1}, {0, 0, 0}};
    assert_int_equal(aw_physics_query_aabb(t.p, inverted, NULL, out, 4, &n), AW_ERR_INVALID_ARG);
    aw_physics_hit hits[4];
    assert_int_equal(aw_physics_query_nearest(t.p, (aw_vec3){0, INFINITY, 0}, 4, 0, NULL, hits, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_physics_query_nearest(t.p, (aw_vec3){0, 0, 0}, 4, -1, NULL, hits, &n), AW_ERR_INVALID_ARG);
    ASSERT_OK(aw_physics_query_nearest(t.p, (aw_vec3){0, 0, 0}, 0, 0, NULL, NULL, &n));
    assert_int_equal(n, 0);
    aw_ray_hit hit;
    assert_false(aw_physics_raycast(t.p, (aw_vec3){NAN, 0, 0}, (aw_vec3){1, 0, 0}, NULL, &hit));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    ptw_free(&t);
    /* Before the first step the grid is empty: queries answer nothing, they do not fail. */
    t = ptw_new(1, NULL);
    ptw_sphere(&t, 0, 0, 0, 1);
    ASSERT_OK(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, 5, NULL, out, 4, &n));
    assert_int_equal(n, 0);
    assert_false(aw_physics_raycast(t.p, (aw_vec3){-5, 0, 0}, (aw_vec3){5, 0, 0}, NULL, &hit));
    ASSERT_OK(aw_physics_step(t.p, 0));
    ASSERT_OK(aw_physics_query_radius(t.p, (aw_vec3){0, 0, 0}, 5, NULL, out, 4, &n));
    assert_int_equal(n, 1);
    assert_true(aw_physics_raycast(t.p, (aw_vec3){-5, 0, 0}, (aw_vec3){5, 0, 0}, NULL, &hit));
    assert_true(fabsf(hit.fraction - 0.4f) < 1e-6f && fabsf(hit.point.x + 1) < 1e-5f && hit.normal.x < -0.999f);
    ptw_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries_static),
        cmocka_unit_test(test_queries_after_response),
        cmocka_unit_test(test_rays_with_obstacles),
        cmocka_unit_test(test_query_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
