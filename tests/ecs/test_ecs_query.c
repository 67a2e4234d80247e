/* Query tests: with/without/optional terms, the cached table list picking up new tables, per-chunk
 * iteration (ids, columns, counts; every match exactly once), each/count, early exit, and the
 * structural-change lock while an iterator is active. */
#include "ecs_test_util.h"

enum { NCOMP = 4 }; /* A: int32, B: 16 bytes, C: 1 byte, T: tag */

typedef struct fixture {
    aw_world *w;
    aw_component c[NCOMP];
    size_t size[NCOMP];
    aw_entity *ids;
    unsigned *mask;
    uint32_t n, cap;
} fixture;

static void value_for(aw_entity e, int comp, size_t size, unsigned char *out) {
    test_fill(out, size, e * 16u + (uint64_t)comp);
}

static void fixture_init(fixture *f, uint32_t chunk_size) {
    memset(f, 0, sizeof *f);
    f->w = test_world_new(NULL, chunk_size);
    const char *names[NCOMP] = {"A", "B", "C", "T"};
    size_t sizes[NCOMP] = {4, 16, 1, 0};
    for (int i = 0; i < NCOMP; i++) {
        f->c[i] = test_component(f->w, names[i], sizes[i], 0);
        f->size[i] = sizes[i];
    }
}

static void fixture_free(fixture *f) {
    aw_world_destroy(f->w);
    free(f->ids);
    free(f->mask);
}

static aw_entity fixture_spawn(fixture *f, unsigned mask) {
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->ids = realloc(f->ids, f->cap * sizeof *f->ids);
        f->mask = realloc(f->mask, f->cap * sizeof *f->mask);
        assert_true(f->ids && f->mask);
    }
    aw_entity e = aw_entity_create(f->w);
    assert_true(e != AW_ENTITY_NULL);
    unsigned char buf[64];
    for (int k = 0; k < NCOMP; k++) {
        if (!((mask >> k) & 1)) continue;
        value_for(e, k, f->size[k], buf);
        EXPECT_OK(aw_entity_set(f->w, e, f->c[k], f->size[k] ? buf : NULL, f->size[k]));
    }
    f->ids[f->n] = e;
    f->mask[f->n] = mask;
    f->n++;
    return e;
}

static void fixture_kill(fixture *f, uint32_t i) {
    EXPECT_OK(aw_entity_destroy(f->w, f->ids[i]));
    f->ids[i] = f->ids[f->n - 1];
    f->mask[i] = f->mask[f->n - 1];
    f->n--;
}

static int fixture_find(const fixture *f, aw_entity e) {
    for (uint32_t i = 0; i < f->n; i++)
        if (f->ids[i] == e) return (int)i;
    return -1;
}

/* Term list in terms of fixture component slots (0..3). */
typedef struct qspec {
    int comp[AW_QUERY_MAX_TERMS];
    aw_term_oper oper[AW_QUERY_MAX_TERMS];
    uint32_t n;
} qspec;

static bool spec_matches(const qspec *s, unsigned mask) {
    for (uint32_t t = 0; t < s->n; t++) {
        bool has = (mask >> s->comp[t]) & 1;
        if (s->oper[t] == AW_TERM_WITH && !has) return false;
        if (s->oper[t] == AW_TERM_WITHOUT && has) return false;
    }
    return true;
}

static aw_query *spec_query(fixture *f, const qspec *s) {
    aw_term terms[AW_QUERY_MAX_TERMS];
    for (uint32_t t = 0; t < s->n; t++)
        terms[t] = (aw_term){.component = f->c[s->comp[t]], .oper = s->oper[t], .access = AW_ACCESS_READ};
    aw_query *q = aw_query_create(f->w, &(aw_query_desc){.terms = terms, .term_count = s->n});
    if (!q) fail_msg("aw_query_create failed: %s", aw_last_error());
    return q;
}

/* Checks one row's columns against the fixture's expected data. */
static void check_row(const fixture *f, const qspec *s, int idx, void *const *columns, uint32_t row) {
    unsigned char want[64];
    aw_entity e = f->ids[idx];
    for (uint32_t t = 0; t < s->n; t++) {
        int k = s->comp[t];
        bool has = (f->mask[idx] >> k) & 1;
        bool expect_col = f->size[k] > 0 && s->oper[t] != AW_TERM_WITHOUT && has;
        if (!expect_col) {
            if (columns[t] != NULL)
                fail_msg("term %u (comp %d oper %d): column should be NULL", t, k, s->oper[t]);
            continue;
        }
        if (columns[t] == NULL) fail_msg("term %u (comp %d oper %d): column is NULL", t, k, s->oper[t]);
        value_for(e, k, f->size[k], want);
        const unsigned char *got = (const unsigned char *)columns[t] + (size_t)row * f->size[k];
        if (memcmp(got, want, f->size[k]) != 0)
            fail_msg("entity %llx term %u: wrong data", (unsigned long long)e, t);
    }
}

/* Iterates q and checks it yields exactly the matching entities once each, with the right data. */
static void verify_query(fixture *f, aw_query *q, const qspec *s) {
    uint32_t expected = 0;
    for (uint32_t i = 0; i < f->n; i++) expected += spec_matches(s, f->mask[i]);
    assert_int_equal(aw_query_count(q), expected);
    unsigned char *seen = calloc(f->n + 1, 1);
    assert_non_null(seen);
    uint32_t rows = 0;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        if (it.count > 0) assert_non_null(it.entities);
        for (uint32_t r = 0; r < it.count; r++) {
            int idx = fixture_find(f, it.entities[r]);
            if (idx < 0)
                fail_msg("iteration yielded unknown/dead entity %llx", (unsigned long long)it.entities[r]);
            if (seen[idx]) fail_msg("entity %llx yielded twice", (unsigned long long)it.entities[r]);
            seen[idx] = 1;
            if (!spec_matches(s, f->mask[idx]))
                fail_msg("entity %llx (mask %x) does not match the query", (unsigned long long)it.entities[r],
                         f->mask[idx]);
            /* a chunk's columns all have the same presence */
            check_row(f, s, idx, it.columns, r);
        }
        rows += it.count;
    }
    assert_int_equal(rows, expected);
    free(seen);
}

typedef struct each_ctx {
    fixture *f;
    const qspec *s;
    unsigned char *seen;
    uint32_t calls;
} each_ctx;

static void each_check(aw_entity e, void *const *columns, void *user) {
    each_ctx *c = user;
    int idx = fixture_find(c->f, e);
    if (idx < 0) fail_msg("each: unknown entity %llx", (unsigned long long)e);
    if (c->seen[idx]) fail_msg("each: entity %llx twice", (unsigned long long)e);
    c->seen[idx] = 1;
    if (!spec_matches(c->s, c->f->mask[idx]))
        fail_msg("each: entity %llx does not match", (unsigned long long)e);
    check_row(c->f, c->s, idx, columns, 0);
    c->calls++;
}

static void verify_each(fixture *f, aw_query *q, const qspec *s) {
    uint32_t expected = 0;
    for (uint32_t i = 0; i < f->n; i++) expected += spec_matches(s, f->mask[i]);
    each_ctx c = {f, s, calloc(f->n + 1, 1), 0};
    assert_non_null(c.seen);
    aw_query_each(q, each_check, &c);
    assert_int_equal(c.calls, expected);
    free(c.seen);
}

#define W   AW_TERM_WITH
#define WO  AW_TERM_WITHOUT
#define OPT AW_TERM_OPTIONAL

static const qspec g_specs[] = {
    {{0}, {W}, 1},
    {{0, 1}, {W, W}, 2},
    {{0, 1}, {W, WO}, 2},
    {{0, 1, 3}, {W, OPT, OPT}, 3},
    {{3}, {W}, 1},
    {{3, 2}, {W, WO}, 2},
    {{2, 0, 3}, {W, OPT, WO}, 3},
    {{1, 0, 2, 3}, {W, W, W, W}, 4},
    {{2, 1}, {OPT, W}, 2},
    {{3, 0, 1, 2}, {W, WO, WO, OPT}, 4},
};
enum { NSPECS = sizeof g_specs / sizeof g_specs[0] };

static void test_query_terms(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0);
    for (unsigned mask = 0; mask < 16; mask++)
        for (unsigned i = 0; i < 1 + mask * 3; i++) fixture_spawn(&f, mask);
    for (int s = 0; s < NSPECS; s++) {
        aw_query *q = spec_query(&f, &g_specs[s]);
        verify_query(&f, q, &g_specs[s]);
        verify_each(&f, q, &g_specs[s]);
    }
    fixture_free(&f);
}

/* Queries made before any table exists see tables created later, including tables that use
 * components registered after the query. */
static void test_query_cache_new_tables(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0);
    aw_query *q[NSPECS];
    for (int s = 0; s < NSPECS; s++) {
        q[s] = spec_query(&f, &g_specs[s]);
        assert_int_equal(aw_query_count(q[s]), 0);
        aw_iter it = aw_query_iter(q[s]);
        assert_false(aw_iter_next(&it));
    }
    assert_int_equal(aw_world_get_stats(f.w).queries, NSPECS);
    /* create tables in several waves, checking in between */
    for (unsigned wave = 0; wave < 4; wave++) {
        for (unsigned mask = wave * 4; mask < wave * 4 + 4; mask++)
            for (unsigned i = 0; i < 5; i++) fixture_spawn(&f, mask);
        for (int s = 0; s < NSPECS; s++) verify_query(&f, q[s], &g_specs[s]);
    }
    /* a late component: tables containing it must still be matched by the old queries */
    aw_component late = test_component(f.w, "Late", 8, 0);
    for (unsigned mask = 0; mask < 16; mask++) {
        aw_entity e = fixture_spawn(&f, mask);
        EXPECT_OK(aw_entity_add(f.w, e, late));
    }
    for (int s = 0; s < NSPECS; s++) verify_query(&f, q[s], &g_specs[s]);
    /* and a query on the late component */
    aw_query *ql = aw_query_create(f.w, &(aw_query_desc){AW_TERMS(T_WITH(late), T_OPT(f.c[0]))});
    assert_non_null(ql);
    assert_int_equal(aw_query_count(ql), 16);
    aw_query_destroy(q[0]);
    assert_int_equal(aw_world_get_stats(f.w).queries, NSPECS);
    fixture_free(&f);
}

/* Small chunks: many chunks per table, every row exactly once, counts bounded by the chunk size,
 * and writes through the columns land in the entities' data. */
static void test_query_chunks(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1024);
    aw_component big = test_component(f.w, "Big", 64, 64);
    for (unsigned i = 0; i < 5000; i++) {
        aw_entity e = fixture_spawn(&f, 1u | (i % 4 == 0 ? 2u : 0u));
        EXPECT_OK(aw_entity_add(f.w, e, big));
    }
    /* destroy some to leave holes that swap-removes fill */
    for (uint32_t i = 0; i < f.n; i += 7) fixture_kill(&f, i);
    qspec s = {{0, 1}, {W, OPT}, 2};
    aw_query *q = spec_query(&f, &s);
    verify_query(&f, q, &s);

    aw_query *qb = aw_query_create(f.w, &(aw_query_desc){AW_TERMS(T_WITH(big), T_WITH(f.c[0]))});
    assert_non_null(qb);
    uint32_t chunks = 0, rows = 0;
    for (aw_iter it = aw_query_iter(qb); aw_iter_next(&it);) {
        chunks++;
        rows += it.count;
        assert_true(test_is_aligned(it.columns[0], 64));
        for (uint32_t r = 0; r < it.count; r++) {
            uint64_t *p = (uint64_t *)((unsigned char *)it.columns[0] + (size_t)r * 64);
            p[0] = it.entities[r];
            p[7] = ~it.entities[r];
        }
    }
    assert_int_equal(rows, f.n);
    assert_true(chunks > 4);
    for (uint32_t i = 0; i < f.n; i++) {
        uint64_t *p = aw_entity_get(f.w, f.ids[i], big);
        assert_non_null(p);
        assert_true(p[0] == f.ids[i] && p[7] == ~f.ids[i]);
    }
    verify_query(&f, q, &s);
    fixture_free(&f);
}

/* ecs.h: chunk_size and large_chunk_size bound the chunks (test_world_new sets both). Every chunk
 * an iterator yields must fit its rows' column bytes in chunk_size bytes. */
static void test_chunk_size_respected(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 1024);
    aw_component a = test_component(w, "A", 4, 0);
    aw_component big = test_component(w, "Big", 64, 64);
    enum { N = 3000 };
    aw_component comps[] = {a, big};
    EXPECT_OK(
        aw_entity_create_bulk(w, &(aw_bulk_desc){.count = N, .components = comps, .component_count = 2}));
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(big), T_WITH(a))});
    assert_non_null(q);
    uint32_t chunk = 0, rows = 0, max_rows = 0, min_chunks = (N + 14) / 15;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it); chunk++) {
        rows += it.count;
        if (it.count > max_rows) max_rows = it.count;
    }
    aw_world_destroy(w); /* before failing: keep sanitizer output about the failure, not a leak */
    assert_int_equal(rows, N);
    if (max_rows * (64u + 4u) > 1024u || chunk < min_chunks)
        fail_msg(
            "chunk_size 1024 with 68-byte rows: %u chunks, up to %u rows (%u column bytes) in one chunk; "
            "expected >= %u chunks of <= 15 rows",
            chunk, max_rows, max_rows * 68u, min_chunks);
}

/* A table's first four chunks are small (chunk_size), later ones large (large_chunk_size). */
static void test_chunk_tiers(void **state) {
    (void)state;
    aw_world *w =
        aw_world_create(&(aw_world_desc){.chunk_size = 1024, .large_chunk_size = 8192, .threads = 1});
    assert_non_null(w);
    aw_component a = test_component(w, "A", 8, 0);
    enum { N = 5000 };
    EXPECT_OK(aw_entity_create_bulk(w, &(aw_bulk_desc){.count = N, .components = &a, .component_count = 1}));
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(a))});
    uint32_t chunk = 0, rows = 0;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it); chunk++) {
        rows += it.count;
        if (chunk < 4)
            assert_true(it.count * 16u <= 1024u); /* 8-byte id + 8-byte A per row */
        else
            assert_true(it.count * 16u <= 8192u && it.count * 16u > 1024u);
        assert_true(((uintptr_t)it.columns[0] & 63u) == 0);
    }
    assert_int_equal(rows, N);
    assert_true(chunk > 4);
    aw_world_destroy(w);
}

/* Entities destroyed and moved between tables keep query results exact. */
static void test_query_after_churn(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1024);
    aw_query *q[NSPECS];
    for (int s = 0; s < NSPECS; s++) q[s] = spec_query(&f, &g_specs[s]);
    uint64_t rng = 99;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 60; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            fixture_spawn(&f, (unsigned)(rng >> 40) % 16);
        }
        for (int i = 0; i < 25 && f.n > 0; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            fixture_kill(&f, (uint32_t)((rng >> 33) % f.n));
        }
        /* toggle a component on some entities */
        for (int i = 0; i < 20 && f.n > 0; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t idx = (uint32_t)((rng >> 33) % f.n);
            int k = (int)((rng >> 20) % NCOMP);
            aw_entity e = f.ids[idx];
            if ((f.mask[idx] >> k) & 1) {
                EXPECT_OK(aw_entity_remove(f.w, e, f.c[k]));
                f.mask[idx] &= ~(1u << k);
            } else {
                unsigned char buf[64];
                value_for(e, k, f.size[k], buf);
                EXPECT_OK(aw_entity_set(f.w, e, f.c[k], f.size[k] ? buf : NULL, f.size[k]));
                f.mask[idx] |= 1u << k;
            }
        }
        for (int s = 0; s < NSPECS; s++) verify_query(&f, q[s], &g_specs[s]);
    }
    fixture_free(&f);
}

/* ---------------------------------------------------------------- locking */

/* Every structural change is refused while an iterator is active; storage stays as it was.
 * With a command buffer, records an entity creation and returns its reserved id. */
static aw_entity check_locked(fixture *f, aw_entity victim, aw_cmd_buffer *cb) {
    aw_entity ce = AW_ENTITY_NULL;
    uint32_t count = aw_world_entity_count(f->w);
    int vi = fixture_find(f, victim);
    assert_true(vi >= 0);
    unsigned vmask = f->mask[vi];
    assert_true(vmask & 1u);        /* has A */
    assert_false((vmask >> 1) & 1); /* lacks B */

    aw_clear_error();
    assert_true(aw_entity_create(f->w) == AW_ENTITY_NULL);
    test_check_error(AW_ERR_LOCKED, "aw_entity_create", __FILE__, __LINE__);
    EXPECT_FAIL(aw_entity_destroy(f->w, victim), AW_ERR_LOCKED);
    EXPECT_FAIL(aw_entity_add(f->w, victim, f->c[1]), AW_ERR_LOCKED);
    EXPECT_FAIL(aw_entity_remove(f->w, victim, f->c[0]), AW_ERR_LOCKED);
    unsigned char b[16] = {1};
    EXPECT_FAIL(aw_entity_set(f->w, victim, f->c[1], b, 16), AW_ERR_LOCKED); /* absent: structural */
    EXPECT_FAIL(aw_world_clear(f->w), AW_ERR_LOCKED);
    aw_component comps[] = {f->c[0]};
    EXPECT_FAIL(
        aw_entity_create_bulk(f->w, &(aw_bulk_desc){.count = 4, .components = comps, .component_count = 1}),
        AW_ERR_LOCKED);
    if (cb) {
        ce = aw_cmd_create(cb); /* recording is fine while iterating */
        assert_true(ce != AW_ENTITY_NULL);
        EXPECT_OK(aw_cmd_add(cb, ce, f->c[0]));
        EXPECT_FAIL(aw_cmd_buffer_apply(cb), AW_ERR_LOCKED);
        assert_false(aw_entity_alive(f->w, ce));
    }

    /* writing a present component is allowed */
    int32_t v = 12345;
    EXPECT_OK(aw_entity_set(f->w, victim, f->c[0], &v, 4));
    assert_int_equal(*(int32_t *)aw_entity_get(f->w, victim, f->c[0]), 12345);
    unsigned char want[4];
    value_for(victim, 0, 4, want);
    memcpy(aw_entity_get(f->w, victim, f->c[0]), want, 4); /* restore the fixture's value */

    /* nothing changed */
    assert_int_equal(aw_world_entity_count(f->w), count);
    assert_true(aw_entity_alive(f->w, victim));
    assert_true(aw_entity_has(f->w, victim, f->c[0]));
    assert_false(aw_entity_has(f->w, victim, f->c[1]));
    return ce;
}

static void check_unlocked(fixture *f) {
    aw_entity e = fixture_spawn(f, 1);
    assert_true(aw_entity_alive(f->w, e));
    fixture_kill(f, (uint32_t)fixture_find(f, e));
}

static void test_locked_while_iterating(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1024);
    for (int i = 0; i < 300; i++) fixture_spawn(&f, (unsigned)(1 + (i % 2) * 4 + (i % 3 == 0) * 8));
    aw_cmd_buffer *cb = aw_cmd_buffer_create(f.w);
    assert_non_null(cb);
    qspec s = {{0}, {W}, 1};
    aw_query *q = spec_query(&f, &s);

    /* locked on every chunk of a full iteration */
    uint32_t chunk = 0;
    aw_entity pending = AW_ENTITY_NULL;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it); chunk++) {
        aw_entity ce = check_locked(&f, it.entities[0], chunk == 0 ? cb : NULL);
        if (chunk == 0) pending = ce;
    }
    assert_true(chunk > 1);
    check_unlocked(&f); /* next() returned false: unlocked */
    verify_query(&f, q, &s);

    /* the commands recorded while locked apply now */
    EXPECT_OK(aw_cmd_buffer_apply(cb));
    assert_int_equal(aw_world_entity_count(f.w), f.n + 1);
    assert_true(aw_entity_alive(f.w, pending));
    assert_true(aw_entity_has(f.w, pending, f.c[0]));
    EXPECT_OK(aw_entity_destroy(f.w, pending));

    /* early exit */
    aw_iter it = aw_query_iter(q);
    assert_true(aw_iter_next(&it));
    check_locked(&f, it.entities[0], NULL);
    aw_iter_fini(&it);
    check_unlocked(&f);

    /* nested iterators: locked until both are done */
    aw_iter outer = aw_query_iter(q);
    assert_true(aw_iter_next(&outer));
    for (aw_iter inner = aw_query_iter(q); aw_iter_next(&inner);) {
        check_locked(&f, inner.entities[0], NULL);
    }
    check_locked(&f, outer.entities[0], NULL); /* outer still active */
    aw_iter_fini(&outer);
    check_unlocked(&f);

    /* a query that matches nothing leaves the world unlocked */
    aw_component unused = test_component(f.w, "Unused", 4, 0);
    aw_query *none = aw_query_create(f.w, &(aw_query_desc){AW_TERMS(T_WITH(unused))});
    assert_non_null(none);
    aw_iter ni = aw_query_iter(none);
    assert_false(aw_iter_next(&ni));
    check_unlocked(&f);
    aw_cmd_buffer_destroy(cb);
    fixture_free(&f);
}

typedef struct lock_ctx {
    fixture *f;
    uint32_t calls;
} lock_ctx;

static void each_locked(aw_entity e, void *const *columns, void *user) {
    lock_ctx *c = user;
    if (c->calls++ % 50 == 0) check_locked(c->f, e, NULL);
    (void)columns;
}

static void test_locked_in_each(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0);
    for (int i = 0; i < 200; i++) fixture_spawn(&f, 1u | (i % 3 == 0 ? 4u : 0u));
    qspec s = {{0}, {W}, 1};
    aw_query *q = spec_query(&f, &s);
    lock_ctx c = {&f, 0};
    aw_query_each(q, each_locked, &c);
    assert_int_equal(c.calls, 200);
    check_unlocked(&f);
    fixture_free(&f);
}

/* Writes through aw_entity_set and through columns during iteration are visible afterwards. */
typedef struct write_ctx {
    aw_world *w;
    aw_component a;
} write_ctx;

static void each_write(aw_entity e, void *const *columns, void *user) {
    write_ctx *c = user;
    *(int32_t *)columns[0] = (int32_t)AW_ENTITY_INDEX(e);
    (void)c;
}

static void test_writes_during_iteration(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 0);
    for (int i = 0; i < 500; i++) fixture_spawn(&f, 1u | (unsigned)(i % 4) << 1);
    qspec s = {{0}, {W}, 1};
    aw_query *q = spec_query(&f, &s);
    write_ctx c = {f.w, f.c[0]};
    aw_query_each(q, each_write, &c);
    for (uint32_t i = 0; i < f.n; i++)
        assert_int_equal(*(int32_t *)aw_entity_get(f.w, f.ids[i], f.c[0]),
                         (int32_t)AW_ENTITY_INDEX(f.ids[i]));
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        for (uint32_t r = 0; r < it.count; r++) {
            int32_t v = -(int32_t)r;
            EXPECT_OK(aw_entity_set(f.w, it.entities[r], f.c[0], &v, 4));
            assert_int_equal(AW_COLUMN(&it, int32_t, 0)[r], v);
        }
    }
    fixture_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_terms),
        cmocka_unit_test(test_query_cache_new_tables),
        cmocka_unit_test(test_query_chunks),
        cmocka_unit_test(test_chunk_size_respected),
        cmocka_unit_test(test_chunk_tiers),
        cmocka_unit_test(test_query_after_churn),
        cmocka_unit_test(test_locked_while_iterating),
        cmocka_unit_test(test_locked_in_each),
        cmocka_unit_test(test_writes_during_iteration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
