/* Shared helpers for the physics tests: worlds with colliders, a brute-force reference for pairs
 * and queries, a counting allocator, and pair-set comparison. Header-only (static inline). */
#ifndef AW_PHYSICS_TEST_UTIL_H
#define AW_PHYSICS_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aw/aw.h"

#define ASSERT_OK(expr)                                                                                  \
    do {                                                                                                 \
        aw_status st__ = (expr);                                                                         \
        if (st__ != AW_OK) fail_msg("%s -> %s: %s", #expr, aw_status_str(st__), aw_last_error());        \
    } while (0)

/* ---- a counting allocator (thread-safe: the world's job system may allocate from workers) */

typedef struct count_alloc {
    _Atomic uint64_t allocs, reallocs, frees;
    _Atomic int64_t fail_after; /* successful calls left before failing; < 0: never */
    aw_allocator iface;
} count_alloc;

static inline bool count_alloc_budget(count_alloc *c) {
    int64_t left = c->fail_after;
    while (left >= 0) {
        if (left == 0) return false;
        if (atomic_compare_exchange_weak(&c->fail_after, &left, left - 1)) return true;
    }
    return true;
}

static inline void *count_alloc_fn(void *user, size_t size, size_t align) {
    count_alloc *c = user;
    if (!count_alloc_budget(c)) return NULL;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1)) return NULL;
    c->allocs++;
    return p;
}

static inline void *count_realloc_fn(void *user, void *ptr, size_t old_size, size_t new_size, size_t align) {
    count_alloc *c = user;
    if (!count_alloc_budget(c)) return NULL;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, new_size ? new_size : 1)) return NULL;
    if (ptr) memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    free(ptr);
    c->reallocs++;
    return p;
}

static inline void count_free_fn(void *user, void *ptr, size_t size) {
    (void)size;
    count_alloc *c = user;
    if (ptr) c->frees++;
    free(ptr);
}

static inline void count_alloc_init(count_alloc *c) {
    memset(c, 0, sizeof *c);
    atomic_init(&c->fail_after, -1);
    c->iface = (aw_allocator){.alloc = count_alloc_fn, .realloc = count_realloc_fn, .free = count_free_fn, .user = c};
}

static inline uint64_t count_alloc_calls(const count_alloc *c) {
    return c->allocs + c->reallocs;
}

/* ---- worlds */

typedef struct ptw {
    aw_world *w;
    aw_physics *p;
    aw_physics_ids ids;
    aw_query *all; /* every (Position, Collider), for the references */
} ptw;

static inline ptw ptw_new(uint32_t threads, const aw_physics_desc *desc) {
    ptw t = {0};
    t.w = aw_world_create(&(aw_world_desc){.threads = threads ? threads : 1});
    assert_non_null(t.w);
    t.p = aw_physics_create(t.w, desc);
    if (!t.p) fail_msg("aw_physics_create: %s", aw_last_error());
    t.ids = aw_physics_get_ids(t.p);
    t.all = aw_query_create(t.w, &(aw_query_desc){AW_TERMS(AW_READ(t.ids.position), AW_READ(t.ids.collider))});
    assert_non_null(t.all);
    return t;
}

static inline void ptw_free(ptw *t) {
    aw_world_destroy(t->w);
    memset(t, 0, sizeof *t);
}

typedef struct spawn_desc {
    aw_vec3 pos;
    aw_collider col;
    bool body;
    aw_rigid_body rb;
    bool has_vel;
    aw_vec3 vel;
} spawn_desc;

static inline aw_entity ptw_spawn(ptw *t, const spawn_desc *s) {
    aw_entity e = aw_entity_create(t->w);
    assert_true(e != AW_ENTITY_NULL);
    ASSERT_OK(aw_entity_set(t->w, e, t->ids.position, &s->pos, sizeof s->pos));
    ASSERT_OK(aw_entity_set(t->w, e, t->ids.collider, &s->col, sizeof s->col));
    if (s->body) ASSERT_OK(aw_entity_set(t->w, e, t->ids.rigid_body, &s->rb, sizeof s->rb));
    if (s->has_vel) ASSERT_OK(aw_entity_set(t->w, e, t->ids.velocity, &s->vel, sizeof s->vel));
    return e;
}

static inline aw_entity ptw_sphere(ptw *t, float x, float y, float z, float r) {
    return ptw_spawn(t, &(spawn_desc){.pos = {x, y, z}, .col = {.radius = r}});
}

/* ---- references */

typedef struct ref_body {
    aw_entity e;
    aw_vec3 p;
    float r;
    uint32_t layer, mask, flags;
} ref_body;

static inline bool ref_valid(const aw_vec3 *p, const aw_collider *c) {
    return isfinite(p->x) && isfinite(p->y) && isfinite(p->z) && isfinite(c->radius) && c->radius >= 0 &&
           !(c->flags & AW_COLLIDER_DISABLED);
}

/* Every valid collider (the engine also refuses bad velocities and bodies; the tests that use
 * those pass `skip` to leave the same entities out). */
static inline uint32_t ref_bodies(ptw *t, ref_body **out) {
    uint32_t n = aw_query_count(t->all), k = 0;
    ref_body *b = malloc((n + 1) * sizeof *b);
    assert_non_null(b);
    aw_iter it = aw_query_iter(t->all);
    while (aw_iter_next(&it)) {
        const aw_vec3 *pos = it.columns[0];
        const aw_collider *col = it.columns[1];
        for (uint32_t i = 0; i < it.count; i++) {
            if (!ref_valid(&pos[i], &col[i])) continue;
            b[k++] = (ref_body){.e = it.entities[i], .p = pos[i], .r = col[i].radius,
                                .layer = col[i].layer ? col[i].layer : AW_LAYER_DEFAULT,
                                .mask = col[i].mask ? col[i].mask : UINT32_MAX, .flags = col[i].flags};
        }
    }
    *out = b;
    return k;
}

typedef struct pair_key {
    aw_entity a, b;
} pair_key;

static inline int pair_cmp(const void *x, const void *y) {
    const pair_key *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return 0;
}

/* The engine's predicate, written out independently: float distance squared (summed x, y, z in
 * that order) strictly below the float radius sum squared, and the layer filter both ways. */
static inline bool ref_overlap(const ref_body *a, const ref_body *b) {
    float dx = b->p.x - a->p.x, dy = b->p.y - a->p.y, dz = b->p.z - a->p.z;
    float rs = a->r + b->r;
    float d2 = dx * dx + dy * dy + dz * dz;
    return d2 < rs * rs && (a->layer & b->mask) && (b->layer & a->mask);
}

static inline uint32_t ref_pairs(const ref_body *b, uint32_t n, pair_key **out) {
    uint32_t cap = 1024, k = 0;
    pair_key *p = malloc(cap * sizeof *p);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++) {
            if (!ref_overlap(&b[i], &b[j])) continue;
            if (k == cap) p = realloc(p, (cap *= 2) * sizeof *p);
            aw_entity x = b[i].e, y = b[j].e;
            p[k++] = x < y ? (pair_key){x, y} : (pair_key){y, x};
        }
    qsort(p, k, sizeof *p, pair_cmp);
    *out = p;
    return k;
}

/* The contacts of the last step as a sorted pair set; checks a < b and unit normals. */
static inline uint32_t engine_pairs(const aw_physics *p, pair_key **out) {
    uint32_t n = 0;
    const aw_contact *c = aw_physics_contacts(p, &n);
    pair_key *k = malloc((n + 1) * sizeof *k);
    for (uint32_t i = 0; i < n; i++) {
        if (!(c[i].a < c[i].b)) fail_msg("contact %u: a %llx !< b %llx", i, (unsigned long long)c[i].a,
                                         (unsigned long long)c[i].b);
        float len = sqrtf(c[i].normal.x * c[i].normal.x + c[i].normal.y * c[i].normal.y +
                          c[i].normal.z * c[i].normal.z);
        if (fabsf(len - 1.0f) > 1e-3f || !(c[i].depth >= 0)) fail_msg("contact %u: normal length %g depth %g", i, len, c[i].depth);
        k[i] = (pair_key){c[i].a, c[i].b};
    }
    qsort(k, n, sizeof *k, pair_cmp);
    *out = k;
    return n;
}

static inline void assert_same_pairs(const pair_key *a, uint32_t na, const pair_key *b, uint32_t nb, const char *what) {
    uint32_t i = 0, j = 0, shown = 0;
    while ((i < na || j < nb) && shown < 5) {
        int c = i == na ? 1 : (j == nb ? -1 : pair_cmp(&a[i], &b[j]));
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            print_error("%s: engine has extra pair (%llx, %llx)\n", what, (unsigned long long)a[i].a,
                        (unsigned long long)a[i].b);
            i++;
            shown++;
        } else {
            print_error("%s: engine misses pair (%llx, %llx)\n", what, (unsigned long long)b[j].a,
                        (unsigned long long)b[j].b);
            j++;
            shown++;
        }
    }
    if (shown || na != nb) fail_msg("%s: engine found %u pairs, brute force %u", what, na, nb);
}

/* Steps once (expecting `want`) and checks the contact set against brute force over the
 * positions the step started from (no_response worlds) or ended with (checked by callers). */
static inline void check_pairs_now(ptw *t, const char *what) {
    ref_body *b;
    uint32_t n = ref_bodies(t, &b);
    pair_key *ref, *got;
    uint32_t nr = ref_pairs(b, n, &ref);
    uint32_t ng = engine_pairs(t->p, &got);
    assert_same_pairs(got, ng, ref, nr, what);
    free(b);
    free(ref);
    free(got);
}

static inline int entity_cmp(const void *x, const void *y) {
    aw_entity a = *(const aw_entity *)x, b = *(const aw_entity *)y;
    return a < b ? -1 : (a > b);
}

/* The query tests' world: 1,500 colliders on three layers in a 80 x 80 grid, a tenth spread past
 * its bounds, every 211th a large collider, every other a rigid body when `respond`; with `ties`
 * every 7th sits on a few shared spots (equal distances, ordered by entity). */
static inline ptw ptw_query_world(uint32_t seed, bool respond, bool scalar, bool ties) {
    ptw t = ptw_new(1, &(aw_physics_desc){.min_x = -40, .max_x = 40, .min_z = -40, .max_z = 40,
                                          .no_response = !respond, .no_events = true, .scalar_only = scalar});
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    for (uint32_t i = 0; i < 1500; i++) {
        float span = i % 10 == 0 ? 60.0f : 38.0f;
        spawn_desc s = {.pos = {aw_rng_float_range(&rng, -span, span), aw_rng_float_range(&rng, -3, 3),
                                aw_rng_float_range(&rng, -span, span)},
                        .col = {.radius = aw_rng_float_range(&rng, 0, 1.0f), .layer = 1u << aw_rng_range(&rng, 3)}};
        if (i % 211 == 0) s.col.radius = aw_rng_float_range(&rng, 5, 20); /* large list */
        if (ties && i % 7 == 0) s.pos = (aw_vec3){(float)(i % 5), 0, 3.0f}; /* equal distances: ties by entity */
        if (respond && i % 2 == 0) {
            s.body = true;
            s.rb = (aw_rigid_body){.inv_mass = 1.0f, .restitution = 0.2f};
        }
        ptw_spawn(&t, &s);
    }
    ASSERT_OK(aw_physics_step(t.p, 0.016f));
    return t;
}

/* ---- references for the k-nearest tests */

/* Closest first, ties by entity id: the order every k-nearest query promises. */
static inline int ref_hit_cmp(const void *x, const void *y) {
    const aw_physics_hit *a = x, *b = y;
    if (a->distance != b->distance) return a->distance < b->distance ? -1 : 1;
    return a->entity < b->entity ? -1 : (a->entity > b->entity);
}

/* A body the filter's exclusions keep and that lies within maxd (0: any) of c: its squared
 * distance in *d2. Layer masks are each test's own business. */
static inline bool ref_hit_within(const ref_body *b, aw_vec3 c, float maxd, const aw_spatial_filter *f, float *d2) {
    *d2 = 0.0f;
    for (uint32_t x = 0; x < f->exclude_count; x++)
        if (f->exclude[x] == b->e) return false;
    float dx = b->p.x - c.x, dy = b->p.y - c.y, dz = b->p.z - c.z;
    *d2 = dx * dx + dy * dy + dz * dz;
    return !(maxd > 0 && *d2 > maxd * maxd);
}

/* Two answer logs (SIMD and scalar worlds) hold the same hits, bit for bit. */
static inline void ref_assert_same_hits(const aw_physics_hit *a, uint32_t na, const aw_physics_hit *b, uint32_t nb) {
    assert_int_equal(na, nb);
    for (uint32_t i = 0; i < na; i++) {
        assert_true(a[i].entity == b[i].entity);
        assert_true(a[i].distance == b[i].distance);
    }
}

#endif /* AW_PHYSICS_TEST_UTIL_H */
