/* Embedding benchmark scenarios (aw-bench embed):
 *   embed_1_short_ms       one 11-word sentence on one thread: per rep, the median of 31 calls
 *   embed_1_short_f16_ms   the same through the float16 products only (AW_RAG_KERNEL=avx512), where
 *                          the default is the bfloat16 kernel: its reps alternate with the row above
 *   embed_batch_per_s_2t   256 generated sentences per aw_embed_batch over a 2-thread job system
 *   embed_batch_per_s_1t   the same batch on one thread, to show what the second thread adds
 *   tokenize_short_us      the tokenizer alone on the short sentence (median of 301 calls per rep)
 * Baseline: after the C scenarios, scripts/rag/reference.js (node, @energetic-ai/embeddings on TF.js)
 * times the same short sentence and the same batch; its medians fill the baseline column, so each
 * ratio reads "C / TF.js". The reference runs alone, never beside the C code, on a machine that has
 * two cores. */
#define _DEFAULT_SOURCE /* mkstemp, popen */
#include "bench_embed.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/jobs.h"
#include "aw/rag.h"

#define SHORT_TEXT     "The guard saw a grey wolf near the north gate at dawn."
#define BATCH          256
#define SHORT_CALLS    31
#define TOKENIZE_CALLS 301
#define THREADS        2

enum { SC_SHORT, SC_SHORT_F16, SC_BATCH_2T, SC_BATCH_1T, SC_TOKENIZE, SC_COUNT };

typedef struct scenario {
    const char *name;
    const char *unit;
    double target; /* 0: none */
    bool target_is_min;
} scenario;

static const scenario scenarios[SC_COUNT] = {
    [SC_SHORT] = {"embed_1_short_ms", "ms", 0.5, false},
    [SC_SHORT_F16] = {"embed_1_short_f16_ms", "ms", 0.0, false},
    [SC_BATCH_2T] = {"embed_batch_per_s_2t", "texts/s", 2000.0, true},
    [SC_BATCH_1T] = {"embed_batch_per_s_1t", "texts/s", 0.0, false},
    [SC_TOKENIZE] = {"tokenize_short_us", "us", 0.0, false},
};

typedef struct embed_bench {
    aw_bench_options opt;
    char storage[BATCH][160];
    const char *batch[BATCH];
    float *out; /* BATCH x 512 */
    double *samples[SC_COUNT];
    double *ref_short; /* reference samples, when the reference ran */
    double *ref_batch;
    uint32_t ref_count;
} embed_bench;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, uint32_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Agent-memory sentences of 7..14 words, fixed by the seed. */
static void make_sentences(embed_bench *b) {
    static const char *who[] = {"The guard",        "A merchant",   "The dragon",   "My companion",
                                "The old villager", "An orc scout", "Captain Rhea", "The healer",
                                "A wandering bard", "Our squad"};
    static const char *did[] = {"saw",    "attacked", "traded with", "followed", "ignored", "helped",
                                "warned", "chased",   "spoke to",    "hid from", "rescued", "betrayed"};
    static const char *whom[] = {"the stranger",      "a wolf pack",    "the blacksmith",
                                 "two bandits",       "the old wizard", "a lost child",
                                 "the royal courier", "three goblins",  "the innkeeper"};
    static const char *where[] = {
        "near the well",       "at the market",     "in the dark forest", "by the river",
        "on the stone bridge", "inside the tavern", "behind the mill",    "at dawn"};
    static const char *tail[] = {".",
                                 "!",
                                 " yesterday.",
                                 " again.",
                                 " at 12:45.",
                                 " for 150 gold.",
                                 ", then left.",
                                 " and nobody noticed."};
    aw_rng rng;
    aw_rng_seed(&rng, b->opt.seed);
    for (uint32_t i = 0; i < BATCH; i++) {
        snprintf(b->storage[i], sizeof b->storage[i], "%s %s %s %s%s", who[aw_rng_range(&rng, 10)],
                 did[aw_rng_range(&rng, 12)], whom[aw_rng_range(&rng, 9)], where[aw_rng_range(&rng, 8)],
                 tail[aw_rng_range(&rng, 8)]);
        b->batch[i] = b->storage[i];
    }
}

static aw_status fail_with(const char *what) {
    aw_status st = aw_last_status();
    char msg[400];
    snprintf(msg, sizeof msg, "%s", aw_last_error());
    return aw_error(st == AW_OK ? AW_ERR_UNSUPPORTED : st, "%s: %s", what, msg[0] ? msg : "failed");
}

/* ---------------------------------------------------------------- C scenarios */

/* The short sentence through enc (into samples[sc]) and, when given, through other (into
 * samples[other_sc]), rep by rep alternately, so both see the same load. */
static aw_status run_short(embed_bench *b, aw_encoder *enc, int sc, aw_encoder *other, int other_sc) {
    float v[AW_EMBED_DIM];
    double t[SHORT_CALLS];
    aw_encoder *encs[2] = {enc, other};
    int scs[2] = {sc, other_sc};
    for (int e = 0; e < 2 && encs[e]; e++)
        for (int i = 0; i < 20; i++)
            if (aw_embed(encs[e], SHORT_TEXT, v) != AW_OK) return fail_with("aw_embed");
    for (uint32_t r = 0; r < b->opt.reps; r++)
        for (int e = 0; e < 2 && encs[e]; e++) {
            for (int i = 0; i < SHORT_CALLS; i++) {
                uint64_t t0 = aw_time_ns();
                aw_embed(encs[e], SHORT_TEXT, v);
                t[i] = (double)(aw_time_ns() - t0) / 1e6;
            }
            b->samples[scs[e]][r] = median_of(t, SHORT_CALLS);
        }
    return AW_OK;
}

/* An encoder whose products are the float16 AVX-512 kernels, when the default one runs the
 * bfloat16 kernel (else NULL: there is nothing to compare). */
static aw_encoder *float16_encoder(const aw_encoder *def) {
    if (strcmp(aw_encoder_get_stats(def).kernel, "avx512bf16") != 0) return NULL;
    const char *was = getenv("AW_RAG_KERNEL");
    char saved[64];
    snprintf(saved, sizeof saved, "%s", was ? was : "");
    setenv("AW_RAG_KERNEL", "avx512", 1);
    aw_encoder *e = aw_encoder_create(&(aw_encoder_desc){0});
    if (was) setenv("AW_RAG_KERNEL", saved, 1);
    else unsetenv("AW_RAG_KERNEL");
    return e;
}

static aw_status run_batch(embed_bench *b, aw_encoder *enc, int sc) {
    if (aw_embed_batch(enc, b->batch, BATCH, b->out) != AW_OK) return fail_with("aw_embed_batch");
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        uint64_t t0 = aw_time_ns();
        aw_embed_batch(enc, b->batch, BATCH, b->out);
        b->samples[sc][r] = BATCH / ((double)(aw_time_ns() - t0) / 1e9);
    }
    return AW_OK;
}

static aw_status run_tokenize(embed_bench *b, aw_encoder *enc) {
    const aw_tokenizer *tok = aw_encoder_tokenizer(enc);
    aw_token_scratch *s = aw_token_scratch_create(NULL);
    if (!s) return fail_with("aw_token_scratch_create");
    int32_t ids[AW_EMBED_MAX_TOKENS];
    uint32_t n = 0;
    double t[TOKENIZE_CALLS];
    size_t len = strlen(SHORT_TEXT);
    for (int i = 0; i < 100; i++) aw_tokenizer_encode(tok, s, SHORT_TEXT, len, ids, AW_EMBED_MAX_TOKENS, &n);
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        for (int i = 0; i < TOKENIZE_CALLS; i++) {
            uint64_t t0 = aw_time_ns();
            aw_tokenizer_encode(tok, s, SHORT_TEXT, len, ids, AW_EMBED_MAX_TOKENS, &n);
            t[i] = (double)(aw_time_ns() - t0) / 1e3;
        }
        b->samples[SC_TOKENIZE][r] = median_of(t, TOKENIZE_CALLS);
    }
    aw_token_scratch_destroy(s);
    return AW_OK;
}

/* ---------------------------------------------------------------- the TF.js reference */

/* scripts/rag/reference.js, found from this file's own path (CMake compiles it by absolute path). */
static bool reference_script(char *buf, size_t cap) {
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    if (!slash) return false;
    int n = snprintf(buf, cap, "%.*s/../scripts/rag/reference.js", (int)(slash - here), here);
    return n > 0 && (size_t)n < cap && access(buf, R_OK) == 0 && !strchr(buf, '\'');
}

static void run_reference(embed_bench *b) {
    char script[1024], file[512];
    if (!reference_script(script, sizeof script)) {
        fprintf(stderr, "aw-bench: embed: scripts/rag/reference.js not found; no TF.js baseline\n");
        return;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(file, sizeof file, "%s/aw-bench-embed-XXXXXX", tmp && *tmp && !strchr(tmp, '\'') ? tmp : "/tmp");
    int fd = mkstemp(file);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fprintf(f, "%s\n", SHORT_TEXT);
    for (uint32_t i = 0; i < BATCH; i++) fprintf(f, "%s\n", b->batch[i]);
    fclose(f);

    char cmd[2048];
    snprintf(cmd, sizeof cmd, "node '%s' bench '%s' %u 2>&1", script, file, b->opt.reps);
    if (b->opt.verbose) fprintf(stderr, "embed: %s\n", cmd);
    FILE *p = popen(cmd, "r");
    char out[1 << 16];
    size_t got = 0;
    if (p) {
        size_t r;
        while (got < sizeof out - 1 && (r = fread(out + got, 1, sizeof out - 1 - got, p)) > 0) got += r;
        int rc = pclose(p);
        out[got] = '\0';
        if (rc != 0) got = 0;
    }
    unlink(file);
    /* The JSON is the last line that opens an object; lines before it are the reference's chatter. */
    const char *line = NULL;
    for (const char *s = out; got && *s;) {
        if (*s == '{') line = s;
        const char *nl = strchr(s, '\n');
        if (!nl) break;
        s = nl + 1;
    }
    json_error_t jerr;
    json_t *root = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr) : NULL;
    json_t *single = json_object_get(root, "single_ms"), *batch = json_object_get(root, "batch_per_s");
    if (!json_is_array(single) || !json_is_array(batch) || json_array_size(single) == 0 ||
        json_array_size(single) != json_array_size(batch)) {
        fprintf(stderr,
                "aw-bench: embed: the TF.js reference did not run (needs node and "
                "scripts/rag-setup.sh)%s%.300s\n",
                got ? ": " : "", got ? out : "");
        json_decref(root);
        return;
    }
    uint32_t n = (uint32_t)json_array_size(single);
    b->ref_short = calloc(n, sizeof *b->ref_short);
    b->ref_batch = calloc(n, sizeof *b->ref_batch);
    if (b->ref_short && b->ref_batch) {
        for (uint32_t i = 0; i < n; i++) {
            b->ref_short[i] = json_number_value(json_array_get(single, i));
            b->ref_batch[i] = json_number_value(json_array_get(batch, i));
        }
        b->ref_count = n;
    }
    fprintf(stderr, "embed: baseline = TF.js reference (%s backend, node), same sentences, same run\n",
            json_string_value(json_object_get(root, "backend"))
                ? json_string_value(json_object_get(root, "backend"))
                : "?");
    json_decref(root);
}

/* ---------------------------------------------------------------- suite */

static aw_status run_scenario(embed_bench *b, int sc, aw_encoder *one, aw_encoder *two, aw_encoder *f16,
                              bool both_short) {
    switch (sc) {
    case SC_SHORT:
        return both_short ? run_short(b, one, SC_SHORT, f16, SC_SHORT_F16) : run_short(b, one, SC_SHORT, NULL, 0);
    case SC_SHORT_F16:
        return run_short(b, f16, SC_SHORT_F16, NULL, 0);
    case SC_BATCH_2T:
        return run_batch(b, two, SC_BATCH_2T);
    case SC_BATCH_1T:
        return run_batch(b, one, SC_BATCH_1T);
    default:
        return run_tokenize(b, one);
    }
}

aw_status aw_bench_embed_run(const aw_bench_options *options, aw_bench_report *report) {
    if (!report) return aw_error(AW_ERR_INVALID_ARG, "bench: report is required");
    embed_bench *b = calloc(1, sizeof *b);
    if (!b) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory");
    b->opt = aw_bench_options_resolve(options);
    bool any = false, ok[SC_COUNT] = {false};
    for (int i = 0; i < SC_COUNT; i++) any = any || aw_bench_selected(&b->opt, scenarios[i].name);
    aw_status result = AW_OK;
    if (!any) goto done;

    make_sentences(b);
    b->out = malloc((size_t)BATCH * AW_EMBED_DIM * sizeof *b->out);
    for (int i = 0; i < SC_COUNT; i++) b->samples[i] = calloc(b->opt.reps, sizeof(double));
    for (int i = 0; i < SC_COUNT; i++)
        if (!b->samples[i] || !b->out) {
            result = aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory");
            goto done;
        }
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = THREADS});
    aw_encoder *one = aw_encoder_create(&(aw_encoder_desc){0});
    aw_encoder *two = one && jobs ? aw_encoder_create(&(aw_encoder_desc){.jobs = jobs}) : NULL;
    if (!one || !two) {
        fprintf(stderr, "aw-bench: embed: %s\n", aw_last_error());
        for (int i = 0; i < SC_COUNT; i++)
            if (aw_bench_selected(&b->opt, scenarios[i].name)) aw_bench_report_fail(report);
    } else {
        aw_encoder_stats st = aw_encoder_get_stats(one);
        uint32_t short_tokens = 0, batch_tokens = 0, n = 0;
        aw_tokenizer_count(aw_encoder_tokenizer(one), NULL, SHORT_TEXT, strlen(SHORT_TEXT), &short_tokens);
        for (uint32_t i = 0; i < BATCH; i++) {
            aw_tokenizer_count(aw_encoder_tokenizer(one), NULL, b->batch[i], strlen(b->batch[i]), &n);
            batch_tokens += n;
        }
        fprintf(stderr,
                "embed: products kernel %s, %s weights, %.1f MiB packed weights and input tables "
                "(AW_RAG_KERNEL picks another; OpenBLAS: %s)%s\n",
                st.kernel, st.half_weights ? "float16" : "float32", (double)st.packed_bytes / 1048576.0,
                st.blas_core,
                strcmp(st.kernel, "avx512bf16") == 0
                    ? "\nembed: bfloat16 dot products for layer 1's q/k/v (AW_RAG_BF16); "
                      "embed_1_short_f16_ms: float16 products only (AW_RAG_KERNEL=avx512)"
                    : "");
        fprintf(stderr, "embed: short sentence (%u tokens): %s; batch: %u sentences, %.1f tokens each\n",
                short_tokens, SHORT_TEXT, BATCH, (double)batch_tokens / BATCH);
        /* The float16 row runs alternately with the default one when both are selected. */
        aw_encoder *f16 = aw_bench_selected(&b->opt, scenarios[SC_SHORT_F16].name) ? float16_encoder(one) : NULL;
        bool both_short = f16 && aw_bench_selected(&b->opt, scenarios[SC_SHORT].name);
        for (int i = 0; i < SC_COUNT; i++) {
            if (!aw_bench_selected(&b->opt, scenarios[i].name)) continue;
            if (i == SC_SHORT_F16 && (!f16 || both_short)) { /* no bfloat16 kernel here, or done above */
                ok[i] = f16 != NULL && ok[SC_SHORT];
                continue;
            }
            if (b->opt.verbose) fprintf(stderr, "embed: %s (%u reps)\n", scenarios[i].name, b->opt.reps);
            aw_clear_error();
            aw_status st2 = run_scenario(b, i, one, two, f16, both_short);
            if (st2 != AW_OK) {
                fprintf(stderr, "aw-bench: embed/%s failed: %s (%s)\n", scenarios[i].name, aw_last_error(),
                        aw_status_str(st2));
                aw_bench_report_fail(report);
                continue;
            }
            ok[i] = true;
        }
        if (ok[SC_SHORT] || ok[SC_BATCH_2T] || ok[SC_BATCH_1T]) run_reference(b);
        aw_encoder_destroy(f16);
    }
    aw_encoder_destroy(two);
    aw_encoder_destroy(one);
    aw_jobs_destroy(jobs);

    for (int i = 0; i < SC_COUNT && result == AW_OK; i++) {
        if (!ok[i]) continue;
        const double *base = NULL;
        if (b->ref_count)
            base = i == SC_SHORT || i == SC_SHORT_F16 ? b->ref_short : i == SC_TOKENIZE ? NULL : b->ref_batch;
        aw_bench_entry entry = {
            .suite = "embed",
            .name = scenarios[i].name,
            .unit = scenarios[i].unit,
            .samples = b->samples[i],
            .sample_count = b->opt.reps,
            .baseline_samples = base,
            .baseline_count = base ? b->ref_count : 0,
            .target = scenarios[i].target,
            .target_is_min = scenarios[i].target_is_min,
        };
        result = aw_bench_report_add(report, &entry);
    }
done:
    for (int i = 0; i < SC_COUNT; i++) free(b->samples[i]);
    free(b->ref_short);
    free(b->ref_batch);
    free(b->out);
    free(b);
    return result;
}
