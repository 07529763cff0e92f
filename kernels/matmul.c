/*
 * lq_matmul, lq_vec_dot and the activation API: dispatch from a weight type
 * to its kernel, the generic decode path, and the threading.
 *
 * Every group of `interleave` weight rows is first "materialized" as rows a
 * kernel can read:
 *   direct:   a non-interleaved type with a native kernel: the stored rows;
 *   unpacked: an interleaved type whose base type has a native kernel: the
 *             group unpacked by its codec into base rows (per-thread scratch);
 *   decoded:  anything else: the group decoded by its codec to floats
 *             (per-thread scratch), dotted with the exact float activations.
 * Rows are taken a tile of about TILE_ROWS at a time and every activation
 * vector is run over the whole tile, so that a vector is read from memory
 * once per tile rather than once per row.
 * Work is split by groups of rows, each output computed by one thread with
 * the kernel's fixed summation order, so results do not depend on the thread
 * count or on how the activation vectors are split between calls.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gemm_bf16.h"
#include "gemm_float.h"
#include "kernels.h"
#include "panel.h"
#include "pool.h"

enum { MAX_THREADS = 256, TILE_ROWS = 16 };
/* largest block and row-meta + block bytes that lq_vec_dot's generic path
 * decodes on the stack */
enum { MAX_DECODE_BLOCK = 256, MAX_DECODE_BYTES = 512 };

static const lq_kernel_family *const kernel_families[] = {
    &lq_kernels_float,
    &lq_kernels_legacy,
    &lq_kernels_kquants,
    &lq_kernels_iqk,
    &lq_kernels_iqk_ks,
    &lq_kernels_bitnet,
    &lq_kernels_q8,
};

const lq_dot_kernel *lq_dot_kernel_find(int type) {
    for (size_t f = 0; f < sizeof kernel_families / sizeof kernel_families[0]; f++) {
        const lq_kernel_family *fam = kernel_families[f];
        for (size_t i = 0; i < fam->count; i++)
            if (fam->kernels[i].type == type)
                return &fam->kernels[i];
    }
    return NULL;
}

/* ---- plans ----------------------------------------------------------------- */

typedef enum row_source { ROWS_DIRECT, ROWS_UNPACKED, ROWS_DECODED } row_source;

/* The packed path (panel.h): rows decoded a block at a time into the
 * integer compute layout, multiplied by the tile micro-kernel. */
typedef struct panel_plan {
    const lq_panel_decoder *decoder; /* NULL: the row-kernel paths */
    lq_panel_decode_fn simd_decode;  /* full chunks, lane order; or NULL */
    lq_panel_gemv_fn gemv;        /* one vector, decode fused (full chunks) */
    lq_panel_group_decode_fn group_decode; /* an interleaved group's full
                                              chunks straight from its layout */
    lq_group_gemv_fn group_gemv;     /* one vector, group decode fused */
    lq_panel_gemv_fn groups_gemv;    /* one vector over whole groups, the
                                        type's own (its decoder inlined) */
    lq_tile_kernel tile;
    int64_t chunks;                  /* per row */
} panel_plan;

typedef struct plan {
    const lq_type_info *info;
    const lq_codec *codec;
    const lq_dot_kernel *kernel; /* applied to every materialized row */
    lq_row_dot_fn dot;           /* kernel->dot or its SIMD version */
    lq_simd_level level;
    row_source source;
    int64_t group_bytes;         /* stored bytes of one group */
    int64_t row_bytes;           /* bytes of one materialized row */
    int64_t act_bytes;           /* bytes of one activation row */
    panel_plan panel;
    bool bf16_gemm;              /* bf16 rows through gemm_bf16.c */
    bool bf16_r16_gemm;          /* bf16_r16 groups read in place (gemm_bf16_r16.c) */
    lq_bf16_row_decode_fn bf16_decode; /* rows decoded to bf16 for gemm_bf16.c */
    lq_bf16_gemv_fn bf16_gemv;   /* ... and one vector with the decoder fused */
    bool float_gemm;             /* f32 / f16 rows through gemm_float.c */
} plan;

/* The kernel and row source of a type, independent of the shape. */
static int choose_kernel(int wtype, plan *p) {
    p->info = lq_type_get(wtype);
    if (!p->info)
        return LQ_ERR_UNKNOWN_TYPE;
    p->codec = lq_codec_find(wtype);
    if (!(lq_type_caps(wtype) & LQ_CAP_DECODE))
        return LQ_ERR_UNSUPPORTED;
    int stored_type = -1; /* the type whose rows the kernels read */
    if (p->info->interleave == 1) {
        stored_type = wtype;
        p->source = ROWS_DIRECT;
    } else if (p->codec->unpack && lq_panel_unpacked_type(wtype) >= 0) {
        stored_type = lq_panel_unpacked_type(wtype);
        p->source = ROWS_UNPACKED;
    }
    p->kernel = stored_type >= 0 ? lq_dot_kernel_find(stored_type) : NULL;
    if (!p->kernel) {
        /* a type with a panel decoder but no row kernel keeps its rows for
         * lq_matmul; lq_vec_dot decodes it block by block */
        p->kernel = &lq_dot_kernel_decoded;
        if (stored_type < 0 || !lq_panel_decoder_find(stored_type))
            p->source = ROWS_DECODED;
    }
    return LQ_OK;
}

static int make_plan(int wtype, int64_t ncols, lq_simd_level level, plan *p) {
    int st = choose_kernel(wtype, p);
    if (st != LQ_OK)
        return st;
    p->level = level;
    /* the decoded rows' kernel is the f32 one, so it has the f32 SIMD version */
    p->dot = lq_simd_row_dot(p->kernel->type, level, p->kernel->dot);
    int64_t row = lq_row_size(wtype, ncols);
    if (row < 0)
        return (int)row;
    p->group_bytes = row * p->info->interleave;
    switch (p->source) {
    case ROWS_DIRECT:
        p->row_bytes = row;
        break;
    case ROWS_UNPACKED:
        p->row_bytes = lq_row_size(lq_panel_unpacked_type(wtype), ncols);
        break;
    case ROWS_DECODED:
        p->row_bytes = ncols * (int64_t)sizeof(float);
        break;
    }
    if (p->row_bytes < 0)
        return (int)p->row_bytes;
    p->act_bytes = lq_act_row_bytes(p->kernel->act, ncols);
    /* f16 too: its weights rounded to bf16 (within the bound, and twice the
     * multiply rate of f32 FMAs) */
    p->bf16_gemm = (wtype == LQ_TYPE_BF16 || wtype == LQ_TYPE_F16) && level >= LQ_SIMD_AVX512 &&
                   lq_simd_bf16();
    p->bf16_r16_gemm = wtype == LQ_TYPE_BF16_R16 && level >= LQ_SIMD_AVX512 && lq_simd_bf16();
    p->bf16_decode = level >= LQ_SIMD_AVX512 && p->info->interleave == 1
                         ? lq_bf16_row_decoder(wtype) : NULL;
    p->bf16_gemv = p->bf16_decode ? lq_bf16_row_gemv(wtype) : NULL;
    p->float_gemm = (wtype == LQ_TYPE_F32 || wtype == LQ_TYPE_F16) && level >= LQ_SIMD_AVX512 &&
                    !p->bf16_gemm;
    const int packed_type = p->source == ROWS_DIRECT ? wtype
                            : p->source == ROWS_UNPACKED ? lq_panel_unpacked_type(wtype) : -1;
    p->panel.decoder = packed_type >= 0 ? lq_panel_decoder_find(packed_type) : NULL;
    if (p->panel.decoder) {
        p->panel.simd_decode = lq_panel_decode_simd(packed_type, level);
        if (p->source == ROWS_UNPACKED && ncols % LQ_PANEL_K == 0) {
            p->panel.group_decode = lq_panel_group_decode_simd(wtype, level);
            /* the type's own fused GEMV (legacy and k-quant forms, then the
             * IQK ones), else the generic one over its group decoder */
            if (p->panel.group_decode && p->info->interleave <= 16) {
                p->panel.group_gemv = lq_group_gemv_fused(wtype, level);
                if (!p->panel.group_gemv)
                    p->panel.group_gemv = lq_group_gemv_fused_iqk(wtype, level);
                if (!p->panel.group_gemv)
                    p->panel.group_gemv = lq_group_gemv_for(level, packed_type);
            }
            /* an interleaved type's own product over whole groups (the
             * lattice forms: their decoders inlined) */
            if (p->panel.group_decode)
                p->panel.groups_gemv = lq_panel_gemv_simd(wtype, level);
        }
        /* an interleaved type without a group GEMV unpacks each group and
         * runs its base type's fused GEMV on the rows */
        if (ncols % LQ_PANEL_K == 0 && !p->panel.group_gemv)
            p->panel.gemv = lq_panel_gemv_simd(packed_type, level);
        p->panel.tile = lq_tile_kernel_for(level, packed_type);
        p->panel.chunks = lq_panel_chunks(ncols);
    }
    const lq_panel_own_group *own = p->panel.decoder ? NULL : lq_panel_own_group_find(wtype);
    if (own) {
        /* decoded a group at a time straight from its layout */
        lq_panel_group_decode_fn simd =
            ncols % LQ_PANEL_K == 0 ? lq_panel_group_decode_simd(wtype, level) : NULL;
        p->panel.decoder = &own->decoder;
        p->panel.group_decode = simd ? simd : own->group;
        p->panel.group_gemv = lq_group_gemv_for(level, wtype);
        p->panel.groups_gemv = simd ? lq_panel_gemv_simd(wtype, level) : NULL;
        p->panel.tile = lq_tile_kernel_for(level, wtype);
        p->panel.chunks = lq_panel_chunks(ncols);
    }
    return LQ_OK;
}

/* ---- activations and single rows ----------------------------------------- */

int lq_activation_format(int wtype) {
    plan p = {0};
    int st = choose_kernel(wtype, &p);
    return st != LQ_OK ? st : (int)p.kernel->act;
}

int64_t lq_activation_size(int wtype, int64_t ncols) {
    plan p = {0};
    int st = make_plan(wtype, ncols, lq_simd_level_default(), &p);
    return st != LQ_OK ? st : p.act_bytes;
}

int lq_quantize_activation(int wtype, const float *x, int64_t ncols, void *act,
                           size_t act_capacity) {
    plan p = {0};
    int st = make_plan(wtype, ncols, lq_simd_level_default(), &p);
    if (st != LQ_OK)
        return st;
    if (!x || !act)
        return LQ_ERR_INVALID_ARGUMENT;
    if ((uint64_t)p.act_bytes > (uint64_t)act_capacity)
        return LQ_ERR_DST_TOO_SMALL;
    lq_act_quantize_row(p.kernel->act, x, ncols, act, p.level);
    return LQ_OK;
}

/* The generic path one block at a time, so that no row-sized scratch is
 * needed: each block is decoded as a one-block row (the row meta followed by
 * the block), which a codec decodes like the same block of the full row. */
static int dot_decoded_blockwise(const lq_type_info *info, const lq_codec *codec,
                                 const uint8_t *w_row, const float *x,
                                 int64_t ncols, float *result) {
    const int64_t bs = info->block_size, meta = info->row_meta_size;
    if (bs > MAX_DECODE_BLOCK || meta + info->type_size > MAX_DECODE_BYTES)
        return LQ_ERR_UNSUPPORTED;
    uint8_t one_block[MAX_DECODE_BYTES];
    float values[MAX_DECODE_BLOCK];
    memcpy(one_block, w_row, (size_t)meta);
    float total = 0.0f;
    for (int64_t b = 0; b < ncols / bs; b++) {
        memcpy(one_block + meta, w_row + meta + b * info->type_size,
               (size_t)info->type_size);
        codec->dequantize(one_block, values, bs);
        total = lq_dot_f32_accumulate(values, x + b * bs, bs, total);
    }
    *result = total;
    return LQ_OK;
}

int lq_vec_dot(int wtype, int64_t ncols, const void *w_row, const void *act,
               float *result) {
    plan p = {0};
    int st = make_plan(wtype, ncols, lq_simd_level_default(), &p);
    if (st != LQ_OK)
        return st;
    if (p.info->interleave != 1)
        return LQ_ERR_UNSUPPORTED;
    if (!w_row || !act || !result)
        return LQ_ERR_INVALID_ARGUMENT;
    if (p.kernel == &lq_dot_kernel_decoded)
        return dot_decoded_blockwise(p.info, p.codec, w_row, act, ncols, result);
    *result = p.dot(w_row, act, ncols);
    return LQ_OK;
}

/* ---- context ------------------------------------------------------------- */

struct lq_matmul_ctx {
    lq_pool *pool;
    void *act;             /* activation rows of the current call */
    size_t act_capacity;
    void **scratch;        /* one materialized tile of rows per thread */
    size_t scratch_capacity;
    lq_simd_level level;   /* kernels used by this context */
};

lq_matmul_ctx *lq_matmul_ctx_new_level(int nthreads, lq_simd_level level) {
    if (nthreads < 1 || nthreads > MAX_THREADS)
        return NULL;
    lq_matmul_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    lq_simd_level cpu = lq_simd_level_default();
    ctx->level = level < cpu ? level : cpu;
    ctx->scratch = calloc((size_t)nthreads, sizeof *ctx->scratch);
    ctx->pool = lq_pool_new(nthreads);
    if (!ctx->scratch || !ctx->pool) {
        lq_matmul_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

lq_matmul_ctx *lq_matmul_ctx_new(int nthreads) {
    return lq_matmul_ctx_new_level(nthreads, lq_simd_level_default());
}

void lq_matmul_ctx_free(lq_matmul_ctx *ctx) {
    if (!ctx)
        return;
    if (ctx->scratch && ctx->pool)
        for (int t = 0; t < lq_pool_threads(ctx->pool); t++)
            free(ctx->scratch[t]);
    free(ctx->scratch);
    free(ctx->act);
    lq_pool_free(ctx->pool);
    free(ctx);
}

int lq_matmul_ctx_threads(const lq_matmul_ctx *ctx) {
    return ctx ? lq_pool_threads(ctx->pool) : 0;
}

enum { SCRATCH_ALIGN = 64 };

static size_t round_up(size_t n) { return (n + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN; }

/* Grow a 64-byte aligned buffer to at least `need` bytes; contents are not
 * kept. */
static bool reserve(void **buf, size_t *capacity, size_t need) {
    if (need <= *capacity)
        return true;
    free(*buf);
    *buf = aligned_alloc(SCRATCH_ALIGN, round_up(need));
    *capacity = *buf ? need : 0;
    return *buf != NULL;
}

static int reserve_scratch(lq_matmul_ctx *ctx, size_t act_need, size_t tile_need) {
    if (!reserve(&ctx->act, &ctx->act_capacity, act_need))
        return LQ_ERR_NO_MEMORY;
    if (tile_need <= ctx->scratch_capacity)
        return LQ_OK;
    int nthreads = lq_pool_threads(ctx->pool);
    for (int t = 0; t < nthreads; t++) {
        free(ctx->scratch[t]);
        ctx->scratch[t] = aligned_alloc(SCRATCH_ALIGN, round_up(tile_need));
    }
    for (int t = 0; t < nthreads; t++)
        if (!ctx->scratch[t]) {
            ctx->scratch_capacity = 0;
            return LQ_ERR_NO_MEMORY;
        }
    ctx->scratch_capacity = tile_need;
    return LQ_OK;
}

/* ---- the multiplication -------------------------------------------------- */

typedef struct matmul_job {
    const plan *p;
    lq_matmul_ctx *ctx;
    const uint8_t *w;
    int64_t nrows, ncols;
    const float *x;
    int64_t n;
    float *y;
} matmul_job;

/* [begin, end) of the i-th of `parts` near-equal parts of count items */
static void split_range(int64_t count, int i, int parts, int64_t *begin, int64_t *end) {
    *begin = count * i / parts;
    *end = count * (i + 1) / parts;
}

static void quantize_activations(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    int64_t begin, end;
    split_range(job->n, ithread, nthreads, &begin, &end);
    for (int64_t j = begin; j < end; j++)
        lq_act_quantize_row(job->p->kernel->act, job->x + j * job->ncols, job->ncols,
                            (uint8_t *)job->ctx->act + j * job->p->act_bytes,
                            job->p->level);
}

/* Groups per tile: about TILE_ROWS rows, at least one group. */
static int64_t tile_groups(const plan *p) {
    int64_t groups = TILE_ROWS / p->info->interleave;
    return groups > 0 ? groups : 1;
}

/* The rows of groups [g, g + count) as the kernel reads them, one after
 * another, row_bytes apart. */
static const uint8_t *materialize_tile(const matmul_job *job, int64_t g, int64_t count,
                                       uint8_t *scratch) {
    const plan *p = job->p;
    const uint8_t *stored = job->w + g * p->group_bytes;
    const int64_t out_bytes = p->row_bytes * p->info->interleave;
    for (int64_t t = 0; t < count && p->source != ROWS_DIRECT; t++) {
        if (p->source == ROWS_UNPACKED)
            p->codec->unpack(stored + t * p->group_bytes, scratch + t * out_bytes, job->ncols);
        else
            p->codec->dequantize(stored + t * p->group_bytes,
                                 (float *)(void *)(scratch + t * out_bytes), job->ncols);
    }
    return p->source == ROWS_DIRECT ? stored : scratch;
}

static void multiply_rows(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    const plan *p = job->p;
    const int64_t interleave = p->info->interleave, tile = tile_groups(p);
    const uint8_t *act = job->ctx->act;
    int64_t begin, end;
    split_range(job->nrows / interleave, ithread, nthreads, &begin, &end);
    for (int64_t g = begin; g < end; g += tile) {
        const int64_t count = end - g < tile ? end - g : tile;
        const int64_t first_row = g * interleave, rows = count * interleave;
        const uint8_t *w = materialize_tile(job, g, count, job->ctx->scratch[ithread]);
        for (int64_t j = 0; j < job->n; j++) {
            const uint8_t *a = act + j * p->act_bytes;
            float *out = job->y + j * job->nrows + first_row;
            for (int64_t r = 0; r < rows; r++)
                out[r] = p->dot(w + r * p->row_bytes, a, job->ncols);
        }
    }
}

/* ---- bf16 with AVX-512 BF16 ---------------------------------------------- */

static void bf16_activations(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    const int64_t padded = lq_bf16_padded_cols(job->ncols);
    int64_t begin, end;
    split_range(job->n, ithread, nthreads, &begin, &end);
    for (int64_t j = begin; j < end; j++)
        lq_bf16_activations(job->x + j * job->ncols, job->ncols,
                            (uint16_t *)job->ctx->act + j * padded);
}

static void float_multiply(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    int64_t begin, end;
    split_range(job->nrows, ithread, nthreads, &begin, &end);
    lq_float_rows(job->p->info->type == LQ_TYPE_F16, job->w, job->ncols, begin, end - begin,
                  job->x, job->n, job->y, job->nrows);
}

static void bf16_multiply(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    int64_t begin, end;
    split_range(job->nrows, ithread, nthreads, &begin, &end);
    lq_bf16_rows((const uint16_t *)(const void *)job->w, job->p->info->type == LQ_TYPE_F16,
                 job->ncols, begin, end - begin,
                 job->ctx->act, job->n, job->y, job->nrows);
}

static void bf16_r16_multiply(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    int64_t begin, end;
    split_range(job->nrows / 16, ithread, nthreads, &begin, &end);
    lq_bf16_r16_rows((const uint16_t *)(const void *)job->w, job->ncols, begin, end - begin,
                     job->ctx->act, job->n, job->y, job->nrows);
}

/* Rows decoded to bf16 a block at a time (one tile's worth for a GEMV, else
 * what stays in L2), every vector against each block. */
static int64_t bf16_block_rows(int64_t ncols, int64_t n) {
    const int64_t tile = 4;
    if (n <= 2)
        return tile;
    const int64_t rows = (int64_t)(512 * 1024) / (ncols * (int64_t)sizeof(uint16_t)) / tile * tile;
    return rows < tile ? tile : rows;
}

static void bf16_decoded_multiply(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    const plan *p = job->p;
    const int64_t block = bf16_block_rows(job->ncols, job->n);
    uint16_t *rows = job->ctx->scratch[ithread];
    int64_t begin, end;
    split_range(job->nrows, ithread, nthreads, &begin, &end);
    if (job->n == 1 && p->bf16_gemv) {
        p->bf16_gemv(job->w + begin * p->group_bytes, p->group_bytes, end - begin, job->ncols,
                     job->ctx->act, job->y + begin);
        return;
    }
    for (int64_t row = begin; row < end; row += block) {
        const int64_t count = end - row < block ? end - row : block;
        for (int64_t r = 0; r < count; r++)
            p->bf16_decode(job->w + (row + r) * p->group_bytes, job->ncols, rows + r * job->ncols);
        lq_bf16_block(rows, job->ncols, count, job->ctx->act, job->n, job->y + row, job->nrows);
    }
}

/* ---- the packed path ----------------------------------------------------- */

enum { PANEL_BUDGET = 384 * 1024 }; /* decoded rows kept per thread (a third of L2) */
enum { VEC_TILE = LQ_TILE_VECS };

/* Rows decoded at a time: one tile's worth when few vectors reuse them,
 * else as many as fit the budget (so each activation tile is read from
 * memory once per block). A multiple of the interleave and of the tile. */
static int64_t panel_block_rows(const plan *p, int64_t n) {
    const int64_t unit = p->info->interleave > LQ_TILE_ROWS ? p->info->interleave : LQ_TILE_ROWS;
    if (n <= 2)
        return unit;
    int64_t rows = PANEL_BUDGET / (p->panel.chunks * (int64_t)sizeof(lq_panel_chunk)) / unit * unit;
    return rows < unit ? unit : rows;
}

static size_t panel_scratch_bytes(const plan *p, int64_t n) {
    const int64_t rows = panel_block_rows(p, n);
    size_t bytes = (size_t)(rows * p->panel.chunks) * sizeof(lq_panel_chunk);
    if (p->source == ROWS_UNPACKED && !p->panel.group_decode)
        bytes += round_up((size_t)(rows * p->row_bytes));
    if (p->panel.tile.block)
        bytes += round_up(LQ_BLOCK_SCRATCH(rows, p->panel.chunks));
    return bytes;
}

static void quantize_activation_chunks(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    const int64_t chunks = job->p->panel.chunks;
    int64_t begin, end;
    split_range(job->n, ithread, nthreads, &begin, &end);
    for (int64_t j = begin; j < end; j++)
        lq_act_chunks_quantize(job->x + j * job->ncols, job->ncols,
                               (lq_act_chunk *)job->ctx->act + j * chunks, job->p->level);
}

/* Rows [row, row + count) (whole groups) decoded into panel. */
static void decode_rows(const matmul_job *job, int64_t row, int64_t count, uint8_t *unpacked,
                        lq_panel_chunk *panel) {
    const plan *p = job->p;
    const int64_t chunks = p->panel.chunks, interleave = p->info->interleave;
    const uint8_t *rows = job->w + row * (p->group_bytes / interleave);
    if (p->panel.group_decode) {
        for (int64_t g = 0; g < count / interleave; g++)
            for (int64_t c = 0; c < chunks; c++)
                p->panel.group_decode(rows + g * p->group_bytes, job->ncols, c,
                                      &panel[g * interleave * chunks + c], chunks);
        return;
    }
    if (p->source == ROWS_UNPACKED) {
        for (int64_t g = 0; g < count / interleave; g++)
            p->codec->unpack(rows + g * p->group_bytes,
                             unpacked + g * interleave * p->row_bytes, job->ncols);
        rows = unpacked;
    }
    for (int64_t r = 0; r < count; r++)
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t left = job->ncols - c * LQ_PANEL_K;
            const int n = left < LQ_PANEL_K ? (int)left : LQ_PANEL_K;
            lq_panel_chunk *out = &panel[r * chunks + c];
            if (p->panel.simd_decode && n == LQ_PANEL_K) {
                p->panel.simd_decode(rows + r * p->row_bytes, c, n, out);
            } else {
                p->panel.decoder->decode(rows + r * p->row_bytes, c, n, out);
                lq_panel_lane_order(out->level);
            }
        }
}

/* Every vector against the decoded rows [row, row + count). */
static void multiply_panel(const matmul_job *job, int64_t row, int64_t count,
                           const lq_panel_chunk *panel, void *block_scratch) {
    const plan *p = job->p;
    const int64_t chunks = p->panel.chunks;
    const lq_act_chunk *act = job->ctx->act;
    if (p->panel.tile.block) {
        p->panel.tile.block(panel, count, chunks, act, job->n, p->panel.decoder->has_offset,
                            job->y + row, job->nrows, block_scratch);
        return;
    }
    for (int64_t v0 = 0; v0 < job->n; v0 += VEC_TILE) {
        const int nv = job->n - v0 < VEC_TILE ? (int)(job->n - v0) : VEC_TILE;
        for (int64_t r0 = 0; r0 < count; r0 += LQ_TILE_ROWS) {
            const int nr = count - r0 < LQ_TILE_ROWS ? (int)(count - r0) : LQ_TILE_ROWS;
            p->panel.tile.run(panel + r0 * chunks, chunks, nr, act + v0 * chunks, chunks, nv,
                              chunks, p->panel.decoder->has_offset,
                              job->y + v0 * job->nrows + row + r0, job->nrows);
        }
    }
}

/* One vector, an interleaved type: each group unpacked into the thread's
 * scratch (where decode_rows would put it), then its base type's GEMV. */
static void unpacked_gemv(const matmul_job *job, int ithread, int nthreads) {
    const plan *p = job->p;
    const int64_t interleave = p->info->interleave;
    const int64_t block = panel_block_rows(p, 1);
    uint8_t *unpacked = (uint8_t *)job->ctx->scratch[ithread] +
                        block * p->panel.chunks * (int64_t)sizeof(lq_panel_chunk);
    int64_t begin, end;
    split_range(job->nrows / interleave, ithread, nthreads, &begin, &end);
    for (int64_t g = begin; g < end; g++) {
        p->codec->unpack(job->w + g * p->group_bytes, unpacked, job->ncols);
        p->panel.gemv(unpacked, p->row_bytes, interleave, p->panel.chunks, job->ctx->act,
                      p->panel.decoder->has_offset, job->y + g * interleave);
    }
}

static void multiply_rows_packed(void *arg, int ithread, int nthreads) {
    const matmul_job *job = arg;
    const plan *p = job->p;
    if (job->n == 1 && p->panel.groups_gemv) {
        int64_t begin, end;
        split_range(job->nrows / p->info->interleave, ithread, nthreads, &begin, &end);
        p->panel.groups_gemv(job->w + begin * p->group_bytes, p->group_bytes, end - begin,
                             p->panel.chunks, job->ctx->act, p->panel.decoder->has_offset,
                             job->y + begin * p->info->interleave);
        return;
    }
    if (job->n == 1 && p->panel.group_gemv) {
        int64_t begin, end;
        split_range(job->nrows / p->info->interleave, ithread, nthreads, &begin, &end);
        p->panel.group_gemv(p->panel.group_decode, job->w + begin * p->group_bytes,
                             p->group_bytes, end - begin, (int)p->info->interleave, job->ncols,
                             job->ctx->act, p->panel.decoder->has_offset,
                             job->y + begin * p->info->interleave);
        return;
    }
    if (job->n == 1 && p->panel.gemv && p->source == ROWS_UNPACKED) {
        unpacked_gemv(job, ithread, nthreads);
        return;
    }
    if (job->n == 1 && p->panel.gemv) {
        int64_t begin, end;
        split_range(job->nrows, ithread, nthreads, &begin, &end);
        p->panel.gemv(job->w + begin * p->row_bytes, p->row_bytes, end - begin, p->panel.chunks,
                      job->ctx->act, p->panel.decoder->has_offset, job->y + begin);
        return;
    }
    const int64_t interleave = p->info->interleave, block = panel_block_rows(p, job->n);
    lq_panel_chunk *panel = job->ctx->scratch[ithread];
    uint8_t *unpacked = (uint8_t *)panel + block * p->panel.chunks * (int64_t)sizeof(lq_panel_chunk);
    uint8_t *block_scratch = unpacked;
    if (p->source == ROWS_UNPACKED && !p->panel.group_decode)
        block_scratch += round_up((size_t)(block * p->row_bytes));
    int64_t begin, end;
    split_range(job->nrows / interleave, ithread, nthreads, &begin, &end);
    for (int64_t row = begin * interleave; row < end * interleave; row += block) {
        const int64_t count = end * interleave - row < block ? end * interleave - row : block;
        decode_rows(job, row, count, unpacked, panel);
        multiply_panel(job, row, count, panel, block_scratch);
    }
}

int lq_matmul(lq_matmul_ctx *ctx, int wtype, const void *w, size_t w_size,
              int64_t nrows, int64_t ncols, const float *x, int64_t n, float *y,
              size_t y_capacity) {
    plan p = {0};
    int st = make_plan(wtype, ncols, ctx ? ctx->level : LQ_SIMD_SCALAR, &p);
    if (st != LQ_OK)
        return st;
    if (nrows < 0 || n < 0)
        return LQ_ERR_INVALID_ARGUMENT;
    int64_t total = lq_tensor_size(wtype, nrows, ncols);
    if (total < 0)
        return (int)total;
    if (!ctx)
        return LQ_ERR_INVALID_ARGUMENT;
    if (nrows == 0 || n == 0)
        return LQ_OK;
    if (!w || !x || !y)
        return LQ_ERR_INVALID_ARGUMENT;
    if ((uint64_t)total > (uint64_t)w_size)
        return LQ_ERR_SRC_TOO_SMALL;
    if (n > INT64_MAX / p.act_bytes || n > INT64_MAX / nrows)
        return LQ_ERR_OVERFLOW;
    /* n * nrows fits (checked above); the capacity is divided so that its
     * own conversion to floats cannot overflow */
    if ((uint64_t)(n * nrows) > (uint64_t)(y_capacity / sizeof(float)))
        return LQ_ERR_DST_TOO_SMALL;
    matmul_job job = {&p, ctx, w, nrows, ncols, x, n, y};
    if (p.float_gemm) {
        lq_pool_run(ctx->pool, float_multiply, &job);
        return LQ_OK;
    }
    /* f16 converts its rows to bf16 once per block for many vectors, in
     * registers for one tile's worth (the same bf16 values either way) */
    if (p.bf16_gemm && (!p.bf16_decode || n <= LQ_BF16_TILE_VECS)) {
        const size_t act = (size_t)(n * lq_bf16_padded_cols(ncols)) * sizeof(uint16_t);
        st = reserve_scratch(ctx, act, 0);
        if (st != LQ_OK)
            return st;
        lq_pool_run(ctx->pool, bf16_activations, &job);
        lq_pool_run(ctx->pool, bf16_multiply, &job);
        return LQ_OK;
    }
    if (p.bf16_r16_gemm) {
        const size_t act = (size_t)(n * lq_bf16_padded_cols(ncols)) * sizeof(uint16_t);
        st = reserve_scratch(ctx, act, 0);
        if (st != LQ_OK)
            return st;
        lq_pool_run(ctx->pool, bf16_activations, &job);
        lq_pool_run(ctx->pool, bf16_r16_multiply, &job);
        return LQ_OK;
    }
    if (p.bf16_decode) {
        const size_t act = (size_t)(n * lq_bf16_padded_cols(ncols)) * sizeof(uint16_t);
        const size_t rows = (size_t)(bf16_block_rows(ncols, n) * ncols) * sizeof(uint16_t);
        st = reserve_scratch(ctx, act, rows);
        if (st != LQ_OK)
            return st;
        lq_pool_run(ctx->pool, bf16_activations, &job);
        lq_pool_run(ctx->pool, bf16_decoded_multiply, &job);
        return LQ_OK;
    }
    if (p.panel.decoder) {
        const size_t act = (size_t)(n * p.panel.chunks) * sizeof(lq_act_chunk);
        st = reserve_scratch(ctx, act, panel_scratch_bytes(&p, n));
        if (st != LQ_OK)
            return st;
        lq_pool_run(ctx->pool, quantize_activation_chunks, &job);
        lq_pool_run(ctx->pool, multiply_rows_packed, &job);
        return LQ_OK;
    }
    size_t tile_scratch = p.source == ROWS_DIRECT
                              ? 0 : (size_t)(p.row_bytes * p.info->interleave * tile_groups(&p));
    st = reserve_scratch(ctx, (size_t)(n * p.act_bytes), tile_scratch);
    if (st != LQ_OK)
        return st;
    lq_pool_run(ctx->pool, quantize_activations, &job);
    lq_pool_run(ctx->pool, multiply_rows, &job);
    return LQ_OK;
}

int lq_matmul_0_1(lq_matmul_ctx *ctx, int wtype, const void *w, size_t w_size, int64_t nrows,
                  int64_t ncols, const float *x, int64_t n, float *y) {
    return lq_matmul(ctx, wtype, w, w_size, nrows, ncols, x, n, y, SIZE_MAX);
}
