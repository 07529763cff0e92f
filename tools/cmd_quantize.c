/*
 * quant quantize: read a GGUF model, give every selected weight tensor a new
 * type, and stream the result to a new GGUF file (written to a temporary
 * file and renamed into place only when everything succeeded).
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "tool_common.h"
#include "type_rules.h"

#define CMD "quantize"

typedef struct quantize_options {
    bool allow_requantize;
    bool pure;
    bool dry_run;
    bool leave_output_tensor;
    int nthreads;
    int output_tensor_type;     /* -1: not set */
    int token_embedding_type;   /* -1: not set */
    const char *input_path;
    const char *output_path;
    int type;
} quantize_options;

/* What happens to one tensor. */
typedef struct tensor_plan {
    const lq_gguf_tensor *src;
    int type;        /* type written */
    bool convert;    /* false: bytes copied as they are */
    uint64_t size;   /* bytes written */
} tensor_plan;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant quantize [options] IN.gguf OUT.gguf TYPE [THREADS]\n"
            "\n"
            "Quantize the weight tensors of a GGUF model to TYPE (a type name such as\n"
            "q4_K, iq4_k, q8_0, bf16, f32; case-insensitive). Tensors are selected as\n"
            "ik_llama.cpp selects them (2-D/3-D tensors named *weight, except norms,\n"
            "the MoE router and a few others); everything else is copied unchanged.\n"
            "A type that does not fit a tensor's row length falls back to one that\n"
            "does, with a line saying so. The output is written to a temporary file\n"
            "and renamed into place only on success.\n"
            "\n"
            "options:\n"
            "  --allow-requantize          accept already quantized input tensors\n"
            "                              (decoded to F32 first)\n"
            "  --pure                      give every selected tensor TYPE itself\n"
            "  --leave-output-tensor       keep output.weight as it is\n"
            "  --output-tensor-type T      type for output.weight\n"
            "  --token-embedding-type T    type for token_embd.weight\n"
            "  --dry-run                   print the plan (tensor, type, bytes), write nothing\n"
            "  -t, --threads N             threads (default: all cores); also the\n"
            "                              optional THREADS argument\n"
            "  -h, --help                  this help\n"
            "\n"
            "exit status: 0 success, 1 error, 2 usage error\n");
}

enum {
    OPT_ALLOW_REQUANTIZE = 256,
    OPT_PURE,
    OPT_LEAVE_OUTPUT,
    OPT_OUTPUT_TYPE,
    OPT_TOKEN_EMBD_TYPE,
    OPT_DRY_RUN,
};

static const struct option long_options[] = {
    {"allow-requantize", no_argument, NULL, OPT_ALLOW_REQUANTIZE},
    {"pure", no_argument, NULL, OPT_PURE},
    {"leave-output-tensor", no_argument, NULL, OPT_LEAVE_OUTPUT},
    {"output-tensor-type", required_argument, NULL, OPT_OUTPUT_TYPE},
    {"token-embedding-type", required_argument, NULL, OPT_TOKEN_EMBD_TYPE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"threads", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to continue, or the exit status. */
static int parse_options(int argc, char **argv, quantize_options *o) {
    *o = (quantize_options){.nthreads = tool_cpu_count(), .output_tensor_type = -1,
                            .token_embedding_type = -1};
    long long n;
    int c;
    optind = 1;
    /* "+": options come before the positional arguments, as in the reference */
    while ((c = getopt_long(argc, argv, "+t:h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_ALLOW_REQUANTIZE: o->allow_requantize = true; break;
        case OPT_PURE: o->pure = true; break;
        case OPT_LEAVE_OUTPUT: o->leave_output_tensor = true; break;
        case OPT_DRY_RUN: o->dry_run = true; break;
        case OPT_OUTPUT_TYPE:
            if ((o->output_tensor_type = tool_parse_type(CMD, optarg)) < 0)
                return QUANT_EXIT_USAGE;
            break;
        case OPT_TOKEN_EMBD_TYPE:
            if ((o->token_embedding_type = tool_parse_type(CMD, optarg)) < 0)
                return QUANT_EXIT_USAGE;
            break;
        case 't':
            if (!tool_parse_int(optarg, 1, 1024, &n)) {
                tool_error(CMD, "--threads wants a number from 1 to 1024, not '%s'", optarg);
                return QUANT_EXIT_USAGE;
            }
            o->nthreads = (int)n;
            break;
        case 'h': print_help(stdout); return QUANT_EXIT_OK;
        default: print_help(stderr); return QUANT_EXIT_USAGE;
        }
    }
    int positional = argc - optind;
    if (positional < 3 || positional > 4) {
        tool_error(CMD, "expected IN.gguf OUT.gguf TYPE [THREADS]");
        print_help(stderr);
        return QUANT_EXIT_USAGE;
    }
    o->input_path = argv[optind];
    o->output_path = argv[optind + 1];
    if ((o->type = tool_parse_type(CMD, argv[optind + 2])) < 0)
        return QUANT_EXIT_USAGE;
    if (positional == 4) {
        if (!tool_parse_int(argv[optind + 3], 1, 1024, &n)) {
            tool_error(CMD, "THREADS must be a number from 1 to 1024");
            return QUANT_EXIT_USAGE;
        }
        o->nthreads = (int)n;
    }
    if (strcmp(o->input_path, o->output_path) == 0) {
        tool_error(CMD, "input and output are the same file");
        return QUANT_EXIT_USAGE;
    }
    return -1;
}

static bool is_float_type(int type) {
    return type == LQ_TYPE_F32 || type == LQ_TYPE_F16 || type == LQ_TYPE_BF16;
}

/* Decide one tensor's fate. Returns false (after an error message) when the
 * tensor cannot be handled. */
static bool plan_tensor(const quantize_options *o, const lq_gguf_tensor *t, tensor_plan *p) {
    int64_t rows = lq_gguf_tensor_rows(t), cols = t->ne[0];
    *p = (tensor_plan){t, t->type, false, t->size};
    bool is_output = strcmp(t->name, "output.weight") == 0;
    bool is_token_embd = strcmp(t->name, "token_embd.weight") == 0;
    if (!rules_is_quantizable(t->name, t->n_dims, t->type, !o->leave_output_tensor))
        return true;
    int wanted = o->type;
    if (is_output && o->output_tensor_type >= 0)
        wanted = o->output_tensor_type;
    if (is_token_embd && o->token_embedding_type >= 0)
        wanted = o->token_embedding_type;
    int type = rules_fitting_type(wanted, cols, rows);
    /* token embeddings are read by row lookup: never interleaved */
    if (is_token_embd && lq_type_get(type)->interleave > 1)
        type = rules_fitting_type(lq_type_get(type)->base_type >= 0
                                      ? lq_type_get(type)->base_type : LQ_TYPE_Q8_0,
                                  cols, rows);
    if (type != wanted)
        printf("note: %s %s: %s does not fit, using %s\n", t->name,
               tool_format_shape(t, (char[96]){0}), lq_type_name(wanted), lq_type_name(type));
    if (type == t->type)
        return true;
    if (!is_float_type(t->type) && !o->allow_requantize) {
        tool_error(CMD, "%s: tensor '%s' is already quantized (%s); use --allow-requantize",
                   o->input_path, t->name, lq_type_name(t->type));
        return false;
    }
    if (!(lq_type_caps(t->type) & LQ_CAP_DECODE)) {
        tool_error(CMD, "%s: tensor '%s': cannot decode its type %s", o->input_path,
                   t->name, lq_type_name(t->type));
        return false;
    }
    if (!(lq_type_caps(type) & LQ_CAP_ENCODE)) {
        tool_error(CMD, "type %s cannot be encoded by this build (tensor '%s')",
                   lq_type_name(type), t->name);
        return false;
    }
    int64_t size = lq_tensor_size(type, rows, cols);
    if (size < 0) {
        tool_error(CMD, "tensor '%s': %s", t->name, lq_error_message((int)size));
        return false;
    }
    p->type = type;
    p->convert = true;
    p->size = (uint64_t)size;
    return true;
}

typedef struct convert_job {
    const float *src;
    unsigned char *dst;
    int type;
    int64_t cols;
    int64_t rows_per_task;
    int64_t rows;
    int64_t row_bytes;
    atomic_int status;
} convert_job;

static void convert_rows_task(void *ctx, int64_t task) {
    convert_job *job = ctx;
    int64_t first = task * job->rows_per_task;
    int64_t count = job->rows - first < job->rows_per_task ? job->rows - first : job->rows_per_task;
    int64_t st = lq_quantize_rows(job->type, job->src + first * job->cols, count, job->cols,
                                  NULL, job->dst + first * job->row_bytes,
                                  (size_t)(count * job->row_bytes));
    if (st < 0)
        atomic_store(&job->status, (int)st);
}

/* Decode (if needed), check for NaN/Inf, and quantize one tensor into out. */
static bool convert_tensor(const quantize_options *o, const tensor_plan *p, float *f32_buffer,
                           unsigned char *out) {
    const lq_gguf_tensor *t = p->src;
    int64_t rows = lq_gguf_tensor_rows(t), cols = t->ne[0];
    const float *src = (const float *)t->data;
    if (t->type != LQ_TYPE_F32) {
        int st = lq_dequantize_rows(t->type, t->data, t->size, rows, cols, f32_buffer);
        if (st != LQ_OK) {
            tool_error(CMD, "%s: tensor '%s': decoding %s failed: %s", o->input_path, t->name,
                       lq_type_name(t->type), lq_error_message(st));
            return false;
        }
        src = f32_buffer;
    }
    const lq_type_info *info = lq_type_get(p->type);
    if (info->flags & LQ_CAP_QUANTIZED) {
        int64_t bad = lq_find_nonfinite(src, rows * cols);
        if (bad >= 0) {
            tool_error(CMD, "%s: tensor '%s': row %lld, column %lld is %g: NaN/Inf cannot be "
                       "quantized", o->input_path, t->name, (long long)(bad / cols),
                       (long long)(bad % cols), (double)src[bad]);
            return false;
        }
    }
    convert_job job = {.src = src, .dst = out, .type = p->type, .cols = cols, .rows = rows,
                       .row_bytes = lq_row_size(p->type, cols)};
    /* tasks of whole interleave groups, small enough to balance threads */
    int64_t per_task = (int64_t)info->interleave * ((4096 * 16) / (cols * info->interleave) + 1);
    job.rows_per_task = per_task;
    atomic_init(&job.status, LQ_OK);
    tool_parallel_for(o->nthreads, (rows + per_task - 1) / per_task, convert_rows_task, &job);
    int st = atomic_load(&job.status);
    if (st != LQ_OK) {
        tool_error(CMD, "%s: tensor '%s': quantizing to %s failed: %s", o->input_path, t->name,
                   lq_type_name(p->type), lq_error_message(st));
        return false;
    }
    return true;
}

static void print_plan_line(int index, int count, const tensor_plan *p) {
    char shape[96], before[32], after[32];
    printf("[%4d/%4d] %-36s %-18s %-8s -> %-10s %10s -> %10s\n", index + 1, count,
           p->src->name, tool_format_shape(p->src, shape), lq_type_name(p->src->type),
           lq_type_name(p->type), tool_format_bytes(p->src->size, before),
           tool_format_bytes(p->size, after));
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

static bool describe_output(lq_gguf_writer *w, const quantize_options *o, const lq_gguf *in,
                            const tensor_plan *plans, int64_t count) {
    if (lq_gguf_writer_copy_kvs(w, in) != LQ_OK)
        return false;
    int ftype = rules_ftype_of_type(o->type);
    if (ftype >= 0)
        lq_gguf_writer_set_u32(w, "general.file_type", (uint32_t)ftype);
    else
        lq_gguf_writer_remove(w, "general.file_type");
    lq_gguf_writer_set_u32(w, "general.quantization_version", 2);
    for (int64_t i = 0; i < count; i++) {
        const lq_gguf_tensor *t = plans[i].src;
        if (lq_gguf_writer_add_tensor(w, t->name, plans[i].type, t->n_dims, t->ne) < 0) {
            tool_error(CMD, "cannot describe tensor '%s'", t->name);
            return false;
        }
    }
    return true;
}

static int write_output(const quantize_options *o, const lq_gguf *in, tensor_plan *plans,
                        int64_t count) {
    uint64_t max_floats = 0, max_out = 0;
    for (int64_t i = 0; i < count; i++) {
        if (!plans[i].convert)
            continue;
        uint64_t n = (uint64_t)(lq_gguf_tensor_rows(plans[i].src) * plans[i].src->ne[0]);
        if (n > max_floats)
            max_floats = n;
        if (plans[i].size > max_out)
            max_out = plans[i].size;
    }
    float *f32_buffer = max_floats ? malloc(max_floats * sizeof(float)) : NULL;
    unsigned char *out_buffer = max_out ? malloc(max_out) : NULL;
    lq_gguf_writer *w = lq_gguf_writer_new();
    lq_gguf_error err = {0};
    int rc = QUANT_EXIT_ERROR;
    if ((max_floats && !f32_buffer) || (max_out && !out_buffer) || !w) {
        tool_error(CMD, "out of memory");
        goto done;
    }
    if (!describe_output(w, o, in, plans, count))
        goto done;
    if (lq_gguf_writer_begin(w, o->output_path, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        goto done;
    }
    double start = tool_now();
    for (int64_t i = 0; i < count; i++) {
        const tensor_plan *p = &plans[i];
        const void *data = p->src->data;
        if (p->convert) {
            if (!convert_tensor(o, p, f32_buffer, out_buffer))
                goto done;
            data = out_buffer;
        }
        print_plan_line((int)i, (int)count, p);
        fflush(stdout);
        if (lq_gguf_writer_write_tensor(w, i, data, p->size, &err) != LQ_OK) {
            tool_error(CMD, "%s", err.message);
            goto done;
        }
        lq_gguf_release_tensor(in, p->src);
    }
    if (lq_gguf_writer_finish(w, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        goto done;
    }
    print_totals(plans, count);
    printf("wrote %s in %.2f s\n", o->output_path, tool_now() - start);
    rc = QUANT_EXIT_OK;
done:
    lq_gguf_writer_free(w); /* removes the temporary file unless finished */
    free(f32_buffer);
    free(out_buffer);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    quantize_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    lq_gguf *in = NULL;
    lq_gguf_error err = {0};
    if (lq_gguf_open_model(o.input_path, &in, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    const char *arch = NULL;
    if (lq_gguf_get_str(in, "general.architecture", &arch) != LQ_OK) {
        tool_error(CMD, "%s: no general.architecture key: not a model file", o.input_path);
        lq_gguf_close(in);
        return QUANT_EXIT_ERROR;
    }
    int64_t count = lq_gguf_tensor_count(in);
    tensor_plan *plans = calloc(count > 0 ? (size_t)count : 1, sizeof *plans);
    rc = plans ? QUANT_EXIT_OK : QUANT_EXIT_ERROR;
    for (int64_t i = 0; plans && i < count && rc == QUANT_EXIT_OK; i++)
        if (!plan_tensor(&o, lq_gguf_tensor_at(in, i), &plans[i]))
            rc = QUANT_EXIT_ERROR;
    if (rc == QUANT_EXIT_OK) {
        if (o.dry_run) {
            for (int64_t i = 0; i < count; i++)
                print_plan_line((int)i, (int)count, &plans[i]);
            print_totals(plans, count);
        } else {
            rc = write_output(&o, in, plans, count);
        }
    }
    free(plans);
    lq_gguf_close(in);
    return rc;
}
