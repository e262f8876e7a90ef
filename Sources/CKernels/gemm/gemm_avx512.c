/* AVX-512 micro-kernels (32 ZMM registers): a tile is up to 12 rows x the
 * panel's 32 columns (24 accumulators). Edge columns use opmasks. The
 * BF16-compute kernel (vdpbf16ps: two BF16 products summed into F32 per
 * lane) needs AVX512_BF16 and lives in its own ops table. */
#include "gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)

#define ALWAYS static inline __attribute__((always_inline))

ALWAYS __mmask16 mask_below(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

ALWAYS void load_row(__m512 *lo, __m512 *hi, const float *c, __mmask16 m0, __mmask16 m1, int load_c) {
    *lo = load_c ? _mm512_maskz_loadu_ps(m0, c) : _mm512_setzero_ps();
    *hi = load_c ? _mm512_maskz_loadu_ps(m1, c + 16) : _mm512_setzero_ps();
}

ALWAYS void store_row(float *c, __m512 lo, __m512 hi, __mmask16 m0, __mmask16 m1) {
    _mm512_mask_storeu_ps(c, m0, lo);
    _mm512_mask_storeu_ps(c + 16, m1, hi);
}

/* The next panel's row p (128 bytes) into L2, when asked to (gemm_internal.h). */
ALWAYS void prefetch_row(const char *next, long p) {
    if (next) {
        _mm_prefetch(next + p * 128, _MM_HINT_T1);
        _mm_prefetch(next + p * 128 + 64, _MM_HINT_T1);
    }
}

ALWAYS void f32_tile(const long MR, long kc, const float *a, long rs_a, long cs_a,
                     const float *bp, float *c, long ldc, long ncols, int load_c, const char *next) {
    __mmask16 m0 = mask_below(ncols), m1 = mask_below(ncols - 16);
    __m512 acc[12][2];
    for (long r = 0; r < MR; r++) load_row(&acc[r][0], &acc[r][1], c + r * ldc, m0, m1, load_c);
    for (long p = 0; p < kc; p++) {
        prefetch_row(next, p);
        __m512 b0 = _mm512_loadu_ps(bp + p * 32), b1 = _mm512_loadu_ps(bp + p * 32 + 16);
        const float *ap = a + p * cs_a;
        for (long r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(ap[r * rs_a]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    for (long r = 0; r < MR; r++) store_row(c + r * ldc, acc[r][0], acc[r][1], m0, m1);
}

#define TILE_CASES(F, ...)                                                   \
    switch (mr) {                                                            \
    case 1: F(1, __VA_ARGS__); break;   case 2: F(2, __VA_ARGS__); break;    \
    case 3: F(3, __VA_ARGS__); break;   case 4: F(4, __VA_ARGS__); break;    \
    case 5: F(5, __VA_ARGS__); break;   case 6: F(6, __VA_ARGS__); break;    \
    case 7: F(7, __VA_ARGS__); break;   case 8: F(8, __VA_ARGS__); break;    \
    case 9: F(9, __VA_ARGS__); break;   case 10: F(10, __VA_ARGS__); break;  \
    case 11: F(11, __VA_ARGS__); break; default: F(12, __VA_ARGS__); break;  \
    }

static void avx512_f32(long mr, long kc, const float *a, long rs_a, long cs_a,
                       const float *bp, float *c, long ldc, long ncols, int load_c, const void *prefetch) {
    TILE_CASES(f32_tile, kc, a, rs_a, cs_a, bp, c, ldc, ncols, load_c, prefetch)
}

/* A pair row of the panel is two ZMMs of 16 columns; each 32-bit lane
 * widens to the even-k weight (<< 16) and the odd-k one (high half). */
ALWAYS void bf16w_tile(const long MR, long kc, const float *a, long rs_a, long cs_a,
                       const uint16_t *bp, float *c, long ldc, long ncols, int load_c, const char *next) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    __mmask16 m0 = mask_below(ncols), m1 = mask_below(ncols - 16);
    __m512 acc[8][2];
    for (long r = 0; r < MR; r++) load_row(&acc[r][0], &acc[r][1], c + r * ldc, m0, m1, load_c);
    long p = 0;
    for (; p + 1 < kc; p += 2) {
        prefetch_row(next, p >> 1);
        const uint16_t *row = bp + (p >> 1) * 64;
        __m512i l0 = _mm512_loadu_si512(row), l1 = _mm512_loadu_si512(row + 32);
        __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(l0, 16)), e1 = _mm512_castsi512_ps(_mm512_slli_epi32(l1, 16));
        __m512 o0 = _mm512_castsi512_ps(_mm512_and_si512(l0, high)), o1 = _mm512_castsi512_ps(_mm512_and_si512(l1, high));
        const float *ap = a + p * cs_a;
        for (long r = 0; r < MR; r++) {
            __m512 ae = _mm512_set1_ps(ap[r * rs_a]);
            acc[r][0] = _mm512_fmadd_ps(ae, e0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ae, e1, acc[r][1]);
            __m512 ao = _mm512_set1_ps(ap[cs_a + r * rs_a]);
            acc[r][0] = _mm512_fmadd_ps(ao, o0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ao, o1, acc[r][1]);
        }
    }
    if (p < kc) {
        const uint16_t *row = bp + (p >> 1) * 64;
        __m512i l0 = _mm512_loadu_si512(row), l1 = _mm512_loadu_si512(row + 32);
        __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(l0, 16)), e1 = _mm512_castsi512_ps(_mm512_slli_epi32(l1, 16));
        const float *ap = a + p * cs_a;
        for (long r = 0; r < MR; r++) {
            __m512 ae = _mm512_set1_ps(ap[r * rs_a]);
            acc[r][0] = _mm512_fmadd_ps(ae, e0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ae, e1, acc[r][1]);
        }
    }
    for (long r = 0; r < MR; r++) store_row(c + r * ldc, acc[r][0], acc[r][1], m0, m1);
}

#define TILE_CASES8(F, ...)                                                  \
    switch (mr) {                                                            \
    case 1: F(1, __VA_ARGS__); break; case 2: F(2, __VA_ARGS__); break;      \
    case 3: F(3, __VA_ARGS__); break; case 4: F(4, __VA_ARGS__); break;      \
    case 5: F(5, __VA_ARGS__); break; case 6: F(6, __VA_ARGS__); break;      \
    case 7: F(7, __VA_ARGS__); break; default: F(8, __VA_ARGS__); break;     \
    }

static void avx512_bf16w(long mr, long kc, const float *a, long rs_a, long cs_a,
                         const uint16_t *bp, float *c, long ldc, long ncols, int load_c, const void *prefetch) {
    TILE_CASES8(bf16w_tile, kc, a, rs_a, cs_a, bp, c, ldc, ncols, load_c, prefetch)
}

#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16"))), apply_to = function)

ALWAYS void bf16dot_tile(const long MR, long kp, const uint32_t *a, long lda,
                         const uint16_t *bp, float *c, long ldc, long ncols, int load_c, const char *next) {
    __mmask16 m0 = mask_below(ncols), m1 = mask_below(ncols - 16);
    __m512 acc[12][2];
    for (long r = 0; r < MR; r++) {
        acc[r][0] = load_c ? _mm512_maskz_loadu_ps(m0, c + r * ldc) : _mm512_setzero_ps();
        acc[r][1] = load_c ? _mm512_maskz_loadu_ps(m1, c + r * ldc + 16) : _mm512_setzero_ps();
    }
    for (long t = 0; t < kp; t++) {
        prefetch_row(next, t);
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + t * 64), b1 = (__m512bh)_mm512_loadu_si512(bp + t * 64 + 32);
        for (long r = 0; r < MR; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r * lda + t]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
        }
    }
    for (long r = 0; r < MR; r++) {
        _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
        _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc[r][1]);
    }
}

static void avx512_bf16dot(long mr, long kp, const uint32_t *a, long lda,
                           const uint16_t *bp, float *c, long ldc, long ncols, int load_c, const void *prefetch) {
    TILE_CASES(bf16dot_tile, kp, a, lda, bp, c, ldc, ncols, load_c, prefetch)
}

#pragma clang attribute pop

const struct scorek_gemm_ops scorek_ops_avx512 = {
    .name = "avx512", .mr_f32 = 12, .mr_bf16w = 8, .mr_bf16dot = 0,
    .f32 = avx512_f32, .bf16w = avx512_bf16w, .bf16dot = NULL, .pack_transposed = scorek_pack_transposed_avx2,
};

const struct scorek_gemm_ops scorek_ops_avx512bf16 = {
    .name = "avx512bf16", .mr_f32 = 12, .mr_bf16w = 8, .mr_bf16dot = 12,
    .f32 = avx512_f32, .bf16w = avx512_bf16w, .bf16dot = avx512_bf16dot,
    .pack_transposed = scorek_pack_transposed_avx2,
};
#endif
