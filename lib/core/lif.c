/* lif.c -- LIF and LI layer kernels: forward, and the exact adjoint
 * (backpropagation through time) with a surrogate spike derivative.
 *
 * The equations are stated in include/spikeloop/lif.h. Each kernel exists
 * twice: *_ref is the plain loop nest that follows the equations literally
 * (the oracle of the tests); the fast one precomputes per-neuron decay
 * factors, runs the batch in parallel (every (b, n) chain is independent
 * except through recurrence, which only couples neurons of one sample),
 * and gathers recurrent input from spiking neurons only. Both keep the
 * same floating-point operation order, so they agree bit for bit.
 *
 * The fast LIF forward, and the backward's common case, are the layer's
 * time loops (lif_layer.c); every row step is in lif_row.c. The slk_*
 * variants take the decay factors from a caller that keeps them per layer
 * (net.c); the public sl_* kernels make them per call.
 */
#include "config.h"
#include "spikeloop/lif.h"
#include "spikeloop/error.h"
#include "core/kernels.h"
#include "core/lif_row.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SLK_VECTORIZE

sl_lif_options sl_lif_options_default(void)
{
  sl_lif_options o;
  o.reset = SL_RESET_TO_VALUE;
  o.detach_reset = 1;
  o.scale_input = 0;
  o.smooth = 0;
  o.surrogate = sl_surrogate_find("superspike");
  o.beta = 10.0;
  return o;
}

/* ------------------------------------------------------------ forward */

int sl_lif_forward_ref(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T,
                       size_t B, const float *w_rec, float *h, float *i_syn, float *v,
                       float *s, uint8_t *clamp)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  size_t N = p->n;
  int32_t *left = calloc(B * N, sizeof *left); /* refractory steps left */
  if (!left)
    return sl_error(SL_ENOMEM, "LIF forward: out of memory");
  for (size_t t = 0; t < T; t++)
    for (size_t b = 0; b < B; b++) {
      size_t row = (t * B + b) * N, prev = ((t - 1) * B + b) * N;
      if (w_rec && t > 0)
        for (size_t m = 0; m < N; m++)
          for (size_t n = 0; n < N; n++)
            if (s[prev + m] != 0.0f)
              h[row + n] += s[prev + m] * w_rec[m * N + n];
      for (size_t n = 0; n < N; n++) {
        size_t i = row + n;
        float a_m = (float)exp(-dt / p->tau_mem[n]);
        float a_s = (float)exp(-dt / p->tau_syn[n]);
        float k = o->scale_input ? 1.0f - a_m : 1.0f;
        float i_prev = t > 0 ? i_syn[prev + n] : 0.0f;
        float vp_prev = p->v_leak[n];
        if (t > 0)
          vp_prev = clamp[prev + n] ? p->v_reset[n]
                                    : slk_post_reset(o, v[prev + n], s[prev + n], p->v_th[n],
                                                 p->v_reset[n]);
        i_syn[i] = a_s * i_prev + p->gain[n] * h[i];
        if (left[b * N + n] > 0) {
          left[b * N + n]--;
          clamp[i] = 1;
          v[i] = p->v_reset[n];
          s[i] = 0.0f;
        } else {
          clamp[i] = 0;
          v[i] = p->v_leak[n] + a_m * (vp_prev - p->v_leak[n]) + k * i_syn[i];
          s[i] = slk_spike_value(o, v[i] - p->v_th[n]);
          if (!o->smooth && s[i] != 0.0f)
            left[b * N + n] = p->refrac[n];
        }
      }
    }
  free(left);
  return SL_OK;
}

/* The fast forward is the layer's (lib/core/lif_layer.c) over the drive
 * already in h, with per-call decay factors. */
int sl_lif_forward(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T, size_t B,
                   const float *w_rec, float *h, float *i_syn, float *v, float *s,
                   uint8_t *clamp)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  slk_decay d;
  if ((rc = slk_decay_make(&d, p, o->scale_input, dt)))
    return rc;
  rc = slk_lif_layer_forward(p, &d, o, dt, T, B, NULL, NULL, w_rec, h, i_syn, v, s, clamp, NULL,
                             NULL);
  slk_decay_free(&d);
  return rc;
}

/* ------------------------------------------------------------ backward */

/*
 * Reverse-time adjoint, per (b, n), carrying gV[t+1] and gI[t+1]:
 *   gVp[t] = (t+1 < T and not clamp[t+1]) ? a_m gV[t+1] : 0
 *   if clamp[t]:  gV[t] = 0
 *   else:         gS = gs[t] + (detach ? 0 : gVp dVp/dS)
 *                 gV[t] = gVp dVp/dV|_S + gS surr'(V - v_th) + gv_ext[t]
 *   gI[t] = a_s gI[t+1] + (clamp[t] ? 0 : k gV[t]);  gh[t] = gain gI[t]
 * With Heaviside spikes dVp/dV|_S is 1 - [S != 0], so that S may also be a
 * measured spike count (several spikes of a chip within one model step).
 * Recurrence: gs[t-1] += gh[t] W_rec^T once gh[t] is known.
 * Tau gradients: dL/da_m += gV[t] (Vp[t-1] - v_leak - (scale ? I[t] : 0)),
 * dL/da_s += gI[t] I[t-1]; da/dtau = a dt / tau^2.
 */

/* Add dL/dtau_mem and dL/dtau_syn of neuron n (either array may be NULL)
 * from dL/da_m = g_am and dL/da_s = g_as: a = exp(-dt/tau), so
 * da/dtau = a dt / tau^2. */
static void add_tau_grads(const sl_neurons *p, size_t n, double dt, double a_m, double a_s,
                          double g_am, double g_as, float *dtau_mem, float *dtau_syn)
{
  const double tm = p->tau_mem[n], ts = p->tau_syn[n];
  if (dtau_mem)
    dtau_mem[n] += (float)(g_am * a_m * dt / (tm * tm));
  if (dtau_syn)
    dtau_syn[n] += (float)(g_as * a_s * dt / (ts * ts));
}

/* Vp[t-1] recomputed from the stored states. */
static inline float vp_before(const sl_neurons *p, const sl_lif_options *o, size_t t, size_t prev,
                              size_t n, const float *v, const float *s, const uint8_t *clamp)
{
  if (t == 0)
    return p->v_leak[n];
  return clamp[prev] ? p->v_reset[n]
                     : slk_post_reset(o, v[prev], s[prev], p->v_th[n], p->v_reset[n]);
}

int sl_lif_backward_ref(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T,
                        size_t B, const float *w_rec, const float *i_syn, const float *v,
                        const float *s, const uint8_t *clamp, float *gs, const float *gv_ext,
                        float *gh, float *dw_rec, float *dtau_mem, float *dtau_syn)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  size_t N = p->n;
  float *gv_next = calloc(B * N, sizeof(float));
  float *gi_next = calloc(B * N, sizeof(float));
  double *ga_m = calloc(N, sizeof(double));
  double *ga_s = calloc(N, sizeof(double));
  if (!gv_next || !gi_next || !ga_m || !ga_s) {
    free(gv_next), free(gi_next), free(ga_m), free(ga_s);
    return sl_error(SL_ENOMEM, "LIF backward: out of memory");
  }
  for (size_t t = T; t-- > 0;)
    for (size_t b = 0; b < B; b++) {
      size_t row = (t * B + b) * N;
      for (size_t n = 0; n < N; n++) {
        size_t i = row + n, c = b * N + n;
        float a_m = (float)exp(-dt / p->tau_mem[n]);
        float a_s = (float)exp(-dt / p->tau_syn[n]);
        float k = o->scale_input ? 1.0f - a_m : 1.0f;
        int next_clamped = (t + 1 < T) ? clamp[i + B * N] : 1;
        float gvp = next_clamped ? 0.0f : a_m * gv_next[c];
        float gv = 0.0f;
        if (!clamp[i]) {
          float gsv = gs[i];
          float dvp_dv;
          if (o->reset == SL_RESET_TO_VALUE) {
            if (!o->detach_reset)
              gsv += gvp * (p->v_reset[n] - v[i]);
            dvp_dv = o->smooth ? 1.0f - s[i] : (s[i] != 0.0f ? 0.0f : 1.0f);
          } else {
            if (!o->detach_reset)
              gsv += -gvp * (p->v_th[n] - p->v_reset[n]);
            dvp_dv = 1.0f;
          }
          gv = gvp * dvp_dv + gsv * slk_spike_deriv(o, v[i] - p->v_th[n]);
          if (gv_ext)
            gv += gv_ext[i];
        }
        float gi = a_s * gi_next[c] + (clamp[i] ? 0.0f : k * gv);
        gh[i] = p->gain[n] * gi;
        if (!clamp[i]) {
          float vp = vp_before(p, o, t, i - B * N, n, v, s, clamp);
          ga_m[n] += (double)gv * (vp - p->v_leak[n] - (o->scale_input ? i_syn[i] : 0.0f));
        }
        if (t > 0)
          ga_s[n] += (double)gi * i_syn[i - B * N];
        gv_next[c] = gv;
        gi_next[c] = gi;
      }
      if (w_rec && t > 0) {
        size_t prev = row - B * N;
        for (size_t m = 0; m < N; m++)
          for (size_t n = 0; n < N; n++) {
            gs[prev + m] += gh[row + n] * w_rec[m * N + n];
            if (dw_rec)
              dw_rec[m * N + n] += s[prev + m] * gh[row + n];
          }
      }
    }
  for (size_t n = 0; n < N; n++)
    add_tau_grads(p, n, dt, exp(-dt / p->tau_mem[n]), exp(-dt / p->tau_syn[n]), ga_m[n], ga_s[n],
                  dtau_mem, dtau_syn);
  free(gv_next), free(gi_next), free(ga_m), free(ga_s);
  return SL_OK;
}

/* Any options, tau gradients included: one sample at a time through all
 * steps, the recurrence added into gs[t-1] once gh[t] is known. */
static int backward_general(const sl_neurons *p, const slk_decay *d, const sl_lif_options *o,
                            double dt, size_t T, size_t B, const float *w_rec,
                            const float *i_syn, const float *v, const float *s,
                            const uint8_t *clamp, float *gs, const float *gv_ext, float *gh,
                            float *dtau_mem, float *dtau_syn)
{
  const size_t N = p->n;
  const int want_tau = dtau_mem || dtau_syn;
  float *carry = malloc(2 * B * N * sizeof(float)); /* gV[t+1], gI[t+1] per (b, n) */
  double *ga = want_tau ? calloc(2 * B * N, sizeof(double)) : NULL;
  float *w_rec_t = w_rec ? malloc(N * N * sizeof *w_rec_t) : NULL; /* W_rec^T */
  uint32_t *iota = malloc(N * sizeof *iota);                      /* 0, 1, ..., N-1 */
  if (!carry || !iota || (w_rec && !w_rec_t) || (want_tau && !ga)) {
    free(carry), free(ga), free(w_rec_t), free(iota);
    return sl_error(SL_ENOMEM, "LIF backward: out of memory");
  }
  const int to_value = o->reset == SL_RESET_TO_VALUE;
  for (size_t n = 0; n < N; n++)
    iota[n] = (uint32_t)n;
  for (size_t m = 0; w_rec && m < N; m++)
    for (size_t n = 0; n < N; n++)
      w_rec_t[n * N + m] = w_rec[m * N + n];
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++) {
    float *gv_next = carry + 2 * b * N, *gi_next = gv_next + N;
    double *ga_m = ga ? ga + 2 * b * N : NULL, *ga_s = ga ? ga_m + N : NULL;
    memset(gv_next, 0, 2 * N * sizeof(float));
    for (size_t t = T; t-- > 0;) {
      const size_t row = (t * B + b) * N;
      for (size_t n = 0; n < N; n++) {
        const size_t i = row + n;
        const int next_clamped = (t + 1 < T) ? clamp[i + B * N] : 1;
        const float gvp = next_clamped ? 0.0f : d->a_mem[n] * gv_next[n];
        float gv = 0.0f;
        if (!clamp[i]) {
          float gsv = gs[i], dvp_dv;
          if (to_value) {
            if (!o->detach_reset)
              gsv += gvp * (p->v_reset[n] - v[i]);
            dvp_dv = o->smooth ? 1.0f - s[i] : (s[i] != 0.0f ? 0.0f : 1.0f);
          } else {
            if (!o->detach_reset)
              gsv += -gvp * (p->v_th[n] - p->v_reset[n]);
            dvp_dv = 1.0f;
          }
          gv = gvp * dvp_dv + gsv * slk_spike_deriv(o, v[i] - p->v_th[n]);
          if (gv_ext)
            gv += gv_ext[i];
        }
        const float gi = d->a_syn[n] * gi_next[n] + (clamp[i] ? 0.0f : d->k_in[n] * gv);
        gh[i] = p->gain[n] * gi;
        if (ga) {
          if (!clamp[i]) {
            float vp = vp_before(p, o, t, i - B * N, n, v, s, clamp);
            ga_m[n] += (double)gv * (vp - p->v_leak[n] - (o->scale_input ? i_syn[i] : 0.0f));
          }
          if (t > 0)
            ga_s[n] += (double)gi * i_syn[i - B * N];
        }
        gv_next[n] = gv;
        gi_next[n] = gi;
      }
      /* gs[t-1, m] += sum_n gh[t, n] W_rec[m, n], n ascending: as axpys
       * of the rows of W_rec^T along gs's row (vector registers), with the
       * reference's summation order per element */
      if (w_rec && t > 0)
        slk_gather_add_row(gs + row - B * N, iota, gh + row, N, w_rec_t, N);
    }
  }
  if (ga)
    for (size_t n = 0; n < N; n++) {
      double sm = 0.0, ss = 0.0;
      for (size_t b = 0; b < B; b++) {
        sm += ga[2 * b * N + n];
        ss += ga[2 * b * N + N + n];
      }
      add_tau_grads(p, n, dt, d->a_mem[n], d->a_syn[n], sm, ss, dtau_mem, dtau_syn);
    }
  free(carry), free(ga), free(w_rec_t), free(iota);
  return SL_OK;
}

int slk_lif_backward(const sl_neurons *p, const slk_decay *d, const sl_lif_options *o,
                     double dt, size_t T, size_t B, const float *w_rec, const float *i_syn,
                     const float *v, const float *s, const uint8_t *clamp, float *gs,
                     const float *gv_ext, float *gh, float *dw_rec, float *dtau_mem,
                     float *dtau_syn)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  const size_t N = p->n;
  /* the common case -- Heaviside spikes, SuperSpike, no tau gradients --
   * runs the vectorised rows of the network's layer backward on gs */
  if (!o->smooth && !dtau_mem && !dtau_syn && o->surrogate->id == SL_SURROGATE_SUPERSPIKE)
    rc = slk_lif_layer_backward(p, d, o, dt, T, B, NULL, 0, NULL, NULL, gs, gv_ext, w_rec, v, s,
                                clamp, gh);
  else
    rc = backward_general(p, d, o, dt, T, B, w_rec, i_syn, v, s, clamp, gs, gv_ext, gh,
                          dtau_mem, dtau_syn);
  /* dW_rec += sum_{t >= 1, b} S[t-1, b]^T gh[t, b], over the spikes' events */
  if (!rc && w_rec && dw_rec && T > 1) {
    slk_events ev;
    memset(&ev, 0, sizeof ev);
    if ((rc = slk_events_build(&ev, s, (T - 1) * B, N)) == SL_OK)
      slk_matmul_tn_acc_ev(dw_rec, &ev, gh + B * N, N);
    slk_events_free(&ev);
  }
  return rc;
}

int sl_lif_backward(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T, size_t B,
                    const float *w_rec, const float *i_syn, const float *v, const float *s,
                    const uint8_t *clamp, float *gs, const float *gv_ext, float *gh,
                    float *dw_rec, float *dtau_mem, float *dtau_syn)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  slk_decay d;
  if (rc || (rc = slk_decay_make(&d, p, o->scale_input, dt)))
    return rc;
  rc = slk_lif_backward(p, &d, o, dt, T, B, w_rec, i_syn, v, s, clamp, gs, gv_ext, gh, dw_rec,
                        dtau_mem, dtau_syn);
  slk_decay_free(&d);
  return rc;
}

static int check_currents(const sl_neurons *p, double dt, size_t T, size_t B, const float *w_rec,
                          const float *s, const float *h, const float *i_syn)
{
  if (!p || p->n == 0 || !h || !i_syn || (w_rec && !s))
    return sl_error(SL_EINVAL, "sl_lif_currents: bad arguments");
  if (T == 0 || B == 0 || !(dt > 0))
    return sl_error(SL_EINVAL, "sl_lif_currents: T, B and dt must be positive");
  return SL_OK;
}

int slk_lif_currents(const sl_neurons *p, const slk_decay *d, double dt, size_t T, size_t B,
                     const float *w_rec, const float *s, float *h, float *i_syn)
{
  int rc = check_currents(p, dt, T, B, w_rec, s, h, i_syn);
  if (rc)
    return rc;
  const size_t N = p->n;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++)
    for (size_t t = 0; t < T; t++) {
      const size_t row = (t * B + b) * N;
      float *hr = h + row;
      if (w_rec && t > 0) {
        const float *sp = s + row - B * N;
        for (size_t m = 0; m < N; m++)
          if (sp[m] != 0.0f)
            for (size_t n = 0; n < N; n++)
              hr[n] += sp[m] * w_rec[m * N + n];
      }
      const float *ip = t > 0 ? i_syn + row - B * N : NULL;
      for (size_t n = 0; n < N; n++)
        i_syn[row + n] = d->a_syn[n] * (ip ? ip[n] : 0.0f) + p->gain[n] * hr[n];
    }
  return SL_OK;
}

int sl_lif_currents(const sl_neurons *p, double dt, size_t T, size_t B, const float *w_rec,
                    const float *s, float *h, float *i_syn)
{
  int rc = check_currents(p, dt, T, B, w_rec, s, h, i_syn);
  slk_decay d;
  if (rc || (rc = slk_decay_make(&d, p, 0, dt)))
    return rc;
  rc = slk_lif_currents(p, &d, dt, T, B, w_rec, s, h, i_syn);
  slk_decay_free(&d);
  return rc;
}

/* ------------------------------------------------------------ LI readout */

static int check_li(const sl_neurons *p, double dt, size_t T, size_t B)
{
  if (!p || p->n == 0)
    return sl_error(SL_EINVAL, "LI kernel: empty neurons");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "LI kernel: T = %zu and B = %zu must be positive", T, B);
  if (!(dt > 0) || !isfinite(dt))
    return sl_error(SL_EINVAL, "LI kernel: dt = %g must be positive and finite", dt);
  return SL_OK;
}

int slk_li_forward(const sl_neurons *p, const slk_decay *d, double dt, size_t T, size_t B,
                   const float *h, float *i_syn, float *v)
{
  int rc = check_li(p, dt, T, B);
  if (rc)
    return rc;
  const size_t N = p->n;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++)
    for (size_t t = 0; t < T; t++) {
      const size_t row = (t * B + b) * N, prev = row - B * N;
      for (size_t n = 0; n < N; n++) {
        float ip = t > 0 ? i_syn[prev + n] : 0.0f;
        float vp = t > 0 ? v[prev + n] : p->v_leak[n];
        float cur = d->a_syn[n] * ip + p->gain[n] * h[row + n];
        i_syn[row + n] = cur;
        v[row + n] = p->v_leak[n] + d->a_mem[n] * (vp - p->v_leak[n]) + d->k_in[n] * cur;
      }
    }
  return SL_OK;
}

int sl_li_forward(const sl_neurons *p, int scale_input, double dt, size_t T, size_t B,
                  const float *h, float *i_syn, float *v)
{
  int rc = check_li(p, dt, T, B);
  slk_decay d;
  if (rc || (rc = slk_decay_make(&d, p, scale_input, dt)))
    return rc;
  rc = slk_li_forward(p, &d, dt, T, B, h, i_syn, v);
  slk_decay_free(&d);
  return rc;
}

/* The adjoint of neuron n of sample b, t descending; with ga (2N), also
 * its tau sums dL/da_m into ga[n] and dL/da_s into ga[N + n]. */
static inline void li_backward_chain(const sl_neurons *p, const slk_decay *d, int scale_input,
                                     size_t T, size_t B, size_t b, size_t n, const float *i_syn,
                                     const float *v, const float *gv, float *gh, double *ga)
{
  const size_t N = p->n;
  float gv_acc = 0.0f, gi_acc = 0.0f;
  for (size_t t = T; t-- > 0;) {
    const size_t i = (t * B + b) * N + n;
    gv_acc = gv[i] + d->a_mem[n] * gv_acc;               /* dL/dV[t] */
    gi_acc = d->a_syn[n] * gi_acc + d->k_in[n] * gv_acc; /* dL/dI[t] */
    gh[i] = p->gain[n] * gi_acc;
    if (!ga)
      continue;
    float vprev = t > 0 ? v[i - B * N] : p->v_leak[n];
    ga[n] += (double)gv_acc * (vprev - p->v_leak[n] - (scale_input ? i_syn[i] : 0.0f));
    if (t > 0)
      ga[N + n] += (double)gi_acc * i_syn[i - B * N];
  }
}

/* Without tau sums the samples are independent: in parallel. */
static void li_backward_parallel(const sl_neurons *p, const slk_decay *d, size_t T, size_t B,
                                 const float *gv, float *gh)
{
  const size_t N = p->n;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++)
    for (size_t n = 0; n < N; n++)
      li_backward_chain(p, d, 0, T, B, b, n, NULL, NULL, gv, gh, NULL);
}

int slk_li_backward(const sl_neurons *p, const slk_decay *d, int scale_input, double dt,
                    size_t T, size_t B, const float *i_syn, const float *v, const float *gv,
                    float *gh, float *dtau_mem, float *dtau_syn)
{
  int rc = check_li(p, dt, T, B);
  if (rc)
    return rc;
  const size_t N = p->n;
  if (!dtau_mem && !dtau_syn) {
    li_backward_parallel(p, d, T, B, gv, gh);
    return SL_OK;
  }
  double *ga = calloc(2 * N, sizeof(double));
  if (!ga)
    return sl_error(SL_ENOMEM, "LI backward: out of memory");
  /* Serial over the batch: the readout is tiny, and the tau sums then have
   * one fixed order. */
  for (size_t b = 0; b < B; b++)
    for (size_t n = 0; n < N; n++)
      li_backward_chain(p, d, scale_input, T, B, b, n, i_syn, v, gv, gh, ga);
  for (size_t n = 0; n < N; n++)
    add_tau_grads(p, n, dt, d->a_mem[n], d->a_syn[n], ga[n], ga[N + n], dtau_mem, dtau_syn);
  free(ga);
  return SL_OK;
}

int sl_li_backward(const sl_neurons *p, int scale_input, double dt, size_t T, size_t B,
                   const float *i_syn, const float *v, const float *gv, float *gh,
                   float *dtau_mem, float *dtau_syn)
{
  int rc = check_li(p, dt, T, B);
  slk_decay d;
  if (rc || (rc = slk_decay_make(&d, p, scale_input, dt)))
    return rc;
  rc = slk_li_backward(p, &d, scale_input, dt, T, B, i_syn, v, gv, gh, dtau_mem, dtau_syn);
  slk_decay_free(&d);
  return rc;
}
