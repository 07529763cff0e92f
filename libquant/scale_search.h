/*
 * Scale searches shared by the legacy and k-quant encoders.
 *
 * All of them minimise a weighted squared error sum_i w_i (x_i - y_i)^2,
 * where y_i is what the decoder will produce. The weights are the caller's:
 * the importance matrix, or ones when there is none (the plain error is then
 * minimised directly). Every search returns finite numbers and never divides
 * by zero: a block that is (numerically) zero gets scale 0.
 */
#ifndef LIBQUANT_SCALE_SEARCH_H
#define LIBQUANT_SCALE_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

/* Blocks whose largest magnitude is below this are treated as all zero:
 * no stored scale could represent them anyway. */
#define LQ_TINY_BLOCK 1e-30f

/* Largest finite fp16 value: scales are clamped to it so that a block of
 * enormous weights saturates instead of decoding to Inf. */
#define LQ_FP16_MAX 65504.0f

/* Round a scale to fp16 (clamped to the finite range) and return both the
 * stored bits and the value the decoder will see. */
uint16_t lq_scale_to_fp16(float d, float *stored);

/* Symmetric grid: x ~ d * q with integer q in [qmin, qmax] (qmin <= 0 <
 * qmax). Searches many candidate scales around the one that maps the
 * largest magnitude onto either end of the grid, then refines the best by
 * alternating least-squares refits and re-rounding. Writes the integers for
 * the returned scale into q. */
float lq_search_symmetric(int n, const float *x, const float *w, int qmin,
                          int qmax, int8_t *q);

/* The integers of x on the symmetric grid of a given scale (nearest level),
 * and the weighted squared error they leave. d == 0 gives all zeros. */
float lq_round_symmetric(int n, const float *x, const float *w, float d,
                         int qmin, int qmax, int8_t *q);

/* Affine grid: x ~ d * q + m with integer q in [0, qmax] and d >= 0. With
 * min_nonpositive the offset is restricted to m <= 0 (k-quants store it as a
 * subtracted magnitude). Returns d and writes m and the integers. */
float lq_search_affine(int n, const float *x, const float *w, int qmax,
                       bool min_nonpositive, float *m, uint8_t *q);

/* The integers of x on an affine grid of given d, m (nearest level), and
 * the weighted squared error they leave. d == 0 gives all zeros. */
float lq_round_affine(int n, const float *x, const float *w, float d, float m,
                      int qmax, uint8_t *q);

/* The weights of one block: the importance matrix slice if it carries any
 * weight, otherwise ones (so an all-zero imatrix slice still gives a
 * well-posed fit). */
void lq_block_weights(int n, const float *imatrix_slice, float *w);

#endif /* LIBQUANT_SCALE_SEARCH_H */
