/*
 * AVX2 micro-kernels: LQ_ACT_Q8_32 activation quantization, the q8_0 /
 * q4_0 / iq4_nl row dots and the f32 / bf16 float rows. Same bits as activations.c,
 * dot_legacy.c and dot_float.c: the integer block sums are exact and the
 * float part follows the scalar order (simd_x86.h). Compiled as target functions so the rest of the library
 * stays portable; dispatch.c calls them only on CPUs that have AVX2.
 */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include <string.h>

#include "simd_x86.h"

enum { QK = LQ_ACT_Q8_32_BLOCK, Q8_0_BYTES = 34, Q4_0_BYTES = 18, IQ4_NL_BYTES = 18 };

#define AVX2 __attribute__((target("avx2,fma")))

/* ---- activations ----------------------------------------------------------- */

AVX2 static float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

AVX2 static int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* round(x / d) clamped to +-127, as activations.c (cvtps rounds to nearest
 * even, as lrintf in the default rounding mode) */
AVX2 static __m256i quantize8(__m256 x, __m256 d) {
    __m256i q = _mm256_cvtps_epi32(_mm256_div_ps(x, d));
    q = _mm256_min_epi32(q, _mm256_set1_epi32(127));
    return _mm256_max_epi32(q, _mm256_set1_epi32(-127));
}

AVX2 void lq_act_quantize_q8_32_avx2(const float *x, int64_t ncols, lq_act_q8_32 *out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < ncols / QK; b++, x += QK) {
        lq_act_q8_32 *a = &out[b];
        __m256 v[4];
        for (int i = 0; i < 4; i++)
            v[i] = _mm256_loadu_ps(x + 8 * i);
        /* max(|x|, m) keeps m when x is NaN, as fmaxf */
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++)
            m = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), m);
        a->d = hmax_ps(m) / 127.0f;
        if (!(a->d > 0.0f)) {
            memset(a->qs, 0, sizeof a->qs);
            a->half_sums[0] = a->half_sums[1] = 0;
            continue;
        }
        __m256 d = _mm256_set1_ps(a->d);
        __m256i q[4];
        for (int i = 0; i < 4; i++)
            q[i] = quantize8(v[i], d);
        a->half_sums[0] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
        a->half_sums[1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
        /* packs interleave the 128-bit lanes; the permute puts them back */
        __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                         _mm256_packs_epi32(q[2], q[3]));
        q16 = _mm256_permutevar8x32_epi32(q16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)a->qs, q16);
    }
}

/* ---- row dots --------------------------------------------------------------- */

/* sum(w * a) of 32 signed bytes in 8 int32 lanes: maddubs wants unsigned x
 * signed, so |w| times a with w's sign (pairs stay <= 2*128*127, no
 * saturation). */
AVX2 static __m256i dot_signed(__m256i w, __m256i a) {
    __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/* sum(u * a) for unsigned u <= 15 */
AVX2 static __m256i dot_unsigned(__m256i u, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1));
}

/* Row loop of the 32-weight types with signed levels: `levels` turns a
 * block (its bytes after the f16 scale) into 32 int8 levels. Inlined with
 * the loader, so the pointer costs nothing. */
typedef __m256i (*levels_fn)(const uint8_t *qs);

AVX2 static inline __attribute__((always_inline)) float
signed_levels_row(const uint8_t *w, const lq_act_q8_32 *a, int64_t ncols, int block_bytes,
                  levels_fn levels) {
    const int64_t nb = ncols / QK;
    float total = 0.0f;
    for (int64_t b = 0; b < nb; b += SIMD_GROUP) {
        const int count = nb - b < SIMD_GROUP ? (int)(nb - b) : SIMD_GROUP;
        __m256i sums[SIMD_GROUP];
        for (int k = 0; k < SIMD_GROUP; k++) {
            if (k >= count) {
                sums[k] = _mm256_setzero_si256();
                continue;
            }
            const uint8_t *blk = w + (b + k) * block_bytes;
            sums[k] = dot_signed(levels(blk + 2), simd_act_qs(&a[b + k]));
        }
        total = simd_finish_group(total, w + b * block_bytes, block_bytes, &a[b],
                                  simd_hsum8_epi32(sums), count);
    }
    return total;
}

AVX2 static __m256i q8_0_levels(const uint8_t *qs) {
    return _mm256_loadu_si256((const __m256i *)(const void *)qs);
}

AVX2 static __m256i iq4_nl_levels(const uint8_t *qs) {
    return _mm256_shuffle_epi8(simd_iq4nl_table(), simd_nibbles_32(qs));
}

AVX2 static float dot_q8_0_avx2(const void *w_row, const void *act, int64_t ncols) {
    return signed_levels_row(w_row, act, ncols, Q8_0_BYTES, q8_0_levels);
}

AVX2 static float dot_iq4_nl_avx2(const void *w_row, const void *act, int64_t ncols) {
    return signed_levels_row(w_row, act, ncols, IQ4_NL_BYTES, iq4_nl_levels);
}

/* level = nibble - 8, so sum(level * a) = sum(nibble * a) - 8 * sum(a) */
AVX2 static float dot_q4_0_avx2(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const lq_act_q8_32 *a = act;
    const int64_t nb = ncols / QK;
    float total = 0.0f;
    for (int64_t b = 0; b < nb; b += SIMD_GROUP) {
        const int count = nb - b < SIMD_GROUP ? (int)(nb - b) : SIMD_GROUP;
        __m256i sums[SIMD_GROUP];
        for (int k = 0; k < SIMD_GROUP; k++) {
            if (k >= count) {
                sums[k] = _mm256_setzero_si256();
                continue;
            }
            const uint8_t *blk = w + (b + k) * Q4_0_BYTES;
            sums[k] = dot_unsigned(simd_nibbles_32(blk + 2), simd_act_qs(&a[b + k]));
        }
        /* level = nibble - 8: subtract 8 * sum(a) */
        __m256i offset = _mm256_slli_epi32(simd_act_sums(&a[b], simd_lane_mask(count)), 3);
        __m256i isum = _mm256_sub_epi32(simd_hsum8_epi32(sums), offset);
        total = simd_finish_group(total, w + b * Q4_0_BYTES, Q4_0_BYTES, &a[b], isum, count);
    }
    return total;
}

/* ---- float rows -------------------------------------------------------------- */

/* The last partial chunk goes through the scalar code (same order). */
AVX2 static float dot_f32_avx2(const void *w_row, const void *act, int64_t ncols) {
    const float *w = w_row, *x = act;
    const int64_t full = ncols / SIMD_CHUNK * SIMD_CHUNK;
    float total = 0.0f;
    for (int64_t i = 0; i < full; i += SIMD_CHUNK) {
        __m256 wv[4];
        for (int k = 0; k < 4; k++)
            wv[k] = _mm256_loadu_ps(w + i + 8 * k);
        total = simd_chunk_add(total, wv, x + i);
    }
    if (full < ncols) {
        float buf[SIMD_CHUNK];
        memcpy(buf, w + full, (size_t)(ncols - full) * sizeof(float));
        total = lq_dot_f32_accumulate(buf, x + full, ncols - full, total);
    }
    return total;
}

/* bf16 is the high half of a binary32: widen and shift (exact) */
AVX2 static float dot_bf16_avx2(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const float *x = act;
    const int64_t full = ncols / SIMD_CHUNK * SIMD_CHUNK;
    float total = 0.0f;
    for (int64_t i = 0; i < full; i += SIMD_CHUNK) {
        __m256 wv[4];
        for (int k = 0; k < 4; k++) {
            __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(w + 2 * (i + 8 * k)));
            wv[k] = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        }
        total = simd_chunk_add(total, wv, x + i);
    }
    if (full < ncols) {
        float buf[SIMD_CHUNK];
        for (int64_t k = 0; k < ncols - full; k++)
            buf[k] = lq_bf16_to_float(lq_load_u16(w + 2 * (full + k)));
        total = lq_dot_f32_accumulate(buf, x + full, ncols - full, total);
    }
    return total;
}

const lq_simd_kernel lq_simd_kernels_avx2[] = {
    {LQ_TYPE_Q8_0, dot_q8_0_avx2},
    {LQ_TYPE_Q4_0, dot_q4_0_avx2},
    {LQ_TYPE_IQ4_NL, dot_iq4_nl_avx2},
    {LQ_TYPE_F32, dot_f32_avx2},
    {LQ_TYPE_BF16, dot_bf16_avx2},
};
const size_t lq_simd_kernels_avx2_count =
    sizeof lq_simd_kernels_avx2 / sizeof lq_simd_kernels_avx2[0];

#else /* not x86: nothing to dispatch to */

const lq_simd_kernel lq_simd_kernels_avx2[1] = {{-1, NULL}};
const size_t lq_simd_kernels_avx2_count = 0;

void lq_act_quantize_q8_32_avx2(const float *x, int64_t ncols, lq_act_q8_32 *out) {
    (void)x, (void)ncols, (void)out;
}

#endif
