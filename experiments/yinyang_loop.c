/* yinyang_loop.c -- experiment `yinyang_loop` (Cramer et al. 2022): on one
 * emulated, uncalibrated BrainScaleS-2 chip, compare
 *   (a) training in the ideal simulator,
 *   (b) those weights deployed on the chip without the loop,
 *   (c) training in the loop on the chip.
 * /summary: acc_ideal, acc_deployed, acc_loop (test accuracies), and the
 * seconds of (a) and (c). /metrics and /params are those of (c). */
#include "config.h"
#include "experiments.h"

#include <stdio.h>

/* The CADC samples every 1 us here, the model step of the BSS-2 Yin-Yang
 * examples (FACTS.md 2: tau 6 us, dt 1 us). The amplitude regulariser keeps
 * the readout membranes inside the ADC's range, as in Cramer et al.: without
 * it, trained readouts drive the membrane to the rails, the measured maxima
 * tie and nothing is learned in the loop. (a) uses the same settings. */
static const char *const defaults[] = {"backend.name=bss2",
                                       "backend.options=chip_seed=1,sample_period=1e-6",
                                       "train.reg_amp=0.1", "train.epochs=60",
                                       "train.lr_decay=0.97", NULL};

static int run(const sl_config *cfg, sl_runlog *log)
{
  sl_config sim = exp_simulation(cfg);
  sl_session *a = NULL, *c = NULL;
  sl_run_result ra, rc_;
  double acc_deployed = 0.0;
  int rc = exp_train(&sim, "a: ideal", NULL, &a, &ra);
  if (!rc) {
    printf("[b: deployed] weights of (a) on %s %s\n", cfg->backend, cfg->backend_options);
    rc = exp_deploy(cfg, sl_session_net(a), &acc_deployed);
  }
  if (!rc)
    rc = exp_train(cfg, "c: in the loop", log, &c, &rc_);
  if (!rc) {
    printf("\n  %-28s %8s\n", "yinyang_loop", "test acc");
    printf("  %-28s %7.2f%%\n", "(a) ideal simulator", 100 * ra.test_accuracy);
    printf("  %-28s %7.2f%%\n", "(b) deployed, no loop", 100 * acc_deployed);
    printf("  %-28s %7.2f%%\n", "(c) trained in the loop", 100 * rc_.test_accuracy);
    rc = sl_runlog_put_summary(log, "acc_ideal", ra.test_accuracy);
  }
  if (!rc)
    rc = sl_runlog_put_summary(log, "acc_deployed", acc_deployed);
  if (!rc)
    rc = sl_runlog_put_summary(log, "acc_loop", rc_.test_accuracy);
  if (!rc)
    rc = sl_runlog_put_summary(log, "seconds_ideal", ra.seconds);
  if (!rc)
    rc = sl_runlog_put_summary(log, "seconds_loop", rc_.seconds);
  if (!rc)
    rc = sl_session_log_network(c, log);
  if (!rc)
    rc = sl_runlog_finish(log, rc_.test_accuracy, rc_.epochs, ra.seconds + rc_.seconds);
  sl_session_free(a);
  sl_session_free(c);
  return rc;
}

const experiment exp_yinyang_loop = {
    "yinyang_loop",
    "Yin-Yang on an emulated BrainScaleS-2 chip: ideal vs deployed vs trained in the loop",
    defaults, run};
