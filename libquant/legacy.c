/* Codec family "legacy": not implemented yet. */
#include "codec.h"

const lq_codec_family lq_family_legacy = {"legacy", NULL, 0};
