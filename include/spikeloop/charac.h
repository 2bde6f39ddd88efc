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
 * wrong type, rank or length, unknown protocol or units, not the format),
 * SL_ENUMERIC naming a required number attribute that is not finite. */
int sl_charac_write(const sl_charac *c, const char *path);
int sl_charac_read(sl_charac *c, const char *path);

#ifdef __cplusplus
}
#endif
#endif
