/* Jobs with dependencies: a preallocated pool of generation-checked job slots, successor lists
 * threaded through the dependents' own slots (so a dependency costs no allocation), and the
 * waits. Scheduling of ready jobs goes through jobs.c. */
#include "core/jobs_internal.h"

#include <string.h>

#define FREE_NONE 0xFFFFFFFFu

static inline uint64_t pack(uint32_t hi, uint32_t lo) {
    return (uint64_t)hi << 32 | lo;
}

aw_status jobs_graph_init(aw_jobs *jobs) {
    jobs->slots = aw_alloc(jobs->allocator, JOBS_POOL_SIZE * sizeof(jobs_slot), 64);
    if (!jobs->slots) return AW_ERR_OUT_OF_MEMORY;
    memset(jobs->slots, 0, JOBS_POOL_SIZE * sizeof(jobs_slot));
    for (uint32_t i = 0; i < JOBS_POOL_SIZE; i++) {
        /* Generation 0 is never handed out and reads as finished, so a zeroed aw_job is inert. */
        atomic_init(&jobs->slots[i].head, pack(0, JOBS_LINK_CLOSED));
        atomic_init(&jobs->slots[i].pending, i + 1 < JOBS_POOL_SIZE ? i + 1 : FREE_NONE);
    }
    atomic_init(&jobs->free_head, pack(0, 0));
    atomic_init(&jobs->outstanding, 0);
    return AW_OK;
}

void jobs_graph_destroy(aw_jobs *jobs) {
    aw_free(jobs->allocator, jobs->slots, JOBS_POOL_SIZE * sizeof(jobs_slot));
    jobs->slots = NULL;
}

/* ---------------------------------------------------------------- slot pool */

/* A Treiber stack linked through `pending` (unused while a slot is free). The tag in the high
 * half changes on every pop and push, so a head that was popped and pushed back meanwhile (ABA)
 * fails the CAS. */
static jobs_slot *pool_pop(aw_jobs *jobs) {
    uint64_t head = atomic_load_explicit(&jobs->free_head, memory_order_acquire);
    for (;;) {
        uint32_t index = (uint32_t)head;
        if (index == FREE_NONE) return NULL;
        uint32_t next = atomic_load_explicit(&jobs->slots[index].pending, memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&jobs->free_head, &head,
                                                  pack((uint32_t)(head >> 32) + 1, next),
                                                  memory_order_acquire, memory_order_acquire))
            return &jobs->slots[index];
    }
}

static void pool_push(aw_jobs *jobs, jobs_slot *slot) {
    uint32_t index = (uint32_t)(slot - jobs->slots);
    uint64_t head = atomic_load_explicit(&jobs->free_head, memory_order_relaxed);
    do {
        atomic_store_explicit(&slot->pending, (uint32_t)head, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(&jobs->free_head, &head,
                                                    pack((uint32_t)(head >> 32) + 1, index),
                                                    memory_order_release, memory_order_relaxed));
}

/* ---------------------------------------------------------------- running */

static void make_ready(aw_jobs *jobs, uint32_t me, jobs_slot *slot) {
    /* Without our own workers (threads = 1 or an external scheduler) a ready job runs at once;
     * with them, a full deque also means "run it here". */
    if (jobs->threaded && jobs_push(jobs, me, (jobs_task){slot, JOBS_ARG_JOB})) return;
    jobs_graph_run(jobs, me, slot);
}

void jobs_graph_run(aw_jobs *jobs, uint32_t me, jobs_slot *slot) {
    slot->fn(me, slot->ctx);
    jobs_count(&jobs->workers[me].jobs_run);
    /* Closing the list is the "finished" mark: a dependent registering from now on sees CLOSED
     * and does not wait, one that got in before is in the list we take. */
    uint32_t generation = (uint32_t)(atomic_load_explicit(&slot->head, memory_order_relaxed) >> 32);
    uint64_t old =
        atomic_exchange_explicit(&slot->head, pack(generation, JOBS_LINK_CLOSED), memory_order_seq_cst);
    uint32_t link = (uint32_t)old;
    while (link != JOBS_LINK_EMPTY) {
        jobs_slot *dependent = &jobs->slots[link / AW_JOB_MAX_DEPS];
        /* Read the link before releasing the dependent: once it runs, its slot may be reused. */
        uint32_t next = dependent->next_link[link % AW_JOB_MAX_DEPS];
        if (atomic_fetch_sub_explicit(&dependent->pending, 1, memory_order_acq_rel) == 1)
            make_ready(jobs, me, dependent);
        link = next;
    }
    pool_push(jobs, slot);
    atomic_fetch_sub_explicit(&jobs->outstanding, 1, memory_order_seq_cst);
    jobs_signal_waiters(jobs);
}

/* Adds dependency number `which` of job `index` to dep's successor list. False if dep has
 * already finished (or its handle is stale), so there is nothing to wait for. */
static bool add_dependency(aw_jobs *jobs, uint32_t index, uint32_t which, aw_job dep) {
    jobs_slot *slot = &jobs->slots[index];
    jobs_slot *target = &jobs->slots[dep.index];
    uint32_t link = index * AW_JOB_MAX_DEPS + which;
    uint64_t head = atomic_load_explicit(&target->head, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(head >> 32) != dep.generation || (uint32_t)head == JOBS_LINK_CLOSED) return false;
        slot->next_link[which] = (uint32_t)head;
        /* The generation is part of the compared word, so a target that finished and was reused
         * between our load and the CAS cannot capture the link. */
        if (atomic_compare_exchange_weak_explicit(&target->head, &head, pack(dep.generation, link),
                                                  memory_order_release, memory_order_acquire))
            return true;
    }
}

aw_status aw_jobs_submit(aw_jobs *jobs, aw_job_fn fn, void *ctx, const aw_job *deps, uint32_t dep_count,
                         aw_job *out_job) {
    if (out_job) *out_job = (aw_job){0, 0};
    if (!jobs) return aw_error(AW_ERR_INVALID_ARG, "aw_jobs_submit: jobs is NULL");
    if (!fn) return aw_error(AW_ERR_INVALID_ARG, "aw_jobs_submit: fn is NULL");
    if (dep_count > AW_JOB_MAX_DEPS)
        return aw_error(AW_ERR_INVALID_ARG, "aw_jobs_submit: %u dependencies, the most is %d", dep_count,
                        AW_JOB_MAX_DEPS);
    if (dep_count && !deps)
        return aw_error(AW_ERR_INVALID_ARG, "aw_jobs_submit: deps is NULL with dep_count %u", dep_count);
    for (uint32_t i = 0; i < dep_count; i++)
        if (deps[i].index >= JOBS_POOL_SIZE)
            return aw_error(AW_ERR_INVALID_ARG,
                            "aw_jobs_submit: dependency %u (index %u) is not a job handle", i, deps[i].index);

    jobs_identity saved;
    uint32_t me = jobs_enter(jobs, &saved);
    jobs_slot *slot = pool_pop(jobs);
    if (!slot) {
        jobs_leave(jobs, &saved);
        return aw_error(AW_ERR_CAPACITY,
                        "aw_jobs_submit: all %u job slots are in flight; wait for some first",
                        JOBS_POOL_SIZE);
    }
    uint32_t index = (uint32_t)(slot - jobs->slots);
    uint32_t generation = (uint32_t)(atomic_load_explicit(&slot->head, memory_order_relaxed) >> 32) + 1;
    if (generation == 0) generation = 1;
    slot->fn = fn;
    slot->ctx = ctx;
    /* One extra count held until every dependency is registered, so a dependency finishing
     * meanwhile cannot start the job early. */
    atomic_store_explicit(&slot->pending, dep_count + 1, memory_order_relaxed);
    atomic_store_explicit(&slot->head, pack(generation, JOBS_LINK_EMPTY), memory_order_release);
    atomic_fetch_add_explicit(&jobs->outstanding, 1, memory_order_relaxed);
    uint32_t release = 1;
    for (uint32_t i = 0; i < dep_count; i++)
        if (!add_dependency(jobs, index, i, deps[i])) release++;
    if (out_job) *out_job = (aw_job){index, generation};
    if (atomic_fetch_sub_explicit(&slot->pending, release, memory_order_acq_rel) == release)
        make_ready(jobs, me, slot);
    jobs_leave(jobs, &saved);
    return AW_OK;
}

/* ---------------------------------------------------------------- waiting */

typedef struct job_wait {
    aw_jobs *jobs;
    aw_job job;
} job_wait;

static bool job_done(void *arg) {
    job_wait *w = arg;
    uint64_t head = atomic_load_explicit(&w->jobs->slots[w->job.index].head, memory_order_seq_cst);
    return (uint32_t)(head >> 32) != w->job.generation || (uint32_t)head == JOBS_LINK_CLOSED;
}

static bool all_done(void *arg) {
    return atomic_load_explicit(&((aw_jobs *)arg)->outstanding, memory_order_seq_cst) == 0;
}

void aw_jobs_wait(aw_jobs *jobs, aw_job job) {
    if (!jobs || job.index >= JOBS_POOL_SIZE) return;
    job_wait w = {jobs, job};
    if (job_done(&w)) return;
    jobs_identity saved;
    uint32_t me = jobs_enter(jobs, &saved);
    jobs_help_until(jobs, me, job_done, &w);
    jobs_leave(jobs, &saved);
}

void aw_jobs_wait_all(aw_jobs *jobs) {
    if (!jobs || all_done(jobs)) return;
    jobs_identity saved;
    uint32_t me = jobs_enter(jobs, &saved);
    jobs_help_until(jobs, me, all_done, jobs);
    jobs_leave(jobs, &saved);
}
