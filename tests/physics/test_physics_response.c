/* Response and integration with the ECS: mass-weighted separation, restitution, statics and
 * sensors that never move, momentum, contact events in the same frame, the physics system
 * under aw_world_progress with declared access, and zero allocations in steady-state frames. */
#include "physics_test_util.h"

static aw_entity body(ptw *t, aw_vec3 p, float r, float inv_mass, float e, aw_vec3 v) {
    return ptw_spawn(t, &(spawn_desc){.pos = p, .col = {.radius = r}, .body = true,
                                      .rb = {.inv_mass = inv_mass, .restitution = e}, .has_vel = true, .vel = v});
}

static aw_vec3 pos_of(ptw *t, aw_entity e) {
    return *(const aw_vec3 *)aw_entity_get_const(t->w, e, t->ids.position);
}
static aw_vec3 vel_of(ptw *t, aw_entity e) {
    return *(const aw_vec3 *)aw_entity_get_const(t->w, e, t->ids.velocity);
}

static void test_head_on(void **state) {
    (void)state;
    ptw t = ptw_new(1, NULL);
    /* Equal masses, elastic: they swap velocities and end just touching. */
    aw_entity a = body(&t, (aw_vec3){0, 0, 0}, 0.5f, 1.0f, 1.0f, (aw_vec3){1, 0, 0});
    aw_entity b = body(&t, (aw_vec3){0.8f, 0, 0}, 0.5f, 1.0f, 1.0f, (aw_vec3){-1, 0, 0});
    ASSERT_OK(aw_physics_step(t.p, 0));
    uint32_t n;
    const aw_contact *c = aw_physics_contacts(t.p, &n);
    assert_int_equal(n, 1);
    assert_true(c[0].a == (a < b ? a : b) && c[0].b == (a < b ? b : a));
    assert_true(fabsf(c[0].depth - 0.2f) < 1e-5f);
    assert_true(fabsf(fabsf(c[0].normal.x) - 1) < 1e-6f);
    aw_vec3 pa = pos_of(&t, a), pb = pos_of(&t, b), va = vel_of(&t, a), vb = vel_of(&t, b);
    assert_true(fabsf((pb.x - pa.x) - 1.0f) < 1e-5f);        /* separated exactly */
    assert_true(fabsf((pa.x + pb.x) - 0.8f) < 1e-5f);        /* equal shares */
    assert_true(fabsf(va.x + 1) < 1e-5f && fabsf(vb.x - 1) < 1e-5f);
    /* The contact is an event this frame. */
    assert_int_equal(aw_event_count(t.w, t.ids.contact_event), 1);
    const aw_contact *ev = aw_event_get(t.w, t.ids.contact_event, 0);
    assert_true(ev->a == c[0].a && ev->b == c[0].b);
    ptw_free(&t);
}

static void test_mass_weighting_static_sensor(void **state) {
    (void)state;
    ptw t = ptw_new(1, NULL);
    /* Heavy (inv 0.25) against light (inv 1): the light one moves four times as far. */
    aw_entity heavy = body(&t, (aw_vec3){0, 0, 0}, 1, 0.25f, 0, (aw_vec3){0, 0, 0});
    aw_entity light = body(&t, (aw_vec3){1.5f, 0, 0}, 1, 1.0f, 0, (aw_vec3){0, 0, 0});
    /* A static collider (no RigidBody) and a kinematic one (inv_mass 0) never move. */
    aw_entity wall = ptw_sphere(&t, 10, 0, 0, 1);
    aw_entity pusher = body(&t, (aw_vec3){11.2f, 0, 0}, 1, 1.0f, 0.5f, (aw_vec3){-2, 0, 0});
    aw_entity kinematic = body(&t, (aw_vec3){20, 0, 0}, 1, 0.0f, 0, (aw_vec3){0, 0, 0});
    aw_entity bumped = body(&t, (aw_vec3){21, 0, 0}, 1, 1.0f, 0, (aw_vec3){0, 0, 0});
    /* A sensor reports a contact but neither it nor the other body moves. */
    aw_entity sensor = ptw_spawn(&t, &(spawn_desc){.pos = {30, 0, 0}, .col = {.radius = 2, .flags = AW_COLLIDER_SENSOR},
                                                   .body = true, .rb = {.inv_mass = 1}});
    aw_entity visitor = body(&t, (aw_vec3){31, 0, 0}, 1, 1.0f, 0, (aw_vec3){1, 0, 0});
    ASSERT_OK(aw_physics_step(t.p, 0));
    uint32_t n;
    aw_physics_contacts(t.p, &n);
    assert_int_equal(n, 4);
    aw_vec3 ph = pos_of(&t, heavy), pl = pos_of(&t, light);
    assert_true(fabsf(ph.x + 0.1f) < 1e-5f && fabsf(pl.x - 1.9f) < 1e-5f);
    assert_true(pos_of(&t, wall).x == 10.0f);
    assert_true(fabsf(pos_of(&t, pusher).x - 12.0f) < 1e-5f);
    assert_true(fabsf(vel_of(&t, pusher).x - 1.0f) < 1e-5f); /* bounced off the wall with e = 0.5 */
    assert_true(pos_of(&t, kinematic).x == 20.0f);
    assert_true(fabsf(pos_of(&t, bumped).x - 22.0f) < 1e-5f);
    assert_true(pos_of(&t, sensor).x == 30.0f && pos_of(&t, visitor).x == 31.0f);
    assert_true(vel_of(&t, visitor).x == 1.0f);
    ptw_free(&t);
}

static void test_pile_settles_and_conserves_momentum(void **state) {
    (void)state;
    ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -20, .max_x = 20, .min_z = -20, .max_z = 20, .iterations = 4,
                                          .no_events = true});
    aw_rng rng;
    aw_rng_seed(&rng, 9);
    enum { N = 400 };
    aw_entity ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = body(&t, (aw_vec3){aw_rng_float_range(&rng, -15, 15), 0, aw_rng_float_range(&rng, -15, 15)}, 0.5f,
                      aw_rng_float_range(&rng, 0.5f, 2), 0.3f,
                      (aw_vec3){aw_rng_float_range(&rng, -1, 1), 0, aw_rng_float_range(&rng, -1, 1)});
    double px0 = 0, pz0 = 0;
    for (int i = 0; i < N; i++) {
        float m = 1.0f / AW_GET(t.w, ids[i], t.ids.rigid_body, aw_rigid_body)->inv_mass;
        px0 += m * vel_of(&t, ids[i]).x;
        pz0 += m * vel_of(&t, ids[i]).z;
    }
    double depth_first = 0, depth_last = 0;
    for (int step = 0; step < 30; step++) {
        ASSERT_OK(aw_physics_step(t.p, 0));
        uint32_t n;
        const aw_contact *c = aw_physics_contacts(t.p, &n);
        double sum = 0;
        for (uint32_t i = 0; i < n; i++) sum += c[i].depth;
        if (step == 0) depth_first = sum;
        depth_last = sum;
    }
    assert_true(depth_last < depth_first * 0.05);
    double px = 0, pz = 0;
    for (int i = 0; i < N; i++) {
        float m = 1.0f / AW_GET(t.w, ids[i], t.ids.rigid_body, aw_rigid_body)->inv_mass;
        px += m * vel_of(&t, ids[i]).x;
        pz += m * vel_of(&t, ids[i]).z;
    }
    /* Impulses come in equal and opposite pairs: total momentum is unchanged. */
    assert_true(fabs(px - px0) < 1e-2 && fabs(pz - pz0) < 1e-2);
    ptw_free(&t);
}

/* With several passes, a pair that an earlier contact pulled apart in the first pass can be pushed
 * together and corrected in a later one: that correction must reach the ECS too. Checked two
 * ways: every body is found at its ECS position by a centre query (the grid's copy is the ECS's),
 * and the mass-weighted displacements sum to zero (each correction moves a pair equally and
 * oppositely; a lost one leaves its partner's share unbalanced). */
static void test_every_pass_writes_back(void **state) {
    (void)state;
    for (uint32_t iterations = 1; iterations <= 8; iterations *= 2) {
        ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -20, .max_x = 20, .min_z = -20, .max_z = 20,
                                              .iterations = iterations, .no_events = true});
        aw_rng rng;
        aw_rng_seed(&rng, 12);
        enum { N = 400 };
        aw_entity ids[N];
        aw_vec3 before[N];
        for (int i = 0; i < N; i++) {
            before[i] = (aw_vec3){aw_rng_float_range(&rng, -6, 6), 0, aw_rng_float_range(&rng, -6, 6)};
            ids[i] = body(&t, before[i], 0.5f, aw_rng_float_range(&rng, 0.5f, 2), 0, (aw_vec3){0, 0, 0});
        }
        ASSERT_OK(aw_physics_step(t.p, 0));
        double mx = 0, mz = 0, scale = 0;
        for (int i = 0; i < N; i++) {
            aw_vec3 q = pos_of(&t, ids[i]);
            aw_entity found[16];
            uint32_t n = 0;
            ASSERT_OK(aw_physics_query_radius(t.p, q, 0, &(aw_spatial_filter){.flags = AW_QUERY_CENTERS}, found, 16, &n));
            bool here = false;
            for (uint32_t k = 0; k < n && k < 16; k++) here |= found[k] == ids[i];
            if (!here) fail_msg("%u passes: body %d is not where its ECS position says", iterations, i);
            float m = 1.0f / AW_GET(t.w, ids[i], t.ids.rigid_body, aw_rigid_body)->inv_mass;
            mx += m * (double)(q.x - before[i].x);
            mz += m * (double)(q.z - before[i].z);
            scale += m * (fabs((double)(q.x - before[i].x)) + fabs((double)(q.z - before[i].z)));
        }
        assert_true(scale > 1.0); /* the pile did move */
        assert_true(fabs(mx) < 1e-4 * scale && fabs(mz) < 1e-4 * scale);
        ptw_free(&t);
    }
}

static void test_height_matters(void **state) {
    (void)state;
    ptw t = ptw_new(1, NULL);
    ptw_sphere(&t, 0, 0, 0, 0.5f);
    ptw_sphere(&t, 0, 3, 0, 0.5f); /* same (x, z), far above: same cell, no contact */
    ptw_sphere(&t, 5, 0, 0, 0.5f);
    ptw_sphere(&t, 5, 0.9f, 0, 0.5f); /* just overlapping in height */
    ASSERT_OK(aw_physics_step(t.p, 0));
    uint32_t n;
    const aw_contact *c = aw_physics_contacts(t.p, &n);
    assert_int_equal(n, 1);
    assert_true(fabsf(fabsf(c[0].normal.y) - 1) < 1e-6f);
    ptw_free(&t);
}

typedef struct reader_state {
    aw_physics *p;
    aw_event_type contact;
    uint32_t events_seen, neighbours;
    aw_event_cursor cursor;
} reader_state;

static void reader(aw_system_ctx *ctx) {
    reader_state *s = ctx->user;
    const aw_contact *c;
    while ((c = aw_event_read(ctx->world, s->contact, &s->cursor))) s->events_seen++;
    aw_entity out[64];
    uint32_t n = 0;
    assert_int_equal(aw_physics_query_radius(s->p, (aw_vec3){0, 0, 0}, 3, NULL, out, 64, &n), AW_OK);
    s->neighbours = n;
}

static void test_system_under_scheduler(void **state) {
    (void)state;
    ptw t = ptw_new(2, &(aw_physics_desc){.integrate = true});
    assert_non_null(aw_physics_register_system(t.p, NULL));
    assert_null(aw_physics_register_system(t.p, NULL)); /* same name twice */
    assert_true(aw_physics_get(t.w) == t.p);
    /* A perception system after physics reads contacts and queries, declaring the resource. */
    reader_state rs = {.p = t.p, .contact = t.ids.contact_event};
    aw_resource res = t.ids.resource;
    assert_non_null(aw_system_register(t.w, &(aw_system_desc){.name = "perception", .phase = AW_PHASE_POST_SIMULATION,
                                                             .run = reader, .read_resources = &res,
                                                             .read_resource_count = 1, .user = &rs}));
    aw_entity a = body(&t, (aw_vec3){-1, 0, 0}, 0.5f, 1, 0, (aw_vec3){1, 0, 0});
    aw_entity b = body(&t, (aw_vec3){1, 0, 0}, 0.5f, 1, 0, (aw_vec3){-1, 0, 0});
    for (int f = 0; f < 3; f++) ASSERT_OK(aw_world_progress(t.w, 0.5f));
    /* Frame 1 moved them to touching (no contact); frame 2 overlapped by 1: pushed apart. */
    aw_vec3 pa = pos_of(&t, a), pb = pos_of(&t, b);
    assert_true(pb.x - pa.x >= 0.999f);
    assert_true(rs.events_seen >= 1);
    assert_int_equal(rs.neighbours, 2);
    char text[1024];
    aw_world_describe_schedule(t.w, text, sizeof text);
    assert_non_null(strstr(text, "physics"));
    ptw_free(&t);
}

static void test_zero_allocations_steady_state(void **state) {
    (void)state;
    count_alloc ca;
    count_alloc_init(&ca);
    for (uint32_t threads = 1; threads <= 2; threads++) {
        ptw t = ptw_new(threads, &(aw_physics_desc){.min_x = -60, .max_x = 60, .min_z = -60, .max_z = 60,
                                                    .integrate = true, .allocator = &ca.iface});
        assert_non_null(aw_physics_register_system(t.p, NULL));
        aw_rng rng;
        aw_rng_seed(&rng, threads);
        for (int i = 0; i < 6000; i++)
            body(&t, (aw_vec3){aw_rng_float_range(&rng, -50, 50), 0, aw_rng_float_range(&rng, -50, 50)}, 0.5f, 1, 0.5f,
                 (aw_vec3){aw_rng_float_range(&rng, -1, 1), 0, aw_rng_float_range(&rng, -1, 1)});
        for (int i = 0; i < 200; i++) ptw_sphere(&t, aw_rng_float_range(&rng, -50, 50), 0, aw_rng_float_range(&rng, -50, 50), 2);
        for (int f = 0; f < 20; f++) ASSERT_OK(aw_world_progress(t.w, 0.02f)); /* warm-up */
        uint64_t mine = count_alloc_calls(&ca);
        aw_alloc_stats world0 = aw_world_alloc_stats(t.w), heap0 = aw_heap_stats();
        for (int f = 0; f < 30; f++) ASSERT_OK(aw_world_progress(t.w, 0.02f));
        aw_alloc_stats world = aw_alloc_stats_diff(world0, aw_world_alloc_stats(t.w));
        aw_alloc_stats heap = aw_alloc_stats_diff(heap0, aw_heap_stats());
        if (count_alloc_calls(&ca) != mine || world.allocs + world.reallocs || heap.allocs + heap.reallocs)
            fail_msg("steady-state frames allocated: physics %llu, world %llu, heap %llu",
                     (unsigned long long)(count_alloc_calls(&ca) - mine),
                     (unsigned long long)(world.allocs + world.reallocs), (unsigned long long)(heap.allocs + heap.reallocs));
        uint32_t n;
        aw_physics_contacts(t.p, &n);
        assert_true(n > 0);
        ptw_free(&t);
    }
    assert_int_equal(ca.allocs + ca.reallocs > 0, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_on),
        cmocka_unit_test(test_mass_weighting_static_sensor),
        cmocka_unit_test(test_pile_settles_and_conserves_momentum),
        cmocka_unit_test(test_every_pass_writes_back),
        cmocka_unit_test(test_height_matters),
        cmocka_unit_test(test_system_under_scheduler),
        cmocka_unit_test(test_zero_allocations_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
