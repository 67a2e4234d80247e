/* Tool validation: every step is checked against the snapshot and the world before it runs
 * (available kind, finite parameters, navigable bounds, obstacles, target alive and on the right
 * side, range, cooldown, resources, line of sight by physics ray cast). */
#include "ai/ai_internal.h"

#include <math.h>

static bool finite3(aw_vec3 v) {
    return isfinite(v.x) && isfinite(v.y) && isfinite(v.z);
}

static float dist3(aw_vec3 a, aw_vec3 b) {
    float dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
    return sqrtf(dx * dx + dy * dy + dz * dz);
}

static bool inside_bounds(const aw_aabb *b, aw_vec3 p) {
    return p.x >= b->min.x && p.x <= b->max.x && p.z >= b->min.z && p.z <= b->max.z;
}

/* The destination is inside a level box grown by the body radius (on x and z). */
static bool blocked(const aw_ai *ai, const aw_world_snapshot *snap, aw_vec3 p, float r) {
    const aw_aabb *boxes = ai ? ai->obstacles : snap->obstacles;
    uint32_t n = ai ? ai->obstacle_count : snap->obstacle_count;
    for (uint32_t i = 0; i < n; i++) {
        const aw_aabb *b = &boxes[i];
        if (p.x > b->min.x - r && p.x < b->max.x + r && p.z > b->min.z - r && p.z < b->max.z + r) return true;
    }
    return false;
}

static bool moves_to_position(aw_action_kind k) {
    return k == AW_ACTION_MOVE_TO || k == AW_ACTION_TAKE_COVER || k == AW_ACTION_PATROL || k == AW_ACTION_REGROUP ||
           k == AW_ACTION_RETREAT;
}

typedef enum target_need { NEED_NONE = 0, NEED_ENEMY, NEED_ALLY_UP, NEED_ALLY_DOWN, NEED_ANY } target_need;

static target_need target_need_of(const aw_action_step *s) {
    switch ((aw_action_kind)s->kind) {
    case AW_ACTION_APPROACH:
    case AW_ACTION_ATTACK:
    case AW_ACTION_AIMED_SHOT:
    case AW_ACTION_MARK_TARGET:
    case AW_ACTION_STRAFE: return NEED_ENEMY;
    case AW_ACTION_COVER_FIRE: return s->target ? NEED_ENEMY : NEED_NONE;
    case AW_ACTION_REVIVE: return NEED_ALLY_DOWN;
    case AW_ACTION_HEAL: return NEED_ALLY_UP; /* null or self: self */
    case AW_ACTION_RETREAT: return s->target ? NEED_ANY : NEED_NONE;
    default: return NEED_NONE;
    }
}

aw_validation ai_validate(const aw_ai *ai, const aw_world_snapshot *snap, const aw_agent_type *type,
                          const aw_action_step *step, bool in_frame) {
    const aw_ai_self *self = &snap->self;
    aw_action_kind kind = (aw_action_kind)step->kind;
    if (kind == AW_ACTION_NONE || kind >= AW_ACTION_KIND_COUNT || !(type->action_mask & (1u << kind)))
        return AW_INVALID_NO_PATH;
    if (!finite3(step->position) || !isfinite(step->distance) || !isfinite(step->duration) ||
        !isfinite(step->amount) || step->distance < 0 || step->duration < 0 || step->amount < 0)
        return AW_INVALID_OUT_OF_BOUNDS;

    /* Places. */
    if (moves_to_position(kind) || kind == AW_ACTION_THROW_EXPLOSIVE) {
        /* Still unset: its default was not found when the plan was accepted (a retreat from nothing). */
        aw_validation missing = ai_step_place_missing(step);
        if (missing != AW_VALID) return missing;
        if (!inside_bounds(&snap->bounds, step->position)) return AW_INVALID_OUT_OF_BOUNDS;
        if (kind != AW_ACTION_THROW_EXPLOSIVE && blocked(ai, snap, step->position, type->radius))
            return AW_INVALID_PHYSICS_BLOCKED;
    }
    if (kind == AW_ACTION_THROW_EXPLOSIVE && dist3(self->position, step->position) > type->throw_range)
        return AW_INVALID_TARGET;

    /* The target: alive, on the right side, in range. */
    target_need need = target_need_of(step);
    bool self_target = kind == AW_ACTION_HEAL && (!step->target || step->target == self->id);
    aw_vec3 tpos = self->position;
    if (need != NEED_NONE && !self_target) {
        if (!ai) return AW_INVALID_TARGET;
        uint8_t team;
        float hp;
        if (!ai_agent_state(ai, step->target, snap->frame, in_frame, &tpos, &team, &hp)) return AW_INVALID_TARGET;
        bool same = team == self->team, up = hp > 0.0f;
        if (need == NEED_ENEMY && (same || !up)) return AW_INVALID_TARGET;
        if (need == NEED_ALLY_UP && (!same || !up)) return AW_INVALID_TARGET;
        if (need == NEED_ALLY_DOWN && (!same || up)) return AW_INVALID_TARGET;
        float d = dist3(self->position, tpos), reach = 0.0f;
        switch (kind) {
        case AW_ACTION_ATTACK:
        case AW_ACTION_COVER_FIRE: reach = type->weapon_range; break;
        case AW_ACTION_AIMED_SHOT: reach = type->weapon_range * 1.5f; break;
        case AW_ACTION_MARK_TARGET:
        case AW_ACTION_STRAFE: reach = type->perception_radius; break;
        case AW_ACTION_REVIVE:
        case AW_ACTION_HEAL: reach = type->perception_radius; break; /* walks over, then treats */
        case AW_ACTION_APPROACH:
            if (d > type->perception_radius * 2.0f) return AW_INVALID_NO_PATH; /* lost track of it */
            break;
        default: break;
        }
        if (reach > 0.0f && d > reach) return AW_INVALID_TARGET;
    }

    /* Cooldown, then resources. */
    uint32_t slot = ai_kind_cooldown(kind);
    if (slot < AW_COOLDOWN_COUNT && self->cooldowns[slot] > 0.0f) return AW_INVALID_COOLDOWN;
    switch (kind) {
    case AW_ACTION_ATTACK:
    case AW_ACTION_AIMED_SHOT:
    case AW_ACTION_COVER_FIRE:
        if (!self->ammo) return AW_INVALID_INSUFFICIENT_RESOURCE;
        break;
    case AW_ACTION_THROW_EXPLOSIVE:
        if (!self->explosives) return AW_INVALID_INSUFFICIENT_RESOURCE;
        break;
    case AW_ACTION_HEAL:
        if (!self->medkits) return AW_INVALID_INSUFFICIENT_RESOURCE;
        break;
    case AW_ACTION_RELOAD:
        if (!self->reserve_ammo || self->ammo >= type->magazine) return AW_INVALID_INSUFFICIENT_RESOURCE;
        break;
    default: break;
    }

    /* Line of sight last: the only check that walks the grid. */
    if ((kind == AW_ACTION_ATTACK || kind == AW_ACTION_AIMED_SHOT || kind == AW_ACTION_MARK_TARGET ||
         (kind == AW_ACTION_COVER_FIRE && step->target)) &&
        ai) {
        aw_entity skip[2] = {self->id, step->target};
        /* Level geometry blocks sight; bodies do not (a crowd would hide everyone from everyone). */
        aw_spatial_filter f = {.exclude = skip, .exclude_count = 2, .flags = AW_RAY_SKIP_ENTITIES};
        if (!aw_physics_line_of_sight(ai->physics, self->position, tpos, &f)) return AW_INVALID_NO_LINE_OF_SIGHT;
    }
    return AW_VALID;
}

aw_validation aw_ai_validate_step(const aw_ai *ai, const aw_world_snapshot *snapshot, const aw_action_step *step) {
    if (!ai || !snapshot || !step) return AW_INVALID_NO_PATH;
    const aw_agent_type *type = ai_type_of(ai, snapshot->self.agent_type);
    aw_action_step placed = *step; /* as an accepted plan would hold it */
    ai_step_resolve(ai, snapshot, type, &placed, false);
    return ai_validate(ai, snapshot, type, &placed, false);
}
