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
 * on the output. iq4_nl and iq4_xs search in single precision on blocks
 * scaled by an exact power of two (see scale_search.h), so that huge inputs
 * cannot overflow; mxfp4 keeps its sums in double.
 *
 * Code ranges the readers assume: every 4-bit index and iq4_xs scale code is
 * valid; mxfp4's E8M0 exponent stays at or below 252, the largest the
 * reference's encoder writes (a finite scale for any finite block).
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "scale_search.h"

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

/* The searches below run on normalised blocks (x * 2^-e, exact, so |x| < 1;
 * weights at most 1; see scale_search.h), in single precision: no sum can
 * overflow and only the order of candidates matters. */

/* Nearest value by table: v (in table units) is clamped to [-128, 127.5],
 * where the nearest index is the same as beyond; the unit cell of floor(v)
 * holds at most one midpoint between neighbouring values (they are 11 or
 * more apart), so the cell's first index, plus one if v lies above the next
 * midpoint, is the answer. A value exactly on a midpoint takes the lower
 * index, as the binary search of the specification did. */
#define LUT_OFFSET 128
#define LUT_CELLS 256

typedef struct iq4nl_lookup {
    uint8_t first[LUT_CELLS]; /* nearest index of the cell's left edge */
    float upper_mid[16];      /* midpoint above each index (+inf for 15) */
    float value[16];          /* iq4nl_values as floats */
} iq4nl_lookup;

static iq4nl_lookup iq4nl_lut;
static pthread_once_t iq4nl_lut_once = PTHREAD_ONCE_INIT;

static void build_iq4nl_lookup(void) {
    for (int i = 0; i < 15; i++)
        iq4nl_lut.upper_mid[i] = 0.5f * (float)(iq4nl_values[i] + iq4nl_values[i + 1]);
    iq4nl_lut.upper_mid[15] = INFINITY;
    for (int i = 0; i < 16; i++)
        iq4nl_lut.value[i] = (float)iq4nl_values[i];
    for (int c = 0; c < LUT_CELLS; c++) {
        float v = (float)(c - LUT_OFFSET);
        int idx = 0;
        while (v > iq4nl_lut.upper_mid[idx])
            idx++;
        iq4nl_lut.first[c] = (uint8_t)idx;
    }
}

static const iq4nl_lookup *iq4nl_lookup_table(void) {
    pthread_once(&iq4nl_lut_once, build_iq4nl_lookup);
    return &iq4nl_lut;
}

/* The nearest table values (as floats) of inv_scale * x; indices to idx if
 * not NULL. The clamping is a separate loop so that it vectorizes and the
 * table loop has no branches. */
static void iq4nl_round(const iq4nl_lookup *lut, const float *x, float inv_scale,
                        float *q, uint8_t *idx) {
    float v[SUBBLOCK];
    for (int j = 0; j < SUBBLOCK; j++) {
        float t = inv_scale * x[j];
        t = t > -128.0f ? t : -128.0f;
        v[j] = t < 127.5f ? t : 127.5f;
    }
    for (int j = 0; j < SUBBLOCK; j++) {
        int l = lut->first[(int)(v[j] + (float)LUT_OFFSET)];
        l += v[j] > lut->upper_mid[l];
        q[j] = lut->value[l];
        if (idx)
            idx[j] = (uint8_t)l;
    }
}

static inline float lane_sum8(const float *a) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* Weighted error of a sub-block decoded with scale d, each weight taking its
 * nearest value (optimal for that d); the indices go to idx if not NULL. */
static float iq4nl_error_at_scale(const iq4nl_lookup *lut, const float *x,
                                  const float *w, float d, uint8_t *idx) {
    float q[SUBBLOCK];
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    iq4nl_round(lut, x, id, q, idx);
    float err[8] = {0};
    for (int j = 0; j < SUBBLOCK; j += 8)
        for (int k = 0; k < 8; k++) {
            float e = x[j + k] - d * q[j + k];
            err[k] += w[j + k] * e * e;
        }
    return lane_sum8(err);
}

/* Least-squares fit of a scale to fixed indices: the best scale is
 * sum(w x q) / sum(w q^2), which lowers the error by sum(w x q)^2 / sum(w q^2). */
typedef struct {
    float sumqx, sumq2;
} ls_fit;

static ls_fit iq4nl_fit_indices(const iq4nl_lookup *lut, const float *x,
                                const float *w, float inv_scale) {
    float q[SUBBLOCK];
    iq4nl_round(lut, x, inv_scale, q, NULL);
    float qx[8] = {0}, q2[8] = {0};
    for (int j = 0; j < SUBBLOCK; j += 8)
        for (int k = 0; k < 8; k++) {
            float wq = w[j + k] * q[j + k];
            qx[k] += wq * x[j + k];
            q2[k] += wq * q[j + k];
        }
    return (ls_fit){lane_sum8(qx), lane_sum8(q2)};
}

static bool fit_is_better(ls_fit f, ls_fit best) {
    if (f.sumq2 <= 0)
        return false;
    if (best.sumq2 <= 0)
        return true;
    return (double)f.sumqx * f.sumqx * best.sumq2 >
           (double)best.sumqx * best.sumqx * f.sumq2;
}

/* Alternate nearest-index assignment and refitting of the scale: each step
 * can only lower the error. */
static ls_fit refine_fit(const iq4nl_lookup *lut, const float *x, const float *w,
                         ls_fit f) {
    for (int iter = 0; iter < 8 && f.sumqx != 0; iter++) {
        ls_fit g = iq4nl_fit_indices(lut, x, w, f.sumq2 / f.sumqx);
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
#define TARGET_MIN 96
#define TARGET_MAX 152
#define TARGET_STEP 8
#define FITS_REFINED 2

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

/* The best (unconstrained) scale of a normalised 32-weight sub-block, 0 for
 * a negligible block. */
static float iq4nl_best_scale(const iq4nl_lookup *lut, const float *x,
                              const float *w) {
    float amax = 0;
    for (int j = 0; j < SUBBLOCK; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    if (amax < BLOCK_ZERO_EPS)
        return 0.0f;
    ls_fit fits[FITS_REFINED] = {{0, 0}};
    for (int target = TARGET_MIN; target <= TARGET_MAX; target += TARGET_STEP) {
        for (int sign = -1; sign <= 1; sign += 2)
            insert_fit(fits, iq4nl_fit_indices(lut, x, w, (float)(sign * target) / amax));
    }
    if (fits[0].sumq2 <= 0) /* every weight of the block is zero */
        return amax / (float)-iq4nl_values[0];
    ls_fit best = fits[0];
    for (int i = 0; i < FITS_REFINED && fits[i].sumq2 > 0; i++) {
        ls_fit f = refine_fit(lut, x, w, fits[i]);
        if (fit_is_better(f, best))
            best = f;
    }
    return best.sumqx / best.sumq2;
}

static float clamp_to_half(float d) {
    return fminf(fmaxf(d, -HALF_MAX), HALF_MAX);
}

/* A block scaled by 2^-exponent (exact) and its weights scaled to at most 1:
 * all the searches see. */
static void normalise(const float *x, const float *imatrix, int64_t col, int n,
                      float *xn, float *w, int *exponent) {
    *exponent = lq_block_exponent(n, x);
    lq_scale_by_pow2(n, x, *exponent, xn);
    block_weights(imatrix, col, n, w);
    lq_normalise_weights(n, w);
}

/* fp16 bits of a normalised scale, and the stored value normalised back. */
static uint16_t store_half(float d, int exponent, float *stored) {
    uint16_t dh = lq_float_to_half(clamp_to_half(ldexpf(d, exponent)));
    *stored = ldexpf(lq_half_to_float(dh), -exponent);
    return dh;
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
    const iq4nl_lookup *lut = iq4nl_lookup_table();
    uint8_t *block = dst;
    float x[SUBBLOCK], w[SUBBLOCK];
    uint8_t idx[SUBBLOCK];
    for (int64_t b = 0; b < ncols / SUBBLOCK; b++, block += IQ4_NL_BLOCK_BYTES) {
        int e;
        normalise(src + b * SUBBLOCK, imatrix, b * SUBBLOCK, SUBBLOCK, x, w, &e);
        float stored;
        uint16_t dh = store_half(iq4nl_best_scale(lut, x, w), e, &stored);
        /* indices are chosen for the scale actually stored */
        iq4nl_error_at_scale(lut, x, w, stored, idx);
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
 * the rounded ratio and its neighbour on the side of the fraction are
 * tried, since the nearest multiple of the scale is not always the best
 * one once indices are re-chosen. */
static float iq4_xs_best_multiplier(const iq4nl_lookup *lut, const float *x,
                                    const float *w, float d, float scale,
                                    int *best_l) {
    float err0[8] = {0};
    for (int j = 0; j < SUBBLOCK; j += 8)
        for (int k = 0; k < 8; k++)
            err0[k] += w[j + k] * x[j + k] * x[j + k];
    float best_err = lane_sum8(err0);
    *best_l = 0;
    if (d == 0.0f)
        return best_err;
    float ratio = fminf(fmaxf(scale / d, -40.0f), 40.0f);
    int l0 = lq_nearest_int(ratio);
    int other = (float)l0 < ratio ? l0 + 1 : l0 - 1;
    const int tries[2] = {l0, other};
    for (int t = 0; t < 2; t++) {
        int l = tries[t];
        if (l < -32 || l > 31 || l == 0)
            continue;
        float err = iq4nl_error_at_scale(lut, x, w, d * (float)l, NULL);
        if (err < best_err) {
            best_err = err;
            *best_l = l;
        }
    }
    return best_err;
}

/* Total error of a super-block for super-scale d; the chosen multipliers go
 * to l. */
static float iq4_xs_error_at_superscale(const iq4nl_lookup *lut, const float *x,
                                        const float *w, const float *scales,
                                        float d, int *l) {
    float err = 0;
    for (int ib = 0; ib < IQ4_XS_SUBBLOCKS; ib++)
        err += iq4_xs_best_multiplier(lut, x + ib * SUBBLOCK, w + ib * SUBBLOCK,
                                      d, scales[ib], &l[ib]);
    return err;
}

/* Super-scales tried: the largest sub-scale divided by each of these
 * multipliers, with either sign since the multiplier range [-32, 31] is
 * asymmetric. */
#define SUPERSCALE_MIN_DIV 28
#define SUPERSCALE_MAX_DIV 32

static void iq4_xs_quantize_block(const iq4nl_lookup *lut, const float *x,
                                  const float *w, int exponent, uint8_t *block) {
    float scales[IQ4_XS_SUBBLOCKS];
    float max_scale = 0;
    for (int ib = 0; ib < IQ4_XS_SUBBLOCKS; ib++) {
        scales[ib] = iq4nl_best_scale(lut, x + ib * SUBBLOCK, w + ib * SUBBLOCK);
        if (fabsf(scales[ib]) > fabsf(max_scale))
            max_scale = scales[ib];
    }
    int l[IQ4_XS_SUBBLOCKS], best_l[IQ4_XS_SUBBLOCKS] = {0};
    uint16_t best_dh = 0;
    float best_d = 0;
    float best_err = INFINITY;
    for (int div = SUPERSCALE_MIN_DIV; div <= SUPERSCALE_MAX_DIV && max_scale != 0.0f;
         div++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            float d;
            uint16_t dh = store_half((float)sign * max_scale / (float)div, exponent, &d);
            float err = iq4_xs_error_at_superscale(lut, x, w, scales, d, l);
            if (err < best_err) {
                best_err = err;
                best_dh = dh;
                best_d = d;
                memcpy(best_l, l, sizeof l);
            }
        }
    }
    uint16_t scales_h = 0;
    memset(block + 4, 0, IQ4_XS_SUBBLOCKS / 2);
    uint8_t idx[SUBBLOCK];
    for (int ib = 0; ib < IQ4_XS_SUBBLOCKS; ib++) {
        int ls = best_l[ib] + 32;
        block[4 + ib / 2] |= (uint8_t)((ls & 0x0f) << (4 * (ib % 2)));
        scales_h |= (uint16_t)((ls >> 4) << (2 * ib));
        iq4nl_error_at_scale(lut, x + ib * SUBBLOCK, w + ib * SUBBLOCK,
                             best_d * (float)best_l[ib], idx);
        pack_nibbles(idx, block + 8 + ib * SUBBLOCK / 2);
    }
    lq_store_u16(block, best_dh);
    lq_store_u16(block + 2, scales_h);
}

static int iq4_xs_quantize(const float *src, void *dst, int64_t ncols,
                           const float *imatrix) {
    const iq4nl_lookup *lut = iq4nl_lookup_table();
    uint8_t *block = dst;
    float x[IQ4_XS_BLOCK], w[IQ4_XS_BLOCK];
    for (int64_t b = 0; b < ncols / IQ4_XS_BLOCK; b++, block += IQ4_XS_BLOCK_BYTES) {
        int e;
        normalise(src + b * IQ4_XS_BLOCK, imatrix, b * IQ4_XS_BLOCK, IQ4_XS_BLOCK,
                  x, w, &e);
        iq4_xs_quantize_block(lut, x, w, e, block);
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
