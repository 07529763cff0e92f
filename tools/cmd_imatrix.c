/*
 * quant imatrix: importance matrices. Runs a model over a calibration
 * text as ik_llama.cpp's llama-imatrix does (chunks of n_ctx tokens, BOS
 * first) and accumulates the squared input activations of every layer
 * matrix; combines existing files; prints per-tensor statistics.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../imatrix/collect.h"
#include "commands.h"
#include "eval_forward.h"
#include "eval_model.h"
#include "eval_options.h"
#include "eval_stats.h"
#include "eval_text.h"
#include "quant_imatrix.h"
#include "tool_common.h"

#define CMD "imatrix"
#define MAX_IN_FILES 64
#define DEFAULT_OUTPUT "imatrix.dat"

typedef struct imatrix_options {
    eval_run_options run;
    const char *output;
    const char *in_files[MAX_IN_FILES];
    int in_count;
    int format; /* lq_imatrix_format, or -1: from the output name */
    bool show_statistics;
} imatrix_options;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant imatrix -m MODEL.gguf -f CALIB [-o OUT] [options]\n"
            "       quant imatrix --in-file A [--in-file B ...] [-o OUT] [--show-statistics]\n"
            "\n"
            "Compute an importance matrix: run the model over the calibration text in\n"
            "chunks of C tokens (BOS first) and sum, for every matrix inside the layers\n"
            "(attn_q/k/v/output, ffn_gate/up/down; the router ffn_gate_inp and the\n"
            "experts ffn_*_exps, per expert), the squares of its input activations per\n"
            "column. The output projection is not collected. In the dat format a\n"
            "tensor of experts is one entry, the experts' columns one after another,\n"
            "and an entry with an expert that saw no token is reported and left out\n"
            "(as the reference does). Also prints the perplexity of the text as it\n"
            "goes. CALIB may be gzip-compressed.\n"
            "Existing files (either format) given with --in-file are added in, weighted\n"
            "by their counts; without -m they are only combined.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE          the model (GGUF; see below)\n"
            "  -f, --file CALIB          the calibration text\n"
            "  -o, --output FILE         output (default " DEFAULT_OUTPUT " with -m)\n"
            "      --output-format FMT   dat (legacy, ik_llama.cpp; the default) or gguf\n"
            "                            (mainline); a name ending in .gguf selects gguf\n"
            "  -c, --ctx-size N          tokens per chunk (default 512)\n"
            "      --chunks N            process at most N chunks (default: all)\n"
            "  -t, --threads N           threads (default: all CPUs)\n"
            "      --in-file FILE        add an existing importance matrix (repeatable)\n"
            "      --show-statistics     print per-tensor statistics of the result: sum,\n"
            "                            min, max, mean and deviation of the importances,\n"
            "                            normalized entropy (100%% = spread evenly) and the\n"
            "                            share of columns more than one deviation above\n"
            "                            the mean (high: a few columns dominate)\n"
            "  -h, --help                this help\n"
            "\n"
            EVAL_HELP_MODELS
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

enum { OPT_CHUNKS = EVAL_OPT_CHUNKS, OPT_FORMAT, OPT_IN_FILE, OPT_STATS };

static int parse_format(const char *arg, imatrix_options *o) {
    if (strcmp(arg, "dat") == 0 || strcmp(arg, "legacy") == 0)
        o->format = LQ_IMATRIX_LEGACY;
    else if (strcmp(arg, "gguf") == 0)
        o->format = LQ_IMATRIX_GGUF;
    else
        return tool_usage_error(CMD, print_help, "unknown output format '%s' (dat or gguf)", arg);
    return -1;
}

static int parse_option(int c, const char *arg, imatrix_options *o) {
    char msg[256];
    int shared = eval_run_option(c, arg, &o->run, msg, sizeof msg);
    if (shared != 0)
        return shared > 0 ? -1 : tool_usage_error(CMD, print_help, "%s", msg);
    switch (c) {
    case 'o':
        o->output = arg;
        return -1;
    case OPT_FORMAT:
        return parse_format(arg, o);
    case OPT_IN_FILE:
        if (o->in_count == MAX_IN_FILES)
            return tool_usage_error(CMD, print_help, "too many --in-file (at most 64; '%s')", arg);
        o->in_files[o->in_count++] = arg;
        return -1;
    case OPT_STATS:
        o->show_statistics = true;
        return -1;
    case 'h':
        print_help(stdout);
        return QUANT_EXIT_OK;
    default:
        return tool_usage_error(CMD, print_help, "unknown option or missing value '%s'", arg);
    }
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int check_args(imatrix_options *o) {
    if (!o->run.model && o->in_count == 0)
        return tool_usage_error(CMD, print_help, "no model (-m) and no --in-file given");
    if (o->run.model && !o->run.text)
        return tool_usage_error(CMD, print_help, "no calibration text given (-f)");
    if (!o->run.model && o->run.text)
        return tool_usage_error(CMD, print_help, "a text (-f) needs a model (-m)");
    if (!o->run.model && !o->output && !o->show_statistics)
        return tool_usage_error(CMD, print_help, "nothing to do: give -o OUT or --show-statistics");
    if (o->run.model && !o->output)
        o->output = DEFAULT_OUTPUT;
    if (o->format < 0 && o->output)
        o->format = ends_with(o->output, ".gguf") ? LQ_IMATRIX_GGUF : LQ_IMATRIX_LEGACY;
    return -1;
}

static int parse_args(int argc, char **argv, imatrix_options *o) {
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"output-format", required_argument, NULL, OPT_FORMAT},
        {"ctx-size", required_argument, NULL, 'c'},
        {"chunks", required_argument, NULL, OPT_CHUNKS},
        {"threads", required_argument, NULL, 't'},
        {"in-file", required_argument, NULL, OPT_IN_FILE},
        {"show-statistics", no_argument, NULL, OPT_STATS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (imatrix_options){.run = eval_run_defaults(), .format = -1};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+m:f:o:c:t:h", long_options, NULL)) != -1) {
        int st = parse_option(c, c == '?' || c == ':' ? argv[optind - 1] : optarg, o);
        if (st >= 0)
            return st;
    }
    if (optind < argc)
        return tool_usage_error(CMD, print_help, "unexpected argument '%s'", argv[optind]);
    return check_args(o);
}

/* ---- collection ---------------------------------------------------------- */

typedef struct collect_run {
    const imatrix_options *o;
    imatrix_collector *collector;
    int status; /* first failure of the observer */
    const char *failed_tensor;
} collect_run;

static void observe(void *user, const eval_matrix *w, const float *x, int64_t n,
                    const int64_t *expert_rows) {
    collect_run *run = user;
    if (run->status != LQ_OK)
        return;
    run->status = expert_rows ? imatrix_collect_experts(run->collector, w->name, w->ncols,
                                                        w->n_expert, x, expert_rows)
                              : imatrix_collect(run->collector, w->name, w->ncols, x, n);
    if (run->status != LQ_OK)
        run->failed_tensor = w->name;
}

typedef struct chunk_plan {
    int64_t n_ctx, n_chunk, first;
} chunk_plan;

static int run_chunks(const eval_model *model, const eval_vocab *vocab, const int32_t *tokens,
                      const chunk_plan *p, collect_run *run) {
    const imatrix_options *o = run->o;
    eval_context *ctx = eval_context_new(model, p->n_ctx, o->run.threads);
    float *logits = malloc(sizeof(float) * (size_t)((p->n_ctx - p->first) * model->hp.n_vocab));
    int32_t *chunk = malloc(sizeof(int32_t) * (size_t)p->n_ctx);
    int st = ctx && logits && chunk ? LQ_OK : LQ_ERR_NO_MEMORY;
    eval_context_set_observer(ctx, observe, run);
    eval_ppl ppl = {0, 0, 0};
    double seconds = 0.0;
    bool output_failed = false; /* stdout closed or full: stop, reported already */
    for (int64_t i = 0; i < p->n_chunk && st == LQ_OK && !output_failed; i++) {
        memcpy(chunk, tokens + i * p->n_ctx, sizeof(int32_t) * (size_t)p->n_ctx);
        if (eval_vocab_adds_bos(vocab))
            chunk[0] = eval_vocab_bos(vocab);
        double t0 = tool_now();
        st = eval_forward(ctx, chunk, p->n_ctx, p->first, logits);
        seconds += tool_now() - t0;
        if (st == LQ_OK)
            st = run->status;
        if (st != LQ_OK)
            break;
        eval_ppl_add(&ppl, logits, model->hp.n_vocab, tokens + i * p->n_ctx + p->first + 1,
                     p->n_ctx - 1 - p->first, NULL);
        printf("[%lld]%.4lf,", (long long)(i + 1), eval_ppl_current(&ppl));
        output_failed = !tool_output_ok(CMD);
    }
    double value, error;
    if (output_failed) {
        st = LQ_ERR_IO; /* no imatrix file is written after it */
    } else if (st == LQ_OK) {
        printf("\n");
        if (eval_ppl_final(&ppl, &value, &error))
            printf("Final estimate: PPL = %.4lf +/- %.5lf\n", value, error);
        const double n = (double)(p->n_chunk * p->n_ctx);
        fprintf(stderr, "%s: %.0f tokens in %.2f s: %.1f tokens/s (%d threads)\n", CMD, n,
                seconds, n / (seconds > 0 ? seconds : 1e-9), o->run.threads);
    } else if (run->failed_tensor) {
        tool_error(CMD, "%s: tensor %s: %s", o->run.model, run->failed_tensor,
                   lq_error_message(st));
    } else {
        tool_error(CMD, "%s: forward pass failed: %s", o->run.model, lq_error_message(st));
    }
    free(chunk);
    free(logits);
    eval_context_free(ctx);
    return st == LQ_OK ? QUANT_EXIT_OK : QUANT_EXIT_ERROR;
}

static int plan_chunks(const imatrix_options *o, int64_t n_tokens, chunk_plan *p) {
    p->n_ctx = o->run.n_ctx;
    p->first = p->n_ctx / 2;
    if (n_tokens < 2 * p->n_ctx) {
        tool_error(CMD, "%s: %lld tokens, at least %lld needed for a context of %lld", o->run.text,
                   (long long)n_tokens, (long long)(2 * p->n_ctx), (long long)p->n_ctx);
        return QUANT_EXIT_ERROR;
    }
    p->n_chunk = n_tokens / p->n_ctx;
    if (o->run.chunks > 0 && o->run.chunks < p->n_chunk)
        p->n_chunk = o->run.chunks;
    fprintf(stderr, "%s: computing over %lld chunks of %lld tokens, %d threads\n", CMD,
            (long long)p->n_chunk, (long long)p->n_ctx, o->run.threads);
    return QUANT_EXIT_OK;
}

static void report_unused(void *user, const char *name, int64_t without, int64_t nmat,
                          bool skipped) {
    (void)user;
    fprintf(stderr, "%s: entry '%s': %lld of %lld experts saw no token%s\n", CMD, name,
            (long long)without, (long long)nmat,
            skipped ? " - left out (the legacy format has no per-expert counts)" : "");
}

/* Run the model over the text and add the result to m. */
static int compute(const imatrix_options *o, lq_imatrix *m) {
    lq_gguf_error err;
    eval_model *model = NULL;
    eval_vocab *vocab = NULL;
    int32_t *tokens = NULL;
    int64_t n_tokens = 0;
    chunk_plan plan;
    collect_run run = {o, imatrix_collector_new(), LQ_OK, NULL};
    int st = run.collector ? QUANT_EXIT_OK : QUANT_EXIT_ERROR;
    if (st == QUANT_EXIT_OK && (eval_model_open(o->run.model, &model, &err) != LQ_OK ||
                                eval_vocab_load(model->gguf, &vocab, &err) != LQ_OK ||
                                eval_tokenize_file(vocab, o->run.text, &tokens, &n_tokens, &err) !=
                                    LQ_OK)) {
        tool_error(CMD, "%s", err.message);
        st = QUANT_EXIT_ERROR;
    }
    if (st == QUANT_EXIT_OK)
        st = plan_chunks(o, n_tokens, &plan);
    if (st == QUANT_EXIT_OK)
        st = run_chunks(model, vocab, tokens, &plan, &run);
    if (st == QUANT_EXIT_OK) {
        m->chunk_count = imatrix_collector_calls(run.collector);
        m->chunk_size = plan.n_ctx;
        if (imatrix_collector_export(run.collector, (lq_imatrix_format)o->format, m,
                                     report_unused, NULL) != LQ_OK ||
            lq_imatrix_add_dataset(m, o->run.text) != LQ_OK) {
            tool_error(CMD, "out of memory");
            st = QUANT_EXIT_ERROR;
        }
    }
    imatrix_collector_free(run.collector);
    free(tokens);
    eval_vocab_free(vocab);
    eval_model_close(model);
    return st;
}

/* ---- combining and statistics -------------------------------------------- */

static int add_in_files(const imatrix_options *o, lq_imatrix *m) {
    for (int i = 0; i < o->in_count; i++) {
        lq_gguf_error err;
        lq_imatrix *in = NULL;
        int st = lq_imatrix_read(o->in_files[i], &in, &err);
        if (st == LQ_OK)
            st = lq_imatrix_combine(m, in, &err);
        lq_imatrix_free(in);
        if (st != LQ_OK) {
            tool_error(CMD, "%s", err.message);
            return QUANT_EXIT_ERROR;
        }
        fprintf(stderr, "%s: added %s\n", CMD, o->in_files[i]);
    }
    return QUANT_EXIT_OK;
}

typedef struct tensor_stats {
    double sum, min, max, mean, sd, entropy_norm, zd;
} tensor_stats;

static tensor_stats entry_stats(const float *w, int64_t n) {
    tensor_stats s = {0, w[0], w[0], 0, 0, 0, 0};
    double sum2 = 0;
    for (int64_t i = 0; i < n; i++) {
        s.sum += w[i];
        sum2 += (double)w[i] * w[i];
        s.min = w[i] < s.min ? w[i] : s.min;
        s.max = w[i] > s.max ? w[i] : s.max;
    }
    s.mean = s.sum / (double)n;
    const double var = sum2 / (double)n - s.mean * s.mean;
    s.sd = var > 0 ? sqrt(var) : 0;
    double entropy = 0;
    int64_t above = 0;
    for (int64_t i = 0; i < n; i++) {
        const double p = s.sum > 0 ? w[i] / s.sum : 0;
        if (p > 0)
            entropy -= p * log2(p);
        above += s.sd > 0 && (w[i] - s.mean) / s.sd > 1.0;
    }
    s.entropy_norm = n > 1 ? entropy / log2((double)n) : 1.0;
    s.zd = (double)above / (double)n;
    return s;
}

static int show_statistics(const lq_imatrix *m) {
    printf("%-36s %12s %10s %10s %10s %10s %8s %9s %7s\n", "tensor", "sum(act^2)", "min", "max",
           "mean", "sd", "count", "E(norm)", "ZD");
    for (int64_t i = 0; i < m->count; i++) {
        const lq_imatrix_entry *e = &m->entries[i];
        const int64_t n = e->ncols * e->nmat;
        float *w = malloc(sizeof(float) * (size_t)n);
        if (!w) {
            tool_error(CMD, "out of memory");
            return QUANT_EXIT_ERROR;
        }
        if (lq_imatrix_entry_weights(e, w, sizeof(float) * (size_t)n) != LQ_OK) {
            free(w);
            tool_error(CMD, "%s: cannot compute the weights", e->name);
            return QUANT_EXIT_ERROR;
        }
        const tensor_stats s = entry_stats(w, n);
        printf("%-36s %12.4f %10.4g %10.4g %10.4g %10.4g %8.0f %8.2f%% %6.2f%%\n", e->name, s.sum,
               s.min, s.max, s.mean, s.sd, (double)e->counts[0], 100.0 * s.entropy_norm,
               100.0 * s.zd);
        free(w);
    }
    return QUANT_EXIT_OK;
}

static int write_output(const imatrix_options *o, const lq_imatrix *m) {
    lq_gguf_error err;
    if (lq_imatrix_write(m, o->output, (lq_imatrix_format)o->format, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    fprintf(stderr, "%s: wrote %lld entries (%lld chunks) to %s (%s)\n", CMD,
            (long long)m->count, (long long)m->chunk_count, o->output,
            o->format == LQ_IMATRIX_GGUF ? "gguf" : "dat");
    return QUANT_EXIT_OK;
}

int cmd_imatrix(int argc, char **argv) {
    imatrix_options o;
    int st = parse_args(argc, argv, &o);
    if (st >= 0)
        return st;
    lq_imatrix *m = lq_imatrix_new();
    if (!m) {
        tool_error(CMD, "out of memory");
        return QUANT_EXIT_ERROR;
    }
    st = o.run.model ? compute(&o, m) : QUANT_EXIT_OK;
    if (st == QUANT_EXIT_OK)
        st = add_in_files(&o, m);
    if (st == QUANT_EXIT_OK && o.output)
        st = write_output(&o, m);
    if (st == QUANT_EXIT_OK && o.show_statistics)
        st = show_statistics(m);
    lq_imatrix_free(m);
    return st;
}
