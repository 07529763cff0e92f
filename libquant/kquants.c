/*
 * Codec family "kquants": q2_K, q3_K, q4_K, q5_K, q6_K, and the activation
 * format q8_K.
 *
 * Super-blocks of 256 weights split into sub-blocks of 16 or 32. Each
 * sub-block has a small integer scale (and, for the affine types q2_K, q4_K
 * and q5_K, a small integer min), multiplied by the super-block's fp16 d
 * (and dmin):
 *     affine:    y = (d * scale) * q - (dmin * min),  q in [0, 2^bits - 1]
 *     symmetric: y = (d * scale) * q,                 q in [-2^(bits-1), ..)
 *
 * Encoding, per super-block:
 *   1. fit each sub-block alone (scale search of scale_search.c);
 *   2. quantize the sub-block scales (and mins) to integers with one
 *      super-block scale, by the same search, weighting each sub-block by
 *      how much its error grows with a scale error;
 *   3. with the stored fp16 super scales fixed, give each sub-block the best
 *      of the integer scales (and mins) next to its ideal ones, judged by
 *      the actual error after re-rounding its weights.
 * Step 3 is where most of the gain over a plain rounding of the scales is.
 *
 * Code ranges the readers assume: every 2- to 6-bit level and every packed
 * scale and min of q2_K..q5_K is valid; q6_K's int8 sub-block scales use
 * all of [-128, 127] (the reference maps the largest to -128 and its kernels
 * widen them to 16 bits). q8_K, an activation format, keeps its codes in
 * [-127, 127] with exact sums, as the reference's kernels expect. Scales
 * are finite. tests/test_code_ranges.c checks these rules.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "codec.h"
#include "codec_rows.h"
#include "common.h"
#include "scale_search.h"

#define QK 256
#define MAX_SUBBLOCKS 16

/* A super-block in unpacked form. */
typedef struct kq_block {
    uint16_t d_bits, dmin_bits;
    int scale[MAX_SUBBLOCKS]; /* signed for the symmetric types */
    int min[MAX_SUBBLOCKS];   /* affine types only */
    int q[QK];                /* in [qmin, qmax] */
} kq_block;

typedef struct kquant_format {
    int type;
    int bytes;      /* per super-block */
    int sub;        /* weights per sub-block */
    bool affine;
    int qmin, qmax; /* range of the weight integers */
    int smin, smax; /* range of the sub-block scales (and mins) */
    void (*pack)(const kq_block *b, uint8_t *dst);
    void (*unpack)(const uint8_t *src, kq_block *b);
    lq_sweep sweep;     /* of each sub-block's scale (step 1) */
    int refit_rounds;   /* of the super scales after step 3 */
    bool one_neighbour; /* step 3 tries 2 integer scales instead of 3 */
} kquant_format;

/* --------------------------------------------------- shared bit layouts */

/* 2-bit fields (q2_K, and the low bits of q3_K): in each half of 128
 * weights, byte l holds weights l, l+32, l+64, l+96 from the low bits up. */
static void pack_2bit(const int *level, uint8_t *qs) {
    for (int half = 0; half < 2; half++) {
        const int *v = level + 128 * half;
        for (int l = 0; l < 32; l++)
            qs[32 * half + l] = (uint8_t)((v[l] & 3) | (v[l + 32] & 3) << 2 |
                                          (v[l + 64] & 3) << 4 |
                                          (v[l + 96] & 3) << 6);
    }
}

static void unpack_2bit(const uint8_t *qs, int *level) {
    for (int half = 0; half < 2; half++)
        for (int l = 0; l < 32; l++)
            for (int k = 0; k < 4; k++)
                level[128 * half + 32 * k + l] = (qs[32 * half + l] >> (2 * k)) & 3;
}

/* Nibbles (q4_K, and the low bits of q5_K): in each quarter of 64 weights,
 * byte l holds weight l in the low and weight l+32 in the high nibble. */
static void pack_nibbles(const int *level, uint8_t *qs) {
    for (int quarter = 0; quarter < 4; quarter++) {
        const int *v = level + 64 * quarter;
        for (int l = 0; l < 32; l++)
            qs[32 * quarter + l] = (uint8_t)((v[l] & 15) | (v[l + 32] & 15) << 4);
    }
}

static void unpack_nibbles(const uint8_t *qs, int *level) {
    for (int quarter = 0; quarter < 4; quarter++)
        for (int l = 0; l < 32; l++) {
            level[64 * quarter + l] = qs[32 * quarter + l] & 15;
            level[64 * quarter + l + 32] = qs[32 * quarter + l] >> 4;
        }
}

/* Eight 6-bit scales and eight 6-bit mins in 12 bytes (q4_K, q5_K): bytes
 * 0-3 / 4-7 hold scales / mins 0-3 in 6 bits, with the top two bits of
 * scales / mins 4-7 above them; bytes 8-11 hold the low nibbles of scale
 * (low) and min (high) 4-7. */
static void pack_scales_k4(const int *scale, const int *min, uint8_t *out) {
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)((scale[j] & 63) | (scale[j + 4] >> 4) << 6);
        out[j + 4] = (uint8_t)((min[j] & 63) | (min[j + 4] >> 4) << 6);
        out[j + 8] = (uint8_t)((scale[j + 4] & 15) | (min[j + 4] & 15) << 4);
    }
}

static void unpack_scales_k4(const uint8_t *in, int *scale, int *min) {
    for (int j = 0; j < 4; j++) {
        scale[j] = in[j] & 63;
        min[j] = in[j + 4] & 63;
        scale[j + 4] = (in[j + 8] & 15) | (in[j] >> 6) << 4;
        min[j + 4] = (in[j + 8] >> 4) | (in[j + 4] >> 6) << 4;
    }
}

/* -------------------------------------------------------------- layouts */

/* q2_K: scales[16] (scale low nibble, min high), qs[64], d, dmin. */
static void pack_q2_K(const kq_block *b, uint8_t *dst) {
    for (int j = 0; j < 16; j++)
        dst[j] = (uint8_t)(b->scale[j] | b->min[j] << 4);
    pack_2bit(b->q, dst + 16);
    lq_store_u16(dst + 80, b->d_bits);
    lq_store_u16(dst + 82, b->dmin_bits);
}

static void unpack_q2_K(const uint8_t *src, kq_block *b) {
    for (int j = 0; j < 16; j++) {
        b->scale[j] = src[j] & 15;
        b->min[j] = src[j] >> 4;
    }
    unpack_2bit(src + 16, b->q);
    b->d_bits = lq_load_u16(src + 80);
    b->dmin_bits = lq_load_u16(src + 82);
}

/* q3_K: hmask[32] (bit j/32 of byte j%32 set when q_j >= 0), qs[64] (low
 * two bits of q + 4), scales[12] (scale + 32 in 6 bits: low nibbles of
 * scales 0-7 / 8-15 in the low / high nibbles of bytes 0-7, two high bits
 * of scale j at bit 2*(j/4) of byte 8 + j%4), d. */
static void pack_q3_K(const kq_block *b, uint8_t *dst) {
    int level[QK];
    for (int j = 0; j < QK; j++)
        level[j] = b->q[j] + 4;
    uint8_t *hmask = dst;
    for (int l = 0; l < 32; l++) {
        int bits = 0;
        for (int k = 0; k < 8; k++) /* level >> 2 is the bit: level in [0, 7] */
            bits |= (level[l + 32 * k] >> 2) << k;
        hmask[l] = (uint8_t)bits;
    }
    pack_2bit(level, dst + 32);
    uint8_t *sc = dst + 96;
    memset(sc, 0, 12);
    for (int j = 0; j < 16; j++) {
        int l = b->scale[j] + 32;
        sc[j % 8] |= (uint8_t)((l & 15) << (4 * (j / 8)));
        sc[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
    lq_store_u16(dst + 108, b->d_bits);
}

static void unpack_q3_K(const uint8_t *src, kq_block *b) {
    unpack_2bit(src + 32, b->q);
    for (int j = 0; j < QK; j++)
        b->q[j] -= (src[j % 32] >> (j / 32)) & 1 ? 0 : 4;
    const uint8_t *sc = src + 96;
    for (int j = 0; j < 16; j++) {
        int l = ((sc[j % 8] >> (4 * (j / 8))) & 15) |
                ((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4;
        b->scale[j] = l - 32;
    }
    b->d_bits = lq_load_u16(src + 108);
}

/* q4_K: d, dmin, scales[12] (pack_scales_k4), qs[128]. */
static void pack_q4_K(const kq_block *b, uint8_t *dst) {
    lq_store_u16(dst, b->d_bits);
    lq_store_u16(dst + 2, b->dmin_bits);
    pack_scales_k4(b->scale, b->min, dst + 4);
    pack_nibbles(b->q, dst + 16);
}

static void unpack_q4_K(const uint8_t *src, kq_block *b) {
    b->d_bits = lq_load_u16(src);
    b->dmin_bits = lq_load_u16(src + 2);
    unpack_scales_k4(src + 4, b->scale, b->min);
    unpack_nibbles(src + 16, b->q);
}

/* q5_K: as q4_K plus qh[32] before the nibbles: in quarter k of 64
 * weights, bit 2k of byte l is the fifth bit of weight l, bit 2k+1 that of
 * weight l + 32. */
static void pack_q5_K(const kq_block *b, uint8_t *dst) {
    lq_store_u16(dst, b->d_bits);
    lq_store_u16(dst + 2, b->dmin_bits);
    pack_scales_k4(b->scale, b->min, dst + 4);
    uint8_t *qh = dst + 16;
    memset(qh, 0, 32);
    for (int j = 0; j < QK; j++)
        qh[j % 32] |= (uint8_t)((b->q[j] >> 4) << (j / 32));
    pack_nibbles(b->q, dst + 48);
}

static void unpack_q5_K(const uint8_t *src, kq_block *b) {
    b->d_bits = lq_load_u16(src);
    b->dmin_bits = lq_load_u16(src + 2);
    unpack_scales_k4(src + 4, b->scale, b->min);
    unpack_nibbles(src + 48, b->q);
    for (int j = 0; j < QK; j++)
        b->q[j] |= ((src[16 + j % 32] >> (j / 32)) & 1) << 4;
}

/* q6_K: ql[128], qh[64], int8 scales[16], d; level = q + 32. In each half
 * of 128 weights, ql byte l holds weights l (low) and l+64 (high), byte
 * l+32 weights l+32 and l+96; qh byte l their top two bits, in the order
 * l, l+32, l+64, l+96 from the low bits up. */
static void pack_q6_K(const kq_block *b, uint8_t *dst) {
    for (int half = 0; half < 2; half++) {
        const int *v = b->q + 128 * half;
        uint8_t *ql = dst + 64 * half;
        uint8_t *qh = dst + 128 + 32 * half;
        for (int l = 0; l < 32; l++) {
            int a = v[l] + 32, c = v[l + 32] + 32;
            int e = v[l + 64] + 32, g = v[l + 96] + 32;
            ql[l] = (uint8_t)((a & 15) | (e & 15) << 4);
            ql[l + 32] = (uint8_t)((c & 15) | (g & 15) << 4);
            qh[l] = (uint8_t)((a >> 4) | (c >> 4) << 2 | (e >> 4) << 4 |
                              (g >> 4) << 6);
        }
    }
    for (int j = 0; j < 16; j++)
        dst[192 + j] = (uint8_t)(int8_t)b->scale[j];
    lq_store_u16(dst + 208, b->d_bits);
}

static void unpack_q6_K(const uint8_t *src, kq_block *b) {
    for (int half = 0; half < 2; half++) {
        int *v = b->q + 128 * half;
        const uint8_t *ql = src + 64 * half;
        const uint8_t *qh = src + 128 + 32 * half;
        for (int l = 0; l < 32; l++) {
            v[l] = ((ql[l] & 15) | (qh[l] & 3) << 4) - 32;
            v[l + 32] = ((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
            v[l + 64] = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            v[l + 96] = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        }
    }
    for (int j = 0; j < 16; j++)
        b->scale[j] = (int8_t)src[192 + j];
    b->d_bits = lq_load_u16(src + 208);
}

/* Search effort per type, chosen by measuring error against time on
 * Gaussian and heavy-tailed rows, with and without an importance matrix:
 * q4_K and q5_K gain 1-2% from trying both anchors of each sub-block's
 * range, which costs q2_K (whose 4 levels an outlier dominates) up to 3% on
 * heavy tails, so q2_K keeps the bottom anchor and a finer sweep; q3_K's
 * grid [-4, 3] is best swept around -4, and more super-scale refits or a
 * third candidate scale in step 3 each gain it under 0.1% for 10-30% more
 * time (q3_K is the type whose reference encoder is fastest). */
#define THIRD (1.0f / 3.0f)
static const kquant_format q2_K_format = {LQ_TYPE_Q2_K, 84, 16, true, 0, 3, 0, 15, pack_q2_K, unpack_q2_K, {1.0f, 0.2f, false, 1}, 1, false};
static const kquant_format q3_K_format = {LQ_TYPE_Q3_K, 110, 16, false, -4, 3, -32, 31, pack_q3_K, unpack_q3_K, {1.0f, 1.0f, true, 1}, 0, true};
static const kquant_format q4_K_format = {LQ_TYPE_Q4_K, 144, 32, true, 0, 15, 0, 63, pack_q4_K, unpack_q4_K, {1.0f, THIRD, false, 2}, 1, false};
static const kquant_format q5_K_format = {LQ_TYPE_Q5_K, 176, 32, true, 0, 31, 0, 63, pack_q5_K, unpack_q5_K, {1.0f, THIRD, false, 2}, 1, false};
static const kquant_format q6_K_format = {LQ_TYPE_Q6_K, 210, 16, false, -32, 31, -128, 127, pack_q6_K, unpack_q6_K, {1.0f, THIRD, false, 1}, 1, false};

/* ------------------------------------------------------------- decoding */

static void decode_block(const kquant_format *f, const uint8_t *src, float *y) {
    kq_block b;
    f->unpack(src, &b);
    float d = lq_half_to_float(b.d_bits);
    float dmin = f->affine ? lq_half_to_float(b.dmin_bits) : 0.0f;
    for (int j = 0; j < QK / f->sub; j++) {
        float dl = d * (float)b.scale[j];
        const int *q = b.q + j * f->sub;
        float *out = y + j * f->sub;
        if (f->affine) {
            float ml = dmin * (float)b.min[j];
            for (int i = 0; i < f->sub; i++)
                out[i] = dl * (float)q[i] - ml;
        } else {
            for (int i = 0; i < f->sub; i++)
                out[i] = dl * (float)q[i];
        }
    }
}

static void decode_row(const kquant_format *f, const void *src, float *dst,
                       int64_t ncols) {
    const uint8_t *block = src;
    for (int64_t i = 0; i < ncols / QK; i++, block += f->bytes)
        decode_block(f, block, dst + i * QK);
}

/* ------------------------------------------------------------- encoding */

static int clamp_int(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* The integer nearest to value / step, clamped; step may be 0. */
static int nearest_level(float value, float step, int lo, int hi) {
    if (step == 0.0f)
        return clamp_int(0, lo, hi);
    float r = value / step;
    if (!(r > (float)lo))
        return lo;
    if (!(r < (float)hi))
        return hi;
    return lq_nearest_int(r);
}

/* Step 2 fits only 8 or 16 values: a fine sweep costs little. */
static const lq_sweep superblock_sweep = {1.0f, 0.2f, false, 1};

/* A super-block normalised for the searches (x * 2^-exponent, exact;
 * weights at most 1) and the ideal (unquantized) fit of each sub-block
 * from step 1. */
typedef struct subblock_fits {
    float x[QK], w[QK];
    int exponent;
    float scale[MAX_SUBBLOCKS];
    float min[MAX_SUBBLOCKS]; /* affine types: the subtracted magnitude */
} subblock_fits;

/* Step 3: with the super scales fixed, give each sub-block the integer
 * scale (and min) next to its ideal one that leaves the least error, with
 * its weights re-rounded. Returns the total error. */
static float assign_subblocks(const kquant_format *f, const subblock_fits *fit,
                              float d, float dmin, kq_block *b) {
    const int lo = f->affine ? 0 : f->smin;
    float total = 0;
    for (int j = 0; j < QK / f->sub; j++) {
        const int o = j * f->sub;
        const float *x = fit->x + o, *w = fit->w + o;
        const int s0 = nearest_level(fit->scale[j], d, lo, f->smax);
        const int m0 = f->affine ? nearest_level(fit->min[j], dmin, 0, f->smax) : 0;
        const int m_span = f->affine ? 1 : 0;
        float best = HUGE_VALF;
        int best_s = s0, best_m = m0;
        /* the nearest scale and both neighbours, or with
         * one_neighbour only the neighbour on the ideal scale's side */
        int s_lo = s0 - 1, s_hi = s0 + 1;
        if (f->one_neighbour && d != 0.0f) {
            if ((float)s0 < fit->scale[j] / d)
                s_lo = s0;
            else
                s_hi = s0;
        }
        for (int s = s_lo; s <= s_hi; s++) {
            for (int mi = m0 - m_span; mi <= m0 + m_span; mi++) {
                if (s < lo || s > f->smax || mi < 0 || mi > f->smax)
                    continue;
                float err = f->affine
                    ? lq_round_affine(f->sub, x, w, d * (float)s,
                                      -(dmin * (float)mi), f->qmax, NULL)
                    : lq_round_symmetric(f->sub, x, w, d * (float)s,
                                         f->qmin, f->qmax, NULL);
                if (err < best) {
                    best = err;
                    best_s = s;
                    best_m = mi;
                }
            }
        }
        b->scale[j] = best_s;
        b->min[j] = best_m;
        if (f->affine)
            lq_round_affine(f->sub, x, w, d * (float)best_s,
                            -(dmin * (float)best_m), f->qmax, b->q + o);
        else
            lq_round_symmetric(f->sub, x, w, d * (float)best_s, f->qmin,
                               f->qmax, b->q + o);
        total += best;
    }
    return total;
}

/* Least-squares super scales for the integers of b: the error is linear in
 * d (and dmin) once every integer is fixed. False if degenerate. */
static bool refit_super_scales(const kquant_format *f, const subblock_fits *fit,
                               const kq_block *b, float *d, float *dmin) {
    /* normal equations of x ~ d*a - dmin*c, a = scale*q, c = min */
    float aa[LQ_LANES] = {0}, ac[LQ_LANES] = {0}, cc[LQ_LANES] = {0};
    float xa[LQ_LANES] = {0}, xc[LQ_LANES] = {0};
    for (int i = 0; i < QK; i += LQ_LANES) {
        const float scale = (float)b->scale[i / f->sub];
        const float c = f->affine ? (float)b->min[i / f->sub] : 0.0f;
        for (int k = 0; k < LQ_LANES; k++) {
            float a = scale * (float)b->q[i + k];
            float wa = fit->w[i + k] * a, wc = fit->w[i + k] * c;
            aa[k] += wa * a;
            ac[k] += wa * c;
            cc[k] += wc * c;
            xa[k] += wa * fit->x[i + k];
            xc[k] += wc * fit->x[i + k];
        }
    }
    double saa = 0, sac = 0, scc = 0, sxa = 0, sxc = 0;
    for (int k = 0; k < LQ_LANES; k++) {
        saa += aa[k];
        sac += ac[k];
        scc += cc[k];
        sxa += xa[k];
        sxc += xc[k];
    }
    if (!f->affine) {
        if (!(saa > 0))
            return false;
        *d = (float)(sxa / saa);
        return true;
    }
    /* x ~ d*a - dmin*c: the normal equations in (d, dmin) */
    double det = saa * scc - sac * sac;
    if (!(det > 1e-9 * saa * scc))
        return false;
    double nd = (sxa * scc - sxc * sac) / det;
    double nm = (sxa * sac - saa * sxc) / det;
    if (!(nd >= 0) || !(nm >= 0))
        return false;
    *d = (float)nd;
    *dmin = (float)nm;
    return true;
}

/* The normalised data and weights of a super-block. A sub-block with no
 * importance at all gets the super-block's largest weight, as a block
 * without an imatrix gets ones. */
static void normalise_superblock(const kquant_format *f, const float *x,
                                 const float *imatrix, subblock_fits *fit) {
    fit->exponent = lq_block_exponent(QK, x);
    lq_scale_by_pow2(QK, x, fit->exponent, fit->x);
    if (!imatrix) {
        for (int i = 0; i < QK; i++)
            fit->w[i] = 1.0f;
        return;
    }
    memcpy(fit->w, imatrix, sizeof fit->w);
    lq_normalise_weights(QK, fit->w);
    for (int o = 0; o < QK; o += f->sub) {
        float total = 0;
        for (int i = 0; i < f->sub; i++)
            total += fit->w[o + i];
        if (!(total > 0))
            for (int i = 0; i < f->sub; i++)
                fit->w[o + i] = 1.0f;
    }
}

/* Step 1: the ideal fit of every sub-block; also the weights of step 2 (a
 * scale error costs sum w q^2, a min error sum w). */
static void fit_subblocks(const kquant_format *f, subblock_fits *fit,
                          float *scale_weight, float *min_weight) {
    for (int j = 0; j < QK / f->sub; j++) {
        const int o = j * f->sub;
        const float *x = fit->x + o, *w = fit->w + o;
        float wqq, ww = 0;
        if (f->affine) {
            float m;
            fit->scale[j] = lq_search_affine(f->sub, x, w, f->qmax, true,
                                             f->sweep, &m, &wqq);
            fit->min[j] = -m;
        } else {
            fit->scale[j] = lq_search_symmetric(f->sub, x, w, f->qmin, f->qmax,
                                                f->sweep, &wqq);
            fit->min[j] = 0;
        }
        for (int i = 0; i < f->sub; i++)
            ww += w[i];
        scale_weight[j] = wqq;
        min_weight[j] = ww;
    }
    lq_normalise_weights(QK / f->sub, scale_weight);
    lq_normalise_weights(QK / f->sub, min_weight);
}

/* Store a normalised super scale as fp16; returns the stored value,
 * normalised back (exact: a power of two). */
static float store_super_scale(float d, int exponent, uint16_t *bits) {
    float stored;
    *bits = lq_scale_to_fp16(ldexpf(d, exponent), &stored);
    return ldexpf(stored, -exponent);
}

static void encode_superblock(const kquant_format *f, const float *x,
                              const float *imatrix, kq_block *b) {
    const int nsub = QK / f->sub;
    subblock_fits fit;
    float scale_weight[MAX_SUBBLOCKS], min_weight[MAX_SUBBLOCKS];
    normalise_superblock(f, x, imatrix, &fit);
    fit_subblocks(f, &fit, scale_weight, min_weight);

    /* step 2 */
    float d = lq_search_symmetric(nsub, fit.scale, scale_weight,
                                  f->affine ? 0 : f->smin, f->smax,
                                  superblock_sweep, NULL);
    float dmin = f->affine ? lq_search_symmetric(nsub, fit.min, min_weight, 0,
                                                 f->smax, superblock_sweep, NULL)
                           : 0.0f;
    d = store_super_scale(d, fit.exponent, &b->d_bits);
    dmin = store_super_scale(dmin, fit.exponent, &b->dmin_bits);
    float err = assign_subblocks(f, &fit, d, dmin, b);

    /* refit the super scales to the chosen integers and reassign, for as
     * long as that lowers the error */
    for (int round = 0; round < f->refit_rounds; round++) {
        float nd = d, nm = dmin;
        if (!refit_super_scales(f, &fit, b, &nd, &nm))
            break;
        kq_block trial = *b;
        nd = store_super_scale(nd, fit.exponent, &trial.d_bits);
        nm = store_super_scale(nm, fit.exponent, &trial.dmin_bits);
        float trial_err = assign_subblocks(f, &fit, nd, nm, &trial);
        if (!(trial_err < err))
            break;
        *b = trial;
        err = trial_err;
        d = nd;
        dmin = nm;
    }
}

static void encode_row(const kquant_format *f, const float *src, void *dst,
                       int64_t ncols, const float *imatrix) {
    uint8_t *block = dst;
    for (int64_t i = 0; i < ncols / QK; i++, block += f->bytes) {
        kq_block b;
        memset(&b, 0, sizeof b);
        const float *im = imatrix ? imatrix + i * QK : NULL;
        encode_superblock(f, src + i * QK, im, &b);
        f->pack(&b, block);
    }
}

/* ----------------------------------------------------------------- q8_K */

/* q8_K: float d, float sum (d times the sum of all integers), int8 qs[256],
 * int16 bsums[16] (sums of the integers of each run of 16). The scale maps
 * the largest magnitude to 127, so the integers never saturate. */
#define Q8_K_BYTES 296

static int quantize_q8_K(const float *src, void *dst, int64_t ncols,
                         const float *imatrix) {
    (void)imatrix; /* an activation format: plain max-abs scaling */
    uint8_t *block = dst;
    for (int64_t i = 0; i < ncols / QK; i++, block += Q8_K_BYTES) {
        const float *x = src + i * QK;
        float amax = 0;
        for (int j = 0; j < QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = amax > 0 ? 127.0f / amax : 0.0f;
        if (!isfinite(id)) /* amax subnormal: the integers would overflow */
            id = 0.0f;
        int total = 0;
        for (int g = 0; g < QK / 16; g++) {
            int sum = 0;
            for (int j = 16 * g; j < 16 * g + 16; j++) {
                int l = clamp_int(lq_nearest_int(id * x[j]), -127, 127);
                block[8 + j] = (uint8_t)(int8_t)l;
                sum += l;
            }
            lq_store_u16(block + 8 + QK + 2 * g, (uint16_t)(int16_t)sum);
            total += sum;
        }
        lq_store_f32(block, d);
        lq_store_f32(block + 4, d * (float)total);
    }
    return LQ_OK;
}

static void dequantize_q8_K(const void *src, float *dst, int64_t ncols) {
    const uint8_t *block = src;
    for (int64_t i = 0; i < ncols / QK; i++, block += Q8_K_BYTES) {
        float d = lq_load_f32(block);
        for (int j = 0; j < QK; j++)
            dst[i * QK + j] = d * (float)(int8_t)block[8 + j];
    }
}

/* ---------------------------------------------------------- codec table */

LQ_ROW_CODEC(q2_K, &q2_K_format, encode_row, decode_row)
LQ_ROW_CODEC(q3_K, &q3_K_format, encode_row, decode_row)
LQ_ROW_CODEC(q4_K, &q4_K_format, encode_row, decode_row)
LQ_ROW_CODEC(q5_K, &q5_K_format, encode_row, decode_row)
LQ_ROW_CODEC(q6_K, &q6_K_format, encode_row, decode_row)

static const lq_codec kquant_codecs[] = {
    {LQ_TYPE_Q2_K, quantize_q2_K, dequantize_q2_K, NULL, NULL},
    {LQ_TYPE_Q3_K, quantize_q3_K, dequantize_q3_K, NULL, NULL},
    {LQ_TYPE_Q4_K, quantize_q4_K, dequantize_q4_K, NULL, NULL},
    {LQ_TYPE_Q5_K, quantize_q5_K, dequantize_q5_K, NULL, NULL},
    {LQ_TYPE_Q6_K, quantize_q6_K, dequantize_q6_K, NULL, NULL},
    {LQ_TYPE_Q8_K, quantize_q8_K, dequantize_q8_K, NULL, NULL},
};

const lq_codec_family lq_family_kquants = {
    "kquants", kquant_codecs, sizeof kquant_codecs / sizeof kquant_codecs[0]};
