/*
 * libquant importance matrices (formats/imatrix_io.c).
 *
 * An importance matrix holds, for every weight tensor it covers, the sum of
 * the squared activations seen by each input column and the number of tokens
 * they came from, per expert for stacked-expert (3-D) tensors. Two file
 * formats are read and written:
 *
 *  - legacy .dat (ik_llama.cpp / old llama.cpp), little-endian:
 *      i32 entry count; per entry: i32 name length, name bytes, i32 ncall,
 *      i32 nval, nval f32 values (mean of x^2 per column times ncall);
 *      optionally i32 chunk count, i32 length, dataset name.
 *  - GGUF (mainline llama.cpp): general.type = "imatrix", imatrix.datasets
 *      (string array), imatrix.chunk_count and imatrix.chunk_size (u32); per
 *      entry F32 tensors NAME.in_sum2 [ncols x nmat] (raw sums of x^2) and
 *      NAME.counts [1 x nmat] (tokens seen by each expert).
 *
 * Every value read is checked: sums and counts must be finite and
 * non-negative, or reading fails with a message naming the file and entry.
 */
#ifndef LIBQUANT_QUANT_IMATRIX_H
#define LIBQUANT_QUANT_IMATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "quant_gguf.h" /* lq_gguf_error */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lq_imatrix_format {
    LQ_IMATRIX_LEGACY = 0, /* .dat */
    LQ_IMATRIX_GGUF = 1,
} lq_imatrix_format;

typedef struct lq_imatrix_entry {
    char *name;    /* the weight tensor's name, e.g. "blk.0.ffn_down.weight" */
    int64_t ncols; /* values per expert (the tensor's row length) */
    int64_t nmat;  /* experts; 1 for an ordinary 2-D tensor */
    float *sums;   /* ncols * nmat: sums of x^2, expert after expert */
    float *counts; /* nmat: tokens seen by each expert */
} lq_imatrix_entry;

typedef struct lq_imatrix {
    lq_imatrix_entry *entries;
    int64_t count;
    char **datasets; /* names of the texts it was computed on */
    int64_t dataset_count;
    int64_t chunk_count; /* chunks processed (0: unknown) */
    int64_t chunk_size;  /* tokens per chunk (0: unknown) */
    int format;          /* format it was read from (LQ_IMATRIX_GGUF if built) */
} lq_imatrix;

lq_imatrix *lq_imatrix_new(void);
void lq_imatrix_free(lq_imatrix *m);

/* Add an entry (copies name, sums and counts). Fails with
 * LQ_ERR_INVALID_ARGUMENT if the name exists or a value is negative or not
 * finite. */
int lq_imatrix_add(lq_imatrix *m, const char *name, int64_t ncols, int64_t nmat,
                   const float *sums, const float *counts);
int lq_imatrix_add_dataset(lq_imatrix *m, const char *dataset);

/* NULL if absent. */
const lq_imatrix_entry *lq_imatrix_find(const lq_imatrix *m, const char *name);

/* The importance weights of an entry: ncols * nmat means of x^2 (sums /
 * counts, expert after expert) into out, which holds out_capacity bytes (at
 * least ncols * nmat * sizeof(float)). An expert that saw no token gets
 * weights 1.0, as mainline does. Returns LQ_OK, LQ_ERR_INVALID_ARGUMENT
 * (NULL) or LQ_ERR_DST_TOO_SMALL (nothing written). */
int lq_imatrix_entry_weights(const lq_imatrix_entry *e, float *out, size_t out_capacity);

/* Read either format (detected from the first bytes). */
int lq_imatrix_read(const char *path, lq_imatrix **out, lq_gguf_error *err);
/* Parse a legacy .dat image in memory (name is used in messages). */
int lq_imatrix_parse_legacy(const void *data, size_t size, const char *name,
                            lq_imatrix **out, lq_gguf_error *err);

/* Write in the given format, to a temporary file renamed into place. In the
 * legacy format every expert of an entry shares one call count: entries whose
 * experts saw different token counts are written as means times the largest
 * count. */
int lq_imatrix_write(const lq_imatrix *m, const char *path, lq_imatrix_format format,
                     lq_gguf_error *err);

/* Merge src into dst: sums and counts of entries with the same name and
 * shape are added, new entries appended, chunk counts added, datasets
 * appended. A shape mismatch fails with LQ_ERR_FORMAT and a message. */
int lq_imatrix_combine(lq_imatrix *dst, const lq_imatrix *src, lq_gguf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* LIBQUANT_QUANT_IMATRIX_H */
