/*
 * The mixture-of-experts feed-forward (Qwen3-MoE), as the reference
 * computes it: the router's logits (ffn_gate_inp) through a softmax, the
 * n_expert_used most probable experts of each token, their probabilities
 * renormalized to sum 1 as the mixing weights, and each chosen expert's
 * SwiGLU feed-forward (its slice of ffn_gate/up/down_exps).
 *
 * The tokens routed to an expert are grouped, so each expert is one
 * lq_matmul over its own rows and tokens: the layer costs what its active
 * parameters cost. A token's expert outputs are summed in the order of its
 * choice (the most probable first), as the reference adds them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_forward_internal.h"
#include "quant.h"

struct eval_moe_scratch {
    float *logits;      /* [token][n_expert] router output, then probabilities */
    float *weights;     /* [token][n_used] mixing weights */
    int32_t *chosen;    /* [token][n_used] expert ids */
    int64_t *slot;      /* [token][n_used] row of the grouped buffers */
    int64_t *rows;      /* n_expert + 1 offsets of each expert's rows */
    int64_t *fill;      /* n_expert counters */
    float *input;       /* [slot][n_embd] grouped inputs */
    float *output;      /* [slot][n_embd] grouped expert outputs */
};

eval_moe_scratch *eval_moe_scratch_new(const eval_model *m, int64_t max_tokens) {
    const eval_hparams *hp = &m->hp;
    eval_moe_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    const size_t used = (size_t)(max_tokens * hp->n_expert_used);
    s->logits = malloc(sizeof(float) * (size_t)(max_tokens * hp->n_expert));
    s->weights = malloc(sizeof(float) * used);
    s->chosen = malloc(sizeof(int32_t) * used);
    s->slot = malloc(sizeof(int64_t) * used);
    s->rows = malloc(sizeof(int64_t) * (size_t)(hp->n_expert + 1));
    s->fill = malloc(sizeof(int64_t) * (size_t)hp->n_expert);
    s->input = malloc(sizeof(float) * used * (size_t)hp->n_embd);
    s->output = malloc(sizeof(float) * used * (size_t)hp->n_embd);
    if (!s->logits || !s->weights || !s->chosen || !s->slot || !s->rows || !s->fill ||
        !s->input || !s->output) {
        eval_moe_scratch_free(s);
        return NULL;
    }
    return s;
}

void eval_moe_scratch_free(eval_moe_scratch *s) {
    if (!s)
        return;
    free(s->logits);
    free(s->weights);
    free(s->chosen);
    free(s->slot);
    free(s->rows);
    free(s->fill);
    free(s->input);
    free(s->output);
    free(s);
}

/* In place: p = softmax(p) over n values. */
static void softmax(float *p, int64_t n) {
    float max = p[0];
    for (int64_t i = 1; i < n; i++)
        max = p[i] > max ? p[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        p[i] = expf(p[i] - max);
        sum += p[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        p[i] *= inv;
}

/* The k largest of p[0..n) in decreasing order (the lower id first on
 * ties), and their values renormalized to sum 1. */
static void top_k(const float *p, int64_t n, int64_t k, int32_t *ids, float *weights) {
    float sum = 0.0f;
    for (int64_t j = 0; j < k; j++) {
        int32_t best = -1;
        for (int64_t e = 0; e < n; e++) {
            bool taken = false;
            for (int64_t i = 0; i < j; i++)
                taken = taken || ids[i] == e;
            if (!taken && (best < 0 || p[e] > p[best]))
                best = (int32_t)e;
        }
        ids[j] = best;
        weights[j] = p[best];
        sum += p[best];
    }
    /* the reference's lower bound on the sum, against a division by 0 */
    const float floor_sum = 6.103515625e-5f;
    sum = sum > floor_sum ? sum : floor_sum;
    for (int64_t j = 0; j < k; j++)
        weights[j] /= sum;
}

static void route(eval_context *c, int64_t rows) {
    const eval_hparams *hp = &c->model->hp;
    eval_moe_scratch *s = c->moe;
    const int64_t k = hp->n_expert_used;
    memset(s->fill, 0, sizeof(int64_t) * (size_t)hp->n_expert);
    for (int64_t t = 0; t < rows; t++) {
        float *p = s->logits + t * hp->n_expert;
        softmax(p, hp->n_expert);
        top_k(p, hp->n_expert, k, s->chosen + t * k, s->weights + t * k);
        for (int64_t j = 0; j < k; j++)
            s->fill[s->chosen[t * k + j]]++;
    }
    s->rows[0] = 0;
    for (int64_t e = 0; e < hp->n_expert; e++) {
        s->rows[e + 1] = s->rows[e] + s->fill[e];
        s->fill[e] = s->rows[e];
    }
    /* token order within each expert: the grouped rows are deterministic */
    for (int64_t t = 0; t < rows; t++)
        for (int64_t j = 0; j < k; j++) {
            const int64_t slot = s->fill[s->chosen[t * k + j]]++;
            s->slot[t * k + j] = slot;
            memcpy(s->input + slot * hp->n_embd, c->normed + t * hp->n_embd,
                   sizeof(float) * (size_t)hp->n_embd);
        }
}

/* y[rows of expert e] = W_e x[rows of expert e] for every expert with rows;
 * the observer sees all experts' inputs at once. */
static int expert_matmul(eval_context *c, const eval_matrix *w, const float *x, float *y) {
    const eval_moe_scratch *s = c->moe;
    const int64_t n_expert = w->n_expert, total = s->rows[n_expert];
    if (c->observe)
        c->observe(c->observe_user, w, x, total, s->rows);
    for (int64_t e = 0; e < n_expert; e++) {
        const int64_t n = s->rows[e + 1] - s->rows[e];
        if (n == 0)
            continue;
        const char *weights = (const char *)w->data + (size_t)e * w->size;
        int st = lq_matmul(c->matmul, w->type, weights, w->size, w->nrows, w->ncols,
                           x + s->rows[e] * w->ncols, n, y + s->rows[e] * w->nrows,
                           sizeof(float) * (size_t)((total - s->rows[e]) * w->nrows));
        if (st != LQ_OK)
            return st;
    }
    return LQ_OK;
}

/* residual[t] += sum over t's experts j (in choice order) of w_j y_j */
static void mix(eval_context *c, float *x, int64_t rows) {
    const eval_hparams *hp = &c->model->hp;
    const eval_moe_scratch *s = c->moe;
    const int64_t k = hp->n_expert_used;
    for (int64_t t = 0; t < rows; t++) {
        float *out = c->proj;
        memset(out, 0, sizeof(float) * (size_t)hp->n_embd);
        for (int64_t j = 0; j < k; j++) {
            const float w = s->weights[t * k + j];
            const float *y = s->output + s->slot[t * k + j] * hp->n_embd;
            for (int64_t i = 0; i < hp->n_embd; i++)
                out[i] += w * y[i];
        }
        for (int64_t i = 0; i < hp->n_embd; i++)
            x[t * hp->n_embd + i] += out[i];
    }
}

int eval_moe_block(eval_context *c, const eval_layer *l, int64_t n, int64_t row0) {
    const eval_hparams *hp = &c->model->hp;
    eval_moe_scratch *s = c->moe;
    const int64_t rows = n - row0;
    float *x = c->residual + row0 * hp->n_embd;
    eval_rms_norm(x, l->ffn_norm, rows, hp->n_embd, hp->rms_eps, c->normed);
    int st = eval_matmul(c, &l->ffn_gate_inp, c->normed, rows, s->logits,
                         sizeof(float) * (size_t)(c->max_tokens * hp->n_expert));
    if (st != LQ_OK)
        return st;
    route(c, rows);
    const int64_t slots = rows * hp->n_expert_used;
    st = expert_matmul(c, &l->ffn_gate_exps, s->input, c->gate);
    if (st == LQ_OK)
        st = expert_matmul(c, &l->ffn_up_exps, s->input, c->up);
    if (st != LQ_OK)
        return st;
    eval_swiglu(c->gate, c->up, slots * hp->n_ff_exp);
    st = expert_matmul(c, &l->ffn_down_exps, c->gate, s->output);
    if (st != LQ_OK)
        return st;
    mix(c, x, rows);
    return LQ_OK;
}
