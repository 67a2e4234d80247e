/* AstraWeave AI, LLM orchestrator: a prompt from the WorldSnapshot (plus retrieved memories and
 * few-shot examples, through the RAG context builder), sent without blocking to an
 * OpenAI-compatible chat-completions endpoint, and the JSON plan it answers parsed and validated
 * into a PlanIntent. No endpoint, a timeout, an HTTP error or an invalid plan: the plan call answers
 * AW_PLAN_FAILED and the agent's fallback orchestrator (GOAP by default) plans instead. */
#ifndef AW_AI_LLM_H
#define AW_AI_LLM_H

#include "aw/ai.h"
#include "aw/rag.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AW_LLM_API_KEY_ENV     "AW_LLM_API_KEY" /* default variable holding the API key */
#define AW_LLM_MAX_CONTENT     (64u << 10)      /* plan text longer than this is refused */
#define AW_LLM_MAX_DISTANCE    1000.0f          /* parameter ranges a plan must respect */
#define AW_LLM_MAX_DURATION    60.0f
#define AW_LLM_MAX_AMOUNT      1000.0f

/* ---------------------------------------------------------------- parsing and validation */

/* The assistant's answer (message content) into a plan: the first JSON object in it, inside a
 * ```json fence when there is one, prose around it ignored. The object is {"steps": [...]} (or
 * {"plan": {"steps": [...]}}); each step has "kind" (an aw_action_kind name, loosely matched) and the
 * parameters its kind reads:
 *   "target":    "E1".."E8" (enemies, nearest first), "A1".."A8" (allies), "self", "commander"
 *   "position":  [x, y, z] or [x, z], inside the snapshot's bounds
 *   "distance":  0..AW_LLM_MAX_DISTANCE   "duration": 0..AW_LLM_MAX_DURATION
 *   "amount":    0..AW_LLM_MAX_AMOUNT     "direction": -1, 1, "left" or "right"
 * Unknown fields are ignored; fields the kind does not read are left zero. Targets resolve to the
 * snapshot's entity ids. out->plan_id is left 0 and source is AW_ORCHESTRATOR_LLM.
 * AW_ERR_PARSE with a message naming the step and the field: no JSON object, truncated, invalid
 * JSON or UTF-8, no steps or more than AW_AI_MAX_STEPS, unknown kind, missing or out-of-range
 * parameter, unknown target; AW_ERR_INVALID_ARG for NULL arguments. */
aw_status aw_llm_parse_plan(const char *content, size_t size, const aw_world_snapshot *snapshot, aw_plan_intent *out);

/* A chat-completions response body (choices[0].message.content) into a plan, as above. */
aw_status aw_llm_parse_response(const char *body, size_t size, const aw_world_snapshot *snapshot,
                                aw_plan_intent *out);

/* The snapshot as the prompt's "current situation" text (deterministic; contacts named E1.., A1..
 * as targets are). Returns the length it needs (snprintf's contract: the text is cut when cap is
 * smaller, and always NUL-terminated when cap > 0). */
size_t aw_llm_describe_snapshot(const aw_world_snapshot *snapshot, char *buf, size_t cap);

/* A one-line summary in bands rather than numbers ("hp low, ammo low, has explosives. A few
 * enemies, nearest close visible in cover. An ally is downed. ..."): the few-shot query. The same
 * kind of situation gives the same text, so the orchestrator embeds it once and caches it. Same
 * contract as aw_llm_describe_snapshot. */
size_t aw_llm_summarize_snapshot(const aw_world_snapshot *snapshot, char *buf, size_t cap);

/* The built-in system prompt: the answer format and every step kind with its parameters. */
const char *aw_llm_default_system_prompt(void);

/* ---------------------------------------------------------------- the orchestrator */

/* Retrieved memories for a prompt: writes up to cap items into out and returns how many. The
 * strings must stay valid until the plan call returns. Called under the orchestrator's lock. */
typedef uint32_t (*aw_llm_retrieve_fn)(void *user, const aw_plan_request *request, const char *situation,
                                       aw_context_memory *out, uint32_t cap);

typedef struct aw_llm_desc {
    const char *endpoint;    /* chat-completions URL ("http://127.0.0.1:8080/v1/chat/completions");
                                NULL or "": no HTTP at all, every plan call answers AW_PLAN_FAILED */
    const char *model;       /* the request's "model" (NULL: "default") */
    const char *api_key_env; /* variable holding the API key (NULL: AW_LLM_API_KEY); unset or empty:
                                no Authorization header. Read once, at creation */
    uint32_t timeout_ms;     /* per request, connection included (0: 5000) */
    uint32_t max_inflight;   /* requests at once; more agents wait for the fallback (0: 8; max 256) */
    uint32_t max_response_bytes; /* larger answers are refused (0: 256 KiB) */
    uint32_t max_tokens;     /* the request's "max_tokens" (0: 256) */
    float temperature;       /* the request's "temperature" (0 is sent as 0) */
    const char *system_prompt; /* NULL: aw_llm_default_system_prompt() */
    /* Prompt context (all optional). Without a tokenizer the prompt is the situation alone. */
    const aw_tokenizer *tokenizer;  /* counts the prompt's tokens */
    uint32_t prompt_budget;         /* tokens of the user message (0: 1024) */
    aw_context_overflow overflow;   /* how memories give way */
    aw_fewshot_bank *fewshot;       /* embedded examples to pick from (needs encoder) */
    aw_encoder *encoder;            /* embeds the situation to pick examples */
    uint32_t fewshot_k;             /* examples per prompt (0: 3) */
    float fewshot_lambda;           /* MMR lambda (0: 0.7) */
    aw_llm_retrieve_fn retrieve;    /* memories for the prompt */
    void *retrieve_user;
    aw_orchestrator_kind fallback;  /* 0 (rule) is taken as goap, as aw_ai_set_orchestrator does;
                                       use aw_ai_set_fallback for rule */
    const aw_allocator *allocator;  /* NULL: the heap */
} aw_llm_desc;

typedef struct aw_llm aw_llm;

/* NULL with aw_last_error() set: AW_ERR_INVALID_ARG (bad desc), AW_ERR_UNAVAILABLE (libcurl could
 * not start), AW_ERR_OUT_OF_MEMORY. Creates libcurl's global state on first use: create
 * orchestrators before other threads use libcurl. */
aw_llm *aw_llm_create(const aw_llm_desc *desc);
/* Cancels requests in flight. NULL is ignored. */
void aw_llm_destroy(aw_llm *llm);

/* The plug-in for aw_ai_set_orchestrator: kind llm, ctx llm, fallback from the desc. Its destroy
 * destroys llm, so once installed the aw_ai owns it. */
aw_orchestrator aw_llm_orchestrator(aw_llm *llm);

/* The plan call (what the plug-in's plan does). Never blocks on the network: the first call for an
 * agent sends its request and answers AW_PLAN_PENDING; later calls answer PENDING until the reply
 * is in, then AW_PLAN_READY with the plan (out->plan_id = request->plan_id) or AW_PLAN_FAILED (no
 * endpoint, all slots busy, timeout, HTTP error, invalid plan). Thread-safe: calls are serialised
 * by a lock held for microseconds (a prompt build is ~0.1 ms). With few-shot selection, the call
 * that sends a request also needs the embedding of aw_llm_summarize_snapshot: from a cache of 256
 * when that kind of situation was seen before, else one aw_embed on the calling worker, outside the
 * lock. */
aw_plan_status aw_llm_plan(aw_llm *llm, const aw_plan_request *request, aw_plan_intent *out);

/* Moves transfers on and collects finished replies without waiting. The plan call does this too;
 * calling it once a frame keeps replies flowing when no agent polls. */
void aw_llm_update(aw_llm *llm);

/* Drops anything pending for an agent (the plug-in's forget). */
void aw_llm_forget(aw_llm *llm, aw_entity agent);

typedef struct aw_llm_stats {
    uint64_t requests;    /* requests sent */
    uint64_t plans;       /* valid plans handed out */
    uint64_t no_endpoint; /* plan calls answered FAILED because no endpoint is configured */
    uint64_t busy;        /* FAILED because every slot was in flight */
    uint64_t timeouts;
    uint64_t http_errors;  /* transport failures and non-2xx statuses */
    uint64_t invalid;      /* replies whose plan did not parse or validate */
    uint64_t query_embeds;     /* few-shot queries embedded (cache misses) */
    uint64_t query_cache_hits; /* few-shot queries found in the cache */
    uint32_t in_flight;
    char last_failure[160]; /* the last failure's reason, for logs and tests */
} aw_llm_stats;
aw_llm_stats aw_llm_get_stats(aw_llm *llm);

#ifdef __cplusplus
}
#endif

#endif /* AW_AI_LLM_H */
