/* Internals shared by src/rag only: files, text normalisation, the piece trie, the TF.js manifest,
 * the weight layout of USE-lite and the transformer's forward pass. */
#ifndef AW_RAG_INTERNAL_H
#define AW_RAG_INTERNAL_H

#include "aw/rag.h"

#include <pthread.h>

/* ---------------------------------------------------------------- files (files.c) */

/* Whole file into allocator memory with a NUL after the last byte (the buffer is size + 1 bytes).
 * AW_ERR_NOT_FOUND if it does not exist (the message carries `hint`), AW_ERR_IO otherwise. */
aw_status rag_read_file(const aw_allocator *a, const char *path, const char *hint, char **data, size_t *size);
void rag_free_file(const aw_allocator *a, char *data, size_t size);
/* dir + "/" + name into buf; AW_ERR_CAPACITY if it does not fit. */
aw_status rag_join_path(char *buf, size_t cap, const char *dir, const char *name);
/* Grows *p (elements of `elem` bytes, 64-byte aligned) to hold at least `need`; keeps contents. */
aw_status rag_grow(const aw_allocator *a, void **p, size_t *cap, size_t need, size_t elem);

#define RAG_FETCH_HINT "run scripts/rag-setup.sh (or make deps) to fetch it, or set " AW_RAG_MODEL_ENV

/* ---------------------------------------------------------------- text (text.c) */

#define RAG_MARKER 0x2581 /* U+2581 LOWER ONE EIGHTH BLOCK: SentencePiece's word-boundary marker */

/* Length of the valid UTF-8 prefix of text (== len when all of it is valid). */
size_t rag_utf8_valid_prefix(const char *text, size_t len);
/* Copies text into out with each maximal invalid subsequence replaced by U+FFFD (as WHATWG
 * decoders, and so node, do). out holds at least 3 * len bytes. Returns the bytes written. */
size_t rag_utf8_sanitize(const char *text, size_t len, char *out);

/* ---------------------------------------------------------------- piece trie (trie.c) */

/* Nodes are code point paths from the root (node 0); an edge is a hash map entry keyed by
 * (node, code point), so the trie costs memory per piece character, not per alphabet symbol. */
typedef struct rag_trie {
    const aw_allocator *allocator;
    aw_map edges;   /* ((node + 1) << 21 | code point) -> child node */
    double *score;  /* per node: the piece's score, when piece >= 0 */
    int32_t *piece; /* per node: the piece id ending here, or -1 */
    uint32_t count, capacity;
} rag_trie;

aw_status rag_trie_init(rag_trie *t, const aw_allocator *a);
void rag_trie_destroy(rag_trie *t);
/* Adds a piece; a piece inserted again takes the later id and score (as the reference's trie). */
aw_status rag_trie_insert(rag_trie *t, const int32_t *cps, uint32_t n, double score, int32_t id);
/* The child of node along code point cp, or 0 (the root is nobody's child). */
static inline uint32_t rag_trie_child(const rag_trie *t, uint32_t node, int32_t cp) {
    uint64_t v = 0;
    uint64_t key = ((uint64_t)node + 1) << 21 | (uint64_t)(uint32_t)cp;
    return aw_map_get(&t->edges, key, &v) ? (uint32_t)v : 0;
}

/* ---------------------------------------------------------------- tokenizer (tokenizer.c) */

#define RAG_RESERVED_PIECES 6 /* ids 0..5 (unknown, <s>, </s>, extra ids) never match text */

struct aw_tokenizer {
    const aw_allocator *allocator;
    uint32_t count; /* pieces */
    char *text;     /* every piece, NUL-terminated, back to back */
    size_t text_size;
    uint32_t *offset; /* piece i starts at text + offset[i] */
    uint32_t *len16;  /* piece i's length in UTF-16 units: the reference steps back by it */
    rag_trie trie;
    bool strict_utf8;
    bool words_split; /* "▁" is a piece and no piece holds ▁ past its start: tokens never span a
                         word start, so a text cut before a space keeps its leading tokens */
};

struct aw_token_scratch {
    const aw_allocator *allocator;
    char *utf8; /* sanitised copy of invalid input */
    size_t utf8_cap;
    int32_t *cps; /* normalised code points, marker first */
    size_t cps_cap;
    double *best; /* Viterbi: best score ending at each position */
    size_t best_cap;
    int32_t *words; /* Viterbi: the piece that gives it */
    size_t words_cap;
    int32_t *tokens; /* ids, built back to front */
    size_t tokens_cap;
};

/* Tokenizes into scratch->tokens; *count ids start at *first (a pointer into scratch). */
aw_status rag_tokenize(const aw_tokenizer *tok, aw_token_scratch *s, const char *text, size_t len,
                       const int32_t **first, uint32_t *count);
aw_tokenizer *rag_tokenizer_from_json(const char *json, size_t size, const aw_allocator *a, bool strict_utf8);
/* Bytes of text worth tokenizing when only the first `tokens` ids matter: with words_split, the
 * text up to its tokens-th ASCII space (each space starts a token, and NFKC never merges across
 * one), else all of it. */
size_t rag_token_prefix_bytes(const aw_tokenizer *tok, const char *text, size_t len, uint32_t tokens);

/* ---------------------------------------------------------------- TF.js manifest (manifest.c) */

typedef enum rag_dtype { RAG_F32, RAG_I32, RAG_BOOL } rag_dtype;

#define RAG_MAX_RANK 8

typedef struct rag_tensor {
    const char *name; /* points into the parsed JSON, alive until rag_manifest_free */
    rag_dtype dtype;
    uint32_t rank;
    uint64_t shape[RAG_MAX_RANK];
    size_t offset, bytes; /* in the shards, concatenated in manifest order */
} rag_tensor;

typedef struct rag_manifest {
    const aw_allocator *allocator;
    void *json; /* the jansson document the names point into */
    rag_tensor *tensors;
    uint32_t count;
    const char **paths; /* shard file names, in order */
    uint32_t path_count;
    size_t total_bytes; /* sum of the tensors' bytes: what the shards must hold */
} rag_manifest;

/* Parses model.json's weightsManifest: every entry needs a unique name, a known dtype and a shape
 * of non-negative dims; shard paths must be plain file names. AW_ERR_PARSE with a message naming
 * the entry otherwise; the manifest is then empty and needs no free. */
aw_status rag_manifest_parse(rag_manifest *m, const aw_allocator *a, const char *json, size_t size);
void rag_manifest_free(rag_manifest *m);

/* ---------------------------------------------------------------- weights (weights.c) */

/* The shards' bytes as one contiguous block: mapped (reserved range, each shard mapped in place)
 * when every shard but the last is a whole number of pages, else read into allocator memory. */
typedef struct rag_blob {
    const aw_allocator *allocator;
    void *data;
    size_t size;
    size_t mapped_size; /* > 0: data is a mapping of this many bytes */
} rag_blob;

aw_status rag_blob_load(rag_blob *b, const aw_allocator *a, const char *dir, const rag_manifest *m,
                        bool read);
void rag_blob_free(rag_blob *b);

/* USE-lite's 2-layer transformer. Layer 0 maps 256-d inputs to the 512-d stream (its residual goes
 * through a dense layer); layer 1 is 512 -> 512. Both have 4 heads. */
#define RAG_LAYERS  2
#define RAG_D_EMB   256
#define RAG_D_MODEL 512
#define RAG_D_FF    1536
#define RAG_HEADS   4

/* ---------------------------------------------------------------- matrix products (gemm.c) */

/* A weight matrix [k, n] (n a multiple of 32) as loaded and packed: panels of 32 columns, each panel
 * k rows of 32 elements back to back, so a kernel streams one panel's weights contiguously. The
 * elements are float16 (half the bytes to stream: a short text's products wait on memory) or, for
 * exact weights, float32; the kernels widen halves to float32 exactly and sum in float32. */
#define RAG_PANEL         32
#define RAG_HALF_MAX      65504.0f        /* the largest finite float16 */
#define AW_RAG_KERNEL_ENV "AW_RAG_KERNEL" /* scalar, avx2, avx512 or openblas: overrides the choice */
typedef struct rag_packed {
    const float *plain;   /* [k, n] row-major, as in the shards (for OpenBLAS) */
    const void *data;     /* [n / 32][k][32] uint16_t (float16) or float */
    const uint16_t *bf16; /* NULL, or for the bfloat16 kernel: [n / 16][k / 2][16][2] bfloat16, the
                             two depths of a pair side by side (what vdpbf16ps multiplies); that
                             kernel needs k a multiple of 32 (rows are rounded 32 at a time) */
    uint32_t k, n;
    bool half;
} rag_packed;

uint16_t rag_half_from_float(float f); /* rounds to nearest even; |f| <= RAG_HALF_MAX */
float rag_half_to_float(uint16_t h);
/* Packs w [k, n] into dst (k * n elements of 2 or 4 bytes). */
void rag_pack(const float *w, uint32_t k, uint32_t n, void *dst, bool half);
uint16_t rag_bf16_from_float(float f); /* rounds to nearest even (finite f) */
float rag_bf16_to_float(uint16_t b);
/* Packs w [k, n] (k even, n a multiple of 16) as bfloat16 pairs into dst (k * n elements). */
void rag_pack_bf16(const float *w, uint32_t k, uint32_t n, uint16_t *dst);

typedef enum rag_kernel {
    RAG_KERNEL_AUTO,
    RAG_KERNEL_SCALAR,
    RAG_KERNEL_AVX2,   /* AVX2 + FMA */
    RAG_KERNEL_AVX512, /* AVX-512 F */
    RAG_KERNEL_BLAS,   /* OpenBLAS sgemm on the plain weights */
    RAG_KERNEL_AVX512_BF16, /* AVX-512 F + BF16: the AVX-512 kernels, and bfloat16 dot products (float32
                               sums) for the products packed with bf16 weights */
    RAG_KERNEL_COUNT
} rag_kernel;

#define RAG_GEMM_ACC    1u    /* add the product to C instead of overwriting it */
#define RAG_GEMM_RELU   2u    /* max(0, x) on the result */
#define RAG_GEMM_SPARSE 4u    /* A is mostly zeros (after a ReLU): skip the depths a row block never uses */
#define RAG_MAX_K       1536u /* the deepest product the kernels take (the FFN's second) */

const char *rag_kernel_name(rag_kernel k);
/* Whether the CPU converts halves in hardware (F16C); the encoder's and the index's kernels ask. */
bool rag_cpu_f16c(void);
bool rag_kernel_supported(rag_kernel k);
/* `want` when this CPU runs it, else the kernel named by AW_RAG_KERNEL when it does, else the best. */
rag_kernel rag_kernel_pick(rag_kernel want);
#define RAG_GEMM_SPARSE_ROWS 16u /* rows whose nonzeros a zero-skipping product gathers at once */
/* Floats of rag_gemm's work area: a row block's nonzeros (value and row) and its sums over 128
 * columns, 200 KiB. */
#define RAG_GEMM_WORK_FLOATS ((size_t)RAG_GEMM_SPARSE_ROWS * (2 * RAG_MAX_K + 128))
/* C[m, n] = [C +] A[m, k] W + bias (bias may be NULL) [then ReLU]; k <= RAG_MAX_K; work holds
 * RAG_GEMM_WORK_FLOATS floats (64-byte aligned), not shared with another thread. The kernel must
 * have come from rag_kernel_pick (which also sets up the kernels' tables). */
void rag_gemm(rag_kernel kernel, uint32_t m, const float *a, uint32_t lda, const rag_packed *w,
              const float *bias, float *c, uint32_t ldc, unsigned flags, float *work);

typedef struct rag_layer {
    uint32_t d_in;                        /* 256, 512 */
    float att_scale;                      /* 1/sqrt(head dim), from the graph */
    const float *ln_att_g, *ln_att_b;     /* [d_in] */
    const float *qkv_w, *qkv_b;           /* [d_in, 3 d_in], [3 d_in]: q | k | v, heads side by side */
    const float *out_w, *out_b;           /* [d_in, 512], [512] */
    const float *res_w, *res_b;           /* layer 0: [256, 512], [512]; layer 1: NULL (identity) */
    const float *ln_ffn_g, *ln_ffn_b;     /* [512] */
    const float *ffn1_w, *ffn1_b;         /* [512, 1536], [1536] */
    const float *ffn2_w, *ffn2_b;         /* [1536, 512], [512] */
    rag_packed qkv, out, res, ffn1, ffn2; /* the weights above, packed (res: layer 0 only) */
} rag_layer;

/* Layer 0's input products folded into tables (input_tables.c). */
typedef struct rag_inputs {
    float *piece_qkv; /* [pieces, 768] (g . e) W_qkv */
    float *piece_res; /* [pieces, 512] e W_res */
    float *pos_qkv;   /* [128, 768] (g . t) W_qkv */
    float *pos_res;   /* [128, 512] t W_res + b_res */
    float *g_qkv;     /* [768] g W_qkv */
    float *b_qkv;     /* [768] b W_qkv + b_qkv */
    size_t floats;    /* of the one allocation starting at piece_qkv */
} rag_inputs;

typedef struct rag_model {
    const float *embeddings; /* [rows, 256] */
    uint32_t embedding_rows;
    const float *inv_timescales; /* [128] */
    rag_layer layers[RAG_LAYERS];
    const float *tanh_w, *tanh_b; /* [512, 512], [512] */
    float ln_eps, l2_eps;
    uint32_t max_tokens; /* 128 */
    rag_packed tanh;
    rag_kernel kernel; /* the products' kernel */
    unsigned bf16_products; /* rag_product bits packed as bfloat16 (bfloat16 kernel only) */
    rag_inputs inputs; /* piece_qkv NULL: not folded, layer 0 runs its products */
    void *packed;      /* every packed weight, one allocation (rag_model_pack) */
    size_t packed_bytes;
} rag_model;

/* The dense per-token products that the bfloat16 kernel may take (bit i of a product set). The
 * zero-skipping ones (FFN second products) and the one-row pooled products stay float16. */
typedef enum rag_product {
    RAG_PRODUCT_L0_OUT,
    RAG_PRODUCT_L0_FFN1,
    RAG_PRODUCT_L1_QKV,
    RAG_PRODUCT_L1_OUT,
    RAG_PRODUCT_L1_FFN1,
    RAG_PRODUCT_COUNT
} rag_product;
/* Measured (tests/rag/test_rag_golden.c, docs/performance.md): each of these products alone in
 * bfloat16 keeps the worst golden cosine at 1 - 5.7e-6 .. 8.7e-6, any two of them pass 1 - 1e-5.
 * q/k/v of layer 1 is the most accurate of the three largest (23.6 MFLOP each on the short text). */
#define RAG_BF16_DEFAULT (1u << RAG_PRODUCT_L1_QKV)
#define AW_RAG_BF16_ENV "AW_RAG_BF16" /* "all", "none" or names (l0_ffn1,l1_qkv,...): measuring only */
const char *rag_product_name(rag_product p);
/* The set the bfloat16 kernel takes: AW_RAG_BF16 when set and valid, else RAG_BF16_DEFAULT. */
unsigned rag_bf16_products(void);

/* Finds, checks (shape, dtype, alignment, finite values) and points at every tensor the forward
 * pass uses, and checks the graph constants it hard-codes (head counts, split sizes, max length).
 * AW_ERR_PARSE naming the tensor when one is missing, different or corrupted. */
aw_status rag_model_bind(rag_model *model, const rag_manifest *m, const void *blob, size_t blob_size);
/* Packs every weight matrix into one allocator block for `kernel` (RAG_KERNEL_AUTO: the best this
 * CPU runs), as float16 unless `exact` or a weight is out of float16's range; nothing to pack for
 * OpenBLAS. AW_ERR_OUT_OF_MEMORY on failure. rag_model_unpack frees it. */
aw_status rag_model_pack(rag_model *model, const aw_allocator *a, rag_kernel kernel, bool exact);
void rag_model_unpack(rag_model *model, const aw_allocator *a);
/* Builds model->inputs from the weights and the timing signal ([128, 256]); AW_ERR_OUT_OF_MEMORY on
 * failure. rag_model_unfold_inputs frees them. */
aw_status rag_model_fold_inputs(rag_model *model, const aw_allocator *a, const float *timing);
void rag_model_unfold_inputs(rag_model *model, const aw_allocator *a);
/* Layer 0's q/k/v row [768] and residual row [512] of piece `id` at position `pos`, from the tables. */
void rag_inputs_row(const rag_model *m, const float *timing, int32_t id, uint32_t pos, float *qkv,
                    float *res);
/* Starts loading the table rows rag_inputs_row will read for piece `id` at position `pos`. */
void rag_inputs_prefetch(const rag_model *m, int32_t id, uint32_t pos);

/* ---------------------------------------------------------------- forward pass (forward.c) */

/* Activations of one pass of up to cap_tokens tokens (several texts packed back to back). */
typedef struct rag_pass {
    uint32_t cap_tokens, cap_texts;
    float *x;        /* [T, 256] layer 0 input */
    float *h;        /* [T, 512] residual stream */
    float *y;        /* [T, 512] layer-norm output */
    float *qkv;      /* [T, 1536] */
    float *att;      /* [T, 512] attention output, heads side by side */
    float *f;        /* [T, 1536] feed-forward hidden */
    float *scores;   /* [128, 128] one head's attention weights */
    float *work;     /* [RAG_GEMM_WORK_FLOATS] rag_gemm's copies of row blocks */
    float *pooled;   /* [texts, 512] */
    float *pooled_f; /* [texts, 1536] last layer's mean FFN hidden (its second product is linear,
                        so it runs once per text on the mean instead of once per token) */
} rag_pass;

size_t rag_pass_floats(uint32_t cap_tokens, uint32_t cap_texts);
/* Lays the pass's arrays out over `mem` (rag_pass_floats floats, 64-byte aligned). */
void rag_pass_init(rag_pass *p, float *mem, uint32_t cap_tokens, uint32_t cap_texts);

/* Precomputed sin/cos timing signal, [max_tokens, 256]: the graph adds it to every input. */
void rag_timing_signal(const rag_model *m, float *out);

/* Embeds `texts` texts whose ids are packed back to back in ids (lens[i] of them each, each at most
 * max_tokens, 0 allowed, sum at most cap_tokens): out gets texts x 512 floats. */
void rag_forward(const rag_model *m, const float *timing, rag_pass *p, const int32_t *ids,
                 const uint32_t *lens, uint32_t texts, float *out);

#endif /* AW_RAG_INTERNAL_H */
