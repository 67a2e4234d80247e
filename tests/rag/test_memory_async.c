/* ctest-label: threads */
/* Asynchronous retrieval: requests run on job-system workers while the submitting (game) thread
 * goes on adding and forgetting; polls say AW_ERR_PENDING until a worker is done and then match the
 * synchronous results; a request stuck in its store never blocks a poll; timeouts, cancels, capacity. */
#include "store_test_util.h"

#include <stdatomic.h>
#include <time.h>

#include "aw/jobs.h"
#include "rag_test_util.h"

static void nap_us(long us) {
    nanosleep(&(struct timespec){0, us * 1000}, NULL);
}

static void test_async_matches_sync(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 600, 6, 31);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 3});
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.jobs = jobs, .local = {.exact = true}, .max_requests = 32});
    assert_non_null(m);
    assert_int_equal(aw_memory_add(m, s.items, 400), AW_OK);
    aw_rng rng;
    aw_rng_seed(&rng, 2);
    enum { Q = 32 };
    static float q[Q][D];
    aw_memory_query query[Q];
    aw_memory_request req[Q];
    for (int i = 0; i < Q; i++) {
        mt_near(&rng, s.vec + (size_t)aw_rng_range(&rng, 400) * D, 0.03f, q[i]);
        query[i] = (aw_memory_query){.embedding = q[i], .k = 8, .now = 20000, .mmr_lambda = i % 2 ? 0.6f : 0};
        assert_int_equal(aw_memory_submit(m, &query[i], &req[i]), AW_OK);
    }
    /* Frames: poll everything; meanwhile the game thread keeps changing the memory. */
    bool done[Q] = {false};
    uint32_t left = Q, frame = 0, next_add = 400;
    aw_memory_hit hits[Q][8];
    uint32_t found[Q];
    while (left) {
        for (int i = 0; i < Q; i++) {
            if (done[i]) continue;
            aw_status st = aw_memory_poll(m, req[i], hits[i], 8, &found[i]);
            if (st == AW_ERR_PENDING) continue;
            assert_int_equal(st, AW_OK);
            done[i] = true;
            left--;
            /* Whatever the memory held when the worker searched, every hit exists now. */
            for (uint32_t h = 0; h < found[i]; h++) {
                aw_memory_item it;
                assert_int_equal(aw_memory_get(m, hits[i][h].id, &it), AW_OK);
            }
            assert_int_equal(aw_memory_poll(m, req[i], hits[i], 8, &found[i]), AW_ERR_NOT_FOUND); /* gone */
        }
        if (next_add < 600) {
            assert_int_equal(aw_memory_add(m, s.items + next_add, 20), AW_OK);
            next_add += 20;
        }
        if (frame % 3 == 0) aw_memory_forget(m, 1 + frame);
        frame++;
        nap_us(100);
    }
    /* With the memory quiet, async and sync agree exactly. */
    for (int i = 0; i < Q; i++) {
        aw_memory_hit want[8];
        uint32_t nw = 0, n = 0;
        assert_int_equal(aw_memory_submit(m, &query[i], &req[i]), AW_OK);
        aw_status st;
        while ((st = aw_memory_poll(m, req[i], hits[i], 8, &n)) == AW_ERR_PENDING) nap_us(50);
        assert_int_equal(st, AW_OK);
        assert_int_equal(aw_memory_retrieve(m, &query[i], want, 8, &nw), AW_OK);
        assert_int_equal(n, nw);
        for (uint32_t h = 0; h < n; h++) {
            assert_int_equal(hits[i][h].id, want[h].id);
            assert_true(hits[i][h].score == want[h].score);
        }
    }
    aw_memory_destroy(m);
    aw_jobs_destroy(jobs);
    mt_set_free(&s);
}

/* A backend whose queries wait at a gate, like a slow server. */
typedef struct gated {
    aw_store *inner;
    _Atomic int open;
    _Atomic int waiting;
} gated;

static aw_status gated_upsert(void *self, const uint64_t *ids, const float *v, const aw_store_meta *m, uint32_t n) {
    return aw_store_upsert(((gated *)self)->inner, ids, v, m, n);
}
static aw_status gated_remove(void *self, const uint64_t *ids, uint32_t n) {
    return aw_store_delete(((gated *)self)->inner, ids, n);
}
static aw_status gated_query(void *self, const float *q, uint32_t k, const aw_store_filter *f, aw_store_hit *hits,
                             uint32_t *found) {
    gated *g = self;
    atomic_fetch_add(&g->waiting, 1);
    while (!atomic_load(&g->open)) nap_us(100);
    atomic_fetch_sub(&g->waiting, 1);
    return aw_store_query(g->inner, q, k, f, hits, found);
}
static aw_status gated_count(void *self, uint64_t *count) {
    return aw_store_count(((gated *)self)->inner, count);
}
static void gated_close(void *self) {
    (void)self;
}
static const aw_store_backend gated_backend = {"gated", gated_upsert, gated_remove, gated_query, gated_count,
                                               gated_close,  NULL};

static void test_poll_never_blocks(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 100, 5, 8);
    gated g = {.inner = aw_store_open_local(&(aw_store_local_desc){.exact = true})};
    aw_store *store = aw_store_create(&gated_backend, &g, D, NULL);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 3});
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.store = store, .jobs = jobs, .max_requests = 2});
    assert_int_equal(aw_memory_add(m, s.items, 50), AW_OK);
    aw_memory_query q = {.embedding = s.vec, .k = 3, .ranker = AW_RANKER_SIMILARITY};
    aw_memory_request a, b, c;
    assert_int_equal(aw_memory_submit(m, &q, &a), AW_OK);
    q.timeout_ms = 1;
    assert_int_equal(aw_memory_submit(m, &q, &b), AW_OK);
    q.timeout_ms = 0;
    assert_int_equal(aw_memory_submit(m, &q, &c), AW_ERR_CAPACITY);
    while (atomic_load(&g.waiting) < 2) nap_us(100); /* both workers are stuck in the store */
    aw_memory_hit hits[3];
    uint32_t n = 0;
    for (int frame = 0; frame < 20; frame++) {
        assert_int_equal(aw_memory_poll(m, a, hits, 3, &n), AW_ERR_PENDING); /* returns at once */
        assert_int_equal(aw_memory_add(m, s.items + 50 + frame, 1), AW_OK);  /* the game goes on */
    }
    nap_us(3000);
    assert_int_equal(aw_memory_poll(m, b, hits, 3, &n), AW_ERR_TIMEOUT);
    assert_int_equal(aw_memory_poll(m, b, hits, 3, &n), AW_ERR_NOT_FOUND);
    aw_memory_cancel(m, a);
    assert_int_equal(aw_memory_poll(m, a, hits, 3, &n), AW_ERR_NOT_FOUND);
    /* Both slots are still held by their stuck workers until the store answers. */
    assert_int_equal(aw_memory_submit(m, &q, &c), AW_ERR_CAPACITY);
    atomic_store(&g.open, 1);
    aw_status st = AW_ERR_CAPACITY;
    for (int i = 0; i < 10000 && st == AW_ERR_CAPACITY; i++) {
        st = aw_memory_submit(m, &q, &c);
        if (st == AW_ERR_CAPACITY) nap_us(100);
    }
    assert_int_equal(st, AW_OK);
    while ((st = aw_memory_poll(m, c, hits, 3, &n)) == AW_ERR_PENDING) nap_us(50);
    assert_int_equal(st, AW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(hits[0].id, 1);
    aw_memory_destroy(m);
    aw_jobs_destroy(jobs);
    aw_store_close(store);
    aw_store_close(g.inner);
    mt_set_free(&s);
}

/* Without a job system a request runs inside submit: the first poll has the answer. */
static void test_inline_without_jobs(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 40, 4, 9);
    aw_memory *m = aw_memory_create(NULL);
    assert_int_equal(aw_memory_add(m, s.items, s.n), AW_OK);
    aw_memory_query q = {.embedding = s.vec + 7 * D, .k = 1, .ranker = AW_RANKER_SIMILARITY};
    aw_memory_request r;
    assert_int_equal(aw_memory_submit(m, &q, &r), AW_OK);
    aw_memory_hit hit;
    uint32_t n = 0;
    assert_int_equal(aw_memory_poll(m, r, &hit, 1, &n), AW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hit.id, 8);
    q.ranker = AW_RANKER_OVERLAP;
    q.text = "x";
    assert_int_equal(aw_memory_submit(m, &q, &r), AW_ERR_UNSUPPORTED);
    assert_int_equal(aw_memory_poll(m, (aw_memory_request){99, 1}, &hit, 1, &n), AW_ERR_NOT_FOUND);
    aw_memory_destroy(m);
    mt_set_free(&s);
}

/* Text queries: the worker embeds them. */
static void test_async_text_queries(void **state) {
    (void)state;
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    aw_encoder *enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = rag_test_model_dir(), .jobs = jobs});
    assert_non_null(enc);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.encoder = enc, .jobs = jobs});
    static const char *texts[] = {"Wolves attacked the sheep at night.", "The queen lives in a white castle.",
                                  "The smith forges swords from iron.", "Pirates raid ships along the coast."};
    aw_memory_item items[4];
    for (int i = 0; i < 4; i++) items[i] = (aw_memory_item){.id = (uint64_t)i + 1, .text = texts[i]};
    assert_int_equal(aw_memory_add(m, items, 4), AW_OK);
    static const char *queries[] = {"predators killed the flock", "where does the monarch reside",
                                    "who makes blades", "sea raiders"};
    aw_memory_request req[4];
    for (int i = 0; i < 4; i++) {
        aw_memory_query q = {.text = queries[i], .k = 1, .ranker = AW_RANKER_SIMILARITY};
        assert_int_equal(aw_memory_submit(m, &q, &req[i]), AW_OK);
    }
    for (int i = 0; i < 4; i++) {
        aw_memory_hit hit, want;
        uint32_t n = 0, nw = 0;
        aw_status st;
        while ((st = aw_memory_poll(m, req[i], &hit, 1, &n)) == AW_ERR_PENDING) nap_us(100);
        assert_int_equal(st, AW_OK);
        aw_memory_query q = {.text = queries[i], .k = 1, .ranker = AW_RANKER_SIMILARITY};
        assert_int_equal(aw_memory_retrieve(m, &q, &want, 1, &nw), AW_OK);
        assert_int_equal(hit.id, want.id);
        assert_true(fabsf(hit.similarity - want.similarity) < 1e-5f);
    }
    aw_memory_destroy(m);
    aw_encoder_destroy(enc);
    aw_jobs_destroy(jobs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_matches_sync),
        cmocka_unit_test(test_poll_never_blocks),
        cmocka_unit_test(test_inline_without_jobs),
        cmocka_unit_test(test_async_text_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
