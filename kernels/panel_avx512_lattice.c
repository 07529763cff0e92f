/*
 * AVX-512 decoders of the lattice i-quants (iq2_xxs, iq2_xs, iq2_s,
 * iq3_xxs, iq3_s, iq1_s, iq1_m), the Bitnet types (iq1_bn, iq2_bn) and the
 * group decoders of their interleaved forms (iq2_xxs_r4 .. iq3_s_r4,
 * iq2_bn_r4) and of iq1_s_r4, iq1_m_r4 (formats of their own), each with a
 * fused one-vector product. The scalar decoders of panel_decode_lattice.c
 * are the specification; an interleaved form's layout is in
 * libquant/interleaved_iquants.c, interleaved_legacy.c, lattice_iq1_r4.c.
 *
 * A chunk is decoded into registers (chunk_regs: the four lane-order steps
 * and the 16 scales), which the panel decoders store and the GEMVs multiply
 * at once with the tile kernel's arithmetic (dot_regs = lq_chunk_dot), so a
 * vector alone gets the same bits as in a tile.
 *
 * Grid types: the magnitudes are built in natural order, register q holding
 * 16-group 4 m + q in its 128-bit lane m, from grid points read by scalar
 * loads; one in-lane 4 x 4 dword transpose gives the lane-order steps. Signs
 * are applied on the steps with byte masks (vptestmb): step s, lane L, byte j
 * is weight 16 L + 4 s + j, whose sign is bit 4 (s & 1) + j of sign byte
 * 2 L + s / 2 (one sign byte per 8 weights, as the formats store them).
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <string.h>

#include "common.h"
#include "lattice_grids.h"
#include "panel_avx512.h"

#define UNROLL _Pragma("GCC unroll 16")

/* f16 by vcvtph2ps (the software conversion branches) */
AVX512 INLINE float f16_at(const uint8_t *p) { return _cvtsh_ss(lq_load_u16(p)); }

enum { SUPER = 256 };

/* 32 16-bit constants, first word lowest */
#define WORDS(...) _mm512_loadu_si512((const void *)(const int16_t[32]){__VA_ARGS__})

typedef struct chunk_regs {
    __m512i step[4];
    __m512 scale;
} chunk_regs;

AVX512 INLINE void store_regs(const chunk_regs *c, lq_panel_chunk *out) {
    UNROLL
    for (int s = 0; s < 4; s++)
        _mm512_store_si512((void *)(out->level + 64 * s), c->step[s]);
    _mm512_store_ps(out->scale, c->scale);
    _mm512_store_ps(out->offset, _mm512_setzero_ps());
}

/* lq_chunk_dot on registers (no offsets): the same operations on the same
 * values */
AVX512 INLINE __m512 dot_regs(const chunk_regs *w, const lq_act_chunk *a, __m512 sum) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512i isum = _mm512_setzero_si512(), wsum = _mm512_setzero_si512();
    UNROLL
    for (int s = 0; s < 4; s++) {
        wsum = _mm512_dpbusd_epi32(wsum, bias, w->step[s]);
        isum = _mm512_dpbusd_epi32(isum, _mm512_load_si512((const void *)(a->biased + 64 * s)),
                                   w->step[s]);
    }
    const __m512 exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(isum, wsum));
    return _mm512_fmadd_ps(exact, _mm512_mul_ps(w->scale, _mm512_load_ps(a->d)), sum);
}

/* ---- building blocks ------------------------------------------------------ */

/* natural-order registers (r[q] lane m = group 4 m + q) -> lane-order steps */
AVX512 INLINE void transpose_steps(const __m512i r[4], __m512i step[4]) {
    const __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    step[0] = _mm512_unpacklo_epi64(t0, t2);
    step[1] = _mm512_unpackhi_epi64(t0, t2);
    step[2] = _mm512_unpacklo_epi64(t1, t3);
    step[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* 8-coordinate points (iq2, iq1: 32 a chunk): register q holds points
 * 8 m + 2 q, 8 m + 2 q + 1 in lane m; 4-coordinate points (iq3: 64 a
 * chunk): register q lane m holds points 16 m + 4 q .. 16 m + 4 q + 3.
 * Grid points by scalar loads and inserts, their indices computed in
 * general registers from the block bytes, INDEX(at, k, p) for point p
 * (row k of an interleaved group). Measured slower on Zen 5: vpgatherdq /
 * vpgatherdd (all or half of the points), indices computed in vectors and
 * read back from memory, points stored into lane order by scalar stores
 * (the vector loads wait for the stores). */
#define GRID8_STEPS(grid, INDEX, at, k, step)                                                  \
    do {                                                                                      \
        __m512i r_[4];                                                                        \
        UNROLL for (int q_ = 0; q_ < 4; q_++) {                                               \
            const int p_ = 2 * q_;                                                            \
            r_[q_] = _mm512_set_epi64(                                                        \
                (long long)grid[INDEX(at, k, p_ + 25)], (long long)grid[INDEX(at, k, p_ + 24)], \
                (long long)grid[INDEX(at, k, p_ + 17)], (long long)grid[INDEX(at, k, p_ + 16)], \
                (long long)grid[INDEX(at, k, p_ + 9)], (long long)grid[INDEX(at, k, p_ + 8)],   \
                (long long)grid[INDEX(at, k, p_ + 1)], (long long)grid[INDEX(at, k, p_)]);      \
        }                                                                                     \
        transpose_steps(r_, step);                                                            \
    } while (0)

#define GRID_PAIR(grid, INDEX, at, k, p)                                                      \
    (long long)((uint64_t)grid[INDEX(at, k, p)] | (uint64_t)grid[INDEX(at, k, (p) + 1)] << 32)
#define GRID4_STEPS(grid, INDEX, at, k, step)                                                  \
    do {                                                                                      \
        __m512i r_[4];                                                                        \
        UNROLL for (int q_ = 0; q_ < 4; q_++) {                                               \
            const int p_ = 4 * q_;                                                            \
            r_[q_] = _mm512_set_epi64(                                                        \
                GRID_PAIR(grid, INDEX, at, k, p_ + 50), GRID_PAIR(grid, INDEX, at, k, p_ + 48), \
                GRID_PAIR(grid, INDEX, at, k, p_ + 34), GRID_PAIR(grid, INDEX, at, k, p_ + 32), \
                GRID_PAIR(grid, INDEX, at, k, p_ + 18), GRID_PAIR(grid, INDEX, at, k, p_ + 16), \
                GRID_PAIR(grid, INDEX, at, k, p_ + 2), GRID_PAIR(grid, INDEX, at, k, p_));      \
        }                                                                                     \
        transpose_steps(r_, step);                                                            \
    } while (0)

/* iq2_s, iq3_s: the low index bytes and the high bits as one 64-bit word
 * (bits 2 p or p: the qh bytes in order) */
typedef struct split_indices {
    const uint8_t *low;
    uint64_t high;
} split_indices;

/* bits [shift, shift + width) of v at bit 8 */
INLINE unsigned bits_at8(uint64_t v, int shift, unsigned mask) {
    return (unsigned)((shift >= 8 ? v >> (shift - 8) : v << (8 - shift)) & (uint64_t)(mask << 8));
}

/* the index of point p of each format (layouts below) */
INLINE unsigned index_iq2_xxs(const uint8_t *w, int k, int p) { (void)k; return w[2 + 8 * (p / 4) + p % 4]; }
INLINE unsigned index_iq2_xs(const uint8_t *w, int k, int p) { (void)k; return lq_load_u16(w + 2 + 2 * p) & 511u; }
INLINE unsigned index_iq2_s(split_indices at, int stride, int p) {
    return at.low[stride * (p / 4) + p % 4] | bits_at8(at.high, 2 * p, 3u);
}
INLINE unsigned index_iq3_xxs(const uint8_t *w, int k, int p) { (void)k; return w[2 + p]; }
INLINE unsigned index_iq3_s(split_indices at, int k, int p) {
    (void)k;
    return at.low[p] | bits_at8(at.high, p, 1u);
}
/* iq1_s: the low bytes `stride` apart a block of 4 points, the 8 words of
 * 3 high bits per point as two 64-bit words */
typedef struct iq1s_indices {
    const uint8_t *low;
    uint64_t high[2];
} iq1s_indices;

INLINE unsigned index_iq1_s(iq1s_indices at, int k, int p) {
    const int block = p / 4;
    (void)k;
    return at.low[p] | bits_at8(at.high[block / 4], 16 * (block % 4) + 3 * (p % 4), 7u);
}
/* low byte of point i of a block at 4 i + k (at.low = block 0 + k) */
INLINE unsigned index_iq1_s_r4(iq1s_indices at, int k, int p) {
    const int block = p / 4;
    (void)k;
    return at.low[24 * block + 4 * (p % 4)] | bits_at8(at.high[block / 4], 16 * (block % 4) + 3 * (p % 4), 7u);
}
/* iq1_m: nibble p of the 16 qh bytes (as two 64-bit words) */
INLINE unsigned index_iq1_m(iq1s_indices at, int k, int p) {
    (void)k;
    return at.low[p] | bits_at8(at.high[p / 16], 4 * (p % 16), 7u);
}
INLINE unsigned index_iq2_xxs_r4(const uint8_t *b, int k, int p) { return b[136 + 16 * (p / 4) + 4 * k + p % 4]; }
INLINE unsigned index_iq3_xxs_r4(const uint8_t *b, int k, int p) { return b[136 + 32 * (p / 8) + 8 * k + p % 8]; }
INLINE unsigned index_iq2_xs_r4(const uint8_t *b, int k, int p) {
    return lq_load_u16(b + 8 + 32 * (p / 4) + 8 * k + 2 * (p % 4)) & 511u;
}

/* grid byte e = i + 4 h of sub-block s at 8 + 32 s + 8 i + 4 h + k */
INLINE unsigned index_iq3_s_r4(split_indices at, int k, int p) {
    const int e = p % 8;
    (void)k;
    return at.low[32 * (p / 8) + 8 * (e % 4) + 4 * (e / 4)] | bits_at8(at.high, p, 1u);
}
/* low byte of point i of a block at 4 i + k (at.low = block 0 + k) */
INLINE unsigned index_iq1_m_r4(iq1s_indices at, int k, int p) {
    (void)k;
    return at.low[28 * (p / 4) + 4 * (p % 4)] | bits_at8(at.high[p / 16], 4 * (p % 16), 7u);
}

/* The 32 sign bytes of a chunk (byte p: weights 8 p .. 8 p + 7) applied to
 * the steps. */
AVX512 INLINE void apply_signs(__m256i signs, __m512i step[4]) {
    const __m512i per_lane = _mm512_cvtepu16_epi32(signs); /* lane L: sign bytes 2 L, 2 L + 1 */
    const __m512i zero = _mm512_setzero_si512();
    UNROLL
    for (int s = 0; s < 4; s++) {
        const int b = s / 2; /* byte b of each dword to its 4 bytes */
        const __m512i spread = _mm512_shuffle_epi8(
            per_lane, _mm512_set4_epi32((12 + b) * 0x01010101, (8 + b) * 0x01010101, (4 + b) * 0x01010101,
                                        b * 0x01010101));
        const int bit = 4 * (s & 1);
        const __m512i test = _mm512_set1_epi32((int)(0x08040201u << bit));
        const __mmask64 negative = _mm512_test_epi8_mask(spread, test);
        step[s] = _mm512_mask_sub_epi8(step[s], negative, zero, step[s]);
    }
}

/* 8 scales (one per 32 weights) on both 16-groups of each */
AVX512 INLINE __m512 pair_scales(__m256 eight) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                                 _mm512_castps256_ps512(eight));
}

/* 16 nibbles of 8 bytes (group g: nibble g % 2 of byte g / 2) as int32 */
AVX512 INLINE __m512i nibbles16(uint64_t bytes) {
    const __m128i twice = _mm_shuffle_epi8(_mm_cvtsi64_si128((long long)bytes),
                                           _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
    const __m512i v = _mm512_cvtepu8_epi32(twice);
    return _mm512_and_si512(_mm512_srlv_epi32(v, _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4,
                                                                  0, 4, 0, 4)),
                            _mm512_set1_epi32(15));
}

/* iq2: d * (0.5 + l) * 0.25 (the codec's order) */
AVX512 INLINE __m512 iq2_scales(float d, __m512i l) {
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(d),
                                       _mm512_add_ps(_mm512_set1_ps(0.5f), _mm512_cvtepi32_ps(l))),
                         _mm512_set1_ps(0.25f));
}

/* seven sign bits of each byte plus the eighth that makes the parity even */
AVX512 INLINE __m256i parity_signs(__m256i v) {
    __m256i p = _mm256_xor_si256(v, _mm256_srli_epi32(v, 4));
    p = _mm256_xor_si256(p, _mm256_srli_epi32(p, 2));
    p = _mm256_xor_si256(p, _mm256_srli_epi32(p, 1));
    return _mm256_or_si256(v, _mm256_slli_epi32(_mm256_and_si256(p, _mm256_set1_epi8(1)), 7));
}

/* the four 7-bit codes at bits 0, 7, 14, 21 of each dword, one per byte */
AVX512 INLINE __m256i spread7(__m256i a) {
    const __m256i m = _mm256_set1_epi32(0x7f);
    return _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(a, m), _mm256_and_si256(_mm256_slli_epi32(a, 1), _mm256_slli_epi32(m, 8))),
        _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(a, 2), _mm256_slli_epi32(m, 16)),
                        _mm256_and_si256(_mm256_slli_epi32(a, 3), _mm256_slli_epi32(m, 24))));
}

/* interleaved forms keep the 7 sign bits of a byte as their running XOR
 * (in bits 1..7): the 8 signs are t ^ (t << 1) */
AVX512 INLINE __m256i running_xor_signs(__m256i word) {
    const __m256i t = _mm256_and_si256(_mm256_srli_epi32(word, 1), _mm256_set1_epi8(0x7f));
    return _mm256_xor_si256(t, _mm256_add_epi8(t, t));
}

/* the interleaved scale: bit 0 of each byte, byte t giving bit t */
AVX512 INLINE __m256i interleaved_scale(__m256i word) {
    return _mm256_srli_epi32(
        _mm256_mullo_epi32(_mm256_and_si256(word, _mm256_set1_epi8(1)), _mm256_set1_epi32(0x01020408)), 24);
}

/* dword k, 4 + k, .., 28 + k of 128 bytes (a row of an interleaved group) */
AVX512 INLINE __m256i row_dwords(const uint8_t *p, int k) {
    const __m512i lo = _mm512_loadu_si512((const void *)p), hi = _mm512_loadu_si512((const void *)(p + 64));
    const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                                         _mm512_set1_epi32(k));
    return _mm512_castsi512_si256(_mm512_permutex2var_epi32(lo, idx, hi));
}

/* ---- iq2_xxs: d, then per 32: 4 grid bytes, u32 of 4 x 7 sign bits and a
 * 4-bit scale on top ------------------------------------------------------ */

AVX512 INLINE void regs_iq2_xxs(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *w = row + chunk * 66;
    const __m512i all = _mm512_loadu_si512((const void *)(w + 2));
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i aux = _mm512_castsi512_si256(_mm512_permutexvar_epi32(odd, all));
    GRID8_STEPS(lq_iq2xxs_grid, index_iq2_xxs, w, 0, out->step);
    apply_signs(parity_signs(spread7(aux)), out->step);
    out->scale = pair_scales(_mm512_castps512_ps256(
        iq2_scales(f16_at(w), _mm512_castsi256_si512(_mm256_srli_epi32(aux, 28)))));
}

/* ---- iq2_xs: d, 32 x u16 (9-bit index | 7 sign bits << 9), 16 nibble
 * scales ------------------------------------------------------------------ */

AVX512 INLINE void iq2_xs_common(__m512i signs16, float d, uint64_t scale_bytes, chunk_regs *out) {
    apply_signs(_mm512_cvtepi16_epi8(signs16), out->step);
    out->scale = iq2_scales(d, nibbles16(scale_bytes));
}

AVX512 INLINE void regs_iq2_xs(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *w = row + chunk * 74;
    const __m512i e = _mm512_loadu_si512((const void *)(w + 2));
    const __m512i t = _mm512_srli_epi16(e, 9);
    __m512i p = _mm512_xor_si512(t, _mm512_srli_epi16(t, 4));
    p = _mm512_xor_si512(p, _mm512_srli_epi16(p, 2));
    p = _mm512_xor_si512(p, _mm512_srli_epi16(p, 1));
    const __m512i signs = _mm512_or_si512(t, _mm512_slli_epi16(_mm512_and_si512(p, _mm512_set1_epi16(1)), 7));
    uint64_t sc;
    memcpy(&sc, w + 66, 8);
    GRID8_STEPS(lq_iq2xs_grid, index_iq2_xs, w, 0, out->step);
    iq2_xs_common(signs, f16_at(w), sc, out);
}

/* ---- iq2_s: d, 32 low index bytes, 32 sign bytes, 8 bytes of 2 high index
 * bits per point, 16 nibble scales ------------------------------------------ */

AVX512 INLINE void iq2_s_common(__m256i signs, float d, uint64_t scale_bytes, chunk_regs *out) {
    apply_signs(signs, out->step);
    out->scale = iq2_scales(d, nibbles16(scale_bytes));
}

AVX512 INLINE void regs_iq2_s(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *w = row + chunk * 82;
    uint64_t sc;
    memcpy(&sc, w + 74, 8);
    GRID8_STEPS(lq_iq2s_grid, index_iq2_s, ((split_indices){w + 2, lq_load_u64(w + 66)}), 4, out->step);
    iq2_s_common(_mm256_loadu_si256((const __m256i *)(const void *)(w + 34)), f16_at(w), sc, out);
}

/* ---- iq3_xxs: d, 64 grid bytes, per 32 a u32 of 4 x 7 sign bits and the
 * scale on top; d * (0.5 + l) * 0.5 ---------------------------------------- */

AVX512 INLINE __m512 iq3xxs_scales(float d, __m256i l) {
    const __m256 s = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(d),
                                                 _mm256_add_ps(_mm256_set1_ps(0.5f), _mm256_cvtepi32_ps(l))),
                                   _mm256_set1_ps(0.5f));
    return pair_scales(s);
}

AVX512 INLINE void regs_iq3_xxs(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *w = row + chunk * 98;
    GRID4_STEPS(lq_iq3xxs_grid, index_iq3_xxs, w, 0, out->step);
    const __m256i aux = _mm256_loadu_si256((const __m256i *)(const void *)(w + 66));
    apply_signs(parity_signs(spread7(aux)), out->step);
    out->scale = iq3xxs_scales(f16_at(w), _mm256_srli_epi32(aux, 28));
}

/* ---- iq3_s: d, 64 low index bytes, 8 bytes of one high index bit per
 * point, 32 sign bytes, 8 nibble scales per 32; d * (1 + 2 l) -------------- */

AVX512 INLINE __m512 iq3s_scales(float d, __m512i l) {
    const __m512i odd = _mm512_add_epi32(_mm512_slli_epi32(l, 1), _mm512_set1_epi32(1));
    return _mm512_mul_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(odd));
}

AVX512 INLINE void regs_iq3_s(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *w = row + chunk * 110;
    GRID4_STEPS(lq_iq3s_grid, index_iq3_s, ((split_indices){w + 2, lq_load_u64(w + 66)}), 0, out->step);
    apply_signs(_mm256_loadu_si256((const __m256i *)(const void *)(w + 74)), out->step);
    /* nibbles16 spreads 8 bytes to 16 groups: 4 bytes give the 8 scales,
     * each on two groups */
    const __m512i l16 = nibbles16(lq_load_u32(w + 106));
    const __m512i l = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                                               l16);
    out->scale = iq3s_scales(f16_at(w), l);
}

/* ---- iq1_s, iq1_m: levels 8 coordinate +- 1, scale dl / 8 ------------------ */

/* 8 c for the coordinates c in {-1, 0, 1} */
AVX512 INLINE __m512i times8(__m512i c) {
    return _mm512_and_si512(_mm512_slli_epi16(c, 3), _mm512_set1_epi8((char)0xf8));
}

/* d, 32 low index bytes, 8 x u16 (3 high index bits per point, 3-bit scale
 * << 12, negative shift << 15) per 32 */
/* the shifts and scales of iq1_s's 8 words (3-bit scale << 12, negative
 * shift << 15) */
AVX512 INLINE void iq1_s_finish(__m128i qh, float d, chunk_regs *out) {
    /* lane L is in block L / 2 */
    const __m512i words = _mm512_permutexvar_epi16(
        WORDS(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6,
                          6, 7, 7, 7, 7),
        _mm512_castsi128_si512(qh));
    const __mmask16 negative = _mm512_test_epi32_mask(words, _mm512_set1_epi32((int)0x80008000u));
    const __m512i shift = _mm512_mask_blend_epi32(negative, _mm512_set1_epi8(1), _mm512_set1_epi8(-1));
    UNROLL
    for (int s = 0; s < 4; s++)
        out->step[s] = _mm512_add_epi8(times8(out->step[s]), shift);
    const __m256i l = _mm256_and_si256(_mm256_srli_epi32(_mm256_cvtepu16_epi32(qh), 12), _mm256_set1_epi32(7));
    const __m256i odd = _mm256_add_epi32(_mm256_slli_epi32(l, 1), _mm256_set1_epi32(1));
    out->scale = pair_scales(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(odd)),
                                           _mm256_set1_ps(0.125f)));
}

AVX512 INLINE void regs_iq1_s(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *w = row + chunk * 50;
    const __m128i qh = _mm_loadu_si128((const __m128i *)(const void *)(w + 34));
    const iq1s_indices at = {w + 2, {lq_load_u64(w + 34), lq_load_u64(w + 42)}};
    GRID8_STEPS(lq_iq1s_grid, index_iq1_s, at, 0, out->step);
    iq1_s_finish(qh, f16_at(w), out);
}

/* the shifts of iq1_m's 16 bytes (per point a nibble: 3 high index bits,
 * the negative shift) */
AVX512 INLINE void iq1_m_shifts(__m128i qh, __m512i step[4]) {
    /* step s of lane L is point 2 L + s / 2: shift bit 3 or 7 of byte L */
    const __m512i bytes = _mm512_cvtepu8_epi32(qh);
    const __m512i one = _mm512_set1_epi8(1), minus_one = _mm512_set1_epi8(-1);
    UNROLL
    for (int s = 0; s < 4; s++) {
        const __mmask16 negative = _mm512_test_epi32_mask(bytes, _mm512_set1_epi32(s < 2 ? 0x08 : 0x80));
        step[s] = _mm512_add_epi8(times8(step[s]), _mm512_mask_blend_epi32(negative, one, minus_one));
    }
}

/* 32 low index bytes, 16 bytes (per point a nibble: 3 high index bits and
 * the negative shift), 4 x u16 of four 3-bit scales per 16 whose top
 * nibbles hold d */
AVX512 INLINE void regs_iq1_m(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *w = row + chunk * 56;
    const __m128i qh = _mm_loadu_si128((const __m128i *)(const void *)(w + 32));
    const iq1s_indices at = {w, {lq_load_u64(w + 32), lq_load_u64(w + 40)}};
    GRID8_STEPS(lq_iq1s_grid, index_iq1_m, at, 0, out->step);
    iq1_m_shifts(qh, out->step);
    const uint64_t sc = (uint64_t)lq_load_u32(w + 48) | (uint64_t)lq_load_u32(w + 52) << 32;
    const uint16_t dbits = (uint16_t)((sc >> 12 & 0xf) | (sc >> 24 & 0xf0) | (sc >> 36 & 0xf00) |
                                      (sc >> 48 & 0xf000));
    const float d = _cvtsh_ss(dbits);
    /* group g: bits 3 (g % 4) of word g / 4 */
    const __m512i words = _mm512_permutexvar_epi16(
        WORDS(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6,
                          6, 7, 7, 7, 7),
        _mm512_castsi128_si512(_mm_cvtsi64_si128((long long)sc)));
    const __m512i l = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(words)),
                          _mm512_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9)),
        _mm512_set1_epi32(7));
    const __m512i odd = _mm512_add_epi32(_mm512_slli_epi32(l, 1), _mm512_set1_epi32(1));
    out->scale = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(odd)), _mm512_set1_ps(0.125f));
}

/* ---- Bitnet: full chunks of four 64-weight blocks ------------------------- */

/* f32 row scale, then 16 bytes a block: byte j holds trit + 1 of weights
 * j, j + 16, j + 32, j + 48 at bits 0, 2, 4, 6. Lane L = 4 k + l (block k,
 * field l), step s: dword s of block k shifted by 2 l */
AVX512 INLINE void bn2_steps(__m512i blocks, __m512i step[4]) {
    const __m512i shift = _mm512_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6);
    const __m512i three = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
    UNROLL
    for (int s = 0; s < 4; s++) {
        const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12),
                                             _mm512_set1_epi32(s));
        const __m512i v = _mm512_srlv_epi32(_mm512_permutexvar_epi32(idx, blocks), shift);
        step[s] = _mm512_sub_epi8(_mm512_and_si512(v, three), one);
    }
}

AVX512 INLINE void regs_iq2_bn(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    bn2_steps(_mm512_loadu_si512((const void *)(row + 4 + chunk * 64)), out->step);
    out->scale = _mm512_set1_ps(lq_load_f32(row));
}

/* iq1_bn's step s, lane m (block m): the byte of each weight (block 3's
 * from 3 bytes on, see below) and 3^(4 - t) for its trit t */
static const uint8_t bn1_pick[4][64] = {
    {0, 0, 0, 0, 3, 3, 3, 3, 6, 6, 6, 6, 9, 9, 9, 9, 0, 0, 0, 0, 3, 3, 3, 3, 6, 6, 6, 6, 9, 9, 9, 9, 0, 0, 0, 0, 3, 3, 3, 3, 6, 6, 6, 6, 9, 9, 9, 9, 3, 3, 3, 3, 6, 6, 6, 6, 9, 9, 9, 9, 12, 12, 12, 12},
    {0, 1, 1, 1, 3, 4, 4, 4, 6, 7, 7, 7, 9, 10, 10, 10, 0, 1, 1, 1, 3, 4, 4, 4, 6, 7, 7, 7, 9, 10, 10, 10, 0, 1, 1, 1, 3, 4, 4, 4, 6, 7, 7, 7, 9, 10, 10, 10, 3, 4, 4, 4, 6, 7, 7, 7, 9, 10, 10, 10, 12, 13, 13, 13},
    {1, 1, 2, 2, 4, 4, 5, 5, 7, 7, 8, 8, 10, 10, 11, 11, 1, 1, 2, 2, 4, 4, 5, 5, 7, 7, 8, 8, 10, 10, 11, 11, 1, 1, 2, 2, 4, 4, 5, 5, 7, 7, 8, 8, 10, 10, 11, 11, 4, 4, 5, 5, 7, 7, 8, 8, 10, 10, 11, 11, 13, 13, 14, 14},
    {2, 2, 2, 12, 5, 5, 5, 12, 8, 8, 8, 12, 11, 11, 11, 12, 2, 2, 2, 12, 5, 5, 5, 12, 8, 8, 8, 12, 11, 11, 11, 12, 2, 2, 2, 12, 5, 5, 5, 12, 8, 8, 8, 12, 11, 11, 11, 12, 5, 5, 5, 15, 8, 8, 8, 15, 11, 11, 11, 15, 14, 14, 14, 15},
};
static const uint8_t bn1_power[4][64] = {
    {81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3, 81, 27, 9, 3},
    {1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9, 1, 81, 27, 9},
    {3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27, 3, 1, 81, 27},
    {9, 3, 1, 81, 9, 3, 1, 27, 9, 3, 1, 9, 9, 3, 1, 3, 9, 3, 1, 81, 9, 3, 1, 27, 9, 3, 1, 9, 9, 3, 1, 3, 9, 3, 1, 81, 9, 3, 1, 27, 9, 3, 1, 9, 9, 3, 1, 3, 9, 3, 1, 81, 9, 3, 1, 27, 9, 3, 1, 9, 9, 3, 1, 3},
};

/* fp16 row scale, then 13 bytes a block: group l of 16 has weights 0-14 as
 * five trits in each of bytes 3 l .. 3 l + 2 and weight 15 as trit l of
 * byte 12. Lane m of a step holds block m: its 13 bytes are loaded into
 * that 128-bit lane (the last block 3 bytes early, so that no load passes
 * the chunk) and spread by vpshufb. A trit t of a byte: (3 (byte x
 * 3^(4 - t) mod 256)) >> 8, the scalar decoder's (v + v / 2) >> 7. */
AVX512 INLINE void regs_iq1_bn(const uint8_t *row, int64_t chunk, chunk_regs *out) {
    const uint8_t *b = row + 2 + chunk * 52;
    __m512i q = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)b));
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)(const void *)(b + 13)), 1);
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)(const void *)(b + 26)), 2);
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)(const void *)(b + 36)), 3);
    const __m512i low_byte = _mm512_set1_epi16(0x00ff), high_byte = _mm512_set1_epi16((short)0xff00);
    UNROLL
    for (int s = 0; s < 4; s++) {
        const __m512i x = _mm512_shuffle_epi8(q, _mm512_loadu_si512((const void *)bn1_pick[s]));
        const __m512i m = _mm512_loadu_si512((const void *)bn1_power[s]);
        const __m512i even = _mm512_and_si512(_mm512_mullo_epi16(x, _mm512_and_si512(m, low_byte)), low_byte);
        const __m512i odd = _mm512_mullo_epi16(_mm512_and_si512(x, high_byte), _mm512_srli_epi16(m, 8));
        const __m512i te = _mm512_mulhi_epu16(even, _mm512_set1_epi16(768));
        const __m512i to = _mm512_mulhi_epu16(odd, _mm512_set1_epi16(3));
        out->step[s] = _mm512_sub_epi8(_mm512_or_si512(te, _mm512_slli_epi16(to, 8)), _mm512_set1_epi8(1));
    }
    out->scale = _mm512_set1_ps(f16_at(row));
}

/* ---- interleaved forms: row k of a group of 4 ------------------------------ */

/* qword k, 4 + k, .., 28 + k of 256 bytes */
AVX512 INLINE __m512i row_qwords(const uint8_t *p, int k) {
    const __m512i idx = _mm512_add_epi64(_mm512_setr_epi64(0, 4, 8, 12, 0, 4, 8, 12), _mm512_set1_epi64(k));
    const __m512i lo = _mm512_permutex2var_epi64(_mm512_loadu_si512((const void *)p), idx,
                                                 _mm512_loadu_si512((const void *)(p + 64)));
    const __m512i hi = _mm512_permutex2var_epi64(_mm512_loadu_si512((const void *)(p + 128)), idx,
                                                 _mm512_loadu_si512((const void *)(p + 192)));
    return _mm512_mask_blend_epi64(0xf0, lo, hi);
}

/* byte k, 4 + k, .., 28 + k of 32 bytes */
AVX512 INLINE uint64_t row_bytes8(const uint8_t *p, int k) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i pick = _mm256_add_epi8(_mm256_setr_epi8(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
                                                          8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                                         _mm256_set1_epi8((char)k));
    const __m256i y = _mm256_shuffle_epi8(x, pick);
    return (uint64_t)(uint32_t)_mm256_extract_epi32(y, 0) | (uint64_t)(uint32_t)_mm256_extract_epi32(y, 4) << 32;
}

/* iq2_xxs_r4: per 256: d[4], per 32 and row a u32 of sign groups (running
 * XOR in bits 1..7 of each byte) and scale bits (bit 0), then per 32 and
 * row the 4 grid bytes */
AVX512 INLINE void regs_iq2_xxs_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + chunk * 4 * 66;
    const __m256i words = row_dwords(b + 8, k);
    GRID8_STEPS(lq_iq2xxs_grid, index_iq2_xxs_r4, b, k, out->step);
    apply_signs(running_xor_signs(words), out->step);
    out->scale = pair_scales(_mm512_castps512_ps256(
        iq2_scales(f16_at(b + 2 * k), _mm512_castsi256_si512(interleaved_scale(words)))));
}

/* iq3_xxs_r4: d[4], the sign and scale words as iq2_xxs_r4's, then per 32
 * and row 8 grid bytes */
AVX512 INLINE void regs_iq3_xxs_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + chunk * 4 * 98;
    const __m256i words = row_dwords(b + 8, k);
    GRID4_STEPS(lq_iq3xxs_grid, index_iq3_xxs_r4, b, k, out->step);
    apply_signs(running_xor_signs(words), out->step);
    out->scale = iq3xxs_scales(f16_at(b + 2 * k), interleaved_scale(words));
}

/* iq2_xs_r4: d[4], per 32 and row 4 u16 (9-bit index, running-XOR signs
 * << 9), per 32 a byte of scales per row */
AVX512 INLINE void regs_iq2_xs_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + chunk * 4 * 74;
    const __m512i e = row_qwords(b + 8, k);
    const __m512i t = _mm512_srli_epi16(e, 9);
    const __m512i signs = _mm512_and_si512(_mm512_xor_si512(t, _mm512_slli_epi16(t, 1)), _mm512_set1_epi16(0xff));
    GRID8_STEPS(lq_iq2xs_grid, index_iq2_xs_r4, b, k, out->step);
    iq2_xs_common(signs, f16_at(b + 2 * k), row_bytes8(b + 264, k), out);
}

/* iq2_s_r4: d[4], per 4 points and row 4 low index bytes, 32 bytes of high
 * bits (a byte per 4 points and row), per 4 points and row 4 sign bytes,
 * per 32 a byte of scales per row */
AVX512 INLINE void regs_iq2_s_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + chunk * 4 * 82;
    GRID8_STEPS(lq_iq2s_grid, index_iq2_s, ((split_indices){b + 8 + 4 * k, row_bytes8(b + 136, k)}), 16,
                out->step);
    iq2_s_common(row_dwords(b + 168, k), f16_at(b + 2 * k), row_bytes8(b + 296, k), out);
}

/* iq3_s_r4: d[4]; grid byte i + 4 h of sub-block s, row k at 8 + 32 s +
 * 8 i + 4 h + k; high bits a byte per 8 points and row; sign bit i + 4 h of
 * base byte 4 s + m at bit 2 m + h of byte 296 + 16 s + 4 k + i; the scale
 * of sub-block ib in byte 424 + 4 (ib % 4) + k, nibble ib / 4 */
AVX512 INLINE void regs_iq3_s_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + chunk * 4 * 110;
    GRID4_STEPS(lq_iq3s_grid, index_iq3_s_r4, ((split_indices){b + 8 + k, row_bytes8(b + 264, k)}), 0,
                out->step);
    /* step s, lane L, byte j: bit 4 (L % 2) + s of byte j of word L / 2 */
    const __m512i words = _mm512_permutexvar_epi32(
        _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
        _mm512_castsi256_si512(row_dwords(b + 296, k)));
    const __m512i zero = _mm512_setzero_si512();
    UNROLL
    for (int s = 0; s < 4; s++) {
        const __m512i bit = _mm512_sllv_epi32(
            _mm512_set1_epi32(0x01010101),
            _mm512_add_epi32(_mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4), _mm512_set1_epi32(s)));
        const __mmask64 negative = _mm512_test_epi8_mask(words, bit);
        out->step[s] = _mm512_mask_sub_epi8(out->step[s], negative, zero, out->step[s]);
    }
    const uint32_t sc = (uint32_t)b[424 + k] | (uint32_t)b[428 + k] << 8 | (uint32_t)b[432 + k] << 16 |
                        (uint32_t)b[436 + k] << 24;
    const __m256i l = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sc),
                                                         _mm256_setr_epi32(0, 8, 16, 24, 4, 12, 20, 28)),
                                       _mm256_set1_epi32(15));
    out->scale = pair_scales(_mm512_castps512_ps256(iq3s_scales(f16_at(b + 2 * k), _mm512_castsi256_si512(l))));
}

/* iq2_bn_r4: the 4 f32 row scales, then per 64 weights and row k the
 * dwords 4 l + k (l the field of iq2_bn's bytes): lane L of row k is
 * dword 4 L + k of the chunk's 256 bytes, step s its bits 2 s */
AVX512 INLINE void regs_iq2_bn_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + 16 + chunk * 256;
    const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                                         _mm512_set1_epi32(k));
    const __m512i lo = _mm512_permutex2var_epi32(_mm512_loadu_si512((const void *)b), idx,
                                                 _mm512_loadu_si512((const void *)(b + 64)));
    const __m512i hi = _mm512_permutex2var_epi32(_mm512_loadu_si512((const void *)(b + 128)), idx,
                                                 _mm512_loadu_si512((const void *)(b + 192)));
    const __m512i lanes = _mm512_mask_blend_epi32(0xff00, lo, hi);
    const __m512i three = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
    UNROLL
    for (int s = 0; s < 4; s++)
        out->step[s] = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi32(lanes, 2 * s), three), one);
    out->scale = _mm512_set1_ps(lq_load_f32(group + 4 * k));
}

/* iq1_s_r4 / iq1_m_r4 (libquant/lattice_iq1_r4.c): d[4], then per 32
 * columns qs[4 point + row] and the per-row high bits, shifts and scales.
 * Indices by scalar loads; `negative` bit p: point p's shift is -1/8 */
AVX512 INLINE void regs_iq1_s_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + 8 + chunk * 8 * 24;
    /* row k's word of block ib: iq1_s's 8 words */
    const uint8_t *h = b + 16 + 2 * k;
    const __m128i qh = _mm_setr_epi16((short)lq_load_u16(h), (short)lq_load_u16(h + 24), (short)lq_load_u16(h + 48),
                                      (short)lq_load_u16(h + 72), (short)lq_load_u16(h + 96),
                                      (short)lq_load_u16(h + 120), (short)lq_load_u16(h + 144),
                                      (short)lq_load_u16(h + 168));
    const iq1s_indices at = {b + k, {(uint64_t)_mm_cvtsi128_si64(qh), (uint64_t)_mm_extract_epi64(qh, 1)}};
    GRID8_STEPS(lq_iq1s_grid, index_iq1_s_r4, at, k, out->step);
    iq1_s_finish(qh, f16_at(group + 2 * k), out);
}

/* byte k of each dword: the row's bytes of 4-row arrays */
AVX512 INLINE __m128i row_bytes16(__m512i dwords, int k) {
    return _mm512_cvtepi32_epi8(_mm512_srli_epi32(dwords, 8 * k));
}

AVX512 INLINE void regs_iq1_m_r4(const uint8_t *group, int64_t chunk, int k, chunk_regs *out) {
    const uint8_t *b = group + 8 + chunk * 8 * 28;
    /* the 4 rows' qh bytes of block ib, half h at 28 ib + 16 + 4 h (byte
     * 2 ib + h of iq1_m's 16), their scale bytes at 28 ib + 24 (scalar
     * loads: vpgatherdd measured a third slower) */
#define U32_AT(o) (int)lq_load_u32(b + (o))
    const __m512i qh4 = _mm512_setr_epi32(U32_AT(16), U32_AT(20), U32_AT(44), U32_AT(48), U32_AT(72), U32_AT(76),
                                          U32_AT(100), U32_AT(104), U32_AT(128), U32_AT(132), U32_AT(156),
                                          U32_AT(160), U32_AT(184), U32_AT(188), U32_AT(212), U32_AT(216));
    const __m512i sc4 = _mm512_zextsi256_si512(_mm256_setr_epi32(U32_AT(24), U32_AT(52), U32_AT(80), U32_AT(108),
                                                                 U32_AT(136), U32_AT(164), U32_AT(192), U32_AT(220)));
#undef U32_AT
    const __m128i qh = row_bytes16(qh4, k);
    const iq1s_indices at = {b + k, {(uint64_t)_mm_cvtsi128_si64(qh), (uint64_t)_mm_extract_epi64(qh, 1)}};
    GRID8_STEPS(lq_iq1s_grid, index_iq1_m_r4, at, k, out->step);
    iq1_m_shifts(qh, out->step);
    /* group 2 ib + h: nibble h of scale byte ib */
    const __m512i l = nibbles16((uint64_t)_mm_cvtsi128_si64(row_bytes16(sc4, k)));
    out->scale = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(f16_at(group + 2 * k)), _mm512_cvtepi32_ps(l)),
                               _mm512_set1_ps(0.125f));
}

/* ---- decoders and GEMVs ----------------------------------------------------- */

/* a base type's chunk decoder and its one-vector product, a row at a time
 * (two rows sharing the activation loads measured no faster) */
#define BASE_KERNELS(type)                                                                     \
    AVX512 static void decode_##type(const uint8_t *row, int64_t chunk, int count,              \
                                     lq_panel_chunk *out) {                                     \
        chunk_regs c;                                                                           \
        regs_##type(row, chunk, &c);                                                            \
        store_regs(&c, out);                                                                    \
        (void)count;                                                                            \
    }                                                                                           \
    AVX512 static void gemv_##type(const uint8_t *rows, int64_t row_bytes, int64_t nrows,       \
                                   int64_t nchunks, const lq_act_chunk *a, bool has_offset,     \
                                   float *y) {                                                  \
        for (int64_t r = 0; r < nrows; r++) {                                                   \
            __m512 sum = _mm512_setzero_ps();                                                   \
            for (int64_t c = 0; c < nchunks; c++) {                                             \
                chunk_regs w;                                                                   \
                regs_##type(rows + r * row_bytes, c, &w);                                       \
                sum = dot_regs(&w, &a[c], sum);                                                 \
            }                                                                                   \
            y[r] = _mm512_reduce_add_ps(sum);                                                   \
        }                                                                                       \
        (void)has_offset;                                                                       \
    }

/* an interleaved type's group decoder and its one-vector product over
 * groups (as lq_panel_gemv_fn: `rows` are the groups, y[4 g + k]) */
#define GROUP_KERNELS(type)                                                                    \
    AVX512 static void group_##type(const uint8_t *group, int64_t ncols, int64_t chunk,         \
                                    lq_panel_chunk *out, int64_t out_stride) {                  \
        for (int k = 0; k < 4; k++) {                                                           \
            chunk_regs c;                                                                       \
            regs_##type(group, chunk, k, &c);                                                   \
            store_regs(&c, &out[k * out_stride]);                                               \
        }                                                                                       \
        (void)ncols;                                                                            \
    }                                                                                           \
    AVX512 static void gemv_##type(const uint8_t *groups, int64_t group_bytes, int64_t ngroups, \
                                   int64_t nchunks, const lq_act_chunk *a, bool has_offset,     \
                                   float *y) {                                                  \
        for (int64_t g = 0; g < ngroups; g++) {                                                 \
            __m512 sum[4];                                                                      \
            for (int k = 0; k < 4; k++)                                                         \
                sum[k] = _mm512_setzero_ps();                                                   \
            for (int64_t c = 0; c < nchunks; c++)                                               \
                for (int k = 0; k < 4; k++) {                                                   \
                    chunk_regs w;                                                               \
                    regs_##type(groups + g * group_bytes, c, k, &w);                            \
                    sum[k] = dot_regs(&w, &a[c], sum[k]);                                       \
                }                                                                               \
            for (int k = 0; k < 4; k++)                                                         \
                y[4 * g + k] = _mm512_reduce_add_ps(sum[k]);                                    \
        }                                                                                       \
        (void)has_offset;                                                                       \
    }

BASE_KERNELS(iq2_xxs)
BASE_KERNELS(iq2_xs)
BASE_KERNELS(iq2_s)
BASE_KERNELS(iq3_xxs)
BASE_KERNELS(iq3_s)
BASE_KERNELS(iq1_s)
BASE_KERNELS(iq1_m)
BASE_KERNELS(iq2_bn)
BASE_KERNELS(iq1_bn)
GROUP_KERNELS(iq2_xxs_r4)
GROUP_KERNELS(iq2_xs_r4)
GROUP_KERNELS(iq2_s_r4)
GROUP_KERNELS(iq3_xxs_r4)
GROUP_KERNELS(iq3_s_r4)
GROUP_KERNELS(iq2_bn_r4)
GROUP_KERNELS(iq1_s_r4)
GROUP_KERNELS(iq1_m_r4)

const lq_panel_simd_decoder lq_panel_decoders_avx512_lattice[] = {
    {LQ_TYPE_IQ2_XXS, decode_iq2_xxs, NULL, gemv_iq2_xxs},
    {LQ_TYPE_IQ2_XS, decode_iq2_xs, NULL, gemv_iq2_xs},
    {LQ_TYPE_IQ2_S, decode_iq2_s, NULL, gemv_iq2_s},
    {LQ_TYPE_IQ3_XXS, decode_iq3_xxs, NULL, gemv_iq3_xxs},
    {LQ_TYPE_IQ3_S, decode_iq3_s, NULL, gemv_iq3_s},
    {LQ_TYPE_IQ1_S, decode_iq1_s, NULL, gemv_iq1_s},
    {LQ_TYPE_IQ1_M, decode_iq1_m, NULL, gemv_iq1_m},
    {LQ_TYPE_IQ2_BN, decode_iq2_bn, NULL, gemv_iq2_bn},
    {LQ_TYPE_IQ1_BN, decode_iq1_bn, NULL, gemv_iq1_bn},
    {LQ_TYPE_IQ2_XXS_R4, NULL, group_iq2_xxs_r4, gemv_iq2_xxs_r4},
    {LQ_TYPE_IQ2_XS_R4, NULL, group_iq2_xs_r4, gemv_iq2_xs_r4},
    {LQ_TYPE_IQ2_S_R4, NULL, group_iq2_s_r4, gemv_iq2_s_r4},
    {LQ_TYPE_IQ3_XXS_R4, NULL, group_iq3_xxs_r4, gemv_iq3_xxs_r4},
    {LQ_TYPE_IQ3_S_R4, NULL, group_iq3_s_r4, gemv_iq3_s_r4},
    {LQ_TYPE_IQ2_BN_R4, NULL, group_iq2_bn_r4, gemv_iq2_bn_r4},
    {LQ_TYPE_IQ1_S_R4, NULL, group_iq1_s_r4, gemv_iq1_s_r4},
    {LQ_TYPE_IQ1_M_R4, NULL, group_iq1_m_r4, gemv_iq1_m_r4},
};
const int lq_panel_decoders_avx512_lattice_count =
    (int)(sizeof lq_panel_decoders_avx512_lattice / sizeof lq_panel_decoders_avx512_lattice[0]);

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx512_lattice[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx512_lattice_count = 0;

#endif
