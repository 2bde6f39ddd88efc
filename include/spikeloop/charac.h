/* spikeloop/charac.h -- characterising fabricated neurons: running the
 * protocols of backend.h (sl_stimulus) on every chosen neuron through
 * sl_hw_stimulate and keeping the raw observations, the stimuli and the
 * backend's configuration in an sl_charac, saved as a documented HDF5
 * recording (sl_charac_write; a lab can write the same file from its own
 * chip, see below). Defined in lib/calib/charac.c; the recording is what
 * the fitter of spikeloop/fit.h reads.
 *
 * Units. The tool's stimuli are in model units through the backend's
 * nominal mapping (bss2: volts(v) = volt_at_zero + volt_per_unit * v = 0.5
 * + 0.3 v, hardware time = model time * time_scale = 1e-3); observations
 * are kept as the backend reports them (membrane_units, hardware seconds).
 * A lab's file may state voltages in volts instead (below); the reader
 * converts them to model units with the file's volt mapping.
 *
 * The protocols, continuous equations (t: hardware s since the onset, t = 0;
 * V in model units; tau_m, tau_s the membrane and synaptic time constants,
 * g the synaptic gain in model units per model s per weight unit):
 *   decay    V(t <= 0) = level (clamped);  tau_m dV/dt = v_leak - V
 *   psp      one input spike of weight w at t = 0:
 *            tau_m dV/dt = v_leak - V + tau_m I,  I(0+) = g w,  tau_s dI/dt = -I
 *   current  tau_m dV/dt = v_leak - V + R I   (R I = tau_m c for a rate c);
 *            at V = v_th a spike (stamped spike_delay later, on the
 *            spike_time@resolution grid), V held at v_reset for t_ref, free
 *            again after; from rest at t = 0
 *   ramp     tau_m dV/dt = v_leak - V + R I(t), R I(t) = R I_end t / duration
 *            from rest until the first spike, 0 after it (optional: when a
 *            neuron has one, its v_th comes from the ramp's first spikes,
 *            V(t) = v_leak + k (t - tau_m (1 - e^{-t/tau_m})), k = R I_end /
 *            duration; reset and refractory time still from "current")
 *
 * Characterisation recording (HDF5, format_version 1). [opt] marks what may
 * be left out (default in brackets):
 *   /                 attributes: format = "spikeloop-characterisation",
 *                     format_version = 1; time_scale (hardware s per model
 *                     s, > 0); membrane_units ("adc": codes, "V": volts,
 *                     "model": model units); [opt] backend, options,
 *                     created (informative); [opt] dt (model s of the
 *                     host's step; also gives gain_nominal's default) [0];
 *                     [opt] spike_delay (hardware s from the threshold
 *                     crossing to a spike's stamp) [0]; [opt] adc_bits (0:
 *                     exact; 1..24: codes <= 0 or >= 2^bits - 1 are
 *                     saturated and unused; other values are refused) [0]; volt_at_zero, volt_per_unit (V = volt_at_zero
 *                     + volt_per_unit * model units: required as soon as
 *                     anything is in volts, informative otherwise) [0, 1];
 *                     [opt] adc_volts_per_code, adc_offset (V per code, V at
 *                     code 0: the ADC's known mapping; with it, or with
 *                     membrane_units "V", one decay per neuron is enough,
 *                     otherwise two clamp levels measure the readout)
 *   /neurons          integer (n): neuron (circuit) ids, any subset, no repeats
 *   /config/gain_nominal  float (n) [opt, 1/dt]: the synaptic gain each
 *                     neuron would have without mismatch, model units per
 *                     model s per weight unit (bss2: from the gain word); the
 *                     twin's gain is the fitted one over it
 *   /config/dac/<p>   integer (n) [opt]: the configuration words at the time
 *                     (leak, reset, threshold, tau_mem, tau_syn, gain, refrac)
 *   /protocols/<name> one group per stimulus, any number, names < 64 chars
 *     attributes      protocol ("decay", "psp", "current", "ramp"); level
 *                     (decay), weight (psp), current (current; ramp: the
 *                     drive reached at `duration`): one number, or one
 *                     per neuron of the protocol, as an attribute or a
 *                     dataset of that name; [opt] level_units ("model" or
 *                     "V") ["model"]; [opt] current_units ("rate": model
 *                     units per model s; "RI_model": R I in model units;
 *                     "RI_volts": R I in V; "ampere": I in A, with attribute
 *                     r_ohm, R I = current * r_ohm V) ["rate"]; [opt] pre,
 *                     duration (hardware s: clamp/rest before the onset, and
 *                     how long the stimulus lasts) [the recorded window];
 *                     [opt] repeats (informative)
 *     neurons         integer (m) [opt, /neurons]: the neurons this protocol
 *                     recorded, a subset of /neurons, in membrane row order
 *     membrane        integer or float (m, trials, samples), or (m, samples)
 *                     for one trial; attribute units [opt] = membrane_units
 *     time            float (samples): hardware s, increasing, the onset at
 *                     0; attribute units [opt] = "s"
 *     spike_neuron, spike_trial  integer (n_spikes): membrane row and
 *                     trial; spike_time float (n_spikes): hardware s since
 *                     the onset, attribute resolution [opt, 0]: the stamp
 *                     grid (a stamp is the first grid point after the
 *                     crossing + spike_delay). [opt] all three: no spikes.
 *   The fitter needs, for each neuron, a "decay" (two at different levels
 *   when the readout is measured), a "psp" and a "current" protocol with
 *   at least 8 samples after the onset; decays whose readout is measured
 *   need samples at or before the onset. sl_charac_check says what a file
 *   lacks. In memory, stimuli are in model units (volts converted), per-neuron
 *   arrays are indexed by /neurons row, spike_neuron is a /neurons row.
 */
#ifndef SPIKELOOP_CHARAC_H
#define SPIKELOOP_CHARAC_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_CHARAC_NDAC 7

/* A protocol only recordings have (no backend runs it; numbered apart from
 * backend.h's SL_STIM_*): "ramp", a current rising linearly from 0 at the
 * onset to `current` at `duration` and switched off at the first spike;
 * the threshold from the first spike time (stretch of issue 20). */
#define SL_CHARAC_RAMP 16

/* How a protocol states its current (sl_charac_protocol.current_units).
 * The fitter works with the drive's steady displacement R I in model units
 * (V_inf - v_leak); a rate c is R I / tau_m, so it converts with each
 * neuron's fitted tau_mem. */
enum {
  SL_CURRENT_RATE = 0, /* c: model units per model s (tau_m dV/dt = v_leak - V + tau_m c) */
  SL_CURRENT_RI = 1    /* R I in model units (read from "RI_volts" or "ampere" x r_ohm) */
};

typedef struct {
  char name[64];
  int protocol;              /* SL_STIM_* or SL_CHARAC_RAMP */
  /* the stimulus when it is one number for every neuron (model units,
   * weight units, hardware s); level, weight and current are NaN when the
   * protocol gives them per neuron (level_n, ...) */
  double level, weight, current, pre, duration;
  size_t repeats, n_samples;
  double *time;              /* (n_samples) hardware s, onset at 0 */
  float *membrane;           /* (n_rows, repeats, n_samples), membrane_units */
  size_t n_spikes;
  uint32_t *spike_neuron;    /* row in /neurons (not in the protocol's own list) */
  uint32_t *spike_trial;
  double *spike_time;        /* hardware s since the onset */
  /* appended with issue 20 */
  double *level_n, *weight_n, *current_n; /* (n) per neuron (by /neurons row), or NULL */
  int32_t *row;              /* NULL: rows of membrane are /neurons; else (n): the membrane
                                row of /neurons row i, -1 where the protocol did not record it */
  size_t n_rows;             /* rows of membrane (c->n when row is NULL) */
  int current_units;         /* SL_CURRENT_RATE or SL_CURRENT_RI */
  double spike_resolution;   /* hardware s: spikes are stamped on this grid (0: exact) */
} sl_charac_protocol;

typedef struct {
  char backend[64];
  char options[512];
  char membrane_units[16];   /* "adc", "model" or "V" */
  double time_scale, volt_at_zero, volt_per_unit, spike_delay, dt;
  int adc_bits;
  size_t n;                  /* neurons */
  uint32_t *neurons;         /* (n) */
  double *gain_nominal;      /* (n) */
  int32_t *dac[SL_CHARAC_NDAC]; /* (n) each or NULL */
  size_t n_protocols;
  sl_charac_protocol *proto; /* (n_protocols); any number (before issue 20: at most 16) */
  /* appended with issue 20: a known readout, raw = readout_alpha +
   * readout_beta * v (v in model units), from membrane_units "V" (alpha =
   * volt_at_zero, beta = volt_per_unit) or "adc" with adc_volts_per_code
   * (alpha = (volt_at_zero - adc_offset) / adc_volts_per_code, beta =
   * volt_per_unit / adc_volts_per_code); else the fit measures it from
   * the clamp levels of two decays. */
  int readout_known;
  double readout_alpha, readout_beta;
  double adc_volts_per_code, adc_offset; /* V per code, V at code 0 (0, 0: not given) */
} sl_charac;

/* Stimulus of protocol p for /neurons row i (model units, weight units,
 * current as p->current_units) and whether p recorded row i. */
double sl_charac_level(const sl_charac_protocol *p, size_t i);
double sl_charac_weight(const sl_charac_protocol *p, size_t i);
double sl_charac_current(const sl_charac_protocol *p, size_t i);
int sl_charac_has(const sl_charac_protocol *p, size_t i);
/* The first sample of row i, trial b of p (NULL when p did not record i). */
const float *sl_charac_trace(const sl_charac_protocol *p, size_t i, size_t b);

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
 * wrong type, rank or length, unknown protocol or units, not the format),
 * SL_ENUMERIC naming a required number attribute that is not finite. */
int sl_charac_write(const sl_charac *c, const char *path);
int sl_charac_read(sl_charac *c, const char *path);

/* Whether every neuron of a recording read by sl_charac_read can be fitted
 * (spikeloop characterise --check): the protocols each neuron needs, samples
 * after the onset (>= 8) and before it where the readout is measured from
 * clamp levels, distinct clamp levels, nonzero PSP weight, positive current,
 * spike times since the onset and inside the window. buf (len bytes, may be
 * NULL) gets one line per finding, "error: ..." or "note: ...". Returns
 * SL_OK, or SL_EFORMAT with the number of errors and the first one. Defined
 * in lib/calib/check.c. */
int sl_charac_check(const sl_charac *c, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
