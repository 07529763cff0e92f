/*
 * Matrix multiplication throughput per type: Y = W X with W a Gaussian
 * matrix (default 4096 x 4096) quantized to the type (an interleaved type
 * that cannot be encoded directly is encoded to its base type and repacked)
 * and X n Gaussian vectors, for n = 1, 16, 256 and 1 and 2 threads.
 * GFLOP/s = 2 * rows * cols * n / seconds, median of repeats (fewer for
 * n = 256), in wall-clock time; the "cpu" columns divide by the process's
 * CPU time instead (1 thread), which stays meaningful on a loaded machine.
 * Prints a markdown table; with --reference FILE (the reference's figures,
 * ../shared/bench/reference-kernels.md, measured with 2 threads) the ratio
 * ours(2 threads, wall) / reference for each n is added.
 *
 * usage: bench_matmul [--rows N] [--cols N] [--repeat N]
 *                     [--reference reference-kernels.md] [TYPE...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant.h"
#include "quant_kernels.h"

enum { N_COUNTS = 3, N_THREADS = 2, MAX_REPEAT = 15 };
static const int64_t vector_counts[N_COUNTS] = {1, 16, 256};
static const int thread_counts[N_THREADS] = {1, 2};

static const char *const default_types[] = {
    "q8_0", "q4_0", "q4_1", "q5_0", "q6_0", "q4_K", "q6_K", "q2_K",
    "iq4_nl", "iq4_xs", "bf16", "f16", "q4_0_r8", "iq4_k",
};

typedef struct bench_config {
    int64_t rows, cols;
    int repeat;
    const char *reference;
} bench_config;

static double clock_seconds(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 -> Box-Muller */
static double gauss(uint64_t *state) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        u[i] = ((double)(z >> 11) + 0.5) * 0x1p-53;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The weights quantized to `type`, or NULL (message printed). */
static void *quantize_weights(int type, const float *src, const bench_config *c,
                              size_t *size) {
    int encode_type = type;
    if (!(lq_type_caps(type) & LQ_CAP_ENCODE)) {
        const lq_type_info *info = lq_type_get(type);
        if (!(lq_type_caps(type) & LQ_CAP_REPACK) ||
            !(lq_type_caps(info->base_type) & LQ_CAP_ENCODE)) {
            fprintf(stderr, "%s: cannot be encoded by this build\n", info->name);
            return NULL;
        }
        encode_type = info->base_type;
    }
    int64_t bytes = lq_tensor_size(encode_type, c->rows, c->cols);
    void *q = bytes > 0 ? malloc((size_t)bytes) : NULL;
    if (!q || lq_quantize_rows(encode_type, src, c->rows, c->cols, NULL, q,
                               (size_t)bytes) != bytes) {
        fprintf(stderr, "%s: quantization failed\n", lq_type_name(encode_type));
        free(q);
        return NULL;
    }
    *size = (size_t)bytes;
    if (encode_type == type)
        return q;
    int64_t packed_bytes = lq_tensor_size(type, c->rows, c->cols);
    void *packed = malloc((size_t)packed_bytes);
    if (!packed || lq_repack_rows(type, q, (size_t)bytes, c->rows, c->cols, packed,
                                  (size_t)packed_bytes) != LQ_OK) {
        fprintf(stderr, "%s: repack failed\n", lq_type_name(type));
        free(packed);
        packed = NULL;
    }
    free(q);
    *size = (size_t)packed_bytes;
    return packed;
}

typedef struct speed {
    double wall, cpu; /* GFLOP per wall-clock / per CPU second */
} speed;

/* Median GFLOP/s of lq_matmul over `repeat` runs (after one warm-up). */
static speed time_matmul(lq_matmul_ctx *ctx, int type, const void *w, size_t w_size,
                         const bench_config *c, const float *x, int64_t n, float *y,
                         size_t y_capacity, int repeat) {
    double wall[MAX_REPEAT], cpu[MAX_REPEAT];
    if (lq_matmul(ctx, type, w, w_size, c->rows, c->cols, x, n, y, y_capacity) != LQ_OK)
        return (speed){NAN, NAN};
    for (int r = 0; r < repeat; r++) {
        double t0 = clock_seconds(CLOCK_MONOTONIC);
        double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        lq_matmul(ctx, type, w, w_size, c->rows, c->cols, x, n, y, y_capacity);
        cpu[r] = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        wall[r] = clock_seconds(CLOCK_MONOTONIC) - t0;
    }
    qsort(wall, (size_t)repeat, sizeof wall[0], compare_double);
    qsort(cpu, (size_t)repeat, sizeof cpu[0], compare_double);
    double flop = 2.0 * (double)c->rows * (double)c->cols * (double)n * 1e-9;
    return (speed){flop / wall[repeat / 2], flop / cpu[repeat / 2]};
}

/* The reference's M=1, M=16, M=256 GF/s of a type from its table; 0 if absent. */
static int reference_figures(const char *path, const char *type, double out[N_COUNTS]) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char name[64];
        double bpw, qnt, dram, gbs;
        if (sscanf(line, "%63s %lf %lf %lf %lf %lf %lf %lf", name, &bpw, &qnt, &dram,
                   &gbs, &out[0], &out[1], &out[2]) == 8 && strcmp(name, type) == 0)
            found = 1;
    }
    fclose(f);
    return found;
}

static int parse_args(int argc, char **argv, bench_config *c, const char ***types,
                      int *ntypes) {
    *c = (bench_config){4096, 4096, 5, NULL};
    *types = (const char **)default_types;
    *ntypes = (int)(sizeof default_types / sizeof default_types[0]);
    int first_type = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            c->rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--cols") == 0 && i + 1 < argc)
            c->cols = atoll(argv[++i]);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            c->repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reference") == 0 && i + 1 < argc)
            c->reference = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--rows N] [--cols N] [--repeat N] "
                    "[--reference FILE] [TYPE...]\n", argv[0]);
            return -1;
        } else {
            first_type = i;
            break;
        }
    }
    if (first_type < argc) {
        *types = (const char **)(argv + first_type);
        *ntypes = argc - first_type;
    }
    if (c->repeat < 1 || c->repeat > MAX_REPEAT || c->rows < 1 || c->cols < 1) {
        fprintf(stderr, "bad arguments\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    bench_config c;
    const char **types;
    int ntypes;
    if (parse_args(argc, argv, &c, &types, &ntypes) != 0)
        return 2;
    int64_t nmax = vector_counts[N_COUNTS - 1];
    float *w = malloc((size_t)(c.rows * c.cols) * sizeof *w);
    float *x = malloc((size_t)(nmax * c.cols) * sizeof *x);
    const size_t y_capacity = (size_t)(nmax * c.rows) * sizeof(float);
    float *y = malloc(y_capacity);
    lq_matmul_ctx *ctx[N_THREADS];
    for (int t = 0; t < N_THREADS; t++)
        ctx[t] = lq_matmul_ctx_new(thread_counts[t]);
    if (!w || !x || !y || !ctx[0] || !ctx[1]) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint64_t seed = 42;
    for (int64_t i = 0; i < c.rows * c.cols; i++)
        w[i] = (float)gauss(&seed);
    for (int64_t i = 0; i < nmax * c.cols; i++)
        x[i] = (float)gauss(&seed);

    printf("%lld x %lld weights, GFLOP/s = 2 * rows * cols * n / s, median of %d "
           "(n = 256: %d)\n\n", (long long)c.rows, (long long)c.cols, c.repeat,
           c.repeat > 3 ? 3 : c.repeat);
    printf("| type | act | n=1 1t | n=1 2t | n=16 1t | n=16 2t | n=256 1t | n=256 2t "
           "| cpu n=1 | cpu n=16 | cpu n=256 |%s\n",
           c.reference ? " ref n=1 | ref n=16 | ref n=256 | ratio n=1 | ratio n=16 | ratio n=256 |" : "");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|%s\n",
           c.reference ? "---:|---:|---:|---:|---:|---:|" : "");
    for (int ti = 0; ti < ntypes; ti++) {
        int type = lq_type_from_name(types[ti]);
        if (type < 0) {
            fprintf(stderr, "%s: unknown type\n", types[ti]);
            continue;
        }
        size_t w_size = 0;
        void *q = quantize_weights(type, w, &c, &w_size);
        if (!q)
            continue;
        speed gflops[N_COUNTS][N_THREADS];
        for (int ni = 0; ni < N_COUNTS; ni++)
            for (int t = 0; t < N_THREADS; t++) {
                int repeat = vector_counts[ni] >= 256 && c.repeat > 3 ? 3 : c.repeat;
                gflops[ni][t] = time_matmul(ctx[t], type, q, w_size, &c, x,
                                            vector_counts[ni], y, y_capacity, repeat);
            }
        int act = lq_activation_format(type);
        printf("| %s | %s |", lq_type_name(type), act == LQ_ACT_F32 ? "f32" : "q8/32");
        for (int ni = 0; ni < N_COUNTS; ni++)
            for (int t = 0; t < N_THREADS; t++)
                printf(" %.2f |", gflops[ni][t].wall);
        for (int ni = 0; ni < N_COUNTS; ni++)
            printf(" %.2f |", gflops[ni][0].cpu);
        double ref[N_COUNTS];
        if (c.reference) {
            if (reference_figures(c.reference, lq_type_name(type), ref)) {
                for (int ni = 0; ni < N_COUNTS; ni++)
                    printf(" %.1f |", ref[ni]);
                for (int ni = 0; ni < N_COUNTS; ni++)
                    printf(" %.3f |", gflops[ni][1].wall / ref[ni]);
            } else {
                printf(" - | - | - | - | - | - |");
            }
        }
        printf("\n");
        fflush(stdout);
        free(q);
    }
    for (int t = 0; t < N_THREADS; t++)
        lq_matmul_ctx_free(ctx[t]);
    free(w);
    free(x);
    free(y);
    return 0;
}
