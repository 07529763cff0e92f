/*
 * Forward pass: see eval_forward.h.
 *
 * Activations are kept token after token ([token][feature]), which is both
 * what lq_matmul takes (n vectors of ncols) and what it returns. Attention
 * is in eval_attention.c.
 */
#include "eval_forward_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "eval_arch.h"
#include "eval_simd.h"
#include "quant.h"
#include "tool_common.h"

static void *alloc_floats(int64_t n) { return malloc(sizeof(float) * (size_t)(n > 0 ? n : 1)); }

eval_context *eval_context_new(const eval_model *m, int64_t max_tokens, int nthreads) {
    if (max_tokens < 1 || nthreads < 1 || nthreads > 256)
        return NULL;
    eval_context *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    const eval_hparams *hp = &m->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int64_t wide = hp->n_embd > q_dim ? hp->n_embd : q_dim;
    /* a MoE layer's gate and up hold n_expert_used rows a token */
    const int64_t ff_moe = hp->n_ff_exp * hp->n_expert_used;
    const int64_t ff = hp->n_ff > ff_moe ? hp->n_ff : ff_moe;
    const lq_type_info *embd_info = lq_type_get(m->tok_embd.type);
    c->model = m;
    c->max_tokens = max_tokens;
    c->nthreads = nthreads;
    c->matmul = lq_matmul_ctx_new(nthreads);
    c->residual = alloc_floats(max_tokens * hp->n_embd);
    c->normed = alloc_floats(max_tokens * wide);
    c->q = alloc_floats(max_tokens * q_dim);
    c->k = alloc_floats(max_tokens * kv_dim);
    c->v = alloc_floats(max_tokens * kv_dim);
    c->keys_t = alloc_floats(eval_keys_t_floats(max_tokens, kv_dim));
    c->attn = alloc_floats(max_tokens * q_dim);
    c->proj = alloc_floats(max_tokens * hp->n_embd);
    c->gate = alloc_floats(max_tokens * ff);
    c->up = alloc_floats(max_tokens * ff);
    c->rope_cos = alloc_floats(max_tokens * hp->n_rot / 2);
    c->rope_sin = alloc_floats(max_tokens * hp->n_rot / 2);
    c->embd_group = alloc_floats((embd_info ? embd_info->interleave : 1) * hp->n_embd);
    c->moe = hp->n_expert > 0 ? eval_moe_scratch_new(m, max_tokens) : NULL;
    if (!c->matmul || !c->residual || !c->normed || !c->q || !c->k || !c->v || !c->keys_t ||
        !c->attn || !c->proj || !c->gate || !c->up || !c->rope_cos || !c->rope_sin || !c->embd_group ||
        (hp->n_expert > 0 && !c->moe)) {
        eval_context_free(c);
        return NULL;
    }
    return c;
}

void eval_context_free(eval_context *c) {
    if (!c)
        return;
    lq_matmul_ctx_free(c->matmul);
    eval_moe_scratch_free(c->moe);
    float *buffers[] = {c->residual, c->normed, c->q,    c->k,        c->v,        c->attn,
                        c->proj,     c->gate,   c->up,   c->rope_cos, c->rope_sin, c->embd_group,
                        c->keys_t};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    free(c);
}

void eval_context_set_observer(eval_context *c, eval_observe_fn fn, void *user) {
    c->observe = fn;
    c->observe_user = user;
}

void eval_context_use_portable_attention(eval_context *c, bool portable) {
    c->portable_attention = portable;
}

/* ---- element-wise steps -------------------------------------------------- */

void eval_rms_norm(const float *x, const float *weight, int64_t n, int64_t width, float eps,
                   float *y) {
    for (int64_t t = 0; t < n; t++) {
        const float *row = x + t * width;
        double sum = 0.0;
        for (int64_t i = 0; i < width; i++)
            sum += (double)row[i] * row[i];
        const float scale = 1.0f / sqrtf((float)(sum / (double)width) + eps);
        for (int64_t i = 0; i < width; i++)
            y[t * width + i] = row[i] * scale * weight[i];
    }
}

static void add_bias(float *y, const float *bias, int64_t n, int64_t width) {
    if (!bias)
        return;
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < width; i++)
            y[t * width + i] += bias[i];
}

static void add_into(float *y, const float *x, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        y[i] += x[i];
}

#if HAVE_EVAL_X86
EVAL_AVX512 static int64_t swiglu_avx512(float *gate, const float *up, int64_t count) {
    int64_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m512 g = _mm512_loadu_ps(gate + i);
        const __m512 minus_g = _mm512_sub_ps(_mm512_setzero_ps(), g);
        const __m512 sigmoid_denominator =
            _mm512_add_ps(_mm512_set1_ps(1.0f), eval_exp_avx512(minus_g));
        _mm512_storeu_ps(gate + i, _mm512_mul_ps(_mm512_div_ps(g, sigmoid_denominator),
                                                 _mm512_loadu_ps(up + i)));
    }
    return i;
}
#endif

void eval_swiglu(float *gate, const float *up, int64_t count) {
    int64_t i = 0;
#if HAVE_EVAL_X86
    if (eval_has_avx512())
        i = swiglu_avx512(gate, up, count);
#endif
    for (; i < count; i++)
        gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* cos/sin of positions pos0 .. pos0+n-1 (table rows 0 .. n-1) and every
 * rotated pair: theta = pos * scale * base^(-2i/n_rot) / divisor_i (Llama
 * 3's rope_freqs, 1 without), the power built by repeated multiplication as
 * ggml does. */
static void rope_tables(eval_context *c, int64_t n, int64_t pos0) {
    const eval_hparams *hp = &c->model->hp;
    const float *divisors = c->model->rope_freqs;
    const int64_t half = hp->n_rot / 2;
    const float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)hp->n_rot);
    for (int64_t p = 0; p < n; p++) {
        float theta = (float)(pos0 + p);
        for (int64_t i = 0; i < half; i++) {
            const float angle = hp->rope_freq_scale * (divisors ? theta / divisors[i] : theta);
            c->rope_cos[p * half + i] = cosf(angle);
            c->rope_sin[p * half + i] = sinf(angle);
            theta *= theta_scale;
        }
    }
}

/* Rotate the first n_rot values of every head: pair i is (2i, 2i+1) in the
 * normal layout, (i, i + n_rot/2) in the NeoX one. */
static void rope(const eval_context *c, float *x, int64_t n, int64_t heads) {
    const eval_hparams *hp = &c->model->hp;
    const int64_t half = hp->n_rot / 2;
    const bool neox = c->model->arch->rope == EVAL_ROPE_NEOX;
    const int64_t stride = neox ? 1 : 2, offset = neox ? half : 1;
    for (int64_t t = 0; t < n; t++) {
        const float *cs = c->rope_cos + t * half, *sn = c->rope_sin + t * half;
        for (int64_t h = 0; h < heads; h++) {
            float *v = x + (t * heads + h) * hp->head_dim;
            for (int64_t i = 0; i < half; i++) {
                float *a = v + i * stride, *b = a + offset;
                const float x0 = *a, x1 = *b;
                *a = x0 * cs[i] - x1 * sn[i];
                *b = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}

/* ---- layers -------------------------------------------------------------- */

size_t eval_token_buffer_bytes(const eval_context *c, int64_t width) {
    return sizeof(float) * (size_t)(c->max_tokens * width);
}

/* y_capacity is the bytes of the buffer y points into, so that a shape
 * mistake here is an error of lq_matmul, not an overrun. */
int eval_matmul(eval_context *c, const eval_matrix *w, const float *x, int64_t n, float *y,
                size_t y_capacity) {
    if (c->observe)
        c->observe(c->observe_user, w, x, n, NULL);
    return lq_matmul(c->matmul, w->type, w->data, w->size, w->nrows, w->ncols, x, n, y,
                     y_capacity);
}

static int embed(eval_context *c, const int32_t *tokens, int64_t n) {
    const eval_matrix *e = &c->model->tok_embd;
    const lq_type_info *info = lq_type_get(e->type);
    const int64_t group = info ? info->interleave : 1;
    const int64_t group_bytes = lq_tensor_size(e->type, group, e->ncols);
    if (group_bytes < 0)
        return (int)group_bytes;
    for (int64_t t = 0; t < n; t++) {
        const int64_t g = tokens[t] / group, r = tokens[t] % group;
        const char *src = (const char *)e->data + g * group_bytes;
        int st = lq_dequantize_rows(e->type, src, (size_t)group_bytes, group, e->ncols,
                                    c->embd_group, sizeof(float) * (size_t)(group * e->ncols));
        if (st != LQ_OK)
            return st;
        memcpy(c->residual + t * e->ncols, c->embd_group + r * e->ncols,
               sizeof(float) * (size_t)e->ncols);
    }
    return LQ_OK;
}

/* Store the new keys and values (c->k, c->v: n rows) at positions
 * kv->used .. in layer il of the cache, and describe for attention the
 * layer's keys and values of positions 0 .. kv->used + n - 1, widened to
 * floats when the cache holds halves. */
static int cache_layer(eval_context *c, eval_kv_cache *kv, int64_t il, int64_t n,
                       eval_attention_span *span) {
    const int64_t kv_dim = kv->kv_dim, n_keys = kv->used + n;
    if (kv->type == EVAL_CACHE_F32) {
        float *k = (float *)((char *)kv->k + (size_t)il * kv->layer_bytes);
        float *v = (float *)((char *)kv->v + (size_t)il * kv->layer_bytes);
        memcpy(k + kv->used * kv_dim, c->k, sizeof(float) * (size_t)(n * kv_dim));
        memcpy(v + kv->used * kv_dim, c->v, sizeof(float) * (size_t)(n * kv_dim));
        span->k = k, span->v = v;
    } else {
        const size_t row_bytes = sizeof(uint16_t) * (size_t)kv_dim;
        char *k = (char *)kv->k + (size_t)il * kv->layer_bytes;
        char *v = (char *)kv->v + (size_t)il * kv->layer_bytes;
        const size_t new_bytes = row_bytes * (size_t)n, all_floats = (size_t)(n_keys * kv_dim);
        int64_t written = lq_quantize_rows(LQ_TYPE_F16, c->k, n, kv_dim, NULL,
                                           k + row_bytes * (size_t)kv->used, new_bytes);
        if (written >= 0)
            written = lq_quantize_rows(LQ_TYPE_F16, c->v, n, kv_dim, NULL,
                                       v + row_bytes * (size_t)kv->used, new_bytes);
        if (written < 0)
            return (int)written;
        /* the block kernel reads the keys only transposed, which needs the
         * new ones alone widened; the portable one reads every key's row */
        const int64_t k_first = eval_attention_reads_keys_t(c) ? kv->used : 0;
        const size_t k_offset = (size_t)(k_first * kv_dim);
        int st = lq_dequantize_rows(LQ_TYPE_F16, k + row_bytes * (size_t)k_first,
                                    row_bytes * (size_t)(n_keys - k_first), n_keys - k_first,
                                    kv_dim, kv->k_f32 + k_offset,
                                    sizeof(float) * (all_floats - k_offset));
        if (st == LQ_OK)
            st = lq_dequantize_rows(LQ_TYPE_F16, v, row_bytes * (size_t)n_keys, n_keys, kv_dim,
                                    kv->v_f32, sizeof(float) * all_floats);
        if (st != LQ_OK)
            return st;
        span->k = kv->k_f32, span->v = kv->v_f32;
    }
    span->keys_t_stride = kv->keys_t_stride;
    span->keys_t = kv->keys_t + il * kv->kv_dim * kv->keys_t_stride;
    eval_keys_t_append(c, span->k, kv->used, n, span->keys_t, span->keys_t_stride);
    span->keys_t_ready = true;
    span->n_keys = n_keys;
    span->pos0 = kv->used;
    return LQ_OK;
}

static int attention_block(eval_context *c, eval_kv_cache *kv, int64_t il, int64_t n,
                           int64_t row0) {
    const eval_layer *l = &c->model->layers[il];
    const eval_hparams *hp = &c->model->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    eval_rms_norm(c->residual, l->attn_norm, n, hp->n_embd, hp->rms_eps, c->normed);
    int st = eval_matmul(c, &l->wq, c->normed, n, c->q, eval_token_buffer_bytes(c, q_dim));
    if (st == LQ_OK)
        st = eval_matmul(c, &l->wk, c->normed, n, c->k, eval_token_buffer_bytes(c, kv_dim));
    if (st == LQ_OK)
        st = eval_matmul(c, &l->wv, c->normed, n, c->v, eval_token_buffer_bytes(c, kv_dim));
    if (st != LQ_OK)
        return st;
    add_bias(c->q, l->bq, n, q_dim);
    add_bias(c->k, l->bk, n, kv_dim);
    add_bias(c->v, l->bv, n, kv_dim);
    /* per-head norms (Qwen 3) act on the heads before the rotation */
    if (l->q_norm)
        eval_rms_norm(c->q, l->q_norm, n * hp->n_head, hp->head_dim, hp->rms_eps, c->q);
    if (l->k_norm)
        eval_rms_norm(c->k, l->k_norm, n * hp->n_head_kv, hp->head_dim, hp->rms_eps, c->k);
    rope(c, c->q, n, hp->n_head);
    rope(c, c->k, n, hp->n_head_kv);
    /* without a cache: this batch's own keys and values, positions 0 .. n-1 */
    eval_attention_span span = {c->k,  c->v, c->keys_t, eval_keys_t_stride(n), false,
                                n,     0,    n,         row0};
    if (kv && (st = cache_layer(c, kv, il, n, &span)) != LQ_OK)
        return st;
    st = eval_attention(c, &span);
    if (st != LQ_OK)
        return st;
    st = eval_matmul(c, &l->wo, c->attn + row0 * q_dim, n - row0, c->proj,
                eval_token_buffer_bytes(c, hp->n_embd));
    if (st != LQ_OK)
        return st;
    add_bias(c->proj, l->bo, n - row0, hp->n_embd);
    add_into(c->residual + row0 * hp->n_embd, c->proj, (n - row0) * hp->n_embd);
    return LQ_OK;
}

static int ffn_block(eval_context *c, const eval_layer *l, int64_t n, int64_t row0) {
    const eval_hparams *hp = &c->model->hp;
    const int64_t rows = n - row0;
    float *x = c->residual + row0 * hp->n_embd;
    eval_rms_norm(x, l->ffn_norm, rows, hp->n_embd, hp->rms_eps, c->normed);
    const size_t ff_bytes = eval_token_buffer_bytes(c, hp->n_ff);
    int st = eval_matmul(c, &l->ffn_gate, c->normed, rows, c->gate, ff_bytes);
    if (st == LQ_OK)
        st = eval_matmul(c, &l->ffn_up, c->normed, rows, c->up, ff_bytes);
    if (st != LQ_OK)
        return st;
    eval_swiglu(c->gate, c->up, rows * hp->n_ff);
    st = eval_matmul(c, &l->ffn_down, c->gate, rows, c->proj,
                     eval_token_buffer_bytes(c, hp->n_embd));
    if (st != LQ_OK)
        return st;
    add_into(x, c->proj, rows * hp->n_embd);
    return LQ_OK;
}

/* The batch (kv NULL: a fresh sequence at positions 0 .. n-1) or the
 * continuation of the cached sequence. */
static int forward(eval_context *c, eval_kv_cache *kv, const int32_t *tokens, int64_t n,
                   int64_t out_first, float *logits) {
    const eval_model *m = c->model;
    const eval_hparams *hp = &m->hp;
    if (n < 1 || n > c->max_tokens || out_first < 0 || out_first >= n)
        return LQ_ERR_INVALID_ARGUMENT;
    if (kv && (kv->model != m || kv->used + n > kv->capacity))
        return LQ_ERR_INVALID_ARGUMENT;
    for (int64_t t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= hp->n_vocab)
            return LQ_ERR_INVALID_ARGUMENT;
    int st = embed(c, tokens, n);
    if (st != LQ_OK)
        return st;
    rope_tables(c, n, kv ? kv->used : 0);
    for (int64_t il = 0; il < hp->n_layer && st == LQ_OK; il++) {
        /* rows before out_first only feed later positions through the
         * keys and values: the last layer needs no more of them */
        const bool last = il == hp->n_layer - 1;
        const int64_t row0 = last && !c->observe ? out_first : 0;
        const eval_layer *l = &m->layers[il];
        st = attention_block(c, kv, il, n, row0);
        if (st == LQ_OK)
            st = l->ffn_gate_exps.data ? eval_moe_block(c, l, n, row0)
                                       : ffn_block(c, l, n, row0);
    }
    if (st != LQ_OK || !logits)
        return st;
    const int64_t rows = n - out_first;
    eval_rms_norm(c->residual + out_first * hp->n_embd, m->output_norm, rows, hp->n_embd,
             hp->rms_eps, c->normed);
    /* the caller's logits hold `rows` rows of n_vocab floats (the contract
     * of eval_forward) */
    return lq_matmul(c->matmul, m->output.type, m->output.data, m->output.size,
                     m->output.nrows, m->output.ncols, c->normed, rows, logits,
                     sizeof(float) * (size_t)(rows * hp->n_vocab));
}

int eval_forward(eval_context *c, const int32_t *tokens, int64_t n, int64_t out_first,
                 float *logits) {
    return forward(c, NULL, tokens, n, out_first, logits);
}

int eval_forward_cached(eval_context *c, eval_kv_cache *kv, const int32_t *tokens, int64_t n,
                        int64_t out_first, float *logits) {
    int st = forward(c, kv, tokens, n, out_first, logits);
    /* the positions count only once every layer holds them */
    if (st == LQ_OK)
        kv->used += n;
    return st;
}

/* ---- the key/value cache ------------------------------------------------- */

eval_kv_cache *eval_kv_cache_new(const eval_model *m, int64_t n_ctx, eval_cache_type type) {
    const eval_hparams *hp = &m->hp;
    if (n_ctx < 1 || (type != EVAL_CACHE_F32 && type != EVAL_CACHE_F16))
        return NULL;
    eval_kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv)
        return NULL;
    kv->model = m;
    kv->type = type;
    kv->capacity = n_ctx;
    kv->kv_dim = hp->n_head_kv * hp->head_dim;
    const size_t value_bytes = type == EVAL_CACHE_F32 ? sizeof(float) : sizeof(uint16_t);
    kv->layer_bytes = value_bytes * (size_t)(n_ctx * kv->kv_dim);
    kv->k = malloc(kv->layer_bytes * (size_t)hp->n_layer);
    kv->v = malloc(kv->layer_bytes * (size_t)hp->n_layer);
    kv->keys_t_stride = eval_keys_t_stride(n_ctx);
    /* zeros in the padding of the last key tile, as the batch path has */
    kv->keys_t = calloc((size_t)(eval_keys_t_floats(n_ctx, kv->kv_dim) * hp->n_layer),
                        sizeof(float));
    bool ok = kv->k && kv->v && kv->keys_t;
    if (ok && type == EVAL_CACHE_F16) {
        kv->k_f32 = alloc_floats(n_ctx * kv->kv_dim);
        kv->v_f32 = alloc_floats(n_ctx * kv->kv_dim);
        ok = kv->k_f32 && kv->v_f32;
    }
    if (!ok) {
        eval_kv_cache_free(kv);
        return NULL;
    }
    return kv;
}

void eval_kv_cache_free(eval_kv_cache *kv) {
    if (!kv)
        return;
    free(kv->k), free(kv->v), free(kv->k_f32), free(kv->v_f32), free(kv->keys_t);
    free(kv);
}

int64_t eval_kv_cache_capacity(const eval_kv_cache *kv) { return kv->capacity; }
int64_t eval_kv_cache_used(const eval_kv_cache *kv) { return kv->used; }

void eval_kv_cache_truncate(eval_kv_cache *kv, int64_t keep) {
    if (keep >= 0 && keep < kv->used)
        kv->used = keep;
}

size_t eval_kv_cache_bytes(const eval_kv_cache *kv) {
    return 2 * kv->layer_bytes * (size_t)kv->model->hp.n_layer;
}
