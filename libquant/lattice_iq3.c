/*
 * iq3_xxs, iq3_s: 256 weights per super-block, groups of 4 coded as points
 * of the 256- and 512-point 3-bit grids, signs per 8 values and 4-bit
 * scales per 32 values.
 */
#include <string.h>

#include "common.h"
#include "lattice.h"
#include "lattice_grids.h"
#include "lattice_types.h"
#include "quant.h"

#define SUPER 256

/* ---- iq3_xxs: d, 64 grid bytes, then per 32: 4x7 sign bits, 4-bit scale;
 * value = d * (0.5 + l) / 2 * coordinate * sign ------------------------- */

enum { IQ3_XXS_BYTES = 98, IQ3_XXS_AUX = 66 };

static const lq_magnitude_spec iq3_xxs_spec = {
    LQ_GRID_IQ3XXS, 32, 1, 2.0f, 0.0f, 0.25f, 15.0f, 0.2f, 15, 0};

static void pack_iq3_xxs(const lq_magnitude_fit *fit, uint8_t *out) {
    lq_store_u16(out, fit->d);
    for (int k = 0; k < SUPER / 4; ++k)
        out[2 + k] = (uint8_t)fit->index[k];
    for (int ib = 0; ib < SUPER / 32; ++ib) {
        uint32_t aux = (uint32_t)fit->l[ib] << 28;
        for (int k = 0; k < 4; ++k)
            aux |= (uint32_t)(fit->signs[4 * ib + k] & 127) << (7 * k);
        memcpy(out + IQ3_XXS_AUX + 4 * ib, &aux, 4);
    }
}

int lq_quantize_iq3_xxs(const float *src, void *dst, int64_t ncols,
                        const float *imatrix) {
    return lq_lattice_encode_row(&iq3_xxs_spec, IQ3_XXS_BYTES, pack_iq3_xxs,
                                 src, dst, ncols, imatrix);
}

void lq_dequantize_iq3_xxs(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, in += IQ3_XXS_BYTES) {
        float d = lq_half_to_float(lq_load_u16(in));
        for (int ib = 0; ib < SUPER / 32; ++ib) {
            uint32_t aux;
            memcpy(&aux, in + IQ3_XXS_AUX + 4 * ib, 4);
            float db = d * (0.5f + (aux >> 28)) * 0.5f;
            for (int k = 0; k < 4; ++k) {
                const uint8_t *q = in + 2 + 8 * ib + 2 * k;
                unsigned signs = lq_lattice_signs_from7((aux >> (7 * k)) & 127);
                float *y = dst + i0 + 32 * ib + 8 * k;
                lq_lattice_decode(db, lq_iq3xxs_grid[q[0]], signs, 4, y);
                lq_lattice_decode(db, lq_iq3xxs_grid[q[1]], signs >> 4, 4, y + 4);
            }
        }
    }
}

/* ---- iq3_s: d, 64 low index bytes, 8 bytes of index high bits (1 per
 * group), 32 sign bytes, 8 scales of 4 bits; value = d * (1 + 2l) *
 * coordinate * sign ---------------------------------------------------- */

enum {
    IQ3_S_BYTES = 110,
    IQ3_S_QH = 66,
    IQ3_S_SIGNS = 74,
    IQ3_S_SCALES = 106
};

static const lq_magnitude_spec iq3_s_spec = {
    LQ_GRID_IQ3S, 32, 0, 2.0f, 0.0f, 1.0f, 15.0f, 0.2f, 9, 0};

static void pack_iq3_s(const lq_magnitude_fit *fit, uint8_t *out) {
    memset(out, 0, IQ3_S_BYTES);
    lq_store_u16(out, fit->d);
    for (int k = 0; k < SUPER / 4; ++k) {
        out[2 + k] = (uint8_t)fit->index[k];
        out[IQ3_S_QH + k / 8] |= (uint8_t)((fit->index[k] >> 8) << (k % 8));
    }
    memcpy(out + IQ3_S_SIGNS, fit->signs, SUPER / 8);
    for (int ib = 0; ib < SUPER / 32; ib += 2)
        out[IQ3_S_SCALES + ib / 2] =
            (uint8_t)(fit->l[ib] | (fit->l[ib + 1] << 4));
}

int lq_quantize_iq3_s(const float *src, void *dst, int64_t ncols,
                      const float *imatrix) {
    return lq_lattice_encode_row(&iq3_s_spec, IQ3_S_BYTES, pack_iq3_s, src,
                                 dst, ncols, imatrix);
}

void lq_dequantize_iq3_s(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, in += IQ3_S_BYTES) {
        float d = lq_half_to_float(lq_load_u16(in));
        for (int ib = 0; ib < SUPER / 32; ++ib) {
            uint8_t sc = in[IQ3_S_SCALES + ib / 2];
            float db = d * (1 + 2 * (ib % 2 ? sc >> 4 : sc & 15));
            for (int k = 0; k < 8; ++k) {
                int g = 8 * ib + k;
                int index = in[2 + g] | ((in[IQ3_S_QH + ib] >> k) & 1) << 8;
                unsigned signs = in[IQ3_S_SIGNS + g / 2] >> (4 * (g % 2));
                lq_lattice_decode(db, lq_iq3s_grid[index], signs, 4,
                                  dst + i0 + 4 * g);
            }
        }
    }
}
