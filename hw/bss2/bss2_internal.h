/* bss2_internal.h (internal) -- the emulated chip's hidden physics, shared
 * by the backend (bss2.c), the truth export, the tests and the calibration
 * code that follows.
 *
 * A circuit's physical parameter is its nominal DAC -> parameter map
 * (sl_bss2_nominal) followed by the circuit's fixed-pattern mismatch:
 *     true = nominal(word) * scale + offset
 * with (scale, offset) drawn once per circuit from the chip seed
 * (sl_bss2_mismatch_draw). The CADC channel of a circuit converts a
 * membrane voltage V to counts = clip(rint(V / 1.2 * 255 * adc_gain +
 * adc_offset), 0, 255).
 */
#ifndef SL_BSS2_INTERNAL_H
#define SL_BSS2_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/bss2.h"

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
/* Smallest valid word of parameter p (1 for the time constants, else 0). */
int sl_bss2_word_min(int p);

/* Nominal physical value of word `word` of parameter p (no mismatch):
 * volts 1.2*w/1023; tau 3e-3/w s; gain 5e4*w/1023 V/s per weight unit;
 * refrac 20e-9*w s. A tau word of 0 gives +inf. */
double sl_bss2_nominal(int p, int word);

/* Fixed-pattern mismatch of one circuit (see bss2_chip.c for the draws). */
typedef struct {
  double scale[SL_BSS2_NPARAM];
  double offset[SL_BSS2_NPARAM];
  double adc_offset; /* counts */
  double adc_gain;   /* relative (1 + gain error) */
} sl_bss2_mismatch;

/* Draw the mismatch of all SL_BSS2_CIRCUITS circuits of chip `chip_seed`.
 * Deterministic; circuit c depends only on (chip_seed, c). */
void sl_bss2_mismatch_draw(uint64_t chip_seed, sl_bss2_mismatch *m /* [SL_BSS2_CIRCUITS] */);

/* Configuration words of the whole chip: word[p][c]. */
typedef struct {
  int32_t word[SL_BSS2_NPARAM][SL_BSS2_CIRCUITS];
} sl_bss2_words;

/* The nominal words of the default model on every circuit: leak and reset
 * 426 (0.4997 V), threshold 682 (0.8 V), tau_mem = tau_syn 500 (6 us),
 * gain 512, refrac 0. */
void sl_bss2_words_default(sl_bss2_words *w);

/* True value of parameter p of circuit c with word w. */
double sl_bss2_true(const sl_bss2_mismatch *m, int p, int word);

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

/* Write t to an HDF5 file (layout in bss2.h), through a temporary name that
 * is renamed into place. Errors: SL_EIO naming the path. */
int sl_bss2_truth_write(const sl_bss2_truth *t, const char *path);

/* Read the calibration datasets /dac/<word name> (int32 [512]) of `path`
 * into w; datasets that are absent leave w's words unchanged. *present (if
 * not NULL) gets bit p set for every dataset read. On error w is unchanged.
 * Errors:
 * SL_EIO (file not readable), SL_EFORMAT (a dataset of the wrong type or
 * shape, or no /dac dataset at all; message names it), SL_EINVAL (a word
 * out of range; message names dataset, circuit and value). */
int sl_bss2_words_load(sl_bss2_words *w, const char *path, unsigned *present);

#endif
