/* Half-precision storage in the vector index (AW_INDEX_F16): the conversions round to nearest even
 * at every SIMD level, bit for bit (every half value, ties, subnormals, overflow); the half
 * kernels agree with the float ones on the widened values; an F16 index finds what brute force
 * over its stored values finds, gives vectors back widened, refuses elements outside the half
 * range, is deterministic for any thread count, compacts to the same bits and survives a save and
 * load; version 1 files (float32, before the element field) still load. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index_test_util.h"
#include "../../src/rag/index_internal.h"

static const aw_simd_level levels[] = {AW_SIMD_SCALAR, AW_SIMD_AVX2, AW_SIMD_AVX512};

/* The value of a half by its definition, in double. */
static double half_value(uint16_t h) {
    int exp = h >> 10 & 0x1f, man = h & 0x3ff;
    double v = exp ? ldexp(1024 + man, exp - 25) : ldexp(man, -24);
    return h & 0x8000 ? -v : v;
}

/* Every finite half widens to its exact value and narrows back to itself, at every level. */
static void test_every_half_round_trips(void **state) {
    (void)state;
    uint16_t *in = malloc(65536 * sizeof *in), *back = malloc(65536 * sizeof *back);
    float *out = malloc(65536 * sizeof *out);
    uint32_t n = 0;
    for (uint32_t h = 0; h < 65536; h++)
        if ((h & 0x7c00) != 0x7c00) in[n++] = (uint16_t)h;
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        idx_kernels k;
        if (!idx_kernels_get(levels[l], AW_INDEX_F16, &k)) continue;
        k.widen(in, out, n);
        for (uint32_t i = 0; i < n; i++)
            if ((double)out[i] != half_value(in[i]) || !!signbit(out[i]) != !!(in[i] & 0x8000))
                fail_msg("%s: half %04x widened to %g, not %g", aw_simd_level_str(levels[l]), in[i], (double)out[i],
                         half_value(in[i]));
        k.narrow(out, back, n);
        for (uint32_t i = 0; i < n; i++)
            if (back[i] != in[i]) fail_msg("%s: half %04x came back as %04x", aw_simd_level_str(levels[l]), in[i], back[i]);
    }
    free(in);
    free(back);
    free(out);
}

/* The nearest half to x by search over the definition, ties to the even one. */
static uint16_t nearest_half(float x) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs((double)x);
    if (a >= 65520.0) return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7bff;
    while (lo < hi) { /* the largest half not above a */
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (half_value(mid) <= a) lo = mid;
        else hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff) return sign | lo;
    double below = a - half_value(lo), above = half_value((uint16_t)(lo + 1)) - a;
    uint16_t pick = below < above ? lo : above < below ? (uint16_t)(lo + 1) : (lo & 1 ? (uint16_t)(lo + 1) : lo);
    return sign | pick;
}

/* Floats narrow to the nearest half, ties to even, the same at every level: hand-picked edges,
 * exact ties at every exponent, and random floats over the whole half range and beyond. */
static void test_narrow_rounds_to_nearest_even(void **state) {
    (void)state;
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x);
    uint32_t n = 0;
    const float edges[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.99f, 65520.0f, 1e9f, -1e30f, INFINITY,
                           0x1p-24f, 0x1p-25f, 0x1.8p-24f, 0x1p-26f, 0x1p-14f, 0x1.ffcp-15f, 0x1.ffep-15f,
                           1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 0x1p-149f, 3.14159265f};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) x[n++] = edges[i];
    /* Exact ties: a half's value plus half a step, for every exponent. */
    for (int e = 1; e < 31; e++)
        for (int man = 0; man < 1024; man += 37) {
            double v = ldexp(1024 + man, e - 25), step = ldexp(1, e - 25);
            x[n++] = (float)(v + step / 2);
            x[n++] = -(float)(v + step / 2);
        }
    aw_rng rng;
    aw_rng_seed(&rng, 16);
    while (n < N) {
        uint32_t bits = (aw_rng_range(&rng, 2) << 31) | ((uint32_t)(96 + aw_rng_range(&rng, 50)) << 23) |
                        (aw_rng_u32(&rng) & 0x7fffff);
        memcpy(&x[n++], &bits, 4);
    }
    uint16_t *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    for (uint32_t i = 0; i < n; i++) want[i] = nearest_half(x[i]);
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        idx_kernels k;
        if (!idx_kernels_get(levels[l], AW_INDEX_F16, &k)) continue;
        k.narrow(x, got, n);
        for (uint32_t i = 0; i < n; i++)
            if (got[i] != want[i])
                fail_msg("%s: %a narrowed to %04x, the nearest (ties to even) is %04x", aw_simd_level_str(levels[l]),
                         (double)x[i], got[i], want[i]);
    }
    free(x);
    free(want);
    free(got);
}

/* The half kernels give the float kernels' result on the widened vector, within float rounding. */
static void test_half_kernels_match_float(void **state) {
    (void)state;
    enum { DIM = 528 };
    float a[DIM], b[DIM], bw[DIM];
    uint16_t bh[DIM];
    aw_rng rng;
    aw_rng_seed(&rng, 3);
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        idx_kernels k;
        if (!idx_kernels_get(levels[l], AW_INDEX_F16, &k)) continue;
        for (int t = 0; t < 200; t++) {
            uint32_t n = 16 * (1 + aw_rng_range(&rng, DIM / 16));
            for (uint32_t i = 0; i < n; i++) {
                a[i] = aw_rng_float_range(&rng, -2, 2);
                b[i] = aw_rng_float_range(&rng, -2, 2);
            }
            k.narrow(b, bh, n);
            k.widen(bh, bw, n);
            double dot = 0, l2 = 0;
            for (uint32_t i = 0; i < n; i++) {
                dot += (double)a[i] * bw[i];
                l2 += ((double)a[i] - bw[i]) * ((double)a[i] - bw[i]);
            }
            assert_float_equal(k.dot16(a, bh, n), dot, 1e-4 * n);
            assert_float_equal(k.l2sq16(a, bh, n), l2, 1e-4 * n);
            assert_float_equal(k.dot16(a, bh, n), k.dot(a, bw, n), 1e-4 * n);
        }
    }
}

static aw_index *make(uint32_t dim, aw_index_metric metric, aw_index_kind kind, aw_index_element element) {
    aw_index *idx = aw_index_create(&(aw_index_desc){.dim = dim, .metric = metric, .kind = kind, .m = 8,
                                                    .ef_construction = 80, .element = element});
    assert_non_null(idx);
    return idx;
}

/* Recall against brute force over the stored (half) values, for each metric; vectors come back
 * widened; an F16 index takes half the vector bytes of a float one. */
static void test_f16_index_searches(void **state) {
    (void)state;
    enum { N = 3000, DIM = 40, Q = 60 };
    float *v = malloc((size_t)N * DIM * sizeof(float)), *stored = malloc((size_t)N * DIM * sizeof(float));
    uint64_t ids[N];
    aw_rng rng;
    aw_rng_seed(&rng, 11);
    idx_test_clustered(&rng, v, N, DIM, 9);
    for (uint32_t i = 0; i < N; i++) ids[i] = 1000 + i;
    for (aw_index_metric metric = 0; metric < AW_INDEX_METRIC_COUNT; metric++) {
        aw_index *h = make(DIM, metric, AW_INDEX_HNSW, AW_INDEX_F16), *f = make(DIM, metric, AW_INDEX_HNSW, AW_INDEX_F32);
        assert_int_equal(aw_index_get_desc(h).element, AW_INDEX_F16);
        assert_int_equal(aw_index_get_desc(f).element, AW_INDEX_F32);
        assert_int_equal(aw_index_upsert_batch(h, NULL, ids, v, NULL, N), AW_OK);
        assert_int_equal(aw_index_upsert_batch(f, NULL, ids, v, NULL, N), AW_OK);
        for (uint32_t i = 0; i < N; i++) {
            float *s = stored + (size_t)i * DIM;
            assert_int_equal(aw_index_get(h, ids[i], s, NULL), AW_OK);
            double norm = 0;
            for (uint32_t d = 0; d < DIM; d++) norm += (double)v[i * DIM + d] * v[i * DIM + d];
            double scale = metric == AW_INDEX_COSINE ? 1.0 / sqrt(norm) : 1.0;
            for (uint32_t d = 0; d < DIM; d++) /* within half a half-step: 2^-11 relative */
                assert_float_equal(s[d], v[i * DIM + d] * scale, fabs(v[i * DIM + d] * scale) * 0x1p-11 + 0x1p-25);
        }
        assert_null(aw_index_vector(h, ids[5]));
        assert_non_null(aw_index_vector(f, ids[5]));
        assert_true(aw_index_get_stats(h).bytes < aw_index_get_stats(f).bytes);
        double recall = 0;
        for (uint32_t q = 0; q < Q; q++) {
            float qv[DIM];
            for (uint32_t d = 0; d < DIM; d++) qv[d] = v[(size_t)(q * 41) * DIM + d] + aw_rng_float_range(&rng, -0.2f, 0.2f);
            aw_index_hit hits[10];
            uint32_t n = 0;
            assert_int_equal(aw_index_search(h, NULL, qv, 10, NULL, hits, &n), AW_OK);
            assert_int_equal(n, 10);
            idx_test_ref ref[10];
            idx_test_knn(metric, qv, stored, ids, NULL, N, DIM, 10, ref);
            for (uint32_t i = 0; i < n; i++)
                for (uint32_t j = 0; j < 10; j++) recall += hits[i].id == ref[j].id;
        }
        recall /= 10.0 * Q;
        print_message("F16 %s recall@10 %.3f\n", metric == AW_INDEX_L2 ? "l2" : metric == AW_INDEX_DOT ? "dot" : "cosine", recall);
        assert_true(recall >= 0.9);
        aw_index_destroy(h);
        aw_index_destroy(f);
    }
    free(v);
    free(stored);
}

/* Elements a half cannot hold are refused by name, and nothing is stored; queries may hold any
 * finite value. */
static void test_f16_range_refused(void **state) {
    (void)state;
    aw_index *idx = make(4, AW_INDEX_L2, AW_INDEX_HNSW, AW_INDEX_F16);
    float ok[4] = {65504, -65504, 1, 0}, big[4] = {1, 2, 70000, 4};
    assert_int_equal(aw_index_upsert(idx, 1, ok, NULL), AW_OK);
    assert_int_equal(aw_index_upsert(idx, 2, big, NULL), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "element 2"));
    assert_non_null(strstr(aw_last_error(), "65504"));
    uint64_t ids[2] = {3, 4};
    float two[8] = {1, 2, 3, 4, 1, 2, 3, -1e6f};
    assert_int_equal(aw_index_upsert_batch(idx, NULL, ids, two, NULL, 2), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "vector 1"));
    assert_int_equal(aw_index_count(idx), 1);
    aw_index_hit hit;
    uint32_t n = 0;
    assert_int_equal(aw_index_search(idx, NULL, big, 1, NULL, &hit, &n), AW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hit.id, 1);
    aw_index_destroy(idx);
    assert_null(aw_index_create(&(aw_index_desc){.dim = 4, .element = AW_INDEX_ELEMENT_COUNT}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
}

/* A fresh directory under $TMPDIR (or /tmp) for one test's files, and its removal. */
static void temp_dir(char *dir, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/aw-f16-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static uint32_t file_crc(aw_index *idx, const char *path, size_t *size, unsigned char **bytes) {
    assert_int_equal(aw_index_save(idx, path), AW_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *bytes = malloc(*size);
    assert_int_equal(fread(*bytes, 1, *size, f), *size);
    fclose(f);
    return idx_crc32c(0, *bytes, *size);
}

/* The same batch inserts give the same file on 0, 1 and 2 threads; compaction keeps the stored
 * bits; save and load give the same answers; the file names its element type. */
static void test_f16_deterministic_and_saved(void **state) {
    (void)state;
    enum { N = 5000, DIM = 24 };
    char dir[256], path[300];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f16.awi", dir);
    float *v = malloc((size_t)N * DIM * sizeof(float));
    uint64_t *ids = malloc(N * sizeof *ids);
    aw_rng rng;
    aw_rng_seed(&rng, 5);
    idx_test_clustered(&rng, v, N, DIM, 6);
    for (uint32_t i = 0; i < N; i++) ids[i] = i * 3 + 1;
    uint32_t crc[3];
    aw_index *kept = NULL;
    for (uint32_t t = 0; t < 3; t++) {
        aw_jobs *jobs = t ? aw_jobs_create(&(aw_jobs_desc){.threads = t}) : NULL;
        aw_index *idx = make(DIM, AW_INDEX_COSINE, AW_INDEX_HNSW, AW_INDEX_F16);
        assert_int_equal(aw_index_upsert_batch(idx, jobs, ids, v, NULL, N), AW_OK);
        size_t size;
        unsigned char *bytes;
        crc[t] = file_crc(idx, path, &size, &bytes);
        assert_int_equal(bytes[8], 2);                                /* version */
        assert_int_equal(bytes[22] | bytes[23] << 8, AW_INDEX_F16); /* element */
        free(bytes);
        aw_jobs_destroy(jobs);
        if (t == 2) kept = idx;
        else aw_index_destroy(idx);
    }
    assert_int_equal(crc[0], crc[1]);
    assert_int_equal(crc[0], crc[2]);

    aw_index *loaded = aw_index_load(path, NULL);
    assert_non_null(loaded);
    assert_int_equal(aw_index_get_desc(loaded).element, AW_INDEX_F16);
    float a[DIM], b[DIM];
    for (uint32_t i = 0; i < N; i += 97) {
        assert_int_equal(aw_index_get(kept, ids[i], a, NULL), AW_OK);
        assert_int_equal(aw_index_get(loaded, ids[i], b, NULL), AW_OK);
        assert_memory_equal(a, b, sizeof a);
    }
    for (uint32_t q = 0; q < 20; q++) {
        aw_index_hit h1[5], h2[5];
        uint32_t n1 = 0, n2 = 0;
        const float *qv = v + (size_t)(q * 211) * DIM;
        assert_int_equal(aw_index_search(kept, NULL, qv, 5, NULL, h1, &n1), AW_OK);
        assert_int_equal(aw_index_search(loaded, NULL, qv, 5, NULL, h2, &n2), AW_OK);
        assert_int_equal(n1, n2);
        for (uint32_t i = 0; i < n1; i++) {
            assert_true(h1[i].id == h2[i].id);
            assert_true(h1[i].distance == h2[i].distance);
        }
    }
    /* Compaction: the stored halves go through float and back unchanged. */
    for (uint32_t i = 0; i < N; i += 3) assert_int_equal(aw_index_delete(kept, ids[i]), AW_OK);
    assert_int_equal(aw_index_compact(kept), AW_OK);
    for (uint32_t i = 1; i < N; i += 7) {
        if (i % 3 == 0) continue;
        assert_int_equal(aw_index_get(kept, ids[i], a, NULL), AW_OK);
        assert_int_equal(aw_index_get(loaded, ids[i], b, NULL), AW_OK);
        assert_memory_equal(a, b, sizeof a);
    }
    aw_index_destroy(kept);
    aw_index_destroy(loaded);
    free(v);
    free(ids);
    remove_dir(dir);
}

static void put32(unsigned char *p, uint32_t v) {
    memcpy(p, &v, 4);
}

/* A float32 file as version 1 wrote it (kind a u32, no element field) loads as F32; damaged element
 * fields and non-finite halves are refused. */
static void test_versions_and_damaged_halves(void **state) {
    (void)state;
    enum { N = 200, DIM = 16 };
    float *v = malloc((size_t)N * DIM * sizeof(float));
    uint64_t ids[N];
    aw_rng rng;
    aw_rng_seed(&rng, 8);
    idx_test_clustered(&rng, v, N, DIM, 3);
    for (uint32_t i = 0; i < N; i++) ids[i] = i + 1;
    char dir[256], path[300];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v.awi", dir);

    aw_index *f32 = make(DIM, AW_INDEX_L2, AW_INDEX_HNSW, AW_INDEX_F32);
    assert_int_equal(aw_index_upsert_batch(f32, NULL, ids, v, NULL, N), AW_OK);
    size_t size;
    unsigned char *d;
    file_crc(f32, path, &size, &d);
    d[8] = 1;
    d[22] = d[23] = 0;
    put32(d + 60, idx_crc32c(0, d, 60));
    aw_index *v1 = aw_index_load_memory(d, size, NULL);
    assert_non_null(v1);
    assert_int_equal(aw_index_get_desc(v1).element, AW_INDEX_F32);
    float a[DIM], b[DIM];
    assert_int_equal(aw_index_get(v1, 7, a, NULL), AW_OK);
    assert_int_equal(aw_index_get(f32, 7, b, NULL), AW_OK);
    assert_memory_equal(a, b, sizeof a);
    aw_index_destroy(v1);
    /* Version 2 with an unknown element type. */
    d[8] = 2;
    d[22] = 7;
    put32(d + 60, idx_crc32c(0, d, 60));
    assert_null(aw_index_load_memory(d, size, NULL));
    assert_int_equal(aw_last_status(), AW_ERR_CORRUPT);
    assert_non_null(strstr(aw_last_error(), "element type 7"));
    free(d);
    aw_index_destroy(f32);

    /* A half infinity in a vector, checksums made right: refused by name. */
    aw_index *f16 = make(DIM, AW_INDEX_L2, AW_INDEX_HNSW, AW_INDEX_F16);
    assert_int_equal(aw_index_upsert_batch(f16, NULL, ids, v, NULL, N), AW_OK);
    file_crc(f16, path, &size, &d);
    size_t first_vector = 64 + 48; /* header, then node 0's record head */
    d[first_vector + 2 * 3] = 0x00;
    d[first_vector + 2 * 3 + 1] = 0x7c;
    uint64_t body = size - 64;
    put32(d + 56, idx_crc32c(0, d + 64, (size_t)body));
    put32(d + 60, idx_crc32c(0, d, 60));
    assert_null(aw_index_load_memory(d, size, NULL));
    assert_int_equal(aw_last_status(), AW_ERR_CORRUPT);
    assert_non_null(strstr(aw_last_error(), "node 0: element 3 is not finite"));
    free(d);
    aw_index_destroy(f16);
    free(v);
    remove_dir(dir);
}

static int cmp_cand_ref(const void *a, const void *b) {
    const idx_cand *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* The candidate sort (inlined quicksort) against qsort, over sizes around its insertion-sort cutoff,
 * with many equal distances (ties go by node). */
static void test_candidate_sort(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 3);
    idx_cand a[600], b[600];
    for (uint32_t round = 0; round < 400; round++) {
        uint32_t n = round < 40 ? round : aw_rng_range(&rng, 600);
        uint32_t values = 1 + aw_rng_range(&rng, 50);
        for (uint32_t i = 0; i < n; i++)
            a[i] = b[i] = (idx_cand){(float)aw_rng_range(&rng, values) * 0.25f, (uint32_t)(aw_rng_u64(&rng) % 100000u)};
        idx_sort_cands(a, n);
        qsort(b, n, sizeof *b, cmp_cand_ref);
        assert_memory_equal(a, b, n * sizeof *a);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candidate_sort),
        cmocka_unit_test(test_every_half_round_trips),
        cmocka_unit_test(test_narrow_rounds_to_nearest_even),
        cmocka_unit_test(test_half_kernels_match_float),
        cmocka_unit_test(test_f16_index_searches),
        cmocka_unit_test(test_f16_range_refused),
        cmocka_unit_test(test_f16_deterministic_and_saved),
        cmocka_unit_test(test_versions_and_damaged_halves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
