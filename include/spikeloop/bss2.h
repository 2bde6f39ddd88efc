/* spikeloop/bss2.h -- the BrainScaleS-2-style analog emulator ("bss2" backend).
 *
 * An emulated chip behaves like a fabricated one: 512 neuron circuits with
 * 256 synapse rows each, 6-bit synapses whose sign is a property of the row
 * (a signed weight is an excitatory + inhibitory row pair: -63..63),
 * optional merging of 2 circuits per logical neuron (512 rows, 256 neurons),
 * per-neuron 10-bit configuration words for leak, reset, threshold, tau_mem,
 * tau_syn, synaptic gain and refractory time, hidden fixed-pattern mismatch
 * of the DAC -> parameter mapping drawn from a chip seed, temporal membrane
 * noise, an 8-bit column-parallel ADC (CADC) with per-channel offset and
 * gain error sampled on a grid (default 1.7 us), and timestamped spikes.
 * Hardware time runs 1000x faster than model time. The model, its constants
 * and the mapping of the host model onto words are described at the top of
 * hw/bss2/bss2.c and hw/bss2/bss2_chip.c.
 *
 * Limits (open fails with SL_ERANGE, naming the layer and the numbers):
 *   neurons of all layers x circuits per neuron <= 512; per layer,
 *   2 x (inputs + own size if recurrent) synapse rows <= 256 x circuits per
 *   neuron. Weights (write_weights) must be integers (within 1e-6) in
 *   -63..63 (else SL_ERANGE naming layer, index and value).
 *
 * Backend options ("key=value,..." in sl_backend_setup.options; an unknown
 * key is SL_EINVAL):
 *   chip_seed=S        hidden mismatch of this chip (default 1)
 *   noise=SD           membrane noise per emulator substep, V (default 0.002)
 *   noise_seed=S       seed of the temporal noise (default 1); the stream of
 *                      sample b of the r-th run of an instance is fixed by
 *                      (S, r, b), whatever the thread count
 *   sample_period=P    CADC sampling period, s (default 1.7e-6)
 *   substeps=K         emulator substeps per model step (default 4)
 *   merge=0|1          2 circuits per logical neuron (default: 1 only if
 *                      some layer's fan-in needs more than 256 rows)
 *   calib=FILE.h5      per-circuit configuration words (default: nominal)
 *   characterise=0|1   1: the readout layer is mapped and spikes like a hidden
 *                      layer (volts 0.5 + 0.3 v, its own threshold word), so a
 *                      characterisation session can address every circuit
 *                      (default 0)
 *
 * Characterisation protocols (stimulate, backend.h): the circuits' own
 * dynamics; the clamp and the current source are exact (the membrane noise
 * still acts during the clamp); an input spike adds g w to I as a synapse
 * row does. Spikes are stamped at the end of the substep of the crossing.
 *
 * read_config keys: chip_seed, noise_seed, noise, sample_period, substeps,
 * merge (the effective 0/1), calib (the path or ""), characterise,
 * time_scale (1e-3), volt_at_zero (0.5) and volt_per_unit (0.3) of the
 * hidden mapping, spike_delay (half a substep: the mean delay of a spike's
 * stamp after the crossing, s), gain_nominal.<neuron> (the synaptic gain
 * the neuron's gain word gives without mismatch, in model units per model
 * second per weight unit), and
 * dac.<param>.<circuit> (param: leak, reset, threshold, tau_mem, tau_syn,
 * gain, refrac; circuit 0..511), e.g. "dac.tau_mem.17", and
 * target.<param>.<circuit>: the value (V, s, V/s per weight unit) a
 * calibration should give that circuit so that the chip does what the
 * host model assumes (the nominal mapping's value, except: gain divided by
 * the ratio of the chip's sampled PSP to the model's discrete one,
 * refractory time (refrac + 1/2) dt in the middle of its substep: the
 * model lets the membrane go on average half a step after the crossing;
 * see bss2.c), "nan" where
 * there is none (the readout's threshold, reset and refractory time;
 * circuits the network does not use). sl_calib_targets_from_hw reads them.
 *
 * Calibration file (calib=): HDF5 datasets /dac/<param> (param as above),
 * each an integer array (stored as int32) of 512 words, indexed by circuit.
 * Logical neuron n (global numbering, hidden0 first) uses circuits
 * n*c .. n*c+c-1, c = 2 if merged else 1. Every dataset present replaces the
 * nominal words of all circuits; absent datasets keep the nominal words
 * (but at least one must be present). The readout's threshold word is
 * always 1023. Words must be in 0..1023 (1..1023 for tau_mem and tau_syn):
 * SL_EINVAL naming the dataset and circuit; a file that is not HDF5: SL_EIO;
 * a dataset of the wrong type or length: SL_EFORMAT naming it. The truth
 * export below has this layout under /dac, so it can be read back as-is.
 *
 * Truth file (sl_bss2_export_truth), HDF5:
 *   /truth/<p>   float64 (512) per circuit, attribute units: tau_mem, tau_syn
 *                (s), v_leak, v_th, v_reset (V), gain (V/s per weight unit),
 *                refrac (s), adc_offset (counts), adc_gain (relative, 1 =
 *                nominal)
 *   /mapping/<p>_scale, /mapping/<p>_offset   float64 (512) for p in tau_mem,
 *                tau_syn, v_leak, v_th, v_reset, gain, refrac: the circuit's
 *                mismatch, true = nominal(word) * scale + offset;
 *                /mapping/adc_scale, /mapping/adc_offset for the CADC:
 *                counts = V / 1.2 * 255 * adc_scale + adc_offset
 *   /dac/<param> int32 (512): the words the truth was computed for
 *   /            attributes chip_seed (uint64), time_scale (1e-3), format
 *                ("spikeloop-bss2-truth")
 */
#ifndef SPIKELOOP_BSS2_H
#define SPIKELOOP_BSS2_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_BSS2_CIRCUITS 512
#define SL_BSS2_ROWS 256
#define SL_BSS2_WEIGHT_MAX 63
#define SL_BSS2_DAC_MAX 1023

/* The emulator's backend table (also registered as "bss2").
 *
 * In a build configured with --disable-bss2 every call of this header
 * fails with SL_EUNSUPPORTED ("backend 'bss2' not built in this build"):
 * pointer results are NULL, sl_bss2_words_default zeroes the words. */
const sl_backend *sl_bss2_backend(void);

/* Write the hidden physical parameters of every circuit of chip
 * `chip_seed` to `path` (layout above), as they are at the nominal words of
 * the default model on every circuit: tau_mem = tau_syn = 6 us (word 500),
 * leak and reset 0.5 V (word 426), threshold 0.8 V (682), gain word 512,
 * refrac word 0. The file is written under a temporary name and renamed, so
 * `path` never holds a half-written file. For tests and for checking
 * calibration only: training never reads it. Errors: SL_EIO naming the
 * path, SL_ENOMEM. */
int sl_bss2_export_truth(uint64_t chip_seed, const char *path);

/* ---- The chip's hidden truth, for checking calibration (twin_loop, tests);
 * training never reads it. */

/* The configuration words of one circuit, in this order (also the order of
 * the calibration file's /dac datasets and of read_config "dac.<p>.<c>"). */
enum {
  SL_BSS2_LEAK = 0,
  SL_BSS2_RESET,
  SL_BSS2_THRESHOLD,
  SL_BSS2_TAU_MEM,
  SL_BSS2_TAU_SYN,
  SL_BSS2_GAIN,
  SL_BSS2_REFRAC,
  SL_BSS2_NPARAM
};

/* Name of word p in /dac and in read_config ("leak", "reset", "threshold",
 * "tau_mem", "tau_syn", "gain", "refrac"), or NULL. */
const char *sl_bss2_word_name(int p);
/* Name of the physical parameter of word p in /truth and /mapping ("v_leak",
 * "v_reset", "v_th", "tau_mem", "tau_syn", "gain", "refrac"), or NULL. */
const char *sl_bss2_param_name(int p);
/* Unit of that physical parameter ("V", "s", "V/s"). */
const char *sl_bss2_param_unit(int p);

/* Configuration words of the whole chip: word[p][c]. */
typedef struct {
  int32_t word[SL_BSS2_NPARAM][SL_BSS2_CIRCUITS];
} sl_bss2_words;

/* The nominal words of the default model on every circuit: leak and reset
 * 426 (0.4997 V), threshold 682 (0.8 V), tau_mem = tau_syn 500 (6 us),
 * gain 512, refrac 0. */
void sl_bss2_words_default(sl_bss2_words *w);

/* Read the calibration datasets /dac/<word name> (int32 [512]) of `path`
 * into w; datasets that are absent leave w's words unchanged. *present (if
 * not NULL) gets bit p set for every dataset read. On error w is unchanged.
 * Errors:
 * SL_EIO (file not readable), SL_EFORMAT (a dataset of the wrong type or
 * shape, or no /dac dataset at all; message names it), SL_EINVAL (a word
 * out of range; message names dataset, circuit and value). */
int sl_bss2_words_load(sl_bss2_words *w, const char *path, unsigned *present);

/* Everything the truth export writes, per circuit. */
typedef struct {
  uint64_t chip_seed;
  double value[SL_BSS2_NPARAM][SL_BSS2_CIRCUITS];  /* true parameters (param order) */
  double scale[SL_BSS2_NPARAM][SL_BSS2_CIRCUITS];  /* mismatch: true = nominal*scale + offset */
  double offset[SL_BSS2_NPARAM][SL_BSS2_CIRCUITS];
  double adc_offset[SL_BSS2_CIRCUITS];              /* counts */
  double adc_gain[SL_BSS2_CIRCUITS];                /* relative */
  int32_t word[SL_BSS2_NPARAM][SL_BSS2_CIRCUITS];  /* the words applied */
} sl_bss2_truth;

/* Fill t with the hidden parameters of chip `chip_seed` under `words`
 * (NULL: sl_bss2_words_default). Errors: SL_EINVAL (NULL t, word out of
 * range). t is ~130 kB: allocate it on the heap. */
int sl_bss2_truth_fill(uint64_t chip_seed, const sl_bss2_words *words, sl_bss2_truth *t);

#ifdef __cplusplus
}
#endif
#endif
