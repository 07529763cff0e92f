/*
 * quant bench matmul and quant bench --bandwidth: matrix-multiplication
 * speed per type as the kernels issue measures it. GEMV from memory (one
 * vector against several distinct copies of the matrix, 64 MB or more in
 * all, so the weights stream from DRAM), GEMV and GEMM on a hot matrix, and
 * the machine's read bandwidth with the same threads, so that a GEMV can be
 * put against the bandwidth it could reach: GF/s at bandwidth = GB/s * 16 /
 * bpw.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "quant_kernels.h"
#include "tool_common.h"

#define CMD "bench matmul"

enum { HOT_COUNTS = 3, MAX_COPIES = 64, BANDWIDTH_MB = 512 };
static const int64_t hot_counts[HOT_COUNTS] = {1, 16, 256};

typedef struct matmul_options {
    int64_t rows, cols, stream_mb;
    int nthreads, repeat;
    bool json;
    int types[LQ_TYPE_ID_LIMIT];
    int ntypes;
} matmul_options;

static const int default_types[] = {
    LQ_TYPE_BF16, LQ_TYPE_Q8_0, LQ_TYPE_Q4_0, LQ_TYPE_Q6_K, LQ_TYPE_Q4_K,
    LQ_TYPE_IQ4_XS, LQ_TYPE_Q4_0_R8, LQ_TYPE_Q8_0_R8,
};

static void print_help(FILE *out) {
    fprintf(out,
            "usage: quant bench matmul [--rows N] [--cols N] [--stream-mb MB] [--repeat N]\n"
            "                          [-t THREADS] [--json] [TYPE...]\n"
            "       quant bench --bandwidth [-t THREADS]\n"
            "\n"
            "Per TYPE (default: a representative list) of a Gaussian rows x cols matrix:\n"
            "bits per weight; GF/s and GB/s of one vector against distinct copies of the\n"
            "matrix (at least --stream-mb MB in all, so the weights come from memory);\n"
            "GF/s with 1, 16 and 256 vectors on a hot matrix; and the machine's read\n"
            "bandwidth with the same threads. GF/s = 2 rows cols n / seconds, best of\n"
            "--repeat runs. --bandwidth prints the read bandwidth alone.\n"
            "\n"
            "options:\n"
            "  --rows N        weight rows (default 4096; a multiple of 16)\n"
            "  --cols N        weight columns (default 4096; a multiple of 256)\n"
            "  --stream-mb MB  weights streamed for the memory figure (default 64)\n"
            "  --repeat N      runs per figure, best kept (default 5)\n"
            "  -t N            threads (default: all cores)\n"
            "  --json          one JSON object instead of the table\n"
            "  -h, --help      this help\n"
            "\n"
            QUANT_HELP_EXIT_STATUS);
}

static int parse_options(int argc, char **argv, matmul_options *o) {
    static const struct option long_options[] = {
        {"rows", required_argument, NULL, 'r'},    {"cols", required_argument, NULL, 'c'},
        {"stream-mb", required_argument, NULL, 's'}, {"repeat", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    *o = (matmul_options){.rows = 4096, .cols = 4096, .stream_mb = 64, .repeat = 5,
                          .nthreads = tool_cpu_count()};
    long long v = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", long_options, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'r': ok = tool_parse_int(optarg, 16, 1 << 20, &v) && v % 16 == 0; o->rows = v; break;
        case 'c': ok = tool_parse_int(optarg, 256, 1 << 20, &v) && v % 256 == 0; o->cols = v; break;
        case 's': ok = tool_parse_int(optarg, 1, 1 << 16, &v); o->stream_mb = v; break;
        case 'n': ok = tool_parse_int(optarg, 1, 1000, &v); o->repeat = (int)v; break;
        case 't': ok = tool_parse_int(optarg, 1, 256, &v); o->nthreads = (int)v; break;
        case 'j': o->json = true; break;
        case 'h': print_help(stdout); return QUANT_EXIT_OK;
        default: print_help(stderr); return QUANT_EXIT_USAGE;
        }
        if (!ok) {
            tool_error(CMD, "bad value '%s' for option -%c (see --help)", optarg, c);
            return QUANT_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        int type = tool_parse_type(CMD, argv[i]);
        if (type < 0)
            return QUANT_EXIT_USAGE;
        if (!(lq_type_caps(type) & LQ_CAP_DECODE)) {
            tool_error(CMD, "type %s cannot be multiplied by this build", argv[i]);
            return QUANT_EXIT_USAGE;
        }
        o->types[o->ntypes++] = type;
    }
    if (o->ntypes == 0)
        for (size_t i = 0; i < sizeof default_types / sizeof default_types[0]; i++)
            o->types[o->ntypes++] = default_types[i];
    return -1;
}

/* ---- read bandwidth ------------------------------------------------------ */

typedef struct read_job {
    const uint64_t *words;
    int64_t per_task, count;
    uint64_t sums[256];
} read_job;

static void read_share(void *ctx, int64_t task) {
    read_job *j = ctx;
    const uint64_t *p = j->words + task * j->per_task;
    uint64_t lanes[8] = {0};
    for (int64_t i = 0; i < j->per_task; i += 8)
        for (int k = 0; k < 8; k++)
            lanes[k] ^= p[i + k];
    j->sums[task] = lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3] ^ lanes[4] ^ lanes[5] ^
                    lanes[6] ^ lanes[7];
}

/* GB/s of reading a buffer much larger than the caches, one share per
 * thread, best of `repeat`; NAN when out of memory. */
static double read_bandwidth(int nthreads, int repeat) {
    const int64_t words = (int64_t)BANDWIDTH_MB * 1000000 / 8 / (8 * nthreads) * (8 * nthreads);
    uint64_t *buf = malloc((size_t)words * sizeof *buf);
    if (!buf)
        return NAN;
    for (int64_t i = 0; i < words; i++)
        buf[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    read_job job = {buf, words / nthreads, words, {0}};
    double best = INFINITY;
    for (int r = 0; r < repeat; r++) {
        double start = tool_now();
        tool_parallel_for(nthreads, nthreads, read_share, &job);
        double t = tool_now() - start;
        best = t < best ? t : best;
    }
    free(buf);
    return (double)words * 8 / best / 1e9;
}

/* ---- per type ------------------------------------------------------------ */

typedef struct type_figures {
    double bpw, stream_gfs, stream_gbs, hot_gfs[HOT_COUNTS];
    int copies;
} type_figures;

/* The matrix in `type`: quantized, or quantized to the base type and
 * repacked. Returns its size, or a negative status. */
static int64_t make_weights(int type, const float *w, int64_t rows, int64_t cols, void **out) {
    const lq_type_info *info = lq_type_get(type);
    const int encode = (lq_type_caps(type) & LQ_CAP_ENCODE) ? type : info->base_type;
    if (encode < 0 || !(lq_type_caps(encode) & LQ_CAP_ENCODE))
        return LQ_ERR_UNSUPPORTED;
    const int64_t size = lq_tensor_size(encode, rows, cols);
    void *q = malloc((size_t)size);
    if (!q)
        return LQ_ERR_NO_MEMORY;
    int64_t st = lq_quantize_rows(encode, w, rows, cols, NULL, q, (size_t)size);
    if (st >= 0 && encode != type) {
        void *packed = malloc((size_t)size);
        st = packed ? lq_repack_rows(type, q, (size_t)size, rows, cols, packed, (size_t)size)
                    : LQ_ERR_NO_MEMORY;
        free(q);
        q = packed;
    }
    if (st < 0) {
        free(q);
        return st;
    }
    *out = q;
    return size;
}

static int measure(const matmul_options *o, lq_matmul_ctx *ctx, int type, const float *w,
                   const float *x, float *y, size_t y_capacity, type_figures *f) {
    void *q = NULL;
    const int64_t size = make_weights(type, w, o->rows, o->cols, &q);
    if (size < 0)
        return (int)size;
    const double flops = 2.0 * (double)o->rows * (double)o->cols;
    f->bpw = 8.0 * (double)size / ((double)o->rows * (double)o->cols);
    int64_t want = (o->stream_mb * 1000000 + size - 1) / size + 1;
    f->copies = want < 2 ? 2 : want > MAX_COPIES ? MAX_COPIES : (int)want;
    void *copy[MAX_COPIES] = {NULL};
    int st = LQ_OK;
    for (int c = 0; c < f->copies && st == LQ_OK; c++) {
        copy[c] = malloc((size_t)size);
        if (copy[c])
            memcpy(copy[c], q, (size_t)size);
        else
            st = LQ_ERR_NO_MEMORY;
    }
    double best = INFINITY;
    for (int r = 0; r < o->repeat && st == LQ_OK; r++) {
        double start = tool_now();
        for (int c = 0; c < f->copies && st == LQ_OK; c++)
            st = lq_matmul(ctx, type, copy[c], (size_t)size, o->rows, o->cols, x, 1, y,
                           y_capacity);
        double t = tool_now() - start;
        best = t < best ? t : best;
    }
    f->stream_gfs = flops * f->copies / best / 1e9;
    f->stream_gbs = (double)size * f->copies / best / 1e9;
    for (int h = 0; h < HOT_COUNTS && st == LQ_OK; h++) {
        const int64_t n = hot_counts[h];
        st = lq_matmul(ctx, type, q, (size_t)size, o->rows, o->cols, x, n, y,
                       y_capacity); /* warm */
        best = INFINITY;
        for (int r = 0; r < o->repeat && st == LQ_OK; r++) {
            double start = tool_now();
            st = lq_matmul(ctx, type, q, (size_t)size, o->rows, o->cols, x, n, y, y_capacity);
            double t = tool_now() - start;
            best = t < best ? t : best;
        }
        f->hot_gfs[h] = flops * (double)n / best / 1e9;
    }
    for (int c = 0; c < f->copies; c++)
        free(copy[c]);
    free(q);
    return st;
}

static void print_table_head(const matmul_options *o, double bandwidth) {
    printf("%lld x %lld Gaussian weights, %d threads, best of %d\n", (long long)o->rows,
           (long long)o->cols, o->nthreads, o->repeat);
    printf("read bandwidth: %.1f GB/s (a GEMV at bandwidth: GF/s = GB/s * 16 / bpw)\n\n",
           bandwidth);
    printf("%-10s %7s %12s %12s %10s %10s %10s %8s\n", "type", "bpw", "mem GF/s", "mem GB/s",
           "GF/s n=1", "n=16", "n=256", "% of bw");
}

static void print_row(int type, const type_figures *f, double bandwidth) {
    printf("%-10s %7.3f %12.1f %12.1f %10.1f %10.1f %10.1f %7.0f%%\n", lq_type_name(type), f->bpw,
           f->stream_gfs, f->stream_gbs, f->hot_gfs[0], f->hot_gfs[1], f->hot_gfs[2],
           100.0 * f->stream_gbs / bandwidth);
}

/* figures with six significant digits: a small matrix on a loaded machine
 * can take long enough to round to 0.00 with a fixed two decimals */
static void print_json_row(int type, const type_figures *f, bool first) {
    printf("%s\n    {\"type\": \"%s\", \"bpw\": %.4f, \"stream_copies\": %d, "
           "\"stream_gflops\": %.6g, \"stream_gbytes\": %.6g, \"gflops_n1\": %.6g, "
           "\"gflops_n16\": %.6g, \"gflops_n256\": %.6g}",
           first ? "" : ",", lq_type_name(type), f->bpw, f->copies, f->stream_gfs,
           f->stream_gbs, f->hot_gfs[0], f->hot_gfs[1], f->hot_gfs[2]);
}

int cmd_bench_bandwidth(int nthreads) {
    double gbs = read_bandwidth(nthreads, 5);
    if (isnan(gbs)) {
        tool_error("bench", "out of memory for the %d MB bandwidth buffer", BANDWIDTH_MB);
        return QUANT_EXIT_ERROR;
    }
    printf("read bandwidth, %d threads: %.1f GB/s\n", nthreads, gbs);
    return QUANT_EXIT_OK;
}

int cmd_bench_matmul(int argc, char **argv) {
    matmul_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    const size_t nw = (size_t)(o.rows * o.cols), most = (size_t)hot_counts[HOT_COUNTS - 1];
    float *w = malloc(nw * sizeof *w), *x = malloc(most * (size_t)o.cols * sizeof *x);
    const size_t y_capacity = most * (size_t)o.rows * sizeof(float);
    float *y = malloc(y_capacity);
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(o.nthreads);
    rc = QUANT_EXIT_ERROR;
    const double bandwidth = read_bandwidth(o.nthreads, o.repeat);
    if (!w || !x || !y || !ctx || isnan(bandwidth)) {
        tool_error(CMD, "out of memory");
        goto done;
    }
    tool_fill_gaussian(w, nw, 1);
    tool_fill_gaussian(x, most * (size_t)o.cols, 2);
    if (o.json)
        printf("{\"rows\": %lld, \"cols\": %lld, \"threads\": %d, \"repeat\": %d, "
               "\"read_bandwidth_gbytes\": %.6g, \"types\": [",
               (long long)o.rows, (long long)o.cols, o.nthreads, o.repeat, bandwidth);
    else
        print_table_head(&o, bandwidth);
    for (int i = 0; i < o.ntypes; i++) {
        type_figures f = {0};
        int st = measure(&o, ctx, o.types[i], w, x, y, y_capacity, &f);
        if (st != LQ_OK) {
            tool_error(CMD, "%s: %s", lq_type_name(o.types[i]), lq_error_name(st));
            goto done;
        }
        if (o.json)
            print_json_row(o.types[i], &f, i == 0);
        else
            print_row(o.types[i], &f, bandwidth);
        if (!tool_output_ok(CMD))
            goto done; /* a closed stdout: no point measuring the rest */
    }
    if (o.json)
        printf("\n]}\n");
    rc = QUANT_EXIT_OK;
done:
    lq_matmul_ctx_free(ctx);
    free(w), free(x), free(y);
    return rc;
}
