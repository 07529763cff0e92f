/*
 * Split models: NAME-00001-of-0000N.gguf ... as ik_llama.cpp's gguf-split
 * writes them. Every shard carries split.no (u16, 0-based), split.count (u16)
 * and split.tensors.count (i32, the tensors of all shards); the first shard
 * also carries the model's metadata.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"
#include "quant.h"

#define SHARD_SUFFIX_FORMAT "-%05d-of-%05d.gguf"
#define SHARD_SUFFIX_LENGTH 20 /* "-00001-of-00003.gguf" */

bool lq_gguf_is_split_key(const char *key) {
    return strcmp(key, LQ_GGUF_KEY_SPLIT_NO) == 0 ||
           strcmp(key, LQ_GGUF_KEY_SPLIT_COUNT) == 0 ||
           strcmp(key, LQ_GGUF_KEY_SPLIT_TENSORS) == 0;
}

char *lq_gguf_shard_name(const char *prefix, int shard, int count) {
    size_t n = strlen(prefix) + SHARD_SUFFIX_LENGTH + 16;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s" SHARD_SUFFIX_FORMAT, prefix, shard + 1, count);
    return path;
}

/* If path ends in -NNNNN-of-MMMMM.gguf, store the prefix length, NNNNN and
 * MMMMM (as written) and return true. */
static bool parse_shard_name(const char *path, size_t *prefix_len, int *number,
                             int *count) {
    size_t n = strlen(path);
    if (n <= SHARD_SUFFIX_LENGTH)
        return false;
    const char *s = path + n - SHARD_SUFFIX_LENGTH;
    static const char pattern[] = "-#####-of-#####.gguf";
    int a = 0, b = 0, *digit_target = &a;
    for (int i = 0; i < SHARD_SUFFIX_LENGTH; i++) {
        if (pattern[i] == '#') {
            if (s[i] < '0' || s[i] > '9')
                return false;
            *digit_target = *digit_target * 10 + (s[i] - '0');
        } else if (s[i] != pattern[i]) {
            return false;
        } else if (i > 0) {
            digit_target = &b;
        }
    }
    *prefix_len = n - SHARD_SUFFIX_LENGTH;
    *number = a;
    *count = b;
    return true;
}

typedef struct split_keys {
    int64_t no, count, tensors;
    bool has_no, has_count, has_tensors;
} split_keys;

static int read_split_key(const lq_gguf *g, const char *key, int64_t max,
                          int64_t *out, bool *present, lq_gguf_error *err) {
    const lq_gguf_value *v = lq_gguf_find(g, key);
    *present = v != NULL;
    if (!v)
        return LQ_OK;
    if (lq_gguf_value_to_i64(v, out) != LQ_OK || *out < 0 || *out > max)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: offset %lld: key '%s': not an integer in [0, %lld]",
                            g->path, (long long)lq_gguf_kv_file_offset(g, key), key,
                            (long long)max);
    return LQ_OK;
}

static int read_split_keys(const lq_gguf *g, split_keys *k, lq_gguf_error *err) {
    memset(k, 0, sizeof *k);
    int st = read_split_key(g, LQ_GGUF_KEY_SPLIT_NO, 65535, &k->no, &k->has_no, err);
    if (st == LQ_OK)
        st = read_split_key(g, LQ_GGUF_KEY_SPLIT_COUNT, 65535, &k->count,
                            &k->has_count, err);
    if (st == LQ_OK)
        st = read_split_key(g, LQ_GGUF_KEY_SPLIT_TENSORS, INT32_MAX, &k->tensors,
                            &k->has_tensors, err);
    return st;
}

static int shard_mismatch(const lq_gguf *g, const char *key, long long found,
                          long long expected, lq_gguf_error *err) {
    return lq_gguf_fail(err, LQ_ERR_FORMAT,
                        "%s: offset %lld: key '%s': is %lld, expected %lld",
                        g->path, (long long)lq_gguf_kv_file_offset(g, key), key,
                        found, expected);
}

/* Shard i must say it is shard i of `count`, with the same tensor total. */
static int check_shard(const lq_gguf *g, int i, int count, const split_keys *first,
                       lq_gguf_error *err) {
    split_keys k;
    int st = read_split_keys(g, &k, err);
    if (st != LQ_OK)
        return st;
    if (!k.has_no || !k.has_count)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: offset 0: shard %d of %d lacks split.no or split.count",
                            g->path, i + 1, count);
    if (k.no != i)
        return shard_mismatch(g, LQ_GGUF_KEY_SPLIT_NO, k.no, i, err);
    if (k.count != count)
        return shard_mismatch(g, LQ_GGUF_KEY_SPLIT_COUNT, k.count, count, err);
    if (first->has_tensors && k.has_tensors && k.tensors != first->tensors)
        return shard_mismatch(g, LQ_GGUF_KEY_SPLIT_TENSORS, k.tensors,
                              first->tensors, err);
    return LQ_OK;
}

/* One handle presenting every shard's tensors; metadata is shard 0's. */
static int combine_shards(lq_gguf **shards, int count, const split_keys *first,
                          lq_gguf **out, lq_gguf_error *err) {
    const lq_gguf *head = shards[0];
    int64_t total = 0;
    for (int i = 0; i < count; i++)
        total += shards[i]->n_tensors;
    if (first->has_tensors && total != first->tensors)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: offset %lld: key '%s': says %lld tensors, the %d shards hold %lld",
                            head->path,
                            (long long)lq_gguf_kv_file_offset(head, LQ_GGUF_KEY_SPLIT_TENSORS),
                            LQ_GGUF_KEY_SPLIT_TENSORS, (long long)first->tensors, count,
                            (long long)total);
    lq_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(head->path))) {
        free(g);
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", head->path);
    }
    g->version = head->version;
    g->alignment = head->alignment;
    g->data_offset = head->data_offset;
    g->kvs = head->kvs;
    g->kv_offsets = head->kv_offsets;
    g->n_kv = head->n_kv;
    g->n_tensors = total;
    g->shards = shards;
    g->n_shards = count;
    g->tensors = lq_arena_alloc(&g->arena, (size_t)total * sizeof *g->tensors + 1);
    int64_t next = 0;
    for (int i = 0; g->tensors && i < count; i++)
        for (int64_t j = 0; j < shards[i]->n_tensors; j++) {
            g->tensors[next] = shards[i]->tensors[j];
            g->tensors[next++].shard = i;
        }
    int64_t dup_kv, dup_tensor;
    if (!g->tensors || lq_gguf_build_index(g, &dup_kv, &dup_tensor) != LQ_OK) {
        g->shards = NULL;
        g->n_shards = 0;
        lq_gguf_close(g);
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", head->path);
    }
    if (dup_tensor >= 0) {
        const lq_gguf_tensor *t = &g->tensors[dup_tensor];
        char shown[96];
        lq_gguf_printable(t->name, shown, sizeof shown);
        int st = lq_gguf_fail(err, LQ_ERR_FORMAT,
                              "%s: offset %llu: tensor '%s': also present in an earlier shard",
                              shards[t->shard]->path,
                              (unsigned long long)shards[t->shard]->data_offset, shown);
        g->shards = NULL;
        g->n_shards = 0;
        lq_gguf_close(g);
        return st;
    }
    *out = g;
    return LQ_OK;
}

static void close_shards(lq_gguf **shards, int count) {
    for (int i = 0; i < count; i++)
        lq_gguf_close(shards[i]);
    free(shards);
}

int lq_gguf_open_model(const char *path, lq_gguf **out, lq_gguf_error *err) {
    if (!path || !out)
        return lq_gguf_fail(err, LQ_ERR_INVALID_ARGUMENT,
                            "lq_gguf_open_model: invalid argument");
    *out = NULL;
    lq_gguf *given;
    int st = lq_gguf_open(path, &given, err);
    if (st != LQ_OK)
        return st;
    split_keys keys;
    st = read_split_keys(given, &keys, err);
    if (st != LQ_OK) {
        lq_gguf_close(given);
        return st;
    }
    size_t prefix_len = 0;
    int name_no = 0, name_count = 0;
    bool named = parse_shard_name(path, &prefix_len, &name_no, &name_count);
    if (!keys.has_count && named && name_count > 1) {
        lq_gguf_close(given);
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: offset 0: named as a shard of %d but has no split.count key",
                            path, name_count);
    }
    if (!keys.has_count || keys.count <= 1) {
        *out = given;
        return LQ_OK;
    }
    int count = (int)keys.count;
    if (!keys.has_no || keys.no >= count) {
        lq_gguf_close(given);
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: offset %lld: key 'split.no' missing or not below split.count %d",
                            path, (long long)lq_gguf_kv_file_offset(given, LQ_GGUF_KEY_SPLIT_NO),
                            count);
    }
    if (!named || name_no != keys.no + 1 || name_count != count) {
        lq_gguf_close(given);
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: offset 0: shard %lld of %d, but the name does not end in "
                            "-%05lld-of-%05d.gguf, so the other shards cannot be found",
                            path, (long long)keys.no + 1, count, (long long)keys.no + 1, count);
    }
    char *prefix = strndup(path, prefix_len);
    lq_gguf **shards = calloc((size_t)count, sizeof *shards);
    if (!prefix || !shards) {
        free(prefix);
        free(shards);
        lq_gguf_close(given);
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    shards[keys.no] = given;
    split_keys first;
    st = LQ_OK;
    for (int i = 0; i < count && st == LQ_OK; i++) {
        if (!shards[i]) {
            char *shard_path = lq_gguf_shard_name(prefix, i, count);
            st = shard_path ? lq_gguf_open(shard_path, &shards[i], err)
                            : lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
            free(shard_path);
        }
        if (st == LQ_OK && i == 0)
            st = read_split_keys(shards[0], &first, err);
        if (st == LQ_OK)
            st = check_shard(shards[i], i, count, &first, err);
    }
    free(prefix);
    if (st == LQ_OK)
        st = combine_shards(shards, count, &first, out, err);
    if (st != LQ_OK)
        close_shards(shards, count);
    return st;
}
