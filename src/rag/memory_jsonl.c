/* JSON-lines input for semantic memory: documents to import and labelled queries to evaluate
 * (recall@k, MRR, nDCG@10), as aw-rag index and aw-rag eval read them. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "memory_internal.h"

#define IMPORT_BATCH 256
#define EVAL_K       10

/* ---------------------------------------------------------------- metrics */

void aw_rag_eval_add(aw_rag_eval_result *acc, const uint64_t *ranked, uint32_t n, const uint64_t *relevant,
                     uint32_t relevant_count) {
    if (!acc) return;
    acc->queries++;
    if (!relevant_count || (n && !ranked) || !relevant) return; /* nothing to find: scores 0 */
    if (n > EVAL_K) n = EVAL_K;
    uint32_t hits_at[EVAL_K + 1] = {0}; /* relevant ids among the first i */
    double dcg = 0, idcg = 0;
    int first = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool rel = false;
        for (uint32_t j = 0; j < relevant_count && !rel; j++) rel = ranked[i] == relevant[j];
        /* A ranked id listed twice counts once. */
        for (uint32_t p = 0; p < i && rel; p++) rel = ranked[p] != ranked[i];
        hits_at[i + 1] = hits_at[i] + rel;
        if (rel) {
            dcg += 1.0 / log2((double)i + 2.0);
            if (!first) first = (int)i + 1;
        }
    }
    for (uint32_t i = n; i < EVAL_K; i++) hits_at[i + 1] = hits_at[i];
    for (uint32_t i = 0; i < EVAL_K && i < relevant_count; i++) idcg += 1.0 / log2((double)i + 2.0);
    acc->recall_at_1 += (double)hits_at[1] / relevant_count;
    acc->recall_at_5 += (double)hits_at[5] / relevant_count;
    acc->recall_at_10 += (double)hits_at[10] / relevant_count;
    acc->mrr += first ? 1.0 / first : 0.0;
    acc->ndcg_at_10 += dcg / idcg;
}

void aw_rag_eval_finish(aw_rag_eval_result *acc) {
    if (!acc || acc->queries == 0) return;
    double q = acc->queries;
    acc->recall_at_1 /= q;
    acc->recall_at_5 /= q;
    acc->recall_at_10 /= q;
    acc->mrr /= q;
    acc->ndcg_at_10 /= q;
}

/* ---------------------------------------------------------------- reading lines */

typedef struct line_reader {
    FILE *f;
    char *line;
    size_t cap;
    uint32_t number;
} line_reader;

/* The next non-blank line parsed as a JSON object: 1, 0 at the end, -1 on error (recorded). */
static int next_object(line_reader *r, const char *path, json_t **out) {
    *out = NULL;
    for (;;) {
        ssize_t got = getline(&r->line, &r->cap, r->f);
        if (got < 0) return ferror(r->f) ? (aw_error(AW_ERR_IO, "%s: read error", path), -1) : 0;
        r->number++;
        size_t i = 0;
        while (r->line[i] == ' ' || r->line[i] == '\t' || r->line[i] == '\r' || r->line[i] == '\n') i++;
        if (!r->line[i]) continue;
        json_error_t jerr;
        json_t *o = json_loadb(r->line, (size_t)got, 0, &jerr);
        if (!json_is_object(o)) {
            json_decref(o);
            aw_error(AW_ERR_PARSE, "%s:%u: not a JSON object (%s)", path, r->number, o ? "another value" : jerr.text);
            return -1;
        }
        *out = o;
        return 1;
    }
}

static bool json_id(json_t *v, uint64_t *id) {
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *id = (uint64_t)json_integer_value(v);
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- import */

typedef struct pending_docs {
    aw_memory_item items[IMPORT_BATCH];
    json_t *objects[IMPORT_BATCH]; /* own the texts until the batch is added */
    uint32_t n;
} pending_docs;

static aw_status flush_docs(aw_memory *m, pending_docs *p, uint32_t *added) {
    aw_status st = p->n ? aw_memory_add(m, p->items, p->n) : AW_OK;
    if (st == AW_OK) *added += p->n;
    for (uint32_t i = 0; i < p->n; i++) json_decref(p->objects[i]);
    p->n = 0;
    return st;
}

static aw_status parse_doc(json_t *o, const char *path, uint32_t line, aw_memory_item *it) {
    *it = (aw_memory_item){.kind = AW_MEMORY_LORE, .importance = 0.5f};
    if (!json_id(json_object_get(o, "id"), &it->id))
        return aw_error(AW_ERR_PARSE, "%s:%u: \"id\" must be a positive integer", path, line);
    it->text = json_string_value(json_object_get(o, "text"));
    if (!it->text) return aw_error(AW_ERR_PARSE, "%s:%u: \"text\" must be a string", path, line);
    json_t *kind = json_object_get(o, "kind"), *agent = json_object_get(o, "agent");
    json_t *imp = json_object_get(o, "importance"), *time = json_object_get(o, "time");
    if (kind && (!json_is_string(kind) || aw_memory_kind_parse(json_string_value(kind), &it->kind) != AW_OK))
        return aw_error(AW_ERR_PARSE, "%s:%u: \"kind\" must be episodic, semantic, procedural, lore or example", path,
                        line);
    if (agent && !json_is_null(agent)) {
        if (!json_is_integer(agent) || json_integer_value(agent) < 0)
            return aw_error(AW_ERR_PARSE, "%s:%u: \"agent\" must be an integer >= 0", path, line);
        it->agent = (uint64_t)json_integer_value(agent);
    }
    if (imp) {
        double v = json_number_value(imp);
        if (!json_is_number(imp) || !(v >= 0 && v <= 1))
            return aw_error(AW_ERR_PARSE, "%s:%u: \"importance\" must be a number in 0..1", path, line);
        it->importance = (float)v;
    }
    if (time) {
        if (!json_is_number(time) || !isfinite(json_number_value(time)))
            return aw_error(AW_ERR_PARSE, "%s:%u: \"time\" must be a number", path, line);
        it->time = json_number_value(time);
    }
    return AW_OK;
}

aw_status aw_memory_import_jsonl(aw_memory *m, const char *path, uint32_t *added) {
    uint32_t dummy = 0;
    if (!added) added = &dummy;
    *added = 0;
    if (!m || !path) return aw_error(AW_ERR_INVALID_ARG, "memory: import needs a memory and a path");
    line_reader r = {.f = fopen(path, "r")};
    if (!r.f) return aw_error(AW_ERR_IO, "cannot open %s", path);
    pending_docs *p = aw_alloc(m->allocator, sizeof *p, 64);
    if (!p) {
        fclose(r.f);
        return aw_error(AW_ERR_OUT_OF_MEMORY, "memory: no memory");
    }
    p->n = 0;
    aw_status st = AW_OK;
    json_t *o;
    int got;
    while (st == AW_OK && (got = next_object(&r, path, &o)) != 0) {
        if (got < 0) {
            st = aw_last_status();
            break;
        }
        st = parse_doc(o, path, r.number, &p->items[p->n]);
        if (st != AW_OK) {
            json_decref(o);
            break;
        }
        p->objects[p->n++] = o;
        if (p->n == IMPORT_BATCH) st = flush_docs(m, p, added);
    }
    if (st == AW_OK) st = flush_docs(m, p, added);
    for (uint32_t i = 0; i < p->n; i++) json_decref(p->objects[i]);
    aw_free(m->allocator, p, sizeof *p);
    free(r.line);
    fclose(r.f);
    return st;
}

/* ---------------------------------------------------------------- evaluation */

aw_status aw_memory_eval_jsonl(aw_memory *m, const char *path, const aw_memory_query *base, aw_rag_eval_result *out) {
    if (!m || !path || !out) return aw_error(AW_ERR_INVALID_ARG, "memory: eval needs a memory, a path and a result");
    *out = (aw_rag_eval_result){0};
    line_reader r = {.f = fopen(path, "r")};
    if (!r.f) return aw_error(AW_ERR_IO, "cannot open %s", path);
    aw_memory_query q = base ? *base : (aw_memory_query){.ranker = AW_RANKER_SIMILARITY};
    aw_status st = AW_OK;
    json_t *o;
    int got;
    while (st == AW_OK && (got = next_object(&r, path, &o)) != 0) {
        if (got < 0) {
            st = aw_last_status();
            break;
        }
        const char *text = json_string_value(json_object_get(o, "query"));
        json_t *rel = json_object_get(o, "relevant");
        uint64_t relevant[256];
        uint32_t nrel = 0;
        if (!text) st = aw_error(AW_ERR_PARSE, "%s:%u: \"query\" must be a string", path, r.number);
        else if (!json_is_array(rel) || json_array_size(rel) == 0 || json_array_size(rel) > 256)
            st = aw_error(AW_ERR_PARSE, "%s:%u: \"relevant\" must be an array of 1..256 ids", path, r.number);
        for (size_t i = 0; st == AW_OK && i < json_array_size(rel); i++)
            if (!json_id(json_array_get(rel, i), &relevant[nrel++]))
                st = aw_error(AW_ERR_PARSE, "%s:%u: relevant ids must be positive integers", path, r.number);
        if (st == AW_OK) {
            aw_memory_hit hits[EVAL_K];
            uint64_t ranked[EVAL_K];
            uint32_t found = 0;
            q.text = text;
            q.embedding = NULL;
            q.k = EVAL_K;
            st = aw_memory_retrieve(m, &q, hits, EVAL_K, &found);
            for (uint32_t i = 0; i < found; i++) ranked[i] = hits[i].id;
            if (st == AW_OK) aw_rag_eval_add(out, ranked, found, relevant, nrel);
        }
        json_decref(o);
    }
    free(r.line);
    fclose(r.f);
    if (st == AW_OK && out->queries == 0) st = aw_error(AW_ERR_PARSE, "%s: no queries", path);
    if (st == AW_OK) aw_rag_eval_finish(out);
    return st;
}
