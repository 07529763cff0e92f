/*
 * Scalar decoders into the packed compute layout (panel.h), the
 * specification of the SIMD ones: per type, its levels and its scale and
 * offset per group of 16 weights. Block layouts are those of
 * libquant/legacy.c, libquant/kquants.c, libquant/nonlinear.c and
 * libquant/q8.c.
 */
#include <math.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "panel.h"

enum { QK = 32, HALF = 16, SUPER = 256 };

static const int8_t iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};
/* doubled so they are integers; the scale is halved to match */
static const int8_t mxfp4_values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                        0, -1, -2, -3, -4, -6, -8, -12};

static float half_at(const uint8_t *p) { return lq_half_to_float(lq_load_u16(p)); }

void lq_panel_pad_chunk(int count, lq_panel_chunk *out) {
    if (count >= LQ_PANEL_K)
        return;
    memset(out->level + count, 0, (size_t)(LQ_PANEL_K - count));
    for (int g = count / 16; g < LQ_PANEL_GROUPS; g++)
        out->scale[g] = out->offset[g] = 0.0f;
}

/* ---- 32-weight blocks ---------------------------------------------------- */

/* One block's levels into level[0..32) and its scale and offset; returns
 * nothing, writes the two 16-groups' scale and offset. */
typedef void (*block_fn)(const uint8_t *blk, int8_t *level, float *scale, float *offset);

/* 16 bytes of nibbles: byte j holds weight j (low) and j + 16 (high). */
static void nibbles(const uint8_t *qs, int bias, int8_t *level) {
    for (int j = 0; j < HALF; j++) {
        level[j] = (int8_t)((qs[j] & 15) - bias);
        level[j + HALF] = (int8_t)((qs[j] >> 4) - bias);
    }
}

static void nibble_lookup(const uint8_t *qs, const int8_t *table, int8_t *level) {
    for (int j = 0; j < HALF; j++) {
        level[j] = table[qs[j] & 15];
        level[j + HALF] = table[qs[j] >> 4];
    }
}

/* fifth bit of weight j is bit j of the little-endian 32-bit qh */
static void nibbles_5bit(const uint8_t *qh, const uint8_t *qs, int bias, int8_t *level) {
    uint32_t mask = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                    (uint32_t)qh[3] << 24;
    for (int j = 0; j < HALF; j++) {
        level[j] = (int8_t)(((qs[j] & 15) | (int)((mask >> j) & 1) << 4) - bias);
        level[j + HALF] = (int8_t)(((qs[j] >> 4) | (int)((mask >> (j + HALF)) & 1) << 4) - bias);
    }
}

static void both_groups(float *scale, float *offset, float d, float m) {
    scale[0] = scale[1] = d;
    offset[0] = offset[1] = m;
}

static void q8_0_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    memcpy(level, b + 2, QK);
    both_groups(scale, offset, half_at(b), 0.0f);
}

static void q4_0_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    nibbles(b + 2, 8, level);
    both_groups(scale, offset, half_at(b), 0.0f);
}

static void q4_1_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    nibbles(b + 4, 0, level);
    both_groups(scale, offset, half_at(b), half_at(b + 2));
}

static void q5_0_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    nibbles_5bit(b + 2, b + 6, 16, level);
    both_groups(scale, offset, half_at(b), 0.0f);
}

static void q5_1_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    nibbles_5bit(b + 4, b + 8, 0, level);
    both_groups(scale, offset, half_at(b), half_at(b + 2));
}

/* bits 4-5 of weight j < 16 are bits 4*(j/8) + {0,1} of qh[j % 8], those of
 * weight j + 16 the two bits above */
static void q6_0_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    const uint8_t *qh = b + 2, *qs = b + 10;
    for (int j = 0; j < HALF; j++) {
        int high = qh[j % 8] >> (4 * (j / 8));
        level[j] = (int8_t)(((qs[j] & 15) | (high & 3) << 4) - 32);
        level[j + HALF] = (int8_t)(((qs[j] >> 4) | ((high >> 2) & 3) << 4) - 32);
    }
    both_groups(scale, offset, half_at(b), 0.0f);
}

static void iq4_nl_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    nibble_lookup(b + 2, iq4nl_values, level);
    both_groups(scale, offset, half_at(b), 0.0f);
}

/* E8M0 scale 2^(e - 127), halved for the doubled table */
static void mxfp4_block(const uint8_t *b, int8_t *level, float *scale, float *offset) {
    nibble_lookup(b + 1, mxfp4_values, level);
    both_groups(scale, offset, ldexpf(1.0f, (int)b[0] - 128), 0.0f);
}

static void decode_blocks(const uint8_t *row, int64_t chunk, int count, int bytes,
                          block_fn block, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * (LQ_PANEL_K / QK) * bytes;
    for (int k = 0; k < count / QK; k++, b += bytes)
        block(b, out->level + QK * k, out->scale + 2 * k, out->offset + 2 * k);
    lq_panel_pad_chunk(count, out);
}

#define BLOCK_DECODER(name, bytes)                                                 \
    static void decode_##name(const uint8_t *row, int64_t chunk, int count,        \
                              lq_panel_chunk *out) {                               \
        decode_blocks(row, chunk, count, bytes, name##_block, out);                \
    }

BLOCK_DECODER(q8_0, 34)
BLOCK_DECODER(q4_0, 18)
BLOCK_DECODER(q4_1, 20)
BLOCK_DECODER(q5_0, 22)
BLOCK_DECODER(q5_1, 24)
BLOCK_DECODER(q6_0, 26)
BLOCK_DECODER(iq4_nl, 18)
BLOCK_DECODER(mxfp4, 17)

/* q8_KV: f32 scale and int32 sum before the first weight, one int8 each */
static void decode_q8_KV(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const float d = lq_load_f32(row);
    memcpy(out->level, row + 8 + chunk * LQ_PANEL_K, (size_t)count);
    for (int g = 0; g < count / 16; g++) {
        out->scale[g] = d;
        out->offset[g] = 0.0f;
    }
    lq_panel_pad_chunk(count, out);
}

/* ---- 256-weight super-blocks --------------------------------------------- */

/* In each half of 128 weights, byte l holds weights l, l+32, l+64, l+96. */
static void two_bit(const uint8_t *qs, int8_t *level) {
    for (int half = 0; half < 2; half++)
        for (int l = 0; l < 32; l++)
            for (int k = 0; k < 4; k++)
                level[128 * half + 32 * k + l] = (int8_t)((qs[32 * half + l] >> (2 * k)) & 3);
}

/* In each quarter of 64 weights, byte l holds weight l (low), l+32 (high). */
static void quarter_nibbles(const uint8_t *qs, int8_t *level) {
    for (int quarter = 0; quarter < 4; quarter++)
        for (int l = 0; l < 32; l++) {
            level[64 * quarter + l] = (int8_t)(qs[32 * quarter + l] & 15);
            level[64 * quarter + l + 32] = (int8_t)(qs[32 * quarter + l] >> 4);
        }
}

/* Eight 6-bit scales and mins in 12 bytes (q4_K, q5_K), per 32 weights,
 * as float scale d * sc and offset -dmin * m on both 16-groups. */
static void k4_scales(const uint8_t *in, float d, float dmin, lq_panel_chunk *out) {
    for (int j = 0; j < 4; j++) {
        int sc[2] = {in[j] & 63, (in[j + 8] & 15) | (in[j] >> 6) << 4};
        int mn[2] = {in[j + 4] & 63, (in[j + 8] >> 4) | (in[j + 4] >> 6) << 4};
        for (int h = 0; h < 2; h++) {
            int s = j + 4 * h;
            out->scale[2 * s] = out->scale[2 * s + 1] = d * (float)sc[h];
            out->offset[2 * s] = out->offset[2 * s + 1] = -dmin * (float)mn[h];
        }
    }
}

static const uint8_t *super_block(const uint8_t *row, int64_t chunk, int bytes) {
    return row + chunk * bytes;
}

/* scales[16] (scale low nibble, min high), qs[64], d, dmin */
static void decode_q2_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = super_block(row, chunk, 84);
    const float d = half_at(w + 80), dmin = half_at(w + 82);
    two_bit(w + 16, out->level);
    for (int g = 0; g < 16; g++) {
        out->scale[g] = d * (float)(w[g] & 15);
        out->offset[g] = -dmin * (float)(w[g] >> 4);
    }
    (void)count;
}

/* hmask[32], qs[64], scales[12] (6-bit, offset 32), d */
static void decode_q3_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = super_block(row, chunk, 110);
    const float d = half_at(w + 108);
    two_bit(w + 32, out->level);
    for (int j = 0; j < SUPER; j++)
        out->level[j] = (int8_t)(out->level[j] - (((w[j % 32] >> (j / 32)) & 1) ? 0 : 4));
    const uint8_t *sc = w + 96;
    for (int g = 0; g < 16; g++) {
        int s = (((sc[g % 8] >> (4 * (g / 8))) & 15) | ((sc[8 + g % 4] >> (2 * (g / 4))) & 3) << 4) - 32;
        out->scale[g] = d * (float)s;
        out->offset[g] = 0.0f;
    }
    (void)count;
}

/* d, dmin, scales[12], qs[128] */
static void decode_q4_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = super_block(row, chunk, 144);
    k4_scales(w + 4, half_at(w), half_at(w + 2), out);
    quarter_nibbles(w + 16, out->level);
    (void)count;
}

/* d, dmin, scales[12], qh[32] (bit j/32 of byte j%32 = fifth bit), qs[128] */
static void decode_q5_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = super_block(row, chunk, 176);
    k4_scales(w + 4, half_at(w), half_at(w + 2), out);
    quarter_nibbles(w + 48, out->level);
    for (int j = 0; j < SUPER; j++)
        out->level[j] = (int8_t)(out->level[j] | ((w[16 + j % 32] >> (j / 32)) & 1) << 4);
    (void)count;
}

/* ql[128], qh[64], int8 scales[16], d; level = 6-bit value - 32 */
static void decode_q6_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = super_block(row, chunk, 210);
    for (int half = 0; half < 2; half++) {
        int8_t *v = out->level + 128 * half;
        const uint8_t *ql = w + 64 * half, *qh = w + 128 + 32 * half;
        for (int l = 0; l < 32; l++) {
            v[l] = (int8_t)(((ql[l] & 15) | (qh[l] & 3) << 4) - 32);
            v[l + 32] = (int8_t)(((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32);
            v[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            v[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
    const float d = half_at(w + 208);
    for (int g = 0; g < 16; g++) {
        out->scale[g] = d * (float)(int8_t)w[192 + g];
        out->offset[g] = 0.0f;
    }
    (void)count;
}

/* d, scales_h (2 bits per 32), scales_l[4] (nibbles), then per 32 weights
 * 16 bytes of nibbles (byte j = weight j low, j + 16 high) */
static void decode_iq4_xs(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = super_block(row, chunk, 136);
    const float d = half_at(w);
    const unsigned scales_h = lq_load_u16(w + 2);
    for (int s = 0; s < 8; s++) {
        int ls = (((w[4 + s / 2] >> (4 * (s % 2))) & 15) | ((scales_h >> (2 * s)) & 3) << 4) - 32;
        out->scale[2 * s] = out->scale[2 * s + 1] = d * (float)ls;
        out->offset[2 * s] = out->offset[2 * s + 1] = 0.0f;
        nibble_lookup(w + 8 + 16 * s, iq4nl_values, out->level + 32 * s);
    }
    (void)count;
}

/* q8_K: f32 d, then the int8 quants at byte 8 (libquant/kquants.c) */
static void decode_q8_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = super_block(row, chunk, 296);
    const float d = lq_load_f32(w);
    memcpy(out->level, w + 8, SUPER);
    for (int g = 0; g < 16; g++) {
        out->scale[g] = d;
        out->offset[g] = 0.0f;
    }
    (void)count;
}

static const lq_panel_decoder decoders[] = {
    {LQ_TYPE_Q8_0, false, decode_q8_0},     {LQ_TYPE_Q4_0, false, decode_q4_0},
    {LQ_TYPE_Q4_1, true, decode_q4_1},      {LQ_TYPE_Q5_0, false, decode_q5_0},
    {LQ_TYPE_Q5_1, true, decode_q5_1},      {LQ_TYPE_Q6_0, false, decode_q6_0},
    {LQ_TYPE_IQ4_NL, false, decode_iq4_nl}, {LQ_TYPE_MXFP4, false, decode_mxfp4},
    {LQ_TYPE_Q8_KV, false, decode_q8_KV},   {LQ_TYPE_Q2_K, true, decode_q2_K},
    {LQ_TYPE_Q3_K, false, decode_q3_K},     {LQ_TYPE_Q4_K, true, decode_q4_K},
    {LQ_TYPE_Q5_K, true, decode_q5_K},      {LQ_TYPE_Q6_K, false, decode_q6_K},
    {LQ_TYPE_IQ4_XS, false, decode_iq4_xs}, {LQ_TYPE_Q8_K, false, decode_q8_K},
};

int lq_panel_unpacked_type(int type) {
    const lq_type_info *info = lq_type_get(type);
    if (!info || info->interleave == 1)
        return -1;
    if (type == LQ_TYPE_Q8_K_R8 || type == LQ_TYPE_Q8_K_R16)
        return LQ_TYPE_Q8_K;
    return info->base_type;
}

int lq_panel_unpack(int type, const void *src, int64_t ngroups, int64_t ncols, void *dst) {
    const lq_codec *codec = lq_codec_find(type);
    const int base = lq_panel_unpacked_type(type);
    if (!codec || !codec->unpack || base < 0)
        return LQ_ERR_UNSUPPORTED;
    const lq_type_info *info = lq_type_get(type);
    const int64_t group_bytes = lq_row_size(type, ncols) * info->interleave;
    const int64_t out_bytes = lq_row_size(base, ncols) * info->interleave;
    for (int64_t g = 0; g < ngroups; g++)
        codec->unpack((const uint8_t *)src + g * group_bytes, (uint8_t *)dst + g * out_bytes, ncols);
    return LQ_OK;
}

/* The scalar decoder tables, one per family. */
typedef struct scalar_table {
    const lq_panel_decoder *decoders;
    const int *count;
} scalar_table;

static const int decoders_count = (int)(sizeof decoders / sizeof decoders[0]);
static const scalar_table scalar_tables[] = {
    {decoders, &decoders_count},
    {lq_panel_decoders_iqk, &lq_panel_decoders_iqk_count},
    {lq_panel_decoders_trellis, &lq_panel_decoders_trellis_count},
    {lq_panel_decoders_lattice, &lq_panel_decoders_lattice_count},
};

const lq_panel_decoder *lq_panel_decoder_find(int type) {
    for (size_t t = 0; t < sizeof scalar_tables / sizeof scalar_tables[0]; t++)
        for (int i = 0; i < *scalar_tables[t].count; i++)
            if (scalar_tables[t].decoders[i].type == type)
                return &scalar_tables[t].decoders[i];
    return NULL;
}

/* The SIMD decoder tables, best level first. A decoder writes the scalar
 * decoder's bytes, so it serves its own level and every level above; its
 * fused GEMV repeats its own level's tile arithmetic, so it serves that
 * level only. */
typedef struct simd_table {
    lq_simd_level level;
    const lq_panel_simd_decoder *decoders;
    const int *count;
} simd_table;

static const simd_table simd_tables[] = {
    {LQ_SIMD_AVX512, lq_panel_decoders_avx512, &lq_panel_decoders_avx512_count},
    {LQ_SIMD_AVX512, lq_panel_decoders_avx512_iqk, &lq_panel_decoders_avx512_iqk_count},
    {LQ_SIMD_AVX512, lq_panel_decoders_avx512_trellis, &lq_panel_decoders_avx512_trellis_count},
    {LQ_SIMD_AVX512, lq_panel_decoders_avx512_groups, &lq_panel_decoders_avx512_groups_count},
    {LQ_SIMD_AVX512, lq_panel_decoders_avx512_q8, &lq_panel_decoders_avx512_q8_count},
    {LQ_SIMD_AVX512, lq_panel_decoders_avx512_lattice, &lq_panel_decoders_avx512_lattice_count},
    {LQ_SIMD_AVX2, lq_panel_decoders_avx2_trellis, &lq_panel_decoders_avx2_trellis_count},
    {LQ_SIMD_AVX2, lq_panel_decoders_avx2_legacy, &lq_panel_decoders_avx2_legacy_count},
    {LQ_SIMD_AVX2, lq_panel_decoders_avx2_kquants, &lq_panel_decoders_avx2_kquants_count},
    {LQ_SIMD_AVX2, lq_panel_decoders_avx2_groups, &lq_panel_decoders_avx2_groups_count},
    {LQ_SIMD_AVX2, lq_panel_decoders_avx2_lattice, &lq_panel_decoders_avx2_lattice_count},
};
enum { SIMD_TABLES = sizeof simd_tables / sizeof simd_tables[0] };

int lq_panel_simd_decoder_count(void) {
    int n = 0;
    for (int t = 0; t < SIMD_TABLES; t++)
        n += *simd_tables[t].count;
    return n;
}

const lq_panel_simd_decoder *lq_panel_simd_decoder_at(int i, lq_simd_level *level) {
    for (int t = 0; t < SIMD_TABLES; i -= *simd_tables[t].count, t++)
        if (i < *simd_tables[t].count) {
            *level = simd_tables[t].level;
            return &simd_tables[t].decoders[i];
        }
    return NULL;
}

/* The best decoder of `type` at `level` or below, and its level. */
static const lq_panel_simd_decoder *simd_decoder(int type, lq_simd_level level,
                                                 lq_simd_level *found) {
    for (int t = 0; t < SIMD_TABLES; t++) {
        if (simd_tables[t].level > level)
            continue;
        for (int i = 0; i < *simd_tables[t].count; i++)
            if (simd_tables[t].decoders[i].type == type) {
                *found = simd_tables[t].level;
                return &simd_tables[t].decoders[i];
            }
    }
    return NULL;
}

lq_panel_decode_fn lq_panel_decode_simd(int type, lq_simd_level level) {
    lq_simd_level found;
    const lq_panel_simd_decoder *d = simd_decoder(type, level, &found);
    return d ? d->decode : NULL;
}

lq_panel_gemv_fn lq_panel_gemv_simd(int type, lq_simd_level level) {
    lq_simd_level found;
    const lq_panel_simd_decoder *d = simd_decoder(type, level, &found);
    return d && found == level ? d->gemv : NULL;
}

lq_panel_group_decode_fn lq_panel_group_decode_simd(int type, lq_simd_level level) {
    lq_simd_level found;
    const lq_panel_simd_decoder *d = simd_decoder(type, level, &found);
    return d ? d->group : NULL;
}

void lq_panel_lane_order(int8_t *level) {
    int8_t natural[LQ_PANEL_K];
    memcpy(natural, level, sizeof natural);
    for (int s = 0; s < 4; s++)
        for (int lane = 0; lane < LQ_PANEL_GROUPS; lane++)
            memcpy(level + 64 * s + 4 * lane, natural + 16 * lane + 4 * s, 4);
}
