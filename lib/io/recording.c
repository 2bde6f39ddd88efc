/* recording.c -- record a backend's weight writes, requests and observations
 * to HDF5 (format in spikeloop/recording.h), to be served back by the
 * "replay" backend (hw/replay/replay.c).
 *
 * Choices:
 * - Handles as in runlog.c: every public function runs its body inside one
 *   H5E_BEGIN_TRY / H5E_END_TRY (HDF5 prints nothing); every hid_t starts at
 *   -1 and is closed in the body's `out:` block on every path. A failing
 *   HDF5 call maps to SL_EIO naming the file and the object.
 * - Default (earliest) file format: a recording cut short by a killed process
 *   opens without h5clear, with every run committed before the kill.
 * - Strings are scalar variable-length UTF-8 attributes; counts and indices
 *   int64, flags int32, reals float64.
 * - Arguments are checked before anything is written: x holds only 0/1;
 *   obs->B and obs->n_neurons agree with the run and the network; spike
 *   samples and neurons are in range; spike times, membrane values and the
 *   sample grid are finite. What replay would refuse is never recorded.
 * - Run k is written as /runs/<k> with k the committed count; a group of that
 *   name left by a failed append (or a killed process) is deleted first, and
 *   a failed append deletes its half-written group. /runs@count is raised
 *   only once the group is complete, then the file is flushed: count is the
 *   commit mark, and groups past it are never read.
 * - A weight write is not flushed on its own: it matters only to the runs that
 *   refer to it, and the flush after the next run covers it.
 * - x and membrane (the bulk of a recording that may hold thousands of runs)
 *   are chunked and deflate-compressed at level 1 (membrane with shuffle)
 *   when the filter is available; small and empty arrays stay contiguous.
 * - Not thread-safe (nor is the serial HDF5 library): one thread per recorder.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* gmtime_r, strdup under -std=c11 */
#endif

#include "spikeloop/recording.h"
#include "spikeloop/error.h"
#include "spikeloop/version.h"

#include "io/h5.h"

#include <hdf5.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORMAT_NAME "spikeloop-recording"
#define FORMAT_VERSION 1

struct sl_recorder {
  hid_t file;
  char *path;
  size_t n_in, n_layers, n_neurons;
  size_t size[SL_MAX_LAYERS + 1];
  long n_weights; /* /weights/<k> written */
  long n_runs;    /* committed runs (= /runs@count) */
  int64_t in_effect[SL_MAX_LAYERS + 1][2]; /* /weights index per layer, which; -1: none */
};

/* ------------------------------------------------------------ helpers */

/* Expected shape of layer's w_in (which 0) or w_rec (which 1). */
static void weight_shape(const sl_recorder *r, size_t layer, int which, size_t *rows, size_t *cols)
{
  *cols = r->size[layer];
  *rows = which ? r->size[layer] : layer ? r->size[layer - 1] : r->n_in;
}

/* ------------------------------------------------------------ create */

static int check_setup(const sl_backend_setup *s, const sl_backend_caps *caps)
{
  if (s->n_in == 0)
    return sl_error(SL_EINVAL, "sl_recorder_create: setup n_in is 0");
  if (s->n_layers > SL_MAX_LAYERS)
    return sl_error(SL_EINVAL, "sl_recorder_create: setup n_layers = %zu exceeds %d", s->n_layers,
                    SL_MAX_LAYERS);
  for (size_t l = 0; l <= s->n_layers; l++)
    if (s->size[l] == 0)
      return sl_error(SL_EINVAL, "sl_recorder_create: setup size[%zu] is 0", l);
  if (!isfinite(s->dt) || s->dt <= 0)
    return sl_error(SL_EINVAL, "sl_recorder_create: setup dt = %g is not a positive number", s->dt);
  if (!isfinite(caps->sample_period) || !isfinite(caps->time_scale) ||
      !isfinite(caps->membrane_gain))
    return sl_error(SL_EINVAL, "sl_recorder_create: caps %s is not finite",
                    !isfinite(caps->sample_period) ? "sample_period"
                    : !isfinite(caps->time_scale)  ? "time_scale"
                                                   : "membrane_gain");
  return SL_OK;
}

/* Root attributes, /setup, /caps, empty /weights and /runs (count 0). */
static int write_header(sl_recorder *r, const char *backend_name, const sl_backend_setup *s,
                        const sl_backend_caps *c)
{
  hid_t grp = -1;
  const char *what = "write the root attributes";
  char created[64] = "unknown";
  time_t now = time(NULL);
  struct tm tm;
  if (now != (time_t)-1 && gmtime_r(&now, &tm))
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  size_t L = s->n_layers + 1;
  int64_t sizes[SL_MAX_LAYERS + 1];
  int recurrent[SL_MAX_LAYERS + 1];
  for (size_t l = 0; l < L; l++) {
    sizes[l] = (int64_t)s->size[l];
    recurrent[l] = s->recurrent[l] != 0;
  }
  unsigned observables = c->observables;
  int rc = SL_EIO;

  if (slh_attr_str(r->file, ".", "format", FORMAT_NAME) < 0 ||
      slh_attr_int(r->file, ".", "format_version", FORMAT_VERSION) < 0 ||
      slh_attr_str(r->file, ".", "backend", backend_name) < 0 ||
      slh_attr_str(r->file, ".", "created", created) < 0 ||
      slh_attr_str(r->file, ".", "library_version", sl_version()) < 0)
    goto out;

  what = "write /setup";
  grp = slh_group(r->file, "setup");
  if (grp < 0 || slh_attr_i64(grp, ".", "n_in", (int64_t)s->n_in) < 0 ||
      slh_attr_i64(grp, ".", "n_layers", (int64_t)s->n_layers) < 0 ||
      slh_attr(grp, ".", "sizes", H5T_STD_I64LE, H5T_NATIVE_INT64, L, sizes) < 0 ||
      slh_attr(grp, ".", "recurrent", H5T_STD_I32LE, H5T_NATIVE_INT, L, recurrent) < 0 ||
      slh_attr_double(grp, ".", "dt", s->dt) < 0 ||
      slh_attr_i64(grp, ".", "max_steps", (int64_t)s->max_steps) < 0 ||
      slh_attr_i64(grp, ".", "max_batch", (int64_t)s->max_batch) < 0 ||
      slh_attr(grp, ".", "w_unit", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, L, s->w_unit) < 0 ||
      slh_attr_str(grp, ".", "options", s->options ? s->options : "") < 0)
    goto out;
  H5Gclose(grp);
  grp = -1;

  what = "write /caps";
  grp = slh_group(r->file, "caps");
  if (grp < 0 || slh_attr_i64(grp, ".", "max_neurons", (int64_t)c->max_neurons) < 0 ||
      slh_attr_i64(grp, ".", "max_fan_in", (int64_t)c->max_fan_in) < 0 ||
      slh_attr_int(grp, ".", "weight_levels", c->weight_levels) < 0 ||
      slh_attr_int(grp, ".", "sign_by_row_pair", c->sign_by_row_pair) < 0 ||
      slh_attr_int(grp, ".", "adc_bits", c->adc_bits) < 0 ||
      slh_attr_double(grp, ".", "sample_period", c->sample_period) < 0 ||
      slh_attr_double(grp, ".", "time_scale", c->time_scale) < 0 ||
      slh_attr_double(grp, ".", "membrane_gain", c->membrane_gain) < 0 ||
      slh_attr_double(grp, ".", "membrane_gain_readout", c->membrane_gain_readout) < 0 ||
      slh_attr_str(grp, ".", "membrane_units", c->membrane_units ? c->membrane_units : "") < 0 ||
      slh_attr(grp, ".", "observables", H5T_STD_U32LE, H5T_NATIVE_UINT, 0, &observables) < 0 ||
      slh_attr_int(grp, ".", "recurrent", c->recurrent) < 0)
    goto out;
  H5Gclose(grp);
  grp = -1;

  what = "create /weights";
  grp = slh_group(r->file, "weights");
  if (grp < 0)
    goto out;
  H5Gclose(grp);
  grp = -1;

  what = "create /runs";
  grp = slh_group(r->file, "runs");
  if (grp < 0 || slh_attr_i64(grp, ".", "count", 0) < 0)
    goto out;
  what = "close /runs";
  herr_t closed = H5Gclose(grp);
  grp = -1;
  if (closed < 0)
    goto out;
  rc = SL_OK;
out:
  if (grp >= 0)
    H5Gclose(grp);
  if (rc != SL_OK)
    rc = sl_error(SL_EIO, "sl_recorder_create: '%s': cannot %s", r->path, what);
  return rc;
}

static int recorder_create(sl_recorder **out, const char *path, const char *backend_name,
                           const sl_backend_setup *setup, const sl_backend_caps *caps)
{
  if (!out)
    return sl_error(SL_EINVAL, "sl_recorder_create: output pointer is NULL");
  *out = NULL;
  if (!path || !backend_name || !setup || !caps)
    return sl_error(SL_EINVAL, "sl_recorder_create: %s is NULL",
                    !path ? "path" : !backend_name ? "backend name" : !setup ? "setup" : "caps");
  if (!*path)
    return sl_error(SL_EINVAL, "sl_recorder_create: empty path");
  int rc = check_setup(setup, caps);
  if (rc != SL_OK)
    return rc;

  sl_recorder *r = calloc(1, sizeof *r);
  char *name = strdup(path);
  if (!r || !name) {
    free(r);
    free(name);
    return sl_error(SL_ENOMEM, "sl_recorder_create: out of memory");
  }
  r->file = -1;
  r->path = name;
  r->n_in = setup->n_in;
  r->n_layers = setup->n_layers;
  for (size_t l = 0; l <= setup->n_layers; l++) {
    r->size[l] = setup->size[l];
    r->n_neurons += setup->size[l];
    r->in_effect[l][0] = r->in_effect[l][1] = -1;
  }

  hid_t file = slh_create("sl_recorder_create", path);
  if (file < 0) {
    rc = SL_EIO;
    goto out;
  }
  r->file = file;
  if ((rc = write_header(r, backend_name, setup, caps)) != SL_OK)
    goto out;
  if ((rc = slh_flush(file, "sl_recorder_create", path)) != SL_OK)
    goto out;
  file = -1;
  *out = r;
  r = NULL;
  rc = SL_OK;
out:
  if (file >= 0)
    slh_abandon(file, path);
  if (r) {
    free(r->path);
    free(r);
  }
  return rc;
}

int sl_recorder_create(sl_recorder **out, const char *path, const char *backend_name,
                       const sl_backend_setup *setup, const sl_backend_caps *caps)
{
  int rc;
  H5E_BEGIN_TRY { rc = recorder_create(out, path, backend_name, setup, caps); }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ weights */

static int recorder_weights(sl_recorder *r, size_t layer, int which, const float *w, size_t rows,
                            size_t cols)
{
  if (!r)
    return sl_error(SL_EINVAL, "sl_recorder_weights: recorder is NULL");
  if (layer > r->n_layers)
    return sl_error(SL_EINVAL, "sl_recorder_weights: '%s': layer %zu > n_layers = %zu", r->path,
                    layer, r->n_layers);
  if (which != 0 && which != 1)
    return sl_error(SL_EINVAL, "sl_recorder_weights: '%s': which = %d is neither 0 (w_in) nor 1 "
                               "(w_rec)", r->path, which);
  size_t want_rows, want_cols;
  weight_shape(r, layer, which, &want_rows, &want_cols);
  if (rows != want_rows || cols != want_cols)
    return sl_error(SL_ESHAPE, "sl_recorder_weights: '%s': layer %zu %s is %zu x %zu, expected "
                               "%zu x %zu", r->path, layer, which ? "w_rec" : "w_in", rows, cols,
                    want_rows, want_cols);
  if (!w)
    return sl_error(SL_EINVAL, "sl_recorder_weights: '%s': weights are NULL", r->path);

  hid_t grp = -1, dset = -1;
  int rc = SL_EIO;
  char name[32];
  snprintf(name, sizeof name, "%ld", r->n_weights);
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  grp = H5Gopen2(r->file, "weights", H5P_DEFAULT);
  if (grp < 0)
    goto out;
  /* A name left by an earlier failed write is replaced. */
  htri_t exists = H5Lexists(grp, name, H5P_DEFAULT);
  if (exists < 0 || (exists > 0 && H5Ldelete(grp, name, H5P_DEFAULT) < 0))
    goto out;
  if (slh_dataset(grp, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, w, SLH_PLAIN) < 0)
    goto out;
  dset = H5Dopen2(grp, name, H5P_DEFAULT);
  if (dset < 0 || slh_attr_i64(dset, ".", "layer", (int64_t)layer) < 0 ||
      slh_attr_int(dset, ".", "which", which) < 0)
    goto out;
  r->in_effect[layer][which] = r->n_weights;
  r->n_weights++;
  rc = SL_OK;
out:
  if (dset >= 0 && H5Dclose(dset) < 0 && rc == SL_OK)
    rc = SL_EIO;
  if (grp >= 0)
    H5Gclose(grp);
  if (rc != SL_OK)
    rc = sl_error(SL_EIO, "sl_recorder_weights: '%s': cannot write /weights/%s", r->path, name);
  return rc;
}

int sl_recorder_weights(sl_recorder *r, size_t layer, int which, const float *w, size_t rows,
                        size_t cols)
{
  int rc;
  H5E_BEGIN_TRY { rc = recorder_weights(r, layer, which, w, rows, cols); }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ runs */

/* Check the observation of a run against the network; SL_OK or raises. */
static int check_obs(const sl_recorder *r, size_t B, const sl_observations *o)
{
  const char *fn = "sl_recorder_run";
  if (o->B != B || o->n_neurons != r->n_neurons)
    return sl_error(SL_ESHAPE, "%s: '%s': observation is for B = %zu, %zu neurons; the run has "
                               "B = %zu, the network %zu neurons", fn, r->path, o->B,
                    o->n_neurons, B, r->n_neurons);
  if (o->n_spikes && (!o->spike_sample || !o->spike_neuron || !o->spike_time))
    return sl_error(SL_EINVAL, "%s: '%s': observation has %zu spikes but NULL spike arrays", fn,
                    r->path, o->n_spikes);
  for (size_t i = 0; i < o->n_spikes; i++) {
    if (o->spike_sample[i] >= B || o->spike_neuron[i] >= r->n_neurons)
      return sl_error(SL_ERANGE, "%s: '%s': spike %zu is (sample %u, neuron %u), outside "
                                 "(%zu samples, %zu neurons)", fn, r->path, i,
                      (unsigned)o->spike_sample[i], (unsigned)o->spike_neuron[i], B,
                      r->n_neurons);
    if (!isfinite(o->spike_time[i]))
      return sl_error(SL_ENUMERIC, "%s: '%s': spike %zu has time %g", fn, r->path, i,
                      o->spike_time[i]);
  }
  if (!isfinite(o->sample_t0) || !isfinite(o->sample_period))
    return sl_error(SL_ENUMERIC, "%s: '%s': sample_t0 = %g, sample_period = %g: not finite", fn,
                    r->path, o->sample_t0, o->sample_period);
  if (o->n_samples) {
    if (B && r->n_neurons > SIZE_MAX / B / o->n_samples)
      return sl_error(SL_EINVAL, "%s: '%s': membrane size overflows size_t", fn, r->path);
    size_t n = o->n_samples * B * r->n_neurons;
    if (!o->membrane || o->membrane_cap < n)
      return sl_error(SL_EINVAL, "%s: '%s': membrane buffer holds %zu floats, %zu needed", fn,
                      r->path, o->membrane ? o->membrane_cap : 0, n);
    for (size_t i = 0; i < n; i++)
      if (!isfinite(o->membrane[i]))
        return sl_error(SL_ENUMERIC, "%s: '%s': membrane[%zu] = %g is not finite", fn, r->path,
                        i, (double)o->membrane[i]);
  }
  return SL_OK;
}

/* Write the datasets of run group grp. what: the item that failed. */
static herr_t write_run(sl_recorder *r, hid_t grp, const uint8_t *x8, size_t T, size_t B,
                        const sl_observations *o, const char **what)
{
  hid_t dset = -1;
  herr_t status = -1;
  hsize_t xdims[3] = {(hsize_t)T, (hsize_t)B, (hsize_t)r->n_in};
  hsize_t wdims[2] = {(hsize_t)(r->n_layers + 1), 2};
  hsize_t ns = (hsize_t)o->n_spikes;
  hsize_t mdims[3] = {(hsize_t)o->n_samples, (hsize_t)B, (hsize_t)r->n_neurons};
  *what = "x";
  if (slh_dataset(grp, "x", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, xdims, x8, SLH_DEFLATE) < 0)
    goto out;
  *what = "weights";
  if (slh_dataset(grp, "weights", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, wdims, r->in_effect,
                  SLH_PLAIN) < 0)
    goto out;
  *what = "spike_sample";
  if (slh_dataset(grp, "spike_sample", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &ns,
                  o->spike_sample, SLH_PLAIN) < 0)
    goto out;
  *what = "spike_neuron";
  if (slh_dataset(grp, "spike_neuron", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &ns,
                  o->spike_neuron, SLH_PLAIN) < 0)
    goto out;
  *what = "spike_time";
  if (slh_dataset(grp, "spike_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &ns,
                  o->spike_time, SLH_PLAIN) < 0)
    goto out;
  *what = "membrane";
  if (slh_dataset(grp, "membrane", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, mdims, o->membrane,
                  SLH_SHUFFLE) < 0)
    goto out;
  dset = H5Dopen2(grp, "membrane", H5P_DEFAULT);
  if (dset < 0 || slh_attr_double(dset, ".", "sample_t0", o->sample_t0) < 0 ||
      slh_attr_double(dset, ".", "sample_period", o->sample_period) < 0)
    goto out;
  status = 0;
out:
  if (dset >= 0 && H5Dclose(dset) < 0)
    status = -1;
  return status;
}

static int recorder_run(sl_recorder *r, const float *x, size_t T, size_t B,
                        const sl_observations *obs)
{
  const char *fn = "sl_recorder_run";
  if (!r)
    return sl_error(SL_EINVAL, "%s: recorder is NULL", fn);
  if (!x || !obs)
    return sl_error(SL_EINVAL, "%s: '%s': %s is NULL", fn, r->path, x ? "observation" : "x");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "%s: '%s': empty run (T = %zu, B = %zu)", fn, r->path, T, B);
  if (B > SIZE_MAX / T / r->n_in)
    return sl_error(SL_EINVAL, "%s: '%s': raster size overflows size_t", fn, r->path);
  int rc = check_obs(r, B, obs);
  if (rc != SL_OK)
    return rc;
  size_t n = T * B * r->n_in;
  uint8_t *x8 = malloc(n);
  if (!x8)
    return sl_error(SL_ENOMEM, "%s: '%s': out of memory for a %zu-byte raster", fn, r->path, n);
  for (size_t i = 0; i < n; i++) {
    if (x[i] != 0.0f && x[i] != 1.0f) {
      free(x8);
      return sl_error(SL_EINVAL, "%s: '%s': x[%zu] = %g: the input raster must hold 0 or 1", fn,
                      r->path, i, (double)x[i]);
    }
    x8[i] = x[i] != 0.0f;
  }

  hid_t runs = -1, grp = -1;
  const char *what = "open /runs";
  char name[32];
  snprintf(name, sizeof name, "%ld", r->n_runs);
  int64_t count = r->n_runs + 1;
  int created = 0;
  rc = SL_EIO;
  runs = H5Gopen2(r->file, "runs", H5P_DEFAULT);
  if (runs < 0)
    goto out;
  what = "replace a stale group";
  htri_t exists = H5Lexists(runs, name, H5P_DEFAULT);
  if (exists < 0 || (exists > 0 && H5Ldelete(runs, name, H5P_DEFAULT) < 0))
    goto out;
  what = "create the group";
  grp = slh_group(runs, name);
  if (grp < 0)
    goto out;
  created = 1;
  if (write_run(r, grp, x8, T, B, obs, &what) < 0)
    goto out;
  what = "close the group";
  herr_t closed = H5Gclose(grp);
  grp = -1;
  if (closed < 0)
    goto out;
  /* The group is complete: commit it. */
  what = "raise /runs@count";
  if (slh_attr_update(runs, "count", H5T_NATIVE_INT64, &count) < 0)
    goto out;
  r->n_runs++;
  created = 0;
  what = "flush";
  if (H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
    goto out;
  rc = SL_OK;
out:
  if (grp >= 0)
    H5Gclose(grp);
  if (created) /* best effort: the next append deletes it anyway */
    H5Ldelete(runs, name, H5P_DEFAULT);
  if (runs >= 0)
    H5Gclose(runs);
  free(x8);
  if (rc != SL_OK)
    rc = sl_error(SL_EIO, "%s: '%s': cannot write /runs/%s (%s)", fn, r->path, name, what);
  return rc;
}

int sl_recorder_run(sl_recorder *r, const float *x, size_t T, size_t B,
                    const sl_observations *obs)
{
  int rc;
  H5E_BEGIN_TRY { rc = recorder_run(r, x, T, B, obs); }
  H5E_END_TRY;
  return rc;
}

int sl_recorder_close(sl_recorder *r)
{
  if (!r)
    return SL_OK;
  int rc;
  H5E_BEGIN_TRY { rc = slh_flush_close(r->file, "sl_recorder_close", r->path); }
  H5E_END_TRY;
  free(r->path);
  free(r);
  return rc;
}
