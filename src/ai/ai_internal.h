/* Internal AI data: the library of agent types and orchestrator data (loaded from JSON), senses
 * computed from a snapshot, step templates, the planners' entry points and per-thread scratch. */
#ifndef AW_AI_INTERNAL_H
#define AW_AI_INTERNAL_H

#include "aw/ai.h"

#define AI_MAX_TYPES        64u
#define AI_MAX_DOMAINS      16u
#define AI_MAX_GOAP_ACTIONS 64u
#define AI_MAX_GOALS        8u
#define AI_MAX_FACTS        64u
#define AI_MAX_UTILITY_SETS 16u
#define AI_MAX_OPTIONS      32u
#define AI_MAX_CONSIDER     8u
#define AI_MAX_TREES        16u
#define AI_MAX_BT_NODES     128u
#define AI_MAX_BT_CHILDREN  16u
#define AI_MAX_BT_DEPTH     24u
#define AI_MAX_RULE_SETS    16u
#define AI_MAX_RULES        32u
#define AI_MAX_OBSTACLES    1024u
#define AI_MAX_POIS         256u
#define AI_GOAP_MAX_NODES   4096u /* A* search nodes per plan */
#define AI_GOAP_CACHE_SIZE  1024u /* entries per thread, direct mapped */

/* ---- senses: boolean facts (GOAP state, BT conditions, rules) and numeric inputs (utility) */

typedef enum ai_fact {
    AI_FACT_ENEMY_VISIBLE = 0, /* an enemy within perception radius */
    AI_FACT_ENEMY_IN_RANGE,    /* nearest enemy within weapon range */
    AI_FACT_HAS_AMMO,
    AI_FACT_HAS_RESERVE,
    AI_FACT_LOW_HP,
    AI_FACT_IN_COVER,
    AI_FACT_ALLY_DOWNED,
    AI_FACT_ALLY_WOUNDED,
    AI_FACT_HAS_EXPLOSIVE,
    AI_FACT_HAS_MEDKIT,
    AI_FACT_ENEMIES_CLUSTERED, /* 3+ enemies within the explosive radius of the nearest */
    AI_FACT_OUTNUMBERED,
    AI_FACT_LOW_MORALE,
    AI_FACT_ATTACK_READY,
    AI_FACT_EXPLOSIVE_READY,
    AI_FACT_HEAL_READY,
    AI_FACT_ORDER_RETREAT,
    AI_FACT_ORDER_ADVANCE,
    AI_FACT_ORDER_FOLLOW,
    AI_FACT_ORDER_HOLD,
    AI_FACT_NEAR_OBJECTIVE,
    AI_FACT_HAS_OBJECTIVE,
    AI_FACT_COVER_NEARBY,
    AI_FACT_ENEMY_CLOSE,       /* nearest enemy within 30% of weapon range */
    AI_FACT_COUNT
} ai_fact;

typedef enum ai_input {
    AI_INPUT_ALWAYS = 0, /* 1 */
    AI_INPUT_HP,         /* hp / max_hp */
    AI_INPUT_AMMO,       /* ammo / magazine */
    AI_INPUT_RESERVE,    /* reserve / type's reserve */
    AI_INPUT_ENEMY_DISTANCE, /* nearest enemy / perception radius, 1 when none */
    AI_INPUT_ENEMY_COUNT,    /* enemies / AW_AI_MAX_CONTACTS */
    AI_INPUT_ALLY_COUNT,
    AI_INPUT_MORALE,
    AI_INPUT_IN_COVER,
    AI_INPUT_ALLY_DOWNED,
    AI_INPUT_EXPLOSIVES,  /* > 0 */
    AI_INPUT_MEDKITS,     /* > 0 */
    AI_INPUT_ATTACK_READY,
    AI_INPUT_CLUSTERED,
    AI_INPUT_OUTNUMBERED,
    AI_INPUT_RANGE_RATIO, /* nearest enemy / weapon range, clamped to 1 */
    AI_INPUT_OBJECTIVE_DISTANCE, /* to objective / perception radius, clamped */
    AI_INPUT_HEAL_READY,
    AI_INPUT_EXPLOSIVE_READY,
    AI_INPUT_COUNT
} ai_input;

typedef struct ai_senses {
    uint64_t facts; /* bit per ai_fact */
    float inputs[AI_INPUT_COUNT];
    int8_t nearest_enemy, weakest_enemy, nearest_ally, downed_ally, wounded_ally; /* indices or -1 */
} ai_senses;

const char *ai_fact_name(ai_fact fact);
int ai_fact_find(const char *name); /* -1 if unknown */
const char *ai_input_name(ai_input input);
int ai_input_find(const char *name);

/* ---- step templates: a step kind with symbolic target and place, bound against a snapshot */

typedef enum ai_target_ref {
    AI_TARGET_NONE = 0,
    AI_TARGET_SELF,
    AI_TARGET_NEAREST_ENEMY,
    AI_TARGET_WEAKEST_ENEMY,
    AI_TARGET_NEAREST_ALLY,
    AI_TARGET_DOWNED_ALLY,
    AI_TARGET_WOUNDED_ALLY,
    AI_TARGET_COMMANDER,
    AI_TARGET_ORDER_TARGET,
    AI_TARGET_OBJECTIVE,
    AI_TARGET_COUNT
} ai_target_ref;

typedef enum ai_place_ref {
    AI_PLACE_NONE = 0,  /* none named: the kind's default place, if it has one (ai_step_resolve) */
    AI_PLACE_TARGET,    /* the bound target's position */
    AI_PLACE_COVER,     /* nearest cover point, or the far side of the nearest obstacle */
    AI_PLACE_AWAY,      /* `distance` away from the nearest enemy */
    AI_PLACE_OBJECTIVE,
    AI_PLACE_COMMANDER,
    AI_PLACE_ORDER,     /* the commander's order position */
    AI_PLACE_WAYPOINT,  /* nearest waypoint point of interest, or a point ahead */
    AI_PLACE_SQUAD,     /* centre of the allies in the snapshot */
    AI_PLACE_COUNT
} ai_place_ref;

typedef struct ai_step_template {
    uint8_t kind;   /* aw_action_kind */
    uint8_t target; /* ai_target_ref */
    uint8_t place;  /* ai_place_ref */
    int8_t direction;
    float distance, duration, amount;
} ai_step_template;

const char *ai_target_name(ai_target_ref ref);
int ai_target_find(const char *name);
const char *ai_place_name(ai_place_ref ref);
int ai_place_find(const char *name);

/* Binds a template into a concrete step; false if a needed target or place is missing. A template
 * without a place gets its kind's default place (ai_step_resolve). */
bool ai_bind_step(const ai_step_template *t, const aw_world_snapshot *snap, const ai_senses *senses,
                  const aw_agent_type *type, aw_action_step *out);

/* ---- places (places.c): where steps go, shared by binding and every accepted plan */

/* Nearest cover point of interest, else the side of the nearest obstacle facing away from the
 * nearest enemy (snapshot index, -1: none; then the obstacle's -x side); false: neither in reach. */
bool ai_place_cover(const aw_world_snapshot *snap, int nearest_enemy, const aw_agent_type *type,
                    aw_vec3 *out);
/* `distance` (0: 10 m) from self, straight away from `from` on x/z, inside the bounds. */
aw_vec3 ai_place_away(const aw_world_snapshot *snap, aw_vec3 from, float distance);
/* Nearest waypoint point of interest over 2 m off, else a point 10 m away chosen by entity and frame. */
aw_vec3 ai_place_waypoint(const aw_world_snapshot *snap);
/* Centre of the snapshot's allies; false: none. */
bool ai_place_squad(const aw_world_snapshot *snap, aw_vec3 *out);
/* Sets a found position, marking it AW_STEP_ORIGIN when it is the zero vector. */
void ai_step_set_place(aw_action_step *step, aw_vec3 position);
/* Fills an unset place (zero position without AW_STEP_ORIGIN) of Retreat, TakeCover, Patrol,
 * Regroup and ThrowExplosive with its kind's default (include/aw/ai.h) from the snapshot; ai (may
 * be NULL) finds targets beyond the snapshot, through this frame's vitals when in_frame. Returns
 * AW_VALID when the place is set (or the kind has none), else what validation will refuse the
 * unchanged step with. */
aw_validation ai_step_resolve(const aw_ai *ai, const aw_world_snapshot *snap, const aw_agent_type *type,
                              aw_action_step *step, bool in_frame);
/* ai_step_resolve on each step of a plan, once, when the plan is accepted. */
void ai_plan_resolve(const aw_ai *ai, const aw_world_snapshot *snap, const aw_agent_type *type,
                     aw_plan_intent *plan, bool in_frame);
/* For validation: AW_VALID, or the category of a step whose place is still unset (its default
 * was not found): InvalidTarget for a Retreat or ThrowExplosive that names a target, else NoPath. */
aw_validation ai_step_place_missing(const aw_action_step *step);
/* Retreat, TakeCover, Patrol and Regroup: kinds whose steps find a place of their own when none is
 * named (ai_step_resolve). */
bool ai_kind_has_default_place(aw_action_kind kind);

/* ---- agent types */

struct aw_agent_type {
    char name[AW_AI_NAME_SIZE];
    aw_orchestrator_kind orchestrator;
    uint32_t action_mask; /* bit per aw_action_kind the type may run */
    float max_hp, speed, radius, perception_radius;
    float weapon_range, weapon_damage, fire_interval;
    float aimed_multiplier, aimed_interval;
    float projectile_speed; /* 0: hitscan */
    uint16_t magazine, reserve_ammo;
    uint8_t explosives, medkits;
    float explosive_damage, explosive_radius, throw_range, explosive_interval;
    float heal_amount, heal_interval, scan_interval, strafe_interval;
    float low_hp; /* ratio of max_hp below which low_hp holds */
    float respawn_time;
    int16_t domain, utility, tree, rules; /* library indices, -1: the built-in defaults */
};

/* ---- GOAP */

typedef struct ai_goap_action {
    char name[AW_AI_NAME_SIZE];
    uint64_t pre_mask, pre_value;
    uint64_t effect_mask, effect_value;
    float cost; /* > 0 */
    ai_step_template step;
} ai_goap_action;

typedef struct ai_goap_goal {
    char name[AW_AI_NAME_SIZE];
    uint64_t when_mask, when_value; /* the goal applies when these facts hold */
    uint64_t goal_mask, goal_value;
    float priority;
} ai_goap_goal;

typedef struct ai_goap_domain {
    char name[AW_AI_NAME_SIZE];
    uint32_t fact_count;
    char facts[AI_MAX_FACTS][AW_AI_NAME_SIZE];
    int8_t fact_sense[AI_MAX_FACTS]; /* ai_fact feeding this bit, or -1: planning-only, starts false */
    uint32_t action_count, goal_count;
    ai_goap_action actions[AI_MAX_GOAP_ACTIONS];
    ai_goap_goal goals[AI_MAX_GOALS]; /* sorted by priority, highest first */
    float min_cost;
    uint32_t max_effect_bits;
    float achiever_cost[AI_MAX_FACTS][2]; /* cheapest action setting fact i to false/true (INFINITY: none) */
    uint64_t id; /* hash of the name and position, part of cache keys */
} ai_goap_domain;

/* A* over the domain from `start` to a state matching the goal: the cheapest plan of at most max_len
 * actions (the depth limit; capped at AW_AI_MAX_STEPS, what one intent holds). Writes its action
 * indices to out and returns their count, or -1: no plan within max_len actions, or the search
 * would pass AI_GOAP_MAX_NODES nodes. *cost gets the plan's cost. scratch: ai_goap_scratch. */
typedef struct ai_goap_scratch ai_goap_scratch;
ai_goap_scratch *ai_goap_scratch_create(const aw_allocator *a);
void ai_goap_scratch_destroy(ai_goap_scratch *s, const aw_allocator *a);
int ai_goap_search(const ai_goap_domain *d, uint64_t start, uint64_t goal_mask, uint64_t goal_value,
                   uint32_t max_len, ai_goap_scratch *s, uint8_t *out, float *cost);
uint32_t ai_goap_last_nodes(const ai_goap_scratch *s); /* search nodes the last search created */
/* The same with max_len AW_AI_MAX_STEPS through the scratch's plan cache keyed by (domain, state, goal). */
int ai_goap_plan_cached(const ai_goap_domain *d, uint64_t start, uint32_t goal, ai_goap_scratch *s, uint8_t *out,
                        float *cost, bool *hit);
void ai_goap_cache_clear(ai_goap_scratch *s);
/* Domain derived values (min cost, max effect bits) after loading. */
void ai_goap_domain_finish(ai_goap_domain *d);
/* The domain's start state from senses. */
uint64_t ai_goap_state(const ai_goap_domain *d, const ai_senses *senses);

/* ---- utility */

typedef enum ai_curve_kind {
    AI_CURVE_LINEAR = 0, /* m (x - c) + b */
    AI_CURVE_POLYNOMIAL, /* m (x - c)^k + b */
    AI_CURVE_LOGISTIC,   /* k / (1 + e^(-m (x - c))) + b */
    AI_CURVE_STEP,       /* x >= c ? m : b */
    AI_CURVE_COUNT
} ai_curve_kind;

typedef struct ai_consideration {
    uint8_t input, curve;
    float m, k, b, c, weight;
} ai_consideration;

typedef struct ai_utility_option {
    char name[AW_AI_NAME_SIZE];
    float weight;
    uint32_t consider_count, step_count;
    ai_consideration consider[AI_MAX_CONSIDER];
    ai_step_template steps[AW_AI_MAX_STEPS];
} ai_utility_option;

typedef struct ai_utility_set {
    char name[AW_AI_NAME_SIZE];
    uint32_t option_count;
    ai_utility_option options[AI_MAX_OPTIONS];
} ai_utility_set;

float ai_curve_eval(const ai_consideration *c, float x);
/* Scores every option into scores[i] and returns the best's index (ties:
 * the first), -1 if none scores above 0. Binding is the caller's: the utility orchestrator zeroes the
 * score of an option whose steps do not bind and asks ai_utility_next for the one after it. */
int ai_utility_select(const ai_utility_set *set, const ai_senses *senses, float *scores);
/* The index of the highest of scores[0..count) above 0 (ties: the first), -1 if none. */
int ai_utility_next(const float *scores, uint32_t count);

/* ---- behavior trees */

typedef enum ai_bt_kind {
    AI_BT_SEQUENCE = 0,
    AI_BT_SELECTOR,
    AI_BT_PARALLEL, /* param: successes needed (0: all) */
    AI_BT_INVERTER,
    AI_BT_REPEAT,   /* param: times */
    AI_BT_COOLDOWN, /* seconds; slot: memory slot */
    AI_BT_ACTION,
    AI_BT_CONDITION, /* fact; param 0: must be false, else true */
    AI_BT_KIND_COUNT
} ai_bt_kind;

typedef struct ai_bt_node {
    uint8_t kind, child_count, fact, slot;
    uint16_t children[AI_MAX_BT_CHILDREN];
    float param;
    ai_step_template step;
} ai_bt_node;

typedef struct ai_bt {
    char name[AW_AI_NAME_SIZE];
    uint32_t node_count; /* node 0 is the root */
    ai_bt_node nodes[AI_MAX_BT_NODES];
} ai_bt;

typedef enum ai_bt_status { AI_BT_FAILURE = 0, AI_BT_SUCCESS = 1 } ai_bt_status;

/* Ticks the tree once: action leaves append bound steps to out (a failing branch's steps are
 * taken back). Returns the root's status. */
ai_bt_status ai_bt_tick(const ai_bt *tree, const aw_world_snapshot *snap, const ai_senses *senses,
                        const aw_agent_type *type, float *memory, aw_plan_intent *out);

/* ---- rules */

typedef struct ai_rule {
    uint64_t when_mask, when_value;
    uint32_t step_count;
    ai_step_template steps[AW_AI_MAX_STEPS];
} ai_rule;

typedef struct ai_rule_set {
    char name[AW_AI_NAME_SIZE];
    uint32_t rule_count;
    ai_rule rules[AI_MAX_RULES];
} ai_rule_set;

/* ---- the library */

typedef struct ai_library {
    uint32_t type_count, domain_count, utility_count, tree_count, rule_set_count;
    aw_agent_type types[AI_MAX_TYPES];
    ai_goap_domain domains[AI_MAX_DOMAINS];
    ai_utility_set utility[AI_MAX_UTILITY_SETS];
    ai_bt trees[AI_MAX_TREES];
    ai_rule_set rule_sets[AI_MAX_RULE_SETS];
} ai_library;

/* Parses JSON text into lib (which already holds earlier definitions); lib is left partially
 * filled on failure, so callers load into a copy. */
aw_status ai_library_load(ai_library *lib, const char *json, size_t length, const char *name);
/* The built-in defaults (domain, utility set, tree and rule set "default", type "soldier"). */
extern const char *const ai_default_json[]; /* NULL-terminated parts */

/* ---- the AI context */

/* Per-thread scratch: snapshot, GOAP search and cache, deferred effects, counters. */
typedef enum ai_record_kind {
    AI_RECORD_DAMAGE = 0, /* target loses amount hp */
    AI_RECORD_HEAL,       /* target gains amount hp (and stands up if revive) */
    AI_RECORD_REVIVE,
    AI_RECORD_REFUSAL,
    AI_RECORD_SPLASH,     /* area damage at position (explosion) */
    AI_RECORD_DEATH,      /* a downed agent's respawn timer ran out: replace it */
} ai_record_kind;

typedef struct ai_record {
    uint64_t key; /* system << 56 | task << 24 | sequence: the deterministic apply order */
    aw_entity source, target;
    aw_vec3 position;
    float amount, radius;
    uint8_t kind, action, team, category;
    uint32_t plan_id;
    uint8_t step_index, source_kind;
} ai_record;

/* An agent's state as of its frame's start, by entity index, written by the ai_vitals system: what
 * perception, validation and actions read about other agents without chasing their components.
 * An entry is current only when its entity and frame match; anything else looks the entity up. */
typedef struct ai_vital {
    aw_entity entity;
    aw_vec3 position;
    float hp;
    uint32_t frame; /* low 32 bits of the frame that wrote it */
    uint8_t stance;
    uint8_t team;
} ai_vital;

/* Where an agent's 8th nearest ally and enemy lay at its last plan (0: fewer than that, or not
 * known), by entity index: the next plan's grid walk starts from these distances plus a little
 * instead of the full perception radius, and walks again at the full radius only when it finds
 * fewer (so the lists are the same either way). Written only by the agent's own plan. */
typedef struct ai_reach {
    aw_entity entity;
    float ally, enemy;
} ai_reach;

/* One agent due for perception this frame (gathered, then ordered by place, then looked up): what
 * the look reads, copied, so looks in place order read their agents' components not at all. */
typedef struct ai_look {
    aw_entity entity;
    aw_entity last_enemy; /* AiPerception.nearest_enemy at the gather */
    aw_vec3 position;
    uint16_t agent_type;
    uint8_t team;
    aw_ai_perception *perception; /* written by the look */
} ai_look;
#define AI_LOOK_BANDS 1024u /* perception orders its looks by bands along z, at most this many */

/* One agent that plans this frame (chosen in ECS order, budget included, then planned in place
 * order): where its components are, and why it plans. */
typedef struct ai_plan_job {
    aw_entity entity;
    int32_t trigger;
    bool enemies; /* run the enemy query (see planning) */
    const aw_position *position;
    const aw_velocity *velocity;
    const aw_ai_agent *agent;
    aw_ai_plan *plan;
    aw_ai_perception *perception;
} ai_plan_job;
#define AI_PLAN_TILES 1024u /* planning orders its agents by square tiles, at most this many */

/* An entry of a level list sorted by x: the key and the item's index in the list as given. */
typedef struct ai_by_x {
    float x;
    uint32_t index;
} ai_by_x;

typedef struct ai_worker {
    _Alignas(64) aw_world_snapshot snapshot;
    uint32_t vital_need; /* entity index + 1 that did not fit the vitals table this frame */
    uint32_t agents_seen, respawning_seen; /* by the vitals pass this frame: rows, and respawns due */
    const aw_allocator *allocator;
    ai_goap_scratch *goap;
    ai_record *records;
    uint32_t record_count, record_capacity;
    bool record_overflow;
    ai_look *looks; /* agents due for perception, gathered by the vitals pass */
    uint32_t look_count, look_capacity;
    float look_zmin, look_zmax;
    bool look_overflow;
    ai_plan_job *plan_jobs; /* agents that plan this frame, gathered by the planning system's first pass */
    uint32_t plan_job_count, plan_job_capacity;
    aw_vec3 plan_min, plan_max; /* their bounds on x and z */
    aw_ai_stats stats;
} ai_worker;

struct aw_ai {
    aw_world *world;
    aw_physics *physics;
    const aw_allocator *allocator;
    aw_ai_desc desc;
    aw_ai_ids ids;
    aw_physics_ids pids;
    ai_library *lib;
    aw_orchestrator orchestrators[AW_ORCHESTRATOR_KIND_COUNT];
    bool fallback_set[AW_ORCHESTRATOR_KIND_COUNT];
    aw_aabb *obstacles;
    uint32_t obstacle_count;
    aw_ai_poi *pois;
    uint32_t poi_count;
    /* The same, by x (boxes by min.x), so a snapshot reads only those within reach along x. */
    ai_by_x *obstacles_by_x, *pois_by_x;
    float obstacle_max_width; /* widest box along x */
    aw_ai_commander commanders[AW_AI_MAX_TEAMS];
    aw_ai_objective objectives[AW_AI_MAX_TEAMS];
    aw_aabb spawn_areas[AW_AI_MAX_TEAMS];
    bool has_spawn_area[AW_AI_MAX_TEAMS];
    ai_worker *workers;
    uint32_t worker_count;
    ai_vital *vitals; /* by entity index; grown between frames, never during one */
    uint32_t vital_capacity;
    ai_reach *reach; /* by entity index, vital_capacity entries; grown with the vitals */
    ai_record *merged; /* all workers' records, sorted, reused */
    uint32_t merged_capacity;
    uint32_t *piece_start; /* effects: where each (system, task)'s records go in `merged` */
    uint32_t piece_start_capacity;
    ai_look *looks; /* perception: the workers' gathered looks, ordered by place */
    uint32_t look_capacity;
    uint32_t look_bands[AI_LOOK_BANDS + 1];
    ai_plan_job *plan_jobs; /* planning: the workers' gathered agents, ordered by place */
    uint32_t plan_job_capacity;
    uint32_t plan_tiles[AI_PLAN_TILES + 1];
    uint32_t plan_budget_total; /* this frame's budget */
    aw_ai_stats stats;          /* totals from finished frames */
    bool systems_registered;
    double time;    /* game time of the current frame */
    uint64_t frame; /* frames run by the systems */
};

/* Senses from a snapshot. */
void ai_sense(const aw_world_snapshot *snap, const aw_agent_type *type, ai_senses *out);
/* Fills the snapshot of one agent from the world (perception helpers). reach: the agent's entry
 * of the reach table, read as a hint and updated (NULL: none; the snapshot is the same either way). */
aw_status ai_snapshot_fill(const aw_ai *ai, aw_entity agent, const aw_position *pos, const aw_velocity *vel,
                           const aw_ai_agent *state, double time, uint64_t frame, bool enemies,
                           ai_reach *reach, aw_world_snapshot *out);
/* The agent's reach entry (reset when it belonged to an earlier entity of that index), or NULL
 * when the table has no room for its index yet. */
static inline ai_reach *ai_reach_of(aw_ai *ai, aw_entity e) {
    uint32_t i = AW_ENTITY_INDEX(e);
    if (!ai->reach || i >= ai->vital_capacity) return NULL;
    ai_reach *r = &ai->reach[i];
    if (r->entity != e) *r = (ai_reach){.entity = e};
    return r;
}
/* Only self, time and bounds (what validation reads). */
void ai_snapshot_self(const aw_ai *ai, aw_entity e, const aw_position *pos, const aw_velocity *vel,
                      const aw_ai_agent *state, double time, uint64_t frame, aw_world_snapshot *out);
/* Validation with the type resolved; in_frame: called by the action system, where snap->frame is
 * the running frame and targets' vitals are current. */
aw_validation ai_validate(const aw_ai *ai, const aw_world_snapshot *snap, const aw_agent_type *type,
                          const aw_action_step *step, bool in_frame);
const aw_agent_type *ai_type_of(const aw_ai *ai, uint32_t index);
/* Built-in orchestrators' plan functions (ctx is the aw_ai). */
aw_plan_status ai_plan_rule(void *ctx, const aw_plan_request *req, aw_plan_intent *out);
aw_plan_status ai_plan_utility(void *ctx, const aw_plan_request *req, aw_plan_intent *out);
aw_plan_status ai_plan_goap(void *ctx, const aw_plan_request *req, aw_plan_intent *out);
aw_plan_status ai_plan_bt(void *ctx, const aw_plan_request *req, aw_plan_intent *out);
/* Runs the agent's orchestrator with its fallback. */
aw_plan_status ai_plan_with_fallback(aw_ai *ai, aw_orchestrator_kind kind, const aw_plan_request *req,
                                     aw_plan_intent *out, bool *used_fallback, ai_worker *w, bool poll);
ai_worker *ai_worker_of(const aw_ai *ai, uint32_t worker);
/* The agent's vitals written this frame, or NULL (not an agent, gone, or outside a frame). */
static inline const ai_vital *ai_vital_of(const aw_ai *ai, aw_entity e, uint64_t frame) {
    uint32_t i = AW_ENTITY_INDEX(e);
    if (i >= ai->vital_capacity) return NULL;
    const ai_vital *v = &ai->vitals[i];
    return v->entity == e && v->frame == (uint32_t)frame ? v : NULL;
}
/* Where agent e stands, its team and hp: this frame's vitals entry (when in_frame and it has one),
 * else its components. False when e is no agent. */
bool ai_agent_state(const aw_ai *ai, aw_entity e, uint64_t frame, bool in_frame, aw_vec3 *pos, uint8_t *team,
                    float *hp);
/* Asks for e's vitals entry ahead of an ai_vital_of (the table is by entity index: a miss). */
static inline void ai_vital_prefetch(const aw_ai *ai, aw_entity e) {
    uint32_t i = AW_ENTITY_INDEX(e);
    if (e != AW_ENTITY_NULL && i < ai->vital_capacity) __builtin_prefetch(&ai->vitals[i]);
}
void ai_record_push(ai_worker *w, const ai_record *r);
void ai_agent_init(const aw_agent_type *t, uint32_t type, uint8_t team, aw_ai_agent *out);
/* Records a new agent's components on a created entity (spawn and respawn share it). */
/* Command bytes of one respawn: a destroy, then a create and ai_agent_commands' sets. */
size_t ai_respawn_bytes(void);
void ai_agent_commands(const aw_ai *ai, aw_cmd_buffer *cb, aw_entity e, uint32_t type, uint8_t team,
                       aw_vec3 position);
uint32_t ai_kind_cooldown(aw_action_kind kind); /* aw_ai_cooldown slot or AW_COOLDOWN_COUNT */

#endif /* AW_AI_INTERNAL_H */
