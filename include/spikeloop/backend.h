/* spikeloop/backend.h -- the one interface every hardware backend implements.
 *
 * A backend is a versioned, static table of function pointers (in the manner
 * of SQLite's VFS): the core allocates `state_size` bytes of private state
 * and calls the slots. Slots are only ever appended; the core checks
 * `version` before calling a newer slot. This header is what a backend
 * implements (the table) and uses (observation buffers, option helpers:
 * lib/hw/backend.c), and the instances the core drives (sl_hw:
 * lib/hw/instance.c). Backends are found by name in the registry
 * (spikeloop/registry.h).
 *
 * Units. The host model runs in model time (dt, tau in s) and model units
 * (threshold gap ~ 1). A backend reports what it measures in its own units:
 *   - time in hardware seconds: t_hw = t_model * caps.time_scale;
 *   - membrane samples in caps.membrane_units: observed value =
 *     baseline + v_model * caps.membrane_gain (for an ADC, counts), on a
 *     regular grid t_hw = sample_t0 + j * sample_period;
 *   - weights are written in hardware units: integers in
 *     [-caps.weight_levels, caps.weight_levels] (or any float if
 *     weight_levels == 0). setup.w_unit[l] says what one unit is worth in
 *     model units for layer l, so that a backend can set its gains.
 *
 * The network is the host model's: n_in inputs -> hidden LIF layers ->
 * an LI readout (a neuron whose threshold is disabled). Neurons are numbered
 * globally, layer after layer: hidden0 first, the readout last.
 */
#ifndef SPIKELOOP_BACKEND_H
#define SPIKELOOP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/lif.h"
#include "spikeloop/net.h"
#include "spikeloop/neurons.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the table layout this header describes. */
#define SL_BACKEND_VERSION 3

enum { SL_OBS_SPIKES = 1u, SL_OBS_MEMBRANE = 2u };

/* What a backend can hold and measure. */
typedef struct {
  size_t max_neurons;     /* neurons of all layers together (readout included) */
  size_t max_fan_in;      /* signed inputs one neuron can receive */
  int weight_levels;      /* largest integer weight magnitude (63 for 6 bit + sign); 0 = float */
  int sign_by_row_pair;   /* 1: a signed weight uses an excitatory and an inhibitory row */
  int adc_bits;           /* membrane readout resolution in bits; 0 = exact */
  double sample_period;   /* membrane sampling period, hardware s */
  double time_scale;      /* hardware s per model s (1e-3: 1000x faster than the model) */
  double membrane_gain;   /* observed membrane units per model membrane unit */
  double membrane_gain_readout; /* the same for the readout layer; 0: membrane_gain */
  const char *membrane_units; /* "model", "adc", ... */
  unsigned observables;   /* SL_OBS_* */
  int recurrent;          /* 1 if recurrent hidden layers are supported */
} sl_backend_caps;

/* The network a backend is asked to run (the host model's description). */
typedef struct {
  size_t n_in;                               /* input channels */
  size_t n_layers;                           /* hidden layers; layer n_layers is the readout */
  size_t size[SL_MAX_LAYERS + 1];            /* neurons per layer */
  int recurrent[SL_MAX_LAYERS + 1];
  double dt;                                 /* model time step, s */
  size_t max_steps;                          /* longest T that will be run */
  size_t max_batch;                          /* largest B that will be run */
  const sl_neurons *neurons[SL_MAX_LAYERS + 1]; /* target (model) neuron parameters per layer */
  sl_lif_options lif;                        /* reset convention of the model */
  int scale_input;                           /* the model's input convention */
  double w_unit[SL_MAX_LAYERS + 1];          /* model weight of one hardware weight unit */
  const char *options;                       /* backend-specific "key=value,key=value" or NULL */
} sl_backend_setup;

/* What one run measured. Buffers are owned by the observation object and
 * grow as needed (sl_obs_reserve); backends fill them. */
typedef struct {
  size_t B;                 /* samples in the batch */
  size_t n_neurons;         /* global neuron count */
  /* spikes, any order: sample, global neuron index, hardware time (s) */
  size_t n_spikes, spike_cap;
  uint32_t *spike_sample, *spike_neuron;
  double *spike_time;
  /* membrane: (n_samples, B, n_neurons), in the backend's units */
  size_t n_samples;
  double sample_t0, sample_period; /* hardware s */
  float *membrane;
  size_t membrane_cap;      /* floats allocated */
} sl_observations;

void sl_obs_init(sl_observations *o);
void sl_obs_free(sl_observations *o);
/* Make room for n_samples x B x n_neurons membrane values and sets the
 * sizes; clears the spike list. Errors: SL_ENOMEM. */
int sl_obs_reset(sl_observations *o, size_t B, size_t n_neurons, size_t n_samples);
/* Append one spike. Errors: SL_ENOMEM. */
int sl_obs_add_spike(sl_observations *o, size_t sample, size_t neuron, double t_hw);

/* ------------------------------------------------------------ stimuli
 *
 * Characterisation protocols (table version 2, slot `stimulate`): every
 * listed neuron is driven on its own (no synapses between them, no network
 * input) and observed. Time t = 0 is the stimulus onset; the backend
 * observes from t = -pre to t = duration (hardware s). Amplitudes are in
 * model units through the backend's *nominal* mapping (bss2: volts(v) =
 * 0.5 + 0.3 v, dV/dt of 1 model unit per model s = 0.3 / time_scale V/s),
 * so that the stimulus is exactly known whatever the neuron's mismatch; what
 * the neuron does in return is measured in the backend's units.
 *
 *   SL_STIM_DECAY    the membrane is clamped at `level` (the clamp holds it
 *                    exactly, up to the membrane's temporal noise) from
 *                    t = -pre, and released at t = 0: V(t) = E + (level -
 *                    E) exp(-t/tau_mem). Samples before t = 0 read a known
 *                    voltage: two levels calibrate the readout channel.
 *                    Gives tau_mem and v_leak.
 *   SL_STIM_PSP      from rest, one input spike of `weight` hardware weight
 *                    units reaches every listed neuron at t = 0:
 *                    V(t) = E + g w tau_m tau_s / (tau_m - tau_s)
 *                    (exp(-t/tau_m) - exp(-t/tau_s)). Gives tau_syn and the
 *                    synaptic gain g (model units per model s per weight
 *                    unit). A negative weight keeps V below threshold.
 *   SL_STIM_CURRENT  from rest, a constant current `current` (dV/dt in model
 *                    units per model second) from t = 0 to the end: the
 *                    neuron charges towards E + current * tau_mem, spikes
 *                    when V crosses v_th, is reset, held for the refractory
 *                    time and charges again. Gives v_th (first spike
 *                    time), v_reset and the refractory time (the samples
 *                    and the intervals after each spike).
 *
 * Observations: B = repeats independent trials (independent noise),
 * n_neurons = stim->n_neurons (the k-th listed neuron is column k, and a
 * spike's neuron index is k), membrane samples in the backend's units on
 * the grid sample_t0 + j * sample_period (sample_t0 <= 0 when pre > 0),
 * spike times in hardware s relative to the onset.
 *
 * Crossbar devices (appended with issue 13; backends whose synapses are
 * memristor devices, spikeloop/xbar.h):
 *
 *   SL_STIM_DEVICE   every device of the crossbar layers holding the listed
 *                    neurons' input columns is programmed by write-verify to
 *                    the conductance `level` (a fraction of the device
 *                    window: 0 = g_min, 1 = g_max, put on the nearest device
 *                    level), then the devices of the listed neurons' columns
 *                    -- every row of the column, G+ and G- -- are read
 *                    `reads` times at each of `times` instants t_k = k
 *                    duration / (times - 1) after the programming (drift
 *                    runs in between; times 1: at t = 0 only). Each repeat
 *                    programs anew (fresh programming noise). Gives the
 *                    programming error, the read noise, stuck devices and
 *                    the drift of every device. The weights the layers held
 *                    are gone: write them again after characterising.
 *
 * Observations of SL_STIM_DEVICE: B = repeats; n_neurons = the devices,
 * 2 x fan-in per listed neuron, neuron by neuron, row by row, G+ before G-;
 * n_samples = times x reads (read r at instant k is sample k reads + r),
 * the conductance in the crossbar model's units (g_min .. g_max) as read,
 * without drift compensation; sample_t0 = 0, sample_period = the spacing of
 * the instants. pre, weight and current are unused. */
enum { SL_STIM_DECAY = 1, SL_STIM_PSP = 2, SL_STIM_CURRENT = 3, SL_STIM_DEVICE = 4 };

typedef struct {
  int protocol;            /* SL_STIM_* */
  const uint32_t *neurons; /* global neuron indices (hidden0 first, readout last) */
  size_t n_neurons;
  size_t repeats;          /* independent trials, >= 1 (observations' B) */
  double pre;              /* observed before the onset, hardware s (>= 0) */
  double duration;         /* observed after the onset, hardware s (> 0) */
  double level;            /* DECAY: clamp level, model units */
  double weight;           /* PSP: input weight, hardware weight units */
  double current;          /* CURRENT: model units per model second */
  /* appended with issue 13 (0 in older callers' zero-initialised structs) */
  size_t reads;            /* DEVICE: reads per instant (0 counts as 1) */
  size_t times;            /* DEVICE: read instants over [0, duration] (0 counts as 1) */
} sl_stimulus;

typedef struct sl_backend sl_backend;
struct sl_backend {
  int version;               /* SL_BACKEND_VERSION the table was written for */
  const char *name;
  const char *description;   /* one line */
  size_t state_size;         /* bytes of private state the core allocates (zeroed) */
  /* version 1 */
  int (*open)(void *state, const sl_backend_setup *setup);
  void (*close)(void *state);
  int (*capabilities)(void *state, sl_backend_caps *caps);
  /* layer l's "w_in" (which = 0, size[l-1] or n_in rows x size[l] cols) or
   * "w_rec" (which = 1), in hardware units */
  int (*write_weights)(void *state, size_t layer, int which, const float *w, size_t rows,
                       size_t cols);
  /* input spike raster x (T, B, n_in), 0/1 at model steps -> observations */
  int (*run)(void *state, const float *x, size_t T, size_t B, sl_observations *obs);
  /* a configuration value by key (e.g. "chip_seed"), as text; SL_ENOTFOUND */
  int (*read_config)(void *state, const char *key, char *buf, size_t len);
  /* Weight levels of every instance of this backend (its caps.weight_levels)
   * if fixed and > 0: lets the core choose weight units (setup.w_unit)
   * before opening. 0: ask an opened instance (float backends, replay). */
  int weight_levels;
  /* version 2 */
  /* Run one characterisation protocol (see sl_stimulus); NULL: not
   * supported (the core answers SL_EUNSUPPORTED). */
  int (*stimulate)(void *state, const sl_stimulus *stim, sl_observations *obs);
  /* version 3 */
  /* Checkpoints (sl_hw_save_state): the instance's mutable state besides the
   * weights it was written -- noise-stream counters, programmed
   * conductances, pulse counts -- as bytes. save_state with buf NULL sets
   * *len to the size needed; with buf, writes *len bytes. load_state
   * restores it into an instance opened with the same setup and options
   * after the same weights were written, so that later runs and writes
   * behave exactly as the saved instance's would. NULL: not supported. */
  int (*save_state)(void *state, uint8_t *buf, size_t *len);
  int (*load_state)(void *state, const uint8_t *buf, size_t len);
};

/* ------------------------------------------------------------ instances */

typedef struct sl_hw sl_hw;

/* Open an instance of backend `name` for the network in setup. Errors:
 * those of sl_backend_lookup (spikeloop/registry.h: SL_ENOTFOUND for an
 * unknown name, the message listing the available ones; SL_EUNSUPPORTED
 * for a built-in this build left out), the backend's own (limits
 * exceeded: SL_ERANGE; bad options: SL_EINVAL). */
int sl_hw_open(sl_hw **out, const char *name, const sl_backend_setup *setup);
void sl_hw_close(sl_hw *hw);
const char *sl_hw_name(const sl_hw *hw);
const sl_backend_caps *sl_hw_caps(const sl_hw *hw);
const sl_backend_setup *sl_hw_setup(const sl_hw *hw);
int sl_hw_write_weights(sl_hw *hw, size_t layer, int which, const float *w, size_t rows,
                        size_t cols);
int sl_hw_run(sl_hw *hw, const float *x, size_t T, size_t B, sl_observations *obs);
int sl_hw_read_config(sl_hw *hw, const char *key, char *buf, size_t len);
/* Run a characterisation protocol. Errors: SL_EUNSUPPORTED (a table older
 * than version 2 or without the slot: probe with this call), SL_EINVAL
 * (bad stimulus: no neurons, a neuron index out of range, repeats 0,
 * duration <= 0, pre < 0, non-finite amplitude), the backend's own. */
int sl_hw_stimulate(sl_hw *hw, const sl_stimulus *stim, sl_observations *obs);

/* The instance's state for a checkpoint, in a fresh buffer *buf (free it)
 * of *len bytes (*buf may be NULL when *len is 0), and restoring it (see the
 * slots). Errors: SL_EUNSUPPORTED (a table older than version 3 or without
 * the slots: the backend's runs cannot be continued exactly), SL_ENOMEM,
 * the backend's own (SL_EFORMAT: a state of another size or setup). */
int sl_hw_save_state(sl_hw *hw, uint8_t **buf, size_t *len);
int sl_hw_load_state(sl_hw *hw, const uint8_t *buf, size_t len);

/* Record every later write_weights and run of hw into path (a recording, spikeloop/recording.h) (replacing any
 * earlier recorder of hw). The weights hw holds at the time are recorded
 * first, so the recording can start at any point. */
int sl_hw_record(sl_hw *hw, const char *path);

/* Parse one key of a "key=value,key=value" options string. Returns 1 and
 * copies the value if present, 0 if absent. */
int sl_backend_option(const char *options, const char *key, char *value, size_t len);
/* Check that every entry of an options string is key=value with a key of
 * the NULL-terminated list `known` (entries split as sl_backend_option
 * does). Errors: SL_EINVAL, the message starting with `who` and listing the
 * known keys. NULL or empty options are fine. */
int sl_backend_check_options(const char *options, const char *const *known, const char *who);

#ifdef __cplusplus
}
#endif
#endif
