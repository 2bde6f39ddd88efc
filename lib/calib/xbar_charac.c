/* xbar_charac.c -- characterising the devices of a crossbar backend: the
 * SL_STIM_DEVICE protocols at a few levels (sl_xbar_run) and the HDF5
 * recording that keeps what they read (layout in spikeloop/xbar.h). The fit
 * and the map are in xbar_twin.c. */
#include "config.h"
#include "spikeloop/xbar.h"
#include "spikeloop/error.h"
#include "xbar_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHO "crossbar recording"
#define FORMAT_NAME "spikeloop-xbar-characterisation"
#define FORMAT_VERSION 1
#define DEFAULT_AGE (30.0 * 86400.0)

sl_xbar_protocols sl_xbar_protocols_default(void)
{
  sl_xbar_protocols p = {{0.0, 0.5, 1.0}, 3, 8, 8, 0.0};
  return p;
}

void sl_xbar_charac_free(sl_xbar_charac *c)
{
  if (!c)
    return;
  free(c->dev_layer);
  free(c->dev_row);
  free(c->dev_col);
  free(c->dev_sign);
  for (size_t k = 0; k < c->n_protocols; k++) {
    free(c->proto[k].time);
    free(c->proto[k].g);
  }
  free(c->proto);
  memset(c, 0, sizeof *c);
}

/* read_config key as a number; SL_EUNSUPPORTED naming the key if missing. */
static int config_number(sl_hw *hw, const char *key, double *out)
{
  char buf[64];
  if (sl_hw_read_config(hw, key, buf, sizeof buf) != SL_OK)
    return sl_error(SL_EUNSUPPORTED, "crossbar characterisation: backend '%s' does not state "
                    "'%s' (not a crossbar backend?)", sl_hw_name(hw), key);
  char *e;
  double v = strtod(buf, &e);
  if (e == buf || !isfinite(v))
    return sl_error(SL_EFORMAT, "crossbar characterisation: backend '%s' states %s = '%s', "
                    "not a number", sl_hw_name(hw), key, buf);
  *out = v;
  return SL_OK;
}

/* The crossbar model of hw's network. */
static int geometry(sl_hw *hw, sl_xbar_geometry *g)
{
  memset(g, 0, sizeof *g);
  double levels = 0, age = 0, comp = 0;
  int rc = config_number(hw, "g_min", &g->g_min);
  if (!rc)
    rc = config_number(hw, "g_max", &g->g_max);
  if (!rc)
    rc = config_number(hw, "levels", &levels);
  if (!rc)
    rc = config_number(hw, "drift_t0", &g->drift_t0);
  if (!rc)
    rc = config_number(hw, "drift_time", &age);
  if (!rc)
    rc = config_number(hw, "drift_compensation", &comp);
  if (rc)
    return rc;
  g->compensation = comp != 0;
  g->levels = (int)levels;
  g->age = age;
  const sl_backend_setup *s = sl_hw_setup(hw);
  g->n_layers = s->n_layers + 1;
  for (size_t l = 0; l < g->n_layers; l++) {
    g->n_in[l] = l == 0 ? s->n_in : s->size[l - 1];
    g->n_out[l] = s->size[l];
  }
  return SL_OK;
}

/* Global neuron id -> crossbar layer and column. */
static int locate(const sl_xbar_geometry *g, uint32_t id, size_t *layer, size_t *col)
{
  size_t base = 0;
  for (size_t l = 0; l < g->n_layers; l++) {
    if (id < base + g->n_out[l]) {
      *layer = l;
      *col = id - base;
      return SL_OK;
    }
    base += g->n_out[l];
  }
  return sl_error(SL_EINVAL, "crossbar characterisation: neuron %u is outside the network's "
                  "0..%zu", (unsigned)id, base - 1);
}

int sl_xbar_run(sl_hw *hw, const uint32_t *neurons, size_t n, const sl_xbar_protocols *pp,
                sl_xbar_charac *c)
{
  if (!hw || !c)
    return sl_error(SL_EINVAL, "sl_xbar_run: NULL argument");
  sl_xbar_charac_free(c);
  const sl_xbar_protocols p = pp ? *pp : sl_xbar_protocols_default();
  if (!p.n_levels || p.n_levels > 3 || !p.repeats || !p.reads || !(p.age >= 0))
    return sl_error(SL_EINVAL, "sl_xbar_run: need 1-3 levels, repeats and reads >= 1, age >= 0");
  int rc = geometry(hw, &c->geo);
  if (rc)
    return rc;
  snprintf(c->backend, sizeof c->backend, "%s", sl_hw_name(hw));
  const char *o = sl_hw_setup(hw)->options;
  snprintf(c->options, sizeof c->options, "%s", o ? o : "");
  double age = p.age > 0 ? p.age : c->geo.age > 0 ? c->geo.age : DEFAULT_AGE;
  c->geo.age = age;
  size_t n_total = 0;
  for (size_t l = 0; l < c->geo.n_layers; l++)
    n_total += c->geo.n_out[l];
  uint32_t *all = NULL;
  if (!neurons) {
    all = malloc(n_total * sizeof *all);
    if (!all)
      return sl_error(SL_ENOMEM, "crossbar characterisation: out of memory");
    for (size_t i = 0; i < n_total; i++)
      all[i] = (uint32_t)i;
    neurons = all;
    n = n_total;
  }
  size_t n_dev = 0;
  for (size_t k = 0; k < n && !rc; k++) {
    size_t l = 0, j = 0;
    if (!(rc = locate(&c->geo, neurons[k], &l, &j)))
      n_dev += 2 * c->geo.n_in[l];
  }
  if (!rc) {
    c->dev_layer = malloc(n_dev * sizeof(uint32_t));
    c->dev_row = malloc(n_dev * sizeof(uint32_t));
    c->dev_col = malloc(n_dev * sizeof(uint32_t));
    c->dev_sign = malloc(n_dev);
    c->proto = calloc(p.n_levels, sizeof *c->proto);
    if (!c->dev_layer || !c->dev_row || !c->dev_col || !c->dev_sign || !c->proto)
      rc = sl_error(SL_ENOMEM, "crossbar characterisation: out of memory for %zu devices", n_dev);
  }
  size_t d = 0;
  for (size_t k = 0; k < n && !rc; k++) { /* the order SL_STIM_DEVICE observes them in */
    size_t l = 0, j = 0;
    locate(&c->geo, neurons[k], &l, &j);
    for (size_t i = 0; i < c->geo.n_in[l]; i++)
      for (int s = 0; s < 2; s++, d++) {
        c->dev_layer[d] = (uint32_t)l;
        c->dev_row[d] = (uint32_t)i;
        c->dev_col[d] = (uint32_t)j;
        c->dev_sign[d] = (uint8_t)s;
      }
  }
  c->n_dev = n_dev;
  sl_observations obs;
  sl_obs_init(&obs);
  const double grange = c->geo.g_max - c->geo.g_min;
  for (size_t v = 0; v < p.n_levels && !rc; v++) {
    sl_stimulus st = {.protocol = SL_STIM_DEVICE, .neurons = neurons, .n_neurons = n,
                      .repeats = p.repeats, .pre = 0.0, .duration = age, .level = p.levels[v],
                      .reads = p.reads, .times = 2};
    rc = sl_hw_stimulate(hw, &st, &obs);
    if (rc)
      break;
    const size_t ns = 2 * p.reads, B = p.repeats;
    if (obs.n_neurons != n_dev || obs.n_samples != ns || obs.B != B) {
      rc = sl_error(SL_EFORMAT, "crossbar characterisation: backend '%s' observed %zu devices x "
                    "%zu samples x %zu repeats, expected %zu x %zu x %zu", c->backend,
                    obs.n_neurons, obs.n_samples, obs.B, n_dev, ns, B);
      break;
    }
    sl_xbar_protocol *q = &c->proto[c->n_protocols++];
    snprintf(q->name, sizeof q->name, "level_%zu", v);
    q->level = p.levels[v];
    double g = c->geo.g_min + grange * q->level;
    if (c->geo.levels >= 2) {
      double L = (double)(c->geo.levels - 1);
      g = c->geo.g_min + rint(q->level * L) * grange / L;
    }
    q->g_target = g;
    q->duration = age;
    q->repeats = B;
    q->reads = p.reads;
    q->times = 2;
    q->time = malloc(ns * sizeof *q->time);
    q->g = malloc(n_dev * B * ns * sizeof *q->g);
    if (!q->time || !q->g) {
      rc = sl_error(SL_ENOMEM, "crossbar characterisation: out of memory");
      break;
    }
    for (size_t j = 0; j < ns; j++)
      q->time[j] = (double)(j / p.reads) * age;
    for (size_t j = 0; j < ns; j++)
      for (size_t b = 0; b < B; b++)
        for (size_t e = 0; e < n_dev; e++)
          q->g[(e * B + b) * ns + j] = obs.membrane[(j * B + b) * n_dev + e];
  }
  sl_obs_free(&obs);
  free(all);
  if (rc)
    sl_xbar_charac_free(c);
  return rc;
}

/* ------------------------------------------------------------ writing */

herr_t slx_write_geometry(hid_t f, const sl_xbar_geometry *g)
{
  const int n_layers = (int)g->n_layers;
  if (slh_attr_double(f, "/", "g_min", g->g_min) < 0 ||
      slh_attr_double(f, "/", "g_max", g->g_max) < 0 ||
      slh_attr_int(f, "/", "levels", g->levels) < 0 ||
      slh_attr_double(f, "/", "drift_t0", g->drift_t0) < 0 ||
      slh_attr_double(f, "/", "age", g->age) < 0 ||
      slh_attr_int(f, "/", "compensation", g->compensation) < 0 ||
      slh_attr_int(f, "/", "n_layers", n_layers) < 0)
    return -1;
  for (size_t l = 0; l < g->n_layers; l++) {
    char name[32];
    snprintf(name, sizeof name, "/layers/%zu", l);
    hid_t gr = slh_group(f, name);
    if (gr < 0)
      return -1;
    herr_t st = slh_attr_i64(gr, ".", "n_in", (long long)g->n_in[l]) < 0 ||
                        slh_attr_i64(gr, ".", "n_out", (long long)g->n_out[l]) < 0
                    ? -1
                    : 0;
    H5Gclose(gr);
    if (st < 0)
      return -1;
  }
  return 0;
}

static herr_t write_recording(hid_t f, const void *arg, const char **what)
{
  const sl_xbar_charac *c = arg;
  *what = "root attributes";
  char created[32];
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  if (slh_attr_str(f, "/", "format", FORMAT_NAME) < 0 ||
      slh_attr_int(f, "/", "format_version", FORMAT_VERSION) < 0 ||
      slh_attr_str(f, "/", "backend", c->backend) < 0 ||
      slh_attr_str(f, "/", "options", c->options) < 0 ||
      slh_attr_str(f, "/", "created", created) < 0 || slx_write_geometry(f, &c->geo) < 0)
    return -1;
  *what = "/devices";
  const hsize_t nd = c->n_dev;
  if (slh_dataset(f, "/devices/layer", H5T_STD_I32LE, H5T_NATIVE_UINT32, 1, &nd, c->dev_layer,
                  SLH_SHUFFLE) < 0 ||
      slh_dataset(f, "/devices/row", H5T_STD_I32LE, H5T_NATIVE_UINT32, 1, &nd, c->dev_row,
                  SLH_SHUFFLE) < 0 ||
      slh_dataset(f, "/devices/col", H5T_STD_I32LE, H5T_NATIVE_UINT32, 1, &nd, c->dev_col,
                  SLH_SHUFFLE) < 0 ||
      slh_dataset(f, "/devices/sign", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &nd, c->dev_sign,
                  SLH_SHUFFLE) < 0)
    return -1;
  for (size_t k = 0; k < c->n_protocols; k++) {
    const sl_xbar_protocol *q = &c->proto[k];
    *what = q->name;
    char g[96], t[128], d[128];
    snprintf(g, sizeof g, "/protocols/%s", q->name);
    snprintf(t, sizeof t, "%s/time", g);
    snprintf(d, sizeof d, "%s/conductance", g);
    const hsize_t ns = q->times * q->reads, dims[3] = {c->n_dev, q->repeats, ns};
    hid_t gr = slh_group(f, g);
    if (gr < 0)
      return -1;
    herr_t st = 0;
    if (slh_attr_double(gr, ".", "level", q->level) < 0 ||
        slh_attr_double(gr, ".", "g_target", q->g_target) < 0 ||
        slh_attr_double(gr, ".", "duration", q->duration) < 0 ||
        slh_attr_i64(gr, ".", "repeats", (long long)q->repeats) < 0 ||
        slh_attr_i64(gr, ".", "reads", (long long)q->reads) < 0 ||
        slh_attr_i64(gr, ".", "times", (long long)q->times) < 0)
      st = -1;
    H5Gclose(gr);
    if (st < 0 ||
        slh_dataset(f, t, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &ns, q->time, SLH_PLAIN) < 0 ||
        slh_attr_str(f, t, "units", "s") < 0 ||
        slh_dataset(f, d, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, q->g, SLH_DEFLATE) < 0)
      return -1;
  }
  return 0;
}

int sl_xbar_charac_write(const sl_xbar_charac *c, const char *path)
{
  if (!c || !path || !*path)
    return sl_error(SL_EINVAL, "sl_xbar_charac_write: NULL argument");
  return slh_write_file(WHO, path, write_recording, c);
}

/* ------------------------------------------------------------ reading */

int slx_read_geometry(const slh_file *f, sl_xbar_geometry *g)
{
  memset(g, 0, sizeof *g);
  hid_t root = -1;
  int n_layers = 0, rc = slh_open_group(f, "/", &root);
  if (!rc)
    rc = slh_get_attr(f, root, "/", "g_min", H5T_NATIVE_DOUBLE, 1, &g->g_min);
  if (!rc)
    rc = slh_get_attr(f, root, "/", "g_max", H5T_NATIVE_DOUBLE, 1, &g->g_max);
  if (!rc)
    rc = slh_get_attr(f, root, "/", "levels", H5T_NATIVE_INT, 1, &g->levels);
  if (!rc)
    rc = slh_get_attr(f, root, "/", "drift_t0", H5T_NATIVE_DOUBLE, 1, &g->drift_t0);
  if (!rc)
    rc = slh_get_attr(f, root, "/", "age", H5T_NATIVE_DOUBLE, 1, &g->age);
  if (!rc)
    rc = slh_get_attr(f, root, "/", "compensation", H5T_NATIVE_INT, 1, &g->compensation);
  if (!rc)
    rc = slh_get_attr(f, root, "/", "n_layers", H5T_NATIVE_INT, 1, &n_layers);
  if (root >= 0)
    H5Gclose(root);
  if (!rc && (n_layers < 1 || n_layers > SL_XBAR_MAX_LAYERS))
    rc = sl_error(SL_EFORMAT, "%s: '%s': n_layers = %d is outside 1..%d", f->who, f->path,
                  n_layers, SL_XBAR_MAX_LAYERS);
  if (!rc && !(g->g_max > g->g_min && g->g_min >= 0))
    rc = sl_error(SL_EFORMAT, "%s: '%s': need 0 <= g_min < g_max (got %g, %g)", f->who, f->path,
                  g->g_min, g->g_max);
  if (!rc && !(g->drift_t0 > 0 && g->age >= 0))
    rc = sl_error(SL_EFORMAT, "%s: '%s': need drift_t0 > 0 and age >= 0", f->who, f->path);
  g->n_layers = rc ? 0 : (size_t)n_layers;
  for (size_t l = 0; l < g->n_layers && !rc; l++) {
    char name[32];
    snprintf(name, sizeof name, "/layers/%zu", l);
    hid_t gr = -1;
    long long a = 0, b = 0;
    rc = slh_open_group(f, name, &gr);
    if (!rc)
      rc = slh_get_attr(f, gr, name, "n_in", H5T_NATIVE_LLONG, 1, &a);
    if (!rc)
      rc = slh_get_attr(f, gr, name, "n_out", H5T_NATIVE_LLONG, 1, &b);
    if (gr >= 0)
      H5Gclose(gr);
    if (!rc && (a < 1 || b < 1 || a > (1ll << 28) / b))
      rc = sl_error(SL_EFORMAT, "%s: '%s': %s is %lld x %lld", f->who, f->path, name, a, b);
    if (!rc) {
      g->n_in[l] = (size_t)a;
      g->n_out[l] = (size_t)b;
    }
  }
  return rc;
}

int sl_xbar_is_recording(const char *path)
{
  slh_file f;
  int yes = 0;
  H5E_BEGIN_TRY
  {
    if (slh_open_read(&f, WHO, path) == SL_OK) {
      yes = slh_check_format(&f, FORMAT_NAME, 0, "crossbar recording") == SL_OK;
      slh_close(&f);
    }
  }
  H5E_END_TRY;
  sl_clear_error();
  return yes;
}

static int read_protocol(const slh_file *f, sl_xbar_charac *c, const char *name)
{
  sl_xbar_protocol *q = &c->proto[c->n_protocols];
  memset(q, 0, sizeof *q);
  snprintf(q->name, sizeof q->name, "%s", name);
  char g[96], t[128], d[128];
  snprintf(g, sizeof g, "/protocols/%s", name);
  snprintf(t, sizeof t, "%s/time", g);
  snprintf(d, sizeof d, "%s/conductance", g);
  hid_t gr = -1;
  long long rep = 0, reads = 0, times = 0;
  int rc = slh_open_group(f, g, &gr);
  if (!rc)
    rc = slh_get_attr(f, gr, g, "level", H5T_NATIVE_DOUBLE, 1, &q->level);
  if (!rc)
    rc = slh_get_attr(f, gr, g, "g_target", H5T_NATIVE_DOUBLE, 1, &q->g_target);
  if (!rc)
    rc = slh_get_attr(f, gr, g, "duration", H5T_NATIVE_DOUBLE, 1, &q->duration);
  if (!rc)
    rc = slh_get_attr(f, gr, g, "repeats", H5T_NATIVE_LLONG, 1, &rep);
  if (!rc)
    rc = slh_get_attr(f, gr, g, "reads", H5T_NATIVE_LLONG, 1, &reads);
  if (!rc)
    rc = slh_get_attr(f, gr, g, "times", H5T_NATIVE_LLONG, 1, &times);
  if (gr >= 0)
    H5Gclose(gr);
  if (!rc && (rep < 1 || reads < 1 || times < 1 || rep * reads * times > (1ll << 28)))
    rc = sl_error(SL_EFORMAT, WHO ": '%s': %s: repeats, reads and times must be >= 1", f->path,
                  g);
  if (rc)
    return rc;
  q->repeats = (size_t)rep;
  q->reads = (size_t)reads;
  q->times = (size_t)times;
  const hsize_t ns = q->reads * q->times, dims[3] = {c->n_dev, q->repeats, ns};
  q->time = malloc(ns * sizeof *q->time);
  q->g = malloc(c->n_dev * q->repeats * ns * sizeof *q->g);
  if (!q->time || !q->g) {
    free(q->time);
    free(q->g);
    return sl_error(SL_ENOMEM, WHO ": out of memory for %s", g);
  }
  c->n_protocols++; /* freed with c from here on */
  rc = slh_read_exact(f, t, H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, &ns, q->time);
  if (!rc)
    rc = slh_read_exact(f, d, H5T_FLOAT, H5T_NATIVE_FLOAT, 3, dims, q->g);
  return rc;
}

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
  (void)g;
  (void)info;
  char **names = data;
  for (size_t k = 0; k < 64; k++)
    if (!names[k]) {
      names[k] = strdup(name);
      return names[k] ? 0 : -1;
    }
  return -1;
}

int sl_xbar_charac_read(sl_xbar_charac *c, const char *path)
{
  if (!c || !path)
    return sl_error(SL_EINVAL, "sl_xbar_charac_read: NULL argument");
  sl_xbar_charac_free(c);
  slh_file f;
  int rc;
  char *names[65] = {0};
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    if (!rc) {
      rc = slh_check_format(&f, FORMAT_NAME, FORMAT_VERSION, "crossbar recording");
      char *s = NULL;
      if (!rc && slh_get_attr_str_opt(&f, f.id, "/", "backend", "", &s) == SL_OK)
        snprintf(c->backend, sizeof c->backend, "%s", s);
      free(s);
      s = NULL;
      if (!rc && slh_get_attr_str_opt(&f, f.id, "/", "options", "", &s) == SL_OK)
        snprintf(c->options, sizeof c->options, "%s", s);
      free(s);
      sl_clear_error();
      if (!rc)
        rc = slx_read_geometry(&f, &c->geo);
      hsize_t nd = 0;
      void *buf = NULL;
      if (!rc)
        rc = slh_read_alloc(&f, "/devices/layer", H5T_INTEGER, H5T_NATIVE_UINT32, 1, &nd, &buf);
      c->dev_layer = buf;
      c->n_dev = rc ? 0 : (size_t)nd;
      const hsize_t want = c->n_dev;
      if (!rc) {
        c->dev_row = malloc(want * sizeof(uint32_t) + 1);
        c->dev_col = malloc(want * sizeof(uint32_t) + 1);
        c->dev_sign = malloc(want + 1);
        if (!c->dev_row || !c->dev_col || !c->dev_sign)
          rc = sl_error(SL_ENOMEM, WHO ": out of memory");
      }
      if (!rc)
        rc = slh_read_exact(&f, "/devices/row", H5T_INTEGER, H5T_NATIVE_UINT32, 1, &want,
                            c->dev_row);
      if (!rc)
        rc = slh_read_exact(&f, "/devices/col", H5T_INTEGER, H5T_NATIVE_UINT32, 1, &want,
                            c->dev_col);
      if (!rc)
        rc = slh_read_exact(&f, "/devices/sign", H5T_INTEGER, H5T_NATIVE_UINT8, 1, &want,
                            c->dev_sign);
      for (size_t d = 0; !rc && d < c->n_dev; d++) {
        size_t l = c->dev_layer[d];
        if (l >= c->geo.n_layers || c->dev_row[d] >= c->geo.n_in[l] ||
            c->dev_col[d] >= c->geo.n_out[l] || c->dev_sign[d] > 1)
          rc = sl_error(SL_EFORMAT, WHO ": '%s': /devices entry %zu (layer %u, row %u, col %u, "
                        "sign %u) is outside the crossbar", path, d, (unsigned)c->dev_layer[d],
                        (unsigned)c->dev_row[d], (unsigned)c->dev_col[d],
                        (unsigned)c->dev_sign[d]);
      }
      hid_t pg = -1;
      if (!rc)
        rc = slh_open_group(&f, "/protocols", &pg);
      if (!rc && H5Literate(pg, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, names) < 0)
        rc = sl_error(SL_EFORMAT, WHO ": '%s': cannot list /protocols (more than 64?)", path);
      if (pg >= 0)
        H5Gclose(pg);
      size_t np = 0;
      while (names[np])
        np++;
      if (!rc && !np)
        rc = sl_error(SL_EFORMAT, WHO ": '%s': /protocols is empty", path);
      if (!rc && !(c->proto = calloc(np, sizeof *c->proto)))
        rc = sl_error(SL_ENOMEM, WHO ": out of memory");
      for (size_t k = 0; k < np && !rc; k++)
        rc = read_protocol(&f, c, names[k]);
      slh_close(&f);
    }
  }
  H5E_END_TRY;
  for (size_t k = 0; names[k]; k++)
    free(names[k]);
  if (rc)
    sl_xbar_charac_free(c);
  return rc;
}
