/*
 * Activation statistics for importance matrices: for every weight matrix,
 * the sum over tokens of each input column's squared activation, the number
 * of tokens, and the number of calls (one per matrix per chunk), as
 * ik_llama.cpp's llama-imatrix collects them. A tensor of experts has these
 * per expert (sums and tokens; one call per product, whichever experts it
 * used).
 */
#ifndef QUANT_IMATRIX_COLLECT_H
#define QUANT_IMATRIX_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "quant_imatrix.h"

typedef struct imatrix_collector imatrix_collector;

imatrix_collector *imatrix_collector_new(void);
void imatrix_collector_free(imatrix_collector *c);

/* Add n activation vectors of ncols floats, inputs of the matrix `name`:
 * sums[j] += x[t][j]^2, tokens += n, calls += 1. LQ_OK,
 * LQ_ERR_BAD_SHAPE (ncols differs from an earlier call for the name),
 * LQ_ERR_NONFINITE (a NaN or infinity in x) or LQ_ERR_NO_MEMORY. */
int imatrix_collect(imatrix_collector *c, const char *name, int64_t ncols, const float *x,
                    int64_t n);

/* The same for a tensor of nmat experts: the vectors of expert e are
 * x[rows[e] .. rows[e + 1]) (rows: nmat + 1 non-decreasing offsets from 0);
 * an expert's sums and tokens grow by its vectors, calls by 1. */
int imatrix_collect_experts(imatrix_collector *c, const char *name, int64_t ncols,
                            int64_t nmat, const float *x, const int64_t *rows);

int64_t imatrix_collector_count(const imatrix_collector *c);
/* The largest call count of any entry (the chunks seen). */
int64_t imatrix_collector_calls(const imatrix_collector *c);

/* Called for an entry of which `without` of its nmat experts saw no token;
 * skipped: the entry is left out of the export. */
typedef void (*imatrix_report_fn)(void *user, const char *name, int64_t without, int64_t nmat,
                                  bool skipped);

/* Entries in first-seen order, added to m (nmat values per entry, one per
 * expert). In LQ_IMATRIX_LEGACY units each entry gets the reference's .dat
 * values, mean(x^2) * calls, and count = calls; an entry with an expert
 * that saw no token is left out, as the reference does. In LQ_IMATRIX_GGUF
 * units the raw sums and count = tokens (as mainline llama.cpp stores
 * them; an unused expert has count 0). Either way sums / counts is the mean
 * of x^2. report (may be NULL) hears of every entry with unused experts. */
int imatrix_collector_export(const imatrix_collector *c, lq_imatrix_format units,
                             lq_imatrix *m, imatrix_report_fn report, void *user);

#endif
