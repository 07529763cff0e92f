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

/* Open one GGUF file (v2 or v3; v1 is refused), mapped read-only. On failure
 * returns LQ_ERR_IO (open/stat/mmap), LQ_ERR_FORMAT (malformed) or
 * LQ_ERR_NO_MEMORY and fills *err (err may be NULL) with a message
 * "FILE: offset N: [key 'K': | tensor 'T': ]what is wrong".
 * Rules checked beyond the format's letter: general.alignment, if present,
 * is an integer power of two in [1, 2^30] (default 32); arrays nest at most
 * 8 deep; keys and tensor names are non-empty, without NUL bytes and unique;
 * a tensor has 1..4 dimensions, each >= 0, a known type id, ne[0] a multiple
 * of the type's block size and rows a multiple of its interleave; a
 * dimension of 0 is allowed and gives a 0-byte tensor; data offsets are
 * multiples of the alignment, data lies inside the file and tensors do not
 * overlap (they need not be contiguous or in order). */
int lq_gguf_open(const char *path, lq_gguf **out, lq_gguf_error *err);
/* Open a model that may be split into NAME-0000i-of-0000N.gguf shards (any
 * shard's path, or a single file): tensors of all shards appear as one list;
 * metadata is the first shard's (split.* keys included). */
int lq_gguf_open_model(const char *path, lq_gguf **out, lq_gguf_error *err);
/* Parse a GGUF image already in memory (no copy: the caller keeps `data`
 * alive until lq_gguf_close). `name` is used in messages. Same checks as
 * lq_gguf_open; lq_gguf_release_tensor is a no-op for such a handle. */
int lq_gguf_open_buffer(const void *data, size_t size, const char *name,
                        lq_gguf **out, lq_gguf_error *err);
void lq_gguf_close(lq_gguf *g);

const char *lq_gguf_path(const lq_gguf *g);
uint32_t lq_gguf_version(const lq_gguf *g);
uint64_t lq_gguf_alignment(const lq_gguf *g);
int lq_gguf_shard_count(const lq_gguf *g);
/* Path of shard i (0-based; shard 0 is lq_gguf_path), NULL if out of range. */
const char *lq_gguf_shard_path(const lq_gguf *g, int shard);
/* Byte offset of the data section in the (first) file. */
uint64_t lq_gguf_data_offset(const lq_gguf *g);
/* "u8", "string", "array", ... ("?" for an unknown id). */
const char *lq_gguf_value_type_name(int type);

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
/* Tell the OS the mapped pages of a tensor are no longer needed (streaming):
 * madvise(MADV_DONTNEED) on the pages wholly inside the tensor; the data stays
 * readable (it is read from the file again). No-op for lq_gguf_open_buffer. */
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

/* Split output (as ik_llama.cpp's gguf-split writes it). Either by limits:
 * a new shard starts before a tensor that would make the shard hold more
 * than max_tensors tensors or more than max_bytes bytes of (padded) tensor
 * data (0 = no limit; a tensor larger than max_bytes gets a shard of its
 * own); or by hand: lq_gguf_writer_set_tensor_shard() puts tensor `index` in
 * 0-based shard `shard` (a tensor without a shard follows the previous one;
 * shards must follow tensor order from 0 without gaps, e.g. to reproduce an
 * input split model's layout). The two ways cannot be combined.
 * In split mode, begin(path) writes PREFIX-00001-of-0000N.gguf ... where
 * PREFIX is path without a trailing ".gguf" (even when N = 1); every shard
 * gets split.no (u16), split.count (u16) and split.tensors.count (i32); the
 * first shard carries all other metadata, the others only general.alignment
 * if set. Each shard is written through its own temporary file and all are
 * renamed only by finish(). Outside split mode any split.* keys that were
 * set (e.g. copied from a split model) are left out of the file. */
int lq_gguf_writer_set_split(lq_gguf_writer *w, uint64_t max_bytes,
                             int64_t max_tensors);
int lq_gguf_writer_set_tensor_shard(lq_gguf_writer *w, int64_t index,
                                    int shard);

/* Begin streaming to `path`; then write every tensor's data in order.
 * The alignment is general.alignment if set (an integer power of two up to
 * 2^30), else 32. Errors of write_tensor (wrong index or size, I/O) end the
 * stream as abort() does. */
int lq_gguf_writer_begin(lq_gguf_writer *w, const char *path,
                         lq_gguf_error *err);
int lq_gguf_writer_write_tensor(lq_gguf_writer *w, int64_t index,
                                const void *data, uint64_t size,
                                lq_gguf_error *err);
/* While streaming: the number of output files and the final path of each
 * (0 / NULL otherwise). */
int lq_gguf_writer_shard_count(const lq_gguf_writer *w);
const char *lq_gguf_writer_shard_path(const lq_gguf_writer *w, int shard);
/* Flush, fsync-free close, and rename into place. Output files are created
 * with mode 0644. */
int lq_gguf_writer_finish(lq_gguf_writer *w, lq_gguf_error *err);
void lq_gguf_writer_abort(lq_gguf_writer *w);

/* Convenience: write a whole file from in-memory tensors (same guarantees). */
int lq_gguf_write_file(lq_gguf_writer *w, const char *path,
                       const void *const *tensor_data, lq_gguf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* LIBQUANT_QUANT_GGUF_H */
