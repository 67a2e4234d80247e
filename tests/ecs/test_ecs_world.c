/* World-level tests: clear, entity count and stats, aw_world_hash (order independence and
 * sensitivity), resources, and double-buffered events with cursors. */
#include "ecs_test_util.h"

/* ---------------------------------------------------------------- clear */

static void test_world_clear(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_component a = test_component(w, "A", 8, 0);
    aw_component b = test_component(w, "B", 32, 16);
    aw_component t = test_component(w, "T", 0, 0);
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(a), T_OPT(b))});
    assert_non_null(q);
    enum { N = 500 };
    aw_entity ids[N];
    for (int i = 0; i < N; i++) {
        ids[i] = aw_entity_create(w);
        EXPECT_OK(aw_entity_add(w, ids[i], a));
        if (i % 2) EXPECT_OK(aw_entity_add(w, ids[i], b));
        if (i % 3) EXPECT_OK(aw_entity_add(w, ids[i], t));
    }
    aw_world_stats before = aw_world_get_stats(w);
    assert_int_equal(aw_query_count(q), N);

    EXPECT_OK(aw_world_clear(w));
    assert_int_equal(aw_world_entity_count(w), 0);
    assert_int_equal(aw_query_count(q), 0);
    for (int i = 0; i < N; i++) {
        assert_false(aw_entity_alive(w, ids[i]));
        EXPECT_FAIL(aw_entity_add(w, ids[i], a), AW_ERR_STALE_ENTITY);
    }
    aw_world_stats after = aw_world_get_stats(w);
    assert_int_equal(after.entities, 0);
    assert_int_equal(after.components, before.components);
    assert_int_equal(after.queries, before.queries);
    assert_int_equal(after.tables, before.tables); /* tables are kept */
    assert_int_equal(aw_component_lookup(w, "B"), b);

    /* the world is fully usable afterwards; new ids never equal cleared ones */
    uint64_t calls = test_alloc_calls(&ta);
    for (int i = 0; i < N; i++) {
        aw_entity e = aw_entity_create(w);
        for (int j = 0; j < N; j++) assert_true(e != ids[j]);
        EXPECT_OK(aw_entity_add(w, e, a));
        if (i % 2) EXPECT_OK(aw_entity_add(w, e, b));
        if (i % 3) EXPECT_OK(aw_entity_add(w, e, t));
    }
    /* same shape as before the clear: memory was kept for reuse */
    assert_int_equal(test_alloc_calls(&ta), calls);
    assert_int_equal(aw_query_count(q), N);
    assert_int_equal(aw_world_entity_count(w), N);
    /* clearing an empty world, twice */
    EXPECT_OK(aw_world_clear(w));
    EXPECT_OK(aw_world_clear(w));
    assert_int_equal(aw_world_entity_count(w), 0);
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

/* ---------------------------------------------------------------- hash */

typedef struct hash_world {
    aw_world *w;
    aw_component a, b, c, t;
} hash_world;

static void hw_init(hash_world *h, uint32_t chunk_size) {
    h->w = test_world_new(NULL, chunk_size);
    h->a = test_component(h->w, "A", 4, 0);
    h->b = test_component(h->w, "B", 16, 0);
    h->c = test_component(h->w, "C", 64, 64);
    h->t = test_component(h->w, "T", 0, 0);
}

static void set_val(hash_world *h, aw_entity e, aw_component c, uint64_t key) {
    unsigned char buf[64];
    size_t size = aw_component_size(h->w, c);
    test_fill(buf, size, key);
    EXPECT_OK(aw_entity_set(h->w, e, c, size ? buf : NULL, size));
}

enum { HN = 300 };

/* Builds the same final state in two different orders of table creation and row insertion. */
static void hw_build(hash_world *h, aw_entity *ids, bool reverse) {
    for (int i = 0; i < HN; i++) ids[i] = aw_entity_create(h->w);
    if (!reverse) {
        /* {A,B} tables first, then {A}, then the rest */
        for (int i = 0; i < HN; i++)
            if (i % 3 == 0) {
                set_val(h, ids[i], h->b, (uint64_t)i * 10 + 1);
                set_val(h, ids[i], h->a, (uint64_t)i * 10 + 0);
            }
        for (int i = 0; i < HN; i++)
            if (i % 3 == 1) set_val(h, ids[i], h->a, (uint64_t)i * 10 + 0);
        for (int i = 0; i < HN; i++)
            if (i % 3 == 2) {
                set_val(h, ids[i], h->t, 0);
                set_val(h, ids[i], h->c, (uint64_t)i * 10 + 2);
            }
    } else {
        /* reversed: {A} first, rows in reverse order, components added in another order,
         * with a detour through an extra component that is removed again */
        for (int i = HN - 1; i >= 0; i--)
            if (i % 3 == 1) set_val(h, ids[i], h->a, (uint64_t)i * 10 + 0);
        for (int i = HN - 1; i >= 0; i--)
            if (i % 3 == 2) {
                set_val(h, ids[i], h->c, 999);
                set_val(h, ids[i], h->b, 5);
                set_val(h, ids[i], h->t, 0);
                EXPECT_OK(aw_entity_remove(h->w, ids[i], h->b));
                set_val(h, ids[i], h->c, (uint64_t)i * 10 + 2);
            }
        for (int i = HN - 1; i >= 0; i--)
            if (i % 3 == 0) {
                set_val(h, ids[i], h->a, (uint64_t)i * 10 + 0);
                set_val(h, ids[i], h->b, (uint64_t)i * 10 + 1);
            }
    }
}

static void test_hash_order_independent(void **state) {
    (void)state;
    hash_world h1, h2, h3;
    hw_init(&h1, 0);
    hw_init(&h2, 0);
    hw_init(&h3, 1024); /* different chunk size: different memory layout */
    aw_entity ids1[HN], ids2[HN], ids3[HN];
    hw_build(&h1, ids1, false);
    hw_build(&h2, ids2, true);
    hw_build(&h3, ids3, true);
    for (int i = 0; i < HN; i++) {
        assert_true(ids1[i] == ids2[i]); /* same creation sequence, same ids */
        assert_true(ids1[i] == ids3[i]);
    }
    uint64_t x1 = aw_world_hash(h1.w), x2 = aw_world_hash(h2.w), x3 = aw_world_hash(h3.w);
    assert_true(x1 == x2);
    assert_true(x1 == x3);
    assert_true(aw_world_hash(h1.w) == x1); /* stable when nothing changes */

    /* one byte of one component */
    unsigned char *p = aw_entity_get(h2.w, ids2[HN / 2 + 2], h2.c); /* i % 3 == 2: has C */
    assert_non_null(p);
    p[37] ^= 0x01;
    uint64_t y2 = aw_world_hash(h2.w);
    assert_true(y2 != x1);
    p[37] ^= 0x01;
    assert_true(aw_world_hash(h2.w) == x1);

    /* the one-byte check for the smallest component too */
    unsigned char *pa = aw_entity_get(h2.w, ids2[7], h2.a);
    pa[0] ^= 0x80;
    assert_true(aw_world_hash(h2.w) != x1);
    pa[0] ^= 0x80;

    /* destroying an entity changes the hash, even an empty one */
    EXPECT_OK(aw_entity_destroy(h2.w, ids2[5]));
    assert_true(aw_world_hash(h2.w) != x1);
    aw_entity empty1 = aw_entity_create(h1.w);
    uint64_t with_empty = aw_world_hash(h1.w);
    EXPECT_OK(aw_entity_destroy(h1.w, empty1));
    assert_true(aw_world_hash(h1.w) != with_empty);
    assert_true(aw_world_hash(h1.w) == x1);

    /* an empty world hashes the same whatever happened before, and differently from a populated one */
    EXPECT_OK(aw_world_clear(h1.w));
    EXPECT_OK(aw_world_clear(h3.w));
    assert_true(aw_world_hash(h1.w) == aw_world_hash(h3.w));
    assert_true(aw_world_hash(h1.w) != x1);

    aw_world_destroy(h1.w);
    aw_world_destroy(h2.w);
    aw_world_destroy(h3.w);
}

/* ---------------------------------------------------------------- resources */

typedef struct Settings {
    double gravity;
    int32_t iterations;
} Settings;

typedef struct Big64 {
    _Alignas(64) unsigned char bytes[128];
} Big64;

static void res_dtor(void *ptr, uint32_t count, void *user) {
    int *calls = user;
    Settings *s = ptr;
    if (s->iterations == 8)
        *calls += (int)count;
    else
        *calls += 1000;
}

static void test_resources(void **state) {
    (void)state;
    int dtor_calls = 0;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    Settings init = {9.81, 4};
    aw_resource rs = AW_RESOURCE(w, Settings, .initial = &init, .dtor = res_dtor, .hook_user = &dtor_calls);
    aw_resource rb =
        aw_resource_register(w, &(aw_resource_desc){.name = "Big64", .size = sizeof(Big64), .align = 64});
    aw_resource rz = aw_resource_register(w, &(aw_resource_desc){.name = "Counter", .size = 8});
    assert_true(rs != 0 && rb != 0 && rz != 0);
    assert_true(rs != rb && rb != rz && rs != rz);
    init.gravity = 0; /* initial data was copied */

    assert_int_equal(aw_resource_lookup(w, "Settings"), rs);
    assert_int_equal(aw_resource_lookup(w, "Big64"), rb);
    assert_int_equal(aw_resource_lookup(w, "Counter"), rz);
    assert_int_equal(aw_resource_lookup(w, "Nope"), 0);

    Settings *s = aw_resource_get(w, rs);
    assert_non_null(s);
    assert_true(s->gravity == 9.81 && s->iterations == 4);
    Big64 *big = aw_resource_get(w, rb);
    assert_non_null(big);
    assert_true(test_is_aligned(big, 64));
    unsigned char zero[128] = {0};
    assert_memory_equal(big->bytes, zero, 128); /* NULL initial: zero-filled */
    assert_int_equal(*(uint64_t *)aw_resource_get(w, rz), 0);

    Settings next = {1.5, 8};
    EXPECT_OK(aw_resource_set(w, rs, &next, sizeof next));
    s = aw_resource_get(w, rs);
    assert_true(s->gravity == 1.5 && s->iterations == 8);
    EXPECT_FAIL(aw_resource_set(w, rs, &next, sizeof next - 1), AW_ERR_SIZE_MISMATCH);
    EXPECT_FAIL(aw_resource_set(w, rs, &next, sizeof next + 8), AW_ERR_SIZE_MISMATCH);
    assert_true(s->gravity == 1.5 && s->iterations == 8); /* unchanged by the refused sets */
    s->gravity = 2.5;                                     /* writes through the pointer stick */
    assert_true(((Settings *)aw_resource_get(w, rs))->gravity == 2.5);

    /* duplicate name */
    aw_clear_error();
    assert_int_equal(aw_resource_register(w, &(aw_resource_desc){.name = "Counter", .size = 8}), 0);
    assert_true(aw_last_error()[0] != '\0');

    /* resources work while iterating (not structural) and with entities around */
    aw_component a = test_component(w, "A", 4, 0);
    aw_entity e = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, e, a));
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(a))});
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        uint64_t v = 77;
        EXPECT_OK(aw_resource_set(w, rz, &v, 8));
    }
    assert_int_equal(*(uint64_t *)aw_resource_get(w, rz), 77);

    assert_int_equal(dtor_calls, 0);
    aw_world_destroy(w);
    assert_int_equal(dtor_calls, 1); /* dtor ran once, on the current value */
    assert_int_equal(ta.live_bytes, 0);
}

/* ---------------------------------------------------------------- events */

typedef struct Hit {
    uint32_t id;
    float damage;
} Hit;

static void check_visible(aw_world *w, aw_event_type t, const uint32_t *want, uint32_t n) {
    assert_int_equal(aw_event_count(w, t), n);
    for (uint32_t i = 0; i < n; i++) {
        const Hit *h = aw_event_get(w, t, i);
        assert_non_null(h);
        assert_int_equal(h->id, want[i]);
    }
    assert_null(aw_event_get(w, t, n));
}

static void send_hit(aw_world *w, aw_event_type t, uint32_t id) {
    Hit h = {id, (float)id * 0.5f};
    EXPECT_OK(aw_event_send(w, t, &h, sizeof h));
}

static void test_events_visibility(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_event_type hit = AW_EVENT(w, Hit);
    aw_event_type other = aw_event_register(w, &(aw_event_desc){.name = "Other", .size = 3});
    assert_true(hit != 0 && other != 0 && hit != other);
    check_visible(w, hit, NULL, 0);

    /* frame N */
    send_hit(w, hit, 1);
    send_hit(w, hit, 2);
    check_visible(w, hit, (uint32_t[]){1, 2}, 2);
    assert_int_equal(aw_event_count(w, other), 0);
    EXPECT_FAIL(aw_event_send(w, hit, &(Hit){0}, sizeof(Hit) - 1), AW_ERR_SIZE_MISMATCH);
    check_visible(w, hit, (uint32_t[]){1, 2}, 2);
    aw_world_end_frame(w);
    /* frame N+1: the previous frame's, then this frame's */
    check_visible(w, hit, (uint32_t[]){1, 2}, 2);
    send_hit(w, hit, 3);
    check_visible(w, hit, (uint32_t[]){1, 2, 3}, 3);
    EXPECT_OK(aw_event_send(w, other, "abc", 3));
    assert_int_equal(aw_event_count(w, other), 1);
    assert_memory_equal(aw_event_get(w, other, 0), "abc", 3);
    aw_world_end_frame(w);
    /* frame N+2: frame N's events are gone */
    check_visible(w, hit, (uint32_t[]){3}, 1);
    assert_int_equal(aw_event_count(w, other), 1);
    aw_world_end_frame(w);
    check_visible(w, hit, NULL, 0);
    assert_int_equal(aw_event_count(w, other), 0);
    aw_world_end_frame(w);
    check_visible(w, hit, NULL, 0);

    /* a large burst, kept for exactly two frames */
    for (uint32_t i = 0; i < 5000; i++) send_hit(w, hit, 100 + i);
    assert_int_equal(aw_event_count(w, hit), 5000);
    aw_world_end_frame(w);
    assert_int_equal(aw_event_count(w, hit), 5000);
    const Hit *last = aw_event_get(w, hit, 4999);
    assert_non_null(last);
    assert_int_equal(last->id, 5099);
    assert_true(last->damage == (float)5099 * 0.5f);
    aw_world_end_frame(w);
    assert_int_equal(aw_event_count(w, hit), 0);

    /* an over-aligned event type: every stored event honours the alignment */
    aw_event_type wide = aw_event_register(w, &(aw_event_desc){.name = "Wide", .size = 40, .align = 64});
    assert_true(wide != 0);
    unsigned char payload[40];
    for (uint32_t i = 0; i < 100; i++) {
        test_fill(payload, sizeof payload, i);
        EXPECT_OK(aw_event_send(w, wide, payload, sizeof payload));
    }
    for (uint32_t i = 0; i < 100; i++) {
        const void *p = aw_event_get(w, wide, i);
        assert_true(test_is_aligned(p, 64));
        test_fill(payload, sizeof payload, i);
        assert_memory_equal(p, payload, sizeof payload);
    }
    aw_world_destroy(w);
}

static void test_events_cursor(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_event_type hit = AW_EVENT(w, Hit);
    aw_event_cursor every_frame = {0}; /* reads every frame */
    aw_event_cursor every_other = {0}; /* reads every other frame: still sees each event once */
    aw_event_cursor lagging = {0};     /* reads once, then not for many frames */
    uint32_t next_id = 1;
    uint32_t seen_a = 1, seen_b = 1; /* next id each reader expects */
    for (int frame = 0; frame < 50; frame++) {
        uint32_t sends = (uint32_t)(frame * 7 % 13);
        for (uint32_t i = 0; i < sends; i++) send_hit(w, hit, next_id++);
        const Hit *h;
        while ((h = aw_event_read(w, hit, &every_frame)) != NULL) {
            assert_int_equal(h->id, seen_a);
            seen_a++;
        }
        assert_int_equal(seen_a, next_id);
        /* events sent after a read show up on the next read, once */
        send_hit(w, hit, next_id++);
        h = aw_event_read(w, hit, &every_frame);
        assert_non_null(h);
        assert_int_equal(h->id, seen_a);
        seen_a++;
        assert_null(aw_event_read(w, hit, &every_frame));
        if (frame % 2 == 1) {
            while ((h = aw_event_read(w, hit, &every_other)) != NULL) {
                assert_int_equal(h->id, seen_b);
                seen_b++;
            }
            assert_int_equal(seen_b, next_id);
        }
        if (frame == 0) assert_non_null(aw_event_read(w, hit, &lagging));
        aw_world_end_frame(w);
    }
    /* a cursor that fell behind by many frames reads just what is still visible */
    uint32_t lag_got = 0;
    while (aw_event_read(w, hit, &lagging)) lag_got++;
    assert_int_equal(lag_got, aw_event_count(w, hit));
    /* a fresh cursor reads what is visible: last frame's events, then none */
    aw_event_cursor fresh = {0};
    uint32_t n = aw_event_count(w, hit);
    uint32_t got = 0;
    while (aw_event_read(w, hit, &fresh)) got++;
    assert_int_equal(got, n);
    aw_world_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_world_clear),   cmocka_unit_test(test_hash_order_independent),
        cmocka_unit_test(test_resources),     cmocka_unit_test(test_events_visibility),
        cmocka_unit_test(test_events_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
