/* backend.c -- the backend registry, backend instances (sl_hw), the
 * observation buffers, option strings and plugin loading.
 *
 * Built-in backends are registered on first use; plugins are loaded with
 * dlopen from SPIKELOOP_BACKEND_PATH. The registry is process-wide and not
 * thread-safe for registration (register at start-up); lookups after that
 * are read-only.
 */
#include "config.h"
#include "spikeloop/backend.h"
#include "spikeloop/bss2.h"
#include "spikeloop/error.h"
#include "spikeloop/recording.h"
#include "spikeloop/replay.h"
#include "ideal/ideal.h"
#include "memristor/memristor.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ observations */

void sl_obs_init(sl_observations *o)
{
  if (o)
    memset(o, 0, sizeof *o);
}

void sl_obs_free(sl_observations *o)
{
  if (!o)
    return;
  free(o->spike_sample);
  free(o->spike_neuron);
  free(o->spike_time);
  free(o->membrane);
  memset(o, 0, sizeof *o);
}

int sl_obs_reset(sl_observations *o, size_t B, size_t n_neurons, size_t n_samples)
{
  if (!o)
    return sl_error(SL_EINVAL, "sl_obs_reset: NULL observations");
  size_t need = n_samples * B * n_neurons;
  if (need > o->membrane_cap) {
    float *m = realloc(o->membrane, need * sizeof *m);
    if (!m)
      return sl_error(SL_ENOMEM, "observations: out of memory for %zu membrane samples", need);
    o->membrane = m;
    o->membrane_cap = need;
  }
  o->B = B;
  o->n_neurons = n_neurons;
  o->n_samples = n_samples;
  o->n_spikes = 0;
  return SL_OK;
}

int sl_obs_add_spike(sl_observations *o, size_t sample, size_t neuron, double t_hw)
{
  if (o->n_spikes == o->spike_cap) {
    size_t cap = o->spike_cap ? 2 * o->spike_cap : 4096;
    uint32_t *s = realloc(o->spike_sample, cap * sizeof *s);
    if (s)
      o->spike_sample = s;
    uint32_t *n = s ? realloc(o->spike_neuron, cap * sizeof *n) : NULL;
    if (n)
      o->spike_neuron = n;
    double *t = n ? realloc(o->spike_time, cap * sizeof *t) : NULL;
    if (!t)
      return sl_error(SL_ENOMEM, "observations: out of memory for %zu spikes", cap);
    o->spike_time = t;
    o->spike_cap = cap;
  }
  o->spike_sample[o->n_spikes] = (uint32_t)sample;
  o->spike_neuron[o->n_spikes] = (uint32_t)neuron;
  o->spike_time[o->n_spikes] = t_hw;
  o->n_spikes++;
  return SL_OK;
}

/* ------------------------------------------------------------ options */

int sl_backend_option(const char *options, const char *key, char *value, size_t len)
{
  if (!options || !key)
    return 0;
  size_t klen = strlen(key);
  const char *p = options;
  while (*p) {
    while (*p == ',' || *p == ' ')
      p++;
    const char *end = strchr(p, ',');
    if (!end)
      end = p + strlen(p);
    if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
      size_t n = (size_t)(end - p) - klen - 1;
      if (value && len) {
        if (n >= len)
          n = len - 1;
        memcpy(value, p + klen + 1, n);
        value[n] = '\0';
      }
      return 1;
    }
    p = end;
  }
  return 0;
}

int sl_backend_check_options(const char *options, const char *const *known, const char *who)
{
  const char *p = options;
  while (p && *p) {
    while (*p == ',' || *p == ' ')
      p++;
    if (!*p)
      break;
    const char *end = strchr(p, ',');
    if (!end)
      end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq)
      return sl_error(SL_EINVAL, "%s: option '%.*s' has no '=value'", who, (int)(end - p), p);
    size_t kl = (size_t)(eq - p);
    int ok = 0;
    for (const char *const *k = known; *k && !ok; k++)
      ok = strlen(*k) == kl && strncmp(*k, p, kl) == 0;
    if (!ok) {
      char list[512];
      size_t used = 0;
      list[0] = '\0';
      for (const char *const *k = known; *k && used < sizeof list; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k == known ? "" : ", ",
                                 *k);
      return sl_error(SL_EINVAL, "%s: unknown option '%.*s' (known: %s)", who, (int)kl, p, list);
    }
    p = end;
  }
  return SL_OK;
}

/* ------------------------------------------------------------ registry */

#define MAX_BACKENDS 32

static const sl_backend *registry[MAX_BACKENDS];
static size_t n_registered;
static int builtins_done, plugins_done;
/* why the last plugin of SPIKELOOP_BACKEND_PATH failed to load, for the
 * "unknown backend" message */
static char plugin_trouble[512];

static void register_builtins(void)
{
  if (builtins_done)
    return;
  builtins_done = 1;
  sl_backend_register(slb_ideal_backend());
  sl_backend_register(sl_bss2_backend());
  sl_backend_register(sl_replay_backend());
  sl_backend_register(slb_memristor_backend());
}

int sl_backend_register(const sl_backend *b)
{
  register_builtins();
  if (!b || !b->name || !*b->name)
    return sl_error(SL_EINVAL, "backend table without a name");
  if (b->version < 1 || b->version > SL_BACKEND_VERSION)
    return sl_error(SL_EINVAL, "backend '%s' has table version %d; this library knows 1..%d",
                    b->name, b->version, SL_BACKEND_VERSION);
  if (!b->open || !b->close || !b->capabilities || !b->write_weights || !b->run)
    return sl_error(SL_EINVAL, "backend '%s' lacks a required slot", b->name);
  for (size_t i = 0; i < n_registered; i++)
    if (strcmp(registry[i]->name, b->name) == 0) {
      registry[i] = b;
      return SL_OK;
    }
  if (n_registered == MAX_BACKENDS)
    return sl_error(SL_ERANGE, "backend registry full (%d)", MAX_BACKENDS);
  registry[n_registered++] = b;
  return SL_OK;
}

int sl_backend_load_plugin(const char *path)
{
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return sl_error(SL_EIO, "cannot load backend plugin '%s': %s", path, dlerror());
  const sl_backend *(*entry)(void);
  *(void **)&entry = dlsym(h, "sl_backend_plugin");
  if (!entry) {
    dlclose(h);
    return sl_error(SL_EIO, "'%s' is not a spikeloop backend plugin (no sl_backend_plugin)",
                    path);
  }
  int rc = sl_backend_register(entry());
  if (rc) {
    dlclose(h);
    return rc;
  }
  return SL_OK; /* the handle stays open for the life of the process */
}

int sl_backend_load_plugins(void)
{
  register_builtins();
  if (plugins_done)
    return SL_OK;
  plugins_done = 1;
  const char *env = getenv("SPIKELOOP_BACKEND_PATH");
  if (!env || !*env)
    return SL_OK;
  char *dirs = strdup(env);
  if (!dirs)
    return sl_error(SL_ENOMEM, "out of memory");
  for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
       d = strtok_r(NULL, ":", &save)) {
    DIR *dir = opendir(d);
    if (!dir)
      continue; /* a missing directory in a search path is not an error */
    struct dirent *e;
    while ((e = readdir(dir))) {
      size_t n = strlen(e->d_name);
      if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0)
        continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", d, e->d_name);
      /* a library that is not a plugin may share the directory: note why
       * it was skipped and go on */
      if (sl_backend_load_plugin(path))
        snprintf(plugin_trouble, sizeof plugin_trouble, "%s", sl_last_error());
    }
    closedir(dir);
  }
  free(dirs);
  return SL_OK;
}

const sl_backend *sl_backend_find(const char *name)
{
  sl_backend_load_plugins();
  for (size_t i = 0; name && i < n_registered; i++)
    if (strcmp(registry[i]->name, name) == 0)
      return registry[i];
  return NULL;
}

void sl_backend_names(char *buf, size_t len)
{
  sl_backend_load_plugins();
  if (!buf || !len)
    return;
  buf[0] = '\0';
  for (size_t i = 0; i < n_registered; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", i ? ", " : "", registry[i]->name);
  }
}

const char *sl_backend_default_name(void)
{
  const char *e = getenv("SPIKELOOP_BACKEND");
  return e && *e ? e : "ideal";
}

/* ------------------------------------------------------------ instances */

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
  const sl_backend *b = sl_backend_find(name);
  if (!b) {
    char names[512];
    sl_backend_names(names, sizeof names);
    return sl_error(SL_ENOTFOUND, "unknown backend '%s' (available: %s)%s%s",
                    name ? name : "(null)", names, plugin_trouble[0] ? "; last plugin problem: " : "",
                    plugin_trouble);
  }
  int rc = check_setup(setup);
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
  if (stim->protocol < SL_STIM_DECAY || stim->protocol > SL_STIM_CURRENT)
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
