/* The physics context and its step: gather colliders from ECS chunks, rebuild the grid, find
 * contacts, apply the mass-weighted response in a fixed order, write back, send events. */
#include "physics/physics_internal.h"

#include <math.h>
#include <string.h>

/* ---- helpers shared by the module */

void phys_parallel(aw_physics *p, uint32_t count, aw_range_fn fn, void *ctx) {
    if (!count) return;
    if (count == 1 || !p->jobs || aw_jobs_parallel_for(p->jobs, count, 1, fn, ctx) != AW_OK) fn(0, count, 0, ctx);
}

aw_status phys_reserve(aw_physics *p, void **ptr, size_t *capacity, size_t need, size_t size) {
    if (need <= *capacity) return AW_OK;
    size_t cap = need + need / 4 + 16;
    void *fresh = aw_realloc(p->alloc, *ptr, *capacity * size, cap * size, 64);
    if (!fresh) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_physics_step: out of memory (%zu bytes)", cap * size);
    *ptr = fresh;
    *capacity = cap;
    return AW_OK;
}

aw_status phys_reserve_u32(aw_physics *p, void **ptr, uint32_t *capacity, size_t need, size_t size) {
    size_t cap = *capacity;
    if (need > UINT32_MAX / 2) return aw_error(AW_ERR_CAPACITY, "aw_physics_step: %zu elements is too many", need);
    aw_status st = phys_reserve(p, ptr, &cap, need, size);
    if (!st) *capacity = (uint32_t)cap;
    return st;
}

static inline bool finite3(float a, float b, float c) {
    return isfinite(a) && isfinite(b) && isfinite(c);
}

/* ---- lifetime: the world owns the context through a resource whose dtor frees it */

static void physics_free(aw_physics *p) {
    const aw_allocator *a = p->alloc;
    size_t rc = p->row_cap;
    aw_free(a, p->chunks, (size_t)p->chunk_cap * sizeof(phys_chunk));
    aw_free(a, p->group_first, (size_t)p->group_cap * sizeof(uint32_t));
    aw_free(a, p->gather_out, (size_t)p->gather_out_cap * sizeof(phys_gather_out));
    uint32_t **u32[] = {&p->gkey, &p->gchunk, &p->order, &p->key, &p->outside};
    for (size_t i = 0; i < sizeof u32 / sizeof u32[0]; i++) aw_free(a, *u32[i], rc * 4);
    aw_free(a, p->grec, rc * sizeof(phys_body));
    aw_free(a, p->body, rc * sizeof(phys_body));
    aw_free(a, p->items_a, rc * 8);
    aw_free(a, p->hist, p->hist_cap * sizeof(uint32_t));
    aw_free(a, p->cell_start, p->cell_start_cap * sizeof(uint32_t));
    for (uint32_t t = 0; t < p->task_cap; t++) aw_free(a, p->tasks[t].pairs, (size_t)p->tasks[t].capacity * sizeof(phys_pair));
    aw_free(a, p->tasks, (size_t)p->task_cap * sizeof(phys_task));
    aw_free(a, p->contacts, (size_t)p->contact_cap * sizeof(aw_contact));
    aw_free(a, p->touched, (size_t)p->touched_cap * sizeof(uint32_t));
    phys_obstacles_free(p);
    aw_free(a, p, sizeof *p);
}

static void physics_resource_dtor(void *ptr, uint32_t count, void *user) {
    (void)count;
    (void)user;
    aw_physics **slot = ptr;
    /* The world frees its queries before its resources: the query is gone, not ours to free. */
    if (*slot) physics_free(*slot);
    *slot = NULL;
}

static aw_component component_for(aw_world *w, aw_component given, const char *name, size_t size, size_t align) {
    if (given) {
        if (!aw_component_name(w, given)) {
            aw_error(AW_ERR_UNKNOWN_COMPONENT, "aw_physics_create: component %u for '%s' is not registered", given, name);
            return 0;
        }
        if (aw_component_size(w, given) != size) {
            aw_error(AW_ERR_SIZE_MISMATCH, "aw_physics_create: component %u for '%s' is %zu bytes, physics needs %zu",
                     given, name, aw_component_size(w, given), size);
            return 0;
        }
        return given;
    }
    aw_component c = aw_component_lookup(w, name);
    if (c) {
        if (aw_component_size(w, c) != size) {
            aw_error(AW_ERR_SIZE_MISMATCH, "aw_physics_create: '%s' is registered with %zu bytes, physics needs %zu", name,
                     aw_component_size(w, c), size);
            return 0;
        }
        return c;
    }
    return aw_component_register(w, &(aw_component_desc){.name = name, .size = size, .align = align});
}

static aw_status check_desc(const aw_physics_desc *d) {
    float v[] = {d->min_x, d->min_z, d->max_x, d->max_z, d->cell_size, d->correction, d->slop};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i])) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_create: desc has a non-finite value");
    if (!(d->max_x > d->min_x) || !(d->max_z > d->min_z))
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_create: bounds [%g, %g] x [%g, %g] are empty", d->min_x,
                        d->max_x, d->min_z, d->max_z);
    if (d->cell_size < 0 || d->correction < 0 || d->correction > 1 || d->slop < 0)
        return aw_error(AW_ERR_INVALID_ARG, "aw_physics_create: cell_size and slop must be >= 0, correction in [0, 1]");
    return AW_OK;
}

aw_physics *aw_physics_create(aw_world *world, const aw_physics_desc *desc) {
    if (!world) {
        aw_error(AW_ERR_INVALID_ARG, "aw_physics_create: world is NULL");
        return NULL;
    }
    aw_physics_desc d = desc ? *desc : (aw_physics_desc){0};
    if (d.min_x == 0 && d.max_x == 0 && d.min_z == 0 && d.max_z == 0) {
        d.min_x = d.min_z = -512.0f;
        d.max_x = d.max_z = 512.0f;
    }
    if (d.max_cells == 0 || d.max_cells > (1u << 26)) d.max_cells = d.max_cells ? 1u << 26 : 1u << 22;
    if (d.correction == 0) d.correction = 1.0f;
    if (d.iterations == 0) d.iterations = 1;
    if (check_desc(&d)) return NULL;
    if (aw_resource_lookup(world, AW_PHYSICS_RESOURCE_NAME)) {
        aw_error(AW_ERR_ALREADY_PRESENT, "aw_physics_create: the world already has a physics context");
        return NULL;
    }
    const aw_allocator *alloc = d.allocator ? d.allocator : aw_heap_allocator();
    aw_physics *p = aw_alloc(alloc, sizeof *p, _Alignof(aw_physics));
    if (!p) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_physics_create: out of memory");
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->world = world;
    p->alloc = alloc;
    p->desc = d;
    aw_physics_ids *ids = &p->ids;
    ids->position = component_for(world, d.position, AW_PHYSICS_POSITION_NAME, sizeof(aw_position), 4);
    if (ids->position)
        ids->velocity = component_for(world, d.velocity, AW_PHYSICS_VELOCITY_NAME, sizeof(aw_velocity), 4);
    if (ids->velocity)
        ids->collider = component_for(world, d.collider, AW_PHYSICS_COLLIDER_NAME, sizeof(aw_collider), 4);
    if (ids->collider)
        ids->rigid_body = component_for(world, d.rigid_body, AW_PHYSICS_RIGID_BODY_NAME, sizeof(aw_rigid_body), 4);
    if (ids->rigid_body)
        ids->contact_event = aw_event_register(world, &(aw_event_desc){.name = AW_PHYSICS_CONTACT_EVENT_NAME,
                                                                       .size = sizeof(aw_contact),
                                                                       .align = _Alignof(aw_contact)});
    if (ids->contact_event) {
        p->query = aw_query_create(world, &(aw_query_desc){AW_TERMS(
                                              AW_WRITE(ids->position), AW_READ(ids->collider),
                                              AW_OPTIONAL(ids->velocity, AW_ACCESS_READ),
                                              AW_OPTIONAL(ids->rigid_body, AW_ACCESS_READ))});
    }
    if (p->query)
        ids->resource = aw_resource_register(world, &(aw_resource_desc){.name = AW_PHYSICS_RESOURCE_NAME,
                                                                         .size = sizeof(aw_physics *),
                                                                         .align = _Alignof(aw_physics *),
                                                                         .initial = &p,
                                                                         .dtor = physics_resource_dtor});
    if (!ids->resource) {
        aw_status st = aw_last_status();
        if (p->query) aw_query_destroy(p->query);
        aw_free(alloc, p, sizeof *p);
        aw_error(st ? st : AW_ERR_OUT_OF_MEMORY, "aw_physics_create: %s", aw_last_error());
        return NULL;
    }
    if (!d.single_threaded) p->jobs = aw_world_jobs(world);
    return p;
}

aw_physics *aw_physics_get(const aw_world *world) {
    aw_resource r = aw_resource_lookup(world, AW_PHYSICS_RESOURCE_NAME);
    if (!r) return NULL;
    aw_physics **slot = aw_resource_get((aw_world *)world, r);
    return slot ? *slot : NULL;
}

aw_physics_ids aw_physics_get_ids(const aw_physics *p) {
    return p ? p->ids : (aw_physics_ids){0};
}

/* ---- the system */

static void physics_system_run(aw_system_ctx *ctx) {
    aw_physics *p = ctx->user;
    uint32_t before = p->stats.skipped;
    aw_status st = aw_physics_step(p, ctx->dt);
    /* A step that skipped bad colliders still ran; say so when the number changes, not every frame. */
    if (st != AW_OK && (st != AW_ERR_INVALID_ARG || p->stats.skipped != before)) AW_LOGW("physics: %s", aw_last_error());
}

aw_system *aw_physics_register_system(aw_physics *p, const aw_system_desc *overrides) {
    if (!p) {
        aw_error(AW_ERR_INVALID_ARG, "aw_physics_register_system: physics is NULL");
        return NULL;
    }
    aw_system_desc d = overrides ? *overrides : (aw_system_desc){0};
    aw_component writes[] = {p->ids.position, p->ids.velocity};
    aw_component reads[] = {p->ids.collider, p->ids.rigid_body};
    aw_resource res[] = {p->ids.resource};
    if (!d.name) d.name = "physics";
    if (!d.phase) d.phase = AW_PHASE_PHYSICS;
    d.query = (aw_query_desc){0};
    d.run = physics_system_run;
    d.each = NULL;
    d.reads = reads;
    d.read_count = 2;
    d.writes = writes;
    d.write_count = 2;
    d.read_resources = NULL;
    d.read_resource_count = 0;
    d.write_resources = res;
    d.write_resource_count = 1;
    d.user = p;
    return aw_system_register(p->world, &d);
}

/* ---- gather */

typedef struct gather_ctx {
    aw_physics *p;
    float dt;
    bool integrate, keyed; /* keyed: compute cell keys with the current grid */
} gather_ctx;

/* Binary exponent of r as a bucket (0 for r == 0), read from the bits: no libm call per row. */
static inline uint32_t radius_bucket(float r) {
    uint32_t bits;
    memcpy(&bits, &r, sizeof bits);
    int e = (int)((bits >> 23) & 0xffu) - 127 + 32;
    return bits == 0 ? 0u : (e < 1 ? 1u : (e >= (int)PHYS_RBUCKETS ? PHYS_RBUCKETS - 1 : (uint32_t)e));
}

static inline void key_row(const aw_physics *p, phys_gather_out *o, uint32_t row, const phys_body *b) {
    bool outside = false;
    uint32_t k = phys_row_key(p, b->x, b->z, b->r, &outside);
    p->gkey[row] = k;
    o->large += k == PHYS_KEY_LARGE;
    o->small += k != PHYS_KEY_LARGE;
    o->outside += outside;
}

static void gather_task(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const gather_ctx *c = arg;
    aw_physics *p = c->p;
    for (uint32_t g = begin; g < end; g++) {
        phys_gather_out *o = &p->gather_out[g];
        memset(o, 0, sizeof *o);
        for (uint32_t ci = p->group_first[g]; ci < p->group_first[g + 1]; ci++) {
            const phys_chunk ch = p->chunks[ci];
            /* Locals with restrict: the stores below cannot alias the chunk columns, and the
             * compiler may keep everything in registers across rows. */
            aw_position *restrict pos_col = ch.pos;
            const aw_collider *restrict col_col = ch.col;
            const aw_velocity *restrict vel_col = ch.vel;
            const aw_rigid_body *restrict rb_col = ch.rb;
            uint32_t *restrict gchunk = p->gchunk + ch.base, *restrict gkey = p->gkey + ch.base;
            phys_body *restrict grec = p->grec + ch.base;
            const bool keyed = c->keyed, integrate = c->integrate && vel_col;
            const float dt = c->dt;
            const float small_r_max = p->small_r_max;
            const double min_x = p->min_x, min_z = p->min_z, inv = p->inv_cell;
            const double fw = (double)p->width, fh = (double)p->height;
            const uint32_t width = p->width, height = p->height;
            uint32_t small = 0, large = 0, outside = 0;
            for (uint32_t k = 0; k < ch.count; k++) {
                gchunk[k] = ci;
                const aw_collider *cl = &col_col[k];
                aw_position pos = pos_col[k];
                const float r = cl->radius;
                /* x * 0 is 0 for finite x and NaN otherwise: one compare covers all four. */
                const float probe = (pos.x * 0.0f + pos.y * 0.0f) + (pos.z * 0.0f + r * 0.0f);
                bool ok = probe == 0.0f && r >= 0.0f && !(cl->flags & AW_COLLIDER_DISABLED);
                if (vel_col || rb_col) {
                    if (vel_col) ok = ok && finite3(vel_col[k].x, vel_col[k].y, vel_col[k].z);
                    if (rb_col)
                        ok = ok && isfinite(rb_col[k].inv_mass) && rb_col[k].inv_mass >= 0.0f &&
                             isfinite(rb_col[k].restitution);
                    if (ok && integrate) {
                        aw_position moved = {pos.x + vel_col[k].x * dt, pos.y + vel_col[k].y * dt,
                                             pos.z + vel_col[k].z * dt};
                        ok = finite3(moved.x, moved.y, moved.z);
                        if (ok) pos_col[k] = pos = moved;
                    }
                }
                if (AW_UNLIKELY(!ok)) {
                    /* Refused, never inserted: a NaN would poison cell keys and every distance. */
                    gkey[k] = PHYS_KEY_INVALID;
                    o->invalid++;
                    if (cl->flags & AW_COLLIDER_DISABLED) continue;
                    if (!o->skipped++) o->first_skipped = ch.ent[k];
                    continue;
                }
                grec[k] = (phys_body){.x = pos.x, .y = pos.y, .z = pos.z, .r = r,
                                      .layer = cl->layer ? cl->layer : AW_LAYER_DEFAULT,
                                      .mask = cl->mask ? cl->mask : UINT32_MAX, .ent = ch.ent[k]};
                uint32_t bk = radius_bucket(r);
                o->rcount[bk]++;
                if (r > o->rmax[bk]) o->rmax[bk] = r;
                if (!keyed) {
                    gkey[k] = 0; /* valid; the re-key pass sets the real key */
                    continue;
                }
                /* phys_row_key, inlined by hand to keep the counters in registers. */
                double u = ((double)pos.x - min_x) * inv, v = ((double)pos.z - min_z) * inv;
                uint32_t cx = u >= 0.0 && u < fw ? (uint32_t)u : (u >= 0.0 ? width - 1 : 0);
                uint32_t cy = v >= 0.0 && v < fh ? (uint32_t)v : (v >= 0.0 ? height - 1 : 0);
                outside += !(u >= 0.0 && u < fw && v >= 0.0 && v < fh);
                bool is_large = r > small_r_max;
                large += is_large;
                small += !is_large;
                gkey[k] = is_large ? PHYS_KEY_LARGE : cy * width + cx;
            }
            o->small += small;
            o->large += large;
            o->outside += outside;
        }
    }
}

/* Recomputes keys when the cell size chosen this step differs from the one gather predicted. */
static void rekey_task(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    aw_physics *p = ((const gather_ctx *)arg)->p;
    for (uint32_t g = begin; g < end; g++) {
        phys_gather_out *o = &p->gather_out[g];
        o->small = o->large = o->outside = 0;
        uint32_t b = p->chunks[p->group_first[g]].base;
        const phys_chunk *last = &p->chunks[p->group_first[g + 1] - 1];
        uint32_t e = last->base + last->count;
        for (uint32_t row = b; row < e; row++)
            if (p->gkey[row] != PHYS_KEY_INVALID) key_row(p, o, row, &p->grec[row]);
    }
}

static aw_status collect_chunks(aw_physics *p) {
    p->chunk_count = 0;
    p->group_count = 0;
    uint32_t rows = 0, group_rows = 0;
    aw_iter it = aw_query_iter(p->query);
    while (aw_iter_next(&it)) {
        if (p->chunk_count == p->chunk_cap &&
            phys_reserve_u32(p, (void **)&p->chunks, &p->chunk_cap, p->chunk_count + 1, sizeof(phys_chunk))) {
            aw_iter_fini(&it);
            return aw_last_status();
        }
        if ((p->chunk_count == 0 || group_rows >= PHYS_ROW_GRAIN)) {
            if (p->group_count + 2 > p->group_cap &&
                phys_reserve_u32(p, (void **)&p->group_first, &p->group_cap, p->group_count + 2, sizeof(uint32_t))) {
                aw_iter_fini(&it);
                return aw_last_status();
            }
            p->group_first[p->group_count++] = p->chunk_count;
            group_rows = 0;
        }
        p->chunks[p->chunk_count++] = (phys_chunk){
            .pos = it.columns[0], .col = it.columns[1], .vel = it.columns[2], .rb = it.columns[3],
            .ent = it.entities, .count = it.count, .base = rows};
        rows += it.count;
        group_rows += it.count;
    }
    if (p->group_count) p->group_first[p->group_count] = p->chunk_count;
    p->rows = rows;
    return phys_reserve_u32(p, (void **)&p->gather_out, &p->gather_out_cap, p->group_count + 1,
                            sizeof(phys_gather_out));
}

/* ---- contacts and response */

typedef struct contact_ctx {
    aw_physics *p;
    uint32_t keep;
} contact_ctx;

static void contact_task(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const contact_ctx *c = arg;
    aw_physics *p = c->p;
    for (uint32_t t = begin; t < end; t++) {
        const phys_task *k = &p->tasks[t];
        uint32_t off = k->offset;
        if (off >= c->keep) continue;
        uint32_t n = k->count < c->keep - off ? k->count : c->keep - off;
        for (uint32_t q = 0; q < n; q++) {
            const phys_pair *pr = &k->pairs[q];
            /* Normalise the raw hit here (pair finding stores offset and radius sum); d2 is
             * recomputed exactly as the test computed it. */
            float d2 = pr->dx * pr->dx + pr->dy * pr->dy + pr->dz * pr->dz;
            float d = sqrtf(d2), inv = d > 0.0f ? 1.0f / d : 0.0f;
            aw_vec3 nrm = {pr->dx * inv, pr->dy * inv, pr->dz * inv};
            float depth = pr->rsum - d;
            aw_entity a = p->body[pr->i].ent, b = p->body[pr->j].ent;
            if (a > b) {
                aw_entity s = a;
                a = b;
                b = s;
                nrm = (aw_vec3){-nrm.x, -nrm.y, -nrm.z};
            }
            if (nrm.x == 0.0f && nrm.y == 0.0f && nrm.z == 0.0f) nrm.x = 1.0f; /* coincident centres */
            p->contacts[off + q] = (aw_contact){.a = a, .b = b, .normal = nrm, .depth = depth};
        }
    }
}

typedef struct body {
    aw_velocity *vel;
    float w, e; /* inverse mass (0: immovable), restitution */
    bool sensor;
} body;

static inline body body_of(const aw_physics *p, uint32_t slot) {
    uint32_t row = p->order[slot];
    const phys_chunk *ch = &p->chunks[p->gchunk[row]];
    uint32_t k = row - ch->base;
    body b = {.vel = ch->vel ? &ch->vel[k] : NULL, .sensor = (ch->col[k].flags & AW_COLLIDER_SENSOR) != 0};
    if (ch->rb && !b.sensor) {
        b.w = ch->rb[k].inv_mass;
        b.e = ch->rb[k].restitution;
    }
    return b;
}

/* Sequential in contact order: a Gauss-Seidel pass whose result depends only on that order,
 * which is the same for every thread count. */
static void respond(aw_physics *p, uint32_t keep) {
    const float correction = p->desc.correction, slop = p->desc.slop;
    phys_body *B = p->body;
    p->touched_count = 0;
    for (uint32_t it = 0; it < p->desc.iterations; it++) {
        uint32_t left = keep;
        for (uint32_t t = 0; t < p->task_count && left; t++) {
            const phys_task *k = &p->tasks[t];
            uint32_t n = k->count < left ? k->count : left;
            left -= n;
            for (uint32_t q = 0; q < n; q++) {
                uint32_t i = k->pairs[q].i, j = k->pairs[q].j;
                body bi = body_of(p, i), bj = body_of(p, j);
                float wsum = bi.w + bj.w;
                if (bi.sensor || bj.sensor || !(wsum > 0.0f)) continue;
                float dx = B[j].x - B[i].x, dy = B[j].y - B[i].y, dz = B[j].z - B[i].z;
                float rs = B[i].r + B[j].r, d2 = dx * dx + dy * dy + dz * dz;
                if (!(d2 < rs * rs)) continue;
                float d = sqrtf(d2), nx, ny, nz;
                if (d > 0.0f) {
                    nx = dx / d;
                    ny = dy / d;
                    nz = dz / d;
                } else {
                    nx = B[i].ent < B[j].ent ? 1.0f : -1.0f; /* lower id to higher id is +x */
                    ny = nz = 0.0f;
                }
                float pen = rs - d - slop;
                if (pen > 0.0f) {
                    float corr = pen * correction / wsum, ci = corr * bi.w, cj = corr * bj.w;
                    B[i].x -= nx * ci;
                    B[i].y -= ny * ci;
                    B[i].z -= nz * ci;
                    B[j].x += nx * cj;
                    B[j].y += ny * cj;
                    B[j].z += nz * cj;
                }
                if (it == 0) {
                    aw_velocity vi = bi.vel ? *bi.vel : (aw_velocity){0}, vj = bj.vel ? *bj.vel : (aw_velocity){0};
                    float vn = (vj.x - vi.x) * nx + (vj.y - vi.y) * ny + (vj.z - vi.z) * nz;
                    if (vn < 0.0f) {
                        float e = bi.e > bj.e ? bi.e : bj.e;
                        float jimp = -(1.0f + e) * vn / wsum;
                        if (bi.vel && bi.w > 0.0f) {
                            bi.vel->x -= nx * jimp * bi.w;
                            bi.vel->y -= ny * jimp * bi.w;
                            bi.vel->z -= nz * jimp * bi.w;
                        }
                        if (bj.vel && bj.w > 0.0f) {
                            bj.vel->x += nx * jimp * bj.w;
                            bj.vel->y += ny * jimp * bj.w;
                            bj.vel->z += nz * jimp * bj.w;
                        }
                    }
                    if (bi.w > 0.0f) p->touched[p->touched_count++] = i;
                    if (bj.w > 0.0f) p->touched[p->touched_count++] = j;
                }
            }
        }
    }
    /* Write moved positions back; the first visit of a slot still sees its old ECS position,
     * which gives the displacement that queries must allow for until the next rebuild. */
    float margin = 0.0f;
    for (uint32_t q = 0; q < p->touched_count; q++) {
        uint32_t s = p->touched[q], row = p->order[s];
        const phys_chunk *ch = &p->chunks[p->gchunk[row]];
        aw_position *pos = &ch->pos[row - ch->base];
        float mx = fabsf(B[s].x - pos->x), mz = fabsf(B[s].z - pos->z);
        if (mx > margin) margin = mx;
        if (mz > margin) margin = mz;
        *pos = (aw_position){B[s].x, B[s].y, B[s].z};
    }
    p->margin = margin;
}

/* ---- the step */

aw_status aw_physics_step(aw_physics *p, float dt) {
    if (!p) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_step: physics is NULL");
    if (!isfinite(dt)) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_step: dt is not finite");
    uint64_t t0 = aw_time_ns();
    aw_physics_stats *s = &p->stats;
    uint64_t steps = s->steps;
    *s = (aw_physics_stats){.steps = steps + 1};
    p->contact_count = 0;
    p->task_count = 0;

    aw_status st = collect_chunks(p);
    if (!st) st = phys_grid_prepare(p, p->rows);
    if (st) {
        p->n_small = p->n_large = p->n_valid = p->n_outside = 0;
        return st;
    }
    /* Gather with keys for last step's grid; re-key only if this step's choice differs. */
    double cell = p->cell;
    uint32_t width = p->width, height = p->height;
    float small_r_max = p->small_r_max;
    gather_ctx gc = {.p = p, .dt = dt, .integrate = p->desc.integrate, .keyed = p->cells != 0};
    phys_parallel(p, p->group_count, gather_task, &gc);
    uint32_t rcount[PHYS_RBUCKETS] = {0};
    float rmax[PHYS_RBUCKETS] = {0};
    uint32_t valid = 0;
    for (uint32_t g = 0; g < p->group_count; g++) {
        const phys_gather_out *o = &p->gather_out[g];
        for (uint32_t b = 0; b < PHYS_RBUCKETS; b++) {
            rcount[b] += o->rcount[b];
            if (o->rmax[b] > rmax[b]) rmax[b] = o->rmax[b];
        }
        if (o->skipped && !s->skipped) s->first_skipped = o->first_skipped;
        s->skipped += o->skipped;
    }
    for (uint32_t b = 0; b < PHYS_RBUCKETS; b++) valid += rcount[b];
    phys_grid_choose_cell(p, rcount, rmax, valid);
    if (!gc.keyed || p->cell != cell || p->width != width || p->height != height || p->small_r_max != small_r_max)
        phys_parallel(p, p->group_count, rekey_task, &gc);
    uint32_t n_small = 0, n_large = 0;
    for (uint32_t g = 0; g < p->group_count; g++) {
        n_small += p->gather_out[g].small;
        n_large += p->gather_out[g].large;
        s->outside += p->gather_out[g].outside;
    }
    uint64_t t1 = aw_time_ns();

    st = phys_grid_build(p, n_small, n_large);
    uint64_t t2 = aw_time_ns();
    if (!st) st = phys_find_pairs(p);
    if (st) {
        p->task_count = 0;
        return st;
    }
    uint64_t total = 0, tests = 0;
    for (uint32_t t = 0; t < p->task_count; t++) {
        p->tasks[t].offset = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
        total += p->tasks[t].count;
        tests += p->tasks[t].tests;
    }
    uint32_t keep = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
    if (p->desc.max_contacts && keep > p->desc.max_contacts) keep = p->desc.max_contacts;
    if (phys_reserve_u32(p, (void **)&p->contacts, &p->contact_cap, keep, sizeof(aw_contact)) ||
        (!p->desc.no_response &&
         phys_reserve_u32(p, (void **)&p->touched, &p->touched_cap, (size_t)keep * 2, sizeof(uint32_t)))) {
        p->task_count = 0;
        return aw_last_status();
    }
    contact_ctx cc = {.p = p, .keep = keep};
    phys_parallel(p, p->task_count, contact_task, &cc);
    p->contact_count = keep;
    uint64_t t3 = aw_time_ns();

    if (!p->desc.no_response && keep) respond(p, keep);
    if (!p->desc.no_events)
        for (uint32_t i = 0; i < keep; i++)
            aw_event_send(p->world, p->ids.contact_event, &p->contacts[i], sizeof(aw_contact));
    uint64_t t4 = aw_time_ns();

    s->colliders = p->n_valid;
    s->large = p->n_large;
    s->grid_width = p->width;
    s->grid_height = p->height;
    s->cell_size = (float)p->cell;
    s->pair_tests = tests;
    s->contacts = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
    s->dropped = s->contacts - keep;
    s->gather_ns = t1 - t0;
    s->grid_ns = t2 - t1;
    s->pairs_ns = t3 - t2;
    s->response_ns = t4 - t3;
    s->step_ns = t4 - t0;
    if (s->skipped)
        return aw_error(AW_ERR_INVALID_ARG,
                        "aw_physics_step: %u collider(s) skipped (non-finite position, velocity or body, or negative "
                        "radius), first entity 0x%llx",
                        s->skipped, (unsigned long long)s->first_skipped);
    return AW_OK;
}

const aw_contact *aw_physics_contacts(const aw_physics *p, uint32_t *count) {
    if (count) *count = p ? p->contact_count : 0;
    return p ? p->contacts : NULL;
}

aw_physics_stats aw_physics_get_stats(const aw_physics *p) {
    return p ? p->stats : (aw_physics_stats){0};
}
