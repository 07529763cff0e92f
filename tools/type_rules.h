/*
 * Which tensors get quantized, what a type falls back to when a tensor's
 * shape does not fit it, and the llama_ftype code a file type is recorded
 * with: the reference's rules, written as tables.
 */
#ifndef QUANT_TOOLS_TYPE_RULES_H
#define QUANT_TOOLS_TYPE_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* The reference's selection: 2-D/3-D tensors whose name ends in "weight",
 * not norms, not the MoE router, not positional/token-type embeddings, not
 * Mamba's small 2-D weights, not T5's relative bias, not integer tensors;
 * output.weight only if quantize_output. */
bool rules_is_quantizable(const char *name, int n_dims, int src_type,
                          bool quantize_output);

/* The type a tensor of ncols x nrows really gets when `type` does not fit:
 * first the block-size fallback (a 256-block type on a row that is not a
 * multiple of 256 -> a 32-block type, ... -> f16), then, when nrows is not a
 * multiple of the interleave factor, the type it interleaves. */
int rules_fitting_type(int type, int64_t ncols, int64_t nrows);

/* llama_ftype code for a file quantized (--pure) to `type`, or -1 if the
 * reference has none. */
int rules_ftype_of_type(int type);

#endif
