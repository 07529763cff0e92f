/*
 * Codec family "lattice": the iq1/iq2/iq3 i-quants, whose groups of 8 (or 4)
 * weights are points of fixed E8/D4-derived grids. This file holds the
 * family table and the search machinery the per-type files share; the
 * types themselves live in lattice_iq1.c, lattice_iq2.c and lattice_iq3.c.
 *
 * Code ranges the readers assume: every grid index, sign pattern, shift bit
 * and block scale code is valid (the grids are full tables); d is finite.
 */
#include "lattice.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "lattice_grids.h"
#include "lattice_types.h"

/* ---- grid search structures ------------------------------------------- */

typedef struct grid_source {
    const void *points; /* uint64_t (dim 8) or uint32_t (dim 4) entries */
    int size, dim, bits, nlevels;
    /* the decoder's coordinate values, ascending: value v is level index */
    int8_t values[8];
    /* neighbour lists hold the points at this many smallest distances */
    int nearest_distances;
} grid_source;

static const grid_source grid_sources[LQ_GRID_COUNT] = {
    [LQ_GRID_IQ2XXS] = {lq_iq2xxs_grid, 256, 8, 2, 3, {8, 25, 43}, 2},
    [LQ_GRID_IQ2XS] = {lq_iq2xs_grid, 512, 8, 2, 3, {8, 25, 43}, 2},
    [LQ_GRID_IQ2S] = {lq_iq2s_grid, 1024, 8, 2, 3, {8, 25, 43}, 1},
    [LQ_GRID_IQ1S] = {lq_iq1s_grid, 2048, 8, 2, 3, {-1, 0, 1}, 3},
    [LQ_GRID_IQ3XXS] = {lq_iq3xxs_grid, 256, 4, 3, 8,
                        {4, 12, 20, 28, 36, 44, 52, 62}, 2},
    [LQ_GRID_IQ3S] = {lq_iq3s_grid, 512, 4, 3, 8,
                      {1, 3, 5, 7, 9, 11, 13, 15}, 3},
};

/* One block of magnitudes to fit as scale * (2*level + 1) on grid points,
 * n values in groups of the grid's dim. */
typedef struct lq_fit_block {
    int n;
    const float *xval;          /* magnitudes (a parity fix may make one < 0) */
    const float *weight;        /* weights of the squared error */
    const float *search_weight; /* weights used to choose among neighbours */
} lq_fit_block;

typedef struct lq_fit {
    float scale;                              /* 0: block left empty */
    int8_t L[LQ_LATTICE_MAX_BLOCK];           /* level of every value */
    uint16_t index[LQ_LATTICE_MAX_BLOCK / 4]; /* grid point of every group */
} lq_fit;

/* Built once per grid by pthread_once and kept for the process. */
static lq_lattice built[LQ_GRID_COUNT];
static int built_ok[LQ_GRID_COUNT];

static int coordinate_byte(const grid_source *src, int point, int j) {
    if (src->dim == 8) {
        uint64_t v = ((const uint64_t *)src->points)[point];
        return (int8_t)(uint8_t)(v >> (8 * j));
    }
    uint32_t v = ((const uint32_t *)src->points)[point];
    return (uint8_t)(v >> (8 * j));
}

static int8_t *grid_levels(const grid_source *src) {
    int8_t *levels = malloc((size_t)src->size * (size_t)src->dim);
    if (!levels)
        return NULL;
    for (int i = 0; i < src->size; ++i)
        for (int j = 0; j < src->dim; ++j) {
            int v = coordinate_byte(src, i, j);
            int l = 0;
            while (l < src->nlevels - 1 && src->values[l] != v)
                ++l;
            levels[i * src->dim + j] = (int8_t)l;
        }
    return levels;
}

typedef struct u16_list {
    uint16_t *data;
    size_t count, capacity;
} u16_list;

static int u16_push(u16_list *list, uint16_t v) {
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? 2 * list->capacity : 4096;
        uint16_t *p = realloc(list->data, cap * sizeof *p);
        if (!p)
            return 0;
        list->data = p;
        list->capacity = cap;
    }
    list->data[list->count++] = v;
    return 1;
}

/* Is every coordinate of the key a level an encoder can round to? */
static int key_reachable(const grid_source *src, int key) {
    for (int j = 0; j < src->dim; ++j)
        if (((key >> (src->bits * j)) & ((1 << src->bits) - 1)) >= src->nlevels)
            return 0;
    return 1;
}

/* Append the neighbour list of an off-grid key: the points at the
 * `nearest_distances` smallest squared distances, by distance then index. */
static int add_neighbours(const grid_source *src, const int8_t *levels,
                          int key, int *dist, u16_list *list) {
    int nearest[3];
    int nfound = 0;
    for (int i = 0; i < src->size; ++i) {
        int d2 = 0;
        for (int j = 0; j < src->dim; ++j) {
            int l = (key >> (src->bits * j)) & ((1 << src->bits) - 1);
            int diff = l - levels[i * src->dim + j];
            d2 += diff * diff;
        }
        dist[i] = d2;
        /* keep the distinct smallest distances, ascending */
        int pos = 0;
        while (pos < nfound && nearest[pos] < d2)
            ++pos;
        if (pos < nfound && nearest[pos] == d2)
            continue;
        if (pos >= src->nearest_distances)
            continue;
        if (nfound < src->nearest_distances)
            ++nfound;
        for (int k = nfound - 1; k > pos; --k)
            nearest[k] = nearest[k - 1];
        nearest[pos] = d2;
    }
    size_t count_at = list->count;
    if (!u16_push(list, 0))
        return 0;
    for (int k = 0; k < nfound; ++k)
        for (int i = 0; i < src->size; ++i)
            if (dist[i] == nearest[k] && !u16_push(list, (uint16_t)i))
                return 0;
    list->data[count_at] = (uint16_t)(list->count - count_at - 1);
    return 1;
}

static void build_grid(enum lq_lattice_grid_id id) {
    const grid_source *src = &grid_sources[id];
    int nkeys = 1 << (src->bits * src->dim);
    int8_t *levels = grid_levels(src);
    int32_t *map = malloc((size_t)nkeys * sizeof *map);
    int *dist = malloc((size_t)src->size * sizeof *dist);
    u16_list list = {NULL, 0, 0};
    int ok = levels && map && dist;
    if (ok) {
        for (int k = 0; k < nkeys; ++k)
            map[k] = INT32_MIN; /* unreachable keys are never looked up */
        for (int i = 0; i < src->size; ++i) {
            int key = 0;
            for (int j = 0; j < src->dim; ++j)
                key |= levels[i * src->dim + j] << (src->bits * j);
            map[key] = i;
        }
        for (int k = 0; ok && k < nkeys; ++k) {
            if (map[k] != INT32_MIN || !key_reachable(src, k))
                continue;
            map[k] = -(int32_t)(1 + list.count);
            ok = add_neighbours(src, levels, k, dist, &list);
        }
    }
    free(dist);
    if (!ok) {
        free(levels);
        free(map);
        free(list.data);
        return;
    }
    built[id] = (lq_lattice){src->size, src->dim,  src->bits, src->nlevels,
                             levels,    src->values, map,       list.data};
    built_ok[id] = 1;
}

static void build_iq2xxs(void) { build_grid(LQ_GRID_IQ2XXS); }
static void build_iq2xs(void) { build_grid(LQ_GRID_IQ2XS); }
static void build_iq2s(void) { build_grid(LQ_GRID_IQ2S); }
static void build_iq1s(void) { build_grid(LQ_GRID_IQ1S); }
static void build_iq3xxs(void) { build_grid(LQ_GRID_IQ3XXS); }
static void build_iq3s(void) { build_grid(LQ_GRID_IQ3S); }

static void (*const builders[LQ_GRID_COUNT])(void) = {
    [LQ_GRID_IQ2XXS] = build_iq2xxs, [LQ_GRID_IQ2XS] = build_iq2xs,
    [LQ_GRID_IQ2S] = build_iq2s,     [LQ_GRID_IQ1S] = build_iq1s,
    [LQ_GRID_IQ3XXS] = build_iq3xxs, [LQ_GRID_IQ3S] = build_iq3s,
};

static pthread_once_t build_once[LQ_GRID_COUNT] = {
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
};

const lq_lattice *lq_lattice_get(enum lq_lattice_grid_id id) {
    pthread_once(&build_once[id], builders[id]);
    return built_ok[id] ? &built[id] : NULL;
}

/* ---- searching -------------------------------------------------------- */

int lq_lattice_snap(const lq_lattice *g, int8_t *L, const float *x,
                    const float *w, float scale, const float *value) {
    int32_t m = g->map[lq_lattice_key(g, L)];
    if (m >= 0)
        return m;
    const uint16_t *list = g->neighbours + (-m - 1);
    int best = list[1];
    float best_d2 = FLT_MAX;
    for (int n = 1; n <= list[0]; ++n) {
        const int8_t *pl = g->levels + list[n] * g->dim;
        float d2 = 0;
        for (int j = 0; j < g->dim; ++j) {
            float diff = scale * value[pl[j]] - x[j];
            d2 += w[j] * diff * diff;
        }
        if (d2 < best_d2) {
            best_d2 = d2;
            best = list[n];
        }
    }
    memcpy(L, g->levels + best * g->dim, (size_t)g->dim);
    return best;
}

/* The model value of level l in the iq2/iq3 fits. */
static const float odd_values[8] = {1, 3, 5, 7, 9, 11, 13, 15};

static void snap_all(const lq_lattice *g, const lq_fit_block *b, float id,
                     int8_t *L, uint16_t *index) {
    int maxl = g->nlevels - 1;
    for (int i = 0; i < b->n; ++i) {
        int l = lq_nearest_int(0.5f * (id * b->xval[i] - 1));
        L[i] = (int8_t)(l < 0 ? 0 : l > maxl ? maxl : l);
    }
    for (int k = 0; k < b->n / g->dim; ++k) {
        int o = k * g->dim;
        index[k] = (uint16_t)lq_lattice_snap(g, L + o, b->xval + o,
                                             b->search_weight + o, 1 / id,
                                             odd_values);
    }
}

/* Least-squares scale of the levels; returns sumqx^2/sumq2 (or 0). */
static float fit_score(const lq_fit_block *b, const int8_t *L, float *scale) {
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < b->n; ++i) {
        float q = 2 * L[i] + 1;
        sumqx += b->weight[i] * b->xval[i] * q;
        sumq2 += b->weight[i] * q * q;
    }
    if (!(sumq2 > 0))
        return 0;
    *scale = sumqx / sumq2;
    return *scale * sumqx;
}

/* Fit a block: try every inverse scale of `inv_scales` (round, snap, refit
 * the scale by least squares) and keep the best, then re-snap at the best
 * scale up to `refine` times while it improves. */
static void fit_block(const lq_lattice *g, const lq_fit_block *b,
                    const float *inv_scales, int ntrials, int refine,
                    lq_fit *out) {
    int8_t L[LQ_LATTICE_MAX_BLOCK];
    uint16_t index[LQ_LATTICE_MAX_BLOCK / 4];
    int ngroups = b->n / g->dim;
    float best = 0;
    out->scale = 0;
    memset(out->L, 0, sizeof out->L);
    memset(out->index, 0, sizeof out->index);
    for (int t = 0; t < ntrials; ++t) {
        float scale = 0;
        snap_all(g, b, inv_scales[t], L, index);
        float score = fit_score(b, L, &scale);
        if (score > best) {
            best = score;
            out->scale = scale;
            memcpy(out->L, L, (size_t)b->n);
            memcpy(out->index, index, (size_t)ngroups * sizeof *index);
        }
    }
    for (int it = 0; it < refine && out->scale > 0; ++it) {
        float scale = 0;
        snap_all(g, b, 1 / out->scale, L, index);
        if (!memcmp(index, out->index, (size_t)ngroups * sizeof *index))
            break;
        float score = fit_score(b, L, &scale);
        if (!(score > best))
            break;
        best = score;
        out->scale = scale;
        memcpy(out->L, L, (size_t)b->n);
        memcpy(out->index, index, (size_t)ngroups * sizeof *index);
    }
}

/* ---- block helpers ---------------------------------------------------- */

float lq_lattice_three_level_scale(int n, const float *xval,
                                   const float *weight) {
    int order[LQ_LATTICE_MAX_BLOCK];
    float sumx[LQ_LATTICE_MAX_BLOCK + 1], sumw[LQ_LATTICE_MAX_BLOCK + 1];
    lq_lattice_sort_positions(n, xval, order);
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < n; ++j) {
        int i = order[j];
        sumx[j + 1] = sumx[j] + weight[i] * xval[i];
        sumw[j + 1] = sumw[j] + weight[i];
    }
    float best = 0, scale = 0;
    for (int i1 = 0; i1 <= n; ++i1)
        for (int i2 = i1; i2 <= n; ++i2) {
            float sumqx = sumx[i1] + 3 * (sumx[i2] - sumx[i1]) +
                          5 * (sumx[n] - sumx[i2]);
            float sumq2 = sumw[i1] + 9 * (sumw[i2] - sumw[i1]) +
                          25 * (sumw[n] - sumw[i2]);
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                scale = sumqx / sumq2;
                best = scale * sumqx;
            }
        }
    return scale;
}

uint8_t lq_lattice_signs8(const float *x, const float *w, int parity,
                          float *xval) {
    uint8_t s = 0;
    int nneg = 0;
    for (int i = 0; i < 8; ++i) {
        xval[i] = fabsf(x[i]);
        if (x[i] < 0) {
            s |= (uint8_t)(1u << i);
            ++nneg;
        }
    }
    if (parity && (nneg & 1)) {
        int imin = 0;
        float min = w[0] * x[0] * x[0];
        for (int i = 1; i < 8; ++i) {
            float c = w[i] * x[i] * x[i];
            if (c < min) {
                min = c;
                imin = i;
            }
        }
        xval[imin] = -xval[imin];
        s ^= (uint8_t)(1u << imin);
    }
    return s;
}

void lq_lattice_weights(int n, const float *x, const float *imatrix,
                        float sigma2, float default_bias, float *weight) {
    for (int i = 0; i < n; ++i)
        weight[i] = imatrix ? imatrix[i] * sqrtf(sigma2 + x[i] * x[i])
                            : default_bias * sigma2 + x[i] * x[i];
}

/* ---- super-block scale ------------------------------------------------ */

#define MAX_HALF 65504.0f

static float round_to_half(float d) {
    if (!(d > 0))
        return 0;
    return lq_half_to_float(lq_float_to_half(d > MAX_HALF ? MAX_HALF : d));
}

static float multiplier(const lq_super_layout *lay, int l) {
    return lay->odd ? 2 * l + 1 : l;
}

/* Least-squares D for fixed block scales (0 if undefined). */
static float refit_super(const lq_super_layout *lay, const float *x,
                         const float *w, const float *unit, const uint8_t *l) {
    double sumqx = 0, sumq2 = 0;
    for (int b = 0; b < lay->nblocks; ++b) {
        float m = multiplier(lay, l[b]);
        for (int i = b * lay->block_len; i < (b + 1) * lay->block_len; ++i) {
            float q = m * unit[i];
            sumqx += w[i] * q * x[i];
            sumq2 += w[i] * q * q;
        }
    }
    return sumq2 > 0 && sumqx > 0 ? (float)(sumqx / sumq2) : 0;
}

/* For D fixed, the best block scale of every block. */
static void choose_block_scales(const lq_super_layout *lay, float d,
                                const float *x, const float *w,
                                const float *unit, uint8_t *l) {
    if (!(d > 0))
        return;
    for (int b = 0; b < lay->nblocks; ++b) {
        float sumux = 0, sumu2 = 0;
        for (int i = b * lay->block_len; i < (b + 1) * lay->block_len; ++i) {
            sumux += w[i] * unit[i] * x[i];
            sumu2 += w[i] * unit[i] * unit[i];
        }
        if (!(sumu2 > 0))
            continue;
        float m = sumux / (sumu2 * d);
        int centre = lay->odd ? lq_nearest_int(0.5f * (m - 1)) : lq_nearest_int(m);
        int best = l[b];
        float best_err = FLT_MAX;
        for (int c = centre - 1; c <= centre + 1; ++c) {
            if (c < 0 || c > lay->max_level)
                continue;
            float q = d * multiplier(lay, c);
            float err = q * q * sumu2 - 2 * q * sumux;
            if (err < best_err) {
                best_err = err;
                best = c;
            }
        }
        l[b] = (uint8_t)best;
    }
}

static double super_error(const lq_super_layout *lay, float d, const float *x,
                          const float *w, const float *unit, const uint8_t *l) {
    double err = 0;
    for (int b = 0; b < lay->nblocks; ++b) {
        float m = d * multiplier(lay, l[b]);
        for (int i = b * lay->block_len; i < (b + 1) * lay->block_len; ++i) {
            float diff = x[i] - m * unit[i];
            err += w[i] * diff * diff;
        }
    }
    return err;
}

float lq_lattice_super_scale(const lq_super_layout *lay, const float *scale,
                             const float *x, const float *w, const float *unit,
                             float out_scale, uint8_t *l, uint8_t *trial) {
    static const float spreads[] = {0.9f, 0.95f, 1.0f, 1.05f, 1.1f};
    float max_scale = 0;
    if (lay->nblocks <= 0)
        return 0;
    for (int b = 0; b < lay->nblocks; ++b)
        max_scale = scale[b] > max_scale ? scale[b] : max_scale;
    memset(l, 0, (size_t)lay->nblocks);
    if (!(max_scale > 0))
        return 0;
    int top = lay->odd ? 2 * lay->max_level + 1 : lay->max_level;
    double best_err = DBL_MAX;
    float best_d = 0;
    for (size_t s = 0; s < sizeof spreads / sizeof spreads[0]; ++s) {
        float d = spreads[s] * max_scale / top;
        for (int b = 0; b < lay->nblocks; ++b) {
            float r = scale[b] / d;
            int c = lay->odd ? lq_nearest_int(0.5f * (r - 1)) : lq_nearest_int(r);
            trial[b] = (uint8_t)(c < 0 ? 0 : c > lay->max_level ? lay->max_level : c);
        }
        for (int pass = 0; pass < 2; ++pass) {
            float fitted = refit_super(lay, x, w, unit, trial);
            if (fitted > 0)
                d = fitted;
            if (pass == 0)
                choose_block_scales(lay, d, x, w, unit, trial);
        }
        d = round_to_half(d * out_scale);
        double err = super_error(lay, d / out_scale, x, w, unit, trial);
        if (err < best_err) {
            best_err = err;
            best_d = d;
            memcpy(l, trial, (size_t)lay->nblocks);
        }
    }
    return best_d;
}

/* ---- magnitude types: iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s ---------- */

#define SUPER 256

static int block_trials(const lq_magnitude_spec *s, const float *xval,
                        const float *weight, float max, float *ids) {
    int n = 0;
    for (int t = -s->max_half; t <= s->max_half; ++t)
        ids[n++] = (s->max_centre + s->max_step * t) / max;
    if (s->split_half) {
        float s3 = lq_lattice_three_level_scale(s->block, xval, weight);
        if (s3 > 0)
            for (int t = -s->split_half; t <= s->split_half; ++t)
                ids[n++] = (1 + 0.02f * t) / s3;
    }
    return n;
}

/* Fit one block: signs, then grid points and a scale of the magnitudes.
 * `unit` receives the decoded value of every position per unit of scale. */
static float fit_magnitude_block(const lq_lattice *g,
                                 const lq_magnitude_spec *s, const float *x,
                                 const float *weight, uint8_t *signs,
                                 uint16_t *index, float *unit) {
    float xval[LQ_LATTICE_MAX_BLOCK], sqrt_w[LQ_LATTICE_MAX_BLOCK];
    float ids[128];
    lq_fit fit;
    for (int k = 0; k < s->block / 8; ++k)
        signs[k] = lq_lattice_signs8(x + 8 * k, weight + 8 * k, s->parity,
                                     xval + 8 * k);
    float max = 0;
    for (int i = 0; i < s->block; ++i) {
        sqrt_w[i] = sqrtf(weight[i]);
        max = xval[i] > max ? xval[i] : max;
    }
    lq_fit_block b = {s->block, xval, weight, sqrt_w};
    if (max > 1e-8f)
        fit_block(g, &b, ids, block_trials(s, xval, weight, max, ids), 3,
                  &fit);
    else
        memset(&fit, 0, sizeof fit);
    for (int k = 0; k < s->block / g->dim; ++k)
        index[k] = fit.index[k];
    for (int i = 0; i < s->block; ++i) {
        float v = s->unit * g->values[g->levels[fit.index[i / g->dim] * g->dim +
                                                i % g->dim]];
        unit[i] = (signs[i / 8] >> (i % 8)) & 1 ? -v : v;
    }
    return fit.scale;
}

void lq_lattice_fit_magnitudes(const lq_lattice *g, const lq_magnitude_spec *s,
                               const float *x, const float *imatrix,
                               lq_magnitude_fit *out) {
    float xn[SUPER], weight[SUPER], unit[SUPER], scales[SUPER / 16];
    float amax = 0;
    for (int i = 0; i < SUPER; ++i)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    memset(out, 0, sizeof *out);
    if (!(amax > 0))
        return;
    /* work on values scaled to [-1, 1]: no overflow whatever the input */
    float sumx2 = 0;
    for (int i = 0; i < SUPER; ++i) {
        xn[i] = x[i] / amax;
        sumx2 += xn[i] * xn[i];
    }
    float sigma2 = s->sigma_mult * sumx2 / SUPER;
    lq_lattice_weights(SUPER, xn, imatrix, sigma2, s->default_bias, weight);
    int groups_per_block = s->block / g->dim;
    for (int b = 0; b < SUPER / s->block; ++b) {
        int o = b * s->block;
        scales[b] = fit_magnitude_block(g, s, xn + o, weight + o,
                                        out->signs + o / 8,
                                        out->index + b * groups_per_block,
                                        unit + o);
    }
    uint8_t scratch[SUPER / 16];
    lq_super_layout layout = {SUPER / s->block, s->block, 15, 1};
    float d = lq_lattice_super_scale(&layout, scales, xn, weight, unit, amax,
                                     out->l, scratch);
    out->d = lq_float_to_half(d);
}

int lq_lattice_encode_row(const lq_magnitude_spec *s, int block_bytes,
                          lq_magnitude_pack_fn pack, const float *src,
                          void *dst, int64_t ncols, const float *imatrix) {
    const lq_lattice *g = lq_lattice_get(s->grid);
    if (!g)
        return LQ_ERR_NO_MEMORY;
    uint8_t *out = dst;
    for (int64_t i0 = 0; i0 < ncols; i0 += SUPER, out += block_bytes) {
        lq_magnitude_fit fit;
        lq_lattice_fit_magnitudes(g, s, src + i0, imatrix ? imatrix + i0 : NULL,
                                  &fit);
        pack(&fit, out);
    }
    return LQ_OK;
}

/* ---- the family ------------------------------------------------------- */

static const lq_codec lattice_codecs[] = {
    {LQ_TYPE_IQ2_XXS, lq_quantize_iq2_xxs, lq_dequantize_iq2_xxs, NULL, NULL},
    {LQ_TYPE_IQ2_XS, lq_quantize_iq2_xs, lq_dequantize_iq2_xs, NULL, NULL},
    {LQ_TYPE_IQ2_S, lq_quantize_iq2_s, lq_dequantize_iq2_s, NULL, NULL},
    {LQ_TYPE_IQ3_XXS, lq_quantize_iq3_xxs, lq_dequantize_iq3_xxs, NULL, NULL},
    {LQ_TYPE_IQ3_S, lq_quantize_iq3_s, lq_dequantize_iq3_s, NULL, NULL},
    {LQ_TYPE_IQ1_S, lq_quantize_iq1_s, lq_dequantize_iq1_s, NULL, NULL},
    {LQ_TYPE_IQ1_M, lq_quantize_iq1_m, lq_dequantize_iq1_m, NULL, NULL},
    {LQ_TYPE_IQ1_S_R4, lq_quantize_iq1_s_r4, lq_dequantize_iq1_s_r4, NULL, NULL},
    {LQ_TYPE_IQ1_M_R4, lq_quantize_iq1_m_r4, lq_dequantize_iq1_m_r4, NULL, NULL},
};

const lq_codec_family lq_family_lattice = {
    "lattice", lattice_codecs, sizeof lattice_codecs / sizeof lattice_codecs[0]};
