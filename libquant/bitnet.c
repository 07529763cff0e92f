/* Codec family "bitnet": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_bitnet = {"bitnet", NULL, 0};
