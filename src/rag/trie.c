/* The trie of vocabulary pieces over code points: the tokenizer walks it from every position to
 * find each piece that starts there (a common-prefix search). */
#include "rag_internal.h"

#include <string.h>

static aw_status add_node(rag_trie *t, uint32_t *out) {
    if (t->count == t->capacity) {
        /* Both arrays move together, so a failure leaves the trie exactly as it was. */
        uint32_t cap = t->capacity ? t->capacity * 2 : 1024;
        double *score = aw_alloc(t->allocator, (size_t)cap * sizeof *score, 8);
        int32_t *piece = aw_alloc(t->allocator, (size_t)cap * sizeof *piece, 4);
        if (!score || !piece) {
            aw_free(t->allocator, score, (size_t)cap * sizeof *score);
            aw_free(t->allocator, piece, (size_t)cap * sizeof *piece);
            return aw_error(AW_ERR_OUT_OF_MEMORY, "trie: no memory for %u nodes", cap);
        }
        if (t->count) {
            memcpy(score, t->score, (size_t)t->count * sizeof *score);
            memcpy(piece, t->piece, (size_t)t->count * sizeof *piece);
        }
        aw_free(t->allocator, t->score, (size_t)t->capacity * sizeof *t->score);
        aw_free(t->allocator, t->piece, (size_t)t->capacity * sizeof *t->piece);
        t->score = score;
        t->piece = piece;
        t->capacity = cap;
    }
    t->score[t->count] = 0.0;
    t->piece[t->count] = -1;
    *out = t->count++;
    return AW_OK;
}

aw_status rag_trie_init(rag_trie *t, const aw_allocator *a) {
    *t = (rag_trie){.allocator = a};
    aw_map_init(&t->edges, a);
    uint32_t root;
    return add_node(t, &root);
}

void rag_trie_destroy(rag_trie *t) {
    aw_map_destroy(&t->edges);
    aw_free(t->allocator, t->score, (size_t)t->capacity * sizeof *t->score);
    aw_free(t->allocator, t->piece, (size_t)t->capacity * sizeof *t->piece);
    *t = (rag_trie){0};
}

aw_status rag_trie_insert(rag_trie *t, const int32_t *cps, uint32_t n, double score, int32_t id) {
    if (n == 0) return AW_OK; /* the reference's insert of "" marks nothing */
    uint32_t node = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t child = rag_trie_child(t, node, cps[i]);
        if (!child) {
            aw_status st = add_node(t, &child);
            if (st != AW_OK) return st;
            uint64_t key = ((uint64_t)node + 1) << 21 | (uint64_t)(uint32_t)cps[i];
            st = aw_map_set(&t->edges, key, child);
            if (st != AW_OK) return st;
        }
        node = child;
    }
    t->score[node] = score;
    t->piece[node] = id;
    return AW_OK;
}
