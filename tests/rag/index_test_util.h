/* Shared by the vector index tests: random data and the exact brute-force reference (in double)
 * that the index's results are checked against. */
#ifndef AW_TESTS_INDEX_TEST_UTIL_H
#define AW_TESTS_INDEX_TEST_UTIL_H

#include "aw/rag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Vectors around a few random centres, so neighbourhoods have structure as real embeddings do. */
static inline void idx_test_clustered(aw_rng *rng, float *out, uint32_t n, uint32_t dim, uint32_t clusters) {
    float *centres = malloc((size_t)clusters * dim * sizeof(float));
    for (uint32_t i = 0; i < clusters * dim; i++) centres[i] = aw_rng_float_range(rng, -1.0f, 1.0f);
    for (uint32_t i = 0; i < n; i++) {
        const float *c = centres + (size_t)aw_rng_range(rng, clusters) * dim;
        for (uint32_t j = 0; j < dim; j++) out[(size_t)i * dim + j] = c[j] + aw_rng_float_range(rng, -0.5f, 0.5f);
    }
    free(centres);
}

/* The metric's distance in double (cosine normalises both). */
static inline double idx_test_distance(aw_index_metric metric, const float *a, const float *b, uint32_t dim) {
    double dot = 0, na = 0, nb = 0, l2 = 0;
    for (uint32_t i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
        l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    if (metric == AW_INDEX_L2) return l2;
    if (metric == AW_INDEX_DOT) return -dot;
    return 1.0 - dot / (sqrt(na) * sqrt(nb));
}

typedef struct idx_test_ref {
    double dist;
    uint64_t id;
} idx_test_ref;

static inline int idx_test_ref_cmp(const void *a, const void *b) {
    const idx_test_ref *x = a, *y = b;
    return x->dist < y->dist ? -1 : x->dist > y->dist;
}

/* The k nearest of n stored vectors (live[i] false: skipped) by brute force; returns how many. */
static inline uint32_t idx_test_knn(aw_index_metric metric, const float *q, const float *vecs, const uint64_t *ids,
                                    const bool *live, uint32_t n, uint32_t dim, uint32_t k, idx_test_ref *out) {
    idx_test_ref *all = malloc((size_t)(n ? n : 1) * sizeof *all);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!live || live[i]) all[m++] = (idx_test_ref){idx_test_distance(metric, q, vecs + (size_t)i * dim, dim), ids[i]};
    qsort(all, m, sizeof *all, idx_test_ref_cmp);
    uint32_t c = m < k ? m : k;
    memcpy(out, all, c * sizeof *out);
    free(all);
    return c;
}

#endif /* AW_TESTS_INDEX_TEST_UTIL_H */
