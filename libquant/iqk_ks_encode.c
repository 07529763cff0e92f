/*
 * Encoder of the iqk_ks family.
 *
 * A row is encoded in three steps, all with per-weight importances w:
 *   1. each block of 32 gets its best float scale and table half (an exact
 *      sweep over every assignment for the small tables, a grid of candidate
 *      scales refined by alternating fits for the others);
 *   2. the row scale d is chosen so that the block scales, rounded to their
 *      integer codes, lose the least (each block's loss is modelled as
 *      curvature * (scale - d * code)^2);
 *   3. with d as it will be stored, each block tries the codes next to its
 *      scale and both table halves and keeps the best exact assignment; d is
 *      then refitted by least squares and step 3 repeats, keeping the best
 *      encoding seen.
 * The row is first scaled by a power of two so its maximum is near 1: exact,
 * and it keeps squares of tiny or huge inputs finite.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "iqk_ks_internal.h"

/* ------------------------------------------------------------------------ */
/* The iq2_kl grid: 32 pairs of iq3nl base values (a fact of the format).   */

static const int8_t iq2kl_pairs[32][2] = {
    {-63, -23}, {-63, 13}, {-40, -63}, {-40, -10}, {-40, 13}, {-40, 47}, {-23, -40}, {-23, -23},
    {-23, 1}, {-23, 13}, {-23, 28}, {-10, -63}, {-10, 1}, {-10, 13}, {-10, 47}, {1, -23},
    {1, -10}, {1, 1}, {1, 13}, {1, 28}, {13, -40}, {13, -23}, {13, -10}, {13, 1},
    {13, 13}, {28, -63}, {28, -23}, {28, 1}, {28, 28}, {28, 47}, {47, -23}, {47, 13},
};

const int8_t *ks_iq2kl_pair(int p) { return iq2kl_pairs[p]; }

/* For each cell (i1, i2) of the 8x8 product of iq3nl values, the grid pairs
 * worth trying when both weights round to that cell: the cell itself when
 * it is on the grid, else the grid pairs sharing its row or column or
 * touching it. */
#define KL_MAX_CANDIDATES 16
typedef struct kl_cell {
    uint8_t count;
    uint8_t pair[KL_MAX_CANDIDATES];
} kl_cell;

static kl_cell kl_cells[64];
static pthread_once_t kl_cells_once = PTHREAD_ONCE_INIT;

static int iq3nl_base_index(int value) {
    static const int8_t base[8] = {-63, -40, -23, -10, 1, 13, 28, 47};
    for (int i = 0; i < 8; ++i)
        if (base[i] == value)
            return i;
    return -1;
}

static void build_kl_cells(void) {
    int row[32], col[32];
    for (int p = 0; p < 32; ++p) {
        row[p] = iq3nl_base_index(iq2kl_pairs[p][0]);
        col[p] = iq3nl_base_index(iq2kl_pairs[p][1]);
    }
    for (int cell = 0; cell < 64; ++cell) {
        int i1 = cell / 8, i2 = cell % 8;
        kl_cell *c = &kl_cells[cell];
        c->count = 0;
        for (int p = 0; p < 32; ++p)
            if (row[p] == i1 && col[p] == i2)
                c->pair[c->count++] = (uint8_t)p;
        if (c->count)
            continue;
        for (int p = 0; p < 32 && c->count < KL_MAX_CANDIDATES; ++p) {
            bool touches = abs(row[p] - i1) <= 1 && abs(col[p] - i2) <= 1;
            if (row[p] == i1 || col[p] == i2 || touches)
                c->pair[c->count++] = (uint8_t)p;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Assignment of one block at a given inverse scale                          */

typedef struct ks_tables {
    float v[2][32];   /* the format's table halves as floats */
    float mid[2][32]; /* midpoints of consecutive values; mid[h][n-1] unused */
    /* iq4_kss: the indices of other popcount parity next below and above
     * (-1 / n when there is none) */
    int8_t other_below[32], other_above[32];
    int n;
} ks_tables;

/* Weighted sums of an assignment, in table units: qx = sum w x q,
 * q2 = sum w q^2. */
typedef struct ks_sums {
    float qx, q2;
} ks_sums;

/* Index of the value nearest to t: the number of midpoints below t, found
 * by a branch-free binary search (n is a power of two). */
static inline int nearest_index(const float *mid, int n, float t) {
    int i = 0;
    for (int step = n / 2; step >= 1; step /= 2)
        i += t > mid[i + step - 1] ? step : 0;
    return i;
}

static ks_sums assign_nearest(const float *v, const float *mid, int n, const float *x,
                              const float *w, float id, uint8_t *idx) {
    ks_sums s = {0, 0};
    for (int j = 0; j < KS_BLOCK; ++j) {
        int k = nearest_index(mid, n, id * x[j]);
        float q = v[k];
        idx[j] = (uint8_t)k;
        s.qx += w[j] * q * x[j];
        s.q2 += w[j] * q * q;
    }
    return s;
}

/* Popcount parity of a 4-bit index: bit k of 0x6996. */
static inline int parity4(int k) { return (0x6996 >> k) & 1; }

/* Nearest index to t whose popcount parity differs from that of k. */
static int nearest_other_parity(const ks_tables *t, const float *v, int k, float target) {
    int below = t->other_below[k], above = t->other_above[k];
    if (below < 0)
        return above;
    if (above >= t->n)
        return below;
    return fabsf(target - v[below]) <= fabsf(target - v[above]) ? below : above;
}

/* iq4_kss: nearest values, except that each group of four indices stored in
 * one word needs an even total popcount; an odd group changes the one
 * index whose change costs least, which is the constrained optimum. */
static ks_sums assign_even_parity(const ks_tables *tab, int half, const float *x, const float *w,
                                  float id, uint8_t *idx) {
    const float *v = tab->v[half];
    for (int k = 0; k < 8; ++k) {
        const int pos[4] = {2 * k, 2 * k + 16, 2 * k + 1, 2 * k + 17};
        int parity = 0, flip = -1, alt = 0;
        float least = FLT_MAX;
        for (int i = 0; i < 4; ++i) {
            float t = id * x[pos[i]];
            int q = nearest_index(tab->mid[half], tab->n, t);
            int other = nearest_other_parity(tab, v, q, t);
            float d0 = t - v[q], d1 = t - v[other];
            float penalty = w[pos[i]] * (d1 * d1 - d0 * d0);
            idx[pos[i]] = (uint8_t)q;
            parity ^= parity4(q);
            if (penalty < least) {
                least = penalty;
                flip = pos[i];
                alt = other;
            }
        }
        if (parity)
            idx[flip] = (uint8_t)alt;
    }
    ks_sums s = {0, 0};
    for (int j = 0; j < KS_BLOCK; ++j) {
        float q = v[idx[j]];
        s.qx += w[j] * q * x[j];
        s.q2 += w[j] * q * q;
    }
    return s;
}

/* iq2_kl: each pair of weights to the grid pair of least weighted error. */
static ks_sums assign_pairs(const float *mid, const float *x, const float *w, float id,
                            uint8_t *idx) {
    ks_sums s = {0, 0};
    for (int j = 0; j < KS_BLOCK / 2; ++j) {
        float x1 = x[2 * j], x2 = x[2 * j + 1], w1 = w[2 * j], w2 = w[2 * j + 1];
        float t1 = id * x1, t2 = id * x2;
        const kl_cell *c = &kl_cells[8 * nearest_index(mid, 8, t1) + nearest_index(mid, 8, t2)];
        int best = c->pair[0];
        float best_err = FLT_MAX;
        for (int i = 0; i < c->count; ++i) {
            const int8_t *g = iq2kl_pairs[c->pair[i]];
            float d1 = t1 - g[0], d2 = t2 - g[1];
            float err = w1 * d1 * d1 + w2 * d2 * d2;
            if (err < best_err) {
                best_err = err;
                best = c->pair[i];
            }
        }
        const int8_t *g = iq2kl_pairs[best];
        idx[j] = (uint8_t)best;
        s.qx += w1 * g[0] * x1 + w2 * g[1] * x2;
        s.q2 += w1 * g[0] * g[0] + w2 * g[1] * g[1];
    }
    return s;
}

static ks_sums assign_with(ks_assign kind, const ks_tables *t, int half, const float *x,
                           const float *w, float id, uint8_t *idx) {
    switch (kind) {
    case KS_ASSIGN_EVEN_PARITY:
        return assign_even_parity(t, half, x, w, id, idx);
    case KS_ASSIGN_PAIRS:
        return assign_pairs(t->mid[half], x, w, id, idx);
    default:
        return assign_nearest(t->v[half], t->mid[half], t->n, x, w, id, idx);
    }
}

static ks_sums assign_block(const ks_format *f, const ks_tables *t, int half, const float *x,
                            const float *w, float id, uint8_t *idx) {
    return assign_with(f->assign, t, half, x, w, id, idx);
}

/* ------------------------------------------------------------------------ */
/* Step 1: the best float scale of one block                                 */

typedef struct ks_choice {
    float score; /* qx^2 / q2: the error is sum w x^2 - score */
    float scale;
    float curv; /* q2: the error grows as curv * (scale - best)^2 */
    int half;
} ks_choice;

static void consider(ks_choice *c, double qx, double q2, float sign, int half) {
    if (q2 > 0 && qx * qx > (double)c->score * q2) {
        c->score = (float)(qx * qx / q2);
        c->scale = sign * (float)(qx / q2);
        c->curv = (float)q2;
        c->half = half;
    }
}

/* The block's nonzero weights by decreasing magnitude, split by sign. */
typedef struct sorted_block {
    uint8_t pos[KS_BLOCK], neg[KS_BLOCK];
    int npos, nneg;
    float inv_x[KS_BLOCK]; /* 1 / x_j for nonzero x_j */
} sorted_block;

static void sort_block(const float *x, sorted_block *sb) {
    sb->npos = sb->nneg = 0;
    for (int j = 0; j < KS_BLOCK; ++j) {
        uint8_t *list = x[j] > 0 ? sb->pos : sb->neg;
        int *count = x[j] > 0 ? &sb->npos : &sb->nneg;
        if (x[j] == 0)
            continue;
        sb->inv_x[j] = 1.0f / x[j];
        int i = (*count)++;
        for (; i > 0 && fabsf(x[list[i - 1]]) < fabsf(x[j]); --i)
            list[i] = list[i - 1];
        list[i] = (uint8_t)j;
    }
}

/* One sorted stream of crossings: the weights of `order` (by decreasing
 * magnitude) crossing the midpoint `mid`, at inverse scales mid / x_j,
 * which therefore increase along the stream. */
typedef struct crossing_stream {
    const uint8_t *order;
    int count, next, step;
    float mid, id; /* id: the next crossing's inverse scale */
} crossing_stream;

static void advance(crossing_stream *c, const float *inv_x, float sign) {
    c->id = c->next < c->count ? c->mid * sign * inv_x[c->order[c->next]] : FLT_MAX;
}

/* Every inverse scale id > 0 rounds the block to one assignment, and the
 * assignment only changes where some id * x_j crosses a midpoint of the
 * table. Walking those crossings in order (a merge of one sorted stream per
 * midpoint) visits every assignment once, updating the sums in O(1) each:
 * the optimum over all scales, exactly. sign = -1 fits -x, i.e. negative
 * scales. */
static void sweep_half(const ks_tables *t, int half, const float *x, const float *w,
                       const sorted_block *sorted, float sign, ks_choice *best) {
    const float *v = t->v[half], *mid = t->mid[half];
    int n = t->n, start = nearest_index(mid, n, 0.0f), nstreams = 0;
    crossing_stream streams[32];
    const uint8_t *up = sign > 0 ? sorted->pos : sorted->neg;
    const uint8_t *down = sign > 0 ? sorted->neg : sorted->pos;
    int nup = sign > 0 ? sorted->npos : sorted->nneg;
    int ndown = sign > 0 ? sorted->nneg : sorted->npos;
    for (int k = start; k < n - 1; ++k)
        streams[nstreams++] = (crossing_stream){up, nup, 0, 1, mid[k], 0};
    for (int k = start; k > 0; --k)
        streams[nstreams++] = (crossing_stream){down, ndown, 0, -1, mid[k - 1], 0};
    for (int i = 0; i < nstreams; ++i)
        advance(&streams[i], sorted->inv_x, sign);
    uint8_t cur[KS_BLOCK];
    double qx = 0, q2 = 0;
    for (int j = 0; j < KS_BLOCK; ++j) {
        cur[j] = (uint8_t)start;
        qx += (double)w[j] * sign * x[j] * v[start];
        q2 += (double)w[j] * v[start] * v[start];
    }
    consider(best, qx, q2, sign, half);
    for (;;) {
        int s = -1;
        float first = FLT_MAX;
        for (int i = 0; i < nstreams; ++i)
            if (streams[i].id < first) {
                first = streams[i].id;
                s = i;
            }
        if (s < 0)
            break;
        int j = streams[s].order[streams[s].next++];
        advance(&streams[s], sorted->inv_x, sign);
        int a = cur[j], b = a + streams[s].step;
        qx += (double)w[j] * sign * x[j] * (v[b] - v[a]);
        q2 += (double)w[j] * ((double)v[b] * v[b] - (double)v[a] * v[a]);
        cur[j] = (uint8_t)b;
        consider(best, qx, q2, sign, half);
    }
}

/* Candidate scales put the block's largest weight near either end of the
 * table, then alternating fits (assign, refit the scale) polish the best.
 * The parity constraint of iq4_kss costs little at a good scale, so its
 * candidates are ranked without it (4x faster) and only the polish uses it. */
static void grid_search(const ks_format *f, const ks_tables *t, const float *x, const float *w,
                        float max, ks_choice *best) {
    uint8_t idx[KS_BLOCK];
    ks_assign coarse = f->assign == KS_ASSIGN_EVEN_PARITY ? KS_ASSIGN_NEAREST : f->assign;
    for (int half = 0; half < f->nhalves; ++half) {
        const float ends[2] = {t->v[half][0], t->v[half][t->n - 1]};
        for (int e = 0; e < 2; ++e)
            for (int k = -f->ntry; k <= f->ntry; ++k) {
                ks_sums s = assign_with(coarse, t, half, x, w, (ends[e] + (float)k) / max, idx);
                consider(best, s.qx, s.q2, 1.0f, half);
            }
        /* the 2-d grid lacks many corners: also try the largest weight at
         * every value, so that e.g. a constant block finds a diagonal pair */
        for (int i = 0; i < t->n && f->assign == KS_ASSIGN_PAIRS; ++i) {
            ks_sums s = assign_with(coarse, t, half, x, w, t->v[half][i] / max, idx);
            consider(best, s.qx, s.q2, 1.0f, half);
        }
    }
    if (coarse != f->assign && best->scale != 0) {
        /* rescore the winner under the constraint before polishing it */
        ks_sums s = assign_block(f, t, best->half, x, w, 1.0f / best->scale, idx);
        best->score = 0;
        consider(best, s.qx, s.q2, 1.0f, best->half);
    }
    for (int iter = 0; iter < 3 && best->scale != 0; ++iter) {
        float before = best->score;
        ks_sums s = assign_block(f, t, best->half, x, w, 1.0f / best->scale, idx);
        consider(best, s.qx, s.q2, 1.0f, best->half);
        if (best->score <= before)
            break;
    }
}

static ks_choice search_block(const ks_format *f, const ks_tables *t, const float *x,
                              const float *w) {
    ks_choice best = {0, 0, 0, 0};
    float amax = 0, max = 0;
    for (int j = 0; j < KS_BLOCK; ++j)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    if (amax == 0)
        return best;
    if (f->search == KS_SEARCH_SWEEP) {
        sorted_block sorted;
        sort_block(x, &sorted);
        for (int half = 0; half < f->nhalves; ++half) {
            sweep_half(t, half, x, w, &sorted, 1.0f, &best);
            sweep_half(t, half, x, w, &sorted, -1.0f, &best);
        }
    } else {
        grid_search(f, t, x, w, max, &best);
    }
    return best;
}

/* ------------------------------------------------------------------------ */
/* Step 2: the row scale                                                     */

static int nearest_code(const ks_format *f, float ratio) {
    if (!(ratio > (float)f->code_min)) /* also catches NaN */
        return f->code_min;
    if (ratio >= (float)f->code_max)
        return f->code_max;
    int k = lq_nearest_int((ratio - (float)f->code_min) / (float)f->code_step);
    int code = f->code_min + f->code_step * k;
    return code > f->code_max ? f->code_max : code;
}

static float model_loss(const ks_format *f, const ks_choice *blocks, int nb, float d) {
    float loss = 0;
    for (int b = 0; b < nb; ++b) {
        float err = blocks[b].scale - d * (float)nearest_code(f, blocks[b].scale / d);
        loss += blocks[b].curv * err * err;
    }
    return loss;
}

/* The largest block scale is mapped to codes near either end of the code
 * range; the mapping that rounds all blocks with least modelled loss wins. */
static float choose_row_scale(const ks_format *f, const ks_choice *blocks, int nb) {
    enum { STEPS = 24 };
    float smax = 0;
    for (int b = 0; b < nb; ++b)
        if (fabsf(blocks[b].scale) > fabsf(smax))
            smax = blocks[b].scale;
    if (smax == 0)
        return 0;
    float best_d = smax / (float)f->code_max, best_loss = FLT_MAX;
    const int ends[2] = {f->code_min, f->code_max};
    for (int e = 0; e < 2; ++e)
        for (int i = 0; i <= STEPS; ++i) {
            /* top code from 1.04 to 0.64 of the end of the range */
            float d = smax / ((float)ends[e] * (1.04f - 0.4f * (float)i / STEPS));
            float loss = model_loss(f, blocks, nb, d);
            if (loss < best_loss) {
                best_loss = loss;
                best_d = d;
            }
        }
    return best_d;
}

/* ------------------------------------------------------------------------ */
/* Step 3: codes, halves and assignments at a fixed row scale                */

typedef struct ks_row {
    const ks_format *f;
    ks_tables tables;
    int64_t ncols;
    int nb, nsb, exponent; /* x = xn * 2^exponent */
    float *xn, *w, *sxx;   /* normalized row, importances, per-block sum w x^2 */
    float *qx, *q2;        /* per block sums of the current encoding */
    ks_choice *choice;
    ks_superblock *cur, *best;
} ks_row;

static uint8_t *block_idx(ks_superblock *sbs, int b, const ks_format *f) {
    int per_block = f->assign == KS_ASSIGN_PAIRS ? KS_BLOCK / 2 : KS_BLOCK;
    return sbs[b / KS_BLOCKS].idx + per_block * (b % KS_BLOCKS);
}

static void pick_block(ks_row *r, int b, float d) {
    const ks_format *f = r->f;
    const float *x = r->xn + (int64_t)b * KS_BLOCK, *w = r->w + (int64_t)b * KS_BLOCK;
    ks_superblock *sb = &r->cur[b / KS_BLOCKS];
    uint8_t trial[KS_BLOCK], *out = block_idx(r->cur, b, f);
    int center = nearest_code(f, r->choice[b].scale / d);
    float best_err = FLT_MAX;
    for (int code = center - f->code_step; code <= center + f->code_step; code += f->code_step) {
        if (code < f->code_min || code > f->code_max)
            continue;
        for (int half = 0; half < f->nhalves; ++half) {
            float dl = d * (float)code;
            ks_sums s = {0, 0};
            if (dl != 0)
                s = assign_block(f, &r->tables, half, x, w, 1.0f / dl, trial);
            else
                memset(trial, 0, sizeof trial);
            float err = r->sxx[b] - 2 * dl * s.qx + dl * dl * s.q2;
            if (err < best_err) {
                best_err = err;
                sb->code[b % KS_BLOCKS] = (int16_t)code;
                sb->half[b % KS_BLOCKS] = (uint8_t)half;
                memcpy(out, trial, f->assign == KS_ASSIGN_PAIRS ? KS_BLOCK / 2 : KS_BLOCK);
                r->qx[b] = s.qx;
                r->q2[b] = s.q2;
            }
        }
    }
}

/* The scale as stored: rounded to the row meta's precision, clamped to its
 * finite range, in the normalized domain. */
static float stored_scale(const ks_row *r, float d) {
    float real = ldexpf(d, r->exponent);
    if (r->f->row_meta == 2) {
        if (fabsf(real) > 65504.0f)
            real = copysignf(65504.0f, real);
        real = lq_half_to_float(lq_float_to_half(real));
    } else if (fabsf(real) > FLT_MAX) {
        real = copysignf(FLT_MAX, real);
    }
    return ldexpf(real, -r->exponent);
}

static double row_error(const ks_row *r, float d) {
    double err = 0;
    for (int b = 0; b < r->nb; ++b) {
        const ks_superblock *sb = &r->cur[b / KS_BLOCKS];
        double dl = (double)d * sb->code[b % KS_BLOCKS];
        err += r->sxx[b] - 2 * dl * r->qx[b] + dl * dl * r->q2[b];
    }
    return err;
}

static float least_squares_scale(const ks_row *r, float d) {
    double num = 0, den = 0;
    for (int b = 0; b < r->nb; ++b) {
        double code = r->cur[b / KS_BLOCKS].code[b % KS_BLOCKS];
        num += code * r->qx[b];
        den += code * code * r->q2[b];
    }
    return den > 0 ? (float)(num / den) : d;
}

/* Returns the stored (normalized) row scale; r->best holds the blocks. */
static float refine_row(ks_row *r, float d) {
    enum { ROUNDS = 3 };
    double best_err = INFINITY;
    float best_d = 0;
    d = stored_scale(r, d);
    for (int round = 0; round < ROUNDS && d != 0; ++round) {
        for (int b = 0; b < r->nb; ++b)
            pick_block(r, b, d);
        float fitted = stored_scale(r, least_squares_scale(r, d));
        double err = row_error(r, fitted);
        if (!(err < best_err))
            break;
        best_err = err;
        best_d = fitted;
        memcpy(r->best, r->cur, (size_t)r->nsb * sizeof *r->best);
        d = fitted;
    }
    return best_d;
}

/* ------------------------------------------------------------------------ */
/* Row driver                                                                */

static void compute_weights(ks_row *r, const float *imatrix) {
    const ks_format *f = r->f;
    for (int sbi = 0; sbi < r->nsb; ++sbi) {
        const float *x = r->xn + (int64_t)sbi * KS_SUPER;
        float *w = r->w + (int64_t)sbi * KS_SUPER;
        float mean2 = 0;
        for (int j = 0; j < KS_SUPER; ++j)
            mean2 += x[j] * x[j];
        mean2 /= KS_SUPER;
        for (int j = 0; j < KS_SUPER; ++j) {
            float x2 = x[j] * x[j];
            w[j] = imatrix ? imatrix[(int64_t)sbi * KS_SUPER + j] *
                                 sqrtf(f->imatrix_sigma * mean2 + x2)
                           : x2 + f->plain_sigma * mean2;
        }
    }
    /* a block whose importances vanish still needs a well-defined fit */
    for (int b = 0; b < r->nb; ++b) {
        float *w = r->w + (int64_t)b * KS_BLOCK, sum = 0;
        for (int j = 0; j < KS_BLOCK; ++j)
            sum += w[j];
        if (!(sum > FLT_MIN))
            for (int j = 0; j < KS_BLOCK; ++j)
                w[j] = 1;
    }
}

static void write_row(const ks_row *r, float d, uint8_t *dst) {
    const ks_format *f = r->f;
    float real = ldexpf(d, r->exponent);
    if (f->row_meta == 2)
        lq_store_u16(dst, lq_float_to_half(real));
    else
        lq_store_f32(dst, real);
    for (int sbi = 0; sbi < r->nsb; ++sbi)
        f->pack(&r->best[sbi], dst + f->row_meta + (int64_t)sbi * f->type_size);
}

static void init_tables(const ks_format *f, ks_tables *t) {
    int n = t->n = f->nvalues;
    for (int h = 0; h < f->nhalves; ++h) {
        for (int i = 0; i < n; ++i)
            t->v[h][i] = (float)f->values[h * n + i];
        for (int i = 0; i + 1 < n; ++i)
            t->mid[h][i] = 0.5f * (t->v[h][i] + t->v[h][i + 1]);
    }
    for (int k = 0; k < n; ++k) {
        int below = k - 1, above = k + 1;
        while (below >= 0 && parity4(below) == parity4(k))
            --below;
        while (above < n && parity4(above) == parity4(k))
            ++above;
        t->other_below[k] = (int8_t)below;
        t->other_above[k] = (int8_t)above;
    }
}

static void encode_row(ks_row *r, const float *x, const float *imatrix, uint8_t *dst) {
    float amax = 0;
    for (int64_t j = 0; j < r->ncols; ++j)
        amax = fmaxf(amax, fabsf(x[j]));
    memset(r->best, 0, (size_t)r->nsb * sizeof *r->best);
    memset(r->cur, 0, (size_t)r->nsb * sizeof *r->cur);
    if (amax == 0) {
        write_row(r, 0, dst);
        return;
    }
    frexpf(amax, &r->exponent);
    for (int64_t j = 0; j < r->ncols; ++j)
        r->xn[j] = ldexpf(x[j], -r->exponent);
    compute_weights(r, imatrix);
    for (int b = 0; b < r->nb; ++b) {
        const float *xb = r->xn + (int64_t)b * KS_BLOCK, *wb = r->w + (int64_t)b * KS_BLOCK;
        r->sxx[b] = 0;
        for (int j = 0; j < KS_BLOCK; ++j)
            r->sxx[b] += wb[j] * xb[j] * xb[j];
        r->choice[b] = search_block(r->f, &r->tables, xb, wb);
    }
    float d = refine_row(r, choose_row_scale(r->f, r->choice, r->nb));
    write_row(r, d, dst);
}

int ks_quantize_row(const ks_format *f, const float *x, void *dst, int64_t ncols,
                    const float *imatrix) {
    if (f->assign == KS_ASSIGN_PAIRS)
        pthread_once(&kl_cells_once, build_kl_cells);
    ks_row r = {.f = f, .ncols = ncols};
    r.nb = (int)(ncols / KS_BLOCK);
    r.nsb = (int)(ncols / KS_SUPER);
    init_tables(f, &r.tables);
    float *floats = malloc(((size_t)ncols * 2 + (size_t)r.nb * 3) * sizeof *floats);
    ks_choice *choice = malloc((size_t)r.nb * sizeof *choice);
    ks_superblock *sbs = malloc((size_t)r.nsb * 2 * sizeof *sbs);
    int status = LQ_ERR_NO_MEMORY;
    if (floats && choice && sbs) {
        r.xn = floats;
        r.w = r.xn + ncols;
        r.sxx = r.w + ncols;
        r.qx = r.sxx + r.nb;
        r.q2 = r.qx + r.nb;
        r.choice = choice;
        r.cur = sbs;
        r.best = sbs + r.nsb;
        encode_row(&r, x, imatrix, dst);
        status = LQ_OK;
    }
    free(floats);
    free(choice);
    free(sbs);
    return status;
}
