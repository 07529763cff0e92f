/*
 * Layouts of the interleaved lattice i-quants: iq2_xxs_r4, iq2_xs_r4,
 * iq2_s_r4, iq3_xxs_r4, iq3_s_r4 (4 rows, 256-weight super-blocks of eight
 * 32-weight sub-blocks s). See interleaved.h for how a field is described.
 *
 * iq2_xxs and iq3_xxs end every sub-block with a 32-bit word: four 7-bit sign
 * groups t and a 4-bit scale in bits 28..31. The interleaved word of
 * sub-block s, row k (byte 16s + 4k of "sas") holds in byte t the sign group
 * (recoded, see LQ_IL_SIGNS_RUNNING_XOR) in bits 1..7 and scale bit t in bit 0.
 */
#include "interleaved.h"

#define BYTE(n) (8 * (n))

#define FP16_SCALE {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}}

/* sign groups and scale of the sub-block words starting at base byte `at`,
 * `step` bytes apart */
#define SIGNS_AND_SCALE(at, step)                                       \
    {7, LQ_IL_SIGNS_RUNNING_XOR, BYTE(at), BYTE(8) + 1, 32,              \
     {{4, 7, 8}, {8, BYTE(step), BYTE(16)}}},                            \
    {1, LQ_IL_COPY, BYTE(at) + 28, BYTE(8), 32,                          \
     {{4, 1, 8}, {8, BYTE(step), BYTE(16)}}}

/* ---- iq2_xxs_r4: d[4], sas[128], qs[128]; the 4 grid bytes of a
 * sub-block move as one 32-bit chunk */
static const lq_il_field iq2_xxs_r4_fields[] = {
    FP16_SCALE,
    {32, LQ_IL_COPY, BYTE(2), BYTE(136), 32, {{8, BYTE(8), BYTE(16)}}},
    SIGNS_AND_SCALE(6, 8),
};
const lq_il_layout lq_il_iq2_xxs_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ2_XXS_R4, iq2_xxs_r4_fields);

/* ---- iq2_xs_r4: d[4], qs[128] (16-bit), scales[32]. Each 16-bit entry:
 * 9-bit grid index, 7 sign bits (recoded). */
static const lq_il_field iq2_xs_r4_fields[] = {
    FP16_SCALE,
    {9, LQ_IL_COPY, BYTE(2), BYTE(8), 64, {{4, 16, 16}, {8, BYTE(8), BYTE(32)}}},
    {7, LQ_IL_SIGNS_RUNNING_XOR, BYTE(2) + 9, BYTE(8) + 9, 64,
     {{4, 16, 16}, {8, BYTE(8), BYTE(32)}}},
    {8, LQ_IL_COPY, BYTE(66), BYTE(264), 8, {{8, 8, 32}}},
};
const lq_il_layout lq_il_iq2_xs_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ2_XS_R4, iq2_xs_r4_fields);

/* ---- iq2_s_r4: d[4], qs[128], qh[32], signs[128], scales[32]; the base
 * keeps the 32 sign bytes right after the 32 grid bytes */
static const lq_il_field iq2_s_r4_fields[] = {
    FP16_SCALE,
    {32, LQ_IL_COPY, BYTE(2), BYTE(8), 32, {{8, BYTE(4), BYTE(16)}}},
    {32, LQ_IL_COPY, BYTE(34), BYTE(168), 32, {{8, BYTE(4), BYTE(16)}}},
    {8, LQ_IL_COPY, BYTE(66), BYTE(136), 8, {{8, 8, 32}}},
    {8, LQ_IL_COPY, BYTE(74), BYTE(296), 8, {{8, 8, 32}}},
};
const lq_il_layout lq_il_iq2_s_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ2_S_R4, iq2_s_r4_fields);

/* ---- iq3_xxs_r4: d[4], sas[128], qs[256]; the 8 grid bytes of a
 * sub-block move as two 32-bit chunks */
static const lq_il_field iq3_xxs_r4_fields[] = {
    FP16_SCALE,
    {32, LQ_IL_COPY, BYTE(2), BYTE(136), 64, {{2, 32, 32}, {8, BYTE(8), BYTE(32)}}},
    SIGNS_AND_SCALE(66, 4),
};
const lq_il_layout lq_il_iq3_xxs_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ3_XXS_R4, iq3_xxs_r4_fields);

/* ---- iq3_s_r4: d[4], qs[256], qh[32], signs[128], scales[16].
 * Grid byte i + 4h of a sub-block goes to byte 32s + 8i + 4h + k. Sign bit
 * i + 4h of base byte m goes to bit 2m + h of byte 16s + 4k + i. The 4-bit
 * scale h of 64-weight chunk p0 + 2p1 goes to entry 8p0 + 4h + k of a
 * 16-byte array, nibble p1. */
static const lq_il_field iq3_s_r4_fields[] = {
    FP16_SCALE,
    {8, LQ_IL_COPY, BYTE(2), BYTE(8), 8, {{4, 8, 64}, {2, 32, 32}, {8, BYTE(8), BYTE(32)}}},
    {8, LQ_IL_COPY, BYTE(66), BYTE(264), 8, {{8, 8, 32}}},
    {1, LQ_IL_COPY, BYTE(74), BYTE(296), 32,
     {{4, 1, 8}, {2, 4, 1}, {4, 8, 2}, {8, BYTE(4), BYTE(16)}}},
    {4, LQ_IL_COPY, BYTE(106), BYTE(424), 8, {{2, 4, 32}, {2, 8, 64}, {2, 16, 4}}},
};
const lq_il_layout lq_il_iq3_s_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ3_S_R4, iq3_s_r4_fields);
