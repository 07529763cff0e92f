/* Codec family "nonlinear": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_nonlinear = {"nonlinear", NULL, 0};
