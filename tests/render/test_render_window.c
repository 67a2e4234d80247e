/* The windowed path end to end: aw-demo opens a GLFW window (under xvfb-run when no display is
 * set), creates the swapchain, resizes the window, switches vsync off (FIFO to MAILBOX or
 * IMMEDIATE where offered), handles out-of-date and suboptimal swapchains, presents every frame
 * and writes a screenshot, with the validation layer on and zero messages. Skips (exit 77) with
 * the reason when there is no X server or xvfb-run, or no Vulkan device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../cli_test_util.h"
#include "aw/render.h"

#define SKIP 77

static bool on_path(const char *program) {
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, program);
        if (n && access(buf, X_OK) == 0) return true;
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

static bool have_display(void) {
    const char *x11 = getenv("DISPLAY");
    return x11 && *x11;
}

/* Runs aw-demo with args (NULL-terminated), under xvfb-run when there is no display. */
static void run_demo(cli_result *r, const char *const *args) {
    const char *argv[32];
    int n = 0;
    if (!have_display()) {
        argv[n++] = "xvfb-run";
        argv[n++] = "-a"; /* a free display number: tests may run side by side */
        argv[n++] = "-s";
        argv[n++] = "-screen 0 1280x1024x24";
    }
    argv[n++] = cli_tool;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    cli_tools_skip_leak_scan(); /* the demo's own leaks: test_render_demo, in process */
    cli_run_argv(r, argv);
}

static bool skipped;

static uint32_t mode_bits(const char *list) {
    static const char *const modes[4] = {"immediate", "mailbox", "fifo", "fifo-relaxed"};
    uint32_t bits = 0;
    char word[32];
    int used = 0;
    while (sscanf(list, " %31[a-z-]%n", word, &used) == 1) {
        for (uint32_t m = 0; m < 4; m++)
            if (strcmp(word, modes[m]) == 0) bits |= 1u << m;
        list += used;
    }
    return bits;
}

/* A run that starts with vsync on at 320x240, asks for 400x300 after frame 4 and switches vsync
 * off after frame 8; then a run that starts with vsync off. */
static void check_run(const char *vsync) {
    char shot[] = "/tmp/aw_win_shot_XXXXXX";
    int fd = mkstemp(shot);
    assert_true(fd >= 0);
    close(fd);
    const char *args[] = {"--entities", "300", "--frames", "16", "--warmup", "2", "--threads", "2", "--size", "320x240",
                          "--vsync", vsync, "--resize-at", "4:400x300", "--vsync-switch-at", "8", "--validation", "--stats",
                          "--screenshot", shot, NULL};
    static cli_result result; /* 80 KiB: off the stack */
    cli_result *r = &result;
    run_demo(r, args);
    if (r->code == SKIP) {
        print_message("skipped: %s", r->err);
        skipped = true;
        remove(shot);
        return;
    }
    if (r->code != 0) fail_msg("aw-demo exited with %d\nstdout:\n%s\nstderr:\n%s", r->code, r->out, r->err);
    /* A window, not the headless fallback. */
    if (!strstr(r->out, "400x300 window on")) fail_msg("no window at the asked size:\n%s\n%s", r->out, r->err);
    const char *line = strstr(r->out, "window: ");
    assert_non_null(line);
    unsigned w = 0, h = 0;
    char offered[64] = "", used[64] = "";
    unsigned swapchains = 0, resizes = 0, out_of_date = 0, suboptimal = 0, skipped_frames = 0;
    unsigned long long presented = 0;
    int got = sscanf(line,
                     "window: %ux%u, present modes offered:%63[a-z -]; used:%63[a-z -]; %u swapchains, %u resize events, "
                     "%u out of date, %u suboptimal, %u frames skipped, %llu presented",
                     &w, &h, offered, used, &swapchains, &resizes, &out_of_date, &suboptimal, &skipped_frames, &presented);
    if (got != 10) fail_msg("cannot read the window line (%d fields): %s", got, line);
    assert_int_equal(w, 400);
    assert_int_equal(h, 300);
    uint32_t offered_bits = mode_bits(offered), used_bits = mode_bits(used);
    uint32_t fifo = 1u << 2, no_vsync = (1u << 0) | (1u << 1);
    assert_true(offered_bits & fifo);
    assert_true(used_bits & fifo); /* vsync on, before or after the switch */
    if (offered_bits & no_vsync) assert_true(used_bits & no_vsync); /* and off, where the surface allows it */
    /* Creation, the resize (reported as an event, or as out of date / suboptimal) and the switch. */
    assert_true(swapchains >= 3);
    assert_true(resizes + out_of_date + suboptimal >= 1);
    /* Every frame is presented except those skipped for an out-of-date swapchain. */
    assert_int_equal(presented + skipped_frames, 16);
    assert_true(skipped_frames <= out_of_date);
    assert_non_null(strstr(r->out, "validation: 0 errors, 0 warnings"));
    /* The screenshot from the windowed renderer: the offscreen image at the window's size. */
    uint32_t sw = 0, sh = 0;
    uint8_t *pixels = NULL;
    assert_int_equal(aw_image_read_png(shot, NULL, &sw, &sh, &pixels), AW_OK);
    assert_int_equal(sw, 400);
    assert_int_equal(sh, 300);
    uint32_t drawn = 0; /* something besides one flat colour */
    for (uint32_t i = 0; i < sw * sh; i++)
        drawn += abs((int)pixels[4 * i] - pixels[0]) + abs((int)pixels[4 * i + 1] - pixels[1]) +
                     abs((int)pixels[4 * i + 2] - pixels[2]) > 30;
    assert_true(drawn > 1000);
    aw_free(NULL, pixels, (size_t)sw * sh * 4);
    remove(shot);
}

static void test_window_vsync_on_then_off(void **state) {
    (void)state;
    check_run("on");
}

static void test_window_vsync_off_then_on(void **state) {
    (void)state;
    check_run("off");
}

int main(void) {
    (void)cli_run; /* the shared runner execs the tool directly; this test may go through xvfb-run */
    if (!cli_find_tool("aw-demo")) {
        printf("skipped: aw-demo was not built next to the tests\n");
        return SKIP;
    }
    if (!have_display() && !on_path("xvfb-run")) {
        printf("skipped: no X server (DISPLAY is unset) and no xvfb-run (Debian package xvfb)\n");
        return SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_vsync_on_then_off),
        cmocka_unit_test(test_window_vsync_off_then_on),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed) return failed;
    return skipped ? SKIP : 0;
}
