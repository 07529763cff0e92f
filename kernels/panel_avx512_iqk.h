/*
 * Pieces shared by the AVX-512 decoders of the IQK family
 * (panel_avx512_iqk.c) and its fused GEMVs (panel_avx512_iqk_gemv.c): value
 * tables, table-half masks and the scales of the interleaved forms.
 * Include only on x86, after panel_avx512.h.
 */
#ifndef LIBQUANT_PANEL_AVX512_IQK_H
#define LIBQUANT_PANEL_AVX512_IQK_H

#include <stdbool.h>
#include <string.h>

#include "panel_avx512.h"

/* The fused one-vector products (lq_panel_gemv_fn) of
 * panel_avx512_iqk_gemv.c: levels in registers as unsigned bytes. */
#define LQ_DECLARE_GEMV(type)                                                               \
    void lq_gemv_##type##_avx512(const uint8_t *rows, int64_t row_bytes, int64_t nrows,     \
                                 int64_t nchunks, const lq_act_chunk *a, bool has_offset, float *y);
LQ_DECLARE_GEMV(iq2_k)
LQ_DECLARE_GEMV(iq3_k)
LQ_DECLARE_GEMV(iq5_k)
LQ_DECLARE_GEMV(iq3_ks)
LQ_DECLARE_GEMV(iq4_ks)
LQ_DECLARE_GEMV(iq4_kss)
LQ_DECLARE_GEMV(iq5_ks)
LQ_DECLARE_GEMV(iq2_kl)
LQ_DECLARE_GEMV(iq4_xs)
LQ_DECLARE_GEMV(q2_K)
LQ_DECLARE_GEMV(q3_K)
#undef LQ_DECLARE_GEMV

/* ---- indices in lane order (k-quant layouts) ---- */

/* 4-bit layout of q4_K (iq5_k, iq5_ks): quarter t of 64 weights is 32
 * bytes, low nibbles weights 0-31, high 32-63 */
AVX512 INLINE void quarter_nibble_steps(const uint8_t *qs, __m512i step[4]) {
    const __m512i src0 = _mm512_loadu_si512((const void *)qs);
    const __m512i src1 = _mm512_loadu_si512((const void *)(qs + 64));
    const __m512i shift = _mm512_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4);
    for (int s = 0; s < 4; s++) {
        int idx[16];
        for (int g = 0; g < 16; g++)
            idx[g] = 8 * (g / 4) + 4 * (g & 1) + s;
        const __m512i v = _mm512_permutex2var_epi32(src0, _mm512_loadu_si512((const void *)idx), src1);
        step[s] = _mm512_and_si512(_mm512_srlv_epi32(v, shift), _mm512_set1_epi8(15));
    }
}

/* 8 blocks of 16 nibble bytes, contiguous (iq4_k, iq4_ks): group 2k = low
 * nibbles of block k, 2k + 1 its high ones */
AVX512 INLINE void block_nibble_steps(const uint8_t *qs, __m512i step[4]) {
    const __m512i src0 = _mm512_loadu_si512((const void *)qs);
    const __m512i src1 = _mm512_loadu_si512((const void *)(qs + 64));
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    for (int s = 0; s < 4; s++) {
        const __m512i v = _mm512_permutex2var_epi32(src0, lane_index(s, 4, 0), src1);
        step[s] = _mm512_and_si512(_mm512_srlv_epi32(v, shift), _mm512_set1_epi8(15));
    }
}

/* The extra index bit of iq3_k, iq5_k, iq3_ks, iq5_ks: weight e's is bit
 * e / 32 of byte e % 32 of 32 bytes, so group g's dword s is dword
 * 4 (g & 1) + s shifted by g / 2; returned at bit `position`. */
AVX512 INLINE __m512i top_bits(__m512i qh, int s, int position) {
    int idx[16], shift[16];
    for (int g = 0; g < 16; g++) {
        idx[g] = 4 * (g & 1) + s;
        shift[g] = g / 2;
    }
    __m512i h = _mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)idx), qh);
    h = _mm512_and_si512(_mm512_srlv_epi32(h, _mm512_loadu_si512((const void *)shift)),
                         _mm512_set1_epi8(1));
    return _mm512_slli_epi32(h, (unsigned)position);
}

/* iq2's two 4-entry halves, twice, for vpshufb with index | 4 * half. A
 * constant: built on the stack per chunk, its load waited on store
 * forwarding. */
AVX512 INLINE __m512i iq2_table(void) {
    return _mm512_broadcast_i32x4(_mm_setr_epi8(-31, -13, 1, 17, -26, -8, 6, 22, -31, -13, 1, 17,
                                                -26, -8, 6, 22));
}

/* 16 nibbles of 8 bytes, low nibble first, as dwords */
AVX512 INLINE __m512i nibbles16(const uint8_t *p) {
    const __m128i bytes = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)(const void *)p),
                                           _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    return _mm512_and_si512(_mm512_srlv_epi32(_mm512_cvtepu8_epi32(bytes), shift),
                            _mm512_set1_epi32(15));
}

/* iq4_k / iq5_k: ls + 32 in six bits, low nibbles in scales_l[8], top two
 * bits in scales_h[4] */
AVX512 INLINE __m512i scales6(const uint8_t *scales_h, const uint8_t *scales_l) {
    uint32_t h;
    memcpy(&h, scales_h, 4);
    const __m128i bytes = _mm_shuffle_epi8(_mm_cvtsi32_si128((int)h),
                                           _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
    const __m512i shift = _mm512_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6);
    const __m512i top = _mm512_and_si512(_mm512_srlv_epi32(_mm512_cvtepu8_epi32(bytes), shift),
                                         _mm512_set1_epi32(3));
    return _mm512_sub_epi32(_mm512_or_si512(nibbles16(scales_l), _mm512_slli_epi32(top, 4)),
                            _mm512_set1_epi32(32));
}

/* Eight 4-bit codes of 4 bytes at p, as dwords: code ib at bit 4 ib
 * (`by_pairs`: byte ib / 2, nibble ib % 2), else at byte ib % 4, nibble
 * ib / 4. Built in registers: codes stored one by one to the stack and
 * loaded as a vector would wait on store forwarding. */
AVX512 INLINE __m256i nibbles8(const uint8_t *p, bool by_pairs) {
    uint32_t u;
    memcpy(&u, p, 4);
    const __m256i shift = by_pairs ? _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)
                                   : _mm256_setr_epi32(0, 8, 16, 24, 4, 12, 20, 28);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)u), shift), _mm256_set1_epi32(15));
}

/* Bits [step ib, step ib + width) of x for ib = 0..7, as dwords. */
AVX512 INLINE __m256i bit_fields8(unsigned x, int step, int width) {
    const __m256i shift = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(step));
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)x), shift),
                            _mm256_set1_epi32((1 << width) - 1));
}

/* iq2_kl: qs[64] (pair j of block ib in nibble ib % 2 of byte 16 (ib / 2)
 * + j), qh[16] (its fifth bit, bit ib of byte j). Word 2 L + t of step s
 * (group g = L, its pair t) is the pair index: the qs word 8 (g / 4) +
 * 4 (g & 1) + s at bit 8 t + 4 ((g / 2) & 1), the qh word 4 (g & 1) + s at
 * bit 8 t + g / 2. */
AVX512 INLINE __m512i iq2_kl_pair_index(__m512i qs, __m512i qh, int s) {
    static const int16_t qs_word[32] = {0,  0,  4,  4,  0,  0,  4,  4,  8,  8,  12,
                                        12, 8,  8,  12, 12, 16, 16, 20, 20, 16, 16,
                                        20, 20, 24, 24, 28, 28, 24, 24, 28, 28};
    static const int16_t qs_shift[32] = {0, 8, 0, 8, 4, 12, 4, 12, 0, 8, 0, 8, 4, 12, 4, 12,
                                         0, 8, 0, 8, 4, 12, 4, 12, 0, 8, 0, 8, 4, 12, 4, 12};
    static const int16_t qh_word[32] = {0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4,
                                        0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4};
    static const int16_t qh_shift[32] = {0, 8, 0, 8, 1, 9,  1, 9,  2, 10, 2, 10, 3, 11, 3, 11,
                                         4, 12, 4, 12, 5, 13, 5, 13, 6, 14, 6, 14, 7, 15, 7, 15};
    const __m512i step = _mm512_set1_epi16((short)s);
    __m512i lo = _mm512_permutexvar_epi16(
        _mm512_add_epi16(_mm512_loadu_si512((const void *)qs_word), step), qs);
    lo = _mm512_and_si512(_mm512_srlv_epi16(lo, _mm512_loadu_si512((const void *)qs_shift)),
                          _mm512_set1_epi16(15));
    __m512i hi = _mm512_permutexvar_epi16(
        _mm512_add_epi16(_mm512_loadu_si512((const void *)qh_word), step), qh);
    hi = _mm512_and_si512(_mm512_srlv_epi16(hi, _mm512_loadu_si512((const void *)qh_shift)),
                          _mm512_set1_epi16(1));
    return _mm512_or_si512(lo, _mm512_slli_epi16(hi, 4));
}

/* ---- scales and tables ---- */

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

/* Scale bytes of iq4_ks, iq5_ks, iq4_kss: bit 0 the table half, bits 1-7
 * the odd code + 127 */
AVX512 INLINE __m512i odd_codes(__m128i b, __mmask16 *shifted) {
    *shifted = pair_mask(_mm_test_epi8_mask(b, _mm_set1_epi8(1)));
    const __m256i code = _mm256_sub_epi32(_mm256_and_si256(_mm256_cvtepu8_epi32(b), _mm256_set1_epi32(254)),
                                          _mm256_set1_epi32(127));
    return spread_pairs(code);
}

#endif /* LIBQUANT_PANEL_AVX512_IQK_H */
