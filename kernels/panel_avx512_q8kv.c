/*
 * AVX-512 decoder of q8_KV into the packed layout (panel.h), equal to the
 * scalar one (panel_decode.c): a row is an f32 scale, the int32 sum of its
 * quants, then one int8 quant per weight, so a chunk's levels are 256
 * stored bytes put in lane order (dword L of step s is dword 4 L + s of
 * the chunk), and every 16-group's scale is the row's.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include "panel_avx512.h"

enum { Q8_KV_META = 8 };

AVX512 INLINE void decode_q8_KV(const uint8_t *row, int64_t chunk, int count, lq_panel_chunk *out) {
    const uint8_t *q = row + Q8_KV_META + chunk * LQ_PANEL_K;
    __m512i src[4];
    for (int p = 0; p < 4; p++)
        src[p] = _mm512_loadu_si512((const void *)(q + 64 * p));
    for (int s = 0; s < 4; s += 2) {
        /* lanes 0-7: step s of groups 0-7, lanes 8-15: step s + 1; the
         * second pair of registers gives groups 8-15 */
        int idx[16];
        for (int lane = 0; lane < 16; lane++)
            idx[lane] = 4 * (lane % 8) + s + lane / 8;
        const __m512i ix = _mm512_loadu_si512((const void *)idx);
        const __m512i lo = _mm512_permutex2var_epi32(src[0], ix, src[1]);
        const __m512i hi = _mm512_permutex2var_epi32(src[2], ix, src[3]);
        _mm512_store_si512((void *)(out->level + 64 * s), _mm512_shuffle_i64x2(lo, hi, 0x44));
        _mm512_store_si512((void *)(out->level + 64 * (s + 1)), _mm512_shuffle_i64x2(lo, hi, 0xEE));
    }
    float d;
    memcpy(&d, row, sizeof d);
    store_scales(out, _mm512_set1_ps(d));
    (void)count;
}

LQ_PANEL_GEMV(decode_q8_KV)

const lq_panel_simd_decoder lq_panel_decoders_avx512_q8[] = {
    {LQ_TYPE_Q8_KV, decode_q8_KV, NULL, gemv_decode_q8_KV},
};
const int lq_panel_decoders_avx512_q8_count =
    (int)(sizeof lq_panel_decoders_avx512_q8 / sizeof lq_panel_decoders_avx512_q8[0]);
#else /* not x86 */
const lq_panel_simd_decoder lq_panel_decoders_avx512_q8[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx512_q8_count = 0;
#endif
