/* Options shared by the commands that run a model over a text (perplexity,
 * imatrix): -m, -f, -c, --chunks, -t. */
#ifndef QUANT_TOOLS_EVAL_OPTIONS_H
#define QUANT_TOOLS_EVAL_OPTIONS_H

#include <stddef.h>

typedef struct eval_run_options {
    const char *model; /* -m, --model */
    const char *text;  /* -f, --file */
    long long n_ctx;   /* -c, --ctx-size: tokens per chunk (512) */
    long long chunks;  /* --chunks: at most this many chunks (-1: all) */
    int threads;       /* -t, --threads (all CPUs) */
} eval_run_options;

/* The models the evaluator runs, for --help (the man page of quant
 * perplexity has the details); keep it in step with eval_arch.c and the
 * pre-tokenizers of tokenizer_bpe.c (test_eval_tools checks --help). */
#define EVAL_HELP_MODELS                                                                  \
    "models: architectures llama (also Llama 3 with rope_freqs), qwen2, qwen3,\n"          \
    "qwen3moe; vocabularies llama (SentencePiece) and gpt2 (byte-level BPE) with\n"        \
    "the pre-tokenizers default, gpt2, llama-bpe, qwen2, deepseek-llm, deepseek-v3\n"

/* getopt code of --chunks; the commands' own codes start above it. */
enum { EVAL_OPT_CHUNKS = 256, EVAL_OPT_FIRST_FREE };

eval_run_options eval_run_defaults(void);

/* Store option c if it is one of the shared ones: returns 1 when stored, 0
 * when c is not a shared option, -1 for a bad value (message in msg). */
int eval_run_option(int c, const char *arg, eval_run_options *o, char *msg, size_t msg_size);

#endif
