/* spikeloop/fit.h -- fitting a digital twin to a characterisation
 * recording (spikeloop/charac.h), and the twin file. Defined in
 * lib/calib/fit.c.
 *
 * 1. Fitting (sl_fit_run) fits, per neuron and with GSL's trust-region
 *    nonlinear least squares where the model is nonlinear (closed forms
 *    only where exact), the continuous LIF response whose samples the
 *    discrete host model reproduces: the readout channel's offset and gain
 *    (linear, from the clamp levels), v_leak and tau_mem (the two decays),
 *    tau_syn and the synaptic gain (the PSP), v_th (first spike time under
 *    a known current, or under a recording's current ramp when it has one), the reset and the refractory time as the chip
 *    defines them (the hold at the reset after a spike modelled explicitly,
 *    from the trajectory after spikes). Every parameter gets a
 *    standard error (covariance x residual variance), every neuron a
 *    residual and flags; unfit neurons never stop the others.
 * 2. The twin (sl_twin_write / sl_twin_apply) holds per-neuron parameters
 *    of the host model in model units; config key neuron.twin = FILE makes
 *    the simulator and the in-the-loop host model use them.
 *
 * Units. The fitter works in model units and model seconds: the readout is
 * converted with the channel's own offset and gain measured against the
 * clamp levels, times are divided by time_scale. Fitted values convert
 * back to hardware units with the backend's nominal mapping (sl_fit_to_hw);
 * the twin is in model units as the host needs.
 */
#ifndef SPIKELOOP_FIT_H
#define SPIKELOOP_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/charac.h"
#include "spikeloop/net.h"
#include "spikeloop/neurons.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-neuron flags (bits); 0 = every parameter fitted. */
enum {
  SL_FIT_NAN = 1u << 0,        /* NaN or infinite samples */
  SL_FIT_SATURATED = 1u << 1,  /* readout at its rails inside a fit window */
  SL_FIT_SILENT = 1u << 2,     /* no spike under the test current: no v_th */
  SL_FIT_ALWAYS = 1u << 3,     /* spikes without input (decay, PSP, before the onset) */
  SL_FIT_LEAK_ABOVE_TH = 1u << 4, /* v_leak >= v_th */
  SL_FIT_NOCONV = 1u << 5,     /* a least-squares fit failed or is implausible */
  SL_FIT_NOREADOUT = 1u << 6,  /* clamp levels do not calibrate the channel */
  SL_FIT_NORESET = 1u << 7,    /* fewer than two spikes: no reset / refractory */
  SL_FIT_NOTRECORDED = 1u << 8 /* a protocol the fit needs did not record this neuron */
};

/* Parameters the fit reports, in this order (model units, model s). */
enum {
  SL_FP_V_LEAK = 0, SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_GAIN, /* gain: model units/model s/unit */
  SL_FP_V_TH, SL_FP_V_RESET, SL_FP_REFRAC,                    /* refrac: model s */
  SL_FP_N
};
const char *sl_fit_param_name(int p); /* "v_leak", ..., "gain_c", ..., "refrac_s" */

typedef struct {
  size_t n;
  uint32_t *neurons;         /* (n) copy of the recording's */
  double *value[SL_FP_N];    /* (n) each; NaN where not fitted */
  double *se[SL_FP_N];       /* standard errors; NaN where not fitted */
  double *residual;          /* (n) rms residual of the decay + PSP fits, model units */
  uint32_t *flags;           /* (n) SL_FIT_* */
  double *gain_nominal;      /* (n) copied from the recording */
  double time_scale, volt_at_zero, volt_per_unit;
  double current;            /* the current protocol's drive, model units per model s (the
                                twin folds a hold shorter than a step into its reset with it);
                                NaN when it differs from neuron to neuron (see current_rate) */
  /* appended with issue 20 */
  double *current_rate;      /* (n) each neuron's drive in the current protocol, model units
                                per model s (R I / tau_mem for a drive given as R I) */
} sl_fit_result;

void sl_fit_result_free(sl_fit_result *r);

/* Fit every neuron of c (OpenMP over neurons). Only whole-recording
 * problems are errors (missing protocol: SL_EFORMAT naming it); a neuron
 * that cannot be fitted is flagged. */
int sl_fit_run(const sl_charac *c, sl_fit_result *out);

/* Keep only the neurons (rows) of r whose id is in ids[0..n), in r's order
 * (a twin for a network of N neurons from a whole-chip recording: ids 0..N-1).
 * Errors: SL_EINVAL (an id not in r: the message names it), SL_ENOMEM;
 * r is unchanged on error. */
int sl_fit_result_select(sl_fit_result *r, const uint32_t *ids, size_t n);

/* Parse a neuron list "0-511" or "0-99,200,300-310" (ids < limit, no
 * repeats) into a malloc'ed array. Errors: SL_EINVAL naming the item. */
int sl_calib_parse_neurons(const char *text, uint32_t limit, uint32_t **ids, size_t *n);

/* Value of parameter p of neuron i in hardware units (s, V, V/s per unit
 * with the nominal mapping). */
double sl_fit_to_hw(const sl_fit_result *r, int p, size_t i);

/* Write every neuron's fit at full precision (spikeloop fit --values):
 *   /                 attributes format = "spikeloop-fit-values",
 *                     format_version = 1, source, time_scale, volt_at_zero,
 *                     volt_per_unit
 *   /neurons          uint32 (n) ids, in the recording's order
 *   /value/<param>    float64 (n), model units (attribute units), for
 *                     v_leak, tau_mem, tau_syn, gain_c, v_th, v_reset,
 *                     refrac_s (sl_fit_param_name); NaN: not fitted
 *   /se/<param>       float64 (n) standard errors, model units; NaN: none
 *   /hw/<param>       float64 (n) the value in hardware units (V, s, V/s
 *                     per weight unit) through the recording's volt mapping
 *                     and time_scale (sl_fit_to_hw)
 *   /flags            uint32 (n) SL_FIT_*;  /residual float64 (n) rms of
 *                     the decay and PSP fits, model units; /gain_nominal,
 *                     /current_rate float64 (n)
 * Defined in lib/calib/values.c. Errors: SL_EINVAL, SL_ENOMEM, SL_EIO. */
int sl_fit_values_write(const sl_fit_result *r, const char *path, const char *source);

/* ------------------------------------------------------------ twin */

/* Write the twin of r for a host model with time step dt (model s):
 *   /                   attributes format = "spikeloop-twin",
 *                       format_version = 1, dt, n_neurons (global count:
 *                       1 + the largest neuron id), source
 *   /mismatch/global/<param>  tau_mem, tau_syn, v_th, v_leak, v_reset, gain
 *                       (float32), refrac (int32, steps of dt), indexed by
 *                       global neuron id (hidden0 first, readout last)
 *   /se/global/<param>  float32 standard errors (model units)
 *   /flags              uint32 per global id; SL_FIT_* and 1u << 31 for a
 *                       neuron not characterised
 *   /mismatch/global/refrac_s  float64, the fitted hold after a crossing,
 *                       model s (new with issue 20; refrac is what the
 *                       discrete model holds of it, see below)
 * gain is the host model's factor: gain_c / gain_nominal * (a_m - a_s) /
 * ((1/tau_syn - 1/tau_mem) dt) (the discrete model's response equals the
 * sampled continuous one; scale_input = 0). refrac and v_reset are what
 * the discrete model can hold: the chip's hold minus half a step (the model
 * resets on average half a step after the crossing) in whole steps, the
 * rest folded into v_reset (where the membrane would be after that rest
 * under the current protocol's drive, r->current). A parameter that could
 * not be fitted is replaced by the median over the fitted neurons (its
 * flag says so). Errors: SL_EIO, SL_EINVAL (no neuron fitted). */
int sl_twin_write(const sl_fit_result *r, double dt, const char *path, const char *source);

/* Set the per-neuron parameters of layer `layer` (named `layer_name`, its
 * first neuron global id `offset`, `readout` nonzero for the LI readout:
 * only tau_mem, tau_syn and gain are taken) from a twin file: the layer's
 * own /mismatch/<layer_name>/ group if present, else /mismatch/global.
 * Errors: SL_EIO, SL_EFORMAT (naming the dataset: missing, too short, not
 * a twin, no dt), SL_ENUMERIC (dt not finite), SL_EINVAL (dt differs from
 * the twin's by more than 1e-9 relative; a neuron not characterised). */
int sl_twin_apply(const char *path, const char *layer_name, size_t offset, int readout,
                  double dt, sl_neurons *p);

/* Apply the twin at `path` to every layer of net (config key neuron.twin;
 * sl_net_from_config calls it). Neurons are numbered as the backends
 * number them: hidden0 first, then hidden1, ..., the readout last, so twin
 * id g is hidden0 neuron g for g < n_hidden0, and so on; a twin fitted on
 * `spikeloop characterise --neurons 0-(N-1)` of a chip describes exactly the
 * circuits a bss2 network of N unmerged neurons runs on. The twin's
 * n_neurons must equal the network's neuron count. Errors: SL_EINVAL (counts
 * differ: the message names the file and both counts; dt differs), and
 * those of sl_twin_apply. */
int sl_net_apply_twin(sl_net *net, const char *path);

/* Merge twins of disjoint neuron sets (spikeloop twin merge): the output
 * has n_neurons = the largest input's, each neuron's parameters, standard
 * errors, refractory steps and seconds and flags from the one input that
 * characterised it (flag bit 31 clear); neurons no input characterised stay
 * marked so and take the median of the merged characterised neurons.
 * Errors: SL_EINVAL (fewer than two paths; dt differs: both files and
 * values; a neuron characterised in two files: its id and both files),
 * SL_EFORMAT / SL_EIO naming the file and dataset, SL_ENOMEM. Defined in
 * lib/calib/twin_merge.c. */
int sl_twin_merge(const char *const *paths, size_t n_paths, const char *out);

#ifdef __cplusplus
}
#endif
#endif
