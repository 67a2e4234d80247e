/* Links to the rest of the engine, read through public APIs only: the collision world's colliders
 * as spheres (an ECS query), emitters that follow entities, and bursts on physics contacts. */
#include "particles/particles_internal.h"

/* The query over the physics components, made once per world (queries belong to the world). */
static aw_status collider_query(aw_particles *ps, aw_world *world, aw_query **out) {
    if (ps->collider_query && ps->collider_world == world) {
        *out = ps->collider_query;
        return AW_OK;
    }
    aw_component position = aw_component_lookup(world, AW_PHYSICS_POSITION_NAME);
    aw_component collider = aw_component_lookup(world, AW_PHYSICS_COLLIDER_NAME);
    if (!position || !collider) {
        aw_clear_error();
        *out = NULL; /* no colliders in this world yet */
        return AW_OK;
    }
    aw_query *q = aw_query_create(world, &(aw_query_desc){AW_TERMS(AW_READ(position), AW_READ(collider))});
    if (!q) return aw_last_status();
    if (ps->collider_query) aw_query_destroy(ps->collider_query);
    ps->collider_query = q;
    ps->collider_world = world;
    *out = q;
    return AW_OK;
}

aw_status aw_particles_gather_colliders(aw_particles *ps, aw_world *world) {
    if (!ps || !world) return aw_error(AW_ERR_INVALID_ARG, "particles: system and world are required");
    aw_query *q = NULL;
    aw_status st = collider_query(ps, world, &q);
    if (st) return st;
    uint32_t n = 0, dropped = 0;
    if (q) {
        aw_iter it = aw_query_iter(q);
        while (aw_iter_next(&it)) {
            const aw_position *p = AW_COLUMN(&it, aw_position, 0);
            const aw_collider *c = AW_COLUMN(&it, aw_collider, 1);
            for (uint32_t i = 0; i < it.count; i++) {
                if (c[i].flags & (AW_COLLIDER_SENSOR | AW_COLLIDER_DISABLED)) continue;
                if (!(c[i].radius > 0.0f) || !isfinite(c[i].radius) || !particles_finite3(p[i])) continue;
                if (n == ps->max_spheres) {
                    dropped++;
                    continue;
                }
                ps->spheres[n++] = (aw_particle_sphere){.center = p[i], .radius = c[i].radius};
            }
        }
    }
    ps->sphere_count = n;
    ps->spheres_dropped = dropped;
    return AW_OK;
}

aw_status aw_particles_follow(aw_particles *ps, aw_world *world) {
    if (!ps || !world) return aw_error(AW_ERR_INVALID_ARG, "particles: system and world are required");
    aw_component position = aw_component_lookup(world, AW_PHYSICS_POSITION_NAME);
    uint32_t lost_bursts = 0;
    for (uint32_t slot = 0; slot < ps->max_emitters; slot++) {
        emitter_slot *e = &ps->emitters[slot];
        if (!e->used || e->desc.entity == AW_ENTITY_NULL) continue;
        const aw_position *p = position ? aw_entity_get_const(world, e->desc.entity, position) : NULL;
        if (p) {
            e->desc.position = (aw_vec3){p->x + e->desc.offset.x, p->y + e->desc.offset.y, p->z + e->desc.offset.z};
            continue;
        }
        /* The entity is gone (or lost its Position): a death. */
        if (e->desc.burst_on_death && e->desc.burst) {
            if (ps->burst_count < ps->max_bursts)
                ps->bursts[ps->burst_count++] =
                    (burst_request){.emitter = slot, .count = e->desc.burst, .at = e->desc.position};
            else
                lost_bursts++;
        }
        e->desc.entity = AW_ENTITY_NULL;
        e->active = false;
    }
    aw_clear_error(); /* lookups of dead entities are expected here */
    if (lost_bursts)
        return aw_error(AW_ERR_CAPACITY, "particles: the burst queue is full (%u): %u death bursts lost",
                        ps->max_bursts, lost_bursts);
    return AW_OK;
}

aw_status aw_particles_burst_on_contacts(aw_particles *ps, aw_world *world, aw_emitter emitter,
                                         aw_event_cursor *cursor, uint32_t *out_bursts) {
    if (out_bursts) *out_bursts = 0;
    if (!ps || !world || !cursor) return aw_error(AW_ERR_INVALID_ARG, "particles: system, world and cursor are required");
    aw_physics *physics = aw_physics_get(world);
    if (!physics) return aw_error(AW_ERR_NOT_FOUND, "particles: the world has no physics (no contact events)");
    aw_physics_ids ids = aw_physics_get_ids(physics);
    const aw_contact *c;
    uint32_t bursts = 0;
    while ((c = aw_event_read(world, ids.contact_event, cursor)) != NULL) {
        const aw_position *a = aw_entity_get_const(world, c->a, ids.position);
        const aw_position *b = aw_entity_get_const(world, c->b, ids.position);
        if (!a || !b) continue;
        aw_vec3 at = {(a->x + b->x) * 0.5f, (a->y + b->y) * 0.5f, (a->z + b->z) * 0.5f};
        aw_status st = aw_particles_burst(ps, emitter, 0, &at);
        if (st) {
            if (out_bursts) *out_bursts = bursts;
            return st;
        }
        bursts++;
    }
    aw_clear_error();
    if (out_bursts) *out_bursts = bursts;
    return AW_OK;
}
