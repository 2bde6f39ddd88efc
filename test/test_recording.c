/* test_recording.c -- the recording writer (lib/io/recording.c) against its
 * format (spikeloop/recording.h), read back with the plain HDF5 API.
 *
 * Observations are made up here (no backend): a recording of weight writes
 * and two runs is checked object by object, type by type and value by value
 * (root and /setup and /caps attributes, every /weights array, every run's
 * raster, weight table, spikes and membrane); the same file is then served
 * bit for bit by the replay backend. Also: arguments refused by
 * sl_recorder_create leave no file; runs refused by sl_recorder_run leave
 * no trace (no group, count unchanged); a recording replaces a file that
 * was there. test_replay covers damaged files and a killed recorder.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/recording.h"
#include "spikeloop/replay.h"
#include "spikeloop/version.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "testutil.h"

enum { N_IN = 6, N_NEURONS = 12 }; /* sl_test_small_setup: 5 + 4 + 3 neurons */

static const sl_backend_caps CAPS = {
    .max_neurons = 100, .max_fan_in = 50, .weight_levels = 15, .sign_by_row_pair = 0,
    .adc_bits = 10, .sample_period = 2.5e-6, .time_scale = 1e-3, .membrane_gain = 40.0,
    .membrane_gain_readout = 20.0, .membrane_units = "mV",
    .observables = SL_OBS_SPIKES | SL_OBS_MEMBRANE, .recurrent = 1};

/* The weight arrays of the network, by (layer, which): rows x cols. */
static const size_t ROWS[3][2] = {{6, 0}, {5, 4}, {4, 0}}, COLS[3] = {5, 4, 3};

static void weights(float *w, size_t layer, int which, int version)
{
  size_t n = ROWS[layer][which] * COLS[layer];
  for (size_t i = 0; i < n; i++)
    w[i] = (float)((int)((i * 5 + layer * 3 + (size_t)which + (size_t)version * 7) % 15) - 7);
}

/* Made-up observations of a run of T steps of B samples: membrane sample
 * (k, b, g) = 0.25 g - 0.5 b + k / 8, one spike per sample and step. */
static void make_obs(sl_observations *o, size_t T, size_t B, int with_spikes)
{
  sl_obs_init(o);
  CU_ASSERT_FATAL(sl_obs_reset(o, B, N_NEURONS, T) == SL_OK);
  o->sample_t0 = 1.25e-7;
  o->sample_period = 1e-6;
  for (size_t k = 0; k < T; k++)
    for (size_t b = 0; b < B; b++) {
      for (size_t g = 0; g < N_NEURONS; g++)
        o->membrane[(k * B + b) * N_NEURONS + g] = 0.25f * g - 0.5f * b + k / 8.0f;
      if (with_spikes)
        CU_ASSERT_FATAL(sl_obs_add_spike(o, b, (k + 3 * b) % N_NEURONS,
                                         1e-6 * (double)k + 1e-9 * (double)b) == SL_OK);
    }
}

static void raster(float *x, size_t n, unsigned seed)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float)((i * 7 + seed * 3) % 4 == 0);
}

/* ------------------------------------------------------------ reading back */

static int64_t attr_i64(hid_t f, const char *obj, const char *name)
{
  long long v = -999;
  CU_ASSERT(H5LTget_attribute_long_long(f, obj, name, &v) >= 0);
  return (int64_t)v;
}

static double attr_f64(hid_t f, const char *obj, const char *name)
{
  double v = NAN;
  CU_ASSERT(H5LTget_attribute_double(f, obj, name, &v) >= 0);
  return v;
}

static int attr_str_is(hid_t f, const char *obj, const char *name, const char *want)
{
  char s[256] = "";
  int ok = sl_test_h5_utf8_attr(f, obj, name, s, sizeof s) == 0 && strcmp(s, want) == 0;
  if (!ok)
    printf("\n    %s@%s is '%s', expected '%s' ", obj, name, s, want);
  return ok;
}

/* Dataset obj has the stored class, element size and shape dims[rank]. */
static int dataset_is(hid_t f, const char *obj, H5T_class_t cls, size_t size, int rank,
                      const hsize_t *dims)
{
  hsize_t got[4] = {0};
  H5T_class_t c;
  size_t s = 0;
  int r = -1;
  if (H5LTget_dataset_ndims(f, obj, &r) < 0 || r != rank ||
      H5LTget_dataset_info(f, obj, got, &c, &s) < 0 || c != cls || s != size) {
    printf("\n    %s: rank %d, class %d, size %zu ", obj, r, (int)c, s);
    return 0;
  }
  for (int i = 0; i < rank; i++)
    if (got[i] != dims[i]) {
      printf("\n    %s: dim %d is %llu, expected %llu ", obj, i, (unsigned long long)got[i],
             (unsigned long long)dims[i]);
      return 0;
    }
  return 1;
}

static void check_root_setup_caps(hid_t f)
{
  CU_ASSERT(attr_str_is(f, "/", "format", "spikeloop-recording"));
  CU_ASSERT(attr_i64(f, "/", "format_version") == 1);
  CU_ASSERT(attr_str_is(f, "/", "backend", "synthetic"));
  CU_ASSERT(attr_str_is(f, "/", "library_version", sl_version()));
  char created[64] = "";
  CU_ASSERT(sl_test_h5_utf8_attr(f, "/", "created", created, sizeof created) == 0);
  CU_ASSERT(strlen(created) >= 10);

  CU_ASSERT(attr_i64(f, "/setup", "n_in") == N_IN);
  CU_ASSERT(attr_i64(f, "/setup", "n_layers") == 2);
  long long sizes[3] = {0};
  int recurrent[3] = {-1, -1, -1};
  double w_unit[3] = {0};
  CU_ASSERT(H5LTget_attribute_long_long(f, "/setup", "sizes", sizes) >= 0);
  CU_ASSERT(sizes[0] == 5 && sizes[1] == 4 && sizes[2] == 3);
  CU_ASSERT(H5LTget_attribute_int(f, "/setup", "recurrent", recurrent) >= 0);
  CU_ASSERT(recurrent[0] == 0 && recurrent[1] == 1 && recurrent[2] == 0);
  CU_ASSERT(attr_f64(f, "/setup", "dt") == 1e-3);
  CU_ASSERT(attr_i64(f, "/setup", "max_steps") == 12);
  CU_ASSERT(attr_i64(f, "/setup", "max_batch") == 3);
  CU_ASSERT(H5LTget_attribute_double(f, "/setup", "w_unit", w_unit) >= 0);
  CU_ASSERT(w_unit[0] == 0.05 && w_unit[1] == 0.05 && w_unit[2] == 0.05);
  CU_ASSERT(attr_str_is(f, "/setup", "options", "gain=2"));

  CU_ASSERT(attr_i64(f, "/caps", "max_neurons") == 100);
  CU_ASSERT(attr_i64(f, "/caps", "max_fan_in") == 50);
  CU_ASSERT(attr_i64(f, "/caps", "weight_levels") == 15);
  CU_ASSERT(attr_i64(f, "/caps", "sign_by_row_pair") == 0);
  CU_ASSERT(attr_i64(f, "/caps", "adc_bits") == 10);
  CU_ASSERT(attr_f64(f, "/caps", "sample_period") == 2.5e-6);
  CU_ASSERT(attr_f64(f, "/caps", "time_scale") == 1e-3);
  CU_ASSERT(attr_f64(f, "/caps", "membrane_gain") == 40.0);
  CU_ASSERT(attr_f64(f, "/caps", "membrane_gain_readout") == 20.0);
  CU_ASSERT(attr_str_is(f, "/caps", "membrane_units", "mV"));
  CU_ASSERT(attr_i64(f, "/caps", "observables") == (SL_OBS_SPIKES | SL_OBS_MEMBRANE));
  CU_ASSERT(attr_i64(f, "/caps", "recurrent") == 1);
}

/* /weights/<k>: the k-th write, bit for bit, with its layer and which. */
static void check_weight_write(hid_t f, long k, size_t layer, int which, int version)
{
  char obj[64];
  snprintf(obj, sizeof obj, "/weights/%ld", k);
  hsize_t dims[2] = {ROWS[layer][which], COLS[layer]};
  CU_ASSERT_FATAL(dataset_is(f, obj, H5T_FLOAT, 4, 2, dims));
  float want[64], got[64];
  weights(want, layer, which, version);
  CU_ASSERT(H5LTread_dataset_float(f, obj, got) >= 0);
  CU_ASSERT(memcmp(got, want, dims[0] * dims[1] * sizeof(float)) == 0);
  CU_ASSERT(attr_i64(f, obj, "layer") == (int64_t)layer);
  CU_ASSERT(attr_i64(f, obj, "which") == which);
}

/* /runs/<k>: raster, weight table, spikes and membrane as recorded. */
static void check_run(hid_t f, long k, const float *x, size_t T, size_t B,
                      const sl_observations *o, const int64_t table[3][2])
{
  char obj[64], base[32];
  snprintf(base, sizeof base, "/runs/%ld", k);
  hsize_t xdims[3] = {T, B, N_IN}, wdims[2] = {3, 2}, sdims[1] = {o->n_spikes};
  hsize_t mdims[3] = {o->n_samples, B, N_NEURONS};
  snprintf(obj, sizeof obj, "%s/x", base);
  CU_ASSERT_FATAL(dataset_is(f, obj, H5T_INTEGER, 1, 3, xdims));
  uint8_t x8[12 * 3 * N_IN];
  CU_ASSERT(H5LTread_dataset(f, obj, H5T_NATIVE_UINT8, x8) >= 0);
  size_t x_same = 0;
  for (size_t i = 0; i < T * B * N_IN; i++)
    x_same += x8[i] == (uint8_t)x[i];
  CU_ASSERT(x_same == T * B * N_IN);

  snprintf(obj, sizeof obj, "%s/weights", base);
  CU_ASSERT_FATAL(dataset_is(f, obj, H5T_INTEGER, 8, 2, wdims));
  int64_t w[3][2];
  CU_ASSERT(H5LTread_dataset(f, obj, H5T_NATIVE_INT64, w) >= 0);
  CU_ASSERT(memcmp(w, table, sizeof w) == 0);

  uint32_t sample[64], neuron[64];
  double t[64];
  snprintf(obj, sizeof obj, "%s/spike_sample", base);
  CU_ASSERT(dataset_is(f, obj, H5T_INTEGER, 4, 1, sdims));
  CU_ASSERT(o->n_spikes == 0 || H5LTread_dataset(f, obj, H5T_NATIVE_UINT32, sample) >= 0);
  snprintf(obj, sizeof obj, "%s/spike_neuron", base);
  CU_ASSERT(dataset_is(f, obj, H5T_INTEGER, 4, 1, sdims));
  CU_ASSERT(o->n_spikes == 0 || H5LTread_dataset(f, obj, H5T_NATIVE_UINT32, neuron) >= 0);
  snprintf(obj, sizeof obj, "%s/spike_time", base);
  CU_ASSERT(dataset_is(f, obj, H5T_FLOAT, 8, 1, sdims));
  CU_ASSERT(o->n_spikes == 0 || H5LTread_dataset_double(f, obj, t) >= 0);
  size_t n = o->n_spikes;
  CU_ASSERT(n == 0 || (memcmp(sample, o->spike_sample, n * sizeof *sample) == 0 &&
                       memcmp(neuron, o->spike_neuron, n * sizeof *neuron) == 0 &&
                       memcmp(t, o->spike_time, n * sizeof *t) == 0));

  snprintf(obj, sizeof obj, "%s/membrane", base);
  CU_ASSERT_FATAL(dataset_is(f, obj, H5T_FLOAT, 4, 3, mdims));
  static float m[12 * 3 * N_NEURONS];
  CU_ASSERT(H5LTread_dataset_float(f, obj, m) >= 0);
  CU_ASSERT(memcmp(m, o->membrane, mdims[0] * B * N_NEURONS * sizeof(float)) == 0);
  CU_ASSERT(attr_f64(f, obj, "sample_t0") == o->sample_t0);
  CU_ASSERT(attr_f64(f, obj, "sample_period") == o->sample_period);
}

/* ------------------------------------------------------------ tests */

/* Writes: every array once (version 0), run 0 with spikes; layer 1 w_in
 * again (version 1), run 1 without spikes. */
static void write_recording(const char *path, const float *x0, const float *x1,
                            sl_observations *o0, sl_observations *o1)
{
  sl_backend_setup setup = sl_test_small_setup("gain=2");
  sl_recorder *rec = NULL;
  CU_ASSERT_FATAL(sl_recorder_create(&rec, path, "synthetic", &setup, &CAPS) == SL_OK);
  float w[64];
  for (size_t l = 0; l < 3; l++)
    for (int k = 0; k < 2; k++)
      if (ROWS[l][k]) {
        weights(w, l, k, 0);
        CU_ASSERT(sl_recorder_weights(rec, l, k, w, ROWS[l][k], COLS[l]) == SL_OK);
      }
  make_obs(o0, 10, 3, 1);
  CU_ASSERT(sl_recorder_run(rec, x0, 10, 3, o0) == SL_OK);
  weights(w, 1, 0, 1);
  CU_ASSERT(sl_recorder_weights(rec, 1, 0, w, 5, 4) == SL_OK);
  make_obs(o1, 7, 2, 0);
  CU_ASSERT(sl_recorder_run(rec, x1, 7, 2, o1) == SL_OK);
  CU_ASSERT(sl_recorder_close(rec) == SL_OK);
}

static void test_contents(void)
{
  char path[256];
  sl_test_tmpfile("recording", path, sizeof path);
  float x0[10 * 3 * N_IN], x1[7 * 2 * N_IN];
  raster(x0, 10 * 3 * N_IN, 1);
  raster(x1, 7 * 2 * N_IN, 2);
  sl_observations o0, o1;
  write_recording(path, x0, x1, &o0, &o1);

  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  check_root_setup_caps(f);
  hsize_t n_weights = 0;
  H5G_info_t info;
  CU_ASSERT(H5Gget_info_by_name(f, "/weights", &info, H5P_DEFAULT) >= 0);
  n_weights = info.nlinks;
  CU_ASSERT(n_weights == 5);
  check_weight_write(f, 0, 0, 0, 0);
  check_weight_write(f, 1, 1, 0, 0);
  check_weight_write(f, 2, 1, 1, 0);
  check_weight_write(f, 3, 2, 0, 0);
  check_weight_write(f, 4, 1, 0, 1);
  CU_ASSERT(attr_i64(f, "/runs", "count") == 2);
  static const int64_t table0[3][2] = {{0, -1}, {1, 2}, {3, -1}};
  static const int64_t table1[3][2] = {{0, -1}, {4, 2}, {3, -1}};
  check_run(f, 0, x0, 10, 3, &o0, table0);
  check_run(f, 1, x1, 7, 2, &o1, table1);
  CU_ASSERT(H5Fclose(f) >= 0);
  sl_obs_free(&o0);
  sl_obs_free(&o1);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* The replay backend serves the made-up runs bit for bit. */
static void test_replayed(void)
{
  char path[256], opts[300];
  sl_test_tmpfile("recording_replay", path, sizeof path);
  float x0[10 * 3 * N_IN], x1[7 * 2 * N_IN];
  raster(x0, 10 * 3 * N_IN, 1);
  raster(x1, 7 * 2 * N_IN, 2);
  sl_observations o0, o1, got;
  write_recording(path, x0, x1, &o0, &o1);
  snprintf(opts, sizeof opts, "file=%s", path);
  sl_backend_setup setup = sl_test_small_setup(opts);
  const sl_backend *b = sl_replay_backend();
  if (!b) { /* configure --disable-replay: nothing serves the file */
    CU_PASS("replay backend not built in this build");
    sl_obs_free(&o0);
    sl_obs_free(&o1);
    remove(path);
    return;
  }
  void *state = calloc(1, b->state_size);
  CU_ASSERT_FATAL(state != NULL);
  CU_ASSERT_FATAL(b->open(state, &setup) == SL_OK);
  float w[64];
  for (size_t l = 0; l < 3; l++)
    for (int k = 0; k < 2; k++)
      if (ROWS[l][k]) {
        weights(w, l, k, 0);
        CU_ASSERT(b->write_weights(state, l, k, w, ROWS[l][k], COLS[l]) == SL_OK);
      }
  sl_obs_init(&got);
  CU_ASSERT(b->run(state, x0, 10, 3, &got) == SL_OK);
  CU_ASSERT(sl_test_obs_same(&got, &o0));
  CU_ASSERT(b->run(state, x1, 7, 2, &got) == SL_ENOTFOUND); /* layer 1 w_in differs */
  weights(w, 1, 0, 1);
  CU_ASSERT(b->write_weights(state, 1, 0, w, 5, 4) == SL_OK);
  CU_ASSERT(b->run(state, x1, 7, 2, &got) == SL_OK);
  CU_ASSERT(sl_test_obs_same(&got, &o1));
  b->close(state);
  free(state);
  sl_obs_free(&got);
  sl_obs_free(&o0);
  sl_obs_free(&o1);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* Refused arguments: SL_EINVAL, *out NULL, and no file at the path. */
static void expect_create_refused(const char *what, const char *path, const char *backend,
                                  const sl_backend_setup *setup, const sl_backend_caps *caps)
{
  sl_recorder *rec = (sl_recorder *)&rec; /* must be reset to NULL */
  sl_clear_error();
  int rc = sl_recorder_create(&rec, path, backend, setup, caps);
  int ok = rc == SL_EINVAL && rec == NULL && sl_last_error()[0] != '\0' &&
           sl_test_file_size(path) == -1;
  if (!ok)
    printf("\n    %s: rc %d, message '%s' ", what, rc, sl_last_error());
  CU_ASSERT(ok);
  if (rc == SL_OK)
    sl_recorder_close(rec);
  remove(path);
}

static void test_create_errors(void)
{
  char path[256];
  sl_test_tmpfile("recording_bad", path, sizeof path);
  remove(path);
  sl_backend_setup setup = sl_test_small_setup(NULL), bad;
  sl_backend_caps caps = CAPS;
  expect_create_refused("NULL backend name", path, NULL, &setup, &CAPS);
  expect_create_refused("NULL caps", path, "synthetic", &setup, NULL);
  bad = setup, bad.n_in = 0;
  expect_create_refused("n_in 0", path, "synthetic", &bad, &CAPS);
  bad = setup, bad.dt = 0.0;
  expect_create_refused("dt 0", path, "synthetic", &bad, &CAPS);
  bad = setup, bad.dt = NAN;
  expect_create_refused("dt NaN", path, "synthetic", &bad, &CAPS);
  caps.sample_period = INFINITY;
  expect_create_refused("sample_period inf", path, "synthetic", &setup, &caps);
  caps = CAPS, caps.time_scale = NAN;
  expect_create_refused("time_scale NaN", path, "synthetic", &setup, &caps);
  caps = CAPS, caps.membrane_gain = NAN;
  expect_create_refused("membrane_gain NaN", path, "synthetic", &setup, &caps);

  /* a file that was there is replaced */
  FILE *junk = fopen(path, "wb");
  CU_ASSERT_FATAL(junk != NULL);
  fputs("not a recording", junk);
  fclose(junk);
  sl_recorder *rec = NULL;
  CU_ASSERT(sl_recorder_create(&rec, path, "synthetic", &setup, &CAPS) == SL_OK);
  CU_ASSERT(sl_recorder_close(rec) == SL_OK);
  CU_ASSERT(sl_test_h5_has(path, "/runs") == 1 && sl_test_h5_has(path, "/weights") == 1);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

/* Refused runs are not written: /runs@count stays, no /runs/<k> is left,
 * and the next good run is run 0. */
static void test_refused_runs_leave_no_trace(void)
{
  char path[256];
  sl_test_tmpfile("recording_refused", path, sizeof path);
  sl_backend_setup setup = sl_test_small_setup(NULL);
  sl_recorder *rec = NULL;
  CU_ASSERT_FATAL(sl_recorder_create(&rec, path, "synthetic", &setup, &CAPS) == SL_OK);
  float x[10 * 3 * N_IN];
  raster(x, 10 * 3 * N_IN, 4);
  sl_observations o;
  make_obs(&o, 10, 3, 1);
  x[5] = 0.5f;
  CU_ASSERT(sl_recorder_run(rec, x, 10, 3, &o) == SL_EINVAL);
  x[5] = 1.0f;
  CU_ASSERT(sl_recorder_run(rec, x, 10, 2, &o) == SL_ESHAPE); /* obs->B is 3 */
  o.n_neurons = N_NEURONS - 1;
  CU_ASSERT(sl_recorder_run(rec, x, 10, 3, &o) == SL_ESHAPE);
  o.n_neurons = N_NEURONS;
  o.spike_sample[2] = 3;
  CU_ASSERT(sl_recorder_run(rec, x, 10, 3, &o) == SL_ERANGE);
  o.spike_sample[2] = 2;
  o.sample_t0 = NAN;
  CU_ASSERT(sl_recorder_run(rec, x, 10, 3, &o) == SL_ENUMERIC);
  o.sample_t0 = 0.0;
  o.sample_period = INFINITY;
  CU_ASSERT(sl_recorder_run(rec, x, 10, 3, &o) == SL_ENUMERIC);
  o.sample_period = 1e-6;
  CU_ASSERT(sl_recorder_run(rec, x, 10, 3, &o) == SL_OK);
  CU_ASSERT(sl_recorder_close(rec) == SL_OK);

  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(f >= 0);
  CU_ASSERT(attr_i64(f, "/runs", "count") == 1);
  H5G_info_t info;
  CU_ASSERT(H5Gget_info_by_name(f, "/runs", &info, H5P_DEFAULT) >= 0 && info.nlinks == 1);
  static const int64_t none[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}; /* no weights written */
  check_run(f, 0, x, 10, 3, &o, none);
  CU_ASSERT(H5Fclose(f) >= 0);
  sl_obs_free(&o);
  remove(path);
  sl_test_assert_no_open_hdf5();
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"contents, read back with HDF5", test_contents},
      {"served by the replay backend", test_replayed},
      {"refused create arguments leave no file", test_create_errors},
      {"refused runs leave no trace", test_refused_runs_leave_no_trace},
      {NULL, NULL}};
  return sl_test_run("recording", cases);
}
