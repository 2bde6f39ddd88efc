/* ideal.c -- the "ideal" backend: the host's own LIF simulator, reporting
 * exactly what the model computes.
 *
 * Options (for simulation studies of mismatch, Cramer et al. 2022 Fig. 5):
 *   tau_mem_sd, tau_syn_sd, v_th_sd, v_leak_sd, gain_sd = relative sd of a
 *   hidden mismatch of the simulated "chip" that the host model does not
 *   know (drawn as sl_neurons_draw_mismatch does, for every layer including
 *   the readout), mismatch_seed = its seed (default 1).
 *
 * Observations follow the interface's time convention: model step t covers
 * hardware time (t dt, (t+1) dt]; its membrane is sampled at (t+1) dt and a
 * spike of step t is stamped (t + 0.5) dt. Sample 0 (t = 0) is the resting
 * state v_leak. Units are model units (membrane_gain 1, time_scale 1), and
 * weights are taken in units of setup.w_unit, as continuous values. The
 * memristor backend, whose neurons are digital too, reports the same way
 * through the slb_ideal_* helpers below (ideal.h).
 *
 * Characterisation protocols (stimulate, backend.h) run the same discrete
 * equations per neuron, so that fits can be checked against the known
 * parameters: step s after the onset covers (s dt, (s+1) dt] and is
 * sampled at (s+1) dt (sample 0 at -pre); the clamp holds V = level exactly
 * before the onset; the PSP's input spike enters I at the onset's step,
 * which makes the sampled response exactly the continuous difference of
 * exponentials with onset 0 and gain gain*w_unit*(1/tau_syn - 1/tau_mem) /
 * (a_m - a_s) per model s; the current adds current*tau_mem*(1 - a_m) per
 * step (the exact integral of a constant current over a step); spikes are
 * stamped mid-step, (s + 0.5) dt. The readout never spikes. No noise.
 * read_config: time_scale (1), volt_at_zero (0), volt_per_unit (1),
 * spike_delay (0), gain_nominal.<n> (w_unit of n's layer / dt: model units
 * per model s of one weight unit at gain 1).
 */
#include "config.h"
#include "ideal.h"
#include "spikeloop/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  sl_net *net;
  sl_backend_setup setup;
  size_t n_total;
} ideal_state;

/* One option as a number in [0, 1]; absent means 0. */
static int option_sd(const char *options, const char *key, double *out)
{
  char buf[64];
  *out = 0.0;
  if (!sl_backend_option(options, key, buf, sizeof buf))
    return SL_OK;
  char *end;
  *out = strtod(buf, &end);
  if (end == buf || *end || !(*out >= 0.0 && *out <= 1.0))
    return sl_error(SL_EINVAL, "ideal backend: option %s = '%s' must be a number in [0, 1]", key,
                    buf);
  return SL_OK;
}

static int draw_hidden_mismatch(sl_net *net, size_t n_layers, const char *options)
{
  sl_mismatch_spec mm = {0};
  int rc = option_sd(options, "tau_mem_sd", &mm.tau_mem);
  if (!rc)
    rc = option_sd(options, "tau_syn_sd", &mm.tau_syn);
  if (!rc)
    rc = option_sd(options, "v_th_sd", &mm.v_th);
  if (!rc)
    rc = option_sd(options, "v_leak_sd", &mm.v_leak);
  if (!rc)
    rc = option_sd(options, "gain_sd", &mm.gain);
  if (rc)
    return rc;
  char buf[64];
  uint64_t seed = 1;
  if (sl_backend_option(options, "mismatch_seed", buf, sizeof buf))
    seed = strtoull(buf, NULL, 10);
  if (mm.tau_mem == 0 && mm.tau_syn == 0 && mm.v_th == 0 && mm.v_leak == 0 && mm.gain == 0)
    return SL_OK;
  for (size_t l = 0; l <= n_layers && !rc; l++)
    rc = sl_neurons_draw_mismatch(sl_net_neurons(net, l), &mm, seed * 1000003u + l);
  return rc;
}

static int ideal_open(void *st, const sl_backend_setup *s)
{
  ideal_state *is = st;
  sl_net_spec spec = sl_net_spec_default();
  spec.n_in = s->n_in;
  spec.n_out = s->size[s->n_layers];
  spec.n_layers = s->n_layers;
  for (size_t l = 0; l < s->n_layers; l++) {
    spec.n_hidden[l] = s->size[l];
    spec.recurrent[l] = s->recurrent[l];
  }
  spec.dt = s->dt;
  spec.lif = s->lif;
  spec.readout_scale_input = s->scale_input;
  spec.lif.scale_input = s->scale_input;
  int rc = sl_net_create(&is->net, &spec);
  for (size_t l = 0; !rc && l <= s->n_layers; l++) {
    sl_neurons *dst = sl_net_neurons(is->net, l);
    sl_neurons_free(dst);
    rc = sl_neurons_copy(dst, s->neurons[l]);
  }
  if (!rc)
    rc = draw_hidden_mismatch(is->net, s->n_layers, s->options);
  if (!rc)
    rc = sl_net_check(is->net);
  if (rc) {
    sl_net_free(is->net);
    is->net = NULL;
    return rc;
  }
  is->setup = *s;
  is->n_total = 0;
  for (size_t l = 0; l <= s->n_layers; l++)
    is->n_total += s->size[l];
  return SL_OK;
}

static void ideal_close(void *st)
{
  ideal_state *is = st;
  sl_net_free(is->net);
  is->net = NULL;
}

/* ------------------------------------------------------------ model units
 * What the ideal backend reports, shared with the backends whose neurons
 * are the model's own (memristor); see ideal.h. */

void slb_ideal_model_caps(sl_backend_caps *c, double dt)
{
  memset(c, 0, sizeof *c);
  c->max_neurons = (size_t)1 << 30; /* no practical limit */
  c->max_fan_in = (size_t)1 << 30;
  c->weight_levels = 0;
  c->adc_bits = 0;
  c->sample_period = dt;
  c->time_scale = 1.0;
  c->membrane_gain = 1.0;
  c->membrane_units = "model";
  c->observables = SL_OBS_SPIKES | SL_OBS_MEMBRANE;
}

int slb_ideal_obs_reset(sl_observations *obs, size_t B, size_t n_total, size_t T, double dt)
{
  int rc = sl_obs_reset(obs, B, n_total, T + 1);
  if (rc)
    return rc;
  obs->sample_t0 = 0.0;
  obs->sample_period = dt;
  return SL_OK;
}

int slb_ideal_obs_layer(sl_observations *obs, const sl_neurons *p, size_t base, size_t T,
                        const float *v, const float *s, double dt)
{
  const size_t B = obs->B, N = p->n, stride = obs->n_neurons;
  for (size_t b = 0; b < B; b++)
    for (size_t n = 0; n < N; n++)
      obs->membrane[b * stride + base + n] = p->v_leak[n];
  for (size_t t = 0; t < T; t++)
    for (size_t b = 0; b < B; b++)
      for (size_t n = 0; n < N; n++) {
        const size_t i = (t * B + b) * N + n;
        obs->membrane[((t + 1) * B + b) * stride + base + n] = v[i];
        int rc;
        if (s && s[i] != 0.0f && (rc = sl_obs_add_spike(obs, b, base + n, (t + 0.5) * dt)))
          return rc;
      }
  return SL_OK;
}

int slb_ideal_unit_key(const char *key, char *buf, size_t len)
{
  if (strcmp(key, "time_scale") == 0 || strcmp(key, "volt_per_unit") == 0)
    return snprintf(buf, len, "1");
  if (strcmp(key, "volt_at_zero") == 0 || strcmp(key, "spike_delay") == 0)
    return snprintf(buf, len, "0");
  return -1;
}

/* ------------------------------------------------------------ the backend */

static int ideal_caps(void *st, sl_backend_caps *c)
{
  ideal_state *is = st;
  slb_ideal_model_caps(c, is->setup.dt);
  c->recurrent = 1;
  return SL_OK;
}

static int ideal_write(void *st, size_t layer, int which, const float *w, size_t rows, size_t cols)
{
  ideal_state *is = st;
  sl_tensor t;
  int rc = sl_net_find_tensor(is->net, sl_net_layer_name(is->net, layer), which ? "w_rec" : "w_in",
                              &t);
  if (rc)
    return rc;
  if (t.rows != rows || t.cols != cols)
    return sl_error(SL_ESHAPE, "ideal backend: %s/%s is %zu x %zu, got %zu x %zu", t.layer, t.name,
                    t.rows, t.cols, rows, cols);
  const float unit = (float)is->setup.w_unit[layer];
  for (size_t i = 0; i < rows * cols; i++)
    t.data[i] = w[i] * unit;
  return sl_net_check(is->net);
}

static int ideal_run(void *st, const float *x, size_t T, size_t B, sl_observations *obs)
{
  ideal_state *is = st;
  const double dt = is->setup.dt;
  int rc = sl_net_forward(is->net, x, T, B);
  if (!rc)
    rc = slb_ideal_obs_reset(obs, B, is->n_total, T, dt);
  size_t base = 0;
  for (size_t l = 0; !rc && l <= is->setup.n_layers; l++) {
    sl_layer_state s;
    sl_net_state(is->net, l, &s);
    rc = slb_ideal_obs_layer(obs, sl_net_neurons(is->net, l), base, T, s.v, s.s, dt);
    base += s.N;
  }
  return rc;
}

/* Layer and index of global neuron g. */
static size_t ideal_locate(const ideal_state *is, size_t g, size_t *j)
{
  size_t l = 0;
  while (l < is->setup.n_layers && g >= is->setup.size[l]) {
    g -= is->setup.size[l];
    l++;
  }
  *j = g;
  return l;
}

static int ideal_stimulate(void *st, const sl_stimulus *stim, sl_observations *obs)
{
  ideal_state *is = st;
  if (stim->protocol == SL_STIM_DEVICE)
    return sl_error(SL_EUNSUPPORTED, "ideal backend: no crossbar devices to characterise "
                    "(the device protocol is the memristor backend's)");
  const double dt = is->setup.dt;
  const size_t P = (size_t)ceil(stim->pre / dt - 1e-9), D = (size_t)ceil(stim->duration / dt - 1e-9);
  const size_t n = stim->n_neurons, B = stim->repeats, ns = P + D + 1;
  int rc = sl_obs_reset(obs, B, n, ns);
  if (rc)
    return rc;
  obs->sample_t0 = -(double)P * dt;
  obs->sample_period = dt;
  const int subtract = is->setup.lif.reset == SL_RESET_SUBTRACT;
  for (size_t k = 0; k < n && !rc; k++) {
    size_t j, l = ideal_locate(is, stim->neurons[k], &j);
    const sl_neurons *p = sl_net_neurons(is->net, l);
    const double E = p->v_leak[j], th = p->v_th[j], vr = p->v_reset[j], tm = p->tau_mem[j];
    const double am = exp(-dt / tm), as = exp(-dt / p->tau_syn[j]);
    const double kin = is->setup.scale_input ? 1.0 - am : 1.0;
    const int spiking = l < is->setup.n_layers;
    for (size_t b = 0; b < B && !rc; b++) {
      double V = stim->protocol == SL_STIM_DECAY ? stim->level : E, I = 0.0;
      long hold = 0;
      obs->membrane[b * n + k] = (float)V;
      for (size_t s = 0; s + 1 < ns; s++) {
        const int after = s >= P;
        if (after || stim->protocol != SL_STIM_DECAY) {
          double h = stim->protocol == SL_STIM_PSP && s == P
                       ? p->gain[j] * is->setup.w_unit[l] * stim->weight : 0.0;
          I = as * I + h;
          double drive = stim->protocol == SL_STIM_CURRENT && after ? stim->current * tm * (1 - am)
                                                                    : 0.0;
          V = E + am * (V - E) + kin * I + drive;
          if (hold > 0) {
            V = vr;
            hold--;
          } else if (spiking && V > th) {
            V = subtract ? V - (th - vr) : vr;
            hold = p->refrac[j];
            rc = sl_obs_add_spike(obs, b, k, ((double)s - (double)P + 0.5) * dt);
          }
        }
        obs->membrane[((s + 1) * B + b) * n + k] = (float)V;
      }
    }
  }
  return rc;
}

static int ideal_read_config(void *st, const char *key, char *buf, size_t len)
{
  ideal_state *is = st;
  int n = slb_ideal_unit_key(key, buf, len);
  if (n < 0 && strncmp(key, "gain_nominal.", 13) == 0) {
    char *e;
    errno = 0;
    unsigned long g = strtoul(key + 13, &e, 10);
    if (e != key + 13 && !*e && !errno && key[13] != '-' && g < is->n_total) {
      size_t j, l = ideal_locate(is, g, &j);
      n = snprintf(buf, len, "%.17g", is->setup.w_unit[l] / is->setup.dt);
    }
  }
  if (n < 0)
    return sl_error(SL_ENOTFOUND, "ideal backend has no configuration key '%s' (keys: "
                    "time_scale, volt_at_zero, volt_per_unit, spike_delay, gain_nominal.<n>)", key);
  if ((size_t)n >= len)
    return sl_error(SL_ERANGE, "ideal backend: read_config: buffer too small for '%s'", key);
  return SL_OK;
}

/* Checkpoints: nothing but the weights changes between runs (mismatch is
 * drawn from the options at open, no noise), so the state is empty. */
static int ideal_save_state(void *st, uint8_t *buf, size_t *len)
{
  (void)st;
  (void)buf;
  *len = 0;
  return SL_OK;
}

static int ideal_load_state(void *st, const uint8_t *buf, size_t len)
{
  (void)st;
  (void)buf;
  if (len)
    return sl_error(SL_EFORMAT, "ideal backend: a saved state of %zu bytes (its state is empty)",
                    len);
  return SL_OK;
}

static const sl_backend ideal_backend = {
    SL_BACKEND_VERSION, "ideal", "the exact LIF simulator, observed without error",
    sizeof(ideal_state), ideal_open, ideal_close, ideal_caps, ideal_write, ideal_run,
    ideal_read_config, 0, ideal_stimulate, ideal_save_state, ideal_load_state};

const sl_backend *slb_ideal_backend(void) { return &ideal_backend; }
