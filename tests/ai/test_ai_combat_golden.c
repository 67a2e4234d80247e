/* Golden end state of the combat scenario: perception's ordering and lean k = 1 walk, the
 * projectile hit test and the branch-free cooldowns must not change a bit of what it computes.
 * Recorded before those changes; a deliberate change of the simulation records a new value here
 * and says why in docs/performance.md. */
#include "ai_test_util.h"

#define COMBAT_GOLDEN 0x3345865426ff977cull /* 3,000 entities, seed 42, 30 + 90 frames */

static void test_combat_golden_hash(void **state) {
    (void)state;
    for (uint32_t threads = 1; threads <= 2; threads++) {
        aw_stress_result r;
        aw_stress_desc d = {.scenario = aw_stress_scenario_find("combat"), .entities = 3000, .frames = 90,
                            .warmup = 30, .threads = threads, .seed = 42};
        assert_int_equal(aw_stress_run(&d, &r), AW_OK);
        if (r.world_hash != COMBAT_GOLDEN)
            fail_msg("combat world hash %016llx on %u threads, expected %016llx", (unsigned long long)r.world_hash,
                     threads, (unsigned long long)COMBAT_GOLDEN);
        aw_stress_result_free(&r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combat_golden_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
