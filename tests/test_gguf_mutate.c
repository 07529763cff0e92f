/*
 * Deterministic mutation regression for the GGUF reader: a few hundred
 * mutated copies of real files (bit flips, length fields overwritten with
 * extreme values, truncations, insertions, deletions) go through the fuzz
 * target (fuzz_gguf.c), which aborts on a crash-like outcome: a failure
 * without a proper status and message, or an opened file whose accessors
 * disagree. Runs in seconds; under ASan/UBSan in CI.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUTATIONS_PER_FILE 300
#define MODEL_PREFIX_BYTES ((size_t)1 << 20)

typedef struct sample {
    const char *rel;
    size_t max_bytes; /* 0 = whole file */
} sample;

static const sample samples[] = {
    {"vectors/iq1_s.gguf", 0},
    {"vectors/q4_K.gguf", 0},
    {"vectors/bf16.gguf", 0},
    {"vectors/iq4_ks_r4.gguf", 0},
    {"models/tiny-llama-q8_0-ref.gguf", MODEL_PREFIX_BYTES},
};

static unsigned char *load(const char *rel, size_t max_bytes, size_t *size) {
    char *path = tu_shared_path(rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    if (max_bytes && n > max_bytes)
        n = max_bytes;
    unsigned char *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, n, f), n);
    fclose(f);
    free(path);
    *size = n;
    return buf;
}

/* Where the header ends (the data section starts), from the unmutated file;
 * mutations aim mostly there, where all the length fields are. */
static size_t header_bytes(const unsigned char *buf, size_t size) {
    lq_gguf *g;
    if (lq_gguf_open_buffer(buf, size, "sample", &g, NULL) != LQ_OK)
        return size;
    size_t n = (size_t)lq_gguf_data_offset(g);
    lq_gguf_close(g);
    return n < size ? n : size;
}

static const uint64_t extreme_values[] = {
    0, 1, 2, 3, 4, 7, 8, 9, 12, 13, 31, 32, 33, 255, 256, 0x7fff, 0xffff, 0x10000,
    0x7fffffff, 0x80000000u, 0xffffffffu, UINT64_C(1) << 32, UINT64_C(1) << 60,
    UINT64_C(1) << 63, UINT64_MAX, UINT64_MAX - 31,
};

static size_t pick(tu_rng *r, size_t n) { return n ? (size_t)(tu_rng_next(r) % n) : 0; }

/* Writes a mutated copy of src into dst (capacity size + 64); returns its
 * length. */
static size_t mutate(tu_rng *r, const unsigned char *src, size_t size, size_t header,
                     unsigned char *dst) {
    memcpy(dst, src, size);
    size_t span = tu_rng_uniform(r) < 0.9 ? header : size;
    size_t at = pick(r, span);
    switch (tu_rng_next(r) % 6) {
    case 0: /* flip a few bits */
        for (int k = 1 + (int)pick(r, 8); k > 0; k--) {
            size_t p = pick(r, span);
            dst[p] ^= (unsigned char)(1u << pick(r, 8));
        }
        return size;
    case 1: { /* an extreme value over a 4- or 8-byte field */
        uint64_t v = extreme_values[pick(r, sizeof extreme_values / sizeof extreme_values[0])];
        size_t width = tu_rng_next(r) & 1 ? 8 : 4;
        for (size_t k = 0; k < width && at + k < size; k++)
            dst[at + k] = (unsigned char)(v >> (8 * k));
        return size;
    }
    case 2: /* truncate */
        return pick(r, size + 1);
    case 3: { /* insert up to 64 random bytes */
        size_t n = 1 + pick(r, 64);
        memmove(dst + at + n, dst + at, size - at);
        for (size_t k = 0; k < n; k++)
            dst[at + k] = (unsigned char)tu_rng_next(r);
        return size + n;
    }
    case 4: { /* delete up to 64 bytes */
        size_t n = 1 + pick(r, 64);
        if (at + n > size)
            n = size - at;
        memmove(dst + at, dst + at + n, size - at - n);
        return size - n;
    }
    default: /* random bytes over a short range */
        for (size_t k = pick(r, 16) + 1; k > 0 && at < size; k--, at++)
            dst[at] = (unsigned char)tu_rng_next(r);
        return size;
    }
}

START_TEST(test_mutations) {
    const sample *s = &samples[_i];
    size_t size;
    unsigned char *src = load(s->rel, s->max_bytes, &size);
    size_t header = header_bytes(src, size);
    unsigned char *copy = malloc(size + 64);
    ck_assert_ptr_nonnull(copy);
    tu_rng rng = {0x6767756675ull + (uint64_t)_i};
    /* the unmutated sample must pass as well */
    ck_assert_int_eq(LLVMFuzzerTestOneInput(src, size), 0);
    for (int m = 0; m < MUTATIONS_PER_FILE; m++) {
        size_t n = mutate(&rng, src, size, header, copy);
        /* an exact-size heap copy so ASan sees any read past the end */
        unsigned char *exact = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(exact);
        memcpy(exact, copy, n);
        ck_assert_int_eq(LLVMFuzzerTestOneInput(exact, n), 0);
        free(exact);
    }
    free(copy);
    free(src);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gguf_mutate");
    TCase *tc = tcase_create("mutate");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_mutations, 0, (int)(sizeof samples / sizeof samples[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
