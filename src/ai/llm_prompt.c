/* What the LLM reads: the system prompt (answer format, step kinds and their parameters) and the
 * snapshot written out as the current situation, with contacts named as plan targets name them. */
#include "aw/ai_llm.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char SYSTEM_PROMPT[] =
    "You command one soldier in a real-time tactical game. Read the situation and answer with one JSON "
    "object and nothing else: {\"steps\": [step, ...]} with 1 to 8 steps run in order.\n"
    "Each step is {\"kind\": KIND, ...parameters}. Targets: \"E1\"..\"E8\" are the enemies listed (nearest "
    "first), \"A1\"..\"A8\" the allies, \"self\", \"commander\". Positions are [x, y, z] in metres inside the "
    "bounds. distance in metres (0..1000), duration in seconds (0..60).\n"
    "Kinds:\n"
    "MoveTo {position, amount: speed (optional, at most your own)}\n"
    "Approach {target, distance: stop distance (optional)}\n"
    "Retreat {target: enemy (optional), distance (optional)}\n"
    "TakeCover {position (optional: nearest cover)}\n"
    "Strafe {target: enemy to face, distance, direction: \"left\" or \"right\"}\n"
    "Patrol {position: next waypoint (optional)}\n"
    "Attack {target: enemy}\n"
    "AimedShot {target: enemy}\n"
    "ThrowExplosive {position or target: enemy}\n"
    "CoverFire {target: enemy or position, duration}\n"
    "Heal {target: self or ally (optional: self)}\n"
    "Reload {}\n"
    "Revive {target: downed ally}\n"
    "Scan {duration, position: direction to look (optional)}\n"
    "Wait {duration}\n"
    "Regroup {position (optional: commander, else squad centre)}\n"
    "MarkTarget {target: enemy}\n"
    "Only use targets that are listed. Keep plans short and sensible: reload when empty, heal when hurt, "
    "take cover under fire, follow the commander's orders.";

const char *aw_llm_default_system_prompt(void) {
    return SYSTEM_PROMPT;
}

/* snprintf that appends at *n, tracking the length needed even past cap. */
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...) AW_PRINTF(4, 5);
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(*n < cap ? buf + *n : NULL, *n < cap ? cap - *n : 0, fmt, ap);
    va_end(ap);
    if (w > 0) *n += (size_t)w;
}

static const char *stance_name(uint32_t s) {
    static const char *names[AW_STANCE_COUNT] = {"standing", "crouching", "prone", "in cover", "downed"};
    return s < AW_STANCE_COUNT ? names[s] : "unknown";
}

static const char *order_name(uint32_t o) {
    static const char *names[AW_ORDER_COUNT] = {"none", "hold", "advance", "follow", "attack", "retreat"};
    return o < AW_ORDER_COUNT ? names[o] : "unknown";
}

static const char *poi_name(uint32_t k) {
    static const char *names[AW_POI_KIND_COUNT] = {"point", "cover", "ammo", "medkit", "waypoint", "danger"};
    return k < AW_POI_KIND_COUNT ? names[k] : "point";
}

static const char *objective_name(uint32_t k) {
    static const char *names[AW_OBJECTIVE_KIND_COUNT] = {"none", "eliminate", "hold", "capture", "escort", "survive"};
    return k < AW_OBJECTIVE_KIND_COUNT ? names[k] : "none";
}

/* Matches a contact to its plan name (E1, A2), or -1. */
static int contact_name(const aw_world_snapshot *s, aw_entity id, char *side) {
    for (uint32_t i = 0; i < s->enemy_count && i < AW_AI_MAX_CONTACTS; i++)
        if (s->enemies[i].id == id) return *side = 'E', (int)i + 1;
    for (uint32_t i = 0; i < s->ally_count && i < AW_AI_MAX_CONTACTS; i++)
        if (s->allies[i].id == id) return *side = 'A', (int)i + 1;
    return -1;
}

static void put_contacts(char *buf, size_t cap, size_t *n, const aw_world_snapshot *s, bool enemies) {
    const aw_ai_contact *c = enemies ? s->enemies : s->allies;
    uint32_t count = enemies ? s->enemy_count : s->ally_count;
    if (count > AW_AI_MAX_CONTACTS) count = AW_AI_MAX_CONTACTS;
    put(buf, cap, n, "%s (%u):", enemies ? "Enemies" : "Allies", count);
    if (count == 0) put(buf, cap, n, " none");
    for (uint32_t i = 0; i < count; i++) {
        const aw_ai_contact *k = &c[i];
        put(buf, cap, n, "%s %c%u at (%.1f, %.1f, %.1f) %.1f m, hp %.0f%s%s%s", i ? ";" : "", enemies ? 'E' : 'A', i + 1,
            (double)k->position.x, (double)k->position.y, (double)k->position.z, (double)k->distance, (double)k->hp,
            k->downed ? ", downed" : "", k->in_cover ? ", in cover" : "", k->visible ? ", visible" : ", not visible");
        if (k->last_seen < s->time) put(buf, cap, n, ", last seen %.1f s ago", s->time - k->last_seen);
    }
    put(buf, cap, n, ".\n");
}

size_t aw_llm_describe_snapshot(const aw_world_snapshot *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    if (!s) return 0;
    const aw_ai_self *me = &s->self;
    put(buf, cap, &n, "Time %.1f s. Me: hp %.0f/%.0f, morale %.2f, %s at (%.1f, %.1f, %.1f); ammo %u/%u, reserve %u, "
        "explosives %u, medkits %u.\n",
        s->time, (double)me->hp, (double)me->max_hp, (double)me->morale, stance_name(me->stance),
        (double)me->position.x, (double)me->position.y, (double)me->position.z, me->ammo, me->max_ammo,
        me->reserve_ammo, me->explosives, me->medkits);
    static const char *cd_names[AW_COOLDOWN_COUNT] = {"attack", "explosive", "heal", "scan", "move"};
    put(buf, cap, &n, "Cooldowns:");
    for (int i = 0; i < AW_COOLDOWN_COUNT; i++) {
        if (me->cooldowns[i] > 0) put(buf, cap, &n, " %s %.1f s", cd_names[i], (double)me->cooldowns[i]);
        else put(buf, cap, &n, " %s ready", cd_names[i]);
        put(buf, cap, &n, i + 1 < AW_COOLDOWN_COUNT ? "," : ".\n");
    }
    put_contacts(buf, cap, &n, s, true);
    put_contacts(buf, cap, &n, s, false);
    if (s->commander.id != AW_ENTITY_NULL) {
        put(buf, cap, &n, "Commander at (%.1f, %.1f, %.1f), order: %s", (double)s->commander.position.x,
            (double)s->commander.position.y, (double)s->commander.position.z, order_name(s->commander.order));
        if (s->commander.order == AW_ORDER_ADVANCE || s->commander.order == AW_ORDER_RETREAT)
            put(buf, cap, &n, " to (%.1f, %.1f, %.1f)", (double)s->commander.order_position.x,
                (double)s->commander.order_position.y, (double)s->commander.order_position.z);
        char side;
        int idx = contact_name(s, s->commander.order_target, &side);
        if (s->commander.order == AW_ORDER_ATTACK && idx > 0) put(buf, cap, &n, " %c%d", side, idx);
        put(buf, cap, &n, ".\n");
    }
    if (s->objective.kind != AW_OBJECTIVE_NONE) {
        put(buf, cap, &n, "Objective: %s", objective_name(s->objective.kind));
        if (s->objective.kind == AW_OBJECTIVE_HOLD || s->objective.kind == AW_OBJECTIVE_CAPTURE)
            put(buf, cap, &n, " (%.1f, %.1f, %.1f) radius %.1f m", (double)s->objective.position.x,
                (double)s->objective.position.y, (double)s->objective.position.z, (double)s->objective.radius);
        char side;
        int idx = contact_name(s, s->objective.target, &side);
        if (idx > 0) put(buf, cap, &n, " %c%d", side, idx);
        put(buf, cap, &n, ".\n");
    }
    uint32_t pois = s->poi_count < AW_AI_MAX_POIS ? s->poi_count : AW_AI_MAX_POIS;
    if (pois) {
        put(buf, cap, &n, "Points:");
        for (uint32_t i = 0; i < pois; i++)
            put(buf, cap, &n, "%s %s at (%.1f, %.1f, %.1f)", i ? ";" : "", poi_name(s->pois[i].kind),
                (double)s->pois[i].position.x, (double)s->pois[i].position.y, (double)s->pois[i].position.z);
        put(buf, cap, &n, ".\n");
    }
    if (s->bounds.max.x > s->bounds.min.x && s->bounds.max.z > s->bounds.min.z)
        put(buf, cap, &n, "Bounds: x %.0f..%.0f, z %.0f..%.0f.\n", (double)s->bounds.min.x, (double)s->bounds.max.x,
            (double)s->bounds.min.z, (double)s->bounds.max.z);
    return n;
}

static const char *distance_band(float d) {
    return d < 8 ? "close" : d < 25 ? "at mid range" : "far";
}

/* Bands, not numbers: the same kind of situation gives the same text, so its embedding is computed
 * once and then found in the orchestrator's cache. */
size_t aw_llm_summarize_snapshot(const aw_world_snapshot *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    if (!s) return 0;
    const aw_ai_self *me = &s->self;
    float hp = me->max_hp > 0 ? me->hp / me->max_hp : 1;
    put(buf, cap, &n, "%s, ", hp < 0.25f ? "hp critical" : hp < 0.5f ? "hp low" : hp < 0.8f ? "hurt" : "hp full");
    put(buf, cap, &n, "%s", me->ammo == 0 ? "out of ammo" : me->ammo * 3u < me->max_ammo ? "ammo low" : "ammo ok");
    if (me->reserve_ammo == 0) put(buf, cap, &n, ", no reserve ammo");
    if (me->explosives) put(buf, cap, &n, ", has explosives");
    if (me->medkits) put(buf, cap, &n, ", has medkits");
    put(buf, cap, &n, ".");
    uint32_t alive = 0, first = UINT32_MAX;
    for (uint32_t i = 0; i < s->enemy_count && i < AW_AI_MAX_CONTACTS; i++)
        if (!s->enemies[i].downed && alive++ == 0) first = i;
    if (alive == 0) {
        put(buf, cap, &n, " No enemies seen.");
    } else {
        const aw_ai_contact *e = &s->enemies[first];
        put(buf, cap, &n, " %s, nearest %s%s%s.", alive == 1 ? "One enemy" : alive < 4 ? "A few enemies" : "Many enemies",
            distance_band(e->distance), e->visible ? " visible" : " not visible", e->in_cover ? " in cover" : "");
    }
    bool downed = false, hurt = false;
    for (uint32_t i = 0; i < s->ally_count && i < AW_AI_MAX_CONTACTS; i++) {
        downed = downed || s->allies[i].downed;
        hurt = hurt || (!s->allies[i].downed && s->allies[i].hp < 30);
    }
    if (downed) put(buf, cap, &n, " An ally is downed.");
    if (hurt) put(buf, cap, &n, " An ally is hurt.");
    if (s->ally_count == 0) put(buf, cap, &n, " No allies near.");
    if (s->commander.id != AW_ENTITY_NULL && s->commander.order != AW_ORDER_NONE)
        put(buf, cap, &n, " Commander ordered %s.", order_name(s->commander.order));
    if (s->objective.kind != AW_OBJECTIVE_NONE) put(buf, cap, &n, " Objective: %s.", objective_name(s->objective.kind));
    return n;
}
