/* Semantic memory's internals, shared by src/rag/memory*.c: the memory's columns, the re-ranking
 * every retrieval path ends with, and the asynchronous request slots. */
#ifndef AW_RAG_MEMORY_INTERNAL_H
#define AW_RAG_MEMORY_INTERNAL_H

#include <stdatomic.h>

#include "aw/rag.h"

#define MEM_DIM            AW_EMBED_DIM
#define MEM_MAX_CANDIDATES 1024u
#define MEM_SEARCH_DIM     128u  /* search_dim 0 */
#define MEM_PUSH_ROWS      256u  /* rows sent to the store per upsert */
#define MEM_ADD_KEEP       1024u /* add scratch kept between calls, in rows (a bigger one is freed) */

/* The projection the owned local store indexes (memory_projection.c): basis column k is the k-th
 * kept direction. Read-only while it serves (a refit replaces it once no request runs), so any
 * thread may project a single vector. */
typedef struct mem_projection {
    uint32_t dim;
    float *basis;  /* [MEM_DIM][dim] row-major */
    float *packed; /* the basis packed for rag_gemm */
    float *work;   /* rag_gemm's work area: mem_project_batch only, on the memory's own thread */
    int kernel;    /* rag_kernel */
    float energy;  /* share of the sample's second moment the directions keep */
} mem_projection;

/* Fits dim directions (a multiple of 32) to the n unit rows. */
aw_status mem_projection_fit(mem_projection *p, const aw_allocator *a, uint32_t dim, const float *const *rows,
                             uint32_t n);
void mem_projection_free(mem_projection *p, const aw_allocator *a);
/* n rows of MEM_DIM floats -> n rows of p->dim (the memory's own thread: it uses p->work). */
void mem_project_batch(mem_projection *p, const float *in, uint32_t n, float *out);
/* One vector, on any thread. */
void mem_project_one(const mem_projection *p, const float *in, float *out);

enum { REQ_FREE = 0, REQ_RUNNING, REQ_DONE, REQ_ABANDONED };

/* One asynchronous retrieval. The game thread owns everything but `state`, `status`, `cands`,
 * `cand_count`, `vec` and `error` while state is REQ_RUNNING; the worker then owns those, and hands
 * them back by moving state to REQ_DONE (release). */
typedef struct mem_request {
    _Atomic int state;
    uint32_t generation;
    aw_memory *mem;
    aw_memory_query query; /* text points into `text` */
    char *text;
    size_t text_cap;
    float vec[MEM_DIM];
    float projected[MEM_DIM]; /* vec in the store's space, when the store indexes a projection */
    bool has_vec;
    bool project;  /* the memory projected its store when this request was submitted */
    uint32_t keep; /* candidates kept after re-scoring on the full embeddings */
    aw_store_hit *cands; /* MEM_MAX_CANDIDATES, made on first use */
    uint32_t cand_count;
    uint32_t cand_want;
    aw_status status;
    char error[256];
    uint64_t deadline_ns; /* 0: none */
    aw_job job;
} mem_request;

struct aw_memory {
    const aw_allocator *allocator;
    aw_encoder *encoder;
    aw_store *store;
    bool owns_store;
    /* The owned local store indexes each embedding projected onto search_dim principal directions
     * once AW_MEMORY_FIT_COUNT memories have been added (until then, and with search_dim MEM_DIM,
     * the full embeddings); `local` reopens it in the projected space. */
    uint32_t search_dim;
    bool projected;
    mem_projection proj;
    uint32_t fits, added_since_fit;
    double energy_since_fit; /* sum of the square norms of the projections added since the fit */
    aw_store_local_desc local;
    aw_jobs *jobs;
    float w_sim, w_rec, w_imp;
    double recency_half_life, forget_half_life;
    float consolidate_threshold, forget_below;
    uint32_t protected_kinds;

    /* One row per memory (columns); rows move on removal (the last row fills the hole). */
    uint32_t count, cap;
    uint64_t *ids;
    aw_store_meta *meta;
    uint32_t *merged;
    char **texts; /* each its own allocation of text_len + 1 bytes */
    uint32_t *text_len;
    bool *unsynced;
    /* Each row's embedding (MEM_DIM floats, unit length), stored once: once synced to a store that
     * keeps vectors in this process (the local store), the store's copy; otherwise (unsynced rows,
     * remote stores) the memory's own allocation, flagged in vec_owned. */
    const float **vec;
    bool *vec_owned;
    aw_map row_of; /* id -> row */
    uint32_t unsynced_count;
    uint64_t *pending_deletes;
    uint32_t pending_count, pending_cap;

    /* Re-ranking scratch, sized for MEM_MAX_CANDIDATES: no allocation per query. */
    aw_store_hit *cands;
    aw_memory_hit *ranked;
    float *max_sim;
    /* Scratch of the add path, kept between calls: fresh blocks of this size cost a page fault per
     * 4 KiB, which on a virtual machine took more than the rest of an add. */
    float *add_vec, *push_vec, *proj_vec; /* floats: add_cap * MEM_DIM, MEM_PUSH_ROWS * MEM_DIM and
                                             MEM_PUSH_ROWS * search_dim */
    uint32_t add_cap;
    float query_vec[MEM_DIM];
    float query_proj[MEM_DIM]; /* query_vec in the store's space when it is projected */

    mem_request *requests;
    uint32_t request_count;
};

/* The candidates a query ranks (of the memory's `count`). */
uint32_t mem_candidate_count(const aw_memory_query *q, uint32_t count);
/* How many the store is asked for to end with `keep` candidates: more when it searches a projection,
 * since its order is then approximate and the full embeddings decide. */
uint32_t mem_fetch_count(const aw_memory *mem, uint32_t keep);
/* The vector to search the store with: qvec itself, or its projection written to `out`. */
const float *mem_store_query_vector(const aw_memory *mem, const float *qvec, float *out);
/* Turns store candidates into ranked hits (score, MMR) against the memory as it is now; of n
 * candidates, the `keep` most similar by the full embeddings are ranked. */
uint32_t mem_rank(aw_memory *mem, const aw_memory_query *q, const float *qvec, const aw_store_hit *cands,
                  uint32_t n, uint32_t keep, aw_memory_hit *hits, uint32_t cap);
/* The word-overlap baseline over every memory that passes the filter. */
uint32_t mem_rank_overlap(aw_memory *mem, const aw_memory_query *q, aw_memory_hit *hits, uint32_t cap);
/* Dot product of two MEM_DIM vectors (cosine for unit vectors). */
float mem_dot(const float *a, const float *b);
bool mem_hit_before(const aw_memory_hit *a, const aw_memory_hit *b);

/* Checks a query's fields (ranker, lambda, time). */
aw_status mem_check_query(const aw_memory_query *q);
/* The query's unit vector: its embedding normalised, or its text embedded. Thread-safe. */
aw_status mem_query_vector(aw_memory *mem, const aw_memory_query *q, float *qvec);

void mem_requests_destroy(aw_memory *mem);
/* Waits until no request is running (each one's job done). */
void mem_requests_quiesce(aw_memory *mem);

#endif /* AW_RAG_MEMORY_INTERNAL_H */
