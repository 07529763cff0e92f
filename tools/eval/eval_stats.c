/*
 * Perplexity and KL-divergence scoring: see eval_stats.h. The arithmetic
 * (which sums are in double, which values are rounded to float) follows the
 * reference so both tools print the same figures from the same logits.
 */
#include "eval_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define BASE_MAGIC "_logits_"
/* Log-probabilities below this are stored as the floor (p < 4e-11). */
#define BASE_RANGE 24.0f

/* ---- perplexity ---------------------------------------------------------- */

typedef struct row_softmax {
    float max_logit;
    int64_t argmax;
    float log_sum_exp; /* log sum exp(logit - max_logit) */
} row_softmax;

static row_softmax softmax_of(const float *logits, int64_t n_vocab) {
    row_softmax r = {logits[0], 0, 0.0f};
    for (int64_t i = 1; i < n_vocab; i++)
        if (logits[i] > r.max_logit) {
            r.max_logit = logits[i];
            r.argmax = i;
        }
    double sum = 0.0;
    for (int64_t i = 0; i < n_vocab; i++)
        sum += expf(logits[i] - r.max_logit);
    r.log_sum_exp = (float)log(sum);
    return r;
}

int64_t eval_base_record_size(int64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

/* The row's log-probabilities on a 16-bit grid between the lowest kept
 * value (at most BASE_RANGE below the top logit) and the top. */
static void write_base_record(const float *logits, int64_t n_vocab, const row_softmax *r,
                              uint16_t *record) {
    float min_logit = logits[0];
    for (int64_t i = 1; i < n_vocab; i++)
        if (logits[i] < min_logit)
            min_logit = logits[i];
    if (min_logit < r->max_logit - BASE_RANGE)
        min_logit = r->max_logit - BASE_RANGE;
    const float min_log_prob = min_logit - r->max_logit - r->log_sum_exp;
    const float scale = (r->max_logit - min_logit) / 65535.0f;
    memset(record, 0, sizeof(uint16_t) * (size_t)eval_base_record_size(n_vocab));
    lq_store_f32(record, scale);
    lq_store_f32(record + 2, min_log_prob);
    if (scale == 0.0f)
        return;
    const float inv_scale = 1.0f / scale;
    for (int64_t i = 0; i < n_vocab; i++)
        record[4 + i] =
            logits[i] > min_logit ? (uint16_t)lq_nearest_int(inv_scale * (logits[i] - min_logit))
                                  : 0;
}

void eval_ppl_add(eval_ppl *p, const float *logits, int64_t n_vocab, const int32_t *next_tokens,
                  int64_t count, uint16_t *base) {
    const int64_t record = eval_base_record_size(n_vocab);
    for (int64_t i = 0; i < count; i++) {
        const float *row = logits + i * n_vocab;
        const row_softmax r = softmax_of(row, n_vocab);
        const double nll = (double)r.max_logit + r.log_sum_exp - row[next_tokens[i]];
        p->nll += nll;
        p->nll2 += nll * nll;
        if (base)
            write_base_record(row, n_vocab, &r, base + i * record);
    }
    p->count += count;
}

double eval_ppl_current(const eval_ppl *p) {
    return p->count > 0 ? exp(p->nll / (double)p->count) : 0.0;
}

bool eval_ppl_final(const eval_ppl *p, double *ppl, double *error) {
    if (p->count < 2)
        return false;
    const double mean = p->nll / (double)p->count;
    const double var = p->nll2 / (double)p->count - mean * mean;
    *ppl = exp(mean);
    if (!(var > 0))
        return false;
    *error = sqrt(var / (double)(p->count - 1)) * *ppl;
    return true;
}

/* ---- base files ---------------------------------------------------------- */

bool eval_base_write_header(FILE *f, const eval_base_header *h, const int32_t *tokens) {
    const size_t ntok = (size_t)h->n_chunk * h->n_ctx;
    return fwrite(BASE_MAGIC, 1, 8, f) == 8 && fwrite(&h->n_ctx, 4, 1, f) == 1 &&
           fwrite(&h->n_vocab, 4, 1, f) == 1 && fwrite(&h->n_chunk, 4, 1, f) == 1 &&
           fwrite(tokens, sizeof(int32_t), ntok, f) == ntok;
}

bool eval_base_read_header(FILE *f, eval_base_header *h, int32_t **tokens, char *why,
                           size_t why_size) {
    char magic[8];
    *tokens = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, BASE_MAGIC, 8) != 0) {
        snprintf(why, why_size, "not a file of log-probabilities (no \"%s\" header)", BASE_MAGIC);
        return false;
    }
    if (fread(&h->n_ctx, 4, 1, f) != 1 || fread(&h->n_vocab, 4, 1, f) != 1 ||
        fread(&h->n_chunk, 4, 1, f) != 1) {
        snprintf(why, why_size, "truncated header");
        return false;
    }
    if (h->n_ctx < 4 || h->n_ctx > (1u << 20) || h->n_vocab < 1 || h->n_chunk < 1 ||
        (int64_t)h->n_chunk * h->n_ctx > ((int64_t)1 << 31)) {
        snprintf(why, why_size, "implausible header (n_ctx %u, n_vocab %d, %d chunks)", h->n_ctx,
                 h->n_vocab, h->n_chunk);
        return false;
    }
    const size_t ntok = (size_t)h->n_chunk * h->n_ctx;
    *tokens = malloc(sizeof(int32_t) * ntok);
    if (!*tokens) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    if (fread(*tokens, sizeof(int32_t), ntok, f) != ntok) {
        free(*tokens);
        *tokens = NULL;
        snprintf(why, why_size, "truncated token list");
        return false;
    }
    return true;
}

/* ---- KL-divergence ------------------------------------------------------- */

bool eval_kld_init(eval_kld *k, int64_t positions) {
    memset(k, 0, sizeof *k);
    k->kld_values = malloc(sizeof(float) * (size_t)(positions > 0 ? positions : 1));
    k->p_diff_values = malloc(sizeof(float) * (size_t)(positions > 0 ? positions : 1));
    k->capacity = positions;
    if (!k->kld_values || !k->p_diff_values) {
        eval_kld_free(k);
        return false;
    }
    return true;
}

void eval_kld_free(eval_kld *k) {
    free(k->kld_values);
    free(k->p_diff_values);
    k->kld_values = k->p_diff_values = NULL;
}

static void kld_add_row(eval_kld *k, const float *logits, int64_t n_vocab, const uint16_t *base,
                        int32_t token) {
    const row_softmax r = softmax_of(logits, n_vocab);
    const float scale = lq_load_f32(base), min_log_prob = lq_load_f32(base + 2);
    const uint16_t *q = base + 4;
    const float nll = r.max_logit + r.log_sum_exp - logits[token];
    const float nll_base = -(scale * q[token] + min_log_prob);
    k->sum_nll += nll;
    k->sum_nll2 += nll * nll;
    k->sum_nll_base += nll_base;
    k->sum_nll_base2 += nll_base * nll_base;
    k->sum_nll_nll_base += nll * nll_base;
    const float log_norm = r.max_logit + r.log_sum_exp;
    double kld = 0.0;
    int64_t argmax_base = 0;
    float best_base = 0.0f;
    for (int64_t i = 0; i < n_vocab; i++) {
        const float log_p_base = scale * q[i] + min_log_prob;
        if (i == 0 || log_p_base > best_base) {
            best_base = log_p_base;
            argmax_base = i;
        }
        /* terms of p_base < 1e-7 are negligible */
        if (log_p_base > -16.0f)
            kld += expf(log_p_base) * (log_p_base - logits[i] + log_norm);
    }
    k->sum_kld += kld;
    k->sum_kld2 += kld * kld;
    k->n_same_top += r.argmax == argmax_base;
    const float p_diff = expf(-nll) - expf(-nll_base);
    const double p_diff2 = (double)p_diff * p_diff;
    k->sum_p_diff += p_diff;
    k->sum_p_diff2 += p_diff2;
    k->sum_p_diff4 += p_diff2 * p_diff2;
    if (fabsf(p_diff) > k->max_p_diff)
        k->max_p_diff = fabsf(p_diff);
    if (k->count < k->capacity) {
        k->kld_values[k->count] = (float)kld;
        k->p_diff_values[k->count] = p_diff;
    }
    k->count++;
}

void eval_kld_add(eval_kld *k, const float *logits, int64_t n_vocab, const uint16_t *base,
                  const int32_t *next_tokens, int64_t count) {
    const int64_t record = eval_base_record_size(n_vocab);
    for (int64_t i = 0; i < count; i++)
        kld_add_row(k, logits + i * n_vocab, n_vocab, base + i * record, next_tokens[i]);
}

typedef struct estimate {
    double value, error;
} estimate;

static estimate mean_and_error(double sum, double sum2, int64_t count) {
    if (count < 1)
        return (estimate){0.0, 0.0};
    const double mean = sum / (double)count;
    const double var = sum2 / (double)count - mean * mean;
    return (estimate){mean, var > 0 && count > 10 ? sqrt(var / (double)(count - 1)) : 0.0};
}

static double covariance(double sum_a, double sum_b, double sum_ab, int64_t count) {
    if (count < 10)
        return 0.0;
    const double n = (double)count;
    return (sum_ab / n - (sum_a / n) * (sum_b / n)) / (n - 1);
}

void eval_kld_print_header(FILE *out) {
    fprintf(out, "\nchunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence"
                 "              \xce\x94p RMS            Same top p\n");
}

/* The rows share these: log PPL(Q), log PPL(base), their ratio, the RMS of
 * the probability change and the share of equal top tokens. */
typedef struct kld_summary {
    estimate log_ppl, log_ppl_base, log_ratio, kld, p_diff_rms, same_top;
    double log_cov;
} kld_summary;

static kld_summary summarize(const eval_kld *k) {
    kld_summary s;
    s.log_ppl = mean_and_error(k->sum_nll, k->sum_nll2, k->count);
    s.log_ppl_base = mean_and_error(k->sum_nll_base, k->sum_nll_base2, k->count);
    s.log_cov = covariance(k->sum_nll, k->sum_nll_base, k->sum_nll_nll_base, k->count);
    s.log_ratio.value = s.log_ppl.value - s.log_ppl_base.value;
    s.log_ratio.error = sqrt(s.log_ppl.error * s.log_ppl.error +
                             s.log_ppl_base.error * s.log_ppl_base.error - 2.0 * s.log_cov);
    s.kld = mean_and_error(k->sum_kld, k->sum_kld2, k->count);
    const estimate mse = mean_and_error(k->sum_p_diff2, k->sum_p_diff4, k->count);
    s.p_diff_rms.value = sqrt(mse.value);
    s.p_diff_rms.error = s.p_diff_rms.value > 0 ? 0.5 / s.p_diff_rms.value * mse.error : 0.0;
    s.same_top.value = k->count > 0 ? (double)k->n_same_top / (double)k->count : 0.0;
    s.same_top.error = k->count > 1 ? sqrt(s.same_top.value * (1 - s.same_top.value) /
                                           (double)(k->count - 1))
                                    : 0.0;
    return s;
}

void eval_kld_print_chunk(FILE *out, const eval_kld *k, int chunk) {
    const kld_summary s = summarize(k);
    const double ppl = exp(s.log_ppl.value);
    fprintf(out, "%4d", chunk);
    fprintf(out, "    %9.4lf \xc2\xb1 %9.4lf", ppl, ppl * s.log_ppl.error);
    fprintf(out, "    %10.5lf \xc2\xb1 %10.5lf", s.log_ratio.value, s.log_ratio.error);
    fprintf(out, "    %10.5lf \xc2\xb1 %10.5lf", s.kld.value, s.kld.error);
    fprintf(out, "    %6.3lf \xc2\xb1 %6.3lf %%", 100.0 * s.p_diff_rms.value,
            100.0 * s.p_diff_rms.error);
    fprintf(out, "    %6.3lf \xc2\xb1 %6.3lf %%\n", 100.0 * s.same_top.value,
            100.0 * s.same_top.error);
}

static int compare_floats(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float percentile(const float *sorted, int64_t n, float fraction) {
    if (fraction <= 0)
        return sorted[0];
    if (fraction >= 1)
        return sorted[n - 1];
    float p = fraction * (float)(n - 1);
    const int64_t ip = (int64_t)p;
    p -= (float)ip;
    return (1 - p) * sorted[ip] + p * sorted[ip + 1 < n ? ip + 1 : n - 1];
}

static float median(const float *sorted, int64_t n) {
    return n % 2 == 0 ? 0.5f * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[n / 2];
}

static void print_perplexity_summary(FILE *out, const kld_summary *s) {
    const double ppl = exp(s->log_ppl.value), ppl_err = ppl * s->log_ppl.error;
    const double base = exp(s->log_ppl_base.value), base_err = base * s->log_ppl_base.error;
    fprintf(out, "====== Perplexity statistics ======\n");
    fprintf(out, "Mean PPL(Q)                   : %10.6lf \xc2\xb1 %10.6lf\n", ppl, ppl_err);
    fprintf(out, "Mean PPL(base)                : %10.6lf \xc2\xb1 %10.6lf\n", base, base_err);
    fprintf(out, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2lf%%\n",
            100.0 * s->log_cov / (s->log_ppl.error * s->log_ppl_base.error));
    fprintf(out, "Mean ln(PPL(Q)/PPL(base))     : %10.6lf \xc2\xb1 %10.6lf\n",
            s->log_ratio.value, s->log_ratio.error);
    const double ratio = exp(s->log_ratio.value);
    fprintf(out, "Mean PPL(Q)/PPL(base)         : %10.6lf \xc2\xb1 %10.6lf\n", ratio,
            ratio * s->log_ratio.error);
    const double cov = ppl * base * s->log_cov;
    fprintf(out, "Mean PPL(Q)-PPL(base)         : %10.6lf \xc2\xb1 %10.6lf\n\n", ppl - base,
            sqrt(ppl_err * ppl_err + base_err * base_err - 2.0 * cov));
}

static void print_kld_distribution(FILE *out, const kld_summary *s, const float *v, int64_t n) {
    static const struct {
        const char *label;
        float fraction;
    } rows[] = {{"99.9%   KLD", 0.999f}, {"99.0%   KLD", 0.990f}, {"95.0%   KLD", 0.950f},
                {"90.0%   KLD", 0.900f}, {NULL, 0.5f},          {"10.0%   KLD", 0.100f},
                {" 5.0%   KLD", 0.050f}, {" 1.0%   KLD", 0.010f}, {" 0.1%   KLD", 0.001f}};
    fprintf(out, "====== KL divergence statistics ======\n");
    fprintf(out, "Mean    KLD: %10.6lf \xc2\xb1 %10.6lf\n", s->kld.value, s->kld.error);
    fprintf(out, "Maximum KLD: %10.6f\n", (double)v[n - 1]);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].label)
            fprintf(out, "%s: %10.6f\n", rows[i].label, (double)percentile(v, n, rows[i].fraction));
        else
            fprintf(out, "Median  KLD: %10.6f\n", (double)median(v, n));
    }
    fprintf(out, "Minimum KLD: %10.6f\n\n", (double)v[0]);
}

static void print_p_diff_distribution(FILE *out, const eval_kld *k, const kld_summary *s,
                                      const float *v, int64_t n) {
    static const struct {
        const char *label;
        float fraction;
    } rows[] = {{"99.9%", 0.999f}, {"99.0%", 0.990f}, {"95.0%", 0.950f}, {"90.0%", 0.900f},
                {"75.0%", 0.750f}, {NULL, 0.5f},      {"25.0%", 0.250f}, {"10.0%", 0.100f},
                {" 5.0%", 0.050f}, {" 1.0%", 0.010f}, {" 0.1%", 0.001f}};
    const estimate mean = mean_and_error(k->sum_p_diff, k->sum_p_diff2, k->count);
    fprintf(out, "====== Token probability statistics ======\n");
    fprintf(out, "Mean    \xce\x94p: %6.3lf \xc2\xb1 %5.3lf %%\n", 100.0 * mean.value,
            100.0 * mean.error);
    fprintf(out, "Maximum \xce\x94p: %6.3lf%%\n", 100.0 * v[n - 1]);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].label)
            fprintf(out, "%s   \xce\x94p: %6.3lf%%\n", rows[i].label,
                    100.0 * percentile(v, n, rows[i].fraction));
        else
            fprintf(out, "Median  \xce\x94p: %6.3lf%%\n", 100.0 * median(v, n));
    }
    fprintf(out, "Minimum \xce\x94p: %6.3lf%%\n", 100.0 * v[0]);
    fprintf(out, "RMS \xce\x94p    : %6.3lf \xc2\xb1 %5.3lf %%\n", 100.0 * s->p_diff_rms.value,
            100.0 * s->p_diff_rms.error);
    fprintf(out, "Same top p: %6.3lf \xc2\xb1 %5.3lf %%\n", 100.0 * s->same_top.value,
            100.0 * s->same_top.error);
}

void eval_kld_print_summary(FILE *out, eval_kld *k) {
    fprintf(out, "\n");
    const int64_t n = k->count < k->capacity ? k->count : k->capacity;
    if (k->count < 100 || n < 1)
        return; /* too few values for statistics */
    qsort(k->kld_values, (size_t)n, sizeof(float), compare_floats);
    qsort(k->p_diff_values, (size_t)n, sizeof(float), compare_floats);
    const kld_summary s = summarize(k);
    print_perplexity_summary(out, &s);
    print_kld_distribution(out, &s, k->kld_values, n);
    print_p_diff_distribution(out, k, &s, k->p_diff_values, n);
}
