/* dataset.c -- dense data sets in memory and in HDF5 files.
 *
 * File layout: /x float32 (n, dim), /y int32 (n), and an int attribute
 * n_classes on the root group (optional on load: max(y) + 1 if absent).
 *
 * Choices:
 * - The file is read and written through lib/io/h5.h: a failing HDF5 call
 *   maps to SL_EIO naming the path; content that parses but breaks the
 *   contract maps to SL_EFORMAT (or SL_ENUMERIC for a non-finite feature).
 * - Save writes "<path>.tmp<pid>" and rename()s it over <path> only once the
 *   file is closed (flushed), so a failed save leaves neither file behind.
 * - Save refuses data that load would reject (non-finite features, labels out
 *   of range), so every saved file loads.
 * - File types are fixed little-endian (F32LE, I32LE); HDF5 converts from the
 *   native types on write and back on read (/y of any integer width, /x of
 *   any float width, as h5py writes them).
 */
#include "config.h"

#include "spikeloop/dataset.h"
#include "spikeloop/error.h"

#include "io/h5.h"

#include <hdf5.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sl_dataset_alloc(sl_dataset *d, size_t n, size_t dim, size_t n_classes)
{
  if (!d)
    return sl_error(SL_EINVAL, "sl_dataset_alloc: data set pointer is NULL");
  memset(d, 0, sizeof *d);
  if (n_classes > (size_t)INT32_MAX)
    return sl_error(SL_EINVAL, "sl_dataset_alloc: n_classes %zu exceeds int32 labels", n_classes);
  if (dim != 0 && n > SIZE_MAX / sizeof(float) / dim)
    return sl_error(SL_EINVAL, "sl_dataset_alloc: %zu x %zu features overflow size_t", n, dim);
  /* At least one element each, so the pointers are valid even when empty. */
  size_t nx = (n && dim) ? n * dim : 1, ny = n ? n : 1;
  d->x = calloc(nx, sizeof *d->x);
  d->y = calloc(ny, sizeof *d->y);
  if (!d->x || !d->y) {
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
    return sl_error(SL_ENOMEM, "sl_dataset_alloc: cannot allocate %zu x %zu samples", n, dim);
  }
  d->n = n;
  d->dim = dim;
  d->n_classes = n_classes;
  return SL_OK;
}

void sl_dataset_free(sl_dataset *d)
{
  if (!d)
    return;
  free(d->x);
  free(d->y);
  memset(d, 0, sizeof *d);
}

/* The data set file (layout above), for slh_write_file. */
static herr_t dataset_fill(hid_t file, const void *arg, const char **what)
{
  const sl_dataset *d = arg;
  const hsize_t dims[2] = {(hsize_t)d->n, (hsize_t)d->dim};
  const int nc = (int)d->n_classes;
  *what = "/x";
  if (slh_dataset(file, "x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, d->x, SLH_PLAIN) < 0)
    return -1;
  *what = "/y";
  if (slh_dataset(file, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, d->y, SLH_PLAIN) < 0)
    return -1;
  *what = "attribute n_classes";
  return slh_attr_ints(file, "/", "n_classes", &nc, 1);
}

int sl_dataset_save_h5(const sl_dataset *d, const char *path)
{
  if (!d || !path)
    return sl_error(SL_EINVAL, "sl_dataset_save_h5: NULL %s", d ? "path" : "data set");
  if ((d->n && !d->y) || (d->n && d->dim && !d->x))
    return sl_error(SL_EINVAL, "sl_dataset_save_h5: data set has NULL arrays");
  if (d->n_classes > (size_t)INT32_MAX)
    return sl_error(SL_EINVAL, "sl_dataset_save_h5: n_classes %zu too large", d->n_classes);
  for (size_t i = 0; i < d->n; i++) {
    if (d->y[i] < 0 || (size_t)d->y[i] >= d->n_classes)
      return sl_error(SL_EINVAL, "sl_dataset_save_h5: label %ld of sample %zu outside [0, %zu)",
                      (long)d->y[i], i, d->n_classes);
    for (size_t j = 0; j < d->dim; j++)
      if (!isfinite(d->x[i * d->dim + j]))
        return sl_error(SL_ENUMERIC, "sl_dataset_save_h5: feature %zu of sample %zu is not finite",
                        j, i);
  }

  return slh_write_file("sl_dataset_save_h5", path, dataset_fill, d);
}

/* The optional root attribute n_classes into *nc (-1 if absent). */
static int read_n_classes(const slh_file *f, long *nc)
{
  hid_t root = -1;
  long long v = 0;
  *nc = -1;
  int rc = slh_open_group(f, "/", &root);
  if (rc != SL_OK)
    return rc;
  int has = slh_has_attr(f, root, "/", "n_classes");
  if (has < 0)
    rc = SL_EIO;
  else if (has > 0 && (rc = slh_get_attr(f, root, "/", "n_classes", H5T_NATIVE_LLONG, 1, &v)) ==
                          SL_OK) {
    if (v < 1 || v > INT32_MAX)
      rc = sl_error(SL_EFORMAT, "%s: '%s': n_classes = %lld is out of range", f->who, f->path, v);
    else
      *nc = (long)v;
  }
  H5Oclose(root);
  return rc;
}

/* /x, /y and n_classes into tmp (n_classes -1 if absent). */
static int read_file(const slh_file *f, sl_dataset *tmp, long *nc)
{
  hsize_t xd[2] = {0, 0}, yd = 0;
  void *buf;
  int rc = slh_read_alloc(f, "/x", H5T_FLOAT, H5T_NATIVE_FLOAT, 2, xd, &buf);
  if (rc != SL_OK)
    return rc;
  tmp->x = buf;
  tmp->n = (size_t)xd[0];
  tmp->dim = (size_t)xd[1];
  if ((rc = slh_read_alloc(f, "/y", H5T_INTEGER, H5T_NATIVE_INT32, 1, &yd, &buf)) != SL_OK)
    return rc;
  tmp->y = buf;
  if (xd[0] != yd)
    return sl_error(SL_EFORMAT, "%s: '%s': /x has %llu rows but /y has %llu", f->who, f->path,
                    (unsigned long long)xd[0], (unsigned long long)yd);
  return read_n_classes(f, nc);
}

int sl_dataset_load_h5(sl_dataset *d, const char *path)
{
  if (!d || !path)
    return sl_error(SL_EINVAL, "sl_dataset_load_h5: NULL %s", d ? "path" : "data set");
  memset(d, 0, sizeof *d);

  sl_dataset tmp = {0};
  long nc = -1;
  slh_file f;
  int rc;
  H5E_BEGIN_TRY
  {
    rc = slh_open_read(&f, "sl_dataset_load_h5", path);
    if (rc == SL_OK)
      rc = read_file(&f, &tmp, &nc);
    slh_close(&f);
  }
  H5E_END_TRY;
  if (rc != SL_OK)
    goto fail;

  /* Content checks: labels first (format), then features (numeric). */
  int32_t ymax = -1;
  for (size_t i = 0; i < tmp.n; i++) {
    int32_t c = tmp.y[i];
    if (c < 0 || (nc > 0 && c >= nc)) {
      if (nc > 0)
        rc = sl_error(SL_EFORMAT,
                      "sl_dataset_load_h5: '%s': label %ld of sample %zu outside [0, %ld)", path,
                      (long)c, i, nc);
      else
        rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': negative label %ld of sample %zu",
                      path, (long)c, i);
      goto fail;
    }
    if (nc <= 0 && c == INT32_MAX) { /* n_classes = max + 1 must fit int32, as the attribute */
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': label %ld of sample %zu is too large "
                    "(without the n_classes attribute, the largest label + 1 must be at most %ld)",
                    path, (long)c, i, (long)INT32_MAX);
      goto fail;
    }
    if (c > ymax)
      ymax = c;
  }
  tmp.n_classes = nc > 0 ? (size_t)nc : (size_t)ymax + 1;
  for (size_t i = 0; i < tmp.n; i++)
    for (size_t j = 0; j < tmp.dim; j++)
      if (!isfinite(tmp.x[i * tmp.dim + j])) {
        rc = sl_error(SL_ENUMERIC, "sl_dataset_load_h5: '%s': feature %zu of sample %zu is %s",
                      path, j, i, isnan(tmp.x[i * tmp.dim + j]) ? "NaN" : "infinite");
        goto fail;
      }
  *d = tmp;
  return SL_OK;

fail:
  sl_dataset_free(&tmp);
  return rc;
}

/* ------------------------------------------------------------ split */

int sl_dataset_split(const sl_dataset *d, size_t first, size_t count, sl_dataset *out)
{
  static const char fn[] = "sl_dataset_split";
  if (!d || !out)
    return sl_error(SL_EINVAL, "%s: NULL %s", fn, d ? "output" : "data set");
  int rc = SL_OK;
  sl_dataset tmp = {0};
  if (first > d->n || count > d->n - first)
    rc = sl_error(SL_ERANGE, "%s: samples [%zu, %zu + %zu) outside a set of %zu", fn, first,
                  first, count, d->n);
  else if (count > 0 && (!d->y || (d->dim && !d->x)))
    rc = sl_error(SL_EINVAL, "%s: data set has NULL arrays", fn);
  else
    rc = sl_dataset_alloc(&tmp, count, d->dim, d->n_classes);
  if (rc != SL_OK) {
    if (out != d) /* in place: d stays as it was */
      memset(out, 0, sizeof *out);
    return rc;
  }
  if (count > 0) {
    if (d->dim)
      memcpy(tmp.x, d->x + first * d->dim, count * d->dim * sizeof *tmp.x);
    memcpy(tmp.y, d->y + first, count * sizeof *tmp.y);
  }
  if (out == d)
    sl_dataset_free(out);
  *out = tmp;
  return SL_OK;
}
