/* cmd_chip.c -- `spikeloop chip truth --chip-seed S --out FILE.h5`: export
 * the hidden per-neuron parameters of an emulated BrainScaleS-2 chip, for
 * tests and for checking calibration (training never reads them). */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop chip truth [--chip-seed S] --out FILE.h5\n"
         "\n"
         "Write the hidden physical parameters of every neuron circuit of the emulated\n"
         "chip S (bss2 backend, default S = 1) at the nominal configuration: /truth/<param>\n"
         "(tau_mem, tau_syn, v_leak, v_th, v_reset, gain, refrac, adc_offset, adc_gain)\n"
         "and the per-circuit DAC-mapping factors under /mapping. See README.md.\n");
}

int cmd_chip(int argc, char **argv)
{
  int rc = cli_first(usage, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (strcmp(argv[0], "truth") != 0)
    return cli_usage_error("chip", "unknown subcommand '%s' (known: truth)", argv[0]);
  long seed = 1;
  const char *out = NULL;
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      CLI_SEED_OPTION("--chip-seed", &seed),
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"},
      {0}};
  const cli_spec spec = {"chip", usage, 0, 1, own, NULL};
  rc = cli_parse(&spec, &sh, argc - 1, argv + 1);
  if (rc != CLI_RUN)
    return rc;
  if (!out)
    return cli_usage_error("chip", "--out FILE.h5 is required");
  if (sl_bss2_export_truth((uint64_t)seed, out))
    return cli_fail(out);
  printf("wrote the hidden parameters of chip %ld to %s\n", seed, out);
  return 0;
}
