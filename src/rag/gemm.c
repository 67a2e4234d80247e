/* The encoder's matrix products: weights packed once at load into 32-column panels (float16 by
 * default, float32 on request), and kernels for C = [C +] A W + bias [, ReLU] with few to a few
 * hundred rows (AVX-512, AVX2+FMA+F16C, scalar), picked at run time, plus OpenBLAS on the plain
 * weights for CPUs without AVX2. Activations and sums are float32 throughout. */
#include "rag_internal.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define RAG_X86 1
#endif

/* ---------------------------------------------------------------- packing */

/* float32 -> float16, rounding to nearest even; |f| must be at most RAG_HALF_MAX. */
uint16_t rag_half_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax < 0x38800000u) /* below 2^-14: a subnormal half, in units of 2^-24 (scaling is exact) */
        return (uint16_t)(sign | (uint16_t)lrintf(fabsf(f) * 16777216.0f));
    uint32_t r = ax - (112u << 23); /* exponent bias 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1u); /* round the 13 dropped bits to nearest even */
    return (uint16_t)(sign | (uint16_t)(r >> 13));
}

float rag_half_to_float(uint16_t h) {
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float v;
    if (e == 0) {
        v = (float)m * 0x1p-24f;
    } else if (e == 31) {
        v = m ? NAN : INFINITY;
    } else {
        uint32_t x = (e + 112u) << 23 | m << 13;
        memcpy(&v, &x, sizeof v);
    }
    return h & 0x8000u ? -v : v;
}

void rag_pack(const float *w, uint32_t k, uint32_t n, void *dst, bool half) {
    for (uint32_t p = 0; p < n / RAG_PANEL; p++)
        for (uint32_t i = 0; i < k; i++) {
            const float *src = w + (size_t)i * n + (size_t)p * RAG_PANEL;
            size_t at = ((size_t)p * k + i) * RAG_PANEL;
            if (half)
                for (uint32_t j = 0; j < RAG_PANEL; j++)
                    ((uint16_t *)dst)[at + j] = rag_half_from_float(src[j]);
            else
                memcpy((float *)dst + at, src, RAG_PANEL * sizeof(float));
        }
}

uint16_t rag_bf16_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    x += 0x7fffu + ((x >> 16) & 1u); /* round the 16 dropped bits to nearest even */
    return (uint16_t)(x >> 16);
}

float rag_bf16_to_float(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void rag_pack_bf16(const float *w, uint32_t k, uint32_t n, uint16_t *dst) {
    for (uint32_t s = 0; s < n / 16; s++)
        for (uint32_t i = 0; i < k; i += 2)
            for (uint32_t j = 0; j < 16; j++) {
                size_t at = (((size_t)s * (k / 2) + i / 2) * 16 + j) * 2;
                dst[at] = rag_bf16_from_float(w[(size_t)i * n + s * 16 + j]);
                dst[at + 1] = rag_bf16_from_float(w[(size_t)(i + 1) * n + s * 16 + j]);
            }
}

/* A panel's first weight: panels are k x 32 elements of 2 (half) or 4 bytes. */
static const char *panel_at(const rag_packed *w, uint32_t p) {
    return (const char *)w->data + (size_t)p * w->k * RAG_PANEL * (w->half ? 2 : 4);
}

/* Splits m rows into blocks of at most `max` rows, as even as possible: 15 rows with 14 at most are
 * 8 + 7, not 14 + 1, so no block wastes a pass over the weights on one row. */
typedef struct row_blocks {
    uint32_t count, base, extra; /* `extra` blocks of base + 1 rows, then blocks of base rows */
} row_blocks;

static row_blocks split_rows(uint32_t m, uint32_t max) {
    uint32_t count = (m + max - 1) / max;
    return (row_blocks){count, m / count, m % count};
}

/* 0, 1, 2, ...: the depth indices of a dense product. */
static uint16_t iota[RAG_MAX_K];

static void init_iota(void) {
    for (uint32_t i = 0; i < RAG_MAX_K; i++) iota[i] = (uint16_t)i;
}

/* The depth indices where any of `rows` rows of a is nonzero, into list; returns how many. After a
 * ReLU most of a row is zero (92% of the FFN hidden in USE-lite), so a block of rows skips the
 * weights of the columns that are zero in all of them. Skipping exact zeros changes no sum. */
static uint32_t nonzero_columns(const float *a, uint32_t lda, uint32_t rows, uint32_t k, uint16_t *list) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < k; i++) {
        bool any = false;
        for (uint32_t r = 0; r < rows; r++) any |= a[(size_t)r * lda + i] != 0.0f;
        list[n] = (uint16_t)i;
        n += any;
    }
    return n;
}

/* Row blocks whose depth lists are made together, then run panel by panel. */
#define GROUP 4
typedef struct block_group {
    uint32_t count, r0[GROUP], rows[GROUP], nk[GROUP];
    const uint16_t *ks[GROUP];
    uint16_t list[GROUP][RAG_MAX_K];
} block_group;

/* Row blocks [b0, b0 + GROUP) of rb (fewer at the end), with their depth lists. */
static void group_init(block_group *g, row_blocks rb, uint32_t b0, const float *a, uint32_t lda, uint32_t k,
                       bool sparse) {
    g->count = rb.count - b0 < GROUP ? rb.count - b0 : GROUP;
    for (uint32_t i = 0; i < g->count; i++) {
        uint32_t b = b0 + i;
        g->r0[i] = b * rb.base + (b < rb.extra ? b : rb.extra);
        g->rows[i] = rb.base + (b < rb.extra);
        g->ks[i] = sparse ? g->list[i] : iota;
        g->nk[i] = sparse ? nonzero_columns(a + (size_t)g->r0[i] * lda, lda, g->rows[i], k, g->list[i]) : k;
    }
}

/* ---------------------------------------------------------------- scalar */

#define SCALAR_ROWS 8

static void gemm_scalar(uint32_t m, const float *a, uint32_t lda, const rag_packed *w, const float *bias,
                        float *c, uint32_t ldc, unsigned flags) {
    for (uint32_t p = 0; p < w->n / RAG_PANEL; p++) {
        const char *panel = panel_at(w, p);
        for (uint32_t r0 = 0; r0 < m; r0 += SCALAR_ROWS) {
            uint32_t rows = m - r0 < SCALAR_ROWS ? m - r0 : SCALAR_ROWS;
            float acc[SCALAR_ROWS][RAG_PANEL] = {{0}};
            for (uint32_t i = 0; i < w->k; i++) {
                float wi[RAG_PANEL]; /* one depth's 32 weights, widened once for the block's rows */
                for (uint32_t j = 0; j < RAG_PANEL; j++)
                    wi[j] = w->half ? rag_half_to_float(((const uint16_t *)panel)[(size_t)i * RAG_PANEL + j])
                                    : ((const float *)panel)[(size_t)i * RAG_PANEL + j];
                for (uint32_t r = 0; r < rows; r++) {
                    float ar = a[(size_t)(r0 + r) * lda + i];
                    for (uint32_t j = 0; j < RAG_PANEL; j++) acc[r][j] += ar * wi[j];
                }
            }
            for (uint32_t r = 0; r < rows; r++) {
                float *cr = c + (size_t)(r0 + r) * ldc + (size_t)p * RAG_PANEL;
                for (uint32_t j = 0; j < RAG_PANEL; j++) {
                    float v = acc[r][j] + (bias ? bias[p * RAG_PANEL + j] : 0.0f) +
                              (flags & RAG_GEMM_ACC ? cr[j] : 0.0f);
                    cr[j] = flags & RAG_GEMM_RELU && v < 0.0f ? 0.0f : v;
                }
            }
        }
    }
}

#ifdef RAG_X86
/* ---------------------------------------------------------------- AVX-512 */

/* The AVX-512 kernels work on slices of 16 columns (one zmm), half a panel: slice s of a packed
 * matrix starts at panel s / 2, column (s % 2) * 16, and steps RAG_PANEL elements per depth. A block
 * is R rows x C consecutive slices, R * C accumulators in registers over the whole depth; per depth
 * it widens C weight vectors and does R * C multiply-adds. C grows as R shrinks so that at least 8
 * independent sums hide the multiply-add latency: one row (the pooled products) runs 8 slices at
 * once, where a 32-column block kept 2 sums in flight and ran at a quarter of the rate.
 * Rows: at most 14 per block (28 accumulators). Measured on the 15-row products of the short
 * sentence (k 512, n 1536, weights in L3): 8 + 7 rows x 2 slices ran at 203-228 GFLOP/s, the
 * multiply-add peak of this core (~217-228 measured with a register-only loop), so widening
 * conversions and the weight stream are not the limit; one 15-row pass x 1 slice (one conversion
 * per 15 multiply-adds, each weight read once per call) ran at 166-200: with R row pointers the
 * compilers chain one address addition per row into each depth, and copying the rows depth-major
 * to avoid that costs the 10% it would save. */
#define AVX512_SLICE    16
#define AVX512_MAX_ROWS 14
/* Depths ahead that the half kernel prefetches: 2 KiB, one panel line per depth (measured: 0.68 ->
 * 0.65 ms best-of on the short sentence against no prefetch, within noise but never slower). */
#define PREFETCH_DEPTHS 32

/* Slices per block for R rows. Every product has an even number of slices (n is a multiple of 32),
 * so C = 2 always fits the remainder of a wider block. */
#define AVX512_SLICES(R) ((R) == 1 ? 8 : (R) <= 3 ? 4 : 2)

/* A block's sums out, slice by slice: plus the bias, plus C (RAG_GEMM_ACC), ReLU (RAG_GEMM_RELU). */
__attribute__((target("avx512f"), always_inline)) static inline void
avx512_store_block(const int R, const int C, __m512 (*acc)[8], uint32_t s0, const float *bias, float *c,
                   uint32_t ldc, unsigned flags) {
    for (int j = 0; j < C; j++) {
        const uint32_t col = (s0 + (uint32_t)j) * AVX512_SLICE;
        __m512 b = bias ? _mm512_loadu_ps(bias + col) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            float *cr = c + (size_t)r * ldc + col;
            __m512 v = _mm512_add_ps(acc[r][j], b);
            if (flags & RAG_GEMM_ACC) v = _mm512_add_ps(v, _mm512_loadu_ps(cr));
            if (flags & RAG_GEMM_RELU) v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_storeu_ps(cr, v);
        }
    }
}

/* D: the depths are all of them (ks[t] == t), so the list is not read. */
__attribute__((target("avx512f"), always_inline)) static inline void
avx512_block(const int R, const int C, const int H, const int D, const uint16_t *ks, uint32_t nk,
             const float *a, uint32_t lda, const void *w, uint32_t k, uint32_t s0, const float *bias,
             float *c, uint32_t ldc, unsigned flags) {
    __m512 acc[AVX512_MAX_ROWS][8];
    const char *wp[8];
    for (int j = 0; j < C; j++) {
        uint32_t s = s0 + (uint32_t)j;
        size_t at = (size_t)(s / 2) * k * RAG_PANEL + (s % 2) * AVX512_SLICE;
        wp[j] = H ? (const char *)((const uint16_t *)w + at) : (const char *)((const float *)w + at);
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < C; j++) acc[r][j] = _mm512_setzero_ps();
    for (uint32_t t = 0; t < nk; t++) {
        const size_t i = D ? t : ks[t];
        __m512 wv[8];
        for (int j = 0; j < C; j++) {
            if (H) { /* 16 halves, widened exactly */
                const uint16_t *q = (const uint16_t *)wp[j] + i * RAG_PANEL;
                if (j % 2 == 0) _mm_prefetch((const char *)(q + PREFETCH_DEPTHS * RAG_PANEL), _MM_HINT_T0);
                wv[j] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)q));
            } else {
                wv[j] = _mm512_loadu_ps((const float *)wp[j] + i * RAG_PANEL);
            }
        }
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[(size_t)r * lda + i]);
            for (int j = 0; j < C; j++) acc[r][j] = _mm512_fmadd_ps(av, wv[j], acc[r][j]);
        }
    }
    avx512_store_block(R, C, acc, s0, bias, c, ldc, flags);
}

/* R rows over slices [s0, s1): blocks of AVX512_SLICES(R) slices, then of 2 for the rest. */
#define AVX512_SPAN(R, H, D)                                                                                 \
    do {                                                                                                     \
        uint32_t s = s0;                                                                                     \
        for (; s + AVX512_SLICES(R) <= s1; s += AVX512_SLICES(R))                                            \
            avx512_block(R, AVX512_SLICES(R), H, D, ks, nk, a, lda, w, k, s, bias, c, ldc, flags);           \
        for (; s < s1; s += 2) avx512_block(R, 2, H, D, ks, nk, a, lda, w, k, s, bias, c, ldc, flags);       \
    } while (0)

#define AVX512_CASE(R)                                                                                       \
    case R:                                                                                                  \
        if (half && dense)                                                                                   \
            AVX512_SPAN(R, 1, 1);                                                                            \
        else if (half)                                                                                       \
            AVX512_SPAN(R, 1, 0);                                                                            \
        else                                                                                                 \
            AVX512_SPAN(R, 0, 0);                                                                            \
        break;

/* A block of `rows` rows of a times slices [s0, s1) (both even) of w over the depths ks[0..nk)
 * (dense: all k of them, in order). */
__attribute__((target("avx512f"))) static void avx512_rows(uint32_t rows, bool half, bool dense,
                                                           const uint16_t *ks, uint32_t nk, const float *a,
                                                           uint32_t lda, const void *w, uint32_t k,
                                                           uint32_t s0, uint32_t s1, const float *bias,
                                                           float *c, uint32_t ldc, unsigned flags) {
    switch (rows) {
        AVX512_CASE(1)
        AVX512_CASE(2)
        AVX512_CASE(3) AVX512_CASE(4) AVX512_CASE(5) AVX512_CASE(6) AVX512_CASE(7) AVX512_CASE(8)
            AVX512_CASE(9) AVX512_CASE(10) AVX512_CASE(11) AVX512_CASE(12) AVX512_CASE(13)
                AVX512_CASE(14) default : break;
    }
}

/* Slices per step of the loops below: 128 columns, whose weights (at most 384 KiB in halves) stay in
 * L2 while every row block of a group streams them. */
#define AVX512_CHUNK 8

/* Zero-skipping products (RAG_GEMM_SPARSE) go depth by depth over a block's nonzeros: each row's
 * depth list is short (8% of 1536 after USE-lite's ReLU) but the union over a block is not (55%
 * over 15 rows), so the register kernel above did seven times the products that are needed. Here
 * each depth used by any row widens its weights once and adds them into only the rows that use it;
 * the sums live in a [rows][128] block of the work area (L1) instead of registers. Every sum still
 * runs over its row's nonzero depths in order, from 0, with the same multiply-adds, then bias and
 * C: the same bits as the register kernel. */
#define SPARSE_ROWS     RAG_GEMM_SPARSE_ROWS
#define SPARSE_PREFETCH 8 /* depths ahead */
typedef struct sparse_block {
    uint32_t depths;               /* depths used by any row of the block */
    uint16_t depth[RAG_MAX_K];     /* ... ascending */
    uint32_t start[RAG_MAX_K + 1]; /* depth d's nonzeros: entries start[d] .. start[d + 1] - 1 */
} sparse_block;

/* The nonzeros of rows [0, rows) of a, depth by depth: value val[e] in row row[e]. Sixteen depths
 * at a time, a mask of each row's nonzeros first, so only the depths some row uses are visited
 * row by row (55% of them on the short sentence). NaN counts as nonzero, as in the kernels. */
__attribute__((target("avx512f"))) static void sparse_gather(const float *a, uint32_t lda, uint32_t rows,
                                                             uint32_t k, sparse_block *sb, float *val,
                                                             uint32_t *row) {
    uint32_t e = 0, d = 0;
    uint32_t nz[SPARSE_ROWS];
    for (uint32_t i0 = 0; i0 < k; i0 += 16) {
        const __mmask16 in = k - i0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i0)) - 1u);
        uint32_t any = 0;
        for (uint32_t r = 0; r < rows; r++) {
            __m512 v = _mm512_maskz_loadu_ps(in, a + (size_t)r * lda + i0);
            nz[r] = _mm512_mask_cmp_ps_mask(in, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
            any |= nz[r];
        }
        while (any) {
            const uint32_t b = (uint32_t)__builtin_ctz(any);
            any &= any - 1u;
            sb->depth[d] = (uint16_t)(i0 + b);
            sb->start[d++] = e;
            for (uint32_t r = 0; r < rows; r++) {
                val[e] = a[(size_t)r * lda + i0 + b];
                row[e] = r;
                e += (nz[r] >> b) & 1u;
            }
        }
    }
    sb->depths = d;
    sb->start[d] = e;
}

__attribute__((target("avx512f"), always_inline)) static inline void
avx512_sparse_chunk(const int C, const int H, const sparse_block *sb, const float *val, const uint32_t *row,
                    uint32_t rows, const void *w, uint32_t k, uint32_t s0, float *acc, const float *bias,
                    float *c, uint32_t ldc, unsigned flags) {
    const uint32_t width = (uint32_t)C * AVX512_SLICE;
    const char *wp[8];
    for (int j = 0; j < C; j++) {
        uint32_t s = s0 + (uint32_t)j;
        size_t at = (size_t)(s / 2) * k * RAG_PANEL + (s % 2) * AVX512_SLICE;
        wp[j] = H ? (const char *)((const uint16_t *)w + at) : (const char *)((const float *)w + at);
    }
    memset(acc, 0, (size_t)rows * width * sizeof *acc);
    for (uint32_t d = 0; d < sb->depths; d++) {
        const size_t i = sb->depth[d];
        /* The depths in use are scattered, which the hardware prefetcher does not follow. */
        const size_t ahead = sb->depth[d + SPARSE_PREFETCH < sb->depths ? d + SPARSE_PREFETCH : d];
        for (int j = 0; j < C; j += H ? 2 : 1) /* a line holds two slices of halves, one of floats */
            _mm_prefetch(H ? (const char *)((const uint16_t *)wp[j] + ahead * RAG_PANEL)
                           : (const char *)((const float *)wp[j] + ahead * RAG_PANEL),
                         _MM_HINT_T0);
        __m512 wv[8];
        for (int j = 0; j < C; j++)
            wv[j] = H ? _mm512_cvtph_ps(
                            _mm256_loadu_si256((const __m256i *)((const uint16_t *)wp[j] + i * RAG_PANEL)))
                      : _mm512_loadu_ps((const float *)wp[j] + i * RAG_PANEL);
        for (uint32_t e = sb->start[d]; e < sb->start[d + 1]; e++) {
            __m512 v = _mm512_set1_ps(val[e]);
            float *ar = acc + (size_t)row[e] * width;
            for (int j = 0; j < C; j++)
                _mm512_storeu_ps(ar + j * AVX512_SLICE,
                                 _mm512_fmadd_ps(v, wv[j], _mm512_loadu_ps(ar + j * AVX512_SLICE)));
        }
    }
    for (int j = 0; j < C; j++) {
        const uint32_t col = (s0 + (uint32_t)j) * AVX512_SLICE;
        __m512 b = bias ? _mm512_loadu_ps(bias + col) : _mm512_setzero_ps();
        for (uint32_t r = 0; r < rows; r++) {
            float *cr = c + (size_t)r * ldc + col;
            __m512 v = _mm512_add_ps(_mm512_loadu_ps(acc + (size_t)r * width + j * AVX512_SLICE), b);
            if (flags & RAG_GEMM_ACC) v = _mm512_add_ps(v, _mm512_loadu_ps(cr));
            if (flags & RAG_GEMM_RELU) v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_storeu_ps(cr, v);
        }
    }
}

__attribute__((target("avx512f"))) static void gemm_avx512_sparse(uint32_t m, const float *a, uint32_t lda,
                                                                  const rag_packed *w, const float *bias,
                                                                  float *c, uint32_t ldc, unsigned flags,
                                                                  float *work) {
    const uint32_t slices = w->n / AVX512_SLICE;
    sparse_block sb;
    float *val = work, *acc = work + (size_t)SPARSE_ROWS * RAG_MAX_K;
    uint32_t *row = (uint32_t *)(acc + (size_t)SPARSE_ROWS * AVX512_CHUNK * AVX512_SLICE);
    row_blocks rb = split_rows(m, SPARSE_ROWS);
    for (uint32_t b = 0; b < rb.count; b++) {
        uint32_t r0 = b * rb.base + (b < rb.extra ? b : rb.extra), rows = rb.base + (b < rb.extra);
        sparse_gather(a + (size_t)r0 * lda, lda, rows, w->k, &sb, val, row);
        float *cb = c + (size_t)r0 * ldc;
        uint32_t s0 = 0;
        for (; s0 + AVX512_CHUNK <= slices; s0 += AVX512_CHUNK)
            if (w->half)
                avx512_sparse_chunk(AVX512_CHUNK, 1, &sb, val, row, rows, w->data, w->k, s0, acc, bias, cb,
                                    ldc, flags);
            else
                avx512_sparse_chunk(AVX512_CHUNK, 0, &sb, val, row, rows, w->data, w->k, s0, acc, bias, cb,
                                    ldc, flags);
        for (; s0 < slices; s0 += 2)
            if (w->half)
                avx512_sparse_chunk(2, 1, &sb, val, row, rows, w->data, w->k, s0, acc, bias, cb, ldc, flags);
            else
                avx512_sparse_chunk(2, 0, &sb, val, row, rows, w->data, w->k, s0, acc, bias, cb, ldc, flags);
    }
}

__attribute__((target("avx512f"))) static void gemm_avx512(uint32_t m, const float *a, uint32_t lda,
                                                           const rag_packed *w, const float *bias, float *c,
                                                           uint32_t ldc, unsigned flags, float *work) {
    const bool sparse = flags & RAG_GEMM_SPARSE;
    if (sparse && m > 1) { /* one row: its depth list is the union, the register kernel does it */
        gemm_avx512_sparse(m, a, lda, w, bias, c, ldc, flags, work);
        return;
    }
    const uint32_t slices = w->n / AVX512_SLICE;
    row_blocks rb = split_rows(m, AVX512_MAX_ROWS);
    block_group g;
    for (uint32_t b0 = 0; b0 < rb.count; b0 += GROUP) {
        group_init(&g, rb, b0, a, lda, w->k, sparse);
        for (uint32_t s0 = 0; s0 < slices; s0 += AVX512_CHUNK) {
            uint32_t s1 = s0 + AVX512_CHUNK < slices ? s0 + AVX512_CHUNK : slices;
            for (uint32_t i = 0; i < g.count; i++)
                avx512_rows(g.rows[i], w->half, !sparse, g.ks[i], g.nk[i], a + (size_t)g.r0[i] * lda, lda,
                            w->data, w->k, s0, s1, bias, c + (size_t)g.r0[i] * ldc, ldc, flags);
        }
    }
}

/* ---------------------------------------------------------------- AVX-512 BF16 */

/* bfloat16 dot products (vdpbf16ps: per float32 lane, sum += a0 w0 + a1 w1 over a pair of depths,
 * twice the multiply-adds per instruction of a float32 multiply-add) for the products packed with
 * bf16 weights: the block's rows are rounded to bfloat16 (nearest even) once into the work area,
 * the weights were at load, and the sums stay float32. Same R x C blocks of 16-column slices as the
 * float kernels; a slice's weights are one contiguous stream of k / 2 pairs of 64 bytes. */
#define BF16_GROUP_ROWS (GROUP * AVX512_MAX_ROWS)
_Static_assert(BF16_GROUP_ROWS * RAG_MAX_K * sizeof(uint16_t) <= RAG_GEMM_WORK_FLOATS * sizeof(float),
               "a group's bfloat16 rows fit rag_gemm's work area");

__attribute__((target("avx512f,avx512bf16"), always_inline)) static inline void
bf16_block(const int R, const int C, const uint32_t *a, uint32_t lda2, const uint16_t *w, uint32_t k,
           uint32_t s0, const float *bias, float *c, uint32_t ldc, unsigned flags) {
    __m512 acc[AVX512_MAX_ROWS][8];
    const __m512i *wp[8];
    for (int j = 0; j < C; j++) wp[j] = (const __m512i *)(w + (size_t)(s0 + (uint32_t)j) * k * 16);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < C; j++) acc[r][j] = _mm512_setzero_ps();
    for (uint32_t t = 0; t < k / 2; t++) {
        __m512i wv[8];
        for (int j = 0; j < C; j++) wv[j] = _mm512_loadu_si512(wp[j] + t);
        for (int r = 0; r < R; r++) {
            __m512i av = _mm512_set1_epi32((int)a[(size_t)r * lda2 + t]);
            for (int j = 0; j < C; j++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], (__m512bh)av, (__m512bh)wv[j]);
        }
    }
    avx512_store_block(R, C, acc, s0, bias, c, ldc, flags);
}

#define BF16_CASE(R)                                                                                         \
    case R: {                                                                                                \
        uint32_t s = s0;                                                                                     \
        for (; s + AVX512_SLICES(R) <= s1; s += AVX512_SLICES(R))                                            \
            bf16_block(R, AVX512_SLICES(R), a, lda2, w, k, s, bias, c, ldc, flags);                          \
        for (; s < s1; s++) bf16_block(R, 1, a, lda2, w, k, s, bias, c, ldc, flags);                         \
    } break;

/* `rows` rows of bfloat16 pairs a (lda2 pairs apart) times slices [s0, s1) of w. */
__attribute__((target("avx512f,avx512bf16"))) static void bf16_rows(uint32_t rows, const uint32_t *a,
                                                                     uint32_t lda2, const uint16_t *w,
                                                                     uint32_t k, uint32_t s0, uint32_t s1,
                                                                     const float *bias, float *c,
                                                                     uint32_t ldc, unsigned flags) {
    switch (rows) {
        BF16_CASE(1)
        BF16_CASE(2)
        BF16_CASE(3) BF16_CASE(4) BF16_CASE(5) BF16_CASE(6) BF16_CASE(7) BF16_CASE(8) BF16_CASE(9)
            BF16_CASE(10) BF16_CASE(11) BF16_CASE(12) BF16_CASE(13) BF16_CASE(14) default : break;
    }
}

/* Rows of a [rows, k] (k a multiple of 32) rounded to bfloat16 into dst [rows, k]. */
__attribute__((target("avx512f,avx512bf16"))) static void bf16_round_rows(const float *a, uint32_t lda,
                                                                           uint32_t rows, uint32_t k,
                                                                           uint16_t *dst) {
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t i = 0; i < k; i += 32) {
            const float *ar = a + (size_t)r * lda + i;
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(ar + 16), _mm512_loadu_ps(ar));
            _mm512_storeu_si512(dst + (size_t)r * k + i, (__m512i)v);
        }
}

__attribute__((target("avx512f,avx512bf16"))) static void gemm_avx512_bf16(uint32_t m, const float *a,
                                                                            uint32_t lda, const rag_packed *w,
                                                                            const float *bias, float *c,
                                                                            uint32_t ldc, unsigned flags,
                                                                            float *work) {
    const uint32_t slices = w->n / AVX512_SLICE, k = w->k;
    uint16_t *abf = (uint16_t *)work; /* BF16_GROUP_ROWS x k halves: within RAG_GEMM_WORK_FLOATS */
    row_blocks rb = split_rows(m, AVX512_MAX_ROWS);
    for (uint32_t b0 = 0; b0 < rb.count; b0 += GROUP) {
        uint32_t count = rb.count - b0 < GROUP ? rb.count - b0 : GROUP, r0[GROUP], rows[GROUP];
        for (uint32_t i = 0; i < count; i++) {
            uint32_t b = b0 + i;
            r0[i] = b * rb.base + (b < rb.extra ? b : rb.extra);
            rows[i] = rb.base + (b < rb.extra);
        }
        bf16_round_rows(a + (size_t)r0[0] * lda, lda, r0[count - 1] + rows[count - 1] - r0[0], k, abf);
        for (uint32_t s0 = 0; s0 < slices; s0 += AVX512_CHUNK) {
            uint32_t s1 = s0 + AVX512_CHUNK < slices ? s0 + AVX512_CHUNK : slices;
            for (uint32_t i = 0; i < count; i++)
                bf16_rows(rows[i], (const uint32_t *)(abf + (size_t)(r0[i] - r0[0]) * k), k / 2, w->bf16, k,
                          s0, s1, bias, c + (size_t)r0[i] * ldc, ldc, flags);
        }
    }
}

/* ---------------------------------------------------------------- AVX2 + FMA */

/* R rows x 16 columns (two ymm per row): 12 accumulators of the 16 registers for R = 6. A 32-column
 * panel is done as two halves. */
#define AVX2_MAX_ROWS 6
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
avx2_block(const int R, const int H, const uint16_t *ks, uint32_t nk, const float *a, uint32_t lda,
           const char *panel, const float *bias, float *c, uint32_t ldc, unsigned flags) {
    __m256 acc[AVX2_MAX_ROWS][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (uint32_t t = 0; t < nk; t++) {
        const uint32_t i = ks[t];
        __m256 w0, w1;
        if (H) {
            const uint16_t *wp = (const uint16_t *)panel + (size_t)i * RAG_PANEL;
            w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)wp));
            w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wp + 8)));
        } else {
            const float *wp = (const float *)panel + (size_t)i * RAG_PANEL;
            w0 = _mm256_loadu_ps(wp);
            w1 = _mm256_loadu_ps(wp + 8);
        }
        for (int r = 0; r < R; r++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)r * lda + i);
            acc[r][0] = _mm256_fmadd_ps(av, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, w1, acc[r][1]);
        }
    }
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) {
        float *cr = c + (size_t)r * ldc;
        __m256 v0 = _mm256_add_ps(acc[r][0], b0), v1 = _mm256_add_ps(acc[r][1], b1);
        if (flags & RAG_GEMM_ACC) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
        }
        if (flags & RAG_GEMM_RELU) {
            v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
            v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
        }
        _mm256_storeu_ps(cr, v0);
        _mm256_storeu_ps(cr + 8, v1);
    }
}

#define AVX2_CASE(R)                                                                                         \
    case R:                                                                                                  \
        if (half)                                                                                            \
            avx2_block(R, 1, ks, nk, a, lda, panel, bias, c, ldc, flags);                                    \
        else                                                                                                 \
            avx2_block(R, 0, ks, nk, a, lda, panel, bias, c, ldc, flags);                                    \
        break;

__attribute__((target("avx2,fma,f16c"))) static void avx2_rows(uint32_t rows, bool half, const uint16_t *ks,
                                                               uint32_t nk, const float *a, uint32_t lda,
                                                               const char *panel, const float *bias, float *c,
                                                               uint32_t ldc, unsigned flags) {
    switch (rows) {
        AVX2_CASE(1) AVX2_CASE(2) AVX2_CASE(3) AVX2_CASE(4) AVX2_CASE(5) AVX2_CASE(6) default : break;
    }
}

__attribute__((target("avx2,fma,f16c"))) static void gemm_avx2(uint32_t m, const float *a, uint32_t lda,
                                                               const rag_packed *w, const float *bias,
                                                               float *c, uint32_t ldc, unsigned flags) {
    row_blocks rb = split_rows(m, AVX2_MAX_ROWS);
    block_group g;
    for (uint32_t b0 = 0; b0 < rb.count; b0 += GROUP) {
        group_init(&g, rb, b0, a, lda, w->k, flags & RAG_GEMM_SPARSE);
        for (uint32_t p = 0; p < w->n / RAG_PANEL; p++)
            for (uint32_t col = 0; col < RAG_PANEL; col += 16) {
                const char *panel = panel_at(w, p) + col * (w->half ? 2 : 4);
                const float *bp = bias ? bias + p * RAG_PANEL + col : NULL;
                for (uint32_t i = 0; i < g.count; i++)
                    avx2_rows(g.rows[i], w->half, g.ks[i], g.nk[i], a + (size_t)g.r0[i] * lda, lda, panel, bp,
                              c + (size_t)g.r0[i] * ldc + p * RAG_PANEL + col, ldc, flags);
            }
    }
}
#endif /* RAG_X86 */

/* ---------------------------------------------------------------- OpenBLAS */

static void gemm_blas(uint32_t m, const float *a, uint32_t lda, const rag_packed *w, const float *bias,
                      float *c, uint32_t ldc, unsigned flags) {
    const uint32_t n = w->n;
    for (uint32_t r = 0; r < m; r++) {
        float *cr = c + (size_t)r * ldc;
        if (!(flags & RAG_GEMM_ACC)) memset(cr, 0, n * sizeof *cr);
        if (bias)
            for (uint32_t j = 0; j < n; j++) cr[j] += bias[j];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)w->k, 1.0f, a, (int)lda,
                w->plain, (int)n, 1.0f, c, (int)ldc);
    if (flags & RAG_GEMM_RELU)
        for (uint32_t r = 0; r < m; r++)
            for (uint32_t j = 0; j < n; j++)
                c[(size_t)r * ldc + j] = c[(size_t)r * ldc + j] > 0.0f ? c[(size_t)r * ldc + j] : 0.0f;
}

/* ---------------------------------------------------------------- choice */

static const char *const kernel_names[RAG_KERNEL_COUNT] = {"auto",     "scalar", "avx2",
                                                            "avx512",   "openblas", "avx512bf16"};

const char *rag_kernel_name(rag_kernel k) {
    return k < RAG_KERNEL_COUNT ? kernel_names[k] : "?";
}

/* F16C (CPUID leaf 1, ECX bit 29): clang 14's __builtin_cpu_supports does not know it. */
bool rag_cpu_f16c(void) {
#ifdef RAG_X86
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
#else
    return false;
#endif
}

#ifdef RAG_X86
/* AVX512_BF16 (CPUID leaf 7 sub-leaf 1, EAX bit 5), likewise. */
static bool cpu_avx512bf16(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
}
#endif

bool rag_kernel_supported(rag_kernel k) {
    switch (k) {
    case RAG_KERNEL_SCALAR:
    case RAG_KERNEL_BLAS:
        return true;
#ifdef RAG_X86
    case RAG_KERNEL_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && rag_cpu_f16c();
    case RAG_KERNEL_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f");
    case RAG_KERNEL_AVX512_BF16:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && cpu_avx512bf16();
#endif
    default:
        return false;
    }
}

rag_kernel rag_kernel_pick(rag_kernel want) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_iota);
    if (want != RAG_KERNEL_AUTO && rag_kernel_supported(want)) return want;
    const char *env = getenv(AW_RAG_KERNEL_ENV);
    for (int k = RAG_KERNEL_SCALAR; env && k < RAG_KERNEL_COUNT; k++)
        if (strcmp(env, kernel_names[k]) == 0 && rag_kernel_supported((rag_kernel)k)) return (rag_kernel)k;
    if (rag_kernel_supported(RAG_KERNEL_AVX512_BF16)) return RAG_KERNEL_AVX512_BF16;
    if (rag_kernel_supported(RAG_KERNEL_AVX512)) return RAG_KERNEL_AVX512;
    if (rag_kernel_supported(RAG_KERNEL_AVX2)) return RAG_KERNEL_AVX2;
    return RAG_KERNEL_BLAS; /* its own kernels beat a scalar loop on anything older */
}

void rag_gemm(rag_kernel kernel, uint32_t m, const float *a, uint32_t lda, const rag_packed *w,
              const float *bias, float *c, uint32_t ldc, unsigned flags, float *work) {
    if (m == 0) return;
    switch (kernel) {
#ifdef RAG_X86
    case RAG_KERNEL_AVX512_BF16: /* the products packed as bfloat16; the others as AVX512 */
    case RAG_KERNEL_AVX512:
        if (kernel == RAG_KERNEL_AVX512_BF16 && w->bf16 && !(flags & RAG_GEMM_SPARSE))
            gemm_avx512_bf16(m, a, lda, w, bias, c, ldc, flags, work);
        else
            gemm_avx512(m, a, lda, w, bias, c, ldc, flags, work);
        break;
    case RAG_KERNEL_AVX2:
        gemm_avx2(m, a, lda, w, bias, c, ldc, flags);
        break;
#endif
    case RAG_KERNEL_BLAS:
        gemm_blas(m, a, lda, w, bias, c, ldc, flags);
        break;
    default:
        gemm_scalar(m, a, lda, w, bias, c, ldc, flags);
        break;
    }
}
