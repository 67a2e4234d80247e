/* ctest-label: threads */
/* Determinism: the same seed gives bit-identical particles for 1, 2, 3 and 8 threads and for every
 * SIMD kernel this CPU runs (scalar, AVX2, AVX-512), with emission, deaths, recycling, ground and
 * sphere collisions all active. */
#include "particles_test_util.h"

enum { CAPACITY = 120000, STEPS = 60 };

typedef struct run_out {
    uint64_t hash[STEPS];
    uint32_t live[STEPS];
} run_out;

static void run(uint32_t threads, aw_particles_simd simd, run_out *out) {
    aw_jobs *jobs = threads > 1 ? aw_jobs_create(&(aw_jobs_desc){.threads = threads}) : NULL;
    aw_particle_forces f = aw_particles_default_forces();
    f.drag = 0.3f;
    f.wind = (aw_vec3){1.5f, 0, -0.5f};
    aw_particles *ps = aw_particles_create(
        &(aw_particles_desc){.capacity = CAPACITY, .jobs = jobs, .simd = simd, .seed = 99, .forces = &f});
    assert_non_null(ps);
    aw_particle_sphere spheres[16];
    for (int i = 0; i < 16; i++)
        spheres[i] = (aw_particle_sphere){{(float)(i % 4) * 3 - 4.5f, 1.0f + (float)(i / 8), (float)(i / 4) * 3 - 4.5f},
                                          0.6f + 0.1f * (float)(i % 3)};
    ASSERT_OK(aw_particles_set_spheres(ps, spheres, 16));
    aw_emitter em[3];
    for (int i = 0; i < 3; i++) {
        aw_emitter_desc d = fountain_desc((aw_vec3){(float)i * 2 - 2, 0.2f, 0}, 30000.0f + 5000.0f * (float)i);
        d.spread = 0.9f;
        ASSERT_OK(aw_particles_emitter_create(ps, &d, &em[i]));
    }
    for (int s = 0; s < STEPS; s++) {
        if (s % 7 == 0) ASSERT_OK(aw_particles_burst(ps, em[s % 3], 3000, &(aw_vec3){0, 6, 0}));
        ASSERT_OK(aw_particles_step(ps, 1.0f / 60.0f));
        out->hash[s] = aw_particles_hash(ps);
        out->live[s] = aw_particles_get_stats(ps).live;
    }
    aw_particles_destroy(ps);
    aw_jobs_destroy(jobs);
}

static void test_same_particles_any_thread_count_and_kernel(void **state) {
    (void)state;
    run_out ref, got;
    run(1, AW_PARTICLES_SIMD_SCALAR, &ref);
    assert_true(ref.live[STEPS - 1] > 50000);
    const uint32_t threads[] = {1, 2, 3, 8};
    for (aw_particles_simd simd = AW_PARTICLES_SIMD_SCALAR; simd < AW_PARTICLES_SIMD_COUNT; simd++) {
        if (aw_particles_simd_detect() < simd) {
            print_message("skipping %s: not supported by this CPU\n", aw_particles_simd_str(simd));
            continue;
        }
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            run(threads[t], simd, &got);
            for (int s = 0; s < STEPS; s++) {
                if (got.hash[s] != ref.hash[s] || got.live[s] != ref.live[s])
                    fail_msg("%s with %u threads differs at step %d (live %u vs %u)", aw_particles_simd_str(simd),
                             threads[t], s, got.live[s], ref.live[s]);
            }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_particles_any_thread_count_and_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
