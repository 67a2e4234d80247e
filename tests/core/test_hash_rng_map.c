/* Tests for hashing (pinned golden values, sensitivity, alignment independence), the RNG
 * (pinned sequences, unbiased ranges, float bounds, forks) and the map (randomized model check,
 * key 0, OOM during growth, reserve and clear). */
#include "aw/core.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_allocator.h"

/* ---------------------------------------------------------------- hashing */

static void fill_pattern(unsigned char *buf, size_t n) {
    for (size_t i = 0; i < n; ++i) buf[i] = (unsigned char)(i * 7 + 3);
}

/* Hashes are persisted and compared across machines, so these values must never change. */
static void test_hash_golden(void **state) {
    (void)state;
    static const struct {
        size_t len;
        uint64_t seed0, seed7;
    } golden[] = {
        {0, 0x93351475dd625ff1ull, 0x047f880facaa1d87ull},
        {1, 0x351e110a1850b889ull, 0x3c21ec252422cc9bull},
        {3, 0x89a250e943570839ull, 0x96d36129b659101cull},
        {4, 0x19ad20e096717923ull, 0x9c0e27b3dac61acfull},
        {7, 0xe6c4521ed5647a79ull, 0x44673804c247ed5dull},
        {8, 0xd9f3d9ca6cfd41c6ull, 0x3e9c9d5c5b4624efull},
        {15, 0x83972a3d0d6a0593ull, 0x434e8b80a4efafe1ull},
        {16, 0x7af277a498d70890ull, 0xf3ff49e41b074cccull},
        {31, 0xca39e1500188bfb1ull, 0xbedbedf45347a518ull},
        {32, 0x58fb9bf67c27eb82ull, 0x6c17f7759b46040bull},
        {33, 0x29956380da893c9full, 0x6a852b7afa3febe5ull},
        {63, 0x66f5524d6848a0acull, 0xb9c9f6486ea0413eull},
        {64, 0xc30235d013d2bf49ull, 0x4a361dd1943839e7ull},
        {100, 0x5d14e75aee7c68d5ull, 0xba0327992c18cdb3ull},
        {255, 0x701a4132d31c9d8cull, 0xcfd93f3ce4a9da15ull},
        {256, 0x0fc4bf7de10b5af9ull, 0x3c23a1d2cb65e6e1ull},
    };
    unsigned char buf[256];
    fill_pattern(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); ++i) {
        assert_int_equal(aw_hash_bytes(buf, golden[i].len, 0), golden[i].seed0);
        assert_int_equal(aw_hash_bytes(buf, golden[i].len, 7), golden[i].seed7);
    }
    assert_int_equal(aw_hash_str(""), 0x93351475dd625ff1ull);
    assert_int_equal(aw_hash_str("a"), 0x64e5fe177d5021b4ull);
    assert_int_equal(aw_hash_str("abc"), 0xb17dfad42efc4417ull);
    assert_int_equal(aw_hash_str("hello world"), 0xd17b654efc1c61d6ull);
    assert_int_equal(aw_hash_str("The quick brown fox jumps over the lazy dog"), 0x40d3960a38c77960ull);
    assert_int_equal(aw_hash_str(NULL), aw_hash_str(""));
    assert_int_equal(aw_hash_bytes(NULL, 100, 0), aw_hash_bytes("", 0, 0));
    assert_int_equal(aw_hash_u64(0), 0xe220a8397b1dcdafull);
    assert_int_equal(aw_hash_u64(1), 0x910a2dec89025cc1ull);
    assert_int_equal(aw_hash_combine(1, 2), 0x33c46bd74075358aull);
}

static void test_hash_sensitivity(void **state) {
    (void)state;
    unsigned char buf[200];
    for (size_t n = 1; n <= sizeof(buf); ++n) {
        fill_pattern(buf, n);
        uint64_t h = aw_hash_bytes(buf, n, 0);
        assert_int_not_equal(h, aw_hash_bytes(buf, n, 1));
        assert_int_not_equal(h, aw_hash_bytes(buf, n - 1, 0));
        for (size_t i = 0; i < n; ++i) {
            for (int bit = 0; bit < 8; bit += 3) {
                buf[i] ^= (unsigned char)(1u << bit);
                assert_int_not_equal(aw_hash_bytes(buf, n, 0), h);
                buf[i] ^= (unsigned char)(1u << bit);
            }
        }
    }
    /* Trailing zero bytes still count. */
    memset(buf, 0, sizeof(buf));
    for (size_t n = 0; n < 64; ++n)
        assert_int_not_equal(aw_hash_bytes(buf, n, 0), aw_hash_bytes(buf, n + 1, 0));
}

static void test_hash_avalanche(void **state) {
    (void)state;
    /* Flipping one input bit should flip about half the output bits on average. */
    aw_rng rng;
    aw_rng_seed(&rng, 99);
    uint64_t flipped = 0, trials = 0;
    unsigned char buf[40];
    for (int t = 0; t < 200; ++t) {
        for (size_t i = 0; i < sizeof(buf); ++i) buf[i] = (unsigned char)aw_rng_u32(&rng);
        size_t n = 1 + aw_rng_range(&rng, sizeof(buf));
        uint64_t h = aw_hash_bytes(buf, n, 0);
        for (size_t b = 0; b < n * 8; ++b) {
            buf[b / 8] ^= (unsigned char)(1u << (b % 8));
            uint64_t d = h ^ aw_hash_bytes(buf, n, 0);
            buf[b / 8] ^= (unsigned char)(1u << (b % 8));
            for (; d; d &= d - 1) flipped++;
            trials++;
        }
    }
    double mean = (double)flipped / (double)trials;
    assert_true(mean > 31.0 && mean < 33.0);
}

static void test_hash_alignment_independent(void **state) {
    (void)state;
    unsigned char storage[300 + 16];
    unsigned char ref[300];
    fill_pattern(ref, sizeof(ref));
    for (size_t n = 0; n <= sizeof(ref); n += 7) {
        uint64_t want = aw_hash_bytes(ref, n, 42);
        for (size_t off = 0; off < 16; ++off) {
            memcpy(storage + off, ref, n);
            assert_int_equal(aw_hash_bytes(storage + off, n, 42), want);
        }
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_hash_u64_and_combine(void **state) {
    (void)state;
    enum { N = 1 << 18 };
    uint64_t *h = malloc(N * sizeof(uint64_t));
    assert_non_null(h);
    /* Sequential keys (entity ids) must not collide and must fill the low bits evenly. */
    uint32_t low_buckets[64] = {0};
    for (uint64_t i = 0; i < N; ++i) {
        h[i] = aw_hash_u64(i);
        low_buckets[h[i] & 63]++;
    }
    for (int b = 0; b < 64; ++b)
        assert_true(low_buckets[b] > N / 64 * 9 / 10 && low_buckets[b] < N / 64 * 11 / 10);
    qsort(h, N, sizeof(uint64_t), cmp_u64);
    for (size_t i = 1; i < N; ++i) assert_true(h[i] != h[i - 1]);
    free(h);

    assert_int_not_equal(aw_hash_combine(aw_hash_combine(0, 1), 2),
                         aw_hash_combine(aw_hash_combine(0, 2), 1));
    assert_int_not_equal(aw_hash_combine(0, 0), 0);
    assert_int_not_equal(aw_hash_combine(5, 0), aw_hash_combine(6, 0));
}

/* ---------------------------------------------------------------- RNG */

static void test_rng_golden(void **state) {
    (void)state;
    /* Reference values from an independent implementation of splitmix64 + xoshiro256**. */
    static const uint64_t want0[4] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull,
                                      0x6aa594f1262d2d2cull};
    static const uint64_t want42[4] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull, 0xae17533239e499a1ull,
                                       0xecb8ad4703b360a1ull};
    static const uint64_t want_dead[4] = {0xc5555444a74d7e83ull, 0x65c30d37b4b16e38ull, 0x54f773200a4efa23ull,
                                          0x429aed75fb958af7ull};
    aw_rng a, b, c;
    aw_rng_seed(&a, 0);
    aw_rng_seed(&b, 42);
    aw_rng_seed(&c, 0xdeadbeef);
    for (int i = 0; i < 4; ++i) {
        assert_int_equal(aw_rng_u64(&a), want0[i]);
        assert_int_equal(aw_rng_u64(&b), want42[i]);
        assert_int_equal(aw_rng_u64(&c), want_dead[i]);
    }
    aw_rng_seed(&a, 42);
    assert_int_equal(aw_rng_u32(&a), (uint32_t)(want42[0] >> 32));
}

static void test_rng_determinism(void **state) {
    (void)state;
    aw_rng a, b, c;
    aw_rng_seed(&a, 1234);
    aw_rng_seed(&b, 1234);
    aw_rng_seed(&c, 1235);
    int same_as_c = 0;
    for (int i = 0; i < 10000; ++i) {
        uint64_t x = aw_rng_u64(&a);
        assert_int_equal(x, aw_rng_u64(&b));
        same_as_c += x == aw_rng_u64(&c);
    }
    assert_int_equal(same_as_c, 0);
}

/* Pearson chi-square of `samples` draws of aw_rng_range(bound) folded into `buckets` classes,
 * by range (v / (bound / buckets)) or by residue (v % buckets). The seed is fixed, so the
 * statistic is a fixed number: this cannot flake. */
static double chi_square(uint64_t seed, uint32_t bound, uint32_t buckets, uint32_t samples, bool by_residue) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    uint32_t counts[16] = {0};
    uint64_t per_bucket = ((uint64_t)bound + buckets - 1) / buckets;
    for (uint32_t i = 0; i < samples; ++i) {
        uint32_t v = aw_rng_range(&rng, bound);
        assert_true(v < bound);
        counts[by_residue ? v % buckets : v / per_bucket]++;
    }
    double expected = (double)samples / buckets, chi = 0;
    for (uint32_t b = 0; b < buckets; ++b)
        chi += ((double)counts[b] - expected) * ((double)counts[b] - expected) / expected;
    return chi;
}

static void test_rng_range(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    assert_int_equal(aw_rng_range(&rng, 0), 0);
    for (int i = 0; i < 100; ++i) assert_int_equal(aw_rng_range(&rng, 1), 0);
    for (int i = 0; i < 1000; ++i) assert_true(aw_rng_range(&rng, UINT32_MAX) < UINT32_MAX);

    /* 9 degrees of freedom: 27.9 is the 0.001 tail. */
    for (uint64_t seed = 1; seed <= 5; ++seed) assert_true(chi_square(seed, 10, 10, 200000, false) < 27.9);
    /* A small bound that does not divide 2^32 evenly, every value a bucket (6 dof: 22.5). */
    assert_true(chi_square(12, 7, 7, 200000, false) < 22.5);
    /* Bound 3*2^30 is where bias would be largest (2 dof: 13.8). `u32 % bound` would make the
     * first third twice as likely; multiply-shift without rejection would give multiples of
     * 3 two preimages and the rest one. */
    assert_true(chi_square(11, 3u << 30, 3, 300000, false) < 13.8);
    assert_true(chi_square(13, 3u << 30, 3, 300000, true) < 13.8);
}

static void test_rng_floats(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 3);
    double fsum = 0, dsum = 0;
    float fmin = 1, fmax = 0;
    enum { N = 1000000 };
    for (int i = 0; i < N; ++i) {
        float f = aw_rng_float(&rng);
        double d = aw_rng_double(&rng);
        assert_true(f >= 0.0f && f < 1.0f);
        assert_true(d >= 0.0 && d < 1.0);
        if (f < fmin) fmin = f;
        if (f > fmax) fmax = f;
        fsum += f;
        dsum += d;
    }
    assert_true(fabs(fsum / N - 0.5) < 0.002);
    assert_true(fabs(dsum / N - 0.5) < 0.002);
    assert_true(fmin < 0.0001f && fmax > 0.9999f);

    for (int i = 0; i < 100000; ++i) {
        float r = aw_rng_float_range(&rng, -2.5f, 4.0f);
        assert_true(r >= -2.5f && r < 4.0f);
        /* A span so narrow that rounding would otherwise return hi. */
        float n = aw_rng_float_range(&rng, 1.0f, 1.0000001f);
        assert_true(n >= 1.0f && n < 1.0000001f);
    }
    assert_true(aw_rng_float_range(&rng, 3.0f, 3.0f) == 3.0f);
    assert_true(aw_rng_float_range(&rng, 5.0f, 1.0f) == 5.0f);
}

static void test_rng_fork(void **state) {
    (void)state;
    /* Forks are deterministic... */
    aw_rng a, b;
    aw_rng_seed(&a, 77);
    aw_rng_seed(&b, 77);
    aw_rng fa = aw_rng_fork(&a);
    aw_rng fb = aw_rng_fork(&b);
    for (int i = 0; i < 1000; ++i) assert_int_equal(aw_rng_u64(&fa), aw_rng_u64(&fb));

    /* ...and a child shares no values with its parent's continuing stream or its sibling. */
    aw_rng_seed(&a, 77);
    aw_rng child = aw_rng_fork(&a);
    aw_rng sibling = aw_rng_fork(&a);
    uint64_t child_out[64], parent_out[64], sibling_out[64];
    for (int i = 0; i < 64; ++i) {
        child_out[i] = aw_rng_u64(&child);
        sibling_out[i] = aw_rng_u64(&sibling);
        parent_out[i] = aw_rng_u64(&a);
    }
    for (int i = 0; i < 64; ++i) {
        for (int j = 0; j < 64; ++j) {
            assert_int_not_equal(child_out[i], parent_out[j]);
            assert_int_not_equal(child_out[i], sibling_out[j]);
            assert_int_not_equal(sibling_out[i], parent_out[j]);
        }
    }
}

/* ---------------------------------------------------------------- map */

enum { UNIVERSE = 4096 };

/* Half the keys share their low 8 hash bits, so at small capacities they pile into one long
 * run and removal has to shift entries across it; the rest are spread out. */
static void make_universe(uint64_t *keys, aw_rng *rng) {
    int n = 0;
    while (n < UNIVERSE / 2) {
        uint64_t k = aw_rng_u64(rng);
        if (k && (aw_hash_u64(k) & 0xff) == 0x5a) keys[n++] = k;
    }
    for (uint64_t i = 1; n < UNIVERSE; ++i) keys[n++] = i < 1000 ? i : aw_rng_u64(rng) | 1;
}

static void check_map_matches(const aw_map *map, const uint64_t *keys, const bool *present,
                              const uint64_t *values, uint32_t count) {
    assert_int_equal(map->count, count);
    assert_int_equal(map->tombstones, 0);
    for (int i = 0; i < UNIVERSE; ++i) {
        uint64_t v = 0;
        bool found = aw_map_get(map, keys[i], &v);
        assert_int_equal(found, present[i]);
        if (found) assert_int_equal(v, values[i]);
    }
    uint32_t occupied = 0;
    for (uint32_t s = 0; s < map->capacity; ++s) occupied += map->keys[s] != 0;
    assert_int_equal(occupied, count);
    assert_true(map->capacity == 0 || count <= map->capacity - map->capacity / 4);
}

static void test_map_randomized_model(void **state) {
    (void)state;
    static uint64_t keys[UNIVERSE], values[UNIVERSE];
    static bool present[UNIVERSE];
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        aw_rng rng;
        aw_rng_seed(&rng, seed);
        make_universe(keys, &rng);
        memset(present, 0, sizeof(present));
        test_allocator t;
        test_allocator_init(&t, -1);
        aw_map map;
        aw_map_init(&map, &t.base);
        uint32_t count = 0;
        /* A varying slice of the universe keeps the map cycling between growing and shrinking. */
        for (int op = 0; op < 200000; ++op) {
            uint32_t span = (op / 25000) % 2 ? 300 : UNIVERSE;
            uint32_t i = aw_rng_range(&rng, span);
            uint32_t kind = aw_rng_range(&rng, 100);
            if (kind < 45) {
                uint64_t v = aw_rng_u64(&rng);
                assert_int_equal(aw_map_set(&map, keys[i], v), AW_OK);
                count += !present[i];
                present[i] = true;
                values[i] = v;
            } else if (kind < 70) {
                uint64_t v = 0;
                bool found = aw_map_get(&map, keys[i], &v);
                assert_int_equal(found, present[i]);
                if (found) assert_int_equal(v, values[i]);
                assert_int_equal(aw_map_get(&map, keys[i], NULL), present[i]);
            } else if (kind < 99 || aw_rng_range(&rng, 50) != 0) {
                assert_int_equal(aw_map_remove(&map, keys[i]), present[i]);
                count -= present[i];
                present[i] = false;
            } else {
                uint32_t capacity = map.capacity;
                aw_map_clear(&map);
                assert_int_equal(map.capacity, capacity);
                memset(present, 0, sizeof(present));
                count = 0;
            }
            assert_int_equal(map.count, count);
            if (op % 10000 == 0) check_map_matches(&map, keys, present, values, count);
        }
        check_map_matches(&map, keys, present, values, count);
        aw_map_destroy(&map);
        assert_int_equal(t.live_bytes, 0);
    }
}

static void test_map_key_zero_and_empty(void **state) {
    (void)state;
    aw_map map;
    aw_map_init(&map, NULL);
    assert_false(aw_map_get(&map, 1, NULL));
    assert_false(aw_map_remove(&map, 1));
    aw_map_clear(&map);
    aw_clear_error();
    assert_int_equal(aw_map_set(&map, 0, 5), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_int_equal(map.count, 0);
    assert_int_equal(aw_map_set(&map, 1, 10), AW_OK);
    assert_int_equal(aw_map_set(&map, 0, 5), AW_ERR_INVALID_ARG);
    assert_false(aw_map_get(&map, 0, NULL));
    assert_false(aw_map_remove(&map, 0));
    assert_int_equal(map.count, 1);
    uint64_t v = 0;
    assert_true(aw_map_get(&map, 1, &v));
    assert_int_equal(v, 10);
    assert_int_equal(aw_map_set(&map, UINT64_MAX, 11), AW_OK);
    assert_true(aw_map_get(&map, UINT64_MAX, &v));
    assert_int_equal(v, 11);
    assert_int_equal(aw_map_set(NULL, 1, 1), AW_ERR_INVALID_ARG);
    assert_false(aw_map_get(NULL, 1, NULL));
    aw_map_destroy(&map);
    aw_map_destroy(&map); /* twice is harmless */
    aw_clear_error();
}

static void test_map_oom_during_growth(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, 1);
    aw_map map;
    aw_map_init(&map, &t.base);
    uint64_t k = 1;
    aw_status st;
    while ((st = aw_map_set(&map, k, k * 3)) == AW_OK) ++k;
    assert_int_equal(st, AW_ERR_OUT_OF_MEMORY);
    assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
    uint32_t count = map.count, capacity = map.capacity;
    assert_int_equal(count, k - 1);
    assert_int_equal(capacity, 16);
    for (uint64_t i = 1; i < k; ++i) {
        uint64_t v;
        assert_true(aw_map_get(&map, i, &v));
        assert_int_equal(v, i * 3);
    }
    assert_false(aw_map_get(&map, k, NULL));
    /* Overwrites and removals need no memory. */
    assert_int_equal(aw_map_set(&map, 1, 99), AW_OK);
    assert_true(aw_map_remove(&map, 2));
    assert_int_equal(aw_map_set(&map, k, 5), AW_OK);
    assert_int_equal(aw_map_reserve(&map, 1000), AW_ERR_OUT_OF_MEMORY);
    assert_int_equal(map.capacity, capacity);
    assert_int_equal(map.count, count);

    t.fail_after = -1;
    for (uint64_t i = 1000; i < 1100; ++i) assert_int_equal(aw_map_set(&map, i, i), AW_OK);
    assert_int_equal(map.count, count + 100);
    uint64_t v;
    assert_true(aw_map_get(&map, 1, &v));
    assert_int_equal(v, 99);
    assert_false(aw_map_get(&map, 2, NULL));
    aw_map_destroy(&map);
    assert_int_equal(t.live_bytes, 0);
    aw_clear_error();
}

static void test_map_reserve_and_reuse(void **state) {
    (void)state;
    test_allocator t;
    test_allocator_init(&t, -1);
    aw_map map;
    aw_map_init(&map, &t.base);
    assert_int_equal(aw_map_reserve(&map, 0), AW_OK);
    assert_int_equal(t.allocs, 0);
    assert_int_equal(aw_map_reserve(&map, 1000), AW_OK);
    assert_true(map.capacity >= 1334);
    assert_int_equal(map.capacity & (map.capacity - 1), 0);
    uint64_t allocs = t.allocs;
    /* A map cleared and refilled every frame stops allocating. */
    for (int frame = 0; frame < 5; ++frame) {
        for (uint64_t i = 1; i <= 1000; ++i) assert_int_equal(aw_map_set(&map, i * 0x9e3779b9ull, i), AW_OK);
        assert_int_equal(map.count, 1000);
        aw_map_clear(&map);
        assert_int_equal(map.count, 0);
        assert_false(aw_map_get(&map, 0x9e3779b9ull, NULL));
    }
    assert_int_equal(t.allocs, allocs);
    assert_int_equal(aw_map_reserve(&map, 10), AW_OK); /* never shrinks */
    assert_true(map.capacity >= 1334);
    aw_clear_error();
    assert_int_equal(aw_map_reserve(&map, UINT32_MAX), AW_ERR_CAPACITY);
    aw_map_destroy(&map);
    assert_int_equal(t.live_bytes, 0);
    aw_clear_error();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_golden),
        cmocka_unit_test(test_hash_sensitivity),
        cmocka_unit_test(test_hash_avalanche),
        cmocka_unit_test(test_hash_alignment_independent),
        cmocka_unit_test(test_hash_u64_and_combine),
        cmocka_unit_test(test_rng_golden),
        cmocka_unit_test(test_rng_determinism),
        cmocka_unit_test(test_rng_range),
        cmocka_unit_test(test_rng_floats),
        cmocka_unit_test(test_rng_fork),
        cmocka_unit_test(test_map_randomized_model),
        cmocka_unit_test(test_map_key_zero_and_empty),
        cmocka_unit_test(test_map_oom_during_growth),
        cmocka_unit_test(test_map_reserve_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
