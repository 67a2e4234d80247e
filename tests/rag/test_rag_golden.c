/* Correctness against the reference: every golden vector (TF.js, scripts/rag/reference.js) must have
 * cosine >= 0.9999 with the C encoder's embedding of the same text, embedded alone, in one packed
 * batch, spread over a job system, with other pass sizes, with the weights read instead of mapped,
 * and through every products kernel the CPU runs with float16 and float32 weights. Needs the model
 * that scripts/rag-setup.sh fetches. */
#include "aw/rag.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rag_test_util.h"

#define MIN_COSINE 0.9999
#define BF16_MIN_COSINE (1.0 - 1e-5) /* the bfloat16 products' own bar: ten times inside MIN_COSINE */

static rag_golden golden;

static int setup(void **state) {
    (void)state;
    rag_golden_load(&golden);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    rag_golden_free(&golden);
    return 0;
}

static aw_encoder *make(const aw_encoder_desc *desc) {
    aw_encoder_desc d = *desc;
    d.model_dir = rag_test_model_dir();
    aw_encoder *e = aw_encoder_create(&d);
    if (!e) fail_msg("aw_encoder_create: %s", aw_last_error());
    return e;
}

static double cosine(const float *a, const float *b) {
    double ab = 0, aa = 0, bb = 0;
    for (uint32_t j = 0; j < AW_EMBED_DIM; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return ab / sqrt(aa * bb);
}

/* Checks the first `count` rows of out (golden order) and returns the lowest cosine. */
static double check_first(const float *out, uint32_t count, const char *how) {
    double worst = 1.0;
    uint32_t worst_i = 0;
    for (uint32_t i = 0; i < count; i++) {
        const float *e = out + (size_t)i * AW_EMBED_DIM;
        double norm = 0.0;
        for (uint32_t j = 0; j < AW_EMBED_DIM; j++) norm += (double)e[j] * e[j];
        if (fabs(sqrt(norm) - 1.0) > 1e-4) fail_msg("%s: text %u has norm %f", how, i, sqrt(norm));
        double c = cosine(e, golden.entries[i].embedding);
        if (c < worst) {
            worst = c;
            worst_i = i;
        }
        if (c < MIN_COSINE)
            fail_msg("%s: text %u (\"%.50s\") has cosine %.6f with its golden vector", how, i,
                     golden.entries[i].text, c);
    }
    print_message("%s: %u texts, lowest cosine 1 - %.2e (text %u)\n", how, count, 1.0 - worst, worst_i);
    return worst;
}

static double check_all(const float *out, const char *how) {
    return check_first(out, golden.count, how);
}

static const char **texts(void) {
    const char **t = malloc(golden.count * sizeof *t);
    for (uint32_t i = 0; i < golden.count; i++) t[i] = golden.entries[i].text;
    return t;
}

static void test_golden_one_by_one(void **state) {
    (void)state;
    assert_true(golden.count >= 200);
    aw_encoder *e = make(&(aw_encoder_desc){0});
    float *out = malloc((size_t)golden.count * AW_EMBED_DIM * sizeof *out);
    for (uint32_t i = 0; i < golden.count; i++) {
        if (aw_embed(e, golden.entries[i].text, out + (size_t)i * AW_EMBED_DIM) != AW_OK)
            fail_msg("aw_embed(%u): %s", i, aw_last_error());
    }
    check_all(out, "one by one");
    aw_encoder_stats st = aw_encoder_get_stats(e);
    assert_int_equal(st.texts, golden.count);
    assert_int_equal(st.passes, golden.count);
    assert_true(st.truncated >= 6); /* the long texts */
    assert_true(st.weights_mapped);
    assert_int_equal(st.weight_bytes, 27903656);
    free(out);
    aw_encoder_destroy(e);
}

static void test_golden_batched(void **state) {
    (void)state;
    const char **t = texts();
    float *out = malloc((size_t)golden.count * AW_EMBED_DIM * sizeof *out);
    /* One thread with the default pass size, then the smallest and a large pass. */
    static const uint32_t sizes[] = {0, AW_EMBED_MAX_TOKENS, 2048};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        aw_encoder *e = make(&(aw_encoder_desc){.batch_tokens = sizes[k]});
        assert_int_equal(aw_embed_batch(e, t, golden.count, out), AW_OK);
        char how[64];
        snprintf(how, sizeof how, "one batch, %u-token passes", sizes[k] ? sizes[k] : 512);
        check_all(out, how);
        aw_encoder_stats st = aw_encoder_get_stats(e);
        assert_true(st.passes < golden.count); /* texts really were packed */
        aw_encoder_destroy(e);
    }
    free(out);
    free(t);
}

static void test_golden_jobs_and_read_weights(void **state) {
    (void)state;
    const char **t = texts();
    float *out = malloc((size_t)golden.count * AW_EMBED_DIM * sizeof *out);
    float *again = malloc((size_t)golden.count * AW_EMBED_DIM * sizeof *again);
    aw_jobs *jobs = aw_jobs_create(&(aw_jobs_desc){.threads = 2});
    assert_non_null(jobs);
    aw_encoder *e = make(&(aw_encoder_desc){.jobs = jobs});
    assert_int_equal(aw_embed_batch(e, t, golden.count, out), AW_OK);
    check_all(out, "2 job threads");
    aw_encoder_destroy(e);

    /* Weights read into memory compute exactly what the mapped ones do. */
    e = make(&(aw_encoder_desc){.jobs = jobs, .read_weights = true});
    assert_false(aw_encoder_get_stats(e).weights_mapped);
    assert_int_equal(aw_embed_batch(e, t, golden.count, again), AW_OK);
    assert_memory_equal(out, again, (size_t)golden.count * AW_EMBED_DIM * sizeof *out);
    /* A small batch (fewer texts than ranges) still spreads and still matches. */
    assert_int_equal(aw_embed_batch(e, t, 3, again), AW_OK);
    for (uint32_t i = 0; i < 3; i++)
        assert_true(aw_embed_cosine(again + i * AW_EMBED_DIM, golden.entries[i].embedding, AW_EMBED_DIM) >=
                    MIN_COSINE);
    aw_encoder_destroy(e);
    aw_jobs_destroy(jobs);
    free(again);
    free(out);
    free(t);
}

/* Every products kernel this CPU runs (AW_RAG_KERNEL), with float16 and with float32 weights: each
 * meets the bar, float32 weights (and OpenBLAS, which always reads them) stay within 1e-9 of the
 * reference, and the own kernels agree with each other to 1e-9 (only their summation order differs),
 * except the bfloat16 kernel with reduced-precision weights, which must stay within 1e-5 of the
 * reference. The scalar kernel, a reference path, embeds the first texts only. */
static void test_golden_every_kernel(void **state) {
    (void)state;
    static const char *kernels[] = {"avx512", "avx2", "scalar", "openblas", "avx512bf16"};
    const char **t = texts();
    float *out = malloc((size_t)golden.count * AW_EMBED_DIM * sizeof *out);
    float *first = malloc((size_t)golden.count * AW_EMBED_DIM * sizeof *first);
    for (int exact = 0; exact < 2; exact++) {
        const char *first_kernel = NULL;
        for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++) {
            setenv("AW_RAG_KERNEL", kernels[k], 1);
            aw_encoder *e = make(&(aw_encoder_desc){.exact_weights = exact});
            aw_encoder_stats st = aw_encoder_get_stats(e);
            if (strcmp(st.kernel, kernels[k]) != 0) { /* this CPU does not run it */
                aw_encoder_destroy(e);
                continue;
            }
            bool blas = strcmp(kernels[k], "openblas") == 0;
            uint32_t n = strcmp(kernels[k], "scalar") == 0 ? 24 : golden.count;
            assert_int_equal(aw_embed_batch(e, t, n, out), AW_OK);
            char how[96];
            snprintf(how, sizeof how, "kernel %s, %s weights", kernels[k],
                     exact || blas ? "float32" : "float16");
            double worst = check_first(out, n, how);
            assert_true(st.half_weights == (!exact && !blas));
            if (exact || blas) assert_true(1.0 - worst < 1e-9);
            if (!exact && strcmp(kernels[k], "avx512bf16") == 0) {
                assert_true(worst >= BF16_MIN_COSINE);
            } else if (!blas && first_kernel) {
                for (uint32_t i = 0; i < n; i++)
                    if (1.0 - cosine(out + (size_t)i * AW_EMBED_DIM, first + (size_t)i * AW_EMBED_DIM) > 1e-9)
                        fail_msg("text %u: kernels %s and %s differ", i, kernels[k], first_kernel);
            } else if (!blas) {
                memcpy(first, out, (size_t)n * AW_EMBED_DIM * sizeof *out);
                first_kernel = kernels[k];
            }
            aw_encoder_destroy(e);
        }
    }
    unsetenv("AW_RAG_KERNEL");
    free(first);
    free(out);
    free(t);
}

/* The bfloat16 kernel, where the CPU runs it: each dense product alone in bfloat16 (AW_RAG_BF16), the
 * worst cosine over every golden vector printed (the accuracy table of docs/performance.md), then
 * the default set, whose worst golden cosine must stay within 1e-5 of 1 (ten times inside the bar). */
static void test_golden_bf16_products(void **state) {
    (void)state;
    setenv("AW_RAG_KERNEL", "avx512bf16", 1);
    const char **t = texts();
    float *out = malloc((size_t)golden.count * AW_EMBED_DIM * sizeof *out);
    static const char *sets[] = {"none", "l0_out", "l0_ffn1", "l1_qkv", "l1_out", "l1_ffn1", "all", NULL};
    double worst_none = 1.0;
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        if (sets[k]) setenv("AW_RAG_BF16", sets[k], 1);
        else unsetenv("AW_RAG_BF16");
        aw_encoder *e = make(&(aw_encoder_desc){0});
        if (strcmp(aw_encoder_get_stats(e).kernel, "avx512bf16") != 0) { /* this CPU lacks AVX-512 BF16 */
            aw_encoder_destroy(e);
            skip();
        }
        assert_int_equal(aw_embed_batch(e, t, golden.count, out), AW_OK);
        char how[96];
        snprintf(how, sizeof how, "bfloat16 products: %s", sets[k] ? sets[k] : "default");
        double worst = check_all(out, how);
        if (k == 0) worst_none = worst;
        if (!sets[k]) { /* the default: within its bar, and really through bfloat16 */
            assert_true(worst >= BF16_MIN_COSINE);
            assert_true(worst != worst_none);
        }
        aw_encoder_destroy(e);
    }
    unsetenv("AW_RAG_KERNEL");
    free(out);
    free(t);
}

static void test_bad_arguments(void **state) {
    (void)state;
    aw_encoder *e = make(&(aw_encoder_desc){0});
    float out[2 * AW_EMBED_DIM];
    const char *with_null[] = {"fine", NULL};
    assert_int_equal(aw_embed(NULL, "x", out), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_embed(e, NULL, out), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_embed(e, "x", NULL), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_embed_batch(e, with_null, 2, out), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "texts[1]"));
    assert_int_equal(aw_embed_batch(e, NULL, 0, NULL), AW_OK);
    assert_int_equal(aw_embed(e, "still works", out), AW_OK);
    aw_encoder_destroy(e);
    aw_encoder_destroy(NULL);
    assert_null(aw_encoder_create(&(aw_encoder_desc){.model_dir = rag_test_model_dir(), .batch_tokens = 64}));
    assert_int_equal(aw_last_status(), AW_ERR_INVALID_ARG);

    /* Strict UTF-8 refuses, the default replaces. */
    e = make(&(aw_encoder_desc){.strict_utf8 = true});
    assert_int_equal(aw_embed(e, "bad \xff byte", out), AW_ERR_PARSE);
    assert_non_null(strstr(aw_last_error(), "UTF-8"));
    aw_encoder_destroy(e);
    e = make(&(aw_encoder_desc){0});
    assert_int_equal(aw_embed(e, "bad \xff byte", out), AW_OK);
    assert_int_equal(aw_embed(e, "bad \xef\xbf\xbd byte", out + AW_EMBED_DIM), AW_OK);
    assert_memory_equal(out, out + AW_EMBED_DIM, AW_EMBED_DIM * sizeof *out);
    aw_encoder_destroy(e);
    assert_true(aw_embed_cosine(out, out, AW_EMBED_DIM) > 0.99999f);
    float zero[AW_EMBED_DIM] = {0};
    assert_true(aw_embed_cosine(out, zero, AW_EMBED_DIM) == 0.0f);
}

/* Only a text's first 128 tokens count: what follows them changes nothing, and a huge text costs
 * about what its first words do (the encoder tokenizes only the words it can use). */
static void test_long_texts(void **state) {
    (void)state;
    aw_encoder *e = make(&(aw_encoder_desc){0});
    size_t big = 4u << 20;
    char *text = malloc(big + 64);
    size_t at = 0;
    while (at + 16 < big) at += (size_t)snprintf(text + at, big + 64 - at, "word%zu ", at % 97);
    float a[AW_EMBED_DIM], b[AW_EMBED_DIM];
    uint64_t t0 = aw_time_ns();
    assert_int_equal(aw_embed(e, text, a), AW_OK);
    double ms = (double)(aw_time_ns() - t0) / 1e6;
    print_message("a %zu-byte text embeds in %.1f ms\n", at, ms);
    text[3000] = '\0'; /* ~400 words: still past 128 tokens */
    assert_int_equal(aw_embed(e, text, b), AW_OK);
    assert_memory_equal(a, b, sizeof a);
    strcpy(text + 2990, " quite different words now ");
    assert_int_equal(aw_embed(e, text, b), AW_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(aw_encoder_get_stats(e).truncated, 3);
    free(text);
    aw_encoder_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_one_by_one),
        cmocka_unit_test(test_golden_batched),
        cmocka_unit_test(test_golden_jobs_and_read_weights),
        cmocka_unit_test(test_golden_every_kernel),
        cmocka_unit_test(test_golden_bf16_products),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_long_texts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
