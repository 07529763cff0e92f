/*
 * The public headers' rule for output buffers: every function that writes
 * into a caller's buffer takes its capacity in bytes, and a capacity below
 * what the call needs gives LQ_ERR_DST_TOO_SMALL with nothing written. Each
 * such function is called, for every type it supports, with a buffer
 * followed by a guard region of sentinel bytes: short capacities (one byte
 * short, one float short, zero) must leave every byte alone, the exact
 * capacity must succeed without touching the guard.
 *
 * Also: the version the header, lq_version() and the build (meson's
 * project version, passed as LQ_EXPECTED_VERSION) announce is the same.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "quant_imatrix.h"
#include "quant_kernels.h"
#include "testutil.h"

#define GUARD_BYTES 64
#define SENTINEL 0xA5

/* A buffer of `need` bytes plus the guard, all sentinel bytes. */
static unsigned char *guarded_buffer(size_t need) {
    unsigned char *b = malloc(need + GUARD_BYTES);
    ck_assert_ptr_nonnull(b);
    memset(b, SENTINEL, need + GUARD_BYTES);
    return b;
}

/* Index of the first byte of b[from, to) that is not the sentinel, or -1. */
static long first_touched(const unsigned char *b, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (b[i] != SENTINEL)
            return (long)i;
    return -1;
}

/* The capacities below `need` that each function is tried with. */
static size_t short_capacity(size_t need, int which) {
    switch (which) {
    case 0: return need - 1;
    case 1: return need >= sizeof(float) ? need - sizeof(float) : 0;
    default: return 0;
    }
}
#define SHORT_CAPACITIES 3

/* Types with every bit of `caps`; each test covers all of them. */
static int count_types_with(uint32_t caps) {
    int n = 0;
    for (int i = 0; i < lq_type_count(); i++)
        n += (lq_type_caps(lq_type_at(i)->type) & caps) == caps;
    return n;
}

/* Smallest valid shape of a type: one group of interleaved rows, one block
 * (a few more columns for the per-value types, whose rows may need them). */
static bool pick_shape(int type, int64_t *nrows, int64_t *ncols) {
    const lq_type_info *info = lq_type_get(type);
    const int64_t candidates[] = {info->block_size, 64, 256, 512, 1024};
    *nrows = info->interleave;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (candidates[i] > 1 && lq_tensor_size(type, *nrows, candidates[i]) > 0) {
            *ncols = candidates[i];
            return true;
        }
    return false;
}

static void fill_gaussian(float *x, int64_t n, uint64_t seed) {
    tu_rng rng = {seed};
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)tu_rng_gauss(&rng);
}

/* Weights of `type` and shape (encoded from Gaussian values when the type
 * can be encoded, zero bytes otherwise: every decoder accepts them). */
static void *make_weights(int type, int64_t nrows, int64_t ncols, size_t *size) {
    const int64_t bytes = lq_tensor_size(type, nrows, ncols);
    ck_assert_int_gt(bytes, 0);
    unsigned char *w = calloc(1, (size_t)bytes);
    ck_assert_ptr_nonnull(w);
    if (lq_type_caps(type) & LQ_CAP_ENCODE) {
        float *x = malloc(sizeof(float) * (size_t)(nrows * ncols));
        ck_assert_ptr_nonnull(x);
        fill_gaussian(x, nrows * ncols, 7 + (uint64_t)type);
        ck_assert_int_eq(lq_quantize_rows(type, x, nrows, ncols, NULL, w, (size_t)bytes), bytes);
        free(x);
    }
    *size = (size_t)bytes;
    return w;
}

/* Asserts the short calls' result and that they wrote nothing; `call`
 * makes the call with the given capacity into buf. */
typedef int64_t (*capacity_call)(void *ctx, unsigned char *buf, size_t capacity);

static void check_capacities(const char *what, capacity_call call, void *ctx, size_t need,
                             int64_t success) {
    unsigned char *buf = guarded_buffer(need);
    for (int which = 0; which < SHORT_CAPACITIES; which++) {
        const size_t capacity = short_capacity(need, which);
        const int64_t st = call(ctx, buf, capacity);
        ck_assert_msg(st == LQ_ERR_DST_TOO_SMALL, "%s, %zu of %zu bytes: %s", what, capacity,
                      need, st < 0 ? lq_error_name((int)st) : "succeeded");
        const long touched = first_touched(buf, 0, need + GUARD_BYTES);
        ck_assert_msg(touched < 0, "%s, %zu of %zu bytes: byte %ld written by a failed call",
                      what, capacity, need, touched);
    }
    const int64_t st = call(ctx, buf, need);
    ck_assert_msg(st == success, "%s, exactly %zu bytes: %s", what, need,
                  st < 0 ? lq_error_name((int)st) : "unexpected size");
    const long touched = first_touched(buf, need, need + GUARD_BYTES);
    ck_assert_msg(touched < 0, "%s: guard byte %ld (of a %zu-byte capacity) written", what,
                  touched, need);
    free(buf);
}

typedef struct codec_case {
    int type;
    int64_t nrows, ncols;
    const void *src;
    size_t src_size;
    const float *floats;
    lq_matmul_ctx *matmul;
    int64_t nvectors;
} codec_case;

static int64_t call_dequantize(void *ctx, unsigned char *buf, size_t capacity) {
    const codec_case *c = ctx;
    return lq_dequantize_rows(c->type, c->src, c->src_size, c->nrows, c->ncols, (float *)buf,
                              capacity);
}

static int64_t call_quantize(void *ctx, unsigned char *buf, size_t capacity) {
    const codec_case *c = ctx;
    return lq_quantize_rows(c->type, c->floats, c->nrows, c->ncols, NULL, buf, capacity);
}

static int64_t call_repack(void *ctx, unsigned char *buf, size_t capacity) {
    const codec_case *c = ctx;
    return lq_repack_rows(c->type, c->src, c->src_size, c->nrows, c->ncols, buf, capacity);
}

static int64_t call_unpack(void *ctx, unsigned char *buf, size_t capacity) {
    const codec_case *c = ctx;
    return lq_unpack_rows(c->type, c->src, c->src_size, c->nrows, c->ncols, buf, capacity);
}

static int64_t call_matmul(void *ctx, unsigned char *buf, size_t capacity) {
    const codec_case *c = ctx;
    return lq_matmul(c->matmul, c->type, c->src, c->src_size, c->nrows, c->ncols, c->floats,
                     c->nvectors, (float *)buf, capacity);
}

static int64_t call_activation(void *ctx, unsigned char *buf, size_t capacity) {
    const codec_case *c = ctx;
    return lq_quantize_activation(c->type, c->floats, c->ncols, buf, capacity);
}

START_TEST(test_dequantize_rows) {
    int tested = 0;
    for (int i = 0; i < lq_type_count(); i++) {
        const int type = lq_type_at(i)->type;
        codec_case c = {.type = type};
        if (!(lq_type_caps(type) & LQ_CAP_DECODE) || !pick_shape(type, &c.nrows, &c.ncols))
            continue;
        void *w = make_weights(type, c.nrows, c.ncols, &c.src_size);
        c.src = w;
        check_capacities(lq_type_name(type), call_dequantize, &c,
                         sizeof(float) * (size_t)(c.nrows * c.ncols), LQ_OK);
        free(w);
        tested++;
    }
    ck_assert_int_eq(tested, count_types_with(LQ_CAP_DECODE));
    ck_assert_int_ge(tested, 70);
}
END_TEST

START_TEST(test_matmul) {
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(2);
    ck_assert_ptr_nonnull(ctx);
    int tested = 0;
    for (int i = 0; i < lq_type_count(); i++) {
        const int type = lq_type_at(i)->type;
        codec_case c = {.type = type, .matmul = ctx, .nvectors = 3};
        if (!(lq_type_caps(type) & LQ_CAP_DECODE) || !pick_shape(type, &c.nrows, &c.ncols))
            continue;
        void *w = make_weights(type, c.nrows, c.ncols, &c.src_size);
        float *x = malloc(sizeof(float) * (size_t)(c.nvectors * c.ncols));
        ck_assert_ptr_nonnull(x);
        fill_gaussian(x, c.nvectors * c.ncols, 11);
        c.src = w;
        c.floats = x;
        check_capacities(lq_type_name(type), call_matmul, &c,
                         sizeof(float) * (size_t)(c.nvectors * c.nrows), LQ_OK);
        free(x);
        free(w);
        tested++;
    }
    lq_matmul_ctx_free(ctx);
    ck_assert_int_eq(tested, count_types_with(LQ_CAP_DECODE));
    ck_assert_int_ge(tested, 70);
}
END_TEST

START_TEST(test_quantize_rows) {
    int tested = 0;
    for (int i = 0; i < lq_type_count(); i++) {
        const int type = lq_type_at(i)->type;
        codec_case c = {.type = type};
        if (!(lq_type_caps(type) & LQ_CAP_ENCODE) || !pick_shape(type, &c.nrows, &c.ncols))
            continue;
        float *x = malloc(sizeof(float) * (size_t)(c.nrows * c.ncols));
        ck_assert_ptr_nonnull(x);
        fill_gaussian(x, c.nrows * c.ncols, 3);
        c.floats = x;
        const int64_t bytes = lq_tensor_size(type, c.nrows, c.ncols);
        check_capacities(lq_type_name(type), call_quantize, &c, (size_t)bytes, bytes);
        free(x);
        tested++;
    }
    ck_assert_int_eq(tested, count_types_with(LQ_CAP_ENCODE));
    ck_assert_int_ge(tested, 70);
}
END_TEST

START_TEST(test_repack_and_unpack) {
    int tested = 0;
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        codec_case c = {.type = info->type};
        if (!(lq_type_caps(info->type) & LQ_CAP_REPACK) ||
            !pick_shape(info->type, &c.nrows, &c.ncols))
            continue;
        char what[64];
        void *base = make_weights(info->base_type, c.nrows, c.ncols, &c.src_size);
        c.src = base;
        const size_t packed_bytes = (size_t)lq_tensor_size(info->type, c.nrows, c.ncols);
        snprintf(what, sizeof what, "repack to %s", info->name);
        check_capacities(what, call_repack, &c, packed_bytes, LQ_OK);
        void *packed = malloc(packed_bytes);
        ck_assert_ptr_nonnull(packed);
        ck_assert_int_eq(lq_repack_rows(info->type, base, c.src_size, c.nrows, c.ncols, packed,
                                        packed_bytes), LQ_OK);
        const size_t base_bytes = c.src_size;
        c.src = packed;
        c.src_size = packed_bytes;
        snprintf(what, sizeof what, "unpack %s", info->name);
        check_capacities(what, call_unpack, &c, base_bytes, LQ_OK);
        free(packed);
        free(base);
        tested++;
    }
    ck_assert_int_eq(tested, count_types_with(LQ_CAP_REPACK));
    ck_assert_int_ge(tested, 20);
}
END_TEST

START_TEST(test_quantize_activation) {
    int tested = 0;
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        codec_case c = {.type = info->type};
        if (!(lq_type_caps(info->type) & LQ_CAP_DECODE) || info->interleave != 1 ||
            !pick_shape(info->type, &c.nrows, &c.ncols))
            continue;
        float *x = malloc(sizeof(float) * (size_t)c.ncols);
        ck_assert_ptr_nonnull(x);
        fill_gaussian(x, c.ncols, 5);
        c.floats = x;
        const int64_t bytes = lq_activation_size(info->type, c.ncols);
        ck_assert_int_gt(bytes, 0);
        check_capacities(info->name, call_activation, &c, (size_t)bytes, LQ_OK);
        free(x);
        tested++;
    }
    ck_assert_int_ge(tested, 40);
}
END_TEST

typedef struct weights_case {
    const lq_imatrix_entry *entry;
} weights_case;

static int64_t call_entry_weights(void *ctx, unsigned char *buf, size_t capacity) {
    const weights_case *c = ctx;
    return lq_imatrix_entry_weights(c->entry, (float *)buf, capacity);
}

START_TEST(test_imatrix_entry_weights) {
    enum { COLS = 40, EXPERTS = 3 };
    float sums[COLS * EXPERTS], counts[EXPERTS] = {2.0f, 0.0f, 5.0f};
    for (int i = 0; i < COLS * EXPERTS; i++)
        sums[i] = 0.5f * (float)(i + 1);
    lq_imatrix *m = lq_imatrix_new();
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(lq_imatrix_add(m, "blk.0.ffn_up_exps.weight", COLS, EXPERTS, sums, counts),
                     LQ_OK);
    weights_case c = {lq_imatrix_find(m, "blk.0.ffn_up_exps.weight")};
    ck_assert_ptr_nonnull(c.entry);
    check_capacities("imatrix weights", call_entry_weights, &c, sizeof(float) * COLS * EXPERTS,
                     LQ_OK);
    /* and the values themselves: sums / counts, 1.0 for an expert without tokens */
    float w[COLS * EXPERTS];
    ck_assert_int_eq(lq_imatrix_entry_weights(c.entry, w, sizeof w), LQ_OK);
    ck_assert_float_eq(w[3], sums[3] / 2.0f);
    ck_assert_float_eq(w[COLS + 3], 1.0f);
    ck_assert_float_eq(w[2 * COLS + 3], sums[2 * COLS + 3] / 5.0f);
    ck_assert_int_eq(lq_imatrix_entry_weights(NULL, w, sizeof w), LQ_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lq_imatrix_entry_weights(c.entry, NULL, sizeof w), LQ_ERR_INVALID_ARGUMENT);
    lq_imatrix_free(m);
}
END_TEST

/* A count of floats passed where bytes are expected is too small, never an
 * overrun: the reason capacities are bytes. */
START_TEST(test_float_count_is_too_small) {
    float x[64], back[64];
    fill_gaussian(x, 64, 1);
    unsigned char q[128];
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_F16, x, 1, 64, NULL, q, sizeof q), 128);
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_F16, q, sizeof q, 1, 64, back, 64),
                     LQ_ERR_DST_TOO_SMALL);
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_F16, q, sizeof q, 1, 64, back, sizeof back),
                     LQ_OK);
}
END_TEST

/* 0.1's calls, without the capacities, still compile and compute the same
 * (deprecated: the warning is what tells their authors). */
START_TEST(test_calls_of_0_1_still_work) {
    enum { ROWS = 4, COLS = 256 };
    float x[ROWS * COLS], act[COLS], y_new[ROWS], y_old[ROWS];
    float back_new[ROWS * COLS], back_old[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < COLS; i++)
        act[i] = (float)((i * 11) % 13) / 6.0f - 1.0f;
    uint8_t q[ROWS * 144];
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_Q4_K, x, ROWS, COLS, NULL, q, sizeof q),
                     (int64_t)sizeof q);
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(1);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_Q4_K, q, sizeof q, ROWS, COLS, back_new,
                                        sizeof back_new), LQ_OK);
    ck_assert_int_eq(lq_matmul(ctx, LQ_TYPE_Q4_K, q, sizeof q, ROWS, COLS, act, 1, y_new,
                               sizeof y_new), LQ_OK);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_Q4_K, q, sizeof q, ROWS, COLS, back_old), LQ_OK);
    ck_assert_int_eq(lq_matmul(ctx, LQ_TYPE_Q4_K, q, sizeof q, ROWS, COLS, act, 1, y_old), LQ_OK);
#pragma GCC diagnostic pop
    ck_assert_mem_eq(back_new, back_old, sizeof back_new);
    ck_assert_mem_eq(y_new, y_old, sizeof y_new);
    lq_matmul_ctx_free(ctx);
}
END_TEST

START_TEST(test_version_agrees) {
    char header[32];
    snprintf(header, sizeof header, "%d.%d.%d", LQ_VERSION_MAJOR, LQ_VERSION_MINOR,
             LQ_VERSION_PATCH);
    ck_assert_str_eq(lq_version(), header);
    ck_assert_str_eq(lq_version(), LQ_EXPECTED_VERSION);
}
END_TEST

int main(void) {
    Suite *s = suite_create("api_capacity");
    TCase *tc = tcase_create("capacity");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_dequantize_rows);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_quantize_rows);
    tcase_add_test(tc, test_repack_and_unpack);
    tcase_add_test(tc, test_quantize_activation);
    tcase_add_test(tc, test_imatrix_entry_weights);
    tcase_add_test(tc, test_float_count_is_too_small);
    tcase_add_test(tc, test_calls_of_0_1_still_work);
    tcase_add_test(tc, test_version_agrees);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
