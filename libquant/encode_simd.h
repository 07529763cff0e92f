/*
 * Four-float vectors for the encoders' inner loops (GCC/Clang vector
 * extensions; SSE2 on x86-64, NEON on AArch64, plain scalar code elsewhere).
 *
 * Every operation is element-wise IEEE single precision, so a loop written
 * with these gives exactly the results of the same loop written lane by
 * lane in scalar C: the vectors only fix the order of the additions (a
 * fixed number of partial sums) in a way the compiler cannot otherwise be
 * relied on to vectorize.
 */
#ifndef LIBQUANT_ENCODE_SIMD_H
#define LIBQUANT_ENCODE_SIMD_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef float lq_f4 __attribute__((vector_size(16)));
typedef int32_t lq_i4 __attribute__((vector_size(16)));

/* 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below
 * 2^22 to the nearest integer, ties to even (the current rounding mode). */
#define LQ_ROUND_MAGIC 12582912.0f

static inline lq_f4 lq_f4_load(const float *p) {
    lq_f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lq_f4_store(float *p, lq_f4 v) { memcpy(p, &v, sizeof v); }

static inline lq_f4 lq_f4_splat(float a) { return (lq_f4){a, a, a, a}; }

static inline void lq_i4_store(int32_t *p, lq_i4 v) { memcpy(p, &v, sizeof v); }

/* Integral floats to integers (exact). */
static inline lq_i4 lq_f4_to_i4(lq_f4 v) { return __builtin_convertvector(v, lq_i4); }

/* |v|: the sign bit cleared. */
static inline lq_f4 lq_f4_abs(lq_f4 v) {
    return (lq_f4)((lq_i4)v & (lq_i4){0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff});
}

/* m ? a : b lane by lane, m a comparison result (all ones or all zeros). */
static inline lq_f4 lq_f4_select(lq_i4 m, lq_f4 a, lq_f4 b) {
    return (lq_f4)((m & (lq_i4)a) | (~m & (lq_i4)b));
}

/* a > b ? a : b and a < b ? a : b lane by lane (SSE's max and min are
 * defined as exactly these selections). */
static inline lq_f4 lq_f4_max(lq_f4 a, lq_f4 b) {
#if defined(__SSE2__)
    return (lq_f4)_mm_max_ps((__m128)a, (__m128)b);
#else
    return lq_f4_select(a > b, a, b);
#endif
}

static inline lq_f4 lq_f4_min(lq_f4 a, lq_f4 b) {
#if defined(__SSE2__)
    return (lq_f4)_mm_min_ps((__m128)a, (__m128)b);
#else
    return lq_f4_select(a < b, a, b);
#endif
}

/* v clamped to [lo, hi]: max with lo, then min with hi. */
static inline lq_f4 lq_f4_clamp(lq_f4 v, lq_f4 lo, lq_f4 hi) {
    return lq_f4_min(lq_f4_max(v, lo), hi);
}

/* Nearest integer (ties to even) of v clamped to [lo, hi], |lo|, |hi| < 2^22. */
static inline lq_f4 lq_f4_round_clamped(lq_f4 v, lq_f4 lo, lq_f4 hi) {
    const lq_f4 magic = lq_f4_splat(LQ_ROUND_MAGIC);
    return (lq_f4_clamp(v, lo, hi) + magic) - magic;
}

/* The sum of two accumulators' eight lanes, in a fixed order. */
static inline float lq_f4_sum2(lq_f4 a, lq_f4 b) {
    lq_f4 s = a + b;
    return (s[0] + s[2]) + (s[1] + s[3]);
}

#endif /* LIBQUANT_ENCODE_SIMD_H */
