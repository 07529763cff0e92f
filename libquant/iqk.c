/* Codec family "iqk": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_iqk = {"iqk", NULL, 0};
