/*
 * Private interface between iqk_ks.c (layouts, decoding) and iqk_ks_encode.c
 * (encoding) of the iqk_ks family.
 */
#ifndef LIBQUANT_IQK_KS_INTERNAL_H
#define LIBQUANT_IQK_KS_INTERNAL_H

#include <stdint.h>

#define KS_SUPER 256 /* weights per superblock (one type_size block) */
#define KS_BLOCK 32  /* weights per scale */
#define KS_BLOCKS (KS_SUPER / KS_BLOCK)

/* One superblock, unpacked. idx holds a value index per weight, or for
 * iq2_kl a pair index per pair of weights (the first 128 entries). */
typedef struct ks_superblock {
    uint8_t idx[KS_SUPER];
    int16_t code[KS_BLOCKS]; /* block scale, a multiple of the row scale */
    uint8_t half[KS_BLOCKS]; /* 1: the block uses the shifted table half */
} ks_superblock;

typedef enum ks_search {
    KS_SEARCH_SWEEP, /* exact: every assignment reachable by some scale */
    KS_SEARCH_GRID,  /* candidate scales around the block maximum */
} ks_search;

typedef enum ks_assign {
    KS_ASSIGN_NEAREST,     /* each weight to its nearest table value */
    KS_ASSIGN_EVEN_PARITY, /* iq4_kss: each 4-index word of even popcount */
    KS_ASSIGN_PAIRS,       /* iq2_kl: pairs of weights to a 2-d grid */
} ks_assign;

typedef struct ks_format {
    int type;
    int type_size; /* bytes per superblock */
    int row_meta;  /* bytes of row scale: 2 (fp16) or 4 (f32) */
    const int8_t *values; /* nhalves halves of nvalues sorted values */
    int nvalues, nhalves;
    int code_min, code_max, code_step; /* block scale codes */
    float imatrix_sigma, plain_sigma;  /* weighting, see iqk_ks.c */
    ks_search search;
    int ntry; /* KS_SEARCH_GRID without an imatrix: candidates each side of an end */
    ks_assign assign;
    void (*pack)(const ks_superblock *sb, uint8_t *dst);
    void (*unpack)(const uint8_t *src, ks_superblock *sb);
} ks_format;

/* The formats (iqk_ks.c); the kernels' decoders use their unpacking too. */
extern const ks_format ks_iq2_ks, ks_iq3_ks, ks_iq4_ks, ks_iq4_kss, ks_iq5_ks, ks_iq2_kl;

/* The (first, second) values of iq2_kl pair index p (0..31). */
const int8_t *ks_iq2kl_pair(int p);

float ks_load_row_scale(const ks_format *f, const void *src);

/* Encode one row (row scale then superblocks) into dst. */
int ks_quantize_row(const ks_format *f, const float *x, void *dst, int64_t ncols,
                    const float *imatrix);

#endif /* LIBQUANT_IQK_KS_INTERNAL_H */
