/* libscore's own low-level C: what Swift cannot say (cpuid, xgetbv, and the
 * intrinsics of the hot kernels). Internal to the package, not part of score.h: the scorek_ prefix keeps
 * these out of the exports (tools/libscore.map exports score_*). */
#ifndef SCORE_KERNELS_H
#define SCORE_KERNELS_H

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

/* Makes a DYNAMIC_ARCH OpenBLAS run the kernels of `core` (an
 * OPENBLAS_CORETYPE name such as "SkylakeX"). Returns 0 when this OpenBLAS
 * cannot re-select (built without DYNAMIC_ARCH). Call before any other
 * thread uses OpenBLAS. */
int scorek_openblas_force_core(const char *core);

#ifdef __cplusplus
}
#endif
#endif
