/*
 * quant generate and quant bench model on the shared tiny models:
 * - the incremental path (a key/value cache filled by a prompt batch, then
 *   a token at a time) gives the batch path's logits on the real models
 *   (bit for bit with an F32 cache, within 2e-2 of the row's largest
 *   magnitude with F16);
 *   the synthetic models of every architecture are in test_eval_archs.c;
 * - greedy generation: every generated token is the argmax of the batch
 *   path's logits at its position (on the llama and the qwen3moe model), as
 *   is sampling with --top-k 1; a seeded sampling is reproducible;
 * - the end-of-sequence token stops it (a copy of the model whose EOS is a
 *   token greedy generation reaches);
 * - a bad model file, a prompt longer than the context and an unknown
 *   architecture give errors naming what is wrong (exit 1); usage errors 2;
 * - bench model prints the pp/tg table, its JSON and the sweep.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_forward.h"
#include "eval_model.h"
#include "eval_tokenizer.h"
#include "testutil.h"

#define LLAMA "models/tiny-llama-bf16.gguf"
#define MOE "models/tiny-qwen3moe-bf16.gguf"
#define PROMPT "And God said, Let there be"

/* not inlined: gcc's -Wdangling-pointer mistakes the returned buffer for the
 * address of the local that received it */
__attribute__((noinline)) static char *run_ok(const char *args) {
    char *out = NULL, *err = NULL;
    int st = tu_run_quant(args, &out, &err);
    ck_assert_msg(st == 0, "quant %s: exit %d\nstderr: %s", args, st, err ? err : "");
    free(err);
    return out;
}

static void expect_failure(const char *args, int status, const char *in_stderr) {
    char *out = NULL, *err = NULL;
    int st = tu_run_quant(args, &out, &err);
    ck_assert_msg(st == status, "quant %s: exit %d, expected %d\n%s", args, st, status, err);
    ck_assert_msg(strstr(err, in_stderr) != NULL, "quant %s: stderr lacks '%s':\n%s", args,
                  in_stderr, err);
    free(out);
    free(err);
}

/* The integers of the JSON array after "key": [ */
static int64_t json_ints(const char *json, const char *key, int32_t *ids, int64_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": [", key);
    const char *p = strstr(json, pattern);
    ck_assert_msg(p != NULL, "no %s in %s", key, json);
    p += strlen(pattern);
    int64_t n = 0;
    while (*p != ']') {
        char *end;
        long v = strtol(p, &end, 10);
        ck_assert_msg(end != p, "bad array %s in %s", key, json);
        ck_assert_int_lt(n, cap);
        ids[n++] = (int32_t)v;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return n;
}

static double row_error(const float *a, const float *b, int64_t n) {
    double diff = 0.0, top = 0.0;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        top = fmax(top, fabs((double)b[i]));
    }
    return diff / (top > 0.0 ? top : 1.0);
}

static int32_t argmax(const float *x, int64_t n) {
    int32_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = (int32_t)i;
    return best;
}

/* The batch path's logits of every position of tokens[0..n). */
static float *batch_logits(eval_model *m, const int32_t *tokens, int64_t n) {
    eval_context *c = eval_context_new(m, n, 2);
    ck_assert_ptr_nonnull(c);
    float *logits = malloc(sizeof(float) * (size_t)(n * m->hp.n_vocab));
    ck_assert_int_eq(eval_forward(c, tokens, n, 0, logits), LQ_OK);
    eval_context_free(c);
    return logits;
}

static void check_incremental(const char *rel, eval_cache_type type, double bound) {
    enum { N = 48, PROMPT_TOKENS = 11 };
    char *path = tu_shared_path(rel);
    eval_model *m;
    lq_gguf_error err;
    ck_assert_msg(eval_model_open(path, &m, &err) == LQ_OK, "%s", err.message);
    const int64_t n_vocab = m->hp.n_vocab;
    int32_t tokens[N];
    for (int i = 0; i < N; i++)
        tokens[i] = (int32_t)((i * 2654435761u) % (uint32_t)n_vocab);
    float *batch = batch_logits(m, tokens, N);
    eval_context *c = eval_context_new(m, PROMPT_TOKENS, 2);
    eval_kv_cache *kv = eval_kv_cache_new(m, N, type);
    ck_assert_ptr_nonnull(kv);
    float *logits = malloc(sizeof(float) * (size_t)(PROMPT_TOKENS * n_vocab));
    ck_assert_int_eq(eval_forward_cached(c, kv, tokens, PROMPT_TOKENS, 0, logits), LQ_OK);
    for (int64_t r = 0; r < PROMPT_TOKENS; r++) {
        const double e = row_error(logits + r * n_vocab, batch + r * n_vocab, n_vocab);
        ck_assert_msg(e <= bound, "%s, cache %d, prompt row %lld: relative error %g", rel,
                      (int)type, (long long)r, e);
    }
    for (int64_t pos = PROMPT_TOKENS; pos < N; pos++) {
        ck_assert_int_eq(eval_forward_cached(c, kv, tokens + pos, 1, 0, logits), LQ_OK);
        const double e = row_error(logits, batch + pos * n_vocab, n_vocab);
        ck_assert_msg(e <= bound, "%s, cache %d, position %lld: relative error %g", rel,
                      (int)type, (long long)pos, e);
    }
    free(logits);
    free(batch);
    eval_kv_cache_free(kv);
    eval_context_free(c);
    eval_model_close(m);
    free(path);
}

START_TEST(test_incremental_logits) {
    check_incremental(LLAMA, EVAL_CACHE_F32, 0.0);
    check_incremental(LLAMA, EVAL_CACHE_F16, 2e-2);
    check_incremental(MOE, EVAL_CACHE_F32, 0.0);
    check_incremental(MOE, EVAL_CACHE_F16, 2e-2);
}
END_TEST

/* Greedy generation through the command, checked against the batch path;
 * the generated ids in gen (at most cap), their count returned. */
static int64_t check_greedy(const char *rel, const char *extra, int32_t *gen, int64_t cap) {
    char *path = tu_shared_path(rel);
    char args[1024];
    snprintf(args, sizeof args, "generate -m '%s' -p '%s' -n 12 -t 2 --json %s", path, PROMPT,
             extra);
    char *out = run_ok(args);
    ck_assert_ptr_nonnull(strstr(out, "\"stop\": \"length\""));
    int32_t tokens[64];
    const int64_t n_prompt = json_ints(out, "prompt_tokens", tokens, 64);
    const int64_t n_gen = json_ints(out, "tokens", tokens + n_prompt, 64 - n_prompt);
    ck_assert_int_eq(n_gen, 12);
    eval_model *m;
    lq_gguf_error err;
    ck_assert_msg(eval_model_open(path, &m, &err) == LQ_OK, "%s", err.message);
    float *logits = batch_logits(m, tokens, n_prompt + n_gen);
    for (int64_t i = 0; i < n_gen; i++)
        ck_assert_msg(tokens[n_prompt + i] ==
                          argmax(logits + (n_prompt - 1 + i) * m->hp.n_vocab, m->hp.n_vocab),
                      "%s: generated token %lld is not the batch path's argmax", rel,
                      (long long)i);
    for (int64_t i = 0; i < n_gen && i < cap; i++)
        gen[i] = tokens[n_prompt + i];
    free(logits);
    eval_model_close(m);
    free(out);
    free(path);
    return n_gen;
}

START_TEST(test_greedy_is_batch_argmax) {
    int32_t gen[16], top1[16];
    check_greedy(MOE, "", gen, 16);
    check_greedy(LLAMA, "", gen, 16);
    /* sampling among the single most likely token is greedy */
    check_greedy(LLAMA, "--temp 0.7 --top-k 1 --seed 3", top1, 16);
    ck_assert(memcmp(gen, top1, sizeof gen[0] * 12) == 0);
    /* the prompt then the text, streamed */
    char *path = tu_shared_path(LLAMA), args[1024];
    snprintf(args, sizeof args, "generate -m '%s' -p '%s' -n 4 -t 2", path, PROMPT);
    char *out = run_ok(args);
    ck_assert_msg(strncmp(out, PROMPT, strlen(PROMPT)) == 0 && strlen(out) > strlen(PROMPT) + 1,
                  "output: %s", out);
    free(out);
    /* sampling with a seed is reproducible */
    snprintf(args, sizeof args,
             "generate -m '%s' -p '%s' -n 8 -t 2 --temp 0.8 --top-k 20 --top-p 0.9 --seed 7 --json",
             path, PROMPT);
    char *a = run_ok(args), *b = run_ok(args);
    ck_assert_ptr_nonnull(strstr(a, "\"seed\": 7"));
    int32_t ids_a[16], ids_b[16];
    const int64_t n_a = json_ints(a, "tokens", ids_a, 16), n_b = json_ints(b, "tokens", ids_b, 16);
    ck_assert_int_eq(n_a, n_b);
    ck_assert(memcmp(ids_a, ids_b, sizeof(int32_t) * (size_t)n_a) == 0);
    free(a), free(b), free(path);
}
END_TEST

/* A copy of a shared model with one key changed (or set). */
static void write_variant(const char *rel, const char *out_path, const char *key, uint32_t u32,
                          const char *str) {
    char *path = tu_shared_path(rel);
    lq_gguf *g = tu_open_model(path);
    lq_gguf_writer *w = lq_gguf_writer_new();
    ck_assert_int_eq(lq_gguf_writer_copy_kvs(w, g), LQ_OK);
    if (str)
        ck_assert_int_eq(lq_gguf_writer_set_str(w, key, str), LQ_OK);
    else
        ck_assert_int_eq(lq_gguf_writer_set_u32(w, key, u32), LQ_OK);
    const int64_t count = lq_gguf_tensor_count(g);
    const void **data = calloc((size_t)count + 1, sizeof *data);
    for (int64_t i = 0; i < count; i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        ck_assert_int_eq(lq_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne), i);
        data[i] = t->data;
    }
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_write_file(w, out_path, data, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(w);
    free(data);
    lq_gguf_close(g);
    free(path);
}

START_TEST(test_eos_stops) {
    int32_t gen[16];
    check_greedy(LLAMA, "", gen, 16);
    /* the first generated token not among the two before it becomes EOS */
    int stop_at = 2;
    while (stop_at < 12 && (gen[stop_at] == gen[0] || gen[stop_at] == gen[1]))
        stop_at++;
    ck_assert_int_lt(stop_at, 12);
    char *dir = tu_make_tmpdir(), *model = tu_join_path(dir, "eos.gguf");
    write_variant(LLAMA, model, "tokenizer.ggml.eos_token_id", (uint32_t)gen[stop_at], NULL);
    char args[1024];
    snprintf(args, sizeof args, "generate -m '%s' -p '%s' -n 12 -t 2 --json", model, PROMPT);
    char *out = run_ok(args);
    ck_assert_msg(strstr(out, "\"stop\": \"eos\""), "%s", out);
    int32_t got[16];
    int64_t n_prompt = json_ints(out, "prompt_tokens", got, 16);
    ck_assert_int_gt(n_prompt, 1);
    const int64_t n = json_ints(out, "tokens", got, 16);
    ck_assert_int_eq(n, stop_at);
    for (int i = 0; i < stop_at; i++)
        ck_assert_int_eq(got[i], gen[i]);
    free(out);
    tu_rmtree(dir);
    free(model), free(dir);
}
END_TEST

START_TEST(test_errors) {
    char *llama = tu_shared_path(LLAMA), *text = tu_shared_path("models/tokenizer/odd.txt");
    char *dir = tu_make_tmpdir(), *mamba = tu_join_path(dir, "mamba.gguf");
    char args[2048];
    /* a file that is no GGUF, a missing one */
    snprintf(args, sizeof args, "generate -m '%s' -p hi", text);
    expect_failure(args, 1, "odd.txt");
    expect_failure("generate -m /nonexistent/m.gguf -p hi", 1, "/nonexistent/m.gguf");
    expect_failure("bench model -m /nonexistent/m.gguf", 1, "/nonexistent/m.gguf");
    /* a prompt longer than the context */
    snprintf(args, sizeof args, "generate -m '%s' -c 4 -p 'a prompt of more than four tokens'",
             llama);
    expect_failure(args, 1, "more than the context of 4");
    /* an architecture the evaluator does not run */
    write_variant(LLAMA, mamba, "general.architecture", 0, "mamba");
    snprintf(args, sizeof args, "generate -m '%s' -p hi", mamba);
    expect_failure(args, 1, "mamba");
    expect_failure(args, 1, "llama, qwen2, qwen3, qwen3moe");
    /* usage */
    expect_failure("generate", 2, "no model");
    expect_failure("generate -m x.gguf", 2, "no prompt");
    expect_failure("generate -m x.gguf -p hi --cache-type q8", 2, "--cache-type");
    expect_failure("generate -m x.gguf -p hi --temp -1", 2, "--temp");
    expect_failure("generate -m x.gguf -p hi --bogus", 2, "--bogus");
    expect_failure("bench model", 2, "no model");
    expect_failure("bench model -m x.gguf -p 0 -n 0", 2, "nothing to measure");
    expect_failure("bench model -m x.gguf -c 1024", 2, "--sweep only");
    char *out = run_ok("generate --help");
    ck_assert_ptr_nonnull(strstr(out, "usage: quant generate"));
    ck_assert_ptr_nonnull(strstr(out, "--top-p"));
    ck_assert_ptr_nonnull(strstr(out, "qwen3moe"));
    free(out);
    out = run_ok("bench model --help");
    ck_assert_ptr_nonnull(strstr(out, "usage: quant bench model"));
    ck_assert_ptr_nonnull(strstr(out, "--sweep"));
    free(out);
    tu_rmtree(dir);
    free(mamba), free(dir), free(llama), free(text);
}
END_TEST

START_TEST(test_bench_model) {
    char *llama = tu_shared_path(LLAMA), args[1024];
    snprintf(args, sizeof args, "bench model -m '%s' -p 16 -n 4 -r 2 -t 2", llama);
    char *out = run_ok(args);
    ck_assert_msg(strstr(out, "| llama BF16") && strstr(out, "pp16") && strstr(out, "tg4") &&
                      strstr(out, " ± "),
                  "%s", out);
    free(out);
    snprintf(args, sizeof args, "bench model -m '%s' -p 16 -n 4 -r 2 -t 2 --json", llama);
    out = run_ok(args);
    ck_assert_msg(strstr(out, "\"test\": \"pp16\"") && strstr(out, "\"test\": \"tg4\"") &&
                      strstr(out, "\"samples_ts\": [") && strstr(out, "\"params\": 23075328"),
                  "%s", out);
    free(out);
    snprintf(args, sizeof args,
             "bench model -m '%s' --sweep -c 64 -p 16 -n 4 -t 2 --cache-type f16", llama);
    out = run_ok(args);
    ck_assert_msg(strstr(out, "|    PP |     TG |   N_KV |"), "%s", out);
    int rows = 0;
    for (const char *p = out; (p = strstr(p, "\n|    16 |      4 |")) != NULL; p++)
        rows++;
    ck_assert_msg(rows == 4, "%d sweep rows (depths 0, 16, 32, 48 expected):\n%s", rows, out);
    ck_assert_ptr_nonnull(strstr(out, "|     48 |"));
    free(out);
    free(llama);
}
END_TEST

int main(void) {
    Suite *s = suite_create("generate");
    TCase *tc = tcase_create("generate");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_incremental_logits);
    tcase_add_test(tc, test_greedy_is_batch_argmax);
    tcase_add_test(tc, test_eos_stops);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_bench_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
