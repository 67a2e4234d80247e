/* The encoder's matrix products (src/rag/gemm.c): float16 conversion against its definition (and the
 * CPU's F16C instructions where present), packing, and every kernel this CPU runs (scalar, AVX2,
 * AVX-512, OpenBLAS) against a double-precision reference and against each other, over random
 * shapes, flags (accumulate, ReLU, zero-skipping), biases, row counts that split unevenly and
 * mostly-zero inputs; bfloat16 rounding, packing and the AVX-512 BF16 kernel. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/rag/rag_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_half(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float hw_float(uint16_t h) {
    return _cvtsh_ss(h);
}
static bool have_f16c(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2"); /* every AVX2 CPU has F16C */
}
#else
static uint16_t hw_half(float f) {
    return rag_half_from_float(f);
}
static float hw_float(uint16_t h) {
    return rag_half_to_float(h);
}
static bool have_f16c(void) {
    return false;
}
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}
static float rndf(float scale) { /* uniform in [-scale, scale) */
    return scale * ((float)(rnd() >> 8) / 8388608.0f - 1.0f);
}

static void test_half_conversion(void **state) {
    (void)state;
    /* Every finite half survives half -> float -> half, and its float is exact. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if (((h >> 10) & 0x1f) == 0x1f) continue; /* inf, NaN */
        float f = rag_half_to_float((uint16_t)h);
        assert_int_equal(rag_half_from_float(f), h);
        if (have_f16c()) assert_true(f == hw_float((uint16_t)h));
    }
    /* Rounding to nearest even, normals and subnormals, against the hardware where present and
     * against the nearest half otherwise. */
    for (int i = 0; i < 200000; i++) {
        float f;
        switch (i % 4) {
        case 0:
            f = rndf(1.0f);
            break;
        case 1:
            f = rndf(1e-5f);
            break; /* subnormal halves */
        case 2:
            f = rndf(60000.0f);
            break;
        default: { /* exactly between two halves: ties go to even */
            uint16_t h = (uint16_t)(rnd() % 0x7bff);
            f = 0.5f * (rag_half_to_float(h) + rag_half_to_float((uint16_t)(h + 1)));
        }
        }
        uint16_t mine = rag_half_from_float(f);
        if (have_f16c()) {
            if (mine != hw_half(f)) fail_msg("%.9g: %04x, hardware %04x", (double)f, mine, hw_half(f));
        } else {
            float back = rag_half_to_float(mine);
            float up = rag_half_to_float((uint16_t)(mine + 1)),
                  down = rag_half_to_float((uint16_t)(mine - 1));
            assert_true(fabsf(back - f) <= fabsf(up - f) && fabsf(back - f) <= fabsf(down - f));
        }
    }
    assert_int_equal(rag_half_from_float(RAG_HALF_MAX), 0x7bff);
    assert_int_equal(rag_half_from_float(-0.0f), 0x8000);
}

static void test_pack_layout(void **state) {
    (void)state;
    enum { K = 5, N = 64 };
    float w[K * N];
    for (int i = 0; i < K * N; i++) w[i] = (float)i;
    float f[K * N];
    uint16_t h[K * N];
    rag_pack(w, K, N, f, false);
    rag_pack(w, K, N, h, true);
    for (int p = 0; p < N / RAG_PANEL; p++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < RAG_PANEL; j++) {
                size_t at = ((size_t)p * K + i) * RAG_PANEL + j;
                assert_true(f[at] == w[i * N + p * RAG_PANEL + j]);
                assert_true(rag_half_to_float(h[at]) == w[i * N + p * RAG_PANEL + j]); /* all exact */
            }
}

/* One random product through every kernel the CPU runs, against double sums of the same (rounded)
 * weights: |error| <= 1e-5 of the sum of |terms|, and kernels within that of each other. */
static void check_product(uint32_t m, uint32_t k, uint32_t n, unsigned flags, bool half, bool with_bias,
                          float zero_share) {
    uint32_t lda = k + (rnd() % 3) * 16, ldc = n + (rnd() % 2) * 32;
    float *a = malloc((size_t)m * lda * sizeof *a), *w = malloc((size_t)k * n * sizeof *w);
    float *bias = malloc(n * sizeof *bias), *c0 = malloc((size_t)m * ldc * sizeof *c0);
    float *c = malloc((size_t)m * ldc * sizeof *c);
    double *ref = malloc((size_t)m * n * sizeof *ref), *mag = malloc((size_t)m * n * sizeof *mag);
    void *packed = malloc((size_t)k * n * sizeof(float));
    float *work = aligned_alloc(64, RAG_GEMM_WORK_FLOATS * sizeof(float));
    for (size_t i = 0; i < (size_t)m * lda; i++)
        a[i] = (float)(rnd() % 1000) < zero_share * 1000.0f ? 0.0f : rndf(2.0f);
    for (size_t i = 0; i < (size_t)k * n; i++) w[i] = rndf(0.3f);
    for (uint32_t j = 0; j < n; j++) bias[j] = rndf(1.0f);
    for (size_t i = 0; i < (size_t)m * ldc; i++) c0[i] = rndf(1.0f);
    rag_pack(w, k, n, packed, half);
    if (half) /* the reference multiplies what the kernels see */
        for (size_t i = 0; i < (size_t)k * n; i++) w[i] = rag_half_to_float(rag_half_from_float(w[i]));
    for (uint32_t r = 0; r < m; r++)
        for (uint32_t j = 0; j < n; j++) {
            double s = with_bias ? bias[j] : 0.0, g = fabs(s);
            if (flags & RAG_GEMM_ACC) s += c0[(size_t)r * ldc + j], g += fabs(c0[(size_t)r * ldc + j]);
            for (uint32_t i = 0; i < k; i++) {
                double t = (double)a[(size_t)r * lda + i] * w[(size_t)i * n + j];
                s += t;
                g += fabs(t);
            }
            ref[(size_t)r * n + j] = flags & RAG_GEMM_RELU && s < 0 ? 0.0 : s;
            mag[(size_t)r * n + j] = g;
        }
    rag_packed pw = {.plain = w, .data = packed, .k = k, .n = n, .half = half};
    for (int kn = RAG_KERNEL_SCALAR; kn < RAG_KERNEL_COUNT; kn++) {
        if (rag_kernel_pick((rag_kernel)kn) != (rag_kernel)kn) continue; /* not on this CPU */
        if (kn == RAG_KERNEL_BLAS && half) continue;                     /* OpenBLAS reads plain float32 */
        memcpy(c, c0, (size_t)m * ldc * sizeof *c);
        rag_gemm((rag_kernel)kn, m, a, lda, &pw, with_bias ? bias : NULL, c, ldc, flags, work);
        for (uint32_t r = 0; r < m; r++) {
            for (uint32_t j = 0; j < n; j++) {
                double got = c[(size_t)r * ldc + j], want = ref[(size_t)r * n + j];
                if (fabs(got - want) > 1e-5 * mag[(size_t)r * n + j] + 1e-30)
                    fail_msg("%s m=%u k=%u n=%u flags=%u half=%d: C[%u][%u] = %.9g, want %.9g",
                             rag_kernel_name((rag_kernel)kn), m, k, n, flags, half, r, j, got, want);
            }
            for (uint32_t j = n; j < ldc; j++) /* the padding past n is not written */
                assert_true(c[(size_t)r * ldc + j] == c0[(size_t)r * ldc + j]);
        }
    }
    free(work);
    free(packed);
    free(mag);
    free(ref);
    free(c);
    free(c0);
    free(bias);
    free(w);
    free(a);
}

static void test_kernels_against_reference(void **state) {
    (void)state;
    static const uint32_t ks[] = {16, 256, 512, 1536}, ns[] = {32, 64, 512, 768};
    for (int t = 0; t < 120; t++) {
        uint32_t m = t < 40 ? (uint32_t)t + 1 : 1 + rnd() % 300; /* every row split up to 40, then tall */
        uint32_t k = ks[rnd() % 4], n = ns[rnd() % 4];
        if ((size_t)m * k * n > 60000000u) m = 60000000u / (k * n) + 1; /* keep the scalar kernel quick */
        unsigned flags = rnd() % 8;
        check_product(m, k, n, flags, rnd() % 2, rnd() % 2, flags & RAG_GEMM_SPARSE ? 0.9f : 0.05f);
    }
}

static void test_sparse_rows_all_zero(void **state) {
    (void)state;
    /* Rows that are all zeros (a whole block skips every depth) and a single nonzero depth. */
    check_product(15, 1536, 512, RAG_GEMM_SPARSE | RAG_GEMM_ACC, true, true, 1.0f);
    check_product(30, 1536, 512, RAG_GEMM_SPARSE, false, false, 0.999f);
}

/* Zero-skipping is exact: with RAG_GEMM_SPARSE every own kernel gives the same values as without it
 * (the AVX-512 kernel runs the skipped product depth by depth, see gemm.c), and the AVX2 and
 * AVX-512 kernels give the same values as each other (same multiply-adds in the same order), for
 * one row, row blocks that split unevenly and blocks past 16 rows, depths that are not a multiple
 * of 16, halves and floats. */
static void test_sparse_exact(void **state) {
    (void)state;
    static const uint32_t ms[] = {1, 2, 3, 7, 15, 16, 17, 33, 40};
    static const uint32_t ns[] = {32, 64, 512, 160};
    float *work = aligned_alloc(64, RAG_GEMM_WORK_FLOATS * sizeof(float));
    for (int t = 0; t < 36; t++) {
        uint32_t m = ms[t % 9], k = t % 2 ? 1536 : 90 + (uint32_t)t, n = ns[t % 4], lda = k + 16,
                 ldc = n + 32;
        bool half = t % 3 != 0;
        unsigned flags = (t % 4 == 1 ? RAG_GEMM_ACC : 0) | (t % 5 == 2 ? RAG_GEMM_RELU : 0);
        float *a = malloc((size_t)m * lda * sizeof *a), *w = malloc((size_t)k * n * sizeof *w);
        float *bias = malloc(n * sizeof *bias), *c0 = malloc((size_t)m * ldc * sizeof *c0);
        float *c[4];
        void *packed = malloc((size_t)k * n * sizeof(float));
        /* Mostly zeros, some rows all zero, the nonzeros correlated between rows as after a ReLU. */
        for (uint32_t r = 0; r < m; r++)
            for (uint32_t i = 0; i < lda; i++)
                a[(size_t)r * lda + i] =
                    r % 5 == 3 || (rnd() % 100) >= (i % 7 == 0 ? 40u : 4u) ? 0.0f : rndf(2.0f);
        for (size_t i = 0; i < (size_t)k * n; i++) w[i] = rndf(0.3f);
        for (uint32_t j = 0; j < n; j++) bias[j] = rndf(1.0f);
        for (size_t i = 0; i < (size_t)m * ldc; i++) c0[i] = rndf(1.0f);
        rag_pack(w, k, n, packed, half);
        rag_packed pw = {.plain = w, .data = packed, .k = k, .n = n, .half = half};
        int runs = 0;
        static const rag_kernel own[] = {RAG_KERNEL_AVX512, RAG_KERNEL_AVX2};
        for (int kn = 0; kn < 2; kn++) {
            if (rag_kernel_pick(own[kn]) != own[kn]) continue;
            for (int sp = 0; sp < 2; sp++) {
                c[runs] = malloc((size_t)m * ldc * sizeof *c0);
                memcpy(c[runs], c0, (size_t)m * ldc * sizeof *c0);
                rag_gemm(own[kn], m, a, lda, &pw, t % 2 ? bias : NULL, c[runs], ldc,
                         flags | (sp ? RAG_GEMM_SPARSE : 0), work);
                runs++;
            }
        }
        for (int q = 1; q < runs; q++)
            for (size_t i = 0; i < (size_t)m * ldc; i++)
                if (!(c[q][i] == c[0][i]))
                    fail_msg("m=%u k=%u n=%u half=%d flags=%u run %d: C[%zu] = %.9g, first run %.9g", m, k, n,
                             half, flags, q, i, (double)c[q][i], (double)c[0][i]);
        for (int q = 0; q < runs; q++) free(c[q]);
        free(packed);
        free(c0);
        free(bias);
        free(w);
        free(a);
    }
    free(work);
}

/* bfloat16: rounding to nearest even against its definition, the pair layout, and the AVX-512 BF16
 * kernel (where the CPU runs it) against a double-precision product of the rounded operands; a
 * zero-skipping product and the plain AVX-512 kernel ignore the bfloat16 copy (same bits as
 * without it). */
static void test_bf16(void **state) {
    (void)state;
    assert_int_equal(rag_bf16_from_float(1.0f), 0x3f80);
    assert_int_equal(rag_bf16_from_float(1.0f + 0x1p-8f), 0x3f80);            /* tie: to even */
    assert_int_equal(rag_bf16_from_float(1.0f + 0x1p-7f + 0x1p-8f), 0x3f82);  /* tie: to even */
    assert_int_equal(rag_bf16_from_float(-(1.0f + 0x1p-8f + 0x1p-20f)), 0xbf81); /* past the tie */
    for (int t = 0; t < 100000; t++) {
        uint32_t x = rnd() & 0xbfffffffu; /* finite, exponents up to 2^63 */
        float f;
        memcpy(&f, &x, sizeof f);
        uint16_t b = rag_bf16_from_float(f);
        double got = rag_bf16_to_float(b), lo = rag_bf16_to_float((uint16_t)(x >> 16));
        double hi = rag_bf16_to_float((uint16_t)((x >> 16) + 1));
        double want = fabs(f - lo) < fabs(hi - f) ? lo : fabs(f - lo) > fabs(hi - f) ? hi : (x >> 16) % 2 ? hi : lo;
        if (got != want) fail_msg("bf16(%a) = %a, want %a", (double)f, got, want);
    }
    enum { K = 64, N = 48 };
    float w[K * N];
    uint16_t packed[K * N];
    for (uint32_t i = 0; i < K * N; i++) w[i] = (float)i;
    rag_pack_bf16(w, K, N, packed);
    for (uint32_t i = 0; i < K; i++)
        for (uint32_t j = 0; j < N; j++)
            assert_true(rag_bf16_to_float(packed[((j / 16) * (K / 2) + i / 2) * 32 + (j % 16) * 2 + i % 2]) ==
                        rag_bf16_to_float(rag_bf16_from_float(w[i * N + j])));

    if (rag_kernel_pick(RAG_KERNEL_AVX512_BF16) != RAG_KERNEL_AVX512_BF16) skip();
    static const uint32_t ks[] = {32, 256, 512, 1536}, ns[] = {32, 64, 512, 768};
    float *work = aligned_alloc(64, RAG_GEMM_WORK_FLOATS * sizeof(float));
    for (int t = 0; t < 60; t++) {
        uint32_t m = t < 30 ? (uint32_t)t + 1 : 1 + rnd() % 200, k = ks[rnd() % 4], n = ns[rnd() % 4];
        uint32_t lda = k + 16, ldc = n + 32;
        unsigned flags = rnd() % 4;
        bool with_bias = rnd() % 2;
        float *a = malloc((size_t)m * lda * sizeof *a), *wt = malloc((size_t)k * n * sizeof *wt);
        float *bias = malloc(n * sizeof *bias), *c0 = malloc((size_t)m * ldc * sizeof *c0);
        float *c = malloc((size_t)m * ldc * sizeof *c), *c2 = malloc((size_t)m * ldc * sizeof *c2);
        uint16_t *wb = malloc((size_t)k * n * sizeof *wb), *wh = malloc((size_t)k * n * sizeof *wh);
        for (size_t i = 0; i < (size_t)m * lda; i++) a[i] = rnd() % 8 ? rndf(2.0f) : 0.0f;
        for (size_t i = 0; i < (size_t)k * n; i++) wt[i] = rndf(0.3f);
        for (uint32_t j = 0; j < n; j++) bias[j] = rndf(1.0f);
        for (size_t i = 0; i < (size_t)m * ldc; i++) c0[i] = rndf(1.0f);
        rag_pack_bf16(wt, k, n, wb);
        rag_pack(wt, k, n, wh, true);
        rag_packed pw = {.plain = wt, .data = wh, .bf16 = wb, .k = k, .n = n, .half = true};
        memcpy(c, c0, (size_t)m * ldc * sizeof *c);
        rag_gemm(RAG_KERNEL_AVX512_BF16, m, a, lda, &pw, with_bias ? bias : NULL, c, ldc, flags, work);
        for (uint32_t r = 0; r < m; r++) {
            for (uint32_t j = 0; j < n; j++) {
                double s = with_bias ? bias[j] : 0.0, g = fabs(s);
                if (flags & RAG_GEMM_ACC) s += c0[(size_t)r * ldc + j], g += fabs(c0[(size_t)r * ldc + j]);
                for (uint32_t i = 0; i < k; i++) {
                    double p = (double)rag_bf16_to_float(rag_bf16_from_float(a[(size_t)r * lda + i])) *
                               rag_bf16_to_float(rag_bf16_from_float(wt[(size_t)i * n + j]));
                    s += p;
                    g += fabs(p);
                }
                if (flags & RAG_GEMM_RELU && s < 0) s = 0;
                double got = c[(size_t)r * ldc + j];
                if (fabs(got - s) > 1e-5 * g + 1e-30)
                    fail_msg("bf16 m=%u k=%u n=%u flags=%u: C[%u][%u] = %.9g, want %.9g", m, k, n, flags, r, j,
                             got, s);
            }
            for (uint32_t j = n; j < ldc; j++) assert_true(c[(size_t)r * ldc + j] == c0[(size_t)r * ldc + j]);
        }
        /* Zero-skipping and the plain AVX-512 kernel read the float16 weights only. */
        for (int sp = 0; sp < 2; sp++) {
            unsigned f2 = flags | (sp ? RAG_GEMM_SPARSE : 0);
            rag_packed plain = pw;
            plain.bf16 = NULL;
            memcpy(c, c0, (size_t)m * ldc * sizeof *c);
            memcpy(c2, c0, (size_t)m * ldc * sizeof *c2);
            rag_gemm(sp ? RAG_KERNEL_AVX512_BF16 : RAG_KERNEL_AVX512, m, a, lda, &pw, bias, c, ldc, f2, work);
            rag_gemm(RAG_KERNEL_AVX512, m, a, lda, &plain, bias, c2, ldc, f2, work);
            assert_memory_equal(c, c2, (size_t)m * ldc * sizeof *c);
        }
        free(wh);
        free(wb);
        free(c2);
        free(c);
        free(c0);
        free(bias);
        free(wt);
        free(a);
    }
    free(work);
}

static void test_kernel_choice(void **state) {
    (void)state;
    rag_kernel best = rag_kernel_pick(RAG_KERNEL_AUTO);
    assert_true(best != RAG_KERNEL_AUTO && rag_kernel_supported(best));
    assert_true(rag_kernel_pick(RAG_KERNEL_SCALAR) == RAG_KERNEL_SCALAR);
    assert_true(rag_kernel_pick(RAG_KERNEL_BLAS) == RAG_KERNEL_BLAS);
    assert_string_equal(rag_kernel_name(RAG_KERNEL_AVX512), "avx512");
    assert_string_equal(rag_kernel_name(RAG_KERNEL_AVX512_BF16), "avx512bf16");
    if (rag_kernel_supported(RAG_KERNEL_AVX512_BF16)) { /* the best where it runs; AW_RAG_KERNEL picks float16 */
        assert_true(best == RAG_KERNEL_AVX512_BF16);
        setenv(AW_RAG_KERNEL_ENV, "avx512", 1);
        assert_true(rag_kernel_pick(RAG_KERNEL_AUTO) == RAG_KERNEL_AVX512);
    }
    /* The product set: the default, all, none, names; an unknown name keeps the default. */
    unsetenv(AW_RAG_BF16_ENV);
    assert_int_equal(rag_bf16_products(), RAG_BF16_DEFAULT);
    setenv(AW_RAG_BF16_ENV, "all", 1);
    assert_int_equal(rag_bf16_products(), (1u << RAG_PRODUCT_COUNT) - 1u);
    setenv(AW_RAG_BF16_ENV, "none", 1);
    assert_int_equal(rag_bf16_products(), 0);
    setenv(AW_RAG_BF16_ENV, "l1_ffn1,l0_out", 1);
    assert_int_equal(rag_bf16_products(), (1u << RAG_PRODUCT_L1_FFN1) | (1u << RAG_PRODUCT_L0_OUT));
    setenv(AW_RAG_BF16_ENV, "l1_ffn", 1);
    assert_int_equal(rag_bf16_products(), RAG_BF16_DEFAULT);
    unsetenv(AW_RAG_BF16_ENV);
    assert_string_equal(rag_product_name(RAG_PRODUCT_L1_QKV), "l1_qkv");
    setenv(AW_RAG_KERNEL_ENV, "scalar", 1);
    assert_true(rag_kernel_pick(RAG_KERNEL_AUTO) == RAG_KERNEL_SCALAR);
    setenv(AW_RAG_KERNEL_ENV, "no-such-kernel", 1);
    assert_true(rag_kernel_pick(RAG_KERNEL_AUTO) == best);
    unsetenv(AW_RAG_KERNEL_ENV);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_conversion),      cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_kernel_choice),        cmocka_unit_test(test_kernels_against_reference),
        cmocka_unit_test(test_sparse_rows_all_zero), cmocka_unit_test(test_sparse_exact),
        cmocka_unit_test(test_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
