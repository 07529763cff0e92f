/*
 * Helpers shared by the x86 micro-kernels (dot_avx2.c, dot_avx512.c):
 * the float part of the 32-weight block kernels, done exactly as the scalar
 * code does it (dot_legacy.c): block = (d_w * d_a) * (float)isum, blocks
 * added one by one into `total` in order. Only the integer sums and the
 * independent per-block products are vectorized.
 */
#ifndef LIBQUANT_SIMD_X86_H
#define LIBQUANT_SIMD_X86_H

#include <immintrin.h>

#include "common.h"
#include "kernels.h"

/* Blocks handled together: one int32 lane each. */
enum { SIMD_GROUP = 8 };

/* The eight horizontal sums of s[0..7], as lanes 0..7. */
__attribute__((target("avx2"))) static inline __m256i
simd_hsum8_epi32(const __m256i s[SIMD_GROUP]) {
    __m256i s01 = _mm256_hadd_epi32(s[0], s[1]), s23 = _mm256_hadd_epi32(s[2], s[3]);
    __m256i s45 = _mm256_hadd_epi32(s[4], s[5]), s67 = _mm256_hadd_epi32(s[6], s[7]);
    __m256i s0123 = _mm256_hadd_epi32(s01, s23), s4567 = _mm256_hadd_epi32(s45, s67);
    __m256i low = _mm256_permute2x128_si256(s0123, s4567, 0x20);
    __m256i high = _mm256_permute2x128_si256(s0123, s4567, 0x31);
    return _mm256_add_epi32(low, high);
}

/* Lanes k < count all ones, the others zero: masked gathers do not touch
 * the memory of masked-off lanes, so a tail group reads no further than
 * its last block. */
__attribute__((target("avx2"))) static inline __m256i simd_lane_mask(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The scales d of a[0..count) in lanes (zero beyond): gathered, because
 * eight scalar stores read back as one vector stall store forwarding. */
__attribute__((target("avx2"))) static inline __m256 simd_act_scales(const lq_act_q8_32 *a,
                                                                      __m256i mask) {
    const int stride = (int)(sizeof(lq_act_q8_32) / sizeof(float));
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(stride));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), &a->d, index,
                                    _mm256_castsi256_ps(mask), 4);
}

/* half_sums[0] + half_sums[1] of a[0..count) in lanes (zero beyond) */
__attribute__((target("avx2"))) static inline __m256i simd_act_sums(const lq_act_q8_32 *a,
                                                                     __m256i mask) {
    const int stride = (int)(sizeof(lq_act_q8_32) / sizeof(int32_t));
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(stride));
    __m256i both = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(),
                                               (const int *)(const void *)a->half_sums,
                                               index, mask, 4);
    return _mm256_add_epi32(_mm256_srai_epi32(_mm256_slli_epi32(both, 16), 16),
                            _mm256_srai_epi32(both, 16));
}

/* The f16 scales that start blocks w, w + bytes, ... (count of them; zero
 * beyond) as floats, bit for bit as lq_half_to_float: the magnitude's bits
 * moved into a binary32 and scaled by 2^112 is exact for normal and
 * subnormal halves; Inf and NaN (payload kept, made quiet) are set apart. */
__attribute__((target("avx2"))) static inline __m256 simd_block_scales(const uint8_t *w,
                                                                        int bytes,
                                                                        __m256i mask) {
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(bytes));
    __m256i h = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(),
                                            (const int *)(const void *)w, index, mask, 1);
    __m256i magnitude = _mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x7fff)), 13);
    __m256 finite = _mm256_mul_ps(_mm256_castsi256_ps(magnitude), _mm256_set1_ps(0x1p112f));
    __m256i exp_all_ones = _mm256_cmpeq_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x7c00)),
                                              _mm256_set1_epi32(0x7c00));
    __m256i has_payload = _mm256_andnot_si256(
        _mm256_cmpeq_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x3ff)), _mm256_setzero_si256()),
        _mm256_set1_epi32(0x400000));
    __m256i special = _mm256_or_si256(_mm256_or_si256(magnitude, _mm256_set1_epi32(0x7f800000)),
                                      has_payload);
    __m256i value = _mm256_blendv_epi8(_mm256_castps_si256(finite), special, exp_all_ones);
    __m256i sign = _mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x8000)), 16);
    return _mm256_castsi256_ps(_mm256_or_si256(value, sign));
}

/* total + sum over k < count of (scale_w[k] * scale_a[k]) * isum[k], added
 * in k order with the scalar code's roundings (no fused multiply-add). */
__attribute__((target("avx2"))) static inline float
simd_add_blocks(float total, __m256 scale_w, __m256 scale_a, __m256i isum, int count) {
    __m256 scale = _mm256_mul_ps(scale_w, scale_a);
    __m256 block = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum));
    float value[SIMD_GROUP];
    _mm256_storeu_ps(value, block);
    for (int k = 0; k < count; k++)
        total += value[k];
    return total;
}

/* The float part of a group of `count` 32-weight blocks (the first at w,
 * `bytes` apart, each starting with its f16 scale) against a[0..count),
 * given their exact integer sums. */
__attribute__((target("avx2"))) static inline float
simd_finish_group(float total, const uint8_t *w, int bytes, const lq_act_q8_32 *a,
                  __m256i isum, int count) {
    __m256i mask = simd_lane_mask(count);
    return simd_add_blocks(total, simd_block_scales(w, bytes, mask), simd_act_scales(a, mask),
                           isum, count);
}

/* 16 bytes of nibbles (byte j: weight j low, weight j + 16 high) as 32
 * bytes 0..15 in weight order. */
__attribute__((target("avx2"))) static inline __m256i simd_nibbles_32(const uint8_t *qs) {
    __m128i packed = _mm_loadu_si128((const __m128i *)(const void *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

/* iq4_nl's value table (the format's, as dot_legacy.c) in both 128-bit
 * lanes, for vpshufb */
__attribute__((target("avx2"))) static inline __m256i simd_iq4nl_table(void) {
    return _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69,
                            89, 113, -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38,
                            53, 69, 89, 113);
}

__attribute__((target("avx2"))) static inline __m256i simd_act_qs(const lq_act_q8_32 *a) {
    return _mm256_loadu_si256((const __m256i *)(const void *)a->qs);
}

/* ---- float rows: the order of lq_dot_f32_accumulate (dot_float.c) ------
 * Per chunk of 32: product k goes to lane k % 8 (multiply, then add: no
 * fused multiply-add), lanes added ((0+1)+(2+3)) + ((4+5)+(6+7)), and the
 * chunk's sum added to the running total. */
enum { SIMD_CHUNK = 32 };

__attribute__((target("avx2"))) static inline float
simd_chunk_add(float total, const __m256 w[4], const float *x) {
    __m256 lane = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++)
        lane = _mm256_add_ps(lane, _mm256_mul_ps(w[i], _mm256_loadu_ps(x + 8 * i)));
    __m256 pairs = _mm256_hadd_ps(lane, lane); /* (0+1), (2+3) | (4+5), (6+7) */
    __m256 quads = _mm256_hadd_ps(pairs, pairs);
    __m128 sum = _mm_add_ss(_mm256_castps256_ps128(quads), _mm256_extractf128_ps(quads, 1));
    return total + _mm_cvtss_f32(sum);
}

#endif /* LIBQUANT_SIMD_X86_H */
