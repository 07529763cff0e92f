/*
 * SentencePiece-style ("llama") tokenizer: see eval_tokenizer.h.
 *
 * The merge loop keeps every candidate pair of adjacent symbols in a
 * max-heap ordered by the score of the token they form; a popped pair whose
 * symbols changed since it was pushed is stale and skipped. Every merged
 * symbol is a token by construction, so only single characters can need
 * the byte fallback.
 */
#include "eval_tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"
#include "quant.h"

/* Token types of tokenizer.ggml.token_type (llama.cpp's values). */
enum { TOKEN_TYPE_USER_DEFINED = 4 };

typedef struct vocab_token {
    const char *text;
    uint32_t len;
    float score;
} vocab_token;

struct eval_vocab {
    vocab_token *tokens;
    int64_t count;
    int32_t *slots; /* open-addressing hash of token texts: id or -1 */
    uint64_t slot_mask;
    int32_t bos, unk;
    bool add_bos;
    bool add_space_prefix;
    int32_t byte_tokens[256];
};

static uint64_t hash_text(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Id of the token whose text is exactly s[0..n), or -1. */
static int32_t lookup(const eval_vocab *v, const char *s, size_t n) {
    for (uint64_t slot = hash_text(s, n) & v->slot_mask;; slot = (slot + 1) & v->slot_mask) {
        int32_t id = v->slots[slot];
        if (id < 0)
            return -1;
        if (v->tokens[id].len == n && memcmp(v->tokens[id].text, s, n) == 0)
            return id;
    }
}

static int build_index(eval_vocab *v) {
    uint64_t size = 1;
    while (size < (uint64_t)v->count * 2)
        size <<= 1;
    v->slots = malloc(sizeof(int32_t) * size);
    if (!v->slots)
        return LQ_ERR_NO_MEMORY;
    memset(v->slots, 0xff, sizeof(int32_t) * size);
    v->slot_mask = size - 1;
    for (int64_t id = 0; id < v->count; id++) {
        const vocab_token *t = &v->tokens[id];
        /* the first of duplicate texts wins, as in a map filled in order */
        if (lookup(v, t->text, t->len) >= 0)
            continue;
        uint64_t slot = hash_text(t->text, t->len) & v->slot_mask;
        while (v->slots[slot] >= 0)
            slot = (slot + 1) & v->slot_mask;
        v->slots[slot] = (int32_t)id;
    }
    return LQ_OK;
}

static void find_byte_tokens(eval_vocab *v) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        int32_t id = lookup(v, name, 6);
        if (id < 0) {
            char raw = (char)b;
            id = lookup(v, &raw, 1);
        }
        v->byte_tokens[b] = id >= 0 ? id : v->unk;
    }
}

static const lq_gguf_value *find_array(const lq_gguf *g, const char *key, int elem_type) {
    const lq_gguf_value *val = lq_gguf_find(g, key);
    if (!val || val->type != LQ_GGUF_ARRAY || val->v.arr.elem_type != elem_type)
        return NULL;
    return val;
}

static bool get_bool(const lq_gguf *g, const char *key, bool fallback) {
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
    const lq_gguf_value *texts = find_array(g, "tokenizer.ggml.tokens", LQ_GGUF_STRING);
    if (!texts || texts->v.arr.count == 0 || texts->v.arr.count > INT32_MAX)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: missing or empty string array tokenizer.ggml.tokens", path);
    const lq_gguf_value *scores = find_array(g, "tokenizer.ggml.scores", LQ_GGUF_F32);
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
    }
    return LQ_OK;
}

static bool has_user_defined_tokens(const lq_gguf *g) {
    const lq_gguf_value *types = find_array(g, "tokenizer.ggml.token_type", LQ_GGUF_I32);
    for (uint64_t i = 0; types && i < types->v.arr.count; i++)
        if (types->v.arr.items[i].v.i64 == TOKEN_TYPE_USER_DEFINED)
            return true;
    return false;
}

int eval_vocab_load(const lq_gguf *g, eval_vocab **out, lq_gguf_error *err) {
    *out = NULL;
    const char *path = lq_gguf_path(g);
    const char *model = NULL;
    if (lq_gguf_get_str(g, "tokenizer.ggml.model", &model) != LQ_OK)
        return lq_gguf_fail(err, LQ_ERR_FORMAT, "%s: no tokenizer (tokenizer.ggml.model missing)",
                            path);
    if (strcmp(model, "llama") != 0)
        return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                            "%s: tokenizer model '%s' is not supported (only 'llama')", path,
                            model);
    if (has_user_defined_tokens(g))
        return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                            "%s: vocabularies with user-defined tokens are not supported", path);
    eval_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    int st = load_tokens(g, v, err);
    if (st == LQ_OK && build_index(v) != LQ_OK)
        st = lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", path);
    if (st != LQ_OK) {
        eval_vocab_free(v);
        return st;
    }
    v->bos = get_id(g, "tokenizer.ggml.bos_token_id", v->count > 1 ? 1 : 0, v->count);
    v->unk = get_id(g, "tokenizer.ggml.unknown_token_id", 0, v->count);
    v->add_bos = get_bool(g, "tokenizer.ggml.add_bos_token", true);
    v->add_space_prefix = get_bool(g, "tokenizer.ggml.add_space_prefix", true);
    find_byte_tokens(v);
    *out = v;
    return LQ_OK;
}

void eval_vocab_free(eval_vocab *v) {
    if (!v)
        return;
    free(v->tokens);
    free(v->slots);
    free(v);
}

int64_t eval_vocab_size(const eval_vocab *v) { return v->count; }
int32_t eval_vocab_bos(const eval_vocab *v) { return v->bos; }
bool eval_vocab_adds_bos(const eval_vocab *v) { return v->add_bos; }

const char *eval_vocab_text(const eval_vocab *v, int32_t id) {
    return id >= 0 && id < v->count ? v->tokens[id].text : NULL;
}

/* ---- the merge loop ------------------------------------------------------ */

typedef struct symbol {
    size_t start, len; /* bytes of the escaped text; len 0 once merged away */
    int64_t prev, next;
} symbol;

typedef struct pair {
    float score;
    int64_t left, right;
    size_t len; /* bytes of the pair when pushed: a changed length means stale */
} pair;

typedef struct pair_heap {
    pair *items;
    size_t count, capacity;
} pair_heap;

/* Higher score first; on equal scores the leftmost pair. */
static bool pair_before(const pair *a, const pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static bool heap_push(pair_heap *h, pair p) {
    if (h->count == h->capacity) {
        size_t cap = h->capacity ? h->capacity * 2 : 1024;
        pair *items = realloc(h->items, cap * sizeof(pair));
        if (!items)
            return false;
        h->items = items;
        h->capacity = cap;
    }
    size_t i = h->count++;
    while (i > 0 && pair_before(&p, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = p;
    return true;
}

static pair heap_pop(pair_heap *h) {
    pair top = h->items[0];
    pair last = h->items[--h->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && pair_before(&h->items[child + 1], &h->items[child]))
            child++;
        if (!pair_before(&h->items[child], &last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->count > 0)
        h->items[i] = last;
    return top;
}

typedef struct merge_state {
    const eval_vocab *vocab;
    const char *text;
    symbol *symbols;
    pair_heap heap;
} merge_state;

static bool try_pair(merge_state *m, int64_t left, int64_t right) {
    if (left < 0 || right < 0)
        return true;
    const symbol *l = &m->symbols[left];
    size_t len = l->len + m->symbols[right].len;
    int32_t id = lookup(m->vocab, m->text + l->start, len);
    if (id < 0)
        return true;
    pair p = {m->vocab->tokens[id].score, left, right, len};
    return heap_push(&m->heap, p);
}

/* UTF-8 sequence length from the lead byte (stray continuation bytes count
 * as single characters). */
static size_t utf8_length(unsigned char lead) {
    static const size_t by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[lead >> 4];
}

static int64_t split_characters(const char *text, size_t len, symbol *symbols) {
    int64_t n = 0;
    for (size_t pos = 0; pos < len; n++) {
        size_t step = utf8_length((unsigned char)text[pos]);
        if (step > len - pos)
            step = len - pos;
        symbols[n] = (symbol){pos, step, n - 1, pos + step == len ? -1 : n + 1};
        pos += step;
    }
    return n;
}

static bool merge_all(merge_state *m) {
    while (m->heap.count > 0) {
        pair p = heap_pop(&m->heap);
        symbol *l = &m->symbols[p.left], *r = &m->symbols[p.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != p.len)
            continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            m->symbols[r->next].prev = p.left;
        if (!try_pair(m, l->prev, p.left) || !try_pair(m, p.left, l->next))
            return false;
    }
    return true;
}

typedef struct token_list {
    int32_t *ids;
    int64_t count, capacity;
} token_list;

static bool list_push(token_list *t, int32_t id) {
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

static bool emit_symbols(const merge_state *m, token_list *out) {
    for (int64_t i = 0; i >= 0; i = m->symbols[i].next) {
        const symbol *s = &m->symbols[i];
        int32_t id = lookup(m->vocab, m->text + s->start, s->len);
        if (id >= 0) {
            if (!list_push(out, id))
                return false;
            continue;
        }
        for (size_t b = 0; b < s->len; b++)
            if (!list_push(out, m->vocab->byte_tokens[(unsigned char)m->text[s->start + b]]))
                return false;
    }
    return true;
}

/* The text with the optional leading space, every space as U+2581. */
static char *escape_spaces(const char *text, size_t len, bool prefix, size_t *out_len) {
    static const char marker[] = "\xE2\x96\x81";
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++)
        spaces += text[i] == ' ';
    /* each space grows by 2 bytes; the prefix adds 3 */
    char *buf = malloc(len + 2 * spaces + (prefix ? 3 : 0) + 1);
    if (!buf)
        return NULL;
    size_t n = 0;
    if (prefix) {
        memcpy(buf, marker, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + n, marker, 3);
            n += 3;
        } else {
            buf[n++] = text[i];
        }
    }
    buf[n] = '\0';
    *out_len = n;
    return buf;
}

static bool tokenize_text(const eval_vocab *v, const char *text, size_t len, token_list *out) {
    size_t n;
    char *escaped = escape_spaces(text, len, v->add_space_prefix, &n);
    if (!escaped)
        return false;
    if (n == 0) {
        free(escaped);
        return true;
    }
    merge_state m = {v, escaped, malloc(sizeof(symbol) * n), {NULL, 0, 0}};
    bool ok = m.symbols != NULL;
    int64_t nsym = ok ? split_characters(escaped, n, m.symbols) : 0;
    for (int64_t i = 1; ok && i < nsym; i++)
        ok = try_pair(&m, i - 1, i);
    ok = ok && merge_all(&m) && emit_symbols(&m, out);
    free(m.heap.items);
    free(m.symbols);
    free(escaped);
    return ok;
}

int eval_tokenize(const eval_vocab *v, const char *text, size_t len, bool add_special,
                  int32_t **tokens, int64_t *count) {
    token_list out = {NULL, 0, 0};
    bool ok = true;
    if (add_special && v->add_bos)
        ok = list_push(&out, v->bos);
    /* an empty text gives no tokens besides BOS, as the reference */
    if (ok && len > 0)
        ok = tokenize_text(v, text, len, &out);
    if (!ok) {
        free(out.ids);
        return LQ_ERR_NO_MEMORY;
    }
    *tokens = out.ids;
    *count = out.count;
    return LQ_OK;
}
