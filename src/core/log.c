/* Process-wide logging: a level filter and a replaceable sink. Messages are formatted on the
 * stack so logging never touches the heap. */
#include "aw/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define AW_LOG_MESSAGE_SIZE 1024

static atomic_int log_level = AW_LOG_INFO;

/* The sink and its user pointer must be seen as a pair, so they sit behind a sequence lock:
 * readers (every log call) never block, and a writer racing a reader costs only a retry. */
static _Atomic(aw_log_fn) log_sink; /* zero-initialised: NULL, the default sink */
static _Atomic(void *) log_user;
static atomic_uint log_seq = 0;
static atomic_flag log_writer = ATOMIC_FLAG_INIT;

static const char *const level_strings[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
_Static_assert(sizeof(level_strings) / sizeof(level_strings[0]) == AW_LOG_OFF + 1,
               "level_strings must cover every aw_log_level");

const char *aw_log_level_str(aw_log_level level) {
    if ((unsigned)level > (unsigned)AW_LOG_OFF) return "?";
    return level_strings[level];
}

void aw_log_set_level(aw_log_level level) {
    if ((int)level < (int)AW_LOG_TRACE) level = AW_LOG_TRACE;
    if ((int)level > (int)AW_LOG_OFF) level = AW_LOG_OFF;
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

aw_log_level aw_log_get_level(void) {
    return (aw_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void aw_log_set_sink(aw_log_fn sink, void *user) {
    /* Writers are rare (setup time), so a spin is enough to keep two of them apart. */
    while (atomic_flag_test_and_set_explicit(&log_writer, memory_order_acquire)) {
    }
    /* Release stores (not fences, which ThreadSanitizer cannot model): a reader that sees
     * either new word also sees the odd sequence number stored before it. */
    unsigned seq = atomic_load_explicit(&log_seq, memory_order_relaxed);
    atomic_store_explicit(&log_seq, seq + 1, memory_order_relaxed);
    atomic_store_explicit(&log_sink, sink, memory_order_release);
    atomic_store_explicit(&log_user, user, memory_order_release);
    atomic_store_explicit(&log_seq, seq + 2, memory_order_release);
    atomic_flag_clear_explicit(&log_writer, memory_order_release);
}

static void load_sink(aw_log_fn *sink, void **user) {
    for (;;) {
        unsigned before = atomic_load_explicit(&log_seq, memory_order_acquire);
        if (before & 1u) continue;
        /* Acquire loads keep the second sequence read after them. */
        *sink = atomic_load_explicit(&log_sink, memory_order_acquire);
        *user = atomic_load_explicit(&log_user, memory_order_acquire);
        if (atomic_load_explicit(&log_seq, memory_order_relaxed) == before) return;
    }
}

static void default_sink(aw_log_level level, const char *file, int line, const char *message) {
    /* Build systems pass absolute paths in __FILE__; the base name is what a reader needs. */
    const char *base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : (file ? file : "?");
    fprintf(stderr, "[%s] %s:%d: %s\n", aw_log_level_str(level), base, line, message);
}

void aw_log_write(aw_log_level level, const char *file, int line, const char *fmt, ...) {
    if ((unsigned)level >= (unsigned)AW_LOG_OFF) return;
    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed)) return;

    char message[AW_LOG_MESSAGE_SIZE];
    message[0] = '\0';
    if (fmt) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(message, sizeof(message), fmt, args);
        va_end(args);
        if (n < 0)
            message[0] = '\0';
        else if ((size_t)n >= sizeof(message))
            memcpy(message + sizeof(message) - 4, "...", 4);
    }

    aw_log_fn sink;
    void *user;
    load_sink(&sink, &user);
    if (sink)
        sink(user, level, file, line, message);
    else
        default_sink(level, file, line, message);
}
