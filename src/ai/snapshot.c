/* Perception into a WorldSnapshot: the agent's own state, its team's commander and objective,
 * allies and enemies from k-nearest grid queries (team layers pick the side), nearby points of
 * interest and obstacle boxes. */
#include "ai/ai_internal.h"

#include <math.h>
#include <string.h>

static void fill_self(const aw_ai_agent *s, const aw_agent_type *t, aw_entity e, aw_vec3 pos, aw_vec3 vel,
                      aw_ai_self *out) {
    out->id = e;
    out->position = pos;
    out->velocity = vel;
    out->hp = s->hp;
    out->max_hp = s->max_hp > 0 ? s->max_hp : t->max_hp;
    out->morale = s->morale;
    for (int i = 0; i < AW_COOLDOWN_COUNT; i++) out->cooldowns[i] = s->cooldowns[i];
    out->ammo = s->ammo;
    out->max_ammo = t->magazine;
    out->reserve_ammo = s->reserve_ammo;
    out->explosives = s->explosives;
    out->medkits = s->medkits;
    out->stance = s->stance;
    out->team = s->team;
    out->agent_type = s->agent_type;
}

void ai_snapshot_self(const aw_ai *ai, aw_entity e, const aw_position *pos, const aw_velocity *vel,
                      const aw_ai_agent *state, double time, uint64_t frame, aw_world_snapshot *out) {
    const aw_agent_type *t = ai_type_of(ai, state->agent_type);
    out->time = time;
    out->frame = frame;
    fill_self(state, t, e, *pos, vel ? *vel : (aw_vec3){0, 0, 0}, &out->self);
    out->bounds = ai->desc.bounds;
}

/* Contacts from grid hits: state from this frame's vitals (else the components); hits that are no
 * longer agents (destroyed since the grid was built) are left out. */
static uint32_t contacts(const aw_ai *ai, aw_entity self, aw_vec3 pos, const aw_physics_hit *hits, uint32_t n,
                         double time, uint64_t frame, bool los, aw_ai_contact *out) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        aw_entity e = hits[i].entity;
        aw_vec3 where;
        float hp;
        uint8_t stance;
        const ai_vital *v = ai_vital_of(ai, e, frame);
        if (v) {
            where = v->position, hp = v->hp, stance = v->stance;
        } else {
            const aw_ai_agent *a = aw_entity_get_const(ai->world, e, ai->ids.agent);
            const aw_position *p = a ? aw_entity_get_const(ai->world, e, ai->ids.position) : NULL;
            if (!p) {
                aw_clear_error();
                continue;
            }
            where = *p, hp = a->hp, stance = a->stance;
        }
        aw_ai_contact *c = &out[k++];
        c->id = e;
        c->position = where;
        c->hp = hp;
        c->distance = hits[i].distance;
        c->last_seen = (float)time;
        c->in_cover = stance == AW_STANCE_IN_COVER;
        c->downed = hp <= 0.0f;
        c->visible = true;
        if (los) {
            aw_entity skip[2] = {self, e};
            aw_spatial_filter lf = {.exclude = skip, .exclude_count = 2, .flags = AW_RAY_SKIP_ENTITIES};
            c->visible = aw_physics_line_of_sight(ai->physics, pos, where, &lf);
        }
    }
    return k;
}

static float box_distance(const aw_aabb *b, aw_vec3 p) {
    float dx = p.x < b->min.x ? b->min.x - p.x : (p.x > b->max.x ? p.x - b->max.x : 0.0f);
    float dz = p.z < b->min.z ? b->min.z - p.z : (p.z > b->max.z ? p.z - b->max.z : 0.0f);
    return sqrtf(dx * dx + dz * dz);
}

/* Nearer, or as near with a lower index: the order of a stable insertion in index order. */
static inline bool closer(float d, uint32_t i, float od, uint32_t oi) {
    return d < od || (d == od && i < oi);
}

/* First entry whose key is >= x (count when none). Each halving picks its half by a select, not
 * a branch: which half holds an agent's x is data, so a branch would mispredict about every other
 * step; the number of steps depends on the count alone. */
static uint32_t first_at_least(const ai_by_x *list, uint32_t count, float x) {
    if (!count) return 0;
    const ai_by_x *base = list;
    for (uint32_t n = count; n > 1; n -= n / 2) base = base[n / 2].x < x ? base + n / 2 : base;
    return (uint32_t)(base - list) + (base->x < x);
}

/* How far past its distance at the last plan the 8th nearest is looked for first. Agents move
 * between plans, so a tight margin fails (and walks again) more often; 0.5 m measured best of 0.5,
 * 1 and 2 m on the combat scenario (docs/performance.md). */
#define REACH_MARGIN 0.5f

/* The k nearest of one set within r, first within the hint's distance plus the margin when that is
 * shorter: k found there are the k nearest within r too (everything beyond lies further than all
 * of them), else the walk is repeated at r. Returns the k-th distance found (0: fewer than k). */
static float nearest_set(const aw_ai *ai, aw_vec3 pos, float r, const aw_spatial_filter *f,
                         aw_physics_nearest_set *set, float hint, bool *ok) {
    float guess = hint + REACH_MARGIN;
    bool done = false;
    if (hint > 0.0f && guess < r) {
        *ok = !aw_physics_query_nearest_sets(ai->physics, pos, guess, f, set, 1);
        done = *ok && set->count == set->k;
    }
    if (!done) *ok = !aw_physics_query_nearest_sets(ai->physics, pos, r, f, set, 1);
    return *ok && set->k && set->count == set->k ? set->out[set->k - 1].distance : 0.0f;
}

/* The contacts' vitals are rows of a table by entity index, scattered: a cache miss each when
 * contacts() reads them. Asked for as soon as a query has found them, they arrive while the next
 * query walks. */
static inline void prefetch_vitals(const aw_ai *ai, const aw_physics_hit *hits, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) ai_vital_prefetch(ai, hits[i].entity);
}

aw_status ai_snapshot_fill(const aw_ai *ai, aw_entity e, const aw_position *pos, const aw_velocity *vel,
                           const aw_ai_agent *state, double time, uint64_t frame, bool enemies,
                           ai_reach *reach, aw_world_snapshot *out) {
    const aw_agent_type *t = ai_type_of(ai, state->agent_type);
    memset(out, 0, sizeof *out);
    ai_snapshot_self(ai, e, pos, vel, state, time, frame, out);
    uint8_t team = state->team < AW_AI_MAX_TEAMS ? state->team : 0;
    out->commander = ai->commanders[team];
    out->objective = ai->objectives[team];
    uint32_t own = AW_AI_TEAM_LAYER(team), all = 0;
    for (uint32_t i = 0; i < AW_AI_MAX_TEAMS; i++) all |= AW_AI_TEAM_LAYER(i);
    float r = t->perception_radius;
    /* Allies and enemies in a walk each: apart, each walk visits only the cells holding its own
     * side (the grid's per-cell layer union) and stops at its own k-th distance. */
    aw_physics_hit ally_hits[AW_AI_MAX_CONTACTS], enemy_hits[AW_AI_MAX_CONTACTS];
    aw_physics_nearest_set allies = {.mask = own, .k = AW_AI_MAX_CONTACTS, .out = ally_hits};
    aw_physics_nearest_set foes = {.mask = all & ~own, .k = AW_AI_MAX_CONTACTS, .out = enemy_hits};
    aw_spatial_filter f = {.exclude = &e, .exclude_count = 1};
    bool ok = true;
    float ally_reach = nearest_set(ai, *pos, r, &f, &allies, reach ? reach->ally : 0.0f, &ok), enemy_reach = 0.0f;
    prefetch_vitals(ai, ally_hits, allies.count);
    if (ok && enemies) enemy_reach = nearest_set(ai, *pos, r, &f, &foes, reach ? reach->enemy : 0.0f, &ok);
    prefetch_vitals(ai, enemy_hits, foes.count);
    if (reach) {
        reach->ally = ally_reach;
        if (enemies) reach->enemy = enemy_reach;
    }
    if (ok) {
        out->ally_count = contacts(ai, e, *pos, ally_hits, allies.count, time, frame, false, out->allies);
        out->enemy_count = enemies ? contacts(ai, e, *pos, enemy_hits, foes.count, time, frame,
                                              ai->desc.perception_los, out->enemies)
                                   : 0;
    }

    /* Nearest points of interest and boxes: insertion into short sorted lists, ties to the lower
     * index; only the entries within reach along x are read (the lists are sorted by x). */
    float pd[AW_AI_MAX_POIS];
    uint32_t pi[AW_AI_MAX_POIS];
    for (uint32_t at = first_at_least(ai->pois_by_x, ai->poi_count, pos->x - r); at < ai->poi_count; at++) {
        if (ai->pois_by_x[at].x > pos->x + r) break;
        uint32_t i = ai->pois_by_x[at].index;
        const aw_ai_poi *poi = &ai->pois[i];
        float dx = poi->position.x - pos->x, dz = poi->position.z - pos->z, d = sqrtf(dx * dx + dz * dz);
        if (d > r) continue;
        uint32_t n = out->poi_count, j = n < AW_AI_MAX_POIS ? n : AW_AI_MAX_POIS - 1;
        if (n == AW_AI_MAX_POIS && !closer(d, i, pd[j], pi[j])) continue;
        while (j > 0 && closer(d, i, pd[j - 1], pi[j - 1])) {
            pd[j] = pd[j - 1];
            pi[j] = pi[j - 1];
            out->pois[j] = out->pois[j - 1];
            j--;
        }
        pd[j] = d;
        pi[j] = i;
        out->pois[j] = *poi;
        if (n < AW_AI_MAX_POIS) out->poi_count++;
    }
    float od[AW_AI_MAX_OBSTACLES];
    uint32_t oi[AW_AI_MAX_OBSTACLES];
    float reach_min = pos->x - r - ai->obstacle_max_width; /* a box starting before this ends before pos.x - r */
    for (uint32_t at = first_at_least(ai->obstacles_by_x, ai->obstacle_count, reach_min); at < ai->obstacle_count;
         at++) {
        if (ai->obstacles_by_x[at].x > pos->x + r) break;
        uint32_t i = ai->obstacles_by_x[at].index;
        float d = box_distance(&ai->obstacles[i], *pos);
        if (d > r) continue;
        uint32_t n = out->obstacle_count, j = n < AW_AI_MAX_OBSTACLES ? n : AW_AI_MAX_OBSTACLES - 1;
        if (n == AW_AI_MAX_OBSTACLES && !closer(d, i, od[j], oi[j])) continue;
        while (j > 0 && closer(d, i, od[j - 1], oi[j - 1])) {
            od[j] = od[j - 1];
            oi[j] = oi[j - 1];
            out->obstacles[j] = out->obstacles[j - 1];
            j--;
        }
        od[j] = d;
        oi[j] = i;
        out->obstacles[j] = ai->obstacles[i];
        if (n < AW_AI_MAX_OBSTACLES) out->obstacle_count++;
    }
    return AW_OK;
}

aw_status aw_ai_build_snapshot(const aw_ai *ai, aw_entity agent, aw_world_snapshot *out) {
    if (!ai || !out) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_build_snapshot: ai and out are required");
    const aw_ai_agent *a = aw_entity_get_const(ai->world, agent, ai->ids.agent);
    const aw_position *p = a ? aw_entity_get_const(ai->world, agent, ai->ids.position) : NULL;
    if (!p) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_build_snapshot: entity is not a live agent");
    const aw_velocity *v = aw_entity_get_const(ai->world, agent, ai->ids.velocity);
    if (!v) aw_clear_error();
    return ai_snapshot_fill(ai, agent, p, v, a, ai->time, ai->frame, true, NULL, out);
}
