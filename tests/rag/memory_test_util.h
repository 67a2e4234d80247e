/* Shared by the semantic-memory tests: seeded unit vectors in clusters, and a memory built from them
 * with a reference copy of every item for brute-force checks. */
#ifndef AW_TESTS_RAG_MEMORY_TEST_UTIL_H
#define AW_TESTS_RAG_MEMORY_TEST_UTIL_H

#include "aw/rag.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define D AW_EMBED_DIM

static inline void mt_normalise(float *v) {
    double n = 0;
    for (int d = 0; d < D; d++) n += (double)v[d] * v[d];
    for (int d = 0; d < D; d++) v[d] = (float)(v[d] / sqrt(n));
}

static inline float mt_gauss(aw_rng *rng) {
    float u = aw_rng_float(rng), w = aw_rng_float(rng);
    return sqrtf(-2.0f * logf(u > 1e-12f ? u : 1e-12f)) * cosf(6.2831853f * w);
}

/* A random unit vector. */
static inline void mt_random_unit(aw_rng *rng, float *v) {
    for (int d = 0; d < D; d++) v[d] = mt_gauss(rng);
    mt_normalise(v);
}

/* base plus noise of the given size per dimension, normalised (noise 0.02: cosine ~0.9 to base). */
static inline void mt_near(aw_rng *rng, const float *base, float noise, float *v) {
    for (int d = 0; d < D; d++) v[d] = base[d] + noise * mt_gauss(rng);
    mt_normalise(v);
}

static inline double mt_dot(const float *a, const float *b) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)a[d] * b[d];
    return s;
}

/* n items in clusters of `per` around random centres, ids 1..n, metadata varied by seed. */
typedef struct mt_set {
    uint32_t n;
    aw_memory_item *items;
    float *vec;
    char (*text)[48];
} mt_set;

static inline void mt_set_make(mt_set *s, uint32_t n, uint32_t per, uint64_t seed) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    s->n = n;
    s->items = calloc(n, sizeof *s->items);
    s->vec = malloc(sizeof(float) * D * n);
    s->text = calloc(n, sizeof *s->text);
    float centre[D];
    for (uint32_t i = 0; i < n; i++) {
        if (i % per == 0) mt_random_unit(&rng, centre);
        float *v = s->vec + (size_t)i * D;
        mt_near(&rng, centre, 0.03f, v);
        snprintf(s->text[i], sizeof s->text[i], "memory number %u of cluster %u", i + 1, i / per);
        s->items[i] = (aw_memory_item){.id = i + 1,
                                       .text = s->text[i],
                                       .embedding = v,
                                       .kind = (aw_memory_kind)aw_rng_range(&rng, AW_MEMORY_KIND_COUNT),
                                       .agent = aw_rng_range(&rng, 4),
                                       .time = aw_rng_float_range(&rng, 0.0f, 20000.0f),
                                       .importance = aw_rng_float(&rng)};
    }
}

static inline void mt_set_free(mt_set *s) {
    free(s->items);
    free(s->vec);
    free(s->text);
    *s = (mt_set){0};
}

#endif /* AW_TESTS_RAG_MEMORY_TEST_UTIL_H */
