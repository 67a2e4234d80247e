/* Profiler aggregation: drains the per-thread rings, pairs begins with ends into zone statistics
 * (count, total, self, histogram for p95), keeps trace records, and prints the hotspot report. */
#include "core/profile_internal.h"

#if AW_PROFILE_ENABLED

#include <string.h>

/* ---------------------------------------------------------------- histogram */

static uint32_t bucket_of(uint64_t v) {
    if (v < PROF_HIST_SUB) return (uint32_t)v;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(v); /* e >= 5 */
    uint32_t sub = (uint32_t)(v >> (e - 5u)) & (PROF_HIST_SUB - 1u);
    return (e - 4u) * PROF_HIST_SUB + sub;
}

/* Lower edge and width of bucket b (b >= PROF_HIST_SUB). */
static void bucket_range(uint32_t b, double *low, double *width) {
    uint32_t e = b / PROF_HIST_SUB + 4u, sub = b % PROF_HIST_SUB;
    *width = (double)(1ull << (e - 5u));
    *low = (double)(PROF_HIST_SUB + sub) * *width;
}

void prof_hist_add(prof_hist *h, uint64_t ns) {
    h->count++;
    h->buckets[bucket_of(ns)]++;
}

/* The value of rank ceil(q * count), as the middle of its bucket (at most half a bucket, about
 * 1.6%, off), never above the largest value seen. */
double prof_hist_quantile(const prof_hist *h, double q, double max_ns) {
    if (!h->count) return 0.0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < PROF_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen < rank) continue;
        if (b < PROF_HIST_SUB) return (double)b;
        double low, width;
        bucket_range(b, &low, &width);
        double mid = low + width * 0.5;
        return mid < max_ns ? mid : max_ns;
    }
    return max_ns;
}

/* ---------------------------------------------------------------- collection */

static prof_agg *agg_for(aw_profile_id id) {
    if (!id || id > PROF_MAX_NAMES) return NULL;
    if (!prof_g.agg[id]) prof_g.agg[id] = prof_alloc(sizeof(prof_agg));
    return prof_g.agg[id];
}

static void trace_add(uint8_t kind, uint64_t start, uint64_t dur, aw_profile_id id, uint32_t thread,
                      uint32_t depth) {
    if (!prof_g.trace) return;
    if (prof_g.records >= prof_g.trace_limit) {
        prof_g.trace_dropped++;
        return;
    }
    uint64_t block = prof_g.records / PROF_TRACE_BLOCK;
    if (block == prof_g.block_count) {
        if (prof_g.block_count == prof_g.block_capacity) {
            uint64_t cap = prof_g.block_capacity ? prof_g.block_capacity * 2 : 16;
            prof_record **grown = prof_alloc(cap * sizeof *grown);
            if (!grown) {
                prof_g.trace_dropped++;
                return;
            }
            if (prof_g.block_count) memcpy(grown, prof_g.blocks, prof_g.block_count * sizeof *grown);
            prof_free(prof_g.blocks, prof_g.block_capacity * sizeof *grown);
            prof_g.blocks = grown;
            prof_g.block_capacity = cap;
        }
        prof_record *b = prof_alloc(PROF_TRACE_BLOCK * sizeof(prof_record));
        if (!b) {
            prof_g.trace_dropped++;
            return;
        }
        prof_g.blocks[prof_g.block_count++] = b;
    }
    prof_g.blocks[block][prof_g.records % PROF_TRACE_BLOCK] = (prof_record){.start = start,
                                                                            .dur = dur,
                                                                            .id = id,
                                                                            .thread = (uint16_t)thread,
                                                                            .kind = kind,
                                                                            .depth = (uint8_t)depth};
    prof_g.records++;
}

static void zone_done(prof_thread *t, uint64_t end_ts) {
    prof_open *o = &t->stack[--t->stack_depth];
    uint64_t dur = end_ts > o->start ? end_ts - o->start : 0;
    uint64_t self = dur > o->child ? dur - o->child : 0;
    if (t->stack_depth) t->stack[t->stack_depth - 1].child += dur;
    prof_agg *a = agg_for(o->id);
    if (a) {
        a->count++;
        a->total_ticks += dur;
        a->self_ticks += self;
        if (dur > a->max_ticks) a->max_ticks = dur;
        prof_hist_add(&a->hist, (uint64_t)prof_ticks_to_ns(dur));
    }
    trace_add(REC_ZONE, o->start, dur, o->id, t->index, t->stack_depth);
}

static void counter_done(prof_thread *t, uint64_t ts, aw_profile_id id, uint64_t bits) {
    double v;
    memcpy(&v, &bits, sizeof v);
    prof_agg *a = agg_for(id);
    if (a) {
        if (!a->counter_count || v < a->counter_min) a->counter_min = v;
        if (!a->counter_count || v > a->counter_max) a->counter_max = v;
        a->counter_count++;
        a->counter_last = v;
        a->counter_sum += v;
    }
    trace_add(REC_COUNTER, ts, bits, id, t->index, 0);
}

static void frame_done(prof_thread *t, uint64_t ts) {
    if (t->last_frame && ts > t->last_frame) {
        uint64_t dur = ts - t->last_frame;
        prof_g.frame_count++;
        prof_g.frame_total_ticks += dur;
        if (dur > prof_g.frame_max_ticks) prof_g.frame_max_ticks = dur;
        prof_hist_add(&prof_g.frame_hist, (uint64_t)prof_ticks_to_ns(dur));
    }
    t->last_frame = ts;
    trace_add(REC_FRAME, ts, 0, 0, t->index, 0);
}

/* The writer never lets the stack pass PROF_MAX_DEPTH recorded begins, and every recorded end
 * closes the innermost recorded begin, so pairing is a plain stack. */
static void drain(prof_thread *t) {
    uint64_t head = atomic_load_explicit(&t->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
    for (uint64_t i = tail; i < head; i++) {
        const prof_event *e = &t->events[i & t->mask];
        prof_g.events++;
        switch (e->kind) {
        case EV_BEGIN:
            if (t->stack_depth < PROF_MAX_DEPTH)
                t->stack[t->stack_depth++] = (prof_open){.id = e->id, .start = e->ts};
            break;
        case EV_END:
            if (t->stack_depth) zone_done(t, e->ts);
            break;
        case EV_COUNTER:
            if (i + 1 < head) {
                counter_done(t, e->ts, e->id, t->events[(i + 1) & t->mask].ts);
                i++;
            }
            break;
        case EV_FRAME:
            frame_done(t, e->ts);
            break;
        default:
            break;
        }
    }
    atomic_store_explicit(&t->tail, head, memory_order_release);
}

void prof_collect_locked(void) {
    if (!prof_g.active) return;
    prof_calibrate();
    uint32_t n = atomic_load_explicit(&prof_g.thread_count, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) drain(prof_g.threads[i]);
}

void aw_profile_collect(void) {
    pthread_mutex_lock(&prof_g.lock);
    prof_collect_locked();
    pthread_mutex_unlock(&prof_g.lock);
}

void prof_free_collected(void) {
    for (uint32_t i = 0; i <= PROF_MAX_NAMES; i++) {
        prof_free(prof_g.agg[i], sizeof(prof_agg));
        prof_g.agg[i] = NULL;
    }
    for (uint64_t b = 0; b < prof_g.block_count; b++)
        prof_free(prof_g.blocks[b], PROF_TRACE_BLOCK * sizeof(prof_record));
    prof_free(prof_g.blocks, prof_g.block_capacity * sizeof(prof_record *));
    prof_g.blocks = NULL;
    prof_g.block_count = prof_g.block_capacity = 0;
    prof_g.records = prof_g.trace_dropped = 0;
}

void aw_profile_reset_stats(void) {
    pthread_mutex_lock(&prof_g.lock);
    prof_collect_locked();
    for (uint32_t i = 0; i <= PROF_MAX_NAMES; i++)
        if (prof_g.agg[i]) memset(prof_g.agg[i], 0, sizeof(prof_agg));
    prof_g.frame_hist = (prof_hist){0};
    prof_g.frame_count = prof_g.frame_total_ticks = prof_g.frame_max_ticks = 0;
    pthread_mutex_unlock(&prof_g.lock);
}

/* ---------------------------------------------------------------- reports */

static aw_profile_zone_stats zone_stats(aw_profile_id id, const prof_agg *a) {
    const prof_name *n = prof_name_get(id);
    aw_profile_zone_stats s = {
        .id = id,
        .name = n ? n->name : "?",
        .category = n ? n->category : "",
        .count = a->count,
        .total_ns = prof_ticks_to_ns(a->total_ticks),
        .self_ns = prof_ticks_to_ns(a->self_ticks),
        .max_ns = prof_ticks_to_ns(a->max_ticks),
    };
    s.mean_ns = a->count ? s.total_ns / (double)a->count : 0.0;
    s.p95_ns = prof_hist_quantile(&a->hist, 0.95, s.max_ns);
    return s;
}

uint32_t aw_profile_zone_report(aw_profile_zone_stats *out, uint32_t max) {
    pthread_mutex_lock(&prof_g.lock);
    prof_collect_locked();
    uint32_t total = 0, kept = 0;
    for (aw_profile_id id = 1; id <= PROF_MAX_NAMES; id++) {
        const prof_agg *a = prof_g.agg[id];
        if (!a || !a->count) continue;
        total++;
        if (!out || !max) continue;
        /* Insertion into the top-`max` list, largest total first: zones are few. */
        uint64_t ticks = a->total_ticks;
        uint32_t pos = kept;
        while (pos > 0 && prof_g.agg[out[pos - 1].id]->total_ticks < ticks) pos--;
        if (pos >= max) continue;
        uint32_t last = kept < max ? kept : max - 1;
        memmove(out + pos + 1, out + pos, (last - pos) * sizeof *out);
        out[pos] = zone_stats(id, a);
        if (kept < max) kept++;
    }
    pthread_mutex_unlock(&prof_g.lock);
    return total;
}

bool aw_profile_zone_find(const char *category, const char *name, aw_profile_zone_stats *out) {
    if (!name) return false;
    aw_profile_id id = aw_profile_intern(category, name);
    pthread_mutex_lock(&prof_g.lock);
    prof_collect_locked();
    const prof_agg *a = id <= PROF_MAX_NAMES ? prof_g.agg[id] : NULL;
    bool found = a && a->count;
    if (found && out) *out = zone_stats(id, a);
    pthread_mutex_unlock(&prof_g.lock);
    return found;
}

uint32_t aw_profile_counter_report(aw_profile_counter_stats *out, uint32_t max) {
    pthread_mutex_lock(&prof_g.lock);
    prof_collect_locked();
    uint32_t total = 0;
    for (aw_profile_id id = 1; id <= PROF_MAX_NAMES; id++) {
        const prof_agg *a = prof_g.agg[id];
        if (!a || !a->counter_count) continue;
        if (out && total < max) {
            const prof_name *n = prof_name_get(id);
            out[total] = (aw_profile_counter_stats){.id = id,
                                                    .name = n ? n->name : "?",
                                                    .category = n ? n->category : "",
                                                    .count = a->counter_count,
                                                    .last = a->counter_last,
                                                    .min = a->counter_min,
                                                    .max = a->counter_max,
                                                    .mean = a->counter_sum / (double)a->counter_count};
        }
        total++;
    }
    pthread_mutex_unlock(&prof_g.lock);
    return total;
}

static const char *clock_name(aw_profile_clock c) {
    switch (c) {
    case AW_PROFILE_CLOCK_TSC:
        return "tsc";
    case AW_PROFILE_CLOCK_MONOTONIC:
        return "monotonic";
    case AW_PROFILE_CLOCK_MANUAL:
        return "manual";
    default:
        return "none";
    }
}

aw_profile_summary aw_profile_get_summary(void) {
    pthread_mutex_lock(&prof_g.lock);
    prof_collect_locked();
    aw_profile_summary s = {.active = prof_g.active, .names = prof_name_count(), .memory = prof_g.memory};
    s.clock = prof_g.active ? clock_name(atomic_load_explicit(&prof_g.clock, memory_order_relaxed)) : "none";
    if (prof_g.active) {
        s.threads = atomic_load_explicit(&prof_g.thread_count, memory_order_relaxed);
        s.frames = prof_g.frame_count;
        double max_ns = prof_ticks_to_ns(prof_g.frame_max_ticks);
        s.frame_mean_ns = s.frames ? prof_ticks_to_ns(prof_g.frame_total_ticks) / (double)s.frames : 0.0;
        s.frame_p95_ns = prof_hist_quantile(&prof_g.frame_hist, 0.95, max_ns);
        s.frame_max_ns = max_ns;
        s.events = prof_g.events;
        s.dropped = atomic_load_explicit(&prof_g.refused, memory_order_relaxed);
        for (uint32_t i = 0; i < s.threads; i++)
            s.dropped += atomic_load_explicit(&prof_g.threads[i]->dropped, memory_order_relaxed);
        s.trace_records = prof_g.records;
        s.trace_dropped = prof_g.trace_dropped;
    }
    pthread_mutex_unlock(&prof_g.lock);
    return s;
}

aw_status aw_profile_print_report(FILE *out, uint32_t top_n) {
    if (!out) return aw_error(AW_ERR_INVALID_ARG, "aw_profile_print_report: out is NULL");
    if (!top_n) top_n = 10;
    if (top_n > 256) top_n = 256;
    aw_profile_zone_stats zones[256];
    uint32_t total = aw_profile_zone_report(zones, top_n);
    aw_profile_summary s = aw_profile_get_summary();
    fprintf(
        out,
        "profile: %llu frames (mean %.3f ms, p95 %.3f ms), %u threads, clock %s, %llu events, %llu dropped\n",
        (unsigned long long)s.frames, s.frame_mean_ns * 1e-6, s.frame_p95_ns * 1e-6, s.threads, s.clock,
        (unsigned long long)s.events, (unsigned long long)s.dropped);
    uint32_t shown = total < top_n ? total : top_n;
    fprintf(out, "top %u of %u zones by total time:\n", shown, total);
    fprintf(out, "%4s  %-28s %-10s %10s %11s %11s %10s %10s %10s\n", "rank", "zone", "category", "count",
            "total ms", "self ms", "mean us", "p95 us", "max us");
    for (uint32_t i = 0; i < shown; i++) {
        const aw_profile_zone_stats *z = &zones[i];
        fprintf(out, "%4u  %-28.28s %-10.10s %10llu %11.3f %11.3f %10.3f %10.3f %10.3f\n", i + 1, z->name,
                z->category, (unsigned long long)z->count, z->total_ns * 1e-6, z->self_ns * 1e-6,
                z->mean_ns * 1e-3, z->p95_ns * 1e-3, z->max_ns * 1e-3);
    }
    aw_profile_counter_stats counters[64];
    uint32_t nc = aw_profile_counter_report(counters, 64);
    if (nc) {
        fprintf(out, "counters:\n%-34s %12s %12s %12s %12s\n", "name", "last", "min", "max", "mean");
        for (uint32_t i = 0; i < nc && i < 64; i++)
            fprintf(out, "%-34.34s %12.6g %12.6g %12.6g %12.6g\n", counters[i].name, counters[i].last,
                    counters[i].min, counters[i].max, counters[i].mean);
    }
    return ferror(out) ? aw_error(AW_ERR_IO, "aw_profile_print_report: write failed") : AW_OK;
}

#else
typedef int aw_profile_collect_compiled_out_;
#endif
