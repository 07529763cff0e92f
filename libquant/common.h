/*
 * Small helpers shared by the codec files: half/bfloat conversion and
 * rounding. Header-only so that hot loops inline them.
 */
#ifndef LIBQUANT_COMMON_H
#define LIBQUANT_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t lq_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float lq_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 -> binary32, exact for every input (subnormals, Inf, NaN). */
static inline float lq_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) /* Inf, or NaN made quiet with its payload kept (as F16C does) */
        return lq_bits_f32(sign | 0x7f800000u | (mant ? 0x400000u : 0u) | (mant << 13));
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exactly representable */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return lq_bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* binary32 -> binary16 with round to nearest even; overflow gives Inf,
 * NaN stays NaN (quiet). */
static inline uint16_t lq_float_to_half(float f) {
    uint32_t x = lq_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {
        if (absx > 0x7f800000u) /* NaN: keep top payload bits, force quiet */
            return (uint16_t)(sign | 0x7e00u | ((absx >> 13) & 0x3ffu));
        return (uint16_t)(sign | 0x7c00u);
    }
    if (absx >= 0x477ff000u) /* rounds to >= 65520: Inf */
        return (uint16_t)(sign | 0x7c00u);
    if (absx < 0x38800000u) {
        /* result is subnormal or zero: scale to units of 2^-24 and round */
        float a = lq_bits_f32(absx);
        float scaled = a * 0x1p24f; /* exact: power-of-two scaling */
        /* rint rounds to nearest even under the default rounding mode */
        uint32_t m = (uint32_t)rintf(scaled);
        return (uint16_t)(sign | m); /* m == 0x400 becomes the smallest normal */
    }
    uint32_t exp = (absx >> 23) - 112u;
    uint32_t mant = absx & 0x7fffffu;
    uint32_t half = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
        half += 1u; /* carry into the exponent is the correct result */
    return (uint16_t)(sign | half);
}

static inline float lq_bf16_to_float(uint16_t h) {
    return lq_bits_f32((uint32_t)h << 16);
}

/* binary32 -> bfloat16, round to nearest even; NaN stays a (quiet) NaN. */
static inline uint16_t lq_float_to_bf16(float f) {
    uint32_t x = lq_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* Round to nearest, ties to even, as an int (for |x| < 2^22 it matches the
 * reference's float trick exactly). */
static inline int lq_nearest_int(float x) {
    return (int)lrintf(x);
}

static inline uint16_t lq_load_u16(const void *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lq_store_u16(void *p, uint16_t v) { memcpy(p, &v, sizeof v); }

static inline uint32_t lq_load_u32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lq_store_u32(void *p, uint32_t v) { memcpy(p, &v, sizeof v); }

static inline uint64_t lq_load_u64(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lq_store_u64(void *p, uint64_t v) { memcpy(p, &v, sizeof v); }

static inline float lq_load_f32(const void *p) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lq_store_f32(void *p, float v) { memcpy(p, &v, sizeof v); }

#endif /* LIBQUANT_COMMON_H */
