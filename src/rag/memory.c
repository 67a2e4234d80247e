/* Semantic memory: the memories' columns (text, embedding, metadata), add / forget / get, keeping a
 * store in step (and catching up when it was down), and synchronous retrieval. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory_internal.h"

#define KIND_BIT(k) (1u << (k))

/* ---------------------------------------------------------------- columns */

static aw_status grow_columns(aw_memory *m, uint32_t need) {
    if (need <= m->cap) return AW_OK;
    uint32_t cap = m->cap ? m->cap : 64;
    while (cap < need) cap = cap > UINT32_MAX / 2 ? need : cap * 2;
    const aw_allocator *a = m->allocator;
    uint32_t old = m->cap;
    /* Each column grows on its own; a failure leaves the ones already grown bigger, which is harmless. */
#define GROW(col)                                                                                          \
    do {                                                                                                   \
        void *p = aw_realloc(a, m->col, sizeof *m->col * old, sizeof *m->col * cap, 64);                   \
        if (!p) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory for %u memories", cap);           \
        m->col = p;                                                                                        \
    } while (0)
    GROW(ids);
    GROW(meta);
    GROW(merged);
    GROW(texts);
    GROW(text_len);
    GROW(unsynced);
    GROW(vec);
    GROW(vec_owned);
#undef GROW
    m->cap = cap;
    return AW_OK;
}

float mem_dot(const float *a, const float *b) {
    /* Eight partial sums: vectorises without -ffast-math and keeps the order fixed. */
    float s[8] = {0};
    for (uint32_t d = 0; d < MEM_DIM; d += 8)
        for (int j = 0; j < 8; j++) s[j] += a[d + j] * b[d + j];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* Unit-length copy; false for a zero or non-finite vector. */
/* Unit length; a vector already unit within float rounding is copied as it is (as the index does),
 * so normalising twice changes nothing and the store's copy is the memory's, bit for bit. */
static bool normalise(const float *in, float *out) {
    double n = 0;
    for (uint32_t d = 0; d < MEM_DIM; d++) {
        if (!isfinite(in[d])) return false;
        n += (double)in[d] * in[d];
    }
    if (!(n > 0) || !isfinite(n)) return false;
    if (fabs(n - 1.0) <= AW_UNIT_NORM_TOLERANCE) {
        memcpy(out, in, sizeof(float) * MEM_DIM);
        return true;
    }
    float inv = (float)(1.0 / sqrt(n));
    for (uint32_t d = 0; d < MEM_DIM; d++) out[d] = in[d] * inv;
    return true;
}

/* ---------------------------------------------------------------- create / destroy */

aw_memory *aw_memory_create(const aw_memory_desc *desc) {
    aw_memory_desc d = desc ? *desc : (aw_memory_desc){0};
    if (d.w_similarity < 0 || d.w_recency < 0 || d.w_importance < 0 || !isfinite(d.w_similarity) ||
        !isfinite(d.w_recency) || !isfinite(d.w_importance) || d.recency_half_life < 0 || d.forget_half_life < 0 ||
        !(d.consolidate_threshold >= 0 && d.consolidate_threshold <= 1) || !(d.forget_below >= 0)) {
        aw_error(AW_ERR_INVALID_ARG, "memory: weights, half-lives and thresholds must be finite and >= 0 "
                                     "(consolidate_threshold at most 1)");
        return NULL;
    }
    bool hnsw_owned = !d.store && !d.local.exact;
    uint32_t search_dim = d.search_dim ? d.search_dim : hnsw_owned ? MEM_SEARCH_DIM : MEM_DIM;
    if (search_dim != MEM_DIM && (!hnsw_owned || search_dim % 32 || search_dim > MEM_DIM)) {
        aw_error(AW_ERR_INVALID_ARG,
                 "memory: search_dim %u: a projection needs the owned HNSW store and a multiple of 32 below %d "
                 "(or %d: none)",
                 search_dim, MEM_DIM, MEM_DIM);
        return NULL;
    }
    if (d.store && aw_store_dim(d.store) != MEM_DIM) {
        aw_error(AW_ERR_INVALID_ARG, "memory: the store holds %u-d vectors; memories are %d-d",
                 aw_store_dim(d.store), MEM_DIM);
        return NULL;
    }
    aw_memory *m = aw_alloc(d.allocator, sizeof *m, 64);
    if (!m) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory");
        return NULL;
    }
    bool no_weights = d.w_similarity == 0 && d.w_recency == 0 && d.w_importance == 0;
    *m = (aw_memory){
        .allocator = d.allocator,
        .encoder = d.encoder,
        .store = d.store,
        .jobs = d.jobs,
        .w_sim = no_weights ? 1.0f : d.w_similarity,
        .w_rec = no_weights ? 0.15f : d.w_recency,
        .w_imp = no_weights ? 0.15f : d.w_importance,
        .recency_half_life = d.recency_half_life > 0 ? d.recency_half_life : 3600.0,
        .forget_half_life = d.forget_half_life > 0 ? d.forget_half_life : 86400.0,
        .consolidate_threshold = d.consolidate_threshold > 0 ? d.consolidate_threshold : 0.95f,
        .forget_below = d.forget_below > 0 ? d.forget_below : 0.05f,
        .protected_kinds = d.protected_kinds ? d.protected_kinds
                                             : KIND_BIT(AW_MEMORY_LORE) | KIND_BIT(AW_MEMORY_EXAMPLE),
        .request_count = d.max_requests ? d.max_requests : 64,
        .search_dim = search_dim,
    };
    aw_map_init(&m->row_of, d.allocator);
    m->cands = aw_alloc(d.allocator, sizeof *m->cands * MEM_MAX_CANDIDATES, 64);
    m->ranked = aw_alloc(d.allocator, sizeof *m->ranked * MEM_MAX_CANDIDATES, 64);
    m->max_sim = aw_alloc(d.allocator, sizeof *m->max_sim * MEM_MAX_CANDIDATES, 64);
    m->requests = m->request_count <= 65536
                      ? aw_alloc(d.allocator, sizeof *m->requests * m->request_count, 64)
                      : NULL;
    if (!m->cands || !m->ranked || !m->max_sim || !m->requests) {
        if (m->request_count > 65536) aw_error(AW_ERR_INVALID_ARG, "memory: max_requests is over 65536");
        else aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory");
        if (m->requests) m->request_count = 0;
        aw_memory_destroy(m);
        return NULL;
    }
    memset(m->requests, 0, sizeof *m->requests * m->request_count);
    if (!m->store) {
        aw_store_local_desc local = d.local;
        local.dim = MEM_DIM;
        /* ef_construction 100 instead of the index's 200: the same recall@10 on clustered 512-d
         * memories (0.993 both, 20k vectors) at about twice the insert rate; on the projection 80
         * keeps the memory's recall@10 of 100 (0.977 both at 100k) at 1.15-1.3x the rate (see
         * performance.md). */
        if (!local.ef_construction) local.ef_construction = search_dim != MEM_DIM ? 80 : 100;
        /* Half-precision vectors in the index: the graph walk reads half the bytes per distance
         * (it is bound by them), and retrieval re-scores its candidates on the memory's own float
         * copies, so scores stay exact (see performance.md). */
        if (!local.element) local.element = AW_INDEX_F16;
        if (!local.allocator) local.allocator = d.allocator;
        if (!local.jobs) local.jobs = d.jobs;
        m->local = local;
        m->store = aw_store_open_local(&local);
        m->owns_store = true;
        if (!m->store) {
            aw_memory_destroy(m);
            return NULL;
        }
    }
    return m;
}

void aw_memory_destroy(aw_memory *m) {
    if (!m) return;
    const aw_allocator *a = m->allocator;
    if (m->requests) mem_requests_destroy(m);
    if (m->owns_store) aw_store_close(m->store);
    mem_projection_free(&m->proj, a);
    for (uint32_t i = 0; i < m->count; i++) {
        aw_free(a, m->texts[i], m->text_len[i] + 1);
        if (m->vec_owned[i]) aw_free(a, (void *)m->vec[i], sizeof(float) * MEM_DIM);
    }
    aw_free(a, m->ids, sizeof *m->ids * m->cap);
    aw_free(a, m->meta, sizeof *m->meta * m->cap);
    aw_free(a, m->merged, sizeof *m->merged * m->cap);
    aw_free(a, m->texts, sizeof *m->texts * m->cap);
    aw_free(a, m->text_len, sizeof *m->text_len * m->cap);
    aw_free(a, m->unsynced, sizeof *m->unsynced * m->cap);
    aw_free(a, m->vec, sizeof *m->vec * m->cap);
    aw_free(a, m->vec_owned, sizeof *m->vec_owned * m->cap);
    aw_free(a, m->pending_deletes, sizeof *m->pending_deletes * m->pending_cap);
    aw_free(a, m->add_vec, sizeof(float) * MEM_DIM * m->add_cap);
    aw_free(a, m->push_vec, sizeof(float) * MEM_DIM * MEM_PUSH_ROWS);
    aw_free(a, m->proj_vec, sizeof(float) * m->search_dim * MEM_PUSH_ROWS);
    aw_free(a, m->cands, sizeof *m->cands * MEM_MAX_CANDIDATES);
    aw_free(a, m->ranked, sizeof *m->ranked * MEM_MAX_CANDIDATES);
    aw_free(a, m->max_sim, sizeof *m->max_sim * MEM_MAX_CANDIDATES);
    aw_map_destroy(&m->row_of);
    aw_free(a, m, sizeof *m);
}

uint32_t aw_memory_count(const aw_memory *m) {
    return m ? m->count : 0;
}

uint32_t aw_memory_unsynced(const aw_memory *m) {
    return m ? m->unsynced_count + m->pending_count : 0;
}

const aw_store *aw_memory_store(const aw_memory *m) {
    return m ? m->store : NULL;
}

aw_memory_search_stats aw_memory_get_search_stats(const aw_memory *m) {
    if (!m) return (aw_memory_search_stats){0};
    return (aw_memory_search_stats){
        .dim = m->projected ? m->search_dim : MEM_DIM,
        .fits = m->fits,
        .fit_energy = m->projected ? m->proj.energy : 0.0f,
        .recent_energy = m->added_since_fit ? (float)(m->energy_since_fit / m->added_since_fit) : 0.0f,
        .added_since_fit = m->added_since_fit,
    };
}

/* ---------------------------------------------------------------- store synchronisation */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* A synced row whose vector the store keeps in this process points at the store's copy; its own
 * copy goes. */
static void share_vector(aw_memory *m, uint32_t row) {
    /* A store that will hold projections never holds the full vector for long. */
    if (m->unsynced[row] || !m->vec_owned[row] || m->search_dim != MEM_DIM) return;
    const float *shared = aw_store_vector(m->store, m->ids[row]);
    if (!shared) return;
    aw_free(m->allocator, (void *)m->vec[row], sizeof(float) * MEM_DIM);
    m->vec[row] = shared;
    m->vec_owned[row] = false;
}

/* The push scratch (made on first use, kept). */
static bool push_scratch(aw_memory *m) {
    if (!m->push_vec) m->push_vec = aw_alloc(m->allocator, sizeof(float) * MEM_DIM * MEM_PUSH_ROWS, 64);
    if (!m->proj_vec && m->search_dim != MEM_DIM)
        m->proj_vec = aw_alloc(m->allocator, sizeof(float) * m->search_dim * MEM_PUSH_ROWS, 64);
    return m->push_vec && (m->proj_vec || m->search_dim == MEM_DIM);
}

/* Sends n (at most MEM_PUSH_ROWS) vectors to the store, projected when it indexes the projection. */
static aw_status upsert(aw_memory *m, const uint64_t *ids, const float *vec, const aw_store_meta *meta, uint32_t n) {
    if (!m->projected) return aw_store_upsert(m->store, ids, vec, meta, n);
    mem_project_batch(&m->proj, vec, n, m->proj_vec);
    aw_status st = aw_store_upsert(m->store, ids, m->proj_vec, meta, n);
    if (st == AW_OK) { /* how much of the new rows the fitted directions keep (rows are unit) */
        double e = 0;
        for (size_t i = 0; i < (size_t)n * m->search_dim; i++) e += (double)m->proj_vec[i] * m->proj_vec[i];
        m->energy_since_fit += e;
        m->added_since_fit += n;
    }
    return st;
}

/* Sends rows (sorted, unique) to the store, MEM_PUSH_ROWS at a time; marks them synced on success. */
static aw_status push_rows(aw_memory *m, const uint32_t *rows, uint32_t n) {
    if (n == 0) return AW_OK;
    if (!push_scratch(m)) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to send %u memories", n);
    aw_status st = AW_OK;
    uint64_t ids_buf[64];
    aw_store_meta meta_buf[64];
    for (uint32_t b = 0; b < n && st == AW_OK;) {
        /* Contiguous runs go straight from the columns; scattered rows 64 at a time. */
        uint32_t r = 1;
        while (b + r < n && r < MEM_PUSH_ROWS && rows[b + r] == rows[b] + r) r++;
        bool contiguous = r > 1 || b + 1 == n;
        if (!contiguous) {
            r = 0;
            while (b + r < n && r < 64) {
                ids_buf[r] = m->ids[rows[b + r]];
                meta_buf[r] = m->meta[rows[b + r]];
                r++;
            }
        }
        for (uint32_t i = 0; i < r; i++)
            memcpy(m->push_vec + (size_t)i * MEM_DIM, m->vec[rows[b + i]], sizeof(float) * MEM_DIM);
        st = contiguous ? upsert(m, m->ids + rows[b], m->push_vec, m->meta + rows[b], r)
                        : upsert(m, ids_buf, m->push_vec, meta_buf, r);
        if (st != AW_OK) break;
        for (uint32_t i = b; i < b + r; i++) {
            if (m->unsynced[rows[i]]) {
                m->unsynced[rows[i]] = false;
                m->unsynced_count--;
            }
            share_vector(m, rows[i]);
        }
        b += r;
    }
    return st;
}

static void drop_pending_delete(aw_memory *m, uint64_t id) {
    for (uint32_t i = 0; i < m->pending_count; i++)
        if (m->pending_deletes[i] == id) {
            m->pending_deletes[i] = m->pending_deletes[--m->pending_count];
            return;
        }
}

static aw_status delete_in_store(aw_memory *m, uint64_t id) {
    aw_status st = aw_store_delete(m->store, &id, 1);
    if (st == AW_OK) return AW_OK;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", aw_last_error());
    if (m->pending_count == m->pending_cap) {
        uint32_t cap = m->pending_cap ? m->pending_cap * 2 : 16;
        uint64_t *p = aw_realloc(m->allocator, m->pending_deletes, sizeof *p * m->pending_cap, sizeof *p * cap, 8);
        if (!p) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to remember a failed deletion");
        m->pending_deletes = p;
        m->pending_cap = cap;
    }
    m->pending_deletes[m->pending_count++] = id;
    return aw_error(st, "%s", msg);
}

aw_status aw_memory_sync(aw_memory *m) {
    if (!m) return aw_error(AW_ERR_INVALID_ARG, "memory: NULL");
    while (m->pending_count) {
        aw_status st = aw_store_delete(m->store, m->pending_deletes, m->pending_count);
        if (st != AW_OK) return st;
        m->pending_count = 0;
    }
    if (m->unsynced_count == 0) return AW_OK;
    uint32_t *rows = aw_alloc(m->allocator, sizeof *rows * m->unsynced_count, 64);
    if (!rows) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory");
    uint32_t n = 0, want = m->unsynced_count;
    for (uint32_t r = 0; r < m->count && n < want; r++)
        if (m->unsynced[r]) rows[n++] = r;
    aw_status st = push_rows(m, rows, n);
    aw_free(m->allocator, rows, sizeof *rows * want);
    return st;
}

/* ---------------------------------------------------------------- the projected store */

/* Fills `store` with every row projected by `proj`, through the push scratch. */
static aw_status fill_projected(aw_memory *m, aw_store *store, mem_projection *proj) {
    if (!push_scratch(m)) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to project the store");
    aw_status st = AW_OK;
    for (uint32_t b = 0; b < m->count && st == AW_OK; b += MEM_PUSH_ROWS) {
        uint32_t r = m->count - b < MEM_PUSH_ROWS ? m->count - b : MEM_PUSH_ROWS;
        for (uint32_t i = 0; i < r; i++)
            memcpy(m->push_vec + (size_t)i * MEM_DIM, m->vec[b + i], sizeof(float) * MEM_DIM);
        mem_project_batch(proj, m->push_vec, r, m->proj_vec);
        st = aw_store_upsert(store, m->ids + b, m->proj_vec, m->meta + b, r);
    }
    return st;
}

/* Fits the projection on an even sample of the rows, builds the owned store again in the projected
 * space from every row and swaps it in: once AW_MEMORY_FIT_COUNT memories are in, and on
 * aw_memory_refit. On failure the store stays as it was. */
static aw_status fit_projection(aw_memory *m) {
    const aw_allocator *a = m->allocator;
    uint32_t n = m->count < AW_MEMORY_FIT_COUNT ? m->count : AW_MEMORY_FIT_COUNT;
    const float **sample = aw_alloc(a, sizeof *sample * n, 64);
    if (!sample) return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to fit the search projection");
    for (uint32_t i = 0; i < n; i++) sample[i] = m->vec[(uint64_t)i * m->count / n];
    mem_projection proj;
    aw_status st = mem_projection_fit(&proj, a, m->search_dim, sample, n);
    aw_free(a, sample, sizeof *sample * n);
    if (st != AW_OK) return st;
    aw_store_local_desc local = m->local;
    local.dim = m->search_dim;
    aw_store *store = aw_store_open_local(&local);
    st = store ? fill_projected(m, store, &proj) : aw_last_status();
    if (st != AW_OK) {
        aw_store_close(store);
        mem_projection_free(&proj, a);
        return st;
    }
    /* Requests in flight search the old store: they finish before it goes. */
    mem_requests_quiesce(m);
    aw_store_close(m->store);
    mem_projection_free(&m->proj, a);
    m->store = store;
    m->proj = proj;
    m->projected = true;
    m->fits++;
    m->added_since_fit = 0;
    m->energy_since_fit = 0;
    /* Every row is in the new store, and deletions owed to the old one are moot. */
    for (uint32_t r = 0; r < m->count; r++) m->unsynced[r] = false;
    m->unsynced_count = 0;
    m->pending_count = 0;
    return AW_OK;
}

aw_status aw_memory_refit(aw_memory *m) {
    if (!m) return aw_error(AW_ERR_INVALID_ARG, "memory: NULL");
    if (m->search_dim == MEM_DIM)
        return aw_error(AW_ERR_UNSUPPORTED, "memory: refit: the store is not projected (search_dim %d, an exact "
                                            "or a given store)", MEM_DIM);
    if (!m->count) return aw_error(AW_ERR_INVALID_ARG, "memory: refit: the memory is empty");
    return fit_projection(m);
}

/* ---------------------------------------------------------------- add / forget / get */

static aw_status check_item(const aw_memory_item *it, uint32_t i) {
    if (it->id == 0) return aw_error(AW_ERR_INVALID_ARG, "memory: item %u has id 0 (ids are non-zero)", i);
    if (!it->text) return aw_error(AW_ERR_INVALID_ARG, "memory: item %u (id %llu) has no text", i,
                                   (unsigned long long)it->id);
    if ((unsigned)it->kind >= AW_MEMORY_KIND_COUNT)
        return aw_error(AW_ERR_INVALID_ARG, "memory: item %u has kind %d", i, (int)it->kind);
    if (it->agent >> 63) return aw_error(AW_ERR_INVALID_ARG, "memory: item %u has an agent id >= 2^63", i);
    if (!isfinite(it->time)) return aw_error(AW_ERR_INVALID_ARG, "memory: item %u has a non-finite time", i);
    if (!(it->importance >= 0 && it->importance <= 1))
        return aw_error(AW_ERR_INVALID_ARG, "memory: item %u has importance %g (0..1)", i, (double)it->importance);
    if (strlen(it->text) >= UINT32_MAX) return aw_error(AW_ERR_CAPACITY, "memory: item %u's text is over 4 GiB", i);
    return AW_OK;
}

/* Room for n normalised vectors, kept between calls. */
static float *add_scratch(aw_memory *m, uint32_t n) {
    if (n <= m->add_cap) return m->add_vec;
    float *v = aw_realloc(m->allocator, m->add_vec, sizeof(float) * MEM_DIM * m->add_cap, sizeof(float) * MEM_DIM * n, 64);
    if (!v) return NULL;
    m->add_vec = v;
    m->add_cap = n;
    return v;
}

aw_status aw_memory_add(aw_memory *m, const aw_memory_item *items, uint32_t n) {
    if (!m || (n && !items)) return aw_error(AW_ERR_INVALID_ARG, "memory: add needs a memory and items");
    if (n == 0) return AW_OK;
    if (n > UINT32_MAX - m->count) return aw_error(AW_ERR_CAPACITY, "memory: too many memories");
    uint32_t missing = 0;
    for (uint32_t i = 0; i < n; i++) {
        aw_status st = check_item(&items[i], i);
        if (st != AW_OK) return st;
        missing += items[i].embedding == NULL;
    }
    if (missing && !m->encoder)
        return aw_error(AW_ERR_INVALID_ARG, "memory: %u items have no embedding and the memory has no encoder",
                        missing);
    const aw_allocator *a = m->allocator;
    aw_status st = AW_OK;
    /* Everything that can fail happens before the first row changes: vectors, text copies, room. */
    float *vec = add_scratch(m, n);
    char **copies = aw_alloc(a, sizeof *copies * n, 64);
    float **vcopies = aw_alloc(a, sizeof *vcopies * n, 64);
    uint32_t *rows = aw_alloc(a, sizeof *rows * n, 64);
    const char **texts = missing ? aw_alloc(a, sizeof *texts * missing, 64) : NULL;
    if (!vec || !copies || !vcopies || !rows || (missing && !texts)) {
        st = aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to add %u memories", n);
        goto out;
    }
    memset(copies, 0, sizeof *copies * n);
    memset(vcopies, 0, sizeof *vcopies * n);
    if (missing) {
        float *tmp = aw_alloc(a, sizeof(float) * MEM_DIM * missing, 64);
        if (!tmp) {
            st = aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory to embed %u texts", missing);
            goto out;
        }
        uint32_t j = 0;
        for (uint32_t i = 0; i < n; i++)
            if (!items[i].embedding) texts[j++] = items[i].text;
        st = aw_embed_batch(m->encoder, texts, missing, tmp);
        j = 0;
        for (uint32_t i = 0; i < n && st == AW_OK; i++)
            if (!items[i].embedding) memcpy(vec + (size_t)i * MEM_DIM, tmp + (size_t)j++ * MEM_DIM, sizeof(float) * MEM_DIM);
        aw_free(a, tmp, sizeof(float) * MEM_DIM * missing);
        if (st != AW_OK) goto out;
    }
    for (uint32_t i = 0; i < n; i++)
        if (items[i].embedding && !normalise(items[i].embedding, vec + (size_t)i * MEM_DIM)) {
            st = aw_error(AW_ERR_INVALID_ARG, "memory: item %u (id %llu) has a zero or non-finite embedding", i,
                          (unsigned long long)items[i].id);
            goto out;
        }
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(items[i].text);
        copies[i] = aw_alloc(a, len + 1, 1);
        if (!copies[i]) {
            st = aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory for texts");
            goto out;
        }
        memcpy(copies[i], items[i].text, len + 1);
        /* Each row owns its vector until the store holds it (see share_vector). */
        vcopies[i] = aw_alloc(a, sizeof(float) * MEM_DIM, 64);
        if (!vcopies[i]) {
            st = aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory for embeddings");
            goto out;
        }
        memcpy(vcopies[i], vec + (size_t)i * MEM_DIM, sizeof(float) * MEM_DIM);
    }
    if ((st = grow_columns(m, m->count + n)) != AW_OK) goto out;
    if ((st = aw_map_reserve(&m->row_of, m->count + n)) != AW_OK) goto out;

    for (uint32_t i = 0; i < n; i++) {
        const aw_memory_item *it = &items[i];
        uint64_t row;
        if (aw_map_get(&m->row_of, it->id, &row)) {
            aw_free(a, m->texts[row], m->text_len[row] + 1);
            if (m->vec_owned[row]) aw_free(a, (void *)m->vec[row], sizeof(float) * MEM_DIM);
        } else {
            row = m->count++;
            aw_map_set(&m->row_of, it->id, row); /* reserved: cannot fail */
            m->unsynced[row] = false;
            m->merged[row] = 0;
        }
        if (m->pending_count) drop_pending_delete(m, it->id);
        m->ids[row] = it->id;
        m->meta[row] = (aw_store_meta){.kind = (uint32_t)it->kind, .agent = it->agent, .time = it->time,
                                       .importance = it->importance};
        m->merged[row] = it->merged;
        m->texts[row] = copies[i];
        m->text_len[row] = (uint32_t)strlen(copies[i]);
        copies[i] = NULL;
        m->vec[row] = vcopies[i];
        m->vec_owned[row] = true;
        vcopies[i] = NULL;
        if (!m->unsynced[row]) {
            m->unsynced[row] = true;
            m->unsynced_count++;
        }
        rows[i] = (uint32_t)row;
    }
    /* The same id twice in one call is one row: send each row once. */
    uint32_t u = n;
    bool sorted = true;
    for (uint32_t i = 1; i < n && sorted; i++) sorted = rows[i] > rows[i - 1];
    if (!sorted) {
        qsort(rows, n, sizeof *rows, cmp_u32);
        u = 0;
        for (uint32_t i = 0; i < n; i++)
            if (u == 0 || rows[i] != rows[u - 1]) rows[u++] = rows[i];
    }
    st = push_rows(m, rows, u);
    if (st == AW_OK && !m->projected && m->search_dim != MEM_DIM && m->count >= AW_MEMORY_FIT_COUNT &&
        fit_projection(m) != AW_OK) {
        /* The memories are in (the full-dimension store serves them); the switch waits for the next add. */
        AW_LOGW("memory: the search projection is postponed: %s", aw_last_error());
        aw_clear_error();
    }
out:
    if (copies)
        for (uint32_t i = 0; i < n; i++)
            if (copies[i]) aw_free(a, copies[i], strlen(copies[i]) + 1);
    if (vcopies)
        for (uint32_t i = 0; i < n; i++) aw_free(a, vcopies[i], sizeof(float) * MEM_DIM);
    aw_free(a, vcopies, sizeof *vcopies * n);
    if (m->add_cap > MEM_ADD_KEEP) { /* a one-off big batch: not kept */
        aw_free(a, m->add_vec, sizeof(float) * MEM_DIM * m->add_cap);
        m->add_vec = NULL;
        m->add_cap = 0;
    }
    aw_free(a, copies, sizeof *copies * n);
    aw_free(a, rows, sizeof *rows * n);
    if (texts) aw_free(a, (void *)texts, sizeof *texts * missing);
    return st;
}

/* Removes a row locally: the last row fills its place. */
static void remove_row(aw_memory *m, uint32_t row) {
    aw_free(m->allocator, m->texts[row], m->text_len[row] + 1);
    if (m->vec_owned[row]) aw_free(m->allocator, (void *)m->vec[row], sizeof(float) * MEM_DIM);
    if (m->unsynced[row]) m->unsynced_count--;
    aw_map_remove(&m->row_of, m->ids[row]);
    uint32_t last = --m->count;
    if (row != last) {
        m->ids[row] = m->ids[last];
        m->meta[row] = m->meta[last];
        m->merged[row] = m->merged[last];
        m->texts[row] = m->texts[last];
        m->text_len[row] = m->text_len[last];
        m->unsynced[row] = m->unsynced[last];
        m->vec[row] = m->vec[last];
        m->vec_owned[row] = m->vec_owned[last];
        aw_map_set(&m->row_of, m->ids[row], row); /* overwrites an existing key: no growth */
    }
}

aw_status aw_memory_forget(aw_memory *m, uint64_t id) {
    if (!m) return aw_error(AW_ERR_INVALID_ARG, "memory: NULL");
    uint64_t row;
    if (id == 0 || !aw_map_get(&m->row_of, id, &row))
        return aw_error(AW_ERR_NOT_FOUND, "memory: no memory has id %llu", (unsigned long long)id);
    remove_row(m, (uint32_t)row);
    return delete_in_store(m, id);
}

aw_status aw_memory_get(const aw_memory *m, uint64_t id, aw_memory_item *out) {
    uint64_t row;
    if (!m || !out) return aw_error(AW_ERR_INVALID_ARG, "memory: get needs a memory and an output");
    if (id == 0 || !aw_map_get(&m->row_of, id, &row))
        return aw_error(AW_ERR_NOT_FOUND, "memory: no memory has id %llu", (unsigned long long)id);
    const aw_store_meta *x = &m->meta[row];
    *out = (aw_memory_item){.id = id, .text = m->texts[row], .embedding = m->vec[row],
                            .kind = (aw_memory_kind)x->kind, .agent = x->agent, .time = x->time,
                            .importance = x->importance, .merged = m->merged[row]};
    return AW_OK;
}

/* ---------------------------------------------------------------- ranking */

uint32_t mem_fetch_count(const aw_memory *m, uint32_t keep) {
    if (!m->projected || keep >= AW_MEMORY_REFINE) return keep;
    return AW_MEMORY_REFINE < m->count ? AW_MEMORY_REFINE : (m->count > keep ? m->count : keep);
}

const float *mem_store_query_vector(const aw_memory *m, const float *qvec, float *out) {
    if (!m->projected) return qvec;
    mem_project_one(&m->proj, qvec, out);
    return out;
}

uint32_t mem_candidate_count(const aw_memory_query *q, uint32_t count) {
    uint32_t k = q->k ? q->k : 10;
    uint32_t c = q->candidates ? q->candidates : (k * 4 > 40 ? k * 4 : 40);
    if (c < k) c = k;
    if (c > MEM_MAX_CANDIDATES) c = MEM_MAX_CANDIDATES;
    return c < count ? c : (count ? count : 1);
}

bool mem_hit_before(const aw_memory_hit *a, const aw_memory_hit *b) {
    return a->score > b->score || (a->score == b->score && a->id < b->id);
}

static int cmp_hit(const void *pa, const void *pb) {
    const aw_memory_hit *a = pa, *b = pb;
    return mem_hit_before(a, b) ? -1 : mem_hit_before(b, a) ? 1 : 0;
}

static int cmp_similarity(const void *pa, const void *pb) {
    const aw_memory_hit *a = pa, *b = pb;
    if (a->similarity != b->similarity) return a->similarity > b->similarity ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

uint32_t mem_rank(aw_memory *m, const aw_memory_query *q, const float *qvec, const aw_store_hit *cands,
                  uint32_t n, uint32_t keep, aw_memory_hit *hits, uint32_t cap) {
    uint32_t k = q->k ? q->k : 10;
    if (k > cap) k = cap;
    aw_memory_hit *r = m->ranked;
    uint32_t c = 0;
    for (uint32_t i = 0; i < n && c < MEM_MAX_CANDIDATES; i++) {
        uint64_t row;
        if (!aw_map_get(&m->row_of, cands[i].id, &row)) continue; /* forgotten since the search */
        const aw_store_meta *x = &m->meta[row];
        if (!aw_store_filter_match(&q->filter, x)) continue;
        float sim = mem_dot(qvec, m->vec[row]);
        float score = sim;
        if (q->ranker == AW_RANKER_MEMORY) {
            double age = q->now > x->time ? q->now - x->time : 0.0;
            float recency = (float)exp2(-age / m->recency_half_life);
            score = m->w_sim * sim + m->w_rec * recency + m->w_imp * x->importance;
        }
        r[c++] = (aw_memory_hit){.id = cands[i].id, .score = score, .similarity = sim};
    }
    /* A projected store's candidates: the full embeddings pick the `keep` most similar. */
    if (c > keep) {
        qsort(r, c, sizeof *r, cmp_similarity);
        c = keep;
    }
    qsort(r, c, sizeof *r, cmp_hit);
    if (k > c) k = c;
    if (!(q->mmr_lambda > 0 && q->mmr_lambda < 1)) {
        memcpy(hits, r, sizeof *hits * k);
        return k;
    }
    /* MMR: greedy, each step the candidate with the best lambda*score - (1-lambda)*(max cosine to the
     * hits so far); the penalty of the first pick is 0. Ties go to the better-ranked candidate. */
    float lambda = q->mmr_lambda;
    for (uint32_t i = 0; i < c; i++) m->max_sim[i] = -INFINITY;
    for (uint32_t picked = 0; picked < k; picked++) {
        uint32_t best = UINT32_MAX;
        float best_v = -INFINITY;
        for (uint32_t i = 0; i < c; i++) {
            if (isnan(m->max_sim[i])) continue; /* already picked */
            float penalty = picked ? m->max_sim[i] : 0.0f;
            float v = lambda * r[i].score - (1 - lambda) * penalty;
            if (best == UINT32_MAX || v > best_v) {
                best = i;
                best_v = v;
            }
        }
        hits[picked] = r[best];
        m->max_sim[best] = NAN;
        uint64_t brow = 0;
        aw_map_get(&m->row_of, r[best].id, &brow);
        for (uint32_t i = 0; i < c; i++) {
            if (isnan(m->max_sim[i])) continue;
            uint64_t row = 0;
            aw_map_get(&m->row_of, r[i].id, &row);
            float s = mem_dot(m->vec[brow], m->vec[row]);
            if (s > m->max_sim[i]) m->max_sim[i] = s;
        }
    }
    return k;
}

/* Checks a query and resolves its vector into qvec (embedding the text when needed). */
static aw_status query_vector(aw_memory *m, const aw_memory_query *q, float *qvec) {
    if (q->embedding) {
        if (!normalise(q->embedding, qvec))
            return aw_error(AW_ERR_INVALID_ARG, "memory: the query embedding is zero or not finite");
        return AW_OK;
    }
    if (!q->text) return aw_error(AW_ERR_INVALID_ARG, "memory: the query has neither text nor embedding");
    if (!m->encoder) return aw_error(AW_ERR_INVALID_ARG, "memory: a text query needs an encoder");
    return aw_embed(m->encoder, q->text, qvec);
}

aw_status mem_check_query(const aw_memory_query *q) {
    if ((unsigned)q->ranker > AW_RANKER_OVERLAP) return aw_error(AW_ERR_INVALID_ARG, "memory: unknown ranker %d", (int)q->ranker);
    if (!(q->mmr_lambda >= 0 && q->mmr_lambda <= 1))
        return aw_error(AW_ERR_INVALID_ARG, "memory: mmr_lambda %g is not in 0..1", (double)q->mmr_lambda);
    if (!isfinite(q->now)) return aw_error(AW_ERR_INVALID_ARG, "memory: query time is not finite");
    if (q->ranker == AW_RANKER_OVERLAP && !q->text)
        return aw_error(AW_ERR_INVALID_ARG, "memory: the overlap ranker needs a query text");
    return AW_OK;
}

aw_status aw_memory_retrieve(aw_memory *m, const aw_memory_query *q, aw_memory_hit *hits, uint32_t cap,
                             uint32_t *found) {
    if (found) *found = 0;
    if (!m || !q || !found || (cap && !hits))
        return aw_error(AW_ERR_INVALID_ARG, "memory: retrieve needs a memory, a query, hits and found");
    aw_status st = mem_check_query(q);
    if (st != AW_OK || cap == 0 || m->count == 0) return st;
    if (q->ranker == AW_RANKER_OVERLAP) {
        *found = mem_rank_overlap(m, q, hits, cap);
        return AW_OK;
    }
    if ((st = query_vector(m, q, m->query_vec)) != AW_OK) return st;
    uint32_t n = 0, keep = mem_candidate_count(q, m->count);
    st = aw_store_query(m->store, mem_store_query_vector(m, m->query_vec, m->query_proj), mem_fetch_count(m, keep),
                        &q->filter, m->cands, &n);
    if (st != AW_OK) return st;
    *found = mem_rank(m, q, m->query_vec, m->cands, n, keep, hits, cap);
    return AW_OK;
}

aw_status mem_query_vector(aw_memory *m, const aw_memory_query *q, float *qvec) {
    return query_vector(m, q, qvec);
}
