/*
 * A llama-architecture model as the evaluator runs it: hyper-parameters from
 * the GGUF metadata, weight matrices left in their stored type (pointers into
 * the mapped file), norm vectors and biases decoded to floats.
 */
#ifndef QUANT_TOOLS_EVAL_MODEL_H
#define QUANT_TOOLS_EVAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "quant_gguf.h"

/* A weight matrix: nrows outputs of ncols inputs, in its GGUF type. */
typedef struct eval_matrix {
    const char *name;
    int type;
    int64_t nrows, ncols;
    const void *data;
    size_t size;
} eval_matrix;

typedef struct eval_layer {
    float *attn_norm;                /* n_embd */
    eval_matrix wq, wk, wv, wo;
    float *bq, *bk, *bv, *bo;        /* optional biases (NULL if absent) */
    float *ffn_norm;                 /* n_embd */
    eval_matrix ffn_gate, ffn_up, ffn_down;
} eval_layer;

typedef struct eval_hparams {
    int64_t n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_rot, n_vocab;
    int64_t n_ctx_train;
    float rope_freq_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    float rms_eps;
} eval_hparams;

typedef struct eval_model {
    lq_gguf *gguf;
    eval_hparams hp;
    eval_matrix tok_embd;
    eval_matrix output; /* the token embedding when output.weight is absent */
    float *output_norm;
    eval_layer *layers;
} eval_model;

/* Open a (possibly split) GGUF llama model. Errors name the file and the
 * missing key or tensor: LQ_ERR_IO, LQ_ERR_FORMAT, LQ_ERR_UNSUPPORTED (an
 * architecture other than llama, a weight type this build cannot decode),
 * LQ_ERR_NO_MEMORY. */
int eval_model_open(const char *path, eval_model **out, lq_gguf_error *err);
/* Same on an already open file (taken over: closed by eval_model_close). */
int eval_model_from_gguf(lq_gguf *g, eval_model **out, lq_gguf_error *err);
void eval_model_close(eval_model *m);

#endif
