/* AstraWeave job system: persistent workers with work stealing, jobs with dependencies,
 * deterministic parallel_for, and a plug-in point for an external task scheduler. */
#ifndef AW_JOBS_H
#define AW_JOBS_H

#include "aw/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_jobs aw_jobs;

/* A range task: items [begin, end) of a parallel_for, run on thread `worker`
 * (0 = the calling thread, 1..threads-1 = workers). Threads that are not workers share index 0
 * by taking turns: a call from such a thread waits while another one is inside the job system,
 * so at most one thread runs as any index at a time. (So two job systems must not call into each
 * other in a cycle, a task of A calling B whose task calls A: the outside thread that started it
 * keeps A's turn while it waits on B, and B's worker would wait for that turn forever.) */
typedef void (*aw_range_fn)(uint32_t begin, uint32_t end, uint32_t worker, void *ctx);
/* A single job. */
typedef void (*aw_job_fn)(uint32_t worker, void *ctx);

/* External scheduler hooks (as in Box2D v3): the engine hands a range task to `enqueue`, which
 * must eventually call fn over [0, count) split as it likes (ranges of at least `grain` items,
 * any order, any threads, passing each thread's index < threads), and returns a handle that
 * `finish` waits on. Returning NULL from enqueue means "ran it inline already". The hooks carry
 * parallel_for only: with them (as with threads = 1), a submitted job runs on the thread that
 * makes it ready, inside aw_jobs_submit or the finishing dependency. */
typedef void *(*aw_enqueue_fn)(aw_range_fn fn, uint32_t count, uint32_t grain, void *task_ctx, void *user);
typedef void (*aw_finish_fn)(void *handle, void *user);

typedef struct aw_jobs_desc {
    uint32_t threads; /* threads including the caller; 0: one per hardware thread;
                         1: everything runs inline on the caller */
    const aw_allocator *allocator;
    uint32_t spin_us;      /* idle workers spin this long before sleeping (0: 50 us) */
    aw_enqueue_fn enqueue; /* optional external scheduler; threads then says how many */
    aw_finish_fn finish;   /*   thread indices the scheduler may pass */
    void *user;
} aw_jobs_desc;

/* NULL with aw_last_error() set on failure. */
aw_jobs *aw_jobs_create(const aw_jobs_desc *desc);
/* Waits for running work, stops and joins the workers. NULL is ignored. Not from inside a task. */
void aw_jobs_destroy(aw_jobs *jobs);
uint32_t aw_jobs_thread_count(const aw_jobs *jobs);
/* Index of the calling thread in this job system (0 for any thread that is not a worker). */
uint32_t aw_jobs_worker_index(const aw_jobs *jobs);

/* Runs fn over [0, count) and returns when every item is done; the caller works too.
 * The range partition is deterministic and independent of the thread count: ranges are
 * [k*grain, min((k+1)*grain, count)), so range k always covers the same items (grain 0: 256).
 * Small work (one range) runs inline with no dispatch at all. Nested calls from inside a task
 * are allowed. */
aw_status aw_jobs_parallel_for(aw_jobs *jobs, uint32_t count, uint32_t grain, aw_range_fn fn, void *ctx);

/* Jobs with dependencies. A job starts when every job it depends on has finished. Handles are
 * generation-checked: waiting on a finished or stale handle returns at once. */
typedef struct aw_job {
    uint32_t index;
    uint32_t generation;
} aw_job;
#define AW_JOB_MAX_DEPS 8

/* out_job may be NULL. A dependency on a finished or stale handle is already met. Up to 4096
 * jobs may be in flight (submitted, not finished); beyond that AW_ERR_CAPACITY. */
aw_status aw_jobs_submit(aw_jobs *jobs, aw_job_fn fn, void *ctx, const aw_job *deps, uint32_t dep_count,
                         aw_job *out_job);
/* Waits for one job; the caller runs other work while it waits. */
void aw_jobs_wait(aw_jobs *jobs, aw_job job);
/* Waits until no submitted job is pending. */
void aw_jobs_wait_all(aw_jobs *jobs);

typedef struct aw_jobs_stats {
    uint64_t jobs_run; /* submitted jobs plus parallel_for tasks (runs of whole ranges) */
    uint64_t steals;
    uint64_t sleeps;      /* times a worker went to sleep */
    uint64_t inline_runs; /* parallel_for calls run inline (too small or threads = 1) */
} aw_jobs_stats;
aw_jobs_stats aw_jobs_get_stats(const aw_jobs *jobs);

#ifdef __cplusplus
}
#endif

#endif /* AW_JOBS_H */
