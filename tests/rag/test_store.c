/* The store interface: the local backend (HNSW and flat) against a reference array, refused calls,
 * and what semantic memory does when its store goes down (nothing lost, synced later) or was never
 * there (a Chroma URL nothing listens on). */
#include "store_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_local_flat_model(void **state) {
    (void)state;
    aw_store *s = aw_store_open_local(&(aw_store_local_desc){.exact = true});
    assert_non_null(s);
    assert_string_equal(aw_store_backend_name(s), "local");
    assert_int_equal(aw_store_dim(s), D);
    store_model_test(s, 200, true, false, 1);
    aw_store_close(s);
}

static void test_local_hnsw_model(void **state) {
    (void)state;
    aw_store *s = aw_store_open_local(NULL);
    assert_non_null(s);
    store_model_test(s, 200, false, false, 2);
    aw_store_close(s);
}

static void test_refused_calls(void **state) {
    (void)state;
    aw_store *s = aw_store_open_local(&(aw_store_local_desc){.exact = true});
    float v[D] = {1};
    aw_store_meta meta = {.kind = AW_MEMORY_LORE};
    uint64_t id0 = 0, id1 = 1;
    assert_int_equal(aw_store_upsert(s, &id0, v, &meta, 1), AW_ERR_INVALID_ARG);
    aw_store_meta bad = {.kind = 99};
    assert_int_equal(aw_store_upsert(s, &id1, v, &bad, 1), AW_ERR_INVALID_ARG);
    bad = (aw_store_meta){.time = NAN};
    assert_int_equal(aw_store_upsert(s, &id1, v, &bad, 1), AW_ERR_INVALID_ARG);
    v[2] = INFINITY;
    assert_int_equal(aw_store_upsert(s, &id1, v, &meta, 1), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_store_query(s, v, 3, NULL, (aw_store_hit[3]){{0}}, (uint32_t[1]){0}), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_store_upsert(s, NULL, v, &meta, 1), AW_ERR_INVALID_ARG);
    uint64_t count = 1;
    assert_int_equal(aw_store_count(s, &count), AW_OK);
    assert_int_equal(count, 0);
    assert_null(aw_store_create(&(aw_store_backend){.name = "half"}, NULL, D, NULL));
    assert_null(aw_store_open_chroma(&(aw_store_chroma_desc){.url = "ftp://x", .collection = "abc"}));
    assert_null(aw_store_open_chroma(&(aw_store_chroma_desc){.url = "http://127.0.0.1:1", .collection = "a"}));
    assert_null(aw_store_open_chroma(&(aw_store_chroma_desc){.url = "http://127.0.0.1:1", .collection = "a b c"}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    aw_store_close(s);
    aw_store_close(NULL);
}

/* The memory keeps everything when its store fails, says so, and catches up on sync. */
static void test_memory_survives_store_down(void **state) {
    (void)state;
    flaky f = {.inner = aw_store_open_local(&(aw_store_local_desc){.exact = true})};
    aw_store *s = aw_store_create(&flaky_backend, &f, D, NULL);
    assert_non_null(s);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.store = s});
    assert_non_null(m);
    mt_set set;
    mt_set_make(&set, 60, 6, 4);
    assert_int_equal(aw_memory_add(m, set.items, 20), AW_OK);
    f.down = true;
    assert_int_equal(aw_memory_add(m, set.items + 20, 40), AW_ERR_UNAVAILABLE);
    assert_non_null(strstr(aw_last_error(), "down"));
    assert_int_equal(aw_memory_count(m), 60); /* kept locally */
    assert_int_equal(aw_memory_forget(m, 3), AW_ERR_UNAVAILABLE);
    assert_int_equal(aw_memory_forget(m, 25), AW_ERR_UNAVAILABLE);
    assert_int_equal(aw_memory_count(m), 58);
    assert_int_equal(aw_memory_unsynced(m), 39 + 2); /* 39 adds (25 went) and 2 deletions */
    aw_memory_item it;
    assert_int_equal(aw_memory_get(m, 40, &it), AW_OK);
    assert_string_equal(it.text, set.text[39]);
    /* Retrieval needs the store: a clear status, no hits. */
    aw_memory_hit hits[5];
    uint32_t n = 9;
    aw_memory_query q = {.embedding = set.vec, .k = 5};
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 5, &n), AW_ERR_UNAVAILABLE);
    assert_int_equal(n, 0);
    assert_int_equal(aw_memory_sync(m), AW_ERR_UNAVAILABLE);
    assert_int_equal(aw_memory_unsynced(m), 41);
    /* Back up: one sync sends everything and the store matches the memory. */
    f.down = false;
    assert_int_equal(aw_memory_sync(m), AW_OK);
    assert_int_equal(aw_memory_unsynced(m), 0);
    uint64_t count = 0;
    assert_int_equal(aw_store_count(f.inner, &count), AW_OK);
    assert_int_equal(count, 58);
    q.embedding = set.vec + 39 * D;
    q.ranker = AW_RANKER_SIMILARITY;
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 5, &n), AW_OK);
    assert_int_equal(hits[0].id, 40);
    /* A memory re-added while its deletion waited is not deleted later. */
    f.down = true;
    assert_int_equal(aw_memory_forget(m, 40), AW_ERR_UNAVAILABLE);
    f.down = false;
    assert_int_equal(aw_memory_add(m, &set.items[39], 1), AW_OK);
    assert_int_equal(aw_memory_sync(m), AW_OK);
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 5, &n), AW_OK);
    assert_int_equal(hits[0].id, 40);
    aw_memory_destroy(m);
    aw_store_close(s);
    aw_store_close(f.inner);
    mt_set_free(&set);
}

/* A Chroma URL where nothing listens: opening fails with AW_ERR_UNAVAILABLE naming the address. */
static void test_chroma_unreachable(void **state) {
    (void)state;
    /* A port that was just free: bind, read it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    aw_store *s = aw_store_open_chroma(&(aw_store_chroma_desc){.url = url, .collection = "nothing-here",
                                                               .timeout_ms = 2000});
    assert_null(s);
    assert_int_equal(aw_last_status(), AW_ERR_UNAVAILABLE);
    assert_non_null(strstr(aw_last_error(), url));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_flat_model),
        cmocka_unit_test(test_local_hnsw_model),
        cmocka_unit_test(test_refused_calls),
        cmocka_unit_test(test_memory_survives_store_down),
        cmocka_unit_test(test_chroma_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
