/*
 * The packed compute layout of the integer kernels (BLIS's "packing": one
 * micro-kernel serves every weight format that can be decoded into it).
 *
 * A weight row is cut into chunks of LQ_PANEL_K = 256 weights. A decoder
 * turns one chunk of one row into an lq_panel_chunk: 256 int8 levels and,
 * per group of 16 weights, a float scale and a float offset, so that
 *     weight[i] = scale[i / 16] * level[i] + offset[i / 16].
 * Every legacy, k-quant and non-linear type fits: its levels are its stored
 * values minus their bias (or its value table) and its scales and mins are
 * per 16 or per 32 weights. A short last chunk is padded with level 0.
 *
 * Levels are stored in "lane order": byte 64 s + 4 L + j holds weight
 * 16 L + 4 s + j (s = 0..3, L = 0..15, j = 0..3). Then a 64-byte step s
 * puts 4 weights of group L in 32-bit lane L, and vpdpbusd over the four
 * steps adds all 16 weights of a group into one lane: the integer sum of
 * a group is complete before any float work (one convert and one FMA per
 * 256 weights and vector, instead of per 64).
 *
 * An activation vector is cut the same way into lq_act_chunk: 256 bytes
 * a + 128 (a the int8 quantization, one scale per 32 values, |a| <= 127,
 * so the bytes are unsigned for vpdpbusd), the 8 scales, and per 16 values
 * scale * sum(a) for the weight offsets. Padding has a = 0 and scale 0.
 *
 * Chunk dot: sum over 16-groups g of
 *     scale_w[g] * d_a[g / 2] * sum(level * a) + offset_w[g] * dsum_a[g].
 * Summation order is the micro-kernel's own, fixed per SIMD level, and the
 * same for every (row, vector) pair whatever the tile it falls in, so
 * results do not depend on threads or on how vectors are split.
 */
#ifndef LIBQUANT_PANEL_H
#define LIBQUANT_PANEL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"

enum { LQ_PANEL_K = 256, LQ_PANEL_GROUPS = LQ_PANEL_K / 16, LQ_ACT_BLOCKS = LQ_PANEL_K / 32 };

/* Both chunk types are 64-byte aligned (the AVX-512 code uses aligned
 * loads and stores), on the stack too; heap arrays come from aligned_alloc. */
typedef struct lq_panel_chunk {
    _Alignas(64) int8_t level[LQ_PANEL_K];
    float scale[LQ_PANEL_GROUPS];
    float offset[LQ_PANEL_GROUPS];
} lq_panel_chunk; /* 384 bytes */

typedef struct lq_act_chunk {
    /* a + 128, in lane order; at the AVX2 level a itself (as int8), which
     * its sign trick wants (panel_avx2.h) */
    _Alignas(64) uint8_t biased[LQ_PANEL_K];
    float d[LQ_PANEL_GROUPS];    /* the scale of each 16-group's block of 32 */
    float dsum[LQ_PANEL_GROUPS]; /* d * sum(a) per 16-group */
} lq_act_chunk; /* 384 bytes */

/* Decode chunk `chunk` (weights [256 chunk, 256 chunk + count)) of one
 * stored row (row meta included). */
typedef void (*lq_panel_decode_fn)(const uint8_t *row, int64_t chunk, int count,
                                   lq_panel_chunk *out);

typedef struct lq_panel_decoder {
    int type;
    bool has_offset;          /* false: offsets are all zero, skip them */
    lq_panel_decode_fn decode;
} lq_panel_decoder;

/* Zero the levels, scales and offsets past `count` weights (a short last
 * chunk). */
void lq_panel_pad_chunk(int count, lq_panel_chunk *out);

/* Natural order -> lane order, in place (the scalar decoders write natural
 * order; the driver converts; SIMD decoders write lane order directly). */
void lq_panel_lane_order(int8_t *level);

/* The IQK family's scalar decoders (panel_decode_iqk.c), the trellis
 * types' (panel_decode_trellis.c), the lattice i-quants' and Bitnet's
 * (panel_decode_lattice.c). */
extern const lq_panel_decoder lq_panel_decoders_lattice[];
extern const int lq_panel_decoders_lattice_count;
extern const lq_panel_decoder lq_panel_decoders_iqk[];
extern const int lq_panel_decoders_iqk_count;
extern const lq_panel_decoder lq_panel_decoders_trellis[];
extern const int lq_panel_decoders_trellis_count;

/* The type whose rows a group of the interleaved `type` unpacks to (its
 * codec's unpack): the registry's base type, or q8_K for q8_k_r8 and
 * q8_k_r16 (formats of their own, without a base type, whose levels and
 * per-block scales are q8_K's); -1 if none. */
int lq_panel_unpacked_type(int type);
/* Groups [0, ngroups) of an interleaved type unpacked into rows of
 * lq_panel_unpacked_type(type) (the group decoders' reference in the
 * tests); LQ_OK or LQ_ERR_UNSUPPORTED. */
int lq_panel_unpack(int type, const void *src, int64_t ngroups, int64_t ncols, void *dst);

/* An interleaved type of a format of its own, with no base type to unpack
 * into (iq1_s_r4, iq1_m_r4; panel_decode_lattice.c): its scalar group
 * decoder, which takes any chunk (a short one padded) and writes lane
 * order; `decoder` gives the type and has_offset (decode is NULL). Its
 * SIMD group decoders (full chunks) are in the SIMD tables. */
typedef struct lq_panel_own_group {
    lq_panel_decoder decoder;
    void (*group)(const uint8_t *group, int64_t ncols, int64_t chunk, struct lq_panel_chunk *out,
                  int64_t out_stride);
} lq_panel_own_group;
const lq_panel_own_group *lq_panel_own_group_find(int type);

/* The scalar decoder of a type (panel_decode*.c), or NULL. */
const lq_panel_decoder *lq_panel_decoder_find(int type);
/* Its SIMD version (lane order) at `level` or below, or NULL. */
lq_panel_decode_fn lq_panel_decode_simd(int type, lq_simd_level level);

/* Chunks of a row of ncols values. */
static inline int64_t lq_panel_chunks(int64_t ncols) {
    return (ncols + LQ_PANEL_K - 1) / LQ_PANEL_K;
}

/* Quantize one activation vector (ncols floats, a multiple of 32) into
 * lq_panel_chunks(ncols) chunks. */
void lq_act_chunks_quantize(const float *x, int64_t ncols, lq_act_chunk *out,
                            lq_simd_level level);

/* Tiles of the micro-kernel: up to LQ_TILE_ROWS rows x LQ_TILE_VECS vectors. */
enum { LQ_TILE_ROWS = 4, LQ_TILE_VECS = 4 };

/* The micro-kernel: for rows r < nr (row r's chunks at w + r * w_stride) and
 * vectors v < nv (at a + v * a_stride), the dot products over chunks
 * [0, nchunks), reduced in a fixed order, into y[v * y_stride + r]. */
typedef void (*lq_tile_fn)(const lq_panel_chunk *w, int64_t w_stride, int nr,
                           const lq_act_chunk *a, int64_t a_stride, int nv,
                           int64_t nchunks, bool has_offset, float *y, int64_t y_stride);

/* Every vector (n of them, a + v * nchunks) against a block of decoded rows
 * (w + r * nchunks), into y[v * y_stride + r], with the tile's arithmetic;
 * `scratch` holds LQ_BLOCK_SCRATCH(rows, nchunks) bytes, 64-aligned. */
typedef void (*lq_tile_block_fn)(const lq_panel_chunk *w, int64_t rows, int64_t nchunks,
                                 const lq_act_chunk *a, int64_t n, bool has_offset, float *y,
                                 int64_t y_stride, void *scratch);
#define LQ_BLOCK_SCRATCH(rows, nchunks) ((size_t)((rows) * (nchunks)) * 64u)

typedef struct lq_tile_kernel {
    lq_tile_fn run;
    lq_tile_block_fn block; /* NULL: the driver runs the tiles itself */
} lq_tile_kernel;

lq_tile_kernel lq_tile_kernel_at(lq_simd_level level);
/* The lowest level of a narrow format (levels in [lowest, lowest + 31],
 * whose AVX2 tile skips the sign trick, panel_avx2.h), or LQ_LEVELS_WIDE. */
enum { LQ_LEVELS_WIDE = 1 };
int lq_avx2_levels_lowest(int type);
/* The tile for a packed type's levels (the AVX2 level has a faster tile
 * for narrow formats, panel_avx2.h). */
lq_tile_kernel lq_tile_kernel_for(lq_simd_level level, int type);
lq_tile_fn lq_tile_avx2_for(int type);

/* per-level implementations */
void lq_tile_scalar(const lq_panel_chunk *w, int64_t w_stride, int nr, const lq_act_chunk *a,
                    int64_t a_stride, int nv, int64_t nchunks, bool has_offset, float *y,
                    int64_t y_stride);
void lq_tile_block_avx512(const lq_panel_chunk *w, int64_t rows, int64_t nchunks,
                          const lq_act_chunk *a, int64_t n, bool has_offset, float *y,
                          int64_t y_stride, void *scratch);
void lq_tile_avx512(const lq_panel_chunk *w, int64_t w_stride, int nr, const lq_act_chunk *a,
                    int64_t a_stride, int nv, int64_t nchunks, bool has_offset, float *y,
                    int64_t y_stride);
void lq_act_chunks_quantize_avx512(const float *x, int64_t ncols, lq_act_chunk *out);
void lq_tile_avx2(const lq_panel_chunk *w, int64_t w_stride, int nr, const lq_act_chunk *a,
                  int64_t a_stride, int nv, int64_t nchunks, bool has_offset, float *y,
                  int64_t y_stride);
void lq_act_chunks_quantize_avx2(const float *x, int64_t ncols, lq_act_chunk *out);

/* Decode full chunk `chunk` of every row of one interleaved group straight
 * from its layout: row k's chunk to out[k * out_stride]. */
typedef void (*lq_panel_group_decode_fn)(const uint8_t *group, int64_t ncols, int64_t chunk,
                                         lq_panel_chunk *out, int64_t out_stride);

/* AVX-512 decoders (panel_avx512.c): a base type's (decode) or an
 * interleaved type's (group) */
/* One vector against rows [0, nrows) (row r at rows + r * row_bytes, all
 * chunks full), y[r] = the product, the same bits as the tile kernel's. */
typedef void (*lq_panel_gemv_fn)(const uint8_t *rows, int64_t row_bytes, int64_t nrows,
                                 int64_t nchunks, const lq_act_chunk *a, bool has_offset,
                                 float *y);

typedef struct lq_panel_simd_decoder {
    int type;
    lq_panel_decode_fn decode;
    lq_panel_group_decode_fn group;
    lq_panel_gemv_fn gemv; /* with decode: decode fused with the product */
} lq_panel_simd_decoder;
extern const lq_panel_simd_decoder lq_panel_decoders_avx512[];
extern const lq_panel_simd_decoder lq_panel_decoders_avx512_iqk[]; /* panel_avx512_iqk.c */
extern const int lq_panel_decoders_avx512_iqk_count;
extern const lq_panel_simd_decoder lq_panel_decoders_avx512_q8[]; /* panel_avx512_q8kv.c */
extern const int lq_panel_decoders_avx512_q8_count;
/* The fused GEMV of a base type at `level` or below, or NULL. */
lq_panel_gemv_fn lq_panel_gemv_simd(int type, lq_simd_level level);
/* All of them, for the tests: i in [0, lq_panel_simd_decoder_count()),
 * with the SIMD level each needs. */
int lq_panel_simd_decoder_count(void);
const lq_panel_simd_decoder *lq_panel_simd_decoder_at(int i, lq_simd_level *level);
extern const int lq_panel_decoders_avx512_count;
/* AVX-512 and AVX2 decoders of the trellis types (panel_avx512_trellis.c,
 * panel_avx2_trellis.c) */
extern const lq_panel_simd_decoder lq_panel_decoders_avx512_trellis[];
extern const int lq_panel_decoders_avx512_trellis_count;
extern const lq_panel_simd_decoder lq_panel_decoders_avx2_trellis[];
extern const int lq_panel_decoders_avx2_trellis_count;
/* AVX2 decoders of the 32-weight block types (panel_avx2_legacy.c: q4_0,
 * q4_1, q5_0, q5_1, q6_0, q8_0, iq4_nl, mxfp4) and of the k-quants and
 * iq4_xs (panel_avx2_kquants.c) */
extern const lq_panel_simd_decoder lq_panel_decoders_avx2_legacy[];
extern const int lq_panel_decoders_avx2_legacy_count;
extern const lq_panel_simd_decoder lq_panel_decoders_avx2_kquants[];
extern const int lq_panel_decoders_avx2_kquants_count;
/* AVX-512 group decoders of interleaved types (panel_avx512_groups.c) */
extern const lq_panel_simd_decoder lq_panel_decoders_avx512_groups[];
extern const int lq_panel_decoders_avx512_groups_count;
/* AVX2 group decoders of their interleaved types (panel_avx2_groups.c) */
extern const lq_panel_simd_decoder lq_panel_decoders_avx2_groups[];
extern const int lq_panel_decoders_avx2_groups_count;
/* AVX-512 decoders of the lattice i-quants, Bitnet and their interleaved
 * forms (panel_avx512_lattice.c); an interleaved entry's gemv runs over
 * whole groups (`rows` are groups, y[4 g + k]) */
extern const lq_panel_simd_decoder lq_panel_decoders_avx512_lattice[];
extern const int lq_panel_decoders_avx512_lattice_count;
/* AVX2 decoders of the lattice i-quants and Bitnet (panel_avx2_lattice.c) */
extern const lq_panel_simd_decoder lq_panel_decoders_avx2_lattice[];
extern const int lq_panel_decoders_avx2_lattice_count;

/* The SIMD group decoder of an interleaved type at `level` or below, or
 * NULL. */
lq_panel_group_decode_fn lq_panel_group_decode_simd(int type, lq_simd_level level);

/* One vector against ngroups interleaved groups of `rows` rows (group g at
 * groups + g * group_bytes, all chunks full): each chunk of a group is
 * decoded by `decode` and multiplied at once, in the tile kernel's exact
 * arithmetic; y[g * rows + k] for row k of group g (AVX-512). */
typedef void (*lq_group_gemv_fn)(lq_panel_group_decode_fn decode, const uint8_t *groups,
                                 int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,
                                 const lq_act_chunk *a, bool has_offset, float *y);
void lq_group_gemv_avx512(lq_panel_group_decode_fn decode, const uint8_t *groups,
                          int64_t group_bytes, int64_t ngroups, int rows, int64_t ncols,
                          const lq_act_chunk *a, bool has_offset, float *y);
/* AVX2: the arithmetic of the tile for the base type `type`'s levels
 * (lq_tile_kernel_for), so that one vector gets the same bits as in a tile */
lq_group_gemv_fn lq_group_gemv_avx2_for(int type);
/* A group GEMV of the interleaved type `type` with its decoder fused in
 * (panel_avx512_iqk_gemv.c), or NULL: same arguments, `decode` unused. */
lq_group_gemv_fn lq_group_gemv_fused_iqk(int type, lq_simd_level level);
/* The group GEMV of `level` for groups of base type `type`, or NULL
 * (scalar). */
lq_group_gemv_fn lq_group_gemv_for(lq_simd_level level, int type);
/* The fused group GEMV of the interleaved type `type` (the group decoder
 * inlined, panel_avx512_groups.c) at exactly `level`, or NULL. */
lq_group_gemv_fn lq_group_gemv_fused(int type, lq_simd_level level);

#endif /* LIBQUANT_PANEL_H */
