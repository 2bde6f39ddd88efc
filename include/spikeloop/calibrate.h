/* spikeloop/calibrate.h -- calibrating the configuration words of an
 * emulated BrainScaleS-2 chip to common targets: sl_calib_run searches
 * per-circuit DAC words so that the *measured* parameters (charac.h,
 * fit.h) meet the targets, and writes the bss2 calib file. Defined in
 * hw/bss2/calibrate.c (bss2 only). In a build configured with
 * --disable-bss2 every call fails with SL_EUNSUPPORTED ("backend 'bss2' not
 * built in this build") and the default targets are all NaN (hw/absent.c).
 *
 * What is measured, as continuous equations (charac.h has the protocols;
 * V the membrane, t since each stimulus' onset, hardware units here):
 *   decay    tau_mem dV/dt = v_leak - V from a clamp level
 *   psp      tau_mem dV/dt = v_leak - V + tau_mem I, I(0+) = gain w,
 *            tau_syn dI/dt = -I
 *   current  tau_mem dV/dt = v_leak - V + R I; at v_th a spike, V held at
 *            v_reset for refrac, then free
 * and calibrated: v_leak (leak), v_reset (reset), v_th (threshold),
 * tau_mem, tau_syn, gain, refrac, one DAC word each.
 *
 * Every word the chip has is calibrated: leak, reset, threshold, tau_mem,
 * tau_syn, synaptic gain and refractory time. Targets must be (1) reachable
 * by every circuit (the report counts the circuits that cannot reach a
 * target and gives the range every calibrated circuit can reach) and (2)
 * what the host model assumes, or the calibrated chip is uniform but
 * wrong: for a network, take them from the backend opened for it
 * (sl_calib_targets_from_hw), which knows how its model maps onto the chip
 * (the readout rests lower than the hidden neurons, the synaptic gain
 * depends on the layer's weight unit and on the ratio of the chip's
 * continuous PSP to the model's discrete one, the refractory time on the
 * emulator's substeps).
 *
 * Calibration file (what backend option calib=FILE reads, bss2.h):
 *   /dac/<word>      int32 (512) for every calibrated word (leak, reset,
 *                    threshold, tau_mem, tau_syn, gain, refrac), attribute
 *                    units = "dac"; circuits outside the calibrated set hold
 *                    the default model's nominal words (sl_bss2_words_default)
 *   /targets/<word>  float64 (512), optional (new in this version; readers
 *                    ignore it): the target each circuit was calibrated to,
 *                    hardware units (V, s, V/s per weight unit), NaN for a
 *                    circuit outside the calibrated set; attribute units
 *   /                attributes format = "spikeloop-bss2-calib",
 *                    target_<param> (the common targets, hardware units;
 *                    NaN: that word not calibrated) for v_leak, v_reset,
 *                    v_th, tau_mem, tau_syn and (new) gain, refrac
 * Older files (without gain, refrac or /targets) stay readable: a word the
 * file lacks keeps the backend's own choice. The gain words are those of
 * the weight unit the targets were made for: a file calibrated for one
 * network gives another network with a different weight unit wrong gains.
 */
#ifndef SPIKELOOP_CALIBRATE_H
#define SPIKELOOP_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#include "spikeloop/backend.h"
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Emulator substeps per model step of the characterisations of
 * sl_calib_characterise_bss2 (and so of sl_calib_run) when the options do
 * not set substeps: a chip is continuous in time, while the emulator holds
 * a spiking circuit for whole substeps (250 ns at the default 4 substeps
 * and dt = 1 us), which hides its refractory time to within a substep. The
 * membrane noise is scaled by sqrt(substeps / SL_CALIB_SUBSTEPS) so that
 * the noise per unit time is that of the options. */
#define SL_CALIB_SUBSTEPS 32

/* Targets in hardware units (s, V, V/s per weight unit); NaN: leave that
 * word as it is (nominal). */
typedef struct {
  double tau_mem, tau_syn, v_th, v_leak, v_reset;
  int iterations;  /* measurement rounds (default 5) */
  const uint32_t *circuits; /* circuits to calibrate (NULL: all 512); the */
  size_t n_circuits;        /* others keep the default nominal words */
  /* appended with issue 13 */
  double gain;     /* synaptic gain, V/s per weight unit (depends on the weight unit) */
  double refrac;   /* refractory time, s */
  /* NULL, or SL_BSS2_NPARAM x 512 per-circuit targets, [p * 512 + c] in the
   * word order of bss2.h (leak, reset, threshold, tau_mem, tau_syn, gain,
   * refrac): a finite entry replaces the common target of word p for
   * circuit c (sl_calib_targets_from_hw fills it for a network). A word is
   * calibrated if every calibrated circuit has a target for it (common or
   * its own); some but not all is SL_EINVAL naming the word and circuit. */
  const double *per_circuit;
} sl_calib_targets;

/* The default model's targets on every circuit: tau_mem = tau_syn = 6 us,
 * v_th 0.8 V, v_leak = v_reset = 0.5 V, refrac 0.375 us (bss2's target for
 * the default model at dt = 1 us, 4 substeps: release half a step after
 * the crossing, in the middle of a substep); gain NaN
 * (it depends on the weight unit: give gain= or per-circuit targets);
 * 5 rounds, all circuits. (Before issue 13 v_reset was NaN: the fitted
 * reset was an effective one.) Note that a few circuits of most chips
 * cannot reach 6 us (tau_mem = 3 ms / word x mismatch up to exp(0.75)): the
 * report counts them; every circuit reaches >= 6.21 us. */
sl_calib_targets sl_calib_targets_default(void);

/* Parse "tau_mem=10e-6,tau_syn=5e-6,v_th=0.8,gain=8000,refrac=none,..."
 * over *t (keys tau_mem, tau_syn, v_th, v_leak, v_reset, gain, refrac;
 * "none" leaves that word uncalibrated). Errors: SL_EINVAL naming the key
 * or value. */
int sl_calib_targets_parse(sl_calib_targets *t, const char *text);

/* Per-circuit targets of the network a bss2 instance was opened for (its
 * read_config keys target.<word>.<circuit>, bss2.h): out (SL_BSS2_NPARAM x
 * 512, [p * 512 + c]) gets the network's targets, NaN where the backend
 * has none (circuits the network does not use; the readout's threshold,
 * reset and refractory time). Errors: SL_EINVAL (NULL), SL_EUNSUPPORTED
 * (the backend has no target keys: not bss2). */
int sl_calib_targets_from_hw(sl_hw *hw, double *out);

typedef struct {
  double mean_before[SL_FP_N], sd_before[SL_FP_N]; /* hardware units, fitted neurons */
  double mean_after[SL_FP_N], sd_after[SL_FP_N];
  size_t n_fitted_before, n_fitted_after;
  double seconds;
  /* appended with issue 13; indexed by SL_FP_*, NaN for a word not calibrated */
  double spread_before[SL_FP_N], spread_after[SL_FP_N]; /* sd / mean of measured / target */
  double bias_before[SL_FP_N], bias_after[SL_FP_N];     /* mean of measured / target, - 1 */
  double reach_lo[SL_FP_N], reach_hi[SL_FP_N]; /* the range every calibrated circuit reaches */
  size_t n_unreachable[SL_FP_N]; /* calibrated circuits whose target is outside their range */
} sl_calib_report;

/* Calibrate the circuits of the bss2 chip described by `options`
 * (chip_seed, noise, ...; no calib=): characterise at the nominal words of
 * each circuit's targets (round 0: "before"), then per round move each
 * circuit's words by a step on its own measurement (voltages linear in the
 * word, a secant after the first round; tau ~ 1/word; refractory time ~
 * word), re-characterise through a calib file, and keep each circuit's best
 * words. The gain is measured at the characterisation's own gain word (a
 * PSP large enough to fit, rounds whose PSP touches a CADC rail skipped)
 * and set proportionally (a current DAC: gain ~ word). A last
 * characterisation at the chosen words gives "after". Writes the calib file
 * above to out_path. Errors: those of the backend and the fitter, SL_EIO,
 * SL_EINVAL (bad targets or circuits, calib= in the options). */
int sl_calib_run(const char *options, const sl_calib_targets *t, const char *out_path,
                 sl_calib_report *report);

/* Resuming: after every round sl_calib_run writes its search state to
 * "<out_path>.resume.h5" (whole or not at all: a temporary file renamed),
 * and removes it once out_path is written. sl_calib_resume, with the same
 * options and targets, continues a killed sl_calib_run after its last
 * finished round; it writes the same words as an uninterrupted run (every
 * round's noise is seeded from noise_seed and the round number) and its
 * report covers all rounds (seconds included). Errors: SL_EIO (no resume
 * file: the run finished, or was killed in round 0; damaged file),
 * SL_EFORMAT (not a resume file), SL_EINVAL (the state of another
 * calibration: rounds, words, chip options or targets differ), and those of
 * sl_calib_run. */
int sl_calib_resume(const char *options, const sl_calib_targets *t, const char *out_path,
                    sl_calib_report *report);

/* Characterise circuits of a bss2 chip (options as for the backend;
 * characterise=1 is added, and substeps = SL_CALIB_SUBSTEPS with the noise
 * scaled unless the options set substeps) and fit them: a convenience for
 * the tools and experiments. neurons NULL: all 512. */
int sl_calib_characterise_bss2(const char *options, const uint32_t *neurons, size_t n,
                               sl_charac *rec, sl_fit_result *fit);

#ifdef __cplusplus
}
#endif
#endif
