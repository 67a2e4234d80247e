/* Reserving command-buffer and event-queue room up front: after aw_cmd_buffer_reserve and
 * aw_event_reserve, recording and sending that much allocates nothing, in both event buffers;
 * what is recorded applies as without the reserve; bad input gets a status, not a crash. */
#include "ecs_test_util.h"

typedef struct Pos {
    float x, y, z;
} Pos;
typedef struct Hit {
    uint32_t target;
    float amount;
} Hit;

static uint64_t heap_calls(const test_alloc *ta) {
    return ta->allocs + ta->reallocs;
}

static void test_cmd_reserve_takes_the_allocation_up_front(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_component pos = AW_COMPONENT(w, Pos);
    aw_cmd_buffer *cb = aw_cmd_buffer_create(w);
    assert_non_null(cb);
    enum { N = 3000 };
    size_t bytes = N * (aw_cmd_size(0) + aw_cmd_size(sizeof(Pos)));
    assert_int_equal(aw_cmd_size(0) % 8, 0);
    assert_true(aw_cmd_size(sizeof(Pos)) >= aw_cmd_size(0) + sizeof(Pos));
    EXPECT_OK(aw_cmd_buffer_reserve(cb, bytes, N));
    /* Entity ids are the world's: make room for them first, so only the buffer is measured. */
    aw_entity *ids = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) ids[i] = aw_entity_create(w);
    for (int i = 0; i < N; i++) EXPECT_OK(aw_entity_destroy(w, ids[i]));
    uint64_t before = heap_calls(&ta);
    for (int i = 0; i < N; i++) {
        aw_entity e = aw_cmd_create(cb);
        assert_true(e != AW_ENTITY_NULL);
        Pos p = {(float)i, 0, 0};
        EXPECT_OK(aw_cmd_set(cb, e, pos, &p, sizeof p));
    }
    assert_int_equal(heap_calls(&ta), before); /* recording: no growth */
    assert_int_equal(aw_cmd_buffer_count(cb), 2 * N);
    EXPECT_OK(aw_cmd_buffer_apply(cb));
    assert_int_equal(aw_world_entity_count(w), N);
    /* Reserving less than held changes nothing; a reserve on a buffer with room allocates nothing. */
    before = heap_calls(&ta);
    EXPECT_OK(aw_cmd_buffer_reserve(cb, 8, 1));
    EXPECT_OK(aw_cmd_buffer_reserve(cb, bytes, N));
    assert_int_equal(heap_calls(&ta), before);
    /* Bad input. */
    assert_int_equal(aw_cmd_buffer_reserve(NULL, 8, 1), AW_ERR_INVALID_ARG);
    if (sizeof(size_t) > 4) assert_int_equal(aw_cmd_buffer_reserve(cb, (size_t)UINT32_MAX + 1u, 0), AW_ERR_CAPACITY);
    free(ids);
    aw_cmd_buffer_destroy(cb);
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

static void test_event_reserve_covers_both_buffers(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_event_type hit = AW_EVENT(w, Hit);
    assert_true(hit != 0);
    enum { N = 5000 };
    /* Two frames: the queues alternate, and a reserve grows the one being written. */
    for (int frame = 0; frame < 2; frame++) {
        EXPECT_OK(aw_event_reserve(w, hit, N));
        uint64_t before = heap_calls(&ta);
        for (uint32_t i = 0; i < N; i++) {
            Hit h = {i, 1.0f};
            EXPECT_OK(aw_event_send(w, hit, &h, sizeof h));
        }
        assert_int_equal(heap_calls(&ta), before);
        EXPECT_OK(aw_world_progress(w, 1.0f / 60.0f));
    }
    /* The events read back as sent. */
    assert_int_equal(aw_event_count(w, hit), N);
    const Hit *last = aw_event_get(w, hit, N - 1);
    assert_non_null(last);
    assert_int_equal(last->target, N - 1);
    /* Steady: sending as much again, with or without a reserve, allocates nothing. */
    uint64_t before = heap_calls(&ta);
    for (int frame = 0; frame < 4; frame++) {
        if (frame & 1) EXPECT_OK(aw_event_reserve(w, hit, N));
        for (uint32_t i = 0; i < N; i++) {
            Hit h = {i, 2.0f};
            EXPECT_OK(aw_event_send(w, hit, &h, sizeof h));
        }
        EXPECT_OK(aw_world_progress(w, 1.0f / 60.0f));
    }
    assert_int_equal(heap_calls(&ta), before);
    /* Bad input. */
    assert_int_equal(aw_event_reserve(w, 0, 10), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_event_reserve(w, hit + 7, 10), AW_ERR_NOT_FOUND);
    assert_int_equal(aw_event_reserve(NULL, hit, 10), AW_ERR_INVALID_ARG);
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.bad_calls, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_reserve_takes_the_allocation_up_front),
        cmocka_unit_test(test_event_reserve_covers_both_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
