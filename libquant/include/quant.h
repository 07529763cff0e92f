/*
 * libquant: quantization codecs for LLM weights in the GGUF format.
 *
 * Public API. Every function is prefixed lq_. Sizes are explicit, nothing is
 * allocated behind the caller's back except where a function says so, and the
 * codec functions never start threads.
 *
 * Buffers: every function of the public headers that writes into a buffer
 * the caller owns takes that buffer's capacity right after it (as zstd
 * does). A capacity is always in bytes, float buffers included, so a count
 * of floats passed by mistake is too small and fails instead of overflowing.
 * Below what the call needs, the function returns LQ_ERR_DST_TOO_SMALL and
 * writes nothing. (Single values returned through a pointer, such as
 * lq_vec_dot's result, are not buffers.)
 *
 * Type ids are the GGUF/ggml ids used by ik_llama.cpp, so files move between
 * the two projects unchanged.
 */
#ifndef LIBQUANT_QUANT_H
#define LIBQUANT_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of these headers (lq_version() gives the library's). Before
 * 1.0 an incompatible change of the API raises the minor number, and every
 * incompatible change of the ABI raises the shared library's soname:
 * 0.2.0 (libquant.so.1) gave lq_dequantize_rows, lq_matmul and
 * lq_imatrix_entry_weights the capacity of their output; 0.1.0 was
 * libquant.so.0. */
#define LQ_VERSION_MAJOR 0
#define LQ_VERSION_MINOR 2
#define LQ_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* Functions that can fail return an lq_status (0 = success, negative = error)
 * or, where they return a size, a negative lq_status on failure. */
typedef enum lq_status {
    LQ_OK = 0,
    LQ_ERR_INVALID_ARGUMENT = -1,  /* NULL pointer, negative count, ... */
    LQ_ERR_UNKNOWN_TYPE = -2,      /* type id not in the registry */
    LQ_ERR_UNSUPPORTED = -3,       /* type known, operation not implemented */
    LQ_ERR_BAD_SHAPE = -4,         /* ncols not a multiple of the block size,
                                      nrows not a multiple of the interleave */
    LQ_ERR_DST_TOO_SMALL = -5,     /* output capacity below what is needed */
    LQ_ERR_SRC_TOO_SMALL = -6,     /* input shorter than the shape implies */
    LQ_ERR_NONFINITE = -7,         /* NaN or Inf in the input of a quantizer */
    LQ_ERR_NO_MEMORY = -8,
    LQ_ERR_IO = -9,                /* file could not be opened/read/written */
    LQ_ERR_FORMAT = -10,           /* malformed file */
    LQ_ERR_OVERFLOW = -11,         /* a size computation would overflow */
    LQ_ERR_NOT_FOUND = -12,        /* key or tensor absent */
} lq_status;

/* A short stable name for a status ("LQ_ERR_BAD_SHAPE"); never NULL. */
const char *lq_error_name(int status);
/* A one-line human description of a status; never NULL. */
const char *lq_error_message(int status);

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum lq_type {
    LQ_TYPE_F32 = 0,
    LQ_TYPE_F16 = 1,
    LQ_TYPE_Q4_0 = 2,
    LQ_TYPE_Q4_1 = 3,
    LQ_TYPE_Q5_0 = 6,
    LQ_TYPE_Q5_1 = 7,
    LQ_TYPE_Q8_0 = 8,
    LQ_TYPE_Q8_1 = 9,
    LQ_TYPE_Q2_K = 10,
    LQ_TYPE_Q3_K = 11,
    LQ_TYPE_Q4_K = 12,
    LQ_TYPE_Q5_K = 13,
    LQ_TYPE_Q6_K = 14,
    LQ_TYPE_Q8_K = 15,
    LQ_TYPE_IQ2_XXS = 16,
    LQ_TYPE_IQ2_XS = 17,
    LQ_TYPE_IQ3_XXS = 18,
    LQ_TYPE_IQ1_S = 19,
    LQ_TYPE_IQ4_NL = 20,
    LQ_TYPE_IQ3_S = 21,
    LQ_TYPE_IQ2_S = 22,
    LQ_TYPE_IQ4_XS = 23,
    LQ_TYPE_I8 = 24,
    LQ_TYPE_I16 = 25,
    LQ_TYPE_I32 = 26,
    LQ_TYPE_I64 = 27,
    LQ_TYPE_F64 = 28,
    LQ_TYPE_IQ1_M = 29,
    LQ_TYPE_BF16 = 30,
    LQ_TYPE_Q4_0_4_4 = 31,
    LQ_TYPE_Q4_0_4_8 = 32,
    LQ_TYPE_Q4_0_8_8 = 33,
    LQ_TYPE_I2_S = 36,
    LQ_TYPE_MXFP4 = 39,
    LQ_TYPE_Q1_0_G128 = 41,
    LQ_TYPE_Q8_0_X4 = 97,
    LQ_TYPE_Q8_1_X4 = 98,
    LQ_TYPE_Q8_2_X4 = 99,
    LQ_TYPE_Q6_0 = 133,
    LQ_TYPE_IQ1_BN = 134,
    LQ_TYPE_IQ2_BN = 135,
    LQ_TYPE_Q8_K64 = 136,
    LQ_TYPE_IQ2_K = 137,
    LQ_TYPE_IQ3_K = 138,
    LQ_TYPE_IQ4_K = 139,
    LQ_TYPE_IQ5_K = 140,
    LQ_TYPE_IQ6_K = 141,
    LQ_TYPE_IQ4_KS = 144,
    LQ_TYPE_IQ2_KS = 145,
    LQ_TYPE_IQ4_KSS = 146,
    LQ_TYPE_Q8_K16 = 147,
    LQ_TYPE_Q8_K32 = 148,
    LQ_TYPE_Q8_KR8 = 149,
    LQ_TYPE_Q8_K128 = 150,
    LQ_TYPE_Q8_KV = 151,
    LQ_TYPE_IQ5_KS = 152,
    LQ_TYPE_IQ2_KT = 153,
    LQ_TYPE_IQ3_KT = 154,
    LQ_TYPE_IQ4_KT = 155,
    LQ_TYPE_IQ3_KS = 156,
    LQ_TYPE_IQ2_KL = 157,
    LQ_TYPE_IQ1_KT = 158,
    LQ_TYPE_Q4_0_R8 = 202,
    LQ_TYPE_Q5_0_R4 = 206,
    LQ_TYPE_Q8_0_R8 = 208,
    LQ_TYPE_Q2_K_R4 = 210,
    LQ_TYPE_Q3_K_R4 = 211,
    LQ_TYPE_Q4_K_R4 = 212,
    LQ_TYPE_Q5_K_R4 = 213,
    LQ_TYPE_Q6_K_R4 = 214,
    LQ_TYPE_IQ2_XXS_R4 = 216,
    LQ_TYPE_IQ2_XS_R4 = 217,
    LQ_TYPE_IQ3_XXS_R4 = 218,
    LQ_TYPE_IQ1_S_R4 = 219,
    LQ_TYPE_IQ4_NL_R4 = 220,
    LQ_TYPE_IQ3_S_R4 = 221,
    LQ_TYPE_IQ2_S_R4 = 222,
    LQ_TYPE_IQ4_XS_R8 = 223,
    LQ_TYPE_IQ1_M_R4 = 229,
    LQ_TYPE_BF16_R16 = 230,
    LQ_TYPE_Q6_0_R4 = 233,
    LQ_TYPE_IQ2_BN_R4 = 335,
    LQ_TYPE_IQ2_K_R4 = 337,
    LQ_TYPE_IQ3_K_R4 = 338,
    LQ_TYPE_IQ4_K_R4 = 339,
    LQ_TYPE_IQ5_K_R4 = 340,
    LQ_TYPE_IQ4_KS_R4 = 344,
    LQ_TYPE_IQ5_KS_R4 = 352,
    LQ_TYPE_MXFP4_R8 = 353,
    LQ_TYPE_Q8_K_R16 = 397,
    LQ_TYPE_Q8_KV_R8 = 398,
    LQ_TYPE_Q8_K_R8 = 399,
} lq_type;

/* One past the largest type id; ids below it may or may not be valid. */
#define LQ_TYPE_ID_LIMIT 400

/* Capabilities, as bit flags returned by lq_type_caps(). */
enum {
    LQ_CAP_DECODE = 1u << 0,  /* lq_dequantize_rows works */
    LQ_CAP_ENCODE = 1u << 1,  /* lq_quantize_rows works */
    LQ_CAP_REPACK = 1u << 2,  /* lq_repack_rows / lq_unpack_rows work
                                 (interleaved types that repack a base type) */
    LQ_CAP_QUANTIZED = 1u << 3, /* a block-quantized type (not f32/f16/bf16/int) */
};

/* Static description of a type. Returned pointers stay valid forever. */
typedef struct lq_type_info {
    lq_type type;
    const char *name;       /* the reference's spelling: "q4_K", "iq4_ks_r4" */
    int32_t block_size;     /* weights per block */
    int32_t type_size;      /* bytes per block (per row for interleaved types:
                               a group of N rows stores N*type_size bytes per
                               block column) */
    int32_t row_meta_size;  /* bytes of per-row data before the first block */
    int32_t interleave;     /* rows stored together: 1, 4, 8 or 16 */
    int32_t base_type;      /* the type an interleaved type repacks, or -1 */
    uint32_t flags;         /* LQ_CAP_QUANTIZED, and registry-internal bits */
} lq_type_info;

/* NULL for an id that is not a type. */
const lq_type_info *lq_type_get(int type);
/* Number of types in the registry, and the i-th one (i in [0, count)),
 * in increasing id order. */
int lq_type_count(void);
const lq_type_info *lq_type_at(int index);
/* The type's name, or NULL for an unknown id. */
const char *lq_type_name(int type);
/* Case-insensitive lookup; returns the type id or LQ_ERR_UNKNOWN_TYPE. */
int lq_type_from_name(const char *name);
/* Capabilities of this build (LQ_CAP_* bits); 0 for an unknown id. */
uint32_t lq_type_caps(int type);

/* Bytes of one row of ncols weights: row meta + ncols/block_size * type_size.
 * Negative lq_status if the type is unknown, ncols is not a positive multiple
 * of the block size, or the size overflows. */
int64_t lq_row_size(int type, int64_t ncols);
/* Bytes of nrows x ncols; also checks that nrows is a multiple of the
 * interleave factor. */
int64_t lq_tensor_size(int type, int64_t nrows, int64_t ncols);

/* ------------------------------------------------------------------------ */
/* Codecs                                                                    */
/* ------------------------------------------------------------------------ */

/* Quantize nrows x ncols floats (row-major) to `type` into dst, which holds
 * dst_capacity bytes (at least lq_tensor_size; less gives
 * LQ_ERR_DST_TOO_SMALL with nothing written).
 * imatrix: NULL, or ncols positive importance weights (one per column).
 * Returns the number of bytes written (lq_tensor_size) or a negative status.
 * NaN/Inf in src of a quantized type gives LQ_ERR_NONFINITE and leaves dst
 * in an unspecified state; F16/BF16 conversion carries NaN/Inf through.
 * Thread-safe; single-threaded; callers split rows across their own threads
 * (at multiples of the interleave factor). */
int64_t lq_quantize_rows(int type, const float *src, int64_t nrows,
                         int64_t ncols, const float *imatrix, void *dst,
                         size_t dst_capacity);

/* Decode nrows x ncols weights of `type` from src (src_size bytes) to
 * floats in dst, which holds dst_capacity bytes (at least
 * nrows * ncols * sizeof(float)). Returns LQ_OK or a negative status:
 * LQ_ERR_SRC_TOO_SMALL, LQ_ERR_DST_TOO_SMALL (nothing written), and the
 * type and shape errors of lq_tensor_size. */
int lq_dequantize_rows(int type, const void *src, size_t src_size,
                       int64_t nrows, int64_t ncols, float *dst,
                       size_t dst_capacity);

/* Source compatibility with 0.1, deprecated (removed at 1.0): a call with
 * 0.1's arguments, without the capacity, still compiles, warns, and trusts
 * dst to hold nrows * ncols floats. A call with the capacity is the function
 * above. (The macro picks by the number of arguments; &lq_dequantize_rows is
 * the function itself.) */
#if defined(__GNUC__) || defined(__clang__)
#define LQ_DEPRECATED(why) __attribute__((deprecated(why)))
#else
#define LQ_DEPRECATED(why)
#endif
int lq_dequantize_rows_0_1(int type, const void *src, size_t src_size, int64_t nrows,
                           int64_t ncols, float *dst)
    LQ_DEPRECATED("pass the capacity of dst in bytes: lq_dequantize_rows(..., dst, capacity)");
#define LQ_ARG_8(a1, a2, a3, a4, a5, a6, a7, name, ...) name
#define lq_dequantize_rows(...)                                                              \
    LQ_ARG_8(__VA_ARGS__, lq_dequantize_rows, lq_dequantize_rows_0_1, 0)(__VA_ARGS__)

/* Index of the first non-finite value in src[0..n), or -1 if all are finite. */
int64_t lq_find_nonfinite(const float *src, int64_t n);

/* Interleave nrows rows of base type into the interleaved type `type`
 * (byte-exact with the reference's offline repack), and back. nrows must be a
 * multiple of the interleave factor. src and dst must not overlap. dst holds
 * dst_capacity bytes: at least the output's lq_tensor_size, or
 * LQ_ERR_DST_TOO_SMALL with nothing written. */
int lq_repack_rows(int type, const void *src, size_t src_size, int64_t nrows,
                   int64_t ncols, void *dst, size_t dst_capacity);
int lq_unpack_rows(int type, const void *src, size_t src_size, int64_t nrows,
                   int64_t ncols, void *dst, size_t dst_capacity);

/* ------------------------------------------------------------------------ */
/* Scalar conversions (round to nearest even; NaN and Inf are preserved)     */
/* ------------------------------------------------------------------------ */

uint16_t lq_fp32_to_fp16(float f);
float lq_fp16_to_fp32(uint16_t h);
uint16_t lq_fp32_to_bf16(float f);
float lq_bf16_to_fp32(uint16_t h);

/* Library version as "MAJOR.MINOR.PATCH". */
const char *lq_version(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBQUANT_QUANT_H */
