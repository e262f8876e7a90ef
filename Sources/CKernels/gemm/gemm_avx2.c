/* AVX2 + FMA micro-kernels (16 YMM registers). A 32-column panel is done
 * as two 16-column halves: 6 rows x 16 columns keep 12 accumulators, two
 * B vectors and one broadcast in registers (the classic Haswell tile). */
#include "gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx,avx2,fma"))), apply_to = function)

#define ALWAYS static inline __attribute__((always_inline))

/* Lanes [0, count) of eight set (count may be <= 0 or >= 8). */
ALWAYS __m256i lanes_below(long count) {
    const __m256i ramp = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int n = count < 0 ? 0 : count > 8 ? 8 : (int)count;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), ramp);
}

ALWAYS void load_row(__m256 *lo, __m256 *hi, const float *c, long cols, int load_c) {
    if (!load_c) {
        *lo = _mm256_setzero_ps();
        *hi = _mm256_setzero_ps();
    } else if (cols == 16) {
        *lo = _mm256_loadu_ps(c);
        *hi = _mm256_loadu_ps(c + 8);
    } else {
        *lo = _mm256_maskload_ps(c, lanes_below(cols));
        *hi = _mm256_maskload_ps(c + 8, lanes_below(cols - 8));
    }
}

ALWAYS void store_row(float *c, __m256 lo, __m256 hi, long cols) {
    if (cols == 16) {
        _mm256_storeu_ps(c, lo);
        _mm256_storeu_ps(c + 8, hi);
    } else {
        _mm256_maskstore_ps(c, lanes_below(cols), lo);
        _mm256_maskstore_ps(c + 8, lanes_below(cols - 8), hi);
    }
}

/* Rows [0, MR) x the 16 columns at bp (row stride 32 in the panel). */
ALWAYS void f32_half(const long MR, long kc, const float *a, long rs_a, long cs_a,
                     const float *bp, float *c, long ldc, long cols, int load_c) {
    __m256 acc[6][2];
    for (long r = 0; r < MR; r++) load_row(&acc[r][0], &acc[r][1], c + r * ldc, cols, load_c);
    for (long p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(bp + p * 32), b1 = _mm256_loadu_ps(bp + p * 32 + 8);
        const float *ap = a + p * cs_a;
        for (long r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(ap + r * rs_a);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    for (long r = 0; r < MR; r++) store_row(c + r * ldc, acc[r][0], acc[r][1], cols);
}

static void avx2_f32(long mr, long kc, const float *a, long rs_a, long cs_a,
                     const float *bp, float *c, long ldc, long ncols, int load_c) {
    for (long h = 0; h < 2 && ncols > 16 * h; h++) {
        long cols = ncols - 16 * h > 16 ? 16 : ncols - 16 * h;
        const float *b = bp + 16 * h;
        float *ch = c + 16 * h;
        switch (mr) {
        case 1: f32_half(1, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        case 2: f32_half(2, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        case 3: f32_half(3, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        case 4: f32_half(4, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        case 5: f32_half(5, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        default: f32_half(6, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        }
    }
}

/* BF16 pairs widen with two integer operations: a 32-bit lane holds an
 * even-k weight in its low half and the odd-k one in its high half. */
ALWAYS void bf16w_half(const long MR, long kc, const float *a, long rs_a, long cs_a,
                       const uint16_t *bp, float *c, long ldc, long cols, int load_c) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 acc[4][2];
    for (long r = 0; r < MR; r++) load_row(&acc[r][0], &acc[r][1], c + r * ldc, cols, load_c);
    long p = 0;
    for (; p + 1 < kc; p += 2) {
        const uint16_t *row = bp + (p >> 1) * 64;
        __m256i l0 = _mm256_loadu_si256((const __m256i *)row), l1 = _mm256_loadu_si256((const __m256i *)(row + 16));
        __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(l0, 16)), e1 = _mm256_castsi256_ps(_mm256_slli_epi32(l1, 16));
        __m256 o0 = _mm256_castsi256_ps(_mm256_and_si256(l0, high)), o1 = _mm256_castsi256_ps(_mm256_and_si256(l1, high));
        const float *ap = a + p * cs_a;
        for (long r = 0; r < MR; r++) {
            __m256 ae = _mm256_broadcast_ss(ap + r * rs_a);
            acc[r][0] = _mm256_fmadd_ps(ae, e0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(ae, e1, acc[r][1]);
            __m256 ao = _mm256_broadcast_ss(ap + cs_a + r * rs_a);
            acc[r][0] = _mm256_fmadd_ps(ao, o0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(ao, o1, acc[r][1]);
        }
    }
    if (p < kc) {
        const uint16_t *row = bp + (p >> 1) * 64;
        __m256i l0 = _mm256_loadu_si256((const __m256i *)row), l1 = _mm256_loadu_si256((const __m256i *)(row + 16));
        __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(l0, 16)), e1 = _mm256_castsi256_ps(_mm256_slli_epi32(l1, 16));
        const float *ap = a + p * cs_a;
        for (long r = 0; r < MR; r++) {
            __m256 ae = _mm256_broadcast_ss(ap + r * rs_a);
            acc[r][0] = _mm256_fmadd_ps(ae, e0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(ae, e1, acc[r][1]);
        }
    }
    for (long r = 0; r < MR; r++) store_row(c + r * ldc, acc[r][0], acc[r][1], cols);
}

static void avx2_bf16w(long mr, long kc, const float *a, long rs_a, long cs_a,
                       const uint16_t *bp, float *c, long ldc, long ncols, int load_c) {
    for (long h = 0; h < 2 && ncols > 16 * h; h++) {
        long cols = ncols - 16 * h > 16 ? 16 : ncols - 16 * h;
        const uint16_t *b = bp + 32 * h;
        float *ch = c + 16 * h;
        switch (mr) {
        case 1: bf16w_half(1, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        case 2: bf16w_half(2, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        case 3: bf16w_half(3, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        default: bf16w_half(4, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c); break;
        }
    }
}

#pragma clang attribute pop

const struct scorek_gemm_ops scorek_ops_avx2 = {
    .name = "avx2", .mr_f32 = 6, .mr_bf16w = 4, .mr_bf16dot = 0,
    .f32 = avx2_f32, .bf16w = avx2_bf16w, .bf16dot = NULL,
};
#endif
