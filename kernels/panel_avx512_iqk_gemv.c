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

#if defined(__x86_64__) || defined(__i386__)
#include <string.h>

#include "iqk_tables.h"
#include "panel_avx512_iqk.h"

/* ---- activations and the float part ------------------------------------- */

/* One activation chunk as the products below want it. */
typedef struct chunk_act {
    __m512i step[4];   /* a as signed bytes, lane order */
    __m512i bias;      /* 128 sum(a) per 16-group */
    __m512i shift;     /* delta sum(a) per 16-group */
    __m512 d;
} chunk_act;

AVX512 INLINE chunk_act load_act(const lq_act_chunk *a, int delta) {
    chunk_act c;
    __m512i biased_sum = _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        const __m512i b = _mm512_load_si512((const void *)(a->biased + 64 * s));
        biased_sum = _mm512_dpbusd_epi32(biased_sum, b, _mm512_set1_epi8(1));
        c.step[s] = _mm512_xor_si512(b, _mm512_set1_epi8((char)0x80));
    }
    const __m512i sum = _mm512_sub_epi32(biased_sum, _mm512_set1_epi32(16 * 128));
    c.bias = _mm512_slli_epi32(sum, 7);
    c.shift = _mm512_mullo_epi32(sum, _mm512_set1_epi32(delta));
    c.d = _mm512_load_ps(a->d);
    return c;
}

/* One row's chunk added to sum as lq_chunk_dot does it: `dot` the group
 * sums of level + 128 (base half) times a, ls the integer scales, d the
 * row's scale (the decoders' scale is d * ls). */
AVX512 INLINE __m512 add_row_chunk(__m512i dot, const chunk_act *c, __mmask16 shifted, float d,
                                   __m512i ls, __m512 sum) {
    __m512i exact = _mm512_sub_epi32(dot, c->bias);
    exact = _mm512_mask_add_epi32(exact, shifted, exact, c->shift);
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(ls));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(scale, c->d), sum);
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

/* ---- group sums of the two quant layouts ------------------------------------ */

/* in[p]: the sum of group 4p + q of row k in dword k of 128-bit lane q;
 * out[k]: row k's 16 group sums in lane order */
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
 * set fifth bit takes the level from `upper`. */
AVX512 INLINE void nibble_plane_sums(const uint8_t *qs, const uint8_t *qh, const chunk_act *c,
                                     __m512i lower, __m512i upper, __m512i out[4]) {
    const __m512i act_at = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 16, 16, 16, 16, 17, 17, 17, 17);
    const __m512i qh_at = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    __m512i quads[4];
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
                    lv = _mm512_mask_shuffle_epi8(lv, _mm512_test_epi8_mask(fifth, lane_bits(h, h + 2, h + 4, h + 6)),
                                                  upper, idx);
                const __m512i act = _mm512_permutex2var_epi32(
                    c->step[2 * h], _mm512_add_epi32(act_at, _mm512_set1_epi32(2 * m)), c->step[2 * h + 1]);
                acc[half] = _mm512_dpbusd_epi32(acc[half], lv, act);
            }
        }
        /* lanes u = 0, 1 of a register are steps 2h, 2h + 1 of the same groups */
        quads[p] = _mm512_add_epi32(_mm512_shuffle_i64x2(acc[0], acc[1], 0x44),
                                    _mm512_shuffle_i64x2(acc[0], acc[1], 0xee));
    }
    rows_from_quads(quads, out);
}

/* The 2-bit planes of iq2_k_r4 / iq3_k_r4 (256 bytes): register j holds
 * the weights 16 L + 4 t + i of row k, L = 4 j + q, at bits 2t of dword
 * 4 q + k. qh (or NULL): the third bits, bit t + 4 (q % 2) of the bytes of
 * dword 4 (2 (j % 2) + q / 2) + k of register j / 2; a set third bit takes
 * the level from `upper`. */
AVX512 INLINE void two_bit_plane_sums(const uint8_t *qs, const uint8_t *qh, const chunk_act *c,
                                      __m512i lower, __m512i upper, __m512i out[4]) {
    const __m512i act_at = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i qh_at = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7);
    __m512i quads[4];
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
                lv = _mm512_mask_shuffle_epi8(lv, _mm512_test_epi8_mask(third, lane_bits(t, t + 4, t, t + 4)), upper,
                                              idx);
            const __m512i act = _mm512_permutexvar_epi32(
                _mm512_add_epi32(act_at, _mm512_set1_epi32(4 * j)), c->step[t]);
            acc = _mm512_dpbusd_epi32(acc, lv, act);
        }
        quads[j] = acc;
    }
    rows_from_quads(quads, out);
}

/* ---- the types ------------------------------------------------------------------
 * Each adds chunk c of its group's 4 rows to sum[4]; the layouts are those
 * of the group decoders in panel_avx512_iqk.c. */

/* the deltas of the tables' shifted halves */
enum { IQ2_DELTA = 5, IQ3_DELTA = 4, IQ4_DELTA = 4, IQ5_DELTA = 2 };

AVX512 INLINE void chunk_iq4_k_r4(const uint8_t *group, int64_t c, const lq_act_chunk *a,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 576;
    const chunk_act act = load_act(a, IQ4_DELTA);
    const __m512i table = unsigned_table(lq_iq4k_values, 16);
    __m512i dot[4];
    nibble_plane_sums(w + 64, NULL, &act, table, table, dot);
    for (int k = 0; k < 4; k++) {
        __mmask16 shifted;
        const __m512i ls = r4_k_scales(w, k, &shifted);
        sum[k] = add_row_chunk(dot[k], &act, shifted, half_at(w + 2 * k), ls, sum[k]);
    }
}

AVX512 INLINE void chunk_iq5_k_r4(const uint8_t *group, int64_t c, const lq_act_chunk *a,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 704;
    const chunk_act act = load_act(a, IQ5_DELTA);
    __m512i dot[4];
    nibble_plane_sums(w + 64, w + 576, &act, unsigned_table(lq_iq5nl_values, 16),
                      unsigned_table(lq_iq5nl_values + 16, 16), dot);
    for (int k = 0; k < 4; k++) {
        __mmask16 shifted;
        const __m512i ls = r4_k_scales(w, k, &shifted);
        sum[k] = add_row_chunk(dot[k], &act, shifted, half_at(w + 2 * k), ls, sum[k]);
    }
}

/* iq4_ks_r4 / iq5_ks_r4: scale byte ib of row k at 4 ib + k, bit 0 the
 * table half, bits 1-7 the odd code + 127; the rows' f32 scales lead the
 * group */
AVX512 INLINE void add_ks_rows(const uint8_t *group, const uint8_t *w, const chunk_act *act,
                               const __m512i dot[4], __m512 sum[4]) {
    const __m256i bytes = _mm256_loadu_si256((const __m256i *)(const void *)w);
    for (int k = 0; k < 4; k++) {
        const __m256i sb = byte_of_dwords(bytes, k);
        const __mmask16 shifted = pair_mask(_mm256_test_epi32_mask(sb, _mm256_set1_epi32(1)));
        const __m256i code = _mm256_sub_epi32(_mm256_and_si256(sb, _mm256_set1_epi32(254)),
                                              _mm256_set1_epi32(127));
        sum[k] = add_row_chunk(dot[k], act, shifted, lq_load_f32(group + 4 * k), spread_pairs(code),
                               sum[k]);
    }
}

AVX512 INLINE void chunk_iq4_ks_r4(const uint8_t *group, int64_t c, const lq_act_chunk *a,
                                   __m512 sum[4]) {
    const uint8_t *w = group + 16 + c * 544;
    const chunk_act act = load_act(a, IQ4_DELTA);
    const __m512i table = unsigned_table(lq_iq4k_values, 16);
    __m512i dot[4];
    nibble_plane_sums(w + 32, NULL, &act, table, table, dot);
    add_ks_rows(group, w, &act, dot, sum);
}

AVX512 INLINE void chunk_iq5_ks_r4(const uint8_t *group, int64_t c, const lq_act_chunk *a,
                                   __m512 sum[4]) {
    const uint8_t *w = group + 16 + c * 672;
    const chunk_act act = load_act(a, IQ5_DELTA);
    __m512i dot[4];
    nibble_plane_sums(w + 32, w + 544, &act, unsigned_table(lq_iq5nl_values, 16),
                      unsigned_table(lq_iq5nl_values + 16, 16), dot);
    add_ks_rows(group, w, &act, dot, sum);
}

AVX512 INLINE void chunk_iq2_k_r4(const uint8_t *group, int64_t c, const lq_act_chunk *a,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 304;
    const chunk_act act = load_act(a, IQ2_DELTA);
    const __m512i table = unsigned_table(lq_iq2nl_values, 4);
    __m512i dot[4];
    two_bit_plane_sums(w + 48, NULL, &act, table, table, dot);
    for (int k = 0; k < 4; k++) {
        const __m512i ls = _mm512_sub_epi32(r4_scale_nibbles(w + 16, k), _mm512_set1_epi32(8));
        sum[k] = add_row_chunk(dot[k], &act, r4_halves(w, k), half_at(w + 2 * k), ls, sum[k]);
    }
}

/* iq3_k_r4: the signs of ls in bit s of bytes 16 + k (group 2s) and 20 + k
 * (2s + 1), |ls| = 2 n + 1 with the nibbles n at byte 24 */
AVX512 INLINE void chunk_iq3_k_r4(const uint8_t *group, int64_t c, const lq_act_chunk *a,
                                  __m512 sum[4]) {
    const uint8_t *w = group + c * 440;
    const chunk_act act = load_act(a, IQ3_DELTA);
    __m512i dot[4];
    two_bit_plane_sums(w + 56, w + 312, &act, unsigned_table(lq_iq3nl_values, 4),
                       unsigned_table(lq_iq3nl_values + 4, 4), dot);
    for (int k = 0; k < 4; k++) {
        const __m512i magnitude = _mm512_add_epi32(_mm512_slli_epi32(r4_scale_nibbles(w + 24, k), 1),
                                                   _mm512_set1_epi32(1));
        const __mmask16 negative = (__mmask16)(spread_even(w[16 + k]) | spread_even(w[20 + k]) << 1);
        const __m512i ls = _mm512_mask_sub_epi32(magnitude, negative, _mm512_setzero_si512(), magnitude);
        sum[k] = add_row_chunk(dot[k], &act, r4_halves(w, k), half_at(w + 2 * k), ls, sum[k]);
    }
}

/* lq_group_gemv_fn for a type's chunk function (groups of 4 rows, full
 * chunks, no offsets) */
#define R4_GEMV(type)                                                                            \
    AVX512 static void gemv_##type(lq_panel_group_decode_fn decode, const uint8_t *groups,       \
                                   int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols, \
                                   const lq_act_chunk *a, bool has_offset, float *y) {           \
        const int64_t nchunks = ncols / LQ_PANEL_K;                                              \
        for (int64_t g = 0; g < ngroups; g++) {                                                  \
            const uint8_t *group = groups + g * group_bytes;                                     \
            __m512 sum[4];                                                                       \
            for (int k = 0; k < 4; k++)                                                          \
                sum[k] = _mm512_setzero_ps();                                                    \
            for (int64_t c = 0; c < nchunks; c++)                                                \
                chunk_##type(group, c, &a[c], sum);                                              \
            for (int k = 0; k < 4; k++)                                                          \
                y[4 * g + k] = _mm512_reduce_add_ps(sum[k]);                                     \
        }                                                                                        \
        (void)decode, (void)rows, (void)has_offset;                                              \
    }

R4_GEMV(iq2_k_r4)
R4_GEMV(iq3_k_r4)
R4_GEMV(iq4_k_r4)
R4_GEMV(iq5_k_r4)
R4_GEMV(iq4_ks_r4)
R4_GEMV(iq5_ks_r4)

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
