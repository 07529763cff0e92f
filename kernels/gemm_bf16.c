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
/* iq6_k's index bytes are spread to words by vpermb */
#define BF16_VBMI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16,avx512vbmi")))

enum { STEP = 32, TILE_ROWS = 4, TILE_VECS = LQ_BF16_TILE_VECS, GEMV_ROWS = 8, PREFETCH_BYTES = 1024 };
/* Rows longer than SPLIT_COLS are multiplied SPLIT_COLS columns at a time
 * (in blocks of at most SPLIT_ROWS rows), so that a tile's activations stay
 * in L1 while the block's rows pass; between the parts the accumulators
 * wait in memory (exactly: each chain is the same). */
enum { SPLIT_COLS = 2048, SPLIT_ROWS = 128 };
/* parts of a row: continues the kept accumulators / more parts follow */
enum { PART_CONTINUES = 1, PART_MORE = 2 };

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

/* One step of 32 weights of a tile (m: the weights present). */
BF16 INLINE void tile_step(const uint16_t *w, int64_t w_stride, const uint16_t *a,
                           int64_t a_stride, int64_t k, __mmask32 m,
                           __m512 acc[GEMV_ROWS][TILE_VECS], const int nr, const int nv,
                           const bool half) {
    __m512i x[TILE_VECS];
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++)
        x[v] = _mm512_loadu_si512((const void *)(a + v * a_stride + k));
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++) {
        if (nv == 1)
            _mm_prefetch((const char *)(w + r * w_stride + k) + PREFETCH_BYTES, _MM_HINT_T0);
        const __m512i wv = load_weights(w + r * w_stride, k, m, half);
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)wv, (__m512bh)x[v]);
    }
}

/* Every (row, vector) of a tile is one chain of vdpbf16ps over the steps of
 * 32 weights in order, reduced by _mm512_reduce_add_ps: the same whatever
 * tile shape it falls in. The accumulators stay in registers for the whole
 * row (4 x 6 of them, with 6 activation registers and one weight). */
BF16 INLINE void tile_body(const uint16_t *w, int64_t w_stride, const uint16_t *a,
                           int64_t a_stride, int64_t ncols, float *out, int64_t out_stride,
                           __m512 *keep, int part, const int nr, const int nv,
                           const bool half) {
    __m512 acc[GEMV_ROWS][TILE_VECS];
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++)
            acc[r][v] = part & PART_CONTINUES ? keep[r * TILE_VECS + v] : _mm512_setzero_ps();
    const int64_t full = ncols / STEP * STEP;
    for (int64_t k = 0; k < full; k += STEP)
        tile_step(w, w_stride, a, a_stride, k, 0xffffffffu, acc, nr, nv, half);
    if (full < ncols)
        tile_step(w, w_stride, a, a_stride, full, (__mmask32)((1u << (ncols - full)) - 1), acc,
                  nr, nv, half);
    if (part & PART_MORE) {
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++)
#pragma GCC unroll 6
            for (int v = 0; v < nv; v++)
                keep[r * TILE_VECS + v] = acc[r][v];
        return;
    }
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++)
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++)
            out[v * out_stride + r] = _mm512_reduce_add_ps(acc[r][v]);
}

typedef void (*tile_fn)(const uint16_t *, int64_t, const uint16_t *, int64_t, int64_t, float *,
                        int64_t, __m512 *, int);
#define BF16_TILE(R, V)                                                                     \
    BF16 static void tile_##R##x##V(const uint16_t *w, int64_t ws, const uint16_t *a,      \
                                    int64_t as, int64_t nc, float *o, int64_t os,           \
                                    __m512 *keep, int part) {                               \
        tile_body(w, ws, a, as, nc, o, os, keep, part, R, V, false);                        \
    }                                                                                       \
    BF16 static void half_##R##x##V(const uint16_t *w, int64_t ws, const uint16_t *a,      \
                                    int64_t as, int64_t nc, float *o, int64_t os,           \
                                    __m512 *keep, int part) {                               \
        tile_body(w, ws, a, as, nc, o, os, keep, part, R, V, true);                         \
    }
#define BF16_TILE_ROW(R)                                                                    \
    BF16_TILE(R, 1) BF16_TILE(R, 2) BF16_TILE(R, 3) BF16_TILE(R, 4) BF16_TILE(R, 5) BF16_TILE(R, 6)
BF16_TILE_ROW(1) BF16_TILE_ROW(2) BF16_TILE_ROW(3) BF16_TILE_ROW(4) BF16_TILE(8, 1)

#define TILE_TABLE_ROW(p, R) {p##_##R##x1, p##_##R##x2, p##_##R##x3, p##_##R##x4, p##_##R##x5, p##_##R##x6}
#define TILE_TABLE(p) {TILE_TABLE_ROW(p, 1), TILE_TABLE_ROW(p, 2), TILE_TABLE_ROW(p, 3), TILE_TABLE_ROW(p, 4)}
static const tile_fn tiles[2][TILE_ROWS][TILE_VECS] = {TILE_TABLE(tile), TILE_TABLE(half)};
/* one vector: more rows at a time keep more loads in flight */
static const tile_fn gemv_tiles[2] = {tile_8x1, half_8x1};

BF16 static void block_tiles(const uint16_t *w, bool half, int64_t ncols, int64_t rows,
                             const uint16_t *act, int64_t n, float *y, int64_t y_stride) {
    const int64_t padded = lq_bf16_padded_cols(ncols);
    int64_t first = 0;
    if (n == 1)
        for (; first + GEMV_ROWS <= rows; first += GEMV_ROWS)
            gemv_tiles[half](w + first * ncols, ncols, act, padded, ncols, y + first, y_stride,
                             NULL, 0);
    w += first * ncols, y += first, rows -= first;
    const int64_t part_cols = n > 1 && ncols > SPLIT_COLS && rows <= SPLIT_ROWS ? SPLIT_COLS : ncols;
    __m512 keep[SPLIT_ROWS * TILE_VECS];
    for (int64_t v0 = 0; v0 < n; v0 += TILE_VECS) {
        const int nv = n - v0 < TILE_VECS ? (int)(n - v0) : TILE_VECS;
        for (int64_t k0 = 0; k0 < ncols; k0 += part_cols) {
            const int part = (k0 > 0 ? PART_CONTINUES : 0) | (k0 + part_cols < ncols ? PART_MORE : 0);
            const int64_t cols = ncols - k0 < part_cols ? ncols - k0 : part_cols;
            for (int64_t r0 = 0; r0 < rows; r0 += TILE_ROWS) {
                const int nr = rows - r0 < TILE_ROWS ? (int)(rows - r0) : TILE_ROWS;
                tiles[half][nr - 1][nv - 1](w + r0 * ncols + k0, ncols, act + v0 * padded + k0,
                                            padded, cols, y + v0 * y_stride + r0, y_stride,
                                            keep + r0 * TILE_VECS, part);
            }
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
 * value[index], the value the cubic in fused multiply-adds (+ 1 in a
 * shifted sub-block), as the codec computes it; rounded once to bf16.
 * The 64 values are tabulated per call as the high and low 16 bits of each
 * float (two vpermi2w tables of 64 words), and a step of 32 weights is
 * looked up with its 6-bit indices as words. */
enum { IQ6K_BYTES = 212, IQ6K_QS = 20, IQ6K_QH = 148 };

typedef struct iq6k_tables {
    __m512i hi[2], lo[2];  /* words of values 0..31 and 32..63 */
    __m512i spread[2];     /* byte indices -> word indices, see iq6k_step */
} iq6k_tables;

BF16_VBMI INLINE iq6k_tables iq6k_make_tables(void) {
    iq6k_tables t;
    __m512 v[4];
    for (int i = 0; i < 4; i++) {
        const __m512 q = _mm512_add_ps(_mm512_set1_ps((float)(16 * i)),
                                       _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        __m512 c = _mm512_fmadd_ps(q, _mm512_set1_ps(LQ_IQ6K_POLY_D), _mm512_set1_ps(LQ_IQ6K_POLY_C));
        c = _mm512_fmadd_ps(q, c, _mm512_set1_ps(LQ_IQ6K_POLY_B));
        v[i] = _mm512_fmadd_ps(q, c, _mm512_set1_ps(LQ_IQ6K_POLY_A));
    }
    uint16_t odd[32], even[32], spread[2][32];
    for (int i = 0; i < 32; i++) {
        odd[i] = (uint16_t)(2 * i + 1);
        even[i] = (uint16_t)(2 * i);
        /* word 8 j + u of a step takes weight 4 j + u (u < 4) or 16 + 4 j +
         * u - 4, so that unpacking low / high words gives weights 0..15 /
         * 16..31 in order; both bytes of the word from that weight's byte
         * (vpermi2w reads only the low 6 bits) */
        const int j = i / 8, u = i % 8, weight = u < 4 ? 4 * j + u : 16 + 4 * j + u - 4;
        for (int half = 0; half < 2; half++)
            spread[half][i] = (uint16_t)((32 * half + weight) * 0x101);
    }
    const __m512i io = _mm512_loadu_si512((const void *)odd), ie = _mm512_loadu_si512((const void *)even);
    for (int h = 0; h < 2; h++) {
        t.hi[h] = _mm512_permutex2var_epi16((__m512i)v[2 * h], io, (__m512i)v[2 * h + 1]);
        t.lo[h] = _mm512_permutex2var_epi16((__m512i)v[2 * h], ie, (__m512i)v[2 * h + 1]);
        t.spread[h] = _mm512_loadu_si512((const void *)spread[h]);
    }
    return t;
}

/* The 6-bit indices of the 128 weights of half h of a super-block as bytes:
 * idx[0] holds steps 4h (bytes 0-31) and 4h + 2 (32-63), idx[1] steps
 * 4h + 1 and 4h + 3. Bits 6-7 are left over and ignored by the lookup. */
BF16_VBMI INLINE void iq6k_half_indices(const uint8_t *block, int h, __m512i idx[2]) {
    const __m512i qs = _mm512_loadu_si512((const void *)(block + IQ6K_QS + 64 * h));
    const __m512i qh = _mm512_broadcast_i64x4(
        _mm256_loadu_si256((const __m256i *)(const void *)(block + IQ6K_QH + 32 * h)));
    /* the upper 32 bytes serve steps 2 and 3, whose bits are 4 higher */
    const __m512i qh_steps = _mm512_srlv_epi16(
        qh, _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1));
    const __m512i low4 = _mm512_set1_epi8(15);
    /* (a & 15) | (b & ~15) */
    idx[0] = _mm512_ternarylogic_epi32(qs, _mm512_slli_epi16(qh_steps, 4), low4, 0xE4);
    idx[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(qs, 4), _mm512_slli_epi16(qh_steps, 2),
                                       low4, 0xE4);
}

/* The 32 weights of step m (indices from iq6k_half_indices, register and
 * byte half given by m), sub-blocks 2m and 2m + 1, as bf16 in order. */
BF16_VBMI INLINE __m512i iq6k_step(const iq6k_tables *t, const __m512i idx[2], int m,
                              const float *dl, const float *shift) {
    const __m512i words = _mm512_permutexvar_epi8(t->spread[(m / 2) % 2], idx[m % 2]);
    const __m512i hi = _mm512_permutex2var_epi16(t->hi[0], words, t->hi[1]);
    const __m512i lo = _mm512_permutex2var_epi16(t->lo[0], words, t->lo[1]);
    __m512 first = (__m512)_mm512_unpacklo_epi16(lo, hi);
    __m512 second = (__m512)_mm512_unpackhi_epi16(lo, hi);
    first = _mm512_add_ps(first, _mm512_set1_ps(shift[2 * m]));
    second = _mm512_add_ps(second, _mm512_set1_ps(shift[2 * m + 1]));
    first = _mm512_mul_ps(_mm512_set1_ps(dl[2 * m]), first);
    second = _mm512_mul_ps(_mm512_set1_ps(dl[2 * m + 1]), second);
    return (__m512i)_mm512_cvtne2ps_pbh(second, first);
}

/* d * ls of the 16 sub-blocks, as the codec multiplies them */
BF16_VBMI INLINE void iq6k_scales(const uint8_t *block, float *dl) {
    const __m512 ls = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(block + 4))));
    const float d = _cvtsh_ss(lq_load_u16(block));
    _mm512_storeu_ps(dl, _mm512_mul_ps(_mm512_set1_ps(d), ls));
}

/* 1.0 for the sub-blocks of the shifted table, else 0.0 (adding 0 keeps a
 * value: none of the 64 is zero) */
BF16_VBMI INLINE void iq6k_shifts(const uint8_t *block, float *shift) {
    const __mmask16 shifted = (__mmask16)lq_load_u16(block + 2);
    _mm512_storeu_ps(shift, _mm512_maskz_mov_ps(shifted, _mm512_set1_ps(1.0f)));
}

BF16_VBMI static void decode_iq6_k(const uint8_t *row, int64_t ncols, uint16_t *out) {
    const iq6k_tables t = iq6k_make_tables();
    for (int64_t s = 0; s < ncols / 256; s++) {
        const uint8_t *block = row + s * IQ6K_BYTES;
        float dl[16];
        iq6k_scales(block, dl);
        float shift[16];
        iq6k_shifts(block, shift);
        for (int h = 0; h < 2; h++) {
            __m512i idx[2];
            iq6k_half_indices(block, h, idx);
            for (int m = 4 * h; m < 4 * h + 4; m++)
                _mm512_storeu_si512((void *)(out + 256 * s + 32 * m),
                                    iq6k_step(&t, idx, m, dl, shift));
        }
    }
}

/* One vector: each step decoded and multiplied at once, in the tiles'
 * arithmetic (one vdpbf16ps chain per row over the steps in order, reduced
 * as tile_body does), so the bits are those of a vector in a tile. */
enum { IQ6K_GEMV_ROWS = 4 };

/* The super-block s of nr rows against the vector's 256 values x. */
BF16_VBMI INLINE void iq6k_gemv_block(const iq6k_tables *t, const uint8_t *block,
                                      int64_t row_bytes, const __m512i *x, __m512 *acc,
                                      const int nr) {
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
        const uint8_t *b = block + r * row_bytes;
        float dl[16];
        iq6k_scales(b, dl);
        float shift[16];
        iq6k_shifts(b, shift);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i idx[2];
            iq6k_half_indices(b, h, idx);
#pragma GCC unroll 4
            for (int m = 4 * h; m < 4 * h + 4; m++)
                acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)iq6k_step(t, idx, m, dl, shift),
                                          (__m512bh)x[m]);
        }
    }
}

BF16_VBMI INLINE void iq6k_gemv_rows(const iq6k_tables *t, const uint8_t *rows,
                                     int64_t row_bytes, int64_t ncols, const uint16_t *act,
                                     float *y, const int nr) {
    __m512 acc[IQ6K_GEMV_ROWS];
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++)
        acc[r] = _mm512_setzero_ps();
    for (int64_t s = 0; s < ncols / 256; s++) {
        __m512i x[8];
#pragma GCC unroll 8
        for (int m = 0; m < 8; m++)
            x[m] = _mm512_loadu_si512((const void *)(act + 256 * s + 32 * m));
        iq6k_gemv_block(t, rows + s * IQ6K_BYTES, row_bytes, x, acc, nr);
    }
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++)
        y[r] = _mm512_reduce_add_ps(acc[r]);
}

BF16_VBMI static void gemv_iq6_k(const uint8_t *rows, int64_t row_bytes, int64_t nrows,
                                 int64_t ncols, const uint16_t *act, float *y) {
    const iq6k_tables t = iq6k_make_tables();
    int64_t r = 0;
    for (; r + IQ6K_GEMV_ROWS <= nrows; r += IQ6K_GEMV_ROWS)
        iq6k_gemv_rows(&t, rows + r * row_bytes, row_bytes, ncols, act, y + r, IQ6K_GEMV_ROWS);
    for (; r < nrows; r++)
        iq6k_gemv_rows(&t, rows + r * row_bytes, row_bytes, ncols, act, y + r, 1);
}

static bool vbmi_available(void) {
    __builtin_cpu_init();
    return lq_bf16_gemm_available() && __builtin_cpu_supports("avx512vbmi");
}

lq_bf16_gemv_fn lq_bf16_row_gemv(int type) {
    if (type == LQ_TYPE_IQ6_K && vbmi_available())
        return gemv_iq6_k;
    return NULL;
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
        return vbmi_available() ? decode_iq6_k : NULL;
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
lq_bf16_gemv_fn lq_bf16_row_gemv(int type) {
    (void)type;
    return NULL;
}

#endif
