/* Quantize one tensor of a GGUF model, multiply it with a vector, and print
 * the error of the product against the original weights'.
 *
 *   cc quantize_tensor.c -o quantize_tensor $(pkg-config --cflags --libs libquant) -lm
 *   ./quantize_tensor MODEL.gguf [TENSOR [TYPE]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <quant.h>
#include <quant_gguf.h>
#include <quant_kernels.h>

static int fail(const char *what, int status) {
    fprintf(stderr, "%s: %s\n", what, lq_error_message(status));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.gguf [TENSOR [TYPE]]\n", argv[0]);
        return 2;
    }
    const char *name = argc > 2 ? argv[2] : "blk.0.ffn_down.weight";
    const char *type_name = argc > 3 ? argv[3] : "q4_K";
    const int type = lq_type_from_name(type_name);
    if (type < 0)
        return fail(type_name, type);

    lq_gguf *model;
    lq_gguf_error err;
    if (lq_gguf_open_model(argv[1], &model, &err) != LQ_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    const lq_gguf_tensor *t = lq_gguf_find_tensor(model, name);
    if (!t)
        return fail(name, LQ_ERR_NOT_FOUND);
    const int64_t rows = lq_gguf_tensor_rows(t), cols = t->ne[0];

    /* the stored weights (bf16, f16, a quantized type...) as floats */
    const size_t weights_bytes = (size_t)(rows * cols) * sizeof(float);
    float *weights = malloc(weights_bytes);
    float *x = malloc((size_t)cols * sizeof(float));
    float *y = malloc((size_t)rows * sizeof(float));
    const int64_t quantized_bytes = lq_tensor_size(type, rows, cols);
    void *quantized = quantized_bytes > 0 ? malloc((size_t)quantized_bytes) : NULL;
    lq_matmul_ctx *ctx = lq_matmul_ctx_new(2);
    if (quantized_bytes < 0)
        return fail(name, (int)quantized_bytes);
    if (!weights || !x || !y || !quantized || !ctx)
        return fail(name, LQ_ERR_NO_MEMORY);
    int st = lq_dequantize_rows(t->type, t->data, t->size, rows, cols, weights, weights_bytes);
    if (st != LQ_OK)
        return fail("decoding", st);

    /* quantize (no importance matrix), then y = Q x */
    int64_t written = lq_quantize_rows(type, weights, rows, cols, NULL, quantized,
                                       (size_t)quantized_bytes);
    if (written < 0)
        return fail("quantizing", (int)written);
    for (int64_t c = 0; c < cols; c++)
        x[c] = (float)sin(0.1 * (double)c);
    st = lq_matmul(ctx, type, quantized, (size_t)written, rows, cols, x, 1, y,
                   (size_t)rows * sizeof(float));
    if (st != LQ_OK)
        return fail("multiplying", st);

    /* against the product with the original weights */
    double error = 0, norm = 0;
    for (int64_t r = 0; r < rows; r++) {
        double exact = 0;
        for (int64_t c = 0; c < cols; c++)
            exact += (double)weights[r * cols + c] * x[c];
        error += (y[r] - exact) * (y[r] - exact);
        norm += exact * exact;
    }
    printf("%s [%lld x %lld] %s -> %s: %.3f bits per weight, matmul relative error %.6f\n",
           name, (long long)cols, (long long)rows, lq_type_name(t->type), lq_type_name(type),
           8.0 * (double)written / (double)(rows * cols), sqrt(error / norm));

    lq_matmul_ctx_free(ctx);
    free(quantized), free(y), free(x), free(weights);
    lq_gguf_close(model);
    return 0;
}
