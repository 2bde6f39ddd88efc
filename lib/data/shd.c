/* shd.c -- the Spiking Heidelberg Digits HDF5 layout (spikeloop/shd.h):
 * /spikes/times and /spikes/units as per-sample variable-length arrays,
 * /labels; binned to the simulation grid, subsampled to the kept channels,
 * optionally augmented with channel jitter.
 *
 * Choices:
 * - Everything is checked before anything is binned: the three datasets'
 *   classes (variable-length float / variable-length integer / integer),
 *   their ranks and counts, then per sample the lengths, every unit and
 *   every time. A bad file is refused whole, with the first fault named
 *   (dataset, sample, element, value): a silently dropped spike would look
 *   like data.
 * - Only the asked samples are read (a hyperslab of [first, first+count)),
 *   so a test set taken from the tail of a training file does not load the
 *   whole file.
 * - Times are read as float (HDF5 converts float16 and float64); a float16
 *   time is exact in float. Binning is floor(t / dt) in double; a time at or
 *   after t_steps*dt falls off the grid (SHD digits last up to ~1.4 s).
 * - Jitter draws one shift per (sample, copy) from sl_seed_mix(seed, ...),
 *   so the augmented set does not depend on threads or on which samples
 *   were asked for.
 * - Goes through lib/io/h5 for opening and naming; vlen reads are local
 *   (no other format has them).
 */
#include "config.h"

#include "spikeloop/shd.h"
#include "spikeloop/error.h"
#include "base/rng.h"
#include "io/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const WHO = "sl_shd_load";

sl_shd_options sl_shd_options_default(void)
{
  sl_shd_options o = {
      .t_steps = 100,
      .dt = 0.01,
      .n_channels = 700,
      .n_classes = 20,
      .ch_first = 70,
      .ch_step = 9,
      .ch_count = 70,
      .first = 0,
      .count = 0,
      .copies = 0,
      .jitter = 0,
      .seed = 1,
  };
  return o;
}

static int check_options(const sl_shd_options *o)
{
  if (o->t_steps == 0 || o->n_channels == 0 || o->n_classes == 0 || o->ch_count == 0 ||
      o->ch_step == 0)
    return sl_error(SL_EINVAL, "%s: t_steps, n_channels, n_classes, ch_count and ch_step must "
                    "be > 0", WHO);
  if (!(isfinite(o->dt) && o->dt > 0.0))
    return sl_error(SL_EINVAL, "%s: dt = %g must be finite and > 0", WHO, o->dt);
  if (o->ch_first + (o->ch_count - 1) * o->ch_step >= o->n_channels)
    return sl_error(SL_EINVAL, "%s: kept channels %zu + %zu*k (k < %zu) go beyond the %zu "
                    "channels", WHO, o->ch_first, o->ch_step, o->ch_count, o->n_channels);
  if (o->jitter < 0)
    return sl_error(SL_EINVAL, "%s: jitter = %ld must be >= 0", WHO, o->jitter);
  if (o->t_steps > SIZE_MAX / o->ch_count)
    return sl_error(SL_EINVAL, "%s: raster of %zu x %zu overflows", WHO, o->t_steps, o->ch_count);
  return SL_OK;
}

/* "variable-length arrays of integers", "float numbers", ... for messages */
static const char *class_name(H5T_class_t c)
{
  switch (c) {
  case H5T_INTEGER:
    return "integers";
  case H5T_FLOAT:
    return "floats";
  case H5T_STRING:
    return "strings";
  case H5T_COMPOUND:
    return "compound values";
  case H5T_VLEN:
    return "variable-length arrays";
  default:
    return "non-numeric values";
  }
}

/* Describe dataset type `type` into buf. */
static void describe_type(hid_t type, char *buf, size_t len)
{
  H5T_class_t c = H5Tget_class(type);
  if (c == H5T_VLEN) {
    hid_t super = H5Tget_super(type);
    snprintf(buf, len, "variable-length arrays of %s",
             super >= 0 ? class_name(H5Tget_class(super)) : "?");
    if (super >= 0)
      H5Tclose(super);
  } else {
    snprintf(buf, len, "fixed-size %s", class_name(c));
  }
}

/* Open 1-D dataset path; vlen_of != H5T_NO_CLASS: it must be variable-length
 * arrays of that class; else it must be of class `cls`. *n = its length. */
static int open_1d(const slh_file *f, const char *path, H5T_class_t vlen_of, H5T_class_t cls,
                   hid_t *out, size_t *n)
{
  *out = -1;
  if (!slh_exists(f, path))
    return sl_error(SL_EFORMAT, "%s: '%s': no dataset %s (not the SHD layout)", WHO, f->path, path);
  hid_t d = H5Dopen2(f->id, path, H5P_DEFAULT);
  if (d < 0)
    return sl_error(SL_EFORMAT, "%s: '%s': %s is not a dataset", WHO, f->path, path);
  hid_t type = H5Dget_type(d), space = H5Dget_space(d);
  int rc = SL_OK;
  if (type < 0 || space < 0) {
    rc = sl_error(SL_EIO, "%s: '%s': cannot read the header of %s", WHO, f->path, path);
    goto out;
  }
  int ok;
  if (vlen_of != H5T_NO_CLASS) {
    ok = H5Tget_class(type) == H5T_VLEN;
    if (ok) {
      hid_t super = H5Tget_super(type);
      ok = super >= 0 && H5Tget_class(super) == vlen_of;
      if (super >= 0)
        H5Tclose(super);
    }
  } else {
    ok = H5Tget_class(type) == cls;
  }
  if (!ok) {
    char found[96];
    describe_type(type, found, sizeof found);
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s must hold %s%s, found %s", WHO, f->path, path,
                  vlen_of != H5T_NO_CLASS ? "variable-length arrays of " : "",
                  class_name(vlen_of != H5T_NO_CLASS ? vlen_of : cls), found);
    goto out;
  }
  hsize_t dims[H5S_MAX_RANK];
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
    rc = sl_error(SL_EIO, "%s: '%s': cannot read the shape of %s", WHO, f->path, path);
    goto out;
  }
  if (rank != 1) {
    char shape[96];
    slh_format_shape(shape, sizeof shape, rank, dims);
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s must be 1-D (one entry per sample), found shape %s",
                  WHO, f->path, path, shape);
    goto out;
  }
  *n = (size_t)dims[0];
out:
  if (type >= 0)
    H5Tclose(type);
  if (space >= 0)
    H5Sclose(space);
  if (rc == SL_OK)
    *out = d;
  else
    H5Dclose(d);
  return rc;
}

/* Read entries [first, first+count) of the open 1-D dataset d as mem_type
 * (a vlen type, or a plain one) into buf. */
static int read_slab(const slh_file *f, hid_t d, const char *path, hid_t mem_type, size_t first,
                     size_t count, void *buf)
{
  hsize_t start = first, cnt = count;
  int rc = slh_check_stored(f, d, path, count); /* not fill values of a dataset never written */
  if (rc != SL_OK)
    return rc;
  hid_t fs = H5Dget_space(d), ms = -1;
  if (fs < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL) < 0 ||
      (ms = H5Screate_simple(1, &cnt, NULL)) < 0 ||
      H5Dread(d, mem_type, ms, fs, H5P_DEFAULT, buf) < 0)
    rc = sl_error(SL_EIO, "%s: '%s': cannot read %s[%zu:%zu] (damaged or truncated file?)", WHO,
                  f->path, path, first, first + count);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  return rc;
}

static void reclaim(hid_t mem_type, size_t count, void *buf)
{
  hsize_t n = count;
  hid_t ms = H5Screate_simple(1, &n, NULL);
  if (ms < 0)
    return;
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(mem_type, ms, H5P_DEFAULT, buf);
#else
  H5Dvlen_reclaim(mem_type, ms, H5P_DEFAULT, buf);
#endif
  H5Sclose(ms);
}

int sl_shd_count(const char *path, size_t *n)
{
  if (!path || !n)
    return sl_error(SL_EINVAL, "sl_shd_count: NULL argument");
  slh_file f;
  int rc = SL_OK;
  hid_t d = -1;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    if (!rc)
      rc = open_1d(&f, "/labels", H5T_NO_CLASS, H5T_INTEGER, &d, n);
    if (d >= 0)
      H5Dclose(d);
    slh_close(&f);
  }
  H5E_END_TRY;
  return rc;
}

/* Check sample k (file index fi) of the read arrays. */
static int check_sample(const slh_file *f, const sl_shd_options *o, size_t fi, const hvl_t *tv,
                        const hvl_t *uv, int32_t label)
{
  if (tv->len != uv->len)
    return sl_error(SL_EFORMAT, "%s: '%s': sample %zu has %zu times (/spikes/times) but %zu "
                    "units (/spikes/units)", WHO, f->path, fi, (size_t)tv->len, (size_t)uv->len);
  if (label < 0 || (size_t)label >= o->n_classes)
    return sl_error(SL_EFORMAT, "%s: '%s': /labels[%zu] = %d is outside 0 .. %zu", WHO, f->path,
                    fi, (int)label, o->n_classes - 1);
  const float *t = tv->p;
  const int64_t *u = uv->p;
  for (size_t j = 0; j < tv->len; j++) {
    if (!isfinite(t[j]) || t[j] < 0.0f)
      return sl_error(SL_ENUMERIC, "%s: '%s': /spikes/times[%zu][%zu] = %g is %s", WHO, f->path,
                      fi, j, (double)t[j], isnan(t[j]) ? "NaN" : isinf(t[j]) ? "infinite"
                                                                              : "negative");
    if (u[j] < 0 || (uint64_t)u[j] >= o->n_channels)
      return sl_error(SL_EFORMAT, "%s: '%s': /spikes/units[%zu][%zu] = %lld is outside the "
                      "channels 0 .. %zu", WHO, f->path, fi, j, (long long)u[j],
                      o->n_channels - 1);
  }
  return SL_OK;
}

/* Bin one sample, channel ids shifted by `shift`, into row (T, ch_count). */
static void bin_sample(const sl_shd_options *o, const hvl_t *tv, const hvl_t *uv, long shift,
                       float *row)
{
  const float *t = tv->p;
  const int64_t *u = uv->p;
  memset(row, 0, o->t_steps * o->ch_count * sizeof *row);
  for (size_t j = 0; j < tv->len; j++) {
    long long c = (long long)u[j] + shift;
    if (c < (long long)o->ch_first || c >= (long long)o->n_channels)
      continue;
    size_t off = (size_t)c - o->ch_first;
    if (off % o->ch_step)
      continue;
    size_t k = off / o->ch_step;
    if (k >= o->ch_count)
      continue;
    double s = floor((double)t[j] / o->dt);
    if (s >= (double)o->t_steps)
      continue;
    row[(size_t)s * o->ch_count + k] += 1.0f;
  }
}

int sl_shd_load(sl_dataset *d, const char *path, const sl_shd_options *o)
{
  if (!d || !path || !o)
    return sl_error(SL_EINVAL, "%s: NULL argument", WHO);
  memset(d, 0, sizeof *d);
  int rc = check_options(o);
  if (rc)
    return rc;
  slh_file f = {-1, path, WHO};
  hid_t dt = -1, du = -1, dl = -1, mt = -1, mu = -1;
  hvl_t *tv = NULL, *uv = NULL;
  int32_t *labels = NULL;
  size_t nt = 0, nu = 0, nl = 0, count = 0;
  int have_t = 0, have_u = 0;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, WHO, path);
    if (!rc)
      rc = open_1d(&f, "/spikes/times", H5T_FLOAT, H5T_NO_CLASS, &dt, &nt);
    if (!rc)
      rc = open_1d(&f, "/spikes/units", H5T_INTEGER, H5T_NO_CLASS, &du, &nu);
    if (!rc)
      rc = open_1d(&f, "/labels", H5T_NO_CLASS, H5T_INTEGER, &dl, &nl);
    if (!rc && (nt != nu || nt != nl))
      rc = sl_error(SL_EFORMAT, "%s: '%s': /spikes/times has %zu samples, /spikes/units %zu, "
                    "/labels %zu: they must be equal", WHO, path, nt, nu, nl);
    if (!rc) {
      count = o->count ? o->count : (o->first < nl ? nl - o->first : 0);
      if (o->first > nl || count > nl - o->first)
        rc = sl_error(SL_EFORMAT, "%s: '%s': samples %zu .. %zu asked for, the file holds %zu",
                      WHO, path, o->first, o->first + count - 1, nl);
      else if (count == 0)
        rc = sl_error(SL_EFORMAT, "%s: '%s': no samples from %zu on (the file holds %zu)", WHO,
                      path, o->first, nl);
    }
    if (!rc) {
      mt = H5Tvlen_create(H5T_NATIVE_FLOAT);
      mu = H5Tvlen_create(H5T_NATIVE_INT64);
      tv = calloc(count, sizeof *tv);
      uv = calloc(count, sizeof *uv);
      labels = calloc(count, sizeof *labels);
      if (mt < 0 || mu < 0 || !tv || !uv || !labels)
        rc = sl_error(SL_ENOMEM, "%s: '%s': out of memory for %zu samples", WHO, path, count);
    }
    if (!rc)
      rc = read_slab(&f, dl, "/labels", H5T_NATIVE_INT32, o->first, count, labels);
    if (!rc && !(rc = read_slab(&f, dt, "/spikes/times", mt, o->first, count, tv)))
      have_t = 1;
    if (!rc && !(rc = read_slab(&f, du, "/spikes/units", mu, o->first, count, uv)))
      have_u = 1;
    for (size_t i = 0; !rc && i < count; i++)
      rc = check_sample(&f, o, o->first + i, &tv[i], &uv[i], labels[i]);
    if (!rc) {
      const size_t copies = 1 + o->copies, dim = o->t_steps * o->ch_count;
      if (count > SIZE_MAX / copies)
        rc = sl_error(SL_EINVAL, "%s: %zu samples x %zu copies overflow", WHO, count, copies);
      else
        rc = sl_dataset_alloc(d, count * copies, dim, o->n_classes);
      for (size_t c = 0; !rc && c < copies; c++)
        for (size_t i = 0; i < count; i++) {
          long shift = 0;
          if (c > 0 && o->jitter > 0) {
            sl_rng_state r;
            sl_rng_seed(&r, sl_seed_mix(sl_seed_mix(o->seed, o->first + i), c));
            shift = (long)floor(sl_rng_uniform(&r) * (double)(2 * o->jitter + 1)) - o->jitter;
          }
          size_t row = c * count + i;
          bin_sample(o, &tv[i], &uv[i], shift, d->x + row * dim);
          d->y[row] = labels[i];
        }
    }
    if (have_t)
      reclaim(mt, count, tv);
    if (have_u)
      reclaim(mu, count, uv);
    if (mt >= 0)
      H5Tclose(mt);
    if (mu >= 0)
      H5Tclose(mu);
    if (dt >= 0)
      H5Dclose(dt);
    if (du >= 0)
      H5Dclose(du);
    if (dl >= 0)
      H5Dclose(dl);
    slh_close(&f);
  }
  H5E_END_TRY;
  free(tv);
  free(uv);
  free(labels);
  if (rc)
    sl_dataset_free(d);
  return rc;
}
