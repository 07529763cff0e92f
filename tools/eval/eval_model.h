/*
 * A model as the evaluator runs it: hyper-parameters from the GGUF
 * metadata, weight matrices left in their stored type (pointers into the
 * mapped file), norm vectors and biases decoded to floats. The architecture
 * (general.architecture) picks an `eval_arch` row (eval_arch.h): which
 * tensors a layer has and how rotary embeddings pair values.
 */
#ifndef QUANT_TOOLS_EVAL_MODEL_H
#define QUANT_TOOLS_EVAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "quant_gguf.h"

/* A weight matrix: nrows outputs of ncols inputs, in its GGUF type. A 3-D
 * tensor of experts is n_expert such matrices one after another, each of
 * `size` bytes (expert e's rows start at data + e * size). */
typedef struct eval_matrix {
    const char *name;
    int type;
    int64_t nrows, ncols;
    int64_t n_expert; /* 1 for a 2-D matrix */
    const void *data; /* NULL: absent */
    size_t size;
} eval_matrix;

typedef struct eval_layer {
    float *attn_norm;                /* n_embd */
    eval_matrix wq, wk, wv, wo;
    float *bq, *bk, *bv, *bo;        /* optional biases (NULL if absent) */
    float *q_norm, *k_norm;          /* per-head RMS norms (head_dim), NULL if absent */
    float *ffn_norm;                 /* n_embd */
    /* dense feed-forward (data NULL in a mixture-of-experts layer) */
    eval_matrix ffn_gate, ffn_up, ffn_down;
    /* mixture of experts: the router (n_expert rows) and the experts */
    eval_matrix ffn_gate_inp;
    eval_matrix ffn_gate_exps, ffn_up_exps, ffn_down_exps;
} eval_layer;

typedef struct eval_hparams {
    int64_t n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_rot, n_vocab;
    int64_t n_ctx_train;
    int64_t n_expert, n_expert_used, n_ff_exp; /* 0 without experts */
    float rope_freq_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    float rms_eps;
} eval_hparams;

typedef struct eval_arch eval_arch;

typedef struct eval_model {
    lq_gguf *gguf;
    const eval_arch *arch;
    eval_hparams hp;
    float *rope_freqs; /* n_rot / 2 frequency divisors (Llama 3), NULL if absent */
    eval_matrix tok_embd;
    eval_matrix output; /* the token embedding when output.weight is absent */
    float *output_norm;
    eval_layer *layers;
} eval_model;

/* Open a (possibly split) GGUF model. Errors name the file and the missing
 * key or tensor: LQ_ERR_IO, LQ_ERR_FORMAT, LQ_ERR_UNSUPPORTED (an
 * architecture this build does not know, a weight type it cannot decode),
 * LQ_ERR_NO_MEMORY. */
int eval_model_open(const char *path, eval_model **out, lq_gguf_error *err);
/* Same on an already open file (taken over: closed by eval_model_close). */
int eval_model_from_gguf(lq_gguf *g, eval_model **out, lq_gguf_error *err);
void eval_model_close(eval_model *m);

/* general.architecture of the model. */
const char *eval_model_arch_name(const eval_model *m);
/* The supported architectures, separated by ", ", into buf (for messages
 * and --help; truncated to size). */
void eval_supported_archs(char *buf, size_t size);

#endif
