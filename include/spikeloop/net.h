/* spikeloop/net.h -- a feed-forward / recurrent spiking network.
 *
 * input (n_in) -> hidden LIF layer 0 -> ... -> hidden LIF layer L-1
 *              -> non-spiking LI readout (n_out)
 *
 * Layers are named "hidden0", "hidden1", ..., and "readout". Each layer has
 * a weight tensor "w_in" (N_pre, N) and, if recurrent, "w_rec" (N, N).
 * All weights live in one contiguous parameter block (and gradients in a
 * second block of the same layout), so optimisers are one flat loop. A
 * third block of that layout, the float master copy, is what training
 * updates; the parameter block holds the weights in use (in the loop, the
 * master quantised to the backend's resolution).
 * Neuron parameters are per-neuron arrays (sl_neurons) per layer.
 *
 * sl_net_forward keeps, per layer, the states backward needs, each (T, B, N):
 * drive h, synaptic current i_syn, membrane v, spikes s, refractory clamp.
 * Backward adds into the gradient block; sl_net_zero_grad clears it.
 */
#ifndef SPIKELOOP_NET_H
#define SPIKELOOP_NET_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/lif.h"
#include "spikeloop/neurons.h"
#include "spikeloop/events.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_MAX_LAYERS 8

typedef struct {
  size_t n_in, n_out;
  size_t n_layers;                 /* hidden layers, 1 .. SL_MAX_LAYERS */
  size_t n_hidden[SL_MAX_LAYERS];
  int recurrent[SL_MAX_LAYERS];
  double dt;                       /* s */
  sl_neuron_nominal hidden;        /* nominal hidden neuron */
  sl_neuron_nominal readout;       /* nominal readout neuron (v_th, v_reset, refrac unused) */
  sl_lif_options lif;              /* reset, surrogate, ... */
  int readout_scale_input;
} sl_net_spec;

/* 5-120-3 Yin-Yang network with default neurons and options. */
sl_net_spec sl_net_spec_default(void);

typedef struct sl_net sl_net;

/* Errors: SL_EINVAL (sizes, dt, options), SL_ENOMEM. */
int sl_net_create(sl_net **out, const sl_net_spec *spec);
void sl_net_free(sl_net *net); /* NULL is a no-op */
const sl_net_spec *sl_net_get_spec(const sl_net *net);

/* Neuron parameters of layer l (0 .. n_layers-1 hidden, n_layers readout);
 * the caller may edit them (mismatch, twin). NULL if l is out of range. */
sl_neurons *sl_net_neurons(sl_net *net, size_t layer);
/* "hidden<l>" or "readout"; NULL if out of range. */
const char *sl_net_layer_name(const sl_net *net, size_t layer);

/* Weights ~ N(0, (scale / sqrt(fan_in))^2) from `seed` (GSL mt19937). */
int sl_net_init_weights(sl_net *net, double scale, uint64_t seed);

/* A named weight tensor. */
typedef struct {
  const char *layer; /* "hidden0", ..., "readout" */
  const char *name;  /* "w_in" or "w_rec" */
  size_t layer_index;
  size_t rows, cols;
  float *data;       /* view into the parameter block */
  float *grad;       /* view into the gradient block */
} sl_tensor;

size_t sl_net_num_tensors(const sl_net *net);
int sl_net_tensor(sl_net *net, size_t i, sl_tensor *out);          /* SL_EINVAL if out of range */
int sl_net_find_tensor(sl_net *net, const char *layer, const char *name,
                       sl_tensor *out);                             /* SL_ENOTFOUND */
size_t sl_net_num_params(const sl_net *net);
/* The weights forward and backward use (the tensors' data views). */
float *sl_net_params(sl_net *net);
float *sl_net_grads(sl_net *net);
/* The float master weights, same layout: what a trainer's optimiser steps.
 * sl_net_init_weights sets them equal to the weights; a trainer
 * (spikeloop/train.h) or a loop (spikeloop/loop.h) takes the current
 * weights as its start, then after every step syncs the master to the
 * weights: copied, or in the loop quantised and written to the backend. */
float *sl_net_master(sl_net *net);
void sl_net_zero_grad(sl_net *net);

/* Check parameters and neurons: all finite, neurons valid for dt.
 * Errors: SL_ENUMERIC, SL_EINVAL (message names tensor/parameter). */
int sl_net_check(const sl_net *net);

/* Forward over x (T, B, n_in). Buffers grow as needed. Errors: SL_EINVAL
 * (T or B zero), SL_ENUMERIC (non-finite input), SL_ENOMEM. */
int sl_net_forward(sl_net *net, const float *x, size_t T, size_t B);

/* Forward over an event list x (T, B, n_in) -- an input used for many
 * steps is then listed once instead of scanned every step. The numbers
 * are those of sl_net_forward on the same raster, bit for bit. x must stay
 * alive (and unchanged) until sl_net_backward of this pass has run.
 * Errors: SL_EINVAL, SL_ESHAPE (x's n is not n_in), SL_ENOMEM. */
int sl_net_forward_spikes(sl_net *net, const sl_spikes *x);

/* In-the-loop forward: the states are the measured ones. v_meas[l]
 * (T,B,N_l) is the measured membrane of layer l = 0 .. n_layers (the
 * readout last), in model units; s_meas[l] (T,B,N_l) the measured spike
 * counts of hidden layer l per step. Drives and synaptic currents are computed by the model
 * from x and the measured spikes of the layer below (unmeasured state comes
 * from the model); V and S are the measured values; nothing is clamped or
 * reset by the model (the measured trace already contains the resets).
 * sl_net_backward then evaluates the surrogate at the measured membrane.
 * Errors: SL_EINVAL, SL_ENUMERIC (non-finite measurement), SL_ENOMEM. */
int sl_net_forward_injected(sl_net *net, const float *x, size_t T, size_t B,
                            const float *const *v_meas, const float *const *s_meas);

/* States of layer l from the last forward (views, valid until the next
 * forward with larger T*B). Readout has s = clamp = NULL. */
typedef struct {
  size_t T, B, N;
  float *h, *i_syn, *v, *s;
  uint8_t *clamp;
} sl_layer_state;
int sl_net_state(sl_net *net, size_t layer, sl_layer_state *out);

/* Whether the forward stores h and i_syn of the hidden layers (on by
 * default). Backward does not need them unless tau gradients are on, so a
 * trainer switches this off: 8 bytes less per neuron and step to write.
 * Off, sl_net_state gives h = i_syn = NULL for hidden layers after a
 * forward that did not keep them (with tau gradients, reference kernels or
 * smooth spikes they are kept anyway). */
void sl_net_keep_currents(sl_net *net, int on);

/* Number of spikes (the sum of S) of hidden layer l in the last forward.
 * Errors: SL_EINVAL (no such layer, or no forward yet). */
int sl_net_spike_count(const sl_net *net, size_t layer, double *count);

/* Bytes the network holds for training: the states of every layer that
 * the last forward wrote, backward's scratch and the event lists, at the
 * size of the largest forward so far (T B). Divide by B for bytes per
 * sample. */
size_t sl_net_state_bytes(const sl_net *net);

/* Readout membrane (T, B, n_out) of the last forward. */
const float *sl_net_output(const sl_net *net);

/* Backward of the last forward. gv_out (T,B,n_out): dL/dV of the readout.
 * gs_extra[l] (T,B,N_l): extra dL/dS of hidden layer l (regularisers), or
 * gs_extra == NULL / gs_extra[l] == NULL for none. Adds weight gradients
 * into the gradient block; if tau gradients are enabled
 * (sl_net_enable_tau_grad), adds dL/dtau_mem and dL/dtau_syn per neuron. */
int sl_net_backward(sl_net *net, const float *gv_out, const float *const *gs_extra);

/* Per-neuron tau gradients (optional; off by default). */
int sl_net_enable_tau_grad(sl_net *net, int on);
/* Views of layer l's dL/dtau_mem and dL/dtau_syn (N); NULL if disabled. */
int sl_net_tau_grad(sl_net *net, size_t layer, float **dtau_mem, float **dtau_syn);

/* Inference: the forward pass without the states backward needs. Each
 * sample keeps only its current state (a few rows of N) while it runs
 * through time, so memory does not grow with T and long simulations stay in
 * cache. The numbers are those of sl_net_forward, bit for bit.
 * x: (T, B, n_in). Out, each may be NULL: logits (B, n_out) = the maximum
 * over time of the readout membrane (the logits of SL_LOSS_MAX);
 * stats->hidden_spikes = spikes of all hidden layers. The readout state at
 * the last step is kept: sl_net_infer_last. Does not change what
 * sl_net_state / sl_net_output / sl_net_backward see.
 * Errors: SL_EINVAL, SL_ENUMERIC (non-finite input), SL_ENOMEM. */
typedef struct {
  double hidden_spikes;
} sl_infer_stats;
int sl_net_infer(sl_net *net, const float *x, size_t T, size_t B, float *logits,
                 sl_infer_stats *stats);
/* Readout membrane (B, n_out) at the last step of the last sl_net_infer, or
 * NULL before one. */
const float *sl_net_infer_last(const sl_net *net);

/* sl_net_infer on an event list; sp's n must be the network's n_in
 * (SL_ESHAPE otherwise). Same numbers as sl_net_infer on the dense raster. */
int sl_net_infer_spikes(sl_net *net, const sl_spikes *sp, float *logits, sl_infer_stats *stats);

/* Use the plain reference kernels (1) or the fast ones (0, default). */
void sl_net_use_reference(sl_net *net, int on);

#ifdef __cplusplus
}
#endif
#endif
