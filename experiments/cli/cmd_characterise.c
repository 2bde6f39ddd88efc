/* cmd_characterise.c -- `spikeloop characterise --backend bss2 [--chip-seed S]
 * [--neurons 0-511] --out rec.h5`: run the characterisation protocols
 * (membrane decays from two clamp levels, a PSP, a constant current) on
 * the circuits of an emulated chip and write the documented HDF5 recording
 * (format in include/spikeloop/charac.h and README.md) that `spikeloop fit`
 * reads. Only bss2 is wired here: a lab with another chip writes the same
 * file from its own measurements, and `spikeloop characterise --check
 * REC.h5` says whether the fit can use it (exit 0) or what is missing or
 * inconsistent (exit 1). */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/calibrate.h"
#include "spikeloop/charac.h"
#include "spikeloop/fit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(void)
{
  printf("usage: spikeloop characterise --backend bss2 [--chip-seed S] [--neurons LIST]\n"
         "                              [--options K=V,...] --out REC.h5\n"
         "       spikeloop characterise --check REC.h5\n"
         "\n"
         "Drive every chosen neuron circuit with the characterisation protocols (decay\n"
         "after a clamp at two levels, one PSP of a known weight, a constant current) and\n"
         "write the recording: stimuli, sampled traces with time base and units, spikes\n"
         "and the backend's configuration words. 'spikeloop fit' turns it into a twin.\n"
         "\n"
         "  --backend bss2    the emulated BrainScaleS-2 chip (the only backend the tool\n"
         "                    characterises; the recording format is in README.md)\n"
         "  --chip-seed S     which emulated chip (default 1)\n"
         "  --neurons LIST    circuits, e.g. 0-511 (default), 0-122 or 0-9,100-109\n"
         "  --options K=V,... further bss2 options (noise, noise_seed, calib=FILE, ...);\n"
         "                    without substeps=K the chip is emulated at 32 substeps per\n"
         "                    step (noise scaled to the same noise per unit time), so the\n"
         "                    refractory hold is not cut to whole 250 ns substeps\n"
         "  --out REC.h5      the recording to write (required)\n"
         "  --check REC.h5    validate a recording (yours or the tool's) instead: read it\n"
         "                    as the fitter does and list every problem (exit 1) or\n"
         "                    none (exit 0), with notes on what the fit will not get\n"
         "\n"
         "Conventions of a recording (format in README.md, 'Recording format'): times in\n"
         "hardware seconds; each protocol's time axis has the stimulus onset at 0;\n"
         "spike times are seconds since that onset; at least 8 samples after the onset;\n"
         "decays need samples at or before the onset (the clamp) unless the readout is\n"
         "known (membrane_units V, or adc with adc_volts_per_code); a PSP fits better\n"
         "with a pre-onset baseline; windows of a few tau_mem after the onset.\n");
}

/* --check REC.h5: read, check, print the findings. */
static int check_recording(const char *path)
{
  sl_charac rec;
  memset(&rec, 0, sizeof rec);
  if (sl_charac_read(&rec, path)) {
    fprintf(stderr, "spikeloop: %s\n", sl_last_error());
    printf("%s: not usable (the first problem is above)\n", path);
    return 1;
  }
  char report[8192];
  int rc = sl_charac_check(&rec, report, sizeof report);
  size_t decay = 0, psp = 0, cur = 0, ramp = 0;
  for (size_t k = 0; k < rec.n_protocols; k++) {
    decay += rec.proto[k].protocol == SL_STIM_DECAY;
    psp += rec.proto[k].protocol == SL_STIM_PSP;
    cur += rec.proto[k].protocol == SL_STIM_CURRENT;
    ramp += rec.proto[k].protocol == SL_CHARAC_RAMP;
  }
  printf("%s: %zu neuron(s); %zu decay, %zu psp, %zu current, %zu ramp protocol(s); membrane "
         "in %s%s\n", path, rec.n, decay, psp, cur, ramp, rec.membrane_units,
         rec.readout_known ? " (readout known)" : !strcmp(rec.membrane_units, "adc")
                                                    ? " (readout from the clamp levels)" : "");
  fputs(report, stdout);
  if (rc)
    fprintf(stderr, "spikeloop: %s\n", sl_last_error());
  else
    printf("ok: the fit can use every neuron of %s\n", path);
  sl_charac_free(&rec);
  return rc ? 1 : 0;
}

int cmd_characterise(int argc, char **argv)
{
  const char *out = NULL, *extra = "", *check = NULL;
  long seed = 1;
  cli_shared sh = {NULL, NULL, NULL, NULL, "0-511", 0};
  const cli_option own[] = {
      CLI_SEED_OPTION("--chip-seed", &seed),
      {.name = "--options", .kind = CLI_TEXT, .out = &extra, .needs = "K=V,..."},
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"},
      {.name = "--check", .kind = CLI_TEXT, .out = &check, .needs = "a file name"},
      {0}};
  const cli_spec spec = {"characterise", usage, CLI_BACKEND | CLI_NEURONS, 1, own, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (check) {
    if (out || sh.backend)
      return cli_usage_error("characterise", "--check REC.h5 takes no --out or --backend");
    return check_recording(check);
  }
  const char *neurons = sh.neurons;
  rc = cli_need_bss2("characterise", sh.backend, "cannot be characterised by the tool (only bss2; "
                     "write the recording format of README.md instead)");
  if (rc)
    return rc;
  if (!out)
    return cli_usage_error("characterise", "--out REC.h5 is required");
  char opts[1024];
  rc = cli_chip_options("characterise", seed, extra, opts, sizeof opts);
  if (rc)
    return rc;
  uint32_t *ids = NULL;
  size_t n = 0;
  if (sl_calib_parse_neurons(neurons, SL_BSS2_CIRCUITS, &ids, &n))
    return cli_fail("--neurons");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  sl_charac rec;
  memset(&rec, 0, sizeof rec);
  rc = sl_calib_characterise_bss2(opts, ids, n, &rec, NULL);
  free(ids);
  if (rc) {
    sl_charac_free(&rec);
    return cli_fail("characterise");
  }
  rc = sl_charac_write(&rec, out);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  if (!rc)
    printf("characterised %zu neuron circuit(s) of bss2 chip %ld (%zu protocols) in %.1f s; "
           "recording written to %s\n",
           rec.n, seed, rec.n_protocols, sec, out);
  sl_charac_free(&rec);
  return rc ? cli_fail(out) : 0;
}
