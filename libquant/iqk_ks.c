/*
 * Codec family "iqk_ks": the IQK types with one scale per row and small
 * integer scales per block of 32 (iq2_ks, iq3_ks, iq4_ks, iq4_kss, iq5_ks,
 * iq2_kl).
 *
 * Every type is handled through one unpacked form (ks_superblock: a value
 * index per weight, or per pair for iq2_kl, plus an integer scale and a
 * table-half bit per block of 32); each type only says how that form maps to
 * its bytes. Decoding is then d * scale * table[index].
 *
 * Encoding (ks_encode.c) works on that form too; this file holds the layouts
 * and the decoders.
 *
 * Code ranges the readers assume: every index, scale code and table-half
 * bit is valid; the row scale is a finite float.
 */
#include <string.h>

#include "codec.h"
#include "common.h"
#include "iqk_ks_internal.h"
#include "iqk_tables.h"

/* ------------------------------------------------------------------------ */
/* iq2_ks: u16 extra (bits 0-7 half bits, 8-15 scale bit 4), 4 bytes of
 * scale nibbles, 64 bytes of 2-bit indices (4 blocks share a byte).         */

static void pack_iq2_ks(const ks_superblock *sb, uint8_t *dst) {
    uint8_t *scales = dst + 2, *qs = dst + 6;
    uint16_t extra = 0;
    memset(dst, 0, 70);
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        int u = sb->code[ib] + 16;
        extra |= (uint16_t)((sb->half[ib] << ib) | ((u >> 4) << (8 + ib)));
        scales[ib / 2] |= (uint8_t)((u & 15) << 4 * (ib % 2));
        for (int j = 0; j < 32; ++j)
            qs[32 * (ib / 4) + j] |= (uint8_t)(sb->idx[32 * ib + j] << 2 * (ib % 4));
    }
    lq_store_u16(dst, extra);
}

static void unpack_iq2_ks(const uint8_t *src, ks_superblock *sb) {
    uint16_t extra = lq_load_u16(src);
    const uint8_t *scales = src + 2, *qs = src + 6;
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        int u = ((scales[ib / 2] >> 4 * (ib % 2)) & 15) | (((extra >> (8 + ib)) & 1) << 4);
        sb->code[ib] = (int16_t)(u - 16);
        sb->half[ib] = (extra >> ib) & 1;
        for (int j = 0; j < 32; ++j)
            sb->idx[32 * ib + j] = (qs[32 * (ib / 4) + j] >> 2 * (ib % 4)) & 3;
    }
}

/* ------------------------------------------------------------------------ */
/* iq3_ks: u16 extra (bits 0-7 scale bit 4, 8-15 half bits), 4 bytes of
 * scale nibbles (block ib in byte ib%4), 64 bytes of low index bits, 32
 * bytes of high index bits (bit ib).                                        */

static void pack_iq3_ks(const ks_superblock *sb, uint8_t *dst) {
    uint8_t *scales = dst + 2, *qs = dst + 6, *qh = dst + 70;
    uint16_t extra = 0;
    memset(dst, 0, 102);
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        int u = sb->code[ib] + 16;
        extra |= (uint16_t)(((u >> 4) << ib) | (sb->half[ib] << (8 + ib)));
        scales[ib % 4] |= (uint8_t)((u & 15) << 4 * (ib / 4));
        for (int j = 0; j < 32; ++j) {
            int q = sb->idx[32 * ib + j];
            qs[32 * (ib / 4) + j] |= (uint8_t)((q & 3) << 2 * (ib % 4));
            qh[j] |= (uint8_t)((q >> 2) << ib);
        }
    }
    lq_store_u16(dst, extra);
}

static void unpack_iq3_ks(const uint8_t *src, ks_superblock *sb) {
    uint16_t extra = lq_load_u16(src);
    const uint8_t *scales = src + 2, *qs = src + 6, *qh = src + 70;
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        int u = ((scales[ib % 4] >> 4 * (ib / 4)) & 15) | (((extra >> ib) & 1) << 4);
        sb->code[ib] = (int16_t)(u - 16);
        sb->half[ib] = (extra >> (8 + ib)) & 1;
        for (int j = 0; j < 32; ++j)
            sb->idx[32 * ib + j] = (uint8_t)(((qs[32 * (ib / 4) + j] >> 2 * (ib % 4)) & 3) |
                                             (((qh[j] >> ib) & 1) << 2));
    }
}

/* ------------------------------------------------------------------------ */
/* Scale byte of iq4_ks, iq5_ks and iq4_kss: bit 0 the half, bits 1-7 the
 * odd scale (code + 127).                                                    */

static uint8_t odd_scale_byte(const ks_superblock *sb, int ib) {
    return (uint8_t)((sb->code[ib] + 127) | sb->half[ib]);
}

static void set_odd_scale(ks_superblock *sb, int ib, uint8_t byte) {
    sb->code[ib] = (int16_t)((byte & 254) - 127);
    sb->half[ib] = byte & 1;
}

/* iq4_ks: 8 scale bytes, then 16 bytes per block: weight j in the low
 * nibble of byte j, weight j+16 in its high nibble.                         */

static void pack_iq4_ks(const ks_superblock *sb, uint8_t *dst) {
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        const uint8_t *idx = sb->idx + 32 * ib;
        dst[ib] = odd_scale_byte(sb, ib);
        for (int j = 0; j < 16; ++j)
            dst[8 + 16 * ib + j] = (uint8_t)(idx[j] | (idx[j + 16] << 4));
    }
}

static void unpack_iq4_ks(const uint8_t *src, ks_superblock *sb) {
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        uint8_t *idx = sb->idx + 32 * ib;
        set_odd_scale(sb, ib, src[ib]);
        for (int j = 0; j < 16; ++j) {
            idx[j] = src[8 + 16 * ib + j] & 15;
            idx[j + 16] = src[8 + 16 * ib + j] >> 4;
        }
    }
}

/* iq5_ks: 8 scale bytes, 128 bytes of low nibbles (blocks 2k, 2k+1 share
 * 32 bytes), 32 bytes of fifth bits (bit ib).                               */

static void pack_iq5_ks(const ks_superblock *sb, uint8_t *dst) {
    uint8_t *qs = dst + 8, *qh = dst + 136;
    memset(dst, 0, 168);
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        dst[ib] = odd_scale_byte(sb, ib);
        for (int j = 0; j < 32; ++j) {
            int q = sb->idx[32 * ib + j];
            qs[32 * (ib / 2) + j] |= (uint8_t)((q & 15) << 4 * (ib % 2));
            qh[j] |= (uint8_t)((q >> 4) << ib);
        }
    }
}

static void unpack_iq5_ks(const uint8_t *src, ks_superblock *sb) {
    const uint8_t *qs = src + 8, *qh = src + 136;
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        set_odd_scale(sb, ib, src[ib]);
        for (int j = 0; j < 32; ++j)
            sb->idx[32 * ib + j] = (uint8_t)(((qs[32 * (ib / 2) + j] >> 4 * (ib % 2)) & 15) |
                                             (((qh[j] >> ib) & 1) << 4));
    }
}

/* iq4_kss: 8 u16 words per block. Word k carries bit k of the scale byte in
 * bit 0 and, in bits 1-15, the 15-bit s whose s ^ (s << 1) is the word of
 * four indices (weights 2k, 2k+16, 2k+1, 2k+17). Only index words of even
 * popcount have such an s, which the encoder guarantees.                     */

static uint16_t kss_index_word(const uint8_t *idx, int k) {
    return (uint16_t)(idx[2 * k] | (idx[2 * k + 16] << 4) | (idx[2 * k + 1] << 8) |
                      (idx[2 * k + 17] << 12));
}

static uint16_t prefix_xor(uint16_t v) {
    v ^= (uint16_t)(v << 1);
    v ^= (uint16_t)(v << 2);
    v ^= (uint16_t)(v << 4);
    v ^= (uint16_t)(v << 8);
    return v;
}

static void pack_iq4_kss(const ks_superblock *sb, uint8_t *dst) {
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        uint8_t scale = odd_scale_byte(sb, ib);
        for (int k = 0; k < 8; ++k) {
            uint16_t s = prefix_xor(kss_index_word(sb->idx + 32 * ib, k)) & 0x7fff;
            lq_store_u16(dst + 16 * ib + 2 * k, (uint16_t)((s << 1) | ((scale >> k) & 1)));
        }
    }
}

static void unpack_iq4_kss(const uint8_t *src, ks_superblock *sb) {
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        uint8_t *idx = sb->idx + 32 * ib;
        uint8_t scale = 0;
        for (int k = 0; k < 8; ++k) {
            uint16_t word = lq_load_u16(src + 16 * ib + 2 * k);
            uint16_t a = word & 0xfffe;
            uint16_t v = a ^ (uint16_t)(a >> 1);
            scale |= (uint8_t)((word & 1) << k);
            idx[2 * k] = v & 15;
            idx[2 * k + 16] = (v >> 4) & 15;
            idx[2 * k + 1] = (v >> 8) & 15;
            idx[2 * k + 17] = v >> 12;
        }
        set_odd_scale(sb, ib, scale);
    }
}

/* iq2_kl: u16 with the top 2 bits of each 6-bit scale, 4 bytes of scale
 * nibbles (block ib in byte ib%4), 64 bytes of low 4 bits of pair indices
 * (blocks 2k, 2k+1 share 16 bytes), 16 bytes of fifth bits (bit ib).         */

static void pack_iq2_kl(const ks_superblock *sb, uint8_t *dst) {
    uint8_t *scales_l = dst + 2, *qs = dst + 6, *qh = dst + 70;
    uint16_t scales_h = 0;
    memset(dst, 0, 86);
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        int u = sb->code[ib] + 32;
        scales_h |= (uint16_t)((u >> 4) << 2 * ib);
        scales_l[ib % 4] |= (uint8_t)((u & 15) << 4 * (ib / 4));
        for (int j = 0; j < 16; ++j) {
            int p = sb->idx[16 * ib + j];
            qs[16 * (ib / 2) + j] |= (uint8_t)((p & 15) << 4 * (ib % 2));
            qh[j] |= (uint8_t)((p >> 4) << ib);
        }
    }
    lq_store_u16(dst, scales_h);
}

static void unpack_iq2_kl(const uint8_t *src, ks_superblock *sb) {
    uint16_t scales_h = lq_load_u16(src);
    const uint8_t *scales_l = src + 2, *qs = src + 6, *qh = src + 70;
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        int u = ((scales_l[ib % 4] >> 4 * (ib / 4)) & 15) | (((scales_h >> 2 * ib) & 3) << 4);
        sb->code[ib] = (int16_t)(u - 32);
        sb->half[ib] = 0;
        for (int j = 0; j < 16; ++j)
            sb->idx[16 * ib + j] = (uint8_t)(((qs[16 * (ib / 2) + j] >> 4 * (ib % 2)) & 15) |
                                             (((qh[j] >> ib) & 1) << 4));
    }
}

/* ------------------------------------------------------------------------ */
/* Format descriptions                                                       */

/* Weighting (see iqk_ks_encode.c): with an imatrix w = qw * sqrt(s2 + x^2)
 * with s2 = imatrix_sigma * mean x^2 of the superblock (as the reference);
 * without one, w = x^2 + plain_sigma * mean x^2: large weights matter more,
 * but small ones, the bulk of a row, still count.
 *
 * Search effort (speed against error, see iqk_ks_encode.c): iq2_ks, with
 * the smallest table, keeps the exact sweep. iq3_ks used it too, but the
 * grid is 1.75x faster and as good: vectors plain 0.908 -> 0.903, weighted
 * 0.955 -> 0.957; generated rows (geometric mean) 0.851 -> 0.849 and
 * 0.899 -> 0.898. ntry, the dense grid without an imatrix, went from 5-7 to
 * 3 (4 for iq2_kl, whose plain error is the closest to the reference's:
 * 0.9949 at 5, 0.9954 at 4, 0.9956 at 3) with no measurable loss. */
const ks_format ks_iq2_ks = {
    .type = LQ_TYPE_IQ2_KS, .type_size = 70, .row_meta = 2, .values = lq_iq2nl_values,
    .nvalues = 4, .nhalves = 2, .code_min = -16, .code_max = 15, .code_step = 1,
    .imatrix_sigma = 1.5f, .plain_sigma = 1.0f, .search = KS_SEARCH_SWEEP,
    .assign = KS_ASSIGN_NEAREST, .pack = pack_iq2_ks, .unpack = unpack_iq2_ks,
};
const ks_format ks_iq3_ks = {
    .type = LQ_TYPE_IQ3_KS, .type_size = 102, .row_meta = 2, .values = lq_iq3nl_values,
    .nvalues = 8, .nhalves = 2, .code_min = -16, .code_max = 15, .code_step = 1,
    .imatrix_sigma = 2.0f, .plain_sigma = 1.0f, .search = KS_SEARCH_GRID, .ntry = 3,
    .assign = KS_ASSIGN_NEAREST, .pack = pack_iq3_ks, .unpack = unpack_iq3_ks,
};
const ks_format ks_iq4_ks = {
    .type = LQ_TYPE_IQ4_KS, .type_size = 136, .row_meta = 4, .values = lq_iq4k_values,
    .nvalues = 16, .nhalves = 2, .code_min = -127, .code_max = 127, .code_step = 2,
    .imatrix_sigma = 2.0f, .plain_sigma = 1.0f, .search = KS_SEARCH_GRID, .ntry = 3,
    .assign = KS_ASSIGN_NEAREST, .pack = pack_iq4_ks, .unpack = unpack_iq4_ks,
};
const ks_format ks_iq4_kss = {
    .type = LQ_TYPE_IQ4_KSS, .type_size = 128, .row_meta = 4, .values = lq_iq4k_values,
    .nvalues = 16, .nhalves = 2, .code_min = -127, .code_max = 127, .code_step = 2,
    .imatrix_sigma = 2.0f, .plain_sigma = 1.0f, .search = KS_SEARCH_GRID, .ntry = 3,
    .assign = KS_ASSIGN_EVEN_PARITY, .pack = pack_iq4_kss, .unpack = unpack_iq4_kss,
};
const ks_format ks_iq5_ks = {
    .type = LQ_TYPE_IQ5_KS, .type_size = 168, .row_meta = 4, .values = lq_iq5nl_values,
    .nvalues = 32, .nhalves = 2, .code_min = -127, .code_max = 127, .code_step = 2,
    .imatrix_sigma = 2.0f, .plain_sigma = 1.0f, .search = KS_SEARCH_GRID, .ntry = 3,
    .assign = KS_ASSIGN_NEAREST, .pack = pack_iq5_ks, .unpack = unpack_iq5_ks,
};
const ks_format ks_iq2_kl = {
    .type = LQ_TYPE_IQ2_KL, .type_size = 86, .row_meta = 2, .values = lq_iq3nl_values,
    .nvalues = 8, .nhalves = 1, .code_min = -32, .code_max = 31, .code_step = 1,
    .imatrix_sigma = 2.25f, .plain_sigma = 1.0f, .search = KS_SEARCH_GRID, .ntry = 4,
    .assign = KS_ASSIGN_PAIRS, .pack = pack_iq2_kl, .unpack = unpack_iq2_kl,
};

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */

float ks_load_row_scale(const ks_format *f, const void *src) {
    return f->row_meta == 2 ? lq_half_to_float(lq_load_u16(src)) : lq_load_f32(src);
}

static void decode_superblock(const ks_format *f, const ks_superblock *sb, float d, float *y) {
    for (int ib = 0; ib < KS_BLOCKS; ++ib) {
        float dl = d * (float)sb->code[ib];
        if (f->assign == KS_ASSIGN_PAIRS) {
            for (int j = 0; j < 16; ++j) {
                const int8_t *pair = ks_iq2kl_pair(sb->idx[16 * ib + j]);
                y[32 * ib + 2 * j] = dl * (float)pair[0];
                y[32 * ib + 2 * j + 1] = dl * (float)pair[1];
            }
        } else {
            const int8_t *values = f->values + f->nvalues * sb->half[ib];
            for (int j = 0; j < 32; ++j)
                y[32 * ib + j] = dl * (float)values[sb->idx[32 * ib + j]];
        }
    }
}

static void ks_dequantize(const ks_format *f, const void *src, float *dst, int64_t ncols) {
    const uint8_t *bytes = src;
    float d = ks_load_row_scale(f, bytes);
    ks_superblock sb;
    for (int64_t i = 0; i < ncols / KS_SUPER; ++i) {
        f->unpack(bytes + f->row_meta + i * f->type_size, &sb);
        decode_superblock(f, &sb, d, dst + i * KS_SUPER);
    }
}

#define KS_CODEC_FUNCTIONS(name)                                                     \
    static int quantize_##name(const float *src, void *dst, int64_t ncols,           \
                               const float *imatrix) {                               \
        return ks_quantize_row(&ks_##name, src, dst, ncols, imatrix);                \
    }                                                                                \
    static void dequantize_##name(const void *src, float *dst, int64_t ncols) {      \
        ks_dequantize(&ks_##name, src, dst, ncols);                                  \
    }

KS_CODEC_FUNCTIONS(iq2_ks)
KS_CODEC_FUNCTIONS(iq3_ks)
KS_CODEC_FUNCTIONS(iq4_ks)
KS_CODEC_FUNCTIONS(iq4_kss)
KS_CODEC_FUNCTIONS(iq5_ks)
KS_CODEC_FUNCTIONS(iq2_kl)

static const lq_codec iqk_ks_codecs[] = {
    {LQ_TYPE_IQ2_KS, quantize_iq2_ks, dequantize_iq2_ks, NULL, NULL},
    {LQ_TYPE_IQ3_KS, quantize_iq3_ks, dequantize_iq3_ks, NULL, NULL},
    {LQ_TYPE_IQ4_KS, quantize_iq4_ks, dequantize_iq4_ks, NULL, NULL},
    {LQ_TYPE_IQ4_KSS, quantize_iq4_kss, dequantize_iq4_kss, NULL, NULL},
    {LQ_TYPE_IQ5_KS, quantize_iq5_ks, dequantize_iq5_ks, NULL, NULL},
    {LQ_TYPE_IQ2_KL, quantize_iq2_kl, dequantize_iq2_kl, NULL, NULL},
};

const lq_codec_family lq_family_iqk_ks = {"iqk_ks", iqk_ks_codecs,
                                          sizeof iqk_ks_codecs / sizeof iqk_ks_codecs[0]};
