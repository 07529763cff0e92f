/*
 * iq1_s_r4, iq1_m_r4: formats of their own (not interleavings of iq1_s /
 * iq1_m). A group of 4 rows starts with the 4 rows' half precision scales
 * d; then every 32 columns a block holds the 4 rows' codes interleaved:
 *   iq1_s_r4 (24 bytes): low index bytes qs[4*group + row], then per row a
 *     u16 of 3 index high bits per group, a 3-bit scale l << 12 and the
 *     negative shift << 15; value = d * (2l + 1) * (coordinate + shift).
 *   iq1_m_r4 (28 bytes): qs[4*group + row], per half of 16 and row a byte
 *     qh[4*half + row] (index high bits and shift bit per group, as iq1_m),
 *     then per row a byte of two 4-bit scales; value = d * l * (coordinate
 *     + shift).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "lattice.h"
#include "lattice_grids.h"
#include "lattice_types.h"
#include "quant.h"

#define ROWS 4
#define SHIFT 0.125f

typedef struct r4_variant {
    int block_len;      /* values per scale: 32 (s) or 16 (m) */
    int shift_per_group;
    lq_super_layout scales; /* nblocks filled per row */
} r4_variant;

static const r4_variant iq1_s_r4 = {32, 0, {0, 32, 7, 1}};
static const r4_variant iq1_m_r4 = {16, 1, {0, 16, 15, 0}};

typedef struct row_scratch {
    float *x, *w, *unit, *scales;
    lq_iq1_fit *fits;
    uint8_t *l, *trial;
} row_scratch;

static void free_scratch(row_scratch *s) {
    free(s->x);
    free(s->w);
    free(s->unit);
    free(s->scales);
    free(s->fits);
    free(s->l);
    free(s->trial);
}

static int alloc_scratch(row_scratch *s, int64_t ncols, int nblocks) {
    s->x = malloc((size_t)ncols * sizeof(float));
    s->w = malloc((size_t)ncols * sizeof(float));
    s->unit = malloc((size_t)ncols * sizeof(float));
    s->scales = malloc((size_t)nblocks * sizeof(float));
    s->fits = malloc((size_t)nblocks * sizeof(lq_iq1_fit));
    s->l = malloc((size_t)nblocks);
    s->trial = malloc((size_t)nblocks);
    if (s->x && s->w && s->unit && s->scales && s->fits && s->l && s->trial)
        return 1;
    free_scratch(s);
    return 0;
}

/* Fit one row: fills the fits and block scales, returns d (half). */
static uint16_t fit_row(const lq_lattice *g, const r4_variant *v,
                        const float *x, int64_t ncols, const float *imatrix,
                        row_scratch *s) {
    int nblocks = (int)(ncols / v->block_len);
    float amax = 0;
    for (int64_t i = 0; i < ncols; ++i)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    if (!(amax > 0))
        amax = 1;
    for (int64_t i = 0; i < ncols; ++i)
        s->x[i] = x[i] / amax;
    for (int64_t b0 = 0; b0 < ncols; b0 += 32) {
        float sumx2 = 0;
        for (int64_t i = b0; i < b0 + 32; ++i)
            sumx2 += s->x[i] * s->x[i];
        float sigma2 = 1.5f * sumx2 / 32;
        if (imatrix)
            lq_lattice_weights(32, s->x + b0, imatrix + b0, sigma2, 0, s->w + b0);
        else /* milder than x^2: these 32-value blocks fit better so */
            for (int64_t i = b0; i < b0 + 32; ++i)
                s->w[i] = sqrtf(sigma2 + s->x[i] * s->x[i]);
    }
    for (int b = 0; b < nblocks; ++b) {
        int64_t o = (int64_t)b * v->block_len;
        lq_iq1_fit_block(g, v->block_len, s->x + o, s->w + o,
                         v->shift_per_group, &s->fits[b]);
        s->scales[b] = s->fits[b].scale;
        lq_iq1_units(g, v->block_len, &s->fits[b], s->unit + o);
    }
    lq_super_layout layout = v->scales;
    layout.nblocks = nblocks;
    float d = lq_lattice_super_scale(&layout, s->scales, s->x, s->w, s->unit,
                                     amax, s->l, s->trial);
    return lq_float_to_half(d);
}

static int quantize_r4(const r4_variant *v, int block_bytes,
                       void (*store)(uint8_t *, int, const lq_iq1_fit *,
                                     const uint8_t *),
                       const float *src, void *dst, int64_t ncols,
                       const float *imatrix) {
    const lq_lattice *g = lq_lattice_get(LQ_GRID_IQ1S);
    row_scratch s;
    int nblocks = (int)(ncols / v->block_len);
    if (!g || !alloc_scratch(&s, ncols, nblocks))
        return LQ_ERR_NO_MEMORY;
    uint8_t *out = dst;
    uint8_t *blocks = out + 2 * ROWS;
    memset(blocks, 0, (size_t)(ncols / 32) * (size_t)block_bytes);
    for (int k = 0; k < ROWS; ++k) {
        uint16_t d = fit_row(g, v, src + k * ncols, ncols, imatrix, &s);
        lq_store_u16(out + 2 * k, d);
        int per32 = 32 / v->block_len;
        for (int64_t ib = 0; ib < ncols / 32; ++ib)
            store(blocks + ib * block_bytes, k, s.fits + ib * per32,
                  s.l + ib * per32);
    }
    free_scratch(&s);
    return LQ_OK;
}

static float iq1_value(float dl, uint64_t point, int j, float shift) {
    return dl * ((int8_t)(uint8_t)(point >> (8 * j)) + shift);
}

/* ---- iq1_s_r4 ---------------------------------------------------------- */

enum { IQ1_S_R4_BYTES = 24 };

static void store_iq1_s_r4(uint8_t *blk, int k, const lq_iq1_fit *f,
                           const uint8_t *l) {
    unsigned h = (unsigned)l[0] << 12 | (f->pattern ? 0x8000u : 0);
    for (int i = 0; i < 4; ++i) {
        blk[4 * i + k] = (uint8_t)f->index[i];
        h |= (unsigned)(f->index[i] >> 8) << (3 * i);
    }
    lq_store_u16(blk + 16 + 2 * k, (uint16_t)h);
}

int lq_quantize_iq1_s_r4(const float *src, void *dst, int64_t ncols,
                         const float *imatrix) {
    return quantize_r4(&iq1_s_r4, IQ1_S_R4_BYTES, store_iq1_s_r4, src, dst,
                       ncols, imatrix);
}

void lq_dequantize_iq1_s_r4(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    const uint8_t *blocks = in + 2 * ROWS;
    for (int k = 0; k < ROWS; ++k) {
        float d = lq_half_to_float(lq_load_u16(in + 2 * k));
        for (int64_t ib = 0; ib < ncols / 32; ++ib) {
            const uint8_t *blk = blocks + ib * IQ1_S_R4_BYTES;
            unsigned h = lq_load_u16(blk + 16 + 2 * k);
            float shift = h & 0x8000u ? -SHIFT : SHIFT;
            float dl = d * (2 * ((h >> 12) & 7) + 1);
            for (int i = 0; i < 4; ++i) {
                uint64_t point = lq_iq1s_grid[blk[4 * i + k] | ((h >> (3 * i)) & 7) << 8];
                for (int j = 0; j < 8; ++j)
                    dst[k * ncols + 32 * ib + 8 * i + j] = iq1_value(dl, point, j, shift);
            }
        }
    }
}

/* ---- iq1_m_r4 ---------------------------------------------------------- */

enum { IQ1_M_R4_BYTES = 28, IQ1_M_R4_QH = 16, IQ1_M_R4_SCALES = 24 };

static void store_iq1_m_r4(uint8_t *blk, int k, const lq_iq1_fit *f,
                           const uint8_t *l) {
    for (int half = 0; half < 2; ++half) {
        unsigned h = 0;
        for (int g = 0; g < 2; ++g) {
            blk[4 * (2 * half + g) + k] = (uint8_t)f[half].index[g];
            h |= (unsigned)(f[half].index[g] >> 8) << (4 * g);
            h |= ((f[half].pattern >> g) & 1u) << (4 * g + 3);
        }
        blk[IQ1_M_R4_QH + 4 * half + k] = (uint8_t)h;
    }
    blk[IQ1_M_R4_SCALES + k] = (uint8_t)(l[0] | l[1] << 4);
}

int lq_quantize_iq1_m_r4(const float *src, void *dst, int64_t ncols,
                         const float *imatrix) {
    return quantize_r4(&iq1_m_r4, IQ1_M_R4_BYTES, store_iq1_m_r4, src, dst,
                       ncols, imatrix);
}

void lq_dequantize_iq1_m_r4(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    const uint8_t *blocks = in + 2 * ROWS;
    for (int k = 0; k < ROWS; ++k) {
        float d = lq_half_to_float(lq_load_u16(in + 2 * k));
        for (int64_t ib = 0; ib < ncols / 32; ++ib) {
            const uint8_t *blk = blocks + ib * IQ1_M_R4_BYTES;
            uint8_t sc = blk[IQ1_M_R4_SCALES + k];
            for (int half = 0; half < 2; ++half) {
                float dl = d * (half ? sc >> 4 : sc & 15);
                unsigned h = blk[IQ1_M_R4_QH + 4 * half + k];
                for (int g = 0; g < 2; ++g) {
                    uint64_t point = lq_iq1s_grid[blk[4 * (2 * half + g) + k] |
                                                  ((h >> (4 * g)) & 7) << 8];
                    float shift = (h >> (4 * g + 3)) & 1 ? -SHIFT : SHIFT;
                    for (int j = 0; j < 8; ++j)
                        dst[k * ncols + 32 * ib + 16 * half + 8 * g + j] =
                            iq1_value(dl, point, j, shift);
                }
            }
        }
    }
}
