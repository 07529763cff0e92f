/*
 * quant demo: the main job on a built-in default. Generates a small,
 * deterministic synthetic "model" in memory with the statistics that make
 * real weights hard to quantize (heavy tails, outlier columns, rows of very
 * different scale), quantizes it to every type of a representative list this
 * build can encode, and prints size, bits per weight, error and speed.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "tool_common.h"

#define CMD "demo"

typedef struct demo_options {
    int64_t rows;
    int64_t cols;
    uint64_t seed;
    int nthreads;
} demo_options;

/* The types shown, from large to small; those this build cannot encode yet
 * are listed as such. */
static const int demo_types[] = {
    LQ_TYPE_BF16,    LQ_TYPE_F16,     LQ_TYPE_Q8_0,    LQ_TYPE_Q6_K,   LQ_TYPE_IQ6_K,
    LQ_TYPE_Q5_K,    LQ_TYPE_IQ5_K,   LQ_TYPE_IQ5_KS,  LQ_TYPE_Q4_K,   LQ_TYPE_IQ4_K,
    LQ_TYPE_IQ4_KS,  LQ_TYPE_IQ4_XS,  LQ_TYPE_IQ4_NL,  LQ_TYPE_Q4_0,   LQ_TYPE_IQ4_KT,
    LQ_TYPE_IQ3_K,   LQ_TYPE_IQ3_KS,  LQ_TYPE_Q3_K,    LQ_TYPE_IQ3_S,  LQ_TYPE_IQ3_KT,
    LQ_TYPE_IQ2_KL,  LQ_TYPE_IQ2_K,   LQ_TYPE_IQ2_KS,  LQ_TYPE_Q2_K,   LQ_TYPE_IQ2_S,
    LQ_TYPE_IQ2_XS,  LQ_TYPE_IQ2_XXS, LQ_TYPE_IQ2_KT,  LQ_TYPE_IQ1_M,  LQ_TYPE_IQ1_S,
    LQ_TYPE_IQ1_KT,
};

typedef struct rng {
    uint64_t state;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(rng *r) { return (double)((rng_next(r) >> 11) + 1) * 0x1p-53; }

static double rng_gauss(rng *r) {
    return sqrt(-2.0 * log(rng_uniform(r))) * cos(2.0 * M_PI * rng_uniform(r));
}

/* Student-t with 5 degrees of freedom: heavier tails than a Gaussian, as
 * trained weights have. */
static double rng_heavy_tailed(rng *r) {
    double chi2 = 0;
    for (int k = 0; k < 5; k++) {
        double g = rng_gauss(r);
        chi2 += g * g;
    }
    return rng_gauss(r) / sqrt(chi2 / 5.0);
}

/* Weights: heavy-tailed values, a few outlier columns (x8), row scales that
 * vary by a factor of about 4. The importance of a column is the mean square
 * of a synthetic activation, larger on the same outlier columns. */
static void make_model(const demo_options *o, float *w, float *importance) {
    rng r = {o->seed};
    double *column_scale = malloc(sizeof(double) * (size_t)o->cols);
    for (int64_t c = 0; c < o->cols; c++) {
        bool outlier = rng_uniform(&r) < 0.01;
        column_scale[c] = exp(0.3 * rng_gauss(&r)) * (outlier ? 8.0 : 1.0);
        importance[c] = (float)(exp(0.8 * rng_gauss(&r)) * (outlier ? 30.0 : 1.0));
    }
    for (int64_t row = 0; row < o->rows; row++) {
        double row_scale = 0.02 * exp(0.7 * rng_gauss(&r));
        for (int64_t c = 0; c < o->cols; c++)
            w[row * o->cols + c] = (float)(row_scale * column_scale[c] * rng_heavy_tailed(&r));
    }
    free(column_scale);
}

typedef struct encode_task {
    int type;
    const float *src;
    unsigned char *dst;
    const float *imatrix;
    int64_t cols;
    int64_t rows_per_task;
    int64_t row_bytes;
    int64_t rows;
} encode_task;

static void encode_some_rows(void *ctx, int64_t task) {
    encode_task *t = ctx;
    int64_t first = task * t->rows_per_task;
    int64_t n = t->rows - first < t->rows_per_task ? t->rows - first : t->rows_per_task;
    lq_quantize_rows(t->type, t->src + first * t->cols, n, t->cols, t->imatrix,
                     t->dst + first * t->row_bytes, (size_t)(n * t->row_bytes));
}

/* sqrt(sum_rows |x-q|^2_w / |x|^2_w) / sqrt(rows): the RMS of per-row relative
 * errors, so rows of every scale count the same. */
static double relative_error(const float *x, const float *y, int64_t rows, int64_t cols,
                             const float *w) {
    double total = 0;
    for (int64_t r = 0; r < rows; r++) {
        double num = 0, den = 0;
        for (int64_t c = 0; c < cols; c++) {
            double wc = w ? w[c] : 1.0, d = x[r * cols + c] - (double)y[r * cols + c];
            num += wc * d * d;
            den += wc * (double)x[r * cols + c] * x[r * cols + c];
        }
        total += den > 0 ? num / den : 0;
    }
    return sqrt(total / (double)rows);
}

/* Encode with or without the importance; returns seconds, fills the error. */
static double run_type(const demo_options *o, int type, const float *w, const float *imp,
                       bool use_imatrix, unsigned char *q, float *back, double *error) {
    encode_task t = {type, w, q, use_imatrix ? imp : NULL, o->cols,
                     (int64_t)lq_type_get(type)->interleave * 8, lq_row_size(type, o->cols),
                     o->rows};
    double start = tool_now();
    tool_parallel_for(o->nthreads, (o->rows + t.rows_per_task - 1) / t.rows_per_task,
                      encode_some_rows, &t);
    double seconds = tool_now() - start;
    lq_dequantize_rows(type, q, (size_t)(t.row_bytes * o->rows), o->rows, o->cols, back,
                       (size_t)(o->rows * o->cols) * sizeof(float));
    *error = relative_error(w, back, o->rows, o->cols, use_imatrix ? imp : NULL);
    return seconds;
}

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant demo [--rows N] [--cols N] [--seed S] [-t THREADS]\n"
            "\n"
            "Generate a deterministic synthetic weight matrix with realistic statistics\n"
            "(heavy-tailed values, outlier columns, varying row scales) and a matching\n"
            "importance vector, quantize it to a list of representative types with and\n"
            "without the importance, and print per type: bytes, bits per weight, the\n"
            "relative RMS error (plain, and importance-weighted when quantized with it)\n"
            "and the encode speed.\n"
            "\n"
            "options:\n"
            "  --rows N      rows (default 256; a multiple of 16)\n"
            "  --cols N      columns (default 4096; a multiple of 256)\n"
            "  --seed S      random seed (default 1)\n"
            "  -t N          threads (default: all cores)\n"
            "  -h, --help    this help\n"
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

static int parse_options(int argc, char **argv, demo_options *o) {
    static const struct option long_options[] = {
        {"rows", required_argument, NULL, 'r'}, {"cols", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    *o = (demo_options){256, 4096, 1, tool_cpu_count()};
    long long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (!tool_parse_int(optarg, 16, 1 << 20, &v) || v % 16) {
                tool_error(CMD, "--rows wants a multiple of 16");
                return QUANT_EXIT_USAGE;
            }
            o->rows = v;
            break;
        case 'c':
            if (!tool_parse_int(optarg, 256, 1 << 20, &v) || v % 256) {
                tool_error(CMD, "--cols wants a multiple of 256");
                return QUANT_EXIT_USAGE;
            }
            o->cols = v;
            break;
        case 's':
            if (!tool_parse_int(optarg, 0, INT64_MAX, &v)) {
                tool_error(CMD, "--seed wants a non-negative number");
                return QUANT_EXIT_USAGE;
            }
            o->seed = (uint64_t)v;
            break;
        case 't':
            if (!tool_parse_int(optarg, 1, 1024, &v)) {
                tool_error(CMD, "-t wants a number from 1 to 1024");
                return QUANT_EXIT_USAGE;
            }
            o->nthreads = (int)v;
            break;
        case 'h': print_help(stdout); return QUANT_EXIT_OK;
        default: print_help(stderr); return QUANT_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        tool_error(CMD, "unexpected argument '%s'", argv[optind]);
        return QUANT_EXIT_USAGE;
    }
    return -1;
}

int cmd_demo(int argc, char **argv) {
    demo_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    size_t n = (size_t)(o.rows * o.cols);
    float *w = malloc(n * sizeof(float));
    float *imp = malloc((size_t)o.cols * sizeof(float));
    float *back = malloc(n * sizeof(float));
    unsigned char *q = malloc(n * sizeof(float) + 4096);
    if (!w || !imp || !back || !q) {
        tool_error(CMD, "out of memory");
        free(w), free(imp), free(back), free(q);
        return QUANT_EXIT_ERROR;
    }
    make_model(&o, w, imp);
    printf("synthetic weights: %lld x %lld (heavy-tailed, 1%% outlier columns), seed %llu, "
           "%d threads\n\n", (long long)o.rows, (long long)o.cols, (unsigned long long)o.seed,
           o.nthreads);
    printf("%-10s %12s %7s %12s %12s %10s\n", "type", "bytes", "bpw", "rel.err", "w.rel.err*",
           "MB/s");
    int shown = 0;
    for (size_t i = 0; i < sizeof demo_types / sizeof demo_types[0]; i++) {
        int type = demo_types[i];
        if (!(lq_type_caps(type) & LQ_CAP_ENCODE)) {
            continue;
        }
        double err_plain, err_weighted;
        double seconds = run_type(&o, type, w, imp, false, q, back, &err_plain);
        run_type(&o, type, w, imp, true, q, back, &err_weighted);
        int64_t bytes = lq_tensor_size(type, o.rows, o.cols);
        printf("%-10s %12lld %7.3f %11.4f%% %11.4f%% %10.1f\n", lq_type_name(type),
               (long long)bytes, 8.0 * (double)bytes / (double)n, 100 * err_plain,
               100 * err_weighted, (double)(n * sizeof(float)) / 1e6 / (seconds > 0 ? seconds : 1e-9));
        shown++;
        if (!tool_output_ok(CMD)) {
            free(w), free(imp), free(back), free(q);
            return QUANT_EXIT_ERROR; /* a closed stdout: stop */
        }
    }
    printf("\n* quantized with the importance vector, error weighted by it.\n"
           "%d of %zu listed types are available in this build.\n", shown,
           sizeof demo_types / sizeof demo_types[0]);
    free(w), free(imp), free(back), free(q);
    return QUANT_EXIT_OK;
}
