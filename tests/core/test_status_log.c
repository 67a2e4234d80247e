/* Tests for status strings, the thread-local last error and the logger (level filter, custom
 * and default sinks, sink swaps racing with log calls). */
#include "aw/core.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_status_strings_distinct(void **state) {
    (void)state;
    for (int i = 0; i < AW_STATUS_COUNT; ++i) {
        const char *s = aw_status_str((aw_status)i);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown status");
        for (int j = 0; j < i; ++j) assert_string_not_equal(s, aw_status_str((aw_status)j));
    }
    assert_string_equal(aw_status_str(AW_OK), "ok");
    assert_string_equal(aw_status_str(AW_ERR_OUT_OF_MEMORY), "out of memory");
    assert_string_equal(aw_status_str(AW_STATUS_COUNT), "unknown status");
    assert_string_equal(aw_status_str((aw_status)-1), "unknown status");
    assert_string_equal(aw_status_str((aw_status)1000), "unknown status");
}

static void test_error_records_status_and_message(void **state) {
    (void)state;
    aw_clear_error();
    assert_int_equal(aw_last_status(), AW_OK);
    assert_string_equal(aw_last_error(), "");

    assert_int_equal(aw_error(AW_ERR_INVALID_ARG, "count is %d", 5), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_string_equal(aw_last_error(), "count is 5");

    /* Wrapping the previous message must work even though it aliases the destination. */
    aw_error(AW_ERR_IO, "loading level: %s", aw_last_error());
    assert_int_equal(aw_last_status(), AW_ERR_IO);
    assert_string_equal(aw_last_error(), "loading level: count is 5");

    aw_error(AW_ERR_PARSE, NULL);
    assert_string_equal(aw_last_error(), "parse error");
    aw_error(AW_ERR_NOT_FOUND, "%s", "");
    assert_string_equal(aw_last_error(), "");
    assert_int_equal(aw_last_status(), AW_ERR_NOT_FOUND);

    aw_clear_error();
    assert_int_equal(aw_last_status(), AW_OK);
    assert_string_equal(aw_last_error(), "");
}

static void test_error_truncates_long_messages(void **state) {
    (void)state;
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    aw_error(AW_ERR_CAPACITY, "%s", big);
    const char *msg = aw_last_error();
    size_t n = strlen(msg);
    assert_true(n > 100 && n < 1024);
    assert_memory_equal(msg, big, n - 3);
    assert_string_equal(msg + n - 3, "...");

    /* A message that fits exactly is not marked. */
    big[n] = '\0';
    aw_error(AW_ERR_CAPACITY, "%s", big);
    assert_string_equal(aw_last_error(), big);
    aw_clear_error();
}

typedef struct thread_result {
    aw_status initial_status;
    char initial_message[64];
    aw_status final_status;
    char final_message[64];
} thread_result;

static void *error_thread(void *arg) {
    thread_result *r = arg;
    r->initial_status = aw_last_status();
    snprintf(r->initial_message, sizeof(r->initial_message), "%s", aw_last_error());
    aw_error(AW_ERR_LOCKED, "thread %d", 2);
    r->final_status = aw_last_status();
    snprintf(r->final_message, sizeof(r->final_message), "%s", aw_last_error());
    return NULL;
}

static void test_error_is_thread_local(void **state) {
    (void)state;
    aw_error(AW_ERR_NOT_FOUND, "main %d", 1);
    thread_result r;
    memset(&r, 0, sizeof(r));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, error_thread, &r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.initial_status, AW_OK);
    assert_string_equal(r.initial_message, "");
    assert_int_equal(r.final_status, AW_ERR_LOCKED);
    assert_string_equal(r.final_message, "thread 2");
    assert_int_equal(aw_last_status(), AW_ERR_NOT_FOUND);
    assert_string_equal(aw_last_error(), "main 1");
    aw_clear_error();
}

typedef struct log_capture {
    int calls;
    aw_log_level level;
    char file[256];
    int line;
    char message[2048];
} log_capture;

static void capture_sink(void *user, aw_log_level level, const char *file, int line, const char *message) {
    log_capture *c = user;
    c->calls++;
    c->level = level;
    snprintf(c->file, sizeof(c->file), "%s", file);
    c->line = line;
    snprintf(c->message, sizeof(c->message), "%s", message);
}

static void test_log_level_filter_and_sink(void **state) {
    (void)state;
    log_capture cap;
    memset(&cap, 0, sizeof(cap));
    assert_int_equal(aw_log_get_level(), AW_LOG_INFO);
    aw_log_set_sink(capture_sink, &cap);

    AW_LOGD("hidden %d", 1);
    assert_int_equal(cap.calls, 0);
    AW_LOGI("shown %d", 2);
    int line = __LINE__ - 1;
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.level, AW_LOG_INFO);
    assert_string_equal(cap.message, "shown 2");
    assert_string_equal(cap.file, __FILE__);
    assert_int_equal(cap.line, line);

    aw_log_set_level(AW_LOG_WARN);
    assert_int_equal(aw_log_get_level(), AW_LOG_WARN);
    AW_LOGI("hidden");
    assert_int_equal(cap.calls, 1);
    AW_LOGW("warn");
    AW_LOGE("error %s", "x");
    assert_int_equal(cap.calls, 3);
    assert_int_equal(cap.level, AW_LOG_ERROR);
    assert_string_equal(cap.message, "error x");

    /* AW_LOG_OFF is a threshold, not a level one can log at. */
    aw_log_set_level(AW_LOG_TRACE);
    AW_LOG(AW_LOG_TRACE, "trace");
    assert_int_equal(cap.calls, 4);
    aw_log_write(AW_LOG_OFF, __FILE__, __LINE__, "never");
    aw_log_write((aw_log_level)42, __FILE__, __LINE__, "never");
    assert_int_equal(cap.calls, 4);
    aw_log_set_level(AW_LOG_OFF);
    AW_LOGE("off");
    assert_int_equal(cap.calls, 4);

    /* Out-of-range levels clamp instead of corrupting the filter. */
    aw_log_set_level((aw_log_level)77);
    assert_int_equal(aw_log_get_level(), AW_LOG_OFF);
    aw_log_set_level((aw_log_level)-3);
    assert_int_equal(aw_log_get_level(), AW_LOG_TRACE);

    char big[3000];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    AW_LOGW("%s", big);
    size_t n = strlen(cap.message);
    assert_true(n >= 256 && n < sizeof(big) - 1);
    assert_string_equal(cap.message + n - 3, "...");

    assert_string_equal(aw_log_level_str(AW_LOG_TRACE), "TRACE");
    assert_string_equal(aw_log_level_str(AW_LOG_WARN), "WARN");
    assert_string_equal(aw_log_level_str(AW_LOG_OFF), "OFF");
    assert_string_equal(aw_log_level_str((aw_log_level)99), "?");

    aw_log_set_sink(NULL, NULL);
    aw_log_set_level(AW_LOG_INFO);
}

static void test_log_default_sink_format(void **state) {
    (void)state;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);

    AW_LOGW("hello %d", 42);
    int line = __LINE__ - 1;
    AW_LOGD("dropped");
    fflush(stderr);

    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    char got[256] = {0};
    rewind(tmp);
    size_t n = fread(got, 1, sizeof(got) - 1, tmp);
    fclose(tmp);
    char want[256];
    snprintf(want, sizeof(want), "[WARN] test_status_log.c:%d: hello 42\n", line);
    assert_int_equal(n, strlen(want));
    assert_string_equal(got, want);
}

/* Two sinks, each of which must always be paired with its own user pointer. */
static int tag_a, tag_b;
static _Atomic int mismatches, deliveries;

static void sink_a(void *user, aw_log_level level, const char *file, int line, const char *message) {
    if (user != &tag_a) mismatches++;
    deliveries++;
}

static void sink_b(void *user, aw_log_level level, const char *file, int line, const char *message) {
    if (user != &tag_b) mismatches++;
    deliveries++;
}

static _Atomic int stop_logging;

static void *swap_thread(void *arg) {
    (void)arg;
    /* Start swapping only once the logger runs, so the two really overlap on any scheduler. */
    while (deliveries == 0) sched_yield();
    for (int i = 0; i < 20000; ++i) {
        if (i & 1)
            aw_log_set_sink(sink_a, &tag_a);
        else
            aw_log_set_sink(sink_b, &tag_b);
    }
    stop_logging = 1;
    return NULL;
}

static void *log_thread(void *arg) {
    (void)arg;
    while (!stop_logging) AW_LOGE("race");
    return NULL;
}

static void test_log_sink_swap_is_consistent(void **state) {
    (void)state;
    aw_log_set_sink(sink_a, &tag_a);
    stop_logging = 0;
    pthread_t swapper, logger;
    assert_int_equal(pthread_create(&logger, NULL, log_thread, NULL), 0);
    assert_int_equal(pthread_create(&swapper, NULL, swap_thread, NULL), 0);
    pthread_join(swapper, NULL);
    pthread_join(logger, NULL);
    aw_log_set_sink(NULL, NULL);
    assert_int_equal(mismatches, 0);
    assert_true(deliveries > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_strings_distinct),
        cmocka_unit_test(test_error_records_status_and_message),
        cmocka_unit_test(test_error_truncates_long_messages),
        cmocka_unit_test(test_error_is_thread_local),
        cmocka_unit_test(test_log_level_filter_and_sink),
        cmocka_unit_test(test_log_default_sink_format),
        cmocka_unit_test(test_log_sink_swap_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
