/*
 * Kernel family "float": f32, f16 and bf16 weights against float
 * activations (LQ_ACT_F32). The f32 dot is also what the generic path uses
 * on weights decoded to floats.
 */
#include <string.h>

#include "common.h"
#include "kernels.h"

enum { CHUNK = 32, LANES = 8 };

/* Within a chunk, product k goes to lane k % 8 and the lanes are added
 * pairwise: a fixed order that an 8-wide SIMD version reproduces exactly
 * and that does not wait on one long chain of additions. */
float lq_dot_f32_accumulate(const float *w, const float *x, int64_t n, float total) {
    for (int64_t i = 0; i < n; i += CHUNK) {
        int64_t len = n - i < CHUNK ? n - i : CHUNK;
        float lane[LANES] = {0};
        for (int64_t k = 0; k < len; k++)
            lane[k % LANES] += w[i + k] * x[i + k];
        total += ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                 ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    }
    return total;
}

/* Stored weights are read through a copy (the row need not be aligned);
 * chunk by chunk, so the summation order is that of lq_dot_f32_accumulate.
 * The same holds for the halves below. */
static float dot_f32(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const float *x = act;
    float buf[CHUNK];
    float total = 0.0f;
    for (int64_t i = 0; i < ncols; i += CHUNK) {
        int64_t len = ncols - i < CHUNK ? ncols - i : CHUNK;
        memcpy(buf, w + 4 * i, (size_t)len * sizeof(float));
        total = lq_dot_f32_accumulate(buf, x + i, len, total);
    }
    return total;
}

/* The generic path's rows, decoded into aligned scratch. */
static float dot_f32_aligned(const void *w_row, const void *act, int64_t ncols) {
    return lq_dot_f32_accumulate(w_row, act, ncols, 0.0f);
}

const lq_dot_kernel lq_dot_kernel_decoded = {LQ_TYPE_F32, LQ_ACT_F32, dot_f32_aligned};

static float dot_f16(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const float *x = act;
    float buf[CHUNK];
    float total = 0.0f;
    for (int64_t i = 0; i < ncols; i += CHUNK) {
        int64_t len = ncols - i < CHUNK ? ncols - i : CHUNK;
        for (int64_t k = 0; k < len; k++)
            buf[k] = lq_half_to_float(lq_load_u16(w + 2 * (i + k)));
        total = lq_dot_f32_accumulate(buf, x + i, len, total);
    }
    return total;
}

static float dot_bf16(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const float *x = act;
    float buf[CHUNK];
    float total = 0.0f;
    for (int64_t i = 0; i < ncols; i += CHUNK) {
        int64_t len = ncols - i < CHUNK ? ncols - i : CHUNK;
        for (int64_t k = 0; k < len; k++)
            buf[k] = lq_bf16_to_float(lq_load_u16(w + 2 * (i + k)));
        total = lq_dot_f32_accumulate(buf, x + i, len, total);
    }
    return total;
}

static const lq_dot_kernel float_kernels[] = {
    {LQ_TYPE_F32, LQ_ACT_F32, dot_f32},
    {LQ_TYPE_F16, LQ_ACT_F32, dot_f16},
    {LQ_TYPE_BF16, LQ_ACT_F32, dot_bf16},
};

const lq_kernel_family lq_kernels_float = {
    "float", float_kernels, sizeof float_kernels / sizeof float_kernels[0]};
