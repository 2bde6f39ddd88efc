/* spikeloop/loop.h -- training in the loop: the forward pass runs on a
 * backend, its measurements are injected into the host model.
 *
 * The optimiser updates the network's float master weights
 * (sl_net_master); sl_loop_sync_weights quantises them to the backend's
 * weight resolution, writes them, and sets the host model's weights
 * (sl_net_params) to the quantised values, so that backward differentiates
 * the weights the hardware actually used. sl_loop_forward runs a batch on the backend and
 * converts the observations into the model's (T, B, N) states:
 *   - a spike at hardware time tau belongs to the model step t with
 *     t dt_hw < tau <= (t+1) dt_hw (dt_hw = dt * caps.time_scale); S[t] is
 *     the number of spikes in the step (a chip may fire more than once),
 *     so the next layer's drive is what the hardware delivered;
 *   - the membrane of step t is the sample at (t+1) dt_hw (linear
 *     interpolation between samples), normalised as
 *     v = v_leak + (sample - first sample) / caps.membrane_gain
 *     (caps.membrane_gain_readout for the readout, if set)
 *     (the first sample, at t = 0, is the resting potential: Cramer et al.
 *     subtract it so that leak = 0 and threshold ~ 1);
 *   - at a step with a measured spike, a hidden neuron's membrane is raised
 *     to at least v_th: a sample after the spike shows the reset, not the
 *     crossing, and the surrogate must see the spike where it happened.
 */
#ifndef SPIKELOOP_LOOP_H
#define SPIKELOOP_LOOP_H

#include <stddef.h>

#include "spikeloop/backend.h"
#include "spikeloop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default weight unit of layer l: the model weight of one hardware unit such
 * that +-levels units span +-4 standard deviations of the initial weights
 * (sd = init_scale / sqrt(fan_in)). levels == 0 (a float backend): 1. */
double sl_loop_default_w_unit(const sl_net *net, size_t layer, double init_scale, int levels);

/* Describe net for a backend: sizes, dt, per-neuron targets, reset
 * convention, w_unit per layer (NULL: all 1), options. The setup points into
 * net, which must outlive the backend instance. */
int sl_loop_setup(const sl_net *net, const double *w_unit, const char *options,
                  size_t max_steps, size_t max_batch, sl_backend_setup *setup);

typedef struct sl_loop sl_loop;

/* A loop over net (not owned) and hw (not owned). net's current weights
 * become its master weights, which are then synced to the hardware.
 * Errors: SL_ESHAPE (hw was opened for another network), SL_ENOMEM, errors
 * of the first weight write. */
int sl_loop_create(sl_loop **out, sl_net *net, sl_hw *hw);
void sl_loop_free(sl_loop *loop);

sl_net *sl_loop_net(sl_loop *loop);
sl_hw *sl_loop_hw(sl_loop *loop);
/* Quantise the network's master weights (sl_net_master), write them to the
 * backend, and set the model's weights to the quantised values. Returns how many weights were clipped to
 * the largest level in *clipped (may be NULL). */
int sl_loop_sync_weights(sl_loop *loop, size_t *clipped);

/* Forward on the backend; afterwards the model's states (and
 * sl_net_output) are the measured ones, ready for loss and backward.
 * Errors: SL_ESHAPE, SL_EFORMAT (observations out of range), backend errors. */
int sl_loop_forward(sl_loop *loop, const float *x, size_t T, size_t B);

/* Observations of the last forward. */
const sl_observations *sl_loop_observations(const sl_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
