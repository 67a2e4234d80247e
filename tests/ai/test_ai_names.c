/* Step kind, orchestrator and validation names: round trips and the loose spellings the LLM
 * parser relies on. */
#include "ai_test_util.h"

static void test_action_names_round_trip(void **state) {
    (void)state;
    for (int k = 1; k < AW_ACTION_KIND_COUNT; k++) {
        const char *name = aw_action_kind_name((aw_action_kind)k);
        aw_action_kind back = AW_ACTION_NONE;
        assert_true(aw_action_kind_from_name(name, &back));
        assert_int_equal(back, k);
    }
    assert_string_equal(aw_action_kind_name(AW_ACTION_THROW_EXPLOSIVE), "ThrowExplosive");
    assert_string_equal(aw_action_kind_name((aw_action_kind)999), "?");
}

static void test_action_loose_spellings(void **state) {
    (void)state;
    aw_action_kind k;
    assert_true(aw_action_kind_from_name("move_to", &k));
    assert_int_equal(k, AW_ACTION_MOVE_TO);
    assert_true(aw_action_kind_from_name("MOVE TO", &k));
    assert_true(aw_action_kind_from_name("aimed-shot", &k));
    assert_int_equal(k, AW_ACTION_AIMED_SHOT);
    assert_true(aw_action_kind_parse("Reload\"}", 6, &k)); /* length-bounded, no NUL needed */
    assert_int_equal(k, AW_ACTION_RELOAD);
    assert_false(aw_action_kind_from_name("Reloads", &k));
    assert_false(aw_action_kind_from_name("", &k));
    assert_false(aw_action_kind_from_name("None", &k)); /* not a step anyone may ask for */
    assert_false(aw_action_kind_from_name(NULL, &k));
    assert_false(aw_action_kind_parse("MoveTo", 0, &k));
}

static void test_orchestrator_and_validation_names(void **state) {
    (void)state;
    aw_orchestrator_kind o;
    for (int k = 0; k < AW_ORCHESTRATOR_KIND_COUNT; k++) {
        assert_true(aw_orchestrator_kind_from_name(aw_orchestrator_kind_name((aw_orchestrator_kind)k), &o));
        assert_int_equal(o, k);
    }
    assert_true(aw_orchestrator_kind_from_name("behavior_tree", &o));
    assert_int_equal(o, AW_ORCHESTRATOR_BT);
    assert_true(aw_orchestrator_kind_from_name("GOAP", &o));
    assert_false(aw_orchestrator_kind_from_name("planner", &o));
    const char *expect[] = {"valid", "OutOfBounds", "Cooldown", "NoLineOfSight", "InsufficientResource",
                            "InvalidTarget", "PhysicsBlocked", "NoPath"};
    for (int i = 0; i < AW_VALIDATION_COUNT; i++) assert_string_equal(aw_validation_name((aw_validation)i), expect[i]);
    assert_string_equal(aw_validation_name(AW_VALIDATION_COUNT), "?");
    assert_int_equal(sizeof(aw_action_step), 40);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_names_round_trip),
        cmocka_unit_test(test_action_loose_spellings),
        cmocka_unit_test(test_orchestrator_and_validation_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
