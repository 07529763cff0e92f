/*
 * The AVX2 arithmetic of the packed layout (panel.h), shared by the tile
 * kernel (panel_avx2.c) and the fused GEMV kernels of the AVX2 decoders,
 * so that a vector gets the same bits alone as in a tile.
 *
 * AVX2 has no vpdpbusd, and vpmaddubsw (unsigned x signed bytes, pairs
 * added in int16) would saturate on biased activations (255 x 127 x 2). So
 * the AVX2 activation chunks hold the signed a, and the sign trick makes
 * the products fit: |w| x (a with w's sign), each pair at
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

#include "common.h"
#include "panel.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE static inline __attribute__((always_inline))

/* The activation bytes of half h of step s (signed at this level). */
AVX2 AVX2_INLINE __m256i lq_act_signed_avx2(const lq_act_chunk *a, int s, int h) {
    return _mm256_load_si256((const __m256i *)(const void *)(a->biased + 64 * s + 32 * h));
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

/* Narrow formats: levels in [lowest, lowest + 31] (lq_avx2_levels_lowest).
 * Then u = level - lowest is an unsigned byte of at most 31, vpmaddubsw
 * takes it as it is (no sign trick) and the four steps of a half add in
 * int16 (4 x 2 x 31 x 127 < 32767) before one vpmaddwd: half the integer
 * work. The lowest level goes into the offset, scale * lowest + offset,
 * applied with the activation sums. */

AVX2 AVX2_INLINE __m256i lq_unsigned_levels_avx2(const lq_panel_chunk *w, int s, int h, int lowest) {
    const __m256i lv = _mm256_load_si256((const __m256i *)(const void *)(w->level + 64 * s + 32 * h));
    return _mm256_sub_epi8(lv, _mm256_set1_epi8((char)lowest));
}

AVX2 AVX2_INLINE __m256 lq_half_float_narrow_avx2(const lq_panel_chunk *w, const lq_act_chunk *a,
                                                  int h, __m256i isum, int lowest, __m256 sum) {
    const __m256 wscale = _mm256_load_ps(w->scale + 8 * h);
    sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(wscale, _mm256_load_ps(a->d + 8 * h)), sum);
    const __m256 offset = _mm256_fmadd_ps(wscale, _mm256_set1_ps((float)lowest),
                                          _mm256_load_ps(w->offset + 8 * h));
    return _mm256_fmadd_ps(offset, _mm256_load_ps(a->dsum + 8 * h), sum);
}

/* One row chunk against one activation chunk, added to sum: the tile
 * kernel's arithmetic for one (row, vector). */
AVX2 AVX2_INLINE __m256 lq_chunk_dot_avx2(const lq_panel_chunk *w, const lq_act_chunk *a,
                                          bool has_offset, int lowest, __m256 sum) {
    for (int h = 0; h < 2; h++) {
        if (lowest != LQ_LEVELS_WIDE) {
            __m256i pairs = _mm256_setzero_si256();
            for (int s = 0; s < 4; s++)
                pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(lq_unsigned_levels_avx2(w, s, h, lowest),
                                                                     lq_act_signed_avx2(a, s, h)));
            const __m256i isum = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
            sum = lq_half_float_narrow_avx2(w, a, h, isum, lowest, sum);
            continue;
        }
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

/* A GEMV kernel for an AVX2 chunk decoder of `type` (lq_panel_gemv_fn):
 * each chunk is decoded and multiplied at once, the decoder inlined into
 * the loop, with the tile's arithmetic for the type (wide or narrow). */
#define LQ_PANEL_GEMV_AVX2(decode, type)                                                     \
    AVX2 static void gemv_##decode(const uint8_t *rows, int64_t row_bytes, int64_t nrows,   \
                                   int64_t nchunks, const lq_act_chunk *a, bool has_offset, \
                                   float *y) {                                              \
        const int lowest = lq_avx2_levels_lowest(type);                                     \
        /* two copies of the loop, so that each knows its arithmetic */                     \
        if (lowest == LQ_LEVELS_WIDE) {                                                     \
            LQ_GEMV_ROWS_AVX2(decode, LQ_LEVELS_WIDE)                                       \
        } else {                                                                            \
            LQ_GEMV_ROWS_AVX2(decode, lowest)                                               \
        }                                                                                   \
    }

#define LQ_GEMV_ROWS_AVX2(decode, lowest)                                                    \
    for (int64_t r = 0; r < nrows; r++) {                                                   \
        __m256 sum = _mm256_setzero_ps();                                                   \
        for (int64_t c = 0; c < nchunks; c++) {                                             \
            lq_panel_chunk chunk;                                                           \
            decode(rows + r * row_bytes, c, LQ_PANEL_K, &chunk);                            \
            sum = lq_chunk_dot_avx2(&chunk, &a[c], has_offset, lowest, sum);                \
        }                                                                                   \
        y[r] = lq_reduce_avx2(sum);                                                         \
    }

/* ---- decoder helpers (panel_avx2_legacy.c, panel_avx2_kquants.c) ----------
 * A decoder builds half h of a chunk (16-groups 8 h .. 8 h + 7) as four
 * registers of levels in natural order: r[i] holds group 8 h + i in its low
 * 128-bit lane and group 8 h + i + 4 in its high lane, 16 weights each.
 * lq_store_half_avx2 turns them into lane order with an in-lane 4 x 4
 * transpose of dwords. */

/* 16 bytes at lo in the low lane, 16 at hi in the high lane. */
AVX2 AVX2_INLINE __m256i lq_load_pair_avx2(const uint8_t *lo, const uint8_t *hi) {
    const __m128i l = _mm_loadu_si128((const __m128i *)(const void *)lo);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(l),
                                   _mm_loadu_si128((const __m128i *)(const void *)hi), 1);
}

/* 16 bytes at p in both lanes. */
AVX2 AVX2_INLINE __m256i lq_load_both_avx2(const uint8_t *p) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* Shift counts per 128-bit lane, for lq_bits_avx2. */
AVX2 AVX2_INLINE __m256i lq_lane_shifts_avx2(int lo, int hi) {
    return _mm256_setr_epi32(lo, lo, lo, lo, hi, hi, hi, hi);
}

/* Every byte of x shifted right by its lane's count (0..7) and masked. */
AVX2 AVX2_INLINE __m256i lq_bits_avx2(__m256i x, __m256i shifts, int mask) {
    return _mm256_and_si256(_mm256_srlv_epi32(x, shifts), _mm256_set1_epi8((char)mask));
}

/* The low and high nibbles of every byte. */
AVX2 AVX2_INLINE void lq_nibbles_avx2(__m256i q, __m256i *low, __m256i *high) {
    const __m256i mask = _mm256_set1_epi8(15);
    *low = _mm256_and_si256(q, mask);
    *high = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
}

/* Half h of four blocks of 32 weights, `stride` bytes apart from the first
 * one's 16 bytes of nibbles at qs (byte j: weight j low, j + 16 high): the
 * block k of a pair of lanes is k or k + 2, so r[2 a] (low nibbles) and
 * r[2 a + 1] (high) are blocks a and a + 2. */
AVX2 AVX2_INLINE void lq_nibble_blocks_avx2(const uint8_t *qs, int stride, __m256i r[4]) {
    for (int a = 0; a < 2; a++)
        lq_nibbles_avx2(lq_load_pair_avx2(qs + a * stride, qs + (a + 2) * stride), &r[2 * a],
                        &r[2 * a + 1]);
}

/* A 4 x 4 transpose of dwords in each 128-bit lane: dword j of out[i] is
 * dword i of in[j], lane by lane. */
AVX2 AVX2_INLINE void lq_transpose4_epi32_avx2(const __m256i in[4], __m256i out[4]) {
    const __m256i t0 = _mm256_unpacklo_epi32(in[0], in[1]), t1 = _mm256_unpackhi_epi32(in[0], in[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(in[2], in[3]), t3 = _mm256_unpackhi_epi32(in[2], in[3]);
    out[0] = _mm256_unpacklo_epi64(t0, t2);
    out[1] = _mm256_unpackhi_epi64(t0, t2);
    out[2] = _mm256_unpacklo_epi64(t1, t3);
    out[3] = _mm256_unpackhi_epi64(t1, t3);
}

/* r (see above) -> the lane order of half h: step s is dword s of each
 * group, group i + 4 k in lane k's dword i. */
AVX2 AVX2_INLINE void lq_store_half_avx2(lq_panel_chunk *out, int h, const __m256i r[4]) {
    __m256i step[4];
    lq_transpose4_epi32_avx2(r, step);
    for (int s = 0; s < 4; s++)
        _mm256_store_si256((__m256i *)(void *)(out->level + 64 * s + 32 * h), step[s]);
}

/* The bits of every byte of x at `from` moved to `to` and masked by mask
 * (the bits of the field stay inside their byte: 0 <= from, to <= 7). */
AVX2 AVX2_INLINE __m256i lq_move_bits_avx2(__m256i x, int from, int to, int mask) {
    const __m256i moved = from < to ? _mm256_slli_epi16(x, to - from)
                          : from > to ? _mm256_srli_epi16(x, from - to) : x;
    return _mm256_and_si256(moved, _mm256_set1_epi8((char)mask));
}

/* mxfp4: 2^(e - 128) from E8M0 exponents e (int32 lanes): the bits e << 23
 * are 2^(e - 127) (halved exactly, down to the subnormal 2^-127), except
 * e = 0 (2^-128) and e = 255 (2^127) */
AVX2 AVX2_INLINE __m256 lq_e8m0_avx2(__m256i e) {
    __m256 scale = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(e, 23)), _mm256_set1_ps(0.5f));
    scale = _mm256_blendv_ps(scale, _mm256_set1_ps(0x1p-128f),
                             _mm256_castsi256_ps(_mm256_cmpeq_epi32(e, _mm256_setzero_si256())));
    return _mm256_blendv_ps(scale, _mm256_set1_ps(0x1p127f),
                            _mm256_castsi256_ps(_mm256_cmpeq_epi32(e, _mm256_set1_epi32(255))));
}

/* iq4_nl's values (iq4_nl, iq4_xs) in both lanes, for vpshufb. */
AVX2 AVX2_INLINE __m256i lq_iq4nl_table_avx2(void) {
    return _mm256_broadcastsi128_si256(_mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1,
                                                     13, 25, 38, 53, 69, 89, 113));
}

/* The f16 at p (F16C: the same float as lq_half_to_float). */
AVX2 AVX2_INLINE float lq_half_avx2(const uint8_t *p) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128((int)lq_load_u16(p))));
}

/* dst[2 k] = dst[2 k + 1] = v[k]: a value per 32 weights on its two
 * 16-groups (dst 32-byte aligned: a chunk's scale or offset). */
AVX2 AVX2_INLINE void lq_store_pairs_avx2(float *dst, __m256 v) {
    _mm256_store_ps(dst, _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)));
    _mm256_store_ps(dst + 8, _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)));
}

#endif /* LIBQUANT_PANEL_AVX2_H */
