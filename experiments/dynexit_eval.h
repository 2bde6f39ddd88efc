/* dynexit_eval.h -- what the dynamic-exit experiments (dynresnet,
 * ternary_noise, dynpointnet) share: their options, training a network in
 * float then ternary, and the evaluation of a deployed staged network --
 * semantic centres, threshold search on the validation split (grid, then
 * TPE), the Pareto front, and static and dynamic inference on the test
 * split with compute and energy. A network family is a dx_arch table
 * (the ResNet's is in dynresnet.c, PointNet++'s in dynpointnet.c).
 */
#ifndef SL_DYNEXIT_EVAL_H
#define SL_DYNEXIT_EVAL_H

#include "experiments.h"

/* backend.options of the dynamic-exit experiments ("key=value,..."). */
typedef struct {
  long ternary_epochs;   /* 5: ternary fine-tuning after train.epochs in float */
  double ternary_lr;     /* 1e-3 (decaying as train.lr_decay) */
  double lambda;         /* 0.005: objective = accuracy - lambda * compute (fractions) */
  double max_loss;       /* -1 (< 0: unset); >= 0: instead the least compute at validation
                            accuracy >= the static network's - max_loss (a fraction) */
  double max_changed;    /* -1 (< 0: unset); >= 0: the least compute whose exits change at most
                            this fraction of the static network's validation answers (right
                            or wrong; takes precedence over max_loss) */
  long tpe_trials;       /* 150 */
  long grid_points;      /* 11 per threshold */
  long centre_samples;   /* 2000: training samples whose features make the centres */
  long calib_samples;    /* 256: training samples that set the DAC and ADC ranges */
  double read_sd;        /* 0.02: read noise of every crossbar and CAM */
  double prog_sd;        /* 0.02: write noise, a fraction of the conductance window */
  long prog_relative;    /* 0; 1: prog_sd relative to each device's target conductance */
  long chip_bn;          /* -1: the family's default; 1: re-estimate the folded BNs from the
                            programmed chip's outputs (sl_resnet_deploy_params.chip_bn) */
  long max_pulses;       /* 10: write-verify pulses (1: open loop) */
  long adc_bits, dac_bits; /* 8, 8 */
  double exit_weight;    /* 0.5: weight of the exit heads in training */
  long ternary_prototypes; /* 0; 1: ternary training sees the exit prototypes as ternary
                              codes (more exits, less accuracy over seeds 1-3) */
  long centre;           /* 1: centres relative to the mean feature (semantic.h) */
  long augment;          /* 1: random shifts of up to 2 pixels in training */
  long seed;             /* 1: device and search seeds */
  sl_semantic_score exit_score; /* exit_score=cosine (the default) or margin: what an exit's
                                   threshold is compared with (semantic.h) */
  long exit_pool_max;    /* exit_pool=mean (0, the default) or max (1): how dynpointnet's
                            levels pool their centres into the semantic feature */
  long exit_centres;     /* 1: centres per class in each exit's CAM (k-means within the
                            class when > 1; semantic.h) */
  long exit_agree;       /* 0; 1: an exit after the first also needs the class of the exit
                            before it (dynexit.h, sl_dyn_policy) */
} dx_options;

/* A network family: its data and the calls the shared steps make. */
typedef struct {
  const char *items; /* "images", "clouds": for messages */
  int chip_bn;       /* the default of option chip_bn */
  const char *options; /* the family's own defaults of the options below, applied before
                          the user's backend.options (NULL: none) */
  /* the data set cfg names (*name), checked before the log exists; load it */
  int (*check)(const sl_config *cfg, const char *who, const char **name);
  int (*load)(const sl_config *cfg, const char *who, sl_dataset *train, sl_dataset *val,
              sl_dataset *test, const char **name);
  /* the default network for the data, with o's exit settings */
  int (*create)(void **net, const dx_options *o, const sl_dataset *train, uint64_t seed);
  void (*free)(void *net);
  float *(*params)(void *net);
  size_t (*num_params)(void *net);
  float *(*stats)(void *net);
  size_t (*num_stats)(void *net);
  int (*set_ternary)(void *net, int on);
  int (*train_epoch)(void *net, sl_optim *o, const float *x, const int32_t *y, size_t n,
                     size_t batch, uint64_t seed, double *loss, double *accuracy);
  int (*recalibrate)(void *net, const float *x, size_t n, size_t batch);
  int (*evaluate)(void *net, const float *x, const int32_t *y, size_t n, size_t batch,
                  double *accuracy);
  /* out = the training inputs d->x randomly transformed, seeded */
  void (*augment)(float *out, const sl_dataset *d, uint64_t seed);
  int (*deploy)(void **dep, void *net, const sl_resnet_deploy_params *p, const float *calib_x,
                size_t n_calib);
  int (*dyn)(void *dep, sl_dyn_net *out);
  void (*deployed_free)(void *dep);
} dx_arch;

extern const dx_arch dx_resnet_arch, dx_pointnet_arch;

/* The experiments' check step: the options, data.n_val >= 1, and a's data
 * set (*name receives the one chosen). */
int dx_check(const sl_config *cfg, const dx_arch *a, const char *who, const char **name);

/* What the experiments start with: options, the data (a line naming it),
 * the default network trained train.epochs in float (fp) and a copy
 * fine-tuned ternary_epochs with ternary weights (tern), with progress
 * lines under `who`. On error everything is freed. */
typedef struct {
  const dx_arch *arch;
  dx_options o;
  const char *dataset;
  sl_dataset train, val, test;
  void *fp, *tern;
} dx_setup;

/* Load the data and train fp (float) and tern (its ternary fine-tuning).
 * With a log, every epoch appends a /metrics row (loss, train and
 * validation accuracy; epochs counted across both phases) and a checkpoint
 * (dynexit_ckpt.c); after exp_set_resume(path), training restores path's
 * checkpoint and runs only the epochs after it. */
int dx_prepare(const sl_config *cfg, const dx_arch *a, const char *who, sl_runlog *log,
               dx_setup *s);
void dx_setup_free(dx_setup *s);

/* dynexit_ckpt.c: the checkpoint after global epoch `epoch` (tern NULL in
 * the float phase), and the restoring of one network ("fp" or "tern") and
 * of the optimiser from a killed run's checkpoint. */
int dx_ckpt_save(sl_runlog *log, long epoch, const dx_arch *a, void *fp, void *tern,
                 const sl_optim *opt);
int dx_ckpt_restore_net(sl_runlog_reader *r, const dx_arch *a, const char *which, void *net);
int dx_ckpt_restore_optim(sl_runlog_reader *r, sl_optim *opt);

/* Results of one deployed network. */
typedef struct {
  size_t n_exits;
  double thresholds[SL_DYN_MAX_STAGES];      /* chosen by TPE */
  double grid_thresholds[SL_DYN_MAX_STAGES]; /* the grid's best */
  double val_acc_full, val_acc_tpe, val_compute_tpe, val_acc_grid, val_compute_grid;
  double acc_full, energy_full_j;            /* static network, test split */
  double acc_dynamic, compute, energy_dyn_j; /* dynamic, test split */
  /* the chosen thresholds scored on the static pass's own record of the
   * test split (its exits' answers and the head's): the accuracy the exits
   * cost without the second pass's read noise, and the fraction of the
   * head's answers they change */
  double acc_dynamic_paired, changed_paired;
  double exit_fraction[SL_DYN_MAX_STAGES];   /* per stage (last: the head) */
  double *pareto_acc, *pareto_compute;       /* validation, increasing compute */
  size_t n_pareto;
  /* per test sample of the dynamic pass: the stage that decided it and the
   * MACs it ran (stages, CAM searches of the exits it checked, the head if
   * it got there); full_macs: the static network's */
  int32_t *sample_stage;
  double *sample_macs;
  size_t n_samples;
  double full_macs;
} dx_result;

void dx_result_free(dx_result *r);

/* The /summary attributes of the dynamic-exit experiments (acc_full,
 * acc_dynamic, compute_reduction, exit_fraction, pareto_acc and _compute,
 * dataset, acc_dynamic_paired, changed_paired, thresholds,
 * grid_thresholds, acc_float, acc_ternary, energy_per_inference_j,
 * energy_full_j, val_acc_tpe, val_compute_tpe, val_acc_grid,
 * val_compute_grid), and their table on stdout (network: "ResNet",
 * "PointNet++"; stage: what a stage is called, "block", "level"). */
int dx_put_results(sl_runlog *log, const dx_result *r, double acc_float, double acc_ternary,
                   const char *dataset);
void dx_print_results(const dx_result *r, const char *network, const char *stage,
                      double acc_float, double acc_ternary, const char *dataset);

/* /metrics_nb of the dynamic test pass: per sample dyn.exit_stage,
 * dyn.macs_executed, dyn.macs_full (the static network's, every sample)
 * and dyn.compute_fraction (executed / full); the accuracy is the dynamic
 * one. The static NeuroBench figures of the ResNet / PointNet are not
 * counted here (NaN in the log). */
int dx_log_nb(const dx_result *r, sl_runlog *log);

/* Deploy net on crossbars (mapping; o's device, with continuous levels for
 * the full-precision mapping), build the semantic memory from the chip's
 * features of training images, search thresholds on the validation split
 * (grid, then TPE, one progress line per TPE trial if verbose), and run the
 * test split statically and dynamically. */
int dx_chip(void *net, sl_resnet_mapping mapping, const dx_options *o, const char *who,
            const dx_setup *s, int verbose, dx_result *r);


#endif
