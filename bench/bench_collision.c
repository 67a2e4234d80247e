/* Collision benchmark: broadphase + narrowphase (pairs of overlapping spheres, counted) by the
 * engine's flat grid (aw_physics_step on an ECS world), by a C port of the Rust engine's Week 8
 * spatial hash, by sort-and-sweep and by brute force, on the same worlds in the same run.
 *
 * The Week 8 spatial hash (astraweave-physics/src/spatial_hash.rs, as profiled in Week 8) is
 * ported faithfully, costs included: a std HashMap<(i32, i32, i32), Vec<u32>> (SipHash-1-3 keyed
 * hash, open addressing at load 7/8, growth by rehashing), every sphere's AABB inserted into each
 * 3D cell it touches, clear() dropping every cell's Vec (so each frame reallocates them), and per
 * entity a query_unique() that collects the candidates into a fresh Vec, sorts and dedups them
 * before the narrowphase keeps pairs with id < candidate. A textbook single-threaded grid on plain
 * arrays is timed too, to calibrate the machine against the figures DESIGN.md quotes. The worlds
 * stand still from step to step; grid_moving_* times the engine on the same worlds walking (every
 * collider has a velocity, integrated each step). */
#include "bench_collision.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/physics.h"

#define RADIUS 0.5f
#define COVERAGE 0.2 /* circle area / world area */
#define HASH_CELL 2.0f /* the Rust guidance: about twice the object size (diameter 1) */

/* ---------------------------------------------------------------- worlds */

typedef struct cworld {
    uint32_t n;
    float side; /* positions in [0, side)^2 on x and z, y = 0 */
    float *x, *y, *z, *r;
} cworld;

static void cworld_free(cworld *w) {
    free(w->x);
    free(w->y);
    free(w->z);
    free(w->r);
    memset(w, 0, sizeof *w);
}

static aw_status cworld_make(cworld *w, uint32_t n, bool clustered, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->n = n;
    w->side = (float)sqrt(n * 3.14159265358979 * RADIUS * RADIUS / COVERAGE);
    w->x = malloc(n * sizeof(float));
    w->y = calloc(n, sizeof(float));
    w->z = malloc(n * sizeof(float));
    w->r = malloc(n * sizeof(float));
    if (!w->x || !w->y || !w->z || !w->r) {
        cworld_free(w);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "collision: out of memory for %u circles", n);
    }
    aw_rng rng;
    aw_rng_seed(&rng, seed ^ (clustered ? 0xc1u : 0x51u) ^ n);
    enum { CLUSTERS = 16 };
    float cx[CLUSTERS], cz[CLUSTERS], sigma = w->side / 32.0f;
    for (int c = 0; c < CLUSTERS; c++) {
        cx[c] = aw_rng_float_range(&rng, 0.15f * w->side, 0.85f * w->side);
        cz[c] = aw_rng_float_range(&rng, 0.15f * w->side, 0.85f * w->side);
    }
    for (uint32_t i = 0; i < n; i++) {
        w->r[i] = RADIUS;
        if (!clustered) {
            w->x[i] = aw_rng_float(&rng) * w->side;
            w->z[i] = aw_rng_float(&rng) * w->side;
            continue;
        }
        /* Gaussian blobs (Box-Muller), clamped into the world. */
        uint32_t c = aw_rng_range(&rng, CLUSTERS);
        double u1 = aw_rng_double(&rng) + 1e-12, u2 = aw_rng_double(&rng);
        double m = sqrt(-2.0 * log(u1)) * sigma;
        float x = cx[c] + (float)(m * cos(6.283185307179586 * u2)), z = cz[c] + (float)(m * sin(6.283185307179586 * u2));
        w->x[i] = fminf(fmaxf(x, 0.0f), w->side * 0.999f);
        w->z[i] = fminf(fmaxf(z, 0.0f), w->side * 0.999f);
    }
    return AW_OK;
}

/* The engine's narrowphase predicate: float 3D distance squared strictly below the radius sum
 * squared. Every variant uses it, so their pair counts must agree exactly. */
static inline bool overlap(const cworld *w, uint32_t a, uint32_t b) {
    float dx = w->x[b] - w->x[a], dy = w->y[b] - w->y[a], dz = w->z[b] - w->z[a];
    float rs = w->r[a] + w->r[b];
    return dx * dx + dy * dy + dz * dz < rs * rs;
}

/* ---------------------------------------------------------------- brute force */

static uint64_t brute_pairs(void *state) {
    const cworld *w = state;
    uint64_t pairs = 0;
    for (uint32_t i = 0; i < w->n; i++)
        for (uint32_t j = i + 1; j < w->n; j++) pairs += overlap(w, i, j);
    return pairs;
}

/* ---------------------------------------------------------------- sort and sweep */

typedef struct sap {
    const cworld *w;
    uint32_t *key, *idx, *key2, *idx2;
} sap;

static void sap_free(sap *s) {
    free(s->key);
    free(s->idx);
    free(s->key2);
    free(s->idx2);
}

static aw_status sap_init(sap *s, const cworld *w) {
    memset(s, 0, sizeof *s);
    s->w = w;
    s->key = malloc(w->n * sizeof(uint32_t));
    s->idx = malloc(w->n * sizeof(uint32_t));
    s->key2 = malloc(w->n * sizeof(uint32_t));
    s->idx2 = malloc(w->n * sizeof(uint32_t));
    if (!s->key || !s->idx || !s->key2 || !s->idx2) {
        sap_free(s);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "collision: out of memory for sort-and-sweep");
    }
    return AW_OK;
}

/* Sorts by AABB min x every frame (an LSD radix sort of the float bits, no allocation), then
 * sweeps: each interval meets the following ones until their min passes its max. */
static uint64_t sap_pairs(void *state) {
    sap *s = state;
    const cworld *w = s->w;
    uint32_t n = w->n;
    for (uint32_t i = 0; i < n; i++) {
        float lo = w->x[i] - w->r[i];
        uint32_t b;
        memcpy(&b, &lo, sizeof b);
        s->key[i] = (b & 0x80000000u) ? ~b : b | 0x80000000u; /* order-preserving */
        s->idx[i] = i;
    }
    uint32_t *k = s->key, *v = s->idx, *k2 = s->key2, *v2 = s->idx2;
    for (uint32_t shift = 0; shift < 32; shift += 11) {
        uint32_t count[2048] = {0};
        for (uint32_t i = 0; i < n; i++) count[(k[i] >> shift) & 2047u]++;
        uint32_t run = 0;
        for (uint32_t d = 0; d < 2048; d++) {
            uint32_t c = count[d];
            count[d] = run;
            run += c;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint32_t at = count[(k[i] >> shift) & 2047u]++;
            k2[at] = k[i];
            v2[at] = v[i];
        }
        uint32_t *t = k;
        k = k2;
        k2 = t;
        t = v;
        v = v2;
        v2 = t;
    }
    uint64_t pairs = 0;
    for (uint32_t a = 0; a < n; a++) {
        uint32_t i = v[a];
        /* A hair of slack so rounding in x - r or x + r never ends the sweep before a pair the
         * exact test accepts. */
        float hi = w->x[i] + w->r[i], slack = 1e-4f + fabsf(hi) * 1e-6f;
        for (uint32_t c = a + 1; c < n; c++) {
            uint32_t j = v[c];
            if (w->x[j] - w->r[j] > hi + slack) break;
            pairs += overlap(w, i, j);
        }
    }
    return pairs;
}

/* ---------------------------------------------------------------- the Week 8 spatial hash */

typedef struct rvec { /* Rust's Vec<u32>: grows 0 -> 4 -> 8 ... by realloc */
    uint32_t *ptr;
    uint32_t len, cap;
} rvec;

typedef struct rbucket {
    int32_t key[3];
    rvec v;
} rbucket;

typedef struct rhash {
    const cworld *w;
    float cell, inv_cell;
    uint8_t *ctrl; /* 0x80: empty, else the hash's top 7 bits */
    rbucket *buckets;
    uint32_t mask, items, growth_left;
    uint64_t k0, k1; /* RandomState keys */
    uint64_t allocs; /* allocator calls, to show what the frame costs */
} rhash;

#define RH_EMPTY 0x80u

static bool rvec_reserve(rhash *h, rvec *v, uint32_t need) {
    if (need <= v->cap) return true;
    uint32_t cap = v->cap ? v->cap * 2 : 4;
    if (cap < need) cap = need;
    uint32_t *p = realloc(v->ptr, (size_t)cap * sizeof(uint32_t));
    if (!p) return false;
    h->allocs++;
    v->ptr = p;
    v->cap = cap;
    return true;
}

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                         \
    do {                                                                                                 \
        v0 += v1;                                                                                        \
        v1 = ROTL(v1, 13);                                                                               \
        v1 ^= v0;                                                                                        \
        v0 = ROTL(v0, 32);                                                                               \
        v2 += v3;                                                                                        \
        v3 = ROTL(v3, 16);                                                                               \
        v3 ^= v2;                                                                                        \
        v0 += v3;                                                                                        \
        v3 = ROTL(v3, 21);                                                                               \
        v3 ^= v0;                                                                                        \
        v2 += v1;                                                                                        \
        v1 = ROTL(v1, 17);                                                                               \
        v1 ^= v2;                                                                                        \
        v2 = ROTL(v2, 32);                                                                               \
    } while (0)

/* SipHash-1-3 of the 12 bytes a (i32, i32, i32) key feeds the hasher, as std's DefaultHasher. */
static uint64_t sip13(uint64_t k0, uint64_t k1, const int32_t key[3]) {
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    uint64_t m;
    memcpy(&m, key, 8);
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
    uint32_t tail;
    memcpy(&tail, key + 2, 4);
    uint64_t b = ((uint64_t)12 << 56) | tail;
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static bool rhash_resize(rhash *h, uint32_t buckets) {
    uint8_t *ctrl = malloc(buckets);
    rbucket *b = malloc((size_t)buckets * sizeof *b);
    if (!ctrl || !b) {
        free(ctrl);
        free(b);
        return false;
    }
    h->allocs += 2;
    memset(ctrl, RH_EMPTY, buckets);
    uint32_t mask = buckets - 1;
    if (h->ctrl) {
        for (uint32_t i = 0; i <= h->mask; i++) {
            if (h->ctrl[i] == RH_EMPTY) continue;
            uint64_t hv = sip13(h->k0, h->k1, h->buckets[i].key);
            uint32_t pos = (uint32_t)hv & mask;
            while (ctrl[pos] != RH_EMPTY) pos = (pos + 1) & mask;
            ctrl[pos] = (uint8_t)(hv >> 57);
            b[pos] = h->buckets[i];
        }
        free(h->ctrl);
        free(h->buckets);
    }
    h->ctrl = ctrl;
    h->buckets = b;
    h->mask = mask;
    h->growth_left = buckets / 8 * 7 - h->items;
    return true;
}

/* grid.entry(key).or_default() */
static rvec *rhash_entry(rhash *h, const int32_t key[3]) {
    uint64_t hv = sip13(h->k0, h->k1, key);
    uint8_t h2 = (uint8_t)(hv >> 57);
    for (;;) {
        uint32_t pos = (uint32_t)hv & h->mask;
        while (h->ctrl[pos] != RH_EMPTY) {
            rbucket *b = &h->buckets[pos];
            if (h->ctrl[pos] == h2 && b->key[0] == key[0] && b->key[1] == key[1] && b->key[2] == key[2]) return &b->v;
            pos = (pos + 1) & h->mask;
        }
        if (h->growth_left == 0) {
            if (!rhash_resize(h, (h->mask + 1) * 2)) return NULL;
            continue;
        }
        h->ctrl[pos] = h2;
        h->buckets[pos] = (rbucket){.key = {key[0], key[1], key[2]}};
        h->items++;
        h->growth_left--;
        return &h->buckets[pos].v;
    }
}

static const rvec *rhash_get(const rhash *h, const int32_t key[3]) {
    uint64_t hv = sip13(h->k0, h->k1, key);
    uint8_t h2 = (uint8_t)(hv >> 57);
    uint32_t pos = (uint32_t)hv & h->mask;
    while (h->ctrl[pos] != RH_EMPTY) {
        const rbucket *b = &h->buckets[pos];
        if (h->ctrl[pos] == h2 && b->key[0] == key[0] && b->key[1] == key[1] && b->key[2] == key[2]) return &b->v;
        pos = (pos + 1) & h->mask;
    }
    return NULL;
}

/* clear(): drops every Vec, keeps the table. */
static void rhash_clear(rhash *h) {
    for (uint32_t i = 0; i <= h->mask; i++)
        if (h->ctrl[i] != RH_EMPTY) free(h->buckets[i].v.ptr);
    memset(h->ctrl, RH_EMPTY, (size_t)h->mask + 1);
    h->items = 0;
    h->growth_left = (h->mask + 1) / 8 * 7;
}

static void rhash_free(rhash *h) {
    if (h->ctrl) rhash_clear(h);
    free(h->ctrl);
    free(h->buckets);
    memset(h, 0, sizeof *h);
}

static aw_status rhash_init(rhash *h, const cworld *w, uint64_t seed) {
    memset(h, 0, sizeof *h);
    h->w = w;
    h->cell = HASH_CELL;
    h->inv_cell = 1.0f / HASH_CELL;
    h->k0 = aw_hash_u64(seed);
    h->k1 = aw_hash_u64(seed + 1);
    if (!rhash_resize(h, 4)) return aw_error(AW_ERR_OUT_OF_MEMORY, "collision: out of memory for the hash map");
    return AW_OK;
}

static inline int32_t to_cell(float v, float inv) {
    return (int32_t)floorf(v * inv); /* (pos * inv_cell_size).floor() as i32 */
}

static inline void sort_u32(uint32_t *a, uint32_t n) {
    /* sort_unstable: insertion sort for short slices (as Rust's for len <= 20), else a heap sort. */
    if (n <= 20) {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t v = a[i], j = i;
            while (j > 0 && a[j - 1] > v) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    for (uint32_t start = n / 2; start-- > 0;) {
        for (uint32_t root = start;;) {
            uint32_t child = 2 * root + 1;
            if (child >= n) break;
            if (child + 1 < n && a[child] < a[child + 1]) child++;
            if (a[root] >= a[child]) break;
            uint32_t t = a[root];
            a[root] = a[child];
            a[child] = t;
            root = child;
        }
    }
    for (uint32_t end = n - 1; end > 0; end--) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        for (uint32_t root = 0;;) {
            uint32_t child = 2 * root + 1;
            if (child >= end) break;
            if (child + 1 < end && a[child] < a[child + 1]) child++;
            if (a[root] >= a[child]) break;
            t = a[root];
            a[root] = a[child];
            a[child] = t;
            root = child;
        }
    }
}

static uint64_t hash_pairs(void *state) {
    rhash *h = state;
    const cworld *w = h->w;
    const float inv = h->inv_cell;
    rhash_clear(h);
    for (uint32_t i = 0; i < w->n; i++) {
        float r = w->r[i];
        int32_t x0 = to_cell(w->x[i] - r, inv), x1 = to_cell(w->x[i] + r, inv);
        int32_t y0 = to_cell(w->y[i] - r, inv), y1 = to_cell(w->y[i] + r, inv);
        int32_t z0 = to_cell(w->z[i] - r, inv), z1 = to_cell(w->z[i] + r, inv);
        for (int32_t x = x0; x <= x1; x++)
            for (int32_t y = y0; y <= y1; y++)
                for (int32_t z = z0; z <= z1; z++) {
                    rvec *v = rhash_entry(h, (int32_t[3]){x, y, z});
                    if (!v || !rvec_reserve(h, v, v->len + 1)) return UINT64_MAX;
                    v->ptr[v->len++] = i;
                }
    }
    uint64_t pairs = 0;
    for (uint32_t i = 0; i < w->n; i++) {
        float r = w->r[i];
        int32_t x0 = to_cell(w->x[i] - r, inv), x1 = to_cell(w->x[i] + r, inv);
        int32_t y0 = to_cell(w->y[i] - r, inv), y1 = to_cell(w->y[i] + r, inv);
        int32_t z0 = to_cell(w->z[i] - r, inv), z1 = to_cell(w->z[i] + r, inv);
        rvec found = {0}; /* query_unique's fresh Vec */
        for (int32_t x = x0; x <= x1; x++)
            for (int32_t y = y0; y <= y1; y++)
                for (int32_t z = z0; z <= z1; z++) {
                    const rvec *v = rhash_get(h, (int32_t[3]){x, y, z});
                    if (!v || !v->len) continue;
                    if (!rvec_reserve(h, &found, found.len + v->len)) return UINT64_MAX;
                    memcpy(found.ptr + found.len, v->ptr, v->len * sizeof(uint32_t));
                    found.len += v->len;
                }
        sort_u32(found.ptr, found.len);
        uint32_t u = 0;
        for (uint32_t k = 0; k < found.len; k++)
            if (!u || found.ptr[u - 1] != found.ptr[k]) found.ptr[u++] = found.ptr[k];
        for (uint32_t k = 0; k < u; k++)
            if (i < found.ptr[k]) pairs += overlap(w, i, found.ptr[k]);
        free(found.ptr);
    }
    return pairs;
}

/* ---------------------------------------------------------------- a simple grid */

/* The textbook single-threaded uniform grid on plain arrays (cell = diameter, counting sort,
 * per cell: itself and its four forward neighbours): the reference DESIGN.md quotes (33 us at
 * 1k, 3.9 ms at 100k on the reference machine), measured here to calibrate this machine. */
typedef struct simple {
    const cworld *w;
    uint32_t width, height;
    uint32_t *start, *items;
} simple;

static void simple_free(simple *s) {
    free(s->start);
    free(s->items);
}

static aw_status simple_init(simple *s, const cworld *w) {
    memset(s, 0, sizeof *s);
    s->w = w;
    s->width = (uint32_t)ceilf(w->side / (2 * RADIUS)) + 1;
    s->height = s->width;
    s->start = malloc(((size_t)s->width * s->height + 1) * sizeof(uint32_t));
    s->items = malloc(w->n * sizeof(uint32_t));
    if (!s->start || !s->items) {
        simple_free(s);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "collision: out of memory for the simple grid");
    }
    return AW_OK;
}

static inline uint32_t simple_cell(const simple *s, uint32_t i) {
    uint32_t cx = (uint32_t)(s->w->x[i] * (1.0f / (2 * RADIUS))), cz = (uint32_t)(s->w->z[i] * (1.0f / (2 * RADIUS)));
    return cz * s->width + cx;
}

static uint64_t simple_pairs(void *state) {
    simple *s = state;
    const cworld *w = s->w;
    uint32_t cells = s->width * s->height;
    memset(s->start, 0, ((size_t)cells + 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < w->n; i++) s->start[simple_cell(s, i) + 1]++;
    for (uint32_t c = 0; c < cells; c++) s->start[c + 1] += s->start[c];
    for (uint32_t i = 0; i < w->n; i++) s->items[s->start[simple_cell(s, i)]++] = i;
    for (uint32_t c = cells; c > 0; c--) s->start[c] = s->start[c - 1];
    s->start[0] = 0;
    uint64_t pairs = 0;
    for (uint32_t cz = 0; cz < s->height; cz++)
        for (uint32_t cx = 0; cx < s->width; cx++) {
            uint32_t c = cz * s->width + cx;
            for (uint32_t a = s->start[c]; a < s->start[c + 1]; a++) {
                uint32_t i = s->items[a];
                for (uint32_t b = a + 1; b < s->start[c + 1]; b++) pairs += overlap(w, i, s->items[b]);
                const int off[4][2] = {{1, 0}, {-1, 1}, {0, 1}, {1, 1}};
                for (int k = 0; k < 4; k++) {
                    int nx = (int)cx + off[k][0], nz = (int)cz + off[k][1];
                    if (nx < 0 || nx >= (int)s->width || nz >= (int)s->height) continue;
                    uint32_t n = (uint32_t)nz * s->width + (uint32_t)nx;
                    for (uint32_t b = s->start[n]; b < s->start[n + 1]; b++) pairs += overlap(w, i, s->items[b]);
                }
            }
        }
    return pairs;
}

/* ---------------------------------------------------------------- the engine's grid */

typedef struct grid {
    aw_world *world;
    aw_physics *physics;
    float dt; /* per step: 0 for a still world, 1/60 s for a moving one */
    bool failed;
} grid;

static void grid_free(grid *g) {
    aw_world_destroy(g->world);
    memset(g, 0, sizeof *g);
}

/* moving: every collider also gets a Velocity (up to 0.5 m/s on x and z, seeded) and each step
 * integrates it, so positions change every step, as in a game; otherwise the world stands still. */
static aw_status grid_init(grid *g, const cworld *w, uint32_t threads, bool scalar, bool moving) {
    memset(g, 0, sizeof *g);
    g->dt = moving ? 1.0f / 60.0f : 0.0f;
    g->world = aw_world_create(&(aw_world_desc){.threads = threads});
    if (!g->world) return aw_last_status();
    g->physics = aw_physics_create(g->world, &(aw_physics_desc){.min_x = 0, .max_x = w->side, .min_z = 0,
                                                                .max_z = w->side, .no_response = true,
                                                                .no_events = true, .scalar_only = scalar,
                                                                .integrate = moving});
    if (!g->physics) {
        aw_status st = aw_last_status();
        grid_free(g);
        return st;
    }
    aw_physics_ids ids = aw_physics_get_ids(g->physics);
    aw_vec3 *pos = malloc((size_t)w->n * sizeof *pos);
    aw_collider *col = calloc(w->n, sizeof *col);
    aw_velocity *vel = calloc(w->n, sizeof *vel);
    aw_status st = AW_OK;
    if (!pos || !col || !vel) {
        st = aw_error(AW_ERR_OUT_OF_MEMORY, "collision: out of memory");
    } else {
        aw_rng rng;
        aw_rng_seed(&rng, 0x6d6f7665u ^ w->n);
        for (uint32_t i = 0; i < w->n; i++) {
            pos[i] = (aw_vec3){w->x[i], w->y[i], w->z[i]};
            col[i].radius = w->r[i];
            vel[i] = (aw_velocity){aw_rng_float(&rng) - 0.5f, 0.0f, aw_rng_float(&rng) - 0.5f};
        }
        const aw_component comps[3] = {ids.position, ids.collider, ids.velocity};
        const void *const data[3] = {pos, col, vel};
        st = aw_entity_create_bulk(g->world, &(aw_bulk_desc){.count = w->n, .components = comps,
                                                             .component_count = moving ? 3 : 2, .data = data});
    }
    free(pos);
    free(col);
    free(vel);
    if (st) grid_free(g);
    return st;
}

static uint64_t grid_pairs(void *state) {
    grid *g = state;
    if (aw_physics_step(g->physics, g->dt) != AW_OK) {
        g->failed = true;
        return UINT64_MAX;
    }
    return aw_physics_get_stats(g->physics).contacts;
}

/* ---------------------------------------------------------------- the run */

typedef struct run {
    const aw_bench_options *opt;
    aw_bench_report *report;
    aw_status status; /* the report could not grow */
} run;

typedef uint64_t (*pairs_fn)(void *state);

typedef struct timing {
    double *samples;
    uint32_t count;
    double median;
    uint64_t pairs;
    bool ran;
} timing;

/* Warms up twice, then times `count` frames; unit_ns converts to the unit reported. */
/* Times `count` frames. A still world must find the same pairs every frame; a moving one
 * (steady false) only must not fail. */
static bool time_frames_of(pairs_fn fn, void *state, uint32_t count, double unit_ns, timing *t, bool steady) {
    t->samples = malloc(count * sizeof(double));
    if (!t->samples) return false;
    t->pairs = fn(state);
    uint64_t again = fn(state);
    if ((steady && again != t->pairs) || t->pairs == UINT64_MAX || again == UINT64_MAX) return false;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t t0 = aw_time_ns();
        uint64_t p = fn(state);
        uint64_t t1 = aw_time_ns();
        if (steady ? p != t->pairs : p == UINT64_MAX) return false;
        t->samples[i] = (double)(t1 - t0) / unit_ns;
    }
    t->count = count;
    double *scratch = malloc(count * sizeof(double));
    if (!scratch) return false;
    memcpy(scratch, t->samples, count * sizeof(double));
    t->median = aw_bench_median(scratch, count);
    free(scratch);
    t->ran = true;
    return true;
}

static bool time_frames(pairs_fn fn, void *state, uint32_t count, double unit_ns, timing *t) {
    return time_frames_of(fn, state, count, unit_ns, t, true);
}

static void add(run *r, const char *name, const char *unit, const timing *t, const timing *baseline, double target,
                bool target_is_min) {
    if (r->status || !t->ran) return;
    aw_bench_entry e = {.name = name, .unit = unit, .samples = t->samples, .sample_count = t->count,
                        .target = target, .target_is_min = target_is_min};
    if (baseline && baseline->ran) {
        e.baseline_samples = baseline->samples;
        e.baseline_count = baseline->count;
    }
    r->status = aw_bench_report_add(r->report, &e);
}

static void add_value(run *r, const char *name, const char *unit, double value, double target, bool target_is_min) {
    if (r->status) return;
    aw_bench_entry e = {.name = name, .unit = unit, .samples = &value, .sample_count = 1, .target = target,
                        .target_is_min = target_is_min};
    r->status = aw_bench_report_add(r->report, &e);
}

typedef struct size_case {
    uint32_t n;
    const char *label;
    bool clustered;
    double grid_target_us; /* 0: none */
} size_case;

static uint32_t frames_for(uint32_t n, uint32_t reps) {
    uint32_t base = n <= 1000 ? 400 : (n <= 10000 ? 100 : (n <= 100000 ? 20 : 4));
    uint32_t f = base * reps / AW_BENCH_DEFAULT_REPS;
    return f < 3 ? 3 : f;
}

static void fail(run *r, const char *what) {
    fprintf(stderr, "collision: %s: %s\n", what, aw_last_error());
    aw_bench_report_fail(r->report);
}

static void run_case(run *r, const size_case *c) {
    const aw_bench_options *o = r->opt;
    const char *kind = c->clustered ? "clustered_" : "";
    char name[AW_BENCH_NAME_MAX];
#define NAME(variant) (snprintf(name, sizeof name, "%s_%s%s_%s", variant, kind, c->label, c->n >= 1000000 ? "ms" : "us"), name)
    bool want_grid = aw_bench_selected(o, NAME("grid")), want_hash = aw_bench_selected(o, NAME("hash"));
    bool want_speed = !c->clustered && c->n == 10000 && aw_bench_selected(o, "speedup_vs_hash_10k");
    bool want_sap = c->n <= 100000 && aw_bench_selected(o, NAME("sap"));
    bool want_brute = c->n <= 10000 && aw_bench_selected(o, NAME("brute"));
    bool want_1t = !c->clustered && c->n == 100000 && aw_bench_selected(o, NAME("grid_1t"));
    bool want_scalar = c->n <= 100000 && aw_bench_selected(o, NAME("grid_scalar"));
    bool want_simple = c->n <= 100000 && aw_bench_selected(o, NAME("simple"));
    bool want_moving = !c->clustered && c->n <= 100000 && aw_bench_selected(o, NAME("grid_moving"));
    want_hash = c->n <= 100000 && (want_hash || want_speed);
    want_grid = want_grid || want_speed;
    if (!want_grid && !want_hash && !want_sap && !want_brute && !want_1t && !want_simple && !want_scalar && !want_moving)
        return;

    cworld w;
    if (cworld_make(&w, c->n, c->clustered, o->seed)) {
        fail(r, "world");
        return;
    }
    uint32_t frames = frames_for(c->n, o->reps);
    double unit = c->n >= 1000000 ? 1e6 : 1e3;
    timing tg = {0}, th = {0}, ts = {0}, tb = {0}, t1 = {0}, tq = {0}, tv = {0}, tm = {0};
    uint64_t grid_allocs = 0, hash_allocs = 0;
    if (want_grid) {
        grid g;
        if (grid_init(&g, &w, 2, false, false)) {
            fail(r, "grid world");
        } else {
            grid_pairs(&g); /* first frame: buffers grow to fit */
            aw_alloc_stats a0 = aw_heap_stats();
            if (!time_frames(grid_pairs, &g, frames, unit, &tg)) fail(r, NAME("grid"));
            aw_alloc_stats d = aw_alloc_stats_diff(a0, aw_heap_stats());
            grid_allocs = d.allocs + d.reallocs;
            if (o->verbose) {
                aw_physics_stats s = aw_physics_get_stats(g.physics);
                fprintf(stderr, "collision: %s: cell %.3f grid %ux%u, %llu tests, %u contacts; gather %.1f grid %.1f "
                                "pairs %.1f us\n",
                        NAME("grid"), s.cell_size, s.grid_width, s.grid_height, (unsigned long long)s.pair_tests,
                        s.contacts, s.gather_ns / 1e3, s.grid_ns / 1e3, s.pairs_ns / 1e3);
            }
            grid_free(&g);
        }
    }
    if (want_1t) {
        grid g;
        if (grid_init(&g, &w, 1, false, false)) {
            fail(r, "grid world (1 thread)");
        } else {
            if (!time_frames(grid_pairs, &g, frames, unit, &t1)) fail(r, NAME("grid_1t"));
            grid_free(&g);
        }
    }
    if (want_scalar) { /* the same engine without its SIMD paths, 2 threads */
        grid g;
        if (grid_init(&g, &w, 2, true, false)) {
            fail(r, "grid world (scalar)");
        } else {
            if (!time_frames(grid_pairs, &g, frames, unit, &tv)) fail(r, NAME("grid_scalar"));
            grid_free(&g);
        }
    }
    if (want_moving) { /* the same world walking (its pairs differ: not in the check below) */
        grid g;
        if (grid_init(&g, &w, 2, false, true)) {
            fail(r, "grid world (moving)");
        } else {
            grid_pairs(&g);
            if (!time_frames_of(grid_pairs, &g, frames, unit, &tm, false)) fail(r, NAME("grid_moving"));
            grid_free(&g);
        }
    }
    if (want_hash) {
        rhash h;
        if (rhash_init(&h, &w, o->seed)) {
            fail(r, "hash");
        } else {
            uint64_t before = h.allocs;
            if (!time_frames(hash_pairs, &h, frames, unit, &th)) fail(r, NAME("hash"));
            hash_allocs = (h.allocs - before) / (frames + 2);
            rhash_free(&h);
        }
    }
    if (want_sap) {
        sap s;
        if (sap_init(&s, &w)) {
            fail(r, "sap");
        } else {
            if (!time_frames(sap_pairs, &s, frames, unit, &ts)) fail(r, NAME("sap"));
            sap_free(&s);
        }
    }
    if (want_simple) {
        simple q;
        if (simple_init(&q, &w)) {
            fail(r, "simple");
        } else {
            if (!time_frames(simple_pairs, &q, frames, unit, &tq)) fail(r, NAME("simple"));
            simple_free(&q);
        }
    }
    if (want_brute) {
        uint32_t bf = frames / 20 < 3 ? 3 : frames / 20;
        if (!time_frames(brute_pairs, &w, bf, unit, &tb)) fail(r, NAME("brute"));
    }

    /* Every variant must find the same pairs. */
    const timing *all[] = {&tg, &t1, &th, &ts, &tb, &tq, &tv};
    const char *names[] = {"grid", "grid_1t", "hash", "sap", "brute", "simple", "grid_scalar"};
    uint64_t pairs = UINT64_MAX;
    for (int i = 0; i < 7; i++) {
        if (!all[i]->ran) continue;
        if (pairs == UINT64_MAX) pairs = all[i]->pairs;
        if (all[i]->pairs != pairs) {
            aw_error(AW_ERR_PARSE, "%s found %llu pairs, another variant %llu", names[i],
                     (unsigned long long)all[i]->pairs, (unsigned long long)pairs);
            fail(r, c->label);
        }
    }
    if (want_grid) add(r, NAME("grid"), c->n >= 1000000 ? "ms" : "us", &tg, th.ran ? &th : NULL, c->grid_target_us, false);
    if (want_1t) add(r, NAME("grid_1t"), "us", &t1, NULL, 0, false);
    if (want_scalar) add(r, NAME("grid_scalar"), c->n >= 1000000 ? "ms" : "us", &tv, NULL, 0, false);
    if (want_moving) add(r, NAME("grid_moving"), "us", &tm, NULL, 0, false);
    if (want_hash) add(r, NAME("hash"), "us", &th, NULL, 0, false);
    if (want_sap) add(r, NAME("sap"), "us", &ts, NULL, 0, false);
    if (want_brute) add(r, NAME("brute"), "us", &tb, NULL, 0, false);
    if (want_simple) add(r, NAME("simple"), "us", &tq, NULL, 0, false);
    if (want_speed && tg.ran && th.ran) add_value(r, "speedup_vs_hash_10k", "x", th.median / tg.median, 5.0, true);
    if (pairs != UINT64_MAX) {
        snprintf(name, sizeof name, "pairs_%s%s", kind, c->label);
        add_value(r, name, "pairs", (double)pairs, 0, false);
    }
    if (tg.ran) {
        snprintf(name, sizeof name, "grid_allocs_per_frame_%s%s", kind, c->label);
        add_value(r, name, "allocs", (double)grid_allocs / frames, 0, false);
        if (grid_allocs) {
            aw_error(AW_ERR_CAPACITY, "%llu heap allocations in %u steady-state frames",
                     (unsigned long long)grid_allocs, frames);
            fail(r, name);
        }
    }
    if (th.ran) {
        snprintf(name, sizeof name, "hash_allocs_per_frame_%s%s", kind, c->label);
        add_value(r, name, "allocs", (double)hash_allocs, 0, false);
    }
#undef NAME
    free(tg.samples);
    free(t1.samples);
    free(th.samples);
    free(ts.samples);
    free(tb.samples);
    free(tq.samples);
    free(tv.samples);
    cworld_free(&w);
}

aw_status aw_bench_collision_run(const aw_bench_options *options, aw_bench_report *report) {
    if (!report) return aw_error(AW_ERR_INVALID_ARG, "bench: report is required");
    aw_bench_options o = aw_bench_options_resolve(options);
    run r = {.opt = &o, .report = report};
    const size_case cases[] = {
        {1000, "1k", false, 10.0},        {10000, "10k", false, 150.0},
        {100000, "100k", false, 1500.0},  {1000000, "1M", false, 0.0},
        {10000, "10k", true, 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !r.status; i++) {
        if (cases[i].n > o.entities) continue;
        if (o.verbose) fprintf(stderr, "collision: %s%s\n", cases[i].clustered ? "clustered " : "", cases[i].label);
        run_case(&r, &cases[i]);
    }
    return r.status;
}
