/* Frame arena: bump allocation in chained blocks, merged at reset into one block sized to the
 * largest frame seen so that steady-state frames never reach the allocator. */
#include "aw/core.h"

#include <stdint.h>

#define ARENA_HEADER      64u /* block header, padded so data starts cache-line aligned */
#define ARENA_BLOCK_ALIGN 64u
#define ARENA_MAX_ALIGN   4096u
#define ARENA_MIN_BLOCK   4096u

struct aw_arena_block {
    aw_arena_block *prev;
    size_t size;      /* usable bytes after the header */
    size_t used;      /* bytes consumed, from the start of the data */
    size_t max_align; /* largest alignment asked of this arena since it was merged */
};
_Static_assert(sizeof(struct aw_arena_block) <= ARENA_HEADER, "arena block header must fit in ARENA_HEADER");

static unsigned char *block_data(aw_arena_block *b) {
    return (unsigned char *)b + ARENA_HEADER;
}

static size_t round_up(size_t x, size_t align) {
    return (x + (align - 1)) & ~(align - 1);
}

/* Returns NULL on overflow or allocator failure (the allocator wrapper records the error). */
static aw_arena_block *block_new(const aw_allocator *a, size_t size) {
    if (size > SIZE_MAX - ARENA_HEADER - ARENA_BLOCK_ALIGN) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "arena block of %zu bytes is too large", size);
        return NULL;
    }
    size = round_up(size, ARENA_BLOCK_ALIGN);
    aw_arena_block *b = aw_alloc(a, ARENA_HEADER + size, ARENA_BLOCK_ALIGN);
    if (!b) return NULL;
    b->prev = NULL;
    b->size = size;
    b->used = 0;
    b->max_align = 1;
    return b;
}

static void block_free(const aw_allocator *a, aw_arena_block *b) {
    aw_free(a, b, ARENA_HEADER + b->size);
}

aw_status aw_arena_init(aw_arena *arena, const aw_allocator *allocator, size_t capacity) {
    if (!arena) return aw_error(AW_ERR_INVALID_ARG, "aw_arena_init: arena is NULL");
    *arena = (aw_arena){.allocator = allocator};
    if (capacity == 0) return AW_OK;
    aw_arena_block *b = block_new(allocator, capacity);
    if (!b) return AW_ERR_OUT_OF_MEMORY;
    arena->head = b;
    return AW_OK;
}

void *aw_arena_alloc(aw_arena *arena, size_t size, size_t align) {
    if (!arena) {
        aw_error(AW_ERR_INVALID_ARG, "aw_arena_alloc: arena is NULL");
        return NULL;
    }
    if (align == 0) align = 1;
    if ((align & (align - 1)) != 0 || align > ARENA_MAX_ALIGN) {
        aw_error(AW_ERR_INVALID_ARG, "aw_arena_alloc: alignment %zu is not a power of two up to %u", align,
                 ARENA_MAX_ALIGN);
        return NULL;
    }
    /* One byte for size 0 keeps every returned pointer distinct. */
    if (size == 0) size = 1;
    if (size > SIZE_MAX / 2) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_arena_alloc: %zu bytes is too large", size);
        return NULL;
    }

    aw_arena_block *b = arena->head;
    if (b) {
        uintptr_t base = (uintptr_t)block_data(b);
        size_t offset = (size_t)(round_up(base + b->used, align) - base);
        if (offset <= b->size && size <= b->size - offset) {
            b->used = offset + size;
            if (align > b->max_align) b->max_align = align;
            arena->used_total = round_up(arena->used_total, align) + size;
            return (void *)(base + offset);
        }
    }

    /* Blocks are only cache-line aligned, so larger alignments may need that much padding. */
    size_t need = size + (align > ARENA_BLOCK_ALIGN ? align - ARENA_BLOCK_ALIGN : 0);
    size_t grow = ARENA_MIN_BLOCK;
    if (b) grow = b->size <= SIZE_MAX / 4 ? b->size * 2 : b->size;
    aw_arena_block *nb = block_new(arena->allocator, need > grow ? need : grow);
    /* Doubling a large arena can fail where the bare request would not. */
    if (!nb && grow > need) nb = block_new(arena->allocator, need);
    if (!nb) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_arena_alloc: could not grow the arena for %zu bytes: %s", size,
                 aw_last_error());
        return NULL;
    }
    nb->prev = b;
    nb->max_align = b ? b->max_align : 1;
    if (align > nb->max_align) nb->max_align = align;
    arena->head = nb;

    uintptr_t base = (uintptr_t)block_data(nb);
    size_t offset = (size_t)(round_up(base, align) - base);
    nb->used = offset + size;
    arena->used_total = round_up(arena->used_total, align) + size;
    return (void *)(base + offset);
}

void aw_arena_reset(aw_arena *arena) {
    if (!arena) return;
    if (arena->used_total > arena->high_water) arena->high_water = arena->used_total;
    arena->used_total = 0;
    aw_arena_block *head = arena->head;
    if (!head) return;
    if (!head->prev) {
        head->used = 0;
        return;
    }

    /* used_total advances as if the frame had been one contiguous run starting at an address
     * aligned to everything, so a merged block of high_water bytes holds the same frame again;
     * only a base that is merely cache-line aligned can add padding, at most max_align - 64. */
    size_t max_align = head->max_align;
    size_t oldest = 0, largest_size = 0;
    aw_arena_block *largest = NULL;
    for (aw_arena_block *b = head; b; b = b->prev) {
        if (!b->prev) oldest = b->size;
        if (b->size > largest_size) {
            largest_size = b->size;
            largest = b;
        }
    }
    size_t slack = max_align > ARENA_BLOCK_ALIGN ? max_align - ARENA_BLOCK_ALIGN : 0;
    size_t want = arena->high_water <= SIZE_MAX / 2 ? arena->high_water + slack : arena->high_water;
    /* Never smaller than the chain's first block: the capacity asked for, or an earlier merge. */
    if (want < oldest) want = oldest;

    aw_arena_block *merged = block_new(arena->allocator, want);
    /* If the merged block cannot be had, keep the largest block so the arena stays usable. */
    aw_arena_block *keep = merged ? merged : largest;
    for (aw_arena_block *b = head; b;) {
        aw_arena_block *prev = b->prev;
        if (b != keep) block_free(arena->allocator, b);
        b = prev;
    }
    keep->prev = NULL;
    keep->used = 0;
    keep->max_align = max_align;
    arena->head = keep;
}

size_t aw_arena_capacity(const aw_arena *arena) {
    if (!arena) return 0;
    size_t total = 0;
    for (const aw_arena_block *b = arena->head; b; b = b->prev) total += b->size;
    return total;
}

void aw_arena_destroy(aw_arena *arena) {
    if (!arena) return;
    for (aw_arena_block *b = arena->head; b;) {
        aw_arena_block *prev = b->prev;
        block_free(arena->allocator, b);
        b = prev;
    }
    *arena = (aw_arena){.allocator = arena->allocator};
}
