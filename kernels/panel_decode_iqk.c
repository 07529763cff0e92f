/*
 * Scalar decoders of the IQK family into the packed compute layout
 * (panel.h), the specification of the SIMD ones. Every IQK weight is a
 * block scale times an entry of an int8 value table (the half a block's
 * "shifted" bit selects), so the levels are the table entries and the
 * scales d * ls per 16 weights; there are no offsets.
 *
 * iq2_k..iq5_k: layouts of libquant/iqk.c. iq2_ks, iq3_ks, iq4_ks, iq4_kss,
 * iq5_ks and iq2_kl: their codec's own unpacking (libquant/iqk_ks.c), then
 * the table lookup. iq6_k, whose values are a cubic in float rather than
 * integers, is not here.
 */
#include <string.h>

#include "common.h"
#include "iqk_ks_internal.h"
#include "iqk_bits.h"
#include "iqk_tables.h"
#include "panel.h"

enum { SUPER = 256, SUB = 16, SUBS = SUPER / SUB };

static float half_at(const uint8_t *p) { return lq_half_to_float(lq_load_u16(p)); }

/* ---- iq2_k .. iq5_k: d, the u16 of shifted bits, scales, indices -------- */

/* Levels from per-element indices and per-16 table halves, scales d * ls. */
static void table_levels(const uint8_t *idx, const int8_t *table, int half_size,
                         uint16_t shifted, float d, const int *ls, lq_panel_chunk *out) {
    for (int s = 0; s < SUBS; s++) {
        const int8_t *values = table + half_size * ((shifted >> s) & 1);
        for (int j = 0; j < SUB; j++)
            out->level[SUB * s + j] = values[idx[SUB * s + j]];
        out->scale[s] = d * (float)ls[s];
        out->offset[s] = 0.0f;
    }
}

/* d, extra, scales[8] (ls + 8 per nibble), qs[64] */
static void decode_iq2_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 76;
    uint8_t idx[SUPER];
    int ls[SUBS];
    for (int s = 0; s < SUBS; s++)
        ls[s] = ((w[4 + s / 2] >> (4 * (s % 2))) & 15) - 8;
    for (int e = 0; e < SUPER; e++)
        idx[e] = (uint8_t)lq_iqk_bits2(w + 12, e);
    table_levels(idx, lq_iq2nl_values, 4, lq_load_u16(w + 2), half_at(w), ls, out);
    (void)count;
}

/* d, extra, u16 signs of ls, scales_l[8] (|ls| = 2 * nibble + 1), qs[64],
 * qh[32] */
static void decode_iq3_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 110;
    uint8_t idx[SUPER];
    int ls[SUBS];
    const uint16_t signs = lq_load_u16(w + 4);
    for (int s = 0; s < SUBS; s++) {
        int magnitude = 2 * ((w[6 + s / 2] >> (4 * (s % 2))) & 15) + 1;
        ls[s] = (signs >> s) & 1 ? -magnitude : magnitude;
    }
    for (int e = 0; e < SUPER; e++)
        idx[e] = (uint8_t)(lq_iqk_bits2(w + 14, e) | lq_iqk_top_bit(w + 78, e) << 2);
    table_levels(idx, lq_iq3nl_values, 8, lq_load_u16(w + 2), half_at(w), ls, out);
    (void)count;
}

/* d, extra, scales_h[4], scales_l[8], qs[128]: each 32 weights share 16
 * bytes, the first 16 weights in the low nibbles */
static void decode_iq4_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 144;
    uint8_t idx[SUPER];
    int ls[SUBS];
    lq_iqk_scales6(w + 4, w + 8, ls);
    for (int e = 0; e < SUPER; e++)
        idx[e] = (uint8_t)((w[16 + 16 * (e / 32) + e % 16] >> (4 * ((e % 32) / 16))) & 15);
    table_levels(idx, lq_iq4k_values, 16, lq_load_u16(w + 2), half_at(w), ls, out);
    (void)count;
}

/* d, extra, scales_h[4], scales_l[8], qs[128] (4-bit layout), qh[32] */
static void decode_iq5_k(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 176;
    uint8_t idx[SUPER];
    int ls[SUBS];
    lq_iqk_scales6(w + 4, w + 8, ls);
    for (int e = 0; e < SUPER; e++)
        idx[e] = (uint8_t)(lq_iqk_bits4(w + 16, e) | lq_iqk_top_bit(w + 144, e) << 4);
    table_levels(idx, lq_iq5nl_values, 32, lq_load_u16(w + 2), half_at(w), ls, out);
    (void)count;
}

/* ---- the row-scaled types, through their codec's unpacking -------------- */

static void decode_ks(const ks_format *f, const uint8_t *row, int64_t chunk,
                      lq_panel_chunk *out) {
    const float d = ks_load_row_scale(f, row);
    ks_superblock sb;
    f->unpack(row + f->row_meta + chunk * f->type_size, &sb);
    for (int b = 0; b < KS_BLOCKS; b++) {
        int8_t *level = out->level + KS_BLOCK * b;
        if (f->assign == KS_ASSIGN_PAIRS) {
            for (int j = 0; j < KS_BLOCK / 2; j++)
                memcpy(level + 2 * j, ks_iq2kl_pair(sb.idx[KS_BLOCK / 2 * b + j]), 2);
        } else {
            const int8_t *values = f->values + f->nvalues * sb.half[b];
            for (int j = 0; j < KS_BLOCK; j++)
                level[j] = values[sb.idx[KS_BLOCK * b + j]];
        }
        out->scale[2 * b] = out->scale[2 * b + 1] = d * (float)sb.code[b];
        out->offset[2 * b] = out->offset[2 * b + 1] = 0.0f;
    }
}

#define KS_DECODER(name)                                                             \
    static void decode_##name(const uint8_t *row, int64_t chunk, int count,          \
                              lq_panel_chunk *out) {                                 \
        decode_ks(&ks_##name, row, chunk, out);                                      \
        (void)count;                                                                 \
    }

KS_DECODER(iq2_ks)
KS_DECODER(iq3_ks)
KS_DECODER(iq4_ks)
KS_DECODER(iq4_kss)
KS_DECODER(iq5_ks)
KS_DECODER(iq2_kl)

const lq_panel_decoder lq_panel_decoders_iqk[] = {
    {LQ_TYPE_IQ2_K, false, decode_iq2_k},     {LQ_TYPE_IQ3_K, false, decode_iq3_k},
    {LQ_TYPE_IQ4_K, false, decode_iq4_k},     {LQ_TYPE_IQ5_K, false, decode_iq5_k},
    {LQ_TYPE_IQ2_KS, false, decode_iq2_ks},   {LQ_TYPE_IQ3_KS, false, decode_iq3_ks},
    {LQ_TYPE_IQ4_KS, false, decode_iq4_ks},   {LQ_TYPE_IQ4_KSS, false, decode_iq4_kss},
    {LQ_TYPE_IQ5_KS, false, decode_iq5_ks},   {LQ_TYPE_IQ2_KL, false, decode_iq2_kl},
};
const int lq_panel_decoders_iqk_count =
    (int)(sizeof lq_panel_decoders_iqk / sizeof lq_panel_decoders_iqk[0]);
