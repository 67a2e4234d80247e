/* One stress run: a fresh world, the scenario's setup, warm-up and timed frames of
 * aw_world_progress, then frame-time statistics, per-system profiler zones, allocations per
 * frame by module, peak RSS and the world hash. */
#include "aw/profile.h"
#include "stress/stress_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define DEFAULT_FRAMES 2000u
#define DEFAULT_WARMUP 100u

/* ---------------------------------------------------------------- module allocators */

static void *module_alloc(void *user, size_t size, size_t align) {
    stress_module *m = user;
    void *p = aw_alloc(aw_heap_allocator(), size, align);
    if (p) {
        atomic_fetch_add_explicit(&m->allocs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->bytes, size, memory_order_relaxed);
    }
    return p;
}

static void *module_realloc(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    stress_module *m = user;
    void *p = aw_realloc(aw_heap_allocator(), ptr, old_size, new_size, align);
    if (p) {
        atomic_fetch_add_explicit(&m->reallocs, 1, memory_order_relaxed);
        if (new_size > old_size)
            atomic_fetch_add_explicit(&m->bytes, new_size - old_size, memory_order_relaxed);
    }
    return p;
}

static void module_free(void *user, void *ptr, size_t size) {
    (void)user;
    aw_free(aw_heap_allocator(), ptr, size);
}

const aw_allocator *aw_stress_module_allocator(aw_stress_ctx *ctx, const char *module) {
    if (!ctx || !module) return NULL;
    uint32_t n = atomic_load_explicit(&ctx->module_count, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ctx->modules[i].name, module) == 0) return &ctx->modules[i].allocator;
    if (n >= AW_STRESS_MAX_MODULES - 3) return NULL; /* room for ecs, profiler and other */
    stress_module *m = &ctx->modules[n];
    snprintf(m->name, sizeof m->name, "%s", module);
    m->allocator =
        (aw_allocator){.alloc = module_alloc, .realloc = module_realloc, .free = module_free, .user = m};
    atomic_store_explicit(&ctx->module_count, n + 1, memory_order_relaxed);
    return &m->allocator;
}

/* ---------------------------------------------------------------- memory figures */

/* Linux resets the peak RSS (VmHWM) when "5" is written to clear_refs, so each run reports its
 * own peak; elsewhere the process-wide ru_maxrss is the fallback. */
static void reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

static double peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned long long kb = 0;
            if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) {
                fclose(f);
                return (double)kb / 1024.0;
            }
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (double)ru.ru_maxrss / 1024.0;
    return 0.0;
}

typedef struct alloc_snapshot {
    aw_alloc_stats heap, world, profiler;
    uint64_t module_allocs[AW_STRESS_MAX_MODULES], module_bytes[AW_STRESS_MAX_MODULES];
} alloc_snapshot;

static alloc_snapshot snapshot(const aw_world *w, const aw_stress_ctx *ctx, bool profiling) {
    alloc_snapshot s = {.heap = aw_heap_stats(), .world = aw_world_alloc_stats(w)};
    if (profiling) s.profiler = aw_profile_get_summary().memory;
    for (uint32_t i = 0; i < AW_STRESS_MAX_MODULES; i++) {
        s.module_allocs[i] = atomic_load_explicit(&ctx->modules[i].allocs, memory_order_relaxed) +
                             atomic_load_explicit(&ctx->modules[i].reallocs, memory_order_relaxed);
        s.module_bytes[i] = atomic_load_explicit(&ctx->modules[i].bytes, memory_order_relaxed);
    }
    return s;
}

static void add_module(aw_stress_result *r, const char *name, double allocs, double bytes) {
    if (r->module_count >= AW_STRESS_MAX_MODULES) return;
    aw_stress_module_stats *m = &r->modules[r->module_count++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->allocs_per_frame = allocs;
    m->bytes_per_frame = bytes;
}

/* Every module's allocator forwards to the heap, so the heap's counts include them all; what
 * is left is "other" (anything that allocated from the heap directly). */
static void alloc_figures(aw_stress_result *r, const aw_stress_ctx *ctx, const alloc_snapshot *a,
                          const alloc_snapshot *b, uint32_t frames) {
    double f = frames ? (double)frames : 1.0;
    aw_alloc_stats heap = aw_alloc_stats_diff(a->heap, b->heap);
    aw_alloc_stats world = aw_alloc_stats_diff(a->world, b->world);
    aw_alloc_stats prof = aw_alloc_stats_diff(a->profiler, b->profiler);
    double heap_allocs = (double)(heap.allocs + heap.reallocs), heap_bytes = (double)heap.total_bytes;
    double pa = (double)(prof.allocs + prof.reallocs), pb = (double)prof.total_bytes;
    /* The headline figure is the engine's: the profiler is the measuring instrument (its trace
     * store grows by a block now and then) and is listed on its own. */
    r->allocs_per_frame = heap_allocs > pa ? (heap_allocs - pa) / f : 0.0;
    r->bytes_per_frame = heap_bytes > pb ? (heap_bytes - pb) / f : 0.0;
    double rest_allocs = heap_allocs, rest_bytes = heap_bytes;
    double wa = (double)(world.allocs + world.reallocs), wb = (double)world.total_bytes;
    add_module(r, "ecs", wa / f, wb / f);
    rest_allocs -= wa;
    rest_bytes -= wb;
    uint32_t n = atomic_load_explicit(&ctx->module_count, memory_order_relaxed);
    if (n > AW_STRESS_MAX_MODULES) n = AW_STRESS_MAX_MODULES;
    for (uint32_t i = 0; i < n; i++) {
        double ma = (double)(b->module_allocs[i] - a->module_allocs[i]);
        double mb = (double)(b->module_bytes[i] - a->module_bytes[i]);
        add_module(r, ctx->modules[i].name, ma / f, mb / f);
        rest_allocs -= ma;
        rest_bytes -= mb;
    }
    add_module(r, "profiler", pa / f, pb / f);
    rest_allocs -= pa;
    rest_bytes -= pb;
    add_module(r, "other", rest_allocs > 0 ? rest_allocs / f : 0.0, rest_bytes > 0 ? rest_bytes / f : 0.0);
}

/* ---------------------------------------------------------------- per-system times */

/* Systems in schedule order, from the schedule's description ("stage K: NAME (phase ..."). */
static void system_figures(aw_stress_result *r, aw_world *w) {
    char text[4096];
    size_t len = aw_world_describe_schedule(w, text, sizeof text);
    if (len >= sizeof text) len = sizeof text - 1;
    text[len] = '\0';
    for (char *line = text; line && *line && r->system_count < AW_STRESS_MAX_SYSTEMS;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *name = strstr(line, ": ");
        char *tail = name ? strstr(name, " (phase ") : NULL;
        if (name && tail) {
            name += 2;
            *tail = '\0';
            aw_profile_zone_stats z;
            if (aw_profile_zone_find("system", name, &z)) {
                aw_stress_system_stats *s = &r->systems[r->system_count++];
                snprintf(s->name, sizeof s->name, "%s", name);
                s->mean_us = z.mean_ns * 1e-3;
                s->p95_us = z.p95_ns * 1e-3;
                s->total_ms = z.total_ns * 1e-6;
            }
        }
        line = next;
    }
}

/* ---------------------------------------------------------------- the run */

static aw_status check_desc(const aw_stress_desc *d) {
    if (!d) return aw_error(AW_ERR_INVALID_ARG, "aw_stress_run: desc is NULL");
    if (!d->scenario || !d->scenario->setup)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_run: a scenario with a setup callback is required");
    if (!d->entities) return aw_error(AW_ERR_INVALID_ARG, "aw_stress_run: entities must be at least 1");
    if (!(d->dt >= 0.0f) || d->dt > 1e6f)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_run: dt %g is out of range", (double)d->dt);
    if (!(d->abort_over_ms >= 0.0))
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_run: abort_over_ms must be >= 0");
    return AW_OK;
}

typedef struct run_state {
    aw_stress_ctx *ctx;
    aw_jobs *own_jobs;
    aw_world *world;
    void *scenario_state;
    double *samples, *scratch;
    uint32_t frames;
} run_state;

static void run_cleanup(const aw_stress_desc *d, run_state *rs) {
    if (rs->world && rs->scenario_state && d->scenario->teardown)
        d->scenario->teardown(rs->scenario_state, rs->world);
    aw_world_destroy(rs->world);
    aw_jobs_destroy(rs->own_jobs);
    if (rs->scenario_state)
        aw_free(NULL, rs->scenario_state, d->scenario->state_size ? d->scenario->state_size : 1);
    aw_free(NULL, rs->samples, (size_t)rs->frames * sizeof(double));
    aw_free(NULL, rs->scratch, (size_t)rs->frames * sizeof(double));
    aw_free(NULL, rs->ctx, sizeof *rs->ctx);
}

/* Frames [0, warmup) are untimed; the statistics window opens after the last of them. */
static aw_status run_frames(const aw_stress_desc *d, run_state *rs, aw_stress_result *out, uint32_t warmup,
                            bool profiling, alloc_snapshot *before, alloc_snapshot *after) {
    aw_stress_counter counters[AW_STRESS_MAX_COUNTERS];
    aw_profile_id counter_ids[AW_STRESS_MAX_COUNTERS] = {0};
    aw_profile_id heap_allocs_id = aw_profile_intern("counter", "heap.allocs");
    aw_profile_id heap_bytes_id = aw_profile_intern("counter", "heap.bytes");
    aw_alloc_stats heap_before = aw_heap_stats();
    float dt = d->dt > 0.0f ? d->dt : 1.0f;
    uint32_t total = warmup + rs->frames, over = 0, timed = 0;
    uint32_t step = total / 100 ? total / 100 : 1;
    /* The p99 interpolates between sorted frames k and k + 1 (k = floor(0.99 (n - 1))): once n - k
     * frames are over the limit, frame k is too, and so is the p99, whatever comes after. */
    uint32_t certain_fail = rs->frames - (uint32_t)(0.99 * (double)(rs->frames - 1));
    if (!warmup) {
        if (profiling) aw_profile_reset_stats();
        *before = snapshot(rs->world, rs->ctx, profiling);
    }
    for (uint32_t f = 0; f < total; f++) {
        uint64_t t0 = aw_time_ns();
        aw_status st = aw_world_progress(rs->world, dt);
        uint64_t t1 = aw_time_ns();
        if (st) return aw_error(st, "aw_stress_run: %s, frame %u: %s", d->scenario->name, f, aw_last_error());
        uint32_t n =
            d->scenario->frame_counters
                ? d->scenario->frame_counters(rs->scenario_state, rs->world, counters, AW_STRESS_MAX_COUNTERS)
                : 0;
        if (n > AW_STRESS_MAX_COUNTERS) n = AW_STRESS_MAX_COUNTERS;
        memcpy(out->counters, counters, n * sizeof *counters);
        out->counter_count = n;
        if (profiling) {
            /* Heap traffic of this frame (all engine allocators end in the heap), as trace counters. */
            aw_alloc_stats heap = aw_heap_stats(), delta = aw_alloc_stats_diff(heap_before, heap);
            heap_before = heap;
            aw_profile_counter(heap_allocs_id, (double)(delta.allocs + delta.reallocs));
            aw_profile_counter(heap_bytes_id, (double)delta.total_bytes);
            for (uint32_t i = 0; i < n; i++) {
                if (!counter_ids[i]) counter_ids[i] = aw_profile_intern("counter", counters[i].name);
                aw_profile_counter(counter_ids[i], counters[i].value);
            }
            aw_profile_frame_mark();
            aw_profile_collect();
        }
        if (f + 1 == warmup) {
            if (profiling) aw_profile_reset_stats();
            *before = snapshot(rs->world, rs->ctx, profiling);
        }
        if (f >= warmup) {
            double ms = (double)(t1 - t0) * 1e-6;
            rs->samples[timed++] = ms;
            if (d->abort_over_ms > 0.0 && ms > d->abort_over_ms && ++over >= certain_fail) {
                out->aborted = true;
                break;
            }
        }
        if (d->progress && ((f + 1) % step == 0 || f + 1 == total))
            d->progress(d->progress_user, f + 1, total);
    }
    *after = snapshot(rs->world, rs->ctx, profiling);
    out->sample_count = timed;
    return AW_OK;
}

aw_status aw_stress_run(const aw_stress_desc *d, aw_stress_result *out) {
    if (!out) return aw_error(AW_ERR_INVALID_ARG, "aw_stress_run: out is NULL");
    *out = (aw_stress_result){0};
    aw_status st = check_desc(d);
    if (st) return st;
    run_state rs = {.frames = d->frames ? d->frames : DEFAULT_FRAMES};
    uint32_t warmup = d->warmup == AW_STRESS_NO_WARMUP ? 0 : d->warmup ? d->warmup : DEFAULT_WARMUP;
    rs.ctx = aw_alloc(NULL, sizeof *rs.ctx, _Alignof(aw_stress_ctx));
    rs.samples = aw_alloc(NULL, (size_t)rs.frames * sizeof(double), 8);
    rs.scratch = aw_alloc(NULL, (size_t)rs.frames * sizeof(double), 8);
    if (!rs.ctx || !rs.samples || !rs.scratch) {
        run_cleanup(d, &rs);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_stress_run: out of memory for %u frame times", rs.frames);
    }
    memset(rs.ctx, 0, sizeof *rs.ctx);

    reset_peak_rss();
    aw_jobs *jobs = d->jobs;
    if (!jobs) {
        jobs = rs.own_jobs = aw_jobs_create(
            &(aw_jobs_desc){.threads = d->threads, .allocator = aw_stress_module_allocator(rs.ctx, "jobs")});
        if (!jobs) {
            st = aw_last_status();
            run_cleanup(d, &rs);
            return st;
        }
    }
    uint64_t t0 = aw_time_ns();
    rs.world = aw_world_create(&(aw_world_desc){.jobs = jobs});
    rs.scenario_state =
        rs.world ? aw_alloc(NULL, d->scenario->state_size ? d->scenario->state_size : 1, 64) : NULL;
    if (!rs.world || !rs.scenario_state) {
        st = rs.world ? aw_error(AW_ERR_OUT_OF_MEMORY, "aw_stress_run: out of memory") : aw_last_status();
        run_cleanup(d, &rs);
        return st;
    }
    memset(rs.scenario_state, 0, d->scenario->state_size ? d->scenario->state_size : 1);
    aw_stress_setup setup = {.world = rs.world,
                             .ctx = rs.ctx,
                             .entities = d->entities,
                             .seed = d->seed,
                             .threads = aw_jobs_thread_count(jobs)};
    if ((st = d->scenario->setup(rs.scenario_state, &setup))) {
        st = aw_error(st, "aw_stress_run: %s setup with %u entities: %s", d->scenario->name, d->entities,
                      aw_last_error());
        run_cleanup(d, &rs);
        return st;
    }
    out->setup_ms = (double)(aw_time_ns() - t0) * 1e-6;

    bool profiling = aw_profile_active();
    alloc_snapshot before = {0}, after = {0};
    if ((st = run_frames(d, &rs, out, warmup, profiling, &before, &after))) {
        run_cleanup(d, &rs);
        return st;
    }
    out->entities = d->entities;
    out->frames = out->sample_count;
    out->warmup = warmup;
    out->threads = aw_jobs_thread_count(jobs);
    out->seed = d->seed;
    out->frame_ms = aw_stress_stats_compute(rs.samples, out->sample_count, rs.scratch);
    out->fps = out->frame_ms.mean > 0.0 ? 1000.0 / out->frame_ms.mean : 0.0;
    out->headroom_pct = 100.0 * (1.0 - out->frame_ms.mean / AW_STRESS_BUDGET_MS);
    alloc_figures(out, rs.ctx, &before, &after, out->sample_count);
    if (profiling) system_figures(out, rs.world);
    out->world_hash = aw_world_hash(rs.world);
    out->peak_rss_mb = peak_rss_mb();
    if (d->keep_samples) {
        out->samples = rs.samples;
        out->samples_allocated_ = rs.frames;
        rs.samples = NULL;
    }
    run_cleanup(d, &rs);
    return AW_OK;
}

void aw_stress_result_free(aw_stress_result *r) {
    if (!r) return;
    aw_free(NULL, r->samples, (size_t)r->samples_allocated_ * sizeof(double));
    r->samples = NULL;
    r->samples_allocated_ = 0;
}
