/*
 * Unquantized storage types: f32 (a copy), f16 and bf16 (conversions with
 * round to nearest even that carry NaN and Inf through).
 *
 * Readers assume nothing of the values: finite inputs within a type's range
 * stay finite.
 */
#include <pthread.h>
#include <stdbool.h>

#include "codec.h"
#include "common.h"

static int copy_f32(const float *src, void *dst, int64_t ncols,
                    const float *imatrix) {
    (void)imatrix;
    memcpy(dst, src, (size_t)ncols * sizeof(float));
    return LQ_OK;
}

static void decode_f32(const void *src, float *dst, int64_t ncols) {
    memcpy(dst, src, (size_t)ncols * sizeof(float));
}

/* The scalar loops are the specification; the F16C versions give the same
 * bits (both round to nearest even and quiet NaNs the same way) and are used
 * when the CPU has the instructions. */
static void f32_to_f16_scalar(const float *src, uint8_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        lq_store_u16(out + 2 * i, lq_float_to_half(src[i]));
}

static void f16_to_f32_scalar(const uint8_t *in, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        dst[i] = lq_half_to_float(lq_load_u16(in + 2 * i));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

__attribute__((target("avx,f16c"))) static void f32_to_f16_f16c(const float *src,
                                                                   uint8_t *out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(void *)(out + 2 * i), h);
    }
    f32_to_f16_scalar(src + i, out + 2 * i, n - i);
}

__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const uint8_t *in, float *dst,
                                                                   int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(in + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    f16_to_f32_scalar(in + 2 * i, dst + i, n - i);
}

/* cpuid rather than __builtin_cpu_supports("f16c"), which clang 14 lacks.
 * The OS must also save the AVX state (OSXSAVE + XCR0), or AVX faults.
 * Probed once: cpuid and xgetbv trap to the hypervisor in a VM. */
static bool probe_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    if (!(c & bit_F16C) || !(c & bit_AVX) || !(c & bit_OSXSAVE))
        return false;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    return (xcr0_lo & 6u) == 6u; /* XMM and YMM state enabled */
}

static pthread_once_t f16c_once = PTHREAD_ONCE_INIT;
static bool f16c_available;

static void detect_f16c(void) { f16c_available = probe_f16c(); }

static bool cpu_has_f16c(void) {
    pthread_once(&f16c_once, detect_f16c);
    return f16c_available;
}
#endif

static int encode_f16(const float *src, void *dst, int64_t ncols,
                      const float *imatrix) {
    (void)imatrix;
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_has_f16c()) {
        f32_to_f16_f16c(src, dst, ncols);
        return LQ_OK;
    }
#endif
    f32_to_f16_scalar(src, dst, ncols);
    return LQ_OK;
}

static void decode_f16(const void *src, float *dst, int64_t ncols) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_has_f16c()) {
        f16_to_f32_f16c(src, dst, ncols);
        return;
    }
#endif
    f16_to_f32_scalar(src, dst, ncols);
}

/* Converted in chunks through an aligned buffer so that the loop has no
 * unaligned stores and the compiler vectorizes it. */
static int encode_bf16(const float *src, void *dst, int64_t ncols,
                       const float *imatrix) {
    (void)imatrix;
    enum { CHUNK = 256 };
    uint16_t chunk[CHUNK];
    uint8_t *out = dst;
    for (int64_t start = 0; start < ncols; start += CHUNK) {
        int n = ncols - start < CHUNK ? (int)(ncols - start) : CHUNK;
        for (int i = 0; i < n; i++)
            chunk[i] = lq_float_to_bf16(src[start + i]);
        memcpy(out + 2 * start, chunk, (size_t)n * sizeof(uint16_t));
    }
    return LQ_OK;
}

static void decode_bf16(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i = 0; i < ncols; i++)
        dst[i] = lq_bf16_to_float(lq_load_u16(in + 2 * i));
}

static const lq_codec float_codecs[] = {
    {LQ_TYPE_F32, copy_f32, decode_f32, NULL, NULL},
    {LQ_TYPE_F16, encode_f16, decode_f16, NULL, NULL},
    {LQ_TYPE_BF16, encode_bf16, decode_bf16, NULL, NULL},
};

const lq_codec_family lq_family_float = {
    "float", float_codecs, sizeof float_codecs / sizeof float_codecs[0]};
