/*
 * Presets and per-tensor mix rules, after ik_llama.cpp's llama-quantize
 * (QUANT_OPTIONS, llama_model_quantize_internal's ftype -> type switch and
 * llama_tensor_get_type), written as data.
 *
 * The reference decides in two steps, and so do the tables: a tensor first
 * falls into one *section* (the output tensor, the token embeddings, a group
 * of very-low-bit presets that have their own recipe, or a tensor kind such
 * as attn_v or ffn_down: the first section that matches), then the first
 * *rule* of that section whose pattern, preset list and conditions all hold
 * decides its type. No rule: the preset's base type.
 */
#include "quantize_presets.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "quant.h"

/* llama_ftype codes (the reference's include/llama.h). */
enum {
    FT_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9,
    FT_Q2_K = 10, FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14,
    FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18, FT_IQ2_XXS = 19,
    FT_IQ2_XS = 20, FT_Q2_K_S = 21, FT_IQ3_XS = 22, FT_IQ3_XXS = 23, FT_IQ1_S = 24,
    FT_IQ4_NL = 25, FT_IQ3_S = 26, FT_IQ3_M = 27, FT_IQ2_S = 28, FT_IQ2_M = 29, FT_IQ4_XS = 30,
    FT_IQ1_M = 31, FT_BF16 = 32, FT_Q4_0_4_4 = 33, FT_Q4_0_4_8 = 34, FT_Q4_0_8_8 = 35,
    FT_MXFP4 = 38, FT_Q6_0 = 135, FT_IQ1_BN = 136, FT_IQ2_BN = 137, FT_IQ2_K = 138,
    FT_IQ3_K = 139, FT_IQ4_K = 140, FT_IQ5_K = 141, FT_IQ6_K = 142, FT_IQ4_KS = 145,
    FT_IQ3_KL = 146, FT_IQ2_KS = 147, FT_IQ4_KSS = 148, FT_Q8_KV = 149, FT_IQ5_KS = 150,
    FT_IQ2_KT = 151, FT_IQ3_KT = 152, FT_IQ4_KT = 153, FT_IQ3_KS = 154, FT_IQ2_KL = 155,
    FT_IQ1_KT = 156, FT_Q4_0_R8 = 202, FT_Q8_0_R8 = 207, FT_Q5_0_R4 = 208, FT_Q2_K_R4 = 210,
    FT_Q3_K_R4 = 211, FT_Q4_K_R4 = 214, FT_Q5_K_R4 = 216, FT_Q6_K_R4 = 218,
    FT_IQ2_XXS_R4 = 219, FT_IQ2_XS_R4 = 220, FT_IQ3_XXS_R4 = 223, FT_IQ1_S_R4 = 224,
    FT_IQ4_NL_R4 = 225, FT_IQ3_S_R4 = 226, FT_IQ2_M_R4 = 229, FT_IQ4_XS_R8 = 230,
    FT_IQ1_M_R4 = 231, FT_BF16_R16 = 232, FT_Q6_0_R4 = 335, FT_IQ2_BN_R4 = 337,
    FT_IQ2_K_R4 = 338, FT_IQ3_K_R4 = 339, FT_IQ4_K_R4 = 340, FT_IQ5_K_R4 = 341,
    FT_IQ4_KS_R4 = 345, FT_IQ5_KS_R4 = 350, FT_MXFP4_R8 = 351, FT_Q8_KV_R8 = 398,
    FT_Q8_K_R8 = 399,
};

#define T(x) LQ_TYPE_##x

/* In the reference's order: a name resolves to the first entry that has it
 * (Q4_K is listed as an alias of Q4_K_M). */
static const quant_preset presets[] = {
    {"Q4_0", FT_Q4_0, T(Q4_0), false, "3.56G, +0.2166 ppl @ LLaMA-v1-7B"},
    {"Q4_1", FT_Q4_1, T(Q4_1), false, "3.90G, +0.1585 ppl @ LLaMA-v1-7B"},
    {"Q5_0", FT_Q5_0, T(Q5_0), false, "4.33G, +0.0683 ppl @ LLaMA-v1-7B"},
    {"Q5_1", FT_Q5_1, T(Q5_1), false, "4.70G, +0.0349 ppl @ LLaMA-v1-7B"},
    {"Q6_0", FT_Q6_0, T(Q6_0), false, "6.5 bpw quantization"},
    {"MXFP4", FT_MXFP4, T(MXFP4), false, "4.25 bpw 4-bit float quantization"},
    {"MXFP4_R8", FT_MXFP4_R8, T(MXFP4_R8), false, "MXFP4 repacked"},
    {"IQ2_XXS", FT_IQ2_XXS, T(IQ2_XXS), false, "2.06 bpw quantization"},
    {"IQ2_XXS_R4", FT_IQ2_XXS_R4, T(IQ2_XXS_R4), false, "IQ2_XXS repacked"},
    {"IQ2_XS", FT_IQ2_XS, T(IQ2_XS), false, "2.31 bpw quantization"},
    {"IQ2_XS_R4", FT_IQ2_XS_R4, T(IQ2_XS_R4), false, "IQ2_XS repacked"},
    {"IQ2_S", FT_IQ2_S, T(IQ2_XS), false, "2.5  bpw quantization"},
    {"IQ2_M", FT_IQ2_M, T(IQ2_S), false, "2.7  bpw quantization"},
    {"IQ2_M_R4", FT_IQ2_M_R4, T(IQ2_S_R4), false, "2.7  bpw quantization"},
    {"IQ1_S", FT_IQ1_S, T(IQ1_S), false, "1.56 bpw quantization"},
    {"IQ1_S_R4", FT_IQ1_S_R4, T(IQ1_S_R4), false, "1.5 bpw quantization"},
    {"IQ1_M_R4", FT_IQ1_M_R4, T(IQ1_M_R4), false, "1.75 bpw quantization"},
    {"IQ1_M", FT_IQ1_M, T(IQ1_M), false, "1.75 bpw quantization"},
    {"IQ1_BN", FT_IQ1_BN, T(IQ1_BN), false, "1.62 bpw quantization (Bitnet)"},
    {"IQ2_BN", FT_IQ2_BN, T(IQ2_BN), false, "2.00 bpw quantization (Bitnet)"},
    {"IQ2_BN_R4", FT_IQ2_BN_R4, T(IQ2_BN_R4), false, "2.00 bpw quantization (Bitnet)"},
    {"Q2_K", FT_Q2_K, T(Q2_K), false, "2.63G, +0.6717 ppl @ LLaMA-v1-7B"},
    {"Q2_K_R4", FT_Q2_K_R4, T(Q2_K_R4), false, "Q2_K_S repacked"},
    {"Q2_K_S", FT_Q2_K_S, T(Q2_K), false, "2.16G, +9.0634 ppl @ LLaMA-v1-7B"},
    {"IQ3_XXS", FT_IQ3_XXS, T(IQ3_XXS), false, "3.06 bpw quantization"},
    {"IQ3_KT", FT_IQ3_KT, T(IQ3_KT), false, "3.125 bpw trellis quantization"},
    {"IQ4_KT", FT_IQ4_KT, T(IQ4_KT), false, "4.0 bpw trellis quantization"},
    {"IQ3_XXS_R4", FT_IQ3_XXS_R4, T(IQ3_XXS_R4), false, "IQ3_XXS repacked"},
    {"IQ3_S", FT_IQ3_S, T(IQ3_S), false, "3.44 bpw quantization"},
    {"IQ3_S_R4", FT_IQ3_S_R4, T(IQ3_S_R4), false, "IQ3_S repacked"},
    {"IQ3_M", FT_IQ3_M, T(IQ3_S), false, "3.66 bpw quantization mix"},
    {"Q3_K", FT_Q3_K_M, T(Q3_K), true, "alias for Q3_K_M"},
    {"Q3_K_R4", FT_Q3_K_R4, T(Q3_K_R4), false, "Q3_K_S repacked"},
    {"IQ3_XS", FT_IQ3_XS, T(IQ3_S), false, "3.3 bpw quantization"},
    {"Q3_K_S", FT_Q3_K_S, T(Q3_K), false, "2.75G, +0.5551 ppl @ LLaMA-v1-7B"},
    {"Q3_K_M", FT_Q3_K_M, T(Q3_K), false, "3.07G, +0.2496 ppl @ LLaMA-v1-7B"},
    {"Q3_K_L", FT_Q3_K_L, T(Q3_K), false, "3.35G, +0.1764 ppl @ LLaMA-v1-7B"},
    {"IQ4_NL", FT_IQ4_NL, T(IQ4_NL), false, "4.50 bpw non-linear quantization"},
    {"IQ4_NL_R4", FT_IQ4_NL_R4, T(IQ4_NL_R4), false, "4.50 bpw non-linear quantization"},
    {"IQ4_XS_R8", FT_IQ4_XS_R8, T(IQ4_XS_R8), false, "4.25 bpw non-linear quantization"},
    {"Q4_0_R8", FT_Q4_0_R8, T(Q4_0_R8), false, "4.50 bpw quantization"},
    {"Q5_0_R4", FT_Q5_0_R4, T(Q5_0_R4), false, "5.50 bpw quantization"},
    {"Q6_0_R4", FT_Q6_0_R4, T(Q6_0_R4), false, "6.50 bpw quantization"},
    {"Q8_0_R8", FT_Q8_0_R8, T(Q8_0_R8), false, "8.50 bpw quantization"},
    {"Q8_KV", FT_Q8_KV, T(Q8_KV), false, "8.00 bpw quantization"},
    {"IQ4_XS", FT_IQ4_XS, T(IQ4_XS), false, "4.25 bpw non-linear quantization"},
    {"IQ4_KS", FT_IQ4_KS, T(IQ4_KS), false, "4.25 bpw non-linear quantization"},
    {"IQ4_KS_R4", FT_IQ4_KS_R4, T(IQ4_KS_R4), false, "IQ4_KS repacked"},
    {"IQ5_KS_R4", FT_IQ5_KS_R4, T(IQ5_KS_R4), false, "IQ5_KS repacked"},
    {"IQ4_KSS", FT_IQ4_KSS, T(IQ4_KSS), false, "4.0 bpw non-linear quantization"},
    {"IQ5_KS", FT_IQ5_KS, T(IQ5_KS), false, "5.25 bpw non-linear quantization"},
    {"IQ2_K", FT_IQ2_K, T(IQ2_K), false, "2.375 bpw non-linear quantization"},
    {"IQ2_K_R4", FT_IQ2_K_R4, T(IQ2_K_R4), false, "IQ2_K repacked"},
    {"IQ2_KS", FT_IQ2_KS, T(IQ2_KS), false, "2.1875 bpw non-linear quantization"},
    {"IQ1_KT", FT_IQ1_KT, T(IQ1_KT), false, "1.75 bpw trellis quantization"},
    {"IQ2_KT", FT_IQ2_KT, T(IQ2_KT), false, "2.125 bpw trellis quantization"},
    {"IQ2_KL", FT_IQ2_KL, T(IQ2_KL), false, "2.69 bpw non-linear quantization"},
    {"IQ3_KS", FT_IQ3_KS, T(IQ3_KS), false, "3.19 bpw non-linear quantization"},
    {"IQ3_K", FT_IQ3_K, T(IQ3_K), false, "3.44 bpw non-linear quantization"},
    {"IQ3_K_R4", FT_IQ3_K_R4, T(IQ3_K_R4), false, "IQ3_K repacked"},
    {"IQ3_KL", FT_IQ3_KL, T(IQ3_K), false, "4 bpw non-linear quantization mix"},
    {"IQ4_K", FT_IQ4_K, T(IQ4_K), false, "4.5 bpw non-linear quantization"},
    {"IQ4_K_R4", FT_IQ4_K_R4, T(IQ4_K_R4), false, "IQ4_K repacked"},
    {"IQ5_K", FT_IQ5_K, T(IQ5_K), false, "5.5 bpw non-linear quantization"},
    {"IQ5_K_R4", FT_IQ5_K_R4, T(IQ5_K_R4), false, "IQ5_K repacked"},
    {"IQ6_K", FT_IQ6_K, T(IQ6_K), false, "6.6 bpw non-linear quantization"},
    {"Q4_K", FT_Q4_K_M, T(Q4_K), true, "alias for Q4_K_M"},
    {"Q4_K_R4", FT_Q4_K_R4, T(Q4_K_R4), false, "Q4_K_S repacked"},
    {"Q4_K_S", FT_Q4_K_S, T(Q4_K), false, "3.59G, +0.0992 ppl @ LLaMA-v1-7B"},
    {"Q4_K_M", FT_Q4_K_M, T(Q4_K), false, "3.80G, +0.0532 ppl @ LLaMA-v1-7B"},
    {"Q5_K", FT_Q5_K_M, T(Q5_K), true, "alias for Q5_K_M"},
    {"Q5_K_R4", FT_Q5_K_R4, T(Q5_K_R4), false, "Q5_K_S repacked"},
    {"Q5_K_S", FT_Q5_K_S, T(Q5_K), false, "4.33G, +0.0400 ppl @ LLaMA-v1-7B"},
    {"Q5_K_M", FT_Q5_K_M, T(Q5_K), false, "4.45G, +0.0122 ppl @ LLaMA-v1-7B"},
    {"Q6_K", FT_Q6_K, T(Q6_K), false, "5.15G, +0.0008 ppl @ LLaMA-v1-7B"},
    {"Q6_K_R4", FT_Q6_K_R4, T(Q6_K_R4), false, "Q6_K repacked"},
    {"Q8_K_R8", FT_Q8_K_R8, T(Q8_K_R8), false, "Q8_K repacked"},
    {"Q8_KV_R8", FT_Q8_KV_R8, T(Q8_KV_R8), false, "Q8_KV repacked"},
    {"Q8_0", FT_Q8_0, T(Q8_0), false, "6.70G, +0.0004 ppl @ LLaMA-v1-7B"},
    {"Q4_0_4_4", FT_Q4_0_4_4, T(Q4_0_4_4), false, "4.34G, +0.4685 ppl @ Llama-3-8B"},
    {"Q4_0_4_8", FT_Q4_0_4_8, T(Q4_0_4_8), false, "4.34G, +0.4685 ppl @ Llama-3-8B"},
    {"Q4_0_8_8", FT_Q4_0_8_8, T(Q4_0_8_8), false, "4.34G, +0.4685 ppl @ Llama-3-8B"},
    {"F16", FT_F16, T(F16), false, "14.00G, -0.0020 ppl @ Mistral-7B"},
    {"BF16", FT_BF16, T(BF16), false, "14.00G, -0.0050 ppl @ Mistral-7B"},
    {"BF16_R16", FT_BF16_R16, T(BF16_R16), false, "14.00G, -0.0050 ppl @ Mistral-7B"},
    {"F32", FT_F32, T(F32), false, "26.00G              @ 7B"},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const quant_preset *preset_find(const char *name) {
    if (!name || !*name)
        return NULL;
    for (size_t i = 0; i < COUNT_OF(presets); i++)
        if (strcasecmp(presets[i].name, name) == 0)
            return &presets[i];
    char *end = NULL;
    long code = strtol(name, &end, 10);
    return *end == '\0' ? preset_of_ftype((int)code) : NULL;
}

const quant_preset *preset_of_ftype(int ftype) {
    for (size_t i = 0; i < COUNT_OF(presets); i++)
        if (presets[i].ftype == ftype && !presets[i].alias)
            return &presets[i];
    return NULL;
}

void presets_print(FILE *out) {
    fprintf(out, "%-11s %5s  %-10s  %s\n", "preset", "ftype", "base type", "description");
    for (size_t i = 0; i < COUNT_OF(presets); i++)
        fprintf(out, "%-11s %5d  %-10s  %s\n", presets[i].name, presets[i].ftype,
                lq_type_name(presets[i].base_type), presets[i].description);
}

/* ---- the rules ----------------------------------------------------------- */

/* Conditions (all of a rule's must hold). "layer" is the tensor's layer
 * among tensors of its kind; "wv" the attn_v tensor's index. */
enum {
    C_GQA2 = 1 << 0,      /* n_head / n_head_kv >= 2 */
    C_GQA4 = 1 << 1,      /* ... >= 4 */
    C_EXP2 = 1 << 2,      /* experts >= 2 */
    C_EXP4 = 1 << 3,      /* experts >= 4 */
    C_EXP8 = 1 << 4,      /* experts >= 8 */
    C_IMAT = 1 << 5,      /* an importance matrix is given */
    C_NO_IMAT = 1 << 6,   /* none is */
    C_TIED = 1 << 7,      /* no output.weight: token_embd is the output */
    C_FALCON = 1 << 8,
    C_NOT_FALCON = 1 << 9,
    C_70B = 1 << 10,      /* an 80-layer GQA llama */
    C_BIG_VOCAB = 1 << 11, /* vocabulary >= 127999 on an 8B or 70B llama */
    C_L8 = 1 << 12,       /* layer < n/8 */
    C_L16 = 1 << 13,      /* layer < n/16 */
    C_LMORE = 1 << 14,    /* layer in use_more_bits: first and last eighth, every third between */
    C_LMID = 1 << 15,     /* n/8 <= layer < 7n/8 */
    C_WV2 = 1 << 16,      /* wv < 2 */
    C_WV4 = 1 << 17,      /* wv < 4 */
    C_WVMORE = 1 << 18,   /* wv in use_more_bits */
    C_ROW_ODD = 1 << 19,  /* row length not a multiple of 256 */
    C_BELOW_8BIT = 1 << 20, /* the type so far is not an 8-bit or q6_K-class one */
};

static const char *const condition_names[] = {
    "gqa>=2", "gqa>=4", "experts>=2", "experts>=4", "experts>=8", "imatrix", "no-imatrix",
    "tied-output", "falcon", "not-falcon", "70B", "vocab>=128k(8B/70B)", "layer<n/8",
    "layer<n/16", "more-bits-layer", "middle-layer", "attn_v#<2", "attn_v#<4",
    "more-bits-attn_v", "cols%256!=0", "type-below-8bit",
};

typedef enum action {
    SET,       /* the rule's type */
    KEEP,      /* stop here: the type so far */
    BUMP_GQA,  /* raise the type so far one class (attn_v on GQA >= 4 models) */
    BUMP_70B,  /* raise 3/4-bit types to 5 bits (attn_v on 70B) */
} action;

typedef enum section {
    S_OUTPUT, S_TOKEN_EMBD, S_IQ1_R4, S_IQ2_KT, S_LOW_BIT, S_ATTN_V, S_ATTN_K, S_ATTN_Q,
    S_FFN_DOWN, S_ATTN_OUTPUT, S_ATTN_QKV, S_FFN_GATE, S_FFN_UP, S_COUNT,
} mix_section;

#define MAX_LIST 32
typedef struct section_def {
    mix_section id;
    const char *title;
    const char *name_contains; /* NULL: any name (decided by the preset list) */
    int16_t ftypes[MAX_LIST];  /* zero-terminated; empty: any preset */
} section_def;

/* Tried in order. The output section also takes token_embd.weight when the
 * model has no output.weight (the two are tied). */
static const section_def sections[] = {
    {S_OUTPUT, "output.weight", "output.weight", {0}},
    {S_TOKEN_EMBD, "token_embd.weight", "token_embd.weight", {0}},
    {S_IQ1_R4, "any tensor, IQ1_S_R4/IQ1_M_R4", NULL, {FT_IQ1_S_R4, FT_IQ1_M_R4}},
    {S_IQ2_KT, "any tensor, IQ2_KT", NULL, {FT_IQ2_KT}},
    {S_LOW_BIT, "any tensor, 1- and 2-bit presets", NULL,
     {FT_IQ2_XXS, FT_IQ2_XS, FT_IQ1_S, FT_IQ2_S, FT_IQ2_M, FT_IQ1_M, FT_IQ2_KS, FT_IQ2_XXS_R4,
      FT_IQ2_XS_R4, FT_IQ2_M_R4}},
    {S_ATTN_V, "attn_v.weight", "attn_v.weight", {0}},
    {S_ATTN_K, "attn_k", "attn_k", {0}},
    {S_ATTN_Q, "attn_q (attn_qkv too: it is matched first)", "attn_q", {0}},
    {S_FFN_DOWN, "ffn_down", "ffn_down", {0}},
    {S_ATTN_OUTPUT, "attn_output.weight", "attn_output.weight", {0}},
    {S_ATTN_QKV, "attn_qkv.weight", "attn_qkv.weight", {0}},
    {S_FFN_GATE, "ffn_gate", "ffn_gate", {0}},
    {S_FFN_UP, "ffn_up", "ffn_up", {0}},
};

typedef struct mix_rule {
    mix_section section;
    const char *name_contains; /* NULL: any tensor of the section */
    int16_t ftypes[MAX_LIST];  /* zero-terminated; empty: any preset */
    uint32_t conditions;
    action action;
    int type;
} mix_rule;

#define ANY {0}
#define FT(...) {__VA_ARGS__}

/* Presets that keep output.weight at 5 bits (q5_K; iq4_k when tied). */
#define LOW_BIT_OUTPUT                                                                      \
    FT(FT_IQ2_XXS, FT_IQ2_XS, FT_IQ3_XXS, FT_IQ1_S, FT_IQ2_S, FT_IQ2_M, FT_IQ1_M, FT_IQ2_K,   \
       FT_IQ3_K, FT_IQ2_KS, FT_IQ3_K_R4, FT_IQ3_KS, FT_IQ2_K_R4, FT_IQ3_XXS_R4, FT_IQ2_KL,    \
       FT_IQ2_M_R4, FT_IQ1_S_R4, FT_IQ1_M_R4, FT_IQ2_KT, FT_IQ3_KT, FT_IQ1_KT)
#define IQ4_TIED_OUTPUT                                                                     \
    FT(FT_IQ3_S, FT_IQ3_M, FT_IQ3_KL, FT_IQ4_XS, FT_IQ3_S_R4, FT_IQ4_KS, FT_IQ4_KSS,         \
       FT_IQ4_KS_R4)
#define MOE_ATTN_OUTPUT_Q5                                                                  \
    FT(FT_Q2_K, FT_IQ3_XS, FT_IQ3_XXS, FT_Q3_K_S, FT_Q3_K_M, FT_IQ4_NL, FT_Q4_K_S, FT_Q4_K_M,  \
       FT_IQ3_S, FT_IQ3_M, FT_IQ4_XS, FT_IQ4_K, FT_IQ4_KSS, FT_IQ4_KS, FT_IQ4_KS_R4,          \
       FT_IQ5_KS, FT_IQ5_KS_R4, FT_IQ2_K, FT_IQ3_K, FT_IQ3_KL, FT_Q4_K_R4, FT_IQ4_NL_R4,      \
       FT_IQ4_XS_R8, FT_Q3_K_R4, FT_IQ3_KT, FT_IQ3_KS, FT_Q2_K_R4, FT_IQ4_K_R4, FT_IQ3_K_R4,  \
       FT_IQ2_K_R4, FT_IQ3_XXS_R4, FT_IQ3_S_R4)
#define IQ2_S_OR_M FT(FT_IQ2_S, FT_IQ2_M, FT_IQ2_M_R4)
#define EMBD_Q2_K                                                                           \
    FT(FT_IQ2_XXS, FT_IQ2_XS, FT_IQ1_S, FT_IQ1_M, FT_IQ2_XXS_R4, FT_IQ2_XS_R4, FT_IQ1_S_R4,   \
       FT_IQ1_M_R4)
#define IQ4_FAMILY FT(FT_IQ4_NL, FT_IQ4_XS, FT_IQ4_NL_R4, FT_IQ4_XS_R8, FT_IQ4_KS, FT_IQ4_KSS)

static const mix_rule rules[] = {
    /* output.weight (or the tied token_embd.weight) */
    {S_OUTPUT, NULL, ANY, C_ROW_ODD, SET, T(Q8_0)},
    {S_OUTPUT, NULL, ANY, C_FALCON, SET, T(Q8_0)},
    {S_OUTPUT, NULL, LOW_BIT_OUTPUT, C_TIED, SET, T(IQ4_K)},
    {S_OUTPUT, NULL, LOW_BIT_OUTPUT, 0, SET, T(Q5_K)},
    {S_OUTPUT, NULL, FT(FT_IQ2_XXS_R4, FT_IQ2_XS_R4), C_TIED, SET, T(IQ4_K_R4)},
    {S_OUTPUT, NULL, FT(FT_IQ2_XXS_R4, FT_IQ2_XS_R4), 0, SET, T(Q5_K_R4)},
    {S_OUTPUT, NULL, IQ4_TIED_OUTPUT, C_TIED, SET, T(IQ5_K)},
    {S_OUTPUT, NULL, ANY, C_BELOW_8BIT, SET, T(Q6_K)},

    /* token embeddings: raised only for the lowest-bit presets */
    {S_TOKEN_EMBD, NULL, EMBD_Q2_K, 0, SET, T(Q2_K)},
    {S_TOKEN_EMBD, NULL, IQ2_S_OR_M, 0, SET, T(IQ3_S)},
    {S_TOKEN_EMBD, NULL, FT(FT_IQ3_XXS, FT_IQ3_KT), 0, SET, T(IQ3_S)},
    {S_TOKEN_EMBD, NULL, FT(FT_IQ3_XXS_R4), 0, SET, T(IQ3_K)},
    {S_TOKEN_EMBD, NULL, FT(FT_IQ1_BN, FT_IQ2_BN, FT_IQ2_BN_R4), 0, SET, T(IQ4_NL)},

    /* IQ1_S_R4, IQ1_M_R4 */
    {S_IQ1_R4, "attn_v.weight", ANY, C_EXP4, SET, T(IQ4_K_R4)},
    {S_IQ1_R4, "attn_v.weight", ANY, C_GQA4, SET, T(IQ4_K_R4)},
    {S_IQ1_R4, "attn_v.weight", ANY, C_GQA2, SET, T(IQ3_K_R4)},
    {S_IQ1_R4, "attn_v.weight", ANY, 0, SET, T(Q2_K_R4)},
    {S_IQ1_R4, "attn_k", ANY, C_EXP8, SET, T(Q4_K_R4)},
    {S_IQ1_R4, "blk.0.ffn_down", ANY, C_EXP8, SET, T(IQ3_K_R4)},
    {S_IQ1_R4, "blk.0.ffn_gate", ANY, C_EXP8, SET, T(IQ3_K_R4)},
    {S_IQ1_R4, "blk.0.ffn_up", ANY, C_EXP8, SET, T(IQ3_K_R4)},
    {S_IQ1_R4, "attn_q", ANY, C_EXP8, SET, T(Q4_K_R4)},
    {S_IQ1_R4, "attn_qkv.weight", ANY, 0, SET, T(IQ2_K_R4)},
    {S_IQ1_R4, "_shexp.weight", ANY, 0, SET, T(IQ4_K_R4)},
    {S_IQ1_R4, "ffn_down", ANY, C_L8, SET, T(Q2_K_R4)},
    {S_IQ1_R4, "ffn_down", ANY, 0, KEEP, 0},
    {S_IQ1_R4, "attn_output.weight", ANY, C_EXP4, SET, T(Q5_K_R4)},
    {S_IQ1_R4, "attn_output.weight", ANY, 0, SET, T(IQ2_K_R4)},

    /* IQ2_KT */
    {S_IQ2_KT, "attn_v.weight", ANY, C_EXP4, SET, T(IQ4_K)},
    {S_IQ2_KT, "attn_v.weight", ANY, C_GQA4, SET, T(IQ4_K)},
    {S_IQ2_KT, "attn_v.weight", ANY, C_GQA2, SET, T(IQ3_K)},
    {S_IQ2_KT, "attn_v.weight", ANY, 0, SET, T(Q2_K)},
    {S_IQ2_KT, "attn_k", ANY, C_EXP8, SET, T(Q4_K)},
    {S_IQ2_KT, "blk.0.ffn_down", ANY, C_EXP8, SET, T(IQ3_K)},
    {S_IQ2_KT, "blk.0.ffn_gate", ANY, C_EXP8, SET, T(IQ3_K)},
    {S_IQ2_KT, "blk.0.ffn_up", ANY, C_EXP8, SET, T(IQ3_K)},
    {S_IQ2_KT, "attn_q", ANY, C_EXP8, SET, T(Q4_K)},
    {S_IQ2_KT, "attn_qkv.weight", ANY, 0, SET, T(IQ3_K)},
    {S_IQ2_KT, "_shexp.weight", ANY, 0, SET, T(IQ4_K)},
    {S_IQ2_KT, "ffn_down", ANY, C_L8, SET, T(IQ3_K)},
    {S_IQ2_KT, "ffn_down", ANY, 0, KEEP, 0},
    {S_IQ2_KT, "attn_output.weight", ANY, C_EXP4, SET, T(Q5_K)},
    {S_IQ2_KT, "attn_output.weight", ANY, 0, SET, T(IQ3_K)},

    /* IQ2_XXS, IQ2_XS, IQ1_S, IQ2_S, IQ2_M, IQ1_M, IQ2_KS and their _R4 */
    {S_LOW_BIT, "attn_v.weight", ANY, C_GQA4, SET, T(IQ4_K)},
    {S_LOW_BIT, "attn_v.weight", ANY, C_EXP4, SET, T(IQ4_K)},
    {S_LOW_BIT, "attn_v.weight", ANY, C_GQA2, SET, T(IQ3_K)},
    {S_LOW_BIT, "attn_v.weight", ANY, C_EXP2, SET, T(IQ3_K)},
    {S_LOW_BIT, "attn_v.weight", IQ2_S_OR_M, 0, SET, T(IQ3_S)},
    {S_LOW_BIT, "attn_v.weight", ANY, 0, SET, T(Q2_K)},
    {S_LOW_BIT, "attn_k", ANY, C_EXP8, SET, T(Q4_K)},
    {S_LOW_BIT, "attn_q", ANY, C_EXP8, SET, T(Q4_K)},
    {S_LOW_BIT, "attn_qkv.weight", IQ2_S_OR_M, 0, SET, T(IQ3_XXS)},
    {S_LOW_BIT, "attn_qkv.weight", ANY, 0, SET, T(IQ2_K)},
    {S_LOW_BIT, "ffn_down", IQ2_S_OR_M, C_L8, SET, T(IQ3_S)},
    {S_LOW_BIT, "ffn_down", ANY, C_L8, SET, T(Q2_K)},
    {S_LOW_BIT, "ffn_down", ANY, 0, KEEP, 0},
    {S_LOW_BIT, "attn_output.weight", ANY, C_EXP4, SET, T(Q5_K)},
    {S_LOW_BIT, "attn_output.weight", FT(FT_IQ1_S, FT_IQ1_M), 0, SET, T(IQ2_K)},
    {S_LOW_BIT, "attn_output.weight", IQ2_S_OR_M, 0, SET, T(IQ3_S)},

    /* attn_v.weight */
    {S_ATTN_V, NULL, ANY, C_EXP4, SET, T(Q8_0)},
    {S_ATTN_V, NULL, ANY, C_70B, BUMP_70B, 0},
    {S_ATTN_V, NULL, FT(FT_Q2_K), C_GQA4, SET, T(Q4_K)},
    {S_ATTN_V, NULL, FT(FT_Q2_K), 0, SET, T(Q3_K)},
    {S_ATTN_V, NULL, FT(FT_IQ2_K), C_GQA2, SET, T(IQ4_K)},
    {S_ATTN_V, NULL, FT(FT_IQ2_K), 0, SET, T(IQ3_K)},
    {S_ATTN_V, NULL, FT(FT_IQ2_K_R4), C_GQA2, SET, T(IQ4_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ2_K_R4), 0, SET, T(IQ3_K_R4)},
    {S_ATTN_V, NULL, FT(FT_Q2_K_S), C_GQA4, SET, T(Q4_K)},
    {S_ATTN_V, NULL, FT(FT_Q2_K_R4), C_GQA4, SET, T(Q4_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS), C_GQA4, SET, T(Q4_K)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS), C_GQA2, SET, T(IQ3_K)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS), C_NO_IMAT, SET, T(IQ3_S)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS), 0, SET, T(IQ3_XXS)},
    {S_ATTN_V, NULL, FT(FT_IQ3_KT), C_GQA4, SET, T(IQ4_K)},
    {S_ATTN_V, NULL, FT(FT_IQ3_KT), 0, SET, T(IQ3_K)},
    {S_ATTN_V, NULL, FT(FT_IQ4_KT), C_GQA4, SET, T(IQ5_K)},
    {S_ATTN_V, NULL, FT(FT_IQ4_KT), 0, SET, T(IQ4_K)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS_R4), C_GQA4, SET, T(Q4_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS_R4), C_GQA2, SET, T(IQ3_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS_R4), C_NO_IMAT, SET, T(IQ3_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XXS_R4), 0, SET, T(IQ3_XXS_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ3_XS, FT_IQ3_S), C_GQA2, SET, T(IQ4_K)},
    {S_ATTN_V, NULL, FT(FT_IQ3_S_R4), C_GQA2, SET, T(IQ4_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ3_K), C_GQA2, SET, T(IQ4_K)},
    {S_ATTN_V, NULL, FT(FT_IQ3_KS, FT_IQ2_KL), C_GQA2, SET, T(IQ4_KS)},
    {S_ATTN_V, NULL, FT(FT_IQ3_K_R4), C_GQA2, SET, T(IQ4_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ3_KL, FT_IQ3_M), C_GQA2, SET, T(IQ5_K)},
    {S_ATTN_V, NULL, FT(FT_IQ3_KL, FT_IQ3_M), 0, SET, T(IQ4_K)},
    {S_ATTN_V, NULL, FT(FT_Q3_K_M), C_WV2, SET, T(Q5_K)},
    {S_ATTN_V, NULL, FT(FT_Q3_K_M), 0, SET, T(Q4_K)},
    {S_ATTN_V, NULL, FT(FT_Q3_K_L), 0, SET, T(Q5_K)},
    {S_ATTN_V, NULL, IQ4_FAMILY, C_GQA2, SET, T(IQ5_K)},
    {S_ATTN_V, NULL, FT(FT_IQ4_KS_R4), C_GQA2, SET, T(IQ5_K_R4)},
    {S_ATTN_V, NULL, FT(FT_IQ4_K, FT_IQ4_K_R4), C_GQA2, SET, T(IQ5_K)},
    {S_ATTN_V, NULL, FT(FT_Q4_K_M, FT_Q5_K_M), C_WVMORE, SET, T(Q6_K)},
    {S_ATTN_V, NULL, FT(FT_Q4_K_S, FT_Q4_K_R4), C_WV4, SET, T(Q5_K)},
    {S_ATTN_V, NULL, FT(FT_Q5_K_S), C_BIG_VOCAB, SET, T(Q6_K)},
    {S_ATTN_V, NULL, FT(FT_Q5_K_S), 0, KEEP, 0},
    {S_ATTN_V, NULL, FT(FT_IQ5_K, FT_IQ5_KS), C_BIG_VOCAB, SET, T(IQ6_K)},
    {S_ATTN_V, NULL, FT(FT_IQ5_K, FT_IQ5_KS), 0, KEEP, 0},
    {S_ATTN_V, NULL, ANY, C_GQA4, BUMP_GQA, 0},

    /* attn_k */
    {S_ATTN_K, NULL, ANY, C_EXP4, SET, T(Q8_0)},
    {S_ATTN_K, NULL, FT(FT_IQ3_XS), 0, SET, T(IQ3_XXS)},
    {S_ATTN_K, NULL, FT(FT_IQ3_XXS, FT_IQ3_XXS_R4), 0, SET, T(IQ2_S)},

    /* attn_q */
    {S_ATTN_Q, NULL, FT(FT_IQ3_XS), 0, SET, T(IQ3_XXS)},
    {S_ATTN_Q, NULL, FT(FT_IQ3_XXS, FT_IQ3_XXS_R4), 0, SET, T(IQ2_S)},
    {S_ATTN_Q, NULL, FT(FT_Q5_K_S), C_BIG_VOCAB, SET, T(Q4_K)},
    {S_ATTN_Q, NULL, FT(FT_IQ5_K), C_BIG_VOCAB, SET, T(IQ4_K)},
    {S_ATTN_Q, NULL, FT(FT_IQ5_KS), C_BIG_VOCAB, SET, T(IQ4_KS)},

    /* ffn_down */
    {S_FFN_DOWN, NULL, FT(FT_Q2_K), 0, SET, T(Q3_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q2_K_S), C_L8, SET, T(Q4_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q2_K_S), 0, KEEP, 0},
    {S_FFN_DOWN, NULL, FT(FT_Q2_K_R4), C_L8, SET, T(Q4_K_R4)},
    {S_FFN_DOWN, NULL, FT(FT_Q2_K_R4), 0, KEEP, 0},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_XXS), C_NO_IMAT | C_L8, SET, T(Q4_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_XXS), C_NO_IMAT, SET, T(Q3_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_KT), C_NO_IMAT | C_L8, SET, T(IQ4_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_KT), C_NO_IMAT, SET, T(IQ3_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_XXS_R4), C_NO_IMAT | C_L8, SET, T(Q4_K_R4)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_XXS_R4), C_NO_IMAT, SET, T(IQ3_K_R4)},
    {S_FFN_DOWN, NULL, FT(FT_Q3_K_M), C_L16, SET, T(Q5_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q3_K_M), C_NOT_FALCON, SET, T(Q4_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q3_K_M), C_LMORE, SET, T(Q4_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q3_K_M), 0, SET, T(Q3_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_M), C_L8, SET, T(IQ4_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_M), C_EXP4 | C_LMORE, SET, T(IQ4_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q3_K_L), C_FALCON, SET, T(Q4_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q3_K_L), 0, SET, T(Q5_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_KL), C_LMORE, SET, T(IQ4_KS)},
    {S_FFN_DOWN, NULL, FT(FT_IQ3_KL), 0, SET, T(IQ3_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_K_M), C_FALCON | C_L16, SET, T(Q6_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_K_M), C_FALCON | C_LMORE, SET, T(Q5_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_K_M), C_FALCON, SET, T(Q4_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_K_M), C_LMORE, SET, T(Q6_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_K_M), 0, KEEP, 0},
    {S_FFN_DOWN, NULL, FT(FT_IQ4_NL, FT_IQ4_XS, FT_IQ4_KS, FT_IQ4_KSS, FT_IQ4_NL_R4, FT_IQ4_XS_R8),
     C_L8 | C_NO_IMAT, SET, T(Q5_K)},
    {S_FFN_DOWN, NULL, FT(FT_IQ4_KS_R4), C_L8 | C_NO_IMAT, SET, T(Q5_K_R4)},
    {S_FFN_DOWN, NULL, FT(FT_Q5_K_M), C_LMORE, SET, T(Q6_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_K_S, FT_Q4_K_R4), C_NOT_FALCON | C_L8, SET, T(Q5_K)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_0), C_IMAT | C_L8, SET, T(Q4_1)},
    {S_FFN_DOWN, NULL, FT(FT_Q5_0), C_IMAT | C_L8, SET, T(Q5_1)},
    {S_FFN_DOWN, NULL, FT(FT_Q4_0_R8), C_IMAT | C_L8, SET, T(IQ4_NL_R4)},

    /* attn_output.weight */
    {S_ATTN_OUTPUT, NULL, FT(FT_Q3_K_L), C_FALCON, SET, T(Q4_K)},
    {S_ATTN_OUTPUT, NULL, ANY, C_FALCON, KEEP, 0},
    {S_ATTN_OUTPUT, NULL, MOE_ATTN_OUTPUT_Q5, C_EXP4, SET, T(Q5_K)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ2_KL), C_EXP4, SET, T(IQ4_KS)},
    {S_ATTN_OUTPUT, NULL, ANY, C_EXP4, KEEP, 0},
    {S_ATTN_OUTPUT, NULL, FT(FT_Q2_K), 0, SET, T(Q3_K)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ3_XXS), 0, SET, T(IQ3_S)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ3_KT), C_GQA4, SET, T(IQ3_K)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ3_XXS_R4), 0, SET, T(IQ3_K_R4)},
    {S_ATTN_OUTPUT, NULL, FT(FT_Q3_K_M), 0, SET, T(Q4_K)},
    {S_ATTN_OUTPUT, NULL, FT(FT_Q3_K_L), 0, SET, T(Q5_K)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ3_M), 0, SET, T(IQ4_K)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ2_K), 0, SET, T(IQ3_K)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ2_K_R4), 0, SET, T(IQ3_K_R4)},
    {S_ATTN_OUTPUT, NULL, FT(FT_IQ3_KL), 0, SET, T(IQ4_KS)},

    /* attn_qkv.weight (unreachable for names that contain attn_q, as in the
     * reference; kept for completeness) */
    {S_ATTN_QKV, NULL, FT(FT_Q3_K_M, FT_Q3_K_L), 0, SET, T(Q4_K)},
    {S_ATTN_QKV, NULL, FT(FT_IQ3_M), 0, SET, T(IQ4_K)},
    {S_ATTN_QKV, NULL, FT(FT_Q4_K_M), 0, SET, T(Q5_K)},
    {S_ATTN_QKV, NULL, FT(FT_Q5_K_M), 0, SET, T(Q6_K)},

    /* ffn_gate, ffn_up */
    {S_FFN_GATE, NULL, FT(FT_IQ3_XS), C_LMID, SET, T(IQ3_XXS)},
    {S_FFN_GATE, NULL, FT(FT_IQ3_KL), C_LMORE, SET, T(IQ4_KS)},
    {S_FFN_UP, NULL, FT(FT_IQ3_XS), C_LMID, SET, T(IQ3_XXS)},
    {S_FFN_UP, NULL, FT(FT_IQ3_KL), C_LMORE, SET, T(IQ4_KS)},
};

typedef struct type_pair {
    int from, to;
} type_pair;

/* attn_v on models whose KV heads are shared by 4 or more query heads. */
static const type_pair gqa_bumps[] = {
    {T(Q2_K), T(IQ3_S)},        {T(IQ3_XXS), T(IQ3_S)},      {T(Q2_K_R4), T(IQ3_K_R4)},
    {T(IQ3_XXS_R4), T(IQ3_K_R4)}, {T(Q3_K), T(Q4_K)},        {T(IQ3_S), T(Q4_K)},
    {T(IQ3_K), T(IQ4_K)},       {T(IQ3_KS), T(IQ4_KS)},      {T(IQ2_KL), T(IQ4_KS)},
    {T(IQ3_S_R4), T(Q4_K_R4)},  {T(Q3_K_R4), T(Q4_K_R4)},    {T(Q4_K), T(Q5_K)},
    {T(IQ4_XS), T(Q5_K)},       {T(IQ4_NL), T(Q5_K)},        {T(IQ4_K), T(IQ5_K)},
    {T(IQ4_KS), T(IQ5_K)},      {T(IQ4_NL_R4), T(Q5_K)},     {T(IQ4_XS_R8), T(Q5_K)},
    {T(Q5_K), T(Q6_K)},         {T(IQ5_K), T(IQ6_K)},        {T(IQ5_KS), T(IQ6_K)},
};

/* attn_v on 70B models (8 query heads per KV head). */
static const type_pair bumps_70b[] = {
    {T(Q3_K), T(Q5_K)}, {T(Q4_K), T(Q5_K)}, {T(IQ3_K), T(IQ5_K)},
};

/* Types the output tensor keeps instead of going to q6_K. */
static const int high_precision_types[] = {
    T(Q8_0), T(Q8_0_R8), T(IQ6_K), T(Q6_K_R4), T(Q8_K_R8), T(Q8_KV), T(Q8_KV_R8),
};

static int bump(const type_pair *table, size_t n, int type) {
    for (size_t i = 0; i < n; i++)
        if (table[i].from == type)
            return table[i].to;
    return type;
}

static bool in_list(const int16_t *list, int value) {
    if (list[0] == 0)
        return true;
    for (int i = 0; i < MAX_LIST && list[i]; i++)
        if (list[i] == value)
            return true;
    return false;
}

static bool use_more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* The facts about one tensor the conditions test. */
typedef struct tensor_facts {
    int layer, wv, type;
    int64_t ncols;
} tensor_facts;

static bool holds(uint32_t bit, const mix_model *m, const tensor_facts *f) {
    int gqa = m->n_head_kv > 0 ? m->n_head / m->n_head_kv : 0;
    int n = m->n_layer, nw = m->n_attention_wv;
    bool gqa_llama = m->n_head_kv > 0 && m->n_head != m->n_head_kv;
    switch (bit) {
    case C_GQA2: return gqa >= 2;
    case C_GQA4: return gqa >= 4;
    case C_EXP2: return m->n_expert >= 2;
    case C_EXP4: return m->n_expert >= 4;
    case C_EXP8: return m->n_expert >= 8;
    case C_IMAT: return m->has_imatrix;
    case C_NO_IMAT: return !m->has_imatrix;
    case C_TIED: return !m->has_output;
    case C_FALCON: return m->is_falcon;
    case C_NOT_FALCON: return !m->is_falcon;
    case C_70B: return n == 80 && gqa_llama;
    case C_BIG_VOCAB: return m->n_vocab >= 127999 && (n == 32 || n == 80) && gqa_llama;
    case C_L8: return f->layer < n / 8;
    case C_L16: return f->layer < n / 16;
    case C_LMORE: return use_more_bits(f->layer, n);
    case C_LMID: return f->layer >= n / 8 && f->layer < 7 * n / 8;
    case C_WV2: return f->wv < 2;
    case C_WV4: return f->wv < 4;
    case C_WVMORE: return use_more_bits(f->wv, nw);
    case C_ROW_ODD: return f->ncols % 256 != 0;
    case C_BELOW_8BIT:
        for (size_t i = 0; i < COUNT_OF(high_precision_types); i++)
            if (f->type == high_precision_types[i])
                return false;
        return true;
    default: return false;
    }
}

static bool all_hold(uint32_t conditions, const mix_model *m, const tensor_facts *f) {
    for (uint32_t bit = 1; bit && bit <= conditions; bit <<= 1)
        if ((conditions & bit) && !holds(bit, m, f))
            return false;
    return true;
}

static int find_section(int ftype, const mix_model *m, const char *name) {
    if (!m->has_output && strcmp(name, "token_embd.weight") == 0)
        return S_OUTPUT;
    for (size_t i = 0; i < COUNT_OF(sections); i++) {
        const section_def *s = &sections[i];
        bool name_ok;
        if (s->id == S_OUTPUT || s->id == S_TOKEN_EMBD)
            name_ok = strcmp(name, s->name_contains) == 0 ||
                      (s->id == S_TOKEN_EMBD && strcmp(name, "per_layer_token_embd.weight") == 0);
        else
            name_ok = !s->name_contains || strstr(name, s->name_contains);
        bool ftype_ok = s->ftypes[0] == 0 || (ftype >= 0 && in_list(s->ftypes, ftype));
        if (name_ok && ftype_ok)
            return s->id;
    }
    return -1;
}

/* The reference numbers the layers of dense models by counting the tensors
 * of each kind; for MoE models it reads the number from the name. */
static int layer_of(const mix_model *m, const char *name, int counted) {
    int layer;
    if (m->n_expert > 1 && sscanf(name, "blk.%d.", &layer) == 1)
        return layer;
    return counted;
}

static void count_tensor(mix_counters *c, const char *name) {
    if (strstr(name, "attn_v.weight"))
        c->attention_wv++;
    else if (strstr(name, "ffn_down"))
        c->ffn_down++;
    else if (strstr(name, "ffn_gate"))
        c->ffn_gate++;
    else if (strstr(name, "ffn_up"))
        c->ffn_up++;
}

int mix_rules_type(int ftype, int default_type, const mix_model *model, mix_counters *counters,
                   const char *name, int64_t ncols) {
    tensor_facts f = {.layer = 0, .wv = counters->attention_wv, .type = default_type,
                      .ncols = ncols};
    if (strstr(name, "ffn_down"))
        f.layer = layer_of(model, name, counters->ffn_down);
    else if (strstr(name, "ffn_gate"))
        f.layer = layer_of(model, name, counters->ffn_gate);
    else if (strstr(name, "ffn_up"))
        f.layer = layer_of(model, name, counters->ffn_up);
    int section = find_section(ftype, model, name);
    int type = default_type;
    for (size_t i = 0; section >= 0 && i < COUNT_OF(rules); i++) {
        const mix_rule *r = &rules[i];
        if ((int)r->section != section || (r->name_contains && !strstr(name, r->name_contains)))
            continue;
        if (r->ftypes[0] != 0 && (ftype < 0 || !in_list(r->ftypes, ftype)))
            continue;
        if (!all_hold(r->conditions, model, &f))
            continue;
        if (r->action == SET)
            type = r->type;
        else if (r->action == BUMP_GQA)
            type = bump(gqa_bumps, COUNT_OF(gqa_bumps), type);
        else if (r->action == BUMP_70B)
            type = bump(bumps_70b, COUNT_OF(bumps_70b), type);
        break;
    }
    count_tensor(counters, name);
    return type;
}

/* ---- --help-mixes -------------------------------------------------------- */

static void print_ftype_list(FILE *out, const int16_t *list) {
    if (list[0] == 0) {
        fprintf(out, "any preset");
        return;
    }
    for (int i = 0; i < MAX_LIST && list[i]; i++) {
        const quant_preset *p = preset_of_ftype(list[i]);
        fprintf(out, "%s%s", i ? " " : "", p ? p->name : "?");
    }
}

static void print_conditions(FILE *out, uint32_t conditions) {
    if (!conditions) {
        fprintf(out, "always");
        return;
    }
    bool first = true;
    for (size_t b = 0; b < COUNT_OF(condition_names); b++)
        if (conditions & (1u << b)) {
            fprintf(out, "%s%s", first ? "" : " & ", condition_names[b]);
            first = false;
        }
}

static void print_action(FILE *out, const mix_rule *r) {
    switch (r->action) {
    case SET: fprintf(out, "%s", lq_type_name(r->type)); break;
    case KEEP: fprintf(out, "(base type)"); break;
    case BUMP_GQA:
        fprintf(out, "one class up:");
        for (size_t i = 0; i < COUNT_OF(gqa_bumps); i++)
            fprintf(out, " %s>%s", lq_type_name(gqa_bumps[i].from), lq_type_name(gqa_bumps[i].to));
        break;
    case BUMP_70B:
        fprintf(out, "q3_K/q4_K>q5_K, iq3_k>iq5_k");
        break;
    }
}

void mix_rules_print(FILE *out) {
    fprintf(out,
            "Per-tensor rules of the presets (as ik_llama.cpp's llama_tensor_get_type for\n"
            "llama-style models). A tensor falls into the first section that matches its\n"
            "name (and preset); the first rule of that section whose tensor pattern,\n"
            "presets and conditions hold gives its type; no rule: the preset's base type.\n"
            "--custom-q / --mix rules, --output-tensor-type and --token-embedding-type\n"
            "override them; shape fallbacks come last. Layers count from 0 among tensors\n"
            "of a kind; more-bits layers: i < n/8, i >= 7n/8, or (i - n/8) %% 3 == 2.\n");
    for (size_t s = 0; s < COUNT_OF(sections); s++) {
        fprintf(out, "\n[%s]", sections[s].title);
        if (sections[s].ftypes[0]) {
            fprintf(out, " presets: ");
            print_ftype_list(out, sections[s].ftypes);
        }
        fputc('\n', out);
        for (size_t i = 0; i < COUNT_OF(rules); i++) {
            const mix_rule *r = &rules[i];
            if (r->section != sections[s].id)
                continue;
            fprintf(out, "  %-20s ", r->name_contains ? r->name_contains : "*");
            print_ftype_list(out, r->ftypes);
            fprintf(out, " | ");
            print_conditions(out, r->conditions);
            fprintf(out, " -> ");
            print_action(out, r);
            fputc('\n', out);
        }
    }
}
