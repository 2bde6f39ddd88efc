/* charac.c -- characterisation recordings: running the protocols of
 * backend.h on a set of neurons, and the HDF5 file (layout in
 * include/spikeloop/charac.h), read and written through lib/io/h5.h.
 * Observations come as (n_samples, B, n) and are stored per neuron,
 * (n, B, n_samples), which is how the fitter reads them. The file keeps the
 * types it had when written with H5LT (fixed-length ASCII strings, numbers
 * as 1-element arrays, default group properties). Reading checks every
 * dataset's type and shape against /neurons and the protocol's time base
 * and names the first one that is wrong; backend, options, volt_at_zero,
 * volt_per_unit and adc_bits are informative and take their defaults when
 * missing or unreadable.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "spikeloop/charac.h"
#include "spikeloop/error.h"

#include "io/h5.h"

#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
  *p = (sl_charac_protocol){.protocol = s->protocol, .level = s->level, .weight = s->weight,
                            .current = s->current, .pre = s->pre, .duration = s->duration,
                            .repeats = s->repeats, .n_samples = o->n_samples,
                            .n_spikes = o->n_spikes};
  snprintf(p->name, sizeof p->name, "%s", name);
  const size_t n = c->n, B = s->repeats, ns = o->n_samples;
  p->time = malloc(ns * sizeof *p->time);
  p->membrane = malloc(n * B * ns * sizeof *p->membrane);
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

#define WHO "characterisation"
#define FORMAT_NAME "spikeloop-characterisation"
#define FORMAT_VERSION 1

/* A protocol's number attributes, in the order they are written. */
static const char *const proto_attrs[5] = {"level", "weight", "current", "pre", "duration"};

/* /protocols/<name> of the recording being written. */
static herr_t write_protocol(hid_t f, const sl_charac *c, const sl_charac_protocol *p)
{
  char path[96];
  snprintf(path, sizeof path, "/protocols/%s", p->name);
  const char *const grp[1] = {path};
  if (slh_plain_groups(f, grp, 1) < 0)
    return -1;
  hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
  if (g < 0)
    return -1;
  const double v[5] = {p->level, p->weight, p->current, p->pre, p->duration};
  const int reps = (int)p->repeats;
  const hsize_t dm[3] = {c->n, p->repeats, p->n_samples}, ns = p->n_samples, nsp = p->n_spikes;
  herr_t st = slh_attr_ascii(g, ".", "protocol", proto_names[p->protocol]);
  for (int i = 0; i < 5 && st >= 0; i++)
    st = slh_attr_doubles(g, ".", proto_attrs[i], &v[i], 1);
  if (st < 0 || slh_attr_ints(g, ".", "repeats", &reps, 1) < 0 ||
      slh_dataset(g, "membrane", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dm, p->membrane,
                  SLH_PLAIN) < 0 ||
      slh_attr_ascii(g, "membrane", "units", c->membrane_units) < 0 ||
      slh_dataset(g, "time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &ns, p->time, SLH_PLAIN) < 0 ||
      slh_attr_ascii(g, "time", "units", "s") < 0 ||
      slh_dataset(g, "spike_neuron", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &nsp, p->spike_neuron,
                  SLH_PLAIN) < 0 ||
      slh_dataset(g, "spike_trial", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &nsp, p->spike_trial,
                  SLH_PLAIN) < 0 ||
      slh_dataset(g, "spike_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nsp, p->spike_time,
                  SLH_PLAIN) < 0 ||
      slh_attr_ascii(g, "spike_time", "units", "s") < 0)
    st = -1;
  if (H5Gclose(g) < 0)
    st = -1;
  return st;
}

/* The recording (layout in spikeloop/charac.h), for slh_write_file. */
static herr_t write_recording(hid_t f, const void *arg, const char **what)
{
  const sl_charac *c = arg;
  *what = "root attributes";
  char created[32];
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  const int version = FORMAT_VERSION;
  if (slh_attr_ascii(f, "/", "format", FORMAT_NAME) < 0 ||
      slh_attr_ints(f, "/", "format_version", &version, 1) < 0 ||
      slh_attr_ascii(f, "/", "backend", c->backend) < 0 ||
      slh_attr_ascii(f, "/", "options", c->options) < 0 ||
      slh_attr_ascii(f, "/", "created", created) < 0 ||
      slh_attr_ascii(f, "/", "membrane_units", c->membrane_units) < 0 ||
      slh_attr_ints(f, "/", "adc_bits", &c->adc_bits, 1) < 0 ||
      slh_attr_doubles(f, "/", "time_scale", &c->time_scale, 1) < 0 ||
      slh_attr_doubles(f, "/", "dt", &c->dt, 1) < 0 ||
      slh_attr_doubles(f, "/", "volt_at_zero", &c->volt_at_zero, 1) < 0 ||
      slh_attr_doubles(f, "/", "volt_per_unit", &c->volt_per_unit, 1) < 0 ||
      slh_attr_doubles(f, "/", "spike_delay", &c->spike_delay, 1) < 0)
    return -1;
  *what = "/neurons";
  const hsize_t n = c->n;
  if (slh_dataset(f, "/neurons", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &n, c->neurons,
                  SLH_PLAIN) < 0)
    return -1;
  *what = "/config";
  static const char *const groups[3] = {"/config", "/config/dac", "/protocols"};
  if (slh_plain_groups(f, groups, 3) < 0 ||
      slh_dataset(f, "/config/gain_nominal", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n,
                  c->gain_nominal, SLH_PLAIN) < 0 ||
      slh_attr_ascii(f, "/config/gain_nominal", "units",
                     "model units per model s per weight unit") < 0)
    return -1;
  char name[128];
  for (int d = 0; d < SL_CHARAC_NDAC; d++) {
    snprintf(name, sizeof name, "/config/dac/%s", dac_names[d]);
    if (c->dac[d] &&
        slh_dataset(f, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &n, c->dac[d], SLH_PLAIN) < 0)
      return -1;
  }
  for (size_t k = 0; k < c->n_protocols; k++) {
    *what = c->proto[k].name;
    if (write_protocol(f, c, &c->proto[k]) < 0)
      return -1;
  }
  return 0;
}

int sl_charac_write(const sl_charac *c, const char *path)
{
  if (!c || !path || !*path)
    return sl_error(SL_EINVAL, "sl_charac_write: NULL argument");
  return slh_write_file(WHO, path, write_recording, c);
}

/* The optional string attribute obj@name in buf (len bytes), "" when missing. */
static int text_attr(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                     char *buf, size_t len)
{
  char *s = NULL;
  int rc = slh_get_attr_str_opt(f, obj, objpath, name, "", &s);
  if (rc == SL_OK)
    snprintf(buf, len, "%s", s);
  free(s);
  return rc;
}

/* The units attribute of dataset `path`, "" when missing. */
static int units_of(const slh_file *f, const char *path, char *buf, size_t len)
{
  hid_t obj = H5Oopen(f->id, path, H5P_DEFAULT);
  if (obj < 0)
    return sl_error(SL_EIO, WHO ": '%s': cannot open %s", f->path, path);
  int rc = text_attr(f, obj, path, "units", buf, len);
  H5Oclose(obj);
  return rc;
}

/* The attributes of /protocols/<name> (group `where`). */
static int read_protocol_attrs(const slh_file *f, const char *where, sl_charac_protocol *p)
{
  hid_t g = -1;
  char kind[32] = "";
  int rc = slh_open_group(f, where, &g);
  if (rc == SL_OK && !(rc = text_attr(f, g, where, "protocol", kind, sizeof kind)) && !*kind)
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s: missing string attribute 'protocol'", f->path,
                  where);
  for (int k = 1; rc == SL_OK && k <= 3; k++)
    if (strcmp(kind, proto_names[k]) == 0)
      p->protocol = k;
  if (rc == SL_OK && !p->protocol)
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s: unknown protocol '%s' (known: decay, psp, current)",
                  f->path, where, kind);
  double *const v[5] = {&p->level, &p->weight, &p->current, &p->pre, &p->duration};
  for (int i = 0; rc == SL_OK && i < 5; i++)
    rc = slh_get_attr(f, g, where, proto_attrs[i], H5T_NATIVE_DOUBLE, 1, v[i]);
  if (g >= 0)
    H5Oclose(g);
  return rc;
}

/* membrane and time of /protocols/<name> (group `where`). */
static int read_samples(const slh_file *f, const char *where, const sl_charac *c,
                        sl_charac_protocol *p)
{
  char name[160], units[32];
  hsize_t dm[3], dt;
  void *buf;
  snprintf(name, sizeof name, "%s/membrane", where);
  int rc = slh_read_alloc(f, name, H5T_FLOAT, H5T_NATIVE_FLOAT, 3, dm, &buf);
  if (rc != SL_OK)
    return rc;
  p->membrane = buf;
  if (dm[0] != c->n)
    return sl_error(SL_EFORMAT, WHO ": '%s': %s has %llu neurons, /neurons has %zu", f->path,
                    name, (unsigned long long)dm[0], c->n);
  if ((rc = units_of(f, name, units, sizeof units)) != SL_OK)
    return rc;
  if (strcmp(units, c->membrane_units))
    return sl_error(SL_EFORMAT,
                    WHO ": '%s': %s: units '%s' differ from the file's membrane_units '%s'",
                    f->path, name, units, c->membrane_units);
  p->repeats = dm[1];
  p->n_samples = dm[2];
  if (!p->repeats || p->n_samples < 4)
    return sl_error(SL_EFORMAT, WHO ": '%s': %s: no repeats or fewer than 4 samples", f->path,
                    name);
  snprintf(name, sizeof name, "%s/time", where);
  if ((rc = slh_read_alloc(f, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, &dt, &buf)) != SL_OK)
    return rc;
  p->time = buf;
  if (dt != p->n_samples)
    return sl_error(SL_EFORMAT, WHO ": '%s': %s has %llu samples, membrane has %zu", f->path,
                    name, (unsigned long long)dt, p->n_samples);
  if ((rc = units_of(f, name, units, sizeof units)) != SL_OK)
    return rc;
  if (strcmp(units, "s"))
    return sl_error(SL_EFORMAT, WHO ": '%s': %s: units must be \"s\" (got '%s')", f->path, name,
                    units);
  for (size_t j = 1; j < p->n_samples; j++)
    if (!(p->time[j] > p->time[j - 1]))
      return sl_error(SL_EFORMAT, WHO ": '%s': %s is not increasing at sample %zu", f->path,
                      name, j);
  return SL_OK;
}

/* spike_neuron, spike_trial, spike_time of /protocols/<name> (group `where`). */
static int read_spikes(const slh_file *f, const char *where, const sl_charac *c,
                       sl_charac_protocol *p)
{
  static const char *const sp[3] = {"spike_neuron", "spike_trial", "spike_time"};
  char name[160];
  hsize_t d[3];
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "%s/%s", where, sp[i]);
    void *buf;
    int rc = slh_read_alloc(f, name, i < 2 ? H5T_INTEGER : H5T_FLOAT,
                            i < 2 ? H5T_NATIVE_UINT32 : H5T_NATIVE_DOUBLE, 1, &d[i], &buf);
    if (rc != SL_OK)
      return rc;
    if (i == 0)
      p->spike_neuron = buf;
    else if (i == 1)
      p->spike_trial = buf;
    else
      p->spike_time = buf;
    if (d[i] != d[0])
      return sl_error(SL_EFORMAT, WHO ": '%s': %s has %llu entries, spike_neuron has %llu",
                      f->path, name, (unsigned long long)d[i], (unsigned long long)d[0]);
  }
  p->n_spikes = d[0];
  for (size_t i = 0; i < p->n_spikes; i++)
    if (p->spike_neuron[i] >= c->n || p->spike_trial[i] >= p->repeats ||
        !isfinite(p->spike_time[i]))
      return sl_error(SL_EFORMAT,
                      WHO ": '%s': %s/spike_*[%zu] out of range (neuron row %u, trial %u)",
                      f->path, where, i, (unsigned)p->spike_neuron[i],
                      (unsigned)p->spike_trial[i]);
  return SL_OK;
}

static int read_protocol(const slh_file *f, const char *pname, sl_charac *c)
{
  char where[96];
  snprintf(where, sizeof where, "/protocols/%s", pname);
  if (c->n_protocols >= SL_CHARAC_MAX_PROTOCOLS)
    return sl_error(SL_EFORMAT, WHO ": '%s': more than %d protocols", f->path,
                    SL_CHARAC_MAX_PROTOCOLS);
  sl_charac_protocol *p = &c->proto[c->n_protocols];
  memset(p, 0, sizeof *p);
  c->n_protocols++; /* counted now so that sl_charac_free frees a partial one */
  snprintf(p->name, sizeof p->name, "%s", pname);
  int rc = read_protocol_attrs(f, where, p);
  if (rc == SL_OK)
    rc = read_samples(f, where, c, p);
  if (rc == SL_OK)
    rc = read_spikes(f, where, c, p);
  return rc;
}

/* The root attributes. */
static int read_root(const slh_file *f, sl_charac *c)
{
  hid_t root = -1;
  int rc = slh_check_format(f, FORMAT_NAME, FORMAT_VERSION, "characterisation recording");
  if (rc == SL_OK)
    rc = slh_open_group(f, "/", &root);
  if (rc != SL_OK)
    return rc;
  /* informative: a missing or unreadable one keeps its default */
  if (text_attr(f, root, "/", "backend", c->backend, sizeof c->backend) != SL_OK)
    c->backend[0] = '\0';
  if (text_attr(f, root, "/", "options", c->options, sizeof c->options) != SL_OK)
    c->options[0] = '\0';
  c->volt_at_zero = 0.0;
  c->volt_per_unit = 1.0;
  if (slh_get_attr_opt(f, root, "/", "volt_at_zero", H5T_NATIVE_DOUBLE, 1, &c->volt_at_zero))
    c->volt_at_zero = 0.0;
  if (slh_get_attr_opt(f, root, "/", "volt_per_unit", H5T_NATIVE_DOUBLE, 1, &c->volt_per_unit))
    c->volt_per_unit = 1.0;
  if (slh_get_attr_opt(f, root, "/", "adc_bits", H5T_NATIVE_INT, 1, &c->adc_bits))
    c->adc_bits = 0;
  sl_clear_error();
  if ((rc = text_attr(f, root, "/", "membrane_units", c->membrane_units,
                      sizeof c->membrane_units)) == SL_OK &&
      strcmp(c->membrane_units, "adc") && strcmp(c->membrane_units, "model"))
    rc = sl_error(SL_EFORMAT,
                  WHO ": '%s': root attribute membrane_units must be \"adc\" or \"model\" (got "
                  "'%s')", f->path, c->membrane_units);
  if (rc == SL_OK)
    rc = slh_get_attr(f, root, "/", "time_scale", H5T_NATIVE_DOUBLE, 1, &c->time_scale);
  if (rc == SL_OK)
    rc = slh_get_attr(f, root, "/", "dt", H5T_NATIVE_DOUBLE, 1, &c->dt);
  if (rc == SL_OK)
    rc = slh_get_attr(f, root, "/", "spike_delay", H5T_NATIVE_DOUBLE, 1, &c->spike_delay);
  if (rc == SL_OK && !(c->time_scale > 0))
    rc = sl_error(SL_EFORMAT, WHO ": '%s': time_scale must be > 0", f->path);
  H5Oclose(root);
  return rc;
}

/* /neurons and /config. */
static int read_config(const slh_file *f, sl_charac *c)
{
  hsize_t d;
  void *buf;
  int rc = slh_read_alloc(f, "/neurons", H5T_INTEGER, H5T_NATIVE_UINT32, 1, &d, &buf);
  if (rc != SL_OK)
    return rc;
  c->neurons = buf;
  c->n = d;
  if (!c->n)
    return sl_error(SL_EFORMAT, WHO ": '%s': /neurons must be a non-empty 1-d integer array",
                    f->path);
  if ((rc = slh_read_alloc(f, "/config/gain_nominal", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, &d,
                           &buf)) != SL_OK)
    return rc;
  c->gain_nominal = buf;
  if (d != c->n)
    return sl_error(SL_EFORMAT,
                    WHO ": '%s': /config/gain_nominal must be a float array as long as /neurons",
                    f->path);
  for (int k = 0; k < SL_CHARAC_NDAC; k++) {
    char name[64];
    snprintf(name, sizeof name, "/config/dac/%s", dac_names[k]);
    if (!slh_exists(f, name))
      continue;
    if ((rc = slh_read_alloc(f, name, H5T_INTEGER, H5T_NATIVE_INT32, 1, &d, &buf)) != SL_OK)
      return rc;
    c->dac[k] = buf;
    if (d != c->n)
      return sl_error(SL_EFORMAT, WHO ": '%s': %s must be an integer array as long as /neurons",
                      f->path, name);
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

/* Every group of /protocols, in name order. */
static int read_protocols(const slh_file *f, sl_charac *c)
{
  hid_t g = -1;
  name_list names;
  names.n = 0;
  int rc = slh_open_group(f, "/protocols", &g);
  if (rc != SL_OK)
    return rc;
  if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &names) < 0)
    rc = sl_error(SL_EIO, WHO ": '%s': cannot list /protocols", f->path);
  H5Oclose(g);
  for (size_t k = 0; k < names.n && rc == SL_OK; k++)
    rc = read_protocol(f, names.names[k], c);
  return rc;
}

int sl_charac_read(sl_charac *c, const char *path)
{
  if (!c || !path)
    return sl_error(SL_EINVAL, "sl_charac_read: NULL argument");
  sl_charac_free(c);
  slh_file f;
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    if (rc == SL_OK)
      rc = read_root(&f, c);
    if (rc == SL_OK)
      rc = read_config(&f, c);
    if (rc == SL_OK)
      rc = read_protocols(&f, c);
    slh_close(&f);
  }
  H5E_END_TRY;
  if (rc)
    sl_charac_free(c);
  return rc;
}
