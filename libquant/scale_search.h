/*
 * Scale searches shared by the legacy and k-quant encoders.
 *
 * All of them minimise a weighted squared error sum_i w_i (x_i - y_i)^2,
 * where y_i is what the decoder will produce. The weights are the caller's:
 * the importance matrix, or ones when there is none (the plain error is then
 * minimised directly).
 *
 * The searches work in single precision on NORMALISED blocks: |x| <= 1
 * (multiply by 2^-lq_block_exponent, which is exact) and 0 <= w <= 1
 * (lq_normalise_weights), so no sum can overflow and only the relative
 * order of candidates matters. n is a multiple of LQ_LANES, at most
 * LQ_MAX_BLOCK. Every search returns finite numbers and never divides by
 * zero: a block that is (numerically) zero gets scale 0.
 */
#ifndef LIBQUANT_SCALE_SEARCH_H
#define LIBQUANT_SCALE_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

/* Normalised blocks whose largest magnitude is below this are treated as
 * all zero: no stored scale could represent them relative to the rest. */
#define LQ_TINY_BLOCK 1e-30f

/* Largest finite fp16 value: scales are clamped to it so that a block of
 * enormous weights saturates instead of decoding to Inf. */
#define LQ_FP16_MAX 65504.0f

/* The inner loops keep this many independent partial sums, which the
 * compiler maps onto vector registers. */
#define LQ_LANES 8
#define LQ_MAX_BLOCK 32

/* How densely a search sweeps candidate scales before polishing the best:
 * the largest value (the range, for affine grids) is mapped to the grid
 * end give or take `reach` levels, in steps of `step` levels. */
typedef struct lq_sweep {
    float reach, step;
    /* symmetric grids: sweep only around the longer end of an asymmetric
     * grid (q3_K's -4 of [-4, 3]); the other end is tried exactly */
    bool longer_end_only;
    /* affine grids: 1 keeps the smallest value on level 0, 2 also tries
     * the largest on the top level */
    int anchors;
} lq_sweep;

/* Round a scale to fp16 (clamped to the finite range) and return both the
 * stored bits and the value the decoder will see. */
uint16_t lq_scale_to_fp16(float d, float *stored);

/* The exponent e of the power of two just above max |x_i| (0 for an
 * all-zero block): x * 2^-e is exact and lies in (-1, 1). */
int lq_block_exponent(int n, const float *x);

/* x * 2^-e into out. */
void lq_scale_by_pow2(int n, const float *x, int e, float *out);

/* Divide w by its largest entry; an all-zero w becomes ones. */
void lq_normalise_weights(int n, float *w);

/* Symmetric grid: x ~ d * q with integer q in [qmin, qmax] (qmin <= 0 <
 * qmax). Sweeps candidate scales that map the largest magnitude onto either
 * end of the grid, then refines the best by alternating least-squares
 * refits and re-rounding. Returns the scale, and sum w q^2 of its integers
 * in *sum_wqq if not NULL. */
float lq_search_symmetric(int n, const float *x, const float *w, int qmin,
                          int qmax, lq_sweep sweep, float *sum_wqq);

/* The weighted squared error of x on the symmetric grid of a given scale
 * (each value on its nearest level), and the integers in q if not NULL.
 * d == 0 gives all zeros. */
float lq_round_symmetric(int n, const float *x, const float *w, float d,
                         int qmin, int qmax, int *q);

/* Affine grid: x ~ d * q + m with integer q in [0, qmax] and d >= 0. With
 * min_nonpositive the offset is restricted to m <= 0 (k-quants store it as a
 * subtracted magnitude). Returns d, writes m, and sum w q^2 of the integers
 * in *sum_wqq if not NULL. */
float lq_search_affine(int n, const float *x, const float *w, int qmax,
                       bool min_nonpositive, lq_sweep sweep, float *m,
                       float *sum_wqq);

/* As lq_round_symmetric, on an affine grid of given d, m. */
float lq_round_affine(int n, const float *x, const float *w, float d, float m,
                      int qmax, int *q);

#endif /* LIBQUANT_SCALE_SEARCH_H */
