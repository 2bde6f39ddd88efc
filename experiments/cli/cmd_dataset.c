/* cmd_dataset.c -- `spikeloop dataset yinyang --n N --seed S --out FILE.h5`:
 * write generated samples (/x float (N,4), /y int32 (N)) for inspection. */
#include "config.h"
#include "cli.h"
#include "commands.h"
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
  int rc = cli_first(usage, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (strcmp(argv[0], "yinyang") != 0)
    return cli_usage_error("dataset", "unknown data set '%s' (known: yinyang)", argv[0]);
  long n = 5000, seed = 1;
  const char *out = NULL;
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--n", .kind = CLI_LONG, .out = &n, .needs = "a positive integer", .min = 1,
       .max = 100000000L},
      CLI_SEED_OPTION("--seed", &seed),
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"},
      {0}};
  const cli_spec spec = {"dataset", usage, 0, 1, own, NULL};
  rc = cli_parse(&spec, &sh, argc - 1, argv + 1);
  if (rc != CLI_RUN)
    return rc;
  if (!out)
    return cli_usage_error("dataset", "--out FILE.h5 is required");
  sl_dataset d = {0};
  if (sl_yinyang_generate(&d, (size_t)n, (uint64_t)seed))
    return cli_fail("dataset");
  rc = sl_dataset_save_h5(&d, out);
  sl_dataset_free(&d);
  if (rc)
    return cli_fail(out);
  printf("wrote %ld Yin-Yang samples (seed %ld) to %s\n", n, seed, out);
  return 0;
}
