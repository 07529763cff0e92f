/*
 * Loading a model for the evaluator: see eval_model.h. The hyper-parameters
 * every architecture has are read here, under the "<arch>." prefix; the
 * architecture's hooks (eval_arch.h) find the tensors of its layers with
 * the helpers below.
 */
#include "eval_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_arch.h"
#include "quant.h"

static const char *arch_key(const eval_loader *ld, const char *key, char *buf, size_t size) {
    snprintf(buf, size, "%s.%s", ld->arch->name, key);
    return buf;
}

int eval_load_count(const eval_loader *ld, const char *key, int64_t fallback, int64_t *out) {
    char name[128];
    arch_key(ld, key, name, sizeof name);
    int st = lq_gguf_get_i64(ld->g, name, out);
    if (st == LQ_ERR_NOT_FOUND && fallback >= 0) {
        *out = fallback;
        return LQ_OK;
    }
    if (st == LQ_ERR_NOT_FOUND)
        return lq_gguf_fail(ld->err, LQ_ERR_FORMAT, "%s: missing metadata key %s",
                            lq_gguf_path(ld->g), name);
    if (st != LQ_OK || *out <= 0 || *out > (int64_t)1 << 30)
        return lq_gguf_fail(ld->err, LQ_ERR_FORMAT, "%s: metadata key %s is not a valid count",
                            lq_gguf_path(ld->g), name);
    return LQ_OK;
}

int eval_load_real(const eval_loader *ld, const char *key, double fallback, float *out) {
    char name[128];
    arch_key(ld, key, name, sizeof name);
    double v;
    int st = lq_gguf_get_f64(ld->g, name, &v);
    if (st == LQ_ERR_NOT_FOUND && fallback >= 0) {
        *out = (float)fallback;
        return LQ_OK;
    }
    if (st == LQ_ERR_NOT_FOUND)
        return lq_gguf_fail(ld->err, LQ_ERR_FORMAT, "%s: missing metadata key %s",
                            lq_gguf_path(ld->g), name);
    if (st != LQ_OK || !(v > 0) || v > 1e30)
        return lq_gguf_fail(ld->err, LQ_ERR_FORMAT, "%s: metadata key %s is not a positive number",
                            lq_gguf_path(ld->g), name);
    *out = (float)v;
    return LQ_OK;
}

/* 1 / factor of a linear rope scaling, 1 when there is none. */
static int rope_scale(const eval_loader *ld, float *out) {
    char name[128];
    const char *type = NULL;
    float factor = 1.0f;
    int st = LQ_OK;
    if (lq_gguf_get_str(ld->g, arch_key(ld, "rope.scaling.type", name, sizeof name), &type) ==
        LQ_OK) {
        if (strcmp(type, "none") != 0 && strcmp(type, "linear") != 0)
            return lq_gguf_fail(ld->err, LQ_ERR_UNSUPPORTED,
                                "%s: rope scaling '%s' is not supported (only linear)",
                                lq_gguf_path(ld->g), type);
        if (strcmp(type, "linear") == 0)
            st = eval_load_real(ld, "rope.scaling.factor", 1.0, &factor);
    } else {
        st = eval_load_real(ld, "rope.scale_linear", 1.0, &factor);
    }
    *out = 1.0f / factor;
    return st;
}

static int check_attention_shape(const eval_loader *ld, int64_t value_length) {
    const eval_hparams *hp = ld->hp;
    if (hp->n_head % hp->n_head_kv == 0 && value_length == hp->head_dim &&
        hp->n_rot <= hp->head_dim && hp->n_rot % 2 == 0)
        return LQ_OK;
    return lq_gguf_fail(ld->err, LQ_ERR_UNSUPPORTED,
                        "%s: unsupported attention shape (%lld heads, %lld kv heads, key "
                        "length %lld, value length %lld, rope dimensions %lld)",
                        lq_gguf_path(ld->g), (long long)hp->n_head, (long long)hp->n_head_kv,
                        (long long)hp->head_dim, (long long)value_length, (long long)hp->n_rot);
}

static int read_hparams(const eval_loader *ld) {
    eval_hparams *hp = ld->hp;
    int st = eval_load_count(ld, "block_count", -1, &hp->n_layer);
    if (st == LQ_OK)
        st = eval_load_count(ld, "embedding_length", -1, &hp->n_embd);
    if (st == LQ_OK)
        st = eval_load_count(ld, "feed_forward_length", -1, &hp->n_ff);
    if (st == LQ_OK)
        st = eval_load_count(ld, "attention.head_count", -1, &hp->n_head);
    if (st == LQ_OK)
        st = eval_load_count(ld, "attention.head_count_kv", hp->n_head, &hp->n_head_kv);
    if (st == LQ_OK)
        st = eval_load_count(ld, "attention.key_length", hp->n_embd / hp->n_head, &hp->head_dim);
    if (st == LQ_OK)
        st = eval_load_count(ld, "rope.dimension_count", hp->head_dim, &hp->n_rot);
    if (st == LQ_OK)
        st = eval_load_count(ld, "context_length", 2048, &hp->n_ctx_train);
    if (st == LQ_OK)
        st = eval_load_real(ld, "attention.layer_norm_rms_epsilon", -1, &hp->rms_eps);
    if (st == LQ_OK)
        st = eval_load_real(ld, "rope.freq_base", 10000.0, &hp->rope_freq_base);
    if (st == LQ_OK)
        st = rope_scale(ld, &hp->rope_freq_scale);
    int64_t value_length = 0;
    if (st == LQ_OK)
        st = eval_load_count(ld, "attention.value_length", hp->head_dim, &value_length);
    if (st == LQ_OK)
        st = check_attention_shape(ld, value_length);
    if (st == LQ_OK && ld->arch->read_hparams)
        st = ld->arch->read_hparams(ld);
    return st;
}

/* ---- tensors ------------------------------------------------------------- */

static int check_decodable(const eval_loader *ld, const lq_gguf_tensor *t) {
    if (lq_type_caps(t->type) & LQ_CAP_DECODE)
        return LQ_OK;
    return lq_gguf_fail(ld->err, LQ_ERR_UNSUPPORTED,
                        "%s: tensor %s has type %s, which this build cannot decode",
                        lq_gguf_path(ld->g), t->name,
                        lq_type_name(t->type) ? lq_type_name(t->type) : "?");
}

/* A tensor of [ncols x nrows x n_expert] (nrows < 0: any; n_expert 0: a
 * 2-D matrix). */
static int find_tensor(const eval_loader *ld, const char *name, int64_t ncols, int64_t nrows,
                       int64_t n_expert, bool required, eval_matrix *out) {
    memset(out, 0, sizeof *out);
    const lq_gguf_tensor *t = lq_gguf_find_tensor(ld->g, name);
    if (!t)
        return required ? lq_gguf_fail(ld->err, LQ_ERR_FORMAT, "%s: missing tensor %s",
                                       lq_gguf_path(ld->g), name)
                        : LQ_OK;
    const int dims = n_expert > 0 ? 3 : 2;
    const int64_t experts = n_expert > 0 ? n_expert : 1;
    if (t->n_dims > dims || t->ne[0] != ncols || (nrows >= 0 && t->ne[1] != nrows) ||
        (n_expert > 0 && t->ne[2] != n_expert))
        return lq_gguf_fail(ld->err, LQ_ERR_FORMAT,
                            "%s: tensor %s has shape [%lld x %lld x %lld], expected "
                            "[%lld x %lld x %lld]",
                            lq_gguf_path(ld->g), name, (long long)t->ne[0], (long long)t->ne[1],
                            (long long)t->ne[2], (long long)ncols, (long long)nrows,
                            (long long)experts);
    int st = check_decodable(ld, t);
    if (st != LQ_OK)
        return st;
    *out = (eval_matrix){t->name, t->type, t->ne[1], t->ne[0], experts, t->data,
                         (size_t)t->size / (size_t)experts};
    return LQ_OK;
}

static const char *layer_name(int64_t il, const char *suffix, char *buf, size_t size) {
    if (il < 0)
        snprintf(buf, size, "%s", suffix);
    else
        snprintf(buf, size, "blk.%lld.%s", (long long)il, suffix);
    return buf;
}

int eval_load_matrix(const eval_loader *ld, int64_t il, const char *suffix, int64_t ncols,
                     int64_t nrows, bool required, eval_matrix *out) {
    char name[128];
    return find_tensor(ld, layer_name(il, suffix, name, sizeof name), ncols, nrows, 0, required,
                       out);
}

int eval_load_experts(const eval_loader *ld, int64_t il, const char *suffix, int64_t ncols,
                      int64_t nrows, int64_t n_expert, eval_matrix *out) {
    char name[128];
    return find_tensor(ld, layer_name(il, suffix, name, sizeof name), ncols, nrows, n_expert,
                       true, out);
}

int eval_load_vector(const eval_loader *ld, int64_t il, const char *suffix, int64_t n,
                     bool required, float **out) {
    *out = NULL;
    eval_matrix m;
    int st = eval_load_matrix(ld, il, suffix, n, 1, required, &m);
    if (st != LQ_OK || !m.data)
        return st;
    *out = malloc(sizeof(float) * (size_t)n);
    if (!*out)
        return lq_gguf_fail(ld->err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(ld->g));
    st = lq_dequantize_rows(m.type, m.data, m.size, 1, n, *out, sizeof(float) * (size_t)n);
    if (st != LQ_OK)
        return lq_gguf_fail(ld->err, st, "%s: tensor %s: %s", lq_gguf_path(ld->g), m.name,
                            lq_error_message(st));
    return LQ_OK;
}

int eval_load_attention(const eval_loader *ld, int64_t il, bool qk_norm, eval_layer *l) {
    const eval_hparams *hp = ld->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    int st = eval_load_vector(ld, il, "attn_norm.weight", hp->n_embd, true, &l->attn_norm);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "attn_q.weight", hp->n_embd, q_dim, true, &l->wq);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "attn_k.weight", hp->n_embd, kv_dim, true, &l->wk);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "attn_v.weight", hp->n_embd, kv_dim, true, &l->wv);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "attn_output.weight", q_dim, hp->n_embd, true, &l->wo);
    if (st == LQ_OK)
        st = eval_load_vector(ld, il, "attn_q.bias", q_dim, false, &l->bq);
    if (st == LQ_OK)
        st = eval_load_vector(ld, il, "attn_k.bias", kv_dim, false, &l->bk);
    if (st == LQ_OK)
        st = eval_load_vector(ld, il, "attn_v.bias", kv_dim, false, &l->bv);
    if (st == LQ_OK)
        st = eval_load_vector(ld, il, "attn_output.bias", hp->n_embd, false, &l->bo);
    if (st == LQ_OK && qk_norm)
        st = eval_load_vector(ld, il, "attn_q_norm.weight", hp->head_dim, true, &l->q_norm);
    if (st == LQ_OK && qk_norm)
        st = eval_load_vector(ld, il, "attn_k_norm.weight", hp->head_dim, true, &l->k_norm);
    return st;
}

int eval_load_dense_ffn(const eval_loader *ld, int64_t il, eval_layer *l) {
    const eval_hparams *hp = ld->hp;
    int st = eval_load_vector(ld, il, "ffn_norm.weight", hp->n_embd, true, &l->ffn_norm);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "ffn_gate.weight", hp->n_embd, hp->n_ff, true,
                              &l->ffn_gate);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "ffn_up.weight", hp->n_embd, hp->n_ff, true, &l->ffn_up);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "ffn_down.weight", hp->n_ff, hp->n_embd, true,
                              &l->ffn_down);
    return st;
}

static int load_tensors(eval_model *m, const eval_loader *ld) {
    eval_hparams *hp = &m->hp;
    int st = eval_load_matrix(ld, -1, "token_embd.weight", hp->n_embd, -1, true, &m->tok_embd);
    if (st != LQ_OK)
        return st;
    hp->n_vocab = m->tok_embd.nrows;
    st = eval_load_matrix(ld, -1, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output);
    if (st == LQ_OK && !m->output.data)
        m->output = m->tok_embd; /* tied embedding */
    if (st == LQ_OK)
        st = eval_load_vector(ld, -1, "output_norm.weight", hp->n_embd, true, &m->output_norm);
    /* Llama 3's frequency divisors: used by every layer where present */
    if (st == LQ_OK)
        st = eval_load_vector(ld, -1, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs);
    if (st != LQ_OK)
        return st;
    m->layers = calloc((size_t)hp->n_layer, sizeof(eval_layer));
    if (!m->layers)
        return lq_gguf_fail(ld->err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(ld->g));
    for (int64_t il = 0; il < hp->n_layer && st == LQ_OK; il++)
        st = m->arch->load_layer(ld, il, &m->layers[il]);
    return st;
}

/* ---- the table ----------------------------------------------------------- */

static const eval_arch *find_arch(const char *name) {
    for (size_t i = 0; eval_archs[i]; i++)
        if (strcmp(eval_archs[i]->name, name) == 0)
            return eval_archs[i];
    return NULL;
}

void eval_supported_archs(char *buf, size_t size) {
    size_t n = 0;
    if (size > 0)
        buf[0] = '\0';
    for (size_t i = 0; eval_archs[i] && n < size; i++) {
        int k = snprintf(buf + n, size - n, "%s%s", i ? ", " : "", eval_archs[i]->name);
        n += k > 0 ? (size_t)k : 0;
    }
}

const char *eval_model_arch_name(const eval_model *m) { return m->arch->name; }

static int check_arch(lq_gguf *g, const eval_arch **out, lq_gguf_error *err) {
    const char *name = NULL;
    if (lq_gguf_get_str(g, "general.architecture", &name) != LQ_OK)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: missing metadata key general.architecture",
                            lq_gguf_path(g));
    *out = find_arch(name);
    if (*out)
        return LQ_OK;
    char supported[256];
    eval_supported_archs(supported, sizeof supported);
    return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                        "%s: architecture '%s' is not supported (supported: %s)", lq_gguf_path(g),
                        name, supported);
}

int eval_model_from_gguf(lq_gguf *g, eval_model **out, lq_gguf_error *err) {
    *out = NULL;
    const eval_arch *arch = NULL;
    int st = check_arch(g, &arch, err);
    if (st != LQ_OK) {
        lq_gguf_close(g);
        return st;
    }
    eval_model *m = calloc(1, sizeof *m);
    if (!m) {
        lq_gguf_close(g);
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "out of memory");
    }
    m->gguf = g;
    m->arch = arch;
    const eval_loader ld = {g, arch, &m->hp, err};
    st = read_hparams(&ld);
    if (st == LQ_OK)
        st = load_tensors(m, &ld);
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
    float *vectors[] = {l->attn_norm, l->ffn_norm, l->bq,     l->bk,
                        l->bv,        l->bo,       l->q_norm, l->k_norm};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        free(vectors[i]);
}

void eval_model_close(eval_model *m) {
    if (!m)
        return;
    for (int64_t il = 0; m->layers && il < m->hp.n_layer; il++)
        free_layer(&m->layers[il]);
    free(m->layers);
    free(m->output_norm);
    free(m->rope_freqs);
    lq_gguf_close(m->gguf);
    free(m);
}
