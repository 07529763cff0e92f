/*
 * GGUF reader (v2 and v3).
 *
 * The file is mapped read-only and parsed by a bounds-checked cursor. Every
 * count is compared with what the remaining bytes could encode before
 * anything is allocated, so a hostile file can make the reader allocate at
 * most a small multiple of its own size. All metadata lives in one arena
 * owned by the lq_gguf.
 *
 * Decisions beyond the format's letter:
 * - a dimension of 0 is allowed (the tensor has 0 bytes; ggml allows it),
 *   but ne[0] must still be a multiple of the type's block size;
 * - tensor data offsets must be multiples of the alignment, and tensors must
 *   not overlap (they need not be contiguous or in file order);
 * - duplicate keys and duplicate tensor names are errors, as are keys and
 *   tensor names that are empty or contain a NUL byte;
 * - general.alignment may have any integer type; it must be a power of two
 *   between 1 and 2^30.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_internal.h"
#include "quant.h"

/* ---- arena -------------------------------------------------------------- */

struct lq_arena_chunk {
    lq_arena_chunk *next;
    size_t used, capacity;
    max_align_t data[];
};

#define ARENA_CHUNK_BYTES ((size_t)64 * 1024)

void *lq_arena_alloc(lq_arena *a, size_t bytes) {
    const size_t align = sizeof(max_align_t);
    if (bytes > SIZE_MAX - align)
        return NULL;
    bytes = (bytes + align - 1) / align * align;
    lq_arena_chunk *c = a->head;
    if (!c || c->capacity - c->used < bytes) {
        size_t cap = bytes > ARENA_CHUNK_BYTES ? bytes : ARENA_CHUNK_BYTES;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        lq_arena_chunk *fresh = malloc(sizeof *fresh + cap);
        if (!fresh)
            return NULL;
        fresh->used = 0;
        fresh->capacity = cap;
        /* A large one-off block goes behind the current chunk so the rest of
         * the current chunk stays usable. */
        if (c && bytes > ARENA_CHUNK_BYTES) {
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            a->head = fresh;
        }
        c = fresh;
    }
    void *p = (char *)c->data + c->used;
    c->used += bytes;
    return p;
}

char *lq_arena_strdup(lq_arena *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = lq_arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void lq_arena_free(lq_arena *a) {
    lq_arena_chunk *c = a->head;
    while (c) {
        lq_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- errors ------------------------------------------------------------- */

int lq_gguf_fail(lq_gguf_error *err, int status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void lq_gguf_printable(const char *s, char *out, size_t out_size) {
    size_t n = 0;
    for (; s[n] && n + 1 < out_size; n++) {
        unsigned char ch = (unsigned char)s[n];
        out[n] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    out[n] = '\0';
    if (s[n] && out_size >= 4)
        memcpy(out + out_size - 4, "...", 4);
}

/* ---- the parsing cursor ------------------------------------------------- */

typedef struct cursor {
    const uint8_t *base;
    size_t size;
    size_t pos;
    const char *name; /* the file's name, for messages */
    lq_gguf_error *err;
    lq_arena *arena;
    char context[160]; /* "key 'x': " or "tensor 'y': " or "" */
} cursor;

static int cursor_fail_at(cursor *c, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cursor_fail_at(cursor *c, size_t offset, const char *fmt, ...) {
    if (c->err) {
        char detail[320];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        lq_gguf_fail(c->err, LQ_ERR_FORMAT, "%s: offset %zu: %s%s", c->name,
                     offset, c->context, detail);
    }
    return LQ_ERR_FORMAT;
}

static int no_memory(cursor *c) {
    return lq_gguf_fail(c->err, LQ_ERR_NO_MEMORY, "%s: offset %zu: out of memory",
                        c->name, c->pos);
}

static void set_context(cursor *c, const char *what, const char *name) {
    if (!what) {
        c->context[0] = '\0';
        return;
    }
    char shown[96];
    lq_gguf_printable(name, shown, sizeof shown);
    snprintf(c->context, sizeof c->context, "%s '%s': ", what, shown);
}

static size_t remaining(const cursor *c) { return c->size - c->pos; }

static int need(cursor *c, size_t n, const char *what) {
    if (remaining(c) < n)
        return cursor_fail_at(c, c->pos,
                              "file truncated: %s needs %zu bytes, %zu left",
                              what, n, remaining(c));
    return LQ_OK;
}

static uint64_t load_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int read_uint(cursor *c, int bytes, const char *what, uint64_t *out) {
    *out = 0;
    int st = need(c, (size_t)bytes, what);
    if (st != LQ_OK)
        return st;
    *out = load_le(c->base + c->pos, bytes);
    c->pos += (size_t)bytes;
    return LQ_OK;
}

static int read_u32(cursor *c, const char *what, uint32_t *out) {
    uint64_t v = 0;
    int st = read_uint(c, 4, what, &v);
    *out = (uint32_t)v;
    return st;
}

/* A string: u64 length then bytes. The copy is NUL-terminated. */
static int read_string(cursor *c, const char *what, const char **out,
                       uint64_t *len_out) {
    size_t start = c->pos;
    uint64_t len = 0;
    int st = read_uint(c, 8, what, &len);
    if (st != LQ_OK)
        return st;
    if (len > remaining(c))
        return cursor_fail_at(c, start,
                              "%s length %llu exceeds the %zu bytes left in the file",
                              what, (unsigned long long)len, remaining(c));
    char *s = lq_arena_alloc(c->arena, (size_t)len + 1);
    if (!s)
        return no_memory(c);
    memcpy(s, c->base + c->pos, (size_t)len);
    s[len] = '\0';
    c->pos += (size_t)len;
    *out = s;
    if (len_out)
        *len_out = len;
    return LQ_OK;
}

/* A key or tensor name: non-empty, without NUL bytes. */
static int read_name(cursor *c, const char *what, const char **out) {
    size_t start = c->pos;
    uint64_t len = 0;
    int st = read_string(c, what, out, &len);
    if (st != LQ_OK)
        return st;
    if (len == 0)
        return cursor_fail_at(c, start, "empty %s", what);
    if (strlen(*out) != len)
        return cursor_fail_at(c, start, "%s contains a NUL byte", what);
    return LQ_OK;
}

/* ---- metadata values ---------------------------------------------------- */

typedef struct value_type_info {
    const char *name;
    int scalar_bytes; /* 0 for string and array */
    int min_bytes;    /* smallest possible encoding */
    bool is_signed;
} value_type_info;

static const value_type_info value_types[] = {
    [LQ_GGUF_U8] = {"u8", 1, 1, false},
    [LQ_GGUF_I8] = {"i8", 1, 1, true},
    [LQ_GGUF_U16] = {"u16", 2, 2, false},
    [LQ_GGUF_I16] = {"i16", 2, 2, true},
    [LQ_GGUF_U32] = {"u32", 4, 4, false},
    [LQ_GGUF_I32] = {"i32", 4, 4, true},
    [LQ_GGUF_F32] = {"f32", 4, 4, false},
    [LQ_GGUF_BOOL] = {"bool", 1, 1, false},
    [LQ_GGUF_STRING] = {"string", 0, 8, false},
    [LQ_GGUF_ARRAY] = {"array", 0, 12, false},
    [LQ_GGUF_U64] = {"u64", 8, 8, false},
    [LQ_GGUF_I64] = {"i64", 8, 8, true},
    [LQ_GGUF_F64] = {"f64", 8, 8, false},
};

#define VALUE_TYPE_COUNT ((int)(sizeof value_types / sizeof value_types[0]))

static bool value_type_valid(uint32_t type) {
    return type < (uint32_t)VALUE_TYPE_COUNT;
}

static int64_t sign_extend(uint64_t v, int bytes) {
    if (bytes == 8)
        return (int64_t)v;
    uint64_t sign = UINT64_C(1) << (bytes * 8 - 1);
    return (int64_t)((v ^ sign) - sign);
}

static double float_from_bits(uint64_t bits, int bytes) {
    if (bytes == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static int read_value(cursor *c, int type, int depth, lq_gguf_value *out);

static int read_array(cursor *c, int depth, lq_gguf_value *out) {
    size_t start = c->pos;
    uint32_t elem_type = 0;
    uint64_t count = 0;
    int st = read_u32(c, "array element type", &elem_type);
    if (st == LQ_OK)
        st = read_uint(c, 8, "array length", &count);
    if (st != LQ_OK)
        return st;
    if (!value_type_valid(elem_type))
        return cursor_fail_at(c, start, "unknown array element type %u", elem_type);
    if (elem_type == LQ_GGUF_ARRAY && depth + 1 >= LQ_GGUF_MAX_NESTING)
        return cursor_fail_at(c, start, "arrays nested deeper than %d levels",
                              LQ_GGUF_MAX_NESTING);
    uint64_t fits = remaining(c) / (uint64_t)value_types[elem_type].min_bytes;
    if (count > fits)
        return cursor_fail_at(c, start,
                              "array of %llu %s items cannot fit in the %zu bytes left",
                              (unsigned long long)count,
                              value_types[elem_type].name, remaining(c));
    lq_gguf_value *items = NULL;
    if (count > 0) {
        if (count > SIZE_MAX / sizeof *items)
            return no_memory(c);
        items = lq_arena_alloc(c->arena, (size_t)count * sizeof *items);
        if (!items)
            return no_memory(c);
    }
    for (uint64_t i = 0; i < count; i++) {
        st = read_value(c, (int)elem_type, depth + 1, &items[i]);
        if (st != LQ_OK)
            return st;
    }
    out->v.arr.elem_type = (int)elem_type;
    out->v.arr.count = count;
    out->v.arr.items = items;
    return LQ_OK;
}

static int read_value(cursor *c, int type, int depth, lq_gguf_value *out) {
    memset(out, 0, sizeof *out);
    out->type = type;
    if (type == LQ_GGUF_STRING)
        return read_string(c, "string", &out->v.str.data, &out->v.str.len);
    if (type == LQ_GGUF_ARRAY)
        return read_array(c, depth, out);
    const value_type_info *info = &value_types[type];
    uint64_t bits = 0;
    int st = read_uint(c, info->scalar_bytes, info->name, &bits);
    if (st != LQ_OK)
        return st;
    if (type == LQ_GGUF_F32 || type == LQ_GGUF_F64)
        out->v.f64 = float_from_bits(bits, info->scalar_bytes);
    else if (type == LQ_GGUF_BOOL)
        out->v.u64 = bits != 0;
    else if (info->is_signed)
        out->v.i64 = sign_extend(bits, info->scalar_bytes);
    else
        out->v.u64 = bits;
    return LQ_OK;
}

/* ---- header, key-values, tensor infos ----------------------------------- */

/* Smallest encodings, used to bound counts before allocating. */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 8 + 4 + 8)

static int read_header(cursor *c, uint32_t *version, uint64_t *n_tensors,
                       uint64_t *n_kv) {
    int st = need(c, 4, "magic");
    if (st != LQ_OK)
        return st;
    if (memcmp(c->base, "GGUF", 4) != 0)
        return cursor_fail_at(c, 0, "not a GGUF file (bad magic)");
    c->pos = 4;
    st = read_u32(c, "version", version);
    if (st != LQ_OK)
        return st;
    if (*version == 1)
        return cursor_fail_at(c, 4, "GGUF version 1 is not supported (only 2 and 3)");
    if (*version == 0x02000000u || *version == 0x03000000u)
        return cursor_fail_at(c, 4, "big-endian GGUF files are not supported");
    if (*version != 2 && *version != 3)
        return cursor_fail_at(c, 4, "unsupported GGUF version %u", *version);
    st = read_uint(c, 8, "tensor count", n_tensors);
    if (st == LQ_OK)
        st = read_uint(c, 8, "key-value count", n_kv);
    if (st != LQ_OK)
        return st;
    if (*n_kv > remaining(c) / MIN_KV_BYTES)
        return cursor_fail_at(c, 16, "%llu key-value pairs cannot fit in the %zu bytes left",
                              (unsigned long long)*n_kv, remaining(c));
    if (*n_tensors > remaining(c) / MIN_TENSOR_INFO_BYTES)
        return cursor_fail_at(c, 8, "%llu tensors cannot fit in the %zu bytes left",
                              (unsigned long long)*n_tensors, remaining(c));
    return LQ_OK;
}

static int read_kvs(cursor *c, lq_gguf_kv *kvs, size_t *kv_offsets, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        kv_offsets[i] = c->pos;
        int st = read_name(c, "key", &kvs[i].key);
        if (st != LQ_OK)
            return st;
        set_context(c, "key", kvs[i].key);
        size_t type_at = c->pos;
        uint32_t type = 0;
        st = read_u32(c, "value type", &type);
        if (st != LQ_OK)
            return st;
        if (!value_type_valid(type))
            return cursor_fail_at(c, type_at, "unknown value type %u", type);
        st = read_value(c, (int)type, 0, &kvs[i].value);
        if (st != LQ_OK)
            return st;
        set_context(c, NULL, NULL);
    }
    return LQ_OK;
}

static bool value_is_integer(int type) {
    return type == LQ_GGUF_U8 || type == LQ_GGUF_I8 || type == LQ_GGUF_U16 ||
           type == LQ_GGUF_I16 || type == LQ_GGUF_U32 || type == LQ_GGUF_I32 ||
           type == LQ_GGUF_U64 || type == LQ_GGUF_I64;
}

static int read_alignment(cursor *c, const lq_gguf_kv *kvs,
                          const size_t *kv_offsets, uint64_t n,
                          uint64_t *alignment) {
    *alignment = LQ_GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n; i++) {
        if (strcmp(kvs[i].key, LQ_GGUF_KEY_ALIGNMENT) != 0)
            continue;
        const lq_gguf_value *v = &kvs[i].value;
        set_context(c, "key", kvs[i].key);
        if (!value_is_integer(v->type))
            return cursor_fail_at(c, kv_offsets[i], "alignment is not an integer");
        bool negative = value_types[v->type].is_signed && v->v.i64 < 0;
        uint64_t a = v->v.u64;
        if (negative || a == 0 || (a & (a - 1)) != 0 || a > LQ_GGUF_MAX_ALIGNMENT)
            return cursor_fail_at(c, kv_offsets[i],
                                  "alignment %lld is not a power of two in [1, 2^30]",
                                  (long long)v->v.i64);
        set_context(c, NULL, NULL);
        *alignment = a;
    }
    return LQ_OK;
}

static int tensor_shape_size(cursor *c, size_t at, lq_gguf_tensor *t) {
    const lq_type_info *info = lq_type_get(t->type);
    if (!info)
        return cursor_fail_at(c, at, "unknown tensor type id %d", t->type);
    int64_t rows = 1;
    bool empty = t->ne[0] == 0;
    for (int d = 1; d < LQ_GGUF_MAX_DIMS; d++) {
        if (t->ne[d] == 0)
            empty = true;
        else if (rows > INT64_MAX / t->ne[d])
            return cursor_fail_at(c, at, "the dimensions' product overflows");
        else
            rows *= t->ne[d];
    }
    if (!empty && rows > INT64_MAX / t->ne[0])
        return cursor_fail_at(c, at, "the dimensions' product overflows");
    if (t->ne[0] % info->block_size != 0)
        return cursor_fail_at(c, at, "ne[0] = %lld is not a multiple of %s's block size %d",
                              (long long)t->ne[0], info->name, info->block_size);
    if (empty) {
        t->size = 0;
        return LQ_OK;
    }
    int64_t size = lq_tensor_size(t->type, rows, t->ne[0]);
    if (size == LQ_ERR_BAD_SHAPE)
        return cursor_fail_at(c, at, "%lld rows are not a multiple of %s's interleave %d",
                              (long long)rows, info->name, info->interleave);
    if (size < 0)
        return cursor_fail_at(c, at, "the byte size of the tensor overflows");
    t->size = (uint64_t)size;
    return LQ_OK;
}

static int read_tensor_info(cursor *c, uint64_t alignment, lq_gguf_tensor *t,
                            size_t *offset_field_at) {
    int st = read_name(c, "tensor name", &t->name);
    if (st != LQ_OK)
        return st;
    set_context(c, "tensor", t->name);
    size_t dims_at = c->pos;
    uint32_t n_dims = 0;
    st = read_u32(c, "dimension count", &n_dims);
    if (st != LQ_OK)
        return st;
    if (n_dims < 1 || n_dims > LQ_GGUF_MAX_DIMS)
        return cursor_fail_at(c, dims_at, "%u dimensions (must be 1 to %d)", n_dims,
                              LQ_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    for (int d = 0; d < LQ_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        size_t at = c->pos;
        uint64_t ne = 0;
        st = read_uint(c, 8, "dimension", &ne);
        if (st != LQ_OK)
            return st;
        if (ne > (uint64_t)INT64_MAX)
            return cursor_fail_at(c, at, "negative dimension ne[%u]", d);
        t->ne[d] = (int64_t)ne;
    }
    size_t type_at = c->pos;
    uint32_t type = 0;
    st = read_u32(c, "tensor type", &type);
    if (st != LQ_OK)
        return st;
    t->type = type > (uint32_t)INT32_MAX ? -1 : (int)type;
    st = tensor_shape_size(c, type_at, t);
    if (st != LQ_OK)
        return st;
    *offset_field_at = c->pos;
    st = read_uint(c, 8, "tensor offset", &t->offset);
    if (st != LQ_OK)
        return st;
    if (t->offset % alignment != 0)
        return cursor_fail_at(c, *offset_field_at,
                              "data offset %llu is not a multiple of the alignment %llu",
                              (unsigned long long)t->offset,
                              (unsigned long long)alignment);
    set_context(c, NULL, NULL);
    return LQ_OK;
}

typedef struct data_range {
    uint64_t start, end;
    int64_t index;
} data_range;

static int compare_ranges(const void *a, const void *b) {
    const data_range *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Every tensor's data lies inside the file, and no two overlap. */
static int check_data_ranges(cursor *c, lq_gguf *g, const size_t *offset_fields) {
    data_range *ranges = lq_arena_alloc(c->arena, (size_t)g->n_tensors * sizeof *ranges + 1);
    if (!ranges)
        return no_memory(c);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        lq_gguf_tensor *t = &g->tensors[i];
        set_context(c, "tensor", t->name);
        uint64_t start = g->data_offset + t->offset;
        bool wraps = start < t->offset || start + t->size < start;
        if (wraps || start + t->size > g->size)
            return cursor_fail_at(c, offset_fields[i],
                                  "data [%llu, %llu) lies outside the file (size %zu)",
                                  (unsigned long long)start,
                                  (unsigned long long)(start + t->size), g->size);
        t->data = g->base + start;
        ranges[i] = (data_range){start, start + t->size, i};
    }
    set_context(c, NULL, NULL);
    qsort(ranges, (size_t)g->n_tensors, sizeof *ranges, compare_ranges);
    const data_range *prev = NULL;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const data_range *r = &ranges[i];
        if (r->start == r->end)
            continue;
        if (prev && r->start < prev->end) {
            char other[96];
            lq_gguf_printable(g->tensors[prev->index].name, other, sizeof other);
            set_context(c, "tensor", g->tensors[r->index].name);
            return cursor_fail_at(c, offset_fields[r->index],
                                  "data [%llu, %llu) overlaps tensor '%s' [%llu, %llu)",
                                  (unsigned long long)r->start,
                                  (unsigned long long)r->end, other,
                                  (unsigned long long)prev->start,
                                  (unsigned long long)prev->end);
        }
        prev = r;
    }
    return LQ_OK;
}

/* ---- lookup tables ------------------------------------------------------ */

static int compare_kv_ptrs(const void *a, const void *b) {
    const lq_gguf_kv *x = *(const lq_gguf_kv *const *)a;
    const lq_gguf_kv *y = *(const lq_gguf_kv *const *)b;
    int order = strcmp(x->key, y->key);
    return order ? order : (x < y ? -1 : x > y);
}

static int compare_tensor_ptrs(const void *a, const void *b) {
    const lq_gguf_tensor *x = *(const lq_gguf_tensor *const *)a;
    const lq_gguf_tensor *y = *(const lq_gguf_tensor *const *)b;
    int order = strcmp(x->name, y->name);
    return order ? order : (x < y ? -1 : x > y);
}

int lq_gguf_build_index(lq_gguf *g, int64_t *dup_kv, int64_t *dup_tensor) {
    *dup_kv = -1;
    *dup_tensor = -1;
    g->kv_by_key = lq_arena_alloc(&g->arena, (size_t)g->n_kv * sizeof *g->kv_by_key + 1);
    g->tensor_by_name =
        lq_arena_alloc(&g->arena, (size_t)g->n_tensors * sizeof *g->tensor_by_name + 1);
    if (!g->kv_by_key || !g->tensor_by_name)
        return LQ_ERR_NO_MEMORY;
    for (int64_t i = 0; i < g->n_kv; i++)
        g->kv_by_key[i] = &g->kvs[i];
    for (int64_t i = 0; i < g->n_tensors; i++)
        g->tensor_by_name[i] = &g->tensors[i];
    qsort(g->kv_by_key, (size_t)g->n_kv, sizeof *g->kv_by_key, compare_kv_ptrs);
    qsort(g->tensor_by_name, (size_t)g->n_tensors, sizeof *g->tensor_by_name,
          compare_tensor_ptrs);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kv_by_key[i - 1]->key, g->kv_by_key[i]->key) == 0) {
            *dup_kv = g->kv_by_key[i] - g->kvs;
            break;
        }
    for (int64_t i = 1; i < g->n_tensors; i++)
        if (strcmp(g->tensor_by_name[i - 1]->name, g->tensor_by_name[i]->name) == 0) {
            *dup_tensor = g->tensor_by_name[i] - g->tensors;
            break;
        }
    return LQ_OK;
}

/* ---- parse a whole file ------------------------------------------------- */

static int parse(lq_gguf *g, lq_gguf_error *err) {
    cursor c = {.base = g->base, .size = g->size, .name = g->path, .err = err,
                .arena = &g->arena};
    uint64_t n_tensors = 0, n_kv = 0;
    int st = read_header(&c, &g->version, &n_tensors, &n_kv);
    if (st != LQ_OK)
        return st;
    lq_gguf_kv *kvs = lq_arena_alloc(&g->arena, (size_t)n_kv * sizeof *kvs + 1);
    size_t *kv_offsets = lq_arena_alloc(&g->arena, (size_t)n_kv * sizeof *kv_offsets + 1);
    if (!kvs || !kv_offsets)
        return no_memory(&c);
    st = read_kvs(&c, kvs, kv_offsets, n_kv);
    if (st != LQ_OK)
        return st;
    g->kvs = kvs;
    g->kv_offsets = kv_offsets;
    g->n_kv = (int64_t)n_kv;
    st = read_alignment(&c, kvs, kv_offsets, n_kv, &g->alignment);
    if (st != LQ_OK)
        return st;
    if (n_tensors > remaining(&c) / MIN_TENSOR_INFO_BYTES)
        return cursor_fail_at(&c, 8, "%llu tensors cannot fit in the %zu bytes left",
                              (unsigned long long)n_tensors, remaining(&c));
    g->tensors = lq_arena_alloc(&g->arena, (size_t)n_tensors * sizeof *g->tensors + 1);
    size_t *info_offsets = lq_arena_alloc(&g->arena, (size_t)n_tensors * sizeof(size_t) + 1);
    size_t *offset_fields = lq_arena_alloc(&g->arena, (size_t)n_tensors * sizeof(size_t) + 1);
    if (!g->tensors || !info_offsets || !offset_fields)
        return no_memory(&c);
    g->n_tensors = (int64_t)n_tensors;
    for (uint64_t i = 0; i < n_tensors; i++) {
        memset(&g->tensors[i], 0, sizeof g->tensors[i]);
        info_offsets[i] = c.pos;
        st = read_tensor_info(&c, g->alignment, &g->tensors[i], &offset_fields[i]);
        if (st != LQ_OK)
            return st;
    }
    /* The data section starts at the next multiple of the alignment (it may
     * lie past the end of a file with no tensor data). */
    g->data_offset = ((uint64_t)c.pos + g->alignment - 1) / g->alignment * g->alignment;
    st = check_data_ranges(&c, g, offset_fields);
    if (st != LQ_OK)
        return st;
    int64_t dup_kv, dup_tensor;
    if (lq_gguf_build_index(g, &dup_kv, &dup_tensor) != LQ_OK)
        return no_memory(&c);
    if (dup_kv >= 0) {
        set_context(&c, "key", kvs[dup_kv].key);
        return cursor_fail_at(&c, kv_offsets[dup_kv], "duplicate key");
    }
    if (dup_tensor >= 0) {
        set_context(&c, "tensor", g->tensors[dup_tensor].name);
        return cursor_fail_at(&c, info_offsets[dup_tensor], "duplicate tensor name");
    }
    return LQ_OK;
}

static lq_gguf *new_handle(const char *name) {
    lq_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->path = strdup(name ? name : "(buffer)");
    if (!g->path) {
        free(g);
        return NULL;
    }
    return g;
}

static int finish_open(lq_gguf *g, lq_gguf **out, lq_gguf_error *err) {
    int st = parse(g, err);
    if (st != LQ_OK) {
        lq_gguf_close(g);
        return st;
    }
    *out = g;
    if (err) {
        err->status = LQ_OK;
        err->message[0] = '\0';
    }
    return LQ_OK;
}

int lq_gguf_open_buffer(const void *data, size_t size, const char *name,
                        lq_gguf **out, lq_gguf_error *err) {
    if (!out || (!data && size > 0))
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "%s: invalid argument",
                            name ? name : "(buffer)");
    *out = NULL;
    lq_gguf *g = new_handle(name);
    if (!g)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory",
                            name ? name : "(buffer)");
    static const uint8_t empty[1] = {0};
    g->base = size > 0 ? data : empty;
    g->size = size;
    return finish_open(g, out, err);
}

int lq_gguf_open(const char *path, lq_gguf **out, lq_gguf_error *err) {
    if (!path || !out)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT, "lq_gguf_open: invalid argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lq_gguf_fail(err, LQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return lq_gguf_fail(err, LQ_ERR_IO, "%s: cannot read: %s", path,
                            S_ISDIR(st.st_mode) ? "is a directory"
                                                : e ? strerror(e) : "not a regular file");
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return lq_gguf_fail(err, LQ_ERR_IO, "%s: file too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return lq_gguf_fail(err, LQ_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
    }
    close(fd);
    lq_gguf *g = new_handle(path);
    if (!g) {
        if (map)
            munmap(map, size);
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    if (map) {
        g->base = map;
        g->mapped = true;
    } else {
        static const uint8_t empty[1] = {0};
        g->base = empty;
    }
    g->size = size;
    return finish_open(g, out, err);
}

void lq_gguf_close(lq_gguf *g) {
    if (!g)
        return;
    for (int i = 0; i < g->n_shards; i++)
        lq_gguf_close(g->shards[i]);
    free(g->shards);
    if (g->mapped)
        munmap((void *)g->base, g->size);
    lq_arena_free(&g->arena);
    free(g->path);
    free(g);
}

/* ---- accessors ---------------------------------------------------------- */

const char *lq_gguf_path(const lq_gguf *g) { return g->path; }
uint32_t lq_gguf_version(const lq_gguf *g) { return g->version; }
uint64_t lq_gguf_alignment(const lq_gguf *g) { return g->alignment; }
int lq_gguf_shard_count(const lq_gguf *g) { return g->shards ? g->n_shards : 1; }
uint64_t lq_gguf_data_offset(const lq_gguf *g) { return g->data_offset; }

const char *lq_gguf_shard_path(const lq_gguf *g, int shard) {
    if (g->shards)
        return shard >= 0 && shard < g->n_shards ? g->shards[shard]->path : NULL;
    return shard == 0 ? g->path : NULL;
}

int64_t lq_gguf_kv_file_offset(const lq_gguf *g, const char *key) {
    const lq_gguf_value *v = lq_gguf_find(g, key);
    if (!v || !g->kv_offsets)
        return 0;
    const lq_gguf_kv *kv = (const lq_gguf_kv *)((const char *)v - offsetof(lq_gguf_kv, value));
    return (int64_t)g->kv_offsets[kv - g->kvs];
}
int64_t lq_gguf_kv_count(const lq_gguf *g) { return g->n_kv; }
int64_t lq_gguf_tensor_count(const lq_gguf *g) { return g->n_tensors; }

const lq_gguf_kv *lq_gguf_kv_at(const lq_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const lq_gguf_tensor *lq_gguf_tensor_at(const lq_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const lq_gguf_value *lq_gguf_find(const lq_gguf *g, const char *key) {
    if (!key)
        return NULL;
    int64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int order = strcmp(g->kv_by_key[mid]->key, key);
        if (order == 0)
            return &g->kv_by_key[mid]->value;
        if (order < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const lq_gguf_tensor *lq_gguf_find_tensor(const lq_gguf *g, const char *name) {
    if (!name)
        return NULL;
    int64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int order = strcmp(g->tensor_by_name[mid]->name, name);
        if (order == 0)
            return g->tensor_by_name[mid];
        if (order < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int lq_gguf_value_to_i64(const lq_gguf_value *v, int64_t *out) {
    if (!v)
        return LQ_ERR_NOT_FOUND;
    if (!value_is_integer(v->type))
        return LQ_ERR_FORMAT;
    if (!value_types[v->type].is_signed && v->v.u64 > (uint64_t)INT64_MAX)
        return LQ_ERR_FORMAT;
    *out = v->v.i64;
    return LQ_OK;
}

int lq_gguf_get_i64(const lq_gguf *g, const char *key, int64_t *out) {
    const lq_gguf_value *v = lq_gguf_find(g, key);
    if (!v)
        return LQ_ERR_NOT_FOUND;
    return lq_gguf_value_to_i64(v, out);
}

int lq_gguf_get_f64(const lq_gguf *g, const char *key, double *out) {
    const lq_gguf_value *v = lq_gguf_find(g, key);
    if (!v)
        return LQ_ERR_NOT_FOUND;
    if (v->type == LQ_GGUF_F32 || v->type == LQ_GGUF_F64) {
        *out = v->v.f64;
        return LQ_OK;
    }
    int64_t i;
    if (lq_gguf_value_to_i64(v, &i) != LQ_OK)
        return LQ_ERR_FORMAT;
    *out = (double)i;
    return LQ_OK;
}

int lq_gguf_get_str(const lq_gguf *g, const char *key, const char **out) {
    const lq_gguf_value *v = lq_gguf_find(g, key);
    if (!v)
        return LQ_ERR_NOT_FOUND;
    if (v->type != LQ_GGUF_STRING)
        return LQ_ERR_FORMAT;
    *out = v->v.str.data;
    return LQ_OK;
}

const char *lq_gguf_value_type_name(int type) {
    return type >= 0 && type < VALUE_TYPE_COUNT ? value_types[type].name : "?";
}

int64_t lq_gguf_tensor_rows(const lq_gguf_tensor *t) {
    int64_t rows = 1;
    for (int d = 1; d < LQ_GGUF_MAX_DIMS; d++)
        rows *= t->ne[d]; /* validated by the reader: no overflow */
    return rows;
}

void lq_gguf_release_tensor(const lq_gguf *g, const lq_gguf_tensor *t) {
    if (!g || !t)
        return;
    if (g->shards) {
        if (t->shard < 0 || t->shard >= g->n_shards)
            return;
        g = g->shards[t->shard];
    }
    if (!g->mapped || t->size == 0)
        return;
    long page_size = sysconf(_SC_PAGESIZE);
    if (page_size <= 0)
        return;
    uintptr_t page = (uintptr_t)page_size;
    uintptr_t begin = (uintptr_t)t->data;
    uintptr_t end = begin + (uintptr_t)t->size;
    uintptr_t first = (begin + page - 1) / page * page;
    uintptr_t last = end / page * page;
    /* Only pages wholly inside the tensor: neighbours may still be in use. */
    if (last > first)
        madvise((void *)first, last - first, MADV_DONTNEED);
}
