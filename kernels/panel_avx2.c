/*
 * AVX2 micro-kernel of the packed layout (panel.h) and its activation
 * chunks; the arithmetic is in panel_avx2.h.
 *
 * Sixteen ymm registers hold a 2 x 2 sub-tile: per (row, vector) an int32
 * accumulator for the half in progress and a float one for the row, plus
 * the two rows' levels and the two vectors' activations. A 4 x 4 tile is
 * run as four such sub-tiles; each (row, vector) gets the same arithmetic
 * in whichever sub-tile, tile or GEMV it falls.
 */
#include <stddef.h>

#include "panel.h"

/* The narrow formats and their lowest level: the ranges of the scalar
 * decoders' levels (panel_decode*.c), each at most 32 values, which
 * tests/test_kernels.c checks on random blocks. The lowest level is one of
 * the tiles' (0, -4, .., -16), below the true lowest where that differs:
 * iq1_s and iq1_m have -9 .. 9, iq3_s -15 .. 15, the Bitnet types -1 .. 2. */
typedef struct narrow_format {
    int type, lowest;
} narrow_format;
static const narrow_format narrow_formats[] = {
    {LQ_TYPE_Q4_0, -8},   {LQ_TYPE_Q4_1, 0},    {LQ_TYPE_Q5_0, -16},  {LQ_TYPE_Q5_1, 0},
    {LQ_TYPE_Q2_K, 0},    {LQ_TYPE_Q3_K, -4},   {LQ_TYPE_Q4_K, 0},    {LQ_TYPE_Q5_K, 0},
    {LQ_TYPE_MXFP4, -12}, {LQ_TYPE_IQ1_S, -12}, {LQ_TYPE_IQ1_M, -12}, {LQ_TYPE_IQ3_S, -16},
    {LQ_TYPE_IQ1_BN, -4}, {LQ_TYPE_IQ2_BN, -4},
};

int lq_avx2_levels_lowest(int type) {
    for (size_t i = 0; i < sizeof narrow_formats / sizeof narrow_formats[0]; i++)
        if (narrow_formats[i].type == type)
            return narrow_formats[i].lowest;
    return LQ_LEVELS_WIDE;
}

#if defined(__x86_64__) || defined(__i386__)
#include <math.h>
#include <string.h>

#include "panel_avx2.h"

/* 4 x 2, 2 x 4, 1 x 4 and 4 x 1 were timed too: none was faster. */
enum { SUB_R = 2, SUB_V = 2 };

/* lowest != LQ_LEVELS_WIDE: a narrow format (panel_avx2.h) */
AVX2 AVX2_INLINE void sub_tile(const lq_panel_chunk *w, int64_t w_stride, const lq_act_chunk *a,
                               int64_t a_stride, int64_t nchunks, bool has_offset, int lowest,
                               float *y, int64_t y_stride, const int nr, const int nv,
                               const bool narrow) {
    __m256 sum[SUB_R][SUB_V];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++)
            sum[r][v] = _mm256_setzero_ps();
    for (int64_t c = 0; c < nchunks; c++)
        for (int h = 0; h < 2; h++) {
            __m256i isum[SUB_R][SUB_V];
            for (int r = 0; r < nr; r++)
                for (int v = 0; v < nv; v++)
                    isum[r][v] = _mm256_setzero_si256();
            for (int s = 0; s < 4; s++) {
                __m256i act[SUB_V];
                for (int v = 0; v < nv; v++)
                    act[v] = lq_act_signed_avx2(&a[v * a_stride + c], s, h);
                for (int r = 0; r < nr; r++) {
                    const lq_panel_chunk *wc = &w[r * w_stride + c];
                    if (narrow) {
                        /* int16 sums of the half's steps */
                        const __m256i u = lq_unsigned_levels_avx2(wc, s, h, lowest);
                        for (int v = 0; v < nv; v++)
                            isum[r][v] = _mm256_add_epi16(isum[r][v], _mm256_maddubs_epi16(u, act[v]));
                        continue;
                    }
                    const __m256i lv = _mm256_load_si256((const __m256i *)(const void *)(wc->level + 64 * s + 32 * h));
                    const __m256i la = _mm256_abs_epi8(lv);
                    for (int v = 0; v < nv; v++)
                        isum[r][v] = _mm256_add_epi32(isum[r][v], lq_quad_dot_avx2(lv, la, act[v]));
                }
            }
            for (int r = 0; r < nr; r++)
                for (int v = 0; v < nv; v++) {
                    const lq_panel_chunk *wc = &w[r * w_stride + c];
                    const lq_act_chunk *ac = &a[v * a_stride + c];
                    sum[r][v] = narrow ? lq_half_float_narrow_avx2(
                                             wc, ac, h, _mm256_madd_epi16(isum[r][v], _mm256_set1_epi16(1)),
                                             lowest, sum[r][v])
                                       : lq_half_float_avx2(wc, ac, h, isum[r][v], has_offset, sum[r][v]);
                }
        }
    for (int v = 0; v < nv; v++)
        for (int r = 0; r < nr; r++)
            y[v * y_stride + r] = lq_reduce_avx2(sum[r][v]);
}

#define SUB_TILE(R, V)                                                                      \
    AVX2 static void sub_tile_##R##x##V(const lq_panel_chunk *w, int64_t ws,               \
                                        const lq_act_chunk *a, int64_t as, int64_t nc,     \
                                        bool off, int lowest, float *y, int64_t ys) {      \
        if (lowest == LQ_LEVELS_WIDE)                                                      \
            sub_tile(w, ws, a, as, nc, off, lowest, y, ys, R, V, false);                   \
        else                                                                               \
            sub_tile(w, ws, a, as, nc, off, lowest, y, ys, R, V, true);                    \
    }
SUB_TILE(1, 1) SUB_TILE(1, 2) SUB_TILE(2, 1) SUB_TILE(2, 2)

typedef void (*sub_tile_fn)(const lq_panel_chunk *, int64_t, const lq_act_chunk *, int64_t,
                            int64_t, bool, int, float *, int64_t);
static const sub_tile_fn sub_tiles[SUB_R][SUB_V] = {
    {sub_tile_1x1, sub_tile_1x2},
    {sub_tile_2x1, sub_tile_2x2},
};

static void tile_at(const lq_panel_chunk *w, int64_t w_stride, int nr, const lq_act_chunk *a,
                    int64_t a_stride, int nv, int64_t nchunks, bool has_offset, int lowest,
                    float *y, int64_t y_stride) {
    for (int r = 0; r < nr; r += SUB_R)
        for (int v = 0; v < nv; v += SUB_V) {
            const int sr = nr - r < SUB_R ? nr - r : SUB_R, sv = nv - v < SUB_V ? nv - v : SUB_V;
            sub_tiles[sr - 1][sv - 1](w + r * w_stride, w_stride, a + v * a_stride, a_stride,
                                      nchunks, has_offset, lowest, y + v * y_stride + r, y_stride);
        }
}

void lq_tile_avx2(const lq_panel_chunk *w, int64_t w_stride, int nr, const lq_act_chunk *a,
                  int64_t a_stride, int nv, int64_t nchunks, bool has_offset, float *y,
                  int64_t y_stride) {
    tile_at(w, w_stride, nr, a, a_stride, nv, nchunks, has_offset, LQ_LEVELS_WIDE, y, y_stride);
}

/* One tile function per lowest level, as lq_tile_fn has no room for it. */
#define NARROW_TILE(name, lowest)                                                           \
    static void name(const lq_panel_chunk *w, int64_t ws, int nr, const lq_act_chunk *a,    \
                     int64_t as, int nv, int64_t nc, bool off, float *y, int64_t ys) {      \
        tile_at(w, ws, nr, a, as, nv, nc, off, lowest, y, ys);                              \
    }
NARROW_TILE(tile_from_0, 0)
NARROW_TILE(tile_from_minus_4, -4)
NARROW_TILE(tile_from_minus_8, -8)
NARROW_TILE(tile_from_minus_12, -12)
NARROW_TILE(tile_from_minus_16, -16)

lq_tile_fn lq_tile_avx2_for(int type) {
    static const lq_tile_fn by_lowest[5] = {tile_from_0, tile_from_minus_4, tile_from_minus_8,
                                            tile_from_minus_12, tile_from_minus_16};
    const int lowest = lq_avx2_levels_lowest(type);
    return lowest == LQ_LEVELS_WIDE ? lq_tile_avx2 : by_lowest[-lowest / 4];
}

enum { MAX_GROUP_ROWS = 16 };

/* lowest as in lq_chunk_dot_avx2: a constant in each instance below */
AVX2 AVX2_INLINE void group_gemv(lq_panel_group_decode_fn decode, const uint8_t *groups,
                                 int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,
                                 const lq_act_chunk *a, bool has_offset, float *y, int lowest) {
    const int64_t nchunks = lq_panel_chunks(ncols);
    lq_panel_chunk chunk[MAX_GROUP_ROWS];
    for (int64_t g = 0; g < ngroups; g++) {
        __m256 sum[MAX_GROUP_ROWS];
        for (int k = 0; k < rows; k++)
            sum[k] = _mm256_setzero_ps();
        for (int64_t c = 0; c < nchunks; c++) {
            decode(groups + g * group_bytes, ncols, c, chunk, 1);
            for (int k = 0; k < rows; k++)
                sum[k] = lq_chunk_dot_avx2(&chunk[k], &a[c], has_offset, lowest, sum[k]);
        }
        for (int k = 0; k < rows; k++)
            y[g * rows + k] = lq_reduce_avx2(sum[k]);
    }
}

#define GROUP_GEMV(name, lowest)                                                              \
    AVX2 static void name(lq_panel_group_decode_fn decode, const uint8_t *groups,            \
                          int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,     \
                          const lq_act_chunk *a, bool has_offset, float *y) {                \
        group_gemv(decode, groups, group_bytes, ngroups, rows, ncols, a, has_offset, y,      \
                   lowest);                                                                  \
    }
GROUP_GEMV(group_gemv_wide, LQ_LEVELS_WIDE)
GROUP_GEMV(group_gemv_from_0, 0)
GROUP_GEMV(group_gemv_from_minus_4, -4)
GROUP_GEMV(group_gemv_from_minus_8, -8)
GROUP_GEMV(group_gemv_from_minus_12, -12)
GROUP_GEMV(group_gemv_from_minus_16, -16)

lq_group_gemv_fn lq_group_gemv_avx2_for(int type) {
    static const lq_group_gemv_fn by_lowest[5] = {group_gemv_from_0, group_gemv_from_minus_4,
                                                  group_gemv_from_minus_8, group_gemv_from_minus_12,
                                                  group_gemv_from_minus_16};
    const int lowest = lq_avx2_levels_lowest(type);
    return lowest == LQ_LEVELS_WIDE ? group_gemv_wide : by_lowest[-lowest / 4];
}

/* ---- activations --------------------------------------------------------- */

/* 32 floats -> 32 int8 (natural order); returns d */
AVX2 static float quantize_block(const float *x, int8_t *q) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    if (!(d > 0.0f)) {
        memset(q, 0, 32);
        return 0.0f;
    }
    const __m256 dv = _mm256_set1_ps(d), hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
    __m256i i[4];
    for (int k = 0; k < 4; k++)
        /* clamp before converting: x / d may pass 127 by an ulp */
        i[k] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_div_ps(v[k], dv), lo), hi));
    /* the packs work per 128-bit lane: dwords end up in order 0 2 4 6 1 3 5 7 */
    const __m256i words = _mm256_packs_epi32(i[0], i[1]), words2 = _mm256_packs_epi32(i[2], i[3]);
    const __m256i bytes = _mm256_packs_epi16(words, words2);
    _mm256_storeu_si256((__m256i *)(void *)q,
                        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    return d;
}

AVX2 void lq_act_chunks_quantize_avx2(const float *x, int64_t ncols, lq_act_chunk *out) {
    for (int64_t c = 0; c < lq_panel_chunks(ncols); c++, x += LQ_PANEL_K) {
        const int64_t left = ncols - c * LQ_PANEL_K;
        const int blocks = left < LQ_PANEL_K ? (int)(left / 32) : LQ_ACT_BLOCKS;
        _Alignas(32) int8_t q[LQ_PANEL_K] = {0};
        float d[LQ_ACT_BLOCKS] = {0};
        for (int k = 0; k < blocks; k++)
            d[k] = quantize_block(x + 32 * k, q + 32 * k);
        lq_act_chunk *o = &out[c];
        for (int g = 0; g < LQ_PANEL_GROUPS; g++) {
            int s = 0;
            for (int i = 0; i < 16; i++)
                s += q[16 * g + i];
            o->d[g] = d[g / 2];
            o->dsum[g] = d[g / 2] * (float)s;
        }
        lq_panel_lane_order(q);
        memcpy(o->biased, q, sizeof q);
    }
}

#endif
