/* The "index" benchmark suite: approximate-nearest-neighbour quality and speed of the vector index
 * (src/rag) beside hnswlib and FAISS HNSW, on Fashion-MNIST-784, GloVe-100 and a synthetic set. */
#ifndef AW_BENCH_INDEX_H
#define AW_BENCH_INDEX_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs each dataset whose name passes options->filter ("synth", "fmnist", "glove"); a dataset that
 * is not installed is skipped with a note saying how to get it. options->entities left at its
 * default means quick sizes (about a minute on two cores); any other value caps the base vectors
 * of each dataset (100000000: whole datasets, all their queries). Returns AW_OK unless the report
 * could not grow. */
aw_status aw_bench_index_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_INDEX_H */
