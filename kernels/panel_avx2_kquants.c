/*
 * AVX2 decoders of the k-quants (q2_K, q3_K, q4_K, q5_K, q6_K) and iq4_xs
 * into the packed layout (panel.h), writing lane order directly, each with
 * its fused GEMV kernel.
 *
 * A super-block is one chunk and its half h (weights 128 h ..) is the
 * half of panel_avx2.h's natural-order registers: r[i] pairs group i
 * (weights 16 i .. of the half) with group i + 4 (64 + 16 i ..). In every
 * format but iq4_xs (whose 32-weight blocks are iq4_nl's) those two sit in
 * the same bytes at other bits, or in bytes 32 apart at the same bits, so
 * a register is one or two 16-byte loads, a shift per lane and a mask. The
 * scalar decoders in panel_decode.c are the specification.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include "common.h"
#include "panel_avx2.h"

/* ---- levels --------------------------------------------------------------- */

/* 2-bit planes (q2_K, q3_K; q6_K's upper bits): in half h, 32 bytes at
 * plane hold weight 32 k + l at bits 2 k of byte l: group i is bytes
 * 16 (i % 2) .. at bits 2 (i / 2), group i + 4 four bits above */
AVX2 AVX2_INLINE void two_bit_half(const uint8_t *plane, __m256i r[4]) {
    for (int i = 0; i < 4; i++)
        r[i] = lq_bits_avx2(lq_load_both_avx2(plane + 16 * (i % 2)),
                            lq_lane_shifts_avx2(2 * (i / 2), 2 * (i / 2) + 4), 3);
}

/* 1-bit planes (q3_K's hmask, q5_K's qh): weight j's bit is bit j / 32 of
 * byte j % 32 of the chunk's 32 bytes: register i of half h, as 0 or 1 */
AVX2 AVX2_INLINE __m256i high_bit(const uint8_t *plane, int h, int i) {
    const int bit = 4 * h + i / 2;
    return lq_bits_avx2(lq_load_both_avx2(plane + 16 * (i % 2)), lq_lane_shifts_avx2(bit, bit + 2), 1);
}

/* q4_K / q5_K: quarter t (64 weights) is 32 bytes at qs + 32 t, low nibbles
 * weights 0-31, high 32-63; half h is quarters 2 h (low lanes) and 2 h + 1 */
AVX2 AVX2_INLINE void quarter_nibbles(const uint8_t *qs, int h, __m256i r[4]) {
    for (int a = 0; a < 2; a++)
        lq_nibbles_avx2(lq_load_pair_avx2(qs + 64 * h + 16 * a, qs + 64 * h + 32 + 16 * a), &r[a],
                        &r[a + 2]);
}

/* d, dmin, scales[12], qs[128] */
AVX2 AVX2_INLINE void q4_K_half(const uint8_t *w, int h, __m256i r[4]) {
    quarter_nibbles(w + 16, h, r);
}

/* d, dmin, scales[12], qh[32], qs[128]; qh gives the fifth bit */
AVX2 AVX2_INLINE void q5_K_half(const uint8_t *w, int h, __m256i r[4]) {
    quarter_nibbles(w + 48, h, r);
    for (int i = 0; i < 4; i++)
        r[i] = _mm256_or_si256(r[i], _mm256_slli_epi16(high_bit(w + 16, h, i), 4));
}

/* scales[16], qs[64], d, dmin */
AVX2 AVX2_INLINE void q2_K_half(const uint8_t *w, int h, __m256i r[4]) {
    two_bit_half(w + 16 + 32 * h, r);
}

/* hmask[32], qs[64], scales[12], d: the 2-bit value minus 4 where the
 * hmask bit is clear */
AVX2 AVX2_INLINE void q3_K_half(const uint8_t *w, int h, __m256i r[4]) {
    two_bit_half(w + 32 + 32 * h, r);
    for (int i = 0; i < 4; i++)
        r[i] = _mm256_sub_epi8(_mm256_or_si256(r[i], _mm256_slli_epi16(high_bit(w, h, i), 2)),
                               _mm256_set1_epi8(4));
}

/* ql[128], qh[64], scales[16], d: half h's ql is 64 bytes, low nibbles
 * weights 0-63, high 64-127, so group i and i + 4 are the two nibbles of
 * bytes 16 i ..; qh is a 2-bit plane; the 6-bit value minus 32 */
AVX2 AVX2_INLINE void q6_K_half(const uint8_t *w, int h, __m256i r[4]) {
    __m256i up[4];
    two_bit_half(w + 128 + 32 * h, up);
    for (int i = 0; i < 4; i++) {
        const __m256i low =
            lq_bits_avx2(lq_load_both_avx2(w + 64 * h + 16 * i), lq_lane_shifts_avx2(0, 4), 15);
        r[i] = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(up[i], 4)), _mm256_set1_epi8(32));
    }
}

/* d, scales_h, scales_l[4], then iq4_nl's nibbles per 32 weights */
AVX2 AVX2_INLINE void iq4_xs_half(const uint8_t *w, int h, __m256i r[4]) {
    lq_nibble_blocks_avx2(w + 8 + 64 * h, 16, r);
    for (int i = 0; i < 4; i++)
        r[i] = _mm256_shuffle_epi8(lq_iq4nl_table_avx2(), r[i]);
}

/* ---- scales --------------------------------------------------------------- */

AVX2 AVX2_INLINE __m256 times(float d, __m256i values) {
    return _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(values));
}

/* 16 int32 values (lo: groups 0-7) times d as the scales, no offsets */
AVX2 AVX2_INLINE void scales16(__m256i lo, __m256i hi, float d, lq_panel_chunk *out) {
    _mm256_store_ps(out->scale, times(d, lo));
    _mm256_store_ps(out->scale + 8, times(d, hi));
    _mm256_store_ps(out->offset, _mm256_setzero_ps());
    _mm256_store_ps(out->offset + 8, _mm256_setzero_ps());
}

AVX2 AVX2_INLINE __m256i u8_lanes(__m128i bytes, int first) {
    return _mm256_cvtepu8_epi32(first ? _mm_srli_si128(bytes, 8) : bytes);
}

/* q4_K / q5_K: eight 6-bit scales and mins per 32 weights in 12 bytes at
 * w + 4 (u0 u1 u2): scales 0-3 and mins 0-3 the low 6 bits of u0 and u1,
 * scales and mins 4-7 the nibbles of u2 with the top 2 bits of u0, u1 */
AVX2 AVX2_INLINE void k4_scales(const uint8_t *w, lq_panel_chunk *out) {
    const __m128i u = _mm_loadu_si128((const __m128i *)(const void *)(w + 4));
    const __m128i low = _mm_and_si128(
        _mm_srlv_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(2, 1, 2, 0)), _mm_setr_epi32(0, 0, 0, 4)),
        _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    const __m128i top = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(1, 1, 0, 0)), 6),
                                      _mm_setr_epi32(0, 0x03030303, 0, 0x03030303));
    const __m128i packed = _mm_or_si128(low, _mm_slli_epi32(top, 4)); /* scales, mins */
    lq_store_pairs_avx2(out->scale, times(lq_half_avx2(w), u8_lanes(packed, 0)));
    lq_store_pairs_avx2(out->offset, times(-lq_half_avx2(w + 2), u8_lanes(packed, 1)));
}

AVX2 AVX2_INLINE void q4_K_scales(const uint8_t *w, lq_panel_chunk *out) { k4_scales(w, out); }
AVX2 AVX2_INLINE void q5_K_scales(const uint8_t *w, lq_panel_chunk *out) { k4_scales(w, out); }

/* q2_K: scale in the low nibble of byte g, min in the high */
AVX2 AVX2_INLINE void q2_K_scales(const uint8_t *w, lq_panel_chunk *out) {
    const __m128i sc = _mm_loadu_si128((const __m128i *)(const void *)w);
    const float d = lq_half_avx2(w + 80), dmin = -lq_half_avx2(w + 82);
    for (int k = 0; k < 2; k++) {
        const __m256i v = u8_lanes(sc, k);
        _mm256_store_ps(out->scale + 8 * k, times(d, _mm256_and_si256(v, _mm256_set1_epi32(15))));
        _mm256_store_ps(out->offset + 8 * k, times(dmin, _mm256_srli_epi32(v, 4)));
    }
}

/* q3_K: sixteen 6-bit scales minus 32 in 12 bytes at w + 96 (u0 u1 u2):
 * scale g's low 4 bits are nibble g / 8 of byte g % 8, its top 2 bits
 * bits 2 (g / 4) of byte 8 + g % 4 */
AVX2 AVX2_INLINE void q3_K_scales(const uint8_t *w, lq_panel_chunk *out) {
    const __m128i u = _mm_insert_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(w + 96)),
                                       (int)lq_load_u32(w + 104), 2);
    const __m128i low = _mm_and_si128(
        _mm_srlv_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(1, 0, 1, 0)), _mm_setr_epi32(0, 0, 4, 4)),
        _mm_set1_epi8(15));
    const __m128i top = _mm_and_si128(
        _mm_srlv_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(2, 2, 2, 2)), _mm_setr_epi32(0, 2, 4, 6)),
        _mm_set1_epi8(3));
    const __m128i packed = _mm_or_si128(low, _mm_slli_epi32(top, 4));
    const __m256i bias = _mm256_set1_epi32(32);
    scales16(_mm256_sub_epi32(u8_lanes(packed, 0), bias), _mm256_sub_epi32(u8_lanes(packed, 1), bias),
             lq_half_avx2(w + 108), out);
}

/* q6_K: int8 scales per 16 at w + 192 */
AVX2 AVX2_INLINE void q6_K_scales(const uint8_t *w, lq_panel_chunk *out) {
    const __m128i sc = _mm_loadu_si128((const __m128i *)(const void *)(w + 192));
    scales16(_mm256_cvtepi8_epi32(sc), _mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)),
             lq_half_avx2(w + 208), out);
}

/* iq4_xs: block s's 6-bit scale is nibble s of scales_l (low 4 bits) and
 * bits 2 s of scales_h, minus 32 */
AVX2 AVX2_INLINE void iq4_xs_scales(const uint8_t *w, lq_panel_chunk *out) {
    const __m256i nibble = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i pair = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i low = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32((int)lq_load_u32(w + 4)), nibble), _mm256_set1_epi32(15));
    const __m256i top = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(lq_load_u16(w + 2)), pair), _mm256_set1_epi32(3));
    const __m256i ls = _mm256_or_si256(low, _mm256_slli_epi32(top, 4));
    lq_store_pairs_avx2(out->scale, times(lq_half_avx2(w), _mm256_sub_epi32(ls, _mm256_set1_epi32(32))));
    lq_store_pairs_avx2(out->offset, _mm256_setzero_ps());
}

/* ---- decoders (full chunks only) ------------------------------------------ */

#define SUPER_DECODER(name, bytes, type)                                                       \
    AVX2 AVX2_INLINE void decode_##name(const uint8_t *row, int64_t chunk, int count,       \
                                        lq_panel_chunk *out) {                             \
        const uint8_t *w = row + chunk * (bytes);                                          \
        for (int h = 0; h < 2; h++) {                                                      \
            __m256i r[4];                                                                  \
            name##_half(w, h, r);                                                          \
            lq_store_half_avx2(out, h, r);                                                 \
        }                                                                                  \
        name##_scales(w, out);                                                             \
        (void)count;                                                                       \
    }                                                                                      \
    LQ_PANEL_GEMV_AVX2(decode_##name, type)

SUPER_DECODER(q2_K, 84, LQ_TYPE_Q2_K)
SUPER_DECODER(q3_K, 110, LQ_TYPE_Q3_K)
SUPER_DECODER(q4_K, 144, LQ_TYPE_Q4_K)
SUPER_DECODER(q5_K, 176, LQ_TYPE_Q5_K)
SUPER_DECODER(q6_K, 210, LQ_TYPE_Q6_K)
SUPER_DECODER(iq4_xs, 136, LQ_TYPE_IQ4_XS)

const lq_panel_simd_decoder lq_panel_decoders_avx2_kquants[] = {
    {LQ_TYPE_Q2_K, decode_q2_K, NULL, gemv_decode_q2_K},
    {LQ_TYPE_Q3_K, decode_q3_K, NULL, gemv_decode_q3_K},
    {LQ_TYPE_Q4_K, decode_q4_K, NULL, gemv_decode_q4_K},
    {LQ_TYPE_Q5_K, decode_q5_K, NULL, gemv_decode_q5_K},
    {LQ_TYPE_Q6_K, decode_q6_K, NULL, gemv_decode_q6_K},
    {LQ_TYPE_IQ4_XS, decode_iq4_xs, NULL, gemv_decode_iq4_xs},
};
const int lq_panel_decoders_avx2_kquants_count =
    (int)(sizeof lq_panel_decoders_avx2_kquants / sizeof lq_panel_decoders_avx2_kquants[0]);

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx2_kquants[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx2_kquants_count = 0;

#endif
