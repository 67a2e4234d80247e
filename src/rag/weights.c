/* Model weights: the TF.js shards as one contiguous block (mapped where the shard sizes allow it),
 * and the binding of every tensor the forward pass reads, by name, with its shape, dtype and values
 * checked. A truncated, padded or corrupted file is refused here with a message that names it. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#include "rag_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- shards */

typedef struct shard {
    int fd;
    size_t size;
    char path[1100];
} shard;

static void close_shards(const aw_allocator *a, shard *s, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (s[i].fd >= 0) close(s[i].fd);
    aw_free(a, s, (size_t)n * sizeof *s);
}

/* The shards' sizes disagree with the manifest: say which file is likely at fault. */
static aw_status size_mismatch(const rag_manifest *m, const shard *s, uint32_t n, size_t total) {
    size_t need = m->total_bytes;
    if (total > need)
        return aw_error(
            AW_ERR_PARSE,
            "model shards hold %zu bytes, %zu more than model.json's tensors need: a shard is corrupted or "
            "from another model (%s)",
            total, total - need, RAG_FETCH_HINT);
    const char *culprit = s[n - 1].path;
    for (uint32_t i = 0; i + 1 < n; i++) /* TF.js writes equal shards and a shorter last one */
        if (s[i].size != s[0].size) {
            culprit = s[i].path;
            break;
        }
    const char *tensor = "?";
    for (uint32_t i = 0; i < m->count; i++)
        if (m->tensors[i].offset + m->tensors[i].bytes > total) {
            tensor = m->tensors[i].name;
            break;
        }
    return aw_error(
        AW_ERR_PARSE,
        "model shards hold %zu of the %zu bytes model.json's tensors need (%s is truncated?): tensor %s "
        "runs past the end; %s",
        total, need, culprit, tensor, RAG_FETCH_HINT);
}

static bool map_shards(rag_blob *b, const shard *s, uint32_t n, size_t total) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (uint32_t i = 0; i + 1 < n; i++)
        if (s[i].size % page) return false;
    size_t len = (total + page - 1) / page * page;
    /* Reserve the whole range, then map each shard at its offset inside it: tensors that straddle
     * two shards are contiguous in memory, and nothing is copied. */
    char *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return false;
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i].size) {
            void *p = mmap(base + off, s[i].size, PROT_READ, MAP_PRIVATE | MAP_FIXED, s[i].fd, 0);
            if (p == MAP_FAILED) {
                munmap(base, len);
                return false;
            }
        }
        off += s[i].size;
    }
    madvise(base, len, MADV_WILLNEED);
    b->data = base;
    b->size = total;
    b->mapped_size = len;
    return true;
}

static aw_status read_shards(rag_blob *b, const aw_allocator *a, const shard *s, uint32_t n, size_t total) {
    char *data = aw_alloc(a, total ? total : 1, 64);
    if (!data) return aw_error(AW_ERR_OUT_OF_MEMORY, "no memory for %zu bytes of weights", total);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t got = 0;
        while (got < s[i].size) {
            ssize_t r = pread(s[i].fd, data + off + got, s[i].size - got, (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                aw_free(a, data, total ? total : 1);
                return aw_error(AW_ERR_IO, "short read of %s: %zu of %zu bytes", s[i].path, got, s[i].size);
            }
            got += (size_t)r;
        }
        off += s[i].size;
    }
    b->data = data;
    b->size = total;
    b->mapped_size = 0;
    return AW_OK;
}

aw_status rag_blob_load(rag_blob *b, const aw_allocator *a, const char *dir, const rag_manifest *m,
                        bool read) {
    *b = (rag_blob){.allocator = a};
    uint32_t n = m->path_count;
    shard *s = aw_alloc(a, (size_t)n * sizeof *s, alignof(shard));
    if (!s) return AW_ERR_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < n; i++) s[i].fd = -1;
    aw_status st = AW_OK;
    size_t total = 0;
    for (uint32_t i = 0; i < n && st == AW_OK; i++) {
        if ((st = rag_join_path(s[i].path, sizeof s[i].path, dir, m->paths[i])) != AW_OK) break;
        s[i].fd = open(s[i].path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (s[i].fd < 0) {
            st = errno == ENOENT
                     ? aw_error(AW_ERR_NOT_FOUND, "model shard %s not found: %s", s[i].path, RAG_FETCH_HINT)
                     : aw_error(AW_ERR_IO, "cannot open %s: %s", s[i].path, strerror(errno));
        } else if (fstat(s[i].fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            st = aw_error(AW_ERR_IO, "model shard %s is not a regular file", s[i].path);
        } else {
            s[i].size = (size_t)sb.st_size;
            total += s[i].size;
        }
    }
    if (st == AW_OK && total != m->total_bytes) st = size_mismatch(m, s, n, total);
    if (st == AW_OK && (read || !map_shards(b, s, n, total))) st = read_shards(b, a, s, n, total);
    close_shards(a, s, n);
    return st;
}

void rag_blob_free(rag_blob *b) {
    if (!b || !b->data) return;
    if (b->mapped_size)
        munmap(b->data, b->mapped_size);
    else
        aw_free(b->allocator, b->data, b->size ? b->size : 1);
    *b = (rag_blob){0};
}

/* ---------------------------------------------------------------- binding */

#define APPLY "module_apply_default/Encoder_en/KonaTransformer/"
#define ENC   APPLY "Encode/"
#define STACK ENC "TransformerStack/"
#define VARS  "module/Encoder_en/KonaTransformer/Encode/"
#define LAYER "TransformerLayer/"

typedef struct want {
    const char *name;
    rag_dtype dtype;
    uint32_t rank;
    uint64_t shape[4];
} want;

/* Every tensor the forward pass reads (the graph's other constants only shape its ops). */
enum {
    W_EMB,
    W_TIMING,
    W_L0_LN_G,
    W_L0_LN_B,
    W_L0_QKV_W,
    W_L0_QKV_B,
    W_L0_OUT_W,
    W_L0_OUT_B,
    W_L0_RES_W,
    W_L0_RES_B,
    W_L0_FLN_G,
    W_L0_FLN_B,
    W_L0_FF1_W,
    W_L0_FF1_B,
    W_L0_FF2_W,
    W_L0_FF2_B,
    W_L0_SCALE,
    W_L1_LN_G,
    W_L1_LN_B,
    W_L1_QKV_W,
    W_L1_QKV_B,
    W_L1_OUT_W,
    W_L1_OUT_B,
    W_L1_FLN_G,
    W_L1_FLN_B,
    W_L1_FF1_W,
    W_L1_FF1_B,
    W_L1_FF2_W,
    W_L1_FF2_B,
    W_L1_SCALE,
    W_TANH_W,
    W_TANH_B,
    W_LN_EPS,
    W_L2_EPS,
    W_MAX_LEN,
    W_HEADS,
    W_DH0,
    W_DH1,
    W_SPLIT0,
    W_SPLIT1,
    W_COUNT
};

#define F32(n, r, ...)                                                                                       \
    {                                                                                                        \
        n, RAG_F32, r, {                                                                                     \
            __VA_ARGS__                                                                                      \
        }                                                                                                    \
    }
#define I32(n, r, ...)                                                                                       \
    {                                                                                                        \
        n, RAG_I32, r, {                                                                                     \
            __VA_ARGS__                                                                                      \
        }                                                                                                    \
    }
#define MHA    "MultiheadAttention/"
#define LN_PRE "layer_prepostprocess/layer_norm/"
static const want wants[W_COUNT] = {
    [W_EMB] = F32("module/Embeddings_en", 2, 8002, RAG_D_EMB),
    [W_TIMING] = F32(STACK "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1", 2, 1, RAG_D_EMB / 2),
    /* layer 0: 256 -> 512 */
    [W_L0_LN_G] = F32(ENC "Layer_0/" LAYER LN_PRE "layer_norm_scale/ConcatPartitions/concat", 1, 256),
    [W_L0_LN_B] = F32(ENC "Layer_0/" LAYER LN_PRE "layer_norm_bias/ConcatPartitions/concat", 1, 256),
    [W_L0_QKV_W] = F32(VARS "Layer_0/" LAYER MHA "qkv_transform_single/kernel/part_0", 4, 1, 1, 256, 768),
    [W_L0_QKV_B] = F32(ENC "Layer_0/" LAYER MHA "qkv_transform_single/bias/ConcatPartitions/concat", 1, 768),
    [W_L0_OUT_W] = F32(VARS "Layer_0/" LAYER MHA "output_transform_single/kernel/part_0", 4, 1, 1, 256, 512),
    [W_L0_OUT_B] =
        F32(ENC "Layer_0/" LAYER MHA "output_transform_single/bias/ConcatPartitions/concat", 1, 512),
    [W_L0_RES_W] = F32(ENC "Layer_0/" LAYER "dense/kernel/ConcatPartitions/concat", 2, 256, 512),
    [W_L0_RES_B] = F32(ENC "Layer_0/" LAYER "dense/bias/ConcatPartitions/concat", 1, 512),
    [W_L0_FLN_G] = F32(ENC "Layer_0/" LAYER "FFN/" LN_PRE "layer_norm_scale/ConcatPartitions/concat", 1, 512),
    [W_L0_FLN_B] = F32(ENC "Layer_0/" LAYER "FFN/" LN_PRE "layer_norm_bias/ConcatPartitions/concat", 1, 512),
    [W_L0_FF1_W] = F32(STACK "Layer_0/" LAYER "FFN/conv1/Tensordot/Reshape_1", 2, 512, 1536),
    [W_L0_FF1_B] = F32(ENC "Layer_0/" LAYER "FFN/conv1/bias/ConcatPartitions/concat", 1, 1536),
    [W_L0_FF2_W] = F32(STACK "Layer_0/" LAYER "FFN/conv2/Tensordot/Reshape_1", 2, 1536, 512),
    [W_L0_FF2_B] = F32(ENC "Layer_0/" LAYER "FFN/conv2/bias/ConcatPartitions/concat", 1, 512),
    [W_L0_SCALE] = F32(STACK "Layer_0/" LAYER MHA "mul/y", 0, 0),
    /* layer 1: 512 -> 512 */
    [W_L1_LN_G] = F32(ENC "Layer_1/" LAYER LN_PRE "layer_norm_scale/ConcatPartitions/concat", 1, 512),
    [W_L1_LN_B] = F32(ENC "Layer_1/" LAYER LN_PRE "layer_norm_bias/ConcatPartitions/concat", 1, 512),
    [W_L1_QKV_W] = F32(VARS "Layer_1/" LAYER MHA "qkv_transform_single/kernel/part_0", 4, 1, 1, 512, 1536),
    [W_L1_QKV_B] = F32(ENC "Layer_1/" LAYER MHA "qkv_transform_single/bias/ConcatPartitions/concat", 1, 1536),
    [W_L1_OUT_W] = F32(VARS "Layer_1/" LAYER MHA "output_transform_single/kernel/part_0", 4, 1, 1, 512, 512),
    [W_L1_OUT_B] =
        F32(ENC "Layer_1/" LAYER MHA "output_transform_single/bias/ConcatPartitions/concat", 1, 512),
    [W_L1_FLN_G] = F32(ENC "Layer_1/" LAYER "FFN/" LN_PRE "layer_norm_scale/ConcatPartitions/concat", 1, 512),
    [W_L1_FLN_B] = F32(ENC "Layer_1/" LAYER "FFN/" LN_PRE "layer_norm_bias/ConcatPartitions/concat", 1, 512),
    [W_L1_FF1_W] = F32(STACK "Layer_1/" LAYER "FFN/conv1/Tensordot/Reshape_1", 2, 512, 1536),
    [W_L1_FF1_B] = F32(ENC "Layer_1/" LAYER "FFN/conv1/bias/ConcatPartitions/concat", 1, 1536),
    [W_L1_FF2_W] = F32(STACK "Layer_1/" LAYER "FFN/conv2/Tensordot/Reshape_1", 2, 1536, 512),
    [W_L1_FF2_B] = F32(ENC "Layer_1/" LAYER "FFN/conv2/bias/ConcatPartitions/concat", 1, 512),
    [W_L1_SCALE] = F32(STACK "Layer_1/" LAYER MHA "mul/y", 0, 0),
    /* pooling head and constants shared by both layers */
    [W_TANH_W] = F32("module/Encoder_en/hidden_layers/tanh_layer_0/weights", 2, 512, 512),
    [W_TANH_B] = F32("module/Encoder_en/hidden_layers/tanh_layer_0/bias", 1, 512),
    [W_LN_EPS] = F32(STACK "Layer_1/" LAYER "FFN/" LN_PRE "Cast/x", 0, 0),
    [W_L2_EPS] = F32("module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y", 0, 0),
    [W_MAX_LEN] = I32(APPLY "ClipToMaxLength/Less/y", 0, 0),
    [W_HEADS] = I32(STACK "Layer_1/" LAYER MHA "split_heads/split_last_dimension/Reshape/shape/2", 0, 0),
    [W_DH0] = I32(STACK "Layer_0/" LAYER MHA "split_heads/split_last_dimension/Reshape/shape/3", 0, 0),
    [W_DH1] = I32(STACK "Layer_1/" LAYER MHA "split_heads/split_last_dimension/Reshape/shape/3", 0, 0),
    [W_SPLIT0] = I32(STACK "Layer_0/" LAYER MHA "Const", 1, 3),
    [W_SPLIT1] = I32(STACK "Layer_1/" LAYER MHA "Const", 1, 3),
};
#undef F32
#undef I32

static const rag_tensor *find(const rag_manifest *m, const char *name) {
    for (uint32_t i = 0; i < m->count; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

static const char *dtype_name(rag_dtype d) {
    return d == RAG_F32 ? "float32" : d == RAG_I32 ? "int32" : "bool";
}

static void shape_str(char *buf, size_t cap, uint32_t rank, const uint64_t *shape) {
    int at = snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < rank && at > 0 && (size_t)at < cap; i++)
        at += snprintf(buf + at, cap - (size_t)at, "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
    if (at > 0 && (size_t)at < cap) snprintf(buf + at, cap - (size_t)at, "]");
}

static aw_status bind_one(const rag_manifest *m, const uint8_t *blob, size_t blob_size, const want *w,
                          const void **out) {
    const rag_tensor *t = find(m, w->name);
    if (!t)
        return aw_error(AW_ERR_PARSE, "model.json: tensor %s is missing (not a USE-lite model?)", w->name);
    bool same = t->dtype == w->dtype && t->rank == w->rank;
    for (uint32_t i = 0; same && i < w->rank; i++) same = t->shape[i] == w->shape[i];
    if (!same) {
        char got[96], exp[96];
        shape_str(got, sizeof got, t->rank, t->shape);
        shape_str(exp, sizeof exp, w->rank, w->shape);
        return aw_error(AW_ERR_PARSE, "model.json: tensor %s is %s %s, expected %s %s", w->name,
                        dtype_name(t->dtype), got, dtype_name(w->dtype), exp);
    }
    if (t->offset + t->bytes > blob_size)
        return aw_error(AW_ERR_PARSE,
                        "tensor %s (bytes %zu..%zu) lies past the end of the shards (%zu bytes)", w->name,
                        t->offset, t->offset + t->bytes, blob_size);
    const uint8_t *p = blob + t->offset;
    if ((uintptr_t)p % 4)
        return aw_error(AW_ERR_PARSE, "tensor %s starts at byte %zu, not a multiple of 4", w->name,
                        t->offset);
    if (t->dtype == RAG_F32) {
        /* Bit-level test: a flipped exponent byte shows up as Inf/NaN far more often than not. */
        const uint32_t *u = (const uint32_t *)(const void *)p;
        size_t n = t->bytes / 4;
        for (size_t i = 0; i < n; i++)
            if ((u[i] & 0x7f800000u) == 0x7f800000u)
                return aw_error(AW_ERR_PARSE,
                                "tensor %s holds a non-finite value at index %zu: corrupted shard? %s",
                                w->name, i, RAG_FETCH_HINT);
    }
    *out = p;
    return AW_OK;
}

static int32_t i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static float f32(const void *p) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void bind_layer(rag_layer *l, const void *const *p, int base, uint32_t d_in, bool res) {
    /* Layer 1's entries sit at the same distances from W_L1_LN_G as layer 0's from W_L0_LN_G,
     * minus the residual dense pair (W_L0_RES_*), which layer 1 lacks. */
    int k = base;
    l->d_in = d_in;
    l->ln_att_g = p[k++];
    l->ln_att_b = p[k++];
    l->qkv_w = p[k++];
    l->qkv_b = p[k++];
    l->out_w = p[k++];
    l->out_b = p[k++];
    if (res) {
        l->res_w = p[k++];
        l->res_b = p[k++];
    }
    l->ln_ffn_g = p[k++];
    l->ln_ffn_b = p[k++];
    l->ffn1_w = p[k++];
    l->ffn1_b = p[k++];
    l->ffn2_w = p[k++];
    l->ffn2_b = p[k++];
    l->att_scale = f32(p[k]);
}

aw_status rag_model_bind(rag_model *model, const rag_manifest *m, const void *blob, size_t blob_size) {
    *model = (rag_model){0};
    if (blob_size != m->total_bytes)
        return aw_error(AW_ERR_PARSE, "weights hold %zu bytes, model.json's tensors need %zu", blob_size,
                        m->total_bytes);
    const void *p[W_COUNT];
    for (int i = 0; i < W_COUNT; i++) {
        aw_status st = bind_one(m, blob, blob_size, &wants[i], &p[i]);
        if (st != AW_OK) return st;
    }
    /* The forward pass hard-codes the graph's structure; its constants must say the same. */
    const int32_t split0[3] = {i32(p[W_SPLIT0]), i32((const char *)p[W_SPLIT0] + 4),
                               i32((const char *)p[W_SPLIT0] + 8)};
    const int32_t split1[3] = {i32(p[W_SPLIT1]), i32((const char *)p[W_SPLIT1] + 4),
                               i32((const char *)p[W_SPLIT1] + 8)};
    bool ok = i32(p[W_MAX_LEN]) == AW_EMBED_MAX_TOKENS && i32(p[W_HEADS]) == RAG_HEADS &&
              i32(p[W_DH0]) == RAG_D_EMB / RAG_HEADS && i32(p[W_DH1]) == RAG_D_MODEL / RAG_HEADS;
    for (int i = 0; i < 3; i++) ok = ok && split0[i] == RAG_D_EMB && split1[i] == RAG_D_MODEL;
    if (!ok)
        return aw_error(AW_ERR_PARSE,
                        "model.json: the graph's constants (max length, heads, head sizes, q/k/v "
                        "split) are not USE-lite's");
    rag_model r = {
        .embeddings = p[W_EMB],
        .embedding_rows = (uint32_t)wants[W_EMB].shape[0],
        .inv_timescales = p[W_TIMING],
        .tanh_w = p[W_TANH_W],
        .tanh_b = p[W_TANH_B],
        .ln_eps = f32(p[W_LN_EPS]),
        .l2_eps = f32(p[W_L2_EPS]),
        .max_tokens = AW_EMBED_MAX_TOKENS,
    };
    bind_layer(&r.layers[0], p, W_L0_LN_G, RAG_D_EMB, true);
    bind_layer(&r.layers[1], p, W_L1_LN_G, RAG_D_MODEL, false);
    if (!(r.ln_eps > 0.0f) || !(r.l2_eps > 0.0f) || !(r.layers[0].att_scale > 0.0f) ||
        !(r.layers[1].att_scale > 0.0f))
        return aw_error(AW_ERR_PARSE, "model.json: a layer-norm epsilon or attention scale is not positive");
    *model = r;
    return AW_OK;
}

static const char *const product_names[RAG_PRODUCT_COUNT] = {"l0_out", "l0_ffn1", "l1_qkv", "l1_out",
                                                               "l1_ffn1"};

const char *rag_product_name(rag_product p) {
    return p < RAG_PRODUCT_COUNT ? product_names[p] : "?";
}

unsigned rag_bf16_products(void) {
    const char *env = getenv(AW_RAG_BF16_ENV);
    if (!env) return RAG_BF16_DEFAULT;
    if (strcmp(env, "all") == 0) return (1u << RAG_PRODUCT_COUNT) - 1u;
    unsigned set = 0;
    for (const char *at = env; *at;) {
        size_t len = strcspn(at, ",");
        int p = 0;
        while (p < RAG_PRODUCT_COUNT && !(strlen(product_names[p]) == len && strncmp(at, product_names[p], len) == 0))
            p++;
        if (p < RAG_PRODUCT_COUNT) set |= 1u << p;
        else if (!(len == 4 && strncmp(at, "none", 4) == 0)) return RAG_BF16_DEFAULT; /* unknown name */
        at += len + (at[len] == ',');
    }
    return set;
}

/* Every weight matrix the products read: plain weights, shape, and the packing it gets. */
typedef struct pack_item {
    const float *plain;
    uint32_t k, n;
    rag_packed *dst;
    int product; /* rag_product it may be packed as bfloat16 for, or -1 */
} pack_item;

static bool wants_bf16(const pack_item *it, unsigned set) {
    return it->product >= 0 && (set >> it->product & 1u) && it->k % 32 == 0; /* the kernel's row rounding */
}

aw_status rag_model_pack(rag_model *model, const aw_allocator *a, rag_kernel kernel, bool exact) {
    rag_layer *l0 = &model->layers[0], *l1 = &model->layers[1];
    const pack_item items[] = {
        {l0->qkv_w, RAG_D_EMB, 3 * RAG_D_EMB, &l0->qkv, -1},
        {l0->out_w, RAG_D_EMB, RAG_D_MODEL, &l0->out, RAG_PRODUCT_L0_OUT},
        {l0->res_w, RAG_D_EMB, RAG_D_MODEL, &l0->res, -1},
        {l0->ffn1_w, RAG_D_MODEL, RAG_D_FF, &l0->ffn1, RAG_PRODUCT_L0_FFN1},
        {l0->ffn2_w, RAG_D_FF, RAG_D_MODEL, &l0->ffn2, -1},
        {l1->qkv_w, RAG_D_MODEL, 3 * RAG_D_MODEL, &l1->qkv, RAG_PRODUCT_L1_QKV},
        {l1->out_w, RAG_D_MODEL, RAG_D_MODEL, &l1->out, RAG_PRODUCT_L1_OUT},
        {l1->ffn1_w, RAG_D_MODEL, RAG_D_FF, &l1->ffn1, RAG_PRODUCT_L1_FFN1},
        {l1->ffn2_w, RAG_D_FF, RAG_D_MODEL, &l1->ffn2, -1},
        {model->tanh_w, RAG_D_MODEL, RAG_D_MODEL, &model->tanh, -1},
    };
    const uint32_t count = sizeof items / sizeof items[0];
    model->kernel = rag_kernel_pick(kernel);
    /* OpenBLAS reads the plain weights; the other kernels the packed ones. Weights are finite
     * (rag_model_bind checked); float16 needs them within its range too. The bfloat16 kernel also
     * gets a bfloat16 copy of the chosen products (not with exact weights). */
    bool pack = model->kernel != RAG_KERNEL_BLAS, half = !exact;
    unsigned bf16 = model->kernel == RAG_KERNEL_AVX512_BF16 && !exact ? rag_bf16_products() : 0;
    size_t total = 0, total_bf16 = 0;
    for (uint32_t i = 0; i < count; i++) {
        size_t n = (size_t)items[i].k * items[i].n;
        total += n;
        if (wants_bf16(&items[i], bf16)) total_bf16 += n;
        for (size_t j = 0; j < n && half; j++) half = fabsf(items[i].plain[j]) <= RAG_HALF_MAX;
    }
    size_t elem = half ? sizeof(uint16_t) : sizeof(float);
    size_t bytes = total * elem + total_bf16 * sizeof(uint16_t);
    char *mem = pack ? aw_alloc(a, bytes, 64) : NULL;
    if (pack && !mem) return aw_error(AW_ERR_OUT_OF_MEMORY, "rag: no memory to pack %zu weights", total);
    model->packed = mem;
    model->packed_bytes = pack ? bytes : 0;
    model->bf16_products = bf16;
    for (uint32_t i = 0; i < count; i++) {
        *items[i].dst = (rag_packed){
            .plain = items[i].plain, .data = mem, .k = items[i].k, .n = items[i].n, .half = pack && half};
        if (pack) {
            rag_pack(items[i].plain, items[i].k, items[i].n, mem, half);
            mem += (size_t)items[i].k * items[i].n * elem;
        }
    }
    for (uint32_t i = 0; i < count; i++)
        if (wants_bf16(&items[i], bf16)) {
            rag_pack_bf16(items[i].plain, items[i].k, items[i].n, (uint16_t *)mem);
            items[i].dst->bf16 = (const uint16_t *)mem;
            mem += (size_t)items[i].k * items[i].n * sizeof(uint16_t);
        }
    return AW_OK;
}

void rag_model_unpack(rag_model *model, const aw_allocator *a) {
    aw_free(a, model->packed, model->packed_bytes);
    model->packed = NULL;
    model->packed_bytes = 0;
}
