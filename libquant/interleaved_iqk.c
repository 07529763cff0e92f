/*
 * Layouts of the interleaved IQK quants: iq2_k_r4, iq3_k_r4, iq4_k_r4,
 * iq5_k_r4, iq5_ks_r4 (4 rows). See interleaved.h for how a field is
 * described, and interleaved_kquants.c for the weight index
 * j = i + 4a + 8b + 16c + 32s.
 *
 * These types keep 16 scales of 16 weights per super-block: scale 2s + h,
 * with the sub-block s = p0 + 2p1 + 4q. The interleaved form stores scale
 * 2s + h of row k as entry 8s + 4h + k of a nibble array (byte entry % 32,
 * nibble entry / 32), and its extra bit as bit s of byte 8 + 4h + k.
 */
#include "interleaved.h"

#define BYTE(n) (8 * (n))

#define FP16_SCALE {16, LQ_IL_COPY, 0, 0, 16, {{0, 0, 0}}}

/* base: 16-bit word of extra bits after d (bit 2s + h); interleaved: 8 bytes
 * after d[4] */
#define EXTRA_BITS {1, LQ_IL_COPY, 16, BYTE(8), 8, {{2, 1, 32}, {8, 2, 1}}}

/* the low 4 bits of scale 2s + h: base byte at + s, nibble h */
#define SCALE_NIBBLES(at, inter_byte)                                   \
    {4, LQ_IL_COPY, BYTE(at), BYTE(inter_byte), 8,                      \
     {{2, 4, 32}, {2, 8, 64}, {2, 16, 128}, {2, 32, 4}}}

/* iq4_k / iq5_k: the high 2 bits of scale 2s + h in base byte 4 + s / 2 at
 * bit 4(s % 2) + 2h; interleaved in scales_h (byte 16), entry % 16 at
 * bit 2 (entry / 16) */
#define SCALE_HIGH_2BIT                                                 \
    {2, LQ_IL_COPY, BYTE(4), BYTE(16), 8,                               \
     {{2, 2, 32}, {2, 4, 64}, {2, 8, 2}, {2, 16, 4}}}

/* 4-bit quants of iq4_k / iq4_ks: base nibble c of byte 16s + i + 4a + 8b */
#define NIBBLES_16_PER_SUBBLOCK(base_byte, inter_byte)                  \
    {4, LQ_IL_COPY, BYTE(base_byte), BYTE(inter_byte), 32,              \
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 4, 128}, {8, BYTE(16), BYTE(64)}}}

/* iq5_k / iq5_ks: low nibble e of byte 32f + j % 32 (s = e + 2f), fifth bit
 * in bit 2f + e of byte j % 32 of qh; interleaved fifth bit at bit
 * 4a + b + 2c of byte 16s + 4k + i */
#define IQ5_QUANTS(qs_byte, qh_byte, inter_qs, inter_qh)                   \
    {4, LQ_IL_COPY, BYTE(qs_byte), BYTE(inter_qs), 32,                     \
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 128, 128}, {2, 4, 512},    \
      {4, 256, 1024}}},                                                    \
    {1, LQ_IL_COPY, BYTE(qh_byte), BYTE(inter_qh), 32,                     \
     {{4, 8, 8}, {2, 32, 4}, {2, 64, 1}, {2, 128, 2}, {2, 1, 128}, {4, 2, 256}}}

/* 2-bit planes of iq2_k / iq3_k: base bits 2(s % 4) of byte 32(s / 4) +
 * j % 32; interleaved bits 2a + 4b of byte 32s + 16c + 4k + i */
#define TWO_BIT_PLANES(base_byte, inter_byte)                              \
    {2, LQ_IL_COPY, BYTE(base_byte), BYTE(inter_byte), 32,                 \
     {{4, 8, 8}, {2, 32, 2}, {2, 64, 4}, {2, 128, 128}, {2, 2, 256},      \
      {2, 4, 512}, {2, 256, 1024}}}

/* ---- iq2_k_r4: d[4], extra[8], scales[32], qs[256] */
static const lq_il_field iq2_k_r4_fields[] = {
    FP16_SCALE,
    EXTRA_BITS,
    SCALE_NIBBLES(4, 16),
    TWO_BIT_PLANES(12, 48),
};
const lq_il_layout lq_il_iq2_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ2_K_R4, iq2_k_r4_fields);

/* ---- iq3_k_r4: d[4], extra[8], scales_h[8], scales_l[32], qs[256],
 * qh[128]. The sign bit of scale 2s + h is bit 2s + h of the base's 16-bit
 * scales_h and bit s of interleaved byte 16 + 4h + k. The third quant bit:
 * base bit s of byte j % 32 of qh; interleaved bit a + 2b + 4c of byte
 * 16s + 4k + i. */
static const lq_il_field iq3_k_r4_fields[] = {
    FP16_SCALE,
    EXTRA_BITS,
    SCALE_NIBBLES(6, 24),
    {1, LQ_IL_COPY, BYTE(4), BYTE(16), 8, {{2, 1, 32}, {8, 2, 1}}},
    TWO_BIT_PLANES(14, 56),
    {1, LQ_IL_COPY, BYTE(78), BYTE(312), 32,
     {{4, 8, 8}, {2, 32, 1}, {2, 64, 2}, {2, 128, 4}, {2, 1, 128}, {2, 2, 256},
      {2, 4, 512}}},
};
const lq_il_layout lq_il_iq3_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ3_K_R4, iq3_k_r4_fields);

/* ---- iq4_k_r4: d[4], extra[8], scales_h[16], scales_l[32], qs[512] */
static const lq_il_field iq4_k_r4_fields[] = {
    FP16_SCALE,
    EXTRA_BITS,
    SCALE_NIBBLES(8, 32),
    SCALE_HIGH_2BIT,
    NIBBLES_16_PER_SUBBLOCK(16, 64),
};
const lq_il_layout lq_il_iq4_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ4_K_R4, iq4_k_r4_fields);

/* ---- iq5_k_r4: d[4], extra[8], scales_h[16], scales_l[32], qs[512],
 * qh[128] */
static const lq_il_field iq5_k_r4_fields[] = {
    FP16_SCALE,
    EXTRA_BITS,
    SCALE_NIBBLES(8, 32),
    SCALE_HIGH_2BIT,
    IQ5_QUANTS(16, 144, 64, 576),
};
const lq_il_layout lq_il_iq5_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ5_K_R4, iq5_k_r4_fields);

/* ---- iq5_ks_r4 (after the 4 row scales): scales[32], qs[512], qh[128] */
static const lq_il_field iq5_ks_r4_fields[] = {
    {8, LQ_IL_COPY, 0, 0, 8, {{8, 8, 32}}},
    IQ5_QUANTS(8, 136, 32, 544),
};
const lq_il_layout lq_il_iq5_ks_r4 = LQ_IL_LAYOUT(LQ_TYPE_IQ5_KS_R4, iq5_ks_r4_fields);
