/*
 * quant bench: encode, decode and matrix-multiplication throughput per type
 * on a Gaussian weight matrix, with the caller's thread count. A quick look
 * for users; bench/ holds the fuller benchmarks and recorded results.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "quant_kernels.h"
#include "tool_common.h"

#define CMD "bench"

typedef struct bench_options {
    int64_t rows, cols, columns;
    int nthreads, repeat;
    bool bandwidth;
    int types[LQ_TYPE_ID_LIMIT];
    int ntypes;
} bench_options;

static const int default_types[] = {
    LQ_TYPE_BF16, LQ_TYPE_Q8_0, LQ_TYPE_Q6_K, LQ_TYPE_Q4_K, LQ_TYPE_IQ4_K, LQ_TYPE_IQ4_XS,
    LQ_TYPE_Q4_0, LQ_TYPE_IQ3_K, LQ_TYPE_IQ2_K, LQ_TYPE_IQ2_KT,
};

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant bench [--rows N] [--cols N] [--columns M] [--repeat N] [-t THREADS]\n"
            "                   [TYPE...]\n"
            "       quant bench matmul [options] [TYPE...]   (see quant bench matmul --help)\n"
            "       quant bench model -m MODEL.gguf [options] (see quant bench model --help)\n"
            "       quant bench --bandwidth [-t THREADS]\n"
            "\n"
            "Quantize a Gaussian rows x cols matrix to each TYPE (default: a representative\n"
            "list) and print, per type: encode and decode throughput in MB of F32 per\n"
            "second, and matrix-multiplication speed in GFLOP/s with 1 and M activation\n"
            "vectors. Times are the best of --repeat runs.\n"
            "\n"
            "options:\n"
            "  --rows N       weight rows (default 1024; a multiple of 16)\n"
            "  --cols N       weight columns (default 4096; a multiple of 256)\n"
            "  --columns M    activation vectors of the second matmul figure (default 16)\n"
            "  --repeat N     runs per figure, best kept (default 3)\n"
            "  -t N           threads (default: all cores)\n"
            "  --bandwidth    print the machine's read bandwidth with -t threads, only\n"
            "  -h, --help     this help\n"
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

static int parse_options(int argc, char **argv, bench_options *o) {
    static const struct option long_options[] = {
        {"rows", required_argument, NULL, 'r'},    {"cols", required_argument, NULL, 'c'},
        {"columns", required_argument, NULL, 'm'}, {"repeat", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"bandwidth", no_argument, NULL, 'b'},     {NULL, 0, NULL, 0},
    };
    *o = (bench_options){.rows = 1024, .cols = 4096, .columns = 16, .repeat = 3,
                         .nthreads = tool_cpu_count()};
    long long v = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", long_options, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'r': ok = tool_parse_int(optarg, 16, 1 << 20, &v) && v % 16 == 0; o->rows = v; break;
        case 'c': ok = tool_parse_int(optarg, 256, 1 << 20, &v) && v % 256 == 0; o->cols = v; break;
        case 'm': ok = tool_parse_int(optarg, 1, 4096, &v); o->columns = v; break;
        case 'n': ok = tool_parse_int(optarg, 1, 1000, &v); o->repeat = (int)v; break;
        case 't': ok = tool_parse_int(optarg, 1, 256, &v); o->nthreads = (int)v; break;
        case 'b': o->bandwidth = true; break;
        case 'h': print_help(stdout); return QUANT_EXIT_OK;
        default: print_help(stderr); return QUANT_EXIT_USAGE;
        }
        if (!ok) {
            tool_error(CMD, "bad value '%s' for option -%c/--%s (see --help)", optarg, c,
                       c == 'r' ? "rows" : c == 'c' ? "cols" : c == 'm' ? "columns"
                                 : c == 'n' ? "repeat" : "threads");
            return QUANT_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        int type = tool_parse_type(CMD, argv[i]);
        if (type < 0)
            return QUANT_EXIT_USAGE;
        if (!(lq_type_caps(type) & LQ_CAP_ENCODE)) {
            tool_error(CMD, "type %s cannot be encoded by this build", argv[i]);
            return QUANT_EXIT_USAGE;
        }
        o->types[o->ntypes++] = type;
    }
    if (o->ntypes == 0)
        for (size_t i = 0; i < sizeof default_types / sizeof default_types[0]; i++)
            if (lq_type_caps(default_types[i]) & LQ_CAP_ENCODE)
                o->types[o->ntypes++] = default_types[i];
    return -1;
}

typedef struct row_job {
    int type;
    const float *src;
    void *q;
    float *back;
    int64_t cols, rows_per_task, rows, row_bytes;
    bool decode;
} row_job;

static void run_rows(void *ctx, int64_t task) {
    row_job *j = ctx;
    int64_t first = task * j->rows_per_task;
    int64_t n = j->rows - first < j->rows_per_task ? j->rows - first : j->rows_per_task;
    char *q = (char *)j->q + first * j->row_bytes;
    if (j->decode)
        lq_dequantize_rows(j->type, q, (size_t)(n * j->row_bytes), n, j->cols,
                           j->back + first * j->cols, (size_t)(n * j->cols) * sizeof(float));
    else
        lq_quantize_rows(j->type, j->src + first * j->cols, n, j->cols, NULL, q,
                         (size_t)(n * j->row_bytes));
}

/* Best time of `repeat` runs of the whole matrix through encode or decode. */
static double time_rows(const bench_options *o, row_job *job) {
    int64_t tasks = (job->rows + job->rows_per_task - 1) / job->rows_per_task;
    double best = INFINITY;
    for (int r = 0; r < o->repeat; r++) {
        double start = tool_now();
        tool_parallel_for(o->nthreads, tasks, run_rows, job);
        double t = tool_now() - start;
        best = t < best ? t : best;
    }
    return best;
}

static double time_matmul(const bench_options *o, lq_matmul_ctx *ctx, int type, const void *q,
                          size_t size, const float *x, int64_t n, float *y,
                          size_t y_capacity) {
    double best = INFINITY;
    for (int r = 0; r < o->repeat; r++) {
        double start = tool_now();
        if (lq_matmul(ctx, type, q, size, o->rows, o->cols, x, n, y, y_capacity) != LQ_OK)
            return NAN;
        double t = tool_now() - start;
        best = t < best ? t : best;
    }
    return best;
}

int cmd_bench(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "matmul") == 0)
        return cmd_bench_matmul(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "model") == 0)
        return cmd_bench_model(argc - 1, argv + 1);
    bench_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.bandwidth)
        return cmd_bench_bandwidth(o.nthreads);
    size_t nw = (size_t)(o.rows * o.cols);
    float *w = malloc(nw * sizeof(float)), *back = malloc(nw * sizeof(float));
    float *x = malloc((size_t)(o.columns * o.cols) * sizeof(float));
    const size_t y_capacity = (size_t)(o.columns * o.rows) * sizeof(float);
    float *y = malloc(y_capacity);
    void *q = malloc(nw * sizeof(float) + 4096);
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(o.nthreads);
    rc = QUANT_EXIT_ERROR;
    if (!w || !back || !x || !y || !q || !ctx) {
        tool_error(CMD, "out of memory");
        goto done;
    }
    tool_fill_gaussian(w, nw, 1);
    tool_fill_gaussian(x, (size_t)(o.columns * o.cols), 2);
    memset(q, 0, nw * sizeof(float)); /* fault the pages in before timing */
    double mb = (double)nw * sizeof(float) / 1e6;
    printf("%lld x %lld Gaussian weights, %d threads, best of %d\n\n", (long long)o.rows,
           (long long)o.cols, o.nthreads, o.repeat);
    char many[32];
    snprintf(many, sizeof many, "GF/s n=%lld", (long long)o.columns);
    printf("%-10s %7s %12s %12s %12s %12s\n", "type", "bpw", "encode MB/s", "decode MB/s",
           "GF/s n=1", many);
    for (int i = 0; i < o.ntypes; i++) {
        int type = o.types[i];
        row_job job = {type, w, q, back, o.cols,
                       (int64_t)lq_type_get(type)->interleave * 16, o.rows,
                       lq_row_size(type, o.cols), false};
        double enc = time_rows(&o, &job);
        job.decode = true;
        double dec = time_rows(&o, &job);
        size_t size = (size_t)(job.row_bytes * o.rows);
        double flops1 = 2.0 * (double)nw, flopsm = flops1 * (double)o.columns;
        double t1 = time_matmul(&o, ctx, type, q, size, x, 1, y, y_capacity);
        double tm = time_matmul(&o, ctx, type, q, size, x, o.columns, y, y_capacity);
        printf("%-10s %7.3f %12.1f %12.1f %12.1f %12.1f\n", lq_type_name(type),
               8.0 * (double)size / (double)nw, mb / enc, mb / dec, flops1 / t1 / 1e9,
               flopsm / tm / 1e9);
        if (!tool_output_ok(CMD))
            goto done; /* a closed stdout: no point measuring the rest */
    }
    rc = QUANT_EXIT_OK;
done:
    lq_matmul_ctx_free(ctx);
    free(w), free(back), free(x), free(y), free(q);
    return rc;
}
