/* Deterministic RNG (xoshiro256**): replays and lockstep simulations depend on the same seed
 * giving the same numbers on every platform, so no libc rand and no floating-point tricks. */
#include "aw/core.h"

#include <math.h>

static inline uint64_t rotl64(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

/* splitmix64 step: spreads one seed word over the state so nearby seeds give unrelated streams. */
static inline uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void aw_rng_seed(aw_rng *rng, uint64_t seed) {
    if (!rng) return;
    for (int i = 0; i < 4; ++i) rng->s[i] = splitmix64(&seed);
}

uint64_t aw_rng_u64(aw_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* The high bits of xoshiro output are its best, so narrower results always take them. */
uint32_t aw_rng_u32(aw_rng *rng) {
    return (uint32_t)(aw_rng_u64(rng) >> 32);
}

/* Lemire's multiply-shift with rejection: unbiased, and the division runs only on the rare
 * path where the low product lands in the biased zone. */
uint32_t aw_rng_range(aw_rng *rng, uint32_t bound) {
    if (bound == 0) return 0;
    uint64_t m = (uint64_t)aw_rng_u32(rng) * bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        uint32_t threshold = (uint32_t)-bound % bound;
        while (low < threshold) {
            m = (uint64_t)aw_rng_u32(rng) * bound;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* 24 and 53 bits are the mantissa widths, so every result is exact and below 1. */
float aw_rng_float(aw_rng *rng) {
    return (float)(aw_rng_u64(rng) >> 40) * 0x1.0p-24f;
}

double aw_rng_double(aw_rng *rng) {
    return (double)(aw_rng_u64(rng) >> 11) * 0x1.0p-53;
}

float aw_rng_float_range(aw_rng *rng, float lo, float hi) {
    float f = aw_rng_float(rng);
    if (!(hi > lo)) return lo;
    float r = lo + (hi - lo) * f;
    /* Rounding of lo + span * f can land on hi; the range is half-open. */
    if (r >= hi) r = nextafterf(hi, lo);
    if (r < lo) r = lo;
    return r;
}

aw_rng aw_rng_fork(aw_rng *rng) {
    /* Each child word is a parent output passed through another mixer, so the child is not
     * the parent's stream shifted by a few steps. */
    aw_rng child;
    for (int i = 0; i < 4; ++i) {
        uint64_t x = aw_rng_u64(rng) ^ 0x6a09e667f3bcc909ull;
        child.s[i] = splitmix64(&x);
    }
    /* The all-zero state is xoshiro's one fixed point. */
    if (!(child.s[0] | child.s[1] | child.s[2] | child.s[3])) aw_rng_seed(&child, 0);
    return child;
}
