/* Particle system behaviour: bad input refused with a status, zero emitters, emitters and
 * particles at capacity, zero lifetimes, the burst queue, forces against closed forms, ground and
 * sphere collisions, colour and size over life, recycling, and no allocation in a steady step. */
#include "particles_test_util.h"

static aw_particles *make(uint32_t capacity) {
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = capacity, .seed = 7});
    if (!ps) fail_msg("aw_particles_create: %s", aw_last_error());
    return ps;
}

static void test_bad_input_refused(void **state) {
    (void)state;
    assert_null(aw_particles_create(NULL));
    assert_null(aw_particles_create(&(aw_particles_desc){.capacity = 0}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    aw_particle_forces nan_forces = aw_particles_default_forces();
    nan_forces.gravity.y = NAN;
    assert_null(aw_particles_create(&(aw_particles_desc){.capacity = 10, .forces = &nan_forces}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    /* GPU demanded without a device: a clear status, not a crash. */
    assert_null(aw_particles_create(&(aw_particles_desc){.capacity = 10, .backend = AW_PARTICLES_GPU}));
    assert_int_equal(aw_last_status(), AW_ERR_UNAVAILABLE);

    aw_particles *ps = make(100);
    aw_particle_forces f = aw_particles_default_forces();
    f.drag = NAN;
    assert_int_equal(aw_particles_set_forces(ps, &f), AW_ERR_INVALID_ARG);
    f = aw_particles_default_forces();
    f.restitution = 1.5f;
    assert_int_equal(aw_particles_set_forces(ps, &f), AW_ERR_INVALID_ARG);
    f.restitution = 0.5f;
    f.wind.x = INFINITY;
    assert_int_equal(aw_particles_set_forces(ps, &f), AW_ERR_INVALID_ARG);

    const struct {
        const char *what;
        aw_emitter_desc d;
    } bad[] = {
        {"NaN position", {.position = {NAN, 0, 0}, .lifetime_max = 1}},
        {"NaN rate", {.rate = NAN, .lifetime_max = 1}},
        {"negative rate", {.rate = -1, .lifetime_max = 1}},
        {"NaN lifetime", {.lifetime_min = NAN, .lifetime_max = 1}},
        {"lifetime max < min", {.lifetime_min = 2, .lifetime_max = 1}},
        {"NaN speed", {.speed_max = NAN}},
        {"speed max < min", {.speed_min = 3, .speed_max = 1}},
        {"spread > pi", {.spread = 4}},
        {"NaN spread", {.spread = NAN}},
        {"NaN colour", {.color_start = {NAN, 0, 0, 0}}},
        {"negative size", {.size_start = -1}},
        {"NaN direction", {.direction = {0, NAN, 0}}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aw_emitter em = 123;
        aw_status st = aw_particles_emitter_create(ps, &bad[i].d, &em);
        if (st != AW_ERR_INVALID_ARG) fail_msg("%s: got %s", bad[i].what, aw_status_str(st));
        assert_true(strlen(aw_last_error()) > 0);
    }
    assert_int_equal(aw_particles_emitter_count(ps), 0);
    assert_int_equal(aw_particles_step(ps, NAN), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_particles_step(ps, -1.0f), AW_ERR_INVALID_ARG);
    aw_particle_sphere sph = {.center = {0, NAN, 0}, .radius = 1};
    assert_int_equal(aw_particles_set_spheres(ps, &sph, 1), AW_ERR_INVALID_ARG);
    sph = (aw_particle_sphere){.center = {0, 0, 0}, .radius = 0};
    assert_int_equal(aw_particles_set_spheres(ps, &sph, 1), AW_ERR_INVALID_ARG);
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(ps, &(aw_emitter_desc){.lifetime_max = 1}, &em));
    aw_vec3 nan_at = {NAN, 0, 0};
    assert_int_equal(aw_particles_burst(ps, em, 5, &nan_at), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_particles_emitter_set_position(ps, em, nan_at), AW_ERR_INVALID_ARG);
    ASSERT_OK(aw_particles_emitter_destroy(ps, em));
    assert_int_equal(aw_particles_burst(ps, em, 5, NULL), AW_ERR_NOT_FOUND); /* stale handle */
    assert_int_equal(aw_particles_emitter_destroy(ps, em), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_particles_burst(ps, AW_EMITTER_NULL, 5, NULL), AW_ERR_NOT_FOUND);
    aw_particles_destroy(ps);
}

static void test_zero_emitters(void **state) {
    (void)state;
    aw_particles *ps = make(1000);
    for (int i = 0; i < 10; i++) ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
    aw_particles_stats s = aw_particles_get_stats(ps);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.dead, 1000);
    assert_int_equal(s.emitters, 0);
    assert_int_equal(s.total_emitted, 0);
    assert_int_equal(s.steps, 10);
    uint32_t n = 99;
    ASSERT_OK(aw_particles_read(ps, NULL, 0, &n));
    assert_int_equal(n, 0);
    aw_particles_destroy(ps);
}

static void test_emitters_at_capacity(void **state) {
    (void)state;
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 300, .max_emitters = 4, .max_bursts = 3});
    assert_non_null(ps);
    aw_emitter em[4];
    aw_emitter_desc fd = fountain_desc((aw_vec3){0, 1, 0}, 0);
    for (int i = 0; i < 4; i++) ASSERT_OK(aw_particles_emitter_create(ps, &fd, &em[i]));
    aw_emitter extra;
    assert_int_equal(aw_particles_emitter_create(ps, &fd, &extra), AW_ERR_CAPACITY);
    /* The burst queue refuses past max_bursts and keeps what it has. */
    for (int i = 0; i < 3; i++) ASSERT_OK(aw_particles_burst(ps, em[i], 200, NULL));
    assert_int_equal(aw_particles_burst(ps, em[3], 200, NULL), AW_ERR_CAPACITY);
    /* 600 asked for, 300 fit: the rest are refused and counted, nothing overflows. */
    ASSERT_OK(aw_particles_step(ps, 0.01f));
    aw_particles_stats s = aw_particles_get_stats(ps);
    assert_int_equal(s.live, 300);
    assert_int_equal(s.emitted, 300);
    assert_int_equal(s.refused, 300);
    /* A freed emitter slot is reused with a new generation; the old handle stays stale. */
    ASSERT_OK(aw_particles_emitter_destroy(ps, em[1]));
    aw_emitter again;
    ASSERT_OK(aw_particles_emitter_create(ps, &fd, &again));
    assert_true(again != em[1]);
    assert_int_equal(aw_particles_emitter_set_active(ps, em[1], false), AW_ERR_NOT_FOUND);
    /* Particles die, slots recycle, the system refills to capacity and never beyond. */
    for (int step = 0; step < 400; step++) {
        ASSERT_OK(aw_particles_burst(ps, em[0], 50, NULL));
        ASSERT_OK(aw_particles_step(ps, 0.02f));
        s = aw_particles_get_stats(ps);
        assert_true(s.live <= 300);
    }
    assert_true(s.total_emitted > 1000); /* about 300 + 300 * 8 s / 1.75 s mean life */
    uint32_t n;
    aw_particle *out = calloc(300, sizeof *out);
    ASSERT_OK(aw_particles_read(ps, out, 300, &n));
    assert_int_equal(n, s.live);
    for (uint32_t i = 1; i < n; i++) assert_true(out[i].id > out[i - 1].id);
    free(out);
    aw_particles_destroy(ps);
}

static void test_zero_lifetimes(void **state) {
    (void)state;
    aw_particles *ps = make(64);
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(ps, &(aw_emitter_desc){.rate = 600, .speed_max = 1}, &em));
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(aw_particles_step(ps, 0.1f));
        aw_particles_stats s = aw_particles_get_stats(ps);
        assert_int_equal(s.live, 0);
        assert_int_equal(s.emitted, 60);
        assert_int_equal(s.died, 60);
        assert_int_equal(s.refused, 0);
    }
    /* Slots were never taken, so a normal burst still finds every one of them. */
    aw_emitter live;
    ASSERT_OK(aw_particles_emitter_create(ps, &(aw_emitter_desc){.lifetime_min = 5, .lifetime_max = 5}, &live));
    ASSERT_OK(aw_particles_burst(ps, live, 64, NULL));
    ASSERT_OK(aw_particles_emitter_set_active(ps, em, false));
    ASSERT_OK(aw_particles_step(ps, 0.1f));
    assert_int_equal(aw_particles_get_stats(ps).live, 64);
    aw_particles_destroy(ps);
}

/* No drag, no ground: x = x0 + v0 t + g t^2 (n+1)/(2n) for n semi-implicit Euler steps. */
static void test_gravity_and_lifetime(void **state) {
    (void)state;
    aw_particle_forces f = aw_particles_default_forces();
    f.ground = false;
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 16, .forces = &f});
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(
        ps, &(aw_emitter_desc){.position = {1, 50, 2}, .direction = {1, 0, 0}, .speed_min = 2, .speed_max = 2,
                               .lifetime_min = 1.0f, .lifetime_max = 1.0f},
        &em));
    ASSERT_OK(aw_particles_burst(ps, em, 1, NULL));
    const int n = 30;
    const float dt = 0.02f;
    for (int i = 0; i < n; i++) ASSERT_OK(aw_particles_step(ps, dt));
    aw_particle p;
    uint32_t count;
    ASSERT_OK(aw_particles_read(ps, &p, 1, &count));
    assert_int_equal(count, 1);
    float t = n * dt;
    assert_float_equal(p.position.x, 1 + 2 * t, 1e-4);
    assert_float_equal(p.position.y, 50 - 9.81f * t * t * (n + 1) / (2.0f * n), 1e-3);
    assert_float_equal(p.position.z, 2, 1e-5);
    assert_float_equal(p.velocity.y, -9.81f * t, 1e-4);
    assert_float_equal(p.age, t, 1e-5);
    for (int i = 0; i < 25; i++) ASSERT_OK(aw_particles_step(ps, dt)); /* past 1 s */
    assert_int_equal(aw_particles_get_stats(ps).live, 0);
    aw_particles_destroy(ps);
}

/* Drag pulls velocity toward the wind: with no gravity, v_n = w + (v0 - w)(1 - k dt)^n. */
static void test_drag_and_wind(void **state) {
    (void)state;
    aw_particle_forces f = {.wind = {3, 0, 0}, .drag = 2.0f};
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 4, .forces = &f});
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(
        ps, &(aw_emitter_desc){.direction = {0, 0, 1}, .speed_min = 5, .speed_max = 5, .lifetime_max = 10,
                               .lifetime_min = 10},
        &em));
    ASSERT_OK(aw_particles_burst(ps, em, 1, &(aw_vec3){0, 5, 0}));
    for (int i = 0; i < 20; i++) ASSERT_OK(aw_particles_step(ps, 0.05f));
    aw_particle p;
    uint32_t count;
    ASSERT_OK(aw_particles_read(ps, &p, 1, &count));
    float decay = powf(1 - 2.0f * 0.05f, 20);
    assert_float_equal(p.velocity.x, 3 + (0 - 3) * decay, 1e-4);
    assert_float_equal(p.velocity.z, 5 * decay, 1e-4);
    assert_float_equal(p.position.y, 5, 1e-6);
    aw_particles_destroy(ps);
}

static void test_ground_and_spheres(void **state) {
    (void)state;
    aw_particle_forces f = aw_particles_default_forces();
    f.ground_y = -1.0f;
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 20000, .forces = &f, .seed = 3});
    aw_particle_sphere spheres[] = {{{0, 2, 0}, 1.5f}, {{3, 0, 1}, 1.0f}, {{-3, 0.5f, -2}, 2.0f}};
    ASSERT_OK(aw_particles_set_spheres(ps, spheres, 3));
    aw_emitter em;
    aw_emitter_desc d = fountain_desc((aw_vec3){0, 8, 0}, 20000);
    d.direction = (aw_vec3){0, -1, 0};
    d.spread = 1.2f;
    d.lifetime_min = d.lifetime_max = 3.0f;
    ASSERT_OK(aw_particles_emitter_create(ps, &d, &em));
    uint32_t near_sphere = 0;
    aw_particle *out = calloc(20000, sizeof *out);
    for (int step = 0; step < 90; step++) {
        ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
        uint32_t n;
        ASSERT_OK(aw_particles_read(ps, out, 20000, &n));
        for (uint32_t i = 0; i < n; i++) {
            aw_vec3 p = out[i].position;
            assert_true(p.y >= -1.0f);
            for (int s = 0; s < 3; s++) {
                float dx = p.x - spheres[s].center.x, dy = p.y - spheres[s].center.y, dz = p.z - spheres[s].center.z;
                float d2 = sqrtf(dx * dx + dy * dy + dz * dz);
                /* Pushed out to the surface (a later sphere may push into an earlier one only where
                 * they overlap; these three do not). */
                if (d2 < spheres[s].radius * (1 - 1e-5f))
                    fail_msg("particle %u inside sphere %d: distance %g < %g", out[i].id, s, (double)d2,
                             (double)spheres[s].radius);
                if (d2 < spheres[s].radius * 1.01f) near_sphere++;
            }
        }
    }
    assert_true(near_sphere > 100); /* the spheres were hit, not missed */
    free(out);
    aw_particles_destroy(ps);
}

static void test_colour_and_size_over_life(void **state) {
    (void)state;
    aw_particle_forces f = {0};
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = 4, .forces = &f});
    aw_emitter em;
    ASSERT_OK(aw_particles_emitter_create(ps,
                                          &(aw_emitter_desc){.lifetime_min = 2,
                                                             .lifetime_max = 2,
                                                             .color_start = {1, 0, 0, 1},
                                                             .color_end = {0, 0, 1, 0},
                                                             .size_start = 1,
                                                             .size_end = 3},
                                          &em));
    ASSERT_OK(aw_particles_burst(ps, em, 1, NULL));
    for (int i = 0; i < 5; i++) ASSERT_OK(aw_particles_step(ps, 0.1f)); /* age 0.5: a quarter */
    aw_particle p;
    uint32_t n;
    ASSERT_OK(aw_particles_read(ps, &p, 1, &n));
    assert_int_equal(n, 1);
    assert_float_equal(p.color[0], 0.75, 1e-5);
    assert_float_equal(p.color[2], 0.25, 1e-5);
    assert_float_equal(p.color[3], 0.75, 1e-5);
    assert_float_equal(p.size, 1.5, 1e-5);
    assert_int_equal(p.emitter, em);
    aw_particles_destroy(ps);
}

static void test_steady_state_allocates_nothing(void **state) {
    (void)state;
    pcount_alloc ca;
    pcount_alloc_init(&ca);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    aw_particles *ps =
        aw_particles_create(&(aw_particles_desc){.capacity = 50000, .jobs = jobs, .allocator = &ca.iface});
    aw_particle_sphere s = {{0, 1, 0}, 1};
    ASSERT_OK(aw_particles_set_spheres(ps, &s, 1));
    aw_emitter em;
    aw_emitter_desc fd = fountain_desc((aw_vec3){0, 0.5f, 0}, 20000);
    ASSERT_OK(aw_particles_emitter_create(ps, &fd, &em));
    for (int i = 0; i < 30; i++) ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
    aw_alloc_stats heap0 = aw_heap_stats();
    uint64_t before = ca.allocs;
    for (int i = 0; i < 200; i++) {
        ASSERT_OK(aw_particles_burst(ps, em, 100, NULL));
        ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
    }
    assert_int_equal(ca.allocs, before);
    aw_alloc_stats heap1 = aw_heap_stats();
    assert_int_equal(heap1.allocs - heap0.allocs, 0);
    assert_true(aw_particles_get_stats(ps).live > 10000);
    aw_particles_destroy(ps);
    assert_int_equal(ca.allocs, ca.frees);
    aw_jobs_destroy(jobs);
}

static void test_simd_levels_report(void **state) {
    (void)state;
    aw_particles_simd best = aw_particles_simd_detect();
    assert_true(best >= AW_PARTICLES_SIMD_SCALAR && best < AW_PARTICLES_SIMD_COUNT);
    aw_particles *ps = make(10);
    assert_int_equal(aw_particles_get_simd(ps), best);
    assert_int_equal(aw_particles_get_backend(ps), AW_PARTICLES_CPU); /* AUTO without a device */
    assert_string_equal(aw_particles_backend_str(AW_PARTICLES_CPU), "cpu");
    aw_particles_destroy(ps);
    if (best < AW_PARTICLES_SIMD_AVX512) {
        assert_null(aw_particles_create(&(aw_particles_desc){.capacity = 10, .simd = AW_PARTICLES_SIMD_AVX512}));
        assert_int_equal(aw_last_status(), AW_ERR_UNSUPPORTED);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_refused),
        cmocka_unit_test(test_zero_emitters),
        cmocka_unit_test(test_emitters_at_capacity),
        cmocka_unit_test(test_zero_lifetimes),
        cmocka_unit_test(test_gravity_and_lifetime),
        cmocka_unit_test(test_drag_and_wind),
        cmocka_unit_test(test_ground_and_spheres),
        cmocka_unit_test(test_colour_and_size_over_life),
        cmocka_unit_test(test_steady_state_allocates_nothing),
        cmocka_unit_test(test_simd_levels_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
