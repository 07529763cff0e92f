/*
 * AVX2 decoders of the 32-weight block types (q4_0, q4_1, q5_0, q5_1,
 * q6_0, q8_0, iq4_nl, mxfp4) into the packed layout (panel.h), writing
 * lane order directly, each with its fused GEMV kernel.
 *
 * Half h of a chunk is blocks 4 h .. 4 h + 3, block k holding 16-groups
 * 2 k (weights 0-15) and 2 k + 1 (16-31). The natural-order registers of
 * panel_avx2.h pair group i with group i + 4, that is block k with block
 * k + 2, so each pair of 16-byte loads (blocks 4 h + a and 4 h + a + 2)
 * fills two of them: the low and high nibbles (or the two halves of q8_0's
 * 32 bytes). High bits and value tables act on these, and one transpose per
 * half gives lane order (the scalar decoders in panel_decode.c are the
 * specification).
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include "common.h"
#include "panel_avx2.h"

typedef enum block_kind { Q4_0, Q4_1, Q5_0, Q5_1, Q6_0, Q8_0, IQ4_NL, MXFP4, BLOCK_KINDS } block_kind;

typedef enum high_bits { NO_HIGH, FIFTH, SIXTH } high_bits;   /* q5_x's qh[4], q6_0's qh[8] */
typedef enum block_values { LINEAR, IQ4NL, MXFP4_VALUES } block_values;
typedef enum block_scale { F16, F16_MIN, E8M0 } block_scale; /* d; d and m; an exponent */

/* The layouts of libquant/legacy.c, libquant/nonlinear.c, libquant/q8.c. */
typedef struct block_format {
    int bytes, qs, qh; /* block size, offsets of the quants and the high bits */
    bool eight;        /* one byte a weight (else nibbles) */
    high_bits high;
    block_values values;
    int bias;          /* subtracted from LINEAR quants */
    block_scale scale;
} block_format;

static const block_format formats[BLOCK_KINDS] = {
    [Q4_0] = {18, 2, 0, false, NO_HIGH, LINEAR, 8, F16},
    [Q4_1] = {20, 4, 0, false, NO_HIGH, LINEAR, 0, F16_MIN},
    [Q5_0] = {22, 6, 2, false, FIFTH, LINEAR, 16, F16},
    [Q5_1] = {24, 8, 4, false, FIFTH, LINEAR, 0, F16_MIN},
    [Q6_0] = {26, 10, 2, false, SIXTH, LINEAR, 32, F16},
    [Q8_0] = {34, 2, 0, true, NO_HIGH, LINEAR, 0, F16},
    [IQ4_NL] = {18, 2, 0, false, NO_HIGH, IQ4NL, 0, F16},
    [MXFP4] = {17, 1, 0, false, NO_HIGH, MXFP4_VALUES, 0, E8M0},
};

/* ---- levels --------------------------------------------------------------- */

/* q5_x: bit j of the block's little-endian 32-bit qh (lane bytes 0-3) is
 * weight j's fifth; weights 16 u .. 16 u + 15: bytes 0-7 test qh byte 2 u,
 * bytes 8-15 byte 2 u + 1, one bit each; 16 where set */
AVX2 AVX2_INLINE __m256i fifth_bits(__m256i qh, int u) {
    const __m256i spread = _mm256_add_epi8(
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                         1, 1, 1, 1, 1, 1, 1),
        _mm256_set1_epi8((char)(2 * u)));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(qh, spread), bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(16));
}

/* q6_0: bits 4-5 of weight j < 16 are bits 4 (j / 8) + {0, 1} of qh[j % 8]
 * (lane bytes 0-7), those of j + 16 the two above: bytes 8-15 take qh
 * shifted by 4, then u's pair is moved to bits 4-5 */
AVX2 AVX2_INLINE __m256i sixth_bits(__m256i qh, int u) {
    const __m256i both = _mm256_unpacklo_epi64(qh, _mm256_srli_epi16(qh, 4));
    return _mm256_and_si256(_mm256_slli_epi16(both, 4 - 2 * u), _mm256_set1_epi8(0x30));
}

AVX2 AVX2_INLINE __m256i value_table(block_values values) {
    if (values == IQ4NL)
        return lq_iq4nl_table_avx2();
    /* mxfp4's values doubled (the scale is halved) */
    return _mm256_broadcastsi128_si256(
        _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12));
}

/* Half h's registers (panel_avx2.h) of the four blocks from `first`. */
AVX2 AVX2_INLINE void half_levels(const block_format *f, const uint8_t *first, __m256i r[4]) {
    if (f->eight) {
        for (int i = 0; i < 4; i++) {
            const uint8_t *q = first + (i / 2) * f->bytes + f->qs + 16 * (i % 2);
            r[i] = lq_load_pair_avx2(q, q + 2 * f->bytes);
        }
        return;
    }
    lq_nibble_blocks_avx2(first + f->qs, f->bytes, r);
    for (int a = 0; a < 2 && f->high != NO_HIGH; a++) {
        const uint8_t *qh = first + a * f->bytes + f->qh;
        const __m256i bits = lq_load_pair_avx2(qh, qh + 2 * f->bytes);
        for (int u = 0; u < 2; u++)
            r[2 * a + u] = _mm256_or_si256(r[2 * a + u], f->high == FIFTH ? fifth_bits(bits, u)
                                                                          : sixth_bits(bits, u));
    }
    for (int i = 0; i < 4; i++)
        if (f->values != LINEAR)
            r[i] = _mm256_shuffle_epi8(value_table(f->values), r[i]);
        else if (f->bias)
            r[i] = _mm256_sub_epi8(r[i], _mm256_set1_epi8((char)f->bias));
}

/* ---- scales --------------------------------------------------------------- */

/* The f16s of 8 blocks, `stride` bytes apart (eight scalar loads: a
 * gather is slower). */
AVX2 AVX2_INLINE __m256 f16_blocks(const uint8_t *first, int stride) {
    const __m128i h = _mm_setr_epi16(
        (short)lq_load_u16(first), (short)lq_load_u16(first + stride),
        (short)lq_load_u16(first + 2 * stride), (short)lq_load_u16(first + 3 * stride),
        (short)lq_load_u16(first + 4 * stride), (short)lq_load_u16(first + 5 * stride),
        (short)lq_load_u16(first + 6 * stride), (short)lq_load_u16(first + 7 * stride));
    return _mm256_cvtph_ps(h);
}

/* mxfp4: the E8M0 scales of 8 blocks (lq_e8m0_avx2) */
AVX2 AVX2_INLINE __m256 e8m0_blocks(const uint8_t *b, int stride) {
    return lq_e8m0_avx2(_mm256_setr_epi32(b[0], b[stride], b[2 * stride], b[3 * stride],
                                          b[4 * stride], b[5 * stride], b[6 * stride], b[7 * stride]));
}

AVX2 AVX2_INLINE void block_scales(const block_format *f, const uint8_t *b, lq_panel_chunk *out) {
    const __m256 d = f->scale == E8M0 ? e8m0_blocks(b, f->bytes) : f16_blocks(b, f->bytes);
    const __m256 m = f->scale == F16_MIN ? f16_blocks(b + 2, f->bytes) : _mm256_setzero_ps();
    lq_store_pairs_avx2(out->scale, d);
    lq_store_pairs_avx2(out->offset, m);
}

/* ---- decoders (full chunks only) ------------------------------------------ */

AVX2 AVX2_INLINE void decode_blocks(block_kind kind, const uint8_t *row, int64_t chunk,
                                    lq_panel_chunk *out) {
    const block_format *f = &formats[kind];
    const uint8_t *b = row + chunk * 8 * f->bytes;
    for (int h = 0; h < 2; h++) {
        __m256i r[4];
        half_levels(f, b + 4 * h * f->bytes, r);
        lq_store_half_avx2(out, h, r);
    }
    block_scales(f, b, out);
}

#define BLOCK_DECODER(name, kind, type)                                                        \
    AVX2 AVX2_INLINE void decode_##name(const uint8_t *row, int64_t chunk, int count,       \
                                        lq_panel_chunk *out) {                             \
        decode_blocks(kind, row, chunk, out);                                              \
        (void)count;                                                                       \
    }                                                                                      \
    LQ_PANEL_GEMV_AVX2(decode_##name, type)

BLOCK_DECODER(q4_0, Q4_0, LQ_TYPE_Q4_0)
BLOCK_DECODER(q4_1, Q4_1, LQ_TYPE_Q4_1)
BLOCK_DECODER(q5_0, Q5_0, LQ_TYPE_Q5_0)
BLOCK_DECODER(q5_1, Q5_1, LQ_TYPE_Q5_1)
BLOCK_DECODER(q6_0, Q6_0, LQ_TYPE_Q6_0)
BLOCK_DECODER(q8_0, Q8_0, LQ_TYPE_Q8_0)
BLOCK_DECODER(iq4_nl, IQ4_NL, LQ_TYPE_IQ4_NL)
BLOCK_DECODER(mxfp4, MXFP4, LQ_TYPE_MXFP4)

const lq_panel_simd_decoder lq_panel_decoders_avx2_legacy[] = {
    {LQ_TYPE_Q4_0, decode_q4_0, NULL, gemv_decode_q4_0},
    {LQ_TYPE_Q4_1, decode_q4_1, NULL, gemv_decode_q4_1},
    {LQ_TYPE_Q5_0, decode_q5_0, NULL, gemv_decode_q5_0},
    {LQ_TYPE_Q5_1, decode_q5_1, NULL, gemv_decode_q5_1},
    {LQ_TYPE_Q6_0, decode_q6_0, NULL, gemv_decode_q6_0},
    {LQ_TYPE_Q8_0, decode_q8_0, NULL, gemv_decode_q8_0},
    {LQ_TYPE_IQ4_NL, decode_iq4_nl, NULL, gemv_decode_iq4_nl},
    {LQ_TYPE_MXFP4, decode_mxfp4, NULL, gemv_decode_mxfp4},
};
const int lq_panel_decoders_avx2_legacy_count =
    (int)(sizeof lq_panel_decoders_avx2_legacy / sizeof lq_panel_decoders_avx2_legacy[0]);

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx2_legacy[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx2_legacy_count = 0;

#endif
