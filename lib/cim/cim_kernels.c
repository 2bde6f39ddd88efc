/* cim_kernels.c -- the inner loops of the crossbar layer: one input vector
 * through one tile, with and without fresh per-device read noise.
 *
 * Written with GCC vector extensions over 16 float lanes (one tile column
 * per lane), so the same source compiles to AVX-512, AVX2 or SSE2; on x86-64
 * the noisy kernel is built in those three versions (target_clones) and the
 * loader picks the best the CPU has. No fast-math: the only compiler freedom
 * used is FMA contraction.
 *
 * Read noise is fresh for every device at every read: per device and read,
 * e = (b1 + b2 + b3 + b4 - 510) / 147.797, the sum of the four bytes of
 * one 32-bit xoshiro128++ draw (Blackman & Vigna), centred and scaled to
 * unit variance -- the Irwin-Hall approximation of N(0,1) (exact mean and
 * variance, kurtosis 2.7, |e| <= 3.45, steps of 0.007). A column current sums
 * hundreds of such terms, so its noise is Gaussian to high accuracy.
 * Devices whose input is exactly 0 carry no current, so their noise is not
 * drawn (exact, and it halves the work of bit-serial pulses).
 */
#include "config.h"
#include "cim_internal.h"
#include "base/rng.h"

#include <math.h>
#include <string.h>

/* vectors are passed between inlined helpers only: no ABI is involved */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v16f __attribute__((vector_size(64)));
typedef float v16f_u __attribute__((vector_size(64), aligned(4)));
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SLC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SLC_CLONES
#endif

void slc_vrng_seed(slc_vrng *r, uint64_t seed)
{
  uint64_t x = seed;
  for (int k = 0; k < 4; k++)
    for (int l = 0; l < SLC_LANES; l += 2) {
      uint64_t z = sl_splitmix64(&x);
      r->s[k][l] = (uint32_t)z;
      r->s[k][l + 1] = (uint32_t)(z >> 32);
    }
  /* an all-zero lane would stay zero: practically impossible, but cheap to exclude */
  for (int l = 0; l < SLC_LANES; l++)
    if (!(r->s[0][l] | r->s[1][l] | r->s[2][l] | r->s[3][l]))
      r->s[0][l] = 0x9E3779B9u;
}

#define rotl(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

/* xoshiro128++, 16 lanes */
static inline __attribute__((always_inline)) v16u vnext(v16u *s0, v16u *s1, v16u *s2, v16u *s3)
{
  v16u result = rotl(*s0 + *s3, 7) + *s0;
  v16u t = *s1 << 9;
  *s2 ^= *s0;
  *s3 ^= *s1;
  *s1 ^= *s2;
  *s0 ^= *s3;
  *s2 ^= t;
  *s3 = rotl(*s3, 11);
  return result;
}

/* sd of the sum of four independent uniform bytes: sqrt(4 (256^2 - 1)/12) */
#define SLC_IH4_SD 147.7971695
#define SLC_IH4_MEAN 510

/* 16 values ~ N(0, scale^2) (Irwin-Hall 4 approximation on the 4 bytes of
 * one 32-bit draw per lane) */
static inline __attribute__((always_inline)) v16f vnormal(v16u *s0, v16u *s1, v16u *s2, v16u *s3,
                                                          float scale)
{
  v16u a = vnext(s0, s1, s2, s3);
  v16u t = (a & 0x00ff00ffu) + ((a >> 8) & 0x00ff00ffu); /* two sums of 2 bytes */
  v16i c = (v16i)((t & 0xffffu) + (t >> 16)) - SLC_IH4_MEAN;
  return __builtin_convertvector(c, v16f) * scale;
}

void slc_vrng_normals(slc_vrng *r, float *out, size_t n)
{
  v16u s0, s1, s2, s3;
  memcpy(&s0, r->s[0], 64);
  memcpy(&s1, r->s[1], 64);
  memcpy(&s2, r->s[2], 64);
  memcpy(&s3, r->s[3], 64);
  const float scale = (float)(1.0 / SLC_IH4_SD);
  for (size_t i = 0; i + SLC_LANES <= n; i += SLC_LANES) {
    v16f e = vnormal(&s0, &s1, &s2, &s3, scale);
    memcpy(out + i, &e, 64);
  }
  memcpy(r->s[0], &s0, 64);
  memcpy(r->s[1], &s1, 64);
  memcpy(r->s[2], &s2, 64);
  memcpy(r->s[3], &s3, 64);
}

/* acc += x D: a tile's column currents without noise */
SLC_CLONES
void slc_tile_ideal(float *acc, const float *x, size_t nr, size_t ncp, const float *D)
{
  for (size_t c = 0; c < ncp; c += SLC_LANES) {
    v16f a = *(const v16f_u *)(acc + c);
    for (size_t i = 0; i < nr; i++)
      a += x[i] * *(const v16f_u *)(D + i * ncp + c);
    *(v16f_u *)(acc + c) = a;
  }
}

/* acc_j += sum_i x_i (Gp_ij (1 + sd e1_ij) - Gm_ij (1 + sd e2_ij))
 *        = sum_i x_i (D_ij + Gp_ij sd e1_ij - Gm_ij sd e2_ij)      (no floor) */
SLC_CLONES
void slc_tile_noisy(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                    const float *Gp, const float *Gm, float sd, int clamp, slc_vrng *r)
{
  v16u s0, s1, s2, s3;
  memcpy(&s0, r->s[0], 64);
  memcpy(&s1, r->s[1], 64);
  memcpy(&s2, r->s[2], 64);
  memcpy(&s3, r->s[3], 64);
  const float scale = (float)(sd / SLC_IH4_SD);
  const v16f zero = {0};
  for (size_t c = 0; c < ncp; c += SLC_LANES) {
    v16f a = *(const v16f_u *)(acc + c);
    for (size_t i = 0; i < nr; i++) {
      const float xi = x[i];
      if (xi == 0.0f)
        continue;
      const size_t o = i * ncp + c;
      v16f e1 = vnormal(&s0, &s1, &s2, &s3, scale);
      v16f e2 = vnormal(&s0, &s1, &s2, &s3, scale);
      v16f gp = *(const v16f_u *)(Gp + o), gm = *(const v16f_u *)(Gm + o);
      v16f w;
      if (!clamp) {
        w = *(const v16f_u *)(D + o) + gp * e1 - gm * e2;
      } else {
        v16f rp = gp + gp * e1, rm = gm + gm * e2;
        rp = (v16f)((v16i)rp & (rp > zero)); /* floor at 0 */
        rm = (v16f)((v16i)rm & (rm > zero));
        w = rp - rm;
      }
      a += xi * w;
    }
    *(v16f_u *)(acc + c) = a;
  }
  memcpy(r->s[0], &s0, 64);
  memcpy(r->s[1], &s1, 64);
  memcpy(r->s[2], &s2, 64);
  memcpy(r->s[3], &s3, 64);
}
