/* The default heap allocator with process-wide counters, and the wrappers every module uses to
 * reach an aw_allocator (NULL meaning the heap) with failures recorded as errors. */
#define _DEFAULT_SOURCE /* madvise */
#include "aw/core.h"

#include <stdalign.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Relaxed counters: they are statistics read between frames, not synchronisation. */
static _Atomic uint64_t heap_allocs;
static _Atomic uint64_t heap_reallocs;
static _Atomic uint64_t heap_frees;
static _Atomic uint64_t heap_failures;
static _Atomic uint64_t heap_live;
static _Atomic uint64_t heap_peak;
static _Atomic uint64_t heap_total;

static bool is_pow2(size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

static void count_live(uint64_t delta) {
    /* delta may be a negative amount in two's complement; uint64 arithmetic wraps exactly. */
    uint64_t live = atomic_fetch_add_explicit(&heap_live, delta, memory_order_relaxed) + delta;
    uint64_t peak = atomic_load_explicit(&heap_peak, memory_order_relaxed);
    while (live > peak && !atomic_compare_exchange_weak_explicit(
                              &heap_peak, &peak, live, memory_order_relaxed, memory_order_relaxed)) {
    }
}

static void count_failure(void) {
    atomic_fetch_add_explicit(&heap_failures, 1, memory_order_relaxed);
}

/* Blocks this big are aligned to 2 MiB and offered as transparent huge pages: on virtual machines
 * a 4 KiB page fault costs microseconds, and big arrays (entity records, command streams) would
 * otherwise take one per 4 KiB on first touch. */
#define HUGE_PAGE ((size_t)2 << 20)

static bool is_huge(size_t size) {
    return size >= HUGE_PAGE;
}

/* Huge blocks are faulted in where they are allocated (at load, or in the warm-up frame that grows
 * a buffer), not wherever they are first written: with THP defrag at "madvise", the kernel may
 * compact memory on the spot to find a 2 MiB page, and one such first write into a reserved
 * command stream cost a combat frame 4.5-5.5 ms. */
static void prefault(void *p, size_t size) {
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, size, MADV_POPULATE_WRITE) == 0) return; /* Linux 5.14 and later */
#endif
    volatile char *bytes = p;
    for (size_t i = 0; i < size; i += 4096) bytes[i] = 0;
}

/* malloc already guarantees max_align_t alignment; only stricter requests pay for posix_memalign. */
static void *raw_alloc(size_t size, size_t align) {
    if (is_huge(size) && align < HUGE_PAGE) align = HUGE_PAGE;
    if (align <= alignof(max_align_t)) return malloc(size);
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0) return NULL;
    if (is_huge(size)) {
#ifdef MADV_HUGEPAGE
        madvise(p, size & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
        prefault(p, size);
    }
    return p;
}

static void *heap_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (align == 0) align = 1;
    if (!is_pow2(align)) {
        count_failure();
        return NULL;
    }
    /* Zero-byte requests get a real, unique block so callers can treat NULL as failure only. */
    if (size == 0) size = 1;
    void *p = raw_alloc(size, align);
    if (!p) {
        count_failure();
        return NULL;
    }
    atomic_fetch_add_explicit(&heap_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&heap_total, size, memory_order_relaxed);
    count_live(size);
    return p;
}

static void heap_free(void *user, void *ptr, size_t size) {
    (void)user;
    if (!ptr) return;
    if (size == 0) size = 1;
    free(ptr);
    atomic_fetch_add_explicit(&heap_frees, 1, memory_order_relaxed);
    count_live((uint64_t)0 - size);
}

static void *heap_realloc(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    if (!ptr) return heap_alloc(user, new_size, align);
    if (align == 0) align = 1;
    if (!is_pow2(align)) {
        count_failure();
        return NULL;
    }
    if (old_size == 0) old_size = 1;
    if (new_size == 0) new_size = 1;
    void *p;
    if (align <= alignof(max_align_t) && !is_huge(new_size)) {
        p = realloc(ptr, new_size);
    } else {
        /* realloc keeps neither over-alignment nor huge-page alignment, so move the block by hand. */
        p = raw_alloc(new_size, align);
        if (p) {
            memcpy(p, ptr, old_size < new_size ? old_size : new_size);
            free(ptr);
        }
    }
    if (!p) {
        count_failure();
        return NULL;
    }
    atomic_fetch_add_explicit(&heap_reallocs, 1, memory_order_relaxed);
    if (new_size > old_size)
        atomic_fetch_add_explicit(&heap_total, new_size - old_size, memory_order_relaxed);
    count_live((uint64_t)new_size - (uint64_t)old_size);
    return p;
}

static const aw_allocator heap_allocator = {
    .alloc = heap_alloc,
    .realloc = heap_realloc,
    .free = heap_free,
    .user = NULL,
};

const aw_allocator *aw_heap_allocator(void) {
    return &heap_allocator;
}

aw_alloc_stats aw_heap_stats(void) {
    return (aw_alloc_stats){
        .allocs = atomic_load_explicit(&heap_allocs, memory_order_relaxed),
        .reallocs = atomic_load_explicit(&heap_reallocs, memory_order_relaxed),
        .frees = atomic_load_explicit(&heap_frees, memory_order_relaxed),
        .failures = atomic_load_explicit(&heap_failures, memory_order_relaxed),
        .live_bytes = atomic_load_explicit(&heap_live, memory_order_relaxed),
        .peak_bytes = atomic_load_explicit(&heap_peak, memory_order_relaxed),
        .total_bytes = atomic_load_explicit(&heap_total, memory_order_relaxed),
    };
}

aw_alloc_stats aw_alloc_stats_diff(aw_alloc_stats a, aw_alloc_stats b) {
    /* live_bytes wraps when the interval freed more than it allocated; read it as int64_t for
     * the net change. */
    return (aw_alloc_stats){
        .allocs = b.allocs - a.allocs,
        .reallocs = b.reallocs - a.reallocs,
        .frees = b.frees - a.frees,
        .failures = b.failures - a.failures,
        .live_bytes = b.live_bytes - a.live_bytes,
        .peak_bytes = b.peak_bytes,
        .total_bytes = b.total_bytes - a.total_bytes,
    };
}

void *aw_alloc(const aw_allocator *a, size_t size, size_t align) {
    if (!a) a = &heap_allocator;
    if (align == 0) align = 1;
    if (!is_pow2(align)) {
        aw_error(AW_ERR_INVALID_ARG, "allocation alignment %zu is not a power of two", align);
        return NULL;
    }
    /* User allocators never see a zero size, so each may treat 0 however it likes. */
    if (size == 0) size = 1;
    void *p = a->alloc(a->user, size, align);
    if (AW_UNLIKELY(!p))
        aw_error(AW_ERR_OUT_OF_MEMORY, "allocation of %zu bytes (align %zu) failed", size, align);
    return p;
}

void *aw_realloc(const aw_allocator *a, void *ptr, size_t old_size, size_t new_size, size_t align) {
    if (!ptr) return aw_alloc(a, new_size, align);
    if (!a) a = &heap_allocator;
    if (align == 0) align = 1;
    if (!is_pow2(align)) {
        aw_error(AW_ERR_INVALID_ARG, "reallocation alignment %zu is not a power of two", align);
        return NULL;
    }
    if (old_size == 0) old_size = 1;
    if (new_size == 0) new_size = 1;
    void *p;
    if (a->realloc) {
        p = a->realloc(a->user, ptr, old_size, new_size, align);
    } else {
        /* A minimal allocator may provide only alloc and free. */
        p = a->alloc(a->user, new_size, align);
        if (p) {
            memcpy(p, ptr, old_size < new_size ? old_size : new_size);
            a->free(a->user, ptr, old_size);
        }
    }
    if (AW_UNLIKELY(!p))
        aw_error(AW_ERR_OUT_OF_MEMORY, "reallocation from %zu to %zu bytes (align %zu) failed", old_size,
                 new_size, align);
    return p;
}

void aw_free(const aw_allocator *a, void *ptr, size_t size) {
    if (!ptr) return;
    if (!a) a = &heap_allocator;
    if (size == 0) size = 1;
    a->free(a->user, ptr, size);
}
