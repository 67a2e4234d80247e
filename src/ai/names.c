/* Stable names of the AI enums (step kinds, validation categories, orchestrators, facts, inputs,
 * target and place references) and their parsers: what JSON files and the LLM parser speak. */
#include "ai/ai_internal.h"

#include <ctype.h>
#include <string.h>

static const char *const action_names[AW_ACTION_KIND_COUNT] = {
    "None",   "MoveTo",    "Approach",       "Retreat",    "TakeCover", "Strafe",
    "Patrol", "Attack",    "AimedShot",      "ThrowExplosive", "CoverFire", "Heal",
    "Reload", "Revive",    "Scan",           "Wait",       "Regroup",   "MarkTarget",
};

const char *aw_action_kind_name(aw_action_kind kind) {
    return (unsigned)kind < AW_ACTION_KIND_COUNT ? action_names[kind] : "?";
}

/* Compares ignoring case and the separators '_', '-' and ' ' on the left side. */
static bool loose_equal(const char *name, size_t length, const char *canonical) {
    size_t j = 0;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        if (c == '_' || c == '-' || c == ' ') continue;
        if (!canonical[j] || tolower((unsigned char)c) != tolower((unsigned char)canonical[j])) return false;
        j++;
    }
    return canonical[j] == '\0';
}

bool aw_action_kind_parse(const char *name, size_t length, aw_action_kind *out) {
    if (!name || !length) return false;
    for (int k = 1; k < AW_ACTION_KIND_COUNT; k++) {
        if (loose_equal(name, length, action_names[k])) {
            if (out) *out = (aw_action_kind)k;
            return true;
        }
    }
    return false;
}

bool aw_action_kind_from_name(const char *name, aw_action_kind *out) {
    return name && aw_action_kind_parse(name, strlen(name), out);
}

static const char *const orchestrator_names[AW_ORCHESTRATOR_KIND_COUNT] = {"rule", "utility", "goap", "bt", "llm"};

const char *aw_orchestrator_kind_name(aw_orchestrator_kind kind) {
    return (unsigned)kind < AW_ORCHESTRATOR_KIND_COUNT ? orchestrator_names[kind] : "?";
}

bool aw_orchestrator_kind_from_name(const char *name, aw_orchestrator_kind *out) {
    if (!name) return false;
    size_t n = strlen(name);
    for (int k = 0; k < AW_ORCHESTRATOR_KIND_COUNT; k++) {
        if (loose_equal(name, n, orchestrator_names[k])) {
            if (out) *out = (aw_orchestrator_kind)k;
            return true;
        }
    }
    if (loose_equal(name, n, "behaviortree") || loose_equal(name, n, "behaviourtree")) {
        if (out) *out = AW_ORCHESTRATOR_BT;
        return true;
    }
    return false;
}

static const char *const validation_names[AW_VALIDATION_COUNT] = {
    "valid",         "OutOfBounds",    "Cooldown", "NoLineOfSight", "InsufficientResource",
    "InvalidTarget", "PhysicsBlocked", "NoPath",
};

const char *aw_validation_name(aw_validation category) {
    return (unsigned)category < AW_VALIDATION_COUNT ? validation_names[category] : "?";
}

static const char *const fact_names[AI_FACT_COUNT] = {
    "enemy_visible", "enemy_in_range", "has_ammo",       "has_reserve",       "low_hp",
    "in_cover",      "ally_downed",    "ally_wounded",   "has_explosive",     "has_medkit",
    "enemies_clustered", "outnumbered", "low_morale",    "attack_ready",      "explosive_ready",
    "heal_ready",    "order_retreat",  "order_advance",  "order_follow",      "order_hold",
    "near_objective", "has_objective", "cover_nearby",   "enemy_close",
};

static int find_name(const char *const *names, int count, const char *name) {
    if (!name) return -1;
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

const char *ai_fact_name(ai_fact fact) {
    return (unsigned)fact < AI_FACT_COUNT ? fact_names[fact] : "?";
}
int ai_fact_find(const char *name) {
    return find_name(fact_names, AI_FACT_COUNT, name);
}

static const char *const input_names[AI_INPUT_COUNT] = {
    "always",     "hp",           "ammo",         "reserve",   "enemy_distance", "enemy_count",
    "ally_count", "morale",       "in_cover",     "ally_downed", "explosives",   "medkits",
    "attack_ready", "clustered",  "outnumbered",  "range_ratio", "objective_distance",
    "heal_ready", "explosive_ready",
};
const char *ai_input_name(ai_input input) {
    return (unsigned)input < AI_INPUT_COUNT ? input_names[input] : "?";
}
int ai_input_find(const char *name) {
    return find_name(input_names, AI_INPUT_COUNT, name);
}

static const char *const target_names[AI_TARGET_COUNT] = {
    "none",         "self",         "nearest_enemy", "weakest_enemy", "nearest_ally",
    "downed_ally",  "wounded_ally", "commander",     "order_target",  "objective",
};
const char *ai_target_name(ai_target_ref ref) {
    return (unsigned)ref < AI_TARGET_COUNT ? target_names[ref] : "?";
}
int ai_target_find(const char *name) {
    return find_name(target_names, AI_TARGET_COUNT, name);
}

static const char *const place_names[AI_PLACE_COUNT] = {
    "none", "target", "cover", "away", "objective", "commander", "order", "waypoint", "squad",
};
const char *ai_place_name(ai_place_ref ref) {
    return (unsigned)ref < AI_PLACE_COUNT ? place_names[ref] : "?";
}
int ai_place_find(const char *name) {
    return find_name(place_names, AI_PLACE_COUNT, name);
}

uint32_t ai_kind_cooldown(aw_action_kind kind) {
    switch (kind) {
    case AW_ACTION_ATTACK:
    case AW_ACTION_AIMED_SHOT:
    case AW_ACTION_COVER_FIRE: return AW_COOLDOWN_ATTACK;
    case AW_ACTION_THROW_EXPLOSIVE: return AW_COOLDOWN_EXPLOSIVE;
    case AW_ACTION_HEAL:
    case AW_ACTION_REVIVE: return AW_COOLDOWN_HEAL;
    case AW_ACTION_SCAN:
    case AW_ACTION_MARK_TARGET: return AW_COOLDOWN_SCAN;
    case AW_ACTION_STRAFE: return AW_COOLDOWN_MOVE;
    default: return AW_COOLDOWN_COUNT;
    }
}
