/*
 * GGUF v3 writer.
 *
 * Metadata and tensor descriptions are collected first; lq_gguf_writer_begin
 * fixes the layout (alignment, shard of every tensor, offsets) and writes the
 * first header, after which tensor data is streamed in the order the tensors
 * were added. Each output file is written to PATH.tmp.XXXXXX beside its final
 * name and renamed only once everything has been written, so an error or an
 * abort never leaves a partial file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_internal.h"
#include "quant.h"

typedef struct writer_kv {
    char *key;
    lq_gguf_value value; /* deep copy, owned */
} writer_kv;

typedef struct writer_tensor {
    char *name;
    int type;
    int n_dims;
    int64_t ne[LQ_GGUF_MAX_DIMS];
    uint64_t size;
    uint64_t offset;     /* within its shard's data section */
    int requested_shard; /* -1: automatic */
    int shard;
} writer_tensor;

typedef struct writer_shard {
    char *path;
    char *tmp_path; /* NULL until created */
    FILE *file;
    bool renamed;
} writer_shard;

enum writer_state { WRITER_SETUP, WRITER_STREAMING, WRITER_DONE };

struct lq_gguf_writer {
    writer_kv *kvs;
    int64_t n_kv, kv_capacity;
    writer_tensor *tensors;
    int64_t n_tensors, tensor_capacity;
    uint64_t split_max_bytes;
    int64_t split_max_tensors;
    enum writer_state state;
    uint64_t alignment;
    bool split; /* shard file names and split.* keys */
    int n_shards;
    writer_shard *shards;
    int current_shard; /* the shard whose file is open, -1 before */
    int64_t next_tensor;
};

/* ---- values ------------------------------------------------------------- */

static void free_value(lq_gguf_value *v) {
    if (v->type == LQ_GGUF_STRING) {
        free((char *)v->v.str.data);
    } else if (v->type == LQ_GGUF_ARRAY) {
        lq_gguf_value *items = (lq_gguf_value *)v->v.arr.items;
        for (uint64_t i = 0; i < v->v.arr.count; i++)
            free_value(&items[i]);
        free(items);
    }
    memset(v, 0, sizeof *v);
}

static bool valid_value_type(int type) { return type >= LQ_GGUF_U8 && type <= LQ_GGUF_F64; }

static int copy_value(lq_gguf_value *dst, const lq_gguf_value *src, int depth) {
    memset(dst, 0, sizeof *dst);
    if (!valid_value_type(src->type) || depth >= LQ_GGUF_MAX_NESTING)
        return LQ_ERR_INVALID_ARGUMENT;
    *dst = *src;
    if (src->type == LQ_GGUF_STRING) {
        if (!src->v.str.data && src->v.str.len > 0)
            return LQ_ERR_INVALID_ARGUMENT;
        if (src->v.str.len >= SIZE_MAX)
            return LQ_ERR_NO_MEMORY;
        char *s = malloc((size_t)src->v.str.len + 1);
        if (!s) {
            dst->type = LQ_GGUF_U8;
            return LQ_ERR_NO_MEMORY;
        }
        if (src->v.str.len)
            memcpy(s, src->v.str.data, (size_t)src->v.str.len);
        s[src->v.str.len] = '\0';
        dst->v.str.data = s;
    } else if (src->type == LQ_GGUF_ARRAY) {
        uint64_t n = src->v.arr.count;
        dst->v.arr.items = NULL;
        dst->v.arr.count = 0;
        if (!valid_value_type(src->v.arr.elem_type) || (n > 0 && !src->v.arr.items))
            return LQ_ERR_INVALID_ARGUMENT;
        if (n == 0)
            return LQ_OK;
        if (n > SIZE_MAX / sizeof(lq_gguf_value))
            return LQ_ERR_NO_MEMORY;
        lq_gguf_value *items = calloc((size_t)n, sizeof *items);
        if (!items)
            return LQ_ERR_NO_MEMORY;
        dst->v.arr.items = items;
        for (uint64_t i = 0; i < n; i++) {
            if (src->v.arr.items[i].type != src->v.arr.elem_type)
                return LQ_ERR_INVALID_ARGUMENT;
            dst->v.arr.count = i + 1;
            int st = copy_value(&items[i], &src->v.arr.items[i], depth + 1);
            if (st != LQ_OK)
                return st;
        }
    }
    return LQ_OK;
}

/* ---- building ----------------------------------------------------------- */

lq_gguf_writer *lq_gguf_writer_new(void) {
    lq_gguf_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->current_shard = -1;
        w->alignment = LQ_GGUF_DEFAULT_ALIGNMENT;
    }
    return w;
}

static void free_shards(lq_gguf_writer *w) {
    for (int i = 0; i < w->n_shards; i++) {
        free(w->shards[i].path);
        free(w->shards[i].tmp_path);
    }
    free(w->shards);
    w->shards = NULL;
    w->n_shards = 0;
}

void lq_gguf_writer_free(lq_gguf_writer *w) {
    if (!w)
        return;
    lq_gguf_writer_abort(w);
    for (int64_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free_value(&w->kvs[i].value);
    }
    free(w->kvs);
    for (int64_t i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].name);
    free(w->tensors);
    free(w);
}

static int64_t find_kv(const lq_gguf_writer *w, const char *key) {
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kvs[i].key, key) == 0)
            return i;
    return -1;
}

static int grow(void **items, int64_t *capacity, int64_t needed, size_t item_size) {
    if (needed <= *capacity)
        return LQ_OK;
    int64_t cap = *capacity ? *capacity * 2 : 16;
    if (cap < needed)
        cap = needed;
    if ((uint64_t)cap > SIZE_MAX / item_size)
        return LQ_ERR_NO_MEMORY;
    void *p = realloc(*items, (size_t)cap * item_size);
    if (!p)
        return LQ_ERR_NO_MEMORY;
    *items = p;
    *capacity = cap;
    return LQ_OK;
}

int lq_gguf_writer_set(lq_gguf_writer *w, const char *key, const lq_gguf_value *value) {
    if (!w || !key || !*key || !value)
        return LQ_ERR_INVALID_ARGUMENT;
    if (w->state != WRITER_SETUP)
        return LQ_ERR_INVALID_ARGUMENT;
    lq_gguf_value copy;
    int st = copy_value(&copy, value, 0);
    if (st != LQ_OK) {
        free_value(&copy);
        return st;
    }
    int64_t at = find_kv(w, key);
    if (at >= 0) {
        free_value(&w->kvs[at].value);
        w->kvs[at].value = copy;
        return LQ_OK;
    }
    char *key_copy = strdup(key);
    st = key_copy ? grow((void **)&w->kvs, &w->kv_capacity, w->n_kv + 1, sizeof *w->kvs)
                  : LQ_ERR_NO_MEMORY;
    if (st != LQ_OK) {
        free(key_copy);
        free_value(&copy);
        return st;
    }
    w->kvs[w->n_kv++] = (writer_kv){key_copy, copy};
    return LQ_OK;
}

static int set_scalar(lq_gguf_writer *w, const char *key, int type, lq_gguf_value v) {
    v.type = type;
    return lq_gguf_writer_set(w, key, &v);
}

int lq_gguf_writer_set_u32(lq_gguf_writer *w, const char *key, uint32_t v) {
    return set_scalar(w, key, LQ_GGUF_U32, (lq_gguf_value){.v.u64 = v});
}
int lq_gguf_writer_set_i32(lq_gguf_writer *w, const char *key, int32_t v) {
    return set_scalar(w, key, LQ_GGUF_I32, (lq_gguf_value){.v.i64 = v});
}
int lq_gguf_writer_set_u64(lq_gguf_writer *w, const char *key, uint64_t v) {
    return set_scalar(w, key, LQ_GGUF_U64, (lq_gguf_value){.v.u64 = v});
}
int lq_gguf_writer_set_f32(lq_gguf_writer *w, const char *key, float v) {
    return set_scalar(w, key, LQ_GGUF_F32, (lq_gguf_value){.v.f64 = v});
}
int lq_gguf_writer_set_bool(lq_gguf_writer *w, const char *key, bool v) {
    return set_scalar(w, key, LQ_GGUF_BOOL, (lq_gguf_value){.v.u64 = v});
}
int lq_gguf_writer_set_str(lq_gguf_writer *w, const char *key, const char *v) {
    if (!v)
        return LQ_ERR_INVALID_ARGUMENT;
    lq_gguf_value value = {.type = LQ_GGUF_STRING};
    value.v.str.data = v;
    value.v.str.len = strlen(v);
    return lq_gguf_writer_set(w, key, &value);
}

int lq_gguf_writer_remove(lq_gguf_writer *w, const char *key) {
    if (!w || !key || w->state != WRITER_SETUP)
        return LQ_ERR_INVALID_ARGUMENT;
    int64_t at = find_kv(w, key);
    if (at < 0)
        return LQ_ERR_NOT_FOUND;
    free(w->kvs[at].key);
    free_value(&w->kvs[at].value);
    memmove(&w->kvs[at], &w->kvs[at + 1], (size_t)(w->n_kv - at - 1) * sizeof *w->kvs);
    w->n_kv--;
    return LQ_OK;
}

int lq_gguf_writer_copy_kvs(lq_gguf_writer *w, const lq_gguf *g) {
    if (!w || !g)
        return LQ_ERR_INVALID_ARGUMENT;
    for (int64_t i = 0; i < lq_gguf_kv_count(g); i++) {
        const lq_gguf_kv *kv = lq_gguf_kv_at(g, i);
        int st = lq_gguf_writer_set(w, kv->key, &kv->value);
        if (st != LQ_OK)
            return st;
    }
    return LQ_OK;
}

/* Byte size of a tensor; a dimension of 0 gives 0 bytes (as the reader). */
static int shape_bytes(int type, const int64_t *ne, uint64_t *size) {
    const lq_type_info *info = lq_type_get(type);
    if (!info)
        return LQ_ERR_UNKNOWN_TYPE;
    int64_t rows = 1;
    bool empty = ne[0] == 0;
    for (int d = 1; d < LQ_GGUF_MAX_DIMS; d++) {
        if (ne[d] == 0)
            empty = true;
        else if (rows > INT64_MAX / ne[d])
            return LQ_ERR_OVERFLOW;
        else
            rows *= ne[d];
    }
    if (ne[0] % info->block_size != 0)
        return LQ_ERR_BAD_SHAPE;
    if (empty) {
        *size = 0;
        return LQ_OK;
    }
    int64_t bytes = lq_tensor_size(type, rows, ne[0]);
    if (bytes < 0)
        return (int)bytes;
    *size = (uint64_t)bytes;
    return LQ_OK;
}

int64_t lq_gguf_writer_add_tensor(lq_gguf_writer *w, const char *name, int type,
                                  int n_dims, const int64_t *ne) {
    if (!w || !name || !*name || !ne || n_dims < 1 || n_dims > LQ_GGUF_MAX_DIMS ||
        w->state != WRITER_SETUP)
        return LQ_ERR_INVALID_ARGUMENT;
    writer_tensor t = {.type = type, .n_dims = n_dims, .requested_shard = -1};
    for (int d = 0; d < LQ_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 0)
            return LQ_ERR_INVALID_ARGUMENT;
    }
    int st = shape_bytes(type, t.ne, &t.size);
    if (st != LQ_OK)
        return st;
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return LQ_ERR_INVALID_ARGUMENT;
    t.name = strdup(name);
    st = t.name ? grow((void **)&w->tensors, &w->tensor_capacity, w->n_tensors + 1,
                       sizeof *w->tensors)
                : LQ_ERR_NO_MEMORY;
    if (st != LQ_OK) {
        free(t.name);
        return st;
    }
    w->tensors[w->n_tensors] = t;
    return w->n_tensors++;
}

int lq_gguf_writer_set_split(lq_gguf_writer *w, uint64_t max_bytes, int64_t max_tensors) {
    if (!w || max_tensors < 0 || w->state != WRITER_SETUP)
        return LQ_ERR_INVALID_ARGUMENT;
    w->split_max_bytes = max_bytes;
    w->split_max_tensors = max_tensors;
    return LQ_OK;
}

int lq_gguf_writer_set_tensor_shard(lq_gguf_writer *w, int64_t index, int shard) {
    if (!w || index < 0 || index >= w->n_tensors || shard < 0 || shard >= 65535 ||
        w->state != WRITER_SETUP)
        return LQ_ERR_INVALID_ARGUMENT;
    w->tensors[index].requested_shard = shard;
    return LQ_OK;
}

/* ---- layout ------------------------------------------------------------- */

static uint64_t align_up(uint64_t x, uint64_t alignment) {
    return (x + alignment - 1) / alignment * alignment;
}

static int choose_alignment(lq_gguf_writer *w, lq_gguf_error *err) {
    w->alignment = LQ_GGUF_DEFAULT_ALIGNMENT;
    int64_t at = find_kv(w, LQ_GGUF_KEY_ALIGNMENT);
    if (at < 0)
        return LQ_OK;
    int64_t a;
    if (lq_gguf_value_to_i64(&w->kvs[at].value, &a) != LQ_OK || a <= 0 ||
        (a & (a - 1)) != 0 || (uint64_t)a > LQ_GGUF_MAX_ALIGNMENT)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                            "general.alignment must be an integer power of two in [1, 2^30]");
    w->alignment = (uint64_t)a;
    return LQ_OK;
}

static bool explicit_shards(const lq_gguf_writer *w) {
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (w->tensors[i].requested_shard >= 0)
            return true;
    return false;
}

/* Explicit assignment: a tensor without one follows the previous tensor;
 * shards must be numbered 0, 1, ... in tensor order without gaps. */
static int assign_explicit(lq_gguf_writer *w, lq_gguf_error *err) {
    int shard = 0;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        int want = w->tensors[i].requested_shard;
        bool follows = want < 0 || want == shard || (i > 0 && want == shard + 1);
        if (!follows)
            return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                                "tensor %lld ('%s'): shard %d after shard %d: shards must "
                                "follow tensor order without gaps, from 0",
                                (long long)i, w->tensors[i].name, want, shard);
        if (want >= 0)
            shard = want;
        w->tensors[i].shard = shard;
    }
    w->n_shards = shard + 1;
    return LQ_OK;
}

/* As gguf-split: a new shard starts when the tensor count limit is reached
 * or when the padded tensor bytes would pass the size limit (a tensor larger
 * than the limit gets a shard of its own). */
static void assign_by_limits(lq_gguf_writer *w) {
    int shard = 0;
    int64_t count = 0;
    uint64_t bytes = 0;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        uint64_t padded = align_up(w->tensors[i].size, w->alignment);
        bool full = count > 0 &&
                    ((w->split_max_tensors > 0 && count >= w->split_max_tensors) ||
                     (w->split_max_bytes > 0 && bytes + padded > w->split_max_bytes));
        if (full) {
            shard++;
            count = 0;
            bytes = 0;
        }
        w->tensors[i].shard = shard;
        count++;
        bytes += padded;
    }
    w->n_shards = shard + 1;
}

static int plan_shards(lq_gguf_writer *w, const char *path, lq_gguf_error *err) {
    bool by_limits = w->split_max_bytes > 0 || w->split_max_tensors > 0;
    bool by_hand = explicit_shards(w);
    if (by_limits && by_hand)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                            "%s: both split limits and explicit tensor shards were set", path);
    w->split = by_limits || by_hand;
    int st = LQ_OK;
    if (by_hand)
        st = assign_explicit(w, err);
    else
        assign_by_limits(w);
    if (st != LQ_OK)
        return st;
    if (w->n_shards > 65535)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                            "%s: %d shards (at most 65535)", path, w->n_shards);
    w->shards = calloc((size_t)w->n_shards, sizeof *w->shards);
    if (!w->shards)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    size_t len = strlen(path);
    size_t stem = len >= 5 && strcmp(path + len - 5, ".gguf") == 0 ? len - 5 : len;
    char *prefix = strndup(path, stem);
    if (!prefix)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    for (int i = 0; i < w->n_shards; i++) {
        w->shards[i].path = w->split ? lq_gguf_shard_name(prefix, i, w->n_shards)
                                     : strdup(path);
        if (!w->shards[i].path) {
            free(prefix);
            return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
        }
    }
    free(prefix);
    uint64_t offset = 0;
    int shard = -1;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        writer_tensor *t = &w->tensors[i];
        if (t->shard != shard) {
            shard = t->shard;
            offset = 0;
        }
        t->offset = offset;
        offset += align_up(t->size, w->alignment);
    }
    return LQ_OK;
}

/* ---- output ------------------------------------------------------------- */

static void put_bytes(FILE *f, const void *p, size_t n) {
    if (n)
        fwrite(p, 1, n, f);
}

static void put_uint(FILE *f, uint64_t v, int bytes) {
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_bytes(f, b, (size_t)bytes);
}

static void put_string(FILE *f, const char *s, uint64_t len) {
    put_uint(f, len, 8);
    put_bytes(f, s, (size_t)len);
}

static void put_zeros(FILE *f, uint64_t n) {
    static const uint8_t zeros[256];
    while (n > 0) {
        size_t chunk = n < sizeof zeros ? (size_t)n : sizeof zeros;
        put_bytes(f, zeros, chunk);
        n -= chunk;
    }
}

static const int scalar_bytes[] = {
    [LQ_GGUF_U8] = 1, [LQ_GGUF_I8] = 1, [LQ_GGUF_U16] = 2, [LQ_GGUF_I16] = 2,
    [LQ_GGUF_U32] = 4, [LQ_GGUF_I32] = 4, [LQ_GGUF_F32] = 4, [LQ_GGUF_BOOL] = 1,
    [LQ_GGUF_STRING] = 0, [LQ_GGUF_ARRAY] = 0, [LQ_GGUF_U64] = 8, [LQ_GGUF_I64] = 8,
    [LQ_GGUF_F64] = 8,
};

static void put_value(FILE *f, const lq_gguf_value *v) {
    switch (v->type) {
    case LQ_GGUF_STRING:
        put_string(f, v->v.str.data, v->v.str.len);
        return;
    case LQ_GGUF_ARRAY:
        put_uint(f, (uint64_t)v->v.arr.elem_type, 4);
        put_uint(f, v->v.arr.count, 8);
        for (uint64_t i = 0; i < v->v.arr.count; i++)
            put_value(f, &v->v.arr.items[i]);
        return;
    case LQ_GGUF_F32: {
        float x = (float)v->v.f64;
        uint32_t bits;
        memcpy(&bits, &x, sizeof bits);
        put_uint(f, bits, 4);
        return;
    }
    case LQ_GGUF_F64: {
        uint64_t bits;
        memcpy(&bits, &v->v.f64, sizeof bits);
        put_uint(f, bits, 8);
        return;
    }
    case LQ_GGUF_BOOL:
        put_uint(f, v->v.u64 != 0, 1);
        return;
    default: /* integers: the low bytes are the same for u64 and i64 */
        put_uint(f, v->v.u64, scalar_bytes[v->type]);
        return;
    }
}

static void put_kv(FILE *f, const char *key, const lq_gguf_value *v) {
    put_string(f, key, strlen(key));
    put_uint(f, (uint64_t)v->type, 4);
    put_value(f, v);
}

/* The split keys as gguf-split writes them (u16, u16, i32), last. */
static void put_split_kvs(const lq_gguf_writer *w, FILE *f, int shard) {
    lq_gguf_value no = {.type = LQ_GGUF_U16, .v.u64 = (uint64_t)shard};
    lq_gguf_value count = {.type = LQ_GGUF_U16, .v.u64 = (uint64_t)w->n_shards};
    lq_gguf_value tensors = {.type = LQ_GGUF_I32, .v.i64 = w->n_tensors};
    put_kv(f, LQ_GGUF_KEY_SPLIT_NO, &no);
    put_kv(f, LQ_GGUF_KEY_SPLIT_COUNT, &count);
    put_kv(f, LQ_GGUF_KEY_SPLIT_TENSORS, &tensors);
}

/* Header of one shard: shard 0 has every key; the others only the split
 * keys (and the alignment, which their layout depends on). */
static uint64_t write_header(const lq_gguf_writer *w, FILE *f, int shard) {
    int64_t n_kv = 0, n_tensors = 0;
    for (int64_t i = 0; i < w->n_kv; i++) {
        const char *key = w->kvs[i].key;
        if (!lq_gguf_is_split_key(key) &&
            (shard == 0 || strcmp(key, LQ_GGUF_KEY_ALIGNMENT) == 0))
            n_kv++;
    }
    if (w->split)
        n_kv += 3;
    for (int64_t i = 0; i < w->n_tensors; i++)
        n_tensors += w->tensors[i].shard == shard;
    put_bytes(f, "GGUF", 4);
    put_uint(f, 3, 4);
    put_uint(f, (uint64_t)n_tensors, 8);
    put_uint(f, (uint64_t)n_kv, 8);
    for (int64_t i = 0; i < w->n_kv; i++) {
        const char *key = w->kvs[i].key;
        if (!lq_gguf_is_split_key(key) &&
            (shard == 0 || strcmp(key, LQ_GGUF_KEY_ALIGNMENT) == 0))
            put_kv(f, key, &w->kvs[i].value);
    }
    if (w->split)
        put_split_kvs(w, f, shard);
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        if (t->shard != shard)
            continue;
        put_string(f, t->name, strlen(t->name));
        put_uint(f, (uint64_t)t->n_dims, 4);
        for (int d = 0; d < t->n_dims; d++)
            put_uint(f, (uint64_t)t->ne[d], 8);
        put_uint(f, (uint64_t)t->type, 4);
        put_uint(f, t->offset, 8);
    }
    long pos = ftell(f);
    uint64_t end = pos < 0 ? 0 : (uint64_t)pos;
    put_zeros(f, align_up(end, w->alignment) - end);
    return end;
}

static void remove_outputs(lq_gguf_writer *w) {
    for (int i = 0; i < w->n_shards; i++) {
        writer_shard *s = &w->shards[i];
        if (s->file) {
            fclose(s->file);
            s->file = NULL;
        }
        if (s->renamed)
            unlink(s->path);
        else if (s->tmp_path)
            unlink(s->tmp_path);
        s->renamed = false;
        free(s->tmp_path);
        s->tmp_path = NULL;
    }
}

/* Ends the stream after an error: nothing is left on disk. */
static int fail_stream(lq_gguf_writer *w, lq_gguf_error *err, int status,
                       const char *path, const char *what, int error_number) {
    /* path may belong to a shard: report before releasing them */
    lq_gguf_fail(err, status, "%s: %s: %s", path, what, strerror(error_number));
    remove_outputs(w);
    free_shards(w);
    w->state = WRITER_DONE;
    w->current_shard = -1;
    return status;
}

static int open_shard(lq_gguf_writer *w, int shard, lq_gguf_error *err) {
    writer_shard *s = &w->shards[shard];
    size_t n = strlen(s->path) + 16;
    s->tmp_path = malloc(n);
    if (!s->tmp_path)
        return fail_stream(w, err, LQ_ERR_NO_MEMORY, s->path, "out of memory", ENOMEM);
    snprintf(s->tmp_path, n, "%s.tmp.XXXXXX", s->path);
    int fd = mkstemp(s->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(s->tmp_path);
        s->tmp_path = NULL;
        return fail_stream(w, err, LQ_ERR_IO, s->path, "cannot create a temporary file", e);
    }
    /* mkstemp creates the file 0600; the output is an ordinary file. */
    if (fchmod(fd, 0644) != 0 || !(s->file = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        return fail_stream(w, err, LQ_ERR_IO, s->tmp_path, "cannot open", e);
    }
    setvbuf(s->file, NULL, _IOFBF, (size_t)1 << 20);
    w->current_shard = shard;
    write_header(w, s->file, shard);
    if (ferror(s->file))
        return fail_stream(w, err, LQ_ERR_IO, s->tmp_path, "write failed", errno);
    return LQ_OK;
}

static int close_shard(lq_gguf_writer *w, int shard, lq_gguf_error *err) {
    writer_shard *s = &w->shards[shard];
    FILE *f = s->file;
    s->file = NULL;
    bool failed = ferror(f) != 0;
    int e = errno;
    if (fclose(f) != 0 && !failed) {
        failed = true;
        e = errno;
    }
    if (failed)
        return fail_stream(w, err, LQ_ERR_IO, s->tmp_path, "write failed", e);
    return LQ_OK;
}

int lq_gguf_writer_begin(lq_gguf_writer *w, const char *path, lq_gguf_error *err) {
    if (!w || !path || !*path)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "lq_gguf_writer_begin: invalid argument");
    if (w->state != WRITER_SETUP)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "%s: writer already used", path);
    int st = choose_alignment(w, err);
    if (st == LQ_OK)
        st = plan_shards(w, path, err);
    if (st != LQ_OK) {
        free_shards(w);
        return st;
    }
    w->state = WRITER_STREAMING;
    w->next_tensor = 0;
    return open_shard(w, 0, err);
}

int lq_gguf_writer_write_tensor(lq_gguf_writer *w, int64_t index, const void *data,
                                uint64_t size, lq_gguf_error *err) {
    if (!w || w->state != WRITER_STREAMING)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "GGUF writer is not streaming");
    const char *path = w->shards[w->current_shard].path;
    if (index != w->next_tensor || index >= w->n_tensors) {
        int st = lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                              "%s: tensor %lld written out of order (expected %lld of %lld)",
                              path, (long long)index, (long long)w->next_tensor,
                              (long long)w->n_tensors);
        lq_gguf_writer_abort(w);
        return st;
    }
    const writer_tensor *t = &w->tensors[index];
    if (size != t->size || (size > 0 && !data)) {
        int st = lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                              "%s: tensor '%s': %llu bytes given, its shape needs %llu",
                              path, t->name, (unsigned long long)size,
                              (unsigned long long)t->size);
        lq_gguf_writer_abort(w);
        return st;
    }
    while (w->current_shard < t->shard) {
        int st = close_shard(w, w->current_shard, err);
        if (st == LQ_OK)
            st = open_shard(w, w->current_shard + 1, err);
        if (st != LQ_OK)
            return st;
    }
    FILE *f = w->shards[w->current_shard].file;
    put_bytes(f, data, (size_t)size);
    put_zeros(f, align_up(size, w->alignment) - size);
    if (ferror(f))
        return fail_stream(w, err, LQ_ERR_IO, w->shards[w->current_shard].tmp_path,
                           "write failed", errno);
    w->next_tensor++;
    return LQ_OK;
}

int lq_gguf_writer_finish(lq_gguf_writer *w, lq_gguf_error *err) {
    if (!w || w->state != WRITER_STREAMING)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "GGUF writer is not streaming");
    if (w->next_tensor != w->n_tensors) {
        const char *path = w->shards[w->current_shard].path;
        int st = lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                              "%s: only %lld of %lld tensors were written", path,
                              (long long)w->next_tensor, (long long)w->n_tensors);
        lq_gguf_writer_abort(w);
        return st;
    }
    int st = close_shard(w, w->current_shard, err);
    if (st != LQ_OK)
        return st;
    for (int i = 0; i < w->n_shards; i++) {
        writer_shard *s = &w->shards[i];
        if (rename(s->tmp_path, s->path) != 0)
            return fail_stream(w, err, LQ_ERR_IO, s->path, "cannot rename into place", errno);
        s->renamed = true;
    }
    free_shards(w);
    w->state = WRITER_DONE;
    w->current_shard = -1;
    return LQ_OK;
}

void lq_gguf_writer_abort(lq_gguf_writer *w) {
    if (!w || w->state != WRITER_STREAMING)
        return;
    remove_outputs(w);
    free_shards(w);
    w->state = WRITER_DONE;
    w->current_shard = -1;
}

int lq_gguf_writer_shard_count(const lq_gguf_writer *w) {
    return w && w->state == WRITER_STREAMING ? w->n_shards : 0;
}

const char *lq_gguf_writer_shard_path(const lq_gguf_writer *w, int shard) {
    if (!w || w->state != WRITER_STREAMING || shard < 0 || shard >= w->n_shards)
        return NULL;
    return w->shards[shard].path;
}

int lq_gguf_write_file(lq_gguf_writer *w, const char *path, const void *const *tensor_data,
                       lq_gguf_error *err) {
    if (!w || (!tensor_data && w->n_tensors > 0))
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "lq_gguf_write_file: invalid argument");
    int st = lq_gguf_writer_begin(w, path, err);
    for (int64_t i = 0; st == LQ_OK && i < w->n_tensors; i++)
        st = lq_gguf_writer_write_tensor(w, i, tensor_data[i], w->tensors[i].size, err);
    if (st == LQ_OK)
        return lq_gguf_writer_finish(w, err);
    lq_gguf_writer_abort(w);
    return st;
}
