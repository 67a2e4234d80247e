/* LLM answers into plans: find the JSON object in the model's text (fences and prose around it),
 * parse it, and check every step (known kind, required parameters, ranges, targets that exist in the
 * snapshot) before anything becomes an ActionStep. */
#include "aw/ai_llm.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- finding the object */

static const char *find_bytes(const char *s, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, needle, m) == 0) return s + i;
    return NULL;
}

/* The span of the first balanced {...} in s (strings and escapes respected). */
static aw_status find_object(const char *s, size_t n, const char **start, size_t *len) {
    const char *open = memchr(s, '{', n);
    if (!open) return aw_error(AW_ERR_PARSE, "llm plan: no JSON object in the answer");
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (const char *p = open; p < s + n; p++) {
        char c = *p;
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                *start = open;
                *len = (size_t)(p - open) + 1;
                return AW_OK;
            }
        }
    }
    return aw_error(AW_ERR_PARSE, "llm plan: the JSON object is truncated (no closing brace)");
}

/* ---------------------------------------------------------------- parameters */

static aw_status step_error(uint32_t step, const char *field, const char *why) {
    return aw_error(AW_ERR_PARSE, "llm plan: step %u: field '%s': %s", step + 1, field, why);
}

/* A number field in [lo, hi]; absent leaves *out at 0 and *present false. */
static aw_status number_field(const json_t *obj, const char *name, float lo, float hi, uint32_t step, float *out,
                              bool *present) {
    const json_t *v = json_object_get(obj, name);
    *present = v != NULL && !json_is_null(v);
    *out = 0;
    if (!*present) return AW_OK;
    if (!json_is_number(v)) return step_error(step, name, "must be a number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi) {
        char why[96];
        snprintf(why, sizeof why, "%g is outside %g..%g", d, (double)lo, (double)hi);
        return step_error(step, name, why);
    }
    *out = (float)d;
    return AW_OK;
}

static bool bounded(const aw_aabb *b) {
    return b->max.x > b->min.x && b->max.z > b->min.z;
}

static aw_status position_field(const json_t *obj, const aw_world_snapshot *s, uint32_t step, aw_vec3 *out,
                                bool *present) {
    const json_t *v = json_object_get(obj, "position");
    *present = v != NULL && !json_is_null(v);
    *out = (aw_vec3){0, 0, 0};
    if (!*present) return AW_OK;
    size_t n = json_array_size(v);
    if (!json_is_array(v) || (n != 2 && n != 3)) return step_error(step, "position", "must be [x, y, z] or [x, z]");
    double c[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_number(e) || !isfinite(json_number_value(e)) || fabs(json_number_value(e)) > 1e7)
            return step_error(step, "position", "coordinates must be finite numbers");
        c[n == 2 && i == 1 ? 2 : i] = json_number_value(e);
    }
    *out = (aw_vec3){(float)c[0], (float)c[1], (float)c[2]};
    if (bounded(&s->bounds) && (out->x < s->bounds.min.x || out->x > s->bounds.max.x || out->z < s->bounds.min.z ||
                                out->z > s->bounds.max.z))
        return step_error(step, "position", "outside the navigable bounds");
    return AW_OK;
}

typedef enum target_class { TARGET_NONE, TARGET_ENEMY, TARGET_ALLY, TARGET_SELF, TARGET_COMMANDER } target_class;

/* "E3", "A1", "self", "commander" into an entity of the snapshot. */
static aw_status target_field(const json_t *obj, const aw_world_snapshot *s, uint32_t step, aw_entity *out,
                              target_class *cls, const aw_ai_contact **contact) {
    const json_t *v = json_object_get(obj, "target");
    *out = AW_ENTITY_NULL;
    *cls = TARGET_NONE;
    *contact = NULL;
    if (!v || json_is_null(v)) return AW_OK;
    if (!json_is_string(v)) return step_error(step, "target", "must be a string such as \"E1\" or \"A2\"");
    const char *t = json_string_value(v);
    if (strcmp(t, "self") == 0) {
        *out = s->self.id;
        *cls = TARGET_SELF;
        return AW_OK;
    }
    if (strcmp(t, "commander") == 0) {
        if (s->commander.id == AW_ENTITY_NULL) return step_error(step, "target", "there is no commander");
        *out = s->commander.id;
        *cls = TARGET_COMMANDER;
        return AW_OK;
    }
    char side = t[0];
    if ((side == 'E' || side == 'e' || side == 'A' || side == 'a') && t[1] >= '1' && t[1] <= '9' && t[2] == '\0') {
        uint32_t i = (uint32_t)(t[1] - '1');
        bool enemy = side == 'E' || side == 'e';
        uint32_t count = enemy ? s->enemy_count : s->ally_count;
        if (i < count && i < AW_AI_MAX_CONTACTS) {
            *contact = enemy ? &s->enemies[i] : &s->allies[i];
            *out = (*contact)->id;
            *cls = enemy ? TARGET_ENEMY : TARGET_ALLY;
            return AW_OK;
        }
    }
    char why[96];
    snprintf(why, sizeof why, "\"%.24s\" is not a contact of this situation", t);
    return step_error(step, "target", why);
}

/* ---------------------------------------------------------------- steps */

static aw_status parse_step(const json_t *js, const aw_world_snapshot *s, uint32_t i, aw_action_step *out) {
    *out = (aw_action_step){0};
    if (!json_is_object(js)) return aw_error(AW_ERR_PARSE, "llm plan: step %u is not an object", i + 1);
    const json_t *kv = json_object_get(js, "kind");
    if (!kv) kv = json_object_get(js, "action");
    if (!json_is_string(kv)) return step_error(i, "kind", "missing (a step kind name such as \"MoveTo\")");
    aw_action_kind kind;
    if (!aw_action_kind_parse(json_string_value(kv), json_string_length(kv), &kind) || kind == AW_ACTION_NONE) {
        char why[80];
        snprintf(why, sizeof why, "unknown step kind \"%.32s\"", json_string_value(kv));
        return step_error(i, "kind", why);
    }
    aw_entity target;
    target_class cls;
    const aw_ai_contact *contact;
    aw_vec3 pos;
    float distance, duration, amount;
    bool has_target, has_pos, has_distance, has_duration, has_amount;
    aw_status st = target_field(js, s, i, &target, &cls, &contact);
    has_target = cls != TARGET_NONE;
    if (st == AW_OK) st = position_field(js, s, i, &pos, &has_pos);
    if (st == AW_OK) st = number_field(js, "distance", 0, AW_LLM_MAX_DISTANCE, i, &distance, &has_distance);
    if (st == AW_OK) st = number_field(js, "duration", 0, AW_LLM_MAX_DURATION, i, &duration, &has_duration);
    if (st == AW_OK) st = number_field(js, "amount", 0, AW_LLM_MAX_AMOUNT, i, &amount, &has_amount);
    if (st != AW_OK) return st;
    int8_t direction = 0;
    const json_t *dv = json_object_get(js, "direction");
    if (dv && !json_is_null(dv)) {
        const char *ds = json_string_value(dv);
        if (json_is_integer(dv) && (json_integer_value(dv) == 1 || json_integer_value(dv) == -1))
            direction = (int8_t)json_integer_value(dv);
        else if (json_is_real(dv) && (json_real_value(dv) == 1.0 || json_real_value(dv) == -1.0))
            direction = json_real_value(dv) > 0 ? 1 : -1;
        else if (ds && strcmp(ds, "right") == 0)
            direction = 1;
        else if (ds && strcmp(ds, "left") == 0)
            direction = -1;
        else
            return step_error(i, "direction", "must be 1, -1, \"right\" or \"left\"");
    }

    out->kind = (uint8_t)kind;
    switch (kind) {
    case AW_ACTION_MOVE_TO:
        if (!has_pos) return step_error(i, "position", "MoveTo needs a position");
        out->position = pos;
        out->amount = amount;
        break;
    case AW_ACTION_APPROACH:
        if (!has_target || cls == TARGET_SELF) return step_error(i, "target", "Approach needs a contact to approach");
        out->target = target;
        out->distance = distance;
        break;
    case AW_ACTION_RETREAT:
        if (has_target && cls != TARGET_ENEMY) return step_error(i, "target", "Retreat is from an enemy");
        out->target = target;
        out->distance = distance;
        break;
    case AW_ACTION_TAKE_COVER:
    case AW_ACTION_PATROL:
    case AW_ACTION_REGROUP:
        out->position = pos;
        break;
    case AW_ACTION_STRAFE:
        if (cls != TARGET_ENEMY) return step_error(i, "target", "Strafe needs an enemy to face");
        out->target = target;
        out->distance = distance;
        out->direction = direction ? direction : 1;
        break;
    case AW_ACTION_ATTACK:
    case AW_ACTION_AIMED_SHOT:
    case AW_ACTION_MARK_TARGET:
        if (cls != TARGET_ENEMY) return step_error(i, "target", "this step needs an enemy (\"E1\"..)");
        if (contact->downed && kind != AW_ACTION_MARK_TARGET) return step_error(i, "target", "the enemy is already down");
        out->target = target;
        break;
    case AW_ACTION_THROW_EXPLOSIVE:
        if (has_target && cls != TARGET_ENEMY) return step_error(i, "target", "explosives are thrown at enemies");
        if (!has_pos && !has_target) return step_error(i, "position", "ThrowExplosive needs a position or a target");
        out->target = target;
        out->position = has_pos ? pos : contact->position;
        break;
    case AW_ACTION_COVER_FIRE:
        if (has_target && cls != TARGET_ENEMY) return step_error(i, "target", "cover fire is aimed at enemies");
        if (!has_pos && !has_target) return step_error(i, "target", "CoverFire needs a target or a position");
        out->target = target;
        out->position = pos;
        out->duration = duration;
        break;
    case AW_ACTION_HEAL:
        if (has_target && cls != TARGET_SELF && cls != TARGET_ALLY) return step_error(i, "target", "heal self or an ally");
        out->target = cls == TARGET_SELF ? AW_ENTITY_NULL : target;
        out->amount = amount;
        break;
    case AW_ACTION_REVIVE:
        if (cls != TARGET_ALLY) return step_error(i, "target", "Revive needs an ally (\"A1\"..)");
        if (!contact->downed) return step_error(i, "target", "the ally is not downed");
        out->target = target;
        break;
    case AW_ACTION_SCAN:
        out->duration = duration;
        out->position = pos;
        break;
    case AW_ACTION_WAIT:
        if (!has_duration) return step_error(i, "duration", "Wait needs a duration");
        out->duration = duration;
        break;
    case AW_ACTION_RELOAD:
    default:
        break;
    }
    return AW_OK;
}

aw_status aw_llm_parse_plan(const char *content, size_t size, const aw_world_snapshot *snapshot, aw_plan_intent *out) {
    if ((!content && size) || !snapshot || !out)
        return aw_error(AW_ERR_INVALID_ARG, "aw_llm_parse_plan: content, snapshot and out are required");
    *out = (aw_plan_intent){.source = AW_ORCHESTRATOR_LLM};
    if (size > AW_LLM_MAX_CONTENT)
        return aw_error(AW_ERR_PARSE, "llm plan: the answer is %zu bytes, more than %u", size, AW_LLM_MAX_CONTENT);
    /* Inside a fence when there is one: models often wrap the JSON in ```json ... ```. */
    const char *text = content;
    size_t n = size;
    const char *fence = size ? find_bytes(content, size, "```") : NULL;
    if (fence) {
        const char *body = fence + 3;
        const char *nl = memchr(body, '\n', (size_t)(content + size - body));
        body = nl ? nl + 1 : body;
        const char *close = find_bytes(body, (size_t)(content + size - body), "```");
        text = body;
        n = (size_t)((close ? close : content + size) - body);
    }
    const char *start;
    size_t len;
    aw_status st = find_object(text, n, &start, &len);
    if (st != AW_OK) return st;
    json_error_t jerr;
    json_t *root = json_loadb(start, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return aw_error(AW_ERR_PARSE, "llm plan: invalid JSON: %s", jerr.text);
    const json_t *steps = json_object_get(root, "steps");
    if (!steps) steps = json_object_get(json_object_get(root, "plan"), "steps");
    if (!steps && json_is_array(json_object_get(root, "plan"))) steps = json_object_get(root, "plan");
    size_t count = json_array_size(steps);
    if (!json_is_array(steps) || count == 0) {
        st = aw_error(AW_ERR_PARSE, "llm plan: no \"steps\" array, or it is empty");
    } else if (count > AW_AI_MAX_STEPS) {
        st = aw_error(AW_ERR_PARSE, "llm plan: %zu steps, at most %u", count, AW_AI_MAX_STEPS);
    } else {
        for (uint32_t i = 0; i < count && st == AW_OK; i++)
            st = parse_step(json_array_get(steps, i), snapshot, i, &out->steps[i]);
        if (st == AW_OK) out->step_count = (uint8_t)count;
    }
    json_decref(root);
    if (st != AW_OK) *out = (aw_plan_intent){.source = AW_ORCHESTRATOR_LLM};
    return st;
}

aw_status aw_llm_parse_response(const char *body, size_t size, const aw_world_snapshot *snapshot,
                                aw_plan_intent *out) {
    if ((!body && size) || !snapshot || !out)
        return aw_error(AW_ERR_INVALID_ARG, "aw_llm_parse_response: body, snapshot and out are required");
    *out = (aw_plan_intent){.source = AW_ORCHESTRATOR_LLM};
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", size, 0, &jerr);
    if (!root) return aw_error(AW_ERR_PARSE, "llm response: invalid JSON: %s", jerr.text);
    aw_status st;
    const json_t *err = json_object_get(root, "error");
    const json_t *content = json_object_get(json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message"),
                                            "content");
    if (err && !json_is_null(err)) {
        const char *msg = json_string_value(json_object_get(err, "message"));
        st = aw_error(AW_ERR_PARSE, "llm response: the server answered an error: %.100s", msg ? msg : "(no message)");
    } else if (!json_is_string(content)) {
        st = aw_error(AW_ERR_PARSE, "llm response: no choices[0].message.content string");
    } else {
        st = aw_llm_parse_plan(json_string_value(content), json_string_length(content), snapshot, out);
    }
    json_decref(root);
    return st;
}
