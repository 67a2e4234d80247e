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

    aw_vec3 place;
    switch ((ai_place_ref)t->place) {
    case AI_PLACE_NONE: break;
    case AI_PLACE_TARGET: ai_step_set_place(out, tpos); break;
    case AI_PLACE_COVER:
        if (!ai_place_cover(snap, senses->nearest_enemy, type, &place)) return false;
        ai_step_set_place(out, place);
        break;
    case AI_PLACE_AWAY:
        if (senses->nearest_enemy < 0) return false;
        place = snap->enemies[senses->nearest_enemy].position;
        ai_step_set_place(out, ai_place_away(snap, place, t->distance));
        break;
    case AI_PLACE_OBJECTIVE:
        if (snap->objective.kind == AW_OBJECTIVE_NONE) return false;
        ai_step_set_place(out, snap->objective.position);
        break;
    case AI_PLACE_COMMANDER:
        if (!snap->commander.id) return false;
        ai_step_set_place(out, snap->commander.position);
        break;
    case AI_PLACE_ORDER:
        if (snap->commander.order == AW_ORDER_NONE) return false;
        ai_step_set_place(out, snap->commander.order_position);
        break;
    case AI_PLACE_WAYPOINT: ai_step_set_place(out, ai_place_waypoint(snap)); break;
    case AI_PLACE_SQUAD:
        if (!ai_place_squad(snap, &place)) return false;
        ai_step_set_place(out, place);
        break;
    default: return false;
    }
    /* No place named: the kind's own default, as for any plan (nowhere to be found: no binding). */
    return ai_step_resolve(NULL, snap, type, out, false) == AW_VALID;
}
