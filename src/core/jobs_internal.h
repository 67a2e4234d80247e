/* Shared state of the job system between jobs.c (threads, scheduling, parallel_for) and
 * jobs_graph.c (the pooled jobs with dependencies). Not a public header. */
#ifndef AW_JOBS_INTERNAL_H
#define AW_JOBS_INTERNAL_H

#include "aw/jobs.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "core/jobs_deque.h"

#define JOBS_MAX_THREADS     256
#define JOBS_DEFAULT_SPIN_US 50
/* Job slots preallocated at creation; aw_jobs_submit reports AW_ERR_CAPACITY beyond this. */
#define JOBS_POOL_SIZE 4096u
/* jobs_task.arg of a submitted job; a parallel_for range pair can never take this value
 * because its begin is always below its end. */
#define JOBS_ARG_JOB UINT64_MAX

/* One pooled job. 64 bytes, so neighbouring jobs finishing on different threads do not share a line. */
typedef struct jobs_slot {
    /* generation << 32 | successor list head. The list links the dependency records of jobs
     * waiting on this one (link id = slot * AW_JOB_MAX_DEPS + dependency number); it closes
     * with JOBS_LINK_CLOSED when the job finishes, so one word answers "finished?" for any handle. */
    _Atomic uint64_t head;
    /* Unfinished dependencies, plus one held by the submitter until it has registered them all.
     * While the slot is free it is the free-list link instead. */
    _Atomic uint32_t pending;
    aw_job_fn fn;
    void *ctx;
    uint32_t next_link[AW_JOB_MAX_DEPS]; /* successor list links, one per dependency of this job */
} jobs_slot;
#define JOBS_LINK_EMPTY  0xFFFFFFFEu
#define JOBS_LINK_CLOSED 0xFFFFFFFFu

typedef struct jobs_worker {
    jobs_deque deque;
    /* JOBS_RUNNING, JOBS_SLEEPING or JOBS_NOTIFIED; the futex word a sleeping worker waits on. */
    alignas(64) _Atomic uint32_t sleep_state;
    /* Statistics, written only by the thread that holds this index (relaxed load + store, no
     * locked instruction) and summed by aw_jobs_get_stats. */
    _Atomic uint64_t jobs_run, steals, sleeps, inline_runs;
    uint32_t index;
    uint32_t victim; /* xorshift state for picking whom to steal from */
    aw_jobs *jobs;
    pthread_t thread;
    bool started;
} jobs_worker;

enum { JOBS_RUNNING = 0, JOBS_SLEEPING = 1, JOBS_NOTIFIED = 2 };

struct aw_jobs {
    const aw_allocator *allocator;
    uint32_t threads;
    bool threaded; /* own worker threads and deques (threads > 1, no external scheduler) */
    uint64_t spin_ns;
    aw_enqueue_fn enqueue;
    aw_finish_fn finish;
    void *user;

    jobs_worker *workers; /* threads entries; index 0 belongs to whichever outside thread calls in */
    jobs_slot *slots;     /* JOBS_POOL_SIZE */

    /* Index 0 (its deque and statistics) must have one owner at a time, so outside threads take
     * turns: each call from a thread that is not a worker holds this lock (see jobs_enter). */
    pthread_mutex_t caller_lock;

    alignas(64) _Atomic uint32_t sleepers; /* workers announced as sleeping and not yet woken */
    _Atomic uint32_t stop;
    /* Threads blocked waiting for a parallel_for or a job park on wait_epoch; every completion
     * that sees parked > 0 bumps it and wakes them all. */
    alignas(64) _Atomic uint32_t wait_epoch;
    _Atomic uint32_t parked;
    alignas(64) _Atomic uint64_t free_head;   /* job free list: ABA tag << 32 | slot index */
    alignas(64) _Atomic uint32_t outstanding; /* submitted jobs not yet finished */
};

/* Thread identity: which job system (if any) the calling thread is acting for, and its index. */
typedef struct jobs_identity {
    aw_jobs *jobs;
    uint32_t index;
    bool locked; /* this call took caller_lock */
} jobs_identity;

/* Enters the job system from any thread and returns the index to run as; every enter is paired
 * with jobs_leave. */
uint32_t jobs_enter(aw_jobs *jobs, jobs_identity *saved);
void jobs_leave(aw_jobs *jobs, const jobs_identity *saved);

/* Makes task visible to other threads (the caller's deque) and wakes a sleeping worker.
 * False when the deque is full: the caller must run the task itself. */
bool jobs_push(aw_jobs *jobs, uint32_t me, jobs_task task);

/* Runs other work until done(arg) is true, then returns; blocks (parks) only after spin_us of
 * finding nothing to do. done must read with seq_cst (it is half of a Dekker pair with
 * jobs_signal_waiters). */
void jobs_help_until(aw_jobs *jobs, uint32_t me, bool (*done)(void *arg), void *arg);

/* Called after a completion that a parked waiter may be waiting for. */
void jobs_signal_waiters(aw_jobs *jobs);

/* Owner-only statistic increment (see jobs_worker). */
static inline void jobs_count(_Atomic uint64_t *counter) {
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* jobs_graph.c */
aw_status jobs_graph_init(aw_jobs *jobs);
void jobs_graph_destroy(aw_jobs *jobs);
void jobs_graph_run(aw_jobs *jobs, uint32_t me, jobs_slot *slot);

#endif /* AW_JOBS_INTERNAL_H */
