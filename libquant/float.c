/*
 * Unquantized storage types: f32 (a copy), f16 and bf16 (conversions with
 * round to nearest even that carry NaN and Inf through).
 */
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

static int encode_f16(const float *src, void *dst, int64_t ncols,
                      const float *imatrix) {
    (void)imatrix;
    uint8_t *out = dst;
    for (int64_t i = 0; i < ncols; i++)
        lq_store_u16(out + 2 * i, lq_float_to_half(src[i]));
    return LQ_OK;
}

static void decode_f16(const void *src, float *dst, int64_t ncols) {
    const uint8_t *in = src;
    for (int64_t i = 0; i < ncols; i++)
        dst[i] = lq_half_to_float(lq_load_u16(in + 2 * i));
}

static int encode_bf16(const float *src, void *dst, int64_t ncols,
                       const float *imatrix) {
    (void)imatrix;
    uint8_t *out = dst;
    for (int64_t i = 0; i < ncols; i++)
        lq_store_u16(out + 2 * i, lq_float_to_bf16(src[i]));
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
