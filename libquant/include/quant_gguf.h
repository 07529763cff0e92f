/*
 * libquant GGUF reading and writing (formats/).
 *
 * The reader maps the file (mmap) and validates everything before handing out
 * pointers: every length, count, offset and dimension is checked against the
 * file size and against overflow, so a malformed file gives an error naming
 * the file and the byte offset, never a crash or an unbounded allocation.
 */
#ifndef LIBQUANT_QUANT_GGUF_H
#define LIBQUANT_QUANT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lq_gguf_value_type {
    LQ_GGUF_U8 = 0,
    LQ_GGUF_I8 = 1,
    LQ_GGUF_U16 = 2,
    LQ_GGUF_I16 = 3,
    LQ_GGUF_U32 = 4,
    LQ_GGUF_I32 = 5,
    LQ_GGUF_F32 = 6,
    LQ_GGUF_BOOL = 7,
    LQ_GGUF_STRING = 8,
    LQ_GGUF_ARRAY = 9,
    LQ_GGUF_U64 = 10,
    LQ_GGUF_I64 = 11,
    LQ_GGUF_F64 = 12,
};

#define LQ_GGUF_MAX_DIMS 4
#define LQ_GGUF_DEFAULT_ALIGNMENT 32

/* A metadata value. Strings are NUL-terminated copies (len excludes the NUL).
 * Arrays hold `count` elements of `elem_type`: numbers and bools are stored
 * unpacked in `items` as values too, so nested arrays work the same way. */
typedef struct lq_gguf_value {
    int type; /* enum lq_gguf_value_type */
    union {
        uint64_t u64; /* U8, U16, U32, U64, BOOL (0/1) */
        int64_t i64;  /* I8, I16, I32, I64 */
        double f64;   /* F32, F64 */
        struct {
            const char *data;
            uint64_t len;
        } str;
        struct {
            int elem_type;
            uint64_t count;
            const struct lq_gguf_value *items;
        } arr;
    } v;
} lq_gguf_value;

typedef struct lq_gguf_kv {
    const char *key;
    lq_gguf_value value;
} lq_gguf_kv;

typedef struct lq_gguf_tensor {
    const char *name;
    int type;                      /* lq_type id */
    int n_dims;                    /* 1..4 */
    int64_t ne[LQ_GGUF_MAX_DIMS];  /* ne[0] = columns; unused dims are 1 */
    uint64_t offset;               /* from the start of the data section */
    uint64_t size;                 /* bytes (lq_tensor_size of its shape) */
    const void *data;              /* into the mapping (reader only) */
    int shard;                     /* index of the file holding it (split) */
} lq_gguf_tensor;

/* Error detail: status plus a message naming the file and byte offset. */
typedef struct lq_gguf_error {
    int status;
    char message[512];
} lq_gguf_error;

/* ---- reading ---------------------------------------------------------- */

typedef struct lq_gguf lq_gguf;

/* Open one GGUF file (v2 or v3). On failure returns a negative status and
 * fills *err (err may be NULL). */
int lq_gguf_open(const char *path, lq_gguf **out, lq_gguf_error *err);
/* Open a model that may be split into NAME-0000i-of-0000N.gguf shards (any
 * shard's path, or a single file): tensors of all shards appear as one list;
 * metadata is the first shard's (split.* keys included). */
int lq_gguf_open_model(const char *path, lq_gguf **out, lq_gguf_error *err);
void lq_gguf_close(lq_gguf *g);

const char *lq_gguf_path(const lq_gguf *g);
uint32_t lq_gguf_version(const lq_gguf *g);
uint64_t lq_gguf_alignment(const lq_gguf *g);
int lq_gguf_shard_count(const lq_gguf *g);

int64_t lq_gguf_kv_count(const lq_gguf *g);
const lq_gguf_kv *lq_gguf_kv_at(const lq_gguf *g, int64_t i);
/* NULL if absent. */
const lq_gguf_value *lq_gguf_find(const lq_gguf *g, const char *key);
/* Typed getters: return LQ_OK, LQ_ERR_NOT_FOUND, or LQ_ERR_FORMAT when the
 * stored type does not convert (any integer type converts to the requested
 * integer type when it fits; F32/F64 to double). */
int lq_gguf_get_i64(const lq_gguf *g, const char *key, int64_t *out);
int lq_gguf_get_f64(const lq_gguf *g, const char *key, double *out);
int lq_gguf_get_str(const lq_gguf *g, const char *key, const char **out);

int64_t lq_gguf_tensor_count(const lq_gguf *g);
const lq_gguf_tensor *lq_gguf_tensor_at(const lq_gguf *g, int64_t i);
/* NULL if absent. */
const lq_gguf_tensor *lq_gguf_find_tensor(const lq_gguf *g, const char *name);
/* Rows of a tensor in the lq sense: product of ne[1..]. */
int64_t lq_gguf_tensor_rows(const lq_gguf_tensor *t);
/* Tell the OS the mapped pages of a tensor are no longer needed (streaming). */
void lq_gguf_release_tensor(const lq_gguf *g, const lq_gguf_tensor *t);

/* ---- writing ---------------------------------------------------------- */

/* A writer collects metadata and tensor descriptions, then streams the file:
 * header first, then each tensor's data in the order added. It writes to
 * PATH.tmp.XXXXXX and renames to PATH only in lq_gguf_writer_finish(); on
 * lq_gguf_writer_abort() (or any write error) the temporary file is removed,
 * so no partial output is ever left at PATH. */
typedef struct lq_gguf_writer lq_gguf_writer;

lq_gguf_writer *lq_gguf_writer_new(void);
void lq_gguf_writer_free(lq_gguf_writer *w); /* aborts if still open */

/* Set (insert or replace, keeping the first position) a key; the value is
 * deep-copied. */
int lq_gguf_writer_set(lq_gguf_writer *w, const char *key,
                       const lq_gguf_value *value);
int lq_gguf_writer_set_u32(lq_gguf_writer *w, const char *key, uint32_t v);
int lq_gguf_writer_set_i32(lq_gguf_writer *w, const char *key, int32_t v);
int lq_gguf_writer_set_u64(lq_gguf_writer *w, const char *key, uint64_t v);
int lq_gguf_writer_set_f32(lq_gguf_writer *w, const char *key, float v);
int lq_gguf_writer_set_bool(lq_gguf_writer *w, const char *key, bool v);
int lq_gguf_writer_set_str(lq_gguf_writer *w, const char *key, const char *v);
int lq_gguf_writer_remove(lq_gguf_writer *w, const char *key);
/* Copy every key of a reader (in order). */
int lq_gguf_writer_copy_kvs(lq_gguf_writer *w, const lq_gguf *g);

/* Describe a tensor; its byte size is derived from type and shape.
 * Returns its index or a negative status. */
int64_t lq_gguf_writer_add_tensor(lq_gguf_writer *w, const char *name,
                                  int type, int n_dims, const int64_t *ne);

/* Begin streaming to `path`; then write every tensor's data in order. */
int lq_gguf_writer_begin(lq_gguf_writer *w, const char *path,
                         lq_gguf_error *err);
int lq_gguf_writer_write_tensor(lq_gguf_writer *w, int64_t index,
                                const void *data, uint64_t size,
                                lq_gguf_error *err);
/* Flush, fsync-free close, and rename into place. */
int lq_gguf_writer_finish(lq_gguf_writer *w, lq_gguf_error *err);
void lq_gguf_writer_abort(lq_gguf_writer *w);

/* Convenience: write a whole file from in-memory tensors (same guarantees). */
int lq_gguf_write_file(lq_gguf_writer *w, const char *path,
                       const void *const *tensor_data, lq_gguf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* LIBQUANT_QUANT_GGUF_H */
