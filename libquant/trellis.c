/* Codec family "trellis": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_trellis = {"trellis", NULL, 0};
