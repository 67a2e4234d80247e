/* Shared by the context, few-shot and LLM tests: a small vocabulary (single characters plus a few
 * words) so budgets are counted by a real tokenizer without the model, and a skip when a test needs
 * the model and set-up has not fetched it. */
#ifndef AW_TESTS_RAG_CONTEXT_TEST_UTIL_H
#define AW_TESTS_RAG_CONTEXT_TEST_UTIL_H

#include "aw/rag.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

/* A vocabulary where every printable ASCII character is a piece and a few frequent words are longer
 * pieces, so counts grow with text length like a real model's do. */
static inline aw_tokenizer *context_test_tokenizer(void) {
    static char json[8192];
    size_t n = 0;
    n += (size_t)snprintf(json + n, sizeof json - n,
                          "[[\"\\ufffd\",0],[\"<s>\",0],[\"</s>\",0],[\"x1\",0],[\"x2\",0],[\"x3\",0],"
                          "[\"\\u2581\",-2]");
    for (int c = 33; c < 127; c++) {
        if (c == '"' || c == '\\') n += (size_t)snprintf(json + n, sizeof json - n, ",[\"\\%c\",-3]", c);
        else n += (size_t)snprintf(json + n, sizeof json - n, ",[\"%c\",-3]", c);
    }
    static const char *words[] = {"enemy", "ally", "cover", "memory", "plan", "steps", "kind",
                                  "Situation", "the", "and", "at", "hp", "ammo", "\\u2581the", "\\u2581enemy"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, ",[\"%s\",-4]", words[i]);
    n += (size_t)snprintf(json + n, sizeof json - n, "]");
    aw_tokenizer *t = aw_tokenizer_create(&(aw_tokenizer_desc){.vocab_json = json, .vocab_json_size = n});
    if (!t) fail_msg("test tokenizer: %s", aw_last_error());
    return t;
}

/* The model directory, or NULL when set-up has not fetched the model (the caller skips). */
static inline const char *context_test_model_dir_or_null(void) {
    static char dir[1024];
    if (aw_rag_model_dir(NULL, dir, sizeof dir) != AW_OK) return NULL;
    char path[1100];
    snprintf(path, sizeof path, "%s/model.json", dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "skipped: the USE-lite model is not in %s (scripts/rag-setup.sh fetches it)\n", dir);
        return NULL;
    }
    return dir;
}

/* A file of the repository, found from this header's own path. */
static inline void context_test_repo_path(char *buf, size_t cap, const char *rel) {
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    snprintf(buf, cap, "%.*s/../../%s", slash ? (int)(slash - here) : 1, slash ? here : ".", rel);
}

#endif /* AW_TESTS_RAG_CONTEXT_TEST_UTIL_H */
