/*
 * Non-linear value tables of the IQK family (facts of the format), shared by
 * iqk.c and iqk_ks.c.
 */
#ifndef LIBQUANT_IQK_TABLES_H
#define LIBQUANT_IQK_TABLES_H

#include <stdint.h>

/* Each table holds its base half followed by its shifted half; a block's
 * "shifted" bit selects the second half. */
static const int8_t lq_iq2nl_values[8] = {-31, -13, 1, 17, -26, -8, 6, 22};

static const int8_t lq_iq3nl_values[16] = {
    -63, -40, -23, -10, 1, 13, 28, 47,
    -59, -36, -19, -6, 5, 17, 32, 51,
};

static const int8_t lq_iq4k_values[32] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
    -123, -100, -79, -61, -45, -31, -18, -6, 5, 17, 29, 42, 57, 73, 93, 117,
};

static const int8_t lq_iq5nl_values[64] = {
    -126, -114, -103, -92, -83, -74, -65, -57, -50, -43, -36, -30, -24, -18,
    -12, -6, -1, 5, 11, 17, 23, 29, 36, 43, 51, 59, 68, 77, 87, 97, 109, 121,
    -124, -112, -101, -90, -81, -72, -63, -55, -48, -41, -34, -28, -22, -16,
    -10, -4, 1, 7, 13, 19, 25, 31, 38, 45, 53, 61, 70, 79, 89, 99, 111, 123,
};

/* iq6_k's nominal values (the reference encodes against them). Decoding
 * does not read this table: it evaluates the cubic below, which these
 * integers only approximate, so iqk.c encodes against the cubic's values.
 * The shifted half adds exactly 1. */
static const int8_t lq_iq6nl_values[128] = {
    -127, -121, -115, -109, -104, -98, -93, -88, -84, -79, -74, -70, -66, -62, -58, -54,
    -51, -47, -44, -40, -37, -34, -31, -28, -25, -22, -19, -16, -13, -11, -8, -5,
    -2, 0, 3, 6, 9, 12, 14, 17, 20, 23, 27, 30, 33, 36, 40, 44,
    47, 51, 55, 59, 63, 68, 72, 77, 82, 87, 92, 98, 103, 109, 115, 121,
    -126, -120, -114, -108, -103, -97, -92, -87, -83, -78, -73, -69, -65, -61, -57, -53,
    -50, -46, -43, -39, -36, -33, -30, -27, -24, -21, -18, -15, -12, -10, -7, -4,
    -1, 1, 4, 7, 10, 13, 15, 18, 21, 24, 28, 31, 34, 37, 41, 45,
    48, 52, 56, 60, 64, 69, 73, 78, 83, 88, 93, 99, 104, 110, 116, 122,
};

/* iq6_k decodes index q (0..63) as A + q*(B + q*(C + q*D)), plus 1 in a
 * shifted sub-block, evaluated in float in this order with each step a
 * fused multiply-add (fmaf), as the reference's build does. */
#define LQ_IQ6K_POLY_A (-127.f)
#define LQ_IQ6K_POLY_B 6.2568f
#define LQ_IQ6K_POLY_C (-0.11218f)
#define LQ_IQ6K_POLY_D 0.0011972f

#endif /* LIBQUANT_IQK_TABLES_H */
