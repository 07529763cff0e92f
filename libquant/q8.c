/*
 * q8_KV: one f32 scale and the int32 sum of the row's quants (8 bytes of row
 * data), then one int8 per weight; a weight is scale * q. The sum lets the
 * matrix product with another q8_KV row correct for offsets.
 *
 * The encoder tries a range of scales around max|x|/127 and keeps the one
 * with the smallest sum_j w_j (x_j - d q_j)^2 (w = importance, or 1), then
 * refits the scale to the chosen quants by least squares.
 *
 * Code range: [-127, 127], and the stored sum is exact (the reference's
 * kernels rely on both).
 */
#include <math.h>
#include <string.h>

#include "codec.h"
#include "common.h"

enum { Q8_KV_META_BYTES = 8 };

/* Quants stay in [-127, 127]: a symmetric range keeps sign tricks in
 * 8-bit dot-product kernels valid. */
#define Q8_MAX 127
/* Scales tried: max|x| / (Q8_MAX - k * SCALE_STEP) for k in [0, SCALE_TRIES). */
#define SCALE_TRIES 16
#define SCALE_STEP 0.25f

static void q8_kv_dequantize(const void *src, float *dst, int64_t ncols) {
    float d = lq_load_f32(src);
    const int8_t *q = (const int8_t *)((const uint8_t *)src + Q8_KV_META_BYTES);
    for (int64_t j = 0; j < ncols; j++)
        dst[j] = d * (float)q[j];
}

static int q8_quant(float x, float d) {
    /* clamp before rounding: x / d may be huge for a tiny scale */
    return lq_nearest_int(fminf(fmaxf(x / d, -(float)Q8_MAX), (float)Q8_MAX));
}

/* Weighted error of the row coded with scale d > 0. */
static double q8_error(const float *x, const float *imatrix, int64_t n, float d) {
    double err = 0;
    for (int64_t j = 0; j < n; j++) {
        double e = (double)x[j] - (double)d * q8_quant(x[j], d);
        err += (imatrix ? imatrix[j] : 1.0) * e * e;
    }
    return err;
}

/* Least-squares scale for the quants that scale d gives (d if degenerate). */
static float q8_refit(const float *x, const float *imatrix, int64_t n, float d) {
    double sumqx = 0, sumq2 = 0;
    for (int64_t j = 0; j < n; j++) {
        double w = imatrix ? imatrix[j] : 1.0;
        int q = q8_quant(x[j], d);
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
    }
    float refit = sumq2 > 0 ? (float)(sumqx / sumq2) : d;
    return refit > 0 && isfinite(refit) ? refit : d;
}

static int q8_kv_quantize(const float *src, void *dst, int64_t ncols,
                          const float *imatrix) {
    float amax = 0;
    double total_weight = 0;
    for (int64_t j = 0; j < ncols; j++) {
        amax = fmaxf(amax, fabsf(src[j]));
        total_weight += imatrix ? imatrix[j] : 0.0f;
    }
    if (total_weight <= 0) /* no importance, or none anywhere: plain error */
        imatrix = NULL;
    int8_t *q = (int8_t *)((uint8_t *)dst + Q8_KV_META_BYTES);
    float d = amax / Q8_MAX;
    if (d == 0.0f) { /* zero row, or one too small for a non-zero scale */
        memset(dst, 0, Q8_KV_META_BYTES);
        memset(q, 0, (size_t)ncols);
        return LQ_OK;
    }
    double best_err = q8_error(src, imatrix, ncols, d);
    for (int k = 1; k < SCALE_TRIES; k++) {
        float candidate = amax / ((float)Q8_MAX - SCALE_STEP * (float)k);
        double err = q8_error(src, imatrix, ncols, candidate);
        if (err < best_err) {
            best_err = err;
            d = candidate;
        }
    }
    float refit = q8_refit(src, imatrix, ncols, d);
    if (q8_error(src, imatrix, ncols, refit) < best_err)
        d = refit;
    int32_t sum = 0;
    for (int64_t j = 0; j < ncols; j++) {
        q[j] = (int8_t)q8_quant(src[j], d);
        sum += q[j];
    }
    lq_store_f32(dst, d);
    memcpy((uint8_t *)dst + 4, &sum, sizeof sum);
    return LQ_OK;
}

static const lq_codec q8_codecs[] = {
    {LQ_TYPE_Q8_KV, q8_kv_quantize, q8_kv_dequantize, NULL, NULL},
};

const lq_codec_family lq_family_q8 = {"q8", q8_codecs, sizeof q8_codecs / sizeof q8_codecs[0]};
