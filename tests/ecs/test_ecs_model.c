/* Randomized model-based test: seeded sequences of ECS operations applied both to the ECS and to a
 * naive reference model, compared after every step (touched entities) and in full periodically. */
#include "ecs_test_util.h"

/* ---------------------------------------------------------------- components */

enum { C_TAG, C_U8, C_I32, C_V3, C_AL64, C_BIG, NC };
static const size_t g_size[NC] = {0, 1, 4, 12, 64, 136};
static const size_t g_align[NC] = {0, 1, 4, 4, 64, 8};
static const char *const g_name[NC] = {"Tag", "U8", "I32", "V3", "Al64", "Big"};
static size_t g_off[NC]; /* offset of each component's bytes in a model record */
enum { DATA_BYTES = 0 + 1 + 4 + 12 + 64 + 136, BIG_FILL = 0xA5 };

/* Big has every hook: the ctor fills 0xA5 (so "constructed" differs from "zeroed"), moves and
 * copies are plain, and live instances are counted. */
typedef struct big_hooks {
    long live, ctor, dtor, errors;
} big_hooks;

static void big_ctor(void *ptr, uint32_t count, void *user) {
    big_hooks *h = user;
    memset(ptr, BIG_FILL, (size_t)count * 136);
    h->live += count;
    h->ctor += count;
}
static void big_dtor(void *ptr, uint32_t count, void *user) {
    big_hooks *h = user;
    (void)ptr;
    h->live -= count;
    h->dtor += count;
    if (h->live < 0) h->errors++;
}
static void big_move(void *dst, void *src, uint32_t count, void *user) {
    (void)user;
    memcpy(dst, src, (size_t)count * 136);
}
static void big_copy(void *dst, const void *src, uint32_t count, void *user) {
    (void)user;
    memcpy(dst, src, (size_t)count * 136);
}

/* ---------------------------------------------------------------- RNG */

typedef struct rng {
    uint64_t s;
} rng;
static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t rng_below(rng *r, uint32_t n) {
    return n ? (uint32_t)(rng_next(r) % n) : 0;
}
static bool rng_chance(rng *r, uint32_t percent) {
    return rng_below(r, 100) < percent;
}
static void rng_bytes(rng *r, unsigned char *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)rng_next(r);
}

/* ---------------------------------------------------------------- model */

typedef struct ment {
    aw_entity id;
    unsigned mask;
    unsigned char data[DATA_BYTES];
} ment;

/* id -> slot, open addressing with backward-shift deletion */
typedef struct idmap {
    aw_entity *keys;
    uint32_t *vals;
    uint32_t cap; /* power of two */
} idmap;

static uint32_t idmap_hash(aw_entity k, uint32_t cap) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k & (cap - 1);
}
static uint32_t idmap_get(const idmap *m, aw_entity k) {
    for (uint32_t i = idmap_hash(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == 0) return UINT32_MAX;
        if (m->keys[i] == k) return m->vals[i];
    }
}
static void idmap_put(idmap *m, aw_entity k, uint32_t v) {
    for (uint32_t i = idmap_hash(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == 0 || m->keys[i] == k) {
            m->keys[i] = k;
            m->vals[i] = v;
            return;
        }
    }
}
static void idmap_del(idmap *m, aw_entity k) {
    uint32_t mask = m->cap - 1, i = idmap_hash(k, m->cap);
    while (m->keys[i] != k) {
        if (m->keys[i] == 0) return;
        i = (i + 1) & mask;
    }
    m->keys[i] = 0;
    for (uint32_t j = (i + 1) & mask; m->keys[j] != 0; j = (j + 1) & mask) {
        uint32_t h = idmap_hash(m->keys[j], m->cap);
        /* move j back to i if its home is not in (i, j] */
        bool between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!between) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            i = j;
        }
    }
}

enum { STALE_RING = 256, MAX_QUERIES = 12 };

typedef struct qspec {
    int comp[8];
    aw_term_oper oper[8];
    uint32_t n;
} qspec;

typedef struct model {
    /* ECS side */
    test_alloc ta;
    aw_world *w;
    aw_component c[NC];
    big_hooks big;
    aw_query *q[MAX_QUERIES];
    qspec qs[MAX_QUERIES];
    uint32_t nq;
    aw_cmd_buffer *cb;
    /* reference side */
    ment *e;
    uint32_t n, maxpop;
    idmap map;
    aw_entity stale[STALE_RING];
    uint32_t nstale, stale_head;
    uint32_t peak;
    uint32_t *seen; /* per slot, stamped with `epoch` during query checks */
    uint32_t epoch;
    /* context for messages */
    uint64_t seed;
    uint32_t step;
    const char *op;
    rng r;
} model;

#define MFAIL(m, ...) model_fail((m), __FILE__, __LINE__, __VA_ARGS__)

static void model_fail(const model *m, const char *file, int line, const char *fmt, ...) AW_PRINTF(4, 5);
static void model_fail(const model *m, const char *file, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("model mismatch: seed %llu, step %u, op %s: %s (last error: \"%s\")\n",
                (unsigned long long)m->seed, m->step, m->op, msg, aw_last_error());
    _fail(file, line);
}

static void default_bytes(int k, unsigned char *out) {
    memset(out, k == C_BIG ? BIG_FILL : 0, g_size[k]);
}

static void stale_push(model *m, aw_entity id) {
    m->stale[m->stale_head] = id;
    m->stale_head = (m->stale_head + 1) % STALE_RING;
    if (m->nstale < STALE_RING) m->nstale++;
}

static uint32_t model_add_entity(model *m, aw_entity id) {
    if (id == AW_ENTITY_NULL) MFAIL(m, "got AW_ENTITY_NULL for a new entity");
    if (idmap_get(&m->map, id) != UINT32_MAX)
        MFAIL(m, "new entity %llx duplicates a live id", (unsigned long long)id);
    for (uint32_t i = 0; i < m->nstale; i++)
        if (m->stale[i] == id) MFAIL(m, "new entity %llx reuses a destroyed id", (unsigned long long)id);
    if (m->n >= m->maxpop + 4096) MFAIL(m, "model population overflow");
    uint32_t s = m->n++;
    if (m->n > m->peak) m->peak = m->n;
    m->e[s].id = id;
    m->e[s].mask = 0;
    memset(m->e[s].data, 0, DATA_BYTES);
    idmap_put(&m->map, id, s);
    return s;
}

static void model_kill(model *m, uint32_t s) {
    aw_entity id = m->e[s].id;
    idmap_del(&m->map, id);
    stale_push(m, id);
    uint32_t last = --m->n;
    if (s != last) {
        m->e[s] = m->e[last];
        idmap_put(&m->map, m->e[s].id, s);
    }
}

static bool spec_matches(const qspec *q, unsigned mask) {
    for (uint32_t t = 0; t < q->n; t++) {
        bool has = (mask >> q->comp[t]) & 1;
        if (q->oper[t] == AW_TERM_WITH && !has) return false;
        if (q->oper[t] == AW_TERM_WITHOUT && has) return false;
    }
    return true;
}

/* ---------------------------------------------------------------- checks */

static void check_entity(model *m, uint32_t s) {
    const ment *me = &m->e[s];
    if (!aw_entity_alive(m->w, me->id)) MFAIL(m, "entity %llx should be alive", (unsigned long long)me->id);
    for (int k = 0; k < NC; k++) {
        bool want = (me->mask >> k) & 1;
        bool has = aw_entity_has(m->w, me->id, m->c[k]);
        if (has != want)
            MFAIL(m, "entity %llx: has(%s) = %d, expected %d", (unsigned long long)me->id, g_name[k], has,
                  want);
        if (g_size[k] == 0) continue;
        const unsigned char *p = aw_entity_get_const(m->w, me->id, m->c[k]);
        if (!want) {
            if (p) MFAIL(m, "entity %llx: get(%s) should be NULL", (unsigned long long)me->id, g_name[k]);
            continue;
        }
        if (!p) MFAIL(m, "entity %llx: get(%s) returned NULL", (unsigned long long)me->id, g_name[k]);
        if (!test_is_aligned(p, g_align[k]))
            MFAIL(m, "entity %llx: %s at %p not %zu-aligned", (unsigned long long)me->id, g_name[k],
                  (const void *)p, g_align[k]);
        if (memcmp(p, me->data + g_off[k], g_size[k]) != 0) {
            size_t at = 0;
            while (at < g_size[k] && p[at] == me->data[g_off[k] + at]) at++;
            MFAIL(m, "entity %llx: %s bytes differ at offset %zu: got 0x%02x, expected 0x%02x",
                  (unsigned long long)me->id, g_name[k], at, p[at], me->data[g_off[k] + at]);
        }
    }
}

static void check_count(model *m) {
    uint32_t got = aw_world_entity_count(m->w);
    if (got != m->n) MFAIL(m, "entity count %u, expected %u", got, m->n);
}

static void check_refused(model *m, aw_entity id) {
    if (aw_entity_alive(m->w, id)) MFAIL(m, "stale id %llx reported alive", (unsigned long long)id);
    for (int k = 0; k < NC; k++)
        if (aw_entity_has(m->w, id, m->c[k]))
            MFAIL(m, "stale id %llx has %s", (unsigned long long)id, g_name[k]);
    if (aw_entity_get_const(m->w, id, m->c[C_I32]) != NULL)
        MFAIL(m, "get on stale id %llx", (unsigned long long)id);
}

/* Iterates query qi and checks it yields exactly the model's matches, once each, with their bytes. */
static void check_query(model *m, uint32_t qi, bool use_each);

typedef struct each_state {
    model *m;
    uint32_t qi;
    uint32_t rows;
} each_state;

static void check_row(model *m, uint32_t qi, aw_entity id, void *const *columns, uint32_t row) {
    const qspec *q = &m->qs[qi];
    uint32_t s = idmap_get(&m->map, id);
    if (s == UINT32_MAX)
        MFAIL(m, "query %u yielded %llx, which is not alive in the model", qi, (unsigned long long)id);
    if (m->seen[s] == m->epoch) MFAIL(m, "query %u yielded %llx twice", qi, (unsigned long long)id);
    m->seen[s] = m->epoch;
    const ment *me = &m->e[s];
    if (!spec_matches(q, me->mask))
        MFAIL(m, "query %u yielded %llx (mask %x) which does not match", qi, (unsigned long long)id,
              me->mask);
    for (uint32_t t = 0; t < q->n; t++) {
        int k = q->comp[t];
        bool has = (me->mask >> k) & 1;
        bool want_col = g_size[k] && q->oper[t] != AW_TERM_WITHOUT && has;
        if (!want_col) {
            if (columns[t]) MFAIL(m, "query %u term %u (%s): column should be NULL", qi, t, g_name[k]);
            continue;
        }
        if (!columns[t])
            MFAIL(m, "query %u term %u (%s): NULL column for %llx", qi, t, g_name[k], (unsigned long long)id);
        if (!test_is_aligned(columns[t], g_align[k])) MFAIL(m, "query %u term %u: misaligned column", qi, t);
        const unsigned char *p = (const unsigned char *)columns[t] + (size_t)row * g_size[k];
        if (memcmp(p, me->data + g_off[k], g_size[k]) != 0)
            MFAIL(m, "query %u term %u (%s): wrong bytes for %llx", qi, t, g_name[k], (unsigned long long)id);
    }
}

static void each_cb(aw_entity id, void *const *columns, void *user) {
    each_state *es = user;
    check_row(es->m, es->qi, id, columns, 0);
    es->rows++;
}

static void check_query(model *m, uint32_t qi, bool use_each) {
    uint32_t want = 0;
    for (uint32_t s = 0; s < m->n; s++) want += spec_matches(&m->qs[qi], m->e[s].mask);
    uint32_t cnt = aw_query_count(m->q[qi]);
    if (cnt != want) MFAIL(m, "aw_query_count(query %u) = %u, expected %u", qi, cnt, want);
    m->epoch++;
    uint32_t rows = 0;
    if (use_each) {
        each_state es = {m, qi, 0};
        aw_query_each(m->q[qi], each_cb, &es);
        rows = es.rows;
    } else {
        for (aw_iter it = aw_query_iter(m->q[qi]); aw_iter_next(&it);) {
            for (uint32_t r = 0; r < it.count; r++) check_row(m, qi, it.entities[r], it.columns, r);
            rows += it.count;
        }
    }
    if (rows != want) MFAIL(m, "query %u iteration yielded %u rows, expected %u", qi, rows, want);
}

static void full_check(model *m) {
    const char *op = m->op;
    m->op = "full check";
    check_count(m);
    for (uint32_t s = 0; s < m->n; s++) check_entity(m, s);
    for (uint32_t i = 0; i < m->nstale; i++) check_refused(m, m->stale[i]);
    for (uint32_t qi = 0; qi < m->nq; qi++) check_query(m, qi, qi % 2 == 1);
    long with_big = 0;
    for (uint32_t s = 0; s < m->n; s++) with_big += (m->e[s].mask >> C_BIG) & 1;
    if (m->big.live != with_big)
        MFAIL(m, "%ld live Big instances (ctor - dtor), expected %ld", m->big.live, with_big);
    if (m->big.errors) MFAIL(m, "Big dtor ran more often than its ctor");
    if (aw_world_get_stats(m->w).entities != m->n) MFAIL(m, "stats.entities differs from the model");
    m->op = op;
}

/* ---------------------------------------------------------------- operations */

static uint32_t pick_live(model *m) {
    return rng_below(&m->r, m->n);
}

/* A random id that must be refused: a destroyed one, a never-created one, or null. */
static aw_entity pick_stale(model *m) {
    uint32_t roll = rng_below(&m->r, 10);
    if (roll < 7 && m->nstale) return m->stale[rng_below(&m->r, m->nstale)];
    if (roll < 8) return AW_ENTITY_NULL;
    if (roll < 9 && m->n) { /* a live index with a future generation */
        aw_entity live = m->e[pick_live(m)].id;
        return live + ((aw_entity)(1 + rng_below(&m->r, 1000)) << 32);
    }
    return ((aw_entity)rng_below(&m->r, 50) << 32) | (0x40000000u + rng_below(&m->r, 1u << 20));
}

static void op_create(model *m) {
    m->op = "create";
    aw_entity e = aw_entity_create(m->w);
    uint32_t s = model_add_entity(m, e);
    check_entity(m, s);
}

static void op_destroy(model *m) {
    m->op = "destroy";
    uint32_t s = pick_live(m);
    aw_entity id = m->e[s].id;
    aw_status st = aw_entity_destroy(m->w, id);
    if (st != AW_OK) MFAIL(m, "destroy %llx returned %s", (unsigned long long)id, test_status_name(st));
    model_kill(m, s);
    check_refused(m, id);
}

static void op_add(model *m) {
    m->op = "add";
    uint32_t s = pick_live(m);
    int k = (int)rng_below(&m->r, NC);
    ment *me = &m->e[s];
    bool had = (me->mask >> k) & 1;
    aw_status st = aw_entity_add(m->w, me->id, m->c[k]);
    aw_status want = had ? AW_ERR_ALREADY_PRESENT : AW_OK;
    if (st != want)
        MFAIL(m, "add %s to %llx returned %s, expected %s", g_name[k], (unsigned long long)me->id,
              test_status_name(st), test_status_name(want));
    if (!had) {
        me->mask |= 1u << k;
        default_bytes(k, me->data + g_off[k]);
    }
    check_entity(m, s);
}

static void op_remove(model *m) {
    m->op = "remove";
    uint32_t s = pick_live(m);
    int k = (int)rng_below(&m->r, NC);
    ment *me = &m->e[s];
    bool had = (me->mask >> k) & 1;
    aw_status st = aw_entity_remove(m->w, me->id, m->c[k]);
    aw_status want = had ? AW_OK : AW_ERR_NOT_PRESENT;
    if (st != want)
        MFAIL(m, "remove %s from %llx returned %s, expected %s", g_name[k], (unsigned long long)me->id,
              test_status_name(st), test_status_name(want));
    me->mask &= ~(1u << k);
    check_entity(m, s);
}

static void op_set(model *m) {
    m->op = "set";
    uint32_t s = pick_live(m);
    int k = (int)rng_below(&m->r, NC);
    ment *me = &m->e[s];
    unsigned char buf[136];
    rng_bytes(&m->r, buf, g_size[k]);
    aw_status st = aw_entity_set(m->w, me->id, m->c[k], g_size[k] ? buf : NULL, g_size[k]);
    if (st != AW_OK)
        MFAIL(m, "set %s on %llx returned %s", g_name[k], (unsigned long long)me->id, test_status_name(st));
    me->mask |= 1u << k;
    memcpy(me->data + g_off[k], buf, g_size[k]);
    check_entity(m, s);
}

static void op_get(model *m) {
    m->op = "get/has";
    check_entity(m, pick_live(m));
}

static void op_stale(model *m) {
    m->op = "stale";
    aw_entity id = pick_stale(m);
    if (idmap_get(&m->map, id) != UINT32_MAX)
        return; /* (a random never-created id that happens to be live) */
    int k = (int)rng_below(&m->r, NC);
    unsigned char buf[136] = {0};
    aw_status st;
    const char *what;
    switch (rng_below(&m->r, 5)) {
    case 0:
        st = aw_entity_destroy(m->w, id), what = "destroy";
        break;
    case 1:
        st = aw_entity_add(m->w, id, m->c[k]), what = "add";
        break;
    case 2:
        st = aw_entity_remove(m->w, id, m->c[k]), what = "remove";
        break;
    case 3:
        st = aw_entity_set(m->w, id, m->c[k], g_size[k] ? buf : NULL, g_size[k]), what = "set";
        break;
    default:
        aw_clear_error();
        st = aw_entity_get(m->w, id, m->c[C_AL64]) ? AW_OK : aw_last_status();
        what = "get";
        break;
    }
    if (st != AW_ERR_STALE_ENTITY)
        MFAIL(m, "%s on stale id %llx returned %s", what, (unsigned long long)id, test_status_name(st));
    check_refused(m, id);
    check_count(m);
}

static void op_query(model *m) {
    m->op = "query";
    uint32_t qi = rng_below(&m->r, m->nq);
    if (!rng_chance(&m->r, 30)) {
        check_query(m, qi, rng_chance(&m->r, 30));
        return;
    }
    /* iterate with structural changes attempted on the first chunk */
    m->op = "query+lock";
    uint32_t want = 0;
    for (uint32_t s = 0; s < m->n; s++) want += spec_matches(&m->qs[qi], m->e[s].mask);
    m->epoch++;
    uint32_t rows = 0;
    bool first = true;
    for (aw_iter it = aw_query_iter(m->q[qi]); aw_iter_next(&it);) {
        if (first && m->n) {
            first = false;
            uint32_t s = pick_live(m);
            ment *me = &m->e[s];
            int k = (int)rng_below(&m->r, NC);
            aw_clear_error();
            if (aw_entity_create(m->w) != AW_ENTITY_NULL || aw_last_status() != AW_ERR_LOCKED)
                MFAIL(m, "create while iterating was not refused with AW_ERR_LOCKED");
            aw_status st = aw_entity_destroy(m->w, me->id);
            if (st != AW_ERR_LOCKED) MFAIL(m, "destroy while iterating returned %s", test_status_name(st));
            if ((me->mask >> k) & 1) {
                st = aw_entity_remove(m->w, me->id, m->c[k]);
                if (st != AW_ERR_LOCKED) MFAIL(m, "remove while iterating returned %s", test_status_name(st));
                /* writing a present component is allowed */
                unsigned char buf[136];
                rng_bytes(&m->r, buf, g_size[k]);
                st = aw_entity_set(m->w, me->id, m->c[k], g_size[k] ? buf : NULL, g_size[k]);
                if (st != AW_OK)
                    MFAIL(m, "set of a present %s while iterating returned %s", g_name[k],
                          test_status_name(st));
                memcpy(me->data + g_off[k], buf, g_size[k]);
            } else {
                st = aw_entity_add(m->w, me->id, m->c[k]);
                if (st != AW_ERR_LOCKED) MFAIL(m, "add while iterating returned %s", test_status_name(st));
                unsigned char buf[136] = {0};
                st = aw_entity_set(m->w, me->id, m->c[k], g_size[k] ? buf : NULL, g_size[k]);
                if (st != AW_ERR_LOCKED)
                    MFAIL(m, "set of an absent %s while iterating returned %s", g_name[k],
                          test_status_name(st));
            }
            if (m->cb) {
                aw_entity pending = aw_cmd_create(m->cb);
                if (pending == AW_ENTITY_NULL) MFAIL(m, "aw_cmd_create while iterating failed");
                st = aw_cmd_buffer_apply(m->cb);
                if (st != AW_ERR_LOCKED) MFAIL(m, "apply while iterating returned %s", test_status_name(st));
                if (aw_entity_alive(m->w, pending)) MFAIL(m, "locked apply created an entity");
                aw_cmd_buffer_reset(m->cb);
                stale_push(m, pending);
            }
            check_count(m);
        }
        for (uint32_t r = 0; r < it.count; r++) check_row(m, qi, it.entities[r], it.columns, r);
        rows += it.count;
    }
    if (rows != want) MFAIL(m, "query %u iteration yielded %u rows, expected %u", qi, rows, want);
}

static void op_bulk(model *m, uint32_t max_count) {
    m->op = "bulk";
    uint32_t count = 1 + rng_below(&m->r, max_count);
    if (m->n + count > m->maxpop) count = m->maxpop > m->n ? m->maxpop - m->n : 1;
    unsigned mask = rng_below(&m->r, 1u << NC);
    aw_component comps[NC];
    const void *data[NC];
    unsigned char *cols[NC] = {0};
    uint32_t nc = 0;
    bool no_data = rng_chance(&m->r, 10);
    /* random order of the component list */
    int order[NC] = {0, 1, 2, 3, 4, 5};
    for (int i = NC - 1; i > 0; i--) {
        int j = (int)rng_below(&m->r, (uint32_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int oi = 0; oi < NC; oi++) {
        int k = order[oi];
        if (!((mask >> k) & 1)) continue;
        comps[nc] = m->c[k];
        data[nc] = NULL;
        if (!no_data && g_size[k] && rng_chance(&m->r, 70)) {
            cols[k] = malloc(g_size[k] * count);
            assert_non_null(cols[k]);
            rng_bytes(&m->r, cols[k], g_size[k] * count);
            data[nc] = cols[k];
        } else if (!no_data && g_size[k] == 0 && rng_chance(&m->r, 50)) {
            data[nc] = &m->r; /* ignored for tags */
        }
        nc++;
    }
    aw_entity *out = malloc(count * sizeof *out);
    assert_non_null(out);
    aw_status st = aw_entity_create_bulk(m->w, &(aw_bulk_desc){.count = count,
                                                               .components = nc ? comps : NULL,
                                                               .component_count = nc,
                                                               .data = no_data ? NULL : data,
                                                               .out_entities = out});
    if (st != AW_OK) MFAIL(m, "bulk of %u with mask %x returned %s", count, mask, test_status_name(st));
    for (uint32_t i = 0; i < count; i++) {
        uint32_t s = model_add_entity(m, out[i]);
        m->e[s].mask = mask;
        for (int k = 0; k < NC; k++) {
            if (!((mask >> k) & 1)) continue;
            if (cols[k])
                memcpy(m->e[s].data + g_off[k], cols[k] + (size_t)i * g_size[k], g_size[k]);
            else
                default_bytes(k, m->e[s].data + g_off[k]);
        }
    }
    for (uint32_t i = 0; i < count; i++) check_entity(m, idmap_get(&m->map, out[i]));
    check_count(m);
    for (int k = 0; k < NC; k++) free(cols[k]);
    free(out);
}

/* One recorded command, for replaying on the model at apply time. */
typedef struct mcmd {
    int kind; /* 0 create, 1 destroy, 2 add, 3 remove, 4 set */
    aw_entity id;
    int comp;
    unsigned char data[136];
} mcmd;

enum { MAX_CMDS = 40 };

static void op_cmd(model *m) {
    m->op = "cmd";
    static mcmd cmds[MAX_CMDS];
    aw_entity pending[MAX_CMDS];
    uint32_t ncmd = 0, npend = 0;
    uint32_t want_n = 1 + rng_below(&m->r, MAX_CMDS);
    for (uint32_t i = 0; i < want_n; i++) {
        mcmd *c = &cmds[ncmd];
        uint32_t roll = rng_below(&m->r, 100);
        if (roll < 15 && m->n + npend < m->maxpop) {
            c->kind = 0;
            c->id = aw_cmd_create(m->cb);
            if (c->id == AW_ENTITY_NULL) MFAIL(m, "aw_cmd_create failed");
            if (aw_entity_alive(m->w, c->id))
                MFAIL(m, "reserved id %llx is alive before apply", (unsigned long long)c->id);
            if (idmap_get(&m->map, c->id) != UINT32_MAX) MFAIL(m, "reserved id equals a live id");
            pending[npend++] = c->id;
            ncmd++;
            continue;
        }
        /* target: a pending entity, a live one, or a stale id */
        uint32_t t = rng_below(&m->r, 100);
        if (t < 25 && npend)
            c->id = pending[rng_below(&m->r, npend)];
        else if (t < 92 && m->n)
            c->id = m->e[pick_live(m)].id;
        else
            c->id = pick_stale(m);
        c->comp = (int)rng_below(&m->r, NC);
        aw_status st;
        if (roll < 27) {
            c->kind = 1;
            st = aw_cmd_destroy(m->cb, c->id);
        } else if (roll < 52) {
            c->kind = 2;
            st = aw_cmd_add(m->cb, c->id, m->c[c->comp]);
        } else if (roll < 72) {
            c->kind = 3;
            st = aw_cmd_remove(m->cb, c->id, m->c[c->comp]);
        } else {
            c->kind = 4;
            rng_bytes(&m->r, c->data, g_size[c->comp]);
            st = aw_cmd_set(m->cb, c->id, m->c[c->comp], g_size[c->comp] ? c->data : NULL, g_size[c->comp]);
        }
        bool known = idmap_get(&m->map, c->id) != UINT32_MAX;
        for (uint32_t p = 0; p < npend; p++) known |= pending[p] == c->id;
        if (st == AW_OK) {
            ncmd++;
        } else if (known || st != AW_ERR_STALE_ENTITY) {
            MFAIL(m, "recording command kind %d on %llx returned %s", c->kind, (unsigned long long)c->id,
                  test_status_name(st));
        } /* else: a stale id refused at record time, which ecs.h allows */
    }

    if (rng_chance(&m->r, 10)) {
        /* reset: nothing happens; reserved ids are dead for good */
        m->op = "cmd reset";
        aw_cmd_buffer_reset(m->cb);
        if (aw_cmd_buffer_count(m->cb) != 0) MFAIL(m, "buffer not empty after reset");
        for (uint32_t p = 0; p < npend; p++) {
            check_refused(m, pending[p]);
            stale_push(m, pending[p]);
        }
        aw_status st = aw_cmd_buffer_apply(m->cb);
        if (st != AW_OK) MFAIL(m, "apply of a reset buffer returned %s", test_status_name(st));
        check_count(m);
        return;
    }

    /* replay on the model */
    m->op = "cmd apply";
    aw_status first = AW_OK;
    aw_entity touched[MAX_CMDS];
    uint32_t ntouched = 0;
    for (uint32_t i = 0; i < ncmd; i++) {
        mcmd *c = &cmds[i];
        aw_status r = AW_OK;
        uint32_t s = idmap_get(&m->map, c->id);
        touched[ntouched++] = c->id;
        if (c->kind == 0) {
            model_add_entity(m, c->id);
        } else if (s == UINT32_MAX) {
            r = AW_ERR_STALE_ENTITY;
        } else {
            ment *me = &m->e[s];
            bool has = (me->mask >> c->comp) & 1;
            switch (c->kind) {
            case 1:
                model_kill(m, s);
                break;
            case 2:
                if (has)
                    r = AW_ERR_ALREADY_PRESENT;
                else {
                    me->mask |= 1u << c->comp;
                    default_bytes(c->comp, me->data + g_off[c->comp]);
                }
                break;
            case 3:
                if (!has)
                    r = AW_ERR_NOT_PRESENT;
                else
                    me->mask &= ~(1u << c->comp);
                break;
            default:
                me->mask |= 1u << c->comp;
                memcpy(me->data + g_off[c->comp], c->data, g_size[c->comp]);
                break;
            }
        }
        if (r != AW_OK && first == AW_OK) first = r;
    }
    aw_clear_error();
    aw_status st = aw_cmd_buffer_apply(m->cb);
    if (st != first)
        MFAIL(m, "apply of %u commands returned %s, expected %s", ncmd, test_status_name(st),
              test_status_name(first));
    if (st != AW_OK && aw_last_error()[0] == '\0') MFAIL(m, "failing apply left no message");
    if (aw_cmd_buffer_count(m->cb) != 0) MFAIL(m, "buffer not empty after apply");
    for (uint32_t i = 0; i < ntouched; i++) {
        uint32_t s = idmap_get(&m->map, touched[i]);
        if (s == UINT32_MAX)
            check_refused(m, touched[i]);
        else
            check_entity(m, s);
    }
    check_count(m);
}

static void op_clear(model *m) {
    m->op = "clear";
    aw_status st = aw_world_clear(m->w);
    if (st != AW_OK) MFAIL(m, "clear returned %s", test_status_name(st));
    while (m->n) model_kill(m, m->n - 1);
    check_count(m);
}

/* ---------------------------------------------------------------- driver */

static const qspec g_early[] = {
    {{C_I32}, {AW_TERM_WITH}, 1},
    {{C_U8, C_TAG}, {AW_TERM_WITH, AW_TERM_WITHOUT}, 2},
    {{C_AL64, C_BIG, C_TAG}, {AW_TERM_WITH, AW_TERM_OPTIONAL, AW_TERM_OPTIONAL}, 3},
    {{C_TAG, C_V3}, {AW_TERM_WITH, AW_TERM_WITH}, 2},
    {{C_BIG, C_I32, C_U8}, {AW_TERM_WITH, AW_TERM_WITH, AW_TERM_WITHOUT}, 3},
    {{C_V3, C_AL64, C_I32}, {AW_TERM_OPTIONAL, AW_TERM_OPTIONAL, AW_TERM_WITH}, 3},
    {{C_TAG}, {AW_TERM_WITH}, 1},
    {{C_BIG, C_AL64, C_V3, C_I32, C_U8, C_TAG},
     {AW_TERM_WITH, AW_TERM_WITH, AW_TERM_WITH, AW_TERM_WITH, AW_TERM_WITH, AW_TERM_WITH},
     6},
};
static const qspec g_late[] = {
    {{C_U8, C_V3, C_AL64}, {AW_TERM_WITH, AW_TERM_OPTIONAL, AW_TERM_WITHOUT}, 3},
    {{C_BIG, C_TAG, C_I32, C_V3}, {AW_TERM_WITH, AW_TERM_WITHOUT, AW_TERM_WITHOUT, AW_TERM_OPTIONAL}, 4},
};

static void add_query(model *m, const qspec *q) {
    aw_term terms[8];
    for (uint32_t t = 0; t < q->n; t++)
        terms[t] = (aw_term){.component = m->c[q->comp[t]],
                             .oper = q->oper[t],
                             .access = t % 2 ? AW_ACCESS_READ : AW_ACCESS_WRITE};
    aw_query *qq = aw_query_create(m->w, &(aw_query_desc){.terms = terms, .term_count = q->n});
    if (!qq) MFAIL(m, "aw_query_create failed");
    m->q[m->nq] = qq;
    m->qs[m->nq] = *q;
    m->nq++;
}

typedef struct run_params {
    uint64_t seed;
    uint32_t steps;
    uint32_t maxpop;
    uint32_t chunk_size;
    uint32_t max_bulk;
    uint32_t full_every;
} run_params;

static void run_model(const run_params *p) {
    static model mm;
    model *m = &mm;
    memset(m, 0, sizeof *m);
    m->seed = p->seed;
    m->op = "setup";
    m->r.s = p->seed * 0x2545F4914F6CDD1Dull + 17;
    m->maxpop = p->maxpop;
    test_alloc_init(&m->ta);
    m->w = aw_world_create(&(aw_world_desc){.allocator = &m->ta.iface,
                                            .chunk_size = p->chunk_size,
                                            .large_chunk_size = p->chunk_size,
                                            .threads = 1});
    if (!m->w) MFAIL(m, "aw_world_create failed");
    for (int k = 0; k < NC; k++) {
        aw_component_desc d = {.name = g_name[k], .size = g_size[k], .align = g_align[k]};
        if (k == C_BIG) {
            d.ctor = big_ctor;
            d.dtor = big_dtor;
            d.move = big_move;
            d.copy = big_copy;
            d.hook_user = &m->big;
        }
        m->c[k] = aw_component_register(m->w, &d);
        if (!m->c[k]) MFAIL(m, "register %s failed", g_name[k]);
    }
    size_t off = 0;
    for (int k = 0; k < NC; k++) {
        g_off[k] = off;
        off += g_size[k];
    }
    for (size_t i = 0; i < sizeof g_early / sizeof g_early[0]; i++) add_query(m, &g_early[i]);
    m->cb = aw_cmd_buffer_create(m->w);
    if (!m->cb) MFAIL(m, "aw_cmd_buffer_create failed");
    uint32_t cap = p->maxpop + 4096;
    m->e = calloc(cap, sizeof *m->e);
    m->seen = calloc(cap, sizeof *m->seen);
    uint32_t mapcap = 1;
    while (mapcap < cap * 2) mapcap <<= 1;
    m->map.cap = mapcap;
    m->map.keys = calloc(mapcap, sizeof *m->map.keys);
    m->map.vals = calloc(mapcap, sizeof *m->map.vals);
    assert_true(m->e && m->seen && m->map.keys && m->map.vals);

    for (m->step = 0; m->step < p->steps; m->step++) {
        if (m->step == p->steps / 3)
            for (size_t i = 0; i < sizeof g_late / sizeof g_late[0]; i++) add_query(m, &g_late[i]);
        uint32_t roll = rng_below(&m->r, 1000);
        bool full = m->n >= m->maxpop;
        bool empty = m->n == 0;
        if (roll < 100) {
            if (full)
                op_destroy(m);
            else
                op_create(m);
        } else if (roll < 180) {
            if (empty)
                op_create(m);
            else
                op_destroy(m);
        } else if (roll < 300) {
            if (empty)
                op_create(m);
            else
                op_add(m);
        } else if (roll < 400) {
            if (empty)
                op_create(m);
            else
                op_remove(m);
        } else if (roll < 540) {
            if (empty)
                op_create(m);
            else
                op_set(m);
        } else if (roll < 640) {
            if (empty)
                op_create(m);
            else
                op_get(m);
        } else if (roll < 700) {
            op_stale(m);
        } else if (roll < 740) {
            op_query(m);
        } else if (roll < 800) {
            if (full)
                op_destroy(m);
            else
                op_bulk(m, p->max_bulk);
        } else if (roll < 860) {
            op_cmd(m);
        } else if (roll < 862) {
            op_clear(m);
        } else if (roll < 880) {
            m->op = "end_frame";
            aw_world_end_frame(m->w);
        } else {
            /* more structural churn: set then remove on the same entity */
            if (empty) {
                op_create(m);
            } else {
                op_set(m);
                op_remove(m);
            }
        }
        if (m->step % p->full_every == p->full_every - 1) full_check(m);
    }
    m->op = "final";
    full_check(m);
    if (p->maxpop > 1000)
        print_message("seed %llu: peak population %u, %llu chunks in use at the end\n",
                      (unsigned long long)p->seed, m->peak,
                      (unsigned long long)aw_world_get_stats(m->w).chunks_in_use);
    if (m->peak < p->maxpop / 2)
        MFAIL(m, "population peaked at %u of %u: the run did not exercise its size", m->peak, p->maxpop);
    aw_cmd_buffer_destroy(m->cb);
    aw_world_destroy(m->w);
    if (m->big.live != 0) MFAIL(m, "%ld Big instances live after world destroy", m->big.live);
    if (m->big.errors) MFAIL(m, "Big dtor errors");
    if (m->ta.live_bytes != 0) MFAIL(m, "%llu bytes leaked", (unsigned long long)m->ta.live_bytes);
    if (m->ta.bad_calls != 0) MFAIL(m, "%llu bad free/realloc calls", (unsigned long long)m->ta.bad_calls);
    free(m->e);
    free(m->seen);
    free(m->map.keys);
    free(m->map.vals);
}

/* 40 seeds x 5000 steps, small populations; every third seed with 1 KiB chunks. */
static void run_seeds(uint64_t first, uint64_t last) {
    for (uint64_t seed = first; seed < last; seed++) {
        run_params p = {.seed = seed,
                        .steps = 5000,
                        .maxpop = 50 + (uint32_t)(seed * 37 % 260),
                        .chunk_size = seed % 3 == 0 ? 1024 : 0,
                        .max_bulk = 24,
                        .full_every = 100};
        run_model(&p);
    }
}

static void test_model_seeds_0_10(void **state) {
    (void)state;
    run_seeds(0, 10);
}
static void test_model_seeds_10_20(void **state) {
    (void)state;
    run_seeds(10, 20);
}
static void test_model_seeds_20_30(void **state) {
    (void)state;
    run_seeds(20, 30);
}
static void test_model_seeds_30_40(void **state) {
    (void)state;
    run_seeds(30, 40);
}

/* One large population (~20k entities) in 1 KiB chunks: many chunks per table. */
static void test_model_large_population(void **state) {
    (void)state;
    run_params p = {.seed = 1000,
                    .steps = 5000,
                    .maxpop = 20000,
                    .chunk_size = 1024,
                    .max_bulk = 2500,
                    .full_every = 250};
    run_model(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_seeds_0_10),       cmocka_unit_test(test_model_seeds_10_20),
        cmocka_unit_test(test_model_seeds_20_30),      cmocka_unit_test(test_model_seeds_30_40),
        cmocka_unit_test(test_model_large_population),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
