/*
 * iq2_xxs, iq2_xs, iq2_s: 256 weights per super-block, groups of 8 coded as
 * points of the 256-, 512- and 1024-point 2-bit grids with per-group signs
 * and 4-bit block scales; value = d * (0.5 + l) / 4 * coordinate * sign.
 */
#include <string.h>

#include "common.h"
#include "lattice.h"
#include "lattice_grids.h"
#include "lattice_types.h"
#include "quant.h"

#define SUPER 256

static float block_scale(float d, unsigned l) { return d * (0.5f + l) * 0.25f; }

/* ---- iq2_xxs: d, then per 32: 4 grid bytes, 4x7 sign bits, 4-bit scale -- */

enum { IQ2_XXS_BYTES = 66 };

static const lq_magnitude_spec iq2_xxs_spec = {
    LQ_GRID_IQ2XXS, 32, 1, 1.0f, 1.0f, 0.125f, 5.0f, 0.1f, 0, 7};

static void pack_iq2_xxs(const lq_magnitude_fit *fit, uint8_t *out) {
    lq_store_u16(out, fit->d);
    for (int ib = 0; ib < SUPER / 32; ++ib) {
        uint8_t *q = out + 2 + 8 * ib;
        uint32_t aux = (uint32_t)fit->l[ib] << 28;
        for (int k = 0; k < 4; ++k) {
            q[k] = (uint8_t)fit->index[4 * ib + k];
            aux |= (uint32_t)(fit->signs[4 * ib + k] & 127) << (7 * k);
        }
        memcpy(q + 4, &aux, 4);
    }
}

int lq_quantize_iq2_xxs(const float *src, void *dst, int64_t ncols,
                        const float *imatrix) {
    return lq_lattice_encode_row(&iq2_xxs_spec, IQ2_XXS_BYTES, pack_iq2_xxs,
                                 src, dst, ncols, imatrix);
}

void lq_dequantize_iq2_xxs(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, in += IQ2_XXS_BYTES) {
        float d = lq_half_to_float(lq_load_u16(in));
        for (int ib = 0; ib < SUPER / 32; ++ib) {
            const uint8_t *q = in + 2 + 8 * ib;
            uint32_t aux;
            memcpy(&aux, q + 4, 4);
            float db = block_scale(d, aux >> 28);
            for (int k = 0; k < 4; ++k)
                lq_lattice_decode(db, lq_iq2xxs_grid[q[k]],
                                  lq_lattice_signs_from7((aux >> (7 * k)) & 127),
                                  8, dst + i0 + 32 * ib + 8 * k);
        }
    }
}

/* ---- iq2_xs: d, 32 x (9-bit grid index | 7 sign bits << 9), 16 scales --- */

enum { IQ2_XS_BYTES = 74 };

static const lq_magnitude_spec iq2_xs_spec = {
    LQ_GRID_IQ2XS, 16, 1, 1.0f, 0.25f, 0.125f, 5.0f, 0.1f, 0, 7};

static void store_nibble_scales(uint8_t *scales, const uint8_t *l, int n) {
    for (int i = 0; i < n; i += 2)
        scales[i / 2] = (uint8_t)(l[i] | (l[i + 1] << 4));
}

static void pack_iq2_xs(const lq_magnitude_fit *fit, uint8_t *out) {
    lq_store_u16(out, fit->d);
    for (int k = 0; k < SUPER / 8; ++k)
        lq_store_u16(out + 2 + 2 * k,
                     (uint16_t)(fit->index[k] | (fit->signs[k] & 127) << 9));
    store_nibble_scales(out + 66, fit->l, SUPER / 16);
}

int lq_quantize_iq2_xs(const float *src, void *dst, int64_t ncols,
                       const float *imatrix) {
    return lq_lattice_encode_row(&iq2_xs_spec, IQ2_XS_BYTES, pack_iq2_xs, src,
                                 dst, ncols, imatrix);
}

void lq_dequantize_iq2_xs(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, in += IQ2_XS_BYTES) {
        float d = lq_half_to_float(lq_load_u16(in));
        for (int k = 0; k < SUPER / 8; ++k) {
            uint16_t q = lq_load_u16(in + 2 + 2 * k);
            uint8_t sc = in[66 + k / 4];
            float db = block_scale(d, (k / 2) % 2 ? sc >> 4 : sc & 15);
            lq_lattice_decode(db, lq_iq2xs_grid[q & 511],
                              lq_lattice_signs_from7(q >> 9), 8,
                              dst + i0 + 8 * k);
        }
    }
}

/* ---- iq2_s: d, 32 low index bytes, 32 sign bytes, 8 bytes of index high
 * bits (2 per group), 16 scales ---------------------------------------- */

enum { IQ2_S_BYTES = 82, IQ2_S_SIGNS = 34, IQ2_S_QH = 66, IQ2_S_SCALES = 74 };

static const lq_magnitude_spec iq2_s_spec = {
    LQ_GRID_IQ2S, 16, 0, 2.0f, 0.25f, 0.125f, 5.0f, 0.1f, 9, 7};

static void pack_iq2_s(const lq_magnitude_fit *fit, uint8_t *out) {
    memset(out, 0, IQ2_S_BYTES);
    lq_store_u16(out, fit->d);
    for (int k = 0; k < SUPER / 8; ++k) {
        out[2 + k] = (uint8_t)fit->index[k];
        out[IQ2_S_SIGNS + k] = fit->signs[k];
        out[IQ2_S_QH + k / 4] |= (uint8_t)((fit->index[k] >> 8) << 2 * (k % 4));
    }
    store_nibble_scales(out + IQ2_S_SCALES, fit->l, SUPER / 16);
}

int lq_quantize_iq2_s(const float *src, void *dst, int64_t ncols,
                      const float *imatrix) {
    return lq_lattice_encode_row(&iq2_s_spec, IQ2_S_BYTES, pack_iq2_s, src,
                                 dst, ncols, imatrix);
}

void lq_dequantize_iq2_s(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, in += IQ2_S_BYTES) {
        float d = lq_half_to_float(lq_load_u16(in));
        for (int k = 0; k < SUPER / 8; ++k) {
            int index = in[2 + k] | ((in[IQ2_S_QH + k / 4] >> 2 * (k % 4)) & 3) << 8;
            uint8_t sc = in[IQ2_S_SCALES + k / 4];
            float db = block_scale(d, (k / 2) % 2 ? sc >> 4 : sc & 15);
            lq_lattice_decode(db, lq_iq2s_grid[index], in[IQ2_S_SIGNS + k], 8,
                              dst + i0 + 8 * k);
        }
    }
}
