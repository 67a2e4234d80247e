/* ctest-label: threads */
/* Tests for the profiler: nesting and self time on a manual clock, many threads recording while
 * another collects, full rings and deep nesting (drops counted, pairs intact), pause and restart,
 * histogram percentiles on synthetic durations, the Chrome trace parsed back with jansson, and the
 * machine probe (a cache line passed between two CPUs). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_EQUAL */
#include "aw/core.h"
#include "aw/profile.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#if AW_PROFILE_ENABLED

static int stop_session(void **state) {
    (void)state;
    aw_profile_stop();
    return 0;
}

static void start_manual(bool trace, uint32_t thread_events) {
    assert_int_equal(aw_profile_start(&(aw_profile_desc){
                         .clock = AW_PROFILE_CLOCK_MANUAL, .trace = trace, .thread_events = thread_events}),
                     AW_OK);
    aw_profile_set_time(0);
}

static aw_profile_zone_stats zone(const char *category, const char *name) {
    aw_profile_zone_stats z = {0};
    assert_true(aw_profile_zone_find(category, name, &z));
    return z;
}

/* ---------------------------------------------------------------- nesting */

static void test_nesting_and_self_time(void **state) {
    (void)state;
    start_manual(false, 0);
    aw_profile_id outer = aw_profile_intern("test", "outer"), a = aw_profile_intern("test", "a"),
                  b = aw_profile_intern("test", "b");
    for (int rep = 0; rep < 3; rep++) {
        uint64_t t = (uint64_t)rep * 1000;
        aw_profile_set_time(t);
        aw_profile_begin(outer);
        aw_profile_set_time(t + 10);
        aw_profile_begin(a);
        aw_profile_set_time(t + 15);
        aw_profile_begin(b); /* b nested in a */
        aw_profile_set_time(t + 25);
        aw_profile_end(b);
        aw_profile_set_time(t + 30);
        aw_profile_end(a);
        aw_profile_set_time(t + 40);
        aw_profile_begin(b); /* b directly in outer */
        aw_profile_set_time(t + 45);
        aw_profile_end(b);
        aw_profile_set_time(t + 100);
        aw_profile_end(outer);
    }
    aw_profile_zone_stats zo = zone("test", "outer"), za = zone("test", "a"), zb = zone("test", "b");
    assert_int_equal(zo.count, 3);
    assert_true(zo.total_ns == 300.0);
    assert_true(zo.self_ns == 3 * (100.0 - 20.0 - 5.0));
    assert_true(zo.mean_ns == 100.0);
    assert_int_equal(za.count, 3);
    assert_true(za.total_ns == 60.0 && za.self_ns == 30.0);
    assert_int_equal(zb.count, 6);
    assert_true(zb.total_ns == 45.0 && zb.self_ns == 45.0 && zb.max_ns == 10.0);
    assert_string_equal(zo.category, "test");

    /* The report ranks by total time. */
    aw_profile_zone_stats top[2];
    assert_int_equal(aw_profile_zone_report(top, 2), 3);
    assert_string_equal(top[0].name, "outer");
    assert_string_equal(top[1].name, "a");

    /* An end for another id still closes the innermost zone: pairing follows nesting, not ids. */
    aw_profile_set_time(5000);
    aw_profile_begin(a);
    aw_profile_set_time(5007);
    aw_profile_end(b);
    assert_int_equal(zone("test", "a").count, 4);
    assert_true(zone("test", "a").max_ns == 20.0);
    aw_profile_stop();
}

static void test_scope_macro_and_names(void **state) {
    (void)state;
    start_manual(false, 0);
    assert_int_equal(aw_profile_intern("x", "n"), aw_profile_intern("x", "n"));
    assert_int_not_equal(aw_profile_intern("x", "n"), aw_profile_intern("y", "n"));
    assert_int_equal(aw_profile_intern(NULL, "n"), aw_profile_intern("", "n"));
    assert_int_equal(aw_profile_intern("x", NULL), 0);
    aw_profile_begin(0); /* id 0 is ignored */
    aw_profile_end(0);
    {
        AW_PROFILE_SCOPE("scoped");
        aw_profile_set_time(7);
        {
            AW_PROFILE_ZONE_BEGIN(inner, "inner");
            aw_profile_set_time(9);
            AW_PROFILE_ZONE_END(inner);
        }
    }
    aw_profile_zone_stats s = zone("", "scoped"), i = zone("", "inner");
    assert_int_equal(s.count, 1);
    assert_true(s.total_ns == 9.0 && s.self_ns == 7.0);
    assert_true(i.total_ns == 2.0);
    /* Run-time names: interned per call. */
    aw_profile_id dyn = aw_profile_begin_named("system", "movement");
    assert_int_not_equal(dyn, 0);
    aw_profile_set_time(19);
    aw_profile_end(dyn);
    assert_true(zone("system", "movement").total_ns == 10.0);
    aw_profile_stop();
}

/* ---------------------------------------------------------------- statistics */

static void test_histogram_percentiles(void **state) {
    (void)state;
    start_manual(false, 1u << 12);
    aw_profile_id id = aw_profile_intern("test", "hist");
    /* Durations 1..1000 us in a scrambled order. */
    uint64_t t = 0;
    for (uint32_t k = 0; k < 1000; k++) {
        uint64_t d = ((uint64_t)(k * 7919u % 1000u) + 1u) * 1000u;
        aw_profile_set_time(t);
        aw_profile_begin(id);
        t += d;
        aw_profile_set_time(t);
        aw_profile_end(id);
        if (k % 100 == 0) aw_profile_collect();
    }
    aw_profile_zone_stats z = zone("test", "hist");
    assert_int_equal(z.count, 1000);
    assert_true(fabs(z.mean_ns - 500500.0) < 1e-6);
    assert_true(z.max_ns == 1000000.0);
    /* Exact p95 (rank ceil(0.95 n)) is 950 us; the histogram is within a bucket (about 3%). */
    assert_true(fabs(z.p95_ns - 950000.0) / 950000.0 < 0.03);

    /* Frame marks 1 ms apart, one 5 ms frame. */
    for (int f = 0; f <= 20; f++) {
        t += f == 10 ? 5000000 : 1000000;
        aw_profile_set_time(t);
        aw_profile_frame_mark();
    }
    aw_profile_summary s = aw_profile_get_summary();
    assert_int_equal(s.frames, 20);
    assert_true(fabs(s.frame_mean_ns - 1.2e6) < 1.0);
    assert_true(s.frame_max_ns == 5e6);
    assert_true(fabs(s.frame_p95_ns - 1e6) / 1e6 < 0.03);
    assert_string_equal(s.clock, "manual");
    assert_int_equal(s.dropped, 0);

    /* Counters: last, min, max, mean. */
    aw_profile_id c = aw_profile_intern("counter", "entities");
    aw_profile_counter(c, 10.0);
    aw_profile_counter(c, 30.0);
    aw_profile_counter(c, 20.0);
    aw_profile_counter_stats cs[4];
    assert_int_equal(aw_profile_counter_report(cs, 4), 1);
    assert_true(cs[0].last == 20.0 && cs[0].min == 10.0 && cs[0].max == 30.0 && cs[0].mean == 20.0);
    assert_int_equal(cs[0].count, 3);

    /* reset_stats clears the aggregate. */
    aw_profile_reset_stats();
    assert_false(aw_profile_zone_find("test", "hist", NULL));
    assert_int_equal(aw_profile_get_summary().frames, 0);
    aw_profile_stop();
}

/* ---------------------------------------------------------------- overflow */

static void test_full_ring_drops_whole_zones(void **state) {
    (void)state;
    start_manual(false, 64); /* the smallest ring: 64 events */
    aw_profile_id outer = aw_profile_intern("test", "ovf_outer"),
                  inner = aw_profile_intern("test", "ovf_inner");
    /* 100 zones of 3 nested levels without collecting: 600 events into 64 slots. */
    for (int k = 0; k < 100; k++) {
        aw_profile_begin(outer);
        aw_profile_begin(inner);
        aw_profile_begin(inner);
        aw_profile_end(inner);
        aw_profile_end(inner);
        aw_profile_end(outer);
    }
    aw_profile_summary s = aw_profile_get_summary();
    uint64_t outers = zone("test", "ovf_outer").count, inners = zone("test", "ovf_inner").count;
    /* Every zone is either complete or counted as dropped; begins that fit always have their end. */
    assert_int_equal(outers + inners + s.dropped, 300);
    assert_true(s.dropped > 0);
    assert_true(outers >= 1 && outers < 100);
    assert_true(inners <= 2 * outers + 2);

    /* After a collect the ring has room again and records normally. */
    aw_profile_reset_stats();
    for (int k = 0; k < 10; k++) {
        aw_profile_begin(outer);
        aw_profile_end(outer);
    }
    assert_int_equal(zone("test", "ovf_outer").count, 10);
    assert_int_equal(aw_profile_get_summary().dropped, s.dropped);

    /* Nesting deeper than 64: the deep ones are dropped, the outer 64 pair up, nothing breaks. */
    aw_profile_stop();
    start_manual(false, 1024);
    aw_profile_id deep = aw_profile_intern("test", "deep");
    for (int d = 0; d < 100; d++) aw_profile_begin(deep);
    for (int d = 0; d < 100; d++) aw_profile_end(deep);
    assert_int_equal(zone("test", "deep").count, 64);
    assert_int_equal(aw_profile_get_summary().dropped, 36);
    /* A stray end with nothing open is ignored. */
    aw_profile_end(deep);
    aw_profile_begin(deep);
    aw_profile_end(deep);
    assert_int_equal(zone("test", "deep").count, 65);
    aw_profile_stop();
}

static void test_pause_and_restart(void **state) {
    (void)state;
    start_manual(false, 0);
    aw_profile_id z = aw_profile_intern("test", "pause");
    aw_profile_begin(z); /* recorded */
    aw_profile_set_enabled(false);
    aw_profile_begin(z); /* paused: not recorded, but its end must not close the outer one */
    aw_profile_end(z);
    aw_profile_set_enabled(true);
    aw_profile_set_time(50);
    aw_profile_end(z);
    aw_profile_zone_stats s = zone("test", "pause");
    assert_int_equal(s.count, 1);
    assert_true(s.total_ns == 50.0);
    aw_profile_stop();
    assert_false(aw_profile_active());
    /* Recording without a session does nothing. */
    aw_profile_begin(z);
    aw_profile_end(z);
    /* A second session starts clean; the thread re-registers. */
    start_manual(false, 0);
    assert_int_equal(aw_profile_start(NULL), AW_ERR_ALREADY_PRESENT);
    assert_false(aw_profile_zone_find("test", "pause", NULL));
    aw_profile_begin(z);
    aw_profile_end(z);
    assert_int_equal(zone("test", "pause").count, 1);
    assert_int_equal(aw_profile_get_summary().threads, 1);
    aw_profile_stop();
    aw_profile_stop(); /* twice is harmless */
    assert_int_equal(aw_profile_start(&(aw_profile_desc){.clock = (aw_profile_clock)42}), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_profile_start(&(aw_profile_desc){.thread_events = 0x7fffffffu}), AW_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- threads */

#define THREADS          8
#define ZONES_PER_THREAD 20000

typedef struct worker_arg {
    int index;
    _Atomic int *go;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg *w = p;
    char name[32];
    snprintf(name, sizeof name, "worker %d", w->index);
    aw_profile_thread_name(name);
    while (!atomic_load(w->go)) {
    }
    aw_profile_id outer = aw_profile_intern("mt", "outer"), inner = aw_profile_intern("mt", "inner");
    for (int k = 0; k < ZONES_PER_THREAD; k++) {
        aw_profile_begin(outer);
        aw_profile_begin(inner);
        aw_profile_end(inner);
        aw_profile_end(outer);
        if (k % 1000 == 0) {
            AW_PROFILE_COUNTER("mt.progress", (double)k);
        }
    }
    return NULL;
}

static void test_many_threads_collecting_meanwhile(void **state) {
    (void)state;
    /* Small rings and a collector running at the same time: some zones may drop, none may tear. */
    assert_int_equal(aw_profile_start(&(aw_profile_desc){.thread_events = 4096, .trace = true}), AW_OK);
    pthread_t threads[THREADS];
    worker_arg args[THREADS];
    _Atomic int go = 0;
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.index = i, .go = &go};
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &args[i]), 0);
    }
    atomic_store(&go, 1);
    for (int k = 0; k < 200; k++) {
        aw_profile_collect();
        (void)aw_profile_get_summary();
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    aw_profile_summary s = aw_profile_get_summary();
    uint64_t outers = zone("mt", "outer").count, inners = zone("mt", "inner").count;
    /* Every zone is complete or counted as dropped; drops also count the progress counters. */
    uint64_t counters = (uint64_t)THREADS * (ZONES_PER_THREAD / 1000);
    assert_true(outers + inners + s.dropped >= 2ull * THREADS * ZONES_PER_THREAD);
    assert_true(outers + inners + s.dropped <= 2ull * THREADS * ZONES_PER_THREAD + counters);
    assert_int_equal(s.threads, THREADS);
    /* Self time of outer excludes inner: never more than its total. */
    aw_profile_zone_stats zo = zone("mt", "outer");
    assert_true(zo.self_ns <= zo.total_ns);
    aw_profile_stop();
}

/* Threads that start while the session runs, and more threads than slots, are handled: the
 * surplus is refused and counted. */
static void *short_worker(void *p) {
    (void)p;
    aw_profile_id id = aw_profile_intern("mt", "short");
    aw_profile_begin(id);
    aw_profile_end(id);
    return NULL;
}

static void test_thread_slots_run_out(void **state) {
    (void)state;
    assert_int_equal(aw_profile_start(&(aw_profile_desc){.thread_events = 64}), AW_OK);
    enum { N = 300 }; /* more than the 256 slots */
    for (int i = 0; i < N; i++) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, short_worker, NULL), 0);
        pthread_join(t, NULL);
    }
    aw_profile_summary s = aw_profile_get_summary();
    assert_int_equal(s.threads, 256);
    assert_int_equal(zone("mt", "short").count, 256);
    assert_int_equal(s.dropped, N - 256);
    aw_profile_stop();
}

/* ---------------------------------------------------------------- trace */

static json_t *find_event(json_t *events, const char *ph, const char *name, size_t nth) {
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "ph")), ph) != 0) continue;
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0 && nth-- == 0) return e;
    }
    return NULL;
}

static void test_trace_parses_back(void **state) {
    (void)state;
    start_manual(true, 0);
    aw_profile_thread_name("main \"thread\"");
    aw_profile_id outer = aw_profile_intern("system", "outer \"quoted\" \\ tab\t");
    aw_profile_id inner = aw_profile_intern(NULL, "inner \xff bad utf8 \xc3\xa9");
    aw_profile_id count = aw_profile_intern("counter", "entities");
    aw_profile_set_time(1000);
    aw_profile_begin(outer);
    aw_profile_set_time(3000);
    aw_profile_begin(inner);
    aw_profile_set_time(4500);
    aw_profile_end(inner);
    aw_profile_counter(count, 1234.5);
    aw_profile_set_time(10000);
    aw_profile_end(outer);
    aw_profile_frame_mark();
    aw_profile_counter(count, NAN); /* not representable in JSON: written as 0 */
    aw_profile_begin(outer);        /* still open at export: not written */

    char path[] = "/tmp/aw_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(aw_profile_write_trace(path), AW_OK);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) fail_msg("trace is not JSON: line %d: %s", err.line, err.text);
    json_t *events = json_object_get(root, "traceEvents");
    assert_true(json_is_array(events));
    assert_string_equal(json_string_value(json_object_get(root, "displayTimeUnit")), "ns");

    json_t *tn = find_event(events, "M", "thread_name", 0);
    assert_non_null(tn);
    assert_string_equal(json_string_value(json_object_get(json_object_get(tn, "args"), "name")),
                        "main \"thread\"");
    json_t *pn = find_event(events, "M", "process_name", 0);
    assert_non_null(pn);

    json_t *xo = find_event(events, "X", "outer \"quoted\" \\ tab\t", 0);
    assert_non_null(xo);
    assert_true(fabs(json_number_value(json_object_get(xo, "ts")) - 1.0) < 1e-9); /* us since start */
    assert_true(fabs(json_number_value(json_object_get(xo, "dur")) - 9.0) < 1e-9);
    assert_string_equal(json_string_value(json_object_get(xo, "cat")), "system");
    assert_int_equal(json_integer_value(json_object_get(xo, "tid")),
                     json_integer_value(json_object_get(tn, "tid")));
    /* Invalid UTF-8 became '?', valid multi-byte text stayed. */
    json_t *xi = find_event(events, "X", "inner ? bad utf8 \xc3\xa9", 0);
    assert_non_null(xi);
    assert_true(fabs(json_number_value(json_object_get(xi, "dur")) - 1.5) < 1e-9);
    assert_null(json_object_get(xi, "cat"));
    /* Parents come before children in the file (viewers nest complete events by order). */
    size_t io = 0, ii = 0, i;
    json_t *e;
    json_array_foreach(events, i, e) {
        if (e == xo) io = i;
        if (e == xi) ii = i;
    }
    assert_true(io < ii);

    json_t *c0 = find_event(events, "C", "entities", 0), *c1 = find_event(events, "C", "entities", 1);
    assert_non_null(c0);
    assert_non_null(c1);
    assert_true(json_number_value(json_object_get(json_object_get(c0, "args"), "value")) == 1234.5);
    assert_true(json_number_value(json_object_get(json_object_get(c1, "args"), "value")) == 0.0);
    assert_non_null(find_event(events, "i", "frame", 0));
    assert_null(find_event(events, "X", "outer \"quoted\" \\ tab\t", 1)); /* the open zone */
    json_decref(root);
    remove(path);

    /* No trace kept: a clear error. */
    aw_profile_stop();
    start_manual(false, 0);
    assert_int_equal(aw_profile_write_trace("/tmp/never"), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "trace"));
    aw_profile_stop();
    assert_int_equal(aw_profile_write_trace("/tmp/never"), AW_ERR_INVALID_ARG);
}

static void test_trace_with_real_clock_and_threads(void **state) {
    (void)state;
    assert_int_equal(aw_profile_start(&(aw_profile_desc){.trace = true}), AW_OK);
    pthread_t threads[2];
    worker_arg args[2];
    _Atomic int go = 1;
    for (int i = 0; i < 2; i++) {
        args[i] = (worker_arg){.index = i, .go = &go};
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &args[i]), 0);
    }
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    char path[] = "/tmp/aw_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(aw_profile_write_trace(path), AW_OK);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) fail_msg("trace is not JSON: line %d: %s", err.line, err.text);
    json_t *events = json_object_get(root, "traceEvents");
    /* Each worker named its thread; zones have non-negative times and children inside parents. */
    assert_non_null(find_event(events, "M", "thread_name", 1));
    size_t i;
    json_t *e;
    size_t zones = 0;
    json_array_foreach(events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "ph")), "X") != 0) continue;
        assert_true(json_number_value(json_object_get(e, "ts")) >= 0.0);
        assert_true(json_number_value(json_object_get(e, "dur")) >= 0.0);
        zones++;
    }
    aw_profile_summary s = aw_profile_get_summary();
    assert_true(zones > 0 && zones <= s.trace_records);
    assert_int_equal(s.trace_dropped, 0);
    json_decref(root);
    remove(path);
    aw_profile_stop();
}

/* ---------------------------------------------------------------- cost */

static void test_zone_cost_is_measured(void **state) {
    (void)state;
    assert_true(aw_profile_zone_cost_ns(1000) == 0.0); /* no session */
    assert_int_equal(aw_profile_start(&(aw_profile_desc){.trace = true}), AW_OK);
    double ns = aw_profile_zone_cost_ns(20000);
    print_message("profiler: one zone (begin + end) costs %.1f ns on this machine (%s clock)\n", ns,
                  aw_profile_get_summary().clock);
    assert_true(ns > 0.0 && ns < 20000.0);
    /* The measuring zones stay out of statistics and trace. */
    assert_false(aw_profile_zone_find("profiler", "zone cost", NULL));
    assert_int_equal(aw_profile_get_summary().trace_records, 0);
    aw_profile_stop();
}

/* The machine probe: positive wherever two CPUs can run its two threads at once, 0 otherwise;
 * either way the caller's CPU affinity is what it was. */
static void test_core_roundtrip_is_measured(void **state) {
    (void)state;
    cpu_set_t before, after;
    assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
    double ns = aw_profile_core_roundtrip_ns();
    assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
    assert_true(CPU_EQUAL(&before, &after));
    print_message("profiler: a cache line between two CPUs costs %.0f ns there and back\n", ns);
    assert_true(ns >= 0.0 && ns < 1e6);
    if (CPU_COUNT(&before) < 2) assert_true(ns == 0.0);
}

/* The stall probe: quiet-ish CPUs give plausible figures; a CPU shared with a busy thread pinned
 * to it loses time slices, which the probe sees. */
typedef struct competitor {
    cpu_set_t cpu;
    _Atomic bool stop;
} competitor;

static void *compete(void *arg) {
    competitor *c = arg;
    pthread_setaffinity_np(pthread_self(), sizeof c->cpu, &c->cpu);
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
    }
    return NULL;
}

static void test_host_stalls_are_measured(void **state) {
    (void)state;
    cpu_set_t mine;
    assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
    aw_profile_stalls s = aw_profile_host_stalls(100, 1000);
    assert_true(s.cpus >= 1 && s.cpus <= (uint32_t)CPU_COUNT(&mine));
    assert_int_equal(s.ms, 100);
    for (uint32_t i = 0; i < s.cpus; i++) {
        assert_true(CPU_ISSET((int)s.cpu[i], &mine));
        assert_true(s.max_ms[i] <= s.total_ms[i] + 1e-9 && s.total_ms[i] <= 100.0 + 50.0);
        assert_true(s.count[i] == 0 ? s.total_ms[i] == 0.0 : s.max_ms[i] >= 1.0);
    }
    /* A thread spinning on the first CPU takes turns with the probe there. */
    competitor c = {.stop = false};
    CPU_ZERO(&c.cpu);
    CPU_SET((int)s.cpu[0], &c.cpu);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, compete, &c), 0);
    s = aw_profile_host_stalls(300, 500);
    atomic_store(&c.stop, true);
    pthread_join(t, NULL);
    print_message("profiler: a CPU shared with a spinning thread: %u stalls, %.1f ms of 300, worst %.2f ms\n",
                  s.count[0], s.total_ms[0], s.max_ms[0]);
    assert_true(s.count[0] >= 1 && s.total_ms[0] >= 10.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_roundtrip_is_measured),
        cmocka_unit_test(test_host_stalls_are_measured),
        cmocka_unit_test_teardown(test_nesting_and_self_time, stop_session),
        cmocka_unit_test_teardown(test_scope_macro_and_names, stop_session),
        cmocka_unit_test_teardown(test_histogram_percentiles, stop_session),
        cmocka_unit_test_teardown(test_full_ring_drops_whole_zones, stop_session),
        cmocka_unit_test_teardown(test_pause_and_restart, stop_session),
        cmocka_unit_test_teardown(test_many_threads_collecting_meanwhile, stop_session),
        cmocka_unit_test_teardown(test_thread_slots_run_out, stop_session),
        cmocka_unit_test_teardown(test_trace_parses_back, stop_session),
        cmocka_unit_test_teardown(test_trace_with_real_clock_and_threads, stop_session),
        cmocka_unit_test_teardown(test_zone_cost_is_measured, stop_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* AW_PROFILE=OFF: the API is there and says so. */

static void test_compiled_out(void **state) {
    (void)state;
    assert_int_equal(aw_profile_start(NULL), AW_ERR_UNSUPPORTED);
    assert_false(aw_profile_active());
    AW_PROFILE_SCOPE("nothing");
    AW_PROFILE_ZONE_BEGIN(z, "nothing");
    AW_PROFILE_ZONE_END(z);
    AW_PROFILE_COUNTER("nothing", 1.0);
    AW_PROFILE_FRAME_MARK();
    assert_int_equal(aw_profile_zone_report(NULL, 0), 0);
    assert_int_equal(aw_profile_write_trace("/tmp/never"), AW_ERR_UNSUPPORTED);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_compiled_out)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
