/* libscore's own low-level C: what Swift cannot say (cpuid, xgetbv, and the
 * intrinsics of the hot kernels). Internal to the package, not part of score.h: the scorek_ prefix keeps
 * these out of the exports (tools/libscore.map exports score_*). */
#ifndef SCORE_KERNELS_H
#define SCORE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set features, usable only when the OS also saves the
 * registers they need (checked with xgetbv). */
enum {
    SCORE_CPU_SSE3 = 1u << 0,
    SCORE_CPU_AVX = 1u << 1,
    SCORE_CPU_AVX2 = 1u << 2,
    SCORE_CPU_FMA = 1u << 3,
    SCORE_CPU_F16C = 1u << 4,
    SCORE_CPU_AVX512F = 1u << 5,
    SCORE_CPU_AVX512BW = 1u << 6,
    SCORE_CPU_AVX512DQ = 1u << 7,
    SCORE_CPU_AVX512VL = 1u << 8,
    SCORE_CPU_AVX512_VNNI = 1u << 9,
    SCORE_CPU_AVX512_BF16 = 1u << 10,
    SCORE_CPU_AVX512_FP16 = 1u << 11,
    SCORE_CPU_AVX_VNNI = 1u << 12,
};

/* The SCORE_CPU_* bits of the CPU this runs on (0 off x86-64). */
uint32_t scorek_cpu_features(void);

/* cpuid's vendor string ("GenuineIntel", "AuthenticAMD"), family and model
 * (extended fields folded in), and the brand string; empty off x86-64. */
void scorek_cpu_identity(char vendor[13], uint32_t *family, uint32_t *model, char brand[49]);

/* A spin-wait hint (x86 `pause`): a waiting thread gives the core's
 * pipeline to its sibling and wakes within dozens of cycles. */
void scorek_cpu_relax(void);

/* Asks for [p, p + bytes) in L2 (a software prefetch per 64-byte line),
 * for a run read soon after: the next (sequence, KV head) of a decoding
 * step's attention while the current one computes. */
void scorek_prefetch(const void *p, long bytes);

/* A 64-byte aligned buffer (NULL when memory runs out); from 2 MiB up,
 * 2 MiB aligned and on transparent huge pages where the kernel grants
 * them (memory.c). Free with scorek_free. */
void *scorek_alloc(size_t bytes);
void scorek_free(void *p);

/* Makes a DYNAMIC_ARCH OpenBLAS run the kernels of `core` (an
 * OPENBLAS_CORETYPE name such as "SkylakeX"). Returns 0 when this OpenBLAS
 * cannot re-select (built without DYNAMIC_ARCH). Call before any other
 * thread uses OpenBLAS. */
int scorek_openblas_force_core(const char *core);

/* The sum of p[0..n): one sequential read with the CPU's widest loads
 * (read_bandwidth.c; what `score-cli bench-memory` times). */
float scorek_read_sum(const float *p, long n);

/* ---- Matrix products (gemm/): our own kernels, chosen at run time. ----
 *
 * Every product sums each output element over k in order, one fused
 * multiply-add at a time, starting from 0 or from C: every F32 path
 * (reference C, AVX2, AVX-512), every tile size, k-block and thread split
 * gives the same bits, and a row's result does not depend on the rows
 * computed with it. BF16 compute (bf16_compute = 1) is the exception:
 * activations are rounded to BF16 and vdpbf16ps sums pairs. */
enum {
    SCOREK_PATH_REFERENCE = 0,   /* portable C */
    SCOREK_PATH_AVX2 = 1,        /* AVX2 + FMA */
    SCOREK_PATH_AVX512 = 2,      /* AVX-512 F/BW/DQ/VL */
    SCOREK_PATH_AVX512BF16 = 3,  /* AVX-512 plus vdpbf16ps for BF16 compute */
    SCOREK_PATH_COUNT = 4
};

/* Columns of a packed panel. */
#define SCOREK_PANEL 32

int scorek_gemm_path_supported(int path);
/* The fastest path this CPU supports. */
int scorek_gemm_best_path(void);
/* Runs every product from now on with `path`; 0 when the CPU cannot. Call
 * before products run (not while they do). */
int scorek_gemm_use_path(int path);
int scorek_gemm_active_path(void);
/* "reference", "avx2", "avx512", "avx512bf16"; NULL when out of range. */
const char *scorek_gemm_path_name(int path);

/* C[m x n] (accumulate ? += : =) A . B, where A(i, p) = a[i*rs_a + p*cs_a]
 * and B(p, j) = b[p*rs_b + j*cs_b]: strides express every transpose. */
void scorek_gemm_f32(long m, long n, long k,
                     const float *a, long rs_a, long cs_a,
                     const float *b, long rs_b, long cs_b,
                     float *c, long ldc, int accumulate);

/* A weight W [n x k] (row-major, row stride ldw), packed once into panels
 * of 32 rows: panel q holds rows 32q.. as k rows of 32 values (F32), or as
 * k/2 rows of 32 BF16 pairs (k rounded up to even); the last panel is
 * zero-padded. Sizes are in elements. */
size_t scorek_packed_f32_size(long n, long k);
void scorek_pack_f32(long n, long k, const float *w, long ldw, float *packed);
size_t scorek_packed_bf16_size(long n, long k);
void scorek_pack_bf16(long n, long k, const uint16_t *w, long ldw, uint16_t *packed);
/* F32 weights rounded to BF16 (round to nearest even) while packing. */
void scorek_pack_bf16_from_f32(long n, long k, const float *w, long ldw, uint16_t *packed);
/* Any B(p, j) = b[p*rs_b + j*cs_b], p < k, j < n, into the same panels
 * (scorek_pack_f32 is rs_b = 1, cs_b = ldw): a product's B packed once and
 * shared by the threads that split its rows. */
void scorek_pack_b_f32(long n, long k, const float *b, long rs_b, long cs_b, float *packed);
/* dst[i] = src[i] rounded to BF16 (nearest even, NaN stays NaN): the
 * packers' rounding, for a BF16 KV cache's stored keys and values. */
void scorek_round_bf16(const float *src, uint16_t *dst, long count);
/* Row `row` of a packed W, widened to F32 (an embedding lookup). */
void scorek_packed_f32_row(const float *packed, long k, long row, float *out);
void scorek_packed_bf16_row(const uint16_t *packed, long k, long row, float *out);

/* C[m x n] (accumulate ? += : =) A[m x k] . W^T, W packed; `packed` points
 * at the panel of C's column 0 (offset q*32*k floats, or q*32*k_even
 * halves, for panel q). */
void scorek_gemm_packed_f32(long m, long n, long k, const float *a, long lda,
                            const float *packed, float *c, long ldc, int accumulate);
void scorek_gemm_packed_bf16(long m, long n, long k, const float *a, long lda,
                             const uint16_t *packed, float *c, long ldc, int accumulate,
                             int bf16_compute);

/* BF16 compute with A rounded once for several products (a prefill's q, k
 * and v read one input): scorek_round_pairs writes A's rows as BF16 pairs
 * (round to nearest even; an odd k's last pair has a zero high half),
 * (k+1)/2 words a row; the product takes them ldp words apart. Only where
 * the active path has vdpbf16ps (scorek_gemm_has_bf16dot); the same bits
 * as scorek_gemm_packed_bf16 with bf16_compute. */
int scorek_gemm_has_bf16dot(void);
void scorek_round_pairs(long m, long k, const float *a, long lda, uint32_t *pairs);
void scorek_gemm_packed_bf16_pairs(long m, long n, long k, const uint32_t *pairs, long ldp,
                                   const uint16_t *packed, float *c, long ldc, int accumulate);

/* Elementwise maths over `blocks` whole blocks of 16 floats (callers keep
 * their tails), with the bits of Swift's `VectorMath.exp` formula on every
 * path (Sources/CKernels/vmath). */
/* lanes[l] += e^(x[16b + l] - shift) over the blocks, in block order;
 * out (may be x, or NULL) receives the exponentials. */
void scorek_exp_shifted(const float *x, float *out, long blocks, float shift, float *lanes);
/* z = scale * e^(z - shift). */
void scorek_scaled_exp_shifted(float *z, long blocks, float shift, float scale);
/* out = g / (1 + e^-g) * up (out may alias gate or up). */
void scorek_swiglu(float *out, const float *gate, const float *up, long blocks);
/* s = 1 / (1 + e^-g): dup = dout*g*s, dgate = dout*up*s*(1 + g*(1 - s)) (dout may alias dgate). */
void scorek_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                            long blocks);

#ifdef __cplusplus
}
#endif
#endif
