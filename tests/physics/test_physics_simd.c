/* The SIMD gather and pair test against the scalar paths (desc.scalar_only): identical contacts,
 * bit for bit and in the same order, on worlds that exercise every lane case (runs longer than 8,
 * empty runs, layer masks, refused rows inside SIMD groups, mixed radii, outside bounds, coincident
 * centres); the SIMD gather with velocities, bodies and integration (identical positions and
 * velocities after the response); and the pair and contact buffers, which must stop growing once the contact count
 * settles. */
#include "physics_test_util.h"

typedef struct layout {
    const char *name;
    uint32_t n;
    float half;    /* positions in [-half, half] on x and z */
    float cluster; /* > 0: a quarter of the colliders within this of the origin */
    bool layers, mixed_radii, bad_rows;
    bool snap; /* positions on a unit lattice at y = 0: many coincident centres */
    float cell; /* > 0: this cell size (wide cells: long runs, as the combat scenario's) */
} layout;

static void spawn_layout(ptw *t, const layout *l, uint32_t seed) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    for (uint32_t i = 0; i < l->n; i++) {
        float span = l->cluster > 0 && i % 4 == 0 ? l->cluster : l->half;
        spawn_desc s = {.pos = {aw_rng_float_range(&rng, -span, span), aw_rng_float_range(&rng, -0.5f, 0.5f),
                                aw_rng_float_range(&rng, -span, span)},
                        .col = {.radius = 0.5f}};
        if (l->mixed_radii) s.col.radius = i % 97 == 0 ? 6.0f : aw_rng_float(&rng) * 0.6f;
        if (l->layers) {
            s.col.layer = 1u << aw_rng_range(&rng, 3);
            s.col.mask = aw_rng_range(&rng, 2) ? 0 : 1u << aw_rng_range(&rng, 3);
        }
        if (l->bad_rows && i % 37 == 5) s.pos.x = i % 2 ? NAN : INFINITY;
        if (l->bad_rows && i % 41 == 3) s.col.radius = -1.0f;
        if (l->bad_rows && i % 43 == 7) s.col.flags = AW_COLLIDER_DISABLED;
        if (l->snap) s.pos = (aw_vec3){roundf(s.pos.x), 0.0f, roundf(s.pos.z)};
        if (i % 53 == 0) s.pos.x += 3.0f * l->half; /* outside the bounds: a border cell */
        ptw_spawn(t, &s);
    }
}

static void test_simd_matches_scalar(void **state) {
    (void)state;
    const layout layouts[] = {
        {"sparse", 3000, 60.0f, 0, false, false, false, false, 0},
        {"dense", 3000, 20.0f, 0, false, false, false, false, 0},
        {"clustered", 4000, 50.0f, 2.0f, false, false, false, false, 0}, /* runs far beyond 8 lanes */
        {"layers", 3000, 25.0f, 3.0f, true, false, false, false, 0},
        {"mixed radii", 2500, 30.0f, 0, false, true, false, false, 0},
        {"bad rows", 2500, 25.0f, 0, true, true, true, false, 0},
        {"band sort", 40000, 90.0f, 5.0f, false, false, false, false, 0},
        /* coincident centres (the +x normal) and contacts in every entity order (the swap) */
        {"coincident", 3000, 20.0f, 0, false, false, false, true, 0},
        /* a set cell far wider than the colliders (runs of 8 to 16 with and without masks) */
        {"wide cells", 3000, 30.0f, 4.0f, false, false, false, false, 6.0f},
        {"wide cells, layers", 3000, 30.0f, 4.0f, true, false, true, false, 6.0f},
    };
    for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; li++)
        for (uint32_t threads = 1; threads <= 2; threads++) {
            const layout *l = &layouts[li];
            aw_physics_desc d = {.min_x = -l->half, .max_x = l->half, .min_z = -l->half, .max_z = l->half,
                                 .no_response = true, .no_events = true, .cell_size = l->cell};
            ptw fast = ptw_new(threads, &d);
            d.scalar_only = true;
            ptw slow = ptw_new(threads, &d);
            spawn_layout(&fast, l, 100u + (uint32_t)li);
            spawn_layout(&slow, l, 100u + (uint32_t)li);
            for (int step = 0; step < 2; step++) {
                aw_status a = aw_physics_step(fast.p, 0.0f), b = aw_physics_step(slow.p, 0.0f);
                assert_int_equal(a, b);
                uint32_t na, nb;
                const aw_contact *ca = aw_physics_contacts(fast.p, &na), *cb = aw_physics_contacts(slow.p, &nb);
                if (na != nb) fail_msg("%s, %u threads: %u contacts with SIMD, %u scalar", l->name, threads, na, nb);
                if (na && memcmp(ca, cb, (size_t)na * sizeof *ca) != 0)
                    fail_msg("%s, %u threads: contacts differ between SIMD and scalar", l->name, threads);
                if (l->snap) { /* the layout must reach the coincident case, in groups of 8 */
                    uint32_t coincident = 0;
                    for (uint32_t k = 0; k < na; k++) coincident += ca[k].depth == 1.0f && ca[k].normal.x == 1.0f;
                    if (coincident < 16) fail_msg("coincident: only %u contacts with coincident centres", coincident);
                }
                aw_physics_stats sa = aw_physics_get_stats(fast.p), sb = aw_physics_get_stats(slow.p);
                assert_int_equal(sa.pair_tests, sb.pair_tests);
                assert_int_equal(sa.skipped, sb.skipped);
                assert_int_equal(sa.outside, sb.outside);
                assert_int_equal(sa.colliders, sb.colliders);
                char what[96];
                snprintf(what, sizeof what, "%s, %u threads, SIMD", l->name, threads);
                if (l->n <= 5000) check_pairs_now(&fast, what);
            }
            ptw_free(&fast);
            ptw_free(&slow);
        }
}

/* Bodies with and without Velocity and RigidBody (so chunks of every kind), integrated and pushed
 * apart; every row kind that the scalar path refuses sits inside some SIMD group of 8: a NaN or
 * infinite velocity, one so large that the moved position overflows, a negative inverse mass, a
 * NaN restitution, a disabled collider. */
static void spawn_bodies(ptw *t, uint32_t n, uint32_t seed, bool bad_rows) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    for (uint32_t i = 0; i < n; i++) {
        spawn_desc s = {.pos = {aw_rng_float_range(&rng, -20, 20), aw_rng_float_range(&rng, -0.5f, 0.5f),
                                aw_rng_float_range(&rng, -20, 20)},
                        .col = {.radius = 0.5f}};
        uint32_t kind = i % 32 < 24 ? 0 : (i % 32 < 28 ? 1 : 2); /* runs of rows that share a table */
        s.has_vel = kind != 2;
        s.body = kind != 1;
        s.vel = (aw_vec3){aw_rng_float_range(&rng, -3, 3), 0.0f, aw_rng_float_range(&rng, -3, 3)};
        s.rb = (aw_rigid_body){.inv_mass = aw_rng_float(&rng) * 2.0f, .restitution = aw_rng_float(&rng)};
        if (i % 13 == 0) s.col.flags = AW_COLLIDER_SENSOR;
        if (bad_rows) {
            if (i % 101 == 17) s.vel.x = NAN;
            if (i % 103 == 19) s.vel.z = -INFINITY;
            if (i % 107 == 23) s.vel.y = 3e38f; /* finite, but the moved position is not */
            if (i % 109 == 29) s.rb.inv_mass = -1.0f;
            if (i % 113 == 31) s.rb.restitution = NAN;
            if (i % 127 == 37) s.col.flags = AW_COLLIDER_DISABLED;
        }
        ptw_spawn(t, &s);
    }
}

static void test_simd_gather_bodies_matches_scalar(void **state) {
    (void)state;
    for (int bad = 0; bad <= 1; bad++)
        for (uint32_t threads = 1; threads <= 2; threads++) {
            aw_physics_desc d = {.min_x = -20, .max_x = 20, .min_z = -20, .max_z = 20, .integrate = true,
                                 .no_events = true};
            ptw fast = ptw_new(threads, &d);
            d.scalar_only = true;
            ptw slow = ptw_new(threads, &d);
            spawn_bodies(&fast, 3000, 7u + (uint32_t)bad, bad);
            spawn_bodies(&slow, 3000, 7u + (uint32_t)bad, bad);
            aw_query *qa = aw_query_create(fast.w, &(aw_query_desc){AW_TERMS(AW_READ(fast.ids.position),
                                                                               AW_OPTIONAL(fast.ids.velocity, AW_ACCESS_READ))});
            aw_query *qb = aw_query_create(slow.w, &(aw_query_desc){AW_TERMS(AW_READ(slow.ids.position),
                                                                               AW_OPTIONAL(slow.ids.velocity, AW_ACCESS_READ))});
            for (int step = 0; step < 4; step++) {
                aw_status a = aw_physics_step(fast.p, 1.0f / 60.0f), b = aw_physics_step(slow.p, 1.0f / 60.0f);
                assert_int_equal(a, b);
                aw_physics_stats sa = aw_physics_get_stats(fast.p), sb = aw_physics_get_stats(slow.p);
                assert_int_equal(sa.skipped, sb.skipped);
                assert_int_equal(sa.colliders, sb.colliders);
                if (bad) assert_true(sa.skipped > 0);
                uint32_t na, nb;
                const aw_contact *ca = aw_physics_contacts(fast.p, &na), *cb = aw_physics_contacts(slow.p, &nb);
                assert_int_equal(na, nb);
                assert_true(na > 100);
                if (memcmp(ca, cb, (size_t)na * sizeof *ca) != 0)
                    fail_msg("bad rows %d, %u threads, step %d: contacts differ", bad, threads, step);
                /* Positions (integrated, then pushed) and velocities, bit for bit, table by table. */
                aw_iter ia = aw_query_iter(qa), ib = aw_query_iter(qb);
                uint32_t rows = 0;
                while (aw_iter_next(&ia)) {
                    assert_true(aw_iter_next(&ib));
                    assert_int_equal(ia.count, ib.count);
                    assert_memory_equal(ia.entities, ib.entities, ia.count * sizeof(aw_entity));
                    assert_memory_equal(ia.columns[0], ib.columns[0], ia.count * sizeof(aw_vec3));
                    assert_int_equal(ia.columns[1] != NULL, ib.columns[1] != NULL);
                    if (ia.columns[1]) assert_memory_equal(ia.columns[1], ib.columns[1], ia.count * sizeof(aw_vec3));
                    rows += ia.count;
                }
                assert_false(aw_iter_next(&ib));
                assert_int_equal(rows, 3000);
            }
            ptw_free(&fast);
            ptw_free(&slow);
        }
}

/* Pulls every collider towards the origin by `f` (contacts climb step after step). */
static void squeeze(ptw *t, float f) {
    aw_iter it = aw_query_iter(t->all);
    while (aw_iter_next(&it)) {
        aw_vec3 *pos = it.columns[0];
        for (uint32_t i = 0; i < it.count; i++) {
            pos[i].x *= f;
            pos[i].z *= f;
        }
    }
}

static void test_buffers_stop_growing(void **state) {
    (void)state;
    for (uint32_t threads = 1; threads <= 2; threads++) {
        count_alloc ca;
        count_alloc_init(&ca);
        ptw t = ptw_new(threads, &(aw_physics_desc){.min_x = -70, .max_x = 70, .min_z = -70, .max_z = 70,
                                                    .no_response = true, .no_events = true, .allocator = &ca.iface});
        aw_rng rng;
        aw_rng_seed(&rng, threads);
        for (uint32_t i = 0; i < 3000; i++)
            ptw_sphere(&t, aw_rng_float_range(&rng, -64, 64), 0, aw_rng_float_range(&rng, -64, 64), 0.5f);
        /* Contacts creep up from about 0.3 to about 0.65 per collider: the first step sizes the
         * buffers for one contact per collider, so nothing grows afterwards. */
        ASSERT_OK(aw_physics_step(t.p, 0.0f));
        uint32_t first;
        aw_physics_contacts(t.p, &first);
        uint64_t after_first = count_alloc_calls(&ca);
        for (int step = 0; step < 20; step++) {
            squeeze(&t, 0.98f);
            ASSERT_OK(aw_physics_step(t.p, 0.0f));
        }
        uint32_t last;
        aw_physics_contacts(t.p, &last);
        assert_true(last > 2 * first);
        if (count_alloc_calls(&ca) != after_first)
            fail_msg("%u threads: %llu allocations after the first step while contacts grew %u -> %u", threads,
                     (unsigned long long)(count_alloc_calls(&ca) - after_first), first, last);
        /* Far beyond: contacts multiply; buffers grow to twice the need, so only a few steps allocate. */
        uint32_t growing_steps = 0;
        for (int step = 0; step < 40; step++) {
            squeeze(&t, 0.97f);
            uint64_t before = count_alloc_calls(&ca);
            ASSERT_OK(aw_physics_step(t.p, 0.0f));
            growing_steps += count_alloc_calls(&ca) != before;
            check_pairs_now(&t, "squeezed");
        }
        aw_physics_contacts(t.p, &last);
        assert_true(last > 20000);
        /* Contacts multiplied by about 16: each of the few buffers doubled a handful of times. */
        if (growing_steps > 20) fail_msg("%u threads: %u of 40 steps allocated", threads, growing_steps);
        /* Held still, nothing allocates. */
        uint64_t held = count_alloc_calls(&ca);
        for (int step = 0; step < 10; step++) ASSERT_OK(aw_physics_step(t.p, 0.0f));
        assert_int_equal(count_alloc_calls(&ca), held);
        ptw_free(&t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simd_matches_scalar),
        cmocka_unit_test(test_simd_gather_bodies_matches_scalar),
        cmocka_unit_test(test_buffers_stop_growing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
