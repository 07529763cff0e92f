/*
 * The lattice i-quants: their grid search tables are built lazily on first
 * use, so two threads encoding at once from a cold start must both succeed
 * and agree byte for byte; odd rows must decode to finite values.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NCOLS 512
#define NROWS 4

static const int lattice_types[] = {
    LQ_TYPE_IQ1_S,  LQ_TYPE_IQ1_M,   LQ_TYPE_IQ2_XXS, LQ_TYPE_IQ2_XS,
    LQ_TYPE_IQ2_S,  LQ_TYPE_IQ3_XXS, LQ_TYPE_IQ3_S,  LQ_TYPE_IQ1_S_R4,
    LQ_TYPE_IQ1_M_R4,
};
#define NTYPES (int)(sizeof lattice_types / sizeof lattice_types[0])

typedef struct encode_job {
    pthread_barrier_t *start;
    const float *src;
    uint8_t *out[NTYPES];
    int64_t status[NTYPES];
} encode_job;

static void *encode_all(void *arg) {
    encode_job *job = arg;
    pthread_barrier_wait(job->start);
    for (int t = 0; t < NTYPES; t++) {
        int64_t size = lq_tensor_size(lattice_types[t], NROWS, NCOLS);
        job->status[t] = lq_quantize_rows(lattice_types[t], job->src, NROWS,
                                          NCOLS, NULL, job->out[t],
                                          (size_t)size);
    }
    return NULL;
}

START_TEST(test_cold_start_from_two_threads) {
    float *src = malloc(sizeof(float) * NROWS * NCOLS);
    tu_rng rng = {42};
    for (int i = 0; i < NROWS * NCOLS; i++)
        src[i] = (float)tu_rng_gauss(&rng);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    encode_job jobs[2];
    for (int j = 0; j < 2; j++) {
        jobs[j].start = &start;
        jobs[j].src = src;
        for (int t = 0; t < NTYPES; t++)
            jobs[j].out[t] =
                malloc((size_t)lq_tensor_size(lattice_types[t], NROWS, NCOLS));
    }
    pthread_t threads[2];
    for (int j = 0; j < 2; j++)
        ck_assert_int_eq(pthread_create(&threads[j], NULL, encode_all, &jobs[j]), 0);
    for (int j = 0; j < 2; j++)
        pthread_join(threads[j], NULL);
    for (int t = 0; t < NTYPES; t++) {
        int64_t size = lq_tensor_size(lattice_types[t], NROWS, NCOLS);
        ck_assert_int_eq(jobs[0].status[t], size);
        ck_assert_int_eq(jobs[1].status[t], size);
        ck_assert_msg(!memcmp(jobs[0].out[t], jobs[1].out[t], (size_t)size),
                      "%s: threads disagree", lq_type_name(lattice_types[t]));
        for (int j = 0; j < 2; j++)
            free(jobs[j].out[t]);
    }
    pthread_barrier_destroy(&start);
    free(src);
}
END_TEST

/* Row 0 all zero, row 1 constant, row 2 one huge outlier among small
 * values, row 3 denormals. */
static void odd_rows(float *x) {
    for (int i = 0; i < NCOLS; i++) {
        x[i] = 0.0f;
        x[NCOLS + i] = 0.37f;
        x[2 * NCOLS + i] = i == 17 ? 3e37f : 0.001f * (float)(i % 7 - 3);
        x[3 * NCOLS + i] = 1e-41f * (float)(i % 5 - 2);
    }
}

START_TEST(test_odd_rows_decode_finite) {
    float x[4 * NCOLS], y[4 * NCOLS], imatrix[NCOLS];
    odd_rows(x);
    for (int i = 0; i < NCOLS; i++)
        imatrix[i] = 1.0f + (float)(i % 3);
    for (int t = 0; t < NTYPES; t++) {
        int type = lattice_types[t];
        int64_t size = lq_tensor_size(type, 4, NCOLS);
        uint8_t *q = malloc((size_t)size);
        for (int weighted = 0; weighted < 2; weighted++) {
            ck_assert_int_eq(lq_quantize_rows(type, x, 4, NCOLS,
                                              weighted ? imatrix : NULL, q,
                                              (size_t)size),
                             size);
            ck_assert_int_eq(lq_dequantize_rows(type, q, (size_t)size, 4,
                                                NCOLS, y, sizeof y),
                             LQ_OK);
            for (int i = 0; i < 4 * NCOLS; i++)
                ck_assert_msg(isfinite(y[i]), "%s: value %d not finite",
                              lq_type_name(type), i);
            for (int i = 0; i < NCOLS; i++)
                ck_assert_msg(y[i] == 0.0f, "%s: zero row decodes to %g",
                              lq_type_name(type), (double)y[i]);
        }
        free(q);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("lattice");
    TCase *tc = tcase_create("lattice");
    tcase_add_test(tc, test_cold_start_from_two_threads);
    tcase_add_test(tc, test_odd_rows_decode_finite);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
