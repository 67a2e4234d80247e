/* Profiler recording: the session, interned names, per-thread rings and the clock. Recording
 * takes no lock and allocates nothing once a thread has its ring; only a thread's first event
 * and the first use of a name take a lock. */
#include "core/profile_internal.h"

#if AW_PROFILE_ENABLED

#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PROF_HAVE_TSC 1
#else
#define PROF_HAVE_TSC 0
#endif

#if defined(__GNUC__)
/* The default TLS model of position-independent code calls __tls_get_addr on every access;
 * initial-exec is a single segment-relative load. */
#define PROF_TLS __attribute__((tls_model("initial-exec")))
#else
#define PROF_TLS
#endif

prof_state prof_g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local prof_thread *tl_thread PROF_TLS;
static _Thread_local uint32_t tl_generation PROF_TLS;
static _Thread_local char tl_name[48];

/* ---------------------------------------------------------------- clock */

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t prof_now(aw_profile_clock clock) {
#if PROF_HAVE_TSC
    if (AW_LIKELY(clock == AW_PROFILE_CLOCK_TSC)) return __builtin_ia32_rdtsc();
#endif
    if (clock == AW_PROFILE_CLOCK_MANUAL)
        return atomic_load_explicit(&prof_g.manual_ns, memory_order_relaxed);
    return mono_ns();
}

static bool tsc_invariant(void) {
#if PROF_HAVE_TSC
    unsigned a, b, c, d;
    /* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every power state. */
    if (!__get_cpuid(0x80000007u, &a, &b, &c, &d)) return false;
    return (d >> 8) & 1u;
#else
    return false;
#endif
}

/* The TSC rate is measured against CLOCK_MONOTONIC over the whole session so far, so it gets
 * more precise the longer a session runs; no start-up spin (which would make instruction counts
 * under valgrind depend on timing). Only a collection within 100 us of the start waits. */
void prof_calibrate(void) {
    aw_profile_clock clock = atomic_load_explicit(&prof_g.clock, memory_order_relaxed);
    if (clock != AW_PROFILE_CLOCK_TSC) {
        prof_g.ns_per_tick = 1.0;
        return;
    }
    uint64_t ns, ticks;
    do {
        ns = mono_ns();
        ticks = prof_now(clock);
    } while (ns - prof_g.ns0 < 100000u);
    if (ticks > prof_g.tick0) prof_g.ns_per_tick = (double)(ns - prof_g.ns0) / (double)(ticks - prof_g.tick0);
}

double prof_ticks_to_ns(uint64_t ticks) {
    return (double)ticks * prof_g.ns_per_tick;
}

void aw_profile_set_time(uint64_t ns) {
    atomic_store_explicit(&prof_g.manual_ns, ns, memory_order_relaxed);
}

/* ---------------------------------------------------------------- memory */

void *prof_alloc(size_t size) {
    void *p = prof_g.user->alloc(prof_g.user->user, size, 64);
    if (!p) {
        prof_g.memory.failures++;
        return NULL;
    }
    memset(p, 0, size);
    prof_g.memory.allocs++;
    prof_g.memory.total_bytes += size;
    prof_g.memory.live_bytes += size;
    if (prof_g.memory.live_bytes > prof_g.memory.peak_bytes)
        prof_g.memory.peak_bytes = prof_g.memory.live_bytes;
    return p;
}

void prof_free(void *p, size_t size) {
    if (!p) return;
    prof_g.user->free(prof_g.user->user, p, size);
    prof_g.memory.frees++;
    prof_g.memory.live_bytes -= size;
}

/* ---------------------------------------------------------------- names */

static prof_name names[PROF_MAX_NAMES];
static _Atomic uint32_t name_slots[PROF_MAX_NAMES * 2]; /* open addressing: id or 0 */
static _Atomic uint32_t name_count;
static char name_pool[PROF_NAME_POOL];
static size_t name_pool_used;
static pthread_mutex_t name_lock = PTHREAD_MUTEX_INITIALIZER;
#define NAME_SLOT_MASK (PROF_MAX_NAMES * 2u - 1u)
#define OVERFLOW_ID    1u

const prof_name *prof_name_get(aw_profile_id id) {
    if (!id || id > atomic_load_explicit(&name_count, memory_order_acquire)) return NULL;
    return &names[id - 1];
}

uint32_t prof_name_count(void) {
    return atomic_load_explicit(&name_count, memory_order_acquire);
}

static uint64_t name_hash(const char *category, const char *name) {
    return aw_hash_combine(aw_hash_str(category), aw_hash_str(name));
}

static aw_profile_id find_name(const char *category, const char *name, uint64_t h) {
    for (uint32_t i = 0; i <= NAME_SLOT_MASK; i++) {
        uint32_t id = atomic_load_explicit(&name_slots[(h + i) & NAME_SLOT_MASK], memory_order_acquire);
        if (!id) return 0;
        const prof_name *n = &names[id - 1];
        if (n->hash == h && strcmp(n->name, name) == 0 && strcmp(n->category, category) == 0) return id;
    }
    return 0;
}

static const char *pool_copy(const char *s) {
    size_t len = strlen(s) + 1;
    if (len > PROF_NAME_POOL - name_pool_used) return NULL;
    char *copy = name_pool + name_pool_used;
    memcpy(copy, s, len);
    name_pool_used += len;
    return copy;
}

/* Under name_lock. The entry is complete before its slot is published (release), so lock-free
 * readers that find the id also see the strings. */
static aw_profile_id insert_name(const char *category, const char *name, uint64_t h) {
    uint32_t n = atomic_load_explicit(&name_count, memory_order_relaxed);
    if (n >= PROF_MAX_NAMES) return 0;
    const char *cat = category[0] ? pool_copy(category) : "";
    const char *nm = cat ? pool_copy(name) : NULL;
    if (!nm) return 0;
    names[n] = (prof_name){.name = nm, .category = cat, .hash = h};
    atomic_store_explicit(&name_count, n + 1, memory_order_release);
    uint32_t i = 0;
    while (atomic_load_explicit(&name_slots[(h + i) & NAME_SLOT_MASK], memory_order_relaxed)) i++;
    atomic_store_explicit(&name_slots[(h + i) & NAME_SLOT_MASK], n + 1, memory_order_release);
    return n + 1;
}

aw_profile_id aw_profile_intern(const char *category, const char *name) {
    if (!name) return 0;
    if (!category) category = "";
    uint64_t h = name_hash(category, name);
    aw_profile_id id = find_name(category, name, h);
    if (AW_LIKELY(id)) return id;
    pthread_mutex_lock(&name_lock);
    if (!atomic_load_explicit(&name_count, memory_order_relaxed))
        insert_name("", "(too many names)", name_hash("", "(too many names)"));
    id = find_name(category, name, h);
    if (!id) id = insert_name(category, name, h);
    pthread_mutex_unlock(&name_lock);
    return id ? id : OVERFLOW_ID;
}

/* ---------------------------------------------------------------- threads */

static void count_drop(prof_thread *t) {
    atomic_store_explicit(&t->dropped, atomic_load_explicit(&t->dropped, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* First event of this thread in this session: a ring of its own. Sets tl_generation even on
 * failure, so a thread without a slot does not retry (and lock) on every call. */
static prof_thread *attach(void) {
    pthread_mutex_lock(&prof_g.lock);
    uint32_t generation = atomic_load_explicit(&prof_g.generation, memory_order_relaxed);
    prof_thread *t = NULL;
    uint32_t n = atomic_load_explicit(&prof_g.thread_count, memory_order_relaxed);
    if (prof_g.active && n < PROF_MAX_THREADS) {
        size_t events = prof_g.thread_events;
        t = prof_alloc(sizeof *t);
        if (t && !(t->events = prof_alloc(events * sizeof(prof_event)))) {
            prof_free(t, sizeof *t);
            t = NULL;
        }
        if (t) {
            t->mask = events - 1;
            t->clock = atomic_load_explicit(&prof_g.clock, memory_order_relaxed);
            t->index = n + 1;
            if (tl_name[0])
                memcpy(t->name, tl_name, sizeof t->name);
            else
                snprintf(t->name, sizeof t->name, "thread %u", n + 1);
            prof_g.threads[n] = t;
            atomic_store_explicit(&prof_g.thread_count, n + 1, memory_order_release);
        }
    }
    if (!t && prof_g.active) atomic_fetch_add_explicit(&prof_g.refused, 1, memory_order_relaxed);
    tl_thread = t;
    tl_generation = generation;
    pthread_mutex_unlock(&prof_g.lock);
    return t;
}

/* The calling thread's ring, attaching on its first event when recording is on. */
static inline prof_thread *current(bool attach_if_new) {
    if (AW_LIKELY(tl_generation == atomic_load_explicit(&prof_g.generation, memory_order_relaxed)))
        return tl_thread;
    if (!attach_if_new || !atomic_load_explicit(&prof_g.enabled, memory_order_relaxed)) return NULL;
    return attach();
}

void aw_profile_thread_name(const char *name) {
    if (!name) return;
    snprintf(tl_name, sizeof tl_name, "%s", name);
    prof_thread *t = current(false);
    if (!t) return;
    pthread_mutex_lock(&prof_g.lock);
    memcpy(t->name, tl_name, sizeof t->name);
    pthread_mutex_unlock(&prof_g.lock);
}

/* ---------------------------------------------------------------- recording */

/* True when `need` more events fit. The collector's tail is re-read only when the cached one
 * says the ring is full, so the common case touches no shared cache line. */
static inline bool room(prof_thread *t, uint64_t need) {
    uint64_t cap = t->mask + 1;
    if (t->head_local + need - t->tail_cached <= cap) return true;
    t->tail_cached = atomic_load_explicit(&t->tail, memory_order_acquire);
    return t->head_local + need - t->tail_cached <= cap;
}

static inline void push(prof_thread *t, uint64_t ts, uint32_t id, uint32_t kind) {
    prof_event *e = &t->events[t->head_local & t->mask];
    e->ts = ts;
    e->id = id;
    e->kind = kind;
    t->head_local++;
}

static inline void publish(prof_thread *t) {
    atomic_store_explicit(&t->head, t->head_local, memory_order_release);
}

/* Begins always count depth, even while paused, so that every end pops the zone it closes. A
 * begin is recorded only if the ring keeps room for its own end and the ends of every open zone:
 * ends are never dropped, and a dropped begin marks its depth so that its end is dropped too. */
void aw_profile_begin(aw_profile_id id) {
    if (!id) return;
    prof_thread *t = current(true);
    if (!t) return;
    uint32_t d = t->depth++;
    bool on = atomic_load_explicit(&prof_g.enabled, memory_order_relaxed);
    if (AW_UNLIKELY(d >= PROF_MAX_DEPTH || !on || !room(t, (uint64_t)t->open + 2))) {
        if (d < PROF_MAX_DEPTH) t->drop_mask |= 1ull << d;
        if (on) count_drop(t);
        return;
    }
    t->drop_mask &= ~(1ull << d);
    push(t, prof_now(t->clock), id, EV_BEGIN);
    publish(t);
    t->open++;
}

void aw_profile_end(aw_profile_id id) {
    if (!id) return;
    prof_thread *t = current(false);
    if (!t || !t->depth) return;
    uint32_t d = --t->depth;
    if (d >= PROF_MAX_DEPTH || ((t->drop_mask >> d) & 1u)) return;
    push(t, prof_now(t->clock), id, EV_END);
    publish(t);
    t->open--;
}

aw_profile_id aw_profile_begin_named(const char *category, const char *name) {
    if (!atomic_load_explicit(&prof_g.enabled, memory_order_relaxed)) return 0;
    aw_profile_id id = aw_profile_intern(category, name);
    aw_profile_begin(id);
    return id;
}

void aw_profile_counter(aw_profile_id id, double value) {
    if (!id || !atomic_load_explicit(&prof_g.enabled, memory_order_relaxed)) return;
    prof_thread *t = current(true);
    if (!t) return;
    if (!room(t, (uint64_t)t->open + 2)) {
        count_drop(t);
        return;
    }
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    push(t, prof_now(t->clock), id, EV_COUNTER);
    push(t, bits, id, EV_VALUE);
    publish(t);
}

void aw_profile_frame_mark(void) {
    if (!atomic_load_explicit(&prof_g.enabled, memory_order_relaxed)) return;
    prof_thread *t = current(true);
    if (!t) return;
    if (!room(t, (uint64_t)t->open + 1)) {
        count_drop(t);
        return;
    }
    push(t, prof_now(t->clock), 0, EV_FRAME);
    publish(t);
}

/* ---------------------------------------------------------------- measuring the cost of a zone */

double aw_profile_zone_cost_ns(uint32_t zones) {
    if (!zones) zones = 100000;
    pthread_mutex_lock(&prof_g.lock);
    if (!prof_g.active || !atomic_load_explicit(&prof_g.enabled, memory_order_relaxed)) {
        pthread_mutex_unlock(&prof_g.lock);
        return 0.0;
    }
    prof_collect_locked(); /* other threads' events so far still reach statistics and trace */
    uint64_t events = prof_g.events;
    bool trace = prof_g.trace;
    prof_g.trace = false;
    pthread_mutex_unlock(&prof_g.lock);

    aw_profile_id id = aw_profile_intern("profiler", "zone cost");
    prof_thread *t = current(true);
    double batches[5] = {0};
    /* Calls through volatile pointers cannot be inlined into the loop: the measured cost is what a
     * zone costs code in another file, call included. */
    void (*volatile begin)(aw_profile_id) = aw_profile_begin;
    void (*volatile end)(aw_profile_id) = aw_profile_end;
    for (int rep = 0; t && rep < 5; rep++) {
        uint64_t done = 0, ns = 0;
        while (done < zones) {
            uint64_t room_zones = ((t->mask + 1) - t->open) / 2 - 1, n = zones - done;
            if (n > room_zones) n = room_zones;
            uint64_t t0 = mono_ns();
            for (uint64_t k = 0; k < n; k++) {
                begin(id);
                end(id);
            }
            ns += mono_ns() - t0;
            done += n;
            aw_profile_collect(); /* empties the ring, so no batch is measured dropping events */
        }
        batches[rep] = (double)ns / (double)zones;
    }
    double median = prof_median(batches, 5);

    pthread_mutex_lock(&prof_g.lock);
    prof_collect_locked();
    prof_g.trace = trace;
    prof_g.events = events;
    if (id <= PROF_MAX_NAMES && prof_g.agg[id]) memset(prof_g.agg[id], 0, sizeof(prof_agg));
    pthread_mutex_unlock(&prof_g.lock);
    return t ? median : 0.0;
}

/* ---------------------------------------------------------------- session */

aw_status aw_profile_start(const aw_profile_desc *desc) {
    aw_profile_desc d = desc ? *desc : (aw_profile_desc){0};
    aw_profile_clock clock = d.clock;
    if ((unsigned)clock > (unsigned)AW_PROFILE_CLOCK_MANUAL)
        return aw_error(AW_ERR_INVALID_ARG, "aw_profile_start: unknown clock %d", (int)clock);
    if (clock == AW_PROFILE_CLOCK_AUTO)
        clock = tsc_invariant() ? AW_PROFILE_CLOCK_TSC : AW_PROFILE_CLOCK_MONOTONIC;
    if (clock == AW_PROFILE_CLOCK_TSC && !tsc_invariant())
        return aw_error(AW_ERR_INVALID_ARG, "aw_profile_start: this CPU has no invariant time-stamp counter");
    if (d.thread_events > (1u << 30))
        return aw_error(AW_ERR_INVALID_ARG, "aw_profile_start: thread_events %u is over 2^30",
                        d.thread_events);
    uint32_t events = 64;
    while (events < (d.thread_events ? d.thread_events : 65536u)) events <<= 1;

    pthread_mutex_lock(&prof_g.lock);
    if (prof_g.active) {
        pthread_mutex_unlock(&prof_g.lock);
        return aw_error(AW_ERR_ALREADY_PRESENT, "aw_profile_start: a profiling session is already running");
    }
    prof_g.user = d.allocator ? d.allocator : aw_heap_allocator();
    prof_g.memory = (aw_alloc_stats){0};
    prof_g.thread_events = events;
    prof_g.trace = d.trace;
    prof_g.trace_limit = d.trace_limit ? d.trace_limit : (4u << 20);
    snprintf(prof_g.process_name, sizeof prof_g.process_name, "%s",
             d.process_name ? d.process_name : "astraweave");
    atomic_store_explicit(&prof_g.thread_count, 0, memory_order_relaxed);
    atomic_store_explicit(&prof_g.refused, 0, memory_order_relaxed);
    atomic_store_explicit(&prof_g.clock, clock, memory_order_relaxed);
    prof_g.ns0 = mono_ns();
    prof_g.tick0 = prof_now(clock);
    prof_g.ns_per_tick = 1.0;
    prof_g.frame_hist = (prof_hist){0};
    prof_g.frame_count = prof_g.frame_total_ticks = prof_g.frame_max_ticks = 0;
    prof_g.events = 0;
    prof_g.records = prof_g.trace_dropped = 0;
    prof_g.active = true;
    atomic_fetch_add_explicit(&prof_g.generation, 1, memory_order_release);
    atomic_store_explicit(&prof_g.enabled, !d.start_paused, memory_order_release);
    pthread_mutex_unlock(&prof_g.lock);
    return AW_OK;
}

void aw_profile_stop(void) {
    pthread_mutex_lock(&prof_g.lock);
    if (!prof_g.active) {
        pthread_mutex_unlock(&prof_g.lock);
        return;
    }
    atomic_store_explicit(&prof_g.enabled, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&prof_g.generation, 1, memory_order_release);
    prof_free_collected();
    uint32_t n = atomic_load_explicit(&prof_g.thread_count, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        prof_thread *t = prof_g.threads[i];
        prof_free(t->events, (t->mask + 1) * sizeof(prof_event));
        prof_free(t, sizeof *t);
        prof_g.threads[i] = NULL;
    }
    atomic_store_explicit(&prof_g.thread_count, 0, memory_order_relaxed);
    prof_g.active = false;
    pthread_mutex_unlock(&prof_g.lock);
}

bool aw_profile_active(void) {
    pthread_mutex_lock(&prof_g.lock);
    bool active = prof_g.active;
    pthread_mutex_unlock(&prof_g.lock);
    return active;
}

void aw_profile_set_enabled(bool enabled) {
    pthread_mutex_lock(&prof_g.lock);
    if (prof_g.active) atomic_store_explicit(&prof_g.enabled, enabled, memory_order_relaxed);
    pthread_mutex_unlock(&prof_g.lock);
}

bool aw_profile_enabled(void) {
    return atomic_load_explicit(&prof_g.enabled, memory_order_relaxed);
}

#else /* !AW_PROFILE_ENABLED: stubs, so code calling the functions directly still links. */

aw_status aw_profile_start(const aw_profile_desc *desc) {
    (void)desc;
    return aw_error(AW_ERR_UNSUPPORTED, "aw_profile_start: the profiler is compiled out (AW_PROFILE=OFF)");
}
void aw_profile_stop(void) {}
bool aw_profile_active(void) {
    return false;
}
void aw_profile_set_enabled(bool enabled) {
    (void)enabled;
}
bool aw_profile_enabled(void) {
    return false;
}
void aw_profile_set_time(uint64_t ns) {
    (void)ns;
}
void aw_profile_thread_name(const char *name) {
    (void)name;
}
aw_profile_id aw_profile_intern(const char *category, const char *name) {
    (void)category;
    (void)name;
    return 0;
}
void aw_profile_begin(aw_profile_id id) {
    (void)id;
}
void aw_profile_end(aw_profile_id id) {
    (void)id;
}
aw_profile_id aw_profile_begin_named(const char *category, const char *name) {
    (void)category;
    (void)name;
    return 0;
}
void aw_profile_counter(aw_profile_id id, double value) {
    (void)id;
    (void)value;
}
void aw_profile_frame_mark(void) {}
void aw_profile_collect(void) {}
void aw_profile_reset_stats(void) {}
uint32_t aw_profile_zone_report(aw_profile_zone_stats *out, uint32_t max) {
    (void)out;
    (void)max;
    return 0;
}
bool aw_profile_zone_find(const char *category, const char *name, aw_profile_zone_stats *out) {
    (void)category;
    (void)name;
    (void)out;
    return false;
}
uint32_t aw_profile_counter_report(aw_profile_counter_stats *out, uint32_t max) {
    (void)out;
    (void)max;
    return 0;
}
aw_profile_summary aw_profile_get_summary(void) {
    return (aw_profile_summary){.clock = "none"};
}
aw_status aw_profile_print_report(FILE *out, uint32_t top_n) {
    (void)top_n;
    if (out) fprintf(out, "profiler: compiled out (AW_PROFILE=OFF)\n");
    return AW_OK;
}
double aw_profile_zone_cost_ns(uint32_t zones) {
    (void)zones;
    return 0.0;
}
aw_status aw_profile_write_trace(const char *path) {
    (void)path;
    return aw_error(AW_ERR_UNSUPPORTED,
                    "aw_profile_write_trace: the profiler is compiled out (AW_PROFILE=OFF)");
}

#endif
