/*
 * AVX-512 (F, BW, VL, VNNI) micro-kernel of the packed layout (panel.h),
 * its activation chunks, and decoders that write lane order directly.
 *
 * The tile kernel keeps, per (row, vector), one int32 lane per 16-group:
 * vpdpbusd adds 4 products a lane per 64-byte step, so after the four steps
 * of a chunk each lane holds its group's exact integer sum; then one
 * convert and one FMA with scale_w * d_a per (row, vector, chunk). The
 * bias of the unsigned activations (a + 128) is removed with the weights'
 * own group sums, computed once per row and chunk for all the vectors.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "panel_avx512.h"
#include "panel_avx512_iqk.h"


AVX512 INLINE void tile_body(const lq_panel_chunk *w, int64_t w_stride,
                             const lq_act_chunk *a, int64_t a_stride, int64_t nchunks,
                             bool has_offset, float *y, int64_t y_stride, const int nr,
                             const int nv) {
    __m512 sum[LQ_TILE_ROWS][LQ_TILE_VECS];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++)
            sum[r][v] = _mm512_setzero_ps();
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    for (int64_t c = 0; c < nchunks; c++) {
        __m512i isum[LQ_TILE_ROWS][LQ_TILE_VECS], wsum[LQ_TILE_ROWS];
        for (int r = 0; r < nr; r++) {
            wsum[r] = _mm512_setzero_si512();
            for (int v = 0; v < nv; v++)
                isum[r][v] = _mm512_setzero_si512();
        }
        for (int s = 0; s < 4; s++) {
            __m512i act[LQ_TILE_VECS];
            for (int v = 0; v < nv; v++)
                act[v] = _mm512_load_si512((const void *)(a[v * a_stride + c].biased + 64 * s));
            for (int r = 0; r < nr; r++) {
                const __m512i lv = _mm512_load_si512((const void *)(w[r * w_stride + c].level + 64 * s));
                wsum[r] = _mm512_dpbusd_epi32(wsum[r], bias, lv);
                for (int v = 0; v < nv; v++)
                    isum[r][v] = _mm512_dpbusd_epi32(isum[r][v], act[v], lv);
            }
        }
        for (int r = 0; r < nr; r++) {
            const lq_panel_chunk *wc = &w[r * w_stride + c];
            const __m512 scale = _mm512_load_ps(wc->scale);
            for (int v = 0; v < nv; v++) {
                const lq_act_chunk *ac = &a[v * a_stride + c];
                const __m512 exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(isum[r][v], wsum[r]));
                sum[r][v] = _mm512_fmadd_ps(exact, _mm512_mul_ps(scale, _mm512_load_ps(ac->d)),
                                            sum[r][v]);
                if (has_offset)
                    sum[r][v] = _mm512_fmadd_ps(_mm512_load_ps(wc->offset),
                                                _mm512_load_ps(ac->dsum), sum[r][v]);
            }
        }
    }
    for (int v = 0; v < nv; v++)
        for (int r = 0; r < nr; r++)
            y[v * y_stride + r] = _mm512_reduce_add_ps(sum[r][v]);
}

#define TILE(R, V)                                                                        \
    AVX512 static void tile_##R##x##V(const lq_panel_chunk *w, int64_t ws,                \
                                      const lq_act_chunk *a, int64_t as, int64_t nc,     \
                                      bool off, float *y, int64_t ys) {                  \
        tile_body(w, ws, a, as, nc, off, y, ys, R, V);                                   \
    }
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4)
TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4)
TILE(3, 1) TILE(3, 2) TILE(3, 3) TILE(3, 4)
TILE(4, 1) TILE(4, 2) TILE(4, 3) TILE(4, 4)

typedef void (*tile_fixed_fn)(const lq_panel_chunk *, int64_t, const lq_act_chunk *, int64_t,
                              int64_t, bool, float *, int64_t);
static const tile_fixed_fn tiles[LQ_TILE_ROWS][LQ_TILE_VECS] = {
    {tile_1x1, tile_1x2, tile_1x3, tile_1x4},
    {tile_2x1, tile_2x2, tile_2x3, tile_2x4},
    {tile_3x1, tile_3x2, tile_3x3, tile_3x4},
    {tile_4x1, tile_4x2, tile_4x3, tile_4x4},
};

void lq_tile_avx512(const lq_panel_chunk *w, int64_t w_stride, int nr, const lq_act_chunk *a,
                    int64_t a_stride, int nv, int64_t nchunks, bool has_offset, float *y,
                    int64_t y_stride) {
    tiles[nr - 1][nv - 1](w, w_stride, a, a_stride, nchunks, has_offset, y, y_stride);
}

/* ---- a block of rows against every vector ----------------------------- */

/* Without the weights' group sums in registers (computed once per block,
 * not once per tile) a 2 x 6 tile's int32 and float sums, the activations
 * and a row's levels fit in 32 registers (a 4 x 4 spills); each row chunk
 * loaded from L2 serves six vectors, whose activations stay in L1. */
enum { BLOCK_ROWS = 2, BLOCK_VECS = 6 };

/* Minus each row chunk's level sums per 16-group (what the activations'
 * bias of 128 adds), so the int32 sums start there and end exact. */
AVX512 static void negated_level_sums(const lq_panel_chunk *w, int64_t count, __m512i *out) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    for (int64_t i = 0; i < count; i++) {
        __m512i wsum = _mm512_setzero_si512();
        for (int s = 0; s < 4; s++)
            wsum = _mm512_dpbusd_epi32(wsum, bias,
                                       _mm512_load_si512((const void *)(w[i].level + 64 * s)));
        out[i] = _mm512_sub_epi32(_mm512_setzero_si512(), wsum);
    }
}

AVX512 INLINE void block_tile(const lq_panel_chunk *w, const __m512i *neg_sums, int64_t nchunks,
                              const lq_act_chunk *a, bool has_offset, float *y,
                              int64_t y_stride, const int nr, const int nv) {
    __m512 sum[BLOCK_ROWS][BLOCK_VECS];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++)
            sum[r][v] = _mm512_setzero_ps();
    for (int64_t c = 0; c < nchunks; c++) {
        __m512i isum[BLOCK_ROWS][BLOCK_VECS];
        for (int r = 0; r < nr; r++)
            for (int v = 0; v < nv; v++)
                isum[r][v] = neg_sums[r * nchunks + c];
        for (int s = 0; s < 4; s++) {
            __m512i act[BLOCK_VECS];
            for (int v = 0; v < nv; v++)
                act[v] = _mm512_load_si512((const void *)(a[v * nchunks + c].biased + 64 * s));
            for (int r = 0; r < nr; r++) {
                const __m512i lv =
                    _mm512_load_si512((const void *)(w[r * nchunks + c].level + 64 * s));
                for (int v = 0; v < nv; v++)
                    isum[r][v] = _mm512_dpbusd_epi32(isum[r][v], act[v], lv);
            }
        }
        for (int r = 0; r < nr; r++) {
            const lq_panel_chunk *wc = &w[r * nchunks + c];
            const __m512 scale = _mm512_load_ps(wc->scale);
            for (int v = 0; v < nv; v++) {
                const lq_act_chunk *ac = &a[v * nchunks + c];
                sum[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][v]),
                                            _mm512_mul_ps(scale, _mm512_load_ps(ac->d)),
                                            sum[r][v]);
                if (has_offset)
                    sum[r][v] = _mm512_fmadd_ps(_mm512_load_ps(wc->offset),
                                                _mm512_load_ps(ac->dsum), sum[r][v]);
            }
        }
    }
    for (int v = 0; v < nv; v++)
        for (int r = 0; r < nr; r++)
            y[v * y_stride + r] = _mm512_reduce_add_ps(sum[r][v]);
}

#define BLOCK_TILE(R, V)                                                                   \
    AVX512 static void block_tile_##R##x##V(const lq_panel_chunk *w, const __m512i *sums,  \
                                            int64_t nc, const lq_act_chunk *a, bool off,   \
                                            float *y, int64_t ys) {                        \
        block_tile(w, sums, nc, a, off, y, ys, R, V);                                      \
    }
BLOCK_TILE(1, 1) BLOCK_TILE(1, 2) BLOCK_TILE(1, 3) BLOCK_TILE(1, 4) BLOCK_TILE(1, 5) BLOCK_TILE(1, 6)
BLOCK_TILE(2, 1) BLOCK_TILE(2, 2) BLOCK_TILE(2, 3) BLOCK_TILE(2, 4) BLOCK_TILE(2, 5) BLOCK_TILE(2, 6)

typedef void (*block_tile_fn)(const lq_panel_chunk *, const __m512i *, int64_t,
                              const lq_act_chunk *, bool, float *, int64_t);
static const block_tile_fn block_tiles[BLOCK_ROWS][BLOCK_VECS] = {
    {block_tile_1x1, block_tile_1x2, block_tile_1x3, block_tile_1x4, block_tile_1x5, block_tile_1x6},
    {block_tile_2x1, block_tile_2x2, block_tile_2x3, block_tile_2x4, block_tile_2x5, block_tile_2x6},
};

/* Vectors outer, rows inner: a tile's activations stay in L1 while the
 * block's rows (sized for L2 by the driver) pass under them. */
AVX512 void lq_tile_block_avx512(const lq_panel_chunk *w, int64_t rows, int64_t nchunks,
                                 const lq_act_chunk *a, int64_t n, bool has_offset, float *y,
                                 int64_t y_stride, void *scratch) {
    __m512i *neg_sums = scratch;
    negated_level_sums(w, rows * nchunks, neg_sums);
    for (int64_t v0 = 0; v0 < n; v0 += BLOCK_VECS) {
        const int nv = n - v0 < BLOCK_VECS ? (int)(n - v0) : BLOCK_VECS;
        for (int64_t r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
            const int nr = rows - r0 < BLOCK_ROWS ? (int)(rows - r0) : BLOCK_ROWS;
            block_tiles[nr - 1][nv - 1](w + r0 * nchunks, neg_sums + r0 * nchunks, nchunks,
                                        a + v0 * nchunks, has_offset, y + v0 * y_stride + r0,
                                        y_stride);
        }
    }
}

enum { MAX_GROUP_ROWS = 16 };

AVX512 void lq_group_gemv_avx512(lq_panel_group_decode_fn decode, const uint8_t *groups,
                                 int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,
                                 const lq_act_chunk *a, bool has_offset, float *y) {
    const int64_t nchunks = lq_panel_chunks(ncols);
    lq_panel_chunk chunk[MAX_GROUP_ROWS];
    for (int64_t g = 0; g < ngroups; g++) {
        __m512 sum[MAX_GROUP_ROWS];
        for (int k = 0; k < rows; k++)
            sum[k] = _mm512_setzero_ps();
        for (int64_t c = 0; c < nchunks; c++) {
            decode(groups + g * group_bytes, ncols, c, chunk, 1);
            for (int k = 0; k < rows; k++)
                sum[k] = lq_chunk_dot(&chunk[k], &a[c], has_offset, sum[k]);
        }
        for (int k = 0; k < rows; k++)
            y[g * rows + k] = _mm512_reduce_add_ps(sum[k]);
    }
}

/* ---- activations --------------------------------------------------------- */

/* 32 floats -> 32 int8 (natural order); returns d */
AVX512 static float quantize_block(const float *x, int8_t *q) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float d = amax / 127.0f;
    if (!(d > 0.0f)) {
        memset(q, 0, 32);
        return 0.0f;
    }
    const __m512 dv = _mm512_set1_ps(d), lim = _mm512_set1_ps(127.0f);
    /* clamp before converting: x / d may pass 127 by an ulp */
    __m512 y0 = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x0, dv), -lim), lim);
    __m512 y1 = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x1, dv), -lim), lim);
    _mm_storeu_si128((__m128i *)(void *)q, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(y0)));
    _mm_storeu_si128((__m128i *)(void *)(q + 16), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(y1)));
    return d;
}

AVX512 void lq_act_chunks_quantize_avx512(const float *x, int64_t ncols, lq_act_chunk *out) {
    for (int64_t c = 0; c < lq_panel_chunks(ncols); c++, x += LQ_PANEL_K) {
        const int64_t left = ncols - c * LQ_PANEL_K;
        const int blocks = left < LQ_PANEL_K ? (int)(left / 32) : LQ_ACT_BLOCKS;
        int8_t q[LQ_PANEL_K] = {0};
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
        const __m512i flip = _mm512_set1_epi8((char)0x80);
        for (int s = 0; s < 4; s++)
            _mm512_store_si512((void *)(o->biased + 64 * s),
                               _mm512_xor_si512(_mm512_loadu_si512((const void *)(q + 64 * s)), flip));
    }
}

/* ---- decoders -------------------------------------------------------------
 * Each writes lane order: step s, lane L = dword s of group L. Only full
 * chunks come here (the driver decodes a short last chunk with the scalar
 * decoder). */


AVX512 INLINE __m512i iq4nl_table(void) {
    return _mm512_broadcast_i32x4(_mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13,
                                                25, 38, 53, 69, 89, 113));
}

AVX512 INLINE void decode_q4_0(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 18;
    nibble_blocks(b, 18, 2, NULL, 8, out);
    store_scales(out, block_scales(b, 18));
    (void)count;
}

AVX512 INLINE void decode_iq4_nl(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 18;
    const __m512i table = iq4nl_table();
    nibble_blocks(b, 18, 2, &table, 0, out);
    store_scales(out, block_scales(b, 18));
    (void)count;
}

/* q8_0: two blocks' 32 quants per register; step s needs dword s and
 * s + 4 of each block: two permutes give steps s, s + 1 of lanes 0-7 and
 * 8-15, two 128-bit shuffles put them together */
AVX512 INLINE void decode_q8_0(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 34;
    __m512i src[4];
    for (int p = 0; p < 4; p++) {
        const uint8_t *q = b + 2 * p * 34 + 2;
        src[p] = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)q)),
            _mm256_loadu_si256((const __m256i *)(const void *)(q + 34)), 1);
    }
    for (int s = 0; s < 4; s += 2) {
        /* lanes 0-7: step s of groups 0-7 (blocks 0-3), lanes 8-15: step s+1 */
        int idx[16];
        for (int lane = 0; lane < 16; lane++) {
            int g = lane % 8, step = s + lane / 8;
            idx[lane] = 8 * (g / 2) + 4 * (g & 1) + step;
        }
        const __m512i ix = _mm512_loadu_si512((const void *)idx);
        const __m512i lo = _mm512_permutex2var_epi32(src[0], ix, src[1]);
        const __m512i hi = _mm512_permutex2var_epi32(src[2], ix, src[3]);
        _mm512_store_si512((void *)(out->level + 64 * s), _mm512_shuffle_i64x2(lo, hi, 0x44));
        _mm512_store_si512((void *)(out->level + 64 * (s + 1)), _mm512_shuffle_i64x2(lo, hi, 0xEE));
    }
    store_scales(out, block_scales(b, 34));
    (void)count;
}

/* q4_K / q5_K: eight 6-bit scales and mins in 12 bytes, unpacked four at a
 * time in 32-bit words, then spread to the two 16-groups of each 32 */
AVX512 INLINE void k4_scales(const uint8_t *in, float d, float dmin, lq_panel_chunk *out) {
    uint32_t u0, u1, u2;
    memcpy(&u0, in, 4);
    memcpy(&u1, in + 4, 4);
    memcpy(&u2, in + 8, 4);
    const uint32_t sc_lo = u0 & 0x3f3f3f3fu, mn_lo = u1 & 0x3f3f3f3fu;
    const uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4;
    const uint32_t mn_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4;
    const __m512 both = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
        _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)mn_lo, (int)mn_hi)));
    const __m512i spread = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    _mm512_store_ps(out->scale, _mm512_mul_ps(_mm512_set1_ps(d), _mm512_permutexvar_ps(spread, both)));
    _mm512_store_ps(out->offset,
                    _mm512_mul_ps(_mm512_set1_ps(-dmin),
                                  _mm512_permutexvar_ps(_mm512_add_epi32(spread, _mm512_set1_epi32(8)), both)));
}

/* q4_K: quarter t of 64 weights is 32 bytes, low nibbles weights 0-31,
 * high 32-63: group g = 4t + u takes bytes 16 (u & 1) .. of quarter t,
 * shifted by 4 (u >> 1) */
AVX512 INLINE void decode_q4_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 144;
    const __m512i src0 = _mm512_loadu_si512((const void *)(w + 16));
    const __m512i src1 = _mm512_loadu_si512((const void *)(w + 80));
    const __m512i shift = _mm512_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4);
    const __m512i low4 = _mm512_set1_epi8(15);
    for (int s = 0; s < 4; s++) {
        int idx[16];
        for (int g = 0; g < 16; g++)
            idx[g] = 8 * (g / 4) + 4 * (g & 1) + s;
        __m512i v = _mm512_permutex2var_epi32(src0, _mm512_loadu_si512((const void *)idx), src1);
        v = _mm512_and_si512(_mm512_srlv_epi32(v, shift), low4);
        _mm512_store_si512((void *)(out->level + 64 * s), v);
    }
    k4_scales(w + 4, half_at(w), half_at(w + 2), out);
    (void)count;
}

/* q5_K: q4_K's nibbles plus a fifth bit: weight j's is bit j / 32 of qh
 * byte j % 32, so group g's dword s is qh dword 4 (g & 1) + s shifted by
 * g / 2 */
AVX512 INLINE void decode_q5_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 176;
    const __m512i src0 = _mm512_loadu_si512((const void *)(w + 48));
    const __m512i src1 = _mm512_loadu_si512((const void *)(w + 112));
    const __m512i qh = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(w + 16)));
    const __m512i shift = _mm512_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4);
    const __m512i hshift = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i low4 = _mm512_set1_epi8(15), one = _mm512_set1_epi8(1);
    for (int s = 0; s < 4; s++) {
        int idx[16], hidx[16];
        for (int g = 0; g < 16; g++) {
            idx[g] = 8 * (g / 4) + 4 * (g & 1) + s;
            hidx[g] = 4 * (g & 1) + s;
        }
        __m512i v = _mm512_permutex2var_epi32(src0, _mm512_loadu_si512((const void *)idx), src1);
        v = _mm512_and_si512(_mm512_srlv_epi32(v, shift), low4);
        __m512i h = _mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)hidx), qh);
        h = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(h, hshift), one), 4);
        _mm512_store_si512((void *)(out->level + 64 * s), _mm512_or_si512(v, h));
    }
    k4_scales(w + 4, half_at(w), half_at(w + 2), out);
    (void)count;
}

/* q6_K: half h (128 weights), quarter t (32), sub u (16): group g = 8h +
 * 2t + u; low 4 bits from ql byte 64h + 32(t & 1) + 16u + l shifted by
 * 4 (t >> 1); high 2 bits from qh byte 32h + 16u + l shifted by 2t */
AVX512 INLINE void decode_q6_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 210;
    const __m512i ql0 = _mm512_loadu_si512((const void *)w);
    const __m512i ql1 = _mm512_loadu_si512((const void *)(w + 64));
    const __m512i qh = _mm512_loadu_si512((const void *)(w + 128));
    int lo_shift[16], hi_shift[16];
    for (int g = 0; g < 16; g++) {
        const int t = (g % 8) / 2;
        lo_shift[g] = 4 * (t >> 1);
        hi_shift[g] = 2 * t;
    }
    const __m512i lsh = _mm512_loadu_si512((const void *)lo_shift);
    const __m512i hsh = _mm512_loadu_si512((const void *)hi_shift);
    const __m512i low4 = _mm512_set1_epi8(15), two = _mm512_set1_epi8(3), b32 = _mm512_set1_epi8(32);
    for (int s = 0; s < 4; s++) {
        int li[16], hi[16];
        for (int g = 0; g < 16; g++) {
            const int h = g / 8, t = (g % 8) / 2, u = g & 1;
            li[g] = 16 * h + 8 * (t & 1) + 4 * u + s;
            hi[g] = 8 * h + 4 * u + s;
        }
        __m512i lo = _mm512_permutex2var_epi32(ql0, _mm512_loadu_si512((const void *)li), ql1);
        lo = _mm512_and_si512(_mm512_srlv_epi32(lo, lsh), low4);
        __m512i up = _mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)hi), qh);
        up = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(up, hsh), two), 4);
        _mm512_store_si512((void *)(out->level + 64 * s), _mm512_sub_epi8(_mm512_or_si512(lo, up), b32));
    }
    const __m512 d = _mm512_set1_ps(half_at(w + 208));
    const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(w + 192)));
    store_scales(out, _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc)));
    (void)count;
}

AVX512 INLINE void decode_iq4_xs(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 136;
    const __m512i table = iq4nl_table();
    nibble_blocks(w + 8, 16, 0, &table, 0, out);
    const unsigned scales_h = lq_load_u16(w + 2);
    const __m256i ls = _mm256_setr_epi32(
        (w[4] & 15) | (scales_h & 3) << 4, (w[4] >> 4) | (scales_h >> 2 & 3) << 4,
        (w[5] & 15) | (scales_h >> 4 & 3) << 4, (w[5] >> 4) | (scales_h >> 6 & 3) << 4,
        (w[6] & 15) | (scales_h >> 8 & 3) << 4, (w[6] >> 4) | (scales_h >> 10 & 3) << 4,
        (w[7] & 15) | (scales_h >> 12 & 3) << 4, (w[7] >> 4) | (scales_h >> 14 & 3) << 4);
    const __m512 sc = _mm512_cvtepi32_ps(_mm512_sub_epi32(spread_pairs(ls), _mm512_set1_epi32(32)));
    store_scales(out, _mm512_mul_ps(_mm512_set1_ps(half_at(w)), sc));
    (void)count;
}

/* q4_1: levels 0..15 with a per-block offset m (d, m, qs) */
AVX512 INLINE void decode_q4_1(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 20;
    nibble_blocks(b, 20, 4, NULL, 0, out);
    _mm512_store_ps(out->scale, block_scales(b, 20));
    _mm512_store_ps(out->offset, block_scales(b + 2, 20));
    (void)count;
}

/* mxfp4: doubled value table; scale 2^(e - 128) from the E8M0 byte e: the
 * bits e << 23 are 2^(e - 127) (halved exactly, down to the subnormal
 * 2^-127), except e = 0 (2^-128) and e = 255 (2^127) */
AVX512 INLINE void decode_mxfp4(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 17;
    const __m512i table = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12));
    nibble_blocks(b, 17, 1, &table, 0, out);
    const __m256i e8 = _mm256_setr_epi32(b[0], b[17], b[34], b[51], b[68], b[85], b[102], b[119]);
    const __m512i e = spread_pairs(e8);
    __m512 scale = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(e, 23)), _mm512_set1_ps(0.5f));
    scale = _mm512_mask_mov_ps(scale, _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()),
                               _mm512_set1_ps(0x1p-128f));
    scale = _mm512_mask_mov_ps(scale, _mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(255)),
                               _mm512_set1_ps(0x1p127f));
    store_scales(out, scale);
    (void)count;
}

/* q5_0 / q5_1: the fifth bit of weight j is bit j of the block's 32-bit qh;
 * lane L of step s holds weights 16 (L & 1) + 4 s + j of block L / 2, so
 * its 4 bits are qh >> (16 (L & 1) + 4 s), spread to bytes by a test */
AVX512 INLINE void add_fifth_bits(__m512i bits, lq_panel_chunk *out) {
    const __m512i half = _mm512_setr_epi32(0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16);
    const __m512i low_byte = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    const __m512i which = _mm512_set1_epi32(0x08040201);
    for (int s = 0; s < 4; s++) {
        const __m512i t = _mm512_srlv_epi32(bits, _mm512_add_epi32(half, _mm512_set1_epi32(4 * s)));
        const __m512i spread = _mm512_and_si512(_mm512_shuffle_epi8(t, low_byte), which);
        const __mmask64 set = _mm512_test_epi8_mask(spread, spread);
        __m512i v = _mm512_load_si512((const void *)(out->level + 64 * s));
        v = _mm512_mask_add_epi8(v, set, v, _mm512_set1_epi8(16));
        _mm512_store_si512((void *)(out->level + 64 * s), v);
    }
}

AVX512 INLINE void fifth_bits(const uint8_t *first_qh, int stride, lq_panel_chunk *out) {
    uint32_t qh[8];
    for (int k = 0; k < 8; k++)
        memcpy(&qh[k], first_qh + k * stride, 4);
    add_fifth_bits(spread_pairs(_mm256_setr_epi32((int)qh[0], (int)qh[1], (int)qh[2], (int)qh[3],
                                                  (int)qh[4], (int)qh[5], (int)qh[6], (int)qh[7])),
                   out);
}

AVX512 INLINE void subtract_levels(lq_panel_chunk *out, int bias) {
    for (int s = 0; s < 4; s++) {
        __m512i v = _mm512_load_si512((const void *)(out->level + 64 * s));
        _mm512_store_si512((void *)(out->level + 64 * s), _mm512_sub_epi8(v, _mm512_set1_epi8((char)bias)));
    }
}

AVX512 INLINE void decode_q5_0(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 22;
    nibble_blocks(b, 22, 6, NULL, 0, out);
    fifth_bits(b + 2, 22, out);
    subtract_levels(out, 16);
    store_scales(out, block_scales(b, 22));
    (void)count;
}

/* q5_1: the first 8 bytes of a block (d, m, qh) come in with vector loads,
 * one block per 128-bit lane, and one permute gathers them: built from
 * scalar loads, gcc merged the qh words on the stack and the vector load
 * waited on store forwarding (a third of q5_0's speed). */
AVX512 INLINE void decode_q5_1(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 24;
    nibble_blocks(b, 24, 8, NULL, 0, out);
    __m512i head[2];
    for (int h = 0; h < 2; h++) {
        const uint8_t *p = b + 4 * h * 24;
        __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)p));
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(const void *)(p + 24)), 1);
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)), 2);
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(const void *)(p + 72)), 3);
        head[h] = z;
    }
    /* dwords 0-7: d | m << 16 of blocks 0-7; 8-15: their qh */
    const __m512i dm_qh = _mm512_permutex2var_epi32(
        head[0], _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29), head[1]);
    add_fifth_bits(_mm512_permutexvar_epi32(
                       _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15), dm_qh),
                   out);
    const __m512 dm = _mm512_cvtph_ps(_mm512_castsi512_si256(dm_qh));
    _mm512_store_ps(out->scale, _mm512_permutexvar_ps(
                                    _mm512_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14), dm));
    _mm512_store_ps(out->offset, _mm512_permutexvar_ps(
                                     _mm512_setr_epi32(1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11, 13, 13, 15, 15), dm));
    (void)count;
}

AVX512 INLINE void decode_q2_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 84;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 16));
    for (int s = 0; s < 4; s++)
        _mm512_store_si512((void *)(out->level + 64 * s), two_bit_step(qs, s));
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)w));
    const __m512 scale = _mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(15)));
    const __m512 min = _mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4));
    _mm512_store_ps(out->scale, _mm512_mul_ps(_mm512_set1_ps(half_at(w + 80)), scale));
    _mm512_store_ps(out->offset, _mm512_mul_ps(_mm512_set1_ps(-half_at(w + 82)), min));
    (void)count;
}

/* q3_K: 2-bit quants minus 4 where the high-mask bit is clear: weight j's
 * bit is bit j / 32 of hmask byte j % 32, so group g's dword s is hmask
 * dword 4 (g & 1) + s shifted by g / 2; sixteen 6-bit scales minus 32 */
AVX512 INLINE void decode_q3_K(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *w = row + chunk * 110;
    const __m512i qs = _mm512_loadu_si512((const void *)(w + 32));
    const __m512i hm = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)w));
    const __m512i hshift = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    for (int s = 0; s < 4; s++) {
        int hidx[16];
        for (int g = 0; g < 16; g++)
            hidx[g] = 4 * (g & 1) + s;
        __m512i h = _mm512_permutexvar_epi32(_mm512_loadu_si512((const void *)hidx), hm);
        h = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(h, hshift), _mm512_set1_epi8(1)), 2);
        const __m512i v = _mm512_sub_epi8(_mm512_add_epi8(two_bit_step(qs, s), h), _mm512_set1_epi8(4));
        _mm512_store_si512((void *)(out->level + 64 * s), v);
    }
    uint32_t u0, u1, u2;
    memcpy(&u0, w + 96, 4);
    memcpy(&u1, w + 100, 4);
    memcpy(&u2, w + 104, 4);
    const uint32_t lo = 0x0f0f0f0fu, two = 0x03030303u;
    const __m128i packed = _mm_setr_epi32((int)((u0 & lo) | (u2 & two) << 4),
                                          (int)((u1 & lo) | ((u2 >> 2) & two) << 4),
                                          (int)(((u0 >> 4) & lo) | ((u2 >> 4) & two) << 4),
                                          (int)(((u1 >> 4) & lo) | ((u2 >> 6) & two) << 4));
    const __m512i sc = _mm512_sub_epi32(_mm512_cvtepu8_epi32(packed), _mm512_set1_epi32(32));
    store_scales(out, _mm512_mul_ps(_mm512_set1_ps(half_at(w + 108)), _mm512_cvtepi32_ps(sc)));
    (void)count;
}

/* q6_0: d, qh[8], qs[16]; bits 4-5 of weight j < 16 are bits 4 (j / 8) +
 * {0, 1} of qh[j % 8], those of weight j + 16 the two bits above. Lane L
 * of step s (weights 16 (L & 1) + 4 s + i of block L / 2) takes qh dword
 * s & 1 of its block, shifted by 4 (s >> 1) + 2 (L & 1) */
AVX512 INLINE void decode_q6_0(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *b = row + chunk * 8 * 26;
    nibble_blocks(b, 26, 10, NULL, 0, out);
    uint32_t lo[8], hi[8];
    for (int k = 0; k < 8; k++) {
        memcpy(&lo[k], b + 26 * k + 2, 4);
        memcpy(&hi[k], b + 26 * k + 6, 4);
    }
    const __m512i qh[2] = {
        spread_pairs(_mm256_loadu_si256((const __m256i *)(const void *)lo)),
        spread_pairs(_mm256_loadu_si256((const __m256i *)(const void *)hi)),
    };
    const __m512i parity = _mm512_setr_epi32(0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2);
    for (int s = 0; s < 4; s++) {
        const __m512i shift = _mm512_add_epi32(parity, _mm512_set1_epi32(4 * (s >> 1)));
        __m512i h = _mm512_and_si512(_mm512_srlv_epi32(qh[s & 1], shift), _mm512_set1_epi8(3));
        __m512i v = _mm512_load_si512((const void *)(out->level + 64 * s));
        v = _mm512_sub_epi8(_mm512_or_si512(v, _mm512_slli_epi32(h, 4)), _mm512_set1_epi8(32));
        _mm512_store_si512((void *)(out->level + 64 * s), v);
    }
    store_scales(out, block_scales(b, 26));
    (void)count;
}

/* ---- interleaved groups ----------------------------------------------------
 * q4_0_r8 and q8_0_r8 store, per block column of 8 rows, the 8 scales, then
 * 4-byte pieces of the rows' quants side by side (row k's piece at 4k): a
 * 64-byte step of one row gathers one piece from each of 8 columns, which
 * is an 8 x 8 transpose of dwords. */

/* in[b] = dwords k = 0..7 of column b; returns row k = dwords b = 0..7 */
AVX512 INLINE void transpose8x8(const __m256i in[8], __m256i out[8]) {
    __m512i z[4], p[4], q[4];
    for (int i = 0; i < 4; i++)
        z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(in[2 * i]), in[2 * i + 1], 1);
    /* p: columns 0-3 (from z0, z1) for rows 0-3 (p0) and 4-7 (p1); q: 4-7 */
    int lo[16], hi[16];
    for (int i = 0; i < 16; i++) {
        const int k = i / 4, b = i % 4; /* lane i: row k, column b */
        lo[i] = 8 * b + k;
        hi[i] = 8 * b + k + 4;
    }
    const __m512i ilo = _mm512_loadu_si512((const void *)lo), ihi = _mm512_loadu_si512((const void *)hi);
    p[0] = _mm512_permutex2var_epi32(z[0], ilo, z[1]);
    p[1] = _mm512_permutex2var_epi32(z[0], ihi, z[1]);
    q[0] = _mm512_permutex2var_epi32(z[2], ilo, z[3]);
    q[1] = _mm512_permutex2var_epi32(z[2], ihi, z[3]);
    /* rows k, k+1: [p row k | q row k | p row k+1 | q row k+1] */
    int ij[2][16];
    for (int pair = 0; pair < 2; pair++)
        for (int i = 0; i < 16; i++) {
            const int k = 2 * pair + i / 8, b = i % 8;
            ij[pair][i] = b < 4 ? 4 * k + b : 16 + 4 * k + (b - 4);
        }
    const __m512i j0 = _mm512_loadu_si512((const void *)ij[0]), j1 = _mm512_loadu_si512((const void *)ij[1]);
    for (int h = 0; h < 2; h++) {
        const __m512i r01 = _mm512_permutex2var_epi32(p[h], j0, q[h]);
        const __m512i r23 = _mm512_permutex2var_epi32(p[h], j1, q[h]);
        out[4 * h + 0] = _mm512_castsi512_si256(r01);
        out[4 * h + 1] = _mm512_extracti64x4_epi64(r01, 1);
        out[4 * h + 2] = _mm512_castsi512_si256(r23);
        out[4 * h + 3] = _mm512_extracti64x4_epi64(r23, 1);
    }
}

/* the next chunk of a group is read in a strided order: fetch it early */
INLINE void prefetch_next(const uint8_t *next, int bytes) {
    for (int off = 0; off < bytes; off += 64)
        _mm_prefetch((const char *)(next + off), _MM_HINT_T0);
}

/* the f16 scales of 8 rows x 8 columns (column b at first + b * stride) */
AVX512 INLINE void group_scales(const uint8_t *first, int stride, lq_panel_chunk *out,
                                int64_t out_stride) {
    __m256i cols[8], rows[8];
    for (int b = 0; b < 8; b++)
        cols[b] = _mm256_castps_si256(
            _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(first + b * stride))));
    transpose8x8(cols, rows);
    for (int k = 0; k < 8; k++)
        store_scales(&out[k * out_stride], _mm512_castsi512_ps(spread_pairs(rows[k])));
}

enum { Q4_0_R8_COLUMN = 8 * 18, Q8_0_R8_COLUMN = 8 * 34 };

AVX512 static void group_q4_0_r8(const uint8_t *group, int64_t ncols, int64_t chunk,
                                 lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *first = group + chunk * 8 * Q4_0_R8_COLUMN;
    if ((chunk + 1) * LQ_PANEL_K < ncols)
        prefetch_next(first + 8 * Q4_0_R8_COLUMN, 8 * Q4_0_R8_COLUMN);
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    const __m512i low4 = _mm512_set1_epi8(15), eight = _mm512_set1_epi8(8);
    for (int s = 0; s < 4; s++) {
        __m256i cols[8], rows[8];
        for (int b = 0; b < 8; b++)
            cols[b] = _mm256_loadu_si256(
                (const __m256i *)(const void *)(first + b * Q4_0_R8_COLUMN + 16 + 32 * s));
        transpose8x8(cols, rows);
        for (int k = 0; k < 8; k++) {
            __m512i v = _mm512_and_si512(_mm512_srlv_epi32(spread_pairs(rows[k]), shift), low4);
            _mm512_store_si512((void *)(out[k * out_stride].level + 64 * s), _mm512_sub_epi8(v, eight));
        }
    }
    group_scales(first, Q4_0_R8_COLUMN, out, out_stride);
}

/* q8_0_r8: piece l + 4h of a row's 32 quants at 16 + 32 l + 128 h */
AVX512 static void group_q8_0_r8(const uint8_t *group, int64_t ncols, int64_t chunk,
                                 lq_panel_chunk *out, int64_t out_stride) {
    const uint8_t *first = group + chunk * 8 * Q8_0_R8_COLUMN;
    if ((chunk + 1) * LQ_PANEL_K < ncols)
        prefetch_next(first + 8 * Q8_0_R8_COLUMN, 8 * Q8_0_R8_COLUMN);
    int mix[16];
    for (int lane = 0; lane < 16; lane++)
        mix[lane] = lane / 2 + 16 * (lane & 1);
    const __m512i imix = _mm512_loadu_si512((const void *)mix);
    for (int s = 0; s < 4; s++) {
        __m256i half[2][8];
        for (int h = 0; h < 2; h++) {
            __m256i cols[8];
            for (int b = 0; b < 8; b++)
                cols[b] = _mm256_loadu_si256((const __m256i *)(const void *)(
                    first + b * Q8_0_R8_COLUMN + 16 + 32 * s + 128 * h));
            transpose8x8(cols, half[h]);
        }
        for (int k = 0; k < 8; k++)
            _mm512_store_si512((void *)(out[k * out_stride].level + 64 * s),
                               _mm512_permutex2var_epi32(_mm512_castsi256_si512(half[0][k]), imix,
                                                         _mm512_castsi256_si512(half[1][k])));
    }
    group_scales(first, Q8_0_R8_COLUMN, out, out_stride);
}

/* one-vector products that decode and multiply each chunk at once */
LQ_PANEL_GEMV(decode_q8_0)
LQ_PANEL_GEMV(decode_q4_0)
LQ_PANEL_GEMV(decode_iq4_nl)
LQ_PANEL_GEMV(decode_q4_K)
LQ_PANEL_GEMV(decode_q5_K)
LQ_PANEL_GEMV(decode_q6_K)
LQ_PANEL_GEMV(decode_q4_1)
LQ_PANEL_GEMV(decode_mxfp4)
LQ_PANEL_GEMV(decode_q5_0)
LQ_PANEL_GEMV(decode_q5_1)
LQ_PANEL_GEMV(decode_q6_0)

const lq_panel_simd_decoder lq_panel_decoders_avx512[] = {
    {LQ_TYPE_Q8_0, decode_q8_0, NULL, gemv_decode_q8_0},
    {LQ_TYPE_Q4_0, decode_q4_0, NULL, gemv_decode_q4_0},
    {LQ_TYPE_IQ4_NL, decode_iq4_nl, NULL, gemv_decode_iq4_nl},
    {LQ_TYPE_Q4_K, decode_q4_K, NULL, gemv_decode_q4_K},
    {LQ_TYPE_Q5_K, decode_q5_K, NULL, gemv_decode_q5_K},
    {LQ_TYPE_Q6_K, decode_q6_K, NULL, gemv_decode_q6_K},
    {LQ_TYPE_IQ4_XS, decode_iq4_xs, NULL, lq_gemv_iq4_xs_avx512},
    {LQ_TYPE_Q4_0_R8, NULL, group_q4_0_r8, NULL},
    {LQ_TYPE_Q8_0_R8, NULL, group_q8_0_r8, NULL},
    {LQ_TYPE_Q4_1, decode_q4_1, NULL, gemv_decode_q4_1},
    {LQ_TYPE_MXFP4, decode_mxfp4, NULL, gemv_decode_mxfp4},
    {LQ_TYPE_Q5_0, decode_q5_0, NULL, gemv_decode_q5_0},
    {LQ_TYPE_Q5_1, decode_q5_1, NULL, gemv_decode_q5_1},
    {LQ_TYPE_Q2_K, decode_q2_K, NULL, lq_gemv_q2_K_avx512},
    {LQ_TYPE_Q3_K, decode_q3_K, NULL, lq_gemv_q3_K_avx512},
    {LQ_TYPE_Q6_0, decode_q6_0, NULL, gemv_decode_q6_0},
};
const int lq_panel_decoders_avx512_count =
    (int)(sizeof lq_panel_decoders_avx512 / sizeof lq_panel_decoders_avx512[0]);

#else /* not x86 */
void lq_group_gemv_avx512(lq_panel_group_decode_fn decode, const uint8_t *groups,
                          int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,
                          const lq_act_chunk *a, bool has_offset, float *y) {
    (void)decode, (void)groups, (void)group_bytes, (void)ngroups, (void)rows, (void)ncols;
    (void)a, (void)has_offset, (void)y;
}

const lq_panel_simd_decoder lq_panel_decoders_avx512[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx512_count = 0;

#endif
