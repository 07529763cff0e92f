/*
 * What the kernels need of the trellis codec (trellis.c): a super-block's
 * values as integers with its block scales, so that a weight is
 *     row scale d * block_scale[j / 32] * level[j].
 * A trellis row is the float d (4 bytes) followed by its super-blocks.
 */
#ifndef LIBQUANT_TRELLIS_INTERNAL_H
#define LIBQUANT_TRELLIS_INTERNAL_H

#include <stdint.h>

/* Returns 0 if `type` is not a trellis type. Levels are in [-126, 126]. */
int lq_kt_levels(int type, const uint8_t *super_block, int8_t level[256], float block_scale[8]);
/* Bytes of one super-block of `type`, or 0. */
int lq_kt_super_block_bytes(int type);

#endif /* LIBQUANT_TRELLIS_INTERNAL_H */
