/* Distance kernels of the vector index: dot product and squared L2 in scalar C, AVX2+FMA and
 * AVX-512F, the set picked at run time (__builtin_cpu_supports), plus aw_index_distance for tests. */
#include <math.h>
#include <string.h>

#include "rag/index_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define IDX_X86 1
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- scalar */

/* Four running sums, so the compiler may vectorise without reassociating a single sum. */
static float dot_scalar(const float *a, const float *b, uint32_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float l2sq_scalar(const float *a, const float *b, uint32_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

#ifdef IDX_X86
/* ---------------------------------------------------------------- AVX2 + FMA */

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Two accumulators hide the FMA latency; any tail is done in scalar. */
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, uint32_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2,fma"))) static float l2sq_avx2(const float *a, const float *b, uint32_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

/* ---------------------------------------------------------------- AVX-512F */

/* Blocks of 32 with two accumulators, then one of 16, then a masked tail. */
__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b, uint32_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    uint32_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static float l2sq_avx512(const float *a, const float *b, uint32_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    uint32_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#endif

/* ---------------------------------------------------------------- dispatch */

static bool cpu_runs(aw_simd_level level) {
    switch (level) {
    case AW_SIMD_SCALAR: return true;
#ifdef IDX_X86
    case AW_SIMD_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case AW_SIMD_AVX512: __builtin_cpu_init(); return __builtin_cpu_supports("avx512f");
#endif
    default: return false;
    }
}

aw_simd_level aw_simd_best(void) {
    if (cpu_runs(AW_SIMD_AVX512)) return AW_SIMD_AVX512;
    if (cpu_runs(AW_SIMD_AVX2)) return AW_SIMD_AVX2;
    return AW_SIMD_SCALAR;
}

const char *aw_simd_level_str(aw_simd_level level) {
    switch (level) {
    case AW_SIMD_AUTO: return "auto";
    case AW_SIMD_SCALAR: return "scalar";
    case AW_SIMD_AVX2: return "avx2";
    case AW_SIMD_AVX512: return "avx512";
    default: return "unknown";
    }
}

bool idx_kernels_get(aw_simd_level level, idx_kernels *out) {
    if (level == AW_SIMD_AUTO) level = aw_simd_best();
    if ((unsigned)level >= AW_SIMD_LEVEL_COUNT || !cpu_runs(level)) return false;
    out->level = level;
    switch (level) {
#ifdef IDX_X86
    case AW_SIMD_AVX2:
        out->dot = dot_avx2;
        out->l2sq = l2sq_avx2;
        return true;
    case AW_SIMD_AVX512:
        out->dot = dot_avx512;
        out->l2sq = l2sq_avx512;
        return true;
#endif
    default:
        out->dot = dot_scalar;
        out->l2sq = l2sq_scalar;
        return true;
    }
}

float aw_index_distance(aw_index_metric metric, aw_simd_level level, const float *a, const float *b, uint32_t dim) {
    idx_kernels k;
    if (!a || !b || (unsigned)metric >= AW_INDEX_METRIC_COUNT) {
        aw_error(AW_ERR_INVALID_ARG, "aw_index_distance: NULL vector or bad metric");
        return NAN;
    }
    if (!idx_kernels_get(level, &k)) {
        aw_error(AW_ERR_UNSUPPORTED, "aw_index_distance: this CPU cannot run the %s kernels", aw_simd_level_str(level));
        return NAN;
    }
    switch (metric) {
    case AW_INDEX_L2: return k.l2sq(a, b, dim);
    case AW_INDEX_DOT: return -k.dot(a, b, dim);
    default: return 1.0f - k.dot(a, b, dim);
    }
}
