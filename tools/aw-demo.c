/* aw-demo: the combat scenario's world (or seed-profile's) simulated and drawn by the Vulkan renderer, in a
 * window when a display exists, else headless; prints frame statistics and can save a screenshot.
 * Exit codes: 0 ok, 1 the run failed, 2 bad usage, 77 no Vulkan device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/demo.h"
#include "tool_args.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: aw-demo [options]\n"
            "\n"
            "options:\n"
            "  --entities N         entities in the scenario (default 10000)\n"
            "  --frames N           frames to run (default 600)\n"
            "  --warmup N           first frames left out of the statistics (default 10)\n"
            "  --threads N          threads, the caller included (default: one per hardware thread)\n"
            "  --scenario NAME      stress scenario whose world is drawn: combat (default) or seed-profile\n"
            "  --headless           render offscreen even when a display exists\n"
            "  --screenshot FILE    write the last frame as PNG\n"
            "  --naive              one draw call per entity (the baseline)\n"
            "  --indirect           all batches through one vkCmdDrawIndexedIndirect\n"
            "  --vsync on|off       windowed: wait for vertical blank (default on)\n"
            "  --size WxH           frame size (default 1280x720)\n"
            "  --device NAME        use the Vulkan device whose name contains NAME (or AW_GPU_DEVICE)\n"
            "  --validation         enable the Vulkan validation layer (or AW_VK_VALIDATION=1); any\n"
            "                       error or warning it reports fails the run (exit 1)\n"
            "  --resize-at N:WxH    windowed: ask for a WxH window after frame N\n"
            "  --vsync-switch-at N  windowed: switch vsync to the other setting after frame N\n"
            "  --stats              print the frame statistics table (default: a summary line)\n"
            "  --help, -h           show this help\n");
}

static int usage_error(const char *fmt, const char *arg) { return tool_usage_error("aw-demo", fmt, arg); }

int main(int argc, char **argv) {
    aw_demo_desc d = {.vsync = true};
    bool stats = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        bool missing = false;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--headless") == 0) {
            d.headless = true;
        } else if (strcmp(arg, "--naive") == 0) {
            d.mode = AW_RENDER_NAIVE;
        } else if (strcmp(arg, "--indirect") == 0) {
            d.mode = AW_RENDER_INDIRECT;
        } else if (strcmp(arg, "--stats") == 0) {
            stats = true;
        } else if (strcmp(arg, "--validation") == 0) {
            d.validation = true;
        } else if (take_value(argc, argv, &i, "--entities", &value, &missing)) {
            if (missing || !parse_u32(value, 1, 16u << 20, &d.entities))
                return usage_error("--entities needs a whole number from 1 to 16777216, got '%s'", missing ? "" : value);
        } else if (take_value(argc, argv, &i, "--frames", &value, &missing)) {
            if (missing || !parse_u32(value, 1, 10000000, &d.frames))
                return usage_error("--frames needs a whole number from 1 to 10000000, got '%s'", missing ? "" : value);
        } else if (take_value(argc, argv, &i, "--warmup", &value, &missing)) {
            uint32_t w = 0;
            if (missing || !parse_u32(value, 0, 1000000, &w))
                return usage_error("--warmup needs a whole number from 0 to 1000000, got '%s'", missing ? "" : value);
            d.warmup = w ? w : AW_STRESS_NO_WARMUP;
        } else if (take_value(argc, argv, &i, "--threads", &value, &missing)) {
            if (missing || !parse_u32(value, 1, 64, &d.threads))
                return usage_error("--threads needs a whole number from 1 to 64, got '%s'", missing ? "" : value);
        } else if (take_value(argc, argv, &i, "--scenario", &value, &missing)) {
            if (missing || !aw_stress_scenario_find(value))
                return usage_error("unknown scenario '%s' (aw-stress --list shows them)", missing ? "" : value);
            d.scenario = value;
        } else if (take_value(argc, argv, &i, "--screenshot", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a file name", "--screenshot");
            d.screenshot = value;
        } else if (take_value(argc, argv, &i, "--vsync", &value, &missing)) {
            if (missing || (strcmp(value, "on") != 0 && strcmp(value, "off") != 0))
                return usage_error("--vsync takes on or off, got '%s'", missing ? "" : value);
            d.vsync = strcmp(value, "on") == 0;
        } else if (take_value(argc, argv, &i, "--size", &value, &missing)) {
            char *x = missing ? NULL : strchr(value, 'x');
            char w[16] = "";
            if (x && (size_t)(x - value) < sizeof w) memcpy(w, value, (size_t)(x - value));
            if (!x || !parse_u32(w, 16, 8192, &d.width) || !parse_u32(x + 1, 16, 8192, &d.height))
                return usage_error("--size needs WxH, each from 16 to 8192, got '%s'", missing ? "" : value);
        } else if (take_value(argc, argv, &i, "--resize-at", &value, &missing)) {
            char frame[16] = "", w[16] = "";
            const char *colon = missing ? NULL : strchr(value, ':');
            const char *x = colon ? strchr(colon, 'x') : NULL;
            if (colon && (size_t)(colon - value) < sizeof frame) memcpy(frame, value, (size_t)(colon - value));
            if (x && (size_t)(x - colon - 1) < sizeof w) memcpy(w, colon + 1, (size_t)(x - colon - 1));
            if (!x || !parse_u32(frame, 1, 10000000, &d.resize_frame) || !parse_u32(w, 16, 8192, &d.resize_width) ||
                !parse_u32(x + 1, 16, 8192, &d.resize_height))
                return usage_error("--resize-at needs N:WxH (frame from 1, sizes from 16 to 8192), got '%s'",
                                   missing ? "" : value);
        } else if (take_value(argc, argv, &i, "--vsync-switch-at", &value, &missing)) {
            if (missing || !parse_u32(value, 1, 10000000, &d.vsync_switch_frame))
                return usage_error("--vsync-switch-at needs a frame number from 1, got '%s'", missing ? "" : value);
        } else if (take_value(argc, argv, &i, "--device", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a device name", "--device");
            d.device_name = value;
        } else {
            return usage_error("unknown option '%s'", arg);
        }
    }
    aw_demo_result result;
    aw_status st = aw_demo_run(&d, &result);
    if (st == AW_ERR_UNAVAILABLE) {
        fprintf(stderr, "aw-demo: no Vulkan device: %s\n", aw_last_error());
        return 77;
    }
    if (st != AW_OK) {
        fprintf(stderr, "aw-demo: %s: %s\n", aw_status_str(st), aw_last_error());
        return 1;
    }
    if (stats) {
        aw_demo_print(stdout, &result);
    } else {
        printf("aw-demo: %u frames of %u entities on %s: frame p50 %.3f ms, render prep p50 %.3f ms, %u draw calls\n",
               result.frames, result.entities, result.device, result.frame_ms.p50, result.prep_ms.p50, result.last.draw_calls);
    }
    if (d.screenshot) printf("screenshot: %s\n", d.screenshot);
    if (result.validation_errors || result.validation_warnings) {
        fprintf(stderr, "aw-demo: the validation layer reported %u errors and %u warnings; the first: %s\n",
                result.validation_errors, result.validation_warnings, result.validation_message);
        return 1;
    }
    return 0;
}
