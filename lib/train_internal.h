/* train_internal.h (internal) -- helpers shared by the trainer and the
 * session: batch buffers, batch encoding and evaluation. sli_ names are not
 * exported from the shared library. */
#ifndef SL_TRAIN_INTERNAL_H
#define SL_TRAIN_INTERNAL_H

#include "spikeloop/train.h"

typedef struct {
  float *xbuf, *raster;
  int32_t *labels;
  uint64_t *ids;
  size_t *idx;
} sli_batch;

/* Buffers for batches of `batch` samples of dim features, and an index of n_idx. */
int sli_batch_alloc(sli_batch *b, const sl_encoder *enc, size_t dim, size_t batch, size_t n_idx);
void sli_batch_free(sli_batch *b);
/* Encode samples idx[0..B) of d into raster (T,B,D) and labels. */
int sli_make_batch(const sl_encoder *enc, const sl_dataset *d, const size_t *idx, size_t B,
                   uint64_t seed, float *xbuf, float *raster, int32_t *labels, uint64_t *ids);
/* Evaluate on d with the forward pass on the simulator (loop NULL) or a backend. */
int sli_evaluate(sl_net *net, sl_loop *loop, const sl_encoder *enc, const sl_dataset *d,
                 size_t batch, int loss_kind, sl_eval_result *res);
size_t sli_hidden_neurons(const sl_net_spec *s);
double sli_hidden_spike_total(sl_net *net);
int sli_trainer_loss_kind(const sl_trainer *tr);
/* One data-parallel step: this rank's slice x, y of B samples of a global
 * batch of B_global over all ranks (spikeloop/dist.h). The gradients (means
 * over each slice) are weighted by B / B_global and summed over the ranks,
 * so every rank applies the update of the whole global batch; stats are
 * those of the global batch. With one rank the same as sl_trainer_step. */
int sli_trainer_step_dist(sl_trainer *tr, const float *x, const int32_t *y, size_t T, size_t B,
                          size_t B_global, sl_batch_stats *stats);

#endif
