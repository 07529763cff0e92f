/* bf16 weights x bf16-rounded activations with AVX-512 BF16 (gemm_bf16.c). */
#ifndef LIBQUANT_GEMM_BF16_H
#define LIBQUANT_GEMM_BF16_H

#include <stdbool.h>
#include <stdint.h>

/* The CPU has AVX-512 BF16 (probe; callers cache it). */
bool lq_bf16_gemm_available(void);

/* Vectors of one tile (gemm_bf16.c). */
enum { LQ_BF16_TILE_VECS = 6 };

/* Activation rows are padded with zeros to a multiple of 32 values. */
static inline int64_t lq_bf16_padded_cols(int64_t ncols) { return (ncols + 31) / 32 * 32; }

/* x (ncols floats) rounded to bf16 (nearest even) into out (padded). */
void lq_bf16_activations(const float *x, int64_t ncols, uint16_t *out);

/* y[j * nrows + r] for rows [row, row + count) of the bf16 matrix w (f16
 * when `half`: each weight rounded to bf16; ncols per row) and the n
 * activation rows act (padded). */
void lq_bf16_rows(const uint16_t *w, bool half, int64_t ncols, int64_t row, int64_t count,
                  const uint16_t *act, int64_t n, float *y, int64_t nrows);

/* bf16_r16 (groups of 16 interleaved rows, read in place,
 * gemm_bf16_r16.c): y[j * nrows + r] for the rows of groups [group, group +
 * count) and the n activation rows act (padded). */
void lq_bf16_r16_rows(const uint16_t *w, int64_t ncols, int64_t group, int64_t count,
                      const uint16_t *act, int64_t n, float *y, int64_t nrows);

/* The same for `rows` rows stored at w; row r's product with vector j goes
 * to y[j * y_stride + r]. */
void lq_bf16_block(const uint16_t *w, int64_t ncols, int64_t rows, const uint16_t *act,
                   int64_t n, float *y, int64_t y_stride);

/* Decoders of one stored row into ncols bf16 values, for types whose
 * values fit neither the int8 packed layout nor its bound (iq6_k); NULL
 * for other types and without AVX-512 BF16. */
typedef void (*lq_bf16_row_decode_fn)(const uint8_t *row, int64_t ncols, uint16_t *out);
lq_bf16_row_decode_fn lq_bf16_row_decoder(int type);

/* One activation row (padded) against nrows stored rows (row_bytes apart),
 * the decoder fused with the product, the same bits as decoding the rows
 * and running lq_bf16_block; NULL where there is none. */
typedef void (*lq_bf16_gemv_fn)(const uint8_t *rows, int64_t row_bytes, int64_t nrows,
                                int64_t ncols, const uint16_t *act, float *y);
lq_bf16_gemv_fn lq_bf16_row_gemv(int type);

#endif
