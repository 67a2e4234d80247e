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

/* One step in a rule set, a tree's root, a type's extra fields, a GOAP domain. */
#define RULE_STEP(step) "{\"rule_sets\": [{\"name\": \"r\", \"rules\": [{\"steps\": [" step "]}]}]}"
#define STEP_PATH       "rule_sets[0].rules[0].steps[0]"
#define BT_ROOT(node)   "{\"behavior_trees\": [{\"name\": \"b\", \"root\": " node "}]}"
#define TYPE(fields)    "{\"types\": [{\"name\": \"x\", \"orchestrator\": \"goap\", " fields "}]}"
#define DOMAIN(actions, goals) \
    "{\"goap_domains\": [{\"name\": \"d\", \"actions\": [" actions "], \"goals\": [" goals "]}]}"
#define WAIT_LEAF "{\"type\": \"action\", \"step\": \"Wait\"}"
#define CONSIDER(c) \
    "{\"utility_sets\": [{\"name\": \"u\", \"options\": [{\"name\": \"o\", \"steps\": [\"Wait\"]," \
    " \"considerations\": [" c "]}]}]}"

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
        /* Behavior-tree fields of another node type. */
        {BT_ROOT("{\"type\": \"action\", \"step\": \"Wait\", \"times\": 3}"),
         {"behavior_trees[0].root.times", "not used by action nodes", NULL}},
        {BT_ROOT("{\"type\": \"action\", \"step\": \"Wait\", \"children\": [" WAIT_LEAF "]}"),
         {"behavior_trees[0].root.children", "not used by action nodes", NULL}},
        {BT_ROOT("{\"type\": \"sequence\", \"children\": [" WAIT_LEAF "], \"needed\": 1}"),
         {"behavior_trees[0].root.needed", "not used by sequence nodes", NULL}},
        {BT_ROOT("{\"type\": \"condition\", \"fact\": \"low_hp\", \"child\": " WAIT_LEAF "}"),
         {"behavior_trees[0].root.child", "not used by condition nodes", NULL}},
        {BT_ROOT("{\"type\": \"inverter\", \"child\": " WAIT_LEAF ", \"seconds\": 2}"),
         {"behavior_trees[0].root.seconds", "not used by inverter nodes", NULL}},
        /* A parallel that can never succeed; counts and slots that would be rounded. */
        {BT_ROOT("{\"type\": \"parallel\", \"needed\": 9, \"children\": [" WAIT_LEAF "]}"),
         {"behavior_trees[0].root.needed", "can never succeed", NULL}},
        {BT_ROOT("{\"type\": \"parallel\", \"needed\": 0.5, \"children\": [" WAIT_LEAF "]}"),
         {"behavior_trees[0].root.needed", "0.5 is not an integer", NULL}},
        {BT_ROOT("{\"type\": \"repeat\", \"times\": 2.5, \"child\": " WAIT_LEAF "}"),
         {"behavior_trees[0].root.times", "2.5 is not an integer", NULL}},
        {BT_ROOT("{\"type\": \"repeat\", \"times\": 0, \"child\": " WAIT_LEAF "}"),
         {"behavior_trees[0].root.times", "outside", NULL}},
        {BT_ROOT("{\"type\": \"cooldown\", \"seconds\": 2, \"slot\": 1.5, \"child\": " WAIT_LEAF "}"),
         {"behavior_trees[0].root.slot", "1.5 is not an integer", NULL}},
        {BT_ROOT("{\"type\": \"cooldown\", \"seconds\": 2, \"slot\": \"one\", \"child\": " WAIT_LEAF "}"),
         {"behavior_trees[0].root.slot", "expected an integer", NULL}},
        {BT_ROOT("{\"type\": \"cooldown\", \"slot\": 1, \"child\": " WAIT_LEAF "}"),
         {"behavior_trees[0].root.seconds", "missing", NULL}},
        /* Planning facts: a misspelled sense, one wanted true that nothing sets true, one in a goal's
         * when, one set but never read. */
        {DOMAIN("{\"name\": \"a\", \"pre\": {\"enemy_visble\": true}, \"effect\": {\"target_down\": true},"
                " \"step\": \"Attack\"}",
                "{\"name\": \"g\", \"goal\": {\"target_down\": true}}"),
         {"actions[0].pre.enemy_visble", "not a built-in sense", "no action's effect sets it"}},
        {DOMAIN("{\"name\": \"a\", \"pre\": {\"enemy_visble\": false}, \"effect\": {\"target_down\": true},"
                " \"step\": \"Attack\"}",
                "{\"name\": \"g\", \"goal\": {\"target_down\": true}}"),
         {"actions[0].pre.enemy_visble", "not a built-in sense", "no action's effect sets it"}},
        {DOMAIN("{\"name\": \"a\", \"effect\": {\"target_down\": false}, \"step\": \"Attack\"}",
                "{\"name\": \"g\", \"goal\": {\"target_down\": true}}"),
         {"goap_domains[0].goals[0].goal.target_down", "no action's effect sets it true", NULL}},
        {DOMAIN("{\"name\": \"a\", \"effect\": {\"target_down\": true}, \"step\": \"Attack\"}",
                "{\"name\": \"g\", \"when\": {\"target_down\": false}, \"goal\": {\"target_down\": true}}"),
         {"goap_domains[0].goals[0].when.target_down", "not a built-in sense", NULL}},
        {DOMAIN("{\"name\": \"a\", \"effect\": {\"target_down\": true}, \"step\": \"Attack\"},"
                " {\"name\": \"b\", \"effect\": {\"target_donw\": true}, \"step\": \"AimedShot\"}",
                "{\"name\": \"g\", \"goal\": {\"target_down\": true}}"),
         {"goap_domains[0].actions[1].effect.target_donw", "no precondition or goal reads it", NULL}},
        {DOMAIN("{\"name\": \"a\", \"effect\": {\"\": true}, \"step\": \"Attack\"}",
                "{\"name\": \"g\", \"goal\": {\"in_cover\": true}}"),
         {"goap_domains[0].actions[0].effect.", "length 0", NULL}},
        /* Duplicate names inside a domain or a utility set. */
        {DOMAIN("{\"name\": \"a\", \"effect\": {\"in_cover\": true}, \"step\": \"TakeCover\"},"
                " {\"name\": \"a\", \"effect\": {\"in_cover\": true}, \"step\": \"TakeCover\"}",
                "{\"name\": \"g\", \"goal\": {\"in_cover\": true}}"),
         {"goap_domains[0].actions[1].name", "actions[0] already has the name \"a\"", NULL}},
        {DOMAIN("{\"name\": \"a\", \"effect\": {\"in_cover\": true}, \"step\": \"TakeCover\"}",
                "{\"name\": \"g\", \"goal\": {\"in_cover\": true}},"
                " {\"name\": \"g\", \"goal\": {\"in_cover\": false}}"),
         {"goap_domains[0].goals[1].name", "goals[0] already has the name \"g\"", NULL}},
        {"{\"utility_sets\": [{\"name\": \"u\", \"options\": [{\"name\": \"o\", \"steps\": [\"Wait\"]},"
         " {\"name\": \"o\", \"steps\": [\"Reload\"]}]}]}",
         {"utility_sets[0].options[1].name", "options[0] already has the name \"o\"", NULL}},
        /* Step fields their kind never reads. */
        {RULE_STEP("{\"kind\": \"Attack\", \"place\": \"cover\", \"duration\": 2}"),
         {STEP_PATH ".place", "not used by Attack steps", NULL}},
        {RULE_STEP("{\"kind\": \"Attack\", \"duration\": 2}"),
         {STEP_PATH ".duration", "not used by Attack", NULL}},
        {RULE_STEP("{\"kind\": \"Reload\", \"amount\": 5}"),
         {STEP_PATH ".amount", "not used by Reload", NULL}},
        {RULE_STEP("{\"kind\": \"Wait\", \"direction\": 1}"),
         {STEP_PATH ".direction", "not used by Wait", NULL}},
        {RULE_STEP("{\"kind\": \"Heal\", \"distance\": 4}"),
         {STEP_PATH ".distance", "not used by Heal", NULL}},
        {RULE_STEP("{\"kind\": \"Scan\", \"place\": \"cover\"}"),
         {STEP_PATH ".place", "not used by Scan", NULL}},
        {RULE_STEP("{\"kind\": \"MoveTo\", \"place\": \"cover\", \"target\": \"nearest_ally\"}"),
         {STEP_PATH ".target", "not used by MoveTo steps unless their place is \"target\"", NULL}},
        {RULE_STEP("{\"kind\": \"TakeCover\", \"distance\": 5}"),
         {STEP_PATH ".distance", "not used by TakeCover steps unless their place is \"away\"", NULL}},
        {RULE_STEP("{\"kind\": \"Retreat\", \"place\": \"cover\", \"distance\": 5}"),
         {STEP_PATH ".distance", "unless their place is \"away\"", NULL}},
        {RULE_STEP("{\"kind\": \"Strafe\", \"direction\": 0.5}"),
         {STEP_PATH ".direction", "not an integer", NULL}},
        {RULE_STEP("{\"kind\": \"Strafe\", \"direction\": 0}"),
         {STEP_PATH ".direction", "-1 (left) or 1", NULL}},
        /* Targets and places a step can never run with. */
        {RULE_STEP("{\"kind\": \"Attack\", \"target\": \"downed_ally\"}"),
         {STEP_PATH ".target", "Attack cannot target \"downed_ally\"", NULL}},
        {RULE_STEP("{\"kind\": \"Approach\", \"target\": \"none\"}"),
         {STEP_PATH ".target", "Approach cannot target \"none\"", NULL}},
        {RULE_STEP("{\"kind\": \"Revive\", \"target\": \"nearest_enemy\"}"),
         {STEP_PATH ".target", "Revive cannot target", NULL}},
        {RULE_STEP("{\"kind\": \"Heal\", \"target\": \"weakest_enemy\"}"),
         {STEP_PATH ".target", "Heal cannot target", NULL}},
        {RULE_STEP("{\"kind\": \"MoveTo\", \"place\": \"none\"}"),
         {STEP_PATH ".place", "needs a place", NULL}},
        {RULE_STEP("{\"kind\": \"MoveTo\", \"place\": \"target\"}"),
         {STEP_PATH ".place", "needs a target, and this MoveTo step has none", NULL}},
        {RULE_STEP("{\"kind\": \"ThrowExplosive\", \"target\": \"none\"}"),
         {STEP_PATH ".target", "place \"target\" needs a target", NULL}},
        /* Agent types: counts that would be rounded, empty or repeated action sets. */
        {TYPE("\"magazine\": 30.5"), {"types[0].magazine", "30.5 is not an integer", NULL}},
        {TYPE("\"medkits\": -1"), {"types[0].medkits", "outside", NULL}},
        {TYPE("\"explosives\": true"), {"types[0].explosives", "expected an integer", NULL}},
        {TYPE("\"reserve_ammo\": 90.25"), {"types[0].reserve_ammo", "not an integer", NULL}},
        {TYPE("\"actions\": []"), {"types[0].actions", "at least one step kind", NULL}},
        {TYPE("\"actions\": [\"Attack\", \"Reload\", \"attack\"]"),
         {"types[0].actions[2]", "Attack is listed twice", NULL}},
        /* Curve parameters the curve ignores (or, on quadratic, that would replace its exponent). */
        {CONSIDER("{\"input\": \"hp\", \"k\": 3}"),
         {"utility_sets[0].options[0].considerations[0].k", "not used by linear curves", NULL}},
        {CONSIDER("{\"input\": \"hp\", \"curve\": \"quadratic\", \"k\": 3}"),
         {"considerations[0].k", "not used by quadratic curves", NULL}},
        {CONSIDER("{\"input\": \"hp\", \"curve\": \"step\", \"c\": 0.5, \"k\": 1}"),
         {"considerations[0].k", "not used by step curves", NULL}},
    };
    uint32_t before = aw_ai_type_count(f.ai);
    int wrong = 0; /* every wrong case is reported, not only the first */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aw_status st = aw_ai_load_string(f.ai, cases[i].json, strlen(cases[i].json), "bad.json");
        const char *msg = st ? aw_last_error() : "";
        bool ok = st == AW_ERR_PARSE && strstr(msg, "bad.json") && aw_ai_type_count(f.ai) == before;
        for (int k = 0; k < 3 && cases[i].expect[k]; k++) ok = ok && strstr(msg, cases[i].expect[k]);
        if (!ok) {
            print_error("case %zu: status %s, message \"%s\"\n", i, aw_status_str(st), msg);
            wrong++;
        }
        if (st == AW_OK) { /* it loaded: a fresh library, so its names do not fail the cases after it */
            fixture_fini(&f);
            fixture_init(&f, 1);
            before = aw_ai_type_count(f.ai);
        }
    }
    if (wrong) fail_msg("%d of %zu bad files not refused as expected", wrong, sizeof cases / sizeof cases[0]);
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

/* A file refused at its last entry leaves the library as it was: the domain before it is not loaded. */
static void test_refused_file_changes_nothing(void **state) {
    (void)state;
    const char *bad = "{\"goap_domains\": [{\"name\": \"kept_out\", \"actions\": [{\"name\": \"a\","
                      " \"effect\": {\"in_cover\": true}, \"step\": \"TakeCover\"}],"
                      " \"goals\": [{\"name\": \"g\", \"goal\": {\"in_cover\": true}}]}],"
                      " \"types\": [{\"name\": \"t\", \"orchestrator\": \"goap\", \"magazine\": 7.5}]}";
    assert_int_equal(aw_ai_load_string(f.ai, bad, strlen(bad), "bad.json"), AW_ERR_PARSE);
    assert_non_null(strstr(aw_last_error(), "bad.json: types[0].magazine: 7.5 is not an integer"));
    const char *uses = "{\"types\": [{\"name\": \"t\", \"orchestrator\": \"goap\","
                       " \"domain\": \"kept_out\"}]}";
    assert_int_equal(aw_ai_load_string(f.ai, uses, strlen(uses), "uses.json"), AW_ERR_PARSE);
    assert_non_null(strstr(aw_last_error(), "uses.json: types[0].domain: no domain named \"kept_out\""));
    assert_int_equal(aw_ai_type_find(f.ai, "t"), -1);
}

/* What the stricter rules still take: fields in the places their kinds read them, planning facts
 * that an effect sets, integral numbers written as reals. */
static void test_fields_in_place_load(void **state) {
    (void)state;
    const char *json =
        "{\"goap_domains\": [{\"name\": \"strict_ok\", \"actions\": ["
        " {\"name\": \"shoot\", \"pre\": {\"enemy_visible\": true, \"suppressed\": false},"
        "  \"effect\": {\"target_down\": true},"
        "  \"step\": {\"kind\": \"Attack\", \"target\": \"order_target\"}},"
        " {\"name\": \"suppress\", \"effect\": {\"suppressed\": true},"
        "  \"step\": {\"kind\": \"CoverFire\", \"target\": \"none\", \"duration\": 3}},"
        " {\"name\": \"throw\", \"effect\": {\"target_down\": true},"
        "  \"step\": {\"kind\": \"ThrowExplosive\", \"target\": \"weakest_enemy\"}}],"
        " \"goals\": [{\"name\": \"down\", \"when\": {\"has_ammo\": true},"
        "  \"goal\": {\"target_down\": true}}]}],"
        " \"behavior_trees\": [{\"name\": \"strict_ok\", \"root\": {\"type\": \"parallel\", \"needed\": 2.0,"
        "  \"children\": [{\"type\": \"repeat\", \"times\": 2, \"child\": {\"type\": \"action\","
        "   \"step\": {\"kind\": \"MoveTo\", \"place\": \"away\", \"distance\": 6, \"amount\": 2}}},"
        "  {\"type\": \"cooldown\", \"seconds\": 1.5, \"slot\": 3, \"child\": {\"type\": \"action\","
        "   \"step\": {\"kind\": \"MoveTo\", \"place\": \"target\", \"target\": \"commander\"}}},"
        "  {\"type\": \"action\","
        "   \"step\": {\"kind\": \"Heal\", \"target\": \"wounded_ally\", \"amount\": 20}},"
        "  {\"type\": \"action\","
        "   \"step\": {\"kind\": \"Retreat\", \"target\": \"objective\", \"distance\": 8}}]}}],"
        " \"utility_sets\": [{\"name\": \"strict_ok\", \"options\": [{\"name\": \"o\","
        "  \"considerations\": [{\"input\": \"hp\", \"curve\": \"polynomial\", \"k\": 3},"
        "   {\"input\": \"ammo\", \"curve\": \"logistic\", \"k\": 1, \"m\": 4, \"c\": 0.5}],"
        "  \"steps\": [{\"kind\": \"Strafe\", \"direction\": 1, \"distance\": 2}, {\"kind\": \"Revive\","
        "   \"target\": \"downed_ally\"}]}]}],"
        " \"types\": [{\"name\": \"strict_ok\", \"orchestrator\": \"bt\", \"tree\": \"strict_ok\","
        "  \"domain\": \"strict_ok\", \"utility\": \"strict_ok\", \"magazine\": 12.0, \"medkits\": 0,"
        "  \"actions\": [\"MoveTo\", \"Heal\", \"Retreat\"]}]}";
    ASSERT_OK(aw_ai_load_string(f.ai, json, strlen(json), "strict_ok.json"));
    assert_true(aw_ai_type_find(f.ai, "strict_ok") >= 0);
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
        cmocka_unit_test(test_refused_file_changes_nothing),
        cmocka_unit_test(test_fields_in_place_load),
        cmocka_unit_test(test_bad_paths_and_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
