/*
 * Layouts of the interleaved forms of the 32-weight block types (q4_0, q5_0,
 * q6_0, q8_0, iq4_nl, mxfp4) and of iq4_xs, iq4_ks and iq2_bn.
 * See interleaved.h for how a field is described.
 *
 * Recurring value index of a 32-weight (sub-)block: j = i + 4a + 8b + 16c,
 * i < 4 and a, b, c binary. In the interleaved 4-bit planes of N = 4 rows,
 * the 4 consecutive weights i of row k sit in 4 consecutive bytes at 4k, and
 * (a, b, c) choose the 16-byte plane (2a + c) and the nibble (b).
 */
#include "interleaved.h"

#define BYTE(n) (8 * (n))

/* ---- q4_0_r8 / mxfp4_r8: a scale per row, then 4-byte chunks of quants
 * (32 bytes per chunk index: 8 rows x 4 bytes) */
static const lq_il_field q4_0_r8_fields[] = {
    {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}},
    {32, LQ_IL_COPY, BYTE(2), BYTE(16), 32, {{4, 32, BYTE(32)}}},
};
const lq_il_layout lq_il_q4_0_r8 = LQ_IL_LAYOUT(LQ_TYPE_Q4_0_R8, q4_0_r8_fields);

static const lq_il_field mxfp4_r8_fields[] = {
    {8, LQ_IL_COPY, 0, 0, 8, {{0, 0, 0}}},
    {32, LQ_IL_COPY, BYTE(1), BYTE(8), 32, {{4, 32, BYTE(32)}}},
};
const lq_il_layout lq_il_mxfp4_r8 = LQ_IL_LAYOUT(LQ_TYPE_MXFP4_R8, mxfp4_r8_fields);

/* ---- q8_0_r8: 4-byte chunk l + 4h goes to 32l + 128h */
static const lq_il_field q8_0_r8_fields[] = {
    {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}},
    {32, LQ_IL_COPY, BYTE(2), BYTE(16), 32,
     {{4, 32, BYTE(32)}, {2, 128, BYTE(128)}}},
};
const lq_il_layout lq_il_q8_0_r8 = LQ_IL_LAYOUT(LQ_TYPE_Q8_0_R8, q8_0_r8_fields);

/* ---- q5_0_r4: d[4], qh[16], qs[64]; the 5th bit of weight j of row k is
 * bit (2a + c) + 4b of byte 4k + i */
static const lq_il_field q5_0_r4_fields[] = {
    {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}},
    {4, LQ_IL_COPY, BYTE(6), BYTE(24), 32,
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 4, 128}}},
    {1, LQ_IL_COPY, BYTE(2), BYTE(8), 32,
     {{4, 1, 8}, {2, 4, 2}, {2, 8, 4}, {2, 16, 1}}},
};
const lq_il_layout lq_il_q5_0_r4 = LQ_IL_LAYOUT(LQ_TYPE_Q5_0_R4, q5_0_r4_fields);

/* ---- q6_0_r4: d[4], qh[32], qs[64]; the base keeps the two high bits of
 * weight j in byte j % 8 at bit 4((j / 8) % 2) + 2(j / 16) */
static const lq_il_field q6_0_r4_fields[] = {
    {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}},
    {4, LQ_IL_COPY, BYTE(10), BYTE(40), 32,
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 4, 128}}},
    {2, LQ_IL_COPY, BYTE(2), BYTE(8), 32,
     {{4, 8, 8}, {2, 32, 2}, {2, 4, 4}, {2, 2, 128}}},
};
const lq_il_layout lq_il_q6_0_r4 = LQ_IL_LAYOUT(LQ_TYPE_Q6_0_R4, q6_0_r4_fields);

/* ---- iq4_nl_r4: d[4], qs[64] */
static const lq_il_field iq4_nl_r4_fields[] = {
    {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}},
    {4, LQ_IL_COPY, BYTE(2), BYTE(8), 32,
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 4, 128}}},
};
const lq_il_layout lq_il_iq4_nl_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ4_NL_R4, iq4_nl_r4_fields);

/* ---- iq4_xs_r8: d[8], scales_h[16], scales_l[32], qs[1024].
 * Sub-block scale s = p0 + 2p1 + 4q of row k is entry 8s + k of the 4-bit
 * and of the 2-bit scale arrays. Quants: 128 bytes per sub-block, the 4
 * weights i of row k at 4k, (b + 2c) picks the 32-byte plane, a the nibble. */
static const lq_il_field iq4_xs_r8_fields[] = {
    {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}},
    {4, LQ_IL_COPY, BYTE(4), BYTE(32), 8, {{2, 4, 64}, {2, 8, 128}, {2, 16, 4}}},
    {2, LQ_IL_COPY, BYTE(2), BYTE(16), 8, {{2, 2, 64}, {2, 4, 2}, {2, 8, 4}}},
    {4, LQ_IL_COPY, BYTE(8), BYTE(64), 32,
     {{4, 8, 8}, {2, 32, 4}, {2, 64, 256}, {2, 4, 512}, {8, BYTE(16), BYTE(128)}}},
};
const lq_il_layout lq_il_iq4_xs_r8 = LQ_IL_LAYOUT(LQ_TYPE_IQ4_XS_R8, iq4_xs_r8_fields);

/* ---- iq4_ks_r4 (after the 4 row scales): scales[32], qs[512] */
static const lq_il_field iq4_ks_r4_fields[] = {
    {8, LQ_IL_COPY, 0, 0, 8, {{8, 8, 32}}},
    {4, LQ_IL_COPY, BYTE(8), BYTE(32), 32,
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 4, 128}, {8, BYTE(16), BYTE(64)}}},
};
const lq_il_layout lq_il_iq4_ks_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ4_KS_R4, iq4_ks_r4_fields);

/* ---- iq2_bn_r4 (after the 4 row scales): 2-bit field l of base byte
 * i + 4c goes to field c of byte 4k + i + 16l */
static const lq_il_field iq2_bn_r4_fields[] = {
    {2, LQ_IL_COPY, 0, 0, 32, {{4, 8, 8}, {4, 32, 2}, {4, 2, 128}}},
};
const lq_il_layout lq_il_iq2_bn_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ2_BN_R4, iq2_bn_r4_fields);
