/* AstraWeave physics: sphere colliders on a flat uniform grid over the ground plane (x, z),
 * rebuilt in place every step; narrowphase, positional response, contact events, and
 * spatial queries (radius, AABB, k-nearest, ray) that AI perception shares with collision. */
#ifndef AW_PHYSICS_H
#define AW_PHYSICS_H

#include "aw/core.h"
#include "aw/ecs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- components */

/* The components physics reads and writes, registered under these names (or looked up if the
 * world already has them; their sizes must match). y is height: the grid spans x and z, while
 * every distance test is full 3D. */
#define AW_PHYSICS_POSITION_NAME "Position"
#define AW_PHYSICS_VELOCITY_NAME "Velocity"
#define AW_PHYSICS_COLLIDER_NAME "Collider"
#define AW_PHYSICS_RIGID_BODY_NAME "RigidBody"
#define AW_PHYSICS_CONTACT_EVENT_NAME "aw_contact"
#define AW_PHYSICS_RESOURCE_NAME "aw_physics"

typedef struct aw_vec3 {
    float x, y, z;
} aw_vec3;

typedef aw_vec3 aw_position; /* "Position", 12 bytes */
typedef aw_vec3 aw_velocity; /* "Velocity", 12 bytes; optional: without it a body only gets pushed */

/* Collider flags. */
#define AW_COLLIDER_SENSOR 0x1u   /* reports contacts, never pushed and never pushes */
#define AW_COLLIDER_DISABLED 0x2u /* ignored by pairs and queries */

/* "Collider": a sphere. Two colliders pair when (a.layer & b.mask) and (b.layer & a.mask) are
 * both non-zero, after the zero defaults below are applied. An entity with a Collider and no
 * RigidBody (or inv_mass 0) is static: infinite mass, never moved by physics. */
typedef struct aw_collider {
    float radius;   /* 0 ... AW_PHYSICS_MAX_RADIUS; others (negative, NaN, larger) are skipped and counted */
    uint32_t layer; /* category bits; 0 means AW_LAYER_DEFAULT */
    uint32_t mask;  /* categories this collider meets; 0 means all */
    uint32_t flags; /* AW_COLLIDER_* */
} aw_collider;
#define AW_LAYER_DEFAULT 0x1u

/* Limits on finite values, so that a step's arithmetic stays finite: two radii's sum squared, and
 * the impulse of two opposite velocities. Colliders beyond them are skipped like non-finite ones. */
#define AW_PHYSICS_MAX_RADIUS 1e18f /* collider radius */
#define AW_PHYSICS_MAX_SPEED  1e18f /* each velocity component's magnitude, where the step uses it */

/* "RigidBody": what the response needs. inv_mass 0 makes the body static (infinite mass). */
typedef struct aw_rigid_body {
    float inv_mass;    /* 1 / mass, >= 0 and finite */
    float restitution; /* 0: inelastic ... 1: elastic (others skip the body); a pair uses the larger */
} aw_rigid_body;

/* A contact: a and b overlap (3D distance < radius sum). a < b by entity id; normal is the unit
 * vector from a's centre to b's (+x when the centres coincide); depth = radius sum - distance. */
typedef struct aw_contact {
    aw_entity a, b;
    aw_vec3 normal;
    float depth;
} aw_contact;

/* An axis-aligned box (min <= max on every axis). */
typedef struct aw_aabb {
    aw_vec3 min, max;
} aw_aabb;

/* ---------------------------------------------------------------- the physics context */

typedef struct aw_physics aw_physics;

typedef struct aw_physics_desc {
    /* World bounds on the ground plane. Entities outside are kept in the border cells (found,
     * never lost, just slower if many). Both zero: [-512, 512] on x and z. */
    float min_x, min_z, max_x, max_z;
    /* Cell edge length. 0: chosen each step as twice the radius that all but a few colliders
     * fit in (those larger go to a separate list and are tested against the grid cells they
     * cover), and no smaller than about one collider per cell over the bounds. A set cell size
     * is raised if the grid would exceed max_cells. */
    float cell_size;
    uint32_t max_cells;           /* 0: 4M cells (16 MiB of cell offsets) */
    uint32_t max_contacts;        /* contacts kept per step (0: unlimited); extra ones are counted */
    float correction;             /* fraction of the depth removed per step, 0: 1.0 (all of it) */
    float slop;                   /* depth left uncorrected to avoid jitter, 0: none */
    uint32_t iterations;          /* response passes over the contacts, 0: 1 */
    bool integrate;               /* also do position += velocity * dt before collision */
    bool no_response;             /* find contacts only; never move anything */
    bool no_events;               /* do not send "aw_contact" events */
    bool single_threaded;         /* never use the world's job system */
    /* Split every step over the job system. By default a world of up to 65,536 colliders times
     * its steps both ways now and then (8 steps each way, every 1,024) and keeps the faster:
     * where handing data to another core is dear (a virtual machine's vCPUs far apart), a small
     * step runs 2x faster on the caller alone; where it is cheap, split. Same results either way. */
    bool always_parallel;
    bool scalar_only;             /* never use the SIMD pair test (same results; for tests and comparisons) */
    /* Component ids to use instead of the well-known names (0: look up or register by name). */
    aw_component position, velocity, collider, rigid_body;
    const aw_allocator *allocator; /* NULL: aw_heap_allocator() */
} aw_physics_desc;

/* Creates the world's physics context, which the world owns (as the resource "aw_physics"):
 * it is freed with the world. Registers or looks up the components, and registers the
 * "aw_contact" event (one aw_contact per contact, sent in contact order each step).
 * NULL with aw_last_error() set on bad input; AW_ERR_ALREADY_PRESENT if the world has one. */
aw_physics *aw_physics_create(aw_world *world, const aw_physics_desc *desc);
/* The world's physics context, or NULL. Inside a system, declare the resource (debug builds
 * check it). */
aw_physics *aw_physics_get(const aw_world *world);

typedef struct aw_physics_ids {
    aw_component position, velocity, collider, rigid_body;
    aw_event_type contact_event;
    aw_resource resource; /* the "aw_physics" resource: readers of queries declare it as read */
} aw_physics_ids;
aw_physics_ids aw_physics_get_ids(const aw_physics *physics);

/* Registers the "physics" system in AW_PHASE_PHYSICS (desc may be NULL; name, phase, after,
 * before and user-visible fields other than callbacks and access may be overridden there).
 * It writes Position, Velocity and the physics resource and reads Collider and RigidBody, so
 * systems that query physics or read contact events with the resource declared as read
 * never overlap it. */
aw_system *aw_physics_register_system(aw_physics *physics, const aw_system_desc *overrides);

/* One step without the scheduler: [integrate,] gather, rebuild the grid, find pairs,
 * narrowphase, respond, write back, send events. Makes no structural change, so it may run
 * inside a system; nothing else may write Position, Velocity, Collider or RigidBody meanwhile.
 * Returns AW_OK, or AW_ERR_INVALID_ARG after a completed step in which some colliders were
 * skipped (non-finite position, a radius outside 0 ... AW_PHYSICS_MAX_RADIUS, or, where the step
 * uses them (with integrate or a response), a velocity component beyond AW_PHYSICS_MAX_SPEED, a
 * negative or non-finite inverse mass or a restitution outside 0 ... 1: see the stats; they are
 * left out, never inserted), or, after a completed step, the failure of sending its contact events
 * (out of memory: the message says how many were not sent), or a failure
 * (out of memory: no response applied). */
aw_status aw_physics_step(aw_physics *physics, float dt);

/* Contacts of the last step, in deterministic order (the same for any thread count). Valid
 * until the next step. */
const aw_contact *aw_physics_contacts(const aw_physics *physics, uint32_t *count);

typedef struct aw_physics_stats {
    uint32_t colliders;      /* valid colliders in the grid (small and large) */
    uint32_t large;          /* colliders too big for a cell, kept in the separate list */
    uint32_t outside;        /* colliders outside the bounds (kept in border cells) */
    uint32_t skipped;        /* colliders refused this step (see aw_physics_step) */
    aw_entity first_skipped; /* one of them, for the log */
    uint32_t grid_width, grid_height;
    float cell_size;
    uint64_t pair_tests;     /* narrowphase distance tests */
    uint32_t contacts;       /* contacts found (including dropped ones) */
    uint32_t dropped;        /* contacts beyond max_contacts */
    uint64_t step_ns, gather_ns, grid_ns, pairs_ns, response_ns; /* last step's times */
    bool on_caller;          /* the last step ran on the calling thread alone */
    uint64_t steps;
} aw_physics_stats;
aw_physics_stats aw_physics_get_stats(const aw_physics *physics);

/* ---------------------------------------------------------------- spatial queries */

/* Queries read the grid of the last step (with the positions after its response); they are
 * const and thread-safe with each other, but must not overlap a step. They allocate nothing. */

#define AW_QUERY_CENTERS 0x1u       /* radius/aabb: test collider centres, not their spheres */
#define AW_RAY_SKIP_ENTITIES 0x2u   /* raycast: test obstacle boxes only */
#define AW_RAY_SKIP_OBSTACLES 0x4u  /* raycast: test colliders only */

typedef struct aw_spatial_filter {
    uint32_t mask;            /* layers to report (against collider.layer), 0: all */
    const aw_entity *exclude; /* entities never reported (for example the asker and its target) */
    uint32_t exclude_count;
    uint32_t flags;           /* AW_QUERY_CENTERS, AW_RAY_* */
} aw_spatial_filter;

/* Colliders whose sphere (or centre, with AW_QUERY_CENTERS) is within `radius` of `center`
 * (3D). Writes up to `capacity` entities to out (deterministic order) and the number of matches
 * to *out_count (which may exceed capacity). filter may be NULL. */
aw_status aw_physics_query_radius(const aw_physics *physics, aw_vec3 center, float radius,
                                  const aw_spatial_filter *filter, aw_entity *out, uint32_t capacity,
                                  uint32_t *out_count);
/* Colliders whose sphere (or centre) overlaps the box. */
aw_status aw_physics_query_aabb(const aw_physics *physics, aw_aabb box, const aw_spatial_filter *filter,
                                aw_entity *out, uint32_t capacity, uint32_t *out_count);

typedef struct aw_physics_hit {
    aw_entity entity;
    float distance; /* centre-to-centre 3D distance */
} aw_physics_hit;
/* The k colliders nearest to `point` by centre distance (ties by entity id), closest first, at
 * most max_distance away (0: any). Writes *out_count <= k. */
aw_status aw_physics_query_nearest(const aw_physics *physics, aw_vec3 point, uint32_t k, float max_distance,
                                   const aw_spatial_filter *filter, aw_physics_hit *out, uint32_t *out_count);

/* k-nearest into up to AW_PHYSICS_MAX_NEAREST_SETS layer sets in one walk of the grid (for
 * example a team's allies and its enemies): each set gets the colliders whose layer meets its mask
 * (0: any), at most k of them, closest first by centre distance (ties by entity id), at most
 * max_distance away (0: any); the filter's exclusions apply to every set. With a filter mask, a
 * collider is considered only when its layer meets the filter's mask intersected with the union of
 * the sets' masks (every layer for a set with mask 0), and then goes to each set whose mask it
 * meets; for colliders of one layer bit that is "meets both masks". With no filter mask, each
 * set's result is what aw_physics_query_nearest with the set's mask as the filter's would return.
 * A set with k 0 is off. */
#define AW_PHYSICS_MAX_NEAREST_SETS 4u
typedef struct aw_physics_nearest_set {
    uint32_t mask;       /* layers this set takes (0: any) */
    uint32_t k;          /* at most this many (0: the set is off) */
    aw_physics_hit *out; /* k entries */
    uint32_t count;      /* written: how many were found */
} aw_physics_nearest_set;
aw_status aw_physics_query_nearest_sets(const aw_physics *physics, aw_vec3 point, float max_distance,
                                        const aw_spatial_filter *filter, aw_physics_nearest_set *sets,
                                        uint32_t set_count);

typedef struct aw_ray_hit {
    aw_entity entity;   /* the collider hit, or AW_ENTITY_NULL for an obstacle box */
    int32_t obstacle;   /* index of the obstacle box hit, or -1 */
    float fraction;     /* along the segment, [0, 1] */
    aw_vec3 point, normal;
} aw_ray_hit;
/* First hit along the segment from -> to (a start inside a sphere or box hits at fraction 0).
 * *hit is written only on a hit; returns true on a hit. filter may be NULL. */
bool aw_physics_raycast(const aw_physics *physics, aw_vec3 from, aw_vec3 to, const aw_spatial_filter *filter,
                        aw_ray_hit *hit);
/* True when nothing (collider not excluded, or obstacle) blocks the segment: AI line of sight. */
bool aw_physics_line_of_sight(const aw_physics *physics, aw_vec3 from, aw_vec3 to, const aw_spatial_filter *filter);

/* Static obstacle boxes for raycasts (level geometry). Copied; count 0 clears them. Allocates,
 * so call it on level load, not every frame. Not while queries run. */
aw_status aw_physics_set_obstacles(aw_physics *physics, const aw_aabb *boxes, uint32_t count);

#ifdef __cplusplus
}
#endif

#endif /* AW_PHYSICS_H */
