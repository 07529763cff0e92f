/*
 * Internal contract between the type registry and the per-family codec files.
 *
 * A family file (legacy.c, kquants.c, iqk.c, ...) exports one lq_codec_family
 * listing the types it implements. The registry dispatches lq_quantize_rows /
 * lq_dequantize_rows / lq_repack_rows through these tables after it has
 * validated the shape, the buffer sizes and (for quantized types) that the
 * input is finite, so codec functions may assume valid arguments:
 *   - ncols is a positive multiple of the type's block size;
 *   - src/dst hold exactly one *group*: `interleave` consecutive rows
 *     (one row for ordinary types), including the per-row meta bytes;
 *   - imatrix is NULL or ncols non-negative finite weights (a zero means
 *     the column was never used);
 *   - the input floats are finite.
 */
#ifndef LIBQUANT_CODEC_H
#define LIBQUANT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

/* Quantize one group (interleave rows x ncols floats) into dst.
 * Returns LQ_OK, or LQ_ERR_NO_MEMORY if a scratch allocation failed. */
typedef int (*lq_quantize_group_fn)(const float *src, void *dst, int64_t ncols,
                                    const float *imatrix);
/* Decode one group (interleave rows) into interleave x ncols floats. */
typedef void (*lq_dequantize_group_fn)(const void *src, float *dst,
                                       int64_t ncols);
/* Interleave one group of `interleave` base rows, or undo it. */
typedef void (*lq_repack_group_fn)(const void *src, void *dst, int64_t ncols);

typedef struct lq_codec {
    int type;
    lq_quantize_group_fn quantize;     /* NULL: cannot encode */
    lq_dequantize_group_fn dequantize; /* NULL: cannot decode */
    lq_repack_group_fn repack;         /* base rows -> interleaved (or NULL) */
    lq_repack_group_fn unpack;         /* interleaved -> base rows (or NULL) */
} lq_codec;

typedef struct lq_codec_family {
    const char *name;
    const lq_codec *codecs;
    size_t count;
} lq_codec_family;

/* One per source file; a family with nothing yet has count 0. */
extern const lq_codec_family lq_family_float;      /* float.c */
extern const lq_codec_family lq_family_legacy;     /* legacy.c */
extern const lq_codec_family lq_family_kquants;    /* kquants.c: q2_K .. q6_K, q8_K */
extern const lq_codec_family lq_family_nonlinear;  /* nonlinear.c: iq4_nl, iq4_xs, mxfp4 */
extern const lq_codec_family lq_family_bitnet;     /* bitnet.c */
extern const lq_codec_family lq_family_q8;         /* q8.c: q8_KV */
extern const lq_codec_family lq_family_lattice;    /* lattice*.c: iq1..iq3 i-quants */
extern const lq_codec_family lq_family_iqk;        /* iqk.c: iq2_k .. iq6_k */
extern const lq_codec_family lq_family_iqk_ks;     /* iqk_ks.c: _ks, _kss, _kl */
extern const lq_codec_family lq_family_trellis;    /* trellis.c */
extern const lq_codec_family lq_family_interleaved; /* interleaved*.c */

/* Look up the codec of a type (NULL if no family implements it). */
const lq_codec *lq_codec_find(int type);

#endif /* LIBQUANT_CODEC_H */
