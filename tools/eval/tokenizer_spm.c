/*
 * SentencePiece-style ("llama") tokenizer, reproducing ik_llama.cpp's ids:
 * spaces become U+2581, a leading space is added, UTF-8 characters are
 * merged pairwise by best token score (leftmost pair first on ties), and a
 * character that is no token falls back to its <0xNN> byte tokens.
 *
 * The merge loop keeps every candidate pair of adjacent symbols in a
 * max-heap ordered by the score of the token they form; a popped pair whose
 * symbols changed since it was pushed is stale and skipped. Every merged
 * symbol is a token by construction, so only single characters can need
 * the byte fallback.
 */
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "tokenizer_internal.h"

typedef struct spm_state {
    bool add_space_prefix;
    int32_t byte_tokens[256];
} spm_state;

static const spm_state *st_of(const eval_vocab *v) { return v->state; }

static void find_byte_tokens(const eval_vocab *v, spm_state *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        int32_t id = vocab_lookup(v, name, 6);
        if (id < 0) {
            char raw = (char)b;
            id = vocab_lookup(v, &raw, 1);
        }
        s->byte_tokens[b] = id >= 0 ? id : v->unk;
    }
}

static bool has_user_defined_tokens(const lq_gguf *g) {
    const lq_gguf_value *types = vocab_find_array(g, "tokenizer.ggml.token_type", LQ_GGUF_I32);
    for (uint64_t i = 0; types && i < types->v.arr.count; i++)
        if (types->v.arr.items[i].v.i64 == TOKEN_TYPE_USER_DEFINED)
            return true;
    return false;
}

static int spm_setup(const lq_gguf *g, eval_vocab *v, lq_gguf_error *err) {
    if (has_user_defined_tokens(g))
        return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                            "%s: SentencePiece vocabularies with user-defined tokens are not "
                            "supported", lq_gguf_path(g));
    spm_state *s = calloc(1, sizeof *s);
    if (!s)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(g));
    v->state = s;
    s->add_space_prefix = vocab_get_bool(g, "tokenizer.ggml.add_space_prefix", true);
    find_byte_tokens(v, s);
    return LQ_OK;
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
    int32_t id = vocab_lookup(m->vocab, m->text + l->start, len);
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

static bool emit_symbols(const merge_state *m, token_list *out) {
    const int32_t *bytes = st_of(m->vocab)->byte_tokens;
    for (int64_t i = 0; i >= 0; i = m->symbols[i].next) {
        const symbol *s = &m->symbols[i];
        int32_t id = vocab_lookup(m->vocab, m->text + s->start, s->len);
        if (id >= 0) {
            if (!token_list_push(out, id))
                return false;
            continue;
        }
        for (size_t b = 0; b < s->len; b++)
            if (!token_list_push(out, bytes[(unsigned char)m->text[s->start + b]]))
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
    char *escaped = escape_spaces(text, len, st_of(v)->add_space_prefix, &n);
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

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

/* A byte token <0xNN> is its byte; elsewhere U+2581 (the escaped space)
 * is a space. Up to 255 bytes of the piece. */
static size_t spm_piece(const eval_vocab *v, int32_t id, char *buf) {
    const vocab_token *t = &v->tokens[id];
    if (t->type == TOKEN_TYPE_BYTE && t->len == 6 && memcmp(t->text, "<0x", 3) == 0 &&
        t->text[5] == '>' && hex_digit(t->text[3]) >= 0 && hex_digit(t->text[4]) >= 0) {
        buf[0] = (char)(hex_digit(t->text[3]) * 16 + hex_digit(t->text[4]));
        return 1;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < t->len && n < 255;) {
        if (i + 3 <= t->len && memcmp(t->text + i, "\xE2\x96\x81", 3) == 0) {
            buf[n++] = ' ';
            i += 3;
        } else {
            buf[n++] = t->text[i++];
        }
    }
    return n;
}

const tokenizer_kind tokenizer_kind_spm = {
    .model = "llama",
    .add_bos_default = true,
    .setup = spm_setup,
    .free_state = free,
    .piece = spm_piece,
    .tokenize = tokenize_text,
};
