/* dynexit_eval.c -- the shared steps of the dynamic-exit experiments (see
 * dynexit_eval.h): options, images, ResNet training in float and ternary,
 * and the evaluation of a deployed staged network with semantic exits.
 */
#include "config.h"
#include "dynexit_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------ options */

static const char *const option_keys[] = {
    "ternary_epochs", "ternary_lr", "lambda", "max_loss", "tpe_trials", "grid_points",
    "centre_samples", "calib_samples", "read_sd", "prog_sd", "prog_relative", "chip_bn",
    "max_pulses", "adc_bits", "dac_bits", "exit_weight", "ternary_prototypes", "centre",
    "augment", "seed", "exit_score", "exit_pool", "max_changed", "exit_centres", "exit_agree",
    NULL};

static void dx_options_default(dx_options *o)
{
  o->ternary_epochs = 5;
  o->ternary_lr = 1e-3;
  o->lambda = 0.005;
  o->max_loss = -1.0;
  o->max_changed = -1.0;
  o->tpe_trials = 150;
  o->grid_points = 11;
  o->centre_samples = 2000;
  o->calib_samples = 256;
  o->read_sd = 0.02;
  o->prog_sd = 0.02;
  o->prog_relative = 0;
  o->chip_bn = -1;
  o->max_pulses = 10;
  o->adc_bits = 8;
  o->dac_bits = 8;
  o->exit_weight = 0.5;
  o->ternary_prototypes = 0;
  o->centre = 1;
  o->augment = 1;
  o->seed = 1;
  o->exit_score = SL_SEMANTIC_COSINE;
  o->exit_pool_max = 0;
  o->exit_centres = 1;
  o->exit_agree = 0;
}

/* the options opts names, over what o holds */
static int dx_options_read(const char *opts, const char *who, dx_options *o)
{
  static const char *const scores[] = {"cosine", "margin", NULL}; /* sl_semantic_score */
  static const char *const pools[] = {"mean", "max", NULL};
  long score = (long)o->exit_score;
  int rc = sl_backend_check_options(opts, option_keys, who);
  if (!rc)
    rc = exp_option_word(opts, who, "exit_score", scores, &score);
  o->exit_score = (sl_semantic_score)score;
  if (!rc)
    rc = exp_option_word(opts, who, "exit_pool", pools, &o->exit_pool_max);
  if (!rc)
    rc = exp_option_long(opts, who, "ternary_epochs", &o->ternary_epochs, 0, 1000);
  if (!rc)
    rc = exp_option(opts, who, "ternary_lr", &o->ternary_lr, 1e-8, 1);
  if (!rc)
    rc = exp_option(opts, who, "lambda", &o->lambda, 0, 100);
  if (!rc)
    rc = exp_option(opts, who, "max_loss", &o->max_loss, -1, 1);
  if (!rc)
    rc = exp_option(opts, who, "max_changed", &o->max_changed, -1, 1);
  if (!rc)
    rc = exp_option_long(opts, who, "tpe_trials", &o->tpe_trials, 2, 100000);
  if (!rc)
    rc = exp_option_long(opts, who, "grid_points", &o->grid_points, 2, 200);
  if (!rc)
    rc = exp_option_long(opts, who, "centre_samples", &o->centre_samples, 1, 10000000);
  if (!rc)
    rc = exp_option_long(opts, who, "calib_samples", &o->calib_samples, 1, 100000);
  if (!rc)
    rc = exp_option(opts, who, "read_sd", &o->read_sd, 0, 0.29);
  if (!rc)
    rc = exp_option(opts, who, "prog_sd", &o->prog_sd, 0, 10);
  if (!rc)
    rc = exp_option_long(opts, who, "prog_relative", &o->prog_relative, 0, 1);
  if (!rc)
    rc = exp_option_long(opts, who, "chip_bn", &o->chip_bn, 0, 1);
  if (!rc)
    rc = exp_option_long(opts, who, "max_pulses", &o->max_pulses, 1, 1000000);
  if (!rc)
    rc = exp_option_long(opts, who, "adc_bits", &o->adc_bits, 0, 24);
  if (!rc)
    rc = exp_option_long(opts, who, "dac_bits", &o->dac_bits, 0, 16);
  if (!rc)
    rc = exp_option(opts, who, "exit_weight", &o->exit_weight, 0, 100);
  if (!rc)
    rc = exp_option_long(opts, who, "ternary_prototypes", &o->ternary_prototypes, 0, 1);
  if (!rc)
    rc = exp_option_long(opts, who, "centre", &o->centre, 0, 1);
  if (!rc)
    rc = exp_option_long(opts, who, "augment", &o->augment, 0, 1);
  if (!rc)
    rc = exp_option_long(opts, who, "seed", &o->seed, 0, 1000000000);
  if (!rc)
    rc = exp_option_long(opts, who, "exit_centres", &o->exit_centres, 1,
                         SL_SEMANTIC_MAX_PER_CLASS);
  if (!rc)
    rc = exp_option_long(opts, who, "exit_agree", &o->exit_agree, 0, 1);
  return rc;
}

/* the defaults, then the family's (a->options), then the user's opts */
static int dx_options_parse(const dx_arch *a, const char *opts, const char *who, dx_options *o)
{
  dx_options_default(o);
  int rc = a->options ? dx_options_read(a->options, who, o) : SL_OK;
  return rc ? rc : dx_options_read(opts, who, o);
}

static sl_cim_params dx_device(const dx_options *o)
{
  sl_cim_params d = sl_cim_params_default();
  d.read_sd = o->read_sd;
  d.prog_sd = o->prog_sd;
  d.prog_relative = (int)o->prog_relative;
  d.max_pulses = (unsigned)o->max_pulses;
  d.adc_bits = (unsigned)o->adc_bits;
  d.dac_bits = (unsigned)o->dac_bits;
  d.dac_mode = SL_CIM_DAC_LEVEL;
  d.drift_nu = 0.0; /* read right after programming */
  d.chip_seed = (uint64_t)o->seed;
  d.noise_seed = (uint64_t)o->seed * 1000;
  return d;
}

/* ------------------------------------------------------------ data */

int dx_check(const sl_config *cfg, const dx_arch *a, const char *who, const char **name)
{
  dx_options o;
  int rc = dx_options_parse(a, cfg->backend_options, who, &o);
  if (!rc && cfg->n_val < 1)
    rc = sl_error(SL_EINVAL, "%s: data.n_val must be >= 1 (the thresholds are tuned on the "
                  "validation split)", who);
  if (!rc && o.exit_pool_max && a != &dx_pointnet_arch)
    rc = sl_error(SL_EINVAL, "%s: exit_pool=max is dynpointnet's (the ResNet's exits average "
                  "their feature maps)", who);
  return rc ? rc : a->check(cfg, who, name);
}

/* ------------------------------------------------------------ training */

/* Where a phase's epochs are logged: the run log (NULL: none), the epochs
 * before the phase (the float ones, for the ternary phase), the networks a
 * checkpoint holds (tern NULL in the float phase), and on --resume the
 * killed run's checkpoint with the global epoch it was taken after. */
typedef struct {
  sl_runlog *log;
  long offset;
  void *fp, *tern;
  sl_runlog_reader *resume;
  long resume_epoch;
} dx_trainlog;

static int train_phase(const dx_arch *a, void *net, const sl_config *cfg, const dx_options *o,
                       const char *who, const char *phase, long epochs, double lr,
                       const sl_dataset *train, const sl_dataset *val, const dx_trainlog *tl)
{
  sl_optim_params op = sl_optim_params_default();
  op.lr = lr;
  op.lr_decay = cfg->lr_decay;
  sl_optim *opt = NULL;
  int rc = sl_optim_create(&opt, "adam", a->num_params(net), &op);
  const int augment = o->augment && a->augment;
  float *aug = augment ? malloc(train->n * train->dim * sizeof(float)) : NULL;
  if (!rc && augment && !aug)
    rc = sl_error(SL_ENOMEM, "%s: out of memory", who);
  /* resumed inside this phase: its optimiser continues from the checkpoint */
  long first = 0;
  if (!rc && tl->resume && tl->resume_epoch > tl->offset) {
    first = tl->resume_epoch - tl->offset;
    rc = dx_ckpt_restore_optim(tl->resume, opt);
  }
  for (long e = first; !rc && e < epochs; e++) {
    const double t0 = now();
    double loss = 0, acc = 0, vacc = 0;
    const uint64_t seed = cfg->seed * 1000 + (uint64_t)e;
    sl_optim_set_epoch(opt, (size_t)e);
    if (augment)
      a->augment(aug, train, seed);
    rc = a->train_epoch(net, opt, augment ? aug : train->x, train->y, train->n,
                        (size_t)cfg->batch, seed, &loss, &acc);
    /* statistics of the final weights, from the (untransformed) training set */
    if (!rc)
      rc = a->recalibrate(net, train->x, train->n, 200);
    if (!rc)
      rc = a->evaluate(net, val->x, val->y, val->n, 200, &vacc);
    if (!rc)
      printf("  [%s] %s epoch %2ld/%ld  loss %.4f  train %6.2f%%  val %6.2f%%  %.1fs\n", who,
             phase, e + 1, epochs, loss, 100 * acc, 100 * vacc, now() - t0);
    fflush(stdout);
    if (!rc && tl->log) {
      sl_epoch_metrics m = {tl->offset + e + 1, loss, acc, vacc, NAN, NAN, now() - t0};
      rc = sl_runlog_append_epoch(tl->log, &m);
      if (!rc)
        rc = dx_ckpt_save(tl->log, tl->offset + e + 1, a, tl->fp, tl->tern, opt);
    }
  }
  free(aug);
  sl_optim_free(opt);
  return rc;
}

/* fp trained in float, tern a copy fine-tuned ternary; with a log, every
 * epoch is checkpointed, and on --resume (exp_resume_path) training
 * continues after the checkpoint's epoch. */
static int train_both(const sl_config *cfg, dx_setup *s, const char *who, sl_runlog *log)
{
  const dx_arch *a = s->arch;
  dx_trainlog tl = {log, 0, NULL, NULL, NULL, 0};
  int rc = SL_OK;
  int64_t phase = 0;
  if (log && exp_resume_path()) {
    rc = sl_runlog_open(&tl.resume, exp_resume_path());
    if (!rc)
      rc = sl_runlog_ckpt_epoch(tl.resume, &tl.resume_epoch);
    if (!rc)
      rc = sl_runlog_ckpt_get_count(tl.resume, "phase", &phase);
    if (!rc && tl.resume_epoch > cfg->epochs + s->o.ternary_epochs)
      rc = sl_error(SL_EFORMAT, "%s: the checkpoint is of epoch %ld, past the %ld epochs of "
                    "this run", who, tl.resume_epoch, cfg->epochs + s->o.ternary_epochs);
    if (!rc)
      printf("  (resumed after epoch %ld)\n", tl.resume_epoch);
  }
  if (!rc)
    rc = a->create(&s->fp, &s->o, &s->train, cfg->seed);
  tl.fp = s->fp;
  if (!rc && tl.resume)
    rc = dx_ckpt_restore_net(tl.resume, a, "fp", s->fp);
  if (!rc && (!tl.resume || tl.resume_epoch < cfg->epochs))
    rc = train_phase(a, s->fp, cfg, &s->o, who, "float  ", cfg->epochs, cfg->lr, &s->train,
                     &s->val, &tl);
  if (!rc)
    rc = a->create(&s->tern, &s->o, &s->train, cfg->seed);
  if (!rc) {
    memcpy(a->params(s->tern), a->params(s->fp), a->num_params(s->fp) * sizeof(float));
    memcpy(a->stats(s->tern), a->stats(s->fp), a->num_stats(s->fp) * sizeof(float));
    rc = a->set_ternary(s->tern, 1);
  }
  if (!rc && tl.resume && phase == 1)
    rc = dx_ckpt_restore_net(tl.resume, a, "tern", s->tern);
  tl.offset = cfg->epochs;
  tl.tern = s->tern;
  if (!rc)
    rc = train_phase(a, s->tern, cfg, &s->o, who, "ternary", s->o.ternary_epochs,
                     s->o.ternary_lr, &s->train, &s->val, &tl);
  sl_runlog_reader_close(tl.resume);
  return rc;
}

int dx_prepare(const sl_config *cfg, const dx_arch *a, const char *who, sl_runlog *log,
               dx_setup *s)
{
  memset(s, 0, sizeof *s);
  s->arch = a;
  int rc = dx_options_parse(a, cfg->backend_options, who, &s->o);
  if (!rc && !(rc = dx_check(cfg, a, who, &s->dataset)))
    rc = a->load(cfg, who, &s->train, &s->val, &s->test, &s->dataset);
  if (!rc) {
    printf("[%s] %s: %zu train, %zu validation, %zu test %s\n", who, s->dataset, s->train.n,
           s->val.n, s->test.n, a->items);
    rc = train_both(cfg, s, who, log);
  }
  if (rc)
    dx_setup_free(s);
  return rc;
}

void dx_setup_free(dx_setup *s)
{
  if (s->arch) {
    s->arch->free(s->fp);
    s->arch->free(s->tern);
  }
  sl_dataset_free(&s->train);
  sl_dataset_free(&s->val);
  sl_dataset_free(&s->test);
  s->fp = s->tern = NULL;
}

/* ------------------------------------------------------------ evaluation */

void dx_result_free(dx_result *r)
{
  free(r->pareto_acc);
  free(r->pareto_compute);
  free(r->sample_stage);
  free(r->sample_macs);
  r->pareto_acc = r->pareto_compute = NULL;
  r->sample_stage = NULL;
  r->sample_macs = NULL;
}

/* MACs one sample decided at stage s ran (sl_dyn_infer's accounting):
 * stages 0..s, the CAM search of every exit it checked, the head if s is
 * the last stage. */
static double executed_macs(const sl_dyn_net *net, size_t cam_rows, size_t s)
{
  double m = 0.0;
  for (size_t e = 0; e <= s && e < net->n_stages; e++) {
    m += net->stage_macs[e];
    if (e + 1 < net->n_stages)
      m += (double)net->feat_dim[e] * (double)cam_rows;
  }
  if (s + 1 >= net->n_stages)
    m += net->head_macs;
  return m;
}

int dx_put_results(sl_runlog *log, const dx_result *r, double acc_float, double acc_ternary,
                   const char *dataset)
{
  const size_t E = r->n_exits;
  const struct {
    const char *name;
    double value;
  } scalars[] = {{"acc_full", r->acc_full},
                 {"acc_dynamic", r->acc_dynamic},
                 {"compute_reduction", 1.0 - r->compute},
                 {"acc_dynamic_paired", r->acc_dynamic_paired},
                 {"changed_paired", r->changed_paired},
                 {"acc_float", acc_float},
                 {"acc_ternary", acc_ternary},
                 {"energy_per_inference_j", r->energy_dyn_j},
                 {"energy_full_j", r->energy_full_j},
                 {"val_acc_tpe", r->val_acc_tpe},
                 {"val_compute_tpe", r->val_compute_tpe},
                 {"val_acc_grid", r->val_acc_grid},
                 {"val_compute_grid", r->val_compute_grid}};
  int rc = SL_OK;
  for (size_t i = 0; !rc && i < sizeof scalars / sizeof scalars[0]; i++)
    rc = sl_runlog_put_summary(log, scalars[i].name, scalars[i].value);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "exit_fraction", r->exit_fraction, E + 1);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "pareto_acc", r->pareto_acc, r->n_pareto);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "pareto_compute", r->pareto_compute, r->n_pareto);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "thresholds", r->thresholds, E);
  if (!rc)
    rc = sl_runlog_put_summary_array(log, "grid_thresholds", r->grid_thresholds, E);
  if (!rc)
    rc = sl_runlog_put_summary_string(log, "dataset", dataset);
  return rc;
}

void dx_print_results(const dx_result *r, const char *network, const char *stage,
                      double acc_float, double acc_ternary, const char *dataset)
{
  printf("\ndynamic %s on ternary CIM + CAM (%s, test split)\n", network, dataset);
  printf("  software, float weights            %6.2f%%\n", 100 * acc_float);
  printf("  software, ternary weights          %6.2f%%\n", 100 * acc_ternary);
  printf("  chip, full network                 %6.2f%%   %.3g J per inference\n",
         100 * r->acc_full, r->energy_full_j);
  printf("  chip, dynamic (semantic exits)     %6.2f%%   %.3g J per inference\n",
         100 * r->acc_dynamic, r->energy_dyn_j);
  printf("  exits scored on the full pass      %6.2f%%   (%.1f%% of its answers changed)\n",
         100 * r->acc_dynamic_paired, 100 * r->changed_paired);
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
  printf("  decided at %-23s", stage);
  for (size_t s = 0; s <= r->n_exits; s++)
    printf(" %zu: %.1f%%", s + 1, 100 * r->exit_fraction[s]);
  printf("\n  Pareto front (validation): %zu points, compute %.1f%% .. %.1f%%\n", r->n_pareto,
         r->n_pareto ? 100 * r->pareto_compute[0] : 0.0,
         r->n_pareto ? 100 * r->pareto_compute[r->n_pareto - 1] : 0.0);
  fflush(stdout);
}

int dx_log_nb(const dx_result *r, sl_runlog *log)
{
  if (!r->n_samples)
    return SL_OK;
  sl_nb *nb = NULL;
  double *col = malloc(r->n_samples * sizeof *col);
  int rc = col ? sl_nb_create_empty(&nb) : sl_error(SL_ENOMEM, "dynexit: out of memory");
  if (!rc)
    rc = sl_nb_add_rows(nb, r->n_samples);
  for (int c = 0; c < 4 && !rc; c++) {
    static const char *const names[4] = {"dyn.exit_stage", "dyn.macs_executed", "dyn.macs_full",
                                         "dyn.compute_fraction"};
    for (size_t i = 0; i < r->n_samples; i++)
      col[i] = c == 0   ? (double)r->sample_stage[i]
               : c == 1 ? r->sample_macs[i]
               : c == 2 ? r->full_macs
                        : r->sample_macs[i] / r->full_macs;
    rc = sl_nb_set_column(nb, names[c], col, r->n_samples);
  }
  sl_nb_static st = {NAN, NAN, NAN, NAN, NAN};
  if (!rc)
    rc = sl_nb_write(nb, &st, r->acc_dynamic, log);
  sl_nb_free(nb);
  free(col);
  return rc;
}

/* Run every stage on n samples; feats[e] (n, feat_dim[e]) receives exit
 * e's features. */
static int run_static(const sl_dyn_net *net, const float *x, size_t n, float **feats)
{
  const size_t batch = 100;
  size_t big = 0, fbig = 0;
  for (size_t s = 0; s < net->n_stages; s++) {
    big = net->out_dim[s] > big ? net->out_dim[s] : big;
    fbig = net->feat_dim[s] > fbig ? net->feat_dim[s] : fbig;
  }
  float *a = malloc(batch * big * sizeof(float)), *b = malloc(batch * big * sizeof(float));
  float *f = malloc(batch * fbig * sizeof(float));
  int rc = a && b && f ? SL_OK : sl_error(SL_ENOMEM, "dynexit: out of memory");
  for (size_t first = 0; !rc && first < n; first += batch) {
    const size_t B = n - first < batch ? n - first : batch;
    const float *in = x + first * net->in_dim;
    for (size_t s = 0; !rc && s < net->n_stages; s++) {
      float *out = s % 2 ? b : a;
      rc = net->stage(net->net, s, in, B, out, f);
      if (!rc && s + 1 < net->n_stages)
        memcpy(feats[s] + first * net->feat_dim[s], f, B * net->feat_dim[s] * sizeof(float));
      in = out;
    }
  }
  free(a), free(b), free(f);
  return rc;
}

/* The semantic memory from the first centre_samples training images. */
static int build_memory(const sl_dyn_net *net, const dx_options *o, const sl_dataset *train,
                        sl_semantic **mem)
{
  const size_t E = net->n_stages - 1, n = (size_t)o->centre_samples < train->n
                                               ? (size_t)o->centre_samples
                                               : train->n;
  sl_semantic_params sp = sl_semantic_params_default();
  sp.cam.device.read_sd = o->read_sd;
  sp.cam.device.prog_sd = o->prog_sd;
  sp.cam.device.max_pulses = (unsigned)o->max_pulses;
  sp.cam.device.drift_nu = 0.0;
  sp.cam.device.chip_seed = (uint64_t)o->seed + 500;
  sp.cam.device.noise_seed = (uint64_t)o->seed * 1000 + 500;
  sp.centre = (int)o->centre;
  sp.score = o->exit_score;
  sp.per_class = (size_t)o->exit_centres;
  float *feats[SL_DYN_MAX_STAGES] = {0};
  int rc = sl_semantic_create(mem, E, net->feat_dim, net->n_classes, &sp);
  for (size_t e = 0; !rc && e < E; e++)
    if (!(feats[e] = malloc(n * net->feat_dim[e] * sizeof(float))))
      rc = sl_error(SL_ENOMEM, "dynexit: out of memory for %zu features", n);
  if (!rc)
    rc = run_static(net, train->x, n, feats);
  for (size_t e = 0; !rc && e < E; e++)
    rc = sl_semantic_build(*mem, e, feats[e], train->y, n);
  for (size_t e = 0; e < E; e++)
    free(feats[e]);
  return rc;
}

/* The search objective on the validation table: accuracy - lambda *
 * compute; or the least compute whose exits change at most max_changed of
 * the static network's answers (max_changed >= 0), or else whose accuracy
 * is at least the static network's (acc_full) minus max_loss (max_loss >=
 * 0). Ties go to the more accurate; thresholds outside the bound score
 * below every one inside it. */
typedef struct {
  const sl_dyn_table *t;
  int agree;
  double lambda, max_loss, max_changed, acc_full;
  int verbose;
  const char *who;
  size_t trial;
} objective;

static int score(const double *x, void *user, double *v)
{
  objective *ob = user;
  sl_dyn_result r;
  const sl_dyn_policy p = {x, ob->agree};
  int rc = sl_dyn_evaluate(ob->t, &p, &r);
  if (rc)
    return rc;
  if (ob->max_changed < 0.0 && ob->max_loss < 0.0) {
    *v = r.accuracy - ob->lambda * r.compute;
  } else { /* how far the thresholds are beyond the bound */
    const double over = ob->max_changed >= 0.0 ? r.changed - ob->max_changed
                                               : ob->acc_full - ob->max_loss - r.accuracy;
    *v = over <= 1e-12 ? 1.0 - r.compute + 1e-3 * r.accuracy : -1.0 - over;
  }
  if (ob->verbose) {
    printf("  [%s] TPE trial %3zu  thresholds", ob->who, ++ob->trial);
    for (size_t e = 0; e < ob->t->n_exits; e++)
      printf(" %.3f", x[e]);
    printf("  val acc %6.2f%%  compute %5.1f%%  objective %.4f\n", 100 * r.accuracy,
           100 * r.compute, *v);
    fflush(stdout);
  }
  return SL_OK;
}

/* Pareto front of every trial (the grid's lead the TPE's), on the
 * validation table. */
static int pareto(const sl_dyn_table *t, int agree, const sl_search_trials *a, dx_result *r)
{
  const size_t n = a->n;
  double *acc = malloc(n * sizeof(double)), *cmp = malloc(n * sizeof(double));
  size_t *idx = malloc(n * sizeof(size_t));
  int rc = acc && cmp && idx ? SL_OK : sl_error(SL_ENOMEM, "dynexit: out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    const sl_dyn_policy p = {a->x + i * a->dim, agree};
    sl_dyn_result q;
    rc = sl_dyn_evaluate(t, &p, &q);
    acc[i] = q.accuracy;
    cmp[i] = q.compute;
  }
  if (!rc) {
    r->n_pareto = sl_dyn_pareto(acc, cmp, n, idx);
    r->pareto_acc = malloc(r->n_pareto * sizeof(double));
    r->pareto_compute = malloc(r->n_pareto * sizeof(double));
    if (!r->pareto_acc || !r->pareto_compute)
      rc = sl_error(SL_ENOMEM, "dynexit: out of memory");
    for (size_t k = 0; !rc && k < r->n_pareto; k++) {
      r->pareto_acc[k] = acc[idx[k]];
      r->pareto_compute[k] = cmp[idx[k]];
    }
  }
  free(acc), free(cmp), free(idx);
  return rc;
}

/* The search box of exit e's threshold: from 0 to the largest similarity
 * the exit saw on the validation table. At that threshold the exit takes
 * no sample and above it nothing changes, so the grid and TPE spend their
 * trials where decisions do (a margin's values fill a tenth or so of the
 * 0..2 it could span). */
static void search_box(const sl_dyn_table *t, double *lo, double *hi)
{
  const size_t E = t->n_exits;
  for (size_t e = 0; e < E; e++) {
    double top = 0.0;
    for (size_t i = 0; i < t->n; i++)
      top = t->sim[i * E + e] > top ? t->sim[i * E + e] : top;
    lo[e] = 0.0;
    hi[e] = top > 1e-6 ? top : 1e-6; /* no similarity above 0: nothing to search */
  }
}

static int search(const sl_dyn_net *net, const dx_options *o, const char *who, int verbose,
                  const sl_dyn_table *t, dx_result *r)
{
  const size_t E = net->n_stages - 1;
  double lo[SL_DYN_MAX_STAGES], hi[SL_DYN_MAX_STAGES];
  search_box(t, lo, hi);
  const int agree = (int)o->exit_agree;
  objective ob = {t, agree, o->lambda, o->max_loss, o->max_changed, r->val_acc_full, 0, who, 0};
  sl_search_trials grid = {0}, tpe = {0};
  int rc = sl_grid_maximise(E, lo, hi, (size_t)o->grid_points, score, &ob, &grid);
  sl_tpe_params tp = sl_tpe_params_default();
  tp.n_trials = (size_t)o->tpe_trials;
  tp.seed = (uint64_t)o->seed;
  tp.warm = &grid; /* grid search, then TPE from it (Zhang et al.) */
  ob.verbose = verbose;
  if (!rc)
    rc = sl_tpe_maximise(E, lo, hi, score, &ob, &tp, &tpe);
  sl_dyn_result q;
  const sl_dyn_policy on_grid = {r->grid_thresholds, agree}, chosen = {r->thresholds, agree};
  if (!rc) {
    memcpy(r->grid_thresholds, grid.x + grid.best * E, E * sizeof(double));
    memcpy(r->thresholds, tpe.x + tpe.best * E, E * sizeof(double));
    rc = sl_dyn_evaluate(t, &on_grid, &q);
    r->val_acc_grid = q.accuracy;
    r->val_compute_grid = q.compute;
  }
  if (!rc) {
    rc = sl_dyn_evaluate(t, &chosen, &q);
    r->val_acc_tpe = q.accuracy;
    r->val_compute_tpe = q.compute;
  }
  if (!rc)
    rc = pareto(t, agree, &tpe, r);
  sl_search_trials_free(&grid);
  sl_search_trials_free(&tpe);
  return rc;
}

/* The static network's accuracy on a recorded pass (its head's answers). */
static double head_accuracy(const sl_dyn_table *t)
{
  size_t hits = 0;
  for (size_t i = 0; i < t->n; i++)
    hits += t->head[i] == t->label[i];
  return (double)hits / (double)t->n;
}

static int dx_evaluate(const sl_dyn_net *net, const dx_options *o, const char *who,
                const sl_dataset *train, const sl_dataset *val, const sl_dataset *test,
                int verbose, dx_result *r)
{
  memset(r, 0, sizeof *r);
  r->n_exits = net->n_stages - 1;
  sl_semantic *mem = NULL;
  sl_dyn_table t = {0}, tt = {0};
  const sl_dyn_policy policy = {r->thresholds, (int)o->exit_agree};
  int rc = build_memory(net, o, train, &mem);
  if (!rc)
    rc = sl_dyn_record(&t, net, mem, val->x, val->y, val->n, 100);
  if (!rc) {
    r->val_acc_full = head_accuracy(&t);
    rc = search(net, o, who, verbose, &t, r);
  }
  /* the test split: the static network (its pass recorded with every exit's
   * answers, which scores the chosen thresholds on the same pass), then the
   * dynamic one */
  double e0 = 0.0, e1 = 0.0;
  if (!rc && net->energy)
    e0 = net->energy(net->net);
  if (!rc)
    rc = sl_dyn_record(&tt, net, mem, test->x, test->y, test->n, 100);
  if (!rc && net->energy)
    e1 = net->energy(net->net);
  if (!rc) {
    r->acc_full = head_accuracy(&tt);
    r->energy_full_j = (e1 - e0) / (double)test->n;
    sl_dyn_result q;
    rc = sl_dyn_evaluate(&tt, &policy, &q);
    r->acc_dynamic_paired = q.accuracy;
    r->changed_paired = q.changed;
  }
  sl_dyn_result d;
  r->sample_stage = malloc((test->n ? test->n : 1) * sizeof *r->sample_stage);
  r->sample_macs = malloc((test->n ? test->n : 1) * sizeof *r->sample_macs);
  if (!rc && (!r->sample_stage || !r->sample_macs))
    rc = sl_error(SL_ENOMEM, "%s: out of memory", who);
  if (!rc)
    rc = sl_dyn_infer(net, mem, &policy, test->x, test->y, test->n, 100, NULL,
                      r->sample_stage, &d);
  if (!rc) {
    r->n_samples = test->n;
    r->full_macs = sl_dyn_full_macs(net);
    double sum = 0.0;
    const size_t rows = sl_semantic_rows(mem);
    for (size_t i = 0; i < test->n; i++) {
      r->sample_macs[i] = executed_macs(net, rows, (size_t)r->sample_stage[i]);
      sum += r->sample_macs[i];
    }
    /* the per-sample figures must add up to sl_dyn_infer's mean */
    if (test->n && fabs(sum / (double)test->n - d.macs) > 1e-9 * d.macs)
      rc = sl_error(SL_ENUMERIC, "%s: per-sample MACs (mean %.17g) disagree with the "
                    "inference's (%.17g)", who, sum / (double)test->n, d.macs);
  }
  if (!rc) {
    r->acc_dynamic = d.accuracy;
    r->compute = d.compute;
    r->energy_dyn_j = d.energy_j;
    for (size_t s = 0; s < net->n_stages; s++)
      r->exit_fraction[s] = (double)d.decided[s] / (double)d.n;
  }
  sl_dyn_table_free(&t);
  sl_dyn_table_free(&tt);
  sl_semantic_free(mem);
  if (rc)
    dx_result_free(r);
  return rc;
}

int dx_chip(void *net, sl_resnet_mapping mapping, const dx_options *o, const char *who,
            const dx_setup *s, int verbose, dx_result *r)
{
  const dx_arch *a = s->arch;
  sl_resnet_deploy_params dp = sl_resnet_deploy_params_default();
  dp.on_cim = 1;
  dp.mapping = mapping;
  dp.device = dx_device(o);
  dp.chip_bn = o->chip_bn >= 0 ? (int)o->chip_bn : a->chip_bn;
  if (mapping == SL_RESNET_MAP_FP)
    dp.device.levels = 0; /* continuous conductances */
  const size_t nc = (size_t)o->calib_samples < s->train.n ? (size_t)o->calib_samples : s->train.n;
  if (verbose) {
    printf("[%s] deploying the %s network on crossbars (calibration on %zu %s)\n", who,
           mapping == SL_RESNET_MAP_TERNARY ? "ternary" : "float", nc, a->items);
    fflush(stdout);
  }
  void *d = NULL;
  sl_dyn_net dn;
  memset(r, 0, sizeof *r);
  int rc = a->deploy(&d, net, &dp, s->train.x, nc);
  if (!rc)
    rc = a->dyn(d, &dn);
  if (!rc)
    rc = dx_evaluate(&dn, o, who, &s->train, &s->val, &s->test, verbose, r);
  a->deployed_free(d);
  return rc;
}
