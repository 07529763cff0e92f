/*
 * Kernel family "q8": q8_KV against LQ_ACT_Q8_32. A row is an f32 scale d,
 * an int32 (the sum of its quants, unused here: the activations carry their
 * own sums), then one int8 q per weight:
 *     row = d * sum_k d_k * sum(q * a)
 * over the activation blocks k of 32. Layout of libquant/q8.c.
 */
#include "common.h"
#include "kernels.h"

enum { META_BYTES = 8 };

static float dot_q8_KV(const void *w_row, const void *act, int64_t ncols) {
    const uint8_t *w = w_row;
    const int8_t *q = (const int8_t *)(w + META_BYTES);
    const lq_act_q8_32 *a = act;
    float total = 0.0f;
    for (int64_t k = 0; k < ncols / LQ_ACT_Q8_32_BLOCK; k++) {
        int32_t sum = 0;
        for (int i = 0; i < LQ_ACT_Q8_32_BLOCK; i++)
            sum += q[LQ_ACT_Q8_32_BLOCK * k + i] * a[k].qs[i];
        total += a[k].d * (float)sum;
    }
    return lq_load_f32(w) * total;
}

static const lq_dot_kernel q8_kernels[] = {
    {LQ_TYPE_Q8_KV, LQ_ACT_Q8_32, dot_q8_KV},
};

const lq_kernel_family lq_kernels_q8 = {
    "q8", q8_kernels, sizeof q8_kernels / sizeof q8_kernels[0]};
