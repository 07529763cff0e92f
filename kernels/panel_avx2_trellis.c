/*
 * AVX2 decoders and GEMV kernels of the trellis types (panel.h), on the
 * eight-state generator of libquant/trellis_gen_avx2.h.
 *
 * Lanes are 16-groups: in half h of a chunk, dword lane L belongs to group
 * 8 h + L, and the j-th state of every lane (its weight 16 (8 h + L) + j)
 * comes from one multiply of the lanes' seeds by a power of the
 * multiplier. So the states are already in the packed layout's lanes:
 *   - the decoder takes the byte sums of four consecutive j into the four
 *     bytes of each lane (step j / 4 of the lane order);
 *   - the GEMV never forms the values: vpmaddubsw multiplies the four
 *     masked bytes of a state by its weight's activation (repeated four
 *     times by a vpshufb), which sums to (value + 126) * a, and the 126 is
 *     taken off with the group's activation sum, so each lane ends with the
 *     exact integer sum(level * a) of its group, as the tile computes it,
 *     and the float part is the tile's (panel_avx2.h): the same bits.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <string.h>

#include "common.h"
#include "panel_avx2.h"
#include "trellis_gen_avx2.h"

/* The four formats (libquant/trellis.c): super-block bytes; scale codes
 * through the non-linear table or as they are; values or magnitudes. */
typedef enum kt_kind { KT1, KT2, KT3, KT4 } kt_kind;
static const int super_block_bytes[4] = {56, 68, 100, 128};

static const int8_t kt_scale_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};

/* vpshufb controls: byte i of every dword to byte `to` (others zero). */
AVX2 AVX2_INLINE __m256i byte_to(int i, int to) {
    int8_t c[32];
    for (int b = 0; b < 32; b++)
        c[b] = (b % 4 == to) ? (int8_t)(b - b % 4 + i) : (int8_t)-128;
    return _mm256_loadu_si256((const __m256i *)(const void *)c);
}

/* Byte i of every dword repeated four times. */
AVX2 AVX2_INLINE __m256i repeat_byte(int i) {
    int8_t c[32];
    for (int b = 0; b < 32; b++)
        c[b] = (int8_t)(b - b % 4 + i);
    return _mm256_loadu_si256((const __m256i *)(const void *)c);
}

AVX2 AVX2_INLINE __m256i load256(const uint8_t *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* Lanes L of 16 bytes as 8 words: word L zero-extended. */
AVX2 AVX2_INLINE __m256i load_words(const uint8_t *p) {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* Eight dwords of x >> shift & mask (shifts per lane). */
AVX2 AVX2_INLINE __m256i field(__m256i x, __m256i shift, int mask) {
    return _mm256_and_si256(_mm256_srlv_epi32(x, shift), _mm256_set1_epi32(mask));
}

AVX2 AVX2_INLINE __m256i lanes(int a, int b, int c, int d, int e, int f, int g, int h) {
    return _mm256_setr_epi32(a, b, c, d, e, f, g, h);
}

/* ---- seeds: lane L of half h is 16-group G = 8 h + L; step s is its
 * weights 4 s .. 4 s + 3, the states of seeds[s] times the powers from
 * power_base(s) on. */

static int power_base(kt_kind kind, int s) { return kind == KT4 ? 0 : 4 * (s % 2); }

/* iq2_kt / iq3_kt: 32 16-bit seeds at byte 4; G's groups of 8 are 2G, 2G+1 */
AVX2 AVX2_INLINE void seeds_kt2(const uint8_t *sb, int h, __m256i seeds[4]) {
    const __m256i pairs = load256(sb + 4 + 32 * h), offset = _mm256_set1_epi32((int)LQ_KT_OFFSET);
    seeds[0] = seeds[1] = _mm256_add_epi32(_mm256_and_si256(pairs, _mm256_set1_epi32(0xffff)), offset);
    seeds[2] = seeds[3] = _mm256_add_epi32(_mm256_srli_epi32(pairs, 16), offset);
}

/* iq1_kt: group g = 2G + e (e = s / 2) of block ib = g / 4: bits 0-7 in
 * ql[g] (byte 8 + g), 8-11 in nibble h of qh[2 L + e] (byte 40 + ...), bit
 * 12 is bit 4 + g % 4 of sh[ib] */
AVX2 AVX2_INLINE void seeds_kt1(const uint8_t *sb, int h, __m256i seeds[4]) {
    const __m256i ql = load_words(sb + 8 + 16 * h), qh = load_words(sb + 40);
    /* sh[4 h + L / 2] in lane L */
    const __m128i four = _mm_cvtsi32_si128((int)lq_load_u32(sb + 4 * h));
    const __m256i sh = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(four, four));
    const __m256i offset = _mm256_set1_epi32((int)LQ_KT_OFFSET);
    for (int e = 0; e < 2; e++) {
        const __m256i low = field(ql, _mm256_set1_epi32(8 * e), 0xff);
        const __m256i mid = field(qh, _mm256_set1_epi32(8 * e + 4 * h), 15);
        const __m256i top = field(sh, lanes(4 + e, 6 + e, 4 + e, 6 + e, 4 + e, 6 + e, 4 + e, 6 + e), 1);
        const __m256i seed = _mm256_or_si256(_mm256_or_si256(low, _mm256_slli_epi32(mid, 8)),
                                             _mm256_slli_epi32(top, 12));
        seeds[2 * e] = seeds[2 * e + 1] = _mm256_add_epi32(seed, offset);
    }
}

/* iq4_kt: group g = 4G + s of block ib = g / 8: bits 0-7 in ql[g] (byte 32
 * + g), 8-11 in nibble h of qh[g % 32] (byte 96 + 4 L + s), 12-14 at bit
 * 8 + 3 (g % 8) of the block's word, whose bit 0 selects the offset */
AVX2 AVX2_INLINE void seeds_kt4(const uint8_t *sb, int h, __m256i seeds[4]) {
    const __m256i ql = load256(sb + 32 + 32 * h);
    const __m256i qh = _mm256_and_si256(_mm256_srli_epi32(load256(sb + 96), 4 * h), _mm256_set1_epi8(15));
    const __m256i word = _mm256_permutevar8x32_epi32(
        load256(sb), _mm256_add_epi32(lanes(0, 0, 1, 1, 2, 2, 3, 3), _mm256_set1_epi32(4 * h)));
    const __m256i offset = _mm256_add_epi32(_mm256_set1_epi32((int)LQ_KT_OFFSET),
                                            _mm256_slli_epi32(_mm256_and_si256(word, _mm256_set1_epi32(1)), 15));
    for (int s = 0; s < 4; s++) {
        const __m256i low_mid = _mm256_or_si256(_mm256_shuffle_epi8(ql, byte_to(s, 0)),
                                                _mm256_shuffle_epi8(qh, byte_to(s, 1)));
        const __m256i high = _mm256_slli_epi32(
            field(word, lanes(8 + 3 * s, 20 + 3 * s, 8 + 3 * s, 20 + 3 * s, 8 + 3 * s, 20 + 3 * s,
                              8 + 3 * s, 20 + 3 * s), 7), 12);
        seeds[s] = _mm256_add_epi32(_mm256_or_si256(low_mid, high), offset);
    }
}

AVX2 AVX2_INLINE void half_seeds(kt_kind kind, const uint8_t *sb, int h, __m256i seeds[4]) {
    if (kind == KT1)
        seeds_kt1(sb, h, seeds);
    else if (kind == KT4)
        seeds_kt4(sb, h, seeds);
    else
        seeds_kt2(sb, h, seeds);
}

/* ---- scales: lane L of half h, block ib = 4 h + L / 2; d * (float)scale
 * as the scalar decoder computes it */

/* iq2_kt / iq3_kt: code in nibble h of byte L / 2; iq1_kt: low nibble of
 * byte 4 h + L / 2; iq4_kt: the block word's bits 1-7 minus 64 */
AVX2 AVX2_INLINE __m256i half_codes(kt_kind kind, const uint8_t *sb, int h) {
    if (kind == KT4) {
        const __m256i word = _mm256_permutevar8x32_epi32(
            load256(sb), _mm256_add_epi32(lanes(0, 0, 1, 1, 2, 2, 3, 3), _mm256_set1_epi32(4 * h)));
        return _mm256_sub_epi32(field(word, _mm256_set1_epi32(1), 127), _mm256_set1_epi32(64));
    }
    const __m256i bytes = _mm256_set1_epi32((int)lq_load_u32(sb + (kind == KT1 ? 4 * h : 0)));
    const int nibble = kind == KT1 ? 0 : 4 * h;
    return field(bytes, _mm256_add_epi32(lanes(0, 0, 8, 8, 16, 16, 24, 24), _mm256_set1_epi32(nibble)), 15);
}

AVX2 AVX2_INLINE __m256 half_scales(kt_kind kind, const uint8_t *sb, int h, float d) {
    __m256i value = half_codes(kind, sb, h);
    if (kind == KT1 || kind == KT2) {
        const __m256i table = _mm256_broadcastsi128_si256(
            _mm_loadu_si128((const __m128i *)(const void *)kt_scale_values));
        value = _mm256_srai_epi32(_mm256_slli_epi32(_mm256_shuffle_epi8(table, value), 24), 24);
    }
    return _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(value));
}

/* ---- decoding ------------------------------------------------------------ */

AVX2 AVX2_INLINE void step_states(kt_kind kind, const __m256i seeds[4], const uint32_t *powers,
                                  int s, __m256i state[4]) {
    for (int i = 0; i < 4; i++)
        state[i] = lq_kt_states_avx2(seeds[s], powers[power_base(kind, s) + i]);
}

/* Four states per lane (j = 4 s .. 4 s + 3) -> the step's 32 level bytes. */
AVX2 AVX2_INLINE __m256i step_levels(const __m256i state[4]) {
    __m256i bytes = _mm256_setzero_si256();
    for (int i = 0; i < 4; i++)
        bytes = _mm256_or_si256(bytes, _mm256_shuffle_epi8(lq_kt_sums_avx2(state[i]), byte_to(0, i)));
    return _mm256_sub_epi8(bytes, _mm256_set1_epi8(LQ_KT_BIAS));
}

/* iq3_kt: the sign of weight j of block ib is bit ib of qh[j] (byte 68 +
 * j); lane L's step s needs qh bytes 16 (L % 2) + 4 s .., bit 4 h + L / 2 */
AVX2 AVX2_INLINE __m256i kt3_signs(const uint8_t *sb, int h, int s) {
    const __m256i qh = _mm256_permutevar8x32_epi32(
        load256(sb + 68), _mm256_add_epi32(lanes(0, 4, 0, 4, 0, 4, 0, 4), _mm256_set1_epi32(s)));
    const __m256i bit = _mm256_sllv_epi32(_mm256_set1_epi32(0x01010101),
                                          _mm256_add_epi32(lanes(0, 0, 1, 1, 2, 2, 3, 3), _mm256_set1_epi32(4 * h)));
    const __m256i negative = _mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit);
    return _mm256_or_si256(negative, _mm256_set1_epi8(1));
}

/* -1 or +1 per byte: the stored signs of the step's weights */
AVX2 AVX2_INLINE __m256i kt3_signed(const uint8_t *sb, int h, int s, __m256i levels) {
    return _mm256_sign_epi8(_mm256_abs_epi8(levels), kt3_signs(sb, h, s));
}

AVX2 AVX2_INLINE void decode_kt(kt_kind kind, const uint8_t *row, int64_t chunk,
                                lq_panel_chunk *out) {
    uint32_t powers[8];
    lq_kt_powers(powers);
    const float d = lq_load_f32(row);
    const uint8_t *sb = row + 4 + chunk * super_block_bytes[kind];
    for (int h = 0; h < 2; h++) {
        __m256i seeds[4];
        half_seeds(kind, sb, h, seeds);
        for (int s = 0; s < 4; s++) {
            __m256i state[4];
            step_states(kind, seeds, powers, s, state);
            __m256i levels = step_levels(state);
            if (kind == KT3)
                levels = kt3_signed(sb, h, s, levels);
            _mm256_store_si256((__m256i *)(void *)(out->level + 64 * s + 32 * h), levels);
        }
        _mm256_store_ps(out->scale + 8 * h, half_scales(kind, sb, h, d));
        _mm256_store_ps(out->offset + 8 * h, _mm256_setzero_ps());
    }
}

#define KT_DECODER(name, kind)                                                           \
    AVX2 AVX2_INLINE void decode_##name(const uint8_t *row, int64_t chunk, int count,     \
                                        lq_panel_chunk *out) {                           \
        decode_kt(kind, row, chunk, out);                                                \
        (void)count;                                                                     \
    }
KT_DECODER(iq1_kt, KT1)
KT_DECODER(iq2_kt, KT2)
KT_DECODER(iq3_kt, KT3)
KT_DECODER(iq4_kt, KT4)

/* ---- GEMV ---------------------------------------------------------------- */

/* Per lane, sum(a) over the step's four activations. */
AVX2 AVX2_INLINE __m256i step_act_sum(__m256i act) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), act), _mm256_set1_epi16(1));
}

/* One activation chunk as the GEMV reads it: per (step, half) the four
 * activations of each lane repeated four times, per half 126 * sum(a) of
 * each lane's group and the activation scales. Made once per block of
 * rows, so each row's inner loop is only multiplies, masks and vpmaddubsw. */
typedef struct expanded_chunk {
    __m256i plain[4][2];
    __m256i repeated[4][2][4];
    __m256i bias[2];
    __m256 d[2];
} expanded_chunk;

enum { GEMV_CHUNKS = 8, GEMV_ROWS = 32 };

AVX2 AVX2_INLINE void expand_chunk(const lq_act_chunk *a, expanded_chunk *e) {
    for (int h = 0; h < 2; h++) {
        __m256i asum = _mm256_setzero_si256();
        for (int s = 0; s < 4; s++) {
            const __m256i act = lq_act_signed_avx2(a, s, h);
            e->plain[s][h] = act;
            for (int i = 0; i < 4; i++)
                e->repeated[s][h][i] = _mm256_shuffle_epi8(act, repeat_byte(i));
            asum = _mm256_add_epi32(asum, step_act_sum(act));
        }
        e->bias[h] = _mm256_mullo_epi32(asum, _mm256_set1_epi32(LQ_KT_BIAS));
        e->d[h] = _mm256_load_ps(a->d + 8 * h);
    }
}

/* sum (level + 126) * a per lane for one step, two states added in int16
 * (2 x 2 x 63 x 127 fits, four would not) */
AVX2 AVX2_INLINE __m256i expanded_step_dot(const __m256i state[4], const __m256i repeated[4]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i sum = _mm256_setzero_si256();
    for (int p = 0; p < 2; p++) {
        const __m256i m0 = _mm256_maddubs_epi16(lq_kt_masked_avx2(state[2 * p]), repeated[2 * p]);
        const __m256i m1 = _mm256_maddubs_epi16(lq_kt_masked_avx2(state[2 * p + 1]), repeated[2 * p + 1]);
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_add_epi16(m0, m1), ones));
    }
    return sum;
}

/* iq3_kt's step: the magnitudes as unsigned bytes, the stored signs moved
 * onto the activations, so the product needs no sign trick. */
AVX2 AVX2_INLINE __m256i kt3_step_dot(const uint8_t *sb, int h, int s, const __m256i state[4],
                                      __m256i act) {
    const __m256i magnitude = _mm256_abs_epi8(step_levels(state));
    const __m256i pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(act, kt3_signs(sb, h, s)));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/* One row's chunk, added to sum as the tile adds it. */
AVX2 AVX2_INLINE __m256 chunk_gemv(kt_kind kind, const uint8_t *sb, float d, const uint32_t *powers,
                                   const expanded_chunk *e, __m256 sum) {
    for (int h = 0; h < 2; h++) {
        __m256i seeds[4];
        half_seeds(kind, sb, h, seeds);
        __m256i isum = _mm256_setzero_si256();
        for (int s = 0; s < 4; s++) {
            __m256i state[4];
            step_states(kind, seeds, powers, s, state);
            isum = _mm256_add_epi32(isum, kind == KT3 ? kt3_step_dot(sb, h, s, state, e->plain[s][h])
                                                      : expanded_step_dot(state, e->repeated[s][h]));
        }
        if (kind != KT3)
            isum = _mm256_sub_epi32(isum, e->bias[h]);
        const __m256 scale = _mm256_mul_ps(half_scales(kind, sb, h, d), e->d[h]);
        sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, sum);
    }
    return sum;
}

/* The values never formed (see the top), but for iq3_kt's magnitudes. Blocks of
 * rows by blocks of chunks; each row's sum stays the tile's (chunks in
 * order, halves in order). */
AVX2 AVX2_INLINE void gemv_kt(kt_kind kind, const uint8_t *rows, int64_t row_bytes,
                              int64_t nrows, int64_t nchunks, const lq_act_chunk *a, float *y) {
    uint32_t powers[8];
    lq_kt_powers(powers);
    expanded_chunk expanded[GEMV_CHUNKS];
    __m256 sum[GEMV_ROWS];
    for (int64_t r0 = 0; r0 < nrows; r0 += GEMV_ROWS) {
        const int nr = nrows - r0 < GEMV_ROWS ? (int)(nrows - r0) : GEMV_ROWS;
        for (int r = 0; r < nr; r++)
            sum[r] = _mm256_setzero_ps();
        for (int64_t c0 = 0; c0 < nchunks; c0 += GEMV_CHUNKS) {
            const int nc = nchunks - c0 < GEMV_CHUNKS ? (int)(nchunks - c0) : GEMV_CHUNKS;
            for (int c = 0; c < nc; c++)
                expand_chunk(&a[c0 + c], &expanded[c]);
            for (int r = 0; r < nr; r++) {
                const uint8_t *row = rows + (r0 + r) * row_bytes;
                const float d = lq_load_f32(row);
                for (int c = 0; c < nc; c++)
                    sum[r] = chunk_gemv(kind, row + 4 + (c0 + c) * super_block_bytes[kind], d,
                                        powers, &expanded[c], sum[r]);
            }
        }
        for (int r = 0; r < nr; r++)
            y[r0 + r] = lq_reduce_avx2(sum[r]);
    }
}

#define KT_GEMV(name, kind)                                                                \
    AVX2 static void gemv_##name(const uint8_t *rows, int64_t row_bytes, int64_t nrows,    \
                                 int64_t nchunks, const lq_act_chunk *a, bool has_offset,  \
                                 float *y) {                                               \
        gemv_kt(kind, rows, row_bytes, nrows, nchunks, a, y);                              \
        (void)has_offset;                                                                  \
    }
KT_GEMV(iq1_kt, KT1)
KT_GEMV(iq2_kt, KT2)
KT_GEMV(iq3_kt, KT3)
KT_GEMV(iq4_kt, KT4)

const lq_panel_simd_decoder lq_panel_decoders_avx2_trellis[] = {
    {LQ_TYPE_IQ1_KT, decode_iq1_kt, NULL, gemv_iq1_kt},
    {LQ_TYPE_IQ2_KT, decode_iq2_kt, NULL, gemv_iq2_kt},
    {LQ_TYPE_IQ3_KT, decode_iq3_kt, NULL, gemv_iq3_kt},
    {LQ_TYPE_IQ4_KT, decode_iq4_kt, NULL, gemv_iq4_kt},
};
const int lq_panel_decoders_avx2_trellis_count =
    (int)(sizeof lq_panel_decoders_avx2_trellis / sizeof lq_panel_decoders_avx2_trellis[0]);

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx2_trellis[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx2_trellis_count = 0;

#endif
