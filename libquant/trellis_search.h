/*
 * Nearest-codeword search over the generated codebooks of the trellis types.
 *
 * Each codebook (all groups a type's seeds can produce) is stored once as a
 * balanced k-d tree whose leaves hold their codewords dimension-major, so the
 * distance loop over a leaf is a fixed-length loop the compiler vectorizes.
 * The search is a depth-first branch and bound on a weighted squared
 * distance; `slack` > 1 prunes a subtree as soon as its lower bound times
 * slack reaches the best distance so far (approximate search with a known
 * bound on the loss: the result is within a factor `slack` of the optimum).
 */
#ifndef LIBQUANT_TRELLIS_SEARCH_H
#define LIBQUANT_TRELLIS_SEARCH_H

#include <stdint.h>

typedef enum kt_book_id {
    KT_BOOK_IQ1,     /* 2^13 groups of 8 signed values */
    KT_BOOK_IQ2,     /* 2^16 groups of 8 signed values */
    KT_BOOK_IQ3,     /* 2^16 groups of 8 magnitudes */
    KT_BOOK_IQ4,     /* 2^15 groups of 4 signed values */
    KT_BOOK_IQ4_ALT, /* the same further along the generator sequence */
    KT_BOOK_COUNT
} kt_book_id;

typedef struct kt_book kt_book;

/* Implementations of the leaf scan; all give the same results. */
typedef enum kt_impl {
    KT_IMPL_SCALAR, /* the specification */
    KT_IMPL_AVX512,
} kt_impl;

/* The codebook, built on first use (thread-safe). */
const kt_book *kt_book_get(kt_book_id id);

int kt_book_dim(const kt_book *book);
/* The values of the group with this seed (dim of them). */
const int8_t *kt_book_values(const kt_book *book, int seed);

/* Weighted squared distance between target t and the group of `seed`. */
float kt_distance(const kt_book *book, int seed, const float *t,
                  const float *w);

/* The seed minimising sum_k w[k] (t[k] - q[k])^2 (within a factor `slack`).
 * start: a seed to begin from (its distance bounds the search), or -1. */
int kt_nearest(const kt_book *book, const float *t, const float *w,
               float slack, int start);

/* Whether this CPU can run the implementation. */
int kt_impl_supported(kt_impl impl);

/* The same with a given implementation (for tests: every implementation the
 * CPU supports must return the same seed). */
int kt_nearest_with(const kt_book *book, kt_impl impl, const float *t,
                    const float *w, float slack, int start);

#endif /* LIBQUANT_TRELLIS_SEARCH_H */
