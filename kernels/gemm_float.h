/* f32 and f16 weights with AVX-512 tiles (gemm_float.c). */
#ifndef LIBQUANT_GEMM_FLOAT_H
#define LIBQUANT_GEMM_FLOAT_H

#include <stdbool.h>
#include <stdint.h>

/* y[j * nrows + r] for rows [row, row + count) of w (f16 when `half`, else
 * f32; ncols per row) and the n float vectors x (ncols each). */
void lq_float_rows(bool half, const void *w, int64_t ncols, int64_t row, int64_t count,
                   const float *x, int64_t n, float *y, int64_t nrows);

#endif
