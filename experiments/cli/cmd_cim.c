/* cmd_cim.c -- `spikeloop cim-bench C1|C2 --data DIR`: CIM.md's crossbar
 * workloads (C1 noisy, C2 ideal MVMs of 1000 vectors through a 784 x 256
 * matrix on 112 tiles) through the library's CIM layer; prints
 * "C1 mvm_per_s=... rel_err=... rss_mb=..." (see experiments/bench_cim.c). */
#include "config.h"
#include "cli.h"
#include "bench_cim.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop cim-bench C1|C2 [--data DIR]\n"
         "\n"
         "Run a crossbar workload of ../shared/bench/CIM.md on its data directory\n"
         "(w.f32, x.f32, y_ref.f64, manifest.json; default ../shared/bench/cim-data):\n"
         "  C1  mvm-noisy: 8-level devices, 5%% programming and 2%% read noise, 8-bit DAC/ADC\n"
         "  C2  mvm-ideal: the same tiles with every non-ideality off (and one sgemm)\n"
         "Prints 'ID mvm_per_s=... rel_err=... rss_mb=...' (median of 10 timed batches).\n");
}

int cmd_cim(int argc, char **argv)
{
  const char *id = NULL, *dir = "../shared/bench/cim-data";
  for (int i = 0; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage();
      return 0;
    } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (!id && argv[i][0] != '-') {
      id = argv[i];
    } else {
      return cli_usage_error("cim-bench", "unknown or incomplete option '%s'", argv[i]);
    }
  }
  if (!id)
    return cli_usage_error("cim-bench", "name a workload: C1 or C2");
  if (strcmp(id, "C1") != 0 && strcmp(id, "C2") != 0)
    return cli_usage_error("cim-bench", "unknown workload '%s' (known: C1, C2)", id);
  if (sl_cim_bench(id, dir, stdout))
    return cli_fail(id);
  return 0;
}
