/*
 * quant repack: interleave the rows of every tensor that has a row-interleaved
 * variant (q4_K -> q4_k_r4, ...), or with --unpack turn them back, copying
 * everything else; the output is streamed to a temporary file and renamed
 * into place only when everything succeeded.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "repack_plan.h"
#include "tool_common.h"

#define CMD "repack"

typedef struct repack_options {
    bool unpack;
    bool dry_run;
    bool keep_split;
    int nthreads;
    repack_patterns *patterns; /* NULL: every tensor is considered */
    const char *input_path;
    const char *output_path;
} repack_options;

/* What happens to one tensor. */
typedef struct tensor_plan {
    const lq_gguf_tensor *src;
    int type;           /* type written */
    bool convert;       /* false: bytes copied as they are */
    uint64_t size;      /* bytes written */
    const char *reason; /* why it is kept (when !convert) */
} tensor_plan;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant repack [options] IN.gguf OUT.gguf\n"
            "\n"
            "Interleave the rows of every tensor whose type has a row-interleaved\n"
            "variant (q4_0 -> q4_0_r8, q8_0 -> q8_0_r8, q4_K -> q4_k_r4, iq4_xs ->\n"
            "iq4_xs_r8, bf16 -> bf16_r16, ...) and whose row count is a multiple of\n"
            "its factor, as ik_llama.cpp's llama-quantize --repack does; token\n"
            "embeddings and F16 tensors are never repacked. Everything else, metadata\n"
            "included, is copied unchanged (general.file_type gets the repacked code).\n"
            "The conversion is lossless and --unpack undoes it. The output is written\n"
            "to a temporary file and renamed into place only on success.\n"
            "\n"
            "options:\n"
            "  --pattern REGEX[,REGEX...]  consider only tensors whose name contains a\n"
            "                              match of one of the PCRE2 expressions\n"
            "                              (may be repeated)\n"
            "  --unpack                    turn interleaved tensors back into their base\n"
            "                              type (iq1_s_r4, iq1_m_r4, q8_k_r8 and q8_k_r16\n"
            "                              are formats of their own and stay as they are)\n"
            "  --keep-split                write a split input as the same shards\n"
            "                              (OUT-0000i-of-0000N.gguf) instead of one file\n"
            "  --dry-run                   print what would change, write nothing\n"
            "  -t, --threads N             threads (default: all cores)\n"
            "  -h, --help                  this help\n"
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

enum {
    OPT_PATTERN = 256,
    OPT_UNPACK,
    OPT_KEEP_SPLIT,
    OPT_DRY_RUN,
};

static const struct option long_options[] = {
    {"pattern", required_argument, NULL, OPT_PATTERN},
    {"unpack", no_argument, NULL, OPT_UNPACK},
    {"keep-split", no_argument, NULL, OPT_KEEP_SPLIT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"threads", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Returns -1 to continue, or the exit status. */
static int parse_options(int argc, char **argv, repack_options *o) {
    *o = (repack_options){.nthreads = tool_cpu_count()};
    char msg[512];
    long long n;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+t:h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_PATTERN:
            if (!repack_patterns_add(&o->patterns, optarg, msg, sizeof msg)) {
                tool_error(CMD, "--pattern %s", msg);
                return QUANT_EXIT_USAGE;
            }
            break;
        case OPT_UNPACK: o->unpack = true; break;
        case OPT_KEEP_SPLIT: o->keep_split = true; break;
        case OPT_DRY_RUN: o->dry_run = true; break;
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
    if (argc - optind != 2) {
        tool_error(CMD, "expected IN.gguf OUT.gguf");
        print_help(stderr);
        return QUANT_EXIT_USAGE;
    }
    o->input_path = argv[optind];
    o->output_path = argv[optind + 1];
    if (same_file(o->input_path, o->output_path)) {
        tool_error(CMD, "input and output are the same file");
        return QUANT_EXIT_USAGE;
    }
    return -1;
}

/* The type a tensor becomes, or -1 with *reason saying why it is kept. */
static int planned_type(const repack_options *o, const lq_gguf_tensor *t, const char **reason) {
    int type = -1;
    if (t->size == 0) {
        *reason = "empty";
        return -1;
    }
    if (o->unpack) {
        type = repack_unpack_type(t->type);
        if (type < 0)
            *reason = lq_type_get(t->type)->interleave > 1 ? "a format of its own"
                                                            : "not interleaved";
    } else {
        repack_verdict v = repack_tensor_verdict(t, &type);
        if (v != REPACK_YES) {
            *reason = repack_verdict_text(v);
            type = -1;
        }
    }
    if (type >= 0 && !repack_patterns_match(o->patterns, t->name)) {
        *reason = "not matched by --pattern";
        type = -1;
    }
    return type;
}

/* Decide one tensor's fate. Returns false (after an error message) when the
 * tensor cannot be handled. */
static bool plan_tensor(const repack_options *o, const lq_gguf_tensor *t, tensor_plan *p) {
    *p = (tensor_plan){t, t->type, false, t->size, NULL};
    int type = planned_type(o, t, &p->reason);
    if (type < 0)
        return true;
    int interleaved = o->unpack ? t->type : type;
    if (!(lq_type_caps(interleaved) & LQ_CAP_REPACK)) {
        tool_error(CMD, "tensor '%s': this build cannot %s %s", t->name,
                   o->unpack ? "unpack" : "repack to", lq_type_name(interleaved));
        return false;
    }
    if (!tool_tensor_bytes(CMD, t, type, &p->size))
        return false;
    p->type = type;
    p->convert = true;
    return true;
}

typedef struct transform_job {
    const unsigned char *src;
    unsigned char *dst;
    int interleaved_type; /* the type lq_repack_rows / lq_unpack_rows take */
    bool unpack;
    int64_t cols;
    int64_t rows;
    int64_t rows_per_task;
    int64_t src_row_bytes;
    int64_t dst_row_bytes;
    atomic_int status;
} transform_job;

static void transform_rows_task(void *ctx, int64_t task) {
    transform_job *job = ctx;
    int64_t first = task * job->rows_per_task;
    int64_t count = job->rows - first < job->rows_per_task ? job->rows - first
                                                           : job->rows_per_task;
    const unsigned char *src = job->src + first * job->src_row_bytes;
    unsigned char *dst = job->dst + first * job->dst_row_bytes;
    size_t src_size = (size_t)(count * job->src_row_bytes);
    size_t dst_size = (size_t)(count * job->dst_row_bytes);
    int st = job->unpack
                 ? lq_unpack_rows(job->interleaved_type, src, src_size, count, job->cols, dst,
                                  dst_size)
                 : lq_repack_rows(job->interleaved_type, src, src_size, count, job->cols, dst,
                                  dst_size);
    if (st != LQ_OK)
        atomic_store(&job->status, st);
}

static bool transform_tensor(const repack_options *o, const tensor_plan *p, unsigned char *out) {
    const lq_gguf_tensor *t = p->src;
    int interleaved = o->unpack ? t->type : p->type;
    int factor = lq_type_get(interleaved)->interleave;
    transform_job job = {.src = t->data, .dst = out, .interleaved_type = interleaved,
                         .unpack = o->unpack, .cols = t->ne[0],
                         .rows = lq_gguf_tensor_rows(t),
                         .src_row_bytes = lq_row_size(t->type, t->ne[0]),
                         .dst_row_bytes = lq_row_size(p->type, t->ne[0])};
    /* whole groups, about 1 MiB each: enough to spread, few enough to be cheap */
    int64_t groups = (1 << 20) / (factor * job.src_row_bytes) + 1;
    job.rows_per_task = groups * factor;
    atomic_init(&job.status, LQ_OK);
    tool_parallel_for(o->nthreads, (job.rows + job.rows_per_task - 1) / job.rows_per_task,
                      transform_rows_task, &job);
    int st = atomic_load(&job.status);
    if (st != LQ_OK) {
        tool_error(CMD, "%s: tensor '%s': %s %s failed: %s", o->input_path, t->name,
                   o->unpack ? "unpacking" : "repacking to", lq_type_name(interleaved),
                   lq_error_message(st));
        return false;
    }
    return true;
}

static void print_plan_line(int64_t index, int64_t count, const tensor_plan *p) {
    char shape[96];
    printf("[%4lld/%4lld] %-36s %-18s ", (long long)index + 1, (long long)count, p->src->name,
           tool_format_shape(p->src, shape));
    if (p->convert)
        printf("%s -> %s\n", lq_type_name(p->src->type), lq_type_name(p->type));
    else
        printf("%s kept: %s\n", lq_type_name(p->src->type), p->reason);
}

static int64_t converted_count(const tensor_plan *plans, int64_t count) {
    int64_t n = 0;
    for (int64_t i = 0; i < count; i++)
        n += plans[i].convert;
    return n;
}

/* The metadata as the reference's llama-quantize --repack leaves it: copied,
 * with general.file_type mapped to the repacked code when a tensor changes. */
static bool describe_output(lq_gguf_writer *w, const repack_options *o, const lq_gguf *in,
                            const tensor_plan *plans, int64_t count) {
    if (lq_gguf_writer_copy_kvs(w, in) != LQ_OK) {
        tool_error(CMD, "out of memory");
        return false;
    }
    int64_t ftype;
    if (converted_count(plans, count) > 0 &&
        lq_gguf_get_i64(in, "general.file_type", &ftype) == LQ_OK && ftype >= 0 &&
        ftype <= INT32_MAX) {
        int mapped = o->unpack ? unpack_file_type((int)ftype) : repack_file_type((int)ftype);
        if (mapped != ftype)
            lq_gguf_writer_set_u32(w, "general.file_type", (uint32_t)mapped);
    }
    bool by_shard = o->keep_split && lq_gguf_shard_count(in) > 1;
    for (int64_t i = 0; i < count; i++) {
        if (tool_declare_tensor(w, plans[i].src, plans[i].type, by_shard) != LQ_OK) {
            tool_error(CMD, "cannot describe tensor '%s'", plans[i].src->name);
            return false;
        }
    }
    return true;
}

static void print_totals(const repack_options *o, const tensor_plan *plans, int64_t count) {
    uint64_t in_bytes = 0, out_bytes = 0;
    for (int64_t i = 0; i < count; i++) {
        in_bytes += plans[i].src->size;
        out_bytes += plans[i].size;
    }
    char a[32], b[32];
    printf("%s %lld of %lld tensors (%s -> %s)\n",
           o->dry_run ? (o->unpack ? "would unpack" : "would repack")
                      : (o->unpack ? "unpacked" : "repacked"),
           (long long)converted_count(plans, count), (long long)count,
           tool_format_bytes(in_bytes, a), tool_format_bytes(out_bytes, b));
}

static int write_output(const repack_options *o, const lq_gguf *in, const tensor_plan *plans,
                        int64_t count) {
    uint64_t max_out = 0;
    for (int64_t i = 0; i < count; i++)
        if (plans[i].convert && plans[i].size > max_out)
            max_out = plans[i].size;
    unsigned char *out_buffer = max_out ? malloc(max_out) : NULL;
    lq_gguf_writer *w = lq_gguf_writer_new();
    lq_gguf_error err = {0};
    int rc = QUANT_EXIT_ERROR;
    if ((max_out && !out_buffer) || !w) {
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
            if (!transform_tensor(o, p, out_buffer))
                goto done;
            data = out_buffer;
        }
        if (lq_gguf_writer_write_tensor(w, i, data, p->size, &err) != LQ_OK) {
            tool_error(CMD, "%s", err.message);
            goto done;
        }
        print_plan_line(i, count, p);
        /* a closed stdout stops the run too; the writer removes its files */
        if (!tool_output_ok(CMD))
            goto done;
        lq_gguf_release_tensor(in, p->src);
    }
    int shards = lq_gguf_writer_shard_count(w);
    char **paths = calloc((size_t)shards, sizeof *paths);
    for (int s = 0; paths && s < shards; s++)
        paths[s] = strdup(lq_gguf_writer_shard_path(w, s));
    if (lq_gguf_writer_finish(w, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
    } else {
        print_totals(o, plans, count);
        for (int s = 0; s < shards; s++)
            printf("wrote %s\n", paths && paths[s] ? paths[s] : o->output_path);
        printf("done in %.2f s\n", tool_now() - start);
        rc = QUANT_EXIT_OK;
    }
    for (int s = 0; paths && s < shards; s++)
        free(paths[s]);
    free(paths);
done:
    lq_gguf_writer_free(w); /* removes the temporary files unless finished */
    free(out_buffer);
    return rc;
}

static int run(const repack_options *o) {
    lq_gguf *in = NULL;
    lq_gguf_error err = {0};
    if (lq_gguf_open_model(o->input_path, &in, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    int64_t count = lq_gguf_tensor_count(in);
    tensor_plan *plans = calloc(count > 0 ? (size_t)count : 1, sizeof *plans);
    int rc = plans ? QUANT_EXIT_OK : QUANT_EXIT_ERROR;
    if (!plans)
        tool_error(CMD, "out of memory");
    for (int64_t i = 0; plans && i < count && rc == QUANT_EXIT_OK; i++)
        if (!plan_tensor(o, lq_gguf_tensor_at(in, i), &plans[i]))
            rc = QUANT_EXIT_ERROR;
    if (rc == QUANT_EXIT_OK && converted_count(plans, count) == 0)
        printf("note: nothing to %s: the output is a plain copy of the input\n",
               o->unpack ? "unpack" : "repack");
    if (rc == QUANT_EXIT_OK) {
        if (o->dry_run) {
            for (int64_t i = 0; i < count; i++)
                print_plan_line(i, count, &plans[i]);
            print_totals(o, plans, count);
        } else {
            rc = write_output(o, in, plans, count);
        }
    }
    free(plans);
    lq_gguf_close(in);
    return rc;
}

int cmd_repack(int argc, char **argv) {
    repack_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc < 0)
        rc = run(&o);
    repack_patterns_free(o.patterns);
    return rc;
}
