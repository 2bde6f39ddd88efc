/* instance.c -- backend instances (sl_hw): a backend found by name in the
 * registry, opened for one network, with its own copy of the setup and its
 * neurons; writes and runs checked against the setup before the backend
 * sees them; an optional recorder (sl_hw_record) that sees every write and
 * run.
 */
#include "config.h"
#include "spikeloop/backend.h"
#include "spikeloop/error.h"
#include "spikeloop/recording.h"
#include "spikeloop/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_hw {
  const sl_backend *b;
  void *state;
  sl_backend_setup setup;
  sl_backend_caps caps;
  char options[512];
  sl_recorder *rec;
  /* the weights last written per (layer, which), so that a recording
   * started later still knows what the backend holds */
  float *last_w[SL_MAX_LAYERS + 1][2];
  /* the setup's neuron parameters, owned: callers may free theirs after
   * opening (a session that uses a digital twin passes nominal targets) */
  sl_neurons neurons[SL_MAX_LAYERS + 1];
  size_t last_rows[SL_MAX_LAYERS + 1][2], last_cols[SL_MAX_LAYERS + 1][2];
};

static int check_setup(const sl_backend_setup *s)
{
  if (!s)
    return sl_error(SL_EINVAL, "backend setup is NULL");
  if (s->n_in == 0 || s->n_layers == 0 || s->n_layers > SL_MAX_LAYERS)
    return sl_error(SL_EINVAL, "backend setup: need n_in > 0 and 1..%d hidden layers",
                    SL_MAX_LAYERS);
  for (size_t l = 0; l <= s->n_layers; l++) {
    if (s->size[l] == 0)
      return sl_error(SL_EINVAL, "backend setup: layer %zu has no neurons", l);
    if (!s->neurons[l] || s->neurons[l]->n != s->size[l])
      return sl_error(SL_EINVAL, "backend setup: neuron parameters of layer %zu missing or of "
                      "the wrong size", l);
    if (!(s->w_unit[l] > 0))
      return sl_error(SL_EINVAL, "backend setup: w_unit of layer %zu must be positive", l);
  }
  if (!(s->dt > 0) || s->max_steps == 0 || s->max_batch == 0)
    return sl_error(SL_EINVAL, "backend setup: need dt > 0, max_steps > 0, max_batch > 0");
  return SL_OK;
}

int sl_hw_open(sl_hw **out, const char *name, const sl_backend_setup *setup)
{
  if (!out)
    return sl_error(SL_EINVAL, "sl_hw_open: NULL output");
  *out = NULL;
  const sl_backend *b = NULL;
  int rc = sl_backend_lookup(name, &b);
  if (!rc)
    rc = check_setup(setup);
  if (rc)
    return rc;
  sl_hw *hw = calloc(1, sizeof *hw);
  if (!hw)
    return sl_error(SL_ENOMEM, "sl_hw_open: out of memory");
  hw->b = b;
  hw->setup = *setup;
  if (setup->options) {
    snprintf(hw->options, sizeof hw->options, "%s", setup->options);
    hw->setup.options = hw->options;
  }
  for (size_t l = 0; l <= setup->n_layers; l++) {
    if ((rc = sl_neurons_copy(&hw->neurons[l], setup->neurons[l]))) {
      for (size_t k = 0; k < l; k++)
        sl_neurons_free(&hw->neurons[k]);
      free(hw);
      return rc;
    }
    hw->setup.neurons[l] = &hw->neurons[l];
  }
  hw->state = calloc(1, b->state_size ? b->state_size : 1);
  if (!hw->state) {
    for (size_t l = 0; l <= setup->n_layers; l++)
      sl_neurons_free(&hw->neurons[l]);
    free(hw);
    return sl_error(SL_ENOMEM, "sl_hw_open: out of memory for backend state");
  }
  rc = b->open(hw->state, &hw->setup);
  if (!rc)
    rc = b->capabilities(hw->state, &hw->caps);
  if (rc) {
    if (rc != SL_OK && sl_last_error_code() == SL_OK)
      sl_error(rc, "backend '%s' failed to open", b->name);
    for (size_t l = 0; l <= setup->n_layers; l++)
      sl_neurons_free(&hw->neurons[l]);
    free(hw->state);
    free(hw);
    return rc;
  }
  *out = hw;
  return SL_OK;
}

void sl_hw_close(sl_hw *hw)
{
  if (!hw)
    return;
  sl_recorder_close(hw->rec);
  hw->b->close(hw->state);
  for (size_t l = 0; l <= SL_MAX_LAYERS; l++)
    free(hw->last_w[l][0]), free(hw->last_w[l][1]), sl_neurons_free(&hw->neurons[l]);
  free(hw->state);
  free(hw);
}

const char *sl_hw_name(const sl_hw *hw) { return hw ? hw->b->name : NULL; }
const sl_backend_caps *sl_hw_caps(const sl_hw *hw) { return hw ? &hw->caps : NULL; }
const sl_backend_setup *sl_hw_setup(const sl_hw *hw) { return hw ? &hw->setup : NULL; }

int sl_hw_write_weights(sl_hw *hw, size_t layer, int which, const float *w, size_t rows,
                        size_t cols)
{
  if (!hw || !w)
    return sl_error(SL_EINVAL, "sl_hw_write_weights: NULL argument");
  if (layer > hw->setup.n_layers || (which != 0 && which != 1))
    return sl_error(SL_EINVAL, "sl_hw_write_weights: no weights %zu/%d", layer, which);
  int rc = hw->b->write_weights(hw->state, layer, which, w, rows, cols);
  if (rc)
    return rc;
  float **keep = &hw->last_w[layer][which];
  if (hw->last_rows[layer][which] * hw->last_cols[layer][which] != rows * cols) {
    free(*keep);
    *keep = malloc(rows * cols * sizeof(float));
    if (!*keep) {
      hw->last_rows[layer][which] = 0;
      return sl_error(SL_ENOMEM, "sl_hw_write_weights: out of memory");
    }
  }
  memcpy(*keep, w, rows * cols * sizeof(float));
  hw->last_rows[layer][which] = rows;
  hw->last_cols[layer][which] = cols;
  if (hw->rec)
    rc = sl_recorder_weights(hw->rec, layer, which, w, rows, cols);
  return rc;
}

int sl_hw_run(sl_hw *hw, const float *x, size_t T, size_t B, sl_observations *obs)
{
  if (!hw || !x || !obs)
    return sl_error(SL_EINVAL, "sl_hw_run: NULL argument");
  if (T == 0 || B == 0 || T > hw->setup.max_steps || B > hw->setup.max_batch)
    return sl_error(SL_ERANGE, "sl_hw_run: T = %zu, B = %zu outside 1..%zu, 1..%zu", T, B,
                    hw->setup.max_steps, hw->setup.max_batch);
  int rc = hw->b->run(hw->state, x, T, B, obs);
  if (!rc && hw->rec)
    rc = sl_recorder_run(hw->rec, x, T, B, obs);
  return rc;
}

int sl_hw_read_config(sl_hw *hw, const char *key, char *buf, size_t len)
{
  if (!hw || !key || !buf)
    return sl_error(SL_EINVAL, "sl_hw_read_config: NULL argument");
  if (!hw->b->read_config)
    return sl_error(SL_EUNSUPPORTED, "backend '%s' has no readable configuration", hw->b->name);
  return hw->b->read_config(hw->state, key, buf, len);
}

int sl_hw_stimulate(sl_hw *hw, const sl_stimulus *stim, sl_observations *obs)
{
  if (!hw || !stim || !obs)
    return sl_error(SL_EINVAL, "sl_hw_stimulate: NULL argument");
  /* version first: a version-1 table ends before the stimulate slot */
  if (hw->b->version < 2 || !hw->b->stimulate)
    return sl_error(SL_EUNSUPPORTED, "backend '%s' does not run characterisation protocols "
                    "(table version %d; stimulate needs version 2)", hw->b->name, hw->b->version);
  size_t n_total = 0;
  for (size_t l = 0; l <= hw->setup.n_layers; l++)
    n_total += hw->setup.size[l];
  if (stim->protocol < SL_STIM_DECAY || stim->protocol > SL_STIM_DEVICE)
    return sl_error(SL_EINVAL, "sl_hw_stimulate: unknown protocol %d", stim->protocol);
  if (!stim->neurons || stim->n_neurons == 0 || stim->repeats == 0)
    return sl_error(SL_EINVAL, "sl_hw_stimulate: no neurons or no repeats");
  if (!(stim->duration > 0) || !(stim->pre >= 0) || !isfinite(stim->duration) ||
      !isfinite(stim->pre) || !isfinite(stim->level) || !isfinite(stim->weight) ||
      !isfinite(stim->current))
    return sl_error(SL_EINVAL, "sl_hw_stimulate: need duration > 0, pre >= 0 and finite "
                    "amplitudes");
  for (size_t k = 0; k < stim->n_neurons; k++)
    if (stim->neurons[k] >= n_total)
      return sl_error(SL_EINVAL, "sl_hw_stimulate: neuron %u (entry %zu) outside 0..%zu",
                      (unsigned)stim->neurons[k], k, n_total - 1);
  return hw->b->stimulate(hw->state, stim, obs);
}

int sl_hw_record(sl_hw *hw, const char *path)
{
  if (!hw || !path)
    return sl_error(SL_EINVAL, "sl_hw_record: NULL argument");
  sl_recorder *r = NULL;
  int rc = sl_recorder_create(&r, path, hw->b->name, &hw->setup, &hw->caps);
  for (size_t l = 0; !rc && l <= hw->setup.n_layers; l++)
    for (int which = 0; which < 2 && !rc; which++)
      if (hw->last_w[l][which])
        rc = sl_recorder_weights(r, l, which, hw->last_w[l][which], hw->last_rows[l][which],
                                 hw->last_cols[l][which]);
  if (rc) {
    sl_recorder_close(r);
    return rc;
  }
  sl_recorder_close(hw->rec);
  hw->rec = r;
  return SL_OK;
}

int sl_hw_save_state(sl_hw *hw, uint8_t **buf, size_t *len)
{
  if (!hw || !buf || !len)
    return sl_error(SL_EINVAL, "sl_hw_save_state: NULL argument");
  *buf = NULL;
  *len = 0;
  if (hw->b->version < 3 || !hw->b->save_state || !hw->b->load_state)
    return sl_error(SL_EUNSUPPORTED, "backend '%s' cannot save its state (table version %d; "
                    "checkpoints need version 3 with save_state and load_state)", hw->b->name,
                    hw->b->version);
  size_t n = 0;
  int rc = hw->b->save_state(hw->state, NULL, &n);
  if (rc || n == 0)
    return rc;
  uint8_t *b = malloc(n);
  if (!b)
    return sl_error(SL_ENOMEM, "sl_hw_save_state: out of memory for %zu bytes", n);
  size_t got = n;
  rc = hw->b->save_state(hw->state, b, &got);
  if (!rc && got != n)
    rc = sl_error(SL_EFORMAT, "backend '%s' saved %zu bytes of state, announced %zu",
                  hw->b->name, got, n);
  if (rc) {
    free(b);
    return rc;
  }
  *buf = b;
  *len = n;
  return SL_OK;
}

int sl_hw_load_state(sl_hw *hw, const uint8_t *buf, size_t len)
{
  if (!hw || (!buf && len))
    return sl_error(SL_EINVAL, "sl_hw_load_state: NULL argument");
  if (hw->b->version < 3 || !hw->b->save_state || !hw->b->load_state)
    return sl_error(SL_EUNSUPPORTED, "backend '%s' cannot load a saved state (table version %d)",
                    hw->b->name, hw->b->version);
  return hw->b->load_state(hw->state, buf, len);
}
