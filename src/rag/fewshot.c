/* Few-shot example bank for LLM prompts: (situation -> plan JSON) pairs loaded from JSONL, embedded
 * with the sentence encoder, and picked by maximal marginal relevance (similar to the query, unlike
 * each other) over the most similar candidates, without allocating. */
#include "rag_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct fewshot_example {
    char *situation; /* valid UTF-8, NUL-terminated */
    char *plan;      /* compact JSON */
    size_t situation_size, plan_size;
    bool embedded;
} fewshot_example;

struct aw_fewshot_bank {
    const aw_allocator *allocator;
    fewshot_example *examples;
    float *embeddings; /* count x AW_EMBED_DIM, row i is example i's */
    size_t capacity;   /* examples (and embedding rows) allocated */
    uint32_t count;
};

aw_fewshot_bank *aw_fewshot_bank_create(const aw_fewshot_desc *desc) {
    const aw_allocator *a = desc ? desc->allocator : NULL;
    aw_fewshot_bank *bank = aw_alloc(a, sizeof *bank, 64);
    if (!bank) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "aw_fewshot_bank_create: no memory");
        return NULL;
    }
    *bank = (aw_fewshot_bank){.allocator = a};
    return bank;
}

static void free_example(const aw_allocator *a, fewshot_example *e) {
    aw_free(a, e->situation, e->situation_size);
    aw_free(a, e->plan, e->plan_size);
}

void aw_fewshot_bank_destroy(aw_fewshot_bank *bank) {
    if (!bank) return;
    const aw_allocator *a = bank->allocator;
    for (uint32_t i = 0; i < bank->count; i++) free_example(a, &bank->examples[i]);
    aw_free(a, bank->examples, bank->capacity * sizeof *bank->examples);
    aw_free(a, bank->embeddings, bank->capacity * AW_EMBED_DIM * sizeof(float));
    aw_free(a, bank, sizeof *bank);
}

uint32_t aw_fewshot_bank_count(const aw_fewshot_bank *bank) {
    return bank ? bank->count : 0;
}

aw_context_example aw_fewshot_bank_example(const aw_fewshot_bank *bank, uint32_t i) {
    if (!bank || i >= bank->count) return (aw_context_example){0};
    return (aw_context_example){bank->examples[i].situation, bank->examples[i].plan};
}

/* Room for `need` examples; examples and embeddings grow together so row i always exists. New arrays
 * first, old ones freed only when both exist, so a failure leaves the bank as it was. */
static aw_status reserve(aw_fewshot_bank *bank, size_t need) {
    if (need <= bank->capacity) return AW_OK;
    if (need > UINT32_MAX) return aw_error(AW_ERR_CAPACITY, "few-shot bank: more than 2^32 examples");
    size_t n = bank->capacity ? bank->capacity * 2 : 16;
    while (n < need) n *= 2;
    const aw_allocator *a = bank->allocator;
    size_t row = AW_EMBED_DIM * sizeof(float);
    fewshot_example *ex = aw_alloc(a, n * sizeof *ex, 64);
    float *em = ex ? aw_alloc(a, n * row, 64) : NULL;
    if (!em) {
        aw_free(a, ex, n * sizeof *ex);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "few-shot bank: no memory for %zu examples", n);
    }
    if (bank->count) {
        memcpy(ex, bank->examples, bank->count * sizeof *ex);
        memcpy(em, bank->embeddings, bank->count * row);
    }
    aw_free(a, bank->examples, bank->capacity * sizeof *ex);
    aw_free(a, bank->embeddings, bank->capacity * row);
    bank->examples = ex;
    bank->embeddings = em;
    bank->capacity = n;
    return AW_OK;
}

static char *copy_text(const aw_allocator *a, const char *text, size_t len, size_t *size) {
    char *s = aw_alloc(a, len + 1, 1);
    if (!s) return NULL;
    memcpy(s, text, len);
    s[len] = '\0';
    *size = len + 1;
    return s;
}

/* Checks a plan and writes it compact; *why says what is wrong (NULL when it is fine). */
static char *plan_to_text(const json_t *plan, const char **why) {
    *why = NULL;
    if (!json_is_object(plan)) {
        *why = "must be a JSON object";
        return NULL;
    }
    const json_t *steps = json_object_get(plan, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0) {
        *why = "needs a non-empty \"steps\" array";
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *step = json_array_get(steps, i);
        if (!json_is_object(step) || !json_is_string(json_object_get(step, "kind"))) {
            *why = "each step must be an object with a string \"kind\"";
            return NULL;
        }
    }
    char *text = json_dumps(plan, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) *why = "cannot be written back (out of memory)";
    return text;
}

/* Adds an example whose situation is valid UTF-8 and whose plan was checked. */
static aw_status add_checked(aw_fewshot_bank *bank, const char *situation, size_t situation_len,
                             const char *plan, size_t plan_len) {
    aw_status st = reserve(bank, (size_t)bank->count + 1);
    if (st != AW_OK) return st;
    fewshot_example e = {0};
    e.situation = copy_text(bank->allocator, situation, situation_len, &e.situation_size);
    e.plan = e.situation ? copy_text(bank->allocator, plan, plan_len, &e.plan_size) : NULL;
    if (!e.plan) {
        free_example(bank->allocator, &e);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "few-shot bank: no memory for an example");
    }
    bank->examples[bank->count++] = e;
    return AW_OK;
}

aw_status aw_fewshot_bank_add(aw_fewshot_bank *bank, const char *situation, const char *plan_json) {
    if (!bank || !situation || !plan_json)
        return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_bank_add: bank, situation and plan are required");
    size_t len = strlen(situation);
    if (len == 0 || rag_utf8_valid_prefix(situation, len) != len)
        return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_bank_add: the situation must be non-empty UTF-8");
    json_error_t jerr;
    json_t *plan = json_loads(plan_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!plan) return aw_error(AW_ERR_PARSE, "aw_fewshot_bank_add: plan: %s", jerr.text);
    const char *why;
    char *text = plan_to_text(plan, &why);
    json_decref(plan);
    if (!text) return aw_error(AW_ERR_PARSE, "aw_fewshot_bank_add: plan %s", why);
    aw_status st = add_checked(bank, situation, len, text, strlen(text));
    free(text); /* jansson's own allocation */
    return st;
}

/* One JSONL line into the bank; errors name `name:line` and the field. */
static aw_status parse_line(aw_fewshot_bank *bank, const char *line, size_t len, const char *name,
                            uint32_t lineno) {
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return aw_error(AW_ERR_PARSE, "%s:%u: invalid JSON: %s", name, lineno, jerr.text);
    aw_status st = AW_OK;
    const char *why = NULL;
    json_t *situation = json_object_get(root, "situation");
    json_t *plan = json_object_get(root, "plan");
    if (!json_is_object(root)) {
        st = aw_error(AW_ERR_PARSE, "%s:%u: a line must be a JSON object", name, lineno);
    } else if (!json_is_string(situation) || json_string_length(situation) == 0) {
        st = aw_error(AW_ERR_PARSE, "%s:%u: field 'situation': %s", name, lineno,
                      situation ? "must be a non-empty string" : "missing");
    } else if (strlen(json_string_value(situation)) != json_string_length(situation)) {
        st = aw_error(AW_ERR_PARSE, "%s:%u: field 'situation': contains a NUL character", name, lineno);
    } else if (!plan) {
        st = aw_error(AW_ERR_PARSE, "%s:%u: field 'plan': missing", name, lineno);
    } else {
        char *text = plan_to_text(plan, &why);
        if (!text) {
            st = aw_error(AW_ERR_PARSE, "%s:%u: field 'plan': %s", name, lineno, why);
        } else {
            st = add_checked(bank, json_string_value(situation), json_string_length(situation), text,
                             strlen(text));
            free(text);
        }
    }
    json_decref(root);
    return st;
}

aw_status aw_fewshot_bank_parse(aw_fewshot_bank *bank, const char *data, size_t size, const char *name) {
    if (!bank || (!data && size)) return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_bank_parse: bank and data are required");
    if (!name) name = "few-shot bank";
    uint32_t before = bank->count, lineno = 0;
    aw_status st = AW_OK;
    size_t i = 0;
    while (i < size && st == AW_OK) {
        const char *nl = memchr(data + i, '\n', size - i);
        size_t end = nl ? (size_t)(nl - data) : size;
        lineno++;
        size_t b = i, e = end;
        while (b < e && (data[b] == ' ' || data[b] == '\t' || data[b] == '\r')) b++;
        while (e > b && (data[e - 1] == ' ' || data[e - 1] == '\t' || data[e - 1] == '\r')) e--;
        if (b < e && data[b] != '#') st = parse_line(bank, data + b, e - b, name, lineno);
        i = end + 1;
    }
    if (st == AW_OK && bank->count == before)
        st = aw_error(AW_ERR_PARSE, "%s: no examples (expected JSONL lines {\"situation\": ..., \"plan\": ...})",
                      name);
    if (st != AW_OK) { /* all or nothing */
        while (bank->count > before) free_example(bank->allocator, &bank->examples[--bank->count]);
    }
    return st;
}

aw_status aw_fewshot_bank_load(aw_fewshot_bank *bank, const char *path) {
    if (!bank || !path) return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_bank_load: bank and path are required");
    char *data;
    size_t size;
    aw_status st = rag_read_file(bank->allocator, path, "a few-shot bank is a JSONL file", &data, &size);
    if (st != AW_OK) return st;
    st = aw_fewshot_bank_parse(bank, data, size, path);
    rag_free_file(bank->allocator, data, size);
    return st;
}

aw_status aw_fewshot_bank_set_embedding(aw_fewshot_bank *bank, uint32_t i, const float *embedding) {
    if (!bank || !embedding || i >= bank->count)
        return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_bank_set_embedding: no example %u", i);
    double n2 = 0;
    for (uint32_t d = 0; d < AW_EMBED_DIM; d++) n2 += (double)embedding[d] * embedding[d];
    if (!(n2 > 0) || !isfinite(n2))
        return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_bank_set_embedding: the vector is zero or not finite");
    float inv = (float)(1.0 / sqrt(n2));
    float *row = bank->embeddings + (size_t)i * AW_EMBED_DIM;
    for (uint32_t d = 0; d < AW_EMBED_DIM; d++) row[d] = embedding[d] * inv;
    bank->examples[i].embedded = true;
    return AW_OK;
}

aw_status aw_fewshot_bank_embed(aw_fewshot_bank *bank, aw_encoder *encoder) {
    if (!bank || !encoder) return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_bank_embed: bank and encoder are required");
    /* Batches of up to 64 situations keep the text pointer array on the stack. */
    const char *texts[64];
    uint32_t rows[64];
    uint32_t i = 0;
    while (i < bank->count) {
        uint32_t n = 0;
        for (; i < bank->count && n < 64; i++) {
            if (bank->examples[i].embedded) continue;
            texts[n] = bank->examples[i].situation;
            rows[n++] = i;
        }
        if (n == 0) break;
        /* Rows are embedded in place when contiguous (the usual case: a freshly loaded bank). */
        bool contiguous = rows[n - 1] - rows[0] == n - 1;
        if (contiguous) {
            aw_status st = aw_embed_batch(encoder, texts, n, bank->embeddings + (size_t)rows[0] * AW_EMBED_DIM);
            if (st != AW_OK) return st;
        } else {
            for (uint32_t j = 0; j < n; j++) {
                aw_status st = aw_embed(encoder, texts[j], bank->embeddings + (size_t)rows[j] * AW_EMBED_DIM);
                if (st != AW_OK) return st;
            }
        }
        for (uint32_t j = 0; j < n; j++) bank->examples[rows[j]].embedded = true;
    }
    return AW_OK;
}

/* ---------------------------------------------------------------- selection */

/* Eight running sums in a fixed order: the compiler vectorises them (one sum would be a serial
 * chain of 512 adds, since float addition may not be reordered), and the result is the same on
 * every run and thread. */
static float dot(const float *a, const float *b) {
    float acc[8] = {0};
    for (uint32_t d = 0; d < AW_EMBED_DIM; d += 8)
        for (uint32_t j = 0; j < 8; j++) acc[j] += a[d + j] * b[d + j];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* Whether candidate (sim a, index ia) ranks before (sim b, index ib): higher first, then lower index. */
static bool ranks_before(float a, uint32_t ia, float b, uint32_t ib) {
    return a > b || (a == b && ia < ib);
}

aw_status aw_fewshot_select(const aw_fewshot_bank *bank, const aw_fewshot_query *query, uint32_t *picked,
                            uint32_t *count) {
    if (!bank || !query || !query->embedding || !picked || !count)
        return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_select: bank, query, embedding, picked and count are required");
    float lambda = query->lambda;
    if (!(lambda >= 0.0f && lambda <= 1.0f))
        return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_select: lambda %g is outside 0..1", (double)lambda);
    uint32_t k = query->k ? query->k : 3;
    uint32_t cand_cap = query->candidates ? query->candidates : 64;
    if (k > AW_FEWSHOT_MAX_K || cand_cap > AW_FEWSHOT_MAX_CANDIDATES)
        return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_select: k %u (max %d) or candidates %u (max %d) too large",
                        k, AW_FEWSHOT_MAX_K, cand_cap, AW_FEWSHOT_MAX_CANDIDATES);
    for (uint32_t i = 0; i < bank->count; i++)
        if (!bank->examples[i].embedded)
            return aw_error(AW_ERR_INVALID_ARG, "aw_fewshot_select: example %u has no embedding (aw_fewshot_bank_embed)", i);
    *count = 0;

    /* The most similar candidates, kept sorted by insertion (cand_cap is small). */
    uint32_t cand[AW_FEWSHOT_MAX_CANDIDATES];
    float cand_sim[AW_FEWSHOT_MAX_CANDIDATES];
    uint32_t nc = 0;
    for (uint32_t i = 0; i < bank->count; i++) {
        float s = dot(query->embedding, bank->embeddings + (size_t)i * AW_EMBED_DIM);
        if (s != s) s = -INFINITY; /* a NaN query ranks nothing first, but stays deterministic */
        if (nc == cand_cap && !ranks_before(s, i, cand_sim[nc - 1], cand[nc - 1])) continue;
        uint32_t j = nc < cand_cap ? nc++ : nc - 1;
        while (j > 0 && ranks_before(s, i, cand_sim[j - 1], cand[j - 1])) {
            cand[j] = cand[j - 1];
            cand_sim[j] = cand_sim[j - 1];
            j--;
        }
        cand[j] = i;
        cand_sim[j] = s;
    }

    /* Greedy MMR: max_sim[c] is c's highest similarity to anything picked so far. */
    float max_sim[AW_FEWSHOT_MAX_CANDIDATES];
    bool taken[AW_FEWSHOT_MAX_CANDIDATES] = {false};
    for (uint32_t c = 0; c < nc; c++) max_sim[c] = -INFINITY;
    uint32_t want = k < nc ? k : nc;
    for (uint32_t t = 0; t < want; t++) {
        int best = -1;
        float best_score = 0;
        for (uint32_t c = 0; c < nc; c++) {
            if (taken[c]) continue;
            float score = t == 0 ? cand_sim[c] : lambda * cand_sim[c] - (1.0f - lambda) * max_sim[c];
            if (best < 0 || ranks_before(score, cand[c], best_score, cand[best])) {
                best = (int)c;
                best_score = score;
            }
        }
        taken[best] = true;
        picked[t] = cand[best];
        const float *row = bank->embeddings + (size_t)cand[best] * AW_EMBED_DIM;
        for (uint32_t c = 0; c < nc; c++) {
            if (taken[c]) continue;
            float s = dot(row, bank->embeddings + (size_t)cand[c] * AW_EMBED_DIM);
            if (s > max_sim[c]) max_sim[c] = s;
        }
    }
    *count = want;
    return AW_OK;
}
