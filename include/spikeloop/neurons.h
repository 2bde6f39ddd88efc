/* spikeloop/neurons.h -- per-neuron parameters: the mismatch model.
 *
 * Every neuron parameter is an array with one entry per neuron, so that a
 * population of physically different neurons (an analog chip with device
 * mismatch, or a fitted "digital twin") is described exactly. Times are in
 * seconds of model time; voltages in model units (threshold gap ~ 1).
 */
#ifndef SPIKELOOP_NEURONS_H
#define SPIKELOOP_NEURONS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nominal (population-mean) values of one neuron type. */
typedef struct {
  double tau_mem; /* membrane time constant, s (> 0) */
  double tau_syn; /* synaptic time constant, s (> 0) */
  double v_th;    /* threshold */
  double v_leak;  /* leak (resting) potential */
  double v_reset; /* reset potential (reset-to-value) or subtracted gap base */
  double gain;    /* synaptic gain: scales the weighted input current */
  int refrac;     /* refractory period in time steps (>= 0) */
} sl_neuron_nominal;

/* tau_mem = tau_syn = 6 ms, v_th = 1, v_leak = v_reset = 0, gain = 1, refrac = 0. */
sl_neuron_nominal sl_neuron_nominal_default(void);

/* Per-neuron arrays, each of length n (owned). */
typedef struct {
  size_t n;
  float *tau_mem;
  float *tau_syn;
  float *v_th;
  float *v_leak;
  float *v_reset;
  float *gain;
  int32_t *refrac;
} sl_neurons;

/* Number of float parameter arrays and their names, in storage order:
 * "tau_mem", "tau_syn", "v_th", "v_leak", "v_reset", "gain". ("refrac" is
 * the int32 array, named separately.) */
#define SL_NEURON_NFLOAT 6
const char *sl_neurons_float_name(size_t i);

/* Allocate arrays for n neurons, filled with `nominal` (NULL: default).
 * On failure *p is left empty. Errors: SL_EINVAL (n == 0), SL_ENOMEM. */
int sl_neurons_alloc(sl_neurons *p, size_t n, const sl_neuron_nominal *nominal);
void sl_neurons_free(sl_neurons *p); /* safe on a zeroed or freed struct */

/* Deep copy (dst must be empty or freed). */
int sl_neurons_copy(sl_neurons *dst, const sl_neurons *src);

/* The float array named `name` (see sl_neurons_float_name), or NULL. */
float *sl_neurons_param(const sl_neurons *p, const char *name);

/* Validate for time step dt: every value finite, tau_mem, tau_syn, gain > 0,
 * v_th > v_reset, refrac >= 0. Errors: SL_EINVAL, SL_ENUMERIC (message
 * names the parameter and neuron index). */
int sl_neurons_check(const sl_neurons *p, double dt);

/* Relative standard deviations of device mismatch (0 = none). tau_mem,
 * tau_syn and gain are scaled by (1 + sd*z); v_th is drawn as
 * v_leak + (v_th - v_leak)*(1 + sd*z); v_leak and v_reset get an absolute
 * offset sd*(v_th - v_leak)*z. z ~ N(0,1) clipped to [-3, 3], and the
 * factor is floored at 0.1 so that parameters stay physical. */
typedef struct {
  double tau_mem, tau_syn, v_th, v_leak, v_reset, gain;
} sl_mismatch_spec;

/* Apply mismatch drawn from `seed` to the nominal values already in p.
 * Deterministic for a given (seed, n). Errors: SL_EINVAL (negative sd). */
int sl_neurons_draw_mismatch(sl_neurons *p, const sl_mismatch_spec *spec, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
