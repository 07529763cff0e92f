/*
 * Kernel family "legacy": blocks of 32 weights against LQ_ACT_Q8_32.
 *   q8_0, q4_0, q5_0, q6_0: levels q (stored value minus its offset),
 *       block = d_w * d_a * sum(q * a);
 *   q4_1, q5_1: levels L >= 0 and an offset m,
 *       block = d_w * d_a * sum(L * a) + m * d_a * sum(a);
 *   iq4_nl, mxfp4: levels are the format's value table (mxfp4's doubled so
 *       they are integers, with the scale halved to match).
 * Block layouts are those of libquant/legacy.c and libquant/nonlinear.c.
 */
#include <math.h>

#include "common.h"
#include "kernels.h"

enum { QK = 32, HALF = QK / 2 };

static const int8_t iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};
static const int8_t mxfp4_values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                        0, -1, -2, -3, -4, -6, -8, -12};

static int32_t dot_levels(const int8_t *w, const int8_t *a) {
    int32_t sum = 0;
    for (int i = 0; i < QK; i++)
        sum += w[i] * a[i];
    return sum;
}

/* 16 bytes of nibbles: byte j holds weight j (low) and j + 16 (high). */
static void unpack_nibbles(const uint8_t *qs, int bias, int8_t *level) {
    for (int j = 0; j < HALF; j++) {
        level[j] = (int8_t)((qs[j] & 15) - bias);
        level[j + HALF] = (int8_t)((qs[j] >> 4) - bias);
    }
}

static void lookup_nibbles(const uint8_t *qs, const int8_t *table, int8_t *level) {
    for (int j = 0; j < HALF; j++) {
        level[j] = table[qs[j] & 15];
        level[j + HALF] = table[qs[j] >> 4];
    }
}

/* Fifth bit of weight j is bit j of the 32-bit mask qh. */
static void unpack_5bit(const uint8_t *qh, const uint8_t *qs, int bias, int8_t *level) {
    uint32_t mask = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                    (uint32_t)qh[3] << 24;
    for (int j = 0; j < HALF; j++) {
        int lo = (qs[j] & 15) | (int)((mask >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((mask >> (j + HALF)) & 1) << 4;
        level[j] = (int8_t)(lo - bias);
        level[j + HALF] = (int8_t)(hi - bias);
    }
}

/* Bits 4-5 of weight j (< 16) are bits 4*(j/8) + {0,1} of qh[j % 8], those
 * of weight j + 16 the two bits above. */
static void unpack_6bit(const uint8_t *qh, const uint8_t *qs, int8_t *level) {
    for (int j = 0; j < HALF; j++) {
        int high = qh[j % 8] >> (4 * (j / 8));
        level[j] = (int8_t)(((qs[j] & 15) | (high & 3) << 4) - 32);
        level[j + HALF] = (int8_t)(((qs[j] >> 4) | ((high >> 2) & 3) << 4) - 32);
    }
}

static float half_at(const uint8_t *p) { return lq_half_to_float(lq_load_u16(p)); }

/* ---- block kernels -------------------------------------------------------- */

static float q8_0_block(const uint8_t *w, const lq_act_q8_32 *a) {
    return half_at(w) * a->d * (float)dot_levels((const int8_t *)(w + 2), a->qs);
}

static float q4_0_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    unpack_nibbles(w + 2, 8, level);
    return half_at(w) * a->d * (float)dot_levels(level, a->qs);
}

static float q4_1_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    unpack_nibbles(w + 4, 0, level);
    return half_at(w) * a->d * (float)dot_levels(level, a->qs) +
           half_at(w + 2) * a->d * (float)(a->half_sums[0] + a->half_sums[1]);
}

static float q5_0_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    unpack_5bit(w + 2, w + 6, 16, level);
    return half_at(w) * a->d * (float)dot_levels(level, a->qs);
}

static float q5_1_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    unpack_5bit(w + 4, w + 8, 0, level);
    return half_at(w) * a->d * (float)dot_levels(level, a->qs) +
           half_at(w + 2) * a->d * (float)(a->half_sums[0] + a->half_sums[1]);
}

static float q6_0_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    unpack_6bit(w + 2, w + 10, level);
    return half_at(w) * a->d * (float)dot_levels(level, a->qs);
}

static float iq4_nl_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    lookup_nibbles(w + 2, iq4nl_values, level);
    return half_at(w) * a->d * (float)dot_levels(level, a->qs);
}

/* E8M0 scale 2^(e-127), halved because the table holds doubled values. */
static float mxfp4_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    lookup_nibbles(w + 1, mxfp4_values, level);
    return ldexpf(1.0f, (int)w[0] - 128) * a->d * (float)dot_levels(level, a->qs);
}

/* ---- row loops ------------------------------------------------------------ */

#define LEGACY_ROW_DOT(name, bytes)                                            \
    static float dot_##name(const void *w_row, const void *act, int64_t ncols) { \
        const uint8_t *w = w_row;                                              \
        const lq_act_q8_32 *a = act;                                           \
        float total = 0.0f;                                                    \
        for (int64_t b = 0; b < ncols / QK; b++)                               \
            total += name##_block(w + b * (bytes), &a[b]);                     \
        return total;                                                          \
    }

LEGACY_ROW_DOT(q8_0, 34)
LEGACY_ROW_DOT(q4_0, 18)
LEGACY_ROW_DOT(q4_1, 20)
LEGACY_ROW_DOT(q5_0, 22)
LEGACY_ROW_DOT(q5_1, 24)
LEGACY_ROW_DOT(q6_0, 26)
LEGACY_ROW_DOT(iq4_nl, 18)
LEGACY_ROW_DOT(mxfp4, 17)

static const lq_dot_kernel legacy_kernels[] = {
    {LQ_TYPE_Q8_0, LQ_ACT_Q8_32, dot_q8_0},
    {LQ_TYPE_Q4_0, LQ_ACT_Q8_32, dot_q4_0},
    {LQ_TYPE_Q4_1, LQ_ACT_Q8_32, dot_q4_1},
    {LQ_TYPE_Q5_0, LQ_ACT_Q8_32, dot_q5_0},
    {LQ_TYPE_Q5_1, LQ_ACT_Q8_32, dot_q5_1},
    {LQ_TYPE_Q6_0, LQ_ACT_Q8_32, dot_q6_0},
    {LQ_TYPE_IQ4_NL, LQ_ACT_Q8_32, dot_iq4_nl},
    {LQ_TYPE_MXFP4, LQ_ACT_Q8_32, dot_mxfp4},
};

const lq_kernel_family lq_kernels_legacy = {
    "legacy", legacy_kernels, sizeof legacy_kernels / sizeof legacy_kernels[0]};
