/*
 * Non-linear 4-bit codecs: 4-bit indices into a fixed table of 16 values.
 *   iq4_nl: blocks of 32, one fp16 scale, the iq4nl value table.
 *   iq4_xs: blocks of 256, one fp16 scale and eight signed 6-bit scales of
 *           its 32-weight sub-blocks, the iq4nl value table.
 *   mxfp4:  blocks of 32, a power-of-two (E8M0) scale, E2M1 values.
 * Each 32-weight (sub-)block stores 16 bytes of nibbles: byte j holds weight j
 * in its low nibble and weight j + 16 in its high nibble.
 *
 * The encoders minimise sum_j w_j (x_j - y_j)^2 where w is the importance
 * matrix when one is given and 1 otherwise, i.e. exactly the error measured
 * on the output. Sums are kept in double so that huge inputs cannot overflow.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "codec.h"
#include "common.h"

enum {
    SUBBLOCK = 32,
    IQ4_NL_BLOCK_BYTES = 2 + SUBBLOCK / 2,
    IQ4_XS_BLOCK = 256,
    IQ4_XS_SUBBLOCKS = IQ4_XS_BLOCK / SUBBLOCK,
    IQ4_XS_BLOCK_BYTES = 2 + 2 + IQ4_XS_SUBBLOCKS / 2 + IQ4_XS_BLOCK / 2,
    MXFP4_BLOCK_BYTES = 1 + SUBBLOCK / 2,
};

/* Format tables (facts of the formats). */
static const int8_t iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};
/* E2M1 values times two, so that they are integers; index 8 is -0. */
static const int8_t mxfp4_values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                        0, -1, -2, -3, -4, -6, -8, -12};

/* Largest finite fp16 value: scales are clamped to it. */
#define HALF_MAX 65504.0f
/* Below this a block is treated as all zeros (its scale would underflow). */
#define BLOCK_ZERO_EPS 1e-15f

/* Weights of n columns from col: the importance matrix, or 1 without one or
 * where it gives the whole block zero weight (any coding would then do, and
 * the plain error is the sensible tie-break). */
static void block_weights(const float *imatrix, int64_t col, int n, float *w) {
    float total = 0;
    for (int j = 0; j < n && imatrix; j++)
        total += imatrix[col + j];
    for (int j = 0; j < n; j++)
        w[j] = total > 0 ? imatrix[col + j] : 1.0f;
}

static void unpack_nibbles(const uint8_t *qs, uint8_t *idx) {
    for (int j = 0; j < SUBBLOCK / 2; j++) {
        idx[j] = qs[j] & 0x0f;
        idx[j + SUBBLOCK / 2] = qs[j] >> 4;
    }
}

static void pack_nibbles(const uint8_t *idx, uint8_t *qs) {
    for (int j = 0; j < SUBBLOCK / 2; j++)
        qs[j] = (uint8_t)(idx[j] | (idx[j + SUBBLOCK / 2] << 4));
}

/* ------------------------------------------------------------------------ */
/* iq4nl value search                                                        */
/* ------------------------------------------------------------------------ */

/* Index of the table value nearest to v (v in table units). */
static int iq4nl_nearest(float v) {
    int lo = 0, hi = 15;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        /* midpoints of integer neighbours are exact in float */
        if (v > 0.5f * (float)(iq4nl_values[mid] + iq4nl_values[mid + 1]))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Weighted error of a sub-block decoded with scale d, each weight taking its
 * nearest value (optimal for that d); the indices go to idx if not NULL. */
static double iq4nl_error_at_scale(const float *x, const float *w, float d,
                                   uint8_t *idx) {
    double err = 0;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < SUBBLOCK; j++) {
        int l = iq4nl_nearest(id * x[j]);
        if (idx)
            idx[j] = (uint8_t)l;
        double e = (double)x[j] - (double)d * iq4nl_values[l];
        err += (double)w[j] * e * e;
    }
    return err;
}

/* Least-squares fit of a scale to fixed indices: the best scale is
 * sum(w x q) / sum(w q^2), which lowers the error by sum(w x q)^2 / sum(w q^2). */
typedef struct {
    double sumqx, sumq2;
} ls_fit;

static ls_fit iq4nl_fit_indices(const float *x, const float *w, float inv_scale) {
    ls_fit f = {0, 0};
    for (int j = 0; j < SUBBLOCK; j++) {
        double q = iq4nl_values[iq4nl_nearest(inv_scale * x[j])];
        f.sumqx += (double)w[j] * q * x[j];
        f.sumq2 += (double)w[j] * q * q;
    }
    return f;
}

static bool fit_is_better(ls_fit f, ls_fit best) {
    if (f.sumq2 <= 0)
        return false;
    if (best.sumq2 <= 0)
        return true;
    return f.sumqx * f.sumqx * best.sumq2 > best.sumqx * best.sumqx * f.sumq2;
}

/* Alternate nearest-index assignment and refitting of the scale: each step
 * can only lower the error. */
static ls_fit refine_fit(const float *x, const float *w, ls_fit f) {
    for (int iter = 0; iter < 8 && f.sumqx != 0; iter++) {
        ls_fit g = iq4nl_fit_indices(x, w, (float)(f.sumq2 / f.sumqx));
        if (!fit_is_better(g, f))
            break;
        f = g;
    }
    return f;
}

/* The largest weight of a sub-block is mapped onto magnitudes from
 * TARGET_MIN to TARGET_MAX table units in steps of TARGET_STEP, with either
 * sign (the table is not symmetric); the best FITS_REFINED least-squares fits
 * are then refined, which recovers what the coarse steps miss. */
#define TARGET_MIN 80
#define TARGET_MAX 160
#define TARGET_STEP 4
#define FITS_REFINED 3

/* Keep fits[0..FITS_REFINED) sorted best first. */
static void insert_fit(ls_fit *fits, ls_fit f) {
    for (int i = 0; i < FITS_REFINED; i++) {
        if (fit_is_better(f, fits[i])) {
            ls_fit displaced = fits[i];
            fits[i] = f;
            f = displaced;
        }
    }
}

/* The best (unconstrained) scale of a 32-weight sub-block, 0 for a
 * negligible block. */
static float iq4nl_best_scale(const float *x, const float *w) {
    float amax = 0;
    for (int j = 0; j < SUBBLOCK; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    if (amax < BLOCK_ZERO_EPS)
        return 0.0f;
    ls_fit fits[FITS_REFINED] = {{0, 0}};
    for (int target = TARGET_MIN; target <= TARGET_MAX; target += TARGET_STEP) {
        for (int sign = -1; sign <= 1; sign += 2)
            insert_fit(fits, iq4nl_fit_indices(x, w, (float)(sign * target) / amax));
    }
    if (fits[0].sumq2 <= 0) /* every weight of the block is zero */
        return amax / (float)-iq4nl_values[0];
    ls_fit best = fits[0];
    for (int i = 0; i < FITS_REFINED && fits[i].sumq2 > 0; i++) {
        ls_fit f = refine_fit(x, w, fits[i]);
        if (fit_is_better(f, best))
            best = f;
    }
    return (float)(best.sumqx / best.sumq2);
}

static float clamp_to_half(float d) {
    return fminf(fmaxf(d, -HALF_MAX), HALF_MAX);
}

/* ------------------------------------------------------------------------ */
/* iq4_nl                                                                    */
/* ------------------------------------------------------------------------ */

static void iq4_nl_dequantize(const void *src, float *dst, int64_t ncols) {
    const uint8_t *block = src;
    uint8_t idx[SUBBLOCK];
    for (int64_t b = 0; b < ncols / SUBBLOCK; b++, block += IQ4_NL_BLOCK_BYTES) {
        float d = lq_half_to_float(lq_load_u16(block));
        unpack_nibbles(block + 2, idx);
        for (int j = 0; j < SUBBLOCK; j++)
            dst[b * SUBBLOCK + j] = d * iq4nl_values[idx[j]];
    }
}

static int iq4_nl_quantize(const float *src, void *dst, int64_t ncols,
                           const float *imatrix) {
    uint8_t *block = dst;
    float w[SUBBLOCK];
    uint8_t idx[SUBBLOCK];
    for (int64_t b = 0; b < ncols / SUBBLOCK; b++, block += IQ4_NL_BLOCK_BYTES) {
        const float *x = src + b * SUBBLOCK;
        block_weights(imatrix, b * SUBBLOCK, SUBBLOCK, w);
        uint16_t dh = lq_float_to_half(clamp_to_half(iq4nl_best_scale(x, w)));
        /* indices are chosen for the scale actually stored */
        iq4nl_error_at_scale(x, w, lq_half_to_float(dh), idx);
        lq_store_u16(block, dh);
        pack_nibbles(idx, block + 2);
    }
    return LQ_OK;
}

/* ------------------------------------------------------------------------ */
/* iq4_xs                                                                    */
/* ------------------------------------------------------------------------ */

/* Block layout: fp16 d, u16 scales_h (2 high bits per sub-block), 4 bytes
 * scales_l (low nibbles, sub-block 2i in the low half of byte i), then 128
 * bytes of nibbles. Sub-block scale = d * (ls - 32), ls the 6-bit value. */
static int iq4_xs_subscale(const uint8_t *block, int ib) {
    int low = (block[4 + ib / 2] >> (4 * (ib % 2))) & 0x0f;
    int high = (lq_load_u16(block + 2) >> (2 * ib)) & 3;
    return (low | (high << 4)) - 32;
}

static void iq4_xs_dequantize(const void *src, float *dst, int64_t ncols) {
    const uint8_t *block = src;
    uint8_t idx[SUBBLOCK];
    for (int64_t b = 0; b < ncols / IQ4_XS_BLOCK; b++, block += IQ4_XS_BLOCK_BYTES) {
        float d = lq_half_to_float(lq_load_u16(block));
        for (int ib = 0; ib < IQ4_XS_SUBBLOCKS; ib++) {
            float dl = d * (float)iq4_xs_subscale(block, ib);
            unpack_nibbles(block + 8 + ib * SUBBLOCK / 2, idx);
            float *y = dst + b * IQ4_XS_BLOCK + ib * SUBBLOCK;
            for (int j = 0; j < SUBBLOCK; j++)
                y[j] = dl * iq4nl_values[idx[j]];
        }
    }
}

/* Best 6-bit multiplier of super-scale d for one sub-block and its error:
 * the neighbours of the rounded ratio are tried since the nearest multiple
 * of the scale is not always the best one once indices are re-chosen. */
static double iq4_xs_best_multiplier(const float *x, const float *w, float d,
                                     float scale, int *best_l) {
    double best_err = 0;
    for (int j = 0; j < SUBBLOCK; j++)
        best_err += (double)w[j] * x[j] * x[j];
    *best_l = 0;
    if (d == 0.0f)
        return best_err;
    float ratio = fminf(fmaxf(scale / d, -40.0f), 40.0f);
    int l0 = lq_nearest_int(ratio);
    for (int l = l0 - 1; l <= l0 + 1; l++) {
        if (l < -32 || l > 31 || l == 0)
            continue;
        double err = iq4nl_error_at_scale(x, w, d * (float)l, NULL);
        if (err < best_err) {
            best_err = err;
            *best_l = l;
        }
    }
    return best_err;
}

/* Total error of a super-block for super-scale d (rounded to fp16 first);
 * the chosen multipliers go to l. */
static double iq4_xs_error_at_superscale(const float *x, const float *w,
                                         const float *scales, float d, int *l) {
    double err = 0;
    for (int ib = 0; ib < IQ4_XS_SUBBLOCKS; ib++)
        err += iq4_xs_best_multiplier(x + ib * SUBBLOCK, w + ib * SUBBLOCK, d,
                                      scales[ib], &l[ib]);
    return err;
}

/* Super-scales tried: the largest sub-scale divided by each of these
 * multipliers (in half steps), with either sign since the multiplier
 * range [-32, 31] is asymmetric. */
#define SUPERSCALE_MIN_DIV 24
#define SUPERSCALE_MAX_DIV 32

static void iq4_xs_quantize_block(const float *x, const float *w, uint8_t *block) {
    float scales[IQ4_XS_SUBBLOCKS];
    float max_scale = 0;
    for (int ib = 0; ib < IQ4_XS_SUBBLOCKS; ib++) {
        scales[ib] = iq4nl_best_scale(x + ib * SUBBLOCK, w + ib * SUBBLOCK);
        if (fabsf(scales[ib]) > fabsf(max_scale))
            max_scale = scales[ib];
    }
    int l[IQ4_XS_SUBBLOCKS], best_l[IQ4_XS_SUBBLOCKS] = {0};
    uint16_t best_dh = 0;
    double best_err = INFINITY;
    for (int div2 = 2 * SUPERSCALE_MIN_DIV; div2 <= 2 * SUPERSCALE_MAX_DIV && max_scale != 0.0f;
         div2++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            float d = clamp_to_half((float)sign * max_scale * 2.0f / (float)div2);
            uint16_t dh = lq_float_to_half(d);
            double err = iq4_xs_error_at_superscale(x, w, scales, lq_half_to_float(dh), l);
            if (err < best_err) {
                best_err = err;
                best_dh = dh;
                memcpy(best_l, l, sizeof l);
            }
        }
    }
    float d = lq_half_to_float(best_dh);
    uint16_t scales_h = 0;
    memset(block + 4, 0, IQ4_XS_SUBBLOCKS / 2);
    uint8_t idx[SUBBLOCK];
    for (int ib = 0; ib < IQ4_XS_SUBBLOCKS; ib++) {
        int ls = best_l[ib] + 32;
        block[4 + ib / 2] |= (uint8_t)((ls & 0x0f) << (4 * (ib % 2)));
        scales_h |= (uint16_t)((ls >> 4) << (2 * ib));
        iq4nl_error_at_scale(x + ib * SUBBLOCK, w + ib * SUBBLOCK, d * (float)best_l[ib], idx);
        pack_nibbles(idx, block + 8 + ib * SUBBLOCK / 2);
    }
    lq_store_u16(block, best_dh);
    lq_store_u16(block + 2, scales_h);
}

static int iq4_xs_quantize(const float *src, void *dst, int64_t ncols,
                           const float *imatrix) {
    uint8_t *block = dst;
    float w[IQ4_XS_BLOCK];
    for (int64_t b = 0; b < ncols / IQ4_XS_BLOCK; b++, block += IQ4_XS_BLOCK_BYTES) {
        block_weights(imatrix, b * IQ4_XS_BLOCK, IQ4_XS_BLOCK, w);
        iq4_xs_quantize_block(src + b * IQ4_XS_BLOCK, w, block);
    }
    return LQ_OK;
}

/* ------------------------------------------------------------------------ */
/* mxfp4                                                                     */
/* ------------------------------------------------------------------------ */

/* E8M0 byte e -> half the scale 2^(e-127) (the table holds doubled values):
 * 2^(e-128), a subnormal float for e < 2. */
static float mxfp4_half_scale(uint8_t e) {
    return ldexpf(1.0f, (int)e - 128);
}

/* Largest exponent byte whose scale keeps 12 * 2^(e-128) finite. */
#define MXFP4_MAX_EXPONENT 252
/* Exponents below the smallest one that covers the block without clipping
 * that are still tried (they trade clipping for resolution). */
#define MXFP4_EXTRA_EXPONENTS 3

static void mxfp4_dequantize(const void *src, float *dst, int64_t ncols) {
    const uint8_t *block = src;
    uint8_t idx[SUBBLOCK];
    for (int64_t b = 0; b < ncols / SUBBLOCK; b++, block += MXFP4_BLOCK_BYTES) {
        float d = mxfp4_half_scale(block[0]);
        unpack_nibbles(block + 1, idx);
        for (int j = 0; j < SUBBLOCK; j++)
            dst[b * SUBBLOCK + j] = d * mxfp4_values[idx[j]];
    }
}

/* Index of the non-negative E2M1 magnitude (doubled) nearest to v >= 0. */
static int mxfp4_nearest_magnitude(float v) {
    int lo = 0, hi = 7;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v > 0.5f * (float)(mxfp4_values[mid] + mxfp4_values[mid + 1]))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double mxfp4_error_at_exponent(const float *x, const float *w, int e,
                                      uint8_t *idx) {
    float d = mxfp4_half_scale((uint8_t)e);
    double err = 0;
    for (int j = 0; j < SUBBLOCK; j++) {
        /* x/d rather than x*(1/d): 1/d overflows for the smallest exponents */
        int m = mxfp4_nearest_magnitude(fabsf(x[j]) / d);
        if (idx)
            idx[j] = (uint8_t)(x[j] < 0 && m ? m + 8 : m);
        double e_j = fabs((double)x[j]) - (double)d * mxfp4_values[m];
        err += (double)w[j] * e_j * e_j;
    }
    return err;
}

static void mxfp4_quantize_block(const float *x, const float *w, uint8_t *block) {
    float amax = 0;
    for (int j = 0; j < SUBBLOCK; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    /* smallest exponent with 12 * 2^(e-128) >= amax, i.e. no clipping */
    int e_cover = 0;
    if (amax > 0) {
        int exp2;
        frexpf(amax / 12.0f, &exp2); /* amax/12 in [2^(exp2-1), 2^exp2) */
        e_cover = exp2 + 128;
        if (ldexpf(1.0f, exp2 - 1) == amax / 12.0f)
            e_cover--;
    }
    int e_hi = e_cover < 0 ? 0 : e_cover > MXFP4_MAX_EXPONENT ? MXFP4_MAX_EXPONENT : e_cover;
    int best_e = e_hi;
    double best_err = INFINITY;
    for (int e = e_hi; e >= 0 && e >= e_hi - MXFP4_EXTRA_EXPONENTS; e--) {
        double err = mxfp4_error_at_exponent(x, w, e, NULL);
        if (err < best_err) {
            best_err = err;
            best_e = e;
        }
    }
    uint8_t idx[SUBBLOCK];
    mxfp4_error_at_exponent(x, w, best_e, idx);
    block[0] = (uint8_t)best_e;
    pack_nibbles(idx, block + 1);
}

static int mxfp4_quantize(const float *src, void *dst, int64_t ncols,
                          const float *imatrix) {
    uint8_t *block = dst;
    float w[SUBBLOCK];
    for (int64_t b = 0; b < ncols / SUBBLOCK; b++, block += MXFP4_BLOCK_BYTES) {
        block_weights(imatrix, b * SUBBLOCK, SUBBLOCK, w);
        mxfp4_quantize_block(src + b * SUBBLOCK, w, block);
    }
    return LQ_OK;
}

static const lq_codec nonlinear_codecs[] = {
    {LQ_TYPE_IQ4_NL, iq4_nl_quantize, iq4_nl_dequantize, NULL, NULL},
    {LQ_TYPE_IQ4_XS, iq4_xs_quantize, iq4_xs_dequantize, NULL, NULL},
    {LQ_TYPE_MXFP4, mxfp4_quantize, mxfp4_dequantize, NULL, NULL},
};

const lq_codec_family lq_family_nonlinear = {
    "nonlinear", nonlinear_codecs, sizeof nonlinear_codecs / sizeof nonlinear_codecs[0]};
