/* ctest-label: chroma */
/* The Chroma backend against a real server: the same reference checks as the local store, semantic
 * memory over it (sync and async), and the server's refusals as clear statuses. Needs
 * AW_CHROMA_URL (scripts/chroma-test.sh starts a server and sets it); without it every test skips. */
#include "store_test_util.h"

#include <time.h>
#include <unistd.h>

#include "aw/jobs.h"

static const char *server(void) {
    const char *url = getenv("AW_CHROMA_URL");
    if (!url || !*url) {
        print_message("AW_CHROMA_URL is not set: skipping the Chroma tests (scripts/chroma-test.sh runs them "
                      "against a local server)\n");
        return NULL;
    }
    return url;
}

/* A collection name of its own per run, so reruns against one server start empty. */
static const char *collection(const char *what) {
    static char name[96];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name, sizeof name, "aw-test-%s-%ld-%ld", what, (long)getpid(), (long)ts.tv_nsec);
    return name;
}

static void test_chroma_model(void **state) {
    (void)state;
    const char *url = server();
    if (!url) skip();
    aw_store *s = aw_store_open_chroma(&(aw_store_chroma_desc){.url = url, .collection = collection("model")});
    if (!s) fail_msg("%s", aw_last_error());
    assert_string_equal(aw_store_backend_name(s), "chroma");
    store_model_test(s, 40, false, true, 3);
    aw_store_close(s);
}

static void test_chroma_memory_matches_local(void **state) {
    (void)state;
    const char *url = server();
    if (!url) skip();
    aw_store *s = aw_store_open_chroma(&(aw_store_chroma_desc){.url = url, .collection = collection("memory")});
    if (!s) fail_msg("%s", aw_last_error());
    mt_set set;
    mt_set_make(&set, 300, 5, 6);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    aw_memory *remote = aw_memory_create(&(aw_memory_desc){.store = s, .jobs = jobs});
    aw_memory *local = aw_memory_create(&(aw_memory_desc){.local = {.exact = true}});
    assert_int_equal(aw_memory_add(remote, set.items, set.n), AW_OK);
    assert_int_equal(aw_memory_add(local, set.items, set.n), AW_OK);
    uint64_t count = 0;
    assert_int_equal(aw_store_count(s, &count), AW_OK);
    assert_int_equal(count, set.n);
    aw_rng rng;
    aw_rng_seed(&rng, 4);
    uint32_t same = 0, total = 0;
    for (int qi = 0; qi < 20; qi++) {
        float q[D];
        mt_near(&rng, set.vec + (size_t)aw_rng_range(&rng, set.n) * D, 0.03f, q);
        aw_memory_query query = {.embedding = q, .k = 8, .now = 20000, .mmr_lambda = qi % 2 ? 0.7f : 0.0f};
        if (qi % 3 == 0) query.filter = (aw_store_filter){.kinds = 0x3, .by_time = true, .time_min = 2000, .time_max = 15000};
        aw_memory_hit a[8], b[8];
        uint32_t na = 0, nb = 0;
        assert_int_equal(aw_memory_retrieve(remote, &query, a, 8, &na), AW_OK);
        assert_int_equal(aw_memory_retrieve(local, &query, b, 8, &nb), AW_OK);
        assert_int_equal(na, nb);
        for (uint32_t i = 0; i < na; i++)
            for (uint32_t j = 0; j < nb; j++) same += a[i].id == b[j].id;
        total += nb;
        /* The same query asynchronously: polled until the worker is done. */
        aw_memory_request req;
        assert_int_equal(aw_memory_submit(remote, &query, &req), AW_OK);
        aw_status st;
        uint32_t nc = 0;
        aw_memory_hit c[8];
        while ((st = aw_memory_poll(remote, req, c, 8, &nc)) == AW_ERR_PENDING) nanosleep(&(struct timespec){0, 200000}, NULL);
        assert_int_equal(st, AW_OK);
        assert_int_equal(nc, na);
        for (uint32_t i = 0; i < nc; i++) assert_int_equal(c[i].id, a[i].id);
    }
    assert_true(same >= total * 9 / 10);
    /* Forgetting reaches the server. */
    for (uint64_t id = 1; id <= 100; id++) assert_int_equal(aw_memory_forget(remote, id), AW_OK);
    assert_int_equal(aw_store_count(s, &count), AW_OK);
    assert_int_equal(count, set.n - 100);
    assert_int_equal(aw_memory_unsynced(remote), 0);
    aw_memory_destroy(remote);
    aw_memory_destroy(local);
    aw_jobs_destroy(jobs);
    aw_store_close(s);
    mt_set_free(&set);
}

static void test_chroma_refusals(void **state) {
    (void)state;
    const char *url = server();
    if (!url) skip();
    const char *name = collection("dims");
    char keep[96];
    snprintf(keep, sizeof keep, "%s", name);
    aw_store *s = aw_store_open_chroma(&(aw_store_chroma_desc){.url = url, .collection = keep});
    if (!s) fail_msg("%s", aw_last_error());
    float v[D];
    aw_rng rng;
    aw_rng_seed(&rng, 1);
    mt_random_unit(&rng, v);
    uint64_t id = 5;
    aw_store_meta meta = {.kind = AW_MEMORY_LORE, .time = 3};
    assert_int_equal(aw_store_upsert(s, &id, v, &meta, 1), AW_OK);
    /* The collection now holds 512-d vectors: a 3-d store over it is refused when opened... */
    assert_null(aw_store_open_chroma(&(aw_store_chroma_desc){.url = url, .collection = keep, .dim = 3}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    /* A 3-d store of its own works (the interface is not tied to 512-d). */
    aw_store *other = aw_store_open_chroma(&(aw_store_chroma_desc){.url = url, .collection = collection("dims2"), .dim = 3});
    if (!other) fail_msg("%s", aw_last_error());
    float small[3] = {1, 0, 0};
    assert_int_equal(aw_store_upsert(other, &id, small, &meta, 1), AW_OK);
    aw_store_hit hits[3];
    uint32_t found = 0;
    assert_int_equal(aw_store_query(other, small, 3, NULL, hits, &found), AW_OK);
    assert_int_equal(found, 1);
    assert_int_equal(hits[0].id, 5);
    /* A wrong tenant is an HTTP error from the server, not a crash. */
    assert_null(aw_store_open_chroma(&(aw_store_chroma_desc){.url = url, .collection = "abc", .tenant = "no-such-tenant"}));
    assert_true(aw_last_status() == AW_ERR_NOT_FOUND || aw_last_status() == AW_ERR_INVALID_ARG ||
                aw_last_status() == AW_ERR_UNAVAILABLE);
    assert_non_null(strstr(aw_last_error(), "HTTP"));
    aw_store_close(other);
    aw_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chroma_model),
        cmocka_unit_test(test_chroma_memory_matches_local),
        cmocka_unit_test(test_chroma_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
