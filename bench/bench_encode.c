/*
 * Encode throughput per type, with one and with several threads, on a
 * Gaussian matrix (default 4096 x 4096, the size the reference's figures in
 * ../shared/bench/reference-kernels.md use), as MB of F32 input per second and
 * as a ratio to q8_0 measured in the same run. With --reference FILE the
 * reference's seconds (its qnt_s column, 2 threads) are shown next to ours.
 *
 * usage: bench_encode [--rows N] [--cols N] [--threads N] [--repeat N]
 *                     [--reference reference-kernels.md] [TYPE...]
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant.h"

typedef struct bench_config {
    int64_t rows, cols;
    int threads;
    int repeat;
    const char *reference;
} bench_config;

typedef struct slice {
    int type;
    const float *src;
    unsigned char *dst;
    int64_t first_row, nrows, cols;
    int64_t status;
} slice;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *encode_slice(void *arg) {
    slice *s = arg;
    int64_t row_bytes = lq_row_size(s->type, s->cols);
    s->status = lq_quantize_rows(s->type, s->src + s->first_row * s->cols, s->nrows, s->cols,
                                 NULL, s->dst + s->first_row * row_bytes,
                                 (size_t)(s->nrows * row_bytes));
    return NULL;
}

/* Seconds for one encode of the whole matrix with `threads` threads, each
 * taking a contiguous share of rows (whole interleave groups). Best of
 * `repeat` runs. */
static double time_encode(int type, const float *src, unsigned char *dst, const bench_config *c,
                          int threads) {
    int group = lq_type_get(type)->interleave;
    int64_t groups = c->rows / group;
    double best = INFINITY;
    for (int rep = 0; rep < c->repeat; rep++) {
        slice slices[64];
        pthread_t ids[64];
        double start = now();
        for (int t = 0; t < threads; t++) {
            int64_t g0 = groups * t / threads, g1 = groups * (t + 1) / threads;
            slices[t] = (slice){type, src, dst, g0 * group, (g1 - g0) * group, c->cols, 0};
            if (t > 0)
                pthread_create(&ids[t], NULL, encode_slice, &slices[t]);
        }
        encode_slice(&slices[0]);
        for (int t = 1; t < threads; t++)
            pthread_join(ids[t], NULL);
        double seconds = now() - start;
        for (int t = 0; t < threads; t++)
            if (slices[t].status < 0) {
                fprintf(stderr, "%s: %s\n", lq_type_name(type), lq_error_name((int)slices[t].status));
                return NAN;
            }
        if (seconds < best)
            best = seconds;
    }
    return best;
}

/* The reference's qnt_s for a type, read from its markdown table; NAN if
 * absent. */
static double reference_seconds(const char *path, const char *type) {
    if (!path)
        return NAN;
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    char line[512], name[64];
    double bpw, qnt = NAN;
    while (fgets(line, sizeof line, f)) {
        double s;
        if (sscanf(line, "%63s %lf %lf", name, &bpw, &s) == 3 && strcmp(name, type) == 0) {
            qnt = s;
            break;
        }
    }
    fclose(f);
    return qnt;
}

static void parse_args(int argc, char **argv, bench_config *c, int *types, int *ntypes) {
    *c = (bench_config){4096, 4096, 2, 2, NULL};
    *ntypes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--rows") == 0)
            c->rows = atoll(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--cols") == 0)
            c->cols = atoll(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--threads") == 0)
            c->threads = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--repeat") == 0)
            c->repeat = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--reference") == 0)
            c->reference = argv[++i];
        else if (lq_type_from_name(a) >= 0)
            types[(*ntypes)++] = lq_type_from_name(a);
        else {
            fprintf(stderr, "bench_encode: unknown argument '%s'\n", a);
            exit(2);
        }
    }
    if (c->threads < 1 || c->threads > 64 || c->repeat < 1 || c->rows < 16 || c->rows % 16 ||
        c->cols < 256 || c->cols % 256) {
        fprintf(stderr, "bench_encode: rows a multiple of 16, cols of 256, 1-64 threads\n");
        exit(2);
    }
    if (*ntypes == 0)
        for (int i = 0; i < lq_type_count(); i++) {
            const lq_type_info *info = lq_type_at(i);
            if ((lq_type_caps(info->type) & LQ_CAP_ENCODE) && info->type != LQ_TYPE_F32)
                types[(*ntypes)++] = info->type;
        }
}

int main(int argc, char **argv) {
    static int types[LQ_TYPE_ID_LIMIT];
    int ntypes;
    bench_config c;
    parse_args(argc, argv, &c, types, &ntypes);
    size_t n = (size_t)(c.rows * c.cols);
    float *x = malloc(n * sizeof(float));
    unsigned char *q = malloc(n * sizeof(float));
    if (!x || !q)
        return 1;
    memset(q, 0, n * sizeof(float)); /* fault the pages in before timing */
    uint64_t state = 42;
    for (size_t i = 0; i < n; i += 2) { /* Box-Muller on a fixed LCG stream */
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((double)(state >> 11) + 1) * 0x1p-53;
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (double)(state >> 11) * 0x1p-53;
        double r = sqrt(-2 * log(u1));
        x[i] = (float)(r * cos(2 * M_PI * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(2 * M_PI * u2));
    }
    double mb = (double)(n * sizeof(float)) / 1e6;
    double q8_single = time_encode(LQ_TYPE_Q8_0, x, q, &c, 1);
    double q8_multi = time_encode(LQ_TYPE_Q8_0, x, q, &c, c.threads);
    printf("encode throughput, %lld x %lld Gaussian F32, best of %d; MB/s of F32 input\n\n",
           (long long)c.rows, (long long)c.cols, c.repeat);
    printf("| type | MB/s 1 thread | MB/s %d threads | vs q8_0 (1 thr) | seconds %d thr | "
           "reference s (2 thr) | speed-up |\n|---|---|---|---|---|---|---|\n",
           c.threads, c.threads);
    for (int i = 0; i < ntypes; i++) {
        const char *name = lq_type_name(types[i]);
        double single = time_encode(types[i], x, q, &c, 1);
        double multi = time_encode(types[i], x, q, &c, c.threads);
        double ref = reference_seconds(c.reference, name);
        /* the reference's figure is for 4096 x 4096; scale to this size */
        double ref_scaled = ref * (double)n / (4096.0 * 4096.0);
        printf("| %s | %.1f | %.1f | %.3f | %.3f | ", name, mb / single, mb / multi,
               q8_single / single, multi);
        if (isnan(ref))
            printf("- | - |\n");
        else
            printf("%.2f | %.1fx |\n", ref_scaled, ref_scaled / multi);
        fflush(stdout);
    }
    printf("\nq8_0: %.1f MB/s (1 thread), %.1f MB/s (%d threads)\n", mb / q8_single, mb / q8_multi,
           c.threads);
    free(x);
    free(q);
    return 0;
}
