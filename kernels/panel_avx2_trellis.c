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

enum { IQ2_KT_BYTES = 68 };

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

/* Four states per lane (j = 4 s .. 4 s + 3) -> the step's 32 level bytes. */
AVX2 AVX2_INLINE __m256i step_levels(const __m256i state[4]) {
    __m256i bytes = _mm256_setzero_si256();
    for (int i = 0; i < 4; i++)
        bytes = _mm256_or_si256(bytes, _mm256_shuffle_epi8(lq_kt_top_sums_avx2(state[i]), byte_to(3, i)));
    return _mm256_sub_epi8(bytes, _mm256_set1_epi8(LQ_KT_BIAS));
}

/* Lane L of half h: scale code of block 4 h + L / 2 (codes in nibble ib / 4
 * of byte ib % 4) through the value table, times d: the scalar decoder's
 * d * (float)value. */
AVX2 AVX2_INLINE __m256 nibble_code_scales(const uint8_t *codes, int h, float d) {
    const __m256i all = _mm256_set1_epi32((int)lq_load_u32(codes));
    const __m256i shift = _mm256_add_epi32(_mm256_setr_epi32(0, 0, 8, 8, 16, 16, 24, 24),
                                           _mm256_set1_epi32(4 * h));
    const __m256i code = _mm256_and_si256(_mm256_srlv_epi32(all, shift), _mm256_set1_epi32(15));
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const __m128i *)(const void *)kt_scale_values));
    const __m256i value = _mm256_srai_epi32(_mm256_slli_epi32(_mm256_shuffle_epi8(table, code), 24), 24);
    return _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(value));
}

/* ---- iq2_kt: 4 bytes of scale codes, 32 16-bit seeds --------------------- */

/* Half h's seeds: lane L holds the two groups of 8 of 16-group 8 h + L. */
AVX2 AVX2_INLINE void iq2_kt_seeds(const uint8_t *sb, int h, __m256i seeds[2]) {
    const __m256i pairs = _mm256_loadu_si256((const __m256i *)(const void *)(sb + 4 + 32 * h));
    const __m256i offset = _mm256_set1_epi32((int)LQ_KT_OFFSET);
    seeds[0] = _mm256_add_epi32(_mm256_and_si256(pairs, _mm256_set1_epi32(0xffff)), offset);
    seeds[1] = _mm256_add_epi32(_mm256_srli_epi32(pairs, 16), offset);
}

/* Step s (weights 4 s .. 4 s + 3 of each lane's group) of 8-weight groups. */
AVX2 AVX2_INLINE void eight_group_states(const __m256i seeds[2], const uint32_t *powers, int s,
                                         __m256i state[4]) {
    for (int i = 0; i < 4; i++)
        state[i] = lq_kt_states_avx2(seeds[s / 2], powers[4 * (s % 2) + i]);
}

AVX2 AVX2_INLINE void decode_iq2_kt(const uint8_t *row, int64_t chunk, int count,
                                    lq_panel_chunk *out) {
    uint32_t powers[8];
    lq_kt_powers(powers);
    const float d = lq_load_f32(row);
    const uint8_t *sb = row + 4 + chunk * IQ2_KT_BYTES;
    for (int h = 0; h < 2; h++) {
        __m256i seeds[2];
        iq2_kt_seeds(sb, h, seeds);
        for (int s = 0; s < 4; s++) {
            __m256i state[4];
            eight_group_states(seeds, powers, s, state);
            _mm256_store_si256((__m256i *)(void *)(out->level + 64 * s + 32 * h), step_levels(state));
        }
        _mm256_store_ps(out->scale + 8 * h, nibble_code_scales(sb, h, d));
        _mm256_store_ps(out->offset + 8 * h, _mm256_setzero_ps());
    }
    (void)count;
}

/* sum(level + 126) * a per lane for one step: the states' masked bytes
 * times the repeated activations, two states added in int16 (2 x 2 x 63 x
 * 127 fits, four would not) */
AVX2 AVX2_INLINE __m256i step_dot(const __m256i state[4], __m256i act) {
    __m256i pairs[2];
    for (int p = 0; p < 2; p++) {
        const __m256i m0 = _mm256_maddubs_epi16(lq_kt_masked_avx2(state[2 * p]),
                                                _mm256_shuffle_epi8(act, repeat_byte(2 * p)));
        const __m256i m1 = _mm256_maddubs_epi16(lq_kt_masked_avx2(state[2 * p + 1]),
                                                _mm256_shuffle_epi8(act, repeat_byte(2 * p + 1)));
        pairs[p] = _mm256_add_epi16(m0, m1);
    }
    const __m256i ones = _mm256_set1_epi16(1);
    return _mm256_add_epi32(_mm256_madd_epi16(pairs[0], ones), _mm256_madd_epi16(pairs[1], ones));
}

/* Per lane, 126 * sum(a) over the step's four activations. */
AVX2 AVX2_INLINE __m256i step_bias(__m256i act) {
    const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), act),
                                           _mm256_set1_epi16(1));
    return _mm256_mullo_epi32(sums, _mm256_set1_epi32(LQ_KT_BIAS));
}

AVX2 static void gemv_iq2_kt(const uint8_t *rows, int64_t row_bytes, int64_t nrows,
                             int64_t nchunks, const lq_act_chunk *a, bool has_offset, float *y) {
    uint32_t powers[8];
    lq_kt_powers(powers);
    (void)has_offset;
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = rows + r * row_bytes;
        const float d = lq_load_f32(row);
        __m256 sum = _mm256_setzero_ps();
        for (int64_t c = 0; c < nchunks; c++) {
            const uint8_t *sb = row + 4 + c * IQ2_KT_BYTES;
            for (int h = 0; h < 2; h++) {
                __m256i seeds[2];
                iq2_kt_seeds(sb, h, seeds);
                /* 4 x 126 x 4 x 127 fits easily: the bias is subtracted per half */
                __m256i isum = _mm256_setzero_si256(), bias = _mm256_setzero_si256();
                for (int s = 0; s < 4; s++) {
                    const __m256i act = lq_act_signed_avx2(&a[c], s, h);
                    __m256i state[4];
                    eight_group_states(seeds, powers, s, state);
                    isum = _mm256_add_epi32(isum, step_dot(state, act));
                    bias = _mm256_add_epi32(bias, step_bias(act));
                }
                isum = _mm256_sub_epi32(isum, bias);
                const __m256 scale = _mm256_mul_ps(nibble_code_scales(sb, h, d), _mm256_load_ps(a[c].d + 8 * h));
                sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, sum);
            }
        }
        y[r] = lq_reduce_avx2(sum);
    }
}

const lq_panel_simd_decoder lq_panel_decoders_avx2_trellis[] = {
    {LQ_TYPE_IQ2_KT, decode_iq2_kt, NULL, gemv_iq2_kt},
};
const int lq_panel_decoders_avx2_trellis_count =
    (int)(sizeof lq_panel_decoders_avx2_trellis / sizeof lq_panel_decoders_avx2_trellis[0]);

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx2_trellis[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx2_trellis_count = 0;

#endif
