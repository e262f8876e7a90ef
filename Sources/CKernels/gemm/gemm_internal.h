/* What the GEMM driver (gemm.c) and the per-ISA micro-kernels share.
 *
 * Every kernel computes, for each output element, acc = (load_c ? C : 0)
 * and then acc = fma(a[p], b[p], acc) for p in order: one fused
 * multiply-add chain per element. That order is the contract: a tile of
 * any height, a k-block boundary (the partial sum goes through C exactly)
 * and any ISA give the same bits (BF16-compute kernels excepted). */
#ifndef SCOREK_GEMM_INTERNAL_H
#define SCOREK_GEMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define SCOREK_NR 32   /* columns of a packed panel, for every path */

/* C[mr x ncols] (load_c ? += : =) A[mr x kc] . Bpanel[kc x 32].
 * a(r, p) = a[r*rs_a + p*cs_a]; bp holds row p of the panel at bp[p*32].
 *
 * `prefetch` (NULL, or where the next panel's same kc rows start, in the
 * same layout): the kernel asks for those rows into L2 as it goes, one
 * panel row per row it computes. A decoding batch taller than one tile
 * reads each panel from memory in its first tile and from L2 in the
 * others; the last tile prefetches, so memory streams the next panel
 * while the core computes instead of idling until the next first tile. */
typedef void (*scorek_f32_kernel)(long mr, long kc, const float *a, long rs_a, long cs_a,
                                  const float *bp, float *c, long ldc, long ncols, int load_c,
                                  const void *prefetch);

/* The same with a BF16 panel in pair layout: rows p, p+1 (p even) of
 * column j at bp[(p/2)*64 + 2j], [.. + 1]. kc may be odd only at k's end. */
typedef void (*scorek_bf16w_kernel)(long mr, long kc, const float *a, long rs_a, long cs_a,
                                    const uint16_t *bp, float *c, long ldc, long ncols, int load_c,
                                    const void *prefetch);

/* BF16 x BF16 pair dot products (vdpbf16ps): a holds each row's BF16
 * pairs as 32-bit words, row r at a[r*lda]; kp pairs. */
typedef void (*scorek_bf16dot_kernel)(long mr, long kp, const uint32_t *a, long lda,
                                      const uint16_t *bp, float *c, long ldc, long ncols, int load_c,
                                      const void *prefetch);

/* Packs B(p, j) = b[j*ldb + p] (a row-major weight read as Wᵀ: the
 * forward product's B) for p < kc, j < nc into zero-padded panels. */
typedef void (*scorek_pack_transposed)(long kc, long nc, const float *b, long ldb, float *out);

struct scorek_gemm_ops {
    const char *name;
    long mr_f32, mr_bf16w, mr_bf16dot;   /* tallest tile of each kernel */
    scorek_f32_kernel f32;
    scorek_bf16w_kernel bf16w;
    scorek_bf16dot_kernel bf16dot;       /* NULL: emulated (rounded A, bf16w) */
    scorek_pack_transposed pack_transposed; /* NULL: the portable loops */
};

extern const struct scorek_gemm_ops scorek_ops_reference;
#if defined(__x86_64__)
/* Needs AVX2; the AVX-512 paths share it. */
void scorek_pack_transposed_avx2(long kc, long nc, const float *b, long ldb, float *out);
#endif
#if defined(__x86_64__)
extern const struct scorek_gemm_ops scorek_ops_avx2;
extern const struct scorek_gemm_ops scorek_ops_avx512;
extern const struct scorek_gemm_ops scorek_ops_avx512bf16;
#endif

/* Round-to-nearest-even F32 -> BF16 (NaN stays NaN), as torch does. */
static inline uint16_t scorek_bf16_round(float x) {
    union { float f; uint32_t u; } v = { x };
    uint32_t nan = (v.u & 0x7fffffffu) > 0x7f800000u;  /* a select, so loops vectorise */
    return (uint16_t)(nan ? (v.u >> 16) | 0x40 : (v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

static inline float scorek_bf16_widen(uint16_t h) {
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}

#endif
