/* ctest-label: threads */
/* Batch insertion (aw_index_upsert_batch) on the job system: the graph is the same for every thread
 * count (saved files compared byte for byte), recall matches single inserts', replacements inside
 * and across batches leave the last vector, bad vectors change nothing, allocation failures keep a
 * whole prefix, and searches running meanwhile only ever see stored vectors (ThreadSanitizer). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "index_test_util.h"
#include "rag_test_util.h"

enum { N = 5000, D = 24, Q = 100 };

static float *make_vectors(uint64_t seed, uint32_t n) {
    float *v = malloc((size_t)n * D * sizeof(float));
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    idx_test_clustered(&rng, v, n, D, 30);
    return v;
}

static uint64_t *make_ids(uint32_t n) {
    uint64_t *ids = malloc(n * sizeof(uint64_t));
    for (uint32_t i = 0; i < n; i++) ids[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    return ids;
}

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*size);
    assert_int_equal(fread(p, 1, *size, f), *size);
    fclose(f);
    return p;
}

static double recall_vs_flat(aw_index *hnsw, aw_index *flat, const float *q, uint32_t nq, uint32_t k, uint32_t ef) {
    aw_index_hit h[64], f[64];
    uint32_t nh, nf, hit = 0, total = 0;
    for (uint32_t j = 0; j < nq; j++) {
        aw_index_query qq = {.k = k, .ef_search = ef};
        assert_int_equal(aw_index_search_ex(hnsw, NULL, q + (size_t)j * D, &qq, h, &nh), AW_OK);
        assert_int_equal(aw_index_search_ex(flat, NULL, q + (size_t)j * D, &qq, f, &nf), AW_OK);
        for (uint32_t a = 0; a < nf; a++)
            for (uint32_t b = 0; b < nh; b++) hit += f[a].id == h[b].id;
        total += nf;
    }
    return total ? (double)hit / total : 1.0;
}

/* The same inserts in the same calls, on 1, 2 and 4 threads (and none): one graph. */
static void test_same_graph_any_thread_count(void **state) {
    (void)state;
    float *v = make_vectors(3, N);
    uint64_t *ids = make_ids(N);
    const uint32_t threads[] = {0, 1, 2, 4};
    unsigned char *first = NULL;
    size_t first_size = 0;
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        aw_jobs *jobs = threads[t] ? aw_jobs_create(&(aw_jobs_desc){.threads = threads[t]}) : NULL;
        aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D, .m = 8, .ef_construction = 40});
        /* Uneven calls, so batches straddle them. */
        for (uint32_t at = 0; at < N;) {
            uint32_t n = at % 3 == 0 ? 700 : 333;
            if (n > N - at) n = N - at;
            assert_int_equal(aw_index_upsert_batch(idx, jobs, ids + at, v + (size_t)at * D, NULL, n), AW_OK);
            at += n;
        }
        assert_int_equal(aw_index_count(idx), N);
        char path[256];
        snprintf(path, sizeof path, "/tmp/aw_test_index_batch_%d_%zu.awi", (int)getpid(), t);
        assert_int_equal(aw_index_save(idx, path), AW_OK);
        size_t size;
        unsigned char *bytes = read_all(path, &size);
        remove(path);
        if (!first) {
            first = bytes;
            first_size = size;
        } else {
            assert_int_equal(size, first_size);
            assert_memory_equal(bytes, first, size);
            free(bytes);
        }
        aw_index_destroy(idx);
        aw_jobs_destroy(jobs);
    }
    free(first);
    free(v);
    free(ids);
}

/* Recall of a batch-built graph against the flat index, beside one built by single inserts. */
static void test_batch_recall(void **state) {
    (void)state;
    float *v = make_vectors(5, N), *q = make_vectors(6, Q);
    uint64_t *ids = make_ids(N);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    aw_index *batch = aw_index_create(&(aw_index_desc){.dim = D, .m = 12, .ef_construction = 64});
    aw_index *single = aw_index_create(&(aw_index_desc){.dim = D, .m = 12, .ef_construction = 64});
    aw_index *flat = aw_index_create(&(aw_index_desc){.dim = D, .kind = AW_INDEX_FLAT});
    assert_int_equal(aw_index_upsert_batch(batch, jobs, ids, v, NULL, N), AW_OK);
    assert_int_equal(aw_index_upsert_batch(flat, jobs, ids, v, NULL, N), AW_OK);
    for (uint32_t i = 0; i < N; i++) assert_int_equal(aw_index_upsert(single, ids[i], v + (size_t)i * D, NULL), AW_OK);
    double rb = recall_vs_flat(batch, flat, q, Q, 10, 64);
    double rs = recall_vs_flat(single, flat, q, Q, 10, 64);
    print_message("recall@10 at ef 64: batch %.3f, single inserts %.3f\n", rb, rs);
    /* Hard data (wide clusters in 24-d): the bar is the single-insert graph's recall. */
    assert_true(rb >= 0.85);
    assert_true(rb >= rs - 0.02);
    /* Every vector is reachable: searching for it finds it first. */
    aw_index_scratch *s = aw_index_scratch_create(batch);
    uint32_t found_self = 0;
    for (uint32_t i = 0; i < N; i += 7) {
        aw_index_hit h[1];
        uint32_t n = 0;
        assert_int_equal(aw_index_search(batch, s, v + (size_t)i * D, 1, NULL, h, &n), AW_OK);
        found_self += n == 1 && h[0].id == ids[i];
    }
    assert_true(found_self >= (N / 7) * 99 / 100);
    aw_index_scratch_destroy(s);
    aw_index_destroy(batch);
    aw_index_destroy(single);
    aw_index_destroy(flat);
    aw_jobs_destroy(jobs);
    free(v);
    free(q);
    free(ids);
}

/* Ids repeated inside a call and across calls: the last vector and metadata win, as single
 * upserts in order would leave them. */
static void test_batch_replacements(void **state) {
    (void)state;
    enum { POOL = 400, CALLS = 12, PER = 300 };
    static float ref[POOL][D];
    static aw_index_meta ref_meta[POOL];
    static bool live[POOL];
    memset(live, 0, sizeof live);
    aw_rng rng;
    aw_rng_seed(&rng, 17);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 3});
    aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D, .metric = AW_INDEX_L2, .m = 6, .ef_construction = 32});
    uint64_t ids[PER];
    static float v[PER][D];
    aw_index_meta meta[PER];
    for (uint32_t c = 0; c < CALLS; c++) {
        for (uint32_t i = 0; i < PER; i++) {
            uint32_t p = aw_rng_range(&rng, POOL);
            ids[i] = p;
            for (uint32_t j = 0; j < D; j++) v[i][j] = aw_rng_float_range(&rng, -1, 1);
            meta[i] = (aw_index_meta){.kind = aw_rng_range(&rng, 4), .timestamp = (int64_t)(c * PER + i)};
            memcpy(ref[p], v[i], sizeof ref[p]);
            ref_meta[p] = meta[i];
            live[p] = true;
        }
        /* Big calls once the graph is big enough to batch. */
        assert_int_equal(aw_index_upsert_batch(idx, jobs, ids, &v[0][0], meta, PER), AW_OK);
        uint32_t want = 0;
        for (uint32_t p = 0; p < POOL; p++) {
            float got[D];
            aw_index_meta m;
            aw_status st = aw_index_get(idx, p, got, &m);
            if (!live[p]) {
                assert_int_equal(st, AW_ERR_NOT_FOUND);
                continue;
            }
            want++;
            assert_int_equal(st, AW_OK);
            assert_memory_equal(got, ref[p], sizeof got);
            assert_memory_equal(&m, &ref_meta[p], sizeof m);
        }
        assert_int_equal(aw_index_count(idx), want);
    }
    /* Searches return live vectors only, at their current distance. */
    aw_index_hit hits[10];
    uint32_t n = 0;
    assert_int_equal(aw_index_search(idx, NULL, ref[0], 10, NULL, hits, &n), AW_OK);
    assert_int_equal(n, 10);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(hits[i].id < POOL && live[hits[i].id]);
        double d = idx_test_distance(AW_INDEX_L2, ref[0], ref[hits[i].id], D);
        assert_true(fabs(d - hits[i].distance) < 1e-4 * (1 + d));
    }
    aw_index_destroy(idx);
    aw_jobs_destroy(jobs);
}

static void test_batch_bad_vectors(void **state) {
    (void)state;
    float *v = make_vectors(8, 2000);
    uint64_t *ids = make_ids(2000);
    aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D});
    assert_int_equal(aw_index_upsert_batch(idx, NULL, ids, v, NULL, 1500), AW_OK);
    v[1700 * D + 3] = NAN;
    assert_int_equal(aw_index_upsert_batch(idx, NULL, ids + 1500, v + 1500 * D, NULL, 500), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "vector 200"));
    assert_int_equal(aw_index_count(idx), 1500);
    memset(v + 1600 * D, 0, D * sizeof(float)); /* zero: no direction under cosine */
    v[1700 * D + 3] = 1;
    assert_int_equal(aw_index_upsert_batch(idx, NULL, ids + 1500, v + 1500 * D, NULL, 500), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_index_count(idx), 1500);
    assert_int_equal(aw_index_upsert_batch(NULL, NULL, ids, v, NULL, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_index_upsert_batch(idx, NULL, NULL, v, NULL, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_index_upsert_batch(idx, NULL, ids, v, NULL, 0), AW_OK);
    aw_index_destroy(idx);
    free(v);
    free(ids);
}

/* Allocation failures at many points: a prefix of the items is stored and findable, the rest are
 * not, nothing leaks. */
static void test_batch_out_of_memory(void **state) {
    (void)state;
    enum { M = 2600 };
    float *v = make_vectors(9, M);
    uint64_t *ids = make_ids(M);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    for (int64_t fail = 0; fail < 400; fail += fail < 16 ? 1 : 37) {
        rag_test_alloc ta;
        rag_test_alloc_init(&ta, fail);
        aw_index *idx = aw_index_create(&(aw_index_desc){.dim = D, .m = 6, .ef_construction = 24, .capacity = 1,
                                                         .allocator = &ta.base});
        if (!idx) {
            assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
            continue;
        }
        aw_status st = aw_index_upsert_batch(idx, jobs, ids, v, NULL, M);
        assert_true(st == AW_OK || st == AW_ERR_OUT_OF_MEMORY);
        uint32_t count = aw_index_count(idx);
        for (uint32_t i = 0; i < M; i++)
            assert_int_equal(aw_index_get(idx, ids[i], NULL, NULL), i < count ? AW_OK : AW_ERR_NOT_FOUND);
        aw_clear_error();
        aw_index_hit h[5];
        uint32_t n = 0;
        if (count) {
            aw_status s2 = aw_index_search(idx, NULL, v, 5, NULL, h, &n);
            assert_true(s2 == AW_OK || s2 == AW_ERR_OUT_OF_MEMORY);
            for (uint32_t i = 0; s2 == AW_OK && i < n; i++) {
                uint32_t k = 0;
                while (k < count && ids[k] != h[i].id) k++;
                assert_true(k < count);
            }
        }
        aw_index_destroy(idx);
        assert_int_equal(atomic_load(&ta.live_bytes), 0);
    }
    aw_jobs_destroy(jobs);
    free(v);
    free(ids);
}

/* ---------------------------------------------------------------- readers beside batch inserts */

static aw_index *shared;
static float *shared_vecs;
static uint64_t *shared_ids;
static _Atomic bool writing;
static _Atomic uint32_t bad_hits, searches;

static void *reader(void *arg) {
    aw_rng rng;
    aw_rng_seed(&rng, (uint64_t)(uintptr_t)arg);
    aw_index_scratch *s = aw_index_scratch_create(shared);
    aw_index_hit hits[10];
    float got[10][D];
    while (atomic_load(&writing)) {
        uint32_t qi = aw_rng_range(&rng, N);
        aw_index_query qq = {.k = 10, .ef_search = 32, .vectors = &got[0][0]};
        uint32_t n = 0;
        if (aw_index_search_ex(shared, s, shared_vecs + (size_t)qi * D, &qq, hits, &n) != AW_OK) {
            atomic_fetch_add(&bad_hits, 1);
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            /* The hit's vector must be the one stored under its id. */
            uint32_t item = N;
            for (uint32_t j = 0; j < N && item == N; j++)
                if (shared_ids[j] == hits[i].id) item = j;
            if (item == N || memcmp(got[i], shared_vecs + (size_t)item * D, sizeof got[i]) != 0 ||
                (i && hits[i].distance < hits[i - 1].distance))
                atomic_fetch_add(&bad_hits, 1);
        }
        atomic_fetch_add(&searches, 1);
    }
    aw_index_scratch_destroy(s);
    return NULL;
}

static void test_readers_beside_batches(void **state) {
    (void)state;
    shared_vecs = make_vectors(11, N);
    /* Unit vectors: stored as given under cosine, so the vectors read back compare bit for bit. */
    for (uint32_t i = 0; i < N; i++) {
        float *x = shared_vecs + (size_t)i * D;
        double nn = 0;
        for (uint32_t j = 0; j < D; j++) nn += (double)x[j] * x[j];
        for (uint32_t j = 0; j < D; j++) x[j] = (float)(x[j] / sqrt(nn));
        nn = 0;
        for (uint32_t j = 0; j < D; j++) nn += (double)x[j] * x[j];
        assert_true(fabs(nn - 1.0) <= AW_UNIT_NORM_TOLERANCE);
    }
    shared_ids = make_ids(N);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    shared = aw_index_create(&(aw_index_desc){.dim = D, .m = 8, .ef_construction = 32});
    assert_int_equal(aw_index_upsert_batch(shared, jobs, shared_ids, shared_vecs, NULL, 1100), AW_OK);
    atomic_store(&writing, true);
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++) pthread_create(&t[i], NULL, reader, (void *)(i + 1));
    for (uint32_t at = 1100; at < N; at += 300) {
        uint32_t n = N - at < 300 ? N - at : 300;
        assert_int_equal(aw_index_upsert_batch(shared, jobs, shared_ids + at, shared_vecs + (size_t)at * D, NULL, n),
                         AW_OK);
    }
    atomic_store(&writing, false);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    print_message("%u searches beside batch inserts\n", atomic_load(&searches));
    assert_int_equal(atomic_load(&bad_hits), 0);
    assert_int_equal(aw_index_count(shared), N);
    aw_index_destroy(shared);
    aw_jobs_destroy(jobs);
    free(shared_vecs);
    free(shared_ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_graph_any_thread_count), cmocka_unit_test(test_batch_recall),
        cmocka_unit_test(test_batch_replacements),          cmocka_unit_test(test_batch_bad_vectors),
        cmocka_unit_test(test_batch_out_of_memory),         cmocka_unit_test(test_readers_beside_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
