/*
 * The nearest-codeword search of the trellis types: every leaf-scan
 * implementation the CPU runs returns the same seed as the scalar
 * specification (so the encoded bytes do not depend on the machine), and
 * with no slack the search is exact (it agrees with a full scan).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>

#include "testutil.h"
#include "trellis_search.h"

/* splitmix64: a private generator so the queries do not depend on libc. */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *state) {
    return (float)((double)(next_u64(state) >> 11) / 9007199254740992.0);
}

static float gauss(uint64_t *state) {
    float u1 = uniform(state), u2 = uniform(state);
    return sqrtf(-2.0f * logf(u1 + 1e-12f)) * cosf(6.2831853f * u2);
}

/* Queries like the encoder's: scaled rows (Gaussian, heavy-tailed, tiny,
 * far outside the codebook) with x^2-like or imatrix-like weights, some of
 * them zero; iq3_kt targets are magnitudes. */
static void make_query(uint64_t *rng, int dim, int magnitudes, float *t, float *w) {
    const int kind = (int)(next_u64(rng) % 5);
    const float scale = kind == 3 ? 1e-3f : kind == 4 ? 900.0f : 20.0f + 40.0f * uniform(rng);
    for (int k = 0; k < dim; ++k) {
        float x = gauss(rng);
        if (kind == 2 && uniform(rng) < 0.1f)
            x *= 20.0f;
        t[k] = scale * (magnitudes ? fabsf(x) : x);
        w[k] = uniform(rng) < 0.05f ? 0.0f : 0.5f + x * x * (kind == 1 ? 100.0f * uniform(rng) : 1.0f);
    }
}

static const float slacks[] = {1.0f, 1.5f, 3.0f, 12.0f, 30.0f};

START_TEST(simd_matches_scalar) {
    if (!kt_impl_supported(KT_IMPL_AVX512))
        return;
    uint64_t rng = 12345;
    for (int id = 0; id < KT_BOOK_COUNT; ++id) {
        const kt_book *book = kt_book_get((kt_book_id)id);
        ck_assert_ptr_nonnull(book);
        const int dim = kt_book_dim(book);
        const int count = dim == 8 && id == KT_BOOK_IQ1 ? 1 << 13 : dim == 8 ? 1 << 16 : 1 << 15;
        for (int i = 0; i < 4000; ++i) {
            float t[8], w[8];
            make_query(&rng, dim, id == KT_BOOK_IQ3, t, w);
            const float slack = slacks[i % 5];
            const int start = i % 3 == 0 ? -1 : (int)(next_u64(&rng) % (uint64_t)count);
            const int scalar = kt_nearest_with(book, KT_IMPL_SCALAR, t, w, slack, start);
            const int simd = kt_nearest_with(book, KT_IMPL_AVX512, t, w, slack, start);
            ck_assert_msg(scalar == simd, "book %d query %d: scalar %d, avx512 %d", id, i,
                          scalar, simd);
        }
    }
}
END_TEST

START_TEST(exact_without_slack) {
    uint64_t rng = 777;
    for (int id = 0; id < KT_BOOK_COUNT; ++id) {
        const kt_book *book = kt_book_get((kt_book_id)id);
        const int dim = kt_book_dim(book);
        const int count = dim == 8 && id == KT_BOOK_IQ1 ? 1 << 13 : dim == 8 ? 1 << 16 : 1 << 15;
        for (int i = 0; i < 40; ++i) {
            float t[8], w[8];
            make_query(&rng, dim, id == KT_BOOK_IQ3, t, w);
            float best = INFINITY;
            for (int seed = 0; seed < count; ++seed)
                best = fminf(best, kt_distance(book, seed, t, w));
            const int found = kt_nearest(book, t, w, 1.0f, -1);
            ck_assert_float_eq(kt_distance(book, found, t, w), best);
        }
    }
}
END_TEST

static Suite *trellis_search_suite(void) {
    Suite *s = suite_create("trellis_search");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, simd_matches_scalar);
    tcase_add_test(tc, exact_without_slack);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(trellis_search_suite());
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
