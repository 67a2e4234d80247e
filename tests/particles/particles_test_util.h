/* Shared helpers for the particle tests: status checks, a counting allocator and a standard
 * fountain setup. Header-only (static inline). */
#ifndef AW_PARTICLES_TEST_UTIL_H
#define AW_PARTICLES_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aw/aw.h"

#define ASSERT_OK(expr)                                                                                  \
    do {                                                                                                 \
        aw_status st__ = (expr);                                                                         \
        if (st__ != AW_OK) fail_msg("%s -> %s: %s", #expr, aw_status_str(st__), aw_last_error());        \
    } while (0)

typedef struct pcount_alloc {
    _Atomic uint64_t allocs, frees;
    aw_allocator iface;
} pcount_alloc;

static inline void *pcount_alloc_fn(void *user, size_t size, size_t align) {
    pcount_alloc *c = user;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1)) return NULL;
    c->allocs++;
    return p;
}

static inline void *pcount_realloc_fn(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    pcount_alloc *c = user;
    void *p = pcount_alloc_fn(user, new_size, align);
    if (p && ptr) memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    if (p) {
        free(ptr);
        c->frees++;
    }
    return p;
}

static inline void pcount_free_fn(void *user, void *ptr, size_t size) {
    (void)size;
    pcount_alloc *c = user;
    if (ptr) c->frees++;
    free(ptr);
}

static inline void pcount_alloc_init(pcount_alloc *c) {
    memset(c, 0, sizeof *c);
    c->iface = (aw_allocator){.alloc = pcount_alloc_fn, .realloc = pcount_realloc_fn, .free = pcount_free_fn, .user = c};
}

/* A fountain: a cone of particles with varied speeds and lifetimes. */
static inline aw_emitter_desc fountain_desc(aw_vec3 at, float rate) {
    return (aw_emitter_desc){.position = at,
                             .direction = {0.0f, 1.0f, 0.0f},
                             .spread = 0.6f,
                             .speed_min = 4.0f,
                             .speed_max = 9.0f,
                             .lifetime_min = 0.5f,
                             .lifetime_max = 3.0f,
                             .rate = rate,
                             .burst = 500,
                             .color_start = {1.0f, 0.5f, 0.0f, 1.0f},
                             .color_end = {0.2f, 0.2f, 0.2f, 0.0f},
                             .size_start = 0.2f,
                             .size_end = 0.05f};
}

#endif /* AW_PARTICLES_TEST_UTIL_H */
