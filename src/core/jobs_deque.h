/* The work-stealing deque of one job-system thread: a fixed-size Chase-Lev deque in the C11
 * formulation of Lê, Pop, Cohen and Zappa Nardelli ("Correct and efficient work-stealing for weak
 * memory models", PPoPP 2013). The owner pushes and pops at the bottom, thieves take from the top.
 *
 * Two deliberate departures from the paper:
 * - The paper's standalone seq_cst fences (in take and steal) become seq_cst accesses on the
 *   neighbouring loads and stores. ThreadSanitizer does not model atomic_thread_fence (and gcc
 *   warns about it under -fsanitize=thread), so the fence version could not be checked; on x86
 *   the cost is the same (one locked instruction or mfence in take, plain loads in steal).
 *   The push's bottom store is seq_cst too (the paper has release): the sleep protocol in jobs.c
 *   needs "push, then read the sleeper count" ordered against "announce sleep, then look for work".
 * - No resize: the buffer is fixed (JOBS_DEQUE_CAP) so the steady state never allocates, and a
 *   full deque makes the push fail; callers then run the work themselves. */
#ifndef AW_JOBS_DEQUE_H
#define AW_JOBS_DEQUE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Power of two. Ready jobs (at most the pool size) plus a few dozen parallel_for halves per
 * nesting level fit; beyond that work runs inline rather than failing. */
#define JOBS_DEQUE_CAP 4096

/* A task is two words: a pointer to its descriptor and an argument (a packed range of a
 * parallel_for, or JOBS_ARG_JOB for a submitted job). Both are atomics because a thief reads a
 * slot that the owner may be overwriting; the thief's CAS on top then decides whether its read
 * is the task it won. */
typedef struct jobs_task {
    void *ptr;
    uint64_t arg;
} jobs_task;

typedef struct jobs_slot_entry {
    _Atomic(void *) ptr;
    _Atomic uint64_t arg;
} jobs_slot_entry;

/* top and bottom live on separate cache lines: thieves hammer top, the owner writes bottom. */
typedef struct jobs_deque {
    alignas(64) _Atomic int64_t top;
    alignas(64) _Atomic int64_t bottom;
    jobs_slot_entry *slots; /* JOBS_DEQUE_CAP entries */
} jobs_deque;

enum { JOBS_STEAL_EMPTY = 0, JOBS_STEAL_OK = 1, JOBS_STEAL_LOST = 2 };

/* Owner only. False when full (nothing is written). */
static inline bool jobs_deque_push(jobs_deque *q, jobs_task t) {
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
    int64_t top = atomic_load_explicit(&q->top, memory_order_acquire);
    if (b - top >= JOBS_DEQUE_CAP) return false;
    jobs_slot_entry *e = &q->slots[b & (JOBS_DEQUE_CAP - 1)];
    atomic_store_explicit(&e->ptr, t.ptr, memory_order_relaxed);
    atomic_store_explicit(&e->arg, t.arg, memory_order_relaxed);
    atomic_store_explicit(&q->bottom, b + 1, memory_order_seq_cst);
    return true;
}

/* Owner only: the most recently pushed task. */
static inline bool jobs_deque_pop(jobs_deque *q, jobs_task *out) {
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
    /* Cheap early out: only the owner adds, and top never decreases, so a stale top can only make
     * the deque look fuller than it is. Skips the seq_cst store on the common empty case. */
    if (b <= atomic_load_explicit(&q->top, memory_order_relaxed)) return false;
    b -= 1;
    atomic_store_explicit(&q->bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&q->top, memory_order_seq_cst);
    if (t > b) {
        atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
        return false;
    }
    jobs_slot_entry *e = &q->slots[b & (JOBS_DEQUE_CAP - 1)];
    out->ptr = atomic_load_explicit(&e->ptr, memory_order_relaxed);
    out->arg = atomic_load_explicit(&e->arg, memory_order_relaxed);
    if (t == b) {
        /* Last task: race the thieves for it on top. */
        bool won = atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1, memory_order_seq_cst,
                                                           memory_order_relaxed);
        atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
        return won;
    }
    return true;
}

/* Any thread: the oldest task. JOBS_STEAL_LOST means another thread won the race for it, so
 * the deque may still hold work. */
static inline int jobs_deque_steal(jobs_deque *q, jobs_task *out) {
    int64_t t = atomic_load_explicit(&q->top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_seq_cst);
    if (t >= b) return JOBS_STEAL_EMPTY;
    jobs_slot_entry *e = &q->slots[t & (JOBS_DEQUE_CAP - 1)];
    jobs_task task = {
        .ptr = atomic_load_explicit(&e->ptr, memory_order_relaxed),
        .arg = atomic_load_explicit(&e->arg, memory_order_relaxed),
    };
    if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return JOBS_STEAL_LOST;
    *out = task;
    return JOBS_STEAL_OK;
}

/* Any thread: whether the deque looked non-empty (seq_cst, for the sleep protocol). */
static inline bool jobs_deque_has_work(jobs_deque *q) {
    int64_t t = atomic_load_explicit(&q->top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_seq_cst);
    return t < b;
}

#endif /* AW_JOBS_DEQUE_H */
