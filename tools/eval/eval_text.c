/*
 * Text input of the evaluator: see eval_text.h.
 */
#include "eval_text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gguf_internal.h"
#include "quant.h"

int eval_read_text(const char *path, char **text, size_t *len, lq_gguf_error *err) {
    *text = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return lq_gguf_fail(err, LQ_ERR_IO, "%s: %s", path,
                            errno ? strerror(errno) : "cannot open");
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    int st = buf ? LQ_OK : lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    while (st == LQ_OK) {
        if (cap - n < (1 << 16)) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                st = lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            st = lq_gguf_fail(err, LQ_ERR_IO, "%s: read error: %s", path,
                              code == Z_ERRNO ? strerror(errno) : msg);
        } else if (got == 0) {
            break;
        }
        n += (size_t)(got > 0 ? got : 0);
    }
    gzclose(f);
    if (st != LQ_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return LQ_OK;
}

int eval_tokenize_file(const eval_vocab *v, const char *path, int32_t **tokens, int64_t *count,
                       lq_gguf_error *err) {
    char *text;
    size_t len;
    int st = eval_read_text(path, &text, &len, err);
    if (st != LQ_OK)
        return st;
    st = eval_tokenize(v, text, len, true, tokens, count);
    free(text);
    if (st != LQ_OK)
        return lq_gguf_fail(err, st, "%s: out of memory while tokenizing", path);
    return LQ_OK;
}
