/* k-nearest into several layer sets in one walk of the grid (for example allies and enemies of a
 * team): each candidate's distance is computed once and offered to every set whose mask it meets. */
#include "physics/grid_walk.h"

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
    uint32_t fast_mask[2];     /* see offer_run */
    const float *fast_lim[2];
    const aw_spatial_filter *f;
} sets_walk;

static inline bool before(float d2, aw_entity e, const aw_physics_hit *h) {
    return d2 < h->distance || (d2 == h->distance && e < h->entity);
}

static void refresh_limit(sets_walk *w) {
    float lim = 0.0f;
    for (uint32_t i = 0; i < w->count; i++)
        if (w->s[i].lim > lim) lim = w->s[i].lim;
    w->lim = lim;
}

/* The slow path: a candidate the inline test let through (so the filter's mask, folded into the
 * fast masks, passed), offered to each set that takes its layer. */
static inline __attribute__((always_inline)) void take(sets_walk *w, const aw_physics *p, uint32_t slot, float d2) {
    uint32_t layer = p->blayer[slot];
    aw_entity e = phys_slot_entity(p, slot);
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

/* Which slots reach the slow path: a slot whose layer meets fast_mask[i] is tested against
 * *fast_lim[i] (the larger of the two when it meets both). With one or two masked sets these are
 * the sets' own masks and limits; otherwise the layers any set takes and the largest limit. */
static const float no_limit = -1.0f;

/* Slots [b, e), scalar. */
static void offer_run(sets_walk *w, const aw_physics *p, uint32_t b, uint32_t e, aw_vec3 pt) {
    const float *bx = p->bx, *by = p->by, *bz = p->bz;
    const uint32_t *bl = p->blayer;
    uint32_t m0 = w->fast_mask[0], m1 = w->fast_mask[1];
    for (uint32_t s = b; s < e; s++) {
        float dx = bx[s] - pt.x, dy = by[s] - pt.y, dz = bz[s] - pt.z;
        float d2 = dx * dx + dy * dy + dz * dz;
        uint32_t l = bl[s];
        float l0 = (l & m0) ? *w->fast_lim[0] : -1.0f, l1 = (l & m1) ? *w->fast_lim[1] : -1.0f;
        if (d2 <= (l0 > l1 ? l0 : l1)) take(w, p, s, d2);
    }
}

#if PHYS_HAVE_AVX2
/* Slots [b, e), eight at a time: the grid's arrays have PHYS_PAD readable entries past any run's
 * end, and lanes past it are masked off. */
__attribute__((target("avx2,bmi2"))) static void offer_run_avx2(sets_walk *w, const aw_physics *p,
                                                                 uint32_t b, uint32_t e, aw_vec3 pt) {
    const __m256 px = _mm256_set1_ps(pt.x), py = _mm256_set1_ps(pt.y), pz = _mm256_set1_ps(pt.z);
    const __m256i m0 = _mm256_set1_epi32((int)w->fast_mask[0]), m1 = _mm256_set1_epi32((int)w->fast_mask[1]);
    const __m256 none = _mm256_set1_ps(-1.0f);
    __m256 lim0 = _mm256_set1_ps(*w->fast_lim[0]), lim1 = _mm256_set1_ps(*w->fast_lim[1]);
    for (uint32_t s = b; s < e; s += 8) {
        __m256 d2 = slots_d2_avx2(p, s, px, py, pz);
        __m256 out0 = slots_off_layer_avx2(p, s, m0), out1 = slots_off_layer_avx2(p, s, m1);
        __m256 lane = _mm256_max_ps(_mm256_blendv_ps(lim0, none, out0), _mm256_blendv_ps(lim1, none, out1));
        uint32_t near = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(d2, lane, _CMP_LE_OQ));
        uint32_t hits = lanes_before_end(near, s, e);
        if (!hits) continue;
        float d[8];
        _mm256_storeu_ps(d, d2);
        do {
            uint32_t i = (uint32_t)__builtin_ctz(hits);
            hits &= hits - 1;
            take(w, p, s + i, d[i]);
        } while (hits);
        lim0 = _mm256_set1_ps(*w->fast_lim[0]);
        lim1 = _mm256_set1_ps(*w->fast_lim[1]);
    }
}
#endif

static inline void offer_slots(sets_walk *w, const aw_physics *p, uint32_t b, uint32_t e, aw_vec3 pt) {
    if (b >= e) return;
#if PHYS_HAVE_AVX2
    if (p->use_avx2) {
        offer_run_avx2(w, p, b, e, pt);
        return;
    }
#endif
    offer_run(w, p, b, e, pt);
}

/* One grid row: the cells the reach's disc covers at this row's gap, as contiguous slot runs.
 * Cells of a row are consecutive in the CSR arrays, so neighbouring cells form one slot range: the
 * whole row's when whole_row() says so, else the runs of next_run(). Colliders sit within the
 * margin of their cell and border cells hold the ones clamped into them, so the clamped cell range
 * of x +- (half width + margin) holds every candidate. */
static void walk_row(sets_walk *w, const aw_physics *p, int64_t y, double gz2, uint32_t layers, aw_vec3 pt) {
    uint32_t c0, c1;
    row_cells(p, y, gz2, reach2(w->lim), pt, &c0, &c1);
    const uint32_t *cs = p->cell_start;
    if (!layers || whole_row(p, c0, c1)) {
        offer_slots(w, p, cs[c0], cs[c1 + 1], pt);
        return;
    }
    for (uint32_t c = c0, b, e; next_run(p, layers, &c, c1, &b, &e);) offer_slots(w, p, b, e, pt);
}

/* ---- one set with k = 1 (perception's nearest enemy, a projectile's hit): the same rows and the
 * same pruning as the walk above, with the best candidate kept in registers, which saves the
 * general walk's per-set and per-run setup. A row is tested as the walk above tests it: its whole
 * span eight slots at a time, or cell by cell (slots one by one) when whole_row() says no. */

typedef struct nearest1 {
    float lim;     /* squared: the cap until something is taken, then the best's distance */
    aw_entity best;
    bool found;
    uint32_t mask; /* a slot is taken only if its layer meets this */
    const aw_spatial_filter *f;
} nearest1;

/* Slot s at squared distance d2, its layer already tested: the test of take() for k = 1 (nearer, or
 * as near with a smaller id). */
static inline void near1_take(nearest1 *n, const aw_physics *p, uint32_t s, float d2) {
    if (!(d2 <= n->lim)) return;
    aw_entity ent = phys_slot_entity(p, s);
    if (n->found && d2 == n->lim && ent > n->best) return;
    if (excluded(n->f, ent)) return;
    n->lim = d2, n->best = ent, n->found = true;
}

/* Slots [b, e), one by one. */
static inline void near1_slots(nearest1 *n, const aw_physics *p, uint32_t b, uint32_t e, aw_vec3 pt) {
    const float *bx = p->bx, *by = p->by, *bz = p->bz;
    for (uint32_t s = b; s < e; s++) {
        float dx = bx[s] - pt.x, dy = by[s] - pt.y, dz = bz[s] - pt.z;
        float d2 = dx * dx + dy * dy + dz * dz;
        if (d2 <= n->lim && (p->blayer[s] & n->mask)) near1_take(n, p, s, d2);
    }
}

#if PHYS_HAVE_AVX2
/* Slots [b, e), eight at a time, as offer_run_avx2: a row's whole span at once, the layer tested
 * in the lanes. Cheaper than skipping cell by cell on their layer unions, since a row of the walk
 * holds only a dozen or so slots. */
__attribute__((target("avx2,bmi2"))) static void near1_run_avx2(nearest1 *n, const aw_physics *p,
                                                                uint32_t b, uint32_t e, aw_vec3 pt) {
    const __m256 px = _mm256_set1_ps(pt.x), py = _mm256_set1_ps(pt.y), pz = _mm256_set1_ps(pt.z);
    const __m256i mask = _mm256_set1_epi32((int)n->mask);
    for (uint32_t s = b; s < e; s += 8) {
        __m256 d2 = slots_d2_avx2(p, s, px, py, pz), out = slots_off_layer_avx2(p, s, mask);
        __m256 near = _mm256_cmp_ps(d2, _mm256_set1_ps(n->lim), _CMP_LE_OQ);
        uint32_t hits = lanes_before_end((uint32_t)_mm256_movemask_ps(_mm256_andnot_ps(out, near)), s, e);
        if (!hits) continue;
        float d[8];
        _mm256_storeu_ps(d, d2);
        do {
            uint32_t i = (uint32_t)__builtin_ctz(hits);
            hits &= hits - 1;
            near1_take(n, p, s + i, d[i]);
        } while (hits);
    }
}
#endif

/* Cells [c0, c1] of one grid row: the whole span in one SIMD run when whole_row() says so, else
 * the cells holding a wanted layer one by one. */
static void near1_cells(nearest1 *n, const aw_physics *p, uint32_t c0, uint32_t c1, uint32_t layers,
                        aw_vec3 pt) {
    const uint32_t *cs = p->cell_start, *cl = p->cell_layers;
#if PHYS_HAVE_AVX2
    if (whole_row(p, c0, c1)) {
        if (cs[c0] < cs[c1 + 1]) near1_run_avx2(n, p, cs[c0], cs[c1 + 1], pt);
        return;
    }
#endif
    if (!layers) {
        near1_slots(n, p, cs[c0], cs[c1 + 1], pt);
        return;
    }
    for (uint32_t c = c0; c <= c1; c++)
        if (cl[c] & layers) near1_slots(n, p, cs[c], cs[c + 1], pt);
}

/* One grid row, as walk_row: the cells the reach's disc covers at this row's gap. */
static void near1_row(nearest1 *n, const aw_physics *p, int64_t y, double gz2, uint32_t layers, aw_vec3 pt) {
    uint32_t c0, c1;
    row_cells(p, y, gz2, reach2(n->lim), pt, &c0, &c1);
    near1_cells(n, p, c0, c1, layers, pt);
}

/* A reach of at most NEAR1_BOX_HALF cells each way, the margin included (perception's looks bounded
 * by the enemy seen last, projectile hits; at most 4 x 4 cells): the cells of the square around
 * the point, row by row in order, with no per-row reach (a square root) and no outward order (a
 * branch per row on where the reach ends). The nearest is the same in any order, and the square's
 * cells hold every candidate the disc's rows do. False (nothing walked) for a longer reach. */
#define NEAR1_BOX_HALF 1.5

static bool near1_box(nearest1 *n, const aw_physics *p, aw_vec3 pt, uint32_t layers) {
    if (isinf(n->lim)) return false;
    double half = sqrt(reach2(n->lim)) + p->margin;
    if (half * p->inv_cell > NEAR1_BOX_HALF) return false;
    uint32_t x0 = phys_cell((double)pt.x - half, p->min_x, p->inv_cell, p->width, NULL);
    uint32_t x1 = phys_cell((double)pt.x + half, p->min_x, p->inv_cell, p->width, NULL);
    uint32_t y0 = phys_cell((double)pt.z - half, p->min_z, p->inv_cell, p->height, NULL);
    uint32_t y1 = phys_cell((double)pt.z + half, p->min_z, p->inv_cell, p->height, NULL);
    for (uint32_t y = y0; y <= y1; y++) near1_cells(n, p, y * p->width + x0, y * p->width + x1, layers, pt);
    return true;
}

/* `mask`: the layers a slot must meet (the set's and the filter's masks, as the general walk folds
 * them); `layers`: the cell union to skip by, 0 for none. */
static void nearest1_walk(const aw_physics *p, aw_vec3 point, float max_d2, const aw_spatial_filter *f,
                          uint32_t mask, uint32_t layers, aw_physics_nearest_set *set) {
    nearest1 n = {.lim = max_d2, .mask = mask, .f = f};
    near1_slots(&n, p, p->n_small, p->n_valid, point);
    if (p->n_small && !near1_box(&n, p, point, layers)) {
        rows_out r = rows_out_start(p, point.z);
        int64_t y;
        double gz2;
        while (rows_out_next(&r, p, point.z, reach2(n.lim), &y, &gz2)) near1_row(&n, p, y, gz2, layers, point);
    }
    if (n.found) set->out[0] = (aw_physics_hit){.entity = n.best, .distance = sqrtf(n.lim)};
    set->count = n.found ? 1u : 0u;
}

/* Whether one set of k > 1 takes the buffered walk of grid_query_k.c. */
static inline bool one_set_walk(const aw_physics *p, uint32_t k) {
#if PHYS_HAVE_AVX2
    return p->use_avx2 && k <= PHYS_NEARK_MAX;
#else
    (void)p, (void)k;
    return false;
#endif
}

aw_status aw_physics_query_nearest_sets(const aw_physics *p, aw_vec3 point, float max_distance,
                                        const aw_spatial_filter *filter, aw_physics_nearest_set *sets,
                                        uint32_t set_count) {
    phys_note_entity_reads(p);
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
    uint32_t active = 0, only = 0;
    for (uint32_t i = 0; i < set_count; i++)
        if (sets[i].k) active++, only = i;
    if (active == 1 && (sets[only].k == 1 || one_set_walk(p, sets[only].k))) {
        /* The masks folded as below: the set's (0: any layer) narrowed by the filter's. */
        uint32_t mask = (sets[only].mask ? sets[only].mask : UINT32_MAX) & (f->mask ? f->mask : UINT32_MAX);
        uint32_t layers = mask == UINT32_MAX || !p->has_cell_layers ? 0u : mask;
        float max_d2 = max_distance > 0 ? max_distance * max_distance : INFINITY;
#if PHYS_HAVE_AVX2
        if (sets[only].k > 1) {
            phys_nearestk_walk(p, point, max_d2, f, mask, layers, &sets[only]);
            return AW_OK;
        }
#endif
        nearest1_walk(p, point, max_d2, f, mask, layers, &sets[only]);
        return AW_OK;
    }

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
    if (!any_layer && !f->mask && w.count <= 2) { /* each slot against its own set's limit */
        w.fast_mask[0] = w.s[0].mask, w.fast_lim[0] = &w.s[0].lim;
        w.fast_mask[1] = w.count > 1 ? w.s[1].mask : 0u, w.fast_lim[1] = w.count > 1 ? &w.s[1].lim : &no_limit;
    } else {
        w.fast_mask[0] = any_layer ? UINT32_MAX : layers, w.fast_lim[0] = &w.lim; /* within f->mask */
        w.fast_mask[1] = 0u, w.fast_lim[1] = &no_limit;
    }
    if (any_layer || !p->has_cell_layers) layers = 0; /* no union to skip cells by */
    w.lim = w.max_d2;

    offer_slots(&w, p, p->n_small, p->n_valid, point);
    if (p->n_small) {
        rows_out r = rows_out_start(p, point.z);
        int64_t y;
        double gz2;
        while (rows_out_next(&r, p, point.z, reach2(w.lim), &y, &gz2)) walk_row(&w, p, y, gz2, layers, point);
    }
    for (uint32_t i = 0, j = 0; i < set_count; i++) {
        if (!sets[i].k) continue;
        set_state *s = &w.s[j++];
        for (uint32_t k = 0; k < s->n; k++) s->out[k].distance = sqrtf(s->out[k].distance);
        sets[i].count = s->n;
    }
    return AW_OK;
}
