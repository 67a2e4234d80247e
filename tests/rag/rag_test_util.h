/* Shared by the rag tests: a thread-safe counting (and failing) allocator, the model directory with a
 * clear failure when set-up has not fetched it, and the golden vectors that scripts/rag/reference.js
 * wrote from the TF.js reference. */
#ifndef AW_TESTS_RAG_TEST_UTIL_H
#define AW_TESTS_RAG_TEST_UTIL_H

#include "aw/rag.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

/* ---------------------------------------------------------------- counting allocator */

typedef struct rag_test_alloc {
    aw_allocator base;          /* pass &t.base */
    _Atomic int64_t fail_after; /* successful calls left before every call fails; < 0: never */
    _Atomic uint64_t allocs, reallocs, frees, failures;
    _Atomic int64_t live_bytes;
} rag_test_alloc;

static inline bool rag_test_may_succeed(rag_test_alloc *t) {
    int64_t left = atomic_load(&t->fail_after);
    while (left > 0 && !atomic_compare_exchange_weak(&t->fail_after, &left, left - 1)) {
    }
    if (left == 0) {
        atomic_fetch_add(&t->failures, 1);
        return false;
    }
    return true;
}

static inline void *rag_test_alloc_fn(void *user, size_t size, size_t align) {
    rag_test_alloc *t = user;
    if (!rag_test_may_succeed(t)) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0)
        return NULL;
    atomic_fetch_add(&t->allocs, 1);
    atomic_fetch_add(&t->live_bytes, (int64_t)size);
    return p;
}

static inline void *rag_test_realloc_fn(void *user, void *ptr, size_t old_size, size_t new_size,
                                        size_t align) {
    rag_test_alloc *t = user;
    if (!rag_test_may_succeed(t)) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, new_size ? new_size : 1) != 0)
        return NULL;
    memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    free(ptr);
    atomic_fetch_add(&t->reallocs, 1);
    atomic_fetch_add(&t->live_bytes, (int64_t)new_size - (int64_t)old_size);
    return p;
}

static inline void rag_test_free_fn(void *user, void *ptr, size_t size) {
    rag_test_alloc *t = user;
    free(ptr);
    atomic_fetch_add(&t->frees, 1);
    atomic_fetch_sub(&t->live_bytes, (int64_t)size);
}

static inline void rag_test_alloc_init(rag_test_alloc *t, int64_t fail_after) {
    t->base = (aw_allocator){
        .alloc = rag_test_alloc_fn, .realloc = rag_test_realloc_fn, .free = rag_test_free_fn, .user = t};
    atomic_store(&t->fail_after, fail_after);
    atomic_store(&t->allocs, 0);
    atomic_store(&t->reallocs, 0);
    atomic_store(&t->frees, 0);
    atomic_store(&t->failures, 0);
    atomic_store(&t->live_bytes, 0);
}

/* ---------------------------------------------------------------- model and golden vectors */

/* The model directory; fails the test with the fix when set-up has not fetched the model. */
static inline const char *rag_test_model_dir(void) {
    static char dir[1024];
    if (aw_rag_model_dir(NULL, dir, sizeof dir) != AW_OK) fail_msg("no model directory: %s", aw_last_error());
    char path[1100];
    snprintf(path, sizeof path, "%s/model.json", dir);
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("the USE-lite model is not in %s: run scripts/rag-setup.sh (make deps runs it) or set "
                 "AW_RAG_MODEL_DIR",
                 dir);
    return dir;
}

typedef struct rag_golden_entry {
    char *text; /* NUL-terminated (no golden text contains NUL) */
    uint32_t text_bytes;
    int32_t *tokens; /* the reference tokenizer's ids */
    uint32_t token_count;
    float *embedding; /* 512 floats from the TF.js reference */
} rag_golden_entry;

typedef struct rag_golden {
    unsigned char *data;
    rag_golden_entry *entries;
    uint32_t count;
} rag_golden;

/* tests/rag/golden_use_lite.bin, found next to this header (CMake compiles sources by absolute path). */
static inline void rag_golden_load(rag_golden *g) {
    char path[1024];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    int dir_len = slash ? (int)(slash - here) : 1;
    snprintf(path, sizeof path, "%.*s/golden_use_lite.bin", dir_len, slash ? here : ".");
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (regenerate with: node scripts/rag/reference.js golden)", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    g->data = malloc((size_t)size);
    assert_non_null(g->data);
    assert_int_equal(fread(g->data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    assert_memory_equal(g->data, "AWRGOLD1", 8);
    uint32_t dim;
    memcpy(&g->count, g->data + 8, 4);
    memcpy(&dim, g->data + 12, 4);
    assert_int_equal(dim, AW_EMBED_DIM);
    g->entries = calloc(g->count, sizeof *g->entries);
    assert_non_null(g->entries);
    size_t o = 20;
    for (uint32_t i = 0; i < g->count; i++) {
        rag_golden_entry *e = &g->entries[i];
        memcpy(&e->text_bytes, g->data + o, 4);
        o += 4;
        e->text = malloc(e->text_bytes + 1);
        memcpy(e->text, g->data + o, e->text_bytes);
        e->text[e->text_bytes] = '\0';
        o += e->text_bytes;
        memcpy(&e->token_count, g->data + o, 4);
        o += 4;
        /* Copied out: the file packs them at any byte offset. */
        e->tokens = malloc(4u * e->token_count + 4);
        memcpy(e->tokens, g->data + o, 4u * e->token_count);
        o += 4u * e->token_count;
        e->embedding = malloc(4u * AW_EMBED_DIM);
        memcpy(e->embedding, g->data + o, 4u * AW_EMBED_DIM);
        o += 4u * AW_EMBED_DIM;
        assert_true(o <= (size_t)size);
    }
    assert_int_equal(o, (size_t)size);
}

static inline void rag_golden_free(rag_golden *g) {
    for (uint32_t i = 0; i < g->count; i++) {
        free(g->entries[i].text);
        free(g->entries[i].tokens);
        free(g->entries[i].embedding);
    }
    free(g->entries);
    free(g->data);
    *g = (rag_golden){0};
}

#endif /* AW_TESTS_RAG_TEST_UTIL_H */
