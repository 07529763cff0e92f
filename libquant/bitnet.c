/*
 * Bitnet ternary codecs: every weight is -1, 0 or +1 times one scale per row,
 * stored before the first block (iq1_bn: fp16, iq2_bn: f32).
 *   iq1_bn: 64-weight blocks of 13 bytes. Each group of 16 weights stores
 *           weights 0-14 as three base-3 bytes of five trits and its 16th
 *           weight as one trit of the block's 13th byte.
 *   iq2_bn: 64-weight blocks of 16 bytes, 2 bits per weight (trit + 1):
 *           byte j holds weights j, j+16, j+32, j+48 from the low bits up.
 *
 * The encoder picks the scale and the ternary values that minimise
 * sum_j w_j (x_j - y_j)^2 exactly (w = importance, or 1 without one).
 *
 * Code ranges the readers assume: iq2_bn's 2-bit fields hold 0, 1 or 2
 * (3 would decode as +2, which no encoder writes); iq1_bn's bytes are only
 * those of the packing above (ceil(256 v / 243) for v < 3^5, or < 3^4 for
 * the 13th byte). The row scale is finite.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "codec.h"
#include "common.h"

enum {
    BN_BLOCK = 64,
    IQ1_BN_BLOCK_BYTES = 13,
    IQ2_BN_BLOCK_BYTES = 16,
    IQ1_BN_GROUP = 16,     /* weights per group: 3 bytes of 5 trits + 1 */
    TRITS_PER_BYTE = 5,
};

/* Largest finite fp16 value: the iq1_bn row scale is clamped to it. */
#define HALF_MAX 65504.0f

/* ------------------------------------------------------------------------ */
/* Choosing the row scale                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    float magnitude;
    float weight;
} weighted_magnitude;

static int by_decreasing_magnitude(const void *a, const void *b) {
    float ma = ((const weighted_magnitude *)a)->magnitude;
    float mb = ((const weighted_magnitude *)b)->magnitude;
    return (ma < mb) - (ma > mb);
}

/* For a given scale d a weight is best coded as sign(x)*d when |x| > d/2 and
 * as 0 otherwise, whatever its importance; so the optimal non-zero set is the
 * k largest magnitudes for some k, and for that set the optimal scale is
 * sum(w|x|)/sum(w), lowering the error by sum(w|x|)^2/sum(w). Trying every k
 * on the sorted magnitudes gives the exact optimum. Returns 0 for a row with
 * nothing to code. */
static int best_ternary_scale(const float *x, const float *imatrix, int64_t n,
                              float *scale) {
    weighted_magnitude *m = malloc((size_t)n * sizeof *m);
    if (!m)
        return LQ_ERR_NO_MEMORY;
    double total_weight = 0;
    for (int64_t j = 0; j < n && imatrix; j++)
        total_weight += imatrix[j];
    /* a row of zero importance is coded for the plain error */
    bool weighted = total_weight > 0;
    for (int64_t j = 0; j < n; j++) {
        m[j].magnitude = fabsf(x[j]);
        m[j].weight = weighted ? imatrix[j] : 1.0f;
    }
    qsort(m, (size_t)n, sizeof *m, by_decreasing_magnitude);
    double sum_wx = 0, sum_w = 0, best_gain = 0;
    *scale = 0.0f;
    for (int64_t k = 0; k < n && m[k].magnitude > 0; k++) {
        sum_wx += (double)m[k].weight * m[k].magnitude;
        sum_w += m[k].weight;
        if (sum_w > 0 && sum_wx * sum_wx > best_gain * sum_w) {
            best_gain = sum_wx * sum_wx / sum_w;
            *scale = (float)(sum_wx / sum_w);
        }
    }
    free(m);
    return LQ_OK;
}

/* The trit (+1 stored, so 0, 1 or 2) of x for the stored scale d. */
static int ternary_code(float x, float d) {
    if (!(d > 0) || !(fabsf(x) > 0.5f * d))
        return 1;
    return x < 0 ? 0 : 2;
}

/* ------------------------------------------------------------------------ */
/* iq1_bn                                                                    */
/* ------------------------------------------------------------------------ */

/* Five trits t_0..t_4 pack as ceil(256 * sum(t_i 3^i) / 243): multiplying the
 * byte by 3^(4-i) modulo 256 brings trit i to the top, where 3*v/2 >> 7 reads
 * it. The same holds for the 13th byte with four trits. */
static const uint8_t trit_multiplier[TRITS_PER_BYTE] = {81, 27, 9, 3, 1};

static int unpack_trit(uint8_t byte, int i) {
    uint8_t v = (uint8_t)(byte * trit_multiplier[i]);
    return ((v + (v >> 1)) >> 7) - 1;
}

static uint8_t pack_trits(const int *codes, int count) {
    int value = 0, power = 1;
    for (int i = 0; i < count; i++, power *= 3)
        value += codes[i] * power;
    return (uint8_t)((256 * value + 242) / 243);
}

static void iq1_bn_dequantize(const void *src, float *dst, int64_t ncols) {
    float d = lq_half_to_float(lq_load_u16(src));
    const uint8_t *block = (const uint8_t *)src + 2;
    for (int64_t b = 0; b < ncols / BN_BLOCK; b++, block += IQ1_BN_BLOCK_BYTES) {
        float *y = dst + b * BN_BLOCK;
        for (int g = 0; g < BN_BLOCK / IQ1_BN_GROUP; g++, y += IQ1_BN_GROUP) {
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < TRITS_PER_BYTE; i++)
                    y[TRITS_PER_BYTE * k + i] = d * (float)unpack_trit(block[3 * g + k], i);
            y[IQ1_BN_GROUP - 1] = d * (float)unpack_trit(block[12], g);
        }
    }
}

static int iq1_bn_quantize(const float *src, void *dst, int64_t ncols,
                           const float *imatrix) {
    float scale;
    int st = best_ternary_scale(src, imatrix, ncols, &scale);
    if (st != LQ_OK)
        return st;
    uint16_t dh = lq_float_to_half(fminf(scale, HALF_MAX));
    float d = lq_half_to_float(dh);
    lq_store_u16(dst, dh);
    uint8_t *block = (uint8_t *)dst + 2;
    for (int64_t b = 0; b < ncols / BN_BLOCK; b++, block += IQ1_BN_BLOCK_BYTES) {
        const float *x = src + b * BN_BLOCK;
        int last[BN_BLOCK / IQ1_BN_GROUP];
        for (int g = 0; g < BN_BLOCK / IQ1_BN_GROUP; g++, x += IQ1_BN_GROUP) {
            for (int k = 0; k < 3; k++) {
                int codes[TRITS_PER_BYTE];
                for (int i = 0; i < TRITS_PER_BYTE; i++)
                    codes[i] = ternary_code(x[TRITS_PER_BYTE * k + i], d);
                block[3 * g + k] = pack_trits(codes, TRITS_PER_BYTE);
            }
            last[g] = ternary_code(x[IQ1_BN_GROUP - 1], d);
        }
        block[12] = pack_trits(last, BN_BLOCK / IQ1_BN_GROUP);
    }
    return LQ_OK;
}

/* ------------------------------------------------------------------------ */
/* iq2_bn                                                                    */
/* ------------------------------------------------------------------------ */

static void iq2_bn_dequantize(const void *src, float *dst, int64_t ncols) {
    float d = lq_load_f32(src);
    const uint8_t *block = (const uint8_t *)src + 4;
    for (int64_t b = 0; b < ncols / BN_BLOCK; b++, block += IQ2_BN_BLOCK_BYTES)
        for (int j = 0; j < IQ2_BN_BLOCK_BYTES; j++)
            for (int s = 0; s < 4; s++)
                dst[b * BN_BLOCK + j + IQ2_BN_BLOCK_BYTES * s] =
                    d * (float)(((block[j] >> (2 * s)) & 3) - 1);
}

static int iq2_bn_quantize(const float *src, void *dst, int64_t ncols,
                           const float *imatrix) {
    float d;
    int st = best_ternary_scale(src, imatrix, ncols, &d);
    if (st != LQ_OK)
        return st;
    lq_store_f32(dst, d);
    uint8_t *block = (uint8_t *)dst + 4;
    for (int64_t b = 0; b < ncols / BN_BLOCK; b++, block += IQ2_BN_BLOCK_BYTES) {
        const float *x = src + b * BN_BLOCK;
        for (int j = 0; j < IQ2_BN_BLOCK_BYTES; j++) {
            uint8_t byte = 0;
            for (int s = 0; s < 4; s++)
                byte |= (uint8_t)(ternary_code(x[j + IQ2_BN_BLOCK_BYTES * s], d) << (2 * s));
            block[j] = byte;
        }
    }
    return LQ_OK;
}

static const lq_codec bitnet_codecs[] = {
    {LQ_TYPE_IQ1_BN, iq1_bn_quantize, iq1_bn_dequantize, NULL, NULL},
    {LQ_TYPE_IQ2_BN, iq2_bn_quantize, iq2_bn_dequantize, NULL, NULL},
};

const lq_codec_family lq_family_bitnet = {
    "bitnet", bitnet_codecs, sizeof bitnet_codecs / sizeof bitnet_codecs[0]};
