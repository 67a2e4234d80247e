/* The physics context and its step: gather colliders from ECS chunks, rebuild the grid, find
 * contacts, apply the mass-weighted response in a fixed order, write back, send events. */
#include "physics/physics_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers shared by the module */

void phys_parallel(aw_physics *p, uint32_t count, aw_range_fn fn, void *ctx) {
    if (!count) return;
    if (count == 1 || !p->step_jobs || aw_jobs_parallel_for(p->step_jobs, count, 1, fn, ctx) != AW_OK)
        fn(0, count, 0, ctx);
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

/* False for NaN too. */
static inline bool speed_ok(float v) {
    return fabsf(v) <= AW_PHYSICS_MAX_SPEED;
}

/* ---- lifetime: the world owns the context through a resource whose dtor frees it */

static void physics_free(aw_physics *p) {
    const aw_allocator *a = p->alloc;
    size_t rc = p->row_cap ? (size_t)p->row_cap + PHYS_PAD : 0;
    aw_free(a, p->chunks, (size_t)p->chunk_cap * sizeof(phys_chunk));
    aw_free(a, p->group_first, (size_t)p->group_cap * sizeof(uint32_t));
    aw_free(a, p->gather_out, (size_t)p->gather_out_cap * sizeof(phys_gather_out));
    uint32_t **u32[] = {&p->gkey, &p->gchunk, &p->order, &p->key, &p->outside};
    for (size_t i = 0; i < sizeof u32 / sizeof u32[0]; i++) aw_free(a, *u32[i], rc * 4);
    float **f32[] = {&p->bx, &p->by, &p->bz, &p->br};
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; i++) aw_free(a, *f32[i], rc * 4);
    aw_free(a, p->blayer, rc * 4);
    aw_free(a, p->bmask, rc * 4);
    aw_free(a, p->g, rc * sizeof(phys_record));
    aw_free(a, p->bent, rc * sizeof(aw_entity));
    aw_free(a, p->items_a, rc * 8);
    aw_free(a, p->hist, p->hist_cap * sizeof(uint32_t));
    aw_free(a, p->cell_start, p->cell_start_cap * sizeof(uint32_t));
    aw_free(a, p->cell_layers, p->cell_layers_cap * sizeof(uint32_t));
    for (uint32_t t = 0; t < p->task_cap; t++) {
        if (!p->tasks[t].pi) continue;
        size_t bytes = ((size_t)p->tasks[t].capacity + PHYS_PAD) * sizeof(uint32_t);
        aw_free(a, p->tasks[t].pi, bytes);
        aw_free(a, p->tasks[t].pj, bytes);
    }
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
#if PHYS_HAVE_AVX2
    p->use_avx2 = !d.scalar_only && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") &&
                  __builtin_cpu_supports("popcnt");
#endif
    for (uint32_t m = 0; m < 256; m++) {
        uint64_t lut = 0;
        for (uint32_t b = 0, k = 0; b < 8; b++)
            if (m & (1u << b)) lut |= (uint64_t)b << (8 * k++);
        p->compress_lut[m] = lut;
    }
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

static inline void key_row(const aw_physics *p, phys_gather_out *o, uint32_t row) {
    uint32_t k = phys_row_key(p, p->g[row].x, p->g[row].z, p->g[row].r, NULL);
    p->gkey[row] = k;
    o->large += k == PHYS_KEY_LARGE;
    o->small += k != PHYS_KEY_LARGE;
}

/* What a gather task keeps while it walks its rows. */
typedef struct gather_acc {
    const aw_physics *p;
    phys_gather_out *o;
    float dt;
    bool integrate, keyed, check_extra;
    /* the grid's key parameters (see phys_cell): clamping to fw_hi keeps outside colliders in
     * the border cells with min/max, no branch; who was outside is counted from those cells */
    double min_x, min_z, inv, fw_hi, fh_hi;
    uint32_t width;
    float small_r_max;
    uint32_t large, masked, layered, invalid;
    /* radius histogram by runs: colliders of one kind share a radius, so the bucket is worked
     * out once per run of equal radii */
    float last_r;
    uint32_t last_b, run;
} gather_acc;

static inline void gather_radius(gather_acc *a, float r) {
    if (AW_UNLIKELY(r != a->last_r)) {
        a->o->rcount[a->last_b] += a->run;
        a->run = 0;
        a->last_r = r;
        a->last_b = radius_bucket(r);
        if (r > a->o->rmax[a->last_b]) a->o->rmax[a->last_b] = r;
    }
    a->run++;
}

static inline uint32_t gather_key(const gather_acc *a, float x, float z, float r) {
    const double u = ((double)x - a->min_x) * a->inv, v = ((double)z - a->min_z) * a->inv;
    const double cu = u > 0.0 ? (u < a->fw_hi ? u : a->fw_hi) : 0.0;
    const double cv = v > 0.0 ? (v < a->fh_hi ? v : a->fh_hi) : 0.0;
    return r > a->small_r_max ? PHYS_KEY_LARGE : (uint32_t)cv * a->width + (uint32_t)cu;
}

/* One row, every check: the general path (and the SIMD path's fallback). */
static inline void gather_row(gather_acc *a, const phys_chunk *ch, uint32_t ci, uint32_t k) {
    const aw_physics *p = a->p;
    const uint32_t row = ch->base + k;
    p->gchunk[row] = ci;
    const aw_collider cl = ch->col[k];
    aw_position pos = ch->pos[k];
    const float r = cl.radius;
    /* x * 0 is 0 for finite x and NaN otherwise: one compare covers all four. */
    const float probe = (pos.x * 0.0f + pos.y * 0.0f) + (pos.z * 0.0f + r * 0.0f);
    bool ok = probe == 0.0f && r >= 0.0f && r <= AW_PHYSICS_MAX_RADIUS && !(cl.flags & AW_COLLIDER_DISABLED);
    if (a->check_extra) {
        const aw_velocity *vel = ch->vel;
        if (vel) ok = ok && speed_ok(vel[k].x) && speed_ok(vel[k].y) && speed_ok(vel[k].z);
        if (ch->rb) {
            const aw_rigid_body b = ch->rb[k];
            ok = ok && b.inv_mass >= 0.0f && b.inv_mass <= FLT_MAX && b.restitution >= 0.0f && b.restitution <= 1.0f;
        }
        if (ok && a->integrate && vel) {
            aw_position moved = {pos.x + vel[k].x * a->dt, pos.y + vel[k].y * a->dt, pos.z + vel[k].z * a->dt};
            ok = finite3(moved.x, moved.y, moved.z);
            if (ok) ch->pos[k] = pos = moved;
        }
    }
    if (AW_UNLIKELY(!ok)) {
        /* Refused, never inserted: a NaN would poison cell keys and every distance. */
        p->gkey[row] = PHYS_KEY_INVALID;
        a->invalid++;
        if (cl.flags & AW_COLLIDER_DISABLED) return;
        if (!a->o->skipped++) a->o->first_skipped = ch->ent[k];
        return;
    }
    const uint32_t mask = cl.mask ? cl.mask : UINT32_MAX;
    const uint32_t layer = cl.layer ? cl.layer : AW_LAYER_DEFAULT;
    a->masked += mask != UINT32_MAX;
    a->layered += layer != AW_LAYER_DEFAULT;
    p->g[row] = (phys_record){
        .x = pos.x, .y = pos.y, .z = pos.z, .r = r, .layer = layer, .mask = mask, .ent = ch->ent[k]};
    gather_radius(a, r);
    const uint32_t key = gather_key(a, pos.x, pos.z, r);
    a->large += key == PHYS_KEY_LARGE;
    p->gkey[row] = key;
}

#if PHYS_HAVE_AVX2
#include <immintrin.h>

/* Stores v, or with keep_unchanged only where the 32 bytes there differ. A collider that did not
 * move (and a radius, layer or entity that did not change) then leaves its line alone, and the
 * copy another core read last step stays valid in that core's cache: a write would first take the
 * line back from it, ~250 ns a line when the two vCPUs sit far apart. On one thread nothing is
 * shared and the compare is pure cost, so only split steps keep. */
__attribute__((target("avx2"), always_inline)) static inline void put8(void *dst, __m256i v, bool keep_unchanged) {
    if (keep_unchanged && _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)dst), v)) == -1)
        return;
    _mm256_storeu_si256((__m256i *)dst, v);
}

/* Every float of v0, v1 and v2 within AW_PHYSICS_MAX_SPEED in magnitude (NaN is not). */
__attribute__((target("avx2"), always_inline)) static inline bool all_speeds_ok_avx2(__m256 v0, __m256 v1, __m256 v2) {
    const __m256 sign = _mm256_set1_ps(-0.0f), limit = _mm256_set1_ps(AW_PHYSICS_MAX_SPEED);
    const __m256 ok0 = _mm256_cmp_ps(_mm256_andnot_ps(sign, v0), limit, _CMP_LE_OQ);
    const __m256 ok1 = _mm256_cmp_ps(_mm256_andnot_ps(sign, v1), limit, _CMP_LE_OQ);
    const __m256 ok2 = _mm256_cmp_ps(_mm256_andnot_ps(sign, v2), limit, _CMP_LE_OQ);
    return _mm256_movemask_ps(_mm256_and_ps(_mm256_and_ps(ok0, ok1), ok2)) == 0xff;
}

/* Eight rows at a time: positions (12-byte records) and colliders (16-byte records) are loaded
 * whole and transposed into lanes, checked, keyed (in double, as gather_key), and stored as eight
 * records (keys and chunk indices as arrays).
 * Where the step needs them (check_extra), velocities and bodies are checked too and positions
 * integrated: on the records as loaded (x + vx * dt lane by lane, the scalar path's operations),
 * before the transpose. A group with any refused row, or with radii other than the current run's,
 * goes through gather_row instead (nothing is written before that choice). Returns rows done. */
/* `extra` is a constant in each caller: without it the loop has no velocity or body code. */
__attribute__((target("avx2,popcnt"), always_inline)) static inline uint32_t
gather_rows_avx2_body(gather_acc *a, const phys_chunk *ch, uint32_t ci, const bool extra) {
    const aw_physics *p = a->p;
    const uint32_t n = ch->count & ~7u;
    const float *restrict pos = (const float *)ch->pos;
    float *pos_out = extra ? (float *)ch->pos : NULL; /* moved positions, stored whole */
    const float *restrict col = (const float *)ch->col;
    const float *restrict vel = extra ? (const float *)ch->vel : NULL;
    const float *restrict rb = extra ? (const float *)ch->rb : NULL;
    const bool integrate = extra && vel && a->integrate;
    const bool keep = p->step_jobs != NULL; /* split step: see put8 */
    const __m256 dt = _mm256_set1_ps(a->dt);
    const __m256i px = _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5), py = _mm256_setr_epi32(1, 4, 7, 2, 5, 0, 3, 6);
    const __m256i pz = _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7), pc = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256 zero = _mm256_setzero_ps(), rmax = _mm256_set1_ps(a->small_r_max);
    const __m256d lo_x = _mm256_set1_pd(a->min_x), lo_z = _mm256_set1_pd(a->min_z), inv = _mm256_set1_pd(a->inv);
    const __m256d hi_x = _mm256_set1_pd(a->fw_hi), hi_z = _mm256_set1_pd(a->fh_hi), dz0 = _mm256_setzero_pd();
    const __m256i width = _mm256_set1_epi32((int32_t)a->width), large_key = _mm256_set1_epi32((int32_t)PHYS_KEY_LARGE);
    const __m256i izero = _mm256_setzero_si256(), ones = _mm256_set1_epi32(-1);
    const __m256i disabled = _mm256_set1_epi32((int32_t)AW_COLLIDER_DISABLED), chunk_id = _mm256_set1_epi32((int32_t)ci);
    uint32_t k = 0;
    for (; k < n; k += 8) {
        const uint32_t row = ch->base + k;
        __m256 a0 = _mm256_loadu_ps(pos + 3 * k), a1 = _mm256_loadu_ps(pos + 3 * k + 8);
        __m256 a2 = _mm256_loadu_ps(pos + 3 * k + 16);
        bool extra_ok = true;
        if (extra && vel) {
            const __m256 v0 = _mm256_loadu_ps(vel + 3 * k), v1 = _mm256_loadu_ps(vel + 3 * k + 8);
            const __m256 v2 = _mm256_loadu_ps(vel + 3 * k + 16);
            extra_ok = all_speeds_ok_avx2(v0, v1, v2);
            if (integrate) {
                a0 = _mm256_add_ps(a0, _mm256_mul_ps(v0, dt));
                a1 = _mm256_add_ps(a1, _mm256_mul_ps(v1, dt));
                a2 = _mm256_add_ps(a2, _mm256_mul_ps(v2, dt));
            }
        }
        if (extra && rb) { /* {inv_mass, restitution} x 8: 0 <= inv_mass <= FLT_MAX, 0 <= restitution <= 1 */
            const __m256 b0 = _mm256_loadu_ps(rb + 2 * k), b1 = _mm256_loadu_ps(rb + 2 * k + 8);
            const __m256 top = _mm256_setr_ps(FLT_MAX, 1, FLT_MAX, 1, FLT_MAX, 1, FLT_MAX, 1);
            const int in_range = _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(b0, zero, _CMP_GE_OQ),
                                                                  _mm256_cmp_ps(b0, top, _CMP_LE_OQ))) &
                                 _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(b1, zero, _CMP_GE_OQ),
                                                                  _mm256_cmp_ps(b1, top, _CMP_LE_OQ)));
            extra_ok = extra_ok && in_range == 0xff;
        }
        /* x: lanes 0,3,6 of a0, 1,4,7 of a1, 2,5 of a2; y and z likewise, then one permute each. */
        const __m256 x = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a0, a1, 0x92), a2, 0x24), px);
        const __m256 y = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a0, a1, 0x24), a2, 0x49), py);
        const __m256 z = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a0, a1, 0x49), a2, 0x92), pz);
        /* Colliders: {radius, layer, mask, flags} x 8 -> four lanes-of-8 vectors. */
        const __m256 c0 = _mm256_loadu_ps(col + 4 * k), c1 = _mm256_loadu_ps(col + 4 * k + 8);
        const __m256 c2 = _mm256_loadu_ps(col + 4 * k + 16), c3 = _mm256_loadu_ps(col + 4 * k + 24);
        const __m256 t0 = _mm256_unpacklo_ps(c0, c1), t1 = _mm256_unpackhi_ps(c0, c1);
        const __m256 t2 = _mm256_unpacklo_ps(c2, c3), t3 = _mm256_unpackhi_ps(c2, c3);
        const __m256 r = _mm256_permutevar8x32_ps(
            _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2))), pc);
        const __m256i layer = _mm256_permutevar8x32_epi32(
            _mm256_castpd_si256(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2))), pc);
        const __m256i mask = _mm256_permutevar8x32_epi32(
            _mm256_castpd_si256(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3))), pc);
        const __m256i flags = _mm256_permutevar8x32_epi32(
            _mm256_castpd_si256(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3))), pc);
        const __m256 probe = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(x, zero), _mm256_mul_ps(y, zero)),
                                           _mm256_add_ps(_mm256_mul_ps(z, zero), _mm256_mul_ps(r, zero)));
        const __m256 ok = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(probe, zero, _CMP_EQ_OQ), _mm256_cmp_ps(r, zero, _CMP_GE_OQ)),
                                        _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(flags, disabled), izero)));
        const __m256 same_r = _mm256_cmp_ps(r, _mm256_set1_ps(a->last_r), _CMP_EQ_OQ);
        /* ok checked the moved positions: finite there means finite before too (scalar: both). */
        if (AW_UNLIKELY(_mm256_movemask_ps(_mm256_and_ps(ok, same_r)) != 0xff || !extra_ok)) {
            for (uint32_t q = k; q < k + 8; q++) gather_row(a, ch, ci, q);
            continue;
        }
        if (extra && integrate) {
            _mm256_storeu_ps(pos_out + 3 * k, a0);
            _mm256_storeu_ps(pos_out + 3 * k + 8, a1);
            _mm256_storeu_ps(pos_out + 3 * k + 16, a2);
        }
        a->run += 8;
        /* 1 (AW_LAYER_DEFAULT) where the layer is 0: the all-ones compare shifted down */
        const __m256i one = _mm256_srli_epi32(ones, 31);
        const __m256i layer_d = _mm256_or_si256(layer, _mm256_srli_epi32(_mm256_cmpeq_epi32(layer, izero), 31));
        const __m256i mask_d = _mm256_or_si256(mask, _mm256_cmpeq_epi32(mask, izero));
        a->masked += 8u - (uint32_t)_mm_popcnt_u32((uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(mask_d, ones))));
        a->layered += 8u - (uint32_t)_mm_popcnt_u32((uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(layer_d, one))));
        /* Keys in double, clamped into the grid, as gather_key. */
        __m256d u0 = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), lo_x), inv);
        __m256d u1 = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), lo_x), inv);
        __m256d v0 = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(z)), lo_z), inv);
        __m256d v1 = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(z, 1)), lo_z), inv);
        u0 = _mm256_max_pd(_mm256_min_pd(u0, hi_x), dz0);
        u1 = _mm256_max_pd(_mm256_min_pd(u1, hi_x), dz0);
        v0 = _mm256_max_pd(_mm256_min_pd(v0, hi_z), dz0);
        v1 = _mm256_max_pd(_mm256_min_pd(v1, hi_z), dz0);
        const __m256i cx = _mm256_set_m128i(_mm256_cvttpd_epi32(u1), _mm256_cvttpd_epi32(u0));
        const __m256i cy = _mm256_set_m128i(_mm256_cvttpd_epi32(v1), _mm256_cvttpd_epi32(v0));
        const __m256 big = _mm256_cmp_ps(r, rmax, _CMP_GT_OQ);
        const __m256i key = _mm256_blendv_epi8(_mm256_add_epi32(_mm256_mullo_epi32(cy, width), cx), large_key,
                                               _mm256_castps_si256(big));
        a->large += (uint32_t)_mm_popcnt_u32((uint32_t)_mm256_movemask_ps(big));
        put8(p->gkey + row, key, keep);
        put8(p->gchunk + row, chunk_id, keep);
        /* The lanes back into eight records {x, y, z, r | layer, mask, entity}: each 128-bit half
         * of a record gathered for rows i and i + 4, then the halves paired. */
        const __m256 xy_lo = _mm256_unpacklo_ps(x, y), xy_hi = _mm256_unpackhi_ps(x, y);
        const __m256 zr_lo = _mm256_unpacklo_ps(z, r), zr_hi = _mm256_unpackhi_ps(z, r);
        const __m256i lo[4] = {_mm256_castps_si256(_mm256_shuffle_ps(xy_lo, zr_lo, 0x44)),
                               _mm256_castps_si256(_mm256_shuffle_ps(xy_lo, zr_lo, 0xee)),
                               _mm256_castps_si256(_mm256_shuffle_ps(xy_hi, zr_hi, 0x44)),
                               _mm256_castps_si256(_mm256_shuffle_ps(xy_hi, zr_hi, 0xee))};
        const __m256i e0 = _mm256_loadu_si256((const __m256i *)(ch->ent + k));
        const __m256i e1 = _mm256_loadu_si256((const __m256i *)(ch->ent + k + 4));
        const __m256i e_0145 = _mm256_permute2x128_si256(e0, e1, 0x20);
        const __m256i e_2367 = _mm256_permute2x128_si256(e0, e1, 0x31);
        const __m256i lm_lo = _mm256_unpacklo_epi32(layer_d, mask_d);
        const __m256i lm_hi = _mm256_unpackhi_epi32(layer_d, mask_d);
        const __m256i hi[4] = {_mm256_unpacklo_epi64(lm_lo, e_0145), _mm256_unpackhi_epi64(lm_lo, e_0145),
                               _mm256_unpacklo_epi64(lm_hi, e_2367), _mm256_unpackhi_epi64(lm_hi, e_2367)};
        phys_record *out = p->g + row;
        for (int i = 0; i < 4; i++) {
            put8(out + i, _mm256_permute2x128_si256(lo[i], hi[i], 0x20), keep);
            put8(out + i + 4, _mm256_permute2x128_si256(lo[i], hi[i], 0x31), keep);
        }
    }
    return k;
}

/* Two functions, not one with both loops: the extra loop's setup and registers would cost every
 * call of the plain one (one call per chunk). */
__attribute__((target("avx2,popcnt"), noinline)) static uint32_t gather_rows_plain(gather_acc *a, const phys_chunk *ch,
                                                                                   uint32_t ci) {
    return gather_rows_avx2_body(a, ch, ci, false);
}

__attribute__((target("avx2,popcnt"), noinline)) static uint32_t gather_rows_extra(gather_acc *a, const phys_chunk *ch,
                                                                                   uint32_t ci) {
    return gather_rows_avx2_body(a, ch, ci, true);
}
#endif

static void gather_task(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const gather_ctx *c = arg;
    aw_physics *p = c->p;
    for (uint32_t g = begin; g < end; g++) {
        phys_gather_out *o = &p->gather_out[g];
        memset(o, 0, sizeof *o);
        gather_acc a = {.p = p, .o = o, .dt = c->dt, .integrate = c->integrate, .keyed = c->keyed,
                        .min_x = p->min_x, .min_z = p->min_z, .inv = p->inv_cell,
                        .fw_hi = (double)p->width - 0.5, .fh_hi = (double)p->height - 0.5, .width = p->width,
                        .small_r_max = p->small_r_max, .last_r = -1.0f};
        for (uint32_t ci = p->group_first[g]; ci < p->group_first[g + 1]; ci++) {
            const phys_chunk *ch = &p->chunks[ci];
            /* Velocities and bodies matter only to integration and the response. */
            a.check_extra = (ch->vel && (c->integrate || !p->desc.no_response)) || (ch->rb && !p->desc.no_response);
            a.large = a.masked = a.layered = a.invalid = 0;
            uint32_t k = 0;
#if PHYS_HAVE_AVX2
            if (p->use_avx2) k = a.check_extra ? gather_rows_extra(&a, ch, ci) : gather_rows_plain(&a, ch, ci);
#endif
            for (; k < ch->count; k++) gather_row(&a, ch, ci, k);
            if (c->keyed) {
                o->small += ch->count - a.invalid - a.large;
                o->large += a.large;
            }
            o->invalid += a.invalid;
            o->masked += a.masked;
            o->layered += a.layered;
        }
        o->rcount[a.last_b] += a.run;
    }
}

/* Recomputes keys when the cell size chosen this step differs from the one gather predicted. */
static void rekey_task(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    aw_physics *p = ((const gather_ctx *)arg)->p;
    for (uint32_t g = begin; g < end; g++) {
        phys_gather_out *o = &p->gather_out[g];
        o->small = o->large = 0;
        uint32_t b = p->chunks[p->group_first[g]].base;
        const phys_chunk *last = &p->chunks[p->group_first[g + 1] - 1];
        uint32_t e = last->base + last->count;
        for (uint32_t row = b; row < e; row++)
            if (p->gkey[row] != PHYS_KEY_INVALID) key_row(p, o, row);
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

/* One task's contacts; `direct`: entities in slot order (see phys_slot_entity). */
static inline __attribute__((always_inline)) void
contacts_of(const aw_physics *p, const phys_task *k, uint32_t n, aw_contact *restrict C, const bool direct) {
    const float *restrict X = p->bx, *restrict Y = p->by, *restrict Z = p->bz, *restrict R = p->br;
    const aw_entity *restrict E = p->bent;
    const phys_record *restrict G = p->g;
    const uint32_t *restrict O = p->order;
    /* Locals: a store through p would make the compiler reload them. */
    const uint32_t *restrict PI = k->pi, *restrict PJ = k->pj;
    /* Scalar on purpose: an AVX2 version ran a quarter of the instructions, but its fourteen
     * gathers per eight contacts made it slower here (docs/performance.md). */
    for (uint32_t q = 0; q < n; q++) {
        const uint32_t i = PI[q], j = PJ[q];
        /* d2 is computed exactly as the pair test computed it. */
        float dx = X[j] - X[i], dy = Y[j] - Y[i], dz = Z[j] - Z[i];
        float d2 = dx * dx + dy * dy + dz * dz;
        float d = sqrtf(d2), inv = d > 0.0f ? 1.0f / d : 0.0f;
        aw_vec3 nrm = {dx * inv, dy * inv, dz * inv};
        float depth = (R[i] + R[j]) - d;
        aw_entity a = direct ? E[i] : G[O[i]].ent, b = direct ? E[j] : G[O[j]].ent;
        if (a > b) {
            aw_entity s = a;
            a = b;
            b = s;
            nrm = (aw_vec3){-nrm.x, -nrm.y, -nrm.z};
        }
        if (nrm.x == 0.0f && nrm.y == 0.0f && nrm.z == 0.0f) nrm.x = 1.0f; /* coincident centres */
        C[q] = (aw_contact){.a = a, .b = b, .normal = nrm, .depth = depth};
    }
}

static void contact_task(uint32_t begin, uint32_t end, uint32_t worker, void *arg) {
    (void)worker;
    const contact_ctx *c = arg;
    const aw_physics *p = c->p;
    for (uint32_t t = begin; t < end; t++) {
        const phys_task *k = &p->tasks[t];
        uint32_t off = k->offset;
        if (off >= c->keep) continue;
        uint32_t n = k->count < c->keep - off ? k->count : c->keep - off;
        if (p->slot_entities) contacts_of(p, k, n, p->contacts + off, true);
        else contacts_of(p, k, n, p->contacts + off, false);
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

/* The response reads each body's collider, RigidBody and Velocity and writes its Position: ECS
 * rows in no useful order (slots are in cell order), so a chain of cache misses per body
 * (order -> chunk index -> the chunk's columns). Prefetches run ahead of the contact being
 * solved in two stages: the chunk index PREFETCH_FAR contacts ahead, the columns PREFETCH_NEAR
 * ahead (by then the index is in cache). Loads and arithmetic are unchanged. */
#define PREFETCH_NEAR 8u
#define PREFETCH_FAR 16u

static inline void prefetch_chunk_index(const aw_physics *p, uint32_t slot) {
    __builtin_prefetch(&p->gchunk[p->order[slot]]);
}

static inline void prefetch_columns(const aw_physics *p, uint32_t slot) {
    const uint32_t row = p->order[slot];
    const phys_chunk *ch = &p->chunks[p->gchunk[row]];
    const uint32_t k = row - ch->base;
    __builtin_prefetch(&ch->col[k]);
    __builtin_prefetch(&ch->pos[k], 1);
    if (ch->rb) __builtin_prefetch(&ch->rb[k]);
    if (ch->vel) __builtin_prefetch(&ch->vel[k], 1);
}

/* A position in the contact list (task t, entry q), for the prefetches' lookahead. */
typedef struct pair_cursor {
    uint32_t t, q;
} pair_cursor;

static inline bool cursor_next(const aw_physics *p, pair_cursor *c) {
    while (c->t < p->task_count && c->q >= p->tasks[c->t].count) {
        c->t++;
        c->q = 0;
    }
    return c->t < p->task_count;
}

static inline void cursor_prefetch(const aw_physics *p, pair_cursor *c, bool columns) {
    if (!cursor_next(p, c)) return;
    const phys_task *k = &p->tasks[c->t];
    const uint32_t i = k->pi[c->q], j = k->pj[c->q];
    c->q++;
    if (columns) {
        prefetch_columns(p, i);
        prefetch_columns(p, j);
    } else {
        prefetch_chunk_index(p, i);
        prefetch_chunk_index(p, j);
    }
}

/* Sequential in contact order: a Gauss-Seidel pass whose result depends only on that order,
 * which is the same for every thread count. */
static void respond(aw_physics *p, uint32_t keep) {
    const float correction = p->desc.correction, slop = p->desc.slop;
    float *X = p->bx, *Y = p->by, *Z = p->bz;
    const float *R = p->br;
    p->touched_count = 0;
    for (uint32_t it = 0; it < p->desc.iterations; it++) {
        uint32_t left = keep;
        pair_cursor near = {0, 0}, far = {0, 0};
        for (uint32_t a = 0; a < PREFETCH_FAR; a++) cursor_prefetch(p, &far, false);
        for (uint32_t a = 0; a < PREFETCH_NEAR; a++) cursor_prefetch(p, &near, true);
        for (uint32_t t = 0; t < p->task_count && left; t++) {
            const phys_task *k = &p->tasks[t];
            uint32_t n = k->count < left ? k->count : left;
            left -= n;
            for (uint32_t q = 0; q < n; q++) {
                cursor_prefetch(p, &far, false);
                cursor_prefetch(p, &near, true);
                uint32_t i = k->pi[q], j = k->pj[q];
                body bi = body_of(p, i), bj = body_of(p, j);
                float wsum = bi.w + bj.w;
                if (bi.sensor || bj.sensor || !(wsum > 0.0f)) continue;
                /* Listed for the write-back in the first pass whether they overlap now or not: a
                 * pair an earlier contact pulled apart can be pushed together, and corrected, in a
                 * later pass. */
                if (it == 0) {
                    if (bi.w > 0.0f) p->touched[p->touched_count++] = i;
                    if (bj.w > 0.0f) p->touched[p->touched_count++] = j;
                }
                float dx = X[j] - X[i], dy = Y[j] - Y[i], dz = Z[j] - Z[i];
                float rs = R[i] + R[j], d2 = dx * dx + dy * dy + dz * dz;
                if (!(d2 < rs * rs)) continue;
                float d = sqrtf(d2), nx, ny, nz;
                if (d > 0.0f) {
                    nx = dx / d;
                    ny = dy / d;
                    nz = dz / d;
                } else {
                    /* lower id to higher id is +x */
                    nx = phys_slot_entity(p, i) < phys_slot_entity(p, j) ? 1.0f : -1.0f;
                    ny = nz = 0.0f;
                }
                float pen = rs - d - slop;
                if (pen > 0.0f) {
                    float corr = pen * correction / wsum, ci = corr * bi.w, cj = corr * bj.w;
                    X[i] -= nx * ci;
                    Y[i] -= ny * ci;
                    Z[i] -= nz * ci;
                    X[j] += nx * cj;
                    Y[j] += ny * cj;
                    Z[j] += nz * cj;
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
                }
            }
        }
    }
    /* Write moved positions back; the first visit of a slot still sees its old ECS position,
     * which gives the displacement that queries must allow for until the next rebuild. */
    float margin = 0.0f;
    for (uint32_t q = 0; q < p->touched_count; q++) {
        if (q + PREFETCH_NEAR < p->touched_count) prefetch_columns(p, p->touched[q + PREFETCH_NEAR]);
        uint32_t s = p->touched[q], row = p->order[s];
        const phys_chunk *ch = &p->chunks[p->gchunk[row]];
        aw_position *pos = &ch->pos[row - ch->base];
        float mx = fabsf(X[s] - pos->x), mz = fabsf(Z[s] - pos->z);
        if (mx > margin) margin = mx;
        if (mz > margin) margin = mz;
        *pos = (aw_position){X[s], Y[s], Z[s]};
    }
    p->margin = margin;
}

/* ---- the step */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Median of one half of the probe, leaving out its first step: that one also pays for moving the
 * data from where the other way left it. */
static uint64_t probe_median(const phys_threading *t, uint32_t first) {
    enum { N = PHYS_PROBE_STEPS / 2 - 1 };
    uint64_t v[N];
    for (uint32_t i = 0; i < N; i++) v[i] = t->probe_ns[first + 1 + i];
    qsort(v, N, sizeof v[0], cmp_u64);
    return N % 2 ? v[N / 2] : (v[N / 2 - 1] + v[N / 2]) / 2;
}

/* Whether the step is timed both ways now and then: there are threads to split over, the desc
 * allows it and the world is small enough to gain from it. */
static bool auto_threading(const aw_physics *p) {
    return p->jobs && aw_jobs_thread_count(p->jobs) >= 2 && !p->desc.always_parallel && p->rows <= PHYS_AUTO_MAX_ROWS;
}

/* Whether this step runs on the caller alone. Either way the tasks and their order are the same,
 * so the results are too; only which thread runs a task differs. */
static bool choose_on_caller(aw_physics *p) {
    if (!p->jobs || aw_jobs_thread_count(p->jobs) < 2) return true;
    if (!auto_threading(p)) return false;
    phys_threading *t = &p->threading;
    if (t->step >= PHYS_PROBE_EVERY) t->step = 0;
    return t->step < PHYS_PROBE_STEPS ? t->step >= PHYS_PROBE_STEPS / 2 : t->on_caller;
}

/* Records a step's time while probing, and makes the choice at the probe's end. */
static void note_step_time(aw_physics *p, uint64_t ns) {
    phys_threading *t = &p->threading;
    if (!auto_threading(p)) return;
    if (t->step < PHYS_PROBE_STEPS) t->probe_ns[t->step] = ns;
    if (++t->step == PHYS_PROBE_STEPS) t->on_caller = probe_median(t, PHYS_PROBE_STEPS / 2) < probe_median(t, 0);
}

aw_status aw_physics_step(aw_physics *p, float dt) {
    if (!p) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_step: physics is NULL");
    if (!isfinite(dt)) return aw_error(AW_ERR_INVALID_ARG, "aw_physics_step: dt is not finite");
    uint64_t t0 = aw_time_ns();
    aw_physics_stats *s = &p->stats;
    uint64_t steps = s->steps;
    *s = (aw_physics_stats){.steps = steps + 1};
    p->contact_count = 0;
    p->task_count = 0;
    p->step_jobs = NULL;

    aw_status st = collect_chunks(p);
    if (!st) st = phys_grid_prepare(p, p->rows);
    if (st) {
        p->n_small = p->n_large = p->n_valid = p->n_outside = 0;
        return st;
    }
    p->step_jobs = choose_on_caller(p) ? NULL : p->jobs;
    s->on_caller = !p->step_jobs;
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
    uint32_t n_small = 0, n_large = 0, masked = 0, layered = 0;
    for (uint32_t g = 0; g < p->group_count; g++) {
        masked += p->gather_out[g].masked;
        layered += p->gather_out[g].layered;
        n_small += p->gather_out[g].small;
        n_large += p->gather_out[g].large;
    }
    /* With every mask at "all layers", any two colliders meet: the pair test skips the filter. */
    p->all_default_layers = masked == 0;
    /* Filtered queries skip cells by their layer union; with every collider on the default layer
     * and every mask open, a filter passes all cells or none, so the union is not built. */
    p->has_cell_layers = masked != 0 || layered != 0;
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
    /* Contact counts creep up while bodies bunch together: grow to twice the need (and at least one
     * contact per collider), so the buffers stop growing after a step or two. */
    size_t room = keep > p->contact_cap ? (size_t)keep * 2 > p->n_valid ? (size_t)keep * 2 : p->n_valid : keep;
    if (phys_reserve_u32(p, (void **)&p->contacts, &p->contact_cap, room, sizeof(aw_contact)) ||
        (!p->desc.no_response &&
         phys_reserve_u32(p, (void **)&p->touched, &p->touched_cap, room * 2, sizeof(uint32_t)))) {
        p->task_count = 0;
        return aw_last_status();
    }
    contact_ctx cc = {.p = p, .keep = keep};
    /* Up to PHYS_CONTACT_INLINE contacts take less time than waking the other thread and joining
     * it. The 1k bench's 400 split: 0.5 us less when the two vCPUs' round trip is short
     * (~130 ns); where it is long (~500 ns) the step runs on the caller anyway (choose_on_caller). */
    if (keep <= PHYS_CONTACT_INLINE) contact_task(0, p->task_count, 0, &cc);
    else phys_parallel(p, p->task_count, contact_task, &cc);
    p->contact_count = keep;
    uint64_t t3 = aw_time_ns();

    if (!p->desc.no_response && keep) respond(p, keep);
    /* The queue grows as needed; where it cannot (out of memory), the rest would fail alike. */
    uint32_t sent = 0;
    aw_status send_st = AW_OK;
    if (!p->desc.no_events)
        for (; sent < keep; sent++)
            if ((send_st = aw_event_send(p->world, p->ids.contact_event, &p->contacts[sent], sizeof(aw_contact))))
                break;
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
    note_step_time(p, t4 - t0);
    if (send_st)
        return aw_error(send_st, "aw_physics_step: %u of %u contact events not sent (the step itself completed)",
                        keep - sent, keep);
    if (s->skipped)
        return aw_error(AW_ERR_INVALID_ARG,
                        "aw_physics_step: %u collider(s) skipped (a non-finite position, a radius, velocity or body "
                        "value out of range), first entity 0x%llx",
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
