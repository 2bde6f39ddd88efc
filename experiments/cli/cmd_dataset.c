/* cmd_dataset.c -- `spikeloop dataset yinyang --n N --seed S --out FILE.h5`:
 * write generated samples (/x float (N,4), /y int32 (N)) for inspection. */
#include "config.h"
#include "cli.h"
#include "spikeloop/spikeloop.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop dataset yinyang [--n N] [--seed S] --out FILE.h5\n"
         "\n"
         "Generate a data set and write it to HDF5: /x float32 (N, dim), /y int32 (N),\n"
         "root attribute n_classes. Yin-Yang features are [x, y, 1-x, 1-y] (no bias).\n"
         "Defaults: --n 5000 --seed 1 (the default training set).\n");
}

int cmd_dataset(int argc, char **argv)
{
  if (argc < 1 || cli_is_help(argv[0])) {
    usage();
    return argc < 1 ? 2 : 0;
  }
  if (strcmp(argv[0], "yinyang") != 0)
    return cli_usage_error("dataset", "unknown data set '%s' (known: yinyang)", argv[0]);
  long n = 5000, seed = 1;
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage();
      return 0;
    } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
      if (cli_parse_long(argv[++i], 1, 100000000L, &n))
        return cli_usage_error("dataset", "--n needs a positive integer");
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      if (cli_parse_long(argv[++i], 0, 0x7fffffffffffffffL, &seed))
        return cli_usage_error("dataset", "--seed needs a non-negative integer");
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else {
      return cli_usage_error("dataset", "unknown or incomplete option '%s'", argv[i]);
    }
  }
  if (!out)
    return cli_usage_error("dataset", "--out FILE.h5 is required");
  sl_dataset d = {0};
  if (sl_yinyang_generate(&d, (size_t)n, (uint64_t)seed))
    return cli_fail("dataset");
  int rc = sl_dataset_save_h5(&d, out);
  sl_dataset_free(&d);
  if (rc)
    return cli_fail(out);
  printf("wrote %ld Yin-Yang samples (seed %ld) to %s\n", n, seed, out);
  return 0;
}
