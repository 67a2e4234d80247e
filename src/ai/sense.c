/* Senses: the facts and numeric inputs every orchestrator reads, computed once per plan from a
 * snapshot; and binding of step templates (symbolic target and place) into concrete steps. */
#include "ai/ai_internal.h"

#include <math.h>
#include <string.h>

static float dist3(aw_vec3 a, aw_vec3 b) {
    float dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
    return sqrtf(dx * dx + dy * dy + dz * dz);
}

static float clamp01(float x) {
    return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}

void ai_sense(const aw_world_snapshot *snap, const aw_agent_type *type, ai_senses *out) {
    memset(out, 0, sizeof *out);
    out->nearest_enemy = out->weakest_enemy = out->nearest_ally = out->downed_ally = out->wounded_ally = -1;
    const aw_ai_self *self = &snap->self;
    float max_hp = self->max_hp > 0 ? self->max_hp : type->max_hp;
    float hp = max_hp > 0 ? self->hp / max_hp : 0.0f;
    uint64_t f = 0;
#define SET(fact, cond) f |= (cond) ? (1ull << (fact)) : 0ull
    uint32_t live_enemies = 0, live_allies = 0;
    for (uint32_t i = 0; i < snap->enemy_count; i++) {
        const aw_ai_contact *c = &snap->enemies[i];
        if (c->downed) continue;
        live_enemies++;
        if (out->nearest_enemy < 0) out->nearest_enemy = (int8_t)i;
        if (out->weakest_enemy < 0 || c->hp < snap->enemies[out->weakest_enemy].hp) out->weakest_enemy = (int8_t)i;
    }
    for (uint32_t i = 0; i < snap->ally_count; i++) {
        const aw_ai_contact *c = &snap->allies[i];
        if (c->downed) {
            if (out->downed_ally < 0) out->downed_ally = (int8_t)i;
            continue;
        }
        live_allies++;
        if (out->nearest_ally < 0) out->nearest_ally = (int8_t)i;
        if (out->wounded_ally < 0 && c->hp < type->max_hp * 0.6f) out->wounded_ally = (int8_t)i;
    }
    float enemy_d = out->nearest_enemy >= 0 ? snap->enemies[out->nearest_enemy].distance : INFINITY;
    uint32_t clustered = 0;
    if (out->nearest_enemy >= 0) {
        aw_vec3 c = snap->enemies[out->nearest_enemy].position;
        for (uint32_t i = 0; i < snap->enemy_count; i++)
            if (!snap->enemies[i].downed && dist3(snap->enemies[i].position, c) <= type->explosive_radius) clustered++;
    }
    bool cover = snap->obstacle_count > 0;
    for (uint32_t i = 0; i < snap->poi_count && !cover; i++) cover = snap->pois[i].kind == AW_POI_COVER;
    float obj_d = snap->objective.kind != AW_OBJECTIVE_NONE ? dist3(self->position, snap->objective.position) : INFINITY;
    float obj_r = snap->objective.radius > 2.0f ? snap->objective.radius : 2.0f;

    SET(AI_FACT_ENEMY_VISIBLE, live_enemies > 0);
    SET(AI_FACT_ENEMY_IN_RANGE, enemy_d <= type->weapon_range);
    SET(AI_FACT_HAS_AMMO, self->ammo > 0);
    SET(AI_FACT_HAS_RESERVE, self->reserve_ammo > 0);
    SET(AI_FACT_LOW_HP, hp < type->low_hp);
    SET(AI_FACT_IN_COVER, self->stance == AW_STANCE_IN_COVER);
    SET(AI_FACT_ALLY_DOWNED, out->downed_ally >= 0);
    SET(AI_FACT_ALLY_WOUNDED, out->wounded_ally >= 0);
    SET(AI_FACT_HAS_EXPLOSIVE, self->explosives > 0);
    SET(AI_FACT_HAS_MEDKIT, self->medkits > 0);
    SET(AI_FACT_ENEMIES_CLUSTERED, clustered >= 3);
    SET(AI_FACT_OUTNUMBERED, live_enemies > live_allies + 1);
    SET(AI_FACT_LOW_MORALE, self->morale < 0.3f);
    SET(AI_FACT_ATTACK_READY, self->cooldowns[AW_COOLDOWN_ATTACK] <= 0.0f);
    SET(AI_FACT_EXPLOSIVE_READY, self->cooldowns[AW_COOLDOWN_EXPLOSIVE] <= 0.0f);
    SET(AI_FACT_HEAL_READY, self->cooldowns[AW_COOLDOWN_HEAL] <= 0.0f);
    SET(AI_FACT_ORDER_RETREAT, snap->commander.order == AW_ORDER_RETREAT);
    SET(AI_FACT_ORDER_ADVANCE, snap->commander.order == AW_ORDER_ADVANCE);
    SET(AI_FACT_ORDER_FOLLOW, snap->commander.order == AW_ORDER_FOLLOW && snap->commander.id != AW_ENTITY_NULL);
    SET(AI_FACT_ORDER_HOLD, snap->commander.order == AW_ORDER_HOLD);
    SET(AI_FACT_NEAR_OBJECTIVE, obj_d <= obj_r);
    SET(AI_FACT_HAS_OBJECTIVE, snap->objective.kind != AW_OBJECTIVE_NONE);
    SET(AI_FACT_COVER_NEARBY, cover);
    SET(AI_FACT_ENEMY_CLOSE, enemy_d <= type->weapon_range * 0.3f);
#undef SET
    out->facts = f;

    float *in = out->inputs;
    float radius = type->perception_radius > 0 ? type->perception_radius : 1.0f;
    in[AI_INPUT_ALWAYS] = 1.0f;
    in[AI_INPUT_HP] = clamp01(hp);
    in[AI_INPUT_AMMO] = type->magazine ? clamp01((float)self->ammo / (float)type->magazine) : 0.0f;
    in[AI_INPUT_RESERVE] = type->reserve_ammo ? clamp01((float)self->reserve_ammo / (float)type->reserve_ammo) : 0.0f;
    in[AI_INPUT_ENEMY_DISTANCE] = isfinite(enemy_d) ? clamp01(enemy_d / radius) : 1.0f;
    in[AI_INPUT_ENEMY_COUNT] = (float)live_enemies / (float)AW_AI_MAX_CONTACTS;
    in[AI_INPUT_ALLY_COUNT] = (float)live_allies / (float)AW_AI_MAX_CONTACTS;
    in[AI_INPUT_MORALE] = clamp01(self->morale);
    in[AI_INPUT_IN_COVER] = self->stance == AW_STANCE_IN_COVER ? 1.0f : 0.0f;
    in[AI_INPUT_ALLY_DOWNED] = out->downed_ally >= 0 ? 1.0f : 0.0f;
    in[AI_INPUT_EXPLOSIVES] = self->explosives > 0 ? 1.0f : 0.0f;
    in[AI_INPUT_MEDKITS] = self->medkits > 0 ? 1.0f : 0.0f;
    in[AI_INPUT_ATTACK_READY] = self->cooldowns[AW_COOLDOWN_ATTACK] <= 0.0f ? 1.0f : 0.0f;
    in[AI_INPUT_CLUSTERED] = clamp01((float)clustered / 4.0f);
    in[AI_INPUT_OUTNUMBERED] = live_enemies > live_allies + 1 ? 1.0f : 0.0f;
    in[AI_INPUT_RANGE_RATIO] = isfinite(enemy_d) && type->weapon_range > 0 ? clamp01(enemy_d / type->weapon_range) : 1.0f;
    in[AI_INPUT_HEAL_READY] = self->cooldowns[AW_COOLDOWN_HEAL] <= 0.0f ? 1.0f : 0.0f;
    in[AI_INPUT_EXPLOSIVE_READY] = self->cooldowns[AW_COOLDOWN_EXPLOSIVE] <= 0.0f ? 1.0f : 0.0f;
    in[AI_INPUT_OBJECTIVE_DISTANCE] = isfinite(obj_d) ? clamp01(obj_d / radius) : 1.0f;
}

/* ---- binding */

static aw_vec3 clamp_bounds(aw_vec3 p, const aw_aabb *b) {
    const float margin = 1.0f;
    if (b->max.x - b->min.x > 2 * margin) {
        if (p.x < b->min.x + margin) p.x = b->min.x + margin;
        if (p.x > b->max.x - margin) p.x = b->max.x - margin;
    }
    if (b->max.z - b->min.z > 2 * margin) {
        if (p.z < b->min.z + margin) p.z = b->min.z + margin;
        if (p.z > b->max.z - margin) p.z = b->max.z - margin;
    }
    return p;
}

/* Cover: the nearest cover point, else the side of the nearest obstacle facing away from the
 * nearest enemy (or the obstacle's -x side when no enemy is known). */
static bool find_cover(const aw_world_snapshot *snap, const ai_senses *senses, const aw_agent_type *type,
                       aw_vec3 *out) {
    float best = INFINITY;
    for (uint32_t i = 0; i < snap->poi_count; i++) {
        if (snap->pois[i].kind != AW_POI_COVER) continue;
        float d = dist3(snap->pois[i].position, snap->self.position);
        if (d < best) {
            best = d;
            *out = snap->pois[i].position;
        }
    }
    if (isfinite(best)) return true;
    if (!snap->obstacle_count) return false;
    const aw_aabb *o = &snap->obstacles[0];
    aw_vec3 c = {(o->min.x + o->max.x) * 0.5f, snap->self.position.y, (o->min.z + o->max.z) * 0.5f};
    float dx = -1.0f, dz = 0.0f;
    if (senses->nearest_enemy >= 0) {
        aw_vec3 e = snap->enemies[senses->nearest_enemy].position;
        dx = c.x - e.x;
        dz = c.z - e.z;
        float len = sqrtf(dx * dx + dz * dz);
        if (len > 1e-4f) {
            dx /= len;
            dz /= len;
        } else {
            dx = -1.0f;
            dz = 0.0f;
        }
    }
    /* Past the box's half-diagonal plus the body radius and a little. */
    float hx = (o->max.x - o->min.x) * 0.5f, hz = (o->max.z - o->min.z) * 0.5f;
    float reach = sqrtf(hx * hx + hz * hz) + type->radius + 0.5f;
    *out = clamp_bounds((aw_vec3){c.x + dx * reach, c.y, c.z + dz * reach}, &snap->bounds);
    return true;
}

bool ai_bind_step(const ai_step_template *t, const aw_world_snapshot *snap, const ai_senses *senses,
                  const aw_agent_type *type, aw_action_step *out) {
    memset(out, 0, sizeof *out);
    out->kind = t->kind;
    out->direction = t->direction;
    out->distance = t->distance;
    out->duration = t->duration;
    out->amount = t->amount;
    aw_vec3 tpos = snap->self.position;
    int idx = -1;
    const aw_ai_contact *list = snap->enemies;
    switch ((ai_target_ref)t->target) {
    case AI_TARGET_NONE: break;
    case AI_TARGET_SELF: out->target = snap->self.id; break;
    case AI_TARGET_NEAREST_ENEMY: idx = senses->nearest_enemy; break;
    case AI_TARGET_WEAKEST_ENEMY: idx = senses->weakest_enemy; break;
    case AI_TARGET_NEAREST_ALLY: idx = senses->nearest_ally, list = snap->allies; break;
    case AI_TARGET_DOWNED_ALLY: idx = senses->downed_ally, list = snap->allies; break;
    case AI_TARGET_WOUNDED_ALLY: idx = senses->wounded_ally, list = snap->allies; break;
    case AI_TARGET_COMMANDER:
        if (!snap->commander.id) return false;
        out->target = snap->commander.id;
        tpos = snap->commander.position;
        break;
    case AI_TARGET_ORDER_TARGET: {
        if (!snap->commander.order_target) return false;
        out->target = snap->commander.order_target;
        bool seen = false;
        for (uint32_t i = 0; i < snap->enemy_count && !seen; i++)
            if (snap->enemies[i].id == out->target) tpos = snap->enemies[i].position, seen = true;
        if (!seen) return false;
        break;
    }
    case AI_TARGET_OBJECTIVE:
        if (!snap->objective.target) return false;
        out->target = snap->objective.target;
        tpos = snap->objective.position;
        break;
    default: return false;
    }
    if (t->target >= AI_TARGET_NEAREST_ENEMY && t->target <= AI_TARGET_WOUNDED_ALLY) {
        if (idx < 0) return false;
        out->target = list[idx].id;
        tpos = list[idx].position;
    }

    switch ((ai_place_ref)t->place) {
    case AI_PLACE_NONE: break;
    case AI_PLACE_TARGET: out->position = tpos; break;
    case AI_PLACE_COVER:
        if (!find_cover(snap, senses, type, &out->position)) return false;
        break;
    case AI_PLACE_AWAY: {
        if (senses->nearest_enemy < 0) return false;
        aw_vec3 e = snap->enemies[senses->nearest_enemy].position, s = snap->self.position;
        float dx = s.x - e.x, dz = s.z - e.z, len = sqrtf(dx * dx + dz * dz);
        if (len < 1e-4f) dx = 1.0f, dz = 0.0f, len = 1.0f;
        float d = t->distance > 0 ? t->distance : 10.0f;
        out->position = clamp_bounds((aw_vec3){s.x + dx / len * d, s.y, s.z + dz / len * d}, &snap->bounds);
        break;
    }
    case AI_PLACE_OBJECTIVE:
        if (snap->objective.kind == AW_OBJECTIVE_NONE) return false;
        out->position = snap->objective.position;
        break;
    case AI_PLACE_COMMANDER:
        if (!snap->commander.id) return false;
        out->position = snap->commander.position;
        break;
    case AI_PLACE_ORDER:
        if (snap->commander.order == AW_ORDER_NONE) return false;
        out->position = snap->commander.order_position;
        break;
    case AI_PLACE_WAYPOINT: {
        float best = INFINITY;
        for (uint32_t i = 0; i < snap->poi_count; i++) {
            if (snap->pois[i].kind != AW_POI_WAYPOINT) continue;
            float d = dist3(snap->pois[i].position, snap->self.position);
            if (d > 2.0f && d < best) best = d, out->position = snap->pois[i].position;
        }
        if (!isfinite(best)) {
            /* No route: a point 10 m away in a direction that depends on who and when. */
            uint64_t h = aw_hash_u64(snap->self.id ^ (snap->frame / 64u));
            float a = (float)(h & 0xffff) * (6.2831853f / 65536.0f);
            aw_vec3 s = snap->self.position;
            out->position = clamp_bounds((aw_vec3){s.x + cosf(a) * 10.0f, s.y, s.z + sinf(a) * 10.0f}, &snap->bounds);
        }
        break;
    }
    case AI_PLACE_SQUAD: {
        if (!snap->ally_count) return false;
        aw_vec3 c = {0, 0, 0};
        for (uint32_t i = 0; i < snap->ally_count; i++) {
            c.x += snap->allies[i].position.x;
            c.y += snap->allies[i].position.y;
            c.z += snap->allies[i].position.z;
        }
        float n = (float)snap->ally_count;
        out->position = (aw_vec3){c.x / n, c.y / n, c.z / n};
        break;
    }
    default: return false;
    }
    return true;
}
