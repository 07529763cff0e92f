/*
 * Kernel family "bitnet": the ternary types iq1_bn and iq2_bn against
 * LQ_ACT_Q8_32. Weights are t * d with t in {-1, 0, 1} and one scale d per
 * row (stored before the blocks: fp16 for iq1_bn, f32 for iq2_bn), so
 *     row = d * sum_k d_k * sum(t * a)
 * over the activation blocks k of 32 (two per 64-weight block). Block
 * layouts are those of libquant/bitnet.c.
 */
#include "common.h"
#include "kernels.h"

enum { QK = 64, ACT_PER_BLOCK = QK / LQ_ACT_Q8_32_BLOCK };

/* A byte of iq1_bn holds up to five trits as a base-3 fraction of 256:
 * multiplying by 3^(4-i) moves trit i to the top, where the top two bits
 * of v + v/2 read it. */
static const uint8_t trit_multiplier[5] = {81, 27, 9, 3, 1};

static int8_t trit(uint8_t byte, int i) {
    uint8_t v = (uint8_t)(byte * trit_multiplier[i]);
    return (int8_t)(((v + (v >> 1)) >> 7) - 1);
}

/* 13 bytes: group g of 16 weights keeps weights 0-14 in bytes 3g .. 3g+2
 * (five trits each) and weight 15 as trit g of byte 12. */
static void iq1_bn_levels(const uint8_t *w, int8_t *t) {
    for (int g = 0; g < 4; g++) {
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 5; i++)
                t[16 * g + 5 * k + i] = trit(w[3 * g + k], i);
        t[16 * g + 15] = trit(w[12], g);
    }
}

/* 16 bytes: byte j holds t + 1 of weights j, j+16, j+32, j+48 from the low
 * bits up. */
static void iq2_bn_levels(const uint8_t *w, int8_t *t) {
    for (int j = 0; j < 16; j++)
        for (int s = 0; s < 4; s++)
            t[j + 16 * s] = (int8_t)(((w[j] >> (2 * s)) & 3) - 1);
}

static float ternary_block(const int8_t *t, const lq_act_q8_32 *a) {
    float total = 0.0f;
    for (int k = 0; k < ACT_PER_BLOCK; k++) {
        int32_t sum = 0;
        for (int i = 0; i < LQ_ACT_Q8_32_BLOCK; i++)
            sum += t[LQ_ACT_Q8_32_BLOCK * k + i] * a[k].qs[i];
        total += a[k].d * (float)sum;
    }
    return total;
}

static float dot_iq1_bn(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const lq_act_q8_32 *a = act;
    int8_t t[QK];
    float total = 0.0f;
    for (int64_t b = 0; b < ncols / QK; b++) {
        iq1_bn_levels(w + 2 + 13 * b, t);
        total += ternary_block(t, a + ACT_PER_BLOCK * b);
    }
    return lq_half_to_float(lq_load_u16(w)) * total;
}

static float dot_iq2_bn(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const lq_act_q8_32 *a = act;
    int8_t t[QK];
    float total = 0.0f;
    for (int64_t b = 0; b < ncols / QK; b++) {
        iq2_bn_levels(w + 4 + 16 * b, t);
        total += ternary_block(t, a + ACT_PER_BLOCK * b);
    }
    return lq_load_f32(w) * total;
}

static const lq_dot_kernel bitnet_kernels[] = {
    {LQ_TYPE_IQ1_BN, LQ_ACT_Q8_32, dot_iq1_bn},
    {LQ_TYPE_IQ2_BN, LQ_ACT_Q8_32, dot_iq2_bn},
};

const lq_kernel_family lq_kernels_bitnet = {
    "bitnet", bitnet_kernels, sizeof bitnet_kernels / sizeof bitnet_kernels[0]};
