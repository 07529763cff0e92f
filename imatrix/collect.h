/*
 * Activation statistics for importance matrices: for every weight matrix,
 * the sum over tokens of each input column's squared activation, the number
 * of tokens, and the number of calls (one per matrix per chunk), as
 * ik_llama.cpp's llama-imatrix collects them.
 */
#ifndef QUANT_IMATRIX_COLLECT_H
#define QUANT_IMATRIX_COLLECT_H

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

int64_t imatrix_collector_count(const imatrix_collector *c);
/* The largest call count of any entry (the chunks seen). */
int64_t imatrix_collector_calls(const imatrix_collector *c);

/* Entries in first-seen order, added to m. In LQ_IMATRIX_LEGACY units each
 * entry gets the reference's .dat values, mean(x^2) * calls, and count =
 * calls; in LQ_IMATRIX_GGUF units the raw sums and count = tokens (as
 * mainline llama.cpp stores them). Either way sums / counts is the mean of
 * x^2. */
int imatrix_collector_export(const imatrix_collector *c, lq_imatrix_format units,
                             lq_imatrix *m);

#endif
