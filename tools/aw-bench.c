/* aw-bench: runs benchmark suites from bench/ (libaw_bench) and prints a table and, on request,
 * JSON. Only flag parsing lives here. Exit codes: 0 ok, 1 a scenario or the output failed, 2 bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/profile.h"
#include "bench.h"
#include "tool_args.h"

#define MAX_REPS     100000u
#define MAX_ENTITIES 100000000u /* 100M: the 7-system scenario needs ~150 bytes per entity */

static void usage(FILE *out) {
    fprintf(out, "usage: aw-bench SUITE [options]\n"
                 "\n"
                 "suites:\n"
                 "  all                run every suite\n");
    for (const char *const *s = aw_bench_suite_names(); *s; s++) fprintf(out, "  %s\n", *s);
    fprintf(out,
            "\n"
            "options:\n"
            "  --json FILE|-      also write results as JSON to FILE; '-' writes JSON to stdout and\n"
            "                     moves the table to stderr\n"
            "  --reps N           timed repetitions per scenario, medians reported (default %u)\n"
            "  --entities N       entities per scenario; jobs: items of the heavy loop (default %u)\n"
            "  --filter SUBSTR    run only scenarios whose name contains SUBSTR\n"
            "  --verbose, -v      progress and checksums on stderr\n"
            "  --help, -h         show this help\n",
            AW_BENCH_DEFAULT_REPS, AW_BENCH_DEFAULT_ENTITIES);
}

static int usage_error(const char *fmt, const char *arg) { return tool_usage_error("aw-bench", fmt, arg); }

/* Digits only: strtoul alone would accept "-1", " 5" and "5x". */
int main(int argc, char **argv) {
    const char *suite = NULL, *json = NULL;
    aw_bench_options opt = {0};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        bool missing = false;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            opt.verbose = true;
        } else if (take_value(argc, argv, &i, "--json", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a file name or '-'", "--json");
            json = value;
        } else if (take_value(argc, argv, &i, "--reps", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--reps");
            if (!parse_u32(value, 1, MAX_REPS, &opt.reps))
                return usage_error("--reps needs a whole number from 1 to 100000, got '%s'", value);
        } else if (take_value(argc, argv, &i, "--entities", &value, &missing)) {
            if (missing) return usage_error("%s needs a value", "--entities");
            if (!parse_u32(value, 1, MAX_ENTITIES, &opt.entities))
                return usage_error("--entities needs a whole number from 1 to 100000000, got '%s'", value);
        } else if (take_value(argc, argv, &i, "--filter", &value, &missing)) {
            if (missing || !*value) return usage_error("%s needs a non-empty substring", "--filter");
            opt.filter = value;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return usage_error("unknown option '%s'", arg);
        } else if (suite) {
            return usage_error("more than one suite given ('%s')", arg);
        } else {
            suite = arg;
        }
    }
    if (!suite) return usage_error("%s", "no suite given (ecs, jobs or all)");
    if (!aw_bench_suite_exists(suite)) return usage_error("unknown suite '%s'", suite);

    /* With JSON on stdout, the table must not corrupt it. */
    FILE *table = json && strcmp(json, "-") == 0 ? stderr : stdout;
    aw_bench_options resolved = aw_bench_options_resolve(&opt);
    aw_bench_report report;
    aw_bench_report_init(&report, suite);
    fprintf(table, "aw-bench %s: %u entities, medians of %u reps%s%s\n", suite, resolved.entities,
            resolved.reps, resolved.filter ? ", filter " : "", resolved.filter ? resolved.filter : "");
    fflush(table);

    /* Two-thread rows scale with what sharing a cache line costs, which a virtual machine can
     * change between runs (and during one): measured before and after, kept with the results. */
    double roundtrip[2] = {aw_profile_core_roundtrip_ns(), 0.0};
    int rc = 0;
    aw_status st = aw_bench_run_suite(suite, &resolved, &report);
    roundtrip[1] = aw_profile_core_roundtrip_ns();
    static const char *const roundtrip_names[2] = {"core_roundtrip_before_ns", "core_roundtrip_after_ns"};
    for (int i = 0; i < 2 && report.count; i++) {
        if (roundtrip[i] <= 0.0) continue;
        aw_bench_entry e = {.name = roundtrip_names[i], .unit = "ns", .samples = &roundtrip[i], .sample_count = 1};
        if (aw_bench_report_add(&report, &e) != AW_OK) fprintf(stderr, "aw-bench: %s\n", aw_last_error());
    }
    if (report.count == 0 && report.failures == 0 && st == AW_OK) {
        fprintf(stderr, "aw-bench: no scenario of '%s' matches the filter '%s'\n", suite,
                resolved.filter ? resolved.filter : "");
        rc = 1;
    }
    aw_bench_report_print(&report, table);
    if (report.failures) {
        fprintf(stderr, "aw-bench: %u scenario(s) failed\n", report.failures);
        rc = 1;
    }
    if (json && aw_bench_report_write_json(&report, json) != AW_OK) {
        fprintf(stderr, "aw-bench: %s\n", aw_last_error());
        rc = 1;
    }
    aw_bench_report_destroy(&report);
    return rc;
}
