/* Slab pool of fixed-size, cache-line aligned blocks: O(1) acquire and release through an
 * intrusive free list, and no allocator traffic once enough slabs exist. */
#define _DEFAULT_SOURCE /* madvise */
#include "aw/core.h"

#include <assert.h>
#include <stdint.h>
#include <sys/mman.h>

#define POOL_ALIGN          64u
#define POOL_DEFAULT_BLOCKS 64u
#define POOL_HUGE_PAGE      ((size_t)2 << 20)

static size_t slab_bytes(const aw_pool *pool) {
    return pool->block_size * pool->blocks_per_slab;
}

aw_status aw_pool_init(aw_pool *pool, const aw_allocator *allocator, size_t block_size,
                       uint32_t blocks_per_slab) {
    if (!pool) return aw_error(AW_ERR_INVALID_ARG, "aw_pool_init: pool is NULL");
    *pool = (aw_pool){.allocator = allocator};
    if (block_size == 0) return aw_error(AW_ERR_INVALID_ARG, "aw_pool_init: block_size is 0");
    if (block_size > SIZE_MAX - POOL_ALIGN)
        return aw_error(AW_ERR_INVALID_ARG, "aw_pool_init: block_size %zu is too large", block_size);
    block_size = (block_size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    if (blocks_per_slab == 0) blocks_per_slab = POOL_DEFAULT_BLOCKS;
    if (block_size > SIZE_MAX / blocks_per_slab)
        return aw_error(AW_ERR_INVALID_ARG, "aw_pool_init: %u blocks of %zu bytes overflow a slab",
                        blocks_per_slab, block_size);
    pool->block_size = block_size;
    pool->blocks_per_slab = blocks_per_slab;
    return AW_OK;
}

/* Room in the slab table for `extra` more slabs; on failure the table is as it was. */
static aw_status ensure_slab_slots(aw_pool *pool, uint32_t extra) {
    if (extra > UINT32_MAX - pool->slab_count) return aw_error(AW_ERR_CAPACITY, "aw_pool: too many slabs");
    uint32_t need = pool->slab_count + extra;
    if (need <= pool->slab_capacity) return AW_OK;
    uint32_t cap = pool->slab_capacity ? pool->slab_capacity : 8;
    while (cap < need) cap = cap <= UINT32_MAX / 2 ? cap * 2 : need;
    void **slabs = aw_realloc(pool->allocator, pool->slabs, sizeof(void *) * pool->slab_capacity,
                              sizeof(void *) * cap, _Alignof(void *));
    if (!slabs) return AW_ERR_OUT_OF_MEMORY;
    pool->slabs = slabs;
    pool->slab_capacity = cap;
    return AW_OK;
}

/* Pushed in reverse so blocks come out in address order, which keeps fresh slabs sequential. */
static void link_slab(aw_pool *pool, unsigned char *slab) {
    for (uint32_t i = pool->blocks_per_slab; i-- > 0;) {
        void *block = slab + (size_t)i * pool->block_size;
        *(void **)block = pool->free_list;
        pool->free_list = block;
    }
}

/* Adds `count` slabs to the free list, all or none. */
static aw_status add_slabs(aw_pool *pool, uint32_t count) {
    aw_status st = ensure_slab_slots(pool, count);
    if (st != AW_OK) return st;
    uint32_t first = pool->slab_count;
    for (uint32_t i = 0; i < count; ++i) {
        size_t bytes = slab_bytes(pool);
        /* Slabs that span whole 2 MiB pages are aligned to them and offered to the kernel as
         * transparent huge pages: far fewer page faults and TLB misses on big tables. */
        bool huge = bytes % POOL_HUGE_PAGE == 0;
        void *slab = aw_alloc(pool->allocator, bytes, huge ? POOL_HUGE_PAGE : POOL_ALIGN);
#ifdef MADV_HUGEPAGE
        if (slab && huge) madvise(slab, bytes, MADV_HUGEPAGE);
#endif
        if (!slab) {
            while (i-- > 0) aw_free(pool->allocator, pool->slabs[first + i], slab_bytes(pool));
            return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_pool: slab of %zu bytes could not be allocated",
                            slab_bytes(pool));
        }
        pool->slabs[first + i] = slab;
    }
    for (uint32_t i = 0; i < count; ++i) link_slab(pool, pool->slabs[first + i]);
    pool->slab_count += count;
    return AW_OK;
}

void *aw_pool_acquire(aw_pool *pool) {
    if (!pool || pool->block_size == 0) {
        aw_error(AW_ERR_INVALID_ARG, "aw_pool_acquire: pool is NULL or not initialised");
        return NULL;
    }
    if (AW_UNLIKELY(!pool->free_list) && add_slabs(pool, 1) != AW_OK) return NULL;
    void *block = pool->free_list;
    pool->free_list = *(void **)block;
    pool->blocks_in_use++;
    return block;
}

#ifndef NDEBUG
static bool pool_owns(const aw_pool *pool, const void *block) {
    uintptr_t p = (uintptr_t)block;
    for (uint32_t i = 0; i < pool->slab_count; ++i) {
        uintptr_t base = (uintptr_t)pool->slabs[i];
        if (p >= base && p < base + slab_bytes(pool)) return (p - base) % pool->block_size == 0;
    }
    return false;
}
#endif

void aw_pool_release(aw_pool *pool, void *block) {
    if (!pool || !block) return;
    assert(pool_owns(pool, block) && "block does not belong to this pool");
    assert(pool->blocks_in_use > 0);
    *(void **)block = pool->free_list;
    pool->free_list = block;
    pool->blocks_in_use--;
}

uint64_t aw_pool_free_blocks(const aw_pool *pool) {
    if (!pool) return 0;
    return (uint64_t)pool->slab_count * pool->blocks_per_slab - pool->blocks_in_use;
}

aw_status aw_pool_reserve(aw_pool *pool, uint64_t blocks) {
    if (!pool || pool->block_size == 0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_pool_reserve: pool is NULL or not initialised");
    uint64_t free_now = aw_pool_free_blocks(pool);
    if (blocks <= free_now) return AW_OK;
    uint64_t missing = blocks - free_now;
    uint64_t slabs = missing / pool->blocks_per_slab + (missing % pool->blocks_per_slab != 0);
    if (slabs > UINT32_MAX)
        return aw_error(AW_ERR_CAPACITY, "aw_pool_reserve: %llu blocks is too many",
                        (unsigned long long)blocks);
    return add_slabs(pool, (uint32_t)slabs);
}

void aw_pool_destroy(aw_pool *pool) {
    if (!pool) return;
    for (uint32_t i = 0; i < pool->slab_count; ++i)
        aw_free(pool->allocator, pool->slabs[i], slab_bytes(pool));
    aw_free(pool->allocator, pool->slabs, sizeof(void *) * pool->slab_capacity);
    *pool = (aw_pool){.allocator = pool->allocator};
}
