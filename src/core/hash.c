/* 64-bit hashing for tables, content hashes and determinism checks. Results are part of the
 * contract (saved hashes, replays), so the byte order and constants must never change. */
#include "aw/core.h"

#include <string.h>

#define K0 0x9e3779b97f4a7c15ull
#define K1 0xc2b2ae3d27d4eb4full
#define K2 0xff51afd7ed558ccdull
#define K3 0xc4ceb9fe1a85ec53ull
#define K4 0x87c37b91114253d5ull

static inline uint64_t rotl64(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

/* memcpy keeps unaligned input defined; the swap makes big-endian hosts see the same words. */
static inline uint64_t read64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Murmur3's finaliser: every input bit affects every output bit with probability near 1/2. */
static inline uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= K2;
    x ^= x >> 33;
    x *= K3;
    x ^= x >> 33;
    return x;
}

/* One lane step: multiply spreads the word upward, the rotation brings high bits back down. */
static inline uint64_t lane(uint64_t acc, uint64_t word) {
    acc += word * K1;
    acc = rotl64(acc, 31);
    return acc * K0;
}

static inline uint64_t fold(uint64_t h, uint64_t lane_value) {
    h ^= lane(0, lane_value);
    return h * K0 + K4;
}

uint64_t aw_hash_bytes(const void *data, size_t size, uint64_t seed) {
    static const unsigned char empty[1];
    const unsigned char *p = data;
    /* NULL + 0 is undefined, so point empty input somewhere real. */
    if (!p) {
        p = empty;
        size = 0;
    }
    const unsigned char *end = p + size;
    uint64_t h;

    if (size >= 32) {
        /* Four independent lanes keep four multiplies in flight on long inputs. */
        uint64_t v0 = seed + K0 + K1, v1 = seed + K1, v2 = seed, v3 = seed - K0;
        const unsigned char *limit = end - 32;
        do {
            v0 = lane(v0, read64(p));
            v1 = lane(v1, read64(p + 8));
            v2 = lane(v2, read64(p + 16));
            v3 = lane(v3, read64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v0, 1) + rotl64(v1, 7) + rotl64(v2, 12) + rotl64(v3, 18);
        h = fold(h, v0);
        h = fold(h, v1);
        h = fold(h, v2);
        h = fold(h, v3);
    } else {
        h = seed + K3;
    }
    h += (uint64_t)size;

    for (; end - p >= 8; p += 8) h = rotl64(h ^ lane(0, read64(p)), 27) * K0 + K4;
    if (end - p >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap32(w);
#endif
        h = rotl64(h ^ (uint64_t)w * K0, 23) * K1 + K3;
        p += 4;
    }
    for (; p < end; ++p) h = rotl64(h ^ (uint64_t)*p * K4, 11) * K0;

    return fmix64(h);
}

uint64_t aw_hash_str(const char *str) {
    if (!str) return aw_hash_bytes(NULL, 0, 0);
    return aw_hash_bytes(str, strlen(str), 0);
}

/* splitmix64's output function: bijective (odd multiplies and xor-shifts invert), and the
 * added constant keeps 0 from mapping to 0. */
uint64_t aw_hash_u64(uint64_t x) {
    x += K0;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t aw_hash_combine(uint64_t h, uint64_t v) {
    /* Rotating h first makes the combination order-dependent: combine(a,b) != combine(b,a). */
    return aw_hash_u64(rotl64(h, 23) ^ aw_hash_u64(v));
}
