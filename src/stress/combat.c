/* The combat scenario: two teams of agents with mixed orchestrators (GOAP, behavior tree, utility,
 * rules, and an llm type that falls back to GOAP) fight on a field with obstacles; rounds and
 * explosives fly as projectile entities spawned and despawned every frame; the dead come back so the
 * agent count stays steady; render extraction is counted. Entities = agents + projectiles. */
#include "aw/ai.h"
#include "aw/physics.h"
#include "aw/profile.h"
#include "aw/render.h"
#include "aw/stress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORKERS  256u
#define DENSITY_M2   16.0f /* field area per agent */
#define BAND         24.0f /* teams hold alternating bands this wide along x */
#define FRAME_DT     (1.0f / 60.0f)
#define MAX_OBSTACLES 64u

/* Agent types of the scenario, by spawn index modulo the table (loaded through the AI loader). */
static const char combat_types[] =
    "{\"types\": [\n"
    " {\"name\": \"rifleman\", \"orchestrator\": \"goap\", \"reserve_ammo\": 60000, \"weapon_range\": 18,\n"
    "  \"perception_radius\": 20},\n"
    " {\"name\": \"grenadier\", \"orchestrator\": \"bt\", \"reserve_ammo\": 60000, \"projectile_speed\": 40,\n"
    "  \"perception_radius\": 20, \"weapon_range\": 18,\n"
    "  \"explosives\": 200, \"explosive_interval\": 4},\n"
    " {\"name\": \"scout\", \"orchestrator\": \"utility\", \"reserve_ammo\": 60000, \"speed\": 7, \"weapon_range\": 15,\n"
    "  \"perception_radius\": 20,\n"
    "  \"medkits\": 50},\n"
    " {\"name\": \"guard\", \"orchestrator\": \"rule\", \"reserve_ammo\": 60000, \"max_hp\": 150, \"speed\": 4,\n"
    "  \"perception_radius\": 20, \"weapon_range\": 18},\n"
    " {\"name\": \"officer\", \"orchestrator\": \"llm\", \"reserve_ammo\": 60000,\n"
    "  \"perception_radius\": 20, \"weapon_range\": 18}\n"
    "]}\n";
/* Spawn mix per 16 agents: rifleman 5, grenadier 4, scout 3, guard 3, officer 1. */
static const uint8_t mix[16] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 0, 4};

typedef struct tally {
    _Alignas(64) uint64_t visible, agents, projectiles;
} tally;

typedef struct combat_state {
    aw_physics *physics;
    aw_ai *ai;
    uint32_t workers;
    float half; /* field half size */
    aw_ai_stats last;
    tally tallies[MAX_WORKERS];
} combat_state;

/* Physics at the scenario's fixed 60 Hz step, whatever dt the run passes. */
static void physics_run(aw_system_ctx *ctx) {
    combat_state *s = ctx->user;
    aw_status st = aw_physics_step(s->physics, FRAME_DT);
    if (st && st != AW_ERR_INVALID_ARG) AW_LOGW("combat physics: %s", aw_last_error());
}

/* Render extraction stand-in: what a camera over the field's centre would draw, agents and
 * projectiles counted apart. */
static void extract(aw_system_ctx *ctx, const aw_iter *it) {
    combat_state *s = ctx->user;
    const aw_position *p = AW_COLUMN(it, aw_position, 0);
    bool projectile = it->columns[1] != NULL;
    float view = s->half * 0.5f;
    uint64_t visible = 0;
    /* Both tests always made (& rather than &&): a branch on where an agent stands mispredicts. */
    for (uint32_t i = 0; i < it->count; i++) visible += (fabsf(p[i].x) <= view) & (fabsf(p[i].z) <= view);
    tally *t = &s->tallies[ctx->worker < s->workers ? ctx->worker : 0];
    t->visible += visible;
    if (projectile) t->projectiles += it->count;
    else t->agents += it->count;
}

static aw_status combat_setup(void *state, const aw_stress_setup *in) {
    combat_state *s = state;
    aw_world *w = in->world;
    aw_jobs *jobs = aw_world_jobs(w);
    s->workers = jobs ? aw_jobs_thread_count(jobs) : 1;
    if (s->workers > MAX_WORKERS) s->workers = MAX_WORKERS;
    uint32_t agents = in->entities - in->entities / 10u; /* about a tenth of the count flies as projectiles */
    if (!agents) agents = 1;
    s->half = sqrtf((float)agents * DENSITY_M2) * 0.5f;
    if (s->half < BAND) s->half = BAND;
    float h = s->half;
    s->physics = aw_physics_create(w, &(aw_physics_desc){.min_x = -h, .min_z = -h, .max_x = h, .max_z = h,
                                                        .integrate = true,
                                                        .cell_size = 6.0f,
                                                        .no_events = true,
                                                        .allocator = aw_stress_module_allocator(in->ctx, "physics")});
    if (!s->physics) return aw_last_status();
    uint32_t budget = agents / 30u > 64u ? agents / 30u : 64u; /* K = 30: the schedule alone fills it */
    s->ai = aw_ai_create(w, &(aw_ai_desc){.replan_interval = 30,
                                          .plan_budget = budget,
                                          .perception_interval = 8,
                                          .fixed_dt = FRAME_DT,
                                          .bounds = {{-h, -1e6f, -h}, {h, 1e6f, h}},
                                          .allocator = aw_stress_module_allocator(in->ctx, "ai")});
    if (!s->ai) return aw_last_status();
    aw_status st = aw_ai_load_string(s->ai, combat_types, sizeof combat_types - 1, "combat types");
    if (st) return st;
    int32_t first = aw_ai_type_find(s->ai, "rifleman");
    if (first < 0) return aw_error(AW_ERR_NOT_FOUND, "combat: the rifleman type did not load");

    /* Obstacles: seeded boxes, cover points beside them. */
    aw_rng rng;
    aw_rng_seed(&rng, in->seed ^ 0xc0ba7ull);
    aw_aabb boxes[MAX_OBSTACLES];
    aw_ai_poi pois[MAX_OBSTACLES * 2];
    uint32_t nb = agents / 200u + 8u;
    if (nb > MAX_OBSTACLES) nb = MAX_OBSTACLES;
    for (uint32_t i = 0; i < nb; i++) {
        float cx = aw_rng_float_range(&rng, -h * 0.9f, h * 0.9f), cz = aw_rng_float_range(&rng, -h * 0.9f, h * 0.9f);
        float ex = aw_rng_float_range(&rng, 1.0f, 3.0f), ez = aw_rng_float_range(&rng, 1.0f, 3.0f);
        boxes[i] = (aw_aabb){{cx - ex, 0.0f, cz - ez}, {cx + ex, 3.0f, cz + ez}};
        pois[2 * i] = (aw_ai_poi){AW_POI_COVER, {cx - ex - 1.5f, 0.0f, cz}};
        pois[2 * i + 1] = (aw_ai_poi){AW_POI_COVER, {cx + ex + 1.5f, 0.0f, cz}};
    }
    if ((st = aw_ai_set_obstacles(s->ai, boxes, nb)) || (st = aw_ai_set_pois(s->ai, pois, nb * 2))) return st;
    /* Drawn by a renderer: each box as an entity with "Renderable" 1 and a style (a cube as wide as
     * the box's mean width, standing on the ground); agents and projectiles are drawn by tag. */
    if (in->external_renderer) {
        aw_render_components rc;
        aw_component renderable =
            aw_component_register(w, &(aw_component_desc){.name = "Renderable", .size = 4, .align = 4});
        if (!renderable) return aw_last_status();
        if ((st = aw_render_register_components(w, &rc))) return st;
        aw_component position = aw_physics_get_ids(s->physics).position;
        for (uint32_t i = 0; i < nb; i++) {
            const aw_aabb *b = &boxes[i];
            float side = (b->max.x - b->min.x + b->max.z - b->min.z) * 0.5f;
            aw_position c = {(b->min.x + b->max.x) * 0.5f, side * 0.5f, (b->min.z + b->max.z) * 0.5f};
            uint32_t kind = 1;
            aw_render_style style = {.scale = side, .color = 0xffffffffu};
            aw_entity e = aw_entity_create(w);
            if (!e) return aw_last_status();
            if ((st = aw_entity_set(w, e, position, &c, sizeof c)) || (st = aw_entity_set(w, e, renderable, &kind, 4)) ||
                (st = aw_entity_set(w, e, rc.style, &style, sizeof style)))
                return st;
        }
    }

    /* Agents: random places, team by band, type by the mix (setup is not timed). */
    aw_ai_ids ids = aw_ai_get_ids(s->ai);
    aw_physics_ids pids = aw_physics_get_ids(s->physics);
    for (uint32_t i = 0; i < agents; i++) {
        float x = aw_rng_float_range(&rng, -h, h), z = aw_rng_float_range(&rng, -h, h);
        uint8_t team = (uint8_t)((uint32_t)floorf((x + h) / BAND) & 1u);
        uint32_t type = (uint32_t)first + mix[i % 16u];
        if (!aw_ai_spawn(s->ai, type, team, (aw_vec3){x, 0.0f, z})) return aw_last_status();
    }
    if ((st = aw_ai_register_systems(s->ai))) return st;
    aw_component writes[] = {pids.position, pids.velocity};
    aw_component reads[] = {pids.collider, pids.rigid_body};
    if (!aw_system_register(w, &(aw_system_desc){.name = "physics",
                                                 .phase = AW_PHASE_PHYSICS,
                                                 .run = physics_run,
                                                 .writes = writes,
                                                 .write_count = 2,
                                                 .reads = reads,
                                                 .read_count = 2,
                                                 .write_resources = &pids.resource,
                                                 .write_resource_count = 1,
                                                 .user = s}) ||
        (!in->external_renderer && !aw_system_register(w, &(aw_system_desc){.name = "render_extract",
                                                 .phase = AW_PHASE_PRESENTATION,
                                                 .query = {AW_TERMS(AW_READ(pids.position),
                                                                    AW_OPTIONAL(ids.projectile, AW_ACCESS_READ))},
                                                 .each = extract,
                                                 .grain = 2048,
                                                 .user = s})))
        return aw_last_status();
    return AW_OK;
}

static uint32_t combat_counters(void *state, aw_world *world, aw_stress_counter *out, uint32_t max) {
    combat_state *s = state;
    tally sum = {0};
    for (uint32_t k = 0; k < s->workers; k++) {
        sum.visible += s->tallies[k].visible;
        sum.agents += s->tallies[k].agents;
        sum.projectiles += s->tallies[k].projectiles;
        s->tallies[k] = (tally){0};
    }
    aw_ai_stats a = aw_ai_get_stats(s->ai), d = a;
    d.plans -= s->last.plans;
    d.fallbacks -= s->last.fallbacks;
    d.shots -= s->last.shots;
    d.projectiles_spawned -= s->last.projectiles_spawned;
    d.deaths -= s->last.deaths;
    d.respawns -= s->last.respawns;
    d.deferred -= s->last.deferred;
    uint64_t refused = 0;
    for (int i = 1; i < AW_VALIDATION_COUNT; i++) refused += a.refusals[i] - s->last.refusals[i];
    s->last = a;
    const struct {
        const char *name;
        double value;
    } values[] = {
        {"entities", (double)aw_world_entity_count(world)},
        {"ai.agents", (double)sum.agents},
        {"ai.projectiles", (double)sum.projectiles},
        {"ai.plans", (double)d.plans},
        {"ai.fallbacks", (double)d.fallbacks},
        {"ai.deferred", (double)d.deferred},
        {"ai.refusals", (double)refused},
        {"ai.shots", (double)d.shots},
        {"ai.projectiles_spawned", (double)d.projectiles_spawned},
        {"ai.deaths", (double)d.deaths},
        {"ai.respawns", (double)d.respawns},
        {"render.visible", (double)sum.visible},
    };
    uint32_t n = 0;
    for (; n < max && n < sizeof values / sizeof values[0]; n++) {
        snprintf(out[n].name, sizeof out[n].name, "%s", values[n].name);
        out[n].value = values[n].value;
    }
    return n;
}

/* One line per run: why steps were refused, for tuning the data. */
static void combat_teardown(void *state, aw_world *world) {
    (void)world;
    combat_state *s = state;
    aw_ai_stats a = aw_ai_get_stats(s->ai);
    AW_LOGD("combat: plans %llu (fallbacks %llu), steps %llu, refused: OutOfBounds %llu Cooldown %llu NoLineOfSight %llu "
            "InsufficientResource %llu InvalidTarget %llu PhysicsBlocked %llu NoPath %llu; goap cache %llu hits / %llu misses",
            (unsigned long long)a.plans, (unsigned long long)a.fallbacks, (unsigned long long)a.steps_run,
            (unsigned long long)a.refusals[1], (unsigned long long)a.refusals[2], (unsigned long long)a.refusals[3],
            (unsigned long long)a.refusals[4], (unsigned long long)a.refusals[5], (unsigned long long)a.refusals[6],
            (unsigned long long)a.refusals[7], (unsigned long long)a.goap_cache_hits,
            (unsigned long long)a.goap_cache_misses);
}

const aw_stress_scenario aw_stress_combat = {
    .name = "combat",
    .description = "two teams with mixed orchestrators (GOAP, BT, utility, rules, llm->GOAP) on a field with "
                   "obstacles: perception, time-sliced planning, validated actions, projectiles, deaths and "
                   "respawns, render extraction counted; entities = agents + projectiles",
    .state_size = sizeof(combat_state),
    .setup = combat_setup,
    .frame_counters = combat_counters,
    .teardown = combat_teardown,
};
