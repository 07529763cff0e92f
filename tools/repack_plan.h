/*
 * Which tensors get row-interleaved ("repacked") and to which type: the
 * reference's rules (ik_llama.cpp's offline repack), shared by `quant repack`
 * and `quant quantize --repack`.
 */
#ifndef QUANT_TOOLS_REPACK_PLAN_H
#define QUANT_TOOLS_REPACK_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "quant_gguf.h"

/* The interleaved type the reference repacks `base_type` to, or -1 when it
 * has none. F16 has none here (the reference truncates it to bf16_r16, which
 * is lossy), nor q8_K (its q8_k_r8 is a format of its own, not a repack). */
int repack_target_type(int base_type);

/* The reason a tensor is (REPACK_YES) or is not repacked. */
typedef enum repack_verdict {
    REPACK_YES = 0,
    REPACK_NO_VARIANT,     /* its type has no interleaved variant */
    REPACK_ALREADY_INTERLEAVED, /* its type is an interleaved one */
    REPACK_ROW_LOOKUP,     /* a token embedding: read by row, never repacked */
    REPACK_ROWS_NOT_MULTIPLE, /* ne[1] is not a multiple of the factor */
} repack_verdict;

/* Token-embedding tensors, which the reference never repacks. */
bool repack_name_is_row_lookup(const char *name);

/* Decide one tensor as the reference does: a type with a variant, a name
 * that is not a token embedding, and ne[1] a multiple of the factor (each
 * matrix of a 3-D tensor is interleaved on its own, so a product of ne[1..]
 * that happens to be a multiple is not enough). On REPACK_YES, *target (if
 * not NULL) gets the interleaved type. */
repack_verdict repack_tensor_verdict(const lq_gguf_tensor *t, int *target);
bool repack_tensor_eligible(const lq_gguf_tensor *t, int *target);

/* The inverse: the base type an interleaved type unpacks to, or -1 for
 * everything else (ordinary types and the four interleaved formats of their
 * own: iq1_s_r4, iq1_m_r4, q8_k_r8, q8_k_r16). */
int repack_unpack_type(int type);

/* One line of explanation for a verdict ("no interleaved variant", ...). */
const char *repack_verdict_text(repack_verdict v);

/* general.file_type (a llama_ftype code) after repacking, as the reference's
 * llama-quantize --repack records it; the code itself when unchanged. */
int repack_file_type(int ftype);
/* The inverse for --unpack. A repacked code that several codes map to
 * (Q4_K_R4 from Q4_K_S and Q4_K_M, ...) gives the _M one; IQ1_S_R4 and
 * IQ1_M_R4 are kept (their tensors are formats of their own). */
int unpack_file_type(int ftype);

/* A list of PCRE2 regular expressions; a name is selected when any of them
 * finds a match anywhere in it (unanchored). Matching uses per-pattern
 * scratch space: one thread at a time. */
typedef struct repack_patterns repack_patterns;

/* Add the patterns of `list` (split on ','; an empty item is an error, as
 * it would select everything). *patterns may be NULL (a new list is made).
 * On error returns false with a message ("'blk.(': missing closing
 * parenthesis at column 5") in msg. */
bool repack_patterns_add(repack_patterns **patterns, const char *list, char *msg,
                         size_t msg_size);
/* True if the list is NULL (no filter) or any pattern matches. */
bool repack_patterns_match(const repack_patterns *patterns, const char *name);
void repack_patterns_free(repack_patterns *patterns);

#endif
