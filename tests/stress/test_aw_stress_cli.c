/* Tests for the aw-stress command line: bad flags are refused with a clear message and exit code
 * 2, --help and --list work, and a tiny run writes JSON to stdout that parses back. Runs the
 * aw-stress built next to this test (build/bin); skipped when tools are not built. */
#include "aw/core.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../cli_test_util.h"

static void test_bad_flags_exit_2(void **state) {
    (void)state;
    if (!cli_find_tool("aw-stress")) skip();
    static cli_result r;
    const struct {
        const char *args[4];
        const char *says;
    } cases[] = {
        {{"--frames", "0"}, "--frames needs a whole number"},
        {{"--frames", "-5"}, "--frames needs a whole number"},
        {{"--frames"}, "--frames needs a value"},
        {{"--entities", "5,,6"}, "--entities needs"},
        {{"--entities", "1000,"}, "--entities needs"},
        {{"--entities", "0"}, "--entities needs"},
        {{"--entities", "99999999999"}, "--entities needs"},
        {{"--threads", "two"}, "--threads needs"},
        {{"--warmup", "1x"}, "--warmup needs"},
        {{"--seed", "-1"}, "--seed needs"},
        {{"--scenario", "nope"}, "unknown scenario 'nope'"},
        {{"--json"}, "--json needs a file name"},
        {{"--threshold", "0"}, "--threshold needs"},
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--trace", "-"}, "only --json may write to stdout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_run(&r, cases[i].args);
        if (r.code != 2 || !strstr(r.err, cases[i].says) || !strstr(r.err, "try 'aw-stress --help'"))
            fail_msg("case %zu (%s %s): exit %d, stderr: %s", i, cases[i].args[0],
                     cases[i].args[1] ? cases[i].args[1] : "", r.code, r.err);
        assert_string_equal(r.out, ""); /* nothing on stdout */
    }
}

static void test_help_list_and_a_tiny_run(void **state) {
    (void)state;
    if (!cli_find_tool("aw-stress")) skip();
    static cli_result r;
    cli_run(&r, (const char *[]){"--help", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "--capacity"));
    cli_run(&r, (const char *[]){"--list", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "seed-profile"));

    cli_run(&r, (const char *[]){"--entities", "64,128", "--frames", "5", "--warmup", "1", "--threads", "1",
                             "--json", "-", NULL});
    if (r.code != 0) fail_msg("exit %d: %s", r.code, r.err);
    json_error_t err;
    json_t *root = json_loads(r.out, 0, &err);
    if (!root) fail_msg("stdout is not JSON (line %d: %s): %s", err.line, err.text, r.out);
    json_t *runs = json_object_get(root, "runs");
    assert_int_equal(json_array_size(runs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "entities")), 64);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 1), "frames")), 5);
    assert_non_null(strstr(r.err, "p99 ms")); /* the table moved to stderr */
    json_decref(root);

    /* Comparing a run with its own JSON: no regression beyond a generous threshold; a missing
     * baseline file is a run failure (exit 1), not a usage error. */
    char base[] = "/tmp/aw_stress_cli_base_XXXXXX";
    int fd = mkstemp(base);
    assert_true(fd >= 0);
    close(fd);
    cli_run(&r, (const char *[]){"--entities", "64", "--frames", "5", "--warmup", "1", "--threads", "1", "--json",
                             base, NULL});
    assert_int_equal(r.code, 0);
    cli_run(&r, (const char *[]){"--entities", "64", "--frames", "5", "--warmup", "1", "--threads", "1",
                             "--compare", base, "--threshold", "1000", NULL});
    if (r.code != 0 && r.code != 3) fail_msg("exit %d: %s", r.code, r.err);
    assert_non_null(strstr(r.out, "verdict:"));
    remove(base);
    cli_run(&r,
        (const char *[]){"--entities", "64", "--frames", "5", "--compare", "/nonexistent/base.json", NULL});
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.err, "/nonexistent/base.json"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags_exit_2),
        cmocka_unit_test(test_help_list_and_a_tiny_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
