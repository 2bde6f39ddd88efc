/* spikeloop/session.h -- a whole run from a configuration.
 *
 * A session holds everything a run needs: the train / validation / test
 * sets, the encoder, the network (mismatch and initial weights drawn), the
 * trainer, and - when backend.name is not "ideal" - the backend instance
 * and the loop that trains through it. Experiments combine sessions (train
 * in simulation, deploy on a chip, train in the loop); sl_run_train is one
 * session with an HDF5 run log.
 */
#ifndef SPIKELOOP_SESSION_H
#define SPIKELOOP_SESSION_H

#include <stddef.h>

#include "spikeloop/config.h"
#include "spikeloop/nbmetrics.h"
#include "spikeloop/runlog.h"
#include "spikeloop/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_session sl_session;

enum { SL_SET_TRAIN = 0, SL_SET_VAL = 1, SL_SET_TEST = 2 };

typedef struct {
  double test_accuracy, val_accuracy, train_accuracy, seconds;
  long epochs;
} sl_run_result;

/* Called after every epoch (may be NULL). */
typedef void (*sl_progress_fn)(const sl_epoch_metrics *m, void *user);

/* Build a session from cfg (validated first). Errors of the pieces. */
int sl_session_create(sl_session **out, const sl_config *cfg);
void sl_session_free(sl_session *s); /* NULL is a no-op */

const sl_config *sl_session_config(const sl_session *s);
sl_net *sl_session_net(sl_session *s);
/* The loop if the session runs on a backend, else NULL. */
sl_loop *sl_session_loop(sl_session *s);
/* Epochs trained so far. */
long sl_session_epochs(const sl_session *s);

/* Train `epochs` more epochs (continuing the learning-rate schedule and the
 * shuffling sequence), evaluating the test and validation sets after each;
 * append metrics to log if not NULL; call progress after each epoch.
 * epochs == 0 evaluates instead, except right after sl_session_restore,
 * when res gets the checkpoint's accuracies (the run had ended). */
int sl_session_train(sl_session *s, long epochs, sl_runlog *log, sl_progress_fn progress,
                     void *user, sl_run_result *res);

/* Evaluate the current weights on SL_SET_* through the session's forward
 * path (the backend if there is one). */
int sl_session_evaluate(sl_session *s, int which, sl_eval_result *res);

/* Evaluate SL_SET_* as sl_session_evaluate does and count the NeuroBench
 * metrics of every sample (spikeloop/nbmetrics.h) into a new *out (free
 * with sl_nb_free): the core columns, and on a backend the hardware's
 * (hw.spikes, hw.membrane_samples; hw.reads, hw.read_pulses,
 * hw.dac_conversions, hw.adc_conversions if it counts them; static hw.stuck_on_devices,
 * hw.stuck_off_devices). st: the static metrics of the weights in use;
 * res: accuracy and loss as sl_session_evaluate. */
int sl_session_nb_metrics(sl_session *s, int which, sl_nb **out, sl_nb_static *st,
                          sl_eval_result *res);

/* sl_session_nb_metrics on the test set, staged in log under /metrics_nb
 * with the test accuracy of that pass (sl_run_train and the experiments
 * call it beside sl_session_log_network). */
int sl_session_log_nb_metrics(sl_session *s, sl_runlog *log);

/* Take the weights of src (same architecture) as the network's master
 * weights and sync them (through the loop to the hardware if the session
 * has a backend). Errors: SL_ESHAPE, errors of the sync. */
int sl_session_set_weights(sl_session *s, sl_net *src);

/* Stage the network's weights (/params) and per-neuron parameters
 * (/mismatch) into log. */
int sl_session_log_network(sl_session *s, sl_runlog *log);

/* Train as cfg says; log to log_path if not NULL (the log is created before
 * training starts, so an unwritable path fails at once). */
int sl_run_train(const sl_config *cfg, const char *log_path, const sl_run_meta *meta,
                 sl_progress_fn progress, void *user, sl_run_result *res);

/* ------------------------------------------------------------ checkpoints
 *
 * A session's checkpoint (in its run log, spikeloop/runlog.h) holds what
 * the rest of the run depends on:
 *   counts  epoch (epochs trained), n_params, optim_step (optimiser steps),
 *           backend_exact (1: the backend's state is saved, or there is no
 *           backend)
 *   float32 master (the float master / shadow weights the optimiser steps),
 *           params (the weights the network uses: in the loop, the
 *           quantised master weights), optim_m, optim_v (Adam's moments;
 *           SGD: optim_m only)
 *   float64 result (train, validation, test accuracy of the last epoch and
 *           the training seconds so far), pulses (per epoch, if counted)
 *   uint8   backend_state (the backend's, sl_hw_save_state; absent if the
 *           backend cannot save it)
 * Shuffling and rate-coding noise are seeded from train.seed and the epoch,
 * so they need no state. */

/* Write the checkpoint of the session as it is now into log (staged and
 * committed: sl_runlog_ckpt_*). Errors: SL_EINVAL, SL_ENOMEM, errors of the
 * run log and of sl_hw_save_state (SL_EUNSUPPORTED is not one: the
 * checkpoint then has backend_exact = 0). */
int sl_session_checkpoint(sl_session *s, sl_runlog *log);
/* on != 0: sl_session_train with a log writes a checkpoint after every
 * epoch (sl_run_train and sl_run_resume switch it on). */
void sl_session_set_checkpointing(sl_session *s, int on);
/* on == 0: sl_session_train with a log appends no /metrics rows (it only
 * checkpoints, if checkpointing is on): a training that is one phase of a
 * multi-phase run, not "the" run of the log. Default on. */
void sl_session_set_log_metrics(sl_session *s, int on);
/* Restore the valid checkpoint of r into s, a session built from the same
 * configuration: weights (synced to the backend), optimiser, backend state,
 * epoch count, pulses. The next sl_session_train continues as the saved
 * session would have. Errors: SL_EFORMAT (no checkpoint, one of another
 * network: its message names what differs), SL_EUNSUPPORTED (a saved
 * backend state the backend cannot load), errors of the pieces. */
int sl_session_restore(sl_session *s, sl_runlog_reader *r);

/* Continue a killed sl_run_train (spikeloop train) from the last checkpoint
 * of its log: the configuration comes from the log's /config; if expect is
 * not NULL it must equal it key by key (SL_EINVAL naming the first key that
 * differs). Trains the remaining epochs, appending to /metrics from the
 * checkpoint's epoch on, and finishes the log as sl_run_train does. On the
 * ideal backend the final weights, metrics (but seconds) and summary are
 * bit-identical to an uninterrupted run's. res->epochs counts all epochs,
 * res->seconds all training seconds. Errors: SL_EFORMAT (no checkpoint, a
 * finished run, a truncated log), SL_EIO, errors of the session. */
int sl_run_resume(const char *log_path, const sl_config *expect, sl_progress_fn progress,
                  void *user, sl_run_result *res);

/* Rebuild the final model of a complete run log and evaluate it on the
 * test set of its config, in simulation. Errors: SL_EIO, SL_EFORMAT. */
int sl_run_eval(const char *log_path, sl_eval_result *res);

/* Rebuild the final network of a complete run log: *cfg is its
 * configuration (defaults + /config; neuron.twin and train.init cleared),
 * *out its network (weights and per-neuron parameters; free it). Builds the
 * config's test set to know the network's shape. Errors as sl_run_eval. */
int sl_run_load_net(const char *log_path, sl_config *cfg, sl_net **out);

/* Write a complete run log for a network that was not trained here (e.g.
 * imported from NIR): cfg's data and net.hidden must give net's shape
 * (else SL_ESHAPE); the forward pass is set to plain simulation; the
 * network is evaluated on cfg's test set (res, may be NULL) and stored as a
 * finished run stores it (/params, /mismatch, /summary with 0 epochs), so
 * `eval` and `train --init` accept the log. Errors of the pieces. */
int sl_run_save_net(const sl_config *cfg, sl_net *net, const char *log_path,
                    const sl_run_meta *meta, sl_eval_result *res);
/* Rebuild the run of a complete log as a session -- on its backend, if it
 * ran on one (an emulated chip is rebuilt from its seeds; the recording is
 * not written again) -- with the log's final weights and neurons, and count
 * the NeuroBench metrics of its test set (sl_session_nb_metrics). Errors of
 * sl_run_eval and of the session. */
int sl_run_eval_metrics(const char *log_path, sl_eval_result *res, sl_nb **out,
                        sl_nb_static *st);

#ifdef __cplusplus
}
#endif
#endif
