/*
 * Codec family "legacy": q4_0, q4_1, q5_0, q5_1, q6_0, q8_0.
 *
 * Blocks of 32 weights with an fp16 scale d (and, for the affine types, an
 * fp16 offset m), then the integers:
 *   - symmetric types store level L = q + 2^(bits-1) and decode q * d;
 *   - affine types (q4_1, q5_1) store L = q and decode q * d + m;
 *   - q8_0 stores q as int8.
 * Low nibbles go to qs[j] (weight j in bits 0-3, weight j + 16 in bits 4-7).
 * Extra high bits: q5_x keeps a 32-bit mask, bit j for weight j; q6_0 keeps
 * two bits per weight in qh[8]: weight j (< 16) in bits 4*(j/8) + {0,1} of
 * qh[j % 8], weight j + 16 in the two bits above those.
 *
 * Encoding searches the scale (and offset) that minimises the squared error,
 * weighted by the importance matrix when there is one, then rounds every
 * weight to the nearest level of the stored (fp16) scale.
 *
 * Code ranges the readers of these formats assume (the reference's kernels
 * and encoders): every 4-, 5- and 6-bit level is valid, so q4_0, q4_1,
 * q5_0, q5_1 and q6_0 use their whole grids. q8_0 codes stay in
 * [-127, 127]: the reference's int8 dot products take |q| and sign(q), and
 * |-128| is not an int8; its q8_0_r8 kernels add 127 to make the codes
 * unsigned. A q8_0 block holding -128 decodes right but computes wrong
 * there, so the encoder never writes it. The scales are finite fp16.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "codec.h"
#include "codec_rows.h"
#include "common.h"
#include "scale_search.h"

#define BLOCK 32

typedef struct legacy_format {
    int bits;     /* bits per weight: 4, 5, 6 or 8 */
    bool affine;  /* stores an offset m after d */
    int bytes;    /* bytes per block */
    int qmin;     /* symmetric types: lowest integer written (see above) */
} legacy_format;

static const legacy_format q4_0_format = {4, false, 18, -8};
static const legacy_format q4_1_format = {4, true, 20, 0};
static const legacy_format q5_0_format = {5, false, 22, -16};
static const legacy_format q5_1_format = {5, true, 24, 0};
static const legacy_format q6_0_format = {6, false, 26, -32};
static const legacy_format q8_0_format = {8, false, 34, -127};

static int header_bytes(const legacy_format *f) { return f->affine ? 4 : 2; }

/* Symmetric types store q + bias; affine types store q itself. */
static int level_bias(const legacy_format *f) {
    return (f->affine || f->bits == 8) ? 0 : 1 << (f->bits - 1);
}

/* ------------------------------------------------------------ bit packing */

static void pack_levels(const legacy_format *f, const int *level,
                        uint8_t *payload) {
    if (f->bits == 8) {
        for (int j = 0; j < BLOCK; j++)
            payload[j] = (uint8_t)(int8_t)level[j];
        return;
    }
    int high_bytes = f->bits == 4 ? 0 : f->bits == 5 ? 4 : 8;
    uint8_t *qh = payload;
    uint8_t *qs = payload + high_bytes;
    memset(qh, 0, (size_t)high_bytes);
    uint32_t mask = 0;
    for (int j = 0; j < BLOCK / 2; j++) {
        int lo = level[j], hi = level[j + BLOCK / 2];
        qs[j] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
        if (f->bits == 5) {
            mask |= (uint32_t)((lo >> 4) & 1) << j;
            mask |= (uint32_t)((hi >> 4) & 1) << (j + BLOCK / 2);
        } else if (f->bits == 6) {
            int two_pairs = ((lo >> 4) & 3) | (((hi >> 4) & 3) << 2);
            qh[j % 8] |= (uint8_t)(two_pairs << (4 * (j / 8)));
        }
    }
    if (f->bits == 5)
        for (int b = 0; b < 4; b++)
            qh[b] = (uint8_t)(mask >> (8 * b));
}

static void unpack_levels(const legacy_format *f, const uint8_t *payload,
                          int *level) {
    if (f->bits == 8) {
        for (int j = 0; j < BLOCK; j++)
            level[j] = (int8_t)payload[j];
        return;
    }
    int high_bytes = f->bits == 4 ? 0 : f->bits == 5 ? 4 : 8;
    const uint8_t *qh = payload;
    const uint8_t *qs = payload + high_bytes;
    uint32_t mask = 0;
    if (f->bits == 5)
        for (int b = 0; b < 4; b++)
            mask |= (uint32_t)qh[b] << (8 * b);
    for (int j = 0; j < BLOCK / 2; j++) {
        int lo = qs[j] & 0x0f, hi = qs[j] >> 4;
        if (f->bits == 5) {
            lo |= (int)((mask >> j) & 1) << 4;
            hi |= (int)((mask >> (j + BLOCK / 2)) & 1) << 4;
        } else if (f->bits == 6) {
            int two_pairs = qh[j % 8] >> (4 * (j / 8));
            lo |= (two_pairs & 3) << 4;
            hi |= ((two_pairs >> 2) & 3) << 4;
        }
        level[j] = lo;
        level[j + BLOCK / 2] = hi;
    }
}

/* --------------------------------------------------------------- decoding */

static void decode_block(const legacy_format *f, const uint8_t *block,
                         float *y) {
    float d = lq_half_to_float(lq_load_u16(block));
    int level[BLOCK];
    unpack_levels(f, block + header_bytes(f), level);
    int bias = level_bias(f);
    if (f->affine) {
        float m = lq_half_to_float(lq_load_u16(block + 2));
        for (int j = 0; j < BLOCK; j++)
            y[j] = (float)level[j] * d + m;
    } else {
        for (int j = 0; j < BLOCK; j++)
            y[j] = (float)(level[j] - bias) * d;
    }
}

static void decode_row(const legacy_format *f, const void *src, float *dst,
                       int64_t ncols) {
    const uint8_t *block = src;
    for (int64_t i = 0; i < ncols / BLOCK; i++, block += f->bytes)
        decode_block(f, block, dst + i * BLOCK);
}

/* --------------------------------------------------------------- encoding */

/* How widely the scale of a legacy block is searched: the largest value
 * (the range, for q4_1 and q5_1) mapped to a grid end give or take one
 * level, then polished by least-squares refits. Measured on Gaussian and
 * heavy-tailed rows: for the symmetric types half-level steps lose under
 * 0.1% of error against fifth-level steps at half the time; for the affine
 * types, also trying the range anchored at its top end gains 1-2% (with an
 * importance matrix) over a finer sweep anchored at the bottom only. */
static const lq_sweep symmetric_sweep = {1.0f, 0.5f, false, 1};
static const lq_sweep affine_sweep = {1.0f, 1.0f / 3, false, 2};
/* q8_0's levels are fine enough that the max-abs scale, polished by
 * least-squares refits, is as good as a sweep. */
static const lq_sweep q8_0_sweep = {0.0f, 1.0f, false, 1};

/* A block normalised for the searches of scale_search.c: x * 2^-exponent
 * (exact) and weights scaled to at most 1. */
typedef struct normalised_block {
    float x[BLOCK], w[BLOCK];
    int exponent;
} normalised_block;

static void normalise_block(const float *x, const float *imatrix_slice,
                            normalised_block *nb) {
    nb->exponent = lq_block_exponent(BLOCK, x);
    lq_scale_by_pow2(BLOCK, x, nb->exponent, nb->x);
    if (imatrix_slice) {
        memcpy(nb->w, imatrix_slice, sizeof nb->w);
        lq_normalise_weights(BLOCK, nb->w);
    } else {
        for (int j = 0; j < BLOCK; j++)
            nb->w[j] = 1.0f;
    }
}

/* Store a normalised scale as fp16 and return the stored value, normalised
 * back (exact: the exponent is a power of two). */
static float store_scale(float d, int exponent, uint8_t *dst) {
    float stored;
    lq_store_u16(dst, lq_scale_to_fp16(ldexpf(d, exponent), &stored));
    return ldexpf(stored, -exponent);
}

static void encode_symmetric_block(const legacy_format *f,
                                   const normalised_block *nb,
                                   uint8_t *block) {
    int qmax = (1 << (f->bits - 1)) - 1;
    lq_sweep sweep = f->bits == 8 ? q8_0_sweep : symmetric_sweep;
    float d = lq_search_symmetric(BLOCK, nb->x, nb->w, f->qmin, qmax, sweep, NULL);
    float stored = store_scale(d, nb->exponent, block);
    int level[BLOCK];
    lq_round_symmetric(BLOCK, nb->x, nb->w, stored, f->qmin, qmax, level);
    for (int j = 0; j < BLOCK; j++)
        level[j] += level_bias(f);
    pack_levels(f, level, block + header_bytes(f));
}

static void encode_affine_block(const legacy_format *f,
                                const normalised_block *nb, uint8_t *block) {
    int qmax = (1 << f->bits) - 1;
    float m;
    float d = lq_search_affine(BLOCK, nb->x, nb->w, qmax, false, affine_sweep, &m, NULL);
    float d_stored = store_scale(d, nb->exponent, block);
    float m_stored = store_scale(m, nb->exponent, block + 2);
    int level[BLOCK];
    lq_round_affine(BLOCK, nb->x, nb->w, d_stored, m_stored, qmax, level);
    pack_levels(f, level, block + 4);
}

static void encode_row(const legacy_format *f, const float *src, void *dst,
                       int64_t ncols, const float *imatrix) {
    uint8_t *block = dst;
    normalised_block nb;
    for (int64_t i = 0; i < ncols / BLOCK; i++, block += f->bytes) {
        normalise_block(src + i * BLOCK, imatrix ? imatrix + i * BLOCK : NULL, &nb);
        if (f->affine)
            encode_affine_block(f, &nb, block);
        else
            encode_symmetric_block(f, &nb, block);
    }
}

/* ------------------------------------------------------------ codec table */

LQ_ROW_CODEC(q4_0, &q4_0_format, encode_row, decode_row)
LQ_ROW_CODEC(q4_1, &q4_1_format, encode_row, decode_row)
LQ_ROW_CODEC(q5_0, &q5_0_format, encode_row, decode_row)
LQ_ROW_CODEC(q5_1, &q5_1_format, encode_row, decode_row)
LQ_ROW_CODEC(q6_0, &q6_0_format, encode_row, decode_row)
LQ_ROW_CODEC(q8_0, &q8_0_format, encode_row, decode_row)

static const lq_codec legacy_codecs[] = {
    {LQ_TYPE_Q4_0, quantize_q4_0, dequantize_q4_0, NULL, NULL},
    {LQ_TYPE_Q4_1, quantize_q4_1, dequantize_q4_1, NULL, NULL},
    {LQ_TYPE_Q5_0, quantize_q5_0, dequantize_q5_0, NULL, NULL},
    {LQ_TYPE_Q5_1, quantize_q5_1, dequantize_q5_1, NULL, NULL},
    {LQ_TYPE_Q6_0, quantize_q6_0, dequantize_q6_0, NULL, NULL},
    {LQ_TYPE_Q8_0, quantize_q8_0, dequantize_q8_0, NULL, NULL},
};

const lq_codec_family lq_family_legacy = {
    "legacy", legacy_codecs, sizeof legacy_codecs / sizeof legacy_codecs[0]};
