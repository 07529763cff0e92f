/*
 * Run-time choice of the SIMD micro-kernels (BLIS's split: the framework in
 * matmul.c stays portable, the per-architecture kernels are small and are
 * picked here). CPU features are probed once per process: cpuid/xgetbv
 * cost ~16 us in a VM, so never per call.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_bf16.h"
#include "kernels.h"

static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static lq_simd_level detected_level; /* written once under level_once */
static bool detected_bf16;           /* likewise */

static lq_simd_level cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return LQ_SIMD_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        return LQ_SIMD_AVX512;
    return LQ_SIMD_AVX2;
#else
    return LQ_SIMD_SCALAR;
#endif
}

/* LQ_KERNELS can only lower the level: asking for more than the CPU has
 * would crash. */
static lq_simd_level env_limit(void) {
    const char *want = getenv("LQ_KERNELS");
    if (!want)
        return LQ_SIMD_AVX512;
    if (strcmp(want, "scalar") == 0)
        return LQ_SIMD_SCALAR;
    if (strcmp(want, "avx2") == 0)
        return LQ_SIMD_AVX2;
    return LQ_SIMD_AVX512;
}

static void detect_level(void) {
    lq_simd_level cpu = cpu_level(), limit = env_limit();
    detected_level = cpu < limit ? cpu : limit;
    detected_bf16 = detected_level >= LQ_SIMD_AVX512 && lq_bf16_gemm_available();
}

bool lq_simd_bf16(void) {
    pthread_once(&level_once, detect_level);
    return detected_bf16;
}

lq_simd_level lq_simd_level_default(void) {
    pthread_once(&level_once, detect_level);
    return detected_level;
}

static lq_row_dot_fn find_in(const lq_simd_kernel *table, size_t count, int type) {
    for (size_t i = 0; i < count; i++)
        if (table[i].type == type)
            return table[i].dot;
    return NULL;
}

lq_row_dot_fn lq_simd_row_dot(int type, lq_simd_level level, lq_row_dot_fn scalar) {
    lq_row_dot_fn dot = NULL;
    if (level >= LQ_SIMD_AVX512)
        dot = find_in(lq_simd_kernels_avx512, lq_simd_kernels_avx512_count, type);
    if (!dot && level >= LQ_SIMD_AVX2)
        dot = find_in(lq_simd_kernels_avx2, lq_simd_kernels_avx2_count, type);
    return dot ? dot : scalar;
}
