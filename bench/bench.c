/* Suite table and option handling shared by every benchmark suite. A new suite adds one row to
 * `suites` and nothing in tools/ changes. */
#include "bench.h"

#include <string.h>

#include "bench_ai.h"
#include "bench_collision.h"
#include "bench_ecs.h"
#include "bench_embed.h"
#include "bench_index.h"
#include "bench_jobs.h"
#include "bench_memory.h"
#include "bench_particles.h"
#include "bench_render.h"

typedef struct bench_suite {
    const char *name;
    aw_status (*run)(const aw_bench_options *options, aw_bench_report *report);
} bench_suite;

static const bench_suite suites[] = {
    {"ecs", aw_bench_ecs_run},
    {"jobs", aw_bench_jobs_run},
    {"embed", aw_bench_embed_run},
    {"collision", aw_bench_collision_run},
    {"ai", aw_bench_ai_run},
    {"render", aw_bench_render_run},
    {"particles", aw_bench_particles_run},
    {"index", aw_bench_index_run},
    {"memory", aw_bench_memory_run},
};
#define SUITE_COUNT (sizeof suites / sizeof suites[0])

static const char *const suite_names[] = {"ecs",    "jobs",      "embed", "collision", "ai",
                                          "render", "particles", "index", "memory",    NULL};
_Static_assert(sizeof suite_names / sizeof suite_names[0] == SUITE_COUNT + 1, "suite_names mirrors suites");

aw_bench_options aw_bench_options_resolve(const aw_bench_options *options) {
    aw_bench_options o = options ? *options : (aw_bench_options){0};
    if (o.entities == 0) o.entities = AW_BENCH_DEFAULT_ENTITIES;
    if (o.reps == 0) o.reps = AW_BENCH_DEFAULT_REPS;
    if (o.seed == 0) o.seed = AW_BENCH_DEFAULT_SEED;
    if (o.filter && !*o.filter) o.filter = NULL;
    return o;
}

bool aw_bench_selected(const aw_bench_options *options, const char *name) {
    return !options || !options->filter || !*options->filter || strstr(name, options->filter) != NULL;
}

const char *const *aw_bench_suite_names(void) {
    return suite_names;
}

bool aw_bench_suite_exists(const char *suite) {
    if (!suite) return false;
    if (strcmp(suite, "all") == 0) return true;
    for (size_t i = 0; i < SUITE_COUNT; i++)
        if (strcmp(suites[i].name, suite) == 0) return true;
    return false;
}

aw_status aw_bench_run_suite(const char *suite, const aw_bench_options *options, aw_bench_report *report) {
    if (!suite || !report) return aw_error(AW_ERR_INVALID_ARG, "bench: suite and report are required");
    aw_bench_options o = aw_bench_options_resolve(options);
    bool all = strcmp(suite, "all") == 0;
    bool found = false;
    for (size_t i = 0; i < SUITE_COUNT; i++) {
        if (!all && strcmp(suites[i].name, suite) != 0) continue;
        found = true;
        aw_status st = suites[i].run(&o, report);
        if (st != AW_OK) return st;
    }
    if (!found) return aw_error(AW_ERR_NOT_FOUND, "bench: unknown suite '%s'", suite);
    return AW_OK;
}
