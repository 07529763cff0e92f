/*
 * Tokenizer of the evaluator: the vocabulary stored in a GGUF model
 * (tokenizer.ggml.*), reproducing ik_llama.cpp's ids as its perplexity and
 * imatrix tools tokenize (special tokens are not looked for in the text).
 * One file per kind of tokenizer.ggml.model: tokenizer_spm.c ("llama",
 * SentencePiece), tokenizer_bpe.c ("gpt2", byte-level BPE with the
 * pre-tokenizer of tokenizer.ggml.pre).
 */
#ifndef QUANT_TOOLS_EVAL_TOKENIZER_H
#define QUANT_TOOLS_EVAL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant_gguf.h"

typedef struct eval_vocab eval_vocab;

/* Load the vocabulary of a model. The model must stay open while the
 * vocabulary is used (token texts point into it). Errors: LQ_ERR_FORMAT
 * (missing or inconsistent keys), LQ_ERR_UNSUPPORTED (a tokenizer model
 * or pre-tokenizer this build does not know, named in the message),
 * LQ_ERR_NO_MEMORY; err gets a message naming the file. */
int eval_vocab_load(const lq_gguf *g, eval_vocab **out, lq_gguf_error *err);
void eval_vocab_free(eval_vocab *v);

int64_t eval_vocab_size(const eval_vocab *v);
int32_t eval_vocab_bos(const eval_vocab *v);
/* Whether the vocabulary asks for a BOS at the start of a text. */
bool eval_vocab_adds_bos(const eval_vocab *v);
/* The tokenizer.ggml.model of the vocabulary ("llama", "gpt2"). */
const char *eval_vocab_model(const eval_vocab *v);
/* The end-of-sequence token and the end-of-turn one (-1 if absent). */
int32_t eval_vocab_eos(const eval_vocab *v);
int32_t eval_vocab_eot(const eval_vocab *v);
/* Whether generation stops at this token (EOS or EOT). */
bool eval_vocab_is_end(const eval_vocab *v, int32_t id);

/* The text a token stands for in generated output, as bytes (possibly part
 * of a UTF-8 character): SentencePiece's U+2581 becomes a space and <0xNN>
 * its byte; byte-level BPE's characters their bytes; control tokens (BOS,
 * EOS) nothing. Writes up to size bytes of it into buf and returns its
 * full length (0 for an id out of range). */
size_t eval_token_piece(const eval_vocab *v, int32_t id, char *buf, size_t size);

/* Text of a token (NULL if out of range). */
const char *eval_vocab_text(const eval_vocab *v, int32_t id);

/* Tokenize len bytes of text (BOS first when add_special and the vocabulary
 * adds one). *tokens is malloc'd. LQ_OK or LQ_ERR_NO_MEMORY. */
int eval_tokenize(const eval_vocab *v, const char *text, size_t len, bool add_special,
                  int32_t **tokens, int64_t *count);

#endif
