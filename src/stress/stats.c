/* Frame-time statistics for the stress runs: mean, interpolated percentiles, extremes. */
#include "aw/stress.h"

#include <stdlib.h>
#include <string.h>

double aw_stress_percentile(const double *sorted, uint32_t count, double p) {
    if (!sorted || !count) return 0.0;
    if (!(p > 0.0)) return sorted[0];
    if (p >= 100.0) return sorted[count - 1];
    double rank = p / 100.0 * (double)(count - 1);
    uint32_t lo = (uint32_t)rank;
    double frac = rank - (double)lo;
    if (lo + 1 >= count) return sorted[count - 1];
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

aw_stress_stats aw_stress_stats_compute(const double *samples, uint32_t count, double *scratch) {
    aw_stress_stats s = {.count = count};
    if (!samples || !scratch || !count) return s;
    if (scratch != samples) memcpy(scratch, samples, (size_t)count * sizeof *scratch);
    qsort(scratch, count, sizeof *scratch, cmp_double);
    /* Summing the sorted values, smallest first, keeps the rounding error lowest. */
    double sum = 0.0;
    for (uint32_t i = 0; i < count; i++) sum += scratch[i];
    s.mean = sum / (double)count;
    s.min = scratch[0];
    s.max = scratch[count - 1];
    s.p50 = aw_stress_percentile(scratch, count, 50.0);
    s.p95 = aw_stress_percentile(scratch, count, 95.0);
    s.p99 = aw_stress_percentile(scratch, count, 99.0);
    return s;
}
