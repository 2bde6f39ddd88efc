/* dynexit_eval.h -- what the dynamic-exit experiments (dynresnet,
 * ternary_noise; later PointNet++) share: their options, loading 28x28
 * images, training a ResNet in float then ternary, and the evaluation of a
 * deployed staged network -- semantic centres, threshold search on the
 * validation split (grid and TPE), the Pareto front, and static and
 * dynamic inference on the test split with compute and energy.
 */
#ifndef SL_DYNEXIT_EVAL_H
#define SL_DYNEXIT_EVAL_H

#include "experiments.h"

/* backend.options of the dynamic-exit experiments ("key=value,..."). */
typedef struct {
  long ternary_epochs;   /* 3: ternary fine-tuning after train.epochs in float */
  double ternary_lr;     /* 5e-4 */
  double lambda;         /* 0.005: objective = accuracy - lambda * compute (fractions) */
  long tpe_trials;       /* 150 */
  long grid_points;      /* 11 per threshold */
  long centre_samples;   /* 2000: training samples whose features make the centres */
  long calib_samples;    /* 256: training samples that set the DAC and ADC ranges */
  double read_sd;        /* 0.02: read noise of every crossbar and CAM */
  double prog_sd;        /* 0.02: write noise (fraction of the conductance window) */
  long max_pulses;       /* 10: write-verify pulses (1: open loop) */
  long adc_bits, dac_bits; /* 8, 8 */
  double exit_weight;    /* 0.5: weight of the exit heads in training */
  long centre;           /* 1: centres relative to the mean feature (semantic.h) */
  long augment;          /* 1: random shifts of up to 2 pixels in training */
  long seed;             /* 1: device and search seeds */
} dx_options;

/* Parse opts over the defaults; who names the experiment in messages.
 * Unknown keys are refused (SL_EINVAL listing the known ones). */
int dx_options_parse(const char *opts, const char *who, dx_options *o);

/* The data set cfg names for a dynamic-exit experiment (see below), or
 * SL_EINVAL; also checks data.n_val >= 1 and the options. The experiments'
 * check step. */
int dx_check(const sl_config *cfg, const char *who, const char **name);

/* Train, validation and test images (28 x 28) as cfg says: data.dataset
 * mnist or fashion; "yinyang" (the default, meaningless here) picks mnist
 * when $SPIKELOOP_MNIST_DIR holds the files, else fashion. *name receives
 * the data set's name. */
int dx_load_images(const sl_config *cfg, const char *who, sl_dataset *train, sl_dataset *val,
                   sl_dataset *test, const char **name);

/* The default ResNet trained train.epochs in float (*fp), then a copy
 * fine-tuned ternary_epochs with ternary weights (*tern); progress lines
 * under `who`. */
int dx_train_resnets(const sl_config *cfg, const dx_options *o, const char *who,
                     const sl_dataset *train, const sl_dataset *val, sl_resnet **fp,
                     sl_resnet **tern);

/* The device model of o: every crossbar and the CAMs. */
sl_cim_params dx_device(const dx_options *o);

/* Results of one deployed network. */
typedef struct {
  size_t n_exits;
  double thresholds[SL_DYN_MAX_STAGES];      /* chosen by TPE */
  double grid_thresholds[SL_DYN_MAX_STAGES]; /* the grid's best */
  double val_acc_full, val_acc_tpe, val_compute_tpe, val_acc_grid, val_compute_grid;
  double acc_full, energy_full_j;            /* static network, test split */
  double acc_dynamic, compute, energy_dyn_j; /* dynamic, test split */
  double exit_fraction[SL_DYN_MAX_STAGES];   /* per stage (last: the head) */
  double *pareto_acc, *pareto_compute;       /* validation, increasing compute */
  size_t n_pareto;
} dx_result;

void dx_result_free(dx_result *r);

/* Build the semantic memory from the training features of the deployed
 * network, search thresholds on the validation split (grid, then TPE, one
 * progress line per TPE trial if verbose), run the test split statically
 * and dynamically. */
int dx_evaluate(const sl_dyn_net *net, const dx_options *o, const char *who,
                const sl_dataset *train, const sl_dataset *val, const sl_dataset *test,
                int verbose, dx_result *r);

#endif
