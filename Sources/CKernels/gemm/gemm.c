/* The blocked GEMM driver: packing, cache blocking and the choice of
 * micro-kernels. The loops follow BLIS: a k-block of B is packed into
 * 32-column panels (small enough for L1), a block of A's rows stays in L2,
 * and the micro-kernel walks the A block down one panel at a time. A is
 * never packed: the kernels broadcast its elements through two strides,
 * which covers A and Aᵀ alike (tinyBLAS does the same).
 *
 * Weights that never change are packed once at load (scorek_pack_*) and
 * streamed straight from their panels. */
#include "score_kernels.h"
#include "gemm_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    KC = 256,    /* k per block: a 32 x 256 F32 panel is 32 KB (L1) */
    MC_TILES = 8, /* tiles of A rows per block: 8 x 12 x 256 x 4 = 96 KB (L2) */
    NC = 1024,   /* columns of B packed at once per call (1 MB F32) */
};

/* ---- The reference path: plain C, the contract written out. ---- */

static void ref_f32(long mr, long kc, const float *a, long rs_a, long cs_a,
                    const float *bp, float *c, long ldc, long ncols, int load_c, const void *prefetch) {
    (void)prefetch;
    for (long r = 0; r < mr; r++)
        for (long j = 0; j < ncols; j++) {
            float acc = load_c ? c[r * ldc + j] : 0.0f;
            for (long p = 0; p < kc; p++) acc = fmaf(a[r * rs_a + p * cs_a], bp[p * SCOREK_NR + j], acc);
            c[r * ldc + j] = acc;
        }
}

static void ref_bf16w(long mr, long kc, const float *a, long rs_a, long cs_a,
                      const uint16_t *bp, float *c, long ldc, long ncols, int load_c, const void *prefetch) {
    (void)prefetch;
    for (long r = 0; r < mr; r++)
        for (long j = 0; j < ncols; j++) {
            float acc = load_c ? c[r * ldc + j] : 0.0f;
            for (long p = 0; p < kc; p++)
                acc = fmaf(a[r * rs_a + p * cs_a], scorek_bf16_widen(bp[(p >> 1) * 64 + 2 * j + (p & 1)]), acc);
            c[r * ldc + j] = acc;
        }
}

const struct scorek_gemm_ops scorek_ops_reference = {
    .name = "reference", .mr_f32 = 4, .mr_bf16w = 4, .mr_bf16dot = 0,
    .f32 = ref_f32, .bf16w = ref_bf16w, .bf16dot = NULL,
};

/* ---- Dispatch ---- */

static const struct scorek_gemm_ops *path_ops(int path) {
    switch (path) {
    case SCOREK_PATH_REFERENCE: return &scorek_ops_reference;
#if defined(__x86_64__)
    case SCOREK_PATH_AVX2: return &scorek_ops_avx2;
    case SCOREK_PATH_AVX512: return &scorek_ops_avx512;
    case SCOREK_PATH_AVX512BF16: return &scorek_ops_avx512bf16;
#endif
    default: return NULL;
    }
}

const char *scorek_gemm_path_name(int path) {
    static const char *names[SCOREK_PATH_COUNT] = { "reference", "avx2", "avx512", "avx512bf16" };
    return path >= 0 && path < SCOREK_PATH_COUNT ? names[path] : NULL;
}

int scorek_gemm_path_supported(int path) {
    uint32_t f = scorek_cpu_features();
    uint32_t avx2 = SCORE_CPU_AVX2 | SCORE_CPU_FMA;
    uint32_t avx512 = avx2 | SCORE_CPU_AVX512F | SCORE_CPU_AVX512BW | SCORE_CPU_AVX512DQ | SCORE_CPU_AVX512VL;
    switch (path) {
    case SCOREK_PATH_REFERENCE: return 1;
    case SCOREK_PATH_AVX2: return path_ops(path) && (f & avx2) == avx2;
    case SCOREK_PATH_AVX512: return path_ops(path) && (f & avx512) == avx512;
    case SCOREK_PATH_AVX512BF16:
        return path_ops(path) && (f & (avx512 | SCORE_CPU_AVX512_BF16)) == (avx512 | SCORE_CPU_AVX512_BF16);
    default: return 0;
    }
}

int scorek_gemm_best_path(void) {
    for (int path = SCOREK_PATH_COUNT - 1; path > 0; path--)
        if (scorek_gemm_path_supported(path)) return path;
    return SCOREK_PATH_REFERENCE;
}

/* Atomic: a test may switch paths while other threads compute (F32 paths
 * give the same bits, so their results do not change). */
static _Atomic int active_path = -1;
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static void choose_best(void) {
    int unset = -1;
    atomic_compare_exchange_strong(&active_path, &unset, scorek_gemm_best_path());
}

int scorek_gemm_use_path(int path) {
    if (!scorek_gemm_path_supported(path)) return 0;
    pthread_once(&active_once, choose_best);
    atomic_store_explicit(&active_path, path, memory_order_relaxed);
    return 1;
}

int scorek_gemm_active_path(void) {
    pthread_once(&active_once, choose_best);
    return atomic_load_explicit(&active_path, memory_order_relaxed);
}

static const struct scorek_gemm_ops *ops(void) { return path_ops(scorek_gemm_active_path()); }

/* ---- Per-thread scratch (packed B blocks, BF16 copies of A) ---- */

struct scratch { void *data; size_t bytes; };
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p) {
    struct scratch *s = p;
    free(s->data);
    free(s);
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

/* Two independent buffers per thread (slot 0: B panels, slot 1: A copy).
 * NULL when memory runs out; callers fall back to the reference loops. */
static void *scratch(int slot, size_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(2, sizeof *s);
        if (!s) return NULL;
        pthread_setspecific(scratch_key, s);
    }
    if (s[slot].bytes < bytes) {
        size_t rounded = (bytes + 63) / 64 * 64;
        void *p = aligned_alloc(64, rounded);
        if (!p) return NULL;
        free(s[slot].data);
        s[slot].data = p;
        s[slot].bytes = rounded;
    }
    return s[slot].data;
}

/* ---- Packing ---- */

static long panels(long n) { return (n + SCOREK_NR - 1) / SCOREK_NR; }
static long even(long k) { return (k + 1) & ~1L; }

size_t scorek_packed_f32_size(long n, long k) { return (size_t)(panels(n) * SCOREK_NR * k); }
size_t scorek_packed_bf16_size(long n, long k) { return (size_t)(panels(n) * SCOREK_NR * even(k)); }

/* B(p, j) for p in [p0, p0+kc), j in [j0, j0+nc) into panels of kc rows:
 * B's rows are contiguous (a product's plain B): copies; B's columns are
 * (a weight read as Wᵀ): the path's transposing packer. */
static void pack_block(const struct scorek_gemm_ops *o, long kc, long nc, const float *b, long rs_b, long cs_b,
                       float *out) {
    if (cs_b == 1) {
        for (long q = 0; q < panels(nc); q++) {
            long width = nc - q * SCOREK_NR < SCOREK_NR ? nc - q * SCOREK_NR : SCOREK_NR;
            float *panel = out + q * SCOREK_NR * kc;
            for (long p = 0; p < kc; p++) {
                memcpy(panel + p * SCOREK_NR, b + p * rs_b + q * SCOREK_NR, (size_t)width * sizeof(float));
                for (long j = width; j < SCOREK_NR; j++) panel[p * SCOREK_NR + j] = 0.0f;
            }
        }
        return;
    }
    if (rs_b == 1 && o && o->pack_transposed) {
        o->pack_transposed(kc, nc, b, cs_b, out);
        return;
    }
    for (long q = 0; q < panels(nc); q++) {
        float *panel = out + q * SCOREK_NR * kc;
        long width = nc - q * SCOREK_NR < SCOREK_NR ? nc - q * SCOREK_NR : SCOREK_NR;
        for (long j = 0; j < width; j++) {
            const float *src = b + (q * SCOREK_NR + j) * cs_b;
            for (long p = 0; p < kc; p++) panel[p * SCOREK_NR + j] = src[p * rs_b];
        }
        for (long j = width; j < SCOREK_NR; j++)
            for (long p = 0; p < kc; p++) panel[p * SCOREK_NR + j] = 0.0f;
    }
}

void scorek_pack_f32(long n, long k, const float *w, long ldw, float *packed) {
    pack_block(ops(), k, n, w, 1, ldw, packed);
}

void scorek_pack_b_f32(long n, long k, const float *b, long rs_b, long cs_b, float *packed) {
    pack_block(ops(), k, n, b, rs_b, cs_b, packed);
}

#define PACK_BF16(VALUE)                                                                   \
    long ke = even(k);                                                                     \
    for (long q = 0; q < panels(n); q++) {                                                 \
        uint16_t *panel = packed + q * SCOREK_NR * ke;                                     \
        for (long j = 0; j < SCOREK_NR; j++) {                                             \
            long row = q * SCOREK_NR + j;                                                  \
            for (long p = 0; p < ke; p++)                                                  \
                panel[(p >> 1) * 64 + 2 * j + (p & 1)] = row < n && p < k ? VALUE : 0;     \
        }                                                                                  \
    }

void scorek_pack_bf16(long n, long k, const uint16_t *w, long ldw, uint16_t *packed) {
    PACK_BF16(w[row * ldw + p])
}

void scorek_pack_bf16_from_f32(long n, long k, const float *w, long ldw, uint16_t *packed) {
    PACK_BF16(scorek_bf16_round(w[row * ldw + p]))
}

void scorek_round_bf16(const float *src, uint16_t *dst, long count) {
    for (long i = 0; i < count; i++) dst[i] = scorek_bf16_round(src[i]);
}

void scorek_packed_f32_row(const float *packed, long k, long row, float *out) {
    const float *panel = packed + (row / SCOREK_NR) * SCOREK_NR * k + row % SCOREK_NR;
    for (long p = 0; p < k; p++) out[p] = panel[p * SCOREK_NR];
}

void scorek_packed_bf16_row(const uint16_t *packed, long k, long row, float *out) {
    const uint16_t *panel = packed + (row / SCOREK_NR) * SCOREK_NR * even(k) + 2 * (row % SCOREK_NR);
    for (long p = 0; p < k; p++) out[p] = scorek_bf16_widen(panel[(p >> 1) * 64 + (p & 1)]);
}

/* ---- Blocked loops ---- */

/* Rows per tile for a block of mb rows: as few tiles as the tallest
 * allows, of even height (16 rows on a 12-row kernel: 8 + 8, not 12 + 4,
 * whose short tile has too few accumulators to hide the FMA latency). */
static long tile_rows(long mb, long mr) {
    long tiles = (mb + mr - 1) / mr;
    return (mb + tiles - 1) / tiles;
}

static void zero_c(long m, long n, float *c, long ldc) {
    for (long i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
}

/* True when C is empty or k is: then C is left (accumulate) or zeroed. */
static int empty_product(long m, long n, long k, float *c, long ldc, int accumulate) {
    if (m <= 0 || n <= 0) return 1;
    if (k > 0) return 0;
    if (!accumulate) zero_c(m, n, c, ldc);
    return 1;
}

/* One k-block: C[m x n] over panels at `bp` (panel q at bp + q*panel_stride):
 * blocks of A's rows (L2) down each panel (L1), in tiles of even height.
 * TILE(rows, row, panel, ncols, prefetch) calls the kernel on one tile.
 * When one block holds every row in several tiles (a decoding batch), the
 * last tile of a panel prefetches the next panel (see the kernel types). */
#define BLOCK_LOOPS(MR, TILE)                                                          \
    do {                                                                               \
        long mc_ = (MR) * MC_TILES;                                                    \
        for (long ic = 0; ic < m; ic += mc_) {                                         \
            long mb = m - ic < mc_ ? m - ic : mc_, mr = tile_rows(mb, (MR));           \
            int prefetching = mb == m && m > mr;                                       \
            for (long q = 0; q < panels(n); q++) {                                     \
                long ncols = n - q * SCOREK_NR < SCOREK_NR ? n - q * SCOREK_NR : SCOREK_NR; \
                const void *next = prefetching && q + 1 < panels(n) ? bp + (q + 1) * panel_stride : NULL; \
                for (long ir = 0; ir < mb; ir += mr)                                   \
                    TILE(mb - ir < mr ? mb - ir : mr, ic + ir, q, ncols, ir + mr >= mb ? next : NULL); \
            }                                                                          \
        }                                                                              \
    } while (0)

static void f32_block(const struct scorek_gemm_ops *o, long m, long n, long kc,
                      const float *a, long rs_a, long cs_a, const float *bp, long panel_stride,
                      float *c, long ldc, int load_c) {
#define F32_TILE(rows, row, q, ncols, next) \
    o->f32(rows, kc, a + (row) * rs_a, rs_a, cs_a, bp + (q) * panel_stride, c + (row) * ldc + (q) * SCOREK_NR, ldc, ncols, load_c, next)
    BLOCK_LOOPS(o->mr_f32, F32_TILE);
#undef F32_TILE
}

void scorek_gemm_f32(long m, long n, long k, const float *a, long rs_a, long cs_a,
                     const float *b, long rs_b, long cs_b, float *c, long ldc, int accumulate) {
    if (empty_product(m, n, k, c, ldc, accumulate)) return;
    const struct scorek_gemm_ops *o = ops();
    float *buf = scratch(0, (size_t)NC * KC * sizeof(float));
    if (!buf) o = &scorek_ops_reference;
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC;
            if (buf) {
                pack_block(o, kc, nc, b + pc * rs_b + jc * cs_b, rs_b, cs_b, buf);
                f32_block(o, m, nc, kc, a + pc * cs_a, rs_a, cs_a, buf, SCOREK_NR * kc, c + jc, ldc,
                          accumulate || pc > 0);
            } else {
                /* No memory for a panel: the contract's loops, reading B in place. */
                for (long i = 0; i < m; i++)
                    for (long j = 0; j < nc; j++) {
                        float acc = accumulate || pc > 0 ? c[i * ldc + jc + j] : 0.0f;
                        for (long p = pc; p < pc + kc; p++)
                            acc = fmaf(a[i * rs_a + p * cs_a], b[p * rs_b + (jc + j) * cs_b], acc);
                        c[i * ldc + jc + j] = acc;
                    }
            }
        }
    }
}

/* A decoding step's rows (up to a few dozen sequences) read each weight
 * from memory once: no k-blocks then, so the panels stream in one
 * sequential run (k-blocks would jump a panel's length between reads) while
 * the rows of A stay in L1/L2. */
enum { STREAM_ROWS = 64 };
static long k_block(long m, long k) { return m <= STREAM_ROWS ? k : KC; }

/* Taller products (prefill, scoring) whose k-block of panels outgrows L2
 * sweep it a block of columns at a time, so every block of rows finds the
 * panels in L2 (SmolLM2's LM head holds 48 MB of F32 panels per k-block:
 * one core's scoring product went from 89 to 102 GFLOP/s). Each element's
 * chain is unchanged. `column_bytes`: one column's share of a k-block. */
enum { L2_PANELS = 1 << 20, PANEL_BLOCK = 1 << 18 };
static long n_block(long m, long n, long column_bytes) {
    if (m <= STREAM_ROWS || n * column_bytes <= L2_PANELS) return n;
    long nb = PANEL_BLOCK / column_bytes / SCOREK_NR * SCOREK_NR;
    return nb > SCOREK_NR ? nb : SCOREK_NR;
}

void scorek_gemm_packed_f32(long m, long n, long k, const float *a, long lda,
                            const float *packed, float *c, long ldc, int accumulate) {
    if (empty_product(m, n, k, c, ldc, accumulate)) return;
    const struct scorek_gemm_ops *o = ops();
    long kb = k_block(m, k), nb = n_block(m, n, kb * (long)sizeof(float));
    for (long jc = 0; jc < n; jc += nb) {
        long nc = n - jc < nb ? n - jc : nb;
        const float *columns = packed + (jc / SCOREK_NR) * SCOREK_NR * k;
        for (long pc = 0; pc < k; pc += kb) {
            long kc = k - pc < kb ? k - pc : kb;
            f32_block(o, m, nc, kc, a + pc, lda, 1, columns + pc * SCOREK_NR, SCOREK_NR * k, c + jc, ldc,
                      accumulate || pc > 0);
        }
    }
}

static void bf16w_block(const struct scorek_gemm_ops *o, long m, long n, long kc,
                        const float *a, long lda, const uint16_t *bp, long panel_stride,
                        float *c, long ldc, int load_c) {
#define BF16W_TILE(rows, row, q, ncols, next) \
    o->bf16w(rows, kc, a + (row) * lda, lda, 1, bp + (q) * panel_stride, c + (row) * ldc + (q) * SCOREK_NR, ldc, ncols, load_c, next)
    BLOCK_LOOPS(o->mr_bf16w, BF16W_TILE);
#undef BF16W_TILE
}

static void bf16dot_block(const struct scorek_gemm_ops *o, long m, long n, long kp,
                          const uint32_t *a, long lda, const uint16_t *bp, long panel_stride,
                          float *c, long ldc, int load_c) {
#define BF16DOT_TILE(rows, row, q, ncols, next) \
    o->bf16dot(rows, kp, a + (row) * lda, lda, bp + (q) * panel_stride, c + (row) * ldc + (q) * SCOREK_NR, ldc, ncols, load_c, next)
    BLOCK_LOOPS(o->mr_bf16dot, BF16DOT_TILE);
#undef BF16DOT_TILE
}

/* BF16 compute without memory for a rounded copy of A: the emulation's
 * loops, reading the panels in place. */
static void plain_bf16(long m, long n, long k, const float *a, long lda, const uint16_t *packed,
                       float *c, long ldc, int accumulate) {
    long stride = SCOREK_NR * even(k);
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            const uint16_t *panel = packed + (j / SCOREK_NR) * stride + 2 * (j % SCOREK_NR);
            float acc = accumulate ? c[i * ldc + j] : 0.0f;
            for (long p = 0; p < k; p++)
                acc = fmaf(scorek_bf16_widen(scorek_bf16_round(a[i * lda + p])),
                           scorek_bf16_widen(panel[(p >> 1) * 64 + (p & 1)]), acc);
            c[i * ldc + j] = acc;
        }
}

/* Whole pairs in a branch-free loop the compiler vectorises (a scalar loop
 * with the odd-k test inside was a tenth of a BF16 prefill), then an odd
 * k's last pair. */
void scorek_round_pairs(long m, long k, const float *a, long lda, uint32_t *pairs) {
    long kp = (k + 1) / 2;
    for (long i = 0; i < m; i++) {
        uint32_t *row = pairs + i * kp;
        const float *src = a + i * lda;
        for (long t = 0; t < k / 2; t++)
            row[t] = (uint32_t)scorek_bf16_round(src[2 * t]) | (uint32_t)scorek_bf16_round(src[2 * t + 1]) << 16;
        if (k & 1) row[k / 2] = scorek_bf16_round(src[k - 1]);
    }
}

static void bf16dot_product(const struct scorek_gemm_ops *o, long m, long n, long k, const uint32_t *pairs, long ldp,
                            const uint16_t *packed, float *c, long ldc, int accumulate) {
    long kp = (k + 1) / 2, stride = SCOREK_NR * even(k);
    long kb = m <= STREAM_ROWS ? kp : KC / 2, nb = n_block(m, n, kb * 4);
    for (long jc = 0; jc < n; jc += nb) {
        long nc = n - jc < nb ? n - jc : nb;
        const uint16_t *columns = packed + (jc / SCOREK_NR) * stride;
        for (long t0 = 0; t0 < kp; t0 += kb) {
            long kc = kp - t0 < kb ? kp - t0 : kb;
            bf16dot_block(o, m, nc, kc, pairs + t0, ldp, columns + t0 * 64, stride, c + jc, ldc,
                          accumulate || t0 > 0);
        }
    }
}

int scorek_gemm_has_bf16dot(void) { return ops()->bf16dot != NULL; }

void scorek_gemm_packed_bf16_pairs(long m, long n, long k, const uint32_t *pairs, long ldp,
                                   const uint16_t *packed, float *c, long ldc, int accumulate) {
    if (empty_product(m, n, k, c, ldc, accumulate)) return;
    bf16dot_product(ops(), m, n, k, pairs, ldp, packed, c, ldc, accumulate);
}

void scorek_gemm_packed_bf16(long m, long n, long k, const float *a, long lda,
                             const uint16_t *packed, float *c, long ldc, int accumulate,
                             int bf16_compute) {
    if (empty_product(m, n, k, c, ldc, accumulate)) return;
    const struct scorek_gemm_ops *o = ops();
    long ke = even(k), stride = SCOREK_NR * ke;
    if (bf16_compute && o->bf16dot) {
        long kp = ke / 2;
        uint32_t *pairs = scratch(1, (size_t)m * kp * sizeof(uint32_t));
        if (pairs) {
            scorek_round_pairs(m, k, a, lda, pairs);
            bf16dot_product(o, m, n, k, pairs, kp, packed, c, ldc, accumulate);
            return;
        }
        plain_bf16(m, n, k, a, lda, packed, c, ldc, accumulate);
        return;
    }
    const float *x = a;
    long ldx = lda;
    if (bf16_compute) {
        /* No vdpbf16ps here: the same rounded activations through F32 FMAs. */
        float *rounded = scratch(1, (size_t)m * k * sizeof(float));
        if (!rounded) {
            plain_bf16(m, n, k, a, lda, packed, c, ldc, accumulate);
            return;
        }
        for (long i = 0; i < m; i++)
            for (long p = 0; p < k; p++) rounded[i * k + p] = scorek_bf16_widen(scorek_bf16_round(a[i * lda + p]));
        x = rounded;
        ldx = k;
    }
    long kb = k_block(m, k), nb = n_block(m, n, even(kb) * 2);
    for (long jc = 0; jc < n; jc += nb) {
        long nc = n - jc < nb ? n - jc : nb;
        const uint16_t *columns = packed + (jc / SCOREK_NR) * stride;
        for (long pc = 0; pc < k; pc += kb) {
            long kc = k - pc < kb ? k - pc : kb;
            bf16w_block(o, m, nc, kc, x + pc, ldx, columns + pc * SCOREK_NR, stride, c + jc, ldc,
                        accumulate || pc > 0);
        }
    }
}
