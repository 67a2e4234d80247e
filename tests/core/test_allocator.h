/* A counting allocator for the core tests that can be told to fail after N allocations. It
 * calls libc directly, so the heap allocator's counters show only what the code under test did. */
#ifndef AW_TESTS_CORE_TEST_ALLOCATOR_H
#define AW_TESTS_CORE_TEST_ALLOCATOR_H

#include "aw/core.h"

#include <stdlib.h>
#include <string.h>

typedef struct test_allocator {
    aw_allocator base;  /* pass &t.base; base.user points back at the struct */
    int64_t fail_after; /* successful alloc/realloc calls left before every call fails; < 0: never */
    uint64_t allocs, reallocs, frees, failures;
    int64_t live_bytes;
} test_allocator;

static inline void *test_alloc_raw(size_t size, size_t align) {
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

static inline bool test_alloc_may_succeed(test_allocator *t) {
    if (t->fail_after == 0) {
        t->failures++;
        return false;
    }
    if (t->fail_after > 0) t->fail_after--;
    return true;
}

static inline void *test_alloc_fn(void *user, size_t size, size_t align) {
    test_allocator *t = user;
    if (!test_alloc_may_succeed(t)) return NULL;
    void *p = test_alloc_raw(size, align);
    if (!p) {
        t->failures++;
        return NULL;
    }
    t->allocs++;
    t->live_bytes += (int64_t)size;
    return p;
}

static inline void *test_realloc_fn(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    test_allocator *t = user;
    if (!test_alloc_may_succeed(t)) return NULL;
    void *p = test_alloc_raw(new_size, align);
    if (!p) {
        t->failures++;
        return NULL;
    }
    memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    free(ptr);
    t->reallocs++;
    t->live_bytes += (int64_t)new_size - (int64_t)old_size;
    return p;
}

static inline void test_free_fn(void *user, void *ptr, size_t size) {
    test_allocator *t = user;
    free(ptr);
    t->frees++;
    t->live_bytes -= (int64_t)size;
}

static inline void test_allocator_init(test_allocator *t, int64_t fail_after) {
    *t = (test_allocator){
        .base = {.alloc = test_alloc_fn, .realloc = test_realloc_fn, .free = test_free_fn, .user = t},
        .fail_after = fail_after,
    };
}

/* Sanitizers abort on absurd sizes by default; the OOM tests want malloc's NULL instead. */
#ifdef AW_SANITIZED
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1";
}
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) {
    return "allocator_may_return_null=1";
}
#endif

#endif /* AW_TESTS_CORE_TEST_ALLOCATOR_H */
