/*
 * quant generate: run a model on a prompt and continue it. The prompt goes
 * through as one batch (in batches of up to BATCH tokens) that fills the
 * key/value cache, then each new token is a forward pass of one token
 * (eval_forward_cached). Greedy (the most likely token) unless --temp asks
 * for sampling; the text is printed as it is generated, or once as JSON.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "eval_forward.h"
#include "eval_model.h"
#include "eval_options.h"
#include "eval_tokenizer.h"
#include "tool_common.h"

#define CMD "generate"

/* Prompt tokens per forward pass: the reference's default micro-batch. */
enum { BATCH = 512 };

typedef struct gen_options {
    const char *model, *prompt;
    long long n_predict, n_ctx; /* n_ctx 0: the model's trained context */
    double temp, top_p;
    long long top_k;
    uint64_t seed;
    bool seed_given, json;
    eval_cache_type cache_type;
    int threads;
} gen_options;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant generate -m MODEL.gguf -p PROMPT [options]\n"
            "\n"
            "Continue PROMPT with the model: the prompt is processed as one batch that\n"
            "fills the key/value cache, then one token at a time is generated until the\n"
            "end-of-sequence token, N tokens, or a full context. The prompt and the new\n"
            "text go to standard output as they come; speed goes to stderr.\n"
            "Greedy (the most likely token every time) unless --temp is above 0.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE      the model (GGUF; see below)\n"
            "  -p, --prompt TEXT     the prompt (BOS first if the vocabulary adds one)\n"
            "  -n, --n-predict N     generate at most N tokens (default 128)\n"
            "  -c, --ctx-size N      context: prompt and generated tokens (default: the\n"
            "                        model's trained context)\n"
            "      --temp T          sampling temperature (default 0: greedy)\n"
            "      --top-k K         sample among the K most likely tokens (default 40;\n"
            "                        0: all)\n"
            "      --top-p P         ... and the most likely whose probabilities sum to P\n"
            "                        (default 0.95; 1: all)\n"
            "      --seed S          seed of the sampler (default: from the clock)\n"
            "      --cache-type T    f32 (default) or f16 keys and values in the cache\n"
            "  -t, --threads N       threads (default: all CPUs)\n"
            "      --json            print one JSON object at the end instead of the text:\n"
            "                        prompt, text, token ids, why it stopped, timings\n"
            "  -h, --help            this help\n"
            "\n"
            EVAL_HELP_MODELS
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

enum { OPT_TEMP = 256, OPT_TOP_K, OPT_TOP_P, OPT_SEED, OPT_CACHE_TYPE, OPT_JSON };

static bool parse_real(const char *text, double min, double max, double *out) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

static int parse_option(int c, const char *arg, gen_options *o) {
    long long v = 0;
    switch (c) {
    case 'm': o->model = arg; return -1;
    case 'p': o->prompt = arg; return -1;
    case 'n':
        if (!tool_parse_int(arg, 0, 1 << 24, &v))
            return tool_usage_error(CMD, print_help, "bad token count '%s' (-n)", arg);
        o->n_predict = v;
        return -1;
    case 'c':
        if (!tool_parse_int(arg, 1, 1 << 24, &v))
            return tool_usage_error(CMD, print_help, "bad context size '%s' (-c)", arg);
        o->n_ctx = v;
        return -1;
    case 't':
        if (!tool_parse_int(arg, 1, 256, &v))
            return tool_usage_error(CMD, print_help, "bad thread count '%s' (-t)", arg);
        o->threads = (int)v;
        return -1;
    case OPT_TEMP:
        if (!parse_real(arg, 0.0, 100.0, &o->temp))
            return tool_usage_error(CMD, print_help, "bad temperature '%s' (--temp, 0 to 100)",
                                    arg);
        return -1;
    case OPT_TOP_K:
        if (!tool_parse_int(arg, 0, INT32_MAX, &o->top_k))
            return tool_usage_error(CMD, print_help, "bad --top-k '%s'", arg);
        return -1;
    case OPT_TOP_P:
        if (!parse_real(arg, 0.0, 1.0, &o->top_p) || o->top_p <= 0.0)
            return tool_usage_error(CMD, print_help, "bad --top-p '%s' (above 0, at most 1)",
                                    arg);
        return -1;
    case OPT_SEED: {
        char *end;
        unsigned long long s = strtoull(arg, &end, 10);
        if (end == arg || *end || arg[0] == '-')
            return tool_usage_error(CMD, print_help, "bad --seed '%s'", arg);
        o->seed = s;
        o->seed_given = true;
        return -1;
    }
    case OPT_CACHE_TYPE:
        if (strcmp(arg, "f32") == 0)
            o->cache_type = EVAL_CACHE_F32;
        else if (strcmp(arg, "f16") == 0)
            o->cache_type = EVAL_CACHE_F16;
        else
            return tool_usage_error(CMD, print_help, "bad --cache-type '%s' (f32 or f16)", arg);
        return -1;
    case OPT_JSON: o->json = true; return -1;
    case 'h': print_help(stdout); return QUANT_EXIT_OK;
    default:
        return tool_usage_error(CMD, print_help, "unknown option or missing value '%s'", arg);
    }
}

static int parse_args(int argc, char **argv, gen_options *o) {
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"prompt", required_argument, NULL, 'p'},
        {"n-predict", required_argument, NULL, 'n'},
        {"ctx-size", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"temp", required_argument, NULL, OPT_TEMP},
        {"top-k", required_argument, NULL, OPT_TOP_K},
        {"top-p", required_argument, NULL, OPT_TOP_P},
        {"seed", required_argument, NULL, OPT_SEED},
        {"cache-type", required_argument, NULL, OPT_CACHE_TYPE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (gen_options){.n_predict = 128, .top_k = 40, .top_p = 0.95,
                       .cache_type = EVAL_CACHE_F32, .threads = tool_cpu_count()};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+m:p:n:c:t:h", long_options, NULL)) != -1) {
        int st = parse_option(c, c == '?' || c == ':' ? argv[optind - 1] : optarg, o);
        if (st >= 0)
            return st;
    }
    if (optind < argc)
        return tool_usage_error(CMD, print_help, "unexpected argument '%s'", argv[optind]);
    if (!o->model)
        return tool_usage_error(CMD, print_help, "no model given (-m)");
    if (!o->prompt)
        return tool_usage_error(CMD, print_help, "no prompt given (-p)");
    if (!o->seed_given)
        o->seed = (uint64_t)time(NULL);
    return -1;
}

/* ---- sampling ------------------------------------------------------------ */

/* splitmix64: a small generator whose state is the caller's */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct candidate {
    int32_t id;
    float logit;
} candidate;

static int by_logit_descending(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Whether a ranks below b (a lower logit, or the same and a larger id). */
static bool ranks_below(const candidate *a, const candidate *b) {
    return by_logit_descending(a, b) > 0;
}

/* The k best of logits[0..n) into cand[0..k), best first: a heap of the k
 * best so far whose root is the worst of them, so a large vocabulary costs
 * n log k rather than a full sort. */
static void select_top(const float *logits, int64_t n, int64_t k, candidate *cand) {
    int64_t size = 0;
    for (int64_t i = 0; i < n; i++) {
        const candidate c = {(int32_t)i, logits[i]};
        int64_t at;
        if (size < k) {
            at = size++;
            while (at > 0 && ranks_below(&c, &cand[(at - 1) / 2])) {
                cand[at] = cand[(at - 1) / 2];
                at = (at - 1) / 2;
            }
        } else if (ranks_below(&cand[0], &c)) {
            at = 0;
            for (;;) {
                int64_t child = 2 * at + 1;
                if (child >= size)
                    break;
                if (child + 1 < size && ranks_below(&cand[child + 1], &cand[child]))
                    child++;
                if (!ranks_below(&cand[child], &c))
                    break;
                cand[at] = cand[child];
                at = child;
            }
        } else {
            continue;
        }
        cand[at] = c;
    }
    qsort(cand, (size_t)size, sizeof *cand, by_logit_descending);
}

static int32_t argmax(const float *logits, int64_t n) {
    int32_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = (int32_t)i;
    return best;
}

/* Greedy at temperature 0; otherwise the top-k tokens, then the smallest
 * most-likely set whose probability reaches top_p, drawn from the
 * softmax of logits / temp. cand holds n entries. */
static int32_t sample(const gen_options *o, const float *logits, int64_t n, candidate *cand,
                      uint64_t *rng) {
    if (o->temp <= 0.0)
        return argmax(logits, n);
    int64_t kept = o->top_k > 0 && o->top_k < n ? o->top_k : n;
    select_top(logits, n, kept, cand);
    double sum = 0.0;
    double *p = malloc(sizeof(double) * (size_t)kept);
    if (!p)
        return cand[0].id;
    for (int64_t i = 0; i < kept; i++) {
        p[i] = exp(((double)cand[i].logit - cand[0].logit) / o->temp);
        sum += p[i];
    }
    double mass = 0.0;
    for (int64_t i = 0; i < kept; i++) {
        mass += p[i] / sum;
        if (mass >= o->top_p) {
            kept = i + 1;
            break;
        }
    }
    double total = 0.0;
    for (int64_t i = 0; i < kept; i++)
        total += p[i];
    /* 53 random bits: a uniform draw in [0, total) */
    double u = (double)(next_random(rng) >> 11) * 0x1.0p-53 * total;
    int32_t chosen = cand[kept - 1].id;
    for (int64_t i = 0; i < kept; i++) {
        if (u < p[i]) {
            chosen = cand[i].id;
            break;
        }
        u -= p[i];
    }
    free(p);
    return chosen;
}

/* ---- output ------------------------------------------------------------- */

/* Length of the valid UTF-8 character at s (n bytes left), 0 if invalid. */
static size_t utf8_char_length(const unsigned char *s, size_t n) {
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
                               : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xC2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* A JSON string; bytes that are no valid UTF-8 (a character cut by the
 * token limit) become U+FFFD. */
static void print_json_string(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    putchar('"');
    for (size_t i = 0; i < len;) {
        const size_t n = utf8_char_length(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", stdout);
            i++;
        } else if (n > 1) {
            fwrite(s + i, 1, n, stdout);
            i += n;
        } else {
            const unsigned char ch = s[i++];
            if (ch == '"' || ch == '\\')
                printf("\\%c", ch);
            else if (ch == '\n')
                fputs("\\n", stdout);
            else if (ch == '\t')
                fputs("\\t", stdout);
            else if (ch < 0x20 || ch == 0x7F)
                printf("\\u%04x", ch);
            else
                putchar(ch);
        }
    }
    putchar('"');
}

/* ---- the run ------------------------------------------------------------ */

typedef struct gen_run {
    const gen_options *o;
    eval_model *model;
    eval_vocab *vocab;
    eval_context *ctx;
    eval_kv_cache *kv;
    int32_t *prompt;
    int64_t n_prompt, n_ctx;
    int32_t *generated;
    int64_t n_generated;
    char *text; /* the generated text's bytes */
    size_t text_len, text_cap;
    float *logits;
    candidate *candidates;
    double prompt_seconds, gen_seconds;
    const char *stop;
} gen_run;

static int load(gen_run *r) {
    lq_gguf_error err;
    if (eval_model_open(r->o->model, &r->model, &err) != LQ_OK ||
        eval_vocab_load(r->model->gguf, &r->vocab, &err) != LQ_OK) {
        tool_error(CMD, "%s", err.message);
        return QUANT_EXIT_ERROR;
    }
    if (eval_tokenize(r->vocab, r->o->prompt, strlen(r->o->prompt), true, &r->prompt,
                      &r->n_prompt) != LQ_OK) {
        tool_error(CMD, "out of memory tokenizing the prompt");
        return QUANT_EXIT_ERROR;
    }
    if (r->n_prompt == 0) {
        tool_error(CMD, "the prompt is empty and %s adds no BOS token: nothing to continue",
                   r->o->model);
        return QUANT_EXIT_ERROR;
    }
    r->n_ctx = r->o->n_ctx > 0 ? r->o->n_ctx : r->model->hp.n_ctx_train;
    if (r->n_prompt > r->n_ctx) {
        tool_error(CMD, "the prompt is %lld tokens, more than the context of %lld (-c)",
                   (long long)r->n_prompt, (long long)r->n_ctx);
        return QUANT_EXIT_ERROR;
    }
    const int64_t batch = r->n_prompt < BATCH ? r->n_prompt : BATCH;
    const int64_t n_vocab = r->model->hp.n_vocab;
    r->ctx = eval_context_new(r->model, batch, r->o->threads);
    r->kv = eval_kv_cache_new(r->model, r->n_ctx, r->o->cache_type);
    r->logits = malloc(sizeof(float) * (size_t)n_vocab);
    r->candidates = malloc(sizeof(candidate) * (size_t)n_vocab);
    r->generated = malloc(sizeof(int32_t) * (size_t)(r->o->n_predict + 1));
    if (!r->ctx || !r->kv || !r->logits || !r->candidates || !r->generated) {
        tool_error(CMD, "out of memory for a context of %lld tokens", (long long)r->n_ctx);
        return QUANT_EXIT_ERROR;
    }
    return QUANT_EXIT_OK;
}

static int forward_failed(const gen_run *r, int st) {
    tool_error(CMD, "%s: forward pass failed: %s", r->o->model, lq_error_message(st));
    return QUANT_EXIT_ERROR;
}

/* The prompt in batches; the logits of its last token. */
static int process_prompt(gen_run *r) {
    const double t0 = tool_now();
    for (int64_t done = 0; done < r->n_prompt;) {
        const int64_t n = r->n_prompt - done < BATCH ? r->n_prompt - done : BATCH;
        const bool last = done + n == r->n_prompt;
        int st = eval_forward_cached(r->ctx, r->kv, r->prompt + done, n, n - 1,
                                     last ? r->logits : NULL);
        if (st != LQ_OK)
            return forward_failed(r, st);
        done += n;
    }
    r->prompt_seconds = tool_now() - t0;
    return QUANT_EXIT_OK;
}

static bool append_text(gen_run *r, const char *piece, size_t n) {
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = (r->text_cap ? r->text_cap * 2 : 1024) + n;
        char *t = realloc(r->text, cap);
        if (!t)
            return false;
        r->text = t, r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, piece, n);
    r->text_len += n;
    return true;
}

static int generate(gen_run *r) {
    uint64_t rng = r->o->seed;
    const int64_t n_vocab = r->model->hp.n_vocab;
    r->stop = "length";
    const double t0 = tool_now();
    while (r->n_generated < r->o->n_predict) {
        const int32_t token = sample(r->o, r->logits, n_vocab, r->candidates, &rng);
        if (eval_vocab_is_end(r->vocab, token)) {
            r->stop = "eos";
            break;
        }
        r->generated[r->n_generated++] = token;
        char piece[256];
        size_t n = eval_token_piece(r->vocab, token, piece, sizeof piece);
        n = n < sizeof piece ? n : sizeof piece;
        if (!append_text(r, piece, n)) {
            tool_error(CMD, "out of memory for the generated text");
            return QUANT_EXIT_ERROR;
        }
        if (!r->o->json) {
            fwrite(piece, 1, n, stdout);
            if (!tool_output_ok(CMD))
                return QUANT_EXIT_ERROR;
        }
        if (r->n_generated == r->o->n_predict)
            break;
        if (eval_kv_cache_used(r->kv) == r->n_ctx) {
            r->stop = "context";
            break;
        }
        int st = eval_forward_cached(r->ctx, r->kv, &token, 1, 0, r->logits);
        if (st != LQ_OK)
            return forward_failed(r, st);
    }
    r->gen_seconds = tool_now() - t0;
    return QUANT_EXIT_OK;
}

static double per_second(double count, double seconds) {
    return seconds > 0 ? count / seconds : 0.0;
}

static void print_json(const gen_run *r) {
    const gen_options *o = r->o;
    printf("{\"model\": ");
    print_json_string(o->model, strlen(o->model));
    printf(", \"prompt\": ");
    print_json_string(o->prompt, strlen(o->prompt));
    printf(", \"prompt_tokens\": [");
    for (int64_t i = 0; i < r->n_prompt; i++)
        printf("%s%d", i ? ", " : "", r->prompt[i]);
    printf("], \"tokens\": [");
    for (int64_t i = 0; i < r->n_generated; i++)
        printf("%s%d", i ? ", " : "", r->generated[i]);
    printf("], \"text\": ");
    print_json_string(r->text ? r->text : "", r->text_len);
    printf(", \"stop\": \"%s\", \"sampling\": ", r->stop);
    if (o->temp > 0)
        printf("{\"temp\": %g, \"top_k\": %lld, \"top_p\": %g, \"seed\": %llu}", o->temp,
               o->top_k, o->top_p, (unsigned long long)o->seed);
    else
        printf("\"greedy\"");
    printf(", \"cache_type\": \"%s\", \"threads\": %d, \"n_ctx\": %lld,\n"
           " \"prompt_seconds\": %.6f, \"prompt_tokens_per_second\": %.3f,"
           " \"generation_seconds\": %.6f, \"generation_tokens_per_second\": %.3f}\n",
           o->cache_type == EVAL_CACHE_F16 ? "f16" : "f32", o->threads, (long long)r->n_ctx,
           r->prompt_seconds, per_second((double)r->n_prompt, r->prompt_seconds), r->gen_seconds,
           per_second((double)r->n_generated, r->gen_seconds));
}

static int run(gen_run *r) {
    int rc = load(r);
    if (rc != QUANT_EXIT_OK)
        return rc;
    if (!r->o->json) {
        fputs(r->o->prompt, stdout);
        if (!tool_output_ok(CMD))
            return QUANT_EXIT_ERROR;
    }
    rc = process_prompt(r);
    if (rc == QUANT_EXIT_OK)
        rc = generate(r);
    if (rc != QUANT_EXIT_OK)
        return rc;
    if (r->o->json) {
        print_json(r);
    } else {
        putchar('\n');
        if (!tool_output_ok(CMD)) /* the text before the summary on a terminal */
            return QUANT_EXIT_ERROR;
        fprintf(stderr,
                "%s: prompt %lld tokens in %.3f s (%.1f tokens/s); generated %lld tokens in "
                "%.3f s (%.1f tokens/s); stop: %s; %d threads\n",
                CMD, (long long)r->n_prompt, r->prompt_seconds,
                per_second((double)r->n_prompt, r->prompt_seconds), (long long)r->n_generated,
                r->gen_seconds, per_second((double)r->n_generated, r->gen_seconds), r->stop,
                r->o->threads);
    }
    return tool_output_ok(CMD) ? QUANT_EXIT_OK : QUANT_EXIT_ERROR;
}

int cmd_generate(int argc, char **argv) {
    gen_options o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    gen_run r = {.o = &o};
    rc = run(&r);
    free(r.prompt), free(r.generated), free(r.text), free(r.logits), free(r.candidates);
    eval_kv_cache_free(r.kv);
    eval_context_free(r.ctx);
    eval_vocab_free(r.vocab);
    eval_model_close(r.model);
    return rc;
}
