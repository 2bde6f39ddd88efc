/* charac.c -- characterisation recordings: running the protocols of
 * backend.h on a set of neurons, and the HDF5 file (layout in
 * include/spikeloop/charac.h). Observations come as (n_samples, B, n) and
 * are stored per neuron, (n, B, n_samples), which is how the fitter reads
 * them. Reading checks every dataset's type and shape against /neurons and
 * the protocol's time base and names the first one that is wrong.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "spikeloop/charac.h"
#include "spikeloop/error.h"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const dac_names[SL_CHARAC_NDAC] = {"leak",    "reset", "threshold", "tau_mem",
                                                      "tau_syn", "gain",  "refrac"};
static const char *const proto_names[] = {"", "decay", "psp", "current"};

sl_charac_protocols sl_charac_protocols_default(void)
{
  sl_charac_protocols p = {{0.5, -1.0}, -5.0, 4.0 / 6e-3, 0.01, 0.04, 0.06, 32};
  return p;
}

void sl_charac_free(sl_charac *c)
{
  if (!c)
    return;
  free(c->neurons);
  free(c->gain_nominal);
  for (int d = 0; d < SL_CHARAC_NDAC; d++)
    free(c->dac[d]);
  for (size_t k = 0; k < c->n_protocols; k++) {
    sl_charac_protocol *p = &c->proto[k];
    free(p->time);
    free(p->membrane);
    free(p->spike_neuron);
    free(p->spike_trial);
    free(p->spike_time);
  }
  memset(c, 0, sizeof *c);
}

static double read_double_key(sl_hw *hw, const char *key, double def)
{
  char buf[64];
  if (sl_hw_read_config(hw, key, buf, sizeof buf) != SL_OK)
    return def;
  char *e;
  double v = strtod(buf, &e);
  return e == buf ? def : v;
}

/* Keep the observations of one protocol run as protocol k of c. */
static int keep_protocol(sl_charac *c, const char *name, const sl_stimulus *s,
                         const sl_observations *o)
{
  sl_charac_protocol *p = &c->proto[c->n_protocols];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->protocol = s->protocol;
  p->level = s->level;
  p->weight = s->weight;
  p->current = s->current;
  p->pre = s->pre;
  p->duration = s->duration;
  p->repeats = s->repeats;
  p->n_samples = o->n_samples;
  const size_t n = c->n, B = s->repeats, ns = o->n_samples;
  p->time = malloc(ns * sizeof *p->time);
  p->membrane = malloc(n * B * ns * sizeof *p->membrane);
  p->n_spikes = o->n_spikes;
  size_t m = o->n_spikes ? o->n_spikes : 1;
  p->spike_neuron = malloc(m * sizeof(uint32_t));
  p->spike_trial = malloc(m * sizeof(uint32_t));
  p->spike_time = malloc(m * sizeof(double));
  c->n_protocols++; /* counted now so that sl_charac_free frees a partial one */
  if (!p->time || !p->membrane || !p->spike_neuron || !p->spike_trial || !p->spike_time)
    return sl_error(SL_ENOMEM, "characterisation: out of memory");
  for (size_t j = 0; j < ns; j++)
    p->time[j] = o->sample_t0 + (double)j * o->sample_period;
  for (size_t j = 0; j < ns; j++)
    for (size_t b = 0; b < B; b++)
      for (size_t k = 0; k < n; k++)
        p->membrane[(k * B + b) * ns + j] = o->membrane[(j * B + b) * n + k];
  for (size_t i = 0; i < o->n_spikes; i++) {
    p->spike_neuron[i] = o->spike_neuron[i];
    p->spike_trial[i] = o->spike_sample[i];
    p->spike_time[i] = o->spike_time[i];
  }
  return SL_OK;
}

int sl_charac_run(sl_hw *hw, const uint32_t *neurons, size_t n, const sl_charac_protocols *pp,
                  sl_charac *c)
{
  if (!hw || !neurons || !n || !c)
    return sl_error(SL_EINVAL, "sl_charac_run: NULL argument or no neurons");
  sl_charac_free(c);
  sl_charac_protocols p = pp ? *pp : sl_charac_protocols_default();
  const sl_backend_caps *caps = sl_hw_caps(hw);
  const sl_backend_setup *su = sl_hw_setup(hw);
  snprintf(c->backend, sizeof c->backend, "%s", sl_hw_name(hw));
  snprintf(c->options, sizeof c->options, "%s", su->options ? su->options : "");
  snprintf(c->membrane_units, sizeof c->membrane_units, "%s",
           caps->membrane_units ? caps->membrane_units : "model");
  c->time_scale = caps->time_scale > 0 ? caps->time_scale : 1.0;
  c->volt_at_zero = read_double_key(hw, "volt_at_zero", 0.0);
  c->volt_per_unit = read_double_key(hw, "volt_per_unit", 1.0);
  c->spike_delay = read_double_key(hw, "spike_delay", 0.0);
  c->dt = su->dt;
  c->adc_bits = caps->adc_bits;
  c->n = n;
  c->neurons = malloc(n * sizeof *c->neurons);
  c->gain_nominal = malloc(n * sizeof *c->gain_nominal);
  if (!c->neurons || !c->gain_nominal) {
    sl_charac_free(c);
    return sl_error(SL_ENOMEM, "sl_charac_run: out of memory");
  }
  memcpy(c->neurons, neurons, n * sizeof *neurons);
  for (size_t i = 0; i < n; i++) {
    char key[64];
    size_t g = neurons[i], l = 0;
    while (l < su->n_layers && g >= su->size[l])
      g -= su->size[l++];
    snprintf(key, sizeof key, "gain_nominal.%u", (unsigned)neurons[i]);
    c->gain_nominal[i] = read_double_key(hw, key, su->w_unit[l] / su->dt);
  }
  for (int d = 0; d < SL_CHARAC_NDAC; d++) {
    char key[64], buf[32];
    snprintf(key, sizeof key, "dac.%s.%u", dac_names[d], (unsigned)neurons[0]);
    if (sl_hw_read_config(hw, key, buf, sizeof buf) != SL_OK)
      continue;
    if (!(c->dac[d] = malloc(n * sizeof(int32_t)))) {
      sl_charac_free(c);
      return sl_error(SL_ENOMEM, "sl_charac_run: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
      snprintf(key, sizeof key, "dac.%s.%u", dac_names[d], (unsigned)neurons[i]);
      c->dac[d][i] = sl_hw_read_config(hw, key, buf, sizeof buf) == SL_OK ? atoi(buf) : -1;
    }
  }
  sl_clear_error();
  const double ts = c->time_scale;
  struct {
    const char *name;
    sl_stimulus s;
  } runs[4] = {
    {"decay_hi", {SL_STIM_DECAY, neurons, n, p.repeats, p.pre * ts, p.duration * ts,
                  p.decay_levels[0], 0, 0}},
    {"decay_lo", {SL_STIM_DECAY, neurons, n, p.repeats, p.pre * ts, p.duration * ts,
                  p.decay_levels[1], 0, 0}},
    {"psp", {SL_STIM_PSP, neurons, n, p.repeats, p.pre * ts, p.duration * ts, 0, p.psp_weight,
             0}},
    {"current", {SL_STIM_CURRENT, neurons, n, p.repeats, p.pre * ts, p.current_duration * ts, 0,
                 0, p.current}},
  };
  sl_observations o;
  sl_obs_init(&o);
  int rc = SL_OK;
  for (size_t r = 0; r < 4 && !rc; r++) {
    rc = sl_hw_stimulate(hw, &runs[r].s, &o);
    if (!rc)
      rc = keep_protocol(c, runs[r].name, &runs[r].s, &o);
  }
  sl_obs_free(&o);
  if (rc)
    sl_charac_free(c);
  return rc;
}

/* ------------------------------------------------------------ HDF5 */

static int put_attr_d(hid_t loc, const char *obj, const char *name, double v)
{
  return H5LTset_attribute_double(loc, obj, name, &v, 1) < 0 ? -1 : 0;
}

int sl_charac_write(const sl_charac *c, const char *path)
{
  if (!c || !path || !*path)
    return sl_error(SL_EINVAL, "sl_charac_write: NULL argument");
  size_t len = strlen(path) + 32;
  char *tmp = malloc(len);
  if (!tmp)
    return sl_error(SL_ENOMEM, "sl_charac_write: out of memory");
  snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
  hid_t f = -1, g = -1;
  int ok = 0;
  const char *what = "create";
  H5E_BEGIN_TRY
  {
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
      goto out;
    what = "root attributes";
    char created[32];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    int one = 1;
    if (H5LTset_attribute_string(f, "/", "format", "spikeloop-characterisation") < 0 ||
        H5LTset_attribute_int(f, "/", "format_version", &one, 1) < 0 ||
        H5LTset_attribute_string(f, "/", "backend", c->backend) < 0 ||
        H5LTset_attribute_string(f, "/", "options", c->options) < 0 ||
        H5LTset_attribute_string(f, "/", "created", created) < 0 ||
        H5LTset_attribute_string(f, "/", "membrane_units", c->membrane_units) < 0 ||
        H5LTset_attribute_int(f, "/", "adc_bits", &c->adc_bits, 1) < 0 ||
        put_attr_d(f, "/", "time_scale", c->time_scale) || put_attr_d(f, "/", "dt", c->dt) ||
        put_attr_d(f, "/", "volt_at_zero", c->volt_at_zero) ||
        put_attr_d(f, "/", "volt_per_unit", c->volt_per_unit) ||
        put_attr_d(f, "/", "spike_delay", c->spike_delay))
      goto out;
    what = "/neurons";
    hsize_t n = c->n;
    if (H5LTmake_dataset(f, "/neurons", 1, &n, H5T_STD_U32LE, c->neurons) < 0)
      goto out;
    what = "/config";
    const char *groups[] = {"/config", "/config/dac", "/protocols"};
    for (int i = 0; i < 3; i++) {
      if ((g = H5Gcreate2(f, groups[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto out;
      H5Gclose(g);
      g = -1;
    }
    if (H5LTmake_dataset_double(f, "/config/gain_nominal", 1, &n, c->gain_nominal) < 0 ||
        H5LTset_attribute_string(f, "/config/gain_nominal", "units",
                                 "model units per model s per weight unit") < 0)
      goto out;
    char name[128];
    for (int d = 0; d < SL_CHARAC_NDAC; d++) {
      if (!c->dac[d])
        continue;
      snprintf(name, sizeof name, "/config/dac/%s", dac_names[d]);
      if (H5LTmake_dataset(f, name, 1, &n, H5T_STD_I32LE, c->dac[d]) < 0)
        goto out;
    }
    for (size_t k = 0; k < c->n_protocols; k++) {
      const sl_charac_protocol *p = &c->proto[k];
      what = p->name;
      snprintf(name, sizeof name, "/protocols/%s", p->name);
      if ((g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto out;
      int reps = (int)p->repeats;
      if (H5LTset_attribute_string(g, ".", "protocol", proto_names[p->protocol]) < 0 ||
          put_attr_d(g, ".", "level", p->level) || put_attr_d(g, ".", "weight", p->weight) ||
          put_attr_d(g, ".", "current", p->current) || put_attr_d(g, ".", "pre", p->pre) ||
          put_attr_d(g, ".", "duration", p->duration) ||
          H5LTset_attribute_int(g, ".", "repeats", &reps, 1) < 0)
        goto out;
      hsize_t dm[3] = {c->n, p->repeats, p->n_samples}, ns = p->n_samples, nsp = p->n_spikes;
      if (H5LTmake_dataset(g, "membrane", 3, dm, H5T_IEEE_F32LE, p->membrane) < 0 ||
          H5LTset_attribute_string(g, "membrane", "units", c->membrane_units) < 0 ||
          H5LTmake_dataset_double(g, "time", 1, &ns, p->time) < 0 ||
          H5LTset_attribute_string(g, "time", "units", "s") < 0 ||
          H5LTmake_dataset(g, "spike_neuron", 1, &nsp, H5T_STD_U32LE, p->spike_neuron) < 0 ||
          H5LTmake_dataset(g, "spike_trial", 1, &nsp, H5T_STD_U32LE, p->spike_trial) < 0 ||
          H5LTmake_dataset_double(g, "spike_time", 1, &nsp, p->spike_time) < 0 ||
          H5LTset_attribute_string(g, "spike_time", "units", "s") < 0)
        goto out;
      H5Gclose(g);
      g = -1;
    }
    what = "close";
    herr_t st = H5Fclose(f);
    f = -1;
    ok = st >= 0;
  out:
    if (g >= 0)
      H5Gclose(g);
    if (f >= 0)
      H5Fclose(f);
  }
  H5E_END_TRY;
  int rc = SL_OK;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    rc = sl_error(SL_EIO, "characterisation: cannot write '%s' (%s)", path, what);
  }
  free(tmp);
  return rc;
}

/* A dataset's dims if it exists with the expected class and rank. */
static int ds_shape(hid_t loc, const char *name, H5T_class_t cls, int rank, hsize_t *dims)
{
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
    return -1;
  H5T_class_t c;
  size_t sz;
  int r;
  if (H5LTget_dataset_ndims(loc, name, &r) < 0 || r != rank)
    return -2;
  if (H5LTget_dataset_info(loc, name, dims, &c, &sz) < 0 || c != cls)
    return -2;
  return 0;
}

static int need_attr_d(hid_t loc, const char *obj, const char *name, double *v, const char *path,
                       const char *where)
{
  if (H5Aexists_by_name(loc, obj, name, H5P_DEFAULT) <= 0 ||
      H5LTget_attribute_double(loc, obj, name, v) < 0)
    return sl_error(SL_EFORMAT, "%s: %s: missing or unreadable attribute '%s'", path, where,
                    name);
  if (!isfinite(*v))
    return sl_error(SL_EFORMAT, "%s: %s: attribute '%s' is not finite", path, where, name);
  return SL_OK;
}

static int get_attr_s(hid_t loc, const char *obj, const char *name, char *buf, size_t len)
{
  hsize_t d;
  H5T_class_t c;
  size_t sz;
  if (H5Aexists_by_name(loc, obj, name, H5P_DEFAULT) <= 0 ||
      H5LTget_attribute_info(loc, obj, name, &d, &c, &sz) < 0 || c != H5T_STRING)
    return -1;
  char *tmp = malloc(sz + 1);
  if (!tmp || H5LTget_attribute_string(loc, obj, name, tmp) < 0) {
    free(tmp);
    return -1;
  }
  tmp[sz] = '\0';
  snprintf(buf, len, "%s", tmp);
  free(tmp);
  return 0;
}

static int read_protocol(hid_t f, const char *path, const char *pname, sl_charac *c)
{
  char where[96], name[160], kind[32] = "";
  snprintf(where, sizeof where, "/protocols/%s", pname);
  if (c->n_protocols >= SL_CHARAC_MAX_PROTOCOLS)
    return sl_error(SL_EFORMAT, "%s: more than %d protocols", path, SL_CHARAC_MAX_PROTOCOLS);
  sl_charac_protocol *p = &c->proto[c->n_protocols];
  memset(p, 0, sizeof *p);
  c->n_protocols++;
  snprintf(p->name, sizeof p->name, "%s", pname);
  if (get_attr_s(f, where, "protocol", kind, sizeof kind) < 0)
    return sl_error(SL_EFORMAT, "%s: %s: missing string attribute 'protocol'", path, where);
  for (int k = 1; k <= 3; k++)
    if (strcmp(kind, proto_names[k]) == 0)
      p->protocol = k;
  if (!p->protocol)
    return sl_error(SL_EFORMAT, "%s: %s: unknown protocol '%s' (known: decay, psp, current)",
                    path, where, kind);
  int rc;
  if ((rc = need_attr_d(f, where, "level", &p->level, path, where)) ||
      (rc = need_attr_d(f, where, "weight", &p->weight, path, where)) ||
      (rc = need_attr_d(f, where, "current", &p->current, path, where)) ||
      (rc = need_attr_d(f, where, "pre", &p->pre, path, where)) ||
      (rc = need_attr_d(f, where, "duration", &p->duration, path, where)))
    return rc;
  hsize_t dm[3], dt[1], d1[1];
  snprintf(name, sizeof name, "%s/membrane", where);
  int s = ds_shape(f, name, H5T_FLOAT, 3, dm);
  if (s)
    return sl_error(SL_EFORMAT, "%s: %s %s", path, name,
                    s == -1 ? "is missing" : "must be a 3-d float array (neurons, repeats, samples)");
  if (dm[0] != c->n)
    return sl_error(SL_EFORMAT, "%s: %s has %llu neurons, /neurons has %zu", path, name,
                    (unsigned long long)dm[0], c->n);
  char units[32] = "";
  if (get_attr_s(f, name, "units", units, sizeof units) < 0 || strcmp(units, c->membrane_units))
    return sl_error(SL_EFORMAT, "%s: %s: units '%s' differ from the file's membrane_units '%s'",
                    path, name, units, c->membrane_units);
  p->repeats = dm[1];
  p->n_samples = dm[2];
  if (!p->repeats || p->n_samples < 4)
    return sl_error(SL_EFORMAT, "%s: %s: no repeats or fewer than 4 samples", path, name);
  p->membrane = malloc(dm[0] * dm[1] * dm[2] * sizeof(float));
  p->time = malloc(dm[2] * sizeof(double));
  if (!p->membrane || !p->time)
    return sl_error(SL_ENOMEM, "%s: out of memory", path);
  if (H5LTread_dataset_float(f, name, p->membrane) < 0)
    return sl_error(SL_EFORMAT, "%s: cannot read %s (truncated?)", path, name);
  snprintf(name, sizeof name, "%s/time", where);
  if ((s = ds_shape(f, name, H5T_FLOAT, 1, dt)))
    return sl_error(SL_EFORMAT, "%s: %s %s", path, name,
                    s == -1 ? "is missing" : "must be a 1-d float array");
  if (dt[0] != p->n_samples)
    return sl_error(SL_EFORMAT, "%s: %s has %llu samples, membrane has %zu", path, name,
                    (unsigned long long)dt[0], p->n_samples);
  if (get_attr_s(f, name, "units", units, sizeof units) < 0 || strcmp(units, "s"))
    return sl_error(SL_EFORMAT, "%s: %s: units must be \"s\" (got '%s')", path, name, units);
  if (H5LTread_dataset_double(f, name, p->time) < 0)
    return sl_error(SL_EFORMAT, "%s: cannot read %s", path, name);
  for (size_t j = 1; j < p->n_samples; j++)
    if (!(p->time[j] > p->time[j - 1]))
      return sl_error(SL_EFORMAT, "%s: %s is not increasing at sample %zu", path, name, j);
  const char *sp[3] = {"spike_neuron", "spike_trial", "spike_time"};
  hsize_t nsp = 0;
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "%s/%s", where, sp[i]);
    if ((s = ds_shape(f, name, i < 2 ? H5T_INTEGER : H5T_FLOAT, 1, d1)))
      return sl_error(SL_EFORMAT, "%s: %s %s", path, name,
                      s == -1 ? "is missing" : "must be a 1-d array of the right type");
    if (i == 0)
      nsp = d1[0];
    else if (d1[0] != nsp)
      return sl_error(SL_EFORMAT, "%s: %s has %llu entries, spike_neuron has %llu", path, name,
                      (unsigned long long)d1[0], (unsigned long long)nsp);
  }
  p->n_spikes = nsp;
  size_t m = nsp ? nsp : 1;
  p->spike_neuron = malloc(m * sizeof(uint32_t));
  p->spike_trial = malloc(m * sizeof(uint32_t));
  p->spike_time = malloc(m * sizeof(double));
  if (!p->spike_neuron || !p->spike_trial || !p->spike_time)
    return sl_error(SL_ENOMEM, "%s: out of memory", path);
  if (nsp) {
    snprintf(name, sizeof name, "%s/spike_neuron", where);
    if (H5LTread_dataset(f, name, H5T_NATIVE_UINT32, p->spike_neuron) < 0)
      return sl_error(SL_EFORMAT, "%s: cannot read %s", path, name);
    snprintf(name, sizeof name, "%s/spike_trial", where);
    if (H5LTread_dataset(f, name, H5T_NATIVE_UINT32, p->spike_trial) < 0)
      return sl_error(SL_EFORMAT, "%s: cannot read %s", path, name);
    snprintf(name, sizeof name, "%s/spike_time", where);
    if (H5LTread_dataset_double(f, name, p->spike_time) < 0)
      return sl_error(SL_EFORMAT, "%s: cannot read %s", path, name);
    for (size_t i = 0; i < nsp; i++)
      if (p->spike_neuron[i] >= c->n || p->spike_trial[i] >= p->repeats ||
          !isfinite(p->spike_time[i]))
        return sl_error(SL_EFORMAT, "%s: %s/spike_*[%zu] out of range (neuron row %u, trial %u)",
                        path, where, i, (unsigned)p->spike_neuron[i],
                        (unsigned)p->spike_trial[i]);
  }
  return SL_OK;
}

typedef struct {
  char names[SL_CHARAC_MAX_PROTOCOLS + 1][32];
  size_t n;
} name_list;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
  (void)g;
  (void)info;
  name_list *l = data;
  if (l->n <= SL_CHARAC_MAX_PROTOCOLS)
    snprintf(l->names[l->n++], sizeof l->names[0], "%s", name);
  return 0;
}

int sl_charac_read(sl_charac *c, const char *path)
{
  if (!c || !path)
    return sl_error(SL_EINVAL, "sl_charac_read: NULL argument");
  sl_charac_free(c);
  int rc = SL_OK;
  hid_t f = -1, g = -1;
  H5E_BEGIN_TRY
  {
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
      rc = sl_error(SL_EIO, "cannot open '%s' as HDF5 (missing, unreadable or truncated)", path);
      goto out;
    }
    char fmt[64] = "";
    int version = 0;
    if (get_attr_s(f, "/", "format", fmt, sizeof fmt) < 0 ||
        strcmp(fmt, "spikeloop-characterisation") != 0) {
      rc = sl_error(SL_EFORMAT, "%s: not a characterisation recording (root attribute format = "
                    "'%s', want 'spikeloop-characterisation')", path, fmt);
      goto out;
    }
    if (H5LTget_attribute_int(f, "/", "format_version", &version) < 0 || version != 1) {
      rc = sl_error(SL_EFORMAT, "%s: format_version %d; this library reads 1", path, version);
      goto out;
    }
    get_attr_s(f, "/", "backend", c->backend, sizeof c->backend);
    get_attr_s(f, "/", "options", c->options, sizeof c->options);
    if (get_attr_s(f, "/", "membrane_units", c->membrane_units, sizeof c->membrane_units) < 0 ||
        (strcmp(c->membrane_units, "adc") && strcmp(c->membrane_units, "model"))) {
      rc = sl_error(SL_EFORMAT, "%s: root attribute membrane_units must be \"adc\" or \"model\" "
                    "(got '%s')", path, c->membrane_units);
      goto out;
    }
    if ((rc = need_attr_d(f, "/", "time_scale", &c->time_scale, path, "/")) ||
        (rc = need_attr_d(f, "/", "dt", &c->dt, path, "/")) ||
        (rc = need_attr_d(f, "/", "spike_delay", &c->spike_delay, path, "/")))
      goto out;
    if (!(c->time_scale > 0)) {
      rc = sl_error(SL_EFORMAT, "%s: time_scale must be > 0", path);
      goto out;
    }
    if (need_attr_d(f, "/", "volt_at_zero", &c->volt_at_zero, path, "/"))
      c->volt_at_zero = 0.0;
    if (need_attr_d(f, "/", "volt_per_unit", &c->volt_per_unit, path, "/"))
      c->volt_per_unit = 1.0;
    sl_clear_error();
    if (H5LTget_attribute_int(f, "/", "adc_bits", &c->adc_bits) < 0)
      c->adc_bits = 0;
    hsize_t d[1];
    int s = ds_shape(f, "/neurons", H5T_INTEGER, 1, d);
    if (s || d[0] == 0) {
      rc = sl_error(SL_EFORMAT, "%s: /neurons %s", path,
                    s == -1 ? "is missing" : "must be a non-empty 1-d integer array");
      goto out;
    }
    c->n = d[0];
    c->neurons = malloc(c->n * sizeof *c->neurons);
    c->gain_nominal = malloc(c->n * sizeof *c->gain_nominal);
    if (!c->neurons || !c->gain_nominal) {
      rc = sl_error(SL_ENOMEM, "%s: out of memory", path);
      goto out;
    }
    if (H5LTread_dataset(f, "/neurons", H5T_NATIVE_UINT32, c->neurons) < 0) {
      rc = sl_error(SL_EFORMAT, "%s: cannot read /neurons", path);
      goto out;
    }
    s = ds_shape(f, "/config/gain_nominal", H5T_FLOAT, 1, d);
    if (s || d[0] != c->n) {
      rc = sl_error(SL_EFORMAT, "%s: /config/gain_nominal %s", path,
                    s == -1 ? "is missing" : "must be a float array as long as /neurons");
      goto out;
    }
    if (H5LTread_dataset_double(f, "/config/gain_nominal", c->gain_nominal) < 0) {
      rc = sl_error(SL_EFORMAT, "%s: cannot read /config/gain_nominal", path);
      goto out;
    }
    for (int k = 0; k < SL_CHARAC_NDAC; k++) {
      char name[64];
      snprintf(name, sizeof name, "/config/dac/%s", dac_names[k]);
      if (H5Lexists(f, "/config/dac", H5P_DEFAULT) <= 0 || H5Lexists(f, name, H5P_DEFAULT) <= 0)
        continue;
      if (ds_shape(f, name, H5T_INTEGER, 1, d) || d[0] != c->n) {
        rc = sl_error(SL_EFORMAT, "%s: %s must be an integer array as long as /neurons", path,
                      name);
        goto out;
      }
      if (!(c->dac[k] = malloc(c->n * sizeof(int32_t))) ||
          H5LTread_dataset(f, name, H5T_NATIVE_INT32, c->dac[k]) < 0) {
        rc = sl_error(SL_EFORMAT, "%s: cannot read %s", path, name);
        goto out;
      }
    }
    if (H5Lexists(f, "/protocols", H5P_DEFAULT) <= 0 ||
        (g = H5Gopen2(f, "/protocols", H5P_DEFAULT)) < 0) {
      rc = sl_error(SL_EFORMAT, "%s: group /protocols is missing", path);
      goto out;
    }
    name_list names;
    names.n = 0;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &names) < 0) {
      rc = sl_error(SL_EFORMAT, "%s: cannot list /protocols", path);
      goto out;
    }
    for (size_t k = 0; k < names.n && !rc; k++)
      rc = read_protocol(f, path, names.names[k], c);
  out:
    if (g >= 0)
      H5Gclose(g);
    if (f >= 0)
      H5Fclose(f);
  }
  H5E_END_TRY;
  if (rc)
    sl_charac_free(c);
  return rc;
}
