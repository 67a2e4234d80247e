/* SentencePiece unigram tokenizer, exactly as the reference (@energetic-ai/embeddings) computes it,
 * quirks included, because the model's golden vectors come from that code:
 *   - NFKC, then U+2581 in front of non-empty text and in place of every U+0020 (other whitespace
 *     stays, and usually becomes an unknown piece);
 *   - Viterbi over positions in code points, scores added in double; a position's best is
 *     "unset" while it is exactly 0, a later candidate wins ties (>=), and a position no piece
 *     reaches keeps best 0 and piece 0;
 *   - where no piece starts, one code point becomes the unknown piece 0 with score 0;
 *   - the back-trace steps back by each piece's length in UTF-16 units, and a run of unknowns
 *     collapses to one id 0;
 *   - a score of null in vocab.json counts as 0 (JavaScript's null + x).
 * Normalisation and the Viterbi arrays live in a per-thread scratch that only ever grows. */
#include "rag_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdalign.h>
#include <string.h>
#include <utf8proc.h>

/* Bounds the scratch a single text can make a thread keep (NFKC may grow it 18-fold). */
#define RAG_MAX_TEXT_BYTES (64 << 20)
#define NFKC_OPTIONS       (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE)

/* ---------------------------------------------------------------- scratch */

aw_token_scratch *aw_token_scratch_create(const aw_allocator *allocator) {
    aw_token_scratch *s = aw_alloc(allocator, sizeof *s, alignof(aw_token_scratch));
    if (!s) return NULL;
    *s = (aw_token_scratch){.allocator = allocator};
    return s;
}

void aw_token_scratch_destroy(aw_token_scratch *s) {
    if (!s) return;
    const aw_allocator *a = s->allocator;
    aw_free(a, s->utf8, s->utf8_cap);
    aw_free(a, s->cps, s->cps_cap * sizeof *s->cps);
    aw_free(a, s->best, s->best_cap * sizeof *s->best);
    aw_free(a, s->words, s->words_cap * sizeof *s->words);
    aw_free(a, s->tokens, s->tokens_cap * sizeof *s->tokens);
    aw_free(a, s, sizeof *s);
}

/* ---------------------------------------------------------------- vocabulary */

static uint32_t utf16_length(const int32_t *cps, uint32_t n) {
    uint32_t len = 0;
    for (uint32_t i = 0; i < n; i++) len += cps[i] > 0xFFFF ? 2u : 1u;
    return len;
}

/* Decodes a piece (valid UTF-8: jansson checked it) into code points; cps holds `bytes` entries. */
static uint32_t decode_piece(const char *s, size_t bytes, int32_t *cps) {
    uint32_t n = 0;
    size_t i = 0;
    while (i < bytes) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(bytes - i), &cp);
        if (k <= 0) break;
        cps[n++] = cp;
        i += (size_t)k;
    }
    return n;
}

static void tokenizer_free(aw_tokenizer *t) {
    const aw_allocator *a = t->allocator;
    rag_trie_destroy(&t->trie);
    aw_free(a, t->text, t->text_size);
    aw_free(a, t->offset, (size_t)t->count * sizeof *t->offset);
    aw_free(a, t->len16, (size_t)t->count * sizeof *t->len16);
    aw_free(a, t, sizeof *t);
}

aw_tokenizer *rag_tokenizer_from_json(const char *json, size_t size, const aw_allocator *a,
                                      bool strict_utf8) {
    json_error_t jerr;
    json_t *root = json_loadb(json, size, 0, &jerr);
    if (!root) {
        aw_error(AW_ERR_PARSE, "vocabulary: invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return NULL;
    }
    aw_tokenizer *t = NULL;
    int32_t *cps = NULL;
    size_t cps_cap = 0;
    if (!json_is_array(root) || json_array_size(root) <= RAG_RESERVED_PIECES ||
        json_array_size(root) > (1u << 24)) {
        aw_error(AW_ERR_PARSE,
                 "vocabulary: expected an array of more than %d [piece, score] entries (and at most 16M)",
                 RAG_RESERVED_PIECES);
        goto fail;
    }
    uint32_t count = (uint32_t)json_array_size(root);
    size_t text_size = 0;
    for (uint32_t i = 0; i < count; i++) {
        json_t *e = json_array_get(root, i);
        json_t *piece = json_array_get(e, 0), *score = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(piece) ||
            !(json_is_number(score) || json_is_null(score))) {
            aw_error(AW_ERR_PARSE, "vocabulary: entry %u is not [\"piece\", score]", i);
            goto fail;
        }
        if (json_is_real(score) && !isfinite(json_real_value(score))) {
            aw_error(AW_ERR_PARSE, "vocabulary: entry %u has a non-finite score", i);
            goto fail;
        }
        text_size += json_string_length(piece) + 1;
    }
    if (json_string_length(json_array_get(json_array_get(root, 0), 0)) == 0) {
        /* The back-trace steps over an unknown by piece 0's length: it must not be empty. */
        aw_error(AW_ERR_PARSE, "vocabulary: piece 0 (the unknown piece) is empty");
        goto fail;
    }
    if (text_size > UINT32_MAX) {
        aw_error(AW_ERR_PARSE, "vocabulary: %zu bytes of pieces, more than 4 GiB", text_size);
        goto fail;
    }

    t = aw_alloc(a, sizeof *t, alignof(aw_tokenizer));
    if (!t) goto fail;
    *t = (aw_tokenizer){.allocator = a, .strict_utf8 = strict_utf8};
    if (rag_trie_init(&t->trie, a) != AW_OK) goto fail_tok;
    t->text = aw_alloc(a, text_size, 1);
    t->offset = aw_alloc(a, (size_t)count * sizeof *t->offset, 4);
    t->len16 = aw_alloc(a, (size_t)count * sizeof *t->len16, 4);
    t->count = count;
    t->text_size = text_size;
    if (!t->text || !t->offset || !t->len16) goto fail_tok;

    size_t at = 0;
    bool bare_marker = false, inner_marker = false;
    for (uint32_t i = 0; i < count; i++) {
        json_t *e = json_array_get(root, i);
        json_t *piece = json_array_get(e, 0), *score = json_array_get(e, 1);
        const char *p = json_string_value(piece);
        size_t bytes = json_string_length(piece);
        if (memchr(p, '\0', bytes)) {
            aw_error(AW_ERR_PARSE, "vocabulary: piece %u contains NUL", i);
            goto fail_tok;
        }
        memcpy(t->text + at, p, bytes + 1);
        t->offset[i] = (uint32_t)at;
        at += bytes + 1;
        if (rag_grow(a, (void **)&cps, &cps_cap, bytes + 1, sizeof *cps) != AW_OK) goto fail_tok;
        uint32_t n = decode_piece(p, bytes, cps);
        t->len16[i] = utf16_length(cps, n);
        if (i >= RAG_RESERVED_PIECES) {
            double sc = json_is_null(score) ? 0.0 : json_number_value(score);
            if (rag_trie_insert(&t->trie, cps, n, sc, (int32_t)i) != AW_OK) goto fail_tok;
            for (uint32_t k = 1; k < n; k++)
                if (cps[k] == RAG_MARKER) inner_marker = true;
            if (n == 1 && cps[0] == RAG_MARKER) bare_marker = true;
        }
    }
    t->words_split = bare_marker && !inner_marker;
    aw_free(a, cps, cps_cap * sizeof *cps);
    json_decref(root);
    return t;

fail_tok:
    if (aw_last_status() == AW_OK) aw_error(AW_ERR_OUT_OF_MEMORY, "vocabulary: out of memory");
    tokenizer_free(t);
fail:
    aw_free(a, cps, cps_cap * sizeof *cps);
    json_decref(root);
    return NULL;
}

aw_tokenizer *aw_tokenizer_create(const aw_tokenizer_desc *desc) {
    aw_tokenizer_desc d = desc ? *desc : (aw_tokenizer_desc){0};
    if (d.vocab_json)
        return rag_tokenizer_from_json(d.vocab_json, d.vocab_json_size, d.allocator, d.strict_utf8);
    char dir[1024], path[1100];
    if (aw_rag_model_dir(d.model_dir, dir, sizeof dir) != AW_OK) return NULL;
    if (rag_join_path(path, sizeof path, dir, "vocab.json") != AW_OK) return NULL;
    char *json;
    size_t size;
    if (rag_read_file(d.allocator, path, RAG_FETCH_HINT, &json, &size) != AW_OK) return NULL;
    aw_tokenizer *t = rag_tokenizer_from_json(json, size, d.allocator, d.strict_utf8);
    rag_free_file(d.allocator, json, size);
    return t;
}

void aw_tokenizer_destroy(aw_tokenizer *tok) {
    if (tok) tokenizer_free(tok);
}

uint32_t aw_tokenizer_vocab_size(const aw_tokenizer *tok) {
    return tok ? tok->count : 0;
}

const char *aw_tokenizer_piece(const aw_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || (uint32_t)id >= tok->count) return NULL;
    return tok->text + tok->offset[id];
}

size_t rag_token_prefix_bytes(const aw_tokenizer *tok, const char *text, size_t len, uint32_t tokens) {
    /* Each ASCII space becomes a marker that starts a token; with the leading marker, the text
     * before the tokens-th space already has at least `tokens` tokens, the same as the whole
     * text's first ones: no piece crosses a marker, and NFKC composes nothing across a space. */
    if (!tok->words_split || tokens == 0) return len;
    const char *p = text, *end = text + len;
    for (uint32_t spaces = 0; p < end; p++) {
        p = memchr(p, ' ', (size_t)(end - p));
        if (!p) break;
        if (++spaces == tokens) return (size_t)(p - text);
    }
    return len;
}

/* ---------------------------------------------------------------- normalisation */

/* NFKC code points of the text into s->cps[1..], marker rules applied; returns the symbol count. */
static aw_status normalize(const aw_tokenizer *tok, aw_token_scratch *s, const char *text, size_t len,
                           size_t *n_out) {
    const aw_allocator *a = s->allocator;
    size_t valid = rag_utf8_valid_prefix(text, len);
    if (valid < len) {
        if (tok->strict_utf8)
            return aw_error(AW_ERR_PARSE, "tokenizer: invalid UTF-8 at byte %zu of %zu", valid, len);
        if (len > RAG_MAX_TEXT_BYTES)
            return aw_error(AW_ERR_CAPACITY, "tokenizer: text of %zu bytes (at most %d MiB)", len,
                            RAG_MAX_TEXT_BYTES >> 20);
        aw_status st = rag_grow(a, (void **)&s->utf8, &s->utf8_cap, 3 * len, 1);
        if (st != AW_OK) return st;
        len = rag_utf8_sanitize(text, len, s->utf8);
        text = s->utf8;
    }
    if (len > RAG_MAX_TEXT_BYTES)
        return aw_error(AW_ERR_CAPACITY, "tokenizer: text of %zu bytes (at most %d MiB)", len,
                        RAG_MAX_TEXT_BYTES >> 20);
    /* Decomposition can lengthen text (up to 18 code points for one); retry with what it asks for. */
    size_t want = len + 2;
    for (;;) {
        aw_status st = rag_grow(a, (void **)&s->cps, &s->cps_cap, want, sizeof *s->cps);
        if (st != AW_OK) return st;
        utf8proc_ssize_t r = utf8proc_decompose((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len,
                                                s->cps + 1, (utf8proc_ssize_t)(s->cps_cap - 1), NFKC_OPTIONS);
        if (r < 0) return aw_error(AW_ERR_PARSE, "tokenizer: NFKC failed: %s", utf8proc_errmsg(r));
        if ((size_t)r <= s->cps_cap - 1) {
            r = utf8proc_normalize_utf32(s->cps + 1, r, NFKC_OPTIONS);
            if (r < 0) return aw_error(AW_ERR_PARSE, "tokenizer: NFKC failed: %s", utf8proc_errmsg(r));
            size_t n = (size_t)r;
            if (n == 0) {
                *n_out = 0;
                return AW_OK;
            }
            s->cps[0] = RAG_MARKER;
            for (size_t i = 1; i <= n; i++)
                if (s->cps[i] == ' ') s->cps[i] = RAG_MARKER;
            *n_out = n + 1;
            return AW_OK;
        }
        want = (size_t)r + 1;
    }
}

/* ---------------------------------------------------------------- Viterbi */

static inline void relax(double *best, int32_t *words, size_t start, size_t end, double score, int32_t id) {
    double sc = score + best[start];
    if (best[end] == 0.0 || sc >= best[end]) {
        best[end] = sc;
        words[end] = id;
    }
}

aw_status rag_tokenize(const aw_tokenizer *tok, aw_token_scratch *s, const char *text, size_t len,
                       const int32_t **first, uint32_t *count) {
    size_t n;
    aw_status st = normalize(tok, s, text, len, &n);
    if (st != AW_OK) return st;
    if (n > UINT32_MAX - 1) return aw_error(AW_ERR_CAPACITY, "tokenizer: %zu symbols", n);
    const aw_allocator *a = s->allocator;
    if ((st = rag_grow(a, (void **)&s->best, &s->best_cap, n + 1, sizeof *s->best)) != AW_OK) return st;
    if ((st = rag_grow(a, (void **)&s->words, &s->words_cap, n + 1, sizeof *s->words)) != AW_OK) return st;
    if ((st = rag_grow(a, (void **)&s->tokens, &s->tokens_cap, n + 1, sizeof *s->tokens)) != AW_OK) return st;
    const int32_t *sym = s->cps;
    double *best = s->best;
    int32_t *words = s->words;
    memset(best, 0, (n + 1) * sizeof *best);
    memset(words, 0, (n + 1) * sizeof *words);

    /* Forward: best[i] is final once every start before i is done, and each end hears from its
     * starts in increasing order: the same update order as the reference's loop over ends. */
    const rag_trie *trie = &tok->trie;
    for (size_t i = 0; i < n; i++) {
        bool matched = false;
        uint32_t node = 0;
        for (size_t j = i; j < n; j++) {
            node = rag_trie_child(trie, node, sym[j]);
            if (!node) break;
            if (trie->piece[node] >= 0) {
                relax(best, words, i, j + 1, trie->score[node], trie->piece[node]);
                matched = true;
            }
        }
        if (!matched) relax(best, words, i, i + 1, 0.0, 0);
    }

    /* Back-trace from the end into tokens[], last token first, collapsing runs of unknowns. */
    int32_t *out = s->tokens + (n + 1);
    uint32_t c = 0;
    bool prev_unknown = false;
    long long it = (long long)n;
    while (it > 0) {
        int32_t id = words[it];
        if (!(prev_unknown && id == 0)) {
            *--out = id;
            c++;
        }
        prev_unknown = id == 0;
        it -= (long long)tok->len16[id];
    }
    *first = out;
    *count = c;
    return AW_OK;
}

static aw_status run_tokenize(const aw_tokenizer *tok, aw_token_scratch *scratch, const char *text,
                              size_t len, int32_t *ids, uint32_t cap, uint32_t *count) {
    if (!tok || !count || (!text && len) || (!ids && cap))
        return aw_error(AW_ERR_INVALID_ARG,
                        "aw_tokenizer_encode: tok, count, text (or len 0) and ids (or cap 0) are required");
    aw_token_scratch *s = scratch ? scratch : aw_token_scratch_create(tok->allocator);
    if (!s) return aw_last_status();
    const int32_t *first = NULL;
    uint32_t c = 0;
    aw_status st = rag_tokenize(tok, s, text ? text : "", len, &first, &c);
    if (st == AW_OK) {
        if (cap) memcpy(ids, first, (size_t)(c < cap ? c : cap) * sizeof *ids);
        *count = c;
    }
    if (!scratch) aw_token_scratch_destroy(s);
    return st;
}

aw_status aw_tokenizer_encode(const aw_tokenizer *tok, aw_token_scratch *scratch, const char *text,
                              size_t len, int32_t *ids, uint32_t cap, uint32_t *count) {
    return run_tokenize(tok, scratch, text, len, ids, cap, count);
}

aw_status aw_tokenizer_count(const aw_tokenizer *tok, aw_token_scratch *scratch, const char *text, size_t len,
                             uint32_t *count) {
    return run_tokenize(tok, scratch, text, len, NULL, 0, count);
}
