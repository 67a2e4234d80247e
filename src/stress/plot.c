/* The stress report as an SVG chart: frame time p50/p99 against entity count (with the 60 FPS
 * budget when it is in range) and a frame-time histogram per run. Plain SVG 1.1, no scripts. */
#include "stress/stress_internal.h"

#include <math.h>
#include <string.h>

#define W          960.0
#define CHART_X0   90.0
#define CHART_X1   920.0
#define CHART_Y0   60.0
#define CHART_Y1   360.0
#define HIST_TOP   430.0
#define HIST_W     420.0
#define HIST_H     170.0
#define HIST_GAP_X 60.0
#define HIST_GAP_Y 70.0
#define BINS       40

static void put_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* The smallest of 1, 2, 5 x 10^k that is >= v. */
static double nice_ceil(double v) {
    if (!(v > 0.0)) return 1.0;
    double p = pow(10.0, floor(log10(v)));
    const double steps[] = {1.0, 2.0, 5.0, 10.0};
    for (size_t i = 0; i < 4; i++)
        if (steps[i] * p >= v * (1.0 - 1e-12)) return steps[i] * p;
    return 10.0 * p;
}

typedef struct axis_x {
    bool log;
    double lo, hi;
} axis_x;

static double map_x(const axis_x *a, double v) {
    double t;
    if (a->hi <= a->lo) return (CHART_X0 + CHART_X1) / 2.0;
    if (a->log)
        t = (log2(v) - log2(a->lo)) / (log2(a->hi) - log2(a->lo));
    else
        t = (v - a->lo) / (a->hi - a->lo);
    return CHART_X0 + 20.0 + t * (CHART_X1 - CHART_X0 - 40.0);
}

static double map_y(double v, double ymax) {
    return CHART_Y1 - v / ymax * (CHART_Y1 - CHART_Y0);
}

static void series(FILE *f, const aw_stress_report *r, const axis_x *ax, double ymax, bool p99,
                   const char *color) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (uint32_t i = 0; i < r->run_count; i++) {
        double v = p99 ? r->runs[i].frame_ms.p99 : r->runs[i].frame_ms.p50;
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", map_x(ax, r->runs[i].entities), map_y(v, ymax));
    }
    fputs("\"/>\n", f);
    for (uint32_t i = 0; i < r->run_count; i++) {
        double v = p99 ? r->runs[i].frame_ms.p99 : r->runs[i].frame_ms.p50;
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>%u entities: %s %.4f "
                "ms</title></circle>\n",
                map_x(ax, r->runs[i].entities), map_y(v, ymax), color, r->runs[i].entities,
                p99 ? "p99" : "p50", v);
    }
}

static void line_chart(FILE *f, const aw_stress_report *r) {
    double top = 0.0;
    axis_x ax = {.lo = r->runs[0].entities, .hi = r->runs[0].entities};
    for (uint32_t i = 0; i < r->run_count; i++) {
        const aw_stress_result *x = &r->runs[i];
        if (x->frame_ms.p99 > top) top = x->frame_ms.p99;
        if (x->entities < ax.lo) ax.lo = x->entities;
        if (x->entities > ax.hi) ax.hi = x->entities;
    }
    ax.log = ax.lo > 0 && ax.hi / ax.lo >= 4.0;
    /* The budget joins the scale only when it would not flatten the data into the floor. */
    bool budget_shown = AW_STRESS_BUDGET_MS <= top * 3.0;
    double ymax = nice_ceil((budget_shown && AW_STRESS_BUDGET_MS > top ? AW_STRESS_BUDGET_MS : top) * 1.1);

    fprintf(f, "<text x=\"%.0f\" y=\"30\" font-size=\"18\" font-weight=\"bold\">", CHART_X0);
    put_text(f, r->scenario);
    fprintf(f, ": frame time against entity count (%u thread%s, %s x axis)</text>\n", r->threads,
            r->threads == 1 ? "" : "s", ax.log ? "log" : "linear");
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" stroke=\"#888\"/>\n",
            CHART_X0, CHART_Y0, CHART_X1 - CHART_X0, CHART_Y1 - CHART_Y0);
    for (int k = 0; k <= 5; k++) {
        double v = ymax * k / 5.0, y = map_y(v, ymax);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", CHART_X0, y,
                CHART_X1, y);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%.4g</text>\n",
                CHART_X0 - 6, y + 4, v);
    }
    for (uint32_t i = 0; i < r->run_count; i++) {
        double x = map_x(&ax, r->runs[i].entities);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#888\"/>\n", x, CHART_Y1,
                x, CHART_Y1 + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">%u</text>\n", x,
                CHART_Y1 + 20, r->runs[i].entities);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"13\" text-anchor=\"middle\">entities</text>\n",
            (CHART_X0 + CHART_X1) / 2, CHART_Y1 + 40);
    fprintf(
        f,
        "<text x=\"24\" y=\"%.0f\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 24 %.0f)\">"
        "frame time (ms)</text>\n",
        (CHART_Y0 + CHART_Y1) / 2, (CHART_Y0 + CHART_Y1) / 2);
    if (budget_shown) {
        double y = map_y(AW_STRESS_BUDGET_MS, ymax);
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#2ca02c\" "
                "stroke-dasharray=\"6,4\"/>\n",
                CHART_X0, y, CHART_X1, y);
        fprintf(f,
                "<text x=\"%.0f\" y=\"%.1f\" font-size=\"12\" fill=\"#2ca02c\" text-anchor=\"end\">%.2f ms "
                "budget (60 FPS)"
                "</text>\n",
                CHART_X1 - 6, y - 5, AW_STRESS_BUDGET_MS);
    } else {
        fprintf(f,
                "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" fill=\"#2ca02c\" text-anchor=\"end\">the %.2f "
                "ms budget "
                "(60 FPS) is %.0fx the highest p99, far above this scale</text>\n",
                CHART_X1 - 6, CHART_Y0 + 16, AW_STRESS_BUDGET_MS, top > 0 ? AW_STRESS_BUDGET_MS / top : 0.0);
    }
    series(f, r, &ax, ymax, false, "#1f77b4");
    series(f, r, &ax, ymax, true, "#d62728");
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"#1f77b4\"/><text x=\"%.0f\" "
            "y=\"%.0f\" "
            "font-size=\"12\">p50</text>\n",
            CHART_X0 + 12, CHART_Y0 + 10, CHART_X0 + 30, CHART_Y0 + 20);
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"#d62728\"/><text x=\"%.0f\" "
            "y=\"%.0f\" "
            "font-size=\"12\">p99</text>\n",
            CHART_X0 + 70, CHART_Y0 + 10, CHART_X0 + 88, CHART_Y0 + 20);
}

static void histogram(FILE *f, const aw_stress_result *x, double left, double top) {
    /* The range ends a little past the p99 so that one outlier does not squash every bar into one;
     * what lies beyond goes into the last bar, marked as overflow. */
    double lo = x->frame_ms.min, hi = x->frame_ms.max;
    double cut = x->frame_ms.p99 + (x->frame_ms.p99 - x->frame_ms.p50) * 2.0;
    bool overflow = hi > cut && cut > lo;
    if (overflow) hi = cut;
    if (!(hi > lo)) hi = lo + 1e-6;
    uint32_t bins[BINS] = {0}, peak = 1;
    for (uint32_t i = 0; i < x->sample_count; i++) {
        double t = (x->samples[i] - lo) / (hi - lo) * BINS;
        int b = t < 0 ? 0 : t >= BINS ? BINS - 1 : (int)t;
        if (++bins[b] > peak) peak = bins[b];
    }
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" font-size=\"13\" font-weight=\"bold\">%u entities: p50 %.4f ms, p99 "
            "%.4f ms, "
            "%u frames</text>\n",
            left, top - 8, x->entities, x->frame_ms.p50, x->frame_ms.p99, x->sample_count);
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" stroke=\"#888\"/>\n",
            left, top, HIST_W, HIST_H);
    double bw = HIST_W / BINS;
    for (int b = 0; b < BINS; b++) {
        if (!bins[b]) continue;
        double h = (double)bins[b] / peak * (HIST_H - 10);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%.4f-%.4f ms: "
                "%u frames"
                "</title></rect>\n",
                left + b * bw + 0.5, top + HIST_H - h, bw - 1.0, h,
                overflow && b == BINS - 1 ? "#ff7f0e" : "#4c72b0", lo + (hi - lo) * b / BINS,
                lo + (hi - lo) * (b + 1) / BINS, bins[b]);
    }
    const double marks[] = {x->frame_ms.p50, x->frame_ms.p99};
    const char *names[] = {"p50", "p99"};
    for (int k = 0; k < 2; k++) {
        if (marks[k] < lo || marks[k] > hi) continue;
        double mx = left + (marks[k] - lo) / (hi - lo) * HIST_W;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#d62728\" "
                "stroke-dasharray=\"3,3\"/>"
                "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" fill=\"#d62728\">%s</text>\n",
                mx, top, mx, top + HIST_H, mx + 3, top + 12 + 12 * k, names[k]);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%.4f ms</text>\n", left, top + HIST_H + 14, lo);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%s%.4f ms</text>\n",
            left + HIST_W, top + HIST_H + 14, overflow ? "overflow bar: frames up to " : "",
            overflow ? x->frame_ms.max : hi);
}

aw_status aw_stress_report_write_svg(const aw_stress_report *r, const char *path) {
    if (!r || !path || !path[0])
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_report_write_svg: report and path are required");
    if (!r->run_count)
        return aw_error(AW_ERR_INVALID_ARG, "aw_stress_report_write_svg: the report has no runs to plot");
    uint32_t with_samples = 0;
    for (uint32_t i = 0; i < r->run_count; i++)
        if (r->runs[i].samples && r->runs[i].sample_count) with_samples++;
    uint32_t rows = (with_samples + 1) / 2;
    double height = (rows ? HIST_TOP + rows * (HIST_H + HIST_GAP_Y) : CHART_Y1 + 70) + 10;
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) return aw_error(AW_ERR_IO, "aw_stress_report_write_svg: cannot open '%s' for writing", path);
    fprintf(
        f,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
        "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
        W, height, W, height);
    line_chart(f, r);
    if (rows) {
        fprintf(f,
                "<text x=\"%.0f\" y=\"%.0f\" font-size=\"16\" font-weight=\"bold\">frame-time "
                "histograms</text>\n",
                CHART_X0, HIST_TOP - 38);
        uint32_t k = 0;
        for (uint32_t i = 0; i < r->run_count; i++) {
            if (!r->runs[i].samples || !r->runs[i].sample_count) continue;
            double left = 50.0 + (k % 2) * (HIST_W + HIST_GAP_X),
                   top = HIST_TOP + (k / 2) * (HIST_H + HIST_GAP_Y);
            histogram(f, &r->runs[i], left, top);
            k++;
        }
    }
    fputs("</svg>\n", f);
    bool failed = ferror(f) != 0;
    if (to_stdout ? fflush(f) != 0 : fclose(f) != 0) failed = true;
    return failed ? aw_error(AW_ERR_IO, "aw_stress_report_write_svg: writing '%s' failed", path) : AW_OK;
}
