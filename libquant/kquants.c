/* Codec family "kquants": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_kquants = {"kquants", NULL, 0};
