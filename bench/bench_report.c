/* Benchmark report: collects results, computes medians, prints the table and writes JSON.
 * jansson does the JSON so escaping and number formatting are someone else's solved problem. */
#include "bench_report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void aw_bench_report_init(aw_bench_report *report, const char *suite) {
    memset(report, 0, sizeof *report);
    copy_str(report->suite, sizeof report->suite, suite ? suite : "");
}

void aw_bench_report_destroy(aw_bench_report *report) {
    if (!report) return;
    aw_free(NULL, report->results, (size_t)report->capacity * sizeof *report->results);
    memset(report, 0, sizeof *report);
}

void aw_bench_report_fail(aw_bench_report *report) {
    report->failures++;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double aw_bench_median(double *values, uint32_t count) {
    if (count == 0) return 0.0;
    qsort(values, count, sizeof *values, cmp_double);
    if (count % 2) return values[count / 2];
    return 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

/* Median of a caller's const samples through a scratch copy; the caller keeps its order. */
static aw_status median_of(const double *samples, uint32_t count, double *median, double *lo, double *hi) {
    size_t bytes = (size_t)count * sizeof(double);
    double *scratch = aw_alloc(NULL, bytes, _Alignof(double));
    if (!scratch) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory for %u samples", count);
    memcpy(scratch, samples, bytes);
    *median = aw_bench_median(scratch, count);
    if (lo) *lo = scratch[0];
    if (hi) *hi = scratch[count - 1];
    aw_free(NULL, scratch, bytes);
    return AW_OK;
}

aw_status aw_bench_report_add(aw_bench_report *report, const aw_bench_entry *entry) {
    if (!report || !entry || !entry->name || !entry->unit || !entry->samples || entry->sample_count == 0)
        return aw_error(AW_ERR_INVALID_ARG, "bench: result needs a name, a unit and at least one sample");
    if (report->count == report->capacity) {
        uint32_t cap = report->capacity ? report->capacity * 2 : 16;
        size_t old_bytes = (size_t)report->capacity * sizeof *report->results;
        aw_bench_result *grown = aw_realloc(NULL, report->results, old_bytes, (size_t)cap * sizeof *grown,
                                            _Alignof(aw_bench_result));
        if (!grown) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: cannot grow the report to %u results", cap);
        report->results = grown;
        report->capacity = cap;
    }
    aw_bench_result r;
    memset(&r, 0, sizeof r);
    copy_str(r.suite, sizeof r.suite, entry->suite ? entry->suite : report->suite);
    copy_str(r.name, sizeof r.name, entry->name);
    copy_str(r.unit, sizeof r.unit, entry->unit);
    r.reps = entry->sample_count;
    aw_status st = median_of(entry->samples, entry->sample_count, &r.value, &r.min, &r.max);
    if (st != AW_OK) return st;
    if (entry->baseline_samples && entry->baseline_count > 0) {
        st = median_of(entry->baseline_samples, entry->baseline_count, &r.baseline, NULL, NULL);
        if (st != AW_OK) return st;
        r.has_baseline = true;
    }
    if (entry->target > 0.0) {
        r.target = entry->target;
        r.has_target = true;
        r.target_is_min = entry->target_is_min;
    }
    report->results[report->count++] = r;
    return AW_OK;
}

bool aw_bench_target_met(const aw_bench_result *r) {
    if (!r->has_target) return true;
    return r->target_is_min ? r->value >= r->target : r->value <= r->target;
}

/* Figures span 0.5 ns to hundreds of ms: three significant-ish digits without scientific notation. */
static void format_num(char *buf, size_t cap, double v) {
    double a = fabs(v);
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else if (a < 10.0)
        snprintf(buf, cap, "%.3f", v);
    else if (a < 1000.0)
        snprintf(buf, cap, "%.2f", v);
    else
        snprintf(buf, cap, "%.1f", v);
}

void aw_bench_report_print(const aw_bench_report *report, FILE *out) {
    size_t name_w = strlen("scenario");
    for (uint32_t i = 0; i < report->count; i++) {
        size_t n = strlen(report->results[i].name);
        if (n > name_w) name_w = n;
    }
    fprintf(out, "%-*s %10s  %-10s %10s %8s  %s\n", (int)name_w, "scenario", "median", "unit", "baseline",
            "ratio", "target");
    for (uint32_t i = 0; i < report->count; i++) {
        const aw_bench_result *r = &report->results[i];
        char value[32], baseline[32] = "-", ratio[32] = "-", target[48] = "-";
        format_num(value, sizeof value, r->value);
        if (r->has_baseline) {
            format_num(baseline, sizeof baseline, r->baseline);
            if (r->baseline > 0.0) snprintf(ratio, sizeof ratio, "%.2fx", r->value / r->baseline);
        }
        if (r->has_target) {
            char t[32];
            format_num(t, sizeof t, r->target);
            snprintf(target, sizeof target, "%s %s %s", r->target_is_min ? ">=" : "<=", t,
                     aw_bench_target_met(r) ? "ok" : "MISS");
        }
        fprintf(out, "%-*s %10s  %-10s %10s %8s  %s\n", (int)name_w, r->name, value, r->unit, baseline, ratio,
                target);
    }
    fflush(out);
}

/* json_real refuses NaN and infinities; a result that produced one is written as null. */
static json_t *json_num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *result_to_json(const aw_bench_result *r, bool with_suite) {
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    if (with_suite) bad |= json_object_set_new(o, "suite", json_string(r->suite));
    bad |= json_object_set_new(o, "name", json_string(r->name));
    bad |= json_object_set_new(o, "value", json_num(r->value));
    bad |= json_object_set_new(o, "unit", json_string(r->unit));
    bad |= json_object_set_new(o, "min", json_num(r->min));
    bad |= json_object_set_new(o, "max", json_num(r->max));
    bad |= json_object_set_new(o, "reps", json_integer(r->reps));
    if (r->has_baseline) {
        bad |= json_object_set_new(o, "baseline", json_num(r->baseline));
        if (r->baseline > 0.0) bad |= json_object_set_new(o, "ratio", json_num(r->value / r->baseline));
    }
    if (r->has_target) {
        bad |= json_object_set_new(o, "target", json_num(r->target));
        if (r->target_is_min) bad |= json_object_set_new(o, "target_is_min", json_true());
        bad |= json_object_set_new(o, "target_met", json_boolean(aw_bench_target_met(r)));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

aw_status aw_bench_report_write_json(const aw_bench_report *report, const char *path) {
    if (!report || !path || !*path)
        return aw_error(AW_ERR_INVALID_ARG, "bench: JSON output needs a path or '-'");
    json_t *root = json_object();
    json_t *results = json_array();
    if (!root || !results) {
        json_decref(root);
        json_decref(results);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory for the JSON report");
    }
    /* A multi-suite run (`all`) tags each result with its suite so the flat list stays unambiguous. */
    bool mixed = false;
    for (uint32_t i = 0; i < report->count; i++)
        if (strcmp(report->results[i].suite, report->suite) != 0) mixed = true;
    int bad = json_object_set_new(root, "suite", json_string(report->suite));
    for (uint32_t i = 0; i < report->count && !bad; i++) {
        json_t *r = result_to_json(&report->results[i], mixed);
        bad = r ? json_array_append_new(results, r) : -1;
    }
    bad |= json_object_set_new(root, "results", results);
    if (bad) {
        json_decref(root);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: could not build the JSON report");
    }
    const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6);
    aw_status st = AW_OK;
    if (strcmp(path, "-") == 0) {
        if (json_dumpf(root, stdout, flags) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
            st = aw_error(AW_ERR_IO, "bench: cannot write JSON to stdout");
    } else {
        FILE *f = fopen(path, "w");
        if (!f) {
            st = aw_error(AW_ERR_IO, "bench: cannot open '%s' for writing", path);
        } else {
            int fail = json_dumpf(root, f, flags) != 0 || fputc('\n', f) == EOF;
            fail |= fclose(f) != 0;
            if (fail) st = aw_error(AW_ERR_IO, "bench: cannot write JSON to '%s'", path);
        }
    }
    json_decref(root);
    return st;
}
