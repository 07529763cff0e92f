/*
 * The evaluator's forward pass, as ik_llama.cpp computes it: token
 * embedding, per layer RMSNorm, q/k/v (with the biases and per-head q/k
 * RMS norms the layer has), rotary embeddings (the architecture's pairing,
 * Llama 3's frequency divisors), causal grouped-query attention, then a
 * SwiGLU feed-forward, dense or a mixture of experts (eval_moe.c), and the
 * final norm and output projection. Weights go through lq_matmul in their
 * stored type; activations are F32; a whole batch of tokens goes through at
 * once.
 */
#ifndef QUANT_TOOLS_EVAL_FORWARD_H
#define QUANT_TOOLS_EVAL_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "eval_model.h"

/* Called with the input of every layer matrix (attn_q/k/v/output,
 * ffn_gate/up/down, the router ffn_gate_inp and the experts) before it is
 * multiplied: n vectors of w->ncols floats. For a tensor of experts
 * (w->n_expert > 1) it is called once with the vectors of all experts,
 * grouped: those of expert e are x[expert_rows[e] .. expert_rows[e + 1]);
 * expert_rows is NULL for a 2-D matrix. The output projection is not
 * observed. */
typedef void (*eval_observe_fn)(void *user, const eval_matrix *w, const float *x, int64_t n,
                                const int64_t *expert_rows);

typedef struct eval_context eval_context;

/* Scratch for batches of up to max_tokens tokens; nthreads in [1, 256].
 * NULL when out of memory or on a bad argument. */
eval_context *eval_context_new(const eval_model *m, int64_t max_tokens, int nthreads);
void eval_context_free(eval_context *c);
/* With an observer every row of every layer is computed (none is skipped
 * because its logits are not wanted). fn NULL removes it. */
void eval_context_set_observer(eval_context *c, eval_observe_fn fn, void *user);
/* Compute attention one query at a time, the path of CPUs without AVX-512,
 * whatever this CPU has (for the tests, which compare both paths). */
void eval_context_use_portable_attention(eval_context *c, bool portable);

/* Run tokens[0..n) at positions 0..n-1 as a fresh sequence. If logits is not
 * NULL, it receives the logits of positions out_first..n-1, one row of
 * n_vocab floats each. Returns LQ_OK, LQ_ERR_INVALID_ARGUMENT (n out of
 * range, a token id outside the vocabulary) or a status of lq_matmul /
 * lq_dequantize_rows. */
int eval_forward(eval_context *c, const int32_t *tokens, int64_t n, int64_t out_first,
                 float *logits);

/* ---- incremental evaluation: a key/value cache --------------------------- */

/* The keys and values of every layer at positions 0 .. used-1, so that a
 * sequence can grow a batch (prompt processing) or a token (generation) at
 * a time. Laid out [layer][position][kv feature], the layout of the batch
 * path's own keys and values, so attention reads either the same way.
 *   F32: the logits are those of one batch forward over the same tokens, bit
 *        for bit: every step computes a token's row the same whatever batch
 *        it is in (lq_matmul's guarantee; attention's too, as long as the
 *        same kernel runs: with the portable one-query kernel against the
 *        AVX-512 block one the tested bound is 1e-4 of the row's largest
 *        logit);
 *   F16: keys and values are rounded to half precision as they are stored
 *        (the reference's default cache type), which moves the logits by
 *        about 5e-3 of the row's largest on the shared tiny models (2e-2 is
 *        the tested bound). Attention reads a layer's halves widened to
 *        floats, a layer at a time.
 * Either way the keys are also kept transposed in F32 as the AVX-512 block
 * kernel reads them (so F16 saves the memory of the keys' and values' rows,
 * not of that copy): eval_kv_cache_bytes counts the rows. */
typedef enum eval_cache_type { EVAL_CACHE_F32, EVAL_CACHE_F16 } eval_cache_type;

typedef struct eval_kv_cache eval_kv_cache;

/* A cache of n_ctx positions for model m; NULL when out of memory or on a
 * bad argument (n_ctx < 1). */
eval_kv_cache *eval_kv_cache_new(const eval_model *m, int64_t n_ctx, eval_cache_type type);
void eval_kv_cache_free(eval_kv_cache *kv);
int64_t eval_kv_cache_capacity(const eval_kv_cache *kv);
/* Positions filled: the position the next token gets. */
int64_t eval_kv_cache_used(const eval_kv_cache *kv);
/* Forget positions keep .. used-1 (keep <= used; 0 starts a new sequence). */
void eval_kv_cache_truncate(eval_kv_cache *kv, int64_t keep);
/* Bytes the cache holds for its keys and values. */
size_t eval_kv_cache_bytes(const eval_kv_cache *kv);

/* Run tokens[0..n) at positions used .. used+n-1 after the cached ones,
 * storing their keys and values in kv (whose model must be c's); logits as
 * eval_forward, rows out_first..n-1 of this batch. n is at most the
 * context's max_tokens. LQ_ERR_INVALID_ARGUMENT also when the tokens do not
 * fit in the cache (used + n > capacity); on any error the cache keeps its
 * previous positions. */
int eval_forward_cached(eval_context *c, eval_kv_cache *kv, const int32_t *tokens, int64_t n,
                        int64_t out_first, float *logits);

#endif
