/* TF.js weight manifest (model.json's weightsManifest): the list of tensors, their dtypes and shapes,
 * and the shard files whose concatenated bytes hold them in that order. Everything here is checked
 * before a byte of weights is touched: this parser is fed fuzzed input. */
#include "rag_internal.h"

#include <jansson.h>
#include <stdalign.h>
#include <string.h>

#define MAX_TENSORS 4096
#define MAX_SHARDS  1024
#define MAX_DIM     ((uint64_t)1 << 31)
#define MAX_BYTES   ((uint64_t)1 << 40)

static aw_status fail(rag_manifest *m, aw_status st) {
    rag_manifest_free(m);
    return st;
}

static bool plain_file_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return false;
    return strchr(s, '/') == NULL;
}

static aw_status parse_tensor(json_t *w, uint32_t index, rag_tensor *t, size_t *offset) {
    json_t *name = json_object_get(w, "name"), *shape = json_object_get(w, "shape"),
           *dtype = json_object_get(w, "dtype");
    if (!json_is_object(w) || !json_is_string(name) || !json_is_array(shape) || !json_is_string(dtype))
        return aw_error(AW_ERR_PARSE, "model.json: weight entry %u lacks a name, shape or dtype", index);
    t->name = json_string_value(name);
    if (!t->name[0]) return aw_error(AW_ERR_PARSE, "model.json: weight entry %u has an empty name", index);
    if (json_object_get(w, "quantization"))
        return aw_error(AW_ERR_UNSUPPORTED,
                        "model.json: tensor %s is quantized; only float32/int32 weights are read", t->name);
    const char *dt = json_string_value(dtype);
    size_t elem;
    if (strcmp(dt, "float32") == 0) {
        t->dtype = RAG_F32;
        elem = 4;
    } else if (strcmp(dt, "int32") == 0) {
        t->dtype = RAG_I32;
        elem = 4;
    } else if (strcmp(dt, "bool") == 0) {
        t->dtype = RAG_BOOL;
        elem = 1;
    } else {
        return aw_error(AW_ERR_PARSE,
                        "model.json: tensor %s has dtype '%s' (float32, int32 or bool expected)", t->name,
                        dt);
    }
    size_t rank = json_array_size(shape);
    if (rank > RAG_MAX_RANK)
        return aw_error(AW_ERR_PARSE, "model.json: tensor %s has rank %zu (at most %d)", t->name, rank,
                        RAG_MAX_RANK);
    t->rank = (uint32_t)rank;
    uint64_t count = 1;
    for (size_t i = 0; i < rank; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 || (uint64_t)json_integer_value(d) > MAX_DIM)
            return aw_error(AW_ERR_PARSE,
                            "model.json: tensor %s: dimension %zu is not an integer in [0, 2^31]", t->name,
                            i);
        t->shape[i] = (uint64_t)json_integer_value(d);
        count *= t->shape[i];
        if (count > MAX_BYTES)
            return aw_error(AW_ERR_PARSE, "model.json: tensor %s is larger than 1 TiB", t->name);
    }
    t->bytes = (size_t)(count * elem);
    t->offset = *offset;
    if ((uint64_t)*offset + t->bytes > MAX_BYTES)
        return aw_error(AW_ERR_PARSE, "model.json: the tensors add up to more than 1 TiB");
    *offset += t->bytes;
    return AW_OK;
}

aw_status rag_manifest_parse(rag_manifest *m, const aw_allocator *a, const char *json, size_t size) {
    *m = (rag_manifest){.allocator = a};
    json_error_t jerr;
    json_t *root = json_loadb(json, size, 0, &jerr);
    if (!root)
        return aw_error(AW_ERR_PARSE, "model.json: invalid JSON at line %d column %d: %s", jerr.line,
                        jerr.column, jerr.text);
    m->json = root;
    json_t *groups = json_object_get(root, "weightsManifest");
    if (!json_is_object(root) || !json_is_object(json_object_get(root, "modelTopology")) ||
        !json_is_array(groups))
        return fail(m, aw_error(AW_ERR_PARSE, "model.json: not a TF.js graph model (modelTopology and "
                                              "weightsManifest expected)"));
    size_t tensors = 0, paths = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *group = json_array_get(groups, g);
        json_t *p = json_object_get(group, "paths"), *w = json_object_get(group, "weights");
        if (!json_is_object(group) || !json_is_array(p) || !json_is_array(w))
            return fail(m,
                        aw_error(AW_ERR_PARSE, "model.json: weightsManifest[%zu] lacks paths or weights", g));
        tensors += json_array_size(w);
        paths += json_array_size(p);
    }
    if (tensors == 0 || tensors > MAX_TENSORS || paths == 0 || paths > MAX_SHARDS)
        return fail(m,
                    aw_error(AW_ERR_PARSE, "model.json: %zu tensors in %zu shards (1..%d and 1..%d expected)",
                             tensors, paths, MAX_TENSORS, MAX_SHARDS));
    m->tensors = aw_alloc(a, tensors * sizeof *m->tensors, alignof(rag_tensor));
    m->paths = aw_alloc(a, paths * sizeof *m->paths, alignof(const char *));
    if (!m->tensors || !m->paths) {
        aw_free(a, m->tensors, tensors * sizeof *m->tensors);
        aw_free(a, m->paths, paths * sizeof *m->paths);
        m->tensors = NULL;
        m->paths = NULL;
        return fail(m, AW_ERR_OUT_OF_MEMORY);
    }
    m->count = (uint32_t)tensors;
    m->path_count = (uint32_t)paths;

    aw_map names;
    aw_map_init(&names, a);
    size_t offset = 0;
    uint32_t ti = 0, pi = 0;
    aw_status st = AW_OK;
    for (size_t g = 0; g < json_array_size(groups) && st == AW_OK; g++) {
        json_t *group = json_array_get(groups, g);
        json_t *p = json_object_get(group, "paths"), *w = json_object_get(group, "weights");
        for (size_t i = 0; i < json_array_size(p); i++) {
            json_t *path = json_array_get(p, i);
            if (!json_is_string(path) || !plain_file_name(json_string_value(path))) {
                st = aw_error(AW_ERR_PARSE, "model.json: shard path %u is not a plain file name", pi);
                break;
            }
            m->paths[pi++] = json_string_value(path);
        }
        for (size_t i = 0; i < json_array_size(w) && st == AW_OK; i++, ti++) {
            rag_tensor *t = &m->tensors[ti];
            st = parse_tensor(json_array_get(w, i), ti, t, &offset);
            if (st != AW_OK) break;
            /* Names must be unique: the encoder finds tensors by name. */
            uint64_t key = aw_hash_str(t->name) | 1, other;
            if (aw_map_get(&names, key, &other)) {
                if (strcmp(m->tensors[other].name, t->name) == 0)
                    st = aw_error(AW_ERR_PARSE, "model.json: tensor %s appears twice", t->name);
            } else if (aw_map_set(&names, key, ti) != AW_OK) {
                st = AW_ERR_OUT_OF_MEMORY;
            }
        }
    }
    aw_map_destroy(&names);
    if (st != AW_OK) return fail(m, st);
    m->total_bytes = offset;
    return AW_OK;
}

void rag_manifest_free(rag_manifest *m) {
    if (!m) return;
    aw_free(m->allocator, m->tensors, (size_t)m->count * sizeof *m->tensors);
    aw_free(m->allocator, m->paths, (size_t)m->path_count * sizeof *m->paths);
    if (m->json) json_decref((json_t *)m->json);
    *m = (rag_manifest){.allocator = m->allocator};
}
