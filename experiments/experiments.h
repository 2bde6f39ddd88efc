/* experiments.h -- the experiments the command-line tool can run
 * (`spikeloop experiment NAME`): each reproduces a published result with
 * the library's public API and writes an HDF5 run log whose /summary holds
 * the headline figures. */
#ifndef SL_EXPERIMENTS_H
#define SL_EXPERIMENTS_H

#include "spikeloop/spikeloop.h"

typedef struct {
  const char *name;
  const char *description;     /* one line */
  const char *const *defaults; /* "key=value" over the library defaults, before --set */
  /* Run with cfg (defaults + --set) and the open log; stage summary
   * attributes and call sl_runlog_finish. Print progress and a final table. */
  int (*run)(const sl_config *cfg, sl_runlog *log);
  /* Check cfg's experiment-specific settings (options, data set) before
   * the log is created, so that refused input leaves no file; NULL: none. */
  int (*check)(const sl_config *cfg);
  /* 1: a multi-phase experiment (phase_ckpt.c): its log has no /metrics
   * rows, and --resume needs no epoch checkpoint (stored phases suffice;
   * with none, the run starts over). */
  int phased;
} experiment;

extern const experiment exp_yinyang_loop, exp_mismatch_sweep, exp_fashion16_loop, exp_shd_loop;
extern const experiment exp_mcnn_hybrid;
extern const experiment exp_twin_loop, exp_memristor_twin;
extern const experiment exp_dynresnet, exp_ternary_noise, exp_dynpointnet;

/* One key of a "key=value,..." options string (backend.options) as a
 * number in [lo, hi] (or an integer, for _long); absent keys leave *v.
 * Errors: SL_EINVAL "<who>: option <key> = '<text>' must be ...". */
int exp_option(const char *opts, const char *who, const char *key, double *v, double lo,
               double hi);
int exp_option_long(const char *opts, const char *who, const char *key, long *v, long lo, long hi);
/* A word option: *v = the index of its value in the NULL-terminated words;
 * absent: *v unchanged; another value: SL_EINVAL "who: key = 'value' (a or
 * b)". */
int exp_option_word(const char *opts, const char *who, const char *key,
                    const char *const *words, long *v);

/* Progress line of one epoch; user is a label (const char *). */
void exp_progress(const sl_epoch_metrics *m, void *user);

/* A session from cfg, after a line naming `label`, the backend and the
 * epochs (what every training of an experiment prints first). */
int exp_session_new(const sl_config *cfg, const char *label, sl_session **out);

/* Create a session from cfg and train it cfg->epochs epochs, printing
 * progress under `label`; metrics go to log if not NULL. The caller frees
 * *out. */
int exp_train(const sl_config *cfg, const char *label, sl_runlog *log, sl_session **out,
              sl_run_result *res);

/* Train s `epochs` epochs as sl_session_train does; with a log, the
 * session checkpoints into it after every epoch, and after
 * exp_set_resume(path) the first logged session restores the checkpoint of
 * path (the killed run's log, reopened as log) and trains only the epochs
 * left of `epochs`. Experiments resume this way (experiment --resume):
 * every phase without log is run again (seeded: the same result), the
 * logged one continues. One logged session per experiment. */
int exp_session_train(sl_session *s, long epochs, sl_runlog *log, sl_progress_fn progress,
                      void *user, sl_run_result *res);
void exp_set_resume(const char *log_path);
/* The log given to exp_set_resume (NULL: not resuming), for experiments
 * that checkpoint their own training (dynexit_ckpt.c). */
const char *exp_resume_path(void);

/* ------------------------------------------------------------ phases
 * Multi-phase experiments (phase_ckpt.c): a phase's results are staged
 * with sl_runlog_phase_begin and sl_runlog_ckpt_put_*, stored with
 * sl_runlog_phase_commit(log, name). When resuming, exp_phase_find gives a
 * reader on the stored results of phase `name` in *done (close it with
 * sl_runlog_reader_close), or *done NULL: run the phase. exp_phase_reset
 * before a run (the CLI's resume). */
void exp_phase_reset(void);
int exp_phase_find(const char *name, sl_runlog_reader **done);
/* The first call of a resumed run: *ckpt a reader on the log's epoch
 * checkpoint (close it), the training in progress at the kill, or NULL if
 * there is none; later calls and runs not resumed: NULL. For phases that
 * train without a session (exp_phase_train uses it). */
int exp_phase_resume_ckpt(sl_runlog_reader **ckpt);
/* A session's network (master and params) into the staged phase / back
 * from a stored one (the session built from the same configuration). */
int exp_phase_put_net(sl_runlog *log, sl_session *s);
int exp_phase_get_net(sl_runlog_reader *r, sl_session *s);
/* Train s `epochs` epochs with progress under `label`, checkpointing into
 * log after every epoch (no /metrics rows); the first call of a resumed run
 * restores the log's epoch checkpoint (the phase in progress at the kill)
 * and trains only the epochs left. */
int exp_phase_train(sl_session *s, long epochs, sl_runlog *log, const char *label,
                    sl_run_result *res);
/* exp_train with exp_phase_train: a new session from cfg, cfg->epochs. */
int exp_phase_train_new(const sl_config *cfg, const char *label, sl_runlog *log, sl_session **out,
                        sl_run_result *res);
/* A phase whose results are n doubles ("result"): *done 1 and v read back
 * if phase `name` is stored, else *done 0; store them when it ends. */
int exp_phase_result(const char *name, double *v, size_t n, int *done);
int exp_phase_store_result(sl_runlog *log, const char *name, const double *v, size_t n);
/* Phase `name`: a session trained from cfg (exp_phase_train_new, progress
 * under `label`); stored: its network and res = {test accuracy, seconds,
 * epochs}. A resumed run with the phase stored builds the session from cfg
 * and reads both back. */
int exp_phase_session(const sl_config *cfg, const char *name, const char *label, sl_runlog *log,
                      sl_session **out, double res[3]);

/* Weight units that map each layer's largest |w| of net to the largest
 * hardware weight w_max, as loop.w_unit text ("u0,u1,..."): the deployment
 * of Cramer et al., so that no trained weight is clipped (twin_loop on bss2,
 * memristor_twin on the crossbar's levels). Errors name `who`: SL_EINVAL
 * for a layer of only zero weights or a text longer than len. */
int exp_deploy_units(sl_net *net, double w_max, const char *who, char *out, size_t len);

/* Test accuracy of the weights of `net` deployed on the backend of cfg
 * (no training there). */
int exp_deploy(const sl_config *cfg, sl_net *net, double *accuracy);

/* cfg with the forward pass in plain simulation (backend ideal, no options,
 * no recording). */
sl_config exp_simulation(const sl_config *cfg);

/* The comparison most experiments make: (a) trained in plain simulation,
 * optionally (b) those weights deployed on cfg's backend, and the run
 * trained in the loop on it (logged to log, whose network it stores). Each
 * run has a progress label and a row label in the printed table; /summary
 * gets acc_<sim>, acc_deployed (with a deploy step), acc_loop,
 * seconds_<sim>, seconds_loop. */
typedef struct {
  const char *title;                  /* the table's heading */
  const char *sim;                    /* summary name of (a): "ideal", "software" */
  const char *sim_label, *sim_row;    /* (a) */
  const char *dep_label, *dep_row;    /* the deployed weights of (a); NULL: no such step */
  const char *loop_label, *loop_row;  /* in the loop */
} exp_compare;

int exp_compare_run(const sl_config *cfg, sl_runlog *log, const exp_compare *x);

#endif
