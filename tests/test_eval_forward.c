/*
 * The evaluator's forward pass and activation statistics on a hand-built
 * 2-layer llama model (written with the GGUF writer): the logits and the
 * per-matrix sums of squared inputs are compared with an independent,
 * straightforward double-precision computation in this file; the
 * collector's accumulation and its two export units are checked exactly.
 */
#include <check.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../imatrix/collect.h"
#include "eval_forward.h"
#include "eval_model.h"
#include "testutil.h"

enum { N_EMBD = 64, N_FF = 64, N_HEAD = 4, N_HEAD_KV = 2, HEAD_DIM = 16, N_VOCAB = 16,
       N_LAYER = 2, N_TOKENS = 24 };
enum { KV_DIM = N_HEAD_KV * HEAD_DIM };
#define RMS_EPS 1e-5
#define ROPE_BASE 10000.0

/* The matrices of a layer, in the order of `matrix_names`. */
enum { WQ, WK, WV, WO, WGATE, WUP, WDOWN, N_MATRICES };
static const char *const matrix_names[N_MATRICES] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
static const int64_t matrix_rows[N_MATRICES] = {N_EMBD, KV_DIM, KV_DIM, N_EMBD, N_FF, N_FF, N_EMBD};
static const int64_t matrix_cols[N_MATRICES] = {N_EMBD, N_EMBD, N_EMBD, N_EMBD, N_EMBD, N_EMBD, N_FF};

typedef struct toy_model {
    float *embd, *output, *output_norm;
    float *attn_norm[N_LAYER], *ffn_norm[N_LAYER];
    float *w[N_LAYER][N_MATRICES];
} toy_model;

static float *random_floats(tu_rng *rng, int64_t n, double scale, double offset) {
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)(offset + scale * tu_rng_gauss(rng));
    return v;
}

static toy_model make_weights(void) {
    tu_rng rng = {42};
    toy_model m;
    m.embd = random_floats(&rng, N_VOCAB * N_EMBD, 1.0, 0.0);
    m.output = random_floats(&rng, N_VOCAB * N_EMBD, 0.3, 0.0);
    m.output_norm = random_floats(&rng, N_EMBD, 0.1, 1.0);
    for (int l = 0; l < N_LAYER; l++) {
        m.attn_norm[l] = random_floats(&rng, N_EMBD, 0.1, 1.0);
        m.ffn_norm[l] = random_floats(&rng, N_EMBD, 0.1, 1.0);
        for (int k = 0; k < N_MATRICES; k++)
            m.w[l][k] = random_floats(&rng, matrix_rows[k] * matrix_cols[k],
                                      0.8 / sqrt((double)matrix_cols[k]), 0.0);
    }
    return m;
}

static void free_weights(toy_model *m) {
    free(m->embd);
    free(m->output);
    free(m->output_norm);
    for (int l = 0; l < N_LAYER; l++) {
        free(m->attn_norm[l]);
        free(m->ffn_norm[l]);
        for (int k = 0; k < N_MATRICES; k++)
            free(m->w[l][k]);
    }
}

static void add_tensor(lq_gguf_writer *w, const void **data, int *count, const char *name,
                       int64_t ncols, int64_t nrows, const float *values) {
    int64_t ne[2] = {ncols, nrows};
    ck_assert_int_ge(lq_gguf_writer_add_tensor(w, name, LQ_TYPE_F32, nrows > 1 ? 2 : 1, ne), 0);
    data[(*count)++] = values;
}

/* tied: no output.weight, the token embedding projects the output. */
static void write_model(const toy_model *m, const char *path, bool tied) {
    lq_gguf_writer *w = lq_gguf_writer_new();
    lq_gguf_writer_set_str(w, "general.architecture", "llama");
    lq_gguf_writer_set_u32(w, "llama.block_count", N_LAYER);
    lq_gguf_writer_set_u32(w, "llama.context_length", 64);
    lq_gguf_writer_set_u32(w, "llama.embedding_length", N_EMBD);
    lq_gguf_writer_set_u32(w, "llama.feed_forward_length", N_FF);
    lq_gguf_writer_set_u32(w, "llama.attention.head_count", N_HEAD);
    lq_gguf_writer_set_u32(w, "llama.attention.head_count_kv", N_HEAD_KV);
    lq_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", (float)RMS_EPS);
    lq_gguf_writer_set_f32(w, "llama.rope.freq_base", (float)ROPE_BASE);
    const void *data[64];
    int count = 0;
    char name[64];
    add_tensor(w, data, &count, "token_embd.weight", N_EMBD, N_VOCAB, m->embd);
    add_tensor(w, data, &count, "output_norm.weight", N_EMBD, 1, m->output_norm);
    if (!tied)
        add_tensor(w, data, &count, "output.weight", N_EMBD, N_VOCAB, m->output);
    for (int l = 0; l < N_LAYER; l++) {
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        add_tensor(w, data, &count, name, N_EMBD, 1, m->attn_norm[l]);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        add_tensor(w, data, &count, name, N_EMBD, 1, m->ffn_norm[l]);
        for (int k = 0; k < N_MATRICES; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, matrix_names[k]);
            add_tensor(w, data, &count, name, matrix_cols[k], matrix_rows[k], m->w[l][k]);
        }
    }
    data[count] = NULL;
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_write_file(w, path, data, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(w);
}

/* ---- the independent computation ------------------------------------------ */

typedef struct reference {
    double sums[N_LAYER][N_MATRICES][N_FF]; /* sums of squared inputs */
    double logits[N_TOKENS][N_VOCAB];
} reference;

static void matvec(const float *w, int64_t rows, int64_t cols, const double *x, double *y) {
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t c = 0; c < cols; c++)
            s += (double)w[r * cols + c] * x[c];
        y[r] = s;
    }
}

static void rms_normed(const double *x, const float *weight, double *y) {
    double ss = 0;
    for (int i = 0; i < N_EMBD; i++)
        ss += x[i] * x[i];
    const double scale = 1.0 / sqrt(ss / N_EMBD + RMS_EPS);
    for (int i = 0; i < N_EMBD; i++)
        y[i] = x[i] * scale * weight[i];
}

static void record(reference *ref, int layer, int matrix, const double *x) {
    for (int64_t c = 0; c < matrix_cols[matrix]; c++)
        ref->sums[layer][matrix][c] += x[c] * x[c];
}

/* Adjacent pairs rotated by pos * base^(-2i/HEAD_DIM). */
static void rotate(double *v, int heads, int pos) {
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < HEAD_DIM / 2; i++) {
            const double theta = pos * pow(ROPE_BASE, -2.0 * i / HEAD_DIM);
            double *p = v + h * HEAD_DIM + 2 * i;
            const double a = p[0], b = p[1];
            p[0] = a * cos(theta) - b * sin(theta);
            p[1] = a * sin(theta) + b * cos(theta);
        }
}

static void attend(double q[][N_EMBD], double k[][KV_DIM], double v[][KV_DIM], int t,
                   double *out) {
    for (int h = 0; h < N_HEAD; h++) {
        const int kvh = h / (N_HEAD / N_HEAD_KV);
        double score[N_TOKENS], max = -INFINITY, total = 0;
        for (int j = 0; j <= t; j++) {
            double s = 0;
            for (int d = 0; d < HEAD_DIM; d++)
                s += q[t][h * HEAD_DIM + d] * k[j][kvh * HEAD_DIM + d];
            score[j] = s / sqrt((double)HEAD_DIM);
            max = score[j] > max ? score[j] : max;
        }
        for (int j = 0; j <= t; j++)
            total += score[j] = exp(score[j] - max);
        for (int d = 0; d < HEAD_DIM; d++) {
            double s = 0;
            for (int j = 0; j <= t; j++)
                s += score[j] / total * v[j][kvh * HEAD_DIM + d];
            out[h * HEAD_DIM + d] = s;
        }
    }
}

static void reference_layer(const toy_model *m, int l, double x[][N_EMBD], reference *ref) {
    static double q[N_TOKENS][N_EMBD], k[N_TOKENS][KV_DIM], v[N_TOKENS][KV_DIM];
    double xn[N_EMBD], a[N_EMBD], o[N_EMBD], g[N_FF], u[N_FF];
    for (int t = 0; t < N_TOKENS; t++) {
        rms_normed(x[t], m->attn_norm[l], xn);
        for (int mat = WQ; mat <= WV; mat++)
            record(ref, l, mat, xn);
        matvec(m->w[l][WQ], N_EMBD, N_EMBD, xn, q[t]);
        matvec(m->w[l][WK], KV_DIM, N_EMBD, xn, k[t]);
        matvec(m->w[l][WV], KV_DIM, N_EMBD, xn, v[t]);
        rotate(q[t], N_HEAD, t);
        rotate(k[t], N_HEAD_KV, t);
    }
    for (int t = 0; t < N_TOKENS; t++) {
        attend(q, k, v, t, a);
        record(ref, l, WO, a);
        matvec(m->w[l][WO], N_EMBD, N_EMBD, a, o);
        for (int i = 0; i < N_EMBD; i++)
            x[t][i] += o[i];
    }
    for (int t = 0; t < N_TOKENS; t++) {
        rms_normed(x[t], m->ffn_norm[l], xn);
        record(ref, l, WGATE, xn);
        record(ref, l, WUP, xn);
        matvec(m->w[l][WGATE], N_FF, N_EMBD, xn, g);
        matvec(m->w[l][WUP], N_FF, N_EMBD, xn, u);
        for (int i = 0; i < N_FF; i++)
            g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        record(ref, l, WDOWN, g);
        matvec(m->w[l][WDOWN], N_EMBD, N_FF, g, o);
        for (int i = 0; i < N_EMBD; i++)
            x[t][i] += o[i];
    }
}

static void reference_forward(const toy_model *m, const int32_t *tokens, bool tied,
                              reference *ref) {
    static double x[N_TOKENS][N_EMBD];
    memset(ref, 0, sizeof *ref);
    for (int t = 0; t < N_TOKENS; t++)
        for (int i = 0; i < N_EMBD; i++)
            x[t][i] = m->embd[tokens[t] * N_EMBD + i];
    for (int l = 0; l < N_LAYER; l++)
        reference_layer(m, l, x, ref);
    double xn[N_EMBD];
    for (int t = 0; t < N_TOKENS; t++) {
        rms_normed(x[t], m->output_norm, xn);
        matvec(tied ? m->embd : m->output, N_VOCAB, N_EMBD, xn, ref->logits[t]);
    }
}

/* ---- tests ----------------------------------------------------------------- */

static void observe(void *user, const eval_matrix *w, const float *x, int64_t n,
                    const int64_t *expert_rows) {
    ck_assert_ptr_null(expert_rows);
    ck_assert_int_eq(imatrix_collect(user, w->name, w->ncols, x, n), LQ_OK);
}

static void check_close(double got, double want, double tolerance, const char *what) {
    ck_assert_msg(fabs(got - want) <= tolerance * (1.0 + fabs(want)), "%s: %.9g, expected %.9g",
                  what, got, want);
}

START_TEST(test_forward_and_statistics) {
    char *dir = tu_make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/toy.gguf", dir);
    toy_model weights = make_weights();
    write_model(&weights, path, false);
    int32_t tokens[N_TOKENS];
    for (int t = 0; t < N_TOKENS; t++)
        tokens[t] = (t * 7 + 3) % N_VOCAB;
    static reference ref;
    reference_forward(&weights, tokens, false, &ref);

    eval_model *model;
    lq_gguf_error err;
    ck_assert_msg(eval_model_open(path, &model, &err) == LQ_OK, "%s", err.message);
    eval_context *ctx = eval_context_new(model, N_TOKENS, 2);
    imatrix_collector *col = imatrix_collector_new();
    eval_context_set_observer(ctx, observe, col);
    static float logits[N_TOKENS * N_VOCAB];
    /* attention one query at a time (every CPU), then the AVX-512 block
     * kernel where the CPU has it (HEAD_DIM is a multiple of 16) */
    eval_context_use_portable_attention(ctx, true);
    ck_assert_int_eq(eval_forward(ctx, tokens, N_TOKENS, 0, logits), LQ_OK);
    for (int t = 0; t < N_TOKENS; t++)
        for (int i = 0; i < N_VOCAB; i++)
            check_close(logits[t * N_VOCAB + i], ref.logits[t][i], 1e-4, "logit (portable)");
    eval_context_use_portable_attention(ctx, false);
    eval_context_set_observer(ctx, NULL, NULL);
    ck_assert_int_eq(eval_forward(ctx, tokens, N_TOKENS, 0, logits), LQ_OK);
    eval_context_set_observer(ctx, observe, col);
    for (int t = 0; t < N_TOKENS; t++)
        for (int i = 0; i < N_VOCAB; i++)
            check_close(logits[t * N_VOCAB + i], ref.logits[t][i], 1e-4, "logit");

    lq_imatrix *raw = lq_imatrix_new();
    ck_assert_int_eq(imatrix_collector_export(col, LQ_IMATRIX_GGUF, raw, NULL, NULL), LQ_OK);
    ck_assert_int_eq(raw->count, N_LAYER * N_MATRICES);
    for (int l = 0; l < N_LAYER; l++)
        for (int k = 0; k < N_MATRICES; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, matrix_names[k]);
            const lq_imatrix_entry *e = lq_imatrix_find(raw, name);
            ck_assert_msg(e != NULL, "no entry %s", name);
            ck_assert_int_eq(e->ncols, matrix_cols[k]);
            ck_assert_float_eq(e->counts[0], N_TOKENS);
            for (int64_t c = 0; c < e->ncols; c++)
                check_close(e->sums[c], ref.sums[l][k][c], 1e-4, name);
        }
    ck_assert_ptr_null(lq_imatrix_find(raw, "output.weight"));

    /* logits of the last rows only: the same values */
    static float tail[4 * N_VOCAB];
    eval_context_set_observer(ctx, NULL, NULL);
    ck_assert_int_eq(eval_forward(ctx, tokens, N_TOKENS, N_TOKENS - 4, tail), LQ_OK);
    for (int i = 0; i < 4 * N_VOCAB; i++)
        check_close(tail[i], logits[(N_TOKENS - 4) * N_VOCAB + i], 1e-5, "tail logit");
    int32_t bad = N_VOCAB;
    ck_assert_int_eq(eval_forward(ctx, &bad, 1, 0, tail), LQ_ERR_INVALID_ARGUMENT);

    lq_imatrix_free(raw);
    imatrix_collector_free(col);
    eval_context_free(ctx);
    eval_model_close(model);
    free_weights(&weights);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_tied_output) {
    char *dir = tu_make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/tied.gguf", dir);
    toy_model weights = make_weights();
    write_model(&weights, path, true);
    int32_t tokens[N_TOKENS];
    for (int t = 0; t < N_TOKENS; t++)
        tokens[t] = (t * 5 + 1) % N_VOCAB;
    static reference ref;
    reference_forward(&weights, tokens, true, &ref);
    eval_model *model;
    lq_gguf_error err;
    ck_assert_msg(eval_model_open(path, &model, &err) == LQ_OK, "%s", err.message);
    eval_context *ctx = eval_context_new(model, N_TOKENS, 1);
    static float logits[N_TOKENS * N_VOCAB];
    /* attention one query at a time (every CPU), then the AVX-512 block
     * kernel where the CPU has it (HEAD_DIM is a multiple of 16) */
    eval_context_use_portable_attention(ctx, true);
    ck_assert_int_eq(eval_forward(ctx, tokens, N_TOKENS, 0, logits), LQ_OK);
    for (int t = 0; t < N_TOKENS; t++)
        for (int i = 0; i < N_VOCAB; i++)
            check_close(logits[t * N_VOCAB + i], ref.logits[t][i], 1e-4, "logit (portable)");
    eval_context_use_portable_attention(ctx, false);
    ck_assert_int_eq(eval_forward(ctx, tokens, N_TOKENS, 0, logits), LQ_OK);
    for (int t = 0; t < N_TOKENS; t++)
        for (int i = 0; i < N_VOCAB; i++)
            check_close(logits[t * N_VOCAB + i], ref.logits[t][i], 1e-4, "logit");
    eval_context_free(ctx);
    eval_model_close(model);
    free_weights(&weights);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_unsupported_models) {
    lq_gguf_error err;
    eval_model *model;
    char *dir = tu_make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/gpt2.gguf", dir);
    lq_gguf_writer *w = lq_gguf_writer_new();
    lq_gguf_writer_set_str(w, "general.architecture", "gpt2");
    const void *none[1] = {NULL};
    ck_assert_int_eq(lq_gguf_write_file(w, path, none, &err), LQ_OK);
    lq_gguf_writer_free(w);
    ck_assert_int_eq(eval_model_open(path, &model, &err), LQ_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "gpt2"));
    ck_assert_ptr_nonnull(strstr(err.message, path));
    w = lq_gguf_writer_new();
    lq_gguf_writer_set_str(w, "general.architecture", "llama");
    lq_gguf_writer_set_u32(w, "llama.block_count", 2);
    ck_assert_int_eq(lq_gguf_write_file(w, path, none, &err), LQ_OK);
    lq_gguf_writer_free(w);
    ck_assert_int_eq(eval_model_open(path, &model, &err), LQ_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "llama.embedding_length"));
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_collector_exact) {
    imatrix_collector *c = imatrix_collector_new();
    const float a[2 * 4] = {1, 2, 3, 4, -1, 0, 2, 0.5f};
    const float b[1 * 4] = {2, 2, 2, 2};
    ck_assert_int_eq(imatrix_collect(c, "blk.0.attn_q.weight", 4, a, 2), LQ_OK);
    ck_assert_int_eq(imatrix_collect(c, "blk.0.ffn_down.weight", 2, a, 4), LQ_OK);
    ck_assert_int_eq(imatrix_collect(c, "blk.0.attn_q.weight", 4, b, 1), LQ_OK);
    ck_assert_int_eq(imatrix_collect(c, "blk.0.attn_q.weight", 2, b, 1), LQ_ERR_BAD_SHAPE);
    const float nan[4] = {0, NAN, 0, 0};
    ck_assert_int_eq(imatrix_collect(c, "blk.0.attn_q.weight", 4, nan, 1), LQ_ERR_NONFINITE);
    ck_assert_int_eq(imatrix_collector_count(c), 2);
    ck_assert_int_eq(imatrix_collector_calls(c), 2);

    lq_imatrix *raw = lq_imatrix_new(), *legacy = lq_imatrix_new();
    ck_assert_int_eq(imatrix_collector_export(c, LQ_IMATRIX_GGUF, raw, NULL, NULL), LQ_OK);
    ck_assert_int_eq(imatrix_collector_export(c, LQ_IMATRIX_LEGACY, legacy, NULL, NULL), LQ_OK);
    const float q_sums[4] = {1 + 1 + 4, 4 + 0 + 4, 9 + 4 + 4, 16 + 0.25f + 4};
    const lq_imatrix_entry *e = lq_imatrix_find(raw, "blk.0.attn_q.weight");
    ck_assert_str_eq(raw->entries[0].name, "blk.0.attn_q.weight"); /* first seen first */
    ck_assert_float_eq(e->counts[0], 3);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(e->sums[i], q_sums[i]);
    e = lq_imatrix_find(legacy, "blk.0.attn_q.weight");
    ck_assert_float_eq(e->counts[0], 2); /* calls */
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(e->sums[i], (float)(q_sums[i] / 3.0) * 2.0f);
    /* ffn_down saw the same 8 values as 4 rows of 2: one call */
    e = lq_imatrix_find(raw, "blk.0.ffn_down.weight");
    ck_assert_float_eq(e->counts[0], 4);
    ck_assert_float_eq(e->sums[0], 1 + 9 + 1 + 4);
    ck_assert_float_eq(e->sums[1], 4 + 16 + 0 + 0.25f);
    lq_imatrix_free(raw);
    lq_imatrix_free(legacy);
    imatrix_collector_free(c);
}
END_TEST

static void count_report(void *user, const char *name, int64_t without, int64_t nmat,
                         bool skipped) {
    int *calls = user;
    ck_assert_str_eq(name, "blk.0.ffn_up_exps.weight");
    ck_assert_int_eq(without, 1);
    ck_assert_int_eq(nmat, 3);
    calls[skipped ? 1 : 0]++;
}

/* Experts: sums and tokens per expert, one call per product; an expert
 * without tokens leaves the entry out of the legacy units (reported) and
 * has count 0 in the GGUF units. */
START_TEST(test_collector_experts) {
    imatrix_collector *c = imatrix_collector_new();
    const float x[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int64_t rows[4] = {0, 3, 3, 4}; /* expert 1 gets nothing */
    ck_assert_int_eq(imatrix_collect_experts(c, "blk.0.ffn_up_exps.weight", 2, 3, x, rows), LQ_OK);
    ck_assert_int_eq(imatrix_collect_experts(c, "blk.0.ffn_up_exps.weight", 2, 3, x, rows), LQ_OK);
    const int64_t four[5] = {0, 1, 2, 3, 4};
    ck_assert_int_eq(imatrix_collect_experts(c, "blk.0.ffn_up_exps.weight", 2, 4, x, four),
                     LQ_ERR_BAD_SHAPE);
    const int64_t bad[4] = {0, 3, 2, 4};
    ck_assert_int_eq(imatrix_collect_experts(c, "blk.0.x", 2, 3, x, bad), LQ_ERR_INVALID_ARGUMENT);
    lq_imatrix *raw = lq_imatrix_new(), *legacy = lq_imatrix_new();
    int reports[2] = {0, 0};
    ck_assert_int_eq(imatrix_collector_export(c, LQ_IMATRIX_GGUF, raw, count_report, reports),
                     LQ_OK);
    ck_assert_int_eq(imatrix_collector_export(c, LQ_IMATRIX_LEGACY, legacy, count_report, reports),
                     LQ_OK);
    ck_assert_int_eq(reports[0], 1);
    ck_assert_int_eq(reports[1], 1);
    ck_assert_int_eq(legacy->count, 0);
    const lq_imatrix_entry *e = lq_imatrix_find(raw, "blk.0.ffn_up_exps.weight");
    ck_assert_int_eq(e->nmat, 3);
    ck_assert_float_eq(e->counts[0], 6);
    ck_assert_float_eq(e->counts[1], 0);
    ck_assert_float_eq(e->counts[2], 2);
    ck_assert_float_eq(e->sums[0], 2 * (1 + 9 + 25));
    ck_assert_float_eq(e->sums[1], 2 * (4 + 16 + 36));
    ck_assert_float_eq(e->sums[4], 2 * 49);
    ck_assert_float_eq(e->sums[5], 2 * 64);
    lq_imatrix_free(raw);
    lq_imatrix_free(legacy);
    imatrix_collector_free(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("eval_forward");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, test_forward_and_statistics);
    tcase_add_test(tc, test_tied_output);
    tcase_add_test(tc, test_unsupported_models);
    tcase_add_test(tc, test_collector_exact);
    tcase_add_test(tc, test_collector_experts);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
