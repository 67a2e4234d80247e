/* ctest-label: threads */
/* Determinism across thread counts: the same contacts (same order, same bits) and the same world
 * hash after every step for 1, 2, 3 and 8 threads, through aw_physics_step and through the
 * scheduler (24,000 rows: the counting sort splits into 1, 2, 3 and 4 tasks, as many as threads up
 * to one per 5,000 rows, and must give the same order), with every step split (always_parallel)
 * and with the automatic choice, whose probe runs steps 0-7 split and 8-15 on the caller; the same
 * at 40,000 rows, where the band sort runs; and queries from many threads at once (readers share
 * the grid). */
#include "physics_test_util.h"

enum { N = 24000, STEPS = 18, PROBE = 16 }; /* PROBE: PHYS_PROBE_STEPS */

typedef struct run_result {
    uint64_t hash[STEPS];
    uint64_t contacts_hash[STEPS];
    uint32_t contacts[STEPS];
    bool on_caller[STEPS];
} run_result;

static void populate(ptw *t, uint32_t rows, float half) {
    aw_rng rng;
    aw_rng_seed(&rng, 4242);
    for (uint32_t i = 0; i < rows; i++) {
        spawn_desc s = {.pos = {aw_rng_float_range(&rng, -half, half), aw_rng_float_range(&rng, -0.5f, 0.5f),
                                aw_rng_float_range(&rng, -half, half)},
                        .col = {.radius = aw_rng_float_range(&rng, 0.2f, 0.6f)}};
        if (i % 500 == 0) s.col.radius = 6.0f; /* a few large ones */
        if (i % 5 != 0) {
            s.body = true;
            s.rb = (aw_rigid_body){.inv_mass = aw_rng_float_range(&rng, 0.5f, 2), .restitution = 0.3f};
            s.has_vel = true;
            s.vel = (aw_vec3){aw_rng_float_range(&rng, -3, 3), 0, aw_rng_float_range(&rng, -3, 3)};
        }
        if (i % 97 == 0) s.pos.x += 200; /* outside the bounds */
        ptw_spawn(t, &s);
    }
}

static void run_rows(uint32_t threads, bool scheduler, bool always_parallel, uint32_t rows, int steps,
                     run_result *out) {
    const float half = 80.0f * sqrtf((float)rows / N); /* the same density at any size */
    ptw t = ptw_new(threads, &(aw_physics_desc){.min_x = -half, .max_x = half, .min_z = -half, .max_z = half,
                                                .integrate = true, .iterations = 2,
                                                .always_parallel = always_parallel});
    populate(&t, rows, half);
    if (scheduler) assert_non_null(aw_physics_register_system(t.p, NULL));
    for (int s = 0; s < steps; s++) {
        if (scheduler)
            ASSERT_OK(aw_world_progress(t.w, 0.05f));
        else
            ASSERT_OK(aw_physics_step(t.p, 0.05f));
        uint32_t n;
        const aw_contact *c = aw_physics_contacts(t.p, &n);
        out->contacts[s] = n;
        out->contacts_hash[s] = aw_hash_bytes(c, (size_t)n * sizeof *c, 1);
        out->hash[s] = aw_world_hash(t.w);
        out->on_caller[s] = aw_physics_get_stats(t.p).on_caller;
        if (!scheduler) aw_world_end_frame(t.w);
    }
    ptw_free(&t);
}

static void run(uint32_t threads, bool scheduler, bool always_parallel, run_result *out) {
    run_rows(threads, scheduler, always_parallel, N, STEPS, out);
}

static void test_same_result_any_thread_count(void **state) {
    (void)state;
    for (int sched = 0; sched < 2; sched++) {
        run_result ref, got;
        run(1, sched, false, &ref);
        assert_true(ref.contacts[0] > 1000);
        for (int s = 0; s < STEPS; s++) assert_true(ref.on_caller[s]); /* one thread: nothing to split */
        const uint32_t counts[] = {2, 3, 8};
        for (size_t k = 0; k < 3; k++) {
            for (int always = 0; always < 2; always++) {
                run(counts[k], sched, always, &got);
                for (int s = 0; s < STEPS; s++) {
                    if (got.contacts[s] != ref.contacts[s] || got.contacts_hash[s] != ref.contacts_hash[s] ||
                        got.hash[s] != ref.hash[s])
                        fail_msg("%u threads (%s, %s), step %d: %u contacts vs %u, hashes differ", counts[k],
                                 sched ? "scheduler" : "step", always ? "always split" : "automatic", s,
                                 got.contacts[s], ref.contacts[s]);
                    /* The probe: its first half split, its second on the caller; then its choice. */
                    if (always || s < PROBE / 2) assert_false(got.on_caller[s]);
                    else if (s < PROBE) assert_true(got.on_caller[s]);
                }
            }
        }
    }
}

/* Above PHYS_SMALL_SORT rows the grid takes the band sort (bands sorted in parallel, records
 * copied band by band): the same contacts, response and world hash for 1, 2 and 3 threads there too,
 * every step split. */
static void test_band_sort_same_result(void **state) {
    (void)state;
    enum { BIG = 40000, BIG_STEPS = 5 };
    run_result ref, got;
    run_rows(1, false, false, BIG, BIG_STEPS, &ref);
    assert_true(ref.contacts[0] > 1000);
    for (uint32_t threads = 2; threads <= 3; threads++) {
        run_rows(threads, false, true, BIG, BIG_STEPS, &got);
        for (int s = 0; s < BIG_STEPS; s++)
            if (got.contacts[s] != ref.contacts[s] || got.contacts_hash[s] != ref.contacts_hash[s] ||
                got.hash[s] != ref.hash[s])
                fail_msg("band sort, %u threads, step %d: %u contacts vs %u, hashes differ", threads, s,
                         got.contacts[s], ref.contacts[s]);
    }
}

typedef struct reader_ctx {
    const aw_physics *p;
    uint64_t sums[64];
} reader_ctx;

static void read_many(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    reader_ctx *c = arg;
    for (uint32_t i = begin; i < end; i++) {
        aw_vec3 q = {(float)(i % 16) * 10 - 80, 0, (float)(i / 16 % 16) * 10 - 80};
        aw_entity out[256];
        uint32_t n = 0;
        aw_physics_query_radius(c->p, q, 4, NULL, out, 256, &n);
        aw_physics_hit hits[8];
        uint32_t k = 0;
        aw_physics_query_nearest(c->p, q, 8, 0, NULL, hits, &k);
        aw_ray_hit hit;
        bool h = aw_physics_raycast(c->p, q, (aw_vec3){q.x + 30, 0, q.z + 7}, NULL, &hit);
        c->sums[i] = n * 1000003ull + k * 31ull + (h ? hit.entity : 0);
    }
}

static void test_concurrent_readers(void **state) {
    (void)state;
    ptw t = ptw_new(4, &(aw_physics_desc){.min_x = -80, .max_x = 80, .min_z = -80, .max_z = 80});
    populate(&t, N, 80.0f);
    ASSERT_OK(aw_physics_step(t.p, 0.05f));
    reader_ctx serial = {.p = t.p}, parallel = {.p = t.p};
    read_many(0, 64, 0, &serial);
    ASSERT_OK(aw_jobs_parallel_for(aw_world_jobs(t.w), 64, 1, read_many, &parallel));
    assert_memory_equal(serial.sums, parallel.sums, sizeof serial.sums);
    ptw_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_result_any_thread_count),
        cmocka_unit_test(test_band_sort_same_result),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
