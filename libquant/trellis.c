/*
 * Codec family "trellis": iq1_kt, iq2_kt, iq3_kt, iq4_kt.
 *
 * A row is a float scale d (4 bytes) followed by super-blocks of 256 weights,
 * each made of 8 blocks of 32 with a small integer scale code, and of groups
 * of 8 (iq4_kt: 4) weights that are the generator's output for a stored seed
 * (trellis_gen.h). Weight = d * scale(code) * value, where iq3_kt stores the
 * signs apart and generates magnitudes, and an iq4_kt block may select a
 * second codebook.
 *
 * Every type is unpacked to / packed from one plain super-block description
 * (kt_superblock) so the decoder and the encoder are written once.
 *
 * Code ranges the readers assume: every seed and scale code is valid; the
 * row scale is a finite float.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "trellis_gen.h"
#include "trellis_internal.h"
#include "trellis_search.h"

#define KT_SUPER 256
#define KT_BLOCK 32
#define KT_NBLOCK (KT_SUPER / KT_BLOCK)
#define KT_MAX_GROUPS (KT_SUPER / 4)

/* The non-linear scale values of iq1_kt and iq2_kt blocks (iq4_k's table). */
#define KT_TABLE_CODES 16
static const int8_t kt_nonlinear_scales[KT_TABLE_CODES] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

typedef struct kt_superblock {
    int code[KT_NBLOCK];         /* block scale code, see kt_format */
    int alt[KT_NBLOCK];          /* iq4_kt: block uses the second codebook */
    uint16_t seed[KT_MAX_GROUPS];
    uint8_t negative[KT_SUPER];  /* iq3_kt: sign of each weight */
} kt_superblock;

typedef struct kt_format {
    int type;
    int block_bytes;
    int group_size;
    kt_book_id book;             /* iq4_kt: KT_BOOK_IQ4 + alt */
    int magnitudes;              /* values are |generated|, signs stored */
    const int8_t *scale_table;   /* code -> scale; NULL: the code itself */
    int code_min, code_max;
    void (*unpack)(const uint8_t *src, kt_superblock *sb);
    void (*pack)(const kt_superblock *sb, uint8_t *dst);
} kt_format;

static float kt_scale_of(const kt_format *f, int code) {
    return (float)(f->scale_table ? f->scale_table[code] : code);
}

/* ---- bit layouts ------------------------------------------------------- */

/* iq1_kt: sh[8] (scale code | 13th seed bit of each group << 4+g),
 * ql[32] (seed bits 0-7), qh[16] (seed bits 8-11: nibble ib/4 of byte
 * (ib%4)*4+g). */
static void kt_unpack_iq1(const uint8_t *src, kt_superblock *sb) {
    const uint8_t *sh = src, *ql = src + 8, *qh = src + 40;
    for (int ib = 0; ib < KT_NBLOCK; ++ib) {
        sb->code[ib] = sh[ib] & 0xf;
        sb->alt[ib] = 0;
        for (int ig = 0; ig < 4; ++ig) {
            int g = ib * 4 + ig;
            int high = (qh[(ib % 4) * 4 + ig] >> (4 * (ib / 4))) & 0xf;
            int top = (sh[ib] >> (4 + ig)) & 1;
            sb->seed[g] = (uint16_t)(ql[g] | high << 8 | top << 12);
        }
    }
}

static void kt_pack_iq1(const kt_superblock *sb, uint8_t *dst) {
    uint8_t *sh = dst, *ql = dst + 8, *qh = dst + 40;
    memset(dst, 0, 56);
    for (int ib = 0; ib < KT_NBLOCK; ++ib) {
        sh[ib] = (uint8_t)sb->code[ib];
        for (int ig = 0; ig < 4; ++ig) {
            int g = ib * 4 + ig, seed = sb->seed[g];
            ql[g] = (uint8_t)(seed & 0xff);
            qh[(ib % 4) * 4 + ig] |= (uint8_t)(((seed >> 8) & 0xf) << (4 * (ib / 4)));
            sh[ib] |= (uint8_t)(((seed >> 12) & 1) << (4 + ig));
        }
    }
}

/* iq2_kt / iq3_kt: scales[4] (block ib in nibble ib/4 of byte ib%4), then 32
 * little-endian 16-bit seeds; iq3_kt adds qh[32]: bit ib of byte j is the
 * sign of weight j of block ib. */
static void kt_unpack_scales_seeds(const uint8_t *src, kt_superblock *sb) {
    for (int ib = 0; ib < KT_NBLOCK; ++ib) {
        sb->code[ib] = (src[ib % 4] >> (4 * (ib / 4))) & 0xf;
        sb->alt[ib] = 0;
    }
    for (int g = 0; g < 32; ++g)
        sb->seed[g] = lq_load_u16(src + 4 + 2 * g);
}

static void kt_pack_scales_seeds(const kt_superblock *sb, uint8_t *dst) {
    memset(dst, 0, 4);
    for (int ib = 0; ib < KT_NBLOCK; ++ib)
        dst[ib % 4] |= (uint8_t)(sb->code[ib] << (4 * (ib / 4)));
    for (int g = 0; g < 32; ++g)
        lq_store_u16(dst + 4 + 2 * g, sb->seed[g]);
}

static void kt_unpack_iq2(const uint8_t *src, kt_superblock *sb) {
    kt_unpack_scales_seeds(src, sb);
}

static void kt_pack_iq2(const kt_superblock *sb, uint8_t *dst) {
    kt_pack_scales_seeds(sb, dst);
}

static void kt_unpack_iq3(const uint8_t *src, kt_superblock *sb) {
    kt_unpack_scales_seeds(src, sb);
    const uint8_t *qh = src + 68;
    for (int ib = 0; ib < KT_NBLOCK; ++ib)
        for (int j = 0; j < KT_BLOCK; ++j)
            sb->negative[ib * KT_BLOCK + j] = (qh[j] >> ib) & 1;
}

static void kt_pack_iq3(const kt_superblock *sb, uint8_t *dst) {
    kt_pack_scales_seeds(sb, dst);
    uint8_t *qh = dst + 68;
    memset(qh, 0, 32);
    for (int ib = 0; ib < KT_NBLOCK; ++ib)
        for (int j = 0; j < KT_BLOCK; ++j)
            qh[j] |= (uint8_t)(sb->negative[ib * KT_BLOCK + j] << ib);
}

/* iq4_kt: 8 little-endian words, one per block: bit 0 the codebook, bits
 * 1-7 the scale + 64, bits 8+3g.. the seed bits 12-14 of its group g; then
 * ql[64] (seed bits 0-7) and qh[32] (seed bits 8-11 of group g in nibble
 * g/32 of byte g%32). */
static void kt_unpack_iq4(const uint8_t *src, kt_superblock *sb) {
    const uint8_t *ql = src + 32, *qh = src + 96;
    for (int ib = 0; ib < KT_NBLOCK; ++ib) {
        uint32_t word = (uint32_t)src[4 * ib] | (uint32_t)src[4 * ib + 1] << 8 |
                        (uint32_t)src[4 * ib + 2] << 16 |
                        (uint32_t)src[4 * ib + 3] << 24;
        sb->alt[ib] = word & 1;
        sb->code[ib] = (int)((word & 0xff) >> 1) - 64;
        for (int ig = 0; ig < 8; ++ig) {
            int g = ib * 8 + ig;
            uint32_t high = (qh[g % 32] >> (4 * (g / 32))) & 0xf;
            uint32_t top = (word >> (8 + 3 * ig)) & 7;
            sb->seed[g] = (uint16_t)(ql[g] | high << 8 | top << 12);
        }
    }
}

static void kt_pack_iq4(const kt_superblock *sb, uint8_t *dst) {
    uint8_t *ql = dst + 32, *qh = dst + 96;
    memset(qh, 0, 32);
    for (int ib = 0; ib < KT_NBLOCK; ++ib) {
        uint32_t word = (uint32_t)((sb->code[ib] + 64) << 1) | (uint32_t)sb->alt[ib];
        for (int ig = 0; ig < 8; ++ig) {
            int g = ib * 8 + ig, seed = sb->seed[g];
            word |= (uint32_t)((seed >> 12) & 7) << (8 + 3 * ig);
            ql[g] = (uint8_t)(seed & 0xff);
            qh[g % 32] |= (uint8_t)(((seed >> 8) & 0xf) << (4 * (g / 32)));
        }
        for (int b = 0; b < 4; ++b)
            dst[4 * ib + b] = (uint8_t)(word >> (8 * b));
    }
}

static const kt_format kt_formats[] = {
    {LQ_TYPE_IQ1_KT, 56, 8, KT_BOOK_IQ1, 0, kt_nonlinear_scales, 0, 15,
     kt_unpack_iq1, kt_pack_iq1},
    {LQ_TYPE_IQ2_KT, 68, 8, KT_BOOK_IQ2, 0, kt_nonlinear_scales, 0, 15,
     kt_unpack_iq2, kt_pack_iq2},
    {LQ_TYPE_IQ3_KT, 100, 8, KT_BOOK_IQ3, 1, NULL, 0, 15, kt_unpack_iq3,
     kt_pack_iq3},
    {LQ_TYPE_IQ4_KT, 128, 4, KT_BOOK_IQ4, 0, NULL, -64, 63, kt_unpack_iq4,
     kt_pack_iq4},
};

static const kt_format *kt_format_of(int type) {
    for (size_t i = 0; i < sizeof kt_formats / sizeof kt_formats[0]; ++i)
        if (kt_formats[i].type == type)
            return &kt_formats[i];
    return NULL;
}

/* ---- decoding ---------------------------------------------------------- */

/* The integer values of a super-block (signs applied) and its blocks'
 * scales as multiples of the row scale: weight = d * scale * value. */
static void kt_superblock_levels(const kt_format *f, const kt_superblock *sb, int8_t *level,
                                 float *block_scale) {
    const int gs = f->group_size, per_block = KT_BLOCK / gs;
    for (int ib = 0; ib < KT_NBLOCK; ++ib) {
        block_scale[ib] = kt_scale_of(f, sb->code[ib]);
        const uint32_t offset = sb->alt[ib] ? LQ_KT_OFFSET_ALT : LQ_KT_OFFSET;
        for (int ig = 0; ig < per_block; ++ig) {
            int8_t *v = level + ib * KT_BLOCK + ig * gs;
            lq_kt_generate(sb->seed[ib * per_block + ig], offset, gs, v);
            if (!f->magnitudes)
                continue;
            for (int k = 0; k < gs; ++k) {
                const int pos = ib * KT_BLOCK + ig * gs + k;
                const int mag = v[k] < 0 ? -v[k] : v[k];
                v[k] = (int8_t)(sb->negative[pos] ? -mag : mag);
            }
        }
    }
}

int lq_kt_levels(int type, const uint8_t *super_block, int8_t level[256], float block_scale[8]) {
    const kt_format *f = kt_format_of(type);
    if (!f)
        return 0;
    kt_superblock sb;
    f->unpack(super_block, &sb);
    kt_superblock_levels(f, &sb, level, block_scale);
    return 1;
}

int lq_kt_super_block_bytes(int type) {
    const kt_format *f = kt_format_of(type);
    return f ? f->block_bytes : 0;
}

static void kt_dequantize(const kt_format *f, const void *src, float *dst,
                          int64_t ncols) {
    const uint8_t *p = src;
    const float d = lq_load_f32(p);
    p += 4;
    kt_superblock sb;
    int8_t level[KT_SUPER];
    float block_scale[KT_NBLOCK];
    for (int64_t i = 0; i < ncols / KT_SUPER; ++i) {
        f->unpack(p + i * f->block_bytes, &sb);
        kt_superblock_levels(f, &sb, level, block_scale);
        float *y = dst + i * KT_SUPER;
        for (int j = 0; j < KT_SUPER; ++j)
            y[j] = (d * block_scale[j / KT_BLOCK]) * (float)level[j];
    }
}

#define KT_DEQUANTIZE_FN(name, type_id)                                       \
    static void name(const void *src, float *dst, int64_t ncols) {            \
        kt_dequantize(kt_format_of(type_id), src, dst, ncols);                \
    }

KT_DEQUANTIZE_FN(kt_dequantize_iq1, LQ_TYPE_IQ1_KT)
KT_DEQUANTIZE_FN(kt_dequantize_iq2, LQ_TYPE_IQ2_KT)
KT_DEQUANTIZE_FN(kt_dequantize_iq3, LQ_TYPE_IQ3_KT)
KT_DEQUANTIZE_FN(kt_dequantize_iq4, LQ_TYPE_IQ4_KT)

/* ---- encoding ---------------------------------------------------------- */

/* How hard each type searches. The first stage finds, per block, a scale and
 * seeds from a few trial scales (both signs for signed codebooks, both
 * codebooks for iq4_kt), each polished by alternating seed search and a
 * least-squares scale; later stages only refine. */
typedef struct kt_plan {
    float scale0_floor, scale0_gain; /* first trial: amax/scale0 per unit */
    int ntrials;
    float trial_step;     /* trials at scale0 + step * (i - (ntrials-1)/2) */
    int books;            /* codebooks to try per block */
    int refine_iters;     /* alternating search/fit rounds per block */
    float slack_first, slack_final;
    int outer_iters;      /* rounds of (row scale, block codes, re-search) */
} kt_plan;

static const kt_plan *kt_plan_of(const kt_format *f) {
    /* Measured on the vector files and on Gaussian and mixed rows (with and
     * without an importance matrix): one trial suffices where the codebooks
     * are large relative to the rate (iq1/iq2); iq3_kt and iq4_kt need the
     * reference's spread of trial scales (and iq4_kt one least-squares
     * refinement per trial). The slacks set the speed: iq3_kt and iq4_kt
     * keep (or slightly improve) the error of near-exact searches; iq1_kt
     * and iq2_kt give up about 1% of their wide margin over the reference
     * for twice the speed. */
    static const kt_plan iq1 = {90.f, 124.f, 1, 8.f, 1, 0, 30.f, 12.f, 1};
    static const kt_plan iq2 = {90.f, 124.f, 1, 8.f, 1, 0, 30.f, 12.f, 1};
    static const kt_plan iq3 = {84.f, 123.f, 7, 8.f, 1, 0, 6.f, 3.f, 1};
    static const kt_plan iq4 = {90.f, 124.f, 5, 8.f, 2, 1, 12.f, 3.f, 1};
    switch (f->type) {
    case LQ_TYPE_IQ1_KT: return &iq1;
    case LQ_TYPE_IQ2_KT: return &iq2;
    case LQ_TYPE_IQ3_KT: return &iq3;
    default: return &iq4;
    }
}

/* Per-row encoder state. Values are divided by the row's largest magnitude
 * so that no square overflows or underflows, whatever the input's range. */
typedef struct kt_row {
    const kt_format *f;
    const kt_plan *plan;
    const kt_book *books[2];
    int nblocks;
    float *x;             /* normalized values (magnitudes for iq3_kt) */
    float *w;             /* importance of each weight */
    uint8_t *negative;    /* iq3_kt: signs */
    uint16_t *seed;       /* per group */
    uint8_t *alt;         /* per block: codebook */
    float *fit_xq;        /* per block: sum w x q */
    float *fit_qq;        /* per block: sum w q q */
    float *free_scale;    /* per block: xq / qq, the best scale of its seeds */
    int *code;            /* per block: scale code */
} kt_row;

static void kt_row_free(kt_row *r) {
    free(r->x);
    free(r->w);
    free(r->negative);
    free(r->seed);
    free(r->alt);
    free(r->fit_xq);
    free(r->fit_qq);
    free(r->free_scale);
    free(r->code);
}

static int kt_row_alloc(kt_row *r, const kt_format *f, int64_t ncols) {
    memset(r, 0, sizeof *r);
    r->f = f;
    r->plan = kt_plan_of(f);
    r->nblocks = (int)(ncols / KT_BLOCK);
    size_t n = (size_t)ncols, nb = (size_t)r->nblocks;
    r->x = malloc(n * sizeof *r->x);
    r->w = malloc(n * sizeof *r->w);
    r->negative = calloc(n, 1);
    r->seed = calloc(n / (size_t)f->group_size, sizeof *r->seed);
    r->alt = calloc(nb, 1);
    r->fit_xq = calloc(nb, sizeof *r->fit_xq);
    r->fit_qq = calloc(nb, sizeof *r->fit_qq);
    r->free_scale = calloc(nb, sizeof *r->free_scale);
    r->code = calloc(nb, sizeof *r->code);
    r->books[0] = kt_book_get(f->book);
    r->books[1] = f->book == KT_BOOK_IQ4 ? kt_book_get(KT_BOOK_IQ4_ALT) : r->books[0];
    if (!r->x || !r->w || !r->negative || !r->seed || !r->alt || !r->fit_xq ||
        !r->fit_qq || !r->free_scale || !r->code || !r->books[0] || !r->books[1]) {
        kt_row_free(r);
        return 0;
    }
    return 1;
}

/* The reference's weighting: importance times sqrt(sigma^2 + x^2), or, with
 * no importance matrix, sigma^2/4 + x^2; a tiny constant where a block is
 * (nearly) all zero. */
static void kt_set_weights(kt_row *r, const float *xs, const float *imatrix,
                           float imatrix_max) {
    const float kEps2 = 1e-14f, kFlat = 1e-4f;
    for (int s = 0; s < r->nblocks / KT_NBLOCK; ++s) {
        const float *x = xs + s * KT_SUPER;
        float *w = r->w + s * KT_SUPER;
        float sumx2 = 0;
        for (int j = 0; j < KT_SUPER; ++j)
            sumx2 += x[j] * x[j];
        if (sumx2 < kEps2 * KT_SUPER) {
            for (int j = 0; j < KT_SUPER; ++j)
                w[j] = kFlat;
            continue;
        }
        const float sigma2 = 2.0f * sumx2 / KT_SUPER;
        if (!imatrix) {
            for (int j = 0; j < KT_SUPER; ++j)
                w[j] = 0.25f * sigma2 + x[j] * x[j];
            continue;
        }
        for (int b = 0; b < KT_SUPER; b += KT_BLOCK) {
            float sumwx = 0, sumw2 = 0, sumbx2 = 0;
            for (int j = b; j < b + KT_BLOCK; ++j) {
                float qw = imatrix[s * KT_SUPER + j] / imatrix_max;
                w[j] = qw * sqrtf(sigma2 + x[j] * x[j]);
                sumwx += w[j] * fabsf(x[j]);
                sumw2 += w[j] * w[j];
                sumbx2 += x[j] * x[j];
            }
            if (sumbx2 < kEps2 || sumw2 < kEps2 || sumwx < kEps2)
                for (int j = b; j < b + KT_BLOCK; ++j)
                    w[j] = kFlat;
        }
    }
}

static int kt_groups_per_block(const kt_row *r) {
    return KT_BLOCK / r->f->group_size;
}

/* sum w x q and sum w q q of a block for the given seeds. */
static void kt_fit(const kt_row *r, int ib, const uint16_t *seeds, int alt,
                   float *xq, float *qq) {
    const int gs = r->f->group_size;
    const float *x = r->x + ib * KT_BLOCK, *w = r->w + ib * KT_BLOCK;
    float sum_xq = 0, sum_qq = 0;
    for (int g = 0; g < kt_groups_per_block(r); ++g) {
        const int8_t *q = kt_book_values(r->books[alt], seeds[g]);
        for (int k = 0; k < gs; ++k) {
            float wq = w[g * gs + k] * (float)q[k];
            sum_xq += wq * x[g * gs + k];
            sum_qq += wq * (float)q[k];
        }
    }
    *xq = sum_xq;
    *qq = sum_qq;
}

/* Nearest seeds for x * inv_scale, group by group; start from `seeds` when
 * `warm` (their distance bounds the search). */
static void kt_search(const kt_row *r, int ib, int alt, float inv_scale,
                      float slack, int warm, uint16_t *seeds) {
    const int gs = r->f->group_size;
    float t[8];
    for (int g = 0; g < kt_groups_per_block(r); ++g) {
        const int pos = ib * KT_BLOCK + g * gs;
        for (int k = 0; k < gs; ++k)
            t[k] = r->x[pos + k] * inv_scale;
        seeds[g] = (uint16_t)kt_nearest(r->books[alt], t, r->w + pos, slack,
                                        warm ? seeds[g] : -1);
    }
}

/* Score of a least-squares scale: the error it removes, (xq)^2 / qq. */
static float kt_score(float xq, float qq) { return qq > 0 ? xq * xq / qq : 0; }

/* First stage for one block: its best free scale and seeds. */
static void kt_first_block(kt_row *r, int ib) {
    const kt_plan *p = r->plan;
    const int ng = kt_groups_per_block(r);
    float amax = 0;
    for (int j = 0; j < KT_BLOCK; ++j)
        amax = fmaxf(amax, fabsf(r->x[ib * KT_BLOCK + j]));
    uint16_t *best_seeds = r->seed + ib * ng;
    memset(best_seeds, 0, (size_t)ng * sizeof *best_seeds);
    r->alt[ib] = 0;
    r->fit_xq[ib] = r->fit_qq[ib] = 0;
    if (amax < 1e-16f)
        return;
    const float scale0 = fmaxf(p->scale0_floor, p->scale0_gain * amax);
    const int nsigns = r->f->magnitudes ? 1 : 2;
    float best = -1;
    /* neighbouring trials start from each other's seeds: a tight bound */
    uint16_t trial_seeds[2][8];
    const float first_offset = -0.5f * p->trial_step * (float)(p->ntrials - 1);
    for (int alt = 0; alt < p->books; ++alt) {
        for (int i = 0; i < p->ntrials; ++i) {
            float target = scale0 + first_offset + p->trial_step * (float)i;
            for (int sign = 0; sign < nsigns; ++sign) {
                uint16_t *seeds = trial_seeds[sign];
                float inv = (sign ? -target : target) / amax;
                for (int it = 0; it <= p->refine_iters; ++it) {
                    kt_search(r, ib, alt, inv, p->slack_first, i > 0 || it > 0, seeds);
                    float xq, qq;
                    kt_fit(r, ib, seeds, alt, &xq, &qq);
                    float score = kt_score(xq, qq);
                    if (score <= best)
                        break;
                    best = score;
                    r->fit_xq[ib] = xq;
                    r->fit_qq[ib] = qq;
                    r->alt[ib] = (uint8_t)alt;
                    memcpy(best_seeds, seeds, (size_t)ng * sizeof *seeds);
                    if (xq == 0)
                        break;
                    inv = qq / xq;
                }
            }
        }
    }
}

/* Codes for scales, as the row scale search asks for every block of every
 * candidate row scale: the code whose scale is nearest s (the lower one at
 * a midpoint). For a table, the number of midpoints between consecutive
 * scales below s. */
typedef struct kt_code_map {
    const kt_format *f;
    /* table formats (codes 0 .. KT_TABLE_CODES-1): between the scale of
     * code_min + i and the next */
    float mid[KT_TABLE_CODES - 1];
} kt_code_map;

static kt_code_map kt_code_map_of(const kt_format *f) {
    kt_code_map m = {.f = f};
    if (f->scale_table)
        for (int c = f->code_min; c < f->code_max; ++c)
            m.mid[c - f->code_min] = 0.5f * (kt_scale_of(f, c) + kt_scale_of(f, c + 1));
    return m;
}

static int kt_nearest_code(const kt_code_map *m, float s) {
    const kt_format *f = m->f;
    if (!f->scale_table)
        return (int)fminf(fmaxf(rintf(s), (float)f->code_min), (float)f->code_max);
    int code = f->code_min;
    for (int i = 0; i < f->code_max - f->code_min; ++i)
        code += m->mid[i] < s;
    return code;
}

/* Error removed by row scale d with the nearest codes (written to codes). */
static double kt_row_gain(const kt_row *r, const kt_code_map *map, float d, int *codes) {
    const float inv_d = 1.0f / d;
    double gain = 0;
    for (int ib = 0; ib < r->nblocks; ++ib) {
        const int c = kt_nearest_code(map, r->free_scale[ib] * inv_d);
        codes[ib] = c;
        const double v = (double)d * kt_scale_of(r->f, c);
        gain += 2 * v * r->fit_xq[ib] - v * v * r->fit_qq[ib];
    }
    return gain;
}

/* Least-squares row scale for fixed codes; 0 if undetermined. */
static float kt_refit_d(const kt_row *r, const int *codes) {
    double num = 0, den = 0;
    for (int ib = 0; ib < r->nblocks; ++ib) {
        double v = kt_scale_of(r->f, codes[ib]);
        num += v * r->fit_xq[ib];
        den += v * v * r->fit_qq[ib];
    }
    return den > 0 ? (float)(num / den) : 0.f;
}

/* Row gain of d and of the least-squares d for the codes d gives; the best
 * so far is kept in r->code and *best_d. */
static void kt_try_row_scale(kt_row *r, const kt_code_map *map, float d,
                             int *scratch_codes, double *best_gain, float *best_d) {
    for (int pass = 0; pass < 2; ++pass) {
        double gain = kt_row_gain(r, map, d, scratch_codes);
        if (gain > *best_gain) {
            *best_gain = gain;
            *best_d = d;
            memcpy(r->code, scratch_codes, (size_t)r->nblocks * sizeof *r->code);
        }
        d = kt_refit_d(r, scratch_codes);
        if (d == 0 || !isfinite(d))
            break;
    }
}

/* Second stage: the row scale and block codes that best keep the blocks'
 * free scales, tried around mapping the largest one onto either end of the
 * code range, each candidate polished by a least-squares refit. Where one
 * block's scale stands far above the rest (an outlier), clipping that block
 * to the largest code buys the others a finer step: smaller scales are
 * tried too. */
static float kt_choose_row_scale(kt_row *r, int *scratch_codes) {
    static const float clip_stretch[] = {1.2f, 1.35f, 1.5f, 1.75f, 2.f, 2.5f, 3.f};
    float max_scale = 0;
    for (int ib = 0; ib < r->nblocks; ++ib) {
        float s = r->fit_qq[ib] > 0 ? r->fit_xq[ib] / r->fit_qq[ib] : 0;
        r->free_scale[ib] = s;
        if (fabsf(s) > fabsf(max_scale))
            max_scale = s;
    }
    const kt_code_map map = kt_code_map_of(r->f);
    if (max_scale == 0 || !isfinite(max_scale))
        return 0;
    const float ends[2] = {kt_scale_of(r->f, r->f->code_min),
                           kt_scale_of(r->f, r->f->code_max)};
    double best_gain = -INFINITY;
    float best_d = 0;
    for (int e = 0; e < 2; ++e) {
        if (ends[e] == 0)
            continue;
        for (int i = -12; i <= 12; ++i)
            kt_try_row_scale(r, &map, max_scale / (ends[e] * (1.0f + 0.01f * (float)i)),
                             scratch_codes, &best_gain, &best_d);
        for (size_t i = 0; i < sizeof clip_stretch / sizeof clip_stretch[0]; ++i)
            kt_try_row_scale(r, &map, max_scale / (ends[e] * clip_stretch[i]),
                             scratch_codes, &best_gain, &best_d);
    }
    return best_d;
}

/* Third stage: search again with each block's quantized scale, starting from
 * the current seeds; returns the least-squares row scale afterwards. */
static float kt_final_search(kt_row *r, float d) {
    const int ng = kt_groups_per_block(r);
    for (int ib = 0; ib < r->nblocks; ++ib) {
        float dl = d * kt_scale_of(r->f, r->code[ib]);
        uint16_t *seeds = r->seed + ib * ng;
        if (dl != 0 && isfinite(1.0f / dl))
            kt_search(r, ib, r->alt[ib], 1.0f / dl, r->plan->slack_final, 1, seeds);
        kt_fit(r, ib, seeds, r->alt[ib], &r->fit_xq[ib], &r->fit_qq[ib]);
    }
    return kt_refit_d(r, r->code);
}

static void kt_write_row(const kt_row *r, float d, uint8_t *dst) {
    lq_store_f32(dst, d);
    const int ng = kt_groups_per_block(r);
    kt_superblock sb;
    for (int s = 0; s < r->nblocks / KT_NBLOCK; ++s) {
        memset(&sb, 0, sizeof sb);
        for (int b = 0; b < KT_NBLOCK; ++b) {
            int ib = s * KT_NBLOCK + b;
            sb.code[b] = r->code[ib];
            sb.alt[b] = r->alt[ib];
            memcpy(sb.seed + b * ng, r->seed + ib * ng, (size_t)ng * sizeof *sb.seed);
        }
        memcpy(sb.negative, r->negative + s * KT_SUPER, KT_SUPER);
        r->f->pack(&sb, dst + 4 + s * r->f->block_bytes);
    }
}

static float kt_max_abs(const float *v, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; ++i)
        m = fmaxf(m, fabsf(v[i]));
    return m;
}

static int kt_quantize(const kt_format *f, const float *src, void *dst,
                       int64_t ncols, const float *imatrix) {
    kt_row r;
    if (!kt_row_alloc(&r, f, ncols))
        return LQ_ERR_NO_MEMORY;
    int *scratch = malloc((size_t)r.nblocks * sizeof *scratch);
    if (!scratch) {
        kt_row_free(&r);
        return LQ_ERR_NO_MEMORY;
    }
    const float amax_row = kt_max_abs(src, ncols);
    float d = 0;
    if (amax_row > 0) {
        /* dividing (not multiplying by a reciprocal) cannot overflow */
        for (int64_t j = 0; j < ncols; ++j)
            r.x[j] = src[j] / amax_row;
        float imatrix_max = imatrix ? kt_max_abs(imatrix, ncols) : 0;
        kt_set_weights(&r, r.x, imatrix_max > 0 ? imatrix : NULL, imatrix_max);
        if (f->magnitudes)
            for (int64_t j = 0; j < ncols; ++j) {
                r.negative[j] = r.x[j] < 0;
                r.x[j] = fabsf(r.x[j]);
            }
        for (int ib = 0; ib < r.nblocks; ++ib)
            kt_first_block(&r, ib);
        for (int it = 0; it < r.plan->outer_iters; ++it) {
            d = kt_choose_row_scale(&r, scratch);
            if (d == 0)
                break;
            d = kt_final_search(&r, d);
        }
        d *= amax_row;
        if (!isfinite(d))
            d = 0;
    }
    kt_write_row(&r, d, dst);
    free(scratch);
    kt_row_free(&r);
    return LQ_OK;
}

#define KT_QUANTIZE_FN(name, type_id)                                         \
    static int name(const float *src, void *dst, int64_t ncols,               \
                    const float *imatrix) {                                   \
        return kt_quantize(kt_format_of(type_id), src, dst, ncols, imatrix);  \
    }

KT_QUANTIZE_FN(kt_quantize_iq1, LQ_TYPE_IQ1_KT)
KT_QUANTIZE_FN(kt_quantize_iq2, LQ_TYPE_IQ2_KT)
KT_QUANTIZE_FN(kt_quantize_iq3, LQ_TYPE_IQ3_KT)
KT_QUANTIZE_FN(kt_quantize_iq4, LQ_TYPE_IQ4_KT)

static const lq_codec kt_codecs[] = {
    {LQ_TYPE_IQ1_KT, kt_quantize_iq1, kt_dequantize_iq1, NULL, NULL},
    {LQ_TYPE_IQ2_KT, kt_quantize_iq2, kt_dequantize_iq2, NULL, NULL},
    {LQ_TYPE_IQ3_KT, kt_quantize_iq3, kt_dequantize_iq3, NULL, NULL},
    {LQ_TYPE_IQ4_KT, kt_quantize_iq4, kt_dequantize_iq4, NULL, NULL},
};

const lq_codec_family lq_family_trellis = {
    "trellis", kt_codecs, sizeof kt_codecs / sizeof kt_codecs[0]};
