/*
 * Row-interleaved types that repack a base type: the shared description of
 * their layouts (private to interleaved*.c).
 *
 * A repack never changes a value, it only moves it. So each interleaved type
 * is described as a list of fields: "value j of every row, `width` bits wide,
 * sits here in the base block and there in the interleaved block". The value
 * index j is written in a mixed radix (least significant digit first); each
 * digit adds its own stride to the bit position on either side, so the many
 * shuffles of the reference (nibble planes, scale planes, 4-byte chunks) are
 * all tables of strides instead of loops.
 *
 * Positions are in bits: inside one base block of one row, and inside one
 * interleaved block (N rows x type_size bytes), where row k adds
 * k * row_stride. The per-row data before the first block (the row scales of
 * iq2_bn, iq4_ks, iq5_ks) is stored as the N rows' meta bytes one after the
 * other at the start of the group.
 */
#ifndef LIBQUANT_INTERLEAVED_H
#define LIBQUANT_INTERLEAVED_H

#include <stdint.h>

#include "codec.h"

#define LQ_IL_MAX_DIGITS 7

typedef struct lq_il_digit {
    uint16_t radix;        /* 0 ends the list */
    uint16_t base_stride;  /* bits per unit of this digit in the base block */
    uint16_t inter_stride; /* ... and in the interleaved block */
} lq_il_digit;

/* A value whose bits are not merely moved but recoded. */
typedef enum lq_il_transform {
    LQ_IL_COPY = 0,
    /* 7 sign bits of 8 (the 8th is their parity): the base stores them as
     * they are, the interleaved type as their running XOR, so that a kernel
     * recovers the signs with one shift and one XOR. */
    LQ_IL_SIGNS_RUNNING_XOR = 1,
} lq_il_transform;

typedef struct lq_il_field {
    uint8_t width;        /* bits per value, 1..32 */
    uint8_t transform;    /* lq_il_transform */
    uint16_t base_offset; /* bit position of value 0 */
    uint16_t inter_offset;
    uint16_t row_stride;  /* bits from row k to row k+1 (interleaved side) */
    lq_il_digit digits[LQ_IL_MAX_DIGITS];
} lq_il_field;

typedef struct lq_il_layout {
    int type;      /* the interleaved type; base type and sizes come from
                      the registry */
    const lq_il_field *fields;
    int field_count;
} lq_il_layout;

/* A layout compiled into byte moves (interleaved.c), or NULL. */
typedef struct lq_il_plan lq_il_plan;
const lq_il_plan *lq_il_compile(const lq_il_layout *L);

#define LQ_IL_LAYOUT(type_id, field_table) \
    {(type_id), (field_table), (int)(sizeof(field_table) / sizeof((field_table)[0]))}

/* interleaved_legacy.c: 32-weight blocks and iq4_xs, iq4_ks, iq2_bn */
extern const lq_il_layout lq_il_q4_0_r8, lq_il_mxfp4_r8, lq_il_q8_0_r8,
    lq_il_q5_0_r4, lq_il_q6_0_r4, lq_il_iq4_nl_r4, lq_il_iq4_xs_r8,
    lq_il_iq4_ks_r4, lq_il_iq2_bn_r4;
/* interleaved_kquants.c */
extern const lq_il_layout lq_il_q2_k_r4, lq_il_q3_k_r4, lq_il_q4_k_r4,
    lq_il_q5_k_r4, lq_il_q6_k_r4;
/* interleaved_iquants.c: the lattice i-quants */
extern const lq_il_layout lq_il_iq2_xxs_r4, lq_il_iq2_xs_r4, lq_il_iq2_s_r4,
    lq_il_iq3_xxs_r4, lq_il_iq3_s_r4;
/* interleaved_iqk.c */
extern const lq_il_layout lq_il_iq2_k_r4, lq_il_iq3_k_r4, lq_il_iq4_k_r4,
    lq_il_iq5_k_r4, lq_il_iq5_ks_r4;

/* interleaved_q8k.c: q8_k_r8 and q8_k_r16, formats of their own */
int lq_il_quantize_q8_k_r8(const float *src, void *dst, int64_t ncols,
                           const float *imatrix);
void lq_il_dequantize_q8_k_r8(const void *src, float *dst, int64_t ncols);
int lq_il_quantize_q8_k_r16(const float *src, void *dst, int64_t ncols,
                            const float *imatrix);
void lq_il_dequantize_q8_k_r16(const void *src, float *dst, int64_t ncols);
/* into q8_K rows (the kernels' packed path) */
void lq_il_unpack_q8_k_r8(const void *src, void *dst, int64_t ncols);
void lq_il_unpack_q8_k_r16(const void *src, void *dst, int64_t ncols);

#endif /* LIBQUANT_INTERLEAVED_H */
