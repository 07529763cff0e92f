/*
 * Every weight type this build can encode, through the tool and back:
 * `quant quantize --pure` of the tiny model to the type (no importance
 * matrix), then `--allow-requantize --pure ... f32`, and the decoded weights
 * compared with the original. The model's relative RMS error must be about
 * what the type's vector file predicts: the same codec's error on its
 * Gaussian rows (rows 0-7 of `x`), within a factor of two either way, since
 * trained weights are not exactly Gaussian.
 * Also: `quant info` works on every vector file.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int roundtrip_types[LQ_TYPE_ID_LIMIT];
static int roundtrip_count;
static tu_name_list vector_files;

/* Relative RMS error of this build's codec on rows 0-7 (the Gaussian ones)
 * of the type's vector file, quantized the same way (no importance matrix);
 * NAN without a vector file. */
static double predicted_error(int type) {
    char rel[96];
    snprintf(rel, sizeof rel, "vectors/%s.gguf", lq_type_name(type));
    char *path = tu_shared_path(rel);
    lq_gguf *g = NULL;
    lq_gguf_error err;
    double result = NAN;
    const int64_t rows = 16; /* a multiple of every interleave factor */
    if (lq_gguf_open(path, &g, &err) == LQ_OK) {
        const lq_gguf_tensor *x = lq_gguf_find_tensor(g, "x");
        int64_t cols = x ? x->ne[0] : 0, size = lq_tensor_size(type, rows, cols);
        unsigned char *q = size > 0 ? malloc((size_t)size) : NULL;
        float *d = malloc(sizeof(float) * (size_t)(rows * cols));
        if (q && d && lq_quantize_rows(type, x->data, rows, cols, NULL, q, (size_t)size) == size &&
            lq_dequantize_rows(type, q, (size_t)size, rows, cols, d,
                               sizeof(float) * (size_t)(rows * cols)) == LQ_OK) {
            const float *xv = x->data;
            double num = 0, den = 0;
            for (int64_t i = 0; i < 8 * cols; i++) {
                num += ((double)xv[i] - d[i]) * ((double)xv[i] - d[i]);
                den += (double)xv[i] * xv[i];
            }
            result = sqrt(num / den);
        }
        free(q);
        free(d);
        lq_gguf_close(g);
    }
    free(path);
    return result;
}

/* Relative RMS difference over the tensors the quantization changed. */
static double model_error(const lq_gguf *orig, const lq_gguf *quant, const lq_gguf *back,
                          int *changed) {
    double num = 0, den = 0;
    *changed = 0;
    for (int64_t i = 0; i < lq_gguf_tensor_count(quant); i++) {
        const lq_gguf_tensor *q = lq_gguf_tensor_at(quant, i);
        const lq_gguf_tensor *o = lq_gguf_find_tensor(orig, q->name);
        const lq_gguf_tensor *b = lq_gguf_find_tensor(back, q->name);
        ck_assert(o && b);
        if (q->type == o->type)
            continue;
        ck_assert_int_eq(b->type, LQ_TYPE_F32);
        int64_t n = lq_gguf_tensor_rows(o) * o->ne[0];
        float *ov = malloc(sizeof(float) * (size_t)n);
        ck_assert_ptr_nonnull(ov);
        ck_assert_int_eq(lq_dequantize_rows(o->type, o->data, o->size, lq_gguf_tensor_rows(o),
                                            o->ne[0], ov, sizeof(float) * (size_t)n), LQ_OK);
        const float *bv = b->data;
        ck_assert_msg(lq_find_nonfinite(bv, n) < 0, "%s: non-finite value", q->name);
        for (int64_t k = 0; k < n; k++) {
            num += ((double)ov[k] - bv[k]) * ((double)ov[k] - bv[k]);
            den += (double)ov[k] * ov[k];
        }
        free(ov);
        (*changed)++;
    }
    return den > 0 ? sqrt(num / den) : 0;
}

START_TEST(test_quantize_and_back) {
    int type = roundtrip_types[_i];
    const char *name = lq_type_name(type);
    char *dir = tu_make_tmpdir();
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *q_path = tu_join_path(dir, "q.gguf"), *f_path = tu_join_path(dir, "f32.gguf");
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "quantize --pure -t 2 '%s' '%s' %s", model, q_path, name);
    ck_assert_msg(rc == 0, "%s: quantize exit %d: %s", name, rc, err);
    free(err);
    rc = tu_run_quantf(NULL, &err, "quantize --allow-requantize --pure -t 2 '%s' '%s' f32", q_path,
                       f_path);
    ck_assert_msg(rc == 0, "%s: back to f32, exit %d: %s", name, rc, err);
    free(err);
    lq_gguf *orig = tu_open_model(model), *quant = tu_open_model(q_path),
            *back = tu_open_model(f_path);
    int changed = 0;
    double error = model_error(orig, quant, back, &changed);
    double predicted = predicted_error(type);
    printf("roundtrip %-11s %2d tensors changed   model error %.5f   vectors predict %.5f   "
           "ratio %.2f\n", name, changed, error, predicted, error / predicted);
    fflush(stdout);
    ck_assert_int_gt(changed, 0);
    if (isnan(predicted)) {
        /* no vector file for this type (q8_K-style internal types): sanity only */
        ck_assert_msg(error < 0.5, "%s: error %.4f", name, error);
    } else {
        ck_assert_msg(error < 2.0 * predicted && error > 0.5 * predicted,
                      "%s: model error %.5f, vectors predict %.5f", name, error, predicted);
    }
    lq_gguf_close(orig);
    lq_gguf_close(quant);
    lq_gguf_close(back);
    tu_rmtree(dir);
    free(dir);
    free(model), free(q_path), free(f_path);
}
END_TEST

START_TEST(test_info_on_vector_file) {
    char rel[128];
    snprintf(rel, sizeof rel, "vectors/%s", vector_files.names[_i]);
    char *path = tu_shared_path(rel);
    char *out = NULL;
    int rc = tu_run_quantf(&out, NULL, "info '%s'", path);
    ck_assert_msg(rc == 0, "quant info %s: exit %d", path, rc);
    ck_assert_msg(strstr(out, "q.deq") || strstr(out, "qi.deq"), "%s: no decoded tensor", path);
    ck_assert_ptr_nonnull(strstr(out, "vectors.type"));
    free(out);
    free(path);
}
END_TEST

/* The types a user quantizes weights to: every encodable quantized type
 * except the activation formats. */
static bool is_weight_type(const lq_type_info *info) {
    static const int activation_formats[] = {LQ_TYPE_Q8_K, LQ_TYPE_Q8_1, LQ_TYPE_Q8_K64,
                                             LQ_TYPE_Q8_K16, LQ_TYPE_Q8_K32, LQ_TYPE_Q8_KR8,
                                             LQ_TYPE_Q8_K128, LQ_TYPE_Q8_0_X4, LQ_TYPE_Q8_1_X4,
                                             LQ_TYPE_Q8_2_X4};
    for (size_t i = 0; i < sizeof activation_formats / sizeof activation_formats[0]; i++)
        if ((int)info->type == activation_formats[i])
            return false;
    return (info->flags & LQ_CAP_QUANTIZED) != 0;
}

int main(void) {
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        uint32_t caps = lq_type_caps(info->type);
        if ((caps & LQ_CAP_ENCODE) && (caps & LQ_CAP_DECODE) && is_weight_type(info) &&
            tu_type_selected(info->name))
            roundtrip_types[roundtrip_count++] = info->type;
    }
    vector_files = tu_vector_files();
    Suite *s = suite_create("tool_roundtrip");
    TCase *tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, test_quantize_and_back, 0, roundtrip_count);
    tcase_add_loop_test(tc, test_info_on_vector_file, 0, vector_files.count);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_name_list_free(&vector_files);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
