/* ctest-label: threads */
/* One writer and several searching threads on one vector index (run under ThreadSanitizer in CI):
 * the writer inserts, replaces, deletes and saves while the readers search, with and without
 * filters. Every hit a reader gets must be a vector the writer stored, at its exact distance, in
 * order; afterwards the index answers as one built alone would (recall against the flat index). */
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

#define N       6000
#define D       24
#define READERS 3

static float vecs[N][D];
static aw_index *shared;
static _Atomic bool writing;
static _Atomic uint32_t bad_hits, searches, short_answers;
static char save_path[256];

static void *writer(void *arg) {
    (void)arg;
    for (uint32_t i = 0; i < N; i++) {
        aw_index_meta m = {.kind = i % 4, .timestamp = i};
        if (aw_index_upsert(shared, i, vecs[i], &m) != AW_OK) atomic_fetch_add(&bad_hits, 1000);
        if (i % 7 == 3) aw_index_delete(shared, i - 3);                    /* tombstone */
        if (i % 11 == 5) { /* replace (same vector and metadata) */
            aw_index_meta r = {.kind = (i - 5) % 4, .timestamp = i - 5};
            aw_index_upsert(shared, i - 5, vecs[i - 5], &r);
        }
        if (i % 2000 == 1999 && aw_index_save(shared, save_path) != AW_OK) atomic_fetch_add(&bad_hits, 1000);
    }
    atomic_store(&writing, false);
    return NULL;
}

static void *reader(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    aw_index_scratch *s = aw_index_scratch_create(shared);
    aw_index_hit hits[10];
    float got[10][D];
    aw_index_filter even_kinds = {.kinds = 1u << 0 | 1u << 2};
    while (atomic_load(&writing)) {
        const float *q = vecs[aw_rng_range(&rng, N)];
        bool filtered = aw_rng_range(&rng, 2);
        aw_index_query qq = {.k = 10, .ef_search = 32, .filter = filtered ? &even_kinds : NULL, .vectors = &got[0][0]};
        uint32_t n = 0;
        if (aw_index_search_ex(shared, s, q, &qq, hits, &n) != AW_OK) {
            atomic_fetch_add(&bad_hits, 1);
            continue;
        }
        atomic_fetch_add(&searches, 1);
        if (n < 10 && aw_index_count(shared) > 100) atomic_fetch_add(&short_answers, 1);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t id = hits[i].id;
            bool ok = id < N && (!filtered || id % 2 == 0) && memcmp(got[i], vecs[id], sizeof got[i]) == 0 &&
                      fabs(hits[i].distance - idx_test_distance(AW_INDEX_L2, q, vecs[id], D)) < 1e-3 &&
                      (i == 0 || hits[i].distance >= hits[i - 1].distance);
            if (!ok) atomic_fetch_add(&bad_hits, 1);
        }
    }
    aw_index_scratch_destroy(s);
    return NULL;
}

static void test_readers_and_writer(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 4);
    idx_test_clustered(&rng, &vecs[0][0], N, D, 16);
    const char *tmp = getenv("TMPDIR");
    snprintf(save_path, sizeof save_path, "%s/aw-index-threads-%d.awi", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    for (int kind = 0; kind < 2; kind++) {
        shared = aw_index_create(&(aw_index_desc){.dim = D, .metric = AW_INDEX_L2, .kind = (aw_index_kind)kind, .m = 8,
                                                   .ef_construction = 64, .capacity = 100});
        assert_non_null(shared);
        atomic_store(&writing, true);
        atomic_store(&searches, 0);
        pthread_t w, r[READERS];
        for (uintptr_t i = 0; i < READERS; i++) assert_int_equal(pthread_create(&r[i], NULL, reader, (void *)(i + 1)), 0);
        assert_int_equal(pthread_create(&w, NULL, writer, NULL), 0);
        pthread_join(w, NULL);
        for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
        print_message("kind %d: %u searches beside the writer, %u bad hits, %u short answers\n", kind,
                      atomic_load(&searches), atomic_load(&bad_hits), atomic_load(&short_answers));
        assert_int_equal(atomic_load(&bad_hits), 0);
        assert_true(atomic_load(&searches) > 0);

        /* The final index against the flat one over the same live vectors. */
        aw_index *flat = aw_index_create(&(aw_index_desc){.dim = D, .metric = AW_INDEX_L2, .kind = AW_INDEX_FLAT});
        bool live[N];
        uint32_t nlive = 0;
        for (uint32_t i = 0; i < N; i++) {
            live[i] = aw_index_get(shared, i, NULL, NULL) == AW_OK;
            if (live[i]) aw_index_upsert(flat, i, vecs[i], NULL), nlive++;
        }
        assert_int_equal(aw_index_count(shared), nlive);
        uint32_t hit = 0, total = 0;
        for (uint32_t j = 0; j < 100; j++) {
            aw_index_hit a[10], b[10];
            uint32_t na, nb;
            const float *q = vecs[(j * 37) % N];
            aw_index_query qq = {.k = 10, .ef_search = 100};
            assert_int_equal(aw_index_search_ex(shared, NULL, q, &qq, a, &na), AW_OK);
            assert_int_equal(aw_index_search(flat, NULL, q, 10, NULL, b, &nb), AW_OK);
            for (uint32_t x = 0; x < nb; x++)
                for (uint32_t y = 0; y < na; y++) hit += a[y].id == b[x].id;
            total += nb;
        }
        print_message("kind %d: recall@10 %.3f after the concurrent build\n", kind, (double)hit / total);
        assert_true(hit >= 0.95 * total);
        aw_index_destroy(flat);
        aw_index_destroy(shared);
    }
    unlink(save_path);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_readers_and_writer)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
