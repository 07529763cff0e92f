/*
 * AVX-512 pieces shared by the evaluator's hot loops (eval_attention.c,
 * eval_forward.c). Include only where HAVE_EVAL_X86 is 1, and call only after
 * eval_has_avx512() said yes.
 */
#ifndef QUANT_TOOLS_EVAL_SIMD_H
#define QUANT_TOOLS_EVAL_SIMD_H

#include <stdbool.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_EVAL_X86 1
#define EVAL_AVX512 __attribute__((target("avx512f")))

static inline bool eval_has_avx512(void) {
    return __builtin_cpu_supports("avx512f");
}

/* exp(x) as 2^n exp(r), |r| <= ln2 / 2, by a degree-7 Taylor polynomial:
 * relative error below 2e-7, as libm's expf to a few units in the last place.
 * Inputs are clamped to [-87, 88], so the result is finite and 0 or huge
 * where expf would underflow or overflow (what a softmax or a sigmoid needs). */
EVAL_AVX512 static inline __m512 eval_exp_avx512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln 2 in two parts, so that x - n ln2 is exact for |n| < 2^10 */
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723e-6f), r);
    static const float taylor[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24,
                                   1.0f / 6,    0.5f,       1.0f,       1.0f};
    __m512 p = _mm512_set1_ps(taylor[0]);
    for (int i = 1; i < 8; i++)
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(taylor[i]));
    return _mm512_scalef_ps(p, n);
}
#else
#define HAVE_EVAL_X86 0
static inline bool eval_has_avx512(void) {
    return false;
}
#endif

#endif
