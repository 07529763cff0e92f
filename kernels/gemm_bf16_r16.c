/*
 * bf16_r16 with AVX-512 BF16, read in place: a group of 16 rows stores, per
 * column pair, the 16 rows' pairs as one 64-byte line, so a line is a
 * register whose lane k is row k. vdpbf16ps of that line with the vector's
 * pair broadcast to every lane adds both products into row k's lane: an
 * outer product, 16 rows x 1 vector per instruction, with no transposition
 * and no reduction at the end. Each (row, vector) is one chain over the
 * pairs in order, whatever the tile (so the bits do not depend on threads
 * or on how the vectors are split). A tile holds 2 groups x 8 vectors of
 * accumulators (32 rows; 8 broadcasts and 2 lines per 16 instructions).
 */
#include <string.h>

#include "gemm_bf16.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define BF16 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512bf16")))
#define INLINE static inline __attribute__((always_inline))

enum { ROWS = 16, TILE_GROUPS = 2, TILE_VECS = 8, GEMV_GROUPS = 4 };

/* The activation pair p of vector a (bf16, padded with zeros). */
INLINE int32_t act_pair(const uint16_t *a, int64_t p) {
    int32_t pair;
    memcpy(&pair, a + 2 * p, sizeof pair);
    return pair;
}

/* A group's entries for the column pair p; an odd last column stores the
 * 16 rows' values alone, which become pairs (value, 0). */
BF16 INLINE __m512i group_pair(const uint16_t *group, int64_t p, bool lone) {
    if (lone)
        return _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(group + 32 * p)));
    return _mm512_loadu_si512((const void *)(group + 32 * p));
}

BF16 INLINE void r16_tile(const uint16_t *w, int64_t group_stride, const uint16_t *a,
                          int64_t a_stride, int64_t ncols, float *out, int64_t out_stride,
                          const int ng, const int nv) {
    __m512 acc[GEMV_GROUPS][TILE_VECS];
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++)
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[g][v] = _mm512_setzero_ps();
    const int64_t pairs = (ncols + 1) / 2;
    for (int64_t p = 0; p < pairs; p++) {
        const bool lone = 2 * p + 1 == ncols;
        __m512i wv[GEMV_GROUPS];
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++)
            wv[g] = group_pair(w + g * group_stride, p, lone);
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            const __m512i x = _mm512_set1_epi32(act_pair(a + v * a_stride, p));
#pragma GCC unroll 4
            for (int g = 0; g < ng; g++)
                acc[g][v] = _mm512_dpbf16_ps(acc[g][v], (__m512bh)wv[g], (__m512bh)x);
        }
    }
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++)
            _mm512_storeu_ps(out + v * out_stride + ROWS * g, acc[g][v]);
}

typedef void (*r16_tile_fn)(const uint16_t *, int64_t, const uint16_t *, int64_t, int64_t,
                            float *, int64_t);
#define R16_TILE(G, V)                                                                     \
    BF16 static void r16_##G##x##V(const uint16_t *w, int64_t gs, const uint16_t *a,      \
                                   int64_t as, int64_t nc, float *o, int64_t os) {         \
        r16_tile(w, gs, a, as, nc, o, os, G, V);                                           \
    }
#define R16_TILE_ROW(G)                                                                    \
    R16_TILE(G, 1) R16_TILE(G, 2) R16_TILE(G, 3) R16_TILE(G, 4) R16_TILE(G, 5)            \
    R16_TILE(G, 6) R16_TILE(G, 7) R16_TILE(G, 8)
R16_TILE_ROW(1) R16_TILE_ROW(2) R16_TILE(4, 1)

#define R16_TABLE_ROW(G) {r16_##G##x1, r16_##G##x2, r16_##G##x3, r16_##G##x4, \
                          r16_##G##x5, r16_##G##x6, r16_##G##x7, r16_##G##x8}
static const r16_tile_fn r16_tiles[TILE_GROUPS][TILE_VECS] = {R16_TABLE_ROW(1), R16_TABLE_ROW(2)};

void lq_bf16_r16_rows(const uint16_t *w, int64_t ncols, int64_t group, int64_t count,
                      const uint16_t *act, int64_t n, float *y, int64_t nrows) {
    const int64_t padded = lq_bf16_padded_cols(ncols), group_stride = ROWS * ncols;
    const uint16_t *first = w + group * group_stride;
    float *out = y + group * ROWS;
    int64_t g0 = 0;
    if (n == 1) /* one vector: more groups at a time for more chains in flight */
        for (; g0 + GEMV_GROUPS <= count; g0 += GEMV_GROUPS)
            r16_4x1(first + g0 * group_stride, group_stride, act, padded, ncols,
                    out + g0 * ROWS, nrows);
    /* groups in blocks that stay in L2 while every vector passes over them */
    const int64_t block = 4;
    for (int64_t b = g0; b < count; b += block) {
        const int64_t groups = count - b < block ? count - b : block;
        for (int64_t v0 = 0; v0 < n; v0 += TILE_VECS) {
            const int nv = n - v0 < TILE_VECS ? (int)(n - v0) : TILE_VECS;
            for (int64_t g = b; g < b + groups; g += TILE_GROUPS) {
                const int ng = b + groups - g < TILE_GROUPS ? (int)(b + groups - g) : TILE_GROUPS;
                r16_tiles[ng - 1][nv - 1](first + g * group_stride, group_stride,
                                          act + v0 * padded, padded, ncols,
                                          out + v0 * nrows + g * ROWS, nrows);
            }
        }
    }
}

#else /* not x86 */

void lq_bf16_r16_rows(const uint16_t *w, int64_t ncols, int64_t group, int64_t count,
                      const uint16_t *act, int64_t n, float *y, int64_t nrows) {
    (void)w, (void)ncols, (void)group, (void)count, (void)act, (void)n, (void)y, (void)nrows;
}

#endif
