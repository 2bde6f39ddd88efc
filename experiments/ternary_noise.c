/* ternary_noise.c -- experiment `ternary_noise` (Zhang et al., Sci. Adv.
 * 2024: ternary weights are robust to write noise): the ResNet of
 * dynresnet, trained in float and fine-tuned ternary, is programmed onto
 * crossbars with open-loop writes (one pulse, no verify) of relative
 * conductance noise 0, 5, 10, 15, 20 and 30% (G = G_target (1 + sd e), the
 * sd relative to each device's own conductance; cim.h prog_relative),
 * under read noise read_sd:
 *  - ternary mapping: the ternary network on 2-level devices;
 *  - full-precision mapping: the float network on continuous-level devices
 *    (w_max = the layer's largest weight).
 * In both the BN scale and shift are applied by the periphery, so the two
 * chips differ only in what their devices hold.
 * For every chip the semantic centres, the thresholds (TPE on the
 * validation split) and the dynamic inference on the test split are done
 * as in dynresnet. Options and data as dynresnet (prog_sd, prog_relative
 * and max_pulses are set per chip here).
 *
 * /summary: write_noise, acc_ternary, acc_fp (dynamic, test split), and
 * acc_ternary_full, acc_fp_full (static network), compute_ternary,
 * compute_fp (fraction of MACs spent), dataset.
 */
#include "config.h"
#include "dynexit_eval.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const defaults[] = {"data.n_train=7000", "data.n_val=1000",
                                       "data.n_test=2000", "train.epochs=10",
                                       "train.batch=64",   "train.lr=0.002",
                                       "train.lr_decay=0.8", NULL};

static const double write_noise[] = {0.0, 0.05, 0.10, 0.15, 0.20, 0.30};
enum { N_LEVELS = sizeof write_noise / sizeof write_noise[0] };

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int check(const sl_config *cfg)
{
  const char *name;
  return dx_check(cfg, &dx_resnet_arch, "ternary_noise", &name);
}

static int run(const sl_config *cfg, sl_runlog *log)
{
  const char *who = "ternary_noise";
  const double t0 = now();
  dx_setup s;
  int rc = dx_prepare(cfg, &dx_resnet_arch, who, log, &s);
  if (rc)
    return rc;
  double acc_t[N_LEVELS], acc_f[N_LEVELS], full_t[N_LEVELS], full_f[N_LEVELS], cmp_t[N_LEVELS],
      cmp_f[N_LEVELS];
  printf("\n  write noise   ternary: dynamic  full  compute   full precision: dynamic  full  "
         "compute\n");
  for (size_t k = 0; !rc && k < N_LEVELS; k++) {
    dx_options o = s.o; /* open-loop writes: the noise stays */
    o.prog_sd = write_noise[k];
    o.prog_relative = 1;
    o.max_pulses = 1;
    dx_result rt, rf;
    rc = dx_chip(s.tern, SL_RESNET_MAP_TERNARY, &o, who, &s, 0, &rt);
    if (rc)
      break;
    rc = dx_chip(s.fp, SL_RESNET_MAP_FP, &o, who, &s, 0, &rf);
    if (!rc) {
      acc_t[k] = rt.acc_dynamic, full_t[k] = rt.acc_full, cmp_t[k] = rt.compute;
      acc_f[k] = rf.acc_dynamic, full_f[k] = rf.acc_full, cmp_f[k] = rf.compute;
      printf("  %8.0f%%   %14.2f%% %6.2f%% %6.1f%%   %21.2f%% %6.2f%% %6.1f%%   (%.0f s)\n",
             100 * write_noise[k], 100 * acc_t[k], 100 * full_t[k], 100 * cmp_t[k],
             100 * acc_f[k], 100 * full_f[k], 100 * cmp_f[k], now() - t0);
      fflush(stdout);
      dx_result_free(&rf);
    }
    dx_result_free(&rt);
  }
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "write_noise", write_noise, N_LEVELS);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "acc_ternary", acc_t, N_LEVELS);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "acc_fp", acc_f, N_LEVELS);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "acc_ternary_full", full_t, N_LEVELS);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "acc_fp_full", full_f, N_LEVELS);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "compute_ternary", cmp_t, N_LEVELS);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "compute_fp", cmp_f, N_LEVELS);
  if (!rc)
    rc = sl_runlog_put_summary_string(log, "dataset", s.dataset);
  if (!rc)
    rc = sl_runlog_finish(log, acc_t[3], cfg->epochs + s.o.ternary_epochs, now() - t0);
  if (!rc)
    printf("[%s] %.0f s\n", who, now() - t0);
  dx_setup_free(&s);
  return rc;
}

const experiment exp_ternary_noise = {
    "ternary_noise",
    "ternary vs full-precision mapping of the dynamic ResNet under 0-30% write noise",
    defaults, run, check, 0};
