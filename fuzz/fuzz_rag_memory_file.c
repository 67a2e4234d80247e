/* libFuzzer target: the memory file loader (src/rag/memory_file.c). Input: file bytes. The checksum
 * is recomputed over the payload first half the time, so mutations reach the record parser instead
 * of stopping at the checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/rag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static aw_memory *mem;
    if (!mem) mem = aw_memory_create(&(aw_memory_desc){.local = {.exact = true}});
    if (!mem) return 0;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size >= 40 && (size & 1)) {
        uint64_t sum = aw_hash_bytes(copy + 40, size - 40, 0x4d454dull), payload = size - 40;
        memcpy(copy + 24, &payload, 8);
        memcpy(copy + 32, &sum, 8);
    }
    if (aw_memory_load_bytes(mem, copy, size) == AW_OK) {
        /* Whatever loaded must be usable: forget it again so the memory stays small. */
        aw_memory_item it;
        for (uint64_t id = 1; id < 64; id++)
            if (aw_memory_get(mem, id, &it) == AW_OK) aw_memory_forget(mem, id);
        while (aw_memory_count(mem)) {
            aw_memory_destroy(mem);
            mem = aw_memory_create(&(aw_memory_desc){.local = {.exact = true}});
            if (!mem) break;
        }
    }
    free(copy);
    return 0;
}
