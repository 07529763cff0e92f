/* Codec family "lattice": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_lattice = {"lattice", NULL, 0};
