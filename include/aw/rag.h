/* AstraWeave RAG, part 1: sentence embeddings in-process. A SentencePiece unigram tokenizer and the
 * Universal Sentence Encoder lite transformer (512-d), read straight from its TF.js files and run in C
 * with OpenBLAS for the matrix products. */
#ifndef AW_RAG_H
#define AW_RAG_H

#include "aw/core.h"
#include "aw/jobs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AW_EMBED_DIM        512 /* floats per embedding; every embedding has L2 norm 1 */
#define AW_EMBED_MAX_TOKENS 128 /* the model reads a text's first 128 tokens and ignores the rest */

/* Where the model files live when a caller names no directory (scripts/rag-setup.sh puts them there). */
#define AW_RAG_MODEL_ENV    "AW_RAG_MODEL_DIR"
#define AW_RAG_MODEL_SUBDIR "astraweave/models/use-lite-0.2.0" /* under ${XDG_CACHE_HOME:-$HOME/.cache} */

/* The model directory to use: `dir` when not NULL, else $AW_RAG_MODEL_DIR, else
 * ${XDG_CACHE_HOME:-$HOME/.cache}/astraweave/models/use-lite-0.2.0. Written to buf (NUL-terminated).
 * AW_ERR_CAPACITY if it does not fit, AW_ERR_NOT_FOUND if neither variable nor HOME is set.
 * It does not check that the directory exists: loading does, and says how to fetch the model. */
aw_status aw_rag_model_dir(const char *dir, char *buf, size_t cap);

/* Copies `len` bytes of text into out (cap bytes; 3 * len always suffices) with each maximal
 * invalid UTF-8 sequence replaced by U+FFFD, as the tokenizer reads it. Returns the bytes written,
 * or 0 with AW_ERR_CAPACITY recorded when out is too small. For echoing text into UTF-8 formats. */
size_t aw_rag_utf8_repair(const char *text, size_t len, char *out, size_t cap);

/* ---------------------------------------------------------------- tokenizer */

/* SentencePiece unigram segmentation exactly as the reference (@energetic-ai/embeddings) does it:
 * NFKC, spaces to U+2581 with one in front, the highest-scoring split by Viterbi over a trie of the
 * pieces, a character no piece starts with becomes id 0 (runs of them one id 0).
 * Immutable once created: any number of threads may use one tokenizer at once. */
typedef struct aw_tokenizer aw_tokenizer;

typedef struct aw_tokenizer_desc {
    const char *model_dir;         /* reads <model_dir>/vocab.json; NULL: aw_rag_model_dir(NULL) */
    const char *vocab_json;        /* or the vocabulary itself ([["piece", score], ...]); then */
    size_t vocab_json_size;        /*   model_dir is not read */
    const aw_allocator *allocator; /* NULL: the heap */
    bool strict_utf8;              /* refuse invalid UTF-8 with AW_ERR_PARSE; default: each maximal
                                      invalid sequence becomes U+FFFD (an unknown piece) */
} aw_tokenizer_desc;

/* NULL with aw_last_error() set: AW_ERR_IO / AW_ERR_NOT_FOUND (file), AW_ERR_PARSE (bad JSON or
 * entries), AW_ERR_OUT_OF_MEMORY. */
aw_tokenizer *aw_tokenizer_create(const aw_tokenizer_desc *desc);
void aw_tokenizer_destroy(aw_tokenizer *tok);
uint32_t aw_tokenizer_vocab_size(const aw_tokenizer *tok);
/* The piece of id `id` (UTF-8), or NULL out of range. */
const char *aw_tokenizer_piece(const aw_tokenizer *tok, int32_t id);

/* Working memory of one thread's tokenizer calls. It grows to the longest text seen and is kept, so
 * a thread that reuses its scratch stops allocating. Not shared between threads at once. */
typedef struct aw_token_scratch aw_token_scratch;
aw_token_scratch *aw_token_scratch_create(const aw_allocator *allocator);
void aw_token_scratch_destroy(aw_token_scratch *scratch);

/* Token ids of `len` bytes of UTF-8 text: the first min(count, cap) go to ids (ids may be NULL when
 * cap is 0), *count receives how many there are in all. scratch NULL: a temporary one (allocates).
 * AW_ERR_PARSE for invalid UTF-8 under strict_utf8; AW_ERR_CAPACITY for a text over 64 MiB;
 * AW_ERR_OUT_OF_MEMORY. */
aw_status aw_tokenizer_encode(const aw_tokenizer *tok, aw_token_scratch *scratch, const char *text,
                              size_t len, int32_t *ids, uint32_t cap, uint32_t *count);
/* How many tokens the text has (for prompt budgets); the same count aw_tokenizer_encode reports. */
aw_status aw_tokenizer_count(const aw_tokenizer *tok, aw_token_scratch *scratch, const char *text, size_t len,
                             uint32_t *count);

/* ---------------------------------------------------------------- encoder */

/* The sentence encoder. Thread-safe: any number of threads may embed with one encoder at once;
 * each call borrows a scratch area from the encoder's pool (one per concurrent caller, made on first
 * need and kept), so calls after warm-up allocate nothing. */
typedef struct aw_encoder aw_encoder;

typedef struct aw_encoder_desc {
    const char *model_dir;         /* model.json, group1-shard*, vocab.json; NULL: aw_rag_model_dir(NULL) */
    const aw_allocator *allocator; /* NULL: the heap */
    aw_jobs *jobs;                 /* optional: aw_embed_batch spreads a batch over its threads */
    uint32_t batch_tokens;         /* tokens of several texts packed into one forward pass, so the
                                      matrix products are tall enough to run at full speed (0: 512;
                                      128..8192; each scratch area holds ~27 KiB per token) */
    uint32_t scratch_slots;        /* scratch areas made up front (0: the jobs' thread count, or 1) */
    bool strict_utf8;              /* as in aw_tokenizer_desc */
    bool read_weights;             /* read the shards into memory instead of mapping them */
    bool keep_blas_threads;        /* leave OpenBLAS's (process-wide) thread count alone; by
                                      default creation sets it to 1, see aw_encoder_create */
    bool exact_weights;            /* products with the float32 weights; by default they are packed
                                      as float16 (half the bytes to stream, sums stay float32):
                                      cosine with the reference >= 1 - 1e-6 instead of 1 - 1e-11 */
} aw_encoder_desc;

/* Loads and checks the model: every tensor's name, shape, dtype and byte size against the manifest
 * and the shards, and every weight finite. NULL with aw_last_error() set: AW_ERR_NOT_FOUND (missing
 * directory or file; the message says how to fetch the model), AW_ERR_IO, AW_ERR_PARSE (malformed
 * or unexpected manifest, truncated or corrupted shard), AW_ERR_OUT_OF_MEMORY.
 * Unless desc.keep_blas_threads, it also sets OpenBLAS to one thread per call for the whole process
 * (openblas_set_num_threads(1)): the encoder runs texts on threads of its own, and OpenBLAS's
 * threads only add wake-up latency at these sizes. Create encoders before other threads use OpenBLAS. */
aw_encoder *aw_encoder_create(const aw_encoder_desc *desc);
/* Not while calls on the encoder are running. NULL is ignored. */
void aw_encoder_destroy(aw_encoder *enc);
const aw_tokenizer *aw_encoder_tokenizer(const aw_encoder *enc);

/* The embedding of a NUL-terminated UTF-8 text: AW_EMBED_DIM floats with L2 norm 1. An empty text
 * has an embedding too (the model's output for no tokens). */
aw_status aw_embed(aw_encoder *enc, const char *text, float *out);
/* Embeddings of n texts: row i (AW_EMBED_DIM floats) of out is texts[i]'s. Texts are packed several
 * to a forward pass and, with desc.jobs, spread over its threads. On failure (AW_ERR_INVALID_ARG,
 * AW_ERR_PARSE under strict_utf8, AW_ERR_OUT_OF_MEMORY) out's contents are unspecified. */
aw_status aw_embed_batch(aw_encoder *enc, const char *const *texts, uint32_t n, float *out);

typedef struct aw_encoder_stats {
    uint64_t texts;         /* texts embedded */
    uint64_t tokens;        /* tokens run through the transformer (at most 128 a text) */
    uint64_t truncated;     /* texts longer than AW_EMBED_MAX_TOKENS tokens */
    uint64_t passes;        /* forward passes */
    uint32_t scratch_slots; /* scratch areas made so far (one per concurrent caller seen) */
    size_t weight_bytes;    /* bytes of weights, mapped or read */
    bool weights_mapped;    /* true if the shards are memory-mapped */
    const char *blas_core;  /* the kernel set OpenBLAS picked for this CPU ("Haswell", "SkylakeX"...);
                               OPENBLAS_CORETYPE overrides it when the process starts */
    const char *kernel;     /* the matrix products' kernel: "avx512", "avx2", "openblas" (CPUs
                               without AVX2) or "scalar"; the AW_RAG_KERNEL environment variable,
                               read when an encoder is created, picks one the CPU runs */
    bool half_weights;      /* the products read float16 weights (see exact_weights) */
    size_t packed_bytes;    /* bytes derived from the weights at load: packed weights and layer 0's
                               input tables (49.6 MiB with float16 weights; none for "openblas") */
    bool cpu_avx512;        /* the CPU has AVX-512 (F, BW, VL). OpenBLAS 0.3.21 does not know
                               newer CPUs (Zen 5) and falls back to "Haswell" (AVX2) kernels on
                               them; OPENBLAS_CORETYPE=SkylakeX then doubles sgemm speed */
} aw_encoder_stats;
aw_encoder_stats aw_encoder_get_stats(const aw_encoder *enc);

/* Cosine similarity of two vectors of `dim` floats (0 when either is all zeros). */
float aw_embed_cosine(const float *a, const float *b, uint32_t dim);

#ifdef __cplusplus
}
#endif

#endif /* AW_RAG_H */
