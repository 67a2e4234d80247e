/* Few-shot bank: JSONL parsing with errors naming the line and the field (all or nothing), the
 * committed tactical bank (size, every step kind known), MMR against a brute-force reference on
 * random small banks, lambda 1 as plain top-k, candidate limits, bad arguments, allocation failures,
 * and selection with real embeddings when set-up has fetched the model. */
#include "aw/ai.h"
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
#include <jansson.h>

#include "context_test_util.h"
#include "rag_test_util.h"

static aw_status parse(aw_fewshot_bank *b, const char *text) {
    return aw_fewshot_bank_parse(b, text, strlen(text), "bank.jsonl");
}

static void expect_error(aw_fewshot_bank *b, const char *text, const char *fragment) {
    uint32_t before = aw_fewshot_bank_count(b);
    assert_int_equal(parse(b, text), AW_ERR_PARSE);
    if (!strstr(aw_last_error(), fragment)) fail_msg("error \"%s\" lacks \"%s\"", aw_last_error(), fragment);
    assert_int_equal(aw_fewshot_bank_count(b), before); /* all or nothing */
}

#define GOOD "{\"situation\":\"hp low\",\"plan\":{\"steps\":[{\"kind\":\"Heal\"}]}}\n"

static void test_parse_and_errors(void **state) {
    (void)state;
    aw_fewshot_bank *b = aw_fewshot_bank_create(NULL);
    assert_non_null(b);
    assert_int_equal(parse(b, "# comment\n\n" GOOD "  \r\n" GOOD), AW_OK);
    assert_int_equal(aw_fewshot_bank_count(b), 2);
    aw_context_example e = aw_fewshot_bank_example(b, 1);
    assert_string_equal(e.situation, "hp low");
    assert_string_equal(e.plan, "{\"steps\":[{\"kind\":\"Heal\"}]}");
    assert_null(aw_fewshot_bank_example(b, 2).plan);

    expect_error(b, GOOD "{\"situation\":\"x\",\"plan\":{\"steps\":[]}}\n", "bank.jsonl:2: field 'plan'");
    expect_error(b, GOOD "{\"situation\":\"x\"}\n", "bank.jsonl:2: field 'plan': missing");
    expect_error(b, "{\"plan\":{\"steps\":[{\"kind\":\"Heal\"}]}}", "bank.jsonl:1: field 'situation': missing");
    expect_error(b, "{\"situation\":3,\"plan\":{\"steps\":[{\"kind\":\"Heal\"}]}}", "field 'situation'");
    expect_error(b, "{\"situation\":\"x\",\"plan\":{\"steps\":[{\"kind\":1}]}}", "\"kind\"");
    expect_error(b, "{\"situation\":\"x\",\"plan\":[1]}", "JSON object");
    expect_error(b, GOOD GOOD "{\"situation\": \"x\", oops}\n", "bank.jsonl:3: invalid JSON");
    expect_error(b, "[1,2]", "bank.jsonl:1");
    expect_error(b, "{\"situation\":\"a\\u0000b\",\"plan\":{\"steps\":[{\"kind\":\"Heal\"}]}}", "NUL");
    expect_error(b, "{\"situation\":\"\xff\",\"plan\":{\"steps\":[{\"kind\":\"Heal\"}]}}", "invalid JSON");
    expect_error(b, "# nothing\n\n", "no examples");
    expect_error(b, "{\"situation\":\"x\",\"situation\":\"y\",\"plan\":{\"steps\":[{\"kind\":\"Heal\"}]}}", "invalid JSON");

    assert_int_equal(aw_fewshot_bank_add(b, "ok", "{\"steps\":[{\"kind\":\"Wait\",\"duration\":1}]}"), AW_OK);
    assert_int_equal(aw_fewshot_bank_add(b, "ok", "{\"steps\":"), AW_ERR_PARSE);
    assert_int_equal(aw_fewshot_bank_add(b, "", "{\"steps\":[{\"kind\":\"Wait\"}]}"), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_fewshot_bank_add(b, "\xc3", "{\"steps\":[{\"kind\":\"Wait\"}]}"), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_fewshot_bank_count(b), 3);
    assert_int_equal(aw_fewshot_bank_load(b, "/nonexistent/bank.jsonl"), AW_ERR_NOT_FOUND);
    assert_non_null(strstr(aw_last_error(), "/nonexistent/bank.jsonl"));
    aw_fewshot_bank_destroy(b);
}

static void test_committed_bank(void **state) {
    (void)state;
    char path[1024];
    context_test_repo_path(path, sizeof path, "data/ai/llm_fewshot.jsonl");
    aw_fewshot_bank *b = aw_fewshot_bank_create(NULL);
    if (aw_fewshot_bank_load(b, path) != AW_OK) fail_msg("%s", aw_last_error());
    uint32_t n = aw_fewshot_bank_count(b);
    assert_true(n >= 40);
    uint32_t kinds_seen[AW_ACTION_KIND_COUNT] = {0};
    for (uint32_t i = 0; i < n; i++) {
        aw_context_example e = aw_fewshot_bank_example(b, i);
        json_t *plan = json_loads(e.plan, 0, NULL);
        assert_non_null(plan);
        json_t *steps = json_object_get(plan, "steps");
        assert_true(json_array_size(steps) >= 1 && json_array_size(steps) <= AW_AI_MAX_STEPS);
        for (size_t s = 0; s < json_array_size(steps); s++) {
            const char *kind = json_string_value(json_object_get(json_array_get(steps, s), "kind"));
            aw_action_kind k = AW_ACTION_NONE;
            for (int c = 1; c < AW_ACTION_KIND_COUNT; c++) /* names as aw_action_kind_name spells them */
                if (strcmp(kind, aw_action_kind_name((aw_action_kind)c)) == 0) k = (aw_action_kind)c;
            if (k == AW_ACTION_NONE) fail_msg("example %u: unknown step kind %s", i, kind);
            kinds_seen[k]++;
        }
        json_decref(plan);
    }
    for (int c = 1; c < AW_ACTION_KIND_COUNT; c++)
        if (!kinds_seen[c]) fail_msg("no example uses %s", aw_action_kind_name((aw_action_kind)c));
    aw_fewshot_bank_destroy(b);
}

/* ---------------------------------------------------------------- MMR against a reference */

/* Unit vectors in a few random directions plus noise, so there are near-duplicates to diversify. */
static void random_bank(aw_rng *rng, aw_fewshot_bank *b, uint32_t n, float *vecs) {
    float centres[4][AW_EMBED_DIM];
    for (int c = 0; c < 4; c++)
        for (int d = 0; d < AW_EMBED_DIM; d++) centres[c][d] = aw_rng_float_range(rng, -1, 1);
    for (uint32_t i = 0; i < n; i++) {
        char sit[32];
        snprintf(sit, sizeof sit, "situation %u", i);
        assert_int_equal(aw_fewshot_bank_add(b, sit, "{\"steps\":[{\"kind\":\"Wait\"}]}"), AW_OK);
        int c = (int)aw_rng_range(rng, 4);
        float noise = aw_rng_float_range(rng, 0.05f, 1.0f);
        double n2 = 0;
        float *v = vecs + (size_t)i * AW_EMBED_DIM;
        for (int d = 0; d < AW_EMBED_DIM; d++) {
            v[d] = centres[c][d] + noise * aw_rng_float_range(rng, -1, 1);
            n2 += (double)v[d] * v[d];
        }
        for (int d = 0; d < AW_EMBED_DIM; d++) v[d] = (float)(v[d] / sqrt(n2));
        assert_int_equal(aw_fewshot_bank_set_embedding(b, i, v), AW_OK);
    }
}

static double dotd(const float *a, const float *b) {
    double s = 0;
    for (int d = 0; d < AW_EMBED_DIM; d++) s += (double)a[d] * b[d];
    return s;
}

/* MMR as its definition reads, recomputing every maximum from scratch in double. */
static double reference_score(const float *vecs, const float *q, const uint32_t *picked, uint32_t np, uint32_t c,
                              double lambda) {
    double sim = dotd(q, vecs + (size_t)c * AW_EMBED_DIM);
    if (np == 0) return sim;
    double maxs = -INFINITY;
    for (uint32_t j = 0; j < np; j++) {
        double s = dotd(vecs + (size_t)c * AW_EMBED_DIM, vecs + (size_t)picked[j] * AW_EMBED_DIM);
        if (s > maxs) maxs = s;
    }
    return lambda * sim - (1 - lambda) * maxs;
}

static void test_mmr_matches_brute_force(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 2024);
    float *vecs = malloc(sizeof(float) * AW_EMBED_DIM * 40);
    float q[AW_EMBED_DIM];
    for (int iter = 0; iter < 200; iter++) {
        uint32_t n = 1 + aw_rng_range(&rng, 40);
        aw_fewshot_bank *b = aw_fewshot_bank_create(NULL);
        random_bank(&rng, b, n, vecs);
        uint32_t base = aw_rng_range(&rng, n);
        for (int d = 0; d < AW_EMBED_DIM; d++) q[d] = vecs[(size_t)base * AW_EMBED_DIM + d] + aw_rng_float_range(&rng, -0.3f, 0.3f);
        float lambda = (float)aw_rng_range(&rng, 11) / 10.0f;
        uint32_t k = 1 + aw_rng_range(&rng, 8);
        uint32_t picked[AW_FEWSHOT_MAX_K], count = 99;
        assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .k = k, .lambda = lambda}, picked, &count),
                         AW_OK);
        assert_int_equal(count, k < n ? k : n);
        /* Each pick is the reference's best (or within float rounding of it) among the unpicked. */
        for (uint32_t t = 0; t < count; t++) {
            double best = -INFINITY;
            for (uint32_t c = 0; c < n; c++) {
                bool taken = false;
                for (uint32_t j = 0; j < t; j++) taken = taken || picked[j] == c;
                if (!taken) {
                    double s = reference_score(vecs, q, picked, t, c, lambda);
                    if (s > best) best = s;
                }
            }
            double got = reference_score(vecs, q, picked, t, picked[t], lambda);
            if (got < best - 1e-5) fail_msg("iter %d pick %u: score %.9f, best %.9f", iter, t, got, best);
            for (uint32_t j = 0; j < t; j++) assert_int_not_equal(picked[j], picked[t]);
        }
        /* Same query, same picks. */
        uint32_t again[AW_FEWSHOT_MAX_K], count2;
        aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .k = k, .lambda = lambda}, again, &count2);
        assert_int_equal(count2, count);
        assert_memory_equal(again, picked, count * sizeof *picked);
        aw_fewshot_bank_destroy(b);
    }
    free(vecs);
}

static void test_lambda_one_is_top_k_and_candidates_limit(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 5);
    enum { N = 30 };
    float *vecs = malloc(sizeof(float) * AW_EMBED_DIM * N);
    aw_fewshot_bank *b = aw_fewshot_bank_create(NULL);
    random_bank(&rng, b, N, vecs);
    const float *q = vecs + 7 * AW_EMBED_DIM;
    uint32_t picked[AW_FEWSHOT_MAX_K], count;
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .k = 6, .lambda = 1.0f}, picked, &count), AW_OK);
    assert_int_equal(picked[0], 7);
    for (uint32_t t = 1; t < count; t++)
        assert_true(dotd(q, vecs + (size_t)picked[t - 1] * AW_EMBED_DIM) >= dotd(q, vecs + (size_t)picked[t] * AW_EMBED_DIM));
    /* Nothing outside the top `candidates` is ever picked, however diverse. */
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .k = 4, .lambda = 0.0f, .candidates = 4}, picked, &count),
                     AW_OK);
    uint32_t top[AW_FEWSHOT_MAX_K], tc;
    aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .k = 4, .lambda = 1.0f}, top, &tc);
    for (uint32_t t = 0; t < count; t++) {
        bool in = false;
        for (uint32_t j = 0; j < tc; j++) in = in || top[j] == picked[t];
        assert_true(in);
    }
    /* Bad arguments. */
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .lambda = 1.5f}, picked, &count), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .lambda = NAN}, picked, &count), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .k = 99}, picked, &count), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.lambda = 0.5f}, picked, &count), AW_ERR_INVALID_ARG);
    float zero[AW_EMBED_DIM] = {0};
    assert_int_equal(aw_fewshot_bank_set_embedding(b, 0, zero), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_fewshot_bank_set_embedding(b, N, q), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_fewshot_bank_add(b, "not embedded", "{\"steps\":[{\"kind\":\"Wait\"}]}"), AW_OK);
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .lambda = 0.5f}, picked, &count), AW_ERR_INVALID_ARG);
    assert_non_null(strstr(aw_last_error(), "no embedding"));
    aw_fewshot_bank_destroy(b);
    free(vecs);
}

static void test_allocation_failures(void **state) {
    (void)state;
    char text[4096] = "";
    for (int i = 0; i < 20; i++) strcat(text, GOOD);
    for (int64_t fail = 0; fail < 60; fail++) {
        rag_test_alloc ta;
        rag_test_alloc_init(&ta, fail);
        aw_fewshot_bank *b = aw_fewshot_bank_create(&(aw_fewshot_desc){.allocator = &ta.base});
        if (b) {
            aw_status st = parse(b, text);
            assert_true(st == AW_OK || st == AW_ERR_OUT_OF_MEMORY);
            assert_int_equal(aw_fewshot_bank_count(b), st == AW_OK ? 20 : 0);
            aw_fewshot_bank_destroy(b);
        }
        assert_int_equal(atomic_load(&ta.live_bytes), 0);
    }
}

static void test_real_embeddings(void **state) {
    (void)state;
    const char *dir = context_test_model_dir_or_null();
    if (!dir) skip();
    char path[1024];
    context_test_repo_path(path, sizeof path, "data/ai/llm_fewshot.jsonl");
    aw_fewshot_bank *b = aw_fewshot_bank_create(NULL);
    assert_int_equal(aw_fewshot_bank_load(b, path), AW_OK);
    aw_encoder *enc = aw_encoder_create(&(aw_encoder_desc){.model_dir = dir});
    assert_non_null(enc);
    assert_int_equal(aw_fewshot_bank_embed(b, enc), AW_OK);
    assert_int_equal(aw_fewshot_bank_embed(b, enc), AW_OK); /* nothing left to embed */
    float q[AW_EMBED_DIM];
    assert_int_equal(aw_embed(enc, "hp 90/100, ammo 20/30. Ally A1 downed at 4 m. No enemies visible.", q), AW_OK);
    uint32_t picked[4], count;
    assert_int_equal(aw_fewshot_select(b, &(aw_fewshot_query){.embedding = q, .k = 4, .lambda = 0.7f}, picked, &count), AW_OK);
    assert_int_equal(count, 4);
    for (uint32_t i = 0; i < count; i++)
        fprintf(stderr, "pick %u: %s\n", i, aw_fewshot_bank_example(b, picked[i]).situation);
    /* The most similar example is a revive. */
    assert_non_null(strstr(aw_fewshot_bank_example(b, picked[0]).plan, "Revive"));
    aw_encoder_destroy(enc);
    aw_fewshot_bank_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_errors),
        cmocka_unit_test(test_committed_bank),
        cmocka_unit_test(test_mmr_matches_brute_force),
        cmocka_unit_test(test_lambda_one_is_top_k_and_candidates_limit),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_real_embeddings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
