/* Entity lifecycle tests: create/destroy, counts, id recycling with generation bumps, and stale
 * or never-created ids being refused without touching the entity that now owns the index. */
#include "ecs_test_util.h"

typedef struct Vec3 {
    float x, y, z;
} Vec3;

static void test_create_destroy(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    assert_int_equal(aw_world_entity_count(w), 0);

    aw_entity a = aw_entity_create(w);
    aw_entity b = aw_entity_create(w);
    assert_true(a != AW_ENTITY_NULL);
    assert_true(b != AW_ENTITY_NULL);
    assert_true(a != b);
    assert_true(aw_entity_alive(w, a));
    assert_true(aw_entity_alive(w, b));
    assert_int_equal(aw_world_entity_count(w), 2);
    assert_int_equal(aw_world_get_stats(w).entities, 2);

    EXPECT_OK(aw_entity_destroy(w, a));
    assert_false(aw_entity_alive(w, a));
    assert_true(aw_entity_alive(w, b));
    assert_int_equal(aw_world_entity_count(w), 1);

    /* Destroying twice is refused. */
    EXPECT_FAIL(aw_entity_destroy(w, a), AW_ERR_STALE_ENTITY);
    assert_int_equal(aw_world_entity_count(w), 1);

    EXPECT_OK(aw_entity_destroy(w, b));
    assert_int_equal(aw_world_entity_count(w), 0);
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

static void test_many_unique_ids(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    enum { N = 5000 };
    aw_entity *ids = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (uint32_t i = 0; i < N; i++) {
        ids[i] = aw_entity_create(w);
        assert_true(ids[i] != AW_ENTITY_NULL);
    }
    assert_int_equal(aw_world_entity_count(w), N);
    /* Live entities have distinct indices: sort them and look for neighbours that are equal. */
    uint32_t *idx = calloc(N, sizeof *idx);
    assert_non_null(idx);
    for (uint32_t i = 0; i < N; i++) idx[i] = AW_ENTITY_INDEX(ids[i]);
    for (uint32_t i = 1; i < N; i++) { /* insertion sort is fine on mostly sorted data */
        uint32_t v = idx[i], j = i;
        while (j > 0 && idx[j - 1] > v) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    for (uint32_t i = 1; i < N; i++) assert_true(idx[i] != idx[i - 1]);

    /* Destroy every other one: count follows. */
    for (uint32_t i = 0; i < N; i += 2) EXPECT_OK(aw_entity_destroy(w, ids[i]));
    assert_int_equal(aw_world_entity_count(w), N / 2);
    for (uint32_t i = 0; i < N; i++) assert_true(aw_entity_alive(w, ids[i]) == (i % 2 == 1));
    free(idx);
    free(ids);
    aw_world_destroy(w);
}

static void test_recycle_bumps_generation(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    enum { N = 100 };
    aw_entity old[N], fresh[N];
    for (int i = 0; i < N; i++) old[i] = aw_entity_create(w);
    for (int i = 0; i < N; i++) EXPECT_OK(aw_entity_destroy(w, old[i]));
    assert_int_equal(aw_world_entity_count(w), 0);
    for (int i = 0; i < N; i++) fresh[i] = aw_entity_create(w);

    int reused = 0;
    for (int i = 0; i < N; i++) {
        assert_true(aw_entity_alive(w, fresh[i]));
        assert_false(aw_entity_alive(w, old[i]));
        for (int j = 0; j < N; j++) {
            assert_true(fresh[i] != old[j]); /* a recycled index never comes back with the same id */
            if (AW_ENTITY_INDEX(fresh[i]) == AW_ENTITY_INDEX(old[j])) {
                assert_true(AW_ENTITY_GENERATION(fresh[i]) != AW_ENTITY_GENERATION(old[j]));
                reused++;
            }
        }
    }
    /* Indices are recycled: 100 destroys followed by 100 creates reuse at least some of them. */
    assert_true(reused > 0);

    /* A single destroy/create cycle repeated many times keeps refusing every older id. */
    aw_entity e = aw_entity_create(w);
    aw_entity hist[64];
    for (int i = 0; i < 64; i++) {
        hist[i] = e;
        EXPECT_OK(aw_entity_destroy(w, e));
        e = aw_entity_create(w);
        assert_true(e != AW_ENTITY_NULL);
        for (int j = 0; j <= i; j++) {
            assert_true(e != hist[j]);
            assert_false(aw_entity_alive(w, hist[j]));
        }
    }
    aw_world_destroy(w);
}

/* Stale ids whose index is now owned by another entity must not reach that entity's data. */
static void test_stale_id_refused(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component pos = AW_COMPONENT(w, Vec3);
    aw_component tag = test_component(w, "Tag", 0, 0);
    aw_component other = test_component(w, "Other", 4, 0);
    assert_true(pos && tag && other);

    /* Make an entity, destroy it, and recycle ids until the index is reused. */
    aw_entity stale = aw_entity_create(w);
    EXPECT_OK(AW_SET(w, stale, pos, Vec3, {1, 2, 3}));
    EXPECT_OK(aw_entity_destroy(w, stale));
    aw_entity owner = AW_ENTITY_NULL;
    aw_entity made[256];
    int nmade = 0;
    for (; nmade < 256; nmade++) {
        made[nmade] = aw_entity_create(w);
        EXPECT_OK(AW_SET(w, made[nmade], pos, Vec3, {10.0f + (float)nmade, 0, 0}));
        if (AW_ENTITY_INDEX(made[nmade]) == AW_ENTITY_INDEX(stale)) {
            owner = made[nmade];
            nmade++;
            break;
        }
    }
    assert_true(owner != AW_ENTITY_NULL); /* the freed index was recycled */
    assert_true(owner != stale);
    Vec3 before = *AW_GET(w, owner, pos, Vec3);

    assert_false(aw_entity_alive(w, stale));
    assert_false(aw_entity_has(w, stale, pos));
    EXPECT_NULL(aw_entity_get(w, stale, pos), AW_ERR_STALE_ENTITY);
    EXPECT_NULL(aw_entity_get_const(w, stale, pos), AW_ERR_STALE_ENTITY);
    EXPECT_FAIL(AW_SET(w, stale, pos, Vec3, {-1, -1, -1}), AW_ERR_STALE_ENTITY);
    EXPECT_FAIL(aw_entity_add(w, stale, tag), AW_ERR_STALE_ENTITY);
    EXPECT_FAIL(aw_entity_add(w, stale, other), AW_ERR_STALE_ENTITY);
    EXPECT_FAIL(aw_entity_remove(w, stale, pos), AW_ERR_STALE_ENTITY);
    EXPECT_FAIL(aw_entity_set(w, stale, tag, NULL, 0), AW_ERR_STALE_ENTITY);
    EXPECT_FAIL(aw_entity_destroy(w, stale), AW_ERR_STALE_ENTITY);

    /* The owner of the index is untouched. */
    assert_true(aw_entity_alive(w, owner));
    assert_true(aw_entity_has(w, owner, pos));
    assert_false(aw_entity_has(w, owner, tag));
    assert_false(aw_entity_has(w, owner, other));
    assert_memory_equal(AW_GET(w, owner, pos, Vec3), &before, sizeof before);
    assert_int_equal(aw_world_entity_count(w), (uint32_t)nmade);
    aw_world_destroy(w);
}

/* Ids that were never handed out: a future generation of a live index, an index never used,
 * the largest possible index, and AW_ENTITY_NULL. */
static void test_never_created_and_null(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component c = test_component(w, "C", 8, 0);
    aw_entity live = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, live, c));
    *(uint64_t *)aw_entity_get(w, live, c) = 77;

    uint32_t li = AW_ENTITY_INDEX(live), lg = AW_ENTITY_GENERATION(live);
    aw_entity bogus[] = {
        AW_ENTITY_NULL,
        ((aw_entity)(lg + 1u) << 32) | li,     /* same index, future generation */
        ((aw_entity)(lg + 12345u) << 32) | li, /* far future generation */
        ((aw_entity)lg << 32) | (li + 1000u),  /* index never created */
        ((aw_entity)1 << 32) | 0xfffffffeu,    /* huge index */
        ((aw_entity)0xffffffffu << 32) | 0xffffffffu,
        (aw_entity)0xffffffffu, /* generation 0, max index */
    };
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++) {
        aw_entity e = bogus[i];
        if (e == live) continue;
        assert_false(aw_entity_alive(w, e));
        assert_false(aw_entity_has(w, e, c));
        EXPECT_NULL(aw_entity_get(w, e, c), AW_ERR_STALE_ENTITY);
        EXPECT_NULL(aw_entity_get_const(w, e, c), AW_ERR_STALE_ENTITY);
        EXPECT_FAIL(aw_entity_add(w, e, c), AW_ERR_STALE_ENTITY);
        EXPECT_FAIL(aw_entity_remove(w, e, c), AW_ERR_STALE_ENTITY);
        uint64_t v = 5;
        EXPECT_FAIL(aw_entity_set(w, e, c, &v, sizeof v), AW_ERR_STALE_ENTITY);
        EXPECT_FAIL(aw_entity_destroy(w, e), AW_ERR_STALE_ENTITY);
    }
    assert_int_equal(*(uint64_t *)aw_entity_get(w, live, c), 77);
    assert_int_equal(aw_world_entity_count(w), 1);
    aw_world_destroy(w);
}

static void test_count_with_components(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 1024);
    aw_component a = test_component(w, "A", 4, 0);
    aw_component b = test_component(w, "B", 100, 0);
    enum { N = 3000 };
    aw_entity *ids = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (uint32_t i = 0; i < N; i++) {
        ids[i] = aw_entity_create(w);
        if (i % 3 != 0) EXPECT_OK(aw_entity_add(w, ids[i], a));
        if (i % 2 == 0) EXPECT_OK(aw_entity_add(w, ids[i], b));
    }
    assert_int_equal(aw_world_entity_count(w), N);
    uint32_t alive = N;
    for (uint32_t i = 0; i < N; i += 5) {
        EXPECT_OK(aw_entity_destroy(w, ids[i]));
        alive--;
    }
    assert_int_equal(aw_world_entity_count(w), alive);
    assert_int_equal(aw_world_get_stats(w).entities, alive);
    for (uint32_t i = 0; i < N; i++) {
        bool should = i % 5 != 0;
        assert_true(aw_entity_alive(w, ids[i]) == should);
        if (should) {
            assert_true(aw_entity_has(w, ids[i], a) == (i % 3 != 0));
            assert_true(aw_entity_has(w, ids[i], b) == (i % 2 == 0));
        }
    }
    free(ids);
    aw_world_destroy(w);
}

/* entity_capacity reserves records: creating that many entities still works and ids stay valid. */
static void test_entity_capacity(void **state) {
    (void)state;
    aw_world *w = aw_world_create(&(aw_world_desc){.entity_capacity = 4096, .threads = 1});
    assert_non_null(w);
    for (int i = 0; i < 5000; i++) assert_true(aw_entity_create(w) != AW_ENTITY_NULL);
    assert_int_equal(aw_world_entity_count(w), 5000);
    aw_world_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_destroy),           cmocka_unit_test(test_many_unique_ids),
        cmocka_unit_test(test_recycle_bumps_generation), cmocka_unit_test(test_stale_id_refused),
        cmocka_unit_test(test_never_created_and_null),   cmocka_unit_test(test_count_with_components),
        cmocka_unit_test(test_entity_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
