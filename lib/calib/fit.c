/* fit.c -- per-neuron fits of a characterisation recording (GSL trust-region
 * nonlinear least squares) and the digital twin file.
 *
 * Per neuron, in model units and model seconds (t = t_hw / time_scale):
 *   readout   the clamp samples (t <= 0) of the decay protocols read known
 *             levels: counts = alpha + beta * level, a straight line (closed
 *             form, exact); every sample is then v = (counts - alpha) / beta.
 *   decay     y_k(t) = E + (A_k - E) exp(-t / tau_mem) for every decay k
 *             (one E and tau_mem, one start A_k each): trust region (LM).
 *   psp       y(t) = E' + g w exp(-t/tau_m) (1 - exp(-t d)) / d,
 *             d = 1/tau_s - 1/tau_m (the difference of exponentials written
 *             so that tau_s = tau_m is no singularity), tau_m fixed from the
 *             decay; E', g, tau_s fitted (trust region), samples t <= 0
 *             included (they pin E').
 *   threshold closed form, exact for the model: under the known drive
 *             from rest, V(t) = E + R I (1 - exp(-t/tau_m)) (R I = c tau_m
 *             for a rate c, else as stated); at the first spike's crossing
 *             time (stamp - spike_delay - resolution / 2) V = v_th. One
 *             value per trial; the mean and its standard error.
 *   reset     the chip's own definition, the hold modelled explicitly: from
 *             the crossing t_k (stamp - spike_delay) the membrane sits at
 *             v_r for the refractory time t_ref, then relaxes freely,
 *             V(t) = V_inf + (v_r - V_inf) exp(-(t - t_k - t_ref) / tau_m),
 *             V_inf = E + c tau_m. Fitted to every trial's samples from each
 *             stamp to the next: for fixed t_ref the model is linear in v_r,
 *             so t_ref is found by a grid and a golden-section search over
 *             [0, mean interval], then a trust-region step gives the
 *             standard errors. (Earlier versions fitted the relaxation from
 *             the crossing without the hold: an *effective* reset ~0.1 V
 *             below the true one, and a refractory time 80% too short.)
 *             On the bss2 emulator the hold lasts whole substeps, so
 *             t_ref is resolved to the substep: characterise with fine
 *             substeps (sl_calib_characterise_bss2 does).
 * Each neuron takes the protocols that recorded it (a protocol may cover a
 * subset); stimuli are per neuron (sl_charac_level, ...). A known readout
 * (volts, or ADC codes with their mapping) replaces the clamp-level line.
 * Trials are averaged sample by sample before the fits (except the reset,
 * whose spikes differ from trial to trial). A fit's standard errors are
 * sqrt(diag(J^T J)^-1 * SSR / (n - p)).
 * Twin: the host model resets at the step of a spike and holds whole steps
 * only; twin_from_fit folds the chip's hold into it (see there).
 * The twin file is written and read through lib/io/h5.h and keeps the types
 * it had when written with H5LT (fixed-length ASCII strings, 1-element
 * number attributes); the reader takes parameters stored as integers or
 * floats of any width, and any root format starting "spikeloop-twin".
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"
#include "spikeloop/error.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

#include "io/h5.h"
#include "calib/twin.h"

#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fp_names[SL_FP_N] = {"v_leak", "tau_mem", "tau_syn", "gain_c",
                                              "v_th",   "v_reset", "refrac_s"};

const char *sl_fit_param_name(int p) { return p >= 0 && p < SL_FP_N ? fp_names[p] : NULL; }

void sl_fit_result_free(sl_fit_result *r)
{
  if (!r)
    return;
  free(r->neurons);
  for (int p = 0; p < SL_FP_N; p++) {
    free(r->value[p]);
    free(r->se[p]);
  }
  free(r->residual);
  free(r->flags);
  free(r->gain_nominal);
  free(r->current_rate);
  memset(r, 0, sizeof *r);
}

double sl_fit_to_hw(const sl_fit_result *r, int p, size_t i)
{
  double v = r->value[p][i];
  switch (p) {
  case SL_FP_V_LEAK:
  case SL_FP_V_TH:
  case SL_FP_V_RESET:
    return r->volt_at_zero + r->volt_per_unit * v;
  case SL_FP_TAU_MEM:
  case SL_FP_TAU_SYN:
  case SL_FP_REFRAC:
    return v * r->time_scale;
  case SL_FP_GAIN: /* model units / model s -> V / s */
    return v * r->volt_per_unit / r->time_scale;
  default:
    return NAN;
  }
}

/* ------------------------------------------------------------ least squares */

#define MAX_SERIES 16 /* decays of one neuron the fit takes (the rest are ignored) */
#define MAX_P (2 + MAX_SERIES)

typedef struct {
  int kind;               /* 0 decay, 1 psp, 2 reset with hold */
  size_t n;               /* points */
  const double *t, *y;
  const int *series;      /* decay: which start A_k */
  size_t n_series;
  double tm, w;           /* psp: fixed tau_mem, weight; reset: tau_mem, V_inf */
} model_data;

/* After a spike (t: time since the threshold crossing) under a constant
 * drive towards v_inf: held at v_r for t_ref, then a free relaxation. */
static double hold_shape(double t, double vr, double t_ref, double tm, double v_inf)
{
  return t <= t_ref ? vr : v_inf + (vr - v_inf) * exp(-(t - t_ref) / tm);
}

/* exp(-t/tm) (1 - exp(-t d)) / d, stable at d -> 0 */
static double psp_shape(double t, double tm, double ts)
{
  if (t <= 0)
    return 0.0;
  double d = 1.0 / ts - 1.0 / tm, x = t * d;
  double q = fabs(x) < 1e-8 ? t * (1.0 - 0.5 * x) : -expm1(-x) / d;
  return exp(-t / tm) * q;
}

static int model_f(const gsl_vector *x, void *data, gsl_vector *f)
{
  const model_data *m = data;
  if (m->kind == 0) {
    double E = gsl_vector_get(x, 0), tm = gsl_vector_get(x, 1);
    for (size_t i = 0; i < m->n; i++) {
      double A = gsl_vector_get(x, 2 + (size_t)m->series[i]);
      gsl_vector_set(f, i, E + (A - E) * exp(-m->t[i] / tm) - m->y[i]);
    }
  } else if (m->kind == 2) {
    double vr = gsl_vector_get(x, 0), t_ref = gsl_vector_get(x, 1);
    for (size_t i = 0; i < m->n; i++)
      gsl_vector_set(f, i, hold_shape(m->t[i], vr, t_ref, m->tm, m->w) - m->y[i]);
  } else {
    double E = gsl_vector_get(x, 0), g = gsl_vector_get(x, 1), ts = gsl_vector_get(x, 2);
    if (!(ts > 0))
      ts = 1e-12;
    for (size_t i = 0; i < m->n; i++)
      gsl_vector_set(f, i, E + g * m->w * psp_shape(m->t[i], m->tm, ts) - m->y[i]);
  }
  return GSL_SUCCESS;
}

/* Trust-region fit; x0 in, x and se out. Returns 0 on success. */
static int lsq(model_data *m, size_t p, const double *x0, double *x, double *se, double *rms)
{
  if (m->n <= p)
    return -1;
  const gsl_multifit_nlinear_type *T = gsl_multifit_nlinear_trust;
  gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
  gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(T, &par, m->n, p);
  gsl_matrix *cov = gsl_matrix_alloc(p, p);
  if (!w || !cov) {
    if (w)
      gsl_multifit_nlinear_free(w);
    gsl_matrix_free(cov);
    return -1;
  }
  gsl_multifit_nlinear_fdf fdf;
  fdf.f = model_f;
  fdf.df = NULL; /* finite-difference Jacobian */
  fdf.fvv = NULL;
  fdf.n = m->n;
  fdf.p = p;
  fdf.params = m;
  gsl_vector_const_view xv = gsl_vector_const_view_array(x0, p);
  int info = 0, rc = gsl_multifit_nlinear_init(&xv.vector, &fdf, w);
  if (rc == GSL_SUCCESS)
    rc = gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 1e-10, NULL, NULL, &info, w);
  int out = -1;
  if (rc == GSL_SUCCESS || rc == GSL_EMAXITER) {
    gsl_vector *r = gsl_multifit_nlinear_residual(w);
    double ssr;
    gsl_blas_ddot(r, r, &ssr);
    gsl_matrix *J = gsl_multifit_nlinear_jac(w);
    if (gsl_multifit_nlinear_covar(J, 0.0, cov) == GSL_SUCCESS) {
      double s2 = ssr / (double)(m->n - p);
      gsl_vector *xs = gsl_multifit_nlinear_position(w);
      out = 0;
      for (size_t k = 0; k < p; k++) {
        x[k] = gsl_vector_get(xs, k);
        se[k] = sqrt(gsl_matrix_get(cov, k, k) * s2);
        if (!isfinite(x[k]))
          out = -1;
      }
      *rms = sqrt(ssr / (double)m->n);
    }
  }
  gsl_matrix_free(cov);
  gsl_multifit_nlinear_free(w);
  return out;
}

/* ------------------------------------------------------------ one neuron */

/* The protocols one neuron was recorded in: its decays (up to MAX_SERIES),
 * the first PSP and the first current protocol that recorded it. */
typedef struct {
  const sl_charac_protocol *decay[MAX_SERIES];
  size_t n_decay;
  const sl_charac_protocol *psp, *cur, *ramp;
} proto_set;

/* The protocols of c that recorded /neurons row `row`. */
static void proto_select(const sl_charac *c, size_t row, proto_set *ps)
{
  memset(ps, 0, sizeof *ps);
  for (size_t k = 0; k < c->n_protocols; k++) {
    const sl_charac_protocol *p = &c->proto[k];
    if (!sl_charac_has(p, row))
      continue;
    if (p->protocol == SL_STIM_DECAY && ps->n_decay < MAX_SERIES)
      ps->decay[ps->n_decay++] = p;
    else if (p->protocol == SL_STIM_PSP && !ps->psp)
      ps->psp = p;
    else if (p->protocol == SL_STIM_CURRENT && !ps->cur)
      ps->cur = p;
    else if (p->protocol == SL_CHARAC_RAMP && !ps->ramp)
      ps->ramp = p;
  }
}

/* Decays the readout needs: one when it is known (model units, volts, an
 * ADC with its mapping), else two at different clamp levels. */
static size_t decays_needed(const sl_charac *c)
{
  return strcmp(c->membrane_units, "model") == 0 || c->readout_known ? 1u : 2u;
}

typedef struct {
  double *t, *y;
  int *series;
  size_t cap;
} scratch;

static int scratch_need(scratch *s, size_t n)
{
  if (n <= s->cap)
    return 0;
  free(s->t);
  free(s->y);
  free(s->series);
  s->t = malloc(n * sizeof(double));
  s->y = malloc(n * sizeof(double));
  s->series = malloc(n * sizeof(int));
  s->cap = (s->t && s->y && s->series) ? n : 0;
  return s->cap ? 0 : -1;
}

static int saturated(const sl_charac *c, float x)
{
  if (c->adc_bits <= 0)
    return 0;
  return x <= 0.0f || x >= (float)(ldexp(1.0, c->adc_bits) - 1.0); /* no shift: any adc_bits */
}

static int has_spike(const sl_charac_protocol *p, size_t row, double tmin)
{
  for (size_t i = 0; i < p->n_spikes; i++)
    if (p->spike_neuron[i] == row && p->spike_time[i] > tmin)
      return 1;
  return 0;
}

/* Mean over trials of neuron `row`'s samples of p, converted; marks samples
 * where any trial is saturated as unusable (returns them as NaN). */
static void mean_trace(const sl_charac *c, const sl_charac_protocol *p, size_t row, double alpha,
                       double beta, double *out, uint32_t *flags)
{
  const size_t B = p->repeats, ns = p->n_samples;
  for (size_t j = 0; j < ns; j++) {
    double s = 0.0;
    int sat = 0;
    for (size_t b = 0; b < B; b++) {
      float x = sl_charac_trace(p, row, b)[j];
      if (!isfinite(x))
        *flags |= SL_FIT_NAN;
      if (saturated(c, x))
        sat = 1;
      s += x;
    }
    out[j] = sat ? NAN : (s / (double)B - alpha) / beta;
  }
}

/* What one neuron's fit carries from step to step. */
typedef struct {
  const sl_charac *c;
  const proto_set *ps;
  size_t row;
  scratch *sc;
  double *trace;            /* one protocol's mean trace */
  double alpha, beta;       /* readout: raw = alpha + beta * v */
  double val[SL_FP_N], se[SL_FP_N];
  double rms_d, rms_p;      /* decay and PSP fit residuals */
  uint32_t flags;
} neuron_fit;

/* Step 1: the readout channel (alpha, beta) from the clamp levels, a line
 * through (level, mean raw sample before t = 0) of the decay protocols.
 * Returns 0 to go on, -1 when the neuron cannot be fitted. */
static int fit_readout(neuron_fit *nf)
{
  const sl_charac *c = nf->c;
  const proto_set *ps = nf->ps;
  nf->alpha = 0.0;
  nf->beta = 1.0;
  if (strcmp(c->membrane_units, "model") == 0)
    return 0;
  if (c->readout_known) {
    nf->alpha = c->readout_alpha;
    nf->beta = c->readout_beta;
    return 0;
  }
  double sl = 0, sm = 0, sll = 0, slm = 0, cnt = 0;
  for (size_t k = 0; k < ps->n_decay; k++) {
    const sl_charac_protocol *p = ps->decay[k];
    const size_t B = p->repeats, ns = p->n_samples;
    double s = 0;
    size_t m = 0;
    for (size_t j = 0; j < ns; j++) {
      if (p->time[j] > 0)
        continue;
      for (size_t b = 0; b < B; b++) {
        float x = sl_charac_trace(p, nf->row, b)[j];
        if (!isfinite(x))
          nf->flags |= SL_FIT_NAN;
        else if (saturated(c, x))
          nf->flags |= SL_FIT_SATURATED;
        s += x;
        m++;
      }
    }
    if (!m)
      continue;
    double mean = s / (double)m, lv = sl_charac_level(p, nf->row);
    sl += lv;
    sm += mean;
    sll += lv * lv;
    slm += lv * mean;
    cnt += 1;
  }
  double den = cnt * sll - sl * sl;
  if (nf->flags & (SL_FIT_NAN | SL_FIT_SATURATED))
    return -1;
  if (cnt < 2 || !(fabs(den) > 1e-12)) {
    nf->flags |= SL_FIT_NOREADOUT;
    return -1;
  }
  nf->beta = (cnt * slm - sl * sm) / den;
  nf->alpha = (sm - nf->beta * sl) / cnt;
  if (!(nf->beta > 0) || !isfinite(nf->alpha)) {
    nf->flags |= SL_FIT_NOREADOUT;
    return -1;
  }
  return 0;
}

/* Step 2: a neuron that spikes before any input cannot be fitted. */
static int check_spikes_without_input(neuron_fit *nf)
{
  const proto_set *ps = nf->ps;
  for (size_t k = 0; k < ps->n_decay; k++)
    if (has_spike(ps->decay[k], nf->row, -INFINITY))
      nf->flags |= SL_FIT_ALWAYS;
  if (ps->psp && has_spike(ps->psp, nf->row, -INFINITY))
    nf->flags |= SL_FIT_ALWAYS;
  for (size_t i = 0; ps->cur && i < ps->cur->n_spikes; i++)
    if (ps->cur->spike_neuron[i] == nf->row && ps->cur->spike_time[i] <= 0)
      nf->flags |= SL_FIT_ALWAYS;
  for (size_t i = 0; ps->ramp && i < ps->ramp->n_spikes; i++)
    if (ps->ramp->spike_neuron[i] == nf->row && ps->ramp->spike_time[i] <= 0)
      nf->flags |= SL_FIT_ALWAYS;
  return (nf->flags & SL_FIT_ALWAYS) ? -1 : 0;
}

/* Step 3: the decays from the clamp levels, v(t) = E + (A_k - E) e^{-t/tau_m}:
 * E = v_leak, tau_mem and one A_k per series. */
static int fit_decay(neuron_fit *nf)
{
  const proto_set *ps = nf->ps;
  scratch *sc = nf->sc;
  size_t n = 0;
  double E0 = 0, A0[MAX_SERIES];
  size_t nE = 0;
  for (size_t k = 0; k < ps->n_decay; k++) {
    const sl_charac_protocol *p = ps->decay[k];
    mean_trace(nf->c, p, nf->row, nf->alpha, nf->beta, nf->trace, &nf->flags);
    A0[k] = sl_charac_level(p, nf->row);
    size_t first = n;
    for (size_t j = 0; j < p->n_samples; j++) {
      if (!(p->time[j] > 0))
        continue;
      if (isnan(nf->trace[j])) {
        if (!(nf->flags & SL_FIT_NAN))
          nf->flags |= SL_FIT_SATURATED;
        continue;
      }
      sc->t[n] = p->time[j] / nf->c->time_scale;
      sc->y[n] = nf->trace[j];
      sc->series[n] = (int)k;
      n++;
    }
    for (size_t i = first + (n - first) * 3 / 4; i < n; i++, nE++)
      E0 += sc->y[i];
  }
  if (nf->flags & SL_FIT_NAN)
    return -1;
  if (n < 3 + ps->n_decay || !nE) {
    nf->flags |= SL_FIT_SATURATED;
    return -1;
  }
  E0 /= (double)nE;
  /* tau guess: the first point's decay towards E0 */
  double tm0 = NAN;
  for (size_t i = 0; i < n && !isfinite(tm0); i++) {
    double a = A0[sc->series[i]] - E0, b = sc->y[i] - E0;
    if (fabs(a) > 1e-9 && b / a > 0.05 && b / a < 0.95)
      tm0 = -sc->t[i] / log(b / a);
  }
  if (!isfinite(tm0))
    tm0 = sc->t[n / 4 < 1 ? 1 : n / 4];
  model_data md = {0, n, sc->t, sc->y, sc->series, ps->n_decay, 0, 0};
  double x0[MAX_P], x[MAX_P], xe[MAX_P];
  x0[0] = E0;
  x0[1] = tm0;
  for (size_t k = 0; k < ps->n_decay; k++)
    x0[2 + k] = A0[k];
  if (lsq(&md, 2 + ps->n_decay, x0, x, xe, &nf->rms_d) || !(x[1] > 0)) {
    nf->flags |= SL_FIT_NOCONV;
    return -1;
  }
  nf->val[SL_FP_V_LEAK] = x[0];
  nf->se[SL_FP_V_LEAK] = xe[0];
  nf->val[SL_FP_TAU_MEM] = x[1];
  nf->se[SL_FP_TAU_MEM] = xe[1];
  return 0;
}

/* Step 4: the PSP of one input spike of known weight, with E and tau_mem
 * fixed from the decay: E', gain and tau_syn. A failed PSP fit leaves the
 * neuron's other parameters. */
static void fit_psp(neuron_fit *nf)
{
  const sl_charac_protocol *p = nf->ps->psp;
  scratch *sc = nf->sc;
  const double E = nf->val[SL_FP_V_LEAK], tm = nf->val[SL_FP_TAU_MEM];
  mean_trace(nf->c, p, nf->row, nf->alpha, nf->beta, nf->trace, &nf->flags);
  size_t n = 0;
  double peak = 0;
  for (size_t j = 0; j < p->n_samples; j++) {
    if (isnan(nf->trace[j]))
      continue;
    sc->t[n] = p->time[j] / nf->c->time_scale;
    sc->y[n] = nf->trace[j];
    if (fabs(nf->trace[j] - E) > fabs(peak))
      peak = nf->trace[j] - E;
    n++;
  }
  const double wt = sl_charac_weight(p, nf->row);
  if (n < p->n_samples / 2 || !(fabs(wt) > 0)) {
    nf->flags |= SL_FIT_SATURATED;
    return;
  }
  double fmax = tm / M_E; /* shape peak at tau_s = tau_m */
  model_data mp = {1, n, sc->t, sc->y, NULL, 0, tm, wt};
  double x0[MAX_P], x[MAX_P], xe[MAX_P];
  x0[0] = E;
  x0[1] = peak / (wt * fmax);
  x0[2] = 0.8 * tm;
  if (lsq(&mp, 3, x0, x, xe, &nf->rms_p) || !(x[2] > 0) || x[2] > 100 * tm) {
    nf->flags |= SL_FIT_NOCONV;
    return;
  }
  nf->val[SL_FP_GAIN] = x[1];
  nf->se[SL_FP_GAIN] = xe[1];
  nf->val[SL_FP_TAU_SYN] = x[2];
  nf->se[SL_FP_TAU_SYN] = xe[2];
}

/* The reset with its hold, given the samples (t since the crossing, y):
 * for a fixed t_ref the model is linear in v_r (v_r * a_i + b_i), so the
 * sum of squares is a function of t_ref alone; a grid over [0, t_max] and
 * a golden-section search find its minimum, a trust-region step from there
 * gives the standard errors. Returns 0 on success. */
static int fit_hold(const double *t, const double *y, size_t n, double tm, double v_inf,
                    double t_max, double *vr, double *t_ref, double *se_vr, double *se_ref)
{
  double *e = n >= 4 && t_max > 0 ? malloc(n * sizeof *e) : NULL;
  if (!e)
    return -1;
  for (size_t i = 0; i < n; i++) /* exp(-(t - R)/tm) = e_i exp(R/tm): one exp per R */
    e[i] = exp(-t[i] / tm);
  /* v_r at fixed t_ref (closed form) and the sum of squares */
#define HOLD_SSR(R, VR, SSR)                                                                    \
  do {                                                                                          \
    const double eR = exp((R) / tm);                                                            \
    double saa = 0, say = 0, syy = 0, sby = 0, sbb = 0, sab = 0;                                \
    for (size_t i = 0; i < n; i++) {                                                            \
      double a = t[i] <= (R) ? 1.0 : e[i] * eR, b = v_inf * (1.0 - a);                          \
      saa += a * a;                                                                             \
      sab += a * b;                                                                             \
      say += a * y[i];                                                                          \
      sbb += b * b;                                                                             \
      sby += b * y[i];                                                                          \
      syy += y[i] * y[i];                                                                       \
    }                                                                                           \
    (VR) = (say - sab) / saa;                                                                   \
    /* sum (VR a + b - y)^2 from the sums */                                                    \
    (SSR) = (VR) * (VR) * saa + sbb + syy + 2 * (VR) * sab - 2 * (VR) * say - 2 * sby;          \
  } while (0)
  enum { GRID = 48 };
  double best = INFINITY, best_r = 0, v;
  for (int g = 0; g <= GRID; g++) {
    double R = t_max * g / GRID, ssr;
    HOLD_SSR(R, v, ssr);
    if (ssr < best) {
      best = ssr;
      best_r = R;
    }
  }
  double a = fmax(0.0, best_r - t_max / GRID), b = fmin(t_max, best_r + t_max / GRID);
  const double phi = 0.5 * (sqrt(5.0) - 1.0);
  double x1 = b - phi * (b - a), x2 = a + phi * (b - a), f1, f2;
  HOLD_SSR(x1, v, f1);
  HOLD_SSR(x2, v, f2);
  for (int it = 0; it < 40 && b - a > 1e-6 * tm; it++) {
    if (f1 < f2) {
      b = x2, x2 = x1, f2 = f1, x1 = b - phi * (b - a);
      HOLD_SSR(x1, v, f1);
    } else {
      a = x1, x1 = x2, f1 = f2, x2 = a + phi * (b - a);
      HOLD_SSR(x2, v, f2);
    }
  }
  double R = f1 < f2 ? x1 : x2, ssr;
  HOLD_SSR(R, v, ssr);
  (void)ssr;
#undef HOLD_SSR
  free(e);
  *vr = v;
  *t_ref = R;
  *se_vr = *se_ref = NAN;
  model_data md = {2, n, t, y, NULL, 0, tm, v_inf};
  double x0[2] = {v, R}, x[2], xe[2], rms;
  if (lsq(&md, 2, x0, x, xe, &rms) == 0 && fabs(x[1] - R) < t_max / GRID &&
      fabs(x[0] - v) < 0.1 * fabs(v_inf - v)) {
    *vr = x[0];
    *t_ref = fmax(0.0, x[1]);
    *se_vr = xe[0];
    *se_ref = xe[1];
  }
  return 0;
}

/* Step 5: threshold, reset and refractory time from the spike times and
 * the trajectory after spikes under a constant current. */
static void fit_current(neuron_fit *nf)
{
  const sl_charac *c = nf->c;
  const sl_charac_protocol *p = nf->ps->cur;
  const size_t row = nf->row, ns = p->n_samples;
  const double E = nf->val[SL_FP_V_LEAK], tm = nf->val[SL_FP_TAU_MEM];
  /* the drive's steady displacement R I (a rate c: R I = c tau_m) */
  const double cur = sl_charac_current(p, row);
  const double ri = p->current_units == SL_CURRENT_RI ? cur : cur * tm, Vinf = E + ri;
  /* crossing = stamp - delay, and half the stamp grid (a stamp is the
   * first grid point at or after the crossing) */
  const double delay = (c->spike_delay + 0.5 * p->spike_resolution) / c->time_scale;
  const double end = p->duration / c->time_scale;
  const double eps = 1e-6 * tm;
  scratch *sc = nf->sc;
  double s1 = 0, s2 = 0, isi = 0;
  size_t nb = 0, n_isi = 0, n = 0;
  mean_trace(c, p, row, nf->alpha, nf->beta, nf->trace, &nf->flags); /* for the NaN check only */
  for (size_t b = 0; b < p->repeats; b++) {
    enum { MAX_SPIKES = 256 };
    double tk[MAX_SPIKES]; /* stamps, model s */
    size_t nk = 0, all = 0;
    for (size_t i = 0; i < p->n_spikes; i++)
      if (p->spike_neuron[i] == row && p->spike_trial[i] == b && all++ < MAX_SPIKES)
        tk[nk++] = p->spike_time[i] / c->time_scale;
    if (!nk)
      continue;
    for (size_t a = 1; a < nk; a++) /* insertion sort: spikes may come in any order */
      for (size_t q = a; q > 0 && tk[q] < tk[q - 1]; q--) {
        double t = tk[q];
        tk[q] = tk[q - 1];
        tk[q - 1] = t;
      }
    double v = E + ri * -expm1(-(tk[0] - delay) / tm);
    s1 += v;
    s2 += v * v;
    nb++;
    /* samples from each stamp (the reset) to the next stamp; after the
     * last spike only if every spike of the trial was kept */
    for (size_t a = 0; a < nk; a++) {
      if (a + 1 < nk) {
        isi += tk[a + 1] - tk[a];
        n_isi++;
      } else if (all > nk) {
        break;
      }
      const double lo = tk[a] - eps, hi = a + 1 < nk ? tk[a + 1] - eps : end;
      for (size_t j = 0; j < ns; j++) {
        double t = p->time[j] / c->time_scale;
        if (t < lo || t >= hi)
          continue;
        float xr = sl_charac_trace(p, row, b)[j];
        if (saturated(c, xr) || !isfinite(xr))
          continue;
        sc->t[n] = t - (tk[a] - delay); /* since the crossing */
        sc->y[n] = ((double)xr - nf->alpha) / nf->beta;
        n++;
      }
    }
  }
  if (!nb) {
    nf->flags |= SL_FIT_SILENT;
    return;
  }
  double m = s1 / (double)nb;
  nf->val[SL_FP_V_TH] = m;
  nf->se[SL_FP_V_TH] = nb > 1 ? sqrt(fmax(0.0, (s2 / nb - m * m)) / (double)(nb - 1)) : NAN;
  if (E >= m)
    nf->flags |= SL_FIT_LEAK_ABOVE_TH;
  double vr, t_ref, se_vr, se_ref;
  if (!n_isi || fit_hold(sc->t, sc->y, n, tm, Vinf, isi / (double)n_isi, &vr, &t_ref, &se_vr,
                         &se_ref)) {
    nf->flags |= SL_FIT_NORESET;
    return;
  }
  nf->val[SL_FP_V_RESET] = vr;
  nf->se[SL_FP_V_RESET] = se_vr;
  nf->val[SL_FP_REFRAC] = t_ref;
  nf->se[SL_FP_REFRAC] = se_ref;
}

/* Step 6 (when the neuron has a ramp): the threshold from the first spike
 * of each trial under R I(t) = k t (k = R I_end / duration), closed form
 * V(t) = E + k (t - tau_m (1 - e^{-t/tau_m})) at the crossing; replaces the
 * current protocol's estimate (the ramp crosses with the drive known at
 * every instant and is switched off after, so it needs no reset model). */
static void fit_ramp(neuron_fit *nf)
{
  const sl_charac *c = nf->c;
  const sl_charac_protocol *p = nf->ps->ramp;
  const double E = nf->val[SL_FP_V_LEAK], tm = nf->val[SL_FP_TAU_MEM];
  const double end = sl_charac_current(p, nf->row), T = p->duration / c->time_scale;
  const double k = (p->current_units == SL_CURRENT_RI ? end : end * tm) / T;
  const double delay = (c->spike_delay + 0.5 * p->spike_resolution) / c->time_scale;
  double s1 = 0, s2 = 0;
  size_t nb = 0;
  if (!(T > 0) || !isfinite(k))
    return;
  for (size_t b = 0; b < p->repeats; b++) {
    double first = INFINITY;
    for (size_t i = 0; i < p->n_spikes; i++)
      if (p->spike_neuron[i] == nf->row && p->spike_trial[i] == b && p->spike_time[i] > 0)
        first = fmin(first, p->spike_time[i] / c->time_scale);
    if (!isfinite(first))
      continue;
    double t = first - delay, v = E + k * (t + tm * expm1(-t / tm));
    s1 += v;
    s2 += v * v;
    nb++;
  }
  if (!nb)
    return;
  double m = s1 / (double)nb;
  nf->val[SL_FP_V_TH] = m;
  nf->se[SL_FP_V_TH] = nb > 1 ? sqrt(fmax(0.0, (s2 / nb - m * m)) / (double)(nb - 1)) : NAN;
  nf->flags &= ~(uint32_t)SL_FIT_SILENT;
  if (E >= m)
    nf->flags |= SL_FIT_LEAK_ABOVE_TH;
}

/* One neuron: readout, then decay, PSP and current fits in that order (each
 * uses what the previous found); row `row` of r gets values, standard
 * errors, residual and flags. */
static void fit_neuron(const sl_charac *c, size_t row, sl_fit_result *r, scratch *sc)
{
  proto_set set;
  const proto_set *ps = &set;
  proto_select(c, row, &set);
  neuron_fit nf = {.c = c, .ps = ps, .row = row, .sc = sc, .rms_d = NAN, .rms_p = NAN};
  for (int p = 0; p < SL_FP_N; p++)
    nf.val[p] = nf.se[p] = NAN;
  size_t total = 1, need = 1;
  for (size_t k = 0; k < ps->n_decay; k++)
    total += ps->decay[k]->n_samples;
  if (ps->psp)
    total += ps->psp->n_samples;
  need = total;
  if (ps->cur) { /* the reset fit takes the current protocol's samples of every trial */
    total += ps->cur->n_samples;
    need = total > ps->cur->n_samples * ps->cur->repeats ? total
                                                         : ps->cur->n_samples * ps->cur->repeats;
  }
  if (ps->n_decay < decays_needed(c) || !ps->psp || !ps->cur)
    nf.flags |= SL_FIT_NOTRECORDED;
  if (scratch_need(sc, need) || !(nf.trace = malloc(total * sizeof *nf.trace)))
    nf.flags |= SL_FIT_NOCONV;
  else if (ps->n_decay >= decays_needed(c) && !fit_readout(&nf) &&
           !check_spikes_without_input(&nf) && !fit_decay(&nf)) {
    if (ps->psp)
      fit_psp(&nf);
    if (ps->cur)
      fit_current(&nf);
    if (ps->ramp)
      fit_ramp(&nf);
  }
  if (nf.flags & (SL_FIT_NAN | SL_FIT_ALWAYS | SL_FIT_NOREADOUT))
    for (int p = 0; p < SL_FP_N; p++)
      nf.val[p] = nf.se[p] = NAN;
  for (int p = 0; p < SL_FP_N; p++) {
    r->value[p][row] = nf.val[p];
    r->se[p][row] = nf.se[p];
  }
  r->residual[row] = isfinite(nf.rms_p) ? sqrt(0.5 * (nf.rms_d * nf.rms_d + nf.rms_p * nf.rms_p))
                                        : nf.rms_d;
  r->flags[row] = nf.flags;
  r->current_rate[row] = NAN;
  if (ps->cur) {
    double cur = sl_charac_current(ps->cur, row);
    r->current_rate[row] =
        ps->cur->current_units == SL_CURRENT_RI ? cur / nf.val[SL_FP_TAU_MEM] : cur;
  }
  free(nf.trace);
}

/* ------------------------------------------------------------ all neurons */

int sl_fit_run(const sl_charac *c, sl_fit_result *r)
{
  if (!c || !r)
    return sl_error(SL_EINVAL, "sl_fit_run: NULL argument");
  memset(r, 0, sizeof *r);
  /* whole-recording problems: a kind of protocol no neuron has */
  size_t n_decay = 0, n_psp = 0, n_cur = 0;
  const sl_charac_protocol *cur0 = NULL;
  for (size_t k = 0; k < c->n_protocols; k++) {
    const sl_charac_protocol *p = &c->proto[k];
    n_decay += p->protocol == SL_STIM_DECAY;
    n_psp += p->protocol == SL_STIM_PSP;
    n_cur += p->protocol == SL_STIM_CURRENT;
    if (p->protocol == SL_STIM_CURRENT && !cur0)
      cur0 = p;
  }
  const int model_units = strcmp(c->membrane_units, "model") == 0;
  if (n_decay < decays_needed(c))
    return sl_error(SL_EFORMAT, "recording: missing protocol: need %s /protocols group%s with "
                    "protocol = \"decay\" (found %zu)", model_units ? "a" : "two",
                    decays_needed(c) == 1 ? "" : "s (two clamp levels, or state the ADC mapping)",
                    n_decay);
  if (!n_psp)
    return sl_error(SL_EFORMAT, "recording: missing protocol: no /protocols group with "
                    "protocol = \"psp\"");
  if (!n_cur)
    return sl_error(SL_EFORMAT, "recording: missing protocol: no /protocols group with "
                    "protocol = \"current\"");
  const size_t n = c->n;
  r->n = n;
  r->neurons = malloc(n * sizeof *r->neurons);
  r->residual = malloc(n * sizeof *r->residual);
  r->flags = malloc(n * sizeof *r->flags);
  r->gain_nominal = malloc(n * sizeof *r->gain_nominal);
  r->current_rate = malloc(n * sizeof *r->current_rate);
  int bad = !r->neurons || !r->residual || !r->flags || !r->gain_nominal || !r->current_rate;
  for (int p = 0; p < SL_FP_N; p++) {
    r->value[p] = malloc(n * sizeof(double));
    r->se[p] = malloc(n * sizeof(double));
    bad |= !r->value[p] || !r->se[p];
  }
  if (bad) {
    sl_fit_result_free(r);
    return sl_error(SL_ENOMEM, "sl_fit_run: out of memory");
  }
  memcpy(r->neurons, c->neurons, n * sizeof *r->neurons);
  memcpy(r->gain_nominal, c->gain_nominal, n * sizeof *r->gain_nominal);
  r->time_scale = c->time_scale;
  r->volt_at_zero = c->volt_at_zero;
  r->volt_per_unit = c->volt_per_unit;
  r->current = cur0->current_units == SL_CURRENT_RATE ? cur0->current : NAN;
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  const ptrdiff_t nn = (ptrdiff_t)n;
#pragma omp parallel
  {
    scratch sc = {NULL, NULL, NULL, 0};
#pragma omp for schedule(dynamic, 8)
    for (ptrdiff_t i = 0; i < nn; i++)
      fit_neuron(c, (size_t)i, r, &sc);
    free(sc.t);
    free(sc.y);
    free(sc.series);
  }
  gsl_set_error_handler(old);
  return SL_OK;
}

/* ------------------------------------------------------------ twin */



static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of the finite values, NAN if none. */
static double median_finite(const double *v, size_t n)
{
  double *t = malloc((n ? n : 1) * sizeof *t);
  size_t m = 0;
  if (!t)
    return NAN;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i]))
      t[m++] = v[i];
  double med = NAN;
  if (m) {
    qsort(t, m, sizeof *t, cmp_double);
    med = m % 2 ? t[m / 2] : 0.5 * (t[m / 2 - 1] + t[m / 2]);
  }
  free(t);
  return med;
}

static const char *const twin_params[] = {"tau_mem", "tau_syn", "v_th", "v_leak", "v_reset",
                                          "gain"};



void slc_twin_free(slc_twin *t)
{
  for (int k = 0; k < 6; k++) {
    free(t->model[k]);
    free(t->mse[k]);
  }
  free(t->refrac);
  free(t->refrac_s);
  free(t->flags);
  memset(t, 0, sizeof *t);
}

/* Every neuron starts absent, its parameters NaN. */
int slc_twin_alloc(slc_twin *t, size_t N)
{
  memset(t, 0, sizeof *t);
  t->N = N;
  t->refrac = malloc(N * sizeof *t->refrac);
  t->flags = malloc(N * sizeof *t->flags);
  t->refrac_s = malloc(N * sizeof *t->refrac_s);
  int ok = t->refrac && t->flags && t->refrac_s;
  for (int k = 0; k < 6; k++) {
    t->model[k] = malloc(N * sizeof(double));
    t->mse[k] = malloc(N * sizeof(double));
    ok = ok && t->model[k] && t->mse[k];
  }
  if (!ok) {
    slc_twin_free(t);
    return sl_error(SL_ENOMEM, "sl_twin_write: out of memory");
  }
  for (size_t g = 0; g < N; g++) {
    t->flags[g] = TWIN_ABSENT;
    t->refrac[g] = 0;
    t->refrac_s[g] = NAN;
    for (int k = 0; k < 6; k++)
      t->model[k][g] = t->mse[k][g] = NAN;
  }
  return SL_OK;
}

/* The fitted values in model units; returns how many neurons have tau_mem,
 * gain and threshold. */
static size_t twin_from_fit(slc_twin *t, const sl_fit_result *r, double dt)
{
  size_t fitted = 0;
  for (size_t i = 0; i < r->n; i++) {
    size_t g = r->neurons[i];
    t->flags[g] = r->flags[i];
    double tm = r->value[SL_FP_TAU_MEM][i], ts = r->value[SL_FP_TAU_SYN][i];
    static const int direct[5] = {SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_V_TH, SL_FP_V_LEAK,
                                  SL_FP_V_RESET};
    for (int k = 0; k < 5; k++) {
      t->model[k][g] = r->value[direct[k]][i];
      t->mse[k][g] = r->se[direct[k]][i];
    }
    /* discrete-model gain: g_c (a_m - a_s) / d / (g_nominal dt) */
    double gc = r->value[SL_FP_GAIN][i], gn = r->gain_nominal[i];
    if (isfinite(gc) && isfinite(tm) && isfinite(ts) && gn > 0) {
      double d = 1.0 / ts - 1.0 / tm, x = dt * d;
      double q = fabs(x) < 1e-8 ? dt * (1.0 - 0.5 * x) : -expm1(-x) / d; /* (a_m - a_s)/(a_m d) */
      double factor = exp(-dt / tm) * q / dt;
      t->model[5][g] = gc / gn * factor;
      t->mse[5][g] = r->se[SL_FP_GAIN][i] / gn * factor;
    }
    /* The chip holds v_reset for refrac after the crossing; the host model
     * resets at the step of the spike, on average half a step after the
     * crossing, and can hold only whole steps. So the hold beyond that
     * half step becomes whole refractory steps, and the rest is folded into
     * an effective reset: where the membrane, had it left v_reset at the
     * model's reset, would be when the chip lets it go, under the drive of
     * the current protocol (V_inf = v_leak + current tau_mem). */
    double rf = r->value[SL_FP_REFRAC][i], vr = r->value[SL_FP_V_RESET][i];
    double hold = isfinite(rf) ? fmax(0.0, rf - 0.5 * dt) : 0.0;
    double rate = r->current_rate && isfinite(r->current_rate[i]) ? r->current_rate[i] : r->current;
    double whole = floor(hold / dt), vinf = r->value[SL_FP_V_LEAK][i] + rate * tm;
    t->refrac[g] = (int32_t)whole;
    t->refrac_s[g] = rf;
    if (isfinite(vr) && isfinite(vinf) && isfinite(tm))
      t->model[4][g] = vinf + (vr - vinf) * exp((hold - whole * dt) / tm);
    if (isfinite(tm) && isfinite(t->model[5][g]) && isfinite(t->model[2][g]))
      fitted++;
  }
  return fitted;
}

/* Unfit parameters (and absent neurons) take the median of the fitted;
 * v_reset is kept below v_th so that the host model stays valid. */
void slc_twin_fill_unfitted(slc_twin *t)
{
  for (int k = 0; k < 6; k++) {
    double med = median_finite(t->model[k], t->N);
    for (size_t g = 0; g < t->N; g++)
      if (!isfinite(t->model[k][g]))
        t->model[k][g] = med;
  }
  double med = median_finite(t->refrac_s, t->N);
  for (size_t g = 0; g < t->N; g++)
    if (!isfinite(t->refrac_s[g]))
      t->refrac_s[g] = isfinite(med) ? med : 0.0;
  for (size_t g = 0; g < t->N; g++)
    if (!(t->model[2][g] > t->model[4][g]))
      t->model[4][g] = t->model[2][g] - 1.0;
}

#define TWIN_WHO "twin"
#define TWIN_FORMAT "spikeloop-twin"

/* What twin_fill writes: the arrays, dt, source, and a float buffer of N. */
typedef struct {
  const slc_twin *t;
  double dt;
  const char *source;
  float *buf;
} twin_file;

/* The twin file (layout in spikeloop/fit.h), for slh_write_file. */
static herr_t twin_fill(hid_t f, const void *arg, const char **what)
{
  const twin_file *w = arg;
  const slc_twin *t = w->t;
  const size_t N = t->N;
  static const char *const groups[4] = {"/mismatch", "/mismatch/global", "/se", "/se/global"};
  const int version = 1;
  const long long nn = (long long)N;
  *what = "root attributes";
  if (slh_plain_groups(f, groups, 4) < 0 || slh_attr_ascii(f, "/", "format", TWIN_FORMAT) < 0 ||
      slh_attr_ints(f, "/", "format_version", &version, 1) < 0 ||
      slh_attr_doubles(f, "/", "dt", &w->dt, 1) < 0 ||
      slh_attr(f, "/", "n_neurons", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &nn) < 0 ||
      slh_attr_ascii(f, "/", "source", w->source ? w->source : "") < 0)
    return -1;
  const hsize_t d = N;
  char name[64];
  for (int k = 0; k < 6; k++) {
    *what = twin_params[k];
    for (size_t g = 0; g < N; g++)
      w->buf[g] = (float)t->model[k][g];
    snprintf(name, sizeof name, "/mismatch/global/%s", twin_params[k]);
    if (slh_dataset(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &d, w->buf, SLH_PLAIN) < 0)
      return -1;
    for (size_t g = 0; g < N; g++)
      w->buf[g] = (float)t->mse[k][g];
    snprintf(name, sizeof name, "/se/global/%s", twin_params[k]);
    if (slh_dataset(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &d, w->buf, SLH_PLAIN) < 0)
      return -1;
  }
  *what = "refrac, flags";
  if (slh_dataset(f, "/mismatch/global/refrac", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &d, t->refrac,
                  SLH_PLAIN) < 0 ||
      slh_dataset(f, "/flags", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &d, t->flags, SLH_PLAIN) < 0 ||
      slh_dataset(f, "/mismatch/global/refrac_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &d,
                  t->refrac_s, SLH_PLAIN) < 0 ||
      slh_attr_ascii(f, "/mismatch/global/refrac_s", "units", "model s") < 0)
    return -1;
  return 0;
}

int sl_twin_write(const sl_fit_result *r, double dt, const char *path, const char *source)
{
  if (!r || !path || !(dt > 0))
    return sl_error(SL_EINVAL, "sl_twin_write: NULL argument or dt <= 0");
  size_t N = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->neurons[i] + 1u > N)
      N = r->neurons[i] + 1u;
  slc_twin t;
  int rc = slc_twin_alloc(&t, N);
  if (rc)
    return rc;
  if (!twin_from_fit(&t, r, dt)) {
    slc_twin_free(&t);
    return sl_error(SL_EINVAL, "sl_twin_write: no neuron could be fitted; no twin written");
  }
  slc_twin_fill_unfitted(&t);
  rc = slc_twin_save(&t, dt, path, source);
  slc_twin_free(&t);
  return rc;
}

int slc_twin_save(const slc_twin *t, double dt, const char *path, const char *source)
{
  twin_file w = {t, dt, source, malloc((t->N ? t->N : 1) * sizeof(float))};
  int rc = w.buf ? slh_write_file(TWIN_WHO, path, twin_fill, &w)
                 : sl_error(SL_ENOMEM, "twin: out of memory");
  free(w.buf);
  return rc;
}

/* A twin's root: format "spikeloop-twin..." and dt within 1e-9 (relative)
 * of the model's. */
static int twin_check_root(const slh_file *f, double dt)
{
  hid_t root = -1;
  char *fmt = NULL;
  double tdt = 0;
  int rc = slh_open_group(f, "/", &root);
  if (rc == SL_OK && (rc = slh_get_attr_str_opt(f, root, "/", "format", "", &fmt)) == SL_OK &&
      strncmp(fmt, TWIN_FORMAT, strlen(TWIN_FORMAT)) != 0)
    rc = sl_error(SL_EFORMAT, TWIN_WHO ": '%s': not a twin file (root attribute format must be "
                  "'" TWIN_FORMAT "')", f->path);
  if (rc == SL_OK)
    rc = slh_get_attr(f, root, "/", "dt", H5T_NATIVE_DOUBLE, 1, &tdt);
  if (rc == SL_OK && !(fabs(tdt - dt) <= 1e-9 * dt))
    rc = sl_error(SL_EINVAL, TWIN_WHO ": '%s': made for dt = %g s, the model runs at dt = %g s "
                  "(refit with --dt)", f->path, tdt, dt);
  free(fmt);
  if (root >= 0)
    H5Oclose(root);
  return rc;
}

/* Neurons base..base+p->n-1 of the twin's parameter k (twin_params[k], 6:
 * refrac) in group grp into layer p (the readout takes tau_mem, tau_syn and
 * gain). */
static int twin_take(const slh_file *f, const char *grp, int k, const char *layer, size_t base,
                     int readout, sl_neurons *p)
{
  char name[160];
  snprintf(name, sizeof name, "%s/%s", grp, k < 6 ? twin_params[k] : "refrac");
  hsize_t len;
  void *buf;
  int rc = slh_read_alloc(f, name, H5T_NO_CLASS, k < 6 ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32, 1,
                          &len, &buf);
  if (rc != SL_OK)
    return rc;
  if (len < base + p->n)
    rc = sl_error(SL_EFORMAT, TWIN_WHO ": '%s': %s has %llu neurons; layer %s needs ids %zu..%zu",
                  f->path, name, (unsigned long long)len, layer, base, base + p->n - 1);
  else if (k == 6 && !readout)
    for (size_t j = 0; j < p->n; j++) {
      int32_t r = ((const int32_t *)buf)[base + j];
      p->refrac[j] = r < 0 ? 0 : r;
    }
  else if (k < 6 && (!readout || k == 0 || k == 1 || k == 5))
    for (size_t j = 0; j < p->n && rc == SL_OK; j++) {
      float v = ((const float *)buf)[base + j];
      if (!isfinite(v))
        rc = sl_error(SL_EFORMAT, TWIN_WHO ": '%s': %s[%zu] is not finite", f->path, name,
                      base + j);
      else
        sl_neurons_param(p, twin_params[k])[j] = v;
    }
  free(buf);
  return rc;
}

int sl_twin_apply(const char *path, const char *layer_name, size_t offset, int readout, double dt,
                  sl_neurons *p)
{
  if (!path || !layer_name || !p || !p->n)
    return sl_error(SL_EINVAL, "sl_twin_apply: NULL argument");
  slh_file f;
  char grp[128];
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, TWIN_WHO, path);
    if (rc == SL_OK)
      rc = twin_check_root(&f, dt);
    if (rc == SL_OK && !slh_exists(&f, "/mismatch"))
      rc = sl_error(SL_EFORMAT, TWIN_WHO ": '%s': group /mismatch is missing", path);
    /* the layer's own group, else the global one indexed by global id */
    snprintf(grp, sizeof grp, "/mismatch/%s", layer_name);
    size_t base = 0;
    if (rc == SL_OK && !slh_exists(&f, grp)) {
      snprintf(grp, sizeof grp, "/mismatch/global");
      base = offset;
    }
    for (int k = 0; k < 7 && rc == SL_OK; k++)
      rc = twin_take(&f, grp, k, layer_name, base, readout, p);
    slh_close(&f);
  }
  H5E_END_TRY;
  if (!rc)
    rc = sl_neurons_check(p, dt);
  return rc;
}

int sl_net_apply_twin(sl_net *net, const char *path)
{
  if (!net || !path)
    return sl_error(SL_EINVAL, "sl_net_apply_twin: NULL argument");
  const sl_net_spec *s = sl_net_get_spec(net);
  size_t total = s->n_out;
  for (size_t l = 0; l < s->n_layers; l++)
    total += s->n_hidden[l];
  long long n_twin = -1;
  slh_file f;
  hid_t root = -1;
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, TWIN_WHO, path);
    if (rc == SL_OK)
      rc = slh_open_group(&f, "/", &root);
    if (rc == SL_OK && slh_has_attr(&f, root, "/", "n_neurons") == 0)
      rc = sl_error(SL_EFORMAT, TWIN_WHO ": '%s': root attribute n_neurons is missing (not a twin "
                    "file?)", path);
    if (rc == SL_OK)
      rc = slh_get_attr(&f, root, "/", "n_neurons", H5T_NATIVE_LLONG, 1, &n_twin);
    if (root >= 0)
      H5Oclose(root);
    slh_close(&f);
  }
  H5E_END_TRY;
  if (rc)
    return rc;
  if (n_twin != (long long)total)
    return sl_error(SL_EINVAL, "twin '%s' describes %lld neurons, the network has %zu (hidden "
                    "layers then readout); characterise and fit --neurons 0-%zu of the chip",
                    path, n_twin, total, total ? total - 1 : 0);
  size_t offset = 0;
  for (size_t l = 0; l <= s->n_layers && !rc; l++) {
    sl_neurons *p = sl_net_neurons(net, l);
    rc = sl_twin_apply(path, sl_net_layer_name(net, l), offset, l == s->n_layers, s->dt, p);
    offset += p->n;
  }
  return rc;
}

int sl_fit_result_select(sl_fit_result *r, const uint32_t *ids, size_t n)
{
  if (!r || (!ids && n))
    return sl_error(SL_EINVAL, "sl_fit_result_select: NULL argument");
  size_t *rows = malloc((n ? n : 1) * sizeof *rows);
  if (!rows)
    return sl_error(SL_ENOMEM, "sl_fit_result_select: out of memory");
  for (size_t k = 0; k < n; k++) {
    size_t i = 0;
    while (i < r->n && r->neurons[i] != ids[k])
      i++;
    if (i == r->n) {
      free(rows);
      return sl_error(SL_EINVAL, "neuron %u is not in the recording's fit (%zu neurons)",
                      (unsigned)ids[k], r->n);
    }
    rows[k] = i;
  }
  /* in r's order, so that compaction can run in place */
  for (size_t a = 1; a < n; a++)
    for (size_t b = a; b > 0 && rows[b - 1] > rows[b]; b--) {
      size_t t = rows[b];
      rows[b] = rows[b - 1];
      rows[b - 1] = t;
    }
  for (size_t k = 0; k < n; k++) {
    size_t i = rows[k];
    r->neurons[k] = r->neurons[i];
    for (int p = 0; p < SL_FP_N; p++) {
      r->value[p][k] = r->value[p][i];
      r->se[p][k] = r->se[p][i];
    }
    r->residual[k] = r->residual[i];
    r->flags[k] = r->flags[i];
    r->gain_nominal[k] = r->gain_nominal[i];
    if (r->current_rate)
      r->current_rate[k] = r->current_rate[i];
  }
  r->n = n;
  free(rows);
  return SL_OK;
}

int sl_calib_parse_neurons(const char *text, uint32_t limit, uint32_t **ids, size_t *n)
{
  if (!text || !ids || !n)
    return sl_error(SL_EINVAL, "sl_calib_parse_neurons: NULL argument");
  *ids = NULL;
  *n = 0;
  unsigned char *seen = calloc(limit ? limit : 1, 1);
  uint32_t *out = malloc((limit ? limit : 1) * sizeof *out);
  size_t m = 0;
  int rc = seen && out ? SL_OK : sl_error(SL_ENOMEM, "neuron list: out of memory");
  const char *p = text;
  while (!rc) {
    char *end;
    unsigned long a, b;
    if (*p < '0' || *p > '9') {
      rc = sl_error(SL_EINVAL, "neuron list '%s': expected a number at '%s'", text, p);
      break;
    }
    a = b = strtoul(p, &end, 10);
    if (*end == '-') {
      const char *q = end + 1;
      if (*q < '0' || *q > '9') {
        rc = sl_error(SL_EINVAL, "neuron list '%s': expected a number after '-'", text);
        break;
      }
      b = strtoul(q, &end, 10);
    }
    if (b < a || b >= limit) {
      rc = sl_error(SL_EINVAL, "neuron list '%s': range %lu-%lu is empty or beyond %lu", text, a,
                    b, (unsigned long)limit - 1);
      break;
    }
    for (unsigned long k = a; k <= b && !rc; k++) {
      if (seen[k]) {
        rc = sl_error(SL_EINVAL, "neuron list '%s': neuron %lu is listed twice", text, k);
        break;
      }
      seen[k] = 1;
      out[m++] = (uint32_t)k;
    }
    if (rc || !*end)
      break;
    if (*end != ',') {
      rc = sl_error(SL_EINVAL, "neuron list '%s': unexpected '%c'", text, *end);
      break;
    }
    p = end + 1;
  }
  free(seen);
  if (rc) {
    free(out);
    return rc;
  }
  *ids = out;
  *n = m;
  return SL_OK;
}
