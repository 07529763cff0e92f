/*
 * k-d trees over the trellis codebooks, and the branch-and-bound search.
 *
 * The codebooks are 2^13 .. 2^16 pseudo-random points in 4 or 8 dimensions.
 * An exhaustive scan costs up to 2^16 distance evaluations per group;
 * the tree finds the exact nearest point after a couple of thousand and,
 * with a small slack, a near-exact one after a few hundred.
 *
 * The scalar leaf scan is the specification. The AVX-512 scan computes every
 * distance with the same operations in the same order (no fused
 * multiply-add) and breaks ties the same way, so both give the same seeds;
 * it is chosen once per codebook when the CPU has the instructions.
 */
#include "trellis_search.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "trellis_gen.h"

/* Codewords per leaf: measured fastest for both SIMD and scalar scans (a
 * shallower tree costs fewer node visits than the larger leaves cost). */
#define KT_LEAF 64
/* Distances are computed in chunks of this many codewords (one AVX-512
 * register of floats). */
#define KT_LANES 16
#define KT_MAX_DIM 8
#define KT_MAX_DEPTH 16

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
    kt_impl impl;         /* the leaf scan this CPU runs */
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

#if defined(__x86_64__) && defined(__GNUC__)
#define KT_HAVE_AVX512 1
#include <immintrin.h>
#endif

int kt_impl_supported(kt_impl impl) {
    switch (impl) {
    case KT_IMPL_SCALAR: return 1;
#ifdef KT_HAVE_AVX512
    case KT_IMPL_AVX512: return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

static kt_impl kt_best_impl(void) {
    return kt_impl_supported(KT_IMPL_AVX512) ? KT_IMPL_AVX512 : KT_IMPL_SCALAR;
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
    book->impl = kt_best_impl();
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

/* The search state of one query. */
typedef struct kt_query {
    const kt_book *book;
    const float *t, *w;
    float best;
    int best_seed;
} kt_query;

/* Keep the first codeword of the chunk (codewords first..first+KT_LANES-1 of
 * the leaf) whose distance is below the best so far and smallest. */
static void kt_take_best(kt_query *q, int leaf, int first, const float *acc) {
    int best_j = -1;
    for (int j = 0; j < KT_LANES; ++j) {
        if (acc[j] < q->best) {
            q->best = acc[j];
            best_j = j;
        }
    }
    if (best_j >= 0)
        q->best_seed = q->book->leaf_seeds[leaf * KT_LEAF + first + best_j];
}

static void kt_scan_leaf_scalar(kt_query *q, int leaf) {
    const int dim = q->book->dim;
    const int8_t *v = q->book->leaf_values + (size_t)leaf * KT_LEAF * dim;
    for (int first = 0; first < KT_LEAF; first += KT_LANES) {
        float acc[KT_LANES] = {0};
        for (int k = 0; k < dim; ++k) {
            const float tk = q->t[k], wk = q->w[k];
            const int8_t *vk = v + k * KT_LEAF + first;
            for (int j = 0; j < KT_LANES; ++j) {
                const float diff = tk - (float)vk[j];
                const float term = wk * diff * diff;
                acc[j] += term;
            }
        }
        kt_take_best(q, leaf, first, acc);
    }
}

#ifdef KT_HAVE_AVX512
_Static_assert(KT_LEAF == 4 * KT_LANES, "the AVX-512 scan keeps four chunks in registers");

/* acc + w (t - value)^2 for 16 codewords, rounded as the scalar loop. */
__attribute__((target("avx512f"))) static inline __m512
kt_accumulate16(__m512 acc, __m512 t, __m512 w, const int8_t *values) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)values);
    const __m512 diff = _mm512_sub_ps(t, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)));
    __m512 term = _mm512_mul_ps(_mm512_mul_ps(w, diff), diff);
    /* keep the compiler from fusing the add into an FMA, which would round
     * differently from the scalar specification */
    __asm__("" : "+v"(term));
    return _mm512_add_ps(acc, term);
}

/* The four chunks of a leaf side by side: independent dependency chains. */
__attribute__((target("avx512f"))) static void kt_scan_leaf_avx512(kt_query *q, int leaf) {
    const int dim = q->book->dim;
    const int8_t *v = q->book->leaf_values + (size_t)leaf * KT_LEAF * dim;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int k = 0; k < dim; ++k) {
        const __m512 tk = _mm512_set1_ps(q->t[k]), wk = _mm512_set1_ps(q->w[k]);
        const int8_t *vk = v + k * KT_LEAF;
        acc0 = kt_accumulate16(acc0, tk, wk, vk);
        acc1 = kt_accumulate16(acc1, tk, wk, vk + KT_LANES);
        acc2 = kt_accumulate16(acc2, tk, wk, vk + 2 * KT_LANES);
        acc3 = kt_accumulate16(acc3, tk, wk, vk + 3 * KT_LANES);
    }
    /* lanes below the best so far; NaN distances never qualify */
    const __m512 best = _mm512_set1_ps(q->best);
    const __mmask16 below0 = _mm512_cmp_ps_mask(acc0, best, _CMP_LT_OQ);
    const __mmask16 below1 = _mm512_cmp_ps_mask(acc1, best, _CMP_LT_OQ);
    const __mmask16 below2 = _mm512_cmp_ps_mask(acc2, best, _CMP_LT_OQ);
    const __mmask16 below3 = _mm512_cmp_ps_mask(acc3, best, _CMP_LT_OQ);
    if (!(below0 | below1 | below2 | below3))
        return;
    /* the smallest qualifying distance (inactive lanes read as +inf) ... */
    const __m512 inf = _mm512_set1_ps(INFINITY);
    const __m512 m01 = _mm512_min_ps(_mm512_mask_blend_ps(below0, inf, acc0),
                                     _mm512_mask_blend_ps(below1, inf, acc1));
    const __m512 m23 = _mm512_min_ps(_mm512_mask_blend_ps(below2, inf, acc2),
                                     _mm512_mask_blend_ps(below3, inf, acc3));
    const float min = _mm512_reduce_min_ps(_mm512_min_ps(m01, m23));
    /* ... and the first codeword that has it */
    const __m512 minv = _mm512_set1_ps(min);
    const uint64_t equal =
        (uint64_t)_mm512_mask_cmp_ps_mask(below0, acc0, minv, _CMP_EQ_OQ) |
        (uint64_t)_mm512_mask_cmp_ps_mask(below1, acc1, minv, _CMP_EQ_OQ) << 16 |
        (uint64_t)_mm512_mask_cmp_ps_mask(below2, acc2, minv, _CMP_EQ_OQ) << 32 |
        (uint64_t)_mm512_mask_cmp_ps_mask(below3, acc3, minv, _CMP_EQ_OQ) << 48;
    q->best = min;
    q->best_seed = q->book->leaf_seeds[leaf * KT_LEAF + __builtin_ctzll(equal)];
}
#endif

static void kt_scan_leaf(kt_query *q, kt_impl impl, int leaf) {
#ifdef KT_HAVE_AVX512
    if (impl == KT_IMPL_AVX512) {
        kt_scan_leaf_avx512(q, leaf);
        return;
    }
#endif
    (void)impl;
    kt_scan_leaf_scalar(q, leaf);
}

/* A subtree still to visit: its root, the lower bound of the weighted
 * distance to its cell, and the per-dimension offsets that make it up. */
typedef struct kt_pending {
    int node, level;
    float bound;
    float off[KT_MAX_DIM];
} kt_pending;

/* Depth first, nearer child first, as a loop: on the way down every farther
 * child that the bound does not rule out is stacked (with its offsets), and
 * is visited after the nearer subtree unless the best has become too close
 * by then. The stack never holds more than one entry per level. */
int kt_nearest_with(const kt_book *book, kt_impl impl, const float *t,
                    const float *w, float slack, int start) {
    kt_query q = {.book = book, .t = t, .w = w};
    q.best = start >= 0 ? kt_distance(book, start, t, w) : INFINITY;
    q.best_seed = start >= 0 ? start : 0;
    kt_pending stack[KT_MAX_DEPTH + 1];
    int top = 0, node = 0, level = 0;
    float bound = 0, off[KT_MAX_DIM] = {0};
    for (;;) {
        for (; level < book->depth; ++level) {
            const kt_node *n = &book->nodes[node];
            const int k = n->dim;
            const float above_low = t[k] - n->low_max, below_high = n->high_min - t[k];
            const int low_first = above_low < below_high;
            /* the far child lies at least this far away along k */
            float gap = low_first ? below_high : above_low;
            gap = gap < off[k] ? off[k] : gap;
            const float far_bound = bound + w[k] * (gap * gap - off[k] * off[k]);
            /* written unconditionally, kept only if needed: no branch */
            kt_pending *p = &stack[top];
            p->node = 2 * node + 1 + low_first;
            p->level = level + 1;
            p->bound = far_bound;
            memcpy(p->off, off, sizeof off);
            p->off[k] = gap;
            top += far_bound * slack < q.best;
            node = 2 * node + 2 - low_first;
        }
        kt_scan_leaf(&q, impl, node - ((1 << book->depth) - 1));
        do {
            if (top == 0)
                return q.best_seed;
            --top;
        } while (stack[top].bound * slack >= q.best);
        node = stack[top].node;
        level = stack[top].level;
        bound = stack[top].bound;
        memcpy(off, stack[top].off, sizeof off);
    }
}

int kt_nearest(const kt_book *book, const float *t, const float *w,
               float slack, int start) {
    return kt_nearest_with(book, book->impl, t, w, slack, start);
}
