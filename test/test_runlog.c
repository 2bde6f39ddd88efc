/* test_runlog.c -- CUnit suite for the HDF5 run log (spikeloop/runlog.h).
 *
 * Covers: a full write/read round trip (every config key, bit-equal arrays,
 * summary values, /meta attributes as variable-length UTF-8 strings and a
 * uint64 seed); /metrics after N appends; a run killed after two epochs
 * (a fork()ed child that _exit()s without closing); staged arrays invisible
 * until sl_runlog_finish; writes after finish; every input and file error
 * we promise to report (never crash, never print HDF5's error stack); and,
 * if /usr/bin/python3 has h5py, the schema as h5py sees it
 * (test/check_runlog_h5py.py, found under $srcdir or $SL_RUNLOG_H5PY).
 *
 * Files are inspected and damaged directly with the HDF5 / H5LT API.
 */
#include "config.h"
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fork, truncate, dup under -std=c11 */
#endif

#include "spikeloop/config.h"
#include "spikeloop/error.h"
#include "spikeloop/runlog.h"
#include "spikeloop/version.h"
#include "fixtures.h"
#include "testutil.h"

#include <fcntl.h>
#include <float.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static const char *METRIC_NAMES[] = {"epoch",        "loss",          "train_accuracy",
                                     "val_accuracy", "test_accuracy", "hidden_rate",
                                     "seconds"};
#define N_METRICS (sizeof METRIC_NAMES / sizeof METRIC_NAMES[0])

/* Defaults with a few keys changed, so a reader that ignores /config fails. */
static void sample_config(sl_config *cfg)
{
  sl_config_defaults(cfg);
  CU_ASSERT_EQUAL(sl_config_set(cfg, "train.epochs", "7"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_set(cfg, "train.lr", "0.00125"), SL_OK);
  CU_ASSERT_EQUAL(sl_config_set(cfg, "net.hidden", "100,50"), SL_OK);
}

static sl_run_meta sample_meta(void)
{
  sl_run_meta meta = {"train --config t.ini", UINT64_C(0x8000000000000005), 3};
  return meta;
}

/* Row i of a sample metric table. */
static sl_epoch_metrics sample_epoch(long i)
{
  sl_epoch_metrics m = {i + 1,          1.0 / (double)(i + 2), 0.5 + 0.01 * (double)i,
                        0.4 + 0.02 * (double)i, 0.3 + 0.03 * (double)i, 0.125 * (double)i,
                        10.0 * (double)(i + 1)};
  return m;
}

/* Arrays with awkward values: signed zero, denormals, extremes. */
static const float W_IN[3 * 4] = {0.0f,   -0.0f,   1e-40f, -1e-45f,  FLT_MAX,  -FLT_MAX,
                                  FLT_MIN, 3.14159f, -2.5f, 1.0f / 3, 123456.7f, -7e-8f};
static const float V_TH[5] = {1.0f, 1.01f, 0.99f, 1.2f, 0.8f};
static const int32_t REFRAC[6] = {0, 1, -1, INT32_MAX, INT32_MIN, 7};

/* Write a complete sample log: 3 epochs, three staged arrays, summaries. */
static int write_sample_log(const char *path, const sl_config *cfg)
{
  sl_run_meta meta = sample_meta();
  sl_runlog *log = NULL;
  int rc = sl_runlog_create(&log, path, cfg, &meta);
  if (rc != SL_OK)
    return rc;
  for (long i = 0; i < 3 && rc == SL_OK; i++) {
    sl_epoch_metrics m = sample_epoch(i);
    rc = sl_runlog_append_epoch(log, &m);
  }
  double confusion[3] = {1.0, 2.0, 3.5};
  if (rc == SL_OK)
    rc = sl_runlog_put_float(log, "params/hidden0/w_in", W_IN, 3, 4);
  if (rc == SL_OK)
    rc = sl_runlog_put_float(log, "/mismatch/hidden0/v_th", V_TH, 5, 0);
  if (rc == SL_OK)
    rc = sl_runlog_put_int(log, "mismatch/hidden0/refrac", REFRAC, 6);
  if (rc == SL_OK)
    rc = sl_runlog_put_summary(log, "best_val_accuracy", 0.875);
  if (rc == SL_OK)
    rc = sl_runlog_put_summary_array(log, "confusion", confusion, 3);
  if (rc == SL_OK)
    rc = sl_runlog_finish(log, 0.9375, 3, 12.5);
  int rc_close = sl_runlog_close(log);
  return rc != SL_OK ? rc : rc_close;
}

/* Length of 1-D dataset obj, or -1. */
static long h5_length(const char *path, const char *obj)
{
  long len = -1;
  H5E_BEGIN_TRY
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hsize_t dims[1];
    int rank = -1;
    if (f >= 0 && H5LTget_dataset_ndims(f, obj, &rank) >= 0 && rank == 1 &&
        H5LTget_dataset_info(f, obj, dims, NULL, NULL) >= 0)
      len = (long)dims[0];
    if (f >= 0)
      H5Fclose(f);
  }
  H5E_END_TRY;
  return len;
}

/* A new log at a temporary path named after stem (in path[len]), with the
 * default configuration and the sample meta. */
static sl_runlog *create_default_log(const char *stem, char *path, size_t len)
{
  sl_config cfg;
  sl_config_defaults(&cfg);
  sl_run_meta meta = sample_meta();
  sl_runlog *log = NULL;
  sl_test_tmpfile(stem, path, len);
  CU_ASSERT_EQUAL_FATAL(sl_runlog_create(&log, path, &cfg, &meta), SL_OK);
  return log;
}

/* Every config key as text equal in a and b; reports the first mismatch. */
static int configs_equal(const sl_config *a, const sl_config *b, int verbose)
{
  char va[4096], vb[4096];
  for (size_t i = 0; i < sl_config_num_keys(); i++) {
    if (sl_config_get_index(a, i, va, sizeof va) != SL_OK ||
        sl_config_get_index(b, i, vb, sizeof vb) != SL_OK || strcmp(va, vb) != 0) {
      if (verbose)
        printf("\n    config key %s: '%s' != '%s'\n", sl_config_key_name(i), va, vb);
      return 0;
    }
  }
  return 1;
}

/* ------------------------------------------------------------ checkpoints */

/* Stage and commit a checkpoint of `epoch` whose arrays hold `epoch`. */
static void put_checkpoint(sl_runlog *log, long epoch)
{
  float f[5];
  double d[3];
  uint8_t b[4];
  for (size_t i = 0; i < 5; i++)
    f[i] = (float)epoch + 0.125f * (float)i;
  for (size_t i = 0; i < 3; i++)
    d[i] = (double)epoch * 1e10 + (double)i;
  for (size_t i = 0; i < 4; i++)
    b[i] = (uint8_t)(epoch * 16 + (long)i);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_begin(log, epoch), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_float(log, "w", f, 5), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_double(log, "d", d, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_bytes(log, "b", b, 4), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_count(log, "step", INT64_C(1) << 40 | epoch), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_commit(log), SL_OK);
}

/* The valid checkpoint is `epoch`'s, with the values put_checkpoint wrote. */
static void check_checkpoint(const char *path, long epoch)
{
  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  long e = -1;
  CU_ASSERT_EQUAL(sl_runlog_ckpt_epoch(r, &e), SL_OK);
  CU_ASSERT_EQUAL(e, epoch);
  float f[5];
  double d[3];
  uint8_t b[4];
  int64_t step = 0;
  size_t n = 0;
  int found = -1;
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_float(r, "w", f, 5), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_double(r, "d", d, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_bytes(r, "b", b, 4), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_count(r, "step", &step), SL_OK);
  CU_ASSERT_EQUAL(step, INT64_C(1) << 40 | epoch);
  CU_ASSERT_EQUAL(f[4], (float)epoch + 0.5f);
  CU_ASSERT_EQUAL(d[2], (double)epoch * 1e10 + 2.0);
  CU_ASSERT_EQUAL(b[3], (uint8_t)(epoch * 16 + 3));
  CU_ASSERT_EQUAL(sl_runlog_ckpt_size(r, "w", &n, &found), SL_OK);
  CU_ASSERT(n == 5 && found == 1);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_size(r, "absent", &n, &found), SL_OK);
  CU_ASSERT(n == 0 && found == 0);
  /* wrong length, missing, wrong type */
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_float(r, "w", f, 4), SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "/checkpoint/epoch_") != NULL);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_float(r, "absent", f, 1), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_bytes(r, "w", b, 5), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_count(r, "absent", &step), SL_EFORMAT);
  sl_runlog_reader_close(r);
}

static void test_checkpoints(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_ckpt", path, sizeof path);
  sl_runlog_reader *r = NULL;
  long e = -1;
  /* none yet: a clear error; /meta strings by name */
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  char cmd[64];
  CU_ASSERT_EQUAL(sl_runlog_get_meta(r, "command", cmd, sizeof cmd), SL_OK);
  CU_ASSERT_STRING_EQUAL(cmd, "train --config t.ini");
  CU_ASSERT_EQUAL(sl_runlog_get_meta(r, "command", cmd, 5), SL_ERANGE);
  CU_ASSERT_EQUAL(sl_runlog_get_meta(r, "absent", cmd, sizeof cmd), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_epoch(r, &e), SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "no checkpoint") != NULL);
  sl_runlog_reader_close(r);
  sl_epoch_metrics m = {1, 0.5, 0.5, 0.5, 0.5, 0.1, 1.0};
  CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_OK);
  put_checkpoint(log, 1);
  check_checkpoint(path, 1);
  m.epoch = 2;
  CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_OK);
  put_checkpoint(log, 2);
  check_checkpoint(path, 2);
  /* the previous one is gone, no staging left */
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/checkpoint/epoch_1"), 0);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/checkpoint/.staging"), 0);
  /* a begun but uncommitted checkpoint is invisible */
  CU_ASSERT_EQUAL(sl_runlog_ckpt_begin(log, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_float(log, "w", (float[1]){9.0f}, 1), SL_OK);
  check_checkpoint(path, 2);
  /* validation */
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_float(log, "a/b", (float[1]){0}, 1), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_float(log, ".x", (float[1]){0}, 1), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_float(log, "", (float[1]){0}, 1), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_begin(log, -1), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_commit(NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);
  check_checkpoint(path, 2);
  remove(path);
}

/* Phases: stored under /checkpoint/phases/<name>, read back by name; a
 * phase's commit drops the epoch checkpoint; a name is stored once. */
static void test_phases(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_phases", path, sizeof path);
  const double res[3] = {0.25, 1e-300, -7.5};
  const float w[4] = {1.5f, -2.0f, 0.0f, 3.25f};
  put_checkpoint(log, 1); /* the first phase's training */
  CU_ASSERT_EQUAL(sl_runlog_phase_begin(log), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_double(log, "results", res, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_float(log, "w", w, 4), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_put_count(log, "epochs", 5), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_phase_commit(log, "first"), SL_OK);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/checkpoint/phases/first"), 1);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/checkpoint/epoch_1"), 0);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/checkpoint/.staging"), 0);
  /* a name is stored once; commit needs something staged */
  CU_ASSERT_EQUAL(sl_runlog_phase_begin(log), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_phase_commit(log, "first"), SL_EINVAL);
  CU_ASSERT(strstr(sl_last_error(), "'first' is already stored") != NULL);
  CU_ASSERT_EQUAL(sl_runlog_phase_commit(log, "bad/name"), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_phase_commit(log, "second"), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_phase_commit(log, "third"), SL_EINVAL); /* nothing staged */
  /* the next phase's training checkpoints from epoch 1 again */
  put_checkpoint(log, 1);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);

  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  int found = -1;
  double got[3] = {0};
  float gw[4] = {0};
  int64_t epochs = 0;
  CU_ASSERT_EQUAL(sl_runlog_phase_select(r, "first", &found), SL_OK);
  CU_ASSERT_EQUAL(found, 1);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_double(r, "results", got, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_float(r, "w", gw, 4), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_count(r, "epochs", &epochs), SL_OK);
  CU_ASSERT(memcmp(got, res, sizeof res) == 0 && memcmp(gw, w, sizeof w) == 0 && epochs == 5);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_float(r, "w", gw, 3), SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "/checkpoint/phases/first/w") != NULL);
  CU_ASSERT_EQUAL(sl_runlog_phase_select(r, "second", &found), SL_OK);
  CU_ASSERT_EQUAL(found, 1);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_get_double(r, "results", got, 3), SL_EFORMAT);
  /* absent: reads take the epoch checkpoint, which is the later one */
  CU_ASSERT_EQUAL(sl_runlog_phase_select(r, "third", &found), SL_OK);
  CU_ASSERT_EQUAL(found, 0);
  CU_ASSERT_EQUAL(sl_runlog_phase_select(r, "../x", &found), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_phase_select(r, NULL, &found), SL_OK);
  sl_runlog_reader_close(r);
  check_checkpoint(path, 1);
  remove(path);
}

static void test_reopen(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_reopen", path, sizeof path);
  sl_epoch_metrics m = {1, 0.5, 0.5, 0.5, 0.5, 0.1, 1.0};
  for (long k = 1; k <= 3; k++) {
    m.epoch = k;
    m.loss = 1.0 / (double)k;
    CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_OK);
    if (k == 2)
      put_checkpoint(log, 2);
  }
  /* a half-staged checkpoint and staged arrays of a killed run */
  CU_ASSERT_EQUAL(sl_runlog_ckpt_begin(log, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/x", (float[2]){1, 2}, 2, 0), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);

  log = NULL;
  CU_ASSERT_EQUAL(sl_runlog_reopen(&log, path, 4), SL_EFORMAT); /* only 3 rows */
  CU_ASSERT(strstr(sl_last_error(), "fewer") != NULL);
  CU_ASSERT_EQUAL_FATAL(sl_runlog_reopen(&log, path, 2), SL_OK);
  CU_ASSERT_EQUAL(h5_length(path, "/metrics/loss"), 2);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/checkpoint/.staging"), 0);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/.staging"), 0);
  check_checkpoint(path, 2);
  m.epoch = 3;
  m.loss = 7.0;
  CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_OK);
  put_checkpoint(log, 3);
  CU_ASSERT_EQUAL(sl_runlog_finish(log, 0.5, 3, 1.0), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);
  check_checkpoint(path, 3);
  CU_ASSERT_EQUAL(h5_length(path, "/metrics/loss"), 3);
  sl_runlog_reader *r = NULL;
  long e = -1;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_get_epochs(r, &e), SL_OK);
  CU_ASSERT_EQUAL(e, 3);
  sl_runlog_reader_close(r);
  /* a finished run is not resumed; missing and garbage files are errors */
  CU_ASSERT_EQUAL(sl_runlog_reopen(&log, path, 3), SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "finished") != NULL);
  CU_ASSERT_EQUAL(sl_runlog_reopen(&log, "/nonexistent/x.h5", 0), SL_EIO);
  CU_ASSERT_EQUAL(sl_runlog_reopen(&log, path, -1), SL_EINVAL);
  CU_ASSERT(log == NULL);
  remove(path);
}

/* /checkpoint@epoch naming a missing group: a truncated or edited log. */
static void test_checkpoint_dangling(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_dangling", path, sizeof path);
  put_checkpoint(log, 0);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  CU_ASSERT(H5Ldelete(f, "/checkpoint/epoch_0", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  sl_runlog_reader *r = NULL;
  long e = -1;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_ckpt_epoch(r, &e), SL_EFORMAT);
  CU_ASSERT(strstr(sl_last_error(), "missing") != NULL);
  sl_runlog_reader_close(r);
  remove(path);
}

/* ------------------------------------------------------------ tests */

static void test_round_trip(void)
{
  char path[512];
  sl_test_tmpfile("runlog_rt", path, sizeof path);
  sl_config cfg;
  sample_config(&cfg);
  CU_ASSERT_EQUAL_FATAL(write_sample_log(path, &cfg), SL_OK);

  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);

  /* Config: read onto defaults, every key equal to what was written. */
  sl_config back;
  sl_config_defaults(&back);
  CU_ASSERT_FALSE(configs_equal(&cfg, &back, 0)); /* the sample differs from the defaults */
  CU_ASSERT_EQUAL(sl_runlog_read_config(r, &back), SL_OK);
  CU_ASSERT_TRUE(configs_equal(&cfg, &back, 1));
  CU_ASSERT_EQUAL(back.epochs, 7);
  CU_ASSERT_EQUAL(back.n_layers, 2);
  CU_ASSERT_EQUAL(back.hidden[1], 50);

  /* Arrays: bit-equal. */
  float w[12], v[5];
  int32_t refrac[6];
  memset(w, 0xAB, sizeof w);
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in", w, 3, 4), SL_OK);
  CU_ASSERT_EQUAL(memcmp(w, W_IN, sizeof w), 0);
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "/mismatch/hidden0/v_th", v, 5, 0), SL_OK);
  CU_ASSERT_EQUAL(memcmp(v, V_TH, sizeof v), 0);
  CU_ASSERT_EQUAL(sl_runlog_get_int(r, "mismatch/hidden0/refrac", refrac, 6), SL_OK);
  CU_ASSERT_EQUAL(memcmp(refrac, REFRAC, sizeof refrac), 0);

  /* Summary. */
  double x = -1.0;
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "test_accuracy", &x), SL_OK);
  CU_ASSERT_EQUAL(x, 0.9375);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "epochs", &x), SL_OK);
  CU_ASSERT_EQUAL(x, 3.0);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "seconds", &x), SL_OK);
  CU_ASSERT_EQUAL(x, 12.5);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "best_val_accuracy", &x), SL_OK);
  CU_ASSERT_EQUAL(x, 0.875);
  x = -1.0;
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "confusion", &x), SL_EFORMAT); /* an array */
  CU_ASSERT_EQUAL(x, -1.0);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "no_such_value", &x), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("no_such_value"));
  long epochs = -1;
  CU_ASSERT_EQUAL(sl_runlog_get_epochs(r, &epochs), SL_OK);
  CU_ASSERT_EQUAL(epochs, 3);
  sl_runlog_reader_close(r);

  /* Layout, straight from HDF5: final names present, staging gone. */
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/summary"), 1);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/.staging"), 0);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/params/hidden0/w_in"), 1);

  hid_t f = -1;
  H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
  H5E_END_TRY;
  CU_ASSERT_FATAL(f >= 0);
  char s[256];
  CU_ASSERT_EQUAL(sl_test_h5_utf8_attr(f, "/meta", "version", s, sizeof s), 0);
  CU_ASSERT_STRING_EQUAL(s, sl_version());
  CU_ASSERT_EQUAL(sl_test_h5_utf8_attr(f, "/meta", "git_revision", s, sizeof s), 0);
  CU_ASSERT_STRING_EQUAL(s, sl_git_revision());
  CU_ASSERT_EQUAL(sl_test_h5_utf8_attr(f, "/meta", "command", s, sizeof s), 0);
  CU_ASSERT_STRING_EQUAL(s, "train --config t.ini");
  CU_ASSERT_EQUAL(sl_test_h5_utf8_attr(f, "/meta", "host", s, sizeof s), 0);
  CU_ASSERT_TRUE(strlen(s) > 0);
  CU_ASSERT_EQUAL(sl_test_h5_utf8_attr(f, "/meta", "start_time", s, sizeof s), 0);
  CU_ASSERT_TRUE(strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z');
  CU_ASSERT_EQUAL(sl_test_h5_utf8_attr(f, "/config", "train.lr", s, sizeof s), 0);
  unsigned long long seed = 0;
  int threads = 0;
  H5E_BEGIN_TRY
  {
    hid_t a = H5Aopen_by_name(f, "/meta", "seed", H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    CU_ASSERT(t >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 8 &&
              H5Tget_sign(t) == H5T_SGN_NONE);
    CU_ASSERT(a >= 0 && H5Aread(a, H5T_NATIVE_ULLONG, &seed) >= 0);
    if (t >= 0)
      H5Tclose(t);
    if (a >= 0)
      H5Aclose(a);
  }
  H5E_END_TRY;
  CU_ASSERT_EQUAL(seed, 0x8000000000000005ull);
  CU_ASSERT(H5LTget_attribute_int(f, "/meta", "threads", &threads) >= 0);
  CU_ASSERT_EQUAL(threads, 3);
  H5Fclose(f);
  remove(path);
}

static void test_metrics_append(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_metrics", path, sizeof path);

  /* Fresh log: every column exists with length 0. */
  for (size_t k = 0; k < N_METRICS; k++) {
    char obj[64];
    snprintf(obj, sizeof obj, "/metrics/%s", METRIC_NAMES[k]);
    CU_ASSERT_EQUAL(h5_length(path, obj), 0);
  }

  const long N = 5;
  for (long i = 0; i < N; i++) {
    sl_epoch_metrics m = sample_epoch(i);
    CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_OK);
  }
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);

  for (size_t k = 0; k < N_METRICS; k++) {
    char obj[64];
    snprintf(obj, sizeof obj, "/metrics/%s", METRIC_NAMES[k]);
    CU_ASSERT_EQUAL(h5_length(path, obj), N);
  }

  hid_t f = -1;
  H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
  H5E_END_TRY;
  CU_ASSERT_FATAL(f >= 0);
  double col[7][5];
  long long ep[5];
  CU_ASSERT(H5LTread_dataset(f, "/metrics/epoch", H5T_NATIVE_LLONG, ep) >= 0);
  for (size_t k = 1; k < N_METRICS; k++) {
    char obj[64];
    snprintf(obj, sizeof obj, "/metrics/%s", METRIC_NAMES[k]);
    CU_ASSERT(H5LTread_dataset_double(f, obj, col[k]) >= 0);
  }
  /* Stored types: epoch int64, the others float64. */
  H5T_class_t cls;
  size_t size = 0;
  hsize_t dims[1];
  CU_ASSERT(H5LTget_dataset_info(f, "/metrics/epoch", dims, &cls, &size) >= 0);
  CU_ASSERT(cls == H5T_INTEGER && size == 8);
  CU_ASSERT(H5LTget_dataset_info(f, "/metrics/loss", dims, &cls, &size) >= 0);
  CU_ASSERT(cls == H5T_FLOAT && size == 8);
  H5Fclose(f);

  double max_diff = 0.0;
  for (long i = 0; i < N; i++) {
    sl_epoch_metrics m = sample_epoch(i);
    double want[7] = {0, m.loss, m.train_accuracy, m.val_accuracy, m.test_accuracy,
                      m.hidden_rate, m.seconds};
    CU_ASSERT_EQUAL(ep[i], m.epoch);
    for (size_t k = 1; k < N_METRICS; k++)
      if (fabs(col[k][i] - want[k]) > max_diff)
        max_diff = fabs(col[k][i] - want[k]);
  }
  if (max_diff != 0.0)
    printf("\n    metrics: max |stored - written| = %g\n", max_diff);
  CU_ASSERT_EQUAL(max_diff, 0.0);

  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  long epochs = -1;
  CU_ASSERT_EQUAL(sl_runlog_get_epochs(r, &epochs), SL_OK);
  CU_ASSERT_EQUAL(epochs, N);
  double x;
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "test_accuracy", &x), SL_EFORMAT); /* not finished */
  CU_ASSERT_TRUE(sl_test_msg_has("/summary"));
  sl_runlog_reader_close(r);
  remove(path);
}

/* The child of the killed-run test: never returns. */
static void killed_child(const char *path)
{
  sl_config cfg;
  sl_config_defaults(&cfg);
  sl_run_meta meta = sample_meta();
  sl_runlog *log = NULL;
  if (sl_runlog_create(&log, path, &cfg, &meta) != SL_OK)
    _exit(2);
  if (sl_runlog_put_float(log, "params/hidden0/w_in", W_IN, 3, 4) != SL_OK)
    _exit(3);
  for (long i = 0; i < 2; i++) {
    sl_epoch_metrics m = sample_epoch(i);
    if (sl_runlog_append_epoch(log, &m) != SL_OK)
      _exit(4);
  }
  _exit(0); /* killed: no finish, no close, no atexit handlers */
}

static void test_killed_run(void)
{
  char path[512];
  sl_test_tmpfile("runlog_killed", path, sizeof path);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0)
    killed_child(path);
  int status = 0;
  CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
  CU_ASSERT_FATAL(WIFEXITED(status));
  CU_ASSERT_EQUAL_FATAL(WEXITSTATUS(status), 0);

  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  long epochs = -1;
  CU_ASSERT_EQUAL(sl_runlog_get_epochs(r, &epochs), SL_OK);
  CU_ASSERT_EQUAL(epochs, 2);
  double x;
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "test_accuracy", &x), SL_EFORMAT);
  float w[12];
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in", w, 3, 4), SL_EFORMAT);
  sl_config cfg, back;
  sl_config_defaults(&cfg);
  sl_config_defaults(&back);
  CU_ASSERT_EQUAL(sl_runlog_read_config(r, &back), SL_OK);
  CU_ASSERT_TRUE(configs_equal(&cfg, &back, 1));
  sl_runlog_reader_close(r);

  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/summary"), 0);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/params"), 0);
  CU_ASSERT_EQUAL(h5_length(path, "/metrics/loss"), 2);
  CU_ASSERT_EQUAL(h5_length(path, "/metrics/epoch"), 2);
  remove(path);
}

static void test_staged_invisible_until_finish(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_staged", path, sizeof path);
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/hidden0/w_in", W_IN, 3, 4), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_put_int(log, "mismatch/hidden0/refrac", REFRAC, 6), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "best_val_accuracy", 0.5), SL_OK);
  sl_epoch_metrics m = sample_epoch(0);
  CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_OK); /* flushes */

  /* A reader in this process sees the writer's current state. */
  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  float w[12];
  int32_t refrac[6];
  double x;
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in", w, 3, 4), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("params/hidden0/w_in"));
  CU_ASSERT_EQUAL(sl_runlog_get_int(r, "mismatch/hidden0/refrac", refrac, 6), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "best_val_accuracy", &x), SL_EFORMAT);
  /* ... and they are staged. */
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "/.staging/params/hidden0/w_in", w, 3, 4), SL_OK);
  sl_runlog_reader_close(r);

  /* Last put wins: a second put replaces the staged array. */
  float w2[2 * 3] = {1, 2, 3, 4, 5, 6};
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/hidden0/w_in", w2, 2, 3), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "best_val_accuracy", 0.75), SL_OK);
  /* A staged group is not replaced by an array. */
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/hidden0", w2, 6, 0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_finish(log, 0.5, 1, 2.0), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);

  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  float got[6];
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in", got, 2, 3), SL_OK);
  CU_ASSERT_EQUAL(memcmp(got, w2, sizeof got), 0);
  CU_ASSERT_EQUAL(sl_runlog_get_int(r, "mismatch/hidden0/refrac", refrac, 6), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "best_val_accuracy", &x), SL_OK);
  CU_ASSERT_EQUAL(x, 0.75);
  sl_runlog_reader_close(r);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/.staging"), 0);
  remove(path);
}

static void test_write_after_finish(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_after", path, sizeof path);
  /* A finish refused for bad input leaves the log open for a proper one. */
  CU_ASSERT_EQUAL(sl_runlog_finish(log, NAN, 0, 1.0), SL_ENUMERIC);
  CU_ASSERT_TRUE(sl_test_msg_has("test_accuracy"));
  CU_ASSERT_EQUAL(sl_runlog_finish(log, 0.5, -1, 1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_finish(log, 0.5, 0, 1.0), SL_OK);

  sl_epoch_metrics m = sample_epoch(0);
  double v[2] = {1, 2};
  CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_EINVAL);
  CU_ASSERT_TRUE(sl_test_msg_has("finished"));
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/x", V_TH, 5, 0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_int(log, "mismatch/x", REFRAC, 6), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "late", 1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary_array(log, "late", v, 2), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_finish(log, 0.5, 0, 1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_close(NULL), SL_OK);

  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/summary"), 1);
  CU_ASSERT_EQUAL(sl_test_h5_has(path, "/params"), 0);
  CU_ASSERT_EQUAL(h5_length(path, "/metrics/loss"), 0);
  remove(path);
}

static void test_put_validation(void)
{
  char path[512];
  sl_runlog *log = create_default_log("runlog_put", path, sizeof path);

  const char *bad[] = {"",          "/",           "params//w",    "params/w/", "./x",
                       "params/../x", "metrics/x", "summary",      "config/x",  "meta",
                       ".staging/x", "//params/x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = sl_runlog_put_float(log, bad[i], V_TH, 5, 0);
    if (rc != SL_EINVAL)
      printf("\n    put_float('%s') returned %d\n", bad[i], rc);
    CU_ASSERT_EQUAL(rc, SL_EINVAL);
    CU_ASSERT_EQUAL(sl_runlog_put_int(log, bad[i], REFRAC, 6), SL_EINVAL);
  }
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, NULL, V_TH, 5, 0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/x", NULL, 5, 0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_int(log, "params/x", NULL, 6), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_float(NULL, "params/x", V_TH, 5, 0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_int(NULL, "params/x", REFRAC, 6), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_append_epoch(NULL, NULL), SL_EINVAL);

  /* A dataset cannot be the parent of another. */
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/a", V_TH, 5, 0), SL_OK);
  CU_ASSERT_NOT_EQUAL(sl_runlog_put_float(log, "params/a/b", V_TH, 5, 0), SL_OK);
  CU_ASSERT_TRUE(sl_test_msg_has("params/a/b"));

  /* Summaries: non-finite values, reserved and empty names. */
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "best", NAN), SL_ENUMERIC);
  CU_ASSERT_TRUE(sl_test_msg_has("best"));
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "best", INFINITY), SL_ENUMERIC);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "best", -INFINITY), SL_ENUMERIC);
  double arr[4] = {1.0, 2.0, INFINITY, 4.0};
  CU_ASSERT_EQUAL(sl_runlog_put_summary_array(log, "per_class", arr, 4), SL_ENUMERIC);
  CU_ASSERT_TRUE(sl_test_msg_has("per_class") && sl_test_msg_has("[2]"));
  CU_ASSERT_EQUAL(sl_runlog_put_summary_array(log, "per_class", arr, 0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary_array(log, "per_class", NULL, 3), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "epochs", 1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, "", 1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(log, NULL, 1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary(NULL, "x", 1.0), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_put_summary_array(NULL, "x", arr, 2), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_finish(NULL, 0.5, 1, 1.0), SL_EINVAL);

  /* None of the refused summaries reached the file. */
  CU_ASSERT_EQUAL(sl_runlog_finish(log, 0.5, 0, 1.0), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);
  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  double x;
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "best", &x), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "per_class", &x), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "epochs", &x), SL_OK);
  CU_ASSERT_EQUAL(x, 0.0);
  sl_runlog_reader_close(r);
  remove(path);
}

static void test_create_errors(void)
{
  sl_config cfg;
  sl_config_defaults(&cfg);
  sl_run_meta meta = sample_meta();
  sl_runlog *log = (sl_runlog *)&cfg; /* must be reset to NULL on failure */
  CU_ASSERT_EQUAL(sl_runlog_create(&log, "/nonexistent/dir/x.h5", &cfg, &meta), SL_EIO);
  CU_ASSERT_PTR_NULL(log);
  CU_ASSERT_TRUE(sl_test_msg_has("/nonexistent/dir/x.h5"));
  const char *dir = getenv("TMPDIR");
  CU_ASSERT_EQUAL(sl_runlog_create(&log, dir && *dir ? dir : "/tmp", &cfg, &meta), SL_EIO);
  CU_ASSERT_PTR_NULL(log);
  CU_ASSERT_EQUAL(sl_runlog_create(NULL, "/tmp/x.h5", &cfg, &meta), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_create(&log, NULL, &cfg, &meta), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_create(&log, "", &cfg, &meta), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_create(&log, "/tmp/x.h5", NULL, &meta), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_create(&log, "/tmp/x.h5", &cfg, NULL), SL_EINVAL);
  CU_ASSERT_PTR_NULL(log);
}

static void test_open_errors(void)
{
  char good[512], bad[512];
  sl_test_tmpfile("runlog_good", good, sizeof good);
  sl_test_tmpfile("runlog_bad", bad, sizeof bad);
  sl_runlog_reader *r = (sl_runlog_reader *)good; /* must be reset to NULL */

  /* Missing. */
  remove(bad);
  CU_ASSERT_EQUAL(sl_runlog_open(&r, bad), SL_EIO);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_TRUE(sl_test_msg_has(bad));

  /* Empty, then garbage. */
  FILE *f = fopen(bad, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fclose(f);
  CU_ASSERT_EQUAL(sl_runlog_open(&r, bad), SL_EIO);
  CU_ASSERT_PTR_NULL(r);
  f = fopen(bad, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  for (int i = 0; i < 200; i++)
    fputs("this is not an HDF5 file\n", f);
  fclose(f);
  CU_ASSERT_EQUAL(sl_runlog_open(&r, bad), SL_EIO);
  CU_ASSERT_PTR_NULL(r);
  CU_ASSERT_TRUE(sl_test_msg_has(bad));

  /* Truncated: a valid log cut to half its size (and to a few bytes). */
  sl_config cfg;
  sample_config(&cfg);
  CU_ASSERT_EQUAL_FATAL(write_sample_log(good, &cfg), SL_OK);
  long size = sl_test_file_size(good);
  CU_ASSERT_FATAL(size > 0);
  long keep[] = {size / 2, size - 1, 1000, 100};
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
    CU_ASSERT_EQUAL_FATAL(sl_test_copy_file(good, bad, keep[i]), 0);
    int rc = sl_runlog_open(&r, bad);
    if (rc != SL_EIO)
      printf("\n    log truncated to %ld of %ld bytes: open returned %d\n", keep[i], size, rc);
    CU_ASSERT_EQUAL(rc, SL_EIO);
    CU_ASSERT_PTR_NULL(r);
    sl_runlog_reader_close(r);
  }
  /* The untruncated copy opens: the failures above are the truncation. */
  CU_ASSERT_EQUAL_FATAL(sl_test_copy_file(good, bad, size), 0);
  CU_ASSERT_EQUAL(sl_runlog_open(&r, bad), SL_OK);
  sl_runlog_reader_close(r);
  sl_runlog_reader_close(NULL);

  CU_ASSERT_EQUAL(sl_runlog_open(NULL, good), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_open(&r, NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_open(&r, ""), SL_EINVAL);
  remove(good);
  remove(bad);
}

static void test_get_errors(void)
{
  char path[512], nan_path[512];
  sl_test_tmpfile("runlog_get", path, sizeof path);
  sl_test_tmpfile("runlog_nan", nan_path, sizeof nan_path);
  sl_config cfg;
  sample_config(&cfg);
  CU_ASSERT_EQUAL_FATAL(write_sample_log(path, &cfg), SL_OK);
  sl_runlog_reader *r = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);

  float buf[64];
  int32_t ibuf[64];
  /* Wrong shape: path, expected and found shape in the message. */
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in", buf, 4, 3), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("params/hidden0/w_in") && sl_test_msg_has("(4, 3)") && sl_test_msg_has("(3, 4)"));
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in", buf, 12, 0), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("(12,)") && sl_test_msg_has("(3, 4)"));
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "mismatch/hidden0/v_th", buf, 5, 1), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("(5, 1)") && sl_test_msg_has("(5,)"));
  CU_ASSERT_EQUAL(sl_runlog_get_int(r, "mismatch/hidden0/refrac", ibuf, 7), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("mismatch/hidden0/refrac") && sl_test_msg_has("(7,)") && sl_test_msg_has("(6,)"));
  /* Missing dataset (also under a missing group, or under a dataset). */
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_rec", buf, 3, 4), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("params/hidden0/w_rec"));
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden7/w_in", buf, 3, 4), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("params/hidden7/w_in"));
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in/x", buf, 3, 4), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_get_int(r, "mismatch/hidden0/nope", ibuf, 6), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("mismatch/hidden0/nope"));
  /* A group, and the wrong number type. */
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0", buf, 3, 4), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "mismatch/hidden0/refrac", buf, 6, 0), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_get_int(r, "mismatch/hidden0/v_th", ibuf, 5), SL_EFORMAT);
  CU_ASSERT_EQUAL(sl_runlog_get_int(r, "metrics/epoch", ibuf, 3), SL_EFORMAT); /* int64 */
  /* Bad arguments. */
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "", buf, 3, 4), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, NULL, buf, 3, 4), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/hidden0/w_in", NULL, 3, 4), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_float(NULL, "params/hidden0/w_in", buf, 3, 4), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_int(NULL, "x", ibuf, 1), SL_EINVAL);
  double x;
  long e;
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, NULL, &x), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(r, "epochs", NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_summary(NULL, "epochs", &x), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_epochs(r, NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_get_epochs(NULL, &e), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_read_config(r, NULL), SL_EINVAL);
  CU_ASSERT_EQUAL(sl_runlog_read_config(NULL, &cfg), SL_EINVAL);
  sl_runlog_reader_close(r);

  /* NaN and Inf are written as they are but refused on reading. */
  sl_run_meta meta = sample_meta();
  sl_runlog *log = NULL;
  float bad_w[4] = {1.0f, NAN, 2.0f, 3.0f}, inf_w[3] = {INFINITY, 0.0f, 0.0f};
  CU_ASSERT_EQUAL_FATAL(sl_runlog_create(&log, nan_path, &cfg, &meta), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/nan", bad_w, 2, 2), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/inf", inf_w, 3, 0), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_finish(log, 0.5, 0, 1.0), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, nan_path), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/nan", buf, 2, 2), SL_ENUMERIC);
  CU_ASSERT_TRUE(sl_test_msg_has("params/nan") && sl_test_msg_has("[1]"));
  CU_ASSERT_EQUAL(sl_runlog_get_float(r, "params/inf", buf, 3, 0), SL_ENUMERIC);
  sl_runlog_reader_close(r);
  remove(path);
  remove(nan_path);
}

/* Rewrite attribute /config@key as a fixed-length string (what H5LT writes). */
static int set_config_attr(const char *path, const char *key, const char *value)
{
  int ok = -1;
  H5E_BEGIN_TRY
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f >= 0) {
      if (H5Aexists_by_name(f, "/config", key, H5P_DEFAULT) > 0)
        H5Adelete_by_name(f, "/config", key, H5P_DEFAULT);
      ok = H5LTset_attribute_string(f, "/config", key, value) >= 0 ? 0 : -1;
      if (H5Fclose(f) < 0)
        ok = -1;
    }
  }
  H5E_END_TRY;
  return ok;
}

static void test_read_config_errors(void)
{
  char path[512];
  sl_test_tmpfile("runlog_cfg", path, sizeof path);
  sl_config cfg;
  sample_config(&cfg);
  CU_ASSERT_EQUAL_FATAL(write_sample_log(path, &cfg), SL_OK);
  sl_runlog_reader *r = NULL;

  /* A fixed-length string value is read too. */
  CU_ASSERT_EQUAL_FATAL(set_config_attr(path, "train.epochs", "9"), 0);
  sl_config back;
  sl_config_defaults(&back);
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_read_config(r, &back), SL_OK);
  CU_ASSERT_EQUAL(back.epochs, 9);
  sl_runlog_reader_close(r);

  /* A bad value: error of sl_config_set, naming the attribute; cfg untouched. */
  CU_ASSERT_EQUAL_FATAL(set_config_attr(path, "train.epochs", "many"), 0);
  sl_config_defaults(&back);
  sl_config before = back;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  int rc = sl_runlog_read_config(r, &back);
  CU_ASSERT_NOT_EQUAL(rc, SL_OK);
  CU_ASSERT_EQUAL(rc, sl_last_error_code());
  CU_ASSERT_TRUE(sl_test_msg_has("train.epochs"));
  CU_ASSERT_EQUAL(memcmp(&back, &before, sizeof back), 0);
  sl_runlog_reader_close(r);

  /* An unknown key: SL_ENOTFOUND from sl_config_set, naming it. */
  CU_ASSERT_EQUAL_FATAL(set_config_attr(path, "train.epochs", "9"), 0);
  CU_ASSERT_EQUAL_FATAL(set_config_attr(path, "bogus.key", "1"), 0);
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_read_config(r, &back), SL_ENOTFOUND);
  CU_ASSERT_TRUE(sl_test_msg_has("bogus.key") && sl_test_msg_has(path));
  CU_ASSERT_EQUAL(memcmp(&back, &before, sizeof back), 0);
  sl_runlog_reader_close(r);

  /* A non-string attribute. */
  H5E_BEGIN_TRY
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    int one = 1;
    CU_ASSERT(f >= 0 && H5Adelete_by_name(f, "/config", "bogus.key", H5P_DEFAULT) >= 0);
    CU_ASSERT(f >= 0 && H5LTset_attribute_int(f, "/config", "train.batch", &one, 1) >= 0);
    if (f >= 0)
      H5Fclose(f);
  }
  H5E_END_TRY;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_read_config(r, &back), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("train.batch"));
  sl_runlog_reader_close(r);

  /* No /config at all. */
  H5E_BEGIN_TRY
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT(f >= 0 && H5Ldelete(f, "/config", H5P_DEFAULT) >= 0);
    if (f >= 0)
      H5Fclose(f);
  }
  H5E_END_TRY;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_open(&r, path), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_read_config(r, &back), SL_EFORMAT);
  CU_ASSERT_TRUE(sl_test_msg_has("/config"));
  sl_runlog_reader_close(r);
  remove(path);
}

/* Failing calls print nothing: fd 2 goes to a file that must stay empty. */
static void test_no_error_stack_printed(void)
{
  char log_path[512], bad[512], err_path[520];
  sl_test_tmpfile("runlog_quiet", log_path, sizeof log_path);
  sl_test_tmpfile("runlog_quiet_bad", bad, sizeof bad);
  snprintf(err_path, sizeof err_path, "%s.stderr", log_path);
  sl_config cfg;
  sample_config(&cfg);
  CU_ASSERT_EQUAL_FATAL(write_sample_log(log_path, &cfg), SL_OK);
  CU_ASSERT_EQUAL_FATAL(sl_test_copy_file(log_path, bad, sl_test_file_size(log_path) / 2), 0);

  fflush(stderr);
  int saved = dup(2);
  int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
  dup2(fd, 2);
  close(fd);

  sl_run_meta meta = sample_meta();
  sl_runlog *log = NULL;
  sl_runlog_reader *r = NULL;
  float buf[16] = {0};
  double x;
  int n_failed = 0;
  n_failed += sl_runlog_create(&log, "/nonexistent/dir/x.h5", &cfg, &meta) != SL_OK;
  n_failed += sl_runlog_open(&r, "/nonexistent/dir/x.h5") != SL_OK;
  n_failed += sl_runlog_open(&r, bad) != SL_OK;
  if (sl_runlog_open(&r, log_path) == SL_OK) {
    n_failed += sl_runlog_get_float(r, "params/nope", buf, 1, 0) != SL_OK;
    n_failed += sl_runlog_get_float(r, "params/hidden0/w_in/x", buf, 1, 0) != SL_OK;
    n_failed += sl_runlog_get_float(r, "params/hidden0/w_in", buf, 2, 2) != SL_OK;
    n_failed += sl_runlog_get_summary(r, "nope", &x) != SL_OK;
    sl_runlog_reader_close(r);
  }
  if (sl_runlog_create(&log, bad, &cfg, &meta) == SL_OK) {
    n_failed += sl_runlog_put_float(log, "params/a", buf, 4, 0) != SL_OK; /* succeeds */
    n_failed += sl_runlog_put_float(log, "params/a/b", buf, 4, 0) != SL_OK;
    sl_runlog_close(log);
  }

  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  CU_ASSERT_EQUAL(n_failed, 8);
  long printed = sl_test_file_size(err_path);
  if (printed != 0) {
    printf("\n    %ld bytes printed to stderr; first lines:\n", printed);
    FILE *f = fopen(err_path, "r");
    char line[256];
    for (int i = 0; f && i < 5 && fgets(line, sizeof line, f); i++)
      printf("    | %s", line);
    if (f)
      fclose(f);
  }
  CU_ASSERT_EQUAL(printed, 0);
  remove(err_path);
  remove(log_path);
  remove(bad);
}

/* Run the h5py schema check on a finished and on an unfinished log, and
 * check that it rejects a broken one. Skipped (with a note) without h5py. */
static void test_h5py_schema(void)
{
  if (system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
    printf("\n    note: /usr/bin/python3 cannot import h5py; schema check skipped\n");
    return;
  }
  char script[1024];
  const char *env = getenv("SL_RUNLOG_H5PY");
  const char *srcdir = getenv("srcdir");
  if (env && *env)
    snprintf(script, sizeof script, "%s", env);
  else
    snprintf(script, sizeof script, "%s/test/check_runlog_h5py.py",
             srcdir && *srcdir ? srcdir : ".");
  if (access(script, R_OK) != 0) {
    printf("\n    note: %s not found (set srcdir or SL_RUNLOG_H5PY); schema check skipped\n",
           script);
    return;
  }

  char done[512], partial[512], cmd[3072];
  sl_test_tmpfile("runlog_h5py", done, sizeof done);
  sl_test_tmpfile("runlog_h5py_partial", partial, sizeof partial);
  sl_config cfg;
  sample_config(&cfg);
  CU_ASSERT_EQUAL_FATAL(write_sample_log(done, &cfg), SL_OK);
  sl_run_meta meta = sample_meta();
  sl_runlog *log = NULL;
  CU_ASSERT_EQUAL_FATAL(sl_runlog_create(&log, partial, &cfg, &meta), SL_OK);
  for (long i = 0; i < 2; i++) {
    sl_epoch_metrics m = sample_epoch(i);
    CU_ASSERT_EQUAL(sl_runlog_append_epoch(log, &m), SL_OK);
  }
  CU_ASSERT_EQUAL(sl_runlog_put_float(log, "params/hidden0/w_in", W_IN, 3, 4), SL_OK);
  CU_ASSERT_EQUAL(sl_runlog_close(log), SL_OK);
  fflush(stdout);

  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, done);
  CU_ASSERT_EQUAL(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' --incomplete '%s'", script, partial);
  CU_ASSERT_EQUAL(system(cmd), 0);
  /* The checker can fail: an unfinished log is not a finished one, and a
   * metrics column one row short breaks the schema. */
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' 2>/dev/null", script, partial);
  CU_ASSERT_NOT_EQUAL(system(cmd), 0);
  H5E_BEGIN_TRY
  {
    hid_t f = H5Fopen(done, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = f >= 0 ? H5Gopen2(f, "/metrics", H5P_DEFAULT) : -1;
    hid_t a = g >= 0 ? H5Aopen(g, "epochs_complete", H5P_DEFAULT) : -1;
    long long four = 4; /* one more than the rows written */
    CU_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &four) >= 0);
    if (a >= 0)
      H5Aclose(a);
    if (g >= 0)
      H5Gclose(g);
    if (f >= 0)
      H5Fclose(f);
  }
  H5E_END_TRY;
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' 2>/dev/null", script, done);
  CU_ASSERT_NOT_EQUAL(system(cmd), 0);
  remove(done);
  remove(partial);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"round trip: config, arrays, summary, meta", test_round_trip},
      {"metrics after N appends", test_metrics_append},
      {"killed run keeps completed epochs", test_killed_run},
      {"staged arrays invisible until finish", test_staged_invisible_until_finish},
      {"writes after finish refused", test_write_after_finish},
      {"put validation", test_put_validation},
      {"create errors", test_create_errors},
      {"open errors: missing, garbage, truncated", test_open_errors},
      {"get errors: shape, missing, type, NaN", test_get_errors},
      {"read_config errors", test_read_config_errors},
      {"no HDF5 error stack on stderr", test_no_error_stack_printed},
      {"h5py schema check", test_h5py_schema},
      {"checkpoints: commit, replace, staged invisible", test_checkpoints},
      {"phases: stored by name, drop the epoch checkpoint", test_phases},
      {"reopen a killed run's log", test_reopen},
      {"checkpoint attribute naming a missing group", test_checkpoint_dangling},
      {NULL, NULL},
  };
  return sl_test_run("runlog", cases);
}
