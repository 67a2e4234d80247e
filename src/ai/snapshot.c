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

static uint32_t contacts(const aw_ai *ai, aw_entity self, aw_vec3 pos, float radius, uint32_t mask, double time,
                         bool los, aw_ai_contact *out) {
    aw_physics_hit hits[AW_AI_MAX_CONTACTS];
    uint32_t n = 0;
    aw_spatial_filter f = {.mask = mask, .exclude = &self, .exclude_count = 1};
    if (aw_physics_query_nearest(ai->physics, pos, AW_AI_MAX_CONTACTS, radius, &f, hits, &n)) return 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const aw_ai_agent *a = aw_entity_get_const(ai->world, hits[i].entity, ai->ids.agent);
        const aw_position *p = a ? aw_entity_get_const(ai->world, hits[i].entity, ai->ids.position) : NULL;
        if (!p) {
            aw_clear_error();
            continue;
        }
        aw_ai_contact *c = &out[k++];
        c->id = hits[i].entity;
        c->position = *p;
        c->hp = a->hp;
        c->distance = hits[i].distance;
        c->last_seen = (float)time;
        c->in_cover = a->stance == AW_STANCE_IN_COVER;
        c->downed = a->hp <= 0.0f;
        c->visible = true;
        if (los) {
            aw_entity skip[2] = {self, c->id};
            aw_spatial_filter lf = {.exclude = skip, .exclude_count = 2, .flags = AW_RAY_SKIP_ENTITIES};
            c->visible = aw_physics_line_of_sight(ai->physics, pos, *p, &lf);
        }
    }
    return k;
}

static float box_distance(const aw_aabb *b, aw_vec3 p) {
    float dx = p.x < b->min.x ? b->min.x - p.x : (p.x > b->max.x ? p.x - b->max.x : 0.0f);
    float dz = p.z < b->min.z ? b->min.z - p.z : (p.z > b->max.z ? p.z - b->max.z : 0.0f);
    return sqrtf(dx * dx + dz * dz);
}

aw_status ai_snapshot_fill(const aw_ai *ai, aw_entity e, const aw_position *pos, const aw_velocity *vel,
                           const aw_ai_agent *state, double time, uint64_t frame, bool enemies,
                           aw_world_snapshot *out) {
    const aw_agent_type *t = ai_type_of(ai, state->agent_type);
    memset(out, 0, sizeof *out);
    ai_snapshot_self(ai, e, pos, vel, state, time, frame, out);
    uint8_t team = state->team < AW_AI_MAX_TEAMS ? state->team : 0;
    out->commander = ai->commanders[team];
    out->objective = ai->objectives[team];
    uint32_t own = AW_AI_TEAM_LAYER(team), all = 0;
    for (uint32_t i = 0; i < AW_AI_MAX_TEAMS; i++) all |= AW_AI_TEAM_LAYER(i);
    float r = t->perception_radius;
    out->ally_count = contacts(ai, e, *pos, r, own, time, false, out->allies);
    out->enemy_count = enemies ? contacts(ai, e, *pos, r, all & ~own, time, ai->desc.perception_los, out->enemies) : 0;

    /* Nearest points of interest and boxes: insertion into short sorted lists. */
    float pd[AW_AI_MAX_POIS];
    for (uint32_t i = 0; i < ai->poi_count; i++) {
        const aw_ai_poi *poi = &ai->pois[i];
        float dx = poi->position.x - pos->x, dz = poi->position.z - pos->z, d = sqrtf(dx * dx + dz * dz);
        if (d > r) continue;
        uint32_t n = out->poi_count, j = n < AW_AI_MAX_POIS ? n : AW_AI_MAX_POIS - 1;
        if (n == AW_AI_MAX_POIS && d >= pd[j]) continue;
        while (j > 0 && pd[j - 1] > d) {
            pd[j] = pd[j - 1];
            out->pois[j] = out->pois[j - 1];
            j--;
        }
        pd[j] = d;
        out->pois[j] = *poi;
        if (n < AW_AI_MAX_POIS) out->poi_count++;
    }
    float od[AW_AI_MAX_OBSTACLES];
    for (uint32_t i = 0; i < ai->obstacle_count; i++) {
        float d = box_distance(&ai->obstacles[i], *pos);
        if (d > r) continue;
        uint32_t n = out->obstacle_count, j = n < AW_AI_MAX_OBSTACLES ? n : AW_AI_MAX_OBSTACLES - 1;
        if (n == AW_AI_MAX_OBSTACLES && d >= od[j]) continue;
        while (j > 0 && od[j - 1] > d) {
            od[j] = od[j - 1];
            out->obstacles[j] = out->obstacles[j - 1];
            j--;
        }
        od[j] = d;
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
    return ai_snapshot_fill(ai, agent, p, v, a, ai->time, ai->frame, true, out);
}
