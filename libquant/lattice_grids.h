/*
 * The lattice grids of the iq1/iq2/iq3 i-quants, exactly as the format
 * defines them. Entry i is one grid point: byte j (little-endian) is its
 * coordinate j as the decoder multiplies it (unsigned magnitudes for the
 * iq2/iq3 grids, signed -1/0/+1 for iq1s).
 */
#ifndef LIBQUANT_LATTICE_GRIDS_H
#define LIBQUANT_LATTICE_GRIDS_H

#include <stdint.h>

extern const uint64_t lq_iq2xxs_grid[256];
extern const uint64_t lq_iq2xs_grid[512];
extern const uint64_t lq_iq2s_grid[1024];
extern const uint64_t lq_iq1s_grid[2048];
extern const uint32_t lq_iq3xxs_grid[256];
extern const uint32_t lq_iq3s_grid[512];

#endif /* LIBQUANT_LATTICE_GRIDS_H */
