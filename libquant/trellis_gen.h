/*
 * The value generator of the trellis ("_kt") types: every group of 4 or 8
 * weights is a pseudo-random integer vector derived from a small seed, so the
 * generator itself is the format. Shared by the codec (trellis.c) and the
 * dot-product kernels.
 *
 * state = seed + offset; for each value: state *= 0xCBAC1FED (mod 2^32), keep
 * the low 6 bits of each of its 4 bytes and add them up; the value is that
 * sum minus 126, an integer in [-126, 126] with a bell-shaped distribution.
 */
#ifndef LIBQUANT_TRELLIS_GEN_H
#define LIBQUANT_TRELLIS_GEN_H

#include <stdint.h>

#define LQ_KT_MULTIPLIER 0xCBAC1FEDu
#define LQ_KT_BYTE_MASK 0x3f3f3f3fu
#define LQ_KT_BIAS 126
/* The seeds of every type are offset by this before generating. */
#define LQ_KT_OFFSET 4096u
/* iq4_kt blocks may select a second codebook further along the sequence. */
#define LQ_KT_OFFSET_ALT (4096u + 32768u)

/* Advance the state and return the next value. Each masked byte is <= 63, so
 * the sum of the four (<= 252) is exactly the top byte of the product with
 * 0x01010101: no carry crosses a byte. */
static inline int lq_kt_next(uint32_t *state) {
    *state *= LQ_KT_MULTIPLIER;
    uint32_t bytes = *state & LQ_KT_BYTE_MASK;
    return (int)((bytes * 0x01010101u) >> 24) - LQ_KT_BIAS;
}

/* The `count` values of the group with this seed. */
static inline void lq_kt_generate(uint32_t seed, uint32_t offset, int count,
                                  int8_t *values) {
    uint32_t state = seed + offset;
    for (int k = 0; k < count; ++k)
        values[k] = (int8_t)lq_kt_next(&state);
}

#endif /* LIBQUANT_TRELLIS_GEN_H */
