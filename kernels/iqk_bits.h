/*
 * Bit layouts of iq2_k .. iq5_k (libquant/iqk.c), shared by the row kernels
 * (dot_iqk.c) and the scalar panel decoders (panel_decode_iqk.c).
 */
#ifndef LIBQUANT_IQK_BITS_H
#define LIBQUANT_IQK_BITS_H

#include <stdint.h>

enum { LQ_IQK_SUBS = 16 }; /* sub-blocks of 16 weights per super-block */

/* Element e's low index bits in the 2-bit layout (32 bytes per 128
 * weights, four weights 32 apart per byte) and the 4-bit one (32 bytes per
 * 64 weights, two weights 32 apart per byte). */
static inline int lq_iqk_bits2(const uint8_t *qs, int e) {
    return (qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3;
}
static inline int lq_iqk_bits4(const uint8_t *qs, int e) {
    return (qs[32 * (e / 64) + e % 32] >> (4 * ((e / 32) % 2))) & 15;
}

/* Bit e / 32 of byte e % 32: the top index bit of iq3_k and iq5_k. */
static inline int lq_iqk_top_bit(const uint8_t *qh, int e) { return (qh[e % 32] >> (e / 32)) & 1; }

/* Sub-block scales stored as ls + 32 in six bits: low nibbles in
 * scales_l, top two bits in scales_h (iq4_k, iq5_k). */
static inline void lq_iqk_scales6(const uint8_t *scales_h, const uint8_t *scales_l, int *ls) {
    for (int s = 0; s < LQ_IQK_SUBS; s++)
        ls[s] = (((scales_l[s / 2] >> (4 * (s % 2))) & 15) |
                 ((scales_h[s / 4] >> (2 * (s % 4))) & 3) << 4) - 32;
}

#endif /* LIBQUANT_IQK_BITS_H */
