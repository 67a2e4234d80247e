/* The projection the memory's own store indexes: the principal directions of the memories'
 * embeddings (of their second moment, as the embeddings are compared by cosine), fitted once on a
 * sample by orthogonal iteration. The graph then walks on search_dim floats per vector instead of
 * MEM_DIM, and retrieval re-scores what it finds on the full embeddings. Deterministic: one thread,
 * a fixed seed, fixed summation orders. */
#include <math.h>
#include <string.h>

#include "memory_internal.h"
#include "rag_internal.h"

#define FIT_ITERATIONS 8u    /* orthogonal iteration steps from a random start */
#define FIT_CHUNK      1024u /* sample rows per product (the kernels' depth is at most RAG_MAX_K) */
#define FIT_SEED       0x70726f6aull

typedef struct fit_scratch {
    float *s, *rows, *rows_t, *packed, *q, *y, *q_packed;
    double *col;
} fit_scratch;

static void scratch_free(const aw_allocator *a, fit_scratch *f, uint32_t dim) {
    aw_free(a, f->s, sizeof(float) * MEM_DIM * MEM_DIM);
    aw_free(a, f->rows, sizeof(float) * FIT_CHUNK * MEM_DIM);
    aw_free(a, f->rows_t, sizeof(float) * FIT_CHUNK * MEM_DIM);
    aw_free(a, f->packed, sizeof(float) * FIT_CHUNK * MEM_DIM);
    aw_free(a, f->q, sizeof(float) * MEM_DIM * dim);
    aw_free(a, f->y, sizeof(float) * MEM_DIM * dim);
    aw_free(a, f->q_packed, sizeof(float) * MEM_DIM * dim);
    aw_free(a, f->col, sizeof(double) * MEM_DIM * dim);
}

static float gauss(aw_rng *rng) {
    float u = aw_rng_float(rng), v = aw_rng_float(rng);
    return sqrtf(-2.0f * logf(u > 1e-12f ? u : 1e-12f)) * cosf(6.2831853f * v);
}

/* The columns of q ([MEM_DIM][dim], row-major) made orthonormal by modified Gram-Schmidt, twice per
 * column, in double. A column the others already span (data of lower rank than dim) is replaced by a
 * random one, so the basis is always complete. */
static void orthonormalise(float *q, uint32_t dim, double *col, aw_rng *rng) {
    for (uint32_t p = 0; p < dim; p++)
        for (uint32_t a = 0; a < MEM_DIM; a++) col[(size_t)p * MEM_DIM + a] = q[(size_t)a * dim + p];
    for (uint32_t p = 0; p < dim; p++) {
        double *c = col + (size_t)p * MEM_DIM;
        for (;;) {
            double before = 0;
            for (uint32_t a = 0; a < MEM_DIM; a++) before += c[a] * c[a];
            for (int pass = 0; pass < 2; pass++)
                for (uint32_t o = 0; o < p; o++) {
                    const double *e = col + (size_t)o * MEM_DIM;
                    double d = 0;
                    for (uint32_t a = 0; a < MEM_DIM; a++) d += e[a] * c[a];
                    for (uint32_t a = 0; a < MEM_DIM; a++) c[a] -= d * e[a];
                }
            double n = 0;
            for (uint32_t a = 0; a < MEM_DIM; a++) n += c[a] * c[a];
            if (n > 1e-20 * before && n > 0) {
                double inv = 1.0 / sqrt(n);
                for (uint32_t a = 0; a < MEM_DIM; a++) c[a] *= inv;
                break;
            }
            for (uint32_t a = 0; a < MEM_DIM; a++) c[a] = gauss(rng); /* almost surely spans a new direction */
        }
    }
    for (uint32_t p = 0; p < dim; p++)
        for (uint32_t a = 0; a < MEM_DIM; a++) q[(size_t)a * dim + p] = (float)col[(size_t)p * MEM_DIM + a];
}

aw_status mem_projection_fit(mem_projection *p, const aw_allocator *a, uint32_t dim, const float *const *rows,
                             uint32_t n) {
    *p = (mem_projection){.dim = dim};
    fit_scratch f = {
        .s = aw_alloc(a, sizeof(float) * MEM_DIM * MEM_DIM, 64),
        .rows = aw_alloc(a, sizeof(float) * FIT_CHUNK * MEM_DIM, 64),
        .rows_t = aw_alloc(a, sizeof(float) * FIT_CHUNK * MEM_DIM, 64),
        .packed = aw_alloc(a, sizeof(float) * FIT_CHUNK * MEM_DIM, 64),
        .q = aw_alloc(a, sizeof(float) * MEM_DIM * dim, 64),
        .y = aw_alloc(a, sizeof(float) * MEM_DIM * dim, 64),
        .q_packed = aw_alloc(a, sizeof(float) * MEM_DIM * dim, 64),
        .col = aw_alloc(a, sizeof(double) * MEM_DIM * dim, 64),
    };
    p->work = aw_alloc(a, sizeof(float) * RAG_GEMM_WORK_FLOATS, 64);
    p->basis = aw_alloc(a, sizeof(float) * MEM_DIM * dim, 64);
    p->packed = aw_alloc(a, sizeof(float) * MEM_DIM * dim, 64);
    if (!f.s || !f.rows || !f.rows_t || !f.packed || !f.q || !f.y || !f.q_packed || !f.col || !p->work || !p->basis ||
        !p->packed) {
        scratch_free(a, &f, dim);
        mem_projection_free(p, a);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to fit the search projection");
    }
    p->kernel = rag_kernel_pick(RAG_KERNEL_AUTO);

    /* The second moment S = sum of x x^T over the sample, FIT_CHUNK rows per product. */
    for (uint32_t b = 0; b < n; b += FIT_CHUNK) {
        uint32_t r = n - b < FIT_CHUNK ? n - b : FIT_CHUNK;
        for (uint32_t i = 0; i < r; i++) memcpy(f.rows + (size_t)i * MEM_DIM, rows[b + i], sizeof(float) * MEM_DIM);
        for (uint32_t i = 0; i < r; i++)
            for (uint32_t d = 0; d < MEM_DIM; d++) f.rows_t[(size_t)d * r + i] = f.rows[(size_t)i * MEM_DIM + d];
        rag_pack(f.rows, r, MEM_DIM, f.packed, false);
        rag_packed w = {.plain = f.rows, .data = f.packed, .k = r, .n = MEM_DIM};
        rag_gemm(p->kernel, MEM_DIM, f.rows_t, r, &w, NULL, f.s, MEM_DIM, b ? RAG_GEMM_ACC : 0, p->work);
    }

    /* Orthogonal iteration: Q <- orth(S Q). The spectrum of real embeddings falls steeply, so a few
     * steps settle the leading subspace, which is all a search needs (not each eigenvector). */
    aw_rng rng;
    aw_rng_seed(&rng, FIT_SEED);
    for (size_t i = 0; i < (size_t)MEM_DIM * dim; i++) f.q[i] = gauss(&rng);
    orthonormalise(f.q, dim, f.col, &rng);
    for (uint32_t it = 0; it < FIT_ITERATIONS; it++) {
        rag_pack(f.q, MEM_DIM, dim, f.q_packed, false);
        rag_packed w = {.plain = f.q, .data = f.q_packed, .k = MEM_DIM, .n = dim};
        rag_gemm(p->kernel, MEM_DIM, f.s, MEM_DIM, &w, NULL, f.y, dim, 0, p->work);
        float *t = f.q;
        f.q = f.y, f.y = t;
        orthonormalise(f.q, dim, f.col, &rng);
    }
    memcpy(p->basis, f.q, sizeof(float) * MEM_DIM * dim);
    rag_pack(p->basis, MEM_DIM, dim, p->packed, false);

    /* How much of the sample's energy the directions keep: trace(Q^T S Q) / trace(S). */
    rag_packed w = {.plain = p->basis, .data = p->packed, .k = MEM_DIM, .n = dim};
    rag_gemm(p->kernel, MEM_DIM, f.s, MEM_DIM, &w, NULL, f.y, dim, 0, p->work);
    double kept = 0, total = 0;
    for (uint32_t d = 0; d < MEM_DIM; d++) total += f.s[(size_t)d * MEM_DIM + d];
    for (size_t i = 0; i < (size_t)MEM_DIM * dim; i++) kept += (double)p->basis[i] * f.y[i];
    p->energy = total > 0 ? (float)(kept / total) : 0.0f;
    scratch_free(a, &f, dim);
    return AW_OK;
}

void mem_projection_free(mem_projection *p, const aw_allocator *a) {
    aw_free(a, p->work, sizeof(float) * RAG_GEMM_WORK_FLOATS);
    aw_free(a, p->basis, sizeof(float) * MEM_DIM * p->dim);
    aw_free(a, p->packed, sizeof(float) * MEM_DIM * p->dim);
    *p = (mem_projection){0};
}

void mem_project_batch(mem_projection *p, const float *in, uint32_t n, float *out) {
    rag_packed w = {.plain = p->basis, .data = p->packed, .k = MEM_DIM, .n = p->dim};
    rag_gemm(p->kernel, n, in, MEM_DIM, &w, NULL, out, p->dim, 0, p->work);
}

void mem_project_one(const mem_projection *p, const float *in, float *out) {
    uint32_t dim = p->dim;
    for (uint32_t k = 0; k < dim; k++) out[k] = 0.0f;
    for (uint32_t a = 0; a < MEM_DIM; a++) {
        const float *row = p->basis + (size_t)a * dim;
        float x = in[a];
        for (uint32_t k = 0; k < dim; k++) out[k] += x * row[k];
    }
}
