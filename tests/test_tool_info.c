/*
 * quant info end to end: the tiny model as text and as JSON, a split model,
 * a corrupt file (exit 1, message naming the file and offset), usage errors
 * (exit 2) and --help (exit 0, stdout).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MODEL "models/tiny-llama-iq4_k-ref.gguf"

/* Runs quant with args, checks the exit status; *out and *err (if err is
 * not NULL) receive the captured streams. */
static void run_info(const char *args, int expect_status, char **out, char **err) {
    char *captured_err = NULL;
    int st = tu_run_quant(args, out, &captured_err);
    ck_assert_msg(st == expect_status, "quant %s: exit %d, expected %d\nstderr: %s", args, st,
                  expect_status, captured_err ? captured_err : "");
    if (err)
        *err = captured_err;
    else
        free(captured_err);
}

START_TEST(test_text) {
    char *model = tu_shared_path(MODEL);
    char args[1024];
    snprintf(args, sizeof args, "info '%s'", model);
    char *out;
    run_info(args, 0, &out, NULL);
    ck_assert_ptr_nonnull(strstr(out, "version:     3\n"));
    ck_assert_ptr_nonnull(strstr(out, "alignment:   32\n"));
    ck_assert_ptr_nonnull(strstr(out, "metadata (27 keys):"));
    ck_assert_ptr_nonnull(strstr(out, "\"llama\""));
    ck_assert_ptr_nonnull(strstr(out, "... (4096 items)]"));
    ck_assert_ptr_nonnull(strstr(out, "tensors (57):"));
    ck_assert_ptr_nonnull(strstr(out, "blk.0.attn_q.weight"));
    ck_assert_ptr_nonnull(strstr(out, "23075328 parameters"));
    ck_assert_ptr_nonnull(strstr(out, "iq4_k          44       23068672"));
    free(out);
    snprintf(args, sizeof args, "info --all '%s'", model);
    run_info(args, 0, &out, NULL);
    ck_assert_ptr_null(strstr(out, "(4096 items)"));
    ck_assert_ptr_nonnull(strstr(out, "\"<0xFF>\""));
    free(out);
    free(model);
}
END_TEST

/* Pull "key": <number> out of JSON text (a small check, not a parser). */
static double json_number(const char *json, const char *key) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *p = strstr(json, pattern);
    ck_assert_msg(p != NULL, "no %s in the JSON", key);
    return strtod(p + strlen(pattern), NULL);
}

START_TEST(test_json) {
    char *model = tu_shared_path(MODEL);
    char args[1024];
    snprintf(args, sizeof args, "info --json '%s'", model);
    char *out;
    run_info(args, 0, &out, NULL);
    ck_assert_int_eq(out[0], '{');
    ck_assert_double_eq(json_number(out, "version"), 3);
    ck_assert_double_eq(json_number(out, "alignment"), 32);
    const char *totals = strstr(out, "\"totals\": ");
    ck_assert_ptr_nonnull(totals);
    ck_assert_double_eq(json_number(totals, "tensors"), 57);
    ck_assert_double_eq(json_number(totals, "parameters"), 23075328);
    ck_assert_double_eq(json_number(totals, "bytes"), 13002752);
    ck_assert_double_eq_tol(json_number(totals, "bpw"), 4.50793, 1e-4);
    ck_assert_ptr_nonnull(strstr(out, "{\"key\": \"general.architecture\", \"type\": \"string\", "
                                      "\"value\": \"llama\"}"));
    ck_assert_ptr_nonnull(strstr(out, "\"elem_type\": \"string\", \"count\": 4096, "
                                      "\"truncated\": true"));
    ck_assert_ptr_nonnull(strstr(out, "{\"name\": \"blk.0.attn_q.weight\", \"type\": \"iq4_k\", "
                                      "\"type_id\": 139, \"shape\": [512, 512]"));
    free(out);
    /* the document is valid JSON, if a checker is at hand */
    snprintf(args, sizeof args,
             "sh -c 'command -v python3 >/dev/null || exit 0; \"%s\" info --json --all \"%s\" | "
             "python3 -c \"import json,sys; d=json.load(sys.stdin); "
             "assert len(d[\\\"tensors\\\"]) == 57\"'",
             tu_quant_exe(), model);
    ck_assert_int_eq(tu_run(args, NULL, NULL), 0);
    free(model);
}
END_TEST

START_TEST(test_split_model) {
    char *model = tu_shared_path("vectors/q8_0.gguf");
    lq_gguf *g;
    ck_assert_int_eq(lq_gguf_open(model, &g, NULL), LQ_OK);
    char *dir = tu_make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    lq_gguf_writer *w = lq_gguf_writer_new();
    ck_assert_int_eq(lq_gguf_writer_copy_kvs(w, g), LQ_OK);
    const void *data[64];
    int64_t n = lq_gguf_tensor_count(g);
    ck_assert_int_le(n, 64);
    for (int64_t i = 0; i < n; i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        ck_assert_int_eq(lq_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne), i);
        data[i] = t->data;
    }
    ck_assert_int_eq(lq_gguf_writer_set_split(w, 0, 4), LQ_OK);
    ck_assert_int_eq(lq_gguf_write_file(w, path, data, NULL), LQ_OK);
    lq_gguf_writer_free(w);
    char args[1024];
    snprintf(args, sizeof args, "info '%s/m-00002-of-%05d.gguf'", dir, (int)((n + 3) / 4));
    char *out;
    run_info(args, 0, &out, NULL);
    char expect[64];
    snprintf(expect, sizeof expect, "tensors (%lld):", (long long)n);
    ck_assert_ptr_nonnull(strstr(out, expect));
    snprintf(expect, sizeof expect, "shards:      %d\n", (int)((n + 3) / 4));
    ck_assert_ptr_nonnull(strstr(out, expect));
    ck_assert_ptr_nonnull(strstr(out, "vectors.type"));
    free(out);
    tu_rmtree(dir);
    free(dir);
    lq_gguf_close(g);
    free(model);
}
END_TEST

START_TEST(test_corrupt_file) {
    char *model = tu_shared_path("vectors/q4_0.gguf");
    char *dir = tu_make_tmpdir();
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/corrupt.gguf", dir);
    /* the first 3000 bytes: tensor data lies past the end */
    snprintf(args, sizeof args, "head -c 3000 '%s' > '%s'", model, path);
    ck_assert_int_eq(tu_run(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "info '%s'", path);
    char *err;
    char *out;
    run_info(args, 1, &out, &err);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "offset"));
    ck_assert_ptr_nonnull(strstr(err, "outside the file"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "info --json '%s/missing.gguf'", dir);
    run_info(args, 1, &out, &err);
    ck_assert_ptr_nonnull(strstr(err, "missing.gguf"));
    free(out);
    free(err);
    tu_rmtree(dir);
    free(dir);
    free(model);
}
END_TEST

START_TEST(test_usage) {
    char *err;
    char *out;
    run_info("info", 2, &out, &err);
    ck_assert_ptr_nonnull(strstr(err, "usage: quant info"));
    free(out);
    free(err);
    run_info("info --bogus x.gguf", 2, &out, &err);
    ck_assert_ptr_nonnull(strstr(err, "--bogus"));
    free(out);
    free(err);
    run_info("info a.gguf b.gguf", 2, &out, NULL);
    free(out);
    run_info("info --help", 0, &out, &err);
    ck_assert_ptr_nonnull(strstr(out, "usage: quant info [--json] [--all] FILE.gguf"));
    ck_assert_str_eq(err, "");
    free(out);
    free(err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tool_info");
    TCase *tc = tcase_create("info");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_text);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_split_model);
    tcase_add_test(tc, test_corrupt_file);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
