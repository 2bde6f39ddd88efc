/* spikeloop/fromconfig.h -- building the pieces of a run from a
 * configuration (lib/train/fromconfig.c): the network (neurons, mismatch or
 * a digital twin, weights), the encoder, the data sets, the weight units and
 * the backend with its loop. */
#ifndef SPIKELOOP_FROMCONFIG_H
#define SPIKELOOP_FROMCONFIG_H

#include <stddef.h>

#include "spikeloop/backend.h"
#include "spikeloop/config.h"
#include "spikeloop/dataset.h"
#include "spikeloop/encode.h"
#include "spikeloop/loop.h"
#include "spikeloop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Network spec of cfg for n_in inputs and n_out classes. Errors:
 * SL_ENOTFOUND (unknown surrogate), SL_EINVAL. */
int sl_net_spec_from_config(const sl_config *cfg, size_t n_in, size_t n_out, sl_net_spec *spec);
/* Create the network, draw mismatch (mismatch.*), replace it by the twin
 * of neuron.twin if set (sl_net_apply_twin: the twin must describe exactly
 * the network's neurons) and initialise weights (train.init_scale,
 * train.seed). */
int sl_net_from_config(sl_net **out, const sl_config *cfg, size_t n_in, size_t n_out);
/* Encoder settings of cfg. */
int sl_encoder_from_config(const sl_config *cfg, sl_encoder *enc);
/* Generate the train / validation / test sets of cfg (data.*). Any of the
 * outputs may be NULL. */
int sl_data_from_config(const sl_config *cfg, sl_dataset *train, sl_dataset *val,
                        sl_dataset *test);

/* Weight units per layer (readout last) from loop.w_unit: "auto" or a
 * comma list; levels is the backend's weight_levels. */
int sl_w_unit_from_config(const sl_config *cfg, const sl_net *net, int levels, double *w_unit);

/* Open backend.name for net with backend.options, start recording to
 * backend.record if set, and create the loop. Both outputs are owned by
 * the caller (close the loop first). The backend is configured from the
 * nominal neuron targets of cfg (neuron.*, readout.*, mismatch.*) even when
 * neuron.twin gave net the chip's fitted parameters. */
int sl_hw_from_config(sl_hw **hw, sl_loop **loop, const sl_config *cfg, sl_net *net,
                      size_t max_steps, size_t max_batch);

#ifdef __cplusplus
}
#endif
#endif
