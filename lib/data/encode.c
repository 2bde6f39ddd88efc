/* encode.c -- spike encoders: feature rows -> input spike rasters.
 *
 * out: (T, B, D_out) time-major, D_out = dim (+1 bias column, the last one).
 * Kinds (found by name in a static table, sl_encoder_list):
 *   latency      t = t_early + (1 - x) * (t_late - t_early), x clipped to [0,1]
 *   latency_log  t = tau_in * log(x / (x - x_min)) for x > x_min, else no spike
 *                (x clipped to [0,1]; Cramer et al. 2022, FACTS.md section 1)
 *   rate         Bernoulli per step and input with p = clip(x, 0, 1) * rate_max
 *   raster       the row already is a raster (T, dim/T), time-major (SHD,
 *                spikeloop/shd.h): input i spikes in step t iff x[t, i] > 0
 *                (a bin with several spikes sends one: backends take 0/1)
 * A spike at time t lands in step floor(t/dt + 0.5) and is dropped if that
 * step is >= T. The bias input spikes once, in the step of bias_time.
 * The log cut-off compares in float precision (features are float), so a
 * feature stored as 0.2f is "<= x_min = 0.2" and sends no spike.
 *
 * Choices:
 * - Everything that can fail (settings, NaN/Inf features) is checked before
 *   `out` is touched; the encoding loop itself cannot fail, so it is a plain
 *   OpenMP `parallel for` over the batch (each sample owns its own slices).
 * - Rate coding seeds one xoshiro stream per sample from
 *   sl_seed_mix(seed, sample_ids[b]) and draws in (t, i) order, so a sample's
 *   raster does not depend on its batch, its position, or the thread count.
 * - A bias_time that falls at or after step T is rejected (SL_EINVAL): a bias
 *   input that never spikes is a configuration mistake, not a data effect.
 */
#include "config.h"

#include "spikeloop/encode.h"
#include "spikeloop/error.h"
#include "base/names.h"
#include "base/rng.h"

#include <math.h>
#include <string.h>

/* The encoders by name, indexed by SL_ENCODE_* kind. */
static const char *const encoder_names[] = {
    [SL_ENCODE_LATENCY_LINEAR] = "latency",
    [SL_ENCODE_LATENCY_LOG] = "latency_log",
    [SL_ENCODE_RATE] = "rate",
    [SL_ENCODE_RASTER] = "raster",
    NULL,
};
enum { N_ENCODERS = sizeof encoder_names / sizeof encoder_names[0] - 1 };

const char *const *sl_encoder_list(void) { return encoder_names; }

sl_encoder sl_encoder_default(void)
{
  sl_encoder e = {
      .kind = SL_ENCODE_LATENCY_LINEAR,
      .t_steps = 40,
      .dt = 1e-3,
      .t_early = 2e-3,
      .t_late = 27e-3,
      .tau_in = 8e-3,
      .x_min = 0.2,
      .rate_max = 0.2,
      .bias = 1,
      .bias_time = 0.0,
  };
  return e;
}

size_t sl_encoder_out_dim(const sl_encoder *e, size_t dim)
{
  if (e && e->kind == SL_ENCODE_RASTER && e->t_steps)
    dim /= e->t_steps;
  return dim + ((e && e->bias) ? 1 : 0);
}

int sl_encoder_kind_from_name(const char *name, int *kind)
{
  if (!name || !kind)
    return sl_error(SL_EINVAL, "sl_encoder_kind_from_name: NULL %s", name ? "kind" : "name");
  for (int k = 0; k < N_ENCODERS; k++)
    if (strcmp(encoder_names[k], name) == 0) {
      *kind = k;
      return SL_OK;
    }
  char known[96];
  return sl_error(SL_ENOTFOUND, "unknown encoder '%s' (known: %s)", name,
                  sli_names_join(encoder_names, ", ", known, sizeof known));
}

const char *sl_encoder_kind_name(int kind)
{
  return kind >= 0 && kind < N_ENCODERS ? encoder_names[kind] : NULL;
}

/* Step of a spike at time t: 1 and *step if it falls in [0, T), else 0. */
static int spike_step(double t, double dt, size_t T, size_t *step)
{
  double s = floor(t / dt + 0.5);
  if (!(s >= 0.0) || s >= (double)T) /* also drops NaN and +Inf */
    return 0;
  *step = (size_t)s;
  return 1;
}

static double clip01(double x) { return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x); }

/* Spike time of feature x, or INFINITY for no spike. */
static double latency_time(const sl_encoder *e, double x)
{
  x = clip01(x);
  if (e->kind == SL_ENCODE_LATENCY_LINEAR)
    return e->t_early + (1.0 - x) * (e->t_late - e->t_early);
  if (x <= (double)(float)e->x_min) /* features are float: 0.2f counts as 0.2 */
    return INFINITY;
  return e->tau_in * log(x / (x - e->x_min));
}

static int check_settings(const sl_encoder *e)
{
  if (!sl_encoder_kind_name(e->kind))
    return sl_error(SL_EINVAL, "sl_encode: unknown encoder kind %d", e->kind);
  if (e->t_steps == 0)
    return sl_error(SL_EINVAL, "sl_encode: t_steps must be > 0");
  if (!(isfinite(e->dt) && e->dt > 0.0))
    return sl_error(SL_EINVAL, "sl_encode: dt = %g must be finite and > 0", e->dt);
  switch (e->kind) {
  case SL_ENCODE_LATENCY_LINEAR:
    if (!(isfinite(e->t_early) && isfinite(e->t_late) && e->t_early >= 0.0 &&
          e->t_early <= e->t_late))
      return sl_error(SL_EINVAL, "sl_encode: need finite 0 <= t_early <= t_late (got %g, %g)",
                      e->t_early, e->t_late);
    break;
  case SL_ENCODE_LATENCY_LOG:
    if (!(isfinite(e->tau_in) && e->tau_in > 0.0))
      return sl_error(SL_EINVAL, "sl_encode: tau_in = %g must be finite and > 0", e->tau_in);
    if (!(e->x_min >= 0.0 && e->x_min < 1.0))
      return sl_error(SL_EINVAL, "sl_encode: x_min = %g must be in [0, 1)", e->x_min);
    break;
  case SL_ENCODE_RATE:
    if (!(e->rate_max >= 0.0 && e->rate_max <= 1.0))
      return sl_error(SL_EINVAL, "sl_encode: rate_max = %g must be in [0, 1]", e->rate_max);
    break;
  }
  if (e->bias) {
    if (!(isfinite(e->bias_time) && e->bias_time >= 0.0))
      return sl_error(SL_EINVAL, "sl_encode: bias_time = %g must be finite and >= 0",
                      e->bias_time);
    size_t s;
    if (!spike_step(e->bias_time, e->dt, e->t_steps, &s))
      return sl_error(SL_EINVAL, "sl_encode: bias_time = %g falls after the last of %zu steps",
                      e->bias_time, e->t_steps);
  }
  return SL_OK;
}

int sl_encode(const sl_encoder *e, const float *x, size_t B, size_t dim,
              const uint64_t *sample_ids, uint64_t seed, float *out)
{
  if (!e)
    return sl_error(SL_EINVAL, "sl_encode: encoder settings are NULL");
  int rc = check_settings(e);
  if (rc)
    return rc;
  const size_t T = e->t_steps, D = sl_encoder_out_dim(e, dim);
  if (e->kind == SL_ENCODE_RASTER && dim % T)
    return sl_error(SL_EINVAL, "sl_encode: raster rows of %zu values are not %zu steps of "
                    "whole inputs (encoder.t_steps must be the data's number of bins)", dim, T);
  const size_t n_feat = e->kind == SL_ENCODE_RASTER ? dim / T : dim;
  if (B == 0)
    return SL_OK;
  if (!out || (!x && dim))
    return sl_error(SL_EINVAL, "sl_encode: NULL %s", out ? "features" : "output");
  if (e->kind == SL_ENCODE_RATE && !sample_ids)
    return sl_error(SL_EINVAL, "sl_encode: rate coding needs sample_ids (got NULL)");
  if (D > SIZE_MAX / B || B * D > SIZE_MAX / sizeof(float) / T)
    return sl_error(SL_EINVAL, "sl_encode: raster of %zu x %zu x %zu overflows", T, B, D);
  for (size_t b = 0; b < B; b++)
    for (size_t i = 0; i < dim; i++)
      if (!isfinite(x[b * dim + i]))
        return sl_error(SL_ENUMERIC, "sl_encode: feature %zu of sample %zu (batch row) is %s", i,
                        b, isnan(x[b * dim + i]) ? "NaN" : "infinite");

  const size_t BD = B * D;
  memset(out, 0, T * BD * sizeof *out);
  size_t bias_step = 0;
  const int has_bias = e->bias && spike_step(e->bias_time, e->dt, T, &bias_step);

  /* out[t, b, i]: each iteration writes only column block b. */
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t b = 0; b < B; b++) {
    const float *xb = x + b * dim;
    float *ob = out + b * D;
    if (e->kind == SL_ENCODE_RATE) {
      sl_rng_state rng;
      sl_rng_seed(&rng, sl_seed_mix(seed, sample_ids[b]));
      for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < dim; i++) {
          double p = clip01(xb[i]) * e->rate_max;
          if (sl_rng_uniform(&rng) < p)
            ob[t * BD + i] = 1.0f;
        }
    } else if (e->kind == SL_ENCODE_RASTER) {
      for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < n_feat; i++)
          if (xb[t * n_feat + i] > 0.0f)
            ob[t * BD + i] = 1.0f;
    } else {
      for (size_t i = 0; i < dim; i++) {
        size_t s;
        if (spike_step(latency_time(e, xb[i]), e->dt, T, &s))
          ob[s * BD + i] = 1.0f;
      }
    }
    if (has_bias)
      ob[bias_step * BD + n_feat] = 1.0f;
  }
  return SL_OK;
}
