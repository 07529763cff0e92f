/*
 * The dense family: attention with optional biases, a SwiGLU feed-forward.
 *   llama: adjacent-pair rotary embeddings (also Llama 3 with its byte-level
 *          BPE vocabulary and rope_freqs divisors, read by eval_model.c);
 *   qwen2: NeoX rotary embeddings, biases on q, k and v.
 */
#include "eval_arch.h"
#include "quant.h"

static int load_dense_layer(const eval_loader *ld, int64_t il, eval_layer *l) {
    int st = eval_load_attention(ld, il, false, l);
    return st == LQ_OK ? eval_load_dense_ffn(ld, il, l) : st;
}

const eval_arch eval_arch_llama = {
    .name = "llama",
    .rope = EVAL_ROPE_NORM,
    .load_layer = load_dense_layer,
};

const eval_arch eval_arch_qwen2 = {
    .name = "qwen2",
    .rope = EVAL_ROPE_NEOX,
    .load_layer = load_dense_layer,
};
