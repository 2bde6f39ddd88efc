/* test_calib_deploy.c -- calibration must improve deployment (issue 13).
 *
 * Weights trained in the ideal simulator are deployed on one fixed emulated
 * chip (bss2, chip 1) twice: at the backend's nominal words and after
 * calibrating every word of the network's circuits to the targets the
 * backend states for that network (sl_calib_targets_from_hw). The
 * calibrated chip must score higher than the uncalibrated one, and come
 * close to the simulator. This is the property twin_loop's route (e)
 * measures on the full experiment; here on a smaller Yin-Yang run (2000
 * training samples, 500 test samples, 10 epochs) so that it takes seconds.
 * Settings as twin_loop's: time constants of 6.5 us, which every circuit
 * reaches; weight units that map each layer's largest |w| to 63.
 */
#include "config.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/bss2.h"
#include "spikeloop/calibrate.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHIP_OPTIONS "chip_seed=1,sample_period=1e-6"

static void set(sl_config *c, const char *key, const char *value)
{
  int rc = sl_config_set(c, key, value);
  if (rc)
    printf("\n  %s\n", sl_last_error());
  CU_ASSERT_FATAL(rc == SL_OK);
}

/* Each layer's largest |w| of net / 63, as loop.w_unit text. */
static void deploy_units(sl_net *net, char *out, size_t len)
{
  const sl_net_spec *sp = sl_net_get_spec(net);
  double mx[SL_MAX_LAYERS + 1] = {0};
  for (size_t i = 0; i < sl_net_num_tensors(net); i++) {
    sl_tensor t;
    CU_ASSERT_FATAL(sl_net_tensor(net, i, &t) == SL_OK);
    for (size_t j = 0; j < t.rows * t.cols; j++)
      mx[t.layer_index] = fmax(mx[t.layer_index], fabs(t.data[j]));
  }
  size_t pos = 0;
  for (size_t l = 0; l <= sp->n_layers; l++) {
    CU_ASSERT_FATAL(mx[l] > 0);
    pos += (size_t)snprintf(out + pos, len - pos, "%s%.9g", l ? "," : "",
                            mx[l] / SL_BSS2_WEIGHT_MAX);
  }
}

static double deploy(const sl_config *c, sl_net *net)
{
  sl_session *s = NULL;
  sl_eval_result r;
  int rc = sl_session_create(&s, c);
  if (!rc)
    rc = sl_session_set_weights(s, net);
  if (!rc)
    rc = sl_session_evaluate(s, SL_SET_TEST, &r);
  if (rc)
    printf("\n  deploy: %s\n", sl_last_error());
  CU_ASSERT_FATAL(rc == SL_OK);
  sl_session_free(s);
  return r.accuracy;
}

static void test_calibrated_beats_uncalibrated(void)
{
  sl_config chip;
  sl_config_defaults(&chip);
  set(&chip, "backend.name", "bss2");
  set(&chip, "backend.options", CHIP_OPTIONS);
  set(&chip, "data.n_train", "2000");
  set(&chip, "data.n_val", "0");
  set(&chip, "data.n_test", "500");
  set(&chip, "train.epochs", "10");
  set(&chip, "train.reg_amp", "0.1");
  const char *tau[] = {"neuron.tau_mem", "neuron.tau_syn", "readout.tau_mem", "readout.tau_syn"};
  for (int k = 0; k < 4; k++)
    set(&chip, tau[k], "0.0065");
  sl_config sim = chip;
  strcpy(sim.backend, "ideal");
  sim.backend_options[0] = '\0';

  /* (a) train in the simulator */
  sl_session *a = NULL;
  sl_run_result ra;
  CU_ASSERT_FATAL(sl_session_create(&a, &sim) == SL_OK);
  CU_ASSERT_FATAL(sl_session_train(a, sim.epochs, NULL, NULL, NULL, &ra) == SL_OK);
  sl_net *net = sl_session_net(a);
  char units[128];
  deploy_units(net, units, sizeof units);
  set(&chip, "loop.w_unit", units);

  /* uncalibrated, and the network's targets from the backend opened for it */
  const double acc_dep = deploy(&chip, net);
  sl_session *s = NULL;
  CU_ASSERT_FATAL(sl_session_create(&s, &chip) == SL_OK);
  sl_hw *hw = sl_loop_hw(sl_session_loop(s));
  const sl_backend_setup *su = sl_hw_setup(hw);
  size_t n = 0;
  for (size_t l = 0; l <= su->n_layers; l++)
    n += su->size[l];
  double *target = malloc(SL_BSS2_NPARAM * SL_BSS2_CIRCUITS * sizeof *target);
  uint32_t *ids = malloc(n * sizeof *ids);
  CU_ASSERT_FATAL(target && ids);
  CU_ASSERT_FATAL(sl_calib_targets_from_hw(hw, target) == SL_OK);
  sl_session_free(s);
  for (size_t i = 0; i < n; i++)
    ids[i] = (uint32_t)i;

  /* calibrate the network's circuits, every word */
  sl_calib_targets tg = sl_calib_targets_default();
  double *const common[SL_BSS2_NPARAM] = {&tg.v_leak,  &tg.v_reset, &tg.v_th,  &tg.tau_mem,
                                          &tg.tau_syn, &tg.gain,    &tg.refrac};
  for (int p = 0; p < SL_BSS2_NPARAM; p++)
    *common[p] = target[(size_t)p * SL_BSS2_CIRCUITS]; /* hidden neuron 0's */
  tg.per_circuit = target;
  tg.circuits = ids;
  tg.n_circuits = n;
  char path[64];
  snprintf(path, sizeof path, "test_calib_deploy_%ld.h5", (long)getpid());
  sl_calib_report rep;
  int rc = sl_calib_run(CHIP_OPTIONS, &tg, path, &rep);
  if (rc)
    printf("\n  %s\n", sl_last_error());
  CU_ASSERT_FATAL(rc == SL_OK);

  sl_config cal = chip;
  snprintf(cal.backend_options, sizeof cal.backend_options, "%s,calib=%s", CHIP_OPTIONS, path);
  const double acc_cal = deploy(&cal, net);
  printf("\n  chip 1, %zu circuits calibrated in %.1f s: ideal %.1f%%, deployed %.1f%% "
         "uncalibrated, %.1f%% calibrated\n",
         n, rep.seconds, 100 * ra.test_accuracy, 100 * acc_dep, 100 * acc_cal);
  CU_ASSERT(acc_cal > acc_dep);
  CU_ASSERT(acc_cal >= ra.test_accuracy - 0.05);
  remove(path);
  free(target);
  free(ids);
  sl_session_free(a);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"calibrated deployment beats uncalibrated", test_calibrated_beats_uncalibrated},
      {NULL, NULL}};
  return sl_test_run("calib_deploy", cases);
}
