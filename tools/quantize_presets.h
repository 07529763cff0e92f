/*
 * The reference's file types ("presets": Q4_K_M, IQ3_KL, ...) and the
 * per-tensor rules its llama_tensor_get_type applies to llama-style models,
 * as tables.
 */
#ifndef QUANT_TOOLS_QUANTIZE_PRESETS_H
#define QUANT_TOOLS_QUANTIZE_PRESETS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct quant_preset {
    const char *name;        /* as the reference spells it: "Q4_K_M" */
    int ftype;               /* llama_ftype code recorded in general.file_type */
    int base_type;           /* the type most tensors get */
    bool alias;              /* a second name of another preset (Q4_K = Q4_K_M) */
    const char *description; /* the reference's one-liner */
} quant_preset;

/* A preset by name (case-insensitive) or by its ftype number; NULL if none. */
const quant_preset *preset_find(const char *name);
/* The canonical preset of an ftype code (NULL if none). */
const quant_preset *preset_of_ftype(int ftype);
void presets_print(FILE *out);

/* What the rules need to know about the model. */
typedef struct mix_model {
    int n_layer;         /* {arch}.block_count */
    int n_head;          /* {arch}.attention.head_count */
    int n_head_kv;       /* {arch}.attention.head_count_kv */
    int n_expert;        /* {arch}.expert_count (0 for dense models) */
    int n_vocab;         /* rows of token_embd.weight */
    int n_attention_wv;  /* tensors named *attn_v.weight or *attn_qkv.weight */
    bool has_output;     /* a separate output.weight exists */
    bool has_imatrix;
    bool is_falcon;
} mix_model;

/* Running counts of the tensors seen so far (the reference numbers layers by
 * counting tensors of a kind for dense models). Start zeroed; feed every
 * quantized tensor in file order. */
typedef struct mix_counters {
    int attention_wv, ffn_down, ffn_gate, ffn_up;
} mix_counters;

/* The type the preset's rules give tensor `name` (row length ncols) when
 * `default_type` is the preset's base type; ftype < 0 means no preset (only
 * the generic rules apply). The result may still need a shape fallback. */
int mix_rules_type(int ftype, int default_type, const mix_model *model,
                   mix_counters *counters, const char *name, int64_t ncols);

/* Print the rules as a table (for --help-mixes). */
void mix_rules_print(FILE *out);

#endif
