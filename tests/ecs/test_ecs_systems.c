/* Systems and the scheduler: ordering, stages, cycles, parallel pieces, commands from workers,
 * determinism across thread counts, access checks and steady-state allocations. */
/* ctest-label: threads */
#include "aw/aw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    float x, y;
} Pos;
typedef struct {
    float x, y;
} Vel;
typedef struct {
    int32_t ticks;
    uint32_t seed;
} Life;

typedef struct fixture {
    aw_world *w;
    aw_component pos, vel, life, spawner;
} fixture;

static void fixture_init(fixture *f, uint32_t threads) {
    f->w = aw_world_create(&(aw_world_desc){.threads = threads});
    assert_non_null(f->w);
    f->pos = AW_COMPONENT(f->w, Pos);
    f->vel = AW_COMPONENT(f->w, Vel);
    f->life = AW_COMPONENT(f->w, Life);
    f->spawner = AW_TAG(f->w, Spawner);
}

static void noop(aw_system_ctx *ctx) {
    (void)ctx;
}

static void noop_piece(aw_system_ctx *ctx, const aw_iter *it) {
    (void)ctx;
    (void)it;
}

/* ---------------------------------------------------------------- ordering */

static void test_order_phases_and_constraints(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1);
    const char *after_a[] = {"a"};
    const char *before_a[] = {"a"};
    assert_non_null(aw_system_register(
        f.w, &(aw_system_desc){.name = "render", .phase = AW_PHASE_PRESENTATION, .run = noop}));
    assert_non_null(
        aw_system_register(f.w, &(aw_system_desc){.name = "a", .phase = AW_PHASE_SIMULATION, .run = noop}));
    assert_non_null(aw_system_register(
        f.w,
        &(aw_system_desc){
            .name = "b", .phase = AW_PHASE_SIMULATION, .run = noop, .after = after_a, .after_count = 1}));
    assert_non_null(aw_system_register(
        f.w,
        &(aw_system_desc){
            .name = "c", .phase = AW_PHASE_SIMULATION, .run = noop, .before = before_a, .before_count = 1}));
    assert_non_null(aw_system_register(
        f.w, &(aw_system_desc){.name = "sense", .phase = AW_PHASE_PERCEPTION, .run = noop}));
    char text[1024];
    size_t n = aw_world_describe_schedule(f.w, text, sizeof text);
    assert_true(n > 0 && n < sizeof text);
    const char *order[] = {"sense", "c", "a", "b", "render"};
    const char *at = text;
    for (int i = 0; i < 5; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, ": %s (", order[i]);
        const char *hit = strstr(at, needle);
        if (!hit) fail_msg("'%s' missing or out of order in:\n%s", order[i], text);
        at = hit;
    }
    assert_int_equal(aw_world_progress(f.w, 0.016f), AW_OK);
    aw_world_destroy(f.w);
}

static void test_cycles_and_unknown_names(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1);
    const char *after_b[] = {"b"}, *after_a[] = {"a"}, *after_x[] = {"nope"};
    aw_system_register(f.w, &(aw_system_desc){.name = "a", .run = noop, .after = after_b, .after_count = 1});
    aw_system_register(f.w, &(aw_system_desc){.name = "b", .run = noop, .after = after_a, .after_count = 1});
    assert_int_equal(aw_world_progress(f.w, 0.0f), AW_ERR_CYCLE);
    assert_non_null(strstr(aw_last_error(), "'a'"));
    aw_world_destroy(f.w);

    fixture_init(&f, 1);
    aw_system_register(f.w, &(aw_system_desc){.name = "a", .run = noop, .after = after_x, .after_count = 1});
    assert_int_equal(aw_world_progress(f.w, 0.0f), AW_ERR_NOT_FOUND);
    assert_non_null(strstr(aw_last_error(), "nope"));
    aw_world_destroy(f.w);

    /* a constraint against phase order is a cycle too */
    fixture_init(&f, 1);
    const char *before_s[] = {"sense"};
    aw_system_register(f.w, &(aw_system_desc){.name = "sense", .phase = AW_PHASE_PERCEPTION, .run = noop});
    aw_system_register(
        f.w,
        &(aw_system_desc){
            .name = "late", .phase = AW_PHASE_PHYSICS, .run = noop, .before = before_s, .before_count = 1});
    assert_int_equal(aw_world_progress(f.w, 0.0f), AW_ERR_CYCLE);
    aw_world_destroy(f.w);
}

static void test_bad_system_descs(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1);
    assert_null(aw_system_register(NULL, &(aw_system_desc){.name = "x", .run = noop}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_null(aw_system_register(f.w, NULL));
    assert_null(aw_system_register(f.w, &(aw_system_desc){.name = "x"}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    assert_null(aw_system_register(f.w, &(aw_system_desc){.name = "x", .each = noop_piece}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);
    aw_component bad = 999;
    assert_null(
        aw_system_register(f.w, &(aw_system_desc){.name = "x", .run = noop, .reads = &bad, .read_count = 1}));
    assert_int_equal(aw_last_status(), AW_ERR_UNKNOWN_COMPONENT);
    assert_non_null(aw_system_register(f.w, &(aw_system_desc){.name = "x", .run = noop}));
    assert_null(aw_system_register(f.w, &(aw_system_desc){.name = "x", .run = noop}));
    assert_int_equal(aw_last_status(), AW_ERR_ALREADY_PRESENT);
    assert_true(aw_last_error()[0] != '\0');
    aw_world_destroy(f.w);
}

/* Readers share a stage; a writer of what they read starts a new one. */
static void test_stages_follow_conflicts(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 2);
    aw_system_register(f.w, &(aw_system_desc){.name = "r1", .run = noop, .reads = &f.pos, .read_count = 1});
    aw_system_register(f.w, &(aw_system_desc){.name = "r2", .run = noop, .reads = &f.pos, .read_count = 1});
    aw_system_register(f.w, &(aw_system_desc){.name = "wv", .run = noop, .writes = &f.vel, .write_count = 1});
    aw_system_register(f.w, &(aw_system_desc){.name = "wp", .run = noop, .writes = &f.pos, .write_count = 1});
    aw_system_register(f.w, &(aw_system_desc){.name = "ex", .run = noop, .exclusive = true});
    char text[1024];
    aw_world_describe_schedule(f.w, text, sizeof text);
    assert_non_null(strstr(text, "stage 0: r1"));
    assert_non_null(strstr(text, "stage 0: r2"));
    assert_non_null(strstr(text, "stage 0: wv"));
    assert_non_null(strstr(text, "stage 1: wp"));
    assert_non_null(strstr(text, "stage 2: ex"));
    aw_world_destroy(f.w);
}

/* ---------------------------------------------------------------- parallel pieces */

typedef struct coverage {
    _Atomic uint32_t *hits;
    uint32_t n;
} coverage;

static void count_piece(aw_system_ctx *ctx, const aw_iter *it) {
    coverage *c = ctx->user;
    const Life *life = it->columns[0];
    for (uint32_t i = 0; i < it->count; i++) atomic_fetch_add(&c->hits[life[i].seed], 1);
}

static void test_each_covers_every_entity_once(void **state) {
    (void)state;
    for (uint32_t threads = 1; threads <= 4; threads++) {
        fixture f;
        fixture_init(&f, threads);
        enum { N = 50000 };
        static _Atomic uint32_t hits[N];
        for (uint32_t i = 0; i < N; i++) {
            atomic_store(&hits[i], 0);
            aw_entity e = aw_entity_create(f.w);
            AW_SET(f.w, e, f.life, Life, {.ticks = 1, .seed = i});
            if (i % 3 == 0) aw_entity_add(f.w, e, f.pos); /* two tables */
        }
        coverage c = {.hits = hits, .n = N};
        assert_non_null(aw_system_register(f.w, &(aw_system_desc){.name = "count",
                                                                  .query = {AW_TERMS(AW_READ(f.life))},
                                                                  .each = count_piece,
                                                                  .grain = 300,
                                                                  .user = &c}));
        assert_int_equal(aw_world_progress(f.w, 0.0f), AW_OK);
        for (uint32_t i = 0; i < N; i++)
            if (atomic_load(&hits[i]) != 1)
                fail_msg("threads %u: entity %u seen %u times", threads, i, atomic_load(&hits[i]));
        aw_world_destroy(f.w);
    }
}

static void count_query_piece(const aw_iter *it, uint32_t worker, void *ctx) {
    (void)worker;
    _Atomic uint32_t *total = ctx;
    atomic_fetch_add(total, it->count);
}

static void test_query_parallel(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 3);
    for (int i = 0; i < 10000; i++) AW_SET(f.w, aw_entity_create(f.w), f.pos, Pos, {1, 2});
    aw_query *q = aw_query_create(f.w, &(aw_query_desc){AW_TERMS(AW_READ(f.pos))});
    _Atomic uint32_t total = 0;
    assert_int_equal(aw_query_parallel(q, 100, count_query_piece, &total), AW_OK);
    assert_int_equal(atomic_load(&total), 10000);
    assert_int_equal(aw_query_parallel(NULL, 0, count_query_piece, &total), AW_ERR_INVALID_ARG);
    aw_world_destroy(f.w);
}

/* ---------------------------------------------------------------- determinism */

typedef struct sim {
    fixture f;
    uint64_t seed;
} sim;

static uint32_t mix(uint64_t a, uint64_t b) {
    return (uint32_t)aw_hash_combine(aw_hash_u64(a), b);
}

static void move_piece(aw_system_ctx *ctx, const aw_iter *it) {
    Pos *p = it->columns[0];
    const Vel *v = it->columns[1];
    for (uint32_t i = 0; i < it->count; i++) {
        p[i].x += v[i].x * ctx->dt;
        p[i].y += v[i].y * ctx->dt;
        if (p[i].x < -100 || p[i].x > 100) p[i].x = -p[i].x * 0.5f;
        if (p[i].y < -100 || p[i].y > 100) p[i].y = -p[i].y * 0.5f;
    }
}

/* Ages entities; the dead are destroyed through the piece's command buffer (from a worker). */
static void age_piece(aw_system_ctx *ctx, const aw_iter *it) {
    Life *l = it->columns[0];
    for (uint32_t i = 0; i < it->count; i++)
        if (--l[i].ticks <= 0) aw_cmd_destroy(ctx->commands, it->entities[i]);
}

/* Spawners create children from workers: provisional ids, set through the same buffer. */
static void spawn_piece(aw_system_ctx *ctx, const aw_iter *it) {
    sim *s = ctx->user;
    const Pos *p = it->columns[0];
    /* The count changes only at sync points, so this cap reads the same on every thread. */
    if (aw_world_entity_count(ctx->world) > 2500) return;
    for (uint32_t i = 0; i < it->count; i++) {
        uint32_t r = mix(it->entities[i], ctx->frame ^ s->seed);
        if (r % 4) continue;
        aw_entity child = aw_cmd_create(ctx->commands);
        aw_cmd_set(ctx->commands, child, s->f.pos, &p[i], sizeof(Pos));
        Vel v = {(float)(r % 200) / 10.0f - 10.0f, (float)((r >> 8) % 200) / 10.0f - 10.0f};
        aw_cmd_set(ctx->commands, child, s->f.vel, &v, sizeof v);
        Life life = {.ticks = 20 + (int32_t)((r >> 16) % 60), .seed = r};
        aw_cmd_set(ctx->commands, child, s->f.life, &life, sizeof life);
        if ((r >> 24) % 4 == 0) aw_cmd_add(ctx->commands, child, s->f.spawner);
    }
}

static uint64_t run_sim(uint32_t threads, uint32_t frames, uint64_t seed, uint32_t *population) {
    sim s = {.seed = seed};
    fixture_init(&s.f, threads);
    aw_world *w = s.f.w;
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    for (int i = 0; i < 400; i++) {
        aw_entity e = aw_entity_create(w);
        AW_SET(w, e, s.f.pos, Pos, {aw_rng_float_range(&rng, -50, 50), aw_rng_float_range(&rng, -50, 50)});
        AW_SET(w, e, s.f.vel, Vel, {aw_rng_float_range(&rng, -5, 5), aw_rng_float_range(&rng, -5, 5)});
        AW_SET(w, e, s.f.life, Life,
               {.ticks = 50 + (int32_t)aw_rng_range(&rng, 100), .seed = aw_rng_u32(&rng)});
        if (i % 8 == 0) aw_entity_add(w, e, s.f.spawner);
    }
    aw_system_register(w, &(aw_system_desc){.name = "move",
                                            .query = {AW_TERMS(AW_WRITE(s.f.pos), AW_READ(s.f.vel))},
                                            .each = move_piece,
                                            .grain = 64});
    aw_system_register(w, &(aw_system_desc){.name = "age",
                                            .phase = AW_PHASE_POST_SIMULATION,
                                            .query = {AW_TERMS(AW_WRITE(s.f.life))},
                                            .each = age_piece,
                                            .grain = 64});
    aw_system_register(w, &(aw_system_desc){.name = "spawn",
                                            .phase = AW_PHASE_POST_SIMULATION,
                                            .query = {AW_TERMS(AW_READ(s.f.pos), AW_FILTER(s.f.spawner))},
                                            .each = spawn_piece,
                                            .grain = 16,
                                            .user = &s});
    for (uint32_t k = 0; k < frames; k++) {
        aw_status st = aw_world_progress(w, 0.016f);
        if (st) fail_msg("frame %u: %s", k, aw_last_error());
    }
    uint64_t h = aw_world_hash(w);
    if (population) *population = aw_world_entity_count(w);
    aw_world_destroy(w);
    return h;
}

static void test_determinism_across_threads(void **state) {
    (void)state;
#ifdef AW_SANITIZED
    const uint32_t frames = 200;
#else
    const uint32_t frames = 1000;
#endif
    uint32_t pop1 = 0;
    uint64_t h1 = run_sim(1, frames, 42, &pop1);
    assert_true(pop1 > 50); /* the world stayed busy: spawns and deaths every frame */
    const uint32_t threads[] = {2, 3, 8};
    for (int i = 0; i < 3; i++) {
        uint32_t pop = 0;
        uint64_t h = run_sim(threads[i], frames, 42, &pop);
        if (h != h1 || pop != pop1)
            fail_msg("threads %u: hash %llx pop %u, with 1 thread %llx pop %u", threads[i],
                     (unsigned long long)h, pop, (unsigned long long)h1, pop1);
    }
    assert_true(run_sim(2, 50, 43, NULL) != run_sim(2, 50, 42, NULL));
}

/* ---------------------------------------------------------------- access checks, commands */

#ifdef AW_ACCESS_CHECKS
typedef struct sneaky {
    aw_entity target;
    aw_component undeclared;
    aw_status seen;
} sneaky;

static void sneaky_run(aw_system_ctx *ctx) {
    sneaky *s = ctx->user;
    void *p = aw_entity_get(ctx->world, s->target, s->undeclared);
    s->seen = p ? AW_OK : aw_last_status();
}

typedef struct sneaky_iter {
    aw_query *query;
    aw_status seen;
} sneaky_iter;

static void sneaky_iter_run(aw_system_ctx *ctx) {
    sneaky_iter *s = ctx->user;
    aw_iter it = aw_query_iter(s->query);
    aw_clear_error();
    bool any = aw_iter_next(&it);
    s->seen = any ? AW_OK : aw_last_status();
    aw_iter_fini(&it);
}
#endif

static void test_access_checks(void **state) {
    (void)state;
#ifndef AW_ACCESS_CHECKS
    skip();
#else
    fixture f;
    fixture_init(&f, 1);
    aw_log_set_level(AW_LOG_OFF);
    aw_entity e = aw_entity_create(f.w);
    AW_SET(f.w, e, f.pos, Pos, {1, 2});
    AW_SET(f.w, e, f.vel, Vel, {1, 2});
    sneaky s = {.target = e, .undeclared = f.vel, .seen = AW_OK};
    aw_system_register(
        f.w,
        &(aw_system_desc){.name = "sneaky", .run = sneaky_run, .reads = &f.pos, .read_count = 1, .user = &s});
    aw_world_progress(f.w, 0.0f);
    assert_int_equal(s.seen, AW_ERR_ACCESS);
    aw_world_destroy(f.w);
    /* declared read is not enough for a mutable get */
    fixture_init(&f, 1);
    e = aw_entity_create(f.w);
    AW_SET(f.w, e, f.pos, Pos, {1, 2});
    s = (sneaky){.target = e, .undeclared = f.pos, .seen = AW_OK};
    aw_system_register(
        f.w,
        &(aw_system_desc){.name = "sneaky", .run = sneaky_run, .reads = &f.pos, .read_count = 1, .user = &s});
    aw_world_progress(f.w, 0.0f);
    assert_int_equal(s.seen, AW_ERR_ACCESS);
    aw_world_destroy(f.w);
    /* iterating another query over undeclared data is refused at the first fetch */
    fixture_init(&f, 1);
    aw_log_set_level(AW_LOG_OFF);
    e = aw_entity_create(f.w);
    AW_SET(f.w, e, f.vel, Vel, {1, 2});
    sneaky_iter si = {.query = aw_query_create(f.w, &(aw_query_desc){AW_TERMS(AW_WRITE(f.vel))}),
                      .seen = AW_OK};
    aw_system_register(
        f.w, &(aw_system_desc){
                 .name = "iter", .run = sneaky_iter_run, .reads = &f.vel, .read_count = 1, .user = &si});
    aw_world_progress(f.w, 0.0f);
    assert_int_equal(si.seen, AW_ERR_ACCESS);
    aw_world_destroy(f.w);
    aw_log_set_level(AW_LOG_INFO);
    /* outside systems nothing is checked */
    assert_non_null(aw_entity_get(NULL, 0, 0) == NULL ? (void *)1 : NULL);
#endif
}

typedef struct direct_try {
    aw_status create_status;
} direct_try;

static void direct_change(aw_system_ctx *ctx) {
    direct_try *d = ctx->user;
    d->create_status = aw_entity_create(ctx->world) ? AW_OK : aw_last_status();
}

static void test_direct_changes_refused_unless_exclusive(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1);
    direct_try plain = {AW_OK}, excl = {AW_ERR_LOCKED};
    aw_system_register(f.w, &(aw_system_desc){.name = "plain", .run = direct_change, .user = &plain});
    aw_system_register(
        f.w, &(aw_system_desc){.name = "excl", .run = direct_change, .exclusive = true, .user = &excl});
    assert_int_equal(aw_world_progress(f.w, 0.0f), AW_OK);
    assert_int_equal(plain.create_status, AW_ERR_LOCKED);
    assert_int_equal(excl.create_status, AW_OK);
    assert_int_equal(aw_world_entity_count(f.w), 1);
    aw_world_destroy(f.w);
}

static void test_provisional_ids_resolve(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f, 1);
    aw_cmd_buffer *plain = aw_cmd_buffer_create(f.w);
    aw_entity real = aw_cmd_create(plain);
    assert_int_equal(aw_cmd_resolve(plain, real), real); /* plain buffers reserve real ids */
    assert_int_equal(aw_cmd_buffer_apply(plain), AW_OK);
    assert_true(aw_entity_alive(f.w, real));
    aw_cmd_buffer_destroy(plain);
    aw_world_destroy(f.w);
}

/* ---------------------------------------------------------------- steady state */

static void test_progress_allocates_nothing_in_steady_state(void **state) {
    (void)state;
    sim s = {.seed = 7};
    fixture_init(&s.f, 2);
    aw_world *w = s.f.w;
    for (int i = 0; i < 500; i++) {
        aw_entity e = aw_entity_create(w);
        AW_SET(w, e, s.f.pos, Pos, {0, 0});
        AW_SET(w, e, s.f.vel, Vel, {1, 1});
        AW_SET(w, e, s.f.life, Life, {.ticks = 1000000, .seed = (uint32_t)i});
    }
    aw_system_register(w, &(aw_system_desc){.name = "move",
                                            .query = {AW_TERMS(AW_WRITE(s.f.pos), AW_READ(s.f.vel))},
                                            .each = move_piece,
                                            .grain = 64});
    aw_system_register(w, &(aw_system_desc){.name = "age",
                                            .phase = AW_PHASE_POST_SIMULATION,
                                            .query = {AW_TERMS(AW_WRITE(s.f.life))},
                                            .each = age_piece,
                                            .grain = 64});
    for (int k = 0; k < 10; k++) assert_int_equal(aw_world_progress(w, 0.016f), AW_OK);
    aw_alloc_stats before = aw_world_alloc_stats(w);
    for (int k = 0; k < 100; k++) assert_int_equal(aw_world_progress(w, 0.016f), AW_OK);
    aw_alloc_stats d = aw_alloc_stats_diff(before, aw_world_alloc_stats(w));
    if (d.allocs || d.reallocs || d.frees)
        fail_msg("steady-state frames: %llu allocs, %llu reallocs, %llu frees", (unsigned long long)d.allocs,
                 (unsigned long long)d.reallocs, (unsigned long long)d.frees);
    aw_world_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_phases_and_constraints),
        cmocka_unit_test(test_cycles_and_unknown_names),
        cmocka_unit_test(test_bad_system_descs),
        cmocka_unit_test(test_stages_follow_conflicts),
        cmocka_unit_test(test_each_covers_every_entity_once),
        cmocka_unit_test(test_query_parallel),
        cmocka_unit_test(test_determinism_across_threads),
        cmocka_unit_test(test_access_checks),
        cmocka_unit_test(test_direct_changes_refused_unless_exclusive),
        cmocka_unit_test(test_provisional_ids_resolve),
        cmocka_unit_test(test_progress_allocates_nothing_in_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
