/* ctest-label: threads */
/* The memory's projected store: the switch at AW_MEMORY_FIT_COUNT memories, recall and exact scores
 * against the exact memory, the same answers for any thread count and through the asynchronous path,
 * forgetting and replacing after the switch, save and load, and bad settings refused by name. */
#include "memory_test_util.h"

#include "aw/jobs.h"

#include <unistd.h>

enum { N = 2600, PER = 40, BATCH = 200, QUERIES = 40 };

/* Adds s in batches; checks the store's dimension on both sides of the switch. */
static void add_all(aw_memory *m, const mt_set *s, uint32_t expect_dim) {
    for (uint32_t at = 0; at < s->n; at += BATCH) {
        uint32_t n = s->n - at < BATCH ? s->n - at : BATCH;
        assert_int_equal(aw_memory_add(m, s->items + at, n), AW_OK);
        uint32_t dim = aw_store_dim(aw_memory_store(m));
        assert_int_equal(dim, at + n >= AW_MEMORY_FIT_COUNT ? expect_dim : D);
    }
}

/* A query near item i (noise 0.02). */
static void query_near(const mt_set *s, uint32_t i, aw_rng *rng, float *q) {
    mt_near(rng, s->vec + (size_t)i * D, 0.02f, q);
}

/* recall@10 of m against the exact memory over QUERIES queries near random items of s; every hit's
 * score is the cosine with the full embedding, and hits come best first. */
static double recall_on(aw_memory *m, aw_memory *exact, const mt_set *s, uint64_t seed) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    double same = 0;
    for (uint32_t k = 0; k < QUERIES; k++) {
        float q[D];
        query_near(s, aw_rng_range(&rng, s->n), &rng, q);
        aw_memory_query query = {.k = 10, .ranker = AW_RANKER_SIMILARITY, .candidates = 10, .embedding = q};
        aw_memory_hit h[10], e[10];
        uint32_t nh = 0, ne = 0;
        assert_int_equal(aw_memory_retrieve(m, &query, h, 10, &nh), AW_OK);
        assert_int_equal(aw_memory_retrieve(exact, &query, e, 10, &ne), AW_OK);
        assert_int_equal(nh, 10);
        for (uint32_t i = 0; i < nh; i++) {
            /* Scores are on the full embeddings, whatever the store searched. */
            aw_memory_item it;
            assert_int_equal(aw_memory_get(m, h[i].id, &it), AW_OK);
            assert_true(fabs(h[i].similarity - mt_dot(q, it.embedding)) < 1e-4);
            if (i) assert_true(h[i - 1].similarity >= h[i].similarity);
            for (uint32_t j = 0; j < ne; j++) same += h[i].id == e[j].id;
        }
    }
    return same / (10.0 * QUERIES);
}

static void test_switch_recall_and_exact_scores(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, N, PER, 77);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){0});
    aw_memory *exact = aw_memory_create(&(aw_memory_desc){.local = {.exact = true}});
    assert_non_null(m);
    assert_non_null(exact);
    assert_int_equal(aw_memory_get_search_stats(m).fits, 0);
    add_all(m, &s, 128);
    assert_int_equal(aw_memory_add(exact, s.items, N), AW_OK);
    aw_memory_search_stats st = aw_memory_get_search_stats(m);
    float energy = st.fit_energy;
    assert_int_equal(st.dim, 128);
    assert_int_equal(st.fits, 1);
    assert_true(energy > 0.5f && energy <= 1.0f);
    assert_true(st.added_since_fit > 0 && st.recent_energy > 0.0f && st.recent_energy <= 1.0f);
    double recall = recall_on(m, exact, &s, 5);
    print_message("recall@10 on the projection: %.3f (energy kept %.3f)\n", recall, (double)energy);
    assert_true(recall >= 0.95);
    aw_memory_destroy(m);
    aw_memory_destroy(exact);
    mt_set_free(&s);
}

/* The same memories give the same answers with parallel inserts (2 and 3 threads) and inline, and the
 * asynchronous path gives what the synchronous one does. */
static void test_same_for_any_thread_count(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, N, PER, 78);
    aw_jobs *jobs2 = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    aw_jobs *jobs3 = aw_jobs_create(&(aw_jobs_desc){.threads = 3});
    aw_memory *ms[3] = {aw_memory_create(&(aw_memory_desc){0}), aw_memory_create(&(aw_memory_desc){.jobs = jobs2}),
                        aw_memory_create(&(aw_memory_desc){.jobs = jobs3})};
    for (int i = 0; i < 3; i++) {
        assert_non_null(ms[i]);
        add_all(ms[i], &s, 128);
    }
    aw_rng rng;
    aw_rng_seed(&rng, 6);
    for (uint32_t k = 0; k < QUERIES; k++) {
        float q[D];
        query_near(&s, aw_rng_range(&rng, N), &rng, q);
        aw_memory_query query = {.k = 10, .embedding = q, .now = 20000.0, .mmr_lambda = k % 2 ? 0.7f : 0.0f};
        aw_memory_hit h[3][10], a[10];
        uint32_t n[3], na = 0;
        for (int i = 0; i < 3; i++) assert_int_equal(aw_memory_retrieve(ms[i], &query, h[i], 10, &n[i]), AW_OK);
        for (int i = 1; i < 3; i++) {
            assert_int_equal(n[i], n[0]);
            assert_memory_equal(h[i], h[0], sizeof(aw_memory_hit) * n[0]);
        }
        aw_memory_request r;
        assert_int_equal(aw_memory_submit(ms[1], &query, &r), AW_OK);
        aw_status st;
        while ((st = aw_memory_poll(ms[1], r, a, 10, &na)) == AW_ERR_PENDING) aw_jobs_wait_all(jobs2);
        assert_int_equal(st, AW_OK);
        assert_int_equal(na, n[0]);
        assert_memory_equal(a, h[0], sizeof(aw_memory_hit) * na);
    }
    for (int i = 0; i < 3; i++) aw_memory_destroy(ms[i]);
    aw_jobs_destroy(jobs2);
    aw_jobs_destroy(jobs3);
    mt_set_free(&s);
}

/* After the switch: a forgotten memory is never returned, a replaced one is found by its new vector,
 * and a saved memory loads into one that answers the same. */
static void test_forget_replace_save_load(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, N, PER, 79);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){0});
    assert_non_null(m);
    add_all(m, &s, 128);
    for (uint64_t id = 1; id <= N; id += 7) assert_int_equal(aw_memory_forget(m, id), AW_OK);
    aw_memory_item repl = s.items[1]; /* id 2 takes item 2000's vector (another cluster) */
    repl.embedding = s.vec + (size_t)1999 * D;
    assert_int_equal(aw_memory_add(m, &repl, 1), AW_OK);
    aw_memory_query near2000 = {.k = 2, .ranker = AW_RANKER_SIMILARITY, .embedding = s.vec + (size_t)1999 * D};
    aw_memory_hit h[10];
    uint32_t n = 0;
    assert_int_equal(aw_memory_retrieve(m, &near2000, h, 2, &n), AW_OK);
    assert_int_equal(n, 2);
    assert_true((h[0].id == 2 && h[1].id == 2000) || (h[0].id == 2000 && h[1].id == 2));
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    char path[] = "/tmp/aw_test_memory_projection_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(aw_memory_save(m, path), AW_OK);
    aw_memory *loaded = aw_memory_create(&(aw_memory_desc){0});
    assert_non_null(loaded);
    assert_int_equal(aw_memory_load(loaded, path), AW_OK);
    unlink(path);
    assert_int_equal(aw_store_dim(aw_memory_store(loaded)), 128);
    double same = 0;
    for (uint32_t k = 0; k < QUERIES; k++) {
        float q[D];
        query_near(&s, aw_rng_range(&rng, N), &rng, q);
        aw_memory_query query = {.k = 10, .embedding = q, .now = 20000.0};
        aw_memory_hit a[10], b[10];
        uint32_t na = 0, nb = 0;
        assert_int_equal(aw_memory_retrieve(m, &query, a, 10, &na), AW_OK);
        assert_int_equal(aw_memory_retrieve(loaded, &query, b, 10, &nb), AW_OK);
        for (uint32_t i = 0; i < na; i++) {
            assert_true(a[i].id % 7 != 1); /* forgotten */
            for (uint32_t j = 0; j < nb; j++) same += a[i].id == b[j].id;
        }
    }
    /* The loaded memory fits its own sample (rows in file order), so its answers may differ a little. */
    assert_true(same / (10.0 * QUERIES) >= 0.95);
    aw_memory_destroy(m);
    aw_memory_destroy(loaded);
    mt_set_free(&s);
}

static void test_bad_search_dim(void **state) {
    (void)state;
    const uint32_t bad[] = {100, 640, 33};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(aw_memory_create(&(aw_memory_desc){.search_dim = bad[i]}));
        assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
        assert_non_null(strstr(aw_last_error(), "search_dim"));
    }
    assert_null(aw_memory_create(&(aw_memory_desc){.search_dim = 64, .local = {.exact = true}}));
    assert_non_null(strstr(aw_last_error(), "search_dim"));
    aw_store *given = aw_store_open_local(&(aw_store_local_desc){0});
    assert_non_null(given);
    assert_null(aw_memory_create(&(aw_memory_desc){.store = given, .search_dim = 128}));
    assert_non_null(strstr(aw_last_error(), "search_dim"));
    aw_store_close(given);
    /* The full dimension: no projection, ever. */
    mt_set s;
    mt_set_make(&s, N, PER, 80);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.search_dim = D});
    assert_non_null(m);
    add_all(m, &s, D);
    aw_memory_search_stats st = aw_memory_get_search_stats(m);
    assert_true(st.dim == D && st.fits == 0 && st.fit_energy == 0.0f);
    assert_int_equal(aw_memory_refit(m), AW_ERR_UNSUPPORTED);
    aw_memory_destroy(m);
    mt_set_free(&s);
}

/* Memories of a new kind after the fit: spread evenly over other dimensions than the first ones'
 * (per 1: no clusters), so the fitted directions see little of them and not the differences between
 * them. The kept energy of the new rows falls, recall on them with it, and a refit brings both back. */
static void make_in_dims(mt_set *s, uint32_t n, uint32_t per, uint32_t first_dim, uint32_t dims, float noise,
                         uint64_t id0, uint64_t seed) {
    mt_set_make(s, n, PER, seed);
    aw_rng rng;
    aw_rng_seed(&rng, seed ^ 0x5eed);
    float centre[D];
    for (uint32_t i = 0; i < n; i++) {
        if (i % per == 0) {
            memset(centre, 0, sizeof centre);
            for (uint32_t d = first_dim; d < first_dim + dims; d++) centre[d] = mt_gauss(&rng);
            mt_normalise(centre);
        }
        mt_near(&rng, centre, noise, s->vec + (size_t)i * D);
        s->items[i].id = id0 + i;
        s->items[i].embedding = s->vec + (size_t)i * D;
    }
}

static void test_drift_and_refit(void **state) {
    (void)state;
    mt_set old, fresh;
    make_in_dims(&old, AW_MEMORY_FIT_COUNT, PER, 0, 200, 0.02f, 1, 81);
    make_in_dims(&fresh, 3000, 1, 256, 64, 0.002f, 100000, 82);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){0});
    aw_memory *exact = aw_memory_create(&(aw_memory_desc){.local = {.exact = true}});
    assert_non_null(m);
    assert_non_null(exact);
    assert_int_equal(aw_memory_add(m, old.items, old.n), AW_OK);
    assert_int_equal(aw_memory_add(exact, old.items, old.n), AW_OK);
    for (uint32_t at = 0; at < fresh.n; at += BATCH) {
        uint32_t n = fresh.n - at < BATCH ? fresh.n - at : BATCH;
        assert_int_equal(aw_memory_add(m, fresh.items + at, n), AW_OK);
        assert_int_equal(aw_memory_add(exact, fresh.items + at, n), AW_OK);
    }
    aw_memory_search_stats st = aw_memory_get_search_stats(m);
    assert_int_equal(st.fits, 1);
    assert_int_equal(st.added_since_fit, fresh.n);
    double before = recall_on(m, exact, &fresh, 9);
    print_message("new rows: energy %.3f against %.3f at the fit, recall@10 %.3f\n", (double)st.recent_energy,
                  (double)st.fit_energy, before);
    assert_true(st.recent_energy < st.fit_energy - 0.3f);
    assert_int_equal(aw_memory_refit(m), AW_OK);
    st = aw_memory_get_search_stats(m);
    assert_int_equal(st.fits, 2);
    assert_int_equal(st.added_since_fit, 0);
    double after = recall_on(m, exact, &fresh, 9);
    print_message("after the refit: fit energy %.3f, recall@10 %.3f on the new rows, %.3f on the old\n",
                  (double)st.fit_energy, after, recall_on(m, exact, &old, 10));
    assert_true(after >= 0.95);
    assert_true(after > before);
    aw_memory_destroy(m);
    aw_memory_destroy(exact);
    mt_set_free(&old);
    mt_set_free(&fresh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch_recall_and_exact_scores),
        cmocka_unit_test(test_same_for_any_thread_count),
        cmocka_unit_test(test_forget_replace_save_load),
        cmocka_unit_test(test_bad_search_dim),
        cmocka_unit_test(test_drift_and_refit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
