/*
 * The lq_codec entry points of a family whose types share one row encoder
 * and one row decoder, told apart by a format description (legacy.c,
 * kquants.c): lq_codec has no slot for such a description, so each type
 * gets two small functions that pass it along.
 */
#ifndef LIBQUANT_CODEC_ROWS_H
#define LIBQUANT_CODEC_ROWS_H

#include "codec.h"

/* Defines quantize_<name> and dequantize_<name>, which call
 *   encode(format, src, dst, ncols, imatrix)   (returns nothing: cannot fail)
 *   decode(format, src, dst, ncols). */
#define LQ_ROW_CODEC(name, format, encode, decode)                            \
    static int quantize_##name(const float *src, void *dst, int64_t ncols,    \
                               const float *imatrix) {                        \
        encode(format, src, dst, ncols, imatrix);                             \
        return LQ_OK;                                                         \
    }                                                                         \
    static void dequantize_##name(const void *src, float *dst,                \
                                  int64_t ncols) {                            \
        decode(format, src, dst, ncols);                                      \
    }

#endif /* LIBQUANT_CODEC_ROWS_H */
