/*
 * The evaluator's tokenizer against ik_llama.cpp's ids for the tiny model:
 * the first 2000 bytes of the test text, a text of odd characters (byte
 * fallback), the token count of the whole test text, and edge cases.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_tokenizer.h"
#include "testutil.h"

#define MODEL "models/tiny-llama-bf16.gguf"

typedef struct fixture {
    lq_gguf *gguf;
    eval_vocab *vocab;
} fixture;

static fixture open_vocab(void) {
    fixture f = {NULL, NULL};
    char *path = tu_shared_path(MODEL);
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_open(path, &f.gguf, &err) == LQ_OK, "%s", err.message);
    ck_assert_msg(eval_vocab_load(f.gguf, &f.vocab, &err) == LQ_OK, "%s", err.message);
    free(path);
    return f;
}

static void close_vocab(fixture *f) {
    eval_vocab_free(f->vocab);
    lq_gguf_close(f->gguf);
}

static char *read_file(const char *rel, size_t *len) {
    char *path = tu_shared_path(rel);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    free(path);
    *len = (size_t)size;
    return buf;
}

/* The .ids files are "[1, 1742, 261, ...]". */
static int64_t parse_ids(const char *text, int32_t **ids) {
    int64_t n = 0, cap = 1024;
    *ids = malloc(sizeof(int32_t) * (size_t)cap);
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            continue;
        char *end;
        long v = strtol(p, &end, 10);
        if (n == cap) {
            cap *= 2;
            *ids = realloc(*ids, sizeof(int32_t) * (size_t)cap);
        }
        (*ids)[n++] = (int32_t)v;
        p = end - 1;
    }
    return n;
}

static void check_against_reference(const char *text_rel, const char *ids_rel) {
    fixture f = open_vocab();
    size_t len, ids_len;
    char *text = read_file(text_rel, &len);
    char *ids_text = read_file(ids_rel, &ids_len);
    int32_t *expected;
    int64_t n_expected = parse_ids(ids_text, &expected);
    int32_t *got;
    int64_t n_got;
    ck_assert_int_eq(eval_tokenize(f.vocab, text, len, true, &got, &n_got), LQ_OK);
    int64_t common = n_got < n_expected ? n_got : n_expected;
    for (int64_t i = 0; i < common; i++)
        ck_assert_msg(got[i] == expected[i], "%s: token %lld is %d, expected %d", text_rel,
                      (long long)i, got[i], expected[i]);
    ck_assert_int_eq(n_got, n_expected);
    free(got);
    free(expected);
    free(ids_text);
    free(text);
    close_vocab(&f);
}

START_TEST(test_head2000) {
    check_against_reference("models/tokenizer/test-head2000.txt",
                            "models/tokenizer/test-head2000.ids");
}
END_TEST

START_TEST(test_odd_characters) {
    check_against_reference("models/tokenizer/odd.txt", "models/tokenizer/odd.ids");
}
END_TEST

START_TEST(test_whole_text_count) {
    fixture f = open_vocab();
    size_t len;
    char *text = read_file("text/test.txt", &len);
    int32_t *got;
    int64_t n_got;
    ck_assert_int_eq(eval_tokenize(f.vocab, text, len, true, &got, &n_got), LQ_OK);
    ck_assert_int_eq(n_got, 142483);
    ck_assert_int_eq(got[0], 1);
    free(got);
    free(text);
    close_vocab(&f);
}
END_TEST

START_TEST(test_edges) {
    fixture f = open_vocab();
    int32_t *got;
    int64_t n;
    ck_assert_int_eq(eval_tokenize(f.vocab, "", 0, true, &got, &n), LQ_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(got[0], eval_vocab_bos(f.vocab));
    free(got);
    ck_assert_int_eq(eval_tokenize(f.vocab, "", 0, false, &got, &n), LQ_OK);
    ck_assert_int_eq(n, 0);
    free(got);
    /* an invalid UTF-8 byte and a truncated sequence fall back to bytes */
    ck_assert_int_eq(eval_tokenize(f.vocab, "a\xff\xe2\x96", 4, false, &got, &n), LQ_OK);
    ck_assert_int_ge(n, 3);
    ck_assert_str_eq(eval_vocab_text(f.vocab, got[n - 1]), "<0x96>");
    ck_assert_str_eq(eval_vocab_text(f.vocab, got[n - 2]), "<0xE2>");
    free(got);
    close_vocab(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("eval_tokenizer");
    TCase *tc = tcase_create("tokenizer");
    tcase_add_test(tc, test_head2000);
    tcase_add_test(tc, test_odd_characters);
    tcase_add_test(tc, test_whole_text_count);
    tcase_add_test(tc, test_edges);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
