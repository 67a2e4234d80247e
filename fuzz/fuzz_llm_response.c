/* libFuzzer target: the LLM answer parser (src/ai/llm_parse.c). Input bytes are a chat-completions
 * response body; an input that starts with 0x01 is instead the message content itself (fences,
 * prose, JSON). Either way the result is a validated plan or AW_ERR_PARSE, never anything else. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/ai_llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aw_world_snapshot snapshot(void) {
    aw_world_snapshot s = {0};
    s.self.id = 100;
    s.enemies[0] = (aw_ai_contact){.id = 201, .position = {10, 0, 5}, .hp = 80};
    s.enemies[1] = (aw_ai_contact){.id = 202, .hp = 0, .downed = true};
    s.enemy_count = 2;
    s.allies[0] = (aw_ai_contact){.id = 301, .downed = true};
    s.ally_count = 1;
    s.commander.id = 400;
    s.bounds = (aw_aabb){{-50, -10, -50}, {50, 10, 50}};
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static aw_world_snapshot snap;
    if (!snap.self.id) snap = snapshot();
    /* An exact-size copy, so a read past the end is caught. */
    char *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    aw_plan_intent plan;
    aw_status st = size && data[0] == 0x01 ? aw_llm_parse_plan(copy + 1, size - 1, &snap, &plan)
                                           : aw_llm_parse_response(copy, size, &snap, &plan);
    free(copy);
    if (st != AW_OK && st != AW_ERR_PARSE) abort();
    if (st == AW_OK) {
        if (plan.step_count < 1 || plan.step_count > AW_AI_MAX_STEPS) abort();
        for (uint32_t i = 0; i < plan.step_count; i++)
            if (plan.steps[i].kind <= AW_ACTION_NONE || plan.steps[i].kind >= AW_ACTION_KIND_COUNT) abort();
    } else if (plan.step_count != 0) {
        abort();
    }
    return 0;
}
