/*
 * AVX512 micro-kernels: the q8_0 / q4_0 / iq4_nl row dots with VNNI (256-bit
 * vpdpbusd, which needs avx512vl) and the f16 float row. vpdpbusd multiplies unsigned by signed bytes and
 * adds groups of four into int32 without saturation: q8_0 uses |w| times
 * a with w's sign, q4_0 its nibbles 0..15 and then subtracts 8 * sum(a).
 * Same bits as dot_legacy.c (simd_x86.h applies the float part in order).
 */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include "simd_x86.h"

enum { QK = LQ_ACT_Q8_32_BLOCK, Q8_0_BYTES = 34, Q4_0_BYTES = 18, IQ4_NL_BYTES = 18 };

#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

/* Row loop of the 32-weight types with signed levels (see dot_avx2.c). */
typedef __m256i (*levels_fn)(const uint8_t *qs);

AVX512 static inline __attribute__((always_inline)) float
signed_levels_row(const uint8_t *w, const lq_act_q8_32 *a, int64_t ncols, int block_bytes,
                  levels_fn levels) {
    const int64_t nb = ncols / QK;
    float total = 0.0f;
    for (int64_t b = 0; b < nb; b += SIMD_GROUP) {
        const int count = nb - b < SIMD_GROUP ? (int)(nb - b) : SIMD_GROUP;
        __m256i sums[SIMD_GROUP];
        for (int k = 0; k < SIMD_GROUP; k++) {
            sums[k] = _mm256_setzero_si256();
            if (k >= count)
                continue;
            const uint8_t *blk = w + (b + k) * block_bytes;
            __m256i q = levels(blk + 2), x = simd_act_qs(&a[b + k]);
            sums[k] = _mm256_dpbusd_epi32(sums[k], _mm256_sign_epi8(q, q),
                                          _mm256_sign_epi8(x, q));
        }
        total = simd_finish_group(total, w + b * block_bytes, block_bytes, &a[b],
                                  simd_hsum8_epi32(sums), count);
    }
    return total;
}

AVX512 static __m256i q8_0_levels(const uint8_t *qs) {
    return _mm256_loadu_si256((const __m256i *)(const void *)qs);
}

AVX512 static __m256i iq4_nl_levels(const uint8_t *qs) {
    return _mm256_shuffle_epi8(simd_iq4nl_table(), simd_nibbles_32(qs));
}

AVX512 static float dot_q8_0_vnni(const void *w_row, const void *act, int64_t ncols) {
    return signed_levels_row(w_row, act, ncols, Q8_0_BYTES, q8_0_levels);
}

AVX512 static float dot_iq4_nl_vnni(const void *w_row, const void *act, int64_t ncols) {
    return signed_levels_row(w_row, act, ncols, IQ4_NL_BYTES, iq4_nl_levels);
}

AVX512 static float dot_q4_0_vnni(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const lq_act_q8_32 *a = act;
    const int64_t nb = ncols / QK;
    float total = 0.0f;
    for (int64_t b = 0; b < nb; b += SIMD_GROUP) {
        const int count = nb - b < SIMD_GROUP ? (int)(nb - b) : SIMD_GROUP;
        __m256i sums[SIMD_GROUP];
        for (int k = 0; k < SIMD_GROUP; k++) {
            sums[k] = _mm256_setzero_si256();
            if (k >= count)
                continue;
            const uint8_t *blk = w + (b + k) * Q4_0_BYTES;
            sums[k] = _mm256_dpbusd_epi32(sums[k], simd_nibbles_32(blk + 2),
                                          simd_act_qs(&a[b + k]));
        }
        /* level = nibble - 8: subtract 8 * sum(a) */
        __m256i offset = _mm256_slli_epi32(simd_act_sums(&a[b], simd_lane_mask(count)), 3);
        __m256i isum = _mm256_sub_epi32(simd_hsum8_epi32(sums), offset);
        total = simd_finish_group(total, w + b * Q4_0_BYTES, Q4_0_BYTES, &a[b], isum, count);
    }
    return total;
}

/* f16 through AVX512F's vcvtph2ps (16 at a time; exact, NaN payloads kept
 * as lq_half_to_float does). Clang 14 cannot test for F16C at run time, so
 * the AVX2 level has no f16 kernel. */
AVX512 static float dot_f16_avx512(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const float *x = act;
    const int64_t full = ncols / SIMD_CHUNK * SIMD_CHUNK;
    float total = 0.0f;
    for (int64_t i = 0; i < full; i += SIMD_CHUNK) {
        __m256 wv[4];
        for (int k = 0; k < 2; k++) {
            __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)(w + 2 * (i + 16 * k)));
            __m512 f = _mm512_cvtph_ps(h);
            wv[2 * k] = _mm512_castps512_ps256(f);
            wv[2 * k + 1] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1));
        }
        total = simd_chunk_add(total, wv, x + i);
    }
    if (full < ncols) {
        float buf[SIMD_CHUNK];
        for (int64_t k = 0; k < ncols - full; k++)
            buf[k] = lq_half_to_float(lq_load_u16(w + 2 * (full + k)));
        total = lq_dot_f32_accumulate(buf, x + full, ncols - full, total);
    }
    return total;
}

const lq_simd_kernel lq_simd_kernels_avx512[] = {
    {LQ_TYPE_Q8_0, dot_q8_0_vnni},
    {LQ_TYPE_Q4_0, dot_q4_0_vnni},
    {LQ_TYPE_IQ4_NL, dot_iq4_nl_vnni},
    {LQ_TYPE_F16, dot_f16_avx512},
};
const size_t lq_simd_kernels_avx512_count =
    sizeof lq_simd_kernels_avx512 / sizeof lq_simd_kernels_avx512[0];

#else /* not x86 */

const lq_simd_kernel lq_simd_kernels_avx512[1] = {{-1, NULL}};
const size_t lq_simd_kernels_avx512_count = 0;

#endif
