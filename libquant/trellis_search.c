/*
 * k-d trees over the trellis codebooks, and the branch-and-bound search.
 *
 * The codebooks are 2^13 .. 2^16 pseudo-random points in 4 or 8 dimensions.
 * An exhaustive scan costs up to 2^16 distance evaluations per group;
 * the tree finds the exact nearest point after a couple of thousand and,
 * with a small slack, a near-exact one after a few hundred.
 */
#include "trellis_search.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "trellis_gen.h"

/* Codewords per leaf: a fixed trip count for the vectorized distance loop. */
#define KT_LEAF 32
#define KT_MAX_DIM 8

typedef struct kt_node {
    int dim;        /* the coordinate this node splits on */
    float low_max;  /* largest value of that coordinate in the low child */
    float high_min; /* smallest value in the high child */
} kt_node;

struct kt_book {
    int dim;
    int count;
    int depth;            /* levels of internal nodes; 2^depth leaves */
    int8_t *values;       /* count x dim, indexed by seed */
    kt_node *nodes;       /* 2^depth - 1, heap order (children 2i+1, 2i+2) */
    int8_t *leaf_values;  /* per leaf: dim rows of KT_LEAF values */
    uint16_t *leaf_seeds; /* per leaf: KT_LEAF seeds */
};

typedef struct kt_book_spec {
    int seed_bits;
    int dim;
    uint32_t offset;
    int magnitudes; /* the type stores signs apart: search |values| */
} kt_book_spec;

static const kt_book_spec kt_specs[KT_BOOK_COUNT] = {
    [KT_BOOK_IQ1] = {13, 8, LQ_KT_OFFSET, 0},
    [KT_BOOK_IQ2] = {16, 8, LQ_KT_OFFSET, 0},
    [KT_BOOK_IQ3] = {16, 8, LQ_KT_OFFSET, 1},
    [KT_BOOK_IQ4] = {15, 4, LQ_KT_OFFSET, 0},
    [KT_BOOK_IQ4_ALT] = {15, 4, LQ_KT_OFFSET_ALT, 0},
};

static struct kt_book kt_books[KT_BOOK_COUNT];
static int kt_book_ready[KT_BOOK_COUNT];

typedef struct kt_sort_item {
    int key;
    int seed;
} kt_sort_item;

static int kt_compare_items(const void *pa, const void *pb) {
    const kt_sort_item *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->seed < b->seed ? -1 : a->seed > b->seed;
}

static int kt_widest_dim(const kt_book *book, const kt_sort_item *items,
                         int n) {
    int best_dim = 0;
    double best_var = -1;
    for (int k = 0; k < book->dim; ++k) {
        double sum = 0, sum2 = 0;
        for (int i = 0; i < n; ++i) {
            double v = book->values[items[i].seed * book->dim + k];
            sum += v;
            sum2 += v * v;
        }
        double var = sum2 / n - (sum / n) * (sum / n);
        if (var > best_var) {
            best_var = var;
            best_dim = k;
        }
    }
    return best_dim;
}

static void kt_store_leaf(kt_book *book, int leaf, const kt_sort_item *items) {
    int8_t *dst = book->leaf_values + (size_t)leaf * KT_LEAF * book->dim;
    for (int j = 0; j < KT_LEAF; ++j) {
        const int8_t *v = book->values + items[j].seed * book->dim;
        for (int k = 0; k < book->dim; ++k)
            dst[k * KT_LEAF + j] = v[k];
        book->leaf_seeds[leaf * KT_LEAF + j] = (uint16_t)items[j].seed;
    }
}

/* Median split on the coordinate of largest variance, recursively. */
static void kt_build_node(kt_book *book, int node, int level,
                          kt_sort_item *items, int n) {
    if (level == book->depth) {
        kt_store_leaf(book, node - ((1 << book->depth) - 1), items);
        return;
    }
    int dim = kt_widest_dim(book, items, n);
    for (int i = 0; i < n; ++i)
        items[i].key = book->values[items[i].seed * book->dim + dim];
    qsort(items, (size_t)n, sizeof *items, kt_compare_items);
    int half = n / 2;
    book->nodes[node] = (kt_node){dim, (float)items[half - 1].key,
                                  (float)items[half].key};
    kt_build_node(book, 2 * node + 1, level + 1, items, half);
    kt_build_node(book, 2 * node + 2, level + 1, items + half, half);
}

static void kt_free_book(kt_book *book) {
    free(book->values);
    free(book->nodes);
    free(book->leaf_values);
    free(book->leaf_seeds);
    memset(book, 0, sizeof *book);
}

static void kt_build_book(kt_book_id id) {
    const kt_book_spec *spec = &kt_specs[id];
    kt_book *book = &kt_books[id];
    book->dim = spec->dim;
    book->count = 1 << spec->seed_bits;
    int leaves = book->count / KT_LEAF;
    while ((1 << book->depth) < leaves)
        ++book->depth;
    size_t nvalues = (size_t)book->count * book->dim;
    book->values = malloc(nvalues);
    book->nodes = malloc(sizeof(kt_node) * (size_t)(leaves - 1));
    book->leaf_values = malloc(nvalues);
    book->leaf_seeds = malloc(sizeof(uint16_t) * (size_t)book->count);
    kt_sort_item *items = malloc(sizeof *items * (size_t)book->count);
    if (!book->values || !book->nodes || !book->leaf_values ||
        !book->leaf_seeds || !items) {
        free(items);
        kt_free_book(book);
        return;
    }
    for (int seed = 0; seed < book->count; ++seed) {
        int8_t *v = book->values + (size_t)seed * book->dim;
        lq_kt_generate((uint32_t)seed, spec->offset, book->dim, v);
        if (spec->magnitudes)
            for (int k = 0; k < book->dim; ++k)
                v[k] = (int8_t)(v[k] < 0 ? -v[k] : v[k]);
        items[seed] = (kt_sort_item){0, seed};
    }
    kt_build_node(book, 0, 0, items, book->count);
    free(items);
    kt_book_ready[id] = 1;
}

static void kt_build_iq1(void) { kt_build_book(KT_BOOK_IQ1); }
static void kt_build_iq2(void) { kt_build_book(KT_BOOK_IQ2); }
static void kt_build_iq3(void) { kt_build_book(KT_BOOK_IQ3); }
static void kt_build_iq4(void) { kt_build_book(KT_BOOK_IQ4); }
static void kt_build_iq4_alt(void) { kt_build_book(KT_BOOK_IQ4_ALT); }

static void (*const kt_builders[KT_BOOK_COUNT])(void) = {
    kt_build_iq1, kt_build_iq2, kt_build_iq3, kt_build_iq4, kt_build_iq4_alt,
};
static pthread_once_t kt_once[KT_BOOK_COUNT] = {
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
};

const kt_book *kt_book_get(kt_book_id id) {
    pthread_once(&kt_once[id], kt_builders[id]);
    return kt_book_ready[id] ? &kt_books[id] : NULL;
}

int kt_book_dim(const kt_book *book) { return book->dim; }

const int8_t *kt_book_values(const kt_book *book, int seed) {
    return book->values + (size_t)seed * book->dim;
}

float kt_distance(const kt_book *book, int seed, const float *t,
                  const float *w) {
    const int8_t *q = kt_book_values(book, seed);
    float sum = 0;
    for (int k = 0; k < book->dim; ++k) {
        float diff = t[k] - (float)q[k];
        sum += w[k] * diff * diff;
    }
    return sum;
}

typedef struct kt_query {
    const kt_book *book;
    const float *t, *w;
    float slack;
    float off[KT_MAX_DIM]; /* distance from t to the current cell, per dim */
    float best;
    int best_seed;
} kt_query;

static void kt_scan_leaf(kt_query *q, int leaf) {
    const int dim = q->book->dim;
    const int8_t *v = q->book->leaf_values + (size_t)leaf * KT_LEAF * dim;
    float acc[KT_LEAF] = {0};
    for (int k = 0; k < dim; ++k) {
        const float tk = q->t[k], wk = q->w[k];
        const int8_t *vk = v + k * KT_LEAF;
        for (int j = 0; j < KT_LEAF; ++j) {
            float diff = tk - (float)vk[j];
            acc[j] += wk * diff * diff;
        }
    }
    int best_j = -1;
    float best = q->best;
    for (int j = 0; j < KT_LEAF; ++j) {
        if (acc[j] < best) {
            best = acc[j];
            best_j = j;
        }
    }
    if (best_j >= 0) {
        q->best = best;
        q->best_seed = q->book->leaf_seeds[leaf * KT_LEAF + best_j];
    }
}

/* bound: the weighted distance from t to this node's cell. */
static void kt_descend(kt_query *q, int node, int level, float bound) {
    const kt_book *book = q->book;
    if (level == book->depth) {
        kt_scan_leaf(q, node - ((1 << book->depth) - 1));
        return;
    }
    const kt_node *n = &book->nodes[node];
    const int k = n->dim;
    const float tk = q->t[k];
    const float above_low = tk - n->low_max, below_high = n->high_min - tk;
    const int low_first = above_low < below_high;
    kt_descend(q, 2 * node + (low_first ? 1 : 2), level + 1, bound);
    /* the far child lies at least this far away along k */
    float gap = low_first ? below_high : above_low;
    if (gap < q->off[k])
        gap = q->off[k];
    const float old = q->off[k];
    const float far_bound = bound + q->w[k] * (gap * gap - old * old);
    if (far_bound * q->slack >= q->best)
        return;
    q->off[k] = gap;
    kt_descend(q, 2 * node + (low_first ? 2 : 1), level + 1, far_bound);
    q->off[k] = old;
}

int kt_nearest(const kt_book *book, const float *t, const float *w,
               float slack, int start) {
    kt_query q = {.book = book, .t = t, .w = w, .slack = slack};
    q.best = start >= 0 ? kt_distance(book, start, t, w) : INFINITY;
    q.best_seed = start >= 0 ? start : 0;
    kt_descend(&q, 0, 0, 0.0f);
    return q.best_seed;
}
