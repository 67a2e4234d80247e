/* The job system's threads and scheduling: persistent workers that steal from each other's
 * deques, spin briefly and then sleep on a futex, the thread identity behind worker indices, and
 * parallel_for with its deterministic range partition (on our workers or a user's scheduler). */
#define _GNU_SOURCE /* sched_getaffinity, syscall(SYS_futex) */
#include "core/jobs_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __linux__
#error "jobs.c parks threads on Linux futexes; another platform needs a condition-variable park"
#endif

/* Which job system the calling thread acts for right now, and as which index. A worker of
 * another instance, or a thread that never entered one, reads as index 0 (see jobs_enter). */
static _Thread_local aw_jobs *tl_jobs;
static _Thread_local uint32_t tl_index;
/* The instance whose worker thread this is, fixed for the thread's life. Kept apart from tl_jobs
 * so that a worker of B running a task of A that calls back into B is still B's worker, and
 * never queues for B's caller lock behind a thread that is waiting for it. */
static _Thread_local aw_jobs *tl_home;
static _Thread_local uint32_t tl_home_index;

/* ---------------------------------------------------------------- small platform pieces */

/* Most pause instructions between two probes of other threads' deques while idle (a pause is
 * ~20 ns on the reference machine, so ~0.6 us). Each probe reads lines their owners write: a
 * thief probing back-to-back makes every push and pop of a busy owner wait for its cache line,
 * which costs more than the slightly later steal. */
#define JOBS_BACKOFF_MAX 32

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* The kernel only sleeps if *word still equals expected, which closes the race between the last
 * check and the sleep. Spurious returns are fine: every caller re-checks in a loop. */
static void futex_wait(_Atomic uint32_t *word, uint32_t expected) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int count) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

/* Respects the affinity mask (containers, taskset) rather than counting every CPU in the box. */
static uint32_t hardware_threads(void) {
    long n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return n > JOBS_MAX_THREADS ? JOBS_MAX_THREADS : (uint32_t)n;
}

/* ---------------------------------------------------------------- identity */

uint32_t jobs_enter(aw_jobs *jobs, jobs_identity *saved) {
    saved->jobs = tl_jobs;
    saved->index = tl_index;
    saved->locked = false;
    if (AW_LIKELY(tl_jobs == jobs)) return tl_index; /* a task calling back in: no cost at all */
    uint32_t me = 0;
    if (tl_home == jobs) {
        me = tl_home_index;
    } else {
        pthread_mutex_lock(&jobs->caller_lock);
        saved->locked = true;
    }
    tl_jobs = jobs;
    tl_index = me;
    return me;
}

void jobs_leave(aw_jobs *jobs, const jobs_identity *saved) {
    tl_jobs = saved->jobs;
    tl_index = saved->index;
    if (saved->locked) pthread_mutex_unlock(&jobs->caller_lock);
}

uint32_t aw_jobs_worker_index(const aw_jobs *jobs) {
    if (!jobs) return 0;
    if (tl_jobs == jobs) return tl_index;
    if (tl_home == jobs) return tl_home_index;
    return 0;
}

uint32_t aw_jobs_thread_count(const aw_jobs *jobs) {
    return jobs ? jobs->threads : 0;
}

/* ---------------------------------------------------------------- finding and running work */

typedef struct pf_desc {
    aw_range_fn fn;
    void *ctx;
    uint32_t count, grain;
    _Atomic uint32_t remaining; /* ranges not yet run; the caller returns when it reaches 0 */
} pf_desc;

static void pf_run(aw_jobs *jobs, uint32_t me, pf_desc *d, uint32_t k0, uint32_t k1);

static void run_task(aw_jobs *jobs, uint32_t me, jobs_task t) {
    if (t.arg == JOBS_ARG_JOB)
        jobs_graph_run(jobs, me, t.ptr);
    else
        pf_run(jobs, me, t.ptr, (uint32_t)t.arg, (uint32_t)(t.arg >> 32));
}

/* Own deque first (newest task: its data is still in cache), then the others from a random
 * start so thieves do not all line up behind the same victim. */
static bool find_work(aw_jobs *jobs, uint32_t me, jobs_task *out) {
    jobs_worker *w = &jobs->workers[me];
    if (jobs_deque_pop(&w->deque, out)) return true;
    uint32_t n = jobs->threads;
    uint32_t x = w->victim;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    w->victim = x;
    uint32_t v = x % n;
    for (uint32_t i = 0; i < n; i++, v = v + 1 == n ? 0 : v + 1) {
        if (v == me) continue;
        for (;;) {
            int r = jobs_deque_steal(&jobs->workers[v].deque, out);
            if (r == JOBS_STEAL_OK) {
                jobs_count(&w->steals);
                return true;
            }
            if (r == JOBS_STEAL_EMPTY) break;
            cpu_relax(); /* lost a race: someone else progressed and more may be left */
        }
    }
    return false;
}

static bool any_work_visible(aw_jobs *jobs) {
    for (uint32_t i = 0; i < jobs->threads; i++)
        if (jobs_deque_has_work(&jobs->workers[i].deque)) return true;
    return false;
}

/* The pusher's half of the sleep protocol: its seq_cst push, then this seq_cst read. A worker
 * announces sleep (seq_cst) and then looks for work (seq_cst), so either it sees the task or we
 * see it counted. Waking is about parallelism, never about progress: the pusher owns the deque
 * and runs its own tasks if nobody steals them. */
static void wake_one(aw_jobs *jobs, uint32_t me) {
    if (AW_LIKELY(atomic_load_explicit(&jobs->sleepers, memory_order_seq_cst) == 0)) return;
    uint32_t n = jobs->threads;
    for (uint32_t i = 1, v = me + 1; i < n; i++, v++) {
        if (v >= n) v -= n;
        if (v == 0) continue; /* index 0 is an outside thread, never a sleeping worker */
        jobs_worker *w = &jobs->workers[v];
        uint32_t s = JOBS_SLEEPING;
        if (atomic_load_explicit(&w->sleep_state, memory_order_relaxed) == JOBS_SLEEPING &&
            atomic_compare_exchange_strong_explicit(&w->sleep_state, &s, JOBS_NOTIFIED, memory_order_seq_cst,
                                                    memory_order_relaxed)) {
            /* Claiming the sleeper pays its count, so each announcement is undone exactly once. */
            atomic_fetch_sub_explicit(&jobs->sleepers, 1, memory_order_relaxed);
            futex_wake(&w->sleep_state, 1);
            return;
        }
    }
}

bool jobs_push(aw_jobs *jobs, uint32_t me, jobs_task task) {
    if (!jobs_deque_push(&jobs->workers[me].deque, task)) return false;
    wake_one(jobs, me);
    return true;
}

void jobs_signal_waiters(aw_jobs *jobs) {
    if (AW_LIKELY(atomic_load_explicit(&jobs->parked, memory_order_seq_cst) == 0)) return;
    atomic_fetch_add_explicit(&jobs->wait_epoch, 1, memory_order_release);
    futex_wake(&jobs->wait_epoch, INT_MAX);
}

/* A waiter that found nothing to do for spin_us blocks until some completion signals. It is not
 * woken for new work: whoever pushed that work is awake and runs it if nobody else does. */
static void park_waiter(aw_jobs *jobs, bool (*done)(void *arg), void *arg) {
    uint32_t epoch = atomic_load_explicit(&jobs->wait_epoch, memory_order_acquire);
    atomic_fetch_add_explicit(&jobs->parked, 1, memory_order_seq_cst);
    if (!done(arg) && !(jobs->threaded && any_work_visible(jobs))) futex_wait(&jobs->wait_epoch, epoch);
    atomic_fetch_sub_explicit(&jobs->parked, 1, memory_order_relaxed);
}

void jobs_help_until(aw_jobs *jobs, uint32_t me, bool (*done)(void *arg), void *arg) {
    uint64_t idle_since = 0;
    uint32_t backoff = 1;
    jobs_task t;
    while (!done(arg)) {
        if (jobs->threaded && find_work(jobs, me, &t)) {
            run_task(jobs, me, t);
            backoff = 1;
            idle_since = 0;
            continue;
        }
        /* Watch our own condition closely (a read of a line that rarely changes) but probe the
         * deques, whose lines their owners write, less and less often. */
        for (uint32_t i = 0; i < backoff && !done(arg); i++) cpu_relax();
        if (backoff < JOBS_BACKOFF_MAX) backoff *= 2;
        uint64_t now = aw_time_ns();
        if (idle_since == 0) {
            idle_since = now;
        } else if (now - idle_since >= jobs->spin_ns) {
            park_waiter(jobs, done, arg);
            idle_since = 0;
            backoff = 1;
        }
    }
}

/* ---------------------------------------------------------------- workers */

static bool spin_for_work(aw_jobs *jobs, uint32_t me, jobs_task *out) {
    uint64_t start = aw_time_ns();
    for (uint32_t backoff = 1;; backoff = backoff < JOBS_BACKOFF_MAX ? backoff * 2 : backoff) {
        if (find_work(jobs, me, out)) return true;
        for (uint32_t i = 0; i < backoff; i++) cpu_relax();
        if (atomic_load_explicit(&jobs->stop, memory_order_relaxed)) return false;
        if (aw_time_ns() - start >= jobs->spin_ns) return false;
    }
}

/* The worker's half of the sleep protocol (see wake_one). */
static void sleep_until_woken(aw_jobs *jobs, jobs_worker *w) {
    atomic_store_explicit(&w->sleep_state, JOBS_SLEEPING, memory_order_seq_cst);
    atomic_fetch_add_explicit(&jobs->sleepers, 1, memory_order_seq_cst);
    if (any_work_visible(jobs) || atomic_load_explicit(&jobs->stop, memory_order_seq_cst)) {
        uint32_t s = JOBS_SLEEPING;
        if (atomic_compare_exchange_strong_explicit(&w->sleep_state, &s, JOBS_RUNNING, memory_order_seq_cst,
                                                    memory_order_relaxed))
            atomic_fetch_sub_explicit(&jobs->sleepers, 1, memory_order_relaxed);
        else
            atomic_store_explicit(&w->sleep_state, JOBS_RUNNING, memory_order_relaxed); /* waker paid */
        return;
    }
    jobs_count(&w->sleeps);
    while (atomic_load_explicit(&w->sleep_state, memory_order_acquire) == JOBS_SLEEPING)
        futex_wait(&w->sleep_state, JOBS_SLEEPING);
    atomic_store_explicit(&w->sleep_state, JOBS_RUNNING, memory_order_relaxed);
}

static void *worker_main(void *arg) {
    jobs_worker *w = arg;
    aw_jobs *jobs = w->jobs;
    uint32_t me = w->index;
    tl_home = tl_jobs = jobs;
    tl_home_index = tl_index = me;
    jobs_task t;
    for (;;) {
        if (find_work(jobs, me, &t) || spin_for_work(jobs, me, &t)) {
            run_task(jobs, me, t);
            continue;
        }
        if (atomic_load_explicit(&jobs->stop, memory_order_acquire)) break;
        sleep_until_woken(jobs, w);
    }
    return NULL;
}

/* ---------------------------------------------------------------- parallel_for */

static inline void run_ranges(aw_range_fn fn, void *ctx, uint32_t count, uint32_t grain, uint32_t k0,
                              uint32_t k1, uint32_t worker) {
    for (uint32_t k = k0; k < k1; k++) {
        uint64_t begin = (uint64_t)k * grain;
        uint64_t end = begin + grain < count ? begin + grain : count;
        fn((uint32_t)begin, (uint32_t)end, worker, ctx);
    }
}

/* Runs partition ranges [k0, k1) of d, eagerly halving: the upper half goes on our deque for
 * thieves before we touch the lower one, so at any moment all unstarted work of a slow range's
 * neighbours is stealable (oldest, largest pieces first). Each fn call is one whole partition
 * range. The pieces we pushed and nobody stole are popped back here and counted locally, so the
 * shared counter sees one atomic per task, not one per range. */
static void pf_run(aw_jobs *jobs, uint32_t me, pf_desc *d, uint32_t k0, uint32_t k1) {
    jobs_worker *w = &jobs->workers[me];
    const int64_t base = atomic_load_explicit(&w->deque.bottom, memory_order_relaxed);
    uint32_t done = 0;
    jobs_count(&w->jobs_run);
    for (;;) {
        while (k1 - k0 > 1) {
            uint32_t mid = k0 + (k1 - k0) / 2;
            if (!jobs_push(jobs, me, (jobs_task){d, (uint64_t)mid | (uint64_t)k1 << 32})) break; /* full */
            k1 = mid;
        }
        run_ranges(d->fn, d->ctx, d->count, d->grain, k0, k1, me);
        done += k1 - k0;
        /* Entries above base are ours, unless a nested call ran something of ours and left
         * other work there; that work is run here too, it only is not counted as ours. */
        jobs_task t;
        if (atomic_load_explicit(&w->deque.bottom, memory_order_relaxed) <= base ||
            !jobs_deque_pop(&w->deque, &t))
            break;
        if (t.ptr == d && t.arg != JOBS_ARG_JOB) {
            k0 = (uint32_t)t.arg;
            k1 = (uint32_t)(t.arg >> 32);
        } else {
            run_task(jobs, me, t);
            k0 = k1 = 0;
        }
    }
    /* After this the caller may return and d (on its stack) is gone: no access to d below. */
    if (atomic_fetch_sub_explicit(&d->remaining, done, memory_order_seq_cst) == done)
        jobs_signal_waiters(jobs);
}

static bool pf_done(void *arg) {
    return atomic_load_explicit(&((pf_desc *)arg)->remaining, memory_order_seq_cst) == 0;
}

/* With an external scheduler the task's units are partition ranges, not items: however the
 * scheduler splits [0, ranges), every piece is made of whole ranges, so the partition and its
 * one-call-per-range guarantee hold on any scheduler. */
typedef struct ext_task {
    aw_jobs *jobs;
    aw_range_fn fn;
    void *ctx;
    uint32_t count, grain, ranges;
} ext_task;

static void ext_run(uint32_t begin, uint32_t end, uint32_t worker, void *task_ctx) {
    ext_task *t = task_ctx;
    aw_jobs *jobs = t->jobs;
    if (end > t->ranges) end = t->ranges;
    /* The scheduler's index becomes this thread's identity for nested calls and
     * aw_jobs_worker_index; an out-of-contract index still must not reach past workers[]. */
    uint32_t me = worker < jobs->threads ? worker : 0;
    aw_jobs *prev = tl_jobs;
    uint32_t prev_index = tl_index;
    tl_jobs = jobs;
    tl_index = me;
    run_ranges(t->fn, t->ctx, t->count, t->grain, begin, end, worker);
    jobs_count(&jobs->workers[me].jobs_run);
    tl_jobs = prev;
    tl_index = prev_index;
}

aw_status aw_jobs_parallel_for(aw_jobs *jobs, uint32_t count, uint32_t grain, aw_range_fn fn, void *ctx) {
    if (AW_UNLIKELY(!jobs)) return aw_error(AW_ERR_INVALID_ARG, "aw_jobs_parallel_for: jobs is NULL");
    if (AW_UNLIKELY(!fn)) return aw_error(AW_ERR_INVALID_ARG, "aw_jobs_parallel_for: fn is NULL");
    if (count == 0) return AW_OK;
    if (grain == 0) grain = 256;
    uint32_t ranges = count / grain + (count % grain != 0);
    jobs_identity saved;
    uint32_t me = jobs_enter(jobs, &saved);
    if (ranges == 1 || jobs->threads == 1) {
        run_ranges(fn, ctx, count, grain, 0, ranges, me);
        jobs_count(&jobs->workers[me].inline_runs);
    } else if (!jobs->threaded) {
        ext_task t = {.jobs = jobs, .fn = fn, .ctx = ctx, .count = count, .grain = grain, .ranges = ranges};
        void *handle = jobs->enqueue(ext_run, ranges, 1, &t, jobs->user);
        if (handle) jobs->finish(handle, jobs->user);
    } else {
        pf_desc d = {.fn = fn, .ctx = ctx, .count = count, .grain = grain};
        atomic_init(&d.remaining, ranges);
        pf_run(jobs, me, &d, 0, ranges);
        if (!pf_done(&d)) jobs_help_until(jobs, me, pf_done, &d);
    }
    jobs_leave(jobs, &saved);
    return AW_OK;
}

/* ---------------------------------------------------------------- lifecycle */

aw_jobs_stats aw_jobs_get_stats(const aw_jobs *jobs) {
    aw_jobs_stats s = {0};
    if (!jobs) return s;
    for (uint32_t i = 0; i < jobs->threads; i++) {
        jobs_worker *w = &jobs->workers[i];
        s.jobs_run += atomic_load_explicit(&w->jobs_run, memory_order_relaxed);
        s.steals += atomic_load_explicit(&w->steals, memory_order_relaxed);
        s.sleeps += atomic_load_explicit(&w->sleeps, memory_order_relaxed);
        s.inline_runs += atomic_load_explicit(&w->inline_runs, memory_order_relaxed);
    }
    return s;
}

static void stop_workers(aw_jobs *jobs) {
    atomic_store_explicit(&jobs->stop, 1, memory_order_seq_cst);
    for (uint32_t i = 1; i < jobs->threads; i++) {
        jobs_worker *w = &jobs->workers[i];
        if (!w->started) continue;
        uint32_t s = JOBS_SLEEPING;
        if (atomic_compare_exchange_strong_explicit(&w->sleep_state, &s, JOBS_NOTIFIED, memory_order_seq_cst,
                                                    memory_order_relaxed))
            atomic_fetch_sub_explicit(&jobs->sleepers, 1, memory_order_relaxed);
        futex_wake(&w->sleep_state, 1);
    }
    for (uint32_t i = 1; i < jobs->threads; i++) {
        jobs_worker *w = &jobs->workers[i];
        if (w->started) pthread_join(w->thread, NULL);
        w->started = false;
    }
}

/* Frees whatever part of a job system exists; used by destroy and by a failed create. */
static void jobs_free(aw_jobs *jobs, bool mutex_ready) {
    const aw_allocator *a = jobs->allocator;
    if (jobs->workers) {
        stop_workers(jobs);
        for (uint32_t i = 0; i < jobs->threads; i++)
            aw_free(a, jobs->workers[i].deque.slots, JOBS_DEQUE_CAP * sizeof(jobs_slot_entry));
        aw_free(a, jobs->workers, jobs->threads * sizeof(jobs_worker));
    }
    jobs_graph_destroy(jobs);
    if (mutex_ready) pthread_mutex_destroy(&jobs->caller_lock);
    aw_free(a, jobs, sizeof *jobs);
}

static bool start_workers(aw_jobs *jobs) {
    /* Workers inherit a fully blocked signal mask, so process signals land on the game's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = true;
    for (uint32_t i = 1; i < jobs->threads; i++) {
        jobs_worker *w = &jobs->workers[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            aw_error(AW_ERR_CAPACITY, "aw_jobs_create: cannot start worker thread %u of %u: %s", i,
                     jobs->threads, strerror(rc));
            ok = false;
            break;
        }
        w->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

aw_jobs *aw_jobs_create(const aw_jobs_desc *desc) {
    aw_jobs_desc d = desc ? *desc : (aw_jobs_desc){0};
    if (d.threads > JOBS_MAX_THREADS) {
        aw_error(AW_ERR_INVALID_ARG, "aw_jobs_create: threads is %u, the most is %d", d.threads,
                 JOBS_MAX_THREADS);
        return NULL;
    }
    if (!d.enqueue != !d.finish) {
        aw_error(AW_ERR_INVALID_ARG, "aw_jobs_create: enqueue and finish must be given together");
        return NULL;
    }
    if (d.allocator && (!d.allocator->alloc || !d.allocator->free)) {
        aw_error(AW_ERR_INVALID_ARG, "aw_jobs_create: allocator lacks alloc or free");
        return NULL;
    }
    const aw_allocator *a = d.allocator ? d.allocator : aw_heap_allocator();
    aw_jobs *jobs = aw_alloc(a, sizeof *jobs, alignof(aw_jobs));
    if (!jobs) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_jobs_create: out of memory");
        return NULL;
    }
    memset(jobs, 0, sizeof *jobs);
    jobs->allocator = a;
    jobs->threads = d.threads ? d.threads : hardware_threads();
    jobs->threaded = jobs->threads > 1 && !d.enqueue;
    jobs->spin_ns = (uint64_t)(d.spin_us ? d.spin_us : JOBS_DEFAULT_SPIN_US) * 1000u;
    jobs->enqueue = d.enqueue;
    jobs->finish = d.finish;
    jobs->user = d.user;
    if (pthread_mutex_init(&jobs->caller_lock, NULL) != 0) {
        aw_free(a, jobs, sizeof *jobs);
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_jobs_create: cannot create a mutex");
        return NULL;
    }

    jobs->workers = aw_alloc(a, jobs->threads * sizeof(jobs_worker), alignof(jobs_worker));
    if (!jobs->workers) goto oom;
    memset(jobs->workers, 0, jobs->threads * sizeof(jobs_worker));
    for (uint32_t i = 0; i < jobs->threads; i++) {
        jobs_worker *w = &jobs->workers[i];
        w->index = i;
        w->jobs = jobs;
        w->victim = 0x9e3779b9u * (i + 1); /* any non-zero seed; distinct per worker */
        if (jobs->threaded) {
            w->deque.slots = aw_alloc(a, JOBS_DEQUE_CAP * sizeof(jobs_slot_entry), 64);
            if (!w->deque.slots) goto oom;
        }
    }
    if (jobs_graph_init(jobs) != AW_OK) goto oom;
    if (jobs->threaded && !start_workers(jobs)) {
        jobs_free(jobs, true); /* keeps the message start_workers recorded */
        return NULL;
    }
    return jobs;

oom:;
    uint32_t threads = jobs->threads;
    jobs_free(jobs, true);
    aw_error(AW_ERR_OUT_OF_MEMORY, "aw_jobs_create: out of memory for %u threads", threads);
    return NULL;
}

void aw_jobs_destroy(aw_jobs *jobs) {
    if (!jobs) return;
    aw_jobs_wait_all(jobs);
    jobs_free(jobs, true);
}
