/*
 * Loading a llama model for the evaluator: see eval_model.h.
 */
#include "eval_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"
#include "quant.h"

#define ARCH "llama"

static int get_count(const lq_gguf *g, const char *key, int64_t fallback, int64_t *out,
                     lq_gguf_error *err) {
    int st = lq_gguf_get_i64(g, key, out);
    if (st == LQ_ERR_NOT_FOUND && fallback >= 0) {
        *out = fallback;
        return LQ_OK;
    }
    if (st == LQ_ERR_NOT_FOUND)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: missing metadata key %s", lq_gguf_path(g),
                            key);
    if (st != LQ_OK || *out <= 0 || *out > (int64_t)1 << 30)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: metadata key %s is not a valid count",
                            lq_gguf_path(g), key);
    return LQ_OK;
}

static int get_real(const lq_gguf *g, const char *key, double fallback, float *out,
                    lq_gguf_error *err) {
    double v;
    int st = lq_gguf_get_f64(g, key, &v);
    if (st == LQ_ERR_NOT_FOUND && fallback >= 0) {
        *out = (float)fallback;
        return LQ_OK;
    }
    if (st == LQ_ERR_NOT_FOUND)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: missing metadata key %s", lq_gguf_path(g),
                            key);
    if (st != LQ_OK || !(v > 0) || v > 1e30)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: metadata key %s is not a positive number",
                            lq_gguf_path(g), key);
    *out = (float)v;
    return LQ_OK;
}

/* 1 / factor of a linear rope scaling, 1 when there is none. */
static int rope_scale(const lq_gguf *g, float *out, lq_gguf_error *err) {
    const char *type = NULL;
    float factor = 1.0f;
    int st = LQ_OK;
    if (lq_gguf_get_str(g, ARCH ".rope.scaling.type", &type) == LQ_OK) {
        if (strcmp(type, "none") != 0 && strcmp(type, "linear") != 0)
            return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                                "%s: rope scaling '%s' is not supported (only linear)",
                                lq_gguf_path(g), type);
        if (strcmp(type, "linear") == 0)
            st = get_real(g, ARCH ".rope.scaling.factor", 1.0, &factor, err);
    } else {
        st = get_real(g, ARCH ".rope.scale_linear", 1.0, &factor, err);
    }
    *out = 1.0f / factor;
    return st;
}

static int read_hparams(const lq_gguf *g, eval_hparams *hp, lq_gguf_error *err) {
    int st = get_count(g, ARCH ".block_count", -1, &hp->n_layer, err);
    if (st == LQ_OK)
        st = get_count(g, ARCH ".embedding_length", -1, &hp->n_embd, err);
    if (st == LQ_OK)
        st = get_count(g, ARCH ".feed_forward_length", -1, &hp->n_ff, err);
    if (st == LQ_OK)
        st = get_count(g, ARCH ".attention.head_count", -1, &hp->n_head, err);
    if (st == LQ_OK)
        st = get_count(g, ARCH ".attention.head_count_kv", hp->n_head, &hp->n_head_kv, err);
    if (st == LQ_OK)
        st = get_count(g, ARCH ".attention.key_length", hp->n_embd / hp->n_head, &hp->head_dim,
                       err);
    if (st == LQ_OK)
        st = get_count(g, ARCH ".rope.dimension_count", hp->head_dim, &hp->n_rot, err);
    if (st == LQ_OK)
        st = get_count(g, ARCH ".context_length", 2048, &hp->n_ctx_train, err);
    if (st == LQ_OK)
        st = get_real(g, ARCH ".attention.layer_norm_rms_epsilon", -1, &hp->rms_eps, err);
    if (st == LQ_OK)
        st = get_real(g, ARCH ".rope.freq_base", 10000.0, &hp->rope_freq_base, err);
    if (st == LQ_OK)
        st = rope_scale(g, &hp->rope_freq_scale, err);
    if (st != LQ_OK)
        return st;
    int64_t value_length;
    st = get_count(g, ARCH ".attention.value_length", hp->head_dim, &value_length, err);
    if (st == LQ_OK && (hp->n_head % hp->n_head_kv != 0 || value_length != hp->head_dim ||
                        hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0))
        st = lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                          "%s: unsupported attention shape (%lld heads, %lld kv heads, key "
                          "length %lld, value length %lld, rope dimensions %lld)",
                          lq_gguf_path(g), (long long)hp->n_head, (long long)hp->n_head_kv,
                          (long long)hp->head_dim, (long long)value_length, (long long)hp->n_rot);
    return st;
}

/* A 2-D weight matrix of the expected shape (nrows < 0: any number of rows). */
static int find_matrix(const lq_gguf *g, const char *name, int64_t ncols, int64_t nrows,
                       bool required, eval_matrix *out, lq_gguf_error *err) {
    memset(out, 0, sizeof *out);
    const lq_gguf_tensor *t = lq_gguf_find_tensor(g, name);
    if (!t)
        return required ? lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: missing tensor %s",
                                       lq_gguf_path(g), name)
                        : LQ_OK;
    if (t->n_dims > 2 || t->ne[0] != ncols || (nrows >= 0 && t->ne[1] != nrows))
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: tensor %s has shape [%lld x %lld], expected [%lld x %lld]",
                            lq_gguf_path(g), name, (long long)t->ne[0], (long long)t->ne[1],
                            (long long)ncols, (long long)nrows);
    if (!(lq_type_caps(t->type) & LQ_CAP_DECODE))
        return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                            "%s: tensor %s has type %s, which this build cannot decode",
                            lq_gguf_path(g), name,
                            lq_type_name(t->type) ? lq_type_name(t->type) : "?");
    *out = (eval_matrix){t->name, t->type, t->ne[1], t->ne[0], t->data, (size_t)t->size};
    return LQ_OK;
}

/* A vector of n values (any decodable type), decoded to a malloc'd array. */
static int load_vector(const lq_gguf *g, const char *name, int64_t n, bool required,
                       float **out, lq_gguf_error *err) {
    *out = NULL;
    eval_matrix m;
    int st = find_matrix(g, name, n, 1, required, &m, err);
    if (st != LQ_OK || !m.data)
        return st;
    *out = malloc(sizeof(float) * (size_t)n);
    if (!*out)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(g));
    st = lq_dequantize_rows(m.type, m.data, m.size, 1, n, *out, sizeof(float) * (size_t)n);
    if (st != LQ_OK)
        return lq_gguf_fail(err, st, "%s: tensor %s: %s", lq_gguf_path(g), name,
                            lq_error_message(st));
    return LQ_OK;
}

static int load_layer(const lq_gguf *g, const eval_hparams *hp, int64_t il, eval_layer *l,
                      lq_gguf_error *err) {
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    char name[96];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "blk.%lld." suffix, (long long)il), name)
    int st = load_vector(g, LAYER_NAME("attn_norm.weight"), hp->n_embd, true, &l->attn_norm, err);
    if (st == LQ_OK)
        st = find_matrix(g, LAYER_NAME("attn_q.weight"), hp->n_embd, q_dim, true, &l->wq, err);
    if (st == LQ_OK)
        st = find_matrix(g, LAYER_NAME("attn_k.weight"), hp->n_embd, kv_dim, true, &l->wk, err);
    if (st == LQ_OK)
        st = find_matrix(g, LAYER_NAME("attn_v.weight"), hp->n_embd, kv_dim, true, &l->wv, err);
    if (st == LQ_OK)
        st = find_matrix(g, LAYER_NAME("attn_output.weight"), q_dim, hp->n_embd, true, &l->wo,
                         err);
    if (st == LQ_OK)
        st = load_vector(g, LAYER_NAME("attn_q.bias"), q_dim, false, &l->bq, err);
    if (st == LQ_OK)
        st = load_vector(g, LAYER_NAME("attn_k.bias"), kv_dim, false, &l->bk, err);
    if (st == LQ_OK)
        st = load_vector(g, LAYER_NAME("attn_v.bias"), kv_dim, false, &l->bv, err);
    if (st == LQ_OK)
        st = load_vector(g, LAYER_NAME("attn_output.bias"), hp->n_embd, false, &l->bo, err);
    if (st == LQ_OK)
        st = load_vector(g, LAYER_NAME("ffn_norm.weight"), hp->n_embd, true, &l->ffn_norm, err);
    if (st == LQ_OK)
        st = find_matrix(g, LAYER_NAME("ffn_gate.weight"), hp->n_embd, hp->n_ff, true,
                         &l->ffn_gate, err);
    if (st == LQ_OK)
        st = find_matrix(g, LAYER_NAME("ffn_up.weight"), hp->n_embd, hp->n_ff, true, &l->ffn_up,
                         err);
    if (st == LQ_OK)
        st = find_matrix(g, LAYER_NAME("ffn_down.weight"), hp->n_ff, hp->n_embd, true,
                         &l->ffn_down, err);
#undef LAYER_NAME
    return st;
}

static int load_tensors(eval_model *m, lq_gguf_error *err) {
    const lq_gguf *g = m->gguf;
    eval_hparams *hp = &m->hp;
    int st = find_matrix(g, "token_embd.weight", hp->n_embd, -1, true, &m->tok_embd, err);
    if (st != LQ_OK)
        return st;
    hp->n_vocab = m->tok_embd.nrows;
    st = find_matrix(g, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output, err);
    if (st == LQ_OK && !m->output.data)
        m->output = m->tok_embd; /* tied embedding */
    if (st == LQ_OK)
        st = load_vector(g, "output_norm.weight", hp->n_embd, true, &m->output_norm, err);
    if (st != LQ_OK)
        return st;
    m->layers = calloc((size_t)hp->n_layer, sizeof(eval_layer));
    if (!m->layers)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(g));
    for (int64_t il = 0; il < hp->n_layer && st == LQ_OK; il++)
        st = load_layer(g, hp, il, &m->layers[il], err);
    return st;
}

int eval_model_from_gguf(lq_gguf *g, eval_model **out, lq_gguf_error *err) {
    *out = NULL;
    const char *arch = NULL;
    if (lq_gguf_get_str(g, "general.architecture", &arch) != LQ_OK) {
        int st = lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: missing metadata key general.architecture",
                              lq_gguf_path(g));
        lq_gguf_close(g);
        return st;
    }
    if (strcmp(arch, ARCH) != 0) {
        int st = lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                              "%s: architecture '%s' is not supported (only llama)",
                              lq_gguf_path(g), arch);
        lq_gguf_close(g);
        return st;
    }
    eval_model *m = calloc(1, sizeof *m);
    if (!m) {
        lq_gguf_close(g);
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "out of memory");
    }
    m->gguf = g;
    int st = read_hparams(g, &m->hp, err);
    if (st == LQ_OK)
        st = load_tensors(m, err);
    if (st != LQ_OK) {
        eval_model_close(m);
        return st;
    }
    *out = m;
    return LQ_OK;
}

int eval_model_open(const char *path, eval_model **out, lq_gguf_error *err) {
    lq_gguf *g;
    *out = NULL;
    int st = lq_gguf_open_model(path, &g, err);
    if (st != LQ_OK)
        return st;
    return eval_model_from_gguf(g, out, err);
}

static void free_layer(eval_layer *l) {
    free(l->attn_norm);
    free(l->ffn_norm);
    free(l->bq);
    free(l->bk);
    free(l->bv);
    free(l->bo);
}

void eval_model_close(eval_model *m) {
    if (!m)
        return;
    for (int64_t il = 0; m->layers && il < m->hp.n_layer; il++)
        free_layer(&m->layers[il]);
    free(m->layers);
    free(m->output_norm);
    lq_gguf_close(m->gguf);
    free(m);
}
