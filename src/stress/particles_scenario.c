/* The particles scenario: `entities` particles kept alive by fountains that ride on moving bodies,
 * colliding with the ground and the collision world's spheres, with bursts on every physics
 * contact (hits) and on each carrier's death and respawn. Counters: live, dead, emit rate, step time. */
#include "aw/particles.h"
#include "aw/physics.h"
#include "aw/stress.h"

#include <math.h>
#include <stdio.h>

#define CARRIERS      8u
#define OBSTACLES     64u
#define ORBIT         6.0f
#define STEP_DT       (1.0f / 60.0f)
#define MEAN_LIFETIME 4.0f
#define RESPAWN_EVERY 120u /* frames between a carrier's death and its replacement */

typedef struct particles_state {
    aw_particles *ps;
    aw_physics *physics;
    aw_physics_ids ids;
    aw_entity carriers[CARRIERS];
    aw_emitter fountains[CARRIERS];
    aw_emitter sparks; /* bursts at contacts */
    aw_event_cursor contacts;
    uint32_t entities;
    uint64_t frame;
    uint32_t contact_bursts;
} particles_state;

static aw_vec3 carrier_position(uint32_t k, uint64_t frame) {
    float a = (float)k * 6.2831853f / CARRIERS + (float)frame * 0.01f;
    return (aw_vec3){cosf(a) * ORBIT, 0.5f, sinf(a) * ORBIT};
}

static aw_status spawn_carrier(particles_state *s, aw_world *w, uint32_t k) {
    aw_entity e = aw_entity_create(w);
    if (!e) return aw_last_status();
    aw_vec3 p = carrier_position(k, s->frame);
    aw_status st = aw_entity_set(w, e, s->ids.position, &p, sizeof p);
    if (!st) st = AW_SET(w, e, s->ids.collider, aw_collider, {.radius = 0.5f});
    if (!st) st = AW_SET(w, e, s->ids.rigid_body, aw_rigid_body, {.inv_mass = 1.0f});
    if (st) return st;
    s->carriers[k] = e;
    float rate = (float)s->entities / MEAN_LIFETIME / CARRIERS;
    if (s->fountains[k]) aw_particles_emitter_destroy(s->ps, s->fountains[k]);
    return aw_particles_emitter_create(s->ps,
                                       &(aw_emitter_desc){.entity = e,
                                                          .offset = {0.0f, 0.6f, 0.0f},
                                                          .spread = 0.45f,
                                                          .speed_min = 5.0f,
                                                          .speed_max = 11.0f,
                                                          .lifetime_min = MEAN_LIFETIME * 0.5f,
                                                          .lifetime_max = MEAN_LIFETIME * 1.5f,
                                                          .rate = rate,
                                                          .burst = 2000,
                                                          .burst_on_death = true,
                                                          .color_start = {0.4f, 0.7f, 1.0f, 1.0f},
                                                          .color_end = {1.0f, 1.0f, 1.0f, 0.0f},
                                                          .size_start = 0.08f,
                                                          .size_end = 0.02f},
                                       &s->fountains[k]);
}

/* Carriers orbit; every RESPAWN_EVERY frames one dies (its fountain bursts) and a new one appears. */
static void carriers_move(aw_system_ctx *ctx) {
    particles_state *s = ctx->user;
    for (uint32_t k = 0; k < CARRIERS; k++) {
        aw_vec3 *p = aw_entity_get(ctx->world, s->carriers[k], s->ids.position);
        if (p) *p = carrier_position(k, s->frame);
    }
    if (s->frame % RESPAWN_EVERY == RESPAWN_EVERY - 1u) {
        uint32_t k = (uint32_t)(s->frame / RESPAWN_EVERY) % CARRIERS;
        aw_cmd_destroy(ctx->commands, s->carriers[k]);
    }
}

/* Presentation: follow the carriers (and notice deaths), collide with the world's spheres, spark
 * at contacts, step. */
static void particles_system(aw_system_ctx *ctx) {
    particles_state *s = ctx->user;
    aw_world *w = ctx->world;
    aw_particles_follow(s->ps, w);
    for (uint32_t k = 0; k < CARRIERS; k++)
        if (!aw_entity_alive(w, s->carriers[k]) && s->frame % RESPAWN_EVERY == 0) spawn_carrier(s, w, k);
    aw_particles_gather_colliders(s->ps, w);
    uint32_t bursts = 0;
    aw_particles_burst_on_contacts(s->ps, w, s->sparks, &s->contacts, &bursts);
    s->contact_bursts = bursts;
    aw_particles_step(s->ps, STEP_DT);
    s->frame++;
}

static aw_status particles_setup(void *state, const aw_stress_setup *in) {
    particles_state *s = state;
    aw_world *w = in->world;
    s->entities = in->entities;
    s->ps = aw_particles_create(&(aw_particles_desc){.capacity = in->entities,
                                                     .jobs = aw_world_jobs(w),
                                                     .seed = in->seed,
                                                     .max_spheres = OBSTACLES + CARRIERS,
                                                     .allocator = aw_stress_module_allocator(in->ctx, "particles")});
    if (!s->ps) return aw_last_status();
    s->physics = aw_physics_create(w, &(aw_physics_desc){.min_x = -16, .min_z = -16, .max_x = 16, .max_z = 16,
                                                        .no_response = true,
                                                        .allocator = aw_stress_module_allocator(in->ctx, "physics")});
    if (!s->physics) return aw_last_status();
    s->ids = aw_physics_get_ids(s->physics);
    /* Obstacles: static spheres, half of them on the carriers' orbit so carriers hit them. */
    for (uint32_t i = 0; i < OBSTACLES; i++) {
        float a = (float)i * 6.2831853f / OBSTACLES, r = i % 2 ? ORBIT : 3.0f + (float)(i % 5) * 2.0f;
        aw_entity e = aw_entity_create(w);
        aw_vec3 p = {cosf(a) * r, 1.0f + (float)(i % 3), sinf(a) * r};
        if (!e || aw_entity_set(w, e, s->ids.position, &p, sizeof p) ||
            AW_SET(w, e, s->ids.collider, aw_collider, {.radius = 0.4f + 0.2f * (float)(i % 4)}))
            return aw_last_status();
    }
    for (uint32_t k = 0; k < CARRIERS; k++) {
        aw_status st = spawn_carrier(s, w, k);
        if (st) return st;
    }
    aw_status st = aw_particles_emitter_create(s->ps,
                                               &(aw_emitter_desc){.spread = 3.0f,
                                                                  .speed_min = 1.0f,
                                                                  .speed_max = 4.0f,
                                                                  .lifetime_min = 0.3f,
                                                                  .lifetime_max = 0.8f,
                                                                  .burst = 64,
                                                                  .color_start = {1.0f, 0.8f, 0.2f, 1.0f},
                                                                  .color_end = {1.0f, 0.1f, 0.0f, 0.0f}},
                                               &s->sparks);
    if (st) return st;
    aw_component position = s->ids.position, collider = s->ids.collider;
    if (!aw_system_register(w, &(aw_system_desc){.name = "carriers",
                                                 .phase = AW_PHASE_SIMULATION,
                                                 .writes = &position,
                                                 .write_count = 1,
                                                 .user = s,
                                                 .run = carriers_move}) ||
        !aw_physics_register_system(s->physics, NULL) ||
        !aw_system_register(w, &(aw_system_desc){.name = "particles",
                                                 .phase = AW_PHASE_PRESENTATION,
                                                 .query = {AW_TERMS(AW_READ(position), AW_READ(collider))},
                                                 .read_resources = &s->ids.resource,
                                                 .read_resource_count = 1,
                                                 .exclusive = true, /* spawns carriers back */
                                                 .user = s,
                                                 .run = particles_system}))
        return aw_last_status();
    return AW_OK;
}

static uint32_t particles_counters(void *state, aw_world *world, aw_stress_counter *out, uint32_t max) {
    particles_state *s = state;
    aw_particles_stats ps = aw_particles_get_stats(s->ps);
    const struct {
        const char *name;
        double value;
    } values[] = {
        {"particles.live", (double)ps.live},
        {"particles.dead", (double)ps.dead},
        {"particles.emit_rate", ps.emit_rate},
        {"particles.emitted", (double)ps.emitted},
        {"particles.died", (double)ps.died},
        {"particles.step_ms", (double)ps.step_ns * 1e-6},
        {"particles.spheres", (double)ps.spheres},
        {"particles.contact_bursts", (double)s->contact_bursts},
        {"entities", (double)aw_world_entity_count(world)},
    };
    uint32_t n = 0;
    for (; n < max && n < sizeof values / sizeof values[0]; n++) {
        snprintf(out[n].name, sizeof out[n].name, "%s", values[n].name);
        out[n].value = values[n].value;
    }
    return n;
}

static void particles_teardown(void *state, aw_world *world) {
    (void)world;
    particles_state *s = state;
    aw_particles_destroy(s->ps);
    s->ps = NULL;
}

const aw_stress_scenario aw_stress_particles = {
    .name = "particles",
    .description = "N particles from fountains riding on orbiting bodies: forces, ground and collider "
                   "spheres, bursts on contacts and on deaths (the GPU path is measured by aw-bench particles)",
    .state_size = sizeof(particles_state),
    .setup = particles_setup,
    .frame_counters = particles_counters,
    .teardown = particles_teardown,
};
