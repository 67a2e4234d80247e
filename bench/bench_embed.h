/* The "embed" benchmark suite: sentence-embedding latency and throughput of the USE-lite encoder
 * (src/rag), beside the TF.js reference timing the same sentences in the same run. */
#ifndef AW_BENCH_EMBED_H
#define AW_BENCH_EMBED_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs every scenario that passes options->filter and appends one result per scenario to report.
 * Needs the model (scripts/rag-setup.sh); without it every scenario fails with the fetch hint. The
 * TF.js baseline needs node and the reference packages; without them results have no baseline.
 * Returns AW_OK unless the report itself could not grow. */
aw_status aw_bench_embed_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_EMBED_H */
