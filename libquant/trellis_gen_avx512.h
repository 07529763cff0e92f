/*
 * The trellis generator (trellis_gen.h) sixteen states at a time, for the
 * AVX-512 decoders and kernels. As in trellis_gen_avx2.h, a group's k-th
 * state is (seed + offset) times the multiplier to the power k + 1 (mod
 * 2^32): independent products, so any sixteen states come from one
 * vpmulld. The callers give lane L the seed of (a group of) 16-group L, so
 * every product is born in the packed layout's lane order.
 * Include only on x86, in functions compiled for AVX-512 F/BW/VNNI.
 */
#ifndef LIBQUANT_TRELLIS_GEN_AVX512_H
#define LIBQUANT_TRELLIS_GEN_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "trellis_gen.h"

#define LQ_KT_AVX512_FN                                                                           \
    static inline __attribute__((always_inline,                                                   \
                                 target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

enum { LQ_KT_POWERS = 8 };

/* powers[k] = multiplier^(k + 1) mod 2^32 */
static inline void lq_kt_powers_avx512(uint32_t powers[LQ_KT_POWERS]) {
    uint32_t p = 1;
    for (int k = 0; k < LQ_KT_POWERS; k++)
        powers[k] = p *= LQ_KT_MULTIPLIER;
}

/* State k of sixteen groups whose seeds (offset added) are the lanes. */
LQ_KT_AVX512_FN __m512i lq_kt_states_avx512(__m512i seeds, uint32_t power) {
    return _mm512_mullo_epi32(seeds, _mm512_set1_epi32((int)power));
}

/* The four bytes of each state whose sum minus LQ_KT_BIAS is the value. */
LQ_KT_AVX512_FN __m512i lq_kt_masked_avx512(__m512i state) {
    return _mm512_and_si512(state, _mm512_set1_epi32((int)LQ_KT_BYTE_MASK));
}

/* Four states per lane -> their values in the lane's bytes 0..3. Each byte
 * sum (<= 252) is one vpdpbusd with ones; shifting the partial dword left
 * a byte before the next state's sum stacks the four sums without carries,
 * and the bias comes off per byte. */
LQ_KT_AVX512_FN __m512i lq_kt_values_avx512(const __m512i state[4]) {
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i packed = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lq_kt_masked_avx512(state[3]), ones);
    for (int i = 2; i >= 0; i--)
        packed = _mm512_dpbusd_epi32(_mm512_slli_epi32(packed, 8), lq_kt_masked_avx512(state[i]), ones);
    return _mm512_sub_epi8(packed, _mm512_set1_epi8(LQ_KT_BIAS));
}

#endif /* LIBQUANT_TRELLIS_GEN_AVX512_H */
