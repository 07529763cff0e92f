/*
 * Pieces shared by the AVX-512 decoders of the IQK family
 * (panel_avx512_iqk.c) and its fused GEMVs (panel_avx512_iqk_gemv.c): value
 * tables, table-half masks and the scales of the interleaved forms.
 * Include only on x86, after panel_avx512.h.
 */
#ifndef LIBQUANT_PANEL_AVX512_IQK_H
#define LIBQUANT_PANEL_AVX512_IQK_H

#include "panel_avx512.h"

AVX512 INLINE __m512i table16(const int8_t *values) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)values));
}

/* A mask of 8 block bits -> 16 lane bits (each block is two 16-groups). */
static inline __mmask16 pair_mask(unsigned blocks) {
    unsigned x = blocks & 0xffu;
    x = (x | x << 4) & 0x0f0fu;
    x = (x | x << 2) & 0x3333u;
    x = (x | x << 1) & 0x5555u;
    return (__mmask16)(x | x << 1);
}

/* Bit s of `bits` to bit 2s. */
static inline unsigned spread_even(unsigned bits) {
    unsigned x = bits & 0xffu;
    x = (x | x << 4) & 0x0f0fu;
    x = (x | x << 2) & 0x3333u;
    return (x | x << 1) & 0x5555u;
}

/* Byte k of each dword of v, as dwords. */
AVX512 INLINE __m256i byte_of_dwords(__m256i v, int k) {
    return _mm256_and_si256(_mm256_srli_epi32(v, (unsigned)(8 * k)), _mm256_set1_epi32(255));
}

/* The table halves of row k's 16 groups: bit s of bytes 8 + k (group 2s)
 * and 12 + k (group 2s + 1) */
static inline __mmask16 r4_halves(const uint8_t *w, int k) {
    return (__mmask16)(spread_even(w[8 + k]) | spread_even(w[12 + k]) << 1);
}

/* Nibble g of row k in a nibble array of entries 4g + k (byte (4g + k) %
 * 32, nibble (4g + k) / 32), as dwords. */
AVX512 INLINE __m512i r4_scale_nibbles(const uint8_t *nibbles, int k) {
    const __m256i lo8 = byte_of_dwords(_mm256_loadu_si256((const __m256i *)(const void *)nibbles), k);
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(lo8), lo8, 1);
    const __m512i shift = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
    return _mm512_and_si512(_mm512_srlv_epi32(both, shift), _mm512_set1_epi32(15));
}

/* The scales of row k in iq4_k_r4 / iq5_k_r4: d[4]; extra[8], the table
 * half of group 2s + h of row k in bit s of byte 8 + 4h + k; scales_h[16]
 * and scales_l[32], ls + 32 of group g of row k as entry 4g + k: low nibble
 * in nibble (4g + k) / 32 of byte 32 + (4g + k) % 32, top two bits at bit
 * 2 ((4g + k) / 16) of byte 16 + (4g + k) % 16. */
AVX512 INLINE __m512i r4_k_scales(const uint8_t *w, int k, __mmask16 *shifted) {
    const __m128i high = _mm_loadu_si128((const __m128i *)(const void *)(w + 16));
    const __m512i high_shift = _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6);
    *shifted = r4_halves(w, k);
    const __m512i lo = r4_scale_nibbles(w + 32, k);
    const __m128i hi4 = _mm256_castsi256_si128(byte_of_dwords(_mm256_castsi128_si256(high), k));
    __m512i hi = _mm512_broadcast_i32x4(hi4);
    hi = _mm512_and_si512(_mm512_srlv_epi32(hi, high_shift), _mm512_set1_epi32(3));
    return _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32));
}

#endif /* LIBQUANT_PANEL_AVX512_IQK_H */
