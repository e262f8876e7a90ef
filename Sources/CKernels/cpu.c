/* CPU feature detection: cpuid for what the core implements, xgetbv for
 * what the operating system enabled (AVX needs YMM state saved, AVX-512
 * the opmask and ZMM state too). */
#include "score_kernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t enabled_state(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

uint32_t scorek_cpu_features(void) {
    uint32_t a, b, c, d, features = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & bit_SSE3) features |= SCORE_CPU_SSE3;
    int osxsave = (c & bit_OSXSAVE) != 0;
    uint32_t leaf1_ecx = c;
    if (!osxsave) return features;
    uint64_t xcr0 = enabled_state();
    int ymm = (xcr0 & 0x6) == 0x6;     /* SSE and AVX state */
    int zmm = (xcr0 & 0xe6) == 0xe6;   /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    if (!ymm) return features;
    if (leaf1_ecx & bit_AVX) features |= SCORE_CPU_AVX;
    if (leaf1_ecx & bit_FMA) features |= SCORE_CPU_FMA;
    if (leaf1_ecx & bit_F16C) features |= SCORE_CPU_F16C;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return features;
    uint32_t max_subleaf = a;
    if (b & bit_AVX2) features |= SCORE_CPU_AVX2;
    if (zmm) {
        if (b & bit_AVX512F) features |= SCORE_CPU_AVX512F;
        if (b & bit_AVX512BW) features |= SCORE_CPU_AVX512BW;
        if (b & bit_AVX512DQ) features |= SCORE_CPU_AVX512DQ;
        if (b & bit_AVX512VL) features |= SCORE_CPU_AVX512VL;
        if (c & bit_AVX512VNNI) features |= SCORE_CPU_AVX512_VNNI;
        if (d & (1u << 23)) features |= SCORE_CPU_AVX512_FP16;
    }
    if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
        if (a & (1u << 4)) features |= SCORE_CPU_AVX_VNNI;
        if (zmm && (a & (1u << 5))) features |= SCORE_CPU_AVX512_BF16;
    }
    return features;
}

void scorek_cpu_identity(char vendor[13], uint32_t *family, uint32_t *model, char brand[49]) {
    uint32_t a, b, c, d;
    memset(vendor, 0, 13);
    memset(brand, 0, 49);
    *family = 0;
    *model = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        uint32_t base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
        *family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
        *model = (base_family == 0x6 || base_family == 0xf) ? (((a >> 16) & 0xf) << 4) | base_model : base_model;
    }
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        uint32_t words[12];
        for (uint32_t leaf = 0; leaf < 3; leaf++) {
            __get_cpuid(0x80000002 + leaf, &words[leaf * 4], &words[leaf * 4 + 1], &words[leaf * 4 + 2], &words[leaf * 4 + 3]);
        }
        memcpy(brand, words, 48);
    }
}

#else

uint32_t scorek_cpu_features(void) { return 0; }

void scorek_cpu_identity(char vendor[13], uint32_t *family, uint32_t *model, char brand[49]) {
    memset(vendor, 0, 13);
    memset(brand, 0, 49);
    *family = 0;
    *model = 0;
}

#endif

void scorek_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void scorek_prefetch(const void *p, long bytes) {
    const char *c = (const char *)p;
    for (long i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 2);
}
