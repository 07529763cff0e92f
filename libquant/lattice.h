/*
 * Shared machinery of the lattice i-quants (iq1_s, iq1_m, iq2_xxs, iq2_xs,
 * iq2_s, iq3_xxs, iq3_s): the grid search structures and the block fitting
 * that the per-type files build on. Private to lattice*.c.
 *
 * Every grid point is described by small level indices, one per coordinate
 * (0..2 for the 2-bit grids and iq1s, 0..7 for the 3-bit grids). A *key*
 * packs the levels of one group, `bits` bits per coordinate, coordinate 0
 * lowest. Encoders round values to levels, look the key up, and when it is
 * not a grid point search its precomputed neighbour list.
 */
#ifndef LIBQUANT_LATTICE_H
#define LIBQUANT_LATTICE_H

#include <stdint.h>

enum lq_lattice_grid_id {
    LQ_GRID_IQ2XXS,
    LQ_GRID_IQ2XS,
    LQ_GRID_IQ2S,
    LQ_GRID_IQ1S,
    LQ_GRID_IQ3XXS,
    LQ_GRID_IQ3S,
    LQ_GRID_COUNT
};

#define LQ_LATTICE_MAX_BLOCK 32 /* largest block one fit handles */

typedef struct lq_lattice {
    int size;     /* number of grid points */
    int dim;      /* coordinates per point: 8 or 4 */
    int bits;     /* bits per coordinate in a key */
    int nlevels;  /* levels an encoder may round to */
    const int8_t *levels;       /* size * dim level indices */
    const int8_t *values;       /* the decoder's coordinate value per level */
    const int32_t *map;         /* key -> point (>= 0) or -(1 + offset) */
    const uint16_t *neighbours; /* at offset: count, then point indices */
} lq_lattice;

/* The search structures of a grid, built on first use (thread-safe).
 * NULL if memory ran out. */
const lq_lattice *lq_lattice_get(enum lq_lattice_grid_id id);

/* The key of dim levels. */
static inline int lq_lattice_key(const lq_lattice *g, const int8_t *L) {
    int key = 0;
    for (int j = 0; j < g->dim; ++j)
        key |= (int)L[j] << (g->bits * j);
    return key;
}

/* The grid point for the levels L of one group: L itself when it is a grid
 * point, otherwise the neighbour minimising sum w (scale*value[level] - x)^2
 * (L is then overwritten with that point's levels). */
int lq_lattice_snap(const lq_lattice *g, int8_t *L, const float *x,
                    const float *w, float scale, const float *value);

/* Sort positions 0..n-1 by value, ascending (insertion sort: n is small). */
static inline void lq_lattice_sort_positions(int n, const float *x, int *order) {
    for (int i = 0; i < n; ++i) {
        int j = i;
        while (j > 0 && x[order[j - 1]] > x[i]) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = i;
    }
}

/* Least-squares scale of the 3-level split of n magnitudes onto 1, 3, 5
 * (exact, by trying every split of the sorted values). */
float lq_lattice_three_level_scale(int n, const float *xval,
                                   const float *weight);

/* Signs of 8 values as a bit mask, with magnitudes in xval. With `parity`
 * the mask must have an even popcount (the format stores 7 bits): when it
 * is odd, the value that costs least (w*x^2) keeps its wrong sign, and its
 * magnitude in xval becomes negative so the fit sees the true error. */
uint8_t lq_lattice_signs8(const float *x, const float *w, int parity,
                          float *xval);

/* The 8-bit sign mask stored as 7 bits with even parity. */
static inline uint8_t lq_lattice_signs_from7(unsigned s7) {
    unsigned p = s7 ^ (s7 >> 4);
    p ^= p >> 2;
    p ^= p >> 1;
    return (uint8_t)(s7 | ((p & 1u) << 7));
}

/* Per-value weights of the error a block's fit minimises: the importance
 * times sqrt(sigma2 + x^2), or without importance default_bias*sigma2 + x^2. */
void lq_lattice_weights(int n, const float *x, const float *imatrix,
                        float sigma2, float default_bias, float *weight);

/* How one type codes a super-block of 256 values as signs, grid points of
 * magnitudes and scales: value = D * (2*l + 1) * unit * coordinate. */
typedef struct lq_magnitude_spec {
    enum lq_lattice_grid_id grid;
    int block;          /* values sharing one block scale: 16 or 32 */
    int parity;         /* signs stored as 7 bits with even parity */
    float sigma_mult;   /* sigma2 = sigma_mult * mean of x^2 */
    float default_bias; /* no importance: weight = bias*sigma2 + x^2 */
    float unit;         /* decoder's factor between scale and coordinate */
    /* block scales tried: (max_centre + max_step*t)/max for |t| <= max_half,
     * and (1 + 0.02*t)/s3 for |t| <= split_half, s3 the best 3-level scale */
    float max_centre, max_step;
    int max_half, split_half;
} lq_magnitude_spec;

typedef struct lq_magnitude_fit {
    uint16_t d;          /* super-block scale, half precision */
    uint8_t l[16];       /* block scales, 0..15 */
    uint16_t index[64];  /* grid point of every group */
    uint8_t signs[32];   /* sign mask of every 8 values */
} lq_magnitude_fit;

/* Fit one super-block of 256 values (imatrix NULL or its 256 weights). */
void lq_lattice_fit_magnitudes(const lq_lattice *g, const lq_magnitude_spec *s,
                               const float *x, const float *imatrix,
                               lq_magnitude_fit *out);

/* Writes one fitted super-block in a type's byte layout. */
typedef void (*lq_magnitude_pack_fn)(const lq_magnitude_fit *fit, uint8_t *out);

/* Quantize a row of ncols values: fit every super-block of 256 with s and
 * store it with pack, block_bytes apart. LQ_ERR_NO_MEMORY if the grid's
 * search structures could not be built, else LQ_OK. */
int lq_lattice_encode_row(const lq_magnitude_spec *s, int block_bytes,
                          lq_magnitude_pack_fn pack, const float *src,
                          void *dst, int64_t ncols, const float *imatrix);

/* How the scales of a row or super-block are laid out: nblocks blocks of
 * block_len values, each with a scale index l in 0..max_level; value i
 * decodes as D * m(l) * unit[i], m(l) = 2l + 1 if odd else l. */
typedef struct lq_super_layout {
    int nblocks, block_len, max_level, odd;
} lq_super_layout;

/* The scale D and the block scale indices l, given the per-block scales
 * the fits found: several roundings of the block scales are tried, each
 * with D refitted by least squares and the block scales re-chosen for it;
 * the one with the least weighted error wins. x is in units of 1/out_scale:
 * the D returned is in output units, rounded to half precision and clamped
 * to its range (0 for an empty block). scratch holds nblocks bytes. */
float lq_lattice_super_scale(const lq_super_layout *layout, const float *scale,
                             const float *x, const float *w, const float *unit,
                             float out_scale, uint8_t *l, uint8_t *scratch);

/* iq1 blocks (lattice_iq1.c): a block of n (16 or 32) values in groups of 8
 * on the iq1s grid with shifts of +-1/8, one shift sign for the block or one
 * per group; value = scale * (coordinate + shift). */
typedef struct lq_iq1_fit {
    float scale;
    unsigned pattern; /* bit k: group k has the negative shift */
    int8_t L[32];
    uint16_t index[4];
} lq_iq1_fit;

void lq_iq1_fit_block(const lq_lattice *g, int n, const float *x,
                      const float *w, int shift_per_group, lq_iq1_fit *f);
/* Decoded value per unit of scale of every value of a fitted block. */
void lq_iq1_units(const lq_lattice *g, int n, const lq_iq1_fit *f,
                  float *unit);

/* Decode n coordinates of a grid point (bytes of `point`) times db, negated
 * where bit j of signs is set: the decoders' shared inner loop. */
static inline void lq_lattice_decode(float db, uint64_t point, unsigned signs,
                                     int n, float *y) {
    for (int j = 0; j < n; ++j)
        y[j] = db * (float)(uint8_t)(point >> (8 * j)) *
               ((signs >> j) & 1u ? -1.f : 1.f);
}

#endif /* LIBQUANT_LATTICE_H */
