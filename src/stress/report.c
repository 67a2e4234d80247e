/* Stress reports: the collection of runs, the human table, and JSON out and back in (jansson). */
#include "stress/stress_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void aw_stress_report_init(aw_stress_report *r, const char *scenario, uint32_t threads) {
    if (!r) return;
    *r = (aw_stress_report){.threads = threads};
    snprintf(r->scenario, sizeof r->scenario, "%s", scenario ? scenario : "");
}

aw_status aw_stress_report_add(aw_stress_report *r, aw_stress_result *result) {
    if (!r || !result)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_report_add: report and result are required");
    if (r->run_count == r->run_capacity) {
        uint32_t cap = r->run_capacity ? r->run_capacity * 2 : 8;
        aw_stress_result *grown = aw_realloc(NULL, r->runs, (size_t)r->run_capacity * sizeof *grown,
                                             (size_t)cap * sizeof *grown, _Alignof(aw_stress_result));
        if (!grown) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_stress_report_add: out of memory");
        r->runs = grown;
        r->run_capacity = cap;
    }
    r->runs[r->run_count++] = *result;
    if (result->system_count) r->profiler = true;
    result->samples = NULL; /* owned by the report now */
    result->samples_allocated_ = 0;
    return AW_OK;
}

void aw_stress_report_free(aw_stress_report *r) {
    if (!r) return;
    for (uint32_t i = 0; i < r->run_count; i++) aw_stress_result_free(&r->runs[i]);
    aw_free(NULL, r->runs, (size_t)r->run_capacity * sizeof *r->runs);
    *r = (aw_stress_report){0};
}

/* ---------------------------------------------------------------- table */

/* Column names in order of first appearance across runs (systems, modules or counters). */
typedef struct name_list {
    const char *names[32];
    uint32_t count;
} name_list;

static void name_list_add(name_list *l, const char *name) {
    for (uint32_t i = 0; i < l->count; i++)
        if (strcmp(l->names[i], name) == 0) return;
    if (l->count < 32) l->names[l->count++] = name;
}

static const aw_stress_system_stats *find_system(const aw_stress_result *r, const char *name) {
    for (uint32_t i = 0; i < r->system_count; i++)
        if (strcmp(r->systems[i].name, name) == 0) return &r->systems[i];
    return NULL;
}

static const aw_stress_module_stats *find_module(const aw_stress_result *r, const char *name) {
    for (uint32_t i = 0; i < r->module_count; i++)
        if (strcmp(r->modules[i].name, name) == 0) return &r->modules[i];
    return NULL;
}

static const aw_stress_counter *find_counter(const aw_stress_result *r, const char *name) {
    for (uint32_t i = 0; i < r->counter_count; i++)
        if (strcmp(r->counters[i].name, name) == 0) return &r->counters[i];
    return NULL;
}

static int col_width(const char *name, int min) {
    int n = (int)strlen(name);
    return n > min ? n : min;
}

static void print_roundtrip(const aw_stress_report *r, FILE *out) {
    if (r->roundtrip_before_ns > 0.0 || r->roundtrip_after_ns > 0.0)
        fprintf(out,
                "machine: a cache line between two CPUs costs %.0f ns there and back before the runs, %.0f ns "
                "after (two-thread frame times scale with it)\n",
                r->roundtrip_before_ns, r->roundtrip_after_ns);
}

/* Stalls per CPU, e.g. "host: ... over 2000 ms, stalls of 1000 us or more: CPU 0 1 (1.40 ms in all,
 * worst 1.40 ms); CPU 1 2 (6.89 ms in all, worst 4.25 ms)". */
static void print_stalls(const aw_stress_report *r, FILE *out) {
    const aw_profile_stalls *s = &r->stalls;
    if (!r->has_stalls || !s->cpus) return;
    fprintf(out, "host: what other work took from each CPU over %u ms, stalls of %u us or more:", s->ms, s->min_us);
    for (uint32_t i = 0; i < s->cpus; i++)
        fprintf(out, "%s CPU %u %u (%.2f ms in all, worst %.2f ms)", i ? ";" : "", s->cpu[i], s->count[i],
                s->total_ms[i], s->max_ms[i]);
    fputc('\n', out);
}

aw_status aw_stress_report_print(const aw_stress_report *r, FILE *out) {
    if (!r || !out)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_report_print: report and out are required");
    if (r->run_count) {
        const aw_stress_result *first = &r->runs[0];
        fprintf(out, "\n%s: %u frames after %u warm-up, %u thread%s, budget %.2f ms (60 FPS)\n", r->scenario,
                first->frames, first->warmup, r->threads, r->threads == 1 ? "" : "s", AW_STRESS_BUDGET_MS);
        if (r->zone_cost_ns > 0.0)
            fprintf(out,
                    "profiler on: a zone costs %.1f ns (begin + end); frame times include the scheduler's "
                    "zones, one per system and per sync point\n",
                    r->zone_cost_ns);
        print_roundtrip(r, out);
        fprintf(out, "%9s %9s %9s %9s %9s %9s %10s %9s %9s %10s %8s  %s\n", "entities", "mean ms", "p50 ms",
                "p95 ms", "p99 ms", "max ms", "fps", "headroom", "allocs/f", "bytes/f", "rss MB",
                "world hash");
        for (uint32_t i = 0; i < r->run_count; i++) {
            const aw_stress_result *x = &r->runs[i];
            fprintf(out, "%9u %9.4f %9.4f %9.4f %9.4f %9.4f %10.0f %8.2f%% %9.3f %10.1f %8.1f  %016llx%s\n",
                    x->entities, x->frame_ms.mean, x->frame_ms.p50, x->frame_ms.p95, x->frame_ms.p99,
                    x->frame_ms.max, x->fps, x->headroom_pct, x->allocs_per_frame, x->bytes_per_frame,
                    x->peak_rss_mb, (unsigned long long)x->world_hash, x->aborted ? "  (stopped early)" : "");
        }
        name_list systems = {0}, modules = {0}, counters = {0};
        for (uint32_t i = 0; i < r->run_count; i++) {
            for (uint32_t k = 0; k < r->runs[i].system_count; k++)
                name_list_add(&systems, r->runs[i].systems[k].name);
            for (uint32_t k = 0; k < r->runs[i].module_count; k++)
                name_list_add(&modules, r->runs[i].modules[k].name);
            for (uint32_t k = 0; k < r->runs[i].counter_count; k++)
                name_list_add(&counters, r->runs[i].counters[k].name);
        }
        if (systems.count) {
            fprintf(out, "\nper-system time (profiler zones), mean / p95 in us:\n%9s", "entities");
            for (uint32_t k = 0; k < systems.count; k++)
                fprintf(out, " %*s", col_width(systems.names[k], 17), systems.names[k]);
            fputc('\n', out);
            for (uint32_t i = 0; i < r->run_count; i++) {
                fprintf(out, "%9u", r->runs[i].entities);
                for (uint32_t k = 0; k < systems.count; k++) {
                    const aw_stress_system_stats *s = find_system(&r->runs[i], systems.names[k]);
                    char cell[64] = "-";
                    if (s) snprintf(cell, sizeof cell, "%.2f / %.2f", s->mean_us, s->p95_us);
                    fprintf(out, " %*s", col_width(systems.names[k], 17), cell);
                }
                fputc('\n', out);
            }
        } else {
            fprintf(out,
                    "\nper-system time: not measured (the profiler is compiled out or was not running)\n");
        }
        if (modules.count) {
            fprintf(out, "\nheap allocations per frame by module, count / bytes:\n%9s", "entities");
            for (uint32_t k = 0; k < modules.count; k++)
                fprintf(out, " %*s", col_width(modules.names[k], 15), modules.names[k]);
            fputc('\n', out);
            for (uint32_t i = 0; i < r->run_count; i++) {
                fprintf(out, "%9u", r->runs[i].entities);
                for (uint32_t k = 0; k < modules.count; k++) {
                    const aw_stress_module_stats *m = find_module(&r->runs[i], modules.names[k]);
                    char cell[64] = "-";
                    if (m)
                        snprintf(cell, sizeof cell, "%.3g / %.4g", m->allocs_per_frame, m->bytes_per_frame);
                    fprintf(out, " %*s", col_width(modules.names[k], 15), cell);
                }
                fputc('\n', out);
            }
        }
        if (counters.count) {
            fprintf(out, "\nscenario counters, last frame:\n%9s", "entities");
            for (uint32_t k = 0; k < counters.count; k++)
                fprintf(out, " %*s", col_width(counters.names[k], 10), counters.names[k]);
            fputc('\n', out);
            for (uint32_t i = 0; i < r->run_count; i++) {
                fprintf(out, "%9u", r->runs[i].entities);
                for (uint32_t k = 0; k < counters.count; k++) {
                    const aw_stress_counter *c = find_counter(&r->runs[i], counters.names[k]);
                    char cell[64] = "-";
                    if (c) snprintf(cell, sizeof cell, "%.10g", c->value);
                    fprintf(out, " %*s", col_width(counters.names[k], 10), cell);
                }
                fputc('\n', out);
            }
        }
    }
    if (r->has_capacity) {
        const aw_stress_capacity *c = &r->capacity;
        if (!r->run_count) print_roundtrip(r, out);
        print_stalls(r, out);
        fprintf(out, "\ncapacity (p99 within %.2f ms):", c->budget_ms);
        for (uint32_t i = 0; i < c->probe_count; i++)
            fprintf(out, "%s %u %s (p99 %.3f ms, %u runs)", i ? "," : "", c->probes[i].entities,
                    c->probes[i].pass ? "pass" : "FAIL", c->probes[i].p99_ms, c->probes[i].runs);
        if (c->entities)
            fprintf(out, "\ncapacity: %u entities (p99 %.3f ms)\n", c->entities, c->p99_ms);
        else
            fprintf(out, "\ncapacity: none; the smallest count tried already missed the budget\n");
    }
    return ferror(out) ? aw_error(AW_ERR_IO, "aw_stress_report_print: write failed") : AW_OK;
}

/* ---------------------------------------------------------------- JSON out */

/* JSON has no NaN or infinity; such a value (an empty run's mean) is written as null. */
static json_t *num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *run_json(const aw_stress_result *x) {
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)x->world_hash);
    json_t *systems = json_object(), *modules = json_object(), *counters = json_object();
    for (uint32_t k = 0; k < x->system_count; k++)
        json_object_set_new(systems, x->systems[k].name,
                            json_pack("{s:o, s:o, s:o}", "mean_us", num(x->systems[k].mean_us), "p95_us",
                                      num(x->systems[k].p95_us), "total_ms", num(x->systems[k].total_ms)));
    for (uint32_t k = 0; k < x->module_count; k++)
        json_object_set_new(modules, x->modules[k].name,
                            json_pack("{s:o, s:o}", "allocs_per_frame", num(x->modules[k].allocs_per_frame),
                                      "bytes_per_frame", num(x->modules[k].bytes_per_frame)));
    for (uint32_t k = 0; k < x->counter_count; k++)
        json_object_set_new(counters, x->counters[k].name, num(x->counters[k].value));
    json_t *frame_ms =
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "mean", num(x->frame_ms.mean), "p50",
                  num(x->frame_ms.p50), "p95", num(x->frame_ms.p95), "p99", num(x->frame_ms.p99), "max",
                  num(x->frame_ms.max), "min", num(x->frame_ms.min));
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:b}",
                     "entities", (json_int_t)x->entities, "frames", (json_int_t)x->frames, "warmup",
                     (json_int_t)x->warmup, "seed", (json_int_t)x->seed, "frame_ms", frame_ms, "fps",
                     num(x->fps), "headroom_pct", num(x->headroom_pct), "systems", systems,
                     "allocs_per_frame", num(x->allocs_per_frame), "bytes_per_frame", num(x->bytes_per_frame),
                     "modules", modules, "peak_rss_mb", num(x->peak_rss_mb), "world_hash", hash, "counters",
                     counters, "setup_ms", num(x->setup_ms), "aborted", x->aborted);
}

static json_t *run_p99s(const aw_stress_probe *p) {
    json_t *a = json_array();
    for (uint32_t i = 0; i < p->runs && i < AW_STRESS_PROBE_RUNS; i++)
        json_array_append_new(a, num(p->run_p99_ms[i]));
    return a;
}

static json_t *capacity_json(const aw_stress_capacity *c) {
    json_t *probes = json_array();
    for (uint32_t i = 0; i < c->probe_count; i++)
        json_array_append_new(probes,
                              json_pack("{s:I, s:o, s:b, s:o}", "entities", (json_int_t)c->probes[i].entities,
                                        "p99_ms", num(c->probes[i].p99_ms), "pass", c->probes[i].pass,
                                        "run_p99_ms", run_p99s(&c->probes[i])));
    return json_pack("{s:I, s:o, s:o, s:o}", "entities", (json_int_t)c->entities, "p99_ms", num(c->p99_ms),
                     "budget_ms", num(c->budget_ms), "probes", probes);
}

aw_status aw_stress_report_write_json(const aw_stress_report *r, const char *path) {
    if (!r || !path || !path[0])
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_report_write_json: report and path are required");
    json_t *runs = json_array();
    for (uint32_t i = 0; i < r->run_count; i++) json_array_append_new(runs, run_json(&r->runs[i]));
    json_t *root = json_pack("{s:s, s:I, s:b, s:o, s:o, s:o}", "scenario", r->scenario, "threads",
                             (json_int_t)r->threads, "profiler", r->profiler, "zone_cost_ns",
                             num(r->zone_cost_ns), "budget_ms", num(AW_STRESS_BUDGET_MS), "runs", runs);
    if (root && r->has_capacity) json_object_set_new(root, "capacity", capacity_json(&r->capacity));
    if (root && r->has_stalls && r->stalls.cpus) {
        json_t *cpus = json_array();
        for (uint32_t i = 0; i < r->stalls.cpus; i++)
            json_array_append_new(cpus, json_pack("{s:I, s:I, s:o, s:o}", "cpu", (json_int_t)r->stalls.cpu[i], "stalls",
                                                  (json_int_t)r->stalls.count[i], "total_ms", num(r->stalls.total_ms[i]),
                                                  "worst_ms", num(r->stalls.max_ms[i])));
        json_object_set_new(root, "host_stalls",
                            json_pack("{s:I, s:I, s:o}", "ms", (json_int_t)r->stalls.ms, "min_us",
                                      (json_int_t)r->stalls.min_us, "cpus", cpus));
    }
    if (root && (r->roundtrip_before_ns > 0.0 || r->roundtrip_after_ns > 0.0))
        json_object_set_new(root, "core_roundtrip_ns",
                            json_pack("{s:o, s:o}", "before", num(r->roundtrip_before_ns), "after",
                                      num(r->roundtrip_after_ns)));
    if (!root)
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_stress_report_write_json: out of memory building the JSON");
    size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10);
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    aw_status st = AW_OK;
    if (!f) {
        st = aw_error(AW_ERR_IO, "aw_stress_report_write_json: cannot open '%s' for writing", path);
    } else {
        bool failed = json_dumpf(root, f, flags) != 0 || fputc('\n', f) == EOF;
        if (to_stdout ? fflush(f) != 0 : fclose(f) != 0) failed = true;
        if (failed) st = aw_error(AW_ERR_IO, "aw_stress_report_write_json: writing '%s' failed", path);
    }
    json_decref(root);
    return st;
}

/* ---------------------------------------------------------------- JSON in */

static bool get_num(json_t *obj, const char *key, double *out) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v)) return false;
    *out = json_number_value(v);
    return true;
}

static bool get_u32(json_t *obj, const char *key, uint32_t *out) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)UINT32_MAX)
        return false;
    *out = (uint32_t)json_integer_value(v);
    return true;
}

static aw_status parse_run(json_t *run, uint32_t index, const char *path, aw_stress_result *x) {
    *x = (aw_stress_result){0};
    json_t *fm = json_object_get(run, "frame_ms");
    const char *hash = json_string_value(json_object_get(run, "world_hash"));
    char *end = NULL;
    if (!json_is_object(run) || !get_u32(run, "entities", &x->entities) ||
        !get_u32(run, "frames", &x->frames) || !json_is_object(fm) ||
        !get_num(fm, "mean", &x->frame_ms.mean) || !get_num(fm, "p50", &x->frame_ms.p50) ||
        !get_num(fm, "p95", &x->frame_ms.p95) || !get_num(fm, "p99", &x->frame_ms.p99) ||
        !get_num(fm, "max", &x->frame_ms.max) || !get_num(run, "fps", &x->fps) ||
        !get_num(run, "allocs_per_frame", &x->allocs_per_frame) ||
        !get_num(run, "bytes_per_frame", &x->bytes_per_frame) ||
        !get_num(run, "peak_rss_mb", &x->peak_rss_mb) || !hash || !hash[0] ||
        (x->world_hash = strtoull(hash, &end, 16), *end != '\0'))
        return aw_error(
            AW_ERR_PARSE,
            "aw_stress_report_read_json: '%s': run %u lacks a required field (entities, frames, frame_ms "
            "mean/p50/p95/p99/max, fps, allocs_per_frame, bytes_per_frame, peak_rss_mb, world_hash in hex)",
            path, index);
    get_num(fm, "min", &x->frame_ms.min);
    x->frame_ms.count = x->frames;
    get_u32(run, "warmup", &x->warmup);
    json_t *seed = json_object_get(run, "seed");
    if (json_is_integer(seed)) x->seed = (uint64_t)json_integer_value(seed);
    get_num(run, "headroom_pct", &x->headroom_pct);
    get_num(run, "setup_ms", &x->setup_ms);
    x->aborted = json_is_true(json_object_get(run, "aborted"));
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(run, "systems"), key, v) {
        if (x->system_count >= AW_STRESS_MAX_SYSTEMS || !json_is_object(v)) continue;
        aw_stress_system_stats *s = &x->systems[x->system_count];
        snprintf(s->name, sizeof s->name, "%s", key);
        if (!get_num(v, "mean_us", &s->mean_us)) continue;
        get_num(v, "p95_us", &s->p95_us);
        get_num(v, "total_ms", &s->total_ms);
        x->system_count++;
    }
    json_object_foreach(json_object_get(run, "modules"), key, v) {
        if (x->module_count >= AW_STRESS_MAX_MODULES || !json_is_object(v)) continue;
        aw_stress_module_stats *m = &x->modules[x->module_count];
        snprintf(m->name, sizeof m->name, "%s", key);
        if (!get_num(v, "allocs_per_frame", &m->allocs_per_frame)) continue;
        get_num(v, "bytes_per_frame", &m->bytes_per_frame);
        x->module_count++;
    }
    json_object_foreach(json_object_get(run, "counters"), key, v) {
        if (x->counter_count >= AW_STRESS_MAX_COUNTERS || !json_is_number(v)) continue;
        snprintf(x->counters[x->counter_count].name, AW_STRESS_NAME_SIZE, "%s", key);
        x->counters[x->counter_count++].value = json_number_value(v);
    }
    return AW_OK;
}

aw_status aw_stress_report_read_json(const char *path, aw_stress_report *r) {
    if (!path || !r)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_report_read_json: path and report are required");
    *r = (aw_stress_report){0};
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        FILE *probe = fopen(path, "r");
        if (!probe) return aw_error(AW_ERR_IO, "aw_stress_report_read_json: cannot open '%s'", path);
        fclose(probe);
        return aw_error(AW_ERR_PARSE, "aw_stress_report_read_json: '%s' line %d: %s", path, err.line,
                        err.text);
    }
    const char *scenario = json_string_value(json_object_get(root, "scenario"));
    json_t *runs = json_object_get(root, "runs");
    uint32_t threads = 0;
    aw_status st = AW_OK;
    if (!scenario || !json_is_array(runs) || !get_u32(root, "threads", &threads)) {
        st = aw_error(AW_ERR_PARSE,
                      "aw_stress_report_read_json: '%s' is not an aw-stress report (needs scenario, "
                      "threads and runs)",
                      path);
    } else {
        aw_stress_report_init(r, scenario, threads);
        r->profiler = json_is_true(json_object_get(root, "profiler"));
        get_num(root, "zone_cost_ns", &r->zone_cost_ns);
        for (size_t i = 0; i < json_array_size(runs) && !st; i++) {
            aw_stress_result x;
            st = parse_run(json_array_get(runs, i), (uint32_t)i, path, &x);
            if (!st) st = aw_stress_report_add(r, &x);
        }
        json_t *cap = json_object_get(root, "capacity");
        if (!st && json_is_object(cap) && get_u32(cap, "entities", &r->capacity.entities)) {
            r->has_capacity = true;
            get_num(cap, "p99_ms", &r->capacity.p99_ms);
            get_num(cap, "budget_ms", &r->capacity.budget_ms);
        }
        if (st) aw_stress_report_free(r);
    }
    json_decref(root);
    return st;
}
