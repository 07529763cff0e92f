/*
 * The type registry, the size arithmetic, the argument checks of the row API,
 * the status names, and the scalar F16/BF16 conversions (checked exhaustively
 * or against an independent nearest-value search).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_names_round_trip) {
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        ck_assert_ptr_eq(lq_type_get(info->type), info);
        ck_assert_int_eq(lq_type_from_name(info->name), (int)info->type);
        /* names are accepted in any case */
        char upper[32];
        size_t n = strlen(info->name);
        ck_assert_uint_lt(n, sizeof upper);
        for (size_t k = 0; k <= n; k++)
            upper[k] = (char)((info->name[k] >= 'a' && info->name[k] <= 'z')
                                  ? info->name[k] - 32 : info->name[k]);
        ck_assert_int_eq(lq_type_from_name(upper), (int)info->type);
        if (i > 0)
            ck_assert_int_lt(lq_type_at(i - 1)->type, info->type);
    }
    ck_assert_int_eq(lq_type_from_name("q4_k_m"), LQ_ERR_UNKNOWN_TYPE);
    ck_assert_ptr_null(lq_type_get(4));
    ck_assert_ptr_null(lq_type_get(-1));
    ck_assert_ptr_null(lq_type_get(100000));
    ck_assert_ptr_null(lq_type_name(5));
}
END_TEST

START_TEST(test_geometry_is_consistent) {
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        int f = info->interleave;
        ck_assert_msg(f == 1 || f == 4 || f == 8 || f == 16, "%s", info->name);
        ck_assert_int_gt(info->block_size, 0);
        ck_assert_int_gt(info->type_size, 0);
        if (info->base_type >= 0) {
            const lq_type_info *base = lq_type_get(info->base_type);
            ck_assert_ptr_nonnull(base);
            ck_assert_int_eq(base->interleave, 1);
            ck_assert_int_eq(base->block_size, info->block_size);
            ck_assert_int_eq(base->type_size, info->type_size);
        } else {
            ck_assert_msg(f == 1 || info->type == LQ_TYPE_IQ1_S_R4 ||
                          info->type == LQ_TYPE_IQ1_M_R4 || info->type == LQ_TYPE_Q8_K_R8 ||
                          info->type == LQ_TYPE_Q8_K_R16,
                          "%s is interleaved without a base type", info->name);
        }
    }
    /* the ids and names the GGUF files of both projects use */
    ck_assert_str_eq(lq_type_name(133), "q6_0");
    ck_assert_str_eq(lq_type_name(137), "iq2_k");
    ck_assert_str_eq(lq_type_name(158), "iq1_kt");
    ck_assert_str_eq(lq_type_name(151), "q8_KV");
    ck_assert_str_eq(lq_type_name(344), "iq4_ks_r4");
}
END_TEST

START_TEST(test_row_and_tensor_sizes) {
    ck_assert_int_eq(lq_row_size(LQ_TYPE_Q4_0, 4096), 4096 / 32 * 18);
    ck_assert_int_eq(lq_row_size(LQ_TYPE_IQ2_KS, 4096), 2 + 16 * 70);
    ck_assert_int_eq(lq_row_size(LQ_TYPE_F32, 7), 28);
    ck_assert_int_eq(lq_row_size(LQ_TYPE_Q4_K, 4544), LQ_ERR_BAD_SHAPE);
    ck_assert_int_eq(lq_row_size(LQ_TYPE_Q4_K, 0), LQ_ERR_BAD_SHAPE);
    ck_assert_int_eq(lq_row_size(LQ_TYPE_Q4_K, -256), LQ_ERR_BAD_SHAPE);
    ck_assert_int_eq(lq_row_size(9999, 256), LQ_ERR_UNKNOWN_TYPE);
    ck_assert_int_eq(lq_row_size(LQ_TYPE_F64, INT64_MAX), LQ_ERR_OVERFLOW);
    ck_assert_int_eq(lq_tensor_size(LQ_TYPE_Q4_0_R8, 16, 64), 16 * 2 * 18);
    ck_assert_int_eq(lq_tensor_size(LQ_TYPE_Q4_0_R8, 12, 64), LQ_ERR_BAD_SHAPE);
    ck_assert_int_eq(lq_tensor_size(LQ_TYPE_BF16_R16, 8, 64), LQ_ERR_BAD_SHAPE);
    ck_assert_int_eq(lq_tensor_size(LQ_TYPE_F32, INT64_MAX / 2, 1024), LQ_ERR_OVERFLOW);
    ck_assert_int_eq(lq_tensor_size(LQ_TYPE_F32, -1, 4), LQ_ERR_BAD_SHAPE);
}
END_TEST

START_TEST(test_row_api_argument_errors) {
    float x[64] = {0};
    unsigned char out[256];
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_F16, x, 1, 64, NULL, out, 127),
                     LQ_ERR_DST_TOO_SMALL);
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_F16, x, 1, 64, NULL, out, 128), 128);
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_F16, NULL, 1, 64, NULL, out, 128),
                     LQ_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lq_quantize_rows(9999, x, 1, 64, NULL, out, 256), LQ_ERR_UNKNOWN_TYPE);
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_Q4_K, x, 1, 64, NULL, out, 256),
                     LQ_ERR_BAD_SHAPE);
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_I32, x, 1, 64, NULL, out, 256),
                     LQ_ERR_UNSUPPORTED);
    float bad_imatrix[64];
    for (int i = 0; i < 64; i++)
        bad_imatrix[i] = 1.0f;
    bad_imatrix[3] = -1.0f;
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_F16, x, 1, 64, bad_imatrix, out, 256),
                     LQ_ERR_INVALID_ARGUMENT);
    float back[64];
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_F16, out, 127, 1, 64, back, sizeof back),
                     LQ_ERR_SRC_TOO_SMALL);
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_F16, out, 128, 1, 64, back, sizeof back), LQ_OK);
    ck_assert_int_eq(lq_repack_rows(LQ_TYPE_F16, out, 128, 1, 64, back, 256),
                     LQ_ERR_UNSUPPORTED);
    /* zero rows is a valid, empty request */
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_F16, NULL, 0, 64, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(test_status_names) {
    const int statuses[] = {LQ_OK, LQ_ERR_INVALID_ARGUMENT, LQ_ERR_UNKNOWN_TYPE,
                            LQ_ERR_UNSUPPORTED, LQ_ERR_BAD_SHAPE, LQ_ERR_DST_TOO_SMALL,
                            LQ_ERR_SRC_TOO_SMALL, LQ_ERR_NONFINITE, LQ_ERR_NO_MEMORY,
                            LQ_ERR_IO, LQ_ERR_FORMAT, LQ_ERR_OVERFLOW, LQ_ERR_NOT_FOUND};
    size_t n = sizeof statuses / sizeof statuses[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_ne(lq_error_name(statuses[i]), "LQ_ERR_UNKNOWN_STATUS");
        ck_assert_str_ne(lq_error_message(statuses[i]), "unknown status code");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(lq_error_name(statuses[i]), lq_error_name(statuses[j]));
    }
    ck_assert_str_eq(lq_error_name(-1000), "LQ_ERR_UNKNOWN_STATUS");
}
END_TEST

/* Every half value converts to float and back to itself (NaNs stay NaN). */
/* (Check records every passing assertion: loops collect the first failure.) */
START_TEST(test_fp16_exhaustive_round_trip) {
    int64_t bad = -1;
    for (uint32_t h = 0; h < 65536 && bad < 0; h++) {
        float f = lq_fp16_to_fp32((uint16_t)h);
        uint16_t back = lq_fp32_to_fp16(f);
        if (isnan(f) ? !isnan(lq_fp16_to_fp32(back)) : back != h)
            bad = h;
    }
    ck_assert_msg(bad < 0, "0x%04llx does not survive half -> float -> half", (long long)bad);
    ck_assert_float_eq(lq_fp16_to_fp32(0x3c00), 1.0f);
    ck_assert_float_eq(lq_fp16_to_fp32(0x0001), 0x1p-24f);
    ck_assert_float_eq(lq_fp16_to_fp32(0x7bff), 65504.0f);
}
END_TEST

/* Independent definition of round-to-nearest-even: the nearest of the two
 * representable neighbours, the even one on a tie. */
static int nearest_is_correct(float f, uint16_t got, float (*decode)(uint16_t)) {
    float v = decode(got);
    if (isinf(v))
        return 1; /* checked separately below */
    double err = fabs((double)v - (double)f);
    uint16_t neighbours[2] = {(uint16_t)(got + 1), (uint16_t)(got - 1)};
    for (int k = 0; k < 2; k++) {
        float w = decode(neighbours[k]);
        if (isnan(w) || (signbit(w) != signbit(v) && w != 0.0f))
            continue;
        double e2 = fabs((double)w - (double)f);
        if (e2 < err)
            return 0;
        if (e2 == err && (got & 1))
            return 0;
    }
    return 1;
}

START_TEST(test_fp16_bf16_round_to_nearest_even) {
    tu_rng rng = {2024};
    float bad_fp16 = 0, bad_bf16 = 0;
    int fp16_failures = 0, bf16_failures = 0;
    for (int i = 0; i < 1000000; i++) {
        uint32_t bits = (uint32_t)tu_rng_next(&rng);
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f))
            continue;
        if (fabsf(f) < 65504.0f && !nearest_is_correct(f, lq_fp32_to_fp16(f), lq_fp16_to_fp32))
            bad_fp16 = f, fp16_failures++;
        if (fabsf(f) < 3.38e38f && !nearest_is_correct(f, lq_fp32_to_bf16(f), lq_bf16_to_fp32))
            bad_bf16 = f, bf16_failures++;
    }
    ck_assert_msg(fp16_failures == 0, "%d fp16 roundings wrong, e.g. of %a", fp16_failures,
                  (double)bad_fp16);
    ck_assert_msg(bf16_failures == 0, "%d bf16 roundings wrong, e.g. of %a", bf16_failures,
                  (double)bad_bf16);
    ck_assert(isinf(lq_fp16_to_fp32(lq_fp32_to_fp16(65520.0f))));
    ck_assert_float_eq(lq_fp16_to_fp32(lq_fp32_to_fp16(65519.0f)), 65504.0f);
    ck_assert(isinf(lq_fp16_to_fp32(lq_fp32_to_fp16(INFINITY))));
    ck_assert(isnan(lq_fp16_to_fp32(lq_fp32_to_fp16(NAN))));
    ck_assert(isnan(lq_bf16_to_fp32(lq_fp32_to_bf16(NAN))));
    ck_assert(isinf(lq_bf16_to_fp32(lq_fp32_to_bf16(-INFINITY))));
    /* ties: 1 + 2^-11 is halfway between two halves; the even one wins */
    ck_assert_uint_eq(lq_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
    ck_assert_uint_eq(lq_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);
    ck_assert_uint_eq(lq_fp32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
}
END_TEST

/* The codec path (which may use F16C) gives the scalar conversion's bits,
 * for every half value and for random floats, at lengths with tails. */
START_TEST(test_f16_codec_equals_scalar) {
    uint16_t *halves = malloc(65536 * sizeof(uint16_t));
    float *floats = malloc(65536 * sizeof(float));
    ck_assert(halves && floats);
    for (uint32_t h = 0; h < 65536; h++)
        halves[h] = (uint16_t)h;
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_F16, halves, 65536 * 2, 1, 65536, floats,
                                        65536 * sizeof(float)), LQ_OK);
    int64_t bad = -1;
    for (uint32_t h = 0; h < 65536 && bad < 0; h++) {
        float expect = lq_fp16_to_fp32((uint16_t)h);
        if (memcmp(&expect, &floats[h], 4) != 0)
            bad = h;
    }
    ck_assert_msg(bad < 0, "decode of 0x%04llx", (long long)bad);
    tu_rng rng = {31};
    for (int64_t n = 1; n <= 1031; n += 41) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)tu_rng_next(&rng);
            if (i % 3 == 0) /* also values in the normal fp16 range */
                bits = (bits & 0x807fffffu) | ((uint32_t)(100 + bits % 50) << 23);
            memcpy(&floats[i], &bits, 4);
        }
        ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_F16, floats, 1, n, NULL, halves, (size_t)n * 2),
                         n * 2);
        int64_t first_bad = -1;
        for (int64_t i = 0; i < n && first_bad < 0; i++)
            if (halves[i] != lq_fp32_to_fp16(floats[i]))
                first_bad = i;
        ck_assert_msg(first_bad < 0, "encode of %a (n=%lld)",
                      first_bad < 0 ? 0.0 : (double)floats[first_bad], (long long)n);
    }
    free(halves);
    free(floats);
}
END_TEST

int main(void) {
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_names_round_trip);
    tcase_add_test(tc, test_geometry_is_consistent);
    tcase_add_test(tc, test_row_and_tensor_sizes);
    tcase_add_test(tc, test_row_api_argument_errors);
    tcase_add_test(tc, test_status_names);
    tcase_add_test(tc, test_fp16_exhaustive_round_trip);
    tcase_add_test(tc, test_fp16_bf16_round_to_nearest_even);
    tcase_add_test(tc, test_f16_codec_equals_scalar);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
