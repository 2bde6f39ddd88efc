/* train_internal.h (internal) -- helpers shared by the trainer and the
 * session: batch buffers, batch encoding and evaluation. sli_ names are not
 * exported from the shared library. */
#ifndef SL_TRAIN_INTERNAL_H
#define SL_TRAIN_INTERNAL_H

#include "spikeloop/train.h"
#include "spikeloop/nbmetrics.h"

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
/* Evaluate on d with the forward pass on the simulator (loop NULL) or a backend.
 * nb (may be NULL): count the NeuroBench metrics of every batch into it,
 * and with a loop the backend's columns hw.* (spikes, membrane_samples,
 * and reads, read_pulses, dac_conversions, adc_conversions if it counts them). */
int sli_evaluate(sl_net *net, sl_loop *loop, const sl_encoder *enc, const sl_dataset *d,
                 size_t batch, int loss_kind, sl_eval_result *res, sl_nb *nb);
size_t sli_hidden_neurons(const sl_net_spec *s);
double sli_hidden_spike_total(sl_net *net);
int sli_trainer_loss_kind(const sl_trainer *tr);
/* The trainer's optimiser (for checkpoints). */
struct sl_optim *sli_trainer_optim(sl_trainer *tr);
/* The network's master weights into the weights it uses: copied, or with a
 * loop quantised and written to the backend (sl_loop_sync_weights). */
int sli_sync_weights(sl_net *net, sl_loop *loop);

#endif
