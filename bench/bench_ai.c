/* AI benchmark: planners timed on fixed situations (medians of repetitions), validation on a 10k-agent
 * world, and the agent loop (AI systems only, one thread) on the combat scenario's agents.
 * GOAP's baseline is exhaustive search over action sequences up to the plan's length, on the same
 * cases: what a planner without A* and without state hashing costs. */
#include "bench_ai.h"
#include "bench_llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ai/ai_internal.h"

#define MAX_REPS 64

typedef struct run {
    const aw_bench_options *o;
    aw_bench_report *report;
    aw_status status;
} run;

static void add(run *r, const char *name, const char *unit, const double *s, uint32_t n, const double *b,
                uint32_t bn, double target) {
    if (r->status || !aw_bench_selected(r->o, name)) return;
    aw_bench_entry e = {.name = name, .unit = unit, .samples = s, .sample_count = n, .baseline_samples = b,
                        .baseline_count = bn, .target = target};
    r->status = aw_bench_report_add(r->report, &e);
}

static volatile uint64_t sink;

/* ---- GOAP */

enum {
    F_AMMO, F_RESERVE, F_VISIBLE, F_IN_RANGE, F_COVER, F_LOW_HP, F_MEDKIT, F_DOWN, F_MARKED, F_FLANKED,
    F_SUPPRESSED, F_SQUAD, F_AT_OBJ, F_SECURED, F_SAFE, F_INTEL
};
#define B(f) (1ull << (f))

static void act(ai_goap_domain *d, uint64_t pre_true, uint64_t pre_false, uint64_t eff_true, uint64_t eff_false,
                float cost) {
    ai_goap_action *a = &d->actions[d->action_count++];
    memset(a, 0, sizeof *a);
    a->pre_mask = pre_true | pre_false;
    a->pre_value = pre_true;
    a->effect_mask = eff_true | eff_false;
    a->effect_value = eff_true;
    a->cost = cost;
}

/* A squad domain: the first ten actions are a soldier's; the next ten add flanking, suppression,
 * marking, regrouping, objectives and intel. */
static void make_domain(ai_goap_domain *d, uint32_t actions) {
    memset(d, 0, sizeof *d);
    act(d, B(F_RESERVE), B(F_AMMO), B(F_AMMO), 0, 1.0f);              /* reload */
    act(d, 0, B(F_VISIBLE), B(F_VISIBLE), 0, 1.0f);                   /* scan */
    act(d, B(F_VISIBLE), B(F_IN_RANGE), B(F_IN_RANGE), 0, 2.0f);      /* approach */
    act(d, 0, B(F_COVER), B(F_COVER), 0, 1.5f);                       /* take cover */
    act(d, B(F_LOW_HP) | B(F_MEDKIT), 0, 0, B(F_LOW_HP) | B(F_MEDKIT), 1.0f); /* heal */
    act(d, B(F_IN_RANGE) | B(F_AMMO), 0, B(F_DOWN), 0, 2.0f);         /* attack */
    act(d, B(F_IN_RANGE) | B(F_AMMO) | B(F_COVER), 0, B(F_DOWN), 0, 1.0f); /* aimed shot */
    act(d, B(F_VISIBLE), 0, B(F_SAFE), B(F_IN_RANGE), 2.0f);          /* retreat */
    act(d, 0, B(F_VISIBLE), B(F_VISIBLE), 0, 3.0f);                   /* patrol */
    act(d, B(F_VISIBLE), 0, B(F_MARKED), 0, 0.5f);                    /* mark */
    if (actions <= 10) return;
    act(d, 0, B(F_RESERVE), B(F_RESERVE), 0, 4.0f);                   /* resupply */
    act(d, 0, B(F_MEDKIT), B(F_MEDKIT), 0, 3.0f);                     /* find a medkit */
    act(d, B(F_IN_RANGE) | B(F_AMMO), 0, B(F_SUPPRESSED), B(F_AMMO), 1.5f); /* suppress (empties it) */
    act(d, B(F_VISIBLE) | B(F_SUPPRESSED), 0, B(F_FLANKED) | B(F_IN_RANGE), B(F_COVER), 2.0f); /* flank */
    act(d, B(F_FLANKED) | B(F_AMMO), 0, B(F_DOWN), 0, 0.8f);          /* flank attack */
    act(d, B(F_IN_RANGE) | B(F_SUPPRESSED), 0, B(F_DOWN), 0, 1.2f);   /* grenade */
    act(d, 0, B(F_SQUAD), B(F_SQUAD), 0, 2.0f);                       /* regroup */
    act(d, B(F_SQUAD), 0, B(F_AT_OBJ), B(F_COVER) | B(F_IN_RANGE), 3.0f); /* move to the objective */
    act(d, B(F_AT_OBJ) | B(F_DOWN), 0, B(F_SECURED), 0, 2.0f);        /* secure */
    act(d, B(F_AT_OBJ), 0, B(F_INTEL), 0, 1.0f);                      /* gather intel */
    ai_goap_domain_finish(d);
}

typedef struct goap_case {
    uint64_t start, goal;
} goap_case;

static float brute_best;
static uint64_t brute_nodes;
static void brute(const ai_goap_domain *d, uint64_t s, uint64_t gm, uint32_t depth, float g) {
    brute_nodes++;
    if (g >= brute_best) return;
    if ((s & gm) == gm) {
        brute_best = g;
        return;
    }
    if (!depth) return;
    for (uint32_t a = 0; a < d->action_count; a++) {
        const ai_goap_action *x = &d->actions[a];
        if ((s & x->pre_mask) != x->pre_value) continue;
        brute(d, (s & ~x->effect_mask) | x->effect_value, gm, depth - 1, g + x->cost);
    }
}

static void bench_goap(run *r, const char *name, uint32_t actions, const goap_case *cases, uint32_t ncases,
                       double target) {
    if (!aw_bench_selected(r->o, name)) return;
    static ai_goap_domain d;
    make_domain(&d, actions);
    ai_goap_domain_finish(&d);
    ai_goap_scratch *s = ai_goap_scratch_create(NULL);
    if (!s) {
        r->status = AW_ERR_OUT_OF_MEMORY;
        return;
    }
    uint32_t reps = r->o->reps < MAX_REPS ? r->o->reps : MAX_REPS;
    double samples[MAX_REPS], base[MAX_REPS];
    uint8_t plan[AW_AI_MAX_STEPS];
    int lengths[16] = {0};
    uint32_t nodes[16] = {0};
    for (uint32_t rep = 0; rep < reps; rep++) {
        const uint32_t loops = 200;
        uint64_t t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++)
            for (uint32_t c = 0; c < ncases; c++) {
                float cost;
                lengths[c] = ai_goap_search(&d, cases[c].start, cases[c].goal, cases[c].goal, AW_AI_MAX_STEPS, s,
                                            plan, &cost);
                sink += (uint64_t)lengths[c];
                nodes[c] = ai_goap_last_nodes(s);
            }
        samples[rep] = (double)(aw_time_ns() - t0) * 1e-3 / (loops * ncases);
        /* Exhaustive search to the depth A* needed (at least 1). */
        const uint32_t bloops = 4;
        t0 = aw_time_ns();
        for (uint32_t l = 0; l < bloops; l++)
            for (uint32_t c = 0; c < ncases; c++) {
                brute_best = INFINITY;
                brute(&d, cases[c].start, cases[c].goal, lengths[c] > 0 ? (uint32_t)lengths[c] : 1, 0.0f);
                sink += (uint64_t)brute_best;
            }
        base[rep] = (double)(aw_time_ns() - t0) * 1e-3 / (bloops * ncases);
    }
    if (r->o->verbose)
        for (uint32_t c = 0; c < ncases; c++) fprintf(stderr, "%s case %u: %d steps, %u nodes\n", name, c, lengths[c], nodes[c]);
    /* The path a game takes most of the time: the plan cache, keyed by (domain, state, goal). */
    double cached[MAX_REPS];
    d.goal_count = ncases < AI_MAX_GOALS ? ncases : AI_MAX_GOALS;
    for (uint32_t c = 0; c < d.goal_count; c++) d.goals[c] = (ai_goap_goal){.goal_mask = cases[c].goal, .goal_value = cases[c].goal};
    ai_goap_cache_clear(s);
    for (uint32_t rep = 0; rep < reps; rep++) {
        const uint32_t loops = 20000;
        uint64_t t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++) {
            bool hit;
            uint32_t c = l % d.goal_count;
            sink += (uint64_t)ai_goap_plan_cached(&d, cases[c].start, c, s, plan, NULL, &hit);
        }
        cached[rep] = (double)(aw_time_ns() - t0) / loops;
    }
    ai_goap_scratch_destroy(s, NULL);
    add(r, name, "us/plan", samples, reps, base, reps, target);
    char cname[AW_BENCH_NAME_MAX];
    snprintf(cname, sizeof cname, "%.*s_cached_ns", (int)(strlen(name) - 3), name);
    add(r, cname, "ns/plan", cached, reps, NULL, 0, 0);
}

/* ---- BT, utility, validation: on an AI context with the defaults */

static void bench_trees_and_utility(run *r, aw_ai *ai) {
    aw_world_snapshot snap;
    memset(&snap, 0, sizeof snap);
    snap.self.hp = snap.self.max_hp = 100.0f;
    snap.self.ammo = 30;
    snap.self.reserve_ammo = 90;
    snap.self.explosives = 2;
    snap.self.medkits = 1;
    snap.self.morale = 1.0f;
    snap.bounds = (aw_aabb){{-100, -100, -100}, {100, 100, 100}};
    for (uint32_t i = 0; i < 4; i++) {
        aw_ai_contact *c = &snap.enemies[snap.enemy_count++];
        c->id = ((aw_entity)1 << 32) | (10u + i);
        c->position = (aw_vec3){12.0f + (float)i * 3.0f, 0, (float)i};
        c->distance = 12.0f + (float)i * 3.0f;
        c->hp = 100.0f;
    }
    const aw_agent_type *type = aw_ai_type(ai, 0);
    ai_senses senses;
    ai_sense(&snap, type, &senses);
    uint32_t reps = r->o->reps < MAX_REPS ? r->o->reps : MAX_REPS;
    double bt[MAX_REPS], util[MAX_REPS], sense[MAX_REPS];
    const uint32_t loops = 20000;
    float memory[AW_AI_MEMORY_SLOTS] = {0};
    for (uint32_t rep = 0; rep < reps; rep++) {
        aw_plan_intent p;
        uint64_t t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++) {
            p.step_count = 0;
            sink += ai_bt_tick(&ai->lib->trees[type->tree], &snap, &senses, type, memory, &p) + p.step_count;
        }
        bt[rep] = (double)(aw_time_ns() - t0) / loops;
        t0 = aw_time_ns();
        float scores[AI_MAX_OPTIONS]; /* kept, as the orchestrator keeps them to fall through */
        const ai_utility_set *set = &ai->lib->utility[type->utility];
        for (uint32_t l = 0; l < loops; l++) sink += (uint64_t)ai_utility_select(set, &senses, scores);
        util[rep] = (double)(aw_time_ns() - t0) / loops;
        t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++) {
            snap.self.hp = 100.0f - (float)(l & 7);
            ai_sense(&snap, type, &senses);
            sink += senses.facts;
        }
        sense[rep] = (double)(aw_time_ns() - t0) / loops;
    }
    /* Senses are every planner's shared first step: the baseline to read the tick and selection against. */
    add(r, "bt_tick_ns", "ns", bt, reps, sense, reps, 0);
    add(r, "utility_select_ns", "ns", util, reps, sense, reps, 0);
}

/* Agents on a field in team bands, like the combat scenario. */
static aw_status populate(aw_ai *ai, aw_physics *physics, uint32_t agents, float half, uint64_t seed) {
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    int32_t first = aw_ai_type_find(ai, "rifleman");
    static const uint8_t mix[16] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 0, 4};
    for (uint32_t i = 0; i < agents; i++) {
        float x = aw_rng_float_range(&rng, -half, half), z = aw_rng_float_range(&rng, -half, half);
        uint8_t team = (uint8_t)((uint32_t)floorf((x + half) / 24.0f) & 1u);
        uint32_t type = first >= 0 ? (uint32_t)first + mix[i % 16u] : 0u;
        if (!aw_ai_spawn(ai, type, team, (aw_vec3){x, 0, z})) return aw_last_status();
    }
    aw_aabb boxes[16];
    for (int i = 0; i < 16; i++) {
        float cx = aw_rng_float_range(&rng, -half * 0.9f, half * 0.9f), cz = aw_rng_float_range(&rng, -half * 0.9f, half * 0.9f);
        boxes[i] = (aw_aabb){{cx - 2, 0, cz - 2}, {cx + 2, 3, cz + 2}};
    }
    aw_status st = aw_ai_set_obstacles(ai, boxes, 16);
    if (!st) st = aw_physics_step(physics, 0.0f);
    return st == AW_ERR_INVALID_ARG ? AW_OK : st;
}

static const char combat_types[] =
    "{\"types\": [\n"
    " {\"name\": \"rifleman\", \"orchestrator\": \"goap\", \"reserve_ammo\": 60000, \"weapon_range\": 18,"
    "  \"perception_radius\": 20},\n"
    " {\"name\": \"grenadier\", \"orchestrator\": \"bt\", \"reserve_ammo\": 60000, \"projectile_speed\": 40,"
    "  \"perception_radius\": 20, \"weapon_range\": 18, \"explosives\": 200, \"explosive_interval\": 4},\n"
    " {\"name\": \"scout\", \"orchestrator\": \"utility\", \"reserve_ammo\": 60000, \"speed\": 7, \"weapon_range\": 15,"
    "  \"perception_radius\": 20, \"medkits\": 50},\n"
    " {\"name\": \"guard\", \"orchestrator\": \"rule\", \"reserve_ammo\": 60000, \"max_hp\": 150, \"speed\": 4,"
    "  \"perception_radius\": 20, \"weapon_range\": 18},\n"
    " {\"name\": \"officer\", \"orchestrator\": \"llm\", \"reserve_ammo\": 60000, \"perception_radius\": 20,"
    "  \"weapon_range\": 18}\n"
    "]}\n";

typedef struct field {
    aw_world *world;
    aw_physics *physics;
    aw_ai *ai;
    float half;
} field;

static aw_status field_make(field *f, uint32_t agents, uint64_t seed, uint32_t threads) {
    memset(f, 0, sizeof *f);
    f->half = sqrtf((float)agents * 16.0f) * 0.5f;
    if (f->half < 24.0f) f->half = 24.0f;
    float h = f->half;
    f->world = aw_world_create(&(aw_world_desc){.threads = threads});
    if (!f->world) return aw_last_status();
    f->physics = aw_physics_create(f->world, &(aw_physics_desc){.min_x = -h, .min_z = -h, .max_x = h, .max_z = h,
                                                               .cell_size = 6.0f, .no_events = true});
    if (!f->physics) return aw_last_status();
    f->ai = aw_ai_create(f->world, &(aw_ai_desc){.replan_interval = 30,
                                                 .plan_budget = agents / 30u > 64u ? agents / 30u : 64u,
                                                 .perception_interval = 8,
                                                 .fixed_dt = 1.0f / 60.0f,
                                                 .bounds = {{-h, -1e6f, -h}, {h, 1e6f, h}}});
    if (!f->ai) return aw_last_status();
    aw_status st = aw_ai_load_string(f->ai, combat_types, sizeof combat_types - 1, "bench types");
    return st ? st : populate(f->ai, f->physics, agents, h, seed);
}

static void bench_validate(run *r) {
    if (!aw_bench_selected(r->o, "validate_step_ns")) return;
    field f;
    uint32_t agents = 10000;
    aw_status st = field_make(&f, agents, r->o->seed, 1);
    if (st) {
        fprintf(stderr, "ai: validate setup: %s\n", aw_last_error());
        aw_bench_report_fail(r->report);
        aw_world_destroy(f.world);
        return;
    }
    /* Pairs of agents and their nearest enemy, found once. */
    enum { PAIRS = 1024 };
    static aw_world_snapshot snaps[64];
    static aw_action_step attack[PAIRS], move[PAIRS];
    static uint32_t owner[PAIRS];
    aw_ai_ids ids = aw_ai_get_ids(f.ai);
    aw_query *q = aw_query_create(f.world, &(aw_query_desc){AW_TERMS(AW_READ(ids.agent))});
    uint32_t n = 0, s = 0;
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it) && s < 64) {
        for (uint32_t i = 0; i < it.count && s < 64; i += 97) {
            if (aw_ai_build_snapshot(f.ai, it.entities[i], &snaps[s]) || !snaps[s].enemy_count) continue;
            for (uint32_t k = 0; k < snaps[s].enemy_count && n < PAIRS; k++) {
                attack[n] = (aw_action_step){.kind = AW_ACTION_ATTACK, .target = snaps[s].enemies[k].id};
                move[n] = (aw_action_step){.kind = AW_ACTION_MOVE_TO, .position = snaps[s].enemies[k].position};
                move[n].position.x += 0.5f;
                owner[n++] = s;
            }
            s++;
        }
    }
    aw_iter_fini(&it);
    uint32_t reps = r->o->reps < MAX_REPS ? r->o->reps : MAX_REPS;
    double va[MAX_REPS], vm[MAX_REPS];
    uint32_t valid = 0;
    for (uint32_t rep = 0; rep < reps && n; rep++) {
        const uint32_t loops = 40;
        uint64_t t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++)
            for (uint32_t i = 0; i < n; i++) valid += aw_ai_validate_step(f.ai, &snaps[owner[i]], &attack[i]) == AW_VALID;
        va[rep] = (double)(aw_time_ns() - t0) / ((double)loops * n);
        t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++)
            for (uint32_t i = 0; i < n; i++) valid += aw_ai_validate_step(f.ai, &snaps[owner[i]], &move[i]) == AW_VALID;
        vm[rep] = (double)(aw_time_ns() - t0) / ((double)loops * n);
    }
    sink += valid;
    if (r->o->verbose) fprintf(stderr, "validate: %u steps, %u valid checks\n", n, valid);
    /* Baseline: a MoveTo (bounds and obstacles, no ray, no target lookup). */
    if (n) add(r, "validate_step_ns", "ns", va, reps, vm, reps, 0);
    aw_world_destroy(f.world);
}

/* Every 7th agent of the field in ECS order (spread over the field), at most `max`: its entity,
 * position and agent component. */
static uint32_t sample_agents(const field *f, aw_entity *who, aw_position *where, aw_ai_agent *state,
                              uint32_t max) {
    aw_ai_ids ids = aw_ai_get_ids(f->ai);
    aw_query *q = aw_query_create(f->world, &(aw_query_desc){AW_TERMS(AW_READ(ids.position), AW_READ(ids.agent))});
    if (!q) return 0;
    uint32_t n = 0;
    aw_iter it = aw_query_iter(q);
    while (aw_iter_next(&it) && n < max) {
        const aw_position *p = AW_COLUMN(&it, aw_position, 0);
        const aw_ai_agent *a = AW_COLUMN(&it, aw_ai_agent, 1);
        for (uint32_t i = 0; i < it.count && n < max; i += 7, n++)
            who[n] = it.entities[i], where[n] = p[i], state[n] = a[i];
    }
    aw_iter_fini(&it);
    aw_query_destroy(q);
    return n;
}

/* A planning snapshot (allies, enemies, level lists) for 1,024 agents of a 20,000-agent field, the
 * grid walks starting from each agent's reach table entry as the planning system keeps it (filled by
 * one pass first, as the previous plan would). Baseline: the same snapshots walked at the full
 * perception radius (no table), as before the table. */
static void bench_plan_snapshot(run *r) {
    if (!aw_bench_selected(r->o, "plan_snapshot_ns")) return;
    uint32_t agents = r->o->entities < 20000u ? r->o->entities : 20000u;
    field f;
    aw_status st = field_make(&f, agents, r->o->seed, 1);
    if (st) {
        fprintf(stderr, "ai: plan snapshot setup: %s\n", aw_last_error());
        aw_bench_report_fail(r->report);
        aw_world_destroy(f.world);
        return;
    }
    enum { AGENTS = 1024 };
    static aw_entity who[AGENTS];
    static aw_position where[AGENTS];
    static aw_ai_agent state[AGENTS];
    static ai_reach reach[AGENTS];
    static aw_world_snapshot snap;
    uint32_t n = sample_agents(&f, who, where, state, AGENTS);
    for (uint32_t i = 0; i < n; i++) reach[i] = (ai_reach){.entity = who[i]};
    const aw_ai *ai = f.ai;
    uint64_t contacts = 0;
    for (uint32_t i = 0; i < n; i++) /* the previous plan */
        (void)ai_snapshot_fill(ai, who[i], &where[i], NULL, &state[i], 0.0, 0, true, &reach[i], &snap);
    uint32_t reps = r->o->reps < MAX_REPS ? r->o->reps : MAX_REPS;
    double hinted[MAX_REPS], full[MAX_REPS];
    for (uint32_t rep = 0; rep < reps && n; rep++) {
        const uint32_t loops = 10;
        uint64_t t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++)
            for (uint32_t i = 0; i < n; i++) {
                (void)ai_snapshot_fill(ai, who[i], &where[i], NULL, &state[i], 0.0, 0, true, &reach[i], &snap);
                contacts += snap.ally_count + snap.enemy_count;
            }
        hinted[rep] = (double)(aw_time_ns() - t0) / ((double)loops * n);
        t0 = aw_time_ns();
        for (uint32_t l = 0; l < loops; l++)
            for (uint32_t i = 0; i < n; i++) {
                (void)ai_snapshot_fill(ai, who[i], &where[i], NULL, &state[i], 0.0, 0, true, NULL, &snap);
                contacts += snap.ally_count + snap.enemy_count;
            }
        full[rep] = (double)(aw_time_ns() - t0) / ((double)loops * n);
    }
    sink += contacts;
    if (r->o->verbose) fprintf(stderr, "plan snapshot: %u agents, %llu contacts\n", n, (unsigned long long)contacts);
    if (n) add(r, "plan_snapshot_ns", "ns", hinted, reps, full, reps, 0);
    aw_world_destroy(f.world);
}

/* Perception's look: the nearest enemy of each of 1,024 agents of a 20,000-agent field, in order
 * along z as the perception system orders its looks, the walk bounded by the distance to the enemy
 * the previous look found plus 1 m (a first pass finds it). Baseline: the same looks at the full
 * perception radius. */
typedef struct looker {
    aw_position where;
    aw_entity who;
    uint32_t enemies;
    float radius, bound;
} looker;

static int by_z(const void *a, const void *b) {
    float za = ((const looker *)a)->where.z, zb = ((const looker *)b)->where.z;
    return (za > zb) - (za < zb);
}

static void bench_perception_look(run *r) {
    if (!aw_bench_selected(r->o, "perception_look_ns")) return;
    uint32_t agents = r->o->entities < 20000u ? r->o->entities : 20000u;
    field f;
    aw_status st = field_make(&f, agents, r->o->seed, 1);
    if (st) {
        fprintf(stderr, "ai: perception look setup: %s\n", aw_last_error());
        aw_bench_report_fail(r->report);
        aw_world_destroy(f.world);
        return;
    }
    enum { AGENTS = 1024 };
    static looker l[AGENTS];
    static aw_entity who[AGENTS];
    static aw_position where[AGENTS];
    static aw_ai_agent state[AGENTS];
    uint32_t n = sample_agents(&f, who, where, state, AGENTS), all = 0;
    for (uint32_t i = 0; i < AW_AI_MAX_TEAMS; i++) all |= AW_AI_TEAM_LAYER(i);
    for (uint32_t i = 0; i < n; i++)
        l[i] = (looker){.where = where[i],
                        .who = who[i],
                        .enemies = all & ~AW_AI_TEAM_LAYER(state[i].team),
                        .radius = ai_type_of(f.ai, state[i].agent_type)->perception_radius};
    qsort(l, n, sizeof l[0], by_z);
    uint64_t found = 0;
    for (uint32_t i = 0; i < n; i++) { /* the previous look: the timed walks' bound */
        aw_physics_hit hit;
        aw_physics_nearest_set set = {.mask = l[i].enemies, .k = 1, .out = &hit};
        aw_spatial_filter lf = {.exclude = &l[i].who, .exclude_count = 1};
        aw_physics_query_nearest_sets(f.physics, l[i].where, l[i].radius, &lf, &set, 1);
        l[i].bound = set.count ? hit.distance + 1.0f : l[i].radius;
    }
    uint32_t reps = r->o->reps < MAX_REPS ? r->o->reps : MAX_REPS;
    double bounded[MAX_REPS], full[MAX_REPS];
    for (uint32_t rep = 0; rep < reps && n; rep++)
        for (int bound = 1; bound >= 0; bound--) {
            const uint32_t loops = 20;
            uint64_t t0 = aw_time_ns();
            for (uint32_t k = 0; k < loops; k++)
                for (uint32_t i = 0; i < n; i++) {
                    aw_physics_hit hit;
                    aw_physics_nearest_set set = {.mask = l[i].enemies, .k = 1, .out = &hit};
                    aw_spatial_filter lf = {.exclude = &l[i].who, .exclude_count = 1};
                    float reach = bound && l[i].bound < l[i].radius ? l[i].bound : l[i].radius;
                    aw_physics_query_nearest_sets(f.physics, l[i].where, reach, &lf, &set, 1);
                    found += set.count;
                }
            (bound ? bounded : full)[rep] = (double)(aw_time_ns() - t0) / ((double)loops * n);
        }
    sink += found;
    if (r->o->verbose)
        fprintf(stderr, "perception look: %u agents, %llu found\n", n, (unsigned long long)found);
    if (n) add(r, "perception_look_ns", "ns", bounded, reps, full, reps, 0);
    aw_world_destroy(f.world);
}

/* The loop: ai_perception, ai_planning, ai_action, ai_projectiles, ai_effects on one thread, agents
 * standing where they are (no physics system: its cost is the collision suite's). */
static void bench_agent_loop(run *r) {
    if (!aw_bench_selected(r->o, "agent_loop_ns")) return;
    uint32_t agents = r->o->entities < 20000u ? r->o->entities : 20000u;
    field f;
    aw_status st = field_make(&f, agents, r->o->seed, 1);
    if (!st) st = aw_ai_register_systems(f.ai);
    if (st) {
        fprintf(stderr, "ai: agent loop setup: %s\n", aw_last_error());
        aw_bench_report_fail(r->report);
        aw_world_destroy(f.world);
        return;
    }
    for (int i = 0; i < 90; i++) aw_world_progress(f.world, 1.0f / 60.0f); /* warm up: plans made, caches full */
    uint32_t reps = r->o->reps < MAX_REPS ? r->o->reps : MAX_REPS;
    double samples[MAX_REPS];
    const uint32_t frames = 60;
    for (uint32_t rep = 0; rep < reps; rep++) {
        uint64_t t0 = aw_time_ns();
        for (uint32_t i = 0; i < frames; i++) aw_world_progress(f.world, 1.0f / 60.0f);
        samples[rep] = (double)(aw_time_ns() - t0) / ((double)frames * agents);
    }
    if (r->o->verbose) {
        aw_ai_stats a = aw_ai_get_stats(f.ai);
        aw_physics_stats ps = aw_physics_get_stats(f.physics);
        fprintf(stderr, "agent loop: %u agents, %llu plans, %llu steps; grid %ux%u cells of %.1f m\n", agents,
                (unsigned long long)a.plans, (unsigned long long)a.steps_run, ps.grid_width, ps.grid_height,
                (double)ps.cell_size);
    }
    add(r, "agent_loop_ns", "ns/agent", samples, reps, NULL, 0, 150.0);
    aw_world_destroy(f.world);
}

aw_status aw_bench_ai_run(const aw_bench_options *options, aw_bench_report *report) {
    aw_bench_options o = aw_bench_options_resolve(options);
    run r = {.o = &o, .report = report};
    static const goap_case cases10[] = {
        {0, B(F_DOWN)},                                 /* scan, approach, reload? no reserve: none */
        {B(F_RESERVE), B(F_DOWN)},                      /* scan, approach, reload, attack */
        {B(F_RESERVE) | B(F_LOW_HP) | B(F_MEDKIT), B(F_DOWN) | B(F_MARKED)},
        {B(F_AMMO) | B(F_VISIBLE), B(F_DOWN) | B(F_SAFE)},
    };
    static const goap_case cases20[] = {
        {0, B(F_SECURED)},
        {B(F_RESERVE), B(F_SECURED) | B(F_INTEL)},
        {B(F_VISIBLE), B(F_DOWN) | B(F_MARKED) | B(F_SQUAD)},
        {B(F_LOW_HP), B(F_SECURED) | B(F_SAFE)},
    };
    bench_goap(&r, "goap_10_actions_us", 10, cases10, 4, 10.0);
    bench_goap(&r, "goap_20_actions_us", 20, cases20, 4, 100.0);
    if (!r.status && (aw_bench_selected(&o, "bt_tick_ns") || aw_bench_selected(&o, "utility_select_ns"))) {
        field f;
        aw_status st = field_make(&f, 16, o.seed, 1);
        if (!st) bench_trees_and_utility(&r, f.ai);
        else aw_bench_report_fail(report);
        aw_world_destroy(f.world);
    }
    if (!r.status) bench_validate(&r);
    if (!r.status) bench_plan_snapshot(&r);
    if (!r.status) bench_perception_look(&r);
    if (!r.status) bench_agent_loop(&r);
    if (!r.status) r.status = aw_bench_ai_llm_run(&o, report); /* the LLM orchestrator: bench_llm.c */
    return r.status;
}
