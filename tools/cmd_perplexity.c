/*
 * quant perplexity: the perplexity of a model on a text, computed as
 * ik_llama.cpp's llama-perplexity does (chunks of n_ctx tokens with BOS
 * first, the second half of each chunk scored), and the KL-divergence of a
 * model against the saved log-probabilities of a base model.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval_forward.h"
#include "eval_model.h"
#include "eval_options.h"
#include "eval_stats.h"
#include "eval_text.h"
#include "tool_common.h"

#define CMD "perplexity"

typedef struct ppl_options {
    eval_run_options run;
    const char *base_file;
    bool kl_divergence;
} ppl_options;

/* What one run works on. */
typedef struct ppl_run {
    const ppl_options *o;
    eval_model *model;
    eval_vocab *vocab;
    eval_context *ctx;
    int32_t *tokens; /* the text's tokens */
    int64_t n_tokens;
    int64_t n_ctx, n_chunk, first;
    float *logits;  /* (n_ctx - first) rows */
    uint16_t *base; /* records of one chunk */
    int32_t *chunk; /* one chunk's tokens, BOS first */
    double forward_seconds;
} ppl_run;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant perplexity -m MODEL.gguf -f TEXT [options]\n"
            "       quant perplexity -m MODEL.gguf --kl-divergence-base BASE --kl-divergence\n"
            "\n"
            "Perplexity of a model on a text, as llama-perplexity computes it: the\n"
            "text is tokenized (BOS first), cut into chunks of C tokens whose first token\n"
            "is replaced by BOS, and the predictions of the second half of each chunk\n"
            "are scored. Prints the running estimate per chunk and, last, the line\n"
            "  Final estimate: PPL over N chunks for n_ctx=C = X +/- Y\n"
            "TEXT may be gzip-compressed. Speed (tokens per second) goes to stderr.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE           the model (GGUF; see below)\n"
            "  -f, --file TEXT            the text to score\n"
            "  -c, --ctx-size N           tokens per chunk (default 512)\n"
            "      --chunks N             score at most N chunks (default: all)\n"
            "  -t, --threads N            threads (default: all CPUs)\n"
            "      --kl-divergence-base FILE\n"
            "                             without --kl-divergence: also save the model's\n"
            "                             log-probabilities there (the reference's layout);\n"
            "                             with it: read them (TEXT and -c are then taken\n"
            "                             from FILE)\n"
            "      --kl-divergence        compare the model with the saved base: per chunk\n"
            "                             PPL, ln(PPL ratio), KL-divergence, RMS of the\n"
            "                             probability change and same-top-token share, then\n"
            "                             the reference's summary statistics\n"
            "  -h, --help                 this help\n"
            "\n"
            EVAL_HELP_MODELS
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

enum { OPT_CHUNKS = EVAL_OPT_CHUNKS, OPT_KLD_BASE, OPT_KLD };

static int parse_option(int c, const char *arg, ppl_options *o) {
    char msg[256];
    int shared = eval_run_option(c, arg, &o->run, msg, sizeof msg);
    if (shared != 0)
        return shared > 0 ? -1 : tool_usage_error(CMD, print_help, "%s", msg);
    switch (c) {
    case OPT_KLD_BASE:
        o->base_file = arg;
        return -1;
    case OPT_KLD:
        o->kl_divergence = true;
        return -1;
    case 'h':
        print_help(stdout);
        return QUANT_EXIT_OK;
    default:
        return tool_usage_error(CMD, print_help, "unknown option or missing value '%s'", arg);
    }
}

static int parse_args(int argc, char **argv, ppl_options *o) {
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"ctx-size", required_argument, NULL, 'c'},
        {"chunks", required_argument, NULL, OPT_CHUNKS},
        {"threads", required_argument, NULL, 't'},
        {"kl-divergence-base", required_argument, NULL, OPT_KLD_BASE},
        {"kl-divergence", no_argument, NULL, OPT_KLD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (ppl_options){eval_run_defaults(), NULL, false};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+m:f:c:t:h", long_options, NULL)) != -1) {
        int st = parse_option(c, c == '?' || c == ':' ? argv[optind - 1] : optarg, o);
        if (st >= 0)
            return st;
    }
    if (optind < argc)
        return tool_usage_error(CMD, print_help, "unexpected argument '%s'", argv[optind]);
    if (!o->run.model)
        return tool_usage_error(CMD, print_help, "no model given (-m)");
    if (o->kl_divergence && !o->base_file)
        return tool_usage_error(CMD, print_help, "--kl-divergence needs --kl-divergence-base FILE");
    if (!o->kl_divergence && !o->run.text)
        return tool_usage_error(CMD, print_help, "no text given (-f)");
    return -1;
}

static int load(ppl_run *r) {
    lq_gguf_error err;
    double t0 = tool_now();
    if (eval_model_open(r->o->run.model, &r->model, &err) != LQ_OK ||
        eval_vocab_load(r->model->gguf, &r->vocab, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    const eval_hparams *hp = &r->model->hp;
    fprintf(stderr, "%s: %s: %lld layers, %lld embedding, %lld heads (%lld kv), vocabulary %lld\n",
            CMD, r->o->run.model, (long long)hp->n_layer, (long long)hp->n_embd,
            (long long)hp->n_head, (long long)hp->n_head_kv, (long long)hp->n_vocab);
    if (r->o->run.text) {
        if (eval_tokenize_file(r->vocab, r->o->run.text, &r->tokens, &r->n_tokens, &err) != LQ_OK) {
            tool_error(CMD, "%s", err.message);
            return QUANT_EXIT_ERROR;
        }
        fprintf(stderr, "%s: %s: %lld tokens (tokenized in %.2f s)\n", CMD, r->o->run.text,
                (long long)r->n_tokens, tool_now() - t0);
    }
    return QUANT_EXIT_OK;
}

static int prepare(ppl_run *r) {
    const int64_t n_vocab = r->model->hp.n_vocab;
    r->first = r->n_ctx / 2;
    r->ctx = eval_context_new(r->model, r->n_ctx, r->o->run.threads);
    r->logits = malloc(sizeof(float) * (size_t)((r->n_ctx - r->first) * n_vocab));
    r->chunk = malloc(sizeof(int32_t) * (size_t)r->n_ctx);
    r->base = r->o->base_file ? malloc(sizeof(uint16_t) * (size_t)(r->n_ctx - 1 - r->first) *
                                       (size_t)eval_base_record_size(n_vocab))
                              : NULL;
    if (!r->ctx || !r->logits || !r->chunk || (r->o->base_file && !r->base)) {
        tool_error(CMD, "out of memory for a context of %lld tokens", (long long)r->n_ctx);
        return QUANT_EXIT_ERROR;
    }
    fprintf(stderr, "%s: calculating perplexity over %lld chunks, n_ctx=%lld, %d threads\n", CMD,
            (long long)r->n_chunk, (long long)r->n_ctx, r->o->run.threads);
    return QUANT_EXIT_OK;
}

/* Run chunk i: logits of positions first .. n_ctx-1. */
static int run_chunk(ppl_run *r, const int32_t *tokens) {
    memcpy(r->chunk, tokens, sizeof(int32_t) * (size_t)r->n_ctx);
    if (eval_vocab_adds_bos(r->vocab))
        r->chunk[0] = eval_vocab_bos(r->vocab);
    double t0 = tool_now();
    int st = eval_forward(r->ctx, r->chunk, r->n_ctx, r->first, r->logits);
    r->forward_seconds += tool_now() - t0;
    if (st != LQ_OK) {
        tool_error(CMD, "%s: forward pass failed: %s", r->o->run.model, lq_error_message(st));
        return QUANT_EXIT_ERROR;
    }
    return QUANT_EXIT_OK;
}

static void report_progress(const ppl_run *r, int64_t done) {
    if (done == 1)
        fprintf(stderr, "%s: %.2f seconds per pass - ETA %.2f minutes\n", CMD, r->forward_seconds,
                r->forward_seconds * (double)(r->n_chunk - 1) / 60.0);
}

static void report_speed(const ppl_run *r) {
    const double tokens = (double)(r->n_chunk * r->n_ctx);
    fprintf(stderr, "%s: %.0f tokens in %.2f s: %.1f tokens/s (%d threads)\n", CMD, tokens,
            r->forward_seconds, tokens / (r->forward_seconds > 0 ? r->forward_seconds : 1e-9),
            r->o->run.threads);
}

static int write_failed(const char *path) {
    tool_error(CMD, "%s: write failed: %s", path, strerror(errno));
    return QUANT_EXIT_ERROR;
}

static int perplexity(ppl_run *r) {
    r->n_ctx = r->o->run.n_ctx;
    if (r->n_tokens < 2 * r->n_ctx) {
        tool_error(CMD, "%s: %lld tokens, at least %lld needed for a context of %lld", r->o->run.text,
                   (long long)r->n_tokens, (long long)(2 * r->n_ctx), (long long)r->n_ctx);
        return QUANT_EXIT_ERROR;
    }
    r->n_chunk = r->n_tokens / r->n_ctx;
    if (r->o->run.chunks > 0 && r->o->run.chunks < r->n_chunk)
        r->n_chunk = r->o->run.chunks;
    int st = prepare(r);
    FILE *base = NULL;
    if (st == QUANT_EXIT_OK && r->o->base_file) {
        base = fopen(r->o->base_file, "wb");
        eval_base_header h = {(uint32_t)r->n_ctx, (int32_t)r->model->hp.n_vocab,
                              (int32_t)r->n_chunk};
        if (!base || !eval_base_write_header(base, &h, r->tokens))
            st = write_failed(r->o->base_file);
    }
    const int64_t scored = r->n_ctx - 1 - r->first;
    const size_t record = (size_t)eval_base_record_size(r->model->hp.n_vocab);
    eval_ppl ppl = {0, 0, 0};
    for (int64_t i = 0; i < r->n_chunk && st == QUANT_EXIT_OK; i++) {
        const int32_t *tokens = r->tokens + i * r->n_ctx;
        st = run_chunk(r, tokens);
        if (st != QUANT_EXIT_OK)
            break;
        eval_ppl_add(&ppl, r->logits, r->model->hp.n_vocab, tokens + r->first + 1, scored,
                     r->base);
        if (base && fwrite(r->base, sizeof(uint16_t) * record, (size_t)scored, base) !=
                        (size_t)scored)
            st = write_failed(r->o->base_file);
        report_progress(r, i + 1);
        printf("[%lld]%.4lf,", (long long)(i + 1), eval_ppl_current(&ppl));
        if (!tool_output_ok(CMD))
            st = QUANT_EXIT_ERROR; /* a closed stdout stops the run (the base file goes) */
    }
    if (base && fclose(base) != 0 && st == QUANT_EXIT_OK)
        st = write_failed(r->o->base_file);
    if (st != QUANT_EXIT_OK) {
        if (base)
            remove(r->o->base_file);
        return st;
    }
    printf("\n");
    report_speed(r);
    double value, error;
    if (!eval_ppl_final(&ppl, &value, &error)) {
        printf("Unexpected negative standard deviation of log(prob)\n");
        return QUANT_EXIT_ERROR;
    }
    printf("Final estimate: PPL over %lld chunks for n_ctx=%lld = %.4lf +/- %.5lf\n",
           (long long)r->n_chunk, (long long)r->n_ctx, value, error);
    return QUANT_EXIT_OK;
}

static int open_base(ppl_run *r, FILE **f) {
    *f = fopen(r->o->base_file, "rb");
    if (!*f) {
        tool_error(CMD, "%s: %s", r->o->base_file, strerror(errno));
        return QUANT_EXIT_ERROR;
    }
    eval_base_header h;
    char why[160];
    if (!eval_base_read_header(*f, &h, &r->tokens, why, sizeof why)) {
        tool_error(CMD, "%s: %s", r->o->base_file, why);
        return QUANT_EXIT_ERROR;
    }
    if (h.n_vocab != r->model->hp.n_vocab) {
        tool_error(CMD, "%s: vocabulary of %d tokens, but %s has %lld", r->o->base_file,
                   h.n_vocab, r->o->run.model, (long long)r->model->hp.n_vocab);
        return QUANT_EXIT_ERROR;
    }
    r->n_ctx = h.n_ctx;
    r->n_chunk = h.n_chunk;
    r->n_tokens = (int64_t)h.n_chunk * h.n_ctx;
    if (r->o->run.chunks > 0 && r->o->run.chunks < r->n_chunk)
        r->n_chunk = r->o->run.chunks;
    return QUANT_EXIT_OK;
}

static int kl_divergence(ppl_run *r) {
    FILE *f = NULL;
    int st = open_base(r, &f);
    if (st == QUANT_EXIT_OK)
        st = prepare(r);
    const int64_t scored = r->n_ctx - 1 - r->first;
    const size_t record = (size_t)eval_base_record_size(r->model->hp.n_vocab);
    eval_kld kld;
    if (st == QUANT_EXIT_OK && !eval_kld_init(&kld, scored * r->n_chunk)) {
        tool_error(CMD, "out of memory");
        st = QUANT_EXIT_ERROR;
    }
    if (st != QUANT_EXIT_OK) {
        if (f)
            fclose(f);
        return st;
    }
    for (int64_t i = 0; i < r->n_chunk && st == QUANT_EXIT_OK; i++) {
        if (fread(r->base, sizeof(uint16_t) * record, (size_t)scored, f) != (size_t)scored) {
            tool_error(CMD, "%s: truncated: no log-probabilities for chunk %lld",
                       r->o->base_file, (long long)(i + 1));
            st = QUANT_EXIT_ERROR;
            break;
        }
        const int32_t *tokens = r->tokens + i * r->n_ctx;
        st = run_chunk(r, tokens);
        if (st != QUANT_EXIT_OK)
            break;
        report_progress(r, i + 1);
        if (i == 0)
            eval_kld_print_header(stdout);
        eval_kld_add(&kld, r->logits, r->model->hp.n_vocab, r->base, tokens + r->first + 1,
                     scored);
        eval_kld_print_chunk(stdout, &kld, (int)(i + 1));
        if (!tool_output_ok(CMD))
            st = QUANT_EXIT_ERROR;
    }
    fclose(f);
    if (st == QUANT_EXIT_OK) {
        report_speed(r);
        eval_kld_print_summary(stdout, &kld);
    }
    eval_kld_free(&kld);
    return st;
}

static void release(ppl_run *r) {
    free(r->logits);
    free(r->base);
    free(r->chunk);
    free(r->tokens);
    eval_context_free(r->ctx);
    eval_vocab_free(r->vocab);
    eval_model_close(r->model);
}

int cmd_perplexity(int argc, char **argv) {
    ppl_options o;
    int st = parse_args(argc, argv, &o);
    if (st >= 0)
        return st;
    if (o.kl_divergence)
        o.run.text = NULL; /* the tokens come from the base file */
    ppl_run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    st = load(&r);
    if (st == QUANT_EXIT_OK)
        st = o.kl_divergence ? kl_divergence(&r) : perplexity(&r);
    release(&r);
    return st;
}
