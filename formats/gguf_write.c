/* GGUF writer: being written. */
#include "quant_gguf.h"
