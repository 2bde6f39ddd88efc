/* example_plugin.c -- the "example" backend, built as a loadable plugin: how a
 * real chip driver plugs into spikeloop.
 *
 * A driver is a shared object that exports one function,
 *     const sl_backend *sl_backend_plugin(void);
 * returning a static table (spikeloop/backend.h). spikeloop loads every *.so
 * in the directories of SPIKELOOP_BACKEND_PATH and registers the table under
 * its name. The object may call sl_error, sl_obs_reset and sl_obs_add_spike:
 * they resolve, at dlopen time, against the library in the process. Build:
 *     cc -shared -fPIC -I<prefix>/include example_plugin.c -o example.so
 *
 * The chip here is an "echo" chip: hidden neuron j of layer 0 spikes at step
 * t iff input (j mod n_in) spiked at step t and w_in[j mod n_in][j] > 0;
 * layer l > 0 likewise from layer l-1. The readout (an LI neuron, threshold
 * disabled) emits no spikes; its sample counts the echoes it would have made.
 * Membrane samples, one per step at t_hw = t * dt: a hidden neuron's value is
 * the number of spikes it has emitted so far (units "count", gain 1, time
 * scale 1). Recurrent layers are not supported (SL_EUNSUPPORTED).
 *
 * Unlike the library's sources it does not include config.h: a driver is
 * built outside the tree, against the installed headers only.
 */
#include <stdlib.h>
#include <string.h>

#include "spikeloop/backend.h"
#include "spikeloop/error.h"

typedef struct {
  size_t n_in, n_layers, size[SL_MAX_LAYERS + 1], n_neurons;
  double dt;
  unsigned char *gate[SL_MAX_LAYERS + 1]; /* gate[l][j]: w_in[j mod rows][j] > 0 */
} echo_state;

static void echo_close(void *state)
{
  echo_state *s = state;
  for (size_t l = 0; l <= SL_MAX_LAYERS; l++) {
    free(s->gate[l]);
    s->gate[l] = NULL;
  }
}

static int echo_open(void *state, const sl_backend_setup *setup)
{
  echo_state *s = state;
  if (setup->n_layers > SL_MAX_LAYERS || setup->n_in == 0)
    return sl_error(SL_EINVAL, "example: bad setup (n_in %zu, n_layers %zu)", setup->n_in,
                    setup->n_layers);
  s->n_in = setup->n_in;
  s->n_layers = setup->n_layers;
  s->dt = setup->dt;
  s->n_neurons = 0;
  for (size_t l = 0; l <= s->n_layers; l++) {
    if (setup->recurrent[l])
      return sl_error(SL_EUNSUPPORTED, "example: layer %zu: no recurrent layers on this chip", l);
    s->size[l] = setup->size[l];
    s->n_neurons += s->size[l];
    s->gate[l] = calloc(s->size[l] ? s->size[l] : 1, 1); /* all gates closed until written */
    if (!s->gate[l]) {
      echo_close(s);
      return sl_error(SL_ENOMEM, "example: out of memory");
    }
  }
  return SL_OK;
}

static int echo_capabilities(void *state, sl_backend_caps *caps)
{
  const echo_state *s = state;
  *caps = (sl_backend_caps){.max_neurons = (size_t)1 << 20, .max_fan_in = (size_t)1 << 20,
                            .weight_levels = 0, .sample_period = s->dt, .time_scale = 1.0,
                            .membrane_gain = 1.0, .membrane_units = "count",
                            .observables = SL_OBS_SPIKES | SL_OBS_MEMBRANE};
  return SL_OK;
}

static int echo_write_weights(void *state, size_t layer, int which, const float *w, size_t rows,
                              size_t cols)
{
  echo_state *s = state;
  if (which != 0 || layer > s->n_layers)
    return sl_error(SL_EINVAL, "example: no layer %zu %s", layer, which ? "w_rec" : "w_in");
  size_t want_rows = layer ? s->size[layer - 1] : s->n_in;
  if (rows != want_rows || cols != s->size[layer] || !w)
    return sl_error(SL_ESHAPE, "example: layer %zu w_in is %zu x %zu, expected %zu x %zu", layer,
                    rows, cols, want_rows, s->size[layer]);
  for (size_t j = 0; j < cols; j++)
    s->gate[layer][j] = w[(j % rows) * cols + j] > 0.0f;
  return SL_OK;
}

/* x: (T, B, n_in). Layer by layer, step by step: echo the gated source. */
static int echo_run(void *state, const float *x, size_t T, size_t B, sl_observations *obs)
{
  const echo_state *s = state;
  int rc = sl_obs_reset(obs, B, s->n_neurons, T);
  if (rc != SL_OK)
    return rc;
  obs->sample_t0 = 0.0;
  obs->sample_period = s->dt;
  unsigned *count = calloc(B * s->n_neurons, sizeof *count);
  unsigned char *prev = calloc(B * s->n_neurons, 1); /* spiked at this step */
  if (!count || !prev) {
    free(count);
    free(prev);
    return sl_error(SL_ENOMEM, "example: out of memory");
  }
  for (size_t t = 0; t < T && rc == SL_OK; t++)
    for (size_t b = 0; b < B && rc == SL_OK; b++) {
      size_t first = 0; /* global index of layer l's neuron 0 */
      for (size_t l = 0; l <= s->n_layers && rc == SL_OK; l++) {
        size_t rows = l ? s->size[l - 1] : s->n_in;
        for (size_t j = 0; j < s->size[l]; j++) {
          size_t src = j % rows;
          int in = l ? prev[b * s->n_neurons + first - rows + src]
                     : x[(t * B + b) * s->n_in + src] != 0.0f;
          int echo = in && s->gate[l][j];
          size_t g = first + j;
          prev[b * s->n_neurons + g] = (unsigned char)echo;
          count[b * s->n_neurons + g] += (unsigned)echo;
          if (echo && l < s->n_layers &&
              (rc = sl_obs_add_spike(obs, b, g, (double)t * s->dt)) != SL_OK)
            break;
        }
        first += s->size[l];
      }
      for (size_t g = 0; g < s->n_neurons; g++)
        obs->membrane[(t * B + b) * s->n_neurons + g] = (float)count[b * s->n_neurons + g];
    }
  free(count);
  free(prev);
  return rc;
}

static int echo_read_config(void *state, const char *key, char *buf, size_t len)
{
  (void)state, (void)buf, (void)len;
  return sl_error(SL_ENOTFOUND, "example: no configuration key '%s'", key ? key : "(null)");
}

static const sl_backend echo_backend = {
    .version = 1, /* a version-1 table: no stimulate slot (kept so, to test old tables) */
    .name = "example",
    .description = "echo chip: a hidden neuron repeats its gated input (plugin example)",
    .state_size = sizeof(echo_state),
    .open = echo_open,
    .close = echo_close,
    .capabilities = echo_capabilities,
    .write_weights = echo_write_weights,
    .run = echo_run,
    .read_config = echo_read_config,
};

const sl_backend *sl_backend_plugin(void) { return &echo_backend; }
