/* Zero heap allocations in a steady-state frame: after a few warm-up frames, frames that create
 * ~1000 entities, iterate, record/apply commands, send/read events and destroy allocate nothing. */
#include "ecs_test_util.h"

typedef struct Pos {
    float x, y, z;
} Pos;
typedef struct Vel {
    float x, y, z;
} Vel;
typedef struct Hit {
    uint32_t target;
    float amount;
} Hit;

enum { BULK = 500, SINGLE = 500, DEFERRED = 100, EVENTS = 1000 };

typedef struct sim {
    aw_world *w;
    aw_component pos, vel, hp, tag, big;
    aw_query *move, *tagged;
    aw_cmd_buffer *cb;
    aw_event_type hit;
    aw_resource clock;
    aw_event_cursor cursor;
    Pos *pos_data;
    Vel *vel_data;
    aw_entity *ids; /* every entity created this frame */
    uint32_t nids;
} sim;

static void sim_init(sim *s, test_alloc *ta, uint32_t chunk_size) {
    memset(s, 0, sizeof *s);
    s->w = test_world_new(ta, chunk_size);
    s->pos = AW_COMPONENT(s->w, Pos);
    s->vel = AW_COMPONENT(s->w, Vel);
    s->hp = test_component(s->w, "Hp", 4, 0);
    s->tag = test_component(s->w, "Tag", 0, 0);
    s->big = test_component(s->w, "Big", 128, 64);
    s->move = aw_query_create(s->w, &(aw_query_desc){AW_TERMS(T_WITH(s->pos), T_WITH(s->vel), T_OPT(s->hp))});
    s->tagged = aw_query_create(s->w, &(aw_query_desc){AW_TERMS(T_WITH(s->tag), T_WITHOUT(s->big))});
    assert_true(s->move && s->tagged);
    s->cb = aw_cmd_buffer_create(s->w);
    assert_non_null(s->cb);
    s->hit = AW_EVENT(s->w, Hit);
    s->clock = aw_resource_register(s->w, &(aw_resource_desc){.name = "Clock", .size = sizeof(uint64_t)});
    assert_true(s->hit && s->clock);
    s->pos_data = calloc(BULK, sizeof *s->pos_data);
    s->vel_data = calloc(BULK, sizeof *s->vel_data);
    s->ids = calloc(BULK + SINGLE + DEFERRED, sizeof *s->ids);
    assert_true(s->pos_data && s->vel_data && s->ids);
    for (int i = 0; i < BULK; i++) {
        s->pos_data[i] = (Pos){(float)i, 0, 0};
        s->vel_data[i] = (Vel){1, 2, 3};
    }
}

static void sim_free(sim *s) {
    aw_cmd_buffer_destroy(s->cb);
    aw_world_destroy(s->w);
    free(s->pos_data);
    free(s->vel_data);
    free(s->ids);
}

static void sim_frame(sim *s, uint64_t frame) {
    aw_world *w = s->w;
    s->nids = 0;
    /* bulk creation */
    aw_component comps[] = {s->pos, s->vel, s->tag};
    const void *data[] = {s->pos_data, s->vel_data, NULL};
    EXPECT_OK(aw_entity_create_bulk(
        w,
        &(aw_bulk_desc){
            .count = BULK, .components = comps, .component_count = 3, .data = data, .out_entities = s->ids}));
    s->nids += BULK;
    /* one by one, in a few different tables */
    for (uint32_t i = 0; i < SINGLE; i++) {
        aw_entity e = aw_entity_create(w);
        assert_true(e != AW_ENTITY_NULL);
        EXPECT_OK(AW_SET(w, e, s->pos, Pos, {(float)i, 1, 2}));
        EXPECT_OK(AW_SET(w, e, s->vel, Vel, {0, 1, 0}));
        if (i % 3 == 0) EXPECT_OK(aw_entity_add(w, e, s->hp));
        if (i % 5 == 0) EXPECT_OK(aw_entity_add(w, e, s->big));
        if (i % 7 == 0) EXPECT_OK(aw_entity_add(w, e, s->tag));
        s->ids[s->nids++] = e;
    }
    assert_int_equal(aw_query_count(s->move), BULK + SINGLE);

    /* a system: integrate, and record structural changes for later */
    uint32_t rows = 0;
    for (aw_iter it = aw_query_iter(s->move); aw_iter_next(&it);) {
        Pos *p = AW_COLUMN(&it, Pos, 0);
        const Vel *v = AW_COLUMN(&it, Vel, 1);
        for (uint32_t r = 0; r < it.count; r++) {
            p[r].x += v[r].x;
            p[r].y += v[r].y;
            p[r].z += v[r].z;
            if ((rows + r) % 4 == 0) {
                int32_t hp = (int32_t)(rows + r);
                EXPECT_OK(aw_cmd_set(s->cb, it.entities[r], s->hp, &hp, sizeof hp));
            }
            if ((rows + r) % 9 == 0) EXPECT_OK(aw_cmd_remove(s->cb, it.entities[r], s->vel));
        }
        rows += it.count;
    }
    assert_int_equal(rows, BULK + SINGLE);
    for (uint32_t i = 0; i < DEFERRED; i++) {
        aw_entity e = aw_cmd_create(s->cb);
        assert_true(e != AW_ENTITY_NULL);
        EXPECT_OK(aw_cmd_set(s->cb, e, s->pos, &s->pos_data[i], sizeof(Pos)));
        if (i % 2) EXPECT_OK(aw_cmd_add(s->cb, e, s->tag));
        s->ids[s->nids++] = e;
    }
    EXPECT_OK(aw_cmd_buffer_apply(s->cb));
    assert_int_equal(aw_world_entity_count(w), BULK + SINGLE + DEFERRED);
    assert_true(aw_query_count(s->tagged) > 0);

    /* events and a resource */
    for (uint32_t i = 0; i < EVENTS; i++) {
        Hit h = {i, (float)frame};
        EXPECT_OK(aw_event_send(w, s->hit, &h, sizeof h));
    }
    uint32_t read = 0;
    while (aw_event_read(w, s->hit, &s->cursor)) read++;
    assert_int_equal(read, EVENTS);
    EXPECT_OK(aw_resource_set(w, s->clock, &frame, sizeof frame));

    /* despawn everything */
    for (uint32_t i = 0; i < s->nids; i++) EXPECT_OK(aw_entity_destroy(w, s->ids[i]));
    assert_int_equal(aw_world_entity_count(w), 0);
    aw_world_end_frame(w);
}

static void run_steady(uint32_t chunk_size) {
    test_alloc ta;
    test_alloc_init(&ta);
    sim s;
    sim_init(&s, &ta, chunk_size);
    for (uint64_t f = 0; f < 4; f++) sim_frame(&s, f);
    uint64_t calls = test_alloc_calls(&ta);
    uint64_t frees = ta.frees;
    aw_alloc_stats ws = aw_world_alloc_stats(s.w);
    aw_alloc_stats hs = aw_heap_stats();
    for (uint64_t f = 4; f < 24; f++) {
        sim_frame(&s, f);
        if (test_alloc_calls(&ta) != calls || ta.frees != frees)
            fail_msg("frame %llu (chunk_size %u): %llu allocation calls and %llu frees in steady state",
                     (unsigned long long)f, chunk_size, (unsigned long long)(test_alloc_calls(&ta) - calls),
                     (unsigned long long)(ta.frees - frees));
    }
    aw_alloc_stats d = aw_alloc_stats_diff(ws, aw_world_alloc_stats(s.w));
    assert_int_equal(d.allocs, 0);
    assert_int_equal(d.reallocs, 0);
    aw_alloc_stats hd = aw_alloc_stats_diff(hs, aw_heap_stats());
    assert_int_equal(hd.allocs + hd.reallocs, 0); /* nothing went around the world's allocator either */
    assert_int_equal(ta.bad_calls, 0);
    sim_free(&s);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.live_blocks, 0);
}

static void test_steady_state_default_chunks(void **state) {
    (void)state;
    run_steady(0);
}

static void test_steady_state_small_chunks(void **state) {
    (void)state;
    run_steady(1024);
}

/* A persistent population with churn: the oldest 1000 of 5000 entities die each frame and 1000
 * new ones with the same mix of component sets replace them. */
static void test_steady_state_churn(void **state) {
    (void)state;
    test_alloc ta;
    test_alloc_init(&ta);
    aw_world *w = test_world_new(&ta, 0);
    aw_component c[4] = {test_component(w, "A", 4, 0), test_component(w, "B", 32, 16),
                         test_component(w, "C", 100, 4), test_component(w, "T", 0, 0)};
    aw_query *q = aw_query_create(w, &(aw_query_desc){AW_TERMS(T_WITH(c[0]), T_OPT(c[1]), T_WITHOUT(c[3]))});
    assert_non_null(q);
    enum { POP = 5000, CHURN = 1000 };
    aw_entity ring[POP];
    uint32_t head = 0;
    for (uint32_t i = 0; i < POP; i++) {
        ring[i] = aw_entity_create(w);
        for (int k = 0; k < 4; k++)
            if ((i >> k) & 1 || k == 0) EXPECT_OK(aw_entity_add(w, ring[i], c[k]));
    }
    uint64_t calls = 0;
    for (int frame = 0; frame < 30; frame++) {
        if (frame == 6) calls = test_alloc_calls(&ta);
        for (uint32_t n = 0; n < CHURN; n++) {
            uint32_t slot = (head + n) % POP;
            EXPECT_OK(aw_entity_destroy(w, ring[slot]));
            ring[slot] = aw_entity_create(w);
            for (int k = 0; k < 4; k++)
                if ((slot >> k) & 1 || k == 0) EXPECT_OK(aw_entity_add(w, ring[slot], c[k]));
        }
        head = (head + CHURN) % POP;
        uint32_t rows = 0;
        for (aw_iter it = aw_query_iter(q); aw_iter_next(&it);) {
            int32_t *a = AW_COLUMN(&it, int32_t, 0);
            for (uint32_t r = 0; r < it.count; r++) a[r]++;
            rows += it.count;
        }
        assert_int_equal(rows, aw_query_count(q));
        aw_world_end_frame(w);
        if (frame >= 6 && test_alloc_calls(&ta) != calls)
            fail_msg("churn frame %d: %llu allocation calls in steady state", frame,
                     (unsigned long long)(test_alloc_calls(&ta) - calls));
    }
    aw_world_destroy(w);
    assert_int_equal(ta.live_bytes, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_state_default_chunks),
        cmocka_unit_test(test_steady_state_small_chunks),
        cmocka_unit_test(test_steady_state_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
