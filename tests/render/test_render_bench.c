/* aw-bench render's rows: a small scene (2,000 entities) run through the built aw-bench, whose
 * JSON must hold the idle-device prep figure (prep_2k_ms, with its 1.5 ms target) and the
 * contended one (prep_2k_ms_overlapped, with the idle figure as its baseline) beside the draw-call
 * counts. Skips (exit 77) without a Vulkan device; skips its case when the tools are not built. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../cli_test_util.h"
#include "../gpu/gpu_test_env.h"

static const json_t *find_row(const json_t *results, const char *name) {
    size_t i;
    const json_t *row;
    json_array_foreach(results, i, row) {
        const char *n = json_string_value(json_object_get(row, "name"));
        if (n && strcmp(n, name) == 0) return row;
    }
    return NULL;
}

static void test_prep_rows(void **state) {
    (void)state;
    if (!cli_find_tool("aw-bench")) skip();
    char json_path[] = "/tmp/aw_bench_render_XXXXXX";
    int fd = mkstemp(json_path);
    assert_true(fd >= 0);
    close(fd);
#if defined(AW_SANITIZED)
    cli_tools_skip_leak_scan();
#endif
    static cli_result r;
    cli_run(&r, (const char *const[]){"render", "--entities", "2000", "--reps", "2", "--json", json_path, NULL});
    if (r.code != 0) fail_msg("aw-bench render exited %d: %s", r.code, r.err);
    json_error_t err;
    json_t *root = json_load_file(json_path, 0, &err);
    remove(json_path);
    if (!root) fail_msg("aw-bench render --json: %s", err.text);
    const json_t *results = json_object_get(root, "results");
    assert_true(json_is_array(results));

    const json_t *idle = find_row(results, "prep_2k_ms");
    const json_t *overlapped = find_row(results, "prep_2k_ms_overlapped");
    const json_t *draws = find_row(results, "draw_calls_batched");
    assert_non_null(idle);
    assert_non_null(overlapped);
    assert_non_null(draws);
    assert_int_equal(json_integer_value(json_object_get(idle, "reps")), 2);
    assert_true(json_real_value(json_object_get(idle, "value")) > 0.0);
    assert_true(json_number_value(json_object_get(idle, "target")) == 1.5);
    assert_true(json_number_value(json_object_get(overlapped, "value")) > 0.0);
    /* The contended figure is read against the idle one of the same run. */
    assert_true(json_number_value(json_object_get(overlapped, "baseline")) == json_number_value(json_object_get(idle, "value")));
    assert_true(json_number_value(json_object_get(draws, "value")) <= 16.0);
    assert_null(strstr(r.err, "failed")); /* no failure messages */
    assert_null(strstr(r.err, "runtime error")); /* none from UBSan in the child */
    json_decref(root);
}

int main(void) {
    aw_gpu *gpu = NULL;
    int code = gpu_test_open("test_render_bench", &gpu);
    if (code >= 0) return code;
    aw_gpu_destroy(gpu); /* only the device check: aw-bench opens its own */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prep_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
