/*
 * The codes libquant writes stay inside what the reference's own encoders
 * write. Decoding is not enough: a q8_0 block holding -128 decodes right but
 * computes wrong in the reference's kernels, which take |q| of int8 codes or
 * add 127 to them. So every encodable type is held to rules read off the
 * format (code ranges, stored sums, packed-trit byte values), and every
 * decoded value of a finite input is finite.
 *
 * The rules are checked three ways:
 *   - the reference's own quantizations in ../shared/vectors satisfy them,
 *     so no rule is stricter than the reference's encoder;
 *   - libquant's encodings of the vectors' inputs satisfy them;
 *   - so do its encodings of random inputs built to push codes to the ends
 *     of their ranges (one dominant value of either sign per block, values
 *     too large for an fp16 scale, tiny values, constant and two-valued
 *     blocks), with and without importance matrices, and for the q8 types
 *     the ends are actually reached.
 * Types without a specific rule (their every code is one the reference
 * writes) still get the finite-decoding check. LQ_TEST_TYPES=a,b restricts
 * the run to those types.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ROWS 16 /* a multiple of every interleave factor */
#define COLS 512
#define FP16_MAX 65504.0

typedef enum rule_kind {
    RULE_INT8,   /* bytes are int8 codes in [lo, hi] */
    RULE_UINT8,  /* bytes are uint8 codes in [lo, hi] */
    RULE_CRUMBS, /* every 2-bit field of the bytes is at most hi */
    RULE_TRITS,  /* bytes pack lo trits: ceil(256 v / 243), v < 3^lo */
    RULE_ROW_SUM, /* q8_KV: the int32 after the row scale sums the codes */
    RULE_Q8K_SUMS, /* q8_K: d * total and the sums of each 16 codes */
} rule_kind;

/* A rule on the bytes [offset, offset + count) of every block of every row.
 * In a group of N interleaved rows the block of the group is N blocks of
 * the base geometry, and a field of `count` bytes per row is N * count
 * bytes there, after N * offset bytes of other fields (the layouts of the
 * types below put each field of the N rows together). */
typedef struct code_rule {
    int type;
    rule_kind kind;
    int offset, count;
    int lo, hi;
    /* the random inputs must drive the codes to both lo and hi */
    bool ends_reached;
    const char *what;
} code_rule;

static const code_rule rules[] = {
    {LQ_TYPE_Q8_0, RULE_INT8, 2, 32, -127, 127, true, "quants"},
    {LQ_TYPE_Q8_0_R8, RULE_INT8, 2, 32, -127, 127, true, "quants"},
    {LQ_TYPE_Q8_KV, RULE_INT8, 0, 32, -127, 127, true, "quants"},
    {LQ_TYPE_Q8_KV, RULE_ROW_SUM, 0, 0, 0, 0, false, "row sum"},
    {LQ_TYPE_Q8_KV_R8, RULE_INT8, 0, 32, -127, 127, true, "quants"},
    {LQ_TYPE_Q8_K, RULE_INT8, 8, 256, -127, 127, true, "quants"},
    {LQ_TYPE_Q8_K, RULE_Q8K_SUMS, 0, 0, 0, 0, false, "sums"},
    {LQ_TYPE_Q8_K_R8, RULE_INT8, 2, 256, -127, 127, true, "quants"},
    {LQ_TYPE_Q8_K_R16, RULE_UINT8, 2, 256, 1, 255, true, "quants + 128"},
    {LQ_TYPE_IQ6_K, RULE_INT8, 4, 16, -127, 127, false, "sub-block scales"},
    {LQ_TYPE_MXFP4, RULE_UINT8, 0, 1, 0, 252, false, "E8M0 exponents"},
    {LQ_TYPE_MXFP4_R8, RULE_UINT8, 0, 1, 0, 252, false, "E8M0 exponents"},
    {LQ_TYPE_IQ2_BN, RULE_CRUMBS, 0, 16, 0, 2, false, "trit + 1 fields"},
    {LQ_TYPE_IQ2_BN_R4, RULE_CRUMBS, 0, 16, 0, 2, false, "trit + 1 fields"},
    {LQ_TYPE_IQ1_BN, RULE_TRITS, 0, 12, 5, 0, false, "five-trit bytes"},
    {LQ_TYPE_IQ1_BN, RULE_TRITS, 12, 1, 4, 0, false, "four-trit byte"},
};
enum { RULE_COUNT = sizeof rules / sizeof rules[0] };

/* ---- checking a tensor ------------------------------------------------- */

typedef struct rule_outcome {
    int64_t checked;    /* codes (or sums) looked at */
    int64_t violations;
    int lowest, highest; /* extreme codes seen (code-range rules) */
    char first[160];    /* where the first violation is */
} rule_outcome;

static void note_violation(rule_outcome *o, int64_t row, int64_t block,
                           int64_t byte, int value) {
    if (o->violations++ == 0)
        snprintf(o->first, sizeof o->first,
                 "row group at row %lld, block %lld, byte %lld: value %d",
                 (long long)row, (long long)block, (long long)byte, value);
}

/* Bitnet packs up to five trits into a byte as ceil(256 v / 243), so that
 * multiplications modulo 256 bring each trit to the top bits; only the
 * bytes of v < 3^trits are written. */
static bool is_trit_byte(int byte, int trits) {
    int states = 1;
    for (int i = 0; i < trits; i++)
        states *= 3;
    for (int v = 0; v < states; v++)
        if ((256 * v + 242) / 243 == byte)
            return true;
    return false;
}

static void check_code_bytes(const code_rule *r, const uint8_t *field,
                             int64_t bytes, int64_t row, int64_t block,
                             rule_outcome *o) {
    for (int64_t j = 0; j < bytes; j++) {
        int b = field[j];
        switch (r->kind) {
        case RULE_INT8:
        case RULE_UINT8: {
            int v = r->kind == RULE_INT8 ? (int)(int8_t)b : b;
            o->lowest = v < o->lowest ? v : o->lowest;
            o->highest = v > o->highest ? v : o->highest;
            if (v < r->lo || v > r->hi)
                note_violation(o, row, block, j, v);
            o->checked++;
            break;
        }
        case RULE_CRUMBS:
            for (int s = 0; s < 8; s += 2, o->checked++)
                if (((b >> s) & 3) > r->hi)
                    note_violation(o, row, block, j, (b >> s) & 3);
            break;
        case RULE_TRITS:
            if (!is_trit_byte(b, r->lo))
                note_violation(o, row, block, j, b);
            o->checked++;
            break;
        default:
            break;
        }
    }
}

static void check_q8_kv_row(const uint8_t *row, int64_t ncols, int64_t r,
                            rule_outcome *o) {
    int32_t stored;
    memcpy(&stored, row + 4, sizeof stored);
    int64_t sum = 0;
    for (int64_t j = 0; j < ncols; j++)
        sum += (int8_t)row[8 + j];
    if (sum != stored)
        note_violation(o, r, 0, 4, stored);
    o->checked++;
}

static void check_q8_k_block(const uint8_t *block, int64_t r, int64_t ib,
                             rule_outcome *o) {
    float d, sum;
    memcpy(&d, block, sizeof d);
    memcpy(&sum, block + 4, sizeof sum);
    int total = 0;
    for (int g = 0; g < 16; g++) {
        int part = 0;
        for (int j = 0; j < 16; j++)
            part += (int8_t)block[8 + 16 * g + j];
        int16_t stored;
        memcpy(&stored, block + 8 + 256 + 2 * g, sizeof stored);
        if (stored != part)
            note_violation(o, r, ib, 264 + 2 * g, stored);
        total += part;
        o->checked++;
    }
    if (sum != d * (float)total)
        note_violation(o, r, ib, 4, (int)sum);
    o->checked++;
}

/* Apply rule r to a tensor of nrows x ncols of its type. */
static rule_outcome check_rule(const code_rule *r, const uint8_t *data,
                               int64_t nrows, int64_t ncols) {
    const lq_type_info *info = lq_type_get(r->type);
    rule_outcome o = {0, 0, 256, -256, ""};
    const int il = info->interleave;
    const int64_t row_bytes = lq_row_size(r->type, ncols);
    const int64_t nblocks = ncols / info->block_size;
    for (int64_t g = 0; g < nrows / il; g++) {
        const uint8_t *group = data + g * il * row_bytes;
        if (r->kind == RULE_ROW_SUM) {
            check_q8_kv_row(group, ncols, g, &o);
            continue;
        }
        const uint8_t *blocks = group + (int64_t)il * info->row_meta_size;
        for (int64_t ib = 0; ib < nblocks; ib++) {
            const uint8_t *block = blocks + ib * il * info->type_size;
            if (r->kind == RULE_Q8K_SUMS)
                check_q8_k_block(block, g, ib, &o);
            else
                check_code_bytes(r, block + il * r->offset, (int64_t)il * r->count,
                                 g * il, ib, &o);
        }
    }
    return o;
}

/* The rule in words, for failure messages. */
static void describe_rule(const code_rule *r, char *text, size_t size) {
    switch (r->kind) {
    case RULE_INT8:
    case RULE_UINT8:
        snprintf(text, size, "%s codes in [%d, %d]", r->kind == RULE_INT8 ? "int8" : "uint8",
                 r->lo, r->hi);
        break;
    case RULE_CRUMBS:
        snprintf(text, size, "2-bit fields of at most %d", r->hi);
        break;
    case RULE_TRITS:
        snprintf(text, size, "bytes of %d packed trits", r->lo);
        break;
    case RULE_ROW_SUM:
        snprintf(text, size, "the sum of the row's codes");
        break;
    case RULE_Q8K_SUMS:
        snprintf(text, size, "d times the codes' total, and the sums of 16 codes");
        break;
    }
}

static int rules_of(int type, const code_rule **first) {
    int n = 0;
    *first = NULL;
    for (int i = 0; i < RULE_COUNT; i++) {
        if (rules[i].type != type)
            continue;
        if (!*first)
            *first = &rules[i];
        n++;
    }
    return n;
}

/* Every rule of the type holds on the tensor; returns the outcomes (at most
 * two rules per type). */
static int assert_rules(int type, const uint8_t *data, int64_t nrows,
                        int64_t ncols, const char *where, rule_outcome out[2]) {
    const code_rule *r;
    int n = rules_of(type, &r);
    ck_assert_int_le(n, 2);
    for (int i = 0; i < n; i++) {
        out[i] = check_rule(&r[i], data, nrows, ncols);
        ck_assert_msg(out[i].checked > 0, "%s: rule on %s checked nothing", where,
                      r[i].what);
        char rule[96];
        describe_rule(&r[i], rule, sizeof rule);
        ck_assert_msg(out[i].violations == 0,
                      "%s (%s): %lld of %lld %s are not what the reference's "
                      "encoder writes (%s); first at %s", where, lq_type_name(type),
                      (long long)out[i].violations, (long long)out[i].checked,
                      r[i].what, rule, out[i].first);
    }
    return n;
}

static bool input_fits_type(int type, const float *x, int64_t n) {
    if (type != LQ_TYPE_F16)
        return true;
    for (int64_t i = 0; i < n; i++)
        if (fabs(x[i]) > FP16_MAX)
            return false; /* f16 turns it into Inf, as the reference does */
    return true;
}

static void assert_decodes_finite(int type, const void *q, size_t size,
                                  int64_t nrows, int64_t ncols, const float *x,
                                  const char *where) {
    float *y = malloc((size_t)(nrows * ncols) * sizeof *y);
    ck_assert_ptr_nonnull(y);
    int st = lq_dequantize_rows(type, q, size, nrows, ncols, y,
                                (size_t)(nrows * ncols) * sizeof *y);
    ck_assert_msg(st == LQ_OK, "%s: decode: %s", where, lq_error_name(st));
    if (input_fits_type(type, x, nrows * ncols)) {
        int64_t bad = lq_find_nonfinite(y, nrows * ncols);
        ck_assert_msg(bad < 0, "%s (%s): decoded value %lld (row %lld) is %g",
                      where, lq_type_name(type), (long long)bad,
                      (long long)(bad / ncols), bad < 0 ? 0.0 : (double)y[bad]);
    }
    free(y);
}

/* ---- the reference's own quantizations --------------------------------- */

static tu_name_list vector_files;
static const char *const quantized_tensors[] = {"q", "qi", "q.repacked", "qi.repacked"};

/* Vector files holding a tensor of a type that has rules. */
static char **ruled_files;
static int ruled_file_count;

static bool file_has_ruled_tensor(const char *file) {
    lq_gguf *g = tu_open_vector_file(file);
    bool found = false;
    for (size_t i = 0; i < sizeof quantized_tensors / sizeof *quantized_tensors; i++) {
        const lq_gguf_tensor *t = lq_gguf_find_tensor(g, quantized_tensors[i]);
        const code_rule *r;
        if (t && rules_of(t->type, &r) > 0 && tu_type_selected(lq_type_name(t->type)))
            found = true;
    }
    lq_gguf_close(g);
    return found;
}

START_TEST(test_reference_quantizations_obey_the_rules) {
    const char *file = ruled_files[_i];
    lq_gguf *g = tu_open_vector_file(file);
    int tensors = 0;
    for (size_t i = 0; i < sizeof quantized_tensors / sizeof *quantized_tensors; i++) {
        const lq_gguf_tensor *t = lq_gguf_find_tensor(g, quantized_tensors[i]);
        const code_rule *r;
        if (!t || rules_of(t->type, &r) == 0)
            continue;
        char where[128];
        snprintf(where, sizeof where, "reference %s '%s'", file, t->name);
        rule_outcome out[2];
        assert_rules(t->type, t->data, lq_gguf_tensor_rows(t), t->ne[0], where, out);
        tensors++;
    }
    ck_assert_int_gt(tensors, 0);
    lq_gguf_close(g);
}
END_TEST

/* ---- libquant's encodings ---------------------------------------------- */

static int *encodable;
static int encodable_count;

static uint8_t *encode(int type, const float *x, int64_t nrows, int64_t ncols,
                       const float *imatrix, size_t *size, const char *where) {
    int64_t bytes = lq_tensor_size(type, nrows, ncols);
    ck_assert_msg(bytes > 0, "%s: %s has no size for %lld x %lld", where,
                  lq_type_name(type), (long long)nrows, (long long)ncols);
    uint8_t *q = malloc((size_t)bytes);
    ck_assert_ptr_nonnull(q);
    int64_t n = lq_quantize_rows(type, x, nrows, ncols, imatrix, q, (size_t)bytes);
    ck_assert_msg(n == bytes, "%s (%s): quantize: %s", where, lq_type_name(type),
                  n < 0 ? lq_error_name((int)n) : "short");
    *size = (size_t)bytes;
    return q;
}

/* Encode, check every rule and the decoding; fold the extremes of the
 * code-range rules into lowest/highest. */
static void encode_and_check(int type, const float *x, int64_t nrows, int64_t ncols,
                             const float *imatrix, const char *where,
                             int lowest[2], int highest[2]) {
    size_t size;
    uint8_t *q = encode(type, x, nrows, ncols, imatrix, &size, where);
    rule_outcome out[2];
    int n = assert_rules(type, q, nrows, ncols, where, out);
    for (int i = 0; i < n; i++) {
        lowest[i] = out[i].lowest < lowest[i] ? out[i].lowest : lowest[i];
        highest[i] = out[i].highest > highest[i] ? out[i].highest : highest[i];
    }
    assert_decodes_finite(type, q, size, nrows, ncols, x, where);
    free(q);
}

START_TEST(test_vector_inputs_encode_within_the_rules) {
    const int type = encodable[_i];
    const char *name = lq_type_name(type);
    char file[64];
    snprintf(file, sizeof file, "%s.gguf", name);
    int found = 0;
    for (int i = 0; i < vector_files.count; i++)
        found |= strcmp(vector_files.names[i], file) == 0;
    if (!found) {
        /* q8_K has no vector file; bf16_r16 lives in bf16's: use bf16's x */
        snprintf(file, sizeof file, "%s.gguf", "bf16");
    }
    lq_gguf *g = tu_open_vector_file(file);
    const lq_gguf_tensor *x = lq_gguf_find_tensor(g, "x");
    const lq_gguf_tensor *w = lq_gguf_find_tensor(g, "imatrix");
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(w);
    int lowest[2] = {256, 256}, highest[2] = {-256, -256};
    char where[128];
    snprintf(where, sizeof where, "%s from %s's x", name, file);
    encode_and_check(type, (const float *)x->data, lq_gguf_tensor_rows(x), x->ne[0],
                     NULL, where, lowest, highest);
    snprintf(where, sizeof where, "%s from %s's x with its imatrix", name, file);
    encode_and_check(type, (const float *)x->data, lq_gguf_tensor_rows(x), x->ne[0],
                     (const float *)w->data, where, lowest, highest);
    lq_gguf_close(g);
}
END_TEST

/* Random inputs that push codes to the ends of their ranges. */
typedef enum input_kind {
    INPUT_GAUSSIAN,
    INPUT_HEAVY_TAILED,
    INPUT_NEGATIVE_PEAK, /* one dominant negative value per 32 */
    INPUT_POSITIVE_PEAK,
    INPUT_TWO_VALUED,    /* +-1 */
    INPUT_CONSTANT,      /* rows of one value, alternating in sign */
    INPUT_HUGE,          /* scales beyond fp16's range */
    INPUT_TINY,          /* scales in fp16's subnormals and below */
    INPUT_ZERO_BLOCKS,   /* every other block all zero */
    INPUT_KINDS
} input_kind;

static const char *const input_names[INPUT_KINDS] = {
    "gaussian", "heavy-tailed", "negative peaks", "positive peaks",
    "two-valued", "constant", "huge", "tiny", "zero blocks"};

static float input_value(input_kind kind, tu_rng *rng, int64_t r, int64_t c) {
    double g = tu_rng_gauss(rng);
    switch (kind) {
    case INPUT_GAUSSIAN:
        return (float)g;
    case INPUT_HEAVY_TAILED:
        return (float)(g * exp(4.0 * tu_rng_uniform(rng)) *
                       (tu_rng_uniform(rng) < 0.01 ? 20.0 : 1.0));
    case INPUT_NEGATIVE_PEAK:
        return c % 32 == (r * 7) % 32 ? -(float)(8.0 + tu_rng_uniform(rng)) : (float)g;
    case INPUT_POSITIVE_PEAK:
        return c % 32 == (r * 7) % 32 ? (float)(8.0 + tu_rng_uniform(rng)) : (float)g;
    case INPUT_TWO_VALUED:
        return g < 0 ? -1.0f : 1.0f;
    case INPUT_CONSTANT:
        return r % 2 ? -0.75f : 0.75f;
    case INPUT_HUGE:
        return (float)(g * 3e7);
    case INPUT_TINY:
        return (float)(g * 1e-9);
    case INPUT_ZERO_BLOCKS:
        return (c / 256) % 2 ? 0.0f : (float)g;
    default:
        return 0.0f;
    }
}

typedef enum weights_kind { WEIGHTS_NONE, WEIGHTS_RANDOM, WEIGHTS_PEAKED, WEIGHTS_KINDS } weights_kind;

static const float *make_weights(weights_kind kind, tu_rng *rng, float *w) {
    if (kind == WEIGHTS_NONE)
        return NULL;
    for (int c = 0; c < COLS; c++) {
        double u = tu_rng_uniform(rng);
        w[c] = kind == WEIGHTS_RANDOM ? (float)(0.01 + u * u * 10.0)
                                      : (c % 64 == 5 ? 1e3f : 1e-6f);
    }
    return w;
}

START_TEST(test_random_inputs_encode_within_the_rules) {
    const int type = encodable[_i];
    float *x = malloc((size_t)ROWS * COLS * sizeof *x);
    float w[COLS];
    ck_assert_ptr_nonnull(x);
    tu_rng rng = {0x19u + (uint64_t)type};
    int lowest[2] = {256, 256}, highest[2] = {-256, -256};
    for (int kind = 0; kind < INPUT_KINDS; kind++) {
        for (int64_t r = 0; r < ROWS; r++)
            for (int64_t c = 0; c < COLS; c++)
                x[r * COLS + c] = input_value((input_kind)kind, &rng, r, c);
        for (int wk = 0; wk < WEIGHTS_KINDS; wk++) {
            char where[128];
            snprintf(where, sizeof where, "%s, %s input, %s", lq_type_name(type),
                     input_names[kind],
                     wk == WEIGHTS_NONE ? "no imatrix"
                     : wk == WEIGHTS_RANDOM ? "random imatrix" : "peaked imatrix");
            encode_and_check(type, x, ROWS, COLS, make_weights((weights_kind)wk, &rng, w),
                             where, lowest, highest);
        }
    }
    const code_rule *r;
    int n = rules_of(type, &r);
    for (int i = 0; i < n; i++) {
        if (!r[i].ends_reached)
            continue;
        ck_assert_msg(lowest[i] == r[i].lo && highest[i] == r[i].hi,
                      "%s %s: the inputs reached [%d, %d], not the ends of [%d, %d]",
                      lq_type_name(type), r[i].what, lowest[i], highest[i], r[i].lo,
                      r[i].hi);
    }
    free(x);
}
END_TEST

/* Each rule names a type this build encodes, and the rules of a type are
 * consecutive (rules_of relies on it). */
START_TEST(test_rule_table) {
    for (int i = 0; i < RULE_COUNT; i++) {
        ck_assert_msg(lq_type_caps(rules[i].type) & LQ_CAP_ENCODE,
                      "rule %d: type %d is not encodable", i, rules[i].type);
        const code_rule *first;
        int n = rules_of(rules[i].type, &first);
        ck_assert_int_lt(&rules[i] - first, n);
    }
    ck_assert(is_trit_byte(0, 5) && is_trit_byte(255, 5) && !is_trit_byte(1, 5));
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static void collect_cases(void) {
    vector_files = tu_vector_files();
    ruled_files = calloc((size_t)vector_files.count + 1, sizeof *ruled_files);
    encodable = calloc((size_t)lq_type_count() + 1, sizeof *encodable);
    if (!ruled_files || !encodable)
        abort();
    for (int i = 0; i < vector_files.count; i++)
        if (file_has_ruled_tensor(vector_files.names[i]))
            ruled_files[ruled_file_count++] = vector_files.names[i];
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if ((lq_type_caps(info->type) & LQ_CAP_ENCODE) && tu_type_selected(info->name) &&
            lq_tensor_size(info->type, ROWS, COLS) > 0)
            encodable[encodable_count++] = info->type;
    }
}

static Suite *code_range_suite(void) {
    Suite *s = suite_create("code_ranges");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_rule_table);
    tcase_add_loop_test(tc, test_reference_quantizations_obey_the_rules, 0,
                        ruled_file_count);
    tcase_add_loop_test(tc, test_vector_inputs_encode_within_the_rules, 0,
                        encodable_count);
    tcase_add_loop_test(tc, test_random_inputs_encode_within_the_rules, 0,
                        encodable_count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    collect_cases();
    if (ruled_file_count == 0 && encodable_count == 0) {
        fprintf(stderr, "test_code_ranges: no type selected\n");
        return 1;
    }
    SRunner *sr = srunner_create(code_range_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_name_list_free(&vector_files);
    free(ruled_files);
    free(encodable);
    return failed ? 1 : 0;
}
