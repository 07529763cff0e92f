/*
 * What an architecture file provides (arch_*.c), and the loading helpers
 * they share (eval_model.c). An architecture is a row of `eval_archs`
 * (eval_arch.c): its name, how rotary embeddings pair values, and the
 * function that finds the tensors of one layer. Adding one is a file (or a
 * row in its family's file) and a row in that table; the forward pass
 * (eval_forward.c, eval_moe.c) runs whatever tensors the layer has.
 */
#ifndef QUANT_TOOLS_EVAL_ARCH_H
#define QUANT_TOOLS_EVAL_ARCH_H

#include <stdbool.h>

#include "eval_model.h"
#include "gguf_internal.h"

typedef enum eval_rope_kind {
    EVAL_ROPE_NORM, /* adjacent values paired (llama) */
    EVAL_ROPE_NEOX, /* value i paired with i + n_rot/2 (GPT-NeoX, Qwen) */
} eval_rope_kind;

/* The state of one model's loading, handed to the architecture's hooks. */
typedef struct eval_loader {
    const lq_gguf *g;
    const eval_arch *arch;
    eval_hparams *hp;
    lq_gguf_error *err;
} eval_loader;

struct eval_arch {
    const char *name; /* general.architecture, also the prefix of its keys */
    eval_rope_kind rope;
    /* Optional: read the architecture's own hyper-parameters into ld->hp
     * (after the common ones). */
    int (*read_hparams)(const eval_loader *ld);
    /* Find the tensors of layer il. */
    int (*load_layer)(const eval_loader *ld, int64_t il, eval_layer *l);
};

/* The table (eval_arch.c), NULL-terminated. */
extern const eval_arch *const eval_archs[];

/* The architectures, defined by their family's file. */
extern const eval_arch eval_arch_llama, eval_arch_qwen2;
extern const eval_arch eval_arch_qwen3, eval_arch_qwen3moe;

/* ---- helpers for the hooks (eval_model.c) -------------------------------- */

/* "<arch>.<key>" of a count (> 0) or a positive real; fallback < 0: the
 * key is required. */
int eval_load_count(const eval_loader *ld, const char *key, int64_t fallback, int64_t *out);
int eval_load_real(const eval_loader *ld, const char *key, double fallback, float *out);

/* Tensor "blk.<il>.<suffix>" of the expected shape: a matrix of ncols
 * inputs and nrows outputs (nrows < 0: any), or, with n_expert > 0, a 3-D
 * tensor of n_expert such matrices. */
int eval_load_matrix(const eval_loader *ld, int64_t il, const char *suffix, int64_t ncols,
                     int64_t nrows, bool required, eval_matrix *out);
int eval_load_experts(const eval_loader *ld, int64_t il, const char *suffix, int64_t ncols,
                      int64_t nrows, int64_t n_expert, eval_matrix *out);
/* A vector "blk.<il>.<suffix>" of n values decoded to a malloc'd array. */
int eval_load_vector(const eval_loader *ld, int64_t il, const char *suffix, int64_t n,
                     bool required, float **out);

/* The attention of a layer: norm, q/k/v/output with optional biases; with
 * qk_norm the per-head attn_q_norm / attn_k_norm are required. */
int eval_load_attention(const eval_loader *ld, int64_t il, bool qk_norm, eval_layer *l);
/* A dense SwiGLU feed-forward: ffn_norm, ffn_gate/up/down. */
int eval_load_dense_ffn(const eval_loader *ld, int64_t il, eval_layer *l);

#endif
