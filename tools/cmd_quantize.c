/*
 * quant quantize: read a GGUF model (one file or split shards), give every
 * selected weight tensor a type (preset rules, user rules, overrides, shape
 * fallbacks), and stream the result to a new GGUF file or shards, each
 * written to a temporary file and renamed into place only when everything
 * succeeded. Every choice is made and validated before any work starts.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands.h"
#include "quant_imatrix.h"
#include "quantize_mix.h"
#include "quantize_presets.h"
#include "tool_common.h"
#include "repack_plan.h"
#include "type_rules.h"

#define CMD "quantize"
#define MAX_PATTERNS 64

typedef struct kv_override {
    const char *key;
    lq_gguf_value value;
} kv_override;

typedef struct quantize_options {
    bool allow_requantize, pure, dry_run, leave_output_tensor, keep_split;
    int nthreads;
    int output_tensor_type;   /* -1: not set */
    int token_embedding_type; /* -1: not set */
    const char *input_path, *output_path, *type_name, *imatrix_path;
    const quant_preset *preset; /* NULL: TYPE names only a type */
    int named_type;             /* the type TYPE names, or -1 */
    uint64_t split_max_bytes;
    int64_t split_max_tensors;
    custom_rules custom;
    const char *include[MAX_PATTERNS], *exclude[MAX_PATTERNS];
    int n_include, n_exclude;
    kv_override overrides[MAX_PATTERNS];
    int n_overrides;
    bool repack;                        /* interleave rows where possible */
    repack_patterns *repack_patterns;   /* NULL: every eligible tensor */
} quantize_options;

/* What happens to one tensor. */
typedef struct tensor_plan {
    const lq_gguf_tensor *src;
    int type;                      /* type written */
    bool convert;                  /* false: bytes copied (or only repacked) */
    bool repack_only;              /* copied type, rows interleaved byte-exactly */
    uint64_t size;                 /* bytes written */
    const lq_imatrix_entry *imatrix; /* NULL: none */
} tensor_plan;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant quantize [options] IN.gguf OUT.gguf TYPE [THREADS]\n"
            "\n"
            "Quantize the weight tensors of a GGUF model (or of a split model: give any\n"
            "shard). TYPE is a preset (Q4_K_M, IQ3_KL, ...: 'quant quantize --help-mixes')\n"
            "or a type name (q8_0, iq4_k, ...), case-insensitive; a name that is both\n"
            "(q4_K) is the reference's preset (Q4_K_M). Presets follow ik_llama.cpp's\n"
            "per-tensor rules; tensors are selected as it selects them; the rest is copied.\n"
            "A type that does not fit a tensor's shape falls back, with a line saying so.\n"
            "\n"
            "type choice:\n"
            "  --pure                      TYPE everywhere (a preset name: its base type)\n"
            "  --custom-q REGEX=T,...      rules, first match wins, searched in the full\n"
            "                              tensor name; override the preset; may repeat\n"
            "  --mix FILE                  the same rules, one per line, # comments\n"
            "  --output-tensor-type T      type for output.weight\n"
            "  --token-embedding-type T    type for token_embd.weight\n"
            "  --leave-output-tensor       keep output.weight as it is\n"
            "  --allow-requantize          accept already quantized input tensors\n"
            "  --help-mixes                print the presets and their rules, and exit\n"
            "importance matrix:\n"
            "  --imatrix FILE              legacy .dat or GGUF importance matrix\n"
            "  --include-weights REGEX     use it only for matching tensors (may repeat)\n"
            "  --exclude-weights REGEX     do not use it for matching tensors (may repeat)\n"
            "output:\n"
            "  --keep-split                write the input's shards\n"
            "  --split-max-size SIZE       shard the output (e.g. 2G, 500M)\n"
            "  --split-max-tensors N       at most N tensors per shard\n"
            "  --override-kv KEY=TYPE:VAL  set metadata (TYPE int, float, bool, str)\n"
            "  --repack                    store eligible tensors row-interleaved (the rules\n"
            "                              of quant repack): quantize and repack in one pass\n"
            "  --repack-pattern R[,R...]   only tensors matching a regex (implies --repack)\n"
            "  --dry-run                   print the plan (tensor, type, bytes), write nothing\n"
            "  -t, --threads N             threads (default: all cores); also THREADS\n"
            "  -h, --help                  this help\n"
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

static void print_help_mixes(FILE *out) {
    presets_print(out);
    fputc('\n', out);
    mix_rules_print(out);
}

enum {
    OPT_ALLOW_REQUANTIZE = 256, OPT_PURE, OPT_LEAVE_OUTPUT, OPT_OUTPUT_TYPE,
    OPT_TOKEN_EMBD_TYPE, OPT_DRY_RUN, OPT_CUSTOM_Q, OPT_MIX, OPT_IMATRIX, OPT_INCLUDE,
    OPT_EXCLUDE, OPT_KEEP_SPLIT, OPT_SPLIT_SIZE, OPT_SPLIT_TENSORS, OPT_OVERRIDE_KV,
    OPT_HELP_MIXES, OPT_REPACK, OPT_REPACK_PATTERN,
};

static const struct option long_options[] = {
    {"allow-requantize", no_argument, NULL, OPT_ALLOW_REQUANTIZE},
    {"pure", no_argument, NULL, OPT_PURE},
    {"leave-output-tensor", no_argument, NULL, OPT_LEAVE_OUTPUT},
    {"output-tensor-type", required_argument, NULL, OPT_OUTPUT_TYPE},
    {"token-embedding-type", required_argument, NULL, OPT_TOKEN_EMBD_TYPE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"custom-q", required_argument, NULL, OPT_CUSTOM_Q},
    {"mix", required_argument, NULL, OPT_MIX},
    {"imatrix", required_argument, NULL, OPT_IMATRIX},
    {"include-weights", required_argument, NULL, OPT_INCLUDE},
    {"exclude-weights", required_argument, NULL, OPT_EXCLUDE},
    {"keep-split", no_argument, NULL, OPT_KEEP_SPLIT},
    {"split-max-size", required_argument, NULL, OPT_SPLIT_SIZE},
    {"split-max-tensors", required_argument, NULL, OPT_SPLIT_TENSORS},
    {"override-kv", required_argument, NULL, OPT_OVERRIDE_KV},
    {"help-mixes", no_argument, NULL, OPT_HELP_MIXES},
    {"repack", no_argument, NULL, OPT_REPACK},
    {"repack-pattern", required_argument, NULL, OPT_REPACK_PATTERN},
    {"threads", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* KEY=TYPE:VALUE with TYPE int, float, bool or str, as the reference reads it. */
static bool parse_override(const char *text, kv_override *o) {
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return false;
    char *key = strndup(text, (size_t)(eq - text));
    const char *spec = eq + 1;
    char *end = NULL;
    o->key = key;
    if (strncmp(spec, "int:", 4) == 0) {
        long long v = strtoll(spec + 4, &end, 10);
        o->value = (lq_gguf_value){.type = LQ_GGUF_I32, .v.i64 = v};
        return *end == '\0' && end != spec + 4 && v >= INT32_MIN && v <= INT32_MAX;
    }
    if (strncmp(spec, "float:", 6) == 0) {
        double v = strtod(spec + 6, &end);
        o->value = (lq_gguf_value){.type = LQ_GGUF_F32, .v.f64 = v};
        return *end == '\0' && end != spec + 6;
    }
    if (strncmp(spec, "bool:", 5) == 0) {
        bool t = strcmp(spec + 5, "true") == 0, f = strcmp(spec + 5, "false") == 0;
        o->value = (lq_gguf_value){.type = LQ_GGUF_BOOL, .v.u64 = t};
        return t || f;
    }
    if (strncmp(spec, "str:", 4) == 0) {
        o->value = (lq_gguf_value){.type = LQ_GGUF_STRING,
                                   .v.str = {spec + 4, strlen(spec + 4)}};
        return true;
    }
    return false;
}

/* TYPE: a preset, a type, or both (then the preset rules, the type for --pure). */
static bool resolve_target(quantize_options *o) {
    o->preset = preset_find(o->type_name);
    o->named_type = lq_type_from_name(o->type_name);
    if (o->preset || o->named_type >= 0)
        return true;
    tool_error(CMD, "unknown type or preset '%s' ('quant quantize --help-mixes' lists the "
               "presets)", o->type_name);
    tool_parse_type(CMD, o->type_name); /* lists the type names */
    return false;
}

static int parse_option(quantize_options *o, int c) {
    long long n;
    switch (c) {
    case OPT_ALLOW_REQUANTIZE: o->allow_requantize = true; return -1;
    case OPT_PURE: o->pure = true; return -1;
    case OPT_LEAVE_OUTPUT: o->leave_output_tensor = true; return -1;
    case OPT_DRY_RUN: o->dry_run = true; return -1;
    case OPT_KEEP_SPLIT: o->keep_split = true; return -1;
    case OPT_IMATRIX: o->imatrix_path = optarg; return -1;
    case OPT_REPACK: o->repack = true; return -1;
    case OPT_REPACK_PATTERN: {
        char msg[256];
        o->repack = true; /* a pattern only makes sense with repacking */
        if (repack_patterns_add(&o->repack_patterns, optarg, msg, sizeof msg))
            return -1;
        tool_error(CMD, "--repack-pattern %s", msg);
        return QUANT_EXIT_USAGE;
    }
    case OPT_HELP_MIXES: print_help_mixes(stdout); return QUANT_EXIT_OK;
    case 'h': print_help(stdout); return QUANT_EXIT_OK;
    case OPT_OUTPUT_TYPE:
        return (o->output_tensor_type = tool_parse_type(CMD, optarg)) < 0 ? QUANT_EXIT_USAGE : -1;
    case OPT_TOKEN_EMBD_TYPE:
        return (o->token_embedding_type = tool_parse_type(CMD, optarg)) < 0 ? QUANT_EXIT_USAGE
                                                                             : -1;
    case OPT_CUSTOM_Q:
        return custom_rules_add_list(CMD, &o->custom, optarg) ? -1 : QUANT_EXIT_USAGE;
    case OPT_MIX:
        return custom_rules_add_file(CMD, &o->custom, optarg) ? -1 : QUANT_EXIT_USAGE;
    case OPT_INCLUDE:
    case OPT_EXCLUDE: {
        int *count = c == OPT_INCLUDE ? &o->n_include : &o->n_exclude;
        if (*count == MAX_PATTERNS) {
            tool_error(CMD, "too many --include-weights/--exclude-weights");
            return QUANT_EXIT_USAGE;
        }
        (c == OPT_INCLUDE ? o->include : o->exclude)[(*count)++] = optarg;
        return -1;
    }
    case OPT_SPLIT_SIZE:
        if (tool_parse_size(optarg, &o->split_max_bytes))
            return -1;
        tool_error(CMD, "--split-max-size wants a size such as 2G or 500M, not '%s'", optarg);
        return QUANT_EXIT_USAGE;
    case OPT_SPLIT_TENSORS:
        if (tool_parse_int(optarg, 1, 1 << 30, &n)) {
            o->split_max_tensors = n;
            return -1;
        }
        tool_error(CMD, "--split-max-tensors wants a positive number, not '%s'", optarg);
        return QUANT_EXIT_USAGE;
    case OPT_OVERRIDE_KV:
        if (o->n_overrides < MAX_PATTERNS && parse_override(optarg, &o->overrides[o->n_overrides])) {
            o->n_overrides++;
            return -1;
        }
        tool_error(CMD, "--override-kv wants KEY=TYPE:VALUE with TYPE int, float, bool or "
                   "str, not '%s'", optarg);
        return QUANT_EXIT_USAGE;
    case 't':
        if (tool_parse_int(optarg, 1, 1024, &n)) {
            o->nthreads = (int)n;
            return -1;
        }
        tool_error(CMD, "--threads wants a number from 1 to 1024, not '%s'", optarg);
        return QUANT_EXIT_USAGE;
    default: print_help(stderr); return QUANT_EXIT_USAGE;
    }
}

static int check_combinations(const quantize_options *o) {
    if (o->n_include && o->n_exclude) {
        tool_error(CMD, "--include-weights and --exclude-weights cannot be combined");
        return QUANT_EXIT_USAGE;
    }
    if ((o->n_include || o->n_exclude) && !o->imatrix_path) {
        tool_error(CMD, "--include-weights/--exclude-weights need --imatrix");
        return QUANT_EXIT_USAGE;
    }
    if (o->keep_split && (o->split_max_bytes || o->split_max_tensors)) {
        tool_error(CMD, "--keep-split cannot be combined with --split-max-size/-tensors");
        return QUANT_EXIT_USAGE;
    }
    if (strcmp(o->input_path, o->output_path) == 0) {
        tool_error(CMD, "input and output are the same file");
        return QUANT_EXIT_USAGE;
    }
    return -1;
}

/* Returns -1 to continue, or the exit status. */
static int parse_options(int argc, char **argv, quantize_options *o) {
    *o = (quantize_options){.nthreads = tool_cpu_count(), .output_tensor_type = -1,
                            .token_embedding_type = -1, .named_type = -1};
    int c, rc;
    optind = 1;
    /* "+": options come before the positional arguments, as in the reference */
    while ((c = getopt_long(argc, argv, "+t:h", long_options, NULL)) != -1)
        if ((rc = parse_option(o, c)) >= 0)
            return rc;
    int positional = argc - optind;
    if (positional < 3 || positional > 4) {
        tool_error(CMD, "expected IN.gguf OUT.gguf TYPE [THREADS]");
        print_help(stderr);
        return QUANT_EXIT_USAGE;
    }
    o->input_path = argv[optind];
    o->output_path = argv[optind + 1];
    o->type_name = argv[optind + 2];
    if (!resolve_target(o))
        return QUANT_EXIT_USAGE;
    long long n;
    if (positional == 4) {
        if (!tool_parse_int(argv[optind + 3], 1, 1024, &n)) {
            tool_error(CMD, "THREADS must be a number from 1 to 1024");
            return QUANT_EXIT_USAGE;
        }
        o->nthreads = (int)n;
    }
    return check_combinations(o);
}

static void free_options(quantize_options *o) {
    custom_rules_free(&o->custom);
    repack_patterns_free(o->repack_patterns);
    for (int i = 0; i < o->n_overrides; i++)
        free((char *)o->overrides[i].key);
}

/* ---- the model and its importance matrix ------------------------------- */

static int arch_int(const lq_gguf *in, const char *arch, const char *suffix) {
    char key[256];
    int64_t v = 0;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return lq_gguf_get_i64(in, key, &v) == LQ_OK && v > 0 && v < (1 << 30) ? (int)v : 0;
}

static mix_model describe_model(const lq_gguf *in, const char *arch, bool has_imatrix) {
    mix_model m = {.n_layer = arch_int(in, arch, "block_count"),
                   .n_head = arch_int(in, arch, "attention.head_count"),
                   .n_head_kv = arch_int(in, arch, "attention.head_count_kv"),
                   .n_expert = arch_int(in, arch, "expert_count"),
                   .has_imatrix = has_imatrix,
                   .is_falcon = strcmp(arch, "falcon") == 0};
    if (!m.n_head_kv)
        m.n_head_kv = m.n_head;
    for (int64_t i = 0; i < lq_gguf_tensor_count(in); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(in, i);
        if (strstr(t->name, "attn_v.weight") || strstr(t->name, "attn_qkv.weight"))
            m.n_attention_wv++;
        if (strcmp(t->name, "output.weight") == 0)
            m.has_output = true;
        if (strcmp(t->name, "token_embd.weight") == 0 && t->n_dims >= 2)
            m.n_vocab = (int)t->ne[1];
    }
    return m;
}

static bool matches_any(const char *command, const char *const *patterns, int n,
                        const char *name, bool *ok) {
    bool found = false;
    for (int i = 0; i < n && !found && *ok; i++) {
        name_regex *re = name_regex_compile(command, patterns[i], "--include/--exclude-weights");
        if (!re)
            *ok = false;
        else
            found = name_regex_search(re, name);
        name_regex_free(re);
    }
    return found;
}

/* Load, then keep only the entries --include-weights / --exclude-weights
 * allow (the reference filters the entries by name, before quantizing). */
static int load_imatrix(const quantize_options *o, lq_imatrix **out) {
    lq_gguf_error err = {0};
    lq_imatrix *all = NULL;
    if (lq_imatrix_read(o->imatrix_path, &all, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    lq_imatrix *kept = lq_imatrix_new();
    bool ok = kept != NULL;
    for (int64_t i = 0; ok && i < all->count; i++) {
        const lq_imatrix_entry *e = &all->entries[i];
        bool keep = true;
        if (o->n_include)
            keep = matches_any(CMD, o->include, o->n_include, e->name, &ok);
        else if (o->n_exclude)
            keep = !matches_any(CMD, o->exclude, o->n_exclude, e->name, &ok);
        if (ok && keep)
            ok = lq_imatrix_add(kept, e->name, e->ncols, e->nmat, e->sums, e->counts) == LQ_OK;
    }
    for (int64_t i = 0; ok && i < all->dataset_count; i++)
        ok = lq_imatrix_add_dataset(kept, all->datasets[i]) == LQ_OK;
    if (kept) {
        kept->chunk_count = all->chunk_count;
        kept->chunk_size = all->chunk_size;
    }
    lq_imatrix_free(all);
    if (!ok) {
        lq_imatrix_free(kept);
        return QUANT_EXIT_USAGE;
    }
    printf("imatrix: %s: %lld entries used, %lld chunks\n", o->imatrix_path,
           (long long)kept->count, (long long)kept->chunk_count);
    *out = kept;
    return -1;
}

/* The entry for a tensor, with the reference's stand-ins: ffn_gate uses
 * ffn_up's (same input), merged and unmerged gate/up experts each other's,
 * and MLA's attn_v_b / attn_kv_b each other's. */
static const lq_imatrix_entry *find_entry(const lq_imatrix *m, const char *name) {
    static const char *const stand_ins[][2] = {
        {"ffn_up_exps.weight", "ffn_gate_up_exps.weight"},
        {"ffn_gate_exps.weight", "ffn_gate_up_exps.weight"},
        {"ffn_gate_exps.weight", "ffn_up_exps.weight"},
        {"ffn_gate_up_exps.weight", "ffn_up_exps.weight"},
        {"ffn_gate.weight", "ffn_up.weight"},
        {".attn_v_b.weight", ".attn_kv_b.weight"},
        {".attn_kv_b.weight", ".attn_v_b.weight"},
    };
    const lq_imatrix_entry *e = lq_imatrix_find(m, name);
    for (size_t i = 0; !e && i < sizeof stand_ins / sizeof stand_ins[0]; i++) {
        const char *at = strstr(name, stand_ins[i][0]);
        if (!at)
            continue;
        char other[1024];
        snprintf(other, sizeof other, "%.*s%s", (int)(at - name), name, stand_ins[i][1]);
        e = lq_imatrix_find(m, other);
    }
    return e;
}

/* ---- planning ------------------------------------------------------------ */

static bool is_float_type(int type) {
    return type == LQ_TYPE_F32 || type == LQ_TYPE_F16 || type == LQ_TYPE_BF16;
}

static bool needs_imatrix(int type) {
    static const int types[] = {
        LQ_TYPE_IQ1_S, LQ_TYPE_IQ1_M, LQ_TYPE_IQ2_XXS, LQ_TYPE_IQ2_XS, LQ_TYPE_IQ2_S,
        LQ_TYPE_IQ1_KT, LQ_TYPE_IQ2_KT, LQ_TYPE_IQ1_S_R4, LQ_TYPE_IQ1_M_R4,
        LQ_TYPE_IQ2_XXS_R4, LQ_TYPE_IQ2_XS_R4, LQ_TYPE_IQ2_S_R4,
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i] == type)
            return true;
    return false;
}

typedef struct planner {
    const quantize_options *o;
    mix_model model;
    mix_counters counters;
    const lq_imatrix *imatrix;
    int base_type; /* the preset's base type, or the named type */
    int ftype;     /* the preset's llama_ftype, -1 if none */
} planner;

/* The type before shape fallbacks. */
static int wanted_type(planner *pl, const lq_gguf_tensor *t) {
    const quantize_options *o = pl->o;
    int type = pl->base_type;
    if (o->pure)
        type = o->named_type >= 0 ? o->named_type : o->preset->base_type;
    else if (lq_type_get(pl->base_type)->flags & LQ_CAP_QUANTIZED)
        type = mix_rules_type(pl->ftype, pl->base_type, &pl->model, &pl->counters, t->name,
                              t->ne[0]);
    int custom = custom_rules_match((custom_rules *)&o->custom, t->name);
    if (custom >= 0)
        type = custom;
    if (strcmp(t->name, "token_embd.weight") == 0 && o->token_embedding_type >= 0)
        type = o->token_embedding_type;
    if (strcmp(t->name, "output.weight") == 0 && o->output_tensor_type >= 0)
        type = o->output_tensor_type;
    return type;
}

static int fitting_type(const lq_gguf_tensor *t, int wanted) {
    int64_t rows = lq_gguf_tensor_rows(t), cols = t->ne[0];
    int type = rules_fitting_type(wanted, cols, rows);
    /* token embeddings are read by row lookup: never interleaved */
    if (strcmp(t->name, "token_embd.weight") == 0 && lq_type_get(type)->interleave > 1)
        type = rules_fitting_type(lq_type_get(type)->base_type >= 0 ? lq_type_get(type)->base_type
                                                                    : LQ_TYPE_Q8_0,
                                  cols, rows);
    if (type != wanted)
        printf("note: %s %s: %s does not fit, using %s\n", t->name,
               tool_format_shape(t, (char[96]){0}), lq_type_name(wanted), lq_type_name(type));
    return type;
}

static bool attach_imatrix(planner *pl, const lq_gguf_tensor *t, tensor_plan *p) {
    if (!pl->imatrix)
        return true;
    const lq_imatrix_entry *e = find_entry(pl->imatrix, t->name);
    int64_t experts = t->n_dims >= 3 ? t->ne[2] : 1;
    if (!e)
        return true;
    if (e->ncols * e->nmat != t->ne[0] * experts) {
        if (strcmp(t->name, "token_embd.weight") == 0)
            return true; /* the reference ignores this one */
        tool_error(CMD, "%s: entry '%s' has %lld values, tensor '%s' needs %lld (%lld x %lld)",
                   pl->o->imatrix_path, e->name, (long long)(e->ncols * e->nmat), t->name,
                   (long long)(t->ne[0] * experts), (long long)t->ne[0], (long long)experts);
        return false;
    }
    p->imatrix = e;
    return true;
}

static bool check_convertible(const quantize_options *o, const lq_gguf_tensor *t, int type) {
    if (!is_float_type(t->type) && !o->allow_requantize) {
        tool_error(CMD, "%s: tensor '%s' is already quantized (%s); use --allow-requantize",
                   o->input_path, t->name, lq_type_name(t->type));
        return false;
    }
    if (!(lq_type_caps(t->type) & LQ_CAP_DECODE)) {
        tool_error(CMD, "%s: tensor '%s': cannot decode its type %s", o->input_path, t->name,
                   lq_type_name(t->type));
        return false;
    }
    if (!(lq_type_caps(type) & LQ_CAP_ENCODE)) {
        tool_error(CMD, "type %s cannot be encoded by this build (tensor '%s')",
                   lq_type_name(type), t->name);
        return false;
    }
    return true;
}

/* With --repack, the interleaved type a tensor of `type` is stored as (the
 * rules of `quant repack`), or `type` itself. */
static int repacked_type(const quantize_options *o, const lq_gguf_tensor *t, int type) {
    if (!o->repack || !repack_patterns_match(o->repack_patterns, t->name))
        return type;
    lq_gguf_tensor probe = *t;
    probe.type = type;
    int target = type;
    return repack_tensor_eligible(&probe, &target) ? target : type;
}

/* A tensor that keeps its type may still be interleaved (byte-exact). */
static bool plan_copy(const quantize_options *o, const lq_gguf_tensor *t, tensor_plan *p) {
    int target = repacked_type(o, t, t->type);
    if (target == t->type)
        return true;
    if (!tool_tensor_bytes(CMD, t, target, &p->size))
        return false;
    p->type = target;
    p->repack_only = true;
    return true;
}

/* Decide one tensor's fate. Returns false (after an error message) when the
 * tensor cannot be handled. */
/* ik_llama.cpp looks token embeddings up with its decoder, which for the
 * Bitnet types ignores the row scale: the file is right, but the reference
 * computes garbage from it (its own presets store them as iq4_nl). */
static void warn_reference_embedding(const lq_gguf_tensor *t, int type) {
    if (strcmp(t->name, "token_embd.weight") != 0 ||
        (type != LQ_TYPE_IQ1_BN && type != LQ_TYPE_IQ2_BN))
        return;
    tool_warn(CMD, "%s: ik_llama.cpp decodes %s token embeddings without their row scale and "
                   "will compute garbage from this file; --token-embedding-type iq4_nl (its "
                   "presets' choice) keeps it usable there", t->name, lq_type_name(type));
}

static bool plan_tensor(planner *pl, const lq_gguf_tensor *t, tensor_plan *p) {
    const quantize_options *o = pl->o;
    *p = (tensor_plan){t, t->type, false, false, t->size, NULL};
    if (!rules_is_quantizable(t->name, t->n_dims, t->type, !o->leave_output_tensor))
        return plan_copy(o, t, p);
    int type = fitting_type(t, wanted_type(pl, t));
    if (type == t->type)
        return plan_copy(o, t, p);
    type = repacked_type(o, t, type);
    if (!check_convertible(o, t, type))
        return false;
    if (!tool_tensor_bytes(CMD, t, type, &p->size))
        return false;
    p->type = type;
    p->convert = true;
    if (!attach_imatrix(pl, t, p))
        return false;
    if (!p->imatrix && needs_imatrix(type) && strcmp(t->name, "token_embd.weight") != 0 &&
        strcmp(t->name, "output.weight") != 0)
        tool_warn(CMD, "%s: %s without an importance matrix gives poor quality", t->name,
                  lq_type_name(type));
    warn_reference_embedding(t, type);
    return true;
}

static bool plan_all(planner *pl, const lq_gguf *in, tensor_plan *plans) {
    for (int64_t i = 0; i < lq_gguf_tensor_count(in); i++)
        if (!plan_tensor(pl, lq_gguf_tensor_at(in, i), &plans[i]))
            return false;
    const custom_rules *custom = &pl->o->custom;
    for (int i = 0; i < custom->count; i++)
        if (custom->items[i].matches == 0)
            tool_warn(CMD, "%s: rule '%s=%s' matches no tensor", custom->items[i].origin,
                      custom->items[i].pattern, lq_type_name(custom->items[i].type));
    return true;
}

/* ---- converting ---------------------------------------------------------- */

typedef struct convert_job {
    const float *src;
    unsigned char *dst;
    const float *weights; /* ncols per expert, or NULL */
    int type;
    int64_t cols, rows_per_expert, rows_per_task, tasks_per_expert, row_bytes;
    atomic_int status;
} convert_job;

/* Tasks never straddle two experts: each expert has its own weights. */
static void convert_rows_task(void *ctx, int64_t task) {
    convert_job *job = ctx;
    int64_t expert = task / job->tasks_per_expert;
    int64_t first = (task % job->tasks_per_expert) * job->rows_per_task;
    int64_t count = job->rows_per_expert - first < job->rows_per_task
                        ? job->rows_per_expert - first : job->rows_per_task;
    int64_t row = expert * job->rows_per_expert + first;
    const float *weights = job->weights ? job->weights + expert * job->cols : NULL;
    int64_t st = lq_quantize_rows(job->type, job->src + row * job->cols, count, job->cols,
                                  weights, job->dst + row * job->row_bytes,
                                  (size_t)(count * job->row_bytes));
    if (st < 0)
        atomic_store(&job->status, (int)st);
}

/* Scratch of the conversion, sized for the largest tensor; the sizes are
 * bytes, passed to the library as the buffers' capacities. */
typedef struct buffers {
    float *f32, *weights;
    unsigned char *out;
    size_t f32_bytes, weights_bytes, out_bytes;
} buffers;

/* Messages of a failed conversion first erase the bar, to start at column 0. */
static const float *decoded_input(const quantize_options *o, const lq_gguf_tensor *t,
                                  const buffers *b, tool_progress *bar) {
    if (t->type == LQ_TYPE_F32)
        return t->data;
    int st = lq_dequantize_rows(t->type, t->data, t->size, lq_gguf_tensor_rows(t), t->ne[0],
                                b->f32, b->f32_bytes);
    if (st == LQ_OK)
        return b->f32;
    tool_progress_clear(bar);
    tool_error(CMD, "%s: tensor '%s': decoding %s failed: %s", o->input_path, t->name,
               lq_type_name(t->type), lq_error_message(st));
    return NULL;
}

/* Decode (if needed), check for NaN/Inf, and quantize one tensor into out. */
static bool convert_tensor(const quantize_options *o, const tensor_plan *p, const buffers *b,
                           tool_progress *bar) {
    const lq_gguf_tensor *t = p->src;
    int64_t rows = lq_gguf_tensor_rows(t), cols = t->ne[0];
    const float *src = decoded_input(o, t, b, bar);
    if (!src)
        return false;
    const lq_type_info *info = lq_type_get(p->type);
    int64_t bad = (info->flags & LQ_CAP_QUANTIZED) ? lq_find_nonfinite(src, rows * cols) : -1;
    if (bad >= 0) {
        tool_progress_clear(bar);
        tool_error(CMD, "%s: tensor '%s': row %lld, column %lld is %g: NaN/Inf cannot be "
                   "quantized", o->input_path, t->name, (long long)(bad / cols),
                   (long long)(bad % cols), (double)src[bad]);
        return false;
    }
    int64_t experts = p->imatrix && t->n_dims >= 3 ? t->ne[2] : 1;
    if (p->imatrix) {
        int st = lq_imatrix_entry_weights(p->imatrix, b->weights, b->weights_bytes);
        if (st != LQ_OK) {
            tool_progress_clear(bar);
            tool_error(CMD, "%s: tensor '%s': importance weights: %s", o->input_path, t->name,
                       lq_error_message(st));
            return false;
        }
    }
    convert_job job = {.src = src, .dst = b->out, .weights = p->imatrix ? b->weights : NULL,
                       .type = p->type, .cols = cols, .rows_per_expert = rows / experts,
                       .row_bytes = lq_row_size(p->type, cols)};
    /* tasks of whole interleave groups, small enough to balance threads */
    job.rows_per_task = (int64_t)info->interleave * ((4096 * 16) / (cols * info->interleave) + 1);
    job.tasks_per_expert = (job.rows_per_expert + job.rows_per_task - 1) / job.rows_per_task;
    atomic_init(&job.status, LQ_OK);
    tool_parallel_for(o->nthreads, job.tasks_per_expert * experts, convert_rows_task, &job);
    int st = atomic_load(&job.status);
    if (st != LQ_OK) {
        tool_progress_clear(bar);
        tool_error(CMD, "%s: tensor '%s': quantizing to %s failed: %s", o->input_path, t->name,
                   lq_type_name(p->type), lq_error_message(st));
        return false;
    }
    return true;
}

/* ---- reporting ----------------------------------------------------------- */

static void print_plan_line(int index, int count, const tensor_plan *p) {
    char shape[96], before[32], after[32];
    printf("[%4d/%4d] %-36s %-18s %-8s -> %-10s %10s -> %10s%s\n", index + 1, count,
           p->src->name, tool_format_shape(p->src, shape), lq_type_name(p->src->type),
           lq_type_name(p->type), tool_format_bytes(p->src->size, before),
           tool_format_bytes(p->size, after), p->imatrix ? "  (imatrix)" : "");
}

static void print_totals(const tensor_plan *plans, int64_t count) {
    uint64_t in_bytes = 0, out_bytes = 0, weights = 0;
    for (int64_t i = 0; i < count; i++) {
        in_bytes += plans[i].src->size;
        out_bytes += plans[i].size;
        weights += (uint64_t)(lq_gguf_tensor_rows(plans[i].src) * plans[i].src->ne[0]);
    }
    char a[32], b[32];
    printf("total: %s -> %s, %.3f bits per weight over %llu weights\n",
           tool_format_bytes(in_bytes, a), tool_format_bytes(out_bytes, b),
           weights ? 8.0 * (double)out_bytes / (double)weights : 0.0,
           (unsigned long long)weights);
}

/* ---- writing ------------------------------------------------------------- */

static int set_imatrix_keys(lq_gguf_writer *w, const quantize_options *o, const lq_imatrix *m) {
    int st = lq_gguf_writer_set_str(w, "quantize.imatrix.file", o->imatrix_path);
    if (st == LQ_OK && m->dataset_count > 0)
        st = lq_gguf_writer_set_str(w, "quantize.imatrix.dataset", m->datasets[0]);
    if (st == LQ_OK)
        st = lq_gguf_writer_set_i32(w, "quantize.imatrix.entries_count", (int32_t)m->count);
    if (st == LQ_OK && m->chunk_count > 0)
        st = lq_gguf_writer_set_i32(w, "quantize.imatrix.chunks_count", (int32_t)m->chunk_count);
    return st;
}

static bool describe_output(lq_gguf_writer *w, const planner *pl, const lq_gguf *in,
                            const tensor_plan *plans, int64_t count) {
    const quantize_options *o = pl->o;
    int st = lq_gguf_writer_copy_kvs(w, in);
    int ftype = o->preset ? o->preset->ftype : rules_ftype_of_type(pl->base_type);
    bool any_repacked = false;
    for (int64_t i = 0; i < count; i++)
        if (lq_type_get(plans[i].type)->interleave > 1 &&
            lq_type_get(plans[i].src->type)->interleave == 1 && o->repack)
            any_repacked = true;
    if (any_repacked && ftype >= 0)
        ftype = repack_file_type(ftype);
    if (st == LQ_OK)
        st = ftype >= 0 ? lq_gguf_writer_set_u32(w, "general.file_type", (uint32_t)ftype)
                        : lq_gguf_writer_remove(w, "general.file_type");
    if (st == LQ_OK || st == LQ_ERR_NOT_FOUND)
        st = lq_gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (st == LQ_OK && pl->imatrix)
        st = set_imatrix_keys(w, o, pl->imatrix);
    for (int i = 0; st == LQ_OK && i < o->n_overrides; i++)
        st = lq_gguf_writer_set(w, o->overrides[i].key, &o->overrides[i].value);
    bool by_shard = o->keep_split && lq_gguf_shard_count(in) > 1;
    for (int64_t i = 0; st == LQ_OK && i < count; i++)
        st = tool_declare_tensor(w, plans[i].src, plans[i].type, by_shard);
    if (st == LQ_OK && (o->split_max_bytes || o->split_max_tensors))
        st = lq_gguf_writer_set_split(w, o->split_max_bytes, o->split_max_tensors);
    if (st != LQ_OK)
        tool_error(CMD, "cannot describe the output: %s", lq_error_message(st));
    return st == LQ_OK;
}

static bool allocate_buffers(const tensor_plan *plans, int64_t count, buffers *b) {
    uint64_t max_floats = 0, max_out = 0, max_weights = 0;
    for (int64_t i = 0; i < count; i++) {
        if (plans[i].repack_only)
            max_out = plans[i].size > max_out ? plans[i].size : max_out;
        if (!plans[i].convert)
            continue;
        uint64_t n = (uint64_t)(lq_gguf_tensor_rows(plans[i].src) * plans[i].src->ne[0]);
        max_floats = n > max_floats ? n : max_floats;
        max_out = plans[i].size > max_out ? plans[i].size : max_out;
        if (plans[i].imatrix) {
            uint64_t w = (uint64_t)(plans[i].imatrix->ncols * plans[i].imatrix->nmat);
            max_weights = w > max_weights ? w : max_weights;
        }
    }
    *b = (buffers){max_floats ? malloc(max_floats * sizeof(float)) : NULL,
                   max_weights ? malloc(max_weights * sizeof(float)) : NULL,
                   max_out ? malloc(max_out) : NULL,
                   max_floats * sizeof(float), max_weights * sizeof(float), max_out};
    return (!max_floats || b->f32) && (!max_weights || b->weights) && (!max_out || b->out);
}

static void print_written(const lq_gguf_writer *w, const quantize_options *o, double seconds) {
    int shards = lq_gguf_writer_shard_count(w);
    if (shards <= 1) {
        printf("wrote %s in %.2f s\n", o->output_path, seconds);
        return;
    }
    printf("wrote %d shards in %.2f s:\n", shards, seconds);
    for (int s = 0; s < shards; s++)
        printf("  %s\n", lq_gguf_writer_shard_path(w, s));
}

static bool stream_tensors(const planner *pl, const lq_gguf *in, const tensor_plan *plans,
                           int64_t count, lq_gguf_writer *w, const buffers *b) {
    const quantize_options *o = pl->o;
    uint64_t total = 0, done = 0;
    for (int64_t i = 0; i < count; i++)
        total += plans[i].src->size;
    lq_gguf_error err = {0};
    /* work is measured in input bytes */
    tool_progress bar;
    tool_progress_start(&bar, total);
    for (int64_t i = 0; i < count; i++) {
        const tensor_plan *p = &plans[i];
        const void *data = p->src->data;
        if (p->convert) {
            if (!convert_tensor(o, p, b, &bar))
                return false;
            data = b->out;
        } else if (p->repack_only) {
            int st = lq_repack_rows(p->type, p->src->data, p->src->size,
                                    lq_gguf_tensor_rows(p->src), p->src->ne[0], b->out,
                                    b->out_bytes);
            if (st != LQ_OK) {
                tool_progress_clear(&bar);
                tool_error(CMD, "%s: tensor '%s': repacking to %s failed: %s", o->input_path,
                           p->src->name, lq_type_name(p->type), lq_error_message(st));
                return false;
            }
            data = b->out;
        }
        /* the plan line goes above the bar, which is drawn again below it */
        tool_progress_clear(&bar);
        print_plan_line((int)i, (int)count, p);
        /* a closed stdout stops the run; the writer removes its files */
        if (!tool_output_ok(CMD))
            return false;
        if (lq_gguf_writer_write_tensor(w, i, data, p->size, &err) != LQ_OK) {
            tool_error(CMD, "%s", err.message);
            return false;
        }
        lq_gguf_release_tensor(in, p->src);
        done += p->src->size;
        tool_progress_update(&bar, done);
    }
    tool_progress_clear(&bar);
    return true;
}

static int write_output(const planner *pl, const lq_gguf *in, tensor_plan *plans,
                        int64_t count) {
    const quantize_options *o = pl->o;
    buffers b;
    bool have_buffers = allocate_buffers(plans, count, &b);
    lq_gguf_writer *w = lq_gguf_writer_new();
    lq_gguf_error err = {0};
    int rc = QUANT_EXIT_ERROR;
    double start = tool_now();
    if (!have_buffers || !w)
        tool_error(CMD, "out of memory");
    else if (!describe_output(w, pl, in, plans, count))
        ;
    else if (lq_gguf_writer_begin(w, o->output_path, &err) != LQ_OK)
        tool_error(CMD, "%s", err.message);
    else if (!stream_tensors(pl, in, plans, count, w, &b))
        ;
    else {
        print_totals(plans, count);
        /* shard paths are known only while streaming: print them before finish */
        print_written(w, o, tool_now() - start);
        if (lq_gguf_writer_finish(w, &err) != LQ_OK)
            tool_error(CMD, "%s", err.message);
        else
            rc = QUANT_EXIT_OK;
    }
    lq_gguf_writer_free(w); /* removes the temporary files unless finished */
    free(b.f32);
    free(b.weights);
    free(b.out);
    return rc;
}

/* ---- the command --------------------------------------------------------- */

static int run(quantize_options *o, lq_gguf *in, const lq_imatrix *imatrix) {
    const char *arch = NULL;
    if (lq_gguf_get_str(in, "general.architecture", &arch) != LQ_OK) {
        tool_error(CMD, "%s: no general.architecture key: not a model file", o->input_path);
        return QUANT_EXIT_ERROR;
    }
    planner pl = {.o = o, .model = describe_model(in, arch, imatrix != NULL), .imatrix = imatrix,
                  .base_type = o->preset ? o->preset->base_type : o->named_type,
                  .ftype = o->preset ? o->preset->ftype : -1};
    int64_t count = lq_gguf_tensor_count(in);
    tensor_plan *plans = calloc(count > 0 ? (size_t)count : 1, sizeof *plans);
    int rc = QUANT_EXIT_ERROR;
    if (!plans)
        tool_error(CMD, "out of memory");
    else if (!plan_all(&pl, in, plans))
        ;
    else if (o->dry_run) {
        for (int64_t i = 0; i < count; i++)
            print_plan_line((int)i, (int)count, &plans[i]);
        print_totals(plans, count);
        rc = QUANT_EXIT_OK;
    } else {
        rc = write_output(&pl, in, plans, count);
    }
    free(plans);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    quantize_options o;
    int rc = parse_options(argc, argv, &o);
    lq_imatrix *imatrix = NULL;
    if (rc < 0 && o.imatrix_path)
        rc = load_imatrix(&o, &imatrix);
    lq_gguf *in = NULL;
    lq_gguf_error err = {0};
    if (rc < 0 && lq_gguf_open_model(o.input_path, &in, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        rc = QUANT_EXIT_ERROR;
    }
    if (rc < 0)
        rc = run(&o, in, imatrix);
    lq_gguf_close(in);
    lq_imatrix_free(imatrix);
    free_options(&o);
    return rc;
}
