/* Codec family "q8": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_q8 = {"q8", NULL, 0};
