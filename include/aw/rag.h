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

/* ---------------------------------------------------------------- context for LLM prompts */

/* A prompt assembled under a token budget (counted with aw_tokenizer_count on the whole text):
 *
 *   <system>
 *
 *   Relevant memories:
 *   - [0.83] <text> (<metadata>)
 *   Examples:
 *   Situation: <situation>
 *   Plan: <plan JSON>
 *   Current situation:
 *   <situation>
 *
 * The system text and the current situation are always there (cut in the middle, "[...]", only when
 * they alone exceed the budget); few-shot examples are whole or absent, most similar first; memories
 * follow the overflow strategy. Text is repaired to valid UTF-8 and memories are put on one line
 * each. The same input gives the same bytes. */
typedef enum aw_context_overflow {
    AW_CONTEXT_KEEP_BEST = 0,   /* drop the lowest-scoring memories first (ties: the later one) */
    AW_CONTEXT_SLIDING_WINDOW,  /* keep the longest run of memories at the end of the list: pass them
                                   oldest first and the newest stay */
    AW_CONTEXT_TRUNCATE_MIDDLE, /* keep memories from both ends of the list and drop the middle ones,
                                   marked by one "- [...]" line */
} aw_context_overflow;

/* A retrieved memory, as the caller's memory store returns it. */
typedef struct aw_context_memory {
    const char *text;     /* required (NUL-terminated UTF-8; invalid bytes are repaired) */
    float score;          /* retrieval score, printed with two decimals */
    const char *metadata; /* optional, printed in parentheses ("episodic, t=12.5") */
} aw_context_memory;

/* A few-shot example: a situation and the plan (JSON) that answered it. */
typedef struct aw_context_example {
    const char *situation;
    const char *plan;
} aw_context_example;

typedef struct aw_context_desc {
    const aw_tokenizer *tokenizer; /* required: counts the tokens (aw_encoder_tokenizer gives one) */
    const aw_allocator *allocator; /* NULL: the heap */
    uint32_t token_budget;         /* tokens the whole prompt may have; 0: 1024 */
    aw_context_overflow overflow;  /* how memories give way (0: AW_CONTEXT_KEEP_BEST) */
    float memory_share;            /* share of the budget left after system and situation that
                                      memories may hold before examples take it (0: 0.5; 0..1) */
    float min_score;               /* memories scoring below it are left out (0: none are) */
    uint32_t max_examples;         /* 0: as many as fit */
} aw_context_desc;

typedef struct aw_context_input {
    const char *system;    /* optional */
    const char *situation; /* required */
    const aw_context_memory *memories;
    uint32_t memory_count;
    const aw_context_example *examples; /* most similar first (aw_fewshot_select's order) */
    uint32_t example_count;
} aw_context_input;

typedef struct aw_context_result {
    const char *text; /* NUL-terminated; valid until the next build or destroy */
    size_t length;
    uint32_t tokens;          /* aw_tokenizer_count of text: never above the budget */
    uint32_t memories_used;   /* memories in the prompt */
    uint32_t examples_used;   /* examples in the prompt */
    uint32_t memories_dropped; /* memories that did not fit (min_score filtered ones not counted) */
    bool truncated;           /* the system text or the situation was cut */
} aw_context_result;

/* The builder keeps its buffers between builds: once it has seen its largest input it allocates
 * nothing more. One thread at a time per builder. */
typedef struct aw_context aw_context;

/* NULL with aw_last_error() set: AW_ERR_INVALID_ARG (no tokenizer, share out of range),
 * AW_ERR_OUT_OF_MEMORY. */
aw_context *aw_context_create(const aw_context_desc *desc);
void aw_context_destroy(aw_context *ctx);
/* Builds the prompt into the builder's buffer. AW_ERR_INVALID_ARG (no situation, a memory or
 * example without text), AW_ERR_CAPACITY (the budget cannot hold even the section headings and a
 * cut situation), AW_ERR_OUT_OF_MEMORY. */
aw_status aw_context_build(aw_context *ctx, const aw_context_input *input, aw_context_result *out);

/* ---------------------------------------------------------------- few-shot selection */

/* A bank of (situation -> plan JSON) examples with their embeddings; the k most similar to the
 * current situation are picked with maximal marginal relevance (MMR), so they are similar and
 * diverse. Examples are parsed first and embedded later (aw_fewshot_bank_embed), so loading needs
 * no model. */
typedef struct aw_fewshot_bank aw_fewshot_bank;

typedef struct aw_fewshot_desc {
    const aw_allocator *allocator; /* NULL: the heap */
} aw_fewshot_desc;

aw_fewshot_bank *aw_fewshot_bank_create(const aw_fewshot_desc *desc);
void aw_fewshot_bank_destroy(aw_fewshot_bank *bank);
/* Adds one example; plan_json must be a JSON object with a non-empty "steps" array (stored
 * compacted, keys in their order). AW_ERR_INVALID_ARG, AW_ERR_PARSE (bad plan), AW_ERR_OUT_OF_MEMORY.
 * The bank is unchanged on failure. */
aw_status aw_fewshot_bank_add(aw_fewshot_bank *bank, const char *situation, const char *plan_json);
/* Lines of JSONL, {"situation": "...", "plan": {"steps": [...]}} (blank lines and lines starting
 * with '#' skipped); `name` labels errors ("bank.jsonl:12: field 'plan': ..."). All or nothing:
 * on any error nothing is added. AW_ERR_PARSE, AW_ERR_OUT_OF_MEMORY. */
aw_status aw_fewshot_bank_parse(aw_fewshot_bank *bank, const char *data, size_t size, const char *name);
/* aw_fewshot_bank_parse of a file; AW_ERR_NOT_FOUND / AW_ERR_IO naming the file. */
aw_status aw_fewshot_bank_load(aw_fewshot_bank *bank, const char *path);
/* Embeds the examples that have no embedding yet (their situations, in one aw_embed_batch). */
aw_status aw_fewshot_bank_embed(aw_fewshot_bank *bank, aw_encoder *encoder);
/* Sets example i's embedding directly (AW_EMBED_DIM floats, normalised here), for callers with
 * their own embeddings. AW_ERR_INVALID_ARG out of range, or for an all-zero vector. */
aw_status aw_fewshot_bank_set_embedding(aw_fewshot_bank *bank, uint32_t i, const float *embedding);
uint32_t aw_fewshot_bank_count(const aw_fewshot_bank *bank);
/* Example i (strings owned by the bank), or {NULL, NULL} out of range. */
aw_context_example aw_fewshot_bank_example(const aw_fewshot_bank *bank, uint32_t i);

typedef struct aw_fewshot_query {
    const float *embedding; /* required: the current situation's embedding (AW_EMBED_DIM floats) */
    uint32_t k;             /* examples to pick (0: 3) */
    float lambda;           /* MMR: lambda * sim(query, e) - (1 - lambda) * max sim(e, picked);
                               1 is plain top-k by similarity. Used as given, so 0 means pure
                               diversity: start from 0.7 */
    uint32_t candidates;    /* MMR runs over this many most similar examples (0: 64; at most
                               AW_FEWSHOT_MAX_CANDIDATES); with count <= candidates it is exact */
} aw_fewshot_query;

#define AW_FEWSHOT_MAX_K          32
#define AW_FEWSHOT_MAX_CANDIDATES 256

/* Picks min(k, count) examples (k at most AW_FEWSHOT_MAX_K) into picked (indices, in pick order: the first is the most similar)
 * and their count into *count. Ties go to the lower index. Allocates nothing; reads the bank only,
 * so several threads may select at once. AW_ERR_INVALID_ARG (no query, lambda outside 0..1, an
 * example not embedded yet). */
aw_status aw_fewshot_select(const aw_fewshot_bank *bank, const aw_fewshot_query *query, uint32_t *picked,
                            uint32_t *count);

#ifdef __cplusplus
}
#endif

#endif /* AW_RAG_H */
