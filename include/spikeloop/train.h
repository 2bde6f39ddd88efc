/* spikeloop/train.h -- training and evaluation driven by a configuration.
 *
 * Layers of use, from the bottom:
 *   sl_net_from_config      build the network (spikeloop/fromconfig.h)
 *   sl_trainer_step         one batch: forward, loss, backward, update
 *   sl_evaluate             accuracy / loss / activity on a data set
 * (whole runs: spikeloop/session.h)
 */
#ifndef SPIKELOOP_TRAIN_H
#define SPIKELOOP_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/config.h"
#include "spikeloop/backend.h"
#include "spikeloop/dataset.h"
#include "spikeloop/encode.h"
#include "spikeloop/loop.h"
#include "spikeloop/net.h"
#include "spikeloop/runlog.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double loss;          /* mean loss of the batch (incl. regularisers) */
  size_t correct, n;    /* correctly classified samples of n */
  double hidden_spikes; /* total hidden spikes in the batch */
} sl_batch_stats;

typedef struct sl_trainer sl_trainer;

/* A trainer updates `net` (not owned) with the optimiser, loss and
 * regularisers of cfg: its steps update the network's master weights
 * (sl_net_master), which start as its current weights, and sync them into
 * the weights it uses. It switches off keeping the synaptic currents
 * (sl_net_keep_currents), which its steps do not need. */
int sl_trainer_create(sl_trainer **out, sl_net *net, const sl_config *cfg);
void sl_trainer_free(sl_trainer *tr);
/* One training step on x (T, B, n_in) with labels y (B). */
int sl_trainer_step(sl_trainer *tr, const float *x, const int32_t *y, size_t T, size_t B,
                    sl_batch_stats *stats);
/* Data-parallel training (spikeloop/dist.h): from now on every step's x, y
 * is this rank's slice of a global batch of B_global samples over all MPI
 * ranks. The gradients (means over each slice) are weighted by
 * B / B_global and summed over the ranks, so every rank applies the update
 * of the whole global batch; the step's stats are the global batch's.
 * 0 (the default) or a single rank: plain steps. Errors: SL_EINVAL. */
int sl_trainer_set_global_batch(sl_trainer *tr, size_t B_global);

/* The same step on an event list x (T, B, n_in) (spikeloop/net.h), e.g. a
 * batch listed once and used for many steps; bit-identical to
 * sl_trainer_step on the dense raster. Not for in-the-loop trainers (the
 * backend is driven by the dense raster): SL_EINVAL. */
int sl_trainer_step_spikes(sl_trainer *tr, const sl_spikes *x, const int32_t *y,
                           sl_batch_stats *stats);
/* Train in the loop: forward passes run through loop (whose network must be
 * the trainer's); after every step the network's master weights are
 * quantised and written to the backend (sl_loop_sync_weights).
 * NULL returns to plain simulation (the master weights, unquantised, are
 * then the network's weights from the next step on). */
int sl_trainer_set_loop(sl_trainer *tr, sl_loop *loop);
/* Learning-rate schedule for the coming epoch (0-based). */
void sl_trainer_set_epoch(sl_trainer *tr, size_t epoch);

typedef struct {
  double accuracy, loss;
  double hidden_rate; /* hidden spikes per neuron per sample */
} sl_eval_result;

/* Evaluate on all of d in batches. Errors: SL_ESHAPE (data dim does not
 * match the network input), errors of forward and loss. */
int sl_evaluate(sl_net *net, const sl_encoder *enc, const sl_dataset *d, size_t batch,
                int loss_kind, sl_eval_result *res);

/* The same with the forward pass on the loop's backend. */
int sl_evaluate_loop(sl_loop *loop, const sl_encoder *enc, const sl_dataset *d, size_t batch,
                     int loss_kind, sl_eval_result *res);

#ifdef __cplusplus
}
#endif
#endif
