/*
 * GGUF reading and writing: every vector file and model opens; read -> write
 * -> read round trips keep metadata and tensor bytes (and reproduce the
 * reference's files byte for byte); split models round trip; a table of
 * hand-made malformed files each give LQ_ERR_FORMAT with a message naming
 * the file and the offset; a failed or aborted write leaves nothing behind.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#define MODEL_BF16 "models/tiny-llama-bf16.gguf"

static const char *const model_files[] = {
    "models/tiny-llama-bf16.gguf",
    "models/tiny-llama-q8_0-ref.gguf",
    "models/tiny-llama-iq4_k-ref.gguf",
};

/* ---- helpers ------------------------------------------------------------ */

static lq_gguf *open_shared(const char *rel) {
    char *path = tu_shared_path(rel);
    lq_gguf *g = tu_open_model(path);
    free(path);
    return g;
}

static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static bool is_split_key(const char *key) { return strncmp(key, "split.", 6) == 0; }

/* Same metadata (split.* keys aside) in the same order, same tensors with the
 * same bytes. */
static void assert_same_model(const lq_gguf *a, const lq_gguf *b) {
    int64_t ia = 0, ib = 0;
    for (;;) {
        while (ia < lq_gguf_kv_count(a) && is_split_key(lq_gguf_kv_at(a, ia)->key))
            ia++;
        while (ib < lq_gguf_kv_count(b) && is_split_key(lq_gguf_kv_at(b, ib)->key))
            ib++;
        if (ia == lq_gguf_kv_count(a) || ib == lq_gguf_kv_count(b))
            break;
        const lq_gguf_kv *x = lq_gguf_kv_at(a, ia++), *y = lq_gguf_kv_at(b, ib++);
        ck_assert_str_eq(x->key, y->key);
        ck_assert_msg(tu_gguf_values_equal(&x->value, &y->value), "value of %s differs", x->key);
    }
    ck_assert_int_eq(ia, lq_gguf_kv_count(a));
    ck_assert_int_eq(ib, lq_gguf_kv_count(b));
    tu_assert_same_tensors(a, b);
}

/* A writer describing the same model as g (all keys, same tensors). */
static lq_gguf_writer *writer_like(const lq_gguf *g) {
    lq_gguf_writer *w = lq_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(lq_gguf_writer_copy_kvs(w, g), LQ_OK);
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        ck_assert_int_eq(lq_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne), i);
    }
    return w;
}

static void write_like(const lq_gguf *g, lq_gguf_writer *w, const char *path) {
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_writer_begin(w, path, &err) == LQ_OK, "%s", err.message);
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        ck_assert_msg(lq_gguf_writer_write_tensor(w, i, t->data, t->size, &err) == LQ_OK,
                      "%s", err.message);
    }
    ck_assert_msg(lq_gguf_writer_finish(w, &err) == LQ_OK, "%s", err.message);
}

/* ---- reading real files -------------------------------------------------- */

START_TEST(test_open_vector_files) {
    tu_name_list files = tu_vector_files();
    ck_assert_int_gt(files.count, 60);
    for (int i = 0; i < files.count; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "vectors/%s", files.names[i]);
        lq_gguf *g = open_shared(rel);
        ck_assert_uint_eq(lq_gguf_version(g), 3);
        ck_assert_uint_eq(lq_gguf_alignment(g), 32);
        ck_assert_int_eq(lq_gguf_shard_count(g), 1);
        const char *type_name;
        int64_t type_id;
        ck_assert_int_eq(lq_gguf_get_str(g, "vectors.type", &type_name), LQ_OK);
        ck_assert_int_eq(lq_gguf_get_i64(g, "vectors.type_id", &type_id), LQ_OK);
        ck_assert_int_eq(lq_type_from_name(type_name), (int)type_id);
        const lq_gguf_tensor *x = lq_gguf_find_tensor(g, "x");
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->type, LQ_TYPE_F32);
        ck_assert_int_eq(x->ne[0], 1024);
        ck_assert_int_eq(lq_gguf_tensor_rows(x), 16);
        ck_assert_uint_eq(x->size, 1024 * 16 * 4);
        ck_assert_ptr_null(lq_gguf_find_tensor(g, "no such tensor"));
        ck_assert_ptr_null(lq_gguf_find(g, "no.such.key"));
        int64_t unused;
        ck_assert_int_eq(lq_gguf_get_i64(g, "no.such.key", &unused), LQ_ERR_NOT_FOUND);
        ck_assert_int_eq(lq_gguf_get_i64(g, "vectors.type", &unused), LQ_ERR_FORMAT);
        for (int64_t k = 0; k < lq_gguf_tensor_count(g); k++) {
            const lq_gguf_tensor *t = lq_gguf_tensor_at(g, k);
            ck_assert_ptr_eq(lq_gguf_find_tensor(g, t->name), t);
            ck_assert_uint_eq(t->offset % 32, 0);
        }
        lq_gguf_close(g);
    }
    tu_name_list_free(&files);
}
END_TEST

START_TEST(test_open_models) {
    for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
        lq_gguf *g = open_shared(model_files[i]);
        ck_assert_int_eq(lq_gguf_tensor_count(g), 57);
        const char *arch;
        ck_assert_int_eq(lq_gguf_get_str(g, "general.architecture", &arch), LQ_OK);
        ck_assert_str_eq(arch, "llama");
        const lq_gguf_value *tokens = lq_gguf_find(g, "tokenizer.ggml.tokens");
        ck_assert_ptr_nonnull(tokens);
        ck_assert_int_eq(tokens->type, LQ_GGUF_ARRAY);
        ck_assert_int_eq(tokens->v.arr.elem_type, LQ_GGUF_STRING);
        ck_assert_uint_eq(tokens->v.arr.count, 4096);
        ck_assert_str_eq(tokens->v.arr.items[1].v.str.data, "<s>");
        int64_t n_embd;
        ck_assert_int_eq(lq_gguf_get_i64(g, "llama.embedding_length", &n_embd), LQ_OK);
        ck_assert_int_eq(n_embd, 512);
        double eps;
        ck_assert_int_eq(lq_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &eps),
                         LQ_OK);
        ck_assert_double_eq_tol(eps, 1e-5, 1e-9);
        const lq_gguf_tensor *t = lq_gguf_find_tensor(g, "blk.0.attn_q.weight");
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->ne[0], 512);
        /* Dropping the pages must not lose the data: it is read again. */
        unsigned char *copy = malloc(t->size);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, t->data, t->size);
        lq_gguf_release_tensor(g, t);
        ck_assert_int_eq(memcmp(copy, t->data, t->size), 0);
        free(copy);
        lq_gguf_close(g);
    }
}
END_TEST

START_TEST(test_open_errors_io) {
    lq_gguf *g = NULL;
    lq_gguf_error err;
    ck_assert_int_eq(lq_gguf_open("/nonexistent/dir/model.gguf", &g, &err), LQ_ERR_IO);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/dir/model.gguf"));
    ck_assert_int_eq(lq_gguf_open("/", &g, &err), LQ_ERR_IO);
    ck_assert_int_eq(lq_gguf_open_model("/nonexistent-00001-of-00002.gguf", &g, NULL),
                     LQ_ERR_IO);
}
END_TEST

/* ---- round trips ---------------------------------------------------------- */

/* read -> write -> read, and the file we write is the reference's file byte
 * for byte (same layout rules: v3, keys in order, 32-byte alignment, zero
 * padding after the header and after every tensor). */
static void round_trip(const char *rel, const char *dir) {
    char *src = tu_shared_path(rel);
    lq_gguf *g = tu_open_model(src);
    char *dst = tu_join_path(dir, "copy.gguf");
    lq_gguf_writer *w = writer_like(g);
    write_like(g, w, dst);
    lq_gguf_writer_free(w);
    lq_gguf *h = tu_open_model(dst);
    assert_same_model(g, h);
    lq_gguf_close(h);
    lq_gguf_close(g);
    size_t n1, n2;
    unsigned char *a = slurp(src, &n1), *b = slurp(dst, &n2);
    ck_assert_msg(n1 == n2 && memcmp(a, b, n1) == 0, "%s: rewritten file differs", rel);
    free(a);
    free(b);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1);
    remove(dst);
    free(dst);
    free(src);
}

START_TEST(test_round_trip_vectors) {
    char *dir = tu_make_tmpdir();
    tu_name_list files = tu_vector_files();
    for (int i = 0; i < files.count; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "vectors/%s", files.names[i]);
        round_trip(rel, dir);
    }
    tu_name_list_free(&files);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_round_trip_model) {
    char *dir = tu_make_tmpdir();
    round_trip(MODEL_BF16, dir);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_writer_values_and_alignment) {
    char *dir = tu_make_tmpdir();
    char *path = tu_join_path(dir, "values.gguf");
    lq_gguf_writer *w = lq_gguf_writer_new();
    ck_assert_int_eq(lq_gguf_writer_set_u32(w, "general.alignment", 64), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_set_i32(w, "a.i32", -7), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_set_u64(w, "a.u64", UINT64_MAX), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_set_f32(w, "a.f32", 0.25f), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_set_bool(w, "a.bool", true), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_set_str(w, "a.str", "first"), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_set_str(w, "a.str", "second"), LQ_OK); /* replaced */
    ck_assert_int_eq(lq_gguf_writer_set_str(w, "a.gone", "x"), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_remove(w, "a.gone"), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_remove(w, "a.gone"), LQ_ERR_NOT_FOUND);
    /* a nested array: [[1, 2], []] of i16 */
    lq_gguf_value inner_items[2] = {{.type = LQ_GGUF_I16, .v.i64 = 1},
                                    {.type = LQ_GGUF_I16, .v.i64 = -2}};
    lq_gguf_value inner[2] = {{.type = LQ_GGUF_ARRAY}, {.type = LQ_GGUF_ARRAY}};
    inner[0].v.arr.elem_type = LQ_GGUF_I16;
    inner[0].v.arr.count = 2;
    inner[0].v.arr.items = inner_items;
    inner[1].v.arr.elem_type = LQ_GGUF_I16;
    lq_gguf_value outer = {.type = LQ_GGUF_ARRAY};
    outer.v.arr.elem_type = LQ_GGUF_ARRAY;
    outer.v.arr.count = 2;
    outer.v.arr.items = inner;
    ck_assert_int_eq(lq_gguf_writer_set(w, "a.nested", &outer), LQ_OK);
    /* a mistyped element is refused */
    inner_items[1].type = LQ_GGUF_I32;
    ck_assert_int_eq(lq_gguf_writer_set(w, "a.bad", &outer), LQ_ERR_INVALID_ARGUMENT);
    int64_t ne1[1] = {32}, ne2[2] = {64, 3}, ne0[2] = {32, 0};
    ck_assert_int_eq(lq_gguf_writer_add_tensor(w, "t.q4", LQ_TYPE_Q4_0, 1, ne1), 0);
    ck_assert_int_eq(lq_gguf_writer_add_tensor(w, "t.f32", LQ_TYPE_F32, 2, ne2), 1);
    ck_assert_int_eq(lq_gguf_writer_add_tensor(w, "t.empty", LQ_TYPE_F32, 2, ne0), 2);
    ck_assert_int_eq(lq_gguf_writer_add_tensor(w, "t.f32", LQ_TYPE_F32, 2, ne2),
                     LQ_ERR_INVALID_ARGUMENT);
    int64_t odd[1] = {33};
    ck_assert_int_lt(lq_gguf_writer_add_tensor(w, "t.odd", LQ_TYPE_Q4_0, 1, odd), 0);
    ck_assert_int_lt(lq_gguf_writer_add_tensor(w, "t.unknown", 4, 1, ne1), 0);
    unsigned char q4[18];
    float f[192];
    for (int i = 0; i < 18; i++)
        q4[i] = (unsigned char)(i * 7);
    for (int i = 0; i < 192; i++)
        f[i] = (float)i;
    const void *data[3] = {q4, f, NULL};
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_write_file(w, path, data, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(w);

    lq_gguf *g = tu_open_model(path);
    ck_assert_uint_eq(lq_gguf_alignment(g), 64);
    ck_assert_uint_eq(lq_gguf_data_offset(g) % 64, 0);
    int64_t i;
    ck_assert_int_eq(lq_gguf_get_i64(g, "a.i32", &i), LQ_OK);
    ck_assert_int_eq(i, -7);
    ck_assert_int_eq(lq_gguf_get_i64(g, "a.u64", &i), LQ_ERR_FORMAT); /* too big */
    ck_assert_uint_eq(lq_gguf_find(g, "a.u64")->v.u64, UINT64_MAX);
    double d;
    ck_assert_int_eq(lq_gguf_get_f64(g, "a.f32", &d), LQ_OK);
    ck_assert(d == 0.25);
    const char *s;
    ck_assert_int_eq(lq_gguf_get_str(g, "a.str", &s), LQ_OK);
    ck_assert_str_eq(s, "second");
    ck_assert_str_eq(lq_gguf_kv_at(g, 5)->key, "a.str"); /* kept its place */
    ck_assert_ptr_null(lq_gguf_find(g, "a.gone"));
    ck_assert_ptr_null(lq_gguf_find(g, "a.bad"));
    const lq_gguf_value *nested = lq_gguf_find(g, "a.nested");
    inner_items[1].type = LQ_GGUF_I16;
    ck_assert(tu_gguf_values_equal(nested, &outer));
    const lq_gguf_tensor *t = lq_gguf_find_tensor(g, "t.f32");
    ck_assert_uint_eq(t->offset, 64);
    ck_assert_int_eq(memcmp(t->data, f, sizeof f), 0);
    ck_assert_int_eq(memcmp(lq_gguf_find_tensor(g, "t.q4")->data, q4, 18), 0);
    ck_assert_uint_eq(lq_gguf_find_tensor(g, "t.empty")->size, 0);
    lq_gguf_close(g);
    tu_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* ---- split models --------------------------------------------------------- */

static lq_gguf *write_split(const lq_gguf *g, const char *dir, uint64_t max_bytes,
                            int64_t max_tensors, int expect_shards) {
    char *path = tu_join_path(dir, "split.gguf");
    lq_gguf_writer *w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_set_split(w, max_bytes, max_tensors), LQ_OK);
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_writer_begin(w, path, &err) == LQ_OK, "%s", err.message);
    ck_assert_int_eq(lq_gguf_writer_shard_count(w), expect_shards);
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        ck_assert_int_eq(lq_gguf_writer_write_tensor(w, i, t->data, t->size, &err), LQ_OK);
    }
    ck_assert_msg(lq_gguf_writer_finish(w, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(w);
    ck_assert_int_eq(tu_count_dir_entries(dir), expect_shards);
    /* open through the last shard's name */
    char name[64];
    snprintf(name, sizeof name, "split-%05d-of-%05d.gguf", expect_shards, expect_shards);
    char *last = tu_join_path(dir, name);
    lq_gguf *h = tu_open_model(last);
    free(last);
    free(path);
    ck_assert_int_eq(lq_gguf_shard_count(h), expect_shards);
    assert_same_model(g, h);
    return h;
}

static void check_split_keys(const lq_gguf *h, int count) {
    for (int s = 0; s < count; s++) {
        lq_gguf *shard = NULL;
        ck_assert_int_eq(lq_gguf_open(lq_gguf_shard_path(h, s), &shard, NULL), LQ_OK);
        int64_t v;
        ck_assert_int_eq(lq_gguf_get_i64(shard, "split.no", &v), LQ_OK);
        ck_assert_int_eq(v, s);
        ck_assert_int_eq(lq_gguf_find(shard, "split.no")->type, LQ_GGUF_U16);
        ck_assert_int_eq(lq_gguf_get_i64(shard, "split.count", &v), LQ_OK);
        ck_assert_int_eq(v, count);
        ck_assert_int_eq(lq_gguf_find(shard, "split.tensors.count")->type, LQ_GGUF_I32);
        ck_assert_int_eq(lq_gguf_get_i64(shard, "split.tensors.count", &v), LQ_OK);
        ck_assert_int_eq(v, lq_gguf_tensor_count(h));
        ck_assert_int_eq(lq_gguf_kv_count(shard) > 3, s == 0);
        lq_gguf_close(shard);
    }
}

START_TEST(test_split_by_size) {
    lq_gguf *g = open_shared(MODEL_BF16);
    char *dir = tu_make_tmpdir();
    /* 46 MB of tensors in shards of at most 10 MB */
    lq_gguf *h = write_split(g, dir, 10u * 1000 * 1000, 0, 5);
    check_split_keys(h, 5);
    for (int64_t i = 0; i < lq_gguf_tensor_count(h); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(h, i);
        ck_assert(t->shard >= 0 && t->shard < 5);
        if (i > 0)
            ck_assert_int_ge(t->shard, lq_gguf_tensor_at(h, i - 1)->shard);
        lq_gguf_release_tensor(h, t);
    }
    lq_gguf_close(h);
    tu_rmtree(dir);
    free(dir);
    lq_gguf_close(g);
}
END_TEST

START_TEST(test_split_by_count_and_keep_layout) {
    lq_gguf *g = open_shared(MODEL_BF16);
    char *dir = tu_make_tmpdir();
    lq_gguf *h = write_split(g, dir, 0, 10, 6); /* 57 tensors by 10 */
    check_split_keys(h, 6);
    for (int64_t i = 0; i < lq_gguf_tensor_count(h); i++)
        ck_assert_int_eq(lq_gguf_tensor_at(h, i)->shard, i / 10);

    /* Rewrite with the same assignment, by hand (as --keep-split would):
     * the shards come out byte-identical. */
    char *dir2 = tu_make_tmpdir();
    char *path2 = tu_join_path(dir2, "split.gguf");
    lq_gguf_writer *w = writer_like(h);
    for (int64_t i = 0; i < lq_gguf_tensor_count(h); i++)
        ck_assert_int_eq(lq_gguf_writer_set_tensor_shard(w, i, lq_gguf_tensor_at(h, i)->shard),
                         LQ_OK);
    write_like(h, w, path2);
    lq_gguf_writer_free(w);
    for (int s = 0; s < 6; s++) {
        char name[64];
        snprintf(name, sizeof name, "split-%05d-of-00006.gguf", s + 1);
        char *a_path = tu_join_path(dir, name), *b_path = tu_join_path(dir2, name);
        size_t na, nb;
        unsigned char *a = slurp(a_path, &na), *b = slurp(b_path, &nb);
        ck_assert_msg(na == nb && memcmp(a, b, na) == 0, "shard %d differs", s + 1);
        free(a);
        free(b);
        free(a_path);
        free(b_path);
    }

    /* A split model written as one file drops the split keys. */
    char *single = tu_join_path(dir2, "single.gguf");
    w = writer_like(h);
    write_like(h, w, single);
    lq_gguf_writer_free(w);
    lq_gguf *one = tu_open_model(single);
    ck_assert_ptr_null(lq_gguf_find(one, "split.count"));
    ck_assert_int_eq(lq_gguf_shard_count(one), 1);
    assert_same_model(g, one);
    lq_gguf_close(one);
    free(single);

    /* Bad explicit layouts are refused before anything is written. */
    w = writer_like(h);
    ck_assert_int_eq(lq_gguf_writer_set_tensor_shard(w, 0, 1), LQ_OK);
    lq_gguf_error err;
    ck_assert_int_eq(lq_gguf_writer_begin(w, path2, &err), LQ_ERR_INVALID_ARGUMENT);
    lq_gguf_writer_free(w);
    w = writer_like(h);
    ck_assert_int_eq(lq_gguf_writer_set_tensor_shard(w, 5, 2), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path2, &err), LQ_ERR_INVALID_ARGUMENT);
    lq_gguf_writer_free(w);
    w = writer_like(h); /* limits and explicit shards together */
    ck_assert_int_eq(lq_gguf_writer_set_tensor_shard(w, 1, 1), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_set_split(w, 0, 3), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path2, &err), LQ_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.message, "both"));
    lq_gguf_writer_free(w);

    free(path2);
    tu_rmtree(dir2);
    free(dir2);
    lq_gguf_close(h);
    tu_rmtree(dir);
    free(dir);
    lq_gguf_close(g);
}
END_TEST

START_TEST(test_split_inconsistent) {
    lq_gguf *g = open_shared("vectors/q8_0.gguf");
    char *dir = tu_make_tmpdir();
    int64_t n = lq_gguf_tensor_count(g);
    ck_assert_int_gt(n, 9);
    lq_gguf *h = write_split(g, dir, 0, 3, (int)((n + 2) / 3));
    lq_gguf_close(h);
    /* remove shard 3: opening the model names the missing file */
    char name[64];
    snprintf(name, sizeof name, "split-00003-of-%05d.gguf", (int)((n + 2) / 3));
    char *gone = tu_join_path(dir, name);
    ck_assert_int_eq(remove(gone), 0);
    name[10] = '1';
    char *first = tu_join_path(dir, name);
    lq_gguf_error err;
    ck_assert_int_eq(lq_gguf_open_model(first, &h, &err), LQ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "split-00003-of-"));
    /* put shard 2 in its place: wrong split.no */
    name[10] = '2';
    char *second = tu_join_path(dir, name);
    size_t size;
    unsigned char *bytes = slurp(second, &size);
    FILE *f = fopen(gone, "wb");
    fwrite(bytes, 1, size, f);
    fclose(f);
    free(bytes);
    ck_assert_int_eq(lq_gguf_open_model(first, &h, &err), LQ_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.message, "split-00003-of-"));
    ck_assert_ptr_nonnull(strstr(err.message, "split.no"));
    ck_assert_ptr_nonnull(strstr(err.message, "offset"));
    /* a single shard still opens alone with lq_gguf_open */
    lq_gguf *alone;
    ck_assert_int_eq(lq_gguf_open(second, &alone, NULL), LQ_OK);
    ck_assert_int_eq(lq_gguf_tensor_count(alone), 3);
    lq_gguf_close(alone);
    free(second);
    free(first);
    free(gone);
    tu_rmtree(dir);
    free(dir);
    lq_gguf_close(g);
}
END_TEST

/* ---- writer failures leave nothing behind -------------------------------- */

START_TEST(test_writer_failures_leave_nothing) {
    lq_gguf *g = open_shared("vectors/q4_0.gguf");
    char *dir = tu_make_tmpdir();
    lq_gguf_error err;

    /* a directory that does not exist */
    char *bad = tu_join_path(dir, "missing/out.gguf");
    lq_gguf_writer *w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_begin(w, bad, &err), LQ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "missing/out.gguf"));
    lq_gguf_writer_free(w);
    free(bad);

    char *path = tu_join_path(dir, "out.gguf");
    const lq_gguf_tensor *t0 = lq_gguf_tensor_at(g, 0);
    /* abort midway */
    w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path, &err), LQ_OK);
    ck_assert_int_eq(tu_count_dir_entries(dir), 1); /* the temporary file */
    ck_assert_int_eq(lq_gguf_writer_write_tensor(w, 0, t0->data, t0->size, &err), LQ_OK);
    lq_gguf_writer_abort(w);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    lq_gguf_writer_free(w);
    /* freed while streaming */
    w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path, &err), LQ_OK);
    lq_gguf_writer_free(w);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    /* wrong size, wrong order, finish too early: each ends the stream */
    w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path, &err), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_write_tensor(w, 0, t0->data, t0->size - 1, &err),
                     LQ_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    lq_gguf_writer_free(w);
    w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path, &err), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_write_tensor(w, 1, t0->data, t0->size, &err),
                     LQ_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    lq_gguf_writer_free(w);
    w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path, &err), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_finish(w, &err), LQ_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    lq_gguf_writer_free(w);
    /* split output aborted in its second shard: no shard survives */
    w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_set_split(w, 0, 2), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path, &err), LQ_OK);
    for (int64_t i = 0; i < 3; i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        ck_assert_int_eq(lq_gguf_writer_write_tensor(w, i, t->data, t->size, &err), LQ_OK);
    }
    lq_gguf_writer_abort(w);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    lq_gguf_writer_free(w);
    /* an invalid alignment key is refused at begin */
    w = writer_like(g);
    ck_assert_int_eq(lq_gguf_writer_set_u32(w, "general.alignment", 48), LQ_OK);
    ck_assert_int_eq(lq_gguf_writer_begin(w, path, &err), LQ_ERR_INVALID_ARGUMENT);
    lq_gguf_writer_free(w);
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);

    free(path);
    tu_rmtree(dir);
    free(dir);
    lq_gguf_close(g);
}
END_TEST

/* ---- malformed files ------------------------------------------------------ */

/* A little GGUF builder, independent of the library's writer. */
typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(bytes *b, uint32_t v) {
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 4);
}
static void put_u64(bytes *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 8);
}
static void put_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void put_header(bytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}
static void put_kv_u32(bytes *b, const char *key, uint32_t v) {
    put_str(b, key);
    put_u32(b, LQ_GGUF_U32);
    put_u32(b, v);
}
static void put_tensor_info(bytes *b, const char *name, uint32_t n_dims,
                            const uint64_t *ne, uint32_t type, uint64_t offset) {
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        put_u64(b, ne[d]);
    put_u32(b, type);
    put_u64(b, offset);
}
static void pad_to(bytes *b, size_t alignment) {
    while (b->n % alignment)
        put(b, "", 1);
}
static void put_zeros(bytes *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        put(b, "", 1);
}

static const uint64_t ne_32[1] = {32};

/* A valid file: one key, tensors a and b (32 f32 each) */
static void build_valid(bytes *b) {
    put_header(b, 3, 2, 1);
    put_kv_u32(b, "k", 1);
    put_tensor_info(b, "a", 1, ne_32, LQ_TYPE_F32, 0);
    put_tensor_info(b, "b", 1, ne_32, LQ_TYPE_F32, 128);
    pad_to(b, 32);
    put_zeros(b, 256);
}

static void build_empty(bytes *b) { (void)b; }
static void build_bad_magic(bytes *b) { put(b, "GGML\3\0\0\0", 8); put_zeros(b, 16); }
static void build_version1(bytes *b) { put_header(b, 1, 0, 0); }
static void build_version4(bytes *b) { put_header(b, 4, 0, 0); }
static void build_big_endian(bytes *b) { put_header(b, 0x03000000u, 0, 0); }
static void build_truncated_header(bytes *b) { put(b, "GGUF\3\0\0\0\0\0", 10); }
static void build_huge_kv_count(bytes *b) { put_header(b, 3, 0, UINT64_C(1) << 60); }
static void build_huge_tensor_count(bytes *b) { put_header(b, 3, UINT64_C(1) << 60, 0); }
static void build_key_past_end(bytes *b) {
    put_header(b, 3, 0, 1);
    put_u64(b, 1000);
    put(b, "abc", 3);
    put_zeros(b, 16);
}
static void build_string_past_end(bytes *b) {
    put_header(b, 3, 0, 1);
    put_str(b, "s");
    put_u32(b, LQ_GGUF_STRING);
    put_u64(b, UINT64_MAX);
    put_zeros(b, 16);
}
static void build_huge_array(bytes *b) {
    put_header(b, 3, 0, 1);
    put_str(b, "arr");
    put_u32(b, LQ_GGUF_ARRAY);
    put_u32(b, LQ_GGUF_U8);
    put_u64(b, UINT64_C(1) << 60);
    put_zeros(b, 64);
}
static void build_huge_nested_array(bytes *b) {
    put_header(b, 3, 0, 1);
    put_str(b, "arr");
    put_u32(b, LQ_GGUF_ARRAY);
    put_u32(b, LQ_GGUF_ARRAY);
    put_u64(b, 1);
    put_u32(b, LQ_GGUF_STRING);
    put_u64(b, UINT64_C(1) << 60);
    put_zeros(b, 64);
}
static void build_deep_nesting(bytes *b) {
    put_header(b, 3, 0, 1);
    put_str(b, "deep");
    put_u32(b, LQ_GGUF_ARRAY);
    for (int i = 0; i < 40; i++) {
        put_u32(b, LQ_GGUF_ARRAY);
        put_u64(b, 1);
    }
    put_u32(b, LQ_GGUF_U8);
    put_u64(b, 0);
}
static void build_unknown_value_type(bytes *b) {
    put_header(b, 3, 0, 1);
    put_str(b, "k");
    put_u32(b, 13);
    put_u64(b, 0);
}
static void build_unknown_elem_type(bytes *b) {
    put_header(b, 3, 0, 1);
    put_str(b, "k");
    put_u32(b, LQ_GGUF_ARRAY);
    put_u32(b, 99);
    put_u64(b, 0);
}
static void build_key_with_nul(bytes *b) {
    put_header(b, 3, 0, 1);
    put_u64(b, 3);
    put(b, "a\0b", 3);
    put_u32(b, LQ_GGUF_U8);
    put(b, "x", 1);
}
static void build_duplicate_key(bytes *b) {
    put_header(b, 3, 0, 2);
    put_kv_u32(b, "k", 1);
    put_kv_u32(b, "k", 2);
}
static void build_alignment_zero(bytes *b) {
    put_header(b, 3, 0, 1);
    put_kv_u32(b, "general.alignment", 0);
}
static void build_alignment_three(bytes *b) {
    put_header(b, 3, 0, 1);
    put_kv_u32(b, "general.alignment", 3);
}
static void build_alignment_string(bytes *b) {
    put_header(b, 3, 0, 1);
    put_str(b, "general.alignment");
    put_u32(b, LQ_GGUF_STRING);
    put_str(b, "32");
}
static void one_tensor(bytes *b, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                       uint64_t offset, size_t data) {
    put_header(b, 3, 1, 0);
    put_tensor_info(b, "blk.0.attn_q.weight", n_dims, ne, type, offset);
    pad_to(b, 32);
    put_zeros(b, data);
}
static void build_zero_dims(bytes *b) { one_tensor(b, 0, ne_32, LQ_TYPE_F32, 0, 128); }
static void build_five_dims(bytes *b) {
    static const uint64_t ne[5] = {32, 1, 1, 1, 1};
    one_tensor(b, 5, ne, LQ_TYPE_F32, 0, 128);
}
static void build_unknown_type(bytes *b) { one_tensor(b, 1, ne_32, 4, 0, 128); }
static void build_huge_type(bytes *b) { one_tensor(b, 1, ne_32, 0xffffffffu, 0, 128); }
static void build_dims_overflow(bytes *b) {
    static const uint64_t ne[4] = {32, UINT64_C(1) << 31, UINT64_C(1) << 31, 1u << 3};
    one_tensor(b, 4, ne, LQ_TYPE_F32, 0, 128);
}
static void build_size_overflow(bytes *b) {
    static const uint64_t ne[2] = {UINT64_C(1) << 40, UINT64_C(1) << 22};
    one_tensor(b, 2, ne, LQ_TYPE_F32, 0, 128);
}
static void build_negative_dim(bytes *b) {
    static const uint64_t ne[2] = {32, UINT64_C(1) << 63};
    one_tensor(b, 2, ne, LQ_TYPE_F32, 0, 128);
}
static void build_bad_block_multiple(bytes *b) {
    static const uint64_t ne[1] = {33};
    one_tensor(b, 1, ne, LQ_TYPE_Q4_0, 0, 128);
}
static void build_bad_interleave(bytes *b) {
    static const uint64_t ne[2] = {32, 3};
    one_tensor(b, 2, ne, LQ_TYPE_Q4_0_R8, 0, 1024);
}
static void build_data_outside(bytes *b) { one_tensor(b, 1, ne_32, LQ_TYPE_F32, 0, 100); }
static void build_offset_outside(bytes *b) {
    one_tensor(b, 1, ne_32, LQ_TYPE_F32, UINT64_MAX - 31, 128);
}
static void build_misaligned(bytes *b) { one_tensor(b, 1, ne_32, LQ_TYPE_F32, 4, 256); }
static void build_overlap(bytes *b) {
    put_header(b, 3, 2, 0);
    put_tensor_info(b, "a", 1, ne_32, LQ_TYPE_F32, 0);
    put_tensor_info(b, "b", 1, ne_32, LQ_TYPE_F32, 96);
    pad_to(b, 32);
    put_zeros(b, 256);
}
static void build_duplicate_tensor(bytes *b) {
    put_header(b, 3, 2, 0);
    put_tensor_info(b, "a", 1, ne_32, LQ_TYPE_F32, 0);
    put_tensor_info(b, "a", 1, ne_32, LQ_TYPE_F32, 128);
    pad_to(b, 32);
    put_zeros(b, 256);
}
static void build_empty_tensor_name(bytes *b) {
    put_header(b, 3, 1, 0);
    put_tensor_info(b, "", 1, ne_32, LQ_TYPE_F32, 0);
    pad_to(b, 32);
    put_zeros(b, 128);
}
static void build_truncated_tensor_info(bytes *b) {
    build_valid(b);
    b->n = 24 + 8 + 1 + 4 + 4 + 8 + 1 + 4 + 3; /* inside a's dimensions */
}
static void build_truncated_data(bytes *b) {
    build_valid(b);
    b->n -= 1;
}

typedef struct bad_case {
    const char *name;
    void (*build)(bytes *b);
    const char *expect; /* a word the message must contain */
} bad_case;

static const bad_case bad_cases[] = {
    {"empty", build_empty, "truncated"},
    {"bad-magic", build_bad_magic, "magic"},
    {"version1", build_version1, "version 1"},
    {"version4", build_version4, "version 4"},
    {"big-endian", build_big_endian, "big-endian"},
    {"truncated-header", build_truncated_header, "truncated"},
    {"huge-kv-count", build_huge_kv_count, "key-value"},
    {"huge-tensor-count", build_huge_tensor_count, "tensors"},
    {"key-past-end", build_key_past_end, "exceeds"},
    {"string-past-end", build_string_past_end, "key 's'"},
    {"huge-array", build_huge_array, "cannot fit"},
    {"huge-nested-array", build_huge_nested_array, "cannot fit"},
    {"deep-nesting", build_deep_nesting, "nested"},
    {"unknown-value-type", build_unknown_value_type, "value type 13"},
    {"unknown-elem-type", build_unknown_elem_type, "element type 99"},
    {"key-with-nul", build_key_with_nul, "NUL"},
    {"duplicate-key", build_duplicate_key, "duplicate key"},
    {"alignment-zero", build_alignment_zero, "power of two"},
    {"alignment-three", build_alignment_three, "power of two"},
    {"alignment-string", build_alignment_string, "not an integer"},
    {"zero-dims", build_zero_dims, "dimensions"},
    {"five-dims", build_five_dims, "dimensions"},
    {"unknown-type", build_unknown_type, "type id 4"},
    {"huge-type", build_huge_type, "type id"},
    {"dims-overflow", build_dims_overflow, "overflow"},
    {"size-overflow", build_size_overflow, "overflow"},
    {"negative-dim", build_negative_dim, "negative"},
    {"bad-block-multiple", build_bad_block_multiple, "block size"},
    {"bad-interleave", build_bad_interleave, "interleave"},
    {"data-outside", build_data_outside, "outside the file"},
    {"offset-outside", build_offset_outside, "outside the file"},
    {"misaligned", build_misaligned, "alignment"},
    {"overlap", build_overlap, "overlaps tensor 'a'"},
    {"duplicate-tensor", build_duplicate_tensor, "duplicate tensor"},
    {"empty-tensor-name", build_empty_tensor_name, "empty"},
    {"truncated-tensor-info", build_truncated_tensor_info, "truncated"},
    {"truncated-data", build_truncated_data, "outside the file"},
};

START_TEST(test_valid_builder_opens) {
    bytes b = {0};
    build_valid(&b);
    lq_gguf *g;
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_open_buffer(b.p, b.n, "valid.gguf", &g, &err) == LQ_OK, "%s",
                  err.message);
    ck_assert_int_eq(lq_gguf_tensor_count(g), 2);
    lq_gguf_release_tensor(g, lq_gguf_tensor_at(g, 0)); /* no-op on a buffer */
    lq_gguf_close(g);
    b.p[4] = 2; /* version 2 has the same layout */
    ck_assert_int_eq(lq_gguf_open_buffer(b.p, b.n, "v2.gguf", &g, &err), LQ_OK);
    ck_assert_uint_eq(lq_gguf_version(g), 2);
    lq_gguf_close(g);
    free(b.p);
}
END_TEST

START_TEST(test_bad_files) {
    const bad_case *c = &bad_cases[_i];
    bytes b = {0};
    c->build(&b);
    char name[96];
    snprintf(name, sizeof name, "bad-%s.gguf", c->name);
    lq_gguf *g = (lq_gguf *)1;
    lq_gguf_error err = {0};
    int st = lq_gguf_open_buffer(b.p, b.n, name, &g, &err);
    ck_assert_msg(st == LQ_ERR_FORMAT, "%s: status %d (%s)", c->name, st, err.message);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(err.status, LQ_ERR_FORMAT);
    ck_assert_msg(strstr(err.message, name) && strstr(err.message, "offset"),
                  "%s: message lacks file or offset: %s", c->name, err.message);
    ck_assert_msg(strstr(err.message, c->expect), "%s: message lacks '%s': %s", c->name,
                  c->expect, err.message);
    if (c->build == build_data_outside)
        ck_assert_ptr_nonnull(strstr(err.message, "blk.0.attn_q.weight"));
    free(b.p);
}
END_TEST

START_TEST(test_bad_file_on_disk) {
    char *dir = tu_make_tmpdir();
    char *path = tu_join_path(dir, "model.gguf");
    bytes b = {0};
    build_data_outside(&b);
    FILE *f = fopen(path, "wb");
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    lq_gguf *g;
    lq_gguf_error err;
    ck_assert_int_eq(lq_gguf_open_model(path, &g, &err), LQ_ERR_FORMAT);
    char expect[512];
    snprintf(expect, sizeof expect, "%s: offset ", path);
    ck_assert_msg(strstr(err.message, expect) != NULL, "%s", err.message);
    ck_assert_ptr_nonnull(strstr(err.message, "tensor 'blk.0.attn_q.weight': data ["));
    free(b.p);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, test_open_vector_files);
    tcase_add_test(tc, test_open_models);
    tcase_add_test(tc, test_open_errors_io);
    suite_add_tcase(s, tc);
    tc = tcase_create("write");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_trip_vectors);
    tcase_add_test(tc, test_round_trip_model);
    tcase_add_test(tc, test_writer_values_and_alignment);
    tcase_add_test(tc, test_writer_failures_leave_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("split");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_split_by_size);
    tcase_add_test(tc, test_split_by_count_and_keep_layout);
    tcase_add_test(tc, test_split_inconsistent);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_test(tc, test_valid_builder_opens);
    tcase_add_loop_test(tc, test_bad_files, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_bad_file_on_disk);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
