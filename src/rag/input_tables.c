/* Layer 0's two input products folded into tables at load. A token enters as x = 2e + t (piece
 * embedding e, timing signal t of its position); layer 0 computes LN(x) W_qkv and x W_res. Both are
 * linear in e and t but for the layer norm's per-row mean mu and scale s = 1/sqrt(var + eps):
 *   LN(x) W_qkv = s ((g.x) W_qkv - mu (g W_qkv)) + b W_qkv,   (g.x) W = 2 (g.e) W + (g.t) W,
 *   x W_res     = 2 e W_res + t W_res,
 * so per piece (g.e) W_qkv and e W_res, and per position (g.t) W_qkv and t W_res, are computed once
 * (with OpenBLAS, in float32 from the float32 weights) and a token's q/k/v and residual rows are a
 * few vector adds: 8% of a token's arithmetic goes away. */
#include "rag_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define CHUNK 512u /* embedding rows scaled per sgemm call (bounds the temporary) */
#define D_QKV (3 * RAG_D_EMB)

/* dst[rows, n] = (g . src)[rows, 256] W[256, n] (g NULL: no scaling), through tmp [CHUNK, 256]. */
static void scaled_product(const float *src, uint32_t rows, const float *g, const float *w, uint32_t n,
                           float *tmp, float *dst) {
    for (uint32_t r0 = 0; r0 < rows; r0 += CHUNK) {
        uint32_t m = rows - r0 < CHUNK ? rows - r0 : CHUNK;
        const float *a = src + (size_t)r0 * RAG_D_EMB;
        if (g) {
            for (uint32_t r = 0; r < m; r++)
                for (uint32_t i = 0; i < RAG_D_EMB; i++)
                    tmp[(size_t)r * RAG_D_EMB + i] = g[i] * a[(size_t)r * RAG_D_EMB + i];
            a = tmp;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, RAG_D_EMB, 1.0f, a, RAG_D_EMB,
                    w, (int)n, 0.0f, dst + (size_t)r0 * n, (int)n);
    }
}

static size_t table_floats(const rag_model *m) {
    size_t pieces = m->embedding_rows, pos = m->max_tokens;
    return pieces * (D_QKV + RAG_D_MODEL) + pos * (D_QKV + RAG_D_MODEL) + 2 * D_QKV +
           (size_t)CHUNK * RAG_D_EMB;
}

aw_status rag_model_fold_inputs(rag_model *m, const aw_allocator *a, const float *timing) {
    const rag_layer *l = &m->layers[0];
    size_t floats = table_floats(m);
    float *mem = aw_alloc(a, floats * sizeof *mem, 64);
    if (!mem) return aw_error(AW_ERR_OUT_OF_MEMORY, "rag: no memory for layer 0's input tables");
    rag_inputs *t = &m->inputs;
    t->piece_qkv = mem;
    t->piece_res = t->piece_qkv + (size_t)m->embedding_rows * D_QKV;
    t->pos_qkv = t->piece_res + (size_t)m->embedding_rows * RAG_D_MODEL;
    t->pos_res = t->pos_qkv + (size_t)m->max_tokens * D_QKV;
    t->g_qkv = t->pos_res + (size_t)m->max_tokens * RAG_D_MODEL;
    t->b_qkv = t->g_qkv + D_QKV;
    float *tmp = t->b_qkv + D_QKV;

    scaled_product(m->embeddings, m->embedding_rows, l->ln_att_g, l->qkv_w, D_QKV, tmp, t->piece_qkv);
    scaled_product(m->embeddings, m->embedding_rows, NULL, l->res_w, RAG_D_MODEL, tmp, t->piece_res);
    scaled_product(timing, m->max_tokens, l->ln_att_g, l->qkv_w, D_QKV, tmp, t->pos_qkv);
    scaled_product(timing, m->max_tokens, NULL, l->res_w, RAG_D_MODEL, tmp, t->pos_res);
    for (uint32_t p = 0; p < m->max_tokens; p++) /* the residual's bias rides on the position rows */
        for (uint32_t j = 0; j < RAG_D_MODEL; j++) t->pos_res[(size_t)p * RAG_D_MODEL + j] += l->res_b[j];
    scaled_product(l->ln_att_g, 1, NULL, l->qkv_w, D_QKV, tmp, t->g_qkv);
    scaled_product(l->ln_att_b, 1, NULL, l->qkv_w, D_QKV, tmp, t->b_qkv);
    for (uint32_t j = 0; j < D_QKV; j++) t->b_qkv[j] += l->qkv_b[j];
    t->floats = floats;
    return AW_OK;
}

void rag_model_unfold_inputs(rag_model *m, const aw_allocator *a) {
    aw_free(a, m->inputs.piece_qkv, m->inputs.floats * sizeof(float));
    m->inputs = (rag_inputs){0};
}

#define INLINE static inline __attribute__((always_inline))
/* clang would fuse a * b + c in the AVX-512 build (which has FMA); gcc's C11 mode does not. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Sums of 256 floats in 16 lanes (vectorised without -ffast-math). */
INLINE float sum256(const float *v) {
    float acc[16] = {0};
    for (uint32_t i = 0; i < RAG_D_EMB; i += 16)
        for (uint32_t j = 0; j < 16; j++) acc[j] += v[i + j];
    float s = 0.0f;
    for (uint32_t j = 0; j < 16; j++) s += acc[j];
    return s;
}

/* Built twice below, for baseline x86-64 and for AVX-512 (16 lanes, with the AVX-512 kernels): every
 * loop is element by element or summed in the same 16 lanes, so both give the same bits. */
INLINE void inputs_row(const rag_model *m, const float *timing, int32_t id, uint32_t pos, float *qkv,
                       float *res) {
    const rag_inputs *t = &m->inputs;
    const float *e = m->embeddings + (size_t)id * RAG_D_EMB, *ts = timing + (size_t)pos * RAG_D_EMB;
    float x[RAG_D_EMB]; /* only for the layer norm's mean and scale, computed as the graph does */
    for (uint32_t j = 0; j < RAG_D_EMB; j++) x[j] = e[j] + (e[j] + ts[j]);
    float mean = sum256(x) / (float)RAG_D_EMB;
    float dev[RAG_D_EMB];
    for (uint32_t j = 0; j < RAG_D_EMB; j++) dev[j] = (x[j] - mean) * (x[j] - mean);
    float s = 1.0f / sqrtf(sum256(dev) / (float)RAG_D_EMB + m->ln_eps);

    const float *pq = t->piece_qkv + (size_t)id * D_QKV, *tq = t->pos_qkv + (size_t)pos * D_QKV;
    for (uint32_t j = 0; j < D_QKV; j++)
        qkv[j] = s * ((pq[j] + pq[j]) + tq[j] - mean * t->g_qkv[j]) + t->b_qkv[j];
    const float *pr = t->piece_res + (size_t)id * RAG_D_MODEL, *tr = t->pos_res + (size_t)pos * RAG_D_MODEL;
    for (uint32_t j = 0; j < RAG_D_MODEL; j++) res[j] = (pr[j] + pr[j]) + tr[j];
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void inputs_row_avx512(const rag_model *m, const float *timing,
                                                                 int32_t id, uint32_t pos, float *qkv,
                                                                 float *res) {
    inputs_row(m, timing, id, pos, qkv, res);
}
#endif

void rag_inputs_row(const rag_model *m, const float *timing, int32_t id, uint32_t pos, float *qkv,
                    float *res) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (m->kernel == RAG_KERNEL_AVX512 || m->kernel == RAG_KERNEL_AVX512_BF16) {
        inputs_row_avx512(m, timing, id, pos, qkv, res);
        return;
    }
#endif
    inputs_row(m, timing, id, pos, qkv, res);
}

void rag_inputs_prefetch(const rag_model *m, int32_t id, uint32_t pos) {
    const rag_inputs *t = &m->inputs;
    const char *rows[4] = {(const char *)(t->piece_qkv + (size_t)id * D_QKV),
                           (const char *)(t->pos_qkv + (size_t)pos * D_QKV),
                           (const char *)(t->piece_res + (size_t)id * RAG_D_MODEL),
                           (const char *)(t->pos_res + (size_t)pos * RAG_D_MODEL)};
    for (int r = 0; r < 4; r++)
        for (size_t at = 0; at < (r < 2 ? D_QKV : RAG_D_MODEL) * sizeof(float); at += 64)
            __builtin_prefetch(rows[r] + at);
}
