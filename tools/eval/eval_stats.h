/*
 * Scoring of the evaluator, as ik_llama.cpp's llama-perplexity does it:
 * perplexity over the scored positions, the KL-divergence base file of
 * quantized log-probabilities, and the KL-divergence statistics of a model
 * against such a base.
 *
 * Base file layout (little-endian, as the reference writes it):
 *   "_logits_", u32 n_ctx, i32 n_vocab, i32 n_chunk,
 *   i32 tokens[n_chunk * n_ctx] (the text's tokens, before the BOS overwrite),
 *   then per chunk, per scored position (n_ctx - 1 - n_ctx/2 of them) one
 *   record of nv = 2*((n_vocab+1)/2) + 4 u16: f32 scale, f32 min_log_prob,
 *   then n_vocab (padded to even) u16 q with log p = scale*q + min_log_prob.
 */
#ifndef QUANT_TOOLS_EVAL_STATS_H
#define QUANT_TOOLS_EVAL_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* ---- perplexity ---------------------------------------------------------- */

typedef struct eval_ppl {
    double nll, nll2; /* sums of -log p and its square */
    int64_t count;
} eval_ppl;

/* Score count positions: row i of logits (n_vocab floats) predicts
 * next_tokens[i]. If base is not NULL, also write each row's base record
 * (eval_base_record_size u16 each) there. */
void eval_ppl_add(eval_ppl *p, const float *logits, int64_t n_vocab, const int32_t *next_tokens,
                  int64_t count, uint16_t *base);
double eval_ppl_current(const eval_ppl *p);
/* The final perplexity and its +/- error; false when the variance is not
 * positive (the reference then prints no estimate). */
bool eval_ppl_final(const eval_ppl *p, double *ppl, double *error);

/* ---- KL-divergence base files ------------------------------------------- */

int64_t eval_base_record_size(int64_t n_vocab); /* in u16 */

typedef struct eval_base_header {
    uint32_t n_ctx;
    int32_t n_vocab, n_chunk;
} eval_base_header;

/* Write the header and tokens (n_chunk * n_ctx of them). false on an I/O
 * error (errno set). */
bool eval_base_write_header(FILE *f, const eval_base_header *h, const int32_t *tokens);
/* Read and check the header, then the tokens (*tokens malloc'd). On failure
 * returns false with a reason in why (without the file name). */
bool eval_base_read_header(FILE *f, eval_base_header *h, int32_t **tokens, char *why,
                           size_t why_size);

/* ---- KL-divergence ------------------------------------------------------- */

typedef struct eval_kld {
    double sum_nll, sum_nll2, sum_nll_base, sum_nll_base2, sum_nll_nll_base;
    double sum_kld, sum_kld2;
    double sum_p_diff, sum_p_diff2, sum_p_diff4;
    float max_p_diff;
    int64_t n_same_top, count;
    /* per position, for the percentiles */
    float *kld_values, *p_diff_values;
    int64_t capacity;
} eval_kld;

/* Reserve room for `positions` values; false when out of memory. */
bool eval_kld_init(eval_kld *k, int64_t positions);
void eval_kld_free(eval_kld *k);
/* Compare count rows of logits with their base records. */
void eval_kld_add(eval_kld *k, const float *logits, int64_t n_vocab, const uint16_t *base,
                  const int32_t *next_tokens, int64_t count);
/* The reference's per-chunk table: header line and one row. */
void eval_kld_print_header(FILE *out);
void eval_kld_print_chunk(FILE *out, const eval_kld *k, int chunk);
/* The reference's closing statistics (nothing under 100 positions). */
void eval_kld_print_summary(FILE *out, eval_kld *k);

#endif
