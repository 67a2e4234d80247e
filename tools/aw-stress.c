/* aw-stress: runs stress scenarios (the stress library in libastraweave) and prints frame-time
 * tables, JSON, traces, plots, capacity and comparisons. Only flag parsing and the progress bar
 * live here. Exit codes: 0 ok, 1 a run or an output failed, 2 bad usage, 3 --compare found
 * regressions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/stress.h"
#include "tool_args.h"

#define MAX_COUNTS   32u
#define MAX_ENTITIES (16u << 20)
#define MAX_FRAMES   10000000u
#define MAX_THREADS  256u

static void usage(FILE *out) {
    fprintf(out,
            "usage: aw-stress [options]\n"
            "\n"
            "options:\n"
            "  --scenario NAME        scenario to run (default seed-profile; --list shows them)\n"
            "  --entities N[,N...]    entity counts, one run each (default 500,1000,2000,5000)\n"
            "  --frames N             timed frames per run (default 2000; capacity probes 300)\n"
            "  --warmup N             untimed frames first (default 100; capacity probes 30)\n"
            "  --threads N            threads, the caller included (default: one per hardware thread)\n"
            "  --seed S               scenario seed (default 0)\n"
            "  --json FILE|-          write the results as JSON; '-' writes JSON to stdout and moves the\n"
            "                         table to stderr\n"
            "  --trace FILE           write a Chrome trace of every frame (open in ui.perfetto.dev)\n"
            "  --plot FILE            write an SVG chart: p50/p99 against entities, histograms\n"
            "  --capacity             find the largest entity count whose p99 frame fits 16.67 ms,\n"
            "                         each count judged by two runs, or three when they disagree\n"
            "                         (alone unless --entities is given too)\n"
            "  --compare BASE.json    compare with a saved --json report; exit 3 on regressions\n"
            "  --threshold PCT        regression threshold for --compare in percent (default 10)\n"
            "  --list                 list the scenarios and exit\n"
            "  --help, -h             show this help\n"
            "\n"
            "exit codes: 0 ok, 1 a run or an output failed, 2 bad usage, 3 regressions found\n");
}

static int usage_error(const char *fmt, const char *arg) { return tool_usage_error("aw-stress", fmt, arg); }

/* "500,1000,2000": each from 1 to MAX_ENTITIES, at most MAX_COUNTS of them. */
static bool parse_counts(const char *s, uint32_t *counts, uint32_t *n) {
    char buf[512];
    if (!s || strlen(s) >= sizeof buf) return false;
    strcpy(buf, s);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_COUNTS || !parse_u32(tok, 1, MAX_ENTITIES, &counts[*n])) return false;
        (*n)++;
    }
    /* strtok_r skips empty fields: "5,,6" and ",5" must not pass as "5,6" and "5". */
    return *n > 0 && s[0] != ',' && s[strlen(s) - 1] != ',' && !strstr(s, ",,");
}

static bool parse_percent(const char *s, double *out) {
    if (!s || !*s) return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || !(v > 0.0) || v > 1000.0) return false;
    *out = v / 100.0;
    return true;
}

static void progress_bar(void *user, uint32_t done, uint32_t total) {
    (void)user;
    enum { WIDTH = 40 };
    uint32_t filled = total ? (uint32_t)((uint64_t)done * WIDTH / total) : WIDTH;
    char bar[WIDTH + 1];
    for (uint32_t k = 0; k < WIDTH; k++) bar[k] = k < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %3u%%", bar, total ? (unsigned)((uint64_t)done * 100 / total) : 100u);
    if (done >= total) fputs("\r\033[K", stderr);
    fflush(stderr);
}

int main(int argc, char **argv) {
    aw_stress_plan plan = {0};
    uint32_t counts[MAX_COUNTS];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        bool missing = false;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--list") == 0) {
            for (const aw_stress_scenario *const *s = aw_stress_scenarios(); *s; s++)
                printf("%-16s %s\n", (*s)->name, (*s)->description);
            return 0;
        } else if (strcmp(arg, "--capacity") == 0) {
            plan.capacity = true;
        } else if (take_value(argc, argv, &i, "--scenario", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a scenario name", "--scenario");
            if (!aw_stress_scenario_find(value))
                return usage_error("unknown scenario '%s' (aw-stress --list shows them)", value);
            plan.scenario = value;
        } else if (take_value(argc, argv, &i, "--entities", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--entities");
            if (!parse_counts(value, counts, &plan.entity_count))
                return usage_error(
                    "--entities needs up to 32 comma-separated whole numbers from 1 to 16777216, "
                    "got '%s'",
                    value);
            plan.entities = counts;
        } else if (take_value(argc, argv, &i, "--frames", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--frames");
            if (!parse_u32(value, 1, MAX_FRAMES, &plan.frames))
                return usage_error("--frames needs a whole number from 1 to 10000000, got '%s'", value);
        } else if (take_value(argc, argv, &i, "--warmup", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--warmup");
            if (!parse_u32(value, 0, MAX_FRAMES, &plan.warmup))
                return usage_error("--warmup needs a whole number from 0 to 10000000, got '%s'", value);
            if (plan.warmup == 0) plan.warmup = AW_STRESS_NO_WARMUP;
        } else if (take_value(argc, argv, &i, "--threads", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--threads");
            if (!parse_u32(value, 1, MAX_THREADS, &plan.threads))
                return usage_error("--threads needs a whole number from 1 to 256, got '%s'", value);
        } else if (take_value(argc, argv, &i, "--seed", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--seed");
            if (!parse_u64(value, 0, UINT64_MAX, &plan.seed))
                return usage_error("--seed needs a whole number from 0 to 18446744073709551615, got '%s'",
                                   value);
        } else if (take_value(argc, argv, &i, "--json", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a file name or '-'", "--json");
            plan.json_path = value;
        } else if (take_value(argc, argv, &i, "--trace", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a file name", "--trace");
            plan.trace_path = value;
        } else if (take_value(argc, argv, &i, "--plot", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a file name", "--plot");
            plan.plot_path = value;
        } else if (take_value(argc, argv, &i, "--compare", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a baseline JSON file", "--compare");
            plan.compare_path = value;
        } else if (take_value(argc, argv, &i, "--threshold", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--threshold");
            if (!parse_percent(value, &plan.compare_threshold))
                return usage_error("--threshold needs a percentage above 0 and at most 1000, got '%s'",
                                   value);
        } else if (arg[0] == '-') {
            return usage_error("unknown option '%s'", arg);
        } else {
            return usage_error("unexpected argument '%s' (options start with --)", arg);
        }
    }
    const char *stdout_users[3] = {plan.json_path, plan.trace_path, plan.plot_path};
    int on_stdout = 0;
    for (int k = 0; k < 3; k++) on_stdout += stdout_users[k] && strcmp(stdout_users[k], "-") == 0;
    if (on_stdout > 1)
        return usage_error("%s", "only one of --json, --trace and --plot may write to stdout ('-')");
    if (on_stdout && !(plan.json_path && strcmp(plan.json_path, "-") == 0))
        return usage_error("%s",
                           "only --json may write to stdout ('-'); give --trace and --plot a file name");

    if (isatty(STDERR_FILENO)) plan.progress = progress_bar;
    aw_stress_outcome outcome;
    aw_status st = aw_stress_execute(&plan, &outcome);
    if (st != AW_OK) {
        fprintf(stderr, "aw-stress: %s\n", aw_last_error());
        return 1;
    }
    return outcome.regressions ? 3 : 0;
}
