/*
 * The trellis generator (trellis_gen.h) eight states at a time, for the
 * AVX2 decoders and kernels. A group's k-th state is (seed + offset) times
 * the multiplier to the power k + 1 (mod 2^32), so the states of a group
 * are independent products rather than a chain, and any eight of them,
 * of one group or of eight groups, come from one vpmulld.
 * Include only on x86, in functions compiled for avx2.
 */
#ifndef LIBQUANT_TRELLIS_GEN_AVX2_H
#define LIBQUANT_TRELLIS_GEN_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "trellis_gen.h"

#define LQ_KT_AVX2_FN static inline __attribute__((always_inline, target("avx2,fma,f16c")))

/* powers[k] = multiplier^(k + 1) mod 2^32, k < 8 */
static inline void lq_kt_powers(uint32_t powers[8]) {
    uint32_t p = 1;
    for (int k = 0; k < 8; k++)
        powers[k] = p *= LQ_KT_MULTIPLIER;
}

/* States k of eight groups whose seeds (offset added) are the lanes. */
LQ_KT_AVX2_FN __m256i lq_kt_states_avx2(__m256i seeds, uint32_t power) {
    return _mm256_mullo_epi32(seeds, _mm256_set1_epi32((int)power));
}

/* The four bytes of each state whose sum minus LQ_KT_BIAS is the value. */
LQ_KT_AVX2_FN __m256i lq_kt_masked_avx2(__m256i state) {
    return _mm256_and_si256(state, _mm256_set1_epi32((int)LQ_KT_BYTE_MASK));
}

/* The masked bytes' sum (at most 252) in each dword: two vpmadd rather
 * than a second vpmulld, which is the slower unit on Zen 3. */
LQ_KT_AVX2_FN __m256i lq_kt_sums_avx2(__m256i state) {
    const __m256i pairs = _mm256_maddubs_epi16(lq_kt_masked_avx2(state), _mm256_set1_epi8(1));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

#endif /* LIBQUANT_TRELLIS_GEN_AVX2_H */
