/* Shared by the GGUF reader, writer and split-model code (not installed). */
#ifndef LIBQUANT_GGUF_INTERNAL_H
#define LIBQUANT_GGUF_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant_gguf.h"

/* Nested arrays deeper than this are refused (reader and writer), so a
 * hostile file cannot drive the recursive parser arbitrarily deep. */
#define LQ_GGUF_MAX_NESTING 8
#define LQ_GGUF_MAX_ALIGNMENT (UINT64_C(1) << 30)

#define LQ_GGUF_KEY_ALIGNMENT "general.alignment"
#define LQ_GGUF_KEY_SPLIT_NO "split.no"
#define LQ_GGUF_KEY_SPLIT_COUNT "split.count"
#define LQ_GGUF_KEY_SPLIT_TENSORS "split.tensors.count"

/* A bump allocator: everything a reader hands out lives in one arena and is
 * released at once by lq_gguf_close(). */
typedef struct lq_arena_chunk lq_arena_chunk;
typedef struct lq_arena {
    lq_arena_chunk *head;
} lq_arena;

void *lq_arena_alloc(lq_arena *a, size_t bytes);
char *lq_arena_strdup(lq_arena *a, const char *s);
void lq_arena_free(lq_arena *a);

struct lq_gguf {
    char *path;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    const uint8_t *base; /* the file's bytes */
    size_t size;
    bool mapped;         /* base was mmap'ed by us (else a caller's buffer) */
    int64_t n_kv;
    const lq_gguf_kv *kvs;
    const size_t *kv_offsets; /* where each kv starts in the file */
    int64_t n_tensors;
    lq_gguf_tensor *tensors;
    const lq_gguf_kv **kv_by_key;           /* sorted by key */
    const lq_gguf_tensor **tensor_by_name;  /* sorted by name */
    lq_arena arena;
    /* A split model: the opened shard files, which own the mappings; the
     * kvs point into shards[0]'s. NULL for a single file. */
    int n_shards;
    lq_gguf **shards;
};

/* Fill err (may be NULL) with status and a printf-style message; returns
 * status. */
int lq_gguf_fail(lq_gguf_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy at most out_size-1 characters of s into out, replacing control and
 * non-ASCII bytes by '?' and marking truncation with "...", so names from a
 * hostile file are safe to print. */
void lq_gguf_printable(const char *s, char *out, size_t out_size);

/* Build the sorted lookup tables of g (kvs and tensors already set). Returns
 * the index of the first duplicate tensor name / key through *dup_tensor /
 * *dup_kv (-1 when none). */
int lq_gguf_build_index(lq_gguf *g, int64_t *dup_kv, int64_t *dup_tensor);

bool lq_gguf_is_split_key(const char *key);
/* malloc'd "PREFIX-0000i-of-0000N.gguf" for 0-based shard i of count. */
char *lq_gguf_shard_name(const char *prefix, int shard, int count);

/* An integer value as int64 (LQ_ERR_FORMAT if not an integer or too large;
 * LQ_ERR_NOT_FOUND for NULL). */
int lq_gguf_value_to_i64(const lq_gguf_value *v, int64_t *out);
/* Byte offset in the file where `key`'s entry starts (0 if unknown). */
int64_t lq_gguf_kv_file_offset(const lq_gguf *g, const char *key);

#endif
