/* AstraWeave profiler: zones, frame marks and counters recorded into per-thread buffers without
 * locks, aggregated into a hotspot report and exported as a Chrome Trace Event file. */
#ifndef AW_PROFILE_H
#define AW_PROFILE_H

#include "aw/core.h"

#include <stdatomic.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The build sets AW_PROFILE_ENABLED (CMake option AW_PROFILE, default ON). With 0 every AW_PROFILE_*
 * macro expands to nothing, and the functions below are stubs: aw_profile_start then fails with
 * AW_ERR_UNSUPPORTED and recording calls do nothing. */
#ifndef AW_PROFILE_ENABLED
#define AW_PROFILE_ENABLED 1
#endif

/* ---------------------------------------------------------------- session */

/* Where timestamps come from. TSC (x86-64 with an invariant TSC) reads the time-stamp counter,
 * about 2.5x cheaper than clock_gettime on virtual machines; AUTO picks it when the CPU says it is
 * invariant, else MONOTONIC. MANUAL takes the time from aw_profile_set_time(), for tests and replays. */
typedef enum aw_profile_clock {
    AW_PROFILE_CLOCK_AUTO = 0,
    AW_PROFILE_CLOCK_TSC,
    AW_PROFILE_CLOCK_MONOTONIC,
    AW_PROFILE_CLOCK_MANUAL
} aw_profile_clock;

typedef struct aw_profile_desc {
    const aw_allocator *allocator; /* NULL: aw_heap_allocator(); the profiler counts what it takes */
    uint32_t thread_events;        /* ring size per thread in events (16 B each), rounded up to a power
                                      of two, at least 64; 0: 65536. A full ring drops new events */
    bool trace;                    /* keep every zone, counter and frame mark for aw_profile_write_trace */
    uint64_t trace_limit; /* most records kept (24 B each); 0: 4M. Later ones are counted, not kept */
    aw_profile_clock clock;
    const char *process_name; /* for the trace; NULL: "astraweave" */
    bool start_paused;        /* start with recording off (aw_profile_set_enabled turns it on) */
} aw_profile_desc;

/* Starts a profiling session (process-wide: the profiler is shared by every world and thread,
 * like the heap counters). AW_ERR_ALREADY_PRESENT if one is running, AW_ERR_UNSUPPORTED when
 * compiled out, AW_ERR_INVALID_ARG for a clock this machine lacks. desc may be NULL. */
aw_status aw_profile_start(const aw_profile_desc *desc);
/* Ends the session and frees its memory. Call it while no thread is inside a zone call. */
void aw_profile_stop(void);
bool aw_profile_active(void);
/* Pauses or resumes recording; zones open across a pause still pair up. */
void aw_profile_set_enabled(bool enabled);
bool aw_profile_enabled(void);
/* The time the MANUAL clock reports, in nanoseconds (any thread). */
void aw_profile_set_time(uint64_t ns);

/* Names the calling thread in the trace (copied, up to 47 bytes). May be called before the
 * session starts; unnamed threads are "thread N" in registration order. */
void aw_profile_thread_name(const char *name);

/* ---------------------------------------------------------------- recording */

/* A zone or counter name, interned once for the life of the process (0 is "none"). */
typedef uint32_t aw_profile_id;

/* Interns category/name (NULL category: none; the category becomes the trace's "cat" and lets
 * reports pick, for example, every "system" zone). Lock-free once a name exists; the first call
 * for a name takes a lock. Past 4096 names every new name maps to one "(too many names)" id. */
aw_profile_id aw_profile_intern(const char *category, const char *name);
/* Zone begin and end on the calling thread: no locks, no allocation after the thread's first
 * event. Zones nest (up to 64 deep; deeper ones are dropped and counted). id 0 is ignored. */
void aw_profile_begin(aw_profile_id id);
void aw_profile_end(aw_profile_id id);
/* Interns and begins in one call (a few ns more than a cached id): for names known only at run
 * time, such as systems. Returns the id to pass to aw_profile_end, 0 when recording is off. */
aw_profile_id aw_profile_begin_named(const char *category, const char *name);
/* A named value at this moment (entities, draw calls, allocations...). */
void aw_profile_counter(aw_profile_id id, double value);
/* Marks the end of a frame (call on the thread that runs the frame loop). */
void aw_profile_frame_mark(void);

/* Cached interning for the macros: a static per call site holds the id. */
static inline aw_profile_id aw_profile_intern_cached_(_Atomic(aw_profile_id) *cache, const char *category,
                                                      const char *name) {
    aw_profile_id id = atomic_load_explicit(cache, memory_order_relaxed);
    if (AW_LIKELY(id)) return id;
    id = aw_profile_intern(category, name);
    atomic_store_explicit(cache, id, memory_order_relaxed);
    return id;
}

typedef struct aw_profile_scope_ {
    aw_profile_id id;
} aw_profile_scope_;
static inline void aw_profile_scope_end_(aw_profile_scope_ *scope) {
    aw_profile_end(scope->id);
}

#define AW_PROFILE_CAT2_(a, b) a##b
#define AW_PROFILE_CAT_(a, b)  AW_PROFILE_CAT2_(a, b)

#if AW_PROFILE_ENABLED
/* AW_PROFILE_ZONE_BEGIN(zone, "name"); ... AW_PROFILE_ZONE_END(zone);  (a block-scope declaration) */
#define AW_PROFILE_ZONE_BEGIN(var, name)                                                                     \
    static _Atomic(aw_profile_id) AW_PROFILE_CAT_(var, _pid_);                                               \
    const aw_profile_id var = aw_profile_intern_cached_(&AW_PROFILE_CAT_(var, _pid_), NULL, (name));         \
    aw_profile_begin(var)
#define AW_PROFILE_ZONE_BEGIN_CAT(var, category, name)                                                       \
    static _Atomic(aw_profile_id) AW_PROFILE_CAT_(var, _pid_);                                               \
    const aw_profile_id var = aw_profile_intern_cached_(&AW_PROFILE_CAT_(var, _pid_), (category), (name));   \
    aw_profile_begin(var)
#define AW_PROFILE_ZONE_END(var) aw_profile_end(var)
/* A zone with a run-time name (interned on each call). */
#define AW_PROFILE_NAMED_BEGIN(var, category, name)                                                          \
    const aw_profile_id var = aw_profile_begin_named((category), (name))
#define AW_PROFILE_NAMED_END(var) aw_profile_end(var)
#define AW_PROFILE_COUNTER(name, value)                                                                      \
    do {                                                                                                     \
        static _Atomic(aw_profile_id) aw_profile_counter_pid_;                                               \
        aw_profile_counter(aw_profile_intern_cached_(&aw_profile_counter_pid_, NULL, (name)), (value));      \
    } while (0)
#define AW_PROFILE_FRAME_MARK() aw_profile_frame_mark()
#if defined(__GNUC__)
/* A zone that ends with the enclosing block (gcc and clang: cleanup attribute). */
#define AW_PROFILE_SCOPE(name)                                                                               \
    static _Atomic(aw_profile_id) AW_PROFILE_CAT_(aw_profile_scope_pid_, __LINE__);                          \
    __attribute__((cleanup(aw_profile_scope_end_)))                                                          \
    aw_profile_scope_ AW_PROFILE_CAT_(aw_profile_scope_, __LINE__) = {                                       \
        aw_profile_intern_cached_(&AW_PROFILE_CAT_(aw_profile_scope_pid_, __LINE__), NULL, (name))};         \
    aw_profile_begin(AW_PROFILE_CAT_(aw_profile_scope_, __LINE__).id)
#else
#define AW_PROFILE_SCOPE(name) ((void)0)
#endif
#else
#define AW_PROFILE_ZONE_BEGIN(var, name)               ((void)0)
#define AW_PROFILE_ZONE_BEGIN_CAT(var, category, name) ((void)0)
#define AW_PROFILE_ZONE_END(var)                       ((void)0)
#define AW_PROFILE_NAMED_BEGIN(var, category, name)    ((void)0)
#define AW_PROFILE_NAMED_END(var)                      ((void)0)
#define AW_PROFILE_COUNTER(name, value)                ((void)0)
#define AW_PROFILE_FRAME_MARK()                        ((void)0)
#define AW_PROFILE_SCOPE(name)                         ((void)0)
#endif

/* ---------------------------------------------------------------- aggregation and reports */

/* Moves every thread's recorded events into the aggregate (and the trace, when kept), freeing
 * ring space. Any thread may call it at any time (one collector at a time, behind a lock); call
 * it once per frame so rings never fill. Reports and the trace writer collect first. */
void aw_profile_collect(void);
/* Clears the aggregate statistics (zones, counters, frames), for example after a warm-up. The
 * trace is kept. */
void aw_profile_reset_stats(void);

typedef struct aw_profile_zone_stats {
    aw_profile_id id;
    const char *name;     /* interned: valid for the life of the process */
    const char *category; /* "" when none */
    uint64_t count;       /* completed zones */
    double total_ns;      /* sum of durations */
    double self_ns;       /* total minus time in nested zones of the same thread */
    double mean_ns;
    double p95_ns; /* from a log-linear histogram: within about 3% */
    double max_ns;
} aw_profile_zone_stats;

typedef struct aw_profile_counter_stats {
    aw_profile_id id;
    const char *name;
    const char *category;
    uint64_t count;
    double last, min, max, mean;
} aw_profile_counter_stats;

typedef struct aw_profile_summary {
    bool active;
    const char *clock; /* "tsc", "monotonic" or "manual" */
    uint32_t threads;  /* threads that recorded */
    uint64_t frames;   /* frame intervals (between consecutive marks) */
    double frame_mean_ns, frame_p95_ns, frame_max_ns;
    uint64_t events;        /* events collected since start */
    uint64_t dropped;       /* events dropped: full ring, nesting deeper than 64, no thread slot */
    uint64_t trace_records; /* records kept for the trace */
    uint64_t trace_dropped; /* records past trace_limit */
    uint32_t names;         /* names interned (process-wide) */
    aw_alloc_stats memory;  /* the profiler's own allocations this session */
} aw_profile_summary;

/* Zones sorted by total time, most first: writes up to max, returns how many zones there are. */
uint32_t aw_profile_zone_report(aw_profile_zone_stats *out, uint32_t max);
/* One zone's statistics; false if it has none. */
bool aw_profile_zone_find(const char *category, const char *name, aw_profile_zone_stats *out);
uint32_t aw_profile_counter_report(aw_profile_counter_stats *out, uint32_t max);
aw_profile_summary aw_profile_get_summary(void);
/* The top_n zones by total time (0: 10) with self time, count, mean and p95, then counters. */
aw_status aw_profile_print_report(FILE *out, uint32_t top_n);

/* What one recorded zone (begin + end) costs the calling thread, in ns: the median of 5 batches of
 * `zones` zones (0: 100000) made through function pointers, as a call from another file pays.
 * Needs a running, enabled session; the measuring zones are kept out of statistics and trace.
 * Call it while other threads record nothing. 0 without a session. */
double aw_profile_zone_cost_ns(uint32_t zones);

/* What passing one cache line between two CPUs costs, there and back, in ns: the median of 5
 * batches of 2,000 round trips between the calling thread and a helper thread, pinned to the first
 * two CPUs the caller may use (its own affinity is restored after). Every figure measured with
 * threads sharing data scales with it, and on a virtual machine it moves from one host placement to
 * the next (140-200 ns and 500-570 ns on the same 2-vCPU reference machine), so aw-bench and
 * aw-stress print it beside their tables. Takes a few ms; needs no session. 0 with fewer than two
 * CPUs, or when the two threads could not run at once (a batch over 50 ms). */
double aw_profile_core_roundtrip_ns(void);

/* Time something else takes from each CPU: a thread pinned to each CPU the caller may use (the
 * first AW_PROFILE_STALL_CPUS) reads the clock in a loop for `ms` milliseconds, and every gap of at
 * least `min_us` is a stall (the CPU ran another thread, or on a virtual machine the host ran
 * something on it). A frame that meets a stall on any of its threads is late by about that much,
 * so a p99 over a few seconds of frames sees them: aw-stress prints this beside a capacity search.
 * Takes `ms`; needs no session. cpus is 0 when no thread could be pinned. */
#define AW_PROFILE_STALL_CPUS 8
typedef struct aw_profile_stalls {
    uint32_t cpus;
    uint32_t ms, min_us; /* as measured */
    uint32_t cpu[AW_PROFILE_STALL_CPUS];
    uint32_t count[AW_PROFILE_STALL_CPUS];
    double max_ms[AW_PROFILE_STALL_CPUS], total_ms[AW_PROFILE_STALL_CPUS];
} aw_profile_stalls;
aw_profile_stalls aw_profile_host_stalls(uint32_t ms, uint32_t min_us);

/* Writes the kept records (desc.trace) as Chrome Trace Event JSON, which ui.perfetto.dev and
 * chrome://tracing open: one track per thread, named; zones as complete events with their
 * category, counters as counter tracks, frame marks as instant events. path "-" is stdout. */
aw_status aw_profile_write_trace(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* AW_PROFILE_H */
