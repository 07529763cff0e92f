/*
 * Activation formats: one float vector quantized once, then reused by every
 * weight row it is multiplied with.
 *
 * LQ_ACT_Q8_32: one scale per 32 values, d = max|x| / 127, and x / d rounded
 * to the nearest integer (ties to even), so |x - d q| <= d / 2; the half
 * sums are exact sums of the stored integers. (One scale per 256 values, as
 * the reference's Q8_K, was measured 2.5x less accurate on the conformance
 * vectors: kernels/README.md.)
 */
#include <math.h>
#include <string.h>

#include "common.h"
#include "kernels.h"

int64_t lq_act_row_bytes(lq_act_format fmt, int64_t ncols) {
    if (fmt == LQ_ACT_Q8_32)
        return ncols / LQ_ACT_Q8_32_BLOCK * (int64_t)sizeof(lq_act_q8_32);
    return ncols * (int64_t)sizeof(float);
}

static void quantize_q8_32(const float *x, int64_t ncols, lq_act_q8_32 *out) {
    for (int64_t b = 0; b < ncols / LQ_ACT_Q8_32_BLOCK; b++, x += LQ_ACT_Q8_32_BLOCK) {
        lq_act_q8_32 *a = &out[b];
        float amax = 0.0f;
        for (int i = 0; i < LQ_ACT_Q8_32_BLOCK; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        a->d = amax / 127.0f;
        for (int h = 0; h < 2; h++) {
            int sum = 0;
            for (int i = 16 * h; i < 16 * h + 16; i++) {
                /* a division, not a multiplication by 1/d: 1/d overflows
                 * when amax is subnormal */
                int q = a->d > 0.0f ? lq_nearest_int(x[i] / a->d) : 0;
                /* x / d may pass 127 by an ulp (d is rounded) */
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                a->qs[i] = (int8_t)q;
                sum += q;
            }
            a->half_sums[h] = (int16_t)sum;
        }
    }
}

void lq_act_quantize_row(lq_act_format fmt, const float *x, int64_t ncols,
                         void *act, lq_simd_level level) {
    if (fmt == LQ_ACT_Q8_32 && level >= LQ_SIMD_AVX2)
        lq_act_quantize_q8_32_avx2(x, ncols, act);
    else if (fmt == LQ_ACT_Q8_32)
        quantize_q8_32(x, ncols, act);
    else
        memcpy(act, x, (size_t)ncols * sizeof(float));
}
