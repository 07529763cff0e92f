/* The codec entry points of the lattice types, one pair per type. */
#ifndef LIBQUANT_LATTICE_TYPES_H
#define LIBQUANT_LATTICE_TYPES_H

#include <stdint.h>

#define LQ_LATTICE_CODEC(name)                                              \
    int lq_quantize_##name(const float *src, void *dst, int64_t ncols,     \
                           const float *imatrix);                          \
    void lq_dequantize_##name(const void *src, float *dst, int64_t ncols);

LQ_LATTICE_CODEC(iq2_xxs)
LQ_LATTICE_CODEC(iq2_xs)
LQ_LATTICE_CODEC(iq2_s)
LQ_LATTICE_CODEC(iq3_xxs)
LQ_LATTICE_CODEC(iq3_s)
LQ_LATTICE_CODEC(iq1_s)
LQ_LATTICE_CODEC(iq1_m)
LQ_LATTICE_CODEC(iq1_s_r4)
LQ_LATTICE_CODEC(iq1_m_r4)

#undef LQ_LATTICE_CODEC

#endif /* LIBQUANT_LATTICE_TYPES_H */
