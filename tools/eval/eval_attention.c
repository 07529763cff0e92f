/*
 * Causal self-attention of the forward pass, in F32 (the reference's result
 * with an F32 cache): one task per (head, block of queries), spread over the
 * threads.
 *
 * With AVX-512 and a head size that is a multiple of 16, a block of queries
 * is computed as two small matrix products: scores = Q K^T with the keys
 * transposed once per layer (16 keys per vector, so no horizontal sums),
 * and out = P V with four queries sharing each load of V. Elsewhere one query
 * at a time (the portable path). Both compute the softmax the same way; only
 * the order of the float sums differs.
 */
#include "eval_forward_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tool_common.h"

#include "eval_simd.h"

/* Queries per task: small enough to balance the causal triangle over the
 * threads, large enough to amortize the keys' transposition. */
enum { QUERY_BLOCK = 32, KEY_TILE = 16, QUERY_TILE = 4, VALUE_SPAN = 64 };

typedef struct attention_job {
    const eval_context *c;
    const eval_attention_span *span;
    int64_t blocks_per_head;
    float scale;
    bool blocked; /* the AVX-512 block kernel */
    atomic_bool out_of_memory;
} attention_job;

/* Keys per row of c->keys_t: every key tile whole. */
static int64_t keys_t_stride(int64_t n) {
    return (n + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
}

int64_t eval_keys_t_floats(int64_t max_tokens, int64_t kv_dim) {
    return keys_t_stride(max_tokens) * kv_dim;
}

int64_t eval_keys_t_stride(int64_t max_tokens) { return keys_t_stride(max_tokens); }

void eval_keys_t_append(const eval_context *c, const float *k, int64_t first, int64_t count,
                        float *keys_t, int64_t stride) {
    const int64_t kv_dim = c->model->hp.n_head_kv * c->model->hp.head_dim;
    for (int64_t j = first; j < first + count; j++)
        for (int64_t f = 0; f < kv_dim; f++)
            keys_t[f * stride + j] = k[j * kv_dim + f];
}

/* Query row r sits at position pos0 + r: it attends keys 0 .. pos0 + r. */
typedef struct head_view {
    const float *q, *k, *v; /* this head's first query row, key and value */
    int64_t q_stride, kv_stride, dim, pos0;
} head_view;

static head_view view_of(const eval_context *c, const eval_attention_span *s, int64_t h) {
    const eval_hparams *hp = &c->model->hp;
    const int64_t dim = hp->head_dim, kvh = h / (hp->n_head / hp->n_head_kv);
    return (head_view){c->q + h * dim,   s->k + kvh * dim,    s->v + kvh * dim,
                       hp->n_head * dim, hp->n_head_kv * dim, dim, s->pos0};
}

/* scores[0..count) = exp(scores - max) / sum, in place. */
static void softmax(float *scores, int64_t count) {
    float max = -INFINITY;
    for (int64_t j = 0; j < count; j++)
        if (scores[j] > max)
            max = scores[j];
    double sum = 0.0;
    for (int64_t j = 0; j < count; j++) {
        scores[j] = expf(scores[j] - max);
        sum += scores[j];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < count; j++)
        scores[j] *= inv;
}

/* ---- portable: one query at a time -------------------------------------- */

/* Eight independent partial sums, so the compiler can keep them in one
 * vector register. */
static inline float dot_f32(const float *a, const float *b, int64_t n) {
    float lanes[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            lanes[k] += a[i + k] * b[i + k];
    float sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
                ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

/* compiled for AVX2 as well, chosen at load time, for CPUs without the
 * block kernel */
#if HAVE_EVAL_X86
__attribute__((target_clones("avx2", "default")))
#endif
static void
attend_one(const head_view *hv, int64_t row, float scale, float *scores, float *out) {
    const float *q = hv->q + row * hv->q_stride;
    const int64_t pos = hv->pos0 + row;
    for (int64_t j = 0; j <= pos; j++)
        scores[j] = dot_f32(q, hv->k + j * hv->kv_stride, hv->dim) * scale;
    softmax(scores, pos + 1);
    memset(out, 0, sizeof(float) * (size_t)hv->dim);
    for (int64_t j = 0; j <= pos; j++) {
        const float p = scores[j], *v = hv->v + j * hv->kv_stride;
        for (int64_t d = 0; d < hv->dim; d++)
            out[d] += p * v[d];
    }
}

/* ---- AVX-512: a block of queries as two small matrix products ----------- */

#if HAVE_EVAL_X86

/* softmax of row[0, count) in place, the sum in double as the portable one */
EVAL_AVX512 static void softmax_row(float *row, int64_t count) {
    __m512 max = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < count; j += 16) {
        const __mmask16 m = count - j >= 16 ? 0xffff : (__mmask16)((1u << (count - j)) - 1);
        max = _mm512_mask_max_ps(max, m, max, _mm512_maskz_loadu_ps(m, row + j));
    }
    const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(max));
    __m512d sum = _mm512_setzero_pd();
    for (int64_t j = 0; j < count; j += 16) {
        const __mmask16 m = count - j >= 16 ? 0xffff : (__mmask16)((1u << (count - j)) - 1);
        const __m512 e = _mm512_maskz_mov_ps(
            m, eval_exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), top)));
        _mm512_mask_storeu_ps(row + j, m, e);
        sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        sum = _mm512_add_pd(
            sum, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(sum)));
    for (int64_t j = 0; j < count; j += 16) {
        const __mmask16 m = count - j >= 16 ? 0xffff : (__mmask16)((1u << (count - j)) - 1);
        _mm512_mask_storeu_ps(row + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), inv));
    }
}

/* scores[i * stride + j] = scale * q_(first + i) . k_j for QUERY_TILE query
 * rows and the key tiles up to the last query's position */
EVAL_AVX512 static inline __attribute__((always_inline)) void
score_tile_n(const head_view *hv, int64_t first, const int nq, const float *kt, int64_t stride,
             float scale, float *scores) {
    const int64_t keys = hv->pos0 + first + nq; /* keys 0 .. last query's position */
    const float *q = hv->q + first * hv->q_stride;
    for (int64_t j0 = 0; j0 < keys; j0 += KEY_TILE) {
        __m512 acc[QUERY_TILE];
        for (int i = 0; i < nq; i++)
            acc[i] = _mm512_setzero_ps();
        for (int64_t d = 0; d < hv->dim; d++) {
            const __m512 k = _mm512_loadu_ps(kt + d * stride + j0);
            for (int i = 0; i < nq; i++)
                acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i * hv->q_stride + d]), k, acc[i]);
        }
        for (int i = 0; i < nq; i++)
            _mm512_storeu_ps(scores + i * stride + j0,
                             _mm512_mul_ps(acc[i], _mm512_set1_ps(scale)));
    }
}

/* one instance per query count, so that the accumulators stay in registers */
EVAL_AVX512 static void score_tile(const head_view *hv, int64_t first, int nq, const float *kt,
                                   int64_t stride, float scale, float *scores) {
    switch (nq) {
    case 4: score_tile_n(hv, first, 4, kt, stride, scale, scores); break;
    case 3: score_tile_n(hv, first, 3, kt, stride, scale, scores); break;
    case 2: score_tile_n(hv, first, 2, kt, stride, scale, scores); break;
    default: score_tile_n(hv, first, 1, kt, stride, scale, scores); break;
    }
}

/* out rows of nq queries, features [d0, d0 + 16 spans) = probabilities x
 * values, the sums in registers */
EVAL_AVX512 static inline __attribute__((always_inline)) void
value_span(const head_view *hv, int64_t first, const int nq, int64_t d0, const int spans,
           const float *probs, int64_t stride, float *out, int64_t out_stride) {
    const int64_t keys = hv->pos0 + first + nq;
    __m512 acc[QUERY_TILE][VALUE_SPAN / 16];
    for (int i = 0; i < nq; i++)
        for (int s = 0; s < spans; s++)
            acc[i][s] = _mm512_setzero_ps();
    for (int64_t j = 0; j < keys; j++) {
        const float *v = hv->v + j * hv->kv_stride + d0;
        __m512 vv[VALUE_SPAN / 16];
        for (int s = 0; s < spans; s++)
            vv[s] = _mm512_loadu_ps(v + 16 * s);
        for (int i = 0; i < nq; i++) {
            /* probabilities past a query's own position are zero */
            const __m512 p = _mm512_set1_ps(probs[i * stride + j]);
            for (int s = 0; s < spans; s++)
                acc[i][s] = _mm512_fmadd_ps(p, vv[s], acc[i][s]);
        }
    }
    for (int i = 0; i < nq; i++)
        for (int s = 0; s < spans; s++)
            _mm512_storeu_ps(out + i * out_stride + d0 + 16 * s, acc[i][s]);
}

EVAL_AVX512 static inline __attribute__((always_inline)) void
value_tile_n(const head_view *hv, int64_t first, const int nq, const float *probs, int64_t stride,
             float *out, int64_t out_stride) {
    int64_t d0 = 0;
    for (; d0 + VALUE_SPAN <= hv->dim; d0 += VALUE_SPAN)
        value_span(hv, first, nq, d0, VALUE_SPAN / 16, probs, stride, out, out_stride);
    for (; d0 < hv->dim; d0 += 16)
        value_span(hv, first, nq, d0, 1, probs, stride, out, out_stride);
}

/* one instance per query count, so that the sums stay in registers */
EVAL_AVX512 static void value_tile(const head_view *hv, int64_t first, int nq, const float *probs,
                                   int64_t stride, float *out, int64_t out_stride) {
    switch (nq) {
    case 4: value_tile_n(hv, first, 4, probs, stride, out, out_stride); break;
    case 3: value_tile_n(hv, first, 3, probs, stride, out, out_stride); break;
    case 2: value_tile_n(hv, first, 2, probs, stride, out, out_stride); break;
    default: value_tile_n(hv, first, 1, probs, stride, out, out_stride); break;
    }
}

EVAL_AVX512 static void attend_block(const head_view *hv, int64_t begin, int64_t end, float scale,
                                     const float *kt, int64_t stride, float *scores, float *out,
                                     int64_t out_stride) {
    for (int64_t first = begin; first < end; first += QUERY_TILE) {
        const int nq = (int)(end - first < QUERY_TILE ? end - first : QUERY_TILE);
        score_tile(hv, first, nq, kt, stride, scale, scores);
        for (int i = 0; i < nq; i++) {
            float *row = scores + i * stride;
            const int64_t count = hv->pos0 + first + i + 1;
            softmax_row(row, count);
            for (int64_t j = count; j < hv->pos0 + first + nq; j++)
                row[j] = 0.0f;
        }
        value_tile(hv, first, nq, scores, stride, out + (first - begin) * out_stride, out_stride);
    }
}
#endif

/* ---- tasks --------------------------------------------------------------- */

/* Keys 0 .. n_keys-1 of kv head `task` transposed into span->keys_t,
 * zero-padded to whole key tiles: head h's feature d at
 * keys_t[(h dim + d) stride + j]. */
static void transpose_task(void *ctx, int64_t task) {
    const attention_job *job = ctx;
    const eval_attention_span *s = job->span;
    const int64_t dim = job->c->model->hp.head_dim, kv_dim = job->c->model->hp.n_head_kv * dim;
    const int64_t n = s->n_keys, stride = s->keys_t_stride;
    float *kt = s->keys_t + task * dim * stride;
    /* a key tile at a time: its 16 keys stay in L1 while each feature's
     * 16 values are written side by side */
    for (int64_t j0 = 0; j0 < stride; j0 += KEY_TILE)
        for (int64_t d = 0; d < dim; d++)
            for (int64_t j = j0; j < j0 + KEY_TILE; j++)
                kt[d * stride + j] = j < n ? s->k[j * kv_dim + task * dim + d] : 0.0f;
}

static void attention_task(void *ctx, int64_t task) {
    attention_job *job = ctx;
    const eval_context *c = job->c;
    const eval_attention_span *s = job->span;
    const eval_hparams *hp = &c->model->hp;
    /* the last query blocks are the longest: hand them out first */
    const int64_t block = job->blocks_per_head - 1 - task % job->blocks_per_head;
    const int64_t h = task / job->blocks_per_head;
    const int64_t begin = s->first_row + block * QUERY_BLOCK;
    const int64_t end = begin + QUERY_BLOCK < s->n_rows ? begin + QUERY_BLOCK : s->n_rows;
    const head_view hv = view_of(c, s, h);
    const int64_t out_stride = hp->n_head * hv.dim, stride = s->keys_t_stride;
    float *out = c->attn + begin * out_stride + h * hv.dim;
    float *scores =
        malloc(sizeof(float) * (size_t)(job->blocked ? QUERY_TILE * stride : s->pos0 + end));
    if (!scores) {
        atomic_store(&job->out_of_memory, true);
        return;
    }
#if HAVE_EVAL_X86
    if (job->blocked) {
        const int64_t kvh = h / (hp->n_head / hp->n_head_kv);
        attend_block(&hv, begin, end, job->scale, s->keys_t + kvh * hv.dim * stride, stride, scores,
                     out, out_stride);
        free(scores);
        return;
    }
#endif
    for (int64_t row = begin; row < end; row++)
        attend_one(&hv, row, job->scale, scores, out + (row - begin) * out_stride);
    free(scores);
}

static bool blocked_kernel_fits(int64_t dim) {
#if HAVE_EVAL_X86
    return dim % 16 == 0 && eval_has_avx512();
#else
    (void)dim;
    return false;
#endif
}

bool eval_attention_reads_keys_t(const eval_context *c) {
    return !c->portable_attention && blocked_kernel_fits(c->model->hp.head_dim);
}

int eval_attention(const eval_context *c, const eval_attention_span *s) {
    const eval_hparams *hp = &c->model->hp;
    const int64_t rows = s->n_rows - s->first_row;
    /* Either kernel computes a query's output the same whatever other
     * queries share its block (scores past a query's position are zero and
     * add nothing), so a token generated after cached ones gets exactly what
     * the batch path gives it, as long as both take the same kernel. */
    attention_job job = {c, s, (rows + QUERY_BLOCK - 1) / QUERY_BLOCK,
                         1.0f / sqrtf((float)hp->head_dim),
                         eval_attention_reads_keys_t(c), false};
    /* a short single-query attention costs less than starting threads */
    const double work = (double)rows * (double)s->n_keys * (double)(hp->n_head * hp->head_dim);
    const int nthreads = rows == 1 && work < 1e6 ? 1 : c->nthreads;
    if (job.blocked && !s->keys_t_ready)
        tool_parallel_for(nthreads, hp->n_head_kv, transpose_task, &job);
    tool_parallel_for(nthreads, hp->n_head * job.blocks_per_head, attention_task, &job);
    return atomic_load(&job.out_of_memory) ? LQ_ERR_NO_MEMORY : LQ_OK;
}
