/* Semantic memory: retrieval scores and MMR against a brute-force reference, HNSW against exact,
 * add / replace / forget, refused input, consolidation and forgetting against reference rules,
 * memory files (round trip, damaged files), JSON-lines import, the overlap baseline and the
 * relevance metrics on a hand-computed set. */
#include "memory_test_util.h"
#include "rag_test_util.h"

#include <unistd.h>

/* ---------------------------------------------------------------- the reference ranking */

typedef struct ref_hit {
    uint64_t id;
    double score;
    uint32_t index;
} ref_hit;

static int ref_cmp(const void *pa, const void *pb) {
    const ref_hit *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static bool ref_filter(const aw_store_filter *f, const aw_memory_item *it) {
    if (f->kinds && !(f->kinds & (1u << it->kind))) return false;
    if (f->by_agent && it->agent != f->agent) return false;
    if (f->by_time && !(it->time >= f->time_min && it->time <= f->time_max)) return false;
    return true;
}

/* Every item scored, sorted, then MMR exactly as documented in rag.h. */
static uint32_t reference(const mt_set *s, const float *q, const aw_memory_query *query, ref_hit *out) {
    ref_hit *all = calloc(s->n, sizeof *all);
    uint32_t c = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const aw_memory_item *it = &s->items[i];
        if (!ref_filter(&query->filter, it)) continue;
        double sim = mt_dot(q, s->vec + (size_t)i * D);
        double score = sim;
        if (query->ranker == AW_RANKER_MEMORY) {
            double age = query->now > it->time ? query->now - it->time : 0;
            score = 1.0 * sim + 0.15 * exp2(-age / 3600.0) + 0.15 * it->importance;
        }
        all[c++] = (ref_hit){it->id, score, i};
    }
    qsort(all, c, sizeof *all, ref_cmp);
    uint32_t k = query->k < c ? query->k : c;
    double lambda = query->mmr_lambda;
    if (!(lambda > 0 && lambda < 1)) {
        memcpy(out, all, sizeof *out * k);
        free(all);
        return k;
    }
    bool *used = calloc(c, 1);
    for (uint32_t p = 0; p < k; p++) {
        int best = -1;
        double best_v = 0;
        for (uint32_t i = 0; i < c; i++) {
            if (used[i]) continue;
            double pen = 0;
            for (uint32_t j = 0; j < p; j++) {
                double sj = mt_dot(s->vec + (size_t)all[i].index * D, s->vec + (size_t)out[j].index * D);
                if (j == 0 || sj > pen) pen = sj;
            }
            double v = lambda * all[i].score - (1 - lambda) * pen;
            if (best < 0 || v > best_v) {
                best = (int)i;
                best_v = v;
            }
        }
        used[best] = true;
        out[p] = all[best];
    }
    free(used);
    free(all);
    return k;
}

static aw_memory *memory_of(const mt_set *s, bool exact) {
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.local = {.exact = exact}});
    assert_non_null(m);
    assert_int_equal(aw_memory_add(m, s->items, s->n), AW_OK);
    assert_int_equal(aw_memory_count(m), s->n);
    assert_int_equal(aw_memory_unsynced(m), 0);
    return m;
}

static void test_retrieve_matches_brute_force(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 400, 8, 11);
    aw_memory *m = memory_of(&s, true);
    aw_rng rng;
    aw_rng_seed(&rng, 5);
    const float lambdas[] = {0.0f, 0.5f, 0.8f};
    uint32_t checked = 0;
    for (int qi = 0; qi < 30; qi++) {
        float q[D];
        mt_near(&rng, s.vec + (size_t)aw_rng_range(&rng, s.n) * D, 0.04f, q);
        for (int ranker = 0; ranker < 2; ranker++)
            for (int li = 0; li < 3; li++)
                for (int fi = 0; fi < 3; fi++) {
                    aw_memory_query query = {.embedding = q, .k = 1 + aw_rng_range(&rng, 15), .now = 20000.0,
                                             .ranker = ranker ? AW_RANKER_SIMILARITY : AW_RANKER_MEMORY,
                                             .candidates = 1024, .mmr_lambda = lambdas[li]};
                    if (fi == 1) query.filter = (aw_store_filter){.kinds = 0x5, .by_agent = true, .agent = 2};
                    if (fi == 2) query.filter = (aw_store_filter){.by_time = true, .time_min = 5000, .time_max = 15000};
                    aw_memory_hit got[16];
                    ref_hit want[16];
                    uint32_t n = 0;
                    assert_int_equal(aw_memory_retrieve(m, &query, got, 16, &n), AW_OK);
                    uint32_t wn = reference(&s, q, &query, want);
                    assert_int_equal(n, wn);
                    for (uint32_t i = 0; i < n; i++) {
                        assert_int_equal(got[i].id, want[i].id);
                        assert_true(fabs(got[i].score - want[i].score) < 1e-4);
                    }
                    checked += n;
                }
    }
    assert_true(checked > 1000);
    mt_set_free(&s);
    aw_memory_destroy(m);
}

/* MMR must actually diversify: with near-duplicates, plain ranking returns one cluster, MMR several. */
static void test_mmr_diversifies(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 200, 10, 3);
    aw_memory *m = memory_of(&s, true);
    aw_memory_query query = {.embedding = s.vec, .k = 5, .ranker = AW_RANKER_SIMILARITY};
    aw_memory_hit hits[5];
    uint32_t n = 0, plain_clusters = 0, mmr_clusters = 0;
    assert_int_equal(aw_memory_retrieve(m, &query, hits, 5, &n), AW_OK);
    for (uint32_t i = 0; i < n; i++) plain_clusters += (hits[i].id - 1) / 10 != 0;
    query.mmr_lambda = 0.3f;
    assert_int_equal(aw_memory_retrieve(m, &query, hits, 5, &n), AW_OK);
    assert_int_equal(hits[0].id, 1); /* the best match always comes first */
    for (uint32_t i = 0; i < n; i++) mmr_clusters += (hits[i].id - 1) / 10 != 0;
    assert_int_equal(plain_clusters, 0);
    assert_true(mmr_clusters >= 3);
    mt_set_free(&s);
    aw_memory_destroy(m);
}

static void test_hnsw_close_to_exact(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 2000, 4, 21);
    aw_memory *exact = memory_of(&s, true), *hnsw = memory_of(&s, false);
    aw_rng rng;
    aw_rng_seed(&rng, 9);
    uint32_t same = 0, total = 0;
    for (int qi = 0; qi < 50; qi++) {
        float q[D]; /* near stored memories, as real queries are: random ones tie with everything */
        mt_near(&rng, s.vec + (size_t)aw_rng_range(&rng, s.n) * D, 0.04f, q);
        aw_memory_query query = {.embedding = q, .k = 10, .ranker = AW_RANKER_SIMILARITY};
        aw_memory_hit a[10], b[10];
        uint32_t na = 0, nb = 0;
        assert_int_equal(aw_memory_retrieve(hnsw, &query, a, 10, &na), AW_OK);
        assert_int_equal(aw_memory_retrieve(exact, &query, b, 10, &nb), AW_OK);
        assert_int_equal(na, 10);
        for (uint32_t i = 0; i < na; i++)
            for (uint32_t j = 0; j < nb; j++) same += a[i].id == b[j].id;
        total += nb;
    }
    printf("hnsw recall@10 against exact: %.3f\n", (double)same / total);
    assert_true(same >= total * 9 / 10);
    mt_set_free(&s);
    aw_memory_destroy(exact);
    aw_memory_destroy(hnsw);
}

static void test_add_replace_forget(void **state) {
    (void)state;
    rag_test_alloc ta;
    rag_test_alloc_init(&ta, -1);
    mt_set s;
    mt_set_make(&s, 50, 5, 1);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.allocator = &ta.base});
    assert_non_null(m);
    assert_int_equal(aw_memory_add(m, s.items, s.n), AW_OK);
    aw_memory_item it;
    assert_int_equal(aw_memory_get(m, 7, &it), AW_OK);
    assert_string_equal(it.text, s.text[6]);
    assert_int_equal(it.kind, s.items[6].kind);
    /* Replacing: same id, new text and vector; the count stays. */
    aw_memory_item repl = s.items[6];
    repl.text = "replaced";
    repl.embedding = s.vec + 30 * D;
    assert_int_equal(aw_memory_add(m, &repl, 1), AW_OK);
    assert_int_equal(aw_memory_count(m), 50);
    assert_int_equal(aw_memory_get(m, 7, &it), AW_OK);
    assert_string_equal(it.text, "replaced");
    uint64_t stored = 0;
    assert_int_equal(aw_store_count((aw_store *)aw_memory_store(m), &stored), AW_OK);
    assert_int_equal(stored, 50);
    /* The same id twice in one call is one memory, the later item winning. */
    aw_memory_item twice[2] = {s.items[0], s.items[0]};
    twice[1].text = "second";
    assert_int_equal(aw_memory_add(m, twice, 2), AW_OK);
    assert_int_equal(aw_memory_count(m), 50);
    assert_int_equal(aw_memory_get(m, 1, &it), AW_OK);
    assert_string_equal(it.text, "second");
    /* Forgetting: gone locally and from the store; forgetting again is NOT_FOUND. */
    for (uint64_t id = 1; id <= 50; id += 2) assert_int_equal(aw_memory_forget(m, id), AW_OK);
    assert_int_equal(aw_memory_forget(m, 1), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_memory_get(m, 3, &it), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_memory_count(m), 25);
    assert_int_equal(aw_store_count((aw_store *)aw_memory_store(m), &stored), AW_OK);
    assert_int_equal(stored, 25);
    for (uint64_t id = 2; id <= 50; id += 2) {
        assert_int_equal(aw_memory_get(m, id, &it), AW_OK);
        assert_int_equal(it.id, id);
    }
    /* A forgotten memory never comes back from retrieval. */
    aw_memory_query q = {.embedding = s.vec + 4 * D, .k = 50, .ranker = AW_RANKER_SIMILARITY};
    aw_memory_hit hits[50];
    uint32_t n = 0;
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 50, &n), AW_OK);
    assert_int_equal(n, 25);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(hits[i].id % 2, 0);
    mt_set_free(&s);
    aw_memory_destroy(m);
    assert_int_equal(atomic_load(&ta.live_bytes), 0);
}

/* Each embedding is kept once when the store keeps full float32 vectors: a synced memory's
 * embedding is the store's copy (the same pointer, the same bits as the normalised input), the
 * memory's live bytes stay under two copies per memory, and a replaced or moved row still reads its
 * own vector. With a half-precision or a projected store (the default: both) the memory keeps its
 * own exact float copy (the store lends none), and the two together stay under two float copies. */
static void check_embedding_copies(aw_index_element element, uint32_t search_dim) {
    rag_test_alloc ta;
    rag_test_alloc_init(&ta, -1);
    enum { N = 3000 }; /* enough that fixed reservations (1,024 index slots...) weigh little */
    mt_set s;
    mt_set_make(&s, N, 10, 21);
    aw_memory *m = aw_memory_create(
        &(aw_memory_desc){.allocator = &ta.base, .local = {.element = element}, .search_dim = search_dim});
    assert_non_null(m);
    assert_int_equal(aw_memory_add(m, s.items, N), AW_OK);
    const aw_store *store = aw_memory_store(m);
    bool full = search_dim == D;
    assert_int_equal(aw_store_dim(store), full ? D : 128);
    for (uint64_t id = 1; id <= N; id++) {
        aw_memory_item it;
        assert_int_equal(aw_memory_get(m, id, &it), AW_OK);
        if (element == AW_INDEX_F32 && full) assert_ptr_equal(it.embedding, aw_store_vector(store, id));
        else if (element != AW_INDEX_F32) assert_null(aw_store_vector(store, id));
        else assert_ptr_not_equal(it.embedding, aw_store_vector(store, id));
        /* The inputs are unit already: stored as given, bit for bit. */
        assert_memory_equal(it.embedding, s.vec + (id - 1) * D, sizeof(float) * D);
    }
    int64_t per = atomic_load(&ta.live_bytes) / N;
    print_message("%s store, search_dim %u: %lld live bytes per memory (one embedding is %zu)\n",
                  element == AW_INDEX_F32 ? "F32" : "F16", aw_store_dim(store), (long long)per, sizeof(float) * D);
    assert_true(per < (int64_t)(2 * sizeof(float) * D));
    /* Replace one, forget another (the last row moves into its place): each reads its own vector. */
    aw_memory_item repl = s.items[4];
    repl.embedding = s.vec + 100 * D;
    assert_int_equal(aw_memory_add(m, &repl, 1), AW_OK);
    assert_int_equal(aw_memory_forget(m, 2), AW_OK);
    aw_memory_item it;
    assert_int_equal(aw_memory_get(m, 5, &it), AW_OK);
    assert_memory_equal(it.embedding, s.vec + 100 * D, sizeof(float) * D);
    assert_int_equal(aw_memory_get(m, N, &it), AW_OK);
    assert_memory_equal(it.embedding, s.vec + (N - 1) * D, sizeof(float) * D);
    mt_set_free(&s);
    aw_memory_destroy(m);
    assert_int_equal(atomic_load(&ta.live_bytes), 0);
}

static void test_embedding_stored_once(void **state) {
    (void)state;
    check_embedding_copies(AW_INDEX_F32, D);
    check_embedding_copies(AW_INDEX_ELEMENT_DEFAULT, D);
    check_embedding_copies(AW_INDEX_F32, 0);
    check_embedding_copies(AW_INDEX_ELEMENT_DEFAULT, 0);
}

/* After warm-up a retrieval allocates nothing (HNSW and flat, MMR on). */
static void test_retrieve_allocates_nothing(void **state) {
    (void)state;
    for (int exact = 0; exact < 2; exact++) {
        rag_test_alloc ta;
        rag_test_alloc_init(&ta, -1);
        mt_set s;
        mt_set_make(&s, 500, 5, 12);
        aw_memory *m = aw_memory_create(&(aw_memory_desc){.allocator = &ta.base, .local = {.exact = exact}});
        assert_int_equal(aw_memory_add(m, s.items, s.n), AW_OK);
        aw_memory_hit hits[10];
        uint32_t n = 0;
        aw_memory_query q = {.embedding = s.vec, .k = 10, .mmr_lambda = 0.7f, .now = 1000};
        assert_int_equal(aw_memory_retrieve(m, &q, hits, 10, &n), AW_OK);
        uint64_t before = atomic_load(&ta.allocs) + atomic_load(&ta.reallocs);
        for (uint32_t i = 0; i < 100; i++) {
            q.embedding = s.vec + (size_t)(i * 7 % s.n) * D;
            assert_int_equal(aw_memory_retrieve(m, &q, hits, 10, &n), AW_OK);
            assert_int_equal(n, 10);
        }
        assert_int_equal(atomic_load(&ta.allocs) + atomic_load(&ta.reallocs), before);
        aw_memory_destroy(m);
        assert_int_equal(atomic_load(&ta.live_bytes), 0);
        mt_set_free(&s);
    }
}

static void test_bad_input_changes_nothing(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 10, 5, 2);
    aw_memory *m = memory_of(&s, true);
    float zero[D] = {0}, nan_vec[D];
    memcpy(nan_vec, s.vec, sizeof nan_vec);
    nan_vec[3] = NAN;
    aw_memory_item bad[] = {
        {.id = 0, .text = "x", .embedding = s.vec},
        {.id = 99, .text = NULL, .embedding = s.vec},
        {.id = 99, .text = "x", .embedding = s.vec, .importance = 1.5f},
        {.id = 99, .text = "x", .embedding = s.vec, .time = NAN},
        {.id = 99, .text = "x", .embedding = s.vec, .kind = AW_MEMORY_KIND_COUNT},
        {.id = 99, .text = "x", .embedding = zero},
        {.id = 99, .text = "x", .embedding = nan_vec},
        {.id = 99, .text = "x", .embedding = NULL}, /* no encoder */
        {.id = 99, .text = "x", .embedding = s.vec, .agent = 1ull << 63},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aw_memory_item pair[2] = {s.items[0], bad[i]};
        pair[0].text = "must not replace";
        assert_int_equal(aw_memory_add(m, pair, 2), AW_ERR_INVALID_ARG);
        assert_true(strlen(aw_last_error()) > 0);
        assert_int_equal(aw_memory_count(m), 10);
        aw_memory_item it;
        assert_int_equal(aw_memory_get(m, 1, &it), AW_OK);
        assert_string_equal(it.text, s.text[0]);
    }
    aw_memory_hit hits[4];
    uint32_t n = 7;
    aw_memory_query q = {.embedding = s.vec, .mmr_lambda = 1.5f};
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 4, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(n, 0);
    q = (aw_memory_query){.text = "needs an encoder"};
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 4, &n), AW_ERR_INVALID_ARG);
    q = (aw_memory_query){.embedding = zero};
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 4, &n), AW_ERR_INVALID_ARG);
    q = (aw_memory_query){.embedding = s.vec, .ranker = (aw_memory_ranker)7};
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 4, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_memory_retrieve(m, NULL, hits, 4, &n), AW_ERR_INVALID_ARG);
    assert_null(aw_memory_create(&(aw_memory_desc){.w_recency = -1}));
    assert_null(aw_memory_create(&(aw_memory_desc){.consolidate_threshold = 2}));
    mt_set_free(&s);
    aw_memory_destroy(m);
}

/* ---------------------------------------------------------------- consolidation and forgetting */

static void test_consolidate_matches_rule(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 77);
    enum { N = 240 };
    static float vec[N][D];
    static aw_memory_item items[N];
    static char text[N][32];
    /* Groups of 1..5 near-duplicates (cos ~0.995) sharing kind and agent, plus traps: the same
     * vector under another agent or kind, which must not merge. */
    float centre[D];
    for (int i = 0; i < N; i++) {
        int role = i % 6;
        if (role == 0) mt_random_unit(&rng, centre);
        mt_near(&rng, centre, role < 4 ? 0.004f : 0.0f, vec[i]);
        snprintf(text[i], sizeof text[i], "m%d", i);
        items[i] = (aw_memory_item){.id = (uint64_t)(N - i) * 3, /* ids not in insertion order */
                                    .text = text[i], .embedding = vec[i], .kind = AW_MEMORY_EPISODIC,
                                    .agent = role == 4 ? 9 : 1, .time = aw_rng_float_range(&rng, 0, 100),
                                    .importance = aw_rng_float(&rng)};
        if (role == 5) items[i].kind = AW_MEMORY_SEMANTIC;
    }
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.local = {.exact = true}});
    assert_int_equal(aw_memory_add(m, items, N), AW_OK);
    /* The reference rule: ascending ids, each survivor absorbs later same-kind same-agent memories
     * with cosine >= threshold. */
    const float thr = 0.98f;
    bool gone[N] = {false};
    uint32_t merged_into[N] = {0};
    float imp[N];
    double tim[N];
    int order[N];
    for (int i = 0; i < N; i++) {
        order[i] = i;
        imp[i] = items[i].importance;
        tim[i] = items[i].time;
    }
    for (int a = 0; a < N; a++)
        for (int b = a + 1; b < N; b++)
            if (items[order[b]].id < items[order[a]].id) {
                int t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    uint32_t want_merged = 0;
    for (int a = 0; a < N; a++) {
        int i = order[a];
        if (gone[i]) continue;
        for (int b = a + 1; b < N; b++) {
            int j = order[b];
            if (gone[j] || items[j].kind != items[i].kind || items[j].agent != items[i].agent) continue;
            float cos = 0;
            for (int d = 0; d < D; d++) cos += vec[i][d] * vec[j][d];
            if (cos < thr) continue;
            gone[j] = true;
            merged_into[i] += 1 + merged_into[j];
            if (imp[j] > imp[i]) imp[i] = imp[j];
            if (tim[j] > tim[i]) tim[i] = tim[j];
            want_merged++;
        }
    }
    assert_true(want_merged > 50);
    uint32_t merged = 0;
    assert_int_equal(aw_memory_consolidate(m, thr, &merged), AW_OK);
    assert_int_equal(merged, want_merged);
    assert_int_equal(aw_memory_count(m), N - want_merged);
    for (int i = 0; i < N; i++) {
        aw_memory_item it;
        aw_status st = aw_memory_get(m, items[i].id, &it);
        if (gone[i]) {
            assert_int_equal(st, AW_ERR_NOT_FOUND);
            continue;
        }
        assert_int_equal(st, AW_OK);
        assert_int_equal(it.merged, merged_into[i]);
        assert_true(it.importance == imp[i]);
        assert_true(it.time == tim[i]);
    }
    /* Idempotent: nothing left to merge. */
    assert_int_equal(aw_memory_consolidate(m, thr, &merged), AW_OK);
    assert_int_equal(merged, 0);
    aw_memory_destroy(m);
}

static void test_decay_forgets_weak_unprotected(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 300, 3, 8);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.forget_half_life = 1000, .forget_below = 0.1f});
    assert_non_null(m);
    assert_int_equal(aw_memory_add(m, s.items, s.n), AW_OK);
    const double now = 25000;
    uint32_t want = 0;
    bool keep[300];
    for (uint32_t i = 0; i < s.n; i++) {
        const aw_memory_item *it = &s.items[i];
        double strength = it->importance * exp2(-(now - it->time) / 1000.0);
        bool protected_kind = it->kind == AW_MEMORY_LORE || it->kind == AW_MEMORY_EXAMPLE;
        keep[i] = protected_kind || strength >= 0.1;
        want += !keep[i];
        aw_memory_item got;
        assert_int_equal(aw_memory_get(m, it->id, &got), AW_OK);
        assert_true(fabsf(aw_memory_strength(m, &got, now) - (float)strength) < 1e-5f);
    }
    assert_true(want > 30 && want < 270);
    uint32_t forgotten = 0;
    assert_int_equal(aw_memory_decay(m, now, &forgotten), AW_OK);
    assert_int_equal(forgotten, want);
    for (uint32_t i = 0; i < s.n; i++) {
        aw_memory_item got;
        assert_int_equal(aw_memory_get(m, s.items[i].id, &got), keep[i] ? AW_OK : AW_ERR_NOT_FOUND);
    }
    uint64_t stored = 0;
    assert_int_equal(aw_store_count((aw_store *)aw_memory_store(m), &stored), AW_OK);
    assert_int_equal(stored, s.n - want);
    mt_set_free(&s);
    aw_memory_destroy(m);
}

/* ---------------------------------------------------------------- files */

static char *read_whole(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(*size);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    return data;
}

static void test_file_round_trip_and_damage(void **state) {
    (void)state;
    mt_set s;
    mt_set_make(&s, 120, 4, 13);
    s.items[5].text = "with \"quotes\", UTF-8 \xc3\xa9 and a\nnewline";
    aw_memory *m = memory_of(&s, false);
    char path[] = "/tmp/aw_memory_file_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(aw_memory_save(m, path), AW_OK);
    aw_memory *back = aw_memory_create(NULL);
    assert_int_equal(aw_memory_load(back, path), AW_OK);
    assert_int_equal(aw_memory_count(back), s.n);
    for (uint32_t i = 0; i < s.n; i++) {
        aw_memory_item a, b;
        assert_int_equal(aw_memory_get(m, s.items[i].id, &a), AW_OK);
        assert_int_equal(aw_memory_get(back, s.items[i].id, &b), AW_OK);
        assert_string_equal(a.text, b.text);
        assert_int_equal(a.kind, b.kind);
        assert_int_equal(a.agent, b.agent);
        assert_true(a.time == b.time && a.importance == b.importance);
        assert_memory_equal(a.embedding, b.embedding, sizeof(float) * D);
    }
    /* Damaged copies are refused and add nothing. */
    size_t size = 0;
    char *data = read_whole(path, &size);
    aw_memory *fresh = aw_memory_create(NULL);
    assert_int_equal(aw_memory_load_bytes(fresh, data, size - 1), AW_ERR_CORRUPT);
    assert_int_equal(aw_memory_load_bytes(fresh, data, 30), AW_ERR_CORRUPT);
    data[size / 2] ^= 0x10;
    assert_int_equal(aw_memory_load_bytes(fresh, data, size), AW_ERR_CORRUPT);
    assert_non_null(strstr(aw_last_error(), "checksum"));
    data[size / 2] ^= 0x10;
    data[0] = 'X';
    assert_int_equal(aw_memory_load_bytes(fresh, data, size), AW_ERR_PARSE);
    data[0] = 'A';
    data[8] = 9; /* version */
    assert_int_equal(aw_memory_load_bytes(fresh, data, size), AW_ERR_PARSE);
    data[8] = 1;
    assert_int_equal(aw_memory_load_bytes(fresh, data, size), AW_OK); /* and the intact bytes load */
    assert_int_equal(aw_memory_count(fresh), s.n);
    assert_int_equal(aw_memory_load(fresh, "/nonexistent/dir/file"), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_memory_save(m, "/nonexistent/dir/file"), AW_ERR_IO);
    free(data);
    unlink(path);
    aw_memory_destroy(fresh);
    aw_memory_destroy(back);
    aw_memory_destroy(m);
    mt_set_free(&s);
}

/* ---------------------------------------------------------------- overlap baseline and metrics */

static void test_overlap_ranker(void **state) {
    (void)state;
    static const char *texts[] = {
        "The wolves circled the north gate at dawn.",
        "A merchant sold wool at the market.",
        "Wolves were seen in the forest.",
        "The gate of the castle is made of oak.",
        "the of and to a in",
    };
    aw_memory_item items[5];
    float vec[5][D];
    aw_rng rng;
    aw_rng_seed(&rng, 1);
    for (int i = 0; i < 5; i++) {
        mt_random_unit(&rng, vec[i]);
        items[i] = (aw_memory_item){.id = (uint64_t)i + 1, .text = texts[i], .embedding = vec[i]};
    }
    items[1].kind = AW_MEMORY_EPISODIC;
    aw_memory *m = aw_memory_create(NULL);
    assert_int_equal(aw_memory_add(m, items, 5), AW_OK);
    aw_memory_query q = {.text = "WOLVES at the Gate!", .ranker = AW_RANKER_OVERLAP, .k = 10};
    aw_memory_hit hits[10];
    uint32_t n = 0;
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 10, &n), AW_OK);
    assert_int_equal(n, 3); /* stop words alone never match: text 5 is out */
    assert_int_equal(hits[0].id, 1);
    assert_float_equal(hits[0].score, 1.0f, 1e-6);
    assert_int_equal(hits[1].id, 3); /* ties by lower id */
    assert_int_equal(hits[2].id, 4);
    assert_float_equal(hits[1].score, 0.5f, 1e-6);
    q.text = "market wool";
    q.filter.kinds = 1u << AW_MEMORY_LORE;
    assert_int_equal(aw_memory_retrieve(m, &q, hits, 10, &n), AW_OK);
    assert_int_equal(n, 0); /* the only match is episodic */
    aw_memory_destroy(m);
}

static void test_eval_metrics_hand_computed(void **state) {
    (void)state;
    aw_rag_eval_result r = {0};
    const uint64_t r1[] = {5, 3, 9, 1}, rel1[] = {3, 1};
    const uint64_t r2[] = {7}, rel2[] = {7, 8};
    const uint64_t rel3[] = {2};
    const uint64_t r4[] = {4, 4, 6, 2, 2, 2, 2, 2, 2, 2, 2, 9}, rel4[] = {9, 4};
    aw_rag_eval_add(&r, r1, 4, rel1, 2);
    aw_rag_eval_add(&r, r2, 1, rel2, 2);
    aw_rag_eval_add(&r, NULL, 0, rel3, 1);
    aw_rag_eval_add(&r, r4, 12, rel4, 2); /* 9 sits past the top 10; the repeated 4 counts once */
    aw_rag_eval_finish(&r);
    assert_int_equal(r.queries, 4);
    double l3 = 1 / log2(3.0), l5 = 1 / log2(5.0);
    assert_float_equal(r.recall_at_1, (0 + 0.5 + 0 + 0.5) / 4, 1e-12);
    assert_float_equal(r.recall_at_5, (1 + 0.5 + 0 + 0.5) / 4, 1e-12);
    assert_float_equal(r.recall_at_10, (1 + 0.5 + 0 + 0.5) / 4, 1e-12);
    assert_float_equal(r.mrr, (0.5 + 1 + 0 + 1) / 4, 1e-12);
    double n1 = (l3 + l5) / (1 + l3), n2 = 1 / (1 + l3), n4 = 1 / (1 + l3);
    assert_float_equal(r.ndcg_at_10, (n1 + n2 + 0 + n4) / 4, 1e-12);
}

/* ---------------------------------------------------------------- JSON lines (with the encoder) */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_import_and_eval_jsonl(void **state) {
    (void)state;
    aw_encoder *enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = rag_test_model_dir()});
    assert_non_null(enc);
    aw_memory *m = aw_memory_create(&(aw_memory_desc){.encoder = enc});
    char docs[] = "/tmp/aw_memory_docs_XXXXXX", queries[] = "/tmp/aw_memory_q_XXXXXX";
    close(mkstemp(docs));
    close(mkstemp(queries));
    write_file(docs, "{\"id\":1,\"text\":\"The blacksmith forges swords from iron.\",\"kind\":\"lore\"}\n"
                     "\n"
                     "{\"id\":2,\"text\":\"Wolves hunt sheep in the hills at night.\",\"kind\":\"episodic\","
                     "\"agent\":4,\"importance\":0.9,\"time\":12.5}\n"
                     "{\"id\":3,\"text\":\"The queen lives in a white castle by the lake.\"}\n");
    uint32_t added = 0;
    assert_int_equal(aw_memory_import_jsonl(m, docs, &added), AW_OK);
    assert_int_equal(added, 3);
    aw_memory_item it;
    assert_int_equal(aw_memory_get(m, 2, &it), AW_OK);
    assert_int_equal(it.kind, AW_MEMORY_EPISODIC);
    assert_int_equal(it.agent, 4);
    assert_true(it.time == 12.5 && fabsf(it.importance - 0.9f) < 1e-6f);
    assert_int_equal(aw_memory_get(m, 3, &it), AW_OK);
    assert_int_equal(it.kind, AW_MEMORY_LORE);
    write_file(queries, "{\"query\":\"Where does the monarch reside?\",\"relevant\":[3]}\n"
                        "{\"query\":\"predators attacking the flock\",\"relevant\":[2]}\n");
    aw_rag_eval_result r;
    assert_int_equal(aw_memory_eval_jsonl(m, queries, NULL, &r), AW_OK);
    assert_int_equal(r.queries, 2);
    assert_true(r.recall_at_5 == 1.0); /* three documents: everything is in the top 5 */
    /* Bad lines are refused with their line number. */
    static const char *bad_docs[] = {
        "{\"id\":1,\"text\":\"a\"}\n{\"id\":0,\"text\":\"b\"}\n",
        "{\"id\":1,\"text\":\"a\"}\n{\"id\":2}\n",
        "{\"id\":1,\"text\":\"a\"}\n{\"id\":2,\"text\":\"b\",\"kind\":\"gossip\"}\n",
        "{\"id\":1,\"text\":\"a\"}\n{\"id\":2,\"text\":\"b\",\"importance\":3}\n",
        "{\"id\":1,\"text\":\"a\"}\n[1,2]\n",
        "{\"id\":1,\"text\":\"a\"}\n{\"id\":2,\"text\":\n",
    };
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        write_file(docs, bad_docs[i]);
        assert_int_equal(aw_memory_import_jsonl(m, docs, &added), AW_ERR_PARSE);
        assert_non_null(strstr(aw_last_error(), ":2:"));
    }
    write_file(queries, "{\"query\":\"x\",\"relevant\":[]}\n");
    assert_int_equal(aw_memory_eval_jsonl(m, queries, NULL, &r), AW_ERR_PARSE);
    write_file(queries, "{\"query\":\"x\",\"relevant\":[\"a\"]}\n");
    assert_int_equal(aw_memory_eval_jsonl(m, queries, NULL, &r), AW_ERR_PARSE);
    assert_int_equal(aw_memory_import_jsonl(m, "/nonexistent/docs.jsonl", &added), AW_ERR_IO);
    unlink(docs);
    unlink(queries);
    aw_memory_destroy(m);
    aw_encoder_destroy(enc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retrieve_matches_brute_force),
        cmocka_unit_test(test_mmr_diversifies),
        cmocka_unit_test(test_hnsw_close_to_exact),
        cmocka_unit_test(test_add_replace_forget),
        cmocka_unit_test(test_embedding_stored_once),
        cmocka_unit_test(test_retrieve_allocates_nothing),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_consolidate_matches_rule),
        cmocka_unit_test(test_decay_forgets_weak_unprotected),
        cmocka_unit_test(test_file_round_trip_and_damage),
        cmocka_unit_test(test_overlap_ranker),
        cmocka_unit_test(test_eval_metrics_hand_computed),
        cmocka_unit_test(test_import_and_eval_jsonl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
