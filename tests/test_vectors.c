/*
 * Conformance against ../shared/vectors (see its README): for every vector
 * file, the registry's geometry; for every type this build can decode,
 * decoding equal to the reference's value for value; for every type it can
 * repack, byte equality with the reference's repack both ways; for every type
 * it can encode, an error no worse than 1.02x the reference's, plain and
 * importance-weighted.
 *
 * Cases are created only for what the build supports, so an unimplemented
 * type adds no test rather than a passing one. LQ_TEST_TYPES=a,b restricts
 * the run to those types.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ENCODE_TOLERANCE 1.02

/* Types whose error must not exceed the reference's at all: q8_0 lost its
 * -128 code to the reference's kernels (issue 19) and must still be at least
 * as accurate. */
static const int no_worse_than_reference[] = {LQ_TYPE_Q8_0, LQ_TYPE_Q8_0_R8};

static double encode_tolerance(int type) {
    for (size_t i = 0; i < sizeof no_worse_than_reference / sizeof *no_worse_than_reference; i++)
        if (no_worse_than_reference[i] == type)
            return 1.0;
    return ENCODE_TOLERANCE;
}

typedef enum case_kind { CASE_SIZES, CASE_DECODE, CASE_REPACK, CASE_ENCODE } case_kind;

typedef struct vector_case {
    char file[64];    /* basename in vectors/ */
    char tensor[32];  /* tensor checked (decode, repack), or "" */
} vector_case;

typedef struct case_list {
    vector_case *items;
    int count, cap;
} case_list;

static case_list cases_by_kind[4];

static void add_case(case_kind kind, const char *file, const char *tensor) {
    case_list *l = &cases_by_kind[kind];
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
        if (!l->items)
            abort();
    }
    vector_case *c = &l->items[l->count++];
    snprintf(c->file, sizeof c->file, "%s", file);
    snprintf(c->tensor, sizeof c->tensor, "%s", tensor);
}

static const lq_gguf_tensor *need_tensor(const lq_gguf *g, const char *file,
                                         const char *name) {
    const lq_gguf_tensor *t = lq_gguf_find_tensor(g, name);
    ck_assert_msg(t != NULL, "%s: tensor '%s' missing", file, name);
    return t;
}

static float *decode_tensor(const lq_gguf_tensor *t) {
    int64_t rows = lq_gguf_tensor_rows(t), cols = t->ne[0];
    float *out = malloc((size_t)(rows * cols) * sizeof(float));
    ck_assert_ptr_nonnull(out);
    int st = lq_dequantize_rows(t->type, t->data, t->size, rows, cols, out,
                                (size_t)(rows * cols) * sizeof(float));
    ck_assert_msg(st == LQ_OK, "decode of '%s' (%s): %s", t->name,
                  lq_type_name(t->type), lq_error_name(st));
    return out;
}

static const float *f32_data(const lq_gguf_tensor *t) {
    ck_assert_int_eq(t->type, LQ_TYPE_F32);
    return (const float *)t->data;
}

/* ---- registry geometry ---------------------------------------------- */

START_TEST(test_registry_sizes) {
    const vector_case *c = &cases_by_kind[CASE_SIZES].items[_i];
    lq_gguf *g = tu_open_vector_file(c->file);
    const char *type_name = NULL;
    int64_t type_id = -1, block = -1, tsize = -1, meta = -1;
    ck_assert_int_eq(lq_gguf_get_str(g, "vectors.type", &type_name), LQ_OK);
    ck_assert_int_eq(lq_gguf_get_i64(g, "vectors.type_id", &type_id), LQ_OK);
    ck_assert_int_eq(lq_gguf_get_i64(g, "vectors.block_size", &block), LQ_OK);
    ck_assert_int_eq(lq_gguf_get_i64(g, "vectors.type_size", &tsize), LQ_OK);
    ck_assert_int_eq(lq_gguf_get_i64(g, "vectors.row_meta_size", &meta), LQ_OK);

    const lq_type_info *info = lq_type_get((int)type_id);
    ck_assert_msg(info != NULL, "%s: type id %lld not in the registry", c->file,
                  (long long)type_id);
    ck_assert_str_eq(info->name, type_name);
    ck_assert_int_eq(lq_type_from_name(type_name), (int)type_id);
    ck_assert_int_eq(info->block_size, block);
    ck_assert_int_eq(info->type_size, tsize);
    ck_assert_int_eq(info->row_meta_size, meta);

    /* every quantized tensor's byte size is what the registry computes */
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        int64_t expect = lq_tensor_size(t->type, lq_gguf_tensor_rows(t), t->ne[0]);
        ck_assert_msg(expect == (int64_t)t->size, "%s: '%s' is %llu bytes, "
                      "registry says %lld", c->file, t->name,
                      (unsigned long long)t->size, (long long)expect);
    }
    const char *repacked = NULL;
    if (lq_gguf_get_str(g, "vectors.repacked_type", &repacked) == LQ_OK) {
        int rid = lq_type_from_name(repacked);
        ck_assert_msg(rid >= 0, "%s: repacked type %s unknown", c->file, repacked);
        ck_assert_int_eq(lq_type_get(rid)->base_type, (int)type_id);
    }
    lq_gguf_close(g);
}
END_TEST

/* ---- decode ------------------------------------------------------------ */

START_TEST(test_decode) {
    const vector_case *c = &cases_by_kind[CASE_DECODE].items[_i];
    lq_gguf *g = tu_open_vector_file(c->file);
    const lq_gguf_tensor *t = need_tensor(g, c->file, c->tensor);
    const lq_gguf_tensor *deq = tu_expected_decoding(g, c->tensor);
    ck_assert_msg(deq != NULL, "%s: no reference decoding for '%s'", c->file, c->tensor);
    float *ours = decode_tensor(t);
    const float *ref = f32_data(deq);
    int64_t n = lq_gguf_tensor_rows(t) * t->ne[0];
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        if (!(ours[i] == ref[i])) { /* +0.0 == -0.0; NaN never matches */
            if (first < 0)
                first = i;
            mismatches++;
        }
    }
    ck_assert_msg(mismatches == 0,
                  "%s '%s' (%s): %lld of %lld values differ; first at row %lld "
                  "col %lld: ours %.9g, reference %.9g", c->file, c->tensor,
                  lq_type_name(t->type), (long long)mismatches, (long long)n,
                  (long long)(first / t->ne[0]), (long long)(first % t->ne[0]),
                  (double)ours[first], (double)ref[first]);
    free(ours);
    lq_gguf_close(g);
}
END_TEST

/* ---- repack ------------------------------------------------------------ */

/* (Check records every passing assertion: no ck_assert inside big loops.) */
static void check_bytes_equal(const void *a, const void *b, size_t n,
                              const char *what) {
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    while (i < n && x[i] == y[i])
        i++;
    ck_assert_msg(i == n, "%s: first differing byte at offset %zu (ours 0x%02x, reference "
                  "0x%02x)", what, i, i < n ? x[i] : 0, i < n ? y[i] : 0);
}

START_TEST(test_repack) {
    const vector_case *c = &cases_by_kind[CASE_REPACK].items[_i];
    lq_gguf *g = tu_open_vector_file(c->file);
    const lq_gguf_tensor *base = need_tensor(g, c->file, c->tensor);
    char name[64];
    snprintf(name, sizeof name, "%s.repacked", c->tensor);
    const lq_gguf_tensor *packed = need_tensor(g, c->file, name);
    int64_t rows = lq_gguf_tensor_rows(base), cols = base->ne[0];

    unsigned char *out = malloc(packed->size);
    ck_assert_ptr_nonnull(out);
    int st = lq_repack_rows(packed->type, base->data, base->size, rows, cols,
                            out, packed->size);
    ck_assert_msg(st == LQ_OK, "repack: %s", lq_error_name(st));
    char what[160];
    snprintf(what, sizeof what, "%s: repack of '%s' to %s", c->file, c->tensor,
             lq_type_name(packed->type));
    check_bytes_equal(out, packed->data, packed->size, what);

    unsigned char *back = malloc(base->size);
    ck_assert_ptr_nonnull(back);
    st = lq_unpack_rows(packed->type, packed->data, packed->size, rows, cols,
                        back, base->size);
    ck_assert_msg(st == LQ_OK, "unpack: %s", lq_error_name(st));
    snprintf(what, sizeof what, "%s: unpack of '%s'", c->file, name);
    check_bytes_equal(back, base->data, base->size, what);
    free(out);
    free(back);
    lq_gguf_close(g);
}
END_TEST

/* ---- encode ------------------------------------------------------------ */

typedef struct encode_result {
    double error;      /* ours */
    double ref_error;  /* the reference's, same definition */
    int bytes_equal;   /* informational */
} encode_result;

static encode_result encode_and_compare(const lq_gguf *g, const char *file,
                                        int type, const float *imatrix,
                                        const char *ref_name) {
    const lq_gguf_tensor *x = need_tensor(g, file, "x");
    const lq_gguf_tensor *ref = need_tensor(g, file, ref_name);
    char deq_name[64];
    snprintf(deq_name, sizeof deq_name, "%s.deq", ref_name);
    const lq_gguf_tensor *ref_deq = need_tensor(g, file, deq_name);
    int64_t rows = lq_gguf_tensor_rows(x), cols = x->ne[0];
    int64_t size = lq_tensor_size(type, rows, cols);
    ck_assert_int_gt(size, 0);
    unsigned char *q = malloc((size_t)size);
    float *deq = malloc((size_t)(rows * cols) * sizeof(float));
    ck_assert(q && deq);
    int64_t written = lq_quantize_rows(type, f32_data(x), rows, cols, imatrix, q,
                                       (size_t)size);
    ck_assert_msg(written == size, "%s: quantize to %s: %s", file,
                  lq_type_name(type), written < 0 ? lq_error_name((int)written) : "short");
    ck_assert_int_eq(lq_dequantize_rows(type, q, (size_t)size, rows, cols, deq,
                                        (size_t)(rows * cols) * sizeof(float)), LQ_OK);
    int64_t bad = lq_find_nonfinite(deq, rows * cols);
    ck_assert_msg(bad < 0, "%s: non-finite decode at %lld", file, (long long)bad);
    encode_result r;
    r.error = tu_quant_error(f32_data(x), deq, rows, cols, imatrix);
    r.ref_error = tu_quant_error(f32_data(x), f32_data(ref_deq), rows, cols, imatrix);
    r.bytes_equal = ref->type == type && ref->size == (uint64_t)size &&
                    memcmp(ref->data, q, (size_t)size) == 0;
    free(q);
    free(deq);
    return r;
}

static double ratio(const encode_result *r) {
    if (r->ref_error == 0.0)
        return r->error == 0.0 ? 1.0 : INFINITY;
    return r->error / r->ref_error;
}

START_TEST(test_encode) {
    const vector_case *c = &cases_by_kind[CASE_ENCODE].items[_i];
    lq_gguf *g = tu_open_vector_file(c->file);
    const lq_gguf_tensor *first = lq_gguf_find_tensor(g, "q");
    if (!first)
        first = need_tensor(g, c->file, "qi");
    int type = first->type;
    const float *imatrix = f32_data(need_tensor(g, c->file, "imatrix"));
    /* no plain "q" (iq1_s, iq2_xs, iq2_xxs): compare with qi's plain error */
    const char *plain_ref = lq_gguf_find_tensor(g, "q") ? "q" : "qi";
    encode_result plain = encode_and_compare(g, c->file, type, NULL, plain_ref);
    encode_result weighted = encode_and_compare(g, c->file, type, imatrix, "qi");
    printf("encode %-12s plain %.6f / ref %.6f = %.4f   weighted %.6f / ref %.6f "
           "= %.4f   bytes equal: %s/%s\n", lq_type_name(type), plain.error,
           plain.ref_error, ratio(&plain), weighted.error, weighted.ref_error,
           ratio(&weighted), plain.bytes_equal ? "yes" : "no",
           weighted.bytes_equal ? "yes" : "no");
    fflush(stdout);
    /* a conversion (f16, bf16) is not a search: it must be the same bytes */
    if (!(lq_type_get(type)->flags & LQ_CAP_QUANTIZED))
        ck_assert_msg(plain.bytes_equal && weighted.bytes_equal,
                      "%s: conversion differs from the reference's", c->file);
    const double tolerance = encode_tolerance(type);
    ck_assert_msg(ratio(&plain) <= tolerance,
                  "%s: plain error %.6g is %.4fx the reference's %.6g", c->file,
                  plain.error, ratio(&plain), plain.ref_error);
    ck_assert_msg(ratio(&weighted) <= tolerance,
                  "%s: weighted error %.6g is %.4fx the reference's %.6g", c->file,
                  weighted.error, ratio(&weighted), weighted.ref_error);
    lq_gguf_close(g);
}
END_TEST

/* ---- case discovery ---------------------------------------------------- */

static const char *const quantized_tensors[] = {"q", "qi", "q.repacked", "qi.repacked"};

static void discover_file(const char *file) {
    add_case(CASE_SIZES, file, "");
    lq_gguf *g = tu_open_vector_file(file);
    for (size_t i = 0; i < sizeof quantized_tensors / sizeof quantized_tensors[0]; i++) {
        const lq_gguf_tensor *t = lq_gguf_find_tensor(g, quantized_tensors[i]);
        if (!t || !tu_type_selected(lq_type_name(t->type)))
            continue;
        uint32_t caps = lq_type_caps(t->type);
        if ((caps & LQ_CAP_DECODE) && tu_expected_decoding(g, t->name))
            add_case(CASE_DECODE, file, t->name);
        if ((caps & LQ_CAP_REPACK) && strstr(t->name, ".repacked")) {
            char base[16];
            snprintf(base, sizeof base, "%.*s", (int)(strchr(t->name, '.') - t->name),
                     t->name);
            add_case(CASE_REPACK, file, base);
        }
    }
    const lq_gguf_tensor *q = lq_gguf_find_tensor(g, "q");
    if (!q)
        q = lq_gguf_find_tensor(g, "qi");
    if (q && (lq_type_caps(q->type) & LQ_CAP_ENCODE) &&
        tu_type_selected(lq_type_name(q->type)))
        add_case(CASE_ENCODE, file, "");
    lq_gguf_close(g);
}

static Suite *vectors_suite(void) {
    Suite *s = suite_create("vectors");
    const struct {
        const char *name;
        case_kind kind;
        const TTest *test;
    } groups[] = {
        {"registry_sizes", CASE_SIZES, test_registry_sizes},
        {"decode", CASE_DECODE, test_decode},
        {"repack", CASE_REPACK, test_repack},
        {"encode", CASE_ENCODE, test_encode},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        int n = cases_by_kind[groups[i].kind].count;
        printf("%-15s %d cases\n", groups[i].name, n);
        if (n == 0)
            continue;
        TCase *tc = tcase_create(groups[i].name);
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, groups[i].test, 0, n);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) {
    tu_name_list files = tu_vector_files();
    for (int i = 0; i < files.count; i++)
        discover_file(files.names[i]);
    tu_name_list_free(&files);
    SRunner *sr = srunner_create(vectors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
