/* Other HNSW implementations for the index benchmark, behind plain C functions: hnswlib (header-only
 * C++) and FAISS's IndexHNSWFlat (C++), both from Debian packages. bench/ann_peers.cpp implements
 * them; without those packages it is not built and ann_peer_available says so. */
#ifndef AW_BENCH_ANN_PEERS_H
#define AW_BENCH_ANN_PEERS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ann_peer_lib { ANN_PEER_HNSWLIB = 0, ANN_PEER_FAISS, ANN_PEER_COUNT } ann_peer_lib;
typedef enum ann_peer_metric { ANN_PEER_L2 = 0, ANN_PEER_INNER_PRODUCT } ann_peer_metric;

typedef struct ann_peer ann_peer;

/* Whether the library was built in; its name ("hnswlib", "faiss"). */
int ann_peer_available(ann_peer_lib lib);
const char *ann_peer_name(ann_peer_lib lib);

/* An empty HNSW index with the given links per node (m) and build candidate list (ef_construction).
 * NULL on failure (the message goes to stderr). Single-threaded: FAISS's OpenMP is set to 1 thread. */
ann_peer *ann_peer_create(ann_peer_lib lib, uint32_t dim, ann_peer_metric metric, uint32_t m, uint32_t ef_construction,
                          uint32_t max_elements);
/* Adds n vectors (dim floats each), one at a time, with labels first..first+n-1. 0 on success. */
int ann_peer_add(ann_peer *p, const float *data, uint32_t n, uint64_t first);
/* The same from `threads` threads at once, as each library builds in parallel: hnswlib's addPoint
 * called from that many threads taking the next vector in turn (its own per-node locks), FAISS's
 * add with OpenMP at that many threads. Labels as above. 0 on success. */
int ann_peer_add_parallel(ann_peer *p, const float *data, uint32_t n, uint64_t first, uint32_t threads);
void ann_peer_set_ef(ann_peer *p, uint32_t ef_search);
/* The k nearest labels to q, nearest first; returns how many. */
uint32_t ann_peer_search(ann_peer *p, const float *q, uint32_t k, uint64_t *labels);
/* Bytes the index holds for vectors and graph. */
size_t ann_peer_bytes(const ann_peer *p);
void ann_peer_destroy(ann_peer *p);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_ANN_PEERS_H */
