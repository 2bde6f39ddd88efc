/* cmd_chip.c -- `spikeloop chip truth --chip-seed S --out FILE.h5`: export
 * the hidden per-neuron parameters of an emulated BrainScaleS-2 chip, for
 * tests and for checking calibration (training never reads them). */
#include "config.h"
#include "cli.h"
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
  if (argc < 1 || cli_is_help(argv[0])) {
    usage();
    return argc < 1 ? 2 : 0;
  }
  if (strcmp(argv[0], "truth") != 0)
    return cli_usage_error("chip", "unknown subcommand '%s' (known: truth)", argv[0]);
  long seed = 1;
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage();
      return 0;
    } else if (strcmp(argv[i], "--chip-seed") == 0 && i + 1 < argc) {
      if (cli_parse_long(argv[++i], 0, 0x7fffffffffffffffL, &seed))
        return cli_usage_error("chip", "--chip-seed needs a non-negative integer");
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else {
      return cli_usage_error("chip", "unknown or incomplete option '%s'", argv[i]);
    }
  }
  if (!out)
    return cli_usage_error("chip", "--out FILE.h5 is required");
  if (sl_bss2_export_truth((uint64_t)seed, out))
    return cli_fail(out);
  printf("wrote the hidden parameters of chip %ld to %s\n", seed, out);
  return 0;
}
