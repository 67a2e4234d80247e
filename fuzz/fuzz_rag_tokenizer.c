/* libFuzzer target: the tokenizer (src/rag/tokenizer.c, text.c, trie.c). Input bytes are a text
 * (any bytes, invalid UTF-8 included) tokenized leniently and strictly; an input that starts with
 * 0x01 is instead a vocabulary JSON to parse and, if it loads, to tokenize a fixed text with. Uses
 * the real vocabulary when the model is installed (AW_RAG_MODEL_DIR or the default cache), else a
 * small built-in one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/rag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char builtin_vocab[] =
    "[[\"\\ufffd\",0],[\"<s>\",0],[\"</s>\",0],[\"x1\",0],[\"x2\",0],[\"x3\",0],[\"\\u2581\",-1],[\"a\",-2],"
    "[\"b\",-2],[\"ab\",-1.5],[\"\\u2581a\",-1.2],[\":\",null],[\":3\",3],[\"\\u00e9\",-2],["
    "\"\\u65e5\\u672c\",-3],"
    "[\"\\ud83d\\ude00\",-4],[\"\\u2581\\u2581\",-1.1],[\"fi\",-2]]";

static void check(const aw_tokenizer *t, aw_token_scratch *s, const char *text, size_t len) {
    int32_t ids[64];
    uint32_t n = 0, c = 0;
    if (aw_tokenizer_encode(t, s, text, len, ids, 64, &n) != AW_OK) return;
    if (aw_tokenizer_count(t, s, text, len, &c) != AW_OK || c != n) abort();
    /* No bound from len: NFKC may expand one code point into many (U+FDFA is 18 letters). */
    for (uint32_t i = 0; i < n && i < 64; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= aw_tokenizer_vocab_size(t)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static aw_tokenizer *lenient, *strict;
    static aw_token_scratch *scratch;
    if (!lenient) {
        lenient = aw_tokenizer_create(&(aw_tokenizer_desc){0});
        strict = aw_tokenizer_create(&(aw_tokenizer_desc){.strict_utf8 = true});
        if (!lenient || !strict) {
            aw_tokenizer_destroy(lenient);
            aw_tokenizer_destroy(strict);
            aw_tokenizer_desc d = {.vocab_json = builtin_vocab, .vocab_json_size = sizeof builtin_vocab - 1};
            lenient = aw_tokenizer_create(&d);
            d.strict_utf8 = true;
            strict = aw_tokenizer_create(&d);
        }
        scratch = aw_token_scratch_create(NULL);
        if (!lenient || !strict || !scratch) abort();
    }
    if (size > 0 && data[0] == 0x01) {
        aw_tokenizer *t = aw_tokenizer_create(
            &(aw_tokenizer_desc){.vocab_json = (const char *)data + 1, .vocab_json_size = size - 1});
        if (t) {
            check(t, scratch, "a b  ab:3 \xc3\xa9 \xff", 14);
            aw_tokenizer_destroy(t);
        }
        return 0;
    }
    /* An exactly sized copy: a read past the end is an ASan report, not a silent success. */
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    memcpy(text, data, size);
    check(lenient, scratch, text, size);
    check(strict, scratch, text, size);
    free(text);
    return 0;
}
