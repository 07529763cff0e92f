/* Options shared by perplexity and imatrix. */
#include "eval_options.h"

#include <stdint.h>
#include <stdio.h>

#include "tool_common.h"

eval_run_options eval_run_defaults(void) {
    return (eval_run_options){NULL, NULL, 512, -1, tool_cpu_count()};
}

int eval_run_option(int c, const char *arg, eval_run_options *o, char *msg, size_t msg_size) {
    long long v;
    switch (c) {
    case 'm': o->model = arg; return 1;
    case 'f': o->text = arg; return 1;
    case 'c':
        if (!tool_parse_int(arg, 8, 1 << 20, &v))
            return snprintf(msg, msg_size, "bad context size '%s' (8 .. 1048576)", arg), -1;
        o->n_ctx = v;
        return 1;
    case EVAL_OPT_CHUNKS:
        if (!tool_parse_int(arg, 1, INT32_MAX, &v))
            return snprintf(msg, msg_size, "bad chunk count '%s'", arg), -1;
        o->chunks = v;
        return 1;
    case 't':
        if (!tool_parse_int(arg, 1, 256, &v))
            return snprintf(msg, msg_size, "bad thread count '%s' (1 .. 256)", arg), -1;
        o->threads = (int)v;
        return 1;
    default: return 0;
    }
}
