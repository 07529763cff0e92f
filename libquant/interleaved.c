/* Codec family "interleaved": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_interleaved = {"interleaved", NULL, 0};
