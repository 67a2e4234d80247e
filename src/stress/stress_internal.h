/* Shared by the stress framework's files (src/stress only). */
#ifndef AW_STRESS_INTERNAL_H
#define AW_STRESS_INTERNAL_H

#include "aw/stress.h"

#include <stdatomic.h>

extern const aw_stress_scenario aw_stress_seed_profile;
extern const aw_stress_scenario aw_stress_combat;
extern const aw_stress_scenario aw_stress_particles;

/* A counting allocator over the heap, one per module a scenario names. */
typedef struct stress_module {
    char name[AW_STRESS_NAME_SIZE];
    aw_allocator allocator; /* .user points back here */
    _Atomic uint64_t allocs, reallocs, bytes;
} stress_module;

struct aw_stress_ctx {
    stress_module modules[AW_STRESS_MAX_MODULES];
    _Atomic uint32_t module_count;
};

/* Prints a table of the comparison; shared with the report printer's number formatting. */
const char *stress_verdict_str(aw_stress_verdict verdict);

#endif /* AW_STRESS_INTERNAL_H */
