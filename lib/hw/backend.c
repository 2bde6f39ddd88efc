/* backend.c -- what every backend uses from the library: the observation
 * buffers a run fills (sl_obs_*) and the "key=value,..." option helpers
 * (sl_backend_option, sl_backend_check_options).
 *
 * This file knows no backend: the backends in hw/ call it, the registry
 * (registry.c, the built-ins of builtin.c) finds them by name and the
 * instances (instance.c) drive them, so nothing here depends on hw/.
 */
#include "config.h"
#include "spikeloop/backend.h"
#include "spikeloop/error.h"

#include <stdio.h>
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
