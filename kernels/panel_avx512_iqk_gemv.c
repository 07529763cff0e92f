/*
 * One-vector products (n = 1) of the IQK family's interleaved forms on
 * AVX-512 with the decoding fused in (iq2_k_r4 .. iq5_k_r4, iq4_ks_r4,
 * iq5_ks_r4).
 *
 * An _r4 group stores its 4 rows side by side in 4-byte pieces. Putting
 * each row's weights in lane order costs several dword permutes per 64
 * bytes and row, so here the weights stay where they are and the
 * activations move instead (one permute per 64 bytes, shared by the 4
 * rows): vpdpbusd leaves row k's partial sum of one 16-group in dword k of
 * a 128-bit lane, and an in-lane 4 x 4 transpose plus one permute per row
 * give each row its 16 group sums in lane order.
 *
 * The sums are the tile's (panel_avx512.h, lq_chunk_dot) exactly, so the
 * float part, done as the tile does it, gives its bits: levels are looked
 * up as unsigned bytes (level + 128, from the table's base half) and
 * multiplied with the signed activations, then 128 sum(a) is taken off
 * each group; a group on the table's shifted half, which is the base half
 * plus a constant delta in every IQK table, adds delta sum(a).
 */
#include "panel.h"

#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <pthread.h>
#include <string.h>

#include "iqk_ks_internal.h"
#include "iqk_tables.h"
#include "panel_avx512_iqk.h"

/* ---- activations --------------------------------------------------------- */

/* The two quant layouts (below). */
enum plane_layout { NIBBLE_PLANES, TWO_BIT_PLANES };

/* One activation chunk placed as a layout's products want it: the signed
 * bytes of register r (nibble planes: r = 2 m + h, two-bit: 4 j + t), and
 * per quad register p (dword 4 q + k: group 4 p + q, row k, see
 * rows_from_quads) 128 sum(a), delta sum(a) and the scale d. Made once per
 * block of groups. */
typedef struct placed_act {
    __m512i step[16];
    __m512i bias[4];
    __m512i shift[4];
    __m512 d[4];
} placed_act;

AVX512 INLINE void place_act(const lq_act_chunk *a, int delta, enum plane_layout layout,
                             placed_act *out) {
    __m512i step[4], biased_sum = _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        const __m512i b = _mm512_load_si512((const void *)(a->biased + 64 * s));
        biased_sum = _mm512_dpbusd_epi32(biased_sum, b, _mm512_set1_epi8(1));
        step[s] = _mm512_xor_si512(b, _mm512_set1_epi8((char)0x80));
    }
    const __m512i sum = _mm512_sub_epi32(biased_sum, _mm512_set1_epi32(16 * 128));
    const __m512i bias = _mm512_slli_epi32(sum, 7);
    const __m512i shift = _mm512_mullo_epi32(sum, _mm512_set1_epi32(delta));
    const __m512 d = _mm512_load_ps(a->d);
    const __m512i by_quad = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    for (int p = 0; p < 4; p++) {
        const __m512i at = _mm512_add_epi32(by_quad, _mm512_set1_epi32(4 * p));
        out->bias[p] = _mm512_permutexvar_epi32(at, bias);
        out->shift[p] = _mm512_permutexvar_epi32(at, shift);
        out->d[p] = _mm512_permutexvar_ps(at, d);
    }
    if (layout == NIBBLE_PLANES) {
        /* register m, nibble h: dword 8 u + 4 l + k is group 2 m + l, step 2 h + u */
        const __m512i at = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 16, 16, 16, 16, 17, 17, 17, 17);
        for (int m = 0; m < 8; m++)
            for (int h = 0; h < 2; h++)
                out->step[2 * m + h] = _mm512_permutex2var_epi32(
                    step[2 * h], _mm512_add_epi32(at, _mm512_set1_epi32(2 * m)), step[2 * h + 1]);
    } else {
        /* register j, step t: dword 4 q + k is group 4 j + q */
        for (int j = 0; j < 4; j++)
            for (int t = 0; t < 4; t++)
                out->step[4 * j + t] =
                    _mm512_permutexvar_epi32(_mm512_add_epi32(by_quad, _mm512_set1_epi32(4 * j)), step[t]);
    }
}

/* ---- the float part, in quads ---------------------------------------------
 * Each quad register p holds (row k, group 4 p + q) in dword 4 q + k, the
 * integer sums, the scales and the float sums alike; a lane's arithmetic is
 * lq_chunk_dot's for its (row, group), and the float sums go to lane order
 * once per group of rows, before the tile's reduction. */

/* in[p]: (row k, group 4 p + q) in dword 4 q + k; out[k]: row k in lane
 * order */
AVX512 INLINE void rows_from_quads(const __m512i in[4], __m512i out[4]) {
    const __m512i x0 = _mm512_unpacklo_epi32(in[0], in[1]), x1 = _mm512_unpackhi_epi32(in[0], in[1]);
    const __m512i x2 = _mm512_unpacklo_epi32(in[2], in[3]), x3 = _mm512_unpackhi_epi32(in[2], in[3]);
    /* row k: group 4p + q in dword p of lane q */
    const __m512i by_row[4] = {_mm512_unpacklo_epi64(x0, x2), _mm512_unpackhi_epi64(x0, x2),
                               _mm512_unpacklo_epi64(x1, x3), _mm512_unpackhi_epi64(x1, x3)};
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (int k = 0; k < 4; k++)
        out[k] = _mm512_permutexvar_epi32(order, by_row[k]);
}

/* dot: the sums of level + 128 (base half) times a; ls the integer scales,
 * d the rows' scales (the decoders' scale is d * ls) */
AVX512 INLINE void add_quads(const __m512i dot[4], const placed_act *c, const __mmask16 shifted[4],
                             __m512 d, const __m512i ls[4], __m512 sum[4]) {
    for (int p = 0; p < 4; p++) {
        __m512i exact = _mm512_sub_epi32(dot[p], c->bias[p]);
        exact = _mm512_mask_add_epi32(exact, shifted[p], exact, c->shift[p]);
        const __m512 scale = _mm512_mul_ps(d, _mm512_cvtepi32_ps(ls[p]));
        sum[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(scale, c->d[p]), sum[p]);
    }
}

/* ---- scales in quads ------------------------------------------------------
 * The _r4 layouts keep a per-(row, group) entry as entry 4 g + k of an
 * array, so quad register p takes entries 16 p .. 16 p + 15 in order. */

/* Entries 16 p .. of a nibble array (entry e in nibble e / 32 of byte
 * e % 32), as dwords. */
AVX512 INLINE __m512i quad_nibbles(const uint8_t *nibbles, int p) {
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(nibbles + 16 * (p % 2))));
    return _mm512_and_si512(_mm512_srli_epi32(b, (unsigned)(4 * (p / 2))), _mm512_set1_epi32(15));
}

/* Bit g / 2 of byte 4 (g % 2) + k of 8 bytes, for group g = 4 p + q of
 * row k (the table halves and iq3_k_r4's scale signs): `bytes` from
 * spread_bit_bytes. */
AVX512 INLINE __m512i spread_bit_bytes(const uint8_t *b) {
    const __m128i pairs = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)(const void *)b),
                                           _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7));
    return _mm512_cvtepu8_epi32(pairs);
}

AVX512 INLINE __mmask16 quad_bits(__m512i bytes, int p) {
    const int lo = 1 << (2 * p), hi = 1 << (2 * p + 1);
    return _mm512_test_epi32_mask(bytes, _mm512_setr_epi32(lo, lo, lo, lo, lo, lo, lo, lo, hi, hi, hi,
                                                           hi, hi, hi, hi, hi));
}

/* four f16 row scales, repeated per 128-bit lane (k) */
AVX512 INLINE __m512 row_scales_f16(const uint8_t *d) {
    return _mm512_broadcast_f32x4(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(const void *)d)));
}

/* ---- tables ----------------------------------------------------------------- */

/* n <= 16 values + 128, as vpshufb tables (entries past n are 0) */
AVX512 INLINE __m512i unsigned_table(const int8_t *values, int n) {
    int8_t v[16] = {0};
    memcpy(v, values, (size_t)n);
    const __m128i t = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)v),
                                    _mm_set1_epi8((char)0x80));
    return _mm512_broadcast_i32x4(t);
}

/* ---- integer sums of the two quant layouts ----------------------------------- */

/* Bit shift[q] in each byte of 128-bit lane q. */
AVX512 INLINE __m512i lane_bits(int s0, int s1, int s2, int s3) {
    const int shift[4] = {s0, s1, s2, s3};
    int b[4];
    for (int q = 0; q < 4; q++)
        b[q] = (int)(0x01010101u << shift[q]);
    return _mm512_setr_epi32(b[0], b[0], b[0], b[0], b[1], b[1], b[1], b[1], b[2], b[2], b[2], b[2],
                             b[3], b[3], b[3], b[3]);
}

/* The 4-bit planes of iq4_k_r4 .. iq5_ks_r4 (512 bytes): 64-byte register
 * m holds the weights 16 L + 4 t + i of row k, L = 2 m + l, t = 2 h + u,
 * in nibble h of dword 8 u + 4 l + k. qh (or NULL): the fifth bits, bit
 * 4 u + 2 l + h of the bytes of dword 4 (m % 4) + k of register m / 4; a
 * set fifth bit takes the level from `upper`. Returns quads. */
AVX512 INLINE void nibble_plane_sums(const uint8_t *qs, const uint8_t *qh, const placed_act *c,
                                     __m512i lower, __m512i upper, __m512i quads[4]) {
    const __m512i qh_at = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    for (int p = 0; p < 4; p++) {
        __m512i acc[2];
        for (int half = 0; half < 2; half++) {
            const int m = 2 * p + half;
            const __m512i q = _mm512_loadu_si512((const void *)(qs + 64 * m));
            __m512i fifth = _mm512_setzero_si512();
            if (qh)
                fifth = _mm512_permutexvar_epi32(_mm512_add_epi32(qh_at, _mm512_set1_epi32(4 * (m % 4))),
                                                 _mm512_loadu_si512((const void *)(qh + 64 * (m / 4))));
            acc[half] = _mm512_setzero_si512();
            for (int h = 0; h < 2; h++) {
                const __m512i idx = _mm512_and_si512(h ? _mm512_srli_epi16(q, 4) : q, _mm512_set1_epi8(15));
                __m512i lv = _mm512_shuffle_epi8(lower, idx);
                if (qh)
                    lv = _mm512_mask_shuffle_epi8(
                        lv, _mm512_test_epi8_mask(fifth, lane_bits(h, h + 2, h + 4, h + 6)), upper, idx);
                acc[half] = _mm512_dpbusd_epi32(acc[half], lv, c->step[2 * m + h]);
            }
        }
        /* lanes u = 0, 1 of a register are steps 2h, 2h + 1 of the same groups */
        quads[p] = _mm512_add_epi32(_mm512_shuffle_i64x2(acc[0], acc[1], 0x44),
                                    _mm512_shuffle_i64x2(acc[0], acc[1], 0xee));
    }
}

/* The 2-bit planes of iq2_k_r4 / iq3_k_r4 (256 bytes): register j holds
 * the weights 16 L + 4 t + i of row k, L = 4 j + q, at bits 2t of dword
 * 4 q + k (so it is quad j). qh (or NULL): the third bits, bit t + 4 (q % 2)
 * of the bytes of dword 4 (2 (j % 2) + q / 2) + k of register j / 2; a set
 * third bit takes the level from `upper`. */
AVX512 INLINE void two_bit_plane_sums(const uint8_t *qs, const uint8_t *qh, const placed_act *c,
                                      __m512i lower, __m512i upper, __m512i quads[4]) {
    const __m512i qh_at = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7);
    for (int j = 0; j < 4; j++) {
        const __m512i q = _mm512_loadu_si512((const void *)(qs + 64 * j));
        __m512i third = _mm512_setzero_si512();
        if (qh)
            third = _mm512_permutexvar_epi32(_mm512_add_epi32(qh_at, _mm512_set1_epi32(8 * (j % 2))),
                                             _mm512_loadu_si512((const void *)(qh + 64 * (j / 2))));
        __m512i acc = _mm512_setzero_si512();
        for (int t = 0; t < 4; t++) {
            const __m512i idx = _mm512_and_si512(t ? _mm512_srli_epi16(q, (unsigned)(2 * t)) : q,
                                                 _mm512_set1_epi8(3));
            __m512i lv = _mm512_shuffle_epi8(lower, idx);
            if (qh)
                lv = _mm512_mask_shuffle_epi8(lv, _mm512_test_epi8_mask(third, lane_bits(t, t + 4, t, t + 4)),
                                              upper, idx);
            acc = _mm512_dpbusd_epi32(acc, lv, c->step[4 * j + t]);
        }
        quads[j] = acc;
    }
}

/* ---- the types ------------------------------------------------------------------
 * Each adds chunk c of its group's 4 rows to sum[4] (quads); the layouts
 * are those of the group decoders in panel_avx512_iqk.c. */

/* the deltas of the tables' shifted halves */
enum { IQ2_DELTA = 5, IQ3_DELTA = 4, IQ4_DELTA = 4, IQ5_DELTA = 2 };

/* iq4_k_r4 / iq5_k_r4: d[4], extra[8] (table halves), scales_h[16] (top
 * two bits of entry e at bit 2 (e / 16) of byte e % 16), scales_l[32],
 * entries ls + 32 */
AVX512 INLINE void add_k_rows(const uint8_t *w, const placed_act *act, const __m512i dot[4],
                              __m512 sum[4]) {
    const __m512i halves = spread_bit_bytes(w + 8);
    const __m512i high = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(w + 16)));
    __mmask16 shifted[4];
    __m512i ls[4];
    for (int p = 0; p < 4; p++) {
        shifted[p] = quad_bits(halves, p);
        const __m512i top = _mm512_and_si512(_mm512_srli_epi32(high, (unsigned)(2 * p)), _mm512_set1_epi32(3));
        ls[p] = _mm512_sub_epi32(_mm512_or_si512(quad_nibbles(w + 32, p), _mm512_slli_epi32(top, 4)),
                                 _mm512_set1_epi32(32));
    }
    add_quads(dot, act, shifted, row_scales_f16(w), ls, sum);
}

AVX512 INLINE void chunk_iq4_k_r4(const uint8_t *group, int64_t c, const placed_act *act,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 576;
    const __m512i table = unsigned_table(lq_iq4k_values, 16);
    __m512i dot[4];
    nibble_plane_sums(w + 64, NULL, act, table, table, dot);
    add_k_rows(w, act, dot, sum);
}

AVX512 INLINE void chunk_iq5_k_r4(const uint8_t *group, int64_t c, const placed_act *act,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 704;
    __m512i dot[4];
    nibble_plane_sums(w + 64, w + 576, act, unsigned_table(lq_iq5nl_values, 16),
                      unsigned_table(lq_iq5nl_values + 16, 16), dot);
    add_k_rows(w, act, dot, sum);
}

/* iq4_ks_r4 / iq5_ks_r4: scale byte ib of row k at 4 ib + k, bit 0 the
 * table half, bits 1-7 the odd code + 127; the rows' f32 scales lead the
 * group */
AVX512 INLINE void add_ks_rows(const uint8_t *group, const uint8_t *w, const placed_act *act,
                               const __m512i dot[4], __m512 sum[4]) {
    const __m128i dup = _mm_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7);
    __mmask16 shifted[4];
    __m512i ls[4];
    for (int p = 0; p < 4; p++) {
        const __m512i b = _mm512_cvtepu8_epi32(
            _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)(const void *)(w + 8 * p)), dup));
        shifted[p] = _mm512_test_epi32_mask(b, _mm512_set1_epi32(1));
        ls[p] = _mm512_sub_epi32(_mm512_and_si512(b, _mm512_set1_epi32(254)), _mm512_set1_epi32(127));
    }
    const __m512 d = _mm512_broadcast_f32x4(_mm_loadu_ps((const float *)(const void *)group));
    add_quads(dot, act, shifted, d, ls, sum);
}

AVX512 INLINE void chunk_iq4_ks_r4(const uint8_t *group, int64_t c, const placed_act *act,
                                   __m512 sum[4]) {
    const uint8_t *w = group + 16 + c * 544;
    const __m512i table = unsigned_table(lq_iq4k_values, 16);
    __m512i dot[4];
    nibble_plane_sums(w + 32, NULL, act, table, table, dot);
    add_ks_rows(group, w, act, dot, sum);
}

AVX512 INLINE void chunk_iq5_ks_r4(const uint8_t *group, int64_t c, const placed_act *act,
                                   __m512 sum[4]) {
    const uint8_t *w = group + 16 + c * 672;
    __m512i dot[4];
    nibble_plane_sums(w + 32, w + 544, act, unsigned_table(lq_iq5nl_values, 16),
                      unsigned_table(lq_iq5nl_values + 16, 16), dot);
    add_ks_rows(group, w, act, dot, sum);
}

/* iq2_k_r4: d[4], extra[8], scale nibbles ls + 8 at byte 16 */
AVX512 INLINE void chunk_iq2_k_r4(const uint8_t *group, int64_t c, const placed_act *act,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 304;
    const __m512i table = unsigned_table(lq_iq2nl_values, 4);
    __m512i dot[4];
    two_bit_plane_sums(w + 48, NULL, act, table, table, dot);
    const __m512i halves = spread_bit_bytes(w + 8);
    __mmask16 shifted[4];
    __m512i ls[4];
    for (int p = 0; p < 4; p++) {
        shifted[p] = quad_bits(halves, p);
        ls[p] = _mm512_sub_epi32(quad_nibbles(w + 16, p), _mm512_set1_epi32(8));
    }
    add_quads(dot, act, shifted, row_scales_f16(w), ls, sum);
}

/* iq3_k_r4: d[4], extra[8], the signs of ls as the table halves at byte
 * 16, |ls| = 2 n + 1 with the nibbles n at byte 24 */
AVX512 INLINE void chunk_iq3_k_r4(const uint8_t *group, int64_t c, const placed_act *act,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 440;
    __m512i dot[4];
    two_bit_plane_sums(w + 56, w + 312, act, unsigned_table(lq_iq3nl_values, 4),
                       unsigned_table(lq_iq3nl_values + 4, 4), dot);
    const __m512i halves = spread_bit_bytes(w + 8), signs = spread_bit_bytes(w + 16);
    __mmask16 shifted[4];
    __m512i ls[4];
    for (int p = 0; p < 4; p++) {
        shifted[p] = quad_bits(halves, p);
        const __m512i magnitude = _mm512_add_epi32(_mm512_slli_epi32(quad_nibbles(w + 24, p), 1),
                                                   _mm512_set1_epi32(1));
        ls[p] = _mm512_mask_sub_epi32(magnitude, quad_bits(signs, p), _mm512_setzero_si512(), magnitude);
    }
    add_quads(dot, act, shifted, row_scales_f16(w), ls, sum);
}

/* Column blocks of ACT_BLOCK chunks, their activations placed once for
 * GROUP_BLOCK groups; a group's float sums wait in memory between column
 * blocks (stored and reloaded as they are, so the bits do not change). */
enum { ACT_BLOCK = 8, GROUP_BLOCK = 16 };

/* lq_group_gemv_fn for a type's chunk function (groups of 4 rows, full
 * chunks, no offsets) */
#define R4_GEMV(type, delta, layout)                                                              \
    AVX512 static void gemv_##type(lq_panel_group_decode_fn decode, const uint8_t *groups,        \
                                   int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,  \
                                   const lq_act_chunk *a, bool has_offset, float *y) {            \
        const int64_t nchunks = ncols / LQ_PANEL_K;                                               \
        placed_act act[ACT_BLOCK];                                                                \
        __m512 sums[GROUP_BLOCK][4];                                                              \
        for (int64_t g0 = 0; g0 < ngroups; g0 += GROUP_BLOCK) {                                   \
            const int gn = ngroups - g0 < GROUP_BLOCK ? (int)(ngroups - g0) : GROUP_BLOCK;        \
            for (int g = 0; g < gn; g++)                                                          \
                for (int p = 0; p < 4; p++)                                                       \
                    sums[g][p] = _mm512_setzero_ps();                                             \
            for (int64_t c0 = 0; c0 < nchunks; c0 += ACT_BLOCK) {                                 \
                const int cn = nchunks - c0 < ACT_BLOCK ? (int)(nchunks - c0) : ACT_BLOCK;        \
                for (int c = 0; c < cn; c++)                                                      \
                    place_act(&a[c0 + c], delta, layout, &act[c]);                                \
                for (int g = 0; g < gn; g++) {                                                    \
                    const uint8_t *group = groups + (g0 + g) * group_bytes;                       \
                    __m512 sum[4] = {sums[g][0], sums[g][1], sums[g][2], sums[g][3]};             \
                    for (int c = 0; c < cn; c++)                                                  \
                        chunk_##type(group, c0 + c, &act[c], sum);                                \
                    for (int p = 0; p < 4; p++)                                                   \
                        sums[g][p] = sum[p];                                                      \
                }                                                                                 \
            }                                                                                     \
            for (int g = 0; g < gn; g++) {                                                        \
                __m512i by_row[4];                                                                \
                const __m512i quads[4] = {                                                        \
                    _mm512_castps_si512(sums[g][0]), _mm512_castps_si512(sums[g][1]),             \
                    _mm512_castps_si512(sums[g][2]), _mm512_castps_si512(sums[g][3])};            \
                rows_from_quads(quads, by_row);                                                   \
                for (int k = 0; k < 4; k++)                                                       \
                    y[4 * (g0 + g) + k] = _mm512_reduce_add_ps(_mm512_castsi512_ps(by_row[k]));   \
            }                                                                                     \
        }                                                                                         \
        (void)decode, (void)rows, (void)has_offset;                                               \
    }

R4_GEMV(iq2_k_r4, IQ2_DELTA, TWO_BIT_PLANES)
R4_GEMV(iq3_k_r4, IQ3_DELTA, TWO_BIT_PLANES)
R4_GEMV(iq4_k_r4, IQ4_DELTA, NIBBLE_PLANES)
R4_GEMV(iq5_k_r4, IQ5_DELTA, NIBBLE_PLANES)
R4_GEMV(iq4_ks_r4, IQ4_DELTA, NIBBLE_PLANES)
R4_GEMV(iq5_ks_r4, IQ5_DELTA, NIBBLE_PLANES)

/* ---- plain rows -------------------------------------------------------------
 * The same integer method for the non-interleaved types: the levels come
 * out of the index registers as unsigned bytes level + base (base 128 for
 * the value tables, whose vpshufb tables are xored with 0x80 for free) and
 * meet the signed activations; base sum(a) is taken off per group. The
 * activations are made signed, and their group sums formed, once per
 * column block for a block of rows, not per row. */

typedef struct signed_act {
    __m512i step[4]; /* a as signed bytes, lane order */
    __m512i bias;    /* base * sum(a) per group */
    __m512i shift;   /* delta * sum(a) per group */
    __m512 d, dsum;
} signed_act;

AVX512 INLINE void make_signed_act(const lq_act_chunk *a, int base, int delta, signed_act *out) {
    __m512i biased_sum = _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        const __m512i b = _mm512_load_si512((const void *)(a->biased + 64 * s));
        biased_sum = _mm512_dpbusd_epi32(biased_sum, b, _mm512_set1_epi8(1));
        out->step[s] = _mm512_xor_si512(b, _mm512_set1_epi8((char)0x80));
    }
    const __m512i sum = _mm512_sub_epi32(biased_sum, _mm512_set1_epi32(16 * 128));
    out->bias = _mm512_mullo_epi32(sum, _mm512_set1_epi32(base));
    out->shift = _mm512_mullo_epi32(sum, _mm512_set1_epi32(delta));
    out->d = _mm512_load_ps(a->d);
    out->dsum = _mm512_load_ps(a->dsum);
}

/* One row chunk added to sum in lq_chunk_dot's arithmetic: lv the
 * unsigned levels (lane order), `shifted` the groups on the table's
 * second half, scale the decoders' d * ls. */
AVX512 INLINE __m512 add_row(const __m512i lv[4], const signed_act *act, __mmask16 shifted,
                             __m512 scale, __m512 sum) {
    /* two short chains of vpdpbusd, the corrections first: the latency of
     * one chain of four held the float sum's FMA */
    const __m512i neg_bias = _mm512_sub_epi32(_mm512_setzero_si512(), act->bias);
    __m512i even = _mm512_mask_add_epi32(neg_bias, shifted, neg_bias, act->shift);
    __m512i odd = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lv[1], act->step[1]);
    even = _mm512_dpbusd_epi32(even, lv[0], act->step[0]);
    odd = _mm512_dpbusd_epi32(odd, lv[3], act->step[3]);
    even = _mm512_dpbusd_epi32(even, lv[2], act->step[2]);
    const __m512i exact = _mm512_add_epi32(even, odd);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(scale, act->d), sum);
}

AVX512 INLINE __m512 int_scales(float d, __m512i ls) {
    return _mm512_mul_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(ls));
}

/* f16 -> f32 by F16C (the bits of lq_half_to_float, NaNs included),
 * broadcast */
AVX512 INLINE __m512 half_hw16(const uint8_t *p) {
    return _mm512_cvtph_ps(_mm256_set1_epi16((short)lq_load_u16(p)));
}

AVX512 INLINE __m512 int_scales_by(__m512 d, __m512i ls) {
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(ls));
}

/* bit g / 2 of `bits` for the 16 groups g */
AVX512 INLINE __mmask16 pair_bits(unsigned bits) {
    return _mm_test_epi8_mask(_mm_set1_epi8((char)bits),
                              _mm_setr_epi8(1, 1, 2, 2, 4, 4, 8, 8, 16, 16, 32, 32, 64, 64, -128, -128));
}

/* q3_K's sixteen 6-bit scales (12 bytes at sc): the low nibble of scale j
 * is nibble j / 8 of byte j % 8, its top two bits are at bit 2 (j / 4) of
 * byte 8 + j % 4; minus 32. Read as the 16 bytes that end with them. */
AVX512 INLINE __m512i q3_k_scales(const uint8_t *sc) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(sc - 4));
    const __m128i low_at = _mm_setr_epi8(4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11);
    const __m128i high_at = _mm_setr_epi8(12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15);
    const __m512i low = _mm512_srlv_epi32(_mm512_cvtepu8_epi32(_mm_shuffle_epi8(v, low_at)),
                                          _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4));
    const __m512i high = _mm512_srlv_epi32(_mm512_cvtepu8_epi32(_mm_shuffle_epi8(v, high_at)),
                                           _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6));
    const __m512i six = _mm512_or_si512(_mm512_and_si512(low, _mm512_set1_epi32(15)),
                                        _mm512_slli_epi32(_mm512_and_si512(high, _mm512_set1_epi32(3)), 4));
    return _mm512_sub_epi32(six, _mm512_set1_epi32(32));
}

/* The bytes of the k-quant top-bit layout (32 bytes: weight e's bit is bit
 * e / 32 of byte e % 32) whose bit is set, for step s in lane order. */
AVX512 INLINE __mmask64 top_bit_mask(__m512i qh, int s) {
    int idx[16], bit[16];
    for (int g = 0; g < 16; g++) {
        idx[g] = 4 * (g & 1) + s;
        bit[g] = (int)(0x01010101u << (g / 2));
    }
    const __m512i h = _mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)idx), qh);
    return _mm512_test_epi8_mask(h, _mm512_loadu_si512((const void *)bit));
}

/* 5-bit indices (4 low bits and a top-bit mask) through two 16-entry
 * tables */
AVX512 INLINE __m512i lookup_with_top(__m512i low, __mmask64 top, __m512i lower, __m512i upper) {
    return _mm512_mask_shuffle_epi8(_mm512_shuffle_epi8(lower, low), top, upper, low);
}

/* iq2_kl's 32 grid pairs as unsigned bytes */
AVX512 INLINE __m512i iq2_kl_unsigned_pairs(void) {
    return _mm512_xor_si512(_mm512_loadu_si512((const void *)ks_iq2kl_pair(0)), _mm512_set1_epi8((char)0x80));
}

/* iq3_k's scales: |ls| = 2 n + 1 (n the nibbles at byte 6, low first),
 * the signs in the u16 at byte 4 */
AVX512 INLINE __m512i iq3_k_scales(const uint8_t *w) {
    const __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(w + 6)), low4 = _mm_set1_epi8(15);
    const __m128i n = _mm_unpacklo_epi8(_mm_and_si128(b, low4), _mm_and_si128(_mm_srli_epi16(b, 4), low4));
    const __m128i magnitude = _mm_add_epi8(_mm_add_epi8(n, n), _mm_set1_epi8(1));
    return _mm512_cvtepi8_epi32(
        _mm_mask_sub_epi8(magnitude, (__mmask16)lq_load_u16(w + 4), _mm_setzero_si128(), magnitude));
}

/* iq3_ks's scales: code ib is nibble ib / 4 of byte ib % 4 of the 4 bytes
 * after extra, with bit ib of extra as bit 4; minus 16 */
AVX512 INLINE __m512i iq3_ks_scales(const uint8_t *w, unsigned extra) {
    uint32_t nib;
    memcpy(&nib, w + 2, 4);
    const __m128i v = _mm_cvtsi32_si128((int)nib), low4 = _mm_set1_epi8(15);
    const __m128i codes = _mm_unpacklo_epi32(_mm_and_si128(v, low4), _mm_and_si128(_mm_srli_epi16(v, 4), low4));
    __m128i ls = _mm_unpacklo_epi8(codes, codes);
    ls = _mm_mask_add_epi8(ls, pair_bits(extra), ls, _mm_set1_epi8(16));
    return _mm512_cvtepi8_epi32(_mm_sub_epi8(ls, _mm_set1_epi8(16)));
}

/* each type: chunk c of one row added to sum; lower / upper its tables */

AVX512 INLINE __m512 row_iq5_ks(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                                __m512i upper, __m512 sum) {
    const uint8_t *w = row + 4 + c * 168;
    __mmask16 shifted;
    const __m512i ls = odd_codes(_mm_loadl_epi64((const __m128i *)(const void *)w), &shifted);
    __m512i lv[4];
    quarter_nibble_steps(w + 8, lv);
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 136)));
    for (int s = 0; s < 4; s++)
        lv[s] = lookup_with_top(lv[s], top_bit_mask(qh, s), lower, upper);
    return add_row(lv, act, shifted, int_scales(lq_load_f32(row), ls), sum);
}

AVX512 INLINE __m512 row_iq5_k(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                               __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 176;
    __m512i lv[4];
    quarter_nibble_steps(w + 16, lv);
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 144)));
    for (int s = 0; s < 4; s++)
        lv[s] = lookup_with_top(lv[s], top_bit_mask(qh, s), lower, upper);
    return add_row(lv, act, (__mmask16)lq_load_u16(w + 2), int_scales_by(half_hw16(w), scales6(w + 4, w + 8)),
                   sum);
}

AVX512 INLINE __m512 row_iq4_ks(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                                __m512i upper, __m512 sum) {
    const uint8_t *w = row + 4 + c * 136;
    __mmask16 shifted;
    const __m512i ls = odd_codes(_mm_loadl_epi64((const __m128i *)(const void *)w), &shifted);
    __m512i lv[4];
    block_nibble_steps(w + 8, lv);
    for (int s = 0; s < 4; s++)
        lv[s] = _mm512_shuffle_epi8(lower, lv[s]);
    (void)upper;
    return add_row(lv, act, shifted, int_scales(lq_load_f32(row), ls), sum);
}

/* iq4_kss: per block 8 u16 words, bit 0 of word k bit k of the scale byte,
 * a = word & ~1 gives the iq4_ks nibble bytes as a ^ (a >> 1) */
AVX512 INLINE __m512 row_iq4_kss(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                                 __m512i upper, __m512 sum) {
    const uint8_t *w = row + 4 + c * 128;
    __m512i qs[2];
    uint64_t scale_bytes = 0;
    for (int h = 0; h < 2; h++) {
        const __m512i words = _mm512_loadu_si512((const void *)(w + 64 * h));
        const __m512i a = _mm512_andnot_si512(_mm512_set1_epi16(1), words);
        qs[h] = _mm512_xor_si512(a, _mm512_srli_epi16(a, 1));
        scale_bytes |= (uint64_t)_mm512_test_epi16_mask(words, _mm512_set1_epi16(1)) << (32 * h);
    }
    __mmask16 shifted;
    const __m512i ls = odd_codes(_mm_cvtsi64_si128((long long)scale_bytes), &shifted);
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    __m512i lv[4];
    for (int s = 0; s < 4; s++) {
        const __m512i v = _mm512_permutex2var_epi32(qs[0], lane_index(s, 4, 0), qs[1]);
        lv[s] = _mm512_shuffle_epi8(lower, _mm512_and_si512(_mm512_srlv_epi32(v, shift), _mm512_set1_epi8(15)));
    }
    (void)upper;
    return add_row(lv, act, shifted, int_scales(lq_load_f32(row), ls), sum);
}

/* iq3_ks: u16 extra (bits 0-7 scale bit 4, 8-15 table half), scale
 * nibbles (block ib in byte ib % 4), qs[64], qh[32] */
AVX512 INLINE __m512 row_iq3_ks(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                                __m512i upper, __m512 sum) {
    const uint8_t *w = row + 2 + c * 102;
    const unsigned extra = lq_load_u16(w);
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 6));
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 70)));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = lookup_with_top(two_bit_step(qs, s), top_bit_mask(qh, s), lower, upper);
    return add_row(lv, act, pair_bits(extra >> 8), int_scales_by(half_hw16(row), iq3_ks_scales(w, extra)), sum);
}

/* iq3_k: d, extra, u16 signs of ls, scales_l[8] (|ls| = 2 n + 1), qs[64],
 * qh[32] */
AVX512 INLINE __m512 row_iq3_k(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                               __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 110;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 14));
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 78)));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = lookup_with_top(two_bit_step(qs, s), top_bit_mask(qh, s), lower, upper);
    return add_row(lv, act, (__mmask16)lq_load_u16(w + 2), int_scales_by(half_hw16(w), iq3_k_scales(w)), sum);
}

/* iq2_k: d, extra, scales[8] (ls + 8 per nibble), qs[64] */
AVX512 INLINE __m512 row_iq2_k(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                               __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 76;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 12));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = _mm512_shuffle_epi8(lower, two_bit_step(qs, s));
    (void)upper;
    const __m512i ls = _mm512_sub_epi32(nibbles16(w + 4), _mm512_set1_epi32(8));
    return add_row(lv, act, (__mmask16)lq_load_u16(w + 2), int_scales_by(half_hw16(w), ls), sum);
}

/* iq4_xs: d, scales_h (2 bits per block), scales_l[4] (block ib in nibble
 * ib % 2 of byte ib / 2), qs[128] as 8 blocks of 16 nibble bytes; ls + 32 */
AVX512 INLINE __m512 row_iq4_xs(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                                __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 136;
    __m512i lv[4];
    block_nibble_steps(w + 8, lv);
    for (int s = 0; s < 4; s++)
        lv[s] = _mm512_shuffle_epi8(lower, lv[s]);
    (void)upper;
    const __m256i code = _mm256_sub_epi32(
        _mm256_or_si256(nibbles8(w + 4, true), _mm256_slli_epi32(bit_fields8(lq_load_u16(w + 2), 2, 2), 4)),
        _mm256_set1_epi32(32));
    return add_row(lv, act, 0, int_scales_by(half_hw16(w), spread_pairs(code)), sum);
}

/* iq2_kl: the grid pairs (`lower`, as unsigned bytes) looked up with
 * vpermw, as its decoder does */
AVX512 INLINE __m512 row_iq2_kl(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                                __m512i upper, __m512 sum) {
    const uint8_t *w = row + 2 + c * 86;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 6));
    const __m512i qh = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(w + 70)));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = _mm512_permutexvar_epi16(iq2_kl_pair_index(qs, qh, s), lower);
    (void)upper;
    const __m256i code = _mm256_sub_epi32(
        _mm256_or_si256(nibbles8(w + 2, false), _mm256_slli_epi32(bit_fields8(lq_load_u16(w), 2, 2), 4)),
        _mm256_set1_epi32(32));
    return add_row(lv, act, 0, int_scales_by(half_hw16(row), spread_pairs(code)), sum);
}

/* q3_K: hmask[32], qs[64], scales[12], d: unsigned levels q + 4 h (base 4) */
AVX512 INLINE __m512 row_q3_K(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                              __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 110;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 32));
    const __m512i hm = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)w));
    __m512i lv[4];
    for (int s = 0; s < 4; s++) {
        const __m512i q = two_bit_step(qs, s);
        lv[s] = _mm512_mask_add_epi8(q, top_bit_mask(hm, s), q, _mm512_set1_epi8(4));
    }
    (void)lower, (void)upper;
    return add_row(lv, act, 0, int_scales_by(half_hw16(w + 108), q3_k_scales(w + 96)), sum);
}

/* q2_K: scales[16] (scale and min nibbles), qs[64], d, dmin: levels 0..3
 * are unsigned already (base 0) */
AVX512 INLINE __m512 row_q2_K(const uint8_t *row, int64_t c, const signed_act *act, __m512i lower,
                              __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 84;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 16));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = two_bit_step(qs, s);
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)w));
    const __m512 scale = int_scales_by(half_hw16(w + 80), _mm512_and_si512(sc, _mm512_set1_epi32(15)));
    /* -dmin by its sign bit, as the decoder's negation */
    const __m512 neg_dmin = _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(half_hw16(w + 82)), _mm512_set1_epi32((int)0x80000000u)));
    const __m512 min = _mm512_mul_ps(neg_dmin, _mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4)));
    (void)lower, (void)upper;
    sum = add_row(lv, act, 0, scale, sum);
    return _mm512_fmadd_ps(min, act->dsum, sum);
}

/* ---- GFNI forms of the types with top bits ---------------------------------
 * A top bit (bit g / 2 of the bytes of lane g after the dword permute) goes
 * to bit 2 by one affine map per qword (qword q holds lanes 2q, 2q + 1),
 * and one ternary op merges it with the 2-bit value: no mask registers.
 * Where the CPU has GFNI (cpuid 7.0 ecx bit 8, probed once); LQ_KERNELS_NO_GFNI
 * set in the environment takes the other form, so that the tests can run it
 * on a CPU that has GFNI. */

#define AVX512_GFNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,gfni")))

static pthread_once_t gfni_once = PTHREAD_ONCE_INIT;
static bool gfni_present; /* written once under gfni_once */

static void detect_gfni(void) {
    unsigned a, b, c, d;
    gfni_present = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 8 & 1u) &&
                   !getenv("LQ_KERNELS_NO_GFNI");
}

static bool have_gfni(void) {
    pthread_once(&gfni_once, detect_gfni);
    return gfni_present;
}

/* step s's 3-bit values: two_bit_step's bits and the top bit as bit 2 */
AVX512_GFNI INLINE __m512i three_bit_step(__m512i qs, __m512i qh, int s) {
    int q_at[16], q_shift[16], h_at[16];
    for (int g = 0; g < 16; g++) {
        q_at[g] = 8 * (g / 8) + 4 * (g & 1) + s;
        q_shift[g] = 2 * ((g % 8) / 2);
        h_at[g] = 4 * (g & 1) + s;
    }
    const __m512i low = _mm512_srlv_epi32(_mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)q_at), qs),
                                          _mm512_loadu_si512((const void *)q_shift));
    /* output bit 2 = input bit q: matrix byte 7 - 2 */
    const __m512i pick = _mm512_setr_epi64(1LL << 40, 2LL << 40, 4LL << 40, 8LL << 40, 16LL << 40, 32LL << 40,
                                           64LL << 40, 128LL << 40);
    const __m512i top = _mm512_gf2p8affine_epi64_epi8(
        _mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)h_at), qh), pick, 0);
    /* (low & 3) | top */
    return _mm512_ternarylogic_epi32(low, top, _mm512_set1_epi8(3), 0xec);
}

AVX512_GFNI INLINE __m512 row_q3_K_gfni(const uint8_t *row, int64_t c, const signed_act *act,
                                        __m512i lower, __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 110;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 32));
    const __m512i hm = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)w));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = three_bit_step(qs, hm, s);
    (void)lower, (void)upper;
    return add_row(lv, act, 0, int_scales_by(half_hw16(w + 108), q3_k_scales(w + 96)), sum);
}

/* iq3_k / iq3_ks: the 8 values (`lower`) by one vpshufb */
AVX512_GFNI INLINE __m512 row_iq3_k_gfni(const uint8_t *row, int64_t c, const signed_act *act,
                                         __m512i lower, __m512i upper, __m512 sum) {
    const uint8_t *w = row + c * 110;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 14));
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 78)));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = _mm512_shuffle_epi8(lower, three_bit_step(qs, qh, s));
    (void)upper;
    return add_row(lv, act, (__mmask16)lq_load_u16(w + 2), int_scales_by(half_hw16(w), iq3_k_scales(w)), sum);
}

AVX512_GFNI INLINE __m512 row_iq3_ks_gfni(const uint8_t *row, int64_t c, const signed_act *act,
                                          __m512i lower, __m512i upper, __m512 sum) {
    const uint8_t *w = row + 2 + c * 102;
    const unsigned extra = lq_load_u16(w);
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 6));
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 70)));
    __m512i lv[4];
    for (int s = 0; s < 4; s++)
        lv[s] = _mm512_shuffle_epi8(lower, three_bit_step(qs, qh, s));
    (void)upper;
    return add_row(lv, act, pair_bits(extra >> 8), int_scales_by(half_hw16(row), iq3_ks_scales(w, extra)), sum);
}

/* Rows in blocks of ROW_BLOCK, columns in blocks of ACT_BLOCK chunks (a
 * row's float sum waits in memory between them, bits unchanged) */
enum { ROW_BLOCK = 16 };

#define GEMV_BODY(name, target, row_fn, base, delta, lower, upper)                                \
    target static void name(const uint8_t *rows, int64_t row_bytes, int64_t nrows,               \
                            int64_t nchunks, const lq_act_chunk *a, bool has_offset, float *y) {  \
        const __m512i lo_table = lower, hi_table = upper;                                         \
        signed_act act[ACT_BLOCK];                                                                \
        __m512 sums[ROW_BLOCK];                                                                   \
        for (int64_t r0 = 0; r0 < nrows; r0 += ROW_BLOCK) {                                       \
            const int rn = nrows - r0 < ROW_BLOCK ? (int)(nrows - r0) : ROW_BLOCK;                \
            for (int r = 0; r < rn; r++)                                                          \
                sums[r] = _mm512_setzero_ps();                                                    \
            for (int64_t c0 = 0; c0 < nchunks; c0 += ACT_BLOCK) {                                 \
                const int cn = nchunks - c0 < ACT_BLOCK ? (int)(nchunks - c0) : ACT_BLOCK;        \
                for (int c = 0; c < cn; c++)                                                      \
                    make_signed_act(&a[c0 + c], base, delta, &act[c]);                            \
                for (int r = 0; r < rn; r++) {                                                    \
                    const uint8_t *row = rows + (r0 + r) * row_bytes;                             \
                    __m512 sum = sums[r];                                                         \
                    for (int c = 0; c < cn; c++)                                                  \
                        sum = row_fn(row, c0 + c, &act[c], lo_table, hi_table, sum);              \
                    sums[r] = sum;                                                                \
                }                                                                                 \
            }                                                                                     \
            for (int r = 0; r < rn; r++)                                                          \
                y[r0 + r] = _mm512_reduce_add_ps(sums[r]);                                        \
        }                                                                                         \
        (void)has_offset;                                                                         \
    }

#define GEMV_ARGS                                                                                 \
    const uint8_t *rows, int64_t row_bytes, int64_t nrows, int64_t nchunks, const lq_act_chunk *a, \
        bool has_offset, float *y
#define PLAIN_GEMV(type, base, delta, lower, upper)                                               \
    GEMV_BODY(gemv_##type, AVX512, row_##type, base, delta, lower, upper)                         \
    AVX512 void lq_gemv_##type##_avx512(GEMV_ARGS) {                                              \
        gemv_##type(rows, row_bytes, nrows, nchunks, a, has_offset, y);                           \
    }
/* the types with top bits: a GFNI form where the CPU has it */
#define PLAIN_GEMV_GFNI(type, base, delta, lower, upper, lower8)                                  \
    GEMV_BODY(gemv_##type, AVX512, row_##type, base, delta, lower, upper)                         \
    GEMV_BODY(gemv_##type##_gfni, AVX512_GFNI, row_##type##_gfni, base, delta, lower8,            \
              _mm512_setzero_si512())                                                             \
    AVX512 void lq_gemv_##type##_avx512(GEMV_ARGS) {                                              \
        (have_gfni() ? gemv_##type##_gfni : gemv_##type)(rows, row_bytes, nrows, nchunks, a,      \
                                                         has_offset, y);                          \
    }

PLAIN_GEMV(iq2_k, 128, IQ2_DELTA, unsigned_table(lq_iq2nl_values, 4), _mm512_setzero_si512())
PLAIN_GEMV_GFNI(iq3_k, 128, IQ3_DELTA, unsigned_table(lq_iq3nl_values, 4),
                unsigned_table(lq_iq3nl_values + 4, 4), unsigned_table(lq_iq3nl_values, 8))
PLAIN_GEMV(iq5_k, 128, IQ5_DELTA, unsigned_table(lq_iq5nl_values, 16),
           unsigned_table(lq_iq5nl_values + 16, 16))
PLAIN_GEMV_GFNI(iq3_ks, 128, IQ3_DELTA, unsigned_table(lq_iq3nl_values, 4),
                unsigned_table(lq_iq3nl_values + 4, 4), unsigned_table(lq_iq3nl_values, 8))
PLAIN_GEMV(iq4_ks, 128, IQ4_DELTA, unsigned_table(lq_iq4k_values, 16), _mm512_setzero_si512())
PLAIN_GEMV(iq4_kss, 128, IQ4_DELTA, unsigned_table(lq_iq4k_values, 16), _mm512_setzero_si512())
PLAIN_GEMV(iq5_ks, 128, IQ5_DELTA, unsigned_table(lq_iq5nl_values, 16),
           unsigned_table(lq_iq5nl_values + 16, 16))
PLAIN_GEMV(iq2_kl, 128, 0, iq2_kl_unsigned_pairs(), _mm512_setzero_si512())
/* iq4_xs's values are iq4_k's base half */
PLAIN_GEMV(iq4_xs, 128, 0, unsigned_table(lq_iq4k_values, 16), _mm512_setzero_si512())
PLAIN_GEMV_GFNI(q3_K, 4, 0, _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512())
PLAIN_GEMV(q2_K, 0, 0, _mm512_setzero_si512(), _mm512_setzero_si512())

static const struct {
    int type;
    lq_group_gemv_fn gemv;
} fused_group_gemvs[] = {
    {LQ_TYPE_IQ2_K_R4, gemv_iq2_k_r4},   {LQ_TYPE_IQ3_K_R4, gemv_iq3_k_r4},
    {LQ_TYPE_IQ4_K_R4, gemv_iq4_k_r4},   {LQ_TYPE_IQ5_K_R4, gemv_iq5_k_r4},
    {LQ_TYPE_IQ4_KS_R4, gemv_iq4_ks_r4}, {LQ_TYPE_IQ5_KS_R4, gemv_iq5_ks_r4},
};

lq_group_gemv_fn lq_group_gemv_fused_iqk(int type, lq_simd_level level) {
    if (level != LQ_SIMD_AVX512)
        return NULL;
    for (size_t i = 0; i < sizeof fused_group_gemvs / sizeof fused_group_gemvs[0]; i++)
        if (fused_group_gemvs[i].type == type)
            return fused_group_gemvs[i].gemv;
    return NULL;
}

#else /* not x86 */
lq_group_gemv_fn lq_group_gemv_fused_iqk(int type, lq_simd_level level) {
    (void)type, (void)level;
    return NULL;
}
#endif
