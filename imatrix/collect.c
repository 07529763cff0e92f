/*
 * Activation statistics for importance matrices: see collect.h. Sums are
 * kept in double so that long runs lose no precision; they are rounded to
 * float only on export.
 */
#include "collect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

typedef struct collect_entry {
    char *name;
    int64_t ncols, nmat; /* nmat experts of ncols columns (1 for a matrix) */
    double *sums;        /* [expert][column] */
    int64_t *tokens;     /* per expert */
    int64_t calls;
} collect_entry;

struct imatrix_collector {
    collect_entry *entries;
    int64_t count, capacity;
};

imatrix_collector *imatrix_collector_new(void) { return calloc(1, sizeof(imatrix_collector)); }

void imatrix_collector_free(imatrix_collector *c) {
    if (!c)
        return;
    for (int64_t i = 0; i < c->count; i++) {
        free(c->entries[i].name);
        free(c->entries[i].sums);
        free(c->entries[i].tokens);
    }
    free(c->entries);
    free(c);
}

static collect_entry *find_entry(imatrix_collector *c, const char *name) {
    /* a few hundred entries at most, each looked up once per chunk */
    for (int64_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].name, name) == 0)
            return &c->entries[i];
    return NULL;
}

static collect_entry *add_entry(imatrix_collector *c, const char *name, int64_t ncols,
                                int64_t nmat) {
    if (c->count == c->capacity) {
        int64_t cap = c->capacity ? c->capacity * 2 : 64;
        collect_entry *entries = realloc(c->entries, sizeof(collect_entry) * (size_t)cap);
        if (!entries)
            return NULL;
        c->entries = entries;
        c->capacity = cap;
    }
    collect_entry e = {strdup(name), ncols, nmat, calloc((size_t)(ncols * nmat), sizeof(double)),
                       calloc((size_t)nmat, sizeof(int64_t)), 0};
    if (!e.name || !e.sums || !e.tokens) {
        free(e.name);
        free(e.sums);
        free(e.tokens);
        return NULL;
    }
    c->entries[c->count] = e;
    return &c->entries[c->count++];
}

static void accumulate(double *sums, int64_t ncols, const float *x, int64_t n) {
    for (int64_t t = 0; t < n; t++) {
        const float *row = x + t * ncols;
        for (int64_t j = 0; j < ncols; j++)
            sums[j] += (double)row[j] * row[j];
    }
}

int imatrix_collect_experts(imatrix_collector *c, const char *name, int64_t ncols,
                            int64_t nmat, const float *x, const int64_t *rows) {
    if (ncols < 1 || nmat < 1 || !rows || rows[0] != 0)
        return LQ_ERR_INVALID_ARGUMENT;
    for (int64_t e = 0; e < nmat; e++)
        if (rows[e + 1] < rows[e])
            return LQ_ERR_INVALID_ARGUMENT;
    if (lq_find_nonfinite(x, rows[nmat] * ncols) >= 0)
        return LQ_ERR_NONFINITE;
    collect_entry *e = find_entry(c, name);
    if (e && (e->ncols != ncols || e->nmat != nmat))
        return LQ_ERR_BAD_SHAPE;
    if (!e && !(e = add_entry(c, name, ncols, nmat)))
        return LQ_ERR_NO_MEMORY;
    for (int64_t k = 0; k < nmat; k++) {
        accumulate(e->sums + k * ncols, ncols, x + rows[k] * ncols, rows[k + 1] - rows[k]);
        e->tokens[k] += rows[k + 1] - rows[k];
    }
    /* one call per product, however many experts it used (the reference's
     * count of a MUL_MAT_ID) */
    e->calls++;
    return LQ_OK;
}

int imatrix_collect(imatrix_collector *c, const char *name, int64_t ncols, const float *x,
                    int64_t n) {
    if (ncols < 1 || n < 0)
        return LQ_ERR_INVALID_ARGUMENT;
    const int64_t rows[2] = {0, n};
    return imatrix_collect_experts(c, name, ncols, 1, x, rows);
}

int64_t imatrix_collector_count(const imatrix_collector *c) { return c->count; }

int64_t imatrix_collector_calls(const imatrix_collector *c) {
    int64_t most = 0;
    for (int64_t i = 0; i < c->count; i++)
        if (c->entries[i].calls > most)
            most = c->entries[i].calls;
    return most;
}

static int64_t experts_without_tokens(const collect_entry *e) {
    int64_t none = 0;
    for (int64_t k = 0; k < e->nmat; k++)
        none += e->tokens[k] == 0;
    return none;
}

static int export_entry(const collect_entry *e, lq_imatrix_format units, lq_imatrix *m) {
    const int64_t n = e->ncols * e->nmat;
    float *sums = malloc(sizeof(float) * (size_t)n);
    float *counts = malloc(sizeof(float) * (size_t)e->nmat);
    if (!sums || !counts) {
        free(sums);
        free(counts);
        return LQ_ERR_NO_MEMORY;
    }
    for (int64_t k = 0; k < e->nmat; k++) {
        const double *s = e->sums + k * e->ncols;
        const double tokens = (double)e->tokens[k];
        float *out = sums + k * e->ncols;
        if (units == LQ_IMATRIX_LEGACY) {
            /* the reference writes (sum / tokens) * calls, in float */
            counts[k] = (float)e->calls;
            for (int64_t j = 0; j < e->ncols; j++)
                out[j] = tokens > 0 ? (float)(s[j] / tokens) * counts[k] : 0.0f;
        } else {
            counts[k] = (float)e->tokens[k];
            for (int64_t j = 0; j < e->ncols; j++)
                out[j] = (float)s[j];
        }
    }
    int st = lq_imatrix_add(m, e->name, e->ncols, e->nmat, sums, counts);
    free(sums);
    free(counts);
    return st;
}

int imatrix_collector_export(const imatrix_collector *c, lq_imatrix_format units,
                             lq_imatrix *m, imatrix_report_fn report, void *user) {
    int st = LQ_OK;
    for (int64_t i = 0; i < c->count && st == LQ_OK; i++) {
        const collect_entry *e = &c->entries[i];
        const int64_t none = experts_without_tokens(e);
        /* the legacy format has no per-expert counts: the reference leaves
         * out an entry that some expert has no data for */
        const bool skip = none > 0 && units == LQ_IMATRIX_LEGACY;
        if (none > 0 && report)
            report(user, e->name, none, e->nmat, skip);
        if (!skip)
            st = export_entry(e, units, m);
    }
    return st;
}
