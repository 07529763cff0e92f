/*
 * Odd inputs for every type this build can encode: all-zero rows, constant
 * rows, one huge outlier, denormals, tiny and mixed-scale rows must give valid
 * blocks that decode to finite values; NaN and Inf are refused with
 * LQ_ERR_NONFINITE by quantized types; encoding is deterministic and safe to
 * call from several threads at once (lazily built tables).
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NROWS 16 /* a multiple of every interleave factor */
#define NCOLS 512

static int encodable_types[LQ_TYPE_ID_LIMIT];
static int encodable_count;

typedef enum row_kind {
    ROW_ZERO,
    ROW_CONSTANT,
    ROW_NEGATIVE_CONSTANT,
    ROW_OUTLIER,
    ROW_DENORMAL,
    ROW_TINY,
    ROW_GAUSS,
    ROW_SPARSE,
    ROW_KIND_COUNT
} row_kind;

static void fill_row(float *row, row_kind kind, tu_rng *rng) {
    for (int c = 0; c < NCOLS; c++) {
        switch (kind) {
        case ROW_ZERO: row[c] = 0.0f; break;
        case ROW_CONSTANT: row[c] = 0.75f; break;
        case ROW_NEGATIVE_CONSTANT: row[c] = -3.0f; break;
        case ROW_OUTLIER: row[c] = (float)(0.01 * tu_rng_gauss(rng)); break;
        case ROW_DENORMAL: row[c] = (float)(tu_rng_gauss(rng) * 1e-40); break;
        case ROW_TINY: row[c] = (float)(tu_rng_gauss(rng) * 1e-20); break;
        case ROW_GAUSS: row[c] = (float)tu_rng_gauss(rng); break;
        case ROW_SPARSE: row[c] = (c % 37 == 0) ? (float)tu_rng_gauss(rng) : 0.0f; break;
        default: break;
        }
    }
    if (kind == ROW_OUTLIER)
        row[NCOLS / 3] = 1000.0f;
}

/* NROWS rows cycling through the odd kinds. */
static float *odd_matrix(void) {
    float *x = malloc(sizeof(float) * NROWS * NCOLS);
    ck_assert_ptr_nonnull(x);
    tu_rng rng = {12345};
    for (int r = 0; r < NROWS; r++)
        fill_row(x + r * NCOLS, (row_kind)(r % ROW_KIND_COUNT), &rng);
    return x;
}

static float *random_imatrix(void) {
    float *w = malloc(sizeof(float) * NCOLS);
    ck_assert_ptr_nonnull(w);
    tu_rng rng = {777};
    for (int c = 0; c < NCOLS; c++)
        w[c] = (float)exp(tu_rng_gauss(&rng));
    w[5] = 0.0f; /* a column nobody used */
    return w;
}

static void check_odd_inputs(int type, const float *imatrix) {
    const char *name = lq_type_name(type);
    float *x = odd_matrix();
    int64_t size = lq_tensor_size(type, NROWS, NCOLS);
    ck_assert_int_gt(size, 0);
    unsigned char *q = malloc((size_t)size);
    float *deq = malloc(sizeof(float) * NROWS * NCOLS);
    ck_assert(q && deq);
    int64_t written = lq_quantize_rows(type, x, NROWS, NCOLS, imatrix, q, (size_t)size);
    ck_assert_msg(written == size, "%s: quantize: %s", name,
                  written < 0 ? lq_error_name((int)written) : "short write");
    ck_assert_int_eq(lq_dequantize_rows(type, q, (size_t)size, NROWS, NCOLS, deq,
                                        sizeof(float) * NROWS * NCOLS), LQ_OK);
    for (int r = 0; r < NROWS; r++) {
        row_kind kind = (row_kind)(r % ROW_KIND_COUNT);
        double err = 0, norm = 0;
        /* (Check records every passing assertion: none inside the loop) */
        int bad_col = -1;
        for (int c = 0; c < NCOLS; c++) {
            float d = deq[r * NCOLS + c];
            if (bad_col < 0 && (!isfinite(d) || (kind == ROW_ZERO && d != 0.0f)))
                bad_col = c;
            double diff = d - x[r * NCOLS + c];
            err += diff * diff;
            norm += (double)x[r * NCOLS + c] * x[r * NCOLS + c];
        }
        ck_assert_msg(bad_col < 0, "%s: row kind %d col %d decodes to %g", name, (int)kind,
                      bad_col, bad_col < 0 ? 0.0 : (double)deq[r * NCOLS + bad_col]);
        /* A constant or Gaussian row is easy: any sane codec keeps most of it.
         * (Ternary and 1-bit types are coarse, hence the loose bound.) */
        if ((kind == ROW_CONSTANT || kind == ROW_NEGATIVE_CONSTANT || kind == ROW_GAUSS) &&
            norm > 0)
            ck_assert_msg(sqrt(err / norm) < 0.9, "%s: row kind %d relative error %.3f",
                          name, (int)kind, sqrt(err / norm));
    }
    free(x);
    free(q);
    free(deq);
}

START_TEST(test_odd_inputs_plain) { check_odd_inputs(encodable_types[_i], NULL); }
END_TEST

START_TEST(test_odd_inputs_imatrix) {
    float *w = random_imatrix();
    check_odd_inputs(encodable_types[_i], w);
    free(w);
}
END_TEST

START_TEST(test_nonfinite_refused) {
    int type = encodable_types[_i];
    const lq_type_info *info = lq_type_get(type);
    int64_t size = lq_tensor_size(type, NROWS, NCOLS);
    unsigned char *q = malloc((size_t)size);
    float *x = odd_matrix();
    ck_assert(q && x);
    const float bad_values[] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < sizeof bad_values / sizeof bad_values[0]; b++) {
        float saved = x[7 * NCOLS + 100];
        x[7 * NCOLS + 100] = bad_values[b];
        int64_t st = lq_quantize_rows(type, x, NROWS, NCOLS, NULL, q, (size_t)size);
        if (info->flags & LQ_CAP_QUANTIZED)
            ck_assert_msg(st == LQ_ERR_NONFINITE, "%s: %g gave %s", info->name,
                          (double)bad_values[b], st < 0 ? lq_error_name((int)st) : "success");
        else
            ck_assert_msg(st == size, "%s: a conversion must carry %g through", info->name,
                          (double)bad_values[b]);
        x[7 * NCOLS + 100] = saved;
    }
    ck_assert_int_eq(lq_find_nonfinite(x, NROWS * NCOLS), -1);
    free(q);
    free(x);
}
END_TEST

typedef struct encode_job {
    int type;
    const float *x;
    const float *imatrix;
    unsigned char *out;
    size_t size;
    int64_t status;
} encode_job;

static void *run_encode(void *arg) {
    encode_job *job = arg;
    job->status = lq_quantize_rows(job->type, job->x, NROWS, NCOLS, job->imatrix,
                                   job->out, job->size);
    return NULL;
}

/* Two threads encode at once (the first use of any lazily built table happens
 * here, in a fresh forked process) and must both produce the bytes a later
 * single-threaded call produces. */
START_TEST(test_concurrent_encode_deterministic) {
    int type = encodable_types[_i];
    size_t size = (size_t)lq_tensor_size(type, NROWS, NCOLS);
    float *x = malloc(sizeof(float) * NROWS * NCOLS);
    ck_assert_ptr_nonnull(x);
    tu_rng rng = {99};
    for (int i = 0; i < NROWS * NCOLS; i++)
        x[i] = (float)tu_rng_gauss(&rng);
    float *w = random_imatrix();
    encode_job jobs[2];
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) {
        jobs[t] = (encode_job){type, x, w, malloc(size), size, 0};
        ck_assert_ptr_nonnull(jobs[t].out);
        ck_assert_int_eq(pthread_create(&threads[t], NULL, run_encode, &jobs[t]), 0);
    }
    for (int t = 0; t < 2; t++)
        pthread_join(threads[t], NULL);
    encode_job again = {type, x, w, malloc(size), size, 0};
    run_encode(&again);
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(jobs[t].status, (int64_t)size);
        ck_assert_msg(memcmp(jobs[t].out, again.out, size) == 0,
                      "%s: concurrent encode differs from a later one", lq_type_name(type));
        free(jobs[t].out);
    }
    free(again.out);
    free(x);
    free(w);
}
END_TEST

int main(void) {
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if ((lq_type_caps(info->type) & LQ_CAP_ENCODE) &&
            (lq_type_caps(info->type) & LQ_CAP_DECODE) && tu_type_selected(info->name))
            encodable_types[encodable_count++] = info->type;
    }
    printf("%d encodable types\n", encodable_count);
    Suite *s = suite_create("codec_edge");
    TCase *tc = tcase_create("odd_inputs");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_odd_inputs_plain, 0, encodable_count);
    tcase_add_loop_test(tc, test_odd_inputs_imatrix, 0, encodable_count);
    tcase_add_loop_test(tc, test_nonfinite_refused, 0, encodable_count);
    tcase_add_loop_test(tc, test_concurrent_encode_deterministic, 0, encodable_count);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
