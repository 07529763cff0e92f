/*
 * The vocabulary of a model and what every tokenizer kind shares: see
 * eval_tokenizer.h and tokenizer_internal.h. The kind (SentencePiece,
 * byte-level BPE) is chosen by tokenizer.ggml.model from `kinds`.
 */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

#include "quant.h"

static const tokenizer_kind *const kinds[] = {&tokenizer_kind_spm, &tokenizer_kind_bpe};

/* ---- the string index ---------------------------------------------------- */

static uint64_t hash_text(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int32_t string_index_find(const string_index *ix, const char *s, size_t n) {
    for (uint64_t slot = hash_text(s, n) & ix->mask;; slot = (slot + 1) & ix->mask) {
        int32_t id = ix->slots[slot];
        if (id < 0)
            return -1;
        if (ix->items[id].len == n && memcmp(ix->items[id].text, s, n) == 0)
            return id;
    }
}

int string_index_build(string_index *ix, const vocab_token *items, int64_t count) {
    uint64_t size = 2;
    while (size < (uint64_t)count * 2)
        size <<= 1;
    ix->items = items;
    ix->slots = malloc(sizeof(int32_t) * size);
    if (!ix->slots)
        return LQ_ERR_NO_MEMORY;
    memset(ix->slots, 0xff, sizeof(int32_t) * size);
    ix->mask = size - 1;
    for (int64_t id = 0; id < count; id++) {
        const vocab_token *t = &items[id];
        if (string_index_find(ix, t->text, t->len) >= 0)
            continue;
        uint64_t slot = hash_text(t->text, t->len) & ix->mask;
        while (ix->slots[slot] >= 0)
            slot = (slot + 1) & ix->mask;
        ix->slots[slot] = (int32_t)id;
    }
    return LQ_OK;
}

void string_index_free(string_index *ix) {
    free(ix->slots);
    ix->slots = NULL;
}

/* ---- metadata ------------------------------------------------------------ */

const lq_gguf_value *vocab_find_array(const lq_gguf *g, const char *key, int elem_type) {
    const lq_gguf_value *val = lq_gguf_find(g, key);
    if (!val || val->type != LQ_GGUF_ARRAY || val->v.arr.elem_type != elem_type)
        return NULL;
    return val;
}

bool vocab_get_bool(const lq_gguf *g, const char *key, bool fallback) {
    const lq_gguf_value *val = lq_gguf_find(g, key);
    if (!val || val->type != LQ_GGUF_BOOL)
        return fallback;
    return val->v.u64 != 0;
}

static int32_t get_id(const lq_gguf *g, const char *key, int32_t fallback, int64_t count) {
    int64_t id;
    if (lq_gguf_get_i64(g, key, &id) != LQ_OK || id < 0 || id >= count)
        return fallback;
    return (int32_t)id;
}

static int load_tokens(const lq_gguf *g, eval_vocab *v, lq_gguf_error *err) {
    const char *path = lq_gguf_path(g);
    const lq_gguf_value *texts = vocab_find_array(g, "tokenizer.ggml.tokens", LQ_GGUF_STRING);
    if (!texts || texts->v.arr.count == 0 || texts->v.arr.count > INT32_MAX)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: missing or empty string array tokenizer.ggml.tokens", path);
    const lq_gguf_value *scores = vocab_find_array(g, "tokenizer.ggml.scores", LQ_GGUF_F32);
    const lq_gguf_value *types = vocab_find_array(g, "tokenizer.ggml.token_type", LQ_GGUF_I32);
    if (types && types->v.arr.count != texts->v.arr.count)
        types = NULL; /* inconsistent: every token normal, as without the key */
    v->count = (int64_t)texts->v.arr.count;
    if (scores && scores->v.arr.count != texts->v.arr.count)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: tokenizer.ggml.scores has %llu entries for %lld tokens", path,
                            (unsigned long long)scores->v.arr.count, (long long)v->count);
    v->tokens = calloc((size_t)v->count, sizeof(vocab_token));
    if (!v->tokens)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    for (int64_t i = 0; i < v->count; i++) {
        const lq_gguf_value *t = &texts->v.arr.items[i];
        if (t->v.str.len > UINT32_MAX)
            return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: token %lld is too long", path,
                                (long long)i);
        v->tokens[i].text = t->v.str.data;
        v->tokens[i].len = (uint32_t)t->v.str.len;
        v->tokens[i].score = scores ? (float)scores->v.arr.items[i].v.f64 : 0.0f;
        v->tokens[i].type = types ? (int32_t)types->v.arr.items[i].v.i64 : TOKEN_TYPE_NORMAL;
    }
    if (string_index_build(&v->index, v->tokens, v->count) != LQ_OK)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    return LQ_OK;
}

static const tokenizer_kind *find_kind(const char *model) {
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->model, model) == 0)
            return kinds[i];
    return NULL;
}

int eval_vocab_load(const lq_gguf *g, eval_vocab **out, lq_gguf_error *err) {
    *out = NULL;
    const char *path = lq_gguf_path(g);
    const char *model = NULL;
    if (lq_gguf_get_str(g, "tokenizer.ggml.model", &model) != LQ_OK)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: no tokenizer (tokenizer.ggml.model missing)",
                            path);
    const tokenizer_kind *kind = find_kind(model);
    if (!kind)
        return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                            "%s: tokenizer model '%s' (tokenizer.ggml.model) is not supported "
                            "(supported: llama (SentencePiece), gpt2 (byte-level BPE))",
                            path, model);
    eval_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    v->kind = kind;
    int st = load_tokens(g, v, err);
    v->bos = get_id(g, "tokenizer.ggml.bos_token_id", v->count > 1 ? 1 : 0, v->count);
    v->unk = get_id(g, "tokenizer.ggml.unknown_token_id", 0, v->count);
    v->eos = get_id(g, "tokenizer.ggml.eos_token_id", -1, v->count);
    v->eot = get_id(g, "tokenizer.ggml.eot_token_id", -1, v->count);
    v->add_bos = kind->add_bos_default;
    if (st == LQ_OK)
        st = kind->setup(g, v, err);
    if (st != LQ_OK) {
        eval_vocab_free(v);
        return st;
    }
    v->add_bos = vocab_get_bool(g, "tokenizer.ggml.add_bos_token", v->add_bos);
    *out = v;
    return LQ_OK;
}

void eval_vocab_free(eval_vocab *v) {
    if (!v)
        return;
    if (v->kind && v->state)
        v->kind->free_state(v->state);
    free(v->tokens);
    string_index_free(&v->index);
    free(v);
}

int64_t eval_vocab_size(const eval_vocab *v) { return v->count; }
int32_t eval_vocab_bos(const eval_vocab *v) { return v->bos; }
bool eval_vocab_adds_bos(const eval_vocab *v) { return v->add_bos; }
const char *eval_vocab_model(const eval_vocab *v) { return v->kind->model; }

int32_t eval_vocab_eos(const eval_vocab *v) { return v->eos; }
int32_t eval_vocab_eot(const eval_vocab *v) { return v->eot; }

bool eval_vocab_is_end(const eval_vocab *v, int32_t id) {
    return id >= 0 && (id == v->eos || id == v->eot);
}

size_t eval_token_piece(const eval_vocab *v, int32_t id, char *buf, size_t size) {
    if (id < 0 || id >= v->count)
        return 0;
    const vocab_token *t = &v->tokens[id];
    char local[256];
    const char *text = local;
    size_t len;
    if (t->type == TOKEN_TYPE_CONTROL)
        len = 0;
    else if (t->type == TOKEN_TYPE_USER_DEFINED) /* stored as it reads */
        text = t->text, len = t->len;
    else
        len = v->kind->piece(v, id, local);
    memcpy(buf, text, len < size ? len : size);
    return len;
}

const char *eval_vocab_text(const eval_vocab *v, int32_t id) {
    return id >= 0 && id < v->count ? v->tokens[id].text : NULL;
}

/* ---- tokenizing ---------------------------------------------------------- */

bool token_list_push(token_list *t, int32_t id) {
    if (t->count == t->capacity) {
        int64_t cap = t->capacity ? t->capacity * 2 : 256;
        int32_t *ids = realloc(t->ids, sizeof(int32_t) * (size_t)cap);
        if (!ids)
            return false;
        t->ids = ids;
        t->capacity = cap;
    }
    t->ids[t->count++] = id;
    return true;
}

int eval_tokenize(const eval_vocab *v, const char *text, size_t len, bool add_special,
                  int32_t **tokens, int64_t *count) {
    token_list out = {NULL, 0, 0};
    bool ok = true;
    if (add_special && v->add_bos)
        ok = token_list_push(&out, v->bos);
    /* an empty text gives no tokens besides BOS, as the reference */
    if (ok && len > 0)
        ok = v->kind->tokenize(v, text, len, &out);
    if (!ok) {
        free(out.ids);
        return LQ_ERR_NO_MEMORY;
    }
    *tokens = out.ids;
    *count = out.count;
    return LQ_OK;
}
