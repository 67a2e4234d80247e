/* The flat uniform grid: cell size choice, the counting (or band) sort of rows into CSR cell
 * order, and pair finding with a half stencil, all in fixed tasks so any thread count gives the
 * same pairs in the same order. */
#include "physics/physics_internal.h"

#include <math.h>
#include <string.h>

/* Relative safety between the cell size and twice the largest radius kept in cells: float
 * rounding in the distance test then can never accept a pair whose cells are two apart. */
#define CELL_SAFETY (1.0 / 512.0)

static inline uint32_t cell_of(double v, double lo, double inv, uint32_t n) {
    return phys_cell(v, lo, inv, n, NULL);
}

/* Sizes every per-row array for `rows`. */
aw_status phys_grid_prepare(aw_physics *p, uint32_t rows) {
    if (rows <= p->row_cap) return AW_OK;
    size_t cap = (size_t)rows + rows / 4 + 64;
    if (cap > UINT32_MAX - 1) cap = UINT32_MAX - 1;
    struct {
        void **ptr;
        size_t size;
    } arrays[] = {
        {(void **)&p->gkey, 4},   {(void **)&p->gchunk, 4}, {(void **)&p->order, 4}, {(void **)&p->key, 4},
        {(void **)&p->outside, 4}, {(void **)&p->items_a, 8}, {(void **)&p->g, sizeof(phys_record)},
        {(void **)&p->bx, 4},     {(void **)&p->by, 4},     {(void **)&p->bz, 4},    {(void **)&p->br, 4},
        {(void **)&p->blayer, 4}, {(void **)&p->bmask, 4}, {(void **)&p->bent, sizeof(aw_entity)},
    };
    enum { ARRAYS = sizeof arrays / sizeof arrays[0] };
    void *fresh[ARRAYS];
    /* Scratch rebuilt every step: allocate all (no copies), and swap only if all succeeded, so a
     * failure leaves the old arrays and sizes consistent. Every array has PHYS_PAD spare entries,
     * zeroed, that the SIMD pair test may load (and mask) past the last slot. */
    for (size_t i = 0; i < ARRAYS; i++) {
        fresh[i] = aw_alloc(p->alloc, (cap + PHYS_PAD) * arrays[i].size, 64);
        if (!fresh[i]) {
            while (i--) aw_free(p->alloc, fresh[i], (cap + PHYS_PAD) * arrays[i].size);
            return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_physics_step: out of memory for %u rows", rows);
        }
        memset((char *)fresh[i] + cap * arrays[i].size, 0, PHYS_PAD * arrays[i].size);
    }
    for (size_t i = 0; i < ARRAYS; i++) {
        aw_free(p->alloc, *arrays[i].ptr, p->row_cap ? ((size_t)p->row_cap + PHYS_PAD) * arrays[i].size : 0);
        *arrays[i].ptr = fresh[i];
    }
    p->row_cap = (uint32_t)cap;
    p->n_small = p->n_large = p->n_valid = p->n_outside = 0; /* the old grid's slots are gone */
    return AW_OK;
}

/* Cell size: twice the radius that all but a few colliders fit in, never so small that the grid
 * gets far more cells than colliders (empty cells cost offsets to fill and scan). */
void phys_grid_choose_cell(aw_physics *p, const uint32_t *rcount, const float *rmax, uint32_t valid) {
    const aw_physics_desc *d = &p->desc;
    double ext_x = (double)d->max_x - d->min_x, ext_z = (double)d->max_z - d->min_z;
    double area = ext_x * ext_z;
    uint32_t max_cells = d->max_cells;
    double cs;
    if (d->cell_size > 0) {
        cs = d->cell_size;
    } else {
        /* Colliders above the fitted radius go to the large list; a few of them are cheap (each
         * scans the cells it covers), many would not be. */
        uint32_t allowed = valid / 64u + 8u, above = 0;
        int fit = -1;
        for (int b = (int)PHYS_RBUCKETS - 1; b >= 0; b--) {
            if (!rcount[b]) continue;
            if (fit < 0) fit = b; /* highest non-empty bucket */
            if (above + rcount[b] > allowed) {
                fit = b;
                break;
            }
            above += rcount[b];
            if (valid <= allowed) break; /* so few that all stay in cells */
        }
        if (valid <= allowed) {
            fit = -1;
            for (int b = (int)PHYS_RBUCKETS - 1; b >= 0 && fit < 0; b--)
                if (rcount[b]) fit = b;
        }
        float r_fit = 0.0f;
        for (int b = 0; b <= fit; b++)
            if (rcount[b] && rmax[b] > r_fit) r_fit = rmax[b];
        cs = 2.0 * r_fit * (1.0 + 2.0 * CELL_SAFETY);
        uint64_t limit = (uint64_t)valid * 1u > 1024u ? (uint64_t)valid * 1u : 1024u;
        if (limit > max_cells) limit = max_cells;
        double cs_min = sqrt(area / (double)limit);
        if (cs < cs_min) cs = exp2(ceil(log2(cs_min) * 8.0) / 8.0); /* quantized: stable from step to step */
    }
    double cs_cap = sqrt(area / max_cells);
    if (cs < cs_cap) cs = cs_cap;
    uint32_t w, h;
    for (;;) {
        double fw = ceil(ext_x / cs), fh = ceil(ext_z / cs);
        if (fw < 3) fw = 3;
        if (fh < 1) fh = 1;
        if (fw * fh <= (double)max_cells) {
            w = (uint32_t)fw;
            h = (uint32_t)fh;
            break;
        }
        cs *= 1.0 + 1.0 / 64.0;
    }
    p->cell = cs;
    p->inv_cell = 1.0 / cs;
    p->min_x = d->min_x;
    p->min_z = d->min_z;
    p->width = w;
    p->height = h;
    p->cells = w * h;
    p->small_r_max = (float)(cs * 0.5 * (1.0 - CELL_SAFETY));
}

#if PHYS_HAVE_AVX2
#include <immintrin.h> /* for every AVX2 path below */

/* Eight at a time: a log-step scan inside each 128-bit half, the low half's total added to the
 * high half, the running total to all eight. Integer adds, so the same sums as the scalar loop.
 * Returns the entries done; *run is the total so far. */
__attribute__((target("avx2"))) static uint32_t prefix_sums_avx2(uint32_t *restrict a, uint32_t n, uint32_t *run) {
    __m256i carry = _mm256_set1_epi32((int32_t)*run);
    const __m256i last = _mm256_set1_epi32(7), low_top = _mm256_setr_epi32(0, 0, 0, 0, 3, 3, 3, 3);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        x = _mm256_add_epi32(x, _mm256_slli_si256(x, 4));
        x = _mm256_add_epi32(x, _mm256_slli_si256(x, 8));
        /* lanes 4..7 += lane 3 */
        x = _mm256_add_epi32(x, _mm256_blend_epi32(_mm256_setzero_si256(), _mm256_permutevar8x32_epi32(x, low_top), 0xF0));
        x = _mm256_add_epi32(x, carry);
        _mm256_storeu_si256((__m256i *)(a + i), x);
        carry = _mm256_permutevar8x32_epi32(x, last);
    }
    *run = (uint32_t)_mm256_cvtsi256_si32(carry);
    return i;
}
#endif

/* Inclusive prefix sums from `run`, four at a time: the running total stays in a register (a
 * load of the previous store would wait on store forwarding every cell); eight at a time with
 * AVX2. */
static void prefix_sums(const aw_physics *p, uint32_t *restrict a, uint32_t n, uint32_t run) {
    uint32_t i = 0;
#if PHYS_HAVE_AVX2
    if (p->use_avx2) i = prefix_sums_avx2(a, n, &run);
#else
    (void)p;
#endif
    for (; i + 4 <= n; i += 4) {
        uint32_t x0 = a[i] + run, x1 = a[i + 1] + x0, x2 = a[i + 2] + x1, x3 = a[i + 3] + x2;
        a[i] = x0;
        a[i + 1] = x1;
        a[i + 2] = x2;
        a[i + 3] = x3;
        run = x3;
    }
    for (; i < n; i++) a[i] = run += a[i];
}

/* Copies row's gathered record into cell-ordered slot `at`: what the pair test reads, the entity
 * when the step copies it (see phys_slot_entity), and the mask only when some collider filters.
 * Callers declare the arrays as restrict locals (BODY_COPY_LOCALS): through p, every store would
 * make the compiler reload every array pointer. */
#define BODY_COPY_LOCALS(p)                                                                             \
    const phys_record *restrict g_ = (p)->g;                                                            \
    float *restrict bx_ = (p)->bx, *restrict by_ = (p)->by, *restrict bz_ = (p)->bz, *restrict br_ = (p)->br; \
    uint32_t *restrict bl_ = (p)->blayer, *restrict bm_ = (p)->bmask;                                   \
    aw_entity *restrict be_ = (p)->bent
#define PUT_BODY(at_, row_, masks_, ents_)                                                              \
    do {                                                                                                \
        const uint32_t at__ = (at_);                                                                    \
        const phys_record *rec__ = &g_[(row_)];                                                         \
        bx_[at__] = rec__->x;                                                                           \
        by_[at__] = rec__->y;                                                                           \
        bz_[at__] = rec__->z;                                                                           \
        br_[at__] = rec__->r;                                                                           \
        bl_[at__] = rec__->layer;                                                                       \
        if (ents_) be_[at__] = rec__->ent;                                                              \
        if (masks_) bm_[at__] = rec__->mask;                                                            \
    } while (0)

static inline uint32_t compact_key(uint32_t k, uint32_t cells) {
    return k < cells ? k : (k == PHYS_KEY_LARGE ? cells : cells + 1u);
}

/* The union of the layers of cells [c0, c1), whose slots are [s0, s1): a query for some layers
 * skips the cells holding none of them (a team's agents looking for the other team across their
 * own ranks). One pass over the slots in cell order, each storing its cell's union so far, so the
 * last store of a cell holds all of it: a loop per cell ended after its 0-4 slots, a mispredicted
 * branch about once a cell (half the physics step's, callgrind's branch simulation). */
static void cell_layers_range(aw_physics *p, uint32_t c0, uint32_t c1, uint32_t s0, uint32_t s1) {
    const uint32_t *restrict key = p->key, *restrict layer = p->blayer;
    uint32_t *restrict out = p->cell_layers;
    memset(out + c0, 0, (size_t)(c1 - c0) * sizeof *out); /* empty cells */
    uint32_t m = 0, prev = UINT32_MAX;
    for (uint32_t s = s0; s < s1; s++) {
        uint32_t k = key[s];
        /* A mask, not a select: the compiler made the select a branch. */
        m = (m & (0u - (uint32_t)(k == prev))) | layer[s];
        out[k] = m;
        prev = k;
    }
}

/* ---- band sort for large worlds: a stable pass by row band (few buckets, cache-friendly), then
 * one counting sort per band over its own cells, in parallel; each band writes its cell offsets
 * and its records directly. Same result as one stable counting sort over all cells. */

typedef struct band_ctx {
    aw_physics *p;
    uint32_t tasks, grain, bands, band_rows; /* bands of band_rows grid rows; then the large
                                              * colliders' band and the refused rows' */
    uint32_t *hist;                          /* tasks x (bands + 2), then offsets */
    uint32_t *band_start;                    /* bands + 3 */
    double inv_band_cells;                   /* 1 / (band_rows * width) */
} band_ctx;

/* The band of a compact key: a multiply by the reciprocal instead of two divisions per row. The
 * half-unit offset keeps exact multiples from rounding down: keys are below 2^27, so the double
 * product is off by far less than the 0.5 / band_cells margin. Large colliders (key cells) and
 * refused rows (cells + 1) get a band each, so the large list ends before the first refused row,
 * as in the counting sort. */
static inline uint32_t band_of(const band_ctx *c, uint32_t ck) {
    if (ck >= c->p->cells) return c->bands + (ck - c->p->cells);
    return (uint32_t)(((double)ck + 0.5) * c->inv_band_cells);
}

static void band_hist(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const band_ctx *c = arg;
    const aw_physics *p = c->p;
    const uint32_t nb = c->bands + 2;
    for (uint32_t t = begin; t < end; t++) {
        uint32_t *h = c->hist + (size_t)t * nb;
        memset(h, 0, nb * sizeof *h);
        uint32_t b = t * c->grain, e = b + c->grain < p->rows ? b + c->grain : p->rows;
        for (uint32_t i = b; i < e; i++) h[band_of(c, compact_key(p->gkey[i], p->cells))]++;
    }
}

static void band_scatter(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const band_ctx *c = arg;
    aw_physics *p = c->p;
    const uint32_t nb = c->bands + 2;
    uint64_t *restrict items = p->items_a;
    for (uint32_t t = begin; t < end; t++) {
        uint32_t *h = c->hist + (size_t)t * nb; /* this task's offsets now */
        uint32_t b = t * c->grain, e = b + c->grain < p->rows ? b + c->grain : p->rows;
        for (uint32_t i = b; i < e; i++) {
            uint32_t ck = compact_key(p->gkey[i], p->cells);
            items[h[band_of(c, ck)]++] = ((uint64_t)ck << 32) | i;
        }
    }
}

/* Rows ahead whose record is asked for: each is a miss in a big world (the rows of a band come
 * from everywhere), and without the prefetch the stores of the rows in between fill the store
 * buffer before many misses overlap. 16 and 32 measured alike, 64 slower. */
#define BAND_COPY_AHEAD 32u

static void band_cells(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const band_ctx *c = arg;
    aw_physics *p = c->p;
    const uint64_t *restrict items = p->items_a;
    uint32_t *restrict cs = p->cell_start, *restrict order = p->order, *restrict key = p->key;
    const bool masks = !p->all_default_layers, ents = p->slot_entities;
    BODY_COPY_LOCALS(p);
    for (uint32_t b = begin; b < end; b++) {
        uint32_t s0 = c->band_start[b], s1 = c->band_start[b + 1];
        if (b >= c->bands) { /* large colliders, or refused rows (no record): in row order */
            const bool large = b == c->bands;
            for (uint32_t s = s0; s < s1; s++) {
                uint32_t row = (uint32_t)items[s];
                order[s] = row;
                key[s] = (uint32_t)(items[s] >> 32);
                if (large) PUT_BODY(s, row, masks, ents);
            }
            continue;
        }
        uint32_t y1 = (b + 1) * c->band_rows < p->height ? (b + 1) * c->band_rows : p->height;
        uint32_t c0 = b * c->band_rows * p->width, c1 = y1 * p->width;
        memset(cs + c0, 0, (size_t)(c1 - c0) * sizeof *cs);
        for (uint32_t s = s0; s < s1; s++) cs[items[s] >> 32]++;
        prefix_sums(p, cs + c0, c1 - c0, s0);
        for (uint32_t s = s1; s-- > s0;) {
            if (s >= s0 + BAND_COPY_AHEAD) __builtin_prefetch(&g_[(uint32_t)items[s - BAND_COPY_AHEAD]]);
            uint32_t ck = (uint32_t)(items[s] >> 32), row = (uint32_t)items[s];
            uint32_t at = --cs[ck];
            order[at] = row;
            key[at] = ck;
            PUT_BODY(at, row, masks, ents);
        }
        /* Here, with the band's layers in cache, and split with the bands. The next band's first
         * cell start is that band's to write: this band's slots end at s1. */
        if (p->has_cell_layers) cell_layers_range(p, c0, c1, s0, s1);
    }
}

static aw_status band_sort(aw_physics *p) {
    band_ctx c = {.p = p};
    c.band_rows = (p->height + 255) / 256;
    c.bands = (p->height + c.band_rows - 1) / c.band_rows;
    c.inv_band_cells = 1.0 / ((double)c.band_rows * p->width);
    c.grain = p->rows / 64u > PHYS_SMALL_SORT ? p->rows / 64u : PHYS_SMALL_SORT;
    c.tasks = (p->rows + c.grain - 1) / c.grain;
    size_t nb = (size_t)c.bands + 2;
    if (phys_reserve(p, (void **)&p->hist, &p->hist_cap, (size_t)c.tasks * nb + nb + 1, sizeof(uint32_t)))
        return aw_last_status();
    c.hist = p->hist;
    c.band_start = p->hist + (size_t)c.tasks * nb;
    phys_parallel(p, c.tasks, band_hist, &c);
    /* Offsets by band, then task: stable, so each band keeps row order. */
    uint32_t run = 0;
    for (size_t b = 0; b < nb; b++) {
        c.band_start[b] = run;
        for (uint32_t t = 0; t < c.tasks; t++) {
            uint32_t *h = c.hist + (size_t)t * nb + b, n = *h;
            *h = run;
            run += n;
        }
    }
    c.band_start[nb] = run;
    phys_parallel(p, c.tasks, band_scatter, &c);
    phys_parallel(p, c.bands + 2, band_cells, &c);
    return AW_OK;
}

/* ---- counting sort for small worlds: rows split into a few fixed tasks, each with its own cell
 * histogram; offsets by cell, then task, make the parallel scatter stable, so the order is that
 * of one sequential counting sort whatever the split and the thread count. */

typedef struct csort_ctx {
    aw_physics *p;
    uint32_t grain, stride; /* rows per task; histogram entries per task (cells + 2) */
    uint32_t *hist;         /* tasks x stride: counts, then each task's next slot per cell */
} csort_ctx;

static void csort_hist(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const csort_ctx *c = arg;
    const aw_physics *p = c->p;
    const uint32_t *restrict gkey = p->gkey, cells = p->cells;
    const bool all_small = p->n_small == p->rows; /* every key is a cell: no sentinels to map */
    for (uint32_t t = begin; t < end; t++) {
        uint32_t *restrict h = c->hist + (size_t)t * c->stride;
        memset(h, 0, (size_t)c->stride * sizeof *h);
        uint32_t b = t * c->grain, e = b + c->grain < p->rows ? b + c->grain : p->rows;
        if (all_small)
            for (uint32_t i = b; i < e; i++) h[gkey[i]]++;
        else
            for (uint32_t i = b; i < e; i++) h[compact_key(gkey[i], cells)]++;
    }
}

/* Slots only (row and cell key); the records follow in copy_bodies. */
static void csort_scatter(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const csort_ctx *c = arg;
    aw_physics *p = c->p;
    const uint32_t *restrict gkey = p->gkey, cells = p->cells;
    uint32_t *restrict order = p->order, *restrict key = p->key;
    const bool all_small = p->n_small == p->rows; /* every key is a cell: no sentinels to map */
    for (uint32_t t = begin; t < end; t++) {
        uint32_t *restrict h = c->hist + (size_t)t * c->stride;
        uint32_t b = t * c->grain, e = b + c->grain < p->rows ? b + c->grain : p->rows;
        if (all_small) {
            for (uint32_t i = b; i < e; i++) {
                uint32_t k = gkey[i], at = h[k]++;
                order[at] = i;
                key[at] = k;
            }
            continue;
        }
        for (uint32_t i = b; i < e; i++) {
            uint32_t k = compact_key(gkey[i], cells);
            uint32_t at = h[k]++;
            order[at] = i;
            key[at] = k;
        }
    }
}

#if PHYS_HAVE_AVX2
/* The copy below with a record's x, y, z and r as one 16-byte load and four stores (lanes 1-3
 * stored by extract): 5 instructions where the scalar copy takes 8 (the 1k step's copy: 13.0k
 * instructions, against 16.0k scalar from records and 14.0k from the arrays they replaced). */
__attribute__((target("avx2"))) static inline void put_xyzr(float *restrict x, float *restrict y,
                                                            float *restrict z, float *restrict r,
                                                            const phys_record *rec) {
    const __m128 v = _mm_load_ps(&rec->x); /* records are 32-byte aligned */
    int32_t lane[3] = {_mm_extract_ps(v, 1), _mm_extract_ps(v, 2), _mm_extract_ps(v, 3)};
    _mm_store_ss(x, v);
    memcpy(y, &lane[0], sizeof *y);
    memcpy(z, &lane[1], sizeof *z);
    memcpy(r, &lane[2], sizeof *r);
}

__attribute__((target("avx2"))) static void copy_bodies_range_avx2(aw_physics *p, uint32_t b, uint32_t e) {
    const uint32_t *restrict order = p->order;
    BODY_COPY_LOCALS(p);
    const bool masks = !p->all_default_layers;
    (void)be_;
    for (uint32_t s = b; s < e; s++) {
        const phys_record *rec = &g_[order[s]];
        put_xyzr(bx_ + s, by_ + s, bz_ + s, br_ + s, rec);
        bl_[s] = rec->layer;
        if (masks) bm_[s] = rec->mask;
    }
}
#endif

/* The records of slots [b, e) from gather order into cell order, in a pass of their own after the
 * scatter: reads scattered, writes sequential, and few enough arrays live that nothing spills
 * (copied inside the scatter, fourteen pointers were live and most were reloaded every row). A
 * version with AVX2 gathers ran fewer instructions but took about 1.6x the time here (perf
 * samples, seed-profile): gathers are slow on this CPU. */
static void copy_bodies_range(aw_physics *p, uint32_t b, uint32_t e) {
#if PHYS_HAVE_AVX2
    if (p->use_avx2) {
        copy_bodies_range_avx2(p, b, e);
        return;
    }
#endif
    const uint32_t *restrict order = p->order;
    BODY_COPY_LOCALS(p);
    if (p->all_default_layers)
        for (uint32_t s = b; s < e; s++) PUT_BODY(s, order[s], false, false);
    else
        for (uint32_t s = b; s < e; s++) PUT_BODY(s, order[s], true, false);
}

#define PHYS_COPY_GRAIN 8192u /* slots per copy task */

static void copy_bodies_task(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    aw_physics *p = arg;
    for (uint32_t t = begin; t < end; t++) {
        uint32_t b = t * PHYS_COPY_GRAIN, e = b + PHYS_COPY_GRAIN < p->n_valid ? b + PHYS_COPY_GRAIN : p->n_valid;
        copy_bodies_range(p, b, e);
    }
}

static aw_status counting_sort(aw_physics *p) {
    /* Tasks of equal size, at least PHYS_SORT_GRAIN rows each, and no more than threads: the
     * serial pass below costs cells x tasks (at 30k rows on a 12k-cell grid, six tasks made it and
     * their histograms' clearing cost more than the scatter they shared). The sort is stable, so
     * any split gives the same order: the thread count may choose it. */
    uint32_t threads = p->step_jobs ? aw_jobs_thread_count(p->step_jobs) : 1;
    uint32_t tasks = p->rows / PHYS_SORT_GRAIN;
    if (tasks > threads) tasks = threads;
    if (!tasks) tasks = 1;
    csort_ctx c = {.p = p, .grain = (p->rows + tasks - 1) / tasks, .stride = p->cells + 2};
    uint32_t *restrict cs = p->cell_start, run = 0;
    if (tasks == 1) {
        /* Counted straight into the cell starts, two entries up: the inclusive prefix leaves
         * cs[k + 2] = the end of cell k, and the scatter, taking slots from cs[k + 1], leaves
         * cs[k] = the start of cell k. No histogram of its own, no pass copying it. (cell_start
         * has cells + width + 3 >= stride + 2 entries.) */
        cs[0] = cs[1] = 0;
        c.hist = cs + 2;
        csort_hist(0, 1, 0, &c);
        prefix_sums(p, cs + 2, c.stride, 0);
        c.hist = cs + 1;
        csort_scatter(0, 1, 0, &c);
        copy_bodies_range(p, 0, p->n_valid);
        return AW_OK;
    }
    if (phys_reserve(p, (void **)&p->hist, &p->hist_cap, (size_t)tasks * c.stride, sizeof(uint32_t)))
        return aw_last_status();
    c.hist = p->hist;
    phys_parallel(p, tasks, csort_hist, &c);
    /* Cell starts, and each task's first slot per cell. The running total stays in a register. */
    uint32_t *restrict h = c.hist;
    if (tasks == 2) {
        uint32_t *restrict h1 = h + c.stride;
        for (uint32_t k = 0; k < c.stride; k++) {
            uint32_t n0 = h[k], n1 = h1[k];
            cs[k] = h[k] = run;
            h1[k] = run + n0;
            run += n0 + n1;
        }
    } else {
        for (uint32_t k = 0; k < c.stride; k++) {
            cs[k] = run;
            for (uint32_t t = 0; t < tasks; t++) {
                uint32_t *slot = &h[(size_t)t * c.stride + k], n = *slot;
                *slot = run;
                run += n;
            }
        }
    }
    phys_parallel(p, tasks, csort_scatter, &c);
    phys_parallel(p, (p->n_valid + PHYS_COPY_GRAIN - 1) / PHYS_COPY_GRAIN, copy_bodies_task, p);
    return AW_OK;
}

static bool slot_outside(const aw_physics *p, uint32_t s) {
    bool out = false;
    phys_row_key(p, p->bx[s], p->bz[s], 0.0f, &out);
    return out;
}

static void collect_outside(aw_physics *p) {
    /* Only border cells can hold colliders from outside the grid (they are clamped there). */
    const uint32_t *cs = p->cell_start;
    uint32_t w = p->width, h = p->height, n = 0;
    for (uint32_t y = 0; y < h; y++) {
        bool edge_row = y == 0 || y + 1 == h;
        for (uint32_t x = 0; x < w; x += edge_row ? 1 : w - 1) {
            uint32_t c = y * w + x;
            for (uint32_t s = cs[c]; s < cs[c + 1]; s++)
                if (slot_outside(p, s)) p->outside[n++] = s;
        }
    }
    p->n_outside = n;
}

aw_status phys_grid_build(aw_physics *p, uint32_t n_small, uint32_t n_large) {
    size_t need = (size_t)p->cells + p->width + 3;
    if (phys_reserve(p, (void **)&p->cell_start, &p->cell_start_cap, need, sizeof(uint32_t)) ||
        phys_reserve(p, (void **)&p->cell_layers, &p->cell_layers_cap, p->cells, sizeof(uint32_t))) {
        p->n_small = p->n_large = p->n_valid = p->n_outside = 0;
        return aw_last_status();
    }
    p->n_small = n_small;
    p->n_large = n_large;
    p->n_valid = n_small + n_large;
    const bool banded = p->rows > PHYS_SMALL_SORT;
    {
        /* The band sort copies entities when queries read them (see phys_slot_entity); small
         * worlds never look at the flag, so their step has no locked exchange. */
        p->slot_entities = banded && atomic_exchange_explicit(&p->entity_reads, false, memory_order_relaxed);
        aw_status st = banded ? band_sort(p) : counting_sort(p);
        if (st) {
            p->n_small = p->n_large = p->n_valid = p->n_outside = 0;
            return st;
        }
    }
    /* Padding past the last cell: the stencil reads up to cells + width + 2 without a bound check. */
    for (size_t cc = p->cells; cc < need; cc++) p->cell_start[cc] = n_small;
    /* See has_cell_layers; the band sort builds the union band by band. */
    if (p->has_cell_layers && !banded) cell_layers_range(p, 0, p->cells, 0, n_small);
    collect_outside(p);
    uint32_t outside = p->n_outside;
    for (uint32_t sl = n_small; sl < p->n_valid; sl++) outside += slot_outside(p, sl);
    p->stats.outside = outside;
    p->margin = 0.0f;
    return AW_OK;
}

/* ---- pairs */

typedef struct pair_ctx {
    aw_physics *p;
    const uint32_t *which; /* NULL: task index = item; else a list of task indices to rerun */
    uint32_t small_tasks;
} pair_ctx;

/* The narrowphase predicate, shared by every path: float 3D distance squared, summed as
 * (dx^2 + dy^2) + dz^2, against the radius sum squared, strictly less (touching is not a
 * contact), then the layer filter both ways (masks are copied only when some collider filters). A hit is stored as the slot pair; the contact pass
 * computes its normal and depth, off the hot loop. */
static inline bool phys_hit(const aw_physics *p, uint32_t i, uint32_t j) {
    float dx = p->bx[j] - p->bx[i], dy = p->by[j] - p->by[i], dz = p->bz[j] - p->bz[i];
    float rs = p->br[i] + p->br[j];
    float d2 = dx * dx + dy * dy + dz * dz;
    return d2 < rs * rs &&
           (p->all_default_layers || ((p->blayer[i] & p->bmask[j]) && (p->blayer[j] & p->bmask[i])));
}

/* One candidate on the careful path: written only while the buffer has room, always counted. */
static inline void test_counted(const aw_physics *p, phys_task *t, uint32_t *count, uint32_t i, uint32_t j) {
    if (!phys_hit(p, i, j)) return;
    if (*count < t->capacity) {
        t->pi[*count] = i;
        t->pj[*count] = j;
    }
    (*count)++;
}

/* The two candidate runs of slot i in cell c (half stencil): the rest of c plus the cell to the
 * right, then the three cells of the next row. Neighbours to the left and above find i from
 * their side. At a row's end the runs reach into the next row's first cell: harmless extra tests
 * (the distance rejects them), never a missed or doubled pair, since width >= 3 keeps the runs
 * apart. */
typedef struct stencil {
    uint32_t b1, e1, b2, e2;
} stencil;

static inline stencil stencil_of(const uint32_t *restrict cs, uint32_t w, uint32_t i, uint32_t c) {
    return (stencil){i + 1, cs[c + 2], cs[c + w - 1], cs[c + w + 2]};
}

/* Scalar path: one loop over both runs, and no branch on the test. Every candidate is written and
 * the count advances by the hit: which pairs hit is data, so a branch on it would mispredict. */
__attribute__((always_inline)) static inline uint32_t small_scalar_body(const aw_physics *p, phys_task *t, uint32_t b,
                                                                         uint32_t e, uint32_t count, const bool layers) {
    const float *restrict X = p->bx, *restrict Y = p->by, *restrict Z = p->bz, *restrict R = p->br;
    const uint32_t *restrict L = p->blayer, *restrict M = p->bmask, *restrict K = p->key, *restrict cs = p->cell_start;
    uint32_t *restrict pi = t->pi, *restrict pj = t->pj;
    const uint32_t w = p->width, cap = t->capacity;
    uint64_t tests = 0;
    for (uint32_t i = b; i < e; i++) {
        const stencil st = stencil_of(cs, w, i, K[i]);
        const uint32_t n1 = st.e1 - st.b1, n = n1 + (st.e2 - st.b2);
        tests += n;
        if (AW_UNLIKELY(count + n > cap)) {
            for (uint32_t j = st.b1; j < st.e1; j++) test_counted(p, t, &count, i, j);
            for (uint32_t j = st.b2; j < st.e2; j++) test_counted(p, t, &count, i, j);
            continue;
        }
        const float xi = X[i], yi = Y[i], zi = Z[i], ri = R[i];
        const uint32_t li = layers ? L[i] : 0, mi = layers ? M[i] : 0;
        for (uint32_t q = 0; q < n; q++) {
            const uint32_t j = q < n1 ? st.b1 + q : st.b2 + (q - n1);
            float dx = X[j] - xi, dy = Y[j] - yi, dz = Z[j] - zi;
            float rs = ri + R[j];
            float d2 = dx * dx + dy * dy + dz * dz;
            uint32_t hit = d2 < rs * rs;
            if (layers) hit &= ((li & M[j]) != 0) & ((L[j] & mi) != 0);
            pi[count] = i;
            pj[count] = j;
            count += hit;
        }
    }
    t->tests += tests;
    return count;
}

static uint32_t small_scalar(const aw_physics *p, phys_task *t, uint32_t b, uint32_t e, uint32_t count) {
    return p->all_default_layers ? small_scalar_body(p, t, b, e, count, false)
                                 : small_scalar_body(p, t, b, e, count, true);
}

#if PHYS_HAVE_AVX2

/* AVX2 path: a run is tested 8 candidates at a time from the cell-ordered arrays (contiguous, so
 * plain unaligned loads); lanes past the run are masked. Hits are compacted without a branch:
 * candidate j of lane k is start + k, so the compacted j values are the start plus the indices of
 * the set mask bits (a 256-entry table), stored whole; the count advances by the popcount. When
 * both runs together have at most 8 candidates (the common case with the cell sizes chosen) they
 * share one group; else each run gets one group unconditionally, so the loop has few
 * data-dependent branches. */
/* `layers` is a constant in each caller below, so the common case (every collider meets every
 * other) gets a copy without the filter and with fewer registers live. */
__attribute__((target("avx2,bmi,bmi2,popcnt"), always_inline)) static inline uint32_t
small_avx2_body(const aw_physics *p, phys_task *t, uint32_t b, uint32_t e, uint32_t count, const bool layers) {
    /* Everything in locals: the hit stores must not make the compiler reload the arrays. */
    const float *restrict X = p->bx, *restrict Y = p->by, *restrict Z = p->bz, *restrict R = p->br;
    const uint32_t *restrict L = p->blayer, *restrict M = p->bmask, *restrict K = p->key, *restrict cs = p->cell_start;
    const uint64_t *restrict lut = p->compress_lut;
    uint32_t *restrict pi = t->pi, *restrict pj = t->pj;
    const uint32_t w = p->width, limit = t->capacity - 16;
    const __m256i zero = _mm256_setzero_si256(), iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    uint64_t tests = 0;
    /* One group: candidates [j0, j0 + 8), of which the first `left_` (<= 8, or any count up to 255
     * for the bzhi) are real. */
#define AVX2_GROUP(j0_, left_)                                                                                     \
    do {                                                                                                           \
        const uint32_t j0 = (j0_);                                                                                 \
        __m256 dx = _mm256_sub_ps(_mm256_loadu_ps(X + j0), xi);                                                    \
        __m256 dy = _mm256_sub_ps(_mm256_loadu_ps(Y + j0), yi);                                                    \
        __m256 dz = _mm256_sub_ps(_mm256_loadu_ps(Z + j0), zi);                                                    \
        __m256 rs = _mm256_add_ps(ri, _mm256_loadu_ps(R + j0));                                                    \
        __m256 d2 = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy)), _mm256_mul_ps(dz, dz)); \
        __m256 hit = _mm256_cmp_ps(d2, _mm256_mul_ps(rs, rs), _CMP_LT_OQ);                                          \
        if (layers) {                                                                                              \
            __m256i lj = _mm256_loadu_si256((const __m256i *)(L + j0));                                            \
            __m256i mj = _mm256_loadu_si256((const __m256i *)(M + j0));                                            \
            __m256i no = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_and_si256(li, mj), zero),                       \
                                         _mm256_cmpeq_epi32(_mm256_and_si256(lj, mi), zero));                      \
            hit = _mm256_andnot_ps(_mm256_castsi256_ps(no), hit);                                                  \
        }                                                                                                          \
        const uint32_t bits = _bzhi_u32((uint32_t)_mm256_movemask_ps(hit), (left_));                              \
        __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&lut[bits]));                          \
        _mm256_storeu_si256((__m256i *)(pj + count), _mm256_add_epi32(idx, _mm256_set1_epi32((int32_t)j0)));     \
        _mm256_storeu_si256((__m256i *)(pi + count), iv);                                                          \
        count += (uint32_t)_mm_popcnt_u32(bits);                                                                   \
    } while (0)
    for (uint32_t i = b; i < e; i++) {
        const uint32_t c = K[i], b1 = i + 1, e1 = cs[c + 2], b2 = cs[c + w - 1], e2 = cs[c + w + 2];
        const uint32_t n1 = e1 - b1, n2 = e2 - b2;
        tests += n1 + n2;
        /* The groups may store 8 entries past the count each: keep that inside the buffer. */
        if (AW_UNLIKELY(count + n1 + n2 > limit)) {
            for (uint32_t j = b1; j < e1; j++) test_counted(p, t, &count, i, j);
            for (uint32_t j = b2; j < e2; j++) test_counted(p, t, &count, i, j);
            continue;
        }
        const __m256 xi = _mm256_set1_ps(X[i]), yi = _mm256_set1_ps(Y[i]), zi = _mm256_set1_ps(Z[i]);
        const __m256 ri = _mm256_set1_ps(R[i]);
        const __m256i li = layers ? _mm256_set1_epi32((int32_t)L[i]) : zero;
        const __m256i mi = layers ? _mm256_set1_epi32((int32_t)M[i]) : zero;
        const __m256i iv = _mm256_set1_epi32((int32_t)i);
        if (AW_LIKELY(n1 + n2 <= 8)) {
            /* Both runs together fit one group (the usual case with the cell sizes chosen): lanes
             * [0, n1) hold run 1 and lanes [n1, n1 + n2) run 2, loaded from b2 - n1 so that lane q
             * holds candidate b2 + (q - n1); b2 - n1 >= b1 because run 1 ends at or before b2.
             * One set of arithmetic and one compaction instead of two. */
            const uint32_t o2 = b2 - n1;
            const __m256i first = _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)n1), iota);
            const __m256 f = _mm256_castsi256_ps(first);
            __m256 dx = _mm256_sub_ps(_mm256_blendv_ps(_mm256_loadu_ps(X + o2), _mm256_loadu_ps(X + b1), f), xi);
            __m256 dy = _mm256_sub_ps(_mm256_blendv_ps(_mm256_loadu_ps(Y + o2), _mm256_loadu_ps(Y + b1), f), yi);
            __m256 dz = _mm256_sub_ps(_mm256_blendv_ps(_mm256_loadu_ps(Z + o2), _mm256_loadu_ps(Z + b1), f), zi);
            __m256 rs = _mm256_add_ps(ri, _mm256_blendv_ps(_mm256_loadu_ps(R + o2), _mm256_loadu_ps(R + b1), f));
            __m256 d2 = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy)), _mm256_mul_ps(dz, dz));
            __m256 hit = _mm256_cmp_ps(d2, _mm256_mul_ps(rs, rs), _CMP_LT_OQ);
            if (layers) {
                __m256i lj = _mm256_blendv_epi8(_mm256_loadu_si256((const __m256i *)(L + o2)),
                                                _mm256_loadu_si256((const __m256i *)(L + b1)), first);
                __m256i mj = _mm256_blendv_epi8(_mm256_loadu_si256((const __m256i *)(M + o2)),
                                                _mm256_loadu_si256((const __m256i *)(M + b1)), first);
                __m256i no = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_and_si256(li, mj), zero),
                                             _mm256_cmpeq_epi32(_mm256_and_si256(lj, mi), zero));
                hit = _mm256_andnot_ps(_mm256_castsi256_ps(no), hit);
            }
            const uint32_t bits = _bzhi_u32((uint32_t)_mm256_movemask_ps(hit), n1 + n2);
            __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&lut[bits]));
            __m256i jv = _mm256_add_epi32(
                _mm256_blendv_epi8(_mm256_set1_epi32((int32_t)o2), _mm256_set1_epi32((int32_t)b1), first), iota);
            _mm256_storeu_si256((__m256i *)(pj + count), _mm256_permutevar8x32_epi32(jv, idx));
            _mm256_storeu_si256((__m256i *)(pi + count), iv);
            count += (uint32_t)_mm_popcnt_u32(bits);
            continue;
        }
        if (AW_LIKELY(n1 <= 8 && n2 <= 8)) {
            AVX2_GROUP(b1, n1);
            AVX2_GROUP(b2, n2);
            continue;
        }
        for (uint32_t j = b1; j < e1; j += 8) AVX2_GROUP(j, e1 - j < 8 ? e1 - j : 8);
        for (uint32_t j = b2; j < e2; j += 8) AVX2_GROUP(j, e2 - j < 8 ? e2 - j : 8);
    }
#undef AVX2_GROUP
    t->tests += tests;
    return count;
}

__attribute__((target("avx2,bmi,bmi2,popcnt"))) static uint32_t small_avx2(const aw_physics *p, phys_task *t,
                                                                            uint32_t b, uint32_t e, uint32_t count) {
    return p->all_default_layers ? small_avx2_body(p, t, b, e, count, false) : small_avx2_body(p, t, b, e, count, true);
}
#endif

static void find_small(const aw_physics *p, phys_task *t, uint32_t b, uint32_t e) {
    t->tests = 0;
#if PHYS_HAVE_AVX2
    if (p->use_avx2) {
        t->count = small_avx2(p, t, b, e, 0);
        return;
    }
#endif
    t->count = small_scalar(p, t, b, e, 0);
}

static void find_large(const aw_physics *p, phys_task *t, uint32_t b, uint32_t e) {
    const uint32_t *restrict cs = p->cell_start;
    const uint32_t w = p->width;
    uint32_t count = 0;
    uint64_t tests = 0;
    for (uint32_t i = b; i < e; i++) {
        const float xi = p->bx[i], zi = p->bz[i];
        double ext = ((double)p->br[i] + p->small_r_max) * (1.0 + CELL_SAFETY);
        uint32_t x0 = cell_of(xi - ext, p->min_x, p->inv_cell, w), x1 = cell_of(xi + ext, p->min_x, p->inv_cell, w);
        uint32_t y0 = cell_of(zi - ext, p->min_z, p->inv_cell, p->height);
        uint32_t y1 = cell_of(zi + ext, p->min_z, p->inv_cell, p->height);
        if (p->n_small) {
            for (uint32_t y = y0; y <= y1; y++) {
                uint32_t jb = cs[y * w + x0], je = cs[y * w + x1 + 1];
                tests += je - jb;
                for (uint32_t j = jb; j < je; j++) test_counted(p, t, &count, i, j);
            }
        }
        tests += p->n_valid - i - 1;
        for (uint32_t j = i + 1; j < p->n_valid; j++) test_counted(p, t, &count, i, j);
    }
    t->count = count;
    t->tests = tests;
}

static void run_task(aw_physics *p, uint32_t ti, uint32_t small_tasks) {
    phys_task *t = &p->tasks[ti];
    if (ti < small_tasks) {
        uint32_t b = ti * PHYS_PAIR_GRAIN, e = b + PHYS_PAIR_GRAIN < p->n_small ? b + PHYS_PAIR_GRAIN : p->n_small;
        find_small(p, t, b, e);
    } else {
        uint32_t b = p->n_small + (ti - small_tasks) * PHYS_LARGE_GRAIN;
        uint32_t e = b + PHYS_LARGE_GRAIN < p->n_valid ? b + PHYS_LARGE_GRAIN : p->n_valid;
        find_large(p, t, b, e);
    }
}

static void pair_tasks(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const pair_ctx *c = arg;
    for (uint32_t k = begin; k < end; k++) run_task(c->p, c->which ? c->which[k] : k, c->small_tasks);
}

/* Replaces a task's pair buffers with room for `cap` pairs (contents dropped: the task reruns). */
static aw_status grow_task(aw_physics *p, phys_task *k, size_t cap) {
    if (cap > UINT32_MAX / 4) return aw_error(AW_ERR_CAPACITY, "aw_physics_step: %zu pairs is too many", cap);
    size_t bytes = (cap + PHYS_PAD) * sizeof(uint32_t);
    uint32_t *pi = aw_alloc(p->alloc, bytes, 64), *pj = pi ? aw_alloc(p->alloc, bytes, 64) : NULL;
    if (!pj) {
        if (pi) aw_free(p->alloc, pi, bytes);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_physics_step: out of memory for %zu pairs", cap);
    }
    if (k->pi) {
        size_t old = ((size_t)k->capacity + PHYS_PAD) * sizeof(uint32_t);
        aw_free(p->alloc, k->pi, old);
        aw_free(p->alloc, k->pj, old);
    }
    k->pi = pi;
    k->pj = pj;
    k->capacity = (uint32_t)cap;
    return AW_OK;
}

aw_status phys_find_pairs(aw_physics *p) {
    uint32_t small_tasks = (p->n_small + PHYS_PAIR_GRAIN - 1) / PHYS_PAIR_GRAIN;
    uint32_t large_tasks = (p->n_large + PHYS_LARGE_GRAIN - 1) / PHYS_LARGE_GRAIN;
    uint32_t tasks = small_tasks + large_tasks;
    if (tasks > p->task_cap) {
        uint32_t old = p->task_cap;
        if (phys_reserve_u32(p, (void **)&p->tasks, &p->task_cap, tasks, sizeof(phys_task))) return aw_last_status();
        memset(p->tasks + old, 0, (size_t)(p->task_cap - old) * sizeof(phys_task));
    }
    /* A new buffer starts with room for one pair per slot it scans (or the most any task needed
     * so far), and grows to twice what overflowed: contact counts that creep up while bodies
     * bunch together then stop reallocating after a step or two. */
    for (uint32_t t = 0; t < tasks; t++) {
        if (p->tasks[t].pi) continue;
        size_t cap = t < small_tasks ? PHYS_PAIR_GRAIN : 64;
        if (cap < p->pairs_hint) cap = p->pairs_hint;
        if (grow_task(p, &p->tasks[t], cap + 64)) return aw_last_status();
    }
    p->task_count = tasks;
    pair_ctx c = {.p = p, .small_tasks = small_tasks};
    phys_parallel(p, tasks, pair_tasks, &c);
    /* A task whose buffer overflowed only counted; grow it here (on the calling thread, so a
     * user allocator need not be thread-safe) and run it again. */
    uint32_t list[256], n = 0;
    for (uint32_t t = 0; t < tasks; t++) {
        phys_task *k = &p->tasks[t];
        if (k->count > p->pairs_hint) p->pairs_hint = k->count;
        if (k->count <= k->capacity) continue;
        if (grow_task(p, k, (size_t)k->count * 2 + 64)) return aw_last_status();
        list[n++] = t;
        if (n == 256) {
            pair_ctx rc = {.p = p, .which = list, .small_tasks = small_tasks};
            phys_parallel(p, n, pair_tasks, &rc);
            n = 0;
        }
    }
    if (n) {
        pair_ctx rc = {.p = p, .which = list, .small_tasks = small_tasks};
        phys_parallel(p, n, pair_tasks, &rc);
    }
    return AW_OK;
}
