/* The Chroma backend: the store interface over Chroma's REST API v2 (libcurl for HTTP, jansson for
 * the answers). One curl handle per call, so queries from several threads need no lock. */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/rag.h"

#define CHROMA_BATCH       256 /* records per upsert request: keeps bodies near 1.5 MiB */
#define CHROMA_DEFAULT_TMO 5000

typedef struct chroma {
    const aw_allocator *allocator;
    char base[1024]; /* .../api/v2/tenants/T/databases/D/collections/ID */
    char url[512];   /* server root, for messages */
    uint32_t dim;
    long timeout_ms;
} chroma;

/* ---------------------------------------------------------------- a growable text buffer */

typedef struct buf {
    const aw_allocator *a;
    char *p;
    size_t len, cap;
    bool failed;
} buf;

static void buf_reserve(buf *b, size_t more) {
    if (b->failed || b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) cap *= 2;
    char *p = aw_realloc(b->a, b->p, b->cap, cap, 1);
    if (!p) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void buf_put(buf *b, const char *s, size_t n) {
    buf_reserve(b, n);
    if (b->failed) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_printf(buf *b, const char *fmt, ...) AW_PRINTF(2, 3);
static void buf_printf(buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    buf_put(b, tmp, (size_t)n);
}

/* A double as JSON that readers keep as a float even when it is integral (Chroma types metadata
 * by how the number is written). */
static void real_str(char *out, size_t cap, double v) {
    int n = snprintf(out, cap, "%.17g", v);
    if (n > 0 && (size_t)n + 2 < cap && !strpbrk(out, ".eEn")) strcat(out, ".0");
}

static void buf_real(buf *b, double v) {
    char tmp[40];
    real_str(tmp, sizeof tmp, v);
    buf_put(b, tmp, strlen(tmp));
}

static void buf_vector(buf *b, const float *v, uint32_t dim) {
    buf_put(b, "[", 1);
    for (uint32_t d = 0; d < dim; d++) buf_printf(b, d ? ",%.9g" : "%.9g", (double)v[d]);
    buf_put(b, "]", 1);
}

static void buf_free(buf *b) {
    if (b->p) aw_free(b->a, b->p, b->cap);
    *b = (buf){.a = b->a};
}

/* ---------------------------------------------------------------- HTTP */

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    buf *b = user;
    buf_put(b, data, size * nmemb);
    return b->failed ? 0 : size * nmemb;
}

/* One request; the parsed JSON answer into *out (may be NULL to drop it). */
static aw_status chroma_call(chroma *c, const char *method, const char *suffix, const buf *body, json_t **out) {
    if (out) *out = NULL;
    if (body && body->failed) return aw_error(AW_ERR_OUT_OF_MEMORY, "chroma: no memory for the request");
    char url[1200];
    if ((size_t)snprintf(url, sizeof url, "%s%s", c->base, suffix) >= sizeof url)
        return aw_error(AW_ERR_INVALID_ARG, "chroma: URL too long");
    CURL *h = curl_easy_init();
    if (!h) return aw_error(AW_ERR_OUT_OF_MEMORY, "chroma: curl_easy_init failed");
    buf answer = {.a = c->allocator};
    char curl_msg[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->p ? body->p : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    }
    CURLcode rc = curl_easy_perform(h);
    long http = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);

    aw_status st = AW_OK;
    if (rc != CURLE_OK) {
        const char *why = curl_msg[0] ? curl_msg : curl_easy_strerror(rc);
        st = rc == CURLE_OPERATION_TIMEDOUT
                 ? aw_error(AW_ERR_TIMEOUT, "chroma: %s %s: no answer within %ld ms (%s)", method, c->url,
                            c->timeout_ms, why)
                 : aw_error(AW_ERR_UNAVAILABLE, "chroma: cannot reach %s: %s", c->url, why);
    } else if (answer.failed) {
        st = aw_error(AW_ERR_OUT_OF_MEMORY, "chroma: no memory for the answer");
    } else {
        json_error_t jerr;
        json_t *root = answer.p ? json_loadb(answer.p, answer.len, JSON_DECODE_ANY, &jerr) : NULL;
        if (http < 200 || http >= 300) {
            const char *msg = json_string_value(json_object_get(root, "message"));
            const char *err = json_string_value(json_object_get(root, "error"));
            aw_status code = http >= 500 ? AW_ERR_UNAVAILABLE : http == 404 ? AW_ERR_NOT_FOUND : AW_ERR_INVALID_ARG;
            st = aw_error(code, "chroma: %s %s answered HTTP %ld: %s%s%.300s", method, suffix[0] ? suffix : "/",
                          http, err ? err : "", err ? ": " : "",
                          msg ? msg : answer.p ? answer.p : "(empty)");
            json_decref(root);
        } else if (!root && out) {
            st = aw_error(AW_ERR_PARSE, "chroma: %s %s: the answer is not JSON (%s)", method, suffix, jerr.text);
        } else if (out) {
            *out = root;
        } else {
            json_decref(root);
        }
    }
    buf_free(&answer);
    return st;
}

/* ---------------------------------------------------------------- operations */

static aw_status chroma_upsert(void *self, const uint64_t *ids, const float *vectors, const aw_store_meta *meta,
                               uint32_t n) {
    chroma *c = self;
    buf b = {.a = c->allocator};
    aw_status st = AW_OK;
    for (uint32_t at = 0; at < n && st == AW_OK; at += CHROMA_BATCH) {
        uint32_t m = n - at < CHROMA_BATCH ? n - at : CHROMA_BATCH;
        b.len = 0;
        buf_put(&b, "{\"ids\":[", 8);
        for (uint32_t i = 0; i < m; i++) buf_printf(&b, i ? ",\"%" PRIu64 "\"" : "\"%" PRIu64 "\"", ids[at + i]);
        buf_put(&b, "],\"embeddings\":[", 16);
        for (uint32_t i = 0; i < m; i++) {
            if (i) buf_put(&b, ",", 1);
            buf_vector(&b, vectors + (size_t)(at + i) * c->dim, c->dim);
        }
        buf_put(&b, "],\"metadatas\":[", 15);
        for (uint32_t i = 0; i < m; i++) {
            const aw_store_meta *x = &meta[at + i];
            buf_printf(&b, "%s{\"kind\":%u,\"agent\":%" PRIu64 ",\"time\":", i ? "," : "", x->kind, x->agent);
            buf_real(&b, x->time);
            buf_put(&b, ",\"importance\":", 14);
            buf_real(&b, x->importance);
            buf_put(&b, "}", 1);
        }
        buf_put(&b, "]}", 2);
        st = chroma_call(c, "POST", "/upsert", &b, NULL);
    }
    buf_free(&b);
    return st;
}

static aw_status chroma_remove(void *self, const uint64_t *ids, uint32_t n) {
    chroma *c = self;
    buf b = {.a = c->allocator};
    aw_status st = AW_OK;
    for (uint32_t at = 0; at < n && st == AW_OK; at += 4096) {
        uint32_t m = n - at < 4096 ? n - at : 4096;
        b.len = 0;
        buf_put(&b, "{\"ids\":[", 8);
        for (uint32_t i = 0; i < m; i++) buf_printf(&b, i ? ",\"%" PRIu64 "\"" : "\"%" PRIu64 "\"", ids[at + i]);
        buf_put(&b, "]}", 2);
        st = chroma_call(c, "POST", "/delete", &b, NULL);
    }
    buf_free(&b);
    return st;
}

/* The filter as a Chroma `where` clause; nothing when the filter passes everything. */
static void put_where(buf *b, const aw_store_filter *f) {
    if (!f) return;
    char conds[4][160];
    int n = 0;
    if (f->kinds) {
        uint32_t mask = f->kinds & ((1u << AW_MEMORY_KIND_COUNT) - 1);
        if (mask && !(mask & (mask - 1))) {
            snprintf(conds[n++], sizeof conds[0], "{\"kind\":%d}", __builtin_ctz(mask));
        } else {
            int o = snprintf(conds[n], sizeof conds[0], "{\"kind\":{\"$in\":[");
            bool first = true;
            for (int k = 0; k < 32; k++)
                if (f->kinds & (1u << k)) {
                    o += snprintf(conds[n] + o, sizeof conds[0] - (size_t)o, first ? "%d" : ",%d", k);
                    first = false;
                }
            snprintf(conds[n] + o, sizeof conds[0] - (size_t)o, "]}}");
            n++;
        }
    }
    if (f->by_agent) snprintf(conds[n++], sizeof conds[0], "{\"agent\":%" PRIu64 "}", f->agent);
    if (f->by_time) {
        char lo[40], hi[40];
        real_str(lo, sizeof lo, f->time_min);
        real_str(hi, sizeof hi, f->time_max);
        snprintf(conds[n++], sizeof conds[0], "{\"time\":{\"$gte\":%s}}", lo);
        snprintf(conds[n++], sizeof conds[0], "{\"time\":{\"$lte\":%s}}", hi);
    }
    if (n == 0) return;
    buf_put(b, ",\"where\":", 9);
    if (n == 1) {
        buf_put(b, conds[0], strlen(conds[0]));
        return;
    }
    buf_put(b, "{\"$and\":[", 9);
    for (int i = 0; i < n; i++) {
        if (i) buf_put(b, ",", 1);
        buf_put(b, conds[i], strlen(conds[i]));
    }
    buf_put(b, "]}", 2);
}

static aw_status chroma_query(void *self, const float *vector, uint32_t k, const aw_store_filter *filter,
                              aw_store_hit *hits, uint32_t *found) {
    chroma *c = self;
    buf b = {.a = c->allocator};
    buf_put(&b, "{\"query_embeddings\":[", 21);
    buf_vector(&b, vector, c->dim);
    buf_printf(&b, "],\"n_results\":%u,\"include\":[\"distances\"]", k);
    put_where(&b, filter);
    buf_put(&b, "}", 1);
    json_t *root = NULL;
    aw_status st = chroma_call(c, "POST", "/query", &b, &root);
    buf_free(&b);
    if (st != AW_OK) return st;
    json_t *ids = json_array_get(json_object_get(root, "ids"), 0);
    json_t *dist = json_array_get(json_object_get(root, "distances"), 0);
    if (!json_is_array(ids) || !json_is_array(dist) || json_array_size(ids) != json_array_size(dist)) {
        json_decref(root);
        return aw_error(AW_ERR_PARSE, "chroma: query answer lacks ids or distances");
    }
    uint32_t n = 0;
    for (size_t i = 0; i < json_array_size(ids) && n < k; i++) {
        const char *s = json_string_value(json_array_get(ids, i));
        json_t *d = json_array_get(dist, i);
        char *end = NULL;
        unsigned long long id = s ? strtoull(s, &end, 10) : 0;
        if (!s || !*s || *end || id == 0 || !json_is_number(d)) continue; /* not one of ours */
        hits[n++] = (aw_store_hit){.id = id, .similarity = (float)(1.0 - json_number_value(d))};
    }
    *found = n;
    json_decref(root);
    return AW_OK;
}

static aw_status chroma_count(void *self, uint64_t *count) {
    chroma *c = self;
    json_t *root = NULL;
    aw_status st = chroma_call(c, "GET", "/count", NULL, &root);
    if (st != AW_OK) return st;
    if (!json_is_integer(root) || json_integer_value(root) < 0) {
        json_decref(root);
        return aw_error(AW_ERR_PARSE, "chroma: count answer is not a number");
    }
    *count = (uint64_t)json_integer_value(root);
    json_decref(root);
    return AW_OK;
}

static void chroma_close(void *self) {
    chroma *c = self;
    aw_free(c->allocator, c, sizeof *c);
}

static const aw_store_backend chroma_backend = {
    .name = "chroma",
    .upsert = chroma_upsert,
    .remove = chroma_remove,
    .query = chroma_query,
    .count = chroma_count,
    .close = chroma_close,
};

/* ---------------------------------------------------------------- opening */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_start(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool plain_name(const char *s, size_t lo, size_t hi) {
    size_t n = s ? strlen(s) : 0;
    if (n < lo || n > hi) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && ((i == 0 || i == n - 1) || (ch != '.' && ch != '_' && ch != '-'))) return false;
    }
    return true;
}

aw_store *aw_store_open_chroma(const aw_store_chroma_desc *desc) {
    if (!desc || !desc->url || strncmp(desc->url, "http", 4) != 0 || strlen(desc->url) >= 400) {
        aw_error(AW_ERR_INVALID_ARG, "chroma: url must be an http:// or https:// address under 400 bytes");
        return NULL;
    }
    const char *tenant = desc->tenant ? desc->tenant : "default_tenant";
    const char *database = desc->database ? desc->database : "default_database";
    if (!plain_name(desc->collection, 3, 512) || !plain_name(tenant, 1, 128) || !plain_name(database, 1, 128)) {
        aw_error(AW_ERR_INVALID_ARG,
                 "chroma: collection (3-512), tenant and database names are [a-zA-Z0-9._-], starting and "
                 "ending with a letter or digit");
        return NULL;
    }
    pthread_once(&curl_once, curl_start);
    chroma *c = aw_alloc(desc->allocator, sizeof *c, _Alignof(chroma));
    if (!c) {
        aw_error(AW_ERR_OUT_OF_MEMORY, "chroma: no memory");
        return NULL;
    }
    *c = (chroma){.allocator = desc->allocator,
                  .dim = desc->dim ? desc->dim : AW_EMBED_DIM,
                  .timeout_ms = desc->timeout_ms ? (long)desc->timeout_ms : CHROMA_DEFAULT_TMO};
    size_t ul = strlen(desc->url);
    while (ul && desc->url[ul - 1] == '/') ul--;
    snprintf(c->url, sizeof c->url, "%.*s", (int)ul, desc->url);
    snprintf(c->base, sizeof c->base, "%s/api/v2/tenants/%s/databases/%s/collections", c->url, tenant, database);

    buf b = {.a = desc->allocator};
    static const char rest[] = "\",\"get_or_create\":true,\"configuration\":{\"hnsw\":{\"space\":\"cosine\"}}}";
    buf_put(&b, "{\"name\":\"", 9);
    buf_put(&b, desc->collection, strlen(desc->collection)); /* checked: nothing to escape */
    buf_put(&b, rest, sizeof rest - 1);
    json_t *root = NULL;
    aw_status st = chroma_call(c, "POST", "", &b, &root);
    buf_free(&b);
    const char *id = st == AW_OK ? json_string_value(json_object_get(root, "id")) : NULL;
    const char *space = json_string_value(
        json_object_get(json_object_get(json_object_get(root, "configuration_json"), "hnsw"), "space"));
    json_t *dim = json_object_get(root, "dimension");
    if (st == AW_OK && (!id || !plain_name(id, 1, 64))) {
        st = aw_error(AW_ERR_PARSE, "chroma: the collection answer has no id");
    } else if (st == AW_OK && space && strcmp(space, "cosine") != 0) {
        st = aw_error(AW_ERR_INVALID_ARG, "chroma: collection '%s' exists with space '%s', not cosine",
                      desc->collection, space);
    } else if (st == AW_OK && json_is_integer(dim) && json_integer_value(dim) != (json_int_t)c->dim) {
        st = aw_error(AW_ERR_INVALID_ARG, "chroma: collection '%s' holds %lld-d vectors, not %u-d", desc->collection,
                      (long long)json_integer_value(dim), c->dim);
    }
    if (st == AW_OK) {
        size_t n = strlen(c->base);
        snprintf(c->base + n, sizeof c->base - n, "/%s", id);
    }
    json_decref(root);
    aw_store *s = st == AW_OK ? aw_store_create(&chroma_backend, c, c->dim, desc->allocator) : NULL;
    if (!s) chroma_close(c);
    return s;
}
