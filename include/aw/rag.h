/* AstraWeave RAG: retrieval for AI agents, in-process. Sentence embeddings (a SentencePiece unigram
 * tokenizer and the Universal Sentence Encoder lite transformer, 512-d, read from its TF.js files),
 * a vector index (HNSW or exact, filtered, persistent), semantic memory over pluggable vector stores
 * (local or a Chroma server), and prompt context (token-budgeted sections, few-shot selection). */
#ifndef AW_RAG_H
#define AW_RAG_H

#include "aw/core.h"
#include "aw/jobs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AW_EMBED_DIM        512 /* floats per embedding; every embedding has L2 norm 1 */
/* Cosine vectors whose squared norm is this close to 1 are taken as unit and stored as given, so
 * normalising twice (memory, then index) changes no bit. */
#define AW_UNIT_NORM_TOLERANCE 1e-5
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
                                      cosine with the reference >= 1 - 1e-6 instead of 1 - 1e-11,
                                      and with the "avx512bf16" kernel one product in bfloat16
                                      (>= 1 - 1e-5, see aw_encoder_stats.kernel) */
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
    const char *kernel;     /* the matrix products' kernel: "avx512bf16" (CPUs with AVX-512 BF16:
                               layer 1's q/k/v in bfloat16 dot products, the rest as "avx512"),
                               "avx512", "avx2", "openblas" (CPUs without AVX2) or "scalar"; the
                               AW_RAG_KERNEL environment variable, read when an encoder is created,
                               picks one the CPU runs */
    bool half_weights;      /* the products read float16 weights (see exact_weights) */
    size_t packed_bytes;    /* bytes derived from the weights at load: packed weights and layer 0's
                               input tables (49.6 MiB with float16 weights, 51.1 with the
                               bfloat16 copy of "avx512bf16"; none for "openblas") */
    bool cpu_avx512;        /* the CPU has AVX-512 (F, BW, VL). OpenBLAS 0.3.21 does not know
                               newer CPUs (Zen 5) and falls back to "Haswell" (AVX2) kernels on
                               them; OPENBLAS_CORETYPE=SkylakeX then doubles sgemm speed */
} aw_encoder_stats;
aw_encoder_stats aw_encoder_get_stats(const aw_encoder *enc);

/* Cosine similarity of two vectors of `dim` floats (0 when either is all zeros). */
float aw_embed_cosine(const float *a, const float *b, uint32_t dim);

/* ================================================================ vector index
 * An embedded approximate-nearest-neighbour index over float32 vectors: HNSW (hierarchical navigable
 * small-world graph) or an exact flat scan, with cosine, dot-product or L2 distance, 64-bit ids,
 * per-vector metadata filtered during search, tombstone deletes, compaction and a checksummed file.
 *
 * Threads: any number of searches may run at once with one writer (upsert, delete, save); searches
 * never take a lock. Writers are serialised by a mutex inside the index. aw_index_compact and
 * aw_index_destroy need the index to themselves (no search or write running).
 * Each searching thread owns an aw_index_scratch; with it, a search allocates nothing. */

typedef enum aw_index_metric {
    AW_INDEX_COSINE = 0, /* distance 1 - cos(a, b); vectors are normalised on the way in */
    AW_INDEX_DOT,        /* distance -dot(a, b) (maximum inner product) */
    AW_INDEX_L2,         /* distance |a - b|^2 (squared Euclidean) */
    AW_INDEX_METRIC_COUNT
} aw_index_metric;

typedef enum aw_index_kind {
    AW_INDEX_HNSW = 0, /* approximate graph search, logarithmic in the count */
    AW_INDEX_FLAT,     /* exact: every live vector is compared (ground truth, small sets) */
    AW_INDEX_KIND_COUNT
} aw_index_kind;

/* How stored vectors are kept. Queries stay float32 either way; F16 halves the bytes each distance
 * reads from memory (the graph walk is bound by them), at about 3 significant digits per element. */
typedef enum aw_index_element {
    AW_INDEX_ELEMENT_DEFAULT = 0, /* the owner's choice: float32 for an index; F16 for a memory's store */
    AW_INDEX_F32,                 /* float32: stored exactly as given (normalised under cosine) */
    AW_INDEX_F16,                 /* IEEE half precision, rounded to nearest even; elements must be
                                     within +-65504 (AW_ERR_INVALID_ARG otherwise) */
    AW_INDEX_ELEMENT_COUNT
} aw_index_element;

/* Distance kernels. AUTO picks the widest the CPU runs (checked at run time). */
typedef enum aw_simd_level {
    AW_SIMD_AUTO = 0,
    AW_SIMD_SCALAR,
    AW_SIMD_AVX2,   /* AVX2 + FMA */
    AW_SIMD_AVX512, /* AVX-512F */
    AW_SIMD_LEVEL_COUNT
} aw_simd_level;

typedef struct aw_index_desc {
    uint32_t dim;                  /* required: floats per vector, 1..65536 */
    aw_index_metric metric;        /* 0: cosine */
    aw_index_kind kind;            /* 0: HNSW */
    uint32_t m;                    /* HNSW links per node and layer (layer 0 has 2m); 0: 16; 2..100 */
    uint32_t ef_construction;      /* HNSW candidate list while inserting; 0: 200 */
    uint32_t ef_search;            /* HNSW candidate list while searching (at least k); 0: 64 */
    uint32_t capacity;             /* expected vectors, reserved up front (0: 1024); it grows */
    uint64_t seed;                 /* HNSW level draws; 0: a fixed default (same inserts, same graph) */
    aw_simd_level simd;            /* 0: the best the CPU has; AW_ERR_UNSUPPORTED if it lacks one asked
                                      (AVX2 with F16 storage also needs F16C) */
    const aw_allocator *allocator; /* NULL: the heap */
    aw_index_element element;      /* 0: float32 */
} aw_index_desc;

/* What each vector carries besides its id; filters test it during the search. */
typedef struct aw_index_meta {
    uint32_t kind;     /* caller's category (memory kind...): filters can test kinds 0..63 */
    uint32_t reserved; /* 0 */
    uint64_t agent;    /* owning agent id */
    uint64_t tags;     /* tag bits */
    int64_t timestamp; /* caller's time units */
} aw_index_meta;

/* Which vectors a search may return; zero fields test nothing (a zeroed filter passes everything).
 * The graph walk still passes through vectors the filter rejects, so results stay good. */
typedef struct aw_index_filter {
    uint64_t kinds;      /* bit k set: kind k passes; 0: every kind */
    uint64_t tags_all;   /* every one of these bits set */
    uint64_t tags_any;   /* 0, or at least one of these bits set */
    uint64_t tags_none;  /* none of these bits set */
    uint64_t agent;      /* with match_agent: only this agent */
    int64_t time_min;    /* with match_time: time_min <= timestamp <= time_max */
    int64_t time_max;
    bool match_agent;
    bool match_time;
    /* Optional predicate after the fields above; called from the searching thread. */
    bool (*accept)(void *user, uint64_t id, const aw_index_meta *meta);
    void *user;
} aw_index_filter;

typedef struct aw_index_hit {
    uint64_t id;
    float distance;   /* by the metric, smaller is nearer (see aw_index_metric) */
    float similarity; /* cosine: cos; dot: the dot product; L2: -distance */
} aw_index_hit;

/* One search; zero fields take defaults. */
typedef struct aw_index_query {
    uint32_t k;                    /* results wanted (required, >= 1) */
    uint32_t ef_search;            /* 0: the index's; raised to k when smaller */
    const aw_index_filter *filter; /* NULL: everything */
    float *vectors;                /* optional: k * dim floats, row i gets hit i's stored vector
                                      (normalised under cosine), e.g. for MMR */
    aw_index_meta *metas;          /* optional: k entries, hit i's metadata */
} aw_index_query;

typedef struct aw_index_stats {
    uint32_t count;      /* live vectors */
    uint32_t nodes;      /* stored vectors, live and deleted (deleted ones go at compaction) */
    uint32_t tombstones; /* deleted, still stored */
    uint32_t max_level;  /* HNSW top layer */
    uint64_t bytes;      /* memory held by the index */
    aw_simd_level simd;  /* kernels in use */
} aw_index_stats;

typedef struct aw_index aw_index;
typedef struct aw_index_scratch aw_index_scratch;

/* NULL with aw_last_error() set: AW_ERR_INVALID_ARG (bad desc), AW_ERR_UNSUPPORTED (desc.simd the
 * CPU cannot run), AW_ERR_OUT_OF_MEMORY. */
aw_index *aw_index_create(const aw_index_desc *desc);
/* Exclusive: no search or write may be running. NULL is ignored. */
void aw_index_destroy(aw_index *idx);
/* The desc the index runs with (defaults filled in). */
aw_index_desc aw_index_get_desc(const aw_index *idx);

/* Inserts or replaces the vector (desc.dim floats) stored under id (any 64-bit value). A replaced
 * vector is tombstoned and a new one stored, so searches running meanwhile see the old or the new.
 * meta NULL: zeros. AW_ERR_INVALID_ARG for a non-finite value, or an all-zero vector under cosine;
 * AW_ERR_CAPACITY past 2^31 - 1 stored vectors; AW_ERR_OUT_OF_MEMORY (the index is unchanged). */
aw_status aw_index_upsert(aw_index *idx, uint64_t id, const float *vector, const aw_index_meta *meta);
/* Inserts or replaces n vectors (ids[i], vectors + i * dim, metas[i]; metas NULL: zeros), as n
 * upserts in order would, but faster: HNSW nodes are linked in batches of 256 whose neighbour
 * searches and reverse links run in parallel on jobs (NULL or 1 thread: on the caller). The graph
 * depends on the inputs alone, never on the thread count or timing (it differs from the one n
 * single upserts build). Searches may run meanwhile. Every vector is checked first:
 * AW_ERR_INVALID_ARG (naming the vector) changes nothing. AW_ERR_OUT_OF_MEMORY / AW_ERR_CAPACITY:
 * the items before the failing batch or item are stored, the rest are not. */
aw_status aw_index_upsert_batch(aw_index *idx, aw_jobs *jobs, const uint64_t *ids, const float *vectors,
                                const aw_index_meta *metas, uint32_t n);
/* Tombstones id: searches stop returning it at once; memory comes back at compaction.
 * AW_ERR_NOT_FOUND if id is not stored. */
aw_status aw_index_delete(aw_index *idx, uint64_t id);
/* Rebuilds without tombstones (same ids, vectors, metadata). Exclusive, like destroy.
 * AW_ERR_OUT_OF_MEMORY leaves the index as it was. */
aw_status aw_index_compact(aw_index *idx);
/* Live vectors. Safe beside searches and the writer. */
uint32_t aw_index_count(const aw_index *idx);
aw_index_stats aw_index_get_stats(const aw_index *idx);
/* Whether id is stored; its vector (dim floats, normalised under cosine; F16 storage: widened
 * back to float) and metadata when the pointers are not NULL. Writer side: call it from the
 * writing thread or when no write runs.
 * AW_ERR_NOT_FOUND if absent. */
aw_status aw_index_get(const aw_index *idx, uint64_t id, float *vector, aw_index_meta *meta);
/* The stored vector of id in place (dim floats, normalised under cosine), or NULL if absent or if
 * the index stores F16 (aw_index_get converts those). It stays readable, unchanged, until the index
 * is compacted or destroyed (an upsert of the same id stores a new vector beside it). Writer side,
 * as aw_index_get. */
const float *aw_index_vector(const aw_index *idx, uint64_t id);

/* Per-thread working memory of searches (visited marks, candidate heaps). It grows with the index
 * and is kept: a thread that reuses one stops allocating. One thread at a time; made for one index. */
aw_index_scratch *aw_index_scratch_create(const aw_index *idx);
void aw_index_scratch_destroy(aw_index_scratch *scratch);

/* The k nearest vectors to query (desc.dim floats) that pass filter, nearest first, into hits (k
 * entries); *count receives how many (fewer than k when fewer pass). scratch NULL: a temporary one
 * (allocates). AW_ERR_INVALID_ARG for k == 0, NULL pointers, a non-finite query; AW_ERR_OUT_OF_MEMORY
 * only when the scratch has to grow. */
aw_status aw_index_search(const aw_index *idx, aw_index_scratch *scratch, const float *query, uint32_t k,
                          const aw_index_filter *filter, aw_index_hit *hits, uint32_t *count);
/* The same with every option (ef_search, vectors and metadata of the hits). */
aw_status aw_index_search_ex(const aw_index *idx, aw_index_scratch *scratch, const float *query,
                             const aw_index_query *q, aw_index_hit *hits, uint32_t *count);
/* Whether meta passes filter (NULL passes everything), as searches decide it (without `accept`). */
bool aw_index_filter_match(const aw_index_filter *filter, const aw_index_meta *meta);

/* Writes the index to path as one versioned file with checksums: a temporary file beside it is
 * written, fsynced and renamed over path, then the directory is fsynced, so a crash at any moment
 * leaves the previous file or the new one, whole. Safe beside searches (it takes the writer lock).
 * AW_ERR_IO with the failing call in the message. */
aw_status aw_index_save(const aw_index *idx, const char *path);
/* Maps path and rebuilds the index from it (graph included, nothing recomputed). allocator NULL: the
 * heap. NULL with aw_last_error() set: AW_ERR_NOT_FOUND, AW_ERR_IO, AW_ERR_CORRUPT (bad magic,
 * version, size, checksum or structure: the message says which), AW_ERR_OUT_OF_MEMORY. */
aw_index *aw_index_load(const char *path, const aw_allocator *allocator);
/* The same from bytes in memory. */
aw_index *aw_index_load_memory(const void *data, size_t size, const aw_allocator *allocator);

/* One distance with a chosen kernel set (for tests and benchmarks): the metric's distance as searches
 * compute it, except that cosine does not normalise here (it is 1 - dot). AW_SIMD_AUTO: the best.
 * Returns NAN with AW_ERR_UNSUPPORTED recorded if the CPU cannot run `level`. */
float aw_index_distance(aw_index_metric metric, aw_simd_level level, const float *a, const float *b, uint32_t dim);
/* The widest kernel set this CPU runs. */
aw_simd_level aw_simd_best(void);
const char *aw_simd_level_str(aw_simd_level level);

/* ================================================================ semantic memory and vector stores
 * (src/rag/store*.c, src/rag/memory*.c). A store holds (id, vector, metadata) and answers
 * similarity queries with metadata filters; a backend vtable lets another server slot in beside the
 * local HNSW index and Chroma. Semantic memory keeps every memory's text, embedding and metadata
 * locally (the source of truth) and uses a store to find candidates. */

/* What a memory is about. Filters take a mask of (1u << kind). */
typedef enum aw_memory_kind {
    AW_MEMORY_EPISODIC = 0, /* something that happened to an agent */
    AW_MEMORY_SEMANTIC,     /* a fact an agent learned */
    AW_MEMORY_PROCEDURAL,   /* how to do something */
    AW_MEMORY_LORE,         /* world knowledge shared by everyone */
    AW_MEMORY_EXAMPLE,      /* a worked example (few-shot bank) */
    AW_MEMORY_KIND_COUNT
} aw_memory_kind;

/* "episodic", "semantic", "procedural", "lore", "example"; "?" out of range. */
const char *aw_memory_kind_name(aw_memory_kind kind);
/* The kind named `name`, or AW_ERR_NOT_FOUND. */
aw_status aw_memory_kind_parse(const char *name, aw_memory_kind *out);

/* ---------------------------------------------------------------- stores */

typedef struct aw_store_meta {
    uint32_t kind;    /* aw_memory_kind */
    uint64_t agent;   /* 0: nobody in particular; below 2^63 (servers store signed 64-bit) */
    double time;      /* seconds, any epoch the caller likes (game time) */
    float importance; /* 0..1 */
} aw_store_meta;

/* Zero is "no filter"; the conditions that are set must all hold. */
typedef struct aw_store_filter {
    uint32_t kinds; /* mask of (1u << kind); 0: any kind */
    bool by_agent;
    uint64_t agent;
    bool by_time; /* time_min <= time <= time_max */
    double time_min, time_max;
} aw_store_filter;

bool aw_store_filter_match(const aw_store_filter *filter, const aw_store_meta *meta);

typedef struct aw_store_hit {
    uint64_t id;
    float similarity; /* cosine similarity, best first */
} aw_store_hit;

/* A backend: the five operations a vector database needs to serve semantic memory. Ids are non-zero.
 * Vectors are `dim` floats with L2 norm 1. query may be called from several threads at once while
 * one thread upserts or removes (a backend that cannot must serialise internally). Errors go
 * through aw_error(): AW_ERR_UNAVAILABLE for a server that is down or answers with a server error,
 * AW_ERR_TIMEOUT for one too slow, AW_ERR_INVALID_ARG for requests it refused. */
typedef struct aw_store_backend {
    const char *name; /* "local", "chroma" */
    aw_status (*upsert)(void *self, const uint64_t *ids, const float *vectors, const aw_store_meta *meta,
                        uint32_t n);
    aw_status (*remove)(void *self, const uint64_t *ids, uint32_t n); /* unknown ids are ignored */
    /* Up to k best matches passing filter (NULL: none), best first, into hits; *found = how many. */
    aw_status (*query)(void *self, const float *vector, uint32_t k, const aw_store_filter *filter,
                       aw_store_hit *hits, uint32_t *found);
    aw_status (*count)(void *self, uint64_t *count);
    void (*close)(void *self);
    /* Optional (NULL for remote backends): the stored vector of id, unit length, kept in this
     * process and valid until the store is closed; NULL if absent. Lets semantic memory keep each
     * embedding once. Called from the writing thread. */
    const float *(*vector)(void *self, uint64_t id);
} aw_store_backend;

typedef struct aw_store aw_store;

/* Wraps a backend; the store owns `self` and calls backend->close(self) on aw_store_close.
 * NULL with AW_ERR_INVALID_ARG (missing operations, dim 0) or AW_ERR_OUT_OF_MEMORY. */
aw_store *aw_store_create(const aw_store_backend *backend, void *self, uint32_t dim, const aw_allocator *allocator);

typedef struct aw_store_local_desc {
    uint32_t dim;                  /* 0: AW_EMBED_DIM */
    uint32_t m;                    /* HNSW links per node (0: the index's default) */
    uint32_t ef_construction;      /* 0: the index's default */
    uint32_t ef_search;            /* 0: the index's default */
    bool exact;                    /* the exact flat index instead of HNSW (ground truth, baselines) */
    aw_index_element element;      /* how vectors are stored (0: float32); F16 cannot lend them out
                                      in place, so aw_store_vector returns NULL */
    aw_jobs *jobs;                 /* links upserted vectors in parallel (aw_index_upsert_batch);
                                      NULL: on the caller. The graph is the same either way. */
    const aw_allocator *allocator; /* NULL: the heap */
} aw_store_local_desc;
/* The in-process backend: the HNSW (or flat) index of src/rag, cosine. Queries ask for at most
 * 1024 hits (more are capped); up to 16 threads query at once without allocating. */
aw_store *aw_store_open_local(const aw_store_local_desc *desc);

typedef struct aw_store_chroma_desc {
    const char *url;        /* server root, e.g. "http://127.0.0.1:8000" (required) */
    const char *collection; /* 3-512 of [a-zA-Z0-9._-] (required); made if missing (cosine space) */
    const char *tenant;     /* NULL: "default_tenant" */
    const char *database;   /* NULL: "default_database" */
    uint32_t dim;           /* 0: AW_EMBED_DIM */
    uint32_t timeout_ms;    /* per request (0: 5000) */
    const aw_allocator *allocator;
} aw_store_chroma_desc;
/* A Chroma server (REST API v2) through libcurl. Opening gets or creates the collection, so it
 * fails with AW_ERR_UNAVAILABLE when the server is down (message names the URL and the cause). */
aw_store *aw_store_open_chroma(const aw_store_chroma_desc *desc);

const char *aw_store_backend_name(const aw_store *store);
uint32_t aw_store_dim(const aw_store *store);
aw_status aw_store_upsert(aw_store *store, const uint64_t *ids, const float *vectors, const aw_store_meta *meta,
                          uint32_t n);
aw_status aw_store_delete(aw_store *store, const uint64_t *ids, uint32_t n);
aw_status aw_store_query(aw_store *store, const float *vector, uint32_t k, const aw_store_filter *filter,
                         aw_store_hit *hits, uint32_t *found);
aw_status aw_store_count(aw_store *store, uint64_t *count);
/* The backend's `vector` (NULL when it has none, or id is absent). */
const float *aw_store_vector(const aw_store *store, uint64_t id);
/* NULL is ignored. */
void aw_store_close(aw_store *store);

/* ---------------------------------------------------------------- semantic memory */

typedef struct aw_memory aw_memory;

#define AW_MEMORY_FIT_COUNT 2048u /* memories added before the owned store switches to search_dim;
                                     the fit samples at most this many */
#define AW_MEMORY_REFINE    100u  /* candidates re-scored at least, when the store is projected */

typedef struct aw_memory_desc {
    aw_encoder *encoder;           /* embeds texts added without an embedding and query texts; NULL:
                                      every add and query brings its embedding */
    aw_store *store;               /* where candidates are searched; NULL: a local HNSW store that
                                      the memory owns. A given store stays the caller's. */
    aw_store_local_desc local;     /* the owned local store's settings (ef_construction 0: 100;
                                      element 0: F16, as the memory keeps float copies for scoring) */
    uint32_t search_dim;           /* the owned HNSW store indexes the embeddings projected onto
                                      this many principal directions (a multiple of 32), fitted on
                                      the first AW_MEMORY_FIT_COUNT memories; retrieval asks it for at
                                      least AW_MEMORY_REFINE candidates and re-scores them on the full
                                      embeddings. 0: 128; AW_EMBED_DIM: no projection. Only for the
                                      owned HNSW store (exact stores and given stores: AW_EMBED_DIM) */
    aw_jobs *jobs;                 /* runs asynchronous requests, and the owned local store's
                                      parallel inserts (unless local.jobs is set); NULL or 1
                                      thread: they run inline inside aw_memory_submit / add */
    const aw_allocator *allocator; /* NULL: the heap */
    /* Retrieval score = w_similarity * cosine + w_recency * 0.5^(age / recency_half_life)
     *                 + w_importance * importance. All three 0: 1.0, 0.15, 0.15. */
    float w_similarity, w_recency, w_importance;
    double recency_half_life;      /* seconds (0: 3600) */
    float consolidate_threshold;   /* cosine at which two memories of one kind and agent merge (0: 0.95) */
    double forget_half_life;       /* strength = importance * 0.5^(age / forget_half_life) (0: 86400) */
    float forget_below;            /* forgetting drops memories weaker than this (0: 0.05) */
    uint32_t protected_kinds;      /* mask never forgotten (0: lore and example) */
    uint32_t max_requests;         /* asynchronous requests in flight at once (0: 64) */
} aw_memory_desc;

/* NULL with aw_last_error() set (AW_ERR_INVALID_ARG, AW_ERR_OUT_OF_MEMORY, the local store's errors). */
aw_memory *aw_memory_create(const aw_memory_desc *desc);
/* Waits for asynchronous requests still running, then frees everything. NULL is ignored. */
void aw_memory_destroy(aw_memory *mem);

typedef struct aw_memory_item {
    uint64_t id;              /* non-zero; adding an id that exists replaces it */
    const char *text;         /* NUL-terminated UTF-8 (required, may be empty) */
    const float *embedding;   /* AW_EMBED_DIM floats, or NULL: the encoder embeds text */
    aw_memory_kind kind;
    uint64_t agent;
    double time;
    float importance;         /* 0..1 */
    uint32_t merged;          /* (out) memories merged into this one by consolidation */
} aw_memory_item;

/* Adds (or replaces) n memories: texts without embeddings are embedded in one batch, everything is
 * kept locally, then sent to the store. When the store fails (a server down) the memories stay,
 * marked unsynced, and the store's status (AW_ERR_UNAVAILABLE...) is returned: aw_memory_sync
 * sends them later. Other errors (bad item, no encoder, out of memory) change nothing. */
aw_status aw_memory_add(aw_memory *mem, const aw_memory_item *items, uint32_t n);
/* Removes a memory. AW_ERR_NOT_FOUND if there is none; a store failure as in aw_memory_add (the
 * memory is gone locally, its deletion waits for aw_memory_sync). */
aw_status aw_memory_forget(aw_memory *mem, uint64_t id);
/* The memory `id`; pointers stay valid until the memory next changes. */
aw_status aw_memory_get(const aw_memory *mem, uint64_t id, aw_memory_item *out);
uint32_t aw_memory_count(const aw_memory *mem);
/* Memories and deletions waiting for the store. */
uint32_t aw_memory_unsynced(const aw_memory *mem);
/* Sends what a failing store missed; AW_OK when nothing waits any more. */
aw_status aw_memory_sync(aw_memory *mem);
/* The store candidates come from. The owned store is replaced once, when it switches to the
 * projected space (aw_store_dim then gives search_dim). */
const aw_store *aw_memory_store(const aw_memory *mem);
/* The owned store's search projection. Energy is the mean share of a unit embedding's square
 * norm its projection keeps: fit_energy over the sample it was fitted on, recent_energy over the
 * memories added since. A recent_energy well below fit_energy means new memories lie outside the
 * fitted directions (search recall falls; scores stay exact): aw_memory_refit. */
typedef struct aw_memory_search_stats {
    uint32_t dim;             /* what the store indexes: search_dim once projected, else AW_EMBED_DIM */
    uint32_t fits;            /* projections fitted so far */
    float fit_energy;         /* 0 before the first fit */
    float recent_energy;      /* 0 when nothing was added since the fit */
    uint32_t added_since_fit; /* memories added (or replaced) since the fit */
} aw_memory_search_stats;
aw_memory_search_stats aw_memory_get_search_stats(const aw_memory *mem);
/* Fits the projection again on an even sample of the memories as they are and rebuilds the owned
 * store with it, on the calling thread (about the cost of adding every memory again; requests in
 * flight finish first). AW_ERR_UNSUPPORTED without a projection (search_dim AW_EMBED_DIM, an exact
 * or a given store), AW_ERR_INVALID_ARG on an empty memory; on failure the store stays as it was. */
aw_status aw_memory_refit(aw_memory *mem);

typedef enum aw_memory_ranker {
    AW_RANKER_MEMORY = 0, /* the retrieval score above over the store's candidates */
    AW_RANKER_SIMILARITY, /* cosine alone (relevance evaluation) */
    AW_RANKER_OVERLAP     /* word overlap with the text, no embeddings: the old engine's baseline */
} aw_memory_ranker;

typedef struct aw_memory_query {
    const char *text;        /* embedded with the encoder, unless embedding is given */
    const float *embedding;
    uint32_t k;              /* hits wanted (0: 10) */
    aw_store_filter filter;
    double now;              /* for recency (seconds, same epoch as the memories' times) */
    aw_memory_ranker ranker;
    uint32_t candidates;     /* fetched from the store before re-ranking (0: max(4k, 40), capped at 1024) */
    float mmr_lambda;        /* 0: no MMR; else MMR picks argmax lambda*score - (1-lambda)*max cosine
                                to the hits already picked (1: plain ranking) */
    uint32_t timeout_ms;     /* asynchronous requests only: poll says AW_ERR_TIMEOUT after this (0: never) */
} aw_memory_query;

typedef struct aw_memory_hit {
    uint64_t id;
    float score;      /* the ranker's score */
    float similarity; /* cosine (0 under the overlap ranker) */
} aw_memory_hit;

/* Up to min(k, cap) best memories, best first, ties by lower id. Synchronous: it embeds the text
 * and searches on the calling thread. */
aw_status aw_memory_retrieve(aw_memory *mem, const aw_memory_query *query, aw_memory_hit *hits, uint32_t cap,
                             uint32_t *found);

/* Asynchronous retrieval for the game loop. submit copies the query and starts a job that embeds
 * and searches on a worker; poll, on a later frame, returns AW_ERR_PENDING until the worker is done,
 * then re-ranks on the calling thread (against the memory as it is then) and hands the hits over,
 * after which the request is gone. Neither call waits for the worker. The overlap ranker is
 * synchronous only (AW_ERR_UNSUPPORTED). AW_ERR_CAPACITY when
 * max_requests are in flight; AW_ERR_TIMEOUT from poll when query.timeout_ms passed first (the
 * request is gone then too); a stale request is AW_ERR_NOT_FOUND. Submit, poll and every other
 * aw_memory call belong to one thread (the game thread); only the job runs elsewhere. */
typedef struct aw_memory_request {
    uint32_t slot;
    uint32_t generation;
} aw_memory_request;
aw_status aw_memory_submit(aw_memory *mem, const aw_memory_query *query, aw_memory_request *out);
aw_status aw_memory_poll(aw_memory *mem, aw_memory_request request, aw_memory_hit *hits, uint32_t cap,
                         uint32_t *found);
/* Drops a request; a worker still on it finishes and its result is discarded. */
void aw_memory_cancel(aw_memory *mem, aw_memory_request request);

/* Merges near-duplicates: in ascending id order, each memory absorbs the later ones of its kind and
 * agent whose cosine is >= threshold (0: desc's), keeping the higher importance, the later time and
 * counting them in `merged`. Deterministic. *merged_out = memories removed (may be NULL). */
aw_status aw_memory_consolidate(aw_memory *mem, float threshold, uint32_t *merged_out);
/* Forgets every unprotected memory whose strength at `now` is below desc.forget_below.
 * *forgotten_out may be NULL. */
aw_status aw_memory_decay(aw_memory *mem, double now, uint32_t *forgotten_out);
/* The strength forgetting uses: importance * 0.5^(max(now - time, 0) / forget_half_life). */
float aw_memory_strength(const aw_memory *mem, const aw_memory_item *item, double now);

/* Saves every memory (texts, embeddings, metadata) to one file: written to PATH.tmp, fsynced and
 * renamed, so a failed save leaves the previous file. */
aw_status aw_memory_save(const aw_memory *mem, const char *path);
/* Adds the memories of a file written by aw_memory_save (the local index is rebuilt from their
 * embeddings). AW_ERR_NOT_FOUND / AW_ERR_IO, AW_ERR_PARSE (not such a file, other version,
 * dimension), AW_ERR_CORRUPT (checksum, truncation, bad records); nothing is added then. A store
 * failure is as in aw_memory_add (kept, unsynced). */
aw_status aw_memory_load(aw_memory *mem, const char *path);
/* The same from bytes in memory (what the file holds). */
aw_status aw_memory_load_bytes(aw_memory *mem, const void *data, size_t size);

/* Adds documents from JSON lines {"id": N, "text": "...", "kind": "lore", "agent": N,
 * "importance": x, "time": t} (kind, agent, importance, time optional: lore, 0, 0.5, 0), embedding
 * them in batches. AW_ERR_PARSE names the line. *added may be NULL. */
aw_status aw_memory_import_jsonl(aw_memory *mem, const char *path, uint32_t *added);

/* ---------------------------------------------------------------- relevance evaluation */

typedef struct aw_rag_eval_result {
    uint32_t queries;
    double recall_at_1, recall_at_5, recall_at_10; /* |relevant in top k| / |relevant|, averaged */
    double mrr;                                    /* 1 / rank of the first relevant hit (0 if none in top 10) */
    double ndcg_at_10;                             /* binary gains, log2 discount */
} aw_rag_eval_result;

/* Accumulates one query: `ranked` ids best first (n of them, at least the top 10 if there are),
 * `relevant` the labelled ids. Call aw_rag_eval_finish to average. */
void aw_rag_eval_add(aw_rag_eval_result *acc, const uint64_t *ranked, uint32_t n, const uint64_t *relevant,
                     uint32_t relevant_count);
void aw_rag_eval_finish(aw_rag_eval_result *acc);
/* Runs every query of a JSON-lines file {"query": "...", "relevant": [ids]} through
 * aw_memory_retrieve with `base` (its text, k are set per query) and scores the top 10. */
aw_status aw_memory_eval_jsonl(aw_memory *mem, const char *path, const aw_memory_query *base,
                               aw_rag_eval_result *out);
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
