/*
 * Fused one-vector products (GEMV) of the row-interleaved types at the
 * AVX-512 level: a group's chunk is decoded in registers and multiplied at
 * once, each activation load shared by the group's 4, 8 or 16 rows.
 *
 * Why the results are the tile kernel's bits (panel_avx512.h,
 * lq_chunk_dot): per (row, 16-group) the tile forms the exact int32 sum of
 * level * a, converts it, and does sum = fma(exact, scale * d, sum), then
 * sum = fma(offset, dsum, sum), one float lane per group, chunks in order,
 * and reduce_add at the end. These are lane-wise operations, so they may
 * run in any register layout: here a register holds (group, row) pairs,
 * lane ROWS * j + k = row k of group GPR * p + j for register p (GPR =
 * 16 / ROWS groups per register, ROWS registers: the "P layout"). Only
 * the final vectors are put back in lane order (lane g = group g) for the
 * same _mm512_reduce_add_ps.
 *
 * The integer sums: the stored quants u are unsigned (level = u - bias, or
 * level = table[u], mapped to table[u] + 128), so vpdpbusd(u, a) with the
 * signed activation a, minus bias * sum(a), is sum(level * a) exactly,
 * without the tile's per-row weight sums.
 *
 * A type supplies an inline chunk function
 *     chunk(const uint8_t *group, int64_t chunk, const lq_gact *act, __m512 *sum)
 * that adds, for every register p, its chunk to sum[p] with
 * lq_gsum_add(ROWS, p, exact, scale, act, sum) (and the offset with
 * lq_gsum_add_offset); LQ_GROUP_GEMV(name, ROWS, chunk) makes the GEMV
 * (an lq_group_gemv_fn, panel.h), ROWS = 4, 8 or 16. Any interleaved
 * type whose stored quads (4 weights of a row in 4 bytes) can be made
 * unsigned in place fits; panel_avx512_groups.c has the examples.
 */
#ifndef LIBQUANT_GROUP_GEMV_AVX512_H
#define LIBQUANT_GROUP_GEMV_AVX512_H

#include "panel_avx512.h"

/* One activation chunk as every row of a group uses it. */
typedef struct lq_gact {
    __m512i step[4]; /* signed a, lane order: step s, lane L = quad s of group L */
    __m512i sum;     /* int32 sum of a per group, lane L = group L */
    __m512 d, dsum;  /* lane L = group L */
    const lq_act_chunk *chunk; /* for broadcasts from memory */
} lq_gact;

AVX512 INLINE void lq_gact_load(const lq_act_chunk *a, lq_gact *g) {
    const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    g->sum = _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        g->step[s] = _mm512_xor_si512(_mm512_load_si512((const void *)(a->biased + 64 * s)), flip);
        g->sum = _mm512_dpbusd_epi32(g->sum, ones, g->step[s]);
    }
    g->chunk = a;
    g->d = _mm512_load_ps(a->d);
    g->dsum = _mm512_load_ps(a->dsum);
}

/* The P layout's group of each lane of register p: lane ROWS j + k is
 * group (16 / ROWS) p + j. */
AVX512 INLINE __m512i lq_gp_index(int rows, int p) {
    int idx[16];
    for (int lane = 0; lane < 16; lane++)
        idx[lane] = 16 / rows * p + lane / rows;
    return _mm512_loadu_si512((const void *)idx);
}

/* a per-group vector (lane L = group L) in the P layout of register p */
AVX512 INLINE __m512i lq_gp_spread(int rows, int p, __m512i per_group) {
    return _mm512_permutexvar_epi32(lq_gp_index(rows, p), per_group);
}

AVX512 INLINE __m512 lq_gp_spread_ps(int rows, int p, __m512 per_group) {
    return _mm512_permutexvar_ps(lq_gp_index(rows, p), per_group);
}

/* the tile's float step for register p: exact is the P layout's integer
 * sums, scale the weights' scales in the same layout */
AVX512 INLINE void lq_gsum_add(int rows, int p, __m512i exact, __m512 scale, const lq_gact *a,
                               __m512 *sum) {
    /* one group per register: its d broadcast from memory (a load, not a
     * permute) */
    const __m512 d = rows == 16 ? _mm512_set1_ps(a->chunk->d[p]) : lq_gp_spread_ps(rows, p, a->d);
    sum[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(scale, d), sum[p]);
}

AVX512 INLINE void lq_gsum_add_offset(int rows, int p, __m512 offset, const lq_gact *a,
                                      __m512 *sum) {
    sum[p] = _mm512_fmadd_ps(offset, lq_gp_spread_ps(rows, p, a->dsum), sum[p]);
}

/* bias * sum(a) in the P layout of register p (bias a power of two) */
AVX512 INLINE __m512i lq_gp_bias(int rows, int p, const lq_gact *a, int log2_bias) {
    return lq_gp_spread(rows, p, _mm512_slli_epi32(a->sum, (unsigned)log2_bias));
}

/* Row k's lane-order vector (lane g = group g) from the P layout (4 or 8
 * rows). */
AVX512 INLINE __m512 lq_gp_row(int rows, const __m512 *sum, int k) {
    if (rows == 4) {
        /* 4 registers, row k at lanes k, k + 4, k + 8, k + 12 of each */
        int idx[16];
        for (int lane = 0; lane < 16; lane++)
            idx[lane] = 16 * ((lane / 4) & 1) + 4 * (lane % 4) + k;
        const __m512i ix = _mm512_loadu_si512((const void *)idx);
        const __m512 lo = _mm512_permutex2var_ps(sum[0], ix, sum[1]);
        const __m512 hi = _mm512_permutex2var_ps(sum[2], ix, sum[3]);
        return _mm512_shuffle_f32x4(lo, hi, 0x44);
    }
    if (rows == 8) {
        /* 8 registers, row k at lanes k, k + 8: pair q into 128-bit lane q */
        __m512 part[4];
        for (int q = 0; q < 4; q++) {
            int idx[16];
            for (int lane = 0; lane < 16; lane++)
                idx[lane] = 16 * ((lane / 2) & 1) + 8 * (lane & 1) + k;
            part[q] = _mm512_permutex2var_ps(sum[2 * q], _mm512_loadu_si512((const void *)idx),
                                             sum[2 * q + 1]);
        }
        const __m512 a = _mm512_shuffle_f32x4(part[0], part[1], 0x00);
        const __m512 b = _mm512_shuffle_f32x4(part[2], part[3], 0x00);
        return _mm512_shuffle_f32x4(a, b, 0x88);
    }
    /* one group per register: lq_gp_rows transposes them all at once */
    return _mm512_setzero_ps();
}

/* 16 x 16 dwords: out[k] lane L = in[L] lane k */
AVX512 INLINE void lq_transpose16(const __m512i in[16], __m512i out[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(in[i], in[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(in[i], in[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)
        for (int h = 0; h < 2; h++) {
            u[i + h] = _mm512_unpacklo_epi64(t[i + h], t[i + 2 + h]);
            u[i + 2 + h] = _mm512_unpackhi_epi64(t[i + h], t[i + 2 + h]);
        }
    /* u[4 q + r]: in 128-bit lane m, output row 4 m + order[r] of inputs
     * 4 q .. 4 q + 3 */
    static const int order[4] = {0, 2, 1, 3};
    for (int q = 0; q < 4; q += 2)
        for (int r = 0; r < 4; r++) {
            t[4 * q + r] = _mm512_shuffle_i32x4(u[4 * q + r], u[4 * (q + 1) + r], 0x88);
            t[4 * (q + 1) + r] = _mm512_shuffle_i32x4(u[4 * q + r], u[4 * (q + 1) + r], 0xDD);
        }
    for (int r = 0; r < 4; r++)
        for (int m = 0; m < 2; m++) {
            out[4 * m + order[r]] = _mm512_shuffle_i32x4(t[r + 4 * m], t[8 + r + 4 * m], 0x88);
            out[8 + 4 * m + order[r]] = _mm512_shuffle_i32x4(t[r + 4 * m], t[8 + r + 4 * m], 0xDD);
        }
}

/* y[k] = row k's product, for every row of the group */
AVX512 INLINE void lq_gp_rows(int rows, const __m512 *sum, float *y) {
    if (rows == 16) {
        __m512i in[16], out[16];
        for (int p = 0; p < 16; p++)
            in[p] = _mm512_castps_si512(sum[p]);
        lq_transpose16(in, out);
        for (int k = 0; k < 16; k++)
            y[k] = _mm512_reduce_add_ps(_mm512_castsi512_ps(out[k]));
        return;
    }
    for (int k = 0; k < rows; k++)
        y[k] = _mm512_reduce_add_ps(lq_gp_row(rows, sum, k));
}

#define LQ_GROUP_GEMV(name, ROWS, chunk_fn)                                                      \
    AVX512 static void name(lq_panel_group_decode_fn decode, const uint8_t *groups,             \
                            int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,      \
                            const lq_act_chunk *a, bool has_offset, float *y) {                 \
        enum { NP = ROWS };                                                                      \
        const int64_t nchunks = ncols / LQ_PANEL_K;                                              \
        for (int64_t g = 0; g < ngroups; g++) {                                                  \
            const uint8_t *group = groups + g * group_bytes;                                     \
            __m512 sum[NP];                                                                      \
            for (int p = 0; p < NP; p++)                                                         \
                sum[p] = _mm512_setzero_ps();                                                    \
            for (int64_t c = 0; c < nchunks; c++) {                                              \
                lq_gact act;                                                                     \
                lq_gact_load(&a[c], &act);                                                       \
                chunk_fn(group, c, &act, sum);                                                   \
            }                                                                                    \
            lq_gp_rows(ROWS, sum, y + g * ROWS);                                                 \
        }                                                                                        \
        (void)decode, (void)rows, (void)has_offset;                                              \
    }

#endif /* LIBQUANT_GROUP_GEMV_AVX512_H */
