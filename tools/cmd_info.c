/*
 * quant info: a GGUF file's header, metadata, tensors and totals, as text or
 * as one JSON document. Any valid GGUF works (model metadata or not); a split
 * model is shown as one model.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "tool_common.h"

#define CMD "info"
/* Items of an array shown without --all; longer text strings are cut too. */
#define SHORT_ARRAY_ITEMS 8
#define SHORT_STRING_BYTES 240

typedef struct info_options {
    bool json;
    bool all;
    const char *path;
} info_options;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant info [--json] [--all] FILE.gguf\n"
            "\n"
            "Print a GGUF file's version, alignment, metadata (one line per key),\n"
            "a table of its tensors (name, type, shape, bytes, bits per weight) and\n"
            "totals (parameters, bytes, average bits per weight, and per type: count,\n"
            "parameters, bytes). A split model (NAME-00001-of-0000N.gguf, any shard\n"
            "given) is shown as one model. Arrays are cut to their first %d items\n"
            "and text strings to %d bytes unless --all is given.\n"
            "\n"
            "options:\n"
            "  --json      print the same as one JSON document\n"
            "  --all       print arrays and strings in full\n"
            "  -h, --help  this help\n"
            "\n"
            QUANT_HELP_EXIT_STATUS,
            SHORT_ARRAY_ITEMS, SHORT_STRING_BYTES);
}

static int parse_args(int argc, char **argv, info_options *o) {
    static const struct option long_options[] = {
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->json = true;
            break;
        case 'a':
            o->all = true;
            break;
        case 'h':
            print_help(stdout);
            return QUANT_EXIT_OK;
        default:
            tool_error(CMD, "unknown option '%s'", argv[optind - 1]);
            print_help(stderr);
            return QUANT_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        tool_error(CMD, argc == optind ? "no file given" : "more than one file given");
        print_help(stderr);
        return QUANT_EXIT_USAGE;
    }
    o->path = argv[optind];
    return -1; /* go on */
}

/* ---- strings ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong 3/4-byte forms, UTF-16 surrogates, past U+10FFFF */
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
        (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* A quoted string: C-style escapes for text, JSON escapes for --json
 * (invalid UTF-8 becomes \xHH in text and U+FFFD in JSON). */
static void print_string(FILE *out, const char *data, uint64_t len, bool json, bool cut) {
    const unsigned char *s = (const unsigned char *)data;
    uint64_t shown = cut && len > SHORT_STRING_BYTES ? SHORT_STRING_BYTES : len;
    fputc('"', out);
    for (uint64_t i = 0; i < shown;) {
        unsigned char c = s[i];
        size_t seq = utf8_sequence(s + i, (size_t)(len - i));
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c == '\n' || c == '\t' || c == '\r') {
            fprintf(out, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, json ? "\\u%04x" : "\\x%02x", c);
        } else if (seq == 0 && json) {
            fputs("\\ufffd", out);
        } else if (seq == 0) {
            fprintf(out, "\\x%02x", c);
        } else {
            fwrite(s + i, 1, seq, out);
            i += seq;
            continue;
        }
        i++;
    }
    fputc('"', out);
    if (shown < len && !json)
        fprintf(out, "... (%llu bytes)", (unsigned long long)len);
}

/* A name in a text column: control bytes shown as '?' so a hostile file
 * cannot send terminal escapes. */
static void print_name(FILE *out, const char *name, int width) {
    int n = 0;
    for (; name[n]; n++)
        fputc((unsigned char)name[n] < 0x20 || name[n] == 0x7f ? '?' : name[n], out);
    for (; n < width; n++)
        fputc(' ', out);
}

static void print_json_key(FILE *out, const char *key) {
    print_string(out, key, strlen(key), true, false);
    fputs(": ", out);
}

/* ---- values ------------------------------------------------------------- */

static void print_number(FILE *out, const lq_gguf_value *v, bool json) {
    switch (v->type) {
    case LQ_GGUF_I8:
    case LQ_GGUF_I16:
    case LQ_GGUF_I32:
    case LQ_GGUF_I64:
        fprintf(out, "%lld", (long long)v->v.i64);
        return;
    case LQ_GGUF_F32:
    case LQ_GGUF_F64:
        if (!isfinite(v->v.f64))
            fputs(json ? "null" : isnan(v->v.f64) ? "nan" : v->v.f64 > 0 ? "inf" : "-inf", out);
        else
            fprintf(out, v->type == LQ_GGUF_F32 ? "%.9g" : "%.17g", v->v.f64);
        return;
    case LQ_GGUF_BOOL:
        fputs(v->v.u64 ? "true" : "false", out);
        return;
    default:
        fprintf(out, "%llu", (unsigned long long)v->v.u64);
        return;
    }
}

static void print_value(FILE *out, const lq_gguf_value *v, const info_options *o);

/* Text: [a, b, ... (N items)]. JSON: {"elem_type", "count", "truncated",
 * "value": [...]}, the same for nested arrays. */
static void print_array(FILE *out, const lq_gguf_value *v, const info_options *o) {
    uint64_t count = v->v.arr.count;
    uint64_t shown = !o->all && count > SHORT_ARRAY_ITEMS ? SHORT_ARRAY_ITEMS : count;
    if (o->json) {
        fputs("{\"elem_type\": ", out);
        print_string(out, lq_gguf_value_type_name(v->v.arr.elem_type),
                     strlen(lq_gguf_value_type_name(v->v.arr.elem_type)), true, false);
        fprintf(out, ", \"count\": %llu, \"truncated\": %s, \"value\": ",
                (unsigned long long)count, shown < count ? "true" : "false");
    }
    fputc('[', out);
    for (uint64_t i = 0; i < shown; i++) {
        if (i)
            fputs(", ", out);
        print_value(out, &v->v.arr.items[i], o);
    }
    if (shown < count && !o->json)
        fprintf(out, ", ... (%llu items)", (unsigned long long)count);
    fputc(']', out);
    if (o->json)
        fputc('}', out);
}

static void print_value(FILE *out, const lq_gguf_value *v, const info_options *o) {
    if (v->type == LQ_GGUF_STRING)
        print_string(out, v->v.str.data, v->v.str.len, o->json, !o->all && !o->json);
    else if (v->type == LQ_GGUF_ARRAY)
        print_array(out, v, o);
    else
        print_number(out, v, o->json);
}

/* "u32", or "array[string]", "array[array]" */
static void type_label(const lq_gguf_value *v, char *buf, size_t size) {
    if (v->type == LQ_GGUF_ARRAY)
        snprintf(buf, size, "array[%s]", lq_gguf_value_type_name(v->v.arr.elem_type));
    else
        snprintf(buf, size, "%s", lq_gguf_value_type_name(v->type));
}

/* ---- totals ------------------------------------------------------------- */

typedef struct type_total {
    int64_t count;
    uint64_t params, bytes;
} type_total;

typedef struct totals {
    uint64_t params, bytes;
    type_total by_type[LQ_TYPE_ID_LIMIT];
} totals;

static uint64_t tensor_params(const lq_gguf_tensor *t) {
    return (uint64_t)t->ne[0] * (uint64_t)lq_gguf_tensor_rows(t);
}

static double bits_per_weight(uint64_t bytes, uint64_t params) {
    return params ? 8.0 * (double)bytes / (double)params : 0.0;
}

static void add_totals(totals *sum, const lq_gguf *g) {
    memset(sum, 0, sizeof *sum);
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        uint64_t params = tensor_params(t);
        sum->params += params;
        sum->bytes += t->size;
        if (t->type >= 0 && t->type < LQ_TYPE_ID_LIMIT) {
            type_total *tt = &sum->by_type[t->type];
            tt->count++;
            tt->params += params;
            tt->bytes += t->size;
        }
    }
}

/* ---- text --------------------------------------------------------------- */

static void print_text(FILE *out, const lq_gguf *g, const info_options *o, const totals *sum) {
    fprintf(out, "file:        %s\n", lq_gguf_path(g));
    for (int s = 1; s < lq_gguf_shard_count(g); s++)
        fprintf(out, "             %s\n", lq_gguf_shard_path(g, s));
    fprintf(out, "version:     %u\n", lq_gguf_version(g));
    fprintf(out, "alignment:   %llu\n", (unsigned long long)lq_gguf_alignment(g));
    fprintf(out, "shards:      %d\n", lq_gguf_shard_count(g));
    fprintf(out, "\nmetadata (%lld keys):\n", (long long)lq_gguf_kv_count(g));
    for (int64_t i = 0; i < lq_gguf_kv_count(g); i++) {
        const lq_gguf_kv *kv = lq_gguf_kv_at(g, i);
        char label[48];
        type_label(&kv->value, label, sizeof label);
        fputs("  ", out);
        print_name(out, kv->key, 40);
        fprintf(out, " %-14s ", label);
        print_value(out, &kv->value, o);
        fputc('\n', out);
    }
    int name_width = 4;
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        int n = (int)strlen(lq_gguf_tensor_at(g, i)->name);
        name_width = n > name_width && n < 80 ? n : name_width;
    }
    fprintf(out, "\ntensors (%lld):\n", (long long)lq_gguf_tensor_count(g));
    fprintf(out, "  %-*s %-10s %-24s %14s %8s\n", name_width, "name", "type", "shape",
            "bytes", "bpw");
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        char shape[96];
        fputs("  ", out);
        print_name(out, t->name, name_width);
        fprintf(out, " %-10s %-24s %14llu %8.4f\n", lq_type_name(t->type),
                tool_format_shape(t, shape),
                (unsigned long long)t->size, bits_per_weight(t->size, tensor_params(t)));
    }
    char human[32];
    fprintf(out, "\ntotals: %lld tensors, %llu parameters, %llu bytes (%s), %.4f bits per weight\n",
            (long long)lq_gguf_tensor_count(g), (unsigned long long)sum->params,
            (unsigned long long)sum->bytes, tool_format_bytes(sum->bytes, human),
            bits_per_weight(sum->bytes, sum->params));
    fprintf(out, "\nby type:\n  %-10s %6s %14s %14s %8s\n", "type", "count", "parameters",
            "bytes", "bpw");
    for (int type = 0; type < LQ_TYPE_ID_LIMIT; type++) {
        const type_total *tt = &sum->by_type[type];
        if (tt->count)
            fprintf(out, "  %-10s %6lld %14llu %14llu %8.4f\n", lq_type_name(type),
                    (long long)tt->count, (unsigned long long)tt->params,
                    (unsigned long long)tt->bytes, bits_per_weight(tt->bytes, tt->params));
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void print_json_metadata(FILE *out, const lq_gguf *g, const info_options *o) {
    fputs("  \"metadata\": [", out);
    for (int64_t i = 0; i < lq_gguf_kv_count(g); i++) {
        const lq_gguf_kv *kv = lq_gguf_kv_at(g, i);
        const char *type = lq_gguf_value_type_name(kv->value.type);
        fputs(i ? ",\n    {" : "\n    {", out);
        print_json_key(out, "key");
        print_string(out, kv->key, strlen(kv->key), true, false);
        fputs(", \"type\": ", out);
        print_string(out, type, strlen(type), true, false);
        fputs(", \"value\": ", out);
        print_value(out, &kv->value, o);
        fputc('}', out);
    }
    fputs(lq_gguf_kv_count(g) ? "\n  ],\n" : "],\n", out);
}

static void print_json_tensors(FILE *out, const lq_gguf *g) {
    fputs("  \"tensors\": [", out);
    for (int64_t i = 0; i < lq_gguf_tensor_count(g); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(g, i);
        fputs(i ? ",\n    {" : "\n    {", out);
        print_json_key(out, "name");
        print_string(out, t->name, strlen(t->name), true, false);
        fprintf(out, ", \"type\": \"%s\", \"type_id\": %d, \"shape\": [", lq_type_name(t->type),
                t->type);
        for (int d = 0; d < t->n_dims; d++)
            fprintf(out, d ? ", %lld" : "%lld", (long long)t->ne[d]);
        fprintf(out, "], \"parameters\": %llu, \"bytes\": %llu, \"bpw\": %.6g, "
                     "\"offset\": %llu, \"shard\": %d}",
                (unsigned long long)tensor_params(t), (unsigned long long)t->size,
                bits_per_weight(t->size, tensor_params(t)), (unsigned long long)t->offset,
                t->shard);
    }
    fputs(lq_gguf_tensor_count(g) ? "\n  ],\n" : "],\n", out);
}

static void print_json(FILE *out, const lq_gguf *g, const info_options *o, const totals *sum) {
    fputs("{\n  \"file\": ", out);
    print_string(out, lq_gguf_path(g), strlen(lq_gguf_path(g)), true, false);
    fputs(",\n  \"shards\": [", out);
    for (int s = 0; s < lq_gguf_shard_count(g); s++) {
        if (s)
            fputs(", ", out);
        const char *p = lq_gguf_shard_path(g, s);
        print_string(out, p, strlen(p), true, false);
    }
    fprintf(out, "],\n  \"version\": %u,\n  \"alignment\": %llu,\n", lq_gguf_version(g),
            (unsigned long long)lq_gguf_alignment(g));
    print_json_metadata(out, g, o);
    print_json_tensors(out, g);
    fprintf(out, "  \"totals\": {\"tensors\": %lld, \"parameters\": %llu, \"bytes\": %llu, "
                 "\"bpw\": %.6g},\n",
            (long long)lq_gguf_tensor_count(g), (unsigned long long)sum->params,
            (unsigned long long)sum->bytes, bits_per_weight(sum->bytes, sum->params));
    fputs("  \"by_type\": [", out);
    bool first = true;
    for (int type = 0; type < LQ_TYPE_ID_LIMIT; type++) {
        const type_total *tt = &sum->by_type[type];
        if (!tt->count)
            continue;
        fprintf(out, "%s\n    {\"type\": \"%s\", \"count\": %lld, \"parameters\": %llu, "
                     "\"bytes\": %llu, \"bpw\": %.6g}",
                first ? "" : ",", lq_type_name(type), (long long)tt->count,
                (unsigned long long)tt->params, (unsigned long long)tt->bytes,
                bits_per_weight(tt->bytes, tt->params));
        first = false;
    }
    fputs(first ? "]\n}\n" : "\n  ]\n}\n", out);
}

int cmd_info(int argc, char **argv) {
    info_options o;
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        return status;
    lq_gguf *g;
    lq_gguf_error err;
    if (lq_gguf_open_model(o.path, &g, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    totals *sum = malloc(sizeof *sum);
    if (!sum) {
        lq_gguf_close(g);
        tool_error(CMD, "out of memory");
        return QUANT_EXIT_ERROR;
    }
    add_totals(sum, g);
    if (o.json)
        print_json(stdout, g, &o, sum);
    else
        print_text(stdout, g, &o, sum);
    free(sum);
    lq_gguf_close(g);
    /* a write error or a closed pipe: main() tells (tool_output_end) */
    return QUANT_EXIT_OK;
}
