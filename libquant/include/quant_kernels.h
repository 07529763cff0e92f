/*
 * libquant kernels: dot products and matrix multiplication of quantized
 * weights with float activations (portable C, and SIMD kernels chosen at
 * run time; kernels/README.md).
 *
 * Every type that lq_type_caps() reports as decodable is supported, the
 * row-interleaved types included. Activations are first quantized, once per
 * activation vector, to a format chosen by the weight type (see
 * lq_activation_format); the weight blocks are then multiplied with them in
 * integers and scaled in float. Formats (kernels/README.md has their
 * measured accuracy):
 *   LQ_ACT_F32     the floats themselves (f32, f16, bf16 weights, and every
 *                  type without an integer kernel: its weights are decoded to
 *                  floats and dotted with the exact activations);
 *   LQ_ACT_Q8_32   every other type: blocks of 32 values, each a float
 *                  scale d = max|x| / 127, the sums of its two halves of 16
 *                  integers (int16), and 32 int8 q = x / d rounded to nearest
 *                  (40 bytes per 32 values).
 *
 * lq_matmul may use its own layout of the same quantization (the integer
 * types), and with AVX-512 BF16 it rounds the activations of bf16 weights
 * to bf16; its products stay within a relative error of 8e-3 (1e-6 for f32
 * weights) of the float64 product of the decoded weights. lq_vec_dot is
 * held to the same bound, not to lq_matmul's bits.
 *
 * Results are deterministic on one machine: every output element is
 * computed by one thread with one summation order, so they do not depend
 * on the thread count nor on how the activation vectors are split between
 * calls.
 */
#ifndef LIBQUANT_QUANT_KERNELS_H
#define LIBQUANT_QUANT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lq_act_format {
    LQ_ACT_F32 = 0,
    LQ_ACT_Q8_32 = 1,
} lq_act_format;

/* The activation format used with weights of `wtype` (an lq_act_format), or
 * a negative lq_status: LQ_ERR_UNKNOWN_TYPE, or LQ_ERR_UNSUPPORTED when this
 * build cannot decode the type. */
int lq_activation_format(int wtype);

/* ------------------------------------------------------------------------ */
/* Single rows (non-interleaved types)                                       */
/* ------------------------------------------------------------------------ */

/* Bytes of one activation row of ncols values prepared for `wtype`, or a
 * negative lq_status (ncols must be a positive multiple of the weight type's
 * block size). */
int64_t lq_activation_size(int wtype, int64_t ncols);

/* Quantize the activation vector x (ncols floats, finite) for weights of
 * `wtype` into act (act_capacity >= lq_activation_size bytes, or
 * LQ_ERR_DST_TOO_SMALL with nothing written). Returns LQ_OK or a negative
 * lq_status. */
int lq_quantize_activation(int wtype, const float *x, int64_t ncols, void *act,
                           size_t act_capacity);

/* *result = the dot product of one weight row (lq_row_size(wtype, ncols)
 * bytes, row meta included) with an activation row prepared by
 * lq_quantize_activation for the same type and ncols. Needs no scratch.
 * result is one float, not a buffer, so it has no capacity.
 * Interleaved types give LQ_ERR_UNSUPPORTED (use lq_matmul). */
int lq_vec_dot(int wtype, int64_t ncols, const void *w_row, const void *act,
               float *result);

/* ------------------------------------------------------------------------ */
/* Matrix multiplication                                                     */
/* ------------------------------------------------------------------------ */

/* A context owns a pool of nthreads - 1 worker threads (the calling thread
 * is the other one), created here and reused by every call, and the scratch
 * memory of lq_matmul (activation rows, per-thread decoded weights), grown as
 * needed and kept until lq_matmul_ctx_free. One call at a time per context.
 * nthreads in [1, 256]; NULL on a bad count or when out of memory. */
typedef struct lq_matmul_ctx lq_matmul_ctx;
lq_matmul_ctx *lq_matmul_ctx_new(int nthreads);
void lq_matmul_ctx_free(lq_matmul_ctx *ctx);
int lq_matmul_ctx_threads(const lq_matmul_ctx *ctx);

/* Y = W X. W: nrows rows of ncols weights of wtype (w_size >=
 * lq_tensor_size(wtype, nrows, ncols) bytes). X: n vectors of ncols floats,
 * one after another. Y: n * nrows floats, Y[j * nrows + r] = row r of W dot
 * vector j of X, in y, which holds y_capacity bytes (at least
 * n * nrows * sizeof(float)).
 * Errors: LQ_ERR_UNKNOWN_TYPE; LQ_ERR_UNSUPPORTED (type not decodable);
 * LQ_ERR_BAD_SHAPE (ncols not a positive multiple of the block size, nrows
 * not a multiple of the interleave factor); LQ_ERR_SRC_TOO_SMALL (w_size);
 * LQ_ERR_DST_TOO_SMALL (y_capacity; y is left untouched);
 * LQ_ERR_INVALID_ARGUMENT (NULL pointers, negative counts);
 * LQ_ERR_NO_MEMORY (scratch). nrows == 0 or n == 0 does nothing.
 * X must be finite (a NaN or Inf makes the outputs of its vector NaN or
 * meaningless); no alignment is required of W, X or Y. */
int lq_matmul(lq_matmul_ctx *ctx, int wtype, const void *w, size_t w_size,
              int64_t nrows, int64_t ncols, const float *x, int64_t n,
              float *y, size_t y_capacity);

/* Source compatibility with 0.1, deprecated (removed at 1.0), as for
 * lq_dequantize_rows: a call without y_capacity trusts y to hold
 * n * nrows floats. */
int lq_matmul_0_1(lq_matmul_ctx *ctx, int wtype, const void *w, size_t w_size,
                  int64_t nrows, int64_t ncols, const float *x, int64_t n, float *y)
    LQ_DEPRECATED("pass the capacity of y in bytes: lq_matmul(..., y, capacity)");
#define LQ_ARG_11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, name, ...) name
#define lq_matmul(...) LQ_ARG_11(__VA_ARGS__, lq_matmul, lq_matmul_0_1, 0)(__VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* LIBQUANT_QUANT_KERNELS_H */
