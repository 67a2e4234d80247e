/* UTF-8 checking and repair before normalisation: utf8proc refuses invalid input outright, and the
 * tokenizer must never read past the bytes it was given. A maximal invalid subsequence (Unicode
 * 3.9, the "substitution of maximal subparts" that WHATWG decoders and node use) becomes U+FFFD. */
#include "rag_internal.h"

#include <string.h>

/* Length of the well-formed sequence starting at s[0] (s has n >= 1 bytes), or the negated length
 * of its maximal invalid subpart (at least 1). */
static long utf8_step(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    unsigned need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong 3-byte forms */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* no overlong 4-byte forms */
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return -1; /* 80..C1, F5..FF never start a sequence */
    }
    for (unsigned i = 1; i <= need; i++) {
        if (i >= n) return -(long)i;
        unsigned char b = s[i];
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) return -(long)i;
    }
    return (long)need + 1;
}

size_t rag_utf8_valid_prefix(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case: skip them eight bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        long k = utf8_step(s + i, len - i);
        if (k < 0) return i;
        i += (size_t)k;
    }
    return len;
}

size_t rag_utf8_sanitize(const char *text, size_t len, char *out) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, o = 0;
    while (i < len) {
        long k = utf8_step(s + i, len - i);
        if (k > 0) {
            memcpy(out + o, s + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            out[o++] = (char)0xEF;
            out[o++] = (char)0xBF;
            out[o++] = (char)0xBD;
            i += (size_t)-k;
        }
    }
    return o;
}

size_t aw_rag_utf8_repair(const char *text, size_t len, char *out, size_t cap) {
    if ((!text && len) || !out) {
        aw_error(AW_ERR_INVALID_ARG, "aw_rag_utf8_repair: text and out are required");
        return 0;
    }
    /* Sizing first keeps the copy itself unchecked: each invalid byte grows by at most 2. */
    size_t need = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        long k = utf8_step(s + i, len - i);
        need += k > 0 ? (size_t)k : 3;
        i += (size_t)(k > 0 ? k : -k);
    }
    if (need > cap) {
        aw_error(AW_ERR_CAPACITY, "aw_rag_utf8_repair: needs %zu bytes, out has %zu", need, cap);
        return 0;
    }
    return rag_utf8_sanitize(text, len, out);
}
