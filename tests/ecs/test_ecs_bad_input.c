/* Bad input is never a crash: NULL handles, stale ids, unknown components, size/alignment/term
 * errors, duplicates, and an out-of-memory sweep over a scripted workload with a failing allocator. */
#include "ecs_test_util.h"

static void test_null_world(void **state) {
    (void)state;
    aw_world *w = NULL;
    aw_entity e = ((aw_entity)1 << 32) | 1;
    uint32_t v = 0;

    aw_world_destroy(NULL); /* ignored */
    EXPECT_FAIL(aw_world_clear(w), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_world_entity_count(w), 0);
    (void)aw_world_hash(w);
    aw_world_end_frame(w);
    aw_alloc_stats as = aw_world_alloc_stats(w);
    assert_int_equal(as.live_bytes, 0);
    aw_world_stats ws = aw_world_get_stats(w);
    assert_int_equal(ws.entities, 0);

    EXPECT_FAIL_VALUE(aw_component_register(w, &(aw_component_desc){.name = "X", .size = 4}),
                      AW_ERR_INVALID_ARG);
    assert_int_equal(aw_component_lookup(w, "X"), 0);
    assert_int_equal(aw_component_size(w, 1), 0);
    const char *name = aw_component_name(w, 1);
    assert_true(name == NULL || name[0] == '\0');

    EXPECT_FAIL_VALUE(aw_entity_create(w), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_entity_destroy(w, e), AW_ERR_INVALID_ARG);
    assert_false(aw_entity_alive(w, e));
    EXPECT_FAIL(aw_entity_add(w, e, 1), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_entity_remove(w, e, 1), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_entity_set(w, e, 1, &v, sizeof v), AW_ERR_INVALID_ARG);
    EXPECT_NULL(aw_entity_get(w, e, 1), AW_ERR_INVALID_ARG);
    EXPECT_NULL(aw_entity_get_const(w, e, 1), AW_ERR_INVALID_ARG);
    assert_false(aw_entity_has(w, e, 1));
    aw_component comps[] = {1};
    EXPECT_FAIL(
        aw_entity_create_bulk(w, &(aw_bulk_desc){.count = 2, .components = comps, .component_count = 1}),
        AW_ERR_INVALID_ARG);

    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(1))}), AW_ERR_INVALID_ARG);
    EXPECT_NULL(aw_cmd_buffer_create(w), AW_ERR_INVALID_ARG);

    EXPECT_FAIL_VALUE(aw_resource_register(w, &(aw_resource_desc){.name = "R", .size = 4}),
                      AW_ERR_INVALID_ARG);
    assert_int_equal(aw_resource_lookup(w, "R"), 0);
    EXPECT_NULL(aw_resource_get(w, 1), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_resource_set(w, 1, &v, sizeof v), AW_ERR_INVALID_ARG);

    EXPECT_FAIL_VALUE(aw_event_register(w, &(aw_event_desc){.name = "E", .size = 4}), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_event_send(w, 1, &v, sizeof v), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_event_count(w, 1), 0);
    assert_null(aw_event_get(w, 1, 0));
    aw_event_cursor cur = {0};
    assert_null(aw_event_read(w, 1, &cur));
}

/* NULL queries, iterators, buffers, descriptors and data pointers. */
static void test_null_handles(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component a = test_component(w, "A", 4, 0);
    aw_entity e = aw_entity_create(w);
    uint32_t v = 1;

    aw_query_destroy(NULL);
    assert_int_equal(aw_query_count(NULL), 0);
    aw_iter it = aw_query_iter(NULL);
    assert_false(aw_iter_next(&it));
    assert_false(aw_iter_next(NULL));
    aw_iter_fini(NULL);
    aw_query_each(NULL, NULL, NULL);
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(a))});
    assert_non_null(q);
    aw_query_each(q, NULL, NULL);                       /* NULL callback: nothing to call */
    assert_true(aw_entity_create(w) != AW_ENTITY_NULL); /* and the world is not left locked */

    aw_cmd_buffer_destroy(NULL);
    EXPECT_FAIL_VALUE(aw_cmd_create(NULL), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_cmd_destroy(NULL, e), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_cmd_add(NULL, e, a), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_cmd_remove(NULL, e, a), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_cmd_set(NULL, e, a, &v, 4), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_cmd_buffer_count(NULL), 0);
    EXPECT_FAIL(aw_cmd_buffer_apply(NULL), AW_ERR_INVALID_ARG);
    aw_cmd_buffer_reset(NULL);

    /* NULL descriptors and names */
    EXPECT_FAIL_VALUE(aw_component_register(w, NULL), AW_ERR_INVALID_ARG);
    EXPECT_FAIL_VALUE(aw_component_register(w, &(aw_component_desc){.size = 4}), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_component_lookup(w, NULL), 0);
    EXPECT_FAIL_VALUE(aw_resource_register(w, NULL), AW_ERR_INVALID_ARG);
    EXPECT_FAIL_VALUE(aw_resource_register(w, &(aw_resource_desc){.size = 4}), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_resource_lookup(w, NULL), 0);
    EXPECT_FAIL_VALUE(aw_event_register(w, NULL), AW_ERR_INVALID_ARG);
    EXPECT_FAIL_VALUE(aw_event_register(w, &(aw_event_desc){.size = 4}), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(aw_entity_create_bulk(w, NULL), AW_ERR_INVALID_ARG);
    EXPECT_FAIL(
        aw_entity_create_bulk(w, &(aw_bulk_desc){.count = 3, .components = NULL, .component_count = 2}),
        AW_ERR_INVALID_ARG);

    /* NULL data with a non-zero size */
    EXPECT_FAIL(aw_entity_set(w, e, a, NULL, 4), AW_ERR_INVALID_ARG);
    assert_false(aw_entity_has(w, e, a));
    aw_resource r = aw_resource_register(w, &(aw_resource_desc){.name = "R", .size = 4});
    assert_true(r != 0);
    EXPECT_FAIL(aw_resource_set(w, r, NULL, 4), AW_ERR_INVALID_ARG);
    aw_event_type t = aw_event_register(w, &(aw_event_desc){.name = "E", .size = 4});
    assert_true(t != 0);
    EXPECT_FAIL(aw_event_send(w, t, NULL, 4), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_event_count(w, t), 0);
    assert_null(aw_event_read(w, t, NULL));
    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    assert_non_null(cb);
    EXPECT_FAIL(aw_cmd_set(cb, e, a, NULL, 4), AW_ERR_INVALID_ARG);
    aw_cmd_buffer_destroy(cb);
    aw_world_destroy(w);
}

static void test_bad_world_desc(void **state) {
    (void)state;
    uint32_t bad[] = {1000, 512, 1, 3000, 1025};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_NULL(aw_world_create(&(aw_world_desc){.chunk_size = bad[i], .threads = 1}),
                    AW_ERR_INVALID_ARG);
    /* NULL desc: all defaults */
    aw_world *w = aw_world_create(NULL);
    assert_non_null(w);
    aw_world_destroy(w);
    w = aw_world_create(&(aw_world_desc){.chunk_size = 1024, .threads = 1});
    assert_non_null(w);
    aw_world_destroy(w);
}

static void test_stale_and_never_created(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component a = test_component(w, "A", 4, 0);
    aw_component t = test_component(w, "T", 0, 0);
    aw_entity dead = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, dead, a));
    EXPECT_OK(aw_entity_destroy(w, dead));
    aw_entity live = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, live, a));
    aw_entity never[] = {dead, AW_ENTITY_NULL, ((aw_entity)7 << 32) | 123456u,
                         (aw_entity)0xffffffffffffffffull, live + ((aw_entity)1 << 32)};
    uint32_t v = 9;
    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        aw_entity e = never[i];
        assert_false(aw_entity_alive(w, e));
        EXPECT_FAIL(aw_entity_destroy(w, e), AW_ERR_STALE_ENTITY);
        EXPECT_FAIL(aw_entity_add(w, e, t), AW_ERR_STALE_ENTITY);
        EXPECT_FAIL(aw_entity_remove(w, e, a), AW_ERR_STALE_ENTITY);
        EXPECT_FAIL(aw_entity_set(w, e, a, &v, 4), AW_ERR_STALE_ENTITY);
        EXPECT_NULL(aw_entity_get(w, e, a), AW_ERR_STALE_ENTITY);
        EXPECT_NULL(aw_entity_get_const(w, e, a), AW_ERR_STALE_ENTITY);
        assert_false(aw_entity_has(w, e, a));
        /* command buffers refuse them when recording or skip them when applying */
        aw_status st = aw_cmd_set(cb, e, a, &v, 4);
        assert_true(st == AW_OK || st == AW_ERR_STALE_ENTITY);
        aw_status ap = aw_cmd_buffer_apply(cb);
        assert_int_equal(ap, st == AW_OK ? AW_ERR_STALE_ENTITY : AW_OK);
    }
    assert_int_equal(aw_world_entity_count(w), 1);
    assert_int_equal(*(uint32_t *)aw_entity_get(w, live, a), 0);
    aw_cmd_buffer_destroy(cb);
    aw_world_destroy(w);
}

static void test_unknown_component(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component a = test_component(w, "A", 4, 0);
    aw_entity e = aw_entity_create(w);
    EXPECT_OK(aw_entity_add(w, e, a));
    aw_component bad[] = {0, a + 1, 1000, 0xffffffffu};
    uint32_t v = 3;
    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aw_component c = bad[i];
        EXPECT_FAIL(aw_entity_add(w, e, c), AW_ERR_UNKNOWN_COMPONENT);
        EXPECT_FAIL(aw_entity_remove(w, e, c), AW_ERR_UNKNOWN_COMPONENT);
        EXPECT_FAIL(aw_entity_set(w, e, c, &v, 4), AW_ERR_UNKNOWN_COMPONENT);
        EXPECT_FAIL(aw_entity_set(w, e, c, NULL, 0), AW_ERR_UNKNOWN_COMPONENT);
        EXPECT_NULL(aw_entity_get(w, e, c), AW_ERR_UNKNOWN_COMPONENT);
        EXPECT_NULL(aw_entity_get_const(w, e, c), AW_ERR_UNKNOWN_COMPONENT);
        assert_false(aw_entity_has(w, e, c));
        assert_int_equal(aw_component_size(w, c), 0);
        aw_component comps[] = {a, c};
        EXPECT_FAIL(
            aw_entity_create_bulk(w, &(aw_bulk_desc){.count = 5, .components = comps, .component_count = 2}),
            AW_ERR_UNKNOWN_COMPONENT);
        EXPECT_NULL(aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(a), T_OPT(c))}),
                    AW_ERR_UNKNOWN_COMPONENT);
        EXPECT_NULL(aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITHOUT(c), T_WITH(a))}),
                    AW_ERR_UNKNOWN_COMPONENT);
        aw_status st = aw_cmd_add(cb, e, c);
        assert_true(st == AW_OK || st == AW_ERR_UNKNOWN_COMPONENT);
        aw_clear_error();
        aw_status ap = aw_cmd_buffer_apply(cb);
        assert_int_equal(ap, st == AW_OK ? AW_ERR_UNKNOWN_COMPONENT : AW_OK);
    }
    assert_int_equal(aw_world_entity_count(w), 1);
    assert_true(aw_entity_has(w, e, a));

    /* unknown resource and event ids */
    uint64_t x = 0;
    aw_resource bad_res[] = {0, 42};
    for (int i = 0; i < 2; i++) {
        aw_clear_error();
        assert_null(aw_resource_get(w, bad_res[i]));
        assert_true(aw_last_status() != AW_OK && aw_last_error()[0] != '\0');
    }
    EXPECT_SOME_FAIL(aw_resource_set(w, 42, &x, sizeof x));
    EXPECT_SOME_FAIL(aw_event_send(w, 0, &x, sizeof x));
    EXPECT_SOME_FAIL(aw_event_send(w, 42, &x, sizeof x));
    assert_int_equal(aw_event_count(w, 42), 0);
    assert_null(aw_event_get(w, 42, 0));
    aw_cmd_buffer_destroy(cb);
    aw_world_destroy(w);
}

static void test_size_mismatch(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component a = test_component(w, "A", 12, 4);
    aw_component t = test_component(w, "T", 0, 0);
    aw_entity e = aw_entity_create(w);
    unsigned char buf[32] = {1, 2, 3};
    EXPECT_FAIL(aw_entity_set(w, e, a, buf, 11), AW_ERR_SIZE_MISMATCH);
    EXPECT_FAIL(aw_entity_set(w, e, a, buf, 13), AW_ERR_SIZE_MISMATCH);
    EXPECT_FAIL(aw_entity_set(w, e, a, buf, 0), AW_ERR_SIZE_MISMATCH);
    EXPECT_FAIL(aw_entity_set(w, e, t, buf, 4), AW_ERR_SIZE_MISMATCH);
    assert_false(aw_entity_has(w, e, a)); /* a refused set adds nothing */
    assert_false(aw_entity_has(w, e, t));
    EXPECT_OK(aw_entity_set(w, e, a, buf, 12));
    unsigned char other[12] = {9};
    EXPECT_FAIL(aw_entity_set(w, e, a, other, 8), AW_ERR_SIZE_MISMATCH);
    assert_memory_equal(aw_entity_get(w, e, a), buf, 12); /* nor changes data */

    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    aw_status st = aw_cmd_set(cb, e, a, other, 8);
    assert_true(st == AW_OK || st == AW_ERR_SIZE_MISMATCH);
    assert_int_equal(aw_cmd_buffer_apply(cb), st == AW_OK ? AW_ERR_SIZE_MISMATCH : AW_OK);
    assert_memory_equal(aw_entity_get(w, e, a), buf, 12);

    aw_resource r = aw_resource_register(w, &(aw_resource_desc){.name = "R", .size = 16});
    EXPECT_FAIL(aw_resource_set(w, r, buf, 15), AW_ERR_SIZE_MISMATCH);
    aw_event_type ev = aw_event_register(w, &(aw_event_desc){.name = "E", .size = 16});
    EXPECT_FAIL(aw_event_send(w, ev, buf, 17), AW_ERR_SIZE_MISMATCH);
    assert_int_equal(aw_event_count(w, ev), 0);
    aw_cmd_buffer_destroy(cb);
    aw_world_destroy(w);
}

static void test_present_absent(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component a = test_component(w, "A", 4, 0);
    aw_component t = test_component(w, "T", 0, 0);
    aw_entity e = aw_entity_create(w);
    EXPECT_FAIL(aw_entity_remove(w, e, a), AW_ERR_NOT_PRESENT);
    EXPECT_FAIL(aw_entity_remove(w, e, t), AW_ERR_NOT_PRESENT);
    EXPECT_OK(aw_entity_add(w, e, a));
    *(uint32_t *)aw_entity_get(w, e, a) = 55;
    EXPECT_FAIL(aw_entity_add(w, e, a), AW_ERR_ALREADY_PRESENT);
    assert_int_equal(*(uint32_t *)aw_entity_get(w, e, a), 55); /* the refused add did not reset it */
    EXPECT_OK(aw_entity_add(w, e, t));
    EXPECT_FAIL(aw_entity_add(w, e, t), AW_ERR_ALREADY_PRESENT);
    EXPECT_OK(aw_entity_remove(w, e, a));
    EXPECT_FAIL(aw_entity_remove(w, e, a), AW_ERR_NOT_PRESENT);
    assert_true(aw_entity_has(w, e, t));
    aw_world_destroy(w);
}

static void test_query_terms_bad(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component c[AW_QUERY_MAX_TERMS + 1];
    for (int i = 0; i <= AW_QUERY_MAX_TERMS; i++) {
        char n[8];
        snprintf(n, sizeof n, "C%d", i);
        c[i] = test_component(w, n, 4, 0);
    }
    aw_term terms[AW_QUERY_MAX_TERMS + 1];
    for (int i = 0; i <= AW_QUERY_MAX_TERMS; i++)
        terms[i] = (aw_term){.component = c[i], .oper = i % 2 ? AW_TERM_OPTIONAL : AW_TERM_WITH};
    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){.terms = terms, .term_count = AW_QUERY_MAX_TERMS + 1}),
                AW_ERR_TOO_MANY_TERMS);
    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){.terms = terms, .term_count = 1000}),
                AW_ERR_TOO_MANY_TERMS);
    /* exactly the maximum is fine */
    aw_query *q = aw_query_create(w, &(aw_query_desc){.terms = terms, .term_count = AW_QUERY_MAX_TERMS});
    assert_non_null(q);
    aw_entity e = aw_entity_create(w);
    for (int i = 0; i < AW_QUERY_MAX_TERMS; i += 2) EXPECT_OK(aw_entity_add(w, e, c[i]));
    assert_int_equal(aw_query_count(q), 1);
    uint32_t rows = 0;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
        rows += it.count;
        for (int i = 0; i < AW_QUERY_MAX_TERMS; i++) assert_true((it.columns[i] != NULL) == (i % 2 == 0));
    }
    assert_int_equal(rows, 1);

    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){.terms = terms, .term_count = 0}), AW_ERR_INVALID_ARG);
    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){0}), AW_ERR_INVALID_ARG);
    EXPECT_NULL(aw_query_create(w, NULL), AW_ERR_INVALID_ARG);
    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){.terms = NULL, .term_count = 2}), AW_ERR_INVALID_ARG);
    aw_term bad_oper = {.component = c[0], .oper = (aw_term_oper)7};
    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){.terms = &bad_oper, .term_count = 1}),
                AW_ERR_INVALID_ARG);
    aw_term bad_access = {.component = c[0], .access = (aw_access)9};
    EXPECT_NULL(aw_query_create(w, &(aw_query_desc){.terms = &bad_access, .term_count = 1}),
                AW_ERR_INVALID_ARG);
    aw_world_destroy(w);
}

static void test_duplicate_names_and_alignment(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component a = test_component(w, "A", 4, 0);
    EXPECT_FAIL_VALUE(aw_component_register(w, &(aw_component_desc){.name = "A", .size = 4}),
                      AW_ERR_ALREADY_PRESENT);
    EXPECT_FAIL_VALUE(aw_component_register(w, &(aw_component_desc){.name = "A", .size = 0}),
                      AW_ERR_ALREADY_PRESENT);
    size_t bad_align[] = {3, 5, 6, 12, 48, 128, 256, 4096};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        char n[16];
        snprintf(n, sizeof n, "Bad%zu", i);
        EXPECT_FAIL_VALUE(
            aw_component_register(w, &(aw_component_desc){.name = n, .size = 64, .align = bad_align[i]}),
            AW_ERR_INVALID_ARG);
        EXPECT_FAIL_VALUE(
            aw_resource_register(w, &(aw_resource_desc){.name = n, .size = 64, .align = bad_align[i]}),
            AW_ERR_INVALID_ARG);
        assert_int_equal(aw_component_lookup(w, n), 0); /* nothing half-registered */
    }
    /* every power of two up to 64 is fine */
    for (size_t al = 1; al <= 64; al *= 2) {
        char n[16];
        snprintf(n, sizeof n, "Ok%zu", al);
        assert_true(test_component(w, n, 64, al) != 0);
    }
    /* the failed registrations did not consume ids */
    assert_int_equal(aw_component_lookup(w, "Ok1"), a + 1);

    assert_true(aw_resource_register(w, &(aw_resource_desc){.name = "R", .size = 4}) != 0);
    EXPECT_FAIL_VALUE(aw_resource_register(w, &(aw_resource_desc){.name = "R", .size = 4}),
                      AW_ERR_ALREADY_PRESENT);
    EXPECT_FAIL_VALUE(aw_resource_register(w, &(aw_resource_desc){.name = "Zero", .size = 0}),
                      AW_ERR_INVALID_ARG);
    assert_true(aw_event_register(w, &(aw_event_desc){.name = "E", .size = 4}) != 0);
    EXPECT_FAIL_VALUE(aw_event_register(w, &(aw_event_desc){.name = "E", .size = 4}), AW_ERR_ALREADY_PRESENT);
    EXPECT_FAIL_VALUE(aw_event_register(w, &(aw_event_desc){.name = "Zero", .size = 0}), AW_ERR_INVALID_ARG);

    /* a component bigger than a chunk: refused with a message, or it works */
    aw_world *small = test_world_new(NULL, 1024);
    aw_clear_error();
    aw_component huge = aw_component_register(small, &(aw_component_desc){.name = "Huge", .size = 4096});
    if (huge == 0) {
        assert_true(aw_last_error()[0] != '\0');
    } else {
        aw_entity e = aw_entity_create(small);
        unsigned char buf[4096];
        test_fill(buf, sizeof buf, 1);
        aw_status st = aw_entity_set(small, e, huge, buf, sizeof buf);
        if (st == AW_OK)
            assert_memory_equal(aw_entity_get(small, e, huge), buf, sizeof buf);
        else
            assert_true(aw_last_error()[0] != '\0');
    }
    aw_world_destroy(small);
    aw_world_destroy(w);
}

static void test_iter_fini_misuse(void **state) {
    (void)state;
    aw_world *w = test_world_new(NULL, 0);
    aw_component a = test_component(w, "A", 4, 0);
    for (int i = 0; i < 10; i++) EXPECT_OK(aw_entity_add(w, aw_entity_create(w), a));
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(a))});
    /* fini after the natural end, and twice: harmless, does not unlock someone else's iterator */
    aw_iter done = aw_query_iter(q);
    while (aw_iter_next(&done)) {
    }
    aw_iter_fini(&done);
    aw_iter other = aw_query_iter(q);
    assert_true(aw_iter_next(&other));
    aw_iter_fini(&done);
    aw_iter_fini(&done);
    aw_clear_error();
    assert_true(aw_entity_create(w) == AW_ENTITY_NULL); /* `other` still holds the lock */
    test_check_error(AW_ERR_LOCKED, "aw_entity_create", __FILE__, __LINE__);
    aw_iter_fini(&other);
    aw_iter_fini(&other);
    assert_true(aw_entity_create(w) != AW_ENTITY_NULL);
    /* next() on a finished iterator: ecs.h does not say whether it restarts or keeps returning
     * false; either way a fini afterwards must leave the world unlocked */
    if (aw_iter_next(&done)) aw_iter_fini(&done);
    assert_true(aw_entity_create(w) != AW_ENTITY_NULL);
    aw_world_destroy(w);
}

/* ---------------------------------------------------------------- out of memory */

/* A scripted workload over one world, run once per N with an allocator that fails from the N-th
 * allocation. After each failure the call must report AW_ERR_OUT_OF_MEMORY with a message, the
 * world must be unchanged (entities, data, counts), a retry while still failing must fail the
 * same way, and once the allocator recovers the rest of the workload must run to the same end. */

enum { OA = 0, OB, OT, OC, ONC };
static const size_t g_osize[ONC] = {8, 64, 0, 120};
enum { OMAX = 1024 };

typedef struct oom_ent {
    aw_entity id;
    bool alive;
    unsigned mask;
    uint64_t key[ONC]; /* data is test_fill(key); key 0 = zero-filled */
} oom_ent;

typedef struct oom_ctx {
    test_alloc ta;
    aw_world *w;
    aw_component c[ONC];
    aw_query *q1, *q2;
    aw_cmd_buffer *cb;
    aw_resource res;
    aw_event_type ev;
    long a_live; /* live A instances, counted by hooks */
    long a_errors;
    oom_ent ent[OMAX];
    uint32_t nent;
    uint32_t ev_prev, ev_cur;
    uint64_t res_val;
    int failures_seen;         /* failing calls observed in this run */
    const char *first_failure; /* the step that saw this run's first failure */
    bool injected;             /* this run injects failures at all */
    const char *step;
} oom_ctx;

static void a_ctor(void *ptr, uint32_t count, void *user) {
    oom_ctx *x = user;
    memset(ptr, 0, (size_t)count * 8);
    x->a_live += count;
}

static void a_dtor(void *ptr, uint32_t count, void *user) {
    oom_ctx *x = user;
    (void)ptr;
    x->a_live -= count;
    if (x->a_live < 0) x->a_errors++;
}

static void a_copy(void *dst, const void *src, uint32_t count, void *user) {
    (void)user;
    memcpy(dst, src, (size_t)count * 8);
}

static void oom_value(uint64_t key, int comp, unsigned char *out) {
    if (key == 0)
        memset(out, 0, g_osize[comp]);
    else
        test_fill(out, g_osize[comp], key * 8 + (uint64_t)comp);
}

static bool q1_match(unsigned m) {
    return (m & (1u << OA)) != 0;
}
static bool q2_match(unsigned m) {
    return (m & (1u << OC)) && !(m & (1u << OT));
}

/* Full comparison of the world with the model. */
static void oom_verify(oom_ctx *x) {
    uint32_t alive = 0, with_a = 0, n1 = 0, n2 = 0;
    unsigned char want[128];
    for (uint32_t i = 0; i < x->nent; i++) {
        oom_ent *m = &x->ent[i];
        bool is = aw_entity_alive(x->w, m->id);
        if (is != m->alive)
            fail_msg("[%s] entity #%u (%llx): alive %d, expected %d", x->step, i, (unsigned long long)m->id,
                     is, m->alive);
        if (!m->alive) continue;
        alive++;
        with_a += (m->mask >> OA) & 1;
        n1 += q1_match(m->mask);
        n2 += q2_match(m->mask);
        for (int k = 0; k < ONC; k++) {
            bool has = (m->mask >> k) & 1;
            if (aw_entity_has(x->w, m->id, x->c[k]) != has)
                fail_msg("[%s] entity #%u: has(component %d) = %d, expected %d", x->step, i, k, !has, has);
            if (has && g_osize[k]) {
                oom_value(m->key[k], k, want);
                const void *p = aw_entity_get_const(x->w, m->id, x->c[k]);
                if (!p || memcmp(p, want, g_osize[k]) != 0)
                    fail_msg("[%s] entity #%u: component %d data differs", x->step, i, k);
            }
        }
    }
    if (aw_world_entity_count(x->w) != alive)
        fail_msg("[%s] entity count %u, expected %u", x->step, aw_world_entity_count(x->w), alive);
    if (x->a_live != (long)with_a)
        fail_msg("[%s] %ld live A instances, expected %u", x->step, x->a_live, with_a);
    if (x->q1 && aw_query_count(x->q1) != n1)
        fail_msg("[%s] q1 count %u, expected %u", x->step, aw_query_count(x->q1), n1);
    if (x->q2 && aw_query_count(x->q2) != n2)
        fail_msg("[%s] q2 count %u, expected %u", x->step, aw_query_count(x->q2), n2);
    if (x->ev && aw_event_count(x->w, x->ev) != x->ev_prev + x->ev_cur)
        fail_msg("[%s] %u events visible, expected %u", x->step, aw_event_count(x->w, x->ev),
                 x->ev_prev + x->ev_cur);
    if (x->res) {
        const uint64_t *r = aw_resource_get(x->w, x->res);
        if (!r || *r != x->res_val) fail_msg("[%s] resource value differs", x->step);
    }
}

/* Called after each attempt of a step. Returns true if the step must be retried. */
static bool oom_retry(oom_ctx *x, aw_status st) {
    if (st == AW_OK) return false;
    if (!x->injected || x->ta.failures == 0 || x->ta.fail_after == UINT64_MAX) {
        fail_msg("[%s] failed with %s (\"%s\") without an allocation failure", x->step, test_status_name(st),
                 aw_last_error());
    }
    if (st != AW_ERR_OUT_OF_MEMORY || aw_last_status() != AW_ERR_OUT_OF_MEMORY || aw_last_error()[0] == '\0')
        fail_msg("[%s] under allocation failure: returned %s, last status %s, message \"%s\"", x->step,
                 test_status_name(st), test_status_name(aw_last_status()), aw_last_error());
    oom_verify(x); /* unchanged */
    if (!x->failures_seen) x->first_failure = x->step;
    x->failures_seen++;
    /* the first failure is retried once while still failing, then the allocator recovers */
    if (x->failures_seen >= 2) x->ta.fail_after = UINT64_MAX;
    return true;
}

#define OOM_STEP(x, name, status_expr)                                                                       \
    do {                                                                                                     \
        (x)->step = (name);                                                                                  \
        aw_status oom_st_;                                                                                   \
        do {                                                                                                 \
            aw_clear_error();                                                                                \
            oom_st_ = (status_expr);                                                                         \
        } while (oom_retry((x), oom_st_));                                                                   \
    } while (0)

static aw_status st_of(bool ok) {
    return ok ? AW_OK : aw_last_status();
}

/* Void or infallible calls must not run into an allocation failure they cannot report. */
static void oom_no_alloc_failure(oom_ctx *x, uint64_t failures_before, const char *what) {
    if (x->ta.failures != failures_before)
        fail_msg("[%s] hit an allocation failure but cannot report it", what);
}

static oom_ent *oom_new(oom_ctx *x, aw_entity id) {
    assert_true(x->nent < OMAX);
    oom_ent *m = &x->ent[x->nent++];
    memset(m, 0, sizeof *m);
    m->id = id;
    m->alive = true;
    return m;
}

static void oom_set(oom_ctx *x, oom_ent *m, int k, uint64_t key) {
    unsigned char buf[128];
    oom_value(key, k, buf);
    OOM_STEP(x, "set", aw_entity_set(x->w, m->id, x->c[k], g_osize[k] ? buf : NULL, g_osize[k]));
    m->mask |= 1u << k;
    m->key[k] = key;
}

static void oom_iterate(oom_ctx *x, aw_query *q, bool (*match)(unsigned)) {
    uint64_t f0 = x->ta.failures;
    uint32_t rows = 0, want = 0;
    for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) rows += it.count;
    for (uint32_t i = 0; i < x->nent; i++) want += x->ent[i].alive && match(x->ent[i].mask);
    oom_no_alloc_failure(x, f0, "iteration");
    if (rows != want) fail_msg("[iterate] %u rows, expected %u", rows, want);
}

static void oom_workload(oom_ctx *x) {
    aw_world_desc wd = {
        .allocator = &x->ta.iface, .chunk_size = 1024, .large_chunk_size = 1024, .threads = 1};
    x->step = "world_create";
    for (;;) {
        aw_clear_error();
        x->w = aw_world_create(&wd);
        if (x->w) break;
        if (!x->injected || x->ta.failures == 0)
            fail_msg("aw_world_create failed without an allocation failure: %s", aw_last_error());
        if (aw_last_status() != AW_ERR_OUT_OF_MEMORY || aw_last_error()[0] == '\0')
            fail_msg("aw_world_create under OOM: last status %s, message \"%s\"",
                     test_status_name(aw_last_status()), aw_last_error());
        if (x->ta.live_bytes != 0)
            fail_msg("failed aw_world_create leaked %llu bytes", (unsigned long long)x->ta.live_bytes);
        if (!x->failures_seen) x->first_failure = x->step;
        if (++x->failures_seen >= 2) x->ta.fail_after = UINT64_MAX;
    }

    /* registrations */
    const char *names[ONC] = {"A", "B", "T", "C"};
    size_t aligns[ONC] = {8, 64, 0, 8};
    for (int k = 0; k < ONC; k++) {
        aw_component_desc d = {.name = names[k], .size = g_osize[k], .align = aligns[k]};
        if (k == OA) {
            d.ctor = a_ctor;
            d.dtor = a_dtor;
            d.copy = a_copy;
            d.hook_user = x;
        }
        OOM_STEP(x, "component_register", st_of((x->c[k] = aw_component_register(x->w, &d)) != 0));
    }
    OOM_STEP(x, "query_create q1",
             st_of((x->q1 = aw_query_create(
                        x->w, &(aw_query_desc){AW_TERMS(T_WITH(x->c[OA]), T_OPT(x->c[OB]))})) != NULL));
    OOM_STEP(x, "resource_register",
             st_of((x->res = aw_resource_register(x->w, &(aw_resource_desc){.name = "R", .size = 8})) != 0));
    OOM_STEP(x, "event_register",
             st_of((x->ev = aw_event_register(x->w, &(aw_event_desc){.name = "E", .size = 16})) != 0));

    /* entities one call at a time */
    uint64_t key = 1;
    for (int i = 0; i < 60; i++) {
        aw_entity e = AW_ENTITY_NULL;
        OOM_STEP(x, "entity_create", st_of((e = aw_entity_create(x->w)) != AW_ENTITY_NULL));
        oom_ent *m = oom_new(x, e);
        oom_set(x, m, OA, key++);
        if (i % 2) OOM_STEP(x, "add B", aw_entity_add(x->w, e, x->c[OB]));
        if (i % 2) m->mask |= 1u << OB;
        if (i % 3 == 0) oom_set(x, m, OC, key++);
        if (i % 5 == 0) oom_set(x, m, OT, 0);
    }
    oom_verify(x);

    /* bulk */
    enum { NB = 150 };
    static unsigned char a_data[NB * 8], c_data[NB * 120];
    aw_entity out[NB];
    for (int i = 0; i < NB; i++) {
        oom_value(1000 + (uint64_t)i, OA, a_data + i * 8);
        oom_value(5000 + (uint64_t)i, OC, c_data + i * 120);
    }
    aw_component bc[] = {x->c[OA], x->c[OC], x->c[OT]};
    const void *bd[] = {a_data, c_data, NULL};
    OOM_STEP(
        x, "bulk {A,C,T}",
        aw_entity_create_bulk(
            x->w, &(aw_bulk_desc){
                      .count = NB, .components = bc, .component_count = 3, .data = bd, .out_entities = out}));
    for (int i = 0; i < NB; i++) {
        oom_ent *m = oom_new(x, out[i]);
        m->mask = (1u << OA) | (1u << OC) | (1u << OT);
        m->key[OA] = 1000 + (uint64_t)i;
        m->key[OC] = 5000 + (uint64_t)i;
    }
    aw_component bb[] = {x->c[OB], x->c[OC]};
    OOM_STEP(
        x, "bulk {B,C}",
        aw_entity_create_bulk(
            x->w, &(aw_bulk_desc){.count = 80, .components = bb, .component_count = 2, .out_entities = out}));
    for (int i = 0; i < 80; i++) oom_new(x, out[i])->mask = (1u << OB) | (1u << OC);
    oom_verify(x);

    OOM_STEP(x, "query_create q2",
             st_of((x->q2 = aw_query_create(
                        x->w, &(aw_query_desc){AW_TERMS(T_WITH(x->c[OC]), T_WITHOUT(x->c[OT]))})) != NULL));
    oom_iterate(x, x->q1, q1_match);
    oom_iterate(x, x->q2, q2_match);

    /* removes, destroys and re-adds, moving entities across tables */
    for (uint32_t i = 0; i < x->nent; i += 7) {
        oom_ent *m = &x->ent[i];
        if (m->mask & (1u << OA)) {
            OOM_STEP(x, "remove A", aw_entity_remove(x->w, m->id, x->c[OA]));
            m->mask &= ~(1u << OA);
        } else {
            OOM_STEP(x, "add A", aw_entity_add(x->w, m->id, x->c[OA]));
            m->mask |= 1u << OA;
            m->key[OA] = 0;
        }
    }
    for (uint32_t i = 3; i < x->nent; i += 11) {
        OOM_STEP(x, "destroy", aw_entity_destroy(x->w, x->ent[i].id));
        x->ent[i].alive = false;
    }
    oom_verify(x);

    /* command buffer */
    OOM_STEP(x, "cmd_buffer_create", st_of((x->cb = aw_cmd_buffer_create(x->w)) != NULL));
    uint32_t first_new = x->nent;
    for (int i = 0; i < 30; i++) {
        aw_entity e = AW_ENTITY_NULL;
        OOM_STEP(x, "cmd_create", st_of((e = aw_cmd_create(x->cb)) != AW_ENTITY_NULL));
        oom_ent *m = oom_new(x, e);
        m->alive = false; /* until applied */
        unsigned char buf[8];
        oom_value(9000 + (uint64_t)i, OA, buf);
        OOM_STEP(x, "cmd_set", aw_cmd_set(x->cb, e, x->c[OA], buf, 8));
    }
    /* the model stays at the world's state while recording (a failed record checks against it) */
    uint32_t tagged[64], ntag = 0, doomed[64], ndoomed = 0;
    for (uint32_t i = 1; i < first_new && ntag < 64; i += 13) {
        if (!x->ent[i].alive || (x->ent[i].mask & (1u << OT))) continue;
        OOM_STEP(x, "cmd_add T", aw_cmd_add(x->cb, x->ent[i].id, x->c[OT]));
        tagged[ntag++] = i;
    }
    for (uint32_t i = 2; i < first_new && ndoomed < 64; i += 17) {
        if (!x->ent[i].alive || i % 13 == 1) continue;
        OOM_STEP(x, "cmd_destroy", aw_cmd_destroy(x->cb, x->ent[i].id));
        doomed[ndoomed++] = i;
    }
    unsigned pre_mask[OMAX];
    bool pre_alive[OMAX];
    for (uint32_t i = 0; i < x->nent; i++) {
        pre_mask[i] = x->ent[i].mask;
        pre_alive[i] = x->ent[i].alive;
    }
    for (uint32_t j = 0; j < ntag; j++) x->ent[tagged[j]].mask |= 1u << OT;
    for (uint32_t j = 0; j < ndoomed; j++) x->ent[doomed[j]].alive = false;
    for (uint32_t i = first_new; i < x->nent; i++) {
        x->ent[i].alive = true;
        x->ent[i].mask = 1u << OA;
        x->ent[i].key[OA] = 9000 + (i - first_new);
    }
    /* post-apply model is in x->ent; pre-apply state in pre_* */
    x->step = "cmd_apply";
    for (;;) {
        aw_clear_error();
        aw_status st = aw_cmd_buffer_apply(x->cb);
        if (st == AW_OK) break;
        if (!x->injected || x->ta.failures == 0 || x->ta.fail_after == UINT64_MAX)
            fail_msg("[cmd_apply] failed with %s without an allocation failure", test_status_name(st));
        if (st != AW_ERR_OUT_OF_MEMORY || aw_last_error()[0] == '\0')
            fail_msg("[cmd_apply] under allocation failure: returned %s, message \"%s\"",
                     test_status_name(st), aw_last_error());
        /* skipped commands: each touched entity is in its pre or post state (new ones may also lack A) */
        bool kept = aw_cmd_buffer_count(x->cb) > 0;
        for (uint32_t i = 0; i < x->nent; i++) {
            oom_ent *m = &x->ent[i];
            bool alive = aw_entity_alive(x->w, m->id);
            unsigned mask = 0;
            for (int k = 0; k < ONC; k++) mask |= (unsigned)aw_entity_has(x->w, m->id, x->c[k]) << k;
            bool is_pre = alive == (i < first_new ? pre_alive[i] : false) && (!alive || mask == pre_mask[i]);
            bool is_post = alive == m->alive && (!alive || mask == m->mask);
            bool partial_new = i >= first_new && alive && mask == 0;
            if (!is_pre && !is_post && !partial_new)
                fail_msg("[cmd_apply] entity #%u in neither its old nor its new state (alive %d mask %x)", i,
                         alive, mask);
            if (kept) {
                if (!is_pre) fail_msg("[cmd_apply] kept its commands but applied some (entity #%u)", i);
                continue; /* the model keeps the post-apply state for the re-apply below */
            }
            /* adopt what happened */
            m->alive = alive;
            if (alive) m->mask = mask;
            if (i < first_new) {
                pre_alive[i] = alive;
                pre_mask[i] = mask;
            }
        }
        if (!kept) oom_verify(x);
        if (!x->failures_seen) x->first_failure = x->step;
        x->failures_seen++;
        x->ta.fail_after = UINT64_MAX;
        if (!kept) break;
    }
    oom_verify(x);

    /* events and resources across frames */
    for (int i = 0; i < 200; i++) {
        unsigned char ev[16];
        test_fill(ev, 16, (uint64_t)i);
        OOM_STEP(x, "event_send", aw_event_send(x->w, x->ev, ev, 16));
        x->ev_cur++;
    }
    uint64_t f0 = x->ta.failures;
    aw_world_end_frame(x->w);
    oom_no_alloc_failure(x, f0, "end_frame");
    x->ev_prev = x->ev_cur;
    x->ev_cur = 0;
    for (int i = 0; i < 300; i++) {
        unsigned char ev[16] = {0};
        OOM_STEP(x, "event_send", aw_event_send(x->w, x->ev, ev, 16));
        x->ev_cur++;
    }
    uint64_t rv = 0x1234;
    OOM_STEP(x, "resource_set", aw_resource_set(x->w, x->res, &rv, 8));
    x->res_val = rv;
    oom_verify(x);

    /* clear and rebuild */
    OOM_STEP(x, "clear", aw_world_clear(x->w));
    for (uint32_t i = 0; i < x->nent; i++) x->ent[i].alive = false;
    /* ecs.h does not say whether clear drops pending events: accept both */
    uint32_t evc = aw_event_count(x->w, x->ev);
    if (evc != 0 && evc != x->ev_prev + x->ev_cur) fail_msg("[clear] %u events visible after clear", evc);
    if (evc == 0) x->ev_prev = x->ev_cur = 0;
    for (int i = 0; i < 40; i++) {
        aw_entity e = AW_ENTITY_NULL;
        OOM_STEP(x, "entity_create", st_of((e = aw_entity_create(x->w)) != AW_ENTITY_NULL));
        oom_ent *m = oom_new(x, e);
        oom_set(x, m, i % 2 ? OB : OC, key++);
        oom_set(x, m, OA, key++);
    }
    oom_iterate(x, x->q1, q1_match);
    oom_iterate(x, x->q2, q2_match);
    oom_verify(x);
}

static void oom_ctx_reset(oom_ctx *x) {
    memset(x, 0, sizeof *x);
    test_alloc_init(&x->ta);
}

static void oom_finish(oom_ctx *x, uint64_t n) {
    aw_cmd_buffer_destroy(x->cb);
    aw_world_destroy(x->w);
    if (x->ta.live_bytes != 0 || x->ta.live_blocks != 0)
        fail_msg("fail_after=%llu: %llu bytes in %llu blocks leaked after world destroy",
                 (unsigned long long)n, (unsigned long long)x->ta.live_bytes,
                 (unsigned long long)x->ta.live_blocks);
    if (x->ta.bad_calls)
        fail_msg("fail_after=%llu: %llu bad free/realloc calls", (unsigned long long)n,
                 (unsigned long long)x->ta.bad_calls);
    if (x->a_live != 0 || x->a_errors != 0)
        fail_msg("fail_after=%llu: %ld A instances live after destroy", (unsigned long long)n, x->a_live);
}

static void test_out_of_memory_sweep(void **state) {
    (void)state;
    static oom_ctx x;
    /* dry run: how many allocation calls does the workload make? */
    oom_ctx_reset(&x);
    oom_workload(&x);
    uint64_t total = test_alloc_calls(&x.ta);
    oom_finish(&x, UINT64_MAX);
    assert_true(total > 0);
    uint64_t failing_runs = 0;
    const char *steps[64];
    uint32_t step_runs[64], nsteps = 0;
    for (uint64_t n = 0; n <= total; n++) {
        oom_ctx_reset(&x);
        x.injected = true;
        x.ta.fail_after = n;
        oom_workload(&x);
        failing_runs += x.failures_seen > 0;
        if (x.failures_seen) {
            uint32_t i = 0;
            while (i < nsteps && strcmp(steps[i], x.first_failure) != 0) i++;
            if (i == nsteps && nsteps < 64) {
                steps[nsteps] = x.first_failure;
                step_runs[nsteps++] = 0;
            }
            if (i < nsteps) step_runs[i]++;
        }
        oom_finish(&x, n);
    }
    print_message("OOM sweep: %llu allocation points, %llu runs saw a failure\n", (unsigned long long)total,
                  (unsigned long long)failing_runs);
    for (uint32_t i = 0; i < nsteps; i++)
        print_message("  %3u runs failed first in %s\n", step_runs[i], steps[i]);
    assert_true(failing_runs > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_world),
        cmocka_unit_test(test_null_handles),
        cmocka_unit_test(test_bad_world_desc),
        cmocka_unit_test(test_stale_and_never_created),
        cmocka_unit_test(test_unknown_component),
        cmocka_unit_test(test_size_mismatch),
        cmocka_unit_test(test_present_absent),
        cmocka_unit_test(test_query_terms_bad),
        cmocka_unit_test(test_duplicate_names_and_alignment),
        cmocka_unit_test(test_iter_fini_misuse),
        cmocka_unit_test(test_out_of_memory_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
