/* runlog_ckpt.c -- checkpoints in the run log, and reopening the log of a
 * killed run (layout and contract in spikeloop/runlog.h).
 *
 * Choices:
 * - Durability rests on HDF5's flush: between two H5Fflush calls the file on
 *   disk is that of the last flush (metadata changes stay in HDF5's cache;
 *   raw data of new datasets goes to space no flushed object refers to). So
 *   every step that changes what the flushed file means is separated by a
 *   flush: (1) the staged group complete -> flush; (2) rename to epoch_E and
 *   /checkpoint@epoch = E -> flush; (3) delete the previous checkpoint ->
 *   flush. A kill before (2)'s flush leaves the previous checkpoint valid; a
 *   kill after it leaves the new one valid and maybe the old one as well (a
 *   leftover that the next commit or reopen deletes). A kill *inside* an
 *   H5Fflush (HDF5 writes its dirty metadata in no promised order) is not
 *   covered by this argument; the flushes are a few kB and the shell test
 *   test_resume.sh checks many kill points with h5py.
 * - H5Fflush does not fsync: this protects against the process dying
 *   (SIGKILL, OOM killer), not against a power cut.
 * - Names under /checkpoint/epoch_E are one component; counts are int64
 *   attributes of the checkpoint group, arrays 1-D contiguous datasets
 *   (float32, float64, uint8).
 * - Test hook (base/teststop.h): SPIKELOOP_TEST_STOP_AT="<stage>:<epoch>"
 *   makes the writer stop itself (SIGSTOP) at that stage of committing that
 *   epoch's checkpoint, so that test_resume.sh can SIGKILL it at an exact
 *   point: stages "staged"
 *   (before the first flush), "flushed" (before the rename), "renamed"
 *   (before the second flush), "committed" (before deleting the previous
 *   one), "deleted" (before the last flush). Unset, it costs one getenv per
 *   commit. Phase commits stop at "phase_staged", "phase_flushed" and
 *   "phase_committed" with the phase's ordinal (1 for the first stored).
 * - Phases (multi-phase experiments): a finished phase's results are
 *   staged in the same /checkpoint/.staging and, after a flush, moved to
 *   /checkpoint/phases/<name> in one flush that also drops the epoch
 *   checkpoint (it belonged to that phase's training): so a valid epoch
 *   checkpoint always belongs to the first phase not yet stored.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup, raise under -std=c11 */
#endif

#include "spikeloop/runlog.h"
#include "spikeloop/error.h"

#include "base/teststop.h"
#include "io/h5.h"
#include "io/runlog_internal.h"

#include <hdf5.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT "/checkpoint"
#define CKPT_STAGING "/checkpoint/.staging"
#define CKPT_PHASES "/checkpoint/phases"
#define NAME_MAX_LEN 128

static int check_name(const char *fn, const char *name)
{
  if (!name || !*name)
    return sl_error(SL_EINVAL, "%s: %s checkpoint name", fn, name ? "empty" : "NULL");
  if (strchr(name, '/') || name[0] == '.' || strlen(name) > NAME_MAX_LEN)
    return sl_error(SL_EINVAL, "%s: bad checkpoint name '%s' (one component, no leading '.')",
                    fn, name);
  return SL_OK;
}

static int check_staging(const char *fn, const sl_runlog *log)
{
  if (!log)
    return sl_error(SL_EINVAL, "%s: run log is NULL", fn);
  if (log->finished)
    return sl_error(SL_EINVAL, "%s: '%s': run log already finished", fn, log->path);
  if (log->ckpt_epoch < 0)
    return sl_error(SL_EINVAL, "%s: '%s': no checkpoint begun", fn, log->path);
  return SL_OK;
}

/* Delete link `path` if it exists; 0 or -1. */
static herr_t delete_if_exists(hid_t file, const char *path)
{
  slh_file f = {file, "", ""};
  if (!slh_exists(&f, path))
    return 0;
  return H5Ldelete(file, path, H5P_DEFAULT);
}

/* ------------------------------------------------------------ writing */

static int ckpt_begin(sl_runlog *log, long epoch)
{
  const char *fn = "sl_runlog_ckpt_begin";
  if (!log)
    return sl_error(SL_EINVAL, "%s: run log is NULL", fn);
  if (log->finished)
    return sl_error(SL_EINVAL, "%s: '%s': run log already finished", fn, log->path);
  if (epoch < 0)
    return sl_error(SL_EINVAL, "%s: '%s': epoch %ld is negative", fn, log->path, epoch);
  slh_file f = {log->file, log->path, fn};
  hid_t g = -1;
  if (!slh_exists(&f, CKPT)) {
    g = slh_group(log->file, CKPT);
    if (g < 0)
      return sl_error(SL_EIO, "%s: '%s': cannot create " CKPT, fn, log->path);
    H5Gclose(g);
  }
  if (delete_if_exists(log->file, CKPT_STAGING) < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot delete " CKPT_STAGING, fn, log->path);
  g = slh_group(log->file, CKPT_STAGING);
  if (g < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot create " CKPT_STAGING, fn, log->path);
  H5Gclose(g);
  log->ckpt_epoch = epoch;
  return SL_OK;
}

int sl_runlog_ckpt_begin(sl_runlog *log, long epoch)
{
  int rc;
  H5E_BEGIN_TRY { rc = ckpt_begin(log, epoch); }
  H5E_END_TRY;
  return rc;
}

static int ckpt_put(const char *fn, sl_runlog *log, const char *name, hid_t file_type,
                    hid_t mem_type, const void *data, size_t n)
{
  int rc = check_staging(fn, log);
  if (!rc)
    rc = check_name(fn, name);
  if (rc)
    return rc;
  if (!data && n)
    return sl_error(SL_EINVAL, "%s: '%s': data of '%s' is NULL", fn, log->path, name);
  char path[NAME_MAX_LEN + 32];
  snprintf(path, sizeof path, CKPT_STAGING "/%s", name);
  hsize_t dims[1] = {(hsize_t)n};
  int bad = delete_if_exists(log->file, path) < 0 ||
            slh_dataset(log->file, path, file_type, mem_type, 1, dims, n ? data : NULL,
                        SLH_PLAIN) < 0;
  return bad ? sl_error(SL_EIO, "%s: '%s': cannot write %s", fn, log->path, path) : SL_OK;
}

int sl_runlog_ckpt_put_float(sl_runlog *log, const char *name, const float *data, size_t n)
{
  int rc;
  H5E_BEGIN_TRY
  {
    rc = ckpt_put("sl_runlog_ckpt_put_float", log, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data,
                  n);
  }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_ckpt_put_double(sl_runlog *log, const char *name, const double *data, size_t n)
{
  int rc;
  H5E_BEGIN_TRY
  {
    rc = ckpt_put("sl_runlog_ckpt_put_double", log, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data,
                  n);
  }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_ckpt_put_bytes(sl_runlog *log, const char *name, const uint8_t *data, size_t n)
{
  int rc;
  H5E_BEGIN_TRY
  {
    rc = ckpt_put("sl_runlog_ckpt_put_bytes", log, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, data, n);
  }
  H5E_END_TRY;
  return rc;
}

static int ckpt_put_count(sl_runlog *log, const char *name, int64_t value)
{
  const char *fn = "sl_runlog_ckpt_put_count";
  int rc = check_staging(fn, log);
  if (!rc)
    rc = check_name(fn, name);
  if (rc)
    return rc;
  if (slh_attr(log->file, CKPT_STAGING, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &value) < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot write " CKPT_STAGING "@%s", fn, log->path, name);
  return SL_OK;
}

int sl_runlog_ckpt_put_count(sl_runlog *log, const char *name, int64_t value)
{
  int rc;
  H5E_BEGIN_TRY { rc = ckpt_put_count(log, name, value); }
  H5E_END_TRY;
  return rc;
}

/* The epoch /checkpoint@epoch names, or -1 if none; -2 on a read error. */
static long current_epoch(hid_t file)
{
  slh_file f = {file, "", ""};
  if (!slh_exists(&f, CKPT))
    return -1;
  hid_t g = H5Gopen2(file, CKPT, H5P_DEFAULT);
  if (g < 0)
    return -2;
  long e = -1;
  htri_t has = H5Aexists(g, "epoch");
  if (has > 0) {
    int64_t v = -1;
    hid_t a = H5Aopen(g, "epoch", H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &v) < 0)
      e = -2;
    else
      e = (long)v;
    if (a >= 0)
      H5Aclose(a);
  } else if (has < 0) {
    e = -2;
  }
  H5Gclose(g);
  return e;
}

static int ckpt_commit(sl_runlog *log)
{
  const char *fn = "sl_runlog_ckpt_commit";
  int rc = check_staging(fn, log);
  if (rc)
    return rc;
  const long epoch = log->ckpt_epoch, old = current_epoch(log->file);
  char dst[64], prev[64];
  const char *what = "read " CKPT "@epoch";
  snprintf(dst, sizeof dst, CKPT "/epoch_%ld", epoch);
  snprintf(prev, sizeof prev, CKPT "/epoch_%ld", old);
  int64_t e = epoch;
  rc = SL_EIO;
  if (old == -2)
    goto out;
  if (old == epoch) {
    rc = sl_error(SL_EINVAL, "%s: '%s': the checkpoint of epoch %ld is already the valid one", fn,
                  log->path, epoch);
    goto out;
  }
  what = "write " CKPT_STAGING "@epoch";
  if (slh_attr(log->file, CKPT_STAGING, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &e) < 0)
    goto out;
  sli_test_stop("staged", epoch);
  /* (1) the staged checkpoint is complete on disk, under a name no reader
   * takes */
  what = "flush the staged checkpoint";
  if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
    goto out;
  sli_test_stop("flushed", epoch);
  /* (2) it becomes the valid one in one flush: a stale group of the same
   * name (a leftover of a killed commit) goes first */
  what = "rename " CKPT_STAGING;
  if (delete_if_exists(log->file, dst) < 0 ||
      H5Lmove(log->file, CKPT_STAGING, log->file, dst, H5P_DEFAULT, H5P_DEFAULT) < 0)
    goto out;
  what = "write " CKPT "@epoch";
  if (slh_attr(log->file, CKPT, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &e) < 0)
    goto out;
  sli_test_stop("renamed", epoch);
  what = "flush the new checkpoint";
  if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
    goto out;
  log->ckpt_epoch = -1;
  sli_test_stop("committed", epoch);
  /* (3) only now the previous one goes */
  what = "delete the previous checkpoint";
  if (old >= 0 && delete_if_exists(log->file, prev) < 0)
    goto out;
  sli_test_stop("deleted", epoch);
  what = "flush";
  if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
    goto out;
  rc = SL_OK;
out:
  if (rc == SL_EIO)
    rc = sl_error(SL_EIO, "%s: '%s': cannot %s (epoch %ld)", fn, log->path, what, epoch);
  return rc;
}

int sl_runlog_ckpt_commit(sl_runlog *log)
{
  int rc;
  H5E_BEGIN_TRY { rc = ckpt_commit(log); }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ reopening */

/* Truncate every dataset of /metrics to `rows` rows and set epochs_complete. */
static herr_t truncate_metrics(hid_t file, long rows, long *complete)
{
  hid_t grp = H5Gopen2(file, "metrics", H5P_DEFAULT);
  if (grp < 0)
    return -1;
  herr_t status = -1;
  int64_t have = 0, want = rows;
  hid_t a = H5Aopen(grp, "epochs_complete", H5P_DEFAULT);
  if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &have) < 0)
    goto out;
  *complete = (long)have;
  if (have < want) {
    status = 0; /* the caller raises SL_EFORMAT */
    goto out;
  }
  H5G_info_t info;
  if (H5Gget_info(grp, &info) < 0)
    goto out;
  for (hsize_t k = 0; k < info.nlinks; k++) {
    char name[64];
    ssize_t len = H5Lget_name_by_idx(grp, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name,
                                     H5P_DEFAULT);
    if (len < 0 || (size_t)len >= sizeof name)
      goto out;
    hid_t d = H5Dopen2(grp, name, H5P_DEFAULT);
    hsize_t size = (hsize_t)rows;
    herr_t s = d < 0 ? -1 : H5Dset_extent(d, &size);
    if (d >= 0)
      H5Dclose(d);
    if (s < 0)
      goto out;
  }
  if (H5Aclose(a) < 0) {
    a = -1;
    goto out;
  }
  a = -1;
  status = slh_attr_update(grp, "epochs_complete", H5T_NATIVE_INT64, &want);
out:
  if (a >= 0)
    H5Aclose(a);
  H5Gclose(grp);
  return status;
}

/* Delete every top-level link but config, meta, metrics and checkpoint
 * (a /.staging of a killed run; moved items of a finish that never
 * flushed its /summary). */
static herr_t delete_extra_top(hid_t file)
{
  static const char *const keep[] = {"config", "meta", "metrics", "checkpoint"};
  hsize_t k = 0;
  for (;;) {
    H5G_info_t info;
    char name[256];
    if (H5Gget_info(file, &info) < 0)
      return -1;
    if (k >= info.nlinks)
      return 0;
    ssize_t len = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name,
                                     H5P_DEFAULT);
    if (len < 0 || (size_t)len >= sizeof name)
      return -1;
    int kept = 0;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
      kept |= strcmp(name, keep[i]) == 0;
    if (kept)
      k++;
    else if (H5Ldelete(file, name, H5P_DEFAULT) < 0)
      return -1;
  }
}

static int runlog_reopen(sl_runlog **out, const char *path, long epochs)
{
  const char *fn = "sl_runlog_reopen";
  if (!out)
    return sl_error(SL_EINVAL, "%s: output pointer is NULL", fn);
  *out = NULL;
  if (!path || !*path)
    return sl_error(SL_EINVAL, "%s: %s path", fn, path ? "empty" : "NULL");
  if (epochs < 0)
    return sl_error(SL_EINVAL, "%s: '%s': epochs %ld is negative", fn, path, epochs);
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return sl_error(SL_EIO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
  fclose(fp);
  if (H5Fis_hdf5(path) <= 0)
    return sl_error(SL_EIO, "%s: '%s' is not an HDF5 file", fn, path);
  hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0)
    return sl_error(SL_EIO, "%s: cannot open '%s' for writing (damaged, truncated, or locked by a "
                            "running process)", fn, path);
  sl_runlog *log = calloc(1, sizeof *log);
  char *name = strdup(path);
  int rc = SL_EIO;
  const char *what = "read it";
  long complete = 0;
  slh_file f = {file, path, fn};
  if (!log || !name) {
    rc = sl_error(SL_ENOMEM, "%s: out of memory", fn);
    goto out;
  }
  if (slh_exists(&f, "summary")) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': the run finished (it has /summary): nothing to resume",
                  fn, path);
    goto out;
  }
  if (!slh_exists(&f, "metrics")) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': no /metrics group: not a run log", fn, path);
    goto out;
  }
  what = "delete staged items";
  if (delete_extra_top(file) < 0 || delete_if_exists(file, CKPT_STAGING) < 0)
    goto out;
  what = "truncate /metrics";
  if (truncate_metrics(file, epochs, &complete) < 0)
    goto out;
  if (complete < epochs) {
    rc = sl_error(SL_EFORMAT, "%s: '%s': /metrics has %ld complete epochs, fewer than the %ld of "
                              "the checkpoint", fn, path, complete, epochs);
    goto out;
  }
  what = "flush";
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    goto out;
  log->file = file;
  log->path = name;
  log->epochs = epochs;
  log->ckpt_epoch = -1;
  *out = log;
  return SL_OK;
out:
  if (rc == SL_EIO)
    rc = sl_error(SL_EIO, "%s: '%s': cannot %s", fn, path, what);
  H5Fclose(file);
  free(name);
  free(log);
  return rc;
}

int sl_runlog_reopen(sl_runlog **out, const char *path, long epochs)
{
  int rc;
  H5E_BEGIN_TRY { rc = runlog_reopen(out, path, epochs); }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ reading */

static int ckpt_epoch(sl_runlog_reader *r, long *epoch)
{
  const char *fn = "sl_runlog_ckpt_epoch";
  if (!r || !epoch)
    return sl_error(SL_EINVAL, "%s: %s is NULL", fn, r ? "epoch" : "reader");
  long e = current_epoch(r->file);
  if (e == -2)
    return sl_error(SL_EIO, "%s: '%s': cannot read " CKPT "@epoch", fn, r->path);
  if (e < 0)
    return sl_error(SL_EFORMAT, "%s: '%s' has no checkpoint (written by a version without "
                                "checkpoints, or killed before its first epoch ended)",
                    fn, r->path);
  char path[64];
  snprintf(path, sizeof path, CKPT "/epoch_%ld", e);
  slh_file f = {r->file, r->path, fn};
  if (!slh_exists(&f, path))
    return sl_error(SL_EFORMAT, "%s: '%s': " CKPT "@epoch = %ld but %s is missing (truncated "
                                "or edited log)", fn, r->path, e, path);
  *epoch = e;
  return SL_OK;
}

int sl_runlog_ckpt_epoch(sl_runlog_reader *r, long *epoch)
{
  int rc;
  H5E_BEGIN_TRY { rc = ckpt_epoch(r, epoch); }
  H5E_END_TRY;
  return rc;
}

/* The group reads take: the selected phase's, or "/checkpoint/epoch_E" of
 * the valid checkpoint, into buf. */
static int ckpt_group(sl_runlog_reader *r, char *buf, size_t len)
{
  if (r->phase) {
    snprintf(buf, len, "%s", r->phase);
    return SL_OK;
  }
  long e = 0;
  int rc = ckpt_epoch(r, &e);
  if (!rc)
    snprintf(buf, len, CKPT "/epoch_%ld", e);
  return rc;
}

/* "<group>/<name>" of ckpt_group into buf. */
static int ckpt_path(const char *fn, sl_runlog_reader *r, const char *name, char *buf,
                     size_t len)
{
  char group[NAME_MAX_LEN + 32];
  int rc = check_name(fn, name);
  if (!rc)
    rc = ckpt_group(r, group, sizeof group);
  if (!rc)
    snprintf(buf, len, "%s/%s", group, name);
  return rc;
}

static int ckpt_size(sl_runlog_reader *r, const char *name, size_t *n, int *found)
{
  const char *fn = "sl_runlog_ckpt_size";
  if (!r || !n || !found)
    return sl_error(SL_EINVAL, "%s: NULL argument", fn);
  char path[2 * NAME_MAX_LEN + 64];
  int rc = ckpt_path(fn, r, name, path, sizeof path);
  if (rc)
    return rc;
  slh_file f = {r->file, r->path, fn};
  *n = 0;
  *found = slh_exists(&f, path);
  if (!*found)
    return SL_OK;
  hsize_t dims[1];
  hid_t d = -1;
  rc = slh_open_dataset(&f, path, H5T_NO_CLASS, 1, dims, &d);
  if (d >= 0)
    H5Dclose(d);
  if (!rc)
    *n = (size_t)dims[0];
  return rc;
}

int sl_runlog_ckpt_size(sl_runlog_reader *r, const char *name, size_t *n, int *found)
{
  int rc;
  H5E_BEGIN_TRY { rc = ckpt_size(r, name, n, found); }
  H5E_END_TRY;
  return rc;
}

static int ckpt_get(const char *fn, sl_runlog_reader *r, const char *name, H5T_class_t cls,
                    hid_t mem_type, void *data, size_t n)
{
  if (!r || !data)
    return sl_error(SL_EINVAL, "%s: %s is NULL", fn, r ? "data" : "reader");
  char path[2 * NAME_MAX_LEN + 64];
  int rc = ckpt_path(fn, r, name, path, sizeof path);
  if (rc)
    return rc;
  slh_file f = {r->file, r->path, fn};
  hsize_t dims[1] = {(hsize_t)n};
  return slh_read_exact(&f, path, cls, mem_type, 1, dims, data);
}

int sl_runlog_ckpt_get_float(sl_runlog_reader *r, const char *name, float *data, size_t n)
{
  int rc;
  H5E_BEGIN_TRY
  {
    rc = ckpt_get("sl_runlog_ckpt_get_float", r, name, H5T_FLOAT, H5T_NATIVE_FLOAT, data, n);
  }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_ckpt_get_double(sl_runlog_reader *r, const char *name, double *data, size_t n)
{
  int rc;
  H5E_BEGIN_TRY
  {
    rc = ckpt_get("sl_runlog_ckpt_get_double", r, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, data, n);
  }
  H5E_END_TRY;
  return rc;
}

int sl_runlog_ckpt_get_bytes(sl_runlog_reader *r, const char *name, uint8_t *data, size_t n)
{
  int rc;
  H5E_BEGIN_TRY
  {
    rc = ckpt_get("sl_runlog_ckpt_get_bytes", r, name, H5T_INTEGER, H5T_NATIVE_UINT8, data, n);
  }
  H5E_END_TRY;
  return rc;
}

static int ckpt_get_count(sl_runlog_reader *r, const char *name, int64_t *value)
{
  const char *fn = "sl_runlog_ckpt_get_count";
  if (!r || !value)
    return sl_error(SL_EINVAL, "%s: %s is NULL", fn, r ? "value" : "reader");
  char path[NAME_MAX_LEN + 32];
  int rc = check_name(fn, name);
  if (!rc)
    rc = ckpt_group(r, path, sizeof path);
  if (rc)
    return rc;
  slh_file f = {r->file, r->path, fn};
  hid_t g = H5Gopen2(r->file, path, H5P_DEFAULT);
  if (g < 0)
    return sl_error(SL_EIO, "%s: '%s': cannot open %s", fn, r->path, path);
  rc = slh_get_attr(&f, g, path, name, H5T_NATIVE_INT64, 1, value);
  H5Gclose(g);
  return rc;
}

int sl_runlog_ckpt_get_count(sl_runlog_reader *r, const char *name, int64_t *value)
{
  int rc;
  H5E_BEGIN_TRY { rc = ckpt_get_count(r, name, value); }
  H5E_END_TRY;
  return rc;
}

/* ------------------------------------------------------------ phases */

int sl_runlog_phase_begin(sl_runlog *log)
{
  int rc;
  H5E_BEGIN_TRY { rc = ckpt_begin(log, 0); }
  H5E_END_TRY;
  return rc;
}

/* Number of stored phases, or -1 on a read error. */
static long count_phases(hid_t file)
{
  slh_file f = {file, "", ""};
  if (!slh_exists(&f, CKPT_PHASES))
    return 0;
  H5G_info_t info;
  hid_t g = H5Gopen2(file, CKPT_PHASES, H5P_DEFAULT);
  long n = g >= 0 && H5Gget_info(g, &info) >= 0 ? (long)info.nlinks : -1;
  if (g >= 0)
    H5Gclose(g);
  return n;
}

static int phase_commit(sl_runlog *log, const char *name)
{
  const char *fn = "sl_runlog_phase_commit";
  int rc = check_staging(fn, log);
  if (!rc)
    rc = check_name(fn, name);
  if (rc)
    return rc;
  char dst[NAME_MAX_LEN + 32], old_path[64];
  snprintf(dst, sizeof dst, CKPT_PHASES "/%s", name);
  slh_file f = {log->file, log->path, fn};
  if (slh_exists(&f, dst))
    return sl_error(SL_EINVAL, "%s: '%s': phase '%s' is already stored", fn, log->path, name);
  const long ordinal = count_phases(log->file) + 1, old = current_epoch(log->file);
  const char *what = "read " CKPT;
  if (ordinal < 1 || old == -2)
    goto fail;
  sli_test_stop("phase_staged", ordinal);
  /* (1) the staged results are complete on disk, under a name no reader
   * takes */
  what = "flush the staged phase";
  if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
    goto fail;
  sli_test_stop("phase_flushed", ordinal);
  /* (2) in one flush: the phase is stored, and the epoch checkpoint of its
   * training (if any) is no longer valid */
  what = "create " CKPT_PHASES;
  if (!slh_exists(&f, CKPT_PHASES)) {
    hid_t g = slh_group(log->file, CKPT_PHASES);
    if (g < 0)
      goto fail;
    H5Gclose(g);
  }
  what = "move " CKPT_STAGING " to the phase";
  if (H5Lmove(log->file, CKPT_STAGING, log->file, dst, H5P_DEFAULT, H5P_DEFAULT) < 0)
    goto fail;
  if (old >= 0) {
    what = "drop the epoch checkpoint";
    snprintf(old_path, sizeof old_path, CKPT "/epoch_%ld", old);
    if (H5Adelete_by_name(log->file, CKPT, "epoch", H5P_DEFAULT) < 0 ||
        delete_if_exists(log->file, old_path) < 0)
      goto fail;
  }
  what = "flush the stored phase";
  if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
    goto fail;
  log->ckpt_epoch = -1;
  sli_test_stop("phase_committed", ordinal);
  return SL_OK;
fail:
  return sl_error(SL_EIO, "%s: '%s': cannot %s (phase '%s')", fn, log->path, what, name);
}

int sl_runlog_phase_commit(sl_runlog *log, const char *name)
{
  int rc;
  H5E_BEGIN_TRY { rc = phase_commit(log, name); }
  H5E_END_TRY;
  return rc;
}

static int phase_select(sl_runlog_reader *r, const char *name, int *found)
{
  const char *fn = "sl_runlog_phase_select";
  if (!r || !found)
    return sl_error(SL_EINVAL, "%s: %s is NULL", fn, r ? "found" : "reader");
  *found = 0;
  free(r->phase);
  r->phase = NULL;
  if (!name)
    return SL_OK;
  int rc = check_name(fn, name);
  if (rc)
    return rc;
  char path[NAME_MAX_LEN + 32];
  snprintf(path, sizeof path, CKPT_PHASES "/%s", name);
  slh_file f = {r->file, r->path, fn};
  if (!slh_exists(&f, path))
    return SL_OK;
  r->phase = strdup(path);
  if (!r->phase)
    return sl_error(SL_ENOMEM, "%s: out of memory", fn);
  *found = 1;
  return SL_OK;
}

int sl_runlog_phase_select(sl_runlog_reader *r, const char *name, int *found)
{
  int rc;
  H5E_BEGIN_TRY { rc = phase_select(r, name, found); }
  H5E_END_TRY;
  return rc;
}
