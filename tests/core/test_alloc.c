/* Tests for the heap allocator's counters and alignment, huge blocks faulted in when allocated, the
 * stats diff, and the allocator wrappers with user allocators (counting, failing, and missing
 * realloc). */
#define _DEFAULT_SOURCE /* mincore */
#include "aw/core.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_allocator.h"

static void test_heap_counters_exact(void **state) {
    (void)state;
    aw_alloc_stats s0 = aw_heap_stats();
    void *p = aw_alloc(NULL, 100, 8);
    void *q = aw_alloc(NULL, 200, 64);
    assert_non_null(p);
    assert_non_null(q);
    void *r = aw_realloc(NULL, p, 100, 300, 8);
    assert_non_null(r);
    aw_alloc_stats d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.allocs, 2);
    assert_int_equal(d.reallocs, 1);
    assert_int_equal(d.frees, 0);
    assert_int_equal(d.failures, 0);
    assert_int_equal(d.live_bytes, 500);
    assert_int_equal(d.total_bytes, 500);

    /* Shrinking frees live bytes but requests nothing new. */
    r = aw_realloc(NULL, r, 300, 50, 8);
    assert_non_null(r);
    d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.reallocs, 2);
    assert_int_equal(d.live_bytes, 250);
    assert_int_equal(d.total_bytes, 500);

    aw_free(NULL, q, 200);
    aw_free(NULL, r, 50);
    aw_free(NULL, NULL, 123); /* not counted */
    d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.allocs, 2);
    assert_int_equal(d.frees, 2);
    assert_int_equal(d.live_bytes, 0);
    assert_int_equal(aw_heap_stats().live_bytes, s0.live_bytes);
}

static void test_heap_peak(void **state) {
    (void)state;
    aw_alloc_stats s0 = aw_heap_stats();
    /* Larger than any earlier peak, so the new peak is exactly this allocation on top of live. */
    size_t big = (size_t)(s0.peak_bytes - s0.live_bytes) + (1u << 20);
    void *p = aw_alloc(NULL, big, 16);
    assert_non_null(p);
    assert_int_equal(aw_heap_stats().peak_bytes, s0.live_bytes + big);
    void *q = aw_alloc(NULL, 64, 16);
    assert_int_equal(aw_heap_stats().peak_bytes, s0.live_bytes + big + 64);
    aw_free(NULL, p, big);
    aw_free(NULL, q, 64);
    aw_alloc_stats s1 = aw_heap_stats();
    assert_int_equal(s1.peak_bytes, s0.live_bytes + big + 64);
    assert_int_equal(s1.live_bytes, s0.live_bytes);
}

static void test_heap_failures(void **state) {
    (void)state;
    aw_clear_error();
    aw_alloc_stats s0 = aw_heap_stats();
    size_t huge = SIZE_MAX / 2;
    assert_null(aw_alloc(NULL, huge, 8));
    assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
    char want[64];
    snprintf(want, sizeof(want), "%zu", huge);
    assert_non_null(strstr(aw_last_error(), want));
    assert_null(aw_alloc(NULL, huge, 256));

    void *p = aw_alloc(NULL, 32, 8);
    memset(p, 0xab, 32);
    aw_clear_error();
    assert_null(aw_realloc(NULL, p, 32, huge, 8));
    assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
    /* A failed realloc leaves the block where it was. */
    for (int i = 0; i < 32; ++i) assert_int_equal(((unsigned char *)p)[i], 0xab);
    aw_free(NULL, p, 32);

    aw_alloc_stats d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.failures, 3);
    assert_int_equal(d.allocs, 1);
    assert_int_equal(d.reallocs, 0);
    assert_int_equal(d.live_bytes, 0);

    /* Alignment must be a power of two. */
    aw_clear_error();
    assert_null(aw_alloc(NULL, 16, 3));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    aw_clear_error();
}

static void test_alignment_and_realloc_contents(void **state) {
    (void)state;
    aw_alloc_stats s0 = aw_heap_stats();
    static const size_t sizes[] = {1, 3, 100, 5000};
    for (size_t align = 1; align <= 4096; align *= 2) {
        for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); ++si) {
            size_t n = sizes[si];
            unsigned char *p = aw_alloc(NULL, n, align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(i * 31 + align);
            p = aw_realloc(NULL, p, n, n * 3, align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            for (size_t i = 0; i < n; ++i) assert_int_equal(p[i], (unsigned char)(i * 31 + align));
            memset(p + n, 0, n * 2);
            p = aw_realloc(NULL, p, n * 3, (n + 1) / 2, align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            for (size_t i = 0; i < (n + 1) / 2; ++i) assert_int_equal(p[i], (unsigned char)(i * 31 + align));
            aw_free(NULL, p, (n + 1) / 2);
        }
    }
    /* Align 0 means "no requirement". */
    void *p = aw_alloc(NULL, 8, 0);
    assert_non_null(p);
    aw_free(NULL, p, 8);
    assert_int_equal(aw_heap_stats().live_bytes, s0.live_bytes);
}

static void test_zero_size(void **state) {
    (void)state;
    aw_alloc_stats s0 = aw_heap_stats();
    void *a = aw_alloc(NULL, 0, 8);
    void *b = aw_alloc(NULL, 0, 64);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    /* The heap allocator reached directly agrees with the wrappers on what size 0 means. */
    const aw_allocator *h = aw_heap_allocator();
    void *c = h->alloc(h->user, 0, 1);
    assert_non_null(c);
    h->free(h->user, c, 0);
    aw_free(NULL, a, 0);
    aw_free(NULL, b, 0);
    aw_alloc_stats d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.allocs, 3);
    assert_int_equal(d.frees, 3);
    assert_int_equal(d.live_bytes, 0);
}

static void test_stats_diff(void **state) {
    (void)state;
    aw_alloc_stats a = {.allocs = 10,
                        .reallocs = 2,
                        .frees = 4,
                        .failures = 1,
                        .live_bytes = 1000,
                        .peak_bytes = 5000,
                        .total_bytes = 9000};
    aw_alloc_stats b = {.allocs = 15,
                        .reallocs = 3,
                        .frees = 9,
                        .failures = 1,
                        .live_bytes = 700,
                        .peak_bytes = 6000,
                        .total_bytes = 9500};
    aw_alloc_stats d = aw_alloc_stats_diff(a, b);
    assert_int_equal(d.allocs, 5);
    assert_int_equal(d.reallocs, 1);
    assert_int_equal(d.frees, 5);
    assert_int_equal(d.failures, 0);
    assert_int_equal((int64_t)d.live_bytes, -300);
    assert_int_equal(d.peak_bytes, 6000);
    assert_int_equal(d.total_bytes, 500);
}

static void test_user_allocator_honoured(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, -1);
    aw_alloc_stats s0 = aw_heap_stats();

    void *p = aw_alloc(&t.base, 40, 128);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 128, 0);
    memset(p, 7, 40);
    p = aw_realloc(&t.base, p, 40, 400, 128);
    assert_non_null(p);
    assert_int_equal(((unsigned char *)p)[39], 7);
    void *q = aw_realloc(&t.base, NULL, 0, 16, 8); /* NULL ptr: plain alloc */
    assert_non_null(q);
    aw_free(&t.base, p, 400);
    aw_free(&t.base, q, 16);
    assert_int_equal(t.allocs, 2);
    assert_int_equal(t.reallocs, 1);
    assert_int_equal(t.frees, 2);
    assert_int_equal(t.live_bytes, 0);

    aw_alloc_stats d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.allocs, 0);
    assert_int_equal(d.frees, 0);

    /* A user allocator's failure is reported like the heap's. */
    t.fail_after = 0;
    aw_clear_error();
    assert_null(aw_alloc(&t.base, 10, 8));
    assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
    assert_int_equal(t.failures, 1);
    aw_clear_error();
}

static void test_user_allocator_without_realloc(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, -1);
    t.base.realloc = NULL;
    unsigned char *p = aw_alloc(&t.base, 64, 64);
    for (int i = 0; i < 64; ++i) p[i] = (unsigned char)i;
    p = aw_realloc(&t.base, p, 64, 256, 64);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    for (int i = 0; i < 64; ++i) assert_int_equal(p[i], i);
    p = aw_realloc(&t.base, p, 256, 8, 64);
    for (int i = 0; i < 8; ++i) assert_int_equal(p[i], i);
    aw_free(&t.base, p, 8);
    assert_int_equal(t.allocs, 3);
    assert_int_equal(t.frees, 3);
    assert_int_equal(t.live_bytes, 0);
}

#define THREADS    4
#define PER_THREAD 20000

static void *churn(void *arg) {
    (void)arg;
    for (int i = 0; i < PER_THREAD; ++i) {
        size_t n = (size_t)(i % 97) + 1;
        void *p = aw_alloc(NULL, n, (size_t)1 << (i % 8));
        if (!p) return p;
        aw_free(NULL, p, n);
    }
    return NULL;
}

static void test_counters_are_thread_safe(void **state) {
    (void)state;
    aw_alloc_stats s0 = aw_heap_stats();
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i) assert_int_equal(pthread_create(&threads[i], NULL, churn, NULL), 0);
    for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    aw_alloc_stats d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.allocs, THREADS * PER_THREAD);
    assert_int_equal(d.frees, THREADS * PER_THREAD);
    assert_int_equal(d.failures, 0);
    assert_int_equal(d.live_bytes, 0);
}

/* Pages of [p, p + size) not resident now (mincore), or -1 if it cannot tell. */
static long pages_missing(const void *p, size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page - 1), hi = (uintptr_t)p + size;
    size_t n = (hi - lo + page - 1) / page;
    unsigned char *vec = malloc(n);
    if (!vec || mincore((void *)lo, hi - lo, vec) != 0) {
        free(vec);
        return -1;
    }
    long missing = 0;
    for (size_t i = 0; i < n; i++) missing += !(vec[i] & 1);
    free(vec);
    return missing;
}

/* Blocks of 2 MiB and more come 2 MiB aligned and already faulted in, so the frame that first
 * writes to a reserved buffer pays no page faults (nor a huge-page compaction); a realloc to such
 * a size keeps the contents. */
static void test_huge_blocks_faulted_in(void **state) {
    (void)state;
    size_t size = ((size_t)6 << 20) + 123, bigger = ((size_t)9 << 20) + 5;
    unsigned char *p = aw_alloc(NULL, size, 8);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
    long missing = pages_missing(p, size);
    if (missing < 0) skip();
    assert_int_equal(missing, 0);
    for (size_t i = 0; i < size; i += 4093) p[i] = (unsigned char)(i * 7);
    unsigned char *q = aw_realloc(NULL, p, size, bigger, 8);
    assert_non_null(q);
    assert_int_equal(pages_missing(q, bigger), 0);
    for (size_t i = 0; i < size; i += 4093) assert_int_equal(q[i], (unsigned char)(i * 7));
    aw_free(NULL, q, bigger);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_counters_exact),
        cmocka_unit_test(test_heap_peak),
        cmocka_unit_test(test_heap_failures),
        cmocka_unit_test(test_alignment_and_realloc_contents),
        cmocka_unit_test(test_huge_blocks_faulted_in),
        cmocka_unit_test(test_zero_size),
        cmocka_unit_test(test_stats_diff),
        cmocka_unit_test(test_user_allocator_honoured),
        cmocka_unit_test(test_user_allocator_without_realloc),
        cmocka_unit_test(test_counters_are_thread_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
