/*
 * AVX2 group decoders of the row-interleaved legacy and k-quant types
 * (q4_0_r8, q8_0_r8, mxfp4_r8, iq4_nl_r4, q5_0_r4, q6_0_r4, iq4_xs_r8,
 * q2_K_r4 .. q6_K_r4): each full chunk of every row of a group is decoded
 * straight from the interleaved layout (libquant/interleaved_legacy.c,
 * libquant/interleaved_kquants.c) into lane order, with the scalar base
 * decoder's levels, scales and offsets (panel_decode.c, the specification).
 *
 * All these layouts keep 4 consecutive weights of a row (a quad: 4 j ..
 * 4 j + 3 of a block) in 4 consecutive bytes, the 4 (or 8) rows' quads of
 * the same weights side by side: a 16-byte piece holds one quad of 4 rows.
 * A quad is exactly one dword of the lane order (panel.h): step s, 16-group
 * L holds weights 16 L + 4 s ... So for half h and step s of 4 rows, a
 * decoder builds four registers S[m], m = 0..3: S[m] holds the 4 rows' quad
 * of group 8 h + m in its low 128-bit lane and that of group 8 h + m + 4 in
 * its high lane (one pair of 16-byte loads, then the bits of the format
 * extracted in place, as in the base decoders); an in-lane 4 x 4 transpose
 * of dwords gives each row's 32 bytes. Types of 8 rows are two such sets of
 * 4 rows, 16 bytes apart.
 *
 * Scales come per block column (rows side by side too) and are transposed
 * the same way; the float arithmetic is the base AVX2 decoders'.
 */
#include "panel.h"

#if defined(__x86_64__)
#include "common.h"
#include "panel_avx2.h"

/* ---- shared helpers -------------------------------------------------------- */

/* S as above -> half h, step s of rows out[0], out[stride], ... (4 rows) */
AVX2 AVX2_INLINE void store_step4(lq_panel_chunk *out, int64_t stride, int h, int s,
                                  const __m256i S[4]) {
    __m256i row[4];
    lq_transpose4_epi32_avx2(S, row);
    for (int k = 0; k < 4; k++)
        _mm256_store_si256((__m256i *)(void *)(out[k * stride].level + 64 * s + 32 * h), row[k]);
}

AVX2 AVX2_INLINE void sub_each(__m256i S[4], int bias) {
    for (int m = 0; m < 4; m++)
        S[m] = _mm256_sub_epi8(S[m], _mm256_set1_epi8((char)bias));
}

AVX2 AVX2_INLINE void lookup_each(__m256i S[4], __m256i table) {
    for (int m = 0; m < 4; m++)
        S[m] = _mm256_shuffle_epi8(table, S[m]);
}

/* The low and high nibbles of x into lo[m] and hi[m]. */
AVX2 AVX2_INLINE void split_nibbles(__m256i x, __m256i *lo, __m256i *hi) {
    lq_nibbles_avx2(x, lo, hi);
}

/* 4 rows' f16s of 8 block columns (column b at first + b * col, row k's at
 * + 2 k) -> d[k]: row k's 8 values. */
AVX2 AVX2_INLINE void f16_columns(const uint8_t *first, int col, __m256 d[4]) {
    __m256i y[4], t[4];
    for (int j = 0; j < 4; j++) {
        const __m128i lo = _mm_loadl_epi64((const __m128i *)(const void *)(first + j * col));
        const __m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)(first + (j + 4) * col));
        y[j] = _mm256_castps_si256(_mm256_cvtph_ps(_mm_unpacklo_epi64(lo, hi)));
    }
    lq_transpose4_epi32_avx2(y, t);
    for (int k = 0; k < 4; k++)
        d[k] = _mm256_castsi256_ps(t[k]);
}

/* A scale per 32 weights of each of 4 rows, no offsets. */
AVX2 AVX2_INLINE void store_block_scales(lq_panel_chunk *out, int64_t stride, const __m256 d[4]) {
    for (int k = 0; k < 4; k++) {
        lq_store_pairs_avx2(out[k * stride].scale, d[k]);
        lq_store_pairs_avx2(out[k * stride].offset, _mm256_setzero_ps());
    }
}

/* v: dword j holds byte j of 4 rows (value j = 0..7 of each row) -> qword
 * k holds row k's 8 values */
AVX2 AVX2_INLINE __m256i rows_of_bytes(__m256i v) {
    const __m256i in_lane = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                             0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, in_lane),
                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* qword k of q in the low 8 bytes */
AVX2 AVX2_INLINE __m128i row_qword(__m256i q, int k) {
    const __m128i half = k < 2 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
    return k % 2 ? _mm_unpackhi_epi64(half, half) : half;
}

AVX2 AVX2_INLINE __m256 times(float d, __m256i values) {
    return _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(values));
}

AVX2 AVX2_INLINE __m256i load32(const uint8_t *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* ---- 32-weight blocks: q4_0_r8, mxfp4_r8, q8_0_r8 (8 rows) ------------------
 * A block column (8 rows of block b) holds the 8 rows' scales, then pieces
 * of 8 rows x 4 bytes: q4_0_r8 / mxfp4_r8 piece l holds bytes 4 l .. of each
 * row's 16 bytes of nibbles (low: quad l of group 2 b, high: of 2 b + 1);
 * q8_0_r8 piece l + 4 u bytes 16 u + 4 l .. of its 32 (group 2 b + u). */

enum { Q4_0_R8_COL = 8 * 18, MXFP4_R8_COL = 8 * 17, Q8_0_R8_COL = 8 * 34 };

typedef enum nibble_values { BIAS_8, MXFP4_TABLE } nibble_values;

AVX2 AVX2_INLINE void nibble_r8(const uint8_t *group, int64_t chunk, lq_panel_chunk *out,
                                int64_t stride, int col, int quants, nibble_values values) {
    const uint8_t *first = group + chunk * 8 * col;
    /* mxfp4's values doubled (the scale is halved), as panel_avx2_legacy.c */
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12));
    for (int R = 0; R < 2; R++)
        for (int h = 0; h < 2; h++)
            for (int s = 0; s < 4; s++) {
                __m256i S[4];
                for (int b = 0; b < 2; b++) {
                    const uint8_t *p = first + (4 * h + b) * col + quants + 32 * s + 16 * R;
                    split_nibbles(lq_load_pair_avx2(p, p + 2 * col), &S[2 * b], &S[2 * b + 1]);
                }
                if (values == BIAS_8)
                    sub_each(S, 8);
                else
                    lookup_each(S, table);
                store_step4(out + 4 * R * stride, stride, h, s, S);
            }
}

AVX2 static void group_q4_0_r8(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    nibble_r8(group, chunk, out, stride, Q4_0_R8_COL, 16, BIAS_8);
    const uint8_t *first = group + chunk * 8 * Q4_0_R8_COL;
    for (int R = 0; R < 2; R++) {
        __m256 d[4];
        f16_columns(first + 8 * R, Q4_0_R8_COL, d);
        store_block_scales(out + 4 * R * stride, stride, d);
    }
    (void)ncols;
}

AVX2 static void group_mxfp4_r8(const uint8_t *group, int64_t ncols, int64_t chunk,
                                lq_panel_chunk *out, int64_t stride) {
    nibble_r8(group, chunk, out, stride, MXFP4_R8_COL, 8, MXFP4_TABLE);
    const uint8_t *first = group + chunk * 8 * MXFP4_R8_COL;
    for (int R = 0; R < 2; R++) {
        __m256i y[4], t[4];
        for (int j = 0; j < 4; j++) {
            const uint8_t *lo = first + j * MXFP4_R8_COL + 4 * R, *hi = lo + 4 * MXFP4_R8_COL;
            y[j] = _mm256_cvtepu8_epi32(_mm_setr_epi32((int)lq_load_u32(lo), (int)lq_load_u32(hi), 0, 0));
        }
        lq_transpose4_epi32_avx2(y, t);
        __m256 d[4];
        for (int k = 0; k < 4; k++)
            d[k] = lq_e8m0_avx2(t[k]);
        store_block_scales(out + 4 * R * stride, stride, d);
    }
    (void)ncols;
}

AVX2 static void group_q8_0_r8(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    const uint8_t *first = group + chunk * 8 * Q8_0_R8_COL;
    for (int R = 0; R < 2; R++) {
        for (int h = 0; h < 2; h++)
            for (int s = 0; s < 4; s++) {
                __m256i S[4];
                for (int b = 0; b < 2; b++)
                    for (int u = 0; u < 2; u++) {
                        const uint8_t *p = first + (4 * h + b) * Q8_0_R8_COL + 16 + 32 * s + 128 * u + 16 * R;
                        S[2 * b + u] = lq_load_pair_avx2(p, p + 2 * Q8_0_R8_COL);
                    }
                store_step4(out + 4 * R * stride, stride, h, s, S);
            }
        __m256 d[4];
        f16_columns(first + 8 * R, Q8_0_R8_COL, d);
        store_block_scales(out + 4 * R * stride, stride, d);
    }
    (void)ncols;
}

/* ---- 32-weight blocks of 4 rows: iq4_nl_r4, q5_0_r4, q6_0_r4 ----------------
 * A block column holds d[4], the high bits, then 4 planes of 16 bytes: in
 * plane 2 a + c, row k's dword holds quad a (low nibbles) and a + 2 (high)
 * of group 2 b + c. q5_0_r4's fifth bits: 16 bytes, row k's dword, bit
 * 2 a + c (+ 4 for the high nibble); q6_0_r4's two high bits: plane c of 16
 * bytes, row k's dword, bits 2 a (+ 4 for the high nibble). */

typedef enum r4_kind { IQ4_NL_R4, Q5_0_R4, Q6_0_R4 } r4_kind;

AVX2 AVX2_INLINE void legacy_r4(const uint8_t *group, int64_t chunk, lq_panel_chunk *out,
                               int64_t stride, r4_kind kind) {
    const int col = kind == IQ4_NL_R4 ? 4 * 18 : kind == Q5_0_R4 ? 4 * 22 : 4 * 26;
    const int quants = kind == IQ4_NL_R4 ? 8 : kind == Q5_0_R4 ? 24 : 40;
    const uint8_t *first = group + chunk * 8 * col;
    for (int h = 0; h < 2; h++)
        for (int a = 0; a < 2; a++) {
            __m256i lo[4], hi[4];
            for (int b = 0; b < 2; b++) {
                const uint8_t *blk = first + (4 * h + b) * col;
                for (int c = 0; c < 2; c++) {
                    const int m = 2 * b + c;
                    const uint8_t *p = blk + quants + 16 * (2 * a + c);
                    split_nibbles(lq_load_pair_avx2(p, p + 2 * col), &lo[m], &hi[m]);
                    if (kind == Q5_0_R4) {
                        const __m256i qh = lq_load_pair_avx2(blk + 8, blk + 8 + 2 * col);
                        const int bit = 2 * a + c;
                        lo[m] = _mm256_or_si256(lo[m], lq_move_bits_avx2(qh, bit, 4, 0x10));
                        hi[m] = _mm256_or_si256(hi[m], lq_move_bits_avx2(qh, bit + 4, 4, 0x10));
                    } else if (kind == Q6_0_R4) {
                        const uint8_t *q = blk + 8 + 16 * c;
                        const __m256i qh = lq_load_pair_avx2(q, q + 2 * col);
                        lo[m] = _mm256_or_si256(lo[m], lq_move_bits_avx2(qh, 2 * a, 4, 0x30));
                        hi[m] = _mm256_or_si256(hi[m], lq_move_bits_avx2(qh, 2 * a + 4, 4, 0x30));
                    }
                }
            }
            if (kind == IQ4_NL_R4) {
                lookup_each(lo, lq_iq4nl_table_avx2());
                lookup_each(hi, lq_iq4nl_table_avx2());
            } else {
                sub_each(lo, kind == Q5_0_R4 ? 16 : 32);
                sub_each(hi, kind == Q5_0_R4 ? 16 : 32);
            }
            store_step4(out, stride, h, a, lo);
            store_step4(out, stride, h, a + 2, hi);
        }
    __m256 d[4];
    f16_columns(first, col, d);
    store_block_scales(out, stride, d);
}

AVX2 static void group_iq4_nl_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                 lq_panel_chunk *out, int64_t stride) {
    legacy_r4(group, chunk, out, stride, IQ4_NL_R4);
    (void)ncols;
}

AVX2 static void group_q5_0_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    legacy_r4(group, chunk, out, stride, Q5_0_R4);
    (void)ncols;
}

AVX2 static void group_q6_0_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    legacy_r4(group, chunk, out, stride, Q6_0_R4);
    (void)ncols;
}

/* ---- iq4_xs_r8: d[8], scales_h[16], scales_l[32], qs[1024] --------------------
 * Sub-block t's 128 bytes: plane b + 2 c of 32 bytes (8 rows), row k's
 * dword holds quad 2 b (low nibbles) and 2 b + 1 (high) of group 2 t + c.
 * Sub-block t's scale of row k: nibble t / 4 of scales_l byte
 * 8 (t % 4) + k, bits 2 (t / 2) of scales_h byte 8 (t % 2) + k. */

enum { IQ4_XS_R8_BLOCK = 8 * 136 };

AVX2 static void group_iq4_xs_r8(const uint8_t *group, int64_t ncols, int64_t chunk,
                                 lq_panel_chunk *out, int64_t stride) {
    const uint8_t *w = group + chunk * IQ4_XS_R8_BLOCK;
    const __m256i table = lq_iq4nl_table_avx2();
    for (int R = 0; R < 2; R++) {
        lq_panel_chunk *o = out + 4 * R * stride;
        for (int h = 0; h < 2; h++)
            for (int b = 0; b < 2; b++) {
                __m256i lo[4], hi[4];
                for (int t = 0; t < 2; t++)
                    for (int c = 0; c < 2; c++) {
                        const uint8_t *p = w + 64 + 128 * (4 * h + t) + 32 * (b + 2 * c) + 16 * R;
                        split_nibbles(lq_load_pair_avx2(p, p + 256), &lo[2 * t + c], &hi[2 * t + c]);
                    }
                lookup_each(lo, table);
                lookup_each(hi, table);
                store_step4(o, stride, h, 2 * b, lo);
                store_step4(o, stride, h, 2 * b + 1, hi);
            }
        /* dword t of low / high: sub-block t's bytes of rows 4 R .. 4 R + 3 */
        const __m256i low = lq_bits_avx2(
            _mm256_permutevar8x32_epi32(load32(w + 32), _mm256_setr_epi32(R, 2 + R, 4 + R, 6 + R,
                                                                          R, 2 + R, 4 + R, 6 + R)),
            lq_lane_shifts_avx2(0, 4), 15);
        const __m256i sh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(w + 16)));
        const __m256i top = _mm256_and_si256(
            _mm256_srlv_epi32(_mm256_permutevar8x32_epi32(sh, _mm256_setr_epi32(R, 2 + R, R, 2 + R,
                                                                                R, 2 + R, R, 2 + R)),
                              _mm256_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6)),
            _mm256_set1_epi8(3));
        const __m256i ls = rows_of_bytes(_mm256_or_si256(low, _mm256_slli_epi16(top, 4)));
        for (int k = 0; k < 4; k++) {
            const __m256i v = _mm256_sub_epi32(_mm256_cvtepu8_epi32(row_qword(ls, k)), _mm256_set1_epi32(32));
            lq_store_pairs_avx2(o[k * stride].scale, times(lq_half_avx2(w + 2 * (4 * R + k)), v));
            lq_store_pairs_avx2(o[k * stride].offset, _mm256_setzero_ps());
        }
    }
    (void)ncols;
}

/* ---- k-quants of 4 rows ----------------------------------------------------- */

/* q4_K_r4 / q5_K_r4: d[4], dmin[4], scales_h[16], scales_l[32]: scale and min
 * s of row k are the low and high nibbles of scales_l byte 4 s + k; their
 * top 2 bits sit in scales_h byte 4 (s % 4) + k at bits 4 (s / 4) (scale)
 * and 4 (s / 4) + 2 (min). */
AVX2 AVX2_INLINE void k4_r4_scales(const uint8_t *w, lq_panel_chunk *out, int64_t stride) {
    const __m256i sl = load32(w + 32);
    const __m256i sh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(w + 16)));
    const __m256i sc = _mm256_or_si256(_mm256_and_si256(sl, _mm256_set1_epi8(15)),
                                       _mm256_slli_epi16(lq_bits_avx2(sh, lq_lane_shifts_avx2(0, 4), 3), 4));
    const __m256i mn = _mm256_or_si256(lq_bits_avx2(sl, lq_lane_shifts_avx2(4, 4), 15),
                                       _mm256_slli_epi16(lq_bits_avx2(sh, lq_lane_shifts_avx2(2, 6), 3), 4));
    const __m256i scales = rows_of_bytes(sc), mins = rows_of_bytes(mn);
    for (int k = 0; k < 4; k++) {
        lq_store_pairs_avx2(out[k * stride].scale,
                            times(lq_half_avx2(w + 2 * k), _mm256_cvtepu8_epi32(row_qword(scales, k))));
        lq_store_pairs_avx2(out[k * stride].offset,
                            times(-lq_half_avx2(w + 8 + 2 * k), _mm256_cvtepu8_epi32(row_qword(mins, k))));
    }
}

/* 16 scale bytes of each of 4 rows (lo: groups 0-7, dword g = 4 rows) as
 * int32 per row, signed or not */
AVX2 AVX2_INLINE void row_values16(__m256i lo, __m256i hi, int k, bool is_signed, __m256i *v0,
                                   __m256i *v1) {
    const __m128i a = row_qword(rows_of_bytes(lo), k), b = row_qword(rows_of_bytes(hi), k);
    *v0 = is_signed ? _mm256_cvtepi8_epi32(a) : _mm256_cvtepu8_epi32(a);
    *v1 = is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

/* q4_K_r4: d[4], dmin[4], scales_h[16], scales_l[32], qs[512]: per 64
 * weights f, 8 planes of 16 bytes; plane 2 a + c + 4 e of f: row k's dword
 * holds quad a (low nibbles) and a + 2 (high) of group 4 f + 2 e + c.
 * q5_K_r4 puts qh[128] before qs: plane e + 2 f of 16 bytes, row k's dword,
 * the fifth bit of the low nibble at bit 2 a + 4 c, of the high one above. */
AVX2 AVX2_INLINE void k4_r4_levels(const uint8_t *w, lq_panel_chunk *out, int64_t stride,
                                   bool fifth) {
    const uint8_t *qs = w + (fifth ? 192 : 64);
    for (int h = 0; h < 2; h++)
        for (int a = 0; a < 2; a++) {
            __m256i lo[4], hi[4];
            for (int e = 0; e < 2; e++)
                for (int c = 0; c < 2; c++) {
                    const int m = 2 * e + c;
                    const uint8_t *p = qs + 256 * h + 16 * (2 * a + c + 4 * e);
                    split_nibbles(lq_load_pair_avx2(p, p + 128), &lo[m], &hi[m]);
                    if (fifth) {
                        const uint8_t *q = w + 64 + 16 * (e + 4 * h);
                        const __m256i qh = lq_load_pair_avx2(q, q + 32);
                        const int bit = 2 * a + 4 * c;
                        lo[m] = _mm256_or_si256(lo[m], lq_move_bits_avx2(qh, bit, 4, 0x10));
                        hi[m] = _mm256_or_si256(hi[m], lq_move_bits_avx2(qh, bit + 1, 4, 0x10));
                    }
                }
            store_step4(out, stride, h, a, lo);
            store_step4(out, stride, h, a + 2, hi);
        }
}

AVX2 static void group_q4_K_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    const uint8_t *w = group + chunk * 4 * 144;
    k4_r4_levels(w, out, stride, false);
    k4_r4_scales(w, out, stride);
    (void)ncols;
}

AVX2 static void group_q5_K_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    const uint8_t *w = group + chunk * 4 * 176;
    k4_r4_levels(w, out, stride, true);
    k4_r4_scales(w, out, stride);
    (void)ncols;
}

/* q6_K_r4: d[4], scales[64], qh[256], ql[512]. ql plane 2 a + c + 4 e + 8 f
 * + 16 h of 16 bytes: row k's dword holds quad a (low nibbles) and a + 2
 * (high) of group 8 h + 4 f + 2 e + c; their two high bits in qh plane
 * c + 2 e + 4 f + 8 h, bits 4 a (low) and 4 a + 2 (high). Scale g of row k:
 * byte 4 g + k of scales. */
AVX2 static void group_q6_K_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    const uint8_t *w = group + chunk * 4 * 210;
    for (int h = 0; h < 2; h++)
        for (int a = 0; a < 2; a++) {
            __m256i lo[4], hi[4];
            for (int e = 0; e < 2; e++)
                for (int c = 0; c < 2; c++) {
                    const int m = 2 * e + c;
                    const uint8_t *p = w + 328 + 16 * (2 * a + c + 4 * e + 16 * h);
                    const uint8_t *q = w + 72 + 16 * (c + 2 * e + 8 * h);
                    split_nibbles(lq_load_pair_avx2(p, p + 128), &lo[m], &hi[m]);
                    const __m256i qh = lq_load_pair_avx2(q, q + 64);
                    lo[m] = _mm256_or_si256(lo[m], lq_move_bits_avx2(qh, 4 * a, 4, 0x30));
                    hi[m] = _mm256_or_si256(hi[m], lq_move_bits_avx2(qh, 4 * a + 2, 4, 0x30));
                }
            sub_each(lo, 32);
            sub_each(hi, 32);
            store_step4(out, stride, h, a, lo);
            store_step4(out, stride, h, a + 2, hi);
        }
    const __m256i lo = load32(w + 8), hi = load32(w + 40);
    for (int k = 0; k < 4; k++) {
        __m256i v0, v1;
        row_values16(lo, hi, k, true, &v0, &v1);
        const float d = lq_half_avx2(w + 2 * k);
        lq_panel_chunk *o = &out[k * stride];
        _mm256_store_ps(o->scale, times(d, v0));
        _mm256_store_ps(o->scale + 8, times(d, v1));
        _mm256_store_ps(o->offset, _mm256_setzero_ps());
        _mm256_store_ps(o->offset + 8, _mm256_setzero_ps());
    }
    (void)ncols;
}

/* q2_K_r4 / q3_K_r4 quants: plane c + 2 e + 4 f + 8 h of 16 bytes, row k's
 * dword holds quad s of group 8 h + 4 f + 2 e + c at bits 2 s. q3_K_r4's
 * third bit: hmask plane e + 2 f + 4 h, bit s + 4 c. */
AVX2 AVX2_INLINE void two_bit_r4(const uint8_t *qs, const uint8_t *hmask, lq_panel_chunk *out,
                                 int64_t stride) {
    for (int h = 0; h < 2; h++) {
        __m256i q[4], hm[4];
        for (int m = 0; m < 4; m++) {
            const int e = m / 2;
            const uint8_t *p = qs + 16 * (m + 8 * h);
            q[m] = lq_load_pair_avx2(p, p + 64);
            if (hmask) {
                const uint8_t *b = hmask + 16 * (e + 4 * h);
                hm[m] = lq_load_pair_avx2(b, b + 32);
            }
        }
        for (int s = 0; s < 4; s++) {
            __m256i S[4];
            for (int m = 0; m < 4; m++) {
                S[m] = lq_move_bits_avx2(q[m], 2 * s, 0, 3);
                if (hmask)
                    S[m] = _mm256_sub_epi8(_mm256_or_si256(S[m], lq_move_bits_avx2(hm[m], s + 4 * (m % 2), 2, 4)),
                                           _mm256_set1_epi8(4));
            }
            store_step4(out, stride, h, s, S);
        }
    }
}

/* q2_K_r4: d[4], dmin[4], scales[64] (group g of row k: byte 4 g + k, the
 * scale in its low nibble, the min in the high), qs[256] */
AVX2 static void group_q2_K_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    const uint8_t *w = group + chunk * 4 * 84;
    two_bit_r4(w + 80, NULL, out, stride);
    const __m256i lo = load32(w + 16), hi = load32(w + 48);
    for (int k = 0; k < 4; k++) {
        __m256i v[2];
        row_values16(lo, hi, k, false, &v[0], &v[1]);
        const float d = lq_half_avx2(w + 2 * k), dmin = -lq_half_avx2(w + 8 + 2 * k);
        lq_panel_chunk *o = &out[k * stride];
        for (int i = 0; i < 2; i++) {
            _mm256_store_ps(o->scale + 8 * i, times(d, _mm256_and_si256(v[i], _mm256_set1_epi32(15))));
            _mm256_store_ps(o->offset + 8 * i, times(dmin, _mm256_srli_epi32(v[i], 4)));
        }
    }
    (void)ncols;
}

/* q3_K_r4: d[4], scales_h[16], scales_l[32], hmask[128], qs[256]; scale g
 * of row k: nibble g / 8 of scales_l byte 4 (g % 8) + k and bits 2 (g / 4)
 * of scales_h byte 4 (g % 4) + k, minus 32 */
AVX2 static void group_q3_K_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                               lq_panel_chunk *out, int64_t stride) {
    const uint8_t *w = group + chunk * 4 * 110;
    two_bit_r4(w + 184, w + 56, out, stride);
    const __m256i sl = load32(w + 24);
    const __m256i sh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(w + 8)));
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(sl, _mm256_set1_epi8(15)),
                                       _mm256_slli_epi16(lq_bits_avx2(sh, lq_lane_shifts_avx2(0, 2), 3), 4));
    const __m256i hi = _mm256_or_si256(lq_bits_avx2(sl, lq_lane_shifts_avx2(4, 4), 15),
                                       _mm256_slli_epi16(lq_bits_avx2(sh, lq_lane_shifts_avx2(4, 6), 3), 4));
    const __m256i bias = _mm256_set1_epi32(32);
    for (int k = 0; k < 4; k++) {
        __m256i v0, v1;
        row_values16(lo, hi, k, false, &v0, &v1);
        const float d = lq_half_avx2(w + 2 * k);
        lq_panel_chunk *o = &out[k * stride];
        _mm256_store_ps(o->scale, times(d, _mm256_sub_epi32(v0, bias)));
        _mm256_store_ps(o->scale + 8, times(d, _mm256_sub_epi32(v1, bias)));
        _mm256_store_ps(o->offset, _mm256_setzero_ps());
        _mm256_store_ps(o->offset + 8, _mm256_setzero_ps());
    }
    (void)ncols;
}

const lq_panel_simd_decoder lq_panel_decoders_avx2_groups[] = {
    {LQ_TYPE_Q4_0_R8, NULL, group_q4_0_r8, NULL},
    {LQ_TYPE_Q8_0_R8, NULL, group_q8_0_r8, NULL},
    {LQ_TYPE_MXFP4_R8, NULL, group_mxfp4_r8, NULL},
    {LQ_TYPE_IQ4_NL_R4, NULL, group_iq4_nl_r4, NULL},
    {LQ_TYPE_Q5_0_R4, NULL, group_q5_0_r4, NULL},
    {LQ_TYPE_Q6_0_R4, NULL, group_q6_0_r4, NULL},
    {LQ_TYPE_IQ4_XS_R8, NULL, group_iq4_xs_r8, NULL},
    {LQ_TYPE_Q2_K_R4, NULL, group_q2_K_r4, NULL},
    {LQ_TYPE_Q3_K_R4, NULL, group_q3_K_r4, NULL},
    {LQ_TYPE_Q4_K_R4, NULL, group_q4_K_r4, NULL},
    {LQ_TYPE_Q5_K_R4, NULL, group_q5_K_r4, NULL},
    {LQ_TYPE_Q6_K_R4, NULL, group_q6_K_r4, NULL},
};
const int lq_panel_decoders_avx2_groups_count =
    (int)(sizeof lq_panel_decoders_avx2_groups / sizeof lq_panel_decoders_avx2_groups[0]);

#else /* not x86-64 */

const lq_panel_simd_decoder lq_panel_decoders_avx2_groups[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx2_groups_count = 0;

#endif
