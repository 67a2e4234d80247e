/* libFuzzer target: the vector index file loader (src/rag/index_file.c). Each input is loaded twice:
 * as it is (checksums checked), and with the checksums ignored so that the structure checks behind
 * them (counts, levels, links, entry point, ids) see the mutations. An index that loads is then
 * searched, written back and compacted: whatever the loader accepts must be safe to use. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rag/index_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(aw_index *idx) {
    aw_index_desc d = aw_index_get_desc(idx);
    float *q = malloc((size_t)d.dim * sizeof(float));
    if (!q) return;
    for (uint32_t i = 0; i < d.dim; i++) q[i] = (float)(i % 7) - 3.0f;
    aw_index_hit hits[8];
    uint32_t n = 0;
    aw_index_filter f = {.kinds = 0x5};
    (void)aw_index_search(idx, NULL, q, 8, NULL, hits, &n);
    (void)aw_index_search(idx, NULL, q, 3, &f, hits, &n);
    (void)aw_index_upsert(idx, 12345, q, NULL);
    (void)aw_index_compact(idx);
    (void)aw_index_search(idx, NULL, q, 8, NULL, hits, &n);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy: the loader may assume nothing about alignment, and a mapped file is page aligned. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    aw_index *idx = aw_index_load_memory(copy, size, NULL);
    if (idx) {
        use(idx);
        aw_index_destroy(idx);
    }
    idx = idx_load_memory(copy, size, NULL, false);
    if (idx) {
        use(idx);
        aw_index_destroy(idx);
    }
    free(copy);
    return 0;
}
