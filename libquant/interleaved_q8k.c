/*
 * q8_k_r8 and q8_k_r16: 8-bit quants of 256-weight blocks with one fp16
 * scale per row and block, 8 or 16 rows interleaved. They are formats of
 * their own (the reference builds them from an activation type that is not
 * stored), so they are encoded here directly.
 *
 * Group block of N rows: d[N] (fp16), then the quants in 4-byte chunks: chunk
 * c of row k at byte 4(N c + k). q8_k_r8 stores the quants as int8; q8_k_r16
 * stores them biased by +128 as uint8 (its kernels use unsigned products).
 *
 * The codec's unpack gives q8_K rows (float d, float d * sum, int8
 * qs[256], int16 bsums[16]): the fp16 scale is exact in float and every
 * level fits int8, so the kernels multiply them through q8_K's packed
 * decoder (kernels/panel.h, lq_panel_unpacked_type). q8_K is not their
 * base type in the registry (its blocks are larger), so lq_unpack_rows
 * does not offer it.
 *
 * Code range: [-127, 127] (q8_k_r16: 1..255 stored). The reference builds
 * both from 8-bit blocks scaled by max|x| / 127, so -128 (stored 0) is never
 * written; its kernels would read it, but a file stays inside what the
 * reference's own encoder produces. The scales are finite fp16.
 */
#include <math.h>
#include <stdlib.h>

#include "common.h"
#include "interleaved.h"

#define Q8K_BLOCK 256
#define LEVEL_MIN (-127)
#define LEVEL_MAX 127
#define FP16_MAX_FINITE 65504.0f

static int8_t level_of(float x, float inv_d) {
    int q = lq_nearest_int(x * inv_d);
    if (q < LEVEL_MIN)
        q = LEVEL_MIN;
    if (q > LEVEL_MAX)
        q = LEVEL_MAX;
    return (int8_t)q;
}

/* Weighted squared error of decoding q with the fp16 scale d16; fills q. */
static double levels_for_scale(const float *x, const float *w, uint16_t d16,
                               int8_t *q) {
    float d = lq_half_to_float(d16);
    float inv_d = d > 0.0f ? 1.0f / d : 0.0f;
    double err = 0.0;
    for (int j = 0; j < Q8K_BLOCK; j++) {
        q[j] = inv_d > 0.0f ? level_of(x[j], inv_d) : 0;
        double diff = (double)x[j] - (double)d * q[j];
        err += (w ? w[j] : 1.0) * diff * diff;
    }
    return err;
}

static uint16_t half_scale(double d) {
    if (!(d > 0.0))
        return 0;
    return lq_float_to_half(d > FP16_MAX_FINITE ? FP16_MAX_FINITE : (float)d);
}

/* Quantize one block of one row: start from the scale that maps the largest
 * magnitude to 127, then move to the least-squares scale of the chosen levels
 * while that lowers the error (the fp16 rounding of the scale is part of the
 * search, since decoding uses the rounded value). */
static uint16_t quantize_block(const float *x, const float *w, int8_t *q) {
    float amax = 0.0f;
    for (int j = 0; j < Q8K_BLOCK; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    uint16_t best_d = half_scale(amax / 127.0);
    double best_err = levels_for_scale(x, w, best_d, q);
    int8_t trial[Q8K_BLOCK];
    const int8_t *levels = q;
    for (int iter = 0; iter < 3; iter++) {
        double sum_xq = 0.0, sum_qq = 0.0;
        for (int j = 0; j < Q8K_BLOCK; j++) {
            double wj = w ? w[j] : 1.0;
            sum_xq += wj * x[j] * levels[j];
            sum_qq += wj * levels[j] * levels[j];
        }
        if (sum_qq <= 0.0)
            break;
        uint16_t d = half_scale(sum_xq / sum_qq);
        if (d == best_d)
            break;
        double err = levels_for_scale(x, w, d, trial);
        if (!(err < best_err))
            break;
        best_err = err;
        best_d = d;
        memcpy(q, trial, sizeof trial);
        levels = q;
    }
    if (best_d == 0)
        memset(q, 0, Q8K_BLOCK);
    return best_d;
}

static int quantize_rows(const float *src, void *dst, int64_t ncols,
                         const float *imatrix, int rows, uint8_t bias) {
    uint8_t *out = dst;
    const int64_t nblocks = ncols / Q8K_BLOCK;
    const size_t group_block = (size_t)rows * (2 + Q8K_BLOCK);
    int8_t q[Q8K_BLOCK];
    for (int64_t ib = 0; ib < nblocks; ib++) {
        uint8_t *block = out + ib * group_block;
        uint8_t *quants = block + 2 * rows;
        const float *w = imatrix ? imatrix + ib * Q8K_BLOCK : NULL;
        for (int k = 0; k < rows; k++) {
            uint16_t d = quantize_block(src + k * ncols + ib * Q8K_BLOCK, w, q);
            lq_store_u16(block + 2 * k, d);
            for (int j = 0; j < Q8K_BLOCK; j++)
                quants[4 * (rows * (j / 4) + k) + j % 4] = (uint8_t)(q[j] + bias);
        }
    }
    return LQ_OK;
}

static void dequantize_rows(const void *src, float *dst, int64_t ncols,
                            int rows, int bias) {
    const uint8_t *in = src;
    const int64_t nblocks = ncols / Q8K_BLOCK;
    const size_t group_block = (size_t)rows * (2 + Q8K_BLOCK);
    for (int64_t ib = 0; ib < nblocks; ib++) {
        const uint8_t *block = in + ib * group_block;
        const uint8_t *quants = block + 2 * rows;
        for (int k = 0; k < rows; k++) {
            float d = lq_half_to_float(lq_load_u16(block + 2 * k));
            float *y = dst + k * ncols + ib * Q8K_BLOCK;
            for (int j = 0; j < Q8K_BLOCK; j++) {
                int level = quants[4 * (rows * (j / 4) + k) + j % 4];
                if (bias == 0)
                    level = (int8_t)level;
                else
                    level -= bias;
                y[j] = d * (float)level;
            }
        }
    }
}

int lq_il_quantize_q8_k_r8(const float *src, void *dst, int64_t ncols,
                           const float *imatrix) {
    return quantize_rows(src, dst, ncols, imatrix, 8, 0);
}

void lq_il_dequantize_q8_k_r8(const void *src, float *dst, int64_t ncols) {
    dequantize_rows(src, dst, ncols, 8, 0);
}

int lq_il_quantize_q8_k_r16(const float *src, void *dst, int64_t ncols,
                            const float *imatrix) {
    return quantize_rows(src, dst, ncols, imatrix, 16, 128);
}

void lq_il_dequantize_q8_k_r16(const void *src, float *dst, int64_t ncols) {
    dequantize_rows(src, dst, ncols, 16, 128);
}

enum { Q8_K_ROW_BLOCK = 296 };

static void unpack_rows(const void *src, void *dst, int64_t ncols, int rows, int bias) {
    const uint8_t *in = src;
    const int64_t nblocks = ncols / Q8K_BLOCK;
    const size_t group_block = (size_t)rows * (2 + Q8K_BLOCK);
    for (int64_t ib = 0; ib < nblocks; ib++) {
        const uint8_t *block = in + ib * group_block;
        const uint8_t *quants = block + 2 * rows;
        for (int k = 0; k < rows; k++) {
            uint8_t *out = (uint8_t *)dst + (k * nblocks + ib) * Q8_K_ROW_BLOCK;
            const float d = lq_half_to_float(lq_load_u16(block + 2 * k));
            int total = 0;
            for (int g = 0; g < Q8K_BLOCK / 16; g++) {
                int sum = 0;
                for (int j = 16 * g; j < 16 * g + 16; j++) {
                    const uint8_t stored = quants[4 * (rows * (j / 4) + k) + j % 4];
                    const int q = bias == 0 ? (int8_t)stored : stored - bias;
                    out[8 + j] = (uint8_t)(int8_t)q;
                    sum += q;
                }
                lq_store_u16(out + 8 + Q8K_BLOCK + 2 * g, (uint16_t)(int16_t)sum);
                total += sum;
            }
            lq_store_f32(out, d);
            lq_store_f32(out + 4, d * (float)total);
        }
    }
}

void lq_il_unpack_q8_k_r8(const void *src, void *dst, int64_t ncols) {
    unpack_rows(src, dst, ncols, 8, 0);
}

void lq_il_unpack_q8_k_r16(const void *src, void *dst, int64_t ncols) {
    unpack_rows(src, dst, ncols, 16, 128);
}
