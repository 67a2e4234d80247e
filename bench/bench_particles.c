/* The "particles" suite: steady-state steps of N particles from eight fountains falling onto the
 * ground and 64 spheres, timed per step (medians), on each CPU kernel and thread count and on the
 * GPU, every configuration from the same seed so they simulate the same particles. */
#include "bench_particles.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aw/gpu.h"
#include "aw/jobs.h"
#include "aw/particles.h"

#define FOUNTAINS       8u
#define SPHERES         64u
#define STEP_DT         (1.0f / 60.0f)
/* Warm-up past the longest lifetime (1.5 x 4 s at 60 Hz is 360 steps): by then every particle of
 * the first bursts has died and its slot was reused, so slots of all fountains interleave as they do
 * in a long-running game, which is slower than the fresh, emitter-ordered slots of the first seconds. */
#define WARMUP_STEPS    400u
#define STEPS_PER_REP   5u
#define MEAN_LIFETIME   4.0f
#define TARGET_2T_1M_MS 4.0

typedef struct config {
    aw_particles_backend backend;
    aw_particles_simd simd;
    uint32_t threads;
} config;

/* Fills the system to its capacity with bursts, then keeps it there: continuous emission replaces
 * what dies (capacity / mean lifetime per second). */
static aw_status populate(aw_particles *ps, uint32_t count) {
    aw_particle_sphere spheres[SPHERES];
    for (uint32_t i = 0; i < SPHERES; i++) {
        float a = (float)i * 0.7853982f * 0.37f, r = 2.0f + (float)(i % 8) * 1.5f;
        spheres[i] = (aw_particle_sphere){{cosf(a) * r, 0.5f + (float)(i % 3), sinf(a) * r}, 0.5f + 0.25f * (float)(i % 4)};
    }
    aw_status st = aw_particles_set_spheres(ps, spheres, SPHERES);
    for (uint32_t f = 0; f < FOUNTAINS && !st; f++) {
        float a = (float)f * 6.2831853f / FOUNTAINS;
        aw_emitter em;
        st = aw_particles_emitter_create(
            ps,
            &(aw_emitter_desc){.position = {cosf(a) * 6.0f, 0.5f, sinf(a) * 6.0f},
                               .direction = {-cosf(a) * 0.3f, 1.0f, -sinf(a) * 0.3f},
                               .spread = 0.5f,
                               .speed_min = 5.0f,
                               .speed_max = 12.0f,
                               .lifetime_min = MEAN_LIFETIME * 0.5f,
                               .lifetime_max = MEAN_LIFETIME * 1.5f,
                               .rate = (float)count / MEAN_LIFETIME / FOUNTAINS,
                               .color_start = {1.0f, 0.6f, 0.2f, 1.0f},
                               .color_end = {0.3f, 0.3f, 0.3f, 0.0f}},
            &em);
        if (!st) st = aw_particles_burst(ps, em, count / FOUNTAINS + 1u, NULL);
    }
    return st;
}

typedef struct sampled {
    double ms[256];
    uint32_t count;
    uint32_t live;
} sampled;

static aw_status run_config(const aw_bench_options *o, const config *c, void *gpu, sampled *out) {
    aw_jobs *jobs = c->threads > 1 ? aw_jobs_create(&(aw_jobs_desc){.threads = c->threads}) : NULL;
    if (c->threads > 1 && !jobs) return aw_last_status();
    aw_particles *ps = aw_particles_create(&(aw_particles_desc){.capacity = o->entities,
                                                                .backend = c->backend,
                                                                .simd = c->simd,
                                                                .jobs = jobs,
                                                                .gpu = gpu,
                                                                .seed = o->seed,
                                                                .max_spheres = SPHERES});
    aw_status st = ps ? populate(ps, o->entities) : aw_last_status();
    for (uint32_t i = 0; i < WARMUP_STEPS && !st; i++) st = aw_particles_step(ps, STEP_DT);
    uint32_t reps = o->reps < 256 ? o->reps : 256;
    out->count = 0;
    for (uint32_t r = 0; r < reps && !st; r++) {
        uint64_t t0 = aw_time_ns();
        for (uint32_t s = 0; s < STEPS_PER_REP && !st; s++) st = aw_particles_step(ps, STEP_DT);
        out->ms[out->count++] = (double)(aw_time_ns() - t0) * 1e-6 / STEPS_PER_REP;
    }
    if (!st) {
        out->live = aw_particles_get_stats(ps).live;
        if (o->verbose)
            fprintf(stderr, "particles: %s/%s %u threads: %u live, hash %016llx\n",
                    aw_particles_backend_str(aw_particles_get_backend(ps)),
                    aw_particles_get_backend(ps) == AW_PARTICLES_GPU ? "-" : aw_particles_simd_str(aw_particles_get_simd(ps)),
                    c->threads, out->live, (unsigned long long)aw_particles_hash(ps));
    }
    aw_particles_destroy(ps);
    aw_jobs_destroy(jobs);
    return st;
}

static void count_label(uint32_t n, char *out, size_t size) {
    if (n % 1000000u == 0)
        snprintf(out, size, "%uM", n / 1000000u);
    else if (n % 1000u == 0)
        snprintf(out, size, "%uk", n / 1000u);
    else
        snprintf(out, size, "%u", n);
}

static void fail(aw_bench_report *report, const char *what) {
    fprintf(stderr, "particles: %s: %s\n", what, aw_last_error());
    aw_bench_report_fail(report);
}

aw_status aw_bench_particles_run(const aw_bench_options *options, aw_bench_report *report) {
    aw_bench_options o = aw_bench_options_resolve(options);
    char n[16], name[AW_BENCH_NAME_MAX];
    count_label(o.entities, n, sizeof n);
    aw_status st = AW_OK;
    bool is_1m = o.entities == 1000000u;

    char name_1t[AW_BENCH_NAME_MAX], name_2t[AW_BENCH_NAME_MAX], name_scalar[AW_BENCH_NAME_MAX];
    snprintf(name_1t, sizeof name_1t, "cpu_%s_step_ms_1t", n);
    snprintf(name_2t, sizeof name_2t, "cpu_%s_step_ms_2t", n);
    snprintf(name_scalar, sizeof name_scalar, "simd_speedup_1t");
    bool want_cpu = aw_bench_selected(&o, name_1t) || aw_bench_selected(&o, name_2t) ||
                    aw_bench_selected(&o, name_scalar);
    if (want_cpu) {
        static sampled scalar, simd1, simd2;
        config c_scalar = {AW_PARTICLES_CPU, AW_PARTICLES_SIMD_SCALAR, 1};
        config c_simd1 = {AW_PARTICLES_CPU, AW_PARTICLES_SIMD_AUTO, 1};
        config c_simd2 = {AW_PARTICLES_CPU, AW_PARTICLES_SIMD_AUTO, 2};
        if (run_config(&o, &c_scalar, NULL, &scalar) || run_config(&o, &c_simd1, NULL, &simd1) ||
            run_config(&o, &c_simd2, NULL, &simd2)) {
            fail(report, "cpu");
        } else {
            if (scalar.live != simd1.live || simd1.live != simd2.live)
                fprintf(stderr, "particles: live counts differ between kernels (%u, %u, %u)\n", scalar.live,
                        simd1.live, simd2.live);
            double speedup[256];
            for (uint32_t i = 0; i < simd1.count; i++) speedup[i] = scalar.ms[i] / simd1.ms[i];
            snprintf(name, sizeof name, "scalar_%s_step_ms_1t", n);
            aw_bench_entry rows[] = {
                {.name = name, .unit = "ms", .samples = scalar.ms, .sample_count = scalar.count},
                {.name = name_1t, .unit = "ms", .samples = simd1.ms, .sample_count = simd1.count,
                 .baseline_samples = scalar.ms, .baseline_count = scalar.count},
                {.name = name_2t, .unit = "ms", .samples = simd2.ms, .sample_count = simd2.count,
                 .baseline_samples = simd1.ms, .baseline_count = simd1.count, .target = is_1m ? TARGET_2T_1M_MS : 0},
                {.name = name_scalar, .unit = "x", .samples = speedup, .sample_count = simd1.count},
            };
            for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !st; i++)
                if (aw_bench_selected(&o, rows[i].name)) st = aw_bench_report_add(report, &rows[i]);
        }
    }

    snprintf(name, sizeof name, "gpu_%s_step_ms", n);
    if (!st && aw_bench_selected(&o, name)) {
        aw_gpu *gpu = NULL;
        aw_status gst = aw_gpu_create(&(aw_gpu_desc){0}, &gpu);
        if (gst) {
            fprintf(stderr, "particles: %s skipped: no Vulkan device (%s)\n", name, aw_last_error());
        } else {
            aw_gpu_info info = aw_gpu_get_info(gpu);
            fprintf(stderr, "particles: %s on %s (%s)\n", name, info.device_name, info.driver_name);
            static sampled g;
            config c_gpu = {AW_PARTICLES_GPU, AW_PARTICLES_SIMD_AUTO, 1};
            if (run_config(&o, &c_gpu, gpu, &g)) {
                fail(report, "gpu");
            } else {
                aw_bench_entry e = {.name = name, .unit = "ms", .samples = g.ms, .sample_count = g.count,
                                    .target = o.entities == 10000000u ? 2.0 : 0};
                st = aw_bench_report_add(report, &e);
            }
            aw_gpu_destroy(gpu);
        }
    }
    return st;
}
