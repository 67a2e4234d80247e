/* The LLM orchestrator: one request slot per agent waiting for an answer, driven through libcurl's
 * multi interface without ever waiting on a socket, so a plan call costs microseconds whether the
 * endpoint is fast, slow or gone. Failures answer AW_PLAN_FAILED and the agent's fallback plans. */
#include "aw/ai_llm.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITUATION_CAP 4096
#define MAX_MEMORIES  32
#define QUERY_CACHE   256 /* few-shot query embeddings kept, direct-mapped by the summary's hash */

typedef enum slot_state { SLOT_FREE = 0, SLOT_IN_FLIGHT, SLOT_DONE, SLOT_FAILED } slot_state;

typedef struct llm_slot {
    slot_state state;
    aw_entity agent;
    CURL *easy;         /* kept between requests: its connection and buffers are reused */
    uint64_t started_ns;
    aw_world_snapshot snapshot; /* the one the prompt described: targets resolve against it */
    char *body;                 /* request JSON (jansson's allocation) while in flight */
    char *response;             /* response_cap bytes, allocated once */
    size_t response_len, response_cap;
    bool overflow;
    aw_plan_intent plan;
} llm_slot;

struct aw_llm {
    const aw_allocator *allocator;
    char *endpoint, *model, *system_prompt; /* copies */
    uint32_t timeout_ms, max_inflight, max_response_bytes, max_tokens;
    float temperature;
    aw_llm_desc desc; /* the rest of the options, as given */
    pthread_mutex_t lock;
    CURLM *multi;
    struct curl_slist *headers;
    llm_slot *slots;
    aw_context *context;
    char situation[SITUATION_CAP];
    aw_context_memory memories[MAX_MEMORIES];
    aw_context_example examples[AW_FEWSHOT_MAX_K];
    uint64_t *query_keys; /* QUERY_CACHE summary hashes (0: empty) */
    float *query_cache;   /* QUERY_CACHE x AW_EMBED_DIM */
    aw_llm_stats stats;
    bool curl_global;
};

static void note_failure(aw_llm *llm, const char *fmt, ...) AW_PRINTF(2, 3);
static void note_failure(aw_llm *llm, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(llm->stats.last_failure, sizeof llm->stats.last_failure, fmt, ap);
    va_end(ap);
}

static char *dup_string(const aw_allocator *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = aw_alloc(a, n, 1);
    if (d) memcpy(d, s, n);
    return d;
}

static void free_string(const aw_allocator *a, char *s) {
    if (s) aw_free(a, s, strlen(s) + 1);
}

/* ---------------------------------------------------------------- create / destroy */

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    llm_slot *slot = user;
    size_t n = size * nmemb;
    if (slot->response_len + n > slot->response_cap) {
        slot->overflow = true;
        return 0; /* aborts the transfer: the answer is larger than any plan we accept */
    }
    memcpy(slot->response + slot->response_len, data, n);
    slot->response_len += n;
    return n;
}

void aw_llm_destroy(aw_llm *llm) {
    if (!llm) return;
    const aw_allocator *a = llm->allocator;
    if (llm->slots) {
        for (uint32_t i = 0; i < llm->max_inflight; i++) {
            llm_slot *s = &llm->slots[i];
            if (s->easy) {
                if (s->state == SLOT_IN_FLIGHT && llm->multi) curl_multi_remove_handle(llm->multi, s->easy);
                curl_easy_cleanup(s->easy);
            }
            free(s->body);
            aw_free(a, s->response, s->response_cap);
        }
        aw_free(a, llm->slots, llm->max_inflight * sizeof *llm->slots);
    }
    if (llm->multi) curl_multi_cleanup(llm->multi);
    curl_slist_free_all(llm->headers);
    if (llm->curl_global) curl_global_cleanup();
    aw_context_destroy(llm->context);
    aw_free(a, llm->query_keys, QUERY_CACHE * sizeof *llm->query_keys);
    aw_free(a, llm->query_cache, QUERY_CACHE * AW_EMBED_DIM * sizeof(float));
    free_string(a, llm->endpoint);
    free_string(a, llm->model);
    free_string(a, llm->system_prompt);
    pthread_mutex_destroy(&llm->lock);
    aw_free(a, llm, sizeof *llm);
}

static aw_status setup_http(aw_llm *llm) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return aw_error(AW_ERR_UNAVAILABLE, "aw_llm_create: libcurl did not start");
    llm->curl_global = true;
    llm->multi = curl_multi_init();
    if (!llm->multi) return aw_error(AW_ERR_UNAVAILABLE, "aw_llm_create: curl_multi_init failed");
    llm->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before the body: prompts pass 1 KiB, where libcurl asks. */
    struct curl_slist *expect = llm->headers ? curl_slist_append(llm->headers, "Expect:") : NULL;
    if (!expect) {
        curl_slist_free_all(llm->headers);
        llm->headers = NULL;
    }
    const char *env = llm->desc.api_key_env ? llm->desc.api_key_env : AW_LLM_API_KEY_ENV;
    const char *key = getenv(env);
    if (llm->headers && key && key[0]) {
        char header[1024];
        int n = snprintf(header, sizeof header, "Authorization: Bearer %s", key);
        if (n < 0 || (size_t)n >= sizeof header || strpbrk(key, "\r\n"))
            return aw_error(AW_ERR_INVALID_ARG, "aw_llm_create: the API key in %s is too long or has line breaks", env);
        struct curl_slist *h = curl_slist_append(llm->headers, header);
        memset(header, 0, sizeof header); /* the key lives on only in libcurl's list */
        if (!h) {
            curl_slist_free_all(llm->headers);
            llm->headers = NULL;
        }
    }
    if (!llm->headers) return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_llm_create: no memory for headers");
    for (uint32_t i = 0; i < llm->max_inflight; i++) {
        llm_slot *s = &llm->slots[i];
        s->easy = curl_easy_init();
        s->response = aw_alloc(llm->allocator, llm->max_response_bytes, 8);
        if (!s->easy || !s->response)
            return aw_error(AW_ERR_OUT_OF_MEMORY, "aw_llm_create: no memory for request slots");
        s->response_cap = llm->max_response_bytes;
    }
    return AW_OK;
}

aw_llm *aw_llm_create(const aw_llm_desc *desc) {
    aw_llm_desc d = desc ? *desc : (aw_llm_desc){0};
    if (d.max_inflight > 256 || (d.fewshot && !d.encoder) || !(d.fewshot_lambda >= 0 && d.fewshot_lambda <= 1) ||
        d.fewshot_k > AW_FEWSHOT_MAX_K || !(d.temperature >= 0 && d.temperature <= 2) ||
        (unsigned)d.fallback > AW_ORCHESTRATOR_KIND_COUNT) {
        aw_error(AW_ERR_INVALID_ARG, "aw_llm_create: max_inflight <= 256, fewshot needs an encoder, fewshot_lambda "
                                     "0..1, fewshot_k <= %d, temperature 0..2",
                 AW_FEWSHOT_MAX_K);
        return NULL;
    }
    const aw_allocator *a = d.allocator;
    aw_llm *llm = aw_alloc(a, sizeof *llm, 64);
    if (!llm) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_llm_create: no memory");
        return NULL;
    }
    *llm = (aw_llm){
        .allocator = a,
        .timeout_ms = d.timeout_ms ? d.timeout_ms : 5000,
        .max_inflight = d.max_inflight ? d.max_inflight : 8,
        .max_response_bytes = d.max_response_bytes ? d.max_response_bytes : 256u << 10,
        .max_tokens = d.max_tokens ? d.max_tokens : 256,
        .temperature = d.temperature,
        .desc = d,
    };
    if (llm->desc.fallback == AW_ORCHESTRATOR_RULE) llm->desc.fallback = AW_ORCHESTRATOR_GOAP;
    if (!llm->desc.fewshot_k) llm->desc.fewshot_k = 3;
    if (llm->desc.fewshot_lambda == 0) llm->desc.fewshot_lambda = 0.7f;
    pthread_mutex_init(&llm->lock, NULL);
    llm->model = dup_string(a, d.model ? d.model : "default");
    llm->system_prompt = dup_string(a, d.system_prompt ? d.system_prompt : aw_llm_default_system_prompt());
    llm->slots = aw_alloc(a, llm->max_inflight * sizeof *llm->slots, 64);
    if (llm->slots) memset(llm->slots, 0, llm->max_inflight * sizeof *llm->slots);
    bool http = d.endpoint && d.endpoint[0];
    if (http) llm->endpoint = dup_string(a, d.endpoint);
    if (!llm->model || !llm->system_prompt || !llm->slots || (http && !llm->endpoint)) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_llm_create: no memory");
        aw_llm_destroy(llm);
        return NULL;
    }
    if (d.tokenizer) {
        llm->context = aw_context_create(&(aw_context_desc){.tokenizer = d.tokenizer,
                                                            .allocator = a,
                                                            .token_budget = d.prompt_budget,
                                                            .overflow = d.overflow,
                                                            .max_examples = llm->desc.fewshot_k});
        if (!llm->context) {
            aw_llm_destroy(llm);
            return NULL;
        }
    }
    if (d.fewshot) {
        llm->query_keys = aw_alloc(a, QUERY_CACHE * sizeof *llm->query_keys, 64);
        llm->query_cache = aw_alloc(a, QUERY_CACHE * AW_EMBED_DIM * sizeof(float), 64);
        if (!llm->query_keys || !llm->query_cache) {
            aw_error(AW_ERR_OUT_OF_MEMORY, "aw_llm_create: no memory for the few-shot query cache");
            aw_llm_destroy(llm);
            return NULL;
        }
        memset(llm->query_keys, 0, QUERY_CACHE * sizeof *llm->query_keys);
    }
    if (http && setup_http(llm) != AW_OK) {
        aw_llm_destroy(llm);
        return NULL;
    }
    return llm;
}

/* ---------------------------------------------------------------- transfers */

static void release(aw_llm *llm, llm_slot *s) {
    if (s->state == SLOT_IN_FLIGHT) {
        curl_multi_remove_handle(llm->multi, s->easy);
        llm->stats.in_flight--;
    }
    free(s->body);
    s->body = NULL;
    s->state = SLOT_FREE;
    s->agent = AW_ENTITY_NULL;
}

static void finish(aw_llm *llm, llm_slot *s, CURLcode result) {
    curl_multi_remove_handle(llm->multi, s->easy);
    llm->stats.in_flight--;
    free(s->body);
    s->body = NULL;
    s->state = SLOT_FAILED;
    long code = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (result == CURLE_OPERATION_TIMEDOUT) {
        llm->stats.timeouts++;
        note_failure(llm, "timeout after %u ms", llm->timeout_ms);
    } else if (s->overflow) {
        llm->stats.invalid++;
        note_failure(llm, "answer larger than %u bytes", llm->max_response_bytes);
    } else if (result != CURLE_OK) {
        llm->stats.http_errors++;
        note_failure(llm, "transport: %s", curl_easy_strerror(result));
    } else if (code < 200 || code > 299) {
        llm->stats.http_errors++;
        note_failure(llm, "HTTP status %ld", code);
    } else if (aw_llm_parse_response(s->response, s->response_len, &s->snapshot, &s->plan) != AW_OK) {
        llm->stats.invalid++;
        note_failure(llm, "invalid plan: %s", aw_last_error());
    } else {
        s->state = SLOT_DONE;
    }
}

/* Runs transfers as far as they go without waiting, then collects finished ones and expires late
 * ones (libcurl's own timeout only fires when it is driven, which this also guarantees). */
static void pump(aw_llm *llm) {
    if (!llm->multi || llm->stats.in_flight == 0) return;
    int running = 0;
    curl_multi_perform(llm->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(llm->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        for (uint32_t i = 0; i < llm->max_inflight; i++)
            if (llm->slots[i].state == SLOT_IN_FLIGHT && llm->slots[i].easy == msg->easy_handle)
                finish(llm, &llm->slots[i], msg->data.result);
    }
    uint64_t now = aw_time_ns();
    for (uint32_t i = 0; i < llm->max_inflight; i++) {
        llm_slot *s = &llm->slots[i];
        if (s->state == SLOT_IN_FLIGHT && now - s->started_ns > (uint64_t)llm->timeout_ms * 1000000u)
            finish(llm, s, CURLE_OPERATION_TIMEDOUT);
    }
}

void aw_llm_update(aw_llm *llm) {
    if (!llm) return;
    pthread_mutex_lock(&llm->lock);
    pump(llm);
    pthread_mutex_unlock(&llm->lock);
}

/* ---------------------------------------------------------------- prompts */

/* The user message: the situation, with memories and examples when a tokenizer bounds them. */
static aw_status build_prompt(aw_llm *llm, const aw_plan_request *req, const float *query, const char **text) {
    aw_llm_describe_snapshot(req->snapshot, llm->situation, sizeof llm->situation);
    if (!llm->context) {
        *text = llm->situation;
        return AW_OK;
    }
    uint32_t nm = 0, ne = 0;
    if (llm->desc.retrieve) {
        nm = llm->desc.retrieve(llm->desc.retrieve_user, req, llm->situation, llm->memories, MAX_MEMORIES);
        if (nm > MAX_MEMORIES) nm = MAX_MEMORIES;
    }
    if (query) {
        uint32_t picked[AW_FEWSHOT_MAX_K];
        aw_status st = aw_fewshot_select(llm->desc.fewshot,
                                   &(aw_fewshot_query){.embedding = query,
                                                       .k = llm->desc.fewshot_k,
                                                       .lambda = llm->desc.fewshot_lambda},
                                   picked, &ne);
        if (st != AW_OK) return st;
        for (uint32_t i = 0; i < ne; i++) llm->examples[i] = aw_fewshot_bank_example(llm->desc.fewshot, picked[i]);
    }
    aw_context_result r;
    aw_status st = aw_context_build(llm->context,
                                    &(aw_context_input){.situation = llm->situation,
                                                        .memories = llm->memories,
                                                        .memory_count = nm,
                                                        .examples = llm->examples,
                                                        .example_count = ne},
                                    &r);
    if (st != AW_OK) return st;
    *text = r.text;
    return AW_OK;
}

/* The chat-completions request; jansson escapes the text (the prompt is valid UTF-8: the snapshot
 * text is ASCII and the context builder repairs the rest). */
static char *request_body(aw_llm *llm, const char *prompt) {
    json_t *root = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f, s:i}", "model", llm->model, "messages", "role",
                             "system", "content", llm->system_prompt, "role", "user", "content", prompt, "temperature",
                             (double)llm->temperature, "max_tokens", (json_int_t)llm->max_tokens);
    if (!root) return NULL;
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return body;
}

static aw_status start_request(aw_llm *llm, llm_slot *s, const aw_plan_request *req, const float *query) {
    const char *prompt;
    aw_status st = build_prompt(llm, req, query, &prompt);
    if (st != AW_OK) return st;
    s->body = request_body(llm, prompt);
    if (!s->body) return aw_error(AW_ERR_OUT_OF_MEMORY, "llm: cannot write the request");
    CURL *e = s->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, llm->endpoint);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, llm->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(s->body));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)llm->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)llm->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    s->response_len = 0;
    s->overflow = false;
    s->snapshot = *req->snapshot;
    s->agent = req->agent;
    s->started_ns = aw_time_ns();
    if (curl_multi_add_handle(llm->multi, e) != CURLM_OK) {
        free(s->body);
        s->body = NULL;
        return aw_error(AW_ERR_UNAVAILABLE, "llm: curl_multi_add_handle failed");
    }
    s->state = SLOT_IN_FLIGHT;
    llm->stats.in_flight++;
    llm->stats.requests++;
    return AW_OK;
}

/* ---------------------------------------------------------------- the plan call */

aw_plan_status aw_llm_plan(aw_llm *llm, const aw_plan_request *req, aw_plan_intent *out) {
    if (!llm || !req || !req->snapshot || !out) {
        aw_error(AW_ERR_INVALID_ARG, "aw_llm_plan: llm, request, snapshot and out are required");
        return AW_PLAN_FAILED;
    }
    pthread_mutex_lock(&llm->lock);
    aw_plan_status result = AW_PLAN_FAILED;
    if (!llm->endpoint) {
        llm->stats.no_endpoint++;
        note_failure(llm, "no endpoint configured");
        goto done;
    }
    pump(llm);
    llm_slot *free_slot = NULL;
    for (uint32_t i = 0; i < llm->max_inflight; i++) {
        llm_slot *s = &llm->slots[i];
        if (s->state == SLOT_FREE) {
            if (!free_slot) free_slot = s;
            continue;
        }
        if (s->agent != req->agent) continue;
        if (s->state == SLOT_IN_FLIGHT) {
            result = AW_PLAN_PENDING;
        } else if (s->state == SLOT_DONE) {
            *out = s->plan;
            out->plan_id = req->plan_id;
            out->source = AW_ORCHESTRATOR_LLM;
            out->fallback = 0;
            llm->stats.plans++;
            result = AW_PLAN_READY;
            release(llm, s);
        } else {
            release(llm, s); /* FAILED: answered once, the next call asks again */
        }
        goto done;
    }
    if (!free_slot) {
        llm->stats.busy++;
        note_failure(llm, "all %u request slots in flight", llm->max_inflight);
        goto done;
    }
    /* The few-shot query: the embedding of the banded one-line summary, from the cache when this
     * kind of situation was seen before. A miss is the slow part of a request (one embedding,
     * milliseconds); the encoder is thread-safe, so it runs outside the lock and other agents' plan
     * calls go on meanwhile. */
    float query[AW_EMBED_DIM];
    bool fewshot = llm->context && llm->desc.fewshot && aw_fewshot_bank_count(llm->desc.fewshot);
    char summary[512];
    uint64_t key = 0;
    if (fewshot) {
        aw_llm_summarize_snapshot(req->snapshot, summary, sizeof summary);
        key = aw_hash_str(summary) | 1; /* never 0, the empty mark */
    }
    if (fewshot && llm->query_keys[key % QUERY_CACHE] == key) {
        memcpy(query, llm->query_cache + (key % QUERY_CACHE) * AW_EMBED_DIM, sizeof query);
        llm->stats.query_cache_hits++;
    } else if (fewshot) {
        pthread_mutex_unlock(&llm->lock);
        aw_status est = aw_embed(llm->desc.encoder, summary, query);
        pthread_mutex_lock(&llm->lock);
        if (est == AW_OK) {
            llm->query_keys[key % QUERY_CACHE] = key;
            memcpy(llm->query_cache + (key % QUERY_CACHE) * AW_EMBED_DIM, query, sizeof query);
            llm->stats.query_embeds++;
        }
        if (est != AW_OK) {
            note_failure(llm, "request not sent: embedding: %s", aw_last_error());
            goto done;
        }
        free_slot = NULL; /* slots may have changed meanwhile */
        for (uint32_t i = 0; i < llm->max_inflight && !free_slot; i++)
            if (llm->slots[i].state == SLOT_FREE) free_slot = &llm->slots[i];
        if (!free_slot) {
            llm->stats.busy++;
            note_failure(llm, "all %u request slots in flight", llm->max_inflight);
            goto done;
        }
    }
    if (start_request(llm, free_slot, req, fewshot ? query : NULL) != AW_OK) {
        note_failure(llm, "request not sent: %s", aw_last_error());
        goto done;
    }
    pump(llm); /* starts connecting now rather than on the next call */
    result = free_slot->state == SLOT_IN_FLIGHT ? AW_PLAN_PENDING : AW_PLAN_FAILED;
    if (free_slot->state != SLOT_IN_FLIGHT) {
        /* Finished at once (refused connection): answer now, free the slot. */
        if (free_slot->state == SLOT_DONE) {
            *out = free_slot->plan;
            out->plan_id = req->plan_id;
            llm->stats.plans++;
            result = AW_PLAN_READY;
        }
        release(llm, free_slot);
    }
done:
    pthread_mutex_unlock(&llm->lock);
    return result;
}

void aw_llm_forget(aw_llm *llm, aw_entity agent) {
    if (!llm) return;
    pthread_mutex_lock(&llm->lock);
    for (uint32_t i = 0; i < llm->max_inflight; i++)
        if (llm->slots[i].state != SLOT_FREE && llm->slots[i].agent == agent) release(llm, &llm->slots[i]);
    pthread_mutex_unlock(&llm->lock);
}

aw_llm_stats aw_llm_get_stats(aw_llm *llm) {
    aw_llm_stats s = {0};
    if (!llm) return s;
    pthread_mutex_lock(&llm->lock);
    s = llm->stats;
    pthread_mutex_unlock(&llm->lock);
    return s;
}

/* ---------------------------------------------------------------- plug-in */

static aw_plan_status plugin_plan(void *ctx, const aw_plan_request *request, aw_plan_intent *out) {
    return aw_llm_plan(ctx, request, out);
}

static void plugin_forget(void *ctx, aw_entity agent) {
    aw_llm_forget(ctx, agent);
}

static void plugin_destroy(void *ctx) {
    aw_llm_destroy(ctx);
}

aw_orchestrator aw_llm_orchestrator(aw_llm *llm) {
    aw_orchestrator o = {
        .kind = AW_ORCHESTRATOR_LLM,
        .ctx = llm,
        .plan = plugin_plan,
        .forget = plugin_forget,
        .destroy = plugin_destroy,
        .fallback = llm ? llm->desc.fallback : AW_ORCHESTRATOR_GOAP,
    };
    snprintf(o.name, sizeof o.name, "llm");
    return o;
}
