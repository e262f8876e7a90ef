/* Elementwise maths with exp (softmax, log-sum-exp, SwiGLU) in C with
 * runtime dispatch: the Swift SIMD code compiled for x86-64-v3 spent 3-7%
 * of a training step, a scoring pass or a prefill in exp. Each ISA runs
 * vmath_kernels.h over its own 16-lane type; all give the same bits (the
 * active GEMM path chooses, so SCORE_KERNELS forces these too). */
#include "score_kernels.h"

#include <stdint.h>
#include <string.h>

#ifdef __clang__
#pragma clang fp contract(off)
#endif

struct scorek_vmath_ops {
    void (*exp_shifted)(const float *x, float *out, long blocks, float shift, float *lanes);
    void (*scaled_exp_shifted)(float *z, long blocks, float shift, float scale);
    void (*swiglu)(float *out, const float *gate, const float *up, long blocks);
    void (*swiglu_backward)(float *dgate, float *dup, const float *dout, const float *gate, const float *up, long blocks);
};

/* ---- Portable: 16 floats in a struct, lane by lane. ---- */

typedef struct { float l[16]; } lanes16;

#define LANEWISE(expr) do { for (int i = 0; i < 16; i++) r.l[i] = (expr); } while (0)
static inline lanes16 p_splat(float v) { lanes16 r; LANEWISE(v); return r; }
static inline lanes16 p_add(lanes16 a, lanes16 b) { lanes16 r; LANEWISE(a.l[i] + b.l[i]); return r; }
static inline lanes16 p_sub(lanes16 a, lanes16 b) { lanes16 r; LANEWISE(a.l[i] - b.l[i]); return r; }
static inline lanes16 p_mul(lanes16 a, lanes16 b) { lanes16 r; LANEWISE(a.l[i] * b.l[i]); return r; }
static inline lanes16 p_div(lanes16 a, lanes16 b) { lanes16 r; LANEWISE(a.l[i] / b.l[i]); return r; }
static inline lanes16 p_neg(lanes16 a) { lanes16 r; LANEWISE(-a.l[i]); return r; }
static inline lanes16 p_load(const float *p) { lanes16 r; memcpy(r.l, p, sizeof r.l); return r; }
static inline void p_store(float *p, lanes16 v) { memcpy(p, v.l, sizeof v.l); }
/* Masks as lanes of 0/1. */
static inline lanes16 p_less(lanes16 a, lanes16 b) { lanes16 r; LANEWISE(a.l[i] < b.l[i]); return r; }
static inline lanes16 p_greater(lanes16 a, lanes16 b) { lanes16 r; LANEWISE(a.l[i] > b.l[i]); return r; }
static inline lanes16 p_unequal(lanes16 a, lanes16 b) { lanes16 r; LANEWISE(a.l[i] != b.l[i]); return r; }
static inline lanes16 p_select(lanes16 m, lanes16 a, lanes16 b) { lanes16 r; LANEWISE(m.l[i] != 0 ? a.l[i] : b.l[i]); return r; }
/* 2^(n-1) from shifted = n + magic: its low mantissa bits hold n. */
static inline lanes16 p_pow2(lanes16 shifted, lanes16 magic) {
    lanes16 r;
    for (int i = 0; i < 16; i++) {
        uint32_t s, m;
        memcpy(&s, &shifted.l[i], 4);
        memcpy(&m, &magic.l[i], 4);
        uint32_t bits = (s - m + 126u) << 23;
        memcpy(&r.l[i], &bits, 4);
    }
    return r;
}

#define V lanes16
#define NAME(x) portable_##x
#define SPLAT p_splat
#define ADD p_add
#define SUB p_sub
#define MUL p_mul
#define DIV p_div
#define NEG p_neg
#define LOAD p_load
#define STORE p_store
#define LESS p_less
#define GREATER p_greater
#define UNEQUAL p_unequal
#define SELECT p_select
#define POW2 p_pow2
#include "vmath_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* ---- AVX2: two 8-lane halves. ---- */
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)

typedef struct { __m256 lo, hi; } ymm2;
#define Y2(op) { op(a.lo, b.lo), op(a.hi, b.hi) }
static inline ymm2 y_splat(float v) { ymm2 r = { _mm256_set1_ps(v), _mm256_set1_ps(v) }; return r; }
static inline ymm2 y_add(ymm2 a, ymm2 b) { ymm2 r = Y2(_mm256_add_ps); return r; }
static inline ymm2 y_sub(ymm2 a, ymm2 b) { ymm2 r = Y2(_mm256_sub_ps); return r; }
static inline ymm2 y_mul(ymm2 a, ymm2 b) { ymm2 r = Y2(_mm256_mul_ps); return r; }
static inline ymm2 y_div(ymm2 a, ymm2 b) { ymm2 r = Y2(_mm256_div_ps); return r; }
static inline ymm2 y_neg(ymm2 a) {
    __m256 sign = _mm256_set1_ps(-0.0f);
    ymm2 r = { _mm256_xor_ps(a.lo, sign), _mm256_xor_ps(a.hi, sign) };
    return r;
}
static inline ymm2 y_load(const float *p) { ymm2 r = { _mm256_loadu_ps(p), _mm256_loadu_ps(p + 8) }; return r; }
static inline void y_store(float *p, ymm2 v) { _mm256_storeu_ps(p, v.lo); _mm256_storeu_ps(p + 8, v.hi); }
static inline ymm2 y_less(ymm2 a, ymm2 b) {
    ymm2 r = { _mm256_cmp_ps(a.lo, b.lo, _CMP_LT_OQ), _mm256_cmp_ps(a.hi, b.hi, _CMP_LT_OQ) };
    return r;
}
static inline ymm2 y_greater(ymm2 a, ymm2 b) {
    ymm2 r = { _mm256_cmp_ps(a.lo, b.lo, _CMP_GT_OQ), _mm256_cmp_ps(a.hi, b.hi, _CMP_GT_OQ) };
    return r;
}
static inline ymm2 y_unequal(ymm2 a, ymm2 b) {
    ymm2 r = { _mm256_cmp_ps(a.lo, b.lo, _CMP_NEQ_UQ), _mm256_cmp_ps(a.hi, b.hi, _CMP_NEQ_UQ) };
    return r;
}
static inline ymm2 y_select(ymm2 m, ymm2 a, ymm2 b) {
    ymm2 r = { _mm256_blendv_ps(b.lo, a.lo, m.lo), _mm256_blendv_ps(b.hi, a.hi, m.hi) };
    return r;
}
static inline __m256 y_pow2_half(__m256 shifted, __m256 magic) {
    __m256i n = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(magic));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(126)), 23));
}
static inline ymm2 y_pow2(ymm2 shifted, ymm2 magic) {
    ymm2 r = { y_pow2_half(shifted.lo, magic.lo), y_pow2_half(shifted.hi, magic.hi) };
    return r;
}

#define V ymm2
#define NAME(x) avx2_##x
#define SPLAT y_splat
#define ADD y_add
#define SUB y_sub
#define MUL y_mul
#define DIV y_div
#define NEG y_neg
#define LOAD y_load
#define STORE y_store
#define LESS y_less
#define GREATER y_greater
#define UNEQUAL y_unequal
#define SELECT y_select
#define POW2 y_pow2
#include "vmath_kernels.h"
#pragma clang attribute pop

/* ---- AVX-512: one register. Masks are kept as vectors of all-ones
 * lanes so that SELECT has one form for every ISA. ---- */
#pragma clang attribute push(__attribute__((target("avx2,avx512f,avx512dq"))), apply_to = function)

static inline __m512 z_mask(__mmask16 m) { return _mm512_castsi512_ps(_mm512_maskz_set1_epi32(m, -1)); }
static inline __m512 z_splat(float v) { return _mm512_set1_ps(v); }
static inline __m512 z_add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
static inline __m512 z_sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
static inline __m512 z_mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
static inline __m512 z_div(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
static inline __m512 z_neg(__m512 a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
static inline __m512 z_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void z_store(float *p, __m512 v) { _mm512_storeu_ps(p, v); }
static inline __m512 z_less(__m512 a, __m512 b) { return z_mask(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)); }
static inline __m512 z_greater(__m512 a, __m512 b) { return z_mask(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)); }
static inline __m512 z_unequal(__m512 a, __m512 b) { return z_mask(_mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ)); }
static inline __m512 z_select(__m512 m, __m512 a, __m512 b) {
    return _mm512_mask_blend_ps(_mm512_movepi32_mask(_mm512_castps_si512(m)), b, a);
}
static inline __m512 z_pow2(__m512 shifted, __m512 magic) {
    __m512i n = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(126)), 23));
}

#define V __m512
#define NAME(x) avx512_##x
#define SPLAT z_splat
#define ADD z_add
#define SUB z_sub
#define MUL z_mul
#define DIV z_div
#define NEG z_neg
#define LOAD z_load
#define STORE z_store
#define LESS z_less
#define GREATER z_greater
#define UNEQUAL z_unequal
#define SELECT z_select
#define POW2 z_pow2
#include "vmath_kernels.h"
#pragma clang attribute pop
#endif

static const struct scorek_vmath_ops *vmath(void) {
#if defined(__x86_64__)
    switch (scorek_gemm_active_path()) {
    case SCOREK_PATH_AVX512:
    case SCOREK_PATH_AVX512BF16: return &avx512_ops;
    case SCOREK_PATH_AVX2: return &avx2_ops;
    default: break;
    }
#endif
    return &portable_ops;
}

void scorek_exp_shifted(const float *x, float *out, long blocks, float shift, float *lanes) {
    vmath()->exp_shifted(x, out, blocks, shift, lanes);
}

void scorek_scaled_exp_shifted(float *z, long blocks, float shift, float scale) {
    vmath()->scaled_exp_shifted(z, blocks, shift, scale);
}

void scorek_swiglu(float *out, const float *gate, const float *up, long blocks) {
    vmath()->swiglu(out, gate, up, blocks);
}

void scorek_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, long blocks) {
    vmath()->swiglu_backward(dgate, dup, dout, gate, up, blocks);
}
