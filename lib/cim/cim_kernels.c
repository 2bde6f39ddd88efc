/* cim_kernels.c -- the inner loop of the noisy crossbar MVM: one input
 * vector through one tile with fresh per-device read noise, in one version
 * per vector path (lib/base/isa.c) and a plain reference.
 *
 * Read noise is fresh for every device at every read: per device and read,
 * e = (b1 + b2 + b3 + b4 - 510) / 147.797, the sum of the four bytes of
 * one 32-bit xoshiro128++ draw (Blackman & Vigna), centred and scaled to
 * unit variance -- the Irwin-Hall approximation of N(0,1) (exact mean and
 * variance, kurtosis 2.7, |e| <= 3.45, steps of 0.007). A column current sums
 * hundreds of such terms, so its noise is Gaussian to high accuracy.
 * Devices whose input is exactly 0 carry no current, so their noise is not
 * drawn (exact, and it halves the work of bit-serial pulses).
 *
 * 16 generator lanes, one per column of a 16-column block, on every path:
 * avx512 runs them in one register, avx2 in two halves of 8 one after the
 * other (GCC lowered the earlier 16-lane source for AVX2 through the stack:
 * 490 us per C1 vector against 138 now), baseline in four quarters of 4 (SSE2 on x86-64, GCC vector extensions
 * elsewhere). So every path draws the same numbers; the paths differ only
 * in FMA rounding, as cim_internal.h states. The byte sum uses
 * vpmaddubsw + vpmaddwd on avx2 and pmaddwd on SSE2 (2 and 3 instructions
 * instead of 7). No fast-math.
 */
#include "config.h"
#include "cim_internal.h"
#include "base/rng.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SLC_X86_PATHS 1
#include <immintrin.h>
#else
#define SLC_X86_PATHS 0
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* vectors are passed between inlined helpers only: no ABI is involved */
#pragma GCC diagnostic ignored "-Wpsabi"

/* sd of the sum of four independent uniform bytes: sqrt(4 (256^2 - 1)/12) */
#define SLC_IH4_SD 147.7971695
#define SLC_IH4_MEAN 510

#define INLINE static inline __attribute__((always_inline))

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

/* ------------------------------------------------------------ reference */

#define ROTL32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

/* xoshiro128++, one lane */
static uint32_t lane_next(uint32_t s[4])
{
  uint32_t result = ROTL32(s[0] + s[3], 7) + s[0];
  uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = ROTL32(s[3], 11);
  return result;
}

/* one value ~ N(0, scale^2): Irwin-Hall 4 on the bytes of one draw */
static float lane_normal(uint32_t s[4], float scale)
{
  uint32_t a = lane_next(s);
  int32_t c = (int32_t)((a & 255) + ((a >> 8) & 255) + ((a >> 16) & 255) + (a >> 24));
  return (float)(c - SLC_IH4_MEAN) * scale;
}

static float noise_scale(float sd) { return (float)(sd / SLC_IH4_SD); }

void slc_vrng_normals(slc_vrng *r, float *out, size_t n)
{
  for (int l = 0; l < SLC_LANES; l++) {
    uint32_t s[4] = {r->s[0][l], r->s[1][l], r->s[2][l], r->s[3][l]};
    for (size_t k = 0; (k + 1) * SLC_LANES <= n; k++)
      out[k * SLC_LANES + l] = lane_normal(s, 1.0f / (float)SLC_IH4_SD);
    for (int q = 0; q < 4; q++)
      r->s[q][l] = s[q];
  }
}

void slc_tile_noisy_ref(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                        const float *Gp, const float *Gm, float sd, int clamp, int fused,
                        slc_vrng *r)
{
  const float scale = noise_scale(sd);
  for (size_t c = 0; c < ncp; c += SLC_LANES)
    for (int l = 0; l < SLC_LANES; l++) {
      uint32_t s[4] = {r->s[0][l], r->s[1][l], r->s[2][l], r->s[3][l]};
      float a = acc[c + l];
      for (size_t i = 0; i < nr; i++) {
        const float xi = x[i];
        if (xi == 0.0f)
          continue;
        const size_t o = i * ncp + c + l;
        const float e1 = lane_normal(s, scale), e2 = lane_normal(s, scale);
        const float gp = Gp[o], gm = Gm[o];
        float w;
        if (!clamp) { /* Gp (1 + sd e1) - Gm (1 + sd e2) = D + Gp sd e1 - Gm sd e2 */
          w = fused ? fmaf(-gm, e2, fmaf(gp, e1, D[o])) : (D[o] + gp * e1) - gm * e2;
        } else {
          float rp = fused ? fmaf(gp, e1, gp) : gp + gp * e1;
          float rm = fused ? fmaf(gm, e2, gm) : gm + gm * e2;
          w = (rp > 0.0f ? rp : 0.0f) - (rm > 0.0f ? rm : 0.0f);
        }
        a = fused ? fmaf(xi, w, a) : a + xi * w;
      }
      acc[c + l] = a;
      for (int q = 0; q < 4; q++)
        r->s[q][l] = s[q];
    }
}

/* ------------------------------------------------------------ baseline: 4 lanes */

typedef float v4f __attribute__((vector_size(16)));
typedef float v4f_u __attribute__((vector_size(16), aligned(4)));
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

INLINE v4f base_normal(v4u *s0, v4u *s1, v4u *s2, v4u *s3, v4f scale)
{
  v4u a = ROTL32(*s0 + *s3, 7) + *s0;
  v4u t = *s1 << 9;
  *s2 ^= *s0;
  *s3 ^= *s1;
  *s1 ^= *s2;
  *s0 ^= *s3;
  *s2 ^= t;
  *s3 = ROTL32(*s3, 11);
#ifdef __SSE2__
  /* two byte sums per 32 bits in 16-bit lanes, then pmaddwd adds the pair */
  __m128i p = _mm_add_epi16(_mm_srli_epi16((__m128i)a, 8),
                            _mm_and_si128((__m128i)a, _mm_set1_epi16(0xff)));
  v4i c = (v4i)_mm_madd_epi16(p, _mm_set1_epi16(1));
#else
  v4u t2 = (a & 0x00ff00ffu) + ((a >> 8) & 0x00ff00ffu);
  v4i c = (v4i)((t2 & 0xffffu) + (t2 >> 16));
#endif
  return __builtin_convertvector(c - SLC_IH4_MEAN, v4f) * scale;
}

INLINE void base_body(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                      const float *Gp, const float *Gm, float sd, const int clamp, slc_vrng *r)
{
  const v4f zero = {0}, scale = zero + noise_scale(sd);
  for (size_t c = 0; c < ncp; c += SLC_LANES)
    for (size_t h = 0; h < SLC_LANES; h += 4) {
      v4u s0, s1, s2, s3;
      memcpy(&s0, r->s[0] + h, 16);
      memcpy(&s1, r->s[1] + h, 16);
      memcpy(&s2, r->s[2] + h, 16);
      memcpy(&s3, r->s[3] + h, 16);
      v4f a = *(const v4f_u *)(acc + c + h);
      for (size_t i = 0; i < nr; i++) {
        const float xi = x[i];
        if (xi == 0.0f)
          continue;
        const size_t o = i * ncp + c + h;
        v4f e1 = base_normal(&s0, &s1, &s2, &s3, scale);
        v4f e2 = base_normal(&s0, &s1, &s2, &s3, scale);
        v4f gp = *(const v4f_u *)(Gp + o), gm = *(const v4f_u *)(Gm + o), w;
        if (!clamp) {
          w = (*(const v4f_u *)(D + o) + gp * e1) - gm * e2;
        } else {
          v4f rp = gp + gp * e1, rm = gm + gm * e2;
          rp = (v4f)((v4i)rp & (rp > zero)); /* floor at 0 */
          rm = (v4f)((v4i)rm & (rm > zero));
          w = rp - rm;
        }
        a = a + xi * w;
      }
      *(v4f_u *)(acc + c + h) = a;
      memcpy(r->s[0] + h, &s0, 16);
      memcpy(r->s[1] + h, &s1, 16);
      memcpy(r->s[2] + h, &s2, 16);
      memcpy(r->s[3] + h, &s3, 16);
    }
}

static void tile_noisy_base(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                            const float *Gp, const float *Gm, float sd, int clamp, slc_vrng *r)
{
  if (clamp)
    base_body(acc, x, nr, ncp, D, Gp, Gm, sd, 1, r);
  else
    base_body(acc, x, nr, ncp, D, Gp, Gm, sd, 0, r);
}

#if SLC_X86_PATHS

/* ------------------------------------------------------------ avx2 + fma: 8 lanes */

#pragma GCC push_options
#pragma GCC target("avx2,fma")

INLINE __m256i rotl_8(__m256i v, int k)
{
  return _mm256_or_si256(_mm256_slli_epi32(v, k), _mm256_srli_epi32(v, 32 - k));
}

INLINE __m256 avx2_normal(__m256i *s0, __m256i *s1, __m256i *s2, __m256i *s3, __m256 scale)
{
  __m256i a = _mm256_add_epi32(rotl_8(_mm256_add_epi32(*s0, *s3), 7), *s0);
  __m256i t = _mm256_slli_epi32(*s1, 9);
  *s2 = _mm256_xor_si256(*s2, *s0);
  *s3 = _mm256_xor_si256(*s3, *s1);
  *s1 = _mm256_xor_si256(*s1, *s2);
  *s0 = _mm256_xor_si256(*s0, *s3);
  *s2 = _mm256_xor_si256(*s2, t);
  *s3 = rotl_8(*s3, 11);
  /* bytes (unsigned) x 1 summed in pairs, then the pairs summed: b1+b2+b3+b4 */
  __m256i pairs = _mm256_maddubs_epi16(a, _mm256_set1_epi8(1));
  __m256i c = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  c = _mm256_sub_epi32(c, _mm256_set1_epi32(SLC_IH4_MEAN));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(c), scale);
}

INLINE void avx2_body(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                      const float *Gp, const float *Gm, float sd, const int clamp, slc_vrng *r)
{
  const __m256 scale = _mm256_set1_ps(noise_scale(sd)), zero = _mm256_setzero_ps();
  for (size_t c = 0; c < ncp; c += SLC_LANES)
    for (size_t h = 0; h < SLC_LANES; h += 8) {
      __m256i s0 = _mm256_load_si256((const __m256i *)(r->s[0] + h));
      __m256i s1 = _mm256_load_si256((const __m256i *)(r->s[1] + h));
      __m256i s2 = _mm256_load_si256((const __m256i *)(r->s[2] + h));
      __m256i s3 = _mm256_load_si256((const __m256i *)(r->s[3] + h));
      __m256 a = _mm256_loadu_ps(acc + c + h);
      for (size_t i = 0; i < nr; i++) {
        const float xi = x[i];
        if (xi == 0.0f)
          continue;
        const size_t o = i * ncp + c + h;
        __m256 e1 = avx2_normal(&s0, &s1, &s2, &s3, scale);
        __m256 e2 = avx2_normal(&s0, &s1, &s2, &s3, scale);
        __m256 gp = _mm256_loadu_ps(Gp + o), gm = _mm256_loadu_ps(Gm + o), w;
        if (!clamp) {
          w = _mm256_fnmadd_ps(gm, e2, _mm256_fmadd_ps(gp, e1, _mm256_loadu_ps(D + o)));
        } else {
          __m256 rp = _mm256_max_ps(_mm256_fmadd_ps(gp, e1, gp), zero);
          __m256 rm = _mm256_max_ps(_mm256_fmadd_ps(gm, e2, gm), zero);
          w = _mm256_sub_ps(rp, rm);
        }
        a = _mm256_fmadd_ps(_mm256_set1_ps(xi), w, a);
      }
      _mm256_storeu_ps(acc + c + h, a);
      _mm256_store_si256((__m256i *)(r->s[0] + h), s0);
      _mm256_store_si256((__m256i *)(r->s[1] + h), s1);
      _mm256_store_si256((__m256i *)(r->s[2] + h), s2);
      _mm256_store_si256((__m256i *)(r->s[3] + h), s3);
    }
}

static void tile_noisy_avx2(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                            const float *Gp, const float *Gm, float sd, int clamp, slc_vrng *r)
{
  if (clamp)
    avx2_body(acc, x, nr, ncp, D, Gp, Gm, sd, 1, r);
  else
    avx2_body(acc, x, nr, ncp, D, Gp, Gm, sd, 0, r);
}

#pragma GCC pop_options

/* ------------------------------------------------------------ avx512f: 16 lanes */

#pragma GCC push_options
#pragma GCC target("avx512f")

INLINE __m512 avx512_normal(__m512i *s0, __m512i *s1, __m512i *s2, __m512i *s3, __m512 scale)
{
  __m512i a = _mm512_add_epi32(_mm512_rol_epi32(_mm512_add_epi32(*s0, *s3), 7), *s0);
  __m512i t = _mm512_slli_epi32(*s1, 9);
  *s2 = _mm512_xor_si512(*s2, *s0);
  *s3 = _mm512_xor_si512(*s3, *s1);
  *s1 = _mm512_xor_si512(*s1, *s2);
  *s0 = _mm512_xor_si512(*s0, *s3);
  *s2 = _mm512_xor_si512(*s2, t);
  *s3 = _mm512_rol_epi32(*s3, 11);
  /* AVX-512F has no byte multiply-add: two byte sums per 32 bits, then one */
  const __m512i m8 = _mm512_set1_epi32(0x00ff00ff), m16 = _mm512_set1_epi32(0xffff);
  __m512i p = _mm512_add_epi32(_mm512_and_si512(a, m8),
                               _mm512_and_si512(_mm512_srli_epi32(a, 8), m8));
  __m512i c = _mm512_add_epi32(_mm512_and_si512(p, m16), _mm512_srli_epi32(p, 16));
  c = _mm512_sub_epi32(c, _mm512_set1_epi32(SLC_IH4_MEAN));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(c), scale);
}

INLINE void avx512_body(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                        const float *Gp, const float *Gm, float sd, const int clamp,
                        slc_vrng *r)
{
  const __m512 scale = _mm512_set1_ps(noise_scale(sd)), zero = _mm512_setzero_ps();
  __m512i s0 = _mm512_load_si512(r->s[0]), s1 = _mm512_load_si512(r->s[1]);
  __m512i s2 = _mm512_load_si512(r->s[2]), s3 = _mm512_load_si512(r->s[3]);
  for (size_t c = 0; c < ncp; c += SLC_LANES) {
    __m512 a = _mm512_loadu_ps(acc + c);
    for (size_t i = 0; i < nr; i++) {
      const float xi = x[i];
      if (xi == 0.0f)
        continue;
      const size_t o = i * ncp + c;
      __m512 e1 = avx512_normal(&s0, &s1, &s2, &s3, scale);
      __m512 e2 = avx512_normal(&s0, &s1, &s2, &s3, scale);
      __m512 gp = _mm512_loadu_ps(Gp + o), gm = _mm512_loadu_ps(Gm + o), w;
      if (!clamp) {
        w = _mm512_fnmadd_ps(gm, e2, _mm512_fmadd_ps(gp, e1, _mm512_loadu_ps(D + o)));
      } else {
        __m512 rp = _mm512_max_ps(_mm512_fmadd_ps(gp, e1, gp), zero);
        __m512 rm = _mm512_max_ps(_mm512_fmadd_ps(gm, e2, gm), zero);
        w = _mm512_sub_ps(rp, rm);
      }
      a = _mm512_fmadd_ps(_mm512_set1_ps(xi), w, a);
    }
    _mm512_storeu_ps(acc + c, a);
  }
  _mm512_store_si512(r->s[0], s0);
  _mm512_store_si512(r->s[1], s1);
  _mm512_store_si512(r->s[2], s2);
  _mm512_store_si512(r->s[3], s3);
}

static void tile_noisy_avx512(float *acc, const float *x, size_t nr, size_t ncp, const float *D,
                              const float *Gp, const float *Gm, float sd, int clamp,
                              slc_vrng *r)
{
  if (clamp)
    avx512_body(acc, x, nr, ncp, D, Gp, Gm, sd, 1, r);
  else
    avx512_body(acc, x, nr, ncp, D, Gp, Gm, sd, 0, r);
}

#pragma GCC pop_options

#endif /* SLC_X86_PATHS */

slc_tile_noisy_fn slc_tile_noisy_for(sl_isa isa)
{
#if SLC_X86_PATHS
  if (isa == SL_ISA_AVX512)
    return tile_noisy_avx512;
  if (isa == SL_ISA_AVX2)
    return tile_noisy_avx2;
#endif
  (void)isa;
  return tile_noisy_base;
}
