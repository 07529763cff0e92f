/*
 * The type registry: one row per GGUF/ggml type id that ik_llama.cpp defines,
 * with its storage geometry, plus the dispatch of the row-level API to the
 * per-family codec tables.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "common.h"
#include "quant.h"

#define Q LQ_CAP_QUANTIZED
#define NONE (-1)

/* name, block size, bytes per block, row meta bytes, interleave, base type */
static const lq_type_info type_table[] = {
    {LQ_TYPE_F32, "f32", 1, 4, 0, 1, NONE, 0},
    {LQ_TYPE_F16, "f16", 1, 2, 0, 1, NONE, 0},
    {LQ_TYPE_Q4_0, "q4_0", 32, 18, 0, 1, NONE, Q},
    {LQ_TYPE_Q4_1, "q4_1", 32, 20, 0, 1, NONE, Q},
    {LQ_TYPE_Q5_0, "q5_0", 32, 22, 0, 1, NONE, Q},
    {LQ_TYPE_Q5_1, "q5_1", 32, 24, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_0, "q8_0", 32, 34, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_1, "q8_1", 32, 36, 0, 1, NONE, Q},
    {LQ_TYPE_Q2_K, "q2_K", 256, 84, 0, 1, NONE, Q},
    {LQ_TYPE_Q3_K, "q3_K", 256, 110, 0, 1, NONE, Q},
    {LQ_TYPE_Q4_K, "q4_K", 256, 144, 0, 1, NONE, Q},
    {LQ_TYPE_Q5_K, "q5_K", 256, 176, 0, 1, NONE, Q},
    {LQ_TYPE_Q6_K, "q6_K", 256, 210, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_K, "q8_K", 256, 296, 0, 1, NONE, Q},
    {LQ_TYPE_IQ2_XXS, "iq2_xxs", 256, 66, 0, 1, NONE, Q},
    {LQ_TYPE_IQ2_XS, "iq2_xs", 256, 74, 0, 1, NONE, Q},
    {LQ_TYPE_IQ3_XXS, "iq3_xxs", 256, 98, 0, 1, NONE, Q},
    {LQ_TYPE_IQ1_S, "iq1_s", 256, 50, 0, 1, NONE, Q},
    {LQ_TYPE_IQ4_NL, "iq4_nl", 32, 18, 0, 1, NONE, Q},
    {LQ_TYPE_IQ3_S, "iq3_s", 256, 110, 0, 1, NONE, Q},
    {LQ_TYPE_IQ2_S, "iq2_s", 256, 82, 0, 1, NONE, Q},
    {LQ_TYPE_IQ4_XS, "iq4_xs", 256, 136, 0, 1, NONE, Q},
    {LQ_TYPE_I8, "i8", 1, 1, 0, 1, NONE, 0},
    {LQ_TYPE_I16, "i16", 1, 2, 0, 1, NONE, 0},
    {LQ_TYPE_I32, "i32", 1, 4, 0, 1, NONE, 0},
    {LQ_TYPE_I64, "i64", 1, 8, 0, 1, NONE, 0},
    {LQ_TYPE_F64, "f64", 1, 8, 0, 1, NONE, 0},
    {LQ_TYPE_IQ1_M, "iq1_m", 256, 56, 0, 1, NONE, Q},
    {LQ_TYPE_BF16, "bf16", 1, 2, 0, 1, NONE, 0},
    {LQ_TYPE_Q4_0_4_4, "q4_0_4x4", 32, 18, 0, 1, NONE, Q},
    {LQ_TYPE_Q4_0_4_8, "q4_0_4x8", 32, 18, 0, 1, NONE, Q},
    {LQ_TYPE_Q4_0_8_8, "q4_0_8x8", 32, 18, 0, 1, NONE, Q},
    {LQ_TYPE_I2_S, "i2_s", 1, 1, 0, 1, NONE, Q},
    {LQ_TYPE_MXFP4, "mxfp4", 32, 17, 0, 1, NONE, Q},
    {LQ_TYPE_Q1_0_G128, "q1_0_g128", 128, 18, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_0_X4, "q8_0_x4", 32, 34, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_1_X4, "q8_1_x4", 32, 36, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_2_X4, "q8_2_x4", 32, 36, 0, 1, NONE, Q},
    {LQ_TYPE_Q6_0, "q6_0", 32, 26, 0, 1, NONE, Q},
    {LQ_TYPE_IQ1_BN, "iq1_bn", 64, 13, 2, 1, NONE, Q},
    {LQ_TYPE_IQ2_BN, "iq2_bn", 64, 16, 4, 1, NONE, Q},
    {LQ_TYPE_Q8_K64, "q8_K64", 64, 68, 0, 1, NONE, Q},
    {LQ_TYPE_IQ2_K, "iq2_k", 256, 76, 0, 1, NONE, Q},
    {LQ_TYPE_IQ3_K, "iq3_k", 256, 110, 0, 1, NONE, Q},
    {LQ_TYPE_IQ4_K, "iq4_k", 256, 144, 0, 1, NONE, Q},
    {LQ_TYPE_IQ5_K, "iq5_k", 256, 176, 0, 1, NONE, Q},
    {LQ_TYPE_IQ6_K, "iq6_k", 256, 212, 0, 1, NONE, Q},
    {LQ_TYPE_IQ4_KS, "iq4_ks", 256, 136, 4, 1, NONE, Q},
    {LQ_TYPE_IQ2_KS, "iq2_ks", 256, 70, 2, 1, NONE, Q},
    {LQ_TYPE_IQ4_KSS, "iq4_kss", 256, 128, 4, 1, NONE, Q},
    {LQ_TYPE_Q8_K16, "q8_K16", 64, 64, 20, 1, NONE, Q},
    {LQ_TYPE_Q8_K32, "q8_K32", 256, 296, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_KR8, "q8_KR8", 256, 296, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_K128, "q8_K128", 128, 140, 0, 1, NONE, Q},
    {LQ_TYPE_Q8_KV, "q8_KV", 32, 32, 8, 1, NONE, Q},
    {LQ_TYPE_IQ5_KS, "iq5_ks", 256, 168, 4, 1, NONE, Q},
    {LQ_TYPE_IQ2_KT, "iq2_kt", 256, 68, 4, 1, NONE, Q},
    {LQ_TYPE_IQ3_KT, "iq3_kt", 256, 100, 4, 1, NONE, Q},
    {LQ_TYPE_IQ4_KT, "iq4_kt", 256, 128, 4, 1, NONE, Q},
    {LQ_TYPE_IQ3_KS, "iq3_ks", 256, 102, 2, 1, NONE, Q},
    {LQ_TYPE_IQ2_KL, "iq2_kl", 256, 86, 2, 1, NONE, Q},
    {LQ_TYPE_IQ1_KT, "iq1_kt", 256, 56, 4, 1, NONE, Q},
    {LQ_TYPE_Q4_0_R8, "q4_0_r8", 32, 18, 0, 8, LQ_TYPE_Q4_0, Q},
    {LQ_TYPE_Q5_0_R4, "q5_0_r4", 32, 22, 0, 4, LQ_TYPE_Q5_0, Q},
    {LQ_TYPE_Q8_0_R8, "q8_0_r8", 32, 34, 0, 8, LQ_TYPE_Q8_0, Q},
    {LQ_TYPE_Q2_K_R4, "q2_k_r4", 256, 84, 0, 4, LQ_TYPE_Q2_K, Q},
    {LQ_TYPE_Q3_K_R4, "q3_k_r4", 256, 110, 0, 4, LQ_TYPE_Q3_K, Q},
    {LQ_TYPE_Q4_K_R4, "q4_k_r4", 256, 144, 0, 4, LQ_TYPE_Q4_K, Q},
    {LQ_TYPE_Q5_K_R4, "q5_k_r4", 256, 176, 0, 4, LQ_TYPE_Q5_K, Q},
    {LQ_TYPE_Q6_K_R4, "q6_k_r4", 256, 210, 0, 4, LQ_TYPE_Q6_K, Q},
    {LQ_TYPE_IQ2_XXS_R4, "iq2_xxs_r4", 256, 66, 0, 4, LQ_TYPE_IQ2_XXS, Q},
    {LQ_TYPE_IQ2_XS_R4, "iq2_xs_r4", 256, 74, 0, 4, LQ_TYPE_IQ2_XS, Q},
    {LQ_TYPE_IQ3_XXS_R4, "iq3_xxs_r4", 256, 98, 0, 4, LQ_TYPE_IQ3_XXS, Q},
    {LQ_TYPE_IQ1_S_R4, "iq1_s_r4", 32, 6, 2, 4, NONE, Q},
    {LQ_TYPE_IQ4_NL_R4, "iq4_nl_r4", 32, 18, 0, 4, LQ_TYPE_IQ4_NL, Q},
    {LQ_TYPE_IQ3_S_R4, "iq3_s_r4", 256, 110, 0, 4, LQ_TYPE_IQ3_S, Q},
    {LQ_TYPE_IQ2_S_R4, "iq2_s_r4", 256, 82, 0, 4, LQ_TYPE_IQ2_S, Q},
    {LQ_TYPE_IQ4_XS_R8, "iq4_xs_r8", 256, 136, 0, 8, LQ_TYPE_IQ4_XS, Q},
    {LQ_TYPE_IQ1_M_R4, "iq1_m_r4", 32, 7, 2, 4, NONE, Q},
    {LQ_TYPE_BF16_R16, "bf16_r16", 1, 2, 0, 16, LQ_TYPE_BF16, 0},
    {LQ_TYPE_Q6_0_R4, "q6_0_r4", 32, 26, 0, 4, LQ_TYPE_Q6_0, Q},
    {LQ_TYPE_IQ2_BN_R4, "iq2_bn_r4", 64, 16, 4, 4, LQ_TYPE_IQ2_BN, Q},
    {LQ_TYPE_IQ2_K_R4, "iq2_k_r4", 256, 76, 0, 4, LQ_TYPE_IQ2_K, Q},
    {LQ_TYPE_IQ3_K_R4, "iq3_k_r4", 256, 110, 0, 4, LQ_TYPE_IQ3_K, Q},
    {LQ_TYPE_IQ4_K_R4, "iq4_k_r4", 256, 144, 0, 4, LQ_TYPE_IQ4_K, Q},
    {LQ_TYPE_IQ5_K_R4, "iq5_k_r4", 256, 176, 0, 4, LQ_TYPE_IQ5_K, Q},
    {LQ_TYPE_IQ4_KS_R4, "iq4_ks_r4", 256, 136, 4, 4, LQ_TYPE_IQ4_KS, Q},
    {LQ_TYPE_IQ5_KS_R4, "iq5_ks_r4", 256, 168, 4, 4, LQ_TYPE_IQ5_KS, Q},
    {LQ_TYPE_MXFP4_R8, "mxfp4_r8", 32, 17, 0, 8, LQ_TYPE_MXFP4, Q},
    {LQ_TYPE_Q8_K_R16, "q8_k_r16", 256, 258, 0, 16, NONE, Q},
    {LQ_TYPE_Q8_KV_R8, "q8_KV_r8", 32, 32, 4, 8, LQ_TYPE_Q8_KV, Q},
    {LQ_TYPE_Q8_K_R8, "q8_k_r8", 256, 258, 0, 8, NONE, Q},
};

#undef Q
#undef NONE

#define TYPE_TABLE_LEN ((int)(sizeof type_table / sizeof type_table[0]))

static const lq_codec_family *const families[] = {
    &lq_family_float,   &lq_family_legacy,  &lq_family_kquants,
    &lq_family_nonlinear, &lq_family_bitnet, &lq_family_q8,
    &lq_family_lattice, &lq_family_iqk,     &lq_family_iqk_ks,
    &lq_family_trellis, &lq_family_interleaved,
};

int lq_type_count(void) { return TYPE_TABLE_LEN; }

const lq_type_info *lq_type_at(int index) {
    if (index < 0 || index >= TYPE_TABLE_LEN)
        return NULL;
    return &type_table[index];
}

const lq_type_info *lq_type_get(int type) {
    /* the table is sorted by id: binary search */
    int lo = 0, hi = TYPE_TABLE_LEN - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int id = (int)type_table[mid].type;
        if (id == type)
            return &type_table[mid];
        if (id < type)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const char *lq_type_name(int type) {
    const lq_type_info *info = lq_type_get(type);
    return info ? info->name : NULL;
}

int lq_type_from_name(const char *name) {
    if (!name)
        return LQ_ERR_INVALID_ARGUMENT;
    for (int i = 0; i < TYPE_TABLE_LEN; i++)
        if (strcasecmp(type_table[i].name, name) == 0)
            return (int)type_table[i].type;
    return LQ_ERR_UNKNOWN_TYPE;
}

const lq_codec *lq_codec_find(int type) {
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        const lq_codec_family *fam = families[f];
        for (size_t i = 0; i < fam->count; i++)
            if (fam->codecs[i].type == type)
                return &fam->codecs[i];
    }
    return NULL;
}

uint32_t lq_type_caps(int type) {
    const lq_type_info *info = lq_type_get(type);
    if (!info)
        return 0;
    uint32_t caps = info->flags & LQ_CAP_QUANTIZED;
    const lq_codec *c = lq_codec_find(type);
    if (c) {
        if (c->dequantize)
            caps |= LQ_CAP_DECODE;
        if (c->quantize)
            caps |= LQ_CAP_ENCODE;
        if (c->repack && c->unpack)
            caps |= LQ_CAP_REPACK;
    }
    return caps;
}

int64_t lq_row_size(int type, int64_t ncols) {
    const lq_type_info *info = lq_type_get(type);
    if (!info)
        return LQ_ERR_UNKNOWN_TYPE;
    if (ncols <= 0 || ncols % info->block_size != 0)
        return LQ_ERR_BAD_SHAPE;
    int64_t blocks = ncols / info->block_size;
    if (blocks > (INT64_MAX - info->row_meta_size) / info->type_size)
        return LQ_ERR_OVERFLOW;
    return info->row_meta_size + blocks * info->type_size;
}

int64_t lq_tensor_size(int type, int64_t nrows, int64_t ncols) {
    int64_t row = lq_row_size(type, ncols);
    if (row < 0)
        return row;
    const lq_type_info *info = lq_type_get(type);
    if (nrows < 0 || nrows % info->interleave != 0)
        return LQ_ERR_BAD_SHAPE;
    if (nrows > 0 && row > INT64_MAX / nrows)
        return LQ_ERR_OVERFLOW;
    return row * nrows;
}

int64_t lq_find_nonfinite(const float *src, int64_t n) {
    if (!src)
        return -1;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(src[i]))
            return i;
    return -1;
}

/* What a row-level entry point asks of a type's codec. */
typedef enum row_op { ROW_QUANTIZE, ROW_DEQUANTIZE, ROW_REPACK, ROW_UNPACK } row_op;

static bool codec_supports(const lq_codec *codec, const lq_type_info *info,
                           row_op op) {
    if (!codec)
        return false;
    switch (op) {
    case ROW_QUANTIZE: return codec->quantize != NULL;
    case ROW_DEQUANTIZE: return codec->dequantize != NULL;
    case ROW_REPACK: return codec->repack != NULL && info->base_type >= 0;
    case ROW_UNPACK: return codec->unpack != NULL && info->base_type >= 0;
    }
    return false;
}

typedef struct row_call {
    const lq_type_info *info;
    const lq_codec *codec;
    int64_t group_bytes; /* one group of `interleave` rows of the type */
    int64_t groups;
} row_call;

/* The argument checks the row-level entry points share, in the order their
 * errors take precedence. */
static int check_call(int type, row_op op, const void *src, const void *dst,
                      int64_t nrows, int64_t ncols, row_call *call) {
    const lq_type_info *info = lq_type_get(type);
    if (!info)
        return LQ_ERR_UNKNOWN_TYPE;
    if (nrows < 0)
        return LQ_ERR_INVALID_ARGUMENT;
    int64_t total = lq_tensor_size(type, nrows, ncols);
    if (total < 0)
        return (int)total;
    const lq_codec *codec = lq_codec_find(type);
    if (!codec_supports(codec, info, op))
        return LQ_ERR_UNSUPPORTED;
    if (nrows > 0 && (!src || !dst))
        return LQ_ERR_INVALID_ARGUMENT;
    call->info = info;
    call->codec = codec;
    call->group_bytes = lq_row_size(type, ncols) * info->interleave;
    call->groups = nrows / info->interleave;
    return LQ_OK;
}

static bool imatrix_valid(const float *imatrix, int64_t ncols) {
    if (!imatrix)
        return true;
    for (int64_t i = 0; i < ncols; i++)
        if (!(imatrix[i] >= 0.0f) || !isfinite(imatrix[i]))
            return false;
    return true;
}

int64_t lq_quantize_rows(int type, const float *src, int64_t nrows,
                         int64_t ncols, const float *imatrix, void *dst,
                         size_t dst_capacity) {
    row_call c;
    int st = check_call(type, ROW_QUANTIZE, src, dst, nrows, ncols, &c);
    if (st != LQ_OK)
        return st;
    if (!imatrix_valid(imatrix, ncols))
        return LQ_ERR_INVALID_ARGUMENT;
    int64_t total = c.group_bytes * c.groups;
    if ((uint64_t)total > (uint64_t)dst_capacity)
        return LQ_ERR_DST_TOO_SMALL;
    if ((c.info->flags & LQ_CAP_QUANTIZED) &&
        lq_find_nonfinite(src, nrows * ncols) >= 0)
        return LQ_ERR_NONFINITE;
    const int64_t group_floats = ncols * c.info->interleave;
    for (int64_t g = 0; g < c.groups; g++) {
        st = c.codec->quantize(src + g * group_floats,
                               (char *)dst + g * c.group_bytes, ncols, imatrix);
        if (st != LQ_OK)
            return st;
    }
    return total;
}

int lq_dequantize_rows(int type, const void *src, size_t src_size,
                       int64_t nrows, int64_t ncols, float *dst,
                       size_t dst_capacity) {
    row_call c;
    int st = check_call(type, ROW_DEQUANTIZE, src, dst, nrows, ncols, &c);
    if (st != LQ_OK)
        return st;
    if ((uint64_t)(c.group_bytes * c.groups) > (uint64_t)src_size)
        return LQ_ERR_SRC_TOO_SMALL;
    /* nrows * ncols may not fit in 64 bits for a huge low-bit tensor whose
     * byte size does: divide the capacity instead of multiplying */
    if ((uint64_t)nrows > (uint64_t)(dst_capacity / sizeof(float)) / (uint64_t)ncols)
        return LQ_ERR_DST_TOO_SMALL;
    const int64_t group_floats = ncols * c.info->interleave;
    for (int64_t g = 0; g < c.groups; g++)
        c.codec->dequantize((const char *)src + g * c.group_bytes,
                            dst + g * group_floats, ncols);
    return LQ_OK;
}

int lq_dequantize_rows_0_1(int type, const void *src, size_t src_size, int64_t nrows,
                           int64_t ncols, float *dst) {
    return lq_dequantize_rows(type, src, src_size, nrows, ncols, dst, SIZE_MAX);
}

/* Repack and unpack share everything but the direction. */
static int transform_rows(int type, bool to_interleaved, const void *src,
                          size_t src_size, int64_t nrows, int64_t ncols,
                          void *dst, size_t dst_capacity) {
    row_call c;
    int st = check_call(type, to_interleaved ? ROW_REPACK : ROW_UNPACK, src,
                        dst, nrows, ncols, &c);
    if (st != LQ_OK)
        return st;
    lq_repack_group_fn fn = to_interleaved ? c.codec->repack : c.codec->unpack;
    /* the base type's rows may differ in size (q8_KV keeps 8 meta bytes,
     * q8_KV_r8 only 4) */
    int64_t base_group = lq_row_size(c.info->base_type, ncols) * c.info->interleave;
    int64_t in_group = to_interleaved ? base_group : c.group_bytes;
    int64_t out_group = to_interleaved ? c.group_bytes : base_group;
    if ((uint64_t)(in_group * c.groups) > (uint64_t)src_size)
        return LQ_ERR_SRC_TOO_SMALL;
    if ((uint64_t)(out_group * c.groups) > (uint64_t)dst_capacity)
        return LQ_ERR_DST_TOO_SMALL;
    for (int64_t g = 0; g < c.groups; g++)
        fn((const char *)src + g * in_group, (char *)dst + g * out_group, ncols);
    return LQ_OK;
}

int lq_repack_rows(int type, const void *src, size_t src_size, int64_t nrows,
                   int64_t ncols, void *dst, size_t dst_capacity) {
    return transform_rows(type, true, src, src_size, nrows, ncols, dst,
                          dst_capacity);
}

int lq_unpack_rows(int type, const void *src, size_t src_size, int64_t nrows,
                   int64_t ncols, void *dst, size_t dst_capacity) {
    return transform_rows(type, false, src, src_size, nrows, ncols, dst,
                          dst_capacity);
}

uint16_t lq_fp32_to_fp16(float f) { return lq_float_to_half(f); }
float lq_fp16_to_fp32(uint16_t h) { return lq_half_to_float(h); }
uint16_t lq_fp32_to_bf16(float f) { return lq_float_to_bf16(f); }
float lq_bf16_to_fp32(uint16_t h) { return lq_bf16_to_float(h); }

/* Spelled from the header's numbers so that the two cannot disagree. */
#define LQ_STRINGIFY(x) #x
#define LQ_VERSION_STRING(major, minor, patch) \
    LQ_STRINGIFY(major) "." LQ_STRINGIFY(minor) "." LQ_STRINGIFY(patch)

const char *lq_version(void) {
    return LQ_VERSION_STRING(LQ_VERSION_MAJOR, LQ_VERSION_MINOR, LQ_VERSION_PATCH);
}
