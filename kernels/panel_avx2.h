/*
 * The AVX2 arithmetic of the packed layout (panel.h), shared by the tile
 * kernel (panel_avx2.c) and the fused GEMV kernels of the AVX2 decoders,
 * so that a vector gets the same bits alone as in a tile.
 *
 * AVX2 has no vpdpbusd, and vpmaddubsw (unsigned x signed bytes, pairs
 * added in int16) saturates on the biased activations (255 x 127 x 2). So
 * the activations are taken back to signed (a + 128 xor 0x80) and the
 * sign trick makes the products fit: |w| x (a with w's sign), each pair at
 * most 2 x 128 x 127 < 32767, then vpmaddwd adds the pairs into int32.
 *
 * A 32-byte half h of step s holds 4 weights of each 16-group 8 h + L in
 * dword L, so a half's four steps give the exact integer sums of 8 groups;
 * then one convert and one FMA with scale_w * d_a per (row, vector, half).
 * Include only on x86.
 */
#ifndef LIBQUANT_PANEL_AVX2_H
#define LIBQUANT_PANEL_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "panel.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE static inline __attribute__((always_inline))

/* The activation bytes of half h of step s, signed. */
AVX2 AVX2_INLINE __m256i lq_act_signed_avx2(const lq_act_chunk *a, int s, int h) {
    const __m256i biased = _mm256_load_si256((const __m256i *)(const void *)(a->biased + 64 * s + 32 * h));
    return _mm256_xor_si256(biased, _mm256_set1_epi8((char)0x80));
}

/* Eight int32 lanes of sum(level * a) for 4 weights each. */
AVX2 AVX2_INLINE __m256i lq_quad_dot_avx2(__m256i level, __m256i level_abs, __m256i act) {
    const __m256i pairs = _mm256_maddubs_epi16(level_abs, _mm256_sign_epi8(act, level));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/* The float part of half h: sum += isum * (scale_w * d_a) [+ offset * dsum]. */
AVX2 AVX2_INLINE __m256 lq_half_float_avx2(const lq_panel_chunk *w, const lq_act_chunk *a, int h,
                                           __m256i isum, bool has_offset, __m256 sum) {
    const __m256 scale = _mm256_mul_ps(_mm256_load_ps(w->scale + 8 * h), _mm256_load_ps(a->d + 8 * h));
    sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, sum);
    if (has_offset)
        sum = _mm256_fmadd_ps(_mm256_load_ps(w->offset + 8 * h), _mm256_load_ps(a->dsum + 8 * h), sum);
    return sum;
}

/* One row chunk against one activation chunk, added to sum: the tile
 * kernel's arithmetic for one (row, vector). */
AVX2 AVX2_INLINE __m256 lq_chunk_dot_avx2(const lq_panel_chunk *w, const lq_act_chunk *a,
                                          bool has_offset, __m256 sum) {
    for (int h = 0; h < 2; h++) {
        __m256i isum = _mm256_setzero_si256();
        for (int s = 0; s < 4; s++) {
            const __m256i lv = _mm256_load_si256((const __m256i *)(const void *)(w->level + 64 * s + 32 * h));
            isum = _mm256_add_epi32(isum, lq_quad_dot_avx2(lv, _mm256_abs_epi8(lv), lq_act_signed_avx2(a, s, h)));
        }
        sum = lq_half_float_avx2(w, a, h, isum, has_offset, sum);
    }
    return sum;
}

/* The 8 lanes added in a fixed order. */
AVX2 AVX2_INLINE float lq_reduce_avx2(__m256 v) {
    const __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

/* A GEMV kernel for an AVX2 chunk decoder (lq_panel_gemv_fn): each chunk is
 * decoded and multiplied at once, the decoder inlined into the loop. */
#define LQ_PANEL_GEMV_AVX2(decode)                                                           \
    AVX2 static void gemv_##decode(const uint8_t *rows, int64_t row_bytes, int64_t nrows,   \
                                   int64_t nchunks, const lq_act_chunk *a, bool has_offset, \
                                   float *y) {                                              \
        for (int64_t r = 0; r < nrows; r++) {                                               \
            __m256 sum = _mm256_setzero_ps();                                               \
            for (int64_t c = 0; c < nchunks; c++) {                                         \
                lq_panel_chunk chunk;                                                       \
                decode(rows + r * row_bytes, c, LQ_PANEL_K, &chunk);                        \
                sum = lq_chunk_dot_avx2(&chunk, &a[c], has_offset, sum);                    \
            }                                                                               \
            y[r] = lq_reduce_avx2(sum);                                                     \
        }                                                                                   \
    }

#endif /* LIBQUANT_PANEL_AVX2_H */
