/*
 * The row-interleaved types: shapes that are not whole groups are refused;
 * repack and unpack are inverse byte for byte on random data of several
 * shapes (base rows made by the base codec, and raw random bytes, which
 * reach every bit of the layout); the interleaved decoding equals the base
 * decoding of the same rows; q8_k_r8 / q8_k_r16 encode sensibly, odd inputs
 * included.
 *
 * Types whose base codec is not registered are skipped (and named), not
 * counted as passes.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_CASES 64

/* Interleaved types that repack a base type, and those with a base encoder. */
static int repack_types[MAX_CASES], repack_count;
static int encodable_types[MAX_CASES], encodable_count;
/* Every interleaved type this build can encode or repack. */
static int grouped_types[MAX_CASES], grouped_count;

static const lq_type_info *info_of(int type) {
    const lq_type_info *info = lq_type_get(type);
    ck_assert_ptr_nonnull(info);
    return info;
}

static void fill_random_floats(tu_rng *rng, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)tu_rng_gauss(rng);
}

static unsigned char *xmalloc(size_t n) {
    unsigned char *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Column counts: 1, 3 and 8 blocks (bf16_r16: odd and even widths too). */
static int64_t shape_cols(const lq_type_info *info, int which) {
    static const int64_t blocks[] = {1, 3, 8};
    int64_t unit = info->block_size == 1 ? 32 : info->block_size;
    if (info->block_size == 1 && which == 0)
        return 7;
    return unit * blocks[which];
}

/* ---- shapes that are not whole groups --------------------------------- */

START_TEST(test_partial_groups_refused) {
    const lq_type_info *info = info_of(grouped_types[_i]);
    tu_rng rng = {0x1234u + (uint64_t)_i};
    const int64_t ncols = info->block_size == 1 ? 64 : info->block_size;
    const int n = info->interleave;
    for (int trial = 0; trial < 8; trial++) {
        int64_t nrows = 1 + (int64_t)(tu_rng_uniform(&rng) * 5 * n);
        if (nrows % n == 0)
            nrows++;
        size_t big = (size_t)(nrows + n) * 4 * (size_t)ncols * 4 + 1024;
        unsigned char *a = xmalloc(big), *b = xmalloc(big);
        float *x = calloc((size_t)(nrows * ncols), sizeof(float));
        ck_assert_ptr_nonnull(x);
        if (lq_type_caps(info->type) & LQ_CAP_REPACK) {
            ck_assert_int_eq(lq_repack_rows(info->type, a, big, nrows, ncols, b, big),
                             LQ_ERR_BAD_SHAPE);
            ck_assert_int_eq(lq_unpack_rows(info->type, a, big, nrows, ncols, b, big),
                             LQ_ERR_BAD_SHAPE);
        }
        if (lq_type_caps(info->type) & LQ_CAP_ENCODE)
            ck_assert_int_eq(lq_quantize_rows(info->type, x, nrows, ncols, NULL, b, big),
                             LQ_ERR_BAD_SHAPE);
        free(a);
        free(b);
        free(x);
    }
}
END_TEST

/* ---- repack / unpack round trips --------------------------------------- */

static void check_round_trip(int type, const unsigned char *base_rows,
                             int64_t nrows, int64_t ncols, const char *what) {
    const lq_type_info *info = info_of(type);
    int64_t base_size = lq_tensor_size(info->base_type, nrows, ncols);
    int64_t packed_size = lq_tensor_size(type, nrows, ncols);
    ck_assert_int_gt(base_size, 0);
    ck_assert_int_gt(packed_size, 0);
    unsigned char *packed = xmalloc((size_t)packed_size);
    unsigned char *back = xmalloc((size_t)base_size);
    ck_assert_int_eq(lq_repack_rows(type, base_rows, (size_t)base_size, nrows, ncols,
                                    packed, (size_t)packed_size), LQ_OK);
    ck_assert_int_eq(lq_unpack_rows(type, packed, (size_t)packed_size, nrows, ncols,
                                    back, (size_t)base_size), LQ_OK);
    for (int64_t i = 0; i < base_size; i++)
        ck_assert_msg(back[i] == base_rows[i], "%s %s %lldx%lld: byte %lld differs "
                      "after repack+unpack", info->name, what, (long long)nrows,
                      (long long)ncols, (long long)i);
    free(packed);
    free(back);
}

/* Bit-identical floats, or +0/-0, or both NaN. */
static int same_value(float a, float b) {
    return a == b || (isnan(a) && isnan(b));
}

START_TEST(test_round_trip_quantized) {
    const int type = encodable_types[_i];
    const lq_type_info *info = info_of(type);
    tu_rng rng = {0xabcdu + (uint64_t)type};
    for (int shape = 0; shape < 3; shape++) {
        const int64_t ncols = shape_cols(info, shape);
        const int64_t nrows = info->interleave * (shape == 1 ? 3 : 1);
        float *x = malloc((size_t)(nrows * ncols) * sizeof(float));
        ck_assert_ptr_nonnull(x);
        fill_random_floats(&rng, x, nrows * ncols);
        int64_t base_size = lq_tensor_size(info->base_type, nrows, ncols);
        int64_t packed_size = lq_tensor_size(type, nrows, ncols);
        unsigned char *base = xmalloc((size_t)base_size);
        unsigned char *packed = xmalloc((size_t)packed_size);
        ck_assert_int_eq(lq_quantize_rows(info->base_type, x, nrows, ncols, NULL, base,
                                          (size_t)base_size), base_size);
        check_round_trip(type, base, nrows, ncols, "quantized rows");

        /* decoding the interleaved rows gives the base decoding */
        ck_assert_int_eq(lq_repack_rows(type, base, (size_t)base_size, nrows, ncols,
                                        packed, (size_t)packed_size), LQ_OK);
        float *want = malloc((size_t)(nrows * ncols) * sizeof(float));
        float *got = malloc((size_t)(nrows * ncols) * sizeof(float));
        ck_assert(want && got);
        const size_t decoded_bytes = (size_t)(nrows * ncols) * sizeof(float);
        ck_assert_int_eq(lq_dequantize_rows(info->base_type, base, (size_t)base_size,
                                            nrows, ncols, want, decoded_bytes), LQ_OK);
        ck_assert_int_eq(lq_dequantize_rows(type, packed, (size_t)packed_size, nrows,
                                            ncols, got, decoded_bytes), LQ_OK);
        for (int64_t i = 0; i < nrows * ncols; i++)
            ck_assert_msg(same_value(want[i], got[i]), "%s: value %lld decodes to %g, "
                          "base %g", info->name, (long long)i, (double)got[i],
                          (double)want[i]);

        /* quantizing to the interleaved type is quantize-then-repack */
        unsigned char *direct = xmalloc((size_t)packed_size);
        ck_assert_int_eq(lq_quantize_rows(type, x, nrows, ncols, NULL, direct,
                                          (size_t)packed_size), packed_size);
        ck_assert_msg(memcmp(direct, packed, (size_t)packed_size) == 0,
                      "%s: direct quantization differs from base + repack", info->name);
        free(direct);
        free(want);
        free(got);
        free(x);
        free(base);
        free(packed);
    }
}
END_TEST

START_TEST(test_round_trip_random_bytes) {
    const int type = repack_types[_i];
    const lq_type_info *info = info_of(type);
    /* q8_KV rows carry a sum of their quants that q8_KV_r8 drops: random
     * bytes are not a valid q8_KV row there (the quantized test covers it) */
    if (type == LQ_TYPE_Q8_KV_R8)
        return;
    tu_rng rng = {0x5eedu + (uint64_t)type};
    for (int shape = 0; shape < 3; shape++) {
        const int64_t ncols = shape_cols(info, shape);
        const int64_t nrows = info->interleave * (shape == 2 ? 2 : 1 + shape);
        int64_t base_size = lq_tensor_size(info->base_type, nrows, ncols);
        unsigned char *base = xmalloc((size_t)base_size);
        for (int64_t i = 0; i < base_size; i++)
            base[i] = (unsigned char)(tu_rng_next(&rng) >> 56);
        check_round_trip(type, base, nrows, ncols, "random bytes");
        free(base);
    }
}
END_TEST

/* ---- q8_k_r8 / q8_k_r16 -------------------------------------------------- */

static const int own_formats[] = {LQ_TYPE_Q8_K_R8, LQ_TYPE_Q8_K_R16};

static void encode_decode(int type, const float *x, int64_t nrows, int64_t ncols,
                          float *out) {
    int64_t size = lq_tensor_size(type, nrows, ncols);
    unsigned char *q = xmalloc((size_t)size);
    ck_assert_int_eq(lq_quantize_rows(type, x, nrows, ncols, NULL, q, (size_t)size), size);
    /* out holds exactly nrows x ncols floats (the callers allocate that) */
    ck_assert_int_eq(lq_dequantize_rows(type, q, (size_t)size, nrows, ncols, out,
                                        (size_t)(nrows * ncols) * sizeof(float)), LQ_OK);
    free(q);
}

START_TEST(test_q8_k_own_formats) {
    const int type = own_formats[_i];
    const lq_type_info *info = info_of(type);
    const int64_t nrows = info->interleave, ncols = 512;
    const int64_t n = nrows * ncols;
    float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    ck_assert(x && y);
    tu_rng rng = {77};
    fill_random_floats(&rng, x, n);
    encode_decode(type, x, nrows, ncols, y);
    double err = tu_quant_error(x, y, nrows, ncols, NULL);
    /* 8 bits on Gaussian data: about 1% of the row norm per row */
    ck_assert_msg(err < 0.02 * sqrt((double)nrows), "%s: error %g", info->name, err);

    /* odd rows: zeros, a constant, one huge outlier, denormals, fp16 overflow */
    for (int64_t i = 0; i < n; i++) {
        int64_t row = i / ncols;
        x[i] = row == 0 ? 0.0f
             : row == 1 ? 3.0f
             : row == 2 ? (i % ncols == 5 ? 1e6f : 1e-3f)
             : row == 3 ? 1e-40f
             : row == 4 ? (i % 2 ? 1e30f : -1e30f)
             : (float)tu_rng_gauss(&rng);
    }
    encode_decode(type, x, nrows, ncols, y);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(isfinite(y[i]), "%s: value %lld decodes to %g", info->name,
                      (long long)i, (double)y[i]);
    for (int64_t c = 0; c < ncols; c++) {
        ck_assert(y[c] == 0.0f);
        ck_assert(fabsf(y[ncols + c] - 3.0f) < 0.02f);
    }
    free(x);
    free(y);
}
END_TEST

/* ---- discovery ----------------------------------------------------------- */

static void discover(void) {
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if (info->interleave > 1 &&
            (lq_type_caps(info->type) & (LQ_CAP_ENCODE | LQ_CAP_REPACK))) {
            if (grouped_count == MAX_CASES)
                abort();
            grouped_types[grouped_count++] = info->type;
        }
        if (info->base_type < 0 || info->interleave == 1)
            continue;
        if (!(lq_type_caps(info->type) & LQ_CAP_REPACK)) {
            printf("skip %s: no repack\n", info->name);
            continue;
        }
        if (repack_count == MAX_CASES)
            abort();
        repack_types[repack_count++] = info->type;
        uint32_t base_caps = lq_type_caps(info->base_type);
        if ((base_caps & LQ_CAP_ENCODE) && (base_caps & LQ_CAP_DECODE))
            encodable_types[encodable_count++] = info->type;
        else
            printf("skip %s quantized round trip: base %s has no codec yet\n",
                   info->name, lq_type_name(info->base_type));
    }
}

static Suite *interleaved_suite(void) {
    Suite *s = suite_create("interleaved");
    TCase *tc;
    if (grouped_count > 0) {
        tc = tcase_create("shapes");
        tcase_add_loop_test(tc, test_partial_groups_refused, 0, grouped_count);
        suite_add_tcase(s, tc);
    }
    if (repack_count > 0) {
        tc = tcase_create("random_bytes");
        tcase_add_loop_test(tc, test_round_trip_random_bytes, 0, repack_count);
        suite_add_tcase(s, tc);
    }
    if (encodable_count > 0) {
        tc = tcase_create("quantized");
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, test_round_trip_quantized, 0, encodable_count);
        suite_add_tcase(s, tc);
    }
    tc = tcase_create("q8_k_formats");
    tcase_add_loop_test(tc, test_q8_k_own_formats, 0,
                        (int)(sizeof own_formats / sizeof own_formats[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    discover();
    printf("%d repackable types, %d with a base codec\n", repack_count, encodable_count);
    SRunner *sr = srunner_create(interleaved_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
