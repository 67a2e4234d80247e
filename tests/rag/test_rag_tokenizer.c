/* Tokenizer units: the reference's own outputs on small vocabularies (its quirks included), NFKC
 * and the word-boundary marker, Viterbi against brute force on random vocabularies, unknowns,
 * invalid UTF-8 (replaced as node replaces it, or refused), counts, bad vocabularies, and the real
 * vocabulary when set-up has fetched it. */
#include "aw/rag.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rag_test_util.h"

#define RESERVED "[\"\\ufffd\",0],[\"<s>\",0],[\"</s>\",0],[\"x1\",0],[\"x2\",0],[\"x3\",0]"

/* ids: 6 ▁, 7 a, 8 b, 9 c, 10 ab, 11 ▁a, 12 bc, 13 ▁abc, 14 ":" (null score), 15 ":3" (score +3),
 * 16 é, 17 fi, 18 ▁▁ */
static const char V1[] = "[" RESERVED ",[\"\\u2581\",-1],[\"a\",-2],[\"b\",-2],[\"c\",-3],[\"ab\",-1.5],"
                         "[\"\\u2581a\",-1.2],[\"bc\",-2.5],[\"\\u2581abc\",-4],[\":\",null],[\":3\",3],"
                         "[\"\\u00e9\",-2],[\"fi\",-2],[\"\\u2581\\u2581\",-1.1]]";
/* "a" is no piece: position 2 of "▁ab" is unreachable, which the reference scores as 0. */
static const char V2[] = "[" RESERVED ",[\"\\u2581\",-1],[\"ab\",-1],[\"b\",-0.5]]";
/* U+FFFD is a piece here (id 7), so each replacement character shows up as its own token. */
static const char V4[] = "[" RESERVED ",[\"\\u2581\",-1],[\"\\ufffd\",-1],[\"a\",-1],[\"b\",-1]]";
/* NFKC targets: 7 1, 8 x, 9 2, 10 가, 11 a, 12 b */
static const char V3[] = "[" RESERVED ",[\"\\u2581\",-1],[\"1\",-1],[\"x\",-1],[\"2\",-1],[\"\\uac00\",-1],"
                         "[\"a\",-1],[\"b\",-1]]";

static aw_tokenizer *make(const char *json, bool strict) {
    aw_tokenizer *t = aw_tokenizer_create(
        &(aw_tokenizer_desc){.vocab_json = json, .vocab_json_size = strlen(json), .strict_utf8 = strict});
    if (!t) fail_msg("aw_tokenizer_create: %s", aw_last_error());
    return t;
}

/* Tokenizes from an exactly sized heap copy (no NUL after it), so a read past the end is caught by
 * ASan, and checks the ids and that the count function agrees. */
static void expect_ids(aw_tokenizer *t, const char *text, size_t len, const int32_t *want, uint32_t want_n) {
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    int32_t ids[256];
    uint32_t n = 0, c = 0;
    aw_status st = aw_tokenizer_encode(t, NULL, copy, len, ids, 256, &n);
    if (st != AW_OK) fail_msg("encode: %s", aw_last_error());
    assert_int_equal(aw_tokenizer_count(t, NULL, copy, len, &c), AW_OK);
    free(copy);
    assert_int_equal(c, n);
    if (n != want_n || (n && memcmp(ids, want, n * sizeof *ids) != 0)) {
        char got[512] = "", exp[512] = "";
        for (uint32_t i = 0; i < n && i < 32; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%d ", ids[i]);
        for (uint32_t i = 0; i < want_n; i++)
            snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%d ", want[i]);
        fail_msg("tokens of \"%.*s\": got [%s] want [%s]", (int)len, text, got, exp);
    }
}

#define EXPECT(t, text, ...)                                                                                 \
    do {                                                                                                     \
        static const int32_t want_[] = {__VA_ARGS__};                                                        \
        expect_ids(t, text, sizeof(text) - 1, want_, sizeof want_ / sizeof want_[0]);                        \
    } while (0)
#define EXPECT_NONE(t, text) expect_ids(t, text, sizeof(text) - 1, NULL, 0)

/* Expected ids below are what @energetic-ai/embeddings' Tokenizer returns for the same vocabulary
 * and text (node, scripts/rag/reference.js's packages). */
static void test_reference_cases(void **state) {
    (void)state;
    aw_tokenizer *t = make(V1, false);
    EXPECT(t, "abc", 11, 12);
    EXPECT(t, "ab c", 6, 10, 6, 9);
    EXPECT(t, " abc", 6, 11, 12);
    EXPECT(t, "abcabc", 11, 12, 10, 9);
    EXPECT(t, "xyz", 6, 0); /* a run of unknowns is one id 0 */
    EXPECT(t, "axyzb", 11, 0, 8);
    EXPECT(t, "a:3", 11, 15); /* ":3" scores +3 */
    EXPECT_NONE(t, "");
    EXPECT(t, "  ", 18, 6);      /* marker + two spaces: ▁▁▁ */
    EXPECT(t, "a\tb", 11, 0, 8); /* only U+0020 becomes the marker */
    EXPECT(t, "a  b", 11, 18, 8);
    EXPECT(t, "abc ", 11, 12, 6);
    EXPECT(t, "x y", 6, 0, 6, 0);
    EXPECT(t, "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3", 6, 0);   /* ＡＢＣ -> ABC: unknown */
    EXPECT(t, "\xef\xbd\x81\xef\xbd\x82\xef\xbd\x83", 11, 12); /* ａｂｃ -> abc */
    EXPECT(t, "e\xcc\x81", 6, 16);                             /* e + combining acute -> é */
    EXPECT(t, "\xef\xac\x81", 6, 0); /* ﬁ -> fi, but no piece ends at "f": the unreachable-position quirk */
    aw_tokenizer_destroy(t);

    t = make(V2, false);
    EXPECT(t, "ab", 6, 0, 8);
    EXPECT(t, "abab", 6, 0, 8, 0, 8);
    EXPECT(t, "b", 6, 8);
    EXPECT(t, "a", 6, 0);
    aw_tokenizer_destroy(t);
}

static void test_nfkc_and_marker(void **state) {
    (void)state;
    aw_tokenizer *t = make(V3, false);
    EXPECT(t, "\xe2\x91\xa0", 6, 7);              /* ① -> 1 */
    EXPECT(t, "x\xc2\xb2", 6, 8, 9);              /* x² -> x2 */
    EXPECT(t, "\xe1\x84\x80\xe1\x85\xa1", 6, 10); /* conjoining jamo compose to 가 */
    EXPECT(t,
           "a\xc2\xa0"
           "b",
           6, 11, 6, 12);            /* NBSP -> space -> marker */
    EXPECT(t, "\xef\xbc\x91", 6, 7); /* fullwidth 1 */
    EXPECT(t, "\xe2\x80\x8b", 6, 0); /* zero-width space stays (and is unknown) */
    aw_tokenizer_destroy(t);
}

static void test_invalid_utf8_replaced(void **state) {
    (void)state;
    aw_tokenizer *t = make(V4, false);
    /* node's decoder (WHATWG) gives one U+FFFD per maximal invalid subpart: the same counts here. */
    EXPECT(t, "\xff", 6, 7);
    EXPECT(t, "\x80", 6, 7);
    EXPECT(t, "\xc3", 6, 7);
    EXPECT(t, "\xe2\x82", 6, 7);
    EXPECT(t, "\xf0\x9f\x98", 6, 7);
    EXPECT(t, "\xed\xa0\x80", 6, 7, 7, 7); /* a surrogate: three subparts */
    EXPECT(t, "\xc0\xaf", 6, 7, 7);        /* overlong */
    EXPECT(t, "\xe0\x80\x80", 6, 7, 7, 7);
    EXPECT(t, "\xf4\x90\x80\x80", 6, 7, 7, 7, 7); /* above U+10FFFF */
    EXPECT(t, "\xf0\x80\x80\x80", 6, 7, 7, 7, 7);
    EXPECT(t,
           "a\xff"
           "b",
           6, 8, 7, 9);
    EXPECT(t, "a\xe2\x82", 6, 8, 7); /* truncated at the very end of the buffer */
    EXPECT(t, "\xef\xbf\xbd", 6, 7); /* a real U+FFFD is the same piece */
    aw_tokenizer_destroy(t);
}

static void test_invalid_utf8_refused(void **state) {
    (void)state;
    aw_tokenizer *t = make(V4, true);
    static const char *bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "ok \xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t n = 123;
        int32_t ids[8];
        size_t len = strlen(bad[i]);
        char *copy = malloc(len);
        memcpy(copy, bad[i], len);
        assert_int_equal(aw_tokenizer_encode(t, NULL, copy, len, ids, 8, &n), AW_ERR_PARSE);
        assert_non_null(strstr(aw_last_error(), "invalid UTF-8"));
        assert_int_equal(n, 123); /* untouched on failure */
        free(copy);
    }
    EXPECT(t, "ab", 6, 8, 9); /* valid text still works */
    aw_tokenizer_destroy(t);
}

/* ---------------------------------------------------------------- Viterbi vs brute force */

#define ALPHA 5 /* a b c d ▁ */
static const int32_t alpha_cp[ALPHA] = {'a', 'b', 'c', 'd', 0x2581};

typedef struct piece {
    int32_t cp[4];
    uint32_t n;
    double score;
} piece;

typedef struct brute {
    const piece *pieces;
    uint32_t count;
    const int32_t *sym;
    uint32_t n;
    double best;
    bool found;
} brute;

/* Every segmentation into pieces, scored left to right as the Viterbi adds them. */
static void brute_rec(brute *b, uint32_t pos, double score) {
    if (pos == b->n) {
        if (!b->found || score > b->best) {
            b->found = true;
            b->best = score;
        }
        return;
    }
    for (uint32_t i = 0; i < b->count; i++) {
        const piece *p = &b->pieces[i];
        if (pos + p->n > b->n || memcmp(b->sym + pos, p->cp, p->n * sizeof *p->cp) != 0) continue;
        brute_rec(b, pos + p->n, p->score + score);
    }
}

static size_t put_utf8(char *out, int32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

static void test_viterbi_vs_brute_force(void **state) {
    (void)state;
    aw_rng rng;
    aw_rng_seed(&rng, 0x9e3779b97f4a7c15ull);
    for (int round = 0; round < 40; round++) {
        /* Every single symbol is a piece, so every position is reachable and the reference's Viterbi
         * is a true arg-max; the rest are random 2..4-symbol pieces, all distinct. */
        piece pieces[40];
        uint32_t count = 0;
        for (uint32_t i = 0; i < ALPHA; i++) pieces[count++] = (piece){.cp = {alpha_cp[i]}, .n = 1};
        while (count < 30) {
            piece p = {.n = 2 + aw_rng_range(&rng, 3)};
            for (uint32_t k = 0; k < p.n; k++) p.cp[k] = alpha_cp[aw_rng_range(&rng, ALPHA)];
            bool dup = false;
            for (uint32_t i = 0; i < count && !dup; i++)
                dup = pieces[i].n == p.n && memcmp(pieces[i].cp, p.cp, p.n * sizeof *p.cp) == 0;
            if (!dup) pieces[count++] = p;
        }
        char json[4096];
        size_t at = (size_t)snprintf(json, sizeof json, "[%s", RESERVED);
        for (uint32_t i = 0; i < count; i++) {
            pieces[i].score = -0.05 - 8.0 * aw_rng_double(&rng);
            char s[16];
            size_t sl = 0;
            for (uint32_t k = 0; k < pieces[i].n; k++) sl += put_utf8(s + sl, pieces[i].cp[k]);
            at += (size_t)snprintf(json + at, sizeof json - at, ",[\"%.*s\",%.17g]", (int)sl, s,
                                   pieces[i].score);
        }
        snprintf(json + at, sizeof json - at, "]");
        aw_tokenizer *t = make(json, false);
        aw_token_scratch *scratch = aw_token_scratch_create(NULL);
        for (int k = 0; k < 50; k++) {
            /* Random text of letters and spaces; symbols as the tokenizer will see them. */
            char text[16];
            uint32_t len = 1 + aw_rng_range(&rng, 11);
            int32_t sym[32];
            uint32_t n = 0;
            sym[n++] = 0x2581;
            for (uint32_t i = 0; i < len; i++) {
                uint32_t r = aw_rng_range(&rng, 5);
                text[i] = r == 4 ? ' ' : (char)('a' + r);
                sym[n++] = r == 4 ? 0x2581 : 'a' + (int32_t)r;
            }
            brute b = {.pieces = pieces, .count = count, .sym = sym, .n = n};
            brute_rec(&b, 0, 0.0);
            assert_true(b.found);
            int32_t ids[32];
            uint32_t got = 0;
            assert_int_equal(aw_tokenizer_encode(t, scratch, text, len, ids, 32, &got), AW_OK);
            /* The Viterbi's tokens must spell the text and score the brute-force maximum. Equal
             * scores (the same pieces in another order over "▁▁▁") may pick either split. */
            uint32_t pos = 0;
            double score = 0.0;
            for (uint32_t i = 0; i < got; i++) {
                assert_true(ids[i] >= 6 && ids[i] < (int32_t)count + 6);
                const piece *p = &pieces[ids[i] - 6];
                assert_true(pos + p->n <= n);
                assert_memory_equal(sym + pos, p->cp, p->n * sizeof *p->cp);
                pos += p->n;
                score = p->score + score;
            }
            assert_int_equal(pos, n);
            if (score < b.best - 1e-9)
                fail_msg("round %d text \"%.*s\": Viterbi scores %.17g, brute force %.17g", round, (int)len,
                         text, score, b.best);
        }
        aw_token_scratch_destroy(scratch);
        aw_tokenizer_destroy(t);
    }
}

/* ---------------------------------------------------------------- API edges */

static void test_count_cap_and_scratch(void **state) {
    (void)state;
    aw_tokenizer *t = make(V1, false);
    aw_token_scratch *s = aw_token_scratch_create(NULL);
    int32_t ids[2] = {-1, -1};
    uint32_t n = 0;
    assert_int_equal(aw_tokenizer_encode(t, s, "ab c", 4, ids, 2, &n), AW_OK);
    assert_int_equal(n, 4); /* the full count, though only two fit */
    assert_int_equal(ids[0], 6);
    assert_int_equal(ids[1], 10);
    assert_int_equal(aw_tokenizer_encode(t, s, "ab c", 4, NULL, 0, &n), AW_OK);
    assert_int_equal(n, 4);
    /* A long text grows the scratch; the next short one reuses it. */
    size_t big = 100000;
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++) text[i] = "abc "[i % 4];
    assert_int_equal(aw_tokenizer_count(t, s, text, big, &n), AW_OK);
    assert_int_equal(n, 2 * (big / 4) + 1); /* ▁a bc per word, and the trailing space's ▁ (node: 50001) */
    free(text);
    assert_int_equal(aw_tokenizer_count(t, s, "abc", 3, &n), AW_OK);
    assert_int_equal(n, 2);
    /* Bad arguments. */
    assert_int_equal(aw_tokenizer_count(NULL, s, "a", 1, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_tokenizer_count(t, s, NULL, 1, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_tokenizer_count(t, s, NULL, 0, &n), AW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(aw_tokenizer_encode(t, s, "a", 1, NULL, 4, &n), AW_ERR_INVALID_ARG);
    assert_int_equal(aw_tokenizer_vocab_size(t), 19);
    assert_string_equal(aw_tokenizer_piece(t, 13), "\xe2\x96\x81"
                                                   "abc");
    assert_null(aw_tokenizer_piece(t, 19));
    assert_null(aw_tokenizer_piece(t, -1));
    aw_token_scratch_destroy(s);
    aw_tokenizer_destroy(t);
}

static void test_bad_vocabularies(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "{}",
        "[1,2,3]",
        "[" RESERVED "]",                /* nothing beyond the reserved ids */
        "[" RESERVED ",[\"a\"]]",        /* entry without a score */
        "[" RESERVED ",[\"a\",\"-1\"]]", /* score as a string */
        "[" RESERVED ",[1,-1]]",         /* piece not a string */
        "[" RESERVED ",[\"a\",-1,0]]",   /* three fields */
        "[[\"\",0],[\"<s>\",0],[\"</s>\",0],[\"x1\",0],[\"x2\",0],[\"x3\",0],[\"a\",-1]]", /* empty unknown */
        "[" RESERVED ",[\"a\",-1]",          /* truncated JSON */
        "[" RESERVED ",[\"a\\u0000b\",-1]]", /* NUL inside a piece */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aw_tokenizer *t = aw_tokenizer_create(
            &(aw_tokenizer_desc){.vocab_json = bad[i], .vocab_json_size = strlen(bad[i])});
        if (t) fail_msg("vocabulary %zu was accepted: %s", i, bad[i]);
        assert_int_equal(aw_last_status(), AW_ERR_PARSE);
        assert_non_null(strstr(aw_last_error(), "vocabulary"));
    }
    assert_null(aw_tokenizer_create(&(aw_tokenizer_desc){.model_dir = "/nonexistent/rag-model"}));
    assert_int_equal(aw_last_status(), AW_ERR_NOT_FOUND);
    assert_non_null(strstr(aw_last_error(), "rag-setup.sh"));
}

static void test_oom(void **state) {
    (void)state;
    /* Fail each allocation in turn: creation and tokenizing report OOM and leak nothing. */
    for (int64_t k = 0;; k++) {
        rag_test_alloc a;
        rag_test_alloc_init(&a, k);
        aw_tokenizer *t = aw_tokenizer_create(
            &(aw_tokenizer_desc){.vocab_json = V1, .vocab_json_size = strlen(V1), .allocator = &a.base});
        if (!t) {
            assert_int_equal(aw_last_status(), AW_ERR_OUT_OF_MEMORY);
            assert_int_equal(atomic_load(&a.live_bytes), 0);
            continue;
        }
        aw_token_scratch *s = aw_token_scratch_create(&a.base);
        uint32_t n = 0;
        aw_status st = s ? aw_tokenizer_count(t, s, "abc abc \xff", 9, &n) : AW_ERR_OUT_OF_MEMORY;
        aw_token_scratch_destroy(s);
        aw_tokenizer_destroy(t);
        assert_int_equal(atomic_load(&a.live_bytes), 0);
        if (st == AW_OK) {
            assert_int_equal(n, 6);
            break;
        }
        assert_int_equal(st, AW_ERR_OUT_OF_MEMORY);
        assert_true(k < 10000);
    }
}

/* ---------------------------------------------------------------- the real vocabulary */

static void test_real_vocabulary(void **state) {
    (void)state;
    aw_tokenizer *t = aw_tokenizer_create(&(aw_tokenizer_desc){.model_dir = rag_test_model_dir()});
    if (!t) fail_msg("%s", aw_last_error());
    assert_int_equal(aw_tokenizer_vocab_size(t), 8000);
    assert_string_equal(aw_tokenizer_piece(t, 9), "\xe2\x96\x81the");
    EXPECT(t, "hello world", 2002, 102, 311);
    EXPECT(t, ":30", 30, 4177);
    EXPECT(t, "The quick brown fox jumps over the lazy dog today.", 34, 2280, 3744, 1394, 152, 2009, 7, 132,
           9, 6266, 959, 784, 6);
    EXPECT_NONE(t, "");
    /* Every golden text: exactly the reference tokenizer's ids. */
    rag_golden g;
    rag_golden_load(&g);
    aw_token_scratch *s = aw_token_scratch_create(NULL);
    for (uint32_t i = 0; i < g.count; i++) {
        int32_t ids[4096];
        uint32_t n = 0;
        assert_int_equal(aw_tokenizer_encode(t, s, g.entries[i].text, g.entries[i].text_bytes, ids, 4096, &n),
                         AW_OK);
        if (n != g.entries[i].token_count || memcmp(ids, g.entries[i].tokens, n * sizeof *ids) != 0)
            fail_msg("golden text %u (\"%.40s\"): %u tokens, reference %u, or different ids", i,
                     g.entries[i].text, n, g.entries[i].token_count);
    }
    aw_token_scratch_destroy(s);
    rag_golden_free(&g);
    aw_tokenizer_destroy(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_cases),        cmocka_unit_test(test_nfkc_and_marker),
        cmocka_unit_test(test_invalid_utf8_replaced),  cmocka_unit_test(test_invalid_utf8_refused),
        cmocka_unit_test(test_viterbi_vs_brute_force), cmocka_unit_test(test_count_cap_and_scratch),
        cmocka_unit_test(test_bad_vocabularies),       cmocka_unit_test(test_oom),
        cmocka_unit_test(test_real_vocabulary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
