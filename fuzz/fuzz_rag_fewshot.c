/* libFuzzer target: the few-shot bank's JSONL parser (src/rag/fewshot.c). Input bytes are a bank
 * file; it loads all or nothing, and a loaded bank's examples read back intact. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/rag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aw_fewshot_bank *bank = aw_fewshot_bank_create(NULL);
    if (!bank) return 0;
    char *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    aw_status st = aw_fewshot_bank_parse(bank, copy, size, "fuzz.jsonl");
    free(copy);
    if (st != AW_OK && st != AW_ERR_PARSE) abort();
    uint32_t n = aw_fewshot_bank_count(bank);
    if (st != AW_OK && n != 0) abort();
    for (uint32_t i = 0; i < n; i++) {
        aw_context_example e = aw_fewshot_bank_example(bank, i);
        if (!e.situation || !e.plan || !e.situation[0] || e.plan[0] != '{') abort();
    }
    aw_fewshot_bank_destroy(bank);
    return 0;
}
