/* GGUF reader: being written. */
#include "quant_gguf.h"
