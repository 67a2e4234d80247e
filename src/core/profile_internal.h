/* Profiler state shared by its files (record, collect, trace); src/core only. */
#ifndef AW_PROFILE_INTERNAL_H
#define AW_PROFILE_INTERNAL_H

#include "aw/profile.h"

#include <stdint.h>

/* Median of `count` values (mean of the two middle ones for an even count), sorting them in place:
 * the measuring functions take the median of a few batches. Defined in profile_machine.c, which is
 * built with the profiler compiled out too. */
double prof_median(double *values, uint32_t count);

#if AW_PROFILE_ENABLED

#include <pthread.h>
#include <stdatomic.h>

#define PROF_MAX_THREADS 256u
#define PROF_MAX_NAMES   4096u
#define PROF_MAX_DEPTH   64u
#define PROF_NAME_POOL   (256u * 1024u)
#define PROF_TRACE_BLOCK 16384u /* records per trace block */
/* Histogram: exact below 32 ns, then 32 sub-buckets per power of two (about 3% wide). */
#define PROF_HIST_SUB     32u
#define PROF_HIST_BUCKETS (64u * PROF_HIST_SUB)

enum { EV_BEGIN = 1, EV_END, EV_COUNTER, EV_VALUE, EV_FRAME };
enum { REC_ZONE = 1, REC_COUNTER, REC_FRAME };

typedef struct prof_event {
    uint64_t ts; /* clock ticks; for EV_VALUE the double's bits */
    uint32_t id;
    uint32_t kind;
} prof_event;

typedef struct prof_open {
    aw_profile_id id;
    uint64_t start;
    uint64_t child; /* ticks spent in nested zones */
} prof_open;

/* One thread's ring: the owner writes events and `head`; the collector reads up to `head` and
 * publishes `tail`. The two sides keep to their own cache lines. */
typedef struct prof_thread {
    /* owner side */
    prof_event *events;
    uint64_t mask;        /* capacity - 1 */
    uint64_t head_local;  /* == head, without the atomic load */
    uint64_t tail_cached; /* last tail seen; reloaded only when the ring looks full */
    uint32_t depth;       /* zones begun and not ended, recorded or not */
    uint32_t open;        /* recorded begins without their end: ring space kept for the ends */
    uint64_t drop_mask;   /* bit d: the zone at depth d was dropped, so its end is too */
    aw_profile_clock clock;
    _Atomic uint64_t head;
    _Atomic uint64_t dropped;
    char name[48];        /* written and read under the lock */
    uint32_t index;       /* registration order, 1-based: the trace's tid */
    /* collector side */
    _Alignas(64) _Atomic uint64_t tail;
    prof_open stack[PROF_MAX_DEPTH];
    uint32_t stack_depth;
    uint64_t last_frame; /* tick of this thread's previous frame mark, 0 = none */
} prof_thread;

typedef struct prof_hist {
    uint64_t count;
    uint32_t buckets[PROF_HIST_BUCKETS];
} prof_hist;

typedef struct prof_agg {
    uint64_t count;
    uint64_t total_ticks, self_ticks, max_ticks;
    prof_hist hist; /* in ns */
    uint64_t counter_count;
    double counter_last, counter_min, counter_max, counter_sum;
} prof_agg;

typedef struct prof_record {
    uint64_t start; /* ticks */
    uint64_t dur;   /* ticks; for counters the double's bits */
    aw_profile_id id;
    uint16_t thread; /* prof_thread.index */
    uint8_t kind;
    uint8_t depth;
} prof_record;

typedef struct prof_name {
    const char *name;
    const char *category;
    uint64_t hash;
} prof_name;

typedef struct prof_state {
    /* read on every record */
    _Atomic int enabled;
    _Atomic uint32_t generation; /* bumped by start and stop: stale thread-locals re-register */
    _Atomic aw_profile_clock clock;
    _Atomic uint64_t manual_ns;
    /* session */
    pthread_mutex_t lock; /* registration and collection */
    bool active;
    const aw_allocator *user; /* every session allocation goes here, counted in memory */
    aw_alloc_stats memory;    /* what allocator handed out this session (under lock) */
    uint32_t thread_events;
    bool trace;
    uint64_t trace_limit;
    char process_name[64];
    prof_thread *threads[PROF_MAX_THREADS];
    _Atomic uint32_t thread_count;
    _Atomic uint64_t refused; /* events from threads that found no slot */
    /* clock calibration: ns = (ticks - tick0) * ns_per_tick */
    uint64_t tick0, ns0;
    double ns_per_tick;
    /* aggregate (collector, under lock) */
    prof_agg *agg[PROF_MAX_NAMES + 1];
    prof_hist frame_hist;
    uint64_t frame_count, frame_total_ticks, frame_max_ticks;
    uint64_t events;
    /* trace */
    prof_record **blocks;
    uint64_t block_count, block_capacity;
    uint64_t records, trace_dropped;
} prof_state;

extern prof_state prof_g;

/* Interned names (process-wide); id - 1 indexes the table. */
const prof_name *prof_name_get(aw_profile_id id);
uint32_t prof_name_count(void);

/* ticks -> ns with the current calibration (under the lock). */
double prof_ticks_to_ns(uint64_t ticks);
void prof_calibrate(void);
void prof_collect_locked(void);
void prof_free_collected(void);
void *prof_alloc(size_t size);
void prof_free(void *p, size_t size);
void prof_hist_add(prof_hist *h, uint64_t ns);
double prof_hist_quantile(const prof_hist *h, double q, double max_ns);

#endif /* AW_PROFILE_ENABLED */
#endif /* AW_PROFILE_INTERNAL_H */
