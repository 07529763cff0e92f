/*
 * AVX2 decoders of the lattice i-quants (iq2_xxs, iq2_xs, iq2_s, iq3_xxs,
 * iq3_s, iq1_s, iq1_m) and the Bitnet types (iq1_bn, iq2_bn) into the
 * packed layout (panel.h), writing lane order directly, each with its
 * fused GEMV kernel. The scalar decoders in panel_decode_lattice.c are the
 * specification.
 *
 * Half h of a chunk is built as panel_avx2.h's natural-order registers:
 * r[i] holds 16-group g = 8 h + i in its low 128-bit lane and g + 4 in its
 * high one. A 16-group is two grid points of 8 coordinates (iq2, iq1) or
 * four of 4 (iq3), so a register is four 64-bit or eight 32-bit entries
 * of the static grid tables, loaded one by one at indices read from the
 * block bytes and inserted. Sign bits, one
 * byte per 8 weights, are spread over their weights' bytes by vpshufb,
 * tested against the bit of each byte and applied as (x ^ m) - m. The
 * 7-bit sign codes (iq2_xxs, iq2_xs, iq3_xxs) get their parity bit four at
 * a time in a 32-bit word.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include "common.h"
#include "lattice_grids.h"
#include "panel_avx2.h"

enum { SUPER = 256 };

/* ---- signs ---------------------------------------------------------------- */

/* Four 7-bit codes in the bytes of v, each with the eighth bit that makes
 * its parity even: folding a byte onto itself by 4, 2, 1 leaves its parity
 * in bit 0 (bit 7 is clear, so nothing crosses from the byte above into
 * the bits that are read). */
static inline uint32_t parity_signs(uint32_t v) {
    uint32_t p = v ^ (v >> 4);
    p ^= p >> 2;
    p ^= p >> 1;
    return v | (p & 0x01010101u) << 7;
}

/* The four 7-bit codes at bits 0, 7, 14, 21 of aux, one per byte. */
static inline uint32_t spread7(uint32_t aux) {
    return (aux & 0x7fu) | (aux << 1 & 0x7f00u) | (aux << 2 & 0x7f0000u) |
           (aux << 3 & 0x7f000000u);
}

/* Sign bytes t (byte k: the signs of 8 weights; bytes 0, 1 for the low
 * lane's weights 0-7 and 8-15, bytes 2, 3 for the high lane's) -> -1 in
 * the byte of every negative weight, else 0. */
AVX2 AVX2_INLINE __m256i sign_masks(uint32_t t) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                            2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i s = _mm256_shuffle_epi8(_mm256_set1_epi32((int)t), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(s, bit), bit);
}

AVX2 AVX2_INLINE __m256i with_signs(__m256i magnitude, __m256i negative) {
    return _mm256_sub_epi8(_mm256_xor_si256(magnitude, negative), negative);
}

/* Two 16-bit halves: bytes 2 u, 2 u + 1 of a (low lane) and of b (high). */
static inline uint32_t half_pair(uint32_t a, uint32_t b, int u) {
    return (a >> (16 * u) & 0xffffu) | (b >> (16 * u)) << 16;
}

/* ---- grid points ---------------------------------------------------------
 * By scalar loads and inserts: on Zen 3 these beat vpgatherdq / vpgatherdd
 * (iq3_xxs's GEMV ran twice as fast). */

/* Four 8-byte grid points: two per lane. */
AVX2 AVX2_INLINE __m256i points8(const uint64_t *grid, int i0, int i1, int i2, int i3) {
    const __m128i lo = _mm_insert_epi64(_mm_cvtsi64_si128((long long)grid[i0]), (long long)grid[i1], 1);
    const __m128i hi = _mm_insert_epi64(_mm_cvtsi64_si128((long long)grid[i2]), (long long)grid[i3], 1);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* The 4-byte points of indices a[0..3] (low lane) and b[0..3] (high). */
AVX2 AVX2_INLINE __m256i points4(const uint32_t *grid, const int32_t *a, const int32_t *b) {
    return _mm256_setr_epi32((int)grid[a[0]], (int)grid[a[1]], (int)grid[a[2]], (int)grid[a[3]],
                             (int)grid[b[0]], (int)grid[b[1]], (int)grid[b[2]], (int)grid[b[3]]);
}

/* The same for index bytes. */
AVX2 AVX2_INLINE __m256i points4_u8(const uint32_t *grid, const uint8_t *a, const uint8_t *b) {
    return _mm256_setr_epi32((int)grid[a[0]], (int)grid[a[1]], (int)grid[a[2]], (int)grid[a[3]],
                             (int)grid[b[0]], (int)grid[b[1]], (int)grid[b[2]], (int)grid[b[3]]);
}

/* Eight indices: the bytes at q plus (u >> shift) & mask << 8 per lane,
 * for the index arrays of the types with high index bits (computed a
 * chunk at a time before the points are loaded). */
AVX2 AVX2_INLINE void indices8(const uint8_t *q, uint32_t u, __m256i shift, int mask, int32_t *out) {
    const __m256i low = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)q));
    const __m256i high = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)u), shift),
                                          _mm256_set1_epi32(mask));
    _mm256_store_si256((__m256i *)(void *)out, _mm256_or_si256(low, _mm256_slli_epi32(high, 8)));
}

/* ---- scales --------------------------------------------------------------- */

AVX2 AVX2_INLINE void zero_offsets(lq_panel_chunk *out) {
    _mm256_store_ps(out->offset, _mm256_setzero_ps());
    _mm256_store_ps(out->offset + 8, _mm256_setzero_ps());
}

/* Eight nibbles of the little-endian u32 at p as int32 lanes. */
AVX2 AVX2_INLINE __m256i nibbles8(const uint8_t *p) {
    const __m256i shift = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)lq_load_u32(p)), shift),
                            _mm256_set1_epi32(15));
}

/* iq2: d * (0.5 + l) * 0.25, in the codec's order */
AVX2 AVX2_INLINE __m256 iq2_scales(float d, __m256i l) {
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(d),
                                       _mm256_add_ps(_mm256_set1_ps(0.5f), _mm256_cvtepi32_ps(l))),
                         _mm256_set1_ps(0.25f));
}

/* ---- iq2_xxs: d, then per 32: 4 grid bytes, u32 of 4 x 7 sign bits and
 * the scale on top ------------------------------------------------------- */

AVX2 AVX2_INLINE void decode_iq2_xxs(const uint8_t *row, int64_t chunk, int count,
                                     lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 66;
    uint32_t signs[8];
    _Alignas(32) int32_t l[8];
    for (int ib = 0; ib < 8; ib++) {
        const uint32_t aux = lq_load_u32(w + 6 + 8 * ib);
        signs[ib] = parity_signs(spread7(aux));
        l[ib] = (int32_t)(aux >> 28);
    }
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            /* group 8 h + i is points 2 u, 2 u + 1 of block a, g + 4 of a + 2 */
            const int a = 4 * h + i / 2, u = i % 2;
            const uint8_t *qa = w + 2 + 8 * a + 2 * u, *qb = qa + 16;
            r[i] = with_signs(points8(lq_iq2xxs_grid, qa[0], qa[1], qb[0], qb[1]),
                              sign_masks(half_pair(signs[a], signs[a + 2], u)));
        }
        lq_store_half_avx2(out, h, r);
    }
    lq_store_pairs_avx2(out->scale, iq2_scales(lq_half_avx2(w), _mm256_load_si256((const __m256i *)(const void *)l)));
    zero_offsets(out);
    (void)count;
}

/* ---- iq2_xs: d, 32 x u16 (9-bit index | 7 sign bits << 9), scales per 16 -- */

AVX2 AVX2_INLINE void decode_iq2_xs(const uint8_t *row, int64_t chunk, int count,
                                    lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 74;
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            /* points 2 g, 2 g + 1 and 2 g + 8, 2 g + 9 */
            const uint8_t *q = w + 2 + 4 * (8 * h + i);
            const unsigned q0 = lq_load_u16(q), q1 = lq_load_u16(q + 2);
            const unsigned q2 = lq_load_u16(q + 16), q3 = lq_load_u16(q + 18);
            const uint32_t s = parity_signs((q0 >> 9) | (q1 >> 9) << 8 | (q2 >> 9) << 16 | (q3 >> 9) << 24);
            r[i] = with_signs(points8(lq_iq2xs_grid, (int)(q0 & 511), (int)(q1 & 511),
                                      (int)(q2 & 511), (int)(q3 & 511)),
                              sign_masks(s));
        }
        lq_store_half_avx2(out, h, r);
    }
    const float d = lq_half_avx2(w);
    _mm256_store_ps(out->scale, iq2_scales(d, nibbles8(w + 66)));
    _mm256_store_ps(out->scale + 8, iq2_scales(d, nibbles8(w + 70)));
    zero_offsets(out);
    (void)count;
}

/* ---- iq2_s: d, 32 low index bytes, 32 sign bytes, 8 bytes of 2 high index
 * bits per point, scales per 16 ------------------------------------------ */

AVX2 AVX2_INLINE void decode_iq2_s(const uint8_t *row, int64_t chunk, int count,
                                   lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 82;
    /* point 8 m + j: bits 2 j of the u16 at 66 + 2 m */
    _Alignas(32) int32_t index[SUPER / 8];
    const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int m = 0; m < 4; m++)
        indices8(w + 2 + 8 * m, lq_load_u16(w + 66 + 2 * m), shifts, 3, index + 8 * m);
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            const int p = 2 * (8 * h + i);
            r[i] = with_signs(points8(lq_iq2s_grid, index[p], index[p + 1], index[p + 8], index[p + 9]),
                              sign_masks(lq_load_u16(w + 34 + p) | (uint32_t)lq_load_u16(w + 42 + p) << 16));
        }
        lq_store_half_avx2(out, h, r);
    }
    const float d = lq_half_avx2(w);
    _mm256_store_ps(out->scale, iq2_scales(d, nibbles8(w + 74)));
    _mm256_store_ps(out->scale + 8, iq2_scales(d, nibbles8(w + 78)));
    zero_offsets(out);
    (void)count;
}

/* ---- iq3_xxs: d, 64 grid bytes, then per 32 a u32 of 4 x 7 sign bits and
 * the scale on top; d * (0.5 + l) * 0.5 ----------------------------------- */

AVX2 AVX2_INLINE void decode_iq3_xxs(const uint8_t *row, int64_t chunk, int count,
                                     lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 98;
    uint32_t signs[8];
    _Alignas(32) int32_t l[8];
    for (int ib = 0; ib < 8; ib++) {
        const uint32_t aux = lq_load_u32(w + 66 + 4 * ib);
        signs[ib] = parity_signs(spread7(aux));
        l[ib] = (int32_t)(aux >> 28);
    }
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            const int g = 8 * h + i, a = g / 2, u = g % 2;
            r[i] = with_signs(points4_u8(lq_iq3xxs_grid, w + 2 + 4 * g, w + 18 + 4 * g),
                              sign_masks(half_pair(signs[a], signs[a + 2], u)));
        }
        lq_store_half_avx2(out, h, r);
    }
    const __m256 lf = _mm256_cvtepi32_ps(_mm256_load_si256((const __m256i *)(const void *)l));
    const __m256 s = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(lq_half_avx2(w)),
                                                 _mm256_add_ps(_mm256_set1_ps(0.5f), lf)),
                                   _mm256_set1_ps(0.5f));
    lq_store_pairs_avx2(out->scale, s);
    zero_offsets(out);
    (void)count;
}

/* ---- iq3_s: d, 64 low index bytes, 8 bytes of one high index bit per
 * point, 32 sign bytes, scales per 32; d * (1 + 2 l) ----------------------- */

AVX2 AVX2_INLINE void decode_iq3_s(const uint8_t *row, int64_t chunk, int count,
                                   lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 110;
    /* the 64 nine-bit indices first: point 8 k + j takes bit j of qh byte k */
    _Alignas(32) int32_t index[SUPER / 4];
    const __m256i bits = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int k = 0; k < 8; k++)
        indices8(w + 2 + 8 * k, w[66 + k], bits, 1, index + 8 * k);
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            /* points 4 g .. 4 g + 3 and 4 g + 16 .. 4 g + 19 */
            const int g = 8 * h + i;
            r[i] = with_signs(points4(lq_iq3s_grid, index + 4 * g, index + 4 * g + 16),
                              sign_masks(lq_load_u16(w + 74 + 2 * g) |
                                         (uint32_t)lq_load_u16(w + 82 + 2 * g) << 16));
        }
        lq_store_half_avx2(out, h, r);
    }
    const __m256i l = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32((int)lq_load_u32(w + 106)),
                          _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
        _mm256_set1_epi32(15));
    const __m256i odd = _mm256_add_epi32(_mm256_slli_epi32(l, 1), _mm256_set1_epi32(1));
    lq_store_pairs_avx2(out->scale, _mm256_mul_ps(_mm256_set1_ps(lq_half_avx2(w)), _mm256_cvtepi32_ps(odd)));
    zero_offsets(out);
    (void)count;
}

/* ---- iq1_s, iq1_m: levels 8 coordinate +- 1, scale dl / 8 ------------------ */

/* 8 c + shift for the signed coordinates c in {-1, 0, 1} of four points. */
AVX2 AVX2_INLINE __m256i iq1_levels(__m256i coordinates, __m256i shift) {
    return _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), coordinates), shift);
}

/* d, 32 low index bytes, 8 x u16 (3 high index bits per point, 3-bit scale
 * << 12, negative shift << 15) per 32 */
AVX2 AVX2_INLINE void decode_iq1_s(const uint8_t *row, int64_t chunk, int count,
                                   lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 50;
    unsigned qh[8];
    _Alignas(32) int32_t l[8];
    for (int ib = 0; ib < 8; ib++) {
        qh[ib] = lq_load_u16(w + 34 + 2 * ib);
        l[ib] = (int32_t)(2 * (qh[ib] >> 12 & 7) + 1);
    }
    /* point 8 m + j: bits 3 (j % 4) of the u16 at 34 + 4 m + 2 (j / 4) */
    _Alignas(32) int32_t index[SUPER / 8];
    const __m256i shifts = _mm256_setr_epi32(0, 3, 6, 9, 16, 19, 22, 25);
    for (int m = 0; m < 4; m++)
        indices8(w + 2 + 8 * m, lq_load_u32(w + 34 + 4 * m), shifts, 7, index + 8 * m);
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            /* points 2 u, 2 u + 1 of block a (low lane) and of a + 2 */
            const int a = 4 * h + i / 2, u = i % 2, p = 4 * a + 2 * u;
            const __m256i c = points8(lq_iq1s_grid, index[p], index[p + 1], index[p + 8], index[p + 9]);
            const __m128i sa = _mm_set1_epi8(qh[a] & 0x8000u ? -1 : 1);
            const __m128i sb = _mm_set1_epi8(qh[a + 2] & 0x8000u ? -1 : 1);
            r[i] = iq1_levels(c, _mm256_inserti128_si256(_mm256_castsi128_si256(sa), sb, 1));
        }
        lq_store_half_avx2(out, h, r);
    }
    const __m256 lf = _mm256_cvtepi32_ps(_mm256_load_si256((const __m256i *)(const void *)l));
    lq_store_pairs_avx2(out->scale, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(lq_half_avx2(w)), lf),
                                                  _mm256_set1_ps(0.125f)));
    zero_offsets(out);
    (void)count;
}

/* 32 low index bytes, 16 bytes (per 8 weights a nibble: 3 high index bits
 * and the negative shift), 4 x u16 of four 3-bit scales per 16 whose top
 * nibbles hold d */
AVX2 AVX2_INLINE void decode_iq1_m(const uint8_t *row, int64_t chunk, int count,
                                   lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 56;
    const uint64_t sc = (uint64_t)lq_load_u32(w + 48) | (uint64_t)lq_load_u32(w + 52) << 32;
    const uint16_t dbits = (uint16_t)((sc >> 12 & 0xf) | (sc >> 24 & 0xf0) | (sc >> 36 & 0xf00) |
                                      (sc >> 48 & 0xf000));
    const float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(dbits)));
    /* the shift of each group of 8 weights: bit 3 of its nibble */
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
                                            1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    const long long bit3 = 0x0808080808080808ll, bit7 = (long long)0x8080808080808080ull;
    const __m256i shift_bit = _mm256_setr_epi64x(bit3, bit7, bit3, bit7);
    /* point 8 m + j: bits 4 j of the u32 at 32 + 4 m */
    _Alignas(32) int32_t index[SUPER / 8];
    const __m256i nibble = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    for (int m = 0; m < 4; m++)
        indices8(w + 8 * m, lq_load_u32(w + 32 + 4 * m), nibble, 7, index + 8 * m);
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            const int g = 8 * h + i, p = 2 * g;
            const unsigned ha = w[32 + g], hb = w[36 + g];
            const __m256i c = points8(lq_iq1s_grid, index[p], index[p + 1], index[p + 8], index[p + 9]);
            const __m256i hbytes = _mm256_shuffle_epi8(_mm256_set1_epi16((short)(ha | hb << 8)), spread);
            /* -1 where the shift bit is set, else +1 */
            const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(hbytes, shift_bit), shift_bit);
            r[i] = iq1_levels(c, _mm256_or_si256(set, _mm256_set1_epi8(1)));
        }
        lq_store_half_avx2(out, h, r);
    }
    const __m256i shifts = _mm256_setr_epi32(0, 3, 6, 9, 16, 19, 22, 25);
    for (int k = 0; k < 2; k++) {
        /* groups 8 k .. 8 k + 7: words 2 k, 2 k + 1 */
        const __m256i l = _mm256_and_si256(
            _mm256_srlv_epi32(_mm256_set1_epi32((int)(uint32_t)(sc >> (32 * k))), shifts), _mm256_set1_epi32(7));
        const __m256i odd = _mm256_add_epi32(_mm256_slli_epi32(l, 1), _mm256_set1_epi32(1));
        _mm256_store_ps(out->scale + 8 * k, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(odd)),
                                                          _mm256_set1_ps(0.125f)));
    }
    zero_offsets(out);
    (void)count;
}

/* ---- Bitnet: full chunks of four 64-weight blocks ------------------------- */

AVX2 AVX2_INLINE void bn_scales(float d, lq_panel_chunk *out) {
    _mm256_store_ps(out->scale, _mm256_set1_ps(d));
    _mm256_store_ps(out->scale + 8, _mm256_set1_ps(d));
    zero_offsets(out);
}

/* f32 row scale, then 16 bytes a block: byte j holds trit + 1 of weights
 * j, j + 16, j + 32, j + 48 at bits 0, 2, 4, 6; half h is blocks 2 h
 * (low lanes) and 2 h + 1, group i of both at bits 2 i */
AVX2 AVX2_INLINE void decode_iq2_bn(const uint8_t *row, int64_t chunk, int count,
                                    lq_panel_chunk *out) {
    const uint8_t *b = row + 4 + chunk * 64;
    for (int h = 0; h < 2; h++) {
        const __m256i q = lq_load_pair_avx2(b + 32 * h, b + 32 * h + 16);
        __m256i r[4];
        for (int i = 0; i < 4; i++)
            r[i] = _mm256_sub_epi8(lq_bits_avx2(q, lq_lane_shifts_avx2(2 * i, 2 * i), 3), _mm256_set1_epi8(1));
        lq_store_half_avx2(out, h, r);
    }
    bn_scales(lq_load_f32(row), out);
    (void)count;
}

/* fp16 row scale, then 13 bytes a block: group i of 16 has weights 0-14 as
 * five trits in each of bytes 3 i .. 3 i + 2 and weight 15 as trit i of
 * byte 12. A trit t of a byte: (3 (byte x 3^(4 - t) mod 256)) >> 8, the
 * scalar decoder's (v + v / 2) >> 7; bytes multiplied in 16-bit lanes, the
 * even and the odd ones apart. Every 16-byte load stays within the
 * chunk's 52 bytes: the last block's is taken 3 bytes early. */
AVX2 AVX2_INLINE void decode_iq1_bn(const uint8_t *row, int64_t chunk, int count,
                                    lq_panel_chunk *out) {
    const uint8_t *b = row + 2 + chunk * 52;
    const __m256i low_byte = _mm256_set1_epi16(0xff), three = _mm256_set1_epi16(3);
    for (int h = 0; h < 2; h++) {
        const int back = 3 * h; /* block 2 h + 1 loaded from 13 - back */
        const __m256i q = lq_load_pair_avx2(b + 26 * h, b + 26 * h + 13 - back);
        const __m256i lift = _mm256_setr_epi32(0, 0, 0, 0, back * 0x01010101, back * 0x01010101,
                                               back * 0x01010101, back * 0x01010101);
        __m256i r[4];
        for (int i = 0; i < 4; i++) {
            const char b0 = (char)(3 * i), b1 = (char)(3 * i + 1), b2 = (char)(3 * i + 2);
            const __m256i pick = _mm256_add_epi8(
                _mm256_broadcastsi128_si256(
                    _mm_setr_epi8(b0, b0, b0, b0, b0, b1, b1, b1, b1, b1, b2, b2, b2, b2, b2, 12)),
                lift);
            const __m256i x = _mm256_shuffle_epi8(q, pick);
            /* 3^(4 - t) for the five trits of each byte, then trit i of byte 12 */
            const char last = (char)(i == 0 ? 81 : i == 1 ? 27 : i == 2 ? 9 : 3);
            const __m256i m = _mm256_broadcastsi128_si256(
                _mm_setr_epi8(81, 27, 9, 3, 1, 81, 27, 9, 3, 1, 81, 27, 9, 3, 1, last));
            const __m256i even = _mm256_and_si256(_mm256_mullo_epi16(x, m), low_byte);
            const __m256i odd = _mm256_and_si256(
                _mm256_mullo_epi16(_mm256_srli_epi16(x, 8), _mm256_srli_epi16(m, 8)), low_byte);
            const __m256i te = _mm256_srli_epi16(_mm256_mullo_epi16(even, three), 8);
            const __m256i to = _mm256_srli_epi16(_mm256_mullo_epi16(odd, three), 8);
            r[i] = _mm256_sub_epi8(_mm256_or_si256(te, _mm256_slli_epi16(to, 8)), _mm256_set1_epi8(1));
        }
        lq_store_half_avx2(out, h, r);
    }
    bn_scales(lq_half_avx2(row), out);
    (void)count;
}

LQ_PANEL_GEMV_AVX2(decode_iq2_xxs, LQ_TYPE_IQ2_XXS)
LQ_PANEL_GEMV_AVX2(decode_iq2_xs, LQ_TYPE_IQ2_XS)
LQ_PANEL_GEMV_AVX2(decode_iq2_s, LQ_TYPE_IQ2_S)
LQ_PANEL_GEMV_AVX2(decode_iq3_xxs, LQ_TYPE_IQ3_XXS)
LQ_PANEL_GEMV_AVX2(decode_iq3_s, LQ_TYPE_IQ3_S)
LQ_PANEL_GEMV_AVX2(decode_iq1_s, LQ_TYPE_IQ1_S)
LQ_PANEL_GEMV_AVX2(decode_iq1_m, LQ_TYPE_IQ1_M)
LQ_PANEL_GEMV_AVX2(decode_iq2_bn, LQ_TYPE_IQ2_BN)
LQ_PANEL_GEMV_AVX2(decode_iq1_bn, LQ_TYPE_IQ1_BN)

const lq_panel_simd_decoder lq_panel_decoders_avx2_lattice[] = {
    {LQ_TYPE_IQ2_XXS, decode_iq2_xxs, NULL, gemv_decode_iq2_xxs},
    {LQ_TYPE_IQ2_XS, decode_iq2_xs, NULL, gemv_decode_iq2_xs},
    {LQ_TYPE_IQ2_S, decode_iq2_s, NULL, gemv_decode_iq2_s},
    {LQ_TYPE_IQ3_XXS, decode_iq3_xxs, NULL, gemv_decode_iq3_xxs},
    {LQ_TYPE_IQ3_S, decode_iq3_s, NULL, gemv_decode_iq3_s},
    {LQ_TYPE_IQ1_S, decode_iq1_s, NULL, gemv_decode_iq1_s},
    {LQ_TYPE_IQ1_M, decode_iq1_m, NULL, gemv_decode_iq1_m},
    {LQ_TYPE_IQ2_BN, decode_iq2_bn, NULL, gemv_decode_iq2_bn},
    {LQ_TYPE_IQ1_BN, decode_iq1_bn, NULL, gemv_decode_iq1_bn},
};
const int lq_panel_decoders_avx2_lattice_count =
    (int)(sizeof lq_panel_decoders_avx2_lattice / sizeof lq_panel_decoders_avx2_lattice[0]);

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx2_lattice[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx2_lattice_count = 0;

#endif
