/* The sentence encoder's public side: loading (manifest, shards, vocabulary), the pool of per-caller
 * scratch areas that makes it thread-safe without allocating per call, and batching: texts are
 * tokenized, packed several to a forward pass and, with a job system, split across its threads. */
#include "rag_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_BATCH_TOKENS 512u
#define MAX_BATCH_TOKENS     8192u

typedef struct enc_scratch {
    aw_token_scratch *tok;
    float *mem; /* the pass's activations */
    size_t mem_floats;
    rag_pass pass;
    int32_t *ids;   /* [cap_tokens] ids of the texts in the pass, back to back */
    uint32_t *lens; /* [cap_texts] tokens of each text in the pass */
} enc_scratch;

struct aw_encoder {
    const aw_allocator *allocator;
    aw_tokenizer *tok;
    rag_manifest manifest;
    rag_blob blob;
    rag_model model;
    float *timing; /* [128, 256] */
    aw_jobs *jobs;
    uint32_t batch_tokens;

    bool blas_serial;          /* OpenBLAS is its serial build: forward passes take blas_lock */
    pthread_mutex_t blas_lock; /* (that build returns wrong products under concurrent calls) */
    pthread_mutex_t lock;      /* guards the scratch pool below */
    enc_scratch **all;         /* every scratch made, for destroy */
    enc_scratch **idle;        /* the ones not borrowed; same capacity as all */
    uint32_t all_count, idle_count, capacity;

    _Atomic uint64_t texts, tokens, truncated, passes;
};

/* ---------------------------------------------------------------- scratch pool */

static void scratch_free(const aw_encoder *e, enc_scratch *s) {
    if (!s) return;
    const aw_allocator *a = e->allocator;
    aw_token_scratch_destroy(s->tok);
    aw_free(a, s->mem, s->mem_floats * sizeof *s->mem);
    aw_free(a, s->ids, (size_t)e->batch_tokens * sizeof *s->ids);
    aw_free(a, s->lens, (size_t)e->batch_tokens * sizeof *s->lens);
    aw_free(a, s, sizeof *s);
}

static enc_scratch *scratch_new(const aw_encoder *e) {
    const aw_allocator *a = e->allocator;
    enc_scratch *s = aw_alloc(a, sizeof *s, alignof(enc_scratch));
    if (!s) return NULL;
    *s = (enc_scratch){0};
    s->mem_floats = rag_pass_floats(e->batch_tokens, e->batch_tokens);
    s->tok = aw_token_scratch_create(a);
    s->mem = aw_alloc(a, s->mem_floats * sizeof *s->mem, 64);
    s->ids = aw_alloc(a, (size_t)e->batch_tokens * sizeof *s->ids, 64);
    s->lens = aw_alloc(a, (size_t)e->batch_tokens * sizeof *s->lens, 64);
    if (!s->tok || !s->mem || !s->ids || !s->lens) {
        scratch_free(e, s);
        return NULL;
    }
    rag_pass_init(&s->pass, s->mem, e->batch_tokens, e->batch_tokens);
    return s;
}

/* Adds a new scratch to the pool (as borrowed by the caller). */
static enc_scratch *pool_add(aw_encoder *e) {
    enc_scratch *s = scratch_new(e);
    if (!s) return NULL;
    pthread_mutex_lock(&e->lock);
    if (e->all_count == e->capacity) {
        uint32_t cap = e->capacity ? e->capacity * 2 : 4;
        enc_scratch **all = aw_alloc(e->allocator, cap * sizeof *all, alignof(enc_scratch *));
        enc_scratch **idle = aw_alloc(e->allocator, cap * sizeof *idle, alignof(enc_scratch *));
        if (!all || !idle) {
            pthread_mutex_unlock(&e->lock);
            aw_free(e->allocator, all, cap * sizeof *all);
            aw_free(e->allocator, idle, cap * sizeof *idle);
            scratch_free(e, s);
            return NULL;
        }
        if (e->all_count) memcpy(all, e->all, e->all_count * sizeof *all);
        if (e->idle_count) memcpy(idle, e->idle, e->idle_count * sizeof *idle);
        aw_free(e->allocator, e->all, e->capacity * sizeof *e->all);
        aw_free(e->allocator, e->idle, e->capacity * sizeof *e->idle);
        e->all = all;
        e->idle = idle;
        e->capacity = cap;
    }
    e->all[e->all_count++] = s;
    pthread_mutex_unlock(&e->lock);
    return s;
}

static enc_scratch *borrow(aw_encoder *e) {
    pthread_mutex_lock(&e->lock);
    enc_scratch *s = e->idle_count ? e->idle[--e->idle_count] : NULL;
    pthread_mutex_unlock(&e->lock);
    return s ? s : pool_add(e);
}

static void give_back(aw_encoder *e, enc_scratch *s) {
    pthread_mutex_lock(&e->lock);
    e->idle[e->idle_count++] = s; /* idle has room for every scratch ever made */
    pthread_mutex_unlock(&e->lock);
}

/* ---------------------------------------------------------------- create / destroy */

static void encoder_free(aw_encoder *e) {
    for (uint32_t i = 0; i < e->all_count; i++) scratch_free(e, e->all[i]);
    aw_free(e->allocator, e->all, e->capacity * sizeof *e->all);
    aw_free(e->allocator, e->idle, e->capacity * sizeof *e->idle);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->blas_lock);
    aw_free(e->allocator, e->timing, (size_t)AW_EMBED_MAX_TOKENS * RAG_D_EMB * sizeof *e->timing);
    aw_tokenizer_destroy(e->tok);
    rag_model_unfold_inputs(&e->model, e->allocator);
    rag_model_unpack(&e->model, e->allocator);
    rag_blob_free(&e->blob);
    rag_manifest_free(&e->manifest);
    aw_free(e->allocator, e, sizeof *e);
}

static aw_status load_model(aw_encoder *e, const char *dir, bool read_weights, bool strict_utf8,
                            bool exact_weights) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return aw_error(AW_ERR_NOT_FOUND, "model directory %s not found: %s", dir, RAG_FETCH_HINT);
    char path[1100];
    aw_status s = rag_join_path(path, sizeof path, dir, "model.json");
    if (s != AW_OK) return s;
    char *json;
    size_t size;
    if ((s = rag_read_file(e->allocator, path, RAG_FETCH_HINT, &json, &size)) != AW_OK) return s;
    s = rag_manifest_parse(&e->manifest, e->allocator, json, size);
    rag_free_file(e->allocator, json, size);
    if (s != AW_OK) return s;
    if ((s = rag_blob_load(&e->blob, e->allocator, dir, &e->manifest, read_weights)) != AW_OK) return s;
    if ((s = rag_model_bind(&e->model, &e->manifest, e->blob.data, e->blob.size)) != AW_OK) return s;
    if ((s = rag_model_pack(&e->model, e->allocator, RAG_KERNEL_AUTO, exact_weights)) != AW_OK) return s;

    e->tok = aw_tokenizer_create(
        &(aw_tokenizer_desc){.model_dir = dir, .allocator = e->allocator, .strict_utf8 = strict_utf8});
    if (!e->tok) return aw_last_status();
    if (e->tok->count > e->model.embedding_rows)
        return aw_error(AW_ERR_PARSE, "vocab.json has %u pieces but the embedding table only %u rows",
                        e->tok->count, e->model.embedding_rows);
    return AW_OK;
}

aw_encoder *aw_encoder_create(const aw_encoder_desc *desc) {
    aw_encoder_desc d = desc ? *desc : (aw_encoder_desc){0};
    if (d.batch_tokens == 0) d.batch_tokens = DEFAULT_BATCH_TOKENS;
    if (d.batch_tokens < AW_EMBED_MAX_TOKENS || d.batch_tokens > MAX_BATCH_TOKENS) {
        aw_error(AW_ERR_INVALID_ARG, "aw_encoder_create: batch_tokens %u is outside [%d, %u]", d.batch_tokens,
                 AW_EMBED_MAX_TOKENS, MAX_BATCH_TOKENS);
        return NULL;
    }
    char dir[1024];
    if (aw_rag_model_dir(d.model_dir, dir, sizeof dir) != AW_OK) return NULL;

    aw_encoder *e = aw_alloc(d.allocator, sizeof *e, alignof(aw_encoder));
    if (!e) return NULL;
    *e = (aw_encoder){.allocator = d.allocator, .jobs = d.jobs, .batch_tokens = d.batch_tokens};
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->blas_lock, NULL);
    aw_status st = load_model(e, dir, d.read_weights, d.strict_utf8, d.exact_weights);
    if (st == AW_OK) {
        e->timing = aw_alloc(e->allocator, (size_t)AW_EMBED_MAX_TOKENS * RAG_D_EMB * sizeof *e->timing, 64);
        if (!e->timing)
            st = AW_ERR_OUT_OF_MEMORY;
        else
            rag_timing_signal(&e->model, e->timing);
        /* OpenBLAS runs the plain layer 0; the own kernels get the folded input tables. */
        if (e->timing && e->model.kernel != RAG_KERNEL_BLAS)
            st = rag_model_fold_inputs(&e->model, e->allocator, e->timing);
    }
    uint32_t slots = d.scratch_slots ? d.scratch_slots : d.jobs ? aw_jobs_thread_count(d.jobs) : 1;
    for (uint32_t i = 0; i < slots && st == AW_OK; i++) {
        enc_scratch *s = pool_add(e);
        if (!s)
            st = AW_ERR_OUT_OF_MEMORY;
        else
            give_back(e, s);
    }
    if (st != AW_OK) {
        if (aw_last_status() == AW_OK) aw_error(st, "aw_encoder_create: %s", aw_status_str(st));
        encoder_free(e);
        return NULL;
    }
    /* OpenBLAS's thread count is process-wide. At these matrix sizes its own threads cost more in
     * wake-ups than they save (a short text took twice as long with two), and the encoder already
     * spreads texts over the job system's threads. */
    if (!d.keep_blas_threads && openblas_get_num_threads() != 1) openblas_set_num_threads(1);
    e->blas_serial = openblas_get_parallel() == 0;
    if (e->blas_serial)
        AW_LOGW(
            "rag: linked with OpenBLAS's serial build, which is not safe for concurrent calls: this encoder "
            "runs one forward pass at a time (link the pthread build for parallel batches)");
    return e;
}

void aw_encoder_destroy(aw_encoder *enc) {
    if (enc) encoder_free(enc);
}

const aw_tokenizer *aw_encoder_tokenizer(const aw_encoder *enc) {
    return enc ? enc->tok : NULL;
}

/* ---------------------------------------------------------------- embedding */

static void forward(aw_encoder *e, enc_scratch *s, uint32_t count, float *out) {
    if (e->blas_serial) pthread_mutex_lock(&e->blas_lock);
    rag_forward(&e->model, e->timing, &s->pass, s->ids, s->lens, count, out);
    if (e->blas_serial) pthread_mutex_unlock(&e->blas_lock);
}

/* Embeds texts [begin, end) with one scratch: each text's first 128 ids are packed after the
 * previous ones until the pass is full, then the pass runs and its rows land in out. */
static aw_status embed_range(aw_encoder *e, enc_scratch *s, const char *const *texts, uint32_t begin,
                             uint32_t end, float *out) {
    const uint32_t cap = e->batch_tokens, max_len = e->model.max_tokens;
    uint32_t rows = 0, count = 0, first = begin;
    uint64_t tokens = 0, truncated = 0, passes = 0;
    aw_status st = AW_OK;
    for (uint32_t i = begin; i < end; i++) {
        if (!texts[i]) {
            st = aw_error(AW_ERR_INVALID_ARG, "aw_embed_batch: texts[%u] is NULL", i);
            break;
        }
        const int32_t *ids;
        uint32_t n;
        size_t len = strlen(texts[i]), used = rag_token_prefix_bytes(e->tok, texts[i], len, max_len);
        if ((st = rag_tokenize(e->tok, s->tok, texts[i], used, &ids, &n)) != AW_OK) break;
        if (n > max_len || used < len) {
            n = n < max_len ? n : max_len;
            truncated++;
        }
        if (count == cap || rows + n > cap) {
            forward(e, s, count, out + (size_t)first * AW_EMBED_DIM);
            passes++;
            rows = count = 0;
            first = i;
        }
        memcpy(s->ids + rows, ids, (size_t)n * sizeof *ids);
        s->lens[count++] = n;
        rows += n;
        tokens += n;
    }
    if (st == AW_OK && count) {
        forward(e, s, count, out + (size_t)first * AW_EMBED_DIM);
        passes++;
    }
    atomic_fetch_add_explicit(&e->texts, end - begin, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->tokens, tokens, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->truncated, truncated, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->passes, passes, memory_order_relaxed);
    return st;
}

typedef struct batch_job {
    aw_encoder *enc;
    const char *const *texts;
    float *out;
    _Atomic int failed; /* set by the first range that fails */
    aw_status status;   /* written by that range only */
    char message[256];  /* its error, carried to the calling thread */
} batch_job;

static void batch_range(uint32_t begin, uint32_t end, uint32_t worker, void *ctx) {
    (void)worker;
    batch_job *job = ctx;
    if (atomic_load_explicit(&job->failed, memory_order_relaxed)) return;
    enc_scratch *s = borrow(job->enc);
    aw_status st = s ? embed_range(job->enc, s, job->texts, begin, end, job->out) : AW_ERR_OUT_OF_MEMORY;
    if (s) give_back(job->enc, s);
    if (st != AW_OK && atomic_exchange_explicit(&job->failed, 1, memory_order_acq_rel) == 0) {
        /* The error text is in this thread's last-error slot; the caller's thread needs it. */
        job->status = st;
        snprintf(job->message, sizeof job->message, "%s", aw_last_error());
    }
}

aw_status aw_embed_batch(aw_encoder *enc, const char *const *texts, uint32_t n, float *out) {
    if (!enc || (n && (!texts || !out)))
        return aw_error(AW_ERR_INVALID_ARG, "aw_embed_batch: encoder, texts and out are required");
    if (n == 0) return AW_OK;
    uint32_t threads = enc->jobs ? aw_jobs_thread_count(enc->jobs) : 1;
    if (threads <= 1 || n == 1) {
        enc_scratch *s = borrow(enc);
        if (!s) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_embed_batch: no memory for a scratch area");
        aw_status st = embed_range(enc, s, texts, 0, n, out);
        give_back(enc, s);
        return st;
    }
    /* A few ranges per thread balance texts of different lengths; a small batch is split evenly so
     * every thread gets some. */
    uint32_t grain = (n + threads * 4 - 1) / (threads * 4);
    if (grain < 8) grain = (n + threads - 1) / threads;
    batch_job job = {.enc = enc, .texts = texts, .out = out};
    aw_status st = aw_jobs_parallel_for(enc->jobs, n, grain, batch_range, &job);
    if (st != AW_OK) return st;
    if (atomic_load_explicit(&job.failed, memory_order_acquire))
        return aw_error(job.status, "%s", job.message[0] ? job.message : aw_status_str(job.status));
    return AW_OK;
}

aw_status aw_embed(aw_encoder *enc, const char *text, float *out) {
    if (!text) return aw_error(AW_ERR_INVALID_ARG, "aw_embed: text is NULL");
    return aw_embed_batch(enc, &text, 1, out);
}

static bool cpu_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

aw_encoder_stats aw_encoder_get_stats(const aw_encoder *enc) {
    if (!enc) return (aw_encoder_stats){0};
    aw_encoder *e = (aw_encoder *)enc; /* the lock is not part of the encoder's value */
    pthread_mutex_lock(&e->lock);
    uint32_t slots = e->all_count;
    pthread_mutex_unlock(&e->lock);
    return (aw_encoder_stats){
        .texts = atomic_load_explicit(&e->texts, memory_order_relaxed),
        .tokens = atomic_load_explicit(&e->tokens, memory_order_relaxed),
        .truncated = atomic_load_explicit(&e->truncated, memory_order_relaxed),
        .passes = atomic_load_explicit(&e->passes, memory_order_relaxed),
        .scratch_slots = slots,
        .weight_bytes = e->blob.size,
        .weights_mapped = e->blob.mapped_size != 0,
        .blas_core = openblas_get_corename(),
        .kernel = rag_kernel_name(e->model.kernel),
        .half_weights = e->model.tanh.half,
        .packed_bytes = e->model.packed_bytes + e->model.inputs.floats * sizeof(float),
        .cpu_avx512 = cpu_avx512(),
    };
}

float aw_embed_cosine(const float *a, const float *b, uint32_t dim) {
    if (!a || !b) return 0.0f;
    double ab = 0, aa = 0, bb = 0;
    for (uint32_t i = 0; i < dim; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}
