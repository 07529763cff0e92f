/*
 * quant bench model: a model's prompt-processing and token-generation speed
 * as users of the reference quote them. The default run is llama-bench's:
 * pp512 (512 tokens as batches into an empty cache) and tg128 (128 tokens
 * one at a time from an empty cache), each repeated -r times after a warm-up,
 * printed as mean ± sample standard deviation of the tokens/s. --sweep is
 * llama-sweep-bench's: at every depth of the cache in steps of -p tokens,
 * -n generated tokens (then dropped from the cache) and a batch of -p.
 * Tokens are pseudo-random ids: speed does not depend on the text.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval_forward.h"
#include "eval_model.h"
#include "eval_options.h"
#include "tool_common.h"

#define CMD "bench model"

/* Tokens per forward pass of prompt processing: the reference's default
 * micro-batch. */
enum { BATCH = 512 };

typedef struct model_bench_options {
    const char *model;
    long long n_prompt, n_gen, n_ctx, repeat;
    int threads;
    bool sweep, json;
    eval_cache_type cache_type;
} model_bench_options;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant bench model -m MODEL.gguf [-p N] [-n N] [-r N] [-t THREADS]\n"
            "                         [--cache-type f32|f16] [--json]\n"
            "       quant bench model -m MODEL.gguf --sweep [-c CTX] [-p N] [-n N] ...\n"
            "\n"
            "Prompt processing and token generation speed of a model, as llama-bench\n"
            "prints them: ppN processes N tokens in batches of up to 512 into an empty\n"
            "key/value cache, tgN generates N tokens one at a time from an empty cache;\n"
            "each runs -r times after a warm-up, and the table gives the mean and sample\n"
            "standard deviation of the tokens per second. With --sweep, as\n"
            "llama-sweep-bench: at cache depths 0, P, 2P, ... up to the context, the time\n"
            "of N generated tokens (dropped again) and of a batch of P tokens.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE      the model (GGUF; see below)\n"
            "  -p, --n-prompt N      prompt tokens (default 512; 0: no pp test); with\n"
            "                        --sweep the batch and the step of the depth\n"
            "  -n, --n-gen N         generated tokens (default 128; 0: no tg test)\n"
            "  -r, --repetitions N   runs of each test (default 5)\n"
            "  -c, --ctx-size N      --sweep: the deepest context (default: the model's\n"
            "                        trained context)\n"
            "      --sweep           the sweep over the cache depth\n"
            "      --cache-type T    f32 (default) or f16 keys and values in the cache\n"
            "  -t, --threads N       threads (default: all CPUs)\n"
            "      --json            one JSON object instead of the table\n"
            "  -h, --help            this help\n"
            "\n"
            EVAL_HELP_MODELS
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

enum { OPT_SWEEP = 256, OPT_CACHE_TYPE, OPT_JSON };

static int parse_option(int c, const char *arg, model_bench_options *o) {
    long long v = 0;
    switch (c) {
    case 'm': o->model = arg; return -1;
    case 'p':
    case 'n':
    case 'r':
    case 'c':
    case 't':
        if (!tool_parse_int(arg, c == 'p' || c == 'n' ? 0 : 1, c == 't' ? 256 : 1 << 24, &v))
            return tool_usage_error(CMD, print_help, "bad value '%s' for -%c (see --help)", arg,
                                    c);
        if (c == 'p')
            o->n_prompt = v;
        else if (c == 'n')
            o->n_gen = v;
        else if (c == 'r')
            o->repeat = v;
        else if (c == 'c')
            o->n_ctx = v;
        else
            o->threads = (int)v;
        return -1;
    case OPT_SWEEP: o->sweep = true; return -1;
    case OPT_JSON: o->json = true; return -1;
    case OPT_CACHE_TYPE:
        if (strcmp(arg, "f32") == 0)
            o->cache_type = EVAL_CACHE_F32;
        else if (strcmp(arg, "f16") == 0)
            o->cache_type = EVAL_CACHE_F16;
        else
            return tool_usage_error(CMD, print_help, "bad --cache-type '%s' (f32 or f16)", arg);
        return -1;
    case 'h': print_help(stdout); return QUANT_EXIT_OK;
    default:
        return tool_usage_error(CMD, print_help, "unknown option or missing value '%s'", arg);
    }
}

static int parse_args(int argc, char **argv, model_bench_options *o) {
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"n-prompt", required_argument, NULL, 'p'},
        {"n-gen", required_argument, NULL, 'n'},
        {"repetitions", required_argument, NULL, 'r'},
        {"ctx-size", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"sweep", no_argument, NULL, OPT_SWEEP},
        {"cache-type", required_argument, NULL, OPT_CACHE_TYPE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (model_bench_options){.n_prompt = 512, .n_gen = 128, .repeat = 5,
                               .threads = tool_cpu_count(), .cache_type = EVAL_CACHE_F32};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+m:p:n:r:c:t:h", long_options, NULL)) != -1) {
        int st = parse_option(c, c == '?' || c == ':' ? argv[optind - 1] : optarg, o);
        if (st >= 0)
            return st;
    }
    if (optind < argc)
        return tool_usage_error(CMD, print_help, "unexpected argument '%s'", argv[optind]);
    if (!o->model)
        return tool_usage_error(CMD, print_help, "no model given (-m)");
    if (o->n_prompt == 0 && o->n_gen == 0)
        return tool_usage_error(CMD, print_help, "nothing to measure (-p 0 and -n 0)");
    if (o->n_ctx > 0 && !o->sweep)
        return tool_usage_error(CMD, print_help, "-c applies to --sweep only (pp and tg start "
                                                 "from an empty cache)");
    if (o->sweep && o->n_prompt == 0)
        return tool_usage_error(CMD, print_help, "--sweep needs a batch of -p tokens above 0");
    return -1;
}

/* ---- the runs ------------------------------------------------------------ */

typedef struct model_bench {
    const model_bench_options *o;
    eval_model *model;
    eval_context *ctx;
    eval_kv_cache *kv;
    float *logits; /* one row */
    uint64_t rng;
} model_bench;

static int32_t random_token(model_bench *b) {
    uint64_t z = (b->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (int32_t)((z ^ (z >> 31)) % (uint64_t)b->model->hp.n_vocab);
}

static int failed(const model_bench *b, int st) {
    tool_error(CMD, "%s: forward pass failed: %s", b->o->model, lq_error_message(st));
    return QUANT_EXIT_ERROR;
}

/* n tokens after the cached ones, in batches, the last token's logits
 * computed as the reference computes them; the seconds in *seconds. */
static int process(model_bench *b, int64_t n, double *seconds) {
    int32_t batch[BATCH];
    const double t0 = tool_now();
    for (int64_t done = 0; done < n;) {
        const int64_t count = n - done < BATCH ? n - done : BATCH;
        for (int64_t i = 0; i < count; i++)
            batch[i] = random_token(b);
        int st = eval_forward_cached(b->ctx, b->kv, batch, count, count - 1,
                                     done + count == n ? b->logits : NULL);
        if (st != LQ_OK)
            return failed(b, st);
        done += count;
    }
    *seconds = tool_now() - t0;
    return QUANT_EXIT_OK;
}

/* n tokens one at a time, each one's logits computed. */
static int generate(model_bench *b, int64_t n, double *seconds) {
    const double t0 = tool_now();
    for (int64_t i = 0; i < n; i++) {
        const int32_t token = random_token(b);
        int st = eval_forward_cached(b->ctx, b->kv, &token, 1, 0, b->logits);
        if (st != LQ_OK)
            return failed(b, st);
    }
    *seconds = tool_now() - t0;
    return QUANT_EXIT_OK;
}

static int setup(model_bench *b, int64_t capacity) {
    lq_gguf_error err;
    if (eval_model_open(b->o->model, &b->model, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    if (capacity == 0)
        capacity = b->model->hp.n_ctx_train;
    const int64_t batch = b->o->n_prompt < BATCH ? (b->o->n_prompt > 0 ? b->o->n_prompt : 1)
                                                 : BATCH;
    b->ctx = eval_context_new(b->model, batch, b->o->threads);
    b->kv = eval_kv_cache_new(b->model, capacity, b->o->cache_type);
    b->logits = malloc(sizeof(float) * (size_t)b->model->hp.n_vocab);
    if (!b->ctx || !b->kv || !b->logits) {
        tool_error(CMD, "out of memory for a context of %lld tokens", (long long)capacity);
        return QUANT_EXIT_ERROR;
    }
    return QUANT_EXIT_OK;
}

/* ---- the model's description, as llama-bench prints it ------------------ */

typedef struct model_summary {
    uint64_t bytes, params;
    char type[32]; /* the type holding most of the weights' bytes */
} model_summary;

static model_summary summarize(const eval_model *m) {
    model_summary s = {0, 0, "?"};
    uint64_t bytes_of_type[LQ_TYPE_ID_LIMIT] = {0};
    for (int64_t i = 0; i < lq_gguf_tensor_count(m->gguf); i++) {
        const lq_gguf_tensor *t = lq_gguf_tensor_at(m->gguf, i);
        uint64_t n = 1;
        for (int d = 0; d < t->n_dims; d++)
            n *= (uint64_t)t->ne[d];
        s.bytes += t->size;
        s.params += n;
        if (t->type >= 0 && t->type < LQ_TYPE_ID_LIMIT)
            bytes_of_type[t->type] += t->size;
    }
    int top = -1;
    for (int t = 0; t < LQ_TYPE_ID_LIMIT; t++)
        if (bytes_of_type[t] > 0 && (top < 0 || bytes_of_type[t] > bytes_of_type[top]))
            top = t;
    if (top >= 0 && lq_type_name(top)) {
        snprintf(s.type, sizeof s.type, "%s", lq_type_name(top));
        for (char *p = s.type; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
    }
    return s;
}

static void format_params(uint64_t params, char *buf, size_t size) {
    if (params >= 1000000000ull)
        snprintf(buf, size, "%.2f B", (double)params / 1e9);
    else
        snprintf(buf, size, "%.2f M", (double)params / 1e6);
}

/* ---- llama-bench: pp and tg, repeated ------------------------------------ */

typedef struct test_result {
    char name[32];
    int64_t n_prompt, n_gen;
    double mean, stddev; /* tokens/s */
    double *samples;
} test_result;

static void mean_and_spread(test_result *t, int64_t count) {
    double sum = 0.0;
    for (int64_t i = 0; i < count; i++)
        sum += t->samples[i];
    t->mean = sum / (double)count;
    double sq = 0.0;
    for (int64_t i = 0; i < count; i++)
        sq += (t->samples[i] - t->mean) * (t->samples[i] - t->mean);
    t->stddev = count > 1 ? sqrt(sq / (double)(count - 1)) : 0.0;
}

/* One test: warm-up, then -r timed runs from an empty cache. */
static int run_test(model_bench *b, bool prompt, int64_t n, test_result *t) {
    double seconds;
    snprintf(t->name, sizeof t->name, "%s%lld", prompt ? "pp" : "tg", (long long)n);
    t->n_prompt = prompt ? n : 0;
    t->n_gen = prompt ? 0 : n;
    eval_kv_cache_truncate(b->kv, 0);
    int rc = prompt ? process(b, n < BATCH ? n : BATCH, &seconds) : generate(b, 1, &seconds);
    for (int64_t r = 0; rc == QUANT_EXIT_OK && r < b->o->repeat; r++) {
        eval_kv_cache_truncate(b->kv, 0);
        rc = prompt ? process(b, n, &seconds) : generate(b, n, &seconds);
        t->samples[r] = (double)n / (seconds > 0 ? seconds : 1e-9);
    }
    if (rc == QUANT_EXIT_OK)
        mean_and_spread(t, b->o->repeat);
    return rc;
}

/* llama-bench's markdown table, its column widths and alignment */
static void print_table_head(void) {
    printf("| %-30s | %10s | %10s | %-10s | %7s | %13s | %16s |\n", "model", "size", "params",
           "backend", "threads", "test", "t/s");
    printf("| ------------------------------ | ---------: | ---------: | ---------- | ------: "
           "| ------------: | ---------------: |\n");
}

static void print_table_row(const model_bench *b, const model_summary *s, const test_result *t) {
    char size[32], params[32], model[64];
    snprintf(model, sizeof model, "%s %s", eval_model_arch_name(b->model), s->type);
    format_params(s->params, params, sizeof params);
    char speed[48];
    snprintf(speed, sizeof speed, "%.2f ± %.2f", t->mean, t->stddev);
    /* "±" is two bytes of UTF-8 for one column: one more byte of width */
    printf("| %-30s | %10s | %10s | %-10s | %7d | %13s | %17s |\n", model,
           tool_format_bytes(s->bytes, size), params, "CPU", b->o->threads, t->name, speed);
}

static void print_json_head(const model_bench *b, const model_summary *s) {
    /* the path as a JSON string: quotes and backslashes escaped, control
     * characters (which no sane path holds) as '?' */
    printf("{\"model\": \"");
    for (const char *p = b->o->model; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        putchar((unsigned char)*p < 0x20 ? '?' : *p);
    }
    printf("\", \"architecture\": \"%s\", \"type\": \"%s\", \"size\": %llu, \"params\": %llu, "
           "\"threads\": %d, \"cache_type\": \"%s\"",
           eval_model_arch_name(b->model), s->type, (unsigned long long)s->bytes,
           (unsigned long long)s->params, b->o->threads,
           b->o->cache_type == EVAL_CACHE_F16 ? "f16" : "f32");
}

static int bench_tests(model_bench *b) {
    const model_bench_options *o = b->o;
    int rc = setup(b, o->n_prompt + o->n_gen);
    if (rc != QUANT_EXIT_OK)
        return rc;
    const model_summary s = summarize(b->model);
    test_result tests[2];
    int count = 0;
    double *samples = calloc(2 * (size_t)o->repeat, sizeof(double));
    if (!samples) {
        tool_error(CMD, "out of memory");
        return QUANT_EXIT_ERROR;
    }
    if (o->json)
        print_json_head(b, &s);
    else
        print_table_head();
    for (int which = 0; which < 2 && rc == QUANT_EXIT_OK; which++) {
        const bool prompt = which == 0;
        const int64_t n = prompt ? o->n_prompt : o->n_gen;
        if (n == 0)
            continue;
        test_result *t = &tests[count++];
        t->samples = samples + which * o->repeat;
        rc = run_test(b, prompt, n, t);
        if (rc == QUANT_EXIT_OK && !o->json) {
            print_table_row(b, &s, t);
            if (!tool_output_ok(CMD))
                rc = QUANT_EXIT_ERROR;
        }
    }
    if (rc == QUANT_EXIT_OK && o->json) {
        printf(", \"tests\": [");
        for (int i = 0; i < count; i++) {
            const test_result *t = &tests[i];
            printf("%s\n  {\"test\": \"%s\", \"n_prompt\": %lld, \"n_gen\": %lld, "
                   "\"avg_ts\": %.3f, \"stddev_ts\": %.3f, \"samples_ts\": [",
                   i ? "," : "", t->name, (long long)t->n_prompt, (long long)t->n_gen, t->mean,
                   t->stddev);
            for (long long r = 0; r < o->repeat; r++)
                printf("%s%.3f", r ? ", " : "", t->samples[r]);
            printf("]}");
        }
        printf("]}\n");
    }
    free(samples);
    return rc;
}

/* ---- llama-sweep-bench: speed against the depth of the cache ------------ */

static int bench_sweep(model_bench *b) {
    const model_bench_options *o = b->o;
    int rc = setup(b, o->n_ctx);
    if (rc != QUANT_EXIT_OK)
        return rc;
    const int64_t n_ctx = eval_kv_cache_capacity(b->kv), step = o->n_prompt, n_gen = o->n_gen;
    const int64_t needed = step > n_gen ? step : n_gen;
    if (needed > n_ctx) {
        tool_error(CMD, "a context of %lld tokens (-c) holds no step of %lld tokens",
                   (long long)n_ctx, (long long)needed);
        return QUANT_EXIT_ERROR;
    }
    const model_summary s = summarize(b->model);
    if (o->json) {
        print_json_head(b, &s);
        printf(", \"n_ctx\": %lld, \"sweep\": [", (long long)n_ctx);
    } else {
        printf("|    PP |     TG |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |\n"
               "|-------|--------|--------|----------|----------|----------|----------|\n");
    }
    /* warm-up, as the reference does, then from an empty cache */
    double t_pp = 0.0, t_tg = 0.0;
    rc = process(b, step < BATCH ? step : BATCH, &t_pp);
    eval_kv_cache_truncate(b->kv, 0);
    for (int64_t depth = 0; rc == QUANT_EXIT_OK && depth + needed <= n_ctx; depth += step) {
        t_tg = 0.0;
        if (n_gen > 0) {
            rc = generate(b, n_gen, &t_tg);
            eval_kv_cache_truncate(b->kv, depth);
        }
        if (rc == QUANT_EXIT_OK)
            rc = process(b, step, &t_pp);
        if (rc != QUANT_EXIT_OK)
            break;
        const double s_pp = (double)step / (t_pp > 0 ? t_pp : 1e-9);
        const double s_tg = n_gen > 0 ? (double)n_gen / (t_tg > 0 ? t_tg : 1e-9) : 0.0;
        if (o->json)
            printf("%s\n  {\"pp\": %lld, \"tg\": %lld, \"n_kv\": %lld, \"t_pp\": %.6f, "
                   "\"speed_pp\": %.3f, \"t_tg\": %.6f, \"speed_tg\": %.3f}",
                   depth ? "," : "", (long long)step, (long long)n_gen, (long long)depth, t_pp,
                   s_pp, t_tg, s_tg);
        else
            printf("| %5lld | %6lld | %6lld | %8.3f | %8.2f | %8.3f | %8.2f |\n",
                   (long long)step, (long long)n_gen, (long long)depth, t_pp, s_pp, t_tg, s_tg);
        if (!tool_output_ok(CMD))
            return QUANT_EXIT_ERROR;
    }
    if (rc == QUANT_EXIT_OK && o->json)
        printf("]}\n");
    return rc;
}

int cmd_bench_model(int argc, char **argv) {
    model_bench_options o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    model_bench b = {.o = &o, .rng = 1234};
    rc = o.sweep ? bench_sweep(&b) : bench_tests(&b);
    free(b.logits);
    eval_kv_cache_free(b.kv);
    eval_context_free(b.ctx);
    eval_model_close(b.model);
    return rc;
}
