/* memristor.c -- the "memristor" backend: every synaptic weight matrix of
 * the network lives on compute-in-memory crossbar tiles (lib/cim/cim.c, one
 * sl_cim per layer, signed weights as differential conductance pairs); the
 * LIF neurons and the LI readout are digital and run the library's own
 * kernels (sl_lif_forward / sl_li_forward) with the setup's neurons.
 *
 * Weights arrive in hardware units: integers in [-L, L] with L = levels - 1
 * (8 levels per device -> 15 weight levels -> caps.weight_levels = 7), or
 * floats if levels = 0 (continuous conductances). The crossbar's w_max is
 * L, so one hardware unit is exactly one conductance level.
 *   - The first write of a layer programs every pair by write-verify (each
 *     pulse lands with programming noise prog_sd; verify tolerance
 *     verify_tol; at most max_pulses pulses per device).
 *   - Later writes (the loop writes after every optimiser step) are
 *     threshold-gated, as Yao et al.'s in-situ updates: only pairs whose
 *     level-quantised target moved by more than update_threshold hardware
 *     units are reprogrammed (default 0: every pair whose level changed;
 *     1: only moves of 2 levels or more). Unchanged pairs keep their
 *     programming error and spend no pulse.
 * Every pulse is counted: read_config("pulses") is the total since open,
 * the run log's endurance budget (sl_session records it per epoch).
 *
 * Run: the synaptic input of layer l is the noisy crossbar MVM of its
 * input spikes times w_unit[l]. The MVM is batched over the time steps and
 * samples of a run (T x B input vectors in one sl_cim_mvm call), but each
 * (step, sample) vector is a separate read with fresh read noise per device
 * and read, exactly as if the array were read once per time step: a layer
 * is feed-forward, so its inputs for all steps are known before it runs.
 * Each spike is one read pulse (1-bit input DAC, level mode); the ADC is off
 * by default (the neurons integrate the column currents exactly), adc_bits /
 * adc_range turn it on. Recurrent layers are not supported (a recurrent
 * read needs the previous step's spikes: caps.recurrent = 0).
 *
 * Drift: the option drift_time = t (s) reads every array t seconds after its
 * last programming (power-law drift, global compensation as in cim.h;
 * drift_nu_sd spreads the exponent from device to device).
 *
 * Characterisation and twin (issue 13, spikeloop/xbar.h): the stimulate
 * slot runs SL_STIM_DEVICE on the crossbars (sl_cim_program_devices,
 * sl_cim_read_devices); with the option twin=MAP.h5 every write is deployed
 * through the map (sl_xbar_choose, then sl_cim_program_devices).
 *
 * Observations are those of the ideal backend, and made by its helpers
 * (hw/ideal/ideal.h): model units (membrane_gain 1, time_scale 1), sample 0
 * the resting state, spikes stamped mid-step.
 *
 * Options and read_config keys: spikeloop/memristor.h.
 */
#include "config.h"
#include "spikeloop/memristor.h"
#include "spikeloop/cim.h"
#include "spikeloop/error.h"
#include "spikeloop/xbar.h"
#include "ideal/ideal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  sl_backend_setup setup;
  size_t L;                          /* hidden layers; layer L is the readout */
  size_t n_total;
  sl_neurons neurons[SL_MAX_LAYERS + 1];
  sl_cim *xb[SL_MAX_LAYERS + 1];
  int written[SL_MAX_LAYERS + 1];
  sl_cim_params cp;
  int levels;                        /* weight levels (caps.weight_levels) */
  double update_threshold, drift_time;
  uint64_t pairs_reprogrammed, writes;
  /* per layer (max_steps * max_batch * N) */
  float *h[SL_MAX_LAYERS + 1], *i_syn[SL_MAX_LAYERS + 1], *v[SL_MAX_LAYERS + 1],
      *s[SL_MAX_LAYERS + 1];
  uint8_t *clamp[SL_MAX_LAYERS + 1];
  /* deployment through a crossbar twin (option twin=MAP.h5) */
  sl_xbar_twin twin;
  int has_twin;
  float *gp, *gm; /* the largest layer's device targets */
} mem_state;

static const char *const known_keys[] = {
    "levels", "prog_sd", "verify_tol", "max_pulses", "read_sd", "g_min", "g_max", "drift_nu",
    "drift_nu_sd", "drift_time", "drift_compensation", "stuck_on", "stuck_off", "seed",
    "tile_rows", "tile_cols", "max_tiles", "adc_bits", "adc_range", "w_max", "update_threshold",
    "twin", "emulate", NULL};

/* Option key as a finite number (unchanged if absent). */
static int opt_num(const char *options, const char *key, double *out)
{
  char buf[64];
  if (!sl_backend_option(options, key, buf, sizeof buf))
    return SL_OK;
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (end == buf || *end || errno || !isfinite(v))
    return sl_error(SL_EINVAL, "memristor backend: option %s = '%s' is not a finite number", key,
                    buf);
  *out = v;
  return SL_OK;
}

/* Option key as a non-negative integer no larger than max. */
static int opt_uint(const char *options, const char *key, double max, double *out)
{
  double v = *out;
  int rc = opt_num(options, key, &v);
  if (rc)
    return rc;
  if (v < 0 || v != floor(v) || v > max)
    return sl_error(SL_EINVAL, "memristor backend: option %s = %g must be an integer in 0..%g",
                    key, v, max);
  *out = v;
  return SL_OK;
}

static int parse_options(mem_state *ms, const char *o)
{
  sl_cim_params *p = &ms->cp;
  *p = sl_cim_params_default();
  p->dac_mode = SL_CIM_DAC_LEVEL;
  p->dac_bits = 1; /* a spike is one read pulse of x_max */
  p->adc_bits = 0;
  int rc = sl_backend_check_options(o, known_keys, "memristor backend");
  double levels = 8, max_pulses = p->max_pulses, seed = 1, rows = (double)p->tile_rows,
         cols = (double)p->tile_cols, tiles = 0, adc = 0, comp = 1;
  double stuck_on = 0, stuck_off = 0, w_max = 0;
  ms->update_threshold = 0.0;
  ms->drift_time = 0.0;
  if (!rc)
    rc = opt_uint(o, "levels", 65536, &levels);
  if (!rc)
    rc = opt_num(o, "prog_sd", &p->prog_sd);
  if (!rc)
    rc = opt_num(o, "verify_tol", &p->verify_tol);
  if (!rc)
    rc = opt_uint(o, "max_pulses", 1e6, &max_pulses);
  if (!rc)
    rc = opt_num(o, "read_sd", &p->read_sd);
  if (!rc)
    rc = opt_num(o, "g_min", &p->g_min);
  if (!rc)
    rc = opt_num(o, "g_max", &p->g_max);
  if (!rc)
    rc = opt_num(o, "drift_nu", &p->drift_nu);
  if (!rc)
    rc = opt_num(o, "drift_nu_sd", &p->drift_nu_sd);
  if (!rc)
    rc = opt_num(o, "drift_time", &ms->drift_time);
  if (!rc)
    rc = opt_uint(o, "drift_compensation", 1, &comp);
  if (!rc)
    rc = opt_num(o, "stuck_on", &stuck_on);
  if (!rc)
    rc = opt_num(o, "stuck_off", &stuck_off);
  if (!rc)
    rc = opt_uint(o, "seed", 1e18, &seed);
  if (!rc)
    rc = opt_uint(o, "tile_rows", 1e9, &rows);
  if (!rc)
    rc = opt_uint(o, "tile_cols", 1e9, &cols);
  if (!rc)
    rc = opt_uint(o, "max_tiles", 1e9, &tiles);
  if (!rc)
    rc = opt_uint(o, "adc_bits", 64, &adc);
  if (!rc)
    rc = opt_num(o, "adc_range", &p->adc_range);
  if (!rc)
    rc = opt_num(o, "w_max", &w_max);
  if (!rc)
    rc = opt_num(o, "update_threshold", &ms->update_threshold);
  if (rc)
    return rc;
  if (!(ms->update_threshold >= 0))
    return sl_error(SL_EINVAL, "memristor backend: update_threshold = %g must be >= 0",
                    ms->update_threshold);
  if (!(ms->drift_time >= 0))
    return sl_error(SL_EINVAL, "memristor backend: drift_time = %g s must be >= 0",
                    ms->drift_time);
  p->levels = (unsigned)levels;
  p->max_pulses = (unsigned)max_pulses;
  p->chip_seed = p->noise_seed = (uint64_t)seed;
  p->tile_rows = (size_t)rows;
  p->tile_cols = (size_t)cols;
  p->max_tiles = (size_t)tiles;
  p->adc_bits = (unsigned)adc;
  p->drift_compensation = (int)comp;
  p->stuck_on_rate = stuck_on;
  p->stuck_off_rate = stuck_off;
  if (p->levels >= 2) {
    if (w_max != 0)
      return sl_error(SL_EINVAL, "memristor backend: w_max is fixed at levels - 1 = %u "
                      "hardware units when levels >= 2", p->levels - 1);
    p->w_max = (double)(p->levels - 1);
    ms->levels = (int)(p->levels - 1);
  } else {
    if (!(w_max >= 0))
      return sl_error(SL_EINVAL, "memristor backend: w_max = %g must be >= 0", w_max);
    p->w_max = w_max;
    ms->levels = 0;
  }
  return sl_cim_params_check(p);
}

static void mem_close(void *st)
{
  mem_state *ms = st;
  for (size_t l = 0; l <= SL_MAX_LAYERS; l++) {
    sl_cim_free(ms->xb[l]);
    sl_neurons_free(&ms->neurons[l]);
    free(ms->h[l]);
    free(ms->i_syn[l]);
    free(ms->v[l]);
    free(ms->s[l]);
    free(ms->clamp[l]);
    ms->xb[l] = NULL;
    ms->h[l] = ms->i_syn[l] = ms->v[l] = ms->s[l] = NULL;
    ms->clamp[l] = NULL;
  }
  sl_xbar_twin_free(&ms->twin);
  ms->has_twin = 0;
  free(ms->gp);
  free(ms->gm);
  ms->gp = ms->gm = NULL;
}

/* Option twin=MAP.h5: deploy every write through the crossbar twin (the
 * map `spikeloop fit` makes of this chip's characterisation). The map must
 * describe this network's crossbars, devices and deployment age. */
static int open_twin(mem_state *ms, const char *options)
{
  char path[512];
  if (!sl_backend_option(options, "twin", path, sizeof path))
    return SL_OK;
  int rc = sl_xbar_twin_read(&ms->twin, path);
  if (rc)
    return rc;
  ms->has_twin = 1;
  const sl_xbar_geometry *g = &ms->twin.geo;
  const sl_cim_params *p = &ms->cp;
  if (g->n_layers != ms->L + 1)
    return sl_error(SL_EINVAL, "memristor backend: twin '%s' has %zu crossbar layers, the "
                    "network %zu", path, g->n_layers, ms->L + 1);
  size_t most = 1;
  for (size_t l = 0; l <= ms->L; l++) {
    if (g->n_in[l] != sl_cim_n_in(ms->xb[l]) || g->n_out[l] != sl_cim_n_out(ms->xb[l]))
      return sl_error(SL_EINVAL, "memristor backend: twin '%s' layer %zu is %zu x %zu, the "
                      "network's %zu x %zu", path, l, g->n_in[l], g->n_out[l],
                      sl_cim_n_in(ms->xb[l]), sl_cim_n_out(ms->xb[l]));
    if (g->n_in[l] * g->n_out[l] > most)
      most = g->n_in[l] * g->n_out[l];
  }
  if (g->levels != (int)p->levels || fabs(g->g_min - p->g_min) > 1e-12 ||
      fabs(g->g_max - p->g_max) > 1e-12)
    return sl_error(SL_EINVAL, "memristor backend: twin '%s' is of devices with %d levels on "
                    "[%g, %g], these have %u on [%g, %g]", path, g->levels, g->g_min, g->g_max,
                    p->levels, p->g_min, p->g_max);
  double age = ms->drift_time > p->drift_t0 ? ms->drift_time : p->drift_t0;
  double tage = g->age > g->drift_t0 ? g->age : g->drift_t0;
  if (fabs(age - tage) > 1e-9 * tage || g->compensation != p->drift_compensation)
    return sl_error(SL_EINVAL, "memristor backend: twin '%s' predicts the devices %g s after "
                    "programming (compensation %d); this backend reads them at drift_time = %g "
                    "s (compensation %d): set drift_time=%g", path, g->age, g->compensation,
                    ms->drift_time, p->drift_compensation, g->age);
  ms->gp = malloc(most * sizeof(float));
  ms->gm = malloc(most * sizeof(float));
  if (!ms->gp || !ms->gm)
    return sl_error(SL_ENOMEM, "memristor backend: out of memory for the twin");
  return SL_OK;
}

/* Option emulate=MAP.h5: the crossbars take the stuck devices and drift
 * exponents of a crossbar map instead of the chip seed's (a map-device not
 * characterised works): a chip that behaves as the map says, to train
 * through the twin's forward model. Noise and everything else as options. */
static int open_emulated(mem_state *ms, const char *options)
{
  char path[512];
  if (!sl_backend_option(options, "emulate", path, sizeof path))
    return SL_OK;
  sl_xbar_twin t;
  int rc = sl_xbar_twin_read(&t, path);
  if (rc)
    return rc;
  if (t.geo.n_layers != ms->L + 1)
    rc = sl_error(SL_EINVAL, "memristor backend: emulate map '%s' has %zu crossbar layers, the "
                  "network %zu", path, t.geo.n_layers, ms->L + 1);
  for (size_t l = 0; !rc && l <= ms->L; l++) {
    const size_t n = sl_cim_n_in(ms->xb[l]) * sl_cim_n_out(ms->xb[l]);
    if (t.geo.n_in[l] != sl_cim_n_in(ms->xb[l]) || t.geo.n_out[l] != sl_cim_n_out(ms->xb[l])) {
      rc = sl_error(SL_EINVAL, "memristor backend: emulate map '%s' layer %zu is %zu x %zu, the "
                    "network's %zu x %zu", path, l, t.geo.n_in[l], t.geo.n_out[l],
                    sl_cim_n_in(ms->xb[l]), sl_cim_n_out(ms->xb[l]));
      break;
    }
    for (size_t q = 0; q < 2 * n; q++) {
      if (t.stuck[l][q] == SL_XBAR_UNKNOWN)
        t.stuck[l][q] = 0;
      if (!(t.nu[l][q] >= 0))
        t.nu[l][q] = 0.0f;
    }
    rc = sl_cim_set_devices(ms->xb[l], t.stuck[l], t.stuck[l] + n, t.nu[l], t.nu[l] + n);
  }
  sl_xbar_twin_free(&t);
  return rc;
}

static int mem_open(void *st, const sl_backend_setup *s)
{
  mem_state *ms = st;
  memset(ms, 0, sizeof *ms);
  int rc = parse_options(ms, s->options);
  if (rc)
    return rc;
  ms->setup = *s;
  ms->setup.options = NULL; /* not owned */
  ms->L = s->n_layers;
  const size_t TB = s->max_steps * s->max_batch;
  for (size_t l = 0; l <= ms->L && !rc; l++) {
    if (s->recurrent[l]) {
      rc = sl_error(SL_EUNSUPPORTED, "memristor backend: layer %zu is recurrent; recurrent "
                    "crossbar reads are not supported", l);
      break;
    }
    const size_t n_prev = l == 0 ? s->n_in : s->size[l - 1], N = s->size[l];
    rc = sl_neurons_copy(&ms->neurons[l], s->neurons[l]);
    if (!rc)
      rc = sl_neurons_check(&ms->neurons[l], s->dt);
    if (!rc && (rc = sl_cim_alloc(&ms->xb[l], n_prev, N, &ms->cp))) {
      char why[256];
      snprintf(why, sizeof why, "%s", sl_last_error());
      sl_error(rc, "memristor backend: layer %zu (%zu x %zu) does not fit: %s", l, n_prev, N,
               why);
    }
    if (rc)
      break;
    ms->h[l] = malloc(TB * N * sizeof(float));
    ms->i_syn[l] = malloc(TB * N * sizeof(float));
    ms->v[l] = malloc(TB * N * sizeof(float));
    ms->s[l] = malloc(TB * N * sizeof(float));
    ms->clamp[l] = malloc(TB * N);
    if (!ms->h[l] || !ms->i_syn[l] || !ms->v[l] || !ms->s[l] || !ms->clamp[l])
      rc = sl_error(SL_ENOMEM, "memristor backend: out of memory for %zu x %zu states", TB, N);
    ms->n_total += N;
  }
  if (!rc)
    rc = open_emulated(ms, s->options);
  if (!rc)
    rc = open_twin(ms, s->options);
  if (rc)
    mem_close(ms);
  return rc;
}

/* Those of the ideal backend (the membrane is digital; a signed weight is a
 * differential pair in one row, sign_by_row_pair 0; no recurrence) but for
 * the weight levels. */
static int mem_caps(void *st, sl_backend_caps *c)
{
  mem_state *ms = st;
  slb_ideal_model_caps(c, ms->setup.dt);
  c->weight_levels = ms->levels;
  return SL_OK;
}

static int mem_write(void *st, size_t layer, int which, const float *w, size_t rows, size_t cols)
{
  mem_state *ms = st;
  if (layer > ms->L)
    return sl_error(SL_EINVAL, "memristor backend: no layer %zu", layer);
  if (which)
    return sl_error(SL_EUNSUPPORTED, "memristor backend: no recurrent weights");
  sl_cim *c = ms->xb[layer];
  if (rows != sl_cim_n_in(c) || cols != sl_cim_n_out(c))
    return sl_error(SL_ESHAPE, "memristor backend: layer %zu weights are %zu x %zu, got %zu x "
                    "%zu", layer, sl_cim_n_in(c), sl_cim_n_out(c), rows, cols);
  for (size_t i = 0; i < rows * cols; i++) {
    if (!isfinite(w[i]))
      return sl_error(SL_ENUMERIC, "memristor backend: layer %zu weight %zu is not finite",
                      layer, i);
    if (ms->levels > 0 && fabsf(w[i]) > (float)ms->levels + 1e-3f)
      return sl_error(SL_ERANGE, "memristor backend: layer %zu weight %zu = %g outside the %d "
                      "device levels +-%d", layer, i, (double)w[i], 2 * ms->levels + 1,
                      ms->levels);
  }
  int rc;
  if (ms->has_twin) { /* every pair to the levels the twin predicts nearest */
    rc = sl_xbar_choose(&ms->twin, layer, (double)ms->levels, w, ms->gp, ms->gm);
    if (!rc)
      rc = sl_cim_program_devices(c, ms->gp, ms->gm);
  } else if (!ms->written[layer]) {
    rc = sl_cim_program(c, w);
  } else {
    size_t pairs = 0;
    rc = sl_cim_reprogram(c, w, ms->update_threshold, &pairs);
    ms->pairs_reprogrammed += pairs;
  }
  if (!rc && ms->drift_time > 0)
    rc = sl_cim_set_time(c, ms->drift_time);
  if (!rc) {
    ms->written[layer] = 1;
    ms->writes++;
  }
  return rc;
}

static int mem_run(void *st, const float *x, size_t T, size_t B, sl_observations *obs)
{
  mem_state *ms = st;
  const sl_backend_setup *su = &ms->setup;
  if (T > su->max_steps || B > su->max_batch)
    return sl_error(SL_ERANGE, "memristor backend: run of %zu steps x %zu samples exceeds the "
                    "setup's %zu x %zu", T, B, su->max_steps, su->max_batch);
  const double dt = su->dt;
  sl_lif_options lo = su->lif;
  lo.scale_input = su->scale_input;
  int rc = SL_OK;
  for (size_t l = 0; l <= ms->L && !rc; l++) {
    if (!ms->written[l])
      return sl_error(SL_EINVAL, "memristor backend: layer %zu has no weights yet", l);
    const size_t N = su->size[l];
    const float *in = l == 0 ? x : ms->s[l - 1];
    rc = sl_cim_mvm(ms->xb[l], in, T * B, ms->h[l]);
    if (rc)
      return rc;
    const float unit = (float)su->w_unit[l];
    for (size_t i = 0; i < T * B * N; i++)
      ms->h[l][i] *= unit;
    if (l < ms->L)
      rc = sl_lif_forward(&ms->neurons[l], &lo, dt, T, B, NULL, ms->h[l], ms->i_syn[l], ms->v[l],
                          ms->s[l], ms->clamp[l]);
    else
      rc = sl_li_forward(&ms->neurons[l], su->scale_input, dt, T, B, ms->h[l], ms->i_syn[l],
                         ms->v[l]);
  }
  if (!rc)
    rc = slb_ideal_obs_reset(obs, B, ms->n_total, T, dt);
  size_t base = 0;
  for (size_t l = 0; !rc && l <= ms->L; l++) {
    rc = slb_ideal_obs_layer(obs, &ms->neurons[l], base, T, ms->v[l], l < ms->L ? ms->s[l] : NULL,
                             dt);
    base += su->size[l];
  }
  return rc;
}

/* SL_STIM_DEVICE (backend.h): program every device of the layers holding
 * the listed neurons to the level, read the listed neurons' input columns
 * at the instants, `repeats` times. Only the device protocol: the neurons
 * are the library's own kernels, there is nothing analog to characterise. */
static int mem_stimulate(void *st, const sl_stimulus *stim, sl_observations *obs)
{
  mem_state *ms = st;
  if (stim->protocol != SL_STIM_DEVICE)
    return sl_error(SL_EUNSUPPORTED, "memristor backend: its neurons are digital (the "
                    "library's kernels): only the crossbar device protocol is characterised");
  if (!(stim->level >= 0 && stim->level <= 1))
    return sl_error(SL_EINVAL, "memristor backend: device level %g must be a fraction of the "
                    "window in [0, 1]", stim->level);
  const size_t reads = stim->reads ? stim->reads : 1, times = stim->times ? stim->times : 1;
  const sl_backend_setup *su = &ms->setup;
  size_t layer_of[SL_MAX_LAYERS + 2] = {0}, n_dev = 0;
  int touched[SL_MAX_LAYERS + 1] = {0};
  for (size_t l = 0, base = 0; l <= ms->L; base += su->size[l], l++)
    layer_of[l + 1] = base + su->size[l];
  for (size_t k = 0; k < stim->n_neurons; k++) {
    size_t l = 0;
    while (stim->neurons[k] >= layer_of[l + 1])
      l++;
    touched[l] = 1;
    n_dev += 2 * sl_cim_n_in(ms->xb[l]);
  }
  const size_t ns = times * reads, B = stim->repeats;
  int rc = sl_obs_reset(obs, B, n_dev, ns);
  if (rc)
    return rc;
  obs->sample_t0 = 0.0;
  obs->sample_period = times > 1 ? stim->duration / (double)(times - 1) : stim->duration;
  const double g = ms->cp.g_min + stim->level * (ms->cp.g_max - ms->cp.g_min);
  size_t most = 1;
  for (size_t l = 0; l <= ms->L; l++)
    if (sl_cim_n_in(ms->xb[l]) * sl_cim_n_out(ms->xb[l]) > most)
      most = sl_cim_n_in(ms->xb[l]) * sl_cim_n_out(ms->xb[l]);
  float *level = malloc(most * sizeof(float)), *rp = malloc(most * sizeof(float)),
        *rm = malloc(most * sizeof(float));
  if (!level || !rp || !rm)
    rc = sl_error(SL_ENOMEM, "memristor backend: out of memory for %zu devices", most);
  for (size_t i = 0; !rc && i < most; i++)
    level[i] = (float)g;
  for (size_t b = 0; b < B && !rc; b++) {
    for (size_t l = 0; l <= ms->L && !rc; l++)
      if (touched[l]) {
        rc = sl_cim_program_devices(ms->xb[l], level, level);
        ms->written[l] = 0; /* the weights are gone: the next write programs anew */
      }
    for (size_t t = 0; t < times && !rc; t++) {
      double at = times > 1 ? stim->duration * (double)t / (double)(times - 1) : 0.0;
      for (size_t l = 0; l <= ms->L && !rc; l++)
        if (touched[l])
          rc = sl_cim_set_time(ms->xb[l], at);
      for (size_t r = 0; r < reads && !rc; r++) {
        float *out = obs->membrane + ((t * reads + r) * B + b) * n_dev;
        for (size_t l = 0; l <= ms->L && !rc; l++) {
          if (!touched[l])
            continue;
          rc = sl_cim_read_devices(ms->xb[l], rp, rm);
          if (rc)
            break;
          /* the listed neurons of this layer, in the order listed */
          const size_t n_in = sl_cim_n_in(ms->xb[l]), n_out = sl_cim_n_out(ms->xb[l]);
          size_t d = 0;
          for (size_t k = 0; k < stim->n_neurons; k++) {
            size_t lk = 0;
            while (stim->neurons[k] >= layer_of[lk + 1])
              lk++;
            const size_t fan = 2 * sl_cim_n_in(ms->xb[lk]);
            if (lk == l) {
              const size_t j = stim->neurons[k] - layer_of[l];
              for (size_t i = 0; i < n_in; i++) {
                out[d + 2 * i] = rp[i * n_out + j];
                out[d + 2 * i + 1] = rm[i * n_out + j];
              }
            }
            d += fan;
          }
        }
      }
    }
  }
  /* back to the deployment's clock */
  for (size_t l = 0; l <= ms->L && !rc; l++)
    if (touched[l])
      rc = sl_cim_set_time(ms->xb[l], ms->drift_time);
  free(level);
  free(rp);
  free(rm);
  return rc;
}

static int mem_read_config(void *st, const char *key, char *buf, size_t len)
{
  mem_state *ms = st;
  sl_cim_counters k, sum;
  memset(&sum, 0, sizeof sum);
  double energy = 0.0;
  for (size_t l = 0; l <= ms->L; l++) {
    sl_cim_counters_get(ms->xb[l], &k);
    sum.prog_pulses += k.prog_pulses;
    sum.cells_programmed += k.cells_programmed;
    sum.cell_reads += k.cell_reads;
    sum.tile_reads += k.tile_reads;
    sum.dac_conversions += k.dac_conversions;
    sum.adc_conversions += k.adc_conversions;
    energy += sl_cim_energy(&ms->cp, &k);
  }
  int n = -1;
  if (strcmp(key, "pulses") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)sum.prog_pulses);
  else if (strcmp(key, "cells_programmed") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)sum.cells_programmed);
  else if (strcmp(key, "pairs_reprogrammed") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)ms->pairs_reprogrammed);
  else if (strcmp(key, "writes") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)ms->writes);
  else if (strcmp(key, "reads") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)sum.cell_reads);
  else if (strcmp(key, "read_pulses") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)sum.tile_reads);
  else if (strcmp(key, "dac_conversions") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)sum.dac_conversions);
  else if (strcmp(key, "adc_conversions") == 0)
    n = snprintf(buf, len, "%llu", (unsigned long long)sum.adc_conversions);
  else if (strcmp(key, "stuck_on") == 0 || strcmp(key, "stuck_off") == 0) {
    uint64_t on = 0, off = 0, a, b;
    for (size_t l = 0; l <= ms->L; l++) {
      sl_cim_stuck_count(ms->xb[l], &a, &b);
      on += a;
      off += b;
    }
    n = snprintf(buf, len, "%llu", (unsigned long long)(strcmp(key, "stuck_on") == 0 ? on : off));
  } else if (strcmp(key, "energy") == 0)
    n = snprintf(buf, len, "%.17g", energy);
  else if (strcmp(key, "weight_levels") == 0)
    n = snprintf(buf, len, "%d", ms->levels);
  else if (strcmp(key, "levels") == 0)
    n = snprintf(buf, len, "%u", ms->cp.levels);
  else if (strcmp(key, "g_min") == 0)
    n = snprintf(buf, len, "%.17g", ms->cp.g_min);
  else if (strcmp(key, "g_max") == 0)
    n = snprintf(buf, len, "%.17g", ms->cp.g_max);
  else if (strcmp(key, "drift_t0") == 0)
    n = snprintf(buf, len, "%.17g", ms->cp.drift_t0);
  else if (strcmp(key, "drift_time") == 0)
    n = snprintf(buf, len, "%.17g", ms->drift_time);
  else if (strcmp(key, "drift_compensation") == 0)
    n = snprintf(buf, len, "%d", ms->cp.drift_compensation);
  else if (strncmp(key, "pulses.", 7) == 0) {
    char *e;
    errno = 0;
    unsigned long l = strtoul(key + 7, &e, 10);
    if (e != key + 7 && !*e && !errno && key[7] != '-' && l <= ms->L) {
      sl_cim_counters_get(ms->xb[l], &k);
      n = snprintf(buf, len, "%llu", (unsigned long long)k.prog_pulses);
    }
  } else
    n = slb_ideal_unit_key(key, buf, len);
  if (n < 0)
    return sl_error(SL_ENOTFOUND, "memristor backend has no configuration key '%s' (keys: "
                    "pulses, pulses.<layer>, cells_programmed, pairs_reprogrammed, writes, "
                    "reads, read_pulses, dac_conversions, adc_conversions, stuck_on, stuck_off, "
                    "energy, "
                    "weight_levels, levels, g_min, g_max, drift_t0, drift_time, "
                    "drift_compensation, time_scale, volt_at_zero, volt_per_unit, "
                    "spike_delay)", key);
  if ((size_t)n >= len)
    return sl_error(SL_ERANGE, "memristor backend: read_config: buffer too small for '%s'", key);
  return SL_OK;
}

/* weight_levels 0 in the table: the levels are an option, so the core asks
 * an opened instance (caps.weight_levels, 7 by default). */
/* Checkpoints: {tag, written[0..L], pairs_reprogrammed, writes} as native
 * uint64, then every crossbar's state (sl_cim_state_save), layer by layer. */
#define MEM_STATE_TAG UINT64_C(0x6d656d7374000001) /* "memst", layout 1 */

static size_t mem_state_bytes(const mem_state *ms)
{
  size_t n = (ms->L + 4) * sizeof(uint64_t);
  for (size_t l = 0; l <= ms->L; l++)
    n += sl_cim_state_size(ms->xb[l]);
  return n;
}

static int mem_save_state(void *st, uint8_t *buf, size_t *len)
{
  const mem_state *ms = st;
  const size_t need = mem_state_bytes(ms);
  if (buf) {
    if (*len < need)
      return sl_error(SL_ERANGE, "memristor backend: save_state: %zu bytes, need %zu", *len, need);
    uint64_t v = MEM_STATE_TAG;
    memcpy(buf, &v, sizeof v);
    buf += sizeof v;
    for (size_t l = 0; l <= ms->L; l++, buf += sizeof v) {
      v = (uint64_t)ms->written[l];
      memcpy(buf, &v, sizeof v);
    }
    memcpy(buf, &ms->pairs_reprogrammed, sizeof v);
    memcpy(buf + sizeof v, &ms->writes, sizeof v);
    buf += 2 * sizeof v;
    for (size_t l = 0; l <= ms->L; l++) {
      sl_cim_state_save(ms->xb[l], buf);
      buf += sl_cim_state_size(ms->xb[l]);
    }
  }
  *len = need;
  return SL_OK;
}

static int mem_load_state(void *st, const uint8_t *buf, size_t len)
{
  mem_state *ms = st;
  if (len != mem_state_bytes(ms))
    return sl_error(SL_EFORMAT, "memristor backend: a saved state of %zu bytes, this network's "
                    "has %zu", len, mem_state_bytes(ms));
  uint64_t v;
  memcpy(&v, buf, sizeof v);
  if (v != MEM_STATE_TAG)
    return sl_error(SL_EFORMAT, "memristor backend: the saved state is not a memristor state");
  buf += sizeof v;
  int written[SL_MAX_LAYERS + 1];
  for (size_t l = 0; l <= ms->L; l++, buf += sizeof v) {
    memcpy(&v, buf, sizeof v);
    written[l] = v != 0;
  }
  uint64_t pairs, writes;
  memcpy(&pairs, buf, sizeof v);
  memcpy(&writes, buf + sizeof v, sizeof v);
  buf += 2 * sizeof v;
  for (size_t l = 0; l <= ms->L; l++) {
    int rc = sl_cim_state_load(ms->xb[l], buf, sl_cim_state_size(ms->xb[l]));
    if (rc)
      return rc;
    buf += sl_cim_state_size(ms->xb[l]);
  }
  for (size_t l = 0; l <= ms->L; l++)
    ms->written[l] = written[l];
  ms->pairs_reprogrammed = pairs;
  ms->writes = writes;
  return SL_OK;
}

static const sl_backend memristor_backend = {
    SL_BACKEND_VERSION, "memristor",
    "weights on noisy memristor crossbar tiles (write-verify), digital LIF neurons",
    sizeof(mem_state), mem_open, mem_close, mem_caps, mem_write, mem_run, mem_read_config, 0,
    mem_stimulate, mem_save_state, mem_load_state};

const sl_backend *sl_memristor_backend(void) { return &memristor_backend; }
