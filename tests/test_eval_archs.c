/*
 * The evaluator on small synthetic models of every architecture it runs
 * (random F32 weights written with the GGUF writer): llama with Llama 3's
 * rope_freqs, qwen2 with q/k/v biases, qwen3 with per-head q/k norms and a
 * head size that is not n_embd / n_head, qwen3moe with experts. For each:
 * the logits have the vocabulary's width and are finite, do not depend on
 * the thread count nor on which rows are asked for, and an observer sees
 * every layer matrix (a tensor of experts once a call, its vectors grouped
 * by expert, n_expert_used a token). A missing tensor is an error naming it.
 * The incremental path (a key/value cache filled by a batch, then a token
 * at a time) gives the batch path's logits: within 1e-4 of the row's
 * largest magnitude with an F32 cache (bit for bit with the same attention
 * kernel: test_generate.c), 5e-3 with an F16 one, the same argmax at every
 * position, with either attention kernel.
 * The numbers themselves are checked against the reference on the shared
 * models (test_eval_tools.c) and against an independent computation for
 * llama (test_eval_forward.c).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_forward.h"
#include "eval_model.h"
#include "testutil.h"

enum { N_EMBD = 32, N_HEAD = 4, N_HEAD_KV = 2, HEAD_DIM = 16, N_FF = 48, N_VOCAB = 40,
       N_LAYER = 2, N_EXPERT = 4, N_USED = 2, N_FF_EXP = 24, N_TOKENS = 37 };
enum { Q_DIM = N_HEAD * HEAD_DIM, KV_DIM = N_HEAD_KV * HEAD_DIM };

typedef struct toy_writer {
    lq_gguf_writer *w;
    const void *data[128];
    float *owned[128];
    int count;
    tu_rng rng;
} toy_writer;

static void add(toy_writer *t, const char *name, int dims, int64_t ne0, int64_t ne1, int64_t ne2,
                double scale, double offset) {
    const int64_t ne[3] = {ne0, ne1, ne2};
    const int64_t n = ne0 * (dims > 1 ? ne1 : 1) * (dims > 2 ? ne2 : 1);
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)(offset + scale * tu_rng_gauss(&t->rng));
    ck_assert_int_ge(lq_gguf_writer_add_tensor(t->w, name, LQ_TYPE_F32, dims, ne), 0);
    t->owned[t->count] = v;
    t->data[t->count++] = v;
}

static void add_layer(toy_writer *t, const char *arch, int l, bool skip_q_norm) {
    char name[64];
    const bool qwen3 = strncmp(arch, "qwen3", 5) == 0, moe = strcmp(arch, "qwen3moe") == 0;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, l), name)
    add(t, NAME("attn_norm.weight"), 1, N_EMBD, 1, 1, 0.1, 1.0);
    add(t, NAME("attn_q.weight"), 2, N_EMBD, Q_DIM, 1, 0.2, 0.0);
    add(t, NAME("attn_k.weight"), 2, N_EMBD, KV_DIM, 1, 0.2, 0.0);
    add(t, NAME("attn_v.weight"), 2, N_EMBD, KV_DIM, 1, 0.2, 0.0);
    add(t, NAME("attn_output.weight"), 2, Q_DIM, N_EMBD, 1, 0.1, 0.0);
    if (strcmp(arch, "qwen2") == 0) {
        add(t, NAME("attn_q.bias"), 1, Q_DIM, 1, 1, 0.1, 0.0);
        add(t, NAME("attn_k.bias"), 1, KV_DIM, 1, 1, 0.1, 0.0);
        add(t, NAME("attn_v.bias"), 1, KV_DIM, 1, 1, 0.1, 0.0);
    }
    if (qwen3 && !skip_q_norm)
        add(t, NAME("attn_q_norm.weight"), 1, HEAD_DIM, 1, 1, 0.1, 1.0);
    if (qwen3)
        add(t, NAME("attn_k_norm.weight"), 1, HEAD_DIM, 1, 1, 0.1, 1.0);
    add(t, NAME("ffn_norm.weight"), 1, N_EMBD, 1, 1, 0.1, 1.0);
    if (moe) {
        add(t, NAME("ffn_gate_inp.weight"), 2, N_EMBD, N_EXPERT, 1, 0.5, 0.0);
        add(t, NAME("ffn_gate_exps.weight"), 3, N_EMBD, N_FF_EXP, N_EXPERT, 0.2, 0.0);
        add(t, NAME("ffn_up_exps.weight"), 3, N_EMBD, N_FF_EXP, N_EXPERT, 0.2, 0.0);
        add(t, NAME("ffn_down_exps.weight"), 3, N_FF_EXP, N_EMBD, N_EXPERT, 0.2, 0.0);
    } else {
        add(t, NAME("ffn_gate.weight"), 2, N_EMBD, N_FF, 1, 0.2, 0.0);
        add(t, NAME("ffn_up.weight"), 2, N_EMBD, N_FF, 1, 0.2, 0.0);
        add(t, NAME("ffn_down.weight"), 2, N_FF, N_EMBD, 1, 0.15, 0.0);
    }
#undef NAME
}

static void set_hparams(lq_gguf_writer *w, const char *arch) {
    char key[96];
#define KEY(k) (snprintf(key, sizeof key, "%s." k, arch), key)
    lq_gguf_writer_set_str(w, "general.architecture", arch);
    lq_gguf_writer_set_u32(w, KEY("block_count"), N_LAYER);
    lq_gguf_writer_set_u32(w, KEY("context_length"), 128);
    lq_gguf_writer_set_u32(w, KEY("embedding_length"), N_EMBD);
    lq_gguf_writer_set_u32(w, KEY("feed_forward_length"), N_FF);
    lq_gguf_writer_set_u32(w, KEY("attention.head_count"), N_HEAD);
    lq_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), N_HEAD_KV);
    lq_gguf_writer_set_u32(w, KEY("attention.key_length"), HEAD_DIM);
    lq_gguf_writer_set_u32(w, KEY("attention.value_length"), HEAD_DIM);
    lq_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
    lq_gguf_writer_set_f32(w, KEY("rope.freq_base"), 1e6f);
    if (strcmp(arch, "qwen3moe") == 0) {
        lq_gguf_writer_set_u32(w, KEY("expert_count"), N_EXPERT);
        lq_gguf_writer_set_u32(w, KEY("expert_used_count"), N_USED);
        lq_gguf_writer_set_u32(w, KEY("expert_feed_forward_length"), N_FF_EXP);
    }
#undef KEY
}

static void write_toy(const char *arch, const char *path, bool skip_q_norm) {
    toy_writer t = {.w = lq_gguf_writer_new(), .rng = {7}};
    set_hparams(t.w, arch);
    add(&t, "token_embd.weight", 2, N_EMBD, N_VOCAB, 1, 1.0, 0.0);
    add(&t, "output_norm.weight", 1, N_EMBD, 1, 1, 0.1, 1.0);
    add(&t, "output.weight", 2, N_EMBD, N_VOCAB, 1, 0.3, 0.0);
    if (strcmp(arch, "llama") == 0)
        add(&t, "rope_freqs.weight", 1, HEAD_DIM / 2, 1, 1, 0.5, 2.0);
    for (int l = 0; l < N_LAYER; l++)
        add_layer(&t, arch, l, skip_q_norm);
    t.data[t.count] = NULL;
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_write_file(t.w, path, t.data, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(t.w);
    for (int i = 0; i < t.count; i++)
        free(t.owned[i]);
}

typedef struct seen {
    int calls, expert_calls;
    int64_t expert_vectors;
    bool grouped_ok;
} seen;

static void observe(void *user, const eval_matrix *w, const float *x, int64_t n,
                    const int64_t *expert_rows) {
    seen *s = user;
    s->calls++;
    for (int64_t i = 0; i < n * w->ncols; i++)
        ck_assert(isfinite(x[i]));
    if (!expert_rows) {
        ck_assert_int_eq(w->n_expert, 1);
        return;
    }
    s->expert_calls++;
    s->expert_vectors += n;
    ck_assert_int_eq(w->n_expert, N_EXPERT);
    s->grouped_ok = s->grouped_ok && expert_rows[0] == 0 && expert_rows[N_EXPERT] == n;
    for (int e = 0; e < N_EXPERT; e++)
        s->grouped_ok = s->grouped_ok && expert_rows[e] <= expert_rows[e + 1];
}

static float *run(eval_model *m, int threads, const int32_t *tokens, int64_t first, seen *s) {
    eval_context *c = eval_context_new(m, N_TOKENS, threads);
    ck_assert_ptr_nonnull(c);
    if (s)
        eval_context_set_observer(c, observe, s);
    float *logits = malloc(sizeof(float) * (size_t)((N_TOKENS - first) * N_VOCAB));
    ck_assert_int_eq(eval_forward(c, tokens, N_TOKENS, first, logits), LQ_OK);
    eval_context_free(c);
    return logits;
}

/* Largest |a - b| over a row, relative to the row's largest |b|. */
static double row_error(const float *a, const float *b, int64_t n) {
    double diff = 0.0, top = 0.0;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        top = fmax(top, fabs((double)b[i]));
    }
    return diff / (top > 0.0 ? top : 1.0);
}

static int64_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Tokens in batches of `step` (the first batch `prompt` long) through a
 * cache, every row's logits against the batch path's (`batch`). */
static void check_incremental(eval_model *m, const char *arch, const int32_t *tokens,
                              const float *batch, eval_cache_type type, int64_t prompt,
                              int64_t step, bool portable) {
    const double bound = type == EVAL_CACHE_F32 ? 1e-4 : 5e-3;
    eval_context *c = eval_context_new(m, N_TOKENS, 2);
    eval_kv_cache *kv = eval_kv_cache_new(m, N_TOKENS, type);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(kv);
    eval_context_use_portable_attention(c, portable);
    float *logits = malloc(sizeof(float) * (size_t)(N_TOKENS * N_VOCAB));
    for (int64_t pos = 0; pos < N_TOKENS;) {
        const int64_t n = pos == 0 ? prompt : (N_TOKENS - pos < step ? N_TOKENS - pos : step);
        ck_assert_int_eq(eval_kv_cache_used(kv), pos);
        ck_assert_int_eq(eval_forward_cached(c, kv, tokens + pos, n, 0, logits), LQ_OK);
        for (int64_t r = 0; r < n; r++) {
            const float *want = batch + (pos + r) * N_VOCAB, *got = logits + r * N_VOCAB;
            const double e = row_error(got, want, N_VOCAB);
            ck_assert_msg(e <= bound, "%s: cache %d, position %lld: relative error %g",
                          arch, (int)type, (long long)(pos + r), e);
            ck_assert_int_eq(argmax(got, N_VOCAB), argmax(want, N_VOCAB));
        }
        pos += n;
    }
    /* full: one more token is refused and leaves the cache as it was */
    ck_assert_int_eq(eval_forward_cached(c, kv, tokens, 1, 0, logits), LQ_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(eval_kv_cache_used(kv), N_TOKENS);
    /* truncated back, the same tokens give the same logits again */
    eval_kv_cache_truncate(kv, N_TOKENS - 3);
    ck_assert_int_eq(eval_forward_cached(c, kv, tokens + N_TOKENS - 3, 1, 0, logits), LQ_OK);
    ck_assert(row_error(logits, batch + (N_TOKENS - 3) * N_VOCAB, N_VOCAB) <= bound);
    free(logits);
    eval_kv_cache_free(kv);
    eval_context_free(c);
}

static void check_arch(const char *arch) {
    char *dir = tu_make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", dir, arch);
    write_toy(arch, path, false);
    eval_model *m;
    lq_gguf_error err;
    ck_assert_msg(eval_model_open(path, &m, &err) == LQ_OK, "%s: %s", arch, err.message);
    ck_assert_str_eq(eval_model_arch_name(m), arch);
    ck_assert_int_eq(m->hp.n_vocab, N_VOCAB);
    ck_assert_int_eq(m->hp.head_dim, HEAD_DIM);
    int32_t tokens[N_TOKENS];
    for (int t = 0; t < N_TOKENS; t++)
        tokens[t] = (t * 11 + 5) % N_VOCAB;
    float *one = run(m, 1, tokens, 0, NULL), *two = run(m, 2, tokens, 0, NULL);
    for (int i = 0; i < N_TOKENS * N_VOCAB; i++)
        ck_assert_msg(isfinite(one[i]), "%s: logit %d is %g", arch, i, (double)one[i]);
    ck_assert_msg(memcmp(one, two, sizeof(float) * N_TOKENS * N_VOCAB) == 0,
                  "%s: 1 and 2 threads differ", arch);
    /* the last rows alone: the same values (the last layer skips the rest) */
    float *tail = run(m, 2, tokens, N_TOKENS - 5, NULL);
    for (int i = 0; i < 5 * N_VOCAB; i++)
        ck_assert_msg(fabsf(tail[i] - one[(N_TOKENS - 5) * N_VOCAB + i]) <= 1e-4f,
                      "%s: tail logit %d", arch, i);
    seen s = {.grouped_ok = true};
    float *observed = run(m, 2, tokens, 0, &s);
    ck_assert(memcmp(observed, one, sizeof(float) * N_TOKENS * N_VOCAB) == 0);
    const bool moe = strcmp(arch, "qwen3moe") == 0;
    /* attn q/k/v/output, then gate/up/down, plus the router */
    ck_assert_int_eq(s.calls, N_LAYER * (moe ? 8 : 7));
    ck_assert_int_eq(s.expert_calls, moe ? N_LAYER * 3 : 0);
    ck_assert_int_eq(s.expert_vectors, moe ? N_LAYER * 3 * N_TOKENS * N_USED : 0);
    ck_assert(s.grouped_ok);
    /* a prompt then single tokens, batches of 5, the portable attention,
     * and an F16 cache */
    check_incremental(m, arch, tokens, one, EVAL_CACHE_F32, 9, 1, false);
    check_incremental(m, arch, tokens, one, EVAL_CACHE_F32, 1, 5, false);
    check_incremental(m, arch, tokens, one, EVAL_CACHE_F32, 4, 1, true);
    check_incremental(m, arch, tokens, one, EVAL_CACHE_F16, 9, 1, false);
    check_incremental(m, arch, tokens, one, EVAL_CACHE_F16, 3, 2, true);
    free(one);
    free(two);
    free(tail);
    free(observed);
    eval_model_close(m);
    tu_rmtree(dir);
    free(dir);
}

START_TEST(test_llama_rope_freqs) { check_arch("llama"); }
END_TEST

START_TEST(test_qwen2) { check_arch("qwen2"); }
END_TEST

START_TEST(test_qwen3) { check_arch("qwen3"); }
END_TEST

START_TEST(test_qwen3moe) { check_arch("qwen3moe"); }
END_TEST

START_TEST(test_missing_q_norm) {
    char *dir = tu_make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/broken.gguf", dir);
    write_toy("qwen3moe", path, true);
    eval_model *m;
    lq_gguf_error err;
    ck_assert_int_eq(eval_model_open(path, &m, &err), LQ_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "blk.0.attn_q_norm.weight"));
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_supported_list) {
    char list[256];
    eval_supported_archs(list, sizeof list);
    ck_assert_str_eq(list, "llama, qwen2, qwen3, qwen3moe");
}
END_TEST

int main(void) {
    Suite *s = suite_create("eval_archs");
    TCase *tc = tcase_create("archs");
    tcase_add_test(tc, test_llama_rope_freqs);
    tcase_add_test(tc, test_qwen2);
    tcase_add_test(tc, test_qwen3);
    tcase_add_test(tc, test_qwen3moe);
    tcase_add_test(tc, test_missing_q_norm);
    tcase_add_test(tc, test_supported_list);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
