/* bss2_internal.h (internal) -- the emulated chip's hidden physics, shared
 * by the backend (bss2.c), the truth export, the tests and the calibration
 * code that follows.
 *
 * A circuit's physical parameter is its nominal DAC -> parameter map
 * (slb2_nominal) followed by the circuit's fixed-pattern mismatch:
 *     true = nominal(word) * scale + offset
 * with (scale, offset) drawn once per circuit from the chip seed
 * (slb2_mismatch_draw). The CADC channel of a circuit converts a
 * membrane voltage V to counts = clip(rint(V / 1.2 * 255 * adc_gain +
 * adc_offset), 0, 255).
 */
#ifndef SL_BSS2_INTERNAL_H
#define SL_BSS2_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "spikeloop/bss2.h"

/* Defaults of the backend options noise (V per substep) and substeps. */
#define SLB2_DEFAULT_NOISE 0.002
#define SLB2_DEFAULT_SUBSTEPS 4

/* Smallest valid word of parameter p (1 for the time constants, else 0). */
int slb2_word_min(int p);

/* Nominal physical value of word `word` of parameter p (no mismatch):
 * volts 1.2*w/1023; tau 3e-3/w s; gain 5e4*w/1023 V/s per weight unit;
 * refrac 20e-9*w s. A tau word of 0 gives +inf. */
double slb2_nominal(int p, int word);

/* The word whose nominal value (slb2_nominal) is nearest to `value`,
 * clamped to slb2_word_min(p)..1023 (the inverse of the nominal map, as
 * the designer knows it). */
int slb2_nominal_word(int p, double value);

/* Fixed-pattern mismatch of one circuit (see bss2_chip.c for the draws). */
typedef struct {
  double scale[SL_BSS2_NPARAM];
  double offset[SL_BSS2_NPARAM];
  double adc_offset; /* counts */
  double adc_gain;   /* relative (1 + gain error) */
} slb2_mismatch;

/* Draw the mismatch of all SL_BSS2_CIRCUITS circuits of chip `chip_seed`.
 * Deterministic; circuit c depends only on (chip_seed, c). */
void slb2_mismatch_draw(uint64_t chip_seed, slb2_mismatch *m /* [SL_BSS2_CIRCUITS] */);

/* True value of parameter p of circuit c with word w. */
double slb2_true(const slb2_mismatch *m, int p, int word);

/* Write t to an HDF5 file (layout in bss2.h), through a temporary name that
 * is renamed into place. Errors: SL_EIO naming the path. */
int slb2_truth_write(const sl_bss2_truth *t, const char *path);

/* Write the words of parameter p (SL_BSS2_CIRCUITS of them) as dataset
 * /dac/<word name> (int32, attribute units = "dac") of an open file, as the
 * truth export and the calibration files hold them. 0 or -1. */
herr_t slb2_write_dac(hid_t file, int p, const int32_t *words);

#endif
