/*
 * Internal contract of the kernel files.
 *
 * A kernel family file (dot_float.c, dot_legacy.c, dot_kquants.c, ...)
 * exports one lq_kernel_family: per weight type, the activation format it
 * wants and a row dot product. A row dot is a loop over the weight blocks
 * calling a small block kernel that does integer multiply-adds of the
 * weight's integer levels with the int8 activations and then applies the
 * float scales; block results are added into one float in block order.
 * SIMD versions are meant to follow this structure one to one.
 */
#ifndef LIBQUANT_KERNELS_H
#define LIBQUANT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "quant_kernels.h"

enum { LQ_ACT_Q8_32_BLOCK = 32 };

/* LQ_ACT_Q8_32: x[i] ~ d * qs[i]; half_sums[h] = sum of qs[16h .. 16h+15]
 * (for weight offsets and the k-quants' sub-block mins). 40 bytes. */
typedef struct lq_act_q8_32 {
    float d;
    int16_t half_sums[2];
    int8_t qs[LQ_ACT_Q8_32_BLOCK];
} lq_act_q8_32;

/* Dot of one weight row (ncols weights, row meta included) with one
 * activation row in the kernel's format. */
typedef float (*lq_row_dot_fn)(const void *w_row, const void *act, int64_t ncols);

typedef struct lq_dot_kernel {
    int type;
    lq_act_format act;
    lq_row_dot_fn dot;
} lq_dot_kernel;

typedef struct lq_kernel_family {
    const char *name;
    const lq_dot_kernel *kernels;
    size_t count;
} lq_kernel_family;

extern const lq_kernel_family lq_kernels_float;   /* dot_float.c: f32, f16, bf16 */
extern const lq_kernel_family lq_kernels_legacy;  /* dot_legacy.c: q4_0 .. q8_0, iq4_nl, mxfp4 */
extern const lq_kernel_family lq_kernels_kquants; /* dot_kquants.c: q2_K .. q6_K, iq4_xs */
extern const lq_kernel_family lq_kernels_iqk;     /* dot_iqk.c: iq2_k .. iq5_k */
extern const lq_kernel_family lq_kernels_iqk_ks;  /* dot_iqk_ks.c: iq2_ks .. iq5_ks */
extern const lq_kernel_family lq_kernels_bitnet;  /* dot_bitnet.c: iq1_bn, iq2_bn */
extern const lq_kernel_family lq_kernels_q8;      /* dot_q8.c: q8_KV */

/* ---- run-time choice of SIMD micro-kernels (dispatch.c) -----------------
 * The scalar kernels are the specification; a SIMD kernel gives the same
 * bits (integer block sums are exact; the float scales are applied and the
 * block results added in the scalar code's order). */
typedef enum lq_simd_level {
    LQ_SIMD_SCALAR = 0,
    LQ_SIMD_AVX2 = 1,   /* avx2 + fma */
    LQ_SIMD_AVX512 = 2, /* avx512 f, bw, vl, vnni (on top of avx2) */
} lq_simd_level;

/* The best level of this CPU, lowered by the environment variable
 * LQ_KERNELS=scalar|avx2; detected once per process (pthread_once). */
lq_simd_level lq_simd_level_default(void);
/* AVX-512 BF16 is there and the default level is AVX512 (gemm_bf16.c). */
_Bool lq_simd_bf16(void);
/* The row dot of `type` at `level`: its SIMD version when one exists at that
 * level or below, else `scalar`. */
lq_row_dot_fn lq_simd_row_dot(int type, lq_simd_level level, lq_row_dot_fn scalar);

typedef struct lq_simd_kernel {
    int type;
    lq_row_dot_fn dot;
} lq_simd_kernel;

/* per-architecture tables (empty when not compiled for x86) */
extern const lq_simd_kernel lq_simd_kernels_avx2[];
extern const size_t lq_simd_kernels_avx2_count;
extern const lq_simd_kernel lq_simd_kernels_avx512[];
extern const size_t lq_simd_kernels_avx512_count;
/* LQ_ACT_Q8_32 quantization with AVX2 (dot_avx2.c); same bits as scalar */
void lq_act_quantize_q8_32_avx2(const float *x, int64_t ncols, lq_act_q8_32 *out);

/* Internal: a context whose kernels are those of `level` (clamped to the
 * CPU's), for the SIMD-equals-scalar test. */
lq_matmul_ctx *lq_matmul_ctx_new_level(int nthreads, lq_simd_level level);

/* The integer core of the 256-weight super-block kernels: the sum over the
 * eight activation blocks k of d_k * sum_{sub-blocks s in k} scale[s] *
 * sum(level * a), for sub-blocks of `sub` weights (16 or 32). */
float lq_superblock_dot(const int8_t *level, const lq_act_q8_32 *a, const int *scale,
                        int sub);

/* The kernel of the generic path: float weights decoded into aligned
 * scratch against LQ_ACT_F32 (same bits as the f32 kernel). */
extern const lq_dot_kernel lq_dot_kernel_decoded;

/* The native kernel of a type, or NULL (then the generic path decodes). */
const lq_dot_kernel *lq_dot_kernel_find(int type);

/* Bytes of one activation row of ncols values in a format (ncols a multiple
 * of the format's block). */
int64_t lq_act_row_bytes(lq_act_format fmt, int64_t ncols);
/* Quantize ncols floats into one activation row of the format, with the
 * SIMD code of `level` where there is one (same bits). */
void lq_act_quantize_row(lq_act_format fmt, const float *x, int64_t ncols,
                         void *act, lq_simd_level level);

/* sum of w[i] * x[i], added in chunks of 32 (each chunk summed in a fixed
 * order, chunk sums added to `total` in order), so a row dotted in pieces of
 * a multiple of 32 gives the same bits as all at once. */
float lq_dot_f32_accumulate(const float *w, const float *x, int64_t n, float total);

#endif /* LIBQUANT_KERNELS_H */
