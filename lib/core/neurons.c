/* neurons.c -- per-neuron parameter arrays and the mismatch draw.
 *
 * Mismatch is drawn with GSL's mt19937 and Gaussian sampler so that a seed
 * gives the same chip on every machine. Draws are clipped to +-3 sd and
 * multiplicative factors floored at 0.1 so that no draw is unphysical.
 */
#include "config.h"
#include "spikeloop/neurons.h"
#include "spikeloop/error.h"

#include "base/rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const float_names[SL_NEURON_NFLOAT] = {
  "tau_mem", "tau_syn", "v_th", "v_leak", "v_reset", "gain"};

const char *sl_neurons_float_name(size_t i)
{
  return i < SL_NEURON_NFLOAT ? float_names[i] : NULL;
}

sl_neuron_nominal sl_neuron_nominal_default(void)
{
  sl_neuron_nominal n = {6e-3, 6e-3, 1.0, 0.0, 0.0, 1.0, 0};
  return n;
}

static float **float_slot(sl_neurons *p, size_t i)
{
  float **slots[SL_NEURON_NFLOAT] = {&p->tau_mem, &p->tau_syn, &p->v_th,
                                     &p->v_leak,  &p->v_reset, &p->gain};
  return slots[i];
}

float *sl_neurons_param(const sl_neurons *p, const char *name)
{
  if (!p || !name)
    return NULL;
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++)
    if (strcmp(name, float_names[i]) == 0)
      return *float_slot((sl_neurons *)p, i);
  return NULL;
}

void sl_neurons_free(sl_neurons *p)
{
  if (!p)
    return;
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++) {
    free(*float_slot(p, i));
    *float_slot(p, i) = NULL;
  }
  free(p->refrac);
  p->refrac = NULL;
  p->n = 0;
}

int sl_neurons_alloc(sl_neurons *p, size_t n, const sl_neuron_nominal *nominal)
{
  if (!p)
    return sl_error(SL_EINVAL, "sl_neurons_alloc: NULL pointer");
  memset(p, 0, sizeof *p);
  if (n == 0)
    return sl_error(SL_EINVAL, "sl_neurons_alloc: zero neurons");
  sl_neuron_nominal d = nominal ? *nominal : sl_neuron_nominal_default();
  double values[SL_NEURON_NFLOAT] = {d.tau_mem, d.tau_syn, d.v_th, d.v_leak, d.v_reset, d.gain};
  p->n = n;
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++) {
    float *a = malloc(n * sizeof *a);
    *float_slot(p, i) = a;
    if (!a)
      goto nomem;
    for (size_t j = 0; j < n; j++)
      a[j] = (float)values[i];
  }
  p->refrac = malloc(n * sizeof *p->refrac);
  if (!p->refrac)
    goto nomem;
  for (size_t j = 0; j < n; j++)
    p->refrac[j] = d.refrac;
  return SL_OK;
nomem:
  sl_neurons_free(p);
  return sl_error(SL_ENOMEM, "sl_neurons_alloc: out of memory for %zu neurons", n);
}

int sl_neurons_copy(sl_neurons *dst, const sl_neurons *src)
{
  if (!dst || !src || src->n == 0)
    return sl_error(SL_EINVAL, "sl_neurons_copy: empty source");
  int rc = sl_neurons_alloc(dst, src->n, NULL);
  if (rc)
    return rc;
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++)
    memcpy(*float_slot(dst, i), *float_slot((sl_neurons *)src, i), src->n * sizeof(float));
  memcpy(dst->refrac, src->refrac, src->n * sizeof *src->refrac);
  return SL_OK;
}

int sl_neurons_check(const sl_neurons *p, double dt)
{
  if (!p || p->n == 0 || !p->tau_mem)
    return sl_error(SL_EINVAL, "neuron parameters are empty");
  if (!(dt > 0) || !isfinite(dt))
    return sl_error(SL_EINVAL, "time step dt = %g must be positive and finite", dt);
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++) {
    const float *a = *float_slot((sl_neurons *)p, i);
    for (size_t j = 0; j < p->n; j++)
      if (!isfinite(a[j]))
        return sl_error(SL_ENUMERIC, "neuron %zu: %s is not finite", j, float_names[i]);
  }
  for (size_t j = 0; j < p->n; j++) {
    if (!(p->tau_mem[j] > 0))
      return sl_error(SL_EINVAL, "neuron %zu: tau_mem = %g must be positive", j, p->tau_mem[j]);
    if (!(p->tau_syn[j] > 0))
      return sl_error(SL_EINVAL, "neuron %zu: tau_syn = %g must be positive", j, p->tau_syn[j]);
    if (!(p->gain[j] > 0))
      return sl_error(SL_EINVAL, "neuron %zu: gain = %g must be positive", j, p->gain[j]);
    if (!(p->v_th[j] > p->v_reset[j]))
      return sl_error(SL_EINVAL, "neuron %zu: v_th = %g must exceed v_reset = %g", j,
                      p->v_th[j], p->v_reset[j]);
    if (p->refrac[j] < 0)
      return sl_error(SL_EINVAL, "neuron %zu: refrac = %d must be >= 0", j, (int)p->refrac[j]);
  }
  return SL_OK;
}

/* A standard normal clipped to [-3, 3]. */
static double clipped_normal(gsl_rng *r)
{
  double z = gsl_ran_gaussian_ziggurat(r, 1.0);
  return z < -3.0 ? -3.0 : (z > 3.0 ? 3.0 : z);
}

static double floored_factor(double sd, double z)
{
  double f = 1.0 + sd * z;
  return f < 0.1 ? 0.1 : f;
}

int sl_neurons_draw_mismatch(sl_neurons *p, const sl_mismatch_spec *s, uint64_t seed)
{
  if (!p || !s || p->n == 0)
    return sl_error(SL_EINVAL, "sl_neurons_draw_mismatch: empty arguments");
  const double sds[SL_NEURON_NFLOAT] = {s->tau_mem, s->tau_syn, s->v_th,
                                        s->v_leak,  s->v_reset, s->gain};
  for (size_t i = 0; i < SL_NEURON_NFLOAT; i++)
    if (!(sds[i] >= 0) || !isfinite(sds[i]))
      return sl_error(SL_EINVAL, "mismatch sd of %s = %g must be finite and >= 0",
                      float_names[i], sds[i]);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!r)
    return sl_error(SL_ENOMEM, "sl_neurons_draw_mismatch: cannot allocate generator");
  gsl_rng_set(r, (unsigned long)(sl_seed_mix(seed, 0) & 0xffffffffu) | 1u);
  /* Draw neuron by neuron, all six parameters each, so that a neuron's
   * parameters do not depend on which sds are zero. */
  for (size_t j = 0; j < p->n; j++) {
    double z[SL_NEURON_NFLOAT];
    for (size_t i = 0; i < SL_NEURON_NFLOAT; i++)
      z[i] = clipped_normal(r);
    double gap = (double)p->v_th[j] - p->v_leak[j];
    p->tau_mem[j] = (float)(p->tau_mem[j] * floored_factor(s->tau_mem, z[0]));
    p->tau_syn[j] = (float)(p->tau_syn[j] * floored_factor(s->tau_syn, z[1]));
    p->v_th[j] = (float)(p->v_leak[j] + gap * floored_factor(s->v_th, z[2]));
    p->v_leak[j] = (float)(p->v_leak[j] + s->v_leak * gap * z[3]);
    p->v_reset[j] = (float)(p->v_reset[j] + s->v_reset * gap * z[4]);
    p->gain[j] = (float)(p->gain[j] * floored_factor(s->gain, z[5]));
  }
  gsl_rng_free(r);
  return SL_OK;
}
