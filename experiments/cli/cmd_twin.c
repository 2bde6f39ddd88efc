/* cmd_twin.c -- `spikeloop twin merge A.h5 B.h5 ... --out T.h5`: one twin
 * from twins fitted on disjoint sets of neurons (sl_twin_merge), e.g. a
 * chip characterised in parts, or recordings of different days. The
 * inputs must be for the same dt and must not share a neuron. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/fit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop twin merge A.h5 B.h5 [C.h5 ...] --out TWIN.h5\n"
         "\n"
         "Merge twins (spikeloop fit --out) of disjoint neuron sets into one: each\n"
         "neuron's parameters, standard errors, refractory steps and seconds and flags\n"
         "come from the one input that characterised it; neurons none characterised stay\n"
         "flagged so (bit 31) and take the medians. The inputs must be for the same dt\n"
         "(fit --dt) and characterise no neuron twice; n_neurons is the largest input's.\n"
         "\n"
         "  --out TWIN.h5   the merged twin (required)\n");
}

int cmd_twin(int argc, char **argv)
{
  int rc = cli_first(usage, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (strcmp(argv[0], "merge") != 0)
    return cli_usage_error("twin", "unknown subcommand '%s' (known: merge)", argv[0]);
  const char *out = NULL;
  const char **paths = malloc((size_t)(argc > 1 ? argc : 1) * sizeof *paths);
  size_t n = 0;
  if (!paths)
    return cli_usage_error("twin", "out of memory");
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage();
      free(paths);
      return 0;
    }
    if (strcmp(argv[i], "--out") == 0) {
      if (i + 1 >= argc) {
        free(paths);
        return cli_usage_error("twin", "--out needs a file name");
      }
      out = argv[++i];
    } else if (argv[i][0] == '-') {
      free(paths);
      return cli_usage_error("twin", "unknown option '%s'", argv[i]);
    } else {
      paths[n++] = argv[i];
    }
  }
  if (!out) {
    free(paths);
    return cli_usage_error("twin", "--out TWIN.h5 is required");
  }
  if (n < 2) {
    free(paths);
    return cli_usage_error("twin", "merge needs at least two twins (got %zu)", n);
  }
  rc = sl_twin_merge(paths, n, out);
  if (!rc)
    printf("merged %zu twins into %s\n", n, out);
  free(paths);
  return rc ? cli_fail("twin merge") : 0;
}
