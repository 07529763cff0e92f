/* The reference's tensor selection, shape fallbacks and file type codes. */
#include "type_rules.h"

#include <string.h>

#include "quant.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Substrings that keep a "*weight" tensor unquantized. */
static const char *const never_quantized_substrings[] = {
    "_norm.weight",      /* norms */
    "ffn_gate_inp.weight", /* MoE router */
    "ssm_conv1d",        /* Mamba's small 2-D weights */
    "ssm_x.weight",
    "ssm_dt.weight",
    "attn_rel_b.weight", /* T5 relative position bias */
};

/* Whole names that stay unquantized (positional and token-type embeddings). */
static const char *const never_quantized_names[] = {
    "position_embd.weight",
    "token_types.weight",
};

bool rules_is_quantizable(const char *name, int n_dims, int src_type,
                          bool quantize_output) {
    if (src_type == LQ_TYPE_I8 || src_type == LQ_TYPE_I16 ||
        src_type == LQ_TYPE_I32 || src_type == LQ_TYPE_I64)
        return false;
    if (!ends_with(name, "weight") || n_dims < 2)
        return false;
    for (size_t i = 0; i < sizeof never_quantized_substrings / sizeof never_quantized_substrings[0]; i++)
        if (strstr(name, never_quantized_substrings[i]))
            return false;
    for (size_t i = 0; i < sizeof never_quantized_names / sizeof never_quantized_names[0]; i++)
        if (strcmp(name, never_quantized_names[i]) == 0)
            return false;
    if (!quantize_output && strcmp(name, "output.weight") == 0)
        return false;
    return true;
}

typedef struct type_pair {
    int from, to;
} type_pair;

/* When the row length is not a multiple of the block size. The reference's
 * choices for its 256-block types; beyond them, anything that still does not
 * fit ends in f16, which fits every row. */
static const type_pair block_fallbacks[] = {
    {LQ_TYPE_IQ2_XXS, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ2_XXS_R4, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ2_XS, LQ_TYPE_IQ4_NL},  {LQ_TYPE_IQ2_XS_R4, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ2_KS, LQ_TYPE_IQ4_NL},  {LQ_TYPE_IQ2_S, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ2_S_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ3_XXS, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ3_XXS_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ3_S, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ3_S_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ1_S, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ1_M, LQ_TYPE_IQ4_NL},   {LQ_TYPE_Q2_K, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_Q2_K_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_Q3_K, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_Q3_K_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ2_K, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ2_K_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ2_KL, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ3_KS, LQ_TYPE_IQ4_NL},  {LQ_TYPE_IQ3_K, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ3_K_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ4_KSS, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ4_KS, LQ_TYPE_IQ4_NL},  {LQ_TYPE_IQ4_KS_R4, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ4_XS_R8, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ1_KT, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ2_KT, LQ_TYPE_IQ4_NL},  {LQ_TYPE_IQ3_KT, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ4_KT, LQ_TYPE_IQ4_NL},  {LQ_TYPE_IQ4_XS, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ1_S_R4, LQ_TYPE_IQ4_NL}, {LQ_TYPE_IQ1_M_R4, LQ_TYPE_IQ4_NL},
    {LQ_TYPE_IQ4_K, LQ_TYPE_Q5_0},     {LQ_TYPE_IQ4_K_R4, LQ_TYPE_Q5_0},
    {LQ_TYPE_Q4_K_R4, LQ_TYPE_Q5_0},   {LQ_TYPE_IQ5_KS, LQ_TYPE_Q5_0},
    {LQ_TYPE_IQ5_KS_R4, LQ_TYPE_Q5_0}, {LQ_TYPE_Q4_K, LQ_TYPE_Q5_0},
    {LQ_TYPE_IQ5_K, LQ_TYPE_Q6_0},     {LQ_TYPE_IQ5_K_R4, LQ_TYPE_Q6_0},
    {LQ_TYPE_Q5_K_R4, LQ_TYPE_Q6_0},   {LQ_TYPE_Q5_K, LQ_TYPE_Q6_0},
    {LQ_TYPE_IQ6_K, LQ_TYPE_Q8_0},     {LQ_TYPE_Q6_K_R4, LQ_TYPE_Q8_0},
    {LQ_TYPE_Q8_K_R8, LQ_TYPE_Q8_0},   {LQ_TYPE_Q8_K_R16, LQ_TYPE_Q8_0},
    {LQ_TYPE_Q6_K, LQ_TYPE_Q8_0},
};

/* When the row count is not a multiple of the interleave factor and the type
 * is a format of its own (no base type to fall back to). */
static const type_pair interleave_fallbacks[] = {
    {LQ_TYPE_IQ1_S_R4, LQ_TYPE_IQ1_S}, {LQ_TYPE_IQ1_M_R4, LQ_TYPE_IQ1_M},
    {LQ_TYPE_Q8_K_R8, LQ_TYPE_Q8_0},   {LQ_TYPE_Q8_K_R16, LQ_TYPE_Q8_0},
};

static int lookup_pair(const type_pair *table, size_t n, int from, int otherwise) {
    for (size_t i = 0; i < n; i++)
        if (table[i].from == from)
            return table[i].to;
    return otherwise;
}

int rules_fitting_type(int type, int64_t ncols, int64_t nrows) {
    for (int step = 0; step < 4; step++) {
        const lq_type_info *info = lq_type_get(type);
        if (!info || ncols % info->block_size == 0)
            break;
        type = lookup_pair(block_fallbacks, sizeof block_fallbacks / sizeof block_fallbacks[0],
                           type, LQ_TYPE_F16);
    }
    const lq_type_info *info = lq_type_get(type);
    if (info && info->interleave > 1 && nrows % info->interleave != 0)
        type = info->base_type >= 0
                   ? info->base_type
                   : lookup_pair(interleave_fallbacks,
                                 sizeof interleave_fallbacks / sizeof interleave_fallbacks[0],
                                 type, LQ_TYPE_F16);
    return type;
}

/* The llama_ftype of a whole-model quantization to one type. Where the
 * reference has several presets for a type (Q4_K_S/Q4_K_M) this is the one
 * its own name selects (q4_K means Q4_K_M). */
static const type_pair type_ftypes[] = {
    {LQ_TYPE_F32, 0},          {LQ_TYPE_F16, 1},          {LQ_TYPE_Q4_0, 2},
    {LQ_TYPE_Q4_1, 3},         {LQ_TYPE_Q8_0, 7},         {LQ_TYPE_Q5_0, 8},
    {LQ_TYPE_Q5_1, 9},         {LQ_TYPE_Q2_K, 10},        {LQ_TYPE_Q3_K, 12},
    {LQ_TYPE_Q4_K, 15},        {LQ_TYPE_Q5_K, 17},        {LQ_TYPE_Q6_K, 18},
    {LQ_TYPE_IQ2_XXS, 19},     {LQ_TYPE_IQ2_XS, 20},      {LQ_TYPE_IQ3_XXS, 23},
    {LQ_TYPE_IQ1_S, 24},       {LQ_TYPE_IQ4_NL, 25},      {LQ_TYPE_IQ3_S, 26},
    {LQ_TYPE_IQ2_S, 28},       {LQ_TYPE_IQ4_XS, 30},      {LQ_TYPE_IQ1_M, 31},
    {LQ_TYPE_BF16, 32},        {LQ_TYPE_MXFP4, 38},       {LQ_TYPE_Q6_0, 135},
    {LQ_TYPE_IQ1_BN, 136},     {LQ_TYPE_IQ2_BN, 137},     {LQ_TYPE_IQ2_K, 138},
    {LQ_TYPE_IQ3_K, 139},      {LQ_TYPE_IQ4_K, 140},      {LQ_TYPE_IQ5_K, 141},
    {LQ_TYPE_IQ6_K, 142},      {LQ_TYPE_IQ4_KS, 145},     {LQ_TYPE_IQ2_KS, 147},
    {LQ_TYPE_IQ4_KSS, 148},    {LQ_TYPE_Q8_KV, 149},      {LQ_TYPE_IQ5_KS, 150},
    {LQ_TYPE_IQ2_KT, 151},     {LQ_TYPE_IQ3_KT, 152},     {LQ_TYPE_IQ4_KT, 153},
    {LQ_TYPE_IQ3_KS, 154},     {LQ_TYPE_IQ2_KL, 155},     {LQ_TYPE_IQ1_KT, 156},
    {LQ_TYPE_Q4_0_R8, 202},    {LQ_TYPE_Q8_0_R8, 207},    {LQ_TYPE_Q5_0_R4, 208},
    {LQ_TYPE_Q2_K_R4, 210},    {LQ_TYPE_Q3_K_R4, 211},    {LQ_TYPE_Q4_K_R4, 214},
    {LQ_TYPE_Q5_K_R4, 216},    {LQ_TYPE_Q6_K_R4, 218},    {LQ_TYPE_IQ2_XXS_R4, 219},
    {LQ_TYPE_IQ2_XS_R4, 220},  {LQ_TYPE_IQ3_XXS_R4, 223}, {LQ_TYPE_IQ1_S_R4, 224},
    {LQ_TYPE_IQ4_NL_R4, 225},  {LQ_TYPE_IQ3_S_R4, 226},   {LQ_TYPE_IQ2_S_R4, 229},
    {LQ_TYPE_IQ4_XS_R8, 230},  {LQ_TYPE_IQ1_M_R4, 231},   {LQ_TYPE_BF16_R16, 232},
    {LQ_TYPE_Q6_0_R4, 335},    {LQ_TYPE_IQ2_BN_R4, 337},  {LQ_TYPE_IQ2_K_R4, 338},
    {LQ_TYPE_IQ3_K_R4, 339},   {LQ_TYPE_IQ4_K_R4, 340},   {LQ_TYPE_IQ5_K_R4, 341},
    {LQ_TYPE_IQ4_KS_R4, 345},  {LQ_TYPE_IQ5_KS_R4, 350},  {LQ_TYPE_MXFP4_R8, 351},
    {LQ_TYPE_Q8_KV_R8, 398},   {LQ_TYPE_Q8_K_R8, 399},
};

int rules_ftype_of_type(int type) {
    return lookup_pair(type_ftypes, sizeof type_ftypes / sizeof type_ftypes[0], type, -1);
}
