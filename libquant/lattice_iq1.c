/*
 * iq1_s, iq1_m: 256 weights per super-block, groups of 8 coded as points of
 * the 2048-point iq1s grid (coordinates -1, 0, +1) shifted by +-1/8, with
 * 3-bit block scales: value = d * (2l + 1) * (coordinate + shift).
 *   iq1_s: one scale and one shift sign per 32 values;
 *   iq1_m: one scale per 16 values, one shift sign per 8, and the half
 *          precision d spread over the top nibbles of the scale words.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "lattice.h"
#include "lattice_grids.h"
#include "lattice_types.h"
#include "quant.h"

#define SUPER 256
#define SHIFT 0.125f
#define MAX_BLOCK 32

/* The model values of the three levels with the shift added or taken. */
static const float shifted_up[3] = {-1 + SHIFT, SHIFT, 1 + SHIFT};
static const float shifted_down[3] = {-1 - SHIFT, -SHIFT, 1 - SHIFT};

static const float *level_values(int negative_shift) {
    return negative_shift ? shifted_down : shifted_up;
}

/* How a type may choose shift signs: one per 32 (all groups alike) or one
 * per group of 8. Bit k of a pattern: group k has the negative shift. */
typedef struct shift_rule {
    int npatterns;
    const unsigned *patterns;
} shift_rule;

static const unsigned shared_patterns[2] = {0x0, 0xf};
static const unsigned free_patterns[4] = {0x0, 0x1, 0x2, 0x3};

/* Per-group prefix sums over the sorted order of w*x and w. */
typedef struct split_sums {
    float x[MAX_BLOCK / 8][MAX_BLOCK + 1];
    float w[MAX_BLOCK / 8][MAX_BLOCK + 1];
} split_sums;

static void prefix_sums(int n, const float *x, const float *w,
                        const int *order, split_sums *s) {
    for (int g = 0; g < n / 8; ++g)
        s->x[g][0] = s->w[g][0] = 0;
    for (int j = 0; j < n; ++j) {
        int i = order[j];
        for (int g = 0; g < n / 8; ++g) {
            int mine = i / 8 == g;
            s->x[g][j + 1] = s->x[g][j] + (mine ? w[i] * x[i] : 0);
            s->w[g][j + 1] = s->w[g][j] + (mine ? w[i] : 0);
        }
    }
}

/* Exhaustive search: the sorted values split into levels 0 | 1 | 2 at
 * (i1, i2), every allowed shift pattern, least-squares scale of each. */
static void best_split(int n, const split_sums *s, const shift_rule *rule,
                       int *best_i1, int *best_i2, unsigned *best_pattern,
                       float *best_scale) {
    float best = 0;
    int ngroups = n / 8;
    *best_i1 = 0;
    *best_i2 = n;
    *best_pattern = rule->patterns[0];
    *best_scale = 0;
    for (int i1 = 0; i1 <= n; ++i1)
        for (int i2 = i1; i2 <= n; ++i2) {
            float qx[2][MAX_BLOCK / 8], q2[2][MAX_BLOCK / 8];
            for (int g = 0; g < ngroups; ++g) {
                float a0 = s->x[g][i1], a1 = s->x[g][i2] - s->x[g][i1];
                float a2 = s->x[g][n] - s->x[g][i2];
                float w0 = s->w[g][i1], w1 = s->w[g][i2] - s->w[g][i1];
                float w2 = s->w[g][n] - s->w[g][i2];
                for (int neg = 0; neg < 2; ++neg) {
                    const float *v = level_values(neg);
                    qx[neg][g] = a0 * v[0] + a1 * v[1] + a2 * v[2];
                    q2[neg][g] = w0 * v[0] * v[0] + w1 * v[1] * v[1] +
                                 w2 * v[2] * v[2];
                }
            }
            for (int p = 0; p < rule->npatterns; ++p) {
                float sumqx = 0, sumq2 = 0;
                for (int g = 0; g < ngroups; ++g) {
                    int neg = (rule->patterns[p] >> g) & 1;
                    sumqx += qx[neg][g];
                    sumq2 += q2[neg][g];
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    *best_scale = sumqx / sumq2;
                    best = *best_scale * sumqx;
                    *best_i1 = i1;
                    *best_i2 = i2;
                    *best_pattern = rule->patterns[p];
                }
            }
        }
}

/* Least-squares scale of fixed levels under the best allowed pattern. */
static void refit_pattern(int n, const float *x, const float *w,
                          const shift_rule *rule, lq_iq1_fit *f) {
    float best = 0;
    for (int p = 0; p < rule->npatterns; ++p) {
        float sumqx = 0, sumq2 = 0;
        for (int i = 0; i < n; ++i) {
            float q = level_values((rule->patterns[p] >> (i / 8)) & 1)[f->L[i]];
            sumqx += w[i] * q * x[i];
            sumq2 += w[i] * q * q;
        }
        if (sumqx > 0 && sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            f->scale = sumqx / sumq2;
            best = f->scale * sumqx;
            f->pattern = rule->patterns[p];
        }
    }
}

static void fit_iq1_block(const lq_lattice *g, int n, const float *x,
                          const float *w, const shift_rule *rule,
                          lq_iq1_fit *f) {
    int order[MAX_BLOCK];
    split_sums sums;
    int i1, i2;
    memset(f, 0, sizeof *f);
    lq_lattice_sort_positions(n, x, order);
    prefix_sums(n, x, w, order, &sums);
    best_split(n, &sums, rule, &i1, &i2, &f->pattern, &f->scale);
    for (int j = 0; j < n; ++j)
        f->L[order[j]] = (int8_t)(j < i1 ? 0 : j < i2 ? 1 : 2);
    if (f->scale < 0) {
        /* -(level value) is the mirrored level with the other shift */
        for (int i = 0; i < n; ++i)
            f->L[i] = (int8_t)(2 - f->L[i]);
        f->scale = -f->scale;
        f->pattern ^= (1u << (n / 8)) - 1;
    }
    int all_on_grid = 1;
    for (int k = 0; k < n / 8; ++k) {
        int key = lq_lattice_key(g, f->L + 8 * k);
        all_on_grid &= g->map[key] >= 0;
        f->index[k] = (uint16_t)lq_lattice_snap(
            g, f->L + 8 * k, x + 8 * k, w + 8 * k, f->scale,
            level_values((f->pattern >> k) & 1));
    }
    if (!all_on_grid)
        refit_pattern(n, x, w, rule, f);
}

static const shift_rule iq1_s_rule = {2, shared_patterns};
static const shift_rule iq1_m_rule = {4, free_patterns};

void lq_iq1_fit_block(const lq_lattice *g, int n, const float *x,
                      const float *w, int shift_per_group, lq_iq1_fit *f) {
    float max = 0;
    for (int i = 0; i < n; ++i)
        max = fabsf(x[i]) > max ? fabsf(x[i]) : max;
    if (max > 1e-7f)
        fit_iq1_block(g, n, x, w, shift_per_group ? &iq1_m_rule : &iq1_s_rule,
                      f);
    else {
        /* an empty block: the grid point at the origin */
        memset(f, 0, sizeof *f);
        int8_t origin[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        int at = g->map[lq_lattice_key(g, origin)];
        for (int k = 0; k < n / 8; ++k)
            f->index[k] = (uint16_t)(at >= 0 ? at : 0);
    }
}

void lq_iq1_units(const lq_lattice *g, int n, const lq_iq1_fit *f,
                  float *unit) {
    for (int i = 0; i < n; ++i) {
        const float *v = level_values((f->pattern >> (i / 8)) & 1);
        unit[i] = v[g->levels[f->index[i / 8] * 8 + i % 8]];
    }
}

/* Weights of a block, with importance or without (x^2 plus a floor). */
static void iq1_weights(int n, const float *x, const float *imatrix,
                        float sigma2, float *w) {
    float sumw = 0;
    lq_lattice_weights(n, x, imatrix, sigma2, imatrix ? 0 : 0.25f, w);
    for (int i = 0; i < n; ++i)
        sumw += w[i] * fabsf(x[i]);
    if (!(sumw > 0)) /* importance only where x is zero: ignore it */
        for (int i = 0; i < n; ++i)
            w[i] = x[i] * x[i];
}

/* Fit a super-block in blocks of n; returns d (half) and fills the fits,
 * block scales l and, per value, the decoded value per unit of scale. */
static uint16_t fit_iq1_super(const lq_lattice *g, int n, const float *x,
                              const float *imatrix, int sigma_span,
                              float sigma_mult, int shift_per_group,
                              lq_iq1_fit *fits, uint8_t *l) {
    float xn[SUPER], w[SUPER], unit[SUPER], scales[SUPER / 16];
    float amax = 0;
    for (int i = 0; i < SUPER; ++i)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    memset(l, 0, (size_t)(SUPER / n));
    if (!(amax > 0)) {
        memset(fits, 0, (size_t)(SUPER / n) * sizeof *fits);
        return 0;
    }
    for (int i = 0; i < SUPER; ++i)
        xn[i] = x[i] / amax;
    for (int s0 = 0; s0 < SUPER; s0 += sigma_span) {
        float sumx2 = 0;
        for (int i = s0; i < s0 + sigma_span; ++i)
            sumx2 += xn[i] * xn[i];
        iq1_weights(sigma_span, xn + s0, imatrix ? imatrix + s0 : NULL,
                    sigma_mult * sumx2 / sigma_span, w + s0);
    }
    for (int b = 0; b < SUPER / n; ++b) {
        lq_iq1_fit_block(g, n, xn + b * n, w + b * n, shift_per_group, &fits[b]);
        scales[b] = fits[b].scale;
        lq_iq1_units(g, n, &fits[b], unit + b * n);
    }
    uint8_t scratch[SUPER / 16];
    lq_super_layout layout = {SUPER / n, n, 7, 1};
    float d = lq_lattice_super_scale(&layout, scales, xn, w, unit, amax, l,
                                     scratch);
    return lq_float_to_half(d);
}

static float iq1_value(float dl, uint64_t point, int j, float shift) {
    return dl * ((int8_t)(uint8_t)(point >> (8 * j)) + shift);
}

/* ---- iq1_s: d, 32 low index bytes, 8 x u16 (3 index high bits per group,
 * 3-bit scale << 12, negative shift << 15) ------------------------------ */

enum { IQ1_S_BYTES = 50, IQ1_S_QH = 34 };

int lq_quantize_iq1_s(const float *src, void *dst, int64_t ncols,
                      const float *imatrix) {
    const lq_lattice *g = lq_lattice_get(LQ_GRID_IQ1S);
    if (!g)
        return LQ_ERR_NO_MEMORY;
    uint8_t *out = dst;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, out += IQ1_S_BYTES) {
        lq_iq1_fit fits[SUPER / 32];
        uint8_t l[SUPER / 32];
        uint16_t d = fit_iq1_super(g, 32, src + i0, imatrix ? imatrix + i0 : NULL,
                                   SUPER, 2.0f, 0, fits, l);
        lq_store_u16(out, d);
        for (int ib = 0; ib < SUPER / 32; ++ib) {
            unsigned h = (unsigned)l[ib] << 12 | (fits[ib].pattern ? 0x8000u : 0);
            for (int k = 0; k < 4; ++k) {
                out[2 + 4 * ib + k] = (uint8_t)fits[ib].index[k];
                h |= (unsigned)(fits[ib].index[k] >> 8) << (3 * k);
            }
            lq_store_u16(out + IQ1_S_QH + 2 * ib, (uint16_t)h);
        }
    }
    return LQ_OK;
}

void lq_dequantize_iq1_s(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, in += IQ1_S_BYTES) {
        float d = lq_half_to_float(lq_load_u16(in));
        for (int ib = 0; ib < SUPER / 32; ++ib) {
            unsigned h = lq_load_u16(in + IQ1_S_QH + 2 * ib);
            float dl = d * (2 * ((h >> 12) & 7) + 1);
            float shift = h & 0x8000u ? -SHIFT : SHIFT;
            for (int k = 0; k < 4; ++k) {
                uint64_t point =
                    lq_iq1s_grid[in[2 + 4 * ib + k] | ((h >> (3 * k)) & 7) << 8];
                for (int j = 0; j < 8; ++j)
                    dst[i0 + 32 * ib + 8 * k + j] = iq1_value(dl, point, j, shift);
            }
        }
    }
}

/* ---- iq1_m: 32 low index bytes, 16 bytes (per 16: 3 index high bits and a
 * negative-shift bit per group of 8), 4 x u16 of four 3-bit scales whose
 * top nibbles hold d --------------------------------------------------- */

enum { IQ1_M_BYTES = 56, IQ1_M_QH = 32, IQ1_M_SCALES = 48 };

int lq_quantize_iq1_m(const float *src, void *dst, int64_t ncols,
                      const float *imatrix) {
    const lq_lattice *g = lq_lattice_get(LQ_GRID_IQ1S);
    if (!g)
        return LQ_ERR_NO_MEMORY;
    uint8_t *out = dst;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, out += IQ1_M_BYTES) {
        lq_iq1_fit fits[SUPER / 16];
        uint8_t l[SUPER / 16];
        uint16_t d = fit_iq1_super(g, 16, src + i0, imatrix ? imatrix + i0 : NULL,
                                   32, 1.5f, 1, fits, l);
        uint16_t sc[4] = {0, 0, 0, 0};
        for (int ib = 0; ib < SUPER / 16; ++ib) {
            unsigned h = 0;
            for (int k = 0; k < 2; ++k) {
                out[2 * ib + k] = (uint8_t)fits[ib].index[k];
                h |= (unsigned)(fits[ib].index[k] >> 8) << (4 * k);
                h |= ((fits[ib].pattern >> k) & 1u) << (4 * k + 3);
            }
            out[IQ1_M_QH + ib] = (uint8_t)h;
            sc[ib / 4] |= (uint16_t)(l[ib] << (3 * (ib % 4)));
        }
        for (int k = 0; k < 4; ++k) {
            sc[k] |= (uint16_t)(((d >> (4 * k)) & 15u) << 12);
            lq_store_u16(out + IQ1_M_SCALES + 2 * k, sc[k]);
        }
    }
    return LQ_OK;
}

void lq_dequantize_iq1_m(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, in += IQ1_M_BYTES) {
        uint16_t sc[4], dbits = 0;
        for (int k = 0; k < 4; ++k) {
            sc[k] = lq_load_u16(in + IQ1_M_SCALES + 2 * k);
            dbits |= (uint16_t)((sc[k] >> 12) << (4 * k));
        }
        float d = lq_half_to_float(dbits);
        for (int ib = 0; ib < SUPER / 16; ++ib) {
            float dl = d * (2 * ((sc[ib / 4] >> (3 * (ib % 4))) & 7) + 1);
            unsigned h = in[IQ1_M_QH + ib];
            for (int k = 0; k < 2; ++k) {
                uint64_t point =
                    lq_iq1s_grid[in[2 * ib + k] | ((h >> (4 * k)) & 7) << 8];
                float shift = (h >> (4 * k + 3)) & 1 ? -SHIFT : SHIFT;
                for (int j = 0; j < 8; ++j)
                    dst[i0 + 16 * ib + 8 * k + j] = iq1_value(dl, point, j, shift);
            }
        }
    }
}
