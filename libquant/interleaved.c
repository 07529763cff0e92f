/*
 * Codec family "interleaved": the _r4/_r8/_r16 types, which store N rows
 * block by block so that kernels load N rows at once.
 *
 * Most of them repack a base type. Their layouts are tables (interleaved.h);
 * this file moves values between the base rows and the interleaved group
 * following those tables, and builds the codec functions on top:
 *   repack / unpack  the table, one block column (N blocks) at a time;
 *   dequantize       unpack a block column, decode it with the base codec;
 *   quantize         quantize each row with the base codec, then repack.
 * bf16_r16 (2-column units, no blocks) and q8_KV_r8 (row data shrinks from
 * 8 to 4 bytes) have small functions of their own; q8_k_r8 and q8_k_r16 are
 * formats of their own (interleaved_q8k.c).
 *
 * Code ranges: an interleaved type holds its base type's codes, so the base
 * codec's rules apply (q8_0_r8 and q8_KV_r8 codes stay in [-127, 127]: the
 * reference's kernels add 127 to them).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common.h"
#include <pthread.h>

#include "interleaved.h"

/* Bytes of one block column decoded at a time (N rows x (row data + block)). */
#define COLUMN_BUFFER_BYTES 2048
#define MAX_INTERLEAVE 16

/* ---- bit access ---------------------------------------------------------- */

static uint32_t read_bits(const uint8_t *p, uint32_t pos, unsigned width) {
    const uint8_t *at = p + pos / 8;
    unsigned shift = pos % 8;
    uint64_t mask = (UINT64_C(1) << width) - 1;
    if (shift + width <= 8)
        return (uint32_t)((at[0] >> shift) & mask);
    uint64_t v = 0;
    for (unsigned b = 0; b < (shift + width + 7) / 8; b++)
        v |= (uint64_t)at[b] << (8 * b);
    return (uint32_t)((v >> shift) & mask);
}

static void write_bits(uint8_t *p, uint32_t pos, unsigned width, uint32_t value) {
    uint8_t *at = p + pos / 8;
    unsigned shift = pos % 8;
    uint64_t mask = ((UINT64_C(1) << width) - 1) << shift;
    uint64_t bits = ((uint64_t)value << shift) & mask;
    for (unsigned b = 0; b < (shift + width + 7) / 8; b++) {
        uint8_t m = (uint8_t)(mask >> (8 * b));
        at[b] = (uint8_t)((at[b] & ~m) | (uint8_t)(bits >> (8 * b)));
    }
}

/* ---- value transforms ---------------------------------------------------- */

static uint32_t signs_to_running_xor(uint32_t s) {
    uint32_t t = s;
    t ^= t << 1;
    t ^= t << 2;
    t ^= t << 4;
    return t & 0x7f;
}

static uint32_t running_xor_to_signs(uint32_t t) { return (t ^ (t << 1)) & 0x7f; }

static uint32_t to_interleaved(const lq_il_field *f, uint32_t v) {
    return f->transform == LQ_IL_SIGNS_RUNNING_XOR ? signs_to_running_xor(v) : v;
}

static uint32_t to_base(const lq_il_field *f, uint32_t v) {
    return f->transform == LQ_IL_SIGNS_RUNNING_XOR ? running_xor_to_signs(v) : v;
}

/* ---- walking the values of a field --------------------------------------- */

/* The bit positions of value j of one row, on both sides, for j = 0, 1, ...
 * (a mixed-radix counter over the field's digits). */
typedef struct value_cursor {
    const lq_il_field *field;
    uint16_t digit[LQ_IL_MAX_DIGITS];
    uint32_t base_pos, inter_pos;
} value_cursor;

static void cursor_start(value_cursor *c, const lq_il_field *f, int row) {
    c->field = f;
    memset(c->digit, 0, sizeof c->digit);
    c->base_pos = f->base_offset;
    c->inter_pos = f->inter_offset + (uint32_t)row * f->row_stride;
}

/* Advance to the next value; false after the last one. */
static bool cursor_next(value_cursor *c) {
    for (int d = 0; d < LQ_IL_MAX_DIGITS; d++) {
        const lq_il_digit *dg = &c->field->digits[d];
        if (dg->radix == 0)
            return false;
        c->base_pos += dg->base_stride;
        c->inter_pos += dg->inter_stride;
        if (++c->digit[d] < dg->radix)
            return true;
        c->base_pos -= (uint32_t)dg->radix * dg->base_stride;
        c->inter_pos -= (uint32_t)dg->radix * dg->inter_stride;
        c->digit[d] = 0;
    }
    return false;
}

/* One block column: base[k] is row k's block, inter the N-row block. */
static void repack_column(const lq_il_layout *L, int rows,
                          const uint8_t *const base[], uint8_t *inter) {
    for (int f = 0; f < L->field_count; f++) {
        const lq_il_field *field = &L->fields[f];
        for (int k = 0; k < rows; k++) {
            value_cursor c;
            cursor_start(&c, field, k);
            do {
                uint32_t v = read_bits(base[k], c.base_pos, field->width);
                write_bits(inter, c.inter_pos, field->width, to_interleaved(field, v));
            } while (cursor_next(&c));
        }
    }
}

static void unpack_column(const lq_il_layout *L, int rows, const uint8_t *inter,
                          uint8_t *const base[]) {
    for (int f = 0; f < L->field_count; f++) {
        const lq_il_field *field = &L->fields[f];
        for (int k = 0; k < rows; k++) {
            value_cursor c;
            cursor_start(&c, field, k);
            do {
                uint32_t v = read_bits(inter, c.inter_pos, field->width);
                write_bits(base[k], c.base_pos, field->width, to_base(field, v));
            } while (cursor_next(&c));
        }
    }
}

/* ---- compiled unpacking ----------------------------------------------------
 * Walking the digits of every value is slow (a few ns a weight). A layout
 * whose fields only move bits is compiled, once, into byte operations:
 * base byte |= ((interleaved byte >> right) << left) & mask, sorted by base
 * byte. Then runs of 8 or 4 consecutive base bytes whose operations are the
 * same but for consecutive source bytes become one operation on a 64- or
 * 32-bit word (little-endian, as GGUF and this library assume everywhere;
 * the mask keeps bits shifted across a byte boundary out), and
 * each base word is gathered in a register and stored once (an OR into
 * memory per op would chain on store forwarding). Built lazily per layout
 * under pthread_once (TABLE_CODEC). */

typedef struct byte_op {
    uint16_t src;    /* byte in the interleaved block column */
    uint16_t dst;    /* byte in the row's base block */
    uint8_t row;
    uint8_t right, left; /* (byte >> right) << left: one of them is 0 */
    uint8_t mask;    /* of the destination bits */
    uint8_t last;    /* the last op of its destination byte */
} byte_op;

typedef struct word_op {
    uint64_t mask;   /* of the destination bits, `width` bytes */
    uint16_t src, dst;
    uint8_t row, right, left;
    uint8_t width;   /* 8, 4 or 1 bytes */
    uint8_t last;    /* the last op of its destination word */
} word_op;

/* ops[0, wide) have width 8, [wide, narrow) 4, then 1: a loop each, whose
 * loads and stores know their width */
struct lq_il_plan {
    int count, wide, narrow;
    word_op ops[];
};

typedef struct byte_ops {
    int count;
    byte_op *ops;
} byte_ops;

static void add_op(byte_ops *plan, int row, int dst, int src, int shift, uint8_t bit) {
    const uint8_t right = (uint8_t)(shift > 0 ? shift : 0), left = (uint8_t)(shift < 0 ? -shift : 0);
    byte_op *prev = plan->count ? &plan->ops[plan->count - 1] : NULL;
    if (prev && prev->row == row && prev->dst == dst && prev->src == src && prev->right == right &&
        prev->left == left) {
        prev->mask |= bit;
        return;
    }
    if (prev)
        prev->last = prev->row != row || prev->dst != dst;
    plan->ops[plan->count++] = (byte_op){(uint16_t)src, (uint16_t)dst, (uint8_t)row, right, left,
                                         bit, 1};
}

/* The ops of the base byte starting at op i: their count. */
static int byte_op_count(const byte_ops *b, int i) {
    int n = 1;
    while (!b->ops[i + n - 1].last)
        n++;
    return n;
}

/* Whether the `width` base bytes from the one at op i are filled the same
 * way from consecutive source bytes (each with n ops). */
static bool same_shape(const byte_ops *b, int i, int n, int width) {
    if (i + n * width > b->count)
        return false;
    const byte_op *first = &b->ops[i];
    for (int k = 1; k < width; k++) {
        if (byte_op_count(b, i + k * n) != n)
            return false;
        for (int t = 0; t < n; t++) {
            const byte_op *a = &first[t], *o = &b->ops[i + k * n + t];
            if (o->row != a->row || o->dst != a->dst + k || o->src != a->src + k ||
                o->right != a->right || o->left != a->left || o->mask != a->mask)
                return false;
        }
    }
    return true;
}

static void widen(const byte_ops *b, lq_il_plan *plan) {
    static const int widths[] = {8, 4, 1};
    plan->count = 0;
    for (int w = 0; w < 3; w++) {
        for (int i = 0; i < b->count;) {
            const int n = byte_op_count(b, i);
            const int width = same_shape(b, i, n, 8) ? 8 : same_shape(b, i, n, 4) ? 4 : 1;
            for (int t = 0; t < n && width == widths[w]; t++) {
                const byte_op *o = &b->ops[i + t];
                uint64_t mask = 0;
                for (int k = 0; k < width; k++)
                    mask |= (uint64_t)o->mask << (8 * k);
                plan->ops[plan->count++] = (word_op){mask, o->src, o->dst, o->row, o->right,
                                                     o->left, (uint8_t)width, (uint8_t)(t == n - 1)};
            }
            i += n * width;
        }
        if (w == 0)
            plan->wide = plan->count;
        else if (w == 1)
            plan->narrow = plan->count;
    }
}

/* NULL when a field recodes its values (or out of memory): the caller then
 * walks the digits. */
const lq_il_plan *lq_il_compile(const lq_il_layout *L) {
    const lq_type_info *info = lq_type_get(L->type);
    const int rows = info->interleave, block_bits = 8 * info->type_size;
    for (int f = 0; f < L->field_count; f++)
        if (L->fields[f].transform != LQ_IL_COPY)
            return NULL;
    int32_t *source = malloc(sizeof(int32_t) * (size_t)(rows * block_bits));
    byte_ops bytes = {0, malloc(sizeof(byte_op) * (size_t)(rows * block_bits))};
    lq_il_plan *plan = malloc(sizeof *plan + sizeof(word_op) * (size_t)(rows * block_bits));
    if (!source || !bytes.ops || !plan) {
        free(source);
        free(bytes.ops);
        free(plan);
        return NULL;
    }
    for (int i = 0; i < rows * block_bits; i++)
        source[i] = -1;
    for (int f = 0; f < L->field_count; f++) {
        const lq_il_field *field = &L->fields[f];
        for (int k = 0; k < rows; k++) {
            value_cursor c;
            cursor_start(&c, field, k);
            do {
                for (unsigned b = 0; b < field->width; b++)
                    source[k * block_bits + (int)(c.base_pos + b)] = (int32_t)(c.inter_pos + b);
            } while (cursor_next(&c));
        }
    }
    for (int k = 0; k < rows; k++)
        for (int bit = 0; bit < block_bits; bit++) {
            const int32_t from = source[k * block_bits + bit];
            if (from >= 0)
                add_op(&bytes, k, bit / 8, from / 8, from % 8 - bit % 8, (uint8_t)(1u << (bit % 8)));
        }
    free(source);
    widen(&bytes, plan);
    free(bytes.ops);
    return plan;
}

/* Ops [begin, end) of one width: each destination gathered in a register,
 * stored once. */
#define UNPACK_OPS(begin, end, load, store)                                           \
    do {                                                                              \
        uint64_t value = 0;                                                           \
        for (int i = (begin); i < (end); i++) {                                       \
            const word_op *op = &plan->ops[i];                                        \
            value |= ((uint64_t)load(inter + op->src) >> op->right << op->left) & op->mask; \
            if (op->last) {                                                           \
                store(base[op->row] + op->dst, value);                                \
                value = 0;                                                            \
            }                                                                         \
        }                                                                             \
    } while (0)

static uint8_t load_u8(const uint8_t *p) { return p[0]; }
static void store_u8(uint8_t *p, uint64_t v) { p[0] = (uint8_t)v; }
static void store_u32(uint8_t *p, uint64_t v) { lq_store_u32(p, (uint32_t)v); }

static void unpack_column_planned(const lq_il_plan *plan, const uint8_t *inter,
                                  uint8_t *const base[]) {
    UNPACK_OPS(0, plan->wide, lq_load_u64, lq_store_u64);
    UNPACK_OPS(plan->wide, plan->narrow, lq_load_u32, store_u32);
    UNPACK_OPS(plan->narrow, plan->count, load_u8, store_u8);
}

/* ---- group geometry ------------------------------------------------------ */

typedef struct group_shape {
    int rows;                 /* interleave factor N */
    int base_type;
    int64_t blocks;           /* blocks per row */
    int64_t block_size;       /* weights per block */
    size_t block_bytes;       /* bytes of one block of one row (both sides) */
    size_t base_meta;         /* row data before the first block, base row */
    size_t inter_meta;        /* the same in the interleaved type, per row */
    size_t base_row_bytes;
} group_shape;

static group_shape shape_of(int type, int64_t ncols) {
    const lq_type_info *info = lq_type_get(type);
    const lq_type_info *base = lq_type_get(info->base_type);
    group_shape s;
    s.rows = info->interleave;
    s.base_type = info->base_type;
    s.block_size = info->block_size;
    s.blocks = ncols / info->block_size;
    s.block_bytes = (size_t)info->type_size;
    s.base_meta = (size_t)base->row_meta_size;
    s.inter_meta = (size_t)info->row_meta_size;
    s.base_row_bytes = s.base_meta + (size_t)s.blocks * s.block_bytes;
    return s;
}

/* The row data both forms share (q8_KV's row sum is not kept, see below). */
static size_t shared_meta(const group_shape *s) {
    return s->base_meta < s->inter_meta ? s->base_meta : s->inter_meta;
}

static const uint8_t *inter_block(const uint8_t *group, const group_shape *s,
                                  int64_t ib) {
    return group + s->rows * s->inter_meta + ib * s->rows * s->block_bytes;
}

/* q8_KV rows carry, after their f32 scale, the int32 sum of their quants,
 * which q8_KV_r8 drops; unpacking recomputes it. */
static void complete_base_row(const group_shape *s, uint8_t *row) {
    if (s->base_type != LQ_TYPE_Q8_KV)
        return;
    int32_t sum = 0;
    const int8_t *q = (const int8_t *)(row + s->base_meta);
    const int64_t count = s->blocks * (int64_t)s->block_bytes;
    for (int64_t j = 0; j < count; j++)
        sum += q[j];
    memcpy(row + 4, &sum, sizeof sum);
}

/* ---- the generic codec functions ----------------------------------------- */

static void il_repack(const lq_il_layout *L, const void *src, void *dst,
                      int64_t ncols) {
    const group_shape s = shape_of(L->type, ncols);
    const uint8_t *in = src;
    uint8_t *out = dst;
    const size_t meta = shared_meta(&s);
    for (int k = 0; k < s.rows; k++)
        memcpy(out + k * s.inter_meta, in + k * s.base_row_bytes, meta);
    const uint8_t *base[MAX_INTERLEAVE];
    for (int64_t ib = 0; ib < s.blocks; ib++) {
        for (int k = 0; k < s.rows; k++)
            base[k] = in + k * s.base_row_bytes + s.base_meta + ib * s.block_bytes;
        uint8_t *block = (uint8_t *)inter_block(out, &s, ib);
        memset(block, 0, s.rows * s.block_bytes);
        repack_column(L, s.rows, base, block);
    }
}

static void il_unpack(const lq_il_layout *L, const lq_il_plan *plan, const void *src,
                      void *dst, int64_t ncols) {
    const group_shape s = shape_of(L->type, ncols);
    const uint8_t *in = src;
    uint8_t *out = dst;
    memset(out, 0, s.rows * s.base_row_bytes);
    const size_t meta = shared_meta(&s);
    for (int k = 0; k < s.rows; k++)
        memcpy(out + k * s.base_row_bytes, in + k * s.inter_meta, meta);
    uint8_t *base[MAX_INTERLEAVE];
    for (int64_t ib = 0; ib < s.blocks; ib++) {
        for (int k = 0; k < s.rows; k++)
            base[k] = out + k * s.base_row_bytes + s.base_meta + ib * s.block_bytes;
        if (plan)
            unpack_column_planned(plan, inter_block(in, &s, ib), base);
        else
            unpack_column(L, s.rows, inter_block(in, &s, ib), base);
    }
    for (int k = 0; k < s.rows; k++)
        complete_base_row(&s, out + k * s.base_row_bytes);
}

static void fill_nan(float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        dst[i] = NAN;
}

/* Decode one block column at a time: unpack it into N one-block base rows
 * (row data + block) and let the base codec decode each of them. */
static void il_dequantize(const lq_il_layout *L, const lq_il_plan *plan, const void *src,
                          float *dst, int64_t ncols) {
    const group_shape s = shape_of(L->type, ncols);
    const lq_codec *base_codec = lq_codec_find(s.base_type);
    const size_t mini_row = s.base_meta + s.block_bytes;
    if (!base_codec || !base_codec->dequantize ||
        s.rows * mini_row > COLUMN_BUFFER_BYTES) {
        fill_nan(dst, s.rows * ncols); /* base codec missing: nothing valid */
        return;
    }
    const uint8_t *in = src;
    uint8_t column[COLUMN_BUFFER_BYTES];
    memset(column, 0, sizeof column);
    const size_t meta = shared_meta(&s);
    uint8_t *base[MAX_INTERLEAVE];
    for (int k = 0; k < s.rows; k++) {
        memcpy(column + k * mini_row, in + k * s.inter_meta, meta);
        base[k] = column + k * mini_row + s.base_meta;
    }
    for (int64_t ib = 0; ib < s.blocks; ib++) {
        if (plan)
            unpack_column_planned(plan, inter_block(in, &s, ib), base);
        else
            unpack_column(L, s.rows, inter_block(in, &s, ib), base);
        for (int k = 0; k < s.rows; k++)
            base_codec->dequantize(column + k * mini_row,
                                   dst + k * ncols + ib * s.block_size,
                                   s.block_size);
    }
}

static int il_quantize(const lq_il_layout *L, const float *src, void *dst,
                       int64_t ncols, const float *imatrix) {
    const group_shape s = shape_of(L->type, ncols);
    const lq_codec *base_codec = lq_codec_find(s.base_type);
    if (!base_codec || !base_codec->quantize)
        return LQ_ERR_UNSUPPORTED;
    uint8_t *rows = malloc(s.rows * s.base_row_bytes);
    if (!rows)
        return LQ_ERR_NO_MEMORY;
    int st = LQ_OK;
    for (int k = 0; k < s.rows && st == LQ_OK; k++)
        st = base_codec->quantize(src + k * ncols, rows + k * s.base_row_bytes,
                                  ncols, imatrix);
    if (st == LQ_OK)
        il_repack(L, rows, dst, ncols);
    free(rows);
    return st;
}

/* ---- q8_KV_r8 ------------------------------------------------------------ */

/* Row scales (f32) of the 8 rows, then units of 16 columns: 4-byte chunk l
 * of row k at 32l + 4k. Chunk l + 4u of a 32-column block, u < 2, lands in
 * unit u. */
static const lq_il_field q8_kv_r8_fields[] = {
    {32, LQ_IL_COPY, 0, 0, 32, {{4, 32, 256}, {2, 128, 1024}}},
};
static const lq_il_layout q8_kv_r8_layout = LQ_IL_LAYOUT(LQ_TYPE_Q8_KV_R8, q8_kv_r8_fields);

/* ---- bf16_r16 ------------------------------------------------------------ */

/* Columns go in pairs: value c of row k is entry 32(c / 2) + 2k + c % 2; an
 * odd last column (outside what the reference accepts) holds 16 entries. */
static size_t bf16_r16_entry(int64_t ncols, int k, int64_t c) {
    if (c == ncols - 1 && ncols % 2 == 1)
        return (size_t)(16 * c + k);
    return (size_t)(32 * (c / 2) + 2 * k + c % 2);
}

static void bf16_r16_repack(const void *src, void *dst, int64_t ncols) {
    const uint8_t *in = src;
    uint8_t *out = dst;
    for (int k = 0; k < 16; k++)
        for (int64_t c = 0; c < ncols; c++)
            memcpy(out + 2 * bf16_r16_entry(ncols, k, c), in + 2 * (k * ncols + c), 2);
}

static void bf16_r16_unpack(const void *src, void *dst, int64_t ncols) {
    const uint8_t *in = src;
    uint8_t *out = dst;
    for (int k = 0; k < 16; k++)
        for (int64_t c = 0; c < ncols; c++)
            memcpy(out + 2 * (k * ncols + c), in + 2 * bf16_r16_entry(ncols, k, c), 2);
}

static void bf16_r16_dequantize(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int k = 0; k < 16; k++)
        for (int64_t c = 0; c < ncols; c++)
            dst[k * ncols + c] =
                lq_bf16_to_float(lq_load_u16(in + 2 * bf16_r16_entry(ncols, k, c)));
}

static int bf16_r16_quantize(const float *src, void *dst, int64_t ncols,
                             const float *imatrix) {
    (void)imatrix;
    uint8_t *rows = malloc((size_t)(16 * ncols) * 2);
    if (!rows)
        return LQ_ERR_NO_MEMORY;
    for (int64_t i = 0; i < 16 * ncols; i++)
        lq_store_u16(rows + 2 * i, lq_float_to_bf16(src[i]));
    bf16_r16_repack(rows, dst, ncols);
    free(rows);
    return LQ_OK;
}

/* ---- the family table ---------------------------------------------------- */

/* The four codec functions of a table-driven type. */
#define TABLE_CODEC(name, layout)                                              \
    static pthread_once_t name##_once = PTHREAD_ONCE_INIT;                     \
    static const lq_il_plan *name##_plan; /* written once under name##_once */ \
    static void name##_compile(void) { name##_plan = lq_il_compile(&(layout)); } \
    static int name##_quantize(const float *src, void *dst, int64_t ncols,     \
                               const float *imatrix) {                         \
        return il_quantize(&(layout), src, dst, ncols, imatrix);               \
    }                                                                          \
    static void name##_dequantize(const void *src, float *dst, int64_t ncols) { \
        pthread_once(&name##_once, name##_compile);                            \
        il_dequantize(&(layout), name##_plan, src, dst, ncols);                \
    }                                                                          \
    static void name##_repack(const void *src, void *dst, int64_t ncols) {     \
        il_repack(&(layout), src, dst, ncols);                                 \
    }                                                                          \
    static void name##_unpack(const void *src, void *dst, int64_t ncols) {     \
        pthread_once(&name##_once, name##_compile);                            \
        il_unpack(&(layout), name##_plan, src, dst, ncols);                    \
    }

TABLE_CODEC(q4_0_r8, lq_il_q4_0_r8)
TABLE_CODEC(q5_0_r4, lq_il_q5_0_r4)
TABLE_CODEC(q6_0_r4, lq_il_q6_0_r4)
TABLE_CODEC(q8_0_r8, lq_il_q8_0_r8)
TABLE_CODEC(mxfp4_r8, lq_il_mxfp4_r8)
TABLE_CODEC(iq4_nl_r4, lq_il_iq4_nl_r4)
TABLE_CODEC(iq4_xs_r8, lq_il_iq4_xs_r8)
TABLE_CODEC(iq4_ks_r4, lq_il_iq4_ks_r4)
TABLE_CODEC(iq2_bn_r4, lq_il_iq2_bn_r4)
TABLE_CODEC(q2_k_r4, lq_il_q2_k_r4)
TABLE_CODEC(q3_k_r4, lq_il_q3_k_r4)
TABLE_CODEC(q4_k_r4, lq_il_q4_k_r4)
TABLE_CODEC(q5_k_r4, lq_il_q5_k_r4)
TABLE_CODEC(q6_k_r4, lq_il_q6_k_r4)
TABLE_CODEC(iq2_xxs_r4, lq_il_iq2_xxs_r4)
TABLE_CODEC(iq2_xs_r4, lq_il_iq2_xs_r4)
TABLE_CODEC(iq2_s_r4, lq_il_iq2_s_r4)
TABLE_CODEC(iq3_xxs_r4, lq_il_iq3_xxs_r4)
TABLE_CODEC(iq3_s_r4, lq_il_iq3_s_r4)
TABLE_CODEC(iq2_k_r4, lq_il_iq2_k_r4)
TABLE_CODEC(iq3_k_r4, lq_il_iq3_k_r4)
TABLE_CODEC(iq4_k_r4, lq_il_iq4_k_r4)
TABLE_CODEC(iq5_k_r4, lq_il_iq5_k_r4)
TABLE_CODEC(iq5_ks_r4, lq_il_iq5_ks_r4)
TABLE_CODEC(q8_kv_r8, q8_kv_r8_layout)

#define TABLE_ENTRY(id, name) \
    {id, name##_quantize, name##_dequantize, name##_repack, name##_unpack}

static const lq_codec interleaved_codecs[] = {
    TABLE_ENTRY(LQ_TYPE_Q4_0_R8, q4_0_r8),
    TABLE_ENTRY(LQ_TYPE_Q5_0_R4, q5_0_r4),
    TABLE_ENTRY(LQ_TYPE_Q6_0_R4, q6_0_r4),
    TABLE_ENTRY(LQ_TYPE_Q8_0_R8, q8_0_r8),
    TABLE_ENTRY(LQ_TYPE_MXFP4_R8, mxfp4_r8),
    TABLE_ENTRY(LQ_TYPE_IQ4_NL_R4, iq4_nl_r4),
    TABLE_ENTRY(LQ_TYPE_IQ4_XS_R8, iq4_xs_r8),
    TABLE_ENTRY(LQ_TYPE_IQ4_KS_R4, iq4_ks_r4),
    TABLE_ENTRY(LQ_TYPE_IQ2_BN_R4, iq2_bn_r4),
    TABLE_ENTRY(LQ_TYPE_Q2_K_R4, q2_k_r4),
    TABLE_ENTRY(LQ_TYPE_Q3_K_R4, q3_k_r4),
    TABLE_ENTRY(LQ_TYPE_Q4_K_R4, q4_k_r4),
    TABLE_ENTRY(LQ_TYPE_Q5_K_R4, q5_k_r4),
    TABLE_ENTRY(LQ_TYPE_Q6_K_R4, q6_k_r4),
    TABLE_ENTRY(LQ_TYPE_IQ2_XXS_R4, iq2_xxs_r4),
    TABLE_ENTRY(LQ_TYPE_IQ2_XS_R4, iq2_xs_r4),
    TABLE_ENTRY(LQ_TYPE_IQ2_S_R4, iq2_s_r4),
    TABLE_ENTRY(LQ_TYPE_IQ3_XXS_R4, iq3_xxs_r4),
    TABLE_ENTRY(LQ_TYPE_IQ3_S_R4, iq3_s_r4),
    TABLE_ENTRY(LQ_TYPE_IQ2_K_R4, iq2_k_r4),
    TABLE_ENTRY(LQ_TYPE_IQ3_K_R4, iq3_k_r4),
    TABLE_ENTRY(LQ_TYPE_IQ4_K_R4, iq4_k_r4),
    TABLE_ENTRY(LQ_TYPE_IQ5_K_R4, iq5_k_r4),
    TABLE_ENTRY(LQ_TYPE_IQ5_KS_R4, iq5_ks_r4),
    TABLE_ENTRY(LQ_TYPE_Q8_KV_R8, q8_kv_r8),
    TABLE_ENTRY(LQ_TYPE_BF16_R16, bf16_r16),
    {LQ_TYPE_Q8_K_R8, lq_il_quantize_q8_k_r8, lq_il_dequantize_q8_k_r8, NULL,
     lq_il_unpack_q8_k_r8},
    {LQ_TYPE_Q8_K_R16, lq_il_quantize_q8_k_r16, lq_il_dequantize_q8_k_r16, NULL,
     lq_il_unpack_q8_k_r16},
};

const lq_codec_family lq_family_interleaved = {
    "interleaved", interleaved_codecs,
    sizeof interleaved_codecs / sizeof interleaved_codecs[0]};
