/* Per-core side by side (bench/sbs_cpu.sh): the reference's kernels and libquant's on the same bytes,
 * one thread, timed in thread CPU time, so that other processes on the machine disturb it little.
 * A measuring tool run by hand: it links ../shared/peer, so it is not built by meson.
 * usage: sbs_cpu [-k K] [-n N] [-r REPS] type... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>
#include <time.h>
#include "ggml.h"
#include "quant.h"
#include "quant_kernels.h"

static double cpu_now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static uint64_t state = 0x9E3779B97F4A7C15ull;
static double uniform(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return (state >> 11) * (1.0 / 9007199254740992.0); }
static float normal(void) { double u = uniform() + 1e-300, v = uniform(); return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v)); }

int main(int argc, char **argv) {
    int64_t K = 4096, N = 1024; int reps = 5, ai = 1;
    for (; ai < argc && argv[ai][0] == '-'; ai++) {
        if (!strcmp(argv[ai], "-k")) K = atoll(argv[++ai]);
        else if (!strcmp(argv[ai], "-n")) N = atoll(argv[++ai]);
        else if (!strcmp(argv[ai], "-r")) reps = atoi(argv[++ai]);
    }
    const int MS[3] = {1, 16, 256};
    float *W = malloc(sizeof(float) * K * N), *X = malloc(sizeof(float) * K * 256);
    float *Y = malloc(sizeof(float) * N * 256), *ones = malloc(sizeof(float) * K);
    for (int64_t i = 0; i < K * N; i++) W[i] = normal();
    for (int64_t i = 0; i < K * 256; i++) X[i] = normal();
    for (int64_t i = 0; i < K; i++) ones[i] = 1.0f;
    lq_matmul_ctx *lctx = lq_matmul_ctx_new(1);
    printf("# %lld x %lld, 1 thread, thread CPU time, best of %d; GF/s per core\n", (long long)N, (long long)K, reps);
    printf("%-11s | %7s %7s %5s | %7s %7s %5s | %7s %7s %5s\n", "type", "m1_pr", "m1_lq", "x", "m16_pr", "m16_lq", "x", "m256_pr", "m256_lq", "x");
    for (; ai < argc; ai++) {
        int gt = -1;
        for (int t = 0; t < GGML_TYPE_COUNT; t++) { const char *nm = ggml_type_name((enum ggml_type)t); if (nm && !strcasecmp(nm, argv[ai])) { gt = t; break; } }
        int lt = lq_type_from_name(argv[ai]);
        if (gt < 0 || lt < 0) { printf("%-11s unknown\n", argv[ai]); continue; }
        size_t rowsz = ggml_row_size((enum ggml_type)gt, K), wsz = rowsz * N;
        void *q = malloc(wsz);
        ggml_quantize_init((enum ggml_type)gt);
        ggml_quantize_chunk((enum ggml_type)gt, W, q, 0, N, K, ggml_quantize_requires_imatrix((enum ggml_type)gt) ? ones : NULL, NULL);
        struct ggml_init_params ip = {wsz + sizeof(float) * (K * 256 + N * 256) * 2 + 64 * 1024 * 1024, NULL, false};
        struct ggml_context *ctx = ggml_init(ip);
        struct ggml_tensor *A = ggml_new_tensor_2d(ctx, (enum ggml_type)gt, K, N);
        memcpy(A->data, q, wsz);
        double gf[3][2];
        for (int mi = 0; mi < 3; mi++) {
            int M = MS[mi];
            struct ggml_tensor *B = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, M);
            memcpy(B->data, X, sizeof(float) * K * M);
            struct ggml_tensor *C = ggml_mul_mat(ctx, A, B);
            struct ggml_cgraph *g = ggml_new_graph(ctx);
            ggml_build_forward_expand(g, C);
            int inner = M == 1 ? 20 : M == 16 ? 4 : 1;
            double bp = 1e30, bl = 1e30;
            ggml_graph_compute_with_ctx(ctx, g, 1);
            lq_matmul(lctx, lt, q, wsz, N, K, X, M, Y, sizeof(float) * N * 256);
            for (int r = 0; r < reps; r++) {
                double t0 = cpu_now();
                for (int i = 0; i < inner; i++) ggml_graph_compute_with_ctx(ctx, g, 1);
                double tp = (cpu_now() - t0) / inner;
                t0 = cpu_now();
                for (int i = 0; i < inner; i++) lq_matmul(lctx, lt, q, wsz, N, K, X, M, Y, sizeof(float) * N * 256);
                double tl = (cpu_now() - t0) / inner;
                if (tp < bp) bp = tp;
                if (tl < bl) bl = tl;
            }
            double fl = 2.0 * K * N * M;
            gf[mi][0] = fl / bp / 1e9; gf[mi][1] = fl / bl / 1e9;
        }
        printf("%-11s | %7.1f %7.1f %5.2f | %7.1f %7.1f %5.2f | %7.1f %7.1f %5.2f\n", argv[ai],
               gf[0][0], gf[0][1], gf[0][1] / gf[0][0], gf[1][0], gf[1][1], gf[1][1] / gf[1][0],
               gf[2][0], gf[2][1], gf[2][1] / gf[2][0]);
        fflush(stdout);
        ggml_free(ctx); free(q);
    }
    lq_matmul_ctx_free(lctx);
    return 0;
}
