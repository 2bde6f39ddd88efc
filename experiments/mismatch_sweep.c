/* mismatch_sweep.c -- experiment `mismatch_sweep` (Cramer et al. 2022,
 * Fig. 5): a simulated chip whose neurons' tau_mem, tau_syn and threshold
 * are drawn with relative spread sigma (unknown to the host model, the
 * ideal backend's hidden mismatch); for each sigma, the test accuracy of
 * weights trained on the nominal model and deployed without the loop, and
 * of training in the loop, for sigma = 0, 0.1, ..., 0.5. The chip's draw
 * is seeded with mismatch.seed. /summary: arrays sigma, acc_deployed,
 * acc_loop; the log's test_accuracy is the in-the-loop accuracy at 20%.
 * /metrics stays empty (many trainings, none of them "the" run).
 * Resumable (phase_ckpt.c): phases "nominal" (its network) and sigma_0 ..
 * sigma_5 (their accuracies), the training in progress from its last
 * epoch checkpoint. */
#include "config.h"
#include "experiments.h"

#include <stdio.h>
#include <string.h>

static const char *const defaults[] = {"backend.name=ideal", NULL};

#define N_SIGMA 6

/* Phase "sigma_K": the nominal weights deployed on the chip of sigma, and
 * the training in the loop on it; stored: {acc_deployed, acc_loop,
 * seconds, epochs} in res. */
static int sigma_phase(const sl_config *cfg, size_t k, double sigma, sl_session *nominal,
                       sl_runlog *log, double res[4])
{
  char name[32], label[32];
  snprintf(name, sizeof name, "sigma_%zu", k);
  int done = 0;
  int rc = exp_phase_result(name, res, 4, &done);
  if (rc || done)
    return rc;
  sl_config chip = *cfg;
  strcpy(chip.backend, "ideal");
  snprintf(chip.backend_options, sizeof chip.backend_options,
           "tau_mem_sd=%g,tau_syn_sd=%g,v_th_sd=%g,mismatch_seed=%llu", sigma, sigma, sigma,
           (unsigned long long)cfg->mm_seed);
  if (!rc)
    rc = exp_deploy(&chip, sl_session_net(nominal), &res[0]);
  snprintf(label, sizeof label, "loop sigma %.1f", sigma);
  sl_session *s = NULL;
  sl_run_result r;
  if (!rc)
    rc = exp_phase_train_new(&chip, label, log, &s, &r);
  sl_session_free(s);
  if (rc)
    return rc;
  res[1] = r.test_accuracy;
  res[2] = r.seconds;
  res[3] = (double)r.epochs;
  return exp_phase_store_result(log, name, res, 4);
}

static int run(const sl_config *cfg, sl_runlog *log)
{
  const double sigma[N_SIGMA] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5};
  double acc_dep[N_SIGMA] = {0}, acc_loop[N_SIGMA] = {0}, seconds = 0.0;
  sl_config sim = exp_simulation(cfg);
  sl_session *nominal = NULL;
  double res_nominal[3] = {0}; /* phase "nominal": test accuracy, seconds, epochs */
  int rc = exp_phase_session(&sim, "nominal", "nominal", log, &nominal, res_nominal);
  seconds += res_nominal[1];
  long epochs = 0;
  for (size_t k = 0; k < N_SIGMA && !rc; k++) {
    double res[4];
    rc = sigma_phase(cfg, k, sigma[k], nominal, log, res);
    if (!rc) {
      acc_dep[k] = res[0];
      acc_loop[k] = res[1];
      seconds += res[2];
      epochs += (long)res[3];
      printf("  sigma %.1f: deployed %.2f%%, in the loop %.2f%%\n", sigma[k], 100 * acc_dep[k],
             100 * acc_loop[k]);
    }
  }
  if (!rc) {
    printf("\n  %-8s %12s %12s\n", "sigma", "deployed", "in the loop");
    for (size_t k = 0; k < N_SIGMA; k++)
      printf("  %-8.1f %11.2f%% %11.2f%%\n", sigma[k], 100 * acc_dep[k], 100 * acc_loop[k]);
    rc = sl_runlog_put_summary_array(log, "sigma", sigma, N_SIGMA);
  }
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "acc_deployed", acc_dep, N_SIGMA);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "acc_loop", acc_loop, N_SIGMA);
  if (!rc)
    rc = sl_runlog_finish(log, acc_loop[2], epochs, seconds);
  sl_session_free(nominal);
  return rc;
}

const experiment exp_mismatch_sweep = {
    "mismatch_sweep",
    "Yin-Yang on simulated chips with 0-50% mismatch: deployed vs trained in the loop",
    defaults, run, NULL, 1};
