/*
 * The evaluator's tokenizers against ik_llama.cpp's ids for the tiny models:
 * the first 2000 bytes of the test text, a text of odd characters (byte
 * fallback), the token count of the whole test text, and edge cases; for the
 * SentencePiece vocabulary of the llama model and the byte-level BPE one
 * (pre-tokenizer qwen2) of the qwen3moe model. Vocabularies of an unknown
 * kind or pre-tokenizer are refused by name. The pieces of the reference's
 * ids give the texts back (generation prints them), BOS and EOS as nothing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_tokenizer.h"
#include "testutil.h"

#define MODEL "models/tiny-llama-bf16.gguf"
#define MOE_MODEL "models/tiny-qwen3moe-bf16.gguf"

typedef struct fixture {
    lq_gguf *gguf;
    eval_vocab *vocab;
} fixture;

static fixture open_model_vocab(const char *model) {
    fixture f = {NULL, NULL};
    char *path = tu_shared_path(model);
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_open(path, &f.gguf, &err) == LQ_OK, "%s", err.message);
    ck_assert_msg(eval_vocab_load(f.gguf, &f.vocab, &err) == LQ_OK, "%s", err.message);
    free(path);
    return f;
}

static fixture open_vocab(void) { return open_model_vocab(MODEL); }

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

static void check_against_reference(const char *model, const char *text_rel,
                                    const char *ids_rel) {
    fixture f = open_model_vocab(model);
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
    /* the pieces give the text back (SentencePiece's prefix space aside) */
    char *back = malloc(2 * len + 16);
    size_t n_back = 0;
    for (int64_t i = 0; i < n_expected; i++) {
        char piece[256];
        size_t n = eval_token_piece(f.vocab, expected[i], piece, sizeof piece);
        ck_assert_uint_le(n, sizeof piece);
        ck_assert_uint_le(n_back + n, 2 * len + 16);
        memcpy(back + n_back, piece, n);
        n_back += n;
    }
    const size_t skip = n_back == len + 1 && back[0] == ' ' && text[0] != ' ' ? 1 : 0;
    ck_assert_uint_eq(n_back - skip, len);
    ck_assert_msg(memcmp(back + skip, text, len) == 0, "%s: the pieces differ from the text",
                  text_rel);
    free(back);
    free(got);
    free(expected);
    free(ids_text);
    free(text);
    close_vocab(&f);
}

START_TEST(test_end_tokens) {
    fixture f = open_vocab();
    char piece[16];
    ck_assert_int_eq(eval_vocab_eos(f.vocab), 2);
    ck_assert(eval_vocab_is_end(f.vocab, 2));
    ck_assert(!eval_vocab_is_end(f.vocab, 1));
    ck_assert_uint_eq(eval_token_piece(f.vocab, 2, piece, sizeof piece), 0);
    ck_assert_uint_eq(eval_token_piece(f.vocab, 1, piece, sizeof piece), 0);
    ck_assert_uint_eq(eval_token_piece(f.vocab, 99999, piece, sizeof piece), 0);
    close_vocab(&f);
    f = open_model_vocab(MOE_MODEL);
    ck_assert_int_eq(eval_vocab_eos(f.vocab), 0);
    ck_assert(eval_vocab_is_end(f.vocab, 0));
    ck_assert_uint_eq(eval_token_piece(f.vocab, 0, piece, sizeof piece), 0);
    close_vocab(&f);
}
END_TEST

START_TEST(test_head2000) {
    check_against_reference(MODEL, "models/tokenizer/test-head2000.txt",
                            "models/tokenizer/test-head2000.ids");
}
END_TEST

START_TEST(test_odd_characters) {
    check_against_reference(MODEL, "models/tokenizer/odd.txt", "models/tokenizer/odd.ids");
}
END_TEST

START_TEST(test_bpe_head2000) {
    check_against_reference(MOE_MODEL, "models/tokenizer/test-head2000.txt",
                            "models/tokenizer/qwen3moe-test-head2000.ids");
}
END_TEST

START_TEST(test_bpe_odd_characters) {
    check_against_reference(MOE_MODEL, "models/tokenizer/odd.txt",
                            "models/tokenizer/qwen3moe-odd.ids");
}
END_TEST

START_TEST(test_bpe_whole_text_count) {
    fixture f = open_model_vocab(MOE_MODEL);
    ck_assert_str_eq(eval_vocab_model(f.vocab), "gpt2");
    ck_assert(!eval_vocab_adds_bos(f.vocab)); /* add_bos_token = false */
    size_t len;
    char *text = read_file("text/test.txt", &len);
    int32_t *got;
    int64_t n_got;
    ck_assert_int_eq(eval_tokenize(f.vocab, text, len, true, &got, &n_got), LQ_OK);
    ck_assert_int_eq(n_got, 146852);
    free(got);
    /* control tokens are text like any other: <|endoftext|> (id 0) is not
     * matched */
    ck_assert_int_eq(eval_tokenize(f.vocab, "<|endoftext|>", 13, true, &got, &n_got), LQ_OK);
    ck_assert_int_gt(n_got, 1);
    for (int64_t i = 0; i < n_got; i++)
        ck_assert_int_ne(got[i], 0);
    free(got);
    /* invalid UTF-8 still gives tokens, one or more a byte */
    ck_assert_int_eq(eval_tokenize(f.vocab, "a\xff\xe2\x96", 4, false, &got, &n_got), LQ_OK);
    ck_assert_int_ge(n_got, 2);
    free(got);
    free(text);
    close_vocab(&f);
}
END_TEST

/* A copy of the qwen3moe model's vocabulary with `key` set to `value`. */
static int load_modified(const char *key, const char *value, lq_gguf_error *err) {
    fixture f = open_model_vocab(MOE_MODEL);
    char *dir = tu_make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/vocab.gguf", dir);
    lq_gguf_writer *w = lq_gguf_writer_new();
    const char *keys[] = {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
                          "tokenizer.ggml.merges", "tokenizer.ggml.token_type"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(keys[i], key) == 0)
            ck_assert_int_eq(lq_gguf_writer_set_str(w, key, value), LQ_OK);
        else
            ck_assert_int_eq(lq_gguf_writer_set(w, keys[i], lq_gguf_find(f.gguf, keys[i])), LQ_OK);
    }
    const void *none[1] = {NULL};
    ck_assert_int_eq(lq_gguf_write_file(w, path, none, err), LQ_OK);
    lq_gguf_writer_free(w);
    close_vocab(&f);
    lq_gguf *g;
    ck_assert_int_eq(lq_gguf_open(path, &g, err), LQ_OK);
    eval_vocab *v = NULL;
    int st = eval_vocab_load(g, &v, err);
    eval_vocab_free(v);
    lq_gguf_close(g);
    tu_rmtree(dir);
    free(dir);
    return st;
}

START_TEST(test_unknown_kinds) {
    lq_gguf_error err;
    ck_assert_int_eq(load_modified("tokenizer.ggml.pre", "qwen2", &err), LQ_OK);
    ck_assert_int_eq(load_modified("tokenizer.ggml.pre", "llama-bpe", &err), LQ_OK);
    ck_assert_int_eq(load_modified("tokenizer.ggml.pre", "deepseek-llm", &err), LQ_OK);
    ck_assert_int_eq(load_modified("tokenizer.ggml.pre", "deepseek-v3", &err), LQ_OK);
    ck_assert_int_eq(load_modified("tokenizer.ggml.pre", "default", &err), LQ_OK);
    ck_assert_int_eq(load_modified("tokenizer.ggml.pre", "gpt2", &err), LQ_OK);
    ck_assert_int_eq(load_modified("tokenizer.ggml.pre", "no-such-pre", &err),
                     LQ_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "'no-such-pre'"));
    ck_assert_int_eq(load_modified("tokenizer.ggml.model", "t5", &err), LQ_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "'t5'"));
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
    tcase_add_test(tc, test_end_tokens);
    tcase_add_test(tc, test_whole_text_count);
    tcase_add_test(tc, test_edges);
    tcase_add_test(tc, test_bpe_head2000);
    tcase_add_test(tc, test_bpe_odd_characters);
    tcase_add_test(tc, test_bpe_whole_text_count);
    tcase_add_test(tc, test_unknown_kinds);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
