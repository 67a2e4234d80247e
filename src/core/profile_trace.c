/* Profiler trace export: the kept records as Chrome Trace Event JSON (the format Perfetto and
 * chrome://tracing open), written by hand in one streaming pass: a trace can hold millions of
 * events, and a JSON tree of them would cost more than the trace itself. */
#include "core/profile_internal.h"

#if AW_PROFILE_ENABLED

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && c < 0xc2) return 0; /* overlong */
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; bytes that are not valid
 * UTF-8 become '?', so any name gives a file that strict parsers accept. */
static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputc('?', f);
            p++;
        } else if (n > 1) {
            fwrite(p, 1, n, f);
            p += n;
        } else if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p++, f);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p++);
        } else {
            fputc(*p++, f);
        }
    }
    fputc('"', f);
}

static int cmp_record(const void *pa, const void *pb) {
    const prof_record *a = pa, *b = pb;
    if (a->thread != b->thread) return a->thread < b->thread ? -1 : 1;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->dur != b->dur && a->kind == REC_ZONE && b->kind == REC_ZONE)
        return a->dur > b->dur ? -1 : 1; /* parent first */
    return a->depth < b->depth ? -1 : a->depth > b->depth;
}

static double ts_us(uint64_t ticks) {
    return ticks > prof_g.tick0 ? prof_ticks_to_ns(ticks - prof_g.tick0) * 1e-3 : 0.0;
}

/* Records sorted by thread, then start, parents before children: viewers nest complete events by
 * order, and records are kept in end order. */
static prof_record *sorted_records(uint64_t *count) {
    uint64_t n = prof_g.records;
    *count = n;
    prof_record *all = prof_alloc((n ? n : 1) * sizeof *all);
    if (!all) return NULL;
    for (uint64_t b = 0; b < prof_g.block_count; b++) {
        uint64_t first = b * PROF_TRACE_BLOCK,
                 len = n - first < PROF_TRACE_BLOCK ? n - first : PROF_TRACE_BLOCK;
        memcpy(all + first, prof_g.blocks[b], len * sizeof *all);
    }
    qsort(all, n, sizeof *all, cmp_record);
    return all;
}

static void write_events(FILE *f, const prof_record *all, uint64_t n) {
    uint32_t threads = atomic_load_explicit(&prof_g.thread_count, memory_order_relaxed);
    fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"AstraWeave-C profiler\",\"clock\":", f);
    aw_profile_clock clock = atomic_load_explicit(&prof_g.clock, memory_order_relaxed);
    put_string(f, clock == AW_PROFILE_CLOCK_TSC      ? "tsc"
                  : clock == AW_PROFILE_CLOCK_MANUAL ? "manual"
                                                     : "monotonic");
    uint64_t dropped = atomic_load_explicit(&prof_g.refused, memory_order_relaxed);
    for (uint32_t i = 0; i < threads; i++)
        dropped += atomic_load_explicit(&prof_g.threads[i]->dropped, memory_order_relaxed);
    fprintf(f, ",\"dropped_events\":%llu,\"trace_dropped\":%llu},\n\"traceEvents\":[\n",
            (unsigned long long)dropped, (unsigned long long)prof_g.trace_dropped);
    fputs("{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":", f);
    put_string(f, prof_g.process_name);
    fputs("}}", f);
    for (uint32_t i = 0; i < threads; i++) {
        const prof_thread *t = prof_g.threads[i];
        fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":\"thread_name\",\"args\":{\"name\":",
                t->index);
        put_string(f, t->name);
        fprintf(f,
                "}},\n{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":\"thread_sort_index\",\"args\":{\"sort_"
                "index\":%u}}",
                t->index, t->index);
    }
    for (uint64_t i = 0; i < n; i++) {
        const prof_record *r = &all[i];
        const prof_name *nm = prof_name_get(r->id);
        if (r->kind == REC_ZONE) {
            fprintf(f, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"name\":", r->thread,
                    ts_us(r->start), prof_ticks_to_ns(r->dur) * 1e-3);
            put_string(f, nm ? nm->name : "?");
            if (nm && nm->category[0]) {
                fputs(",\"cat\":", f);
                put_string(f, nm->category);
            }
            fputc('}', f);
        } else if (r->kind == REC_COUNTER) {
            double v;
            memcpy(&v, &r->dur, sizeof v);
            fprintf(f, ",\n{\"ph\":\"C\",\"pid\":1,\"tid\":%u,\"ts\":%.3f,\"name\":", r->thread,
                    ts_us(r->start));
            put_string(f, nm ? nm->name : "?");
            /* JSON has no NaN or infinity. */
            fprintf(f, ",\"args\":{\"value\":%.17g}}", v == v && v - v == 0.0 ? v : 0.0);
        } else {
            fprintf(f, ",\n{\"ph\":\"i\",\"s\":\"g\",\"pid\":1,\"tid\":%u,\"ts\":%.3f,\"name\":\"frame\"}",
                    r->thread, ts_us(r->start));
        }
    }
    fputs("\n]}\n", f);
}

aw_status aw_profile_write_trace(const char *path) {
    if (!path || !path[0]) return aw_error(AW_ERR_INVALID_ARG, "aw_profile_write_trace: path is empty");
    pthread_mutex_lock(&prof_g.lock);
    if (!prof_g.active) {
        pthread_mutex_unlock(&prof_g.lock);
        return aw_error(AW_ERR_INVALID_ARG, "aw_profile_write_trace: no profiling session is running");
    }
    if (!prof_g.trace) {
        pthread_mutex_unlock(&prof_g.lock);
        return aw_error(AW_ERR_INVALID_ARG,
                        "aw_profile_write_trace: the session keeps no trace (aw_profile_desc.trace)");
    }
    prof_collect_locked();
    uint64_t n = 0;
    prof_record *all = sorted_records(&n);
    if (!all) {
        pthread_mutex_unlock(&prof_g.lock);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_profile_write_trace: out of memory sorting %llu records",
                        (unsigned long long)n);
    }
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    aw_status st = AW_OK;
    if (!f) {
        st = aw_error(AW_ERR_IO, "aw_profile_write_trace: cannot open '%s' for writing", path);
    } else {
        write_events(f, all, n);
        bool failed = ferror(f) != 0;
        if (to_stdout ? fflush(f) != 0 : fclose(f) != 0) failed = true;
        if (failed) st = aw_error(AW_ERR_IO, "aw_profile_write_trace: writing '%s' failed", path);
    }
    prof_free(all, (n ? n : 1) * sizeof *all);
    pthread_mutex_unlock(&prof_g.lock);
    return st;
}

#else
typedef int aw_profile_trace_compiled_out_;
#endif
