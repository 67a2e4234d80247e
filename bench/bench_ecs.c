/* ECS benchmark scenarios (aw-bench ecs): create, destroy, get, add/remove, iterate and the 2- and
 * 7-system updates of abeimler/ecs_benchmark, written in C against aw/ecs.h.
 *
 * Mapping to abeimler/ecs_benchmark (src/base, benchmark/benchmarks), so figures can be compared:
 *   PositionComponent{x,y}, VelocityComponent{x,y}  -> bench_position, bench_velocity (float x, y)
 *   DataComponent{thingy, dingy, mingy, rng, numgy} -> bench_data (its RNG is a per-entity xorshift32)
 *   PlayerComponent{rng, type}, HealthComponent{hp, maxhp, status}, DamageComponent{atk, def},
 *   SpriteComponent{character}                      -> bench_player, bench_health, bench_damage,
 *                                                      bench_sprite
 *   create_2c          BM_CreateEntities ("two components"): create + set Position + set Velocity
 *   create_2c_bulk     BM_CreateEntitiesInBulk: one aw_entity_create_bulk call
 *   destroy            BM_DestroyEntities: destroy entities holding Position + Velocity, in order
 *   get_1c/2c/3c       BM_UnpackOneComponent / TwoComponents / ThreeComponents: Position,
 *                      const Velocity, optional Data (every other entity has it); visited in a
 *                      seeded random order rather than creation order, so a table-order layout
 *                      cannot turn lookups into a linear scan
 *   add_remove_1c      BM_RemoveAddComponent: the same two tables ({Velocity} and
 *                      {Position, Velocity}), Position added then removed on each entity
 *   iterate_2c         the project's flecs reference: vec3 pos += vel * dt over every entity
 *   update_2_systems   BM_SystemsUpdate: MovementSystem + DataSystem, every entity has Position,
 *                      Velocity and Data
 *   update_7_systems_mixed  BM_ComplexSystemsUpdateMixedEntities: Movement, Data, MoreComplex,
 *                      Health, Damage, Sprite and Render systems, in that order, over entities
 *                      with all seven components, then the EnTT-"pathological" removal pattern of
 *                      createEntitiesWithMixedComponents (in the third quarter, every tenth entity
 *                      loses Position if i % 7 == 0, Velocity if i % 11 == 0, Data if i % 13 == 0)
 * The parallel scenarios run on worlds with .threads = 2 (the caller and one worker):
 *   iterate_2c_2t      iterate_2c through aw_query_parallel; flecs with 2 threads: 0.26 ns/entity
 *   update_2_systems_scheduled  update_2_systems as two `each` systems run by aw_world_progress
 *   schedule_100_empty_systems_us  the scheduler's own cost per frame: 100 systems with empty callbacks
 *                      and mixed declared access (flecs publishes 38 us on an Apple M4)
 *   spawn_from_workers_1M_ms  a parallel system spawning one entity per matched entity through its
 *                      per-piece command buffers, applied at the sync point
 * Deviations, each to keep a single frame representative of the steady state: Data.thingy starts
 * at a random value mod 10 (the original starts all at 0, so MoreComplexSystem fires for every
 * entity on the same frame, one frame in ten); Health.hp starts at maxhp (the original leaves it 0,
 * so every entity is dead from the first frame). Neither changes the work per system call.
 * The baselines of the single-threaded scenarios are the same per-entity code over plain arrays:
 * for iterate_2c and update_2_systems one array per component; for the mixed update the same arrays
 * plus a presence mask tested per entity, which is what a hand-written version without an ECS would
 * do. The parallel scenarios' baselines are the single-threaded ECS doing the same work in the same
 * run (so their ratio is 1 / speedup); schedule_100_empty_systems_us has none. */
#include "bench_ecs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aw/ecs.h"

#if defined(__GNUC__)
/* The kernels are shared by the ECS and the baseline; keeping them out of line makes both call
 * exactly the same machine code, so the ratio measures the storage and iteration, not inlining. */
#define BENCH_NOINLINE __attribute__((noinline))
/* Stops the compiler from moving plain-array work across the clock reads. */
#define BENCH_BARRIER() __asm__ __volatile__("" ::: "memory")
#else
#define BENCH_NOINLINE
#define BENCH_BARRIER() ((void)0)
#endif

#define FB_W        320 /* ecs_benchmark's FrameBuffer and spawn area */
#define FB_H        240
#define FRAME_DT    (1.0f / 60.0f)
#define ONE_MILLION 1000000u

/* ---------------------------------------------------------------- components */

typedef struct bench_position {
    float x, y;
} bench_position;
typedef struct bench_velocity {
    float x, y;
} bench_velocity;
typedef struct bench_data {
    double dingy;
    int32_t thingy;
    uint32_t rng; /* xorshift32 state, never 0 */
    uint32_t numgy;
    bool mingy;
} bench_data;

enum { PLAYER_NPC = 0, PLAYER_MONSTER, PLAYER_HERO };
enum { STATUS_SPAWN = 0, STATUS_DEAD, STATUS_ALIVE };

typedef struct bench_player {
    uint32_t rng;
    int32_t type;
} bench_player;
typedef struct bench_health {
    int32_t hp, maxhp, status;
} bench_health;
typedef struct bench_damage {
    int32_t atk, def;
} bench_damage;
typedef struct bench_sprite {
    char character;
} bench_sprite;
typedef struct bench_pos3 {
    float x, y, z;
} bench_pos3;
typedef struct bench_vel3 {
    float x, y, z;
} bench_vel3;

/* ---------------------------------------------------------------- per-entity system code */

static inline uint32_t xorshift32(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* Inclusive range like std::uniform_int_distribution(lo, hi); the slight modulo bias is irrelevant. */
static inline int32_t rng_range(uint32_t *state, int32_t lo, int32_t hi) {
    return lo + (int32_t)(xorshift32(state) % (uint32_t)(hi - lo + 1));
}

static inline void movement_one(bench_position *p, const bench_velocity *v, float dt) {
    p->x += v->x * dt;
    p->y += v->y * dt;
}

static inline void data_one(bench_data *d, float dt) {
    d->thingy = (d->thingy + 1) % 1000000;
    d->dingy += 0.0001 * (double)dt;
    d->mingy = !d->mingy;
    d->numgy = xorshift32(&d->rng);
}

static inline void complex_one(const bench_position *p, bench_velocity *v, bench_data *d) {
    if (d->thingy % 10 == 0) {
        if (p->x > p->y) {
            v->x = (float)rng_range(&d->rng, -5, 5);
            v->y = (float)rng_range(&d->rng, -10, 10);
        } else {
            v->x = (float)rng_range(&d->rng, -10, 10);
            v->y = (float)rng_range(&d->rng, -5, 5);
        }
    }
}

static inline void health_one(bench_health *h) {
    if (h->hp <= 0) {
        h->hp = 0;
        h->status = STATUS_DEAD;
    } else if (h->hp > h->maxhp) {
        h->hp = h->maxhp;
    } else if (h->status == STATUS_DEAD && h->hp == 0) {
        h->hp = h->maxhp;
        h->status = STATUS_SPAWN;
    } else {
        h->status = STATUS_ALIVE;
    }
}

static inline void damage_one(bench_health *h, const bench_damage *d) {
    int32_t total = d->atk - d->def;
    if (total > 0) h->hp -= total;
}

static inline void sprite_one(bench_sprite *s, const bench_player *pl, const bench_health *h) {
    char c = ' ';
    switch (h->status) {
    case STATUS_ALIVE:
        c = pl->type == PLAYER_HERO ? '@' : pl->type == PLAYER_MONSTER ? 'k' : 'h';
        break;
    case STATUS_DEAD:
        c = '|';
        break;
    case STATUS_SPAWN:
        c = '_';
        break;
    default:
        break;
    }
    s->character = c;
}

static inline void render_one(char *fb, const bench_position *p, const bench_sprite *s) {
    /* Compared as floats first: converting an out-of-range float to int is undefined. */
    if (p->x >= 0.0f && p->y >= 0.0f && p->x < (float)FB_W && p->y < (float)FB_H)
        fb[(int)p->y * FB_W + (int)p->x] = s->character;
}

/* ---------------------------------------------------------------- kernels over contiguous rows */

BENCH_NOINLINE static void move3_rows(uint32_t n, bench_pos3 *restrict p, const bench_vel3 *restrict v,
                                      float dt) {
    for (uint32_t i = 0; i < n; i++) {
        p[i].x += v[i].x * dt;
        p[i].y += v[i].y * dt;
        p[i].z += v[i].z * dt;
    }
}

BENCH_NOINLINE static void movement_rows(uint32_t n, bench_position *restrict p,
                                         const bench_velocity *restrict v, float dt) {
    for (uint32_t i = 0; i < n; i++) movement_one(&p[i], &v[i], dt);
}

BENCH_NOINLINE static void data_rows(uint32_t n, bench_data *restrict d, float dt) {
    for (uint32_t i = 0; i < n; i++) data_one(&d[i], dt);
}

BENCH_NOINLINE static void complex_rows(uint32_t n, const bench_position *restrict p,
                                        bench_velocity *restrict v, bench_data *restrict d) {
    for (uint32_t i = 0; i < n; i++) complex_one(&p[i], &v[i], &d[i]);
}

BENCH_NOINLINE static void health_rows(uint32_t n, bench_health *restrict h) {
    for (uint32_t i = 0; i < n; i++) health_one(&h[i]);
}

BENCH_NOINLINE static void damage_rows(uint32_t n, bench_health *restrict h, const bench_damage *restrict d) {
    for (uint32_t i = 0; i < n; i++) damage_one(&h[i], &d[i]);
}

BENCH_NOINLINE static void sprite_rows(uint32_t n, bench_sprite *restrict s, const bench_player *restrict pl,
                                       const bench_health *restrict h) {
    for (uint32_t i = 0; i < n; i++) sprite_one(&s[i], &pl[i], &h[i]);
}

BENCH_NOINLINE static void render_rows(uint32_t n, char *restrict fb, const bench_position *restrict p,
                                       const bench_sprite *restrict s) {
    for (uint32_t i = 0; i < n; i++) render_one(fb, &p[i], &s[i]);
}

/* ---------------------------------------------------------------- suite state */

typedef struct ecs_bench {
    aw_bench_options opt;
    double *samples;      /* opt.reps ECS samples of the running scenario */
    double *base_samples; /* opt.reps baseline samples, when the scenario has a baseline */
    bool has_baseline;
    volatile uint64_t sink; /* checksums land here so the measured work cannot be discarded */
} ecs_bench;

typedef struct scenario {
    const char *name;
    const char *unit;
    double target;      /* 0: none */
    bool target_per_1m; /* target holds for 1M entities only (totals, not per-entity figures) */
    int arg;
    aw_status (*run)(ecs_bench *b, int arg);
} scenario;

/* Every ECS component of the suite, registered in each world so ids are the same everywhere. */
typedef struct suite_world {
    aw_world *w;
    aw_component pos, vel, data, player, health, damage, sprite, pos3, vel3;
} suite_world;

/* Wraps the ECS's own message with the call that failed; copies it first because aw_error may
 * format into the very buffer aw_last_error() returns. */
static aw_status bench_fail(const char *what) {
    aw_status st = aw_last_status();
    char msg[256];
    snprintf(msg, sizeof msg, "%s", aw_last_error());
    if (st == AW_OK) st = AW_ERR_UNSUPPORTED;
    return aw_error(st, "%s failed: %s", what, msg[0] ? msg : "(no error message recorded)");
}

/* A double's bits for the checksum sink (converting a large double to an integer is undefined). */
static uint64_t bits_of(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double ms_between(uint64_t t0, uint64_t t1) {
    return (double)(t1 - t0) * 1e-6;
}

/* Arrays are 64-byte aligned like the ECS's chunks, so neither side wins on alignment alone. */
static void *array_alloc(uint32_t count, size_t size) {
    void *p = aw_alloc(NULL, (size_t)count * size, 64);
    if (!p) aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory for %u x %zu bytes", count, size);
    return p;
}

static void array_free(void *p, uint32_t count, size_t size) {
    if (p) aw_free(NULL, p, (size_t)count * size);
}

/* threads 0 is the world default (one per hardware thread); the job system only starts when a
 * scenario first runs systems or parallel queries, so single-threaded scenarios never pay for it. */
static aw_status suite_world_create_threads(suite_world *sw, uint32_t threads) {
    memset(sw, 0, sizeof *sw);
    sw->w = aw_world_create(&(aw_world_desc){.threads = threads});
    if (!sw->w) return bench_fail("aw_world_create");
    sw->pos = AW_COMPONENT(sw->w, bench_position);
    sw->vel = AW_COMPONENT(sw->w, bench_velocity);
    sw->data = AW_COMPONENT(sw->w, bench_data);
    sw->player = AW_COMPONENT(sw->w, bench_player);
    sw->health = AW_COMPONENT(sw->w, bench_health);
    sw->damage = AW_COMPONENT(sw->w, bench_damage);
    sw->sprite = AW_COMPONENT(sw->w, bench_sprite);
    sw->pos3 = AW_COMPONENT(sw->w, bench_pos3);
    sw->vel3 = AW_COMPONENT(sw->w, bench_vel3);
    if (!sw->pos || !sw->vel || !sw->data || !sw->player || !sw->health || !sw->damage || !sw->sprite ||
        !sw->pos3 || !sw->vel3) {
        aw_status st = bench_fail("aw_component_register");
        aw_world_destroy(sw->w);
        sw->w = NULL;
        return st;
    }
    return AW_OK;
}

static aw_status suite_world_create(suite_world *sw) {
    return suite_world_create_threads(sw, 0);
}

static void suite_world_destroy(suite_world *sw) {
    aw_world_destroy(sw->w);
    sw->w = NULL;
}

/* Creates `count` entities with the given components from column arrays, ids to out. */
static aw_status bulk(suite_world *sw, uint32_t count, const aw_component *comps, uint32_t ncomps,
                      const void *const *data, aw_entity *out) {
    aw_status st = aw_entity_create_bulk(sw->w, &(aw_bulk_desc){.count = count,
                                                                .components = comps,
                                                                .component_count = ncomps,
                                                                .data = data,
                                                                .out_entities = out});
    return st == AW_OK ? AW_OK : bench_fail("aw_entity_create_bulk");
}

static aw_status expect_count(const char *what, uint32_t got, uint32_t want) {
    if (got == want) return AW_OK;
    return aw_error(AW_ERR_CAPACITY, "%s: %u entities, expected %u", what, got, want);
}

/* ---------------------------------------------------------------- initial data (seeded) */

static void fill_positions(aw_rng *rng, bench_position *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        p[i].x = aw_rng_float_range(rng, 0.0f, (float)FB_W);
        p[i].y = aw_rng_float_range(rng, 0.0f, (float)FB_H);
    }
}

static void fill_velocities(aw_rng *rng, bench_velocity *v, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        v[i].x = aw_rng_float_range(rng, -1.0f, 1.0f);
        v[i].y = aw_rng_float_range(rng, -1.0f, 1.0f);
    }
}

static void fill_data(aw_rng *rng, bench_data *d, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        memset(&d[i], 0, sizeof d[i]);
        d[i].rng = aw_rng_u32(rng) | 1u;
        d[i].thingy = (int32_t)aw_rng_range(rng, 10);
    }
}

/* HeroMonsterEntityFactory::initComponents: 3% NPC, 27% hero, 70% monster, stats by type. */
static void fill_hero_monster(aw_rng *rng, bench_player *pl, bench_health *h, bench_damage *d,
                              bench_sprite *s, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        pl[i].rng = aw_rng_u32(rng) | 1u;
        int32_t roll = rng_range(&pl[i].rng, 1, 100);
        pl[i].type = roll <= 3 ? PLAYER_NPC : roll <= 30 ? PLAYER_HERO : PLAYER_MONSTER;
        switch (pl[i].type) {
        case PLAYER_HERO:
            h[i].maxhp = rng_range(&pl[i].rng, 5, 15);
            d[i].def = rng_range(&pl[i].rng, 2, 6);
            d[i].atk = rng_range(&pl[i].rng, 4, 10);
            break;
        case PLAYER_MONSTER:
            h[i].maxhp = rng_range(&pl[i].rng, 4, 12);
            d[i].def = rng_range(&pl[i].rng, 2, 8);
            d[i].atk = rng_range(&pl[i].rng, 3, 9);
            break;
        default:
            h[i].maxhp = rng_range(&pl[i].rng, 6, 12);
            d[i].def = rng_range(&pl[i].rng, 3, 8);
            d[i].atk = 0;
            break;
        }
        h[i].hp = h[i].maxhp;
        h[i].status = STATUS_SPAWN;
        s[i].character = ' ';
    }
}

static void fill_pos3(aw_rng *rng, bench_pos3 *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        p[i].x = aw_rng_float_range(rng, -100.0f, 100.0f);
        p[i].y = aw_rng_float_range(rng, -100.0f, 100.0f);
        p[i].z = aw_rng_float_range(rng, -100.0f, 100.0f);
    }
}

static void fill_vel3(aw_rng *rng, bench_vel3 *v, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        v[i].x = aw_rng_float_range(rng, -1.0f, 1.0f);
        v[i].y = aw_rng_float_range(rng, -1.0f, 1.0f);
        v[i].z = aw_rng_float_range(rng, -1.0f, 1.0f);
    }
}

static void shuffle(aw_rng *rng, aw_entity *ids, uint32_t n) {
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = aw_rng_range(rng, i);
        aw_entity t = ids[i - 1];
        ids[i - 1] = ids[j];
        ids[j] = t;
    }
}

/* ---------------------------------------------------------------- create / destroy */

static aw_status run_create_2c(ecs_bench *b, int arg) {
    (void)arg;
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    suite_world sw = {0};
    bench_position *pos = array_alloc(n, sizeof *pos);
    bench_velocity *vel = array_alloc(n, sizeof *vel);
    if (!pos || !vel) {
        st = AW_ERR_OUT_OF_MEMORY;
        goto done;
    }
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    fill_positions(&rng, pos, n);
    fill_velocities(&rng, vel, n);
    uint64_t sum = 0;
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        if ((st = suite_world_create(&sw)) != AW_OK) goto done;
        uint64_t t0 = aw_time_ns();
        for (uint32_t i = 0; i < n; i++) {
            aw_entity e = aw_entity_create(sw.w);
            if (AW_UNLIKELY(e == AW_ENTITY_NULL)) {
                st = bench_fail("aw_entity_create");
                goto done;
            }
            if (AW_UNLIKELY(aw_entity_set(sw.w, e, sw.pos, &pos[i], sizeof pos[i]) != AW_OK ||
                            aw_entity_set(sw.w, e, sw.vel, &vel[i], sizeof vel[i]) != AW_OK)) {
                st = bench_fail("aw_entity_set");
                goto done;
            }
            sum += e;
        }
        b->samples[r] = ms_between(t0, aw_time_ns());
        if ((st = expect_count("create_2c world", aw_world_entity_count(sw.w), n)) != AW_OK) goto done;
        suite_world_destroy(&sw);
    }
    b->sink = sum;
done:
    suite_world_destroy(&sw);
    array_free(pos, n, sizeof *pos);
    array_free(vel, n, sizeof *vel);
    return st;
}

static aw_status run_create_2c_bulk(ecs_bench *b, int arg) {
    (void)arg;
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    suite_world sw = {0};
    bench_position *pos = array_alloc(n, sizeof *pos);
    bench_velocity *vel = array_alloc(n, sizeof *vel);
    aw_entity *ids = array_alloc(n, sizeof *ids);
    if (!pos || !vel || !ids) {
        st = AW_ERR_OUT_OF_MEMORY;
        goto done;
    }
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    fill_positions(&rng, pos, n);
    fill_velocities(&rng, vel, n);
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        if ((st = suite_world_create(&sw)) != AW_OK) goto done;
        const aw_component comps[] = {sw.pos, sw.vel};
        const void *const cols[] = {pos, vel};
        uint64_t t0 = aw_time_ns();
        st = bulk(&sw, n, comps, 2, cols, ids);
        uint64_t t1 = aw_time_ns();
        if (st != AW_OK) goto done;
        b->samples[r] = ms_between(t0, t1);
        if ((st = expect_count("create_2c_bulk world", aw_world_entity_count(sw.w), n)) != AW_OK) goto done;
        b->sink = ids[n - 1];
        suite_world_destroy(&sw);
    }
done:
    suite_world_destroy(&sw);
    array_free(pos, n, sizeof *pos);
    array_free(vel, n, sizeof *vel);
    array_free(ids, n, sizeof *ids);
    return st;
}

static aw_status run_destroy(ecs_bench *b, int arg) {
    (void)arg;
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    suite_world sw = {0};
    aw_entity *ids = array_alloc(n, sizeof *ids);
    if (!ids) return AW_ERR_OUT_OF_MEMORY;
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        if ((st = suite_world_create(&sw)) != AW_OK) goto done;
        const aw_component comps[] = {sw.pos, sw.vel};
        if ((st = bulk(&sw, n, comps, 2, NULL, ids)) != AW_OK) goto done;
        uint64_t t0 = aw_time_ns();
        for (uint32_t i = 0; i < n; i++) {
            if (AW_UNLIKELY(aw_entity_destroy(sw.w, ids[i]) != AW_OK)) {
                st = bench_fail("aw_entity_destroy");
                goto done;
            }
        }
        b->samples[r] = ms_between(t0, aw_time_ns());
        if ((st = expect_count("destroy world", aw_world_entity_count(sw.w), 0)) != AW_OK) goto done;
        suite_world_destroy(&sw);
    }
done:
    suite_world_destroy(&sw);
    array_free(ids, n, sizeof *ids);
    return st;
}

/* ---------------------------------------------------------------- get by id */

/* One pass of lookups in the shuffled order. Pointers, not the data behind them, go into the
 * checksum, as benchmark::DoNotOptimize(ref) does: the figure is the lookup, not a cache miss on
 * the component bytes. */
static aw_status get_pass(suite_world *sw, const aw_entity *order, uint32_t n, int ncomps, uint64_t *sum) {
    uint64_t acc = 0;
    uint32_t missing = 0;
    for (uint32_t i = 0; i < n; i++) {
        aw_entity e = order[i];
        void *p = aw_entity_get(sw->w, e, sw->pos);
        missing += p == NULL;
        acc += (uintptr_t)p;
        if (ncomps >= 2) {
            const void *v = aw_entity_get_const(sw->w, e, sw->vel);
            missing += v == NULL;
            acc += (uintptr_t)v;
        }
        if (ncomps >= 3) {
            /* Data is optional; asking has() first avoids charging a failed get its error report. */
            void *d = aw_entity_has(sw->w, e, sw->data) ? aw_entity_get(sw->w, e, sw->data) : NULL;
            acc += (uintptr_t)d;
        }
    }
    *sum += acc;
    if (missing) return aw_error(AW_ERR_NOT_PRESENT, "aw_entity_get returned NULL %u times", missing);
    return AW_OK;
}

static aw_status run_get(ecs_bench *b, int ncomps) {
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    suite_world sw = {0};
    aw_entity *ids = array_alloc(n, sizeof *ids);
    if (!ids) return AW_ERR_OUT_OF_MEMORY;
    if ((st = suite_world_create(&sw)) != AW_OK) goto done;
    if (ncomps < 3) {
        const aw_component comps[] = {sw.pos, sw.vel};
        if ((st = bulk(&sw, n, comps, 2, NULL, ids)) != AW_OK) goto done;
    } else {
        /* createEntitiesWithHalfComponents: half carry Data as well. */
        uint32_t full = (n + 1) / 2;
        const aw_component comps[] = {sw.pos, sw.vel, sw.data};
        if ((st = bulk(&sw, full, comps, 3, NULL, ids)) != AW_OK) goto done;
        if (n > full && (st = bulk(&sw, n - full, comps, 2, NULL, ids + full)) != AW_OK) goto done;
    }
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    shuffle(&rng, ids, n);
    uint64_t sum = 0;
    if ((st = get_pass(&sw, ids, n, ncomps, &sum)) != AW_OK) goto done; /* warm-up */
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        uint64_t t0 = aw_time_ns();
        st = get_pass(&sw, ids, n, ncomps, &sum);
        b->samples[r] = ms_between(t0, aw_time_ns());
        if (st != AW_OK) goto done;
    }
    b->sink = sum;
    if (b->opt.verbose) fprintf(stderr, "  get_%dc checksum %016llx\n", ncomps, (unsigned long long)sum);
done:
    suite_world_destroy(&sw);
    array_free(ids, n, sizeof *ids);
    return st;
}

/* ---------------------------------------------------------------- add / remove */

static aw_status run_add_remove(ecs_bench *b, int arg) {
    (void)arg;
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    suite_world sw = {0};
    aw_entity *ids = array_alloc(n, sizeof *ids);
    if (!ids) return AW_ERR_OUT_OF_MEMORY;
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        /* A fresh world per repetition: each pass reorders table rows, and every repetition should
         * start from the layout the suite starts from. */
        if ((st = suite_world_create(&sw)) != AW_OK) goto done;
        const aw_component comps[] = {sw.vel};
        if ((st = bulk(&sw, n, comps, 1, NULL, ids)) != AW_OK) goto done;
        uint64_t t0 = aw_time_ns();
        for (uint32_t i = 0; i < n; i++) {
            if (AW_UNLIKELY(aw_entity_add(sw.w, ids[i], sw.pos) != AW_OK)) {
                st = bench_fail("aw_entity_add");
                goto done;
            }
            if (AW_UNLIKELY(aw_entity_remove(sw.w, ids[i], sw.pos) != AW_OK)) {
                st = bench_fail("aw_entity_remove");
                goto done;
            }
        }
        b->samples[r] = ms_between(t0, aw_time_ns());
        if (aw_entity_has(sw.w, ids[n / 2], sw.pos) || !aw_entity_has(sw.w, ids[n / 2], sw.vel)) {
            st = aw_error(AW_ERR_CAPACITY, "add_remove_1c: entity ended with the wrong components");
            goto done;
        }
        suite_world_destroy(&sw);
    }
done:
    suite_world_destroy(&sw);
    array_free(ids, n, sizeof *ids);
    return st;
}

/* ---------------------------------------------------------------- iterate_2c */

static aw_query *make_query(suite_world *sw, const aw_query_desc *desc, const char *what) {
    aw_query *q = aw_query_create(sw->w, desc);
    if (!q) bench_fail(what);
    return q;
}

static void ecs_move3(aw_query *q, float dt) {
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it))
        move3_rows(it.count, AW_COLUMN(&it, bench_pos3, 0), AW_COLUMN(&it, bench_vel3, 1), dt);
}

static double sum_pos3(aw_query *q) {
    double s = 0.0;
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it)) {
        const bench_pos3 *p = AW_COLUMN(&it, bench_pos3, 0);
        for (uint32_t i = 0; i < it.count; i++) s += (double)p[i].x + (double)p[i].y + (double)p[i].z;
    }
    return s;
}

static aw_status run_iterate_2c(ecs_bench *b, int arg) {
    (void)arg;
    const uint32_t n = b->opt.entities;
    /* Passes per sample, so one sample lasts ~10+ ms even though one pass over 1M is ~0.5 ms. */
    uint32_t passes = 32000000u / n;
    if (passes < 1) passes = 1;
    if (passes > 1000) passes = 1000;
    aw_status st = AW_OK;
    suite_world sw = {0};
    bench_pos3 *pos = array_alloc(n, sizeof *pos);
    bench_vel3 *vel = array_alloc(n, sizeof *vel);
    if (!pos || !vel) {
        st = AW_ERR_OUT_OF_MEMORY;
        goto done;
    }
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    fill_pos3(&rng, pos, n);
    fill_vel3(&rng, vel, n);
    if ((st = suite_world_create(&sw)) != AW_OK) goto done;
    const aw_component comps[] = {sw.pos3, sw.vel3};
    const void *const cols[] = {pos, vel};
    if ((st = bulk(&sw, n, comps, 2, cols, NULL)) != AW_OK) goto done;
    aw_query *q = make_query(
        &sw,
        &(aw_query_desc){AW_TERMS({sw.pos3, .access = AW_ACCESS_WRITE}, {sw.vel3, .access = AW_ACCESS_READ})},
        "aw_query_create(pos3, vel3)");
    if (!q) {
        st = aw_last_status();
        goto done;
    }
    if ((st = expect_count("iterate_2c query", aw_query_count(q), n)) != AW_OK) goto done;

    const double per = 1e6 / ((double)n * passes); /* ms -> ns/entity */
    ecs_move3(q, FRAME_DT);                        /* warm-up, both sides */
    move3_rows(n, pos, vel, FRAME_DT);
    /* Alternating ECS and baseline samples spreads machine noise evenly over both. */
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        uint64_t t0 = aw_time_ns();
        for (uint32_t k = 0; k < passes; k++) ecs_move3(q, FRAME_DT);
        uint64_t t1 = aw_time_ns();
        b->samples[r] = ms_between(t0, t1) * per;

        BENCH_BARRIER();
        t0 = aw_time_ns();
        BENCH_BARRIER();
        for (uint32_t k = 0; k < passes; k++) move3_rows(n, pos, vel, FRAME_DT);
        BENCH_BARRIER();
        t1 = aw_time_ns();
        b->base_samples[r] = ms_between(t0, t1) * per;
    }
    b->has_baseline = true;
    double ecs_sum = sum_pos3(q), base_sum = 0.0;
    for (uint32_t i = 0; i < n; i++) base_sum += (double)pos[i].x + (double)pos[i].y + (double)pos[i].z;
    b->sink = bits_of(ecs_sum) ^ bits_of(base_sum);
    if (b->opt.verbose)
        fprintf(stderr, "  iterate_2c: %u passes/sample, checksum ecs %.6g baseline %.6g\n", passes, ecs_sum,
                base_sum);
done:
    suite_world_destroy(&sw);
    array_free(pos, n, sizeof *pos);
    array_free(vel, n, sizeof *vel);
    return st;
}

/* ---------------------------------------------------------------- iterate_2c_2t */

/* The parallel scenarios' worlds: the caller plus one worker, which is what flecs' 2-thread
 * reference figure used and what the 2-core benchmark machines have. */
#define PAR_THREADS 2u

/* Per-thread tallies kept 64 bytes apart, so counting does not add false sharing to the figure. */
typedef struct par_slot {
    uint64_t n;
    char pad[64 - sizeof(uint64_t)];
} par_slot;

static uint64_t par_total(const par_slot *slots) {
    uint64_t t = 0;
    for (uint32_t i = 0; i < PAR_THREADS; i++) t += slots[i].n;
    return t;
}

typedef struct move3_par {
    float dt;
    par_slot rows[PAR_THREADS]; /* rows each thread moved: proves the pieces cover the query */
} move3_par;

static void move3_piece(const aw_iter *piece, uint32_t worker, void *ctx) {
    move3_par *mp = ctx;
    move3_rows(piece->count, AW_COLUMN(piece, bench_pos3, 0), AW_COLUMN(piece, bench_vel3, 1), mp->dt);
    mp->rows[worker % PAR_THREADS].n += piece->count;
}

/* Rows per piece for the parallel scenarios. Measured for iterate_2c_2t at 1M entities: 20 rounds of
 * `aw-bench ecs --reps 9` (one scenario per grain) over ~4 minutes, gcc -O3, on the 2-core EPYC
 * while other builds kept the load average at 2.8-5.3, in ns/entity:
 *   grain                                  256    1024   4096   16384
 *   median of the 20 rounds               0.95   0.73   0.89   0.68   (1 thread: 0.65)
 *   the two rounds quiet throughout       0.45   0.25   0.19   0.18   (1 thread: 0.40-0.54)
 * Pieces never cross a chunk and a 256 KiB chunk holds at most 8192 rows of Pos3 + Vel3 + id, so
 * 16384 means one piece per chunk: the fewest dispatches, and still ~125 pieces per pass to balance
 * two threads. Under load every grain does worse than one thread (a descheduled worker holds its
 * pieces), which is why the figure swings so much between runs. update_2_systems_scheduled uses the
 * same grain; its three runs at 1024, 4096 and 16384 were within noise of each other. */
#define PAR_GRAIN 16384u

static aw_status run_iterate_2c_2t(ecs_bench *b, int grain) {
    const uint32_t n = b->opt.entities;
    uint32_t passes = 32000000u / n; /* as iterate_2c: samples of ~10 ms */
    if (passes < 1) passes = 1;
    if (passes > 1000) passes = 1000;
    aw_status st = AW_OK;
    suite_world sw = {0};
    bench_pos3 *pos = array_alloc(n, sizeof *pos);
    bench_vel3 *vel = array_alloc(n, sizeof *vel);
    if (!pos || !vel) {
        st = AW_ERR_OUT_OF_MEMORY;
        goto done;
    }
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    fill_pos3(&rng, pos, n);
    fill_vel3(&rng, vel, n);
    if ((st = suite_world_create_threads(&sw, PAR_THREADS)) != AW_OK) goto done;
    const aw_component comps[] = {sw.pos3, sw.vel3};
    const void *const cols[] = {pos, vel};
    if ((st = bulk(&sw, n, comps, 2, cols, NULL)) != AW_OK) goto done;
    /* Only the world's copy is used from here on. */
    array_free(pos, n, sizeof *pos);
    array_free(vel, n, sizeof *vel);
    pos = NULL;
    vel = NULL;
    aw_query *q = make_query(
        &sw,
        &(aw_query_desc){AW_TERMS({sw.pos3, .access = AW_ACCESS_WRITE}, {sw.vel3, .access = AW_ACCESS_READ})},
        "aw_query_create(pos3, vel3)");
    if (!q) {
        st = aw_last_status();
        goto done;
    }
    if ((st = expect_count("iterate_2c_2t query", aw_query_count(q), n)) != AW_OK) goto done;

    move3_par mp;
    memset(&mp, 0, sizeof mp);
    mp.dt = FRAME_DT;
    const double per = 1e6 / ((double)n * passes);
    /* Warm-up, both sides; the first parallel call also starts the worker thread. */
    ecs_move3(q, FRAME_DT);
    if (aw_query_parallel(q, (uint32_t)grain, move3_piece, &mp) != AW_OK) {
        st = bench_fail("aw_query_parallel");
        goto done;
    }
    if ((st = expect_count("iterate_2c_2t pieces", (uint32_t)par_total(mp.rows), n)) != AW_OK) goto done;
    uint32_t refused = 0;
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        uint64_t t0 = aw_time_ns();
        for (uint32_t k = 0; k < passes; k++)
            refused += aw_query_parallel(q, (uint32_t)grain, move3_piece, &mp) != AW_OK;
        uint64_t t1 = aw_time_ns();
        b->samples[r] = ms_between(t0, t1) * per;

        t0 = aw_time_ns();
        for (uint32_t k = 0; k < passes; k++) ecs_move3(q, FRAME_DT);
        t1 = aw_time_ns();
        b->base_samples[r] = ms_between(t0, t1) * per;
    }
    if (refused) {
        st = bench_fail("aw_query_parallel");
        goto done;
    }
    uint64_t want = (uint64_t)n * (1u + (uint64_t)passes * b->opt.reps);
    if (par_total(mp.rows) != want) {
        st = aw_error(AW_ERR_CAPACITY, "iterate_2c_2t: pieces moved %llu rows, expected %llu",
                      (unsigned long long)par_total(mp.rows), (unsigned long long)want);
        goto done;
    }
    b->has_baseline = true;
    double sum = sum_pos3(q);
    b->sink = bits_of(sum);
    if (b->opt.verbose)
        fprintf(stderr,
                "  iterate_2c_2t: grain %d, %u passes/sample, rows by thread %llu/%llu, checksum %.6g\n",
                grain, passes, (unsigned long long)mp.rows[0].n, (unsigned long long)mp.rows[1].n, sum);
done:
    suite_world_destroy(&sw);
    array_free(pos, n, sizeof *pos);
    array_free(vel, n, sizeof *vel);
    return st;
}

/* ---------------------------------------------------------------- update scenarios */

/* Plain-array twin of the ECS state; `mask` is NULL when every entity has every component. */
enum { HAS_POS = 1, HAS_VEL = 2, HAS_DATA = 4 };
typedef struct plain_state {
    uint32_t n;
    bench_position *pos;
    bench_velocity *vel;
    bench_data *data;
    bench_player *player;
    bench_health *health;
    bench_damage *damage;
    bench_sprite *sprite;
    uint8_t *mask;
    char *fb;
} plain_state;

static void plain_free(plain_state *s) {
    array_free(s->pos, s->n, sizeof *s->pos);
    array_free(s->vel, s->n, sizeof *s->vel);
    array_free(s->data, s->n, sizeof *s->data);
    array_free(s->player, s->n, sizeof *s->player);
    array_free(s->health, s->n, sizeof *s->health);
    array_free(s->damage, s->n, sizeof *s->damage);
    array_free(s->sprite, s->n, sizeof *s->sprite);
    array_free(s->mask, s->n, sizeof *s->mask);
    array_free(s->fb, FB_W * FB_H, 1);
    memset(s, 0, sizeof *s);
}

/* Allocates and seeds the arrays; `seven` adds the hero/monster components, mask and frame buffer. */
static aw_status plain_init(plain_state *s, uint32_t n, uint64_t seed, bool seven) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->pos = array_alloc(n, sizeof *s->pos);
    s->vel = array_alloc(n, sizeof *s->vel);
    s->data = array_alloc(n, sizeof *s->data);
    bool ok = s->pos && s->vel && s->data;
    if (seven) {
        s->player = array_alloc(n, sizeof *s->player);
        s->health = array_alloc(n, sizeof *s->health);
        s->damage = array_alloc(n, sizeof *s->damage);
        s->sprite = array_alloc(n, sizeof *s->sprite);
        s->mask = array_alloc(n, sizeof *s->mask);
        s->fb = array_alloc(FB_W * FB_H, 1);
        ok = ok && s->player && s->health && s->damage && s->sprite && s->mask && s->fb;
    }
    if (!ok) {
        plain_free(s);
        return AW_ERR_OUT_OF_MEMORY;
    }
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    fill_positions(&rng, s->pos, n);
    fill_velocities(&rng, s->vel, n);
    fill_data(&rng, s->data, n);
    if (seven) {
        fill_hero_monster(&rng, s->player, s->health, s->damage, s->sprite, n);
        memset(s->mask, HAS_POS | HAS_VEL | HAS_DATA, n);
        memset(s->fb, ' ', FB_W * FB_H);
    }
    return AW_OK;
}

static void plain_update_2(plain_state *s, float dt) {
    movement_rows(s->n, s->pos, s->vel, dt);
    data_rows(s->n, s->data, dt);
}

/* One loop per system, as separate systems would run; each tests the mask per entity. */
static void plain_update_7(plain_state *s, float dt) {
    const uint32_t n = s->n;
    const uint8_t *m = s->mask;
    const uint8_t all = HAS_POS | HAS_VEL | HAS_DATA;
    for (uint32_t i = 0; i < n; i++)
        if ((m[i] & (HAS_POS | HAS_VEL)) == (HAS_POS | HAS_VEL)) movement_one(&s->pos[i], &s->vel[i], dt);
    for (uint32_t i = 0; i < n; i++)
        if (m[i] & HAS_DATA) data_one(&s->data[i], dt);
    for (uint32_t i = 0; i < n; i++)
        if ((m[i] & all) == all) complex_one(&s->pos[i], &s->vel[i], &s->data[i]);
    for (uint32_t i = 0; i < n; i++) health_one(&s->health[i]);
    for (uint32_t i = 0; i < n; i++) damage_one(&s->health[i], &s->damage[i]);
    for (uint32_t i = 0; i < n; i++) sprite_one(&s->sprite[i], &s->player[i], &s->health[i]);
    for (uint32_t i = 0; i < n; i++)
        if (m[i] & HAS_POS) render_one(s->fb, &s->pos[i], &s->sprite[i]);
}

/* The ECS side: one cached query per system. */
enum { Q_MOVE, Q_DATA, Q_COMPLEX, Q_HEALTH, Q_DAMAGE, Q_SPRITE, Q_RENDER, Q_COUNT };
typedef struct ecs_systems {
    aw_query *q[Q_COUNT];
    uint32_t count; /* 2 or 7 */
    char *fb;
} ecs_systems;

static aw_status systems_create(suite_world *sw, ecs_systems *sys, uint32_t count) {
    const aw_access W = AW_ACCESS_WRITE, R = AW_ACCESS_READ;
    const aw_query_desc descs[Q_COUNT] = {
        [Q_MOVE] = {AW_TERMS({sw->pos, .access = W}, {sw->vel, .access = R})},
        [Q_DATA] = {AW_TERMS({sw->data, .access = W})},
        [Q_COMPLEX] = {AW_TERMS({sw->pos, .access = R}, {sw->vel, .access = W}, {sw->data, .access = W})},
        [Q_HEALTH] = {AW_TERMS({sw->health, .access = W})},
        [Q_DAMAGE] = {AW_TERMS({sw->health, .access = W}, {sw->damage, .access = R})},
        [Q_SPRITE] = {AW_TERMS({sw->sprite, .access = W}, {sw->player, .access = R},
                               {sw->health, .access = R})},
        [Q_RENDER] = {AW_TERMS({sw->pos, .access = R}, {sw->sprite, .access = R})},
    };
    static const char *const names[Q_COUNT] = {"movement", "data",   "complex", "health",
                                               "damage",   "sprite", "render"};
    memset(sys, 0, sizeof *sys);
    sys->count = count;
    /* The 2-system update runs Movement and Data, which are the first two entries. */
    for (uint32_t i = 0; i < count; i++) {
        sys->q[i] = aw_query_create(sw->w, &descs[i]);
        if (!sys->q[i]) {
            char what[64];
            snprintf(what, sizeof what, "aw_query_create(%s)", names[i]);
            return bench_fail(what);
        }
    }
    return AW_OK;
}

static void ecs_update(ecs_systems *sys, float dt) {
    aw_iter it;
    it = aw_query_iter(sys->q[Q_MOVE]);
    while (aw_iter_next(&it))
        movement_rows(it.count, AW_COLUMN(&it, bench_position, 0), AW_COLUMN(&it, bench_velocity, 1), dt);
    it = aw_query_iter(sys->q[Q_DATA]);
    while (aw_iter_next(&it)) data_rows(it.count, AW_COLUMN(&it, bench_data, 0), dt);
    if (sys->count == 2) return;
    it = aw_query_iter(sys->q[Q_COMPLEX]);
    while (aw_iter_next(&it))
        complex_rows(it.count, AW_COLUMN(&it, bench_position, 0), AW_COLUMN(&it, bench_velocity, 1),
                     AW_COLUMN(&it, bench_data, 2));
    it = aw_query_iter(sys->q[Q_HEALTH]);
    while (aw_iter_next(&it)) health_rows(it.count, AW_COLUMN(&it, bench_health, 0));
    it = aw_query_iter(sys->q[Q_DAMAGE]);
    while (aw_iter_next(&it))
        damage_rows(it.count, AW_COLUMN(&it, bench_health, 0), AW_COLUMN(&it, bench_damage, 1));
    it = aw_query_iter(sys->q[Q_SPRITE]);
    while (aw_iter_next(&it))
        sprite_rows(it.count, AW_COLUMN(&it, bench_sprite, 0), AW_COLUMN(&it, bench_player, 1),
                    AW_COLUMN(&it, bench_health, 2));
    it = aw_query_iter(sys->q[Q_RENDER]);
    while (aw_iter_next(&it))
        render_rows(it.count, sys->fb, AW_COLUMN(&it, bench_position, 0), AW_COLUMN(&it, bench_sprite, 1));
}

/* Checksums that must agree between the ECS and the baseline after the same number of frames:
 * integer state exactly, positions up to summation order. */
typedef struct state_sum {
    double pos;
    uint64_t ints;
} state_sum;

static void sum_ints(state_sum *s, const bench_data *d, const bench_health *h, const bench_sprite *sp) {
    if (d) s->ints += (uint64_t)(uint32_t)d->thingy * 31u + d->numgy + (uint64_t)d->mingy;
    if (h) s->ints += (uint64_t)(uint32_t)h->hp * 7u + (uint64_t)(uint32_t)h->status;
    if (sp) s->ints += (uint64_t)(unsigned char)sp->character;
}

static state_sum ecs_state_sum(ecs_systems *sys) {
    state_sum s = {0};
    aw_iter it = aw_query_iter(sys->q[Q_MOVE]);
    while (aw_iter_next(&it)) {
        const bench_position *p = AW_COLUMN(&it, bench_position, 0);
        for (uint32_t i = 0; i < it.count; i++) s.pos += (double)p[i].x + (double)p[i].y;
    }
    it = aw_query_iter(sys->q[Q_DATA]);
    while (aw_iter_next(&it)) {
        const bench_data *d = AW_COLUMN(&it, bench_data, 0);
        for (uint32_t i = 0; i < it.count; i++) sum_ints(&s, &d[i], NULL, NULL);
    }
    if (sys->count == 7) {
        it = aw_query_iter(sys->q[Q_SPRITE]);
        while (aw_iter_next(&it)) {
            const bench_sprite *sp = AW_COLUMN(&it, bench_sprite, 0);
            const bench_health *h = AW_COLUMN(&it, bench_health, 2);
            for (uint32_t i = 0; i < it.count; i++) sum_ints(&s, NULL, &h[i], &sp[i]);
        }
    }
    return s;
}

static state_sum plain_state_sum(const plain_state *ps, bool seven) {
    state_sum s = {0};
    for (uint32_t i = 0; i < ps->n; i++) {
        uint8_t m = ps->mask ? ps->mask[i] : (uint8_t)(HAS_POS | HAS_VEL | HAS_DATA);
        if ((m & (HAS_POS | HAS_VEL)) == (HAS_POS | HAS_VEL))
            s.pos += (double)ps->pos[i].x + (double)ps->pos[i].y;
        if (m & HAS_DATA) sum_ints(&s, &ps->data[i], NULL, NULL);
        if (seven) sum_ints(&s, NULL, &ps->health[i], &ps->sprite[i]);
    }
    return s;
}

static aw_status run_update(ecs_bench *b, int nsystems) {
    const uint32_t n = b->opt.entities;
    const bool seven = nsystems == 7;
    aw_status st = AW_OK;
    suite_world sw = {0};
    plain_state ps = {0};
    ecs_systems sys = {0};
    aw_entity *ids = NULL;
    if ((st = plain_init(&ps, n, b->opt.seed, seven)) != AW_OK) goto done;
    if ((st = suite_world_create(&sw)) != AW_OK) goto done;
    ids = array_alloc(n, sizeof *ids);
    if (!ids) {
        st = AW_ERR_OUT_OF_MEMORY;
        goto done;
    }
    /* The ECS starts from a copy of the very arrays the baseline then keeps working on. */
    if (seven) {
        const aw_component comps[] = {sw.pos, sw.vel, sw.data, sw.player, sw.health, sw.damage, sw.sprite};
        const void *const cols[] = {ps.pos, ps.vel, ps.data, ps.player, ps.health, ps.damage, ps.sprite};
        if ((st = bulk(&sw, n, comps, 7, cols, ids)) != AW_OK) goto done;
        /* createEntitiesWithMixedComponents (after EnTT's "pathological" benchmark). */
        for (uint32_t i = 0, j = 0; i < n; i++) {
            if (n < 100 || (i >= 2 * (uint64_t)n / 4 && i <= 3 * (uint64_t)n / 4)) {
                if (n < 100 || j % 10 == 0) {
                    static const uint32_t every[3] = {7, 11, 13};
                    const aw_component which[3] = {sw.pos, sw.vel, sw.data};
                    for (int k = 0; k < 3; k++) {
                        if (i % every[k] != 0) continue;
                        if (aw_entity_remove(sw.w, ids[i], which[k]) != AW_OK) {
                            st = bench_fail("aw_entity_remove");
                            goto done;
                        }
                        ps.mask[i] &= (uint8_t) ~(1u << k);
                    }
                }
                j++;
            }
        }
    } else {
        const aw_component comps[] = {sw.pos, sw.vel, sw.data};
        const void *const cols[] = {ps.pos, ps.vel, ps.data};
        if ((st = bulk(&sw, n, comps, 3, cols, ids)) != AW_OK) goto done;
    }
    if ((st = systems_create(&sw, &sys, seven ? 7 : 2)) != AW_OK) goto done;
    if (seven) {
        sys.fb = array_alloc(FB_W * FB_H, 1);
        if (!sys.fb) {
            st = AW_ERR_OUT_OF_MEMORY;
            goto done;
        }
        memset(sys.fb, ' ', FB_W * FB_H);
    }
    /* Each query must match exactly what the mask says; a wrong count would make the figure lie. */
    uint32_t want_move = 0, want_data = 0, want_complex = 0, want_render = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t m = seven ? ps.mask[i] : (uint8_t)(HAS_POS | HAS_VEL | HAS_DATA);
        want_move += (m & (HAS_POS | HAS_VEL)) == (HAS_POS | HAS_VEL);
        want_data += (m & HAS_DATA) != 0;
        want_complex += m == (HAS_POS | HAS_VEL | HAS_DATA);
        want_render += (m & HAS_POS) != 0;
    }
    if ((st = expect_count("movement query", aw_query_count(sys.q[Q_MOVE]), want_move)) != AW_OK) goto done;
    if ((st = expect_count("data query", aw_query_count(sys.q[Q_DATA]), want_data)) != AW_OK) goto done;
    if (seven) {
        if ((st = expect_count("complex query", aw_query_count(sys.q[Q_COMPLEX]), want_complex)) != AW_OK ||
            (st = expect_count("health query", aw_query_count(sys.q[Q_HEALTH]), n)) != AW_OK ||
            (st = expect_count("damage query", aw_query_count(sys.q[Q_DAMAGE]), n)) != AW_OK ||
            (st = expect_count("sprite query", aw_query_count(sys.q[Q_SPRITE]), n)) != AW_OK ||
            (st = expect_count("render query", aw_query_count(sys.q[Q_RENDER]), want_render)) != AW_OK)
            goto done;
    }

    ecs_update(&sys, FRAME_DT); /* warm-up frame, both sides, so the frame counts stay equal */
    if (seven)
        plain_update_7(&ps, FRAME_DT);
    else
        plain_update_2(&ps, FRAME_DT);
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        uint64_t t0 = aw_time_ns();
        ecs_update(&sys, FRAME_DT);
        uint64_t t1 = aw_time_ns();
        b->samples[r] = ms_between(t0, t1);

        BENCH_BARRIER();
        t0 = aw_time_ns();
        BENCH_BARRIER();
        if (seven)
            plain_update_7(&ps, FRAME_DT);
        else
            plain_update_2(&ps, FRAME_DT);
        BENCH_BARRIER();
        t1 = aw_time_ns();
        b->base_samples[r] = ms_between(t0, t1);
    }
    b->has_baseline = true;
    state_sum es = ecs_state_sum(&sys), bs = plain_state_sum(&ps, seven);
    b->sink = es.ints + bs.ints + (bits_of(es.pos) ^ bits_of(bs.pos)) +
              (seven ? (uint64_t)(unsigned char)sys.fb[0] : 0u);
    if (b->opt.verbose)
        fprintf(stderr, "  update_%d: checksum ecs %.6g/%016llx baseline %.6g/%016llx (%s)\n", nsystems,
                es.pos, (unsigned long long)es.ints, bs.pos, (unsigned long long)bs.ints,
                es.ints == bs.ints ? "integer state matches" : "INTEGER STATE DIFFERS");
done:
    if (sys.fb) array_free(sys.fb, FB_W * FB_H, 1);
    suite_world_destroy(&sw); /* frees the queries with it */
    plain_free(&ps);
    array_free(ids, n, sizeof *ids);
    return st;
}

/* ---------------------------------------------------------------- systems and the scheduler */

static void movement_each(aw_system_ctx *ctx, const aw_iter *piece) {
    movement_rows(piece->count, AW_COLUMN(piece, bench_position, 0), AW_COLUMN(piece, bench_velocity, 1),
                  ctx->dt);
}

static void data_each(aw_system_ctx *ctx, const aw_iter *piece) {
    data_rows(piece->count, AW_COLUMN(piece, bench_data, 0), ctx->dt);
}

/* Lines of aw_world_describe_schedule are "stage K: name (...)": counts stages and the largest one. */
static aw_status schedule_shape(aw_world *w, uint32_t *stages, uint32_t *widest) {
    size_t len = aw_world_describe_schedule(w, NULL, 0);
    if (len == 0) return bench_fail("aw_world_describe_schedule");
    char *text = aw_alloc(NULL, len + 1, 1);
    if (!text) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory for the schedule text");
    aw_world_describe_schedule(w, text, len + 1);
    *stages = 0;
    *widest = 0;
    uint32_t run = 0;
    long prev = -1;
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        long k = -1;
        if (sscanf(line, "stage %ld:", &k) != 1) continue;
        if (k != prev) {
            (*stages)++;
            run = 0;
            prev = k;
        }
        if (++run > *widest) *widest = run;
    }
    aw_free(NULL, text, len + 1);
    return AW_OK;
}

/* update_2_systems through the scheduler: the same two kernels as `each` systems. Movement writes
 * Position and Data writes Data, so they share a stage and run concurrently, each split into
 * pieces of `grain` rows. The baseline is update_2_systems' sequential query loop on the same
 * world, alternated with it; a plain-array twin, untimed, runs as many frames and must end with
 * the same integer state, which shows the scheduled systems did all the work. */
static aw_status run_update_scheduled(ecs_bench *b, int grain) {
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    suite_world sw = {0};
    plain_state ps = {0};
    ecs_systems sys = {0};
    if ((st = plain_init(&ps, n, b->opt.seed, false)) != AW_OK) goto done;
    if ((st = suite_world_create_threads(&sw, PAR_THREADS)) != AW_OK) goto done;
    const aw_component comps[] = {sw.pos, sw.vel, sw.data};
    const void *const cols[] = {ps.pos, ps.vel, ps.data};
    if ((st = bulk(&sw, n, comps, 3, cols, NULL)) != AW_OK) goto done;
    if ((st = systems_create(&sw, &sys, 2)) != AW_OK) goto done;
    if ((st = expect_count("movement query", aw_query_count(sys.q[Q_MOVE]), n)) != AW_OK ||
        (st = expect_count("data query", aw_query_count(sys.q[Q_DATA]), n)) != AW_OK)
        goto done;
    const aw_access W = AW_ACCESS_WRITE, R = AW_ACCESS_READ;
    if (!aw_system_register(
            sw.w, &(aw_system_desc){.name = "MovementSystem",
                                    .query = {AW_TERMS({sw.pos, .access = W}, {sw.vel, .access = R})},
                                    .each = movement_each,
                                    .grain = (uint32_t)grain}) ||
        !aw_system_register(sw.w, &(aw_system_desc){.name = "DataSystem",
                                                    .query = {AW_TERMS({sw.data, .access = W})},
                                                    .each = data_each,
                                                    .grain = (uint32_t)grain})) {
        st = bench_fail("aw_system_register");
        goto done;
    }
    uint32_t stages = 0, widest = 0;
    if ((st = schedule_shape(sw.w, &stages, &widest)) != AW_OK) goto done;

    /* Warm-up: builds the schedule and pieces and starts the worker; the twin keeps pace. */
    if (aw_world_progress(sw.w, FRAME_DT) != AW_OK) {
        st = bench_fail("aw_world_progress");
        goto done;
    }
    ecs_update(&sys, FRAME_DT);
    plain_update_2(&ps, FRAME_DT);
    plain_update_2(&ps, FRAME_DT);
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        uint64_t t0 = aw_time_ns();
        aw_status pst = aw_world_progress(sw.w, FRAME_DT);
        uint64_t t1 = aw_time_ns();
        if (pst != AW_OK) {
            st = bench_fail("aw_world_progress");
            goto done;
        }
        b->samples[r] = ms_between(t0, t1);

        t0 = aw_time_ns();
        ecs_update(&sys, FRAME_DT);
        t1 = aw_time_ns();
        b->base_samples[r] = ms_between(t0, t1);
        plain_update_2(&ps, FRAME_DT);
        plain_update_2(&ps, FRAME_DT);
    }
    b->has_baseline = true;
    state_sum es = ecs_state_sum(&sys), bs = plain_state_sum(&ps, false);
    b->sink = es.ints + (bits_of(es.pos) ^ bits_of(bs.pos));
    if (b->opt.verbose)
        fprintf(stderr,
                "  update_2_systems_scheduled: grain %d, %u stage(s), widest %u; checksum ecs %.6g/%016llx "
                "twin %.6g/%016llx\n",
                grain, stages, widest, es.pos, (unsigned long long)es.ints, bs.pos,
                (unsigned long long)bs.ints);
    if (es.ints != bs.ints)
        st = aw_error(AW_ERR_CAPACITY,
                      "update_2_systems_scheduled: integer state differs from the plain twin");
done:
    suite_world_destroy(&sw);
    plain_free(&ps);
    return st;
}

/* schedule_100_empty_systems_us: the scheduler's own cost per frame. Ten components; each system
 * reads two and writes one, drawn from the seeded RNG, so some systems share a stage and others
 * must wait (the verbose line gives the stage count). Each callback only bumps its own counter,
 * which proves every system ran every frame. */
#define SCHED_SYSTEMS    100u
#define SCHED_COMPONENTS 10u
#define SCHED_FRAMES     10000u /* frames per sample; the sample is their median */
#define SCHED_WARMUP     1000u

static void counting_system(aw_system_ctx *ctx) {
    ((par_slot *)ctx->user)->n++;
}

static aw_status run_schedule_empty(ecs_bench *b, int arg) {
    (void)arg;
    aw_status st = AW_OK;
    suite_world sw = {0};
    par_slot *runs = array_alloc(SCHED_SYSTEMS, sizeof *runs);
    double *frame_us = array_alloc(SCHED_FRAMES, sizeof *frame_us);
    if (!runs || !frame_us) {
        st = AW_ERR_OUT_OF_MEMORY;
        goto done;
    }
    memset(runs, 0, SCHED_SYSTEMS * sizeof *runs);
    if ((st = suite_world_create_threads(&sw, PAR_THREADS)) != AW_OK) goto done;
    aw_component c[SCHED_COMPONENTS];
    for (uint32_t i = 0; i < SCHED_COMPONENTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "sched_component_%u", i);
        if (!(c[i] = aw_component_register(sw.w,
                                           &(aw_component_desc){.name = name, .size = sizeof(uint32_t)}))) {
            st = bench_fail("aw_component_register");
            goto done;
        }
    }
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    for (uint32_t i = 0; i < SCHED_SYSTEMS; i++) {
        uint32_t wr = aw_rng_range(&rng, SCHED_COMPONENTS), r0, r1;
        do r0 = aw_rng_range(&rng, SCHED_COMPONENTS);
        while (r0 == wr);
        do r1 = aw_rng_range(&rng, SCHED_COMPONENTS);
        while (r1 == wr || r1 == r0);
        const aw_component reads[2] = {c[r0], c[r1]}, writes[1] = {c[wr]};
        char name[32];
        snprintf(name, sizeof name, "empty_%u", i);
        if (!aw_system_register(sw.w, &(aw_system_desc){.name = name,
                                                        .run = counting_system,
                                                        .reads = reads,
                                                        .read_count = 2,
                                                        .writes = writes,
                                                        .write_count = 1,
                                                        .user = &runs[i]})) {
            st = bench_fail("aw_system_register");
            goto done;
        }
    }
    /* Conflicting systems with no before/after between them are the point here (registration order
     * decides), so the scheduler's warning about each such pair is muted while it builds. */
    uint32_t stages = 0, widest = 0;
    aw_log_level level = aw_log_get_level();
    aw_log_set_level(AW_LOG_ERROR);
    st = schedule_shape(sw.w, &stages, &widest);
    aw_log_set_level(level);
    if (st != AW_OK) goto done;
    if (stages < 2 || widest < 2) {
        st = aw_error(AW_ERR_CAPACITY,
                      "schedule_100_empty_systems_us: %u stages, widest %u: no mix of shared and "
                      "separate stages",
                      stages, widest);
        goto done;
    }
    for (uint32_t f = 0; f < SCHED_WARMUP; f++) {
        if (aw_world_progress(sw.w, FRAME_DT) != AW_OK) {
            st = bench_fail("aw_world_progress");
            goto done;
        }
    }
    /* Whether the worker took part (steals) or slept explains most of this figure's swings. */
    const aw_jobs_stats js0 = aw_jobs_get_stats(aw_world_jobs(sw.w));
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        for (uint32_t f = 0; f < SCHED_FRAMES; f++) {
            uint64_t t0 = aw_time_ns();
            aw_status pst = aw_world_progress(sw.w, FRAME_DT);
            uint64_t t1 = aw_time_ns();
            if (AW_UNLIKELY(pst != AW_OK)) {
                st = bench_fail("aw_world_progress");
                goto done;
            }
            frame_us[f] = (double)(t1 - t0) * 1e-3;
        }
        b->samples[r] = aw_bench_median(frame_us, SCHED_FRAMES);
    }
    const aw_jobs_stats js1 = aw_jobs_get_stats(aw_world_jobs(sw.w));
    const uint64_t want = SCHED_WARMUP + (uint64_t)SCHED_FRAMES * b->opt.reps;
    for (uint32_t i = 0; i < SCHED_SYSTEMS; i++) {
        if (runs[i].n != want) {
            st = aw_error(AW_ERR_CAPACITY,
                          "schedule_100_empty_systems_us: system %u ran %llu times, expected %llu", i,
                          (unsigned long long)runs[i].n, (unsigned long long)want);
            goto done;
        }
    }
    b->sink = runs[0].n;
    if (b->opt.verbose) {
        const double frames = (double)SCHED_FRAMES * b->opt.reps;
        fprintf(stderr,
                "  schedule_100_empty_systems_us: %u systems in %u stages (widest %u), %u frames/sample; per "
                "frame "
                "%.1f jobs, %.1f steals, %.2f worker sleeps\n",
                SCHED_SYSTEMS, stages, widest, SCHED_FRAMES, (double)(js1.jobs_run - js0.jobs_run) / frames,
                (double)(js1.steals - js0.steals) / frames, (double)(js1.sleeps - js0.sleeps) / frames);
    }
done:
    suite_world_destroy(&sw);
    array_free(runs, SCHED_SYSTEMS, sizeof *runs);
    array_free(frame_us, SCHED_FRAMES, sizeof *frame_us);
    return st;
}

/* spawn_from_workers_1M_ms: a parallel system over n entities (Pos3) records, per entity, one
 * aw_cmd_create and one aw_cmd_set of a Position on the new entity, in its piece's command buffer
 * (provisional ids). One aw_world_progress is timed: the parallel recording plus the sync point
 * that applies every buffer, piece by piece, creating the n entities. The baseline makes the
 * same n entities with aw_entity_create + aw_entity_set in a loop, in a world holding the same n
 * source entities. Fresh worlds every repetition, the worker thread and the schedule made before
 * the clock starts; the buffers' first growth is part of the figure, as in a real first spawn. */
typedef struct spawn_run {
    aw_component pos;
    par_slot failures[PAR_THREADS];
} spawn_run;

static void spawn_each(aw_system_ctx *ctx, const aw_iter *piece) {
    spawn_run *sr = ctx->user;
    const bench_pos3 *p = AW_COLUMN(piece, bench_pos3, 0);
    uint32_t failed = 0;
    for (uint32_t i = 0; i < piece->count; i++) {
        const bench_position v = {p[i].x, p[i].y};
        aw_entity e = aw_cmd_create(ctx->commands);
        failed += e == AW_ENTITY_NULL || aw_cmd_set(ctx->commands, e, sr->pos, &v, sizeof v) != AW_OK;
    }
    sr->failures[ctx->worker % PAR_THREADS].n += failed;
}

/* Order-free checksum of Positions: the float bits, summed. */
static uint64_t position_bits(const bench_position *p) {
    uint32_t x, y;
    memcpy(&x, &p->x, sizeof x);
    memcpy(&y, &p->y, sizeof y);
    return (uint64_t)x + y;
}

static aw_status check_spawned(suite_world *sw, uint32_t n, uint64_t want_bits, const char *what) {
    aw_status st = expect_count(what, aw_world_entity_count(sw->w), 2 * n);
    if (st) return st;
    aw_query *q = make_query(sw, &(aw_query_desc){AW_TERMS({sw->pos, .access = AW_ACCESS_READ})}, what);
    if (!q) return aw_last_status();
    if ((st = expect_count(what, aw_query_count(q), n)) != AW_OK) return st;
    uint64_t bits = 0;
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it)) {
        const bench_position *p = AW_COLUMN(&it, bench_position, 0);
        for (uint32_t i = 0; i < it.count; i++) bits += position_bits(&p[i]);
    }
    aw_query_destroy(q);
    if (bits != want_bits)
        return aw_error(AW_ERR_CAPACITY, "%s: spawned Positions differ from the sources", what);
    return AW_OK;
}

static aw_status run_spawn_from_workers(ecs_bench *b, int arg) {
    (void)arg;
    const uint32_t n = b->opt.entities;
    aw_status st = AW_OK;
    suite_world sw = {0};
    bench_pos3 *src = array_alloc(n, sizeof *src);
    if (!src) return AW_ERR_OUT_OF_MEMORY;
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    fill_pos3(&rng, src, n);
    uint64_t want_bits = 0;
    for (uint32_t i = 0; i < n; i++) want_bits += position_bits(&(bench_position){src[i].x, src[i].y});
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        /* The parallel spawn. */
        if ((st = suite_world_create_threads(&sw, PAR_THREADS)) != AW_OK) goto done;
        const aw_component comps[] = {sw.pos3};
        const void *const cols[] = {src};
        if ((st = bulk(&sw, n, comps, 1, cols, NULL)) != AW_OK) goto done;
        spawn_run sr;
        memset(&sr, 0, sizeof sr);
        sr.pos = sw.pos;
        const aw_component writes[] = {sw.pos};
        if (!aw_system_register(sw.w,
                                &(aw_system_desc){.name = "spawner",
                                                  .query = {AW_TERMS({sw.pos3, .access = AW_ACCESS_READ})},
                                                  .each = spawn_each,
                                                  .writes = writes,
                                                  .write_count = 1,
                                                  .user = &sr})) {
            st = bench_fail("aw_system_register");
            goto done;
        }
        if (!aw_world_jobs(sw.w) || aw_world_describe_schedule(sw.w, NULL, 0) == 0) {
            st = bench_fail("aw_world_jobs / schedule");
            goto done;
        }
        uint64_t t0 = aw_time_ns();
        aw_status pst = aw_world_progress(sw.w, FRAME_DT);
        uint64_t t1 = aw_time_ns();
        if (pst != AW_OK) {
            st = bench_fail("aw_world_progress");
            goto done;
        }
        b->samples[r] = ms_between(t0, t1);
        if (par_total(sr.failures)) {
            st = aw_error(AW_ERR_CAPACITY, "spawn_from_workers: %llu commands could not be recorded",
                          (unsigned long long)par_total(sr.failures));
            goto done;
        }
        if ((st = check_spawned(&sw, n, want_bits, "spawn_from_workers world")) != AW_OK) goto done;
        suite_world_destroy(&sw);

        /* The sequential baseline. */
        if ((st = suite_world_create_threads(&sw, PAR_THREADS)) != AW_OK) goto done;
        if ((st = bulk(&sw, n, comps, 1, cols, NULL)) != AW_OK) goto done;
        t0 = aw_time_ns();
        for (uint32_t i = 0; i < n; i++) {
            const bench_position v = {src[i].x, src[i].y};
            aw_entity e = aw_entity_create(sw.w);
            if (AW_UNLIKELY(e == AW_ENTITY_NULL || aw_entity_set(sw.w, e, sw.pos, &v, sizeof v) != AW_OK)) {
                st = bench_fail("aw_entity_create / aw_entity_set");
                goto done;
            }
        }
        t1 = aw_time_ns();
        b->base_samples[r] = ms_between(t0, t1);
        if ((st = check_spawned(&sw, n, want_bits, "spawn_from_workers baseline world")) != AW_OK) goto done;
        suite_world_destroy(&sw);
    }
    b->has_baseline = true;
    b->sink = want_bits;
done:
    suite_world_destroy(&sw);
    array_free(src, n, sizeof *src);
    return st;
}

/* ---------------------------------------------------------------- runner */

static const scenario scenarios[] = {
    {"create_2c", "ms", 60.0, true, 0, run_create_2c},
    {"create_2c_bulk", "ms", 25.0, true, 0, run_create_2c_bulk},
    {"destroy", "ms", 0.0, false, 0, run_destroy},
    {"get_1c", "ms", 0.0, false, 1, run_get},
    {"get_2c", "ms", 0.0, false, 2, run_get},
    {"get_3c", "ms", 0.0, false, 3, run_get},
    {"add_remove_1c", "ms", 30.0, true, 0, run_add_remove},
    {"iterate_2c", "ns/entity", 0.55, false, 0, run_iterate_2c},
    {"iterate_2c_2t", "ns/entity", 0.0, false, PAR_GRAIN, run_iterate_2c_2t},
    {"update_2_systems", "ms", 0.0, false, 2, run_update},
    {"update_2_systems_scheduled", "ms", 0.0, false, PAR_GRAIN, run_update_scheduled},
    {"update_7_systems_mixed", "ms", 0.0, false, 7, run_update},
    {"schedule_100_empty_systems_us", "us", 10.0, false, 0, run_schedule_empty},
    {"spawn_from_workers_1M_ms", "ms", 0.0, false, 0, run_spawn_from_workers},
};

aw_status aw_bench_ecs_run(const aw_bench_options *options, aw_bench_report *report) {
    if (!report) return aw_error(AW_ERR_INVALID_ARG, "bench: report is required");
    ecs_bench b;
    memset(&b, 0, sizeof b);
    b.opt = aw_bench_options_resolve(options);
    b.samples = array_alloc(b.opt.reps, sizeof(double));
    b.base_samples = array_alloc(b.opt.reps, sizeof(double));
    if (!b.samples || !b.base_samples) {
        array_free(b.samples, b.opt.reps, sizeof(double));
        array_free(b.base_samples, b.opt.reps, sizeof(double));
        return AW_ERR_OUT_OF_MEMORY;
    }
    aw_status result = AW_OK;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        const scenario *sc = &scenarios[i];
        if (!aw_bench_selected(&b.opt, sc->name)) continue;
        if (b.opt.verbose)
            fprintf(stderr, "ecs: %s (%u entities, %u reps)\n", sc->name, b.opt.entities, b.opt.reps);
        b.has_baseline = false;
        aw_clear_error();
        aw_status st = sc->run(&b, sc->arg);
        if (st != AW_OK) {
            fprintf(stderr, "aw-bench: ecs/%s failed: %s (%s)\n", sc->name, aw_last_error(),
                    aw_status_str(st));
            aw_bench_report_fail(report);
            continue;
        }
        bool target_applies = sc->target > 0.0 && (!sc->target_per_1m || b.opt.entities == ONE_MILLION);
        aw_bench_entry entry = {
            .suite = "ecs",
            .name = sc->name,
            .unit = sc->unit,
            .samples = b.samples,
            .sample_count = b.opt.reps,
            .baseline_samples = b.has_baseline ? b.base_samples : NULL,
            .baseline_count = b.has_baseline ? b.opt.reps : 0,
            .target = target_applies ? sc->target : 0.0,
        };
        if ((st = aw_bench_report_add(report, &entry)) != AW_OK) {
            result = st;
            break;
        }
    }
    if (b.opt.verbose) fprintf(stderr, "ecs: sink %016llx\n", (unsigned long long)b.sink);
    array_free(b.samples, b.opt.reps, sizeof(double));
    array_free(b.base_samples, b.opt.reps, sizeof(double));
    return result;
}
