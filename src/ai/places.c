/* Step places: where a step goes when its position is unset (the zero vector without
 * AW_STEP_ORIGIN), by kind, from the planning agent's snapshot. Template binding (data files) and
 * every accepted plan (built-in, plug-in and LLM orchestrators alike) use these same functions, so a
 * "TakeCover" from a data file and one from an LLM answer go to the same place. */
#include "ai/ai_internal.h"

#include <math.h>

static float dist3(aw_vec3 a, aw_vec3 b) {
    float dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
    return sqrtf(dx * dx + dy * dy + dz * dz);
}

static bool is_zero(aw_vec3 p) {
    return p.x == 0.0f && p.y == 0.0f && p.z == 0.0f;
}

/* Inside the navigable bounds by a 1 m margin on x and z (bounds too narrow for it: as is). */
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

/* The nearest enemy still standing, as ai_sense picks it (contacts are nearest first). */
static int nearest_live_enemy(const aw_world_snapshot *snap) {
    for (uint32_t i = 0; i < snap->enemy_count; i++)
        if (!snap->enemies[i].downed) return (int)i;
    return -1;
}

bool ai_place_cover(const aw_world_snapshot *snap, int nearest_enemy, const aw_agent_type *type,
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
    if (nearest_enemy >= 0) {
        aw_vec3 e = snap->enemies[nearest_enemy].position;
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

aw_vec3 ai_place_away(const aw_world_snapshot *snap, aw_vec3 from, float distance) {
    aw_vec3 s = snap->self.position;
    float dx = s.x - from.x, dz = s.z - from.z, len = sqrtf(dx * dx + dz * dz);
    if (len < 1e-4f) dx = 1.0f, dz = 0.0f, len = 1.0f; /* standing on it: any way is away */
    float d = distance > 0 ? distance : 10.0f;
    return clamp_bounds((aw_vec3){s.x + dx / len * d, s.y, s.z + dz / len * d}, &snap->bounds);
}

aw_vec3 ai_place_waypoint(const aw_world_snapshot *snap) {
    float best = INFINITY;
    aw_vec3 out = {0, 0, 0};
    for (uint32_t i = 0; i < snap->poi_count; i++) {
        if (snap->pois[i].kind != AW_POI_WAYPOINT) continue;
        float d = dist3(snap->pois[i].position, snap->self.position);
        if (d > 2.0f && d < best) best = d, out = snap->pois[i].position;
    }
    if (isfinite(best)) return out;
    /* No route in reach: a point 10 m away in a direction that depends on who and when. */
    uint64_t h = aw_hash_u64(snap->self.id ^ (snap->frame / 64u));
    float a = (float)(h & 0xffff) * (6.2831853f / 65536.0f);
    aw_vec3 s = snap->self.position;
    return clamp_bounds((aw_vec3){s.x + cosf(a) * 10.0f, s.y, s.z + sinf(a) * 10.0f}, &snap->bounds);
}

bool ai_place_squad(const aw_world_snapshot *snap, aw_vec3 *out) {
    if (!snap->ally_count) return false;
    aw_vec3 c = {0, 0, 0};
    for (uint32_t i = 0; i < snap->ally_count; i++) {
        c.x += snap->allies[i].position.x;
        c.y += snap->allies[i].position.y;
        c.z += snap->allies[i].position.z;
    }
    float n = (float)snap->ally_count;
    *out = (aw_vec3){c.x / n, c.y / n, c.z / n};
    return true;
}

/* Where an entity stands: the snapshot's contacts and commander first, then (with ai) this frame's
 * vitals or the agent's components, as validation finds a target. */
static bool entity_position(const aw_ai *ai, const aw_world_snapshot *snap, aw_entity e, bool in_frame,
                            aw_vec3 *out) {
    for (uint32_t i = 0; i < snap->enemy_count; i++)
        if (snap->enemies[i].id == e) return *out = snap->enemies[i].position, true;
    for (uint32_t i = 0; i < snap->ally_count; i++)
        if (snap->allies[i].id == e) return *out = snap->allies[i].position, true;
    if (snap->commander.id == e) return *out = snap->commander.position, true;
    if (snap->self.id == e) return *out = snap->self.position, true;
    uint8_t team;
    float hp;
    return ai && ai_agent_state(ai, e, snap->frame, in_frame, out, &team, &hp);
}

bool ai_kind_has_default_place(aw_action_kind kind) {
    return kind == AW_ACTION_RETREAT || kind == AW_ACTION_TAKE_COVER || kind == AW_ACTION_PATROL ||
           kind == AW_ACTION_REGROUP;
}

/* Those, and a ThrowExplosive, which goes where its target stands. */
static bool takes_default_place(aw_action_kind kind) {
    return ai_kind_has_default_place(kind) || kind == AW_ACTION_THROW_EXPLOSIVE;
}

aw_validation ai_step_place_missing(const aw_action_step *step) {
    aw_action_kind kind = (aw_action_kind)step->kind;
    if (!takes_default_place(kind) || !is_zero(step->position) || (step->flags & AW_STEP_ORIGIN))
        return AW_VALID;
    /* A named target nobody can find is the target's fault; otherwise there is nowhere to go. */
    if (step->target && (kind == AW_ACTION_RETREAT || kind == AW_ACTION_THROW_EXPLOSIVE))
        return AW_INVALID_TARGET;
    return AW_INVALID_NO_PATH;
}

void ai_step_set_place(aw_action_step *step, aw_vec3 position) {
    step->position = position;
    if (is_zero(position)) step->flags |= AW_STEP_ORIGIN; /* found there, not unset */
}

aw_validation ai_step_resolve(const aw_ai *ai, const aw_world_snapshot *snap, const aw_agent_type *type,
                              aw_action_step *step, bool in_frame) {
    aw_validation missing = ai_step_place_missing(step);
    if (missing == AW_VALID) return AW_VALID; /* placed, or a kind without a default place */
    aw_vec3 p = {0, 0, 0}, from;
    bool found = false;
    switch ((aw_action_kind)step->kind) {
    case AW_ACTION_RETREAT: {
        /* From the target, or with none from the nearest enemy standing. */
        int e = step->target ? -1 : nearest_live_enemy(snap);
        if (step->target) found = entity_position(ai, snap, step->target, in_frame, &from);
        else if (e >= 0) found = true, from = snap->enemies[e].position;
        if (found) p = ai_place_away(snap, from, step->distance);
        break;
    }
    case AW_ACTION_TAKE_COVER: found = ai_place_cover(snap, nearest_live_enemy(snap), type, &p); break;
    case AW_ACTION_PATROL: found = true, p = ai_place_waypoint(snap); break;
    case AW_ACTION_REGROUP:
        /* The commander, unless the agent is the commander; else the squad's centre. */
        if (snap->commander.id && snap->commander.id != snap->self.id)
            found = true, p = snap->commander.position;
        else
            found = ai_place_squad(snap, &p);
        break;
    case AW_ACTION_THROW_EXPLOSIVE:
        found = step->target && entity_position(ai, snap, step->target, in_frame, &p);
        break;
    default: break;
    }
    if (!found) return missing;
    ai_step_set_place(step, p);
    return AW_VALID;
}

void ai_plan_resolve(const aw_ai *ai, const aw_world_snapshot *snap, const aw_agent_type *type,
                     aw_plan_intent *plan, bool in_frame) {
    uint32_t n = plan->step_count < AW_AI_MAX_STEPS ? plan->step_count : AW_AI_MAX_STEPS;
    for (uint32_t i = 0; i < n; i++) ai_step_resolve(ai, snap, type, &plan->steps[i], in_frame);
}
