/* Semantic memory's internals, shared by src/rag/memory*.c: the memory's columns, the re-ranking
 * every retrieval path ends with, and the asynchronous request slots. */
#ifndef AW_RAG_MEMORY_INTERNAL_H
#define AW_RAG_MEMORY_INTERNAL_H

#include <stdatomic.h>

#include "aw/rag.h"

#define MEM_DIM            AW_EMBED_DIM
#define MEM_MAX_CANDIDATES 1024u

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
    bool has_vec;
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
    float query_vec[MEM_DIM];

    mem_request *requests;
    uint32_t request_count;
};

/* The candidates a query fetches from the store. */
uint32_t mem_candidate_count(const aw_memory_query *q, uint32_t count);
/* Turns store candidates into ranked hits (score, MMR) against the memory as it is now. */
uint32_t mem_rank(aw_memory *mem, const aw_memory_query *q, const float *qvec, const aw_store_hit *cands,
                  uint32_t n, aw_memory_hit *hits, uint32_t cap);
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

#endif /* AW_RAG_MEMORY_INTERNAL_H */
