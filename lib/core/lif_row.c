/* lif_row.c -- the row kernels shared by every LIF and LI kernel: one time
 * step of one sample's row of N neurons, forward (Heaviside, smooth, LI)
 * and the adjoint of the common case, and the per-neuron decay factors
 * they read (lib/core/lif_row.h).
 *
 * The rows are the hot loops of the library: written branch-free over
 * restrict arrays so that GCC vectorises them, and compiled for AVX-512,
 * AVX2 and the baseline (SLK_HOT). The decay factors are recomputed only
 * when the key they were computed from (dt, scale_input, the time
 * constants, compared bit for bit) has changed, so that a network can keep
 * them per layer even though its neurons may be edited at any time.
 */
#include "config.h"
#include "core/lif_row.h"
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

/* The branch-free row step (see lif_row.h): the selects compute both
 * sides, which costs nothing next to a mispredicted branch per neuron and
 * lets the loop run in vector registers. Every array is restrict (the
 * state is updated in place) and every load unconditional, so that GCC
 * can if-convert and vectorise the loop. */
static inline __attribute__((always_inline)) void lif_row_value(const sl_neurons *restrict p, const slk_decay *restrict d, size_t N,
                          const float *restrict h, const float *restrict i_prev,
                          float *restrict i_out, float *restrict vp,
                          int32_t *restrict left, float *restrict v, float *restrict s,
                          int to_value)
{
  const float *restrict a_s = d->a_syn, *restrict a_m = d->a_mem, *restrict k = d->k_in;
  const float *restrict gain = p->gain, *restrict v_leak = p->v_leak, *restrict v_th = p->v_th;
  const float *restrict v_reset = p->v_reset;
  const int32_t *restrict refrac = p->refrac;
  for (size_t n = 0; n < N; n++) {
    const float cur = a_s[n] * i_prev[n] + gain[n] * h[n];         /* I[t] */
    const float vm = v_leak[n] + a_m[n] * (vp[n] - v_leak[n]) + k[n] * cur; /* V[t] */
    const float sv = vm - v_th[n] > 0.0f ? 1.0f : 0.0f;            /* S[t] = H(V - v_th) */
    const float vr = v_reset[n];
    const float vpost = to_value ? vm * (1.0f - sv) + vr * sv : vm - sv * (v_th[n] - vr);
    const int32_t lf = left[n], rf = refrac[n];
    const int cl = lf > 0; /* refractory: V = v_reset, no spike */
    i_out[n] = cur;
    v[n] = cl ? vr : vm;
    s[n] = cl ? 0.0f : sv;
    vp[n] = cl ? vr : vpost;
    left[n] = cl ? lf - 1 : (sv != 0.0f ? rf : 0);
  }
}

SLK_HOT void slk_lif_row(const sl_neurons *p, const slk_decay *d, int reset, size_t N,
                         const float *h, const float *i_prev, float *i_out, float *vp,
                         int32_t *left, float *v, float *s, uint8_t *clamp)
{
  for (size_t n = 0; n < N; n++) /* a narrow store of its own: keeps the main loop vectorisable */
    clamp[n] = left[n] > 0;
  if (reset == SL_RESET_TO_VALUE)
    lif_row_value(p, d, N, h, i_prev, i_out, vp, left, v, s, 1);
  else
    lif_row_value(p, d, N, h, i_prev, i_out, vp, left, v, s, 0);
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

SLK_HOT void slk_li_row(const sl_neurons *p, const slk_decay *d, size_t N, const float *h,
                        float *restrict i, float *restrict v)
{
  for (size_t n = 0; n < N; n++) {
    float cur = d->a_syn[n] * i[n] + p->gain[n] * h[n];
    float vm = p->v_leak[n] + d->a_mem[n] * (v[n] - p->v_leak[n]) + d->k_in[n] * cur;
    i[n] = cur;
    v[n] = vm;
  }
}

/* ------------------------------------------------------------ adjoint row */

/* One reverse step of one sample's row for the common case -- Heaviside
 * spikes, the SuperSpike surrogate 1 / (beta |V - v_th| + 1)^2, no tau
 * gradients -- written branch-free over restrict arrays so that it runs in
 * vector registers; the operations are those of the general loop in
 * backward_general, in the same order. clamp, nclamp: the clamp rows of
 * steps t and t+1 (ones after the last step) as int32, which unlike uint8
 * lets GCC vectorise the selects; ext: gv_ext row if has_ext (any valid
 * row otherwise); gvn, gin: gV, gI of step t+1 in, of step t out. */
static inline __attribute__((always_inline)) void bwd_row_superspike(
    const sl_neurons *restrict p, const slk_decay *restrict d, size_t N, float beta,
    int to_value, int detach, int has_ext, const int32_t *restrict clamp,
    const int32_t *restrict nclamp, const float *restrict gs, const float *restrict v,
    const float *restrict s, const float *restrict ext, float *restrict gh, float *restrict gvn,
    float *restrict gin)
{
  const float *restrict a_m = d->a_mem, *restrict a_s = d->a_syn, *restrict k = d->k_in;
  const float *restrict gain = p->gain, *restrict v_th = p->v_th, *restrict v_reset = p->v_reset;
  for (size_t n = 0; n < N; n++) {
    const float am = a_m[n], gn = gvn[n], kn = k[n]; /* loaded unconditionally */
    const float gvp = nclamp[n] ? 0.0f : am * gn;    /* gVp[t] */
    const float x = v[n] - v_th[n], sn = s[n], vr = v_reset[n], vt = v_th[n];
    float gsv = gs[n];
    if (!detach)
      gsv += to_value ? gvp * (vr - v[n]) : -gvp * (vt - vr);
    const float dvp_dv = to_value ? (sn != 0.0f ? 0.0f : 1.0f) : 1.0f;
    const float dd = beta * fabsf(x) + 1.0f;
    float gv = gvp * dvp_dv + gsv * (1.0f / (dd * dd)); /* gV[t] */
    if (has_ext)
      gv += ext[n];
    const int cl = clamp[n];
    gv = cl ? 0.0f : gv;
    const float gi = a_s[n] * gin[n] + (cl ? 0.0f : kn * gv); /* gI[t] */
    gh[n] = gain[n] * gi;
    gvn[n] = gv;
    gin[n] = gi;
  }
}

SLK_HOT void slk_lif_bwd_row(const sl_neurons *p, const slk_decay *d, size_t N, float beta,
                     int to_value, int detach, const int32_t *clamp, const int32_t *nclamp,
                     const float *gs, const float *v, const float *s, const float *ext, float *gh,
                     float *gvn, float *gin)
{
  /* constant flags, so that each variant is its own simple loop */
  if (to_value && detach && !ext)
    bwd_row_superspike(p, d, N, beta, 1, 1, 0, clamp, nclamp, gs, v, s, gs, gh, gvn, gin);
  else if (to_value && detach)
    bwd_row_superspike(p, d, N, beta, 1, 1, 1, clamp, nclamp, gs, v, s, ext, gh, gvn, gin);
  else
    bwd_row_superspike(p, d, N, beta, to_value, detach, ext != NULL, clamp, nclamp, gs, v, s,
                       ext ? ext : gs, gh, gvn, gin);
}
