/* lif_row.c -- the row kernels shared by every LIF and LI kernel: one time
 * step of one sample's row of N neurons, forward (Heaviside, smooth, LI)
 * and the adjoint of the common case, and the per-neuron decay factors
 * they read (lib/core/lif_row.h).
 *
 * The rows are the hot loops of the library: their bodies are in
 * hot_body.h, built once per vector path; the entry points here call the
 * active path's (core/paths.h). The decay factors are recomputed only
 * when the key they were computed from (dt, scale_input, the time
 * constants, compared bit for bit) has changed, so that a network can keep
 * them per layer even though its neurons may be edited at any time.
 */
#include "config.h"
#include "core/lif_row.h"
#include "core/paths.h"
#include "spikeloop/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SLK_VECTORIZE

/* ------------------------------------------------------------ decay factors */

void slk_decay_free(slk_decay *d)
{
  free(d->a_mem), free(d->a_syn), free(d->k_in), free(d->tau_mem), free(d->tau_syn);
  memset(d, 0, sizeof *d);
}

/* Whether d was computed from exactly these inputs. */
static int decay_current(const slk_decay *d, const sl_neurons *p, int scale_input, double dt)
{
  const size_t bytes = p->n * sizeof(float);
  return d->valid && d->n == p->n && d->dt == dt && d->scale_input == scale_input &&
         (bytes == 0 || (memcmp(d->tau_mem, p->tau_mem, bytes) == 0 &&
                         memcmp(d->tau_syn, p->tau_syn, bytes) == 0));
}

/* Arrays for n neurons (at least one element each, so that n = 0 is no failure). */
static int decay_alloc(slk_decay *d, size_t n)
{
  float **arrays[5] = {&d->a_mem, &d->a_syn, &d->k_in, &d->tau_mem, &d->tau_syn};
  slk_decay_free(d);
  for (size_t i = 0; i < 5; i++)
    if (!(*arrays[i] = malloc((n ? n : 1) * sizeof(float)))) {
      slk_decay_free(d);
      return sl_error(SL_ENOMEM, "LIF kernel: out of memory");
    }
  d->n = n;
  return SL_OK;
}

int slk_decay_update(slk_decay *d, const sl_neurons *p, int scale_input, double dt)
{
  if (decay_current(d, p, scale_input, dt))
    return SL_OK;
  const size_t N = p->n;
  int rc = d->n == N && d->a_mem ? SL_OK : decay_alloc(d, N);
  if (rc)
    return rc;
  for (size_t n = 0; n < N; n++) {
    d->a_mem[n] = (float)exp(-dt / p->tau_mem[n]);
    d->a_syn[n] = (float)exp(-dt / p->tau_syn[n]);
    d->k_in[n] = scale_input ? 1.0f - d->a_mem[n] : 1.0f;
  }
  memcpy(d->tau_mem, p->tau_mem, N * sizeof(float));
  memcpy(d->tau_syn, p->tau_syn, N * sizeof(float));
  d->dt = dt;
  d->scale_input = scale_input;
  d->valid = 1;
  return SL_OK;
}

int slk_decay_make(slk_decay *d, const sl_neurons *p, int scale_input, double dt)
{
  memset(d, 0, sizeof *d);
  return slk_decay_update(d, p, scale_input, dt);
}

/* ------------------------------------------------------------ checks */

int slk_lif_check_args(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T, size_t B)
{
  if (!p || !o || !o->surrogate)
    return sl_error(SL_EINVAL, "LIF kernel: NULL neurons, options or surrogate");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "LIF kernel: T = %zu and B = %zu must be positive", T, B);
  if (!(dt > 0) || !isfinite(dt))
    return sl_error(SL_EINVAL, "LIF kernel: dt = %g must be positive and finite", dt);
  if (o->reset != SL_RESET_TO_VALUE && o->reset != SL_RESET_SUBTRACT)
    return sl_error(SL_EINVAL, "LIF kernel: unknown reset mode %d", o->reset);
  if (o->smooth)
    for (size_t n = 0; n < p->n; n++)
      if (p->refrac[n] != 0)
        return sl_error(SL_EINVAL, "LIF kernel: smooth spikes need refrac = 0 (neuron %zu)", n);
  return SL_OK;
}

/* ------------------------------------------------------------ forward rows */

/* The hot rows run on the active vector path (core/paths.h, hot_body.h). */
void slk_lif_row(const sl_neurons *p, const slk_decay *d, int reset, size_t N, const float *h,
                 const float *i_prev, float *i_out, float *vp, int32_t *left, float *v, float *s,
                 uint8_t *clamp)
{
  slk_path()->lif_row(p, d, reset, N, h, i_prev, i_out, vp, left, v, s, clamp);
}

/* The same step with smooth spikes (gradient checks; refrac is 0). */
static void lif_row_smooth(const sl_neurons *p, const slk_decay *d, const sl_lif_options *o,
                           size_t N, const float *h, const float *i_prev, float *i_out,
                           float *vp, float *v, float *s, uint8_t *clamp)
{
  for (size_t n = 0; n < N; n++) {
    float cur = d->a_syn[n] * i_prev[n] + p->gain[n] * h[n];
    float vm = p->v_leak[n] + d->a_mem[n] * (vp[n] - p->v_leak[n]) + d->k_in[n] * cur;
    float sv = slk_spike_value(o, vm - p->v_th[n]);
    i_out[n] = cur;
    clamp[n] = 0;
    v[n] = vm;
    s[n] = sv;
    vp[n] = slk_post_reset(o, vm, sv, p->v_th[n], p->v_reset[n]);
  }
}

void slk_lif_step(const sl_neurons *p, const slk_decay *d, const sl_lif_options *o, size_t N,
                  const float *h, const float *i_prev, float *i_out, float *vp, int32_t *left,
                  float *v, float *s, uint8_t *clamp)
{
  if (o->smooth)
    lif_row_smooth(p, d, o, N, h, i_prev, i_out, vp, v, s, clamp);
  else
    slk_lif_row(p, d, o->reset, N, h, i_prev, i_out, vp, left, v, s, clamp);
}

void slk_li_row(const sl_neurons *p, const slk_decay *d, size_t N, const float *h, float *i,
                float *v)
{
  slk_path()->li_row(p, d, N, h, i, v);
}

/* ------------------------------------------------------------ adjoint row */

void slk_lif_bwd_row(const sl_neurons *p, const slk_decay *d, size_t N, float beta, int to_value,
                     int detach, const int32_t *clamp, const int32_t *nclamp, const float *gs,
                     const float *v, const float *s, const float *ext, float *gh, float *gvn,
                     float *gin)
{
  slk_path()->lif_bwd_row(p, d, N, beta, to_value, detach, clamp, nclamp, gs, v, s, ext, gh, gvn,
                          gin);
}
