/* rng.h (internal) -- small, fast, counter-seedable random numbers.
 *
 * splitmix64 derives independent seeds from (seed, index) pairs so that the
 * random stream of a sample or a neuron does not depend on batching or on
 * the number of threads. xoshiro256+ generates the stream. Draws that must
 * match published conventions (weight init, mismatch) use GSL's generators.
 */
#ifndef SL_RNG_H
#define SL_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t sl_splitmix64(uint64_t *state)
{
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* A seed for stream `index` of a run seeded with `seed`. */
static inline uint64_t sl_seed_mix(uint64_t seed, uint64_t index)
{
  uint64_t s = seed ^ (index * 0xD1B54A32D192ED03ull);
  sl_splitmix64(&s);
  return sl_splitmix64(&s);
}

typedef struct {
  uint64_t s[4];
} sl_rng_state;

static inline void sl_rng_seed(sl_rng_state *r, uint64_t seed)
{
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = sl_splitmix64(&x);
}

static inline uint64_t sl_rng_next(sl_rng_state *r)
{
  uint64_t *s = r->s;
  const uint64_t result = s[0] + s[3];
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

/* Uniform in [0, 1) with 53 bits. */
static inline double sl_rng_uniform(sl_rng_state *r)
{
  return (double)(sl_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller, one value per call). */
static inline double sl_rng_normal(sl_rng_state *r)
{
  double u1 = sl_rng_uniform(r), u2 = sl_rng_uniform(r);
  if (u1 < 1e-300)
    u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
