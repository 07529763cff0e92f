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
    int64_t ncols;
    double *sums;
    int64_t tokens, calls;
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

static collect_entry *add_entry(imatrix_collector *c, const char *name, int64_t ncols) {
    if (c->count == c->capacity) {
        int64_t cap = c->capacity ? c->capacity * 2 : 64;
        collect_entry *entries = realloc(c->entries, sizeof(collect_entry) * (size_t)cap);
        if (!entries)
            return NULL;
        c->entries = entries;
        c->capacity = cap;
    }
    collect_entry e = {strdup(name), ncols, calloc((size_t)ncols, sizeof(double)), 0, 0};
    if (!e.name || !e.sums) {
        free(e.name);
        free(e.sums);
        return NULL;
    }
    c->entries[c->count] = e;
    return &c->entries[c->count++];
}

int imatrix_collect(imatrix_collector *c, const char *name, int64_t ncols, const float *x,
                    int64_t n) {
    if (ncols < 1 || n < 0)
        return LQ_ERR_INVALID_ARGUMENT;
    if (lq_find_nonfinite(x, n * ncols) >= 0)
        return LQ_ERR_NONFINITE;
    collect_entry *e = find_entry(c, name);
    if (e && e->ncols != ncols)
        return LQ_ERR_BAD_SHAPE;
    if (!e && !(e = add_entry(c, name, ncols)))
        return LQ_ERR_NO_MEMORY;
    for (int64_t t = 0; t < n; t++) {
        const float *row = x + t * ncols;
        for (int64_t j = 0; j < ncols; j++)
            e->sums[j] += (double)row[j] * row[j];
    }
    e->tokens += n;
    e->calls++;
    return LQ_OK;
}

int64_t imatrix_collector_count(const imatrix_collector *c) { return c->count; }

int64_t imatrix_collector_calls(const imatrix_collector *c) {
    int64_t most = 0;
    for (int64_t i = 0; i < c->count; i++)
        if (c->entries[i].calls > most)
            most = c->entries[i].calls;
    return most;
}

static int export_entry(const collect_entry *e, lq_imatrix_format units, lq_imatrix *m) {
    float *sums = malloc(sizeof(float) * (size_t)e->ncols);
    if (!sums)
        return LQ_ERR_NO_MEMORY;
    float count;
    if (units == LQ_IMATRIX_LEGACY) {
        /* the reference writes (sum / tokens) * calls, in float */
        count = (float)e->calls;
        for (int64_t j = 0; j < e->ncols; j++)
            sums[j] = e->tokens > 0 ? (float)(e->sums[j] / (double)e->tokens) * count : 0.0f;
    } else {
        count = (float)e->tokens;
        for (int64_t j = 0; j < e->ncols; j++)
            sums[j] = (float)e->sums[j];
    }
    int st = lq_imatrix_add(m, e->name, e->ncols, 1, sums, &count);
    free(sums);
    return st;
}

int imatrix_collector_export(const imatrix_collector *c, lq_imatrix_format units,
                             lq_imatrix *m) {
    int st = LQ_OK;
    for (int64_t i = 0; i < c->count && st == LQ_OK; i++)
        st = export_entry(&c->entries[i], units, m);
    return st;
}
