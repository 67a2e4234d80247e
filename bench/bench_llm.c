/* LLM orchestrator benchmark scenarios (part of aw-bench ai), each a per-rep median of many calls:
 *   describe_snapshot_us     the snapshot as situation text (the prompt's floor)
 *   prompt_build_us          situation + 8 retrieved memories under a 1024-token budget, counted by
 *                            the model's tokenizer; baseline: describe_snapshot_us
 *   prompt_build_fewshot_us  the same plus few-shot selection: embed the banded one-line summary and
 *                            pick 3 of the committed 45-example bank by MMR (the orchestrator's
 *                            query-cache miss); baseline: prompt_build_us
 *   prompt_build_fewshot_hit_us  the same with the query embedding already known (a cache hit)
 *   fewshot_select_us        the MMR pick alone, given the embedding
 *   parse_response_us        a chat-completions body with a fenced 3-step plan into a validated
 *                            PlanIntent; baseline: jansson parsing the same body and nothing else
 * The network and the model's answer time are not measured: they are the endpoint's. */
#include "bench_llm.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/ai_llm.h"
#include "aw/rag.h"

enum { SC_DESCRIBE, SC_PROMPT, SC_PROMPT_FEWSHOT, SC_PROMPT_FEWSHOT_HIT, SC_SELECT, SC_PARSE, SC_COUNT };

static const char *const names[SC_COUNT] = {"describe_snapshot_us", "prompt_build_us", "prompt_build_fewshot_us",
                                            "prompt_build_fewshot_hit_us", "fewshot_select_us", "parse_response_us"};
static const int baseline_of[SC_COUNT] = {-1, SC_DESCRIBE, SC_PROMPT, SC_PROMPT, -1, SC_COUNT};
static const uint32_t calls_of[SC_COUNT] = {2001, 301, 41, 301, 1001, 2001};

static const char RESPONSE[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"tactician\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Enemy in cover, I am low on "
    "ammo.\\n```json\\n{\\\"steps\\\": [{\\\"kind\\\": \\\"TakeCover\\\", \\\"position\\\": [4, 0, -2]}, "
    "{\\\"kind\\\": \\\"Reload\\\"}, {\\\"kind\\\": \\\"CoverFire\\\", \\\"target\\\": \\\"E1\\\", "
    "\\\"duration\\\": 2}]}\\n```\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":812,"
    "\"completion_tokens\":61,\"total_tokens\":873}}";

static const aw_context_memory MEMORIES[8] = {
    {"The bridge to the north is mined; squads that crossed it lost two soldiers.", 0.91f, "lore"},
    {"E1 hid behind the well the last time we fought here.", 0.74f, "episodic"},
    {"Reload behind hard cover, never in the open.", 0.66f, "procedural"},
    {"The commander prefers flanking from the east side of the village.", 0.58f, "semantic"},
    {"Medkits are stored in the chapel near the square.", 0.52f, "lore"},
    {"Ally A2 is a medic and carries two medkits.", 0.47f, "semantic"},
    {"Enemy snipers use the bell tower when it is free.", 0.41f, "episodic"},
    {"At night the enemy patrols in pairs along the river.", 0.33f, "lore"},
};

static aw_world_snapshot bench_snapshot(void) {
    aw_world_snapshot s = {0};
    s.time = 73.25;
    s.self = (aw_ai_self){.id = 100, .position = {1, 0, 2}, .hp = 45, .max_hp = 100, .morale = 0.7f, .ammo = 4,
                          .max_ammo = 30, .reserve_ammo = 60, .explosives = 1, .medkits = 1};
    for (uint32_t i = 0; i < 4; i++)
        s.enemies[i] = (aw_ai_contact){.id = 200 + i, .position = {10.0f + 3 * (float)i, 0, 5}, .hp = 80,
                                       .distance = 9.5f + 3 * (float)i, .last_seen = 73.25f, .visible = i < 2,
                                       .in_cover = i % 2 == 0};
    s.enemy_count = 4;
    for (uint32_t i = 0; i < 3; i++)
        s.allies[i] = (aw_ai_contact){.id = 300 + i, .position = {2, 0, 3.0f + (float)i}, .hp = 60, .distance = 2 + (float)i,
                                      .last_seen = 73.25f, .visible = true};
    s.ally_count = 3;
    s.commander = (aw_ai_commander){.id = 400, .order = AW_ORDER_ADVANCE, .order_position = {30, 0, 10}};
    s.objective = (aw_ai_objective){.kind = AW_OBJECTIVE_HOLD, .position = {0, 0, 20}, .radius = 8};
    s.pois[0] = (aw_ai_poi){.kind = AW_POI_COVER, .position = {4, 0, -2}};
    s.poi_count = 1;
    s.bounds = (aw_aabb){{-50, -10, -50}, {50, 10, 50}};
    return s;
}

typedef struct llm_bench {
    aw_bench_options opt;
    aw_world_snapshot snap;
    aw_encoder *enc;
    aw_context *ctx;
    aw_fewshot_bank *bank;
    char situation[4096];
    float embedding[AW_EMBED_DIM];
    double *samples[SC_COUNT];
    double *calls; /* one rep's per-call times */
    bool ok[SC_COUNT];
} llm_bench;

/* One call of a scenario; returns false when it failed. */
static bool call(llm_bench *b, int sc) {
    switch (sc) {
    case SC_DESCRIBE:
        return aw_llm_describe_snapshot(&b->snap, b->situation, sizeof b->situation) > 0;
    case SC_PROMPT:
    case SC_PROMPT_FEWSHOT:
    case SC_PROMPT_FEWSHOT_HIT: {
        aw_llm_describe_snapshot(&b->snap, b->situation, sizeof b->situation);
        aw_context_example ex[3];
        uint32_t picked[3], n = 0;
        if (sc != SC_PROMPT) {
            char summary[512];
            aw_llm_summarize_snapshot(&b->snap, summary, sizeof summary);
            if (sc == SC_PROMPT_FEWSHOT && aw_embed(b->enc, summary, b->embedding) != AW_OK) return false;
            if (aw_fewshot_select(b->bank, &(aw_fewshot_query){.embedding = b->embedding, .k = 3, .lambda = 0.7f},
                                  picked, &n) != AW_OK)
                return false;
            for (uint32_t i = 0; i < n; i++) ex[i] = aw_fewshot_bank_example(b->bank, picked[i]);
        }
        aw_context_result r;
        return aw_context_build(b->ctx,
                                &(aw_context_input){.situation = b->situation,
                                                    .memories = MEMORIES,
                                                    .memory_count = 8,
                                                    .examples = ex,
                                                    .example_count = n},
                                &r) == AW_OK;
    }
    case SC_SELECT: {
        uint32_t picked[3], n;
        return aw_fewshot_select(b->bank, &(aw_fewshot_query){.embedding = b->embedding, .k = 3, .lambda = 0.7f},
                                 picked, &n) == AW_OK;
    }
    case SC_PARSE: {
        aw_plan_intent p;
        return aw_llm_parse_response(RESPONSE, sizeof RESPONSE - 1, &b->snap, &p) == AW_OK && p.step_count == 3;
    }
    default: { /* SC_COUNT: the parse baseline, jansson alone */
        json_t *root = json_loadb(RESPONSE, sizeof RESPONSE - 1, 0, NULL);
        json_decref(root);
        return root != NULL;
    }
    }
}

/* Per rep: the median of `calls` timed calls, after a warm-up. */
static bool measure(llm_bench *b, int sc, double *out) {
    uint32_t calls = calls_of[sc < SC_COUNT ? sc : SC_PARSE];
    for (uint32_t i = 0; i < 5; i++)
        if (!call(b, sc)) return false;
    for (uint32_t r = 0; r < b->opt.reps; r++) {
        for (uint32_t i = 0; i < calls; i++) {
            uint64_t t0 = aw_time_ns();
            call(b, sc);
            b->calls[i] = (double)(aw_time_ns() - t0) / 1e3;
        }
        out[r] = aw_bench_median(b->calls, calls);
    }
    return true;
}

aw_status aw_bench_ai_llm_run(const aw_bench_options *options, aw_bench_report *report) {
    if (!report) return aw_error(AW_ERR_INVALID_ARG, "bench: report is required");
    llm_bench *b = calloc(1, sizeof *b);
    if (!b) return aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory");
    b->opt = aw_bench_options_resolve(options);
    b->snap = bench_snapshot();
    aw_status result = AW_OK;
    double *parse_base = calloc(b->opt.reps, sizeof(double));
    b->calls = calloc(2001, sizeof(double));
    for (int i = 0; i < SC_COUNT; i++) b->samples[i] = calloc(b->opt.reps, sizeof(double));
    for (int i = 0; i < SC_COUNT; i++)
        if (!b->samples[i] || !b->calls || !parse_base) result = aw_error(AW_ERR_OUT_OF_MEMORY, "bench: no memory");
    bool need_model = false;
    for (int i = SC_PROMPT; i <= SC_SELECT; i++) need_model = need_model || aw_bench_selected(&b->opt, names[i]);
    if (result == AW_OK && need_model) {
        char path[1024];
        const char *here = __FILE__, *slash = strrchr(here, '/');
        snprintf(path, sizeof path, "%.*s/../data/ai/llm_fewshot.jsonl", slash ? (int)(slash - here) : 1, slash ? here : ".");
        b->enc = aw_encoder_create(&(aw_encoder_desc){0});
        if (b->enc) {
            b->ctx = aw_context_create(&(aw_context_desc){.tokenizer = aw_encoder_tokenizer(b->enc), .token_budget = 1024});
            b->bank = aw_fewshot_bank_create(NULL);
            if (!b->ctx || !b->bank || aw_fewshot_bank_load(b->bank, path) != AW_OK ||
                aw_fewshot_bank_embed(b->bank, b->enc) != AW_OK) {
                aw_encoder_destroy(b->enc);
                b->enc = NULL;
            } else {
                char summary[512];
                aw_llm_summarize_snapshot(&b->snap, summary, sizeof summary);
                aw_embed(b->enc, summary, b->embedding);
                uint32_t summary_tokens = 0;
                aw_tokenizer_count(aw_encoder_tokenizer(b->enc), NULL, summary, strlen(summary), &summary_tokens);
                fprintf(stderr, "ai: llm few-shot query (%u tokens): %s\n", summary_tokens, summary);
                aw_llm_describe_snapshot(&b->snap, b->situation, sizeof b->situation);
                uint32_t tokens = 0;
                aw_context_result r;
                aw_context_build(b->ctx, &(aw_context_input){.situation = b->situation, .memories = MEMORIES, .memory_count = 8}, &r);
                aw_tokenizer_count(aw_encoder_tokenizer(b->enc), NULL, b->situation, strlen(b->situation), &tokens);
                fprintf(stderr, "ai: llm situation %zu bytes / %u tokens; prompt with 8 memories %u tokens; bank %u examples\n",
                        strlen(b->situation), tokens, r.tokens, aw_fewshot_bank_count(b->bank));
            }
        }
        if (!b->enc) fprintf(stderr, "aw-bench: ai: LLM prompt scenarios skipped, they need the model: %s\n", aw_last_error());
    }
    for (int i = 0; i < SC_COUNT && result == AW_OK; i++) {
        if (!aw_bench_selected(&b->opt, names[i])) continue;
        bool needs_model = i >= SC_PROMPT && i <= SC_SELECT;
        if (needs_model && !b->enc) continue;
        if (!measure(b, i, b->samples[i]) ||
            (i == SC_PARSE && !measure(b, SC_COUNT, parse_base))) {
            fprintf(stderr, "aw-bench: ai/%s failed: %s\n", names[i], aw_last_error());
            aw_bench_report_fail(report);
            continue;
        }
        b->ok[i] = true;
    }
    for (int i = 0; i < SC_COUNT && result == AW_OK; i++) {
        if (!b->ok[i]) continue;
        int base = baseline_of[i];
        const double *bs = base == SC_COUNT ? parse_base : base >= 0 && b->ok[base] ? b->samples[base] : NULL;
        aw_bench_entry entry = {.suite = "ai",
                                .name = names[i],
                                .unit = "us",
                                .samples = b->samples[i],
                                .sample_count = b->opt.reps,
                                .baseline_samples = bs,
                                .baseline_count = bs ? b->opt.reps : 0};
        result = aw_bench_report_add(report, &entry);
    }
    aw_context_destroy(b->ctx);
    aw_fewshot_bank_destroy(b->bank);
    aw_encoder_destroy(b->enc);
    for (int i = 0; i < SC_COUNT; i++) free(b->samples[i]);
    free(b->calls);
    free(parse_base);
    free(b);
    return result;
}
