/* The seed-profile scenario: a port of the Rust engine's Week-8 profiling demo (the roadmap's
 * 2.70 ms baseline at 1,000 entities), so our frame times compare with its figures.
 *
 * Axes: the demo moves entities in its x-y plane with z as a layer index; our ground plane is
 * x-z (y up, the plane the physics grid spans). The demo's (a, b, c) is stored as (a, c, b), so
 * every distance, collision and wrap is the demo's, and the flat grid sees the plane of motion. */
#include "aw/physics.h"
#include "aw/profile.h"
#include "aw/stress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { AGENT_IDLE = 0, AGENT_MOVING, AGENT_ATTACKING };

typedef struct AIAgent {
    uint32_t state;
} AIAgent;

typedef struct Renderable {
    uint32_t mesh_id;
} Renderable;

#define MAX_WORKERS    256u
#define WRAP           64.0f
#define BODY_RADIUS    0.5f /* pairs closer than 1.0 collide */
#define PLAN_EVALS     100u /* sqrt evaluations of one plan */
#define PLAN_EVERY     10u  /* every 10th agent plans; the rest hit the plan cache */
#define MESH1_VERTICES 36u
#define MESH2_VERTICES 64u

/* Per-worker tallies, one cache line each: pieces on different threads never share a line. */
typedef struct worker_tally {
    _Alignas(64) double perception;
    double plan_cost;
    uint64_t agents, plans, draw_calls, vertices;
} worker_tally;

typedef struct seed_state {
    aw_physics *physics;
    uint32_t workers;
    worker_tally tally[MAX_WORKERS];
} seed_state;

static worker_tally *tally_of(const aw_system_ctx *ctx) {
    seed_state *s = ctx->user;
    return &s->tally[ctx->worker < s->workers ? ctx->worker : 0];
}

/* ai_perception: one sin() per agent (the demo's stand-in for sensing). */
/* Each parallel piece is a profiler zone too, so the trace shows which thread ran which piece. */

#if defined(__x86_64__) && defined(__GLIBC__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SEED_HAVE_VECTOR_SIN 1
/* glibc's vector math library (libmvec, part of libc): sinf on eight floats, AVX2 variant. */
__attribute__((target("avx2"))) __m256 _ZGVdN8v_sinf(__m256 x);

/* Eight agents per call of the vector sinf: the same sin() per agent, not one libm call each.
 * Returns the agents done and adds their sines to *sum. */
__attribute__((target("avx2"))) static uint32_t perception_avx2(const aw_position *p, uint32_t n, float *sum) {
    const __m256i px = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    const __m256 kx = _mm256_set1_ps(0.1f), kz = _mm256_set1_ps(0.05f);
    __m256 acc = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float *f = &p[i].x;
        __m256 x = _mm256_i32gather_ps(f, px, 4), z = _mm256_i32gather_ps(f + 2, px, 4);
        acc = _mm256_add_ps(acc, _ZGVdN8v_sinf(_mm256_add_ps(_mm256_mul_ps(x, kx), _mm256_mul_ps(z, kz))));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    for (int k = 0; k < 8; k++) *sum += lanes[k];
    return i;
}
#else
#define SEED_HAVE_VECTOR_SIN 0
#endif

static void ai_perception(aw_system_ctx *ctx, const aw_iter *it) {
    AW_PROFILE_ZONE_BEGIN_CAT(zone, "piece", "ai_perception piece");
    const aw_position *p = AW_COLUMN(it, aw_position, 0);
    float sum = 0.0f;
    uint32_t i = 0;
#if SEED_HAVE_VECTOR_SIN
    if (__builtin_cpu_supports("avx2")) i = perception_avx2(p, it->count, &sum);
#endif
    for (; i < it->count; i++) sum += sinf(p[i].x * 0.1f + p[i].z * 0.05f);
    worker_tally *t = tally_of(ctx);
    t->perception += sum;
    t->agents += it->count;
    AW_PROFILE_ZONE_END(zone);
}

/* One plan: 100 square roots, four at a time where SSE2 exists (every x86-64). */
static float plan_cost(uint32_t agent) {
    float base = (float)agent;
#if defined(__SSE2__)
    __m128 acc = _mm_setzero_ps(), x = _mm_add_ps(_mm_set1_ps(base), _mm_set_ps(3.0f, 2.0f, 1.0f, 0.0f));
    const __m128 four = _mm_set1_ps(4.0f);
    for (uint32_t k = 0; k < PLAN_EVALS; k += 4) {
        acc = _mm_add_ps(acc, _mm_sqrt_ps(x));
        x = _mm_add_ps(x, four);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, acc);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#else
    float acc[4] = {0};
    for (uint32_t k = 0; k < PLAN_EVALS; k++) acc[k & 3] += sqrtf(base + (float)k);
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
#endif
}

/* ai_planning: agents are created first and consecutively, so entity index % 10 picks every
 * 10th agent; every agent's state rotates Idle -> Moving -> Attacking -> Idle. */
static void ai_planning(aw_system_ctx *ctx, const aw_iter *it) {
    AW_PROFILE_ZONE_BEGIN_CAT(zone, "piece", "ai_planning piece");
    AIAgent *a = AW_COLUMN(it, AIAgent, 0);
    worker_tally *t = tally_of(ctx);
    float cost = 0.0f;
    uint64_t plans = 0;
    const uint32_t n = it->count;
    const aw_entity *e = it->entities;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t index = AW_ENTITY_INDEX(e[i]);
        if (index % PLAN_EVERY == 0) {
            cost += plan_cost(index);
            plans++;
        }
    }
    /* The rotation in a loop of its own, which the compiler turns into vector code. */
    for (uint32_t i = 0; i < n; i++) a[i].state = a[i].state == AGENT_ATTACKING ? AGENT_IDLE : a[i].state + 1;
    t->plan_cost += cost;
    t->plans += plans;
    AW_PROFILE_ZONE_END(zone);
}

/* One coordinate past |64| goes to the far edge. */
static inline float wrap(float v) {
    return fabsf(v) > WRAP ? (v > 0.0f ? -WRAP : WRAP) : v;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SEED_HAVE_AVX2 1

/* The same arithmetic on the columns as flat float arrays, eight entities (three vectors, so the
 * x, y, z pattern repeats) at a time and without branches: the per-entity branches on the wrap
 * were most of this system's cost. A lane past |64| takes its own sign bit XOR -64, which is the
 * scalar x > 0 ? -WRAP : WRAP (NaN compares false in both). Returns the entities done. */
__attribute__((target("avx2"))) static uint32_t movement_avx2(float *restrict pf, const float *restrict vf,
                                                              uint32_t n, float dt) {
    const __m256 vdt = _mm256_set1_ps(dt), lim = _mm256_set1_ps(WRAP);
    const __m256 sign = _mm256_set1_ps(-0.0f), neg_edge = _mm256_set1_ps(-WRAP);
    /* Lanes holding x or z (y is up, never wrapped) in each of the three vectors. */
    const __m256 xz0 = _mm256_castsi256_ps(_mm256_setr_epi32(-1, 0, -1, -1, 0, -1, -1, 0));
    const __m256 xz1 = _mm256_castsi256_ps(_mm256_setr_epi32(-1, -1, 0, -1, -1, 0, -1, -1));
    const __m256 xz2 = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, -1, 0, -1, -1, 0, -1));
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
#define SEED_MOVE(q_, mask_)                                                                            \
    do {                                                                                                \
        float *at = pf + 3u * i + 8u * (q_);                                                            \
        __m256 x = _mm256_add_ps(_mm256_loadu_ps(at), _mm256_mul_ps(_mm256_loadu_ps(vf + 3u * i + 8u * (q_)), vdt)); \
        __m256 over = _mm256_and_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, x), lim, _CMP_GT_OQ), (mask_)); \
        __m256 far = _mm256_xor_ps(_mm256_and_ps(x, sign), neg_edge);                                   \
        _mm256_storeu_ps(at, _mm256_blendv_ps(x, far, over));                                           \
    } while (0)
        SEED_MOVE(0, xz0);
        SEED_MOVE(1, xz1);
        SEED_MOVE(2, xz2);
#undef SEED_MOVE
    }
    return i;
}
#else
#define SEED_HAVE_AVX2 0
#endif

/* movement: pos += vel * dt, wrapped to the far edge past |64| on the plane of motion. */
static void movement(aw_system_ctx *ctx, const aw_iter *it) {
    AW_PROFILE_ZONE_BEGIN_CAT(zone, "piece", "movement piece");
    aw_position *p = AW_COLUMN(it, aw_position, 0);
    const aw_velocity *v = AW_COLUMN(it, aw_velocity, 1);
    const float dt = ctx->dt;
    const uint32_t n = it->count;
    uint32_t i = 0;
#if SEED_HAVE_AVX2
    if (__builtin_cpu_supports("avx2")) i = movement_avx2((float *)p, (const float *)v, n, dt);
#endif
    for (; i < n; i++) {
        float x = p[i].x + v[i].x * dt, y = p[i].y + v[i].y * dt, z = p[i].z + v[i].z * dt;
        p[i] = (aw_position){wrap(x), y, wrap(z)};
    }
    AW_PROFILE_ZONE_END(zone);
}

/* cleanup: the demo's post-simulation system does no work; it stays for the schedule's shape. */
static void cleanup(aw_system_ctx *ctx) {
    (void)ctx;
}

/* rendering: counts the draw calls and vertices the renderer would submit (one draw per mesh). */
static void rendering(aw_system_ctx *ctx, const aw_iter *it) {
    AW_PROFILE_ZONE_BEGIN_CAT(zone, "piece", "rendering piece");
    const Renderable *r = AW_COLUMN(it, Renderable, 0);
    uint64_t vertices = 0;
    for (uint32_t i = 0; i < it->count; i++) vertices += r[i].mesh_id == 1 ? MESH1_VERTICES : MESH2_VERTICES;
    worker_tally *t = tally_of(ctx);
    t->draw_calls += it->count;
    t->vertices += vertices;
    AW_PROFILE_ZONE_END(zone);
}

/* ---- setup */

static aw_position spawn_position(uint32_t i) {
    /* Demo: ((i % 32) * 2, ((i / 32) % 32) * 2, (i / 1024) * 2), stored as (a, c, b). */
    return (aw_position){(float)(i % 32u) * 2.0f, (float)(i / 1024u) * 2.0f, (float)((i / 32u) % 32u) * 2.0f};
}

static aw_velocity spawn_velocity(uint32_t i) {
    float f = (float)i * 0.1f;
    return (aw_velocity){sinf(f) * 0.1f, 0.0f, cosf(f) * 0.1f};
}

/* Creates `count` entities of one archetype in one bulk call: Position and Velocity from spawn
 * indices first, first + 2, ..., then each extra column filled with one value. */
static aw_status spawn_group(aw_world *w, const aw_component *types, uint32_t type_count, uint32_t first,
                             uint32_t count, const void *const *values, const size_t *sizes) {
    if (!count) return AW_OK;
    enum { MAX_COLUMNS = 8 };
    void *columns[MAX_COLUMNS] = {0};
    size_t bytes[MAX_COLUMNS] = {0};
    aw_status st = AW_OK;
    for (uint32_t c = 0; c < type_count && !st; c++) {
        bytes[c] = (size_t)count * (c < 2 ? sizeof(aw_vec3) : sizes[c - 2]);
        if (!(columns[c] = aw_alloc(NULL, bytes[c], 16)))
            st = aw_error(AW_ERR_OUT_OF_MEMORY, "seed-profile: out of memory spawning %u entities", count);
    }
    if (!st) {
        aw_position *pos = columns[0];
        aw_velocity *vel = columns[1];
        for (uint32_t k = 0; k < count; k++) {
            pos[k] = spawn_position(first + 2u * k);
            vel[k] = spawn_velocity(first + 2u * k);
            for (uint32_t c = 2; c < type_count; c++)
                memcpy((uint8_t *)columns[c] + (size_t)k * sizes[c - 2], values[c - 2], sizes[c - 2]);
        }
        st = aw_entity_create_bulk(w, &(aw_bulk_desc){.count = count,
                                                      .components = types,
                                                      .component_count = type_count,
                                                      .data = (const void *const *)columns});
    }
    for (uint32_t c = 0; c < type_count; c++) aw_free(NULL, columns[c], bytes[c]);
    return st;
}

static aw_status seed_setup(void *state, const aw_stress_setup *in) {
    seed_state *s = state;
    aw_world *w = in->world;
    aw_jobs *jobs = aw_world_jobs(w);
    if (!jobs) return aw_last_status();
    s->workers = aw_jobs_thread_count(jobs);
    if (s->workers > MAX_WORKERS) s->workers = MAX_WORKERS;

    /* The grid covers the wrap square with a margin; response and events are off because the
     * demo only counted its collisions. */
    s->physics =
        aw_physics_create(w, &(aw_physics_desc){.min_x = -WRAP - 2.0f,
                                                .min_z = -WRAP - 2.0f,
                                                .max_x = WRAP + 2.0f,
                                                .max_z = WRAP + 2.0f,
                                                .no_response = true,
                                                .no_events = true,
                                                .allocator = aw_stress_module_allocator(in->ctx, "physics")});
    if (!s->physics) return aw_last_status();
    aw_physics_ids ids = aw_physics_get_ids(s->physics);
    aw_component agent = AW_COMPONENT(w, AIAgent);
    aw_component renderable = AW_COMPONENT(w, Renderable);
    if (!agent || !renderable) return aw_last_status();

    /* Even spawn indices are agents, odd ones rigid bodies; agents are created first, so that
     * they hold consecutive entity indices (ai_planning's every-10th rule). RigidBody{mass 1} is the
     * physics module's body (inv_mass 1), and its radius-0.5 sphere a Collider. */
    AIAgent idle = {AGENT_IDLE};
    Renderable mesh1 = {1}, mesh2 = {2};
    aw_rigid_body body = {.inv_mass = 1.0f};
    aw_collider sphere = {.radius = BODY_RADIUS};
    aw_component agent_types[] = {ids.position, ids.velocity, agent, renderable};
    const void *agent_values[] = {&idle, &mesh1};
    size_t agent_sizes[] = {sizeof idle, sizeof mesh1};
    aw_component body_types[] = {ids.position, ids.velocity, ids.rigid_body, renderable, ids.collider};
    const void *body_values[] = {&body, &mesh2, &sphere};
    size_t body_sizes[] = {sizeof body, sizeof mesh2, sizeof sphere};
    aw_status st = spawn_group(w, agent_types, 4, 0, (in->entities + 1u) / 2u, agent_values, agent_sizes);
    if (!st) st = spawn_group(w, body_types, 5, 1, in->entities / 2u, body_values, body_sizes);
    if (st) return st;

    /* One system per phase, as in the demo; the `each` ones run their pieces (one per table and
     * 1,024 rows) in parallel. */
    if (!aw_system_register(w, &(aw_system_desc){.name = "ai_perception",
                                                 .phase = AW_PHASE_PERCEPTION,
                                                 .query = {AW_TERMS(AW_READ(ids.position), AW_READ(agent))},
                                                 .each = ai_perception,
                                                 .user = s}) ||
        !aw_system_register(w, &(aw_system_desc){.name = "ai_planning",
                                                 .phase = AW_PHASE_AI_PLANNING,
                                                 .query = {AW_TERMS(AW_WRITE(agent))},
                                                 .each = ai_planning,
                                                 .user = s}) ||
        !aw_system_register(
            w, &(aw_system_desc){.name = "movement",
                                 .phase = AW_PHASE_SIMULATION,
                                 .query = {AW_TERMS(AW_WRITE(ids.position), AW_READ(ids.velocity))},
                                 .each = movement,
                                 .user = s}) ||
        !aw_physics_register_system(s->physics, NULL) ||
        !aw_system_register(w, &(aw_system_desc){.name = "cleanup",
                                                 .phase = AW_PHASE_POST_SIMULATION,
                                                 .run = cleanup,
                                                 .user = s}) ||
        (!in->external_renderer &&
         !aw_system_register(w,
                            &(aw_system_desc){.name = "rendering",
                                              .phase = AW_PHASE_PRESENTATION,
                                              .query = {AW_TERMS(AW_READ(renderable), AW_READ(ids.position))},
                                              .each = rendering,
                                              .user = s})))
        return aw_last_status();
    return AW_OK;
}

static uint32_t seed_counters(void *state, aw_world *world, aw_stress_counter *out, uint32_t max) {
    seed_state *s = state;
    worker_tally sum = {0};
    for (uint32_t k = 0; k < s->workers; k++) {
        worker_tally *t = &s->tally[k];
        sum.agents += t->agents;
        sum.plans += t->plans;
        sum.draw_calls += t->draw_calls;
        sum.vertices += t->vertices;
        *t = (worker_tally){0};
    }
    aw_physics_stats ps = aw_physics_get_stats(s->physics);
    const struct {
        const char *name;
        double value;
    } values[] = {
        {"entities", (double)aw_world_entity_count(world)},
        {"ai.agents", (double)sum.agents},
        {"ai.plans", (double)sum.plans},
        {"physics.pair_tests", (double)ps.pair_tests},
        {"physics.contacts", (double)ps.contacts},
        {"physics.gather_us", (double)ps.gather_ns * 1e-3},
        {"physics.grid_us", (double)ps.grid_ns * 1e-3},
        {"physics.pairs_us", (double)ps.pairs_ns * 1e-3},
        {"render.draw_calls", (double)sum.draw_calls},
        {"render.vertices", (double)sum.vertices},
    };
    uint32_t n = 0;
    for (; n < max && n < sizeof values / sizeof values[0]; n++) {
        snprintf(out[n].name, sizeof out[n].name, "%s", values[n].name);
        out[n].value = values[n].value;
    }
    return n;
}

const aw_stress_scenario aw_stress_seed_profile = {
    .name = "seed-profile",
    .description = "the Rust engine's Week-8 profiling demo: AI perception and planning, movement, "
                   "flat-grid collision, cleanup and render counting, one system per phase",
    .state_size = sizeof(seed_state),
    .setup = seed_setup,
    .frame_counters = seed_counters,
};
