/*
 * Scale searches for grids of integers times a scale (plus an offset).
 *
 * Both searches work the same way: a sweep of candidate inverse scales (the
 * largest value mapped near a grid end), each candidate's integers refitted
 * by least squares, then the best one polished by alternating "round to the
 * nearest level" and "refit the scale" until the error stops falling. Each
 * alternation step can only lower the error, so the result is never worse
 * than the best swept candidate.
 *
 * The loops over a block have a fixed shape (LQ_LANES independent partial
 * sums, no data-dependent branches, rounding by the 1.5 * 2^23 trick in
 * float) so that the compiler turns them into vector code; the order of
 * every floating-point operation is fixed by the source, so the result
 * does not depend on how wide the vectors are. Single precision suffices
 * because the blocks are normalised (see scale_search.h).
 */
#include "scale_search.h"

#include <math.h>
#include <string.h>

#include "common.h"
#include "encode_simd.h"

#define MAX_POLISH_ROUNDS 8

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

int lq_block_exponent(int n, const float *x) {
    lq_f4 m = lq_f4_splat(0.0f);
    for (int i = 0; i < n; i += 4)
        m = lq_f4_max(m, lq_f4_abs(lq_f4_load(x + i)));
    float amax = fmaxf(fmaxf(m[0], m[1]), fmaxf(m[2], m[3]));
    if (amax == 0.0f)
        return 0;
    int e;
    frexpf(amax, &e); /* amax = f * 2^e, f in [0.5, 1) */
    return e;
}

void lq_scale_by_pow2(int n, const float *x, int e, float *out) {
    /* two steps: 2^-e alone is not representable for e > 149 or e < -127 */
    float s1 = ldexpf(1.0f, -e / 2), s2 = ldexpf(1.0f, -e + e / 2);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * s1 * s2;
}

void lq_normalise_weights(int n, float *w) {
    float wmax = 0;
    for (int i = 0; i < n; i++)
        wmax = wmax > w[i] ? wmax : w[i];
    if (!(wmax > 0)) {
        for (int i = 0; i < n; i++)
            w[i] = 1.0f;
        return;
    }
    float inv = 1.0f / wmax;
    if (!isfinite(inv)) /* wmax subnormal: divide instead */
        for (int i = 0; i < n; i++)
            w[i] = w[i] / wmax;
    else
        for (int i = 0; i < n; i++)
            w[i] = w[i] * inv;
}

/* The value of largest magnitude (the largest one on a tie). */
static float signed_max(int n, const float *x) {
    lq_f4 lo = lq_f4_load(x), hi = lo;
    for (int i = 4; i < n; i += 4) {
        lq_f4 v = lq_f4_load(x + i);
        lo = lq_f4_min(lo, v);
        hi = lq_f4_max(hi, v);
    }
    float vmin = fminf(fminf(lo[0], lo[1]), fminf(lo[2], lo[3]));
    float vmax = fmaxf(fmaxf(hi[0], hi[1]), fmaxf(hi[2], hi[3]));
    return vmax >= -vmin ? vmax : vmin;
}

/* ---------------------------------------------------------------- symmetric */

typedef struct symmetric_sums {
    float xq, qq;
} symmetric_sums;

/* sum w x q and sum w q^2 for the integers of inverse scale iscale. */
static symmetric_sums symmetric_moments(int n, const float *restrict x,
                                        const float *restrict w, float iscale,
                                        float lo, float hi) {
    const lq_f4 vs = lq_f4_splat(iscale), vlo = lq_f4_splat(lo), vhi = lq_f4_splat(hi);
    lq_f4 xq0 = {0}, xq1 = {0}, qq0 = {0}, qq1 = {0};
    for (int i = 0; i < n; i += LQ_LANES) {
        lq_f4 x0 = lq_f4_load(x + i), x1 = lq_f4_load(x + i + 4);
        lq_f4 l0 = lq_f4_round_clamped(vs * x0, vlo, vhi);
        lq_f4 l1 = lq_f4_round_clamped(vs * x1, vlo, vhi);
        lq_f4 wl0 = lq_f4_load(w + i) * l0, wl1 = lq_f4_load(w + i + 4) * l1;
        xq0 += wl0 * x0;
        xq1 += wl1 * x1;
        qq0 += wl0 * l0;
        qq1 += wl1 * l1;
    }
    return (symmetric_sums){lq_f4_sum2(xq0, xq1), lq_f4_sum2(qq0, qq1)};
}

/* The weighted squared error of x on the symmetric grid of scale d (id its
 * inverse), and the integers if q is not NULL. */
static float symmetric_error(int n, const float *restrict x,
                             const float *restrict w, float d, float id,
                             float lo, float hi, int *restrict q) {
    const lq_f4 vd = lq_f4_splat(d), vid = lq_f4_splat(id);
    const lq_f4 vlo = lq_f4_splat(lo), vhi = lq_f4_splat(hi);
    lq_f4 err0 = {0}, err1 = {0};
    for (int i = 0; i < n; i += LQ_LANES) {
        lq_f4 x0 = lq_f4_load(x + i), x1 = lq_f4_load(x + i + 4);
        lq_f4 l0 = lq_f4_round_clamped(vid * x0, vlo, vhi);
        lq_f4 l1 = lq_f4_round_clamped(vid * x1, vlo, vhi);
        lq_f4 e0 = vd * l0 - x0, e1 = vd * l1 - x1;
        err0 += lq_f4_load(w + i) * e0 * e0;
        err1 += lq_f4_load(w + i + 4) * e1 * e1;
        if (q) {
            lq_i4_store(q + i, lq_f4_to_i4(l0));
            lq_i4_store(q + i + 4, lq_f4_to_i4(l1));
        }
    }
    return lq_f4_sum2(err0, err1);
}

/* 1/d, or 0 (with d set to 0) when d is 0 or too small to invert. */
static float safe_inverse(float *d) {
    float id = *d != 0.0f ? 1.0f / *d : 0.0f;
    if (!isfinite(id)) {
        id = 0.0f;
        *d = 0.0f;
    }
    return id;
}

float lq_round_symmetric(int n, const float *x, const float *w, float d,
                         int qmin, int qmax, int *q) {
    float id = safe_inverse(&d);
    return symmetric_error(n, x, w, d, id, (float)qmin, (float)qmax, q);
}

/* Is a fit with sums s better than the best so far by more than the
 * factor margin? The score xq^2 / qq is how much the least-squares scale of
 * a set of integers lowers the error below sum w x^2. */
static bool symmetric_better(symmetric_sums s, symmetric_sums best, float margin) {
    return s.qq > 0 && s.xq * s.xq * best.qq > margin * best.xq * best.xq * s.qq;
}

float lq_search_symmetric(int n, const float *x, const float *w, int qmin,
                          int qmax, lq_sweep sweep, float *sum_wqq) {
    float vmax = signed_max(n, x);
    if (sum_wqq)
        *sum_wqq = 0.0f;
    if (fabsf(vmax) < LQ_TINY_BLOCK)
        return 0.0f;
    const float lo = (float)qmin, hi = (float)qmax;
    const float inv_vmax = 1.0f / vmax;
    symmetric_sums best = {0.0f, 1.0f}; /* score 0: no candidate yet */
    const int ends[2] = {qmin, qmax};
    const int steps = (int)lrintf(sweep.reach / sweep.step);
    for (int e = 0; e < 2; e++) {
        if (ends[e] == 0)
            continue;
        /* with longer_end_only, the shorter end is tried exactly only */
        bool longer = -qmin >= qmax ? e == 0 : e == 1;
        int reach = longer || !sweep.longer_end_only ? steps : 0;
        for (int k = -reach; k <= reach; k++) {
            float target = fabsf((float)ends[e]) + sweep.step * (float)k;
            if (target < 0.5f)
                continue;
            float iscale = (ends[e] > 0 ? target : -target) * inv_vmax;
            symmetric_sums s = symmetric_moments(n, x, w, iscale, lo, hi);
            if (symmetric_better(s, best, 1.0f))
                best = s;
        }
    }
    if (best.xq == 0.0f) /* no weight on any non-zero value */
        return vmax / (float)(vmax > 0 || qmin == 0 ? qmax : qmin);
    float best_d = best.xq / best.qq;
    for (int round = 0; round < MAX_POLISH_ROUNDS; round++) {
        symmetric_sums s = symmetric_moments(n, x, w, 1.0f / best_d, lo, hi);
        if (!symmetric_better(s, best, 1.000001f))
            break;
        best = s;
        best_d = s.xq / s.qq;
    }
    if (sum_wqq)
        *sum_wqq = best.qq;
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

/* The integers of inverse scale iscale and offset m, and their sums. */
static void affine_moments(int n, const float *restrict x,
                           const float *restrict w, float iscale, float m,
                           float hi, affine_sums *s) {
    const lq_f4 vs = lq_f4_splat(iscale), vm = lq_f4_splat(m);
    const lq_f4 vlo = lq_f4_splat(0.0f), vhi = lq_f4_splat(hi);
    lq_f4 sq0 = {0}, sq1 = {0}, sqq0 = {0}, sqq1 = {0}, sxq0 = {0}, sxq1 = {0};
    for (int i = 0; i < n; i += LQ_LANES) {
        lq_f4 x0 = lq_f4_load(x + i), x1 = lq_f4_load(x + i + 4);
        lq_f4 l0 = lq_f4_round_clamped(vs * (x0 - vm), vlo, vhi);
        lq_f4 l1 = lq_f4_round_clamped(vs * (x1 - vm), vlo, vhi);
        lq_f4 wl0 = lq_f4_load(w + i) * l0, wl1 = lq_f4_load(w + i + 4) * l1;
        sq0 += wl0;
        sq1 += wl1;
        sqq0 += wl0 * l0;
        sqq1 += wl1 * l1;
        sxq0 += wl0 * x0;
        sxq1 += wl1 * x1;
    }
    s->q = lq_f4_sum2(sq0, sq1);
    s->qq = lq_f4_sum2(sqq0, sqq1);
    s->xq = lq_f4_sum2(sxq0, sxq1);
}

/* Least-squares d, m for fixed integers; false if the integers are all equal
 * (no scale is determined) or the fit comes out with d <= 0. */
static bool affine_least_squares(const affine_sums *s, bool min_nonpositive,
                                 affine_fit *fit) {
    double det = s->w * s->qq - s->q * s->q;
    if (!(det > 1e-9 * s->w * s->qq))
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

float lq_round_affine(int n, const float *restrict x, const float *restrict w,
                      float d, float m, int qmax, int *restrict q) {
    float id = safe_inverse(&d);
    const lq_f4 vd = lq_f4_splat(d), vid = lq_f4_splat(id), vm = lq_f4_splat(m);
    const lq_f4 vlo = lq_f4_splat(0.0f), vhi = lq_f4_splat((float)qmax);
    lq_f4 err0 = {0}, err1 = {0};
    for (int i = 0; i < n; i += LQ_LANES) {
        lq_f4 x0 = lq_f4_load(x + i), x1 = lq_f4_load(x + i + 4);
        lq_f4 l0 = lq_f4_round_clamped(vid * (x0 - vm), vlo, vhi);
        lq_f4 l1 = lq_f4_round_clamped(vid * (x1 - vm), vlo, vhi);
        lq_f4 e0 = vd * l0 + vm - x0, e1 = vd * l1 + vm - x1;
        err0 += lq_f4_load(w + i) * e0 * e0;
        err1 += lq_f4_load(w + i + 4) * e1 * e1;
        if (q) {
            lq_i4_store(q + i, lq_f4_to_i4(l0));
            lq_i4_store(q + i + 4, lq_f4_to_i4(l1));
        }
    }
    return lq_f4_sum2(err0, err1);
}

float lq_search_affine(int n, const float *x, const float *w, int qmax,
                       bool min_nonpositive, lq_sweep sweep, float *m_out,
                       float *sum_wqq) {
    lq_f4 lo4 = lq_f4_load(x), hi4 = lo4;
    lq_f4 sw0 = {0}, sw1 = {0}, sx0 = {0}, sx1 = {0}, sxx0 = {0}, sxx1 = {0};
    for (int i = 0; i < n; i += LQ_LANES) {
        lq_f4 x0 = lq_f4_load(x + i), x1 = lq_f4_load(x + i + 4);
        lq_f4 w0 = lq_f4_load(w + i), w1 = lq_f4_load(w + i + 4);
        lo4 = lq_f4_min(lq_f4_min(lo4, x0), x1);
        hi4 = lq_f4_max(lq_f4_max(hi4, x0), x1);
        sw0 += w0;
        sw1 += w1;
        sx0 += w0 * x0;
        sx1 += w1 * x1;
        sxx0 += w0 * x0 * x0;
        sxx1 += w1 * x1 * x1;
    }
    float lo = fminf(fminf(lo4[0], lo4[1]), fminf(lo4[2], lo4[3]));
    float hi = fmaxf(fmaxf(hi4[0], hi4[1]), fmaxf(hi4[2], hi4[3]));
    affine_sums s = {lq_f4_sum2(sw0, sw1), lq_f4_sum2(sx0, sx1),
                     lq_f4_sum2(sxx0, sxx1), 0, 0, 0};
    if (min_nonpositive && lo > 0)
        lo = 0;
    if (sum_wqq)
        *sum_wqq = 0.0f;
    if (!(hi - lo > LQ_TINY_BLOCK)) {
        /* constant block: offset only */
        *m_out = lo;
        return 0.0f;
    }
    const float fqmax = (float)qmax;
    affine_fit best = {(hi - lo) / fqmax, lo, HUGE_VAL};
    float best_qq = 0;
    const int steps = (int)lrintf(sweep.reach / sweep.step);
    for (int k = -steps; k <= steps; k++) {
        float target = fqmax + sweep.step * (float)k;
        if (target < 0.5f)
            continue;
        /* the range [lo, hi] maps onto [0, target] or onto
         * [qmax - target, qmax]: anchored at either end */
        float iscale = target / (hi - lo);
        for (int anchor = 0; anchor < (k != 0 ? sweep.anchors : 1); anchor++) {
            float offset = anchor == 0 ? lo : hi - fqmax / iscale;
            affine_moments(n, x, w, iscale, offset, fqmax, &s);
            affine_fit fit;
            if (affine_least_squares(&s, min_nonpositive, &fit) &&
                fit.err < best.err) {
                best = fit;
                best_qq = (float)s.qq;
            }
        }
    }
    /* if every candidate had a single level (all weight on one value), the
     * grid simply spans the range */
    for (int round = 0; round < MAX_POLISH_ROUNDS && best.err < HUGE_VAL; round++) {
        float iscale = (float)(1.0 / best.d), offset = (float)best.m;
        affine_moments(n, x, w, iscale, offset, fqmax, &s);
        affine_fit fit;
        if (!affine_least_squares(&s, min_nonpositive, &fit) ||
            !(fit.err < best.err - 1e-6 * s.xx))
            break;
        best = fit;
        best_qq = (float)s.qq;
    }
    if (sum_wqq)
        *sum_wqq = best_qq;
    *m_out = (float)best.m;
    return (float)best.d;
}
