/*
 * The Qwen 3 family: per-head RMS norms of the queries and keys
 * (attn_q_norm, attn_k_norm) and NeoX rotary embeddings; head size from
 * attention.key_length (the query width need not be the hidden size).
 *   qwen3:    a dense SwiGLU feed-forward;
 *   qwen3moe: a mixture of experts (eval_moe.c): the router ffn_gate_inp,
 *             expert_count experts of expert_feed_forward_length in the 3-D
 *             ffn_{gate,up,down}_exps, expert_used_count of them a token.
 */
#include "eval_arch.h"
#include "quant.h"

static int load_qwen3_layer(const eval_loader *ld, int64_t il, eval_layer *l) {
    int st = eval_load_attention(ld, il, true, l);
    return st == LQ_OK ? eval_load_dense_ffn(ld, il, l) : st;
}

const eval_arch eval_arch_qwen3 = {
    .name = "qwen3",
    .rope = EVAL_ROPE_NEOX,
    .load_layer = load_qwen3_layer,
};

static int read_moe_hparams(const eval_loader *ld) {
    eval_hparams *hp = ld->hp;
    int st = eval_load_count(ld, "expert_count", -1, &hp->n_expert);
    if (st == LQ_OK)
        st = eval_load_count(ld, "expert_used_count", -1, &hp->n_expert_used);
    if (st == LQ_OK)
        st = eval_load_count(ld, "expert_feed_forward_length", -1, &hp->n_ff_exp);
    if (st == LQ_OK && hp->n_expert_used > hp->n_expert)
        st = lq_gguf_fail(ld->err, LQ_ERR_FORMAT, "%s: %lld experts used of %lld",
                          lq_gguf_path(ld->g), (long long)hp->n_expert_used,
                          (long long)hp->n_expert);
    return st;
}

static int load_moe_layer(const eval_loader *ld, int64_t il, eval_layer *l) {
    const eval_hparams *hp = ld->hp;
    int st = eval_load_attention(ld, il, true, l);
    if (st == LQ_OK)
        st = eval_load_vector(ld, il, "ffn_norm.weight", hp->n_embd, true, &l->ffn_norm);
    if (st == LQ_OK)
        st = eval_load_matrix(ld, il, "ffn_gate_inp.weight", hp->n_embd, hp->n_expert, true,
                              &l->ffn_gate_inp);
    if (st == LQ_OK)
        st = eval_load_experts(ld, il, "ffn_gate_exps.weight", hp->n_embd, hp->n_ff_exp,
                               hp->n_expert, &l->ffn_gate_exps);
    if (st == LQ_OK)
        st = eval_load_experts(ld, il, "ffn_up_exps.weight", hp->n_embd, hp->n_ff_exp,
                               hp->n_expert, &l->ffn_up_exps);
    if (st == LQ_OK)
        st = eval_load_experts(ld, il, "ffn_down_exps.weight", hp->n_ff_exp, hp->n_embd,
                               hp->n_expert, &l->ffn_down_exps);
    return st;
}

const eval_arch eval_arch_qwen3moe = {
    .name = "qwen3moe",
    .rope = EVAL_ROPE_NEOX,
    .read_hparams = read_moe_hparams,
    .load_layer = load_moe_layer,
};
