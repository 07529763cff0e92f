/* Codec family "iqk_ks": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_iqk_ks = {"iqk_ks", NULL, 0};
