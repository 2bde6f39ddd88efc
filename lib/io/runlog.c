/* runlog.c -- the HDF5 run log of an experiment (layout in spikeloop/runlog.h).
 *
 * Choices:
 * - Every public function runs its body inside one H5E_BEGIN_TRY /
 *   H5E_END_TRY, so HDF5 never prints its error stack; every hid_t starts at
 *   -1 and is closed in the body's `out:` block on every path. A failing HDF5
 *   call maps to SL_EIO naming the file and the object; content that breaks
 *   the contract maps to SL_EFORMAT (or SL_ENUMERIC for NaN/Inf).
 * - Default (earliest) file format: its superblock has no "open for writing"
 *   flag, so the file of a run killed after a flush opens without h5clear.
 * - Strings are scalar variable-length UTF-8 attributes (h5py reads them as
 *   str); the reader also accepts fixed-length strings (the h5.h layer).
 *   /config, /meta and /summary track attribute creation order, so readers
 *   list the keys in table order; /metrics tracks link creation order.
 * - /metrics holds one extendible chunked dataset per column. An append
 *   extends and writes every column, then sets epochs_complete, then flushes:
 *   epochs_complete is the commit mark, and rows past it (a run killed inside
 *   an append) are never read. The row index comes from the writer's own
 *   count, so an append that failed half-way is simply redone by the next one.
 * - sl_runlog_put_* write under /.staging/<path> (summary attributes on the
 *   group /.staging/summary). sl_runlog_finish moves every other top-level
 *   staged item to /<name> with H5Lmove, writes the fixed summary attributes,
 *   moves /.staging/summary to /summary, deletes /.staging and flushes. A
 *   put of a path or summary name already staged replaces it (last put wins).
 * - Put paths are relative ("params/hidden0/w_in"; one leading '/' is
 *   ignored), with non-empty components other than "." and "..". The first
 *   component may not be config, meta, metrics, summary or .staging, which
 *   would collide with the log's own groups.
 * - sl_runlog_read_config applies the attributes onto a copy of the config
 *   and copies it back only when every key was accepted.
 * - HDF5 (>= 1.10) locks a file open for writing: sl_runlog_open of a log
 *   whose run is still going fails with SL_EIO and says so. A killed run's
 *   lock dies with its process.
 * - Not thread-safe (nor is the serial HDF5 library): one thread per log.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* gethostname, gmtime_r, strdup under -std=c11 */
#endif

#include "spikeloop/runlog.h"
#include "spikeloop/dist.h"
#include "spikeloop/error.h"
#include "spikeloop/version.h"

#include "io/h5.h"
#include "io/runlog_internal.h"

#include <hdf5.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STAGING "/.staging"
#define STAGED_SUMMARY "/.staging/summary"
#define PATH_MAX_LEN 1024   /* longest put path */
#define VALUE_MAX_LEN 4096  /* longest config value text */
#define METRICS_CHUNK 64    /* rows per chunk of a /metrics dataset */


/* The /metrics columns: name, and the offset of the double in
 * sl_epoch_metrics (-1 for the int64 epoch column). */
static const struct {
  const char *name;
  long offset;
} metric_columns[] = {
    {"epoch", -1},
    {"loss", (long)offsetof(sl_epoch_metrics, loss)},
    {"train_accuracy", (long)offsetof(sl_epoch_metrics, train_accuracy)},
    {"val_accuracy", (long)offsetof(sl_epoch_metrics, val_accuracy)},
    {"test_accuracy", (long)offsetof(sl_epoch_metrics, test_accuracy)},
    {"hidden_rate", (long)offsetof(sl_epoch_metrics, hidden_rate)},
    {"seconds", (long)offsetof(sl_epoch_metrics, seconds)},
};
#define N_METRIC_COLUMNS (sizeof metric_columns / sizeof metric_columns[0])

static const char *const reserved_top[] = {"config", "meta", "metrics", "summary", ".staging"};
static const char *const reserved_summary[] = {"test_accuracy", "epochs", "seconds"};

/* ------------------------------------------------------------ helpers */

/* Check a put path; *rel points past an optional leading '/'. Returns SL_OK
 * or raises SL_EINVAL naming the path. */
static int check_put_path(const char *fn, const char *path, const char **rel)
{
  if (!path)
    return sl_error(SL_EINVAL, "%s: path is NULL", fn);
  const char *p = path[0] == '/' ? path + 1 : path;
  size_t len = strlen(p);
  if (len == 0)
    return sl_error(SL_EINVAL, "%s: empty path '%s'", fn, path);
  if (len > PATH_MAX_LEN)
    return sl_error(SL_EINVAL, "%s: path '%.40s...' longer than %d characters", fn, path,
                    PATH_MAX_LEN);
  for (const char *c = p; *c;) {
    const char *slash = strchr(c, '/');
    size_t n = slash ? (size_t)(slash - c) : strlen(c);
    if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
      return sl_error(SL_EINVAL, "%s: path '%s' has an empty, '.' or '..' component", fn, path);
    if (c == p)
      for (size_t i = 0; i < sizeof reserved_top / sizeof reserved_top[0]; i++)
        if (strlen(reserved_top[i]) == n && strncmp(c, reserved_top[i], n) == 0)
          return sl_error(SL_EINVAL, "%s: path '%s' would collide with the log's /%s", fn, path,
                          reserved_top[i]);
    if (!slash)
      break;
    c = slash + 1;
    if (!*c)
      return sl_error(SL_EINVAL, "%s: path '%s' ends with '/'", fn, path);
  }
  *rel = p;
  return SL_OK;
}

/* Check the writer can still write. */
static int check_writable(const char *fn, const sl_runlog *log)
{
  if (!log)
    return sl_error(SL_EINVAL, "%s: run log is NULL", fn);
  if (log->finished)
    return sl_error(SL_EINVAL, "%s: '%s': run log already finished", fn, log->path);
  return SL_OK;
}

/* ------------------------------------------------------------ create */

static int write_config(hid_t file, const char *path, const sl_config *cfg)
{
  hid_t grp = -1;
  int rc = SL_EIO;
  char *value = malloc(VALUE_MAX_LEN);
  if (!value)
    return sl_error(SL_ENOMEM, "sl_runlog_create: '%s': out of memory", path);
  grp = slh_group(file, "config");
  if (grp < 0) {
    rc = sl_error(SL_EIO, "sl_runlog_create: '%s': cannot create /config", path);
    goto out;
  }
  size_t n = sl_config_num_keys();
  for (size_t i = 0; i < n; i++) {
    const char *key = sl_config_key_name(i);
    if (!key) {
      rc = sl_error(SL_EINVAL, "sl_runlog_create: '%s': config key %zu has no name", path, i);
      goto out;
    }
    int got = sl_config_get_index(cfg, i, value, VALUE_MAX_LEN);
    if (got != SL_OK) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s", sl_last_error());
      rc = sl_error(got, "sl_runlog_create: '%s': config key %s: %s", path, key, msg);
      goto out;
    }
    if (slh_attr_str(grp, ".", key, value) < 0) {
      rc = sl_error(SL_EIO, "sl_runlog_create: '%s': cannot write attribute /config@%s", path,
                    key);
      goto out;
    }
  }
  rc = SL_OK;
out:
  if (grp >= 0 && H5Gclose(grp) < 0 && rc == SL_OK)
    rc = sl_error(SL_EIO, "sl_runlog_create: '%s': cannot close /config", path);
  free(value);
  return rc;
}

static int write_meta(hid_t file, const char *path, const sl_run_meta *meta)
{
  hid_t grp = -1;
  int rc = SL_EIO;
  const char *what = "create /meta";
  char host[256] = "unknown", start[64] = "unknown";
  if (gethostname(host, sizeof host) != 0)
    snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = '\0';
  time_t now = time(NULL);
  struct tm tm;
  if (now != (time_t)-1 && gmtime_r(&now, &tm))
    strftime(start, sizeof start, "%Y-%m-%dT%H:%M:%SZ", &tm);
  uint64_t seed = meta->seed;
  int threads = meta->threads;

  grp = slh_group(file, "meta");
  if (grp < 0)
    goto out;
  what = "write /meta@version";
  if (slh_attr_str(grp, ".", "version", sl_version()) < 0)
    goto out;
  what = "write /meta@git_revision";
  if (slh_attr_str(grp, ".", "git_revision", sl_git_revision()) < 0)
    goto out;
  what = "write /meta@seed";
  if (slh_attr(grp, ".", "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &seed) < 0)
    goto out;
  what = "write /meta@threads";
  if (slh_attr(grp, ".", "threads", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &threads) < 0)
    goto out;
  what = "write /meta@ranks";
  int ranks = sl_dist_size();
  if (slh_attr(grp, ".", "ranks", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &ranks) < 0)
    goto out;
  what = "write /meta@start_time";
  if (slh_attr_str(grp, ".", "start_time", start) < 0)
    goto out;
  what = "write /meta@host";
  if (slh_attr_str(grp, ".", "host", host) < 0)
    goto out;
  what = "write /meta@command";
  if (slh_attr_str(grp, ".", "command", meta->command ? meta->command : "") < 0)
    goto out;
  what = "close /meta";
  herr_t closed = H5Gclose(grp);
  grp = -1;
  if (closed < 0)
    goto out;
  rc = SL_OK;
out:
  if (grp >= 0)
    H5Gclose(grp);
  if (rc != SL_OK)
    rc = sl_error(SL_EIO, "sl_runlog_create: '%s': cannot %s", path, what);
  return rc;
}

/* /metrics with one empty extendible column per metric and epochs_complete = 0. */
static int write_metrics(hid_t file, const char *path)
{
  hid_t grp = -1, space = -1, dcpl = -1, dset = -1;
  int rc = SL_EIO;
  char what[64] = "/metrics";
  hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = METRICS_CHUNK;
  int64_t none = 0;

  grp = slh_group(file, "metrics");
  space = H5Screate_simple(1, &zero, &unlimited);
  dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (grp < 0 || space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0)
    goto out;
  for (size_t k = 0; k < N_METRIC_COLUMNS; k++) {
    snprintf(what, sizeof what, "/metrics/%s", metric_columns[k].name);
    hid_t type = metric_columns[k].offset < 0 ? H5T_STD_I64LE : H5T_IEEE_F64LE;
    dset = H5Dcreate2(grp, metric_columns[k].name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset < 0 || H5Dclose(dset) < 0)
      goto out;
    dset = -1;
  }
  snprintf(what, sizeof what, "/metrics@epochs_complete");
  if (slh_attr(grp, ".", "epochs_complete", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &none) < 0)
    goto out;
  rc = SL_OK;
out:
  if (dset >= 0)
    H5Dclose(dset);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (space >= 0)
    H5Sclose(space);
  if (grp >= 0 && H5Gclose(grp) < 0 && rc == SL_OK)
    rc = SL_EIO;
  if (rc != SL_OK)
    rc = sl_error(SL_EIO, "sl_runlog_create: '%s': cannot create %s", path, what);
  return rc;
}

static int runlog_create(sl_runlog **out, const char *path, const sl_config *cfg,
                         const sl_run_meta *meta)
{
  if (!out)
    return sl_error(SL_EINVAL, "sl_runlog_create: output pointer is NULL");
  *out = NULL;
  if (!path || !cfg || !meta)
    return sl_error(SL_EINVAL, "sl_runlog_create: %s is NULL",
                    !path ? "path" : !cfg ? "config" : "run meta");
  if (!*path)
    return sl_error(SL_EINVAL, "sl_runlog_create: empty path");

  sl_runlog *log = calloc(1, sizeof *log);
  char *name = strdup(path);
  if (!log || !name) {
    free(log);
    free(name);
    return sl_error(SL_ENOMEM, "sl_runlog_create: out of memory");
  }
  log->file = -1;
  log->ckpt_epoch = -1;
  log->path = name;

  int rc = SL_EIO;
  hid_t file = slh_create("sl_runlog_create", path);
  if (file < 0) {
    rc = SL_EIO;
    goto out;
  }
  if ((rc = write_config(file, path, cfg)) != SL_OK)
    goto out;
  if ((rc = write_meta(file, path, meta)) != SL_OK)
    goto out;
  if ((rc = write_metrics(file, path)) != SL_OK)
    goto out;
  if ((rc = slh_flush(file, "sl_runlog_create", path)) != SL_OK)
    goto out;
  log->file = file;
  file = -1;
  *out = log;
  log = NULL;
  rc = SL_OK;
out:
  if (file >= 0)
    slh_abandon(file, path);
  if (log) {
    free(log->path);
    free(log);
  }
  return rc;
}

int sl_runlog_create(sl_runlog **out, const char *path, const sl_config *cfg,
                     const sl_run_meta *meta)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_create(out, path, cfg, meta); }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ append */

/* Grow dataset `name` of grp to row + 1 rows and write *value at `row`. */
static herr_t write_row(hid_t grp, const char *name, hid_t mem_type, const void *value,
                        hsize_t row)
{
  hid_t dset = -1, fspace = -1, mspace = -1;
  herr_t status = -1;
  hsize_t size = row + 1, one = 1;
  dset = H5Dopen2(grp, name, H5P_DEFAULT);
  if (dset < 0 || H5Dset_extent(dset, &size) < 0)
    goto out;
  fspace = H5Dget_space(dset);
  mspace = H5Screate_simple(1, &one, NULL);
  if (fspace < 0 || mspace < 0)
    goto out;
  if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &row, NULL, &one, NULL) < 0)
    goto out;
  if (H5Dwrite(dset, mem_type, mspace, fspace, H5P_DEFAULT, value) < 0)
    goto out;
  status = 0;
out:
  if (mspace >= 0)
    H5Sclose(mspace);
  if (fspace >= 0)
    H5Sclose(fspace);
  if (dset >= 0 && H5Dclose(dset) < 0)
    status = -1;
  return status;
}

static int runlog_append_epoch(sl_runlog *log, const sl_epoch_metrics *m)
{
  int rc = check_writable("sl_runlog_append_epoch", log);
  if (rc != SL_OK)
    return rc;
  if (!m)
    return sl_error(SL_EINVAL, "sl_runlog_append_epoch: metrics pointer is NULL");

  hid_t grp = -1;
  const char *what = "open /metrics";
  hsize_t row = (hsize_t)log->epochs;
  int64_t epoch = m->epoch, complete = log->epochs + 1;
  rc = SL_EIO;
  grp = H5Gopen2(log->file, "metrics", H5P_DEFAULT);
  if (grp < 0)
    goto out;
  for (size_t k = 0; k < N_METRIC_COLUMNS; k++) {
    what = metric_columns[k].name;
    herr_t w;
    if (metric_columns[k].offset < 0)
      w = write_row(grp, what, H5T_NATIVE_INT64, &epoch, row);
    else
      w = write_row(grp, what, H5T_NATIVE_DOUBLE,
                    (const char *)m + metric_columns[k].offset, row);
    if (w < 0)
      goto out;
  }
  /* The row is complete in every column: commit it. */
  what = "epochs_complete";
  if (slh_attr_update(grp, "epochs_complete", H5T_NATIVE_INT64, &complete) < 0)
    goto out;
  what = "flush";
  if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
    goto out;
  log->epochs++;
  rc = SL_OK;
out:
  if (grp >= 0)
    H5Gclose(grp);
  if (rc != SL_OK)
    rc = sl_error(SL_EIO, "sl_runlog_append_epoch: '%s': cannot write epoch row %ld of /metrics (%s)",
                  log->path, log->epochs, what);
  return rc;
}

int sl_runlog_append_epoch(sl_runlog *log, const sl_epoch_metrics *m)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_append_epoch(log, m); }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ staging */

/* Stage an array at /.staging/<path> (rank 1 or 2), replacing a staged array
 * of the same path. */
static int stage_array(const char *fn, sl_runlog *log, const char *path, hid_t file_type,
                       hid_t mem_type, const void *data, int rank, const hsize_t *dims,
                       size_t n)
{
  const char *rel = NULL;
  int rc = check_writable(fn, log);
  if (rc != SL_OK)
    return rc;
  if ((rc = check_put_path(fn, path, &rel)) != SL_OK)
    return rc;
  if (!data && n)
    return sl_error(SL_EINVAL, "%s: '%s': data for %s is NULL", fn, log->path, rel);

  char full[PATH_MAX_LEN + sizeof STAGING + 2];
  snprintf(full, sizeof full, STAGING "/%s", rel);
  slh_file f = {log->file, log->path, fn};
  if (slh_exists(&f, full)) { /* last put wins: replace a staged array, never a group */
    hid_t obj = H5Oopen(log->file, full, H5P_DEFAULT);
    H5I_type_t kind = obj >= 0 ? H5Iget_type(obj) : H5I_BADID;
    if (obj >= 0)
      H5Oclose(obj);
    if (kind == H5I_GROUP)
      return sl_error(SL_EINVAL, "%s: '%s': '%s' already holds staged arrays", fn, log->path, rel);
    if (kind != H5I_DATASET || H5Ldelete(log->file, full, H5P_DEFAULT) < 0)
      return sl_error(SL_EIO, "%s: '%s': cannot replace dataset %s", fn, log->path, full);
  }
  if (slh_dataset(log->file, full, file_type, mem_type, rank, dims, n ? data : NULL, SLH_PLAIN) < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot write dataset %s (is a parent a dataset?)", fn,
                    log->path, full);
  return SL_OK;
}

static int runlog_put_float(sl_runlog *log, const char *path, const float *data, size_t rows,
                            size_t cols)
{
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  if (cols && rows > SIZE_MAX / sizeof(float) / cols)
    return sl_error(SL_EINVAL, "sl_runlog_put_float: %zu x %zu floats overflow size_t", rows,
                    cols);
  return stage_array("sl_runlog_put_float", log, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data,
                     cols ? 2 : 1, dims, cols ? rows * cols : rows);
}

int sl_runlog_put_float(sl_runlog *log, const char *path, const float *data, size_t rows,
                        size_t cols)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_put_float(log, path, data, rows, cols); }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_put_int(sl_runlog *log, const char *path, const int32_t *data, size_t n)
{
  hsize_t dims[1] = {(hsize_t)n};
  int rc;
  H5E_BEGIN_TRY
  {
    rc = stage_array("sl_runlog_put_int", log, path, H5T_STD_I32LE, H5T_NATIVE_INT32, data, 1,
                     dims, n);
  }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_put_double(sl_runlog *log, const char *path, const double *data, size_t n)
{
  hsize_t dims[1] = {(hsize_t)n};
  int rc;
  H5E_BEGIN_TRY
  {
    rc = stage_array("sl_runlog_put_double", log, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data,
                     1, dims, n);
  }
  H5E_END_TRY;
  return rc;
}

/* Open /.staging/summary, creating it if needed; -1 on failure. */
static hid_t open_staged_summary(hid_t file)
{
  slh_file f = {file, "", ""};
  if (slh_exists(&f, STAGED_SUMMARY))
    return H5Gopen2(file, STAGED_SUMMARY, H5P_DEFAULT);
  return slh_group(file, STAGED_SUMMARY);
}

/* A summary name may be staged: the log is writable, the name is not empty
 * and not one sl_runlog_finish writes. */
static int summary_name_check(const char *fn, sl_runlog *log, const char *name)
{
  int rc = check_writable(fn, log);
  if (rc != SL_OK)
    return rc;
  if (!name || !*name)
    return sl_error(SL_EINVAL, "%s: '%s': %s summary name", fn, log->path,
                    name ? "empty" : "NULL");
  for (size_t i = 0; i < sizeof reserved_summary / sizeof reserved_summary[0]; i++)
    if (strcmp(name, reserved_summary[i]) == 0)
      return sl_error(SL_EINVAL, "%s: '%s': summary name '%s' is written by sl_runlog_finish", fn,
                      log->path, name);
  return SL_OK;
}

/* Stage summary attribute `name`: numbers (n == 0: scalar values[0]) or,
 * with text != NULL, a string. */
static int stage_summary(const char *fn, sl_runlog *log, const char *name, const double *values,
                         size_t n, const char *text)
{
  int rc = summary_name_check(fn, log, name);
  if (rc != SL_OK)
    return rc;
  if (!values && !text)
    return sl_error(SL_EINVAL, "%s: '%s': values of summary '%s' are NULL", fn, log->path, name);
  const size_t count = text ? 0 : n ? n : 1;
  for (size_t i = 0; i < count; i++)
    if (!isfinite(values[i])) {
      if (n)
        return sl_error(SL_ENUMERIC, "%s: '%s': summary '%s'[%zu] = %g is not finite", fn,
                        log->path, name, i, values[i]);
      return sl_error(SL_ENUMERIC, "%s: '%s': summary '%s' = %g is not finite", fn, log->path,
                      name, values[i]);
    }

  hid_t grp = open_staged_summary(log->file);
  rc = SL_OK;
  herr_t w = grp < 0 ? -1
             : text  ? slh_attr_str(grp, ".", name, text)
                     : slh_attr(grp, ".", name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)n,
                                values);
  if (w < 0)
    rc = sl_error(SL_EIO, "%s: '%s': cannot write attribute " STAGED_SUMMARY "@%s", fn,
                  log->path, name);
  if (grp >= 0)
    H5Gclose(grp);
  return rc;
}

int sl_runlog_put_summary(sl_runlog *log, const char *name, double value)
{
  int rc;
  H5E_BEGIN_TRY { rc = stage_summary("sl_runlog_put_summary", log, name, &value, 0, NULL); }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_put_summary_array(sl_runlog *log, const char *name, const double *values,
                                size_t n)
{
  int rc;
  H5E_BEGIN_TRY
  {
    if (n == 0)
      rc = log ? sl_error(SL_EINVAL, "sl_runlog_put_summary_array: '%s': summary '%s' is empty",
                          log->path, name ? name : "(null)")
               : sl_error(SL_EINVAL, "sl_runlog_put_summary_array: run log is NULL");
    else
      rc = stage_summary("sl_runlog_put_summary_array", log, name, values, n, NULL);
  }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_put_summary_string(sl_runlog *log, const char *name, const char *value)
{
  int rc;
  H5E_BEGIN_TRY
  {
    rc = value ? stage_summary("sl_runlog_put_summary_string", log, name, NULL, 0, value)
               : sl_error(SL_EINVAL, "sl_runlog_put_summary_string: value of '%s' is NULL",
                          name ? name : "(null)");
  }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ finish */

static int runlog_finish(sl_runlog *log, double test_accuracy, long epochs, double seconds)
{
  int rc = check_writable("sl_runlog_finish", log);
  if (rc != SL_OK)
    return rc;
  if (!isfinite(test_accuracy) || !isfinite(seconds))
    return sl_error(SL_ENUMERIC, "sl_runlog_finish: '%s': %s = %g is not finite", log->path,
                    !isfinite(test_accuracy) ? "test_accuracy" : "seconds",
                    !isfinite(test_accuracy) ? test_accuracy : seconds);
  if (epochs < 0)
    return sl_error(SL_EINVAL, "sl_runlog_finish: '%s': epochs = %ld is negative", log->path,
                    epochs);

  hid_t stg = -1, sum = -1, lcpl = -1;
  char name[PATH_MAX_LEN + 2], dst[PATH_MAX_LEN + 4], what[2 * PATH_MAX_LEN + 64];
  int64_t ep = epochs;
  rc = SL_EIO;
  snprintf(what, sizeof what, "open " STAGING);
  lcpl = slh_lcpl_parents();
  if (lcpl < 0)
    goto out;
  htri_t staged = H5Lexists(log->file, STAGING + 1, H5P_DEFAULT);
  if (staged < 0)
    goto out;
  if (staged) {
    stg = H5Gopen2(log->file, STAGING, H5P_DEFAULT);
    if (stg < 0)
      goto out;
    /* Move every top-level item but summary; moving shifts the later names
     * down to index k, so k only advances past summary. */
    hsize_t k = 0;
    for (;;) {
      H5G_info_t info;
      if (H5Gget_info(stg, &info) < 0)
        goto out;
      if (k >= info.nlinks)
        break;
      ssize_t len = H5Lget_name_by_idx(stg, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name,
                                       H5P_DEFAULT);
      if (len < 0 || (size_t)len >= sizeof name)
        goto out;
      if (strcmp(name, "summary") == 0) {
        k++;
        continue;
      }
      snprintf(dst, sizeof dst, "/%s", name);
      snprintf(what, sizeof what, "move " STAGING "/%s to /%s", name, name);
      if (H5Lmove(stg, name, log->file, dst, lcpl, H5P_DEFAULT) < 0)
        goto out;
    }
  }
  snprintf(what, sizeof what, "write " STAGED_SUMMARY);
  sum = open_staged_summary(log->file);
  if (sum < 0)
    goto out;
  if (slh_attr(sum, ".", "test_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0,
                 &test_accuracy) < 0 ||
      slh_attr(sum, ".", "epochs", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &ep) < 0 ||
      slh_attr(sum, ".", "seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &seconds) < 0)
    goto out;
  H5Gclose(sum);
  sum = -1;
  if (stg >= 0) {
    H5Gclose(stg);
    stg = -1;
  }
  /* /summary appears complete, in one link operation. */
  snprintf(what, sizeof what, "move " STAGED_SUMMARY " to /summary");
  if (H5Lmove(log->file, STAGED_SUMMARY, log->file, "/summary", lcpl, H5P_DEFAULT) < 0)
    goto out;
  snprintf(what, sizeof what, "delete " STAGING);
  if (H5Ldelete(log->file, STAGING, H5P_DEFAULT) < 0)
    goto out;
  snprintf(what, sizeof what, "flush");
  if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
    goto out;
  log->finished = 1;
  rc = SL_OK;
out:
  if (sum >= 0)
    H5Gclose(sum);
  if (stg >= 0)
    H5Gclose(stg);
  if (lcpl >= 0)
    H5Pclose(lcpl);
  if (rc != SL_OK)
    rc = sl_error(SL_EIO, "sl_runlog_finish: '%s': cannot %s", log->path, what);
  return rc;
}

int sl_runlog_finish(sl_runlog *log, double test_accuracy, long epochs, double seconds)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_finish(log, test_accuracy, epochs, seconds); }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_close(sl_runlog *log)
{
  if (!log)
    return SL_OK;
  int rc;
  H5E_BEGIN_TRY { rc = slh_flush_close(log->file, "sl_runlog_close", log->path); }
  H5E_END_TRY;
  free(log->path);
  free(log);
  return rc;
}

/* ------------------------------------------------------------ reading */

#ifdef H5E_CANTLOCKFILE
static herr_t find_minor(unsigned n, const H5E_error2_t *err, void *data)
{
  (void)n;
  hid_t *minor = data;
  if (err->min_num == *minor) {
    *minor = -1; /* found */
    return 1;
  }
  return 0;
}

/* Does the current HDF5 error stack hold an error of this minor class? */
static int error_stack_has(hid_t minor)
{
  hid_t m = minor;
  if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_minor, &m) < 0)
    return 0;
  return m == -1;
}
#endif

static int runlog_open(sl_runlog_reader **out, const char *path)
{
  if (!out)
    return sl_error(SL_EINVAL, "sl_runlog_open: output pointer is NULL");
  *out = NULL;
  if (!path || !*path)
    return sl_error(SL_EINVAL, "sl_runlog_open: %s path", path ? "empty" : "NULL");

  /* A plain open first, for a clear message on a missing or unreadable file. */
  FILE *f = fopen(path, "rb");
  if (!f)
    return sl_error(SL_EIO, "sl_runlog_open: cannot open '%s': %s", path, strerror(errno));
  fclose(f);

  htri_t is_h5 = H5Fis_hdf5(path);
  if (is_h5 <= 0)
    return sl_error(SL_EIO, "sl_runlog_open: '%s' is not an HDF5 file", path);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
#ifdef H5E_CANTLOCKFILE /* HDF5 >= 1.10 */
    if (error_stack_has(H5E_CANTLOCKFILE))
      return sl_error(SL_EIO, "sl_runlog_open: '%s' is locked: a running process is writing it "
                              "(HDF5 file locking)", path);
#endif
    return sl_error(SL_EIO, "sl_runlog_open: '%s' is a damaged or truncated HDF5 file", path);
  }

  sl_runlog_reader *r = calloc(1, sizeof *r);
  char *name = strdup(path);
  if (!r || !name) {
    free(r);
    free(name);
    H5Fclose(file);
    return sl_error(SL_ENOMEM, "sl_runlog_open: out of memory");
  }
  r->file = file;
  r->path = name;
  *out = r;
  return SL_OK;
}

int sl_runlog_open(sl_runlog_reader **out, const char *path)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_open(out, path); }
  H5E_END_TRY;
  return rc;
}

void sl_runlog_reader_close(sl_runlog_reader *r)
{
  if (!r)
    return;
  H5E_BEGIN_TRY { H5Fclose(r->file); }
  H5E_END_TRY;
  free(r->path);
  free(r->phase);
  free(r);
}

/* State of the /config attribute walk. */
typedef struct {
  sl_config *cfg;
  int rc;            /* first failure */
  char name[256];    /* attribute that failed */
  char message[512]; /* message of sl_config_set */
} config_walk;

static herr_t apply_config_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
  (void)info;
  config_walk *w = data;
  hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
  char *value = NULL;
  int rc = attr >= 0 ? slh_attr_string(attr, &value) : SL_EIO;
  if (attr >= 0)
    H5Aclose(attr);
  if (rc == SL_OK) {
    rc = sl_config_set(w->cfg, name, value);
    if (rc != SL_OK)
      snprintf(w->message, sizeof w->message, "%s", sl_last_error());
  } else {
    snprintf(w->message, sizeof w->message, "%s",
             rc == SL_EFORMAT ? "not a single string" : rc == SL_ENOMEM ? "out of memory"
                                                                          : "cannot read it");
  }
  free(value);
  if (rc == SL_OK)
    return 0;
  w->rc = rc;
  snprintf(w->name, sizeof w->name, "%s", name);
  return -1;
}

static int runlog_read_config(sl_runlog_reader *r, sl_config *cfg)
{
  if (!r || !cfg)
    return sl_error(SL_EINVAL, "sl_runlog_read_config: %s is NULL", r ? "config" : "reader");
  hid_t grp = -1, gcpl = -1;
  int rc = SL_EIO;
  config_walk w = {.rc = SL_OK};
  sl_config tmp = *cfg;
  w.cfg = &tmp;

  htri_t exists = H5Lexists(r->file, "config", H5P_DEFAULT);
  if (exists <= 0) {
    rc = exists < 0 ? sl_error(SL_EIO, "sl_runlog_read_config: '%s': cannot read the root group",
                               r->path)
                    : sl_error(SL_EFORMAT, "sl_runlog_read_config: '%s': no /config group",
                               r->path);
    goto out;
  }
  grp = H5Gopen2(r->file, "config", H5P_DEFAULT);
  gcpl = grp >= 0 ? H5Gget_create_plist(grp) : -1;
  unsigned order = 0;
  if (grp < 0 || gcpl < 0 || H5Pget_attr_creation_order(gcpl, &order) < 0) {
    rc = sl_error(SL_EFORMAT, "sl_runlog_read_config: '%s': /config is not a readable group",
                  r->path);
    goto out;
  }
  /* Table order when the writer tracked it, name order otherwise. */
  H5_index_t index = (order & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  herr_t it = H5Aiterate2(grp, index, H5_ITER_INC, NULL, apply_config_attr, &w);
  if (w.rc != SL_OK) { /* an unreadable attribute, or an error of sl_config_set */
    rc = sl_error(w.rc, "sl_runlog_read_config: '%s': /config@%s: %s", r->path, w.name,
                  w.message);
    goto out;
  }
  if (it < 0) {
    rc = sl_error(SL_EIO, "sl_runlog_read_config: '%s': cannot list the attributes of /config",
                  r->path);
    goto out;
  }
  *cfg = tmp;
  rc = SL_OK;
out:
  if (gcpl >= 0)
    H5Pclose(gcpl);
  if (grp >= 0)
    H5Gclose(grp);
  return rc;
}

int sl_runlog_read_config(sl_runlog_reader *r, sl_config *cfg)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_read_config(r, cfg); }
  H5E_END_TRY;
  return rc;
}

/* Read the dataset at `path` into data: its type class must be `cls` and its
 * shape exactly dims[0..rank). */
static int read_array(const char *fn, sl_runlog_reader *r, const char *path, H5T_class_t cls,
                      hid_t mem_type, void *data, int rank, const hsize_t *dims)
{
  if (!r || !path || !data)
    return sl_error(SL_EINVAL, "%s: %s is NULL", fn, !r ? "reader" : !path ? "path" : "data");
  if (!*path)
    return sl_error(SL_EINVAL, "%s: '%s': empty path", fn, r->path);
  slh_file f = {r->file, r->path, fn};
  return slh_read_exact(&f, path, cls, mem_type, rank, dims, data);
}

int sl_runlog_get_float(sl_runlog_reader *r, const char *path, float *data, size_t rows,
                        size_t cols)
{
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  int rc;
  H5E_BEGIN_TRY
  {
    rc = read_array("sl_runlog_get_float", r, path, H5T_FLOAT, H5T_NATIVE_FLOAT, data,
                    cols ? 2 : 1, dims);
  }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_get_int(sl_runlog_reader *r, const char *path, int32_t *data, size_t n)
{
  hsize_t dims[1] = {(hsize_t)n};
  int rc;
  H5E_BEGIN_TRY
  {
    rc = read_array("sl_runlog_get_int", r, path, H5T_INTEGER, H5T_NATIVE_INT32, data, 1, dims);
  }
  H5E_END_TRY;
  return rc;
}

/* Read the one-number attribute /grp@name (an integer or float) as double. */
static int read_attr_number(const char *fn, sl_runlog_reader *r, const char *grp,
                            const char *name, double *value)
{
  slh_file f = {r->file, r->path, fn};
  char objpath[64];
  snprintf(objpath, sizeof objpath, "/%s", grp);
  htri_t exists = H5Lexists(r->file, grp, H5P_DEFAULT);
  if (exists <= 0)
    return exists < 0 ? sl_error(SL_EIO, "%s: '%s': cannot read the root group", fn, r->path)
                      : sl_error(SL_EFORMAT, "%s: '%s': no %s group%s", fn, r->path, objpath,
                                 strcmp(grp, "summary") ? "" : " (the run did not finish)");
  hid_t obj = H5Oopen(r->file, grp, H5P_DEFAULT);
  if (obj < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot open %s", fn, r->path, objpath);
  int rc = slh_get_attr(&f, obj, objpath, name, H5T_NATIVE_DOUBLE, 1, value);
  H5Oclose(obj);
  return rc;
}

int sl_runlog_get_summary(sl_runlog_reader *r, const char *name, double *value)
{
  if (!r || !name || !value)
    return sl_error(SL_EINVAL, "sl_runlog_get_summary: %s is NULL",
                    !r ? "reader" : !name ? "name" : "value");
  if (!*name)
    return sl_error(SL_EINVAL, "sl_runlog_get_summary: '%s': empty name", r->path);
  int rc;
  double v = 0.0;
  H5E_BEGIN_TRY { rc = read_attr_number("sl_runlog_get_summary", r, "summary", name, &v); }
  H5E_END_TRY;
  if (rc == SL_OK)
    *value = v;
  return rc;
}

static int runlog_get_meta(sl_runlog_reader *r, const char *name, char *buf, size_t len)
{
  const char *fn = "sl_runlog_get_meta";
  if (!r || !name || !buf || !len)
    return sl_error(SL_EINVAL, "%s: NULL or empty argument", fn);
  slh_file f = {r->file, r->path, fn};
  hid_t g = -1;
  int rc = slh_open_group(&f, "meta", &g);
  char *v = NULL;
  if (!rc)
    rc = slh_get_attr_str(&f, g, "/meta", name, &v);
  if (!rc && strlen(v) >= len)
    rc = sl_error(SL_ERANGE, "%s: '%s': /meta@%s is longer than %zu characters", fn, r->path,
                  name, len - 1);
  if (!rc)
    memcpy(buf, v, strlen(v) + 1);
  free(v);
  if (g >= 0)
    H5Gclose(g);
  return rc;
}

int sl_runlog_get_meta(sl_runlog_reader *r, const char *name, char *buf, size_t len)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_get_meta(r, name, buf, len); }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_get_epochs(sl_runlog_reader *r, long *epochs)
{
  if (!r || !epochs)
    return sl_error(SL_EINVAL, "sl_runlog_get_epochs: %s is NULL", r ? "epochs" : "reader");
  int rc;
  double v = 0.0;
  H5E_BEGIN_TRY { rc = read_attr_number("sl_runlog_get_epochs", r, "metrics", "epochs_complete", &v); }
  H5E_END_TRY;
  if (rc != SL_OK)
    return rc;
  if (v < 0 || v > (double)LONG_MAX || v != floor(v))
    return sl_error(SL_EFORMAT, "sl_runlog_get_epochs: '%s': /metrics@epochs_complete = %g is "
                                "not a count",
                    r->path, v);
  *epochs = (long)v;
  return SL_OK;
}

int sl_runlog_exists(sl_runlog_reader *r, const char *path)
{
  if (!r || !path)
    return 0;
  slh_file f = {r->file, r->path, "sl_runlog_exists"};
  int e;
  H5E_BEGIN_TRY { e = slh_exists(&f, path); }
  H5E_END_TRY;
  return e;
}
