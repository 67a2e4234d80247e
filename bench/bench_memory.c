/* Semantic memory benchmark scenarios (aw-bench memory), over 100,000 memories in the local store:
 *   query_100k_p99_ms        embed a query text + retrieve the top 10 (HNSW): p99 of 200 queries per rep
 *   query_100k_search_p99_ms the same retrieval from a pre-embedded query (the search and re-ranking alone)
 *   query_100k_search_p99_best_ms  p99 over the queries of each one's fastest CPU time in the reps
 *                            (the search's own tail with most interference from other processes gone)
 *   query_100k_embed_p99_ms  embedding one query text alone (the embedding share of query_100k)
 *   query_100k_recall10      HNSW top 10 against the exact flat index's, same queries
 *   insert_per_s             memories added per second, vectors pre-embedded (aw_memory_add with
 *                            embeddings, batches of 1,000; the memory's jobs, 2 threads, link them in
 *                            parallel), while the 100k store is built: one sample per 20,000 (so late
 *                            samples insert into a bigger graph). No embedding is timed: it is the
 *                            memory's and index's cost of given vectors. insert_per_cpu_s divides by the
 *                            CPU time of the whole process (all threads).
 *   insert_hnswlib_per_s     the peer on the same vectors: hnswlib's addPoint from 2 threads at once
 *                            (as its users build in parallel), M 16 and ef_construction 100 as the
 *                            memory, cosine as inner product on the vectors normalised outside the
 *                            timing; one sample per 20,000 like insert_per_s (hnswlib built in)
 *   insert_vs_hnswlib        insert_per_s / insert_hnswlib_per_s, medians
 *   insert_full_per_s        the previous design in the same run: the memory's store over the full
 *                            512-d embeddings (aw_memory_desc.search_dim = AW_EMBED_DIM, half
 *                            precision, ef_construction 100), timed the same way; insert_vs_full
 *                            is insert_per_s / insert_full_per_s, medians
 *   bytes_per_vector         live bytes of the memory and its store per memory (texts ~60 bytes; the
 *                            store keeps 128-d half-precision projections, the memory its float
 *                            copies); bytes_per_vector_full the same over the full-dimension store
 *   query_100k_recall10_full query_100k_recall10 over the full-dimension store
 *   *_p50_*                  the median query of each rep instead of the p99 one
 *   *_cpu_*                  the same timings in the thread's CPU time (CLOCK_THREAD_CPUTIME_ID):
 *                            every one of them runs on the calling thread, and on a shared machine
 *                            wall-clock p99s measure the other processes as much as this code
 * Baseline column: the same scenario on the exact flat index, in the same run.
 * Vectors: 2,000 generated agent-memory sentences embedded with the real encoder; each of the 100k
 * memories is one of them plus seeded Gaussian noise (cosine ~0.9 to it), so the data has the
 * clusters real memories have. Query texts are other generated sentences. */
#include "bench_memory.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ann_peers.h"
#include "aw/jobs.h"
#include "aw/rag.h"

#define MEMORIES     100000u
#define BASES        2000u
#define QUERIES      200u
#define INSERT_CHUNK 20000u
#define ADD_BATCH    1000u
#define NOISE        0.02f /* per dimension; |noise| ~ 0.45 against a unit vector: cosine ~0.9 */
#define PEER_THREADS 2u    /* as the memory's jobs */
#define PEER_M       16u   /* the memory's index: M (the index's default) and ef_construction */
#define PEER_EF      100u

enum {
    SC_QUERY,
    SC_QUERY_CPU,
    SC_SEARCH,
    SC_SEARCH_CPU,
    SC_QUERY_P50_CPU,
    SC_SEARCH_P50_CPU,
    SC_SEARCH_BEST,
    SC_EMBED,
    SC_EMBED_CPU,
    SC_RECALL,
    SC_INSERT,
    SC_INSERT_CPU,
    SC_INSERT_PEER,
    SC_INSERT_RATIO,
    SC_INSERT_FULL,
    SC_INSERT_VS_FULL,
    SC_BYTES,
    SC_BYTES_FULL,
    SC_RECALL_FULL,
    SC_COUNT
};

static const struct {
    const char *name, *unit;
    double target;
    bool target_is_min;
} scenarios[SC_COUNT] = {
    [SC_QUERY] = {"query_100k_p99_ms", "ms", 2.0, false},
    [SC_QUERY_CPU] = {"query_100k_p99_cpu_ms", "ms", 2.0, false},
    [SC_SEARCH] = {"query_100k_search_p99_ms", "ms", 0.0, false},
    [SC_SEARCH_CPU] = {"query_100k_search_p99_cpu_ms", "ms", 0.0, false},
    [SC_QUERY_P50_CPU] = {"query_100k_p50_cpu_ms", "ms", 0.0, false},
    [SC_SEARCH_P50_CPU] = {"query_100k_search_p50_cpu_ms", "ms", 0.0, false},
    [SC_SEARCH_BEST] = {"query_100k_search_p99_best_ms", "ms", 0.0, false},
    [SC_EMBED] = {"query_100k_embed_p99_ms", "ms", 0.0, false},
    [SC_EMBED_CPU] = {"query_100k_embed_p99_cpu_ms", "ms", 0.0, false},
    [SC_RECALL] = {"query_100k_recall10", "recall", 0.0, false},
    [SC_INSERT] = {"insert_per_s", "vectors/s", 20000.0, true},
    [SC_INSERT_CPU] = {"insert_per_cpu_s", "vectors/s", 20000.0, true},
    [SC_INSERT_PEER] = {"insert_hnswlib_per_s", "vectors/s", 0.0, true},
    [SC_INSERT_RATIO] = {"insert_vs_hnswlib", "x", 0.0, true},
    [SC_INSERT_FULL] = {"insert_full_per_s", "vectors/s", 0.0, true},
    [SC_INSERT_VS_FULL] = {"insert_vs_full", "x", 0.0, true},
    [SC_BYTES] = {"bytes_per_vector", "bytes", 0.0, false},
    [SC_BYTES_FULL] = {"bytes_per_vector_full", "bytes", 0.0, false},
    [SC_RECALL_FULL] = {"query_100k_recall10_full", "recall", 0.0, false},
};

/* Counts live bytes of one memory and its store. */
typedef struct counting {
    aw_allocator base;
    _Atomic int64_t live;
} counting;

static void *c_alloc(void *u, size_t size, size_t align) {
    void *p = aw_heap_allocator()->alloc(aw_heap_allocator()->user, size, align);
    if (p) atomic_fetch_add(&((counting *)u)->live, (int64_t)size);
    return p;
}
static void *c_realloc(void *u, void *ptr, size_t old, size_t size, size_t align) {
    void *p = aw_heap_allocator()->realloc(aw_heap_allocator()->user, ptr, old, size, align);
    if (p) atomic_fetch_add(&((counting *)u)->live, (int64_t)size - (int64_t)old);
    return p;
}
static void c_free(void *u, void *ptr, size_t size) {
    if (ptr) atomic_fetch_sub(&((counting *)u)->live, (int64_t)size);
    aw_heap_allocator()->free(aw_heap_allocator()->user, ptr, size);
}

typedef struct mem_bench {
    aw_bench_options opt;
    char (*texts)[96];   /* BASES generated sentences */
    char (*qtexts)[96];  /* QUERIES query sentences */
    float *base_vec;     /* BASES x dim */
    float *query_vec;    /* QUERIES x dim */
    float *vec;          /* ADD_BATCH x dim scratch */
    char (*mtexts)[112]; /* ADD_BATCH memory texts */
    double *samples[SC_COUNT], *baseline[SC_COUNT];
    uint32_t nsamples[SC_COUNT], nbaseline[SC_COUNT];
} mem_bench;

static void sentence(aw_rng *rng, char *out, size_t cap) {
    static const char *who[] = {"The guard",  "A merchant",   "The dragon",  "My companion", "The old villager",
                                "An orc scout", "Captain Rhea", "The healer", "A wandering bard", "Our squad",
                                "The smith",  "A pilgrim"};
    static const char *did[] = {"saw",    "attacked", "traded with", "followed", "ignored", "helped", "warned",
                                "chased", "spoke to", "hid from",    "rescued",  "betrayed", "paid", "cursed"};
    static const char *whom[] = {"the stranger",   "a wolf pack",  "the blacksmith", "two bandits",
                                 "the old wizard", "a lost child", "the royal courier", "three goblins",
                                 "the innkeeper",  "a river troll", "the abbess",       "a deserter"};
    static const char *where[] = {"near the well",       "at the market",     "in the dark forest", "by the river",
                                  "on the stone bridge", "inside the tavern", "behind the mill",    "at the north gate",
                                  "in the salt mines",   "on the coast road"};
    static const char *when[] = {"at dawn", "last night", "during the storm", "before the harvest", "yesterday",
                                 "at the festival", "after the siege", "this morning"};
    snprintf(out, cap, "%s %s %s %s %s.", who[aw_rng_range(rng, 12)], did[aw_rng_range(rng, 14)],
             whom[aw_rng_range(rng, 12)], where[aw_rng_range(rng, 10)], when[aw_rng_range(rng, 8)]);
}

static float gauss(aw_rng *rng) {
    float u = aw_rng_float(rng), v = aw_rng_float(rng);
    return sqrtf(-2.0f * logf(u > 1e-12f ? u : 1e-12f)) * cosf(6.2831853f * v);
}

static uint64_t cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Inserts run on the job system's workers too: their CPU time counts (the whole process's). */
static uint64_t process_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double p99(double *t, uint32_t n) {
    qsort(t, n, sizeof *t, cmp_double);
    uint32_t i = (uint32_t)ceil(0.99 * n) - 1;
    return t[i < n ? i : n - 1];
}

/* Batch `at` of every build: ADD_BATCH vectors into b->vec (a base sentence plus noise, drawn from
 * `rng` in the same order for every build), and with `items` the memories around them. */
static void make_batch(mem_bench *b, aw_rng *rng, uint32_t at, aw_memory_item *items) {
    for (uint32_t i = 0; i < ADD_BATCH; i++) {
        uint32_t id = at + i, base = aw_rng_range(rng, BASES);
        float *v = b->vec + (size_t)i * AW_EMBED_DIM;
        for (uint32_t d = 0; d < AW_EMBED_DIM; d++) v[d] = b->base_vec[(size_t)base * AW_EMBED_DIM + d] + NOISE * gauss(rng);
        if (!items) continue;
        snprintf(b->mtexts[i], sizeof b->mtexts[i], "%s (%u)", b->texts[base], id);
        items[i] = (aw_memory_item){.id = id + 1, .text = b->mtexts[i], .embedding = v,
                                    .kind = (aw_memory_kind)(id % AW_MEMORY_KIND_COUNT), .agent = id % 64,
                                    .time = (double)id, .importance = (float)(id % 10) / 10.0f};
    }
}

/* Builds a 100k memory (exact or HNSW), timing each INSERT_CHUNK in wall and CPU time. */
static aw_status build(mem_bench *b, aw_memory *mem, double *rates, double *cpu_rates) {
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed ^ 0x6d656d);
    aw_memory_item items[ADD_BATCH];
    uint64_t t0 = aw_time_ns(), c0 = process_cpu_ns();
    for (uint32_t at = 0; at < MEMORIES; at += ADD_BATCH) {
        /* Vectors are made outside the timed part: insert_per_s is the memory's cost alone. */
        uint64_t gen0 = aw_time_ns(), cgen0 = process_cpu_ns();
        make_batch(b, &rng, at, items);
        t0 += aw_time_ns() - gen0;
        c0 += process_cpu_ns() - cgen0;
        aw_status st = aw_memory_add(mem, items, ADD_BATCH);
        if (st != AW_OK) return st;
        if ((at + ADD_BATCH) % INSERT_CHUNK == 0) {
            uint64_t now = aw_time_ns(), cnow = process_cpu_ns();
            rates[(at + ADD_BATCH) / INSERT_CHUNK - 1] = INSERT_CHUNK / ((double)(now - t0) / 1e9);
            cpu_rates[(at + ADD_BATCH) / INSERT_CHUNK - 1] = INSERT_CHUNK / ((double)(cnow - c0) / 1e9);
            t0 = now;
            c0 = cnow;
        }
    }
    return AW_OK;
}

/* hnswlib over the same vectors in the same batches, timed the same way (see the header). */
static aw_status build_peer(mem_bench *b, double *rates) {
    ann_peer *peer = ann_peer_create(ANN_PEER_HNSWLIB, AW_EMBED_DIM, ANN_PEER_INNER_PRODUCT, PEER_M, PEER_EF, MEMORIES);
    if (!peer) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: memory: the hnswlib index could not be created");
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed ^ 0x6d656d);
    uint64_t t0 = aw_time_ns();
    for (uint32_t at = 0; at < MEMORIES; at += ADD_BATCH) {
        uint64_t gen0 = aw_time_ns();
        make_batch(b, &rng, at, NULL);
        for (uint32_t i = 0; i < ADD_BATCH; i++) {
            float *v = b->vec + (size_t)i * AW_EMBED_DIM, norm = 0.0f;
            for (uint32_t d = 0; d < AW_EMBED_DIM; d++) norm += v[d] * v[d];
            norm = norm > 0.0f ? 1.0f / sqrtf(norm) : 0.0f;
            for (uint32_t d = 0; d < AW_EMBED_DIM; d++) v[d] *= norm;
        }
        t0 += aw_time_ns() - gen0;
        if (ann_peer_add_parallel(peer, b->vec, ADD_BATCH, at, PEER_THREADS)) {
            ann_peer_destroy(peer);
            return aw_error(AW_ERR_IO, "bench: memory: hnswlib's addPoint failed");
        }
        if ((at + ADD_BATCH) % INSERT_CHUNK == 0) {
            uint64_t now = aw_time_ns();
            rates[(at + ADD_BATCH) / INSERT_CHUNK - 1] = INSERT_CHUNK / ((double)(now - t0) / 1e9);
            t0 = now;
        }
    }
    ann_peer_destroy(peer);
    return AW_OK;
}

/* p99 per rep of QUERIES retrievals, embedding the text (embed) or from the vector. best (may be
 * NULL) receives the p99 over queries of each query's fastest CPU time across the reps: the search's
 * own tail (long walks, big lists), with other processes' interference mostly filtered out. */
static aw_status time_queries(mem_bench *b, aw_memory *mem, bool embed, double *out, double *cpu_out,
                              double *cpu_p50, double *best) {
    aw_memory_hit hits[10];
    double t[QUERIES], c[QUERIES], fastest[QUERIES];
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        for (uint32_t q = 0; q < QUERIES; q++) {
            aw_memory_query query = {.k = 10, .now = MEMORIES};
            if (embed) query.text = b->qtexts[q];
            else query.embedding = b->query_vec + (size_t)q * AW_EMBED_DIM;
            uint32_t found = 0;
            uint64_t t0 = aw_time_ns(), c0 = cpu_ns();
            aw_status st = aw_memory_retrieve(mem, &query, hits, 10, &found);
            c[q] = (double)(cpu_ns() - c0) / 1e6;
            t[q] = (double)(aw_time_ns() - t0) / 1e6;
            if (st != AW_OK) return st;
            if (r == 0 || c[q] < fastest[q]) fastest[q] = c[q];
        }
        out[r] = p99(t, QUERIES);
        cpu_out[r] = p99(c, QUERIES); /* sorts c */
        cpu_p50[r] = 0.5 * (c[QUERIES / 2 - 1] + c[QUERIES / 2]);
    }
    if (best) *best = p99(fastest, QUERIES);
    return AW_OK;
}

/* The embedding share alone: p99 per rep of embedding each query text (wall and thread CPU). */
static aw_status time_embeds(mem_bench *b, aw_encoder *enc, double *out, double *cpu_out) {
    double t[QUERIES], c[QUERIES];
    float v[AW_EMBED_DIM];
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        for (uint32_t q = 0; q < QUERIES; q++) {
            uint64_t t0 = aw_time_ns(), c0 = cpu_ns();
            aw_status st = aw_embed(enc, b->qtexts[q], v);
            c[q] = (double)(cpu_ns() - c0) / 1e6;
            t[q] = (double)(aw_time_ns() - t0) / 1e6;
            if (st != AW_OK) return st;
        }
        out[r] = p99(t, QUERIES);
        cpu_out[r] = p99(c, QUERIES);
    }
    return AW_OK;
}

static double recall(mem_bench *b, aw_memory *approx, aw_memory *exact) {
    double sum = 0;
    for (uint32_t q = 0; q < QUERIES; q++) {
        aw_memory_query query = {.k = 10, .ranker = AW_RANKER_SIMILARITY, .candidates = 10,
                                 .embedding = b->query_vec + (size_t)q * AW_EMBED_DIM};
        aw_memory_hit h1[10], h2[10];
        uint32_t n1 = 0, n2 = 0, same = 0;
        aw_memory_retrieve(approx, &query, h1, 10, &n1);
        aw_memory_retrieve(exact, &query, h2, 10, &n2);
        for (uint32_t i = 0; i < n1; i++)
            for (uint32_t j = 0; j < n2; j++) same += h1[i].id == h2[j].id;
        sum += n2 ? (double)same / n2 : 1.0;
    }
    return sum / QUERIES;
}

static aw_status prepare(mem_bench *b, aw_encoder *enc) {
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    const char **ptr = malloc(sizeof *ptr * BASES);
    if (!ptr) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory");
    for (uint32_t i = 0; i < BASES; i++) {
        sentence(&rng, b->texts[i], sizeof b->texts[i]);
        ptr[i] = b->texts[i];
    }
    aw_status st = aw_embed_batch(enc, ptr, BASES, b->base_vec);
    for (uint32_t i = 0; i < QUERIES; i++) {
        sentence(&rng, b->qtexts[i], sizeof b->qtexts[i]);
        ptr[i] = b->qtexts[i];
    }
    if (st == AW_OK) st = aw_embed_batch(enc, ptr, QUERIES, b->query_vec);
    free(ptr);
    return st;
}

/* insert_per_s over another build's rate (scenario `other`), medians of the per-chunk samples. */
static double insert_ratio(const mem_bench *b, int other) {
    enum { CHUNKS = MEMORIES / INSERT_CHUNK };
    double ours[CHUNKS], theirs[CHUNKS]; /* aw_bench_median sorts */
    memcpy(ours, b->samples[SC_INSERT], sizeof ours);
    memcpy(theirs, b->samples[other], sizeof theirs);
    return aw_bench_median(ours, CHUNKS) / aw_bench_median(theirs, CHUNKS);
}

static aw_status run(mem_bench *b, aw_encoder *enc, aw_jobs *jobs) {
    aw_status st = prepare(b, enc);
    if (st != AW_OK) return st;
    counting count = {.base = {c_alloc, c_realloc, c_free, NULL}};
    count.base.user = &count;
    aw_memory *hnsw = aw_memory_create(&(aw_memory_desc){.encoder = enc, .jobs = jobs, .allocator = &count.base});
    /* Ground truth in float32: the exact index over the vectors as given. */
    aw_memory *flat = aw_memory_create(
        &(aw_memory_desc){.encoder = enc, .jobs = jobs, .local = {.exact = true, .element = AW_INDEX_F32}});
    if (!hnsw || !flat) {
        aw_memory_destroy(hnsw);
        aw_memory_destroy(flat);
        return aw_last_status();
    }
    uint32_t chunks = MEMORIES / INSERT_CHUNK;
    if (b->opt.verbose) fprintf(stderr, "memory: building 100k memories (HNSW, then flat)\n");
    st = build(b, hnsw, b->samples[SC_INSERT], b->samples[SC_INSERT_CPU]);
    if (st == AW_OK) st = build(b, flat, b->baseline[SC_INSERT], b->baseline[SC_INSERT_CPU]);
    b->nsamples[SC_INSERT] = b->nbaseline[SC_INSERT] = st == AW_OK ? chunks : 0;
    b->nsamples[SC_INSERT_CPU] = b->nbaseline[SC_INSERT_CPU] = st == AW_OK ? chunks : 0;
    if (st == AW_OK) {
        b->samples[SC_BYTES][0] = (double)atomic_load(&count.live) / MEMORIES;
        b->nsamples[SC_BYTES] = 1;
    }
    bool full = aw_bench_selected(&b->opt, scenarios[SC_INSERT_FULL].name) ||
               aw_bench_selected(&b->opt, scenarios[SC_INSERT_VS_FULL].name) ||
               aw_bench_selected(&b->opt, scenarios[SC_BYTES_FULL].name) ||
               aw_bench_selected(&b->opt, scenarios[SC_RECALL_FULL].name);
    if (st == AW_OK && full) {
        if (b->opt.verbose) fprintf(stderr, "memory: building the same 100k over the full 512-d embeddings\n");
        counting c32 = {.base = {c_alloc, c_realloc, c_free, NULL}};
        c32.base.user = &c32;
        aw_memory *m32 = aw_memory_create(&(aw_memory_desc){
            .encoder = enc, .jobs = jobs, .allocator = &c32.base, .search_dim = AW_EMBED_DIM});
        double cpu[MEMORIES / INSERT_CHUNK];
        st = m32 ? build(b, m32, b->samples[SC_INSERT_FULL], cpu) : aw_last_status();
        if (st == AW_OK) {
            b->nsamples[SC_INSERT_FULL] = chunks;
            b->samples[SC_INSERT_VS_FULL][0] = insert_ratio(b, SC_INSERT_FULL);
            b->samples[SC_BYTES_FULL][0] = (double)atomic_load(&c32.live) / MEMORIES;
            b->samples[SC_RECALL_FULL][0] = recall(b, m32, flat);
            b->nsamples[SC_INSERT_VS_FULL] = b->nsamples[SC_BYTES_FULL] = b->nsamples[SC_RECALL_FULL] = 1;
        }
        aw_memory_destroy(m32);
    }
    bool peer = aw_bench_selected(&b->opt, scenarios[SC_INSERT_PEER].name) ||
                aw_bench_selected(&b->opt, scenarios[SC_INSERT_RATIO].name);
    if (st == AW_OK && peer && ann_peer_available(ANN_PEER_HNSWLIB)) {
        if (b->opt.verbose) fprintf(stderr, "memory: building the same 100k vectors in hnswlib\n");
        st = build_peer(b, b->samples[SC_INSERT_PEER]);
        if (st == AW_OK) {
            b->nsamples[SC_INSERT_PEER] = chunks;
            b->samples[SC_INSERT_RATIO][0] = insert_ratio(b, SC_INSERT_PEER);
            b->nsamples[SC_INSERT_RATIO] = 1;
        }
    }
    if (st == AW_OK && (st = time_queries(b, hnsw, true, b->samples[SC_QUERY], b->samples[SC_QUERY_CPU],
                                                b->samples[SC_QUERY_P50_CPU], NULL)) == AW_OK &&
        (st = time_queries(b, flat, true, b->baseline[SC_QUERY], b->baseline[SC_QUERY_CPU],
                                 b->baseline[SC_QUERY_P50_CPU], NULL)) == AW_OK &&
        (st = time_queries(b, hnsw, false, b->samples[SC_SEARCH], b->samples[SC_SEARCH_CPU],
                                 b->samples[SC_SEARCH_P50_CPU], &b->samples[SC_SEARCH_BEST][0])) == AW_OK &&
        (st = time_queries(b, flat, false, b->baseline[SC_SEARCH], b->baseline[SC_SEARCH_CPU],
                                 b->baseline[SC_SEARCH_P50_CPU], &b->baseline[SC_SEARCH_BEST][0])) == AW_OK &&
        (st = time_embeds(b, enc, b->samples[SC_EMBED], b->samples[SC_EMBED_CPU])) == AW_OK) {
        for (int i = SC_QUERY; i <= SC_SEARCH_P50_CPU; i++) b->nsamples[i] = b->nbaseline[i] = b->opt.reps;
        b->nsamples[SC_SEARCH_BEST] = b->nbaseline[SC_SEARCH_BEST] = 1;
        b->nsamples[SC_EMBED] = b->nsamples[SC_EMBED_CPU] = b->opt.reps;
        b->samples[SC_RECALL][0] = recall(b, hnsw, flat);
        b->nsamples[SC_RECALL] = 1;
    }
    aw_memory_destroy(hnsw);
    aw_memory_destroy(flat);
    return st;
}

aw_status aw_bench_memory_run(const aw_bench_options *options, aw_bench_report *report) {
    if (!report) return aw_error(AW_ERR_INVALID_ARG, "bench: report is required");
    aw_bench_options opt = aw_bench_options_resolve(options);
    bool any = false;
    for (int i = 0; i < SC_COUNT; i++) any = any || aw_bench_selected(&opt, scenarios[i].name);
    if (!any) return AW_OK;
    mem_bench *b = calloc(1, sizeof *b);
    aw_status result = AW_OK;
    if (!b) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory");
    b->opt = opt;
    uint32_t per = opt.reps > MEMORIES / INSERT_CHUNK ? opt.reps : MEMORIES / INSERT_CHUNK;
    b->texts = calloc(BASES, sizeof *b->texts);
    b->qtexts = calloc(QUERIES, sizeof *b->qtexts);
    b->base_vec = malloc(sizeof(float) * AW_EMBED_DIM * BASES);
    b->query_vec = malloc(sizeof(float) * AW_EMBED_DIM * QUERIES);
    b->vec = malloc(sizeof(float) * AW_EMBED_DIM * ADD_BATCH);
    b->mtexts = calloc(ADD_BATCH, sizeof *b->mtexts);
    bool ok = b->texts && b->qtexts && b->base_vec && b->query_vec && b->vec && b->mtexts;
    for (int i = 0; i < SC_COUNT; i++) {
        b->samples[i] = calloc(per, sizeof(double));
        b->baseline[i] = calloc(per, sizeof(double));
        ok = ok && b->samples[i] && b->baseline[i];
    }
    aw_jobs *jobs = ok ? aw_jobs_create(&(aw_jobs_desc){.threads = 2}) : NULL;
    aw_encoder *enc = jobs ? aw_encoder_create(&(aw_encoder_desc){.jobs = jobs}) : NULL;
    if (!ok) {
        result = aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory");
    } else if (!enc) {
        fprintf(stderr, "aw-bench: memory: %s\n", aw_last_error());
        for (int i = 0; i < SC_COUNT; i++)
            if (aw_bench_selected(&opt, scenarios[i].name)) aw_bench_report_fail(report);
    } else {
        aw_status st = run(b, enc, jobs);
        if (st != AW_OK) {
            fprintf(stderr, "aw-bench: memory failed: %s (%s)\n", aw_last_error(), aw_status_str(st));
            for (int i = 0; i < SC_COUNT; i++)
                if (aw_bench_selected(&opt, scenarios[i].name)) aw_bench_report_fail(report);
        }
        for (int i = 0; i < SC_COUNT && result == AW_OK; i++) {
            if (!b->nsamples[i] || !aw_bench_selected(&opt, scenarios[i].name)) continue;
            aw_bench_entry e = {.suite = "memory", .name = scenarios[i].name, .unit = scenarios[i].unit,
                                .samples = b->samples[i], .sample_count = b->nsamples[i],
                                .baseline_samples = b->nbaseline[i] ? b->baseline[i] : NULL,
                                .baseline_count = b->nbaseline[i], .target = scenarios[i].target,
                                .target_is_min = scenarios[i].target_is_min};
            result = aw_bench_report_add(report, &e);
        }
    }
    aw_encoder_destroy(enc);
    aw_jobs_destroy(jobs);
    for (int i = 0; i < SC_COUNT; i++) {
        free(b->samples[i]);
        free(b->baseline[i]);
    }
    free(b->texts);
    free(b->qtexts);
    free(b->base_vec);
    free(b->query_vec);
    free(b->vec);
    free(b->mtexts);
    free(b);
    return result;
}
