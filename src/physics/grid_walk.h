/* What the grid's k-nearest walks share (grid_query_team.c, grid_query_k.c): rows visited from the
 * query's outwards and pruned by the shrinking reach, a row's cell span, the eight-lane slot tests
 * and the filter's exclusions. */
#ifndef AW_PHYSICS_GRID_WALK_H
#define AW_PHYSICS_GRID_WALK_H

#include "physics/physics_internal.h"

#include <math.h>

#if PHYS_HAVE_AVX2
#include <immintrin.h>
#endif

/* The same rounding safety as the single-set query: cell ranges are widened by this fraction. */
#define SETS_SAFETY (1.0 / 512.0)

static inline bool excluded(const aw_spatial_filter *f, aw_entity e) {
    for (uint32_t i = 0; i < f->exclude_count; i++)
        if (f->exclude[i] == e) return true;
    return false;
}

#if PHYS_HAVE_AVX2
/* Squared distances of slots [s, s + 8) from the point (px, py, pz): separate multiplies and adds
 * in the scalar order, so the same bits as the scalar tests. */
__attribute__((target("avx2"), always_inline)) static inline __m256
slots_d2_avx2(const aw_physics *p, uint32_t s, __m256 px, __m256 py, __m256 pz) {
    __m256 dx = _mm256_sub_ps(_mm256_loadu_ps(p->bx + s), px);
    __m256 dy = _mm256_sub_ps(_mm256_loadu_ps(p->by + s), py);
    __m256 dz = _mm256_sub_ps(_mm256_loadu_ps(p->bz + s), pz);
    return _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy)), _mm256_mul_ps(dz, dz));
}

/* `hits` (one bit per lane of the block at slot s) without the lanes at or past the run's end e,
 * without a branch: whether a run ends inside a block depends on the cells' counts. */
__attribute__((target("bmi2"), always_inline)) static inline uint32_t
lanes_before_end(uint32_t hits, uint32_t s, uint32_t e) {
    return _bzhi_u32(hits, e - s < 8 ? e - s : 8);
}

/* Lanes of slots [s, s + 8) whose layer meets none of `mask`'s bits: all ones. */
__attribute__((target("avx2"), always_inline)) static inline __m256
slots_off_layer_avx2(const aw_physics *p, uint32_t s, __m256i mask) {
    __m256i l = _mm256_loadu_si256((const __m256i *)(p->blayer + s));
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(l, mask), _mm256_setzero_si256()));
}
#endif

/* Cells [c0, c1] of a row go to the SIMD slot test as one span, wanted layer or not, when they
 * are three or more and hold at most WHOLE_ROW_SLOTS slots: skipping the cells without a wanted
 * layer one by one costs a branch per cell that the layout makes unpredictable, while a walk's row
 * of a few cells holds a dozen or so slots (docs/performance.md: a third fewer mispredicted
 * branches in the k = 1 walk, a fifth fewer in the k = 8 one). One or two cells are skipped as
 * cheaply as tested; long spans (dense cells) still skip by the unions. */
#define WHOLE_ROW_SLOTS 64u

static inline bool whole_row(const aw_physics *p, uint32_t c0, uint32_t c1) {
#if PHYS_HAVE_AVX2
    return p->use_avx2 && c1 - c0 >= 2 && p->cell_start[c1 + 1] - p->cell_start[c0] <= WHOLE_ROW_SLOTS;
#else
    (void)p, (void)c0, (void)c1;
    return false;
#endif
}

static inline double sq(double v) {
    return v * v;
}

/* Distance along z from v to row y's span, less the response's margin; border rows reach to
 * infinity (they keep the colliders clamped into them). */
static inline double row_gap(const aw_physics *p, double v, int64_t y, int64_t n) {
    double c0 = p->min_z + (double)y * p->cell, c1 = c0 + p->cell, g = 0.0;
    if (y > 0 && v < c0)
        g = c0 - v;
    else if (y < n - 1 && v > c1)
        g = v - c1;
    g -= p->margin;
    return g > 0.0 ? g : 0.0;
}

/* Squared reach of a cell that may still hold a wanted collider: the squared limit `lim` widened by
 * the safety. */
static inline double reach2(float lim) {
    if (isinf(lim)) return INFINITY;
    return (double)lim / sq(1.0 - SETS_SAFETY);
}

/* Rows from the query's outwards, alternating sides (the query's row, then one below, one above, ...),
 * so the answers fill with near colliders first and their shrinking reach narrows the later rows; a
 * side ends at its first row beyond reach (rows further out are further still). */
typedef struct rows_out {
    int64_t qy, d;
    int side; /* 0: below (qy - d) next, 1: above */
    bool open[2];
} rows_out;

static inline rows_out rows_out_start(const aw_physics *p, float z) {
    return (rows_out){.qy = phys_cell(z, p->min_z, p->inv_cell, p->height, NULL), .open = {true, true}};
}

/* The next row within the squared reach r2 (given anew each call: it shrinks as answers come in):
 * its index and squared gap. False when both sides have ended. */
static inline bool rows_out_next(rows_out *r, const aw_physics *p, float z, double r2, int64_t *y_out,
                                 double *gz2_out) {
    if (r->d == 0) { /* the query's own row, always walked */
        r->d = 1;
        *y_out = r->qy, *gz2_out = 0.0;
        return true;
    }
    int64_t h = p->height;
    while (r->open[0] || r->open[1]) {
        int side = r->side;
        int64_t y = side ? r->qy + r->d : r->qy - r->d;
        if (side)
            r->side = 0, r->d++;
        else
            r->side = 1;
        if (!r->open[side]) continue;
        double gz2 = y >= 0 && y < h ? sq(row_gap(p, z, y, h)) : 0.0;
        if (y < 0 || y >= h || gz2 > r2) {
            r->open[side] = false;
            continue;
        }
        *y_out = y, *gz2_out = gz2;
        return true;
    }
    return false;
}

/* The cells [c0, c1] of grid row y that a disc of squared reach r2 (infinite: the whole row) around
 * pt covers at the row's squared gap gz2, widened by the margin colliders may stick out of a cell. */
static inline void row_cells(const aw_physics *p, int64_t y, double gz2, double r2, aw_vec3 pt, uint32_t *c0,
                             uint32_t *c1) {
    uint32_t a = 0, b = p->width - 1;
    if (!isinf(r2)) {
        double half = sqrt(r2 - gz2) + p->margin;
        a = phys_cell((double)pt.x - half, p->min_x, p->inv_cell, p->width, NULL);
        b = phys_cell((double)pt.x + half, p->min_x, p->inv_cell, p->width, NULL);
    }
    *c0 = (uint32_t)y * p->width + a, *c1 = (uint32_t)y * p->width + b;
}

/* The next slot run of a row's cells [*c, c1] by the per-cell layer unions: cells holding a wanted
 * layer, broken only at a cell holding colliders but no wanted layer (empty cells add no slots and
 * join the run), so the slot test gets long blocks instead of one call per cell. Its slots are
 * [*b, *e) and *c moves past it; false when no run is left. */
static inline bool next_run(const aw_physics *p, uint32_t layers, uint32_t *c, uint32_t c1, uint32_t *b,
                            uint32_t *e) {
    const uint32_t *cs = p->cell_start, *cl = p->cell_layers;
    uint32_t i = *c;
    while (i <= c1 && !(cl[i] & layers)) i++; /* cells with nothing wanted (or nothing at all) */
    if (i > c1) return false;
    *b = cs[i++];
    while (i <= c1 && ((cl[i] & layers) || cs[i] == cs[i + 1])) i++;
    *e = cs[i], *c = i;
    return true;
}

#if PHYS_HAVE_AVX2
/* One set with 2 <= k <= PHYS_NEARK_MAX on AVX2 (grid_query_k.c): the planners' allies and enemies.
 * `mask`: the layers a slot must meet (the set's and the filter's, folded); `layers`: the cell union
 * to skip by, 0 for none; max_d2: the squared cap (infinite: none). */
#define PHYS_NEARK_MAX 16u
void phys_nearestk_walk(const aw_physics *p, aw_vec3 point, float max_d2, const aw_spatial_filter *f,
                        uint32_t mask, uint32_t layers, aw_physics_nearest_set *set);
#endif

#endif /* AW_PHYSICS_GRID_WALK_H */
