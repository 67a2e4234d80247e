/* k-nearest for one set with 2 <= k <= PHYS_NEARK_MAX on AVX2 (the planners' allies and enemies,
 * k = 8): the rows and the pruning of the general walk (grid_query_team.c), but the candidates
 * within the limit are appended to a buffer without a branch, eight slots at a time, and ranked
 * only when the buffer fills and at the end. The general walk inserts each candidate into a sorted
 * list: where a candidate lands depends on where the agents stand, so that insertion mispredicted
 * more than any other branch of the walk (docs/performance.md). */
#include "physics/grid_walk.h"

#if PHYS_HAVE_AVX2

#define NEARK_HOLD 24u                    /* more than this held: ranked down to k before the next block */
#define NEARK_BUF  (NEARK_HOLD + 8u + 8u) /* a block appends up to 8; ranking pads 8 lanes past the end */

typedef struct nearestk {
    float d2[NEARK_BUF];
    uint32_t slot[NEARK_BUF];
    aw_entity ent[PHYS_NEARK_MAX]; /* of the [0, ranked) kept by the last ranking */
    uint32_t n;                    /* held */
    uint32_t ranked;               /* [0, ranked) are in order, none excluded, nothing appended since */
    uint32_t k, mask;
    float lim; /* squared: the cap until k are held after a ranking, then the k-th */
    const aw_spatial_filter *f;
} nearestk;

/* r[i]: how many of d2[0, 8 * vecs) are nearer than d2[i], for i < c; returns the ranks seen as a
 * mask. */
__attribute__((target("avx2,popcnt"), always_inline)) static inline uint32_t
count_nearer(const float *d2, uint32_t c, const uint32_t vecs, uint32_t *r) {
    uint32_t seen = 0;
    for (uint32_t i = 0; i < c; i++) {
        __m256 di = _mm256_set1_ps(d2[i]);
        uint32_t nearer = 0;
        for (uint32_t v = 0; v < vecs; v++)
            nearer += (uint32_t)_mm_popcnt_u32(
                (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(d2 + 8 * v), di, _CMP_LT_OQ)));
        r[i] = nearer;
        seen |= 1u << nearer;
    }
    return seen;
}

/* Keeps the k nearest held that the filter does not exclude, in order (ties by entity id), with
 * their entities, and tightens the limit to the k-th. A candidate's rank is the count of those
 * nearer, compared eight at a time; padding lanes hold NaN, never nearer. Equal distances (rare)
 * leave a rank unused: then the ranks are counted again one by one with the entity ids. The
 * exclusions are looked at in rank order, only until k are kept: usually only the query's own collider
 * is excluded, so that is about k entity reads, not one per candidate. */
__attribute__((target("avx2,popcnt"))) static void rank(nearestk *n, const aw_physics *p) {
    uint32_t c = n->n;
    _mm256_storeu_ps(n->d2 + c, _mm256_set1_ps(NAN));
    uint32_t r[NEARK_BUF], seen;
    switch ((c + 7) / 8) { /* the vector count as a constant: no loop branch per candidate */
    case 1:
        seen = count_nearer(n->d2, c, 1, r);
        break;
    case 2:
        seen = count_nearer(n->d2, c, 2, r);
        break;
    case 3:
        seen = count_nearer(n->d2, c, 3, r);
        break;
    default:
        seen = count_nearer(n->d2, c, 4, r);
        break;
    }
    if (AW_UNLIKELY(seen != (c == 32 ? UINT32_MAX : (1u << c) - 1u)))
        for (uint32_t i = 0; i < c; i++) {
            aw_entity e = phys_slot_entity(p, n->slot[i]);
            for (uint32_t j = 0; j < c; j++)
                if (j != i && n->d2[j] == n->d2[i] && phys_slot_entity(p, n->slot[j]) < e) r[i]++;
        }
    float d2[NEARK_BUF];
    uint32_t slot[NEARK_BUF], kept = 0;
    for (uint32_t i = 0; i < c; i++) d2[r[i]] = n->d2[i], slot[r[i]] = n->slot[i];
    for (uint32_t i = 0; i < c && kept < n->k; i++) {
        aw_entity e = phys_slot_entity(p, slot[i]);
        if (AW_UNLIKELY(excluded(n->f, e))) continue;
        n->d2[kept] = d2[i], n->slot[kept] = slot[i], n->ent[kept] = e;
        kept++;
    }
    n->n = n->ranked = kept;
    if (kept == n->k) n->lim = n->d2[kept - 1];
}
_Static_assert(NEARK_HOLD + 8u <= 32u, "rank() marks ranks in a 32-bit mask");

/* Slots [b, e): those within the limit whose layer meets the mask are appended, eight slots at a
 * time. The lanes that pass are packed by the pair test's table (mask -> lane order). */
__attribute__((target("avx2,bmi2,popcnt"))) static void append_run(nearestk *n, const aw_physics *p,
                                                                   uint32_t b, uint32_t e, aw_vec3 pt) {
    const __m256 px = _mm256_set1_ps(pt.x), py = _mm256_set1_ps(pt.y), pz = _mm256_set1_ps(pt.z);
    const __m256i mask = _mm256_set1_epi32((int)n->mask);
    __m256 lim = _mm256_set1_ps(n->lim);
    for (uint32_t s = b; s < e; s += 8) {
        if (AW_UNLIKELY(n->n > NEARK_HOLD)) {
            rank(n, p);
            lim = _mm256_set1_ps(n->lim);
        }
        __m256 d2 = slots_d2_avx2(p, s, px, py, pz), off = slots_off_layer_avx2(p, s, mask);
        __m256 in = _mm256_andnot_ps(off, _mm256_cmp_ps(d2, lim, _CMP_LE_OQ));
        uint32_t bits = lanes_before_end((uint32_t)_mm256_movemask_ps(in), s, e);
        __m256i lanes = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&p->compress_lut[bits]));
        _mm256_storeu_ps(n->d2 + n->n, _mm256_permutevar8x32_ps(d2, lanes));
        _mm256_storeu_si256((__m256i *)(n->slot + n->n), _mm256_add_epi32(lanes, _mm256_set1_epi32((int)s)));
        n->n += (uint32_t)_mm_popcnt_u32(bits);
    }
}

/* One grid row, as the general walk's walk_row: the cells the reach's disc covers at the row's gap,
 * whole or in the runs of next_run(). */
static void append_row(nearestk *n, const aw_physics *p, int64_t y, double gz2, uint32_t layers, aw_vec3 pt) {
    uint32_t c0, c1;
    row_cells(p, y, gz2, reach2(n->lim), pt, &c0, &c1);
    const uint32_t *cs = p->cell_start;
    if (!layers || whole_row(p, c0, c1)) {
        append_run(n, p, cs[c0], cs[c1 + 1], pt);
        return;
    }
    for (uint32_t c = c0, b, e; next_run(p, layers, &c, c1, &b, &e);) append_run(n, p, b, e, pt);
}

void phys_nearestk_walk(const aw_physics *p, aw_vec3 point, float max_d2, const aw_spatial_filter *f,
                        uint32_t mask, uint32_t layers, aw_physics_nearest_set *set) {
    nearestk n; /* not zeroed: the buffers are written before they are read */
    n.n = n.ranked = 0, n.k = set->k, n.mask = mask, n.lim = max_d2, n.f = f;
    append_run(&n, p, p->n_small, p->n_valid, point);
    if (p->n_small) {
        rows_out r = rows_out_start(p, point.z);
        int64_t y;
        double gz2;
        while (rows_out_next(&r, p, point.z, reach2(n.lim), &y, &gz2))
            append_row(&n, p, y, gz2, layers, point);
    }
    if (n.n != n.ranked) rank(&n, p);
    for (uint32_t i = 0; i < n.n; i++)
        set->out[i] = (aw_physics_hit){.entity = n.ent[i], .distance = sqrtf(n.d2[i])};
    set->count = n.n;
}

#endif
