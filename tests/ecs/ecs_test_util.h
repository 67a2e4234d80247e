/* Shared helpers for the ECS tests: a checking, counting allocator that can be told to fail,
 * error-reporting assertions and small world/component helpers. Header-only (static inline). */
#ifndef AW_ECS_TEST_UTIL_H
#define AW_ECS_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aw/ecs.h"

/* ---------------------------------------------------------------- test allocator */

/* Every block carries a hidden header in front of it so that the size the engine passes back on
 * free/realloc can be checked, and fresh memory is filled with garbage so code relying on zeroed
 * allocations shows up. `fail_after` is the number of further alloc/realloc calls that succeed
 * (UINT64_MAX: never fail). */
typedef struct test_alloc {
    uint64_t allocs;      /* successful alloc calls */
    uint64_t reallocs;    /* successful realloc calls */
    uint64_t frees;       /* free calls with a non-NULL pointer */
    uint64_t failures;    /* calls refused because of fail_after */
    uint64_t live_bytes;  /* bytes currently allocated */
    uint64_t live_blocks; /* blocks currently allocated */
    uint64_t bad_calls;   /* size/alignment/header mismatches seen (must stay 0) */
    uint64_t fail_after;
    aw_allocator iface;
} test_alloc;

#define TEST_ALLOC_MAGIC 0x5eedA110c8edB10cull
#define TEST_ALLOC_HDR   64u /* bytes reserved in front of the user pointer (>= header struct) */

typedef struct test_alloc_hdr {
    uint64_t magic;
    uint64_t size;
    uint64_t align;
    uint64_t offset; /* user pointer - base pointer */
} test_alloc_hdr;

static inline test_alloc_hdr *test_alloc_hdr_of(void *ptr) {
    return (test_alloc_hdr *)((unsigned char *)ptr - sizeof(test_alloc_hdr));
}

static inline bool test_alloc_take_budget(test_alloc *ta) {
    if (ta->fail_after == UINT64_MAX) return true;
    if (ta->fail_after == 0) {
        ta->failures++;
        return false;
    }
    ta->fail_after--;
    return true;
}

static inline void *test_alloc_raw(test_alloc *ta, size_t size, size_t align) {
    if (align == 0 || (align & (align - 1)) != 0) {
        ta->bad_calls++;
        align = 16;
    }
    size_t offset = align > TEST_ALLOC_HDR ? align : TEST_ALLOC_HDR;
    size_t base_align = align > 16 ? align : 16;
    size_t total = offset + size;
    total = (total + base_align - 1) & ~(base_align - 1);
    unsigned char *base = aligned_alloc(base_align, total);
    if (!base) return NULL;
    unsigned char *user = base + offset;
    test_alloc_hdr *h = test_alloc_hdr_of(user);
    h->magic = TEST_ALLOC_MAGIC;
    h->size = size;
    h->align = align;
    h->offset = offset;
    memset(user, 0xCD, size); /* garbage: the engine must not assume zeroed memory */
    ta->live_bytes += size;
    ta->live_blocks++;
    return user;
}

/* Returns false (and counts a bad call) if ptr was not handed out with this size. */
static inline bool test_alloc_release(test_alloc *ta, void *ptr, size_t size) {
    test_alloc_hdr *h = test_alloc_hdr_of(ptr);
    if (h->magic != TEST_ALLOC_MAGIC || h->size != size) {
        ta->bad_calls++;
        fprintf(stderr, "test_alloc: bad free/realloc of %p: passed size %zu, allocated %llu%s\n", ptr, size,
                (unsigned long long)h->size, h->magic != TEST_ALLOC_MAGIC ? " (bad header)" : "");
        if (h->magic != TEST_ALLOC_MAGIC) return false;
    }
    size_t real = (size_t)h->size;
    memset(ptr, 0xDD, real);
    h->magic = 0;
    ta->live_bytes -= real;
    ta->live_blocks--;
    free((unsigned char *)ptr - h->offset);
    return true;
}

static inline void *test_alloc_alloc_fn(void *user, size_t size, size_t align) {
    test_alloc *ta = user;
    if (!test_alloc_take_budget(ta)) return NULL;
    void *p = test_alloc_raw(ta, size, align);
    if (p) ta->allocs++;
    return p;
}

static inline void *test_alloc_realloc_fn(void *user, void *ptr, size_t old_size, size_t new_size,
                                          size_t align) {
    test_alloc *ta = user;
    if (!test_alloc_take_budget(ta)) return NULL;
    void *p = test_alloc_raw(ta, new_size, align);
    if (!p) return NULL;
    if (ptr) {
        test_alloc_hdr *h = test_alloc_hdr_of(ptr);
        size_t keep = old_size < new_size ? old_size : new_size;
        if (h->magic == TEST_ALLOC_MAGIC && h->size < keep) keep = (size_t)h->size;
        memcpy(p, ptr, keep);
        test_alloc_release(ta, ptr, old_size);
    }
    ta->reallocs++;
    return p;
}

static inline void test_alloc_free_fn(void *user, void *ptr, size_t size) {
    test_alloc *ta = user;
    if (!ptr) return;
    ta->frees++;
    test_alloc_release(ta, ptr, size);
}

static inline void test_alloc_init(test_alloc *ta) {
    memset(ta, 0, sizeof *ta);
    ta->fail_after = UINT64_MAX;
    ta->iface.alloc = test_alloc_alloc_fn;
    ta->iface.realloc = test_alloc_realloc_fn;
    ta->iface.free = test_alloc_free_fn;
    ta->iface.user = ta;
}

/* Allocation calls (successful or not) so far: what "zero allocations" counts. */
static inline uint64_t test_alloc_calls(const test_alloc *ta) {
    return ta->allocs + ta->reallocs + ta->failures;
}

/* ---------------------------------------------------------------- worlds */

/* Worlds in tests use one worker thread: many worlds are created and the ECS tests are serial. */
static inline aw_world *test_world_new(test_alloc *ta, uint32_t chunk_size) {
    /* A test that picks a chunk size wants every chunk that small (both tiers). */
    aw_world_desc d = {.allocator = ta ? &ta->iface : NULL,
                       .chunk_size = chunk_size,
                       .large_chunk_size = chunk_size,
                       .threads = 1};
    aw_world *w = aw_world_create(&d);
    if (!w) fail_msg("aw_world_create failed: %s", aw_last_error());
    return w;
}

static inline aw_component test_component(aw_world *w, const char *name, size_t size, size_t align) {
    aw_component c =
        aw_component_register(w, &(aw_component_desc){.name = name, .size = size, .align = align});
    if (c == 0) fail_msg("register %s failed: %s", name, aw_last_error());
    return c;
}

/* Query terms in designated form: positional `{c}` (as in the AW_TERMS example in ecs.h) trips
 * -Wmissing-field-initializers under -Wextra. */
#define T_WITH(c)                                                                                            \
    { .component = (c), .oper = AW_TERM_WITH }
#define T_WITHOUT(c)                                                                                         \
    { .component = (c), .oper = AW_TERM_WITHOUT }
#define T_OPT(c)                                                                                             \
    { .component = (c), .oper = AW_TERM_OPTIONAL }

/* ---------------------------------------------------------------- assertions */

static inline const char *test_status_name(aw_status s) {
    static const char *const names[] = {"AW_OK",
                                        "AW_ERR_INVALID_ARG",
                                        "AW_ERR_OUT_OF_MEMORY",
                                        "AW_ERR_STALE_ENTITY",
                                        "AW_ERR_UNKNOWN_COMPONENT",
                                        "AW_ERR_SIZE_MISMATCH",
                                        "AW_ERR_ALREADY_PRESENT",
                                        "AW_ERR_NOT_PRESENT",
                                        "AW_ERR_TOO_MANY_TERMS",
                                        "AW_ERR_LOCKED",
                                        "AW_ERR_CAPACITY",
                                        "AW_ERR_NOT_FOUND",
                                        "AW_ERR_IO",
                                        "AW_ERR_PARSE",
                                        "AW_ERR_UNSUPPORTED",
                                        "AW_ERR_ACCESS",
                                        "AW_ERR_CYCLE",
                                        "AW_ERR_UNAVAILABLE",
                                        "AW_ERR_TIMEOUT",
                                        "AW_ERR_PENDING",
                                        "AW_ERR_CORRUPT",
                                        "AW_ERR_DEVICE"};
    if ((unsigned)s < sizeof names / sizeof names[0]) return names[s];
    return "(bad status)";
}

static inline void test_check_status(aw_status got, aw_status want, const char *expr, const char *file,
                                     int line) {
    if (got != want) {
        print_error("%s:%d: %s returned %s, expected %s (last error: \"%s\")\n", file, line, expr,
                    test_status_name(got), test_status_name(want), aw_last_error());
        _fail(file, line);
    }
}

/* The last failing call recorded `want` and a non-empty message. */
static inline void test_check_error(aw_status want, const char *expr, const char *file, int line) {
    aw_status last = aw_last_status();
    const char *msg = aw_last_error();
    if (last != want || msg == NULL || msg[0] == '\0') {
        print_error("%s:%d: after %s: aw_last_status() = %s (expected %s), aw_last_error() = \"%s\"%s\n",
                    file, line, expr, test_status_name(last), test_status_name(want), msg ? msg : "(NULL)",
                    (msg == NULL || msg[0] == '\0') ? " (must be non-empty)" : "");
        _fail(file, line);
    }
}

/* `expr` (an aw_status) succeeds. */
#define EXPECT_OK(expr) test_check_status((expr), AW_OK, #expr, __FILE__, __LINE__)

/* `expr` (an aw_status) fails with `st` and records it with a message. */
#define EXPECT_FAIL(expr, st)                                                                                \
    do {                                                                                                     \
        aw_clear_error();                                                                                    \
        aw_status expect_fail_got_ = (expr);                                                                 \
        test_check_status(expect_fail_got_, (st), #expr, __FILE__, __LINE__);                                \
        test_check_error((st), #expr, __FILE__, __LINE__);                                                   \
    } while (0)

/* `expr` returns a "failure" value (NULL, 0, AW_ENTITY_NULL) and records `st` with a message. */
#define EXPECT_FAIL_VALUE(expr, st)                                                                          \
    do {                                                                                                     \
        aw_clear_error();                                                                                    \
        if ((expr) != 0) {                                                                                   \
            print_error("%s:%d: %s should fail with %s but returned a value\n", __FILE__, __LINE__, #expr,   \
                        test_status_name(st));                                                               \
            _fail(__FILE__, __LINE__);                                                                       \
        }                                                                                                    \
        test_check_error((st), #expr, __FILE__, __LINE__);                                                   \
    } while (0)

/* Same, for calls that return a pointer. */
#define EXPECT_NULL(expr, st)                                                                                \
    do {                                                                                                     \
        aw_clear_error();                                                                                    \
        if ((expr) != NULL) {                                                                                \
            print_error("%s:%d: %s should fail with %s but returned non-NULL\n", __FILE__, __LINE__, #expr,  \
                        test_status_name(st));                                                               \
            _fail(__FILE__, __LINE__);                                                                       \
        }                                                                                                    \
        test_check_error((st), #expr, __FILE__, __LINE__);                                                   \
    } while (0)

/* Any failure status with a message (where the header does not pin the code). */
#define EXPECT_SOME_FAIL(expr)                                                                               \
    do {                                                                                                     \
        aw_clear_error();                                                                                    \
        aw_status expect_fail_got_ = (expr);                                                                 \
        if (expect_fail_got_ == AW_OK || aw_last_status() != expect_fail_got_ ||                             \
            aw_last_error()[0] == '\0') {                                                                    \
            print_error(                                                                                     \
                "%s:%d: %s returned %s, last status %s, message \"%s\": expected a recorded failure\n",      \
                __FILE__, __LINE__, #expr, test_status_name(expect_fail_got_),                               \
                test_status_name(aw_last_status()), aw_last_error());                                        \
            _fail(__FILE__, __LINE__);                                                                       \
        }                                                                                                    \
    } while (0)

static inline bool test_is_aligned(const void *p, size_t align) {
    return align == 0 || ((uintptr_t)p & (align - 1)) == 0;
}

/* Deterministic byte pattern for (entity, component, salt). */
static inline void test_fill(void *dst, size_t size, uint64_t key) {
    unsigned char *d = dst;
    uint64_t x = key * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (size_t i = 0; i < size; i++) {
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
        d[i] = (unsigned char)x;
    }
}

#endif /* AW_ECS_TEST_UTIL_H */
