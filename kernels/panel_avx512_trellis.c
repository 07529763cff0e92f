/*
 * AVX-512 decoders and GEMV kernels of the trellis types (panel.h), on the
 * sixteen-state generator of libquant/trellis_gen_avx512.h.
 *
 * A chunk's sixteen 16-groups are the sixteen dword lanes: lane L holds
 * the seed of (the 8- or 4-group of) 16-group L, and one vpmulld by a
 * power of the multiplier gives the j-th state of every group, i.e. weight
 * 16 L + j, already in the packed layout's lane L. So:
 *   - the decoder stacks the byte sums of four consecutive j into the
 *     lane's four bytes (step j / 4 of the lane order) and stores them;
 *   - the GEMV never forms the values: vpdpbusd multiplies the four masked
 *     bytes of a state by its weight's activation, repeated four times in
 *     the lane, which adds (value + 126) x a to the lane's group sum; the
 *     accumulator starts at -126 x sum(a) of the group, so it ends with
 *     the exact sum(level x a), and the float part is the tile's
 *     (panel_avx512.h, lq_chunk_dot): a vector alone gets a tile's bits.
 *     iq3_kt stores magnitudes and signs: its GEMV forms the magnitudes as
 *     unsigned bytes and moves the signs onto the activations.
 */
#include "panel.h"

#if defined(__x86_64__) || defined(__i386__)
#include "common.h"
#include "panel_avx512.h"
#include "trellis_gen_avx512.h"

/* The four formats (libquant/trellis.c): super-block bytes; scale codes
 * through the non-linear table or as they are; values or magnitudes. */
typedef enum kt_kind { KT1, KT2, KT3, KT4 } kt_kind;
static const int super_block_bytes[4] = {56, 68, 100, 128};

static const float kt_scale_values[16] = {-127.f, -104.f, -83.f, -65.f, -49.f, -35.f,
                                          -22.f,  -10.f,  1.f,   13.f,  25.f,  38.f,
                                          53.f,   69.f,   89.f,  113.f};

AVX512 INLINE __m512i load512(const uint8_t *p) { return _mm512_loadu_si512((const void *)p); }
AVX512 INLINE __m256i load256(const uint8_t *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}
AVX512 INLINE __m512i and_const(__m512i x, int mask) {
    return _mm512_and_si512(x, _mm512_set1_epi32(mask));
}
/* lane L = block L / 2's word (iq4_kt: 8 dwords at the super-block's start) */
AVX512 INLINE __m512i block_dwords(const uint8_t *p) {
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                                    _mm512_castsi256_si512(load256(p)));
}

/* ---- seeds: lane L is 16-group L; its step s (weights 4 s .. 4 s + 3) is
 * seeds[seed_of(s)] times powers[power_of(s, i)], i = 0..3 */

static inline int seed_of(kt_kind kind, int s) { return kind == KT4 ? s : s / 2; }
static inline int power_of(kt_kind kind, int s, int i) { return kind == KT4 ? i : 4 * (s % 2) + i; }

/* iq2_kt / iq3_kt: 32 16-bit seeds at byte 4; L's groups of 8 are 2L, 2L+1 */
AVX512 INLINE void seeds_kt2(const uint8_t *sb, __m512i seeds[4]) {
    const __m512i pairs = load512(sb + 4), offset = _mm512_set1_epi32((int)LQ_KT_OFFSET);
    seeds[0] = _mm512_add_epi32(and_const(pairs, 0xffff), offset);
    seeds[1] = _mm512_add_epi32(_mm512_srli_epi32(pairs, 16), offset);
}

/* a | (b & mask) */
AVX512 INLINE __m512i or_masked(__m512i a, __m512i b, int mask) {
    return _mm512_ternarylogic_epi32(a, b, _mm512_set1_epi32(mask), 0xf8);
}

/* iq1_kt: word g = sh[g / 4] (block g / 4's scale code and top seed bits) */
AVX512 INLINE __m512i kt1_sh_words(const uint8_t *sb) {
    const __m512i qwords = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(const void *)sb));
    /* each qword's low byte to the low byte of its four words */
    return _mm512_shuffle_epi8(qwords, _mm512_set4_epi32((int)0x80088008, (int)0x80088008,
                                                         (int)0x80008000, (int)0x80008000));
}

/* iq1_kt: group g = 2L + e of block g / 4: bits 0-7 in ql[g] (byte 8 + g),
 * 8-11 in nibble g / 16 of qh[g % 16] (byte 40 + ...), bit 12 is bit
 * 4 + g % 4 of sh[g / 4]. Built as word g of one register (13 bits, so the
 * offset is added to both words of a lane at once), lane L = groups 2L,
 * 2L + 1. */
AVX512 INLINE void seeds_kt1(const uint8_t *sb, __m512i seeds[4]) {
    const __m512i ql = _mm512_cvtepu8_epi16(load256(sb + 8));
    const __m512i qh = _mm512_cvtepu8_epi16(
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(sb + 40))));
    const __m512i mid = _mm512_sllv_epi16(qh, _mm512_setr_epi32(0x80008, 0x80008, 0x80008, 0x80008, 0x80008,
                                                                0x80008, 0x80008, 0x80008, 0x40004, 0x40004,
                                                                0x40004, 0x40004, 0x40004, 0x40004, 0x40004,
                                                                0x40004));
    const __m512i top = _mm512_sllv_epi16(kt1_sh_words(sb), _mm512_set4_epi32(0x50006, 0x70008, 0x50006, 0x70008));
    const __m512i words = _mm512_add_epi32(or_masked(or_masked(ql, mid, 0x0f000f00), top, 0x10001000),
                                           _mm512_set1_epi32((int)(LQ_KT_OFFSET * 0x10001u)));
    seeds[0] = and_const(words, 0xffff);
    seeds[1] = _mm512_srli_epi32(words, 16);
}

/* iq4_kt: group g = 4L + s of block L / 2: bits 0-7 in ql[g] (byte 32 +
 * g), 8-11 in nibble g / 32 of qh[g % 32] (byte 96 + ...), 12-14 at bit
 * 8 + 3 (g % 8) of the block's word, whose bit 0 selects the offset. The
 * low 12 bits (and the offset's 4096) are built as words, group g in word
 * g % 32 of halves[g / 32], so lane L's four are qword L % 8 of a half;
 * the top bits and the second codebook's 32768 come from the word per s. */
AVX512 INLINE void seeds_kt4(const uint8_t *sb, __m512i seeds[4]) {
    const __m512i qh = _mm512_cvtepu8_epi16(load256(sb + 96));
    const __m512i base = _mm512_set1_epi32((int)(LQ_KT_OFFSET * 0x10001u));
    const __m512i half0 = _mm512_add_epi32(
        or_masked(_mm512_cvtepu8_epi16(load256(sb + 32)), _mm512_slli_epi16(qh, 8), 0x0f000f00), base);
    const __m512i half1 = _mm512_add_epi32(
        or_masked(_mm512_cvtepu8_epi16(load256(sb + 64)), _mm512_slli_epi16(qh, 4), 0x0f000f00), base);
    /* lane L: dword 2 (L % 8) + p of half L / 8 = words of s = 2 p, 2 p + 1 */
    __m512i pair[2];
    for (int p = 0; p < 2; p++)
        pair[p] = _mm512_permutex2var_epi32(
            half0, _mm512_setr_epi32(p, 2 + p, 4 + p, 6 + p, 8 + p, 10 + p, 12 + p, 14 + p, 16 + p, 18 + p,
                                     20 + p, 22 + p, 24 + p, 26 + p, 28 + p, 30 + p),
            half1);
    const __m512i word = block_dwords(sb);
    const __m512i alt = _mm512_slli_epi32(and_const(word, 1), 15);
    for (int s = 0; s < 4; s++) {
        const __m512i low = s % 2 ? _mm512_srli_epi32(pair[s / 2], 16) : and_const(pair[s / 2], 0xffff);
        /* bits 8 + 3 ig .. of the word to 12 .., ig = 4 (L % 2) + s */
        const int even = (3 * s + 28) % 32, odd = 8 + 3 * s;
        const __m512i top = _mm512_rorv_epi32(word, _mm512_setr_epi32(even, odd, even, odd, even, odd, even, odd,
                                                                      even, odd, even, odd, even, odd, even, odd));
        seeds[s] = _mm512_add_epi32(low, or_masked(alt, top, 0x7000));
    }
}

AVX512 INLINE void chunk_seeds(kt_kind kind, const uint8_t *sb, __m512i seeds[4]) {
    if (kind == KT1)
        seeds_kt1(sb, seeds);
    else if (kind == KT4)
        seeds_kt4(sb, seeds);
    else
        seeds_kt2(sb, seeds);
}

AVX512 INLINE void step_states(kt_kind kind, const __m512i seeds[4], const uint32_t *powers, int s,
                               __m512i state[4]) {
    for (int i = 0; i < 4; i++)
        state[i] = lq_kt_states_avx512(seeds[seed_of(kind, s)], powers[power_of(kind, s, i)]);
}

/* ---- scales: lane L, block L / 2; d * (float)scale as the scalar decoder
 * computes it */

/* iq2_kt / iq3_kt: code in nibble L / 8 of byte (L / 2) % 4; iq1_kt: low
 * nibble of sh[L / 2]; iq4_kt: the block word's bits 1-7 minus 64 */
AVX512 INLINE __m512 block_scales_kt(kt_kind kind, const uint8_t *sb) {
    if (kind == KT4) {
        const __m512i code = _mm512_sub_epi32(and_const(_mm512_srli_epi32(block_dwords(sb), 1), 127),
                                              _mm512_set1_epi32(64));
        return _mm512_cvtepi32_ps(code);
    }
    __m512i code;
    if (kind == KT1)
        code = and_const(kt1_sh_words(sb), 15);
    else
        code = and_const(_mm512_srlv_epi32(_mm512_set1_epi32((int)lq_load_u32(sb)),
                                           _mm512_setr_epi32(0, 0, 8, 8, 16, 16, 24, 24, 4, 4, 12, 12, 20,
                                                             20, 28, 28)),
                         15);
    if (kind == KT3)
        return _mm512_cvtepi32_ps(code);
    return _mm512_permutexvar_ps(code, _mm512_loadu_ps(kt_scale_values));
}

AVX512 INLINE __m512 chunk_scales(kt_kind kind, const uint8_t *sb, float d) {
    return _mm512_mul_ps(_mm512_set1_ps(d), block_scales_kt(kind, sb));
}

/* ---- iq3_kt signs: the sign of weight j of block ib is bit ib of qh[j]
 * (byte 68 + j); lane L's step s needs qh dword 4 (L % 2) + s, bit L / 2
 * of each byte */

AVX512 INLINE __m512i kt3_sign_bytes(const uint8_t *sb) {
    return _mm512_castsi256_si512(load256(sb + 68));
}

AVX512 INLINE __mmask64 kt3_negative(__m512i qh, int s) {
    const __m512i bytes = _mm512_permutexvar_epi32(
        _mm512_add_epi32(_mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4),
                         _mm512_set1_epi32(s)),
        qh);
    const __m512i bit = _mm512_sllv_epi32(
        _mm512_set1_epi32(0x01010101), _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
    return _mm512_test_epi8_mask(bytes, bit);
}

/* ---- decoding ------------------------------------------------------------ */

AVX512 INLINE void decode_kt(kt_kind kind, const uint8_t *row, int64_t chunk, lq_panel_chunk *out) {
    uint32_t powers[LQ_KT_POWERS];
    lq_kt_powers_avx512(powers);
    const uint8_t *sb = row + 4 + chunk * super_block_bytes[kind];
    __m512i seeds[4];
    chunk_seeds(kind, sb, seeds);
    const __m512i qh = kind == KT3 ? kt3_sign_bytes(sb) : _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        __m512i state[4];
        step_states(kind, seeds, powers, s, state);
        __m512i levels = lq_kt_values_avx512(state);
        if (kind == KT3) {
            const __m512i magnitude = _mm512_abs_epi8(levels);
            levels = _mm512_mask_sub_epi8(magnitude, kt3_negative(qh, s), _mm512_setzero_si512(), magnitude);
        }
        _mm512_store_si512((void *)(out->level + 64 * s), levels);
    }
    store_scales(out, chunk_scales(kind, sb, lq_load_f32(row)));
}

#define KT_DECODER(name, kind)                                                               \
    AVX512 INLINE void decode_##name(const uint8_t *row, int64_t chunk, int count,           \
                                     lq_panel_chunk *out) {                                  \
        decode_kt(kind, row, chunk, out);                                                    \
        (void)count;                                                                         \
    }
KT_DECODER(iq1_kt, KT1)
KT_DECODER(iq2_kt, KT2)
KT_DECODER(iq3_kt, KT3)
KT_DECODER(iq4_kt, KT4)

/* ---- GEMV ---------------------------------------------------------------- */

/* One activation chunk as the GEMV reads it, made once per block of rows:
 * the signed activations of each step, each weight's activation repeated
 * four times in its lane (state j = 4 s + i), -126 x sum(a) per group and
 * the scales. */
typedef struct expanded_chunk {
    __m512i repeated[16];
    __m512i plain[4];
    __m512i bias;
    __m512 d;
} expanded_chunk;

enum { GEMV_CHUNKS = 8, GEMV_ROWS = 32 };

/* byte i of every dword, four times (vpshufb control) */
AVX512 INLINE __m512i repeat_byte(int i) {
    return _mm512_add_epi32(_mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0),
                            _mm512_set1_epi32(i * 0x01010101));
}

AVX512 INLINE void expand_chunk(const lq_act_chunk *a, expanded_chunk *e) {
    const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    __m512i asum = _mm512_setzero_si512();
    for (int s = 0; s < 4; s++) {
        const __m512i act = _mm512_xor_si512(_mm512_load_si512((const void *)(a->biased + 64 * s)), flip);
        e->plain[s] = act;
        for (int i = 0; i < 4; i++)
            e->repeated[4 * s + i] = _mm512_shuffle_epi8(act, repeat_byte(i));
        asum = _mm512_dpbusd_epi32(asum, ones, act);
    }
    e->bias = _mm512_mullo_epi32(asum, _mm512_set1_epi32(-LQ_KT_BIAS));
    e->d = _mm512_load_ps(a->d);
}

/* sum (level + 126) x a per lane for a chunk, from -126 x sum(a): four
 * accumulators keep the vpdpbusd chains short. */
AVX512 INLINE __m512i chunk_sums(kt_kind kind, const __m512i seeds[4], const uint32_t *powers,
                                 const expanded_chunk *e) {
    __m512i acc[4] = {e->bias, _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < 4; i++) {
            const __m512i state = lq_kt_states_avx512(seeds[seed_of(kind, s)], powers[power_of(kind, s, i)]);
            acc[i] = _mm512_dpbusd_epi32(acc[i], lq_kt_masked_avx512(state), e->repeated[4 * s + i]);
        }
    return _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_add_epi32(acc[2], acc[3]));
}

/* iq3_kt: per step the magnitudes as unsigned bytes, times the activations
 * with the stored signs */
AVX512 INLINE __m512i kt3_chunk_sums(const uint8_t *sb, const __m512i seeds[4], const uint32_t *powers,
                                     const expanded_chunk *e) {
    const __m512i qh = kt3_sign_bytes(sb);
    __m512i acc[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int s = 0; s < 4; s++) {
        __m512i state[4];
        step_states(KT3, seeds, powers, s, state);
        const __m512i magnitude = _mm512_abs_epi8(lq_kt_values_avx512(state));
        const __m512i act = _mm512_mask_sub_epi8(e->plain[s], kt3_negative(qh, s), _mm512_setzero_si512(),
                                                 e->plain[s]);
        acc[s % 2] = _mm512_dpbusd_epi32(acc[s % 2], magnitude, act);
    }
    return _mm512_add_epi32(acc[0], acc[1]);
}

/* One row's chunk, added to sum as the tile adds it. */
AVX512 INLINE __m512 chunk_gemv(kt_kind kind, const uint8_t *sb, float d, const uint32_t *powers,
                                const expanded_chunk *e, __m512 sum) {
    __m512i seeds[4];
    chunk_seeds(kind, sb, seeds);
    const __m512i exact = kind == KT3 ? kt3_chunk_sums(sb, seeds, powers, e) : chunk_sums(kind, seeds, powers, e);
    const __m512 scale = _mm512_mul_ps(chunk_scales(kind, sb, d), e->d);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), scale, sum);
}

/* `count` rows (row k at row + k * row_bytes) over a block of chunks;
 * two rows at once give the core two independent chains to overlap. */
AVX512 INLINE void rows_pass(kt_kind kind, const uint8_t *row, int64_t row_bytes, int count,
                             int64_t first_chunk, int nc, const uint32_t *powers,
                             const expanded_chunk *e, __m512 *sum) {
    for (int c = 0; c < nc; c++) {
        const int64_t at = 4 + (first_chunk + c) * super_block_bytes[kind];
        for (int k = 0; k < count; k++)
            sum[k] = chunk_gemv(kind, row + k * row_bytes + at, lq_load_f32(row + k * row_bytes), powers,
                                &e[c], sum[k]);
    }
}

/* Blocks of rows by blocks of chunks; each row's sum stays the tile's
 * (chunks in order). */
AVX512 INLINE void gemv_kt(kt_kind kind, const uint8_t *rows, int64_t row_bytes, int64_t nrows,
                           int64_t nchunks, const lq_act_chunk *a, float *y) {
    uint32_t powers[LQ_KT_POWERS];
    lq_kt_powers_avx512(powers);
    expanded_chunk expanded[GEMV_CHUNKS];
    __m512 sum[GEMV_ROWS];
    for (int64_t r0 = 0; r0 < nrows; r0 += GEMV_ROWS) {
        const int nr = nrows - r0 < GEMV_ROWS ? (int)(nrows - r0) : GEMV_ROWS;
        for (int r = 0; r < nr; r++)
            sum[r] = _mm512_setzero_ps();
        for (int64_t c0 = 0; c0 < nchunks; c0 += GEMV_CHUNKS) {
            const int nc = nchunks - c0 < GEMV_CHUNKS ? (int)(nchunks - c0) : GEMV_CHUNKS;
            for (int c = 0; c < nc; c++)
                expand_chunk(&a[c0 + c], &expanded[c]);
            int r = 0;
            for (; r + 2 <= nr; r += 2)
                rows_pass(kind, rows + (r0 + r) * row_bytes, row_bytes, 2, c0, nc, powers, expanded, &sum[r]);
            if (r < nr)
                rows_pass(kind, rows + (r0 + r) * row_bytes, row_bytes, 1, c0, nc, powers, expanded, &sum[r]);
        }
        for (int r = 0; r < nr; r++)
            y[r0 + r] = _mm512_reduce_add_ps(sum[r]);
    }
}

#define KT_GEMV(name, kind)                                                                  \
    AVX512 static void gemv_##name(const uint8_t *rows, int64_t row_bytes, int64_t nrows,    \
                                   int64_t nchunks, const lq_act_chunk *a, bool has_offset,  \
                                   float *y) {                                               \
        gemv_kt(kind, rows, row_bytes, nrows, nchunks, a, y);                                \
        (void)has_offset;                                                                    \
    }
KT_GEMV(iq1_kt, KT1)
KT_GEMV(iq2_kt, KT2)
KT_GEMV(iq3_kt, KT3)
KT_GEMV(iq4_kt, KT4)

const lq_panel_simd_decoder lq_panel_decoders_avx512_trellis[] = {
    {LQ_TYPE_IQ1_KT, decode_iq1_kt, NULL, gemv_iq1_kt},
    {LQ_TYPE_IQ2_KT, decode_iq2_kt, NULL, gemv_iq2_kt},
    {LQ_TYPE_IQ3_KT, decode_iq3_kt, NULL, gemv_iq3_kt},
    {LQ_TYPE_IQ4_KT, decode_iq4_kt, NULL, gemv_iq4_kt},
};
const int lq_panel_decoders_avx512_trellis_count =
    (int)(sizeof lq_panel_decoders_avx512_trellis / sizeof lq_panel_decoders_avx512_trellis[0]);

#else /* not x86 */

const lq_panel_simd_decoder lq_panel_decoders_avx512_trellis[1] = {{-1, NULL, NULL, NULL}};
const int lq_panel_decoders_avx512_trellis_count = 0;

#endif
