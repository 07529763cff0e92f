/*
 * Codec family "iqk": iq2_k, iq3_k, iq4_k, iq5_k, iq6_k.
 *
 * A 256-weight super-block holds an fp16 scale d and 16 sub-blocks of 16
 * weights. Each sub-block has a small signed integer scale ls and a bit that
 * selects one of two non-linear value tables (the base one or its "shifted"
 * variant); each weight is an index into that table:
 *     weight = (d * ls) * table[shifted][index]
 * The five types differ in table size and in how ls, the shifted bits and
 * the indices are packed. Each type converts between its bytes and one
 * common unpacked form (iqk_plan); decoding and the encoder's search work on
 * that form only.
 *
 * Code ranges the readers assume: every index, shift bit and packed scale
 * of iq2_k..iq5_k is valid. iq6_k's int8 sub-block scales stay in
 * [-127, 127], the range the reference's encoder writes. d is finite.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "iqk_tables.h"

enum {
    SUPER_BLOCK = 256,
    SUB_BLOCK = 16,
    SUB_BLOCKS = SUPER_BLOCK / SUB_BLOCK,
    MAX_TABLE = 64, /* values per table half (iq6_k) */
};

typedef struct iqk_plan {
    uint16_t d_half;   /* super-block scale, fp16 bits */
    uint16_t shifted;  /* bit b: sub-block b uses the shifted table */
    int8_t ls[SUB_BLOCKS];
    uint8_t idx[SUPER_BLOCK];
} iqk_plan;

typedef void (*iqk_pack_fn)(const iqk_plan *plan, uint8_t *block);
typedef void (*iqk_unpack_fn)(const uint8_t *block, iqk_plan *plan);

typedef struct iqk_format {
    int type;
    int nvalues;           /* entries per table half */
    const int8_t *values;  /* both halves; NULL: iq6_k's cubic */
    size_t block_bytes;
    int ls_min, ls_max;    /* sub-block scale range */
    bool ls_odd;           /* iq3_k: only odd scales exist */
    float sigma_factor;    /* sigma^2 = sigma_factor * mean(x^2) */
    int grid_half_width;   /* sub-block scale search: points each side */
    float grid_step;       /* ... spaced this far apart in table units */
    iqk_pack_fn pack;
    iqk_unpack_fn unpack;
} iqk_format;

/* ---------------------------------------------------------------------- */
/* Value tables                                                            */

/* Both table halves as floats, exactly as the decoder multiplies them. */
static void iqk_value_table(const iqk_format *f, float *out) {
    if (f->values) {
        for (int i = 0; i < 2 * f->nvalues; ++i)
            out[i] = f->values[i];
        return;
    }
    /* The reference's build contracts the cubic into fused multiply-adds;
     * its decoded values (the format's facts) are those of fmaf. */
    for (int i = 0; i < MAX_TABLE; ++i) {
        float q = (float)i;
        float v = fmaf(q, fmaf(q, fmaf(q, LQ_IQ6K_POLY_D, LQ_IQ6K_POLY_C), LQ_IQ6K_POLY_B),
                       LQ_IQ6K_POLY_A);
        out[i] = v;
        out[i + MAX_TABLE] = v + 1.f;
    }
}

/* A table half prepared for nearest-value queries. Its values are sorted
 * and more than 1 apart, so their midpoints are too, and a unit cell of the
 * number line holds at most one midpoint: the nearest index is the count of
 * midpoints below the cell plus one compare, with no branch. */
enum { LOOKUP_CELLS = 264 };

typedef struct iqk_half {
    const float *v;
    int n;
    float base;      /* floor(v[0]): cell i is [base + i, base + i + 1) */
    float last_cell; /* cells - 1, the clamp for queries past the end */
    uint8_t below[LOOKUP_CELLS];  /* midpoints <= base + i */
    float inside[LOOKUP_CELLS];   /* the midpoint inside cell i, or +inf */
    float value[2 * LOOKUP_CELLS];  /* v[below[i]] and the value past inside[i] */
    float mid[MAX_TABLE];           /* (v[k] + v[k + 1]) / 2 */
} iqk_half;

static void prepare_half(iqk_half *h, const float *v, int n) {
    h->v = v;
    h->n = n;
    h->base = floorf(v[0]);
    int cells = (int)ceilf(v[n - 1] - h->base) + 1;
    if (cells > LOOKUP_CELLS) /* cannot happen: every table spans < 256 */
        cells = LOOKUP_CELLS;
    h->last_cell = (float)(cells - 1);
    int k = 0; /* midpoints counted so far */
    for (int i = 0; i < cells; ++i) {
        float lo = h->base + (float)i;
        while (k + 1 < n && 0.5f * (v[k] + v[k + 1]) <= lo)
            ++k;
        h->below[i] = (uint8_t)k;
        float mid = k + 1 < n ? 0.5f * (v[k] + v[k + 1]) : INFINITY;
        h->inside[i] = mid < lo + 1.f ? mid : INFINITY;
        h->value[2 * i] = v[k];
        h->value[2 * i + 1] = v[k + 1 < n ? k + 1 : k];
    }
    for (int i = 0; i + 1 < n; ++i)
        h->mid[i] = 0.5f * (v[i] + v[i + 1]);
}

/* Index of the value nearest to x (a tie goes up, as the reference's). */
static inline int half_nearest(const iqk_half *h, float x) {
    float t = x - h->base;
    t = t > 0 ? t : 0;
    t = t < h->last_cell ? t : h->last_cell;
    int cell = (int)t;
    return h->below[cell] + (x >= h->inside[cell]);
}

/* ---------------------------------------------------------------------- */
/* Bit layouts                                                             */

/* Where element e (0..255) of a super-block keeps its low index bits, for
 * the two layouts of 2-bit and 4-bit quants. */
static inline int qs2_byte(int e) { return 32 * (e / 128) + e % 32; }
static inline int qs2_shift(int e) { return 2 * ((e / 32) % 4); }
static inline int qs4_byte(int e) { return 32 * (e / 64) + e % 32; }
static inline int qs4_shift(int e) { return 4 * ((e / 32) % 2); }

static void put_header(const iqk_plan *plan, uint8_t *block) {
    lq_store_u16(block, plan->d_half);
    lq_store_u16(block + 2, plan->shifted);
}

static void get_header(const uint8_t *block, iqk_plan *plan) {
    plan->d_half = lq_load_u16(block);
    plan->shifted = lq_load_u16(block + 2);
}

/* Six-bit scales stored as ls + 32: low nibbles in scales_l, top two bits
 * in scales_h (iq4_k, iq5_k). */
static void put_scales6(const iqk_plan *plan, uint8_t *scales_h, uint8_t *scales_l) {
    memset(scales_h, 0, SUB_BLOCKS / 4);
    memset(scales_l, 0, SUB_BLOCKS / 2);
    for (int b = 0; b < SUB_BLOCKS; ++b) {
        int u = plan->ls[b] + 32;
        scales_l[b / 2] |= (uint8_t)((u & 15) << 4 * (b % 2));
        scales_h[b / 4] |= (uint8_t)((u >> 4) << 2 * (b % 4));
    }
}

static void get_scales6(const uint8_t *scales_h, const uint8_t *scales_l, iqk_plan *plan) {
    for (int b = 0; b < SUB_BLOCKS; ++b) {
        int lo = (scales_l[b / 2] >> 4 * (b % 2)) & 15;
        int hi = (scales_h[b / 4] >> 2 * (b % 4)) & 3;
        plan->ls[b] = (int8_t)((lo | hi << 4) - 32);
    }
}

/* iq2_k: d, extra, scales[8] (ls + 8 per nibble), qs[64]. */
static void pack_iq2_k(const iqk_plan *plan, uint8_t *block) {
    put_header(plan, block);
    uint8_t *scales = block + 4, *qs = block + 12;
    memset(scales, 0, 8 + 64);
    for (int b = 0; b < SUB_BLOCKS; ++b)
        scales[b / 2] |= (uint8_t)((plan->ls[b] + 8) << 4 * (b % 2));
    for (int e = 0; e < SUPER_BLOCK; ++e)
        qs[qs2_byte(e)] |= (uint8_t)(plan->idx[e] << qs2_shift(e));
}

static void unpack_iq2_k(const uint8_t *block, iqk_plan *plan) {
    get_header(block, plan);
    const uint8_t *scales = block + 4, *qs = block + 12;
    for (int b = 0; b < SUB_BLOCKS; ++b)
        plan->ls[b] = (int8_t)(((scales[b / 2] >> 4 * (b % 2)) & 15) - 8);
    for (int e = 0; e < SUPER_BLOCK; ++e)
        plan->idx[e] = (qs[qs2_byte(e)] >> qs2_shift(e)) & 3;
}

/* iq3_k: d, extra, scales_h (sign bits), scales_l[8] (|ls| = 2*l + 1),
 * qs[64] (index bits 0-1), qh[32] (index bit 2). */
static void pack_iq3_k(const iqk_plan *plan, uint8_t *block) {
    put_header(plan, block);
    uint8_t *scales_l = block + 6, *qs = block + 14, *qh = block + 78;
    memset(scales_l, 0, 8 + 64 + 32);
    uint16_t signs = 0;
    for (int b = 0; b < SUB_BLOCKS; ++b) {
        int ls = plan->ls[b];
        if (ls < 0)
            signs |= (uint16_t)(1u << b);
        int l = (abs(ls) - 1) / 2;
        scales_l[b / 2] |= (uint8_t)((l < 0 ? 0 : l) << 4 * (b % 2));
    }
    lq_store_u16(block + 4, signs);
    for (int e = 0; e < SUPER_BLOCK; ++e) {
        qs[qs2_byte(e)] |= (uint8_t)((plan->idx[e] & 3) << qs2_shift(e));
        qh[e % 32] |= (uint8_t)((plan->idx[e] >> 2) << (e / 32));
    }
}

static void unpack_iq3_k(const uint8_t *block, iqk_plan *plan) {
    get_header(block, plan);
    uint16_t signs = lq_load_u16(block + 4);
    const uint8_t *scales_l = block + 6, *qs = block + 14, *qh = block + 78;
    for (int b = 0; b < SUB_BLOCKS; ++b) {
        int mag = 2 * ((scales_l[b / 2] >> 4 * (b % 2)) & 15) + 1;
        plan->ls[b] = (int8_t)((signs >> b) & 1 ? -mag : mag);
    }
    for (int e = 0; e < SUPER_BLOCK; ++e) {
        int lo = (qs[qs2_byte(e)] >> qs2_shift(e)) & 3;
        int hi = (qh[e % 32] >> (e / 32)) & 1;
        plan->idx[e] = (uint8_t)(lo | hi << 2);
    }
}

/* iq4_k: d, extra, scales_h[4], scales_l[8], qs[128]; each 32 weights
 * share 16 bytes, the first 16 in the low nibbles. */
static void pack_iq4_k(const iqk_plan *plan, uint8_t *block) {
    put_header(plan, block);
    put_scales6(plan, block + 4, block + 8);
    uint8_t *qs = block + 16;
    memset(qs, 0, 128);
    for (int e = 0; e < SUPER_BLOCK; ++e)
        qs[16 * (e / 32) + e % 16] |= (uint8_t)(plan->idx[e] << 4 * ((e % 32) / 16));
}

static void unpack_iq4_k(const uint8_t *block, iqk_plan *plan) {
    get_header(block, plan);
    get_scales6(block + 4, block + 8, plan);
    const uint8_t *qs = block + 16;
    for (int e = 0; e < SUPER_BLOCK; ++e)
        plan->idx[e] = (qs[16 * (e / 32) + e % 16] >> 4 * ((e % 32) / 16)) & 15;
}

/* iq5_k: iq4_k's scales, qs[128] (index bits 0-3), qh[32] (bit 4). */
static void pack_iq5_k(const iqk_plan *plan, uint8_t *block) {
    put_header(plan, block);
    put_scales6(plan, block + 4, block + 8);
    uint8_t *qs = block + 16, *qh = block + 144;
    memset(qs, 0, 128 + 32);
    for (int e = 0; e < SUPER_BLOCK; ++e) {
        qs[qs4_byte(e)] |= (uint8_t)((plan->idx[e] & 15) << qs4_shift(e));
        qh[e % 32] |= (uint8_t)((plan->idx[e] >> 4) << (e / 32));
    }
}

static void unpack_iq5_k(const uint8_t *block, iqk_plan *plan) {
    get_header(block, plan);
    get_scales6(block + 4, block + 8, plan);
    const uint8_t *qs = block + 16, *qh = block + 144;
    for (int e = 0; e < SUPER_BLOCK; ++e) {
        int lo = (qs[qs4_byte(e)] >> qs4_shift(e)) & 15;
        int hi = (qh[e % 32] >> (e / 32)) & 1;
        plan->idx[e] = (uint8_t)(lo | hi << 4);
    }
}

/* iq6_k: d, extra, int8 scales[16], qs[128] (bits 0-3), qh[64] (bits 4-5,
 * two per byte position in the 2-bit layout). */
static void pack_iq6_k(const iqk_plan *plan, uint8_t *block) {
    put_header(plan, block);
    memcpy(block + 4, plan->ls, SUB_BLOCKS);
    uint8_t *qs = block + 20, *qh = block + 148;
    memset(qs, 0, 128 + 64);
    for (int e = 0; e < SUPER_BLOCK; ++e) {
        qs[qs4_byte(e)] |= (uint8_t)((plan->idx[e] & 15) << qs4_shift(e));
        qh[qs2_byte(e)] |= (uint8_t)((plan->idx[e] >> 4) << qs2_shift(e));
    }
}

static void unpack_iq6_k(const uint8_t *block, iqk_plan *plan) {
    get_header(block, plan);
    memcpy(plan->ls, block + 4, SUB_BLOCKS);
    const uint8_t *qs = block + 20, *qh = block + 148;
    for (int e = 0; e < SUPER_BLOCK; ++e) {
        int lo = (qs[qs4_byte(e)] >> qs4_shift(e)) & 15;
        int hi = (qh[qs2_byte(e)] >> qs2_shift(e)) & 3;
        plan->idx[e] = (uint8_t)(lo | hi << 4);
    }
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                */

static void decode_row(const iqk_format *f, const void *src, float *dst, int64_t ncols) {
    float values[2 * MAX_TABLE];
    iqk_value_table(f, values);
    const uint8_t *block = src;
    iqk_plan plan;
    for (int64_t i = 0; i < ncols / SUPER_BLOCK; ++i, block += f->block_bytes) {
        f->unpack(block, &plan);
        float d = lq_half_to_float(plan.d_half);
        for (int b = 0; b < SUB_BLOCKS; ++b) {
            /* same float operations as the reference: (d * ls) * value */
            float dl = d * (float)plan.ls[b];
            const float *v = values + ((plan.shifted >> b) & 1) * f->nvalues;
            const uint8_t *idx = plan.idx + SUB_BLOCK * b;
            for (int j = 0; j < SUB_BLOCK; ++j)
                *dst++ = dl * v[idx[j]];
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                */
/*
 * Per super-block, in units where its largest |x| lies in [0.5, 1) (so that
 * no sum can overflow or lose range whatever the input's magnitude):
 *  1. for each sub-block, a continuous scale: the best of a few that map its
 *     largest weight near either end of either table half, refined by
 *     alternating nearest-index and least-squares steps;
 *  2. candidate super-block scales d that map the largest sub-block scale
 *     onto (or just inside) the end of the integer scale range, ranked by
 *     how well the rounded sub-block scales would reproduce step 1's;
 *  3. for the best candidate: choose each sub-block's integer scale (among
 *     the few around step 1's) and table half by their actual error, refit
 *     d by least squares, round it to fp16, and choose the sub-block codes
 *     again for that exact d.
 * Step 3 is where the search pays: measured on the vectors, widening it
 * gains far more than a finer grid in step 1, whose exact optimum is lost
 * to the rounding of the scales anyway.
 * The error minimised is sum w * (x - decoded)^2 with w from the importance
 * matrix times sqrt(sigma^2 + x^2), or sigma^2 + x^2 without one (the
 * reference uses sigma^2/4 there, which follows a few outliers so closely
 * that the plain error of heavy-tailed rows suffers).
 */

enum {
    SCALE_CANDIDATES = 8,   /* per end of the integer scale range */
    REFINED_CANDIDATES = 1, /* candidates given the full treatment */
    REFIT_ROUNDS = 1,
    /* sub-block scales tried: this many steps below and above the pair
     * around the ideal one (wider costs time, gains little) */
    SCALE_REACH = 2,
};

typedef struct iqk_work {
    const iqk_format *f;
    const iqk_half *half;          /* the two table halves */
    float x[SUPER_BLOCK];
    float w[SUPER_BLOCK];
    float scale[SUB_BLOCKS];       /* step 1's sub-block scale (0: empty) */
    float curvature[SUB_BLOCKS];   /* its sum w q^2: error per scale error^2 */
    int half_of[SUB_BLOCKS];       /* step 1's table half */
} iqk_work;

typedef struct iqk_trial {
    iqk_plan plan;
    float err;
} iqk_trial;

static const iqk_half *table_half(const iqk_work *W, int shifted) {
    return &W->half[shifted];
}

/* Tables up to this size find nearest values by counting the midpoints
 * at or below each weight, which the compiler vectorizes; larger ones look
 * up their cell. Both give half_nearest's value. Counting is faster up to
 * 8 values (iq3_k 1.39 s against 1.55 s), the lookup from 16 (iq4_k 1.6 s
 * against 2.3 s). */
enum { SMALL_TABLE = 8, LANES = 4 };

/* q[j]: the table value nearest to inv * x[j]. */
static inline void nearest_values(const iqk_half *h, const float *x, float inv, float *q) {
    float t[SUB_BLOCK];
    for (int j = 0; j < SUB_BLOCK; ++j)
        t[j] = inv * x[j];
    if (h->n > SMALL_TABLE) {
        /* half_nearest's steps, the clamping in a loop of its own so that
         * neither loop has a branch */
        float u[SUB_BLOCK];
        for (int j = 0; j < SUB_BLOCK; ++j) {
            float cell = t[j] - h->base;
            cell = cell > 0 ? cell : 0;
            u[j] = cell < h->last_cell ? cell : h->last_cell;
        }
        for (int j = 0; j < SUB_BLOCK; ++j) {
            int cell = (int)u[j];
            q[j] = h->value[2 * cell + (t[j] >= h->inside[cell])];
        }
        return;
    }
    /* the counts of LANES weights at a time stay in registers across the
     * midpoints */
    for (int j = 0; j < SUB_BLOCK; j += LANES) {
        int32_t count[LANES] = {0};
        for (int k = 0; k + 1 < h->n; ++k)
            for (int l = 0; l < LANES; ++l)
                count[l] += t[j + l] >= h->mid[k];
        for (int l = 0; l < LANES; ++l)
            q[j + l] = h->v[count[l]];
    }
}

/* Least-squares sums of x against the table values nearest to x * inv
 * (LANES partial sums, so the loop vectorizes). */
static void sums_at(const iqk_half *h, const float *x, const float *w,
                    float inv, float *sumqx, float *sumq2) {
    float q[SUB_BLOCK], qx[LANES] = {0}, q2[LANES] = {0};
    nearest_values(h, x, inv, q);
    for (int j = 0; j < SUB_BLOCK; j += LANES)
        for (int l = 0; l < LANES; ++l) {
            qx[l] += w[j + l] * q[j + l] * x[j + l];
            q2[l] += w[j + l] * q[j + l] * q[j + l];
        }
    *sumqx = (qx[0] + qx[1]) + (qx[2] + qx[3]);
    *sumq2 = (q2[0] + q2[1]) + (q2[2] + q2[3]);
}

typedef struct sub_fit {
    float score; /* sumqx^2 / sumq2: the error it removes */
    float scale, curvature;
    int shifted;
} sub_fit;

static void consider(sub_fit *best, float sumqx, float sumq2, int shifted) {
    if (sumq2 > 0 && sumqx * sumqx > best->score * sumq2) {
        best->score = sumqx * sumqx / sumq2;
        best->scale = sumqx / sumq2;
        best->curvature = sumq2;
        best->shifted = shifted;
    }
}

static void search_sub_block(iqk_work *W, int b) {
    const iqk_format *f = W->f;
    const float *x = W->x + SUB_BLOCK * b, *w = W->w + SUB_BLOCK * b;
    float amax = 0, max = 0;
    for (int j = 0; j < SUB_BLOCK; ++j) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    sub_fit best = {0, 0, 0, 0};
    /* relative to the super-block's maximum: below this it cannot matter */
    if (amax > 1e-20f) {
        float qx, q2;
        for (int t = 0; t < 2; ++t) {
            const iqk_half *h = table_half(W, t);
            for (int k = -f->grid_half_width; k <= f->grid_half_width; ++k) {
                float inv = (h->v[0] + (float)k * f->grid_step) / max;
                sums_at(h, x, w, inv, &qx, &q2);
                consider(&best, qx, q2, t);
                sums_at(h, x, w, -inv, &qx, &q2);
                consider(&best, qx, q2, t);
            }
        }
        for (int round = 0; round < 3 && best.scale != 0; ++round) {
            float before = best.score;
            sums_at(table_half(W, best.shifted), x, w, 1.f / best.scale, &qx, &q2);
            consider(&best, qx, q2, best.shifted);
            if (!(best.score > before))
                break;
        }
    }
    W->scale[b] = best.scale;
    W->curvature[b] = best.curvature;
    W->half_of[b] = best.shifted;
}

/* The integer scale nearest to c that the format can store. */
static int round_scale(const iqk_format *f, float c) {
    c = fminf(fmaxf(c, (float)f->ls_min), (float)f->ls_max);
    int ls = f->ls_odd ? 2 * (int)floorf(0.5f * (c - 1.f) + 0.5f) + 1 : (int)lrintf(c);
    return ls < f->ls_min ? f->ls_min : ls > f->ls_max ? f->ls_max : ls;
}

/* Weighted squared error of one sub-block at scale dl (LANES partial sums). */
static float sub_block_error(const iqk_half *h, const float *x, const float *w, float dl) {
    float q[SUB_BLOCK], err[LANES] = {0};
    nearest_values(h, x, dl != 0 ? 1.f / dl : 0.f, q);
    for (int j = 0; j < SUB_BLOCK; j += LANES)
        for (int l = 0; l < LANES; ++l) {
            float diff = x[j + l] - dl * q[j + l];
            err[l] += w[j + l] * diff * diff;
        }
    return (err[0] + err[1]) + (err[2] + err[3]);
}

/* The indices sub_block_error's values come from. */
static void sub_block_indices(const iqk_half *h, const float *x, float dl, uint8_t *idx) {
    float inv = dl != 0 ? 1.f / dl : 0.f;
    for (int j = 0; j < SUB_BLOCK; ++j)
        idx[j] = dl != 0 ? (uint8_t)half_nearest(h, inv * x[j]) : 0;
}

/* How widely step 3 searches a sub-block's code. */
typedef struct iqk_effort {
    int reach;        /* integer scales beyond the pair around the ideal one */
    bool both_halves; /* else only the half step 1 chose */
} iqk_effort;

/* Error of sub-block b at integer scale ls in table half t (INFINITY when
 * the format cannot store ls). */
static float try_scale(const iqk_work *W, int b, float d, int ls, int t) {
    const iqk_format *f = W->f;
    if (ls < f->ls_min || ls > f->ls_max)
        return INFINITY;
    return sub_block_error(table_half(W, t), W->x + SUB_BLOCK * b, W->w + SUB_BLOCK * b,
                           d * (float)ls);
}

/* Best integer scale (near the ideal one) and table half for sub-block b at
 * super-block scale d; returns its error. Trying several integers matters:
 * the step-1 scale is only ideal before the other sub-block codes round. */
static float code_sub_block(const iqk_work *W, int b, float d, iqk_effort effort,
                            iqk_plan *plan) {
    const iqk_format *f = W->f;
    int step = f->ls_odd ? 2 : 1;
    int low = f->ls_min;
    if (d != 0) {
        float c = fminf(fmaxf(W->scale[b] / d, (float)f->ls_min), (float)f->ls_max);
        low = f->ls_odd ? 2 * (int)floorf(0.5f * (c - 1.f)) + 1 : (int)floorf(c);
    }
    int t_first = effort.both_halves ? 0 : W->half_of[b];
    int t_last = effort.both_halves ? 1 : W->half_of[b];
    float best = INFINITY;
    int best_ls = f->ls_odd ? 1 : 0, best_t = 0;
    for (int t = t_first; t <= t_last; ++t) {
        /* the pair around the ideal scale and `reach` more either side;
         * stopping where the error stops falling would save a third but
         * loses 0.1-0.8% */
        for (int dir = -1; dir <= 1; dir += 2) {
            int ls = dir < 0 ? low : low + step;
            for (int r = 0; r <= effort.reach; ++r, ls += dir * step) {
                float err = try_scale(W, b, d, ls, t);
                if (err < best) {
                    best = err;
                    best_ls = ls;
                    best_t = t;
                }
            }
        }
    }
    plan->ls[b] = (int8_t)best_ls;
    plan->shifted = (uint16_t)((plan->shifted & ~(1u << b)) | (unsigned)best_t << b);
    sub_block_indices(table_half(W, best_t), W->x + SUB_BLOCK * b, d * (float)best_ls,
                      plan->idx + SUB_BLOCK * b);
    return best;
}

/* The first coding only feeds the refit of d: the two integers around each
 * ideal scale, in step 1's table half, serve it as well as the full search
 * (vectors: every ratio within +-0.002) at a sixth of the cost. The final
 * coding searches widely: reach 1 instead of 2 would save a third of it but
 * loses 0.2-1.2% (iq5_k weighted 0.841 -> 0.853). */
static const iqk_effort first_effort = {0, false};
static const iqk_effort final_effort = {SCALE_REACH, true};

static float code_all(const iqk_work *W, float d, iqk_effort effort, iqk_plan *plan) {
    float err = 0;
    for (int b = 0; b < SUB_BLOCKS; ++b)
        err += code_sub_block(W, b, d, effort, plan);
    return err;
}

/* Least-squares super-block scale for the plan's codes (d if degenerate). */
static float refit_scale(const iqk_work *W, const iqk_plan *plan, float d) {
    float sumqx = 0, sumq2 = 0;
    for (int b = 0; b < SUB_BLOCKS; ++b) {
        const float *v = table_half(W, (plan->shifted >> b) & 1)->v;
        for (int j = 0; j < SUB_BLOCK; ++j) {
            int e = SUB_BLOCK * b + j;
            float q = (float)plan->ls[b] * v[plan->idx[e]];
            sumqx += W->w[e] * q * W->x[e];
            sumq2 += W->w[e] * q * q;
        }
    }
    return sumq2 > 0 ? sumqx / sumq2 : d;
}

/* How badly the sub-block scales survive rounding to multiples of d. */
static float scale_rounding_cost(const iqk_work *W, float d) {
    float cost = 0;
    for (int b = 0; b < SUB_BLOCKS; ++b) {
        float diff = W->scale[b] - d * (float)round_scale(W->f, W->scale[b] / d);
        cost += W->curvature[b] * diff * diff;
    }
    return cost;
}

/* fp16 bits for d * 2^exponent, saturated to the largest finite half. */
static uint16_t scale_to_half(float d, int exponent) {
    float real = ldexpf(d, exponent);
    real = fminf(fmaxf(real, -65504.f), 65504.f);
    return lq_float_to_half(real);
}

/* Full treatment of one starting d: alternate coding and refitting, then
 * code once more for the exact fp16 value of d. */
static void refine_candidate(const iqk_work *W, float d, int exponent, iqk_trial *out) {
    memset(out, 0, sizeof *out);
    for (int round = 0; round < REFIT_ROUNDS; ++round) {
        code_all(W, d, first_effort, &out->plan);
        d = refit_scale(W, &out->plan, d);
    }
    out->plan.d_half = scale_to_half(d, exponent);
    float exact = ldexpf(lq_half_to_float(out->plan.d_half), -exponent);
    out->err = code_all(W, exact, final_effort, &out->plan);
}

/* x[j] * 2^e into out, rounded once as ldexpf rounds it: a single
 * multiplication unless 2^e is not a normal float (subnormal inputs). */
static void scale_by_pow2(const float *x, int64_t n, int e, float *out) {
    if (e >= -126 && e <= 127) {
        float factor = ldexpf(1.0f, e);
        for (int64_t j = 0; j < n; ++j)
            out[j] = x[j] * factor;
    } else {
        for (int64_t j = 0; j < n; ++j)
            out[j] = ldexpf(x[j], e);
    }
}

static void prepare_weights(iqk_work *W, const float *imatrix) {
    float sumx2 = 0;
    for (int j = 0; j < SUPER_BLOCK; ++j)
        sumx2 += W->x[j] * W->x[j];
    float sigma2 = W->f->sigma_factor * sumx2 / SUPER_BLOCK;
    float qmax = 0;
    if (imatrix)
        for (int j = 0; j < SUPER_BLOCK; ++j)
            qmax = imatrix[j] > qmax ? imatrix[j] : qmax;
    for (int j = 0; j < SUPER_BLOCK; ++j) {
        float x2 = W->x[j] * W->x[j];
        /* the tiny floor keeps zero importance from zeroing a sub-block */
        float importance = imatrix && imatrix[j] > 0 ? imatrix[j] : 0.f;
        W->w[j] = qmax > 0 ? (importance / qmax + 1e-9f) * sqrtf(sigma2 + x2)
                           : sigma2 + x2;
    }
}

static void zero_plan(const iqk_format *f, iqk_plan *plan) {
    memset(plan, 0, sizeof *plan);
    if (f->ls_odd)
        memset(plan->ls, 1, sizeof plan->ls);
}

/* Steps 2 and 3: rank candidate d by scale_rounding_cost, refine the best. */
static void search_super_scale(const iqk_work *W, float max_scale, int exponent,
                               iqk_trial *best) {
    const iqk_format *f = W->f;
    /* the integer the largest sub-block scale maps to; an asymmetric range
     * (one more negative value) is tried from both ends */
    bool asymmetric = f->ls_min == -f->ls_max - 1;
    float d_cand[2 * SCALE_CANDIDATES];
    float cost[2 * SCALE_CANDIDATES];
    int count = 0;
    for (int end = 0; end < (asymmetric ? 2 : 1); ++end) {
        for (int k = 0; k < SCALE_CANDIDATES; ++k) {
            float target = end ? (float)f->ls_min + 0.25f * (float)k
                               : (float)f->ls_max - 0.25f * (float)k;
            d_cand[count] = max_scale / target;
            cost[count] = scale_rounding_cost(W, d_cand[count]);
            ++count;
        }
    }
    best->err = INFINITY;
    for (int r = 0; r < REFINED_CANDIDATES; ++r) {
        int pick = 0;
        for (int i = 1; i < count; ++i)
            if (cost[i] < cost[pick])
                pick = i;
        if (cost[pick] == INFINITY)
            break;
        cost[pick] = INFINITY;
        iqk_trial t;
        refine_candidate(W, d_cand[pick], exponent, &t);
        if (t.err < best->err)
            *best = t;
    }
}

static void encode_super_block(const iqk_format *f, const iqk_half *half,
                               const float *src, const float *imatrix, uint8_t *out) {
    iqk_work W;
    W.f = f;
    W.half = half;
    float amax = 0;
    for (int j = 0; j < SUPER_BLOCK; ++j)
        amax = fabsf(src[j]) > amax ? fabsf(src[j]) : amax; /* fmaxf is a call */
    iqk_trial best;
    zero_plan(f, &best.plan);
    if (amax > 0) {
        int exponent;
        frexpf(amax, &exponent);
        scale_by_pow2(src, SUPER_BLOCK, -exponent, W.x);
        prepare_weights(&W, imatrix);
        float max_scale = 0;
        for (int b = 0; b < SUB_BLOCKS; ++b) {
            search_sub_block(&W, b);
            if (fabsf(W.scale[b]) > fabsf(max_scale))
                max_scale = W.scale[b];
        }
        if (max_scale != 0)
            search_super_scale(&W, max_scale, exponent, &best);
    }
    f->pack(&best.plan, out);
}

static void encode_row(const iqk_format *f, const float *src, void *dst,
                       int64_t ncols, const float *imatrix) {
    float values[2 * MAX_TABLE];
    iqk_value_table(f, values);
    iqk_half half[2];
    prepare_half(&half[0], values, f->nvalues);
    prepare_half(&half[1], values + f->nvalues, f->nvalues);
    uint8_t *out = dst;
    for (int64_t i = 0; i < ncols / SUPER_BLOCK; ++i) {
        encode_super_block(f, half, src + SUPER_BLOCK * i,
                           imatrix ? imatrix + SUPER_BLOCK * i : NULL, out);
        out += f->block_bytes;
    }
}

/* ---------------------------------------------------------------------- */
/* Codec table                                                             */

static const iqk_format formats[] = {
    {LQ_TYPE_IQ2_K, 4, lq_iq2nl_values, 76, -8, 7, false, 1.5f, 2, 3.f,
     pack_iq2_k, unpack_iq2_k},
    {LQ_TYPE_IQ3_K, 8, lq_iq3nl_values, 110, -31, 31, true, 1.5f, 2, 3.f,
     pack_iq3_k, unpack_iq3_k},
    {LQ_TYPE_IQ4_K, 16, lq_iq4k_values, 144, -32, 31, false, 2.f, 2, 3.f,
     pack_iq4_k, unpack_iq4_k},
    {LQ_TYPE_IQ5_K, 32, lq_iq5nl_values, 176, -32, 31, false, 2.f, 2, 2.f,
     pack_iq5_k, unpack_iq5_k},
    {LQ_TYPE_IQ6_K, 64, NULL, 212, -127, 127, false, 2.f, 2, 2.f,
     pack_iq6_k, unpack_iq6_k},
};

#define DEFINE_IQK_CODEC(name, i)                                              \
    static int quantize_##name(const float *src, void *dst, int64_t ncols,   \
                               const float *imatrix) {                       \
        encode_row(&formats[i], src, dst, ncols, imatrix);                    \
        return LQ_OK;                                                         \
    }                                                                         \
    static void dequantize_##name(const void *src, float *dst, int64_t ncols) { \
        decode_row(&formats[i], src, dst, ncols);                             \
    }

DEFINE_IQK_CODEC(iq2_k, 0)
DEFINE_IQK_CODEC(iq3_k, 1)
DEFINE_IQK_CODEC(iq4_k, 2)
DEFINE_IQK_CODEC(iq5_k, 3)
DEFINE_IQK_CODEC(iq6_k, 4)

static const lq_codec iqk_codecs[] = {
    {LQ_TYPE_IQ2_K, quantize_iq2_k, dequantize_iq2_k, NULL, NULL},
    {LQ_TYPE_IQ3_K, quantize_iq3_k, dequantize_iq3_k, NULL, NULL},
    {LQ_TYPE_IQ4_K, quantize_iq4_k, dequantize_iq4_k, NULL, NULL},
    {LQ_TYPE_IQ5_K, quantize_iq5_k, dequantize_iq5_k, NULL, NULL},
    {LQ_TYPE_IQ6_K, quantize_iq6_k, dequantize_iq6_k, NULL, NULL},
};

const lq_codec_family lq_family_iqk = {
    "iqk", iqk_codecs, sizeof iqk_codecs / sizeof iqk_codecs[0]};
