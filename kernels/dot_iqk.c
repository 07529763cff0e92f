/*
 * Kernel family "iqk": iq2_k, iq3_k, iq4_k, iq5_k against LQ_ACT_Q8_32.
 * A super-block of 256 weights has an fp16 d, a u16 of "shifted" bits (one
 * per sub-block of 16: which half of the value table it uses) and a signed
 * integer scale ls per sub-block; the weight levels are the table values:
 *     block = d * sum_k d_k * sum_{s in k} ls_s * sum(value * a).
 * iq6_k is left to the generic path: its values come from a cubic in float,
 * not from an integer table. Block layouts are those of libquant/iqk.c.
 */
#include "common.h"
#include "iqk_bits.h"
#include "iqk_tables.h"
#include "kernels.h"

enum { QK = 256, SUB = 16, SUBS = QK / SUB };

static float half_at(const uint8_t *p) { return lq_half_to_float(lq_load_u16(p)); }

/* The value of index idx of element e, from the half its sub-block uses. */
static int8_t table_value(const int8_t *table, int half_size, uint16_t shifted, int e,
                          int idx) {
    return table[((shifted >> (e / SUB)) & 1) * half_size + idx];
}

/* d, extra, scales[8] (ls + 8 per nibble), qs[64] */
static float iq2_k_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int ls[SUBS];
    uint16_t shifted = lq_load_u16(w + 2);
    for (int s = 0; s < SUBS; s++)
        ls[s] = ((w[4 + s / 2] >> (4 * (s % 2))) & 15) - 8;
    for (int e = 0; e < QK; e++)
        level[e] = table_value(lq_iq2nl_values, 4, shifted, e, lq_iqk_bits2(w + 12, e));
    return half_at(w) * lq_superblock_dot(level, a, ls, SUB);
}

/* d, extra, u16 signs of ls, scales_l[8] (|ls| = 2 * nibble + 1), qs[64],
 * qh[32] */
static float iq3_k_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int ls[SUBS];
    uint16_t shifted = lq_load_u16(w + 2), signs = lq_load_u16(w + 4);
    for (int s = 0; s < SUBS; s++) {
        int mag = 2 * ((w[6 + s / 2] >> (4 * (s % 2))) & 15) + 1;
        ls[s] = (signs >> s) & 1 ? -mag : mag;
    }
    for (int e = 0; e < QK; e++)
        level[e] = table_value(lq_iq3nl_values, 8, shifted, e,
                               lq_iqk_bits2(w + 14, e) | lq_iqk_top_bit(w + 78, e) << 2);
    return half_at(w) * lq_superblock_dot(level, a, ls, SUB);
}

/* d, extra, scales_h[4], scales_l[8], qs[128]: each 32 weights share 16
 * bytes, the first 16 weights in the low nibbles */
static float iq4_k_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int ls[SUBS];
    uint16_t shifted = lq_load_u16(w + 2);
    lq_iqk_scales6(w + 4, w + 8, ls);
    const uint8_t *qs = w + 16;
    for (int e = 0; e < QK; e++) {
        int idx = (qs[16 * (e / 32) + e % 16] >> (4 * ((e % 32) / 16))) & 15;
        level[e] = table_value(lq_iq4k_values, 16, shifted, e, idx);
    }
    return half_at(w) * lq_superblock_dot(level, a, ls, SUB);
}

/* d, extra, scales_h[4], scales_l[8], qs[128] (4-bit layout), qh[32] */
static float iq5_k_block(const uint8_t *w, const lq_act_q8_32 *a) {
    int8_t level[QK];
    int ls[SUBS];
    uint16_t shifted = lq_load_u16(w + 2);
    lq_iqk_scales6(w + 4, w + 8, ls);
    for (int e = 0; e < QK; e++)
        level[e] = table_value(lq_iq5nl_values, 32, shifted, e,
                               lq_iqk_bits4(w + 16, e) | lq_iqk_top_bit(w + 144, e) << 4);
    return half_at(w) * lq_superblock_dot(level, a, ls, SUB);
}

#define IQK_ROW_DOT(name, bytes)                                               \
    static float dot_##name(const void *w_row, const void *act, int64_t ncols) { \
        const uint8_t *w = w_row;                                              \
        const lq_act_q8_32 *a = act;                                           \
        float total = 0.0f;                                                    \
        for (int64_t b = 0; b < ncols / QK; b++)                               \
            total += name##_block(w + b * (bytes), a + b * (QK / LQ_ACT_Q8_32_BLOCK)); \
        return total;                                                          \
    }

IQK_ROW_DOT(iq2_k, 76)
IQK_ROW_DOT(iq3_k, 110)
IQK_ROW_DOT(iq4_k, 144)
IQK_ROW_DOT(iq5_k, 176)

static const lq_dot_kernel iqk_kernels[] = {
    {LQ_TYPE_IQ2_K, LQ_ACT_Q8_32, dot_iq2_k},
    {LQ_TYPE_IQ3_K, LQ_ACT_Q8_32, dot_iq3_k},
    {LQ_TYPE_IQ4_K, LQ_ACT_Q8_32, dot_iq4_k},
    {LQ_TYPE_IQ5_K, LQ_ACT_Q8_32, dot_iq5_k},
};

const lq_kernel_family lq_kernels_iqk = {
    "iqk", iqk_kernels, sizeof iqk_kernels / sizeof iqk_kernels[0]};
