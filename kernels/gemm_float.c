/*
 * f32 and f16 weights with AVX-512: a tile of up to 4 rows x 4 vectors of
 * FMAs on 16 float lanes per (row, vector), the weights read (and f16
 * converted) once per tile for all its vectors, the activations used as
 * they are. Lanes are reduced in one fixed order, so a result does not
 * depend on the tile it falls in.
 */
#include "gemm_float.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define FLOAT512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
#define INLINE static inline __attribute__((always_inline))

enum { STEP = 16, TILE = 4 };

FLOAT512 INLINE __m512 load_weights(const void *row, int64_t k, __mmask16 m, bool half) {
    if (half)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k));
    return _mm512_maskz_loadu_ps(m, (const float *)row + k);
}

FLOAT512 INLINE void tile_body(const void *w, int64_t ncols, const float *x, float *out,
                               int64_t out_stride, const int nr, const int nv, const bool half) {
    const int64_t row_bytes = ncols * (half ? 2 : 4);
    __m512 acc[TILE][TILE];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < ncols; k += STEP) {
        const int64_t left = ncols - k;
        const __mmask16 m = left >= STEP ? 0xffff : (__mmask16)((1u << left) - 1);
        __m512 xv[TILE];
        for (int v = 0; v < nv; v++)
            xv[v] = _mm512_maskz_loadu_ps(m, x + v * ncols + k);
        for (int r = 0; r < nr; r++) {
            const __m512 wv = load_weights((const char *)w + r * row_bytes, k, m, half);
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
        }
    }
    for (int v = 0; v < nv; v++)
        for (int r = 0; r < nr; r++)
            out[v * out_stride + r] = _mm512_reduce_add_ps(acc[r][v]);
}

#define FLOAT_TILE(R, V)                                                                     \
    FLOAT512 static void f32_##R##x##V(const void *w, int64_t nc, const float *x, float *o,  \
                                       int64_t os) {                                         \
        tile_body(w, nc, x, o, os, R, V, false);                                             \
    }                                                                                        \
    FLOAT512 static void f16_##R##x##V(const void *w, int64_t nc, const float *x, float *o,  \
                                       int64_t os) {                                         \
        tile_body(w, nc, x, o, os, R, V, true);                                              \
    }
FLOAT_TILE(1, 1) FLOAT_TILE(1, 2) FLOAT_TILE(1, 3) FLOAT_TILE(1, 4)
FLOAT_TILE(2, 1) FLOAT_TILE(2, 2) FLOAT_TILE(2, 3) FLOAT_TILE(2, 4)
FLOAT_TILE(3, 1) FLOAT_TILE(3, 2) FLOAT_TILE(3, 3) FLOAT_TILE(3, 4)
FLOAT_TILE(4, 1) FLOAT_TILE(4, 2) FLOAT_TILE(4, 3) FLOAT_TILE(4, 4)

typedef void (*tile_fn)(const void *, int64_t, const float *, float *, int64_t);
#define TILE_TABLE(p)                                                                         \
    {{p##_1x1, p##_1x2, p##_1x3, p##_1x4}, {p##_2x1, p##_2x2, p##_2x3, p##_2x4},             \
     {p##_3x1, p##_3x2, p##_3x3, p##_3x4}, {p##_4x1, p##_4x2, p##_4x3, p##_4x4}}
static const tile_fn f32_tiles[TILE][TILE] = TILE_TABLE(f32);
static const tile_fn f16_tiles[TILE][TILE] = TILE_TABLE(f16);

void lq_float_rows(bool half, const void *w, int64_t ncols, int64_t row, int64_t count,
                   const float *x, int64_t n, float *y, int64_t nrows) {
    const tile_fn (*tiles)[TILE] = half ? f16_tiles : f32_tiles;
    const int64_t row_bytes = ncols * (half ? 2 : 4);
    /* rows in blocks that stay in L2 while every vector passes over them */
    int64_t block = n <= 2 ? TILE : 256 * 1024 / row_bytes / TILE * TILE;
    block = block < TILE ? TILE : block;
    for (int64_t b = row; b < row + count; b += block) {
        const int64_t rows = row + count - b < block ? row + count - b : block;
        for (int64_t v0 = 0; v0 < n; v0 += TILE) {
            const int nv = n - v0 < TILE ? (int)(n - v0) : TILE;
            for (int64_t r0 = 0; r0 < rows; r0 += TILE) {
                const int nr = rows - r0 < TILE ? (int)(rows - r0) : TILE;
                tiles[nr - 1][nv - 1]((const char *)w + (b + r0) * row_bytes, ncols,
                                      x + v0 * ncols, y + v0 * nrows + b + r0, nrows);
            }
        }
    }
}

#else /* not x86 */

void lq_float_rows(bool half, const void *w, int64_t ncols, int64_t row, int64_t count,
                   const float *x, int64_t n, float *y, int64_t nrows) {
    (void)half, (void)w, (void)ncols, (void)row, (void)count, (void)x, (void)n, (void)y,
        (void)nrows;
}

#endif
