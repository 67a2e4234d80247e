/* ctest-label: threads */
/* Tests for the job system: parallel_for coverage and partition over many shapes and thread
 * counts, millions of tiny tasks, nesting, stealing, dependencies, an external scheduler, idle
 * sleep, worker identity, bad input and zero steady-state allocation. */
#define _GNU_SOURCE /* syscall(SYS_gettid) */
#include "aw/core.h"
#include "aw/jobs.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_allocator.h"

/* Sanitizers make each task 5-20x slower; the shapes stay, the sizes shrink. */
#ifdef AW_SANITIZED
#define SCALE_DOWN 10u
#else
#define SCALE_DOWN 1u
#endif

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static aw_jobs *make_jobs(uint32_t threads) {
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = threads});
    assert_non_null(jobs);
    assert_int_equal(aw_jobs_thread_count(jobs), threads);
    return jobs;
}

/* ---------------------------------------------------------------- coverage and partition */

typedef struct cover_ctx {
    _Atomic uint32_t *items;
    _Atomic uint32_t *ranges;
    uint32_t count, grain, threads;
    _Atomic uint32_t bad;
} cover_ctx;

static void cover_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    cover_ctx *c = arg;
    uint32_t want_end = begin + c->grain < c->count ? begin + c->grain : c->count;
    if (begin % c->grain != 0 || end != want_end || worker >= c->threads) atomic_fetch_add(&c->bad, 1);
    atomic_fetch_add_explicit(&c->ranges[begin / c->grain], 1, memory_order_relaxed);
    for (uint32_t i = begin; i < end; i++) atomic_fetch_add_explicit(&c->items[i], 1, memory_order_relaxed);
}

static void check_cover(aw_jobs *jobs, uint32_t count, uint32_t grain) {
    uint32_t g = grain ? grain : 256;
    uint32_t nranges = count / g + (count % g != 0);
    cover_ctx c = {.count = count, .grain = g, .threads = aw_jobs_thread_count(jobs)};
    c.items = calloc(count ? count : 1, sizeof *c.items);
    c.ranges = calloc(nranges ? nranges : 1, sizeof *c.ranges);
    assert_non_null(c.items);
    assert_non_null(c.ranges);
    assert_int_equal(aw_jobs_parallel_for(jobs, count, grain, cover_fn, &c), AW_OK);
    for (uint32_t i = 0; i < count; i++)
        if (atomic_load(&c.items[i]) != 1)
            fail_msg("count %u grain %u: item %u ran %u times", count, grain, i, atomic_load(&c.items[i]));
    for (uint32_t k = 0; k < nranges; k++)
        if (atomic_load(&c.ranges[k]) != 1)
            fail_msg("count %u grain %u: range %u ran %u times", count, grain, k, atomic_load(&c.ranges[k]));
    assert_int_equal(atomic_load(&c.bad), 0);
    free(c.items);
    free(c.ranges);
}

static void test_parallel_for_covers_each_item_once(void **state) {
    (void)state;
    static const uint32_t threads[] = {1, 2, 3, 8};
    static const uint32_t shapes[][2] = {
        {1, 1},     {1, 0},        {5, 10},     {10, 3},  {100, 7},   {256, 0},
        {257, 0},   {1000, 1},     {1000, 256}, {777, 0}, {4096, 64}, {4097, 64},
        {65537, 1}, {100000, 999}, {3, 1},      {2, 1},   {31, 2},    {1 << 20, 4096},
    };
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        aw_jobs *jobs = make_jobs(threads[t]);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            check_cover(jobs, shapes[s][0], shapes[s][1]);
        /* The same instance again: nothing left over from the previous round. */
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            check_cover(jobs, shapes[s][0], shapes[s][1]);
        aw_jobs_destroy(jobs);
    }
}

static void count_calls_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    atomic_fetch_add((_Atomic uint32_t *)arg, end - begin);
}

static void test_parallel_for_count_zero_and_huge_grain(void **state) {
    (void)state;
    aw_jobs *jobs = make_jobs(2);
    _Atomic uint32_t n = 0;
    assert_int_equal(aw_jobs_parallel_for(jobs, 0, 1, count_calls_fn, &n), AW_OK);
    assert_int_equal(atomic_load(&n), 0);
    assert_int_equal(aw_jobs_parallel_for(jobs, 1000, UINT32_MAX, count_calls_fn, &n), AW_OK);
    assert_int_equal(atomic_load(&n), 1000);
    aw_jobs_destroy(jobs);
}

/* One range runs inline: on the calling thread, as worker 0, counted as an inline run. */
typedef struct inline_ctx {
    pthread_t caller;
    uint32_t calls, begin, end, worker;
    bool same_thread;
} inline_ctx;

static void inline_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    inline_ctx *c = arg;
    c->calls++;
    c->begin = begin;
    c->end = end;
    c->worker = worker;
    c->same_thread = pthread_equal(pthread_self(), c->caller);
}

static void test_single_range_runs_inline(void **state) {
    (void)state;
    aw_jobs *jobs = make_jobs(3);
    aw_jobs_stats s0 = aw_jobs_get_stats(jobs);
    inline_ctx c = {.caller = pthread_self()};
    assert_int_equal(aw_jobs_parallel_for(jobs, 100, 100, inline_fn, &c), AW_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.begin, 0);
    assert_int_equal(c.end, 100);
    assert_int_equal(c.worker, 0);
    assert_true(c.same_thread);
    aw_jobs_stats s1 = aw_jobs_get_stats(jobs);
    assert_int_equal(s1.inline_runs - s0.inline_runs, 1);
    aw_jobs_destroy(jobs);
}

/* threads = 1: every range in order on the caller, and jobs run inside submit. */
typedef struct order_ctx {
    pthread_t caller;
    uint32_t next;
    bool ok;
} order_ctx;

static void order_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    order_ctx *c = arg;
    if (begin != c->next || worker != 0 || !pthread_equal(pthread_self(), c->caller)) c->ok = false;
    c->next = end;
}

static void flag_job(uint32_t worker, void *ctx) {
    (void)worker;
    atomic_store((_Atomic int *)ctx, 1);
}

static void test_one_thread_runs_inline(void **state) {
    (void)state;
    aw_jobs *jobs = make_jobs(1);
    order_ctx c = {.caller = pthread_self(), .ok = true};
    assert_int_equal(aw_jobs_parallel_for(jobs, 10000, 7, order_fn, &c), AW_OK);
    assert_true(c.ok);
    assert_int_equal(c.next, 10000);
    assert_int_equal(aw_jobs_get_stats(jobs).inline_runs, 1);
    _Atomic int flag = 0;
    aw_job job;
    assert_int_equal(aw_jobs_submit(jobs, flag_job, &flag, NULL, 0, &job), AW_OK);
    assert_int_equal(atomic_load(&flag), 1); /* ran before submit returned */
    aw_jobs_wait(jobs, job);
    aw_jobs_destroy(jobs);
}

/* ---------------------------------------------------------------- many tiny tasks */

static void add_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    uint64_t sum = 0;
    for (uint32_t i = begin; i < end; i++) sum += i;
    atomic_fetch_add_explicit((_Atomic uint64_t *)arg, sum, memory_order_relaxed);
}

static void test_millions_of_tiny_ranges(void **state) {
    (void)state;
    const uint32_t n = 2000000u / SCALE_DOWN;
    static const uint32_t threads[] = {2, 3};
    for (size_t t = 0; t < 2; t++) {
        aw_jobs *jobs = make_jobs(threads[t]);
        _Atomic uint64_t sum = 0;
        assert_int_equal(aw_jobs_parallel_for(jobs, n, 1, add_fn, &sum), AW_OK);
        assert_int_equal(atomic_load(&sum), (uint64_t)n * (n - 1) / 2);
        aw_jobs_destroy(jobs);
    }
}

static void inc_job(uint32_t worker, void *ctx) {
    (void)worker;
    atomic_fetch_add_explicit((_Atomic uint64_t *)ctx, 1, memory_order_relaxed);
}

static void test_million_submitted_jobs(void **state) {
    (void)state;
    const uint32_t total = 1000000u / SCALE_DOWN, batch = 2000;
    aw_jobs *jobs = make_jobs(3);
    _Atomic uint64_t done = 0;
    for (uint32_t sent = 0; sent < total; sent += batch) {
        for (uint32_t i = 0; i < batch; i++)
            assert_int_equal(aw_jobs_submit(jobs, inc_job, &done, NULL, 0, NULL), AW_OK);
        aw_jobs_wait_all(jobs);
        assert_int_equal(atomic_load(&done), sent + batch);
    }
    aw_jobs_destroy(jobs);
}

/* ---------------------------------------------------------------- nesting */

#define NEST_A 6
#define NEST_B 5
#define NEST_C 300

typedef struct nest_ctx {
    aw_jobs *jobs;
    _Atomic uint32_t *items; /* NEST_A * NEST_B * NEST_C */
    _Atomic uint32_t bad;
} nest_ctx;

typedef struct nest_level {
    nest_ctx *root;
    uint32_t a, b;
} nest_level;

static void nest_inner(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    nest_level *l = arg;
    if (aw_jobs_worker_index(l->root->jobs) != worker) atomic_fetch_add(&l->root->bad, 1);
    for (uint32_t i = begin; i < end; i++)
        atomic_fetch_add(&l->root->items[(l->a * NEST_B + l->b) * NEST_C + i], 1);
}

static void nest_middle(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    nest_level *outer = arg;
    if (aw_jobs_worker_index(outer->root->jobs) != worker) atomic_fetch_add(&outer->root->bad, 1);
    for (uint32_t b = begin; b < end; b++) {
        nest_level l = {outer->root, outer->a, b};
        if (aw_jobs_parallel_for(outer->root->jobs, NEST_C, 7, nest_inner, &l) != AW_OK)
            atomic_fetch_add(&outer->root->bad, 1);
    }
}

static void nest_outer(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    nest_ctx *c = arg;
    if (aw_jobs_worker_index(c->jobs) != worker) atomic_fetch_add(&c->bad, 1);
    for (uint32_t a = begin; a < end; a++) {
        nest_level l = {c, a, 0};
        if (aw_jobs_parallel_for(c->jobs, NEST_B, 1, nest_middle, &l) != AW_OK) atomic_fetch_add(&c->bad, 1);
    }
}

static void test_nested_parallel_for_three_levels(void **state) {
    (void)state;
    static const uint32_t threads[] = {1, 2, 4, 8};
    for (size_t t = 0; t < 4; t++) {
        aw_jobs *jobs = make_jobs(threads[t]);
        for (int round = 0; round < 20; round++) {
            nest_ctx c = {.jobs = jobs};
            c.items = calloc(NEST_A * NEST_B * NEST_C, sizeof *c.items);
            assert_non_null(c.items);
            assert_int_equal(aw_jobs_parallel_for(jobs, NEST_A, 1, nest_outer, &c), AW_OK);
            for (uint32_t i = 0; i < NEST_A * NEST_B * NEST_C; i++)
                assert_int_equal(atomic_load(&c.items[i]), 1);
            assert_int_equal(atomic_load(&c.bad), 0);
            free(c.items);
        }
        aw_jobs_destroy(jobs);
    }
}

/* ---------------------------------------------------------------- stealing */

typedef struct imbalance_ctx {
    _Atomic uint32_t ran_elsewhere;
    _Atomic uint32_t ran;
} imbalance_ctx;

static void imbalance_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    imbalance_ctx *c = arg;
    if (begin == 0) sleep_ms(40); /* the caller's first range is very slow */
    if (worker != 0) atomic_fetch_add(&c->ran_elsewhere, end - begin);
    atomic_fetch_add(&c->ran, end - begin);
}

static void test_stealing_under_imbalance(void **state) {
    (void)state;
    static const uint32_t threads[] = {2, 4};
    for (size_t t = 0; t < 2; t++) {
        aw_jobs *jobs = make_jobs(threads[t]);
        aw_jobs_stats s0 = aw_jobs_get_stats(jobs);
        imbalance_ctx c = {0};
        assert_int_equal(aw_jobs_parallel_for(jobs, 64, 1, imbalance_fn, &c), AW_OK);
        assert_int_equal(atomic_load(&c.ran), 64);
        aw_jobs_stats s1 = aw_jobs_get_stats(jobs);
        assert_true(s1.steals > s0.steals);
        /* While the caller sat in range 0 for 40 ms, the workers took (nearly) all the rest. */
        assert_true(atomic_load(&c.ran_elsewhere) >= 32);
        aw_jobs_destroy(jobs);
    }
}

/* ---------------------------------------------------------------- dependencies */

typedef struct order_rec {
    _Atomic uint32_t clock;
    _Atomic uint32_t stamp[1024];
} order_rec;

typedef struct stamp_arg {
    order_rec *rec;
    uint32_t id;
} stamp_arg;

static void stamp_job(uint32_t worker, void *ctx) {
    (void)worker;
    stamp_arg *a = ctx;
    atomic_store(&a->rec->stamp[a->id], atomic_fetch_add(&a->rec->clock, 1) + 1);
}

static void run_dependency_graphs(aw_jobs *jobs) {
    order_rec *rec = calloc(1, sizeof *rec);
    stamp_arg *args = calloc(1024, sizeof *args);
    aw_job *h = calloc(1024, sizeof *h);
    assert_non_null(rec);
    assert_non_null(args);
    assert_non_null(h);
    for (uint32_t i = 0; i < 1024; i++) args[i] = (stamp_arg){rec, i};

    /* A chain: 0 <- 1 <- ... <- 199. */
    for (uint32_t i = 0; i < 200; i++)
        assert_int_equal(aw_jobs_submit(jobs, stamp_job, &args[i], i ? &h[i - 1] : NULL, i ? 1 : 0, &h[i]),
                         AW_OK);
    /* Diamonds: 200 -> {201, 202} -> 203, repeated with a shared top. */
    assert_int_equal(aw_jobs_submit(jobs, stamp_job, &args[200], NULL, 0, &h[200]), AW_OK);
    for (uint32_t d = 0; d < 50; d++) {
        uint32_t b = 201 + d * 3;
        assert_int_equal(aw_jobs_submit(jobs, stamp_job, &args[b], &h[200], 1, &h[b]), AW_OK);
        assert_int_equal(aw_jobs_submit(jobs, stamp_job, &args[b + 1], &h[200], 1, &h[b + 1]), AW_OK);
        aw_job both[2] = {h[b], h[b + 1]};
        assert_int_equal(aw_jobs_submit(jobs, stamp_job, &args[b + 2], both, 2, &h[b + 2]), AW_OK);
    }
    /* A fan-in of AW_JOB_MAX_DEPS over jobs from all over the graph (and one twice). */
    aw_job fan[AW_JOB_MAX_DEPS] = {h[0], h[199], h[203], h[205], h[300], h[349], h[250], h[199]};
    assert_int_equal(aw_jobs_submit(jobs, stamp_job, &args[400], fan, AW_JOB_MAX_DEPS, &h[400]), AW_OK);

    aw_jobs_wait(jobs, h[400]);
    assert_true(atomic_load(&rec->stamp[400]) != 0); /* waited for: it has run */
    aw_jobs_wait_all(jobs);

    for (uint32_t i = 1; i < 200; i++)
        assert_true(atomic_load(&rec->stamp[i - 1]) < atomic_load(&rec->stamp[i]));
    for (uint32_t d = 0; d < 50; d++) {
        uint32_t b = 201 + d * 3;
        uint32_t top = atomic_load(&rec->stamp[200]), l = atomic_load(&rec->stamp[b]),
                 r = atomic_load(&rec->stamp[b + 1]), bottom = atomic_load(&rec->stamp[b + 2]);
        assert_true(top < l && top < r && l < bottom && r < bottom);
    }
    const uint32_t fan_ids[] = {0, 199, 203, 205, 300, 349, 250};
    for (size_t i = 0; i < sizeof fan_ids / sizeof fan_ids[0]; i++)
        assert_true(atomic_load(&rec->stamp[fan_ids[i]]) < atomic_load(&rec->stamp[400]));
    assert_int_equal(atomic_load(&rec->clock), 200 + 1 + 150 + 1);

    /* Dependencies on finished, stale and zero handles are already satisfied. */
    aw_job zero = {0, 0};
    aw_job stale = {h[0].index, h[0].generation - 1};
    aw_job deps[3] = {h[5], zero, stale};
    aw_job late;
    assert_int_equal(aw_jobs_submit(jobs, stamp_job, &args[500], deps, 3, &late), AW_OK);
    aw_jobs_wait(jobs, late);
    assert_true(atomic_load(&rec->stamp[500]) != 0);
    aw_jobs_wait(jobs, zero);
    aw_jobs_wait(jobs, stale);
    aw_jobs_wait(jobs, (aw_job){UINT32_MAX, 1});
    free(rec);
    free(args);
    free(h);
}

static void test_dependency_chains_and_diamonds(void **state) {
    (void)state;
    static const uint32_t threads[] = {1, 2, 4};
    for (size_t t = 0; t < 3; t++) {
        aw_jobs *jobs = make_jobs(threads[t]);
        for (int round = 0; round < 10; round++) run_dependency_graphs(jobs);
        aw_jobs_destroy(jobs);
    }
}

/* A job that submits another and waits for it (the waiting thread runs it or other work). */
typedef struct parent_ctx {
    aw_jobs *jobs;
    _Atomic int child_done;
    _Atomic int parent_saw_child;
    _Atomic uint64_t pf_sum;
} parent_ctx;

static void child_job(uint32_t worker, void *ctx) {
    (void)worker;
    atomic_store(&((parent_ctx *)ctx)->child_done, 1);
}

static void parent_job(uint32_t worker, void *ctx) {
    (void)worker;
    parent_ctx *p = ctx;
    aw_job child;
    if (aw_jobs_submit(p->jobs, child_job, p, NULL, 0, &child) != AW_OK) return;
    aw_jobs_wait(p->jobs, child);
    atomic_store(&p->parent_saw_child, atomic_load(&p->child_done));
    (void)aw_jobs_parallel_for(p->jobs, 1000, 10, add_fn, &p->pf_sum); /* a parallel_for inside a job */
}

static void test_wait_inside_job(void **state) {
    (void)state;
    static const uint32_t threads[] = {1, 2, 3};
    for (size_t t = 0; t < 3; t++) {
        aw_jobs *jobs = make_jobs(threads[t]);
        parent_ctx p[16];
        aw_job h[16];
        for (int i = 0; i < 16; i++) {
            p[i] = (parent_ctx){.jobs = jobs};
            assert_int_equal(aw_jobs_submit(jobs, parent_job, &p[i], NULL, 0, &h[i]), AW_OK);
        }
        for (int i = 0; i < 16; i++) {
            aw_jobs_wait(jobs, h[i]);
            assert_int_equal(atomic_load(&p[i].parent_saw_child), 1);
            assert_int_equal(atomic_load(&p[i].pf_sum), 999 * 1000 / 2);
        }
        aw_jobs_destroy(jobs);
    }
}

/* Gate: a job that holds a worker until released, so dependents stay pending. */
static void gate_job(uint32_t worker, void *ctx) {
    (void)worker;
    while (!atomic_load((_Atomic int *)ctx)) sched_yield();
}

static void test_job_pool_capacity(void **state) {
    (void)state;
    aw_jobs *jobs = make_jobs(2);
    _Atomic int open = 0;
    _Atomic uint64_t ran = 0;
    aw_job gate;
    assert_int_equal(aw_jobs_submit(jobs, gate_job, &open, NULL, 0, &gate), AW_OK);
    uint32_t accepted = 1;
    aw_status st;
    for (;;) {
        st = aw_jobs_submit(jobs, inc_job, &ran, &gate, 1, NULL);
        if (st != AW_OK) break;
        accepted++;
        assert_true(accepted <= 4096);
    }
    assert_int_equal(st, AW_ERR_CAPACITY);
    assert_int_equal(aw_last_status(), AW_ERR_CAPACITY);
    assert_non_null(strstr(aw_last_error(), "4096"));
    assert_int_equal(accepted, 4096);
    assert_int_equal(atomic_load(&ran), 0);
    atomic_store(&open, 1);
    aw_jobs_wait_all(jobs);
    assert_int_equal(atomic_load(&ran), 4095);
    /* The pool is whole again. */
    assert_int_equal(aw_jobs_submit(jobs, inc_job, &ran, NULL, 0, NULL), AW_OK);
    aw_jobs_destroy(jobs); /* waits for that one */
    assert_int_equal(atomic_load(&ran), 4096);
}

/* Handles are generation-checked: a slot's old handle stays finished after the slot is reused. */
static void test_stale_handles(void **state) {
    (void)state;
    aw_jobs *jobs = make_jobs(2);
    _Atomic int open = 0;
    aw_job first;
    assert_int_equal(aw_jobs_submit(jobs, flag_job, &open, NULL, 0, &first), AW_OK);
    aw_jobs_wait(jobs, first);
    assert_true(first.generation != 0);
    /* Cycle the whole pool so first's slot is reused, with the reuse still pending. */
    _Atomic int hold = 0;
    aw_job gate;
    assert_int_equal(aw_jobs_submit(jobs, gate_job, &hold, NULL, 0, &gate), AW_OK);
    _Atomic uint64_t ran = 0;
    for (int i = 0; i < 4000; i++)
        assert_int_equal(aw_jobs_submit(jobs, inc_job, &ran, &gate, 1, NULL), AW_OK);
    aw_jobs_wait(jobs, first); /* returns at once even though the slot may be pending again */
    atomic_store(&hold, 1);
    aw_jobs_wait_all(jobs);
    assert_int_equal(atomic_load(&ran), 4000);
    aw_jobs_destroy(jobs);
}

static void test_destroy_waits_for_jobs(void **state) {
    (void)state;
    _Atomic uint64_t ran = 0;
    aw_jobs *jobs = make_jobs(3);
    aw_job prev = {0, 0};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(aw_jobs_submit(jobs, inc_job, &ran, &prev, 1, &prev), AW_OK);
    aw_jobs_destroy(jobs);
    assert_int_equal(atomic_load(&ran), 1000);
}

/* ---------------------------------------------------------------- external scheduler */

/* A small pthread pool standing in for a game's own scheduler. Tasks are split into pieces of
 * three units (deliberately not a grain multiple); pool thread i passes index i + 1, and the
 * thread in finish helps with index 0 (or its own index when a pool thread finishes a nested
 * task). */
#define EXT_POOL_THREADS 3
#define EXT_MAX_TASKS    32
#define EXT_PIECE        3

typedef struct ext_task {
    aw_range_fn fn;
    void *ctx;
    uint32_t count;
    _Atomic uint32_t next; /* next unit to hand out */
    _Atomic uint32_t done; /* units finished */
    uint32_t users;        /* pool threads working on it (under mu); the slot is reused only at 0 */
    bool used;
} ext_task;

typedef struct ext_sched {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    ext_task tasks[EXT_MAX_TASKS];
    pthread_t threads[EXT_POOL_THREADS];
    bool stop;
    _Atomic uint32_t enqueues, finishes, bad_grain;
} ext_sched;

static _Thread_local uint32_t ext_self; /* this thread's index for the scheduler */

/* Runs one piece of t if any is left; true if it did. */
static bool ext_run_piece(ext_sched *s, ext_task *t, uint32_t index) {
    uint32_t begin = atomic_fetch_add(&t->next, EXT_PIECE);
    if (begin >= t->count) return false;
    uint32_t end = begin + EXT_PIECE < t->count ? begin + EXT_PIECE : t->count;
    t->fn(begin, end, index, t->ctx);
    if (atomic_fetch_add(&t->done, end - begin) + (end - begin) == t->count) {
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->done_cv);
        pthread_mutex_unlock(&s->mu);
    }
    return true;
}

static void *ext_thread(void *arg) {
    ext_sched *s = arg;
    static _Atomic uint32_t next_index = 1;
    ext_self = atomic_fetch_add(&next_index, 1);
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        ext_task *found = NULL;
        for (int i = 0; i < EXT_MAX_TASKS && !found; i++)
            if (s->tasks[i].used && atomic_load(&s->tasks[i].next) < s->tasks[i].count) found = &s->tasks[i];
        if (!found) {
            pthread_cond_wait(&s->work_cv, &s->mu);
            continue;
        }
        found->users++;
        pthread_mutex_unlock(&s->mu);
        while (ext_run_piece(s, found, ext_self)) {
        }
        pthread_mutex_lock(&s->mu);
        if (--found->users == 0) pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *ext_enqueue(aw_range_fn fn, uint32_t count, uint32_t grain, void *task_ctx, void *user) {
    ext_sched *s = user;
    atomic_fetch_add(&s->enqueues, 1);
    if (grain < 1) atomic_fetch_add(&s->bad_grain, 1);
    pthread_mutex_lock(&s->mu);
    ext_task *t = NULL;
    for (int i = 0; i < EXT_MAX_TASKS && !t; i++)
        if (!s->tasks[i].used) t = &s->tasks[i];
    if (!t) { /* full: run it here, which the contract allows */
        pthread_mutex_unlock(&s->mu);
        fn(0, count, ext_self, task_ctx);
        return NULL;
    }
    t->fn = fn;
    t->ctx = task_ctx;
    t->count = count;
    atomic_store(&t->next, 0);
    atomic_store(&t->done, 0);
    t->used = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    return t;
}

static void ext_finish(void *handle, void *user) {
    ext_sched *s = user;
    ext_task *t = handle;
    atomic_fetch_add(&s->finishes, 1);
    while (ext_run_piece(s, t, ext_self)) {
    }
    pthread_mutex_lock(&s->mu);
    while (atomic_load(&t->done) < t->count || t->users > 0) pthread_cond_wait(&s->done_cv, &s->mu);
    t->used = false;
    pthread_mutex_unlock(&s->mu);
}

static void ext_start(ext_sched *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    ext_self = 0;
    for (int i = 0; i < EXT_POOL_THREADS; i++)
        assert_int_equal(pthread_create(&s->threads[i], NULL, ext_thread, s), 0);
}

static void ext_stop(ext_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < EXT_POOL_THREADS; i++) pthread_join(s->threads[i], NULL);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_mutex_destroy(&s->mu);
}

static void test_external_scheduler(void **state) {
    (void)state;
    ext_sched *s = malloc(sizeof *s);
    assert_non_null(s);
    ext_start(s);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){
        .threads = EXT_POOL_THREADS + 1, .enqueue = ext_enqueue, .finish = ext_finish, .user = s});
    assert_non_null(jobs);
    assert_int_equal(aw_jobs_thread_count(jobs), EXT_POOL_THREADS + 1);

    /* Every shape: the scheduler's 3-unit pieces never cut a partition range. */
    static const uint32_t shapes[][2] = {{1000, 7}, {100, 1}, {4097, 64}, {100000, 999}, {5, 10}, {257, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_cover(jobs, shapes[i][0], shapes[i][1]);
    uint32_t multi_range = 5; /* the shapes above with more than one range */
    assert_int_equal(atomic_load(&s->enqueues), multi_range);
    assert_int_equal(atomic_load(&s->finishes), multi_range);
    assert_int_equal(atomic_load(&s->bad_grain), 0);

    /* Nested calls on the scheduler's threads carry its indices. */
    for (int round = 0; round < 5; round++) {
        nest_ctx c = {.jobs = jobs};
        c.items = calloc(NEST_A * NEST_B * NEST_C, sizeof *c.items);
        assert_non_null(c.items);
        assert_int_equal(aw_jobs_parallel_for(jobs, NEST_A, 1, nest_outer, &c), AW_OK);
        for (uint32_t i = 0; i < NEST_A * NEST_B * NEST_C; i++) assert_int_equal(atomic_load(&c.items[i]), 1);
        assert_int_equal(atomic_load(&c.bad), 0);
        free(c.items);
    }

    /* Jobs run on the submitting thread, in dependency order. */
    run_dependency_graphs(jobs);
    aw_jobs_destroy(jobs);
    ext_stop(s);
    free(s);
}

/* A scheduler that runs each task inside enqueue and returns NULL: finish is never called. */
static _Atomic uint32_t inline_enqueues, inline_finishes;

static void *inline_enqueue(aw_range_fn fn, uint32_t count, uint32_t grain, void *task_ctx, void *user) {
    (void)grain;
    (void)user;
    atomic_fetch_add(&inline_enqueues, 1);
    fn(0, count, 0, task_ctx);
    return NULL;
}

static void inline_finish(void *handle, void *user) {
    (void)handle;
    (void)user;
    atomic_fetch_add(&inline_finishes, 1);
}

static void test_external_scheduler_inline(void **state) {
    (void)state;
    aw_jobs *jobs =
        aw_jobs_create(&(aw_jobs_desc){.threads = 4, .enqueue = inline_enqueue, .finish = inline_finish});
    assert_non_null(jobs);
    check_cover(jobs, 10000, 3);
    check_cover(jobs, 10, 100); /* one range: never reaches the scheduler */
    assert_int_equal(atomic_load(&inline_enqueues), 1);
    assert_int_equal(atomic_load(&inline_finishes), 0);
    aw_jobs_destroy(jobs);
}

/* ---------------------------------------------------------------- idle sleep */

typedef struct tid_ctx {
    uint32_t threads;
    _Atomic uint32_t arrived;
    _Atomic int tids[16];
    _Atomic int timed_out;
} tid_ctx;

/* Each range waits for all of them to start, so each one runs on a different thread. */
static void tid_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)end;
    tid_ctx *c = arg;
    atomic_store(&c->tids[begin], (int)syscall(SYS_gettid));
    (void)worker;
    atomic_fetch_add(&c->arrived, 1);
    uint64_t t0 = aw_time_ns();
    while (atomic_load(&c->arrived) < c->threads) {
        if (aw_time_ns() - t0 > 10000000000ull) {
            atomic_store(&c->timed_out, 1);
            break;
        }
        sched_yield();
    }
}

/* CPU time of one thread in ns: schedstat when the kernel has it, else utime + stime ticks. */
static uint64_t thread_cpu_ns(int tid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
    FILE *f = fopen(path, "r");
    unsigned long long ns = 0;
    if (f) {
        int ok = fscanf(f, "%llu", &ns);
        fclose(f);
        if (ok == 1) return ns;
    }
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    f = fopen(path, "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the name may contain spaces */
    unsigned long long utime = 0, stime = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2)
        return (utime + stime) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
    return 0;
}

static void test_idle_workers_sleep(void **state) {
    (void)state;
    const uint32_t threads = 3;
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = threads, .spin_us = 200});
    assert_non_null(jobs);
    tid_ctx c = {.threads = threads};
    assert_int_equal(aw_jobs_parallel_for(jobs, threads, 1, tid_fn, &c), AW_OK);
    assert_int_equal(atomic_load(&c.timed_out), 0);
    _Atomic uint64_t sum = 0;
    assert_int_equal(aw_jobs_parallel_for(jobs, 100000, 16, add_fn, &sum), AW_OK);

    sleep_ms(50); /* far past spin_us */
    aw_jobs_stats s = aw_jobs_get_stats(jobs);
    assert_true(s.sleeps >= threads - 1);
    int self = (int)syscall(SYS_gettid);
    uint64_t before = 0, after = 0;
    for (uint32_t i = 0; i < threads; i++)
        if (atomic_load(&c.tids[i]) != self) before += thread_cpu_ns(atomic_load(&c.tids[i]));
    sleep_ms(100);
    for (uint32_t i = 0; i < threads; i++)
        if (atomic_load(&c.tids[i]) != self) after += thread_cpu_ns(atomic_load(&c.tids[i]));
    /* Asleep means no CPU at all; 1 ms allows for a tick boundary in the stat fallback. */
    if (after - before > 1000000u)
        fail_msg("idle workers used %llu ns of CPU in 100 ms", (unsigned long long)(after - before));
    assert_int_equal(aw_jobs_get_stats(jobs).sleeps, s.sleeps); /* nobody woke up either */

    /* And they wake up for new work. */
    atomic_store(&sum, 0);
    assert_int_equal(aw_jobs_parallel_for(jobs, 100000, 16, add_fn, &sum), AW_OK);
    assert_int_equal(atomic_load(&sum), 100000ull * 99999 / 2);
    aw_jobs_destroy(jobs);
}

/* ---------------------------------------------------------------- identity and outside threads */

typedef struct index_ctx {
    aw_jobs *jobs, *other;
    _Atomic uint32_t bad;
    _Atomic uint32_t seen_mask;
} index_ctx;

static void index_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)begin;
    (void)end;
    index_ctx *c = arg;
    if (aw_jobs_worker_index(c->jobs) != worker) atomic_fetch_add(&c->bad, 1);
    if (aw_jobs_worker_index(c->other) != 0) atomic_fetch_add(&c->bad, 1); /* not one of other's threads */
    atomic_fetch_or(&c->seen_mask, 1u << worker);
    sleep_ms(1);
}

static void *index_outside_thread(void *arg) {
    index_ctx *c = arg;
    if (aw_jobs_worker_index(c->jobs) != 0) atomic_fetch_add(&c->bad, 1);
    return NULL;
}

static void test_worker_index(void **state) {
    (void)state;
    aw_jobs *jobs = make_jobs(4);
    aw_jobs *other = make_jobs(2);
    index_ctx c = {.jobs = jobs, .other = other};
    assert_int_equal(aw_jobs_worker_index(jobs), 0);
    assert_int_equal(aw_jobs_worker_index(NULL), 0);
    assert_int_equal(aw_jobs_parallel_for(jobs, 64, 1, index_fn, &c), AW_OK);
    assert_int_equal(atomic_load(&c.bad), 0);
    assert_true(atomic_load(&c.seen_mask) & ~1u); /* at least one worker besides the caller */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, index_outside_thread, &c), 0);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&c.bad), 0);
    aw_jobs_destroy(other);
    aw_jobs_destroy(jobs);
}

/* Several outside threads share index 0 by taking turns: a plain (non-atomic) per-worker counter
 * stays exact, and ThreadSanitizer sees no race on it. */
typedef struct shared_ctx {
    aw_jobs *jobs;
    uint64_t per_worker[8];
    _Atomic uint64_t total;
} shared_ctx;

static void per_worker_fn(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    shared_ctx *c = arg;
    c->per_worker[worker] += end - begin;
    atomic_fetch_add(&c->total, end - begin);
}

static void *outside_caller(void *arg) {
    shared_ctx *c = arg;
    for (int i = 0; i < 300; i++) {
        if (aw_jobs_parallel_for(c->jobs, 512, 32, per_worker_fn, c) != AW_OK) return NULL;
        if (aw_jobs_parallel_for(c->jobs, 5, 32, per_worker_fn, c) != AW_OK) return NULL; /* inline */
        aw_job j;
        if (aw_jobs_submit(c->jobs, inc_job, &c->total, NULL, 0, &j) != AW_OK) return NULL;
        aw_jobs_wait(c->jobs, j);
    }
    return NULL;
}

static void test_outside_threads_take_turns(void **state) {
    (void)state;
    aw_jobs *jobs = make_jobs(3);
    shared_ctx c = {.jobs = jobs};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&t[i], NULL, outside_caller, &c), 0);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++) sum += c.per_worker[i];
    assert_int_equal(sum, 3 * 300 * (512 + 5));
    assert_int_equal(atomic_load(&c.total), 3 * 300 * (512 + 5 + 1));
    aw_jobs_destroy(jobs);
}

/* ---------------------------------------------------------------- bad input */

static void noop_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)begin;
    (void)end;
    (void)worker;
    (void)ctx;
}

static void noop_job(uint32_t worker, void *ctx) {
    (void)worker;
    (void)ctx;
}

static void test_bad_input(void **state) {
    (void)state;
    aw_clear_error();
    assert_null(aw_jobs_create(&(aw_jobs_desc){.threads = 257}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "257"));
    assert_null(aw_jobs_create(&(aw_jobs_desc){.threads = 2, .enqueue = ext_enqueue}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    aw_allocator broken = {0};
    assert_null(aw_jobs_create(&(aw_jobs_desc){.threads = 2, .allocator = &broken}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);

    aw_jobs *jobs = aw_jobs_create(NULL); /* defaults: one thread per hardware thread */
    assert_non_null(jobs);
    assert_true(aw_jobs_thread_count(jobs) >= 1 && aw_jobs_thread_count(jobs) <= 256);

    aw_clear_error();
    assert_int_equal(aw_jobs_parallel_for(NULL, 10, 1, noop_range, NULL), AW_ERR_INVALID_ARG);
    assert_true(strlen(aw_last_error()) > 0);
    aw_clear_error();
    assert_int_equal(aw_jobs_parallel_for(jobs, 10, 1, NULL, NULL), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "fn"));
    assert_int_equal(aw_jobs_parallel_for(jobs, 0, 1, NULL, NULL), AW_ERR_INVALID_ARG); /* fn checked first */

    aw_job h = {7, 7};
    assert_int_equal(aw_jobs_submit(NULL, noop_job, NULL, NULL, 0, &h), AW_ERR_INVALID_ARG);
    assert_int_equal(h.index, 0); /* out handle cleared on failure */
    assert_int_equal(h.generation, 0);
    assert_int_equal(aw_jobs_submit(jobs, NULL, NULL, NULL, 0, &h), AW_ERR_INVALID_ARG);
    aw_job deps[AW_JOB_MAX_DEPS + 1] = {{0, 0}};
    assert_int_equal(aw_jobs_submit(jobs, noop_job, NULL, deps, AW_JOB_MAX_DEPS + 1, &h), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "8"));
    assert_int_equal(aw_jobs_submit(jobs, noop_job, NULL, NULL, 2, &h), AW_ERR_INVALID_ARG);
    aw_job bogus = {1u << 30, 1};
    assert_int_equal(aw_jobs_submit(jobs, noop_job, NULL, &bogus, 1, &h), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_jobs_submit(jobs, noop_job, NULL, NULL, 0, NULL), AW_OK); /* no handle wanted */

    aw_jobs_wait(NULL, h);
    aw_jobs_wait_all(NULL);
    aw_jobs_destroy(NULL);
    aw_jobs_stats s = aw_jobs_get_stats(NULL);
    assert_int_equal(s.jobs_run + s.steals + s.sleeps + s.inline_runs, 0);
    assert_int_equal(aw_jobs_thread_count(NULL), 0);
    aw_jobs_destroy(jobs);
}

/* ---------------------------------------------------------------- memory */

static void test_allocator_and_oom(void **state) {
    (void)state;
    test_allocator ta;
    test_allocator_init(&ta, -1);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 3, .allocator = &ta.base});
    assert_non_null(jobs);
    uint64_t allocs = ta.allocs;
    assert_true(allocs > 0);
    _Atomic uint64_t sum = 0;
    assert_int_equal(aw_jobs_parallel_for(jobs, 10000, 10, add_fn, &sum), AW_OK);
    aw_jobs_destroy(jobs);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.frees, allocs);

    /* Every allocation of create failing in turn: NULL, out of memory, nothing leaked. */
    for (int64_t k = 0; k < (int64_t)allocs; k++) {
        test_allocator_init(&ta, k);
        aw_clear_error();
        assert_null(aw_jobs_create(&(aw_jobs_desc){.threads = 3, .allocator = &ta.base}));
        assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
        assert_int_equal(ta.live_bytes, 0);
    }
}

typedef struct steady_ctx {
    aw_jobs *jobs;
    _Atomic uint64_t sum;
} steady_ctx;

static void steady_nested(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)begin;
    (void)end;
    (void)worker;
    steady_ctx *c = arg;
    (void)aw_jobs_parallel_for(c->jobs, 64, 4, add_fn, &c->sum);
}

static void steady_round(steady_ctx *c) {
    (void)aw_jobs_parallel_for(c->jobs, 4096, 16, add_fn, &c->sum);
    (void)aw_jobs_parallel_for(c->jobs, 8, 1, steady_nested, c);
    (void)aw_jobs_parallel_for(c->jobs, 10, 100, add_fn, &c->sum);
    aw_job a, b, d;
    (void)aw_jobs_submit(c->jobs, noop_job, NULL, NULL, 0, &a);
    (void)aw_jobs_submit(c->jobs, noop_job, NULL, &a, 1, &b);
    aw_job both[2] = {a, b};
    (void)aw_jobs_submit(c->jobs, noop_job, NULL, both, 2, &d);
    aw_jobs_wait(c->jobs, d);
}

static void test_zero_allocations_in_steady_state(void **state) {
    (void)state;
    static const uint32_t threads[] = {1, 2, 4};
    for (size_t t = 0; t < 3; t++) {
        steady_ctx c = {.jobs = make_jobs(threads[t])};
        for (int i = 0; i < 10; i++) steady_round(&c); /* warm-up */
        aw_alloc_stats s0 = aw_heap_stats();
        for (int i = 0; i < 500; i++) steady_round(&c);
        aw_alloc_stats d = aw_alloc_stats_diff(s0, aw_heap_stats());
        assert_int_equal(d.allocs, 0);
        assert_int_equal(d.reallocs, 0);
        assert_int_equal(d.frees, 0);
        aw_jobs_destroy(c.jobs);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_for_covers_each_item_once),
        cmocka_unit_test(test_parallel_for_count_zero_and_huge_grain),
        cmocka_unit_test(test_single_range_runs_inline),
        cmocka_unit_test(test_one_thread_runs_inline),
        cmocka_unit_test(test_millions_of_tiny_ranges),
        cmocka_unit_test(test_million_submitted_jobs),
        cmocka_unit_test(test_nested_parallel_for_three_levels),
        cmocka_unit_test(test_stealing_under_imbalance),
        cmocka_unit_test(test_dependency_chains_and_diamonds),
        cmocka_unit_test(test_wait_inside_job),
        cmocka_unit_test(test_job_pool_capacity),
        cmocka_unit_test(test_stale_handles),
        cmocka_unit_test(test_destroy_waits_for_jobs),
        cmocka_unit_test(test_external_scheduler),
        cmocka_unit_test(test_external_scheduler_inline),
        cmocka_unit_test(test_idle_workers_sleep),
        cmocka_unit_test(test_worker_index),
        cmocka_unit_test(test_outside_threads_take_turns),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_allocator_and_oom),
        cmocka_unit_test(test_zero_allocations_in_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
