/*
 * Building blocks of the AVX-512 panel decoders (panel_avx512.c,
 * panel_avx512_iqk.c): loads that put weights straight into lane order
 * (panel.h: byte 64 s + 4 L + j of a chunk is weight 16 L + 4 s + j).
 * Include only on x86, after <immintrin.h>.
 */
#ifndef LIBQUANT_PANEL_AVX512_H
#define LIBQUANT_PANEL_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "common.h"
#include "panel.h"

#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

static inline float half_at(const uint8_t *p) { return lq_half_to_float(lq_load_u16(p)); }

AVX512 INLINE __m512i lane_index(int step, int per_group_stride, int parity_stride) {
    /* dword index of (group L, step) in a pair of source registers */
    int idx[16];
    for (int lane = 0; lane < 16; lane++)
        idx[lane] = per_group_stride * (lane / 2) + parity_stride * (lane & 1) + step;
    return _mm512_loadu_si512((const void *)idx);
}

/* f16 scales of 8 blocks `stride` bytes apart, each repeated for the two
 * 16-groups of its block */
AVX512 INLINE __m512 block_scales(const uint8_t *first, int stride) {
    /* eight scalar loads: a gather is several times slower on Zen 4 */
    const __m128i h = _mm_setr_epi16(
        (short)lq_load_u16(first), (short)lq_load_u16(first + stride),
        (short)lq_load_u16(first + 2 * stride), (short)lq_load_u16(first + 3 * stride),
        (short)lq_load_u16(first + 4 * stride), (short)lq_load_u16(first + 5 * stride),
        (short)lq_load_u16(first + 6 * stride), (short)lq_load_u16(first + 7 * stride));
    const __m512 eight = _mm512_castps256_ps512(_mm256_cvtph_ps(h));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                                 eight);
}

AVX512 INLINE void store_scales(lq_panel_chunk *out, __m512 scale) {
    _mm512_store_ps(out->scale, scale);
    _mm512_store_ps(out->offset, _mm512_setzero_ps());
}

/* 8 blocks of 16 nibble bytes (`stride` apart, quants at +qs_offset) as
 * lane-order 4-bit values: group 2k = low nibbles of block k, 2k+1 high;
 * `table` maps them (vpshufb) or is NULL, `bias` is subtracted */
AVX512 INLINE void nibble_blocks(const uint8_t *first, int stride, int qs_offset,
                                 const __m512i *table, int bias, lq_panel_chunk *out) {
    __m512i src[2];
    for (int h = 0; h < 2; h++) {
        const uint8_t *b = first + 4 * h * stride + qs_offset;
        __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)b));
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(const void *)(b + stride)), 1);
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(const void *)(b + 2 * stride)), 2);
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(const void *)(b + 3 * stride)), 3);
        src[h] = z;
    }
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    const __m512i low4 = _mm512_set1_epi8(15), b8 = _mm512_set1_epi8((char)bias);
    for (int s = 0; s < 4; s++) {
        __m512i v = _mm512_permutex2var_epi32(src[0], lane_index(s, 4, 0), src[1]);
        v = _mm512_and_si512(_mm512_srlv_epi32(v, shift), low4);
        v = table ? _mm512_shuffle_epi8(*table, v) : _mm512_sub_epi8(v, b8);
        _mm512_store_si512((void *)(out->level + 64 * s), v);
    }
}

/* q2_K / q3_K 2-bit quants: in each half h of 128 weights, byte l holds
 * weights 32 k + l at bits 2k; group g = 8h + 2k + u takes bytes 32 h +
 * 16 u .., so its dword s is qs dword 8 h + 4 u + s shifted by 2 k */
AVX512 INLINE __m512i two_bit_step(__m512i qs, int s) {
    int idx[16], shift[16];
    for (int g = 0; g < 16; g++) {
        idx[g] = 8 * (g / 8) + 4 * (g & 1) + s;
        shift[g] = 2 * ((g % 8) / 2);
    }
    const __m512i v = _mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)idx), qs);
    return _mm512_and_si512(_mm512_srlv_epi32(v, _mm512_loadu_si512((const void *)shift)),
                            _mm512_set1_epi8(3));
}

/* each of 8 dwords twice: lane L = in[L / 2] */
AVX512 INLINE __m512i spread_pairs(__m256i in) {
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                                    _mm512_castsi256_si512(in));
}

/* One row chunk against one activation chunk, added to sum in exactly the
 * tile kernel's arithmetic (panel_avx512.c, tile_body), so that a vector's
 * results are the same bits whichever of the two computes them. */
AVX512 INLINE __m512 lq_chunk_dot(const lq_panel_chunk *w, const lq_act_chunk *a,
                                  bool has_offset, __m512 sum) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512i isum = _mm512_setzero_si512(), wsum = _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        const __m512i lv = _mm512_load_si512((const void *)(w->level + 64 * s));
        wsum = _mm512_dpbusd_epi32(wsum, bias, lv);
        isum = _mm512_dpbusd_epi32(isum, _mm512_load_si512((const void *)(a->biased + 64 * s)), lv);
    }
    const __m512 exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(isum, wsum));
    sum = _mm512_fmadd_ps(exact, _mm512_mul_ps(_mm512_load_ps(w->scale), _mm512_load_ps(a->d)), sum);
    if (has_offset)
        sum = _mm512_fmadd_ps(_mm512_load_ps(w->offset), _mm512_load_ps(a->dsum), sum);
    return sum;
}

/* A GEMV kernel for a chunk decoder (panel.h, lq_panel_gemv_fn): each chunk
 * is decoded and multiplied at once, so it never leaves registers and L1,
 * and the decoder is inlined into the loop. */
#define LQ_PANEL_GEMV(decode)                                                                \
    AVX512 static void gemv_##decode(const uint8_t *rows, int64_t row_bytes, int64_t nrows, \
                                     int64_t nchunks, const lq_act_chunk *a, bool has_offset, \
                                     float *y) {                                             \
        for (int64_t r = 0; r < nrows; r++) {                                                \
            __m512 sum = _mm512_setzero_ps();                                                \
            for (int64_t c = 0; c < nchunks; c++) {                                          \
                lq_panel_chunk chunk;                                                        \
                decode(rows + r * row_bytes, c, LQ_PANEL_K, &chunk);                         \
                sum = lq_chunk_dot(&chunk, &a[c], has_offset, sum);                          \
            }                                                                                \
            y[r] = _mm512_reduce_add_ps(sum);                                                \
        }                                                                                    \
    }

#endif /* LIBQUANT_PANEL_AVX512_H */
