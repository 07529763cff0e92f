/* Repack rules: the reference's tables, and the --pattern filter. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "repack_plan.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

typedef struct type_pair {
    int from;
    int to;
} type_pair;

/* The reference's offline repack table (iqk_quantize.cpp, get_repack_info)
 * without q8_K and f16, whose conversions are not byte-exact. */
static const type_pair repack_targets[] = {
    {LQ_TYPE_Q4_0, LQ_TYPE_Q4_0_R8},       {LQ_TYPE_Q5_0, LQ_TYPE_Q5_0_R4},
    {LQ_TYPE_Q6_0, LQ_TYPE_Q6_0_R4},       {LQ_TYPE_Q8_0, LQ_TYPE_Q8_0_R8},
    {LQ_TYPE_Q2_K, LQ_TYPE_Q2_K_R4},       {LQ_TYPE_Q3_K, LQ_TYPE_Q3_K_R4},
    {LQ_TYPE_Q4_K, LQ_TYPE_Q4_K_R4},       {LQ_TYPE_Q5_K, LQ_TYPE_Q5_K_R4},
    {LQ_TYPE_Q6_K, LQ_TYPE_Q6_K_R4},       {LQ_TYPE_IQ2_XXS, LQ_TYPE_IQ2_XXS_R4},
    {LQ_TYPE_IQ2_XS, LQ_TYPE_IQ2_XS_R4},   {LQ_TYPE_IQ2_S, LQ_TYPE_IQ2_S_R4},
    {LQ_TYPE_IQ3_XXS, LQ_TYPE_IQ3_XXS_R4}, {LQ_TYPE_IQ3_S, LQ_TYPE_IQ3_S_R4},
    {LQ_TYPE_IQ4_NL, LQ_TYPE_IQ4_NL_R4},   {LQ_TYPE_IQ4_XS, LQ_TYPE_IQ4_XS_R8},
    {LQ_TYPE_MXFP4, LQ_TYPE_MXFP4_R8},     {LQ_TYPE_BF16, LQ_TYPE_BF16_R16},
    {LQ_TYPE_IQ2_BN, LQ_TYPE_IQ2_BN_R4},   {LQ_TYPE_IQ2_K, LQ_TYPE_IQ2_K_R4},
    {LQ_TYPE_IQ3_K, LQ_TYPE_IQ3_K_R4},     {LQ_TYPE_IQ4_K, LQ_TYPE_IQ4_K_R4},
    {LQ_TYPE_IQ5_K, LQ_TYPE_IQ5_K_R4},     {LQ_TYPE_IQ4_KS, LQ_TYPE_IQ4_KS_R4},
    {LQ_TYPE_IQ5_KS, LQ_TYPE_IQ5_KS_R4},   {LQ_TYPE_Q8_KV, LQ_TYPE_Q8_KV_R8},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

int repack_target_type(int base_type) {
    for (size_t i = 0; i < COUNT_OF(repack_targets); i++)
        if (repack_targets[i].from == base_type)
            return repack_targets[i].to;
    return -1;
}

int repack_unpack_type(int type) {
    for (size_t i = 0; i < COUNT_OF(repack_targets); i++)
        if (repack_targets[i].to == type)
            return repack_targets[i].from;
    return -1;
}

bool repack_name_is_row_lookup(const char *name) {
    return strcmp(name, "token_embd.weight") == 0 ||
           strcmp(name, "per_layer_token_embd.weight") == 0;
}

repack_verdict repack_tensor_verdict(const lq_gguf_tensor *t, int *target) {
    int to = repack_target_type(t->type);
    if (to < 0)
        return lq_type_get(t->type)->interleave > 1 ? REPACK_ALREADY_INTERLEAVED
                                                   : REPACK_NO_VARIANT;
    if (repack_name_is_row_lookup(t->name))
        return REPACK_ROW_LOOKUP;
    const lq_type_info *info = lq_type_get(to);
    if (t->ne[1] % info->interleave != 0)
        return REPACK_ROWS_NOT_MULTIPLE;
    if (target)
        *target = to;
    return REPACK_YES;
}

bool repack_tensor_eligible(const lq_gguf_tensor *t, int *target) {
    return repack_tensor_verdict(t, target) == REPACK_YES;
}

const char *repack_verdict_text(repack_verdict v) {
    static const char *const texts[] = {
        [REPACK_YES] = "repacked",
        [REPACK_NO_VARIANT] = "no interleaved variant",
        [REPACK_ALREADY_INTERLEAVED] = "already interleaved",
        [REPACK_ROW_LOOKUP] = "token embedding, read by row",
        [REPACK_ROWS_NOT_MULTIPLE] = "rows not a multiple of the factor",
    };
    return (unsigned)v < COUNT_OF(texts) ? texts[v] : "?";
}

/* llama_ftype codes of the reference's llama-quantize --repack
 * (repacked_ftype). `canonical` rows are the ones --unpack maps back to. */
typedef struct ftype_pair {
    int base;
    int repacked;
    bool canonical;
} ftype_pair;

static const ftype_pair ftype_pairs[] = {
    {2, 202, true},   /* Q4_0 */     {7, 207, true},   /* Q8_0 */
    {8, 208, true},   /* Q5_0 */     {10, 210, true},  /* Q2_K */
    {11, 211, false}, /* Q3_K_S */   {12, 211, true},  /* Q3_K_M */
    {13, 211, false}, /* Q3_K_L */   {14, 214, false}, /* Q4_K_S */
    {15, 214, true},  /* Q4_K_M */   {16, 216, false}, /* Q5_K_S */
    {17, 216, true},  /* Q5_K_M */   {18, 218, true},  /* Q6_K */
    {19, 219, true},  /* IQ2_XXS */  {20, 220, true},  /* IQ2_XS */
    {23, 223, true},  /* IQ3_XXS */  {24, 224, false}, /* IQ1_S */
    {25, 225, true},  /* IQ4_NL */   {26, 226, true},  /* IQ3_S */
    {29, 229, true},  /* IQ2_M */    {30, 230, true},  /* IQ4_XS */
    {31, 231, false}, /* IQ1_M */    {135, 335, true}, /* Q6_0 */
    {32, 232, true},  /* BF16 */     {137, 337, true}, /* IQ2_BN */
    {138, 338, true}, /* IQ2_K */    {139, 339, true}, /* IQ3_K */
    {140, 340, true}, /* IQ4_K */    {141, 341, true}, /* IQ5_K */
    {145, 345, true}, /* IQ4_KS */   {150, 350, true}, /* IQ5_KS */
    {149, 398, true}, /* Q8_KV */
};

int repack_file_type(int ftype) {
    for (size_t i = 0; i < COUNT_OF(ftype_pairs); i++)
        if (ftype_pairs[i].base == ftype)
            return ftype_pairs[i].repacked;
    return ftype;
}

int unpack_file_type(int ftype) {
    for (size_t i = 0; i < COUNT_OF(ftype_pairs); i++)
        if (ftype_pairs[i].canonical && ftype_pairs[i].repacked == ftype)
            return ftype_pairs[i].base;
    return ftype;
}

/* ---- --pattern ---------------------------------------------------------- */

typedef struct compiled_pattern {
    pcre2_code *code;
    pcre2_match_data *match;
} compiled_pattern;

struct repack_patterns {
    compiled_pattern *items;
    size_t count;
};

static bool compile_one(const char *text, size_t len, compiled_pattern *out, char *msg,
                        size_t msg_size) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)text, len, 0, &code, &offset, NULL);
    if (!re) {
        PCRE2_UCHAR why[256];
        pcre2_get_error_message(code, why, sizeof why);
        snprintf(msg, msg_size, "'%.*s': %s at column %zu", (int)len, text, (const char *)why,
                 (size_t)offset + 1);
        return false;
    }
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(re, NULL);
    if (!match) {
        pcre2_code_free(re);
        snprintf(msg, msg_size, "out of memory");
        return false;
    }
    *out = (compiled_pattern){re, match};
    return true;
}

bool repack_patterns_add(repack_patterns **patterns, const char *list, char *msg,
                         size_t msg_size) {
    if (!*patterns && !(*patterns = calloc(1, sizeof **patterns))) {
        snprintf(msg, msg_size, "out of memory");
        return false;
    }
    repack_patterns *p = *patterns;
    for (const char *item = list;; item++) {
        size_t len = strcspn(item, ",");
        if (len == 0) {
            snprintf(msg, msg_size, "'%s': empty pattern in the list", list);
            return false;
        }
        compiled_pattern *grown = realloc(p->items, (p->count + 1) * sizeof *grown);
        if (!grown) {
            snprintf(msg, msg_size, "out of memory");
            return false;
        }
        p->items = grown;
        if (!compile_one(item, len, &p->items[p->count], msg, msg_size))
            return false;
        p->count++;
        item += len;
        if (*item == '\0')
            return true;
    }
}

bool repack_patterns_match(const repack_patterns *patterns, const char *name) {
    if (!patterns)
        return true;
    for (size_t i = 0; i < patterns->count; i++) {
        const compiled_pattern *p = &patterns->items[i];
        if (pcre2_match(p->code, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, p->match,
                        NULL) >= 0)
            return true;
    }
    return false;
}

void repack_patterns_free(repack_patterns *patterns) {
    if (!patterns)
        return;
    for (size_t i = 0; i < patterns->count; i++) {
        pcre2_match_data_free(patterns->items[i].match);
        pcre2_code_free(patterns->items[i].code);
    }
    free(patterns->items);
    free(patterns);
}
