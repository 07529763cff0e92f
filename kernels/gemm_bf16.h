/* bf16 weights x bf16-rounded activations with AVX-512 BF16 (gemm_bf16.c). */
#ifndef LIBQUANT_GEMM_BF16_H
#define LIBQUANT_GEMM_BF16_H

#include <stdbool.h>
#include <stdint.h>

/* The CPU has AVX-512 BF16 (probe; callers cache it). */
bool lq_bf16_gemm_available(void);

/* Activation rows are padded with zeros to a multiple of 32 values. */
static inline int64_t lq_bf16_padded_cols(int64_t ncols) { return (ncols + 31) / 32 * 32; }

/* x (ncols floats) rounded to bf16 (nearest even) into out (padded). */
void lq_bf16_activations(const float *x, int64_t ncols, uint16_t *out);

/* y[j * nrows + r] for rows [row, row + count) of the bf16 matrix w (ncols
 * per row) and the n activation rows act (padded). */
void lq_bf16_rows(const uint16_t *w, int64_t ncols, int64_t row, int64_t count,
                  const uint16_t *act, int64_t n, float *y, int64_t nrows);

#endif
