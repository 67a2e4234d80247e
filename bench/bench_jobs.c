/* Job-system benchmark scenarios (aw-bench jobs), on 2 threads like the project's reference
 * machine:
 *   parallel_for_empty_us     an empty parallel_for that really dispatches: count = 2 * threads,
 *                             grain 1, one item per range, so the other thread has ranges to steal
 *   parallel_for_inline_us    the same call with one range, which runs inline on the caller
 *   submit_wait_us            aw_jobs_submit of one empty job, then aw_jobs_wait on it
 *   iterate_heavy_speedup_2t  --entities items (1M) of ~200 ns of sin/sqrt each: time on one
 *                             thread over time on two, per rep (higher is better)
 * The per-call figures time batches of BATCH back-to-back calls, so the clock's own cost is
 * spread thin, and take the median batch of each rep: a batch hit by preemption on a shared
 * machine is an outlier, not part of the figure. Back-to-back calls keep the workers in their
 * spin phase, as within a frame; waking a sleeping worker is a different (syscall) cost. */
#include "bench_jobs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aw/jobs.h"

#if defined(__GNUC__)
#define BENCH_NOINLINE  __attribute__((noinline))
#define BENCH_BARRIER() __asm__ __volatile__("" ::: "memory")
#else
#define BENCH_NOINLINE
#define BENCH_BARRIER() ((void)0)
#endif

#define BENCH_THREADS    2
#define BATCH            64   /* calls per timed batch */
#define BATCHES_DISPATCH 400  /* batches per rep of the dispatching scenarios */
#define BATCHES_INLINE   4000 /* the inline call is ~100x cheaper: more batches, same wall time */
#define WARMUP_CALLS     4096
#define HEAVY_ROUNDS     14   /* sin+sqrt rounds per item: ~200 ns on the reference machine */
#define HEAVY_GRAIN      1024 /* items per range: ~200 us, far above the dispatch cost */

typedef struct jobs_bench {
    aw_bench_options opt;
    double *samples;        /* opt.reps samples of the running scenario */
    double *batch_us;       /* BATCHES_INLINE per-batch figures of one rep */
    volatile uint64_t sink; /* checksums land here so the measured work cannot be discarded */
} jobs_bench;

typedef struct scenario {
    const char *name;
    const char *unit;
    double target; /* 0: none */
    bool target_is_min;
    int arg;
    aw_status (*run)(jobs_bench *b, int arg);
} scenario;

static aw_status bench_fail(const char *what) {
    aw_status st = aw_last_status();
    char msg[256];
    snprintf(msg, sizeof msg, "%s", aw_last_error());
    if (st == AW_OK) st = AW_ERR_UNSUPPORTED;
    return aw_error(st, "%s failed: %s", what, msg[0] ? msg : "(no error message recorded)");
}

static void *array_alloc(uint32_t count, size_t size) {
    void *p = aw_alloc(NULL, (size_t)count * size, 64);
    if (!p) aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory for %u x %zu bytes", count, size);
    return p;
}

static void array_free(void *p, uint32_t count, size_t size) {
    if (p) aw_free(NULL, p, (size_t)count * size);
}

static aw_jobs *jobs_create(uint32_t threads) {
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = threads});
    if (!jobs) bench_fail("aw_jobs_create");
    return jobs;
}

/* ---------------------------------------------------------------- dispatch cost */

BENCH_NOINLINE static void empty_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)begin;
    (void)end;
    (void)worker;
    (void)ctx;
    BENCH_BARRIER();
}

BENCH_NOINLINE static void empty_job(uint32_t worker, void *ctx) {
    (void)worker;
    (void)ctx;
    BENCH_BARRIER();
}

/* arg 1: count = 2 * threads (dispatches); arg 0: one range (inline). */
static aw_status run_parallel_for(jobs_bench *b, int arg) {
    const bool dispatch = arg != 0;
    aw_jobs *jobs = jobs_create(BENCH_THREADS);
    if (!jobs) return aw_last_status();
    const uint32_t count = dispatch ? 2 * BENCH_THREADS : 1;
    const uint32_t batches = dispatch ? BATCHES_DISPATCH : BATCHES_INLINE;
    aw_status st = AW_OK;
    uint32_t bad = 0;
    for (uint32_t i = 0; i < WARMUP_CALLS; i++)
        bad += aw_jobs_parallel_for(jobs, count, 1, empty_range, NULL) != AW_OK;
    aw_jobs_stats s0 = aw_jobs_get_stats(jobs);
    for (uint32_t r = 0; r < b->opt.reps && !bad; r++) {
        for (uint32_t k = 0; k < batches; k++) {
            uint64_t t0 = aw_time_ns();
            for (uint32_t i = 0; i < BATCH; i++)
                bad += aw_jobs_parallel_for(jobs, count, 1, empty_range, NULL) != AW_OK;
            b->batch_us[k] = (double)(aw_time_ns() - t0) / (BATCH * 1000.0);
        }
        b->samples[r] = aw_bench_median(b->batch_us, batches);
    }
    if (bad) {
        st = bench_fail("aw_jobs_parallel_for");
    } else {
        /* The figure must be the path it claims to be. */
        aw_jobs_stats s1 = aw_jobs_get_stats(jobs);
        uint64_t calls = (uint64_t)b->opt.reps * batches * BATCH, inl = s1.inline_runs - s0.inline_runs;
        if (inl != (dispatch ? 0 : calls))
            st = aw_error(AW_ERR_UNSUPPORTED, "%llu of %llu calls ran inline, expected %s",
                          (unsigned long long)inl, (unsigned long long)calls, dispatch ? "none" : "all");
        if (b->opt.verbose)
            fprintf(stderr, "  %s: %llu steals, %llu tasks run over %llu calls\n",
                    dispatch ? "dispatch" : "inline", (unsigned long long)(s1.steals - s0.steals),
                    (unsigned long long)(s1.jobs_run - s0.jobs_run), (unsigned long long)calls);
    }
    aw_jobs_destroy(jobs);
    return st;
}

static aw_status run_submit_wait(jobs_bench *b, int arg) {
    (void)arg;
    aw_jobs *jobs = jobs_create(BENCH_THREADS);
    if (!jobs) return aw_last_status();
    aw_status st = AW_OK;
    uint32_t bad = 0;
    aw_job job;
    for (uint32_t i = 0; i < WARMUP_CALLS; i++) {
        bad += aw_jobs_submit(jobs, empty_job, NULL, NULL, 0, &job) != AW_OK;
        aw_jobs_wait(jobs, job);
    }
    for (uint32_t r = 0; r < b->opt.reps && !bad; r++) {
        for (uint32_t k = 0; k < BATCHES_DISPATCH; k++) {
            uint64_t t0 = aw_time_ns();
            for (uint32_t i = 0; i < BATCH; i++) {
                bad += aw_jobs_submit(jobs, empty_job, NULL, NULL, 0, &job) != AW_OK;
                aw_jobs_wait(jobs, job);
            }
            b->batch_us[k] = (double)(aw_time_ns() - t0) / (BATCH * 1000.0);
        }
        b->samples[r] = aw_bench_median(b->batch_us, BATCHES_DISPATCH);
    }
    if (bad) st = bench_fail("aw_jobs_submit");
    aw_jobs_destroy(jobs);
    return st;
}

/* ---------------------------------------------------------------- scaling */

static void heavy_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)worker;
    float *out = ctx;
    for (uint32_t i = begin; i < end; i++) {
        double x = (double)(i & 1023) * 1e-3 + 0.5;
        for (int k = 0; k < HEAVY_ROUNDS; k++) x = sin(x) * sqrt(x * x + 1.0) + 0.25;
        out[i] = (float)x;
    }
}

static aw_status heavy_pass(aw_jobs *jobs, float *out, uint32_t n, double *ms, uint64_t *checksum) {
    BENCH_BARRIER();
    uint64_t t0 = aw_time_ns();
    aw_status st = aw_jobs_parallel_for(jobs, n, HEAVY_GRAIN, heavy_range, out);
    uint64_t t1 = aw_time_ns();
    BENCH_BARRIER();
    if (st != AW_OK) return bench_fail("aw_jobs_parallel_for");
    *ms = (double)(t1 - t0) / 1e6;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &out[i], sizeof bits);
        sum = sum * 31u + bits;
    }
    *checksum = sum;
    return AW_OK;
}

static aw_status run_heavy(jobs_bench *b, int arg) {
    (void)arg;
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    aw_jobs *one = jobs_create(1), *two = jobs_create(BENCH_THREADS);
    float *out = array_alloc(n, sizeof(float));
    double *ms1 = array_alloc(b->opt.reps, sizeof(double)), *ms2 = array_alloc(b->opt.reps, sizeof(double));
    if (!one || !two || !out || !ms1 || !ms2) {
        st = aw_last_status();
        goto done;
    }
    double ms;
    uint64_t sum1 = 0, sum2 = 0;
    /* Warm-up on both: page faults of `out` and the workers' first wake-up are not the figure. */
    if ((st = heavy_pass(one, out, n, &ms, &sum1)) != AW_OK ||
        (st = heavy_pass(two, out, n, &ms, &sum2)) != AW_OK)
        goto done;
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        /* Alternating which goes first cancels slow drifts of the machine's load. */
        for (int k = 0; k < 2; k++) {
            bool first = (k == 0) == (r % 2 == 0);
            if ((st = heavy_pass(first ? one : two, out, n, first ? &ms1[r] : &ms2[r],
                                 first ? &sum1 : &sum2)) != AW_OK)
                goto done;
        }
        if (sum1 != sum2) {
            st = aw_error(AW_ERR_UNSUPPORTED, "iterate_heavy: 1-thread and 2-thread results differ");
            goto done;
        }
        b->samples[r] = ms1[r] / ms2[r];
    }
    b->sink = sum1;
    if (b->opt.verbose) {
        double m1 = aw_bench_median(ms1, b->opt.reps), m2 = aw_bench_median(ms2, b->opt.reps);
        fprintf(stderr,
                "  iterate_heavy: %u items, median %.2f ms on 1 thread, %.2f ms on %d (%.1f ns/item)\n", n,
                m1, m2, BENCH_THREADS, m1 * 1e6 / n);
    }
done:
    array_free(out, n, sizeof(float));
    array_free(ms1, b->opt.reps, sizeof(double));
    array_free(ms2, b->opt.reps, sizeof(double));
    aw_jobs_destroy(one);
    aw_jobs_destroy(two);
    return st;
}

/* ---------------------------------------------------------------- runner */

static const scenario scenarios[] = {
    {"parallel_for_empty_us", "us", 2.0, false, 1, run_parallel_for},
    {"parallel_for_inline_us", "us", 0.0, false, 0, run_parallel_for},
    {"submit_wait_us", "us", 0.0, false, 0, run_submit_wait},
    {"iterate_heavy_speedup_2t", "x", 1.85, true, 0, run_heavy},
};

aw_status aw_bench_jobs_run(const aw_bench_options *options, aw_bench_report *report) {
    if (!report) return aw_error(AW_ERR_INVALID_ARG, "bench: report is required");
    jobs_bench b;
    memset(&b, 0, sizeof b);
    b.opt = aw_bench_options_resolve(options);
    b.samples = array_alloc(b.opt.reps, sizeof(double));
    b.batch_us = array_alloc(BATCHES_INLINE, sizeof(double));
    if (!b.samples || !b.batch_us) {
        array_free(b.samples, b.opt.reps, sizeof(double));
        array_free(b.batch_us, BATCHES_INLINE, sizeof(double));
        return AW_ERR_OUT_OF_MEMORY;
    }
    aw_status result = AW_OK;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        const scenario *sc = &scenarios[i];
        if (!aw_bench_selected(&b.opt, sc->name)) continue;
        if (b.opt.verbose) fprintf(stderr, "jobs: %s (%u reps)\n", sc->name, b.opt.reps);
        aw_clear_error();
        aw_status st = sc->run(&b, sc->arg);
        if (st != AW_OK) {
            fprintf(stderr, "aw-bench: jobs/%s failed: %s (%s)\n", sc->name, aw_last_error(),
                    aw_status_str(st));
            aw_bench_report_fail(report);
            continue;
        }
        aw_bench_entry entry = {
            .suite = "jobs",
            .name = sc->name,
            .unit = sc->unit,
            .samples = b.samples,
            .sample_count = b.opt.reps,
            .target = sc->target,
            .target_is_min = sc->target_is_min,
        };
        if ((st = aw_bench_report_add(report, &entry)) != AW_OK) {
            result = st;
            break;
        }
    }
    if (b.opt.verbose) fprintf(stderr, "jobs: sink %016llx\n", (unsigned long long)b.sink);
    array_free(b.samples, b.opt.reps, sizeof(double));
    array_free(b.batch_us, BATCHES_INLINE, sizeof(double));
    return result;
}
