/* LLM answer parser on canned answers: valid plans (plain, fenced, with prose, nested, loose kind
 * names, every kind), invalid ones (wrong kinds, missing or out-of-range fields, unknown targets,
 * too many steps, huge, truncated, non-UTF-8, duplicate keys), whole chat-completions bodies, the
 * snapshot description, and random mutations of valid answers (never a crash, always a clean
 * status). */
#include "aw/ai_llm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "llm_test_util.h"

static aw_plan_intent parse_ok(const char *text) {
    aw_world_snapshot s = llm_test_snapshot();
    aw_plan_intent p;
    aw_status st = aw_llm_parse_plan(text, strlen(text), &s, &p);
    if (st != AW_OK) fail_msg("parse of %.80s: %s", text, aw_last_error());
    assert_int_equal(p.source, AW_ORCHESTRATOR_LLM);
    return p;
}

static void parse_bad(const char *text, const char *fragment) {
    aw_world_snapshot s = llm_test_snapshot();
    aw_plan_intent p;
    p.step_count = 77;
    aw_status st = aw_llm_parse_plan(text, strlen(text), &s, &p);
    if (st != AW_ERR_PARSE) fail_msg("%.80s: status %s, want a parse error", text, aw_status_str(st));
    if (!strstr(aw_last_error(), fragment)) fail_msg("%.80s: error \"%s\" lacks \"%s\"", text, aw_last_error(), fragment);
    assert_int_equal(p.step_count, 0); /* nothing half-filled */
}

static void test_valid_answers(void **state) {
    (void)state;
    aw_plan_intent p = parse_ok("{\"steps\":[{\"kind\":\"Attack\",\"target\":\"E1\"}]}");
    assert_int_equal(p.step_count, 1);
    assert_int_equal(p.steps[0].kind, AW_ACTION_ATTACK);
    assert_int_equal(p.steps[0].target, 201);

    p = parse_ok("Here is the plan:\n```json\n{\"steps\": [{\"kind\": \"TakeCover\", \"position\": [4, 0, -2]},\n"
                 "{\"kind\": \"Reload\"}]}\n```\nGood luck {not json}.");
    assert_int_equal(p.step_count, 2);
    assert_int_equal(p.steps[0].kind, AW_ACTION_TAKE_COVER);
    assert_true(p.steps[0].position.x == 4 && p.steps[0].position.z == -2);
    assert_int_equal(p.steps[1].kind, AW_ACTION_RELOAD);

    p = parse_ok("Sure! I think {\"steps\":[{\"kind\":\"Wait\",\"duration\":1.5,\"note\":\"a } and a { in text\"}]}"
                 " and then { this is not json");
    assert_int_equal(p.steps[0].kind, AW_ACTION_WAIT);
    assert_true(p.steps[0].duration == 1.5f);

    p = parse_ok("```\n{\"plan\":{\"steps\":[{\"action\":\"move_to\",\"position\":[30,10]},{\"kind\":\"TAKE COVER\"}]}}\n```");
    assert_int_equal(p.steps[0].kind, AW_ACTION_MOVE_TO);
    assert_true(p.steps[0].position.x == 30 && p.steps[0].position.y == 0 && p.steps[0].position.z == 10);
    assert_int_equal(p.steps[1].kind, AW_ACTION_TAKE_COVER);

    p = parse_ok("{\"steps\":[{\"kind\":\"Strafe\",\"target\":\"E1\",\"distance\":4,\"direction\":\"left\"},"
                 "{\"kind\":\"Revive\",\"target\":\"A1\"},{\"kind\":\"Heal\",\"target\":\"self\"},"
                 "{\"kind\":\"Heal\",\"target\":\"A2\",\"amount\":20},{\"kind\":\"ThrowExplosive\",\"target\":\"E1\"},"
                 "{\"kind\":\"CoverFire\",\"target\":\"E1\",\"duration\":3},{\"kind\":\"MarkTarget\",\"target\":\"E2\"},"
                 "{\"kind\":\"Approach\",\"target\":\"commander\",\"distance\":2}]}");
    assert_int_equal(p.step_count, 8);
    assert_int_equal(p.steps[0].direction, -1);
    assert_int_equal(p.steps[1].target, 301);
    assert_int_equal(p.steps[2].target, AW_ENTITY_NULL); /* self heal */
    assert_int_equal(p.steps[3].target, 302);
    assert_true(p.steps[3].amount == 20);
    assert_true(p.steps[4].position.x == 10 && p.steps[4].target == 201); /* aimed at the target's position */
    assert_true(p.steps[5].duration == 3);
    assert_int_equal(p.steps[6].target, 202); /* a downed enemy may be marked */
    assert_int_equal(p.steps[7].target, 400);

    /* Fields a kind does not read stay zero. */
    p = parse_ok("{\"steps\":[{\"kind\":\"Reload\",\"target\":\"E1\",\"position\":[1,2,3],\"duration\":5,\"mood\":\"calm\"}]}");
    assert_int_equal(p.steps[0].target, AW_ENTITY_NULL);
    assert_true(p.steps[0].position.x == 0 && p.steps[0].duration == 0);

    p = parse_ok("{\"steps\":[{\"kind\":\"Patrol\"},{\"kind\":\"Scan\",\"duration\":2},{\"kind\":\"Regroup\"},"
                 "{\"kind\":\"Retreat\",\"target\":\"E1\",\"distance\":10},{\"kind\":\"AimedShot\",\"target\":\"e1\"},"
                 "{\"kind\":\"Strafe\",\"target\":\"E1\",\"direction\":-1}]}");
    assert_int_equal(p.step_count, 6);
    assert_int_equal(p.steps[4].target, 201);
    assert_int_equal(p.steps[5].direction, -1);
}

static void test_invalid_answers(void **state) {
    (void)state;
    parse_bad("", "no JSON object");
    parse_bad("I would attack the enemy now.", "no JSON object");
    parse_bad("{\"steps\":[{\"kind\":\"Dance\"}]}", "unknown step kind \"Dance\"");
    parse_bad("{\"steps\":[{\"kind\":\"None\"}]}", "unknown step kind");
    parse_bad("{\"steps\":[{\"target\":\"E1\"}]}", "step 1: field 'kind'");
    parse_bad("{\"steps\":[{\"kind\":42}]}", "field 'kind'");
    parse_bad("{\"steps\":[{\"kind\":\"Reload\"},{\"kind\":\"Attack\"}]}", "step 2: field 'target'");
    parse_bad("{\"steps\":[{\"kind\":\"Attack\",\"target\":\"E3\"}]}", "\"E3\" is not a contact");
    parse_bad("{\"steps\":[{\"kind\":\"Attack\",\"target\":\"A2\"}]}", "needs an enemy");
    parse_bad("{\"steps\":[{\"kind\":\"Attack\",\"target\":\"E2\"}]}", "already down");
    parse_bad("{\"steps\":[{\"kind\":\"Attack\",\"target\":201}]}", "must be a string");
    parse_bad("{\"steps\":[{\"kind\":\"Revive\",\"target\":\"A2\"}]}", "not downed");
    parse_bad("{\"steps\":[{\"kind\":\"MoveTo\"}]}", "needs a position");
    parse_bad("{\"steps\":[{\"kind\":\"MoveTo\",\"position\":[60,0,0]}]}", "outside the navigable bounds");
    parse_bad("{\"steps\":[{\"kind\":\"MoveTo\",\"position\":[1,2,3,4]}]}", "field 'position'");
    parse_bad("{\"steps\":[{\"kind\":\"MoveTo\",\"position\":[\"1\",2]}]}", "finite numbers");
    parse_bad("{\"steps\":[{\"kind\":\"Wait\",\"duration\":100}]}", "outside 0..60");
    parse_bad("{\"steps\":[{\"kind\":\"Wait\",\"duration\":-1}]}", "outside");
    parse_bad("{\"steps\":[{\"kind\":\"Wait\"}]}", "needs a duration");
    parse_bad("{\"steps\":[{\"kind\":\"Wait\",\"duration\":\"2\"}]}", "must be a number");
    parse_bad("{\"steps\":[{\"kind\":\"Approach\",\"target\":\"E1\",\"distance\":1e9}]}", "outside");
    parse_bad("{\"steps\":[{\"kind\":\"Strafe\",\"target\":\"E1\",\"direction\":\"up\"}]}", "field 'direction'");
    parse_bad("{\"steps\":[{\"kind\":\"Heal\",\"target\":\"E1\"}]}", "heal self or an ally");
    parse_bad("{\"steps\":[{\"kind\":\"ThrowExplosive\"}]}", "needs a position or a target");
    parse_bad("{\"steps\":[]}", "no \"steps\"");
    parse_bad("{\"plan\":\"attack\"}", "no \"steps\"");
    parse_bad("{\"steps\":[{\"kind\":\"Reload\"},{\"kind\":\"Reload\"},{\"kind\":\"Reload\"},{\"kind\":\"Reload\"},"
              "{\"kind\":\"Reload\"},{\"kind\":\"Reload\"},{\"kind\":\"Reload\"},{\"kind\":\"Reload\"},"
              "{\"kind\":\"Reload\"}]}",
              "9 steps, at most 8");
    parse_bad("{\"steps\":[{\"kind\":\"Attack\",\"target\":\"E1\"}", "truncated");
    parse_bad("```json\n{\"steps\":[{\"kind\":\"Attack\",\"tar", "truncated");
    parse_bad("{\"steps\":[{\"kind\":\"Reload\",\"kind\":\"Attack\"}]}", "invalid JSON");
    parse_bad("{\"steps\":[{\"kind\":\"Rel\xff\xfe" "oad\"}]}", "invalid JSON");
    parse_bad("{\"steps\":[{\"kind\":\"Wait\",\"duration\":1e400}]}", "invalid JSON");
    parse_bad("{\"steps\" [1]}", "invalid JSON");
    parse_bad("{\"steps\":[1]}", "not an object");
    /* Huge: more than AW_LLM_MAX_CONTENT, even when valid. */
    size_t big = AW_LLM_MAX_CONTENT + 100;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "{\"steps\":[{\"kind\":\"Reload\"}]}", 29);
    huge[big] = '\0';
    parse_bad(huge, "more than");
    free(huge);
    aw_world_snapshot s = llm_test_snapshot();
    aw_plan_intent p;
    assert_int_equal(aw_llm_parse_plan(NULL, 3, &s, &p), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_llm_parse_plan("{}", 2, NULL, &p), AW_ERR_INVALID_ARG);
}

static void test_response_bodies(void **state) {
    (void)state;
    aw_world_snapshot s = llm_test_snapshot();
    aw_plan_intent p;
    const char *ok = "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                     "\"assistant\",\"content\":\"```json\\n{\\\"steps\\\":[{\\\"kind\\\":\\\"Revive\\\",\\\"target\\\":"
                     "\\\"A1\\\"}]}\\n```\"},\"finish_reason\":\"stop\"}]}";
    assert_int_equal(aw_llm_parse_response(ok, strlen(ok), &s, &p), AW_OK);
    assert_int_equal(p.steps[0].kind, AW_ACTION_REVIVE);
    struct {
        const char *body, *fragment;
    } bad[] = {
        {"{\"error\":{\"message\":\"model overloaded\"}}", "model overloaded"},
        {"{\"choices\":[]}", "no choices[0].message.content"},
        {"{\"choices\":[{\"message\":{\"content\":null}}]}", "no choices[0].message.content"},
        {"{\"choices\":[{\"message\":{\"content\":\"no plan today\"}}]}", "no JSON object"},
        {"{\"choices\":[{\"message\":{\"content\":\"{\\\"steps\\\":[{\\\"kind\\\":\\\"Fly\\\"}]}\"}}]}", "unknown step kind"},
        {"{\"choices\":[{\"mess", "invalid JSON"},
        {"<html>502 Bad Gateway</html>", "invalid JSON"},
        {"", "invalid JSON"},
        {"[1,2,3]", "no choices"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(aw_llm_parse_response(bad[i].body, strlen(bad[i].body), &s, &p), AW_ERR_PARSE);
        if (!strstr(aw_last_error(), bad[i].fragment)) fail_msg("%s: %s", bad[i].body, aw_last_error());
        assert_int_equal(p.step_count, 0);
    }
}

static void test_describe_snapshot(void **state) {
    (void)state;
    aw_world_snapshot s = llm_test_snapshot();
    char buf[2048];
    size_t n = aw_llm_describe_snapshot(&s, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "Me: hp 40/100"));
    assert_non_null(strstr(buf, "E1 at (10.0, 0.0, 5.0) 9.5 m, hp 80, in cover, visible"));
    assert_non_null(strstr(buf, "E2 at (-20.0, 0.0, 5.0) 21.0 m, hp 0, downed, not visible, last seen 2.5 s ago"));
    assert_non_null(strstr(buf, "A1 at"));
    assert_non_null(strstr(buf, "order: advance to (30.0, 0.0, 10.0)"));
    assert_non_null(strstr(buf, "Objective: hold"));
    assert_non_null(strstr(buf, "cover at (4.0, 0.0, -2.0)"));
    assert_non_null(strstr(buf, "attack 0.5 s"));
    /* Cut to a small buffer: the same length reported, a NUL-terminated prefix written. */
    char small[16];
    assert_int_equal(aw_llm_describe_snapshot(&s, small, sizeof small), n);
    assert_int_equal(strlen(small), 15);
    assert_memory_equal(small, buf, 15);
    /* Deterministic. */
    char again[2048];
    aw_llm_describe_snapshot(&s, again, sizeof again);
    assert_string_equal(buf, again);
    assert_non_null(strstr(aw_llm_default_system_prompt(), "MarkTarget"));
    char summary[512];
    n = aw_llm_summarize_snapshot(&s, summary, sizeof summary);
    assert_int_equal(n, strlen(summary));
    assert_string_equal(summary, "hp low, ammo low, has explosives. One enemy, nearest at mid range visible in cover. "
                                 "An ally is downed. Commander ordered advance. Objective: hold.");
    /* Bands: a slightly different situation reads the same. */
    aw_world_snapshot t = s;
    t.self.hp = 45;
    t.enemies[0].distance = 12;
    char summary2[512];
    aw_llm_summarize_snapshot(&t, summary2, sizeof summary2);
    assert_string_equal(summary, summary2);
}

/* Random byte edits of valid answers: a plan or a parse error, never anything else. */
static void test_mutations(void **state) {
    (void)state;
    static const char *seeds[] = {
        "```json\n{\"steps\":[{\"kind\":\"TakeCover\",\"position\":[4,0,-2]},{\"kind\":\"Attack\",\"target\":\"E1\"}]}\n```",
        "{\"plan\":{\"steps\":[{\"kind\":\"Strafe\",\"target\":\"E1\",\"distance\":3,\"direction\":\"right\"}]}}",
        "ok {\"steps\":[{\"kind\":\"Wait\",\"duration\":2},{\"kind\":\"Revive\",\"target\":\"A1\"}]} done"};
    aw_world_snapshot s = llm_test_snapshot();
    aw_rng rng;
    aw_rng_seed(&rng, 11);
    char buf[256];
    uint32_t ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        const char *seed = seeds[iter % 3];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)aw_rng_range(&rng, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = aw_rng_range(&rng, (uint32_t)n);
            uint32_t op = aw_rng_range(&rng, 3);
            if (op == 0) buf[at] = (char)aw_rng_range(&rng, 256);
            else if (op == 1 && n > 1) n = at + 1; /* truncate */
            else buf[at] = "{}[]\",:0E9-"[aw_rng_range(&rng, 11)];
        }
        aw_plan_intent p;
        aw_status st = aw_llm_parse_plan(buf, n, &s, &p);
        assert_true(st == AW_OK || st == AW_ERR_PARSE);
        if (st == AW_OK) {
            ok++;
            assert_true(p.step_count >= 1 && p.step_count <= AW_AI_MAX_STEPS);
            for (uint32_t i = 0; i < p.step_count; i++)
                assert_true(p.steps[i].kind > AW_ACTION_NONE && p.steps[i].kind < AW_ACTION_KIND_COUNT);
        }
    }
    assert_true(ok > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_answers),   cmocka_unit_test(test_invalid_answers),
        cmocka_unit_test(test_response_bodies), cmocka_unit_test(test_describe_snapshot),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
