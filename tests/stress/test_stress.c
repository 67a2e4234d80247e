/* ctest-label: threads */
/* Tests for the stress framework: statistics on synthetic frame times, seed-profile runs (counts,
 * determinism across thread counts, zero steady-state ECS allocations, per-system zones), JSON
 * round trip, comparison verdicts, the SVG chart and the capacity search's invariants. */
#include "aw/profile.h"
#include "aw/stress.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static bool near(double a, double b) {
    return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b) + 1.0);
}

static void temp_path(char *path, size_t size, const char *suffix) {
    snprintf(path, size, "/tmp/aw_stress_test_%ld_%s", (long)getpid(), suffix);
}

/* ---------------------------------------------------------------- statistics */

static void test_stats_on_synthetic_frame_times(void **state) {
    (void)state;
    double samples[100], scratch[100];
    for (int i = 0; i < 100; i++) samples[i] = (double)((i * 37) % 100 + 1); /* 1..100 shuffled */
    aw_stress_stats s = aw_stress_stats_compute(samples, 100, scratch);
    assert_int_equal(s.count, 100);
    assert_true(near(s.mean, 50.5));
    assert_true(near(s.p50, 50.5));
    assert_true(near(s.p95, 95.05));
    assert_true(near(s.p99, 99.01));
    assert_true(near(s.max, 100.0) && near(s.min, 1.0));
    assert_true(samples[0] == 1.0 && samples[1] == 38.0); /* the input is left alone */

    /* 990 frames of 1 ms and 10 hitches of 20 ms: the p99 sits between them, the p95 does not. */
    static double frames[1000], sc[1000];
    for (int i = 0; i < 1000; i++) frames[i] = i % 100 == 7 ? 20.0 : 1.0;
    s = aw_stress_stats_compute(frames, 1000, sc);
    assert_true(near(s.mean, 1.19));
    assert_true(near(s.p95, 1.0));
    assert_true(near(s.p99, 1.0 + 19.0 * 0.01)); /* rank 989.01 */
    assert_true(near(s.max, 20.0));

    /* Edges: one sample, none, in-place sorting, p0 and p100. */
    double one = 3.5;
    s = aw_stress_stats_compute(&one, 1, &one);
    assert_true(s.mean == 3.5 && s.p50 == 3.5 && s.p99 == 3.5 && s.max == 3.5);
    s = aw_stress_stats_compute(NULL, 0, NULL);
    assert_int_equal(s.count, 0);
    assert_true(s.mean == 0.0);
    double v[4] = {4, 1, 3, 2};
    s = aw_stress_stats_compute(v, 4, v);
    assert_true(v[0] == 1 && v[3] == 4);
    assert_true(near(s.p50, 2.5));
    assert_true(aw_stress_percentile(v, 4, 0.0) == 1.0 && aw_stress_percentile(v, 4, 100.0) == 4.0);
    assert_true(aw_stress_percentile(v, 0, 50.0) == 0.0);
}

/* ---------------------------------------------------------------- seed-profile */

static void test_scenario_registry(void **state) {
    (void)state;
    const aw_stress_scenario *const *all = aw_stress_scenarios();
    assert_non_null(all[0]);
    assert_string_equal(all[0]->name, "seed-profile");
    assert_ptr_equal(aw_stress_scenario_find("seed-profile"), all[0]);
    assert_null(aw_stress_scenario_find("nope"));
    assert_null(aw_stress_scenario_find(NULL));
}

static const aw_stress_counter *counter(const aw_stress_result *r, const char *name) {
    for (uint32_t i = 0; i < r->counter_count; i++)
        if (strcmp(r->counters[i].name, name) == 0) return &r->counters[i];
    fail_msg("no counter '%s'", name);
    return NULL;
}

static const aw_stress_module_stats *module(const aw_stress_result *r, const char *name) {
    for (uint32_t i = 0; i < r->module_count; i++)
        if (strcmp(r->modules[i].name, name) == 0) return &r->modules[i];
    fail_msg("no module '%s'", name);
    return NULL;
}

/* Golden end state: recorded with the scalar, branchy movement of the first port (the SIMD
 * movement and perception must not change a bit of it). 1,003 entities make odd-sized tables, so
 * the vector loops' scalar tails run too; 700 frames wrap many entities at |64|. */
static void test_seed_profile_golden_hash(void **state) {
    (void)state;
    aw_stress_result r;
    aw_stress_desc d = {.scenario = aw_stress_scenario_find("seed-profile"), .entities = 1003, .frames = 700,
                        .warmup = 5, .threads = 1};
    assert_int_equal(aw_stress_run(&d, &r), AW_OK);
    if (r.world_hash != 0x3ae8393230afbb50ull)
        fail_msg("seed-profile world hash %016llx, expected 3ae8393230afbb50", (unsigned long long)r.world_hash);
    aw_stress_result_free(&r);
    d.threads = 2;
    assert_int_equal(aw_stress_run(&d, &r), AW_OK);
    assert_true(r.world_hash == 0x3ae8393230afbb50ull);
    aw_stress_result_free(&r);
}

static void test_seed_profile_runs(void **state) {
    (void)state;
    bool profiling = aw_profile_start(NULL) == AW_OK;
    const aw_stress_scenario *seed = aw_stress_scenario_find("seed-profile");
    aw_stress_result one, two;
    aw_stress_desc d = {
        .scenario = seed, .entities = 301, .frames = 60, .warmup = 5, .threads = 1, .keep_samples = true};
    assert_int_equal(aw_stress_run(&d, &one), AW_OK);
    d.threads = 2;
    assert_int_equal(aw_stress_run(&d, &two), AW_OK);
    /* The end state does not depend on the thread count. */
    assert_true(one.world_hash == two.world_hash);
    assert_int_equal(one.threads, 1);
    assert_int_equal(two.threads, 2);
    assert_int_equal(one.frames, 60);
    assert_int_equal(one.sample_count, 60);
    assert_non_null(one.samples);
    assert_true(one.frame_ms.mean > 0.0 && one.frame_ms.p50 <= one.frame_ms.p99 &&
                one.frame_ms.p99 <= one.frame_ms.max);
    assert_true(near(one.fps, 1000.0 / one.frame_ms.mean));
    /* 151 agents (mesh 1, 36 vertices) and 150 bodies (mesh 2, 64 vertices). */
    assert_true(counter(&one, "entities")->value == 301.0);
    assert_true(counter(&one, "ai.agents")->value == 151.0);
    assert_true(counter(&one, "ai.plans")->value == 15.0);
    assert_true(counter(&one, "render.draw_calls")->value == 301.0);
    assert_true(counter(&one, "render.vertices")->value == 151.0 * 36 + 150.0 * 64);
    assert_true(counter(&two, "physics.contacts")->value == counter(&one, "physics.contacts")->value);
    /* The ECS allocates nothing in a steady-state frame. */
    assert_true(module(&one, "ecs")->allocs_per_frame == 0.0);
    assert_true(one.peak_rss_mb > 0.0);
    if (profiling) {
        const char *expect[] = {"ai_perception", "ai_planning", "movement",
                                "physics",       "cleanup",     "rendering"};
        assert_int_equal(one.system_count, 6);
        for (int k = 0; k < 6; k++) {
            assert_string_equal(one.systems[k].name, expect[k]);
            assert_true(one.systems[k].mean_us >= 0.0 && one.systems[k].p95_us >= 0.0);
        }
    }
    aw_stress_result_free(&one);
    aw_stress_result_free(&two);

    /* Different seeds are accepted; bad descriptors are refused with a message. */
    assert_int_equal(aw_stress_run(&(aw_stress_desc){.scenario = seed, .entities = 0}, &one),
                     AW_ERR_INVALID_ARG);
    assert_int_equal(aw_stress_run(&(aw_stress_desc){.entities = 10}, &one), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_stress_run(NULL, &one), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_stress_run(&(aw_stress_desc){.scenario = seed, .entities = 10, .dt = NAN}, &one),
                     AW_ERR_INVALID_ARG);
    if (profiling) aw_profile_stop();
}

/* ---------------------------------------------------------------- reports */

static aw_stress_report sample_report(void) {
    aw_stress_report r;
    aw_stress_report_init(&r, "seed-profile", 2);
    for (uint32_t i = 0; i < 3; i++) {
        aw_stress_result x = {.entities = 500u << i, .frames = 100, .warmup = 10, .threads = 2, .seed = 7};
        double *samples = aw_alloc(NULL, 100 * sizeof(double), 8);
        for (int k = 0; k < 100; k++)
            samples[k] = 0.01 * (i + 1) * (1.0 + (k % 10) * 0.01) + (k == 50 ? 0.2 : 0.0);
        double scratch[100];
        x.frame_ms = aw_stress_stats_compute(samples, 100, scratch);
        x.samples = samples;
        x.sample_count = 100;
        x.samples_allocated_ = 100;
        x.fps = 1000.0 / x.frame_ms.mean;
        x.allocs_per_frame = i == 2 ? 0.5 : 0.0;
        x.bytes_per_frame = i == 2 ? 64.0 : 0.0;
        x.peak_rss_mb = 10.0 + i;
        x.world_hash = 0x0123456789abcdefull + i;
        x.system_count = 2;
        snprintf(x.systems[0].name, sizeof x.systems[0].name, "movement");
        x.systems[0].mean_us = 3.0 * (i + 1);
        x.systems[0].p95_us = 4.0 * (i + 1);
        snprintf(x.systems[1].name, sizeof x.systems[1].name, "physics");
        x.systems[1].mean_us = 5.0 * (i + 1);
        x.module_count = 1;
        snprintf(x.modules[0].name, sizeof x.modules[0].name, "ecs");
        x.counter_count = 1;
        snprintf(x.counters[0].name, sizeof x.counters[0].name, "render.draw_calls");
        x.counters[0].value = x.entities;
        assert_int_equal(aw_stress_report_add(&r, &x), AW_OK);
    }
    return r;
}

static void test_json_round_trip_and_compare(void **state) {
    (void)state;
    aw_stress_report r = sample_report();
    char path[128];
    temp_path(path, sizeof path, "report.json");
    assert_int_equal(aw_stress_report_write_json(&r, path), AW_OK);

    /* The documented shape, read with jansson directly. */
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "scenario")), "seed-profile");
    assert_int_equal(json_integer_value(json_object_get(root, "threads")), 2);
    json_t *run = json_array_get(json_object_get(root, "runs"), 1);
    assert_int_equal(json_integer_value(json_object_get(run, "entities")), 1000);
    assert_int_equal(json_integer_value(json_object_get(run, "frames")), 100);
    json_t *fm = json_object_get(run, "frame_ms");
    const char *keys[] = {"mean", "p50", "p95", "p99", "max"};
    for (int k = 0; k < 5; k++) assert_true(json_is_number(json_object_get(fm, keys[k])));
    assert_true(json_is_number(json_object_get(run, "fps")));
    assert_true(json_is_number(
        json_object_get(json_object_get(json_object_get(run, "systems"), "movement"), "p95_us")));
    assert_string_equal(json_string_value(json_object_get(run, "world_hash")), "0123456789abcdf0");
    json_decref(root);

    aw_stress_report back;
    assert_int_equal(aw_stress_report_read_json(path, &back), AW_OK);
    assert_int_equal(back.run_count, 3);
    assert_int_equal(back.threads, 2);
    assert_true(near(back.runs[2].frame_ms.p99, r.runs[2].frame_ms.p99));
    assert_true(back.runs[2].world_hash == r.runs[2].world_hash);
    assert_int_equal(back.runs[1].system_count, 2);
    assert_true(near(back.runs[1].systems[0].mean_us, 6.0));

    /* Against itself: nothing regresses. */
    aw_stress_compare_result cmp;
    assert_int_equal(aw_stress_compare(&back, &r, 0.10, NULL, &cmp), AW_OK);
    assert_int_equal(cmp.regressions, 0);
    assert_int_equal(cmp.unmatched, 0);
    assert_true(cmp.metrics >= 3 * 10);

    /* 20% slower p99 at 1000, a new allocation at 500, a changed world: three regressions. */
    r.runs[1].frame_ms.p99 *= 1.2;
    r.runs[0].allocs_per_frame = 0.25;
    r.runs[2].world_hash ^= 1;
    r.runs[2].systems[0].mean_us *= 0.5; /* an improvement */
    char text[8192] = "";
    FILE *out = fmemopen(text, sizeof text - 1, "w");
    assert_int_equal(aw_stress_compare(&back, &r, 0.10, out, &cmp), AW_OK);
    fclose(out);
    assert_int_equal(cmp.regressions, 3);
    assert_int_equal(cmp.improvements, 1);
    assert_non_null(strstr(text, "frame p99 ms"));
    assert_non_null(strstr(text, "REGRESSION (+20.0%)"));
    assert_non_null(strstr(text, "REGRESSION (was 0)"));
    assert_non_null(strstr(text, "world hash changed"));
    assert_non_null(strstr(text, "verdict: 3 regressions"));
    /* A looser threshold lets the 20% through. */
    assert_int_equal(aw_stress_compare(&back, &r, 0.25, NULL, &cmp), AW_OK);
    assert_int_equal(cmp.regressions, 2);
    assert_int_equal(aw_stress_compare(&back, &r, -1.0, NULL, &cmp), AW_ERR_INVALID_ARG);

    /* Bad files are errors with the file named, never crashes. */
    aw_stress_report_free(&back);
    FILE *f = fopen(path, "w");
    fputs("{\"scenario\": \"x\", \"threads\": 1, \"runs\": [{\"entities\": 5}]}", f);
    fclose(f);
    assert_int_equal(aw_stress_report_read_json(path, &back), AW_ERR_PARSE);
    assert_non_null(strstr(aw_last_error(), path));
    f = fopen(path, "w");
    fputs("{not json", f);
    fclose(f);
    assert_int_equal(aw_stress_report_read_json(path, &back), AW_ERR_PARSE);
    assert_int_equal(aw_stress_report_read_json("/nonexistent/dir/x.json", &back), AW_ERR_IO);
    remove(path);

    /* The table prints every section. */
    char table[16384] = "";
    out = fmemopen(table, sizeof table - 1, "w");
    assert_int_equal(aw_stress_report_print(&r, out), AW_OK);
    fclose(out);
    assert_non_null(strstr(table, "p99 ms"));
    assert_non_null(strstr(table, "movement"));
    assert_non_null(strstr(table, "render.draw_calls"));
    aw_stress_report_free(&r);
}

static void test_svg_chart(void **state) {
    (void)state;
    aw_stress_report r = sample_report();
    char path[128];
    temp_path(path, sizeof path, "plot.svg");
    assert_int_equal(aw_stress_report_write_svg(&r, path), AW_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char svg[1 << 16];
    size_t n = fread(svg, 1, sizeof svg - 1, f);
    svg[n] = '\0';
    fclose(f);
    assert_true(strncmp(svg, "<?xml", 5) == 0);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "</svg>"));
    assert_non_null(strstr(svg, "<polyline")); /* p50 and p99 lines */
    assert_non_null(strstr(svg, "frame-time histograms"));
    assert_non_null(strstr(svg, "1000 entities: p50"));
    remove(path);
    aw_stress_report empty;
    aw_stress_report_init(&empty, "x", 1);
    assert_int_equal(aw_stress_report_write_svg(&empty, path), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_stress_report_write_svg(&r, "/nonexistent/dir/x.svg"), AW_ERR_IO);
    aw_stress_report_free(&r);
}

/* ---------------------------------------------------------------- capacity */

/* A scenario whose frame costs about 200 ns per entity (spinning on the clock), so capacity
 * against a 1 ms budget is near 5,000 entities; a loaded machine can only push it lower. */
static void spin_system(aw_system_ctx *ctx) {
    uint64_t ns = (uint64_t)(uintptr_t)ctx->user * 200u, end = aw_time_ns() + ns;
    while (aw_time_ns() < end) {
    }
}

static aw_status spin_setup(void *state, const aw_stress_setup *s) {
    (void)state;
    return aw_system_register(
               s->world,
               &(aw_system_desc){.name = "spin", .run = spin_system, .user = (void *)(uintptr_t)s->entities})
               ? AW_OK
               : aw_last_status();
}

static void test_capacity_search(void **state) {
    (void)state;
    aw_stress_scenario spin = {.name = "spin", .setup = spin_setup};
    aw_stress_capacity cap;
    aw_stress_desc d = {.scenario = &spin, .entities = 1000, .frames = 30, .warmup = 2, .threads = 1};
    assert_int_equal(aw_stress_find_capacity(&d, 1.0, 0, &cap), AW_OK);
    assert_true(cap.probe_count >= 3);
    /* Doubling from the start while probes pass, then bisection between the last pass and the
     * first failure; the answer is a passing probe, and a failing one lies within 1% above it. */
    assert_int_equal(cap.probes[0].entities, 1000);
    uint32_t k = 0;
    while (k + 1 < cap.probe_count && cap.probes[k].pass) {
        assert_int_equal(cap.probes[k + 1].entities, cap.probes[k].entities * 2);
        k++;
    }
    uint32_t fail_above = UINT32_MAX;
    for (uint32_t i = 0; i < cap.probe_count; i++) {
        /* Each count: two runs when they agree, else a third; the majority decides and the middle
         * p99 (or the deciding one of two) is reported. */
        const aw_stress_probe *pr = &cap.probes[i];
        uint32_t passes = 0;
        for (uint32_t r = 0; r < pr->runs; r++) passes += pr->run_p99_ms[r] <= 1.0;
        assert_true(pr->runs == 2 || pr->runs == 3);
        if (pr->runs == 2)
            assert_true(passes == 0 || passes == 2);
        else
            assert_true((pr->run_p99_ms[0] <= 1.0) != (pr->run_p99_ms[1] <= 1.0));
        assert_true(pr->pass == (passes >= 2));
        assert_true(pr->pass == (pr->p99_ms <= 1.0));
        uint32_t below = 0, above = 0;
        for (uint32_t r = 0; r < pr->runs; r++) {
            below += pr->run_p99_ms[r] < pr->p99_ms;
            above += pr->run_p99_ms[r] > pr->p99_ms;
        }
        if (pr->runs == 3) assert_true(below <= 1 && above <= 1);
        if (cap.probes[i].pass) {
            assert_true(cap.probes[i].entities <= cap.entities);
            assert_true(cap.probes[i].p99_ms <= 1.0);
        } else if (cap.probes[i].entities < fail_above) {
            fail_above = cap.probes[i].entities;
        }
    }
    assert_true(fail_above > cap.entities);
    assert_true(fail_above - cap.entities <= cap.entities / 100 + 1);
    /* Noise only lowers it; the cost model puts it near 5,000. */
    print_message("capacity of the 200 ns/entity scenario against 1 ms: %u entities in %u probes\n",
                  cap.entities, cap.probe_count);
    assert_true(cap.entities <= 5200);

    /* A start that already fails bisects below it; a limit that passes ends the search there. */
    d.entities = 20000;
    assert_int_equal(aw_stress_find_capacity(&d, 1.0, 0, &cap), AW_OK);
    assert_false(cap.probes[0].pass);
    assert_true(cap.entities < 5200);
    d.entities = 100;
    assert_int_equal(aw_stress_find_capacity(&d, 50.0, 300, &cap), AW_OK); /* generous: no noise fails it */
    assert_int_equal(cap.entities, 300);
    assert_int_equal(cap.probes[cap.probe_count - 1].entities, 300);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_on_synthetic_frame_times),
        cmocka_unit_test(test_scenario_registry),
        cmocka_unit_test(test_seed_profile_runs),
        cmocka_unit_test(test_seed_profile_golden_hash),
        cmocka_unit_test(test_json_round_trip_and_compare),
        cmocka_unit_test(test_svg_chart),
        cmocka_unit_test(test_capacity_search),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
