/* cim_internal.h (internal) -- the noisy tile kernel of the crossbar layer,
 * one version per vector path, and the 16-lane random generator of its
 * read noise.
 *
 * A tile's arrays are stored row-major with the column count padded to a
 * multiple of 16 (SLC_LANES); padded cells hold 0 conductance, so they add
 * nothing, noise included. The kernels work on one input vector and one
 * tile; lib/cim.c loops over vectors (OpenMP) and tiles. The noise-free
 * MVMs go through sgemm in lib/cim.c and have no kernel here.
 */
#ifndef SL_CIM_INTERNAL_H
#define SL_CIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/version.h"

#define SLC_LANES 16

/* 16 independent xoshiro128++ generators, one per lane: lane l draws the
 * noise of column l of every 16-column block, whatever the vector width of
 * the path (a 256-bit path runs lanes 0-7 and 8-15 one after the other). */
typedef struct {
  uint32_t s[4][SLC_LANES];
} __attribute__((aligned(64))) slc_vrng;

/* Seed all lanes from one 64-bit seed (splitmix64 expansion). */
void slc_vrng_seed(slc_vrng *r, uint64_t seed);

/* Largest |e| of the read-noise approximation (Irwin-Hall 4, unit variance). */
#define SLC_NORMAL_MAX 3.4507

/* Fill out[n] (n a multiple of 16) with the approximately standard normal
 * values of the plain reference generator (unit variance), lane-interleaved
 * (out[16 k + l] is lane l's k-th draw), for tests of the approximation. */
void slc_vrng_normals(slc_vrng *r, float *out, size_t n);

/* acc[0..ncp) += sum_i x[i] (Gp[i][.](1 + sd e1) - Gm[i][.](1 + sd e2)),
 * e1, e2 fresh per device from r (rows whose x[i] is 0 draw nothing);
 * D = Gp - Gm. clamp != 0 floors each device's read conductance at 0
 * (needed only if sd * SLC_NORMAL_MAX >= 1). No alignment is required.
 *
 * Every path draws the same noise (same e1, e2 per device and read) and
 * differs only in rounding: the avx2 and avx512 versions compute
 *   w = fma(-Gm, e2, fma(Gp, e1, D)),  acc = fma(x, w, acc)
 * and are bit-identical to each other and to the reference with fused = 1;
 * the baseline version rounds every product and sum (the reference with
 * fused = 0; bit-identical to it unless the build's default target has
 * FMA, e.g. -march=native, when the compiler may fuse). Between the fused
 * and unfused forms a column differs by at most a few float roundings of
 * sum_i |x_i| (|Gp_i| + |Gm_i|) (1 + sd SLC_NORMAL_MAX): tests allow 1e-5 of
 * that sum. */
typedef void (*slc_tile_noisy_fn)(float *acc, const float *x, size_t nr, size_t ncp,
                                  const float *D, const float *Gp, const float *Gm, float sd,
                                  int clamp, slc_vrng *r);

/* The kernel of one path (a path this build has no version of gets the
 * baseline one). Callers pick it once per MVM with sl_isa_active(). */
slc_tile_noisy_fn slc_tile_noisy_for(sl_isa isa);

/* The plain reference: one lane and one device at a time, in C, with
 * fmaf() where fused != 0. */
void slc_tile_noisy_ref(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                        const float *Gp, const float *Gm, float sd, int clamp, int fused,
                        slc_vrng *r);

#endif
