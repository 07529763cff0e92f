/*
 * The forward pass's context and the steps its parts share (eval_forward.c
 * runs the layers, eval_moe.c the mixture-of-experts feed-forward).
 */
#ifndef QUANT_TOOLS_EVAL_FORWARD_INTERNAL_H
#define QUANT_TOOLS_EVAL_FORWARD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval_forward.h"
#include "quant_kernels.h"

typedef struct eval_moe_scratch eval_moe_scratch;

struct eval_context {
    const eval_model *model;
    int64_t max_tokens;
    int nthreads;
    lq_matmul_ctx *matmul;
    eval_observe_fn observe;
    void *observe_user;
    /* [token][feature] buffers */
    float *residual, *normed, *q, *k, *v, *attn, *proj, *gate, *up;
    float *keys_t;              /* the keys transposed per kv head (eval_attention.c) */
    bool portable_attention;    /* one query at a time even with AVX-512 */
    float *rope_cos, *rope_sin; /* [position][n_rot / 2] */
    float *embd_group;          /* decoded rows of one interleaved group */
    eval_moe_scratch *moe;      /* NULL without experts */
};

/* y = x / sqrt(mean(x^2) + eps) * weight, for n rows of width values. */
void eval_rms_norm(const float *x, const float *weight, int64_t n, int64_t width, float eps,
                   float *y);
/* gate = silu(gate) * up */
void eval_swiglu(float *gate, const float *up, int64_t count);
/* Bytes of a [token][feature] buffer of `width` features per token. */
size_t eval_token_buffer_bytes(const eval_context *c, int64_t width);
/* Observe (if there is an observer) and multiply a 2-D matrix. */
int eval_matmul(eval_context *c, const eval_matrix *w, const float *x, int64_t n, float *y,
                size_t y_capacity);

struct eval_kv_cache {
    const eval_model *model;
    eval_cache_type type;
    int64_t capacity, used, kv_dim;
    void *k, *v;          /* [layer][position][kv_dim] of `type` */
    size_t layer_bytes;   /* of one layer's keys (or values) */
    float *k_f32, *v_f32; /* F16: one layer's keys and values widened for attention */
    /* every layer's keys transposed as attention reads them, kept up to
     * date a new key at a time (eval_keys_t_append), so that a generated
     * token does not transpose the whole cache again */
    float *keys_t;
    int64_t keys_t_stride; /* eval_keys_t_stride(capacity) */
};

/* What one layer's attention reads: queries rows first_row .. n_rows-1 of
 * c->q, row r at position pos0 + r, each over the keys and values of
 * positions 0 .. its own ([position][kv_dim] floats, n_keys of them). */
typedef struct eval_attention_span {
    const float *k, *v;
    float *keys_t; /* kv head h's feature d of key j at keys_t[(h dim + d) stride + j] */
    int64_t keys_t_stride; /* at least eval_keys_t_stride(n_keys) */
    bool keys_t_ready;     /* keys_t already holds keys 0 .. n_keys-1 */
    int64_t n_keys, pos0, n_rows, first_row;
} eval_attention_span;

/* Causal attention of the span into c->attn (rows as in c->q;
 * eval_attention.c). */
int eval_attention(const eval_context *c, const eval_attention_span *s);
/* Whether attention reads the keys transposed (the AVX-512 block kernel)
 * rather than their rows (the portable one-query kernel). */
bool eval_attention_reads_keys_t(const eval_context *c);
/* Floats of c->keys_t for max_tokens tokens of kv_dim key features, and
 * the stride of its rows. */
int64_t eval_keys_t_floats(int64_t max_tokens, int64_t kv_dim);
int64_t eval_keys_t_stride(int64_t max_tokens);
/* Keys first .. first+count-1 of k ([position][kv_dim]) into keys_t. */
void eval_keys_t_append(const eval_context *c, const float *k, int64_t first, int64_t count,
                        float *keys_t, int64_t stride);

/* The mixture-of-experts feed-forward (eval_moe.c): scratch for batches of
 * max_tokens tokens, and the block on rows row0 .. n-1 of the residual. */
eval_moe_scratch *eval_moe_scratch_new(const eval_model *m, int64_t max_tokens);
void eval_moe_scratch_free(eval_moe_scratch *s);
int eval_moe_block(eval_context *c, const eval_layer *l, int64_t n, int64_t row0);

#endif
