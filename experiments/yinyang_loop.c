/* yinyang_loop.c -- experiment `yinyang_loop` (Cramer et al. 2022): on one
 * emulated, uncalibrated BrainScaleS-2 chip, compare
 *   (a) training in the ideal simulator,
 *   (b) those weights deployed on the chip without the loop,
 *   (c) training in the loop on the chip.
 * /summary: acc_ideal, acc_deployed, acc_loop (test accuracies), and the
 * seconds of (a) and (c). /metrics and /params are those of (c). */
#include "config.h"
#include "experiments.h"

#include <stdio.h>

/* The CADC samples every 1 us here, the model step of the BSS-2 Yin-Yang
 * examples (FACTS.md 2: tau 6 us, dt 1 us). The amplitude regulariser keeps
 * the readout membranes inside the ADC's range, as in Cramer et al.: without
 * it, trained readouts drive the membrane to the rails, the measured maxima
 * tie and nothing is learned in the loop. (a) uses the same settings. */
static const char *const defaults[] = {"backend.name=bss2",
                                       "backend.options=chip_seed=1,sample_period=1e-6",
                                       "train.reg_amp=0.1", "train.epochs=60",
                                       "train.lr_decay=0.97", NULL};

static int run(const sl_config *cfg, sl_runlog *log)
{
  static const exp_compare x = {"yinyang_loop",          "ideal",
                                "a: ideal",              "(a) ideal simulator",
                                "b: deployed",           "(b) deployed, no loop",
                                "c: in the loop",        "(c) trained in the loop"};
  return exp_compare_run(cfg, log, &x);
}

const experiment exp_yinyang_loop = {
    "yinyang_loop",
    "Yin-Yang on an emulated BrainScaleS-2 chip: ideal vs deployed vs trained in the loop",
    defaults, run, NULL, 0};
