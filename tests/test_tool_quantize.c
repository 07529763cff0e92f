/*
 * quant quantize, end to end on the tiny model and on small hand-built
 * models: tensor selection equal to the reference's (its own q8_0 file says
 * which tensors it quantized), metadata, round trips, dry runs, fallbacks,
 * exit codes, and no partial output on any failure.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char *tmpdir;

static void setup(void) { tmpdir = tu_make_tmpdir(); }

static void teardown(void) {
    tu_rmtree(tmpdir);
    free(tmpdir);
}

static char *tmp_path(const char *name) { return tu_join_path(tmpdir, name); }

/* The reference quantized exactly the tensors that are q8_0 in its file; we
 * must pick the same ones, copy the same metadata, and record file type 7. */
START_TEST(test_q8_0_matches_reference_selection) {
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *ref_path = tu_shared_path("models/tiny-llama-q8_0-ref.gguf");
    char *out_path = tmp_path("q8.gguf");
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "quantize -t 2 '%s' '%s' q8_0", model, out_path);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    lq_gguf *ours = tu_open_model(out_path), *ref = tu_open_model(ref_path),
            *orig = tu_open_model(model);
    ck_assert_int_eq(lq_gguf_tensor_count(ours), lq_gguf_tensor_count(ref));
    for (int64_t i = 0; i < lq_gguf_tensor_count(ref); i++) {
        const lq_gguf_tensor *r = lq_gguf_tensor_at(ref, i);
        const lq_gguf_tensor *o = lq_gguf_find_tensor(ours, r->name);
        ck_assert_msg(o != NULL, "tensor %s missing", r->name);
        ck_assert_msg(o->type == r->type, "%s: ours %s, reference %s", r->name,
                      lq_type_name(o->type), lq_type_name(r->type));
        for (int d = 0; d < 4; d++)
            ck_assert_int_eq(o->ne[d], r->ne[d]);
        /* quantized tensors stay close to the original weights */
        if (o->type == LQ_TYPE_Q8_0) {
            const lq_gguf_tensor *src = lq_gguf_find_tensor(orig, r->name);
            int64_t n = lq_gguf_tensor_rows(o) * o->ne[0];
            float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
            ck_assert(a && b);
            ck_assert_int_eq(lq_dequantize_rows(src->type, src->data, src->size,
                                                lq_gguf_tensor_rows(src), src->ne[0], a,
                                                sizeof(float) * (size_t)n), LQ_OK);
            ck_assert_int_eq(lq_dequantize_rows(o->type, o->data, o->size,
                                                lq_gguf_tensor_rows(o), o->ne[0], b,
                                                sizeof(float) * (size_t)n), LQ_OK);
            double err2 = 0, norm = 0;
            for (int64_t k = 0; k < n; k++) {
                err2 += (a[k] - (double)b[k]) * (a[k] - (double)b[k]);
                norm += (double)a[k] * a[k];
            }
            ck_assert_msg(sqrt(err2 / norm) < 0.01, "%s: relative error %g", r->name,
                          sqrt(err2 / norm));
            free(a);
            free(b);
        }
    }
    int64_t ftype = -1, ref_ftype = -2;
    ck_assert_int_eq(lq_gguf_get_i64(ours, "general.file_type", &ftype), LQ_OK);
    ck_assert_int_eq(lq_gguf_get_i64(ref, "general.file_type", &ref_ftype), LQ_OK);
    ck_assert_int_eq(ftype, 7);
    ck_assert_int_eq(ftype, ref_ftype);
    /* every key of the input is present in the output */
    for (int64_t i = 0; i < lq_gguf_kv_count(orig); i++)
        ck_assert_ptr_nonnull(lq_gguf_find(ours, lq_gguf_kv_at(orig, i)->key));
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 1); /* no temporary left */
    lq_gguf_close(ours);
    lq_gguf_close(ref);
    lq_gguf_close(orig);
    free(model), free(ref_path), free(out_path), free(err);
}
END_TEST

/* bf16 -> f16 -> (requantize) f32: exact where f16 holds the value, and the
 * same as decoding the f16 file. */
START_TEST(test_convert_and_decode_back_to_f32) {
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *f16 = tmp_path("f16.gguf"), *f32 = tmp_path("f32.gguf");
    char *err = NULL;
    ck_assert_int_eq(tu_run_quantf(NULL, &err, "quantize '%s' '%s' f16", model, f16), 0);
    free(err);
    /* without --allow-requantize an f16 input is fine: it is not quantized */
    int rc = tu_run_quantf(NULL, &err, "quantize --pure --allow-requantize '%s' '%s' F32", f16, f32);
    ck_assert_msg(rc == 0, "%s", err);
    lq_gguf *a = tu_open_model(f16), *b = tu_open_model(f32);
    int64_t ftype;
    ck_assert_int_eq(lq_gguf_get_i64(b, "general.file_type", &ftype), LQ_OK);
    ck_assert_int_eq(ftype, 0);
    for (int64_t i = 0; i < lq_gguf_tensor_count(a); i++) {
        const lq_gguf_tensor *ta = lq_gguf_tensor_at(a, i);
        const lq_gguf_tensor *tb = lq_gguf_find_tensor(b, ta->name);
        ck_assert_ptr_nonnull(tb);
        ck_assert_int_eq(tb->type, LQ_TYPE_F32);
        int64_t n = lq_gguf_tensor_rows(ta) * ta->ne[0];
        float *d = malloc(sizeof(float) * (size_t)n);
        ck_assert_int_eq(lq_dequantize_rows(ta->type, ta->data, ta->size,
                                            lq_gguf_tensor_rows(ta), ta->ne[0], d,
                                            sizeof(float) * (size_t)n), LQ_OK);
        ck_assert(memcmp(d, tb->data, sizeof(float) * (size_t)n) == 0);
        free(d);
    }
    lq_gguf_close(a);
    lq_gguf_close(b);
    free(model), free(f16), free(f32), free(err);
}
END_TEST

/* The dry run writes nothing and announces the sizes the real run writes. */
START_TEST(test_dry_run_matches_output) {
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *out = tmp_path("bf.gguf");
    char *dry = NULL, *real = NULL;
    ck_assert_int_eq(tu_run_quantf(&dry, NULL, "quantize --dry-run '%s' '%s' bf16", model, out), 0);
    ck_assert_int_eq(access(out, F_OK), -1);
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 0);
    ck_assert_int_eq(tu_run_quantf(&real, NULL, "quantize '%s' '%s' bf16", model, out), 0);
    /* the per-tensor lines are identical; only the closing "wrote" line differs */
    char *wrote = strstr(real, "wrote ");
    ck_assert_ptr_nonnull(wrote);
    *wrote = '\0';
    ck_assert_str_eq(dry, real);
    free(model), free(out), free(dry), free(real);
}
END_TEST

START_TEST(test_usage_errors_exit_2) {
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *out = tmp_path("o.gguf");
    char *err = NULL;
    ck_assert_int_eq(tu_run_quant("quantize", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("quantize --no-such-option a b q8_0", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quantf(NULL, &err, "quantize '%s' '%s' q9_9", model, out), 2);
    ck_assert_ptr_nonnull(strstr(err, "unknown type"));
    ck_assert_ptr_nonnull(strstr(err, "q8_0")); /* lists valid names */
    free(err);
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "quantize -t 0 '%s' '%s' f16", model, out), 2);
    ck_assert_int_eq(tu_run_quant("no-such-command", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("quantize --help", NULL, NULL), 0);
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 0);
    free(model), free(out);
}
END_TEST

START_TEST(test_missing_or_corrupt_input_exit_1) {
    char *out = tmp_path("o.gguf");
    char *bad = tmp_path("bad.gguf");
    char *err = NULL;
    ck_assert_int_eq(tu_run_quantf(NULL, &err, "quantize '%s/none.gguf' '%s' f16", tmpdir, out), 1);
    ck_assert_ptr_nonnull(strstr(err, "none.gguf"));
    free(err);
    /* the first 1000 bytes of a real model: truncated */
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "head -c 1000 '%s' > '%s'", model, bad);
    ck_assert_int_eq(tu_run(cmd, NULL, NULL), 0);
    ck_assert_int_eq(tu_run_quantf(NULL, &err, "quantize '%s' '%s' f16", bad, out), 1);
    ck_assert_ptr_nonnull(strstr(err, "bad.gguf"));
    ck_assert_int_eq(access(out, F_OK), -1);
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 1); /* just bad.gguf */
    free(err), free(out), free(bad), free(model);
}
END_TEST

/* A small hand-built model: two weight matrices (one with a NaN if asked),
 * a norm, and general.architecture. */
static void write_small_model(const char *path, int64_t cols, bool with_nan, int weight_type) {
    lq_gguf_writer *w = lq_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    lq_gguf_writer_set_str(w, "general.architecture", "llama");
    const int64_t rows = 8;
    int64_t ne_w[2] = {cols, rows}, ne_n[1] = {cols};
    lq_gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", weight_type, 2, ne_w);
    lq_gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", LQ_TYPE_F32, 1, ne_n);
    float *x = malloc(sizeof(float) * (size_t)(rows * cols));
    tu_rng rng = {5};
    for (int64_t i = 0; i < rows * cols; i++)
        x[i] = (float)tu_rng_gauss(&rng);
    if (with_nan)
        x[3 * cols + 7] = NAN;
    int64_t size = lq_tensor_size(weight_type, rows, cols);
    void *q = malloc((size_t)size);
    ck_assert_int_eq(lq_quantize_rows(weight_type, x, rows, cols, NULL, q, (size_t)size), size);
    const void *data[2] = {q, x};
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_write_file(w, path, data, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(w);
    free(x);
    free(q);
}

START_TEST(test_nan_is_an_error_naming_tensor_and_row) {
    char *in = tmp_path("nan.gguf"), *out = tmp_path("out.gguf");
    write_small_model(in, 512, true, LQ_TYPE_F32);
    char *err = NULL;
    int rc = -1;
    /* any quantized type this build can encode refuses it */
    for (int i = 0; i < lq_type_count() && rc < 0; i++) {
        const lq_type_info *info = lq_type_get(lq_type_at(i)->type);
        if (!(info->flags & LQ_CAP_QUANTIZED) || !(lq_type_caps(info->type) & LQ_CAP_ENCODE) ||
            info->interleave > 1)
            continue;
        rc = tu_run_quantf(NULL, &err, "quantize '%s' '%s' %s", in, out, info->name);
    }
    ck_assert_msg(rc == 1, "exit %d", rc);
    ck_assert_ptr_nonnull(strstr(err, "blk.0.ffn_down.weight"));
    ck_assert_ptr_nonnull(strstr(err, "row 3"));
    ck_assert_int_eq(access(out, F_OK), -1);
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 1);
    free(in), free(out), free(err);
}
END_TEST

/* A 256-block type on 320-wide rows falls back as the reference does (--pure:
 * the Q4_K_M preset would raise this ffn_down to q6_K first). */
START_TEST(test_block_size_fallback) {
    if (!(lq_type_caps(LQ_TYPE_Q4_K) & LQ_CAP_ENCODE) ||
        !(lq_type_caps(LQ_TYPE_Q5_0) & LQ_CAP_ENCODE))
        ck_abort_msg("q4_K and q5_0 codecs are required");
    char *in = tmp_path("w320.gguf"), *out = tmp_path("out.gguf");
    write_small_model(in, 320, false, LQ_TYPE_F32);
    char *stdout_text = NULL;
    ck_assert_int_eq(tu_run_quantf(&stdout_text, NULL, "quantize --pure '%s' '%s' q4_K", in, out), 0);
    ck_assert_ptr_nonnull(strstr(stdout_text, "using q5_0"));
    lq_gguf *g = tu_open_model(out);
    ck_assert_int_eq(lq_gguf_find_tensor(g, "blk.0.ffn_down.weight")->type, LQ_TYPE_Q5_0);
    ck_assert_int_eq(lq_gguf_find_tensor(g, "blk.0.attn_norm.weight")->type, LQ_TYPE_F32);
    lq_gguf_close(g);
    free(in), free(out), free(stdout_text);
}
END_TEST

START_TEST(test_requantize_needs_the_flag) {
    if (!(lq_type_caps(LQ_TYPE_Q8_0) & LQ_CAP_ENCODE))
        ck_abort_msg("the q8_0 codec is required");
    char *in = tmp_path("q8.gguf"), *out = tmp_path("out.gguf");
    write_small_model(in, 512, false, LQ_TYPE_Q8_0);
    char *err = NULL;
    ck_assert_int_eq(tu_run_quantf(NULL, &err, "quantize '%s' '%s' q4_0", in, out), 1);
    ck_assert_ptr_nonnull(strstr(err, "--allow-requantize"));
    ck_assert_int_eq(access(out, F_OK), -1);
    free(err);
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "quantize --allow-requantize '%s' '%s' f32", in,
                                   out), 0);
    lq_gguf *g = tu_open_model(out);
    ck_assert_int_eq(lq_gguf_find_tensor(g, "blk.0.ffn_down.weight")->type, LQ_TYPE_F32);
    lq_gguf_close(g);
    free(in), free(out);
}
END_TEST

/* Bitnet token embeddings are valid but the reference decodes them without
 * their row scale: a warning says so, and only then. */
START_TEST(test_bitnet_embedding_warns) {
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *out = tmp_path("bn.gguf");
    const struct {
        const char *args;
        bool warns;
    } cases[] = {
        {"--pure", true},
        {"--pure --token-embedding-type iq4_nl", false},
        {"", false}, /* the preset stores them as iq4_nl */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *err = NULL;
        ck_assert_int_eq(tu_run_quantf(NULL, &err, "quantize --dry-run %s '%s' '%s' iq2_bn",
                                       cases[i].args, model, out), 0);
        const bool warned = strstr(err, "token_embd.weight: ik_llama.cpp decodes iq2_bn") != NULL;
        ck_assert_msg(warned == cases[i].warns, "'%s': warning %s", cases[i].args,
                      warned ? "given" : "missing");
        free(err);
    }
    free(model), free(out);
}
END_TEST

/* quantize --repack gives what quantize followed by quant repack gives, byte
 * for byte; --repack-pattern limits it; a bad pattern is a usage error. */
START_TEST(test_repack_in_one_pass) {
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *plain = tmp_path("plain.gguf"), *two = tmp_path("two.gguf"), *one = tmp_path("one.gguf");
    char *err = NULL;
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "quantize --pure -t 2 '%s' '%s' q4_0", model, plain), 0);
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "repack '%s' '%s'", plain, two), 0);
    int rc = tu_run_quantf(NULL, &err, "quantize --pure --repack -t 2 '%s' '%s' q4_0", model, one);
    ck_assert_msg(rc == 0, "%s", err);
    lq_gguf *a = tu_open_model(two), *b = tu_open_model(one);
    int interleaved = 0;
    ck_assert_int_eq(lq_gguf_tensor_count(a), lq_gguf_tensor_count(b));
    for (int64_t i = 0; i < lq_gguf_tensor_count(a); i++) {
        const lq_gguf_tensor *ta = lq_gguf_tensor_at(a, i), *tb = lq_gguf_find_tensor(b, ta->name);
        ck_assert_ptr_nonnull(tb);
        ck_assert_msg(ta->type == tb->type, "%s: %s vs %s", ta->name, lq_type_name(ta->type),
                      lq_type_name(tb->type));
        ck_assert_uint_eq(ta->size, tb->size);
        ck_assert_msg(memcmp(ta->data, tb->data, ta->size) == 0, "%s differs", ta->name);
        interleaved += tb->type == LQ_TYPE_Q4_0_R8;
    }
    ck_assert_int_gt(interleaved, 0);
    ck_assert_int_eq(lq_gguf_find_tensor(b, "token_embd.weight")->type, LQ_TYPE_Q4_0);
    int64_t fa, fb;
    ck_assert_int_eq(lq_gguf_get_i64(a, "general.file_type", &fa), LQ_OK);
    ck_assert_int_eq(lq_gguf_get_i64(b, "general.file_type", &fb), LQ_OK);
    ck_assert_int_eq(fa, fb);
    ck_assert_int_eq(fb, 202);
    lq_gguf_close(a);
    lq_gguf_close(b);
    free(err);
    /* only attn_q tensors */
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "quantize --pure --repack-pattern 'attn_q\\.' "
                                   "'%s' '%s' q8_0", model, one), 0);
    b = tu_open_model(one);
    for (int64_t i = 0; i < lq_gguf_tensor_count(b); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(b, i);
        if (strstr(t->name, "attn_q."))
            ck_assert_int_eq(t->type, LQ_TYPE_Q8_0_R8);
        else
            ck_assert_int_ne(t->type, LQ_TYPE_Q8_0_R8);
    }
    lq_gguf_close(b);
    ck_assert_int_eq(tu_run_quantf(NULL, &err, "quantize --repack-pattern 'a(' '%s' '%s' q8_0",
                                   model, two), 2);
    ck_assert_ptr_nonnull(strstr(err, "column"));
    free(model), free(plain), free(two), free(one), free(err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tool_quantize");
    TCase *tc = tcase_create("quantize");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_q8_0_matches_reference_selection);
    tcase_add_test(tc, test_convert_and_decode_back_to_f32);
    tcase_add_test(tc, test_dry_run_matches_output);
    tcase_add_test(tc, test_usage_errors_exit_2);
    tcase_add_test(tc, test_missing_or_corrupt_input_exit_1);
    tcase_add_test(tc, test_nan_is_an_error_naming_tensor_and_row);
    tcase_add_test(tc, test_block_size_fallback);
    tcase_add_test(tc, test_requantize_needs_the_flag);
    tcase_add_test(tc, test_repack_in_one_pass);
    tcase_add_test(tc, test_bitnet_embedding_warns);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
