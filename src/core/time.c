/* Monotonic time: frame timing and benchmarks must not jump when the wall clock is adjusted. */
#include "aw/core.h"

#include <time.h>

uint64_t aw_time_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double aw_time_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Seconds and nanoseconds are converted apart so long uptimes keep nanosecond detail. */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
