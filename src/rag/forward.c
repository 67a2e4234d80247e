/* USE-lite's forward pass, op for op as its TF.js graph computes it, over several texts packed back
 * to back. The graph pads a batch to its longest text and masks the padding; here each text's
 * tokens are contiguous rows and attention stays within a text's rows, which is the same result
 * without computing padded rows. The per-token products (q/k/v, output, residual dense, FFN) run on
 * all texts' rows at once (gemm.c), with bias, residual add and ReLU fused into them. The last
 * layer's second FFN product is linear and only its mean over the text is used, so it runs once
 * on the mean FFN hidden rather than once per token (17% of a short text's arithmetic). */
#include "rag_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

size_t rag_pass_floats(uint32_t cap_tokens, uint32_t cap_texts) {
    /* Every array rounded to 16 floats (64 bytes) so each starts on a cache line. */
#define R16(n) (((size_t)(n) + 15) / 16 * 16)
    size_t t = cap_tokens;
    return R16(t * RAG_D_EMB) + 2 * R16(t * RAG_D_MODEL) + 2 * R16(t * 3 * RAG_D_MODEL) +
           R16(t * RAG_D_MODEL) + R16((size_t)AW_EMBED_MAX_TOKENS * AW_EMBED_MAX_TOKENS) +
           R16((size_t)cap_texts * RAG_D_MODEL) + R16((size_t)cap_texts * RAG_D_FF) +
           R16(RAG_GEMM_WORK_FLOATS);
}

void rag_pass_init(rag_pass *p, float *mem, uint32_t cap_tokens, uint32_t cap_texts) {
    size_t t = cap_tokens;
    p->cap_tokens = cap_tokens;
    p->cap_texts = cap_texts;
    p->x = mem;
    mem += R16(t * RAG_D_EMB);
    p->h = mem;
    mem += R16(t * RAG_D_MODEL);
    p->y = mem;
    mem += R16(t * RAG_D_MODEL);
    p->qkv = mem;
    mem += R16(t * 3 * RAG_D_MODEL);
    p->f = mem;
    mem += R16(t * 3 * RAG_D_MODEL);
    p->att = mem;
    mem += R16(t * RAG_D_MODEL);
    p->scores = mem;
    mem += R16((size_t)AW_EMBED_MAX_TOKENS * AW_EMBED_MAX_TOKENS);
    p->pooled = mem;
    mem += R16((size_t)cap_texts * RAG_D_MODEL);
    p->pooled_f = mem;
    mem += R16((size_t)cap_texts * RAG_D_FF);
    p->work = mem;
#undef R16
}

void rag_timing_signal(const rag_model *m, float *out) {
    const uint32_t half = RAG_D_EMB / 2;
    for (uint32_t pos = 0; pos < m->max_tokens; pos++) {
        float *row = out + (size_t)pos * RAG_D_EMB;
        for (uint32_t i = 0; i < half; i++) {
            float a = (float)pos * m->inv_timescales[i]; /* float32, as the graph multiplies */
            row[i] = sinf(a);
            row[half + i] = cosf(a);
        }
    }
}

/* The pass's loops are inlined into one function per instruction set (rag_forward below) so that
 * with the AVX-512 products they also run 16 lanes wide; each loop keeps its order of operations,
 * so both builds compute the same values. */
#define INLINE static inline __attribute__((always_inline))
/* clang would fuse a * b + c in the AVX-512 build (which has FMA); gcc's C11 mode does not. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Sums of n floats (a multiple of 16) in 16 lanes: without -ffast-math the compiler keeps a single
 * running sum scalar, and the layer norms were 5% of a batch's time. */
#define LANES 16
INLINE float sum_lanes(const float *x, uint32_t n) {
    float acc[LANES] = {0};
    for (uint32_t i = 0; i < n; i += LANES)
        for (uint32_t j = 0; j < LANES; j++) acc[j] += x[i + j];
    float s = 0.0f;
    for (uint32_t j = 0; j < LANES; j++) s += acc[j];
    return s;
}

INLINE float sum_sq_dev_lanes(const float *x, uint32_t n, float mean) {
    float acc[LANES] = {0};
    for (uint32_t i = 0; i < n; i += LANES)
        for (uint32_t j = 0; j < LANES; j++) {
            float d = x[i + j] - mean;
            acc[j] += d * d;
        }
    float s = 0.0f;
    for (uint32_t j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* TF's layer_norm: mean, centred values, mean of their squares, rsqrt(var + eps), (g * r) * d + b. */
INLINE void layer_norm(const float *x, float *y, uint32_t rows, uint32_t n, const float *g, const float *b,
                       float eps) {
    for (uint32_t r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        float mean = sum_lanes(xr, n) / (float)n;
        float inv = 1.0f / sqrtf(sum_sq_dev_lanes(xr, n, mean) / (float)n + eps);
        for (uint32_t i = 0; i < n; i++) yr[i] = (g[i] * inv) * (xr[i] - mean) + b[i];
    }
}

INLINE void softmax_rows(float *s, uint32_t rows, uint32_t n) {
    for (uint32_t r = 0; r < rows; r++) {
        float *row = s + (size_t)r * n;
        float mx = row[0];
        for (uint32_t i = 1; i < n; i++) mx = row[i] > mx ? row[i] : mx;
        float sum = 0.0f;
        for (uint32_t i = 0; i < n; i++) {
            row[i] = expf(row[i] - mx);
            sum += row[i];
        }
        float inv = 1.0f / sum;
        for (uint32_t i = 0; i < n; i++) row[i] *= inv;
    }
}

/* q . k over one head (dh a multiple of 16), in 16 lanes so the compiler vectorises it. */
INLINE float dot_lanes(const float *a, const float *b, uint32_t n) {
    float acc[LANES] = {0};
    for (uint32_t i = 0; i < n; i += LANES)
        for (uint32_t j = 0; j < LANES; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (uint32_t j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* Texts up to this many tokens get their attention from the loops below; longer ones from sgemm,
 * which is faster once the n x n products are big enough to pay for its call and packing. */
#define SMALL_ATTENTION 32

/* Multi-head self-attention of every text over its own rows: qkv [T, 3d] -> att [T, d]. */
INLINE void attention(const rag_layer *l, rag_pass *p, const uint32_t *lens, uint32_t texts) {
    const uint32_t d = l->d_in, dh = d / RAG_HEADS, ld = 3 * d;
    uint32_t r0 = 0;
    for (uint32_t s = 0; s < texts; s++) {
        uint32_t n = lens[s];
        for (uint32_t h = 0; h < RAG_HEADS && n; h++) {
            const float *q = p->qkv + (size_t)r0 * ld + h * dh, *k = q + d, *v = q + 2 * d;
            float *o = p->att + (size_t)r0 * d + h * dh;
            if (n > SMALL_ATTENTION) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)dh, l->att_scale, q,
                            (int)ld, k, (int)ld, 0.0f, p->scores, (int)n);
                softmax_rows(p->scores, n, n);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)dh, (int)n, 1.0f,
                            p->scores, (int)n, v, (int)ld, 0.0f, o, (int)d);
                continue;
            }
            for (uint32_t i = 0; i < n; i++) {
                float *row = p->scores + (size_t)i * n;
                for (uint32_t j = 0; j < n; j++)
                    row[j] = l->att_scale * dot_lanes(q + (size_t)i * ld, k + (size_t)j * ld, dh);
            }
            softmax_rows(p->scores, n, n);
            for (uint32_t i = 0; i < n; i++) { /* o_i = sum_j p_ij v_j, 16 columns at a time in registers */
                const float *row = p->scores + (size_t)i * n;
                float *oi = o + (size_t)i * d;
                for (uint32_t c0 = 0; c0 < dh; c0 += LANES) {
                    float acc[LANES] = {0};
                    for (uint32_t j = 0; j < n; j++) {
                        const float *vj = v + (size_t)j * ld + c0;
                        for (uint32_t c = 0; c < LANES; c++) acc[c] += row[j] * vj[c];
                    }
                    memcpy(oi + c0, acc, sizeof acc);
                }
            }
        }
        r0 += n;
    }
}

/* One transformer layer: in [T, d_in] (layer 0: the embedded input or NULL; layer 1: p->h) to p->h.
 * With `last`, the second FFN product is left to rag_forward's pooling: p->f holds the hidden. */
INLINE void layer(const rag_layer *l, const rag_model *m, rag_pass *p, const float *in, uint32_t rows,
                  const uint32_t *lens, uint32_t texts, bool last) {
    const uint32_t d = l->d_in;
    const rag_kernel kn = m->kernel;
    if (in) { /* else p->h and p->qkv already hold them (layer 0 from its input tables) */
        layer_norm(in, p->y, rows, d, l->ln_att_g, l->ln_att_b, m->ln_eps);
        if (l->res_w) /* layer 0 widens its residual 256 -> 512 with a dense layer */
            rag_gemm(kn, rows, in, d, &l->res, l->res_b, p->h, RAG_D_MODEL, 0, p->work);
        rag_gemm(kn, rows, p->y, d, &l->qkv, l->qkv_b, p->qkv, 3 * d, 0, p->work);
    }
    attention(l, p, lens, texts);
    rag_gemm(kn, rows, p->att, d, &l->out, l->out_b, p->h, RAG_D_MODEL, RAG_GEMM_ACC, p->work);

    layer_norm(p->h, p->y, rows, RAG_D_MODEL, l->ln_ffn_g, l->ln_ffn_b, m->ln_eps);
    rag_gemm(kn, rows, p->y, RAG_D_MODEL, &l->ffn1, l->ffn1_b, p->f, RAG_D_FF, RAG_GEMM_RELU, p->work);
    if (!last)
        rag_gemm(kn, rows, p->f, RAG_D_FF, &l->ffn2, l->ffn2_b, p->h, RAG_D_MODEL,
                 RAG_GEMM_ACC | RAG_GEMM_SPARSE, p->work);
}

/* Means of each text's rows of x [T, n] into out [texts, n] (a text with no rows: zeros). */
INLINE void mean_rows(const float *x, uint32_t n, const uint32_t *lens, uint32_t texts, float *out) {
    uint32_t r0 = 0;
    for (uint32_t s = 0; s < texts; s++) {
        float *o = out + (size_t)s * n;
        memset(o, 0, n * sizeof *o);
        for (uint32_t i = 0; i < lens[s]; i++) {
            const float *xr = x + (size_t)(r0 + i) * n;
            for (uint32_t j = 0; j < n; j++) o[j] += xr[j];
        }
        float inv = 1.0f / (float)(lens[s] ? lens[s] : 1);
        for (uint32_t j = 0; j < n; j++) o[j] *= inv;
        r0 += lens[s];
    }
}

INLINE void forward(const rag_model *m, const float *timing, rag_pass *p, const int32_t *ids,
                    const uint32_t *lens, uint32_t texts, float *out) {
    /* Input: the graph adds the embedding to (embedding + timing signal), so each token enters as
     * e + (e + t). */
    const bool folded = m->inputs.piece_qkv != NULL;
    uint32_t rows = 0;
    for (uint32_t s = 0; s < texts; s++) {
        for (uint32_t i = 0; i < lens[s]; i++, rows++) {
            if (folded) {
                if (i + 1 < lens[s]) rag_inputs_prefetch(m, ids[rows + 1], i + 1); /* tables: 40 MiB */
                rag_inputs_row(m, timing, ids[rows], i, p->qkv + (size_t)rows * 3 * RAG_D_EMB,
                               p->h + (size_t)rows * RAG_D_MODEL);
                continue;
            }
            const float *e = m->embeddings + (size_t)ids[rows] * RAG_D_EMB;
            const float *t = timing + (size_t)i * RAG_D_EMB;
            float *x = p->x + (size_t)rows * RAG_D_EMB;
            for (uint32_t j = 0; j < RAG_D_EMB; j++) x[j] = e[j] + (e[j] + t[j]);
        }
    }
    if (rows) {
        layer(&m->layers[0], m, p, folded ? NULL : p->x, rows, lens, texts, false);
        layer(&m->layers[1], m, p, p->h, rows, lens, texts, true);
    }

    /* Mean pooling, with the last FFN product on the mean: mean(h + f W + b) = mean(h) + mean(f) W + b.
     * A text with no tokens pools to zeros, as the graph's masked mean does. */
    const rag_layer *last = &m->layers[RAG_LAYERS - 1];
    mean_rows(p->h, RAG_D_MODEL, lens, texts, p->pooled);
    mean_rows(p->f, RAG_D_FF, lens, texts, p->pooled_f);
    rag_gemm(m->kernel, texts, p->pooled_f, RAG_D_FF, &last->ffn2, last->ffn2_b, p->pooled, RAG_D_MODEL,
             RAG_GEMM_ACC | RAG_GEMM_SPARSE, p->work);
    for (uint32_t s = 0; s < texts; s++)
        if (!lens[s]) memset(p->pooled + (size_t)s * RAG_D_MODEL, 0, RAG_D_MODEL * sizeof *p->pooled);

    /* tanh layer, L2 normalisation. */
    rag_gemm(m->kernel, texts, p->pooled, RAG_D_MODEL, &m->tanh, m->tanh_b, out, RAG_D_MODEL, 0, p->work);
    for (uint32_t s = 0; s < texts; s++) {
        float *o = out + (size_t)s * RAG_D_MODEL;
        float sq = 0.0f;
        for (uint32_t j = 0; j < RAG_D_MODEL; j++) {
            o[j] = tanhf(o[j]);
            sq += o[j] * o[j];
        }
        float inv = 1.0f / sqrtf(sq > m->l2_eps ? sq : m->l2_eps);
        for (uint32_t j = 0; j < RAG_D_MODEL; j++) o[j] *= inv;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void forward_avx512(const rag_model *m, const float *timing,
                                                              rag_pass *p, const int32_t *ids,
                                                              const uint32_t *lens, uint32_t texts,
                                                              float *out) {
    forward(m, timing, p, ids, lens, texts, out);
}
#endif

static void forward_generic(const rag_model *m, const float *timing, rag_pass *p, const int32_t *ids,
                            const uint32_t *lens, uint32_t texts, float *out) {
    forward(m, timing, p, ids, lens, texts, out);
}

void rag_forward(const rag_model *m, const float *timing, rag_pass *p, const int32_t *ids,
                 const uint32_t *lens, uint32_t texts, float *out) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (m->kernel == RAG_KERNEL_AVX512 || m->kernel == RAG_KERNEL_AVX512_BF16) {
        forward_avx512(m, timing, p, ids, lens, texts, out);
        return;
    }
#endif
    forward_generic(m, timing, p, ids, lens, texts, out);
}
