/* The vector index against simple references: distance kernels against each other and double
 * precision, the flat index against brute force, HNSW recall against the flat index, random
 * upsert/delete/compact sequences against a reference map, filters, allocation-free searches, and
 * argument errors. Files are in test_index_file.c, threads in test_index_threads.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index_test_util.h"
#include "rag_test_util.h"

static const aw_index_metric metrics[] = {AW_INDEX_COSINE, AW_INDEX_DOT, AW_INDEX_L2};

/* ---------------------------------------------------------------- kernels */

static void test_kernels_agree(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 11);
    float a[1100], b[1100];
    for (uint32_t dim = 1; dim <= 1100; dim += dim < 70 ? 1 : 37) {
        for (uint32_t i = 0; i < dim; i++) {
            a[i] = aw_rng_float_range(&rng, -2, 2);
            b[i] = aw_rng_float_range(&rng, -2, 2);
        }
        for (size_t mi = 0; mi < 3; mi++) {
            aw_index_metric m = metrics[mi];
            double want = m == AW_INDEX_COSINE ? 0 : idx_test_distance(m, a, b, dim);
            if (m == AW_INDEX_COSINE) {
                double dot = 0;
                for (uint32_t i = 0; i < dim; i++) dot += (double)a[i] * b[i];
                want = 1.0 - dot;
            }
            double scale = 4.0 * dim * 1e-5 + 1e-5;
            float scalar = aw_index_distance(m, AW_SIMD_SCALAR, a, b, dim);
            assert_true(fabs(scalar - want) <= scale);
            for (aw_simd_level l = AW_SIMD_AVX2; l <= aw_simd_best(); l++) {
                float v = aw_index_distance(m, l, a, b, dim);
                if (fabs(v - scalar) > scale)
                    fail_msg("dim %u metric %d %s: %.7g vs scalar %.7g", dim, (int)m, aw_simd_level_str(l), v, scalar);
            }
        }
    }
    /* Unaligned pointers too. */
    for (aw_simd_level l = AW_SIMD_SCALAR; l <= aw_simd_best(); l++)
        assert_true(fabsf(aw_index_distance(AW_INDEX_L2, l, a + 1, b + 3, 77) -
                          aw_index_distance(AW_INDEX_L2, AW_SIMD_SCALAR, a + 1, b + 3, 77)) < 1e-3f);
    if (aw_simd_best() < AW_SIMD_AVX512) {
        assert_true(isnan(aw_index_distance(AW_INDEX_L2, AW_SIMD_AVX512, a, b, 16)));
        assert_int_equal(aw_last_status(), AW_ERR_UNSUPPORTED);
    }
}

/* Whole searches agree across kernel sets: the same graph, the same hits. */
static void test_kernels_same_results(void **state) {
    (void)state;
    enum { N = 800, D = 40 };
    float *v = malloc(N * D * sizeof(float));
    aw_rng rng;
    aw_rng_seed(&rng, 5);
    idx_test_clustered(&rng, v, N, D, 8);
    aw_index_hit ref[10], hits[10];
    uint32_t nref = 0, n = 0;
    for (aw_simd_level l = AW_SIMD_SCALAR; l <= aw_simd_best(); l++) {
        aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D, .metric = AW_INDEX_L2, .kind = AW_INDEX_FLAT, .simd = l});
        assert_non_null(idx);
        assert_int_equal(aw_index_get_stats(idx).simd, l);
        for (uint32_t i = 0; i < N; i++) assert_int_equal(aw_index_upsert(idx, i, v + i * D, NULL), AW_OK);
        assert_int_equal(aw_index_search(idx, NULL, v + 17 * D, 10, NULL, l == AW_SIMD_SCALAR ? ref : hits,
                                         l == AW_SIMD_SCALAR ? &nref : &n),
                         AW_OK);
        if (l != AW_SIMD_SCALAR) {
            assert_int_equal(n, nref);
            for (uint32_t i = 0; i < n; i++) assert_true(hits[i].id == ref[i].id);
        }
        aw_index_destroy(idx);
    }
    free(v);
}

/* ---------------------------------------------------------------- flat and HNSW vs brute force */

static void test_flat_exact(void **state) {
    (void)state;
    enum { N = 1500, D = 24, Q = 40, K = 10 };
    float *v = malloc(N * D * sizeof(float)), *q = malloc(Q * D * sizeof(float));
    uint64_t *ids = malloc(N * sizeof(uint64_t));
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    idx_test_clustered(&rng, v, N, D, 10);
    idx_test_clustered(&rng, q, Q, D, 10);
    for (uint32_t i = 0; i < N; i++) ids[i] = aw_rng_u64(&rng);
    for (size_t mi = 0; mi < 3; mi++) {
        aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D, .metric = metrics[mi], .kind = AW_INDEX_FLAT});
        assert_non_null(idx);
        for (uint32_t i = 0; i < N; i++) assert_int_equal(aw_index_upsert(idx, ids[i], v + i * D, NULL), AW_OK);
        assert_int_equal(aw_index_count(idx), N);
        aw_index_scratch *s = aw_index_scratch_create(idx);
        for (uint32_t j = 0; j < Q; j++) {
            idx_test_ref ref[K];
            aw_index_hit hits[K];
            uint32_t n = 0;
            idx_test_knn(metrics[mi], q + j * D, v, ids, NULL, N, D, K, ref);
            assert_int_equal(aw_index_search(idx, s, q + j * D, K, NULL, hits, &n), AW_OK);
            assert_int_equal(n, K);
            for (uint32_t i = 0; i < K; i++) {
                assert_true(hits[i].id == ref[i].id);
                assert_true(fabs(hits[i].distance - ref[i].dist) < 1e-3 * (1 + fabs(ref[i].dist)));
                if (i) assert_true(hits[i].distance >= hits[i - 1].distance);
            }
        }
        aw_index_scratch_destroy(s);
        aw_index_destroy(idx);
    }
    free(v);
    free(q);
    free(ids);
}

static double recall_vs_flat(aw_index *hnsw, aw_index *flat, const float *q, uint32_t nq, uint32_t dim, uint32_t k,
                             uint32_t ef, const aw_index_filter *filter) {
    aw_index_hit h[64], f[64];
    uint32_t nh, nf, hit = 0, total = 0;
    aw_index_scratch *s = aw_index_scratch_create(hnsw);
    for (uint32_t j = 0; j < nq; j++) {
        aw_index_query qq = {.k = k, .ef_search = ef, .filter = filter};
        assert_int_equal(aw_index_search_ex(hnsw, s, q + (size_t)j * dim, &qq, h, &nh), AW_OK);
        assert_int_equal(aw_index_search_ex(flat, NULL, q + (size_t)j * dim, &qq, f, &nf), AW_OK);
        assert_true(nh <= nf);
        for (uint32_t a = 0; a < nf; a++)
            for (uint32_t b = 0; b < nh; b++)
                if (f[a].id == h[b].id) {
                    hit++;
                    break;
                }
        total += nf;
    }
    aw_index_scratch_destroy(s);
    return total ? (double)hit / total : 1.0;
}

static void test_hnsw_recall(void **state) {
    (void)state;
    enum { N = 4000, D = 32, Q = 100, K = 10 };
    float *v = malloc(N * D * sizeof(float)), *q = malloc(Q * D * sizeof(float));
    aw_rng rng;
    aw_rng_seed(&rng, 9);
    idx_test_clustered(&rng, v, N, D, 20);
    idx_test_clustered(&rng, q, Q, D, 20);
    /* Unit length, as embeddings are: the inner product then ranks as cosine does (on vectors of
     * uneven norms it is no metric, and graph search gets no such recall, in any HNSW). */
    for (uint32_t i = 0; i < N + Q; i++) {
        float *x = i < N ? v + i * D : q + (i - N) * D;
        double nn = 0;
        for (uint32_t j = 0; j < D; j++) nn += (double)x[j] * x[j];
        for (uint32_t j = 0; j < D; j++) x[j] = (float)(x[j] / sqrt(nn));
    }
    for (size_t mi = 0; mi < 3; mi++) {
        aw_index *h = aw_index_create(&(aw_index_desc){.dim = D, .metric = metrics[mi], .m = 12, .ef_construction = 100});
        aw_index *f = aw_index_create(&(aw_index_desc){.dim = D, .metric = metrics[mi], .kind = AW_INDEX_FLAT});
        for (uint32_t i = 0; i < N; i++) {
            assert_int_equal(aw_index_upsert(h, i, v + i * D, NULL), AW_OK);
            assert_int_equal(aw_index_upsert(f, i, v + i * D, NULL), AW_OK);
        }
        double r = recall_vs_flat(h, f, q, Q, D, K, 128, NULL);
        double r_low = recall_vs_flat(h, f, q, Q, D, K, 10, NULL);
        print_message("metric %d: recall@10 %.3f at ef 128, %.3f at ef 10\n", (int)metrics[mi], r, r_low);
        assert_true(r >= 0.95);
        assert_true(r >= r_low);
        aw_index_stats st = aw_index_get_stats(h);
        assert_int_equal(st.count, N);
        assert_true(st.max_level >= 1);
        aw_index_destroy(h);
        aw_index_destroy(f);
    }
    free(v);
    free(q);
}

/* ---------------------------------------------------------------- model-based: upsert, delete, compact */

enum { POOL = 300, MD = 12 };

typedef struct ref_map {
    float vec[POOL][MD];
    bool live[POOL];
    uint64_t ids[POOL];
    aw_index_meta meta[POOL];
} ref_map;

static uint64_t pool_id(uint32_t i) {
    /* Includes 0 and the largest ids. */
    return i == 0 ? 0 : i == 1 ? UINT64_MAX : (uint64_t)i * 0x9e3779b97f4a7c15ull;
}

static void check_against_ref(aw_index *idx, const ref_map *r, aw_index_kind kind, aw_rng *rng, uint32_t *hit,
                              uint32_t *total) {
    uint32_t live = 0;
    for (uint32_t i = 0; i < POOL; i++) {
        float got[MD];
        aw_index_meta m;
        aw_status st = aw_index_get(idx, r->ids[i], got, &m);
        if (!r->live[i]) {
            assert_int_equal(st, AW_ERR_NOT_FOUND);
            continue;
        }
        live++;
        assert_int_equal(st, AW_OK);
        assert_memory_equal(got, r->vec[i], sizeof got);
        assert_memory_equal(&m, &r->meta[i], sizeof m);
    }
    assert_int_equal(aw_index_count(idx), live);
    float q[MD];
    for (uint32_t j = 0; j < MD; j++) q[j] = aw_rng_float_range(rng, -1, 1);
    idx_test_ref ref[10];
    aw_index_hit hits[10];
    uint32_t n = 0;
    uint32_t nref = idx_test_knn(AW_INDEX_L2, q, &r->vec[0][0], r->ids, r->live, POOL, MD, 10, ref);
    assert_int_equal(aw_index_search(idx, NULL, q, 10, NULL, hits, &n), AW_OK);
    assert_int_equal(n, nref);
    for (uint32_t i = 0; i < n; i++) {
        /* Every hit is live, with its current vector's distance. */
        uint32_t slot = POOL;
        for (uint32_t p = 0; p < POOL; p++)
            if (r->ids[p] == hits[i].id) slot = p;
        assert_true(slot < POOL && r->live[slot]);
        double d = idx_test_distance(AW_INDEX_L2, q, r->vec[slot], MD);
        assert_true(fabs(d - hits[i].distance) < 1e-4 * (1 + d));
        if (kind == AW_INDEX_FLAT) assert_true(hits[i].id == ref[i].id);
        for (uint32_t a = 0; a < nref; a++) *hit += ref[a].id == hits[i].id;
    }
    *total += nref;
}

static void run_model(aw_index_kind kind, uint64_t seed) {
    static ref_map r;
    memset(&r, 0, sizeof r);
    for (uint32_t i = 0; i < POOL; i++) r.ids[i] = pool_id(i);
    aw_index *idx = aw_index_create(&(aw_index_desc){.dim = MD, .metric = AW_INDEX_L2, .kind = kind, .m = 6, .capacity = 16});
    assert_non_null(idx);
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    uint32_t hit = 0, total = 0;
    for (uint32_t step = 0; step < 3000; step++) {
        uint32_t op = aw_rng_range(&rng, 100), p = aw_rng_range(&rng, POOL);
        if (op < 60) {
            for (uint32_t j = 0; j < MD; j++) r.vec[p][j] = aw_rng_float_range(&rng, -1, 1);
            r.meta[p] = (aw_index_meta){.kind = aw_rng_range(&rng, 5), .agent = aw_rng_range(&rng, 3), .tags = aw_rng_u64(&rng),
                                        .timestamp = (int64_t)step};
            assert_int_equal(aw_index_upsert(idx, r.ids[p], r.vec[p], &r.meta[p]), AW_OK);
            r.live[p] = true;
        } else if (op < 95) {
            aw_status st = aw_index_delete(idx, r.ids[p]);
            assert_int_equal(st, r.live[p] ? AW_OK : AW_ERR_NOT_FOUND);
            r.live[p] = false;
        } else if (op < 97) {
            assert_int_equal(aw_index_compact(idx), AW_OK);
            assert_int_equal(aw_index_get_stats(idx).tombstones, 0);
        } else {
            check_against_ref(idx, &r, kind, &rng, &hit, &total);
        }
    }
    check_against_ref(idx, &r, kind, &rng, &hit, &total);
    print_message("kind %d: recall %.3f over %u expected hits\n", (int)kind, (double)hit / total, total);
    assert_true(hit >= 0.9 * total);
    aw_index_destroy(idx);
}

static void test_model_flat(void **state) {
    (void)state;
    run_model(AW_INDEX_FLAT, 1);
    run_model(AW_INDEX_FLAT, 2);
}

static void test_model_hnsw(void **state) {
    (void)state;
    run_model(AW_INDEX_HNSW, 3);
    run_model(AW_INDEX_HNSW, 4);
}

/* ---------------------------------------------------------------- filters */

static bool odd_ids(void *user, uint64_t id, const aw_index_meta *meta) {
    (void)meta;
    ++*(uint32_t *)user;
    return id & 1;
}

static void test_filters(void **state) {
    (void)state;
    enum { N = 3000, D = 16, K = 10 };
    float *v = malloc(N * D * sizeof(float));
    uint64_t *ids = malloc(N * sizeof(uint64_t));
    aw_index_meta *meta = malloc(N * sizeof *meta);
    bool *pass = malloc(N);
    aw_rng rng;
    aw_rng_seed(&rng, 21);
    idx_test_clustered(&rng, v, N, D, 12);
    uint32_t calls = 0;
    aw_index_filter filters[] = {
        {.kinds = 1u << 2},
        {.kinds = 1u << 1 | 1u << 3, .tags_all = 1},
        {.tags_any = 0x30, .tags_none = 0x1},
        {.match_agent = true, .agent = 7},
        {.match_time = true, .time_min = 100, .time_max = 400},
        {.match_agent = true, .agent = 3, .kinds = 1u << 4, .match_time = true, .time_min = 0, .time_max = 2999},
        {.accept = odd_ids, .user = &calls},
        {.match_time = true, .time_min = 42, .time_max = 44}, /* three vectors pass */
        {.kinds = 1ull << 63},                                /* none pass */
    };
    aw_index *h = aw_index_create(&(aw_index_desc){.dim = D, .metric = AW_INDEX_COSINE, .ef_construction = 80});
    aw_index *f = aw_index_create(&(aw_index_desc){.dim = D, .metric = AW_INDEX_COSINE, .kind = AW_INDEX_FLAT});
    for (uint32_t i = 0; i < N; i++) {
        ids[i] = 1000 + i;
        meta[i] = (aw_index_meta){.kind = aw_rng_range(&rng, 5), .agent = aw_rng_range(&rng, 10), .tags = aw_rng_u64(&rng) & 0xff,
                                  .timestamp = i};
        assert_int_equal(aw_index_upsert(h, ids[i], v + i * D, &meta[i]), AW_OK);
        assert_int_equal(aw_index_upsert(f, ids[i], v + i * D, &meta[i]), AW_OK);
    }
    for (size_t fi = 0; fi < sizeof filters / sizeof filters[0]; fi++) {
        const aw_index_filter *flt = &filters[fi];
        uint32_t passing = 0;
        for (uint32_t i = 0; i < N; i++) {
            pass[i] = aw_index_filter_match(flt, &meta[i]) && (!flt->accept || (ids[i] & 1));
            passing += pass[i];
        }
        uint32_t hit = 0, total = 0;
        for (uint32_t j = 0; j < 30; j++) {
            const float *q = v + (size_t)aw_rng_range(&rng, N) * D;
            idx_test_ref ref[K];
            aw_index_hit hh[K], fh[K], hm[K];
            aw_index_meta metas[K];
            uint32_t nh, nf;
            uint32_t nref = idx_test_knn(AW_INDEX_COSINE, q, v, ids, pass, N, D, K, ref);
            assert_int_equal(aw_index_search(f, NULL, q, K, flt, fh, &nf), AW_OK);
            aw_index_query qq = {.k = K, .filter = flt, .metas = metas};
            assert_int_equal(aw_index_search_ex(h, NULL, q, &qq, hh, &nh), AW_OK);
            assert_int_equal(nf, nref);
            for (uint32_t i = 0; i < nf; i++) assert_true(fh[i].id == ref[i].id);
            for (uint32_t i = 0; i < nh; i++) {
                uint32_t at = (uint32_t)(hh[i].id - 1000);
                assert_true(at < N && pass[at]);
                assert_memory_equal(&metas[i], &meta[at], sizeof metas[i]);
                for (uint32_t a = 0; a < nref; a++) hit += ref[a].id == hh[i].id;
            }
            total += nref;
            (void)hm;
        }
        print_message("filter %zu: %u of %u pass, recall %.3f\n", fi, passing, N, total ? (double)hit / total : 1.0);
        assert_true(hit >= 0.9 * total);
        if (passing < K) assert_int_equal(hit, total); /* few passing: every one of them, exactly */
    }
    assert_true(calls > 0);
    aw_index_destroy(h);
    aw_index_destroy(f);
    free(v);
    free(ids);
    free(meta);
    free(pass);
}

/* ---------------------------------------------------------------- memory */

static void test_search_allocates_nothing(void **state) {
    (void)state;
    enum { N = 3000, D = 20 };
    rag_test_alloc ta;
    rag_test_alloc_init(&ta, -1);
    float *v = malloc(N * D * sizeof(float));
    aw_rng rng;
    aw_rng_seed(&rng, 31);
    idx_test_clustered(&rng, v, N, D, 6);
    for (int kind = 0; kind < 2; kind++) {
        aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D, .kind = (aw_index_kind)kind, .allocator = &ta.base});
        for (uint32_t i = 0; i < N; i++) assert_int_equal(aw_index_upsert(idx, i, v + i * D, NULL), AW_OK);
        aw_index_scratch *s = aw_index_scratch_create(idx);
        aw_index_hit hits[32];
        uint32_t n;
        aw_index_filter flt = {.match_time = true, .time_min = 1, .time_max = 1}; /* nothing passes */
        aw_index_query q = {.k = 32, .ef_search = 200, .filter = &flt};
        assert_int_equal(aw_index_search_ex(idx, s, v, &q, hits, &n), AW_OK); /* warm-up */
        uint64_t allocs = atomic_load(&ta.allocs) + atomic_load(&ta.reallocs);
        for (uint32_t j = 0; j < 200; j++) {
            assert_int_equal(aw_index_search(idx, s, v + (j % N) * D, 10, NULL, hits, &n), AW_OK);
            assert_int_equal(aw_index_search_ex(idx, s, v + (j % N) * D, &q, hits, &n), AW_OK);
            assert_int_equal(n, 0);
        }
        assert_int_equal(atomic_load(&ta.allocs) + atomic_load(&ta.reallocs), allocs);
        aw_index_scratch_destroy(s);
        aw_index_destroy(idx);
        assert_int_equal(atomic_load(&ta.live_bytes), 0);
    }
    free(v);
}

/* Every allocation of create, upsert and compact failing in turn: a clean error, nothing leaked,
 * the index as before the failing call. */
static void test_out_of_memory(void **state) {
    (void)state;
    enum { D = 8 };
    float v[64][D];
    aw_rng rng;
    aw_rng_seed(&rng, 41);
    for (uint32_t i = 0; i < 64; i++)
        for (uint32_t j = 0; j < D; j++) v[i][j] = aw_rng_float_range(&rng, -1, 1);
    for (int64_t fail = 0; fail < 200; fail++) {
        rag_test_alloc ta;
        rag_test_alloc_init(&ta, fail);
        aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D, .capacity = 1, .allocator = &ta.base});
        if (idx) {
            uint32_t stored = 0;
            for (uint32_t i = 0; i < 64 * 20; i++) {
                aw_status st = aw_index_upsert(idx, i % 64, v[i % 64], NULL);
                if (st != AW_OK) {
                    assert_int_equal(st, AW_ERR_OUT_OF_MEMORY);
                    break;
                }
                stored = i < 64 ? i + 1 : 64;
            }
            assert_int_equal(aw_index_count(idx), stored);
            aw_status st = aw_index_compact(idx);
            assert_true(st == AW_OK || st == AW_ERR_OUT_OF_MEMORY);
            assert_int_equal(aw_index_count(idx), stored);
            aw_index_destroy(idx);
        } else {
            assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
        }
        assert_int_equal(atomic_load(&ta.live_bytes), 0);
    }
}

/* ---------------------------------------------------------------- arguments */

static void test_bad_arguments(void **state) {
    (void)state;
    assert_null(aw_index_create(NULL));
    assert_null(aw_index_create(&(aw_index_desc){.dim = 0}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_null(aw_index_create(&(aw_index_desc){.dim = 4, .m = 1}));
    assert_null(aw_index_create(&(aw_index_desc){.dim = 4, .metric = (aw_index_metric)9}));
    aw_index *idx = aw_index_create(&(aw_index_desc){.dim = 4});
    aw_index *other = aw_index_create(&(aw_index_desc){.dim = 4});
    aw_index_desc d = aw_index_get_desc(idx);
    assert_int_equal(d.m, 16);
    assert_int_equal(d.ef_search, 64);
    float ok[4] = {1, 2, 3, 4}, zero[4] = {0}, bad[4] = {1, NAN, 0, 0};
    assert_int_equal(aw_index_upsert(idx, 1, zero, NULL), AW_ERR_INVALID_ARG); /* cosine */
    assert_int_equal(aw_index_upsert(idx, 1, bad, NULL), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_index_upsert(idx, 1, NULL, NULL), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_index_count(idx), 0);
    assert_int_equal(aw_index_delete(idx, 1), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_index_upsert(idx, 1, ok, NULL), AW_OK);
    aw_index_hit hits[4];
    uint32_t n = 99;
    assert_int_equal(aw_index_search(idx, NULL, ok, 0, NULL, hits, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(n, 0);
    assert_int_equal(aw_index_search(idx, NULL, bad, 1, NULL, hits, &n), AW_ERR_INVALID_ARG);
    aw_index_scratch *s = aw_index_scratch_create(other);
    assert_int_equal(aw_index_search(idx, s, ok, 1, NULL, hits, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_index_search(idx, NULL, ok, 4, NULL, hits, &n), AW_OK);
    assert_int_equal(n, 1);
    assert_true(hits[0].id == 1 && fabsf(hits[0].similarity - 1.0f) < 1e-6f);
    aw_index_scratch_destroy(s);
    aw_index_destroy(other);
    aw_index_destroy(idx);
    /* An empty index answers with nothing. */
    idx = aw_index_create(&(aw_index_desc){.dim = 4});
    assert_int_equal(aw_index_search(idx, NULL, ok, 4, NULL, hits, &n), AW_OK);
    assert_int_equal(n, 0);
    aw_index_destroy(idx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_agree),       cmocka_unit_test(test_kernels_same_results),
        cmocka_unit_test(test_flat_exact),          cmocka_unit_test(test_hnsw_recall),
        cmocka_unit_test(test_model_flat),          cmocka_unit_test(test_model_hnsw),
        cmocka_unit_test(test_filters),             cmocka_unit_test(test_search_allocates_nothing),
        cmocka_unit_test(test_out_of_memory),       cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
