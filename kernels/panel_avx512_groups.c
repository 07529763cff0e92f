/*
 * AVX-512 fused GEMVs (group_gemv_avx512.h) of the row-interleaved legacy
 * and k-quant types, and AVX-512 group decoders where they beat the AVX2
 * ones (panel_avx2_groups.c describes the layouts: a 4-byte quad of each
 * row, the 4 or 8 rows' quads side by side).
 *
 * Each chunk function loads the stored quads as they lie (lanes = rows),
 * extracts the unsigned quants in place, and multiplies them with the
 * activation quads of the same (group, quad), which one permute of the
 * activation's step registers puts beside every row: the activation work
 * is shared by the group's rows and no level is transposed. The group
 * decoders (for the tile, n > 1) do transpose: to the panel's lane order.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "common.h"
#include "group_gemv_avx512.h"

/* a register whose lanes 0-7 are dword `first` of `src`, lanes 8-15 dword
 * `second` */
AVX512 INLINE __m512i two_dwords(__m512i src, int first, int second) {
    return _mm512_permutexvar_epi32(
        _mm512_setr_epi32(first, first, first, first, first, first, first, first, second, second,
                          second, second, second, second, second, second),
        src);
}

/* 32 bytes at lo in lanes 0-7, 32 bytes at hi in lanes 8-15 */
AVX512 INLINE __m512i two_pieces(const uint8_t *lo, const uint8_t *hi) {
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)lo)),
        _mm256_loadu_si256((const __m256i *)(const void *)hi), 1);
}

/* the 8 f16 at p, in lanes 0-7 and again in 8-15 */
AVX512 INLINE __m512 halves8_twice(const uint8_t *p) {
    return _mm512_cvtph_ps(
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)p)));
}

/* ---- q4_0_r8: 8 block columns of d[8] (f16), then 4 pieces of 8 rows x 4
 * bytes (piece l: quad l of the low nibbles = group 2 b, of the high ones
 * = group 2 b + 1). P register b = the column's two groups. */

enum { Q4_0_R8_COL = 8 * 18 };

AVX512 INLINE void chunk_q4_0_r8(const uint8_t *group, int64_t chunk, const lq_gact *a,
                                 __m512 *sum) {
    const uint8_t *first = group + chunk * 8 * Q4_0_R8_COL;
    const __m512i shift = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
    const __m512i low4 = _mm512_set1_epi8(15);
#pragma GCC unroll 8
    for (int b = 0; b < 8; b++) {
        const uint8_t *col = first + b * Q4_0_R8_COL;
        /* the bias of the nibbles, 8 sum(a), taken off at the start */
        __m512i acc = _mm512_sub_epi32(_mm512_setzero_si512(), lq_gp_bias(8, b, a, 3));
        for (int l = 0; l < 4; l++) {
            const __m512i w = _mm512_broadcast_i64x4(
                _mm256_loadu_si256((const __m256i *)(const void *)(col + 16 + 32 * l)));
            const __m512i u = _mm512_and_si512(_mm512_srlv_epi32(w, shift), low4);
            acc = _mm512_dpbusd_epi32(acc, u, two_dwords(a->step[l], 2 * b, 2 * b + 1));
        }
        lq_gsum_add(8, b, acc, halves8_twice(col), a, sum);
    }
}

LQ_GROUP_GEMV(gemv_q4_0_r8, 8, chunk_q4_0_r8)

/* ---- q8_0_r8: 8 block columns of d[8], then pieces l + 4 u of 8 rows x 4
 * bytes (quad l of group 2 b + u); the int8 quants plus 128 are unsigned. */

enum { Q8_0_R8_COL = 8 * 34 };

AVX512 INLINE void chunk_q8_0_r8(const uint8_t *group, int64_t chunk, const lq_gact *a,
                                 __m512 *sum) {
    const uint8_t *first = group + chunk * 8 * Q8_0_R8_COL;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
#pragma GCC unroll 8
    for (int b = 0; b < 8; b++) {
        const uint8_t *col = first + b * Q8_0_R8_COL;
        __m512i acc = _mm512_sub_epi32(_mm512_setzero_si512(), lq_gp_bias(8, b, a, 7));
        for (int l = 0; l < 4; l++) {
            const uint8_t *q = col + 16 + 32 * l;
            const __m512i u = _mm512_xor_si512(two_pieces(q, q + 128), flip);
            acc = _mm512_dpbusd_epi32(acc, u, two_dwords(a->step[l], 2 * b, 2 * b + 1));
        }
        lq_gsum_add(8, b, acc, halves8_twice(col), a, sum);
    }
}

LQ_GROUP_GEMV(gemv_q8_0_r8, 8, chunk_q8_0_r8)

/* ---- mxfp4_r8: q4_0_r8's pieces after 8 E8M0 exponents; the values of
 * the table doubled (the scale halved), plus 128. */

enum { MXFP4_R8_COL = 8 * 17 };

/* 2^(e - 128) as the base decoders compute it (panel_avx512.c) */
AVX512 INLINE __m512 e8m0_scales(__m512i e) {
    __m512 scale = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(e, 23)), _mm512_set1_ps(0.5f));
    scale = _mm512_mask_mov_ps(scale, _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()),
                               _mm512_set1_ps(0x1p-128f));
    return _mm512_mask_mov_ps(scale, _mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(255)),
                              _mm512_set1_ps(0x1p127f));
}

/* 8 rows' nibble pieces of one column against the activations: low nibbles
 * group 2 b, high 2 b + 1, each mapped by `table` (vpshufb) */
AVX512 INLINE __m512i nibble_column8(const uint8_t *quants, int b, __m512i table, const lq_gact *a,
                                     __m512i acc) {
    const __m512i shift = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
    const __m512i low4 = _mm512_set1_epi8(15);
    for (int l = 0; l < 4; l++) {
        const __m512i w = _mm512_broadcast_i64x4(
            _mm256_loadu_si256((const __m256i *)(const void *)(quants + 32 * l)));
        const __m512i u = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srlv_epi32(w, shift), low4));
        acc = _mm512_dpbusd_epi32(acc, u, two_dwords(a->step[l], 2 * b, 2 * b + 1));
    }
    return acc;
}

AVX512 INLINE void chunk_mxfp4_r8(const uint8_t *group, int64_t chunk, const lq_gact *a,
                                  __m512 *sum) {
    const uint8_t *first = group + chunk * 8 * MXFP4_R8_COL;
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(
        (char)128, (char)129, (char)130, (char)131, (char)132, (char)134, (char)136, (char)140,
        (char)128, 127, 126, 125, 124, 122, 120, 116));
#pragma GCC unroll 8
    for (int b = 0; b < 8; b++) {
        const uint8_t *col = first + b * MXFP4_R8_COL;
        __m512i acc = _mm512_sub_epi32(_mm512_setzero_si512(), lq_gp_bias(8, b, a, 7));
        acc = nibble_column8(col + 8, b, table, a, acc);
        const __m512i e = _mm512_cvtepu8_epi32(_mm_set1_epi64x((long long)lq_load_u64(col)));
        lq_gsum_add(8, b, acc, e8m0_scales(e), a, sum);
    }
}

LQ_GROUP_GEMV(gemv_mxfp4_r8, 8, chunk_mxfp4_r8)

/* iq4_nl's values plus 128, in every 128-bit lane */
AVX512 INLINE __m512i iq4nl_unsigned(void) {
    return _mm512_broadcast_i32x4(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129,
                                                (char)141, (char)153, (char)166, (char)181,
                                                (char)197, (char)217, (char)241));
}

/* ---- 4 rows in planes -----------------------------------------------------
 * iq4_nl_r4, q5_0_r4, q6_0_r4, q4_K_r4, q5_K_r4, q6_K_r4 keep, per 32
 * weights (groups g0, g0 + 1), 4 planes of 16 bytes: plane 2 a + c holds
 * the 4 rows' quad a (low nibbles) and a + 2 (high) of group g0 + c. A
 * 64-byte load is the 4 planes, 128-bit lane 2 a + c; both nibbles add
 * into one accumulator (the same group per lane), and two such
 * accumulators fold into a P register. */

AVX512 INLINE __m512i load64(const uint8_t *p) { return _mm512_loadu_si512((const void *)p); }

AVX512 INLINE __m512i planes_dot(__m512i acc, __m512i lo, __m512i hi, const lq_gact *a, int g0) {
    int idx[16];
    for (int lane = 0; lane < 16; lane++) {
        const int plane = lane / 4;
        idx[lane] = 16 * (plane / 2) + g0 + plane % 2;
    }
    const __m512i ix = _mm512_loadu_si512((const void *)idx);
    acc = _mm512_dpbusd_epi32(acc, lo, _mm512_permutex2var_epi32(a->step[0], ix, a->step[1]));
    return _mm512_dpbusd_epi32(acc, hi, _mm512_permutex2var_epi32(a->step[2], ix, a->step[3]));
}

/* the accumulators of groups 4 p, 4 p + 1 (first) and 4 p + 2, 4 p + 3 as
 * P register p (lane 4 j + k: group 4 p + j, row k) */
AVX512 INLINE __m512i fold_planes(__m512i first, __m512i second) {
    return _mm512_add_epi32(_mm512_shuffle_i64x2(first, second, 0x44),
                            _mm512_shuffle_i64x2(first, second, 0xEE));
}

AVX512 INLINE __m512i low_nibbles(__m512i v) { return _mm512_and_si512(v, _mm512_set1_epi8(15)); }
AVX512 INLINE __m512i high_nibbles(__m512i v) {
    return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(15));
}

/* per 128-bit lane shift counts */
AVX512 INLINE __m512i lane_shifts(int s0, int s1, int s2, int s3) {
    return _mm512_setr_epi32(s0, s0, s0, s0, s1, s1, s1, s1, s2, s2, s2, s2, s3, s3, s3, s3);
}

/* 128-bit lane `lane` of v (a variable lane: clang wants the extract's
 * immediate constant) */
AVX512 INLINE __m128i lane128(__m512i v, int lane) {
    return _mm512_castsi512_si128(_mm512_permutexvar_epi64(
        _mm512_setr_epi64(2 * lane, 2 * lane + 1, 0, 0, 0, 0, 0, 0), v));
}

AVX512 INLINE __m512i broadcast16(const uint8_t *p) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* the f16 d[4] of two 4-row columns, lane 4 j + k = row k of column j / 2 */
AVX512 INLINE __m512 column_pair_scales(const uint8_t *c0, const uint8_t *c1) {
    const __m128i both = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)c0),
                                            _mm_loadl_epi64((const __m128i *)(const void *)c1));
    return _mm512_cvtph_ps(_mm256_permute4x64_epi64(_mm256_castsi128_si256(both), 0x50));
}

/* the f16 d[4] at p in every 4 lanes: lane 4 j + k = row k */
AVX512 INLINE __m512 row_scales4(const uint8_t *p) {
    return _mm512_cvtph_ps(_mm256_set1_epi64x((long long)lq_load_u64(p)));
}

typedef enum legacy_r4 { IQ4_NL_R4, Q5_0_R4, Q6_0_R4 } legacy_r4;

/* one column's quants as unsigned levels (lo: quads a, hi: quads a + 2) */
AVX512 INLINE void legacy_r4_quants(const uint8_t *col, legacy_r4 kind, __m512i *lo, __m512i *hi) {
    const int quants = kind == IQ4_NL_R4 ? 8 : kind == Q5_0_R4 ? 24 : 40;
    const __m512i v = load64(col + quants);
    *lo = low_nibbles(v);
    *hi = high_nibbles(v);
    if (kind == IQ4_NL_R4) {
        *lo = _mm512_shuffle_epi8(iq4nl_unsigned(), *lo);
        *hi = _mm512_shuffle_epi8(iq4nl_unsigned(), *hi);
    } else if (kind == Q5_0_R4) {
        /* plane 2 a + c: bit 2 a + c of each byte (+ 4 for the high nibble) */
        const __m512i x = _mm512_srlv_epi32(broadcast16(col + 8), lane_shifts(0, 1, 2, 3));
        const __m512i bit4 = _mm512_set1_epi8(0x10);
        *lo = _mm512_or_si512(*lo, _mm512_and_si512(_mm512_slli_epi32(x, 4), bit4));
        *hi = _mm512_or_si512(*hi, _mm512_and_si512(x, bit4));
    } else {
        /* plane 2 a + c: bits 2 a (+ 4) of the c-th 16 high-bit bytes */
        const __m512i qh = _mm512_broadcast_i64x4(
            _mm256_loadu_si256((const __m256i *)(const void *)(col + 8)));
        const __m512i x = _mm512_srlv_epi32(qh, lane_shifts(0, 0, 2, 2));
        const __m512i bits = _mm512_set1_epi8(0x30);
        *lo = _mm512_or_si512(*lo, _mm512_and_si512(_mm512_slli_epi32(x, 4), bits));
        *hi = _mm512_or_si512(*hi, _mm512_and_si512(x, bits));
    }
}

AVX512 INLINE void chunk_legacy_r4(const uint8_t *group, int64_t chunk, const lq_gact *a,
                                   __m512 *sum, legacy_r4 kind) {
    const int col_bytes = kind == IQ4_NL_R4 ? 4 * 18 : kind == Q5_0_R4 ? 4 * 22 : 4 * 26;
    const int log2_bias = kind == IQ4_NL_R4 ? 7 : kind == Q5_0_R4 ? 4 : 5;
    const uint8_t *first = group + chunk * 8 * col_bytes;
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        __m512i acc[2];
        for (int h = 0; h < 2; h++) {
            __m512i lo, hi;
            legacy_r4_quants(first + (2 * p + h) * col_bytes, kind, &lo, &hi);
            acc[h] = planes_dot(_mm512_setzero_si512(), lo, hi, a, 4 * p + 2 * h);
        }
        const __m512i exact = _mm512_sub_epi32(fold_planes(acc[0], acc[1]), lq_gp_bias(4, p, a, log2_bias));
        lq_gsum_add(4, p, exact, column_pair_scales(first + 2 * p * col_bytes, first + (2 * p + 1) * col_bytes),
                    a, sum);
    }
}

AVX512 INLINE void chunk_iq4_nl_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    chunk_legacy_r4(group, chunk, a, sum, IQ4_NL_R4);
}
AVX512 INLINE void chunk_q5_0_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    chunk_legacy_r4(group, chunk, a, sum, Q5_0_R4);
}
AVX512 INLINE void chunk_q6_0_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    chunk_legacy_r4(group, chunk, a, sum, Q6_0_R4);
}

LQ_GROUP_GEMV(gemv_iq4_nl_r4, 4, chunk_iq4_nl_r4)
LQ_GROUP_GEMV(gemv_q5_0_r4, 4, chunk_q5_0_r4)
LQ_GROUP_GEMV(gemv_q6_0_r4, 4, chunk_q6_0_r4)

/* Group decoders of the 4-row plane types: per column b the signed levels
 * lo[b] (quads a = 0, 1 in 128-bit lanes 2 a + c) and hi[b] (quads 2, 3)
 * of groups 2 b + c. One permute per (b, c) makes the register of group
 * 2 b + c (lane 4 s + k: quad s of row k), a 16 x 16 transpose makes
 * register 4 s + k: step s of row k, in lane order. */
AVX512 INLINE void store_planes4(const __m512i lo[8], const __m512i hi[8], lq_panel_chunk *out,
                                 int64_t out_stride) {
    __m512i by_group[16], by_row[16];
    for (int b = 0; b < 8; b++)
        for (int c = 0; c < 2; c++) {
            int idx[16];
            for (int lane = 0; lane < 16; lane++) {
                const int s = lane / 4, k = lane % 4;
                idx[lane] = 16 * (s / 2) + 4 * (2 * (s % 2) + c) + k;
            }
            by_group[2 * b + c] = _mm512_permutex2var_epi32(lo[b], _mm512_loadu_si512((const void *)idx), hi[b]);
        }
    lq_transpose16(by_group, by_row);
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < 4; k++)
            _mm512_store_si512((void *)(out[k * out_stride].level + 64 * s), by_row[4 * s + k]);
}

/* the f16 d[4] at the start of 8 columns: row k's 8 scales, each twice */
AVX512 INLINE void store_column_scales4(const uint8_t *first, int col_bytes, lq_panel_chunk *out,
                                        int64_t out_stride) {
    for (int k = 0; k < 4; k++) {
        const uint8_t *d = first + 2 * k;
        const __m128i h = _mm_setr_epi16(
            (short)lq_load_u16(d), (short)lq_load_u16(d + col_bytes), (short)lq_load_u16(d + 2 * col_bytes),
            (short)lq_load_u16(d + 3 * col_bytes), (short)lq_load_u16(d + 4 * col_bytes),
            (short)lq_load_u16(d + 5 * col_bytes), (short)lq_load_u16(d + 6 * col_bytes),
            (short)lq_load_u16(d + 7 * col_bytes));
        const __m512 eight = _mm512_castps256_ps512(_mm256_cvtph_ps(h));
        store_scales(&out[k * out_stride],
                     _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), eight));
    }
}

AVX512 INLINE void group_legacy_r4(const uint8_t *group, int64_t chunk, lq_panel_chunk *out,
                                   int64_t out_stride, legacy_r4 kind) {
    const int col_bytes = kind == IQ4_NL_R4 ? 4 * 18 : kind == Q5_0_R4 ? 4 * 22 : 4 * 26;
    const uint8_t *first = group + chunk * 8 * col_bytes;
    /* unsigned levels back to the signed ones: minus the bias, or the table
     * minus 128 */
    const __m512i bias = _mm512_set1_epi8((char)(kind == IQ4_NL_R4 ? 0x80 : kind == Q5_0_R4 ? 16 : 32));
    __m512i lo[8], hi[8];
    for (int b = 0; b < 8; b++) {
        legacy_r4_quants(first + b * col_bytes, kind, &lo[b], &hi[b]);
        lo[b] = _mm512_sub_epi8(lo[b], bias);
        hi[b] = _mm512_sub_epi8(hi[b], bias);
    }
    store_planes4(lo, hi, out, out_stride);
    store_column_scales4(first, col_bytes, out, out_stride);
}

AVX512 static void group_iq4_nl_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                   lq_panel_chunk *out, int64_t out_stride) {
    group_legacy_r4(group, chunk, out, out_stride, IQ4_NL_R4);
    (void)ncols;
}
AVX512 static void group_q5_0_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                 lq_panel_chunk *out, int64_t out_stride) {
    group_legacy_r4(group, chunk, out, out_stride, Q5_0_R4);
    (void)ncols;
}
AVX512 static void group_q6_0_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                 lq_panel_chunk *out, int64_t out_stride) {
    group_legacy_r4(group, chunk, out, out_stride, Q6_0_R4);
    (void)ncols;
}

/* ---- q4_K_r4 / q5_K_r4: d[4], dmin[4], scales_h[16], scales_l[32], (q5:
 * qh[128]), qs[512]: per 64 weights f the planes of groups 4 f, 4 f + 1,
 * then of 4 f + 2, 4 f + 3; q5's fifth bits: plane e + 2 f of 16 bytes,
 * bit 2 a + 4 c of each byte for the low nibble, the next for the high. */

/* scales and mins (6 bits) of the 8 sub-blocks s of each row: byte 4 s + k */
AVX512 INLINE void k4_r4_scale_bytes(const uint8_t *w, __m256i *sc, __m256i *mn) {
    const __m256i sl = _mm256_loadu_si256((const __m256i *)(const void *)(w + 32));
    const __m256i sh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(w + 16)));
    const __m256i low4 = _mm256_set1_epi8(15), two = _mm256_set1_epi8(3);
    const __m256i top_sc = _mm256_and_si256(_mm256_srlv_epi32(sh, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), two);
    const __m256i top_mn = _mm256_and_si256(_mm256_srlv_epi32(sh, _mm256_setr_epi32(2, 2, 2, 2, 6, 6, 6, 6)), two);
    *sc = _mm256_or_si256(_mm256_and_si256(sl, low4), _mm256_slli_epi16(top_sc, 4));
    *mn = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(sl, 4), low4), _mm256_slli_epi16(top_mn, 4));
}

/* sub-block bytes (4 s + k) as P register p: lane 4 j + k = sub-block
 * 2 p + j / 2 of row k */
AVX512 INLINE __m512 k4_r4_values(__m256i bytes, int p) {
    const __m512i v = _mm512_cvtepu8_epi32(p < 2 ? _mm256_castsi256_si128(bytes)
                                                 : _mm256_extracti128_si256(bytes, 1));
    int idx[16];
    for (int lane = 0; lane < 16; lane++)
        idx[lane] = 4 * (2 * (p % 2) + lane / 8) + lane % 4;
    return _mm512_cvtepi32_ps(_mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)idx), v));
}

AVX512 INLINE void chunk_k4_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum,
                               bool fifth) {
    const uint8_t *w = group + chunk * 4 * (fifth ? 176 : 144);
    const uint8_t *qs = w + (fifth ? 192 : 64);
    __m256i sc, mn;
    k4_r4_scale_bytes(w, &sc, &mn);
    const __m512 d = row_scales4(w), dmin = row_scales4(w + 8);
    const __m512 neg_dmin = _mm512_sub_ps(_mm512_setzero_ps(), dmin);
#pragma GCC unroll 4
    for (int f = 0; f < 4; f++) {
        __m512i acc[2];
        for (int e = 0; e < 2; e++) {
            const __m512i v = load64(qs + 128 * f + 64 * e);
            __m512i lo = low_nibbles(v), hi = high_nibbles(v);
            if (fifth) {
                const __m512i x = _mm512_srlv_epi32(broadcast16(w + 64 + 16 * (e + 2 * f)),
                                                    lane_shifts(0, 4, 2, 6));
                const __m512i bit4 = _mm512_set1_epi8(0x10);
                lo = _mm512_or_si512(lo, _mm512_and_si512(_mm512_slli_epi32(x, 4), bit4));
                hi = _mm512_or_si512(hi, _mm512_and_si512(_mm512_slli_epi32(x, 3), bit4));
            }
            acc[e] = planes_dot(_mm512_setzero_si512(), lo, hi, a, 4 * f + 2 * e);
        }
        lq_gsum_add(4, f, fold_planes(acc[0], acc[1]), _mm512_mul_ps(d, k4_r4_values(sc, f)), a, sum);
        lq_gsum_add_offset(4, f, _mm512_mul_ps(neg_dmin, k4_r4_values(mn, f)), a, sum);
    }
}

AVX512 INLINE void chunk_q4_K_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    chunk_k4_r4(group, chunk, a, sum, false);
}
AVX512 INLINE void chunk_q5_K_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    chunk_k4_r4(group, chunk, a, sum, true);
}

LQ_GROUP_GEMV(gemv_q4_K_r4, 4, chunk_q4_K_r4)
LQ_GROUP_GEMV(gemv_q5_K_r4, 4, chunk_q5_K_r4)

/* ---- q6_K_r4: d[4], scales[64] (group g of row k: byte 4 g + k, int8),
 * qh[256], ql[512]: ql's 64 bytes b hold the planes of groups 2 b, 2 b + 1;
 * their two high bits: qh planes 2 b + c, bits 4 a (low nibble), 4 a + 2. */

AVX512 INLINE void chunk_q6_K_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    const uint8_t *w = group + chunk * 4 * 210;
    const __m512 d = row_scales4(w);
    const __m512i bits = _mm512_set1_epi8(0x30);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        __m512i acc[2];
        for (int h = 0; h < 2; h++) {
            const int b = 2 * p + h;
            const __m512i v = load64(w + 328 + 64 * b);
            const __m512i qh = _mm512_broadcast_i64x4(
                _mm256_loadu_si256((const __m256i *)(const void *)(w + 72 + 32 * b)));
            const __m512i x = _mm512_srlv_epi32(qh, lane_shifts(0, 0, 4, 4));
            const __m512i lo = _mm512_or_si512(low_nibbles(v), _mm512_and_si512(_mm512_slli_epi32(x, 4), bits));
            const __m512i hi = _mm512_or_si512(high_nibbles(v), _mm512_and_si512(_mm512_slli_epi32(x, 2), bits));
            acc[h] = planes_dot(_mm512_setzero_si512(), lo, hi, a, 2 * b);
        }
        const __m512i exact = _mm512_sub_epi32(fold_planes(acc[0], acc[1]), lq_gp_bias(4, p, a, 5));
        const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(w + 8 + 16 * p)));
        lq_gsum_add(4, p, exact, _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc)), a, sum);
    }
}

LQ_GROUP_GEMV(gemv_q6_K_r4, 4, chunk_q6_K_r4)

/* ---- q2_K_r4 / q3_K_r4: 2-bit quants in planes c + 2 e + 4 f + 8 h: the
 * 64 bytes p = f + 2 h are P register p as they lie (128-bit lane j =
 * group 4 p + j), quad s at bits 2 s; q3_K_r4's third bit in hmask plane
 * e + 2 p, bit s + 4 c. */

AVX512 INLINE __m512i two_bit_dot(__m512i q, __m512i hm, bool third, int p, const lq_gact *a) {
    __m512i acc = _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        __m512i u = _mm512_and_si512(_mm512_srli_epi16(q, (unsigned)(2 * s)), _mm512_set1_epi8(3));
        if (third) {
            const __m512i h = _mm512_srli_epi16(hm, (unsigned)s);
            u = _mm512_or_si512(u, _mm512_and_si512(_mm512_slli_epi16(h, 2), _mm512_set1_epi8(4)));
        }
        acc = _mm512_dpbusd_epi32(acc, u, lq_gp_spread(4, p, a->step[s]));
    }
    return acc;
}

AVX512 INLINE void chunk_q2_K_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    const uint8_t *w = group + chunk * 4 * 84;
    const __m512 d = row_scales4(w), dmin = row_scales4(w + 8);
    const __m512 neg_dmin = _mm512_sub_ps(_mm512_setzero_ps(), dmin);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        const __m512i exact = two_bit_dot(load64(w + 80 + 64 * p), _mm512_setzero_si512(), false, p, a);
        const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(w + 16 + 16 * p)));
        lq_gsum_add(4, p, exact, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(15)))),
                    a, sum);
        lq_gsum_add_offset(4, p, _mm512_mul_ps(neg_dmin, _mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4))), a, sum);
    }
}

LQ_GROUP_GEMV(gemv_q2_K_r4, 4, chunk_q2_K_r4)

/* q3_K_r4: d[4], scales_h[16], scales_l[32], hmask[128], qs[256]; scale g
 * of row k (byte 4 g + k of the result): nibble g / 8 of scales_l byte
 * 4 (g % 8) + k, bits 2 (g / 4) of scales_h byte 4 (g % 4) + k, minus 32 */
AVX512 INLINE __m512i q3_K_r4_scale_bytes(const uint8_t *w) {
    const __m512i sl = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)(w + 24)));
    const __m512i low = _mm512_and_si512(_mm512_srlv_epi32(sl, lane_shifts(0, 0, 4, 4)), _mm512_set1_epi8(15));
    const __m512i high = _mm512_and_si512(_mm512_srlv_epi32(broadcast16(w + 8), lane_shifts(0, 2, 4, 6)),
                                          _mm512_set1_epi8(3));
    return _mm512_or_si512(low, _mm512_slli_epi16(high, 4));
}

AVX512 INLINE void chunk_q3_K_r4(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    const uint8_t *w = group + chunk * 4 * 110;
    const __m512 d = row_scales4(w);
    const __m512i scales = q3_K_r4_scale_bytes(w);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        const __m512i hm = _mm512_shuffle_i64x2(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 56 + 32 * p))),
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 56 + 32 * p))),
            0x50);
        const __m512i hm_c = _mm512_srlv_epi32(hm, lane_shifts(0, 4, 0, 4));
        __m512i exact = two_bit_dot(load64(w + 184 + 64 * p), hm_c, true, p, a);
        exact = _mm512_sub_epi32(exact, lq_gp_bias(4, p, a, 2));
        const __m128i bytes = lane128(scales, p);
        const __m512i sc = _mm512_sub_epi32(_mm512_cvtepu8_epi32(bytes), _mm512_set1_epi32(32));
        lq_gsum_add(4, p, exact, _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc)), a, sum);
    }
}

LQ_GROUP_GEMV(gemv_q3_K_r4, 4, chunk_q3_K_r4)

/* ---- iq4_xs_r8: d[8], scales_h[16], scales_l[32], qs[1024]: sub-block t's
 * 128 bytes, plane b + 2 c of 32 bytes (8 rows): quad 2 b (low nibbles) and
 * 2 b + 1 (high) of group 2 t + c. Sub-block t is P register t. */

/* 6-bit scales of sub-block t, row k, at byte 8 t + k: nibble t / 4 of
 * scales_l byte 8 (t % 4) + k, bits 2 (t / 2) of scales_h byte
 * 8 (t % 2) + k */
AVX512 INLINE __m512i iq4_xs_r8_scale_bytes(const uint8_t *w) {
    const __m512i sl = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)(w + 32)));
    const __m512i low = _mm512_and_si512(_mm512_srlv_epi32(sl, lane_shifts(0, 0, 4, 4)), _mm512_set1_epi8(15));
    const __m512i high = _mm512_and_si512(_mm512_srlv_epi32(broadcast16(w + 16), lane_shifts(0, 2, 4, 6)),
                                          _mm512_set1_epi8(3));
    return _mm512_or_si512(low, _mm512_slli_epi16(high, 4));
}

AVX512 INLINE void chunk_iq4_xs_r8(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    const uint8_t *w = group + chunk * 8 * 136;
    const __m512 d = halves8_twice(w);
    const __m512i scales = iq4_xs_r8_scale_bytes(w);
    const __m512i table = iq4nl_unsigned();
#pragma GCC unroll 8
    for (int t = 0; t < 8; t++) {
        __m512i acc = _mm512_sub_epi32(_mm512_setzero_si512(), lq_gp_bias(8, t, a, 7));
        for (int b = 0; b < 2; b++) {
            const uint8_t *q = w + 64 + 128 * t + 32 * b;
            const __m512i v = two_pieces(q, q + 64);
            acc = _mm512_dpbusd_epi32(acc, _mm512_shuffle_epi8(table, low_nibbles(v)),
                                      two_dwords(a->step[2 * b], 2 * t, 2 * t + 1));
            acc = _mm512_dpbusd_epi32(acc, _mm512_shuffle_epi8(table, high_nibbles(v)),
                                      two_dwords(a->step[2 * b + 1], 2 * t, 2 * t + 1));
        }
        /* row k's byte 8 t + k in lanes k and 8 + k */
        const __m512i pair = _mm512_cvtepu8_epi32(lane128(scales, t / 2));
        const int base = 8 * (t % 2);
        const __m512i sc = _mm512_permutexvar_epi32(
            _mm512_setr_epi32(base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7,
                              base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7),
            pair);
        lq_gsum_add(8, t, acc, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(sc, _mm512_set1_epi32(32)))),
                    a, sum);
    }
}

LQ_GROUP_GEMV(gemv_iq4_xs_r8, 8, chunk_iq4_xs_r8)

/* ---- q8_k_r8 / q8_k_r16: per 256 weights d[N] (f16), then quad c of row k
 * at 4 (N c + k): quad s of group g is the N rows' piece 4 g + s. q8_k_r8's
 * quants are int8 (plus 128: unsigned), q8_k_r16's already stored plus 128.
 * The levels are q8_K's (interleaved_q8k.c unpacks to it). */

enum { Q8_K_R8_BLOCK = 8 * 258, Q8_K_R16_BLOCK = 16 * 258 };

AVX512 INLINE void chunk_q8_k_r8(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    const uint8_t *w = group + chunk * Q8_K_R8_BLOCK;
    const __m512 d = halves8_twice(w);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
#pragma GCC unroll 8
    for (int p = 0; p < 8; p++) {
        __m512i acc = _mm512_sub_epi32(_mm512_setzero_si512(), lq_gp_bias(8, p, a, 7));
        for (int s = 0; s < 4; s++) {
            const uint8_t *q = w + 16 + 32 * (8 * p + s);
            const __m512i u = _mm512_xor_si512(two_pieces(q, q + 128), flip);
            acc = _mm512_dpbusd_epi32(acc, u, two_dwords(a->step[s], 2 * p, 2 * p + 1));
        }
        lq_gsum_add(8, p, acc, d, a, sum);
    }
}

AVX512 INLINE void chunk_q8_k_r16(const uint8_t *group, int64_t chunk, const lq_gact *a, __m512 *sum) {
    const uint8_t *w = group + chunk * Q8_K_R16_BLOCK;
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)w));
    /* each activation dword is broadcast to all 16 rows: from memory, a
     * load rather than a permute */
    _Alignas(64) int32_t act[4][16], bias[16];
    for (int s = 0; s < 4; s++)
        _mm512_store_si512((void *)act[s], a->step[s]);
    _mm512_store_si512((void *)bias, _mm512_slli_epi32(a->sum, 7));
#pragma GCC unroll 16
    for (int p = 0; p < 16; p++) {
        __m512i acc = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_set1_epi32(bias[p]));
        for (int s = 0; s < 4; s++)
            acc = _mm512_dpbusd_epi32(acc, load64(w + 32 + 64 * (4 * p + s)),
                                      _mm512_set1_epi32(act[s][p]));
        lq_gsum_add(16, p, acc, d, a, sum);
    }
}

LQ_GROUP_GEMV(gemv_q8_k_r8, 8, chunk_q8_k_r8)
LQ_GROUP_GEMV(gemv_q8_k_r16, 16, chunk_q8_k_r16)

AVX512 INLINE void store_row_scale(lq_panel_chunk *out, const uint8_t *half) {
    _mm512_store_ps(out->scale, _mm512_set1_ps(lq_half_to_float(lq_load_u16(half))));
    _mm512_store_ps(out->offset, _mm512_setzero_ps());
}

AVX512 static void group_q8_k_r16(const uint8_t *group, int64_t ncols, int64_t chunk,
                                  lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + chunk * Q8_K_R16_BLOCK;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int s = 0; s < 4; s++) {
        __m512i in[16], rows[16];
        for (int g = 0; g < 16; g++)
            in[g] = _mm512_xor_si512(load64(w + 32 + 64 * (4 * g + s)), flip);
        lq_transpose16(in, rows);
        for (int k = 0; k < 16; k++)
            _mm512_store_si512((void *)(out[k * out_stride].level + 64 * s), rows[k]);
    }
    for (int k = 0; k < 16; k++)
        store_row_scale(&out[k * out_stride], w + 2 * k);
    (void)ncols;
}

AVX512 static void group_q8_k_r8(const uint8_t *group, int64_t ncols, int64_t chunk,
                                 lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + chunk * Q8_K_R8_BLOCK;
    for (int s = 0; s < 4; s++) {
        /* register i: groups 2 i (lanes 0-7) and 2 i + 1 (8-15), 8 rows each */
        __m512 pairs[8];
        for (int i = 0; i < 8; i++) {
            const uint8_t *q = w + 16 + 32 * (8 * i + s);
            pairs[i] = _mm512_castsi512_ps(two_pieces(q, q + 128));
        }
        for (int k = 0; k < 8; k++)
            _mm512_store_ps((float *)(void *)(out[k * out_stride].level + 64 * s),
                            lq_gp_row(8, pairs, k));
    }
    for (int k = 0; k < 8; k++)
        store_row_scale(&out[k * out_stride], w + 2 * k);
    (void)ncols;
}

const lq_panel_simd_decoder lq_panel_decoders_avx512_groups[] = {
    {LQ_TYPE_IQ4_NL_R4, NULL, group_iq4_nl_r4, NULL},
    {LQ_TYPE_Q5_0_R4, NULL, group_q5_0_r4, NULL},
    {LQ_TYPE_Q6_0_R4, NULL, group_q6_0_r4, NULL},
    {LQ_TYPE_Q8_K_R8, NULL, group_q8_k_r8, NULL},
    {LQ_TYPE_Q8_K_R16, NULL, group_q8_k_r16, NULL},
};
const int lq_panel_decoders_avx512_groups_count =
    (int)(sizeof lq_panel_decoders_avx512_groups / sizeof lq_panel_decoders_avx512_groups[0]);

/* ---- lookup ---------------------------------------------------------------- */

typedef struct fused_gemv {
    int type;
    lq_group_gemv_fn gemv;
} fused_gemv;

static const fused_gemv fused[] = {
    {LQ_TYPE_Q4_0_R8, gemv_q4_0_r8},     {LQ_TYPE_Q8_0_R8, gemv_q8_0_r8},
    {LQ_TYPE_MXFP4_R8, gemv_mxfp4_r8},   {LQ_TYPE_IQ4_NL_R4, gemv_iq4_nl_r4},
    {LQ_TYPE_Q5_0_R4, gemv_q5_0_r4},     {LQ_TYPE_Q6_0_R4, gemv_q6_0_r4},
    {LQ_TYPE_Q4_K_R4, gemv_q4_K_r4},     {LQ_TYPE_Q5_K_R4, gemv_q5_K_r4},
    {LQ_TYPE_Q6_K_R4, gemv_q6_K_r4},     {LQ_TYPE_Q2_K_R4, gemv_q2_K_r4},
    {LQ_TYPE_Q3_K_R4, gemv_q3_K_r4},     {LQ_TYPE_IQ4_XS_R8, gemv_iq4_xs_r8},
    {LQ_TYPE_Q8_K_R8, gemv_q8_k_r8},     {LQ_TYPE_Q8_K_R16, gemv_q8_k_r16},
};

lq_group_gemv_fn lq_group_gemv_fused(int type, lq_simd_level level) {
    if (level != LQ_SIMD_AVX512)
        return NULL;
    for (size_t i = 0; i < sizeof fused / sizeof fused[0]; i++)
        if (fused[i].type == type)
            return fused[i].gemv;
    return NULL;
}

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx512_groups[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx512_groups_count = 0;

lq_group_gemv_fn lq_group_gemv_fused(int type, lq_simd_level level) {
    (void)type, (void)level;
    return NULL;
}

#endif
