/* spikeloop/calibrate.h -- calibrating the configuration words of an
 * emulated BrainScaleS-2 chip to common targets: sl_calib_run searches
 * per-circuit DAC words so that the *measured* parameters (charac.h,
 * fit.h) meet the targets, and writes the bss2 calib file. Defined in
 * hw/bss2/calibrate.c (bss2 only). In a build configured with
 * --disable-bss2 every call fails with SL_EUNSUPPORTED ("backend 'bss2' not
 * built in this build") and the default targets are all NaN (hw/absent.c).
 */
#ifndef SPIKELOOP_CALIBRATE_H
#define SPIKELOOP_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/charac.h"
#include "spikeloop/fit.h"

#ifdef __cplusplus
extern "C" {
#endif

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
