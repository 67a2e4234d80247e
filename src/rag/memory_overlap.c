/* The word-overlap baseline (what the old engine called semantic search): score = the share of the
 * query's distinct content words that occur in a memory's text. No embeddings; scans every memory. */
#include <string.h>

#include "memory_internal.h"

#define MAX_QUERY_WORDS 64

static const char *const stop_words[] = {
    "a",    "an",   "and",  "are",  "as",   "at",    "be",   "by",   "did",  "do",   "does", "for",
    "from", "had",  "has",  "have", "he",   "her",   "his",  "how",  "i",    "in",   "is",   "it",
    "its",  "me",   "my",   "of",   "on",   "or",    "she",  "that", "the",  "their", "them", "there",
    "they", "this", "to",   "was",  "we",   "were",  "what", "when", "where", "which", "who", "why",
    "with", "you",  "your", "about", "can", "into",  "our",  "than", "then", "so",   "if",   "not"};

static bool word_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 || c == '\'';
}

/* Next word of s from *at: its lower-cased hash (0 at the end). Apostrophes and a trailing "'s" are
 * dropped so "Kael's" and "Kael" match. */
static uint64_t next_word(const char *s, size_t *at, bool *stop) {
    size_t i = *at;
    while (s[i] && !word_char((unsigned char)s[i])) i++;
    if (!s[i]) {
        *at = i;
        return 0;
    }
    char w[48];
    size_t n = 0;
    size_t start = i;
    while (s[i] && word_char((unsigned char)s[i])) {
        char c = s[i++];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != '\'' && n < sizeof w - 1) w[n++] = c;
    }
    if (i - start >= 2 && s[i - 1] == 's' && s[i - 2] == '\'' && n > 1) n--; /* possessive */
    w[n] = '\0';
    *at = i;
    *stop = false;
    for (size_t k = 0; k < sizeof stop_words / sizeof stop_words[0]; k++)
        if (strcmp(w, stop_words[k]) == 0) *stop = true;
    uint64_t h = aw_hash_bytes(w, n, 0x0ea1);
    return h ? h : 1;
}

uint32_t mem_rank_overlap(aw_memory *m, const aw_memory_query *q, aw_memory_hit *hits, uint32_t cap) {
    uint64_t words[MAX_QUERY_WORDS];
    uint32_t nw = 0;
    size_t at = 0;
    bool stop = false;
    for (uint64_t h; nw < MAX_QUERY_WORDS && (h = next_word(q->text, &at, &stop)) != 0;) {
        if (stop) continue;
        bool seen = false;
        for (uint32_t i = 0; i < nw && !seen; i++) seen = words[i] == h;
        if (!seen) words[nw++] = h;
    }
    uint32_t k = q->k ? q->k : 10;
    if (k > cap) k = cap;
    if (nw == 0 || k == 0) return 0;
    uint32_t n = 0;
    for (uint32_t row = 0; row < m->count; row++) {
        if (!aw_store_filter_match(&q->filter, &m->meta[row])) continue;
        uint64_t matched = 0; /* bit i: query word i occurs */
        size_t p = 0;
        for (uint64_t h; (h = next_word(m->texts[row], &p, &stop)) != 0;)
            for (uint32_t i = 0; i < nw; i++)
                if (words[i] == h) matched |= 1ull << i;
        if (!matched) continue;
        aw_memory_hit h = {.id = m->ids[row], .score = (float)__builtin_popcountll(matched) / (float)nw};
        /* Insertion into the top k, best first, ties by lower id. */
        uint32_t pos = n < k ? n++ : k;
        while (pos > 0 && mem_hit_before(&h, &hits[pos - 1])) {
            if (pos < k) hits[pos] = hits[pos - 1];
            pos--;
        }
        if (pos < k) hits[pos] = h;
    }
    return n;
}
