/* JSON loader (jansson) for agent types, GOAP domains, utility sets, behavior trees and rule sets.
 * Every error names the file, the field as a JSON path and the reason. */
#include "ai/ai_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct loader {
    const char *file;
    ai_library *lib;
} loader;

#define PATH_SIZE 160

static aw_status fail(const loader *l, const char *path, const char *fmt, ...) AW_PRINTF(3, 4);
static aw_status fail(const loader *l, const char *path, const char *fmt, ...) {
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return aw_error(AW_ERR_PARSE, "%s: %s: %s", l->file, path, reason);
}

/* Appends text to a path, cutting it at PATH_SIZE - 1 bytes (paths are for messages only). */
static size_t append(char *out, size_t at, const char *text) {
    while (*text && at < PATH_SIZE - 1) out[at++] = *text++;
    out[at] = '\0';
    return at;
}
static void sub(char *out, const char *path, const char *key) {
    size_t at = append(out, 0, path);
    if (*path) at = append(out, at, ".");
    append(out, at, key);
}
static void item(char *out, const char *path, size_t index) {
    char digits[24];
    size_t n = 0, at = append(out, 0, path);
    do digits[n++] = (char)('0' + index % 10), index /= 10;
    while (index);
    at = append(out, at, "[");
    while (n && at < PATH_SIZE - 1) out[at++] = digits[--n];
    out[at] = '\0';
    append(out, at, "]");
}

/* Refuses keys outside `allowed` (NULL-terminated): a typo is an error, not a silent default. */
static aw_status check_keys(const loader *l, json_t *obj, const char *path, const char *const *allowed) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, key) == 0;
        if (!ok) {
            char p[PATH_SIZE];
            sub(p, path, key);
            return fail(l, p, "unknown field");
        }
    }
    return AW_OK;
}

static aw_status get_object(const loader *l, json_t *v, const char *path) {
    return json_is_object(v) ? AW_OK : fail(l, path, "expected an object");
}

/* Optional number in [lo, hi]; absent: *out unchanged. */
static aw_status get_number(const loader *l, json_t *obj, const char *key, const char *path, float lo, float hi,
                            float *out) {
    json_t *v = json_object_get(obj, key);
    if (!v) return AW_OK;
    char p[PATH_SIZE];
    sub(p, path, key);
    if (!json_is_number(v)) return fail(l, p, "expected a number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi) return fail(l, p, "%g is outside [%g, %g]", d, (double)lo, (double)hi);
    *out = (float)d;
    return AW_OK;
}

/* Optional integer in [lo, hi]; absent: *out unchanged. 2.0 counts, 2.5 does not: a count or an index
 * is never rounded. */
static aw_status get_integer(const loader *l, json_t *obj, const char *key, const char *path, long lo,
                             long hi, long *out) {
    json_t *v = json_object_get(obj, key);
    if (!v) return AW_OK;
    char p[PATH_SIZE];
    sub(p, path, key);
    if (!json_is_number(v)) return fail(l, p, "expected an integer");
    double d = json_number_value(v);
    if (!isfinite(d) || d != floor(d)) return fail(l, p, "%.9g is not an integer", d);
    if (d < (double)lo || d > (double)hi) return fail(l, p, "%.9g is outside [%ld, %ld]", d, lo, hi);
    *out = (long)d;
    return AW_OK;
}

static aw_status get_name(const loader *l, json_t *obj, const char *key, const char *path, bool required,
                          char out[AW_AI_NAME_SIZE]) {
    json_t *v = json_object_get(obj, key);
    char p[PATH_SIZE];
    sub(p, path, key);
    if (!v) return required ? fail(l, p, "missing") : AW_OK;
    if (!json_is_string(v)) return fail(l, p, "expected a string");
    size_t n = json_string_length(v);
    if (!n || n >= AW_AI_NAME_SIZE) return fail(l, p, "length %zu is outside [1, %u]", n, AW_AI_NAME_SIZE - 1);
    if (strlen(json_string_value(v)) != n) return fail(l, p, "contains a NUL byte");
    memcpy(out, json_string_value(v), n + 1);
    return AW_OK;
}

static aw_status get_array(const loader *l, json_t *obj, const char *key, const char *path, size_t max,
                           json_t **out) {
    json_t *v = json_object_get(obj, key);
    *out = v;
    if (!v) return AW_OK;
    char p[PATH_SIZE];
    sub(p, path, key);
    if (!json_is_array(v)) return fail(l, p, "expected an array");
    if (json_array_size(v) > max) return fail(l, p, "%zu entries, at most %zu allowed", json_array_size(v), max);
    return AW_OK;
}

/* ---- steps */

static void default_refs(ai_step_template *t) {
    switch ((aw_action_kind)t->kind) {
    case AW_ACTION_APPROACH:
    case AW_ACTION_ATTACK:
    case AW_ACTION_AIMED_SHOT:
    case AW_ACTION_COVER_FIRE:
    case AW_ACTION_MARK_TARGET:
    case AW_ACTION_STRAFE: t->target = AI_TARGET_NEAREST_ENEMY; break;
    case AW_ACTION_THROW_EXPLOSIVE: t->target = AI_TARGET_NEAREST_ENEMY, t->place = AI_PLACE_TARGET; break;
    /* Retreat, TakeCover, Patrol and Regroup leave the place unset: binding fills in the kind's
     * default through ai_step_resolve, the same rules as for any other orchestrator's plan. */
    case AW_ACTION_RETREAT: t->target = AI_TARGET_NEAREST_ENEMY; break;
    case AW_ACTION_REVIVE: t->target = AI_TARGET_DOWNED_ALLY; break;
    case AW_ACTION_HEAL: t->target = AI_TARGET_SELF; break;
    case AW_ACTION_MOVE_TO: t->place = AI_PLACE_WAYPOINT; break;
    case AW_ACTION_SCAN: t->duration = 1.0f; break;
    case AW_ACTION_WAIT: t->duration = 0.5f; break;
    default: break;
    }
}

/* The template fields each step kind reads when it binds, validates and runs (execute() in
 * systems.c); any other field in a step would be ignored, so it is refused. */
enum {
    USE_TARGET = 1u << 0,
    USE_PLACE = 1u << 1,
    USE_DISTANCE = 1u << 2,
    USE_DURATION = 1u << 3,
    USE_AMOUNT = 1u << 4,
    USE_DIRECTION = 1u << 5,
};
static const char *const step_fields[] = {"target", "place", "distance", "duration", "amount", "direction"};

static unsigned step_uses(aw_action_kind kind) {
    switch (kind) {
    case AW_ACTION_MOVE_TO: return USE_PLACE | USE_AMOUNT;
    case AW_ACTION_APPROACH: return USE_TARGET | USE_DISTANCE;
    case AW_ACTION_RETREAT: return USE_TARGET | USE_PLACE; /* the target: from whom (validation) */
    case AW_ACTION_TAKE_COVER:
    case AW_ACTION_PATROL:
    case AW_ACTION_REGROUP:
    case AW_ACTION_THROW_EXPLOSIVE: return USE_PLACE;
    case AW_ACTION_STRAFE: return USE_TARGET | USE_DISTANCE | USE_DIRECTION;
    case AW_ACTION_ATTACK:
    case AW_ACTION_AIMED_SHOT:
    case AW_ACTION_REVIVE:
    case AW_ACTION_MARK_TARGET: return USE_TARGET;
    case AW_ACTION_COVER_FIRE: return USE_TARGET | USE_DURATION;
    case AW_ACTION_HEAL: return USE_TARGET | USE_AMOUNT;
    case AW_ACTION_SCAN:
    case AW_ACTION_WAIT: return USE_DURATION;
    default: return 0; /* Reload */
    }
}

/* Whom a target reference names, and whom each kind may aim at: validation refuses any other
 * (an Attack on an ally, a Revive on an enemy), so such a step could never run. */
enum { SIDE_NONE = 1u, SIDE_SELF = 2u, SIDE_ENEMY = 4u, SIDE_ALLY = 8u, SIDE_DOWNED = 16u, SIDE_ANY = 32u };

static unsigned target_side(ai_target_ref ref) {
    switch (ref) {
    case AI_TARGET_NONE: return SIDE_NONE;
    case AI_TARGET_SELF: return SIDE_SELF;
    case AI_TARGET_NEAREST_ENEMY:
    case AI_TARGET_WEAKEST_ENEMY:
    case AI_TARGET_ORDER_TARGET: return SIDE_ENEMY;
    case AI_TARGET_NEAREST_ALLY:
    case AI_TARGET_WOUNDED_ALLY:
    case AI_TARGET_COMMANDER: return SIDE_ALLY;
    case AI_TARGET_DOWNED_ALLY: return SIDE_DOWNED;
    default: return SIDE_ANY; /* the objective's entity: whatever the level says */
    }
}

static unsigned target_sides(aw_action_kind kind) {
    switch (kind) {
    case AW_ACTION_APPROACH:
    case AW_ACTION_STRAFE:
    case AW_ACTION_ATTACK:
    case AW_ACTION_AIMED_SHOT:
    case AW_ACTION_MARK_TARGET: return SIDE_ENEMY | SIDE_ANY;
    case AW_ACTION_COVER_FIRE: return SIDE_NONE | SIDE_ENEMY | SIDE_ANY; /* none: suppress */
    case AW_ACTION_REVIVE: return SIDE_DOWNED | SIDE_ANY;
    case AW_ACTION_HEAL: return SIDE_NONE | SIDE_SELF | SIDE_ALLY | SIDE_ANY; /* none: self */
    default: return ~0u;
    }
}

static aw_status parse_step(const loader *l, json_t *v, const char *path, ai_step_template *t) {
    memset(t, 0, sizeof *t);
    aw_action_kind kind;
    if (json_is_string(v)) {
        if (!aw_action_kind_parse(json_string_value(v), json_string_length(v), &kind))
            return fail(l, path, "unknown step kind \"%s\"", json_string_value(v));
        t->kind = (uint8_t)kind;
        default_refs(t);
        return AW_OK;
    }
    if (get_object(l, v, path)) return aw_last_status();
    static const char *const keys[] = {"kind", "target", "place", "distance", "duration", "amount", "direction", NULL};
    if (check_keys(l, v, path, keys)) return aw_last_status();
    char p[PATH_SIZE], name[AW_AI_NAME_SIZE];
    if (get_name(l, v, "kind", path, true, name)) return aw_last_status();
    if (!aw_action_kind_from_name(name, &kind)) {
        sub(p, path, "kind");
        return fail(l, p, "unknown step kind \"%s\"", name);
    }
    const char *kname = aw_action_kind_name(kind);
    t->kind = (uint8_t)kind;
    default_refs(t);
    name[0] = '\0';
    if (get_name(l, v, "target", path, false, name)) return aw_last_status();
    if (name[0]) {
        int r = ai_target_find(name);
        sub(p, path, "target");
        if (r < 0) return fail(l, p, "unknown target \"%s\"", name);
        t->target = (uint8_t)r;
    }
    name[0] = '\0';
    if (get_name(l, v, "place", path, false, name)) return aw_last_status();
    if (name[0]) {
        int r = ai_place_find(name);
        sub(p, path, "place");
        if (r < 0) return fail(l, p, "unknown place \"%s\"", name);
        t->place = (uint8_t)r;
    }
    long dir = 0;
    if (get_number(l, v, "distance", path, 0.0f, 1e4f, &t->distance) ||
        get_number(l, v, "duration", path, 0.0f, 3600.0f, &t->duration) ||
        get_number(l, v, "amount", path, 0.0f, 1e6f, &t->amount) ||
        get_integer(l, v, "direction", path, -1, 1, &dir))
        return aw_last_status();
    sub(p, path, "direction");
    if (json_object_get(v, "direction") && !dir) return fail(l, p, "expected -1 (left) or 1 (right)");
    t->direction = (int8_t)dir;

    /* A place kind binds "target" against the step's target and "away" with its distance. With no
     * place named, a kind that has a default place finds it (ai_step_resolve): a Retreat goes its
     * distance away from its target. */
    const bool default_place = t->place == AI_PLACE_NONE && ai_kind_has_default_place(kind);
    unsigned uses = step_uses(kind);
    if (uses & USE_PLACE) {
        if (t->place == AI_PLACE_TARGET) uses |= USE_TARGET;
        if (t->place == AI_PLACE_AWAY) uses |= USE_DISTANCE;
        if (default_place && kind == AW_ACTION_RETREAT) uses |= USE_TARGET | USE_DISTANCE;
    }
    for (unsigned f = 0; f < sizeof step_fields / sizeof step_fields[0]; f++) {
        if (!json_object_get(v, step_fields[f]) || (uses & (1u << f))) continue;
        sub(p, path, step_fields[f]);
        if ((step_uses(kind) & USE_PLACE) && (1u << f) == USE_TARGET)
            return fail(l, p, "not used by %s steps unless their place is \"target\"", kname);
        if ((step_uses(kind) & USE_PLACE) && (1u << f) == USE_DISTANCE)
            return fail(l, p, "not used by %s steps unless their place is \"away\"", kname);
        return fail(l, p, "not used by %s steps", kname);
    }
    if ((uses & USE_PLACE) && t->place == AI_PLACE_NONE && !default_place) {
        sub(p, path, "place");
        return fail(l, p, "%s needs a place, not \"none\"", kname);
    }
    sub(p, path, "target");
    if (!(target_sides(kind) & target_side((ai_target_ref)t->target)))
        return fail(l, p, "%s cannot target \"%s\"", kname, ai_target_name((ai_target_ref)t->target));
    if ((uses & USE_PLACE) && t->place == AI_PLACE_TARGET && t->target == AI_TARGET_NONE) {
        sub(p, path, json_object_get(v, "place") ? "place" : "target"); /* the field the file gave */
        return fail(l, p, "place \"target\" needs a target, and this %s step has none", kname);
    }
    return AW_OK;
}

static aw_status parse_steps(const loader *l, json_t *obj, const char *path, ai_step_template *steps,
                             uint32_t *count) {
    json_t *arr;
    if (get_array(l, obj, "steps", path, AW_AI_MAX_STEPS, &arr)) return aw_last_status();
    char p[PATH_SIZE], q[PATH_SIZE];
    sub(p, path, "steps");
    if (!arr || !json_array_size(arr)) return fail(l, p, "at least one step is required");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        item(q, p, i);
        if (parse_step(l, v, q, &steps[i])) return aw_last_status();
    }
    *count = (uint32_t)json_array_size(arr);
    return AW_OK;
}

/* {"fact": true, ...} over the built-in facts. */
static aw_status parse_facts(const loader *l, json_t *obj, const char *key, const char *path, uint64_t *mask,
                             uint64_t *value) {
    *mask = *value = 0;
    json_t *v = json_object_get(obj, key);
    if (!v) return AW_OK;
    char p[PATH_SIZE], q[PATH_SIZE];
    sub(p, path, key);
    if (get_object(l, v, p)) return aw_last_status();
    const char *name;
    json_t *b;
    json_object_foreach(v, name, b) {
        sub(q, p, name);
        int f = ai_fact_find(name);
        if (f < 0) return fail(l, q, "unknown fact");
        if (!json_is_boolean(b)) return fail(l, q, "expected true or false");
        *mask |= 1ull << f;
        if (json_is_true(b)) *value |= 1ull << f;
    }
    return AW_OK;
}

/* ---- GOAP domains */

static int domain_fact_find(const ai_goap_domain *d, const char *name) {
    for (uint32_t i = 0; i < d->fact_count; i++)
        if (strcmp(d->facts[i], name) == 0) return (int)i;
    return -1;
}

static int domain_fact(ai_goap_domain *d, const char *name) {
    int found = domain_fact_find(d, name);
    if (found >= 0) return found;
    if (d->fact_count == AI_MAX_FACTS) return -1;
    uint32_t i = d->fact_count++;
    snprintf(d->facts[i], AW_AI_NAME_SIZE, "%s", name);
    d->fact_sense[i] = (int8_t)ai_fact_find(name);
    return (int)i;
}

static aw_status parse_domain_facts(const loader *l, ai_goap_domain *d, json_t *obj, const char *key,
                                    const char *path, uint64_t *mask, uint64_t *value) {
    *mask = *value = 0;
    json_t *v = json_object_get(obj, key);
    if (!v) return AW_OK;
    char p[PATH_SIZE], q[PATH_SIZE];
    sub(p, path, key);
    if (get_object(l, v, p)) return aw_last_status();
    const char *name;
    json_t *b;
    json_object_foreach(v, name, b) {
        sub(q, p, name);
        if (!json_is_boolean(b)) return fail(l, q, "expected true or false");
        size_t n = strlen(name);
        if (!n || n >= AW_AI_NAME_SIZE)
            return fail(l, q, "length %zu is outside [1, %u]", n, AW_AI_NAME_SIZE - 1);
        int f = domain_fact(d, name);
        if (f < 0) return fail(l, q, "more than %u facts in the domain", AI_MAX_FACTS);
        *mask |= 1ull << f;
        if (json_is_true(b)) *value |= 1ull << f;
    }
    return AW_OK;
}

/* A fact no built-in sense feeds is a planning symbol (`target_down`): it starts false and changes
 * only through effects. So a symbol that no effect sets, or that is wanted true when no effect sets
 * it true, can never hold, and one that is set but never read does nothing: each is a misspelling
 * (`enemy_visble`) more often than a design. A goal's `when` is checked against the senses before
 * planning, where every symbol is false, so it takes senses only. Walks the file's text (not the
 * sorted goals) so errors name the first place in file order. */
static aw_status check_domain_facts(const loader *l, const ai_goap_domain *d, json_t *actions, json_t *goals,
                                    const char *path) {
    uint64_t set = 0, set_true = 0, wanted = 0;
    for (uint32_t i = 0; i < d->action_count; i++) {
        set |= d->actions[i].effect_mask;
        set_true |= d->actions[i].effect_mask & d->actions[i].effect_value;
        wanted |= d->actions[i].pre_mask;
    }
    for (uint32_t i = 0; i < d->goal_count; i++) wanted |= d->goals[i].goal_mask;
    /* (array, key, role) in file order: 0 a precondition or goal, 1 a when, 2 an effect. */
    static const struct {
        const char *array, *key;
        int role;
    } reads[] = {{"actions", "pre", 0}, {"goals", "when", 1}, {"goals", "goal", 0}, {"actions", "effect", 2}};
    char p[PATH_SIZE], q[PATH_SIZE], r[PATH_SIZE], s[PATH_SIZE];
    for (size_t k = 0; k < sizeof reads / sizeof reads[0]; k++) {
        json_t *arr = strcmp(reads[k].array, "actions") == 0 ? actions : goals, *o;
        size_t i;
        sub(p, path, reads[k].array);
        json_array_foreach(arr, i, o) {
            item(q, p, i);
            sub(r, q, reads[k].key);
            const char *name;
            json_t *b;
            json_t *facts = json_object_get(o, reads[k].key);
            if (facts) json_object_foreach(facts, name, b) {
                int f = domain_fact_find(d, name);
                if (f < 0 || d->fact_sense[f] >= 0) continue;
                uint64_t bit = 1ull << f;
                sub(s, r, name);
                if (reads[k].role == 1)
                    return fail(l, s, "not a built-in sense (a goal's when is checked before planning, where "
                                      "planning facts are false)");
                if (reads[k].role == 2 && !(wanted & bit))
                    return fail(l, s, "not a built-in sense, and no precondition or goal reads it");
                if (reads[k].role == 0 && !(set & bit))
                    return fail(l, s, "not a built-in sense, and no action's effect sets it");
                if (reads[k].role == 0 && json_is_true(b) && !(set_true & bit))
                    return fail(l, s, "no action's effect sets it true (planning facts start false)");
            }
        }
    }
    return AW_OK;
}

static aw_status parse_domain(const loader *l, json_t *v, const char *path, ai_goap_domain *d) {
    memset(d, 0, sizeof *d);
    static const char *const keys[] = {"name", "actions", "goals", NULL};
    if (get_object(l, v, path) || check_keys(l, v, path, keys) || get_name(l, v, "name", path, true, d->name))
        return aw_last_status();
    json_t *actions, *goals;
    char p[PATH_SIZE], q[PATH_SIZE];
    if (get_array(l, v, "actions", path, AI_MAX_GOAP_ACTIONS, &actions) ||
        get_array(l, v, "goals", path, AI_MAX_GOALS, &goals))
        return aw_last_status();
    sub(p, path, "actions");
    if (!actions || !json_array_size(actions)) return fail(l, p, "at least one action is required");
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) {
        item(q, p, i);
        ai_goap_action *act = &d->actions[i];
        char sp[PATH_SIZE];
        static const char *const akeys[] = {"name", "cost", "pre", "effect", "step", NULL};
        if (get_object(l, a, q) || check_keys(l, a, q, akeys) || get_name(l, a, "name", q, true, act->name))
            return aw_last_status();
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->actions[j].name, act->name) == 0) {
                sub(sp, q, "name");
                return fail(l, sp, "actions[%zu] already has the name \"%s\"", j, act->name);
            }
        act->cost = 1.0f;
        if (get_number(l, a, "cost", q, 0.001f, 1e6f, &act->cost) ||
            parse_domain_facts(l, d, a, "pre", q, &act->pre_mask, &act->pre_value) ||
            parse_domain_facts(l, d, a, "effect", q, &act->effect_mask, &act->effect_value))
            return aw_last_status();
        sub(sp, q, "step");
        if (!act->effect_mask) return fail(l, q, "an action needs at least one effect");
        json_t *step = json_object_get(a, "step");
        if (!step) return fail(l, sp, "missing");
        if (parse_step(l, step, sp, &act->step)) return aw_last_status();
    }
    d->action_count = (uint32_t)json_array_size(actions);
    sub(p, path, "goals");
    if (!goals || !json_array_size(goals)) return fail(l, p, "at least one goal is required");
    json_t *g;
    json_array_foreach(goals, i, g) {
        item(q, p, i);
        ai_goap_goal *goal = &d->goals[i];
        static const char *const gkeys[] = {"name", "priority", "when", "goal", NULL};
        if (get_object(l, g, q) || check_keys(l, g, q, gkeys) || get_name(l, g, "name", q, true, goal->name) ||
            get_number(l, g, "priority", q, -1e6f, 1e6f, &goal->priority) ||
            parse_domain_facts(l, d, g, "when", q, &goal->when_mask, &goal->when_value) ||
            parse_domain_facts(l, d, g, "goal", q, &goal->goal_mask, &goal->goal_value))
            return aw_last_status();
        char gp[PATH_SIZE];
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->goals[j].name, goal->name) == 0) {
                sub(gp, q, "name");
                return fail(l, gp, "goals[%zu] already has the name \"%s\"", j, goal->name);
            }
        sub(gp, q, "goal");
        if (!goal->goal_mask) return fail(l, gp, "a goal needs at least one fact");
    }
    d->goal_count = (uint32_t)json_array_size(goals);
    if (check_domain_facts(l, d, actions, goals, path)) return aw_last_status();
    /* Highest priority first; stable, so equal priorities keep file order. */
    for (uint32_t a1 = 1; a1 < d->goal_count; a1++) {
        ai_goap_goal x = d->goals[a1];
        uint32_t b = a1;
        while (b > 0 && d->goals[b - 1].priority < x.priority) {
            d->goals[b] = d->goals[b - 1];
            b--;
        }
        d->goals[b] = x;
    }
    ai_goap_domain_finish(d);
    return AW_OK;
}

/* ---- utility sets */

static aw_status parse_utility(const loader *l, json_t *v, const char *path, ai_utility_set *u) {
    memset(u, 0, sizeof *u);
    static const char *const keys[] = {"name", "options", NULL};
    if (get_object(l, v, path) || check_keys(l, v, path, keys) || get_name(l, v, "name", path, true, u->name))
        return aw_last_status();
    json_t *options;
    if (get_array(l, v, "options", path, AI_MAX_OPTIONS, &options)) return aw_last_status();
    char p[PATH_SIZE], q[PATH_SIZE], r[PATH_SIZE], s[PATH_SIZE];
    sub(p, path, "options");
    if (!options || !json_array_size(options)) return fail(l, p, "at least one option is required");
    size_t i, j;
    json_t *o, *c;
    json_array_foreach(options, i, o) {
        item(q, p, i);
        ai_utility_option *opt = &u->options[i];
        static const char *const okeys[] = {"name", "weight", "considerations", "steps", NULL};
        opt->weight = 1.0f;
        json_t *cons;
        if (get_object(l, o, q) || check_keys(l, o, q, okeys) || get_name(l, o, "name", q, true, opt->name) ||
            get_number(l, o, "weight", q, 0.0f, 1e6f, &opt->weight) ||
            get_array(l, o, "considerations", q, AI_MAX_CONSIDER, &cons) ||
            parse_steps(l, o, q, opt->steps, &opt->step_count))
            return aw_last_status();
        for (size_t m = 0; m < i; m++)
            if (strcmp(u->options[m].name, opt->name) == 0) {
                sub(r, q, "name");
                return fail(l, r, "options[%zu] already has the name \"%s\"", m, opt->name);
            }
        sub(r, q, "considerations");
        if (cons) json_array_foreach(cons, j, c) {
            item(s, r, j);
            ai_consideration *k = &opt->consider[j];
            *k = (ai_consideration){.curve = AI_CURVE_LINEAR, .m = 1.0f, .k = 1.0f, .weight = 1.0f};
            static const char *const ckeys[] = {"input", "curve", "m", "k", "b", "c", "weight", NULL};
            char name[AW_AI_NAME_SIZE], t[PATH_SIZE];
            if (get_object(l, c, s) || check_keys(l, c, s, ckeys) || get_name(l, c, "input", s, true, name))
                return aw_last_status();
            int in = ai_input_find(name);
            sub(t, s, "input");
            if (in < 0) return fail(l, t, "unknown input \"%s\"", name);
            k->input = (uint8_t)in;
            strcpy(name, "linear");
            if (get_name(l, c, "curve", s, false, name)) return aw_last_status();
            static const char *const curves[AI_CURVE_COUNT] = {"linear", "polynomial", "logistic", "step"};
            int cv = -1;
            for (int m = 0; m < AI_CURVE_COUNT; m++)
                if (strcmp(curves[m], name) == 0) cv = m;
            bool quadratic = strcmp(name, "quadratic") == 0;
            if (quadratic) cv = AI_CURVE_POLYNOMIAL, k->k = 2.0f;
            sub(t, s, "curve");
            if (cv < 0) return fail(l, t, "unknown curve \"%s\" (linear, polynomial, quadratic, logistic, step)", name);
            k->curve = (uint8_t)cv;
            /* k is the polynomial's exponent and the logistic's height: elsewhere it would be ignored,
             * and on "quadratic" it would silently replace the 2. */
            sub(t, s, "k");
            if (json_object_get(c, "k") && (cv == AI_CURVE_LINEAR || cv == AI_CURVE_STEP || quadratic))
                return fail(l, t, "not used by %s curves", name);
            if (get_number(l, c, "m", s, -1e4f, 1e4f, &k->m) || get_number(l, c, "k", s, -1e4f, 1e4f, &k->k) ||
                get_number(l, c, "b", s, -1e4f, 1e4f, &k->b) || get_number(l, c, "c", s, -1e4f, 1e4f, &k->c) ||
                get_number(l, c, "weight", s, 0.0f, 1e4f, &k->weight))
                return aw_last_status();
            if (k->curve == AI_CURVE_POLYNOMIAL && k->k < 0) {
                sub(t, s, "k");
                return fail(l, t, "a polynomial exponent must be >= 0");
            }
        }
        opt->consider_count = cons ? (uint32_t)json_array_size(cons) : 0;
    }
    u->option_count = (uint32_t)json_array_size(options);
    return AW_OK;
}

/* ---- behavior trees */

static aw_status parse_node(const loader *l, ai_bt *tree, json_t *v, const char *path, uint32_t depth,
                            uint16_t *index) {
    if (depth > AI_MAX_BT_DEPTH) return fail(l, path, "deeper than %u levels", AI_MAX_BT_DEPTH);
    if (get_object(l, v, path)) return aw_last_status();
    if (tree->node_count == AI_MAX_BT_NODES) return fail(l, path, "more than %u nodes in the tree", AI_MAX_BT_NODES);
    uint32_t me = tree->node_count++;
    *index = (uint16_t)me;
    ai_bt_node n;
    memset(&n, 0, sizeof n);
    static const char *const keys[] = {"type", "children", "child", "times", "needed", "seconds", "slot",
                                       "fact", "value", "step", NULL};
    char type[AW_AI_NAME_SIZE], p[PATH_SIZE], q[PATH_SIZE];
    if (check_keys(l, v, path, keys) || get_name(l, v, "type", path, true, type)) return aw_last_status();
    static const char *const kinds[AI_BT_KIND_COUNT] = {"sequence", "selector", "parallel", "inverter",
                                                        "repeat",   "cooldown", "action",   "condition"};
    int kind = -1;
    for (int k = 0; k < AI_BT_KIND_COUNT; k++)
        if (strcmp(kinds[k], type) == 0) kind = k;
    sub(p, path, "type");
    if (kind < 0) return fail(l, p, "unknown node type \"%s\"", type);
    /* Each type's own fields: another type's field would be ignored (`times` on an action). */
    static const char *const own[AI_BT_KIND_COUNT][4] = {
        [AI_BT_SEQUENCE] = {"children"},           [AI_BT_SELECTOR] = {"children"},
        [AI_BT_PARALLEL] = {"children", "needed"}, [AI_BT_INVERTER] = {"child"},
        [AI_BT_REPEAT] = {"child", "times"},       [AI_BT_COOLDOWN] = {"child", "seconds", "slot"},
        [AI_BT_ACTION] = {"step"},                 [AI_BT_CONDITION] = {"fact", "value"},
    };
    const char *key;
    json_t *field;
    json_object_foreach(v, key, field) {
        bool ok = strcmp(key, "type") == 0;
        for (int k = 0; k < 4 && own[kind][k] && !ok; k++) ok = strcmp(own[kind][k], key) == 0;
        sub(p, path, key);
        if (!ok) return fail(l, p, "not used by %s nodes", type);
    }
    n.kind = (uint8_t)kind;
    switch ((ai_bt_kind)kind) {
    case AI_BT_SEQUENCE:
    case AI_BT_SELECTOR:
    case AI_BT_PARALLEL: {
        json_t *children;
        if (get_array(l, v, "children", path, AI_MAX_BT_CHILDREN, &children)) return aw_last_status();
        sub(p, path, "children");
        if (!children || !json_array_size(children)) return fail(l, p, "at least one child is required");
        if (kind == AI_BT_PARALLEL) {
            long needed = 0;
            if (get_integer(l, v, "needed", path, 0, AI_MAX_BT_CHILDREN, &needed)) return aw_last_status();
            sub(q, path, "needed");
            if ((size_t)needed > json_array_size(children))
                return fail(l, q, "%ld successes needed of %zu %s: it can never succeed", needed,
                            json_array_size(children), json_array_size(children) == 1 ? "child" : "children");
            n.param = (float)needed;
        }
        size_t i;
        json_t *c;
        json_array_foreach(children, i, c) {
            item(q, p, i);
            if (parse_node(l, tree, c, q, depth + 1, &n.children[i])) return aw_last_status();
        }
        n.child_count = (uint8_t)json_array_size(children);
        break;
    }
    case AI_BT_INVERTER:
    case AI_BT_REPEAT:
    case AI_BT_COOLDOWN: {
        json_t *c = json_object_get(v, "child");
        sub(p, path, "child");
        if (!c) return fail(l, p, "missing");
        if (kind == AI_BT_REPEAT) {
            long times = 1;
            if (get_integer(l, v, "times", path, 1, AW_AI_MAX_STEPS, &times)) return aw_last_status();
            n.param = (float)times;
        }
        if (kind == AI_BT_COOLDOWN) {
            long slot = 0;
            if (get_integer(l, v, "slot", path, 0, AW_AI_MEMORY_SLOTS - 1, &slot)) return aw_last_status();
            n.slot = (uint8_t)slot;
            /* Without seconds the cooldown would never hold its child back. */
            sub(q, path, "seconds");
            if (!json_object_get(v, "seconds")) return fail(l, q, "missing");
            if (get_number(l, v, "seconds", path, 0.001f, 3600.0f, &n.param)) return aw_last_status();
        }
        if (parse_node(l, tree, c, p, depth + 1, &n.children[0])) return aw_last_status();
        n.child_count = 1;
        break;
    }
    case AI_BT_ACTION: {
        json_t *s = json_object_get(v, "step");
        sub(p, path, "step");
        if (!s) return fail(l, p, "missing");
        if (parse_step(l, s, p, &n.step)) return aw_last_status();
        break;
    }
    case AI_BT_CONDITION: {
        char fact[AW_AI_NAME_SIZE];
        if (get_name(l, v, "fact", path, true, fact)) return aw_last_status();
        int f = ai_fact_find(fact);
        sub(p, path, "fact");
        if (f < 0) return fail(l, p, "unknown fact \"%s\"", fact);
        n.fact = (uint8_t)f;
        n.param = 1.0f;
        json_t *val = json_object_get(v, "value");
        sub(p, path, "value");
        if (val && !json_is_boolean(val)) return fail(l, p, "expected true or false");
        if (val && json_is_false(val)) n.param = 0.0f;
        break;
    }
    default: break;
    }
    tree->nodes[me] = n;
    return AW_OK;
}

static aw_status parse_tree(const loader *l, json_t *v, const char *path, ai_bt *tree) {
    memset(tree, 0, sizeof *tree);
    static const char *const keys[] = {"name", "root", NULL};
    if (get_object(l, v, path) || check_keys(l, v, path, keys) || get_name(l, v, "name", path, true, tree->name))
        return aw_last_status();
    json_t *root = json_object_get(v, "root");
    char p[PATH_SIZE];
    sub(p, path, "root");
    if (!root) return fail(l, p, "missing");
    uint16_t index;
    return parse_node(l, tree, root, p, 0, &index);
}

/* ---- rule sets */

static aw_status parse_rules(const loader *l, json_t *v, const char *path, ai_rule_set *set) {
    memset(set, 0, sizeof *set);
    static const char *const keys[] = {"name", "rules", NULL};
    if (get_object(l, v, path) || check_keys(l, v, path, keys) || get_name(l, v, "name", path, true, set->name))
        return aw_last_status();
    json_t *rules;
    if (get_array(l, v, "rules", path, AI_MAX_RULES, &rules)) return aw_last_status();
    char p[PATH_SIZE], q[PATH_SIZE];
    sub(p, path, "rules");
    if (!rules || !json_array_size(rules)) return fail(l, p, "at least one rule is required");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        item(q, p, i);
        static const char *const rkeys[] = {"when", "steps", NULL};
        ai_rule *rule = &set->rules[i];
        if (get_object(l, r, q) || check_keys(l, r, q, rkeys) ||
            parse_facts(l, r, "when", q, &rule->when_mask, &rule->when_value) ||
            parse_steps(l, r, q, rule->steps, &rule->step_count))
            return aw_last_status();
    }
    set->rule_count = (uint32_t)json_array_size(rules);
    return AW_OK;
}

/* ---- agent types */


static int find_domain(const ai_library *lib, const char *name) {
    for (uint32_t i = 0; i < lib->domain_count; i++)
        if (strcmp(lib->domains[i].name, name) == 0) return (int)i;
    return -1;
}
static int find_utility(const ai_library *lib, const char *name) {
    for (uint32_t i = 0; i < lib->utility_count; i++)
        if (strcmp(lib->utility[i].name, name) == 0) return (int)i;
    return -1;
}
static int find_tree(const ai_library *lib, const char *name) {
    for (uint32_t i = 0; i < lib->tree_count; i++)
        if (strcmp(lib->trees[i].name, name) == 0) return (int)i;
    return -1;
}
static int find_rules(const ai_library *lib, const char *name) {
    for (uint32_t i = 0; i < lib->rule_set_count; i++)
        if (strcmp(lib->rule_sets[i].name, name) == 0) return (int)i;
    return -1;
}
static int find_type(const ai_library *lib, const char *name) {
    for (uint32_t i = 0; i < lib->type_count; i++)
        if (strcmp(lib->types[i].name, name) == 0) return (int)i;
    return -1;
}

/* A reference by name ("domain": "soldier"); absent: "default" when the library has one. */
static aw_status resolve(const loader *l, json_t *v, const char *key, const char *path,
                         int (*find)(const ai_library *, const char *), int16_t *out) {
    char name[AW_AI_NAME_SIZE] = "default", p[PATH_SIZE];
    if (get_name(l, v, key, path, false, name)) return aw_last_status();
    int i = find(l->lib, name);
    sub(p, path, key);
    if (i < 0 && json_object_get(v, key)) return fail(l, p, "no %s named \"%s\" is loaded", key, name);
    *out = (int16_t)i;
    return AW_OK;
}

static aw_status parse_type(const loader *l, json_t *v, const char *path, aw_agent_type *t) {
    memset(t, 0, sizeof *t);
    static const char *const keys[] = {
        "name", "orchestrator", "domain", "utility", "tree", "rules", "actions", "max_hp", "speed", "radius",
        "perception_radius", "weapon_range", "weapon_damage", "fire_interval", "aimed_multiplier", "aimed_interval",
        "projectile_speed", "magazine", "reserve_ammo", "explosives", "medkits", "explosive_damage",
        "explosive_radius", "throw_range", "explosive_interval", "heal_amount", "heal_interval", "scan_interval",
        "strafe_interval", "low_hp", "respawn_time", NULL};
    char p[PATH_SIZE], q[PATH_SIZE], name[AW_AI_NAME_SIZE];
    if (get_object(l, v, path) || check_keys(l, v, path, keys) || get_name(l, v, "name", path, true, t->name) ||
        get_name(l, v, "orchestrator", path, true, name))
        return aw_last_status();
    sub(p, path, "orchestrator");
    if (!aw_orchestrator_kind_from_name(name, &t->orchestrator))
        return fail(l, p, "unknown orchestrator \"%s\" (rule, utility, goap, bt, llm)", name);
    if (resolve(l, v, "domain", path, find_domain, &t->domain) ||
        resolve(l, v, "utility", path, find_utility, &t->utility) ||
        resolve(l, v, "tree", path, find_tree, &t->tree) || resolve(l, v, "rules", path, find_rules, &t->rules))
        return aw_last_status();
    /* Every orchestrator a type may fall back to needs its data: without "default" loaded, the
     * one the type names must be given. */
    if ((t->orchestrator == AW_ORCHESTRATOR_GOAP || t->orchestrator == AW_ORCHESTRATOR_LLM) && t->domain < 0)
        return fail(l, path, "a goap or llm type needs a \"domain\"");
    if (t->orchestrator == AW_ORCHESTRATOR_UTILITY && t->utility < 0) return fail(l, path, "needs a \"utility\" set");
    if (t->orchestrator == AW_ORCHESTRATOR_BT && t->tree < 0) return fail(l, path, "needs a \"tree\"");
    if (t->orchestrator == AW_ORCHESTRATOR_RULE && t->rules < 0) return fail(l, path, "needs \"rules\"");
    if (t->domain < 0) t->domain = 0;
    if (t->utility < 0) t->utility = 0;
    if (t->tree < 0) t->tree = 0;
    if (t->rules < 0) t->rules = 0;
    json_t *actions;
    if (get_array(l, v, "actions", path, AW_ACTION_KIND_COUNT, &actions)) return aw_last_status();
    t->action_mask = ((1u << AW_ACTION_KIND_COUNT) - 1u) & ~1u;
    if (actions) {
        t->action_mask = 0;
        sub(p, path, "actions");
        /* An empty set would refuse every step the type plans. */
        if (!json_array_size(actions)) return fail(l, p, "at least one step kind is required");
        size_t i;
        json_t *a;
        json_array_foreach(actions, i, a) {
            item(q, p, i);
            aw_action_kind k;
            if (!json_is_string(a)) return fail(l, q, "expected a step kind name");
            if (!aw_action_kind_parse(json_string_value(a), json_string_length(a), &k))
                return fail(l, q, "unknown step kind \"%s\"", json_string_value(a));
            if (t->action_mask & (1u << k)) return fail(l, q, "%s is listed twice", aw_action_kind_name(k));
            t->action_mask |= 1u << k;
        }
    }
    t->max_hp = 100.0f, t->speed = 5.0f, t->radius = 0.5f, t->perception_radius = 30.0f;
    t->weapon_range = 25.0f, t->weapon_damage = 10.0f, t->fire_interval = 0.5f;
    t->aimed_multiplier = 2.5f, t->aimed_interval = 1.5f, t->projectile_speed = 0.0f;
    t->explosive_damage = 60.0f, t->explosive_radius = 4.0f, t->throw_range = 20.0f, t->explosive_interval = 5.0f;
    t->heal_amount = 40.0f, t->heal_interval = 3.0f, t->scan_interval = 2.0f, t->strafe_interval = 1.0f;
    t->low_hp = 0.35f, t->respawn_time = 3.0f;
    long magazine = 30, reserve = 90, explosives = 2, medkits = 1;
    if (get_number(l, v, "max_hp", path, 1.0f, 1e6f, &t->max_hp) ||
        get_number(l, v, "speed", path, 0.0f, 1e3f, &t->speed) ||
        get_number(l, v, "radius", path, 0.01f, 100.0f, &t->radius) ||
        get_number(l, v, "perception_radius", path, 0.1f, 1e4f, &t->perception_radius) ||
        get_number(l, v, "weapon_range", path, 0.0f, 1e4f, &t->weapon_range) ||
        get_number(l, v, "weapon_damage", path, 0.0f, 1e6f, &t->weapon_damage) ||
        get_number(l, v, "fire_interval", path, 0.0f, 3600.0f, &t->fire_interval) ||
        get_number(l, v, "aimed_multiplier", path, 0.0f, 100.0f, &t->aimed_multiplier) ||
        get_number(l, v, "aimed_interval", path, 0.0f, 3600.0f, &t->aimed_interval) ||
        get_number(l, v, "projectile_speed", path, 0.0f, 1e4f, &t->projectile_speed) ||
        get_integer(l, v, "magazine", path, 0, 65535, &magazine) ||
        get_integer(l, v, "reserve_ammo", path, 0, 65535, &reserve) ||
        get_integer(l, v, "explosives", path, 0, 255, &explosives) ||
        get_integer(l, v, "medkits", path, 0, 255, &medkits) ||
        get_number(l, v, "explosive_damage", path, 0.0f, 1e6f, &t->explosive_damage) ||
        get_number(l, v, "explosive_radius", path, 0.0f, 1e3f, &t->explosive_radius) ||
        get_number(l, v, "throw_range", path, 0.0f, 1e4f, &t->throw_range) ||
        get_number(l, v, "explosive_interval", path, 0.0f, 3600.0f, &t->explosive_interval) ||
        get_number(l, v, "heal_amount", path, 0.0f, 1e6f, &t->heal_amount) ||
        get_number(l, v, "heal_interval", path, 0.0f, 3600.0f, &t->heal_interval) ||
        get_number(l, v, "scan_interval", path, 0.0f, 3600.0f, &t->scan_interval) ||
        get_number(l, v, "strafe_interval", path, 0.0f, 3600.0f, &t->strafe_interval) ||
        get_number(l, v, "low_hp", path, 0.0f, 1.0f, &t->low_hp) ||
        get_number(l, v, "respawn_time", path, 0.0f, 3600.0f, &t->respawn_time))
        return aw_last_status();
    t->magazine = (uint16_t)magazine, t->reserve_ammo = (uint16_t)reserve;
    t->explosives = (uint8_t)explosives, t->medkits = (uint8_t)medkits;
    return AW_OK;
}

/* ---- the file */

aw_status ai_library_load(ai_library *lib, const char *json, size_t length, const char *name) {
    loader l = {.file = name ? name : "<memory>", .lib = lib};
    json_error_t jerr;
    json_t *root = json_loadb(json, length, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return aw_error(AW_ERR_PARSE, "%s:%d:%d: %s", l.file, jerr.line, jerr.column, jerr.text);
    aw_status st = AW_OK;
    static const char *const keys[] = {"goap_domains", "utility_sets", "behavior_trees", "rule_sets", "types", NULL};
    json_t *arr;
    size_t i;
    json_t *v;
    char p[PATH_SIZE];
    if ((st = get_object(&l, root, "(root)")) || (st = check_keys(&l, root, "", keys))) goto done;

    if ((st = get_array(&l, root, "goap_domains", "", AI_MAX_DOMAINS, &arr))) goto done;
    if (arr) json_array_foreach(arr, i, v) {
        item(p, "goap_domains", i);
        if (lib->domain_count == AI_MAX_DOMAINS) {
            st = fail(&l, p, "more than %u GOAP domains in all", AI_MAX_DOMAINS);
            goto done;
        }
        ai_goap_domain *d = &lib->domains[lib->domain_count];
        if ((st = parse_domain(&l, v, p, d))) goto done;
        if (find_domain(lib, d->name) >= 0) {
            st = fail(&l, p, "a domain named \"%s\" is already loaded", d->name);
            goto done;
        }
        lib->domain_count++;
    }
    if ((st = get_array(&l, root, "utility_sets", "", AI_MAX_UTILITY_SETS, &arr))) goto done;
    if (arr) json_array_foreach(arr, i, v) {
        item(p, "utility_sets", i);
        if (lib->utility_count == AI_MAX_UTILITY_SETS) {
            st = fail(&l, p, "more than %u utility sets in all", AI_MAX_UTILITY_SETS);
            goto done;
        }
        ai_utility_set *u = &lib->utility[lib->utility_count];
        if ((st = parse_utility(&l, v, p, u))) goto done;
        if (find_utility(lib, u->name) >= 0) {
            st = fail(&l, p, "a utility set named \"%s\" is already loaded", u->name);
            goto done;
        }
        lib->utility_count++;
    }
    if ((st = get_array(&l, root, "behavior_trees", "", AI_MAX_TREES, &arr))) goto done;
    if (arr) json_array_foreach(arr, i, v) {
        item(p, "behavior_trees", i);
        if (lib->tree_count == AI_MAX_TREES) {
            st = fail(&l, p, "more than %u behavior trees in all", AI_MAX_TREES);
            goto done;
        }
        ai_bt *t = &lib->trees[lib->tree_count];
        if ((st = parse_tree(&l, v, p, t))) goto done;
        if (find_tree(lib, t->name) >= 0) {
            st = fail(&l, p, "a tree named \"%s\" is already loaded", t->name);
            goto done;
        }
        lib->tree_count++;
    }
    if ((st = get_array(&l, root, "rule_sets", "", AI_MAX_RULE_SETS, &arr))) goto done;
    if (arr) json_array_foreach(arr, i, v) {
        item(p, "rule_sets", i);
        if (lib->rule_set_count == AI_MAX_RULE_SETS) {
            st = fail(&l, p, "more than %u rule sets in all", AI_MAX_RULE_SETS);
            goto done;
        }
        ai_rule_set *r = &lib->rule_sets[lib->rule_set_count];
        if ((st = parse_rules(&l, v, p, r))) goto done;
        if (find_rules(lib, r->name) >= 0) {
            st = fail(&l, p, "a rule set named \"%s\" is already loaded", r->name);
            goto done;
        }
        lib->rule_set_count++;
    }
    if ((st = get_array(&l, root, "types", "", AI_MAX_TYPES, &arr))) goto done;
    if (arr) json_array_foreach(arr, i, v) {
        item(p, "types", i);
        if (lib->type_count == AI_MAX_TYPES) {
            st = fail(&l, p, "more than %u agent types in all", AI_MAX_TYPES);
            goto done;
        }
        aw_agent_type *t = &lib->types[lib->type_count];
        if ((st = parse_type(&l, v, p, t))) goto done;
        if (find_type(lib, t->name) >= 0) {
            st = fail(&l, p, "a type named \"%s\" is already loaded", t->name);
            goto done;
        }
        lib->type_count++;
    }
done:
    json_decref(root);
    return st;
}
