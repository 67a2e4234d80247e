/* The registry of built-in stress scenarios: a constant table, so adding one (combat with the AI
 * issue, particles with the particle issue) is one line here and its own file. */
#include "stress/stress_internal.h"

#include <string.h>

static const aw_stress_scenario *const scenarios[] = {
    &aw_stress_seed_profile,
    &aw_stress_combat,
    &aw_stress_particles,
    NULL,
};

const aw_stress_scenario *const *aw_stress_scenarios(void) {
    return scenarios;
}

const aw_stress_scenario *aw_stress_scenario_find(const char *name) {
    if (!name) return NULL;
    for (const aw_stress_scenario *const *s = scenarios; *s; s++)
        if (strcmp((*s)->name, name) == 0) return *s;
    return NULL;
}
