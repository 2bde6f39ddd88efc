/* spikeloop/charac.h -- characterising fabricated neurons: running the
 * protocols of backend.h (sl_stimulus) on every chosen neuron through
 * sl_hw_stimulate and keeping the raw observations, the stimuli and the
 * backend's configuration in an sl_charac, saved as a documented HDF5
 * recording (sl_charac_write; a lab can write the same file from its own
 * chip, see below). Defined in lib/calib/charac.c; the recording is what
 * the fitter of spikeloop/fit.h reads.
 *
 * Units. Stimuli are in model units through the backend's nominal mapping
 * (bss2: volts(v) = volt_at_zero + volt_per_unit * v = 0.5 + 0.3 v, hardware
 * time = model time * time_scale = 1e-3); observations are kept as the
 * backend reports them (membrane_units, hardware seconds).
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
#ifndef SPIKELOOP_CHARAC_H
#define SPIKELOOP_CHARAC_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_CHARAC_NDAC 7

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
  int protocol;              /* SL_STIM_* */
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
