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

/* The file's name of protocol kind k (SL_STIM_* or SL_CHARAC_RAMP). */
static const char *kind_name(int k)
{
  return k == SL_CHARAC_RAMP ? "ramp" : k >= 1 && k <= 3 ? proto_names[k] : "?";
}

sl_charac_protocols sl_charac_protocols_default(void)
{
  sl_charac_protocols p = {{0.5, -1.0}, -5.0, 4.0 / 6e-3, 0.01, 0.04, 0.06, 32};
  return p;
}

double sl_charac_level(const sl_charac_protocol *p, size_t i)
{
  return p->level_n ? p->level_n[i] : p->level;
}

double sl_charac_weight(const sl_charac_protocol *p, size_t i)
{
  return p->weight_n ? p->weight_n[i] : p->weight;
}

double sl_charac_current(const sl_charac_protocol *p, size_t i)
{
  return p->current_n ? p->current_n[i] : p->current;
}

int sl_charac_has(const sl_charac_protocol *p, size_t i) { return !p->row || p->row[i] >= 0; }

const float *sl_charac_trace(const sl_charac_protocol *p, size_t i, size_t b)
{
  if (!sl_charac_has(p, i))
    return NULL;
  size_t r = p->row ? (size_t)p->row[i] : i;
  return p->membrane + (r * p->repeats + b) * p->n_samples;
}

static void protocol_free(sl_charac_protocol *p)
{
  free(p->time);
  free(p->membrane);
  free(p->spike_neuron);
  free(p->spike_trial);
  free(p->spike_time);
  free(p->level_n);
  free(p->weight_n);
  free(p->current_n);
  free(p->row);
}

void sl_charac_free(sl_charac *c)
{
  if (!c)
    return;
  free(c->neurons);
  free(c->gain_nominal);
  for (int d = 0; d < SL_CHARAC_NDAC; d++)
    free(c->dac[d]);
  for (size_t k = 0; k < c->n_protocols; k++)
    protocol_free(&c->proto[k]);
  free(c->proto);
  memset(c, 0, sizeof *c);
}

/* A fresh zeroed protocol at the end of c->proto (counted at once, so that
 * sl_charac_free frees a partial one); NULL when out of memory. */
static sl_charac_protocol *new_protocol(sl_charac *c)
{
  sl_charac_protocol *q = realloc(c->proto, (c->n_protocols + 1) * sizeof *q);
  if (!q)
    return NULL;
  c->proto = q;
  q += c->n_protocols++;
  memset(q, 0, sizeof *q);
  return q;
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
  sl_charac_protocol *p = new_protocol(c);
  if (!p)
    return sl_error(SL_ENOMEM, "characterisation: out of memory");
  *p = (sl_charac_protocol){.protocol = s->protocol, .level = s->level, .weight = s->weight,
                            .current = s->current, .pre = s->pre, .duration = s->duration,
                            .repeats = s->repeats, .n_samples = o->n_samples,
                            .n_spikes = o->n_spikes, .n_rows = c->n};
  snprintf(p->name, sizeof p->name, "%s", name);
  const size_t n = c->n, B = s->repeats, ns = o->n_samples;
  p->time = malloc(ns * sizeof *p->time);
  p->membrane = malloc(n * B * ns * sizeof *p->membrane);
  size_t m = o->n_spikes ? o->n_spikes : 1;
  p->spike_neuron = malloc(m * sizeof(uint32_t));
  p->spike_trial = malloc(m * sizeof(uint32_t));
  p->spike_time = malloc(m * sizeof(double));
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
                  p.decay_levels[0], 0, 0, 0, 0}},
    {"decay_lo", {SL_STIM_DECAY, neurons, n, p.repeats, p.pre * ts, p.duration * ts,
                  p.decay_levels[1], 0, 0, 0, 0}},
    {"psp", {SL_STIM_PSP, neurons, n, p.repeats, p.pre * ts, p.duration * ts, 0, p.psp_weight,
             0, 0, 0}},
    {"current", {SL_STIM_CURRENT, neurons, n, p.repeats, p.pre * ts, p.current_duration * ts, 0,
                 0, p.current, 0, 0}},
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

/* A protocol's stimulus numbers, in the order they are written. */
static const char *const proto_attrs[5] = {"level", "weight", "current", "pre", "duration"};

/* /protocols/<name> of the recording being written. Per-neuron stimuli are
 * written as attributes of one value per membrane row; a protocol of a
 * subset of /neurons gets its own `neurons`; spike_neuron is written as the
 * membrane row. */
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
  const size_t m = p->row ? p->n_rows : c->n;
  const double v[5] = {p->level, p->weight, p->current, p->pre, p->duration};
  const double *const per[3] = {p->level_n, p->weight_n, p->current_n};
  double *buf = malloc((m ? m : 1) * sizeof *buf);
  uint32_t *ids = malloc((m ? m : 1) * sizeof *ids);
  uint32_t *sn = malloc((p->n_spikes ? p->n_spikes : 1) * sizeof *sn);
  herr_t st = buf && ids && sn ? 0 : -1;
  for (size_t i = 0; i < c->n && st >= 0; i++)
    if (sl_charac_has(p, i))
      ids[p->row ? (size_t)p->row[i] : i] = c->neurons[i];
  for (size_t i = 0; i < p->n_spikes && st >= 0; i++)
    sn[i] = p->row ? (uint32_t)p->row[p->spike_neuron[i]] : p->spike_neuron[i];
  const int reps = (int)p->repeats;
  const hsize_t dm[3] = {m, p->repeats, p->n_samples}, ns = p->n_samples, nsp = p->n_spikes,
                hm = m;
  if (st >= 0)
    st = slh_attr_ascii(g, ".", "protocol", kind_name(p->protocol));
  for (int i = 0; i < 5 && st >= 0; i++) {
    if (i < 3 && per[i]) {
      for (size_t k = 0; k < c->n; k++)
        if (sl_charac_has(p, k))
          buf[p->row ? (size_t)p->row[k] : k] = per[i][k];
      st = slh_attr_doubles(g, ".", proto_attrs[i], buf, m);
    } else {
      st = slh_attr_doubles(g, ".", proto_attrs[i], &v[i], 1);
    }
  }
  if (st >= 0 && p->row &&
      slh_dataset(g, "neurons", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &hm, ids, SLH_PLAIN) < 0)
    st = -1;
  if (st < 0 || slh_attr_ints(g, ".", "repeats", &reps, 1) < 0 ||
      slh_attr_ascii(g, ".", "level_units", "model") < 0 ||
      slh_attr_ascii(g, ".", "current_units",
                     p->current_units == SL_CURRENT_RI ? "RI_model" : "rate") < 0 ||
      slh_dataset(g, "membrane", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dm, p->membrane,
                  SLH_PLAIN) < 0 ||
      slh_attr_ascii(g, "membrane", "units", c->membrane_units) < 0 ||
      slh_dataset(g, "time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &ns, p->time, SLH_PLAIN) < 0 ||
      slh_attr_ascii(g, "time", "units", "s") < 0 ||
      slh_dataset(g, "spike_neuron", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &nsp, sn,
                  SLH_PLAIN) < 0 ||
      slh_dataset(g, "spike_trial", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &nsp, p->spike_trial,
                  SLH_PLAIN) < 0 ||
      slh_dataset(g, "spike_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nsp, p->spike_time,
                  SLH_PLAIN) < 0 ||
      slh_attr_ascii(g, "spike_time", "units", "s") < 0 ||
      slh_attr_doubles(g, "spike_time", "resolution", &p->spike_resolution, 1) < 0)
    st = -1;
  free(buf);
  free(ids);
  free(sn);
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
  if (c->adc_volts_per_code > 0 &&
      (slh_attr_doubles(f, "/", "adc_volts_per_code", &c->adc_volts_per_code, 1) < 0 ||
       slh_attr_doubles(f, "/", "adc_offset", &c->adc_offset, 1) < 0))
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

/* ------------------------------------------------------------ reading */

/* What the reader knows beyond c: the file and whether the root states a
 * volt mapping (volt_at_zero and volt_per_unit), which every value given
 * in volts needs. */
typedef struct {
  const slh_file *f;
  sl_charac *c;
  int have_vmap;
} reader;

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

/* The volt mapping is needed for `what`. */
static int need_vmap(const reader *r, const char *what)
{
  if (r->have_vmap)
    return SL_OK;
  return sl_error(SL_EFORMAT, WHO ": '%s': %s is in volts: the root attributes volt_at_zero and "
                  "volt_per_unit (V = volt_at_zero + volt_per_unit * model units) are required",
                  r->f->path, what);
}

/* Number `name` of group g (`where`): an attribute or a dataset of 1 value
 * or one per membrane row (m). *v gets malloc'ed values, *k their count (0:
 * missing). */
static int read_numbers(const slh_file *f, hid_t g, const char *where, const char *name, size_t m,
                        double **v, size_t *k)
{
  char path[160];
  *v = NULL;
  *k = 0;
  snprintf(path, sizeof path, "%s/%s", where, name);
  int has = slh_has_attr(f, g, where, name);
  if (has < 0)
    return SL_EIO;
  size_t np = 0;
  hid_t d = -1;
  int rc = SL_OK;
  if (has) {
    hid_t a = H5Aopen(g, name, H5P_DEFAULT), sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0)
      H5Sclose(sp);
    if (a >= 0)
      H5Aclose(a);
    if (npts < 0)
      return sl_error(SL_EIO, WHO ": '%s': cannot read attribute %s@%s", f->path, where, name);
    np = (size_t)npts;
  } else if (slh_exists(f, path)) {
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    if ((rc = slh_open_dataset_any(f, path, H5T_NO_CLASS, &rank, dims, &d)) != SL_OK)
      return rc;
    np = 1;
    for (int i = 0; i < rank; i++)
      np *= dims[i];
  } else {
    return SL_OK;
  }
  if (np != 1 && np != m) {
    if (d >= 0)
      H5Dclose(d);
    return sl_error(SL_EFORMAT, WHO ": '%s': %s has %zu values: give one, or one per neuron of "
                    "the protocol (%zu)", f->path, path, np, m);
  }
  *v = malloc(np * sizeof **v);
  if (!*v)
    rc = sl_error(SL_ENOMEM, WHO ": out of memory");
  else if (has)
    rc = slh_get_attr(f, g, where, name, H5T_NATIVE_DOUBLE, np, *v);
  else
    rc = slh_read(f, d, path, H5T_NATIVE_DOUBLE, np, *v);
  if (d >= 0)
    H5Dclose(d);
  for (size_t i = 0; rc == SL_OK && i < np; i++)
    if (!isfinite((*v)[i]))
      rc = sl_error(SL_ENUMERIC, WHO ": '%s': %s[%zu] = %g is not finite", f->path, path, i,
                    (*v)[i]);
  if (rc != SL_OK) {
    free(*v);
    *v = NULL;
    return rc;
  }
  *k = np;
  return SL_OK;
}

/* Stimulus `which` (0 level, 1 weight, 2 current) of p: a scalar, or per
 * membrane row spread to per /neurons row (NaN where not recorded), each
 * value mapped through a * x + b. `required`: missing is an error. */
static int read_stimulus(const reader *r, hid_t g, const char *where, sl_charac_protocol *p,
                         int which, int required, double a, double b)
{
  const sl_charac *c = r->c;
  double *v;
  size_t k;
  const size_t m = p->n_rows;
  int rc = read_numbers(r->f, g, where, proto_attrs[which], m, &v, &k);
  if (rc != SL_OK)
    return rc;
  double *scalar = which == 0 ? &p->level : which == 1 ? &p->weight : &p->current;
  double **per = which == 0 ? &p->level_n : which == 1 ? &p->weight_n : &p->current_n;
  if (!k) {
    *scalar = 0.0;
    if (required)
      return sl_error(SL_EFORMAT, WHO ": '%s': %s: a %s protocol needs '%s' (an attribute or a "
                      "dataset: one value, or one per neuron)", r->f->path, where,
                      kind_name(p->protocol), proto_attrs[which]);
    return SL_OK;
  }
  if (k == 1) {
    *scalar = a * v[0] + b;
    free(v);
    return SL_OK;
  }
  *scalar = NAN;
  if (!(*per = malloc(c->n * sizeof **per))) {
    free(v);
    return sl_error(SL_ENOMEM, WHO ": out of memory");
  }
  for (size_t i = 0; i < c->n; i++)
    (*per)[i] = sl_charac_has(p, i) ? a * v[p->row ? (size_t)p->row[i] : i] + b : NAN;
  free(v);
  return SL_OK;
}

/* The protocol's own `neurons` (a subset of /neurons, in the order of its
 * membrane rows), if it has one: p->row and p->n_rows. */
static int read_rows(const reader *r, const char *where, sl_charac_protocol *p)
{
  const slh_file *f = r->f;
  const sl_charac *c = r->c;
  char path[160];
  snprintf(path, sizeof path, "%s/neurons", where);
  p->n_rows = c->n;
  if (!slh_exists(f, path))
    return SL_OK;
  hsize_t d;
  uint32_t *ids;
  int rc = slh_read_alloc(f, path, H5T_INTEGER, H5T_NATIVE_UINT32, 1, &d, (void **)&ids);
  if (rc != SL_OK)
    return rc;
  p->n_rows = d;
  if (!(p->row = malloc(c->n * sizeof *p->row))) {
    free(ids);
    return sl_error(SL_ENOMEM, WHO ": out of memory");
  }
  for (size_t i = 0; i < c->n; i++)
    p->row[i] = -1;
  for (size_t k = 0; k < d && rc == SL_OK; k++) {
    size_t i = 0;
    while (i < c->n && c->neurons[i] != ids[k])
      i++;
    if (i == c->n)
      rc = sl_error(SL_EFORMAT, WHO ": '%s': %s[%zu] = %u is not in /neurons", f->path, path, k,
                    (unsigned)ids[k]);
    else if (p->row[i] >= 0)
      rc = sl_error(SL_EFORMAT, WHO ": '%s': %s lists neuron %u twice", f->path, path,
                    (unsigned)ids[k]);
    else
      p->row[i] = (int32_t)k;
  }
  if (rc == SL_OK && !d)
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s is empty", f->path, path);
  free(ids);
  return rc;
}

/* The attributes of /protocols/<name> (group `where`): kind, stimulus and
 * its units, pre and duration (needs the time axis: read after it). */
static int read_protocol_attrs(const reader *r, const char *where, sl_charac_protocol *p)
{
  const slh_file *f = r->f;
  const sl_charac *c = r->c;
  hid_t g = -1;
  char lu[32] = "", cu[32] = "";
  int rc = slh_open_group(f, where, &g);
  if (rc == SL_OK)
    rc = text_attr(f, g, where, "level_units", lu, sizeof lu);
  if (rc == SL_OK)
    rc = text_attr(f, g, where, "current_units", cu, sizeof cu);
  /* level: model units, or volts through the volt mapping */
  double la = 1.0, lb = 0.0;
  if (rc == SL_OK && !strcmp(lu, "V") && (rc = need_vmap(r, "level (level_units = \"V\")")) == SL_OK)
    la = 1.0 / c->volt_per_unit, lb = -c->volt_at_zero / c->volt_per_unit;
  else if (rc == SL_OK && *lu && strcmp(lu, "model"))
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s@level_units must be \"model\" or \"V\" (got '%s')",
                  f->path, where, lu);
  /* current: a rate, or R I (model units, volts, or amperes times r_ohm) */
  double ca = 1.0;
  p->current_units = SL_CURRENT_RATE;
  if (rc == SL_OK && (!*cu || !strcmp(cu, "rate"))) {
  } else if (rc == SL_OK && !strcmp(cu, "RI_model")) {
    p->current_units = SL_CURRENT_RI;
  } else if (rc == SL_OK && !strcmp(cu, "RI_volts")) {
    p->current_units = SL_CURRENT_RI;
    if ((rc = need_vmap(r, "current (current_units = \"RI_volts\")")) == SL_OK)
      ca = 1.0 / c->volt_per_unit;
  } else if (rc == SL_OK && !strcmp(cu, "ampere")) {
    p->current_units = SL_CURRENT_RI;
    double ohm = NAN;
    if ((rc = need_vmap(r, "current (current_units = \"ampere\")")) == SL_OK &&
        slh_has_attr(f, g, where, "r_ohm") <= 0)
      rc = sl_error(SL_EFORMAT, WHO ": '%s': %s: current_units = \"ampere\" needs the attribute "
                    "r_ohm (the membrane resistance, ohm: R I in volts = current * r_ohm)",
                    f->path, where);
    if (rc == SL_OK)
      rc = slh_get_attr(f, g, where, "r_ohm", H5T_NATIVE_DOUBLE, 1, &ohm);
    if (rc == SL_OK && !(ohm > 0))
      rc = sl_error(SL_EFORMAT, WHO ": '%s': %s@r_ohm must be > 0", f->path, where);
    ca = ohm / c->volt_per_unit;
  } else if (rc == SL_OK) {
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s@current_units must be \"rate\", \"RI_model\", "
                  "\"RI_volts\" or \"ampere\" (got '%s')", f->path, where, cu);
  }
  if (rc == SL_OK)
    rc = read_stimulus(r, g, where, p, 0, p->protocol == SL_STIM_DECAY, la, lb);
  if (rc == SL_OK)
    rc = read_stimulus(r, g, where, p, 1, p->protocol == SL_STIM_PSP, 1.0, 0.0);
  if (rc == SL_OK)
    rc = read_stimulus(r, g, where, p, 2,
                       p->protocol == SL_STIM_CURRENT || p->protocol == SL_CHARAC_RAMP, ca, 0.0);
  /* pre and duration: informative; by default the recorded window */
  p->pre = p->time[0] < 0 ? -p->time[0] : 0.0;
  p->duration = p->time[p->n_samples - 1];
  if (rc == SL_OK)
    rc = slh_get_attr_opt(f, g, where, "pre", H5T_NATIVE_DOUBLE, 1, &p->pre);
  if (rc == SL_OK)
    rc = slh_get_attr_opt(f, g, where, "duration", H5T_NATIVE_DOUBLE, 1, &p->duration);
  if (g >= 0)
    H5Oclose(g);
  return rc;
}

/* membrane and time of /protocols/<name> (group `where`). membrane is
 * (rows, trials, samples) or, for one trial, (rows, samples); integer
 * (ADC codes) or float. */
static int read_samples(const reader *r, const char *where, sl_charac_protocol *p)
{
  const slh_file *f = r->f;
  const sl_charac *c = r->c;
  char name[160], units[32];
  hsize_t dm[H5S_MAX_RANK], dt;
  hid_t d = -1;
  int rank;
  void *buf;
  snprintf(name, sizeof name, "%s/membrane", where);
  int rc = slh_open_dataset_any(f, name, H5T_NO_CLASS, &rank, dm, &d);
  if (rc != SL_OK)
    return rc;
  if (rank == 2)
    dm[2] = dm[1], dm[1] = 1;
  if (rank != 2 && rank != 3) {
    H5Dclose(d);
    return sl_error(SL_EFORMAT, WHO ": '%s': %s must be (neurons, trials, samples) or (neurons, "
                    "samples) for one trial (rank %d)", f->path, name, rank);
  }
  const size_t total = (size_t)(dm[0] * dm[1] * dm[2]);
  p->membrane = malloc((total ? total : 1) * sizeof *p->membrane);
  rc = p->membrane ? slh_read(f, d, name, H5T_NATIVE_FLOAT, total, p->membrane)
                   : sl_error(SL_ENOMEM, WHO ": out of memory");
  H5Dclose(d);
  if (rc != SL_OK)
    return rc;
  if (dm[0] != p->n_rows)
    return sl_error(SL_EFORMAT, WHO ": '%s': %s has %llu neurons, %s has %zu", f->path, name,
                    (unsigned long long)dm[0], p->row ? "the protocol's neurons" : "/neurons",
                    p->n_rows);
  if ((rc = units_of(f, name, units, sizeof units)) != SL_OK)
    return rc;
  if (*units && strcmp(units, c->membrane_units))
    return sl_error(SL_EFORMAT,
                    WHO ": '%s': %s: units '%s' differ from the file's membrane_units '%s'",
                    f->path, name, units, c->membrane_units);
  p->repeats = dm[1];
  p->n_samples = dm[2];
  if (!p->repeats || p->n_samples < 4)
    return sl_error(SL_EFORMAT, WHO ": '%s': %s: no trials or fewer than 4 samples", f->path,
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
  if (*units && strcmp(units, "s"))
    return sl_error(SL_EFORMAT, WHO ": '%s': %s: units must be \"s\" (got '%s')", f->path, name,
                    units);
  for (size_t j = 0; j < p->n_samples; j++)
    if (!isfinite(p->time[j]) || (j && !(p->time[j] > p->time[j - 1])))
      return sl_error(SL_EFORMAT, WHO ": '%s': %s is not finite and increasing at sample %zu",
                      f->path, name, j);
  return SL_OK;
}

/* spike_neuron, spike_trial, spike_time of /protocols/<name> (group
 * `where`), all three or none (no spikes); spike_neuron is a membrane row
 * in the file, a /neurons row in memory. */
static int read_spikes(const reader *r, const char *where, sl_charac_protocol *p)
{
  const slh_file *f = r->f;
  const sl_charac *c = r->c;
  static const char *const sp[3] = {"spike_neuron", "spike_trial", "spike_time"};
  char name[160];
  hsize_t d[3];
  int present = 0;
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "%s/%s", where, sp[i]);
    present += slh_exists(f, name);
  }
  if (present == 0) {
    p->spike_neuron = malloc(sizeof(uint32_t));
    p->spike_trial = malloc(sizeof(uint32_t));
    p->spike_time = malloc(sizeof(double));
    if (!p->spike_neuron || !p->spike_trial || !p->spike_time)
      return sl_error(SL_ENOMEM, WHO ": out of memory");
    return SL_OK;
  }
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
  for (size_t i = 0; i < p->n_spikes; i++) {
    if (p->spike_neuron[i] >= p->n_rows || p->spike_trial[i] >= p->repeats ||
        !isfinite(p->spike_time[i]))
      return sl_error(SL_EFORMAT,
                      WHO ": '%s': %s/spike_*[%zu] out of range (neuron row %u of %zu, trial %u "
                      "of %zu)", f->path, where, i, (unsigned)p->spike_neuron[i], p->n_rows,
                      (unsigned)p->spike_trial[i], p->repeats);
    if (p->row) { /* membrane row -> /neurons row */
      size_t k = 0;
      while (p->row[k] != (int32_t)p->spike_neuron[i])
        k++;
      p->spike_neuron[i] = (uint32_t)k;
    }
  }
  snprintf(name, sizeof name, "%s/spike_time", where);
  hid_t o = H5Oopen(f->id, name, H5P_DEFAULT);
  int rc = o < 0 ? sl_error(SL_EIO, WHO ": '%s': cannot open %s", f->path, name)
                 : slh_get_attr_opt(f, o, name, "resolution", H5T_NATIVE_DOUBLE, 1,
                                    &p->spike_resolution);
  if (o >= 0)
    H5Oclose(o);
  if (rc == SL_OK && !(p->spike_resolution >= 0))
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s@resolution must be >= 0 s", f->path, name);
  (void)c;
  return rc;
}

static int read_protocol(const reader *r, const char *pname)
{
  const slh_file *f = r->f;
  char where[128], kind[32] = "";
  snprintf(where, sizeof where, "/protocols/%s", pname);
  sl_charac_protocol *p = new_protocol(r->c);
  if (!p)
    return sl_error(SL_ENOMEM, WHO ": out of memory");
  snprintf(p->name, sizeof p->name, "%s", pname);
  if (strlen(pname) >= sizeof p->name)
    return sl_error(SL_EFORMAT, WHO ": '%s': %s: protocol names have at most %zu characters",
                    f->path, where, sizeof p->name - 1);
  hid_t g = -1;
  int rc = slh_open_group(f, where, &g);
  if (rc == SL_OK && !(rc = text_attr(f, g, where, "protocol", kind, sizeof kind)) && !*kind)
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s: missing string attribute 'protocol'", f->path,
                  where);
  if (g >= 0)
    H5Oclose(g);
  for (int k = 1; rc == SL_OK && k <= 3; k++)
    if (strcmp(kind, proto_names[k]) == 0)
      p->protocol = k;
  if (rc == SL_OK && strcmp(kind, "ramp") == 0)
    p->protocol = SL_CHARAC_RAMP;
  if (rc == SL_OK && !p->protocol)
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s: unknown protocol '%s' (known: decay, psp, current, ramp)",
                  f->path, where, kind);
  if (rc == SL_OK)
    rc = read_rows(r, where, p);
  if (rc == SL_OK)
    rc = read_samples(r, where, p);
  if (rc == SL_OK)
    rc = read_protocol_attrs(r, where, p);
  if (rc == SL_OK)
    rc = read_spikes(r, where, p);
  return rc;
}

/* The root attributes. */
static int read_root(reader *r)
{
  const slh_file *f = r->f;
  sl_charac *c = r->c;
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
  if (slh_get_attr_opt(f, root, "/", "adc_bits", H5T_NATIVE_INT, 1, &c->adc_bits))
    c->adc_bits = 0;
  sl_clear_error();
  /* the volt mapping: informative unless a value is given in volts */
  c->volt_at_zero = 0.0;
  c->volt_per_unit = 1.0;
  int okz = slh_has_attr(f, root, "/", "volt_at_zero") > 0 &&
            slh_get_attr(f, root, "/", "volt_at_zero", H5T_NATIVE_DOUBLE, 1, &c->volt_at_zero) ==
                SL_OK;
  int oku = slh_has_attr(f, root, "/", "volt_per_unit") > 0 &&
            slh_get_attr(f, root, "/", "volt_per_unit", H5T_NATIVE_DOUBLE, 1,
                         &c->volt_per_unit) == SL_OK;
  if (!okz)
    c->volt_at_zero = 0.0;
  if (!oku || c->volt_per_unit == 0)
    c->volt_per_unit = 1.0, oku = 0;
  r->have_vmap = okz && oku;
  sl_clear_error();
  rc = SL_OK;
  if ((rc = text_attr(f, root, "/", "membrane_units", c->membrane_units,
                      sizeof c->membrane_units)) == SL_OK &&
      strcmp(c->membrane_units, "adc") && strcmp(c->membrane_units, "model") &&
      strcmp(c->membrane_units, "V"))
    rc = sl_error(SL_EFORMAT,
                  WHO ": '%s': root attribute membrane_units must be \"adc\", \"V\" or \"model\" "
                  "(got '%s')", f->path, c->membrane_units);
  if (rc == SL_OK)
    rc = slh_get_attr(f, root, "/", "time_scale", H5T_NATIVE_DOUBLE, 1, &c->time_scale);
  if (rc == SL_OK)
    rc = slh_get_attr_opt(f, root, "/", "dt", H5T_NATIVE_DOUBLE, 1, &c->dt);
  if (rc == SL_OK)
    rc = slh_get_attr_opt(f, root, "/", "spike_delay", H5T_NATIVE_DOUBLE, 1, &c->spike_delay);
  if (rc == SL_OK && !(c->time_scale > 0))
    rc = sl_error(SL_EFORMAT, WHO ": '%s': time_scale must be > 0", f->path);
  /* informative, but it marks the saturated codes (2^bits - 1) */
  if (rc == SL_OK && (c->adc_bits < 0 || c->adc_bits > 24))
    rc = sl_error(SL_EFORMAT, WHO ": '%s': root attribute adc_bits = %d: expected 0 (exact) to 24",
                  f->path, c->adc_bits);
  /* a known readout: volts, or ADC codes with their mapping to volts */
  if (rc == SL_OK)
    rc = slh_get_attr_opt(f, root, "/", "adc_volts_per_code", H5T_NATIVE_DOUBLE, 1,
                          &c->adc_volts_per_code);
  if (rc == SL_OK)
    rc = slh_get_attr_opt(f, root, "/", "adc_offset", H5T_NATIVE_DOUBLE, 1, &c->adc_offset);
  if (rc == SL_OK && c->adc_volts_per_code != 0 && strcmp(c->membrane_units, "adc"))
    rc = sl_error(SL_EFORMAT, WHO ": '%s': adc_volts_per_code is given but membrane_units is "
                  "'%s' (not \"adc\")", f->path, c->membrane_units);
  if (rc == SL_OK && c->adc_volts_per_code < 0)
    rc = sl_error(SL_EFORMAT, WHO ": '%s': adc_volts_per_code must be > 0", f->path);
  if (rc == SL_OK && !strcmp(c->membrane_units, "V") &&
      (rc = need_vmap(r, "the membrane (membrane_units = \"V\")")) == SL_OK) {
    c->readout_known = 1;
    c->readout_alpha = c->volt_at_zero;
    c->readout_beta = c->volt_per_unit;
  }
  if (rc == SL_OK && c->adc_volts_per_code > 0 &&
      (rc = need_vmap(r, "the ADC mapping (adc_volts_per_code)")) == SL_OK) {
    c->readout_known = 1;
    c->readout_alpha = (c->volt_at_zero - c->adc_offset) / c->adc_volts_per_code;
    c->readout_beta = c->volt_per_unit / c->adc_volts_per_code;
  }
  H5Oclose(root);
  return rc;
}

/* /neurons and /config (gain_nominal optional: 1 / dt, a weight unit of one
 * model unit per step, when missing). */
static int read_config(const reader *r)
{
  const slh_file *f = r->f;
  sl_charac *c = r->c;
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
  for (size_t i = 0; i < c->n; i++)
    for (size_t k = 0; k < i; k++)
      if (c->neurons[i] == c->neurons[k])
        return sl_error(SL_EFORMAT, WHO ": '%s': /neurons lists neuron %u twice", f->path,
                        (unsigned)c->neurons[i]);
  if (!slh_exists(f, "/config/gain_nominal")) {
    if (!(c->gain_nominal = malloc(c->n * sizeof *c->gain_nominal)))
      return sl_error(SL_ENOMEM, WHO ": out of memory");
    for (size_t i = 0; i < c->n; i++)
      c->gain_nominal[i] = c->dt > 0 ? 1.0 / c->dt : NAN;
    return SL_OK;
  }
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

/* The names of /protocols's members, any number (malloc'ed). */
typedef struct {
  char **names;
  size_t n, cap;
  int nomem;
} name_list;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
  (void)g;
  (void)info;
  name_list *l = data;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **q = realloc(l->names, cap * sizeof *q);
    if (!q) {
      l->nomem = 1;
      return -1;
    }
    l->names = q;
    l->cap = cap;
  }
  if (!(l->names[l->n] = strdup(name))) {
    l->nomem = 1;
    return -1;
  }
  l->n++;
  return 0;
}

/* Every group of /protocols, in name order. */
static int read_protocols(const reader *r)
{
  const slh_file *f = r->f;
  hid_t g = -1;
  name_list names = {NULL, 0, 0, 0};
  int rc = slh_open_group(f, "/protocols", &g);
  if (rc != SL_OK)
    return rc;
  if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &names) < 0)
    rc = names.nomem ? sl_error(SL_ENOMEM, WHO ": out of memory")
                     : sl_error(SL_EIO, WHO ": '%s': cannot list /protocols", f->path);
  H5Oclose(g);
  for (size_t k = 0; k < names.n && rc == SL_OK; k++)
    rc = read_protocol(r, names.names[k]);
  for (size_t k = 0; k < names.n; k++)
    free(names.names[k]);
  free(names.names);
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
    reader r = {&f, c, 0};
    if (rc == SL_OK)
      rc = read_root(&r);
    if (rc == SL_OK)
      rc = read_config(&r);
    if (rc == SL_OK)
      rc = read_protocols(&r);
    slh_close(&f);
  }
  H5E_END_TRY;
  if (rc)
    sl_charac_free(c);
  return rc;
}
