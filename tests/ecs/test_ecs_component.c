/* Component tests: registration and lookup, tags, zero-fill, add/remove/set/get/has, alignment of
 * entity pointers and query columns, lifecycle hooks (counted) and bulk creation. */
#include "ecs_test_util.h"

typedef struct Position {
    float x, y;
} Position;

typedef struct Velocity {
    double dx, dy, dz;
} Velocity;

/* ---------------------------------------------------------------- registration */

static void test_register_lookup(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    char name[16];
    strcpy(name, "Health");
    aw_component pos = AW_COMPONENT(w, Position);
    aw_component vel = AW_COMPONENT(w, Velocity);
    aw_component hp = aw_component_register(w, &(aw_component_desc){.name = name, .size = 4});
    aw_component frozen = AW_TAG(w, Frozen);
    /* 1-based, in registration order. */
    assert_int_equal(pos, 1);
    assert_int_equal(vel, 2);
    assert_int_equal(hp, 3);
    assert_int_equal(frozen, 4);
    strcpy(name, "XXXXXX"); /* the name was copied */

    assert_int_equal(aw_component_lookup(w, "Position"), pos);
    assert_int_equal(aw_component_lookup(w, "Velocity"), vel);
    assert_int_equal(aw_component_lookup(w, "Health"), hp);
    assert_int_equal(aw_component_lookup(w, "Frozen"), frozen);
    assert_int_equal(aw_component_lookup(w, "XXXXXX"), 0);
    assert_int_equal(aw_component_lookup(w, "position"), 0);
    assert_int_equal(aw_component_lookup(w, ""), 0);

    assert_int_equal(aw_component_size(w, pos), sizeof(Position));
    assert_int_equal(aw_component_size(w, vel), sizeof(Velocity));
    assert_int_equal(aw_component_size(w, hp), 4);
    assert_int_equal(aw_component_size(w, frozen), 0);
    assert_int_equal(aw_component_size(w, 99), 0);
    assert_string_equal(aw_component_name(w, pos), "Position");
    assert_string_equal(aw_component_name(w, hp), "Health");
    assert_string_equal(aw_component_name(w, frozen), "Frozen");
    assert_int_equal(aw_world_get_stats(w).components, 4);

    /* Many components: ids keep counting, lookups keep working. */
    for (int i = 0; i < 200; i++) {
        char n[32];
        snprintf(n, sizeof n, "Comp%d", i);
        aw_component c = test_component(w, n, (size_t)(i % 9) * 4, 0);
        assert_int_equal(c, 5 + i);
    }
    for (int i = 0; i < 200; i++) {
        char n[32];
        snprintf(n, sizeof n, "Comp%d", i);
        assert_int_equal(aw_component_lookup(w, n), 5 + i);
        assert_string_equal(aw_component_name(w, (aw_component)(5 + i)), n);
    }
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

/* ---------------------------------------------------------------- tags and data */

static void test_tags(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component tag = test_component(w, "Tag", 0, 0);
    aw_component pos = AW_COMPONENT(w, Position);
    aw_entity e = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, e, tag));
    assert_true(aw_entity_has(w, e, tag));
    EXPECT_FAIL(aw_entity_add(w, e, tag), AW_ERR_ALREADY_PRESENT);
    /* A tag has no storage: get returns NULL with a message. */
    aw_clear_error();
    assert_null(aw_entity_get(w, e, tag));
    assert_true(aw_last_error()[0] != '\0');
    assert_true(aw_last_status() != AW_OK);
    assert_true(aw_entity_has(w, e, tag)); /* and leaves it alone */

    EXPECT_OK(AW_SET(w, e, pos, Position, {1, 2}));
    EXPECT_OK(aw_entity_remove(w, e, tag));
    assert_false(aw_entity_has(w, e, tag));
    EXPECT_FAIL(aw_entity_remove(w, e, tag), AW_ERR_NOT_PRESENT);
    /* set with NULL/0 adds a tag, and is accepted when it is already there. */
    EXPECT_OK(aw_entity_set(w, e, tag, NULL, 0));
    assert_true(aw_entity_has(w, e, tag));
    EXPECT_OK(aw_entity_set(w, e, tag, NULL, 0));
    assert_true(aw_entity_has(w, e, tag));
    Position *p = AW_GET(w, e, pos, Position);
    assert_non_null(p);
    assert_true(p->x == 1.0f && p->y == 2.0f);

    /* Many entities with only a tag. */
    for (int i = 0; i < 2000; i++) {
        aw_entity t = aw_entity_create(w);
        EXPECT_OK(aw_entity_add(w, t, tag));
    }
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(tag))});
    assert_non_null(q);
    assert_int_equal(aw_query_count(q), 2001);
    uint32_t rows = 0;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        assert_null(it.columns[0]);
        rows += it.count;
    }
    assert_int_equal(rows, 2001);
    aw_world_destroy(w);
}

static void test_add_is_zero_filled(void **state) {
    (void)state;
    test_alloc ta; /* poisons fresh memory with 0xCD */
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_component big = test_component(w, "Big", 40, 8);
    aw_component small = test_component(w, "Small", 3, 1);
    unsigned char ones[40];
    memset(ones, 0xff, sizeof ones);
    aw_entity tmp[100];
    for (int i = 0; i < 100; i++) {
        tmp[i] = aw_entity_create(w);
        EXPECT_OK(aw_entity_set(w, tmp[i], big, ones, 40));
        EXPECT_OK(aw_entity_set(w, tmp[i], small, ones, 3));
    }
    for (int i = 0; i < 100; i++) EXPECT_OK(aw_entity_destroy(w, tmp[i]));
    unsigned char zero[40] = {0};
    for (int i = 0; i < 300; i++) {
        aw_entity e = aw_entity_create(w);
        EXPECT_OK(aw_entity_add(w, e, big));
        assert_memory_equal(aw_entity_get(w, e, big), zero, 40);
        EXPECT_OK(aw_entity_add(w, e, small));
        assert_memory_equal(aw_entity_get(w, e, small), zero, 3);
        assert_memory_equal(aw_entity_get(w, e, big), zero, 40);
    }
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
}

static void test_add_remove_set_get_has(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component pos = AW_COMPONENT(w, Position);
    aw_component vel = AW_COMPONENT(w, Velocity);
    aw_component hp = test_component(w, "Hp", 4, 4);
    aw_entity e = aw_entity_create(w);
    assert_false(aw_entity_has(w, e, pos));
    aw_clear_error();
    assert_null(aw_entity_get(w, e, pos));
    assert_true(aw_last_error()[0] != '\0');
    assert_null(aw_entity_get_const(w, e, pos));

    /* set of an absent component adds it */
    EXPECT_OK(AW_SET(w, e, pos, Position, {3, 4}));
    assert_true(aw_entity_has(w, e, pos));
    assert_true(AW_GET(w, e, pos, Position)->x == 3.0f);
    const Position *cp = aw_entity_get_const(w, e, pos);
    assert_non_null(cp);
    assert_true(cp->y == 4.0f);
    /* overwrite */
    EXPECT_OK(AW_SET(w, e, pos, Position, {5, 6}));
    assert_true(AW_GET(w, e, pos, Position)->x == 5.0f);
    /* writes through the pointer stick */
    AW_GET(w, e, pos, Position)->y = 42.0f;
    assert_true(AW_GET(w, e, pos, Position)->y == 42.0f);

    EXPECT_OK(aw_entity_add(w, e, vel));
    EXPECT_FAIL(aw_entity_add(w, e, vel), AW_ERR_ALREADY_PRESENT);
    Velocity *v = AW_GET(w, e, vel, Velocity);
    assert_true(v->dx == 0.0 && v->dy == 0.0 && v->dz == 0.0);
    v->dz = 9.5;
    EXPECT_OK(AW_SET(w, e, hp, int32_t, {100}));
    /* data survives the table moves */
    assert_true(AW_GET(w, e, pos, Position)->x == 5.0f && AW_GET(w, e, pos, Position)->y == 42.0f);
    assert_true(AW_GET(w, e, vel, Velocity)->dz == 9.5);
    assert_int_equal(*AW_GET(w, e, hp, int32_t), 100);

    EXPECT_OK(aw_entity_remove(w, e, vel));
    assert_false(aw_entity_has(w, e, vel));
    EXPECT_FAIL(aw_entity_remove(w, e, vel), AW_ERR_NOT_PRESENT);
    assert_true(AW_GET(w, e, pos, Position)->y == 42.0f);
    assert_int_equal(*AW_GET(w, e, hp, int32_t), 100);
    /* re-adding gives a fresh, zeroed value */
    EXPECT_OK(aw_entity_add(w, e, vel));
    assert_true(AW_GET(w, e, vel, Velocity)->dz == 0.0);

    EXPECT_OK(aw_entity_remove(w, e, pos));
    EXPECT_OK(aw_entity_remove(w, e, vel));
    EXPECT_OK(aw_entity_remove(w, e, hp));
    assert_true(aw_entity_alive(w, e));
    assert_false(aw_entity_has(w, e, pos) || aw_entity_has(w, e, vel) || aw_entity_has(w, e, hp));
    aw_world_destroy(w);
}

/* Many entities in shared tables: removing from the middle of a table (the usual swap-remove)
 * and moving entities between tables must keep every other entity's data. */
static void test_data_survives_moves(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 1024);
    aw_component c[4];
    size_t sizes[4] = {1, 12, 64, 136};
    for (int i = 0; i < 4; i++) {
        char n[8];
        snprintf(n, sizeof n, "D%d", i);
        c[i] = test_component(w, n, sizes[i], 0);
    }
    enum { N = 400 };
    aw_entity ids[N];
    unsigned mask[N];
    unsigned salt[N][4];
    unsigned char buf[136];
    for (int i = 0; i < N; i++) {
        ids[i] = aw_entity_create(w);
        mask[i] = 0;
        for (int k = 0; k < 4; k++) {
            if ((i >> k) & 1 || k == 0) {
                salt[i][k] = (unsigned)i * 7u + (unsigned)k;
                test_fill(buf, sizes[k], salt[i][k]);
                EXPECT_OK(aw_entity_set(w, ids[i], c[k], buf, sizes[k]));
                mask[i] |= 1u << k;
            }
        }
    }
    /* Shuffle things around deterministically. */
    uint64_t rng = 12345;
    for (int step = 0; step < 3000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((rng >> 33) % N);
        int k = (int)((rng >> 20) % 4);
        if (mask[i] & (1u << k)) {
            EXPECT_OK(aw_entity_remove(w, ids[i], c[k]));
            mask[i] &= ~(1u << k);
        } else {
            salt[i][k] = (unsigned)step * 31u + (unsigned)k;
            test_fill(buf, sizes[k], salt[i][k]);
            EXPECT_OK(aw_entity_set(w, ids[i], c[k], buf, sizes[k]));
            mask[i] |= 1u << k;
        }
        if (step % 100 == 0 || step == 2999) {
            for (int j = 0; j < N; j++) {
                for (int kk = 0; kk < 4; kk++) {
                    bool has = (mask[j] >> kk) & 1;
                    assert_true(aw_entity_has(w, ids[j], c[kk]) == has);
                    if (has) {
                        test_fill(buf, sizes[kk], salt[j][kk]);
                        assert_memory_equal(aw_entity_get(w, ids[j], c[kk]), buf, sizes[kk]);
                    }
                }
            }
        }
    }
    /* Destroy every third entity and check the rest. */
    for (int i = 0; i < N; i += 3) EXPECT_OK(aw_entity_destroy(w, ids[i]));
    for (int j = 0; j < N; j++) {
        if (j % 3 == 0) continue;
        for (int kk = 0; kk < 4; kk++) {
            if ((mask[j] >> kk) & 1) {
                test_fill(buf, sizes[kk], salt[j][kk]);
                assert_memory_equal(aw_entity_get(w, ids[j], c[kk]), buf, sizes[kk]);
            }
        }
    }
    aw_world_destroy(w);
}

/* Many registered components (ids well past any small fixed table): transitions, data and
 * queries over high component ids. */
static void test_many_components(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    enum { NCOMP = 150, N = 300 };
    aw_component c[NCOMP];
    for (int i = 0; i < NCOMP; i++) {
        char n[16];
        snprintf(n, sizeof n, "M%d", i);
        c[i] = test_component(w, n, i % 5 == 0 ? 0 : (size_t)(4 + i % 7 * 4), 0);
    }
    aw_entity ids[N];
    uint64_t rng = 7;
    unsigned char buf[64], want[64];
    for (int i = 0; i < N; i++) {
        ids[i] = aw_entity_create(w);
        for (int j = 0; j < 6; j++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            int k = 100 + (int)((rng >> 33) % 50); /* high ids */
            if (j == 0) k = i % NCOMP;
            if (aw_entity_has(w, ids[i], c[k])) continue;
            size_t sz = aw_component_size(w, c[k]);
            test_fill(buf, sz, (uint64_t)i * 1000 + (uint64_t)k);
            EXPECT_OK(aw_entity_set(w, ids[i], c[k], sz ? buf : NULL, sz));
        }
    }
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < NCOMP; k++) {
            if (!aw_entity_has(w, ids[i], c[k])) continue;
            size_t sz = aw_component_size(w, c[k]);
            if (!sz) continue;
            test_fill(want, sz, (uint64_t)i * 1000 + (uint64_t)k);
            assert_memory_equal(aw_entity_get(w, ids[i], c[k]), want, sz);
        }
    }
    for (int k = 100; k < NCOMP; k++) {
        aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(c[k]), T_OPT(c[(k + 1) % NCOMP]))});
        assert_non_null(q);
        uint32_t want_n = 0, rows = 0;
        for (int i = 0; i < N; i++) want_n += aw_entity_has(w, ids[i], c[k]);
        for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) rows += it.count;
        assert_int_equal(rows, want_n);
        assert_int_equal(aw_query_count(q), want_n);
    }
    /* remove the high components again */
    for (int i = 0; i < N; i++)
        for (int k = 100; k < NCOMP; k++)
            if (aw_entity_has(w, ids[i], c[k])) EXPECT_OK(aw_entity_remove(w, ids[i], c[k]));
    for (int i = 0; i < N; i++) {
        int k = i % NCOMP;
        if (k >= 100) continue; /* removed above */
        assert_true(aw_entity_has(w, ids[i], c[k]));
        size_t sz = aw_component_size(w, c[k]);
        if (sz) {
            test_fill(want, sz, (uint64_t)i * 1000 + (uint64_t)k);
            assert_memory_equal(aw_entity_get(w, ids[i], c[k]), want, sz);
        }
    }
    aw_world_destroy(w);
}

/* ---------------------------------------------------------------- alignment */

static void check_alignment(uint32_t chunk_size) {
    aw_world *w = test_world_new(NULL, chunk_size);
    struct {
        size_t size, align, expect;
    } spec[] = {
        {1, 1, 1},     {3, 1, 1}, {24, 8, 8}, {16, 16, 16}, {32, 32, 32}, {64, 64, 64},
        {192, 64, 64}, {4, 0, 4}, {8, 0, 8},  {16, 0, 16},  {48, 0, 16},  {128, 64, 64},
    };
    enum { NC = sizeof spec / sizeof spec[0] };
    aw_component c[NC];
    for (int i = 0; i < NC; i++) {
        char n[16];
        snprintf(n, sizeof n, "Al%d", i);
        c[i] = test_component(w, n, spec[i].size, spec[i].align);
    }
    enum { N = 700 };
    aw_entity ids[N];
    for (int i = 0; i < N; i++) {
        ids[i] = aw_entity_create(w);
        for (int k = 0; k < NC; k++) {
            if (((unsigned)(i * 2654435761u) >> (k + 3)) & 1) {
                EXPECT_OK(aw_entity_add(w, ids[i], c[k]));
                void *p = aw_entity_get(w, ids[i], c[k]);
                assert_non_null(p);
                if (!test_is_aligned(p, spec[k].expect))
                    fail_msg("component %d (size %zu align %zu) at %p", k, spec[k].size, spec[k].align, p);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < NC; k++) {
            if (aw_entity_has(w, ids[i], c[k])) {
                void *p = aw_entity_get(w, ids[i], c[k]);
                if (!test_is_aligned(p, spec[k].expect))
                    fail_msg("component %d (size %zu align %zu) at %p", k, spec[k].size, spec[k].align, p);
            }
        }
    }
    for (int k = 0; k < NC; k++) {
        aw_query *q = aw_query_create(
            w, &(aw_query_desc){AW_TERMS(T_WITH(c[k]), T_OPT(c[(k + 1) % NC]), T_OPT(c[(k + 5) % NC]))});
        assert_non_null(q);
        uint32_t rows = 0;
        for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
            rows += it.count;
            int terms[3] = {k, (k + 1) % NC, (k + 5) % NC};
            for (int t = 0; t < 3; t++) {
                if (it.columns[t] && !test_is_aligned(it.columns[t], spec[terms[t]].expect))
                    fail_msg("column for component %d at %p", terms[t], it.columns[t]);
            }
            for (uint32_t r = 0; r < it.count; r++) {
                unsigned char *row = (unsigned char *)it.columns[0] + (size_t)r * spec[k].size;
                assert_ptr_equal(row, aw_entity_get(w, it.entities[r], c[k]));
            }
        }
        assert_int_equal(rows, aw_query_count(q));
    }
    aw_world_destroy(w);
}

static void test_alignment_default_chunks(void **state) {
    (void)state;
    check_alignment(0);
}

static void test_alignment_small_chunks(void **state) {
    (void)state;
    check_alignment(1024);
}

/* ---------------------------------------------------------------- hooks */

#define LIVE_MAGIC 0x11FE11FEu
#define DEAD_MAGIC 0xDEADDEADu

typedef struct Tracked {
    void *self; /* where this object lives: a move must fix it, a memcpy would not */
    uint32_t magic;
    int32_t value;
} Tracked;

typedef struct hook_stats {
    long ctor, dtor, move, copy, live, errors;
} hook_stats;

static void tracked_ctor(void *ptr, uint32_t count, void *user) {
    hook_stats *s = user;
    Tracked *t = ptr;
    for (uint32_t i = 0; i < count; i++) {
        if (t[i].magic == LIVE_MAGIC && t[i].self == &t[i]) s->errors++; /* constructing over a live one */
        t[i].self = &t[i];
        t[i].magic = LIVE_MAGIC;
        t[i].value = -1;
    }
    s->ctor += count;
    s->live += count;
}

static void tracked_dtor(void *ptr, uint32_t count, void *user) {
    hook_stats *s = user;
    Tracked *t = ptr;
    for (uint32_t i = 0; i < count; i++) {
        if (t[i].magic != LIVE_MAGIC || t[i].self != &t[i]) s->errors++;
        t[i].magic = DEAD_MAGIC;
    }
    s->dtor += count;
    s->live -= count;
}

static void tracked_move(void *dst, void *src, uint32_t count, void *user) {
    hook_stats *s = user;
    Tracked *d = dst, *sr = src;
    for (uint32_t i = 0; i < count; i++) {
        if (sr[i].magic != LIVE_MAGIC || sr[i].self != &sr[i]) s->errors++;
        d[i] = sr[i];
        d[i].self = &d[i];
        sr[i].magic = DEAD_MAGIC;
    }
    s->move += count;
}

static void tracked_copy(void *dst, const void *src, uint32_t count, void *user) {
    hook_stats *s = user;
    Tracked *d = dst;
    const Tracked *sr = src;
    for (uint32_t i = 0; i < count; i++) {
        if (d[i].magic != LIVE_MAGIC || d[i].self != &d[i]) s->errors++;
        d[i].value = sr[i].value; /* self and magic stay the destination's */
    }
    s->copy += count;
}

static aw_component register_tracked(aw_world *w, const char *name, hook_stats *s) {
    memset(s, 0, sizeof *s);
    aw_component c = aw_component_register(w, &(aw_component_desc){.name = name,
                                                                   .size = sizeof(Tracked),
                                                                   .align = _Alignof(Tracked),
                                                                   .ctor = tracked_ctor,
                                                                   .dtor = tracked_dtor,
                                                                   .move = tracked_move,
                                                                   .copy = tracked_copy,
                                                                   .hook_user = s});
    assert_true(c != 0);
    return c;
}

static void check_tracked(aw_world *w, aw_entity e, aw_component c, int32_t value) {
    Tracked *t = aw_entity_get(w, e, c);
    assert_non_null(t);
    assert_ptr_equal(t->self, t);
    assert_int_equal(t->magic, LIVE_MAGIC);
    assert_int_equal(t->value, value);
}

static void test_hooks_single_entity(void **state) {
    (void)state;
    hook_stats s;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_component tr = register_tracked(w, "Tracked", &s);
    aw_component other = test_component(w, "Other", 8, 0);
    aw_component tag = test_component(w, "Tag", 0, 0);

    aw_entity e = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, e, tr));
    assert_int_equal(s.ctor, 1);
    assert_int_equal(s.live, 1);
    check_tracked(w, e, tr, -1);

    /* set of a present component assigns through copy: no ctor/dtor */
    Tracked v = {.self = NULL, .magic = 0, .value = 42};
    EXPECT_OK(aw_entity_set(w, e, tr, &v, sizeof v));
    assert_int_equal(s.copy, 1);
    assert_int_equal(s.ctor, 1);
    assert_int_equal(s.dtor, 0);
    check_tracked(w, e, tr, 42);

    /* moving to other tables goes through move, never ctor/dtor */
    long moves = s.move;
    EXPECT_OK(aw_entity_add(w, e, other));
    EXPECT_OK(aw_entity_add(w, e, tag));
    EXPECT_OK(aw_entity_remove(w, e, other));
    assert_true(s.move > moves);
    assert_int_equal(s.ctor, 1);
    assert_int_equal(s.dtor, 0);
    assert_int_equal(s.live, 1);
    check_tracked(w, e, tr, 42);

    EXPECT_OK(aw_entity_remove(w, e, tr));
    assert_int_equal(s.dtor, 1);
    assert_int_equal(s.live, 0);

    /* set of an absent component constructs, then assigns */
    v.value = 7;
    EXPECT_OK(aw_entity_set(w, e, tr, &v, sizeof v));
    assert_int_equal(s.live, 1);
    check_tracked(w, e, tr, 7);

    EXPECT_OK(aw_entity_destroy(w, e));
    assert_int_equal(s.live, 0);
    assert_int_equal(s.ctor, s.dtor);
    assert_int_equal(s.errors, 0);
    aw_world_destroy(w);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.errors, 0);
    assert_int_equal(ta.live_bytes, 0);
}

/* Many entities in shared tables: removes, destroys, clear and world destroy all balance. */
static void test_hooks_many(void **state) {
    (void)state;
    hook_stats s;
    aw_world *w = test_world_new(NULL, 1024);
    aw_component tr = register_tracked(w, "Tracked", &s);
    aw_component a = test_component(w, "A", 4, 0);
    aw_component b = test_component(w, "B", 100, 0);
    enum { N = 600 };
    aw_entity ids[N];
    for (int i = 0; i < N; i++) {
        ids[i] = aw_entity_create(w);
        if (i % 2) EXPECT_OK(aw_entity_add(w, ids[i], a));
        Tracked v = {.value = i};
        EXPECT_OK(aw_entity_set(w, ids[i], tr, &v, sizeof v));
        if (i % 3 == 0) EXPECT_OK(aw_entity_add(w, ids[i], b));
    }
    assert_int_equal(s.live, N);
    /* remove from some, destroy others (swap-removes inside shared chunks) */
    long expect_live = N;
    for (int i = 0; i < N; i += 4) {
        EXPECT_OK(aw_entity_remove(w, ids[i], tr));
        expect_live--;
    }
    for (int i = 1; i < N; i += 4) {
        EXPECT_OK(aw_entity_destroy(w, ids[i]));
        expect_live--;
    }
    for (int i = 2; i < N; i += 4)
        if (i % 3 == 0) EXPECT_OK(aw_entity_remove(w, ids[i], b)); /* moves the Tracked value */
    assert_int_equal(s.live, expect_live);
    assert_int_equal(s.errors, 0);
    for (int i = 0; i < N; i++) {
        if (i % 4 == 0 || i % 4 == 1) continue;
        check_tracked(w, ids[i], tr, i);
    }
    /* clear destroys everything */
    EXPECT_OK(aw_world_clear(w));
    assert_int_equal(s.live, 0);
    assert_int_equal(s.errors, 0);
    assert_int_equal(aw_world_entity_count(w), 0);

    /* reuse after clear, then world destroy runs the remaining dtors */
    for (int i = 0; i < 300; i++) {
        aw_entity e = aw_entity_create(w);
        EXPECT_OK(aw_entity_add(w, e, tr));
        if (i % 2) EXPECT_OK(aw_entity_add(w, e, a));
    }
    assert_int_equal(s.live, 300);
    aw_world_destroy(w);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.ctor, s.dtor);
    assert_int_equal(s.errors, 0);
}

/* Components with only some hooks. */
static void partial_dtor(void *ptr, uint32_t count, void *user) {
    (void)ptr;
    *(int *)user += (int)count;
}

static void test_hooks_partial(void **state) {
    (void)state;
    int dtors = 0;
    aw_world *w = test_world_new(NULL, 0);
    /* only a dtor: new components are still zero-filled and moves are memcpy */
    aw_component c = aw_component_register(
        w, &(aw_component_desc){.name = "OnlyDtor", .size = 16, .dtor = partial_dtor, .hook_user = &dtors});
    aw_component other = test_component(w, "Other", 4, 0);
    assert_true(c != 0);
    unsigned char zero[16] = {0};
    for (int i = 0; i < 50; i++) {
        aw_entity e = aw_entity_create(w);
        EXPECT_OK(aw_entity_add(w, e, c));
        assert_memory_equal(aw_entity_get(w, e, c), zero, 16);
        memset(aw_entity_get(w, e, c), i, 16);
        EXPECT_OK(aw_entity_add(w, e, other));
        unsigned char want[16];
        memset(want, i, 16);
        assert_memory_equal(aw_entity_get(w, e, c), want, 16);
        if (i % 2) EXPECT_OK(aw_entity_destroy(w, e));
    }
    assert_int_equal(dtors, 25);
    aw_world_destroy(w);
    assert_int_equal(dtors, 50);
}

/* ctor and dtor without a copy hook: set/bulk/command data on an absent component still has to
 * construct it (ecs.h: set "adds it first", add constructs by its ctor), or the dtor that runs
 * later is unbalanced. */
static long g_cd_live;
static void cd_ctor(void *ptr, uint32_t count, void *user) {
    (void)user;
    memset(ptr, 0, (size_t)count * 8);
    g_cd_live += count;
}
static void cd_dtor(void *ptr, uint32_t count, void *user) {
    (void)ptr;
    (void)user;
    g_cd_live -= count;
}

static void test_hooks_ctor_dtor_without_copy(void **state) {
    (void)state;
    g_cd_live = 0;
    aw_world *w = test_world_new(NULL, 0);
    aw_component c = aw_component_register(
        w, &(aw_component_desc){.name = "CD", .size = 8, .ctor = cd_ctor, .dtor = cd_dtor});
    assert_true(c != 0);
    uint64_t v = 77;
    aw_entity e1 = aw_entity_create(w);
    EXPECT_OK(aw_entity_set(w, e1, c, &v, 8)); /* absent: constructed, then assigned */
    assert_int_equal(*(uint64_t *)aw_entity_get(w, e1, c), 77);
    long after_set = g_cd_live;
    aw_entity e2 = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, e2, c));
    const void *data[] = {(uint64_t[]){1, 2, 3}};
    EXPECT_OK(aw_entity_create_bulk(
        w, &(aw_bulk_desc){.count = 3, .components = &c, .component_count = 1, .data = data}));
    long after_bulk = g_cd_live;
    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    EXPECT_OK(aw_cmd_set(cb, aw_cmd_create(cb), c, &v, 8));
    EXPECT_OK(aw_cmd_buffer_apply(cb));
    long after_cmd = g_cd_live;
    aw_cmd_buffer_destroy(cb);
    aw_world_destroy(w);
    if (after_set != 1 || after_bulk != 5 || after_cmd != 6 || g_cd_live != 0)
        fail_msg(
            "live instances (ctor calls - dtor calls): %ld after set of an absent component (expected 1), "
            "%ld after add + bulk of 3 with data (expected 5), %ld after a command-buffer set (expected 6), "
            "%ld after world destroy (expected 0)",
            after_set, after_bulk, after_cmd, g_cd_live);
}

/* ---------------------------------------------------------------- bulk */

static void test_bulk_create(void **state) {
    (void)state;
    hook_stats s;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 1024);
    aw_component pos = AW_COMPONENT(w, Position);
    aw_component vel = AW_COMPONENT(w, Velocity);
    aw_component tag = test_component(w, "Tag", 0, 0);
    aw_component tr = register_tracked(w, "Tracked", &s);
    aw_component al = test_component(w, "Al64", 64, 64);

    enum { N = 1000 };
    Position *pd = calloc(N, sizeof *pd);
    Tracked *td = calloc(N, sizeof *td);
    aw_entity *out = calloc(N, sizeof *out);
    assert_true(pd && td && out);
    for (int i = 0; i < N; i++) {
        pd[i] = (Position){(float)i, (float)-i};
        td[i] = (Tracked){.value = i * 3};
    }
    aw_component comps[] = {pos, vel, tag, tr, al};
    const void *data[] = {pd, NULL, pd /* ignored for tags */, td, NULL};
    EXPECT_OK(aw_entity_create_bulk(
        w, &(aw_bulk_desc){
               .count = N, .components = comps, .component_count = 5, .data = data, .out_entities = out}));
    assert_int_equal(aw_world_entity_count(w), N);
    assert_int_equal(s.live, N);
    unsigned char zero[64] = {0};
    for (int i = 0; i < N; i++) {
        assert_true(aw_entity_alive(w, out[i]));
        for (int j = 0; j < i && j < 8; j++) assert_true(out[i] != out[j]);
        Position *p = AW_GET(w, out[i], pos, Position);
        assert_true(p->x == (float)i && p->y == (float)-i);
        assert_memory_equal(aw_entity_get(w, out[i], vel), zero, sizeof(Velocity));
        assert_true(aw_entity_has(w, out[i], tag));
        check_tracked(w, out[i], tr, i * 3);
        void *a = aw_entity_get(w, out[i], al);
        assert_true(test_is_aligned(a, 64));
        assert_memory_equal(a, zero, 64);
    }
    aw_query *q = aw_query_create(
        w, &(aw_query_desc){AW_TERMS(T_WITH(pos), T_WITH(vel), T_WITH(tag), T_WITH(tr), T_WITH(al))});
    assert_non_null(q);
    assert_int_equal(aw_query_count(q), N);

    /* data == NULL: everything constructed or zeroed; out_entities NULL is allowed */
    EXPECT_OK(
        aw_entity_create_bulk(w, &(aw_bulk_desc){.count = 10, .components = comps, .component_count = 5}));
    assert_int_equal(aw_world_entity_count(w), N + 10);
    assert_int_equal(aw_query_count(q), N + 10);
    assert_int_equal(s.live, N + 10);
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        for (uint32_t r = 0; r < it.count; r++) {
            int idx = -1;
            for (int i = 0; i < N && idx < 0; i++)
                if (out[i] == it.entities[r]) idx = i;
            Tracked *t = (Tracked *)it.columns[3] + r;
            assert_ptr_equal(t->self, t);
            if (idx < 0) { /* a new one */
                assert_memory_equal(it.columns[0] ? (unsigned char *)it.columns[0] + r * sizeof(Position)
                                                  : zero,
                                    zero, sizeof(Position));
                assert_int_equal(t->value, -1);
            }
        }
    }

    /* a single component, small counts, and no components at all */
    aw_entity one;
    EXPECT_OK(aw_entity_create_bulk(w, &(aw_bulk_desc){.count = 1,
                                                       .components = &pos,
                                                       .component_count = 1,
                                                       .data = (const void *const[]){&pd[7]},
                                                       .out_entities = &one}));
    assert_true(AW_GET(w, one, pos, Position)->x == 7.0f);
    assert_false(aw_entity_has(w, one, vel));
    aw_entity empties[3];
    EXPECT_OK(aw_entity_create_bulk(w, &(aw_bulk_desc){.count = 3, .out_entities = empties}));
    for (int i = 0; i < 3; i++) {
        assert_true(aw_entity_alive(w, empties[i]));
        assert_false(aw_entity_has(w, empties[i], pos));
    }
    assert_int_equal(aw_world_entity_count(w), N + 14);

    free(pd);
    free(td);
    free(out);
    aw_world_destroy(w);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.errors, 0);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_lookup),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_add_is_zero_filled),
        cmocka_unit_test(test_add_remove_set_get_has),
        cmocka_unit_test(test_data_survives_moves),
        cmocka_unit_test(test_many_components),
        cmocka_unit_test(test_alignment_default_chunks),
        cmocka_unit_test(test_alignment_small_chunks),
        cmocka_unit_test(test_hooks_single_entity),
        cmocka_unit_test(test_hooks_many),
        cmocka_unit_test(test_hooks_partial),
        cmocka_unit_test(test_hooks_ctor_dtor_without_copy),
        cmocka_unit_test(test_bulk_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
