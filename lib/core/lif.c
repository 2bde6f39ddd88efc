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
 */
#include "config.h"
#include "spikeloop/lif.h"
#include "spikeloop/error.h"
#include "core/kernels.h"

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

void slk_decay_free(slk_decay *d)
{
  free(d->a_mem);
  free(d->a_syn);
  free(d->k_in);
  d->a_mem = d->a_syn = d->k_in = NULL;
}

int slk_decay_make(slk_decay *d, const sl_neurons *p, int scale_input, double dt)
{
  size_t N = p->n;
  d->a_mem = malloc(N * sizeof(float));
  d->a_syn = malloc(N * sizeof(float));
  d->k_in = malloc(N * sizeof(float));
  if (!d->a_mem || !d->a_syn || !d->k_in) {
    slk_decay_free(d);
    return sl_error(SL_ENOMEM, "LIF kernel: out of memory");
  }
  for (size_t n = 0; n < N; n++) {
    d->a_mem[n] = (float)exp(-dt / p->tau_mem[n]);
    d->a_syn[n] = (float)exp(-dt / p->tau_syn[n]);
    d->k_in[n] = scale_input ? 1.0f - d->a_mem[n] : 1.0f;
  }
  return SL_OK;
}

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

/* Spike value and surrogate derivative at x = V - v_th. */
static inline float spike_value(const sl_lif_options *o, float x)
{
  return o->smooth ? (float)o->surrogate->smooth(x, o->beta) : (x > 0.0f ? 1.0f : 0.0f);
}

/* The surrogate derivative; the common SuperSpike case inline. */
static inline float spike_deriv(const sl_lif_options *o, float x)
{
  if (o->surrogate->id == SL_SURROGATE_SUPERSPIKE) {
    float d = (float)o->beta * fabsf(x) + 1.0f;
    return 1.0f / (d * d);
  }
  return (float)o->surrogate->deriv(x, o->beta);
}

/* Membrane after the reset, Vp, from the recorded V and S. */
static inline float post_reset(const sl_lif_options *o, float v, float s, float v_th, float v_reset)
{
  return o->reset == SL_RESET_TO_VALUE ? v * (1.0f - s) + v_reset * s : v - s * (v_th - v_reset);
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
                                    : post_reset(o, v[prev + n], s[prev + n], p->v_th[n],
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
          s[i] = spike_value(o, v[i] - p->v_th[n]);
          if (!o->smooth && s[i] != 0.0f)
            left[b * N + n] = p->refrac[n];
        }
      }
    }
  free(left);
  return SL_OK;
}

/* The branch-free row step (see kernels.h): the selects compute both
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
    float sv = spike_value(o, vm - p->v_th[n]);
    i_out[n] = cur;
    clamp[n] = 0;
    v[n] = vm;
    s[n] = sv;
    vp[n] = post_reset(o, vm, sv, p->v_th[n], p->v_reset[n]);
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

/* h[t] += S[t-1] @ W_rec for one row: list the spiking neurons (m
 * ascending) into idx/val (room for N), then gather their rows of W_rec. */
static void add_recurrent(float *hr, const float *sp, const float *w_rec, size_t N, uint32_t *idx,
                          float *val)
{
  int n = slk_row_events(sp, N, idx, val); /* spikes are finite: n >= 0 */
  if (n > 0)
    slk_gather_add_row(hr, idx, val, (size_t)n, w_rec, N);
}

int sl_lif_forward(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T, size_t B,
                   const float *w_rec, float *h, float *i_syn, float *v, float *s,
                   uint8_t *clamp)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  const size_t N = p->n;
  slk_decay d;
  if ((rc = slk_decay_make(&d, p, o->scale_input, dt)))
    return rc;
  /* per sample: refractory counters, Vp, and a row of zeros (I[-1]) */
  int32_t *left_all = calloc(B * N, sizeof *left_all);
  float *vp_all = malloc(B * N * sizeof *vp_all), *zero = calloc(N, sizeof *zero);
  float *ev_all = w_rec ? malloc(2 * B * N * sizeof *ev_all) : NULL; /* spike lists */
  if (!left_all || !vp_all || !zero || (w_rec && !ev_all)) {
    free(left_all), free(vp_all), free(zero), free(ev_all);
    slk_decay_free(&d);
    return sl_error(SL_ENOMEM, "LIF forward: out of memory");
  }
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++) {
    int32_t *left = left_all + b * N;
    float *vp = vp_all + b * N;
    for (size_t n = 0; n < N; n++)
      vp[n] = p->v_leak[n];
    for (size_t t = 0; t < T; t++) {
      const size_t row = (t * B + b) * N;
      if (w_rec && t > 0)
        add_recurrent(h + row, s + row - B * N, w_rec, N, (uint32_t *)(ev_all + 2 * b * N),
                      ev_all + (2 * b + 1) * N);
      slk_lif_step(p, &d, o, N, h + row, t > 0 ? i_syn + row - B * N : zero, i_syn + row, vp,
                   left, v + row, s + row, clamp + row);
    }
  }
  free(left_all), free(vp_all), free(zero), free(ev_all);
  slk_decay_free(&d);
  return SL_OK;
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

/* Vp[t-1] recomputed from the stored states. */
static inline float vp_before(const sl_neurons *p, const sl_lif_options *o, size_t t, size_t prev,
                              size_t n, const float *v, const float *s, const uint8_t *clamp)
{
  if (t == 0)
    return p->v_leak[n];
  return clamp[prev] ? p->v_reset[n] : post_reset(o, v[prev], s[prev], p->v_th[n], p->v_reset[n]);
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
          gv = gvp * dvp_dv + gsv * spike_deriv(o, v[i] - p->v_th[n]);
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
  for (size_t n = 0; n < N; n++) {
    double tm = p->tau_mem[n], ts = p->tau_syn[n];
    if (dtau_mem)
      dtau_mem[n] += (float)(ga_m[n] * exp(-dt / tm) * dt / (tm * tm));
    if (dtau_syn)
      dtau_syn[n] += (float)(ga_s[n] * exp(-dt / ts) * dt / (ts * ts));
  }
  free(gv_next), free(gi_next), free(ga_m), free(ga_s);
  return SL_OK;
}

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

/* Any options, tau gradients included: one sample at a time through all
 * steps, the recurrence added into gs[t-1] once gh[t] is known. */
static int backward_general(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T,
                            size_t B, const float *w_rec, const float *i_syn, const float *v,
                            const float *s, const uint8_t *clamp, float *gs,
                            const float *gv_ext, float *gh, float *dtau_mem, float *dtau_syn)
{
  const size_t N = p->n;
  const int want_tau = dtau_mem || dtau_syn;
  slk_decay d;
  int rc = slk_decay_make(&d, p, o->scale_input, dt);
  if (rc)
    return rc;
  float *carry = malloc(2 * B * N * sizeof(float)); /* gV[t+1], gI[t+1] per (b, n) */
  double *ga = want_tau ? calloc(2 * B * N, sizeof(double)) : NULL;
  float *w_rec_t = w_rec ? malloc(N * N * sizeof *w_rec_t) : NULL; /* W_rec^T */
  uint32_t *iota = malloc(N * sizeof *iota);                      /* 0, 1, ..., N-1 */
  if (!carry || !iota || (w_rec && !w_rec_t) || (want_tau && !ga)) {
    free(carry), free(ga), free(w_rec_t), free(iota);
    slk_decay_free(&d);
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
        const float gvp = next_clamped ? 0.0f : d.a_mem[n] * gv_next[n];
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
          gv = gvp * dvp_dv + gsv * spike_deriv(o, v[i] - p->v_th[n]);
          if (gv_ext)
            gv += gv_ext[i];
        }
        const float gi = d.a_syn[n] * gi_next[n] + (clamp[i] ? 0.0f : d.k_in[n] * gv);
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
      double tm = p->tau_mem[n], ts = p->tau_syn[n];
      if (dtau_mem)
        dtau_mem[n] += (float)(sm * d.a_mem[n] * dt / (tm * tm));
      if (dtau_syn)
        dtau_syn[n] += (float)(ss * d.a_syn[n] * dt / (ts * ts));
    }
  free(carry), free(ga), free(w_rec_t), free(iota);
  slk_decay_free(&d);
  return SL_OK;
}

int sl_lif_backward(const sl_neurons *p, const sl_lif_options *o, double dt, size_t T, size_t B,
                    const float *w_rec, const float *i_syn, const float *v, const float *s,
                    const uint8_t *clamp, float *gs, const float *gv_ext, float *gh,
                    float *dw_rec, float *dtau_mem, float *dtau_syn)
{
  int rc = slk_lif_check_args(p, o, dt, T, B);
  if (rc)
    return rc;
  const size_t N = p->n;
  /* the common case -- Heaviside spikes, SuperSpike, no tau gradients --
   * runs the vectorised rows of the network's layer backward on gs */
  if (!o->smooth && !dtau_mem && !dtau_syn && o->surrogate->id == SL_SURROGATE_SUPERSPIKE)
    rc = slk_lif_layer_backward(p, o, dt, T, B, NULL, 0, NULL, NULL, gs, gv_ext, w_rec, v, s,
                                clamp, gh);
  else
    rc = backward_general(p, o, dt, T, B, w_rec, i_syn, v, s, clamp, gs, gv_ext, gh, dtau_mem,
                          dtau_syn);
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

int sl_lif_currents(const sl_neurons *p, double dt, size_t T, size_t B, const float *w_rec,
                    const float *s, float *h, float *i_syn)
{
  if (!p || p->n == 0 || !h || !i_syn || (w_rec && !s))
    return sl_error(SL_EINVAL, "sl_lif_currents: bad arguments");
  if (T == 0 || B == 0 || !(dt > 0))
    return sl_error(SL_EINVAL, "sl_lif_currents: T, B and dt must be positive");
  const size_t N = p->n;
  slk_decay d;
  int rc = slk_decay_make(&d, p, 0, dt);
  if (rc)
    return rc;
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
        i_syn[row + n] = d.a_syn[n] * (ip ? ip[n] : 0.0f) + p->gain[n] * hr[n];
    }
  slk_decay_free(&d);
  return SL_OK;
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

int sl_li_forward(const sl_neurons *p, int scale_input, double dt, size_t T, size_t B,
                  const float *h, float *i_syn, float *v)
{
  int rc = check_li(p, dt, T, B);
  slk_decay d;
  if (rc || (rc = slk_decay_make(&d, p, scale_input, dt)))
    return rc;
  const size_t N = p->n;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++)
    for (size_t t = 0; t < T; t++) {
      const size_t row = (t * B + b) * N, prev = row - B * N;
      for (size_t n = 0; n < N; n++) {
        float ip = t > 0 ? i_syn[prev + n] : 0.0f;
        float vp = t > 0 ? v[prev + n] : p->v_leak[n];
        float cur = d.a_syn[n] * ip + p->gain[n] * h[row + n];
        i_syn[row + n] = cur;
        v[row + n] = p->v_leak[n] + d.a_mem[n] * (vp - p->v_leak[n]) + d.k_in[n] * cur;
      }
    }
  slk_decay_free(&d);
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
  const size_t N = p->n;
  if (!dtau_mem && !dtau_syn) { /* no tau sums: the samples are independent */
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++)
      for (size_t n = 0; n < N; n++) {
        float gv_acc = 0.0f, gi_acc = 0.0f;
        for (size_t t = T; t-- > 0;) {
          const size_t i = (t * B + b) * N + n;
          gv_acc = gv[i] + d.a_mem[n] * gv_acc;              /* dL/dV[t] */
          gi_acc = d.a_syn[n] * gi_acc + d.k_in[n] * gv_acc; /* dL/dI[t] */
          gh[i] = p->gain[n] * gi_acc;
        }
      }
    slk_decay_free(&d);
    return SL_OK;
  }
  double *ga = calloc(2 * N, sizeof(double));
  if (!ga) {
    slk_decay_free(&d);
    return sl_error(SL_ENOMEM, "LI backward: out of memory");
  }
  /* Serial over the batch: the readout is tiny, and the tau sums then have
   * one fixed order. */
  for (size_t b = 0; b < B; b++) {
    for (size_t n = 0; n < N; n++) {
      float gv_acc = 0.0f, gi_acc = 0.0f;
      for (size_t t = T; t-- > 0;) {
        const size_t i = (t * B + b) * N + n;
        gv_acc = gv[i] + d.a_mem[n] * gv_acc;  /* dL/dV[t] */
        gi_acc = d.a_syn[n] * gi_acc + d.k_in[n] * gv_acc; /* dL/dI[t] */
        gh[i] = p->gain[n] * gi_acc;
        float vprev = t > 0 ? v[i - B * N] : p->v_leak[n];
        ga[n] += (double)gv_acc * (vprev - p->v_leak[n] - (scale_input ? i_syn[i] : 0.0f));
        if (t > 0)
          ga[N + n] += (double)gi_acc * i_syn[i - B * N];
      }
    }
  }
  for (size_t n = 0; n < N; n++) {
    double tm = p->tau_mem[n], ts = p->tau_syn[n];
    if (dtau_mem)
      dtau_mem[n] += (float)(ga[n] * d.a_mem[n] * dt / (tm * tm));
    if (dtau_syn)
      dtau_syn[n] += (float)(ga[N + n] * d.a_syn[n] * dt / (ts * ts));
  }
  free(ga);
  slk_decay_free(&d);
  return SL_OK;
}
