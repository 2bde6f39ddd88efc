/* test_train.c -- the training driver end to end on small runs: a network
 * learns Yin-Yang, the run log round-trips through sl_run_eval, runs are
 * reproducible, and bad settings fail cleanly before any log is written. */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "testutil.h"

#include <string.h>
#include <unistd.h>

/* A small, quick configuration. */
static void small_config(sl_config *c)
{
  sl_config_defaults(c);
  CU_ASSERT_FATAL(sl_config_set(c, "data.n_train", "600") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(c, "data.n_val", "100") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(c, "data.n_test", "300") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(c, "net.hidden", "40") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(c, "train.epochs", "6") == SL_OK);
  CU_ASSERT_FATAL(sl_config_set(c, "train.batch", "20") == SL_OK);
}

static void test_learns_and_logs(void)
{
  sl_config c;
  small_config(&c);
  char path[256];
  sl_test_tmpfile("train", path, sizeof path);
  sl_run_result res;
  int rc = sl_run_train(&c, path, NULL, NULL, NULL, &res);
  CU_ASSERT_FATAL(rc == SL_OK);
  printf("\n    test accuracy after %ld epochs: %.3f ", res.epochs, res.test_accuracy);
  CU_ASSERT(res.epochs == 6);
  CU_ASSERT(res.test_accuracy > 0.75); /* chance is 1/3, a linear model ~0.64 */
  /* The log holds the final model: re-evaluating it gives the same accuracy. */
  sl_eval_result ev;
  CU_ASSERT_FATAL(sl_run_eval(path, &ev) == SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(ev.accuracy, res.test_accuracy, 1e-12);
  sl_runlog_reader *r = NULL;
  CU_ASSERT_FATAL(sl_runlog_open(&r, path) == SL_OK);
  long epochs = 0;
  double acc = 0.0;
  CU_ASSERT(sl_runlog_get_epochs(r, &epochs) == SL_OK && epochs == 6);
  CU_ASSERT(sl_runlog_get_summary(r, "test_accuracy", &acc) == SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(acc, res.test_accuracy, 1e-12);
  float tau[40];
  CU_ASSERT(sl_runlog_get_float(r, "mismatch/hidden0/tau_mem", tau, 40, 0) == SL_OK);
  CU_ASSERT_DOUBLE_EQUAL(tau[7], 6e-3, 1e-9);
  sl_runlog_reader_close(r);
  unlink(path);
}

static void test_reproducible(void)
{
  sl_config c;
  small_config(&c);
  sl_config_set(&c, "train.epochs", "2");
  sl_config_set(&c, "mismatch.tau_mem", "0.2");
  sl_run_result a, b;
  CU_ASSERT_FATAL(sl_run_train(&c, NULL, NULL, NULL, NULL, &a) == SL_OK);
  sl_set_num_threads(1);
  CU_ASSERT_FATAL(sl_run_train(&c, NULL, NULL, NULL, NULL, &b) == SL_OK);
  sl_set_num_threads(2);
  CU_ASSERT(a.test_accuracy == b.test_accuracy);
  CU_ASSERT(a.train_accuracy == b.train_accuracy);
}

/* Mismatch changes the network: per-neuron parameters differ, deterministically. */
static void test_mismatch_from_config(void)
{
  sl_config c;
  small_config(&c);
  sl_config_set(&c, "mismatch.tau_mem", "0.2");
  sl_config_set(&c, "mismatch.v_th", "0.2");
  sl_net *n1 = NULL, *n2 = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&n1, &c, 5, 3) == SL_OK);
  CU_ASSERT_FATAL(sl_net_from_config(&n2, &c, 5, 3) == SL_OK);
  sl_neurons *p = sl_net_neurons(n1, 0), *q = sl_net_neurons(n2, 0);
  double mean = 0.0, var = 0.0;
  for (size_t j = 0; j < p->n; j++)
    mean += p->tau_mem[j] / (double)p->n;
  for (size_t j = 0; j < p->n; j++)
    var += (p->tau_mem[j] - mean) * (p->tau_mem[j] - mean) / (double)(p->n - 1);
  CU_ASSERT(sqrt(var) / mean > 0.1 && sqrt(var) / mean < 0.3);
  CU_ASSERT(memcmp(p->tau_mem, q->tau_mem, p->n * sizeof(float)) == 0);
  CU_ASSERT(memcmp(p->v_th, q->v_th, p->n * sizeof(float)) == 0);
  /* the readout is untouched unless mismatch.readout = 1 */
  CU_ASSERT(sl_net_neurons(n1, 1)->tau_mem[0] == (float)c.ro_tau_mem);
  sl_net_free(n1);
  sl_net_free(n2);
}

static void test_bad_settings(void)
{
  sl_config c;
  small_config(&c);
  /* an unwritable log path fails before training */
  CU_ASSERT(sl_run_train(&c, "/nonexistent-dir/x/run.h5", NULL, NULL, NULL, NULL) == SL_EIO);
  CU_ASSERT(strstr(sl_last_error(), "/nonexistent-dir/x/run.h5") != NULL);
  /* inconsistent fields set directly in the struct */
  sl_config d = c;
  d.batch = 10000;
  CU_ASSERT(sl_run_train(&d, NULL, NULL, NULL, NULL, NULL) != SL_OK);
  d = c;
  strcpy(d.surrogate, "nope");
  CU_ASSERT(sl_run_train(&d, NULL, NULL, NULL, NULL, NULL) != SL_OK);
  d = c;
  d.tau_mem = -1.0;
  CU_ASSERT(sl_run_train(&d, NULL, NULL, NULL, NULL, NULL) != SL_OK);
  d = c;
  d.dt = 0.0;
  CU_ASSERT(sl_run_train(&d, NULL, NULL, NULL, NULL, NULL) != SL_OK);
  /* eval of a missing or unfinished log */
  sl_eval_result ev;
  CU_ASSERT(sl_run_eval("/nonexistent-dir/run.h5", &ev) == SL_EIO);
}

/* NaN weights are caught by the network check and by training. */
static void test_nan_weights(void)
{
  sl_config c;
  small_config(&c);
  sl_net *net = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&net, &c, 5, 3) == SL_OK);
  sl_net_params(net)[3] = NAN;
  CU_ASSERT(sl_net_check(net) == SL_ENUMERIC);
  CU_ASSERT(strstr(sl_last_error(), "hidden0/w_in") != NULL);
  sl_net_free(net);
}

/* Trainer steps on an event list update the weights exactly as steps on
 * the dense raster; a NULL list is refused. */
static void test_step_spikes(void)
{
  sl_config c;
  small_config(&c);
  const size_t T = 30, B = 8, n_in = 5;
  sl_net *a = NULL, *b = NULL;
  CU_ASSERT_FATAL(sl_net_from_config(&a, &c, n_in, 3) == SL_OK);
  CU_ASSERT_FATAL(sl_net_from_config(&b, &c, n_in, 3) == SL_OK);
  sl_trainer *ta = NULL, *tb = NULL;
  CU_ASSERT_FATAL(sl_trainer_create(&ta, a, &c) == SL_OK);
  CU_ASSERT_FATAL(sl_trainer_create(&tb, b, &c) == SL_OK);
  float x[30 * 8 * 5];
  int32_t y[8];
  for (size_t i = 0; i < T * B * n_in; i++)
    x[i] = (i * 7919u) % 13u < 3u ? 1.0f : 0.0f;
  for (size_t i = 0; i < B; i++)
    y[i] = (int32_t)(i % 3);
  sl_spikes *sp = NULL;
  CU_ASSERT_FATAL(sl_spikes_from_dense(&sp, x, T, B, n_in) == SL_OK);
  sl_batch_stats sa, sb;
  for (int k = 0; k < 3; k++) {
    CU_ASSERT_FATAL(sl_trainer_step(ta, x, y, T, B, &sa) == SL_OK);
    CU_ASSERT_FATAL(sl_trainer_step_spikes(tb, sp, y, &sb) == SL_OK);
    CU_ASSERT(sa.loss == sb.loss && sa.hidden_spikes == sb.hidden_spikes && sa.n == sb.n);
  }
  CU_ASSERT(sa.hidden_spikes > 0);
  CU_ASSERT(memcmp(sl_net_params(a), sl_net_params(b), sl_net_num_params(a) * sizeof(float)) == 0);
  CU_ASSERT(sl_trainer_step_spikes(tb, NULL, y, &sb) == SL_EINVAL);
  sl_spikes *wide = NULL; /* 6 channels for a network of 5 inputs */
  CU_ASSERT_FATAL(sl_spikes_from_dense(&wide, x, T, B * n_in / 6, 6) == SL_OK);
  CU_ASSERT(sl_trainer_step_spikes(tb, wide, y, &sb) == SL_ESHAPE);
  CU_ASSERT(strstr(sl_last_error(), "6 channels") != NULL);
  sl_spikes_free(wide);
  sl_spikes_free(sp);
  sl_trainer_free(ta), sl_trainer_free(tb);
  sl_net_free(a), sl_net_free(b);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"a small network learns and the log round-trips", test_learns_and_logs},
      {"runs are reproducible across thread counts", test_reproducible},
      {"mismatch drawn from the config", test_mismatch_from_config},
      {"bad settings fail cleanly", test_bad_settings},
      {"NaN weights are rejected", test_nan_weights},
      {"steps on an event list equal steps on the raster", test_step_spikes},
      {NULL, NULL}};
  return sl_test_run("train", cases);
}
