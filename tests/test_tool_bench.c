/*
 * quant bench and quant demo: they run, print a line per type with finite
 * figures, and refuse bad arguments with exit status 2; quant bench matmul
 * --json gives every figure of the kernels issue for each type, quant bench
 * --bandwidth a positive bandwidth.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_bench_prints_a_line_per_type) {
    char *out = NULL, *err = NULL;
    int rc = tu_run_quant("bench --rows 32 --cols 512 --repeat 1 -t 2 q4_0 q8_0 iq4_k", &out, &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    const char *types[] = {"q4_0 ", "q8_0 ", "iq4_k "};
    for (size_t i = 0; i < 3; i++)
        ck_assert_msg(strstr(out, types[i]) != NULL, "no line for %s in:\n%s", types[i], out);
    ck_assert_ptr_null(strstr(out, "nan"));
    ck_assert_ptr_null(strstr(out, "inf"));
    free(out), free(err);
}
END_TEST

START_TEST(test_bench_usage_errors) {
    ck_assert_int_eq(tu_run_quant("bench --rows 63", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("bench --cols 100", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("bench no_such_type", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("bench i32", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("bench --help", NULL, NULL), 0);
}
END_TEST

/* The number after `"key": ` in a JSON text, or NAN. */
static double json_number(const char *text, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(text, pattern);
    return at ? strtod(at + strlen(pattern), NULL) : NAN;
}

START_TEST(test_bench_matmul_json) {
    char *out = NULL, *err = NULL;
    int rc = tu_run_quant("bench matmul --rows 64 --cols 512 --stream-mb 1 --repeat 1 -t 2 --json "
                          "q4_0 q4_0_r8",
                          &out, &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(json_number(out, "read_bandwidth_gbytes") > 0, "%s", out);
    const char *types[] = {"\"q4_0\"", "\"q4_0_r8\""};
    for (size_t i = 0; i < 2; i++) {
        const char *row = strstr(out, types[i]);
        ck_assert_msg(row != NULL, "no %s in:\n%s", types[i], out);
        ck_assert(fabs(json_number(row, "bpw") - 4.5) < 1e-3);
        /* 1 MB of 64 x 512 q4_0 matrices (18 KiB each): over 50 copies, capped at 64 */
        ck_assert_int_ge((int)json_number(row, "stream_copies"), 50);
        const char *keys[] = {"stream_gflops", "stream_gbytes", "gflops_n1", "gflops_n16",
                              "gflops_n256"};
        for (size_t k = 0; k < 5; k++)
            ck_assert_msg(json_number(row, keys[k]) > 0, "%s %s in:\n%s", types[i], keys[k], out);
    }
    free(out), free(err);
    ck_assert_int_eq(tu_run_quant("bench matmul --rows 63", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("bench matmul no_such_type", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("bench matmul --help", NULL, NULL), 0);
}
END_TEST

START_TEST(test_bench_bandwidth) {
    char *out = NULL;
    ck_assert_int_eq(tu_run_quant("bench --bandwidth -t 2", &out, NULL), 0);
    const char *at = strstr(out, "threads: ");
    ck_assert_msg(at && strtod(at + strlen("threads: "), NULL) > 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "GB/s"));
    free(out);
}
END_TEST

START_TEST(test_demo_runs) {
    char *out = NULL;
    ck_assert_int_eq(tu_run_quant("demo --rows 16 --cols 512 -t 2", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "q8_0 "));
    ck_assert_ptr_nonnull(strstr(out, "iq4_k "));
    ck_assert_ptr_nonnull(strstr(out, "types are available"));
    ck_assert_ptr_null(strstr(out, "nan"));
    free(out);
    ck_assert_int_eq(tu_run_quant("demo --rows 15", NULL, NULL), 2);
    ck_assert_int_eq(tu_run_quant("demo extra", NULL, NULL), 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tool_bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_bench_prints_a_line_per_type);
    tcase_add_test(tc, test_bench_usage_errors);
    tcase_add_test(tc, test_bench_matmul_json);
    tcase_add_test(tc, test_bench_bandwidth);
    tcase_add_test(tc, test_demo_runs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
