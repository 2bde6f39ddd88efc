/* h5.c -- spikeloop's one HDF5 layer: opening and checking files, typed
 * attributes and strings, datasets of an expected rank/shape/class, groups
 * (contract in h5.h). */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup, getpid under -std=c11 */
#endif

#include "h5.h"

#include "spikeloop/error.h"

#include <hdf5_hl.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STR_MAX 65536                  /* longest fixed-length string attribute read */
#define CHUNK_ELEMS ((hsize_t)1 << 18) /* target elements per chunk of a compressed dataset */
#define COMPRESS_MIN ((hsize_t)4096)   /* smaller datasets stay contiguous */

/* ------------------------------------------------------------ files */

int slh_open_read(slh_file *f, const char *who, const char *path)
{
  f->who = who;
  f->path = path;
  f->id = -1;
  /* A plain open first, for the system's reason when the file is missing or unreadable. */
  FILE *probe = fopen(path, "rb");
  if (!probe)
    return sl_error(SL_EIO, "%s: cannot open '%s': %s", who, path, strerror(errno));
  fclose(probe);
  f->id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f->id < 0)
    return sl_error(SL_EIO, "%s: cannot open '%s' as HDF5 (not HDF5, damaged or truncated)", who,
                    path);
  return SL_OK;
}

int slh_check_format(const slh_file *f, const char *format, int version, const char *what)
{
  hid_t root = H5Oopen(f->id, "/", H5P_DEFAULT);
  if (root < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot open the root group", f->who, f->path);
  char *found = NULL;
  int v = 0;
  int has = slh_has_attr(f, root, "/", "format"), rc = SL_EIO;
  if (has == 0)
    rc = sl_error(SL_EFORMAT, "%s: '%s': no attribute /@format: not a %s", f->who, f->path,
                  what);
  else if (has > 0)
    rc = slh_get_attr_str(f, root, "/", "format", &found);
  if (rc == SL_OK && strcmp(found, format) != 0)
    rc = sl_error(SL_EFORMAT, "%s: '%s': /@format is '%.64s', not '%s'", f->who, f->path, found,
                  format);
  if (rc == SL_OK)
    rc = slh_get_attr(f, root, "/", "format_version", H5T_NATIVE_INT, 1, &v);
  if (rc == SL_OK && version && v != version)
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s format version %d; this library reads %d", f->who,
                  f->path, format, v, version);
  free(found);
  H5Oclose(root);
  return rc;
}

void slh_close(slh_file *f)
{
  if (f->id >= 0)
    H5Fclose(f->id);
  f->id = -1;
}

/* H5Fcreate (truncating) with the system's reason in *err (0 if none). */
static hid_t create_file(const char *path, int *err)
{
  errno = 0;
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  *err = file < 0 ? errno : 0;
  return file;
}

hid_t slh_create(const char *who, const char *path)
{
  int e;
  hid_t file = create_file(path, &e);
  if (file < 0)
    sl_error(SL_EIO, "%s: cannot create HDF5 file '%s'%s%s%s", who, path, e ? " (" : "",
             e ? strerror(e) : "", e ? ")" : "");
  return file;
}

void slh_abandon(hid_t file, const char *path)
{
  H5Fclose(file);
  remove(path);
}

int slh_flush(hid_t file, const char *who, const char *path)
{
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot flush", who, path);
  return SL_OK;
}

int slh_flush_close(hid_t file, const char *who, const char *path)
{
  int rc = slh_flush(file, who, path);
  if (H5Fclose(file) < 0 && rc == SL_OK)
    rc = sl_error(SL_EIO, "%s: '%s': cannot close", who, path);
  return rc;
}

/* "<path>.tmp<pid>" in a fresh buffer (free it), or NULL. */
static char *tmp_name(const char *path)
{
  size_t len = strlen(path) + 32;
  char *tmp = malloc(len);
  if (tmp)
    snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
  return tmp;
}

/* Close `file` (which flushes it) and rename `tmp` to `path`; on any failure
 * remove tmp. 0, or the step that failed ("close", "rename") with the
 * system's reason in *err. */
static const char *commit(hid_t file, const char *tmp, const char *path, int *err)
{
  *err = 0;
  if (H5Fclose(file) < 0) {
    remove(tmp);
    return "close";
  }
  if (rename(tmp, path) != 0) {
    *err = errno;
    remove(tmp);
    return "rename";
  }
  return NULL;
}

int slh_write_file(const char *who, const char *path, slh_fill_fn fill, const void *arg)
{
  char *tmp = tmp_name(path);
  if (!tmp)
    return sl_error(SL_ENOMEM, "%s: out of memory", who);
  const char *what = "create";
  int e = 0;
  H5E_BEGIN_TRY
  {
    hid_t file = create_file(tmp, &e);
    if (file >= 0) {
      if (fill(file, arg, &what) < 0)
        slh_abandon(file, tmp);
      else
        what = commit(file, tmp, path, &e);
    }
  }
  H5E_END_TRY;
  free(tmp);
  if (!what)
    return SL_OK;
  return sl_error(SL_EIO, "%s: cannot write '%s' (%s%s%s)", who, path, what, e ? ": " : "",
                  e ? strerror(e) : "");
}

/* ------------------------------------------------------------ writing */

hid_t slh_lcpl_parents(void)
{
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  if (lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) < 0) {
    H5Pclose(lcpl);
    lcpl = -1;
  }
  return lcpl;
}

hid_t slh_group(hid_t loc, const char *name)
{
  hid_t lcpl = -1, gcpl = -1, grp = -1;
  unsigned order = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
  lcpl = slh_lcpl_parents();
  gcpl = H5Pcreate(H5P_GROUP_CREATE);
  if (lcpl >= 0 && gcpl >= 0 && H5Pset_attr_creation_order(gcpl, order) >= 0 &&
      H5Pset_link_creation_order(gcpl, order) >= 0)
    grp = H5Gcreate2(loc, name, lcpl, gcpl, H5P_DEFAULT);
  if (gcpl >= 0)
    H5Pclose(gcpl);
  if (lcpl >= 0)
    H5Pclose(lcpl);
  return grp;
}

herr_t slh_plain_groups(hid_t loc, const char *const *names, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    hid_t grp = H5Gcreate2(loc, names[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0 || H5Gclose(grp) < 0)
      return -1;
  }
  return 0;
}

herr_t slh_attr(hid_t loc, const char *obj, const char *name, hid_t file_type, hid_t mem_type,
                hsize_t n, const void *buf)
{
  hid_t space = -1, attr = -1;
  herr_t status = -1;
  htri_t exists = H5Aexists_by_name(loc, obj, name, H5P_DEFAULT);
  if (exists < 0 || (exists > 0 && H5Adelete_by_name(loc, obj, name, H5P_DEFAULT) < 0))
    return -1;
  space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
  if (space >= 0)
    attr = H5Acreate_by_name(loc, obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
  if (attr >= 0 && H5Awrite(attr, mem_type, buf) >= 0)
    status = 0;
  if (attr >= 0 && H5Aclose(attr) < 0)
    status = -1;
  if (space >= 0)
    H5Sclose(space);
  return status;
}

herr_t slh_attr_str(hid_t loc, const char *obj, const char *name, const char *value)
{
  hid_t type = H5Tcopy(H5T_C_S1);
  herr_t status = -1;
  if (type < 0)
    return -1;
  if (H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0)
    status = slh_attr(loc, obj, name, type, type, 0, &value);
  H5Tclose(type);
  return status;
}

herr_t slh_attr_int(hid_t loc, const char *obj, const char *name, int value)
{
  return slh_attr(loc, obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, 0, &value);
}

herr_t slh_attr_i64(hid_t loc, const char *obj, const char *name, long long value)
{
  return slh_attr(loc, obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, 0, &value);
}

herr_t slh_attr_double(hid_t loc, const char *obj, const char *name, double value)
{
  return slh_attr(loc, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &value);
}

herr_t slh_attr_doubles(hid_t loc, const char *obj, const char *name, const double *v, size_t n)
{
  return slh_attr(loc, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)n, v);
}

herr_t slh_attr_ints(hid_t loc, const char *obj, const char *name, const int *v, size_t n)
{
  return slh_attr(loc, obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, (hsize_t)n, v);
}

herr_t slh_attr_ascii(hid_t loc, const char *obj, const char *name, const char *value)
{
  hid_t type = H5Tcopy(H5T_C_S1);
  herr_t status = -1;
  if (type < 0)
    return -1;
  if (H5Tset_size(type, strlen(value) + 1) >= 0 && H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0)
    status = slh_attr(loc, obj, name, type, type, 0, value);
  H5Tclose(type);
  return status;
}

herr_t slh_attr_update(hid_t obj, const char *name, hid_t mem_type, const void *buf)
{
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0)
    return -1;
  herr_t status = H5Awrite(attr, mem_type, buf);
  if (H5Aclose(attr) < 0)
    status = -1;
  return status;
}

int slh_can_deflate(void)
{
  return H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 && H5Zfilter_avail(H5Z_FILTER_SHUFFLE) > 0;
}

/* Chunks of whole trailing rows, about CHUNK_ELEMS elements each; 0 when the
 * data stays contiguous. */
static int chunk_shape(int rank, const hsize_t *dims, hsize_t *chunk)
{
  hsize_t n = 1, inner = 1;
  for (int i = 0; i < rank; i++) {
    n *= dims[i];
    if (i)
      inner *= dims[i];
  }
  if (rank < 1 || n < COMPRESS_MIN || inner > ((hsize_t)1 << 26))
    return 0;
  chunk[0] = inner >= CHUNK_ELEMS ? 1 : CHUNK_ELEMS / inner;
  if (chunk[0] > dims[0])
    chunk[0] = dims[0];
  for (int i = 1; i < rank; i++)
    chunk[i] = dims[i];
  return 1;
}

herr_t slh_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                   const hsize_t *dims, const void *buf, int storage)
{
  hid_t space = -1, dcpl = -1, lcpl = -1, dset = -1;
  herr_t status = -1;
  hsize_t n = 1, chunk[H5S_MAX_RANK];
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  space = H5Screate_simple(rank, dims, NULL);
  dcpl = H5Pcreate(H5P_DATASET_CREATE);
  lcpl = slh_lcpl_parents();
  if (space < 0 || dcpl < 0 || lcpl < 0)
    goto out;
  if (storage != SLH_PLAIN && slh_can_deflate() && chunk_shape(rank, dims, chunk))
    if (H5Pset_chunk(dcpl, rank, chunk) < 0 ||
        (storage == SLH_SHUFFLE && H5Pset_shuffle(dcpl) < 0) || H5Pset_deflate(dcpl, 1) < 0)
      goto out;
  dset = H5Dcreate2(loc, name, file_type, space, lcpl, dcpl, H5P_DEFAULT);
  if (dset < 0)
    goto out;
  if (n && H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    goto out;
  status = 0;
out:
  if (dset >= 0 && H5Dclose(dset) < 0)
    status = -1;
  if (lcpl >= 0)
    H5Pclose(lcpl);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (space >= 0)
    H5Sclose(space);
  return status;
}

/* ------------------------------------------------------------ reading */

void slh_format_shape(char *buf, size_t len, int rank, const hsize_t *dims)
{
  size_t o = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < rank && o < len; i++)
    o += (size_t)snprintf(buf + o, len - o, i ? ", %llu" : "%llu", (unsigned long long)dims[i]);
  if (o < len)
    snprintf(buf + o, len - o, rank == 1 ? ",)" : ")");
}

int slh_exists(const slh_file *f, const char *path)
{
  /* H5LTpath_valid fails (< 0) when a parent is a dataset: missing all the same. */
  return H5LTpath_valid(f->id, path, 1) > 0;
}

static int open_object(const slh_file *f, const char *path, H5I_type_t want, hid_t *out)
{
  const char *kind = want == H5I_GROUP ? "group" : "dataset";
  *out = -1;
  if (!slh_exists(f, path))
    return sl_error(SL_EFORMAT, "%s: '%s': no %s %s", f->who, f->path, kind, path);
  hid_t obj = H5Oopen(f->id, path, H5P_DEFAULT);
  if (obj < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot open %s", f->who, f->path, path);
  if (H5Iget_type(obj) != want) {
    H5Oclose(obj);
    return sl_error(SL_EFORMAT, "%s: '%s': %s is not a %s", f->who, f->path, path, kind);
  }
  *out = obj;
  return SL_OK;
}

int slh_open_group(const slh_file *f, const char *path, hid_t *out)
{
  return open_object(f, path, H5I_GROUP, out);
}

/* Is a dataset of class `found` one of class `want` (H5T_NO_CLASS: any number)? */
static int class_fits(H5T_class_t found, H5T_class_t want)
{
  if (want == H5T_NO_CLASS)
    return found == H5T_INTEGER || found == H5T_FLOAT;
  return found == want;
}

/* Open dataset `path`, check its type class, return its rank and dims. */
static int open_dataset_any_rank(const slh_file *f, const char *path, H5T_class_t cls,
                                 int *rank, hsize_t *dims, hid_t *out)
{
  hid_t obj = -1, type = -1, space = -1;
  int rc = open_object(f, path, H5I_DATASET, &obj);
  if (rc != SL_OK)
    return rc;
  type = H5Dget_type(obj);
  space = H5Dget_space(obj);
  if (type < 0 || space < 0)
    rc = sl_error(SL_EIO, "%s: '%s': cannot read the header of %s", f->who, f->path, path);
  else if (!class_fits(H5Tget_class(type), cls))
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s must hold %s numbers", f->who, f->path, path,
                  cls == H5T_FLOAT     ? "floating-point"
                  : cls == H5T_INTEGER ? "integer"
                                       : "integer or floating-point");
  else if ((*rank = H5Sget_simple_extent_ndims(space)) < 0 ||
           H5Sget_simple_extent_dims(space, dims, NULL) < 0)
    rc = sl_error(SL_EIO, "%s: '%s': cannot read the shape of %s", f->who, f->path, path);
  if (space >= 0)
    H5Sclose(space);
  if (type >= 0)
    H5Tclose(type);
  if (rc == SL_OK)
    *out = obj;
  else
    H5Oclose(obj);
  return rc;
}

int slh_open_dataset(const slh_file *f, const char *path, H5T_class_t cls, int rank,
                     hsize_t *dims, hid_t *out)
{
  hsize_t d[H5S_MAX_RANK];
  int found = 0;
  int rc = open_dataset_any_rank(f, path, cls, &found, d, out);
  if (rc != SL_OK)
    return rc;
  if (found != rank) {
    char got[32 + 24 * H5S_MAX_RANK];
    slh_format_shape(got, sizeof got, found, d);
    H5Oclose(*out);
    *out = -1;
    return sl_error(SL_EFORMAT, "%s: '%s': %s has shape %s: rank %d, expected %d", f->who,
                    f->path, path, got, found, rank);
  }
  for (int i = 0; i < rank; i++)
    dims[i] = d[i];
  return SL_OK;
}

int slh_open_dataset_any(const slh_file *f, const char *path, H5T_class_t cls, int *rank,
                         hsize_t *dims, hid_t *out)
{
  *out = -1;
  return open_dataset_any_rank(f, path, cls, rank, dims, out);
}

int slh_bad_shape(const slh_file *f, const char *path, int rank, const hsize_t *dims,
                  const hsize_t *want)
{
  char got[128], exp[128];
  slh_format_shape(got, sizeof got, rank, dims);
  slh_format_shape(exp, sizeof exp, rank, want);
  return sl_error(SL_EFORMAT, "%s: '%s': %s has shape %s, expected %s", f->who, f->path, path, got,
                  exp);
}

/* Of a chunked dataset: 0 no chunk stored, 1 some, 2 all; -1 on failure.
 * (H5Dget_space_status cannot tell: for chunked datasets it compares the
 * bytes stored with the bytes declared, so a compressed dataset written
 * whole reads as partly allocated.) */
static int chunks_stored(hid_t dset, hid_t dcpl)
{
  hsize_t chunk[H5S_MAX_RANK], dims[H5S_MAX_RANK], stored = 0;
  int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
  hid_t space = H5Dget_space(dset);
  int ok = rank >= 0 && space >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) == rank &&
           H5Dget_num_chunks(dset, space, &stored) >= 0;
  if (space >= 0)
    H5Sclose(space);
  if (!ok)
    return -1;
  double want = 1; /* chunks the extent covers (double: no overflow) */
  for (int i = 0; i < rank; i++)
    want *= chunk[i] ? (double)((dims[i] + chunk[i] - 1) / chunk[i]) : 0.0;
  return stored == 0 ? 0 : (double)stored >= want ? 2 : 1;
}

int slh_check_stored(const slh_file *f, hid_t dset, const char *path, size_t n)
{
  if (n == 0)
    return SL_OK;
  int held = -1; /* 0 none, 1 some, 2 all */
  hid_t dcpl = H5Dget_create_plist(dset);
  H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
  H5D_space_status_t st;
  if (layout == H5D_CHUNKED)
    held = chunks_stored(dset, dcpl);
  else if (layout == H5D_COMPACT || layout == H5D_VIRTUAL)
    held = 2;
  else if (layout == H5D_CONTIGUOUS && H5Dget_space_status(dset, &st) >= 0)
    held = st == H5D_SPACE_STATUS_ALLOCATED ? 2 : 0;
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (held < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot read %s (damaged or truncated file?)", f->who,
                    f->path, path);
  if (held < 2)
    return sl_error(SL_EFORMAT, "%s: '%s': %s declares %zu values but the file holds %s of them "
                    "(never written, or a damaged file)", f->who, f->path, path, n,
                    held ? "only some" : "none");
  return SL_OK;
}

int slh_read(const slh_file *f, hid_t dset, const char *path, hid_t mem_type, size_t n, void *buf)
{
  int rc = slh_check_stored(f, dset, path, n);
  if (rc != SL_OK)
    return rc;
  if (n && H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot read %s (damaged or truncated file?)", f->who,
                    f->path, path);
  return SL_OK;
}

int slh_read_alloc(const slh_file *f, const char *path, H5T_class_t cls, hid_t mem_type, int rank,
                   hsize_t *dims, void **out)
{
  hid_t dset = -1;
  void *buf = NULL;
  size_t n = 1;
  *out = NULL;
  int rc = slh_open_dataset(f, path, cls, rank, dims, &dset);
  if (rc != SL_OK)
    return rc;
  for (int i = 0; i < rank; i++) {
    if (dims[i] > SIZE_MAX || (dims[i] && n > SIZE_MAX / (size_t)dims[i])) {
      rc = sl_error(SL_EFORMAT, "%s: '%s': %s is too large to read", f->who, f->path, path);
      goto out;
    }
    n *= (size_t)dims[i];
  }
  if ((rc = slh_check_stored(f, dset, path, n)) != SL_OK)
    goto out;
  /* calloc checks n * size; one element at least, so the pointer is valid */
  if (!(buf = calloc(n ? n : 1, H5Tget_size(mem_type)))) {
    rc = sl_error(SL_ENOMEM, "%s: '%s': out of memory reading %s", f->who, f->path, path);
    goto out;
  }
  if ((rc = slh_read(f, dset, path, mem_type, n, buf)) == SL_OK) {
    *out = buf;
    buf = NULL;
  }
out:
  free(buf);
  H5Oclose(dset);
  return rc;
}

/* Integers wider than int32 (or unsigned 32-bit) would not fit an int32 read. */
static int wider_than_int32(hid_t type)
{
  size_t size = H5Tget_size(type);
  return size > 4 || (size == 4 && H5Tget_sign(type) == H5T_SGN_NONE);
}

/* Raise SL_ENUMERIC for the first value of buf (n of mem_type) that is not
 * finite; floats and doubles only. */
static int check_finite(const slh_file *f, const char *path, hid_t mem_type, size_t n,
                        const void *buf)
{
  int is_float = H5Tequal(mem_type, H5T_NATIVE_FLOAT) > 0;
  int is_double = H5Tequal(mem_type, H5T_NATIVE_DOUBLE) > 0;
  for (size_t i = 0; i < n && (is_float || is_double); i++) {
    double v = is_float ? (double)((const float *)buf)[i] : ((const double *)buf)[i];
    if (!isfinite(v))
      return sl_error(SL_ENUMERIC, "%s: '%s': %s[%zu] = %g is not finite%s", f->who, f->path,
                      path, i, v, is_float ? " (as float32)" : "");
  }
  return SL_OK;
}

int slh_read_exact(const slh_file *f, const char *path, H5T_class_t cls, hid_t mem_type, int rank,
                   const hsize_t *dims, void *buf)
{
  hid_t dset = -1, type = -1;
  hsize_t found[H5S_MAX_RANK];
  int found_rank = 0;
  int rc = open_dataset_any_rank(f, path, cls, &found_rank, found, &dset);
  if (rc != SL_OK)
    return rc;
  int same = found_rank == rank;
  size_t n = 1;
  for (int i = 0; same && i < rank; i++) {
    same = found[i] == dims[i];
    n *= (size_t)dims[i];
  }
  if (!same) {
    char want[96], got[96 + 24 * H5S_MAX_RANK];
    slh_format_shape(want, sizeof want, rank, dims);
    slh_format_shape(got, sizeof got, found_rank, found);
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s has shape %s, expected %s", f->who, f->path, path, got,
                  want);
    goto out;
  }
  type = H5Dget_type(dset);
  if (type < 0) {
    rc = sl_error(SL_EIO, "%s: '%s': cannot read the header of %s", f->who, f->path, path);
    goto out;
  }
  if (cls == H5T_INTEGER && wider_than_int32(type)) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s holds %zu-byte %s integers, wider than int32", f->who,
                  f->path, path, H5Tget_size(type),
                  H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned" : "signed");
    goto out;
  }
  if (n && H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    rc = sl_error(SL_EIO, "%s: '%s': cannot read %s", f->who, f->path, path);
    goto out;
  }
  rc = check_finite(f, path, mem_type, n, buf);
out:
  if (type >= 0)
    H5Tclose(type);
  H5Oclose(dset);
  return rc;
}

int slh_has_attr(const slh_file *f, hid_t obj, const char *objpath, const char *name)
{
  htri_t exists = H5Aexists(obj, name);
  if (exists < 0) {
    sl_error(SL_EIO, "%s: '%s': cannot read the attributes of %s", f->who, f->path, objpath);
    return -1;
  }
  return exists > 0;
}

/* Open obj@name with its type and space; raises when missing or unreadable. */
static int open_attr(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                     hid_t *attr, hid_t *type, hid_t *space)
{
  *attr = *type = *space = -1;
  int e = slh_has_attr(f, obj, objpath, name);
  if (e < 0)
    return SL_EIO;
  if (e == 0)
    return sl_error(SL_EFORMAT, "%s: '%s': no attribute %s@%s", f->who, f->path, objpath, name);
  *attr = H5Aopen(obj, name, H5P_DEFAULT);
  *type = *attr >= 0 ? H5Aget_type(*attr) : -1;
  *space = *attr >= 0 ? H5Aget_space(*attr) : -1;
  if (*attr < 0 || *type < 0 || *space < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot open attribute %s@%s", f->who, f->path, objpath,
                    name);
  return SL_OK;
}

static void close_attr(hid_t attr, hid_t type, hid_t space)
{
  if (space >= 0)
    H5Sclose(space);
  if (type >= 0)
    H5Tclose(type);
  if (attr >= 0)
    H5Aclose(attr);
}

int slh_get_attr(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                 hid_t mem_type, size_t n, void *buf)
{
  hid_t attr, type, space;
  int rc = open_attr(f, obj, objpath, name, &attr, &type, &space);
  if (rc != SL_OK)
    goto out;
  int want_int = H5Tget_class(mem_type) == H5T_INTEGER;
  H5T_class_t cls = H5Tget_class(type);
  hssize_t npoints = H5Sget_simple_extent_npoints(space);
  if (!(cls == H5T_INTEGER || (!want_int && cls == H5T_FLOAT)) || npoints != (hssize_t)n) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': %s@%s must hold %zu %s", f->who, f->path, objpath, name,
                  n, want_int ? "integer(s)" : "number(s)");
    goto out;
  }
  if (H5Aread(attr, mem_type, buf) < 0) {
    rc = sl_error(SL_EIO, "%s: '%s': cannot read attribute %s@%s", f->who, f->path, objpath,
                  name);
    goto out;
  }
  if (!want_int && H5Tequal(mem_type, H5T_NATIVE_DOUBLE) > 0)
    for (size_t i = 0; i < n; i++)
      if (!isfinite(((const double *)buf)[i])) {
        rc = sl_error(SL_ENUMERIC, "%s: '%s': %s@%s = %g is not finite", f->who, f->path, objpath,
                      name, ((const double *)buf)[i]);
        goto out;
      }
out:
  close_attr(attr, type, space);
  return rc;
}

int slh_get_attr_opt(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                     hid_t mem_type, size_t n, void *buf)
{
  int has = slh_has_attr(f, obj, objpath, name);
  if (has <= 0)
    return has < 0 ? SL_EIO : SL_OK;
  return slh_get_attr(f, obj, objpath, name, mem_type, n, buf);
}

int slh_attr_string(hid_t attr, char **out)
{
  hid_t type = -1, space = -1, mem = -1;
  int rc = SL_EIO;
  char *vbuf = NULL;
  *out = NULL;
  type = H5Aget_type(attr);
  space = H5Aget_space(attr);
  if (type < 0 || space < 0)
    goto out;
  if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
    rc = SL_EFORMAT;
    goto out;
  }
  H5T_cset_t cset = H5Tget_cset(type); /* converting between character sets fails */
  htri_t is_var = H5Tis_variable_str(type);
  mem = H5Tcopy(H5T_C_S1);
  if (cset < 0 || is_var < 0 || mem < 0 || H5Tset_cset(mem, cset) < 0)
    goto out;
  if (is_var) {
    if (H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Aread(attr, mem, &vbuf) < 0)
      goto out;
    *out = strdup(vbuf ? vbuf : "");
  } else {
    size_t n = H5Tget_size(type);
    if (n == 0 || n > STR_MAX) {
      rc = SL_EFORMAT;
      goto out;
    }
    char *buf = calloc(n + 2, 1);
    if (!buf) {
      rc = SL_ENOMEM;
      goto out;
    }
    if (H5Tset_size(mem, n + 1) < 0 || H5Tset_strpad(mem, H5T_STR_NULLTERM) < 0 ||
        H5Aread(attr, mem, buf) < 0) {
      free(buf);
      goto out;
    }
    *out = buf;
  }
  rc = *out ? SL_OK : SL_ENOMEM;
out:
  if (vbuf)
    H5free_memory(vbuf);
  if (mem >= 0)
    H5Tclose(mem);
  if (space >= 0)
    H5Sclose(space);
  if (type >= 0)
    H5Tclose(type);
  return rc;
}

int slh_get_attr_str(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                     char **out)
{
  hid_t attr, type, space;
  *out = NULL;
  int rc = open_attr(f, obj, objpath, name, &attr, &type, &space);
  if (rc == SL_OK) {
    rc = slh_attr_string(attr, out);
    if (rc == SL_EFORMAT)
      sl_error(rc, "%s: '%s': %s@%s is not a string", f->who, f->path, objpath, name);
    else if (rc == SL_ENOMEM)
      sl_error(rc, "%s: out of memory", f->who);
    else if (rc != SL_OK)
      sl_error(rc, "%s: '%s': cannot read attribute %s@%s", f->who, f->path, objpath, name);
  }
  close_attr(attr, type, space);
  return rc;
}

int slh_get_attr_str_opt(const slh_file *f, hid_t obj, const char *objpath, const char *name,
                         const char *def, char **out)
{
  *out = NULL;
  int has = slh_has_attr(f, obj, objpath, name);
  if (has > 0)
    return slh_get_attr_str(f, obj, objpath, name, out);
  if (has < 0)
    return SL_EIO;
  if (!(*out = strdup(def)))
    return sl_error(SL_ENOMEM, "%s: out of memory", f->who);
  return SL_OK;
}
