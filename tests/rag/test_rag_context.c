/* Context builder: the layout on a case that fits, the budget never exceeded on random inputs (every
 * strategy, invalid UTF-8, control characters, tiny budgets), each overflow strategy's choice, cuts
 * of an oversized situation, determinism, no allocation after warm-up, bad arguments, and the real
 * tokenizer when set-up has fetched the model. */
#include "aw/rag.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "context_test_util.h"
#include "rag_test_util.h"

static uint32_t count_of(const aw_tokenizer *t, const char *s) {
    uint32_t n = 0;
    assert_int_equal(aw_tokenizer_count(t, NULL, s, strlen(s), &n), AW_OK);
    return n;
}

static bool valid_utf8(const char *s, size_t len) {
    size_t cap = 3 * len + 1;
    char *buf = malloc(cap);
    size_t n = aw_rag_utf8_repair(s, len, buf, cap);
    bool same = n == len && memcmp(buf, s, len) == 0;
    free(buf);
    return same;
}

static void test_layout_when_everything_fits(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = 4000});
    assert_non_null(ctx);
    aw_context_memory mem[] = {{"Saw two bandits\nat the well", 0.834f, "episodic"}, {"The bridge is mined", 0.5f, NULL}};
    aw_context_example ex[] = {{"low hp", "{\"steps\":[{\"kind\":\"Heal\"}]}"}};
    aw_context_result r;
    assert_int_equal(aw_context_build(ctx,
                                      &(aw_context_input){.system = "You plan.",
                                                          .situation = "hp 10",
                                                          .memories = mem,
                                                          .memory_count = 2,
                                                          .examples = ex,
                                                          .example_count = 1},
                                      &r),
                     AW_OK);
    assert_string_equal(r.text, "You plan.\n\n"
                                "Relevant memories:\n"
                                "- [0.83] Saw two bandits at the well (episodic)\n"
                                "- [0.50] The bridge is mined\n"
                                "Examples:\n"
                                "Situation: low hp\n"
                                "Plan: {\"steps\":[{\"kind\":\"Heal\"}]}\n"
                                "Current situation:\n"
                                "hp 10\n");
    assert_int_equal(r.length, strlen(r.text));
    assert_int_equal(r.tokens, count_of(t, r.text));
    assert_int_equal(r.memories_used, 2);
    assert_int_equal(r.examples_used, 1);
    assert_int_equal(r.memories_dropped, 0);
    assert_false(r.truncated);
    aw_context_destroy(ctx);
    aw_tokenizer_destroy(t);
}

/* Random text: words, spaces, sometimes newlines, tabs and invalid bytes. */
static void random_text(aw_rng *rng, char *buf, size_t max) {
    static const char *words[] = {"enemy", "cover", "the", "ally", "wolf", "gate", "é", "北", "42", "!?"};
    size_t n = 0, len = 1 + aw_rng_range(rng, (uint32_t)(max - 8));
    while (n < len) {
        uint32_t r = aw_rng_range(rng, 20);
        const char *w = r == 0 ? "\n" : r == 1 ? "\t" : r == 2 ? "\xff\xc3" : words[aw_rng_range(rng, 10)];
        size_t wl = strlen(w);
        if (n + wl + 1 >= max) break;
        memcpy(buf + n, w, wl);
        n += wl;
        buf[n++] = ' ';
    }
    buf[n] = '\0';
}

static void test_budget_never_exceeded(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    aw_rng rng;
    aw_rng_seed(&rng, 7);
    enum { MEMS = 12, EXS = 5 };
    static char mem_text[MEMS][200], meta[MEMS][20], ex_sit[EXS][120], ex_plan[EXS][120], sys[300], sit[600];
    uint32_t ok = 0, capacity = 0;
    for (int iter = 0; iter < 600; iter++) {
        aw_context_overflow strategy = (aw_context_overflow)(iter % 3);
        uint32_t budget = 5 + aw_rng_range(&rng, 400);
        aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t,
                                                               .token_budget = budget,
                                                               .overflow = strategy,
                                                               .memory_share = aw_rng_float(&rng),
                                                               .max_examples = aw_rng_range(&rng, 4)});
        assert_non_null(ctx);
        aw_context_memory mems[MEMS];
        aw_context_example exs[EXS];
        uint32_t nm = aw_rng_range(&rng, MEMS + 1), ne = aw_rng_range(&rng, EXS + 1);
        for (uint32_t i = 0; i < nm; i++) {
            random_text(&rng, mem_text[i], sizeof mem_text[i]);
            random_text(&rng, meta[i], sizeof meta[i]);
            mems[i] = (aw_context_memory){mem_text[i], aw_rng_float(&rng), aw_rng_range(&rng, 2) ? meta[i] : NULL};
        }
        for (uint32_t i = 0; i < ne; i++) {
            random_text(&rng, ex_sit[i], sizeof ex_sit[i]);
            random_text(&rng, ex_plan[i], sizeof ex_plan[i]);
            exs[i] = (aw_context_example){ex_sit[i], ex_plan[i]};
        }
        random_text(&rng, sys, aw_rng_range(&rng, 2) ? sizeof sys : 12);
        random_text(&rng, sit, aw_rng_range(&rng, 3) ? 100 : sizeof sit);
        aw_context_input in = {.system = iter % 5 ? sys : NULL,
                               .situation = sit,
                               .memories = mems,
                               .memory_count = nm,
                               .examples = exs,
                               .example_count = ne};
        aw_context_result r;
        aw_status st = aw_context_build(ctx, &in, &r);
        if (st == AW_ERR_CAPACITY) {
            capacity++;
            /* Only a budget too small for the heading and an empty cut of the situation. */
            assert_true(budget <= count_of(t, "Current situation:\n [...] \n") + 2);
        } else {
            assert_int_equal(st, AW_OK);
            ok++;
            assert_true(r.tokens <= budget);
            assert_int_equal(r.tokens, count_of(t, r.text));
            assert_int_equal(r.length, strlen(r.text));
            assert_true(valid_utf8(r.text, r.length));
            assert_int_equal(r.memories_used + r.memories_dropped, nm);
            assert_non_null(strstr(r.text, "Current situation:\n"));
            /* Same input, same bytes. */
            char *first = strdup(r.text);
            aw_context_result r2;
            assert_int_equal(aw_context_build(ctx, &in, &r2), AW_OK);
            assert_string_equal(first, r2.text);
            free(first);
        }
        aw_context_destroy(ctx);
    }
    assert_true(ok > 500);
    aw_tokenizer_destroy(t);
}

/* Six memories of the same length so each strategy's choice is easy to predict. */
static const aw_context_memory SIX[] = {{"memory aaaa", 0.1f, NULL}, {"memory bbbb", 0.9f, NULL},
                                        {"memory cccc", 0.5f, NULL}, {"memory dddd", 0.7f, NULL},
                                        {"memory eeee", 0.2f, NULL}, {"memory ffff", 0.7f, NULL}};

/* The budget that holds exactly `keep` of the six memories and the situation. */
static aw_context_result build_six(aw_context_overflow strategy, uint32_t keep, aw_tokenizer *t, aw_context **out_ctx) {
    /* Measure: with everything in, then find the budget for `keep` lines by counting. */
    uint32_t line = count_of(t, "- [0.10] memory aaaa\n");
    uint32_t base = count_of(t, "Relevant memories:\nCurrent situation:\nhp 10\n");
    uint32_t extra = strategy == AW_CONTEXT_TRUNCATE_MIDDLE ? count_of(t, "- [...]\n") : 0;
    uint32_t budget = base + extra + keep * line + line / 2;
    aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = budget, .overflow = strategy});
    assert_non_null(ctx);
    aw_context_result r;
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = "hp 10", .memories = SIX, .memory_count = 6}, &r),
                     AW_OK);
    assert_true(r.tokens <= budget);
    *out_ctx = ctx;
    return r;
}

static void test_keep_best(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    aw_context *ctx;
    aw_context_result r = build_six(AW_CONTEXT_KEEP_BEST, 3, t, &ctx);
    /* Top three scores: 0.9 (b), 0.7 (d), 0.7 (f, the later tie); output in list order. */
    assert_string_equal(r.text, "Relevant memories:\n- [0.90] memory bbbb\n- [0.70] memory dddd\n- [0.70] memory ffff\n"
                                "Current situation:\nhp 10\n");
    assert_int_equal(r.memories_used, 3);
    assert_int_equal(r.memories_dropped, 3);
    aw_context_destroy(ctx);
    r = build_six(AW_CONTEXT_KEEP_BEST, 2, t, &ctx);
    assert_string_equal(r.text, "Relevant memories:\n- [0.90] memory bbbb\n- [0.70] memory dddd\nCurrent situation:\nhp 10\n");
    aw_context_destroy(ctx);
    aw_tokenizer_destroy(t);
}

static void test_sliding_window(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    aw_context *ctx;
    aw_context_result r = build_six(AW_CONTEXT_SLIDING_WINDOW, 3, t, &ctx);
    assert_string_equal(r.text, "Relevant memories:\n- [0.70] memory dddd\n- [0.20] memory eeee\n- [0.70] memory ffff\n"
                                "Current situation:\nhp 10\n");
    aw_context_destroy(ctx);
    aw_tokenizer_destroy(t);
}

static void test_truncate_middle(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    aw_context *ctx;
    aw_context_result r = build_six(AW_CONTEXT_TRUNCATE_MIDDLE, 3, t, &ctx);
    /* Head first, then tail, alternating: a, f, b; the mark stands where the dropped run begins. */
    assert_string_equal(r.text, "Relevant memories:\n- [0.10] memory aaaa\n- [0.90] memory bbbb\n- [...]\n"
                                "- [0.70] memory ffff\nCurrent situation:\nhp 10\n");
    assert_int_equal(r.memories_dropped, 3);
    aw_context_destroy(ctx);
    aw_tokenizer_destroy(t);
}

static void test_examples_whole_and_in_order(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    aw_context_example ex[] = {{"first", "{\"steps\":[1]}"}, {"second", "{\"steps\":[2]}"}, {"third", "{\"steps\":[3]}"}};
    /* Room for exactly two: the first two examples' prompt and one token to spare. */
    uint32_t two = count_of(t, "Examples:\nSituation: first\nPlan: {\"steps\":[1]}\nSituation: second\n"
                               "Plan: {\"steps\":[2]}\nCurrent situation:\nhp\n");
    aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = two + 1});
    aw_context_result r;
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = "hp", .examples = ex, .example_count = 3}, &r),
                     AW_OK);
    assert_int_equal(r.examples_used, 2);
    assert_non_null(strstr(r.text, "Situation: second"));
    assert_null(strstr(r.text, "third"));
    aw_context_destroy(ctx);
    /* max_examples caps them even with room to spare. */
    ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = 5000, .max_examples = 1});
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = "hp", .examples = ex, .example_count = 3}, &r),
                     AW_OK);
    assert_int_equal(r.examples_used, 1);
    aw_context_destroy(ctx);
    aw_tokenizer_destroy(t);
}

static void test_min_score_filters(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = 5000, .min_score = 0.6f});
    aw_context_result r;
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = "hp", .memories = SIX, .memory_count = 6}, &r),
                     AW_OK);
    assert_int_equal(r.memories_used, 3);
    assert_int_equal(r.memories_dropped, 0);
    assert_null(strstr(r.text, "aaaa"));
    aw_context_destroy(ctx);
    aw_tokenizer_destroy(t);
}

static void test_oversized_situation_is_cut_in_the_middle(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    char sit[4000];
    size_t n = 0;
    n += (size_t)snprintf(sit, sizeof sit, "BEGIN ");
    while (n < 3000) n += (size_t)snprintf(sit + n, sizeof sit - n, "enemy at gate %zu, ", n);
    snprintf(sit + n, sizeof sit - n, " END");
    aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = 120});
    aw_context_result r;
    assert_int_equal(aw_context_build(ctx,
                                      &(aw_context_input){.system = "You plan tactics for one soldier.",
                                                          .situation = sit,
                                                          .memories = SIX,
                                                          .memory_count = 6},
                                      &r),
                     AW_OK);
    assert_true(r.truncated);
    assert_true(r.tokens <= 120);
    assert_true(r.tokens > 100); /* the cut keeps as much as fits */
    assert_non_null(strstr(r.text, "BEGIN"));
    assert_non_null(strstr(r.text, " END\n"));
    assert_non_null(strstr(r.text, " [...] "));
    assert_non_null(strstr(r.text, "You plan tactics"));
    assert_int_equal(r.memories_used, 0);
    aw_context_destroy(ctx);
    /* A budget too small for the heading and the mark is refused, not overrun. */
    ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = 3});
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = sit}, &r), AW_ERR_CAPACITY);
    aw_context_destroy(ctx);
    aw_tokenizer_destroy(t);
}

static void test_no_allocation_after_warm_up(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    rag_test_alloc ta;
    rag_test_alloc_init(&ta, -1);
    aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .allocator = &ta.base, .token_budget = 60});
    assert_non_null(ctx);
    aw_context_example ex[] = {{"first", "{\"steps\":[1]}"}, {"second", "{\"steps\":[2]}"}};
    aw_context_input in = {.system = "sys", .situation = "hp 10 ammo 3", .memories = SIX, .memory_count = 6, .examples = ex, .example_count = 2};
    aw_context_result r;
    assert_int_equal(aw_context_build(ctx, &in, &r), AW_OK);
    uint64_t allocs = atomic_load(&ta.allocs), reallocs = atomic_load(&ta.reallocs);
    for (int i = 0; i < 20; i++) {
        in.memory_count = (uint32_t)(i % 7);
        assert_int_equal(aw_context_build(ctx, &in, &r), AW_OK);
    }
    assert_int_equal(atomic_load(&ta.allocs), allocs);
    assert_int_equal(atomic_load(&ta.reallocs), reallocs);
    aw_context_destroy(ctx);
    assert_int_equal(atomic_load(&ta.live_bytes), 0);
    /* Failing allocations at every point: a clean error, no leak. */
    for (int64_t fail = 0; fail < 40; fail++) {
        rag_test_alloc_init(&ta, fail);
        aw_context *c = aw_context_create(&(aw_context_desc){.tokenizer = t, .allocator = &ta.base, .token_budget = 60});
        if (c) {
            aw_status st = aw_context_build(c, &in, &r);
            assert_true(st == AW_OK || st == AW_ERR_OUT_OF_MEMORY);
            aw_context_destroy(c);
        }
        assert_int_equal(atomic_load(&ta.live_bytes), 0);
    }
    aw_tokenizer_destroy(t);
}

static void test_bad_arguments(void **state) {
    (void)state;
    aw_tokenizer *t = context_test_tokenizer();
    assert_null(aw_context_create(NULL));
    assert_null(aw_context_create(&(aw_context_desc){0}));
    assert_null(aw_context_create(&(aw_context_desc){.tokenizer = t, .memory_share = 1.5f}));
    assert_null(aw_context_create(&(aw_context_desc){.tokenizer = t, .overflow = (aw_context_overflow)9}));
    aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t});
    aw_context_result r;
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){0}, &r), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = "x", .memory_count = 2}, &r), AW_ERR_INVALID_ARG);
    aw_context_memory m = {NULL, 0, NULL};
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = "x", .memories = &m, .memory_count = 1}, &r),
                     AW_ERR_INVALID_ARG);
    aw_context_example e = {"x", NULL};
    assert_int_equal(aw_context_build(ctx, &(aw_context_input){.situation = "x", .examples = &e, .example_count = 1}, &r),
                     AW_ERR_INVALID_ARG);
    assert_int_equal(aw_context_build(NULL, &(aw_context_input){.situation = "x"}, &r), AW_ERR_INVALID_ARG);
    aw_context_destroy(ctx);
    aw_context_destroy(NULL);
    aw_tokenizer_destroy(t);
}

static void test_real_tokenizer(void **state) {
    (void)state;
    const char *dir = context_test_model_dir_or_null();
    if (!dir) skip();
    aw_tokenizer *t = aw_tokenizer_create(&(aw_tokenizer_desc){.model_dir = dir});
    assert_non_null(t);
    aw_rng rng;
    aw_rng_seed(&rng, 99);
    static char texts[8][200], sit[300];
    aw_context_memory mems[8];
    for (int i = 0; i < 8; i++) {
        random_text(&rng, texts[i], sizeof texts[i]);
        mems[i] = (aw_context_memory){texts[i], aw_rng_float(&rng), "lore"};
    }
    random_text(&rng, sit, sizeof sit);
    for (uint32_t budget = 40; budget < 400; budget += 37) {
        for (int s = 0; s < 3; s++) {
            aw_context *ctx = aw_context_create(&(aw_context_desc){.tokenizer = t, .token_budget = budget, .overflow = (aw_context_overflow)s});
            aw_context_result r;
            assert_int_equal(aw_context_build(ctx, &(aw_context_input){.system = "Plan.", .situation = sit, .memories = mems, .memory_count = 8}, &r),
                             AW_OK);
            assert_true(r.tokens <= budget);
            assert_int_equal(r.tokens, count_of(t, r.text));
            aw_context_destroy(ctx);
        }
    }
    aw_tokenizer_destroy(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_when_everything_fits),
        cmocka_unit_test(test_budget_never_exceeded),
        cmocka_unit_test(test_keep_best),
        cmocka_unit_test(test_sliding_window),
        cmocka_unit_test(test_truncate_middle),
        cmocka_unit_test(test_examples_whole_and_in_order),
        cmocka_unit_test(test_min_score_filters),
        cmocka_unit_test(test_oversized_situation_is_cut_in_the_middle),
        cmocka_unit_test(test_no_allocation_after_warm_up),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_real_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
