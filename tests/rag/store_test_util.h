/* Shared by the store tests: the checks every backend must pass (a model-based test against a plain
 * array), and a wrapper backend that can be switched to fail like a server that went down. */
#ifndef AW_TESTS_RAG_STORE_TEST_UTIL_H
#define AW_TESTS_RAG_STORE_TEST_UTIL_H

#include "memory_test_util.h"

/* Random upserts (new and replaced ids), deletes (known and unknown) and filtered queries against a
 * reference array; `exact` demands identical top-k ids, else recall@k >= 0.9 over all queries. Every
 * answer has as many hits as pass the filter (up to k), unless `may_come_short`: then a short answer
 * counts as misses. */
static inline void store_model_test(aw_store *store, uint32_t rounds, bool exact, bool may_come_short,
                                    uint64_t seed) {
    enum { CAP = 600 };
    static float vec[CAP][D];
    static aw_store_meta meta[CAP];
    static bool live[CAP];
    memset(live, 0, sizeof live);
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    uint32_t same = 0, total = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        /* A batch of upserts: ids 1..CAP, some repeated (replacements). */
        uint64_t ids[32];
        float batch[32][D];
        aw_store_meta bm[32];
        uint32_t n = 1 + aw_rng_range(&rng, 32), m = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t id = 1 + aw_rng_range(&rng, CAP);
            bool dup = false;
            for (uint32_t j = 0; j < m; j++) dup = dup || ids[j] == id;
            if (dup) continue;
            ids[m] = id;
            mt_random_unit(&rng, batch[m]);
            bm[m] = (aw_store_meta){.kind = aw_rng_range(&rng, AW_MEMORY_KIND_COUNT), .agent = aw_rng_range(&rng, 3),
                                    .time = (double)aw_rng_range(&rng, 100), .importance = aw_rng_float(&rng)};
            m++;
        }
        if (aw_store_upsert(store, ids, &batch[0][0], bm, m) != AW_OK) fail_msg("upsert: %s", aw_last_error());
        for (uint32_t j = 0; j < m; j++) {
            memcpy(vec[ids[j] - 1], batch[j], sizeof batch[j]);
            meta[ids[j] - 1] = bm[j];
            live[ids[j] - 1] = true;
        }
        /* A few deletes, some of ids never stored. */
        uint64_t del[4];
        for (int j = 0; j < 4; j++) del[j] = 1 + aw_rng_range(&rng, CAP + 50);
        assert_int_equal(aw_store_delete(store, del, 4), AW_OK);
        for (int j = 0; j < 4; j++)
            if (del[j] <= CAP) live[del[j] - 1] = false;
        uint64_t count = 0, want = 0;
        for (int j = 0; j < CAP; j++) want += live[j];
        assert_int_equal(aw_store_count(store, &count), AW_OK);
        assert_int_equal(count, want);
        /* A query near a live vector, with a filter half the time. */
        float q[D];
        uint32_t near = aw_rng_range(&rng, CAP);
        mt_near(&rng, vec[near], live[near] ? 0.03f : 1.0f, q);
        aw_store_filter f = {0};
        if (r % 2) f = (aw_store_filter){.kinds = 0x7, .by_agent = r % 4 == 1, .agent = 1};
        aw_store_hit hits[10];
        uint32_t found = 0;
        assert_int_equal(aw_store_query(store, q, 10, &f, hits, &found), AW_OK);
        /* Reference: every live vector passing the filter, by cosine. */
        uint64_t best[10];
        double best_s[10];
        uint32_t nb = 0;
        for (int j = 0; j < CAP; j++) {
            if (!live[j] || !aw_store_filter_match(&f, &meta[j])) continue;
            double s = mt_dot(q, vec[j]);
            uint32_t at = nb < 10 ? nb++ : 10;
            while (at > 0 && best_s[at - 1] < s) {
                if (at < 10) {
                    best[at] = best[at - 1];
                    best_s[at] = best_s[at - 1];
                }
                at--;
            }
            if (at < 10) {
                best[at] = (uint64_t)j + 1;
                best_s[at] = s;
            }
        }
        /* A backend that may come back short under a filter (Chroma's filtered HNSW walk missed one
         * of 5 matches once): the recall bar below counts what it missed. */
        if (may_come_short) assert_true(found <= nb);
        else assert_int_equal(found, nb);
        for (uint32_t i = 0; i < found; i++) {
            assert_true(hits[i].id >= 1 && hits[i].id <= CAP && live[hits[i].id - 1]);
            assert_true(aw_store_filter_match(&f, &meta[hits[i].id - 1]));
            assert_true(fabs(hits[i].similarity - mt_dot(q, vec[hits[i].id - 1])) < 1e-4);
            if (i) assert_true(hits[i].similarity <= hits[i - 1].similarity + 1e-6f);
            if (exact) assert_int_equal(hits[i].id, best[i]);
            for (uint32_t j = 0; j < nb; j++) same += hits[i].id == best[j];
        }
        total += nb;
    }
    assert_true(same >= total * 9 / 10);
}

/* A backend over another store that fails every call while `down` is set, as a server that stopped. */
typedef struct flaky {
    aw_store *inner;
    bool down;
    uint32_t calls;
} flaky;

static inline aw_status flaky_check(flaky *f) {
    f->calls++;
    return f->down ? aw_error(AW_ERR_UNAVAILABLE, "flaky: the server is down") : AW_OK;
}
static inline aw_status flaky_upsert(void *self, const uint64_t *ids, const float *v, const aw_store_meta *m, uint32_t n) {
    flaky *f = self;
    aw_status st = flaky_check(f);
    return st != AW_OK ? st : aw_store_upsert(f->inner, ids, v, m, n);
}
static inline aw_status flaky_remove(void *self, const uint64_t *ids, uint32_t n) {
    flaky *f = self;
    aw_status st = flaky_check(f);
    return st != AW_OK ? st : aw_store_delete(f->inner, ids, n);
}
static inline aw_status flaky_query(void *self, const float *q, uint32_t k, const aw_store_filter *filter,
                                    aw_store_hit *hits, uint32_t *found) {
    flaky *f = self;
    aw_status st = flaky_check(f);
    return st != AW_OK ? st : aw_store_query(f->inner, q, k, filter, hits, found);
}
static inline aw_status flaky_count(void *self, uint64_t *count) {
    flaky *f = self;
    aw_status st = flaky_check(f);
    return st != AW_OK ? st : aw_store_count(f->inner, count);
}
static inline void flaky_close(void *self) {
    (void)self;
}
static const aw_store_backend flaky_backend = {"flaky", flaky_upsert, flaky_remove, flaky_query, flaky_count,
                                               flaky_close,  NULL};

#endif /* AW_TESTS_RAG_STORE_TEST_UTIL_H */
