/*
 * Layouts of q2_k_r4 .. q6_k_r4, the interleaved k-quants (4 rows).
 * See interleaved.h for how a field is described.
 *
 * Weight j of a 256-weight super-block is written j = i + 4a + 8b + 16c + 32s
 * (i < 4, a, b, c binary, s the 32-weight sub-block, itself split in binary
 * digits where the base needs it). On the interleaved side the 4 weights i of
 * row k always sit in 4 consecutive bytes at 4k; (a, b, c) choose the plane
 * and the bits inside the byte.
 *
 * The 6-bit scales and mins of q4_K/q5_K: scale p + 4h (p < 4) keeps its low
 * 4 bits in byte 4 + p + 8h and its high 2 bits in byte 4 + p at bit 4 + 2h;
 * min p + 4h keeps its low bits at byte 8 + p + 4h, bit 4h, and its high bits
 * in byte 8 + p at bit 4 + 2h. The interleaved form stores scale and min s of
 * row k in byte 4s + k of a 4|4-bit array, their high bits in a nibble of a
 * 2|2-bit array.
 */
#include "interleaved.h"

#define BYTE(n) (8 * (n))

/* d and dmin of a q4_K / q5_K / q2_K block at d_byte, d_byte + 2 */
#define D_AND_DMIN(d_byte)                                \
    {16, LQ_IL_COPY, BYTE(d_byte), 0, 16, {{0, 0, 0}}},  \
    {16, LQ_IL_COPY, BYTE(d_byte) + 16, BYTE(8), 16, {{0, 0, 0}}}

/* 6-bit scales and mins of q4_K / q5_K (base bytes 4..15) into scales_h at
 * byte 16 and scales_l at byte 32 of the interleaved block */
#define SCALES_AND_MINS_6BIT                                              \
    {4, LQ_IL_COPY, BYTE(4), BYTE(32), 8, {{4, 8, 32}, {2, 64, 128}}},    \
    {2, LQ_IL_COPY, BYTE(4) + 4, BYTE(16), 8, {{4, 8, 32}, {2, 2, 4}}},   \
    {4, LQ_IL_COPY, BYTE(8), BYTE(32) + 4, 8, {{4, 8, 32}, {2, 36, 128}}}, \
    {2, LQ_IL_COPY, BYTE(8) + 4, BYTE(16) + 2, 8, {{4, 8, 32}, {2, 2, 4}}}

/* The low nibbles of q4_K / q5_K: 64-weight chunk f, half e (the nibble) */
#define Q4K_NIBBLES(base_byte, inter_byte)                                 \
    {4, LQ_IL_COPY, BYTE(base_byte), BYTE(inter_byte), 32,                 \
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 128, 128}, {2, 4, 512},    \
      {4, 256, 1024}}}

/* 2-bit planes of q2_K / q3_K: 128-weight half n, 2-bit shift e + 2f inside
 * the bytes of that half; interleaved: 32 bytes per sub-block */
#define TWO_BIT_PLANES(base_byte, inter_byte)                              \
    {2, LQ_IL_COPY, BYTE(base_byte), BYTE(inter_byte), 32,                 \
     {{4, 8, 8}, {2, 32, 2}, {2, 64, 4}, {2, 128, 128}, {2, 2, 256},      \
      {2, 4, 512}, {2, 256, 1024}}}

/* ---- q2_k_r4: d[8], scales[64], qs[256] */
static const lq_il_field q2_k_r4_fields[] = {
    D_AND_DMIN(80),
    {8, LQ_IL_COPY, 0, BYTE(16), 8, {{16, 8, 32}}},
    TWO_BIT_PLANES(16, 80),
};
const lq_il_layout lq_il_q2_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_Q2_K_R4, q2_k_r4_fields);

/* ---- q3_k_r4: d[4], scales_h[16], scales_l[32], qh[128], qs[256].
 * Base scale m + 4u0 + 8u1 (m = h + 2m1): low 4 bits in byte 96 + m + 4u0,
 * nibble u1; high 2 bits in byte 104 + m at bit 2u0 + 4u1. Interleaved, scale
 * 2t + h of row k is entry 8t + 4h + k of both arrays. */
static const lq_il_field q3_k_r4_fields[] = {
    {16, LQ_IL_COPY, BYTE(108), 0, 16, {{0, 0, 0}}},
    {4, LQ_IL_COPY, BYTE(96), BYTE(24), 8,
     {{2, 8, 32}, {2, 16, 64}, {2, 32, 128}, {2, 4, 4}}},
    {2, LQ_IL_COPY, BYTE(104), BYTE(8), 8,
     {{2, 8, 32}, {2, 16, 64}, {2, 2, 2}, {2, 4, 4}}},
    TWO_BIT_PLANES(32, 184),
    /* the third bit: base hmask bit 4n + e + 2f of byte j % 32, interleaved
     * bit a + 2b + 4c of byte 16s + 4k + i */
    {1, LQ_IL_COPY, 0, BYTE(56), 32,
     {{4, 8, 8}, {2, 32, 1}, {2, 64, 2}, {2, 128, 4}, {2, 1, 128}, {2, 2, 256},
      {2, 4, 512}}},
};
const lq_il_layout lq_il_q3_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_Q3_K_R4, q3_k_r4_fields);

/* ---- q4_k_r4: d[8], scales_h[16], scales_l[32], qs[512] */
static const lq_il_field q4_k_r4_fields[] = {
    D_AND_DMIN(0),
    SCALES_AND_MINS_6BIT,
    Q4K_NIBBLES(16, 64),
};
const lq_il_layout lq_il_q4_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_Q4_K_R4, q4_k_r4_fields);

/* ---- q5_k_r4: d[8], scales_h[16], scales_l[32], qh[128], qs[512].
 * Fifth bit: base bit (64-weight chunk f, half e) of byte j % 32;
 * interleaved bit 2a + b + 4c of byte 16s + 4k + i. */
static const lq_il_field q5_k_r4_fields[] = {
    D_AND_DMIN(0),
    SCALES_AND_MINS_6BIT,
    Q4K_NIBBLES(48, 192),
    {1, LQ_IL_COPY, BYTE(16), BYTE(64), 32,
     {{4, 8, 8}, {2, 32, 2}, {2, 64, 1}, {2, 128, 4}, {2, 1, 128}, {4, 2, 256}}},
};
const lq_il_layout lq_il_q5_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_Q5_K_R4, q5_k_r4_fields);

/* ---- q6_k_r4: d[4], scales[64], qh[256], ql[512].
 * Base: 128-weight half n; inside it quarter e + 2f: low nibble in byte
 * 64n + 32e + j % 32 (nibble f), high 2 bits in byte 128 + 32n + j % 32 at
 * bit 2e + 4f. Interleaved high bits: bit 4a + 2b of byte 32s + 16c + 4k + i.
 * Scale 2s + h of row k: byte 8 + 8s + 4h + k. */
static const lq_il_field q6_k_r4_fields[] = {
    {16, LQ_IL_COPY, BYTE(208), 0, 16, {{0, 0, 0}}},
    {8, LQ_IL_COPY, BYTE(192), BYTE(8), 8, {{2, 8, 32}, {8, 16, 64}}},
    {4, LQ_IL_COPY, 0, BYTE(328), 32,
     {{4, 8, 8}, {2, 32, 256}, {2, 64, 4}, {2, 128, 128}, {2, 256, 512},
      {2, 4, 1024}, {2, 512, 2048}}},
    {2, LQ_IL_COPY, BYTE(128), BYTE(72), 32,
     {{4, 8, 8}, {2, 32, 4}, {2, 64, 2}, {2, 128, 128}, {2, 2, 256},
      {2, 4, 512}, {2, 256, 1024}}},
};
const lq_il_layout lq_il_q6_k_r4 = LQ_IL_LAYOUT(LQ_TYPE_Q6_K_R4, q6_k_r4_fields);
