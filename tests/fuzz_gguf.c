/*
 * libFuzzer target for the GGUF reader: any input either opens (and then
 * every accessor works on it) or fails with LQ_ERR_FORMAT / LQ_ERR_NO_MEMORY
 * and a message naming the input and, for format errors, the offset.
 * test_gguf_mutate links this file too and feeds it deterministic mutations.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "quant_gguf.h"

#define FUZZ_NAME "fuzz.gguf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok, const char *what, const char *message) {
    if (!ok) {
        fprintf(stderr, "fuzz_gguf: %s (message: %s)\n", what, message ? message : "");
        abort();
    }
}

/* Touch every byte a value exposes; returns a checksum so nothing is
 * optimized away. */
static uint64_t walk_value(const lq_gguf_value *v, int depth) {
    require(depth < 64, "value nested too deep", NULL);
    uint64_t sum = (uint64_t)v->type;
    switch (v->type) {
    case LQ_GGUF_STRING:
        for (uint64_t i = 0; i < v->v.str.len; i++)
            sum += (unsigned char)v->v.str.data[i];
        require(v->v.str.data[v->v.str.len] == '\0', "string not terminated", NULL);
        return sum;
    case LQ_GGUF_ARRAY:
        for (uint64_t i = 0; i < v->v.arr.count; i++) {
            require(v->v.arr.items[i].type == v->v.arr.elem_type, "mistyped item", NULL);
            sum += walk_value(&v->v.arr.items[i], depth + 1);
        }
        return sum;
    default:
        return sum + v->v.u64;
    }
}

static uint64_t walk(const lq_gguf *g) {
    uint64_t sum = lq_gguf_version(g) + lq_gguf_alignment(g) + lq_gguf_data_offset(g);
    sum += (uint64_t)lq_gguf_shard_count(g) + strlen(lq_gguf_path(g));
    for (int64_t i = 0; i < lq_gguf_kv_count(g); i++) {
        const lq_gguf_kv *kv = lq_gguf_kv_at(g, i);
        require(lq_gguf_find(g, kv->key) == &kv->value, "find(key) is not the kv", kv->key);
        sum += walk_value(&kv->value, 0) + strlen(lq_gguf_value_type_name(kv->value.type));
        int64_t iv;
        double dv;
        const char *sv;
        if (lq_gguf_get_i64(g, kv->key, &iv) == LQ_OK)
            sum += (uint64_t)iv;
        if (lq_gguf_get_f64(g, kv->key, &dv) == LQ_OK)
            sum += dv == dv;
        if (lq_gguf_get_str(g, kv->key, &sv) == LQ_OK)
            sum += strlen(sv);
    }
    require(lq_gguf_kv_at(g, lq_gguf_kv_count(g)) == NULL, "kv_at past the end", NULL);
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        require(lq_gguf_find_tensor(g, t->name) == t, "find_tensor(name) is not it", t->name);
        require(t->n_dims >= 1 && t->n_dims <= LQ_GGUF_MAX_DIMS, "bad n_dims", t->name);
        require(lq_type_get(t->type) != NULL, "unknown type accepted", t->name);
        int64_t rows = lq_gguf_tensor_rows(t);
        if (rows > 0 && t->ne[0] > 0)
            require(lq_tensor_size(t->type, rows, t->ne[0]) == (int64_t)t->size,
                    "size disagrees with the shape", t->name);
        else
            require(t->size == 0, "empty tensor with bytes", t->name);
        if (t->size > 0) {
            const uint8_t *p = t->data;
            sum += p[0] + p[t->size - 1];
        }
        lq_gguf_release_tensor(g, t);
    }
    require(lq_gguf_tensor_at(g, -1) == NULL, "tensor_at(-1)", NULL);
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lq_gguf *g = NULL;
    lq_gguf_error err;
    memset(&err, 0, sizeof err);
    int st = lq_gguf_open_buffer(data, size, FUZZ_NAME, &g, &err);
    if (st == LQ_OK) {
        require(g != NULL, "success without a handle", NULL);
        volatile uint64_t sink = walk(g);
        (void)sink;
        lq_gguf_close(g);
        return 0;
    }
    require(g == NULL, "failure with a handle", err.message);
    require(st == LQ_ERR_FORMAT || st == LQ_ERR_NO_MEMORY, "unexpected status", err.message);
    require(err.status == st, "err.status differs from the result", err.message);
    require(err.message[0] != '\0', "empty message", NULL);
    require(strncmp(err.message, FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) == 0,
            "message does not start with the name", err.message);
    if (st == LQ_ERR_FORMAT)
        require(strstr(err.message, ": offset ") != NULL, "message lacks the offset",
                err.message);
    return 0;
}
