/*
 * AVX-512 decoders of the IQK family into the packed layout (panel.h),
 * equal to the scalar ones of panel_decode_iqk.c. The indices are put in
 * lane order with the same dword permutes as the k-quants' (the IQK bit
 * layouts are theirs: 2-bit as q2_K, 4-bit as q4_K, a fifth or third bit
 * as q5_K's), then mapped through the value table with vpshufb; a lane is
 * one 16-group, so the table half of a group is a dword blend.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <string.h>

#include "iqk_ks_internal.h"
#include "iqk_tables.h"
#include "panel_avx512.h"
#include "panel_avx512_iqk.h"

/* ---- indices in lane order ---------------------------------------------- */

/* Values of 16-entry tables: lanes in `shifted` use the second. */
AVX512 INLINE __m512i lookup16(__m512i idx, __m512i base, __m512i second, __mmask16 shifted) {
    return _mm512_mask_blend_epi32(shifted, _mm512_shuffle_epi8(base, idx),
                                   _mm512_shuffle_epi8(second, idx));
}

/* Values of 32-entry tables (two 16-entry halves each) for 5-bit indices. */
AVX512 INLINE __m512i lookup32(__m512i idx, const __m512i table[4], __mmask16 shifted) {
    const __mmask64 upper = _mm512_test_epi8_mask(idx, _mm512_set1_epi8(16));
    const __m512i base = _mm512_mask_blend_epi8(upper, _mm512_shuffle_epi8(table[0], idx),
                                                _mm512_shuffle_epi8(table[1], idx));
    const __m512i second = _mm512_mask_blend_epi8(upper, _mm512_shuffle_epi8(table[2], idx),
                                                  _mm512_shuffle_epi8(table[3], idx));
    return _mm512_mask_blend_epi32(shifted, base, second);
}

/* ---- scales ---------------------------------------------------------------- */

AVX512 INLINE void store_levels(lq_panel_chunk *out, int s, __m512i v) {
    _mm512_store_si512((void *)(out->level + 64 * s), v);
}

AVX512 INLINE void store_int_scales(lq_panel_chunk *out, float d, __m512i ls) {
    store_scales(out, _mm512_mul_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(ls)));
}

/* ---- iq2_k .. iq5_k --------------------------------------------------------- */

/* d, extra, scales[8] (ls + 8 per nibble), qs[64] */
AVX512 INLINE void decode_iq2_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 76;
    const __m512i table = iq2_table();
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 12));
    const __mmask16 shifted = (__mmask16)lq_load_u16(w + 2);
    for (int s = 0; s < 4; s++) {
        const __m512i lo = two_bit_step(qs, s);
        store_levels(out, s, _mm512_shuffle_epi8(table, _mm512_mask_or_epi32(lo, shifted, lo,
                                                                              _mm512_set1_epi8(4))));
    }
    store_int_scales(out, half_at(w), _mm512_sub_epi32(nibbles16(w + 4), _mm512_set1_epi32(8)));
    (void)count;
}

/* d, extra, u16 signs of ls, scales_l[8] (|ls| = 2 * nibble + 1), qs[64],
 * qh[32] */
AVX512 INLINE void decode_iq3_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 110;
    const __m512i table = table16(lq_iq3nl_values);
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 14));
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 78)));
    const __mmask16 shifted = (__mmask16)lq_load_u16(w + 2);
    for (int s = 0; s < 4; s++) {
        __m512i idx = _mm512_or_si512(two_bit_step(qs, s), top_bits(qh, s, 2));
        idx = _mm512_mask_or_epi32(idx, shifted, idx, _mm512_set1_epi8(8));
        store_levels(out, s, _mm512_shuffle_epi8(table, idx));
    }
    const __m512i magnitude = _mm512_add_epi32(_mm512_slli_epi32(nibbles16(w + 6), 1),
                                               _mm512_set1_epi32(1));
    const __m512i ls = _mm512_mask_sub_epi32(magnitude, (__mmask16)lq_load_u16(w + 4),
                                             _mm512_setzero_si512(), magnitude);
    store_int_scales(out, half_at(w), ls);
    (void)count;
}

/* d, extra, scales_h[4], scales_l[8], qs[128] */
AVX512 INLINE void decode_iq4_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 144;
    const __m512i base = table16(lq_iq4k_values), second = table16(lq_iq4k_values + 16);
    __m512i idx[4];
    block_nibble_steps(w + 16, idx);
    const __mmask16 shifted = (__mmask16)lq_load_u16(w + 2);
    for (int s = 0; s < 4; s++)
        store_levels(out, s, lookup16(idx[s], base, second, shifted));
    store_int_scales(out, half_at(w), scales6(w + 4, w + 8));
    (void)count;
}

/* d, extra, scales_h[4], scales_l[8], qs[128] (4-bit layout), qh[32] */
AVX512 INLINE void decode_iq5_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 176;
    const __m512i table[4] = {table16(lq_iq5nl_values), table16(lq_iq5nl_values + 16),
                              table16(lq_iq5nl_values + 32), table16(lq_iq5nl_values + 48)};
    __m512i idx[4];
    quarter_nibble_steps(w + 16, idx);
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 144)));
    const __mmask16 shifted = (__mmask16)lq_load_u16(w + 2);
    for (int s = 0; s < 4; s++)
        store_levels(out, s, lookup32(_mm512_or_si512(idx[s], top_bits(qh, s, 4)), table, shifted));
    store_int_scales(out, half_at(w), scales6(w + 4, w + 8));
    (void)count;
}

/* ---- row-scaled types --------------------------------------------------------- */

/* u16 extra (bits 0-7 table half, 8-15 scale bit 4), scale nibbles (block
 * ib in byte ib / 2), qs[64] in the 2-bit layout */
AVX512 INLINE void decode_iq2_ks(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + 2 + chunk * 70;
    const unsigned extra = lq_load_u16(w);
    const __m512i table = iq2_table();
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 6));
    const __mmask16 shifted = pair_mask(extra);
    for (int s = 0; s < 4; s++) {
        const __m512i lo = two_bit_step(qs, s);
        store_levels(out, s, _mm512_shuffle_epi8(table, _mm512_mask_or_epi32(lo, shifted, lo,
                                                                              _mm512_set1_epi8(4))));
    }
    const __m256i code = _mm256_sub_epi32(
        _mm256_or_si256(nibbles8(w + 2, true), _mm256_slli_epi32(bit_fields8(extra >> 8, 1, 1), 4)),
        _mm256_set1_epi32(16));
    store_int_scales(out, half_at(row), spread_pairs(code));
    (void)count;
}

/* u16 extra (bits 0-7 scale bit 4, 8-15 table half), scale nibbles (block
 * ib in byte ib % 4), qs[64] in the 2-bit layout, qh[32] third bits */
AVX512 INLINE void decode_iq3_ks(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + 2 + chunk * 102;
    const unsigned extra = lq_load_u16(w);
    const __m512i table = table16(lq_iq3nl_values);
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 6));
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 70)));
    const __mmask16 shifted = pair_mask(extra >> 8);
    for (int s = 0; s < 4; s++) {
        __m512i idx = _mm512_or_si512(two_bit_step(qs, s), top_bits(qh, s, 2));
        idx = _mm512_mask_or_epi32(idx, shifted, idx, _mm512_set1_epi8(8));
        store_levels(out, s, _mm512_shuffle_epi8(table, idx));
    }
    const __m256i code = _mm256_sub_epi32(
        _mm256_or_si256(nibbles8(w + 2, false), _mm256_slli_epi32(bit_fields8(extra, 1, 1), 4)),
        _mm256_set1_epi32(16));
    store_int_scales(out, half_at(row), spread_pairs(code));
    (void)count;
}

/* f32 d, then 8 scale bytes and 8 blocks of 16 nibble bytes */
AVX512 INLINE void decode_iq4_ks(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + 4 + chunk * 136;
    const __m512i base = table16(lq_iq4k_values), second = table16(lq_iq4k_values + 16);
    __mmask16 shifted;
    const __m512i code = odd_codes(_mm_loadl_epi64((const __m128i *)(const void *)w), &shifted);
    __m512i idx[4];
    block_nibble_steps(w + 8, idx);
    for (int s = 0; s < 4; s++)
        store_levels(out, s, lookup16(idx[s], base, second, shifted));
    store_int_scales(out, lq_load_f32(row), code);
    (void)count;
}

/* f32 d, then per block 8 u16 words: bit 0 of word k is bit k of the scale
 * byte, and a = word & ~1 gives a ^ (a >> 1), the iq4_ks nibble bytes of
 * weights 2k, 2k + 1 (and + 16) */
AVX512 INLINE void decode_iq4_kss(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + 4 + chunk * 128;
    const __m512i base = table16(lq_iq4k_values), second = table16(lq_iq4k_values + 16);
    uint8_t qs[128];
    uint64_t scale_bytes = 0; /* block 4h + j's byte: bits 8j.. of half h's word mask */
    for (int h = 0; h < 2; h++) {
        const __m512i words = _mm512_loadu_si512((const void *)(w + 64 * h));
        const __m512i a = _mm512_andnot_si512(_mm512_set1_epi16(1), words);
        _mm512_storeu_si512((void *)(qs + 64 * h), _mm512_xor_si512(a, _mm512_srli_epi16(a, 1)));
        scale_bytes |= (uint64_t)_mm512_test_epi16_mask(words, _mm512_set1_epi16(1)) << (32 * h);
    }
    __mmask16 shifted;
    const __m512i code = odd_codes(_mm_cvtsi64_si128((long long)scale_bytes), &shifted);
    __m512i idx[4];
    block_nibble_steps(qs, idx);
    for (int s = 0; s < 4; s++)
        store_levels(out, s, lookup16(idx[s], base, second, shifted));
    store_int_scales(out, lq_load_f32(row), code);
    (void)count;
}

/* f32 d, 8 scale bytes, qs[128] (4-bit layout), qh[32] fifth bits */
AVX512 INLINE void decode_iq5_ks(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + 4 + chunk * 168;
    const __m512i table[4] = {table16(lq_iq5nl_values), table16(lq_iq5nl_values + 16),
                              table16(lq_iq5nl_values + 32), table16(lq_iq5nl_values + 48)};
    __mmask16 shifted;
    const __m512i code = odd_codes(_mm_loadl_epi64((const __m128i *)(const void *)w), &shifted);
    __m512i idx[4];
    quarter_nibble_steps(w + 8, idx);
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 136)));
    for (int s = 0; s < 4; s++)
        store_levels(out, s, lookup32(_mm512_or_si512(idx[s], top_bits(qh, s, 4)), table, shifted));
    store_int_scales(out, lq_load_f32(row), code);
    (void)count;
}

/* fp16 d, then u16 scales_h (top 2 bits of each 6-bit scale), scales_l[4]
 * (block ib in byte ib % 4), qs[64]: pair j of block ib in the nibble ib % 2
 * of byte 16 (ib / 2) + j, qh[16]: its fifth bit, bit ib of byte j. The 32
 * pairs of the grid are 16-bit words, looked up with vpermw: lane L (group
 * g) of step s holds pairs 8 (g & 1) + 2 s and + 1 of block g / 2. */
AVX512 INLINE void decode_iq2_kl(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + 2 + chunk * 86;
    /* the grid is one array of 32 pairs: 64 bytes from pair 0 */
    const __m512i pairs = _mm512_loadu_si512((const void *)ks_iq2kl_pair(0));
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 6));
    const __m512i qh = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(w + 70)));
    for (int s = 0; s < 4; s++)
        store_levels(out, s, _mm512_permutexvar_epi16(iq2_kl_pair_index(qs, qh, s), pairs));
    const unsigned scales_h = lq_load_u16(w);
    const __m256i code = _mm256_sub_epi32(
        _mm256_or_si256(nibbles8(w + 2, false), _mm256_slli_epi32(bit_fields8(scales_h, 2, 2), 4)),
        _mm256_set1_epi32(32));
    store_int_scales(out, half_at(row), spread_pairs(code));
    (void)count;
}

/* ---- interleaved forms, read in place --------------------------------------- */

/* The 4-bit quants of iq4_k_r4 / iq4_ks_r4, 512 bytes per super-block
 * column of 4 rows: weight 16 L + 4 t + i of row k (lane L, step t of its
 * chunk) is nibble t / 2 of byte 64 (L / 2) + 16 (L % 2) + 32 (t % 2) +
 * 4k + i. Register m holds bytes 64m..: lane L's dword is in register L / 2,
 * so each pair of registers feeds four lanes through one permute. */
AVX512 INLINE __m512i r4_nibble_step(const __m512i q[8], int k, int t) {
    int idx[16];
    for (int lane = 0; lane < 16; lane++)
        idx[lane] = 16 * ((lane / 2) & 1) + 4 * (lane & 1) + 8 * (t % 2) + k;
    const __m512i ix = _mm512_loadu_si512((const void *)idx);
    __m512i v = _mm512_permutex2var_epi32(q[0], ix, q[1]);
    v = _mm512_mask_blend_epi32(0x00f0, v, _mm512_permutex2var_epi32(q[2], ix, q[3]));
    v = _mm512_mask_blend_epi32(0x0f00, v, _mm512_permutex2var_epi32(q[4], ix, q[5]));
    v = _mm512_mask_blend_epi32(0xf000, v, _mm512_permutex2var_epi32(q[6], ix, q[7]));
    return _mm512_and_si512(_mm512_srli_epi32(v, (unsigned)(4 * (t / 2))), _mm512_set1_epi8(15));
}

AVX512 INLINE void r4_load_quants(const uint8_t *qs, __m512i q[8]) {
    for (int m = 0; m < 8; m++)
        q[m] = _mm512_loadu_si512((const void *)(qs + 64 * m));
}

/* The 2-bit planes of iq2_k_r4 / iq3_k_r4 (256 bytes, four registers): the
 * low index bits of weight 16 L + 4 t + i of row k are bits 2t of byte
 * 32 (L / 2) + 16 (L % 2) + 4k + i. */
AVX512 INLINE __m512i r4_two_bit_step(const __m512i q[4], int k, int t) {
    int idx[16];
    for (int lane = 0; lane < 16; lane++)
        idx[lane] = 8 * ((lane / 2) % 4) + 4 * (lane & 1) + k;
    const __m512i ix = _mm512_loadu_si512((const void *)idx);
    __m512i v = _mm512_permutex2var_epi32(q[0], ix, q[1]);
    v = _mm512_mask_blend_epi32(0xff00, v, _mm512_permutex2var_epi32(q[2], ix, q[3]));
    return _mm512_and_si512(_mm512_srli_epi32(v, (unsigned)(2 * t)), _mm512_set1_epi8(3));
}

/* The fifth index bits of iq5_k_r4 / iq5_ks_r4 (128 bytes, two registers):
 * that of weight 16 L + 4 t + i of row k is bit 4 (t % 2) + t / 2 +
 * 2 (L % 2) of byte 16 (L / 2) + 4k + i; returned at bit 4. */
AVX512 INLINE __m512i r4_fifth_bits(const __m512i qh[2], int k, int t) {
    int idx[16], shift[16];
    for (int lane = 0; lane < 16; lane++) {
        idx[lane] = 4 * (lane / 2) + k;
        shift[lane] = 4 * (t % 2) + t / 2 + 2 * (lane & 1);
    }
    __m512i h = _mm512_permutex2var_epi32(qh[0], _mm512_loadu_si512((const void *)idx), qh[1]);
    h = _mm512_and_si512(_mm512_srlv_epi32(h, _mm512_loadu_si512((const void *)shift)),
                         _mm512_set1_epi8(1));
    return _mm512_slli_epi32(h, 4);
}

/* iq4_k_r4, 576 bytes per super-block column: the scales above, qs[512] at
 * byte 64 */
AVX512 static void group_iq4_k_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                  lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + chunk * 576;
    const __m512i base = table16(lq_iq4k_values), second = table16(lq_iq4k_values + 16);
    __m512i q[8];
    r4_load_quants(w + 64, q);
    for (int k = 0; k < 4; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        __mmask16 shifted;
        const __m512i ls = r4_k_scales(w, k, &shifted);
        for (int t = 0; t < 4; t++)
            store_levels(o, t, lookup16(r4_nibble_step(q, k, t), base, second, shifted));
        store_int_scales(o, half_at(w + 2 * k), ls);
    }
    (void)ncols;
}

/* iq5_k_r4, 704 bytes per super-block column: iq4_k_r4's scales and low
 * nibbles, then qh[128] at byte 576 */
AVX512 static void group_iq5_k_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                  lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + chunk * 704;
    const __m512i table[4] = {table16(lq_iq5nl_values), table16(lq_iq5nl_values + 16),
                              table16(lq_iq5nl_values + 32), table16(lq_iq5nl_values + 48)};
    __m512i q[8];
    r4_load_quants(w + 64, q);
    const __m512i qh[2] = {_mm512_loadu_si512((const void *)(w + 576)),
                           _mm512_loadu_si512((const void *)(w + 640))};
    for (int k = 0; k < 4; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        __mmask16 shifted;
        const __m512i ls = r4_k_scales(w, k, &shifted);
        for (int t = 0; t < 4; t++) {
            const __m512i idx = _mm512_or_si512(r4_nibble_step(q, k, t), r4_fifth_bits(qh, k, t));
            store_levels(o, t, lookup32(idx, table, shifted));
        }
        store_int_scales(o, half_at(w + 2 * k), ls);
    }
    (void)ncols;
}

/* iq5_ks_r4: the 4 rows' f32 scales first, then 672 bytes per super-block
 * column: scales[32] as iq4_ks_r4's, qs[512] at byte 32, qh[128] at 544 */
AVX512 static void group_iq5_ks_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                   lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + 16 + chunk * 672;
    const __m512i table[4] = {table16(lq_iq5nl_values), table16(lq_iq5nl_values + 16),
                              table16(lq_iq5nl_values + 32), table16(lq_iq5nl_values + 48)};
    __m512i q[8];
    r4_load_quants(w + 32, q);
    const __m512i qh[2] = {_mm512_loadu_si512((const void *)(w + 544)),
                           _mm512_loadu_si512((const void *)(w + 608))};
    const __m256i bytes = _mm256_loadu_si256((const __m256i *)(const void *)w);
    for (int k = 0; k < 4; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        const __m256i sb = byte_of_dwords(bytes, k);
        const __mmask16 shifted = pair_mask(_mm256_test_epi32_mask(sb, _mm256_set1_epi32(1)));
        for (int t = 0; t < 4; t++) {
            const __m512i idx = _mm512_or_si512(r4_nibble_step(q, k, t), r4_fifth_bits(qh, k, t));
            store_levels(o, t, lookup32(idx, table, shifted));
        }
        const __m256i code = _mm256_sub_epi32(_mm256_and_si256(sb, _mm256_set1_epi32(254)),
                                              _mm256_set1_epi32(127));
        store_int_scales(o, lq_load_f32(group + 4 * k), spread_pairs(code));
    }
    (void)ncols;
}

/* iq2_k_r4, 304 bytes per super-block column: d[4], extra[8], the scale
 * nibbles (ls + 8) at byte 16, qs[256] at 48 */
AVX512 static void group_iq2_k_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                  lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + chunk * 304;
    const __m512i table = iq2_table();
    __m512i q[4];
    for (int m = 0; m < 4; m++)
        q[m] = _mm512_loadu_si512((const void *)(w + 48 + 64 * m));
    for (int k = 0; k < 4; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        const __mmask16 shifted = r4_halves(w, k);
        for (int t = 0; t < 4; t++) {
            const __m512i lo = r4_two_bit_step(q, k, t);
            store_levels(o, t, _mm512_shuffle_epi8(table, _mm512_mask_or_epi32(lo, shifted, lo,
                                                                               _mm512_set1_epi8(4))));
        }
        store_int_scales(o, half_at(w + 2 * k),
                         _mm512_sub_epi32(r4_scale_nibbles(w + 16, k), _mm512_set1_epi32(8)));
    }
    (void)ncols;
}

/* iq3_k_r4, 440 bytes per super-block column: d[4], extra[8], the signs of
 * ls (bit s of byte 16 + k for group 2s, of 20 + k for 2s + 1), the nibbles
 * of |ls| = 2 n + 1 at byte 24, qs[256] at 56, qh[128] at 312: the third
 * index bit of weight 16 L + 4 t + i of row k is bit t + 4 (L % 2) of byte
 * 16 (L / 2) + 4k + i. */
AVX512 static void group_iq3_k_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                  lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + chunk * 440;
    const __m512i table = table16(lq_iq3nl_values);
    __m512i q[4];
    for (int m = 0; m < 4; m++)
        q[m] = _mm512_loadu_si512((const void *)(w + 56 + 64 * m));
    const __m512i qh0 = _mm512_loadu_si512((const void *)(w + 312));
    const __m512i qh1 = _mm512_loadu_si512((const void *)(w + 376));
    for (int k = 0; k < 4; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        const __mmask16 shifted = r4_halves(w, k);
        for (int t = 0; t < 4; t++) {
            int idx[16], shift[16];
            for (int lane = 0; lane < 16; lane++) {
                idx[lane] = 4 * (lane / 2) + k;
                shift[lane] = t + 4 * (lane & 1);
            }
            __m512i h = _mm512_permutex2var_epi32(qh0, _mm512_loadu_si512((const void *)idx), qh1);
            h = _mm512_and_si512(_mm512_srlv_epi32(h, _mm512_loadu_si512((const void *)shift)),
                                 _mm512_set1_epi8(1));
            __m512i v = _mm512_or_si512(r4_two_bit_step(q, k, t), _mm512_slli_epi32(h, 2));
            v = _mm512_mask_or_epi32(v, shifted, v, _mm512_set1_epi8(8));
            store_levels(o, t, _mm512_shuffle_epi8(table, v));
        }
        const __m512i magnitude = _mm512_add_epi32(_mm512_slli_epi32(r4_scale_nibbles(w + 24, k), 1),
                                                   _mm512_set1_epi32(1));
        const __mmask16 negative = (__mmask16)(spread_even(w[16 + k]) | spread_even(w[20 + k]) << 1);
        const __m512i ls = _mm512_mask_sub_epi32(magnitude, negative, _mm512_setzero_si512(), magnitude);
        store_int_scales(o, half_at(w + 2 * k), ls);
    }
    (void)ncols;
}

/* iq4_ks_r4: the 4 rows' f32 scales first, then 544 bytes per super-block
 * column: scales[32] (scale byte ib of row k at 4 ib + k: bit 0 the table
 * half, bits 1-7 the odd code + 127) and qs[512] as above. */
AVX512 static void group_iq4_ks_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                                   lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *w = group + 16 + chunk * 544;
    const __m512i base = table16(lq_iq4k_values), second = table16(lq_iq4k_values + 16);
    __m512i q[8];
    r4_load_quants(w + 32, q);
    const __m256i bytes = _mm256_loadu_si256((const __m256i *)(const void *)w);
    for (int k = 0; k < 4; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        const __m256i sb = byte_of_dwords(bytes, k);
        const __mmask16 shifted = pair_mask(_mm256_test_epi32_mask(sb, _mm256_set1_epi32(1)));
        for (int t = 0; t < 4; t++)
            store_levels(o, t, lookup16(r4_nibble_step(q, k, t), base, second, shifted));
        const __m256i code = _mm256_sub_epi32(_mm256_and_si256(sb, _mm256_set1_epi32(254)),
                                              _mm256_set1_epi32(127));
        store_int_scales(o, lq_load_f32(group + 4 * k), spread_pairs(code));
    }
    (void)ncols;
}

/* one-vector products that decode and multiply each chunk at once */
LQ_PANEL_GEMV(decode_iq4_k)
LQ_PANEL_GEMV(decode_iq2_ks)

const lq_panel_simd_decoder lq_panel_decoders_avx512_iqk[] = {
    {LQ_TYPE_IQ2_K, decode_iq2_k, NULL, lq_gemv_iq2_k_avx512},
    {LQ_TYPE_IQ3_K, decode_iq3_k, NULL, lq_gemv_iq3_k_avx512},
    {LQ_TYPE_IQ4_K, decode_iq4_k, NULL, gemv_decode_iq4_k},
    {LQ_TYPE_IQ5_K, decode_iq5_k, NULL, lq_gemv_iq5_k_avx512},
    {LQ_TYPE_IQ2_KS, decode_iq2_ks, NULL, gemv_decode_iq2_ks},
    {LQ_TYPE_IQ3_KS, decode_iq3_ks, NULL, lq_gemv_iq3_ks_avx512},
    {LQ_TYPE_IQ4_KS, decode_iq4_ks, NULL, lq_gemv_iq4_ks_avx512},
    {LQ_TYPE_IQ4_KSS, decode_iq4_kss, NULL, lq_gemv_iq4_kss_avx512},
    {LQ_TYPE_IQ5_KS, decode_iq5_ks, NULL, lq_gemv_iq5_ks_avx512},
    {LQ_TYPE_IQ2_KL, decode_iq2_kl, NULL, lq_gemv_iq2_kl_avx512},
    {LQ_TYPE_IQ2_K_R4, NULL, group_iq2_k_r4, NULL},
    {LQ_TYPE_IQ3_K_R4, NULL, group_iq3_k_r4, NULL},
    {LQ_TYPE_IQ4_K_R4, NULL, group_iq4_k_r4, NULL},
    {LQ_TYPE_IQ4_KS_R4, NULL, group_iq4_ks_r4, NULL},
    {LQ_TYPE_IQ5_K_R4, NULL, group_iq5_k_r4, NULL},
    {LQ_TYPE_IQ5_KS_R4, NULL, group_iq5_ks_r4, NULL},
};
const int lq_panel_decoders_avx512_iqk_count =
    (int)(sizeof lq_panel_decoders_avx512_iqk / sizeof lq_panel_decoders_avx512_iqk[0]);
#else /* not x86 */
const lq_panel_simd_decoder lq_panel_decoders_avx512_iqk[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx512_iqk_count = 0;
#endif
