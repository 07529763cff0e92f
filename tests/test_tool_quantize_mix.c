/*
 * quant quantize: presets against the reference's rules, --custom-q and
 * --mix, validation errors, importance matrices in both formats (and the
 * legacy reader against hand-written bytes), stacked experts, dry runs,
 * split output, --override-kv.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant_imatrix.h"
#include "testutil.h"

static char *tmpdir;
static char *model;

static void setup(void) {
    tmpdir = tu_make_tmpdir();
    model = tu_shared_path("models/tiny-llama-bf16.gguf");
}

static void teardown(void) {
    tu_rmtree(tmpdir);
    free(tmpdir);
    free(model);
}

static char *tmp_path(const char *name) { return tu_join_path(tmpdir, name); }

static int type_of(const lq_gguf *g, const char *name) {
    const lq_gguf_tensor *t = lq_gguf_find_tensor(g, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    return t->type;
}

/* The type a dry-run table gives a tensor ("[ i/ n] NAME [shape] from -> TO ..."). */
static const char *dry_run_type(const char *table, const char *name, char *buf) {
    char needle[256];
    snprintf(needle, sizeof needle, "] %s ", name);
    const char *line = strstr(table, needle);
    ck_assert_msg(line != NULL, "%s not in the table", name);
    const char *arrow = strstr(line, "-> ");
    ck_assert_ptr_nonnull(arrow);
    ck_assert_int_eq(sscanf(arrow + 3, "%31s", buf), 1);
    return buf;
}

static bool file_equal(const char *a, const char *b) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return tu_run(cmd, NULL, NULL) == 0;
}

static bool tensor_bytes_equal(const lq_gguf *a, const lq_gguf *b, const char *name) {
    const lq_gguf_tensor *x = lq_gguf_find_tensor(a, name), *y = lq_gguf_find_tensor(b, name);
    ck_assert(x && y);
    return x->type == y->type && x->size == y->size && memcmp(x->data, y->data, x->size) == 0;
}

/* ---- presets ------------------------------------------------------------- */

typedef struct expectation {
    const char *tensor;
    const char *type;
} expectation;

/* Expected per-tensor types, derived by hand from the reference's
 * llama_tensor_get_type for this model: 6 layers, 8 heads / 4 KV heads (GQA
 * 2), a separate output.weight, rows of 512 and 1536 (multiples of 256).
 * use_more_bits(i, 6) holds for i = 2 and 5 (i >= 7*6/8 = 5, or i % 3 == 2);
 * n/8 = 0, so no "first eighth" layer. */
static void check_preset(const char *opts, const char *preset, const expectation *expected,
                         int n) {
    char *table = NULL, *err = NULL, buf[32];
    char *out = tmp_path("x.gguf");
    int rc =
        tu_run_quantf(&table, &err, "quantize --dry-run %s '%s' '%s' %s", opts, model, out, preset);
    ck_assert_msg(rc == 0, "%s: %s", preset, err);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strcmp(dry_run_type(table, expected[i].tensor, buf), expected[i].type) == 0,
                      "%s: %s is %s, expected %s", preset, expected[i].tensor, buf,
                      expected[i].type);
    free(table), free(err), free(out);
}

START_TEST(test_presets_follow_reference_rules) {
    static const expectation q4_k_m[] = {
        {"output.weight", "q6_K"},         {"token_embd.weight", "q4_K"},
        {"blk.0.attn_v.weight", "q4_K"},   {"blk.1.attn_v.weight", "q4_K"},
        {"blk.2.attn_v.weight", "q6_K"},   {"blk.3.attn_v.weight", "q4_K"},
        {"blk.5.attn_v.weight", "q6_K"},   {"blk.0.ffn_down.weight", "q4_K"},
        {"blk.2.ffn_down.weight", "q6_K"}, {"blk.4.ffn_down.weight", "q4_K"},
        {"blk.5.ffn_down.weight", "q6_K"}, {"blk.2.ffn_up.weight", "q4_K"},
        {"blk.2.attn_q.weight", "q4_K"},   {"blk.5.attn_output.weight", "q4_K"},
        {"output_norm.weight", "f32"},
    };
    static const expectation q4_k_s[] = {
        {"output.weight", "q6_K"},       {"blk.0.attn_v.weight", "q5_K"},
        {"blk.3.attn_v.weight", "q5_K"}, {"blk.4.attn_v.weight", "q4_K"},
        {"blk.0.ffn_down.weight", "q4_K"}, {"blk.2.ffn_down.weight", "q4_K"},
    };
    static const expectation q3_k_m[] = {
        {"output.weight", "q6_K"},          {"blk.0.attn_v.weight", "q5_K"},
        {"blk.1.attn_v.weight", "q5_K"},    {"blk.2.attn_v.weight", "q4_K"},
        {"blk.0.ffn_down.weight", "q4_K"},  {"blk.3.ffn_down.weight", "q4_K"},
        {"blk.0.attn_output.weight", "q4_K"}, {"blk.0.ffn_gate.weight", "q3_K"},
        {"token_embd.weight", "q3_K"},
    };
    static const expectation q2_k[] = {
        {"output.weight", "q6_K"}, {"blk.0.attn_v.weight", "q3_K"},
        {"blk.0.ffn_down.weight", "q3_K"}, {"blk.0.attn_output.weight", "q3_K"},
        {"blk.0.attn_q.weight", "q2_K"}, {"token_embd.weight", "q2_K"},
    };
    static const expectation iq4_xs[] = {
        {"output.weight", "q6_K"},         {"blk.0.attn_v.weight", "iq5_k"},
        {"blk.0.ffn_down.weight", "iq4_xs"}, {"blk.0.attn_k.weight", "iq4_xs"},
        {"token_embd.weight", "iq4_xs"},
    };
    static const expectation q8_0[] = {
        {"output.weight", "q8_0"}, {"blk.2.attn_v.weight", "q8_0"},
        {"token_embd.weight", "q8_0"},
    };
    /* the q4_K type name means the Q4_K_M preset, as in the reference */
    check_preset("", "Q4_K_M", q4_k_m, sizeof q4_k_m / sizeof q4_k_m[0]);
    check_preset("", "q4_k", q4_k_m, sizeof q4_k_m / sizeof q4_k_m[0]);
    check_preset("", "Q4_K_S", q4_k_s, sizeof q4_k_s / sizeof q4_k_s[0]);
    check_preset("", "Q3_K_M", q3_k_m, sizeof q3_k_m / sizeof q3_k_m[0]);
    check_preset("", "Q2_K", q2_k, sizeof q2_k / sizeof q2_k[0]);
    check_preset("", "IQ4_XS", iq4_xs, sizeof iq4_xs / sizeof iq4_xs[0]);
    check_preset("", "q8_0", q8_0, sizeof q8_0 / sizeof q8_0[0]);
}
END_TEST

/* --pure: a type name gives that type, a preset name its base type. */
START_TEST(test_pure_type_vs_preset) {
    static const expectation pure_q4_k_m[] = {
        {"output.weight", "q4_K"}, {"blk.2.attn_v.weight", "q4_K"},
        {"blk.5.ffn_down.weight", "q4_K"},
    };
    static const expectation pure_iq4_nl[] = {
        {"output.weight", "iq4_nl"}, {"blk.0.attn_v.weight", "iq4_nl"},
    };
    check_preset("--pure", "Q4_K_M", pure_q4_k_m, 3);
    check_preset("--pure", "iq4_nl", pure_iq4_nl, 2);
    /* IQ2_S the preset is built on iq2_xs; iq2_s the type is iq2_s */
    char *table = NULL, buf[32];
    char *out = tmp_path("x.gguf");
    ck_assert_int_eq(
        tu_run_quantf(&table, NULL, "quantize --dry-run --pure '%s' '%s' iq2_s", model, out), 0);
    ck_assert_str_eq(dry_run_type(table, "blk.0.ffn_up.weight", buf), "iq2_s");
    free(table);
    ck_assert_int_eq(
        tu_run_quantf(&table, NULL, "quantize --dry-run --pure '%s' '%s' IQ3_XS", model, out), 0);
    ck_assert_str_eq(dry_run_type(table, "blk.0.ffn_up.weight", buf), "iq3_s");
    free(table), free(out);
}
END_TEST

START_TEST(test_help_mixes_prints_presets_and_rules) {
    char *text = NULL;
    ck_assert_int_eq(tu_run_quant("quantize --help-mixes", &text, NULL), 0);
    ck_assert_ptr_nonnull(strstr(text, "Q4_K_M"));
    ck_assert_ptr_nonnull(strstr(text, "IQ3_KL"));
    ck_assert_ptr_nonnull(strstr(text, "[attn_v.weight]"));
    ck_assert_ptr_nonnull(strstr(text, "more-bits-attn_v -> q6_K"));
    free(text);
}
END_TEST

/* ---- --custom-q and --mix ------------------------------------------------ */

START_TEST(test_custom_q_and_mix_file_give_identical_output) {
    char *a = tmp_path("a.gguf"), *b = tmp_path("b.gguf"), *mix = tmp_path("recipe.txt");
    FILE *f = fopen(mix, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# attention in 8 bits, the first layer's FFN in iq4_nl\n\n"
               "  attn_v=q8_0\n"
               "blk\\.0\\.ffn_.*=iq4_nl   # trailing comment\n"
               "output=q8_0\n");
    fclose(f);
    char *err = NULL;
    int rc = tu_run_quantf(NULL, &err,
                           "quantize -t 2 --custom-q 'attn_v=q8_0,blk\\.0\\.ffn_.*=iq4_nl' "
                           "--custom-q output=q8_0 '%s' '%s' q4_0",
                           model, a);
    ck_assert_msg(rc == 0, "%s", err);
    free(err);
    rc = tu_run_quantf(NULL, &err, "quantize -t 2 --mix '%s' '%s' '%s' q4_0", mix, model, b);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert(file_equal(a, b));
    lq_gguf *g = tu_open_model(a);
    ck_assert_int_eq(type_of(g, "blk.3.attn_v.weight"), LQ_TYPE_Q8_0);
    ck_assert_int_eq(type_of(g, "blk.0.ffn_gate.weight"), LQ_TYPE_IQ4_NL);
    ck_assert_int_eq(type_of(g, "blk.1.ffn_gate.weight"), LQ_TYPE_Q4_0);
    ck_assert_int_eq(type_of(g, "output.weight"), LQ_TYPE_Q8_0);
    lq_gguf_close(g);
    free(a), free(b), free(mix), free(err);
}
END_TEST

START_TEST(test_first_match_wins) {
    char *table = NULL, *out = tmp_path("x.gguf"), buf[32];
    /* the first rule decides; a later --custom-q adds rules after the earlier ones */
    int rc = tu_run_quantf(&table, NULL,
                           "quantize --dry-run --custom-q 'blk\\.0\\.attn=q8_0,attn=q5_0' "
                           "--custom-q 'blk\\.1\\.attn=f16,ffn=iq4_nl' '%s' '%s' q4_0",
                           model, out);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(dry_run_type(table, "blk.0.attn_v.weight", buf), "q8_0");
    ck_assert_str_eq(dry_run_type(table, "blk.0.attn_q.weight", buf), "q8_0");
    ck_assert_str_eq(dry_run_type(table, "blk.1.attn_v.weight", buf), "q5_0");
    ck_assert_str_eq(dry_run_type(table, "blk.4.ffn_up.weight", buf), "iq4_nl");
    /* unanchored search: "down" matches inside the name */
    free(table);
    ck_assert_int_eq(tu_run_quantf(&table, NULL,
                                   "quantize --dry-run --custom-q down=q8_0 '%s' '%s' q4_0", model,
                                   out),
                     0);
    ck_assert_str_eq(dry_run_type(table, "blk.5.ffn_down.weight", buf), "q8_0");
    free(table), free(out);
}
END_TEST

/* ---- validation ---------------------------------------------------------- */

/* A tiny model: one 6 x 256 weight (6 rows: not a multiple of 8). */
static void write_six_row_model(const char *path) {
    lq_gguf_writer *w = lq_gguf_writer_new();
    lq_gguf_writer_set_str(w, "general.architecture", "llama");
    int64_t ne[2] = {256, 6};
    lq_gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", LQ_TYPE_F32, 2, ne);
    float x[6 * 256];
    tu_rng rng = {11};
    for (int i = 0; i < 6 * 256; i++)
        x[i] = (float)tu_rng_gauss(&rng);
    const void *data[1] = {x};
    lq_gguf_error err;
    ck_assert_msg(lq_gguf_write_file(w, path, data, &err) == LQ_OK, "%s", err.message);
    lq_gguf_writer_free(w);
}

START_TEST(test_validation_errors) {
    char *out = tmp_path("x.gguf"), *err = NULL, *text = NULL;
    /* invalid regex: PCRE2's message and the column */
    ck_assert_int_eq(tu_run_quantf(NULL, &err,
                                   "quantize --custom-q 'blk\\.[0-9+=q8_0' '%s' '%s' q4_0", model,
                                   out),
                     2);
    ck_assert_ptr_nonnull(strstr(err, "column 11"));
    ck_assert_ptr_nonnull(strstr(err, "missing terminating ]"));
    free(err);
    /* in a mix file: file and line */
    char *mix = tmp_path("bad.mix");
    FILE *f = fopen(mix, "w");
    fprintf(f, "# ok\nattn=q8_0\n(unclosed=q4_0\n");
    fclose(f);
    ck_assert_int_eq(
        tu_run_quantf(NULL, &err, "quantize --mix '%s' '%s' '%s' q4_0", mix, model, out), 2);
    ck_assert_ptr_nonnull(strstr(err, "bad.mix:3"));
    free(err);
    /* unknown type in a rule: lists the valid names */
    ck_assert_int_eq(
        tu_run_quantf(NULL, &err, "quantize --custom-q attn=q9_9 '%s' '%s' q4_0", model, out), 2);
    ck_assert_ptr_nonnull(strstr(err, "q9_9"));
    ck_assert_ptr_nonnull(strstr(err, "iq4_nl"));
    free(err);
    /* not REGEX=TYPE */
    ck_assert_int_eq(
        tu_run_quantf(NULL, &err, "quantize --custom-q attn '%s' '%s' q4_0", model, out), 2);
    free(err);
    /* include and exclude together */
    ck_assert_int_eq(tu_run_quantf(NULL, &err,
                                   "quantize --imatrix x --include-weights a "
                                   "--exclude-weights b '%s' '%s' q4_0",
                                   model, out),
                     2);
    ck_assert_ptr_nonnull(strstr(err, "cannot be combined"));
    free(err);
    /* a rule that matches nothing: a warning, the work goes on */
    ck_assert_int_eq(tu_run_quantf(NULL, &err,
                                   "quantize --dry-run --custom-q 'no_such_tensor=q8_0' "
                                   "'%s' '%s' q4_0",
                                   model, out),
                     0);
    ck_assert_ptr_nonnull(strstr(err, "warning"));
    ck_assert_ptr_nonnull(strstr(err, "no_such_tensor"));
    free(err);
    /* an interleaved type on 6 rows: falls back to its base type, with a line */
    char *six = tmp_path("six.gguf");
    write_six_row_model(six);
    ck_assert_int_eq(
        tu_run_quantf(&text, NULL, "quantize --custom-q ffn_down=q4_0_r8 '%s' '%s' q8_0", six, out),
        0);
    ck_assert_ptr_nonnull(strstr(text, "q4_0_r8 does not fit, using q4_0"));
    lq_gguf *g = tu_open_model(out);
    ck_assert_int_eq(type_of(g, "blk.0.ffn_down.weight"), LQ_TYPE_Q4_0);
    lq_gguf_close(g);
    free(text), free(out), free(mix), free(six);
}
END_TEST

/* ---- importance matrices ------------------------------------------------- */

/* An imatrix for every 2-D weight of the tiny model: weights that vary
 * strongly across columns, so that they change the choices of the codec. */
static lq_imatrix *make_imatrix(void) {
    lq_gguf *g = tu_open_model(model);
    lq_imatrix *m = lq_imatrix_new();
    tu_rng rng = {3};
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        if (t->n_dims != 2 || strstr(t->name, "norm"))
            continue;
        int64_t n = t->ne[0];
        float *sums = malloc(sizeof(float) * (size_t)n), count = 10.0f;
        for (int64_t c = 0; c < n; c++)
            sums[c] = 10.0f * (float)exp(4.0 * tu_rng_gauss(&rng));
        ck_assert_int_eq(lq_imatrix_add(m, t->name, n, 1, sums, &count), LQ_OK);
        free(sums);
    }
    ck_assert_int_eq(lq_imatrix_add_dataset(m, "calib.txt"), LQ_OK);
    m->chunk_count = 42;
    m->chunk_size = 512;
    lq_gguf_close(g);
    return m;
}

START_TEST(test_imatrix_both_formats_change_output) {
    lq_imatrix *m = make_imatrix();
    char *dat = tmp_path("im.dat"), *gguf = tmp_path("im.gguf");
    lq_gguf_error e;
    ck_assert_msg(lq_imatrix_write(m, dat, LQ_IMATRIX_LEGACY, &e) == LQ_OK, "%s", e.message);
    ck_assert_msg(lq_imatrix_write(m, gguf, LQ_IMATRIX_GGUF, &e) == LQ_OK, "%s", e.message);
    char *plain = tmp_path("plain.gguf"), *with_dat = tmp_path("dat.gguf"),
         *with_gguf = tmp_path("gg.gguf"), *err = NULL;
    ck_assert_int_eq(
        tu_run_quantf(NULL, NULL, "quantize --pure -t 2 '%s' '%s' iq4_nl", model, plain), 0);
    int rc = tu_run_quantf(NULL, &err, "quantize --pure -t 2 --imatrix '%s' '%s' '%s' iq4_nl", dat,
                           model, with_dat);
    ck_assert_msg(rc == 0, "%s", err);
    free(err);
    rc = tu_run_quantf(NULL, &err, "quantize --pure -t 2 --imatrix '%s' '%s' '%s' iq4_nl", gguf,
                       model, with_gguf);
    ck_assert_msg(rc == 0, "%s", err);
    lq_gguf *a = tu_open_model(plain), *b = tu_open_model(with_dat), *c = tu_open_model(with_gguf);
    /* the weights change the codec's choices; both formats carry the same means */
    ck_assert(!tensor_bytes_equal(a, b, "blk.0.ffn_down.weight"));
    ck_assert(tensor_bytes_equal(b, c, "blk.0.ffn_down.weight"));
    ck_assert(tensor_bytes_equal(b, c, "output.weight"));
    /* metadata as the reference records it */
    const char *s = NULL;
    int64_t v = 0;
    ck_assert_int_eq(lq_gguf_get_str(b, "quantize.imatrix.file", &s), LQ_OK);
    ck_assert_str_eq(s, dat);
    ck_assert_int_eq(lq_gguf_get_str(c, "quantize.imatrix.dataset", &s), LQ_OK);
    ck_assert_str_eq(s, "calib.txt");
    ck_assert_int_eq(lq_gguf_find(c, "quantize.imatrix.entries_count")->type, LQ_GGUF_I32);
    ck_assert_int_eq(lq_gguf_get_i64(c, "quantize.imatrix.entries_count", &v), LQ_OK);
    ck_assert_int_eq(v, m->count);
    ck_assert_int_eq(lq_gguf_find(b, "quantize.imatrix.chunks_count")->type, LQ_GGUF_I32);
    ck_assert_int_eq(lq_gguf_get_i64(b, "quantize.imatrix.chunks_count", &v), LQ_OK);
    ck_assert_int_eq(v, 42);
    lq_gguf_close(a), lq_gguf_close(b), lq_gguf_close(c);
    lq_imatrix_free(m);
    free(dat), free(gguf), free(plain), free(with_dat), free(with_gguf), free(err);
}
END_TEST

START_TEST(test_include_exclude_weights) {
    lq_imatrix *m = make_imatrix();
    char *dat = tmp_path("im.dat"), *out = tmp_path("x.gguf");
    lq_gguf_error e;
    ck_assert_int_eq(lq_imatrix_write(m, dat, LQ_IMATRIX_LEGACY, &e), LQ_OK);
    char *table = NULL;
    /* a plain name works; only the matching tensors use the imatrix */
    ck_assert_int_eq(tu_run_quantf(&table, NULL,
                                   "quantize --dry-run --imatrix '%s' --include-weights "
                                   "blk.0.ffn_down.weight '%s' '%s' iq4_nl",
                                   dat, model, out),
                     0);
    ck_assert_ptr_nonnull(strstr(table, "1 entries used"));
    ck_assert_ptr_nonnull(strstr(table, "blk.0.ffn_down.weight"));
    free(table);
    ck_assert_int_eq(tu_run_quantf(&table, NULL,
                                   "quantize --dry-run --imatrix '%s' --exclude-weights "
                                   "'ffn_(up|gate)' '%s' '%s' iq4_nl",
                                   dat, model, out),
                     0);
    char expect[64];
    snprintf(expect, sizeof expect, "%lld entries used", (long long)(m->count - 12));
    ck_assert_msg(strstr(table, expect) != NULL, "%s", table);
    free(table);
    lq_imatrix_free(m);
    free(dat), free(out);
}
END_TEST

START_TEST(test_bad_imatrix_values_are_an_error) {
    /* a legacy file whose second value is NaN */
    char *dat = tmp_path("nan.dat"), *out = tmp_path("x.gguf"), *err = NULL;
    FILE *f = fopen(dat, "wb");
    int32_t head[2] = {1, 21};
    fwrite(head, 4, 2, f);
    fwrite("blk.0.ffn_down.weight", 1, 21, f);
    int32_t ncall_nval[2] = {1, 2};
    fwrite(ncall_nval, 4, 2, f);
    float values[2] = {1.0f, NAN};
    fwrite(values, 4, 2, f);
    fclose(f);
    ck_assert_int_eq(
        tu_run_quantf(NULL, &err, "quantize --imatrix '%s' '%s' '%s' iq4_nl", dat, model, out), 1);
    ck_assert_ptr_nonnull(strstr(err, "nan.dat"));
    ck_assert_ptr_nonnull(strstr(err, "blk.0.ffn_down.weight"));
    ck_assert_int_eq(access(out, F_OK), -1);
    free(dat), free(out), free(err);
}
END_TEST

/* The legacy reader against a byte layout written by hand. */
START_TEST(test_legacy_reader_hand_written_bytes) {
    unsigned char buf[256];
    size_t n = 0;
#define PUT_I32(v) do { int32_t x_ = (v); memcpy(buf + n, &x_, 4); n += 4; } while (0)
#define PUT_F32(v) do { float x_ = (v); memcpy(buf + n, &x_, 4); n += 4; } while (0)
    PUT_I32(2);
    PUT_I32(3); memcpy(buf + n, "a.w", 3); n += 3;
    PUT_I32(4); PUT_I32(2); PUT_F32(8.0f); PUT_F32(2.0f);   /* ncall 4: means 2, 0.5 */
    PUT_I32(3); memcpy(buf + n, "e.w", 3); n += 3;
    PUT_I32(2); PUT_I32(4); PUT_F32(2.0f); PUT_F32(4.0f); PUT_F32(6.0f); PUT_F32(0.0f);
    PUT_I32(17); PUT_I32(5); memcpy(buf + n, "wiki!", 5); n += 5; /* trailer */
    lq_imatrix *m = NULL;
    lq_gguf_error e;
    ck_assert_msg(lq_imatrix_parse_legacy(buf, n, "hand", &m, &e) == LQ_OK, "%s", e.message);
    ck_assert_int_eq(m->count, 2);
    ck_assert_int_eq(m->chunk_count, 17);
    ck_assert_int_eq(m->dataset_count, 1);
    ck_assert_str_eq(m->datasets[0], "wiki!");
    float w[4];
    ck_assert_int_eq(lq_imatrix_entry_weights(lq_imatrix_find(m, "a.w"), w, sizeof w), LQ_OK);
    ck_assert_float_eq(w[0], 2.0f);
    ck_assert_float_eq(w[1], 0.5f);
    ck_assert_int_eq(lq_imatrix_entry_weights(lq_imatrix_find(m, "e.w"), w, sizeof w), LQ_OK);
    ck_assert_float_eq(w[2], 3.0f);
    ck_assert_float_eq(w[3], 0.0f);
    /* written back, the same bytes */
    char *path = tmp_path("back.dat");
    ck_assert_int_eq(lq_imatrix_write(m, path, LQ_IMATRIX_LEGACY, &e), LQ_OK);
    FILE *f = fopen(path, "rb");
    unsigned char back[256];
    size_t got = fread(back, 1, sizeof back, f);
    fclose(f);
    ck_assert_uint_eq(got, n);
    ck_assert(memcmp(back, buf, n) == 0);
    /* truncated: an error, not a crash */
    lq_imatrix *t = NULL;
    ck_assert_int_eq(lq_imatrix_parse_legacy(buf, 20, "cut", &t, &e), LQ_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.message, "cut"));
    /* combining adds sums and counts */
    ck_assert_int_eq(lq_imatrix_combine(m, m, &e), LQ_OK);
    ck_assert_int_eq(lq_imatrix_entry_weights(lq_imatrix_find(m, "a.w"), w, sizeof w), LQ_OK);
    ck_assert_float_eq(w[0], 2.0f);
    ck_assert_int_eq(m->chunk_count, 34);
    lq_imatrix_free(m);
    free(path);
#undef PUT_I32
#undef PUT_F32
}
END_TEST

/* Stacked experts take one weight vector per expert: the output equals
 * quantizing each expert's rows with its own slice. */
START_TEST(test_stacked_experts_use_their_own_slice) {
    enum { COLS = 256, ROWS = 4, EXPERTS = 2 };
    char *in = tmp_path("moe.gguf"), *out = tmp_path("out.gguf"), *dat = tmp_path("moe.gguf.imat");
    lq_gguf_writer *w = lq_gguf_writer_new();
    lq_gguf_writer_set_str(w, "general.architecture", "llama");
    int64_t ne[3] = {COLS, ROWS, EXPERTS};
    lq_gguf_writer_add_tensor(w, "blk.0.ffn_down_exps.weight", LQ_TYPE_F32, 3, ne);
    static float x[COLS * ROWS * EXPERTS];
    tu_rng rng = {9};
    for (int i = 0; i < COLS * ROWS * EXPERTS; i++)
        x[i] = (float)tu_rng_gauss(&rng);
    const void *data[1] = {x};
    lq_gguf_error e;
    ck_assert_int_eq(lq_gguf_write_file(w, in, data, &e), LQ_OK);
    lq_gguf_writer_free(w);
    static float sums[COLS * EXPERTS], weights[COLS * EXPERTS];
    float counts[EXPERTS] = {4.0f, 2.0f};
    for (int i = 0; i < COLS * EXPERTS; i++)
        sums[i] = (float)exp(3.0 * tu_rng_gauss(&rng));
    lq_imatrix *m = lq_imatrix_new();
    ck_assert_int_eq(lq_imatrix_add(m, "blk.0.ffn_down_exps.weight", COLS, EXPERTS, sums, counts), LQ_OK);
    ck_assert_int_eq(lq_imatrix_write(m, dat, LQ_IMATRIX_GGUF, &e), LQ_OK);
    ck_assert_int_eq(lq_imatrix_entry_weights(&m->entries[0], weights, sizeof weights), LQ_OK);
    char *err = NULL;
    int rc =
        tu_run_quantf(NULL, &err, "quantize --pure --imatrix '%s' '%s' '%s' iq4_nl", dat, in, out);
    ck_assert_msg(rc == 0, "%s", err);
    int64_t size = lq_tensor_size(LQ_TYPE_IQ4_NL, ROWS * EXPERTS, COLS);
    unsigned char *expected = malloc((size_t)size);
    int64_t half = size / EXPERTS;
    for (int x_ = 0; x_ < EXPERTS; x_++)
        ck_assert_int_eq(lq_quantize_rows(LQ_TYPE_IQ4_NL, x + x_ * ROWS * COLS, ROWS, COLS,
                                          weights + x_ * COLS, expected + x_ * half,
                                          (size_t)half), half);
    lq_gguf *g = tu_open_model(out);
    const lq_gguf_tensor *t = lq_gguf_find_tensor(g, "blk.0.ffn_down_exps.weight");
    ck_assert_int_eq(t->type, LQ_TYPE_IQ4_NL);
    ck_assert(memcmp(t->data, expected, (size_t)size) == 0);
    lq_gguf_close(g);
    lq_imatrix_free(m);
    free(expected), free(in), free(out), free(dat), free(err);
}
END_TEST

/* ---- dry run, shards, metadata ------------------------------------------- */

/* The dry-run table announces exactly the types and sizes written. */
START_TEST(test_dry_run_table_matches_output) {
    char *out = tmp_path("x.gguf"), *table = NULL, buf[32];
    const char *opts = "--custom-q 'attn_v=q8_0,blk\\.[02]\\.ffn_down=iq4_nl'";
    ck_assert_int_eq(
        tu_run_quantf(&table, NULL, "quantize --dry-run %s '%s' '%s' Q4_0", opts, model, out), 0);
    ck_assert_int_eq(access(out, F_OK), -1);
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "quantize %s '%s' '%s' Q4_0", opts, model, out), 0);
    lq_gguf *g = tu_open_model(out);
    uint64_t total = 0;
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        ck_assert_str_eq(dry_run_type(table, t->name, buf), lq_type_name(t->type));
        char size[32], needle[300];
        uint64_t b = t->size;
        /* the table prints sizes human-readably: compare that way */
        snprintf(needle, sizeof needle, "] %s ", t->name);
        const char *line = strstr(table, needle);
        const char *eol = strchr(line, '\n');
        if (b < 1024)
            snprintf(size, sizeof size, "-> %6llu B", (unsigned long long)b);
        else if (b < 1024 * 1024)
            snprintf(size, sizeof size, "%.2f KiB", (double)b / 1024);
        else
            snprintf(size, sizeof size, "%.2f MiB", (double)b / 1048576);
        const char *hit = strstr(line, size);
        ck_assert_msg(hit && hit < eol, "%s: size %s not in '%.*s'", t->name, size,
                      (int)(eol - line), line);
        total += b;
    }
    ck_assert_int_eq(type_of(g, "blk.2.ffn_down.weight"), LQ_TYPE_IQ4_NL);
    ck_assert(total > 0);
    lq_gguf_close(g);
    free(out), free(table);
}
END_TEST

static void assert_same_model(const char *a_path, const char *b_path) {
    lq_gguf *a = tu_open_model(a_path), *b = tu_open_model(b_path);
    ck_assert_int_eq(lq_gguf_tensor_count(a), lq_gguf_tensor_count(b));
    for (int64_t i = 0; i < lq_gguf_tensor_count(a); i++) {
        const char *name = lq_gguf_tensor_at(a, i)->name;
        ck_assert_str_eq(lq_gguf_tensor_at(b, i)->name, name);
        ck_assert_msg(tensor_bytes_equal(a, b, name), "%s differs", name);
    }
    lq_gguf_close(a), lq_gguf_close(b);
}

START_TEST(test_split_output_round_trips) {
    char *whole = tmp_path("whole.gguf"), *split = tmp_path("split.gguf"), *err = NULL;
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "quantize -t 2 '%s' '%s' q8_0", model, whole), 0);
    int rc =
        tu_run_quantf(NULL, &err, "quantize -t 2 --split-max-size 8M '%s' '%s' q8_0", model, split);
    ck_assert_msg(rc == 0, "%s", err);
    char *first = tmp_path("split-00001-of-00003.gguf"), *last = tmp_path("split-00003-of-00003.gguf");
    ck_assert_msg(access(first, F_OK) == 0 && access(last, F_OK) == 0, "expected 3 shards");
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "info '%s'", first), 0);
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "info '%s'", last), 0);
    assert_same_model(whole, last);
    free(err);
    /* a split bf16 model (20 tensors a shard), quantized shard for shard */
    char *bsplit = tmp_path("b.gguf"), *kept = tmp_path("kept.gguf");
    ck_assert_int_eq(
        tu_run_quantf(NULL, NULL, "quantize --split-max-tensors 20 '%s' '%s' bf16", model, bsplit),
        0);
    char *bfirst = tmp_path("b-00001-of-00003.gguf");
    rc = tu_run_quantf(NULL, &err, "quantize -t 2 --keep-split '%s' '%s' q8_0", bfirst, kept);
    ck_assert_msg(rc == 0, "%s", err);
    char *kfirst = tmp_path("kept-00001-of-00003.gguf"), *kthird = tmp_path("kept-00003-of-00003.gguf");
    ck_assert_int_eq(tu_run_quantf(NULL, NULL, "info '%s'", kthird), 0);
    assert_same_model(whole, kfirst);
    lq_gguf *in = tu_open_model(bfirst), *o = tu_open_model(kfirst);
    ck_assert_int_eq(lq_gguf_shard_count(o), 3);
    for (int64_t i = 0; i < lq_gguf_tensor_count(in); i++)
        ck_assert_int_eq(lq_gguf_tensor_at(o, i)->shard, lq_gguf_tensor_at(in, i)->shard);
    lq_gguf_close(in), lq_gguf_close(o);
    free(whole), free(split), free(first), free(last), free(bsplit), free(kept), free(bfirst);
    free(kfirst), free(kthird), free(err);
}
END_TEST

START_TEST(test_override_kv) {
    char *out = tmp_path("x.gguf"), *err = NULL;
    int rc = tu_run_quantf(NULL, &err,
                           "quantize --override-kv general.name=str:renamed "
                           "--override-kv test.int=int:-5 --override-kv test.float=float:0.25 "
                           "--override-kv test.bool=bool:true '%s' '%s' bf16",
                           model, out);
    ck_assert_msg(rc == 0, "%s", err);
    lq_gguf *g = tu_open_model(out);
    const char *s;
    ck_assert_int_eq(lq_gguf_get_str(g, "general.name", &s), LQ_OK);
    ck_assert_str_eq(s, "renamed");
    ck_assert_int_eq(lq_gguf_find(g, "test.int")->type, LQ_GGUF_I32);
    ck_assert_int_eq(lq_gguf_find(g, "test.int")->v.i64, -5);
    ck_assert_int_eq(lq_gguf_find(g, "test.float")->type, LQ_GGUF_F32);
    ck_assert(lq_gguf_find(g, "test.float")->v.f64 == 0.25);
    ck_assert_int_eq(lq_gguf_find(g, "test.bool")->type, LQ_GGUF_BOOL);
    ck_assert_int_eq(lq_gguf_find(g, "test.bool")->v.u64, 1);
    lq_gguf_close(g);
    free(err);
    ck_assert_int_eq(
        tu_run_quantf(NULL, NULL, "quantize --override-kv k=blob:1 '%s' '%s' bf16", model, out), 2);
    free(out);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tool_quantize_mix");
    TCase *tc = tcase_create("mix");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_presets_follow_reference_rules);
    tcase_add_test(tc, test_pure_type_vs_preset);
    tcase_add_test(tc, test_help_mixes_prints_presets_and_rules);
    tcase_add_test(tc, test_custom_q_and_mix_file_give_identical_output);
    tcase_add_test(tc, test_first_match_wins);
    tcase_add_test(tc, test_validation_errors);
    tcase_add_test(tc, test_imatrix_both_formats_change_output);
    tcase_add_test(tc, test_include_exclude_weights);
    tcase_add_test(tc, test_bad_imatrix_values_are_an_error);
    tcase_add_test(tc, test_legacy_reader_hand_written_bytes);
    tcase_add_test(tc, test_stacked_experts_use_their_own_slice);
    tcase_add_test(tc, test_dry_run_table_matches_output);
    tcase_add_test(tc, test_split_output_round_trips);
    tcase_add_test(tc, test_override_kv);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
