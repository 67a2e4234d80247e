/* The "ai" benchmark suite: GOAP planning on 10- and 20-action domains (against brute-force search
 * in the same run), a behavior-tree tick, a utility selection, step validation, and the whole
 * perception -> planning -> validation -> action loop per agent per frame. */
#ifndef AW_BENCH_AI_H
#define AW_BENCH_AI_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

aw_status aw_bench_ai_run(const aw_bench_options *options, aw_bench_report *report);

#ifdef __cplusplus
}
#endif

#endif /* AW_BENCH_AI_H */
