/*
 * Text input of the evaluator: a whole file, plain or gzip-compressed
 * (zlib detects which), tokenized with the model's vocabulary.
 */
#ifndef QUANT_TOOLS_EVAL_TEXT_H
#define QUANT_TOOLS_EVAL_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "eval_tokenizer.h"

/* Read a file into a malloc'd buffer (NUL-terminated; *len excludes it).
 * LQ_ERR_IO (message naming the file) or LQ_ERR_NO_MEMORY on failure. */
int eval_read_text(const char *path, char **text, size_t *len, lq_gguf_error *err);

/* Read and tokenize a text file (BOS first if the vocabulary adds one). */
int eval_tokenize_file(const eval_vocab *v, const char *path, int32_t **tokens, int64_t *count,
                       lq_gguf_error *err);

#endif
