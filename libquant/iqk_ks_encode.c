/*
 * Encoder of the iqk_ks family.
 *
 * A row is encoded in three steps, all with per-weight importances w:
 *   1. each block of 32 gets its best float scale and table half (an exact
 *      sweep over every assignment for iq2_ks, a grid of candidate scales
 *      refined by alternating fits for the others);
 *   2. the row scale d is chosen so that the block scales, rounded to their
 *      integer codes, lose the least (each block's loss is modelled as
 *      curvature * (scale - d * code)^2);
 *   3. with d as it will be stored, each block tries the codes next to its
 *      scale and both table halves and keeps the best exact assignment; d is
 *      then refitted by least squares and step 3 repeats, keeping the best
 *      encoding seen.
 * The row is first scaled by a power of two so its maximum is near 1: exact,
 * and it keeps squares of tiny or huge inputs finite.
 * Speed: the evaluation of a candidate scale, the inner loop of every step,
 * has no data-dependent branch (a block's assignment is a coin toss for
 * the branch predictor) and needs no indices: they are computed once, for
 * the winner.
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
    int count;
    float first[KL_MAX_CANDIDATES], second[KL_MAX_CANDIDATES]; /* the pairs' values */
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
        if (c->count == 0)
            for (int p = 0; p < 32 && c->count < KL_MAX_CANDIDATES; ++p) {
                bool touches = abs(row[p] - i1) <= 1 && abs(col[p] - i2) <= 1;
                if (row[p] == i1 || col[p] == i2 || touches)
                    c->pair[c->count++] = (uint8_t)p;
            }
        for (int i = 0; i < c->count; ++i) {
            c->first[i] = iq2kl_pairs[c->pair[i]][0];
            c->second[i] = iq2kl_pairs[c->pair[i]][1];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Assignment of one block at a given inverse scale                          */

/* A table half prepared for nearest-value queries without branches. Its
 * values are integers more than 1 apart, so a unit cell of the number line
 * holds at most one midpoint: the value nearest to t is the one below or
 * the one above that midpoint. */
enum { KS_CELLS = 256 };
typedef struct ks_cells {
    float base; /* floor(v[0]): cell i is [base + i, base + i + 1) */
    float last; /* the last cell, for queries past the table's end */
    float inside[KS_CELLS];        /* the midpoint in cell i, or +inf */
    float value[2 * KS_CELLS];     /* the values below and above it */
    uint8_t below[KS_CELLS];       /* the index of value[2 * i] */
} ks_cells;

typedef struct ks_tables {
    float v[2][32];   /* the format's table halves as floats */
    float mid[2][32]; /* midpoints of consecutive values; mid[h][n-1] unused */
    ks_cells cells[2];
    /* iq4_kss: other[2k], other[2k + 1] are the indices of the other
     * popcount parity than k's next below and above k (where one side has
     * none, both are the other side's); other_mid is their midpoint */
    uint8_t other[64];
    float other_mid[2][32];
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

/* Tables up to this size find the nearest value by counting the midpoints
 * below t, which vectorizes; larger ones look up their cells (slower for 8
 * values, faster from 16). Both agree with nearest_index. */
enum { KS_SMALL_TABLE = 8, KS_LANES = 8 };

/* count[j]: the number of the n - 1 midpoints below t[j], i.e.
 * nearest_index. The counts of KS_LANES weights at a time stay in
 * registers across the midpoints (twice as fast as a pass per midpoint). */
static void count_below(const float *mid, int n, const float *t, int32_t *count) {
    for (int j = 0; j < KS_BLOCK; j += KS_LANES) {
        int32_t lane[KS_LANES] = {0};
        for (int k = 0; k + 1 < n; ++k)
            for (int l = 0; l < KS_LANES; ++l)
                lane[l] += t[j + l] > mid[k];
        memcpy(count + j, lane, sizeof lane);
    }
}

static void nearest_values(const ks_tables *t, int half, const float *x, float id, float *q) {
    float tt[KS_BLOCK], acc[KS_BLOCK];
    for (int j = 0; j < KS_BLOCK; ++j)
        tt[j] = id * x[j];
    if (t->n <= KS_SMALL_TABLE) {
        int32_t count[KS_BLOCK];
        count_below(t->mid[half], t->n, tt, count);
        for (int j = 0; j < KS_BLOCK; ++j)
            acc[j] = t->v[half][count[j]];
    } else {
        /* clamping first, in a loop of its own, keeps both loops free of
         * branches */
        const ks_cells *c = &t->cells[half];
        float u[KS_BLOCK];
        for (int j = 0; j < KS_BLOCK; ++j) {
            float cell = tt[j] - c->base;
            cell = cell > 0 ? cell : 0;
            u[j] = cell < c->last ? cell : c->last;
        }
        for (int j = 0; j < KS_BLOCK; ++j) {
            int cell = (int)u[j];
            acc[j] = c->value[2 * cell + (tt[j] > c->inside[cell])];
        }
    }
    memcpy(q, acc, sizeof acc);
}

/* The sums of a block's values q, in KS_LANES partial sums so that the
 * loop vectorizes. */
static ks_sums value_sums(const float *q, const float *x, const float *w) {
    float qx[KS_LANES] = {0}, q2[KS_LANES] = {0};
    for (int j = 0; j < KS_BLOCK; j += KS_LANES)
        for (int l = 0; l < KS_LANES; ++l) {
            qx[l] += w[j + l] * q[j + l] * x[j + l];
            q2[l] += w[j + l] * q[j + l] * q[j + l];
        }
    ks_sums s = {0, 0};
    for (int l = 0; l < KS_LANES; ++l) {
        s.qx += qx[l];
        s.q2 += q2[l];
    }
    return s;
}

/* The sums of the nearest assignment, without its indices. */
static ks_sums nearest_sums(const ks_tables *t, int half, const float *x, const float *w,
                            float id) {
    float q[KS_BLOCK];
    nearest_values(t, half, x, id, q);
    return value_sums(q, x, w);
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

/* nearest_index of id * x[j] for a block, for the tables that have cells;
 * t receives id * x[j]. */
static void cell_indices(const ks_cells *c, const float *x, float id, float *t, int *idx) {
    float u[KS_BLOCK];
    for (int j = 0; j < KS_BLOCK; ++j) {
        t[j] = id * x[j];
        float cell = t[j] - c->base;
        cell = cell > 0 ? cell : 0;
        u[j] = cell < c->last ? cell : c->last;
    }
    for (int j = 0; j < KS_BLOCK; ++j) {
        int cell = (int)u[j];
        idx[j] = c->below[cell] + (t[j] > c->inside[cell]);
    }
}

static ks_sums block_sums(const float *v, const float *x, const float *w, const uint8_t *idx) {
    float q[KS_BLOCK];
    for (int j = 0; j < KS_BLOCK; ++j)
        q[j] = v[idx[j]];
    return value_sums(q, x, w);
}

/* iq4_kss: nearest values, except that each group of four indices stored in
 * one word needs an even total popcount; an odd group changes the one
 * index whose change costs least, which is the constrained optimum. Written
 * without branches: the parity of a group is a coin toss. */
static ks_sums assign_even_parity(const ks_tables *tab, int half, const float *x, const float *w,
                                  float id, uint8_t *idx) {
    const float *v = tab->v[half];
    float t[KS_BLOCK];
    int nearest[KS_BLOCK];
    cell_indices(&tab->cells[half], x, id, t, nearest);
    for (int k = 0; k < 8; ++k) {
        const int pos[4] = {2 * k, 2 * k + 16, 2 * k + 1, 2 * k + 17};
        int parity = 0, flip = pos[0], alt = 0;
        float least = FLT_MAX;
        for (int i = 0; i < 4; ++i) {
            int j = pos[i], q = nearest[j];
            int other = tab->other[2 * q + (t[j] > tab->other_mid[half][q])];
            float d0 = t[j] - v[q], d1 = t[j] - v[other];
            float penalty = w[j] * (d1 * d1 - d0 * d0);
            idx[j] = (uint8_t)q;
            parity ^= parity4(q);
            bool better = penalty < least;
            least = better ? penalty : least;
            flip = better ? j : flip;
            alt = better ? other : alt;
        }
        idx[flip] = (uint8_t)(parity ? alt : idx[flip]);
    }
    return block_sums(v, x, w, idx);
}

/* iq2_kl: each pair of weights to the grid pair of least weighted error
 * among its cell's candidates. */
static ks_sums assign_pairs(const float *mid, const float *x, const float *w, float id,
                            uint8_t *idx) {
    float t[KS_BLOCK];
    int32_t below[KS_BLOCK]; /* nearest iq3nl index, as nearest_index */
    for (int j = 0; j < KS_BLOCK; ++j)
        t[j] = id * x[j];
    count_below(mid, 8, t, below);
    float qx = 0, q2 = 0;
    for (int j = 0; j < KS_BLOCK / 2; ++j) {
        float t1 = t[2 * j], t2 = t[2 * j + 1], w1 = w[2 * j], w2 = w[2 * j + 1];
        const kl_cell *c = &kl_cells[8 * below[2 * j] + below[2 * j + 1]];
        int best = 0;
        float best_err = FLT_MAX;
        for (int i = 0; i < c->count; ++i) {
            float d1 = t1 - c->first[i], d2 = t2 - c->second[i];
            float err = w1 * d1 * d1 + w2 * d2 * d2;
            best = err < best_err ? i : best;
            best_err = err < best_err ? err : best_err;
        }
        float g1 = c->first[best], g2 = c->second[best];
        idx[j] = c->pair[best];
        qx += w1 * g1 * x[2 * j] + w2 * g2 * x[2 * j + 1];
        q2 += w1 * g1 * g1 + w2 * g2 * g2;
    }
    return (ks_sums){qx, q2};
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

/* The sums of assign_with's assignment; idx is scratch. */
static ks_sums sums_with(ks_assign kind, const ks_tables *t, int half, const float *x,
                         const float *w, float id, uint8_t *idx) {
    if (kind == KS_ASSIGN_NEAREST)
        return nearest_sums(t, half, x, w, id);
    return assign_with(kind, t, half, x, w, id, idx);
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

static void consider(ks_choice *c, float qx, float q2, float sign, int half) {
    if (q2 > 0 && qx * qx > c->score * q2) {
        c->score = qx * qx / q2;
        c->scale = sign * (qx / q2);
        c->curv = q2;
        c->half = half;
    }
}

/* The block's nonzero weights by decreasing magnitude, split by sign. */
typedef struct sorted_block {
    uint8_t pos[KS_BLOCK], neg[KS_BLOCK];
    int npos, nneg;
    float inv_x[KS_BLOCK]; /* 1 / x_j for nonzero x_j */
    float inv_amax;        /* 1 / max |x_j| */
} sorted_block;

static void sort_block(const float *x, sorted_block *sb) {
    sb->npos = sb->nneg = 0;
    float amax = 0;
    for (int j = 0; j < KS_BLOCK; ++j)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax; /* fmaxf is a call */
    sb->inv_amax = 1.0f / amax;
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
 * which therefore increase along the stream. Each crossing moves a weight
 * one value along the table, by the same dq (and dq2 in q^2). */
typedef struct crossing_stream {
    const uint8_t *order;
    int count, next, step;
    float mid, dq, dq2;
} crossing_stream;

/* The sweep skips the scales that cannot win, measured by where they map
 * the block's largest weight relative to the table's ends. Past 3x the far
 * end, the largest weights are clipped too much; below 0.6x the near end,
 * the values are used too sparsely. Both cut the sweep by 40% in all and
 * change no iq2_ks encoding of the vectors or of the generated test rows;
 * tighter bounds start to cost (clip at 1.5x: iq2_ks weighted 0.971 ->
 * 0.975; with iq3_ks's table, a floor at 0.7x of the far end: plain 0.908
 * -> 0.917). */
#define SWEEP_CLIP_LIMIT 3.0f
#define SWEEP_FILL_FLOOR 0.6f

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
    float next_id[32]; /* each stream's next crossing, FLT_MAX when done */
    const uint8_t *up = sign > 0 ? sorted->pos : sorted->neg;
    const uint8_t *down = sign > 0 ? sorted->neg : sorted->pos;
    int nup = sign > 0 ? sorted->npos : sorted->nneg;
    int ndown = sign > 0 ? sorted->nneg : sorted->npos;
    for (int k = start; k < n - 1; ++k)
        streams[nstreams++] = (crossing_stream){up, nup, 0, 1, mid[k], sign * (v[k + 1] - v[k]),
                                                v[k + 1] * v[k + 1] - v[k] * v[k]};
    for (int k = start; k > 0; --k)
        streams[nstreams++] = (crossing_stream){down, ndown, 0, -1, mid[k - 1],
                                                sign * (v[k - 1] - v[k]),
                                                v[k - 1] * v[k - 1] - v[k] * v[k]};
    /* the walk starts at SWEEP_FILL_FLOOR: each stream skips the crossings
     * below it, and the sums start from the assignment there (a block of
     * subnormals relative to its row would overflow the bounds: it walks
     * everything) */
    float floor_id = 0, limit = FLT_MAX;
    if (sorted->inv_amax < FLT_MAX / 1024) {
        floor_id = SWEEP_FILL_FLOOR * fminf(-v[0], v[n - 1]) * sorted->inv_amax;
        limit = SWEEP_CLIP_LIMIT * fmaxf(-v[0], v[n - 1]) * sorted->inv_amax;
    }
    uint8_t cur[KS_BLOCK];
    memset(cur, start, sizeof cur);
    for (int i = 0; i < nstreams; ++i) {
        crossing_stream *c = &streams[i];
        next_id[i] = FLT_MAX;
        for (; c->next < c->count; ++c->next) {
            float id = c->mid * sign * sorted->inv_x[c->order[c->next]];
            if (!(id < floor_id)) {
                next_id[i] = id;
                break;
            }
            cur[c->order[c->next]] = (uint8_t)(cur[c->order[c->next]] + c->step);
        }
    }
    float qx = 0, q2 = 0;
    for (int j = 0; j < KS_BLOCK; ++j) {
        qx += w[j] * sign * x[j] * v[cur[j]];
        q2 += w[j] * v[cur[j]] * v[cur[j]];
    }
    consider(best, qx, q2, sign, half);
    for (;;) {
        int s = 0;
        for (int i = 1; i < nstreams; ++i)
            s = next_id[i] < next_id[s] ? i : s;
        if (!(next_id[s] < FLT_MAX && next_id[s] <= limit))
            break;
        crossing_stream *c = &streams[s];
        int j = c->order[c->next++];
        next_id[s] =
            c->next < c->count ? c->mid * sign * sorted->inv_x[c->order[c->next]] : FLT_MAX;
        qx += w[j] * x[j] * c->dq;
        q2 += w[j] * c->dq2;
        consider(best, qx, q2, sign, half);
    }
}

/* Candidate scales put the block's largest weight at or near either end of
 * the table, then alternating fits (assign, refit the scale) polish the
 * best. Without an imatrix the candidates are dense next to the ends (table
 * units -ntry..ntry). With one, they spread out to 3/16 of the table's span
 * either side: the importances often make the largest weight one that
 * matters little, and the best scale then clips it or leaves room past it.
 * Measured on the generated rows (geometric mean of the error ratios, 36
 * matrices) against the former dense +-7 or +-5 grid: weighted iq4_ks
 * 0.974 -> 0.959, iq5_ks 0.916 -> 0.896, iq4_kss 0.926 -> 0.919, iq2_kl
 * 0.907 -> 0.906, with 7 candidates per end instead of 11-15; the wide grid
 * does worse without an imatrix (iq5_ks plain 0.963 -> 0.968), hence the
 * two. The parity constraint of iq4_kss costs little at a good scale, so
 * its candidates are ranked without it (twice as fast) and only the polish
 * uses it. */
enum {
    WIDE_POINTS = 3, /* weighted candidates each side of an end */
    MAX_REACH = 8,   /* bound on ntry */
    MAX_GRID = 2 * 2 * (2 * MAX_REACH + 1) + 2 * 32,
};

typedef struct grid_point {
    float id;
    int half;
} grid_point;

/* The candidate inverse scales of a block whose signed largest weight is
 * max; returns their number. */
static int grid_points(const ks_format *f, const ks_tables *t, float max, bool weighted,
                       grid_point *g) {
    int count = 0;
    for (int half = 0; half < f->nhalves; ++half) {
        const float ends[2] = {t->v[half][0], t->v[half][t->n - 1]};
        float span = fmaxf(-ends[0], ends[1]);
        int reach = weighted ? WIDE_POINTS : f->ntry < MAX_REACH ? f->ntry : MAX_REACH;
        float step = weighted ? span / 16.0f : 1.0f;
        for (int e = 0; e < 2; ++e)
            for (int k = -reach; k <= reach; ++k)
                g[count++] = (grid_point){(ends[e] + step * (float)k) / max, half};
        /* the 2-d grid lacks many corners: also put the largest weight at
         * every inner value, so that e.g. a constant block finds a diagonal
         * pair (the end values are already there) */
        for (int i = 1; i + 1 < t->n && f->assign == KS_ASSIGN_PAIRS; ++i)
            g[count++] = (grid_point){t->v[half][i] / max, half};
    }
    return count;
}

static void grid_search(const ks_format *f, const ks_tables *t, const float *x, const float *w,
                        float max, bool weighted, ks_choice *best) {
    uint8_t idx[KS_BLOCK];
    ks_assign coarse = f->assign == KS_ASSIGN_EVEN_PARITY ? KS_ASSIGN_NEAREST : f->assign;
    grid_point g[MAX_GRID];
    int count = grid_points(f, t, max, weighted, g);
    for (int i = 0; i < count; ++i) {
        ks_sums s = sums_with(coarse, t, g[i].half, x, w, g[i].id, idx);
        consider(best, s.qx, s.q2, 1.0f, g[i].half);
    }
    if (coarse != f->assign && best->scale != 0) {
        /* rescore the winner under the constraint before polishing it */
        ks_sums s = assign_block(f, t, best->half, x, w, 1.0f / best->scale, idx);
        best->score = 0;
        consider(best, s.qx, s.q2, 1.0f, best->half);
    }
    for (int iter = 0; iter < 3 && best->scale != 0; ++iter) {
        float before = best->score;
        ks_sums s = sums_with(f->assign, t, best->half, x, w, 1.0f / best->scale, idx);
        consider(best, s.qx, s.q2, 1.0f, best->half);
        if (best->score <= before)
            break;
    }
}

static ks_choice search_block(const ks_format *f, const ks_tables *t, bool weighted, const float *x,
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
        grid_search(f, t, x, w, max, weighted, &best);
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

/* iq4_kss: the constrained assignment costs twice the nearest one, and the
 * parity fix moves every candidate's error alike; the candidates are ranked
 * by their nearest assignment and only the best few pay for the constraint.
 * Four of the six save 20% of the encoder's time at no cost (vectors plain
 * 0.8175 as with six); three save 30% but give 0.8190, two 0.8242. */
enum { PARITY_SHORTLIST = 4 };

typedef struct block_candidate {
    float err;
    int code, half;
} block_candidate;

/* Moves the `keep` least errors to the front, in order. */
static void select_best(block_candidate *c, int count, int keep) {
    for (int i = 0; i < keep; ++i)
        for (int k = i + 1; k < count; ++k)
            if (c[k].err < c[i].err) {
                block_candidate swap = c[i];
                c[i] = c[k];
                c[k] = swap;
            }
}

static float block_error(const ks_row *r, int b, float dl, ks_sums s) {
    return r->sxx[b] - 2 * dl * s.qx + dl * dl * s.q2;
}

/* Block b's code (next to its scale) and table half at row scale d. */
static void pick_block(ks_row *r, int b, float d) {
    const ks_format *f = r->f;
    const float *x = r->xn + (int64_t)b * KS_BLOCK, *w = r->w + (int64_t)b * KS_BLOCK;
    ks_superblock *sb = &r->cur[b / KS_BLOCKS];
    uint8_t *out = block_idx(r->cur, b, f);
    int center = nearest_code(f, r->choice[b].scale / d);
    bool shortlist = f->assign == KS_ASSIGN_EVEN_PARITY;
    ks_assign ranking = shortlist ? KS_ASSIGN_NEAREST : f->assign;
    block_candidate cand[6] = {{FLT_MAX, 0, 0}};
    int count = 0;
    for (int code = center - f->code_step; code <= center + f->code_step; code += f->code_step) {
        if (code < f->code_min || code > f->code_max)
            continue;
        for (int half = 0; half < f->nhalves; ++half) {
            float dl = d * (float)code;
            ks_sums s = {0, 0};
            if (dl != 0)
                s = sums_with(ranking, &r->tables, half, x, w, 1.0f / dl, out);
            cand[count++] = (block_candidate){block_error(r, b, dl, s), code, half};
        }
    }
    if (shortlist) {
        if (count > PARITY_SHORTLIST) {
            select_best(cand, count, PARITY_SHORTLIST);
            count = PARITY_SHORTLIST;
        }
        for (int i = 0; i < count; ++i) {
            float dl = d * (float)cand[i].code;
            ks_sums s = {0, 0};
            if (dl != 0)
                s = assign_block(f, &r->tables, cand[i].half, x, w, 1.0f / dl, out);
            cand[i].err = block_error(r, b, dl, s);
        }
    }
    select_best(cand, count, 1);
    float dl = d * (float)cand[0].code;
    ks_sums s = {0, 0};
    if (dl != 0)
        s = assign_block(f, &r->tables, cand[0].half, x, w, 1.0f / dl, out);
    else
        memset(out, 0, f->assign == KS_ASSIGN_PAIRS ? KS_BLOCK / 2 : KS_BLOCK);
    sb->code[b % KS_BLOCKS] = (int16_t)cand[0].code;
    sb->half[b % KS_BLOCKS] = (uint8_t)cand[0].half;
    r->qx[b] = s.qx;
    r->q2[b] = s.q2;
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

static void init_cells(const float *v, const float *mid, int n, ks_cells *c) {
    c->base = floorf(v[0]);
    int cells = (int)ceilf(v[n - 1] - c->base) + 1;
    if (cells > KS_CELLS) /* cannot happen: every table spans < 255 */
        cells = KS_CELLS;
    c->last = (float)(cells - 1);
    int k = 0; /* midpoints below the cell */
    for (int i = 0; i < cells; ++i) {
        float lo = c->base + (float)i;
        while (k + 1 < n && mid[k] < lo)
            ++k;
        c->below[i] = (uint8_t)k;
        c->value[2 * i] = v[k];
        c->value[2 * i + 1] = v[k + 1 < n ? k + 1 : k];
        c->inside[i] = k + 1 < n && mid[k] < lo + 1.0f ? mid[k] : INFINITY;
    }
}

static void init_tables(const ks_format *f, ks_tables *t) {
    int n = t->n = f->nvalues;
    for (int h = 0; h < f->nhalves; ++h) {
        for (int i = 0; i < n; ++i)
            t->v[h][i] = (float)f->values[h * n + i];
        for (int i = 0; i + 1 < n; ++i) {
            t->mid[h][i] = 0.5f * (t->v[h][i] + t->v[h][i + 1]);
        }
        init_cells(t->v[h], t->mid[h], n, &t->cells[h]);
    }
    for (int k = 0; k < n; ++k) {
        int below = k - 1, above = k + 1;
        while (below >= 0 && parity4(below) == parity4(k))
            --below;
        while (above < n && parity4(above) == parity4(k))
            ++above;
        below = below >= 0 ? below : above;
        above = above < n ? above : below;
        t->other[2 * k] = (uint8_t)below;
        t->other[2 * k + 1] = (uint8_t)above;
        for (int h = 0; h < f->nhalves; ++h)
            t->other_mid[h][k] = 0.5f * (t->v[h][below] + t->v[h][above]);
    }
}

static void encode_row(ks_row *r, const float *x, const float *imatrix, uint8_t *dst) {
    float amax = 0;
    for (int64_t j = 0; j < r->ncols; ++j)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax; /* fmaxf is a call */
    memset(r->best, 0, (size_t)r->nsb * sizeof *r->best);
    memset(r->cur, 0, (size_t)r->nsb * sizeof *r->cur);
    if (amax == 0) {
        write_row(r, 0, dst);
        return;
    }
    frexpf(amax, &r->exponent);
    scale_by_pow2(x, r->ncols, -r->exponent, r->xn);
    compute_weights(r, imatrix);
    for (int b = 0; b < r->nb; ++b) {
        const float *xb = r->xn + (int64_t)b * KS_BLOCK, *wb = r->w + (int64_t)b * KS_BLOCK;
        r->sxx[b] = 0;
        for (int j = 0; j < KS_BLOCK; ++j)
            r->sxx[b] += wb[j] * xb[j] * xb[j];
        r->choice[b] = search_block(r->f, &r->tables, imatrix != NULL, xb, wb);
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
