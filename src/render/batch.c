/* After extraction: sorts the pieces' entries by key with a radix sort whose first pass reads the
 * pieces in the scheduler's order (so the result does not depend on which thread ran what), and
 * cuts the sorted list into batches of equal mesh and material. */
#include "render_internal.h"

#include <string.h>

/* 11-bit digits: six cover 64 bits, and with the key layout (8 depth, 8 mesh, 12 material bits)
 * a scene with fewer than 64 materials varies in only two of them: two scatter passes. */
#define DIGIT_BITS 11
#define DIGITS     6
#define BINS       (1u << DIGIT_BITS)

void render_radix_sort(uint64_t **keys, uint32_t **values, uint64_t **keys_tmp, uint32_t **values_tmp,
                       uint32_t count) {
    if (count < 2) return;
    /* Which digits differ at all: only those get a histogram and a pass. */
    const uint64_t *k = *keys;
    uint64_t first = k[0], differ = 0;
    for (uint32_t i = 1; i < count; i++) differ |= k[i] ^ first;
    int digits[DIGITS], digit_count = 0;
    for (int d = 0; d < DIGITS; d++)
        if ((differ >> (DIGIT_BITS * d)) & (BINS - 1u)) digits[digit_count++] = d;
    static _Thread_local uint32_t hist[DIGITS][BINS]; /* 48 KiB: off the stack */
    memset(hist, 0, sizeof(hist[0]) * (size_t)digit_count);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t key = k[i];
        for (int j = 0; j < digit_count; j++) hist[j][(key >> (DIGIT_BITS * digits[j])) & (BINS - 1u)]++;
    }
    for (int j = 0; j < digit_count; j++) {
        int shift = DIGIT_BITS * digits[j];
        uint32_t sum = 0;
        for (uint32_t b = 0; b < BINS; b++) { /* counts become starting offsets */
            uint32_t c = hist[j][b];
            hist[j][b] = sum;
            sum += c;
        }
        uint32_t *offset = hist[j];
        const uint64_t *src_k = *keys;
        const uint32_t *src_v = *values;
        uint64_t *dst_k = *keys_tmp;
        uint32_t *dst_v = *values_tmp;
        for (uint32_t i = 0; i < count; i++) {
            uint32_t o = offset[(src_k[i] >> shift) & (BINS - 1u)]++;
            dst_k[o] = src_k[i];
            dst_v[o] = src_v[i];
        }
        uint64_t *tk = *keys;
        *keys = *keys_tmp;
        *keys_tmp = tk;
        uint32_t *tv = *values;
        *values = *values_tmp;
        *values_tmp = tv;
    }
}

void aw_render_sort(uint64_t *keys, uint32_t *values, uint64_t *keys_tmp, uint32_t *values_tmp, uint32_t count) {
    if (!keys || !values || !keys_tmp || !values_tmp || count < 2) return;
    uint64_t *k = keys, *kt = keys_tmp;
    uint32_t *v = values, *vt = values_tmp;
    render_radix_sort(&k, &v, &kt, &vt, count);
    if (k != keys) {
        memcpy(keys, k, (size_t)count * sizeof *keys);
        memcpy(values, v, (size_t)count * sizeof *values);
    }
}

static aw_status grow(const aw_allocator *a, void **p, uint32_t old_count, uint32_t new_count, size_t elem) {
    void *n = aw_realloc(a, *p, (size_t)old_count * elem, (size_t)new_count * elem, 64);
    if (!n) return aw_error(AW_ERR_OUT_OF_MEMORY, "render: out of memory for %u sort entries", new_count);
    *p = n;
    return AW_OK;
}

/* The two entry arrays are rebuilt every frame, so growing them needs no copy: new ones replace
 * the old ones together, or nothing changes. */
static aw_status ensure_sort_capacity(aw_renderer *r, uint32_t n) {
    if (n <= r->sort_capacity) return AW_OK;
    uint32_t cap = r->sort_capacity ? r->sort_capacity : 1024;
    while (cap < n) cap = cap + cap / 2;
    const aw_allocator *a = r->allocator;
    uint64_t *k = aw_alloc(a, (size_t)cap * 8, 64), *kt = aw_alloc(a, (size_t)cap * 8, 64);
    if (!k || !kt) {
        aw_free(a, k, (size_t)cap * 8);
        aw_free(a, kt, (size_t)cap * 8);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "render: out of memory for %u sort entries", n);
    }
    uint32_t old = r->sort_capacity;
    aw_free(a, r->keys, (size_t)old * 8);
    aw_free(a, r->keys_tmp, (size_t)old * 8);
    r->keys = k;
    r->keys_tmp = kt;
    r->sort_capacity = cap;
    return AW_OK;
}

/* One scatter pass of the parallel sort over `parts` equal ranges of the merged input (the pieces
 * for the first pass, one contiguous array after): each part counts its digits, a serial prefix
 * turns the counts into every part's starting offsets (part order within each bin keeps the sort
 * stable), and each part scatters its range. The result does not depend on the part count. */
typedef struct sort_pass {
    const uint64_t *entries;
    const render_piece *pieces;
    uint32_t piece_count, n, parts;
    uint64_t *dst;
    int shift;
    uint32_t mask;
    uint32_t (*offsets)[RENDER_DIGIT_BINS]; /* one row per part */
} sort_pass;

/* Visits the entries at merged positions [lo, hi) piece by piece; `scatter` picks the action. */
static void pass_part(const sort_pass *p, uint32_t part, bool scatter) {
    uint32_t lo = (uint32_t)((uint64_t)p->n * part / p->parts), hi = (uint32_t)((uint64_t)p->n * (part + 1) / p->parts);
    uint32_t *bins = p->offsets[part];
    if (!scatter) memset(bins, 0, (size_t)(p->mask + 1) * sizeof(uint32_t));
    /* The last piece starting at or before lo holds it (pieces are in merged order). */
    uint32_t a = 0, b = p->piece_count;
    while (b - a > 1) {
        uint32_t mid = a + (b - a) / 2;
        if (p->pieces[mid].offset <= lo) a = mid;
        else b = mid;
    }
    int shift = p->shift;
    uint32_t mask = p->mask;
    for (uint32_t i = a, pos = lo; pos < hi && i < p->piece_count; i++) {
        const render_piece *pc = &p->pieces[i];
        if (pc->offset + pc->count <= pos) continue;
        uint32_t skip = pos - pc->offset, take = pc->count - skip;
        if (take > hi - pos) take = hi - pos;
        const uint64_t *src = p->entries + pc->begin + skip;
        if (scatter) {
            uint64_t *dst = p->dst;
            for (uint32_t k = 0; k < take; k++) {
                uint64_t e = src[k];
                dst[bins[(e >> shift) & mask]++] = e;
            }
        } else {
            for (uint32_t k = 0; k < take; k++) bins[(src[k] >> shift) & mask]++;
        }
        pos += take;
    }
}

static void pass_count(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    for (uint32_t part = begin; part < end; part++) pass_part(arg, part, false);
}

static void pass_scatter(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    for (uint32_t part = begin; part < end; part++) pass_part(arg, part, true);
}

static void run_parts(aw_jobs *jobs, sort_pass *p, aw_range_fn fn) {
    if (!jobs || aw_jobs_parallel_for(jobs, p->parts, 1, fn, p) != AW_OK) fn(0, p->parts, 0, p);
}

static void sort_pass_run(aw_jobs *jobs, sort_pass *p) {
    run_parts(jobs, p, pass_count);
    uint32_t sum = 0;
    for (uint32_t bin = 0; bin <= p->mask; bin++)
        for (uint32_t part = 0; part < p->parts; part++) {
            uint32_t c = p->offsets[part][bin];
            p->offsets[part][bin] = sum;
            sum += c;
        }
    run_parts(jobs, p, pass_scatter);
}

void render_sort_entries(const uint64_t *entries, const render_piece *pieces, uint32_t piece_count,
                         const render_key_hist *hists, uint32_t hist_count, uint32_t n, uint64_t *out, uint64_t *tmp,
                         aw_jobs *jobs, uint32_t parts) {
    static _Thread_local uint32_t offsets[RENDER_DIGITS][RENDER_DIGIT_BINS]; /* 48 KiB: off the stack */
    int digits[RENDER_DIGITS], digit_count = 0;
    for (int d = 0; d < RENDER_DIGITS; d++) {
        uint32_t sum = 0;
        bool one_bin = false;
        for (uint32_t b = 0; b <= RENDER_DIGIT_MASK(d); b++) { /* counts become starting offsets */
            uint32_t c = 0;
            for (uint32_t w = 0; w < hist_count; w++) c += hists[w].bins[d][b];
            one_bin = one_bin || c == n;
            offsets[d][b] = sum;
            sum += c;
        }
        if (!one_bin) digits[digit_count++] = d; /* a digit every key shares needs no pass */
    }
    if (digit_count == 0) {
        for (uint32_t i = 0; i < piece_count; i++)
            memcpy(out + pieces[i].offset, entries + pieces[i].begin, (size_t)pieces[i].count * sizeof(uint64_t));
        return;
    }
    /* Ping-pong so that the last pass lands in out. */
    uint64_t *dst = (digit_count & 1) ? out : tmp;
    uint64_t *other = (digit_count & 1) ? tmp : out;
    if (parts > 1) {
        static _Thread_local uint32_t part_offsets[RENDER_SORT_MAX_PARTS][RENDER_DIGIT_BINS]; /* 64 KiB */
        if (parts > RENDER_SORT_MAX_PARTS) parts = RENDER_SORT_MAX_PARTS;
        render_piece whole = {.begin = 0, .count = n, .offset = 0};
        for (int j = 0; j < digit_count; j++) {
            sort_pass p = {.entries = j == 0 ? entries : other, .pieces = j == 0 ? pieces : &whole,
                           .piece_count = j == 0 ? piece_count : 1, .n = n, .parts = parts, .dst = dst,
                           .shift = RENDER_DIGIT_SHIFT(digits[j]), .mask = RENDER_DIGIT_MASK(digits[j]),
                           .offsets = part_offsets};
            sort_pass_run(jobs, &p);
            if (j + 1 < digit_count) {
                uint64_t *t = dst;
                dst = other;
                other = t;
            }
        }
        return;
    }
    uint32_t *offset = offsets[digits[0]];
    int shift = RENDER_DIGIT_SHIFT(digits[0]);
    uint32_t mask = RENDER_DIGIT_MASK(digits[0]);
    for (uint32_t i = 0; i < piece_count; i++) {
        const uint64_t *src = entries + pieces[i].begin;
        for (uint32_t k = 0, count = pieces[i].count; k < count; k++) {
            uint64_t e = src[k];
            dst[offset[(e >> shift) & mask]++] = e;
        }
    }
    for (int j = 1; j < digit_count; j++) {
        const uint64_t *src = dst;
        dst = other;
        other = (uint64_t *)src;
        offset = offsets[digits[j]];
        shift = RENDER_DIGIT_SHIFT(digits[j]);
        mask = RENDER_DIGIT_MASK(digits[j]);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t e = src[i];
            dst[offset[(e >> shift) & mask]++] = e;
        }
    }
}

uint32_t render_build_batches(const uint64_t *sorted, uint32_t n, const render_key_hist *hists, uint32_t hist_count,
                              render_batch *out, uint32_t capacity) {
    if (n == 0) return 0;
    uint32_t b = 0;
    uint32_t top = RENDER_ENTRY_DIGIT(sorted[0], 2);
    uint32_t top_count = 0;
    for (uint32_t w = 0; hists && w < hist_count; w++) top_count += hists[w].bins[2][top];
    if (hists && top_count == n) {
        /* The top digit (material's high bits, pipeline) is the same everywhere: every nonzero
         * bin of the middle digit (material's low bits, mesh) is one batch, in sorted order. */
        uint32_t first = 0;
        for (uint32_t bin = 0; bin <= RENDER_DIGIT_MASK(1); bin++) {
            uint32_t c = 0;
            for (uint32_t w = 0; w < hist_count; w++) c += hists[w].bins[1][bin];
            if (c == 0) continue;
            if (b < capacity)
                out[b] = (render_batch){.mesh = bin & 0xffu, .material = ((top & 0xffu) << 4 | bin >> 8) & 0xfffu,
                                        .first = first, .count = c};
            b++;
            first += c;
        }
        return b;
    }
    for (uint32_t i = 0; i < n; i++) { /* the general case: cut at every change of batch */
        if (i > 0 && RENDER_ENTRY_BATCH(sorted[i]) == RENDER_ENTRY_BATCH(sorted[i - 1])) continue;
        if (b > 0 && b <= capacity) out[b - 1].count = i - out[b - 1].first;
        if (b < capacity)
            out[b] = (render_batch){.mesh = RENDER_ENTRY_MESH(sorted[i]), .material = RENDER_ENTRY_MATERIAL(sorted[i]), .first = i};
        b++;
    }
    if (b <= capacity) out[b - 1].count = n - out[b - 1].first;
    return b;
}

aw_status render_prepare(aw_renderer *r) {
    uint64_t t0 = aw_time_ns();
    uint32_t piece_count = atomic_load_explicit(&r->piece_cursor, memory_order_relaxed);
    if (piece_count > r->piece_out_capacity) piece_count = r->piece_out_capacity;
    uint32_t culled = 0, skipped = 0;
    for (uint32_t w = 0; w < r->workers; w++) {
        culled += r->tally[w].culled;
        skipped += r->tally[w].skipped;
    }
    aw_status st = AW_OK;
    if (piece_count > r->piece_capacity) {
        uint32_t cap = piece_count + piece_count / 2 + 16;
        render_piece *p = aw_alloc(r->allocator, (size_t)cap * sizeof(render_piece), 64);
        if (!p) st = aw_error(AW_ERR_OUT_OF_MEMORY, "render: out of memory for %u pieces", piece_count);
        else {
            aw_free(r->allocator, r->pieces, (size_t)r->piece_capacity * sizeof(render_piece));
            r->pieces = p;
            r->piece_capacity = cap;
        }
    }
    uint32_t total = 0;
    for (uint32_t i = 0; i < piece_count; i++) total += r->piece_out[i].count;
    uint32_t extent = atomic_load_explicit(&r->output_cursor, memory_order_relaxed);
    r->extract_extent = extent < r->output_capacity ? extent : r->output_capacity;
    if (!st) st = ensure_sort_capacity(r, total);
    if (st) {
        r->prepared_count = 0;
        r->batch_count = 0;
        return st;
    }
    /* Pieces are numbered 0..N-1 by the scheduler, each run exactly once: place them by number. */
    for (uint32_t i = 0; i < piece_count; i++) r->pieces[i].count = UINT32_MAX;
    bool ordered = true;
    for (uint32_t i = 0; i < piece_count && ordered; i++) {
        uint32_t task = r->piece_out[i].task;
        if (task >= piece_count || r->pieces[task].count != UINT32_MAX) ordered = false;
        else r->pieces[task] = r->piece_out[i];
    }
    if (!ordered) /* not the scheduler's numbering (cannot happen today): completion order */
        memcpy(r->pieces, r->piece_out, (size_t)piece_count * sizeof(render_piece));
    /* Each piece's offset in the merged order (for the no-pass case). */
    uint32_t n = 0;
    for (uint32_t i = 0; i < piece_count; i++) {
        r->pieces[i].offset = n;
        n += r->pieces[i].count;
    }
    /* Large lists sort in parallel on the world's threads (one part each, at most four). */
    uint32_t parts = r->jobs && n >= RENDER_PARALLEL_SORT_MIN ? aw_jobs_thread_count(r->jobs) : 1;
    render_sort_entries(r->instance_keys, r->pieces, piece_count, r->hist, r->workers, n, r->keys, r->keys_tmp, r->jobs,
                        parts);

    uint32_t b = render_build_batches(r->keys, n, r->hist, r->workers, r->batches, r->batch_capacity);
    if (b > r->batch_capacity) {
        uint32_t cap = b + b / 2 + 16;
        st = grow(r->allocator, (void **)&r->batches, r->batch_capacity, cap, sizeof(render_batch));
        if (st) {
            r->prepared_count = 0;
            r->batch_count = 0;
            return st;
        }
        r->batch_capacity = cap;
        b = render_build_batches(r->keys, n, r->hist, r->workers, r->batches, r->batch_capacity);
    }
    uint64_t triangles = 0;
    for (uint32_t i = 0; i < b; i++)
        triangles += (uint64_t)r->batches[i].count * (r->geometry.meshes[r->batches[i].mesh].index_count / 3u);
    r->batch_count = b;
    r->prepared_count = n;
    uint64_t t1 = aw_time_ns();
    r->prepared.instances = n;
    r->prepared.batches = b;
    r->prepared.culled = culled;
    r->prepared.skipped = skipped;
    r->prepared.triangles = triangles;
    r->prepared.extract_ms = (double)(t0 - r->extract_start_ns) * 1e-6;
    r->prepared.sort_ms = (double)(t1 - t0) * 1e-6;
    return AW_OK;
}
