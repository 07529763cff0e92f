/*
 * The architectures the evaluator runs: one row each (see eval_arch.h).
 */
#include "eval_arch.h"

#include <stddef.h>

const eval_arch *const eval_archs[] = {
    &eval_arch_llama,
    &eval_arch_qwen2,
    &eval_arch_qwen3,
    &eval_arch_qwen3moe,
    NULL,
};
