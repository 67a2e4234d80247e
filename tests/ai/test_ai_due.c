/* The staggering test "(index + frame) % interval == 0" done by multiplication (src/ai/due.h)
 * against the division it replaces: small and large intervals, powers of two, indices and frames
 * near their limits. */
#include "ai_test_util.h"

#include "../../src/ai/due.h"

static void check(uint32_t interval, uint64_t frame, uint32_t index) {
    ai_due d = ai_due_make(interval, frame);
    /* The sum without wrapping at 2^64 (a frame count never comes within 2^32 of it). */
    bool want = interval <= 1 || ((uint64_t)index % interval + frame % interval) % interval == 0;
    if (ai_due_now(&d, index) != want)
        fail_msg("interval %u frame %llu index %u: %d, division says %d", interval, (unsigned long long)frame, index,
                 ai_due_now(&d, index), want);
}

static void test_due_matches_division(void **state) {
    (void)state;
    static const uint32_t intervals[] = {0, 1, 2, 3, 4, 5, 7, 8, 16, 30, 31, 1000, 65537, 0x7fffffffu, 0xfffffffeu,
                                         UINT32_MAX};
    static const uint64_t frames[] = {0, 1, 7, 29, 30, 31, 12345, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                      UINT64_MAX - 1, UINT64_MAX};
    for (size_t a = 0; a < sizeof intervals / sizeof *intervals; a++)
        for (size_t b = 0; b < sizeof frames / sizeof *frames; b++) {
            for (uint32_t i = 0; i < 3000; i++) check(intervals[a], frames[b], i);
            for (uint32_t i = 0; i < 3000; i++) check(intervals[a], frames[b], UINT32_MAX - i);
        }
    aw_rng rng;
    aw_rng_seed(&rng, 42);
    for (int n = 0; n < 2000000; n++) {
        uint32_t interval = n % 3 ? 1u + aw_rng_range(&rng, 64) : (uint32_t)aw_rng_u64(&rng);
        check(interval, aw_rng_u64(&rng) >> (n % 64), (uint32_t)aw_rng_u64(&rng));
    }
}

/* Over consecutive frames each index is due exactly once per interval. */
static void test_due_once_per_interval(void **state) {
    (void)state;
    for (uint32_t interval = 1; interval <= 40; interval++)
        for (uint32_t index = 0; index < 200; index++) {
            uint32_t hits = 0;
            for (uint64_t frame = 1000; frame < 1000 + interval; frame++) {
                ai_due d = ai_due_make(interval, frame);
                hits += ai_due_now(&d, index);
            }
            assert_int_equal(hits, 1);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_matches_division),
        cmocka_unit_test(test_due_once_per_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
