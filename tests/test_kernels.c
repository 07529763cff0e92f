/*
 * Kernels (quant_kernels.h):
 *   - accuracy against ../shared/vectors: for every quantized tensor whose
 *     type this build decodes, lq_matmul of it with `y` has a relative error
 *     vs the float64 product of its decoding no larger than
 *     max(1.5 x the reference's (its `.mm`), 1.1e-2); prints both;
 *   - lq_vec_dot (non-interleaved types) is held to the same limit;
 *   - determinism, at every SIMD level the CPU has: identical bits for 1,
 *     2, 3 and 8 threads and for any split of the activation vectors, on
 *     random data of many shapes;
 *   - accuracy at every SIMD level: relative error against the float64
 *     product of the decoded weights at most 1e-6 (f32) or 8e-3 (every
 *     other type), on random data of many shapes (whole and partial
 *     chunks, odd row counts, every interleave, n = 1, 2, 7, 16 and 300);
 *   - the AVX-512 panel decoders write the same bytes as the scalar ones
 *     followed by the lane-order permutation (interleaved groups against
 *     their unpacked base rows);
 *   - the Q8_32 activation quantization gives the same bits in SIMD as in
 *     scalar code on odd inputs (zeros, subnormals, huge values, ties);
 *   - shapes: ncols not a multiple of the block size and nrows not a
 *     multiple of the interleave factor give LQ_ERR_BAD_SHAPE.
 * Cases exist only for types this build can decode. LQ_TEST_TYPES=a,b
 * restricts the run to those types.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "gemm_bf16.h"
#include "panel.h"
#include "quant_kernels.h"
#include "testutil.h"

#define REF_FACTOR 1.5
#define ERROR_FLOOR 1.1e-2

typedef struct vector_case {
    char file[64];
    char tensor[32];
} vector_case;

static vector_case *vector_cases;
static int vector_case_count;
static int *type_cases; /* decodable type ids */
static int type_case_count;
static int *panel_cases; /* the non-interleaved ones with a scalar panel decoder */
static int panel_case_count;
static int *narrow_cases; /* the packed types with narrow levels */
static int narrow_case_count;
static int *simd_decoder_cases; /* the SIMD decoders this CPU can run */
static int simd_decoder_case_count;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static double relative_error(const float *v, const double *exact, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)v[i] - exact[i];
        num += d * d;
        den += exact[i] * exact[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static const char *act_name(int fmt) {
    switch (fmt) {
    case LQ_ACT_F32: return "f32";
    case LQ_ACT_Q8_32: return "q8/32";
    default: return "?";
    }
}

/* ---- accuracy against the reference ------------------------------------- */

START_TEST(test_vector_product) {
    const vector_case *c = &vector_cases[_i];
    lq_gguf *g = tu_open_vector_file(c->file);
    const lq_gguf_tensor *t = lq_gguf_find_tensor(g, c->tensor);
    const lq_gguf_tensor *deq = tu_expected_decoding(g, c->tensor);
    const lq_gguf_tensor *yt = lq_gguf_find_tensor(g, "y");
    ck_assert(t && deq && yt && yt->type == LQ_TYPE_F32 && deq->type == LQ_TYPE_F32);
    const int64_t rows = lq_gguf_tensor_rows(t), cols = t->ne[0], n = lq_gguf_tensor_rows(yt);
    ck_assert_int_eq(yt->ne[0], cols);
    const float *w = (const float *)deq->data, *y = (const float *)yt->data;

    double *exact = xmalloc((size_t)(rows * n) * sizeof *exact);
    for (int64_t j = 0; j < n; j++)
        for (int64_t r = 0; r < rows; r++) {
            double s = 0;
            for (int64_t k = 0; k < cols; k++)
                s += (double)w[r * cols + k] * (double)y[j * cols + k];
            exact[j * rows + r] = s;
        }

    float *ours = xmalloc((size_t)(rows * n) * sizeof *ours);
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(2);
    ck_assert_ptr_nonnull(ctx);
    int st = lq_matmul(ctx, t->type, t->data, t->size, rows, cols, y, n, ours,
                       (size_t)(rows * n) * sizeof *ours);
    ck_assert_msg(st == LQ_OK, "%s '%s': lq_matmul: %s", c->file, c->tensor,
                  lq_error_name(st));
    lq_matmul_ctx_free(ctx);
    double err = relative_error(ours, exact, rows * n);

    char mm_name[64];
    snprintf(mm_name, sizeof mm_name, "%s.mm", c->tensor);
    const lq_gguf_tensor *mm = lq_gguf_find_tensor(g, mm_name);
    double ref_err = mm ? relative_error((const float *)mm->data, exact, rows * n) : NAN;
    double limit = mm ? fmax(REF_FACTOR * ref_err, ERROR_FLOOR) : ERROR_FLOOR;
    printf("matmul %-11s %-12s act %-6s ours %.3e  ref %.3e  ratio %6.3f  limit %.3e\n",
           lq_type_name(t->type), c->tensor, act_name(lq_activation_format(t->type)),
           err, ref_err, mm ? err / ref_err : NAN, limit);
    fflush(stdout);
    ck_assert_msg(err <= limit, "%s '%s' (%s): error %.4g above %.4g (reference %.4g)",
                  c->file, c->tensor, lq_type_name(t->type), err, limit, ref_err);

    /* lq_vec_dot, one row at a time, is held to the same bound */
    if (lq_type_get(t->type)->interleave == 1) {
        int64_t act_size = lq_activation_size(t->type, cols);
        ck_assert_int_gt(act_size, 0);
        void *act = xmalloc((size_t)act_size);
        float *single = xmalloc((size_t)(rows * n) * sizeof *single);
        size_t row_bytes = (size_t)lq_row_size(t->type, cols);
        for (int64_t j = 0; j < n; j++) {
            ck_assert_int_eq(lq_quantize_activation(t->type, y + j * cols, cols, act,
                                                    (size_t)act_size), LQ_OK);
            for (int64_t r = 0; r < rows; r++)
                ck_assert_int_eq(lq_vec_dot(t->type, cols,
                                            (const char *)t->data + r * row_bytes, act,
                                            &single[j * rows + r]), LQ_OK);
        }
        double single_err = relative_error(single, exact, rows * n);
        ck_assert_msg(single_err <= limit, "%s '%s': lq_vec_dot error %.4g above %.4g",
                      c->file, c->tensor, single_err, limit);
        free(single);
        free(act);
    }
    free(exact);
    free(ours);
    lq_gguf_close(g);
}
END_TEST

/* ---- determinism --------------------------------------------------------- */

/* Random Gaussian weights of a type: quantized directly, or quantized to the
 * base type and repacked. NULL when the build can do neither. */
static void *random_weights(int type, int64_t rows, int64_t cols, tu_rng *rng) {
    const lq_type_info *info = lq_type_get(type);
    uint32_t caps = lq_type_caps(type);
    int encode_type = type;
    if (!(caps & LQ_CAP_ENCODE)) {
        if (!(caps & LQ_CAP_REPACK) || !(lq_type_caps(info->base_type) & LQ_CAP_ENCODE))
            return NULL;
        encode_type = info->base_type;
    }
    float *x = xmalloc((size_t)(rows * cols) * sizeof *x);
    for (int64_t i = 0; i < rows * cols; i++)
        x[i] = (float)tu_rng_gauss(rng);
    int64_t size = lq_tensor_size(encode_type, rows, cols);
    ck_assert_int_gt(size, 0);
    void *q = xmalloc((size_t)size);
    ck_assert_int_eq(lq_quantize_rows(encode_type, x, rows, cols, NULL, q, (size_t)size),
                     size);
    free(x);
    if (encode_type == type)
        return q;
    int64_t packed_size = lq_tensor_size(type, rows, cols);
    void *packed = xmalloc((size_t)packed_size);
    ck_assert_int_eq(lq_repack_rows(type, q, (size_t)size, rows, cols, packed,
                                    (size_t)packed_size), LQ_OK);
    free(q);
    return packed;
}

static void check_same_bits(const float *a, const float *b, int64_t count,
                            const char *what, int type, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < count; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof(float)) == 0,
                      "%s: %s %lldx%lld: output %lld differs: %.9g vs %.9g", what,
                      lq_type_name(type), (long long)rows, (long long)cols,
                      (long long)i, (double)a[i], (double)b[i]);
}

/* The SIMD levels this CPU has, scalar first. */
static int machine_levels(lq_simd_level levels[3]) {
    int count = 0;
    for (int l = LQ_SIMD_SCALAR; l <= (int)lq_simd_level_default(); l++)
        levels[count++] = (lq_simd_level)l;
    return count;
}

enum { THREAD_COUNTS = 4 };
static const int thread_counts[THREAD_COUNTS] = {1, 2, 3, 8};

/* One level: identical bits for 1, 2, 3 and 8 threads and for the vectors
 * split between two calls. Returns the shapes tried. */
static int check_determinism_at(int type, lq_simd_level level, tu_rng *rng) {
    const lq_type_info *info = lq_type_get(type);
    const int64_t group = info->interleave, bs = info->block_size;
    /* odd row counts for ordinary types; column counts of 1 to 3 blocks
     * (and a few hundred values for the per-value types); 9 blocks of 32
     * make a partial 256-weight chunk, 8 of them a full one (the only shape
     * of those types that the full-chunk decoders and GEMV kernels see) */
    const int64_t row_counts[] = {group, 3 * group, group == 1 ? 13 : 5 * group};
    const int64_t col_counts[] = {bs == 1 ? 96 : bs, bs == 1 ? 7 : 3 * bs,
                                  bs == 32 ? 9 * bs : bs == 1 ? 300 : 2 * bs,
                                  bs == 32 ? 8 * bs : 0};
    const int64_t vector_counts[] = {1, 2, 7, 16};
    lq_matmul_ctx *ctx[THREAD_COUNTS];
    for (int t = 0; t < THREAD_COUNTS; t++) {
        ctx[t] = lq_matmul_ctx_new_level(thread_counts[t], level);
        ck_assert_ptr_nonnull(ctx[t]);
        ck_assert_int_eq(lq_matmul_ctx_threads(ctx[t]), thread_counts[t]);
    }
    int tested = 0;
    for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++)
        for (size_t ci = 0; ci < sizeof col_counts / sizeof col_counts[0]; ci++) {
            const int64_t rows = row_counts[ri], cols = col_counts[ci];
            if (cols == 0)
                continue;
            void *w = random_weights(type, rows, cols, rng);
            if (!w)
                continue;
            size_t w_size = (size_t)lq_tensor_size(type, rows, cols);
            float *x = xmalloc((size_t)(16 * cols) * sizeof *x);
            for (int64_t i = 0; i < 16 * cols; i++)
                x[i] = (float)tu_rng_gauss(rng) * (i % 5 == 0 ? 10.0f : 1.0f);
            for (size_t ni = 0; ni < sizeof vector_counts / sizeof vector_counts[0]; ni++) {
                const int64_t n = vector_counts[ni];
                const size_t y_bytes = (size_t)(n * rows) * sizeof(float);
                float *y[THREAD_COUNTS], *parts = xmalloc(y_bytes);
                for (int t = 0; t < THREAD_COUNTS; t++) {
                    y[t] = xmalloc(y_bytes);
                    ck_assert_int_eq(lq_matmul(ctx[t], type, w, w_size, rows, cols, x, n,
                                               y[t], y_bytes), LQ_OK);
                }
                for (int t = 1; t < THREAD_COUNTS; t++)
                    check_same_bits(y[0], y[t], n * rows, "threads vs 1", type, rows, cols);
                for (int64_t k = 1; k < n; k += (n > 4 ? 3 : 1)) {
                    ck_assert_int_eq(lq_matmul(ctx[1], type, w, w_size, rows, cols, x, k,
                                               parts, y_bytes), LQ_OK);
                    ck_assert_int_eq(lq_matmul(ctx[2], type, w, w_size, rows, cols,
                                               x + k * cols, n - k, parts + k * rows,
                                               y_bytes - (size_t)(k * rows) * sizeof(float)),
                                     LQ_OK);
                    check_same_bits(y[0], parts, n * rows, "split of the vectors", type,
                                    rows, cols);
                }
                for (int i = 0; i < THREAD_COUNTS; i++)
                    free(y[i]);
                free(parts);
                tested++;
            }
            free(x);
            free(w);
        }
    for (int t = 0; t < THREAD_COUNTS; t++)
        lq_matmul_ctx_free(ctx[t]);
    return tested;
}

START_TEST(test_determinism) {
    const int type = type_cases[_i];
    lq_simd_level levels[3];
    const int count = machine_levels(levels);
    tu_rng rng = {0x5eed0000u + (uint64_t)type};
    int tested = 0;
    for (int l = 0; l < count; l++)
        tested += check_determinism_at(type, levels[l], &rng);
    printf("determinism %-11s %d shapes over %d levels%s\n", lq_type_name(type), tested, count,
           tested ? "" : " (cannot create weights: not encodable)");
    fflush(stdout);
}
END_TEST

/* ---- accuracy at every SIMD level ---------------------------------------- */

/* The bound: 1e-6 for f32 weights, 8e-3 for every other type. */
static double accuracy_bound(int type) { return type == LQ_TYPE_F32 ? 1e-6 : 8e-3; }

/* Adds the squared error of lq_matmul at `level` against the float64
 * product of the decoded weights, and the squared exact values, to err[2]. */
static void add_level_error(int type, lq_simd_level level, const void *w, int64_t rows,
                            int64_t cols, const float *x, int64_t n, double err[2]) {
    size_t w_size = (size_t)lq_tensor_size(type, rows, cols);
    float *decoded = xmalloc((size_t)(rows * cols) * sizeof *decoded);
    ck_assert_int_eq(lq_dequantize_rows(type, w, w_size, rows, cols, decoded,
                                        (size_t)(rows * cols) * sizeof *decoded), LQ_OK);
    const size_t got_bytes = (size_t)(rows * n) * sizeof(float);
    float *got = xmalloc(got_bytes);
    lq_matmul_ctx *ctx = lq_matmul_ctx_new_level(2, level);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(lq_matmul(ctx, type, w, w_size, rows, cols, x, n, got, got_bytes), LQ_OK);
    lq_matmul_ctx_free(ctx);
    for (int64_t j = 0; j < n; j++)
        for (int64_t r = 0; r < rows; r++) {
            double exact = 0;
            for (int64_t k = 0; k < cols; k++)
                exact += (double)decoded[r * cols + k] * (double)x[j * cols + k];
            const double d = (double)got[j * rows + r] - exact;
            err[0] += d * d;
            err[1] += exact * exact;
        }
    free(got);
    free(decoded);
}

START_TEST(test_levels_accuracy) {
    const int type = type_cases[_i];
    const lq_type_info *info = lq_type_get(type);
    const int64_t group = info->interleave, bs = info->block_size;
    /* odd counts of groups, so that row tiles have tails */
    const int64_t row_counts[] = {group * (64 / group + 1), group * (16 / group + 3)};
    /* 1, 3, 8, 9 and 17 blocks: whole and partial 256-weight chunks, SIMD
     * block groups and their tails; the float types take chunks of 32 */
    const int64_t block_counts[] = {1, 3, 8, 9, 17};
    const int64_t float_cols[] = {7, 45, 96, 300, 544};
    /* the error is taken over all the outputs of a shape (a handful of dot
     * products is too noisy to hold to a bound); 300 vectors once per type
     * (several vector tiles and a tail) */
    const int64_t vector_counts[] = {1, 2, 7, 16, 300};
    lq_simd_level levels[3];
    const int nlevels = machine_levels(levels);
    tu_rng rng = {0x51bd0000u + (uint64_t)type};
    int tested = 0;
    double worst = 0;
    for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++)
        for (size_t ci = 0; ci < sizeof block_counts / sizeof block_counts[0]; ci++) {
            const int64_t rows = row_counts[ri];
            const int64_t cols = bs == 1 ? float_cols[ci] : bs * block_counts[ci];
            void *w = random_weights(type, rows, cols, &rng);
            if (!w)
                continue;
            const bool many = ri == 1 && ci == 1;
            const size_t nn = many ? 5 : 4;
            float *x = xmalloc((size_t)(300 * cols) * sizeof *x);
            for (int64_t i = 0; i < 300 * cols; i++)
                x[i] = (float)tu_rng_gauss(&rng);
            for (int l = 0; l < nlevels; l++) {
                double err[2] = {0, 0};
                for (size_t ni = 0; ni < nn; ni++)
                    add_level_error(type, levels[l], w, rows, cols, x, vector_counts[ni], err);
                const double rel = sqrt(err[0] / err[1]);
                ck_assert_msg(rel <= accuracy_bound(type),
                              "%s %lldx%lld level %d: error %.3g above %.3g", info->name,
                              (long long)rows, (long long)cols, (int)levels[l], rel,
                              accuracy_bound(type));
                worst = fmax(worst, rel);
            }
            tested++;
            free(x);
            free(w);
        }
    printf("accuracy %-11s %d shapes x %d levels, worst %.2e (bound %.0e)\n", info->name,
           tested, nlevels, worst, accuracy_bound(type));
    fflush(stdout);
}
END_TEST

/* ---- SIMD decoders equal the scalar ones ---------------------------------- */

static void check_same_panel(const lq_panel_chunk *want, const lq_panel_chunk *got,
                             const char *type, int64_t row, int64_t chunk) {
    ck_assert_msg(memcmp(want->level, got->level, sizeof want->level) == 0,
                  "%s row %lld chunk %lld: levels differ", type, (long long)row, (long long)chunk);
    ck_assert_msg(memcmp(want->scale, got->scale, sizeof want->scale) == 0,
                  "%s row %lld chunk %lld: scales differ", type, (long long)row, (long long)chunk);
    ck_assert_msg(memcmp(want->offset, got->offset, sizeof want->offset) == 0,
                  "%s row %lld chunk %lld: offsets differ", type, (long long)row,
                  (long long)chunk);
}

START_TEST(test_panel_decoders) {
    lq_simd_level level;
    const lq_panel_simd_decoder *d = lq_panel_simd_decoder_at(simd_decoder_cases[_i], &level);
    const lq_type_info *info = lq_type_get(d->type);
    /* a format of its own (no base type) against its scalar group decoder */
    const lq_panel_own_group *own = d->group ? lq_panel_own_group_find(d->type) : NULL;
    const int base = own ? d->type : d->group ? lq_panel_unpacked_type(d->type) : d->type;
    const int64_t rows = 2 * info->interleave, cols = 4 * LQ_PANEL_K, chunks = 4;
    tu_rng rng = {0xdec0de00u + (uint64_t)d->type};
    void *w = random_weights(d->type, rows, cols, &rng);
    ck_assert_ptr_nonnull(w);
    const int64_t size = lq_tensor_size(d->type, rows, cols);
    const int64_t base_size = lq_tensor_size(base, rows, cols), base_row = lq_row_size(base, cols);
    uint8_t *base_rows = xmalloc((size_t)base_size);
    if (own)
        memcpy(base_rows, w, (size_t)size);
    else if (d->group)
        ck_assert_int_eq(lq_panel_unpack(d->type, w, rows / info->interleave, cols, base_rows),
                         LQ_OK);
    else
        memcpy(base_rows, w, (size_t)size);
    lq_panel_chunk *want = aligned_alloc(64, (size_t)(rows * chunks) * sizeof *want);
    lq_panel_chunk *got = aligned_alloc(64, (size_t)(rows * chunks) * sizeof *got);
    ck_assert(want && got);
    const lq_panel_decoder *scalar = own ? &own->decoder : lq_panel_decoder_find(base);
    ck_assert_ptr_nonnull(scalar);
    if (own) {
        const int64_t group_bytes = size / (rows / info->interleave);
        for (int64_t g = 0; g < rows / info->interleave; g++)
            for (int64_t c = 0; c < chunks; c++)
                own->group((const uint8_t *)w + g * group_bytes, cols, c,
                           &want[g * info->interleave * chunks + c], chunks);
    }
    for (int64_t r = 0; r < rows && !own; r++)
        for (int64_t c = 0; c < chunks; c++) {
            scalar->decode(base_rows + r * base_row, c, LQ_PANEL_K, &want[r * chunks + c]);
            lq_panel_lane_order(want[r * chunks + c].level);
            if (!d->group)
                d->decode(base_rows + r * base_row, c, LQ_PANEL_K, &got[r * chunks + c]);
        }
    if (d->group) {
        const int64_t group_bytes = lq_row_size(d->type, cols) * info->interleave;
        for (int64_t g = 0; g < rows / info->interleave; g++)
            for (int64_t c = 0; c < chunks; c++)
                d->group((const uint8_t *)w + g * group_bytes, cols, c,
                         &got[g * info->interleave * chunks + c], chunks);
    }
    for (int64_t i = 0; i < rows * chunks; i++)
        check_same_panel(&want[i], &got[i], info->name, i / chunks, i % chunks);
    free(want);
    free(got);
    free(base_rows);
    free(w);
}
END_TEST

/* A narrow format's levels stay in [lowest, lowest + 31]: the AVX2 tile adds
 * their products in int16 on that promise (panel_avx2.h). */
START_TEST(test_narrow_level_ranges) {
    const int type = narrow_cases[_i];
    const int lowest = lq_avx2_levels_lowest(type);
    /* random bytes: every bit pattern of the quants, not only an encoder's */
    const int64_t rows = 256, cols = 4 * LQ_PANEL_K, row_bytes = lq_row_size(type, cols);
    tu_rng rng = {0x4a770000u + (uint64_t)type};
    uint8_t *w = xmalloc((size_t)(rows * row_bytes));
    for (int64_t i = 0; i < rows * row_bytes; i++)
        w[i] = (uint8_t)(tu_rng_next(&rng) >> 24);
    const lq_panel_decoder *scalar = lq_panel_decoder_find(type);
    int seen_min = 127, seen_max = -128;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols / LQ_PANEL_K; c++) {
            lq_panel_chunk chunk;
            scalar->decode(w + r * row_bytes, c, LQ_PANEL_K, &chunk);
            for (int i = 0; i < LQ_PANEL_K; i++) {
                seen_min = chunk.level[i] < seen_min ? chunk.level[i] : seen_min;
                seen_max = chunk.level[i] > seen_max ? chunk.level[i] : seen_max;
            }
        }
    ck_assert_msg(seen_min >= lowest && seen_max <= lowest + 31,
                  "%s: levels %d..%d outside [%d, %d]", lq_type_name(type), seen_min, seen_max,
                  lowest, lowest + 31);
    free(w);
}
END_TEST

/* Each scalar decoder reproduces its codec's decoding: level * scale +
 * offset is the decoded weight (to float rounding: the two may multiply in
 * another order). */
START_TEST(test_panel_scalar_decoders) {
    const int type = panel_cases[_i];
    const lq_panel_decoder *scalar = lq_panel_decoder_find(type);
    const lq_type_info *info = lq_type_get(type);
    const int64_t rows = 3, cols = 3 * LQ_PANEL_K, chunks = 3;
    tu_rng rng = {0x5ca1a400u + (uint64_t)type};
    void *w = random_weights(type, rows, cols, &rng);
    ck_assert_ptr_nonnull(w);
    const int64_t size = lq_tensor_size(type, rows, cols), row_bytes = lq_row_size(type, cols);
    float *want = xmalloc((size_t)(rows * cols) * sizeof *want);
    ck_assert_int_eq(lq_dequantize_rows(type, w, (size_t)size, rows, cols, want,
                                        (size_t)(rows * cols) * sizeof *want), LQ_OK);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < chunks; c++) {
            lq_panel_chunk chunk;
            scalar->decode((const uint8_t *)w + r * row_bytes, c, LQ_PANEL_K, &chunk);
            for (int i = 0; i < LQ_PANEL_K; i++) {
                const float expect = want[r * cols + c * LQ_PANEL_K + i];
                const float got = chunk.scale[i / 16] * (float)chunk.level[i] +
                                  chunk.offset[i / 16];
                ck_assert_msg(fabsf(got - expect) <= 1e-6f * fabsf(expect) + 1e-30f,
                              "%s row %lld weight %lld: panel %.9g, codec %.9g", info->name,
                              (long long)r, (long long)(c * LQ_PANEL_K + i), (double)got,
                              (double)expect);
            }
        }
    free(want);
    free(w);
}
END_TEST

/* The bf16 row decoders give the codec's decoding rounded to bf16. */
START_TEST(test_bf16_row_decoders) {
    static const int types[] = {LQ_TYPE_IQ6_K, LQ_TYPE_F16};
    int checked = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const lq_bf16_row_decode_fn decode = lq_bf16_row_decoder(types[t]);
        if (!decode)
            continue;
        const int64_t rows = 3, cols = 3 * 256;
        tu_rng rng = {0xbf16u + (uint64_t)types[t]};
        void *w = random_weights(types[t], rows, cols, &rng);
        ck_assert_ptr_nonnull(w);
        const int64_t size = lq_tensor_size(types[t], rows, cols);
        const int64_t row_bytes = lq_row_size(types[t], cols);
        float *want = xmalloc((size_t)(rows * cols) * sizeof *want);
        uint16_t *got = xmalloc((size_t)cols * sizeof *got);
        ck_assert_int_eq(lq_dequantize_rows(types[t], w, (size_t)size, rows, cols, want,
                                            (size_t)(rows * cols) * sizeof *want), LQ_OK);
        for (int64_t r = 0; r < rows; r++) {
            decode((const uint8_t *)w + r * row_bytes, cols, got);
            for (int64_t i = 0; i < cols; i++)
                ck_assert_msg(got[i] == lq_fp32_to_bf16(want[r * cols + i]),
                              "%s row %lld weight %lld: %04x, codec %.9g", lq_type_name(types[t]),
                              (long long)r, (long long)i, got[i], (double)want[r * cols + i]);
        }
        free(got);
        free(want);
        free(w);
        checked++;
    }
    ck_assert_int_gt(checked, 0);
}
END_TEST

START_TEST(test_simd_activations) {
    enum { COLS = 32 * 12 };
    static float x[COLS];
    tu_rng rng = {0xac7u};
    for (int i = 0; i < COLS; i++) {
        int block = i / 32;
        float g = (float)tu_rng_gauss(&rng);
        x[i] = block == 0   ? 0.0f                      /* all zero */
               : block == 1 ? g * 1e-40f                /* subnormal */
               : block == 2 ? g * 1e37f                 /* huge */
               : block == 3 ? (float)(i % 5) - 2.0f     /* ties after scaling */
               : block == 4 ? (i == 4 * 32 + 7 ? -3e-45f : 0.0f) /* one tiny */
               : block == 5 ? -0.0f
                            : g * (float)(1 << (block % 8));
    }
    static lq_act_q8_32 want[COLS / 32], got[COLS / 32];
    memset(want, 0, sizeof want);
    memset(got, 0, sizeof got);
    lq_act_quantize_row(LQ_ACT_Q8_32, x, COLS, want, LQ_SIMD_SCALAR);
    lq_act_quantize_row(LQ_ACT_Q8_32, x, COLS, got, lq_simd_level_default());
    for (int b = 0; b < COLS / 32; b++)
        ck_assert_msg(memcmp(&want[b], &got[b], sizeof want[b]) == 0,
                      "activation block %d differs", b);
}
END_TEST

#if defined(__x86_64__) || defined(__i386__)
#include "simd_x86.h"

/* Every f16 bit pattern through the SIMD kernels' scale conversion (8 at a
 * time, stored as block starts 2 bytes apart) against lq_half_to_float. */
__attribute__((target("avx2"))) static void check_simd_halves(void) {
    uint16_t h[8];
    for (uint32_t first = 0; first < 65536; first += 8) {
        for (uint32_t k = 0; k < 8; k++)
            h[k] = (uint16_t)(first + k);
        /* the gather reads 4 bytes per lane: the last lane's 2 extra bytes
         * are masked off by the conversion but must be readable */
        uint16_t padded[10] = {0};
        memcpy(padded, h, sizeof h);
        float got[8];
        _mm256_storeu_ps(got, simd_block_scales((const uint8_t *)padded, 2, simd_lane_mask(8)));
        for (int k = 0; k < 8; k++) {
            float want = lq_half_to_float(h[k]);
            ck_assert_msg(memcmp(&want, &got[k], sizeof want) == 0, "half 0x%04x", h[k]);
        }
    }
}
#endif

START_TEST(test_simd_halves) {
#if defined(__x86_64__) || defined(__i386__)
    if (lq_simd_level_default() >= LQ_SIMD_AVX2)
        check_simd_halves();
#endif
}
END_TEST

/* ---- shapes and arguments ------------------------------------------------ */

START_TEST(test_bad_shapes) {
    const int type = type_cases[_i];
    const lq_type_info *info = lq_type_get(type);
    const int64_t group = info->interleave, bs = info->block_size;
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(2);
    ck_assert_ptr_nonnull(ctx);
    /* big enough for every shape tried: the calls must fail before reading */
    size_t w_size = (size_t)lq_tensor_size(type, 32 * group, 4 * bs) + 64;
    void *w = calloc(1, w_size);
    float *x = calloc((size_t)(8 * bs + 8), sizeof(float));
    const size_t y_bytes = (size_t)(64 * group) * sizeof(float);
    float *y = calloc(1, y_bytes);
    ck_assert(w && x && y);
    tu_rng rng = {0xbad5eedu + (uint64_t)type};
    for (int trial = 0; trial < 200; trial++) {
        int64_t rows = 1 + (int64_t)(tu_rng_next(&rng) % (uint64_t)(32 * group));
        int64_t cols = 1 + (int64_t)(tu_rng_next(&rng) % (uint64_t)(4 * bs + 3));
        bool good_rows = rows % group == 0, good_cols = cols % bs == 0;
        if (good_rows && good_cols)
            continue;
        int st = lq_matmul(ctx, type, w, w_size, rows, cols, x, 1, y, y_bytes);
        ck_assert_msg(st == LQ_ERR_BAD_SHAPE, "%s %lldx%lld: %s", info->name,
                      (long long)rows, (long long)cols, lq_error_name(st));
    }
    if (bs > 1)
        ck_assert_int_eq(lq_matmul(ctx, type, w, w_size, group, bs + 1, x, 1, y, y_bytes),
                         LQ_ERR_BAD_SHAPE);
    if (group > 1)
        ck_assert_int_eq(lq_matmul(ctx, type, w, w_size, group + 1, bs, x, 1, y, y_bytes),
                         LQ_ERR_BAD_SHAPE);
    /* a buffer one byte short */
    size_t exact_size = (size_t)lq_tensor_size(type, group, bs);
    ck_assert_int_eq(lq_matmul(ctx, type, w, exact_size - 1, group, bs, x, 1, y, y_bytes),
                     LQ_ERR_SRC_TOO_SMALL);
    ck_assert_int_eq(lq_matmul(ctx, type, NULL, w_size, group, bs, x, 1, y, y_bytes),
                     LQ_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lq_matmul(ctx, type, w, w_size, group, bs, x, 0, y, y_bytes), LQ_OK);
    if (group > 1) {
        float v;
        ck_assert_int_eq(lq_vec_dot(type, bs, w, x, &v), LQ_ERR_UNSUPPORTED);
    }
    free(w);
    free(x);
    free(y);
    lq_matmul_ctx_free(ctx);
}
END_TEST

START_TEST(test_bad_types) {
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(1);
    float x[256] = {0}, y[4];
    unsigned char w[1024] = {0};
    ck_assert_int_eq(lq_matmul(ctx, 12345, w, sizeof w, 1, 32, x, 1, y, sizeof y),
                     LQ_ERR_UNKNOWN_TYPE);
    ck_assert_int_eq(lq_activation_format(-1), LQ_ERR_UNKNOWN_TYPE);
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if (lq_type_caps(info->type) & LQ_CAP_DECODE)
            continue;
        int64_t cols = info->block_size, rows = info->interleave;
        ck_assert_int_eq(lq_matmul(ctx, info->type, w, sizeof w, rows, cols, x, 1, y, sizeof y),
                         LQ_ERR_UNSUPPORTED);
    }
    ck_assert_ptr_null(lq_matmul_ctx_new(0));
    lq_matmul_ctx_free(NULL);
    lq_matmul_ctx_free(ctx);
}
END_TEST

/* ---- case discovery ------------------------------------------------------ */

static const char *const quantized_tensors[] = {"q", "qi", "q.repacked", "qi.repacked"};

static void discover_file(const char *file) {
    lq_gguf *g = tu_open_vector_file(file);
    for (size_t i = 0; i < sizeof quantized_tensors / sizeof quantized_tensors[0]; i++) {
        const lq_gguf_tensor *t = lq_gguf_find_tensor(g, quantized_tensors[i]);
        if (!t || !tu_type_selected(lq_type_name(t->type)) ||
            !(lq_type_caps(t->type) & LQ_CAP_DECODE) || !tu_expected_decoding(g, t->name))
            continue;
        vector_cases = realloc(vector_cases,
                               (size_t)(vector_case_count + 1) * sizeof *vector_cases);
        if (!vector_cases)
            abort();
        vector_case *c = &vector_cases[vector_case_count++];
        snprintf(c->file, sizeof c->file, "%s", file);
        snprintf(c->tensor, sizeof c->tensor, "%s", t->name);
    }
    lq_gguf_close(g);
}

static void discover_types(void) {
    type_cases = xmalloc((size_t)lq_type_count() * sizeof *type_cases);
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if ((lq_type_caps(info->type) & LQ_CAP_DECODE) && tu_type_selected(info->name))
            type_cases[type_case_count++] = info->type;
    }
    panel_cases = xmalloc((size_t)lq_type_count() * sizeof *panel_cases);
    for (int i = 0; i < type_case_count; i++)
        if (lq_panel_decoder_find(type_cases[i]) && lq_type_get(type_cases[i])->interleave == 1)
            panel_cases[panel_case_count++] = type_cases[i];
    narrow_cases = xmalloc((size_t)lq_type_count() * sizeof *narrow_cases);
    for (int i = 0; i < panel_case_count; i++)
        if (lq_avx2_levels_lowest(panel_cases[i]) != LQ_LEVELS_WIDE)
            narrow_cases[narrow_case_count++] = panel_cases[i];
    const int all = lq_panel_simd_decoder_count();
    simd_decoder_cases = xmalloc((size_t)all * sizeof *simd_decoder_cases);
    for (int i = 0; i < all; i++) {
        lq_simd_level level;
        const lq_panel_simd_decoder *d = lq_panel_simd_decoder_at(i, &level);
        const lq_type_info *info = lq_type_get(d->type);
        if (level <= lq_simd_level_default() && tu_type_selected(info->name))
            simd_decoder_cases[simd_decoder_case_count++] = i;
    }
    printf("SIMD panel decoders: %d of %d runnable on this CPU\n", simd_decoder_case_count, all);
}

static Suite *kernels_suite(void) {
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("types");
    tcase_add_test(tc, test_bad_types);
    suite_add_tcase(s, tc);
    printf("vector products: %d cases, decodable types: %d\n", vector_case_count,
           type_case_count);
    if (vector_case_count > 0) {
        tc = tcase_create("vector_product");
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, test_vector_product, 0, vector_case_count);
        suite_add_tcase(s, tc);
    }
    if (type_case_count > 0) {
        tc = tcase_create("determinism");
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, test_determinism, 0, type_case_count);
        suite_add_tcase(s, tc);
        tc = tcase_create("levels");
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, test_simd_activations);
        tcase_add_test(tc, test_simd_halves);
        tcase_add_loop_test(tc, test_levels_accuracy, 0, type_case_count);
        tcase_add_loop_test(tc, test_panel_scalar_decoders, 0, panel_case_count);
        tcase_add_loop_test(tc, test_narrow_level_ranges, 0, narrow_case_count);
        tcase_add_loop_test(tc, test_panel_decoders, 0, simd_decoder_case_count);
        if (lq_simd_level_default() >= LQ_SIMD_AVX512 && lq_bf16_gemm_available())
            tcase_add_test(tc, test_bf16_row_decoders);
        suite_add_tcase(s, tc);
        tc = tcase_create("bad_shapes");
        tcase_add_loop_test(tc, test_bad_shapes, 0, type_case_count);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) {
    tu_name_list files = tu_vector_files();
    for (int i = 0; i < files.count; i++)
        discover_file(files.names[i]);
    tu_name_list_free(&files);
    discover_types();
    SRunner *sr = srunner_create(kernels_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(vector_cases);
    free(type_cases);
    free(panel_cases);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
