/* AVX2 + FMA micro-kernels (16 YMM registers). F32 tiles are up to 3 rows
 * x the panel's 32 columns (12 accumulators, three broadcasts, one B vector
 * at a time); BF16-weight tiles do a 32-column panel as two 16-column
 * halves of up to 4 rows. */
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

/* The next panel's row p (128 bytes) into L2, when asked to (gemm_internal.h). */
ALWAYS void prefetch_row(const char *next, long p) {
    if (next) {
        _mm_prefetch(next + p * 128, _MM_HINT_T1);
        _mm_prefetch(next + p * 128 + 64, _MM_HINT_T1);
    }
}

/* The other half of the panel's row p (its other 64-byte line) into L2,
 * when asked to: the first half's pass then streams whole 128-byte rows
 * from memory, and the second half's finds its lines in L2 (memory streams
 * one sequential pass faster than two passes over every other line). */
ALWAYS void prefetch_sibling(const char *sibling, long p, long row_bytes) {
    if (sibling) _mm_prefetch(sibling + p * row_bytes, _MM_HINT_T1);
}

/* One or two rows x the whole 32-column panel in one pass (a pass over a
 * 16-column half reads every other 64-byte line, which memory streams at
 * about two thirds of the rate of one sequential pass). */
ALWAYS void f32_full(const long MR, long kc, const float *a, long rs_a, long cs_a,
                     const float *bp, float *c, long ldc, long ncols, int load_c, const char *next) {
    __m256 acc[2][4];
    long lo = ncols > 16 ? 16 : ncols, hi = ncols - 16;
    for (long r = 0; r < MR; r++) {
        load_row(&acc[r][0], &acc[r][1], c + r * ldc, lo, load_c);
        load_row(&acc[r][2], &acc[r][3], c + r * ldc + 16, hi, load_c && hi > 0);
    }
    for (long p = 0; p < kc; p++) {
        prefetch_row(next, p);
        const float *row = bp + p * 32;
        __m256 b0 = _mm256_loadu_ps(row), b1 = _mm256_loadu_ps(row + 8);
        __m256 b2 = _mm256_loadu_ps(row + 16), b3 = _mm256_loadu_ps(row + 24);
        const float *ap = a + p * cs_a;
        for (long r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(ap + r * rs_a);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(av, b2, acc[r][2]);
            acc[r][3] = _mm256_fmadd_ps(av, b3, acc[r][3]);
        }
    }
    for (long r = 0; r < MR; r++) {
        store_row(c + r * ldc, acc[r][0], acc[r][1], lo);
        if (hi > 0) store_row(c + r * ldc + 16, acc[r][2], acc[r][3], hi);
    }
}

/* Three rows x the whole panel in one pass: 12 accumulators, the three
 * rows' broadcasts and one B vector at a time (16 YMM registers). */
ALWAYS void f32_full3(long kc, const float *a, long rs_a, long cs_a,
                      const float *bp, float *c, long ldc, long ncols, int load_c, const char *next) {
    __m256 acc[3][4];
    long lo = ncols > 16 ? 16 : ncols, hi = ncols - 16;
    for (long r = 0; r < 3; r++) {
        load_row(&acc[r][0], &acc[r][1], c + r * ldc, lo, load_c);
        load_row(&acc[r][2], &acc[r][3], c + r * ldc + 16, hi, load_c && hi > 0);
    }
    for (long p = 0; p < kc; p++) {
        prefetch_row(next, p);
        const float *row = bp + p * 32, *ap = a + p * cs_a;
        __m256 a0 = _mm256_broadcast_ss(ap), a1 = _mm256_broadcast_ss(ap + rs_a), a2 = _mm256_broadcast_ss(ap + 2 * rs_a);
        for (long j = 0; j < 4; j++) {
            __m256 b = _mm256_loadu_ps(row + 8 * j);
            acc[0][j] = _mm256_fmadd_ps(a0, b, acc[0][j]);
            acc[1][j] = _mm256_fmadd_ps(a1, b, acc[1][j]);
            acc[2][j] = _mm256_fmadd_ps(a2, b, acc[2][j]);
        }
    }
    for (long r = 0; r < 3; r++) {
        store_row(c + r * ldc, acc[r][0], acc[r][1], lo);
        if (hi > 0) store_row(c + r * ldc + 16, acc[r][2], acc[r][3], hi);
    }
}

/* Tiles of up to three rows, each taking the whole panel in one pass. The
 * classic 6 x 16 tile took a panel in two passes and needed one broadcast
 * per two FMAs; on Zen 4 a broadcast takes an FP pipe the FMAs need, and
 * 3 x 32 halves that share (forced avx2: 16-row decode 273-293 -> 327-328
 * tok/s, a 512-token prefill 731 -> 650 ms). Same bits: every element
 * is still summed over k in order. */
static void avx2_f32(long mr, long kc, const float *a, long rs_a, long cs_a,
                     const float *bp, float *c, long ldc, long ncols, int load_c, const void *prefetch) {
    for (long r = 0; r < mr; r += 3) {
        long rows = mr - r < 3 ? mr - r : 3;
        const float *ar = a + r * rs_a;
        float *cr = c + r * ldc;
        const char *next = r == 0 ? prefetch : NULL;  /* once per tile */
        if (rows == 3) f32_full3(kc, ar, rs_a, cs_a, bp, cr, ldc, ncols, load_c, next);
        else if (rows == 2) f32_full(2, kc, ar, rs_a, cs_a, bp, cr, ldc, ncols, load_c, next);
        else f32_full(1, kc, ar, rs_a, cs_a, bp, cr, ldc, ncols, load_c, next);
    }
}

/* BF16 pairs widen with two integer operations: a 32-bit lane holds an
 * even-k weight in its low half and the odd-k one in its high half. */
ALWAYS void bf16w_half(const long MR, long kc, const float *a, long rs_a, long cs_a,
                       const uint16_t *bp, float *c, long ldc, long cols, int load_c, const char *next,
                       const char *sibling) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 acc[4][2];
    for (long r = 0; r < MR; r++) load_row(&acc[r][0], &acc[r][1], c + r * ldc, cols, load_c);
    long p = 0;
    for (; p + 1 < kc; p += 2) {
        prefetch_row(next, p >> 1);
        prefetch_sibling(sibling, p >> 1, 128);
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

/* One row x the whole panel in one pass (see f32_full): the two halves'
 * pair rows, acc[h] holding columns 16h.. of the row. */
ALWAYS void bf16w_full1(long kc, const float *a, long cs_a, const uint16_t *bp, float *c, long ncols, int load_c,
                        const char *next) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    long cols[2] = { ncols > 16 ? 16 : ncols, ncols - 16 };
    __m256 acc[2][2];
    for (long h = 0; h < 2; h++) load_row(&acc[h][0], &acc[h][1], c + 16 * h, cols[h], load_c && cols[h] > 0);
    for (long p = 0; p < kc; p += 2) {
        prefetch_row(next, p >> 1);
        const uint16_t *row = bp + (p >> 1) * 64;
        int odd = p + 1 < kc;
        __m256 ae = _mm256_broadcast_ss(a + p * cs_a);
        __m256 ao = odd ? _mm256_broadcast_ss(a + (p + 1) * cs_a) : _mm256_setzero_ps();
        for (long h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(row + 32 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(row + 32 * h + 16));
            acc[h][0] = _mm256_fmadd_ps(ae, _mm256_castsi256_ps(_mm256_slli_epi32(l0, 16)), acc[h][0]);
            acc[h][1] = _mm256_fmadd_ps(ae, _mm256_castsi256_ps(_mm256_slli_epi32(l1, 16)), acc[h][1]);
            if (odd) {
                acc[h][0] = _mm256_fmadd_ps(ao, _mm256_castsi256_ps(_mm256_and_si256(l0, high)), acc[h][0]);
                acc[h][1] = _mm256_fmadd_ps(ao, _mm256_castsi256_ps(_mm256_and_si256(l1, high)), acc[h][1]);
            }
        }
    }
    for (long h = 0; h < 2; h++)
        if (cols[h] > 0) store_row(c + 16 * h, acc[h][0], acc[h][1], cols[h]);
}

static void avx2_bf16w(long mr, long kc, const float *a, long rs_a, long cs_a,
                       const uint16_t *bp, float *c, long ldc, long ncols, int load_c, const void *prefetch) {
    if (mr == 1) {
        bf16w_full1(kc, a, cs_a, bp, c, ncols, load_c, prefetch);
        return;
    }
    for (long h = 0; h < 2 && ncols > 16 * h; h++) {
        long cols = ncols - 16 * h > 16 ? 16 : ncols - 16 * h;
        const uint16_t *b = bp + 32 * h;
        float *ch = c + 16 * h;
        const char *next = h == 0 ? prefetch : NULL;  /* once per tile */
        const char *sibling = h == 0 && ncols > 16 ? (const char *)(bp + 32) : NULL;
        switch (mr) {
        case 1: bf16w_half(1, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c, next, sibling); break;
        case 2: bf16w_half(2, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c, next, sibling); break;
        case 3: bf16w_half(3, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c, next, sibling); break;
        default: bf16w_half(4, kc, a, rs_a, cs_a, b, ch, ldc, cols, load_c, next, sibling); break;
        }
    }
}

/* 8 x 8 transposes: eight rows of W become eight panel rows of 8 columns.
 * A decoding step packs every weight it reads, so this runs at memory speed
 * rather than at one strided store per element. */
void scorek_pack_transposed_avx2(long kc, long nc, const float *b, long ldb, float *out) {
    for (long q = 0; q * 32 < nc; q++) {
        float *panel = out + q * 32 * kc;
        long width = nc - q * 32 < 32 ? nc - q * 32 : 32;
        long j = 0;
        for (; j + 8 <= width; j += 8) {
            const float *src = b + (q * 32 + j) * ldb;
            long p = 0;
            for (; p + 8 <= kc; p += 8) {
                __m256 r0 = _mm256_loadu_ps(src + p), r1 = _mm256_loadu_ps(src + ldb + p);
                __m256 r2 = _mm256_loadu_ps(src + 2 * ldb + p), r3 = _mm256_loadu_ps(src + 3 * ldb + p);
                __m256 r4 = _mm256_loadu_ps(src + 4 * ldb + p), r5 = _mm256_loadu_ps(src + 5 * ldb + p);
                __m256 r6 = _mm256_loadu_ps(src + 6 * ldb + p), r7 = _mm256_loadu_ps(src + 7 * ldb + p);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
                __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
                __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
                __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *dst = panel + p * 32 + j;
                _mm256_storeu_ps(dst + 0 * 32, _mm256_permute2f128_ps(s0, s4, 0x20));
                _mm256_storeu_ps(dst + 1 * 32, _mm256_permute2f128_ps(s1, s5, 0x20));
                _mm256_storeu_ps(dst + 2 * 32, _mm256_permute2f128_ps(s2, s6, 0x20));
                _mm256_storeu_ps(dst + 3 * 32, _mm256_permute2f128_ps(s3, s7, 0x20));
                _mm256_storeu_ps(dst + 4 * 32, _mm256_permute2f128_ps(s0, s4, 0x31));
                _mm256_storeu_ps(dst + 5 * 32, _mm256_permute2f128_ps(s1, s5, 0x31));
                _mm256_storeu_ps(dst + 6 * 32, _mm256_permute2f128_ps(s2, s6, 0x31));
                _mm256_storeu_ps(dst + 7 * 32, _mm256_permute2f128_ps(s3, s7, 0x31));
            }
            for (; p < kc; p++)
                for (long i = 0; i < 8; i++) panel[p * 32 + j + i] = src[i * ldb + p];
        }
        for (; j < width; j++)
            for (long p = 0; p < kc; p++) panel[p * 32 + j] = b[(q * 32 + j) * ldb + p];
        if (width < 32)
            for (long p = 0; p < kc; p++)
                for (long jj = width; jj < 32; jj++) panel[p * 32 + jj] = 0.0f;
    }
}

#pragma clang attribute pop

const struct scorek_gemm_ops scorek_ops_avx2 = {
    .name = "avx2", .mr_f32 = 6, .mr_bf16w = 4, .mr_bf16dot = 0,
    .f32 = avx2_f32, .bf16w = avx2_bf16w, .bf16dot = NULL, .pack_transposed = scorek_pack_transposed_avx2,
};
#endif
