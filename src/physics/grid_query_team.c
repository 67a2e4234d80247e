/* k-nearest into several layer sets in one walk of the grid (for example allies and enemies of a
 * team): each candidate's distance is computed once and offered to every set whose mask it meets. */
#include "physics/physics_internal.h"

#include <math.h>

/* The same rounding safety as the single-set query: cell ranges are widened by this fraction. */
#define SETS_SAFETY (1.0 / 512.0)

typedef struct set_state {
    aw_physics_hit *out; /* distance holds the squared distance until the end */
    uint32_t n, k, mask;
    float lim; /* squared distance a newcomer must not exceed: the cap until full, then the k-th */
} set_state;

typedef struct sets_walk {
    set_state s[AW_PHYSICS_MAX_NEAREST_SETS];
    uint32_t count;
    float max_d2;
    float lim; /* the largest of the sets' limits: a candidate beyond it interests no set */
    uint32_t wanted; /* layers some set takes (every bit set when one takes any layer) */
    bool by_mask;    /* one or two sets, each with a mask: the inline test uses each set's own limit */
    const aw_spatial_filter *f;
} sets_walk;

static inline bool before(float d2, aw_entity e, const aw_physics_hit *h) {
    return d2 < h->distance || (d2 == h->distance && e < h->entity);
}

static inline bool excluded(const aw_spatial_filter *f, aw_entity e) {
    for (uint32_t i = 0; i < f->exclude_count; i++)
        if (f->exclude[i] == e) return true;
    return false;
}

static void refresh_limit(sets_walk *w) {
    float lim = 0.0f;
    for (uint32_t i = 0; i < w->count; i++)
        if (w->s[i].lim > lim) lim = w->s[i].lim;
    w->lim = lim;
}

/* The slow path: a candidate within the largest limit, offered to each set that takes its layer. */
static void take(sets_walk *w, const aw_physics *p, uint32_t slot, float d2) {
    uint32_t layer = p->blayer[slot];
    aw_entity e = p->bent[slot];
    if (w->f->mask && !(layer & w->f->mask)) return;
    bool changed = false, checked = false;
    for (uint32_t i = 0; i < w->count; i++) {
        set_state *s = &w->s[i];
        if (d2 > s->lim || (s->mask && !(layer & s->mask))) continue;
        if (s->n == s->k && !before(d2, e, &s->out[s->n - 1])) continue;
        if (!checked) { /* exclusions are rare: looked at only for a collider some set would take */
            if (excluded(w->f, e)) return;
            checked = true;
        }
        uint32_t at = s->n < s->k ? s->n++ : s->n - 1;
        while (at > 0 && before(d2, e, &s->out[at - 1])) {
            s->out[at] = s->out[at - 1];
            at--;
        }
        s->out[at] = (aw_physics_hit){.entity = e, .distance = d2};
        if (s->n == s->k) {
            s->lim = s->out[s->k - 1].distance;
            changed = true;
        }
    }
    if (changed) refresh_limit(w);
}

/* Slots [b, e): the distance test inline, everything else only for those within the limit. */
static inline void offer_run(sets_walk *w, const aw_physics *p, uint32_t b, uint32_t e, aw_vec3 pt) {
    const float *bx = p->bx, *by = p->by, *bz = p->bz;
    const uint32_t *bl = p->blayer;
    if (w->by_mask) { /* each candidate against the limit of the set(s) its layer belongs to */
        uint32_t m0 = w->s[0].mask, m1 = w->count > 1 ? w->s[1].mask : 0u;
        for (uint32_t s = b; s < e; s++) {
            float dx = bx[s] - pt.x, dy = by[s] - pt.y, dz = bz[s] - pt.z;
            float d2 = dx * dx + dy * dy + dz * dz;
            uint32_t l = bl[s];
            float l0 = (l & m0) ? w->s[0].lim : -1.0f, l1 = (l & m1) ? w->s[1].lim : -1.0f;
            if (d2 <= (l0 > l1 ? l0 : l1)) take(w, p, s, d2);
        }
        return;
    }
    uint32_t wanted = w->wanted;
    for (uint32_t s = b; s < e; s++) {
        float dx = bx[s] - pt.x, dy = by[s] - pt.y, dz = bz[s] - pt.z;
        float d2 = dx * dx + dy * dy + dz * dz;
        if (d2 <= w->lim && (bl[s] & wanted)) take(w, p, s, d2);
    }
}

static inline double sq(double v) {
    return v * v;
}

/* Distance along z from v to row y's span, less the response's margin; border rows reach to
 * infinity (they keep the colliders clamped into them). */
static inline double row_gap(const aw_physics *p, double v, int64_t y, int64_t n) {
    double c0 = p->min_z + (double)y * p->cell, c1 = c0 + p->cell, g = 0.0;
    if (y > 0 && v < c0) g = c0 - v;
    else if (y < n - 1 && v > c1) g = v - c1;
    g -= p->margin;
    return g > 0.0 ? g : 0.0;
}

/* Squared reach of a cell that may still hold a wanted collider (the limit widened by the safety). */
static inline double reach2(const sets_walk *w) {
    if (isinf(w->lim)) return INFINITY;
    return (double)w->lim / sq(1.0 - SETS_SAFETY);
}

/* Cells [x0, x1] of row y: one contiguous slot run, or cell by cell when the layer union lets
 * cells without any wanted layer be skipped. */
static inline void offer_cells(sets_walk *w, const aw_physics *p, int64_t y, int64_t x0, int64_t x1, uint32_t layers,
                        aw_vec3 pt) {
    const uint32_t *cs = p->cell_start;
    uint32_t c0 = (uint32_t)(y * p->width + x0), c1 = (uint32_t)(y * p->width + x1);
    if (!layers) {
        offer_run(w, p, cs[c0], cs[c1 + 1], pt);
        return;
    }
    for (uint32_t c = c0; c <= c1; c++)
        if (p->cell_layers[c] & layers) offer_run(w, p, cs[c], cs[c + 1], pt);
}

/* Distance along x from v to column x's span, less the margin (border columns reach to infinity). */
static inline double col_gap(const aw_physics *p, double v, int64_t x, int64_t n) {
    double c0 = p->min_x + (double)x * p->cell, c1 = c0 + p->cell, g = 0.0;
    if (x > 0 && v < c0) g = c0 - v;
    else if (x < n - 1 && v > c1) g = v - c1;
    g -= p->margin;
    return g > 0.0 ? g : 0.0;
}

/* Squared gaps from the point to the columns and rows around its cell, by offset + GAP_SPAN, filled
 * ring by ring (ring d adds offsets -d and +d): a ring's cells then cost one add and compare each.
 * Offsets beyond the span are computed directly. */
#define GAP_SPAN 64
typedef struct ring_gaps {
    double x2[2 * GAP_SPAN + 1], z2[2 * GAP_SPAN + 1];
} ring_gaps;

static inline double gap_x2(const ring_gaps *g, const aw_physics *p, aw_vec3 pt, int64_t qx, int64_t x) {
    int64_t o = x - qx;
    return o >= -GAP_SPAN && o <= GAP_SPAN ? g->x2[o + GAP_SPAN] : sq(col_gap(p, pt.x, x, p->width));
}

static inline double gap_z2(const ring_gaps *g, const aw_physics *p, aw_vec3 pt, int64_t qy, int64_t y) {
    int64_t o = y - qy;
    return o >= -GAP_SPAN && o <= GAP_SPAN ? g->z2[o + GAP_SPAN] : sq(row_gap(p, pt.z, y, p->height));
}

/* Ring d around cell (qx, qy): the cells at Chebyshev distance d, nearest rings first so the sets
 * fill with near colliders and their limits cut later rings short; cells whose gap to the point
 * exceeds the reach (taken at the ring's start: it only shrinks) are skipped. */
static void walk_ring(sets_walk *w, ring_gaps *g, const aw_physics *p, int64_t qx, int64_t qy, int64_t d,
                      uint32_t layers, aw_vec3 pt) {
    int64_t width = p->width, h = p->height;
    if (d <= GAP_SPAN) {
        g->x2[GAP_SPAN - d] = qx - d >= 0 ? sq(col_gap(p, pt.x, qx - d, width)) : INFINITY;
        g->x2[GAP_SPAN + d] = qx + d < width ? sq(col_gap(p, pt.x, qx + d, width)) : INFINITY;
        g->z2[GAP_SPAN - d] = qy - d >= 0 ? sq(row_gap(p, pt.z, qy - d, h)) : INFINITY;
        g->z2[GAP_SPAN + d] = qy + d < h ? sq(row_gap(p, pt.z, qy + d, h)) : INFINITY;
    }
    double r2 = reach2(w);
    int64_t xl = qx - d, xr = qx + d;
    double gl2 = xl >= 0 ? gap_x2(g, p, pt, qx, xl) : INFINITY, gr2 = xr < width ? gap_x2(g, p, pt, qx, xr) : INFINITY;
    int64_t y0 = qy - d < 0 ? 0 : qy - d, y1 = qy + d > h - 1 ? h - 1 : qy + d;
    for (int64_t y = y0; y <= y1; y++) {
        double gz2 = gap_z2(g, p, pt, qy, y);
        if (gz2 > r2) continue;
        if (y == qy - d || y == qy + d) { /* a whole row of the ring: trim its ends to the reach */
            int64_t a = xl < 0 ? 0 : xl, b = xr > width - 1 ? width - 1 : xr;
            while (a <= b && gap_x2(g, p, pt, qx, a) + gz2 > r2) a++;
            while (b > a && gap_x2(g, p, pt, qx, b) + gz2 > r2) b--;
            if (a <= b) offer_cells(w, p, y, a, b, layers, pt);
        } else {
            if (gl2 + gz2 <= r2) offer_cells(w, p, y, xl, xl, layers, pt);
            if (gr2 + gz2 <= r2) offer_cells(w, p, y, xr, xr, layers, pt);
        }
    }
}

aw_status aw_physics_query_nearest_sets(const aw_physics *p, aw_vec3 point, float max_distance,
                                        const aw_spatial_filter *filter, aw_physics_nearest_set *sets,
                                        uint32_t set_count) {
    static const aw_spatial_filter none = {0};
    if (!p || (set_count && !sets))
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_nearest_sets: physics and sets are required");
    if (set_count > AW_PHYSICS_MAX_NEAREST_SETS)
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_nearest_sets: %u sets (at most %u)", set_count,
                        AW_PHYSICS_MAX_NEAREST_SETS);
    for (uint32_t i = 0; i < set_count; i++) {
        sets[i].count = 0;
        if (sets[i].k && !sets[i].out)
            return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_nearest_sets: set %u has k but no out", i);
    }
    if (!isfinite(point.x) || !isfinite(point.y) || !isfinite(point.z) || !isfinite(max_distance) || max_distance < 0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_nearest_sets: point and max_distance must be finite, >= 0");
    const aw_spatial_filter *f = filter ? filter : &none;
    if (f->exclude_count && !f->exclude)
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_query_nearest_sets: exclude_count without exclude");
    if (!p->n_valid) return AW_OK;

    sets_walk w = {.max_d2 = max_distance > 0 ? max_distance * max_distance : INFINITY, .f = f};
    uint32_t layers = 0; /* union of the wanted layers; 0: some set takes every layer */
    bool any_layer = false;
    for (uint32_t i = 0; i < set_count; i++) {
        if (!sets[i].k) continue;
        w.s[w.count++] = (set_state){.out = sets[i].out, .k = sets[i].k, .mask = sets[i].mask, .lim = w.max_d2};
        if (sets[i].mask) layers |= sets[i].mask;
        else any_layer = true;
    }
    if (!w.count) return AW_OK;
    if (f->mask) { /* the filter's mask narrows every set */
        layers = any_layer ? f->mask : layers & f->mask;
        any_layer = false;
    }
    w.wanted = any_layer ? UINT32_MAX : layers;
    w.by_mask = !any_layer && !f->mask && w.count <= 2;
    if (any_layer || p->all_default_layers) layers = 0; /* no union to skip cells by */
    w.lim = w.max_d2;

    offer_run(&w, p, p->n_small, p->n_valid, point);
    if (p->n_small) {
        ring_gaps gaps;
        int64_t w_ = p->width, h = p->height;
        int64_t qx = phys_cell(point.x, p->min_x, p->inv_cell, p->width, NULL);
        int64_t qy = phys_cell(point.z, p->min_z, p->inv_cell, p->height, NULL);
        int64_t rings = qx > w_ - 1 - qx ? qx : w_ - 1 - qx;
        if (qy > rings) rings = qy;
        if (h - 1 - qy > rings) rings = h - 1 - qy;
        for (int64_t d = 0; d <= rings; d++) {
            /* Ring d lies at least d - 1 whole cells away on x or z, less the response's margin. */
            double bound = ((double)(d - 1) * p->cell - p->margin) * (1.0 - SETS_SAFETY);
            if (bound > 0 && bound * bound > (double)w.lim) break;
            walk_ring(&w, &gaps, p, qx, qy, d, layers, point);
        }
    }
    for (uint32_t i = 0, j = 0; i < set_count; i++) {
        if (!sets[i].k) continue;
        set_state *s = &w.s[j++];
        for (uint32_t k = 0; k < s->n; k++) s->out[k].distance = sqrtf(s->out[k].distance);
        sets[i].count = s->n;
    }
    return AW_OK;
}
