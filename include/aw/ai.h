/* AstraWeave AI: the fixed-size data of the perception -> planning -> validated action loop
 * (WorldSnapshot, PlanIntent, ActionStep), tool validation categories, the orchestrator plug-in
 * interface (rule, utility, GOAP, behavior tree, LLM), data-defined agent types and the ECS systems. */
#ifndef AW_AI_H
#define AW_AI_H

#include "aw/core.h"
#include "aw/ecs.h"
#include "aw/physics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- fixed sizes */

#define AW_AI_MAX_CONTACTS  8u  /* allies and enemies each, nearest first */
#define AW_AI_MAX_POIS      4u  /* points of interest in a snapshot */
#define AW_AI_MAX_OBSTACLES 4u  /* nearby obstacle boxes in a snapshot */
#define AW_AI_MAX_STEPS     8u  /* steps in one PlanIntent */
#define AW_AI_NAME_SIZE     32u /* agent type, action and orchestrator names, with the NUL */
#define AW_AI_MAX_TEAMS     4u  /* teams 0..3 */
/* An agent's collider layer is its team's bit, so a grid query with a layer mask finds allies or
 * enemies without looking at any component. */
#define AW_AI_TEAM_LAYER(team) (0x10u << (team))
#define AW_AI_MEMORY_SLOTS  4u  /* floats of per-agent orchestrator memory (aw_plan_request.memory) */

/* ---------------------------------------------------------------- enums */

/* What the agent is doing with its body. */
typedef enum aw_ai_stance {
    AW_STANCE_STAND = 0,
    AW_STANCE_CROUCH,
    AW_STANCE_PRONE,
    AW_STANCE_IN_COVER,
    AW_STANCE_DOWNED, /* hp 0, waiting for a revive or respawn */
    AW_STANCE_COUNT
} aw_ai_stance;

/* The commander's (player's) current order. */
typedef enum aw_ai_order {
    AW_ORDER_NONE = 0,
    AW_ORDER_HOLD,
    AW_ORDER_ADVANCE, /* move to order_position */
    AW_ORDER_FOLLOW,  /* stay near the commander */
    AW_ORDER_ATTACK,  /* engage order_target */
    AW_ORDER_RETREAT, /* fall back to order_position */
    AW_ORDER_COUNT
} aw_ai_order;

/* Cooldown slots: one timer per kind of ability, seconds remaining. */
typedef enum aw_ai_cooldown {
    AW_COOLDOWN_ATTACK = 0, /* Attack, AimedShot, CoverFire */
    AW_COOLDOWN_EXPLOSIVE,  /* ThrowExplosive */
    AW_COOLDOWN_HEAL,       /* Heal, Revive */
    AW_COOLDOWN_SCAN,       /* Scan, MarkTarget */
    AW_COOLDOWN_MOVE,       /* Strafe, TakeCover dashes */
    AW_COOLDOWN_COUNT
} aw_ai_cooldown;

typedef enum aw_ai_poi_kind {
    AW_POI_NONE = 0,
    AW_POI_COVER,    /* a spot behind an obstacle */
    AW_POI_AMMO,     /* resupply */
    AW_POI_MEDKIT,
    AW_POI_WAYPOINT, /* patrol route point */
    AW_POI_DANGER,   /* a recent explosion or a marked area */
    AW_POI_KIND_COUNT
} aw_ai_poi_kind;

typedef enum aw_ai_objective_kind {
    AW_OBJECTIVE_NONE = 0,
    AW_OBJECTIVE_ELIMINATE, /* kill enemies (target: a chosen one, or null for any) */
    AW_OBJECTIVE_HOLD,      /* hold the area around position within radius */
    AW_OBJECTIVE_CAPTURE,   /* reach position and stay */
    AW_OBJECTIVE_ESCORT,    /* stay near target */
    AW_OBJECTIVE_SURVIVE,
    AW_OBJECTIVE_KIND_COUNT
} aw_ai_objective_kind;

/* ---------------------------------------------------------------- WorldSnapshot */

/* What the agent knows of itself. */
typedef struct aw_ai_self {
    aw_entity id;
    aw_vec3 position;
    aw_vec3 velocity;
    float hp, max_hp;
    float morale;                          /* 0 (broken) .. 1 (steady) */
    float cooldowns[AW_COOLDOWN_COUNT]; /* seconds remaining per aw_ai_cooldown slot, 0: ready */
    uint16_t ammo, max_ammo;               /* rounds in the magazine and its size */
    uint16_t reserve_ammo;                 /* rounds left to reload from */
    uint8_t explosives, medkits;
    uint8_t stance; /* aw_ai_stance */
    uint8_t team;
    uint16_t agent_type; /* index in the aw_ai's agent types */
} aw_ai_self;

/* The commander (player) and their orders. id is AW_ENTITY_NULL when there is none. */
typedef struct aw_ai_commander {
    aw_entity id;
    aw_vec3 position;
    uint32_t order; /* aw_ai_order */
    aw_vec3 order_position;
    aw_entity order_target;
} aw_ai_commander;

/* Another agent seen by a grid radius query. */
typedef struct aw_ai_contact {
    aw_entity id;
    aw_vec3 position;
    float hp;
    float distance;  /* from self, 3D */
    float last_seen; /* snapshot time at which it was last seen (== time: seen now) */
    bool in_cover;
    bool visible; /* line of sight from self at snapshot time (when perception casts rays) */
    bool downed;  /* hp 0: an ally to revive, an enemy not worth shooting */
} aw_ai_contact;

typedef struct aw_ai_poi {
    uint32_t kind; /* aw_ai_poi_kind */
    aw_vec3 position;
} aw_ai_poi;

typedef struct aw_ai_objective {
    uint32_t kind; /* aw_ai_objective_kind */
    aw_vec3 position;
    float radius;
    aw_entity target;
} aw_ai_objective;

/* Everything an orchestrator may look at, fixed-size (no pointers, copyable, hashable).
 * allies and enemies are sorted nearest first, ties by entity id. */
typedef struct aw_world_snapshot {
    double time;    /* seconds of game time */
    uint64_t frame; /* frame number */
    aw_ai_self self;
    aw_ai_commander commander;
    aw_ai_contact allies[AW_AI_MAX_CONTACTS];
    aw_ai_contact enemies[AW_AI_MAX_CONTACTS];
    uint32_t ally_count, enemy_count;
    aw_ai_poi pois[AW_AI_MAX_POIS];
    uint32_t poi_count;
    aw_aabb obstacles[AW_AI_MAX_OBSTACLES]; /* nearest obstacle boxes */
    uint32_t obstacle_count;
    aw_ai_objective objective;
    aw_aabb bounds; /* the navigable area (y ignored) */
} aw_world_snapshot;

/* ---------------------------------------------------------------- ActionStep and PlanIntent */

/* Step kinds. Names (aw_action_kind_name) are the CamelCase of the identifier: "MoveTo". */
typedef enum aw_action_kind {
    AW_ACTION_NONE = 0,
    AW_ACTION_MOVE_TO,         /* position; amount = speed, at most the type's (0: the type's) */
    AW_ACTION_APPROACH,        /* target; distance = stop distance (0: weapon range * 0.8) */
    AW_ACTION_RETREAT,         /* target (from whom, or null: nearest enemy); distance (0: 10 m);
                                  position (zero: that far straight away from it) */
    AW_ACTION_TAKE_COVER,      /* position of the cover (zero: nearest cover point, else the far
                                  side of the nearest obstacle) */
    AW_ACTION_STRAFE,          /* target to face; distance; direction: +1 right, -1 left */
    AW_ACTION_PATROL,          /* position = next waypoint (zero: the agent's route, the nearest
                                  waypoint over 2 m off; none in reach: a point 10 m off) */
    AW_ACTION_ATTACK,          /* target; hitscan shot */
    AW_ACTION_AIMED_SHOT,      /* target; slower, more damage, needs line of sight */
    AW_ACTION_THROW_EXPLOSIVE, /* position (zero: target's); spawns a projectile */
    AW_ACTION_COVER_FIRE,      /* target or position; duration: suppress for that long */
    AW_ACTION_HEAL,            /* target (null: self); amount = hp, at most the type's heal (0: the type's) */
    AW_ACTION_RELOAD,          /* no parameters */
    AW_ACTION_REVIVE,          /* target: a downed ally */
    AW_ACTION_SCAN,            /* duration; position = direction to look (zero: all around) */
    AW_ACTION_WAIT,            /* duration */
    AW_ACTION_REGROUP,         /* position (zero: the commander's, else the squad's centre) */
    AW_ACTION_MARK_TARGET,     /* target: an enemy to share with the team */
    AW_ACTION_KIND_COUNT
} aw_action_kind;

/* One step of a plan: 40 bytes, every parameter of every kind in one flat struct (the comments
 * above say which fields a kind reads; the others must be zero).
 *
 * Positions: the zero vector means "unset". Retreat, TakeCover, Patrol, Regroup and
 * ThrowExplosive with an unset position get the default place above when the plan is accepted,
 * from the planning agent's snapshot, whichever orchestrator (built-in, plug-in, LLM) made it. A
 * default that cannot be found (no enemy to retreat from, no cover in reach, no commander and no
 * allies, no target to throw at) leaves the step unset and validation refuses it: InvalidTarget
 * when the step names a target that cannot be found, else NoPath. It never walks to the origin.
 * A step that means the world origin itself sets AW_STEP_ORIGIN (a default found at exactly the
 * origin gets it too). MoveTo reads zero as the origin; Scan's zero means all around. */
#define AW_STEP_ORIGIN 0x1u /* flags: a zero position is the world origin, not unset */
typedef struct aw_action_step {
    uint8_t kind;      /* aw_action_kind */
    int8_t direction;  /* Strafe: +1 right, -1 left */
    uint16_t flags;    /* AW_STEP_ORIGIN; other bits reserved, 0 */
    float distance;    /* Approach stop distance, Retreat/Strafe distance */
    aw_entity target;  /* the entity the step is about, or AW_ENTITY_NULL */
    aw_vec3 position;  /* the place the step is about */
    float duration;    /* Wait, Scan, CoverFire seconds */
    float amount;      /* MoveTo speed, Heal hp: capped at the type's speed and heal amount when run */
} aw_action_step;

/* Which orchestrator made a plan (also the kind of a plug-in orchestrator). */
typedef enum aw_orchestrator_kind {
    AW_ORCHESTRATOR_RULE = 0,
    AW_ORCHESTRATOR_UTILITY,
    AW_ORCHESTRATOR_GOAP,
    AW_ORCHESTRATOR_BT,
    AW_ORCHESTRATOR_LLM,
    AW_ORCHESTRATOR_KIND_COUNT
} aw_orchestrator_kind;

/* A plan: up to AW_AI_MAX_STEPS steps run in order. plan_id is unique per agent over time
 * (the planner numbers them); 0 means "no plan". */
typedef struct aw_plan_intent {
    uint32_t plan_id;
    uint8_t step_count;
    uint8_t source;       /* aw_orchestrator_kind that produced it */
    uint8_t fallback;     /* 1 when a fallback orchestrator produced it */
    uint8_t reserved_;
    aw_action_step steps[AW_AI_MAX_STEPS];
} aw_plan_intent;

/* Stable names: "MoveTo", "Approach", ... ; "None" for AW_ACTION_NONE; "?" when out of range. */
const char *aw_action_kind_name(aw_action_kind kind);
/* Parses a step kind name of `length` bytes (no NUL needed): case-insensitive, '_', '-' and ' '
 * ignored, so "MoveTo", "move_to" and "MOVE TO" all match. True and *out on a match. */
bool aw_action_kind_parse(const char *name, size_t length, aw_action_kind *out);
/* The same for a NUL-terminated name. */
bool aw_action_kind_from_name(const char *name, aw_action_kind *out);

/* "rule", "utility", "goap", "bt", "llm"; "?" when out of range. */
const char *aw_orchestrator_kind_name(aw_orchestrator_kind kind);
/* Case-insensitive; also accepts "behavior_tree", "behaviour_tree" for bt. */
bool aw_orchestrator_kind_from_name(const char *name, aw_orchestrator_kind *out);

/* ---------------------------------------------------------------- tool validation */

/* Why a step was refused. AW_VALID (0) means it may run. */
typedef enum aw_validation {
    AW_VALID = 0,
    AW_INVALID_OUT_OF_BOUNDS,        /* position outside the navigable bounds, or non-finite */
    AW_INVALID_COOLDOWN,             /* the ability's cooldown has not run out */
    AW_INVALID_NO_LINE_OF_SIGHT,     /* a collider or obstacle blocks the ray to the target */
    AW_INVALID_INSUFFICIENT_RESOURCE,/* no ammo, explosives, medkits or reserve rounds */
    AW_INVALID_TARGET,               /* target missing, dead, stale, on the wrong team, or out of range */
    AW_INVALID_PHYSICS_BLOCKED,      /* destination inside an obstacle */
    AW_INVALID_NO_PATH,              /* no way to the destination (unknown kind, bad parameters) */
    AW_VALIDATION_COUNT
} aw_validation;

/* "valid", "OutOfBounds", "Cooldown", "NoLineOfSight", "InsufficientResource", "InvalidTarget",
 * "PhysicsBlocked", "NoPath"; "?" when out of range. */
const char *aw_validation_name(aw_validation category);

/* The event raised for every refused step (registered as "aw_ai_refusal"). */
#define AW_AI_REFUSAL_EVENT_NAME "aw_ai_refusal"
typedef struct aw_ai_refusal {
    aw_entity agent;
    aw_entity target;
    uint64_t frame;
    uint32_t plan_id;
    uint8_t step_index;
    uint8_t kind;     /* aw_action_kind */
    uint8_t category; /* aw_validation */
    uint8_t source;   /* aw_orchestrator_kind */
} aw_ai_refusal;

/* ---------------------------------------------------------------- orchestrators */

/* What an orchestrator's plan call returns. */
typedef enum aw_plan_status {
    AW_PLAN_READY = 0, /* *out holds a plan */
    AW_PLAN_PENDING,   /* asked (for example an LLM request in flight): call again on a later
                          frame; the agent runs the fallback orchestrator's plan meanwhile */
    AW_PLAN_FAILED     /* no plan (no goal reachable, invalid answer, timeout): use the fallback */
} aw_plan_status;

/* Why the agent is planning now. */
typedef enum aw_plan_trigger {
    AW_TRIGGER_SCHEDULED = 0, /* its turn in the every-K-frames schedule */
    AW_TRIGGER_DAMAGED,
    AW_TRIGGER_PLAN_FINISHED,
    AW_TRIGGER_STEP_REFUSED,
    AW_TRIGGER_PENDING,       /* polling an orchestrator that answered AW_PLAN_PENDING */
    AW_TRIGGER_CONTACT,       /* perception saw the first enemy after none, or lost the last one */
    AW_TRIGGER_COUNT
} aw_plan_trigger;

typedef struct aw_agent_type aw_agent_type;

/* One planning call's input. */
typedef struct aw_plan_request {
    const aw_world_snapshot *snapshot;
    const aw_agent_type *type; /* the agent's type (its action set, domain, tree, curves) */
    aw_entity agent;
    uint32_t plan_id;  /* the id to give the plan */
    uint32_t worker;   /* job-system thread index: index per-thread scratch with it */
    uint32_t trigger;  /* aw_plan_trigger */
    uint32_t refused_category; /* aw_validation of the last refused step (with STEP_REFUSED) */
    float *memory;             /* per-agent memory kept between plans (behavior-tree cooldowns) */
    uint32_t memory_count;     /* AW_AI_MEMORY_SLOTS */
} aw_plan_request;

/* A plug-in orchestrator: a context and function pointers. plan() runs on worker threads, for
 * several agents at once: it must only read shared state, keep per-agent state keyed by
 * request->agent behind its own synchronisation, or per-thread state indexed by request->worker
 * (< worker_count given to create). It must not block: an orchestrator that answers later
 * (an HTTP request) returns AW_PLAN_PENDING and is polled on later frames with
 * AW_TRIGGER_PENDING. Deterministic orchestrators (all but llm) make the same plan for the same
 * request on any thread. */
typedef struct aw_orchestrator {
    aw_orchestrator_kind kind;
    char name[AW_AI_NAME_SIZE];
    void *ctx;
    aw_plan_status (*plan)(void *ctx, const aw_plan_request *request, aw_plan_intent *out);
    /* Optional: the agent died or was removed; drop anything pending for it. */
    void (*forget)(void *ctx, aw_entity agent);
    /* Optional: frees ctx when the aw_ai is destroyed (or the slot is replaced). */
    void (*destroy)(void *ctx);
    /* Used on AW_PLAN_PENDING and AW_PLAN_FAILED; AW_ORCHESTRATOR_KIND_COUNT: none (the agent
     * waits). aw_ai_set_orchestrator's default for llm is goap. */
    aw_orchestrator_kind fallback;
} aw_orchestrator;

/* ---------------------------------------------------------------- components */

/* Components the AI registers (or looks up) besides physics' Position and Velocity. */
#define AW_AI_AGENT_NAME "AiAgent"
#define AW_AI_PERCEPTION_NAME "AiPerception"
#define AW_AI_PLAN_NAME "AiPlan"
#define AW_AI_PROJECTILE_NAME "AiProjectile"
#define AW_AI_DAMAGE_EVENT_NAME "aw_ai_damage"

/* "AiAgent": the agent's own state (what aw_ai_self is built from). */
typedef struct aw_ai_agent {
    float hp, max_hp;
    float morale;
    float cooldowns[AW_COOLDOWN_COUNT];
    float damage_taken; /* hp lost to hits since spawn (a hit also sets the plan's replan trigger) */
    uint16_t ammo, reserve_ammo;
    uint8_t explosives, medkits;
    uint8_t stance; /* aw_ai_stance */
    uint8_t team;
    uint16_t agent_type;
    uint16_t squad;
    float respawn_timer; /* > 0 while downed: seconds to respawn (0: never) */
} aw_ai_agent;

/* "AiPerception": compact result of the per-frame perception pass; the full snapshot is built
 * from it and the grid only when the agent plans. */
typedef struct aw_ai_perception {
    aw_entity nearest_enemy;
    aw_entity nearest_ally;
    float enemy_distance; /* to nearest_enemy, or INFINITY */
    float ally_distance;
    uint16_t enemies_near, allies_near; /* within the type's perception radius */
    uint32_t threat_flags;              /* AW_AI_THREAT_*: set by perception, cleared by planning */
} aw_ai_perception;

#define AW_AI_THREAT_CONTACT_CHANGED 0x1u /* enemies appeared or all vanished since the last plan */

/* "AiPlan": the running plan and the scheduling state of its agent. */
typedef struct aw_ai_plan {
    /* What the per-frame systems read of every agent first, so it shares a cache line with the
     * intent's header and first step. */
    uint8_t step;         /* index of the running step */
    uint8_t trigger;      /* pending aw_plan_trigger + 1, or 0 */
    uint8_t waiting;      /* 1 while the primary orchestrator answered PENDING */
    uint8_t last_refusal; /* aw_validation of the last refused step */
    float step_time;      /* seconds spent in the running step */
    aw_plan_intent intent;
    uint64_t next_plan_frame;
    uint32_t next_plan_id;
    uint32_t refusals; /* steps refused so far */
    float memory[AW_AI_MEMORY_SLOTS]; /* orchestrator memory (behavior-tree cooldown timestamps) */
} aw_ai_plan;

/* "AiProjectile": a thrown explosive or a slow round; the ai_projectiles system moves it by its
 * Velocity (it has no Collider, so physics leaves it alone). */
typedef struct aw_ai_projectile {
    aw_entity owner;
    float damage, radius; /* splash radius (0: direct hit only) */
    float life;           /* seconds left; explodes at 0 */
    uint8_t team;
} aw_ai_projectile;

/* "aw_ai_damage": one hit (hitscan or splash). */
typedef struct aw_ai_damage {
    aw_entity source, target;
    float amount;
    uint8_t kind; /* aw_action_kind that dealt it */
} aw_ai_damage;

/* ---------------------------------------------------------------- the AI context */

typedef struct aw_ai aw_ai;

typedef struct aw_ai_desc {
    uint32_t replan_interval;  /* K: frames between scheduled replans, staggered by entity index (0: 30) */
    uint32_t plan_budget;      /* agents that plan per frame at most, over all agents (0: unlimited) */
    uint32_t worker_count;     /* per-thread scratch slots (0: the world's job-system thread count) */
    aw_aabb bounds;            /* navigable area on x/z; all zero: physics bounds or +-512 */
    uint32_t grain;            /* rows per parallel piece in the systems (0: 512) */
    bool perception_los;       /* cast a ray to each snapshot enemy (sets visible); default off */
    uint32_t perception_interval; /* frames between an agent's perception updates, staggered (0: 1) */
    float fixed_dt;               /* seconds per frame for the AI systems (0: the frame's dt) */
    const aw_allocator *allocator; /* NULL: aw_heap_allocator() */
} aw_ai_desc;

/* Creates the world's AI context, owned by the world (resource "aw_ai"): registers the
 * components above, the refusal and damage events, and the built-in orchestrators (rule,
 * utility, goap, bt; llm slot empty). The world needs a physics context (aw_physics_create)
 * first. NULL with aw_last_error() set on failure. */
aw_ai *aw_ai_create(aw_world *world, const aw_ai_desc *desc);
aw_ai *aw_ai_get(const aw_world *world);

typedef struct aw_ai_ids {
    aw_component agent, perception, plan, projectile;
    aw_component position, velocity, collider;
    aw_event_type refusal_event, damage_event;
    aw_resource resource;
} aw_ai_ids;
aw_ai_ids aw_ai_get_ids(const aw_ai *ai);

/* Puts a plug-in orchestrator in the slot of its kind (copied; the old one is destroyed).
 * For llm, a fallback of 0 (rule) is taken as goap unless the kind is set explicitly by
 * aw_ai_set_fallback. Not while systems run. */
aw_status aw_ai_set_orchestrator(aw_ai *ai, const aw_orchestrator *orchestrator);
aw_status aw_ai_set_fallback(aw_ai *ai, aw_orchestrator_kind kind, aw_orchestrator_kind fallback);
const aw_orchestrator *aw_ai_get_orchestrator(const aw_ai *ai, aw_orchestrator_kind kind);

/* Loads agent types, action sets, GOAP domains, utility curves and behavior trees from a JSON
 * file (format: docs/architecture.md, examples: data/ai/). On failure nothing is added and the
 * message names the file, the field (a JSON path such as "types[2].orchestrator") and the reason. */
aw_status aw_ai_load_file(aw_ai *ai, const char *path);
/* The same from text in memory; `name` stands for the file in messages. */
aw_status aw_ai_load_string(aw_ai *ai, const char *json, size_t length, const char *name);

/* Agent types, by index (the aw_ai_agent.agent_type of an agent). */
uint32_t aw_ai_type_count(const aw_ai *ai);
const aw_agent_type *aw_ai_type(const aw_ai *ai, uint32_t index);
/* Index of the named type, or -1. */
int32_t aw_ai_type_find(const aw_ai *ai, const char *name);
const char *aw_agent_type_name(const aw_agent_type *type);
aw_orchestrator_kind aw_agent_type_orchestrator(const aw_agent_type *type);

/* Registers the AI's systems: "ai_vitals" (AW_PHASE_PERCEPTION - 50), "ai_perception"
 * (AW_PHASE_PERCEPTION), "ai_plan_choose" (AW_PHASE_AI_PLANNING - 50) and "ai_planning"
 * (AW_PHASE_AI_PLANNING), "ai_action" (AW_PHASE_SIMULATION), "ai_projectiles" and "ai_effects"
 * (AW_PHASE_POST_SIMULATION). */
aw_status aw_ai_register_systems(aw_ai *ai);

/* Static obstacle boxes (level geometry): kept for snapshots and validation and handed to
 * aw_physics_set_obstacles for ray casts. Copied; allocates, so call it on level load. */
aw_status aw_ai_set_obstacles(aw_ai *ai, const aw_aabb *boxes, uint32_t count);

/* Points of interest (cover spots, waypoints, ...) for snapshots, nearest first. Copied. */
aw_status aw_ai_set_pois(aw_ai *ai, const aw_ai_poi *pois, uint32_t count);

/* The commander every agent of a team follows (position and orders), and the team's objective. */
aw_status aw_ai_set_commander(aw_ai *ai, uint8_t team, const aw_ai_commander *commander);
/* Where a team's dead agents come back (a point in the box, chosen from the entity id and the
 * frame); without one they come back where they fell. */
aw_status aw_ai_set_spawn_area(aw_ai *ai, uint8_t team, aw_aabb area);
aw_status aw_ai_set_objective(aw_ai *ai, uint8_t team, const aw_ai_objective *objective);

/* Spawns an agent of a type (Position, Velocity, Collider, RigidBody, AiAgent, AiPerception,
 * AiPlan) now, outside systems. */
aw_entity aw_ai_spawn(aw_ai *ai, uint32_t type, uint8_t team, aw_vec3 position);

/* Builds the snapshot an agent would plan from (the planning system does the same). */
aw_status aw_ai_build_snapshot(const aw_ai *ai, aw_entity agent, aw_world_snapshot *out);

/* Checks one step against the snapshot and the world: target valid and alive, range, line of
 * sight (physics ray cast), cooldown, ammo and other resources, navigable bounds. An unset place is
 * first given its default from the snapshot, as an accepted plan's is. Pure: changes nothing, raises
 * no event (the action system raises them). */
aw_validation aw_ai_validate_step(const aw_ai *ai, const aw_world_snapshot *snapshot,
                                  const aw_action_step *step);

/* Plans once with an orchestrator kind (and its fallback) outside the systems, for tests and
 * tools; unset places get their defaults as the planning system gives them. */
aw_plan_status aw_ai_plan_once(aw_ai *ai, aw_orchestrator_kind kind, const aw_world_snapshot *snapshot,
                               aw_plan_intent *out);

typedef struct aw_ai_stats {
    uint64_t plans;      /* plans made (all orchestrators, fallbacks included) */
    uint64_t fallbacks;  /* plans made by a fallback */
    uint64_t pending;    /* AW_PLAN_PENDING answers */
    uint64_t deferred;   /* replans pushed to a later frame by the budget */
    uint64_t steps_run;  /* steps validated and executed */
    uint64_t refusals[AW_VALIDATION_COUNT]; /* refused steps per category ([0] unused) */
    uint64_t shots, projectiles_spawned, projectiles_expired, deaths, respawns;
    uint64_t goap_cache_hits, goap_cache_misses;
    uint32_t last_frame_plans; /* agents that planned in the last frame (at most plan_budget) */
} aw_ai_stats;
aw_ai_stats aw_ai_get_stats(const aw_ai *ai);

#ifdef __cplusplus
}
#endif

#endif /* AW_AI_H */
