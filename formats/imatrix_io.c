/*
 * Importance matrices: the legacy .dat format and mainline's GGUF format,
 * read, written and combined (see quant_imatrix.h for both layouts).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_internal.h"
#include "quant.h"
#include "quant_imatrix.h"

#define SUMS_SUFFIX ".in_sum2"
#define COUNTS_SUFFIX ".counts"
/* Names longer than this are refused: no tensor name comes close. */
#define MAX_NAME_LENGTH 4096

lq_imatrix *lq_imatrix_new(void) {
    lq_imatrix *m = calloc(1, sizeof *m);
    if (m)
        m->format = LQ_IMATRIX_GGUF;
    return m;
}

static void free_entry(lq_imatrix_entry *e) {
    free(e->name);
    free(e->sums);
    free(e->counts);
}

void lq_imatrix_free(lq_imatrix *m) {
    if (!m)
        return;
    for (int64_t i = 0; i < m->count; i++)
        free_entry(&m->entries[i]);
    for (int64_t i = 0; i < m->dataset_count; i++)
        free(m->datasets[i]);
    free(m->entries);
    free(m->datasets);
    free(m);
}

static bool all_non_negative(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(v[i] >= 0.0f) || !isfinite(v[i]))
            return false;
    return true;
}

const lq_imatrix_entry *lq_imatrix_find(const lq_imatrix *m, const char *name) {
    for (int64_t i = 0; m && name && i < m->count; i++)
        if (strcmp(m->entries[i].name, name) == 0)
            return &m->entries[i];
    return NULL;
}

int lq_imatrix_add(lq_imatrix *m, const char *name, int64_t ncols, int64_t nmat,
                   const float *sums, const float *counts) {
    if (!m || !name || !sums || !counts || ncols < 1 || nmat < 1 ||
        ncols > INT64_MAX / nmat / (int64_t)sizeof(float) || lq_imatrix_find(m, name) ||
        !all_non_negative(sums, ncols * nmat) || !all_non_negative(counts, nmat))
        return LQ_ERR_INVALID_ARGUMENT;
    lq_imatrix_entry *grown = realloc(m->entries, sizeof *grown * (size_t)(m->count + 1));
    if (!grown)
        return LQ_ERR_NO_MEMORY;
    m->entries = grown;
    lq_imatrix_entry e = {.name = strdup(name), .ncols = ncols, .nmat = nmat,
                          .sums = malloc(sizeof(float) * (size_t)(ncols * nmat)),
                          .counts = malloc(sizeof(float) * (size_t)nmat)};
    if (!e.name || !e.sums || !e.counts) {
        free_entry(&e);
        return LQ_ERR_NO_MEMORY;
    }
    memcpy(e.sums, sums, sizeof(float) * (size_t)(ncols * nmat));
    memcpy(e.counts, counts, sizeof(float) * (size_t)nmat);
    m->entries[m->count++] = e;
    return LQ_OK;
}

int lq_imatrix_add_dataset(lq_imatrix *m, const char *dataset) {
    if (!m || !dataset)
        return LQ_ERR_INVALID_ARGUMENT;
    char **grown = realloc(m->datasets, sizeof *grown * (size_t)(m->dataset_count + 1));
    if (!grown)
        return LQ_ERR_NO_MEMORY;
    m->datasets = grown;
    if (!(m->datasets[m->dataset_count] = strdup(dataset)))
        return LQ_ERR_NO_MEMORY;
    m->dataset_count++;
    return LQ_OK;
}

int lq_imatrix_entry_weights(const lq_imatrix_entry *e, float *out, size_t out_capacity) {
    if (!e || !out)
        return LQ_ERR_INVALID_ARGUMENT;
    /* an entry's ncols * nmat floats are allocated, so the product fits */
    if ((uint64_t)(e->ncols * e->nmat) > (uint64_t)(out_capacity / sizeof(float)))
        return LQ_ERR_DST_TOO_SMALL;
    for (int64_t x = 0; x < e->nmat; x++) {
        const float *sums = e->sums + x * e->ncols;
        float *w = out + x * e->ncols;
        float count = e->counts[x];
        for (int64_t c = 0; c < e->ncols; c++)
            w[c] = count > 0.0f ? sums[c] / count : 1.0f;
    }
    return LQ_OK;
}

/* ---- legacy .dat --------------------------------------------------------- */

typedef struct byte_reader {
    const unsigned char *data;
    size_t size, pos;
    const char *name;
    lq_gguf_error *err;
} byte_reader;

static bool read_i32(byte_reader *r, int32_t *out) {
    if (r->size - r->pos < 4)
        return false;
    const unsigned char *p = r->data + r->pos;
    *out = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
    r->pos += 4;
    return true;
}

static float load_f32_le(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int truncated(byte_reader *r, const char *what, int64_t entry) {
    return lq_gguf_fail(r->err, LQ_ERR_FORMAT, "%s: offset %zu: truncated or invalid %s of entry %lld",
                        r->name, r->pos, what, (long long)entry + 1);
}

static int parse_legacy_entry(byte_reader *r, lq_imatrix *m, int64_t index) {
    int32_t len, ncall, nval;
    if (!read_i32(r, &len) || len < 1 || len > MAX_NAME_LENGTH || r->size - r->pos < (size_t)len)
        return truncated(r, "name", index);
    char name[MAX_NAME_LENGTH + 1];
    memcpy(name, r->data + r->pos, (size_t)len);
    name[len] = '\0';
    r->pos += (size_t)len;
    if (!read_i32(r, &ncall) || !read_i32(r, &nval) || nval < 1 ||
        (r->size - r->pos) / 4 < (size_t)nval)
        return truncated(r, "values", index);
    if (ncall < 0)
        return lq_gguf_fail(r->err, LQ_ERR_FORMAT, "%s: entry '%s': negative call count %d",
                            r->name, name, ncall);
    float *values = malloc(sizeof(float) * (size_t)nval);
    if (!values)
        return lq_gguf_fail(r->err, LQ_ERR_NO_MEMORY, "%s: out of memory", r->name);
    for (int32_t i = 0; i < nval; i++)
        values[i] = load_f32_le(r->data + r->pos + 4 * (size_t)i);
    r->pos += 4 * (size_t)nval;
    int64_t bad = -1;
    for (int32_t i = 0; i < nval && bad < 0; i++)
        if (!(values[i] >= 0.0f) || !isfinite(values[i]))
            bad = i;
    int st = LQ_OK;
    if (bad >= 0)
        st = lq_gguf_fail(r->err, LQ_ERR_FORMAT,
                          "%s: entry '%s': value %lld is %g: importance weights must be "
                          "finite and non-negative", r->name, name, (long long)bad,
                          (double)values[bad]);
    else if (lq_imatrix_find(m, name))
        st = lq_gguf_fail(r->err, LQ_ERR_FORMAT, "%s: entry '%s' appears twice", r->name, name);
    else {
        /* values are means times ncall, i.e. sums over ncall calls; with
         * ncall 0 the reference takes them as they are */
        float count = ncall > 0 ? (float)ncall : 1.0f;
        st = lq_imatrix_add(m, name, nval, 1, values, &count);
        if (st != LQ_OK)
            st = lq_gguf_fail(r->err, st, "%s: entry '%s': %s", r->name, name, lq_error_message(st));
    }
    free(values);
    return st;
}

int lq_imatrix_parse_legacy(const void *data, size_t size, const char *name, lq_imatrix **out,
                            lq_gguf_error *err) {
    byte_reader r = {data, size, 0, name, err};
    int32_t n_entries;
    if (!read_i32(&r, &n_entries) || n_entries < 1)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: not an importance matrix (no entries)", name);
    lq_imatrix *m = lq_imatrix_new();
    if (!m)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", name);
    m->format = LQ_IMATRIX_LEGACY;
    int st = LQ_OK;
    for (int32_t i = 0; i < n_entries && st == LQ_OK; i++)
        st = parse_legacy_entry(&r, m, i);
    if (st == LQ_OK && r.pos < r.size) {
        int32_t chunks, len;
        if (!read_i32(&r, &chunks) || !read_i32(&r, &len) || chunks < 0 || len < 0 ||
            r.size - r.pos < (size_t)len || len > MAX_NAME_LENGTH) {
            st = lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: offset %zu: malformed trailer", name, r.pos);
        } else {
            char dataset[MAX_NAME_LENGTH + 1];
            memcpy(dataset, r.data + r.pos, (size_t)len);
            dataset[len] = '\0';
            m->chunk_count = chunks;
            if (len > 0 && lq_imatrix_add_dataset(m, dataset) != LQ_OK)
                st = lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", name);
        }
    }
    if (st != LQ_OK) {
        lq_imatrix_free(m);
        return st;
    }
    *out = m;
    return LQ_OK;
}

static int read_whole_file(const char *path, unsigned char **data, size_t *size,
                           lq_gguf_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return lq_gguf_fail(err, LQ_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t bigger = cap ? cap * 2 : 1 << 16;
            unsigned char *grown = realloc(buf, bigger);
            if (!grown) {
                free(buf);
                fclose(f);
                return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
            }
            buf = grown;
            cap = bigger;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return lq_gguf_fail(err, LQ_ERR_IO, "%s: read error", path);
    }
    *data = buf;
    *size = len;
    return LQ_OK;
}

/* ---- GGUF ---------------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix, size_t *stem) {
    size_t n = strlen(s), m = strlen(suffix);
    if (n <= m || strcmp(s + n - m, suffix) != 0)
        return false;
    *stem = n - m;
    return true;
}

static const lq_gguf_tensor *find_counts(const lq_gguf *g, const char *name, size_t stem) {
    char key[MAX_NAME_LENGTH + sizeof COUNTS_SUFFIX];
    if (stem > MAX_NAME_LENGTH)
        return NULL;
    memcpy(key, name, stem);
    strcpy(key + stem, COUNTS_SUFFIX);
    return lq_gguf_find_tensor(g, key);
}

static int gguf_entry(const lq_gguf *g, const lq_gguf_tensor *sums, size_t stem, lq_imatrix *m,
                      lq_gguf_error *err) {
    const char *path = lq_gguf_path(g);
    char name[MAX_NAME_LENGTH + 1];
    if (stem > MAX_NAME_LENGTH)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: tensor name too long", path);
    memcpy(name, sums->name, stem);
    name[stem] = '\0';
    const lq_gguf_tensor *counts = find_counts(g, sums->name, stem);
    int64_t ncols = sums->ne[0], nmat = lq_gguf_tensor_rows(sums);
    if (!counts)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: entry '%s' has sums but no counts", path, name);
    if (sums->type != LQ_TYPE_F32 || counts->type != LQ_TYPE_F32 ||
        lq_gguf_tensor_rows(counts) * counts->ne[0] != nmat)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: entry '%s': sums and counts must be F32, one count per expert",
                            path, name);
    float *s = malloc(sizeof(float) * (size_t)(ncols * nmat));
    float *c = malloc(sizeof(float) * (size_t)nmat);
    int st = LQ_OK;
    if (!s || !c) {
        st = lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    } else {
        memcpy(s, sums->data, sizeof(float) * (size_t)(ncols * nmat));
        memcpy(c, counts->data, sizeof(float) * (size_t)nmat);
        if (!all_non_negative(s, ncols * nmat) || !all_non_negative(c, nmat))
            st = lq_gguf_fail(err, LQ_ERR_FORMAT,
                              "%s: entry '%s': NaN, Inf or negative values: importance "
                              "weights must be finite and non-negative", path, name);
        else if ((st = lq_imatrix_add(m, name, ncols, nmat, s, c)) != LQ_OK)
            st = lq_gguf_fail(err, st, "%s: entry '%s': %s", path, name, lq_error_message(st));
    }
    free(s);
    free(c);
    return st;
}

static int gguf_metadata(const lq_gguf *g, lq_imatrix *m, lq_gguf_error *err) {
    int64_t v;
    if (lq_gguf_get_i64(g, "imatrix.chunk_count", &v) == LQ_OK && v >= 0)
        m->chunk_count = v;
    if (lq_gguf_get_i64(g, "imatrix.chunk_size", &v) == LQ_OK && v >= 0)
        m->chunk_size = v;
    const lq_gguf_value *ds = lq_gguf_find(g, "imatrix.datasets");
    if (ds && ds->type == LQ_GGUF_ARRAY && ds->v.arr.elem_type == LQ_GGUF_STRING)
        for (uint64_t i = 0; i < ds->v.arr.count; i++)
            if (lq_imatrix_add_dataset(m, ds->v.arr.items[i].v.str.data) != LQ_OK)
                return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(g));
    return LQ_OK;
}

static int read_gguf(const char *path, lq_imatrix **out, lq_gguf_error *err) {
    lq_gguf *g = NULL;
    int st = lq_gguf_open(path, &g, err);
    if (st != LQ_OK)
        return st;
    const char *kind = NULL;
    if (lq_gguf_get_str(g, "general.type", &kind) == LQ_OK && strcmp(kind, "imatrix") != 0) {
        lq_gguf_close(g);
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: a GGUF file of type '%s', not an imatrix",
                            path, kind);
    }
    lq_imatrix *m = lq_imatrix_new();
    st = m ? gguf_metadata(g, m, err) : lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "out of memory");
    size_t stem;
    for (int64_t i = 0; st == LQ_OK && i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        if (has_suffix(t->name, SUMS_SUFFIX, &stem))
            st = gguf_entry(g, t, stem, m, err);
    }
    if (st == LQ_OK && m->count == 0)
        st = lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: no " SUMS_SUFFIX " tensors: not an imatrix", path);
    lq_gguf_close(g);
    if (st != LQ_OK) {
        lq_imatrix_free(m);
        return st;
    }
    *out = m;
    return LQ_OK;
}

int lq_imatrix_read(const char *path, lq_imatrix **out, lq_gguf_error *err) {
    if (!path || !out)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "lq_imatrix_read: invalid argument");
    unsigned char *data = NULL;
    size_t size = 0;
    int st = read_whole_file(path, &data, &size, err);
    if (st != LQ_OK)
        return st;
    bool is_gguf = size >= 4 && memcmp(data, "GGUF", 4) == 0;
    if (!is_gguf)
        st = lq_imatrix_parse_legacy(data, size, path, out, err);
    free(data);
    return is_gguf ? read_gguf(path, out, err) : st;
}

/* ---- writing ------------------------------------------------------------- */

static bool put_i32(FILE *f, int32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)((uint32_t)v >> 24)};
    return fwrite(b, 1, 4, f) == 4;
}

static bool put_f32(FILE *f, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return put_i32(f, (int32_t)u);
}

/* The legacy call count of an entry and the values to write with it. */
static float legacy_call_count(const lq_imatrix_entry *e) {
    float most = 0.0f;
    for (int64_t x = 0; x < e->nmat; x++)
        if (e->counts[x] > most)
            most = e->counts[x];
    return most;
}

static bool write_legacy_entry(FILE *f, const lq_imatrix_entry *e) {
    float ncall = legacy_call_count(e);
    size_t len = strlen(e->name);
    bool ok = put_i32(f, (int32_t)len) && fwrite(e->name, 1, len, f) == len &&
              put_i32(f, (int32_t)ncall) && put_i32(f, (int32_t)(e->ncols * e->nmat));
    for (int64_t x = 0; ok && x < e->nmat; x++) {
        float count = e->counts[x];
        for (int64_t c = 0; ok && c < e->ncols; c++) {
            float sum = e->sums[x * e->ncols + c];
            /* same experts' counts: the sums as they are; otherwise rescaled */
            ok = put_f32(f, count == ncall ? sum : count > 0 ? sum / count * ncall : ncall);
        }
    }
    return ok;
}

static int write_legacy(const lq_imatrix *m, const char *path, lq_gguf_error *err) {
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "out of memory");
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0)
        fchmod(fd, 0644); /* mkstemp makes it private; the GGUF writer's files are 0644 */
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int st = lq_gguf_fail(err, LQ_ERR_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return st;
    }
    bool ok = put_i32(f, (int32_t)m->count);
    for (int64_t i = 0; ok && i < m->count; i++)
        ok = write_legacy_entry(f, &m->entries[i]);
    if (ok && (m->chunk_count > 0 || m->dataset_count > 0)) {
        const char *dataset = m->dataset_count > 0 ? m->datasets[0] : "";
        size_t len = strlen(dataset);
        ok = put_i32(f, (int32_t)m->chunk_count) && put_i32(f, (int32_t)len) &&
             fwrite(dataset, 1, len, f) == len;
    }
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    int st = LQ_OK;
    if (!ok) {
        st = lq_gguf_fail(err, LQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return st;
}

static int describe_gguf(lq_gguf_writer *w, const lq_imatrix *m) {
    int st = lq_gguf_writer_set_str(w, "general.type", "imatrix");
    lq_gguf_value *names = calloc((size_t)m->dataset_count + 1, sizeof *names);
    if (!names)
        return LQ_ERR_NO_MEMORY;
    for (int64_t i = 0; i < m->dataset_count; i++)
        names[i] = (lq_gguf_value){.type = LQ_GGUF_STRING,
                                   .v.str = {m->datasets[i], strlen(m->datasets[i])}};
    lq_gguf_value datasets = {.type = LQ_GGUF_ARRAY,
                              .v.arr = {LQ_GGUF_STRING, (uint64_t)m->dataset_count, names}};
    if (st == LQ_OK)
        st = lq_gguf_writer_set(w, "imatrix.datasets", &datasets);
    free(names);
    if (st == LQ_OK)
        st = lq_gguf_writer_set_u32(w, "imatrix.chunk_count", (uint32_t)m->chunk_count);
    if (st == LQ_OK)
        st = lq_gguf_writer_set_u32(w, "imatrix.chunk_size", (uint32_t)m->chunk_size);
    char name[MAX_NAME_LENGTH + 16];
    for (int64_t i = 0; st == LQ_OK && i < m->count; i++) {
        const lq_imatrix_entry *e = &m->entries[i];
        int64_t sums_ne[2] = {e->ncols, e->nmat}, counts_ne[2] = {1, e->nmat};
        snprintf(name, sizeof name, "%s" SUMS_SUFFIX, e->name);
        int64_t idx = lq_gguf_writer_add_tensor(w, name, LQ_TYPE_F32, 2, sums_ne);
        snprintf(name, sizeof name, "%s" COUNTS_SUFFIX, e->name);
        if (idx >= 0)
            idx = lq_gguf_writer_add_tensor(w, name, LQ_TYPE_F32, 2, counts_ne);
        if (idx < 0)
            st = (int)idx;
    }
    return st;
}

static int write_gguf(const lq_imatrix *m, const char *path, lq_gguf_error *err) {
    lq_gguf_writer *w = lq_gguf_writer_new();
    const void **data = malloc(sizeof *data * (size_t)(2 * m->count + 1));
    int st = w && data ? describe_gguf(w, m) : LQ_ERR_NO_MEMORY;
    if (st != LQ_OK) {
        st = lq_gguf_fail(err, st, "%s: %s", path, lq_error_message(st));
    } else {
        for (int64_t i = 0; i < m->count; i++) {
            data[2 * i] = m->entries[i].sums;
            data[2 * i + 1] = m->entries[i].counts;
        }
        st = lq_gguf_write_file(w, path, data, err);
    }
    lq_gguf_writer_free(w);
    free(data);
    return st;
}

int lq_imatrix_write(const lq_imatrix *m, const char *path, lq_imatrix_format format,
                     lq_gguf_error *err) {
    if (!m || !path || m->count < 1)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "lq_imatrix_write: nothing to write");
    if (format == LQ_IMATRIX_LEGACY)
        return write_legacy(m, path, err);
    if (format == LQ_IMATRIX_GGUF)
        return write_gguf(m, path, err);
    return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "lq_imatrix_write: unknown format %d",
                        (int)format);
}

int lq_imatrix_combine(lq_imatrix *dst, const lq_imatrix *src, lq_gguf_error *err) {
    if (!dst || !src)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "lq_imatrix_combine: invalid argument");
    /* counts taken first: src may be dst */
    int64_t entries = src->count, datasets = src->dataset_count;
    for (int64_t i = 0; i < entries; i++) {
        const lq_imatrix_entry *s = &src->entries[i];
        lq_imatrix_entry *d = (lq_imatrix_entry *)lq_imatrix_find(dst, s->name);
        if (!d) {
            int st = lq_imatrix_add(dst, s->name, s->ncols, s->nmat, s->sums, s->counts);
            if (st != LQ_OK)
                return lq_gguf_fail(err, st, "entry '%s': %s", s->name, lq_error_message(st));
            continue;
        }
        if (d->ncols != s->ncols || d->nmat != s->nmat)
            return lq_gguf_fail(err, LQ_ERR_FORMAT,
                                "entry '%s': %lld x %lld values here, %lld x %lld there", s->name,
                                (long long)d->ncols, (long long)d->nmat, (long long)s->ncols,
                                (long long)s->nmat);
        for (int64_t k = 0; k < s->ncols * s->nmat; k++)
            d->sums[k] += s->sums[k];
        for (int64_t x = 0; x < s->nmat; x++)
            d->counts[x] += s->counts[x];
    }
    for (int64_t i = 0; i < datasets; i++)
        if (lq_imatrix_add_dataset(dst, src->datasets[i]) != LQ_OK)
            return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "out of memory");
    dst->chunk_count += src->chunk_count;
    if (!dst->chunk_size)
        dst->chunk_size = src->chunk_size;
    return LQ_OK;
}
