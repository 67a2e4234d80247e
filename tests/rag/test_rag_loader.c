/* The model loader on bad input: each case builds a model directory of links to the real files with
 * one file replaced (truncated, padded, corrupted, or model.json edited) and checks that creation
 * fails with the right status and a message that names the file or tensor and, where the model is
 * missing, how to fetch it. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "aw/rag.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rag_test_util.h"

static const char *const files[] = {"model.json",       "vocab.json",       "group1-shard1of7",
                                    "group1-shard2of7", "group1-shard3of7", "group1-shard4of7",
                                    "group1-shard5of7", "group1-shard6of7", "group1-shard7of7"};
#define FILE_COUNT (sizeof files / sizeof files[0])

static char tmp[512];

static char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(*size + 1);
    assert_int_equal(fread(data, 1, *size, f), *size);
    data[*size] = '\0';
    fclose(f);
    return data;
}

static void write_all(const char *path, const void *data, size_t size) {
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* A fresh directory whose files all link to the real model. */
static void fresh_dir(void) {
    const char *model = rag_test_model_dir();
    if (tmp[0]) {
        for (size_t i = 0; i < FILE_COUNT; i++) {
            char p[700];
            snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
            unlink(p);
        }
        rmdir(tmp);
    }
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/aw-rag-loader-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmp));
    for (size_t i = 0; i < FILE_COUNT; i++) {
        char from[1100], to[700];
        snprintf(from, sizeof from, "%s/%s", model, files[i]);
        snprintf(to, sizeof to, "%s/%s", tmp, files[i]);
        assert_int_equal(symlink(from, to), 0);
    }
}

static int teardown(void **state) {
    (void)state;
    if (tmp[0]) {
        for (size_t i = 0; i < FILE_COUNT; i++) {
            char p[700];
            snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
            unlink(p);
        }
        rmdir(tmp);
        tmp[0] = '\0';
    }
    return 0;
}

/* Replaces `name` in the temp directory by a copy of the real file changed by `edit`. */
static void replace_file(const char *name, void (*edit)(char **data, size_t *size, const void *arg),
                         const void *arg) {
    char from[1100], to[700];
    snprintf(from, sizeof from, "%s/%s", rag_test_model_dir(), name);
    snprintf(to, sizeof to, "%s/%s", tmp, name);
    size_t size;
    char *data = read_all(from, &size);
    edit(&data, &size, arg);
    write_all(to, data, size);
    free(data);
}

static void remove_file(const char *name) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    assert_int_equal(unlink(p), 0);
}

/* Creation must fail with `status` and a message holding every given phrase. */
static void expect_failure(aw_status status, const char *phrase1, const char *phrase2) {
    aw_encoder *e = aw_encoder_create(&(aw_encoder_desc){.model_dir = tmp});
    if (e) fail_msg("the encoder loaded a broken model (expected: %s)", phrase1);
    const char *msg = aw_last_error();
    if (aw_last_status() != status)
        fail_msg("status %s, expected %s: %s", aw_status_str(aw_last_status()), aw_status_str(status), msg);
    if (phrase1 && !strstr(msg, phrase1)) fail_msg("message lacks \"%s\": %s", phrase1, msg);
    if (phrase2 && !strstr(msg, phrase2)) fail_msg("message lacks \"%s\": %s", phrase2, msg);
    print_message("  %s: %s\n", aw_status_str(status), msg);
}

/* ---------------------------------------------------------------- edits */

typedef struct text_edit {
    const char *anchor; /* found after "weightsManifest" */
    const char *from;   /* first occurrence after the anchor */
    const char *to;
} text_edit;

static void edit_text(char **data, size_t *size, const void *arg) {
    const text_edit *e = arg;
    char *manifest = strstr(*data, "\"weightsManifest\"");
    assert_non_null(manifest);
    char *at = strstr(manifest, e->anchor);
    assert_non_null(at);
    char *hit = strstr(at, e->from);
    assert_non_null(hit);
    size_t head = (size_t)(hit - *data), from = strlen(e->from), to = strlen(e->to);
    char *out = malloc(*size - from + to + 1);
    memcpy(out, *data, head);
    memcpy(out + head, e->to, to);
    memcpy(out + head + to, hit + from, *size - head - from + 1);
    free(*data);
    *data = out;
    *size = *size - from + to;
}

static void truncate_by(char **data, size_t *size, const void *arg) {
    (void)data;
    *size -= *(const size_t *)arg;
}

static void append_bytes(char **data, size_t *size, const void *arg) {
    size_t extra = *(const size_t *)arg;
    *data = realloc(*data, *size + extra);
    memset(*data + *size, 0, extra);
    *size += extra;
}

static void poison_at(char **data, size_t *size, const void *arg) {
    size_t at = *(const size_t *)arg;
    assert_true(at + 4 <= *size);
    memset(*data + at, 0xFF, 4); /* a NaN */
}

/* ---------------------------------------------------------------- cases */

static void test_missing_files(void **state) {
    (void)state;
    fresh_dir();
    aw_encoder *e = aw_encoder_create(&(aw_encoder_desc){.model_dir = tmp});
    if (!e) fail_msg("the linked copy of the model does not load: %s", aw_last_error());
    aw_encoder_destroy(e);

    assert_null(aw_encoder_create(&(aw_encoder_desc){.model_dir = "/nonexistent/aw-model"}));
    assert_int_equal(aw_last_status(), AW_ERR_NOT_FOUND);
    assert_non_null(strstr(aw_last_error(), "rag-setup.sh"));

    remove_file("model.json");
    expect_failure(AW_ERR_NOT_FOUND, "model.json", "rag-setup.sh");
    fresh_dir();
    remove_file("group1-shard3of7");
    expect_failure(AW_ERR_NOT_FOUND, "group1-shard3of7", "rag-setup.sh");
    fresh_dir();
    remove_file("vocab.json");
    expect_failure(AW_ERR_NOT_FOUND, "vocab.json", "rag-setup.sh");
}

static void test_truncated_and_padded_shards(void **state) {
    (void)state;
    size_t cut = 1000, extra = 4;
    fresh_dir();
    replace_file("group1-shard7of7", truncate_by, &cut);
    expect_failure(AW_ERR_PARSE, "group1-shard7of7", "truncated");
    fresh_dir();
    replace_file("group1-shard2of7", truncate_by, &cut); /* a middle shard: named by its odd size */
    expect_failure(AW_ERR_PARSE, "group1-shard2of7", "truncated");
    fresh_dir();
    replace_file("group1-shard7of7", append_bytes, &extra);
    expect_failure(AW_ERR_PARSE, "more than", NULL);
}

static void test_corrupted_values(void **state) {
    (void)state;
    size_t at = 2u << 20; /* blob byte 10 MiB: layer 1's attention output kernel */
    fresh_dir();
    replace_file("group1-shard3of7", poison_at, &at);
    expect_failure(AW_ERR_PARSE, "non-finite",
                   "Layer_1/TransformerLayer/MultiheadAttention/output_transform_single");
}

static void test_manifest_edits(void **state) {
    (void)state;
    static const text_edit wrong_dtype = {"\"module/Embeddings_en\"", "\"float32\"", "\"int32\""};
    static const text_edit wrong_shape = {"\"module/Embeddings_en\"", "8002,\n            256",
                                          "256,\n            8002"};
    static const text_edit wrong_name = {"tanh_layer_0/bias\"", "tanh_layer_0/bias\"", "tanh_layer_0/biaz\""};
    static const text_edit quantized = {"\"module/Embeddings_en\"", "\"dtype\"",
                                        "\"quantization\": {\"dtype\": \"uint8\"}, \"dtype\""};
    static const text_edit bad_dtype = {"\"module/Embeddings_en\"", "\"float32\"", "\"complex64\""};
    static const text_edit traversal = {"\"paths\"", "\"group1-shard1of7\"", "\"../group1-shard1of7\""};
    static const text_edit bigger = {"\"module/Embeddings_en\"", "8002", "8003"};
    static const text_edit negative = {"\"module/Embeddings_en\"", "8002", "-8002"};
    static const text_edit duplicate = {"\"module/Encoder_en/hidden_layers/tanh_layer_0/bias\"",
                                        "\"module/Encoder_en/hidden_layers/tanh_layer_0/bias\"",
                                        "\"module/Encoder_en/hidden_layers/tanh_layer_0/weights\""};
    static const text_edit renamed = {"\"weightsManifest\"", "\"weightsManifest\"", "\"weightsManifesto\""};

    fresh_dir();
    replace_file("model.json", edit_text, &wrong_dtype);
    expect_failure(AW_ERR_PARSE, "module/Embeddings_en is int32", "expected float32");
    fresh_dir();
    replace_file("model.json", edit_text, &wrong_shape);
    expect_failure(AW_ERR_PARSE, "[256,8002], expected float32 [8002,256]", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &wrong_name);
    expect_failure(AW_ERR_PARSE, "tanh_layer_0/bias is missing", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &quantized);
    expect_failure(AW_ERR_UNSUPPORTED, "quantized", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &bad_dtype);
    expect_failure(AW_ERR_PARSE, "complex64", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &traversal);
    expect_failure(AW_ERR_PARSE, "plain file name", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &bigger); /* 256 more floats than the shards hold */
    expect_failure(AW_ERR_PARSE, "truncated", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &negative);
    expect_failure(AW_ERR_PARSE, "dimension", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &duplicate);
    expect_failure(AW_ERR_PARSE, "appears twice", NULL);
    fresh_dir();
    replace_file("model.json", edit_text, &renamed);
    expect_failure(AW_ERR_PARSE, "not a TF.js graph model", NULL);
}

static void test_malformed_json(void **state) {
    (void)state;
    size_t half = 120000;
    fresh_dir();
    replace_file("model.json", truncate_by, &half);
    expect_failure(AW_ERR_PARSE, "model.json: invalid JSON", NULL);
    fresh_dir();
    replace_file("vocab.json", truncate_by, &half);
    expect_failure(AW_ERR_PARSE, "vocabulary", NULL);
    fresh_dir();
    static const char not_model[] = "{\"format\": \"layers-model\"}";
    char p[700];
    snprintf(p, sizeof p, "%s/model.json", tmp);
    write_all(p, not_model, sizeof not_model - 1);
    expect_failure(AW_ERR_PARSE, "not a TF.js graph model", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_missing_files, teardown),
        cmocka_unit_test_teardown(test_truncated_and_padded_shards, teardown),
        cmocka_unit_test_teardown(test_corrupted_values, teardown),
        cmocka_unit_test_teardown(test_manifest_edits, teardown),
        cmocka_unit_test_teardown(test_malformed_json, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
