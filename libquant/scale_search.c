/*
 * Scale searches for grids of integers times a scale (plus an offset).
 *
 * Both searches work the same way: a coarse sweep of candidate inverse
 * scales (the largest value mapped to a grid end, give or take one level, in
 * steps of a fraction of a level), each candidate's integers refitted by
 * least squares, then the best one polished by alternating "round to the
 * nearest level" and "refit the scale" until the error stops falling. Each
 * alternation step can only lower the error, so the result is never worse
 * than the best swept candidate. Sums are in double: inputs may be as large
 * as FLT_MAX, and the closed-form errors subtract nearly equal quantities.
 */
#include "scale_search.h"

#include <math.h>
#include <string.h>

#include "common.h"

/* The sweep maps the largest value to targets from |end| - SWEEP_BELOW to
 * |end| + SWEEP_ABOVE levels: above the end means clipping it. */
#define SWEEP_BELOW 1.0f
#define SWEEP_ABOVE 1.0f
#define SYMMETRIC_SWEEP_STEP 0.2f
#define AFFINE_SWEEP_STEP 0.1f
#define MAX_POLISH_ROUNDS 8

/* Nearest integer (ties to even) of v clamped to [lo, hi]. Clamping first
 * keeps the value small, so adding 1.5 * 2^23 leaves the rounded integer in
 * the low mantissa bits: far cheaper than a libm call in the inner loops.
 * NaN clamps to lo. */
static inline int round_clamped(float v, int lo, int hi) {
    v = v >= (float)lo ? v : (float)lo; /* NaN fails the test too */
    v = v <= (float)hi ? v : (float)hi;
    float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

uint16_t lq_scale_to_fp16(float d, float *stored) {
    if (d > LQ_FP16_MAX)
        d = LQ_FP16_MAX;
    else if (d < -LQ_FP16_MAX)
        d = -LQ_FP16_MAX;
    uint16_t h = lq_float_to_half(d);
    if (stored)
        *stored = lq_half_to_float(h);
    return h;
}

void lq_block_weights(int n, const float *imatrix_slice, float *w) {
    double total = 0;
    if (imatrix_slice)
        for (int i = 0; i < n; i++)
            total += imatrix_slice[i];
    if (total > 0) {
        memcpy(w, imatrix_slice, (size_t)n * sizeof *w);
        return;
    }
    for (int i = 0; i < n; i++)
        w[i] = 1.0f;
}

/* ---------------------------------------------------------------- symmetric */

/* sum w x q and sum w q^2 for the integers of inverse scale iscale. */
static void symmetric_moments(int n, const float *x, const float *w,
                              float iscale, int qmin, int qmax, int8_t *q,
                              double *sum_xq, double *sum_qq) {
    double xq = 0, qq = 0;
    for (int i = 0; i < n; i++) {
        int l = round_clamped(iscale * x[i], qmin, qmax);
        if (q)
            q[i] = (int8_t)l;
        xq += (double)w[i] * x[i] * l;
        qq += (double)w[i] * l * l;
    }
    *sum_xq = xq;
    *sum_qq = qq;
}

float lq_round_symmetric(int n, const float *x, const float *w, float d,
                         int qmin, int qmax, int8_t *q) {
    double err = 0;
    if (d == 0.0f) {
        for (int i = 0; i < n; i++) {
            q[i] = 0;
            err += (double)w[i] * x[i] * x[i];
        }
        return (float)err;
    }
    float id = 1.0f / d;
    for (int i = 0; i < n; i++) {
        int l = round_clamped(id * x[i], qmin, qmax);
        q[i] = (int8_t)l;
        double diff = (double)d * l - x[i];
        err += (double)w[i] * diff * diff;
    }
    return (float)err;
}

float lq_search_symmetric(int n, const float *x, const float *w, int qmin,
                          int qmax, int8_t *q) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    }
    if (amax < LQ_TINY_BLOCK) {
        memset(q, 0, (size_t)n);
        return 0.0f;
    }
    /* The score sum_xq^2 / sum_qq is how much the best scale for a set of
     * integers lowers the error below sum w x^2: maximise it. */
    double best_score = 0;
    float best_d = 0;
    const int ends[2] = {qmax, qmin};
    const int below = (int)lrintf(SWEEP_BELOW / SYMMETRIC_SWEEP_STEP);
    const int above = (int)lrintf(SWEEP_ABOVE / SYMMETRIC_SWEEP_STEP);
    for (int e = 0; e < 2; e++) {
        if (ends[e] == 0)
            continue;
        float sign = ends[e] > 0 ? 1.0f : -1.0f;
        for (int k = -below; k <= above; k++) {
            float target = fabsf((float)ends[e]) + SYMMETRIC_SWEEP_STEP * k;
            if (target < 0.5f)
                continue;
            double xq, qq;
            symmetric_moments(n, x, w, sign * target / vmax, qmin, qmax, NULL,
                              &xq, &qq);
            if (qq > 0 && xq * xq > best_score * qq) {
                best_score = xq * xq / qq;
                best_d = (float)(xq / qq);
            }
        }
    }
    if (best_d == 0.0f) /* no weight anywhere: any scale is as good */
        best_d = vmax / (float)(vmax > 0 ? qmax : qmin);
    for (int round = 0; round < MAX_POLISH_ROUNDS; round++) {
        double xq, qq;
        symmetric_moments(n, x, w, 1.0f / best_d, qmin, qmax, NULL, &xq, &qq);
        if (!(qq > 0 && xq * xq > best_score * qq * (1 + 1e-12)))
            break;
        best_score = xq * xq / qq;
        best_d = (float)(xq / qq);
    }
    double unused_xq, unused_qq;
    symmetric_moments(n, x, w, 1.0f / best_d, qmin, qmax, q, &unused_xq,
                      &unused_qq);
    return best_d;
}

/* ------------------------------------------------------------------- affine */

typedef struct affine_sums {
    double w, x, xx; /* of the data: fixed during a search */
    double q, qq, xq; /* of the integers */
} affine_sums;

typedef struct affine_fit {
    double d, m, err;
} affine_fit;

static void affine_integer_sums(int n, const float *x, const float *w,
                                const uint8_t *q, affine_sums *s) {
    double sq = 0, sqq = 0, sxq = 0;
    for (int i = 0; i < n; i++) {
        double wl = (double)w[i] * q[i];
        sq += wl;
        sqq += wl * q[i];
        sxq += wl * x[i];
    }
    s->q = sq;
    s->qq = sqq;
    s->xq = sxq;
}

/* Least-squares d, m for fixed integers; false if the integers are all equal
 * (no scale is determined) or the fit comes out with d <= 0. */
static bool affine_least_squares(const affine_sums *s, bool min_nonpositive,
                                 affine_fit *fit) {
    double det = s->w * s->qq - s->q * s->q;
    if (!(det > 0))
        return false;
    double d = (s->w * s->xq - s->x * s->q) / det;
    double m = (s->qq * s->x - s->q * s->xq) / det;
    if (min_nonpositive && m > 0) {
        m = 0;
        d = s->xq / s->qq;
    }
    if (!(d > 0))
        return false;
    fit->d = d;
    fit->m = m;
    fit->err = s->xx - 2 * d * s->xq - 2 * m * s->x + 2 * d * m * s->q +
               d * d * s->qq + m * m * s->w;
    return true;
}

static void affine_integers(int n, const float *x, float iscale, float m,
                           int qmax, uint8_t *q) {
    for (int i = 0; i < n; i++)
        q[i] = (uint8_t)round_clamped(iscale * (x[i] - m), 0, qmax);
}

float lq_round_affine(int n, const float *x, const float *w, float d, float m,
                      int qmax, uint8_t *q) {
    double err = 0;
    if (d == 0.0f) {
        memset(q, 0, (size_t)n);
        for (int i = 0; i < n; i++)
            err += (double)w[i] * (m - x[i]) * (m - x[i]);
        return (float)err;
    }
    affine_integers(n, x, 1.0f / d, m, qmax, q);
    for (int i = 0; i < n; i++) {
        double diff = (double)(d * q[i] + m) - x[i];
        err += (double)w[i] * diff * diff;
    }
    return (float)err;
}

float lq_search_affine(int n, const float *x, const float *w, int qmax,
                       bool min_nonpositive, float *m_out, uint8_t *q) {
    float lo = x[0], hi = x[0];
    affine_sums s = {0};
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        s.w += w[i];
        s.x += (double)w[i] * x[i];
        s.xx += (double)w[i] * x[i] * x[i];
    }
    if (min_nonpositive && lo > 0)
        lo = 0;
    if (!(hi - lo > LQ_TINY_BLOCK) || !isfinite(hi - lo)) {
        /* constant block (or a range too wide for float): offset only */
        memset(q, 0, (size_t)n);
        *m_out = (!min_nonpositive || lo <= 0) ? lo : 0.0f;
        return 0.0f;
    }
    uint8_t trial[256];
    affine_fit best = {0, lo, HUGE_VAL};
    const int below = (int)lrintf(SWEEP_BELOW / AFFINE_SWEEP_STEP);
    const int above = (int)lrintf(SWEEP_ABOVE / AFFINE_SWEEP_STEP);
    for (int k = -below; k <= above; k++) {
        float target = (float)qmax + AFFINE_SWEEP_STEP * k;
        if (target < 0.5f)
            continue;
        affine_integers(n, x, target / (hi - lo), lo, qmax, trial);
        affine_integer_sums(n, x, w, trial, &s);
        affine_fit fit;
        if (affine_least_squares(&s, min_nonpositive, &fit) &&
            fit.err < best.err) {
            best = fit;
            memcpy(q, trial, (size_t)n);
        }
    }
    if (best.err == HUGE_VAL) {
        /* every candidate had a single level (all weight on one value):
         * spread the grid over the range */
        best.d = (hi - lo) / qmax;
        best.m = lo;
        affine_integers(n, x, 1.0f / (float)best.d, lo, qmax, q);
    }
    for (int round = 0; round < MAX_POLISH_ROUNDS; round++) {
        affine_integers(n, x, (float)(1.0 / best.d), (float)best.m, qmax,
                        trial);
        affine_integer_sums(n, x, w, trial, &s);
        affine_fit fit;
        if (!affine_least_squares(&s, min_nonpositive, &fit) ||
            !(fit.err < best.err * (1 - 1e-12)))
            break;
        best = fit;
        memcpy(q, trial, (size_t)n);
    }
    *m_out = (float)best.m;
    return (float)best.d;
}
