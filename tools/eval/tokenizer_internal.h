/*
 * What the tokenizer kinds share (eval_tokenizer.c) and what each kind
 * provides (tokenizer_spm.c, tokenizer_bpe.c): the token table with its
 * hash index, the growing list of output ids, and one `tokenizer_kind`
 * row per value of tokenizer.ggml.model.
 */
#ifndef QUANT_TOOLS_EVAL_TOKENIZER_INTERNAL_H
#define QUANT_TOOLS_EVAL_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval_tokenizer.h"
#include "gguf_internal.h"

/* Token types of tokenizer.ggml.token_type (llama.cpp's values). */
enum {
    TOKEN_TYPE_NORMAL = 1,
    TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4,
    TOKEN_TYPE_BYTE = 6,
};

typedef struct vocab_token {
    const char *text;
    uint32_t len;
    float score;
    int32_t type; /* tokenizer.ggml.token_type, TOKEN_TYPE_NORMAL without it */
} vocab_token;

/* An open-addressing hash of the texts of items[0..count) to their
 * indices; the first of duplicate texts wins, as in a map filled in order.
 * items stay owned by the caller. */
typedef struct string_index {
    const vocab_token *items;
    int32_t *slots; /* index or -1 */
    uint64_t mask;
} string_index;

int string_index_build(string_index *ix, const vocab_token *items, int64_t count);
/* Index of the item whose text is exactly s[0..n), or -1. */
int32_t string_index_find(const string_index *ix, const char *s, size_t n);
void string_index_free(string_index *ix);

typedef struct tokenizer_kind tokenizer_kind;

struct eval_vocab {
    const tokenizer_kind *kind;
    vocab_token *tokens;
    int64_t count;
    string_index index;
    int32_t bos, unk;
    int32_t eos, eot; /* -1 when the vocabulary has none */
    bool add_bos;
    void *state; /* the kind's own data */
};

typedef struct token_list {
    int32_t *ids;
    int64_t count, capacity;
} token_list;

bool token_list_push(token_list *t, int32_t id);

/* Id of the token whose text is exactly s[0..n), or -1. */
static inline int32_t vocab_lookup(const eval_vocab *v, const char *s, size_t n) {
    return string_index_find(&v->index, s, n);
}

struct tokenizer_kind {
    const char *model; /* tokenizer.ggml.model */
    /* default for tokenizer.ggml.add_bos_token (before the kind's setup) */
    bool add_bos_default;
    /* Read the kind's metadata into v->state (v->tokens and the index are
     * loaded, v->add_bos holds the default; setup may change it before the
     * metadata key overrides it). */
    int (*setup)(const lq_gguf *g, eval_vocab *v, lq_gguf_error *err);
    void (*free_state)(void *state);
    /* The bytes a token stands for (a normal or byte token; eval_token_piece
     * handles the others) into buf (size >= 256), its length returned. */
    size_t (*piece)(const eval_vocab *v, int32_t id, char *buf);
    /* Append the ids of len > 0 bytes of text. false when out of memory. */
    bool (*tokenize)(const eval_vocab *v, const char *text, size_t len, token_list *out);
};

extern const tokenizer_kind tokenizer_kind_spm;
extern const tokenizer_kind tokenizer_kind_bpe;

/* Metadata helpers. */
const lq_gguf_value *vocab_find_array(const lq_gguf *g, const char *key, int elem_type);
bool vocab_get_bool(const lq_gguf *g, const char *key, bool fallback);

#endif
