/*
 * The portable micro-kernel of the packed layout (panel.h) and the
 * activation chunks: the fallback of every CPU, held to the same accuracy
 * bound as the SIMD ones. Lane g of an accumulator is the 16-group g.
 */
#include <math.h>
#include <string.h>

#include "common.h"
#include "panel.h"

static void chunk_dot(const lq_panel_chunk *w, const lq_act_chunk *a, bool has_offset,
                      float *lane) {
    int32_t isum[LQ_PANEL_GROUPS] = {0};
    for (int p = 0; p < LQ_PANEL_K; p++)
        isum[(p % 64) / 4] += w->level[p] * ((int)a->biased[p] - 128);
    for (int g = 0; g < LQ_PANEL_GROUPS; g++) {
        lane[g] += (float)isum[g] * (w->scale[g] * a->d[g]);
        if (has_offset)
            lane[g] += w->offset[g] * a->dsum[g];
    }
}

void lq_tile_scalar(const lq_panel_chunk *w, int64_t w_stride, int nr, const lq_act_chunk *a,
                    int64_t a_stride, int nv, int64_t nchunks, bool has_offset, float *y,
                    int64_t y_stride) {
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++) {
            float lane[LQ_PANEL_GROUPS] = {0};
            for (int64_t c = 0; c < nchunks; c++)
                chunk_dot(&w[r * w_stride + c], &a[v * a_stride + c], has_offset, lane);
            float total = 0.0f;
            for (int g = 0; g < LQ_PANEL_GROUPS; g++)
                total += lane[g];
            y[v * y_stride + r] = total;
        }
}

lq_tile_kernel lq_tile_kernel_at(lq_simd_level level) {
#if defined(__x86_64__) || defined(__i386__)
    if (level >= LQ_SIMD_AVX512)
        return (lq_tile_kernel){lq_tile_avx512, lq_tile_block_avx512};
    if (level >= LQ_SIMD_AVX2)
        return (lq_tile_kernel){lq_tile_avx2, NULL};
#else
    (void)level;
#endif
    return (lq_tile_kernel){lq_tile_scalar, NULL};
}

lq_tile_kernel lq_tile_kernel_for(lq_simd_level level, int type) {
#if defined(__x86_64__) || defined(__i386__)
    if (level == LQ_SIMD_AVX2)
        return (lq_tile_kernel){lq_tile_avx2_for(type), NULL};
#else
    (void)type;
#endif
    return lq_tile_kernel_at(level);
}

lq_group_gemv_fn lq_group_gemv_for(lq_simd_level level, int type) {
#if defined(__x86_64__) || defined(__i386__)
    if (level >= LQ_SIMD_AVX512)
        return lq_group_gemv_avx512;
    if (level >= LQ_SIMD_AVX2)
        return lq_group_gemv_avx2_for(type);
#else
    (void)level, (void)type;
#endif
    return NULL;
}

/* ---- activations --------------------------------------------------------- */

/* One block of 32: d = max|x| / 127, q = round(x / d) (a division: 1 / d
 * overflows for a subnormal max), clamped to +-127. */
static float quantize_block(const float *x, int count, int8_t *q) {
    float amax = 0.0f;
    for (int i = 0; i < count; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    const float d = amax / 127.0f;
    for (int i = 0; i < count; i++) {
        int v = d > 0.0f ? lq_nearest_int(x[i] / d) : 0;
        q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    return d;
}

static void quantize_chunk(const float *x, int count, lq_act_chunk *out) {
    int8_t q[LQ_PANEL_K] = {0};
    float d[LQ_ACT_BLOCKS] = {0};
    for (int k = 0; k < count / 32; k++)
        d[k] = quantize_block(x + 32 * k, 32, q + 32 * k);
    for (int g = 0; g < LQ_PANEL_GROUPS; g++) {
        int sum = 0;
        for (int i = 0; i < 16; i++)
            sum += q[16 * g + i];
        out->d[g] = d[g / 2];
        out->dsum[g] = d[g / 2] * (float)sum;
    }
    lq_panel_lane_order(q);
    for (int p = 0; p < LQ_PANEL_K; p++)
        out->biased[p] = (uint8_t)(q[p] + 128);
}

void lq_act_chunks_quantize(const float *x, int64_t ncols, lq_act_chunk *out,
                            lq_simd_level level) {
#if defined(__x86_64__) || defined(__i386__)
    if (level >= LQ_SIMD_AVX512) {
        lq_act_chunks_quantize_avx512(x, ncols, out);
        return;
    }
    if (level >= LQ_SIMD_AVX2) {
        lq_act_chunks_quantize_avx2(x, ncols, out);
        return;
    }
#else
    (void)level;
#endif
    for (int64_t c = 0; c < lq_panel_chunks(ncols); c++) {
        int64_t left = ncols - c * LQ_PANEL_K;
        quantize_chunk(x + c * LQ_PANEL_K, left < LQ_PANEL_K ? (int)left : LQ_PANEL_K, &out[c]);
    }
}
