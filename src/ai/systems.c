/* The AI as ECS systems: perception, planning (time-sliced, budgeted), validated action, projectiles
 * (parallel over chunks), then one serial pass that applies damage, heals, deaths and respawns and
 * sends events in a fixed order, so the result is the same for any thread count. */
#include "ai/ai_internal.h"
#include "ai/due.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { SYS_ACTION = 1, SYS_PROJECTILES = 2 };

#define MOVE_EPSILON   0.75f /* a move step is done this close to its place */
#define STEP_TIMEOUT   10.0f /* seconds before a move step gives up */
#define RELOAD_TIME    1.0f
#define THROW_SPEED    15.0f
#define EXPLOSIVE_LIFE_MAX 3.0f
#define BULLET_LIFE    1.5f
#define HIT_RADIUS     0.6f
#define TOUCH_RANGE    1.5f  /* heal or revive another from this close */
#define COOLDOWN_WAIT  0.6f  /* a step whose ability is this close to ready waits instead of failing */
#define PERCEPTION_SLACK 1.0f /* m: how far the grid's copy of a position may be from the frame's */
/* Command bytes of a projectile spawn: a create and three sets. */
#define SPAWN_BYTES                                                                                      \
    (aw_cmd_size(0) + aw_cmd_size(sizeof(aw_position)) + aw_cmd_size(sizeof(aw_velocity)) +              \
     aw_cmd_size(sizeof(aw_ai_projectile)))
/* Respawns the effects pass keeps room for, at least, per agent: one in this many. */
#define RESPAWN_ROOM_SHARE 16u
#define SPLASH_HITS 64u /* agents one explosion damages at most */

/* Grows a worker's record buffer (doubling from 256) to hold `need` records; false when out of
 * memory, with the buffer unchanged. */
static bool worker_reserve(ai_worker *w, uint32_t need) {
    if (need <= w->record_capacity) return true;
    uint32_t cap = w->record_capacity ? w->record_capacity : 256;
    while (cap < need) cap *= 2;
    ai_record *grown = aw_realloc(w->allocator, w->records, (size_t)w->record_capacity * sizeof(ai_record),
                                  (size_t)cap * sizeof(ai_record), 8);
    if (!grown) return false;
    w->records = grown;
    w->record_capacity = cap;
    return true;
}

void ai_record_push(ai_worker *w, const ai_record *r) {
    if (!worker_reserve(w, w->record_count + 1)) {
        w->record_overflow = true;
        return;
    }
    w->records[w->record_count++] = *r;
}

static uint64_t record_key(uint32_t system, uint32_t task, uint32_t seq) {
    return (uint64_t)system << 56 | (uint64_t)task << 24 | (seq & 0xffffffu);
}

static uint32_t enemy_mask(uint8_t team) {
    uint32_t all = 0;
    for (uint32_t i = 0; i < AW_AI_MAX_TEAMS; i++) all |= AW_AI_TEAM_LAYER(i);
    return all & ~AW_AI_TEAM_LAYER(team);
}

/* ---- vitals: every agent's position, hp, stance and team by entity index, as of the frame's start */

/* Room for `need` items of `size` bytes in a list that doubles (from 256); false when out of
 * memory, the list unchanged. */
static bool list_reserve(const aw_allocator *a, void **items, uint32_t *capacity, uint32_t need, size_t size) {
    if (need <= *capacity) return true;
    uint32_t cap = *capacity ? *capacity : 256;
    while (cap < need) cap *= 2;
    void *grown = aw_realloc(a, *items, (size_t)*capacity * size, (size_t)cap * size, 8);
    if (!grown) return false;
    *items = grown;
    *capacity = cap;
    return true;
}
#define looks_reserve(a, looks, capacity, need) list_reserve(a, (void **)(looks), capacity, need, sizeof(ai_look))
#define plan_jobs_reserve(a, jobs, capacity, need) list_reserve(a, (void **)(jobs), capacity, need, sizeof(ai_plan_job))

static inline ai_look look_of(aw_entity e, const aw_position *pos, const aw_ai_agent *agent, aw_ai_perception *per) {
    return (ai_look){.entity = e, .last_enemy = per->nearest_enemy, .position = *pos, .agent_type = agent->agent_type,
                     .team = agent->team, .perception = per};
}

/* Agents ahead whose vitals entry is asked for, and their perception component: the due agents'
 * looks read it, and the perception pass last wrote it in place order, often on the other core
 * (asking for it took the vitals pass to 0.77 of its time at 100k, 2 threads). */
#define VITALS_AHEAD 16u

/* Also gathers the agents whose perception turn it is (the pass reads every agent anyway), into the
 * worker's list: perception then orders them by place without walking every agent again. The
 * pointer to each one's AiPerception is written only by the perception system, later. */
static void vitals_piece(aw_system_ctx *ctx, const aw_iter *it) {
    aw_ai *ai = ctx->user;
    const aw_position *pos = AW_COLUMN(it, aw_position, 0);
    const aw_ai_agent *agents = AW_COLUMN(it, aw_ai_agent, 1);
    aw_ai_perception *per = AW_COLUMN(it, aw_ai_perception, 2); /* NULL: not perceiving */
    ai_worker *w = ai_worker_of(ai, ctx->worker);
    ai_due turn = ai_due_make(ai->desc.perception_interval, ctx->frame);
    ai_vital *vitals = ai->vitals;
    uint32_t cap = ai->vital_capacity, stamp = (uint32_t)ctx->frame, need = 0, respawning = 0;
    float dt = ai->desc.fixed_dt > 0.0f ? ai->desc.fixed_dt : ctx->dt;
    /* The worker's list in locals: the stores into the vitals table could alias its fields. */
    ai_look *looks = w->looks;
    uint32_t looked = w->look_count, room = per ? w->look_capacity : 0;
    float zmin = w->look_zmin, zmax = w->look_zmax;
    for (uint32_t i = 0; i < it->count; i++) {
        aw_entity e = it->entities[i];
        uint32_t x = AW_ENTITY_INDEX(e);
        /* The table is by entity index, so these writes land anywhere: each would wait for its line. */
        if (i + VITALS_AHEAD < it->count) {
            uint32_t ahead = AW_ENTITY_INDEX(it->entities[i + VITALS_AHEAD]);
            if (ahead < cap) __builtin_prefetch(&vitals[ahead], 1);
            if (per) __builtin_prefetch(&per[i + VITALS_AHEAD]);
        }
        /* the action pass asks for its respawn this frame (the same test) */
        respawning += agents[i].hp <= 0.0f && agents[i].respawn_timer > 0.0f && agents[i].respawn_timer - dt <= 0.0f;
        if (per && ai_due_now(&turn, x) && agents[i].hp > 0.0f) {
            if (looked == room) {
                w->look_count = looked;
                if (!looks_reserve(ai->allocator, &w->looks, &w->look_capacity, looked + 1))
                    w->look_overflow = true; /* perception walks every agent itself this frame */
                looks = w->looks, room = w->look_capacity;
            }
            if (looked < room) {
                looks[looked++] = look_of(e, &pos[i], &agents[i], &per[i]);
                zmin = pos[i].z < zmin ? pos[i].z : zmin;
                zmax = pos[i].z > zmax ? pos[i].z : zmax;
            }
        }
        if (x >= cap) { /* grown by the effects pass; readers look the entity up meanwhile */
            if (x + 1 > need) need = x + 1;
            continue;
        }
        vitals[x] = (ai_vital){.entity = e, .position = pos[i], .hp = agents[i].hp, .frame = stamp,
                               .stance = agents[i].stance, .team = agents[i].team};
    }
    w->look_count = looked, w->look_zmin = zmin, w->look_zmax = zmax;
    if (need > w->vital_need) w->vital_need = need;
    w->agents_seen += it->count;
    w->respawning_seen += respawning;
}

/* Between frames (serial): room for every agent index the vitals pass met. */
static void vitals_reserve(aw_ai *ai) {
    uint32_t need = 0;
    for (uint32_t i = 0; i < ai->worker_count; i++) {
        if (ai->workers[i].vital_need > need) need = ai->workers[i].vital_need;
        ai->workers[i].vital_need = 0;
    }
    if (need <= ai->vital_capacity) return;
    /* A half again of headroom: entity indices creep up as projectiles come and go, and a table
     * sized exactly would grow again at the next new index. */
    uint32_t ahead = need <= UINT32_MAX / 3 * 2 ? need + need / 2 : need;
    uint32_t cap = ai->vital_capacity ? ai->vital_capacity : 1024;
    while (cap < ahead) cap *= 2;
    ai_vital *grown = aw_realloc(ai->allocator, ai->vitals, (size_t)ai->vital_capacity * sizeof(ai_vital),
                                 (size_t)cap * sizeof(ai_vital), 8);
    if (!grown) return; /* out of memory: lookups stay on the components */
    memset(grown + ai->vital_capacity, 0, (size_t)(cap - ai->vital_capacity) * sizeof(ai_vital));
    ai->vitals = grown;
    /* The reach table follows (out of memory: planning goes without hints). */
    uint32_t had = ai->reach ? ai->vital_capacity : 0;
    ai_reach *reach = aw_realloc(ai->allocator, ai->reach, (size_t)had * sizeof(ai_reach), (size_t)cap * sizeof(ai_reach), 8);
    if (reach) memset(reach + had, 0, (size_t)(cap - had) * sizeof(ai_reach));
    else aw_free(ai->allocator, ai->reach, (size_t)had * sizeof(ai_reach));
    ai->reach = reach;
    ai->vital_capacity = cap;
}

/* ---- perception: nearest enemy per agent, staggered over perception_interval frames. The agents
 * due this frame are gathered, ordered by bands along z (the grid's rows) and looked up in that
 * order in parallel: agents sit in the ECS in spawn order, at random places, so looks in that
 * order read grid rows far apart each time (cache misses once the grid outgrows the cache), while
 * looks in place order read the rows the previous looks read. Each result depends only on its
 * agent and the grid, so the order changes nothing else. */

static void look(const aw_ai *ai, const ai_look *l, uint64_t frame) {
    const aw_position pos = l->position;
    aw_entity e = l->entity;
    const aw_agent_type *t = ai_type_of(ai, l->agent_type);
    aw_spatial_filter f = {.exclude = &e, .exclude_count = 1};
    aw_physics_hit hit;
    aw_physics_nearest_set set = {.mask = enemy_mask(l->team), .k = 1, .out = &hit};
    /* The enemy nearest at the last look bounds the search: whatever lies within that bound and
     * is nearest is the nearest within the full radius too. Nothing there (it moved away or
     * is gone): the full radius. */
    float radius = t->perception_radius, bound = radius;
    const ai_vital *last = l->last_enemy ? ai_vital_of(ai, l->last_enemy, frame) : NULL;
    if (last) {
        float dx = last->position.x - pos.x, dy = last->position.y - pos.y, dz = last->position.z - pos.z;
        float d = sqrtf(dx * dx + dy * dy + dz * dz) + PERCEPTION_SLACK;
        if (d < bound) bound = d;
    }
    aw_physics_query_nearest_sets(ai->physics, pos, bound, &f, &set, 1);
    if (!set.count && bound < radius) aw_physics_query_nearest_sets(ai->physics, pos, radius, &f, &set, 1);
    uint32_t n = set.count;
    aw_ai_perception *per = l->perception;
    /* Contact gained or lost: worth a plan now rather than at the agent's next turn. */
    if ((l->last_enemy != AW_ENTITY_NULL) != (n != 0)) per->threat_flags |= AW_AI_THREAT_CONTACT_CHANGED;
    per->nearest_enemy = n ? hit.entity : AW_ENTITY_NULL;
    per->enemy_distance = n ? hit.distance : INFINITY;
    /* Enemies only: allies matter when planning, which builds the whole snapshot. */
    per->enemies_near = (uint16_t)(n ? 1 : 0);
}

typedef struct look_job {
    const aw_ai *ai;
    const ai_look *looks;
    uint64_t frame;
} look_job;

/* Looks ahead whose last enemy's vitals entry and own perception component are asked for: both
 * lie anywhere (by entity index, and in the agents' chunks), and the component was last written on
 * whichever core looked last time. Perception 0.95 of its time at 100k, 2 threads. */
#define LOOK_AHEAD 8u

static void look_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)worker;
    const look_job *j = ctx;
    const aw_ai *ai = j->ai;
    for (uint32_t i = begin; i < end; i++) {
        if (i + LOOK_AHEAD < end) {
            const ai_look *next = &j->looks[i + LOOK_AHEAD];
            ai_vital_prefetch(ai, next->last_enemy);
            __builtin_prefetch(next->perception, 1);
        }
        look(ai, &j->looks[i], j->frame);
    }
}

#define LOOK_BAND_M 4.0f /* band height along z; wider when the agents span more than AI_LOOK_BANDS */
#define LOOK_GRAIN  32u  /* looks per parallel task */

static inline uint32_t look_band(const ai_look *l, float zmin, float scale) {
    float b = (l->position.z - zmin) * scale;
    if (!(b >= 0.0f)) return 0; /* and NaN */
    return b < (float)(AI_LOOK_BANDS - 1) ? (uint32_t)b : AI_LOOK_BANDS - 1;
}

/* Out of memory somewhere: every due agent looked up here, in ECS order. */
static void perception_unordered(aw_system_ctx *ctx, aw_ai *ai) {
    ai_due turn = ai_due_make(ai->desc.perception_interval, ctx->frame);
    aw_iter it = aw_query_iter(ctx->query);
    while (aw_iter_next(&it)) {
        const aw_position *pos = AW_COLUMN(&it, aw_position, 0);
        const aw_ai_agent *agents = AW_COLUMN(&it, aw_ai_agent, 1);
        aw_ai_perception *per = AW_COLUMN(&it, aw_ai_perception, 2);
        for (uint32_t i = 0; i < it.count; i++) {
            aw_entity e = it.entities[i];
            if (!ai_due_now(&turn, AW_ENTITY_INDEX(e)) || agents[i].hp <= 0.0f) continue;
            ai_look l = look_of(e, &pos[i], &agents[i], &per[i]);
            look(ai, &l, ctx->frame);
        }
    }
}

static void perception_run(aw_system_ctx *ctx) {
    aw_ai *ai = ctx->user;
    uint32_t n = 0;
    float zmin = INFINITY, zmax = -INFINITY;
    bool overflow = false;
    for (uint32_t k = 0; k < ai->worker_count; k++) {
        const ai_worker *w = &ai->workers[k];
        n += w->look_count;
        overflow |= w->look_overflow;
        if (w->look_zmin < zmin) zmin = w->look_zmin;
        if (w->look_zmax > zmax) zmax = w->look_zmax;
    }
    /* Which worker gathers how many depends on work stealing: every list gets room for twice the
     * frame's total, so lists grow only when the simulation itself reaches a new high. */
    uint32_t ahead = n < UINT32_MAX / 2 ? 2 * n : n;
    for (uint32_t k = 0; k < ai->worker_count; k++)
        if (ai->workers[k].look_capacity < n)
            (void)looks_reserve(ai->allocator, &ai->workers[k].looks, &ai->workers[k].look_capacity, ahead);
    if (overflow || (n > ai->look_capacity && !looks_reserve(ai->allocator, &ai->looks, &ai->look_capacity, ahead))) {
        perception_unordered(ctx, ai);
    } else if (n) {
        /* Counting sort by band, stable over the workers' lists in worker order. */
        uint32_t *start = ai->look_bands;
        float span = zmax - zmin, scale = 1.0f / LOOK_BAND_M;
        if (!(span * scale < (float)(AI_LOOK_BANDS - 1))) scale = span > 0.0f ? (float)(AI_LOOK_BANDS - 1) / span : 0.0f;
        memset(start, 0, sizeof ai->look_bands);
        for (uint32_t k = 0; k < ai->worker_count; k++)
            for (uint32_t i = 0; i < ai->workers[k].look_count; i++) start[look_band(&ai->workers[k].looks[i], zmin, scale) + 1]++;
        for (uint32_t b = 0; b < AI_LOOK_BANDS; b++) start[b + 1] += start[b];
        for (uint32_t k = 0; k < ai->worker_count; k++)
            for (uint32_t i = 0; i < ai->workers[k].look_count; i++) {
                const ai_look *l = &ai->workers[k].looks[i];
                ai->looks[start[look_band(l, zmin, scale)]++] = *l;
            }
        look_job job = {.ai = ai, .looks = ai->looks, .frame = ctx->frame};
        aw_jobs *jobs = aw_world_jobs(ctx->world);
        if (!jobs || aw_jobs_parallel_for(jobs, n, LOOK_GRAIN, look_range, &job)) look_range(0, n, 0, &job);
    }
    for (uint32_t k = 0; k < ai->worker_count; k++) {
        ai_worker *w = &ai->workers[k];
        w->look_count = 0;
        w->look_overflow = false;
        w->look_zmin = INFINITY;
        w->look_zmax = -INFINITY;
    }
}

/* ---- planning: every K frames staggered by entity index, or at once on a trigger, within the
 * piece's share of the frame's budget. A first pass over the agents in ECS order chooses who plans
 * (so the budget picks the same agents whatever the order after); the chosen are then ordered by
 * square tiles of the field and planned in that order in parallel, so consecutive plans walk the
 * same grid rows and read them from cache. A plan depends only on its agent's snapshot and writes
 * only that agent's components, so the order changes nothing else. */

#define PLAN_TILE_M 32.0f /* tile edge; wider when the agents span more than AI_PLAN_TILES tiles */
#define PLAN_GRAIN  4u    /* plans per parallel task */

static void plan_one(aw_ai *ai, const ai_plan_job *j, uint32_t worker, uint64_t frame) {
    ai_worker *w = ai_worker_of(ai, worker);
    aw_ai_plan *p = j->plan;
    const aw_agent_type *t = ai_type_of(ai, j->agent->agent_type);
    ai_snapshot_fill(ai, j->entity, j->position, j->velocity, j->agent, ai->time, frame, j->enemies,
                     ai_reach_of(ai, j->entity), &w->snapshot);
    aw_plan_request req = {.snapshot = &w->snapshot,
                           .type = t,
                           .agent = j->entity,
                           .plan_id = p->next_plan_id ? p->next_plan_id : 1,
                           .worker = worker,
                           .trigger = (uint32_t)j->trigger,
                           .refused_category = p->last_refusal,
                           .memory = p->memory,
                           .memory_count = AW_AI_MEMORY_SLOTS};
    aw_plan_intent intent;
    bool fallback = false;
    aw_plan_status st = ai_plan_with_fallback(ai, t->orchestrator, &req, &intent, &fallback, w,
                                              j->trigger == AW_TRIGGER_PENDING);
    if (st == AW_PLAN_READY || fallback) {
        /* Unset places get their kind's default from this snapshot, whoever made the plan. */
        ai_plan_resolve(ai, &w->snapshot, t, &intent, true);
        p->intent = intent;
        p->step = 0;
        p->step_time = 0.0f;
    } else if (st == AW_PLAN_FAILED) {
        p->intent.step_count = 0; /* nothing to do until the next turn */
    }
    p->waiting = st == AW_PLAN_PENDING;
    p->trigger = 0;
    j->perception->threat_flags &= ~AW_AI_THREAT_CONTACT_CHANGED;
    p->next_plan_id = req.plan_id + 1;
}

/* A plan is 368 bytes, so each agent's plan header is a line of its own: perf put half of the action
 * system's samples, and most of the choosing pass's, on the first read of it. The systems that walk
 * the plans in ECS order ask for it some agents ahead (action also for the next line, which holds
 * the first steps). Action: 4 ahead left a third of its samples on the header (the planning pass
 * last wrote the plans, often on the other core); 12 took action to 0.93 of its time, 24 read the
 * same as 12. */
#define PLAN_ACT_AHEAD    12u
#define PLAN_CHOOSE_AHEAD 16u /* choosing: a few nanoseconds an agent, so further ahead */

/* The budget as B slots on the ring of the query's N rows, at floor(m * N / B) for m < B, all moved one
 * row on each frame. A piece plans as many agents as slots lie on its rows, so the pieces' shares
 * add up to exactly B whatever the split, and depend only on the piece's place in the query's fixed
 * order, never on the thread count. A slot goes to the first agent that wants to plan at or after
 * it; slots left at the piece's end go to the agents passed over, in row order. A slot reaches
 * every row within ceil(N / B) frames: an agent that keeps wanting to plan (on a row that stays put)
 * waits at most that long. Rounding each piece's share of the rows up to one instead would let many
 * small pieces pass the budget. */
typedef struct plan_slots {
    uint64_t rows, budget; /* N, B (B < N) */
    uint64_t base;         /* the piece's first row on the slots' ring, in [0, N) */
    uint64_t next;         /* index of the next slot at or after base (may pass B: the ring's next turn) */
} plan_slots;

/* Ring position of slot m, from 0 up to 2N: a slot past B is on the ring's next turn. */
static inline uint64_t plan_slot_at(const plan_slots *s, uint64_t m) {
    return m < s->budget ? m * s->rows / s->budget : (m - s->budget) * s->rows / s->budget + s->rows;
}

/* The piece row of the next slot, or UINT32_MAX when none is left on the piece's `count` rows. */
static inline uint32_t plan_slot_next(plan_slots *s, uint32_t count) {
    uint64_t at = plan_slot_at(s, s->next) - s->base;
    if (at >= count) return UINT32_MAX;
    s->next++;
    return (uint32_t)at;
}

#define PLAN_PASSED_MAX 64u /* agents passed over a piece keeps for its leftover slots */

typedef struct plan_choice {
    aw_ai *ai;
    ai_worker *w;
    const aw_iter *it;
    const aw_position *pos;
    const aw_velocity *vel;
    const aw_ai_agent *agents;
    aw_ai_plan *plans;
    aw_ai_perception *per;
    uint32_t worker;
    uint64_t frame;
} plan_choice;

/* Row i plans this frame: into the worker's list, or at once when the list cannot grow. */
static void plan_take(const plan_choice *c, uint32_t i, int trigger) {
    aw_ai *ai = c->ai;
    ai_worker *w = c->w;
    const aw_ai_perception *per = &c->per[i];
    const aw_position *pos = &c->pos[i];
    w->stats.last_frame_plans++;
    /* Perception found no enemy within reach at its last look: skip the enemy query (a contact
     * appearing since then raises AW_TRIGGER_CONTACT at the next look). */
    bool enemies = ai->desc.perception_interval <= 1 || per->nearest_enemy != AW_ENTITY_NULL ||
                   (per->threat_flags & AW_AI_THREAT_CONTACT_CHANGED) || trigger == AW_TRIGGER_DAMAGED;
    ai_plan_job j = {.entity = c->it->entities[i], .trigger = trigger, .enemies = enemies, .position = pos,
                     .velocity = &c->vel[i], .agent = &c->agents[i], .plan = &c->plans[i],
                     .perception = &c->per[i]};
    if (w->plan_job_count == w->plan_job_capacity &&
        !plan_jobs_reserve(ai->allocator, &w->plan_jobs, &w->plan_job_capacity, w->plan_job_count + 1)) {
        plan_one(ai, &j, c->worker, c->frame);
        return;
    }
    w->plan_jobs[w->plan_job_count++] = j;
    aw_vec3 *lo = &w->plan_min, *hi = &w->plan_max;
    lo->x = pos->x < lo->x ? pos->x : lo->x, hi->x = pos->x > hi->x ? pos->x : hi->x;
    lo->z = pos->z < lo->z ? pos->z : lo->z, hi->z = pos->z > hi->z ? pos->z : hi->z;
}

/* Row i wants to plan and waits: it keeps its trigger for a later frame. */
static inline void plan_defer(const plan_choice *c, uint32_t i, int trigger) {
    aw_ai_plan *p = &c->plans[i];
    if (!p->trigger) p->trigger = (uint8_t)(trigger + 1);
    c->w->stats.deferred++;
}

/* The first pass (the ai_plan_choose system), one piece: who plans, within the piece's slots. The
 * chosen go to the worker's list; one that does not fit (out of memory) plans here, in ECS order. */
static void plan_choose_piece(aw_system_ctx *ctx, const aw_iter *it) {
    aw_ai *ai = ctx->user;
    plan_choice c = {.ai = ai, .w = ai_worker_of(ai, ctx->worker), .it = it,
                     .pos = AW_COLUMN(it, aw_position, 0), .vel = AW_COLUMN(it, aw_velocity, 1),
                     .agents = AW_COLUMN(it, aw_ai_agent, 2), .plans = AW_COLUMN(it, aw_ai_plan, 3),
                     .per = AW_COLUMN(it, aw_ai_perception, 4), .worker = ctx->worker, .frame = ctx->frame};
    const aw_ai_agent *agents = c.agents;
    aw_ai_plan *plans = c.plans;
    const aw_ai_perception *per = c.per;
    ai_due turn = ai_due_make(ai->desc.replan_interval, ctx->frame);
    uint64_t total = aw_query_count(ctx->query), budget = ai->desc.plan_budget;
    /* Slots in hand; with no budget that binds (each agent plans once a frame at most), every row. */
    uint32_t credit = it->count, slot = UINT32_MAX;
    plan_slots slots = {0};
    if (budget && budget < total) {
        slots = (plan_slots){.rows = total, .budget = budget,
                             .base = ((uint64_t)ctx->row % total + total - ctx->frame % total) % total};
        slots.next = (slots.base * budget + total - 1) / total; /* the first slot at or after base */
        credit = 0;
        slot = plan_slot_next(&slots, it->count);
    }
    struct {
        uint32_t row;
        int trigger;
    } passed[PLAN_PASSED_MAX];
    uint32_t passed_count = 0;
    for (uint32_t i = 0; i < it->count; i++) {
        aw_ai_plan *p = &plans[i];
        if (i + PLAN_CHOOSE_AHEAD < it->count) __builtin_prefetch(&plans[i + PLAN_CHOOSE_AHEAD], 1);
        if (i == slot) {
            credit++;
            slot = plan_slot_next(&slots, it->count);
        }
        if (agents[i].hp <= 0.0f) continue;
        int trigger = -1;
        if (p->trigger) trigger = p->trigger - 1;
        else if (p->waiting) trigger = AW_TRIGGER_PENDING;
        else if (per[i].threat_flags & AW_AI_THREAT_CONTACT_CHANGED) trigger = AW_TRIGGER_CONTACT;
        else if (ai_due_now(&turn, AW_ENTITY_INDEX(it->entities[i]))) trigger = AW_TRIGGER_SCHEDULED;
        if (trigger < 0) continue;
        if (credit) {
            credit--;
            plan_take(&c, i, trigger);
        } else if (passed_count < PLAN_PASSED_MAX) {
            passed[passed_count].row = i;
            passed[passed_count++].trigger = trigger;
        } else {
            plan_defer(&c, i, trigger);
        }
    }
    for (uint32_t k = 0; k < passed_count; k++) {
        if (credit) {
            credit--;
            plan_take(&c, passed[k].row, passed[k].trigger);
        } else {
            plan_defer(&c, passed[k].row, passed[k].trigger);
        }
    }
}

typedef struct plan_order {
    float x0, z0, scale;
    uint32_t nx, nz;
} plan_order;

static inline uint32_t plan_tile(const plan_order *o, const aw_position *p) {
    float fx = (p->x - o->x0) * o->scale, fz = (p->z - o->z0) * o->scale;
    uint32_t tx = fx >= 0.0f ? (fx < (float)(o->nx - 1) ? (uint32_t)fx : o->nx - 1) : 0; /* NaN: 0 */
    uint32_t tz = fz >= 0.0f ? (fz < (float)(o->nz - 1) ? (uint32_t)fz : o->nz - 1) : 0;
    return tz * o->nx + tx;
}

typedef struct plan_run_job {
    aw_ai *ai;
    const ai_plan_job *jobs;
    uint64_t frame;
} plan_run_job;

static void plan_range(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    const plan_run_job *r = arg;
    for (uint32_t i = begin; i < end; i++) plan_one(r->ai, &r->jobs[i], worker, r->frame);
}

/* Empties the workers' lists for the next frame's first pass. */
static void plan_jobs_clear(aw_ai *ai) {
    for (uint32_t k = 0; k < ai->worker_count; k++) {
        ai_worker *w = &ai->workers[k];
        w->plan_job_count = 0;
        w->plan_min = (aw_vec3){INFINITY, 0.0f, INFINITY};
        w->plan_max = (aw_vec3){-INFINITY, 0.0f, -INFINITY};
    }
}

/* The second pass (the ai_planning system): the chosen agents in place order, in parallel. */
static void plan_in_order(aw_system_ctx *ctx, aw_ai *ai) {
    uint32_t n = 0;
    aw_vec3 lo = {INFINITY, 0.0f, INFINITY}, hi = {-INFINITY, 0.0f, -INFINITY};
    for (uint32_t k = 0; k < ai->worker_count; k++) {
        const ai_worker *w = &ai->workers[k];
        n += w->plan_job_count;
        lo.x = w->plan_min.x < lo.x ? w->plan_min.x : lo.x, hi.x = w->plan_max.x > hi.x ? w->plan_max.x : hi.x;
        lo.z = w->plan_min.z < lo.z ? w->plan_min.z : lo.z, hi.z = w->plan_max.z > hi.z ? w->plan_max.z : hi.z;
    }
    if (!n) return;
    /* Which worker gathers how many depends on work stealing: every list gets room for twice the
     * frame's total, so lists grow only when the simulation itself reaches a new high. */
    uint32_t ahead = n < UINT32_MAX / 2 ? 2 * n : n;
    for (uint32_t k = 0; k < ai->worker_count; k++)
        if (ai->workers[k].plan_job_capacity < n)
            (void)plan_jobs_reserve(ai->allocator, &ai->workers[k].plan_jobs, &ai->workers[k].plan_job_capacity, ahead);
    plan_run_job r = {.ai = ai, .frame = ctx->frame};
    if (n > ai->plan_job_capacity && !plan_jobs_reserve(ai->allocator, &ai->plan_jobs, &ai->plan_job_capacity, ahead)) {
        /* Out of memory: each worker's list as gathered. */
        for (uint32_t k = 0; k < ai->worker_count; k++) {
            r.jobs = ai->workers[k].plan_jobs;
            plan_range(0, ai->workers[k].plan_job_count, ctx->worker, &r);
        }
        return;
    }
    /* Counting sort by tile (row-major along x, then z), stable over the lists in worker order. */
    plan_order o = {.x0 = lo.x, .z0 = lo.z, .scale = 1.0f / PLAN_TILE_M, .nx = 1, .nz = 1};
    float sx = hi.x - lo.x, sz = hi.z - lo.z;
    if (sx > 0.0f && sz > 0.0f && isfinite(sx) && isfinite(sz)) {
        float tiles = (sx * o.scale + 1.0f) * (sz * o.scale + 1.0f);
        if (tiles > (float)AI_PLAN_TILES) o.scale = sqrtf((float)AI_PLAN_TILES / ((sx + PLAN_TILE_M) * (sz + PLAN_TILE_M)));
        float fx = sx * o.scale + 1.0f, fz = sz * o.scale + 1.0f;
        o.nx = fx < (float)AI_PLAN_TILES ? (uint32_t)fx : AI_PLAN_TILES;
        o.nz = fz < (float)AI_PLAN_TILES ? (uint32_t)fz : AI_PLAN_TILES;
        while (o.nx * o.nz > AI_PLAN_TILES) o.nx > o.nz ? o.nx-- : o.nz--;
    }
    uint32_t *start = ai->plan_tiles;
    memset(start, 0, sizeof ai->plan_tiles);
    for (uint32_t k = 0; k < ai->worker_count; k++)
        for (uint32_t i = 0; i < ai->workers[k].plan_job_count; i++)
            start[plan_tile(&o, ai->workers[k].plan_jobs[i].position) + 1]++;
    for (uint32_t b = 0; b < AI_PLAN_TILES; b++) start[b + 1] += start[b];
    for (uint32_t k = 0; k < ai->worker_count; k++)
        for (uint32_t i = 0; i < ai->workers[k].plan_job_count; i++) {
            const ai_plan_job *j = &ai->workers[k].plan_jobs[i];
            ai->plan_jobs[start[plan_tile(&o, j->position)]++] = *j;
        }
    r.jobs = ai->plan_jobs;
    aw_jobs *jobs = aw_world_jobs(ctx->world);
    if (!jobs || aw_jobs_parallel_for(jobs, n, PLAN_GRAIN, plan_range, &r)) plan_range(0, n, ctx->worker, &r);
}

static void planning_run(aw_system_ctx *ctx) {
    aw_ai *ai = ctx->user;
    /* The first pass counted its choices per worker; the frame's total is the stat. */
    uint32_t chosen = 0;
    for (uint32_t k = 0; k < ai->worker_count; k++) {
        chosen += ai->workers[k].stats.last_frame_plans;
        ai->workers[k].stats.last_frame_plans = 0;
    }
    ai->stats.last_frame_plans = chosen;
    plan_in_order(ctx, ai);
    plan_jobs_clear(ai);
}

/* ---- action: validate a step when it starts, then turn it into velocity, shots, projectiles,
 * heals and reloads */

typedef struct act {
    aw_system_ctx *ctx;
    aw_ai *ai;
    ai_worker *w;
    uint32_t task, seq;
} act;

static void push(act *a, ai_record *r) {
    r->key = record_key(SYS_ACTION, a->task, a->seq++);
    ai_record_push(a->w, r);
}

static float dist3(aw_vec3 a, aw_vec3 b) {
    float dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
    return sqrtf(dx * dx + dy * dy + dz * dz);
}

/* Velocity towards `to`; true when within `stop`. */
static bool steer(aw_vec3 from, aw_vec3 to, float speed, float stop, aw_velocity *v) {
    float dx = to.x - from.x, dz = to.z - from.z, d = sqrtf(dx * dx + dz * dz);
    if (d <= stop || d < 1e-4f) {
        *v = (aw_velocity){0, 0, 0};
        return true;
    }
    *v = (aw_velocity){dx / d * speed, 0.0f, dz / d * speed};
    return false;
}

static void spawn_projectile(act *a, aw_entity owner, uint8_t team, aw_vec3 from, aw_vec3 to, float speed,
                             float damage, float radius, float max_life) {
    aw_ai *ai = a->ai;
    float d = dist3(from, to);
    if (d < 1e-4f) return;
    aw_vec3 dir = {(to.x - from.x) / d, (to.y - from.y) / d, (to.z - from.z) / d};
    /* memset first: the world hash reads component bytes, padding included. */
    aw_ai_projectile pr;
    memset(&pr, 0, sizeof pr);
    pr.owner = owner, pr.damage = damage, pr.radius = radius, pr.team = team;
    pr.life = radius > 0.0f ? d / speed : max_life;
    if (pr.life > max_life) pr.life = max_life;
    aw_position start = {from.x + dir.x * 0.8f, from.y, from.z + dir.z * 0.8f};
    aw_velocity vel = {dir.x * speed, dir.y * speed, dir.z * speed};
    aw_cmd_buffer *cb = a->ctx->commands;
    aw_entity pe = aw_cmd_create(cb);
    if (!pe) return;
    aw_cmd_set(cb, pe, ai->ids.position, &start, sizeof start);
    aw_cmd_set(cb, pe, ai->ids.velocity, &vel, sizeof vel);
    aw_cmd_set(cb, pe, ai->ids.projectile, &pr, sizeof pr);
    a->w->stats.projectiles_spawned++;
}

/* Where an entity is now (after this frame's physics too: the effects pass). */
static bool target_position(const aw_ai *ai, aw_entity target, aw_vec3 *out) {
    const aw_position *p = aw_entity_get_const(ai->world, target, ai->ids.position);
    if (!p) {
        aw_clear_error();
        return false;
    }
    *out = *p;
    return true;
}

/* Where an entity is during the action phase: its vitals (positions change only in physics, later),
 * else its component (projectiles, entities that are not agents). */
static bool target_position_now(const act *a, aw_entity target, aw_vec3 *out) {
    const ai_vital *v = ai_vital_of(a->ai, target, a->ctx->frame);
    if (v) {
        *out = v->position;
        return true;
    }
    return target_position(a->ai, target, out);
}

static void shoot(act *a, aw_entity self, aw_ai_agent *s, const aw_agent_type *t, aw_vec3 from, aw_entity target,
                  float damage, uint8_t kind) {
    aw_vec3 tp;
    if (!s->ammo || !target_position_now(a, target, &tp)) return;
    s->ammo--;
    a->w->stats.shots++;
    if (t->projectile_speed > 0.0f && kind != AW_ACTION_AIMED_SHOT) {
        spawn_projectile(a, self, s->team, from, tp, t->projectile_speed, damage, 0.0f, BULLET_LIFE);
    } else {
        ai_record r = {.kind = AI_RECORD_DAMAGE, .source = self, .target = target, .amount = damage, .action = kind,
                       .team = s->team};
        push(a, &r);
    }
}

/* A step refused: the refusal record (its event) and counters, the plan dropped, a replan asked for. */
static void refuse(act *a, aw_entity self, aw_ai_plan *p, const aw_action_step *st, aw_velocity *v,
                   aw_validation why) {
    ai_record r = {.kind = AI_RECORD_REFUSAL, .source = self, .target = st->target, .category = (uint8_t)why,
                   .action = st->kind, .plan_id = p->intent.plan_id, .step_index = p->step,
                   .source_kind = p->intent.source};
    push(a, &r);
    a->w->stats.refusals[why]++;
    p->last_refusal = (uint8_t)why;
    p->refusals++;
    p->intent.step_count = 0;
    p->step = 0;
    p->trigger = AW_TRIGGER_STEP_REFUSED + 1;
    *v = (aw_velocity){0, 0, 0};
}

/* The step checked against the world as it is at this frame's start; refused when it fails. */
static bool check(act *a, aw_entity self, const aw_position *pos, aw_velocity *v, const aw_ai_agent *s,
                  aw_ai_plan *p, const aw_action_step *st, const aw_agent_type *t) {
    ai_snapshot_self(a->ai, self, pos, v, s, a->ai->time, a->ctx->frame, &a->w->snapshot);
    aw_validation why = ai_validate(a->ai, &a->w->snapshot, t, st, true);
    if (why == AW_VALID) return true;
    refuse(a, self, p, st, v, why);
    return false;
}

/* A frame after the first that is about to act (a volley, a heal, a revive, a reload's end): the start
 * check covered only the first frame, and the target may have moved, hidden or died since, so the step
 * is checked again. Frames that only move need no check. */
static inline bool recheck(act *a, aw_entity self, aw_vec3 pos, aw_velocity *v, const aw_ai_agent *s,
                           aw_ai_plan *p, const aw_action_step *st, const aw_agent_type *t) {
    return p->step_time == 0.0f || check(a, self, &pos, v, s, p, st, t);
}

/* Runs one frame of a step; true when the step is over (complete, or refused: the plan is gone). */
static bool execute(act *a, aw_entity self, aw_vec3 pos, aw_velocity *v, aw_ai_agent *s, aw_ai_plan *p,
                    const aw_action_step *st, const aw_agent_type *t, float dt) {
    float speed = t->speed;
    aw_vec3 tp;
    switch ((aw_action_kind)st->kind) {
    case AW_ACTION_MOVE_TO:
    case AW_ACTION_PATROL:
    case AW_ACTION_REGROUP:
    case AW_ACTION_RETREAT:
    case AW_ACTION_TAKE_COVER: {
        s->stance = AW_STANCE_STAND;
        /* A plan may ask for a slower move, never for one faster than the type can run. */
        if (st->kind == AW_ACTION_MOVE_TO && st->amount > 0.0f && st->amount < speed) speed = st->amount;
        bool done = steer(pos, st->position, speed, MOVE_EPSILON, v) || p->step_time > STEP_TIMEOUT;
        if (done && st->kind == AW_ACTION_TAKE_COVER) s->stance = AW_STANCE_IN_COVER;
        if (done) *v = (aw_velocity){0, 0, 0};
        return done;
    }
    case AW_ACTION_APPROACH: {
        s->stance = AW_STANCE_STAND;
        if (!target_position_now(a, st->target, &tp)) return *v = (aw_velocity){0, 0, 0}, true;
        float stop = st->distance > 0.0f ? st->distance : t->weapon_range * 0.8f;
        return steer(pos, tp, speed, stop, v) || p->step_time > STEP_TIMEOUT;
    }
    case AW_ACTION_STRAFE: {
        if (!target_position_now(a, st->target, &tp)) return *v = (aw_velocity){0, 0, 0}, true;
        float dx = tp.x - pos.x, dz = tp.z - pos.z, d = sqrtf(dx * dx + dz * dz);
        float dir = st->direction < 0 ? -1.0f : 1.0f;
        if (d > 1e-4f) *v = (aw_velocity){-dz / d * speed * dir, 0.0f, dx / d * speed * dir};
        if (p->step_time == 0.0f) s->cooldowns[AW_COOLDOWN_MOVE] = t->strafe_interval;
        float distance = st->distance > 0.0f ? st->distance : 3.0f;
        bool done = speed <= 0.0f || p->step_time + dt >= distance / speed;
        if (done) *v = (aw_velocity){0, 0, 0};
        return done;
    }
    case AW_ACTION_ATTACK:
        *v = (aw_velocity){0, 0, 0};
        shoot(a, self, s, t, pos, st->target, t->weapon_damage, AW_ACTION_ATTACK);
        s->cooldowns[AW_COOLDOWN_ATTACK] = t->fire_interval;
        return true;
    case AW_ACTION_AIMED_SHOT:
        *v = (aw_velocity){0, 0, 0};
        shoot(a, self, s, t, pos, st->target, t->weapon_damage * t->aimed_multiplier, AW_ACTION_AIMED_SHOT);
        s->cooldowns[AW_COOLDOWN_ATTACK] = t->aimed_interval;
        return true;
    case AW_ACTION_COVER_FIRE: {
        *v = (aw_velocity){0, 0, 0};
        if (s->cooldowns[AW_COOLDOWN_ATTACK] <= 0.0f && s->ammo) {
            if (!recheck(a, self, pos, v, s, p, st, t)) return true;
            if (st->target) shoot(a, self, s, t, pos, st->target, t->weapon_damage * 0.5f, AW_ACTION_COVER_FIRE);
            else s->ammo--, a->w->stats.shots++; /* suppressing a place: rounds spent, nobody hit */
            s->cooldowns[AW_COOLDOWN_ATTACK] = t->fire_interval;
        }
        float duration = st->duration > 0.0f ? st->duration : 2.0f;
        return p->step_time + dt >= duration || !s->ammo;
    }
    case AW_ACTION_THROW_EXPLOSIVE:
        *v = (aw_velocity){0, 0, 0};
        if (s->explosives) {
            s->explosives--;
            spawn_projectile(a, self, s->team, pos, st->position, THROW_SPEED, t->explosive_damage,
                             t->explosive_radius > 0.0f ? t->explosive_radius : 0.1f, EXPLOSIVE_LIFE_MAX);
        }
        s->cooldowns[AW_COOLDOWN_EXPLOSIVE] = t->explosive_interval;
        return true;
    case AW_ACTION_HEAL: {
        if (st->target && st->target != self) {
            if (!target_position_now(a, st->target, &tp)) {
                refuse(a, self, p, st, v, AW_INVALID_TARGET); /* gone since the start, where it was found */
                return true;
            }
            if (!steer(pos, tp, speed, TOUCH_RANGE, v) && p->step_time <= STEP_TIMEOUT) return false;
            if (!recheck(a, self, pos, v, s, p, st, t)) return true;
        }
        *v = (aw_velocity){0, 0, 0};
        if (s->medkits) {
            s->medkits--;
            /* A plan may ask for less than one medkit gives, never for more. */
            float heal = st->amount > 0.0f && st->amount < t->heal_amount ? st->amount : t->heal_amount;
            ai_record r = {.kind = AI_RECORD_HEAL, .source = self, .target = st->target ? st->target : self,
                           .amount = heal, .action = AW_ACTION_HEAL};
            push(a, &r);
        }
        s->cooldowns[AW_COOLDOWN_HEAL] = t->heal_interval;
        return true;
    }
    case AW_ACTION_REVIVE: {
        if (!target_position_now(a, st->target, &tp)) {
            refuse(a, self, p, st, v, AW_INVALID_TARGET); /* gone since the start, where it was found */
            return true;
        }
        if (!steer(pos, tp, speed, TOUCH_RANGE, v) && p->step_time <= STEP_TIMEOUT) return false;
        if (!recheck(a, self, pos, v, s, p, st, t)) return true;
        *v = (aw_velocity){0, 0, 0};
        ai_record r = {.kind = AI_RECORD_REVIVE, .source = self, .target = st->target, .action = AW_ACTION_REVIVE};
        push(a, &r);
        s->cooldowns[AW_COOLDOWN_HEAL] = t->heal_interval;
        return true;
    }
    case AW_ACTION_RELOAD:
        *v = (aw_velocity){0, 0, 0};
        if (p->step_time + dt < RELOAD_TIME) return false;
        if (!recheck(a, self, pos, v, s, p, st, t)) return true;
        {
            uint32_t need = t->magazine > s->ammo ? (uint32_t)(t->magazine - s->ammo) : 0u;
            uint32_t take = need < s->reserve_ammo ? need : s->reserve_ammo;
            s->ammo = (uint16_t)(s->ammo + take);
            s->reserve_ammo = (uint16_t)(s->reserve_ammo - take);
        }
        return true;
    case AW_ACTION_SCAN:
        *v = (aw_velocity){0, 0, 0};
        if (p->step_time == 0.0f) s->cooldowns[AW_COOLDOWN_SCAN] = t->scan_interval;
        return p->step_time + dt >= (st->duration > 0.0f ? st->duration : 1.0f);
    case AW_ACTION_WAIT:
        *v = (aw_velocity){0, 0, 0};
        return p->step_time + dt >= st->duration;
    case AW_ACTION_MARK_TARGET:
        s->cooldowns[AW_COOLDOWN_SCAN] = t->scan_interval;
        return true;
    default: return true;
    }
}

/* Every cooldown counted down by dt, stopping at 0 (one at or below 0 stays as it is): four slots
 * at once without a branch each (whether a slot is running is close to random per agent, and the
 * mispredicted branches cost more than the arithmetic). The same arithmetic, so the same bits. */
static inline void cooldowns_tick(float *c, float dt) {
#if defined(__SSE2__)
    _Static_assert(AW_COOLDOWN_COUNT >= 4, "four slots are loaded at once");
    __m128 v = _mm_loadu_ps(c), d = _mm_set1_ps(dt);
    __m128 on = _mm_cmpgt_ps(v, _mm_setzero_ps());
    __m128 next = _mm_and_ps(_mm_sub_ps(v, d), _mm_cmpgt_ps(v, d));
    _mm_storeu_ps(c, _mm_or_ps(_mm_and_ps(on, next), _mm_andnot_ps(on, v)));
    for (int i = 4; i < AW_COOLDOWN_COUNT; i++)
        if (c[i] > 0.0f) c[i] = c[i] > dt ? c[i] - dt : 0.0f;
#else
    for (int i = 0; i < AW_COOLDOWN_COUNT; i++)
        if (c[i] > 0.0f) c[i] = c[i] > dt ? c[i] - dt : 0.0f;
#endif
}

static void action_piece(aw_system_ctx *ctx, const aw_iter *it) {
    aw_ai *ai = ctx->user;
    const aw_position *pos = AW_COLUMN(it, aw_position, 0);
    aw_velocity *vel = AW_COLUMN(it, aw_velocity, 1);
    aw_ai_agent *agents = AW_COLUMN(it, aw_ai_agent, 2);
    aw_ai_plan *plans = AW_COLUMN(it, aw_ai_plan, 3);
    act a = {.ctx = ctx, .ai = ai, .w = ai_worker_of(ai, ctx->worker), .task = ctx->task};
    float dt = ai->desc.fixed_dt > 0.0f ? ai->desc.fixed_dt : ctx->dt;
    (void)aw_cmd_buffer_reserve(ctx->commands, (size_t)it->count * SPAWN_BYTES, it->count); /* one spawn a row at most */
    for (uint32_t i = 0; i < it->count; i++) {
        aw_ai_agent *s = &agents[i];
        aw_ai_plan *p = &plans[i];
        aw_entity e = it->entities[i];
        if (i + PLAN_ACT_AHEAD < it->count) {
            __builtin_prefetch(&plans[i + PLAN_ACT_AHEAD], 1);
            __builtin_prefetch((const char *)&plans[i + PLAN_ACT_AHEAD] + 64, 1);
        }
        cooldowns_tick(s->cooldowns, dt);
        if (s->hp <= 0.0f) {
            vel[i] = (aw_velocity){0, 0, 0};
            if (s->respawn_timer > 0.0f) {
                s->respawn_timer -= dt;
                if (s->respawn_timer <= 0.0f) {
                    s->respawn_timer = -1.0f; /* asked once */
                    ai_record r = {.kind = AI_RECORD_DEATH, .source = e, .target = e, .position = pos[i], .team = s->team};
                    push(&a, &r);
                }
            }
            continue;
        }
        if (p->step >= p->intent.step_count) {
            vel[i] = (aw_velocity){0, 0, 0};
            if (p->intent.step_count && !p->trigger) p->trigger = AW_TRIGGER_PLAN_FINISHED + 1;
            p->intent.step_count = 0;
            p->step = 0;
            continue;
        }
        const aw_action_step *st = &p->intent.steps[p->step];
        const aw_agent_type *t = ai_type_of(ai, s->agent_type);
        if (p->step_time == 0.0f) {
            uint32_t slot = ai_kind_cooldown((aw_action_kind)st->kind);
            if (slot < AW_COOLDOWN_COUNT && s->cooldowns[slot] > 0.0f && s->cooldowns[slot] <= COOLDOWN_WAIT) {
                vel[i] = (aw_velocity){0, 0, 0}; /* the next shot of a burst: wait for the trigger */
                continue;
            }
            if (!check(&a, e, &pos[i], &vel[i], s, p, st, t)) continue;
            a.w->stats.steps_run++;
        }
        bool done = execute(&a, e, pos[i], &vel[i], s, p, st, t, dt);
        if (done) {
            if (p->intent.step_count) p->step++; /* else refused on a later frame: the plan is gone */
            p->step_time = 0.0f;
        } else {
            p->step_time += dt > 0.0f ? dt : 1e-6f;
        }
    }
}

/* ---- projectiles: fly, hit the first enemy they touch (rounds) or burst when their time is up
 * (explosives) */

static void projectile_piece(aw_system_ctx *ctx, const aw_iter *it) {
    aw_ai *ai = ctx->user;
    aw_position *pos = AW_COLUMN(it, aw_position, 0);
    const aw_velocity *vel = AW_COLUMN(it, aw_velocity, 1);
    aw_ai_projectile *pr = AW_COLUMN(it, aw_ai_projectile, 2);
    ai_worker *w = ai_worker_of(ai, ctx->worker);
    uint32_t seq = 0;
    float dt = ai->desc.fixed_dt > 0.0f ? ai->desc.fixed_dt : ctx->dt;
    const aw_aabb *b = &ai->desc.bounds;
    (void)aw_cmd_buffer_reserve(ctx->commands, (size_t)it->count * aw_cmd_size(0), 0); /* one destroy a row at most */
    for (uint32_t i = 0; i < it->count; i++) {
        aw_entity e = it->entities[i];
        pos[i].x += vel[i].x * dt;
        pos[i].y += vel[i].y * dt;
        pos[i].z += vel[i].z * dt;
        pr[i].life -= dt;
        bool gone = false;
        if (pr[i].radius <= 0.0f) {
            float step = sqrtf(vel[i].x * vel[i].x + vel[i].z * vel[i].z) * dt;
            aw_physics_hit hit;
            /* One set with k = 1: the lean walk, the same answer as aw_physics_query_nearest. */
            aw_physics_nearest_set set = {.mask = enemy_mask(pr[i].team), .k = 1, .out = &hit};
            aw_physics_query_nearest_sets(ai->physics, pos[i], HIT_RADIUS + step * 0.5f, NULL, &set, 1);
            if (set.count) {
                ai_record r = {.key = record_key(SYS_PROJECTILES, ctx->task, seq++), .kind = AI_RECORD_DAMAGE,
                               .source = pr[i].owner, .target = hit.entity, .amount = pr[i].damage,
                               .action = AW_ACTION_ATTACK, .team = pr[i].team};
                ai_record_push(w, &r);
                gone = true;
            }
        }
        if (!gone && pr[i].life <= 0.0f) {
            if (pr[i].radius > 0.0f) {
                ai_record r = {.key = record_key(SYS_PROJECTILES, ctx->task, seq++), .kind = AI_RECORD_SPLASH,
                               .source = pr[i].owner, .position = pos[i], .amount = pr[i].damage,
                               .radius = pr[i].radius, .action = AW_ACTION_THROW_EXPLOSIVE, .team = pr[i].team};
                ai_record_push(w, &r);
            }
            gone = true;
        }
        if (!gone && (pos[i].x < b->min.x || pos[i].x > b->max.x || pos[i].z < b->min.z || pos[i].z > b->max.z))
            gone = true;
        if (gone) {
            aw_cmd_destroy(ctx->commands, e);
            w->stats.projectiles_expired++;
        }
    }
}

/* ---- effects: the serial pass */

static int record_cmp(const void *a, const void *b) {
    uint64_t x = ((const ai_record *)a)->key, y = ((const ai_record *)b)->key;
    return x < y ? -1 : x > y;
}

static void damage(aw_ai *ai, aw_system_ctx *ctx, aw_entity source, aw_entity target, float amount, uint8_t kind) {
    aw_ai_agent *t = aw_entity_get(ai->world, target, ai->ids.agent);
    if (!t) {
        aw_clear_error();
        return;
    }
    if (t->hp <= 0.0f || amount <= 0.0f) return;
    t->hp -= amount;
    t->damage_taken += amount;
    aw_ai_damage ev = {.source = source, .target = target, .amount = amount, .kind = kind};
    aw_event_send(ai->world, ai->ids.damage_event, &ev, sizeof ev);
    aw_ai_plan *p = aw_entity_get(ai->world, target, ai->ids.plan);
    if (p && !p->trigger) p->trigger = AW_TRIGGER_DAMAGED + 1;
    if (t->hp <= 0.0f) {
        const aw_agent_type *type = ai_type_of(ai, t->agent_type);
        t->hp = 0.0f;
        t->stance = AW_STANCE_DOWNED;
        t->respawn_timer = type->respawn_time > 0.0f ? type->respawn_time : 1e-6f;
        if (p) p->intent.step_count = 0;
        ai->stats.deaths++;
    }
    (void)ctx;
}

static void respawn(aw_ai *ai, aw_system_ctx *ctx, const ai_record *r) {
    const aw_ai_agent *old = aw_entity_get_const(ai->world, r->target, ai->ids.agent);
    if (!old) {
        aw_clear_error();
        return;
    }
    uint32_t type = old->agent_type;
    uint8_t team = old->team;
    const aw_agent_type *t = ai_type_of(ai, type);
    /* Its orchestrator (and the fallback) may hold something for it, such as a request in flight. */
    const aw_orchestrator *o = &ai->orchestrators[t->orchestrator];
    if (o->forget) o->forget(o->ctx, r->target);
    if ((unsigned)o->fallback < AW_ORCHESTRATOR_KIND_COUNT && ai->orchestrators[o->fallback].forget)
        ai->orchestrators[o->fallback].forget(ai->orchestrators[o->fallback].ctx, r->target);
    aw_position where = r->position;
    if (team < AW_AI_MAX_TEAMS && ai->has_spawn_area[team]) {
        const aw_aabb *s = &ai->spawn_areas[team];
        uint64_t h = aw_hash_u64(r->target ^ (ctx->frame * 0x9e3779b97f4a7c15ull));
        float u = (float)(h & 0xffffff) / 16777216.0f, v = (float)((h >> 24) & 0xffffff) / 16777216.0f;
        where = (aw_position){s->min.x + (s->max.x - s->min.x) * u, s->min.y, s->min.z + (s->max.z - s->min.z) * v};
    }
    aw_cmd_buffer *cb = ctx->commands;
    aw_cmd_destroy(cb, r->target);
    aw_entity e = aw_cmd_create(cb);
    if (!e) return;
    ai_agent_commands(ai, cb, e, type, team, where);
    ai->stats.respawns++;
}

/* Room for this frame's respawns before any is recorded: as many as the vitals pass saw due, and
 * never less than a share of all agents, so the buffer takes its size in the first frame instead
 * of in whichever later frame first has more respawns than any before. Returns the agent count. */
static uint32_t reserve_respawns(aw_ai *ai, aw_cmd_buffer *cb) {
    uint32_t agents = 0, due = 0;
    for (uint32_t i = 0; i < ai->worker_count; i++) {
        agents += ai->workers[i].agents_seen;
        due += ai->workers[i].respawning_seen;
        ai->workers[i].agents_seen = ai->workers[i].respawning_seen = 0;
    }
    uint32_t room = agents / RESPAWN_ROOM_SHARE > due ? agents / RESPAWN_ROOM_SHARE : due;
    if (room) (void)aw_cmd_buffer_reserve(cb, (size_t)room * ai_respawn_bytes(), room);
    return agents;
}

/* The same for the event queues: room for this frame's records (a splash counted once, though it
 * may hurt up to SPLASH_HITS), and never less than a quarter of the agents damaged and a sixteenth
 * refused in one frame. */
static void reserve_events(aw_ai *ai, uint32_t n, uint32_t agents) {
    uint32_t damage = 0, refusals = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t kind = ai->merged[i].kind;
        damage += kind == AI_RECORD_DAMAGE || kind == AI_RECORD_SPLASH;
        refusals += kind == AI_RECORD_REFUSAL;
    }
    if (damage < agents / 4u) damage = agents / 4u;
    if (refusals < agents / RESPAWN_ROOM_SHARE) refusals = agents / RESPAWN_ROOM_SHARE;
    (void)aw_event_reserve(ai->world, ai->ids.damage_event, damage);
    (void)aw_event_reserve(ai->world, ai->ids.refusal_event, refusals);
}

/* The records of one piece (one system and task) sit together in one worker's buffer, in sequence
 * order, so ordering the pieces orders every key: a counting sort by (system, task), stable over
 * the workers' buffers, then a check. Returns the records merged, or 0 to leave it to the sort by
 * key (nothing to merge, no room, or an order the check refuses). */
static uint32_t records_merge_by_piece(aw_ai *ai, uint32_t total) {
    if (total < 2 || total > ai->merged_capacity) return 0;
    uint32_t most_system = 0, most_task = 0;
    for (uint32_t k = 0; k < ai->worker_count; k++)
        for (uint32_t i = 0; i < ai->workers[k].record_count; i++) {
            uint64_t key = ai->workers[k].records[i].key;
            uint32_t system = (uint32_t)(key >> 56), task = (uint32_t)(key >> 24) & 0xffffffffu;
            if (system > most_system) most_system = system;
            if (task > most_task) most_task = task;
        }
    if (most_task >= (1u << 20)) return 0;
    uint32_t tasks = most_task + 1, pieces = (most_system + 1) * tasks;
    if (pieces + 1 > ai->piece_start_capacity) {
        uint32_t cap = (pieces + 1) * 2;
        uint32_t *grown = aw_realloc(ai->allocator, ai->piece_start, (size_t)ai->piece_start_capacity * sizeof(uint32_t),
                                     (size_t)cap * sizeof(uint32_t), 4);
        if (!grown) return 0;
        ai->piece_start = grown;
        ai->piece_start_capacity = cap;
    }
    uint32_t *start = ai->piece_start;
    memset(start, 0, (size_t)(pieces + 1) * sizeof(uint32_t));
#define PIECE_OF(key) ((uint32_t)((key) >> 56) * tasks + ((uint32_t)((key) >> 24) & 0xffffffffu))
    for (uint32_t k = 0; k < ai->worker_count; k++)
        for (uint32_t i = 0; i < ai->workers[k].record_count; i++) start[PIECE_OF(ai->workers[k].records[i].key) + 1]++;
    for (uint32_t b = 0; b < pieces; b++) start[b + 1] += start[b];
    for (uint32_t k = 0; k < ai->worker_count; k++)
        for (uint32_t i = 0; i < ai->workers[k].record_count; i++) {
            const ai_record *r = &ai->workers[k].records[i];
            ai->merged[start[PIECE_OF(r->key)]++] = *r;
        }
#undef PIECE_OF
    for (uint32_t i = 1; i < total; i++)
        if (!(ai->merged[i - 1].key < ai->merged[i].key)) return 0;
    return total;
}

static void effects_run(aw_system_ctx *ctx) {
    aw_ai *ai = ctx->user;
    uint32_t agents = reserve_respawns(ai, ctx->commands);
    uint32_t total = 0;
    for (uint32_t i = 0; i < ai->worker_count; i++) total += ai->workers[i].record_count;
    /* Growth happens at a new high only, and then to twice the frame's total: a record count that
     * wanders up to a late peak would otherwise grow the buffers in a steady-state frame. */
    uint32_t ahead = total <= UINT32_MAX / 2 ? total * 2 : total;
    if (total > ai->merged_capacity) {
        uint32_t cap = ai->merged_capacity ? ai->merged_capacity : 1024;
        while (cap < ahead) cap *= 2;
        ai_record *grown = aw_realloc(ai->allocator, ai->merged, (size_t)ai->merged_capacity * sizeof(ai_record),
                                      (size_t)cap * sizeof(ai_record), 8);
        if (grown) {
            ai->merged = grown;
            ai->merged_capacity = cap;
        }
    }
    /* Which worker records how much depends on work stealing, so a worker's buffer could first
     * outgrow itself in any frame. Sizing every buffer to twice the frame's total (the same for any
     * thread count) makes growth happen only when the simulation itself doubles its highest count. */
    for (uint32_t i = 0; i < ai->worker_count; i++)
        if (total > ai->workers[i].record_capacity) (void)worker_reserve(&ai->workers[i], ahead);
    uint32_t n = records_merge_by_piece(ai, total);
    if (!n) {
        for (uint32_t i = 0; i < ai->worker_count; i++) {
            ai_worker *w = &ai->workers[i];
            uint32_t take = w->record_count;
            if (n + take > ai->merged_capacity) take = ai->merged_capacity - n; /* out of memory: drop the rest */
            if (take) memcpy(ai->merged + n, w->records, (size_t)take * sizeof(ai_record));
            n += take;
        }
        if (n > 1) qsort(ai->merged, n, sizeof(ai_record), record_cmp);
    }
    for (uint32_t i = 0; i < ai->worker_count; i++) ai->workers[i].record_count = 0;
    reserve_events(ai, n, agents);
    for (uint32_t i = 0; i < n; i++) {
        const ai_record *r = &ai->merged[i];
        switch ((ai_record_kind)r->kind) {
        case AI_RECORD_DAMAGE: damage(ai, ctx, r->source, r->target, r->amount, r->action); break;
        case AI_RECORD_HEAL: {
            aw_ai_agent *t = aw_entity_get(ai->world, r->target, ai->ids.agent);
            if (!t) aw_clear_error();
            else if (t->hp > 0.0f) t->hp = t->hp + r->amount < t->max_hp ? t->hp + r->amount : t->max_hp;
            break;
        }
        case AI_RECORD_REVIVE: {
            aw_ai_agent *t = aw_entity_get(ai->world, r->target, ai->ids.agent);
            if (!t) aw_clear_error();
            else if (t->hp <= 0.0f && t->respawn_timer >= 0.0f) {
                t->hp = t->max_hp * 0.3f;
                t->stance = AW_STANCE_STAND;
                t->respawn_timer = 0.0f;
                aw_ai_plan *p = aw_entity_get(ai->world, r->target, ai->ids.plan);
                if (p && !p->trigger) p->trigger = AW_TRIGGER_DAMAGED + 1;
            }
            break;
        }
        case AI_RECORD_SPLASH: {
            aw_entity hits[SPLASH_HITS];
            uint32_t count = 0;
            aw_spatial_filter f = {.mask = enemy_mask(r->team), .flags = AW_QUERY_CENTERS};
            aw_physics_query_radius(ai->physics, r->position, r->radius, &f, hits, SPLASH_HITS, &count);
            if (count > SPLASH_HITS) count = SPLASH_HITS;
            for (uint32_t h = 0; h < count; h++) {
                aw_vec3 tp;
                if (!target_position(ai, hits[h], &tp)) continue;
                float falloff = 1.0f - 0.5f * dist3(tp, r->position) / r->radius;
                damage(ai, ctx, r->source, hits[h], r->amount * falloff, r->action);
            }
            break;
        }
        case AI_RECORD_REFUSAL: {
            aw_ai_refusal ev = {.agent = r->source, .target = r->target, .frame = ctx->frame, .plan_id = r->plan_id,
                                .step_index = r->step_index, .kind = r->action, .category = r->category,
                                .source = r->source_kind};
            aw_event_send(ai->world, ai->ids.refusal_event, &ev, sizeof ev);
            break;
        }
        case AI_RECORD_DEATH: respawn(ai, ctx, r); break;
        }
    }
    vitals_reserve(ai);
    ai->time += ai->desc.fixed_dt > 0.0f ? ai->desc.fixed_dt : ctx->dt;
    ai->frame = ctx->frame + 1;
}

aw_status aw_ai_register_systems(aw_ai *ai) {
    if (!ai) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_register_systems: ai is NULL");
    if (ai->systems_registered) return aw_error(AW_ERR_ALREADY_PRESENT, "aw_ai_register_systems: already registered");
    const aw_ai_ids *id = &ai->ids;
    aw_resource pres = ai->pids.resource, ares = id->resource;
    aw_resource reads_both[] = {pres, ares};
    aw_system_desc vit = {.name = "ai_vitals",
                          .phase = AW_PHASE_PERCEPTION - 50u,
                          .query = {AW_TERMS(AW_READ(id->position), AW_READ(id->agent),
                                             AW_OPTIONAL(id->perception, AW_ACCESS_READ))},
                          .each = vitals_piece,
                          .grain = ai->desc.grain,
                          .write_resources = &ares,
                          .write_resource_count = 1,
                          .user = ai};
    aw_system_desc per = {.name = "ai_perception",
                          .phase = AW_PHASE_PERCEPTION,
                          .query = {AW_TERMS(AW_READ(id->position), AW_READ(id->agent), AW_WRITE(id->perception))},
                          .run = perception_run,
                          .read_resources = reads_both,
                          .read_resource_count = 2,
                          .user = ai};
    aw_system_desc choose = {.name = "ai_plan_choose",
                             .phase = AW_PHASE_AI_PLANNING - 50u,
                             .query = {AW_TERMS(AW_READ(id->position), AW_READ(id->velocity), AW_READ(id->agent),
                                                AW_WRITE(id->plan), AW_WRITE(id->perception))},
                             .each = plan_choose_piece,
                             .grain = ai->desc.grain,
                             .read_resources = reads_both,
                             .read_resource_count = 2,
                             .user = ai};
    aw_system_desc plan = {.name = "ai_planning",
                           .phase = AW_PHASE_AI_PLANNING,
                           .query = {AW_TERMS(AW_READ(id->position), AW_READ(id->velocity), AW_READ(id->agent),
                                              AW_WRITE(id->plan), AW_WRITE(id->perception))},
                           .run = planning_run,
                           .read_resources = reads_both,
                           .read_resource_count = 2,
                           .user = ai};
    aw_system_desc action = {.name = "ai_action",
                             .phase = AW_PHASE_SIMULATION,
                             .query = {AW_TERMS(AW_READ(id->position), AW_WRITE(id->velocity), AW_WRITE(id->agent),
                                                AW_WRITE(id->plan))},
                             .each = action_piece,
                             .grain = ai->desc.grain,
                             .read_resources = reads_both,
                             .read_resource_count = 2,
                             .user = ai};
    aw_system_desc proj = {.name = "ai_projectiles",
                           .phase = AW_PHASE_POST_SIMULATION,
                           .query = {AW_TERMS(AW_WRITE(id->position), AW_READ(id->velocity), AW_WRITE(id->projectile))},
                           .each = projectile_piece,
                           .grain = ai->desc.grain,
                           .read_resources = reads_both,
                           .read_resource_count = 2,
                           .user = ai};
    aw_component fx_writes[] = {id->agent, id->plan, id->velocity};
    aw_component fx_reads[] = {id->position};
    const char *after[] = {"ai_projectiles"};
    aw_system_desc fx = {.name = "ai_effects",
                         .phase = AW_PHASE_POST_SIMULATION,
                         .run = effects_run,
                         .writes = fx_writes,
                         .write_count = 3,
                         .reads = fx_reads,
                         .read_count = 1,
                         .read_resources = &pres,
                         .read_resource_count = 1,
                         .write_resources = &ares,
                         .write_resource_count = 1,
                         .after = after,
                         .after_count = 1,
                         .user = ai};
    if (!aw_system_register(ai->world, &vit) || !aw_system_register(ai->world, &per) ||
        !aw_system_register(ai->world, &choose) || !aw_system_register(ai->world, &plan) ||
        !aw_system_register(ai->world, &action) || !aw_system_register(ai->world, &proj) ||
        !aw_system_register(ai->world, &fx))
        return aw_last_status();
    ai->systems_registered = true;
    return AW_OK;
}
