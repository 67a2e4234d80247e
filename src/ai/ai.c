/* The AI context: creation (components, events, built-in orchestrators, default data), the
 * orchestrator slots, loading, level data (obstacles, points of interest, commanders), spawning and
 * the statistics. */
#include "ai/ai_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AI_RESOURCE_NAME "aw_ai"

static void ai_free(aw_ai *ai) {
    const aw_allocator *a = ai->allocator;
    for (int k = 0; k < AW_ORCHESTRATOR_KIND_COUNT; k++)
        if (ai->orchestrators[k].destroy) ai->orchestrators[k].destroy(ai->orchestrators[k].ctx);
    if (ai->workers) {
        for (uint32_t i = 0; i < ai->worker_count; i++) {
            ai_goap_scratch_destroy(ai->workers[i].goap, a);
            aw_free(a, ai->workers[i].records, (size_t)ai->workers[i].record_capacity * sizeof(ai_record));
            aw_free(a, ai->workers[i].looks, (size_t)ai->workers[i].look_capacity * sizeof(ai_look));
            aw_free(a, ai->workers[i].plan_jobs, (size_t)ai->workers[i].plan_job_capacity * sizeof(ai_plan_job));
        }
        aw_free(a, ai->workers, (size_t)ai->worker_count * sizeof(ai_worker));
    }
    aw_free(a, ai->merged, (size_t)ai->merged_capacity * sizeof(ai_record));
    aw_free(a, ai->piece_start, (size_t)ai->piece_start_capacity * sizeof(uint32_t));
    aw_free(a, ai->vitals, (size_t)ai->vital_capacity * sizeof(ai_vital));
    if (ai->reach) aw_free(a, ai->reach, (size_t)ai->vital_capacity * sizeof(ai_reach));
    aw_free(a, ai->looks, (size_t)ai->look_capacity * sizeof(ai_look));
    aw_free(a, ai->plan_jobs, (size_t)ai->plan_job_capacity * sizeof(ai_plan_job));
    aw_free(a, ai->obstacles, (size_t)ai->obstacle_count * sizeof(aw_aabb));
    aw_free(a, ai->pois, (size_t)ai->poi_count * sizeof(aw_ai_poi));
    aw_free(a, ai->obstacles_by_x, (size_t)ai->obstacle_count * sizeof(ai_by_x));
    aw_free(a, ai->pois_by_x, (size_t)ai->poi_count * sizeof(ai_by_x));
    aw_free(a, ai->lib, sizeof *ai->lib);
    aw_free(a, ai, sizeof *ai);
}

static void ai_resource_dtor(void *ptr, uint32_t count, void *user) {
    (void)count;
    (void)user;
    aw_ai **slot = ptr;
    if (*slot) ai_free(*slot);
    *slot = NULL;
}

static aw_component component_for(aw_world *w, const char *name, size_t size, size_t align) {
    aw_component c = aw_component_lookup(w, name);
    if (c) {
        if (aw_component_size(w, c) != size) {
            aw_error(AW_ERR_SIZE_MISMATCH, "aw_ai_create: '%s' is registered with %zu bytes, the AI needs %zu", name,
                     aw_component_size(w, c), size);
            return 0;
        }
        return c;
    }
    return aw_component_register(w, &(aw_component_desc){.name = name, .size = size, .align = align});
}

static void builtin(aw_ai *ai, aw_orchestrator_kind kind, aw_plan_status (*plan)(void *, const aw_plan_request *,
                                                                                    aw_plan_intent *),
                    aw_orchestrator_kind fallback) {
    aw_orchestrator *o = &ai->orchestrators[kind];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    snprintf(o->name, sizeof o->name, "%s", aw_orchestrator_kind_name(kind));
    o->ctx = ai;
    o->plan = plan;
    o->fallback = fallback;
}

aw_ai *aw_ai_create(aw_world *world, const aw_ai_desc *desc) {
    if (!world) {
        aw_error(AW_ERR_INVALID_ARG, "aw_ai_create: world is NULL");
        return NULL;
    }
    aw_physics *physics = aw_physics_get(world);
    if (!physics) {
        aw_error(AW_ERR_INVALID_ARG, "aw_ai_create: the world has no physics context (call aw_physics_create first)");
        return NULL;
    }
    if (aw_resource_lookup(world, AI_RESOURCE_NAME)) {
        aw_error(AW_ERR_ALREADY_PRESENT, "aw_ai_create: the world already has an AI context");
        return NULL;
    }
    aw_ai_desc d = desc ? *desc : (aw_ai_desc){0};
    const aw_allocator *a = d.allocator ? d.allocator : aw_heap_allocator();
    if (!d.replan_interval) d.replan_interval = 30;
    if (!d.grain) d.grain = 512;
    if (!d.perception_interval) d.perception_interval = 1;
    aw_jobs *jobs = aw_world_jobs(world);
    if (!d.worker_count) d.worker_count = jobs ? aw_jobs_thread_count(jobs) : 1;
    if (d.bounds.min.x == 0 && d.bounds.max.x == 0 && d.bounds.min.z == 0 && d.bounds.max.z == 0)
        d.bounds = (aw_aabb){{-512.0f, -1e9f, -512.0f}, {512.0f, 1e9f, 512.0f}};
    if (!(d.bounds.min.x < d.bounds.max.x && d.bounds.min.z < d.bounds.max.z)) {
        aw_error(AW_ERR_INVALID_ARG, "aw_ai_create: bounds min must be below max on x and z");
        return NULL;
    }

    aw_ai *ai = aw_alloc(a, sizeof *ai, 64);
    if (!ai) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_ai_create: out of memory");
        return NULL;
    }
    memset(ai, 0, sizeof *ai);
    ai->world = world;
    ai->physics = physics;
    ai->allocator = a;
    ai->desc = d;
    ai->pids = aw_physics_get_ids(physics);
    ai->worker_count = d.worker_count;
    aw_status st = AW_OK;
    ai->lib = aw_alloc(a, sizeof *ai->lib, 64);
    ai->workers = aw_alloc(a, (size_t)ai->worker_count * sizeof(ai_worker), 64);
    if (!ai->lib || !ai->workers) {
        aw_free(a, ai->lib, sizeof *ai->lib);
        aw_free(a, ai->workers, (size_t)ai->worker_count * sizeof(ai_worker));
        ai->lib = NULL;
        ai->workers = NULL;
        ai_free(ai);
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_ai_create: out of memory");
        return NULL;
    }
    memset(ai->lib, 0, sizeof *ai->lib);
    memset(ai->workers, 0, (size_t)ai->worker_count * sizeof(ai_worker));
    for (uint32_t i = 0; i < ai->worker_count; i++) {
        ai->workers[i].look_zmin = INFINITY, ai->workers[i].look_zmax = -INFINITY;
        ai->workers[i].plan_min = (aw_vec3){INFINITY, 0.0f, INFINITY};
        ai->workers[i].plan_max = (aw_vec3){-INFINITY, 0.0f, -INFINITY};
    }
    for (uint32_t i = 0; i < ai->worker_count && !st; i++)
        if (!(ai->workers[i].goap = ai_goap_scratch_create(a))) st = AW_ERR_OUT_OF_MEMORY;
        else ai->workers[i].allocator = a;
    if (st) {
        ai_free(ai);
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_ai_create: out of memory");
        return NULL;
    }
    for (const char *const *part = ai_default_json; *part && !st; part++)
        st = ai_library_load(ai->lib, *part, strlen(*part), "<built-in defaults>");
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", aw_last_error());
        ai_free(ai);
        aw_error(st, "aw_ai_create: %s", msg);
        return NULL;
    }
    builtin(ai, AW_ORCHESTRATOR_RULE, ai_plan_rule, AW_ORCHESTRATOR_KIND_COUNT);
    builtin(ai, AW_ORCHESTRATOR_UTILITY, ai_plan_utility, AW_ORCHESTRATOR_RULE);
    builtin(ai, AW_ORCHESTRATOR_GOAP, ai_plan_goap, AW_ORCHESTRATOR_RULE);
    builtin(ai, AW_ORCHESTRATOR_BT, ai_plan_bt, AW_ORCHESTRATOR_RULE);
    /* The llm slot stays empty until a plug-in fills it: its agents plan with GOAP meanwhile. */
    ai->orchestrators[AW_ORCHESTRATOR_LLM].kind = AW_ORCHESTRATOR_LLM;
    ai->orchestrators[AW_ORCHESTRATOR_LLM].fallback = AW_ORCHESTRATOR_GOAP;
    snprintf(ai->orchestrators[AW_ORCHESTRATOR_LLM].name, AW_AI_NAME_SIZE, "llm");

    aw_ai_ids *ids = &ai->ids;
    ids->position = ai->pids.position;
    ids->velocity = ai->pids.velocity;
    ids->collider = ai->pids.collider;
    ids->agent = component_for(world, AW_AI_AGENT_NAME, sizeof(aw_ai_agent), _Alignof(aw_ai_agent));
    if (ids->agent) ids->perception = component_for(world, AW_AI_PERCEPTION_NAME, sizeof(aw_ai_perception), 8);
    if (ids->perception) ids->plan = component_for(world, AW_AI_PLAN_NAME, sizeof(aw_ai_plan), 8);
    if (ids->plan) ids->projectile = component_for(world, AW_AI_PROJECTILE_NAME, sizeof(aw_ai_projectile), 8);
    if (ids->projectile)
        ids->refusal_event = aw_event_register(world, &(aw_event_desc){.name = AW_AI_REFUSAL_EVENT_NAME,
                                                                       .size = sizeof(aw_ai_refusal),
                                                                       .align = _Alignof(aw_ai_refusal)});
    if (ids->refusal_event)
        ids->damage_event = aw_event_register(world, &(aw_event_desc){.name = AW_AI_DAMAGE_EVENT_NAME,
                                                                      .size = sizeof(aw_ai_damage),
                                                                      .align = _Alignof(aw_ai_damage)});
    if (ids->damage_event)
        ids->resource = aw_resource_register(world, &(aw_resource_desc){.name = AI_RESOURCE_NAME,
                                                                         .size = sizeof(aw_ai *),
                                                                         .align = _Alignof(aw_ai *),
                                                                         .initial = &ai,
                                                                         .dtor = ai_resource_dtor});
    if (!ids->resource) {
        st = aw_last_status();
        char msg[512];
        snprintf(msg, sizeof msg, "%s", aw_last_error());
        ai_free(ai);
        aw_error(st ? st : AW_ERR_OUT_OF_MEMORY, "aw_ai_create: %s", msg);
        return NULL;
    }
    return ai;
}

aw_ai *aw_ai_get(const aw_world *world) {
    if (!world) return NULL;
    aw_resource r = aw_resource_lookup(world, AI_RESOURCE_NAME);
    if (!r) return NULL;
    aw_ai **slot = aw_resource_get((aw_world *)world, r);
    return slot ? *slot : NULL;
}

aw_ai_ids aw_ai_get_ids(const aw_ai *ai) {
    return ai ? ai->ids : (aw_ai_ids){0};
}

aw_status aw_ai_set_orchestrator(aw_ai *ai, const aw_orchestrator *o) {
    if (!ai || !o) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_orchestrator: ai and orchestrator are required");
    if ((unsigned)o->kind >= AW_ORCHESTRATOR_KIND_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_orchestrator: kind %d is out of range", (int)o->kind);
    if (!o->plan) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_orchestrator: plan is required");
    if ((unsigned)o->fallback > AW_ORCHESTRATOR_KIND_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_orchestrator: fallback %d is out of range", (int)o->fallback);
    aw_orchestrator *slot = &ai->orchestrators[o->kind];
    if (slot->destroy && slot->ctx != o->ctx) slot->destroy(slot->ctx);
    *slot = *o;
    slot->name[AW_AI_NAME_SIZE - 1] = '\0';
    if (o->kind == AW_ORCHESTRATOR_LLM && o->fallback == AW_ORCHESTRATOR_RULE && !ai->fallback_set[o->kind])
        slot->fallback = AW_ORCHESTRATOR_GOAP;
    if (slot->fallback == o->kind) slot->fallback = AW_ORCHESTRATOR_KIND_COUNT;
    return AW_OK;
}

aw_status aw_ai_set_fallback(aw_ai *ai, aw_orchestrator_kind kind, aw_orchestrator_kind fallback) {
    if (!ai || (unsigned)kind >= AW_ORCHESTRATOR_KIND_COUNT || (unsigned)fallback > AW_ORCHESTRATOR_KIND_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_fallback: ai and kinds in range are required");
    ai->orchestrators[kind].fallback = fallback == kind ? AW_ORCHESTRATOR_KIND_COUNT : fallback;
    ai->fallback_set[kind] = true;
    return AW_OK;
}

const aw_orchestrator *aw_ai_get_orchestrator(const aw_ai *ai, aw_orchestrator_kind kind) {
    if (!ai || (unsigned)kind >= AW_ORCHESTRATOR_KIND_COUNT) return NULL;
    return &ai->orchestrators[kind];
}

/* ---- loading: into a copy of the library, swapped in only when the whole file loaded */

aw_status aw_ai_load_string(aw_ai *ai, const char *json, size_t length, const char *name) {
    if (!ai || !json) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_load_string: ai and json are required");
    ai_library *copy = aw_alloc(ai->allocator, sizeof *copy, 64);
    if (!copy) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_ai_load_string: out of memory");
    memcpy(copy, ai->lib, sizeof *copy);
    aw_status st = ai_library_load(copy, json, length, name);
    if (st) {
        aw_free(ai->allocator, copy, sizeof *copy);
        return st;
    }
    aw_free(ai->allocator, ai->lib, sizeof *ai->lib);
    ai->lib = copy;
    /* Cached plans point into the old library. */
    for (uint32_t i = 0; i < ai->worker_count; i++) ai_goap_cache_clear(ai->workers[i].goap);
    return AW_OK;
}

aw_status aw_ai_load_file(aw_ai *ai, const char *path) {
    if (!ai || !path) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_load_file: ai and path are required");
    FILE *f = fopen(path, "rb");
    if (!f) return aw_error(AW_ERR_IO, "%s: cannot open", path);
    aw_status st = AW_OK;
    char *text = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || size > (64l << 20) || fseek(f, 0, SEEK_SET) != 0) {
        st = aw_error(AW_ERR_IO, "%s: cannot read (or larger than 64 MiB)", path);
    } else if (!(text = aw_alloc(ai->allocator, (size_t)size + 1, 1))) {
        st = aw_error(AW_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    } else if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        st = aw_error(AW_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    if (!st) st = aw_ai_load_string(ai, text, (size_t)size, path);
    if (text) aw_free(ai->allocator, text, (size_t)size + 1);
    return st;
}

uint32_t aw_ai_type_count(const aw_ai *ai) {
    return ai ? ai->lib->type_count : 0;
}

const aw_agent_type *aw_ai_type(const aw_ai *ai, uint32_t index) {
    return ai && index < ai->lib->type_count ? &ai->lib->types[index] : NULL;
}

const aw_agent_type *ai_type_of(const aw_ai *ai, uint32_t index) {
    return index < ai->lib->type_count ? &ai->lib->types[index] : &ai->lib->types[0];
}

int32_t aw_ai_type_find(const aw_ai *ai, const char *name) {
    if (!ai || !name) return -1;
    for (uint32_t i = 0; i < ai->lib->type_count; i++)
        if (strcmp(ai->lib->types[i].name, name) == 0) return (int32_t)i;
    return -1;
}

const char *aw_agent_type_name(const aw_agent_type *type) {
    return type ? type->name : "";
}

aw_orchestrator_kind aw_agent_type_orchestrator(const aw_agent_type *type) {
    return type ? type->orchestrator : AW_ORCHESTRATOR_KIND_COUNT;
}

/* ---- level data */

static bool finite_box(const aw_aabb *b) {
    return isfinite(b->min.x) && isfinite(b->min.y) && isfinite(b->min.z) && isfinite(b->max.x) &&
           isfinite(b->max.y) && isfinite(b->max.z) && b->min.x <= b->max.x && b->min.y <= b->max.y &&
           b->min.z <= b->max.z;
}

static int by_x_cmp(const void *a, const void *b) {
    const ai_by_x *x = a, *y = b;
    if (x->x != y->x) return x->x < y->x ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A sorted-by-x copy of n keys; NULL (and no error) for n == 0. */
static ai_by_x *sorted_by_x(aw_ai *ai, const float *keys, size_t stride, uint32_t n) {
    if (!n) return NULL;
    ai_by_x *out = aw_alloc(ai->allocator, (size_t)n * sizeof *out, 8);
    if (!out) return NULL;
    for (uint32_t i = 0; i < n; i++) out[i] = (ai_by_x){*(const float *)((const char *)keys + i * stride), i};
    qsort(out, n, sizeof *out, by_x_cmp);
    return out;
}

aw_status aw_ai_set_obstacles(aw_ai *ai, const aw_aabb *boxes, uint32_t count) {
    if (!ai || (count && !boxes)) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_obstacles: ai and boxes are required");
    if (count > AI_MAX_OBSTACLES)
        return aw_error(AW_ERR_CAPACITY, "aw_ai_set_obstacles: %u boxes, at most %u", count, AI_MAX_OBSTACLES);
    for (uint32_t i = 0; i < count; i++)
        if (!finite_box(&boxes[i])) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_obstacles: box %u is not finite or min > max", i);
    aw_aabb *copy = NULL;
    ai_by_x *by_x = sorted_by_x(ai, count ? &boxes[0].min.x : NULL, sizeof *boxes, count);
    if (count && (!by_x || !(copy = aw_alloc(ai->allocator, (size_t)count * sizeof *copy, 16)))) {
        aw_free(ai->allocator, by_x, (size_t)count * sizeof *by_x);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_ai_set_obstacles: out of memory");
    }
    aw_status st = aw_physics_set_obstacles(ai->physics, boxes, count);
    if (st) {
        aw_free(ai->allocator, copy, (size_t)count * sizeof *copy);
        aw_free(ai->allocator, by_x, (size_t)count * sizeof *by_x);
        return st;
    }
    if (count) memcpy(copy, boxes, (size_t)count * sizeof *copy);
    aw_free(ai->allocator, ai->obstacles, (size_t)ai->obstacle_count * sizeof(aw_aabb));
    aw_free(ai->allocator, ai->obstacles_by_x, (size_t)ai->obstacle_count * sizeof(ai_by_x));
    ai->obstacles = copy;
    ai->obstacles_by_x = by_x;
    ai->obstacle_count = count;
    ai->obstacle_max_width = 0.0f;
    for (uint32_t i = 0; i < count; i++)
        if (boxes[i].max.x - boxes[i].min.x > ai->obstacle_max_width) ai->obstacle_max_width = boxes[i].max.x - boxes[i].min.x;
    return AW_OK;
}

aw_status aw_ai_set_pois(aw_ai *ai, const aw_ai_poi *pois, uint32_t count) {
    if (!ai || (count && !pois)) return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_pois: ai and pois are required");
    if (count > AI_MAX_POIS) return aw_error(AW_ERR_CAPACITY, "aw_ai_set_pois: %u points, at most %u", count, AI_MAX_POIS);
    for (uint32_t i = 0; i < count; i++)
        if (pois[i].kind >= AW_POI_KIND_COUNT || !isfinite(pois[i].position.x) || !isfinite(pois[i].position.y) ||
            !isfinite(pois[i].position.z))
            return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_pois: point %u has a bad kind or position", i);
    aw_ai_poi *copy = NULL;
    ai_by_x *by_x = sorted_by_x(ai, count ? &pois[0].position.x : NULL, sizeof *pois, count);
    if (count && (!by_x || !(copy = aw_alloc(ai->allocator, (size_t)count * sizeof *copy, 16)))) {
        aw_free(ai->allocator, by_x, (size_t)count * sizeof *by_x);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_ai_set_pois: out of memory");
    }
    if (count) memcpy(copy, pois, (size_t)count * sizeof *copy);
    aw_free(ai->allocator, ai->pois, (size_t)ai->poi_count * sizeof(aw_ai_poi));
    aw_free(ai->allocator, ai->pois_by_x, (size_t)ai->poi_count * sizeof(ai_by_x));
    ai->pois = copy;
    ai->pois_by_x = by_x;
    ai->poi_count = count;
    return AW_OK;
}

aw_status aw_ai_set_commander(aw_ai *ai, uint8_t team, const aw_ai_commander *commander) {
    if (!ai || !commander || team >= AW_AI_MAX_TEAMS || commander->order >= AW_ORDER_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_commander: ai, commander, team < %u and a known order are required",
                        AW_AI_MAX_TEAMS);
    ai->commanders[team] = *commander;
    return AW_OK;
}

aw_status aw_ai_set_spawn_area(aw_ai *ai, uint8_t team, aw_aabb area) {
    if (!ai || team >= AW_AI_MAX_TEAMS || !finite_box(&area))
        return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_spawn_area: ai, team < %u and a finite box are required",
                        AW_AI_MAX_TEAMS);
    ai->spawn_areas[team] = area;
    ai->has_spawn_area[team] = true;
    return AW_OK;
}

aw_status aw_ai_set_objective(aw_ai *ai, uint8_t team, const aw_ai_objective *objective) {
    if (!ai || !objective || team >= AW_AI_MAX_TEAMS || objective->kind >= AW_OBJECTIVE_KIND_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "aw_ai_set_objective: ai, objective, team < %u and a known kind are required",
                        AW_AI_MAX_TEAMS);
    ai->objectives[team] = *objective;
    return AW_OK;
}

/* ---- agents */


bool ai_agent_state(const aw_ai *ai, aw_entity e, uint64_t frame, bool in_frame, aw_vec3 *pos, uint8_t *team,
                    float *hp) {
    const ai_vital *v = in_frame ? ai_vital_of(ai, e, frame) : NULL; /* no lookup */
    if (v) {
        *pos = v->position, *team = v->team, *hp = v->hp;
        return true;
    }
    const aw_ai_agent *a = aw_entity_get_const(ai->world, e, ai->ids.agent);
    const aw_position *p = a ? aw_entity_get_const(ai->world, e, ai->ids.position) : NULL;
    if (!a || !p) {
        aw_clear_error();
        return false;
    }
    *pos = *p, *team = a->team, *hp = a->hp;
    return true;
}

void ai_agent_init(const aw_agent_type *t, uint32_t type, uint8_t team, aw_ai_agent *out) {
    memset(out, 0, sizeof *out);
    out->hp = out->max_hp = t->max_hp;
    out->morale = 1.0f;
    out->ammo = t->magazine;
    out->reserve_ammo = t->reserve_ammo;
    out->explosives = t->explosives;
    out->medkits = t->medkits;
    out->team = team;
    out->agent_type = (uint16_t)type;
}

/* An agent's components recorded in one order, the same for a first spawn and a respawn: both walk
 * the same chain of tables when applied, so every table on it exists from the first spawn on (a
 * respawn through a different path would create them, with their allocations, in a timed frame). */
void ai_agent_commands(const aw_ai *ai, aw_cmd_buffer *cb, aw_entity e, uint32_t type, uint8_t team,
                       aw_vec3 position) {
    const aw_agent_type *t = ai_type_of(ai, type);
    aw_ai_agent agent;
    ai_agent_init(t, type, team, &agent);
    aw_ai_perception perception = {.enemy_distance = INFINITY, .ally_distance = INFINITY};
    aw_ai_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.trigger = AW_TRIGGER_SCHEDULED + 1; /* plan on the first frame */
    plan.next_plan_id = 1;
    aw_velocity vel = {0, 0, 0};
    aw_collider collider = {.radius = t->radius, .layer = AW_AI_TEAM_LAYER(team)};
    aw_rigid_body body = {.inv_mass = 1.0f};
    aw_position where = position;
    aw_cmd_set(cb, e, ai->ids.position, &where, sizeof where);
    aw_cmd_set(cb, e, ai->ids.velocity, &vel, sizeof vel);
    aw_cmd_set(cb, e, ai->pids.collider, &collider, sizeof collider);
    aw_cmd_set(cb, e, ai->pids.rigid_body, &body, sizeof body);
    aw_cmd_set(cb, e, ai->ids.agent, &agent, sizeof agent);
    aw_cmd_set(cb, e, ai->ids.perception, &perception, sizeof perception);
    aw_cmd_set(cb, e, ai->ids.plan, &plan, sizeof plan);
}

size_t ai_respawn_bytes(void) {
    return 2 * aw_cmd_size(0) + aw_cmd_size(sizeof(aw_position)) + aw_cmd_size(sizeof(aw_velocity)) +
           aw_cmd_size(sizeof(aw_collider)) + aw_cmd_size(sizeof(aw_rigid_body)) + aw_cmd_size(sizeof(aw_ai_agent)) +
           aw_cmd_size(sizeof(aw_ai_perception)) + aw_cmd_size(sizeof(aw_ai_plan));
}

aw_entity aw_ai_spawn(aw_ai *ai, uint32_t type, uint8_t team, aw_vec3 position) {
    if (!ai || type >= ai->lib->type_count || team >= AW_AI_MAX_TEAMS || !isfinite(position.x) ||
        !isfinite(position.y) || !isfinite(position.z)) {
        aw_error(AW_ERR_INVALID_ARG, "aw_ai_spawn: ai, a loaded type, team < %u and a finite position are required",
                 AW_AI_MAX_TEAMS);
        return AW_ENTITY_NULL;
    }
    aw_cmd_buffer *cb = aw_cmd_buffer_create(ai->world);
    if (!cb) return AW_ENTITY_NULL;
    aw_entity e = aw_cmd_create(cb);
    if (e) ai_agent_commands(ai, cb, e, type, team, position);
    if (!e || aw_cmd_buffer_apply(cb)) e = AW_ENTITY_NULL;
    else e = aw_cmd_resolve(cb, e);
    aw_cmd_buffer_destroy(cb);
    return e;
}

/* ---- statistics */

ai_worker *ai_worker_of(const aw_ai *ai, uint32_t worker) {
    return &ai->workers[worker < ai->worker_count ? worker : 0];
}

static void add_stats(aw_ai_stats *to, const aw_ai_stats *from) {
    to->plans += from->plans;
    to->fallbacks += from->fallbacks;
    to->pending += from->pending;
    to->deferred += from->deferred;
    to->steps_run += from->steps_run;
    for (int i = 0; i < AW_VALIDATION_COUNT; i++) to->refusals[i] += from->refusals[i];
    to->shots += from->shots;
    to->projectiles_spawned += from->projectiles_spawned;
    to->projectiles_expired += from->projectiles_expired;
    to->deaths += from->deaths;
    to->respawns += from->respawns;
    to->goap_cache_hits += from->goap_cache_hits;
    to->goap_cache_misses += from->goap_cache_misses;
}

aw_ai_stats aw_ai_get_stats(const aw_ai *ai) {
    aw_ai_stats s = {0};
    if (!ai) return s;
    s = ai->stats;
    for (uint32_t i = 0; i < ai->worker_count; i++) add_stats(&s, &ai->workers[i].stats);
    return s;
}

aw_plan_status aw_ai_plan_once(aw_ai *ai, aw_orchestrator_kind kind, const aw_world_snapshot *snapshot,
                               aw_plan_intent *out) {
    if (!ai || !snapshot || !out || (unsigned)kind >= AW_ORCHESTRATOR_KIND_COUNT) {
        aw_error(AW_ERR_INVALID_ARG, "aw_ai_plan_once: ai, a kind in range, snapshot and out are required");
        return AW_PLAN_FAILED;
    }
    float memory[AW_AI_MEMORY_SLOTS] = {0};
    aw_plan_request req = {.snapshot = snapshot,
                           .type = ai_type_of(ai, snapshot->self.agent_type),
                           .agent = snapshot->self.id,
                           .plan_id = 1,
                           .memory = memory,
                           .memory_count = AW_AI_MEMORY_SLOTS};
    bool fb;
    aw_plan_status st = ai_plan_with_fallback(ai, kind, &req, out, &fb, &ai->workers[0], false);
    if (st == AW_PLAN_READY || fb) ai_plan_resolve(ai, snapshot, req.type, out, false); /* as planning does */
    return st == AW_PLAN_FAILED && fb ? AW_PLAN_READY : st;
}
