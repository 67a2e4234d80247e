/* Command buffer tests: recorded create/destroy/add/remove/set apply in order; commands on entities
 * that died before apply are skipped with the first failure reported; reset returns reserved ids;
 * apply while iterating is refused; reuse of a buffer. */
#include "ecs_test_util.h"

typedef struct cmd_fixture {
    aw_world *w;
    aw_component a, b, tag;
    aw_cmd_buffer *cb;
} cmd_fixture;

static void fx_init(cmd_fixture *f) {
    f->w = test_world_new(NULL, 0);
    f->a = test_component(f->w, "A", 4, 0);
    f->b = test_component(f->w, "B", 24, 8);
    f->tag = test_component(f->w, "Tag", 0, 0);
    f->cb = aw_cmd_buffer_create(f->w);
    assert_non_null(f->cb);
}

static void fx_free(cmd_fixture *f) {
    aw_cmd_buffer_destroy(f->cb);
    aw_world_destroy(f->w);
}

static int32_t geti(cmd_fixture *f, aw_entity e) {
    int32_t *p = aw_entity_get(f->w, e, f->a);
    assert_non_null(p);
    return *p;
}

static void test_cmd_create_and_set(void **state) {
    (void)state;
    cmd_fixture f;
    fx_init(&f);
    assert_int_equal(aw_cmd_buffer_count(f.cb), 0);
    aw_entity e = aw_cmd_create(f.cb);
    assert_true(e != AW_ENTITY_NULL);
    assert_false(aw_entity_alive(f.w, e)); /* reserved, not alive yet */
    assert_int_equal(aw_world_entity_count(f.w), 0);
    int32_t v = 5;
    uint32_t n0 = aw_cmd_buffer_count(f.cb);
    EXPECT_OK(aw_cmd_set(f.cb, e, f.a, &v, sizeof v));
    v = 99; /* data is copied when recorded */
    EXPECT_OK(aw_cmd_add(f.cb, e, f.tag));
    assert_int_equal(aw_cmd_buffer_count(f.cb), n0 + 2);
    /* a direct create meanwhile gets a different id */
    aw_entity d = aw_entity_create(f.w);
    assert_true(d != e);

    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_int_equal(aw_cmd_buffer_count(f.cb), 0);
    assert_true(aw_entity_alive(f.w, e));
    assert_int_equal(geti(&f, e), 5);
    assert_true(aw_entity_has(f.w, e, f.tag));
    assert_int_equal(aw_world_entity_count(f.w), 2);

    /* applying an empty buffer is a no-op */
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_int_equal(aw_world_entity_count(f.w), 2);

    /* many reserved ids are distinct from each other and from live ids */
    aw_entity r[100];
    for (int i = 0; i < 100; i++) {
        r[i] = aw_cmd_create(f.cb);
        assert_true(r[i] != AW_ENTITY_NULL && r[i] != e && r[i] != d);
        for (int j = 0; j < i; j++) assert_true(r[i] != r[j]);
        int32_t x = i;
        EXPECT_OK(aw_cmd_set(f.cb, r[i], f.a, &x, sizeof x));
    }
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    for (int i = 0; i < 100; i++) assert_int_equal(geti(&f, r[i]), i);
    assert_int_equal(aw_world_entity_count(f.w), 102);
    fx_free(&f);
}

/* Commands on one entity take effect in recording order. */
static void test_cmd_order(void **state) {
    (void)state;
    cmd_fixture f;
    fx_init(&f);
    aw_entity e = aw_entity_create(f.w);
    int32_t one = 1, two = 2;
    EXPECT_OK(aw_cmd_set(f.cb, e, f.a, &one, 4));
    EXPECT_OK(aw_cmd_set(f.cb, e, f.a, &two, 4));
    EXPECT_OK(aw_cmd_add(f.cb, e, f.b));
    EXPECT_OK(aw_cmd_remove(f.cb, e, f.b));
    EXPECT_OK(aw_cmd_add(f.cb, e, f.tag));
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_int_equal(geti(&f, e), 2);
    assert_false(aw_entity_has(f.w, e, f.b));
    assert_true(aw_entity_has(f.w, e, f.tag));

    /* set, remove, add: the re-added component is zero */
    EXPECT_OK(aw_cmd_set(f.cb, e, f.a, &one, 4));
    EXPECT_OK(aw_cmd_remove(f.cb, e, f.a));
    EXPECT_OK(aw_cmd_add(f.cb, e, f.a));
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_int_equal(geti(&f, e), 0);

    /* destroy after set: gone; a later create is separate */
    aw_entity g = aw_cmd_create(f.cb);
    EXPECT_OK(aw_cmd_set(f.cb, e, f.a, &one, 4));
    EXPECT_OK(aw_cmd_destroy(f.cb, e));
    EXPECT_OK(aw_cmd_set(f.cb, g, f.a, &two, 4));
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_false(aw_entity_alive(f.w, e));
    assert_int_equal(geti(&f, g), 2);
    assert_int_equal(aw_world_entity_count(f.w), 1);

    /* create then destroy in the same buffer: never visible, count unchanged */
    aw_entity h = aw_cmd_create(f.cb);
    EXPECT_OK(aw_cmd_add(f.cb, h, f.b));
    EXPECT_OK(aw_cmd_destroy(f.cb, h));
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_false(aw_entity_alive(f.w, h));
    assert_int_equal(aw_world_entity_count(f.w), 1);

    /* two buffers apply independently, each in its own order */
    aw_cmd_buffer *cb2 = aw_cmd_buffer_create(f.w);
    assert_non_null(cb2);
    EXPECT_OK(aw_cmd_set(f.cb, g, f.a, &one, 4));
    EXPECT_OK(aw_cmd_set(cb2, g, f.a, &two, 4));
    EXPECT_OK(aw_cmd_buffer_apply(cb2));
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_int_equal(geti(&f, g), 1);
    aw_cmd_buffer_destroy(cb2);
    fx_free(&f);
}

/* An entity destroyed before apply: its commands are skipped, the others apply, and the first
 * failure's status is returned with a message. */
static void test_cmd_stale_skipped(void **state) {
    (void)state;
    cmd_fixture f;
    fx_init(&f);
    aw_entity e = aw_entity_create(f.w);
    aw_entity g = aw_entity_create(f.w);
    aw_entity h = aw_entity_create(f.w);
    int32_t v = 7;
    EXPECT_OK(aw_cmd_add(f.cb, g, f.tag));
    EXPECT_OK(aw_cmd_set(f.cb, e, f.a, &v, 4));
    EXPECT_OK(aw_cmd_add(f.cb, e, f.b));
    EXPECT_OK(aw_cmd_set(f.cb, h, f.a, &v, 4));
    EXPECT_OK(aw_cmd_destroy(f.cb, e));
    EXPECT_OK(aw_cmd_add(f.cb, h, f.b));
    EXPECT_OK(aw_entity_destroy(f.w, e));    /* dies before apply */
    aw_entity reuse = aw_entity_create(f.w); /* may take e's index */
    EXPECT_FAIL(aw_cmd_buffer_apply(f.cb), AW_ERR_STALE_ENTITY);
    assert_int_equal(aw_cmd_buffer_count(f.cb), 0); /* emptied anyway */
    assert_true(aw_entity_has(f.w, g, f.tag));
    assert_int_equal(geti(&f, h), 7);
    assert_true(aw_entity_has(f.w, h, f.b));
    /* the entity that may reuse e's index was not touched */
    assert_true(aw_entity_alive(f.w, reuse));
    assert_false(aw_entity_has(f.w, reuse, f.a) || aw_entity_has(f.w, reuse, f.b));
    assert_int_equal(aw_world_entity_count(f.w), 3);

    /* destroyed inside the same buffer: later commands on it are skipped */
    EXPECT_OK(aw_cmd_destroy(f.cb, g));
    EXPECT_OK(aw_cmd_set(f.cb, g, f.a, &v, 4));
    EXPECT_OK(aw_cmd_remove(f.cb, h, f.b));
    EXPECT_FAIL(aw_cmd_buffer_apply(f.cb), AW_ERR_STALE_ENTITY);
    assert_false(aw_entity_alive(f.w, g));
    assert_false(aw_entity_has(f.w, h, f.b));

    /* first failure wins: ALREADY_PRESENT before NOT_PRESENT before STALE */
    EXPECT_OK(aw_cmd_add(f.cb, h, f.a));    /* already there */
    EXPECT_OK(aw_cmd_remove(f.cb, h, f.b)); /* not there */
    EXPECT_OK(aw_cmd_destroy(f.cb, h));
    EXPECT_OK(aw_cmd_destroy(f.cb, h)); /* stale by then */
    aw_entity k = aw_cmd_create(f.cb);
    EXPECT_OK(aw_cmd_add(f.cb, k, f.tag));
    EXPECT_FAIL(aw_cmd_buffer_apply(f.cb), AW_ERR_ALREADY_PRESENT);
    assert_false(aw_entity_alive(f.w, h));
    assert_true(aw_entity_has(f.w, k, f.tag));
    fx_free(&f);
}

/* Reset drops the commands and returns reserved ids: they are never alive, and are recycled. */
static void test_cmd_reset(void **state) {
    (void)state;
    cmd_fixture f;
    fx_init(&f);
    aw_entity live = aw_entity_create(f.w);
    enum { N = 50 };
    aw_entity r[N];
    for (int i = 0; i < N; i++) {
        r[i] = aw_cmd_create(f.cb);
        EXPECT_OK(aw_cmd_add(f.cb, r[i], f.a));
    }
    EXPECT_OK(aw_cmd_add(f.cb, live, f.b));
    aw_cmd_buffer_reset(f.cb);
    assert_int_equal(aw_cmd_buffer_count(f.cb), 0);
    EXPECT_OK(aw_cmd_buffer_apply(f.cb)); /* nothing left to apply */
    assert_false(aw_entity_has(f.w, live, f.b));
    assert_int_equal(aw_world_entity_count(f.w), 1);
    for (int i = 0; i < N; i++) {
        assert_false(aw_entity_alive(f.w, r[i]));
        EXPECT_FAIL(aw_entity_add(f.w, r[i], f.a), AW_ERR_STALE_ENTITY);
    }
    /* the reserved indices come back: new entities reuse some of them with new generations */
    int reused = 0;
    for (int i = 0; i < N; i++) {
        aw_entity e = aw_entity_create(f.w);
        for (int j = 0; j < N; j++) {
            assert_true(e != r[j]);
            if (AW_ENTITY_INDEX(e) == AW_ENTITY_INDEX(r[j])) reused++;
        }
    }
    assert_true(reused > 0);
    assert_int_equal(aw_world_entity_count(f.w), N + 1);

    /* a stale reserved id recorded later is skipped on apply */
    EXPECT_OK(aw_cmd_add(f.cb, live, f.tag));
    aw_status st = aw_cmd_add(f.cb, r[0], f.a); /* may be refused now or skipped at apply */
    assert_true(st == AW_OK || st == AW_ERR_STALE_ENTITY);
    aw_status ap = aw_cmd_buffer_apply(f.cb);
    assert_int_equal(ap, st == AW_OK ? AW_ERR_STALE_ENTITY : AW_OK);
    assert_true(aw_entity_has(f.w, live, f.tag));

    /* many reset cycles do not leak ids: entity ids stay within a bounded range */
    uint32_t max_index = 0;
    for (int cycle = 0; cycle < 200; cycle++) {
        for (int i = 0; i < 20; i++) {
            aw_entity e = aw_cmd_create(f.cb);
            if (AW_ENTITY_INDEX(e) > max_index) max_index = AW_ENTITY_INDEX(e);
        }
        aw_cmd_buffer_reset(f.cb);
    }
    assert_true(max_index < 1000); /* 4000 reservations would reach beyond this if ids leaked */
    fx_free(&f);
}

/* Apply while iterating: AW_ERR_LOCKED and nothing applied; the commands apply afterwards. */
static void test_cmd_apply_locked(void **state) {
    (void)state;
    cmd_fixture f;
    fx_init(&f);
    aw_entity e = aw_entity_create(f.w);
    int32_t v = 3;
    EXPECT_OK(aw_cmd_set(f.cb, e, f.a, &v, 4));
    aw_query *q = aw_query_create(f.w, &(aw_query_desc){AW_TERMS(T_WITH(f.a))});
    assert_non_null(q);
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));

    aw_entity c = AW_ENTITY_NULL;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        for (uint32_t r = 0; r < it.count; r++) {
            EXPECT_OK(aw_cmd_destroy(f.cb, it.entities[r]));
            c = aw_cmd_create(f.cb);
            assert_true(c != AW_ENTITY_NULL);
            EXPECT_OK(aw_cmd_add(f.cb, c, f.b));
        }
        EXPECT_FAIL(aw_cmd_buffer_apply(f.cb), AW_ERR_LOCKED);
        assert_true(aw_entity_alive(f.w, e));
        assert_false(aw_entity_alive(f.w, c));
        assert_int_equal(aw_world_entity_count(f.w), 1);
    }
    /* the refused apply applied nothing and kept the commands */
    assert_int_equal(aw_cmd_buffer_count(f.cb) > 0, 1);
    EXPECT_OK(aw_cmd_buffer_apply(f.cb));
    assert_false(aw_entity_alive(f.w, e));
    assert_true(aw_entity_alive(f.w, c));
    assert_true(aw_entity_has(f.w, c, f.b));
    assert_int_equal(aw_world_entity_count(f.w), 1);
    fx_free(&f);
}

/* One buffer reused over many frames keeps working, and stops allocating. */
static void test_cmd_reuse(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_component a = test_component(w, "A", 8, 0);
    aw_component tag = test_component(w, "Tag", 0, 0);
    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    assert_non_null(cb);
    aw_entity ids[256];
    uint64_t calls_after_warmup = 0;
    for (int frame = 0; frame < 20; frame++) {
        if (frame == 5) calls_after_warmup = test_alloc_calls(&ta);
        for (int i = 0; i < 256; i++) {
            ids[i] = aw_cmd_create(cb);
            uint64_t v = (uint64_t)frame * 1000 + (uint64_t)i;
            EXPECT_OK(aw_cmd_set(cb, ids[i], a, &v, 8));
            if (i % 2) EXPECT_OK(aw_cmd_add(cb, ids[i], tag));
        }
        EXPECT_OK(aw_cmd_buffer_apply(cb));
        assert_int_equal(aw_world_entity_count(w), 256);
        for (int i = 0; i < 256; i++) {
            assert_int_equal(*(uint64_t *)aw_entity_get(w, ids[i], a), (uint64_t)frame * 1000 + (uint64_t)i);
            assert_true(aw_entity_has(w, ids[i], tag) == (i % 2 == 1));
            EXPECT_OK(aw_cmd_destroy(cb, ids[i]));
        }
        EXPECT_OK(aw_cmd_buffer_apply(cb));
        assert_int_equal(aw_world_entity_count(w), 0);
    }
    assert_int_equal(test_alloc_calls(&ta), calls_after_warmup);
    aw_cmd_buffer_destroy(cb);
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

/* Destroying a buffer with pending commands (and reserved ids) leaks nothing. */
static void test_cmd_destroy_pending(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_component a = test_component(w, "A", 8, 0);
    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    assert_non_null(cb);
    for (int i = 0; i < 100; i++) {
        aw_entity e = aw_cmd_create(cb);
        EXPECT_OK(aw_cmd_add(cb, e, a));
    }
    aw_cmd_buffer_destroy(cb);
    assert_int_equal(aw_world_entity_count(w), 0);
    aw_entity e = aw_entity_create(w);
    assert_true(e != AW_ENTITY_NULL);
    EXPECT_OK(aw_entity_add(w, e, a));
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

/* Ids reserved before a world clear: ecs.h does not say whether they survive the clear, but they
 * must never collide with ids created afterwards. */
static void test_cmd_reserved_across_clear(void **state) {
    (void)state;
    cmd_fixture f;
    fx_init(&f);
    aw_entity old = aw_entity_create(f.w);
    aw_entity r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = aw_cmd_create(f.cb);
        EXPECT_OK(aw_cmd_add(f.cb, r[i], f.a));
    }
    EXPECT_OK(aw_world_clear(f.w));
    assert_false(aw_entity_alive(f.w, old));
    aw_entity made[16];
    for (int i = 0; i < 16; i++) {
        made[i] = aw_entity_create(f.w);
        for (int j = 0; j < 8; j++) assert_true(made[i] != r[j]);
    }
    aw_status st = aw_cmd_buffer_apply(f.cb);
    assert_true(st == AW_OK || st == AW_ERR_STALE_ENTITY);
    uint32_t alive = 16;
    for (int j = 0; j < 8; j++) {
        if (st == AW_OK) {
            assert_true(aw_entity_alive(f.w, r[j]));
            assert_true(aw_entity_has(f.w, r[j], f.a));
        }
        alive += aw_entity_alive(f.w, r[j]);
    }
    for (int i = 0; i < 16; i++) {
        assert_true(aw_entity_alive(f.w, made[i]));
        assert_false(aw_entity_has(f.w, made[i], f.a));
    }
    assert_int_equal(aw_world_entity_count(f.w), alive);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_create_and_set),  cmocka_unit_test(test_cmd_order),
        cmocka_unit_test(test_cmd_stale_skipped),   cmocka_unit_test(test_cmd_reset),
        cmocka_unit_test(test_cmd_apply_locked),    cmocka_unit_test(test_cmd_reuse),
        cmocka_unit_test(test_cmd_destroy_pending), cmocka_unit_test(test_cmd_reserved_across_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
