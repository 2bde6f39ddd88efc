/* test_memristor.c -- the memristor backend beyond the generic suite of
 * test_backends: write-verify programming and its pulse count, threshold-
 * gated reprogramming, agreement with the ideal backend when every device
 * non-ideality is off, in-the-loop training that learns on noisy tiles,
 * and clear errors for impossible device settings, matrices that do not
 * fit, and non-finite or out-of-range weights.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "fixtures.h"
#include "testutil.h"

#include <string.h>

enum { T = 20, B = 4, N_IN = 6, N_HID = 24, N_OUT = 3 };

static sl_net *make_net(void) { return sl_test_net(N_IN, N_HID, N_OUT, 3.0, 5); }

static const float *raster(void)
{
  static float x[T * B * N_IN];
  sl_test_raster(x, T * B * N_IN, 11, 4);
  return x;
}

/* Weight units of 7 levels for weights up to 3 (the memristor's levels). */
static int open_hw(const char *name, const char *options, sl_net *net, sl_hw **hw)
{
  return sl_test_open_hw(hw, name, options, net, 3.0, 7, T, B);
}

static unsigned long long config_u64(sl_hw *hw, const char *key)
{
  char buf[64];
  CU_ASSERT_FATAL(sl_hw_read_config(hw, key, buf, sizeof buf) == SL_OK);
  return strtoull(buf, NULL, 10);
}

/* Hardware-unit weights in [-7, 7] for a rows x cols matrix. */
static void levels_matrix(float *w, size_t n, unsigned seed)
{
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    w[i] = (float)((int)((seed >> 16) % 15) - 7);
  }
}

/* With programming and read noise off, the tiles hold the exact levels:
 * observations equal the ideal backend's (same weight units). */
static void test_noise_off_equals_ideal(void)
{
  sl_net *net = make_net();
  sl_hw *mem = NULL, *ide = NULL;
  CU_ASSERT_FATAL(open_hw("memristor", "prog_sd=0,read_sd=0,drift_nu=0", net, &mem) == SL_OK);
  CU_ASSERT_FATAL(open_hw("ideal", NULL, net, &ide) == SL_OK);
  CU_ASSERT(sl_hw_caps(mem)->weight_levels == 7);
  float w0[N_IN * N_HID], w1[N_HID * N_OUT];
  levels_matrix(w0, N_IN * N_HID, 3);
  levels_matrix(w1, N_HID * N_OUT, 4);
  for (int k = 0; k < 2; k++) {
    sl_hw *h = k ? ide : mem;
    CU_ASSERT_FATAL(sl_hw_write_weights(h, 0, 0, w0, N_IN, N_HID) == SL_OK);
    CU_ASSERT_FATAL(sl_hw_write_weights(h, 1, 0, w1, N_HID, N_OUT) == SL_OK);
  }
  sl_observations a, b;
  sl_obs_init(&a);
  sl_obs_init(&b);
  CU_ASSERT_FATAL(sl_hw_run(mem, raster(), T, B, &a) == SL_OK);
  CU_ASSERT_FATAL(sl_hw_run(ide, raster(), T, B, &b) == SL_OK);
  CU_ASSERT_FATAL(a.n_samples == b.n_samples && a.n_neurons == b.n_neurons);
  size_t m = a.n_samples * a.B * a.n_neurons;
  double d = sl_test_max_rel_diff(a.membrane, b.membrane, m, 1.0);
  printf("\n    max membrane difference %.2e, spikes %zu vs %zu ", d, a.n_spikes, b.n_spikes);
  CU_ASSERT(d < 1e-4);
  CU_ASSERT(a.n_spikes == b.n_spikes && a.n_spikes > 0);
  /* one pulse per device: 2 per pair */
  CU_ASSERT(config_u64(mem, "pulses") == 2ull * (N_IN * N_HID + N_HID * N_OUT));
  CU_ASSERT(config_u64(mem, "pulses.0") == 2ull * N_IN * N_HID);
  CU_ASSERT(config_u64(mem, "reads") > 0);
  sl_obs_free(&a);
  sl_obs_free(&b);
  sl_hw_close(mem);
  sl_hw_close(ide);
  sl_net_free(net);
}

/* Write-verify with noise spends between 1 and max_pulses pulses per
 * device, more when the tolerance is tighter; open loop exactly one. */
static void test_write_verify_pulses(void)
{
  sl_net *net = make_net();
  float w0[N_IN * N_HID];
  levels_matrix(w0, N_IN * N_HID, 8);
  const unsigned long long dev = 2ull * N_IN * N_HID;
  unsigned long long p[3];
  const char *opts[3] = {"prog_sd=0.05,verify_tol=0.05,max_pulses=10",
                         "prog_sd=0.05,verify_tol=0.01,max_pulses=10",
                         "prog_sd=0.05,max_pulses=1"};
  float wr[3][N_IN * N_HID];
  for (int k = 0; k < 3; k++) {
    sl_hw *hw = NULL;
    CU_ASSERT_FATAL(open_hw("memristor", opts[k], net, &hw) == SL_OK);
    CU_ASSERT_FATAL(sl_hw_write_weights(hw, 0, 0, w0, N_IN, N_HID) == SL_OK);
    p[k] = config_u64(hw, "pulses");
    CU_ASSERT(config_u64(hw, "cells_programmed") == dev);
    sl_hw_close(hw);
  }
  (void)wr;
  printf("\n    pulses per device: tol 0.05 %.2f, tol 0.01 %.2f, open loop %.2f ",
         (double)p[0] / dev, (double)p[1] / dev, (double)p[2] / dev);
  CU_ASSERT(p[0] > dev && p[0] <= 10 * dev);
  CU_ASSERT(p[1] > p[0] && p[1] <= 10 * dev);
  CU_ASSERT(p[2] == dev);
  sl_net_free(net);
}

/* Rewrites reprogram only pairs whose level moved by more than the
 * threshold; an unchanged matrix costs nothing. */
static void test_threshold_gating(void)
{
  sl_net *net = make_net();
  sl_hw *hw = NULL;
  CU_ASSERT_FATAL(open_hw("memristor", "update_threshold=1.5", net, &hw) == SL_OK);
  float w[N_IN * N_HID];
  for (size_t i = 0; i < N_IN * N_HID; i++)
    w[i] = (float)((int)(i % 5) - 2); /* -2..2 */
  CU_ASSERT_FATAL(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_OK);
  unsigned long long p0 = config_u64(hw, "pulses");
  CU_ASSERT_FATAL(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_OK);
  CU_ASSERT(config_u64(hw, "pulses") == p0);
  CU_ASSERT(config_u64(hw, "pairs_reprogrammed") == 0);
  size_t big = 0;
  for (size_t i = 0; i < N_IN * N_HID; i++) {
    if (i % 3 == 0)
      w[i] += 1.0f; /* below the threshold */
    else if (i % 3 == 1) {
      w[i] += w[i] > 0 ? -2.0f : 2.0f; /* above */
      big++;
    }
  }
  CU_ASSERT_FATAL(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_OK);
  unsigned long long pairs = config_u64(hw, "pairs_reprogrammed");
  printf("\n    %llu pairs reprogrammed of %zu moved by 2 levels ", pairs, big);
  CU_ASSERT(pairs == big);
  CU_ASSERT(config_u64(hw, "pulses") >= p0 + 2 * big);
  CU_ASSERT(config_u64(hw, "writes") == 3);
  sl_hw_close(hw);
  /* threshold 0: every change of level is written */
  CU_ASSERT_FATAL(open_hw("memristor", NULL, net, &hw) == SL_OK);
  CU_ASSERT_FATAL(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_OK);
  w[0] += w[0] > 0 ? -1.0f : 1.0f;
  CU_ASSERT_FATAL(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_OK);
  CU_ASSERT(config_u64(hw, "pairs_reprogrammed") == 1);
  sl_hw_close(hw);
  sl_net_free(net);
}

/* Drift lowers the weights read back; compensation undoes most of it. */
static void test_drift_option(void)
{
  sl_net *net = make_net();
  float w0[N_IN * N_HID], w1[N_HID * N_OUT];
  levels_matrix(w0, N_IN * N_HID, 3);
  levels_matrix(w1, N_HID * N_OUT, 4);
  double mean[2];
  const char *opts[2] = {"prog_sd=0,read_sd=0,drift_nu=0.05,drift_compensation=0",
                         "prog_sd=0,read_sd=0,drift_nu=0.05,drift_compensation=0,"
                         "drift_time=2592000"};
  for (int k = 0; k < 2; k++) {
    sl_hw *hw = NULL;
    CU_ASSERT_FATAL(open_hw("memristor", opts[k], net, &hw) == SL_OK);
    CU_ASSERT_FATAL(sl_hw_write_weights(hw, 0, 0, w0, N_IN, N_HID) == SL_OK);
    CU_ASSERT_FATAL(sl_hw_write_weights(hw, 1, 0, w1, N_HID, N_OUT) == SL_OK);
    sl_observations o;
    sl_obs_init(&o);
    CU_ASSERT_FATAL(sl_hw_run(hw, raster(), T, B, &o) == SL_OK);
    double s = 0;
    for (size_t i = 0; i < o.n_samples * o.B * o.n_neurons; i++)
      s += fabs(o.membrane[i]);
    mean[k] = s;
    sl_obs_free(&o);
    sl_hw_close(hw);
  }
  printf("\n    |membrane| sum fresh %.1f, after 30 days %.1f ", mean[0], mean[1]);
  CU_ASSERT(mean[1] < 0.8 * mean[0]);
  sl_net_free(net);
}

/* The session trains through the memristor backend and learns Yin-Yang. */
static void test_training_in_the_loop(void)
{
  sl_config c;
  sl_test_small_config(&c, 500, 0, 300, 40, 20);
  sl_config_set(&c, "train.lr", "0.005");
  CU_ASSERT_FATAL(sl_config_set(&c, "backend.name", "memristor") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(&c, "backend.options", "seed=2,read_sd=0.03") == SL_OK);
  sl_session *s = NULL;
  int rc = sl_session_create(&s, &c);
  if (rc)
    printf("\n    %s ", sl_last_error());
  CU_ASSERT_FATAL(rc == SL_OK);
  CU_ASSERT_FATAL(sl_session_loop(s) != NULL);
  sl_eval_result before;
  CU_ASSERT_FATAL(sl_session_evaluate(s, SL_SET_TEST, &before) == SL_OK);
  sl_hw *hw = sl_loop_hw(sl_session_loop(s));
  unsigned long long p0 = config_u64(hw, "pulses");
  sl_run_result r;
  CU_ASSERT_FATAL(sl_session_train(s, 8, NULL, NULL, NULL, &r) == SL_OK);
  unsigned long long p1 = config_u64(hw, "pulses");
  printf("\n    test accuracy %.3f -> %.3f after 8 epochs; %llu programming pulses, %llu "
         "in training ", before.accuracy, r.test_accuracy, p1, p1 - p0);
  CU_ASSERT(r.test_accuracy > 0.7);
  CU_ASSERT(r.test_accuracy > before.accuracy + 0.1);
  CU_ASSERT(p1 > p0);
  sl_session_free(s);
}

/* sl_run_train records the programming pulses of every epoch in the run
 * log (/summary prog_pulses_per_epoch, cumulative). */
static void test_run_log_pulses(void)
{
  sl_config c;
  sl_test_small_config(&c, 100, 0, 50, 10, 20);
  sl_config_set(&c, "train.epochs", "1");
  sl_config_set(&c, "backend.name", "memristor");
  char path[256];
  sl_test_tmpfile("memristor_log", path, sizeof path);
  sl_run_result r;
  CU_ASSERT_FATAL(sl_run_train(&c, path, NULL, NULL, NULL, &r) == SL_OK);
  sl_runlog_reader *rd = NULL;
  CU_ASSERT_FATAL(sl_runlog_open(&rd, path) == SL_OK);
  double pulses = 0;
  CU_ASSERT(sl_runlog_get_summary(rd, "prog_pulses_per_epoch", &pulses) == SL_OK);
  printf("\n    %.0f pulses by the end of epoch 1 ", pulses);
  /* at least one pulse per device of the first write: 2 x (5 x 10 + 10 x 3) */
  CU_ASSERT(pulses >= 2.0 * (5 * 10 + 10 * 3));
  sl_runlog_reader_close(rd);
  unlink(path);
  /* the ideal backend counts no pulses: no such record */
  strcpy(c.backend, "ideal");
  CU_ASSERT_FATAL(sl_config_set(&c, "backend.options", "tau_mem_sd=0.01") == SL_OK);
  CU_ASSERT_FATAL(sl_run_train(&c, path, NULL, NULL, NULL, &r) == SL_OK);
  CU_ASSERT_FATAL(sl_runlog_open(&rd, path) == SL_OK);
  CU_ASSERT(sl_runlog_get_summary(rd, "prog_pulses_per_epoch", &pulses) == SL_EFORMAT);
  sl_runlog_reader_close(rd);
  unlink(path);
}

static void test_bad_input(void)
{
  sl_net *net = make_net();
  sl_hw *hw = NULL;
  static const struct {
    const char *options;
    int code;
  } bad[] = {{"levels=1", SL_EINVAL},          {"g_min=-0.1", SL_EINVAL},
             {"g_max=0.05", SL_EINVAL},        {"tile_rows=2048", SL_ERANGE},
             {"tile_cols=0", SL_ERANGE},       {"prog_sd=nan", SL_EINVAL},
             {"read_sd=-1", SL_EINVAL},        {"max_pulses=0", SL_EINVAL},
             {"update_threshold=-1", SL_EINVAL}, {"drift_time=-5", SL_EINVAL},
             {"stuck_on=0.7,stuck_off=0.7", SL_EINVAL}, {"colour=blue", SL_EINVAL},
             {"levels", SL_EINVAL},            {"w_max=3", SL_EINVAL},
             /* 6 x 24 needs 2 column tiles of 16, and the readout one more */
             {"max_tiles=1", SL_ERANGE}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    int rc = open_hw("memristor", bad[k].options, net, &hw);
    if (rc != bad[k].code)
      printf("\n    %s: got %d (%s) ", bad[k].options, rc, sl_last_error());
    CU_ASSERT(rc == bad[k].code);
    CU_ASSERT(hw == NULL);
    CU_ASSERT(sl_last_error()[0] != '\0');
  }
  CU_ASSERT(strstr((open_hw("memristor", "max_tiles=1", net, &hw), sl_last_error()),
                   "does not fit") != NULL);
  /* a recurrent layer */
  sl_net_spec s = *sl_net_get_spec(net);
  s.recurrent[0] = 1;
  sl_net *rnet = NULL;
  CU_ASSERT_FATAL(sl_net_create(&rnet, &s) == SL_OK);
  CU_ASSERT(open_hw("memristor", NULL, rnet, &hw) == SL_EUNSUPPORTED);
  sl_net_free(rnet);
  /* weights: NaN, beyond the levels, wrong shape, before any write */
  CU_ASSERT_FATAL(open_hw("memristor", NULL, net, &hw) == SL_OK);
  sl_observations o;
  sl_obs_init(&o);
  CU_ASSERT(sl_hw_run(hw, raster(), T, B, &o) == SL_EINVAL);
  float w[N_IN * N_HID];
  memset(w, 0, sizeof w);
  w[5] = NAN;
  CU_ASSERT(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_ENUMERIC);
  w[5] = 8.0f;
  CU_ASSERT(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_ERANGE);
  w[5] = 1.0f;
  CU_ASSERT(sl_hw_write_weights(hw, 0, 0, w, N_HID, N_IN) == SL_ESHAPE);
  CU_ASSERT(sl_hw_write_weights(hw, 0, 1, w, N_IN, N_HID) != SL_OK);
  CU_ASSERT(sl_hw_write_weights(hw, 0, 0, w, N_IN, N_HID) == SL_OK);
  char buf[8];
  CU_ASSERT(sl_hw_read_config(hw, "colour", buf, sizeof buf) == SL_ENOTFOUND);
  CU_ASSERT(sl_hw_read_config(hw, "pulses.7", buf, sizeof buf) == SL_ENOTFOUND);
  CU_ASSERT(sl_hw_read_config(hw, "energy", buf, 2) == SL_ERANGE);
  sl_obs_free(&o);
  sl_hw_close(hw);
  sl_net_free(net);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"noise off equals the ideal backend", test_noise_off_equals_ideal},
      {"write-verify pulse counts", test_write_verify_pulses},
      {"threshold-gated reprogramming", test_threshold_gating},
      {"drift option", test_drift_option},
      {"training in the loop learns", test_training_in_the_loop},
      {"pulses per epoch in the run log", test_run_log_pulses},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run("memristor", cases);
}
