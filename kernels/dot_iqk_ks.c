/*
 * Kernel family "iqk_ks": iq2_ks, iq3_ks, iq4_ks, iq5_ks against
 * LQ_ACT_Q8_32. A row starts with its scale d (fp16 for iq2_ks / iq3_ks,
 * f32 for iq4_ks / iq5_ks); each block of 32 weights has an integer scale
 * code c and a bit choosing the half of the value table; the levels are the
 * table values, and
 *     row = d * sum_superblocks sum_k d_k * c_k * sum(value * a),
 * one activation block k per weight block. iq4_kss (parity-coded indices)
 * and iq2_kl (pairs from a grid) are left to the generic path. Block
 * layouts are those of libquant/iqk_ks.c.
 */
#include "common.h"
#include "iqk_tables.h"
#include "kernels.h"

enum { QK = 256, BLOCKS = QK / 32 };

typedef void (*ks_levels_fn)(const uint8_t *w, int8_t *level, int *code);

/* u16 extra (bits 0-7 table half, 8-15 scale bit 4), 4 bytes of scale
 * nibbles (block ib in byte ib / 2), 64 bytes of 2-bit indices (blocks
 * 4k .. 4k+3 share 32 bytes) */
static void iq2_ks_levels(const uint8_t *w, int8_t *level, int *code) {
    uint16_t extra = lq_load_u16(w);
    const uint8_t *qs = w + 6;
    for (int ib = 0; ib < BLOCKS; ib++) {
        int u = ((w[2 + ib / 2] >> (4 * (ib % 2))) & 15) | ((extra >> (8 + ib)) & 1) << 4;
        code[ib] = u - 16;
        const int8_t *values = lq_iq2nl_values + 4 * ((extra >> ib) & 1);
        for (int j = 0; j < 32; j++)
            level[32 * ib + j] = values[(qs[32 * (ib / 4) + j] >> (2 * (ib % 4))) & 3];
    }
}

/* u16 extra (bits 0-7 scale bit 4, 8-15 table half), 4 bytes of scale
 * nibbles (block ib in byte ib % 4), 64 bytes of low index bits, 32 bytes
 * of third bits (bit ib of byte j) */
static void iq3_ks_levels(const uint8_t *w, int8_t *level, int *code) {
    uint16_t extra = lq_load_u16(w);
    const uint8_t *qs = w + 6, *qh = w + 70;
    for (int ib = 0; ib < BLOCKS; ib++) {
        int u = ((w[2 + ib % 4] >> (4 * (ib / 4))) & 15) | ((extra >> ib) & 1) << 4;
        code[ib] = u - 16;
        const int8_t *values = lq_iq3nl_values + 8 * ((extra >> (8 + ib)) & 1);
        for (int j = 0; j < 32; j++) {
            int idx = ((qs[32 * (ib / 4) + j] >> (2 * (ib % 4))) & 3) |
                      ((qh[j] >> ib) & 1) << 2;
            level[32 * ib + j] = values[idx];
        }
    }
}

/* Scale byte of iq4_ks / iq5_ks: bit 0 the table half, bits 1-7 the odd
 * code + 127. */
static const int8_t *odd_code(uint8_t byte, const int8_t *table, int half_size,
                              int *code) {
    *code = (byte & 254) - 127;
    return table + half_size * (byte & 1);
}

/* 8 scale bytes, then 16 bytes per block: weight j in the low nibble of
 * byte j, weight j + 16 in its high nibble */
static void iq4_ks_levels(const uint8_t *w, int8_t *level, int *code) {
    for (int ib = 0; ib < BLOCKS; ib++) {
        const int8_t *values = odd_code(w[ib], lq_iq4k_values, 16, &code[ib]);
        const uint8_t *qs = w + 8 + 16 * ib;
        for (int j = 0; j < 16; j++) {
            level[32 * ib + j] = values[qs[j] & 15];
            level[32 * ib + j + 16] = values[qs[j] >> 4];
        }
    }
}

/* 8 scale bytes, 128 bytes of low nibbles (blocks 2k, 2k+1 share 32 bytes),
 * 32 bytes of fifth bits (bit ib of byte j) */
static void iq5_ks_levels(const uint8_t *w, int8_t *level, int *code) {
    const uint8_t *qs = w + 8, *qh = w + 136;
    for (int ib = 0; ib < BLOCKS; ib++) {
        const int8_t *values = odd_code(w[ib], lq_iq5nl_values, 32, &code[ib]);
        for (int j = 0; j < 32; j++) {
            int idx = ((qs[32 * (ib / 2) + j] >> (4 * (ib % 2))) & 15) |
                      ((qh[j] >> ib) & 1) << 4;
            level[32 * ib + j] = values[idx];
        }
    }
}

static float ks_row_dot(ks_levels_fn levels, int type_size, float d, const uint8_t *w,
                        const lq_act_q8_32 *a, int64_t ncols) {
    int8_t level[QK];
    int code[BLOCKS];
    float total = 0.0f;
    for (int64_t b = 0; b < ncols / QK; b++) {
        levels(w + b * type_size, level, code);
        total += lq_superblock_dot(level, a + b * BLOCKS, code, 32);
    }
    return d * total;
}

static float dot_iq2_ks(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    return ks_row_dot(iq2_ks_levels, 70, lq_half_to_float(lq_load_u16(w)), w + 2, act, ncols);
}

static float dot_iq3_ks(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    return ks_row_dot(iq3_ks_levels, 102, lq_half_to_float(lq_load_u16(w)), w + 2, act,
                      ncols);
}

static float dot_iq4_ks(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    return ks_row_dot(iq4_ks_levels, 136, lq_load_f32(w), w + 4, act, ncols);
}

static float dot_iq5_ks(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    return ks_row_dot(iq5_ks_levels, 168, lq_load_f32(w), w + 4, act, ncols);
}

static const lq_dot_kernel iqk_ks_kernels[] = {
    {LQ_TYPE_IQ2_KS, LQ_ACT_Q8_32, dot_iq2_ks},
    {LQ_TYPE_IQ3_KS, LQ_ACT_Q8_32, dot_iq3_ks},
    {LQ_TYPE_IQ4_KS, LQ_ACT_Q8_32, dot_iq4_ks},
    {LQ_TYPE_IQ5_KS, LQ_ACT_Q8_32, dot_iq5_ks},
};

const lq_kernel_family lq_kernels_iqk_ks = {
    "iqk_ks", iqk_ks_kernels, sizeof iqk_ks_kernels / sizeof iqk_ks_kernels[0]};
