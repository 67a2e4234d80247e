/* The JSON loader: the example files load; bad files fail with a message naming the file, the field
 * and the reason, and add nothing. */
#include "ai_test_util.h"

static ai_fixture f;

static int setup(void **state) {
    (void)state;
    fixture_init(&f, 1);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fixture_fini(&f);
    return 0;
}

static void test_examples_load(void **state) {
    (void)state;
    uint32_t before = aw_ai_type_count(f.ai);
    load_example(f.ai, "squad.json");
    load_example(f.ai, "combat.json");
    assert_int_equal(aw_ai_type_count(f.ai), before + 9);
    const aw_agent_type *t = aw_ai_type(f.ai, (uint32_t)aw_ai_type_find(f.ai, "sentry"));
    assert_string_equal(aw_agent_type_name(t), "sentry");
    assert_int_equal(aw_agent_type_orchestrator(t), AW_ORCHESTRATOR_BT);
    /* Loading the same file again: every name is taken. */
    char path[1024];
    data_path(path, sizeof path, "squad.json");
    assert_int_equal(aw_ai_load_file(f.ai, path), AW_ERR_PARSE);
    assert_non_null(strstr(aw_last_error(), "already loaded"));
    assert_int_equal(aw_ai_type_count(f.ai), before + 9);
}

typedef struct bad_case {
    const char *json;
    const char *expect[3]; /* substrings of the message */
} bad_case;

static void test_bad_files(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"{\"types\": [", {"bad.json:1:", NULL}},
        {"[1, 2]", {"bad.json", "expected an object"}},
        {"{\"typs\": []}", {"bad.json", "typs", "unknown field"}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\", \"speeed\": 3}]}",
         {"bad.json", "types[0].speeed", "unknown field"}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\", \"max_hp\": -5}]}",
         {"types[0].max_hp", "outside", NULL}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"wizard\"}]}",
         {"types[0].orchestrator", "unknown orchestrator", NULL}},
        {"{\"types\": [{\"orchestrator\": \"goap\"}]}", {"types[0].name", "missing", NULL}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\", \"domain\": \"nope\"}]}",
         {"types[0].domain", "no domain named \"nope\"", NULL}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\", \"actions\": [\"Fly\"]}]}",
         {"types[0].actions[0]", "unknown step kind", NULL}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\", \"speed\": \"fast\"}]}",
         {"types[0].speed", "expected a number", NULL}},
        {"{\"types\": [{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"orchestrator\": \"goap\"}]}",
         {"types[0].name", "length", NULL}},
        {"{\"goap_domains\": [{\"name\": \"d\", \"actions\": [{\"name\": \"a\", \"effect\": {\"x\": true},"
         " \"step\": \"Attack\"}], \"goals\": [{\"name\": \"g\", \"goal\": {\"x\": 1}}]}]}",
         {"goap_domains[0].goals[0].goal.x", "true or false", NULL}},
        {"{\"goap_domains\": [{\"name\": \"d\", \"actions\": [{\"name\": \"a\", \"effect\": {\"x\": true}}],"
         " \"goals\": [{\"name\": \"g\", \"goal\": {\"x\": true}}]}]}",
         {"goap_domains[0].actions[0].step", "missing", NULL}},
        {"{\"goap_domains\": [{\"name\": \"d\", \"actions\": [{\"name\": \"a\", \"cost\": 0, \"effect\": {\"x\": true},"
         " \"step\": \"Attack\"}], \"goals\": [{\"name\": \"g\", \"goal\": {\"x\": true}}]}]}",
         {"goap_domains[0].actions[0].cost", "outside", NULL}},
        {"{\"goap_domains\": [{\"name\": \"d\", \"actions\": [{\"name\": \"a\", \"pre\": {\"y\": true},"
         " \"step\": \"Attack\"}], \"goals\": [{\"name\": \"g\", \"goal\": {\"x\": true}}]}]}",
         {"goap_domains[0].actions[0]", "at least one effect", NULL}},
        {"{\"utility_sets\": [{\"name\": \"u\", \"options\": [{\"name\": \"o\", \"steps\": [\"Wait\"],"
         " \"considerations\": [{\"input\": \"luck\"}]}]}]}",
         {"utility_sets[0].options[0].considerations[0].input", "unknown input", NULL}},
        {"{\"utility_sets\": [{\"name\": \"u\", \"options\": [{\"name\": \"o\", \"steps\": [\"Wait\"],"
         " \"considerations\": [{\"input\": \"hp\", \"curve\": \"sine\"}]}]}]}",
         {"considerations[0].curve", "unknown curve", NULL}},
        {"{\"utility_sets\": [{\"name\": \"u\", \"options\": [{\"name\": \"o\", \"steps\": []}]}]}",
         {"utility_sets[0].options[0].steps", "at least one step", NULL}},
        {"{\"behavior_trees\": [{\"name\": \"b\", \"root\": {\"type\": \"sequence\", \"children\": ["
         "{\"type\": \"condition\", \"fact\": \"is_hungry\"}]}}]}",
         {"behavior_trees[0].root.children[0].fact", "unknown fact", NULL}},
        {"{\"behavior_trees\": [{\"name\": \"b\", \"root\": {\"type\": \"decorator\"}}]}",
         {"behavior_trees[0].root.type", "unknown node type", NULL}},
        {"{\"behavior_trees\": [{\"name\": \"b\", \"root\": {\"type\": \"inverter\"}}]}",
         {"behavior_trees[0].root.child", "missing", NULL}},
        {"{\"behavior_trees\": [{\"name\": \"b\", \"root\": {\"type\": \"cooldown\", \"slot\": 9,"
         " \"child\": {\"type\": \"action\", \"step\": \"Wait\"}}}]}",
         {"behavior_trees[0].root.slot", "outside", NULL}},
        {"{\"rule_sets\": [{\"name\": \"r\", \"rules\": [{\"when\": {\"low_hp\": \"yes\"}, \"steps\": [\"Heal\"]}]}]}",
         {"rule_sets[0].rules[0].when.low_hp", "true or false", NULL}},
        {"{\"rule_sets\": [{\"name\": \"r\", \"rules\": [{\"steps\": [{\"kind\": \"Attack\", \"target\": \"moon\"}]}]}]}",
         {"rule_sets[0].rules[0].steps[0].target", "unknown target", NULL}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\"}, {\"name\": \"x\", \"orchestrator\": \"bt\"}]}",
         {"types[1]", "already loaded", NULL}},
        {"{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\", \"name\": \"y\"}]}", {"bad.json", "duplicate", NULL}},
    };
    uint32_t before = aw_ai_type_count(f.ai);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aw_status st = aw_ai_load_string(f.ai, cases[i].json, strlen(cases[i].json), "bad.json");
        if (st != AW_ERR_PARSE) fail_msg("case %zu: status %s (%s)", i, aw_status_str(st), aw_last_error());
        for (int k = 0; k < 3 && cases[i].expect[k]; k++)
            if (!strstr(aw_last_error(), cases[i].expect[k]))
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, aw_last_error(), cases[i].expect[k]);
        if (!strstr(aw_last_error(), "bad.json")) fail_msg("case %zu: no file name in \"%s\"", i, aw_last_error());
        assert_int_equal(aw_ai_type_count(f.ai), before); /* nothing added */
    }
    /* A deep tree. */
    char deep[8192];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"behavior_trees\": [{\"name\": \"deep\", \"root\": ");
    for (int i = 0; i < 40; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"type\": \"inverter\", \"child\": ");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"type\": \"action\", \"step\": \"Wait\"}");
    for (int i = 0; i < 40; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "}");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "}]}");
    assert_int_equal(aw_ai_load_string(f.ai, deep, n, "bad.json"), AW_ERR_PARSE);
    assert_non_null(strstr(aw_last_error(), "deeper than"));
}

static void test_bad_paths_and_args(void **state) {
    (void)state;
    assert_int_equal(aw_ai_load_file(f.ai, "/nonexistent/ai.json"), AW_ERR_IO);
    assert_non_null(strstr(aw_last_error(), "/nonexistent/ai.json"));
    assert_int_equal(aw_ai_load_file(NULL, "x"), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_ai_load_string(f.ai, NULL, 0, "x"), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_ai_load_string(f.ai, "", 0, "empty.json"), AW_ERR_PARSE);
    assert_null(aw_ai_create(NULL, NULL));
    assert_null(aw_ai_create(f.world, NULL)); /* already has one */
    aw_world *bare = aw_world_create(&(aw_world_desc){.threads = 1});
    assert_null(aw_ai_create(bare, NULL)); /* no physics */
    assert_non_null(strstr(aw_last_error(), "physics"));
    aw_world_destroy(bare);
    assert_true(aw_ai_spawn(f.ai, 9999, 0, (aw_vec3){0, 0, 0}) == AW_ENTITY_NULL);
    assert_true(aw_ai_spawn(f.ai, 0, 7, (aw_vec3){0, 0, 0}) == AW_ENTITY_NULL);
    aw_aabb bad = {{1, 0, 0}, {0, 1, 1}};
    assert_int_equal(aw_ai_set_obstacles(f.ai, &bad, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_ai_set_orchestrator(f.ai, &(aw_orchestrator){.kind = AW_ORCHESTRATOR_KIND_COUNT}),
                     AW_ERR_INVALID_ARG);
    assert_int_equal(aw_ai_set_orchestrator(f.ai, &(aw_orchestrator){.kind = AW_ORCHESTRATOR_LLM}), AW_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_paths_and_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
