/*
 * bf16 weights with AVX-512 BF16 (vdpbf16ps), stored (bf16) or decoded
 * into bf16 rows (iq6_k, whose values are a cubic, not integers): the activations are rounded
 * to bf16 once per call (relative error 2^-9 per value, well inside the
 * 8e-3 bound), then a tile of up to 4 rows x 4 vectors accumulates pairs
 * of products into 16 float lanes per (row, vector), 32 weights a step,
 * straight from the stored rows. The lanes are reduced in one fixed order,
 * so a (row, vector) result does not depend on the tile it falls in.
 */
#include <string.h>

#include "gemm_bf16.h"
#include "common.h"
#include "iqk_tables.h"
#include "quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define BF16 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512bf16")))
#define INLINE static inline __attribute__((always_inline))

enum { STEP = 32, TILE_ROWS = 4, TILE_VECS = 6, GEMV_ROWS = 8 };

bool lq_bf16_gemm_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
}

BF16 void lq_bf16_activations(const float *x, int64_t ncols, uint16_t *out) {
    const int64_t padded = lq_bf16_padded_cols(ncols);
    for (int64_t i = 0; i < padded; i += STEP) {
        const int64_t left = ncols - i;
        const __mmask16 lo = left >= 16 ? 0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
        const __mmask16 hi = left >= 32 ? 0xffff : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
        const __m512 a = _mm512_maskz_loadu_ps(lo, x + i);
        const __m512 b = left > 16 ? _mm512_maskz_loadu_ps(hi, x + i + 16) : _mm512_setzero_ps();
        _mm512_storeu_si512((void *)(out + i), (__m512i)_mm512_cvtne2ps_pbh(b, a));
    }
}

/* 32 weights of a row as bf16: stored bf16, or f16 rounded to bf16 (the
 * float of the half is exact, so this is one rounding) */
BF16 INLINE __m512i load_weights(const uint16_t *row, int64_t k, __mmask32 m, bool half) {
    if (!half)
        return _mm512_maskz_loadu_epi16(m, row + k);
    const __m512 lo = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)m, row + k));
    const __m512 hi = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)(m >> 16), row + k + 16));
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

/* Every (row, vector) of a tile is one chain of vdpbf16ps over the steps of
 * 32 weights in order, reduced by _mm512_reduce_add_ps: the same whatever
 * tile shape it falls in. The accumulators stay in registers for the whole
 * row (4 x 6 of them, with 6 activation registers and one weight). */
BF16 INLINE void tile_body(const uint16_t *w, int64_t w_stride, const uint16_t *a,
                           int64_t a_stride, int64_t ncols, float *out, int64_t out_stride,
                           const int nr, const int nv, const bool half) {
    __m512 acc[GEMV_ROWS][TILE_VECS];
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < ncols; k += STEP) {
        const int64_t left = ncols - k;
        const __mmask32 m = left >= STEP ? 0xffffffffu : (__mmask32)((1u << left) - 1);
        __m512i x[TILE_VECS];
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++)
            x[v] = _mm512_loadu_si512((const void *)(a + v * a_stride + k));
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++) {
            const __m512i wv = load_weights(w + r * w_stride, k, m, half);
#pragma GCC unroll 6
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)wv, (__m512bh)x[v]);
        }
    }
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++)
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++)
            out[v * out_stride + r] = _mm512_reduce_add_ps(acc[r][v]);
}

typedef void (*tile_fn)(const uint16_t *, int64_t, const uint16_t *, int64_t, int64_t, float *,
                        int64_t);
#define BF16_TILE(R, V)                                                                     \
    BF16 static void tile_##R##x##V(const uint16_t *w, int64_t ws, const uint16_t *a,      \
                                    int64_t as, int64_t nc, float *o, int64_t os) {         \
        tile_body(w, ws, a, as, nc, o, os, R, V, false);                                    \
    }                                                                                       \
    BF16 static void half_##R##x##V(const uint16_t *w, int64_t ws, const uint16_t *a,      \
                                    int64_t as, int64_t nc, float *o, int64_t os) {         \
        tile_body(w, ws, a, as, nc, o, os, R, V, true);                                     \
    }
#define BF16_TILE_ROW(R)                                                                    \
    BF16_TILE(R, 1) BF16_TILE(R, 2) BF16_TILE(R, 3) BF16_TILE(R, 4) BF16_TILE(R, 5) BF16_TILE(R, 6)
BF16_TILE_ROW(1) BF16_TILE_ROW(2) BF16_TILE_ROW(3) BF16_TILE_ROW(4) BF16_TILE(8, 1)

#define TILE_TABLE_ROW(p, R) {p##_##R##x1, p##_##R##x2, p##_##R##x3, p##_##R##x4, p##_##R##x5, p##_##R##x6}
#define TILE_TABLE(p) {TILE_TABLE_ROW(p, 1), TILE_TABLE_ROW(p, 2), TILE_TABLE_ROW(p, 3), TILE_TABLE_ROW(p, 4)}
static const tile_fn tiles[2][TILE_ROWS][TILE_VECS] = {TILE_TABLE(tile), TILE_TABLE(half)};
/* one vector: more rows at a time keep more loads in flight */
static const tile_fn gemv_tiles[2] = {tile_8x1, half_8x1};

static void block_tiles(const uint16_t *w, bool half, int64_t ncols, int64_t rows,
                        const uint16_t *act, int64_t n, float *y, int64_t y_stride) {
    const int64_t padded = lq_bf16_padded_cols(ncols);
    int64_t first = 0;
    if (n == 1)
        for (; first + GEMV_ROWS <= rows; first += GEMV_ROWS)
            gemv_tiles[half](w + first * ncols, ncols, act, padded, ncols, y + first, y_stride);
    w += first * ncols, y += first, rows -= first;
    for (int64_t v0 = 0; v0 < n; v0 += TILE_VECS) {
        const int nv = n - v0 < TILE_VECS ? (int)(n - v0) : TILE_VECS;
        for (int64_t r0 = 0; r0 < rows; r0 += TILE_ROWS) {
            const int nr = rows - r0 < TILE_ROWS ? (int)(rows - r0) : TILE_ROWS;
            tiles[half][nr - 1][nv - 1](w + r0 * ncols, ncols, act + v0 * padded, padded, ncols,
                                        y + v0 * y_stride + r0, y_stride);
        }
    }
}

void lq_bf16_block(const uint16_t *w, int64_t ncols, int64_t rows, const uint16_t *act,
                   int64_t n, float *y, int64_t y_stride) {
    block_tiles(w, false, ncols, rows, act, n, y, y_stride);
}

void lq_bf16_rows(const uint16_t *w, bool half, int64_t ncols, int64_t row, int64_t count,
                  const uint16_t *act, int64_t n, float *y, int64_t nrows) {
    /* rows in blocks that stay in L2 while every vector passes over them */
    const int64_t block = n <= 2 ? GEMV_ROWS : 64;
    for (int64_t b = row; b < row + count; b += block) {
        const int64_t rows = row + count - b < block ? row + count - b : block;
        block_tiles(w + b * ncols, half, ncols, rows, act, n, y + b, nrows);
    }
}

/* ---- rows decoded to bf16: types whose values are not small integers ---- */

/* iq6_k: d, extra, int8 scales[16], qs[128] (index bits 0-3: weight e in
 * byte 32 (e / 64) + e % 32 at bit 4 ((e / 32) % 2)), qh[64] (bits 4-5:
 * byte 32 (e / 128) + e % 32 at bit 2 ((e / 32) % 4)); weight = (d * ls) *
 * (cubic(index) + shifted), the cubic in fused multiply-adds as the codec
 * evaluates it, so the float is the codec's before its rounding to bf16.
 * The 16 weights of a sub-block are 16 consecutive bytes of qs and of qh. */
BF16 static __m512 iq6_k_sub_block(const uint8_t *w, int b) {
    const uint8_t *qs = w + 20 + 32 * (b / 4) + 16 * (b % 2);
    const uint8_t *qh = w + 148 + 32 * (b / 8) + 16 * (b % 2);
    const __m512i lo = _mm512_srli_epi32(
        _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)qs)), 4 * ((b / 2) % 2));
    const __m512i hi = _mm512_srli_epi32(
        _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)qh)), 2 * ((b / 2) % 4));
    const __m512i idx = _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(15)),
                                        _mm512_slli_epi32(_mm512_and_si512(hi, _mm512_set1_epi32(3)), 4));
    const __m512 q = _mm512_cvtepi32_ps(idx);
    __m512 v = _mm512_fmadd_ps(q, _mm512_set1_ps(LQ_IQ6K_POLY_D), _mm512_set1_ps(LQ_IQ6K_POLY_C));
    v = _mm512_fmadd_ps(q, v, _mm512_set1_ps(LQ_IQ6K_POLY_B));
    v = _mm512_fmadd_ps(q, v, _mm512_set1_ps(LQ_IQ6K_POLY_A));
    if ((lq_load_u16(w + 2) >> b) & 1)
        v = _mm512_add_ps(v, _mm512_set1_ps(1.0f));
    const float dl = lq_half_to_float(lq_load_u16(w)) * (float)(int8_t)w[4 + b];
    return _mm512_mul_ps(_mm512_set1_ps(dl), v);
}

BF16 static void decode_iq6_k(const uint8_t *row, int64_t ncols, uint16_t *out) {
    for (int64_t s = 0; s < ncols / 256; s++) {
        const uint8_t *w = row + s * 212;
        for (int b = 0; b < 16; b += 2)
            _mm512_storeu_si512((void *)(out + 256 * s + 16 * b),
                                (__m512i)_mm512_cvtne2ps_pbh(iq6_k_sub_block(w, b + 1),
                                                             iq6_k_sub_block(w, b)));
    }
}

/* f16: each weight rounded to bf16, as the f16 tiles do in registers */
BF16 static void decode_f16(const uint8_t *row, int64_t ncols, uint16_t *out) {
    const uint16_t *in = (const uint16_t *)(const void *)row;
    for (int64_t k = 0; k < ncols; k += STEP) {
        const int64_t left = ncols - k;
        const __mmask32 m = left >= STEP ? 0xffffffffu : (__mmask32)((1u << left) - 1);
        _mm512_mask_storeu_epi16(out + k, m, load_weights(in, k, m, true));
    }
}

lq_bf16_row_decode_fn lq_bf16_row_decoder(int type) {
    if (!lq_bf16_gemm_available())
        return NULL;
    if (type == LQ_TYPE_IQ6_K)
        return decode_iq6_k;
    if (type == LQ_TYPE_F16)
        return decode_f16;
    return NULL;
}

#else /* not x86 */

bool lq_bf16_gemm_available(void) { return false; }
void lq_bf16_activations(const float *x, int64_t ncols, uint16_t *out) {
    (void)x, (void)ncols, (void)out;
}
void lq_bf16_rows(const uint16_t *w, bool half, int64_t ncols, int64_t row, int64_t count,
                  const uint16_t *act, int64_t n, float *y, int64_t nrows) {
    (void)w, (void)half, (void)ncols, (void)row, (void)count, (void)act, (void)n, (void)y, (void)nrows;
}
void lq_bf16_block(const uint16_t *w, int64_t ncols, int64_t rows, const uint16_t *act,
                   int64_t n, float *y, int64_t y_stride) {
    (void)w, (void)ncols, (void)rows, (void)act, (void)n, (void)y, (void)y_stride;
}
lq_bf16_row_decode_fn lq_bf16_row_decoder(int type) {
    (void)type;
    return NULL;
}

#endif
