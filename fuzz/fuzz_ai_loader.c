/* libFuzzer target: the AI data loader (src/ai/loader.c): agent types, GOAP domains, utility sets,
 * behavior trees and rule sets from arbitrary bytes. Every input must either load or fail with
 * AW_ERR_PARSE and a message naming the file; a loaded library must hold only in-range indices. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ai_library *lib;
    if (!lib && !(lib = malloc(sizeof *lib))) return 0;
    memset(lib, 0, sizeof *lib);
    /* Half the time on top of the built-in defaults, so references by name resolve. */
    if (size && (data[0] & 1u))
        for (const char *const *part = ai_default_json; *part; part++)
            if (ai_library_load(lib, *part, strlen(*part), "defaults") != AW_OK) abort();
    aw_status st = ai_library_load(lib, (const char *)data, size, "fuzz.json");
    if (st != AW_OK) {
        if (st != AW_ERR_PARSE || !strstr(aw_last_error(), "fuzz.json")) abort();
        return 0;
    }
    for (uint32_t i = 0; i < lib->type_count; i++) {
        const aw_agent_type *t = &lib->types[i];
        if ((unsigned)t->orchestrator >= AW_ORCHESTRATOR_KIND_COUNT) abort();
        if (t->domain < 0 || t->utility < 0 || t->tree < 0 || t->rules < 0) abort();
        if ((uint32_t)t->domain >= AI_MAX_DOMAINS || (uint32_t)t->tree >= AI_MAX_TREES) abort();
    }
    for (uint32_t i = 0; i < lib->tree_count; i++) {
        const ai_bt *tree = &lib->trees[i];
        for (uint32_t n = 0; n < tree->node_count; n++)
            for (uint32_t c = 0; c < tree->nodes[n].child_count; c++)
                if (tree->nodes[n].children[c] >= tree->node_count || tree->nodes[n].children[c] <= n) abort();
    }
    for (uint32_t i = 0; i < lib->domain_count; i++)
        if (lib->domains[i].action_count > AI_MAX_GOAP_ACTIONS || lib->domains[i].goal_count > AI_MAX_GOALS) abort();
    return 0;
}
