/* libFuzzer target: the TF.js manifest parser and the weight binder (src/rag/manifest.c, weights.c).
 * Input: model.json text, optionally followed by a NUL and weight bytes. The manifest is parsed; if
 * it parses, it is bound to the given bytes and to a zero-filled block of exactly the manifest's
 * size (with the given bytes at its start), so shape, dtype, alignment and value checks all run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rag/rag_internal.h"

#define ZERO_BLOCK ((size_t)32 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t *zero;
    if (!zero) zero = calloc(1, ZERO_BLOCK);
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_size = nul ? (size_t)(nul - data) : size;
    const uint8_t *tail = nul ? nul + 1 : data + size;
    size_t tail_size = size - (size_t)(tail - data);

    rag_manifest m;
    if (rag_manifest_parse(&m, NULL, (const char *)data, json_size) != AW_OK) return 0;
    rag_model model;
    /* The tail as the weights, copied so that float loads are aligned as in a real blob. */
    uint8_t *blob = malloc(tail_size ? tail_size : 1);
    if (blob) {
        memcpy(blob, tail, tail_size);
        (void)rag_model_bind(&model, &m, blob, tail_size);
        free(blob);
    }
    if (zero && m.total_bytes <= ZERO_BLOCK) {
        size_t n = tail_size < m.total_bytes ? tail_size : m.total_bytes;
        memcpy(zero, tail, n);
        if (rag_model_bind(&model, &m, zero, m.total_bytes) == AW_OK) {
            /* A bound model must point inside the block it was given. */
            if ((const uint8_t *)model.tanh_b < zero ||
                (const uint8_t *)(model.tanh_b + 512) > zero + m.total_bytes)
                abort();
        }
        memset(zero, 0, n);
    }
    rag_manifest_free(&m);
    return 0;
}
