/* cmd_calibrate.c -- `spikeloop calibrate --backend bss2 [--chip-seed S]
 * --target tau_mem=10e-6,tau_syn=5e-6,v_th=... --out calib.h5 [--resume]`: search each
 * circuit's DAC words (leak, reset, threshold, tau_mem, tau_syn, gain,
 * refractory time) so that its *measured* parameters meet the targets
 * (sl_calib_run: Newton / secant steps on characterisations, never the
 * hidden truth), write the /dac/<param> file that backend option calib=FILE
 * (or `train --calib FILE`) loads, and print the spread across circuits
 * before and after as the calibration's own characterisation measured it. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/bss2.h"
#include "spikeloop/calibrate.h"
#include "spikeloop/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop calibrate --backend bss2 [--chip-seed S] --target LIST --out CALIB.h5\n"
         "                           [--iterations N] [--neurons LIST] [--options K=V,...]\n"
         "                           [--resume]\n"
         "\n"
         "Calibrate the neuron circuits of an emulated chip to common targets from\n"
         "measured responses only (characterised at 32 emulator substeps per step\n"
         "unless --options sets substeps), and write the configuration words\n"
         "/dac/<word> (int32 [512]) of every calibrated word and /targets/<word>.\n"
         "Train with it: spikeloop train --backend bss2 --calib CALIB.h5.\n"
         "\n"
         "  --backend bss2     the emulated BrainScaleS-2 chip (the only one with DACs here)\n"
         "  --chip-seed S      which emulated chip (default 1)\n"
         "  --target LIST      key=value targets in hardware units, any of tau_mem, tau_syn,\n"
         "                     refrac (s), v_th, v_leak, v_reset (V), gain (V/s per weight\n"
         "                     unit); a value 'none' leaves that word at its nominal word.\n"
         "                     The others default to the nominal model: 6e-6 s, 6e-6 s,\n"
         "                     0.375e-6 s (release half a 1 us step after a spike, in the\n"
         "                     middle of a 250 ns emulator substep), 0.8, 0.5, 0.5 V; gain\n"
         "                     is not calibrated unless given (its word depends on the\n"
         "                     weight unit of the network the chip will run). A circuit\n"
         "                     reaches tau >= 6.21 us at worst: the report counts circuits\n"
         "                     whose target is out of reach. Required.\n"
         "  --iterations N     measurement rounds (default 5)\n"
         "  --neurons LIST     calibrate only these circuits, e.g. 0-122 (default 0-511);\n"
         "                     the others keep their nominal words\n"
         "  --options K=V,...  further bss2 options (noise, noise_seed, ...; not calib)\n"
         "  --out CALIB.h5     the calibration file to write (required)\n"
         "  --resume           continue a killed calibration with the same options from\n"
         "                     its last finished round (the state CALIB.h5.resume.h5 that\n"
         "                     every round writes and a finished run removes); the words\n"
         "                     written equal an uninterrupted run's\n");
}

int cmd_calibrate(int argc, char **argv)
{
  const char *out = NULL, *target = NULL, *extra = "";
  long seed = 1, iterations = 5;
  int resume = 0;
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      CLI_SEED_OPTION("--chip-seed", &seed),
      {.name = "--target", .kind = CLI_TEXT, .out = &target, .needs = "key=value,..."},
      {.name = "--iterations", .kind = CLI_LONG, .out = &iterations,
       .needs = "an integer in 1..100", .min = 1, .max = 100},
      {.name = "--options", .kind = CLI_TEXT, .out = &extra, .needs = "K=V,..."},
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"},
      {.name = "--resume", .kind = CLI_FLAG, .out = &resume},
      {0}};
  const cli_spec spec = {"calibrate", usage, CLI_BACKEND | CLI_NEURONS, 1, own, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  const char *neurons = sh.neurons;
  rc = cli_need_bss2("calibrate", sh.backend,
                     "has no configuration words to calibrate (only bss2)");
  if (rc)
    return rc;
  if (!target)
    return cli_usage_error("calibrate", "--target key=value,... is required (e.g. "
                           "tau_mem=10e-6,tau_syn=5e-6,v_th=0.8)");
  if (!out)
    return cli_usage_error("calibrate", "--out CALIB.h5 is required");
  char opts[1024];
  rc = cli_chip_options("calibrate", seed, extra, opts, sizeof opts);
  if (rc)
    return rc;
  if (strstr(extra, "calib"))
    return cli_usage_error("calibrate", "--options must not contain calib= (the search starts "
                           "from the nominal words)");
  sl_calib_targets t = sl_calib_targets_default();
  if (sl_calib_targets_parse(&t, target))
    return cli_fail("calibrate");
  t.iterations = (int)iterations;
  uint32_t *ids = NULL;
  if (neurons && sl_calib_parse_neurons(neurons, SL_BSS2_CIRCUITS, &ids, &t.n_circuits))
    return cli_fail("--neurons");
  t.circuits = ids;
  const double tv[SL_BSS2_NPARAM] = {t.v_leak, t.v_reset, t.v_th,   t.tau_mem,
                                     t.tau_syn, t.gain,    t.refrac};
  printf("%s %zu circuit(s) of bss2 chip %ld (%d rounds) to",
         resume ? "resuming the calibration of" : "calibrating",
         ids ? t.n_circuits : (size_t)SL_BSS2_CIRCUITS, seed, t.iterations);
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    if (isfinite(tv[p]))
      printf(" %s %g %s", sl_bss2_param_name(p), tv[p], sl_bss2_param_unit(p));
    else
      printf(" %s nominal", sl_bss2_param_name(p));
    printf(p + 1 < SL_BSS2_NPARAM ? "," : "\n");
  }
  fflush(stdout);
  sl_calib_report r;
  rc = resume ? sl_calib_resume(opts, &t, out, &r) : sl_calib_run(opts, &t, out, &r);
  free(ids);
  if (rc)
    return cli_fail("bss2");
  printf("spread across circuits, as measured by the calibration's own characterisation\n"
         "(fitted responses, not the hidden truth): sd/mean and mean - 1 of measured /\n"
         "target, in %%; unreachable: circuits whose target is outside their range\n");
  printf("  %-8s %10s %9s %8s   %9s %8s %12s\n", "param", "target", "spread", "bias",
         "spread", "bias", "unreachable");
  printf("  %-8s %10s %18s   %18s\n", "", "", "before", "after");
  static const int fp[SL_BSS2_NPARAM] = {SL_FP_V_LEAK,  SL_FP_V_RESET, SL_FP_V_TH,
                                         SL_FP_TAU_MEM, SL_FP_TAU_SYN, SL_FP_GAIN,
                                         SL_FP_REFRAC};
  for (int p = 0; p < SL_BSS2_NPARAM; p++) {
    const int f = fp[p];
    if (!isfinite(tv[p])) {
      printf("  %-8s %10s\n", sl_bss2_param_name(p), "(nominal)");
      continue;
    }
    printf("  %-8s %10.4g %8.2f%% %+7.2f%%   %8.2f%% %+7.2f%% %12zu\n", sl_bss2_param_name(p),
           tv[p], 100 * r.spread_before[f], 100 * r.bias_before[f], 100 * r.spread_after[f],
           100 * r.bias_after[f], r.n_unreachable[f]);
  }
  printf("  fitted without flags: %zu before, %zu after; %.1f s\n", r.n_fitted_before,
         r.n_fitted_after, r.seconds);
  printf("calibration written to %s (use: --calib %s, or backend.options calib=%s)\n", out, out,
         out);
  return 0;
}
