/* loop.c -- in-the-loop training: weights quantised and written to a
 * backend, observations converted and injected into the host model.
 * The conventions (time bins, membrane normalisation) are stated in
 * include/spikeloop/loop.h.
 */
#include "config.h"
#include "spikeloop/loop.h"
#include "spikeloop/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sl_loop {
  sl_net *net;
  sl_hw *hw;
  float *hw_units;          /* the weights in hardware units, n_params */
  sl_observations obs;
  float *v_meas[SL_MAX_LAYERS + 1], *s_meas[SL_MAX_LAYERS + 1];
  size_t capacity;          /* T*B the measurement buffers hold */
  size_t offset[SL_MAX_LAYERS + 1], n_total;
};

double sl_loop_default_w_unit(const sl_net *net, size_t layer, double init_scale, int levels)
{
  if (levels <= 0 || !net)
    return 1.0;
  const sl_net_spec *s = sl_net_get_spec(net);
  size_t fan_in = layer == 0 ? s->n_in : s->n_hidden[layer - 1];
  if (layer == s->n_layers)
    fan_in = s->n_hidden[s->n_layers - 1];
  return 4.0 * init_scale / sqrt((double)fan_in) / (double)levels;
}

int sl_loop_setup(const sl_net *net, const double *w_unit, const char *options, size_t max_steps,
                  size_t max_batch, sl_backend_setup *setup)
{
  if (!net || !setup)
    return sl_error(SL_EINVAL, "sl_loop_setup: NULL argument");
  const sl_net_spec *s = sl_net_get_spec(net);
  memset(setup, 0, sizeof *setup);
  setup->n_in = s->n_in;
  setup->n_layers = s->n_layers;
  for (size_t l = 0; l <= s->n_layers; l++) {
    setup->size[l] = l < s->n_layers ? s->n_hidden[l] : s->n_out;
    setup->recurrent[l] = l < s->n_layers ? s->recurrent[l] : 0;
    setup->neurons[l] = sl_net_neurons((sl_net *)net, l);
    setup->w_unit[l] = w_unit ? w_unit[l] : 1.0;
  }
  setup->dt = s->dt;
  setup->max_steps = max_steps;
  setup->max_batch = max_batch;
  setup->lif = s->lif;
  setup->scale_input = s->lif.scale_input;
  setup->options = options;
  return SL_OK;
}

void sl_loop_free(sl_loop *loop)
{
  if (!loop)
    return;
  free(loop->hw_units);
  sl_obs_free(&loop->obs);
  for (size_t l = 0; l <= SL_MAX_LAYERS; l++) {
    free(loop->v_meas[l]);
    free(loop->s_meas[l]);
  }
  free(loop);
}

sl_net *sl_loop_net(sl_loop *loop) { return loop ? loop->net : NULL; }
sl_hw *sl_loop_hw(sl_loop *loop) { return loop ? loop->hw : NULL; }
const sl_observations *sl_loop_observations(const sl_loop *loop)
{
  return loop ? &loop->obs : NULL;
}

int sl_loop_create(sl_loop **out, sl_net *net, sl_hw *hw)
{
  if (!out || !net || !hw)
    return sl_error(SL_EINVAL, "sl_loop_create: NULL argument");
  *out = NULL;
  const sl_net_spec *s = sl_net_get_spec(net);
  const sl_backend_setup *su = sl_hw_setup(hw);
  if (su->n_in != s->n_in || su->n_layers != s->n_layers)
    return sl_error(SL_ESHAPE, "backend '%s' was opened for another network", sl_hw_name(hw));
  sl_loop *loop = calloc(1, sizeof *loop);
  if (!loop)
    return sl_error(SL_ENOMEM, "sl_loop_create: out of memory");
  loop->net = net;
  loop->hw = hw;
  size_t n = sl_net_num_params(net);
  loop->hw_units = malloc(n * sizeof(float));
  if (!loop->hw_units) {
    sl_loop_free(loop);
    return sl_error(SL_ENOMEM, "sl_loop_create: out of memory");
  }
  memcpy(sl_net_master(net), sl_net_params(net), n * sizeof(float));
  sl_obs_init(&loop->obs);
  for (size_t l = 0; l <= s->n_layers; l++) {
    size_t N = l < s->n_layers ? s->n_hidden[l] : s->n_out;
    if (su->size[l] != N) {
      sl_loop_free(loop);
      return sl_error(SL_ESHAPE, "backend '%s' was opened with %zu neurons in layer %zu, the "
                      "network has %zu", sl_hw_name(hw), su->size[l], l, N);
    }
    loop->offset[l] = loop->n_total;
    loop->n_total += N;
  }
  int rc = sl_loop_sync_weights(loop, NULL);
  if (rc) {
    sl_loop_free(loop);
    return rc;
  }
  *out = loop;
  return SL_OK;
}

int sl_loop_sync_weights(sl_loop *loop, size_t *clipped)
{
  if (!loop)
    return sl_error(SL_EINVAL, "sl_loop_sync_weights: NULL loop");
  const sl_backend_caps *caps = sl_hw_caps(loop->hw);
  const sl_backend_setup *su = sl_hw_setup(loop->hw);
  const float levels = (float)caps->weight_levels;
  size_t n_clipped = 0;
  float *params = sl_net_params(loop->net);
  const float *base = params;
  for (size_t i = 0; i < sl_net_num_tensors(loop->net); i++) {
    sl_tensor t;
    sl_net_tensor(loop->net, i, &t);
    const size_t off = (size_t)(t.data - base), n = t.rows * t.cols;
    const float unit = (float)su->w_unit[t.layer_index];
    float *q = loop->hw_units + off;
    const float *w = sl_net_master(loop->net) + off;
    for (size_t j = 0; j < n; j++) {
      if (!isfinite(w[j]))
        return sl_error(SL_ENUMERIC, "weight %s/%s[%zu] is not finite", t.layer, t.name, j);
      float v = w[j] / unit;
      if (levels > 0) {
        v = rintf(v);
        if (fabsf(v) > levels) {
          v = copysignf(levels, v);
          n_clipped++;
        }
      }
      q[j] = v;
      params[off + j] = v * unit;
    }
    int rc = sl_hw_write_weights(loop->hw, t.layer_index, strcmp(t.name, "w_rec") == 0, q, t.rows,
                                 t.cols);
    if (rc)
      return rc;
  }
  if (clipped)
    *clipped = n_clipped;
  return SL_OK;
}

static int grow(sl_loop *loop, size_t TB)
{
  if (TB <= loop->capacity)
    return SL_OK;
  const sl_net_spec *s = sl_net_get_spec(loop->net);
  for (size_t l = 0; l <= s->n_layers; l++) {
    size_t N = l < s->n_layers ? s->n_hidden[l] : s->n_out;
    free(loop->v_meas[l]);
    free(loop->s_meas[l]);
    loop->v_meas[l] = malloc(TB * N * sizeof(float));
    loop->s_meas[l] = malloc(TB * N * sizeof(float));
    if (!loop->v_meas[l] || !loop->s_meas[l]) {
      loop->capacity = 0;
      return sl_error(SL_ENOMEM, "loop: out of memory for measurements");
    }
  }
  loop->capacity = TB;
  return SL_OK;
}

/* Observations -> model-unit states per layer. */
static int convert(sl_loop *loop, size_t T, size_t B)
{
  const sl_observations *o = &loop->obs;
  const sl_backend_caps *caps = sl_hw_caps(loop->hw);
  const sl_net_spec *s = sl_net_get_spec(loop->net);
  const size_t L = s->n_layers, NT = loop->n_total;
  const double dt_hw = s->dt * caps->time_scale;
  if (o->B != B || o->n_neurons != NT)
    return sl_error(SL_EFORMAT, "backend '%s' returned observations for %zu samples x %zu "
                    "neurons, expected %zu x %zu", sl_hw_name(loop->hw), o->B, o->n_neurons, B,
                    NT);
  if (o->n_samples < 2 || !(o->sample_period > 0))
    return sl_error(SL_EFORMAT, "backend '%s' returned no membrane trace", sl_hw_name(loop->hw));
  for (size_t l = 0; l < L; l++)
    memset(loop->s_meas[l], 0, T * B * s->n_hidden[l] * sizeof(float));
  for (size_t k = 0; k < o->n_spikes; k++) {
    size_t b = o->spike_sample[k], g = o->spike_neuron[k];
    if (b >= B || g >= NT)
      return sl_error(SL_EFORMAT, "spike %zu of the observations is out of range", k);
    size_t l = 0;
    while (l < L && g >= loop->offset[l] + s->n_hidden[l])
      l++;
    if (l == L)
      continue; /* the readout does not spike; ignore a stray event */
    double u = ceil(o->spike_time[k] / dt_hw - 1e-9) - 1.0;
    size_t t = u < 0 ? 0 : (size_t)u;
    if (t >= T)
      continue; /* after the last step: not seen by the model */
    size_t N = s->n_hidden[l];
    loop->s_meas[l][(t * B + b) * N + (g - loop->offset[l])] += 1.0f;
  }
  for (size_t l = 0; l <= L; l++) {
    const size_t N = l < L ? s->n_hidden[l] : s->n_out, off = loop->offset[l];
    double gain = caps->membrane_gain > 0 ? caps->membrane_gain : 1.0;
    if (l == L && caps->membrane_gain_readout > 0)
      gain = caps->membrane_gain_readout;
    const sl_neurons *p = sl_net_neurons(loop->net, l);
    float *v = loop->v_meas[l];
    for (size_t t = 0; t < T; t++) {
      double u = ((t + 1) * dt_hw - o->sample_t0) / o->sample_period;
      if (u < 0)
        u = 0;
      size_t j = (size_t)u;
      double f = u - (double)j;
      if (f > 1.0 - 1e-9) { /* on a sample, up to rounding */
        j++;
        f = 0.0;
      }
      if (j >= o->n_samples - 1) {
        j = o->n_samples - 2;
        f = 1.0;
      }
      for (size_t b = 0; b < B; b++) {
        const float *s0 = o->membrane + b * NT + off;
        const float *sa = o->membrane + (j * B + b) * NT + off;
        const float *sb = o->membrane + ((j + 1) * B + b) * NT + off;
        float *vr = v + (t * B + b) * N;
        for (size_t n = 0; n < N; n++) {
          double m = (1.0 - f) * sa[n] + f * sb[n];
          vr[n] = (float)(p->v_leak[n] + (m - s0[n]) / gain);
        }
        /* A sample taken after a spike shows the reset, not the crossing:
         * at a measured spike the membrane is at least the threshold. */
        if (l < L) {
          const float *sr = loop->s_meas[l] + (t * B + b) * N;
          for (size_t n = 0; n < N; n++)
            if (sr[n] != 0.0f && vr[n] < p->v_th[n])
              vr[n] = p->v_th[n];
        }
      }
    }
  }
  return SL_OK;
}

int sl_loop_forward(sl_loop *loop, const float *x, size_t T, size_t B)
{
  if (!loop || !x)
    return sl_error(SL_EINVAL, "sl_loop_forward: NULL argument");
  int rc = grow(loop, T * B);
  if (!rc)
    rc = sl_hw_run(loop->hw, x, T, B, &loop->obs);
  if (!rc)
    rc = convert(loop, T, B);
  if (!rc)
    rc = sl_net_forward_injected(loop->net, x, T, B, (const float *const *)loop->v_meas,
                                 (const float *const *)loop->s_meas);
  return rc;
}
