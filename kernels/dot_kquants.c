/*
 * Kernel family "kquants": super-blocks of 256 weights against LQ_ACT_Q8_32
 * (eight activation blocks per super-block).
 *   symmetric (q3_K, q6_K, iq4_xs):
 *       block = d * sum_k d_k * sum_{s in k} scale_s * sum(q * a)
 *   affine (q2_K, q4_K, q5_K): the same minus
 *       dmin * sum_k d_k * sum_{s in k} min_s * A_s,
 * k the activation blocks of 32 (scale d_k), s the weight sub-blocks (16 or
 * 32 weights) inside them, A_s the activation sum of sub-block s read from
 * the precomputed half sums. q are the weight levels (stored values minus
 * their offsets, or iq4_xs's table values). Block layouts are those of
 * libquant/kquants.c and libquant/nonlinear.c.
 */
#include "common.h"
#include "kernels.h"

enum { QK = 256, ACT_BLOCKS = QK / LQ_ACT_Q8_32_BLOCK, MAX_SUB = 16 };

static const int8_t iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};

static float half_at(const uint8_t *p) { return lq_half_to_float(lq_load_u16(p)); }

float lq_superblock_dot(const int8_t *level, const lq_act_q8_32 *a, const int *scale,
                        int sub) {
    const int per_block = LQ_ACT_Q8_32_BLOCK / sub;
    float total = 0.0f;
    for (int k = 0; k < ACT_BLOCKS; k++) {
        int32_t isum = 0;
        for (int t = 0; t < per_block; t++) {
            const int8_t *q = level + k * LQ_ACT_Q8_32_BLOCK + t * sub;
            const int8_t *x = a[k].qs + t * sub;
            int32_t sum = 0;
            for (int i = 0; i < sub; i++)
                sum += q[i] * x[i];
            isum += scale[k * per_block + t] * sum;
        }
        total += a[k].d * (float)isum;
    }
    return total;
}

/* sum over activation blocks k of d_k * sum_{s in k} min[s] * A_s */
static float mins_dot(const int *min, const lq_act_q8_32 *a, int sub) {
    float total = 0.0f;
    for (int k = 0; k < ACT_BLOCKS; k++) {
        const int16_t *hs = a[k].half_sums;
        int32_t isum = sub == 16 ? min[2 * k] * hs[0] + min[2 * k + 1] * hs[1]
                                 : min[k] * (hs[0] + hs[1]);
        total += a[k].d * (float)isum;
    }
    return total;
}

/* ---- bit layouts ---------------------------------------------------------- */

/* In each half of 128 weights, byte l holds weights l, l+32, l+64, l+96. */
static void unpack_2bit(const uint8_t *qs, int8_t *level) {
    for (int half = 0; half < 2; half++)
        for (int l = 0; l < 32; l++)
            for (int k = 0; k < 4; k++)
                level[128 * half + 32 * k + l] = (int8_t)((qs[32 * half + l] >> (2 * k)) & 3);
}

/* In each quarter of 64 weights, byte l holds weight l (low), l+32 (high). */
static void unpack_nibbles(const uint8_t *qs, int8_t *level) {
    for (int quarter = 0; quarter < 4; quarter++)
        for (int l = 0; l < 32; l++) {
            level[64 * quarter + l] = (int8_t)(qs[32 * quarter + l] & 15);
            level[64 * quarter + l + 32] = (int8_t)(qs[32 * quarter + l] >> 4);
        }
}

/* Eight 6-bit scales and mins in 12 bytes (q4_K, q5_K). */
static void unpack_scales_k4(const uint8_t *in, int *scale, int *min) {
    for (int j = 0; j < 4; j++) {
        scale[j] = in[j] & 63;
        min[j] = in[j + 4] & 63;
        scale[j + 4] = (in[j + 8] & 15) | (in[j] >> 6) << 4;
        min[j + 4] = (in[j + 8] >> 4) | (in[j + 4] >> 6) << 4;
    }
}

/* ---- block kernels -------------------------------------------------------- */

/* scales[16] (scale low nibble, min high), qs[64], d, dmin */
static float q2_K_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int scale[MAX_SUB], min[MAX_SUB];
    for (int s = 0; s < 16; s++) {
        scale[s] = w[s] & 15;
        min[s] = w[s] >> 4;
    }
    unpack_2bit(w + 16, level);
    return half_at(w + 80) * lq_superblock_dot(level, a, scale, 16) -
           half_at(w + 82) * mins_dot(min, a, 16);
}

/* hmask[32], qs[64], scales[12] (6-bit, offset 32), d */
static float q3_K_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int scale[MAX_SUB];
    unpack_2bit(w + 32, level);
    for (int j = 0; j < QK; j++)
        level[j] = (int8_t)(level[j] - (((w[j % 32] >> (j / 32)) & 1) ? 0 : 4));
    const uint8_t *sc = w + 96;
    for (int s = 0; s < 16; s++)
        scale[s] = (((sc[s % 8] >> (4 * (s / 8))) & 15) |
                    ((sc[8 + s % 4] >> (2 * (s / 4))) & 3) << 4) - 32;
    return half_at(w + 108) * lq_superblock_dot(level, a, scale, 16);
}

/* d, dmin, scales[12], qs[128] */
static float q4_K_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int scale[8], min[8];
    unpack_scales_k4(w + 4, scale, min);
    unpack_nibbles(w + 16, level);
    return half_at(w) * lq_superblock_dot(level, a, scale, 32) -
           half_at(w + 2) * mins_dot(min, a, 32);
}

/* d, dmin, scales[12], qh[32] (bit j/32 of byte j%32 = fifth bit), qs[128] */
static float q5_K_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int scale[8], min[8];
    unpack_scales_k4(w + 4, scale, min);
    unpack_nibbles(w + 48, level);
    for (int j = 0; j < QK; j++)
        level[j] = (int8_t)(level[j] | ((w[16 + j % 32] >> (j / 32)) & 1) << 4);
    return half_at(w) * lq_superblock_dot(level, a, scale, 32) -
           half_at(w + 2) * mins_dot(min, a, 32);
}

/* ql[128], qh[64], int8 scales[16], d; level = 6-bit value - 32 */
static float q6_K_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int scale[MAX_SUB];
    for (int half = 0; half < 2; half++) {
        int8_t *v = level + 128 * half;
        const uint8_t *ql = w + 64 * half;
        const uint8_t *qh = w + 128 + 32 * half;
        for (int l = 0; l < 32; l++) {
            v[l] = (int8_t)(((ql[l] & 15) | (qh[l] & 3) << 4) - 32);
            v[l + 32] = (int8_t)(((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32);
            v[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            v[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
    for (int s = 0; s < 16; s++)
        scale[s] = (int8_t)w[192 + s];
    return half_at(w + 208) * lq_superblock_dot(level, a, scale, 16);
}

/* d, scales_h (2 bits per sub-block), scales_l[4] (nibbles), then per
 * sub-block of 32: 16 bytes, byte j = weight j (low) and j+16 (high) */
static float iq4_xs_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int scale[8];
    uint16_t scales_h = lq_load_u16(w + 2);
    for (int s = 0; s < 8; s++) {
        scale[s] = (((w[4 + s / 2] >> (4 * (s % 2))) & 15) |
                    ((scales_h >> (2 * s)) & 3) << 4) - 32;
        const uint8_t *qs = w + 8 + 16 * s;
        for (int j = 0; j < 16; j++) {
            level[32 * s + j] = iq4nl_values[qs[j] & 15];
            level[32 * s + j + 16] = iq4nl_values[qs[j] >> 4];
        }
    }
    return half_at(w) * lq_superblock_dot(level, a, scale, 32);
}

/* ---- row loops ------------------------------------------------------------ */

#define KQUANT_ROW_DOT(name, bytes)                                            \
    static float dot_##name(const void *w_row, const void *act, int64_t ncols) { \
        const uint8_t *w = w_row;                                              \
        const lq_act_q8_32 *a = act;                                          \
        float total = 0.0f;                                                    \
        for (int64_t b = 0; b < ncols / QK; b++)                               \
            total += name##_block(w + b * (bytes), a + b * ACT_BLOCKS);                     \
        return total;                                                          \
    }

KQUANT_ROW_DOT(q2_K, 84)
KQUANT_ROW_DOT(q3_K, 110)
KQUANT_ROW_DOT(q4_K, 144)
KQUANT_ROW_DOT(q5_K, 176)
KQUANT_ROW_DOT(q6_K, 210)
KQUANT_ROW_DOT(iq4_xs, 136)

static const lq_dot_kernel kquant_kernels[] = {
    {LQ_TYPE_Q2_K, LQ_ACT_Q8_32, dot_q2_K},
    {LQ_TYPE_Q3_K, LQ_ACT_Q8_32, dot_q3_K},
    {LQ_TYPE_Q4_K, LQ_ACT_Q8_32, dot_q4_K},
    {LQ_TYPE_Q5_K, LQ_ACT_Q8_32, dot_q5_K},
    {LQ_TYPE_Q6_K, LQ_ACT_Q8_32, dot_q6_K},
    {LQ_TYPE_IQ4_XS, LQ_ACT_Q8_32, dot_iq4_xs},
};

const lq_kernel_family lq_kernels_kquants = {
    "kquants", kquant_kernels, sizeof kquant_kernels / sizeof kquant_kernels[0]};
