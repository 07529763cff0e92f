/*
 * AVX-512 fused GEMVs (group_gemv_avx512.h) of the row-interleaved legacy
 * and k-quant types, and AVX-512 group decoders where they beat the AVX2
 * ones (panel_avx2_groups.c describes the layouts: a 4-byte quad of each
 * row, the 4 or 8 rows' quads side by side).
 *
 * Each chunk function loads the stored quads as they lie (lanes = rows),
 * extracts the unsigned quants in place, and multiplies them with the
 * activation quads of the same (group, quad), which one permute of the
 * activation's step registers puts beside every row: the activation work
 * is shared by the group's rows and no level is ever transposed.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "common.h"
#include "group_gemv_avx512.h"

/* the 16-byte half-precision values at p, converted */
AVX512 INLINE __m512 halves16(__m256i h) { return _mm512_cvtph_ps(h); }

/* a register whose lanes 0-7 are dword `first` of `src`, lanes 8-15 dword
 * `second` */
AVX512 INLINE __m512i two_dwords(__m512i src, int first, int second) {
    return _mm512_permutexvar_epi32(
        _mm512_setr_epi32(first, first, first, first, first, first, first, first, second, second,
                          second, second, second, second, second, second),
        src);
}

/* ---- q4_0_r8: 8 block columns of d[8] (f16), then 4 pieces of 8 rows x 4
 * bytes (piece l: quad l of the low nibbles = group 2 b, of the high ones
 * = group 2 b + 1). P register b = the column's two groups. */

enum { Q4_0_R8_COL = 8 * 18 };

AVX512 INLINE void chunk_q4_0_r8(const uint8_t *group, int64_t chunk, const lq_gact *a,
                                 __m512 *sum) {
    const uint8_t *first = group + chunk * 8 * Q4_0_R8_COL;
    const __m512i shift = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
    const __m512i low4 = _mm512_set1_epi8(15);
    for (int b = 0; b < 8; b++) {
        const uint8_t *col = first + b * Q4_0_R8_COL;
        __m512i acc = _mm512_setzero_si512();
        for (int l = 0; l < 4; l++) {
            const __m512i w = _mm512_broadcast_i64x4(
                _mm256_loadu_si256((const __m256i *)(const void *)(col + 16 + 32 * l)));
            const __m512i u = _mm512_and_si512(_mm512_srlv_epi32(w, shift), low4);
            acc = _mm512_dpbusd_epi32(acc, u, two_dwords(a->step[l], 2 * b, 2 * b + 1));
        }
        const __m512i exact = _mm512_sub_epi32(acc, lq_gp_bias(8, b, a, 3));
        const __m512 scale = halves16(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)col)));
        lq_gsum_add(8, b, exact, scale, a, sum);
    }
}

LQ_GROUP_GEMV(gemv_q4_0_r8, 8, chunk_q4_0_r8)

/* ---- lookup ---------------------------------------------------------------- */

typedef struct fused_gemv {
    int type;
    lq_group_gemv_fn gemv;
} fused_gemv;

static const fused_gemv fused[] = {
    {LQ_TYPE_Q4_0_R8, gemv_q4_0_r8},
};

lq_group_gemv_fn lq_group_gemv_fused(int type, lq_simd_level level) {
    if (level != LQ_SIMD_AVX512)
        return NULL;
    for (size_t i = 0; i < sizeof fused / sizeof fused[0]; i++)
        if (fused[i].type == type)
            return fused[i].gemv;
    return NULL;
}

#else /* not x86 */

lq_group_gemv_fn lq_group_gemv_fused(int type, lq_simd_level level) {
    (void)type, (void)level;
    return NULL;
}

#endif
