/* The LLM orchestrator's scenarios of the "ai" benchmark suite (run by aw_bench_ai_run): what it costs on the game's side of the wire (prompt
 * building with and without few-shot selection, answer parsing), never the network or the model. */
#ifndef AW_BENCH_LLM_H
#define AW_BENCH_LLM_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs every scenario that passes options->filter and appends one result per scenario to report
 * (suite "ai"). Prompt scenarios need the model's tokenizer and encoder (scripts/rag-setup.sh);
 * without it they are skipped with a note on stderr and the others still run. AW_OK unless the
 * report could not grow. */
aw_status aw_bench_ai_llm_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_LLM_H */
