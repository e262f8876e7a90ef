/* The machine's read bandwidth, as a decoding step reads its weights: a
 * sequential pass over a buffer much larger than the caches, with the
 * widest loads the CPU has and enough independent sums to keep many
 * cache-line fills in flight. `score-cli bench-memory` runs one per
 * thread; it is the limit a batch-1 decode is measured against, so it
 * must read at least as fast as our GEMV kernels do (a Swift SIMD loop
 * compiled for x86-64-v3 read about 20% slower than they). */
#include "score_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
static float sum_avx512(const float *p, long n) {
    __m512 s[8];
    for (int i = 0; i < 8; i++) s[i] = _mm512_setzero_ps();
    long i = 0;
    for (; i + 128 <= n; i += 128)
        for (int j = 0; j < 8; j++) s[j] = _mm512_add_ps(s[j], _mm512_loadu_ps(p + i + 16 * j));
    float total = 0;
    for (int j = 0; j < 8; j++) total += _mm512_reduce_add_ps(s[j]);
    for (; i < n; i++) total += p[i];
    return total;
}

__attribute__((target("avx2")))
static float sum_avx2(const float *p, long n) {
    __m256 s[8];
    for (int i = 0; i < 8; i++) s[i] = _mm256_setzero_ps();
    long i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 8; j++) s[j] = _mm256_add_ps(s[j], _mm256_loadu_ps(p + i + 8 * j));
    float lanes[8], total = 0;
    for (int j = 0; j < 8; j++) {
        _mm256_storeu_ps(lanes, s[j]);
        for (int l = 0; l < 8; l++) total += lanes[l];
    }
    for (; i < n; i++) total += p[i];
    return total;
}
#endif

float scorek_read_sum(const float *p, long n) {
#if defined(__x86_64__)
    uint32_t f = scorek_cpu_features();
    if (f & SCORE_CPU_AVX512F) return sum_avx512(p, n);
    if (f & SCORE_CPU_AVX2) return sum_avx2(p, n);
#endif
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += p[i + j];
    float total = 0;
    for (int j = 0; j < 8; j++) total += s[j];
    for (; i < n; i++) total += p[i];
    return total;
}
