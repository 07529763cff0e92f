/*
 * Byte-level BPE ("gpt2") tokenizer, reproducing ik_llama.cpp's ids:
 *  1. pre-tokenizing: the pre-tokenizer named by tokenizer.ggml.pre is a
 *     list of regular expressions applied in turn; each splits every piece
 *     of the previous one into its matches and the text between them;
 *  2. every byte of a piece becomes its GPT-2 printable character (the
 *     alphabet of the vocabulary's token texts);
 *  3. adjacent symbols are merged by the rank of their pair in
 *     tokenizer.ggml.merges, the lowest rank first (the leftmost on ties),
 *     until no pair is a merge;
 *  4. each symbol is its token; one that is not falls back to the tokens
 *     of its single bytes (those that exist).
 * Pre-tokenizers with `ignore_merges` (Llama 3) take a whole piece that is a
 * token as it is. Special tokens are not looked for in the text (as the
 * reference's perplexity and imatrix tokenize).
 *
 * The patterns are the reference's, as PCRE2 patterns in UTF mode with
 * Unicode properties (\p{L}, \s ... by Unicode), "$" only at the very end
 * as in the reference's ECMAScript engine; non-ASCII characters are written
 * as \x{...}.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "tokenizer_internal.h"

#define MAX_PATTERNS 6

typedef struct pretokenizer {
    const char *names[5]; /* values of tokenizer.ggml.pre, NULL-terminated */
    const char *patterns[MAX_PATTERNS + 1];
    bool ignore_merges, add_bos;
} pretokenizer;

#define GPT2_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
/* the contractions of both cases, then letters, digits, punctuation, spaces;
 * DIGITS is \p{N} (Qwen 2: one digit a piece) or \p{N}{1,3} (Llama 3) */
#define GPT4_STYLE(DIGITS)                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
    DIGITS "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static const pretokenizer pretokenizers[] = {
    {{"default", NULL},
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_PATTERN, "\\p{N}+", "[0-9][0-9][0-9]", NULL},
     false, false},
    {{"gpt2", "gpt-2", NULL}, {GPT2_PATTERN, NULL}, false, false},
    {{"llama-bpe", "llama3", "llama-v3", "falcon3", NULL},
     {GPT4_STYLE("\\p{N}{1,3}"), NULL},
     true, true},
    {{"qwen2", "deepseek-r1-qwen", NULL}, {GPT4_STYLE("\\p{N}"), NULL}, false, false},
    {{"deepseek-llm", NULL},
     {"[\\r\\n]",
      "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"
      "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"
      "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"
      "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}"
      "\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
      "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"
      "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}"
      "\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}"
      "\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}"
      "\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
      "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}"
      "\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}"
      "\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"
      "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"
      "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"
      "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
      "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
      "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$",
      "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
      "\\p{N}+",
      NULL},
     false, false},
    {{"deepseek-v3", NULL},
     {"\\p{N}{1,3}",
      "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
      "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      NULL},
     false, false},
};

typedef struct bpe_state {
    pcre2_code *regex[MAX_PATTERNS];
    int n_regex;
    bool ignore_merges;
    vocab_token *merges; /* texts "left right", score unused */
    int64_t n_merges;
    string_index merge_index;
    /* the GPT-2 character of every byte, in UTF-8 */
    char byte_text[256][2];
    uint8_t byte_len[256];
} bpe_state;

static const bpe_state *st_of(const eval_vocab *v) { return v->state; }

/* GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the
 * others (controls, space, 127..160, the soft hyphen) are mapped in order
 * to U+0100 and up. */
static void build_byte_alphabet(bpe_state *s) {
    int next = 256;
    for (int b = 0; b < 256; b++) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        const int cp = printable ? b : next++;
        if (cp < 0x80) {
            s->byte_text[b][0] = (char)cp;
            s->byte_len[b] = 1;
        } else {
            s->byte_text[b][0] = (char)(0xC0 | (cp >> 6));
            s->byte_text[b][1] = (char)(0x80 | (cp & 0x3F));
            s->byte_len[b] = 2;
        }
    }
}

static void free_state(void *state) {
    bpe_state *s = state;
    for (int i = 0; i < s->n_regex; i++)
        pcre2_code_free(s->regex[i]);
    string_index_free(&s->merge_index);
    free(s->merges);
    free(s);
}

static const pretokenizer *find_pretokenizer(const char *name) {
    for (size_t i = 0; i < sizeof pretokenizers / sizeof pretokenizers[0]; i++)
        for (size_t k = 0; pretokenizers[i].names[k]; k++)
            if (strcmp(pretokenizers[i].names[k], name) == 0)
                return &pretokenizers[i];
    return NULL;
}

static int compile_patterns(const lq_gguf *g, const pretokenizer *p, bpe_state *s,
                            lq_gguf_error *err) {
    const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF |
                             PCRE2_DOLLAR_ENDONLY;
    for (; p->patterns[s->n_regex]; s->n_regex++) {
        int code;
        PCRE2_SIZE offset;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)p->patterns[s->n_regex],
                                       PCRE2_ZERO_TERMINATED, options, &code, &offset, NULL);
        if (!re) {
            PCRE2_UCHAR message[160];
            pcre2_get_error_message(code, message, sizeof message);
            return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                                "%s: pre-tokenizer '%s': pattern %d: %s at %zu", lq_gguf_path(g),
                                p->names[0], s->n_regex + 1, (const char *)message,
                                (size_t)offset);
        }
        /* the JIT is an optimization: the interpreter runs without it */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        s->regex[s->n_regex] = re;
    }
    return LQ_OK;
}

static int load_merges(const lq_gguf *g, bpe_state *s, lq_gguf_error *err) {
    const lq_gguf_value *merges = vocab_find_array(g, "tokenizer.ggml.merges", LQ_GGUF_STRING);
    if (!merges || merges->v.arr.count > INT32_MAX)
        return lq_gguf_fail(err, LQ_ERR_FORMAT,
                            "%s: a BPE vocabulary without tokenizer.ggml.merges",
                            lq_gguf_path(g));
    s->n_merges = (int64_t)merges->v.arr.count;
    s->merges = calloc((size_t)s->n_merges + 1, sizeof(vocab_token));
    if (!s->merges)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(g));
    for (int64_t i = 0; i < s->n_merges; i++) {
        const lq_gguf_value *m = &merges->v.arr.items[i];
        s->merges[i].text = m->v.str.data;
        s->merges[i].len = m->v.str.len > UINT32_MAX ? 0 : (uint32_t)m->v.str.len;
    }
    if (string_index_build(&s->merge_index, s->merges, s->n_merges) != LQ_OK)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(g));
    return LQ_OK;
}

static int bpe_setup(const lq_gguf *g, eval_vocab *v, lq_gguf_error *err) {
    const char *pre = NULL;
    if (lq_gguf_get_str(g, "tokenizer.ggml.pre", &pre) != LQ_OK)
        pre = "default"; /* as the reference, for files older than the key */
    const pretokenizer *p = find_pretokenizer(pre);
    if (!p)
        return lq_gguf_fail(err, LQ_ERR_UNSUPPORTED,
                            "%s: pre-tokenizer '%s' (tokenizer.ggml.pre) is not supported "
                            "(supported: default, gpt2, llama-bpe, qwen2, deepseek-llm, "
                            "deepseek-v3)",
                            lq_gguf_path(g), pre);
    bpe_state *s = calloc(1, sizeof *s);
    if (!s)
        return lq_gguf_fail(err, LQ_ERR_NO_MEMORY, "%s: out of memory", lq_gguf_path(g));
    v->state = s;
    s->ignore_merges = p->ignore_merges;
    if (p->add_bos)
        v->add_bos = true;
    build_byte_alphabet(s);
    int st = compile_patterns(g, p, s, err);
    return st == LQ_OK ? load_merges(g, s, err) : st;
}

/* ---- pre-tokenizing ------------------------------------------------------ */

typedef struct piece {
    size_t start, len;
} piece;

typedef struct piece_list {
    piece *items;
    size_t count, capacity;
} piece_list;

static bool piece_push(piece_list *l, size_t start, size_t len) {
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? l->capacity * 2 : 1024;
        piece *items = realloc(l->items, cap * sizeof(piece));
        if (!items)
            return false;
        l->items = items;
        l->capacity = cap;
    }
    l->items[l->count++] = (piece){start, len};
    return true;
}

/* UTF-8 sequence length from the lead byte (stray continuation bytes count
 * as single characters). */
static size_t utf8_length(unsigned char lead) {
    static const size_t by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[lead >> 4];
}

/* Split text[p.start ..] into the matches of re and the text between. */
static bool split_piece(const pcre2_code *re, pcre2_match_data *md, const char *text, piece p,
                        piece_list *out) {
    const PCRE2_SPTR subject = (PCRE2_SPTR)(text + p.start);
    size_t pos = 0, last = 0; /* where to search; end of the last piece out */
    while (pos < p.len) {
        int rc = pcre2_match(re, subject, p.len, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(re, subject, p.len, pos, PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return false;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { /* an empty match splits nothing */
            size_t step = utf8_length(subject[ov[0]]);
            pos = ov[0] + (step < p.len - ov[0] ? step : p.len - ov[0]);
            continue;
        }
        if (ov[0] > last && !piece_push(out, p.start + last, ov[0] - last))
            return false;
        if (!piece_push(out, p.start + ov[0], ov[1] - ov[0]))
            return false;
        last = pos = ov[1];
    }
    return last >= p.len || piece_push(out, p.start + last, p.len - last);
}

static bool pretokenize(const bpe_state *s, const char *text, size_t len, piece_list *out) {
    piece_list cur = {NULL, 0, 0}, next = {NULL, 0, 0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    bool ok = md && piece_push(&cur, 0, len);
    for (int r = 0; ok && r < s->n_regex; r++) {
        next.count = 0;
        for (size_t i = 0; ok && i < cur.count; i++)
            ok = split_piece(s->regex[r], md, text, cur.items[i], &next);
        piece_list t = cur;
        cur = next;
        next = t;
    }
    pcre2_match_data_free(md);
    free(next.items);
    *out = cur;
    return ok;
}

/* ---- merging ------------------------------------------------------------- */

typedef struct symbol {
    size_t start, len; /* bytes of the mapped word; len 0 once merged away */
    int64_t prev, next;
} symbol;

typedef struct bigram {
    int32_t rank;
    int64_t left, right;
    size_t left_len, right_len; /* when pushed: a change means stale */
} bigram;

typedef struct bigram_heap {
    bigram *items;
    size_t count, capacity;
} bigram_heap;

/* Lower rank first; on equal ranks the leftmost pair. */
static bool bigram_before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static bool heap_push(bigram_heap *h, bigram b) {
    if (h->count == h->capacity) {
        size_t cap = h->capacity ? h->capacity * 2 : 64;
        bigram *items = realloc(h->items, cap * sizeof(bigram));
        if (!items)
            return false;
        h->items = items;
        h->capacity = cap;
    }
    size_t i = h->count++;
    while (i > 0 && bigram_before(&b, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = b;
    return true;
}

static bigram heap_pop(bigram_heap *h) {
    bigram top = h->items[0];
    bigram last = h->items[--h->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && bigram_before(&h->items[child + 1], &h->items[child]))
            child++;
        if (!bigram_before(&h->items[child], &last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->count > 0)
        h->items[i] = last;
    return top;
}

/* The working state of one tokenize call; buffers grow as needed. */
typedef struct bpe_work {
    const eval_vocab *vocab;
    const bpe_state *s;
    char *word, *key; /* the mapped word; "left right" */
    size_t word_len, capacity;
    symbol *symbols;
    size_t symbol_capacity;
    bigram_heap heap;
} bpe_work;

static bool reserve(bpe_work *w, size_t word_len) {
    if (word_len + 2 > w->capacity) {
        size_t cap = 2 * word_len + 64;
        char *word = realloc(w->word, cap), *key = word ? realloc(w->key, cap) : NULL;
        if (word)
            w->word = word;
        if (key)
            w->key = key;
        if (!word || !key)
            return false;
        w->capacity = cap;
    }
    if (word_len > w->symbol_capacity) {
        symbol *symbols = realloc(w->symbols, sizeof(symbol) * (2 * word_len + 16));
        if (!symbols)
            return false;
        w->symbols = symbols;
        w->symbol_capacity = 2 * word_len + 16;
    }
    return true;
}

/* The mapped word of text[p]: each byte as its GPT-2 character. */
static bool map_word(bpe_work *w, const char *text, piece p) {
    if (!reserve(w, 2 * p.len))
        return false;
    size_t n = 0;
    for (size_t i = 0; i < p.len; i++) {
        const unsigned char b = (unsigned char)text[p.start + i];
        memcpy(w->word + n, w->s->byte_text[b], w->s->byte_len[b]);
        n += w->s->byte_len[b];
    }
    w->word_len = n;
    return true;
}

static bool try_bigram(bpe_work *w, int64_t left, int64_t right) {
    if (left < 0 || right < 0)
        return true;
    const symbol *l = &w->symbols[left], *r = &w->symbols[right];
    memcpy(w->key, w->word + l->start, l->len);
    w->key[l->len] = ' ';
    memcpy(w->key + l->len + 1, w->word + r->start, r->len);
    int32_t rank = string_index_find(&w->s->merge_index, w->key, l->len + 1 + r->len);
    if (rank < 0)
        return true;
    return heap_push(&w->heap, (bigram){rank, left, right, l->len, r->len});
}

static int64_t split_symbols(bpe_work *w) {
    int64_t n = 0;
    for (size_t pos = 0; pos < w->word_len; n++) {
        size_t step = utf8_length((unsigned char)w->word[pos]);
        if (step > w->word_len - pos)
            step = w->word_len - pos;
        w->symbols[n] = (symbol){pos, step, n - 1, pos + step == w->word_len ? -1 : n + 1};
        pos += step;
    }
    return n;
}

static bool merge_word(bpe_work *w) {
    w->heap.count = 0;
    const int64_t n = split_symbols(w);
    for (int64_t i = 1; i < n; i++)
        if (!try_bigram(w, i - 1, i))
            return false;
    while (w->heap.count > 0) {
        const bigram b = heap_pop(&w->heap);
        symbol *l = &w->symbols[b.left], *r = &w->symbols[b.right];
        if (l->len != b.left_len || r->len != b.right_len || l->next != b.right)
            continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->symbols[r->next].prev = b.left;
        if (!try_bigram(w, l->prev, b.left) || !try_bigram(w, b.left, l->next))
            return false;
    }
    return true;
}

static bool emit_word(const bpe_work *w, token_list *out) {
    for (int64_t i = 0; w->word_len > 0 && i >= 0; i = w->symbols[i].next) {
        const symbol *s = &w->symbols[i];
        int32_t id = vocab_lookup(w->vocab, w->word + s->start, s->len);
        if (id >= 0) {
            if (!token_list_push(out, id))
                return false;
            continue;
        }
        for (size_t b = 0; b < s->len; b++) {
            id = vocab_lookup(w->vocab, w->word + s->start + b, 1);
            if (id >= 0 && !token_list_push(out, id))
                return false;
        }
    }
    return true;
}

static bool tokenize_word(bpe_work *w, const char *text, piece p, token_list *out) {
    if (!map_word(w, text, p))
        return false;
    if (w->s->ignore_merges) {
        int32_t id = vocab_lookup(w->vocab, w->word, w->word_len);
        if (id >= 0)
            return token_list_push(out, id);
    }
    return merge_word(w) && emit_word(w, out);
}

static bool tokenize_text(const eval_vocab *v, const char *text, size_t len, token_list *out) {
    piece_list pieces;
    bool ok = pretokenize(st_of(v), text, len, &pieces);
    bpe_work w = {.vocab = v, .s = st_of(v)};
    for (size_t i = 0; ok && i < pieces.count; i++)
        ok = tokenize_word(&w, text, pieces.items[i], out);
    free(w.word);
    free(w.key);
    free(w.symbols);
    free(w.heap.items);
    free(pieces.items);
    return ok;
}

/* The byte of a character of GPT-2's byte alphabet (-1 if it is none):
 * the inverse of build_byte_alphabet. */
static int alphabet_byte(uint32_t cp) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        if (printable ? cp == (uint32_t)b : cp == next++)
            return b;
    }
    return -1;
}

/* Every character of the token (one or two UTF-8 bytes in the alphabet)
 * back to its byte; anything else is copied. Up to 255 bytes. */
static size_t bpe_piece(const eval_vocab *v, int32_t id, char *buf) {
    const vocab_token *t = &v->tokens[id];
    const unsigned char *s = (const unsigned char *)t->text;
    size_t n = 0;
    for (uint32_t i = 0; i < t->len && n < 255;) {
        /* ASCII or a two-byte character; a longer one is no alphabet letter */
        uint32_t cp = s[i] < 0x80 ? s[i] : UINT32_MAX;
        uint32_t width = 1;
        if ((s[i] & 0xE0) == 0xC0 && i + 1 < t->len)
            cp = (uint32_t)(s[i] & 0x1F) << 6 | (s[i + 1] & 0x3F), width = 2;
        const int b = cp == UINT32_MAX ? -1 : alphabet_byte(cp);
        if (b >= 0) {
            buf[n++] = (char)b;
            i += width;
        } else {
            buf[n++] = (char)s[i++];
        }
    }
    return n;
}

const tokenizer_kind tokenizer_kind_bpe = {
    .model = "gpt2",
    .add_bos_default = false,
    .setup = bpe_setup,
    .free_state = free_state,
    .piece = bpe_piece,
    .tokenize = tokenize_text,
};
