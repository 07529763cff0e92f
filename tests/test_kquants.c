/*
 * q8_K, the activation format of the k-quant dot products, has no vector
 * file: check its layout (ggml-common.h's block_q8_K: float d, float sum,
 * int8 qs[256], int16 bsums[16]) and a round trip.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "testutil.h"

#define QK 256
#define Q8_K_BYTES 296
#define NCOLS 1024

static float load_f32(const uint8_t *p) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int16_t load_i16(const uint8_t *p) {
    int16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

START_TEST(test_q8_K_layout_and_round_trip) {
    float x[NCOLS], y[NCOLS];
    uint8_t q[NCOLS / QK * Q8_K_BYTES];
    tu_rng rng = {42};
    for (int i = 0; i < NCOLS; i++)
        x[i] = (float)tu_rng_gauss(&rng) * (i < QK ? 1e-3f : 3.0f);
    ck_assert_int_eq(lq_row_size(LQ_TYPE_Q8_K, NCOLS), (int64_t)sizeof q);
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_Q8_K, x, 1, NCOLS, NULL, q, sizeof q),
                     (int64_t)sizeof q);
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_Q8_K, q, sizeof q, 1, NCOLS, y, sizeof y), LQ_OK);
    for (int b = 0; b < NCOLS / QK; b++) {
        const uint8_t *blk = q + b * Q8_K_BYTES;
        const float *xb = x + b * QK;
        float amax = 0;
        for (int i = 0; i < QK; i++)
            amax = fmaxf(amax, fabsf(xb[i]));
        float d = load_f32(blk);
        ck_assert_float_eq(d, amax / 127.0f);
        const int8_t *qs = (const int8_t *)(blk + 8);
        int total = 0, extreme = 0;
        for (int g = 0; g < QK / 16; g++) {
            int sum = 0;
            for (int i = 16 * g; i < 16 * g + 16; i++) {
                sum += qs[i];
                if (abs(qs[i]) == 127)
                    extreme = 1;
                /* decoding is d * q, and q is the nearest integer */
                ck_assert_float_eq(y[b * QK + i], d * (float)qs[i]);
                ck_assert(fabsf(xb[i] - y[b * QK + i]) <= 0.5001f * d);
            }
            ck_assert_int_eq(load_i16(blk + 8 + QK + 2 * g), sum);
            total += sum;
        }
        ck_assert(extreme);
        ck_assert_float_eq_tol(load_f32(blk + 4), d * (float)total, 1e-6f * fabsf(d) * QK);
    }
}
END_TEST

START_TEST(test_q8_K_zero_block) {
    float x[QK] = {0}, y[QK];
    uint8_t q[Q8_K_BYTES];
    memset(q, 0xAA, sizeof q);
    ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_Q8_K, x, 1, QK, NULL, q, sizeof q),
                     (int64_t)sizeof q);
    ck_assert_float_eq(load_f32(q), 0.0f);
    ck_assert_int_eq(lq_dequantize_rows(LQ_TYPE_Q8_K, q, sizeof q, 1, QK, y, sizeof y), LQ_OK);
    for (int i = 0; i < QK; i++)
        ck_assert_float_eq(y[i], 0.0f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kquants");
    TCase *tc = tcase_create("q8_K");
    tcase_add_test(tc, test_q8_K_layout_and_round_trip);
    tcase_add_test(tc, test_q8_K_zero_block);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
