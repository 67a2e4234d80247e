/* Tests for the frame arena (alignment, growth, merge-on-reset steady state, OOM) and the slab
 * pool (alignment, LIFO reuse, reserve, OOM injection, randomized model check). */
#include "aw/core.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_allocator.h"

/* ---------------------------------------------------------------- arena */

static void test_arena_alignment(void **state) {
    (void)state;
    aw_arena arena;
    assert_int_equal(aw_arena_init(&arena, NULL, 1024), AW_OK);
    assert_true(aw_arena_capacity(&arena) >= 1024);
    unsigned char *prev = NULL;
    for (int round = 0; round < 3; ++round) {
        for (size_t align = 1; align <= 4096; align *= 2) {
            unsigned char *p = aw_arena_alloc(&arena, 3, align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            assert_ptr_not_equal(p, prev);
            memset(p, 0x5a, 3);
            prev = p;
        }
    }
    /* Size 0 still yields distinct, usable pointers. */
    void *z0 = aw_arena_alloc(&arena, 0, 8);
    void *z1 = aw_arena_alloc(&arena, 0, 8);
    assert_non_null(z0);
    assert_non_null(z1);
    assert_ptr_not_equal(z0, z1);

    aw_clear_error();
    assert_null(aw_arena_alloc(&arena, 8, 3));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_null(aw_arena_alloc(&arena, 8, 8192));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    aw_clear_error();
    aw_arena_destroy(&arena);
    assert_int_equal(aw_arena_capacity(&arena), 0);
}

static void test_arena_growth(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, -1);
    aw_arena arena;
    assert_int_equal(aw_arena_init(&arena, &t.base, 256), AW_OK);
    enum { N = 200 };
    uint32_t *ptrs[N];
    for (uint32_t i = 0; i < N; ++i) {
        ptrs[i] = aw_arena_alloc(&arena, 64, 16);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
        for (int k = 0; k < 16; ++k) ptrs[i][k] = i;
    }
    /* Older blocks stay valid while new ones are chained. */
    for (uint32_t i = 0; i < N; ++i)
        for (int k = 0; k < 16; ++k) assert_int_equal(ptrs[i][k], i);
    assert_true(aw_arena_capacity(&arena) >= N * 64);
    assert_true(t.allocs > 1);
    assert_true(arena.used_total >= N * 64);

    /* Capacity 0 creates the first block on demand. */
    aw_arena lazy;
    assert_int_equal(aw_arena_init(&lazy, &t.base, 0), AW_OK);
    assert_int_equal(aw_arena_capacity(&lazy), 0);
    assert_non_null(aw_arena_alloc(&lazy, 10000, 8));
    assert_true(aw_arena_capacity(&lazy) >= 10000);
    aw_arena_destroy(&lazy);

    aw_arena_destroy(&arena);
    assert_int_equal(t.live_bytes, 0);
    assert_int_equal(t.allocs, t.frees);
}

typedef struct frame_op {
    size_t size, align;
} frame_op;

static void run_frame(aw_arena *arena, const frame_op *ops, int count) {
    for (int i = 0; i < count; ++i) {
        unsigned char *p = aw_arena_alloc(arena, ops[i].size, ops[i].align);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % ops[i].align, 0);
        if (ops[i].size) {
            p[0] = 1;
            p[ops[i].size - 1] = 2;
        }
    }
}

/* After one frame and a reset, the merged block must hold the same frame with no allocation,
 * whatever the mix of sizes and alignments (including the 4096 maximum). */
static void test_arena_steady_state_allocates_nothing(void **state) {
    (void)state;
    enum { OPS = 300 };
    frame_op ops[OPS];
    for (uint64_t seed = 1; seed <= 30; ++seed) {
        aw_rng rng;
        aw_rng_seed(&rng, seed);
        for (int i = 0; i < OPS; ++i) {
            ops[i].size = aw_rng_range(&rng, 4) == 0 ? aw_rng_range(&rng, 5000) : aw_rng_range(&rng, 200);
            /* Mostly small alignments, with some of 128, 1024 and the 4096 maximum. */
            static const uint8_t shifts[16] = {0, 1, 2, 3, 4, 5, 6, 3, 3, 3, 3, 3, 3, 7, 10, 12};
            ops[i].align = (size_t)1 << shifts[aw_rng_range(&rng, 16)];
        }
        test_allocator t;
        test_allocator_init(&t, -1);
        aw_arena arena;
        assert_int_equal(aw_arena_init(&arena, &t.base, 512), AW_OK);
        run_frame(&arena, ops, OPS);
        assert_true(t.allocs > 1);
        aw_arena_reset(&arena);
        assert_int_equal(t.live_bytes, (int64_t)aw_arena_capacity(&arena) + 64); /* one block plus header */

        uint64_t allocs = t.allocs, frees = t.frees;
        aw_alloc_stats h0 = aw_heap_stats();
        for (int frame = 0; frame < 5; ++frame) {
            run_frame(&arena, ops, OPS);
            aw_arena_reset(&arena);
        }
        assert_int_equal(t.allocs, allocs);
        assert_int_equal(t.frees, frees);
        assert_int_equal(aw_alloc_stats_diff(h0, aw_heap_stats()).allocs, 0);
        aw_arena_destroy(&arena);
        assert_int_equal(t.live_bytes, 0);
    }
}

static void test_arena_steady_state_heap(void **state) {
    (void)state;
    aw_arena arena;
    assert_int_equal(aw_arena_init(&arena, NULL, 64), AW_OK);
    for (int frame = 0; frame < 2; ++frame) {
        for (int i = 0; i < 1000; ++i) assert_non_null(aw_arena_alloc(&arena, 24, 8));
        aw_arena_reset(&arena);
    }
    aw_alloc_stats s0 = aw_heap_stats();
    for (int frame = 0; frame < 10; ++frame) {
        for (int i = 0; i < 1000; ++i) assert_non_null(aw_arena_alloc(&arena, 24, 8));
        aw_arena_reset(&arena);
    }
    aw_alloc_stats d = aw_alloc_stats_diff(s0, aw_heap_stats());
    assert_int_equal(d.allocs + d.reallocs + d.frees, 0);
    assert_true(arena.high_water >= 24000);
    aw_arena_destroy(&arena);
}

static void test_arena_oom(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, 0);
    aw_arena arena;
    aw_clear_error();
    assert_int_equal(aw_arena_init(&arena, &t.base, 128), AW_ERR_OUT_OF_MEMORY);
    assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);

    test_allocator_init(&t, 1);
    assert_int_equal(aw_arena_init(&arena, &t.base, 128), AW_OK);
    assert_non_null(aw_arena_alloc(&arena, 100, 8));
    aw_clear_error();
    assert_null(aw_arena_alloc(&arena, 1000, 8));
    assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
    assert_true(strlen(aw_last_error()) > 0);
    /* The failure changed nothing: small requests still fit in the existing block. */
    assert_non_null(aw_arena_alloc(&arena, 8, 8));
    aw_arena_reset(&arena);
    assert_non_null(aw_arena_alloc(&arena, 120, 8));
    aw_arena_destroy(&arena);
    assert_int_equal(t.live_bytes, 0);

    /* A merge that cannot be allocated keeps the largest block, so the arena still works. */
    test_allocator_init(&t, 2);
    assert_int_equal(aw_arena_init(&arena, &t.base, 128), AW_OK);
    assert_non_null(aw_arena_alloc(&arena, 100, 8));
    assert_non_null(aw_arena_alloc(&arena, 1000, 8));
    aw_arena_reset(&arena);
    assert_true(aw_arena_capacity(&arena) >= 1000);
    uint64_t allocs = t.allocs;
    assert_non_null(aw_arena_alloc(&arena, 900, 8));
    assert_int_equal(t.allocs, allocs);
    aw_arena_destroy(&arena);
    assert_int_equal(t.live_bytes, 0);
    aw_clear_error();
}

/* ---------------------------------------------------------------- pool */

static void test_pool_alignment(void **state) {
    (void)state;
    static const size_t sizes[] = {1, 24, 64, 100, 200, 4000};
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); ++si) {
        aw_pool pool;
        assert_int_equal(aw_pool_init(&pool, NULL, sizes[si], 0), AW_OK);
        assert_int_equal(pool.block_size % 64, 0);
        assert_true(pool.block_size >= sizes[si] && pool.block_size < sizes[si] + 64);
        assert_int_equal(pool.blocks_per_slab, 64);
        enum { N = 150 };
        unsigned char *blocks[N];
        for (int i = 0; i < N; ++i) {
            blocks[i] = aw_pool_acquire(&pool);
            assert_non_null(blocks[i]);
            assert_int_equal((uintptr_t)blocks[i] % 64, 0);
            memset(blocks[i], i, pool.block_size);
        }
        for (int i = 0; i < N; ++i) {
            assert_int_equal(blocks[i][0], (unsigned char)i);
            assert_int_equal(blocks[i][pool.block_size - 1], (unsigned char)i);
        }
        assert_int_equal(pool.blocks_in_use, N);
        assert_int_equal(aw_pool_free_blocks(&pool), 3 * 64 - N);
        for (int i = 0; i < N; ++i) aw_pool_release(&pool, blocks[i]);
        assert_int_equal(aw_pool_free_blocks(&pool), 3 * 64);
        aw_pool_destroy(&pool);
    }

    aw_pool pool;
    aw_clear_error();
    assert_int_equal(aw_pool_init(&pool, NULL, 0, 4), AW_ERR_INVALID_ARG);
    assert_null(aw_pool_acquire(&pool));
    assert_int_equal(aw_pool_init(NULL, NULL, 64, 4), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_pool_init(&pool, NULL, SIZE_MAX, 4), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_pool_init(&pool, NULL, SIZE_MAX / 8, UINT32_MAX), AW_ERR_INVALID_ARG);
    aw_clear_error();
}

static void test_pool_lifo_reuse(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, -1);
    aw_pool pool;
    assert_int_equal(aw_pool_init(&pool, &t.base, 32, 8), AW_OK);
    void *a = aw_pool_acquire(&pool);
    void *b = aw_pool_acquire(&pool);
    assert_ptr_not_equal(a, b);
    aw_pool_release(&pool, a);
    assert_ptr_equal(aw_pool_acquire(&pool), a);
    aw_pool_release(&pool, b);
    aw_pool_release(&pool, a);
    assert_ptr_equal(aw_pool_acquire(&pool), a);
    assert_ptr_equal(aw_pool_acquire(&pool), b);
    aw_pool_release(&pool, NULL); /* ignored */
    assert_int_equal(pool.blocks_in_use, 2);
    aw_pool_release(&pool, a);
    aw_pool_release(&pool, b);

    /* Churn within the free blocks never goes back to the allocator. */
    uint64_t allocs = t.allocs;
    for (int i = 0; i < 1000; ++i) {
        void *x = aw_pool_acquire(&pool);
        void *y = aw_pool_acquire(&pool);
        aw_pool_release(&pool, x);
        aw_pool_release(&pool, y);
    }
    assert_int_equal(t.allocs, allocs);
    aw_pool_destroy(&pool);
    assert_int_equal(t.live_bytes, 0);
    assert_int_equal(t.allocs, t.frees);
}

static void test_pool_reserve(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, -1);
    aw_pool pool;
    assert_int_equal(aw_pool_init(&pool, &t.base, 100, 16), AW_OK);
    assert_int_equal(aw_pool_free_blocks(&pool), 0);
    assert_int_equal(aw_pool_reserve(&pool, 1000), AW_OK);
    assert_true(aw_pool_free_blocks(&pool) >= 1000);
    assert_int_equal(aw_pool_free_blocks(&pool), 1008);
    assert_int_equal(pool.slab_count, 63);
    assert_int_equal(aw_pool_reserve(&pool, 500), AW_OK); /* already satisfied */
    assert_int_equal(pool.slab_count, 63);

    uint64_t allocs = t.allocs, reallocs = t.reallocs;
    static void *blocks[1000];
    for (int i = 0; i < 1000; ++i) assert_non_null(blocks[i] = aw_pool_acquire(&pool));
    assert_int_equal(t.allocs, allocs);
    assert_int_equal(t.reallocs, reallocs);
    assert_int_equal(aw_pool_free_blocks(&pool), 8);

    /* Reserve counts free blocks, not total ones. */
    assert_int_equal(aw_pool_reserve(&pool, 20), AW_OK);
    assert_int_equal(aw_pool_free_blocks(&pool), 24);
    for (int i = 0; i < 1000; ++i) aw_pool_release(&pool, blocks[i]);
    aw_pool_destroy(&pool);
    assert_int_equal(t.live_bytes, 0);
}

static void test_pool_oom_injection(void **state) {
    (void)state;
    for (int64_t budget = 0; budget < 8; ++budget) {
        test_allocator t;
        test_allocator_init(&t, budget);
        aw_pool pool;
        assert_int_equal(aw_pool_init(&pool, &t.base, 48, 4), AW_OK);
        static void *blocks[1024];
        int n = 0;
        aw_clear_error();
        for (;;) {
            void *p = aw_pool_acquire(&pool);
            if (!p) break;
            assert_true(n < 1024);
            blocks[n++] = p;
        }
        assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
        assert_true(strlen(aw_last_error()) > 0);
        /* The pool is as it was before the failing call. */
        assert_int_equal(pool.blocks_in_use, (uint64_t)n);
        assert_int_equal(aw_pool_free_blocks(&pool), 0);
        assert_int_equal((uint64_t)pool.slab_count * 4, (uint64_t)n);
        uint32_t slabs = pool.slab_count;
        assert_int_equal(aw_pool_reserve(&pool, 100), AW_ERR_OUT_OF_MEMORY);
        assert_int_equal(pool.slab_count, slabs);
        assert_int_equal(aw_pool_free_blocks(&pool), 0);

        for (int i = 0; i < n; ++i) aw_pool_release(&pool, blocks[i]);
        assert_int_equal(aw_pool_free_blocks(&pool), (uint64_t)n);
        /* Released blocks are all reusable without the allocator. */
        for (int i = 0; i < n; ++i) assert_non_null(blocks[i] = aw_pool_acquire(&pool));
        assert_null(aw_pool_acquire(&pool));

        /* Once memory is back, the pool grows again. */
        t.fail_after = -1;
        assert_int_equal(aw_pool_reserve(&pool, 9), AW_OK);
        assert_int_equal(aw_pool_free_blocks(&pool), 12);
        for (int i = 0; i < n; ++i) aw_pool_release(&pool, blocks[i]);
        aw_pool_destroy(&pool);
        assert_int_equal(t.live_bytes, 0);
    }
    aw_clear_error();
}

static int cmp_uintptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* Randomized acquire/release against a model: the live set never holds duplicates or
 * overlapping blocks, each block keeps what was written to it, and the counters agree. */
static void test_pool_randomized_model(void **state) {
    (void)state;
    enum { MAX_LIVE = 3000, OPS = 200000 };
    static uint64_t *live[MAX_LIVE];
    static uint64_t stamps[MAX_LIVE];
    static uintptr_t sorted[MAX_LIVE];
    for (uint64_t seed = 1; seed <= 3; ++seed) {
        test_allocator t;
        test_allocator_init(&t, -1);
        aw_pool pool;
        assert_int_equal(aw_pool_init(&pool, &t.base, 40, 7), AW_OK);
        size_t words = pool.block_size / sizeof(uint64_t);
        aw_rng rng;
        aw_rng_seed(&rng, seed);
        int n = 0;
        uint64_t next_stamp = 1;
        for (int op = 0; op < OPS; ++op) {
            /* Drift between filling up and draining so the free list gets thoroughly mixed. */
            uint32_t acquire_pct = (op / 20000) % 2 ? 35 : 65;
            if (n < MAX_LIVE && (n == 0 || aw_rng_range(&rng, 100) < acquire_pct)) {
                uint64_t *b = aw_pool_acquire(&pool);
                assert_non_null(b);
                assert_int_equal((uintptr_t)b % 64, 0);
                uint64_t stamp = next_stamp++;
                for (size_t w = 0; w < words; ++w) b[w] = stamp;
                live[n] = b;
                stamps[n] = stamp;
                n++;
            } else {
                int i = (int)aw_rng_range(&rng, (uint32_t)n);
                for (size_t w = 0; w < words; ++w) assert_int_equal(live[i][w], stamps[i]);
                aw_pool_release(&pool, live[i]);
                live[i] = live[n - 1];
                stamps[i] = stamps[n - 1];
                n--;
            }
            assert_int_equal(pool.blocks_in_use, (uint64_t)n);
            assert_int_equal(aw_pool_free_blocks(&pool), (uint64_t)pool.slab_count * 7 - (uint64_t)n);
            if (op % 5000 == 0 || op == OPS - 1) {
                for (int i = 0; i < n; ++i) {
                    for (size_t w = 0; w < words; ++w) assert_int_equal(live[i][w], stamps[i]);
                    sorted[i] = (uintptr_t)live[i];
                }
                qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_uintptr);
                for (int i = 1; i < n; ++i) assert_true(sorted[i] - sorted[i - 1] >= pool.block_size);
            }
        }
        for (int i = 0; i < n; ++i) aw_pool_release(&pool, live[i]);
        assert_int_equal(aw_pool_free_blocks(&pool), (uint64_t)pool.slab_count * 7);
        aw_pool_destroy(&pool);
        assert_int_equal(t.live_bytes, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alignment),
        cmocka_unit_test(test_arena_growth),
        cmocka_unit_test(test_arena_steady_state_allocates_nothing),
        cmocka_unit_test(test_arena_steady_state_heap),
        cmocka_unit_test(test_arena_oom),
        cmocka_unit_test(test_pool_alignment),
        cmocka_unit_test(test_pool_lifo_reuse),
        cmocka_unit_test(test_pool_reserve),
        cmocka_unit_test(test_pool_oom_injection),
        cmocka_unit_test(test_pool_randomized_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
