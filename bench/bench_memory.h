/* Semantic memory benchmark (aw-bench memory, aw-rag bench): see bench_memory.c. */
#ifndef AW_BENCH_MEMORY_H
#define AW_BENCH_MEMORY_H

#include "bench.h"

aw_status aw_bench_memory_run(const aw_bench_options *options, aw_bench_report *report);

#endif /* AW_BENCH_MEMORY_H */
