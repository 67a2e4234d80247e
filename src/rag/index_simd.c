/* Distance kernels of the vector index: dot product and squared L2 of a float32 query against a
 * float32 or IEEE half stored vector, and half <-> float conversion, in scalar C, AVX2+FMA(+F16C)
 * and AVX-512F, the set picked at run time (__builtin_cpu_supports), plus aw_index_distance for
 * tests. The scalar conversions round as the hardware does (to nearest even), so every level
 * stores the same bits. */
#include <math.h>
#include <string.h>

#include "rag/index_internal.h"
#include "rag/rag_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define IDX_X86 1
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- scalar */

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = h >> 10 & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else {
        float f = (float)man * 0x1p-24f; /* subnormal or zero: exact */
        return sign ? -f : f;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)(x >> 16 & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u;  /* NaN */
    if (ax >= 0x477ff000u) return sign | 0x7c00u; /* 65520 and up round to infinity */
    if (ax < 0x38800000u) {                        /* under 2^-14: a subnormal half, or zero */
        float a;
        memcpy(&a, &ax, 4);
        return sign | (uint16_t)lrintf(a * 0x1p24f); /* exact product, rounded to nearest even */
    }
    /* Rebias the exponent (127 - 15), then round the 13 dropped bits to nearest even. */
    ax += 0xc8000fffu + (ax >> 13 & 1u);
    return sign | (uint16_t)(ax >> 13);
}

static void widen_scalar(const uint16_t *in, float *out, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) out[i] = half_to_float(in[i]);
}

static void narrow_scalar(const float *in, uint16_t *out, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) out[i] = float_to_half(in[i]);
}

/* Four running sums, so the compiler may vectorise without reassociating a single sum. */
static float dot_scalar(const float *a, const void *vb, uint32_t n) {
    const float *b = vb;
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

static float l2sq_scalar(const float *a, const void *vb, uint32_t n) {
    const float *b = vb;
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

static float dot16_scalar(const float *a, const void *vb, uint32_t n) {
    const uint16_t *b = vb;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * half_to_float(b[i]);
        s1 += a[i + 1] * half_to_float(b[i + 1]);
        s2 += a[i + 2] * half_to_float(b[i + 2]);
        s3 += a[i + 3] * half_to_float(b[i + 3]);
    }
    return (s0 + s1) + (s2 + s3);
}

static float l2sq16_scalar(const float *a, const void *vb, uint32_t n) {
    const uint16_t *b = vb;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - half_to_float(b[i]), d1 = a[i + 1] - half_to_float(b[i + 1]);
        float d2 = a[i + 2] - half_to_float(b[i + 2]), d3 = a[i + 3] - half_to_float(b[i + 3]);
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
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
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const void *vb, uint32_t n) {
    const float *b = vb;
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

__attribute__((target("avx2,fma"))) static float l2sq_avx2(const float *a, const void *vb, uint32_t n) {
    const float *b = vb;
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

/* Half storage: F16C widens 8 elements per instruction, then the float kernels' loops. The half
 * kernels only ever see the index's stride (a multiple of 16), so they have no tail. */
__attribute__((target("avx2,fma,f16c"))) static inline __m256 load_half8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

__attribute__((target("avx2,fma,f16c"))) static float dot16_avx2(const float *a, const void *vb, uint32_t n) {
    const uint16_t *b = vb;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_half8(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load_half8(b + i + 8), s1);
    }
    return hsum256(_mm256_add_ps(s0, s1));
}

__attribute__((target("avx2,fma,f16c"))) static float l2sq16_avx2(const float *a, const void *vb, uint32_t n) {
    const uint16_t *b = vb;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), load_half8(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), load_half8(b + i + 8));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    return hsum256(_mm256_add_ps(s0, s1));
}

__attribute__((target("avx2,f16c"))) static void widen_f16c(const uint16_t *in, float *out, uint32_t n) {
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++) out[i] = half_to_float(in[i]);
}

__attribute__((target("avx2,f16c"))) static void narrow_f16c(const float *in, uint16_t *out, uint32_t n) {
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) out[i] = float_to_half(in[i]);
}

/* ---------------------------------------------------------------- AVX-512F */

/* Blocks of 32 with two accumulators, then one of 16, then a masked tail. */
__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const void *vb, uint32_t n) {
    const float *b = vb;
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

__attribute__((target("avx512f"))) static float l2sq_avx512(const float *a, const void *vb, uint32_t n) {
    const float *b = vb;
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

/* Half storage: AVX-512F widens 16 elements per instruction. */
__attribute__((target("avx512f"))) static inline __m512 load_half16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

__attribute__((target("avx512f"))) static float dot16_avx512(const float *a, const void *vb, uint32_t n) {
    const uint16_t *b = vb;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    uint32_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load_half16(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), load_half16(b + i + 16), s1);
    }
    if (i < n) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load_half16(b + i), s0); /* n = 32k + 16 */
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static float l2sq16_avx512(const float *a, const void *vb, uint32_t n) {
    const uint16_t *b = vb;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    uint32_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), load_half16(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), load_half16(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    if (i < n) { /* n = 32k + 16 */
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), load_half16(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static void widen_avx512(const uint16_t *in, float *out, uint32_t n) {
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, load_half16(in + i));
    for (; i < n; i++) out[i] = half_to_float(in[i]);
}

__attribute__((target("avx512f"))) static void narrow_avx512(const float *in, uint16_t *out, uint32_t n) {
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(out + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) out[i] = float_to_half(in[i]);
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

/* AVX2 CPUs without F16C (none known) run F16 storage with the scalar conversions. */
bool idx_kernels_get(aw_simd_level level, aw_index_element element, idx_kernels *out) {
    bool f16 = element == AW_INDEX_F16;
    if (level == AW_SIMD_AUTO) {
        level = aw_simd_best();
        if (f16 && level == AW_SIMD_AVX2 && !rag_cpu_f16c()) level = AW_SIMD_SCALAR;
    }
    if ((unsigned)level >= AW_SIMD_LEVEL_COUNT || !cpu_runs(level)) return false;
    *out = (idx_kernels){dot_scalar, l2sq_scalar, dot16_scalar, l2sq16_scalar, widen_scalar, narrow_scalar, level};
    switch (level) {
#ifdef IDX_X86
    case AW_SIMD_AVX2:
        out->dot = dot_avx2;
        out->l2sq = l2sq_avx2;
        if (rag_cpu_f16c()) {
            out->dot16 = dot16_avx2;
            out->l2sq16 = l2sq16_avx2;
            out->widen = widen_f16c;
            out->narrow = narrow_f16c;
        } else if (f16) {
            return false;
        }
        return true;
    case AW_SIMD_AVX512:
        *out = (idx_kernels){dot_avx512, l2sq_avx512, dot16_avx512, l2sq16_avx512, widen_avx512, narrow_avx512, level};
        return true;
#endif
    default: return true;
    }
}

float aw_index_distance(aw_index_metric metric, aw_simd_level level, const float *a, const float *b, uint32_t dim) {
    idx_kernels k;
    if (!a || !b || (unsigned)metric >= AW_INDEX_METRIC_COUNT) {
        aw_error(AW_ERR_INVALID_ARG, "aw_index_distance: NULL vector or bad metric");
        return NAN;
    }
    if (!idx_kernels_get(level, AW_INDEX_F32, &k)) {
        aw_error(AW_ERR_UNSUPPORTED, "aw_index_distance: this CPU cannot run the %s kernels", aw_simd_level_str(level));
        return NAN;
    }
    switch (metric) {
    case AW_INDEX_L2: return k.l2sq(a, b, dim);
    case AW_INDEX_DOT: return -k.dot(a, b, dim);
    default: return 1.0f - k.dot(a, b, dim);
    }
}
