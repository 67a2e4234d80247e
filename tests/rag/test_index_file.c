/* The vector index file: save and load give back the same index (same hits, graph included) for
 * each kind and metric; truncated, extended, bit-flipped or foreign files are refused with
 * AW_ERR_CORRUPT and a message; a save killed with SIGKILL at random moments leaves the previous
 * file loadable. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "index_test_util.h"

static char dir[256];

static int setup(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/aw-index-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static aw_index *build(aw_index_kind kind, aw_index_metric metric, uint32_t n, uint32_t dim, uint64_t seed) {
    aw_index *idx = aw_index_create(&(aw_index_desc){.dim = dim, .metric = metric, .kind = kind, .m = 8, .ef_construction = 60});
    assert_non_null(idx);
    float *v = malloc((size_t)n * dim * sizeof(float));
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    idx_test_clustered(&rng, v, n, dim, 7);
    for (uint32_t i = 0; i < n; i++) {
        aw_index_meta m = {.kind = i % 5, .agent = i % 3, .tags = (uint64_t)i * 0x9e37, .timestamp = -(int64_t)i};
        assert_int_equal(aw_index_upsert(idx, i * 7 + (i == 0 ? 0 : 1), v + (size_t)i * dim, &m), AW_OK);
    }
    for (uint32_t i = 0; i < n; i += 9) aw_index_delete(idx, i * 7 + (i == 0 ? 0 : 1)); /* tombstones saved too */
    free(v);
    return idx;
}

static void assert_same_answers(aw_index *a, aw_index *b, uint32_t dim) {
    assert_int_equal(aw_index_count(a), aw_index_count(b));
    aw_index_stats sa = aw_index_get_stats(a), sb = aw_index_get_stats(b);
    assert_int_equal(sa.nodes, sb.nodes);
    assert_int_equal(sa.max_level, sb.max_level);
    aw_rng rng;
    aw_rng_seed(&rng, 99);
    float q[64];
    for (int j = 0; j < 30; j++) {
        for (uint32_t i = 0; i < dim; i++) q[i] = aw_rng_float_range(&rng, -1, 1);
        aw_index_hit ha[10], hb[10];
        aw_index_meta ma[10], mb[10];
        uint32_t na, nb;
        aw_index_query qq = {.k = 10, .metas = ma};
        assert_int_equal(aw_index_search_ex(a, NULL, q, &qq, ha, &na), AW_OK);
        qq.metas = mb;
        assert_int_equal(aw_index_search_ex(b, NULL, q, &qq, hb, &nb), AW_OK);
        assert_int_equal(na, nb);
        for (uint32_t i = 0; i < na; i++) {
            assert_true(ha[i].id == hb[i].id);
            assert_true(ha[i].distance == hb[i].distance);
            assert_memory_equal(&ma[i], &mb[i], sizeof ma[i]);
        }
    }
}

static void test_round_trip(void **state) {
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/rt.awi", dir);
    for (int kind = 0; kind < 2; kind++)
        for (int metric = 0; metric < 3; metric++) {
            aw_index *a = build((aw_index_kind)kind, (aw_index_metric)metric, 2500, 24, 3 + (uint64_t)metric);
            assert_int_equal(aw_index_save(a, path), AW_OK);
            aw_index *b = aw_index_load(path, NULL);
            if (!b) fail_msg("load: %s", aw_last_error());
            aw_index_desc da = aw_index_get_desc(a), db = aw_index_get_desc(b);
            assert_int_equal(da.dim, db.dim);
            assert_int_equal(da.metric, db.metric);
            assert_int_equal(da.kind, db.kind);
            assert_int_equal(da.m, db.m);
            assert_same_answers(a, b, 24);
            /* Both go on the same way: the same upserts give the same answers. */
            float v[24];
            for (uint32_t i = 0; i < 24; i++) v[i] = (float)i - 11.5f;
            for (uint32_t i = 0; i < 50; i++) {
                v[i % 24] += 0.25f;
                assert_int_equal(aw_index_upsert(a, 100000 + i, v, NULL), AW_OK);
                assert_int_equal(aw_index_upsert(b, 100000 + i, v, NULL), AW_OK);
            }
            assert_int_equal(aw_index_delete(b, 8), AW_OK);
            assert_int_equal(aw_index_delete(a, 8), AW_OK);
            assert_same_answers(a, b, 24);
            aw_index_destroy(a);
            aw_index_destroy(b);
        }
    /* An empty index too. */
    aw_index *e = aw_index_create(&(aw_index_desc){.dim = 3});
    assert_int_equal(aw_index_save(e, path), AW_OK);
    aw_index *e2 = aw_index_load(path, NULL);
    assert_non_null(e2);
    assert_int_equal(aw_index_count(e2), 0);
    aw_index_destroy(e);
    aw_index_destroy(e2);
}

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc(*size + 16);
    assert_int_equal(fread(d, 1, *size, f), *size);
    fclose(f);
    return d;
}

static void expect_corrupt(const unsigned char *d, size_t size, const char *what) {
    aw_index *idx = aw_index_load_memory(d, size, NULL);
    if (idx) fail_msg("%s: loaded", what);
    assert_int_equal(aw_last_status(), AW_ERR_CORRUPT);
    assert_true(strlen(aw_last_error()) > 10);
}

static void test_damaged_files(void **state) {
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/bad.awi", dir);
    aw_index *a = build(AW_INDEX_HNSW, AW_INDEX_L2, 300, 12, 5);
    assert_int_equal(aw_index_save(a, path), AW_OK);
    aw_index_destroy(a);
    size_t size;
    unsigned char *d = read_all(path, &size);
    aw_index *ok = aw_index_load_memory(d, size, NULL);
    assert_non_null(ok);
    aw_index_destroy(ok);
    /* Every truncation. */
    for (size_t cut = 0; cut < size; cut += cut < 200 ? 1 : 97) expect_corrupt(d, cut, "truncated");
    /* Extended. */
    d[size] = 0;
    expect_corrupt(d, size + 1, "extended");
    /* Flipped bits anywhere. */
    aw_rng rng;
    aw_rng_seed(&rng, 77);
    for (int i = 0; i < 300; i++) {
        size_t at = i < 64 ? (size_t)i : aw_rng_range(&rng, (uint32_t)size);
        unsigned char bit = (unsigned char)(1u << aw_rng_range(&rng, 8));
        d[at] ^= bit;
        expect_corrupt(d, size, "bit flip");
        d[at] ^= bit;
    }
    /* A newer version is named. */
    d[8] = 3;
    expect_corrupt(d, size, "version");
    assert_non_null(strstr(aw_last_error(), "version 3"));
    free(d);
    /* Missing file and files that are not indexes. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.awi", dir);
    assert_null(aw_index_load(missing, NULL));
    assert_int_equal(aw_last_status(), AW_ERR_NOT_FOUND);
    FILE *f = fopen(path, "wb");
    fputs("hello", f);
    fclose(f);
    assert_null(aw_index_load(path, NULL));
    assert_int_equal(aw_last_status(), AW_ERR_CORRUPT);
    assert_non_null(strstr(aw_last_error(), path));
    assert_null(aw_index_load_memory(NULL, 0, NULL));
    /* A directory that does not exist: save fails cleanly. */
    aw_index *e = aw_index_create(&(aw_index_desc){.dim = 3});
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.awi", dir);
    assert_int_equal(aw_index_save(e, missing), AW_ERR_IO);
    aw_index_destroy(e);
}

/* A child saves a large index over and over; it is killed at a random moment. The file at the path
 * is then always a whole index: the first one, or one of the child's. */
static void test_kill_during_save(void **state) {
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/killed.awi", dir);
    aw_index *first = build(AW_INDEX_FLAT, AW_INDEX_L2, 100, 8, 1);
    assert_int_equal(aw_index_save(first, path), AW_OK);
    aw_index_destroy(first);
    aw_index *big = build(AW_INDEX_HNSW, AW_INDEX_L2, 20000, 64, 2);
    uint32_t big_count = aw_index_count(big), first_count = 0;
    {
        aw_index *f = aw_index_load(path, NULL);
        first_count = aw_index_count(f);
        aw_index_destroy(f);
    }
    aw_rng rng;
    aw_rng_seed(&rng, (uint64_t)time(NULL));
    uint32_t saw_new = 0, mid_save = 0;
    char tmp[420];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint64_t t0 = aw_time_ns();
    assert_int_equal(aw_index_save(big, tmp), AW_OK);
    /* Kill within about two saves' time, so most kills land inside the first. */
    uint32_t save_us = (uint32_t)((aw_time_ns() - t0) / 1000) + 1;
    for (int round = 0; round < 8; round++) {
        aw_index *old = build(AW_INDEX_FLAT, AW_INDEX_L2, 100, 8, 1);
        assert_int_equal(aw_index_save(old, path), AW_OK);
        aw_index_destroy(old);
        unlink(tmp);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (;;)
                if (aw_index_save(big, path) != AW_OK) _exit(3);
        }
        uint32_t us = aw_rng_range(&rng, 2 * save_us);
        struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        mid_save += access(tmp, F_OK) == 0;
        aw_index *now = aw_index_load(path, NULL);
        if (!now) fail_msg("round %d: %s", round, aw_last_error());
        uint32_t c = aw_index_count(now);
        assert_true(c == first_count || c == big_count);
        saw_new += c == big_count;
        aw_index_destroy(now);
    }
    print_message("8 kills (a save takes %u us): %u left the new index, %u the old, %u interrupted a save\n", save_us,
                  saw_new, 8 - saw_new, mid_save);
    aw_index_destroy(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_kill_during_save),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
