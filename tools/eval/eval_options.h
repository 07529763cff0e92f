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

/* getopt code of --chunks; the commands' own codes start above it. */
enum { EVAL_OPT_CHUNKS = 256, EVAL_OPT_FIRST_FREE };

eval_run_options eval_run_defaults(void);

/* Store option c if it is one of the shared ones: returns 1 when stored, 0
 * when c is not a shared option, -1 for a bad value (message in msg). */
int eval_run_option(int c, const char *arg, eval_run_options *o, char *msg, size_t msg_size);

#endif
