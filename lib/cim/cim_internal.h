/* cim_internal.h (internal) -- tile kernels of the crossbar layer and the
 * 16-lane random generator of its read noise.
 *
 * A tile's arrays are stored row-major with the column count padded to a
 * multiple of 16 (SLC_LANES); padded cells hold 0 conductance, so they add
 * nothing, noise included. The kernels work on one input vector and one
 * tile; lib/cim.c loops over vectors (OpenMP) and tiles.
 */
#ifndef SL_CIM_INTERNAL_H
#define SL_CIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define SLC_LANES 16

/* 16 independent xoshiro128++ generators, one per lane. */
typedef struct {
  uint32_t s[4][SLC_LANES];
} __attribute__((aligned(64))) slc_vrng;

/* Seed all lanes from one 64-bit seed (splitmix64 expansion). */
void slc_vrng_seed(slc_vrng *r, uint64_t seed);

/* Largest |e| of the read-noise approximation (Irwin-Hall 4, unit variance). */
#define SLC_NORMAL_MAX 3.4507

/* Fill out[n] (n a multiple of 16) with approximately standard normal values
 * (unit variance), for tests of the approximation. */
void slc_vrng_normals(slc_vrng *r, float *out, size_t n);

/* acc[0..ncp) += sum_i x[i] D[i][.] (no read noise). */
void slc_tile_ideal(float *acc, const float *x, size_t nr, size_t ncp, const float *D);

/* acc[0..ncp) += sum_i x[i] (Gp[i][.](1 + sd e1) - Gm[i][.](1 + sd e2)),
 * e1, e2 fresh per device from r; D = Gp - Gm. clamp != 0 floors each
 * device's read conductance at 0 (needed only if sd * SLC_NORMAL_MAX >= 1). */
void slc_tile_noisy(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                    const float *Gp, const float *Gm, float sd, int clamp, slc_vrng *r);

#endif
