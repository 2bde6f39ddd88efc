/* spikeloop/calib.h -- characterising fabricated neurons, fitting a digital
 * twin, calibrating configuration words to common targets.
 *
 * 1. Characterisation (sl_charac_run) drives every chosen neuron with the
 *    protocols of backend.h (sl_stimulus) through sl_hw_stimulate and keeps
 *    the raw observations, the stimuli and the backend's configuration in
 *    an sl_charac, saved as a documented HDF5 recording (sl_charac_write;
 *    a lab can write the same file from its own chip, see below).
 * 2. Fitting (sl_fit_run) fits, per neuron and with GSL's trust-region
 *    nonlinear least squares where the model is nonlinear (closed forms
 *    only where exact), the continuous LIF response whose samples the
 *    discrete host model reproduces: the readout channel's offset and gain
 *    (linear, from the clamp levels), v_leak and tau_mem (the two decays),
 *    tau_syn and the synaptic gain (the PSP), v_th (first spike time under
 *    a known current), the effective reset and the refractory time (the
 *    trajectory and intervals after spikes). Every parameter gets a
 *    standard error (covariance x residual variance), every neuron a
 *    residual and flags; unfit neurons never stop the others.
 * 3. The twin (sl_twin_write / sl_twin_apply) holds per-neuron parameters
 *    of the host model in model units; config key neuron.twin = FILE makes
 *    the simulator and the in-the-loop host model use them.
 * 4. Calibration (sl_calib_run) searches per-circuit DAC words so that the
 *    *measured* parameters meet targets, and writes the bss2 calib file.
 *
 * Units. Stimuli are in model units through the backend's nominal mapping
 * (bss2: volts(v) = volt_at_zero + volt_per_unit * v = 0.5 + 0.3 v, hardware
 * time = model time * time_scale = 1e-3). The fitter works in model units
 * and model seconds: the readout is converted with the channel's own
 * offset and gain measured against the clamp levels, times are divided by
 * time_scale. Fitted values convert back to hardware units with the same
 * mapping (sl_fit_to_hw); the twin is in model units as the host needs.
 *
 * Characterisation recording (HDF5, format_version 1):
 *   /                 attributes: format = "spikeloop-characterisation",
 *                     format_version = 1, backend, options, created,
 *                     time_scale (hardware s per model s), volt_at_zero,
 *                     volt_per_unit (hardware membrane units of the nominal
 *                     mapping; informative: the fit needs none of them),
 *                     spike_delay (hardware s: mean delay of a spike stamp
 *                     after the threshold crossing), dt (model s of the
 *                     backend setup), membrane_units ("adc" or "model"),
 *                     adc_bits (0: exact readout; else samples <= 0 or
 *                     >= 2^bits - 1 are saturated)
 *   /neurons          uint32 (n): neuron (circuit) ids, any subset
 *   /config/gain_nominal  float64 (n): the synaptic gain each neuron would
 *                     have without mismatch, model units per model s per
 *                     weight unit (bss2: from the gain word)
 *   /config/dac/<p>   int32 (n), optional: the configuration words at the
 *                     time (leak, reset, threshold, tau_mem, tau_syn, gain,
 *                     refrac)
 *   /protocols/<name> one group per stimulus; attributes protocol
 *                     ("decay", "psp", "current"), level (model units),
 *                     weight (weight units), current (model units per model
 *                     s), pre, duration (hardware s), repeats; datasets
 *       membrane      float32 (n, repeats, n_samples), attribute units
 *                     (= membrane_units)
 *       time          float64 (n_samples): sample times, hardware s, onset
 *                     at 0; attribute units = "s"
 *       spike_neuron, spike_trial  uint32 (n_spikes): row in /neurons,
 *                     trial; spike_time float64 (n_spikes), hardware s
 *   The fitter needs at least two "decay" groups with different levels
 *   (one if membrane_units = "model"), one "psp" and one "current" group.
 */
#ifndef SPIKELOOP_CALIB_H
#define SPIKELOOP_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/backend.h"
#include "spikeloop/neurons.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_CHARAC_MAX_PROTOCOLS 16
#define SL_CHARAC_NDAC 7

typedef struct {
  char name[32];
  int protocol;              /* SL_STIM_* */
  double level, weight, current, pre, duration; /* as sl_stimulus */
  size_t repeats, n_samples;
  double *time;              /* (n_samples) hardware s */
  float *membrane;           /* (n, repeats, n_samples), backend units */
  size_t n_spikes;
  uint32_t *spike_neuron, *spike_trial;
  double *spike_time;        /* hardware s */
} sl_charac_protocol;

typedef struct {
  char backend[64];
  char options[512];
  char membrane_units[16];
  double time_scale, volt_at_zero, volt_per_unit, spike_delay, dt;
  int adc_bits;
  size_t n;                  /* neurons */
  uint32_t *neurons;         /* (n) */
  double *gain_nominal;      /* (n) */
  int32_t *dac[SL_CHARAC_NDAC]; /* (n) each or NULL */
  size_t n_protocols;
  sl_charac_protocol proto[SL_CHARAC_MAX_PROTOCOLS];
} sl_charac;

/* The standard protocol set in model time (scaled by the backend's
 * time_scale when run). */
typedef struct {
  double decay_levels[2]; /* clamp levels, model units (0.5, -1.0) */
  double psp_weight;      /* weight units (-3: inhibitory, stays below threshold) */
  double current;         /* model units per model s (4 / 6e-3: 4 units over 6 ms) */
  double pre, duration;   /* model s (0.01, 0.04) */
  double current_duration;/* model s (0.06) */
  size_t repeats;         /* trials per protocol (16) */
} sl_charac_protocols;

sl_charac_protocols sl_charac_protocols_default(void);

/* Run the protocols on `neurons` (global indices of hw's network) and fill
 * *out (freed first with sl_charac_free if not empty). Configuration words
 * are read through read_config "dac.<p>.<neuron>" where the backend has
 * them, gain_nominal through "gain_nominal.<neuron>" (else w_unit / dt of
 * the layer). Errors: SL_EUNSUPPORTED (backend without stimulate), the
 * errors of sl_hw_stimulate, SL_ENOMEM. */
int sl_charac_run(sl_hw *hw, const uint32_t *neurons, size_t n, const sl_charac_protocols *p,
                  sl_charac *out);
void sl_charac_free(sl_charac *c); /* safe on a zeroed or freed struct */

/* Write / read the HDF5 recording (layout above). Errors: SL_EIO naming the
 * path; reading: SL_EFORMAT naming the dataset or attribute (missing,
 * wrong type, rank or length, unknown protocol or units, not the format). */
int sl_charac_write(const sl_charac *c, const char *path);
int sl_charac_read(sl_charac *c, const char *path);

/* ------------------------------------------------------------ fitting */

/* Per-neuron flags (bits); 0 = every parameter fitted. */
enum {
  SL_FIT_NAN = 1u << 0,        /* NaN or infinite samples */
  SL_FIT_SATURATED = 1u << 1,  /* readout at its rails inside a fit window */
  SL_FIT_SILENT = 1u << 2,     /* no spike under the test current: no v_th */
  SL_FIT_ALWAYS = 1u << 3,     /* spikes without input (decay, PSP, before the onset) */
  SL_FIT_LEAK_ABOVE_TH = 1u << 4, /* v_leak >= v_th */
  SL_FIT_NOCONV = 1u << 5,     /* a least-squares fit failed or is implausible */
  SL_FIT_NOREADOUT = 1u << 6,  /* clamp levels do not calibrate the channel */
  SL_FIT_NORESET = 1u << 7     /* fewer than two spikes: no reset / refractory */
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
 * gain is the host model's factor: gain_c / gain_nominal * (a_m - a_s) /
 * ((1/tau_syn - 1/tau_mem) dt) (the discrete model's response equals the
 * sampled continuous one; scale_input = 0). A parameter that could not be
 * fitted is replaced by the median over the fitted neurons (its flag says
 * so). Errors: SL_EIO, SL_EINVAL (no neuron fitted). */
int sl_twin_write(const sl_fit_result *r, double dt, const char *path, const char *source);

/* Set the per-neuron parameters of layer `layer` (named `layer_name`, its
 * first neuron global id `offset`, `readout` nonzero for the LI readout:
 * only tau_mem, tau_syn and gain are taken) from a twin file: the layer's
 * own /mismatch/<layer_name>/ group if present, else /mismatch/global.
 * Errors: SL_EIO, SL_EFORMAT (naming the dataset: missing, too short, not
 * a twin), SL_EINVAL (dt differs from the twin's by more than 1e-9
 * relative; a neuron not characterised). */
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

/* ------------------------------------------------------------ calibration */

/* Targets in hardware units (s, V); NaN: leave that word nominal. */
typedef struct {
  double tau_mem, tau_syn, v_th, v_leak, v_reset;
  int iterations;  /* measurement rounds (default 5) */
  const uint32_t *circuits; /* circuits to calibrate (NULL: all 512); the */
  size_t n_circuits;        /* others keep their nominal words */
} sl_calib_targets;

/* 6 us, 6 us, 0.8 V, 0.5 V, v_reset NaN (not calibrated: the fitted reset
 * absorbs the hold after a spike, so a reset calibrated on it ends ~0.1 V
 * too high), 5 rounds, all circuits. */
sl_calib_targets sl_calib_targets_default(void);

/* Parse "tau_mem=10e-6,tau_syn=5e-6,v_th=0.8,..." over *t. Errors:
 * SL_EINVAL naming the key or value. */
int sl_calib_targets_parse(sl_calib_targets *t, const char *text);

typedef struct {
  double mean_before[SL_FP_N], sd_before[SL_FP_N]; /* hardware units, fitted neurons */
  double mean_after[SL_FP_N], sd_after[SL_FP_N];
  size_t n_fitted_before, n_fitted_after;
  double seconds;
} sl_calib_report;

/* Calibrate the 512 circuits of the bss2 chip described by `options`
 * (chip_seed, noise, ...; no calib=): characterise at the nominal words,
 * then per round move each circuit's words by a secant / Newton step on
 * its measured parameters (tau ~ 1/word, voltages linear in the word),
 * re-characterise through a calib file, and keep each circuit's best
 * words. Writes /dac/<leak,reset,threshold,tau_mem,tau_syn> (int32 [512])
 * to out_path (the format bss2's calib= option reads). Errors: those of
 * the backend and the fitter, SL_EIO. */
int sl_calib_run(const char *options, const sl_calib_targets *t, const char *out_path,
                 sl_calib_report *report);

/* Characterise all 512 circuits of a bss2 chip (options as for the
 * backend, characterise=1 is added) and fit them: a convenience for the
 * tools and experiments. */
int sl_calib_characterise_bss2(const char *options, const uint32_t *neurons, size_t n,
                               sl_charac *rec, sl_fit_result *fit);

#ifdef __cplusplus
}
#endif
#endif
