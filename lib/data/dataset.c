/* dataset.c -- dense data sets in memory and in HDF5 files.
 *
 * File layout: /x float32 (n, dim), /y int32 (n), and an int attribute
 * n_classes on the root group (optional on load: max(y) + 1 if absent).
 *
 * Choices:
 * - Every hid_t starts at -1 and is closed on every path in one `out:` block
 *   inside H5E_BEGIN_TRY / H5E_END_TRY, so HDF5 never prints its error stack
 *   and nothing leaks. Any failing HDF5 call maps to SL_EIO naming the path;
 *   content that parses but breaks the contract maps to SL_EFORMAT.
 * - Save writes "<path>.tmp" and rename()s it over <path> only once the file
 *   is closed (flushed), so a failed save leaves neither file behind.
 * - Save refuses data that load would reject (non-finite features, labels out
 *   of range), so every saved file loads.
 * - File types are fixed little-endian (F32LE, I32LE); HDF5 converts from the
 *   native types on write and back on read.
 */
#include "config.h"

#include "spikeloop/dataset.h"
#include "spikeloop/error.h"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
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

/* "<path>.tmp" in a fresh buffer, or NULL. */
static char *tmp_name(const char *path)
{
  size_t len = strlen(path);
  char *s = malloc(len + 5);
  if (s) {
    memcpy(s, path, len);
    memcpy(s + len, ".tmp", 5);
  }
  return s;
}

/* Create dataset `name` of the given file type and write buf (memory type). */
static herr_t write_dataset(hid_t file, const char *name, int rank, const hsize_t *dims,
                            hid_t file_type, hid_t mem_type, const void *buf)
{
  hid_t space = -1, dset = -1;
  herr_t status = -1;
  H5E_BEGIN_TRY
  {
    space = H5Screate_simple(rank, dims, NULL);
    if (space < 0)
      goto out;
    dset = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset < 0)
      goto out;
    if (H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
      goto out;
    status = 0;
  out:
    if (dset >= 0 && H5Dclose(dset) < 0)
      status = -1;
    if (space >= 0)
      H5Sclose(space);
  }
  H5E_END_TRY;
  return status;
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

  char *tmp = tmp_name(path);
  if (!tmp)
    return sl_error(SL_ENOMEM, "sl_dataset_save_h5: out of memory");

  const char *failed = "create"; /* step that failed, for the message */
  int renamed = 0, rename_errno = 0;
  hid_t file = -1;
  hsize_t dims[2] = {(hsize_t)d->n, (hsize_t)d->dim};
  int nc = (int)d->n_classes;
  H5E_BEGIN_TRY
  {
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
      goto out;
    failed = "write /x to";
    if (write_dataset(file, "x", 2, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, d->x) < 0)
      goto out;
    failed = "write /y to";
    if (write_dataset(file, "y", 1, dims, H5T_STD_I32LE, H5T_NATIVE_INT32, d->y) < 0)
      goto out;
    failed = "write attribute n_classes to";
    if (H5LTset_attribute_int(file, "/", "n_classes", &nc, 1) < 0)
      goto out;
    failed = "close";
    herr_t closed = H5Fclose(file); /* flushes: must succeed before the rename */
    file = -1;
    if (closed < 0)
      goto out;
    failed = "rename";
    if (rename(tmp, path) != 0) {
      rename_errno = errno;
      goto out;
    }
    renamed = 1;
  out:
    if (file >= 0)
      H5Fclose(file);
  }
  H5E_END_TRY;

  int rc = SL_OK;
  if (!renamed) {
    remove(tmp);
    if (rename_errno)
      rc = sl_error(SL_EIO, "sl_dataset_save_h5: cannot rename '%s' to '%s': %s", tmp, path,
                    strerror(rename_errno));
    else
      rc = sl_error(SL_EIO, "sl_dataset_save_h5: cannot %s HDF5 file '%s'", failed, tmp);
  }
  free(tmp);
  return rc;
}

/* Open dataset `name` (a direct child of the root) and check that it is a
 * dataset of type class `cls` and rank `rank`; its dimensions go to dims.
 * On success *out is the open dataset; on error *out is -1 and the error is
 * raised. */
static int open_dataset(hid_t file, const char *path, const char *name, H5T_class_t cls,
                        int rank, hsize_t *dims, hid_t *out)
{
  hid_t obj = -1, type = -1, space = -1;
  int rc = SL_EIO;
  *out = -1;
  H5E_BEGIN_TRY
  {
    htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
    if (exists < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot read the root group", path);
      goto out;
    }
    if (exists == 0) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': missing dataset /%s", path, name);
      goto out;
    }
    obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot open /%s", path, name);
      goto out;
    }
    if (H5Iget_type(obj) != H5I_DATASET) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': /%s is not a dataset", path, name);
      goto out;
    }
    type = H5Dget_type(obj);
    space = H5Dget_space(obj);
    if (type < 0 || space < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot read the header of /%s", path,
                    name);
      goto out;
    }
    if (H5Tget_class(type) != cls) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': /%s must hold %s numbers", path, name,
                    cls == H5T_FLOAT ? "floating-point" : "integer");
      goto out;
    }
    int r = H5Sget_simple_extent_ndims(space);
    if (r != rank) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': /%s has rank %d, expected %d", path,
                    name, r, rank);
      goto out;
    }
    if (H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot read the shape of /%s", path, name);
      goto out;
    }
    *out = obj;
    obj = -1;
    rc = SL_OK;
  out:
    if (space >= 0)
      H5Sclose(space);
    if (type >= 0)
      H5Tclose(type);
    if (obj >= 0)
      H5Oclose(obj);
  }
  H5E_END_TRY;
  return rc;
}

/* Read the optional root attribute n_classes: *nc = -1 if absent. */
static int read_n_classes(hid_t file, const char *path, long *nc)
{
  hid_t attr = -1, type = -1, space = -1;
  int rc = SL_EIO;
  *nc = -1;
  H5E_BEGIN_TRY
  {
    htri_t exists = H5Aexists_by_name(file, "/", "n_classes", H5P_DEFAULT);
    if (exists < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot read root attributes", path);
      goto out;
    }
    if (exists == 0) {
      rc = SL_OK;
      goto out;
    }
    attr = H5Aopen_by_name(file, "/", "n_classes", H5P_DEFAULT, H5P_DEFAULT);
    type = attr >= 0 ? H5Aget_type(attr) : -1;
    space = attr >= 0 ? H5Aget_space(attr) : -1;
    if (attr < 0 || type < 0 || space < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot open attribute n_classes", path);
      goto out;
    }
    if (H5Tget_class(type) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': attribute n_classes must be one integer",
                    path);
      goto out;
    }
    long long v = 0;
    if (H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot read attribute n_classes", path);
      goto out;
    }
    if (v < 1 || v > INT32_MAX) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': n_classes = %lld is out of range", path,
                    v);
      goto out;
    }
    *nc = (long)v;
    rc = SL_OK;
  out:
    if (space >= 0)
      H5Sclose(space);
    if (type >= 0)
      H5Tclose(type);
    if (attr >= 0)
      H5Aclose(attr);
  }
  H5E_END_TRY;
  return rc;
}

int sl_dataset_load_h5(sl_dataset *d, const char *path)
{
  if (!d || !path)
    return sl_error(SL_EINVAL, "sl_dataset_load_h5: NULL %s", d ? "path" : "data set");
  memset(d, 0, sizeof *d);

  /* A plain open first, for a clear message on a missing or unreadable file. */
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "sl_dataset_load_h5: cannot open '%s': %s", path, strerror(errno));
  fclose(f);

  sl_dataset tmp = {0};
  hid_t file = -1, dx = -1, dy = -1;
  hsize_t xdims[2] = {0, 0}, ydims[1] = {0};
  long nc = -1;
  int rc = SL_EIO;
  H5E_BEGIN_TRY
  {
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s' is not a readable HDF5 file", path);
      goto out;
    }
    if ((rc = open_dataset(file, path, "x", H5T_FLOAT, 2, xdims, &dx)) != SL_OK)
      goto out;
    if ((rc = open_dataset(file, path, "y", H5T_INTEGER, 1, ydims, &dy)) != SL_OK)
      goto out;
    if (xdims[0] != ydims[0]) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': /x has %llu rows but /y has %llu",
                    path, (unsigned long long)xdims[0], (unsigned long long)ydims[0]);
      goto out;
    }
    if ((rc = read_n_classes(file, path, &nc)) != SL_OK)
      goto out;
    if (xdims[0] > SIZE_MAX || xdims[1] > SIZE_MAX) {
      rc = sl_error(SL_EFORMAT, "sl_dataset_load_h5: '%s': /x is too large", path);
      goto out;
    }
    if ((rc = sl_dataset_alloc(&tmp, (size_t)xdims[0], (size_t)xdims[1], 0)) != SL_OK)
      goto out;
    if (H5Dread(dx, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp.x) < 0 ||
        H5Dread(dy, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp.y) < 0) {
      rc = sl_error(SL_EIO, "sl_dataset_load_h5: '%s': cannot read the data (damaged file?)",
                    path);
      goto out;
    }
    rc = SL_OK;
  out:
    if (dy >= 0)
      H5Dclose(dy);
    if (dx >= 0)
      H5Dclose(dx);
    if (file >= 0)
      H5Fclose(file);
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
    if (c > ymax)
      ymax = c;
  }
  tmp.n_classes = nc > 0 ? (size_t)nc : (size_t)(ymax + 1);
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
