/*
 * Scalar decoders of the lattice i-quants (iq1_s, iq1_m, iq2_xxs, iq2_xs,
 * iq2_s, iq3_xxs, iq3_s) and the Bitnet types (iq1_bn, iq2_bn) into the
 * packed compute layout (panel.h), the specification of the SIMD ones.
 * Block layouts and values are those of libquant/lattice_iq1.c,
 * lattice_iq2.c, lattice_iq3.c and bitnet.c; there are no offsets.
 *
 *   iq2_*, iq3_*: a weight is a block scale times a grid coordinate (an
 *       unsigned magnitude) times a sign, so the level is the signed
 *       coordinate (iq2: 8, 25, 43; iq3_xxs: 4 .. 62; iq3_s: 1 .. 15) and
 *       the scale the codec's block scale, computed as the codec does, so
 *       that scale * level is the codec's product bit for bit.
 *   iq1_s, iq1_m: a weight is dl * (coordinate + shift), coordinate in
 *       {-1, 0, 1} and shift +-1/8, so the level is 8 coordinate +- 1 (in
 *       -9 .. 9) and the scale dl / 8 (exact: a power of two).
 *   iq1_bn, iq2_bn: a weight is the row scale times a trit: the level is
 *       the trit (iq2_bn's unused code 3 decodes as +2, as in the codec),
 *       the scale the row scale. Rows are 64-weight blocks, so a chunk may
 *       be short: it is padded with level 0 and scale 0.
 */

#include "common.h"
#include "lattice_grids.h"
#include "panel.h"

enum { SUPER = 256 };

static float half_at(const uint8_t *p) { return lq_half_to_float(lq_load_u16(p)); }

/* Seven stored sign bits and the eighth that makes their parity even. */
static unsigned signs_from7(unsigned s7) {
    unsigned parity = 0;
    for (int j = 0; j < 7; j++)
        parity ^= (s7 >> j) & 1u;
    return s7 | parity << 7;
}

/* Signed coordinates: n bytes of `point`, negated where bit j of signs is set. */
static void signed_point(uint64_t point, unsigned signs, int n, int8_t *level) {
    for (int j = 0; j < n; j++) {
        const int v = (int)(uint8_t)(point >> (8 * j));
        level[j] = (int8_t)((signs >> j) & 1u ? -v : v);
    }
}

/* The same scale on n / 16 groups from group g. */
static void set_scales(lq_panel_chunk *out, int g, int n, float scale) {
    for (int k = 0; k < n / 16; k++) {
        out->scale[g + k] = scale;
        out->offset[g + k] = 0.0f;
    }
}

/* ---- iq2_xxs: d, then per 32: 4 grid bytes, u32 of 4 x 7 sign bits and a
 * 4-bit scale on top; block scale d * (0.5 + l) / 4 ---------------------- */

static float iq2_scale(float d, unsigned l) { return d * (0.5f + (float)l) * 0.25f; }

static void decode_iq2_xxs(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 66;
    const float d = half_at(w);
    for (int ib = 0; ib < SUPER / 32; ib++) {
        const uint8_t *q = w + 2 + 8 * ib;
        const uint32_t aux = lq_load_u32(q + 4);
        for (int k = 0; k < 4; k++)
            signed_point(lq_iq2xxs_grid[q[k]], signs_from7((aux >> (7 * k)) & 127),
                         8, out->level + 32 * ib + 8 * k);
        set_scales(out, 2 * ib, 32, iq2_scale(d, aux >> 28));
    }
    (void)count;
}

/* ---- iq2_xs: d, 32 x u16 (9-bit index | 7 sign bits << 9), 16 nibble
 * scales per 16 ----------------------------------------------------------- */

static void decode_iq2_xs(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 74;
    const float d = half_at(w);
    for (int k = 0; k < SUPER / 8; k++) {
        const unsigned q = lq_load_u16(w + 2 + 2 * k);
        signed_point(lq_iq2xs_grid[q & 511], signs_from7(q >> 9), 8,
                     out->level + 8 * k);
    }
    for (int g = 0; g < LQ_PANEL_GROUPS; g++)
        set_scales(out, g, 16, iq2_scale(d, (w[66 + g / 2] >> (4 * (g % 2))) & 15));
    (void)count;
}

/* ---- iq2_s: d, 32 low index bytes, 32 sign bytes, 8 bytes of 2 high index
 * bits per group, 16 nibble scales per 16 ---------------------------------- */

static void decode_iq2_s(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 82;
    const float d = half_at(w);
    for (int k = 0; k < SUPER / 8; k++) {
        const int index = w[2 + k] | ((w[66 + k / 4] >> (2 * (k % 4))) & 3) << 8;
        signed_point(lq_iq2s_grid[index], w[34 + k], 8, out->level + 8 * k);
    }
    for (int g = 0; g < LQ_PANEL_GROUPS; g++)
        set_scales(out, g, 16, iq2_scale(d, (w[74 + g / 2] >> (4 * (g % 2))) & 15));
    (void)count;
}

/* ---- iq3_xxs: d, 64 grid bytes (4 coordinates each), then per 32 a u32 of
 * 4 x 7 sign bits and a 4-bit scale; block scale d * (0.5 + l) / 2 -------- */

static void decode_iq3_xxs(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 98;
    const float d = half_at(w);
    for (int ib = 0; ib < SUPER / 32; ib++) {
        const uint32_t aux = lq_load_u32(w + 66 + 4 * ib);
        for (int k = 0; k < 4; k++) {
            const uint8_t *q = w + 2 + 8 * ib + 2 * k;
            const unsigned signs = signs_from7((aux >> (7 * k)) & 127);
            int8_t *level = out->level + 32 * ib + 8 * k;
            signed_point(lq_iq3xxs_grid[q[0]], signs, 4, level);
            signed_point(lq_iq3xxs_grid[q[1]], signs >> 4, 4, level + 4);
        }
        set_scales(out, 2 * ib, 32, d * (0.5f + (float)(aux >> 28)) * 0.5f);
    }
    (void)count;
}

/* ---- iq3_s: d, 64 low index bytes, 8 bytes of high index bits (one per
 * group of 4), 32 sign bytes, 8 nibble scales per 32; d * (1 + 2 l) -------- */

static void decode_iq3_s(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 110;
    const float d = half_at(w);
    for (int g = 0; g < SUPER / 4; g++) {
        const int index = w[2 + g] | ((w[66 + g / 8] >> (g % 8)) & 1) << 8;
        signed_point(lq_iq3s_grid[index], w[74 + g / 2] >> (4 * (g % 2)), 4, out->level + 4 * g);
    }
    for (int ib = 0; ib < SUPER / 32; ib++)
        set_scales(out, 2 * ib, 32, d * (float)(1 + 2 * ((w[106 + ib / 2] >> (4 * (ib % 2))) & 15)));
    (void)count;
}

/* ---- iq1_s, iq1_m: levels 8 coordinate +- 1 ------------------------------- */

/* 8 weights of iq1s grid point `index`, shift -1/8 if negative else +1/8. */
static void iq1_levels(int index, int negative, int8_t *level) {
    const uint64_t point = lq_iq1s_grid[index];
    for (int j = 0; j < 8; j++)
        level[j] = (int8_t)(8 * (int8_t)(uint8_t)(point >> (8 * j)) + (negative ? -1 : 1));
}

/* d, 32 low index bytes, 8 x u16 (3 high index bits per group, 3-bit scale
 * << 12, negative shift << 15), per 32 */
static void decode_iq1_s(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 50;
    const float d = half_at(w);
    for (int ib = 0; ib < SUPER / 32; ib++) {
        const unsigned h = lq_load_u16(w + 34 + 2 * ib);
        for (int k = 0; k < 4; k++)
            iq1_levels(w[2 + 4 * ib + k] | ((h >> (3 * k)) & 7) << 8, (h & 0x8000u) != 0,
                       out->level + 32 * ib + 8 * k);
        set_scales(out, 2 * ib, 32, d * (float)(2 * ((h >> 12) & 7) + 1) * 0.125f);
    }
    (void)count;
}

/* 32 low index bytes, 16 bytes (per group of 8 a nibble: 3 high index
 * bits, negative shift bit), 4 x u16 of four 3-bit scales per 16 whose top
 * nibbles hold d */
static void decode_iq1_m(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 56;
    unsigned sc[4], dbits = 0;
    for (int k = 0; k < 4; k++) {
        sc[k] = lq_load_u16(w + 48 + 2 * k);
        dbits |= (sc[k] >> 12) << (4 * k);
    }
    const float d = lq_half_to_float((uint16_t)dbits);
    for (int ib = 0; ib < SUPER / 16; ib++) {
        const unsigned h = w[32 + ib];
        for (int k = 0; k < 2; k++)
            iq1_levels(w[2 * ib + k] | ((h >> (4 * k)) & 7) << 8, (h >> (4 * k + 3)) & 1,
                       out->level + 16 * ib + 8 * k);
        set_scales(out, ib, 16, d * (float)(2 * ((sc[ib / 4] >> (3 * (ib % 4))) & 7) + 1) * 0.125f);
    }
    (void)count;
}

/* ---- Bitnet: 64-weight blocks after the row scale ------------------------- */

enum { BN_BLOCK = 64, BN_BLOCKS = LQ_PANEL_K / BN_BLOCK };

/* Trit i of a byte of five base-3 digits scaled to 256 (libquant/bitnet.c):
 * times 3^(4 - i) modulo 256 brings it to the top. */
static int8_t bn_trit(uint8_t byte, int i) {
    static const uint8_t multiplier[5] = {81, 27, 9, 3, 1};
    const uint8_t v = (uint8_t)(byte * multiplier[i]);
    return (int8_t)(((v + (v >> 1)) >> 7) - 1);
}

/* fp16 row scale, then blocks of 13 bytes: group g of 16 keeps weights 0-14
 * in bytes 3 g .. 3 g + 2, weight 15 as trit g of byte 12 */
static void decode_iq1_bn(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const float d = half_at(row);
    const uint8_t *b = row + 2 + chunk * BN_BLOCKS * 13;
    for (int k = 0; k < count / BN_BLOCK; k++, b += 13)
        for (int g = 0; g < 4; g++) {
            int8_t *level = out->level + BN_BLOCK * k + 16 * g;
            for (int j = 0; j < 15; j++)
                level[j] = bn_trit(b[3 * g + j / 5], j % 5);
            level[15] = bn_trit(b[12], g);
            set_scales(out, 4 * k + g, 16, d);
        }
    lq_panel_pad_chunk(count, out);
}

/* f32 row scale, then blocks of 16 bytes: byte j holds trit + 1 of weights
 * j, j + 16, j + 32, j + 48 from the low bits up */
static void decode_iq2_bn(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const float d = lq_load_f32(row);
    const uint8_t *b = row + 4 + chunk * BN_BLOCKS * 16;
    for (int k = 0; k < count / BN_BLOCK; k++, b += 16) {
        for (int j = 0; j < 16; j++)
            for (int s = 0; s < 4; s++)
                out->level[BN_BLOCK * k + 16 * s + j] = (int8_t)(((b[j] >> (2 * s)) & 3) - 1);
        set_scales(out, 4 * k, BN_BLOCK, d);
    }
    lq_panel_pad_chunk(count, out);
}

/* ---- iq1_s_r4, iq1_m_r4: formats of their own (libquant/lattice_iq1_r4.c),
 * decoded a group of 4 rows at a time ------------------------------------- */

enum { R4_ROWS = 4, R4_BLOCK = 32 };

/* the weights of chunk `chunk` in the group's blocks of 32 */
static int r4_blocks(int64_t ncols, int64_t chunk) {
    const int64_t left = ncols - chunk * LQ_PANEL_K;
    return (int)((left < LQ_PANEL_K ? left : LQ_PANEL_K) / R4_BLOCK);
}

/* d[4], then per 32 columns 24 bytes: qs[4 point + row], per row a u16 of
 * 3 high index bits per point, a 3-bit scale l << 12 and the negative
 * shift << 15; weight = d (2 l + 1) (coordinate + shift) */
static void group_iq1_s_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                           lq_panel_chunk *out, int64_t out_stride) {
    const int blocks = r4_blocks(ncols, chunk);
    for (int k = 0; k < R4_ROWS; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        const float d = half_at(group + 2 * k);
        for (int ib = 0; ib < blocks; ib++) {
            const uint8_t *b = group + 2 * R4_ROWS + (chunk * (LQ_PANEL_K / R4_BLOCK) + ib) * 24;
            const unsigned h = lq_load_u16(b + 16 + 2 * k);
            for (int i = 0; i < 4; i++)
                iq1_levels(b[4 * i + k] | ((h >> (3 * i)) & 7) << 8, (h & 0x8000u) != 0,
                           o->level + 32 * ib + 8 * i);
            set_scales(o, 2 * ib, 32, d * (float)(2 * ((h >> 12) & 7) + 1) * 0.125f);
        }
        lq_panel_pad_chunk(blocks * R4_BLOCK, o);
        lq_panel_lane_order(o->level);
    }
}

/* d[4], then per 32 columns 28 bytes: qs[4 point + row], qh[4 half + row]
 * (per point a nibble: 3 high index bits, the negative shift), per row a
 * byte of two 4-bit scales l; weight = d l (coordinate + shift) */
static void group_iq1_m_r4(const uint8_t *group, int64_t ncols, int64_t chunk,
                           lq_panel_chunk *out, int64_t out_stride) {
    const int blocks = r4_blocks(ncols, chunk);
    for (int k = 0; k < R4_ROWS; k++) {
        lq_panel_chunk *o = &out[k * out_stride];
        const float d = half_at(group + 2 * k);
        for (int ib = 0; ib < blocks; ib++) {
            const uint8_t *b = group + 2 * R4_ROWS + (chunk * (LQ_PANEL_K / R4_BLOCK) + ib) * 28;
            const unsigned sc = b[24 + k];
            for (int half = 0; half < 2; half++) {
                const unsigned h = b[16 + 4 * half + k];
                for (int g = 0; g < 2; g++)
                    iq1_levels(b[4 * (2 * half + g) + k] | ((h >> (4 * g)) & 7) << 8,
                               (h >> (4 * g + 3)) & 1, o->level + 32 * ib + 16 * half + 8 * g);
                set_scales(o, 2 * ib + half, 16, d * (float)(half ? sc >> 4 : sc & 15) * 0.125f);
            }
        }
        lq_panel_pad_chunk(blocks * R4_BLOCK, o);
        lq_panel_lane_order(o->level);
    }
}

static const lq_panel_own_group own_groups[] = {
    {{LQ_TYPE_IQ1_S_R4, false, NULL}, group_iq1_s_r4},
    {{LQ_TYPE_IQ1_M_R4, false, NULL}, group_iq1_m_r4},
};

const lq_panel_own_group *lq_panel_own_group_find(int type) {
    for (size_t i = 0; i < sizeof own_groups / sizeof own_groups[0]; i++)
        if (own_groups[i].decoder.type == type)
            return &own_groups[i];
    return NULL;
}

const lq_panel_decoder lq_panel_decoders_lattice[] = {
    {LQ_TYPE_IQ1_S, false, decode_iq1_s},     {LQ_TYPE_IQ1_M, false, decode_iq1_m},
    {LQ_TYPE_IQ2_XXS, false, decode_iq2_xxs}, {LQ_TYPE_IQ2_XS, false, decode_iq2_xs},
    {LQ_TYPE_IQ2_S, false, decode_iq2_s},     {LQ_TYPE_IQ3_XXS, false, decode_iq3_xxs},
    {LQ_TYPE_IQ3_S, false, decode_iq3_s},     {LQ_TYPE_IQ1_BN, false, decode_iq1_bn},
    {LQ_TYPE_IQ2_BN, false, decode_iq2_bn},
};
const int lq_panel_decoders_lattice_count =
    (int)(sizeof lq_panel_decoders_lattice / sizeof lq_panel_decoders_lattice[0]);
