/*
 * quant repack, end to end: repack then --unpack gives the input's tensor
 * bytes and metadata back (q4_K made by quant quantize, the reference's own
 * iq4_k and q8_0 files, the bf16 model); repacked tensors have the
 * interleaved types and decode to the same floats; the row rules, patterns,
 * dry runs, split models and exit codes.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char *tmpdir;
static char *shared_tmpdir; /* models made once for the whole run */
static char *q4_k_model;

static void setup(void) { tmpdir = tu_make_tmpdir(); }

static void teardown(void) {
    tu_rmtree(tmpdir);
    free(tmpdir);
}

static char *tmp_path(const char *name) { return tu_join_path(tmpdir, name); }

/* ---- comparisons -------------------------------------------------------- */

/* Same keys in the same order with the same types and values. */
static void assert_same_metadata(const lq_gguf *a, const lq_gguf *b) {
    ck_assert_int_eq(lq_gguf_kv_count(a), lq_gguf_kv_count(b));
    for (int64_t i = 0; i < lq_gguf_kv_count(a); i++) {
        const lq_gguf_kv *ka = lq_gguf_kv_at(a, i), *kb = lq_gguf_kv_at(b, i);
        ck_assert_str_eq(ka->key, kb->key);
        ck_assert_msg(tu_gguf_values_equal(&ka->value, &kb->value), "key %s differs",
                      ka->key);
    }
}

/* The interleaved type the registry says repacks `type`, or -1. */
static int registry_target(int type) {
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if (info->base_type == type && (lq_type_caps(info->type) & LQ_CAP_REPACK))
            return info->type;
    }
    return -1;
}

static bool is_token_embedding(const char *name) {
    return strcmp(name, "token_embd.weight") == 0 ||
           strcmp(name, "per_layer_token_embd.weight") == 0;
}

/* The type the tool must give a tensor of `orig` (pattern aside). */
static int expected_type(const lq_gguf_tensor *t) {
    int target = registry_target(t->type);
    if (target < 0 || is_token_embedding(t->name) ||
        t->ne[1] % lq_type_get(target)->interleave != 0)
        return t->type;
    return target;
}

static void assert_decodes_equal(const lq_gguf_tensor *a, const lq_gguf_tensor *b) {
    int64_t rows = lq_gguf_tensor_rows(a), n = rows * a->ne[0];
    float *fa = malloc(sizeof(float) * (size_t)(n ? n : 1));
    float *fb = malloc(sizeof(float) * (size_t)(n ? n : 1));
    ck_assert(fa && fb);
    const size_t decoded_bytes = sizeof(float) * (size_t)(n ? n : 1);
    ck_assert_int_eq(lq_dequantize_rows(a->type, a->data, a->size, rows, a->ne[0], fa,
                                        decoded_bytes), LQ_OK);
    ck_assert_int_eq(lq_dequantize_rows(b->type, b->data, b->size, rows, b->ne[0], fb,
                                        decoded_bytes), LQ_OK);
    ck_assert_msg(memcmp(fa, fb, sizeof(float) * (size_t)n) == 0, "%s decodes differently",
                  a->name);
    free(fa);
    free(fb);
}

/* Every tensor of `repacked` has the type the rules give, and the same floats. */
static int check_repacked(const lq_gguf *orig, const lq_gguf *repacked, bool decode) {
    int changed = 0;
    ck_assert_int_eq(lq_gguf_tensor_count(orig), lq_gguf_tensor_count(repacked));
    for (int64_t i = 0; i < lq_gguf_tensor_count(orig); i++) {
        const lq_gguf_tensor *o = lq_gguf_tensor_at(orig, i), *r = lq_gguf_tensor_at(repacked, i);
        ck_assert_str_eq(o->name, r->name);
        ck_assert_msg(r->type == expected_type(o), "%s: %s, expected %s", o->name,
                      lq_type_name(r->type), lq_type_name(expected_type(o)));
        changed += r->type != o->type;
        if (decode && (lq_type_caps(o->type) & LQ_CAP_DECODE))
            assert_decodes_equal(o, r);
    }
    return changed;
}

static int64_t file_type_of(const lq_gguf *g) {
    int64_t v = -1;
    ck_assert_int_eq(lq_gguf_get_i64(g, "general.file_type", &v), LQ_OK);
    return v;
}

/* repack, check, unpack, compare with the input. */
static void round_trip(const char *model, int64_t repacked_file_type) {
    char *packed = tmp_path("packed.gguf"), *unpacked = tmp_path("unpacked.gguf");
    char *err = NULL, *out = NULL;
    int rc = tu_run_quantf(&out, &err, "repack -t 2 '%s' '%s'", model, packed);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(out, "blk.0.attn_q.weight"));
    free(err), free(out);
    lq_gguf *in = tu_open_model(model), *p = tu_open_model(packed);
    ck_assert_int_gt(check_repacked(in, p, true), 0);
    const lq_gguf_tensor *embd = lq_gguf_find_tensor(p, "token_embd.weight");
    ck_assert_int_eq(embd->type, lq_gguf_find_tensor(in, "token_embd.weight")->type);
    ck_assert_int_eq(file_type_of(p), repacked_file_type);
    lq_gguf_close(p);

    rc = tu_run_quantf(NULL, &err, "repack --unpack -t 2 '%s' '%s'", packed, unpacked);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    lq_gguf *u = tu_open_model(unpacked);
    tu_assert_same_tensors(in, u);
    assert_same_metadata(in, u);
    lq_gguf_close(u);
    lq_gguf_close(in);
    free(packed), free(unpacked);
}

START_TEST(test_round_trip_q4_K) {
    round_trip(q4_k_model, 214); /* Q4_K_M -> Q4_K_R4 */
}
END_TEST

START_TEST(test_round_trip_iq4_k_reference_file) {
    char *model = tu_shared_path("models/tiny-llama-iq4_k-ref.gguf");
    round_trip(model, 340);
    free(model);
}
END_TEST

START_TEST(test_round_trip_q8_0_reference_file) {
    char *model = tu_shared_path("models/tiny-llama-q8_0-ref.gguf");
    round_trip(model, 207);
    free(model);
}
END_TEST

START_TEST(test_round_trip_bf16) {
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    round_trip(model, 232);
    free(model);
}
END_TEST

START_TEST(test_pattern_limits_the_repack) {
    char *model = tu_shared_path("models/tiny-llama-q8_0-ref.gguf");
    char *packed = tmp_path("packed.gguf");
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "repack --pattern 'ffn_up,attn_q' --pattern '^output\\.' "
                           "'%s' '%s'", model, packed);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    lq_gguf *in = tu_open_model(model), *p = tu_open_model(packed);
    int changed = 0;
    for (int64_t i = 0; i < lq_gguf_tensor_count(in); i++) {
        const lq_gguf_tensor *o = lq_gguf_tensor_at(in, i), *r = lq_gguf_tensor_at(p, i);
        bool selected = strstr(o->name, "ffn_up") || strstr(o->name, "attn_q") ||
                        strncmp(o->name, "output.", 7) == 0;
        int want = selected ? expected_type(o) : o->type;
        ck_assert_msg(r->type == want, "%s: %s", o->name, lq_type_name(r->type));
        changed += r->type != o->type;
    }
    ck_assert_int_eq(changed, 6 + 6 + 1);
    lq_gguf_close(p), lq_gguf_close(in);
    free(err), free(packed), free(model);
}
END_TEST

START_TEST(test_invalid_pattern_is_a_usage_error) {
    char *model = tu_shared_path("models/tiny-llama-q8_0-ref.gguf");
    char *packed = tmp_path("packed.gguf");
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "repack --pattern 'ffn_(up' '%s' '%s'", model, packed);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "ffn_(up") && strstr(err, "parenthesis") && strstr(err, "column"),
                  "%s", err);
    free(err);
    rc = tu_run_quantf(NULL, &err, "repack --pattern 'attn,' '%s' '%s'", model, packed);
    ck_assert_int_eq(rc, 2);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 0);
    free(err), free(packed), free(model);
}
END_TEST

/* The "[i/n] ... A -> B" lines of an output, concatenated. */
static char *change_lines(const char *out) {
    char *lines = calloc(strlen(out) + 1, 1);
    ck_assert_ptr_nonnull(lines);
    for (const char *line = out; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        if (buf[0] == '[' && strstr(buf, " -> "))
            strcat(lines, buf);
        line += len;
    }
    return lines;
}

START_TEST(test_dry_run_writes_nothing_and_lists_the_same_changes) {
    char *model = tu_shared_path("models/tiny-llama-iq4_k-ref.gguf");
    char *packed = tmp_path("packed.gguf");
    char *dry = NULL, *real = NULL, *err = NULL;
    int rc = tu_run_quantf(&dry, &err, "repack --dry-run --pattern 'blk\\.[0-2]\\.' '%s' '%s'",
                           model, packed);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 0);
    rc = tu_run_quantf(&real, &err, "repack --pattern 'blk\\.[0-2]\\.' '%s' '%s'", model, packed);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    char *a = change_lines(dry), *b = change_lines(real);
    ck_assert_str_eq(a, b);
    ck_assert_ptr_nonnull(strstr(a, "blk.2.ffn_down.weight"));
    ck_assert_ptr_null(strstr(a, "blk.3."));
    free(a), free(b), free(dry), free(real), free(err), free(packed), free(model);
}
END_TEST

START_TEST(test_missing_input_exits_1) {
    char *missing = tmp_path("missing.gguf"), *packed = tmp_path("packed.gguf");
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "repack '%s' '%s'", missing, packed);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(err, "missing.gguf"));
    ck_assert_int_eq(tu_count_dir_entries(tmpdir), 0);
    free(err);
    rc = tu_run_quantf(NULL, &err, "repack '%s'", missing);
    ck_assert_int_eq(rc, 2);
    free(err), free(missing), free(packed);
}
END_TEST

/* ---- hand-built models ---------------------------------------------------- */

typedef struct small_tensor {
    char name[64];
    int type;
    int n_dims;
    int64_t ne[3];
} small_tensor;

/* Encoded Gaussian rows where the type can be encoded: some layouts hold
 * redundant data (q8_KV's row sum, which q8_KV_r8 drops and unpacking
 * recomputes), so arbitrary bytes would not round-trip. */
static void fill_tensor(const small_tensor *t, int64_t rows, unsigned char *bytes, int64_t size,
                        tu_rng *rng) {
    if (!(lq_type_caps(t->type) & LQ_CAP_ENCODE)) {
        for (int64_t b = 0; b < size; b++)
            bytes[b] = (unsigned char)tu_rng_next(rng);
        return;
    }
    int64_t n = rows * t->ne[0];
    float *x = malloc(sizeof(float) * (size_t)n);
    ck_assert_ptr_nonnull(x);
    for (int64_t k = 0; k < n; k++)
        x[k] = (float)tu_rng_gauss(rng);
    ck_assert_int_eq(lq_quantize_rows(t->type, x, rows, t->ne[0], NULL, bytes, (size_t)size),
                     size);
    free(x);
}

/* Write a model of the given tensors (split into shards of at most
 * max_tensors_per_shard tensors if > 0). */
static void write_model(const char *path, const small_tensor *ts, int count,
                        int64_t max_tensors_per_shard) {
    lq_gguf_writer *w = lq_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    lq_gguf_writer_set_str(w, "general.architecture", "llama");
    lq_gguf_writer_set_u32(w, "general.file_type", 7);
    if (max_tensors_per_shard > 0)
        ck_assert_int_eq(lq_gguf_writer_set_split(w, 0, max_tensors_per_shard), LQ_OK);
    const void **data = calloc((size_t)count, sizeof *data);
    tu_rng rng = {(uint64_t)count};
    for (int i = 0; i < count; i++) {
        int64_t rows = ts[i].ne[1] * (ts[i].n_dims > 2 ? ts[i].ne[2] : 1);
        int64_t size = lq_tensor_size(ts[i].type, rows, ts[i].ne[0]);
        ck_assert_int_gt(size, 0);
        unsigned char *bytes = malloc((size_t)size);
        ck_assert_ptr_nonnull(bytes);
        fill_tensor(&ts[i], rows, bytes, size, &rng);
        data[i] = bytes;
        ck_assert_int_ge(lq_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims,
                                                   ts[i].ne), 0);
    }
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_write_file(w, path, data, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(w);
    for (int i = 0; i < count; i++)
        free((void *)data[i]);
    free(data);
}

/* One 16-row tensor of every base type the registry can repack, plus the
 * tensors the rules keep: rows not a multiple of the factor (also when only
 * the product of ne[1..] is one), a token embedding, F16. */
START_TEST(test_every_base_type_and_the_row_rules) {
    small_tensor ts[80];
    int n = 0;
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if (info->base_type < 0 || !(lq_type_caps(info->type) & LQ_CAP_REPACK))
            continue;
        const lq_type_info *base = lq_type_get(info->base_type);
        ts[n] = (small_tensor){"", base->type, 2, {256, 16, 1}};
        snprintf(ts[n].name, sizeof ts[n].name, "blk.%d.ffn_up.weight", n);
        n++;
    }
    ck_assert_int_ge(n, 26);
    const int kept_first = n;
    ts[n++] = (small_tensor){"blk.90.ffn_down.weight", LQ_TYPE_Q8_0, 2, {64, 12, 1}};
    ts[n++] = (small_tensor){"blk.91.ffn_down_exps.weight", LQ_TYPE_Q8_0, 3, {64, 4, 4}};
    ts[n++] = (small_tensor){"token_embd.weight", LQ_TYPE_Q4_0, 2, {64, 16, 1}};
    ts[n++] = (small_tensor){"per_layer_token_embd.weight", LQ_TYPE_Q4_K, 2, {256, 16, 1}};
    ts[n++] = (small_tensor){"blk.92.attn_q.weight", LQ_TYPE_F16, 2, {64, 16, 1}};
    ts[n++] = (small_tensor){"blk.93.ffn_gate_exps.weight", LQ_TYPE_Q4_0, 3, {64, 8, 2}};
    char *model = tmp_path("small.gguf"), *packed = tmp_path("packed.gguf"),
         *unpacked = tmp_path("unpacked.gguf");
    write_model(model, ts, n, 0);
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "repack -t 3 '%s' '%s'", model, packed);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    lq_gguf *in = tu_open_model(model), *p = tu_open_model(packed);
    ck_assert_int_eq(check_repacked(in, p, false), kept_first + 1);
    for (int i = kept_first; i < n - 1; i++)
        ck_assert_int_eq(lq_gguf_find_tensor(p, ts[i].name)->type, ts[i].type);
    ck_assert_int_eq(lq_gguf_find_tensor(p, "blk.93.ffn_gate_exps.weight")->type,
                     LQ_TYPE_Q4_0_R8);
    ck_assert_int_eq(file_type_of(p), 207);
    lq_gguf_close(p);
    rc = tu_run_quantf(NULL, &err, "repack --unpack '%s' '%s'", packed, unpacked);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    lq_gguf *u = tu_open_model(unpacked);
    tu_assert_same_tensors(in, u);
    assert_same_metadata(in, u);
    lq_gguf_close(u), lq_gguf_close(in);
    free(model), free(packed), free(unpacked);
}
END_TEST

/* --unpack leaves the formats of their own alone and says nothing changed. */
START_TEST(test_unpack_keeps_formats_of_their_own) {
    small_tensor ts[] = {
        {"blk.0.ffn_up.weight", LQ_TYPE_IQ1_S_R4, 2, {256, 16, 1}},
        {"blk.0.ffn_down.weight", LQ_TYPE_Q8_K_R8, 2, {256, 16, 1}},
        {"blk.0.ffn_gate.weight", LQ_TYPE_Q8_K_R16, 2, {256, 16, 1}},
        {"blk.0.attn_q.weight", LQ_TYPE_IQ1_M_R4, 2, {256, 16, 1}},
    };
    char *model = tmp_path("own.gguf"), *unpacked = tmp_path("unpacked.gguf");
    write_model(model, ts, 4, 0);
    char *out = NULL, *err = NULL;
    int rc = tu_run_quantf(&out, &err, "repack --unpack '%s' '%s'", model, unpacked);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(out, "nothing to unpack"));
    lq_gguf *in = tu_open_model(model), *u = tu_open_model(unpacked);
    tu_assert_same_tensors(in, u);
    assert_same_metadata(in, u);
    lq_gguf_close(u), lq_gguf_close(in);
    free(out), free(err), free(model), free(unpacked);
}
END_TEST

START_TEST(test_split_model) {
    small_tensor ts[5];
    for (int i = 0; i < 5; i++) {
        ts[i] = (small_tensor){"", i == 2 ? LQ_TYPE_F32 : LQ_TYPE_Q4_K, 2, {256, 8, 1}};
        snprintf(ts[i].name, sizeof ts[i].name, "blk.%d.ffn_up.weight", i);
    }
    char *prefix = tmp_path("in.gguf"), *first = tmp_path("in-00001-of-00003.gguf");
    write_model(prefix, ts, 5, 2);
    char *out_prefix = tmp_path("out.gguf"), *merged = tmp_path("merged.gguf"), *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "repack --keep-split '%s' '%s'", first, out_prefix);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    lq_gguf *in = tu_open_model(first);
    for (int s = 1; s <= 3; s++) {
        char name[64];
        snprintf(name, sizeof name, "out-%05d-of-00003.gguf", s);
        char *shard = tmp_path(name);
        lq_gguf *g = NULL;
        lq_gguf_error e;
        ck_assert_msg(lq_gguf_open(shard, &g, &e) == LQ_OK, "%s", e.message);
        ck_assert_int_eq(lq_gguf_tensor_count(g), s < 3 ? 2 : 1);
        lq_gguf_close(g);
        free(shard);
    }
    char *out_first = tmp_path("out-00001-of-00003.gguf");
    lq_gguf *p = tu_open_model(out_first);
    ck_assert_int_eq(check_repacked(in, p, true), 4);
    lq_gguf_close(p);
    rc = tu_run_quantf(NULL, &err, "repack '%s' '%s'", first, merged);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    lq_gguf *m = tu_open_model(merged);
    ck_assert_int_eq(lq_gguf_shard_count(m), 1);
    ck_assert_ptr_null(lq_gguf_find(m, "split.count"));
    ck_assert_int_eq(check_repacked(in, m, true), 4);
    lq_gguf_close(m), lq_gguf_close(in);
    free(err), free(prefix), free(first), free(out_prefix), free(out_first), free(merged);
}
END_TEST

/* The q4_K model is made once (quantizing takes a few seconds). */
static void make_shared_models(void) {
    shared_tmpdir = tu_make_tmpdir();
    q4_k_model = tu_join_path(shared_tmpdir, "q4_K.gguf");
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err, "quantize --pure -t 2 '%s' '%s' q4_K", model, q4_k_model);
    if (rc != 0) {
        fprintf(stderr, "making the q4_K model failed (exit %d): %s\n", rc, err);
        exit(1);
    }
    free(err), free(model);
}

static void remove_shared_models(void) {
    tu_rmtree(shared_tmpdir);
    free(shared_tmpdir);
    free(q4_k_model);
}

int main(void) {
    Suite *s = suite_create("tool_repack");
    TCase *tc = tcase_create("repack");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_shared_models, remove_shared_models);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip_q4_K);
    tcase_add_test(tc, test_round_trip_iq4_k_reference_file);
    tcase_add_test(tc, test_round_trip_q8_0_reference_file);
    tcase_add_test(tc, test_round_trip_bf16);
    tcase_add_test(tc, test_pattern_limits_the_repack);
    tcase_add_test(tc, test_invalid_pattern_is_a_usage_error);
    tcase_add_test(tc, test_dry_run_writes_nothing_and_lists_the_same_changes);
    tcase_add_test(tc, test_missing_input_exits_1);
    tcase_add_test(tc, test_every_base_type_and_the_row_rules);
    tcase_add_test(tc, test_unpack_keeps_formats_of_their_own);
    tcase_add_test(tc, test_split_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
