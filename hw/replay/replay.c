/* replay.c -- the "replay" backend: serves the observations of a recording
 * (format in spikeloop/recording.h, behaviour in spikeloop/replay.h) back
 * to requests equal to the recorded ones.
 *
 * Choices:
 * - Requests are matched by content, never by position or index: a run
 *   matches when its raster (T, B, x) and, for every layer, its w_in and
 *   w_rec (or their absence) are byte-equal to the request. Contents are
 *   hashed with FNV-1a 64 and every hash hit is confirmed with memcmp.
 * - open indexes every committed run: it reads x (to hash it) and the
 *   weights table, and checks the type and shape of every observation
 *   dataset (metadata only). A recording with thousands of runs thus opens
 *   in one pass over the rasters; observations are read when served.
 *   Recorded weight arrays are read (and hashed) the first time a run using
 *   them is a candidate; the outcome of comparing one with the current
 *   weights is cached until the next write_weights.
 * - Structural damage in any committed run fails open (SL_EFORMAT naming
 *   the object): a broken recording is reported at once, not in the middle
 *   of training. Values (non-finite times or membrane, spikes out of range)
 *   are checked when a run is served. Groups past /runs@count (a run being
 *   written when the recorder died) are ignored.
 * - Equal requests recorded more than once are served least-served first,
 *   earliest first among equals: the recorded sequence again, then over.
 * - The state holds one pointer to a heap object: NULL until open succeeds,
 *   so close is safe after a failed open, or twice.
 * - Every slot runs inside H5E_BEGIN_TRY / H5E_END_TRY; every hid_t starts
 *   at -1 and is closed on every path (house style of lib/io/runlog.c).
 * - Not thread-safe: one thread per instance.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup under -std=c11 */
#endif

#include "spikeloop/replay.h"
#include "spikeloop/error.h"

#include <hdf5.h>

#include "io/h5.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "spikeloop-recording"
#define FORMAT_VERSION 1
#define PATH_LEN 4096
#define OBJ_LEN 96  /* "/runs/<k>/spike_sample" and the like */

/* One committed run, as indexed at open. */
typedef struct {
  size_t T, B;
  uint64_t x_hash;
  int64_t widx[SL_MAX_LAYERS + 1][2]; /* /weights index per layer, which; -1 none */
  unsigned long served;
} recorded_run;

/* One recorded weight array /weights/<k>. */
typedef struct {
  int checked;       /* metadata checked (referenced by some run) */
  int hashed;
  size_t layer, rows, cols;
  int which;
  uint64_t hash;
  uint64_t cmp_gen;  /* generation of the slot compared last (0: none) */
  int cmp_equal;
} replay_weight;

/* The current weights of one (layer, which). */
typedef struct {
  float *w;
  size_t rows, cols;
  uint64_t hash;
  uint64_t gen; /* unique per write; 0: never written */
} replay_slot;

typedef struct {
  uint64_t hash;
  size_t run;
} replay_key;

typedef struct {
  hid_t file;
  slh_file h5; /* file, path, "replay" for the h5 layer's messages */
  char *path, *backend, *created, *units;
  sl_backend_caps caps;
  size_t n_in, n_layers, n_neurons;
  size_t size[SL_MAX_LAYERS + 1];
  recorded_run *runs;
  size_t n_runs;
  replay_key *index; /* (x_hash, run), sorted */
  replay_weight *weights;
  size_t n_weights;
  replay_slot slot[SL_MAX_LAYERS + 1][2];
  uint64_t gen;
  uint8_t *xreq, *xrec; /* request and recorded raster */
  size_t xreq_cap, xrec_cap;
  float *wbuf;
  size_t wcap;
} replay;

typedef struct {
  replay *r;
} replay_state;

/* ------------------------------------------------------------ helpers */

static uint64_t fnv1a(const void *data, size_t n)
{
  const unsigned char *b = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static const char *which_name(int which) { return which ? "w_rec" : "w_in"; }

/* Expected shape of layer's w_in (which 0) or w_rec (which 1). */
static void weight_shape(const replay *r, size_t layer, int which, size_t *rows, size_t *cols)
{
  *cols = r->size[layer];
  *rows = which ? r->size[layer] : layer ? r->size[layer - 1] : r->n_in;
}

/* Grow *buf to hold n elements of `elem` bytes. */
static int reserve(void **buf, size_t *cap, size_t n, size_t elem)
{
  if (n <= *cap)
    return SL_OK;
  if (n > SIZE_MAX / elem)
    return SL_ENOMEM;
  void *p = realloc(*buf, n * elem);
  if (!p)
    return SL_ENOMEM;
  *buf = p;
  *cap = n;
  return SL_OK;
}

/* ------------------------------------------------------------ open */

static void replay_free(replay *r)
{
  if (!r)
    return;
  if (r->file >= 0)
    H5Fclose(r->file);
  for (size_t l = 0; l <= SL_MAX_LAYERS; l++)
    for (int w = 0; w < 2; w++)
      free(r->slot[l][w].w);
  free(r->path);
  free(r->backend);
  free(r->created);
  free(r->units);
  free(r->runs);
  free(r->index);
  free(r->weights);
  free(r->xreq);
  free(r->xrec);
  free(r->wbuf);
  free(r);
}

/* Root attributes: format, format_version, backend, created. */
static int read_root(replay *r)
{
  int rc = slh_check_format(&r->h5, FORMAT_NAME, FORMAT_VERSION, "spikeloop recording");
  if (rc != SL_OK)
    return rc;
  hid_t root = H5Oopen(r->file, "/", H5P_DEFAULT);
  if (root < 0)
    return sl_error(SL_EIO, "replay: '%s': cannot open the root group", r->path);
  rc = slh_get_attr_str(&r->h5, root, "/", "backend", &r->backend);
  if (rc == SL_OK)
    rc = slh_get_attr_str(&r->h5, root, "/", "created", &r->created);
  H5Oclose(root);
  return rc;
}

/* /setup: read and compare with the requested network. */
static int read_setup(replay *r, const sl_backend_setup *s)
{
  hid_t grp = -1;
  int64_t n_in = 0, n_layers = 0, sizes[SL_MAX_LAYERS + 1];
  int recurrent[SL_MAX_LAYERS + 1];
  double dt = 0;
  int rc = slh_open_group(&r->h5, "/setup", &grp);
  if (rc != SL_OK)
    goto out;
  if ((rc = slh_get_attr(&r->h5, grp, "/setup", "n_in", H5T_NATIVE_INT64, 1, &n_in)) != SL_OK ||
      (rc = slh_get_attr(&r->h5, grp, "/setup", "n_layers", H5T_NATIVE_INT64, 1, &n_layers)) != SL_OK)
    goto out;
  if (n_in <= 0 || n_layers < 0 || n_layers > SL_MAX_LAYERS) {
    rc = sl_error(SL_EFORMAT, "replay: '%s': /setup has n_in = %lld, n_layers = %lld", r->path,
                  (long long)n_in, (long long)n_layers);
    goto out;
  }
  size_t L = (size_t)n_layers + 1;
  if ((rc = slh_get_attr(&r->h5, grp, "/setup", "sizes", H5T_NATIVE_INT64, L, sizes)) != SL_OK ||
      (rc = slh_get_attr(&r->h5, grp, "/setup", "recurrent", H5T_NATIVE_INT, L, recurrent)) != SL_OK ||
      (rc = slh_get_attr(&r->h5, grp, "/setup", "dt", H5T_NATIVE_DOUBLE, 1, &dt)) != SL_OK)
    goto out;
  for (size_t l = 0; l < L; l++)
    if (sizes[l] <= 0) {
      rc = sl_error(SL_EFORMAT, "replay: '%s': /setup@sizes[%zu] = %lld", r->path, l,
                    (long long)sizes[l]);
      goto out;
    }

  rc = SL_EINVAL;
#define MISMATCH "replay: '%s': setup does not match the recording: "
  if (s->n_in != (size_t)n_in) {
    rc = sl_error(SL_EINVAL, MISMATCH "n_in = %zu, recorded %lld", r->path, s->n_in,
                  (long long)n_in);
    goto out;
  }
  if (s->n_layers != (size_t)n_layers) {
    rc = sl_error(SL_EINVAL, MISMATCH "n_layers = %zu, recorded %lld", r->path, s->n_layers,
                  (long long)n_layers);
    goto out;
  }
  for (size_t l = 0; l < L; l++)
    if (s->size[l] != (size_t)sizes[l]) {
      rc = sl_error(SL_EINVAL, MISMATCH "size[%zu] = %zu, recorded %lld", r->path, l, s->size[l],
                    (long long)sizes[l]);
      goto out;
    }
  for (size_t l = 0; l < L; l++)
    if ((s->recurrent[l] != 0) != (recurrent[l] != 0)) {
      rc = sl_error(SL_EINVAL, MISMATCH "recurrent[%zu] = %d, recorded %d", r->path, l,
                    s->recurrent[l] != 0, recurrent[l] != 0);
      goto out;
    }
  if (!(fabs(s->dt - dt) <= 1e-9 * fmax(fabs(s->dt), fabs(dt)))) {
    rc = sl_error(SL_EINVAL, MISMATCH "dt = %.17g, recorded %.17g", r->path, s->dt, dt);
    goto out;
  }
#undef MISMATCH
  r->n_in = (size_t)n_in;
  r->n_layers = (size_t)n_layers;
  r->n_neurons = 0;
  for (size_t l = 0; l < L; l++) {
    r->size[l] = (size_t)sizes[l];
    r->n_neurons += r->size[l];
  }
  rc = SL_OK;
out:
  if (grp >= 0)
    H5Oclose(grp);
  return rc;
}

/* /caps: every sl_backend_caps field. */
static int read_caps(replay *r)
{
  hid_t grp = -1;
  int64_t max_neurons = 0, max_fan_in = 0;
  sl_backend_caps *c = &r->caps;
  int rc = slh_open_group(&r->h5, "/caps", &grp);
  if (rc != SL_OK)
    return rc;
  if ((rc = slh_get_attr(&r->h5, grp, "/caps", "max_neurons", H5T_NATIVE_INT64, 1, &max_neurons)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "max_fan_in", H5T_NATIVE_INT64, 1, &max_fan_in)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "weight_levels", H5T_NATIVE_INT, 1, &c->weight_levels)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "sign_by_row_pair", H5T_NATIVE_INT, 1,
                     &c->sign_by_row_pair)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "adc_bits", H5T_NATIVE_INT, 1, &c->adc_bits)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "sample_period", H5T_NATIVE_DOUBLE, 1,
                     &c->sample_period)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "time_scale", H5T_NATIVE_DOUBLE, 1, &c->time_scale)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "membrane_gain", H5T_NATIVE_DOUBLE, 1,
                     &c->membrane_gain)) ||
      (H5Aexists(grp, "membrane_gain_readout") > 0 && /* optional: 0 if absent */
       (rc = slh_get_attr(&r->h5, grp, "/caps", "membrane_gain_readout", H5T_NATIVE_DOUBLE, 1,
                      &c->membrane_gain_readout))) ||
      (rc = slh_get_attr_str(&r->h5, grp, "/caps", "membrane_units", &r->units)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "observables", H5T_NATIVE_UINT, 1, &c->observables)) ||
      (rc = slh_get_attr(&r->h5, grp, "/caps", "recurrent", H5T_NATIVE_INT, 1, &c->recurrent)))
    goto out;
  if (max_neurons < 0 || max_fan_in < 0) {
    rc = sl_error(SL_EFORMAT, "replay: '%s': /caps@max_%s is negative", r->path,
                  max_neurons < 0 ? "neurons" : "fan_in");
    goto out;
  }
  c->max_neurons = (size_t)max_neurons;
  c->max_fan_in = (size_t)max_fan_in;
  c->membrane_units = r->units;
out:
  H5Oclose(grp);
  return rc;
}

/* Check /weights/<idx> the first time a run refers to it from (layer, which). */
static int check_weight(replay *r, size_t run, int64_t idx, size_t layer, int which)
{
  replay_weight *e = &r->weights[idx];
  if (e->checked) {
    if (e->layer == layer && e->which == which)
      return SL_OK;
    return sl_error(SL_EFORMAT, "replay: '%s': /runs/%zu/weights[%zu][%d] refers to /weights/%lld, "
                                "which is layer %zu %s",
                    r->path, run, layer, which, (long long)idx, e->layer, which_name(e->which));
  }
  char path[OBJ_LEN];
  snprintf(path, sizeof path, "/weights/%lld", (long long)idx);
  hid_t dset = -1;
  hsize_t dims[2], want[2];
  int64_t a_layer = -1;
  int a_which = -1;
  size_t rows, cols;
  weight_shape(r, layer, which, &rows, &cols);
  want[0] = rows;
  want[1] = cols;
  int rc = slh_open_dataset(&r->h5, path, H5T_FLOAT, 2, dims, &dset);
  if (rc != SL_OK)
    return rc;
  if (dims[0] != want[0] || dims[1] != want[1]) {
    rc = slh_bad_shape(&r->h5, path, 2, dims, want);
    goto out;
  }
  if ((rc = slh_get_attr(&r->h5, dset, path, "layer", H5T_NATIVE_INT64, 1, &a_layer)) != SL_OK ||
      (rc = slh_get_attr(&r->h5, dset, path, "which", H5T_NATIVE_INT, 1, &a_which)) != SL_OK)
    goto out;
  if (a_layer != (int64_t)layer || a_which != which) {
    rc = sl_error(SL_EFORMAT, "replay: '%s': /runs/%zu/weights[%zu][%d] refers to %s, whose "
                              "attributes say layer %lld, which %d",
                  r->path, run, layer, which, path, (long long)a_layer, a_which);
    goto out;
  }
  e->checked = 1;
  e->layer = layer;
  e->which = which;
  e->rows = rows;
  e->cols = cols;
out:
  H5Dclose(dset);
  return rc;
}

/* Index run k: hash its raster, read its weights table, check the shapes of
 * its observation datasets. */
static int index_run(replay *r, size_t k)
{
  char path[OBJ_LEN], base[48];
  hid_t dset = -1;
  hsize_t d3[3], d2[2], d1[1], n_spikes = 0, want[3];
  int rc;
  snprintf(base, sizeof base, "/runs/%zu", k);
  if (!slh_exists(&r->h5, base))
    return sl_error(SL_EFORMAT, "replay: '%s': no group %s (/runs@count = %zu)", r->path, base,
                    r->n_runs);
  recorded_run *run = &r->runs[k];

  /* x: (T, B, n_in) 0/1 */
  snprintf(path, sizeof path, "%s/x", base);
  if ((rc = slh_open_dataset(&r->h5, path, H5T_INTEGER, 3, d3, &dset)) != SL_OK)
    return rc;
  if (d3[0] == 0 || d3[1] == 0 || d3[2] != r->n_in) {
    want[0] = d3[0] ? d3[0] : 1;
    want[1] = d3[1] ? d3[1] : 1;
    want[2] = r->n_in;
    rc = slh_bad_shape(&r->h5, path, 3, d3, want);
    goto out;
  }
  if (d3[1] > SIZE_MAX / d3[0] / d3[2]) {
    rc = sl_error(SL_EFORMAT, "replay: '%s': %s is too large", r->path, path);
    goto out;
  }
  run->T = (size_t)d3[0];
  run->B = (size_t)d3[1];
  size_t n = run->T * run->B * r->n_in;
  if (reserve((void **)&r->xrec, &r->xrec_cap, n, 1) != SL_OK) {
    rc = sl_error(SL_ENOMEM, "replay: out of memory for a %zu-byte raster", n);
    goto out;
  }
  if ((rc = slh_read(&r->h5, dset, path, H5T_NATIVE_UINT8, n, r->xrec)) != SL_OK)
    goto out;
  for (size_t i = 0; i < n; i++)
    if (r->xrec[i] > 1) {
      rc = sl_error(SL_EFORMAT, "replay: '%s': %s[%zu] = %u is not 0 or 1", r->path, path, i,
                    (unsigned)r->xrec[i]);
      goto out;
    }
  run->x_hash = fnv1a(r->xrec, n);
  H5Dclose(dset);
  dset = -1;

  /* weights: (n_layers + 1, 2) indices into /weights */
  snprintf(path, sizeof path, "%s/weights", base);
  if ((rc = slh_open_dataset(&r->h5, path, H5T_INTEGER, 2, d2, &dset)) != SL_OK)
    return rc;
  want[0] = r->n_layers + 1;
  want[1] = 2;
  if (d2[0] != want[0] || d2[1] != want[1]) {
    rc = slh_bad_shape(&r->h5, path, 2, d2, want);
    goto out;
  }
  if ((rc = slh_read(&r->h5, dset, path, H5T_NATIVE_INT64, (r->n_layers + 1) * 2, run->widx)) !=
      SL_OK)
    goto out;
  for (size_t l = 0; l <= r->n_layers; l++)
    for (int w = 0; w < 2; w++) {
      int64_t idx = run->widx[l][w];
      if (idx < -1 || idx >= (int64_t)r->n_weights) {
        rc = sl_error(SL_EFORMAT, "replay: '%s': %s[%zu][%d] = %lld, but /weights holds %zu "
                                  "arrays", r->path, path, l, w, (long long)idx, r->n_weights);
        goto out;
      }
      if (idx >= 0 && (rc = check_weight(r, k, idx, l, w)) != SL_OK)
        goto out;
    }
  H5Dclose(dset);
  dset = -1;

  /* spike_sample, spike_neuron, spike_time: equal lengths */
  static const struct {
    const char *name;
    H5T_class_t cls;
  } spikes[3] = {{"spike_sample", H5T_INTEGER}, {"spike_neuron", H5T_INTEGER},
                 {"spike_time", H5T_FLOAT}};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", base, spikes[i].name);
    if ((rc = slh_open_dataset(&r->h5, path, spikes[i].cls, 1, d1, &dset)) != SL_OK)
      return rc;
    H5Dclose(dset);
    dset = -1;
    if (i == 0)
      n_spikes = d1[0];
    else if (d1[0] != n_spikes)
      return sl_error(SL_EFORMAT, "replay: '%s': %s has %llu elements, %s/spike_sample %llu",
                      r->path, path, (unsigned long long)d1[0], base,
                      (unsigned long long)n_spikes);
  }

  /* membrane: (n_samples, B, n_neurons) */
  snprintf(path, sizeof path, "%s/membrane", base);
  if ((rc = slh_open_dataset(&r->h5, path, H5T_FLOAT, 3, d3, &dset)) != SL_OK)
    return rc;
  want[0] = d3[0];
  want[1] = run->B;
  want[2] = r->n_neurons;
  if (d3[1] != want[1] || d3[2] != want[2])
    rc = slh_bad_shape(&r->h5, path, 3, d3, want);
out:
  if (dset >= 0)
    H5Dclose(dset);
  return rc;
}

static int key_cmp(const void *a, const void *b)
{
  const replay_key *x = a, *y = b;
  if (x->hash != y->hash)
    return x->hash < y->hash ? -1 : 1;
  return x->run < y->run ? -1 : x->run > y->run;
}

/* /weights size, /runs@count, then every run. */
static int index_runs(replay *r)
{
  hid_t grp = -1;
  H5G_info_t info;
  int64_t count = 0;
  int rc = slh_open_group(&r->h5, "/weights", &grp);
  if (rc != SL_OK)
    return rc;
  if (H5Gget_info(grp, &info) < 0) {
    H5Oclose(grp);
    return sl_error(SL_EIO, "replay: '%s': cannot list /weights", r->path);
  }
  H5Oclose(grp);
  r->n_weights = (size_t)info.nlinks;

  if ((rc = slh_open_group(&r->h5, "/runs", &grp)) != SL_OK)
    return rc;
  rc = slh_get_attr(&r->h5, grp, "/runs", "count", H5T_NATIVE_INT64, 1, &count);
  if (rc == SL_OK && H5Gget_info(grp, &info) < 0)
    rc = sl_error(SL_EIO, "replay: '%s': cannot list /runs", r->path);
  H5Oclose(grp);
  if (rc != SL_OK)
    return rc;
  if (count < 0 || (uint64_t)count > (uint64_t)info.nlinks)
    return sl_error(SL_EFORMAT, "replay: '%s': /runs@count = %lld, but /runs holds %llu groups",
                    r->path, (long long)count, (unsigned long long)info.nlinks);
  r->n_runs = (size_t)count;

  r->weights = calloc(r->n_weights ? r->n_weights : 1, sizeof *r->weights);
  r->runs = calloc(r->n_runs ? r->n_runs : 1, sizeof *r->runs);
  r->index = calloc(r->n_runs ? r->n_runs : 1, sizeof *r->index);
  if (!r->weights || !r->runs || !r->index)
    return sl_error(SL_ENOMEM, "replay: out of memory for %zu runs", r->n_runs);
  for (size_t k = 0; k < r->n_runs; k++) {
    if ((rc = index_run(r, k)) != SL_OK)
      return rc;
    r->index[k].hash = r->runs[k].x_hash;
    r->index[k].run = k;
  }
  qsort(r->index, r->n_runs, sizeof *r->index, key_cmp);
  return SL_OK;
}

static int replay_open_impl(replay_state *st, const sl_backend_setup *setup)
{
  if (!st || !setup)
    return sl_error(SL_EINVAL, "replay: open: %s is NULL", st ? "setup" : "state");
  if (st->r) { /* opened twice: start over */
    replay_free(st->r);
    st->r = NULL;
  }
  char path[PATH_LEN];
  if (!sl_backend_option(setup->options, "file", path, sizeof path) || !*path)
    return sl_error(SL_EINVAL, "replay: options '%s' do not name the recording (file=PATH)",
                    setup->options ? setup->options : "");
  if (strlen(path) >= sizeof path - 1)
    return sl_error(SL_EINVAL, "replay: recording path longer than %d characters", PATH_LEN - 2);
  if (setup->n_layers > SL_MAX_LAYERS)
    return sl_error(SL_EINVAL, "replay: setup n_layers = %zu exceeds %d", setup->n_layers,
                    SL_MAX_LAYERS);

  /* A plain open first, for a clear message on a missing or unreadable file. */
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "replay: cannot open recording '%s': %s", path, strerror(errno));
  fclose(f);
  if (H5Fis_hdf5(path) <= 0)
    return sl_error(SL_EIO, "replay: '%s' is not an HDF5 file", path);

  replay *r = calloc(1, sizeof *r);
  if (!r)
    return sl_error(SL_ENOMEM, "replay: out of memory");
  r->file = -1;
  int rc = SL_ENOMEM;
  if (!(r->path = strdup(path))) {
    rc = sl_error(SL_ENOMEM, "replay: out of memory");
    goto out;
  }
  r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (r->file < 0) {
    rc = sl_error(SL_EIO, "replay: '%s' is a damaged or truncated HDF5 file, or is being written "
                          "(HDF5 file locking)", path);
    goto out;
  }
  r->h5 = (slh_file){r->file, r->path, "replay"};
  if ((rc = read_root(r)) != SL_OK || (rc = read_setup(r, setup)) != SL_OK ||
      (rc = read_caps(r)) != SL_OK || (rc = index_runs(r)) != SL_OK)
    goto out;
  st->r = r;
  r = NULL;
out:
  replay_free(r);
  return rc;
}

/* ------------------------------------------------------------ slots */

static int replay_open(void *state, const sl_backend_setup *setup)
{
  int rc;
  H5E_BEGIN_TRY { rc = replay_open_impl(state, setup); }
  H5E_END_TRY;
  return rc;
}

static void replay_close(void *state)
{
  replay_state *st = state;
  if (!st)
    return;
  H5E_BEGIN_TRY { replay_free(st->r); }
  H5E_END_TRY;
  st->r = NULL;
}

static int replay_capabilities(void *state, sl_backend_caps *caps)
{
  replay_state *st = state;
  if (!st || !st->r || !caps)
    return sl_error(SL_EINVAL, "replay: capabilities: %s", caps ? "not open" : "caps is NULL");
  *caps = st->r->caps;
  return SL_OK;
}

static int replay_write_weights(void *state, size_t layer, int which, const float *w, size_t rows,
                                size_t cols)
{
  replay_state *st = state;
  if (!st || !st->r)
    return sl_error(SL_EINVAL, "replay: write_weights: not open");
  replay *r = st->r;
  if (layer > r->n_layers || (which != 0 && which != 1))
    return sl_error(SL_EINVAL, "replay: write_weights: no layer %zu %s (n_layers = %zu)", layer,
                    which == 1 ? "w_rec" : which == 0 ? "w_in" : "(bad which)", r->n_layers);
  size_t want_rows, want_cols;
  weight_shape(r, layer, which, &want_rows, &want_cols);
  if (rows != want_rows || cols != want_cols)
    return sl_error(SL_ESHAPE, "replay: write_weights: layer %zu %s is %zu x %zu, expected "
                               "%zu x %zu", layer, which_name(which), rows, cols, want_rows,
                    want_cols);
  if (!w)
    return sl_error(SL_EINVAL, "replay: write_weights: weights are NULL");
  replay_slot *s = &r->slot[layer][which];
  size_t n = rows * cols, cap = s->w ? s->rows * s->cols : 0;
  if (reserve((void **)&s->w, &cap, n, sizeof(float)) != SL_OK)
    return sl_error(SL_ENOMEM, "replay: write_weights: out of memory");
  memcpy(s->w, w, n * sizeof(float));
  s->rows = rows;
  s->cols = cols;
  s->hash = fnv1a(s->w, n * sizeof(float));
  s->gen = ++r->gen;
  return SL_OK;
}

/* Are recorded weights idx byte-equal to the current slot? (cached) */
static int weights_equal(replay *r, int64_t idx, const replay_slot *s, int *equal)
{
  replay_weight *e = &r->weights[idx];
  if (e->cmp_gen == s->gen) {
    *equal = e->cmp_equal;
    return SL_OK;
  }
  int eq = 0, have = 0, rc = SL_OK;
  size_t n = e->rows * e->cols;
  char path[OBJ_LEN];
  snprintf(path, sizeof path, "/weights/%lld", (long long)idx);
  if (e->rows == s->rows && e->cols == s->cols) {
    if (!e->hashed || e->hash == s->hash) {
      hid_t dset = -1;
      hsize_t dims[2];
      if (reserve((void **)&r->wbuf, &r->wcap, n, sizeof(float)) != SL_OK)
        return sl_error(SL_ENOMEM, "replay: out of memory");
      rc = slh_open_dataset(&r->h5, path, H5T_FLOAT, 2, dims, &dset);
      if (rc == SL_OK && (dims[0] != e->rows || dims[1] != e->cols))
        rc = sl_error(SL_EFORMAT, "replay: '%s': %s changed shape", r->path, path);
      if (rc == SL_OK)
        rc = slh_read(&r->h5, dset, path, H5T_NATIVE_FLOAT, n, r->wbuf);
      if (dset >= 0)
        H5Dclose(dset);
      if (rc != SL_OK)
        return rc;
      have = 1;
      if (!e->hashed) {
        e->hash = fnv1a(r->wbuf, n * sizeof(float));
        e->hashed = 1;
      }
    }
    if (e->hash == s->hash && have)
      eq = memcmp(r->wbuf, s->w, n * sizeof(float)) == 0;
  }
  e->cmp_gen = s->gen;
  e->cmp_equal = eq;
  *equal = eq;
  return SL_OK;
}

/* Do run k's weights equal the current ones? If not, *why says where they
 * first differ. */
static int run_weights_match(replay *r, size_t k, int *match, char *why, size_t len)
{
  const recorded_run *run = &r->runs[k];
  *match = 0;
  for (size_t l = 0; l <= r->n_layers; l++)
    for (int w = 0; w < 2; w++) {
      const replay_slot *s = &r->slot[l][w];
      int64_t idx = run->widx[l][w];
      if (idx < 0 && s->gen == 0)
        continue;
      if (idx < 0) {
        snprintf(why, len, "layer %zu %s was written here but not before the recorded run", l,
                 which_name(w));
        return SL_OK;
      }
      if (s->gen == 0) {
        snprintf(why, len, "layer %zu %s was not written here", l, which_name(w));
        return SL_OK;
      }
      int eq = 0, rc = weights_equal(r, idx, s, &eq);
      if (rc != SL_OK)
        return rc;
      if (!eq) {
        snprintf(why, len, "layer %zu %s differs", l, which_name(w));
        return SL_OK;
      }
    }
  *match = 1;
  return SL_OK;
}

/* Is run k's raster byte-equal to the request in r->xreq? */
static int run_x_equal(replay *r, size_t k, int *equal)
{
  const recorded_run *run = &r->runs[k];
  size_t n = run->T * run->B * r->n_in;
  char path[OBJ_LEN];
  hid_t dset = -1;
  hsize_t dims[3];
  snprintf(path, sizeof path, "/runs/%zu/x", k);
  int rc = slh_open_dataset(&r->h5, path, H5T_INTEGER, 3, dims, &dset);
  if (rc == SL_OK && (dims[0] != run->T || dims[1] != run->B || dims[2] != r->n_in))
    rc = sl_error(SL_EFORMAT, "replay: '%s': %s changed shape", r->path, path);
  if (rc == SL_OK)
    rc = slh_read(&r->h5, dset, path, H5T_NATIVE_UINT8, n, r->xrec);
  if (dset >= 0)
    H5Dclose(dset);
  if (rc == SL_OK)
    *equal = memcmp(r->xrec, r->xreq, n) == 0;
  return rc;
}

/* Serve the observations of run k into obs. */
static int serve(replay *r, size_t k, sl_observations *obs)
{
  const recorded_run *run = &r->runs[k];
  static const char *const names[3] = {"spike_sample", "spike_neuron", "spike_time"};
  char path[OBJ_LEN];
  hid_t dset[4] = {-1, -1, -1, -1};
  hsize_t d1[1], d3[3], n = 0;
  uint32_t *sample = NULL, *neuron = NULL;
  double *time = NULL, t0 = 0, period = 0;
  int rc = SL_OK;
  for (int i = 0; i < 3 && rc == SL_OK; i++) {
    snprintf(path, sizeof path, "/runs/%zu/%s", k, names[i]);
    rc = slh_open_dataset(&r->h5, path, i < 2 ? H5T_INTEGER : H5T_FLOAT, 1, d1, &dset[i]);
    if (rc == SL_OK && i == 0)
      n = d1[0];
    else if (rc == SL_OK && d1[0] != n)
      rc = sl_error(SL_EFORMAT, "replay: '%s': %s has %llu elements, spike_sample %llu", r->path,
                    path, (unsigned long long)d1[0], (unsigned long long)n);
  }
  if (rc != SL_OK)
    goto out;
  size_t ns = (size_t)n;
  sample = malloc((ns ? ns : 1) * sizeof *sample);
  neuron = malloc((ns ? ns : 1) * sizeof *neuron);
  time = malloc((ns ? ns : 1) * sizeof *time);
  if (!sample || !neuron || !time) {
    rc = sl_error(SL_ENOMEM, "replay: out of memory for %zu spikes", ns);
    goto out;
  }
  snprintf(path, sizeof path, "/runs/%zu/spike_sample", k);
  if ((rc = slh_read(&r->h5, dset[0], path, H5T_NATIVE_UINT32, ns, sample)) != SL_OK)
    goto out;
  snprintf(path, sizeof path, "/runs/%zu/spike_neuron", k);
  if ((rc = slh_read(&r->h5, dset[1], path, H5T_NATIVE_UINT32, ns, neuron)) != SL_OK)
    goto out;
  snprintf(path, sizeof path, "/runs/%zu/spike_time", k);
  if ((rc = slh_read(&r->h5, dset[2], path, H5T_NATIVE_DOUBLE, ns, time)) != SL_OK)
    goto out;
  for (size_t i = 0; i < ns; i++) {
    if (!isfinite(time[i])) {
      rc = sl_error(SL_EFORMAT, "replay: '%s': /runs/%zu/spike_time[%zu] = %g is not finite",
                    r->path, k, i, time[i]);
      goto out;
    }
    if (sample[i] >= run->B) {
      rc = sl_error(SL_EFORMAT, "replay: '%s': /runs/%zu/spike_sample[%zu] = %u, but the run has "
                                "B = %zu", r->path, k, i, (unsigned)sample[i], run->B);
      goto out;
    }
    if (neuron[i] >= r->n_neurons) {
      rc = sl_error(SL_EFORMAT, "replay: '%s': /runs/%zu/spike_neuron[%zu] = %u, but the network "
                                "has %zu neurons", r->path, k, i, (unsigned)neuron[i],
                    r->n_neurons);
      goto out;
    }
  }

  snprintf(path, sizeof path, "/runs/%zu/membrane", k);
  if ((rc = slh_open_dataset(&r->h5, path, H5T_FLOAT, 3, d3, &dset[3])) != SL_OK)
    goto out;
  if (d3[1] != run->B || d3[2] != r->n_neurons) {
    hsize_t want[3] = {d3[0], run->B, r->n_neurons};
    rc = slh_bad_shape(&r->h5, path, 3, d3, want);
    goto out;
  }
  if ((rc = slh_get_attr(&r->h5, dset[3], path, "sample_t0", H5T_NATIVE_DOUBLE, 1, &t0)) != SL_OK ||
      (rc = slh_get_attr(&r->h5, dset[3], path, "sample_period", H5T_NATIVE_DOUBLE, 1, &period)) != SL_OK)
    goto out;
  size_t n_samples = (size_t)d3[0];
  if (n_samples && r->n_neurons > SIZE_MAX / run->B / n_samples) {
    rc = sl_error(SL_EFORMAT, "replay: '%s': %s is too large", r->path, path);
    goto out;
  }
  size_t nm = n_samples * run->B * r->n_neurons;
  if ((rc = sl_obs_reset(obs, run->B, r->n_neurons, n_samples)) != SL_OK)
    goto out;
  if ((rc = slh_read(&r->h5, dset[3], path, H5T_NATIVE_FLOAT, nm, obs->membrane)) != SL_OK)
    goto out;
  for (size_t i = 0; i < nm; i++)
    if (!isfinite(obs->membrane[i])) {
      rc = sl_error(SL_EFORMAT, "replay: '%s': %s[%zu] = %g is not finite", r->path, path, i,
                    (double)obs->membrane[i]);
      goto out;
    }
  obs->sample_t0 = t0;
  obs->sample_period = period;
  for (size_t i = 0; i < ns; i++)
    if ((rc = sl_obs_add_spike(obs, sample[i], neuron[i], time[i])) != SL_OK)
      goto out;
out:
  for (int i = 0; i < 4; i++)
    if (dset[i] >= 0)
      H5Dclose(dset[i]);
  free(sample);
  free(neuron);
  free(time);
  return rc;
}

static int replay_run_impl(replay_state *st, const float *x, size_t T, size_t B,
                           sl_observations *obs)
{
  if (!st || !st->r)
    return sl_error(SL_EINVAL, "replay: run: not open");
  replay *r = st->r;
  if (!x || !obs)
    return sl_error(SL_EINVAL, "replay: run: %s is NULL", x ? "obs" : "x");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "replay: run: empty run (T = %zu, B = %zu)", T, B);
  if (B > SIZE_MAX / T / r->n_in)
    return sl_error(SL_EINVAL, "replay: run: raster size overflows size_t");
  size_t n = T * B * r->n_in;
  if (reserve((void **)&r->xreq, &r->xreq_cap, n, 1) != SL_OK ||
      reserve((void **)&r->xrec, &r->xrec_cap, n, 1) != SL_OK)
    return sl_error(SL_ENOMEM, "replay: out of memory for a %zu-byte raster", n);
  for (size_t i = 0; i < n; i++) {
    if (x[i] != 0.0f && x[i] != 1.0f)
      return sl_error(SL_EINVAL, "replay: run: x[%zu] = %g: the input raster must hold 0 or 1", i,
                      (double)x[i]);
    r->xreq[i] = x[i] != 0.0f;
  }
  uint64_t h = fnv1a(r->xreq, n);

  /* Candidates: runs with this raster hash, in recording order. */
  size_t lo = 0, hi = r->n_runs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->index[mid].hash < h)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t best = SIZE_MAX, first_other = SIZE_MAX;
  char why[160] = "", first_why[160] = "";
  for (size_t i = lo; i < r->n_runs && r->index[i].hash == h; i++) {
    size_t k = r->index[i].run;
    const recorded_run *run = &r->runs[k];
    if (run->T != T || run->B != B)
      continue;
    int match = 0, equal = 0, rc = run_weights_match(r, k, &match, why, sizeof why);
    if (rc != SL_OK)
      return rc;
    if (!match) {
      if (first_other == SIZE_MAX) {
        first_other = k;
        snprintf(first_why, sizeof first_why, "%s", why);
      }
      continue;
    }
    if ((rc = run_x_equal(r, k, &equal)) != SL_OK)
      return rc;
    if (!equal)
      continue;
    if (best == SIZE_MAX || run->served < r->runs[best].served)
      best = k;
  }
  if (best != SIZE_MAX) {
    int rc = serve(r, best, obs);
    if (rc == SL_OK)
      r->runs[best].served++;
    return rc;
  }

  /* Not found: say what did not match. */
  int equal = 0;
  if (first_other != SIZE_MAX) {
    int rc = run_x_equal(r, first_other, &equal);
    if (rc != SL_OK)
      return rc;
  }
  if (equal)
    return sl_error(SL_ENOTFOUND, "replay: '%s': no recorded run with this input raster (T=%zu, "
                                  "B=%zu) and these weights: the raster was recorded (run %zu), "
                                  "but %s", r->path, T, B, first_other, first_why);
  size_t same_shape = 0;
  for (size_t k = 0; k < r->n_runs; k++)
    same_shape += r->runs[k].T == T && r->runs[k].B == B;
  return sl_error(SL_ENOTFOUND, "replay: '%s': no recorded run with this input raster (T=%zu, "
                                "B=%zu) and these weights: the raster is not in the recording "
                                "(%zu of its %zu runs have T=%zu, B=%zu)", r->path, T, B,
                  same_shape, r->n_runs, T, B);
}

static int replay_run(void *state, const float *x, size_t T, size_t B, sl_observations *obs)
{
  int rc;
  H5E_BEGIN_TRY { rc = replay_run_impl(state, x, T, B, obs); }
  H5E_END_TRY;
  return rc;
}

static int replay_read_config(void *state, const char *key, char *buf, size_t len)
{
  replay_state *st = state;
  if (!st || !st->r || !key || !buf || !len)
    return sl_error(SL_EINVAL, "replay: read_config: %s", !st || !st->r ? "not open"
                                                            : !key       ? "key is NULL"
                                                                         : "no buffer");
  const replay *r = st->r;
  int n;
  if (strcmp(key, "file") == 0)
    n = snprintf(buf, len, "%s", r->path);
  else if (strcmp(key, "backend") == 0)
    n = snprintf(buf, len, "%s", r->backend);
  else if (strcmp(key, "created") == 0)
    n = snprintf(buf, len, "%s", r->created);
  else if (strcmp(key, "runs") == 0)
    n = snprintf(buf, len, "%zu", r->n_runs);
  else
    return sl_error(SL_ENOTFOUND, "replay: no configuration key '%s' (file, backend, created, "
                                  "runs)", key);
  if (n < 0 || (size_t)n >= len)
    return sl_error(SL_ERANGE, "replay: read_config '%s': value needs %d bytes, buffer has %zu",
                    key, n + 1, len);
  return SL_OK;
}

static const sl_backend replay_backend = {
    .version = 1, /* a version-1 table: no stimulate slot (kept so, to test old tables) */
    .name = "replay",
    .description = "serves the observations of a recording (options: file=PATH)",
    .state_size = sizeof(replay_state),
    .open = replay_open,
    .close = replay_close,
    .capabilities = replay_capabilities,
    .write_weights = replay_write_weights,
    .run = replay_run,
    .read_config = replay_read_config,
};

const sl_backend *sl_replay_backend(void) { return &replay_backend; }
