/* main.c -- entry point of the spikeloop command-line tool: dispatches to
 * the commands (train, eval, dataset) and prints the top-level help. */
#include "config.h"
#include "cli.h"
#include "spikeloop/spikeloop.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_MPI
#include <mpi.h>
#endif

int cli_fail(const char *context)
{
  fprintf(stderr, "spikeloop: %s: %s\n", context, sl_last_error());
  return 1;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "spikeloop%s%s: ", command ? " " : "", command ? command : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(run 'spikeloop%s%s --help' for usage)\n", command ? " " : "",
          command ? command : "");
  return 2;
}

int cli_is_help(const char *s) { return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0; }

int cli_parse_long(const char *text, long min, long max, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max)
    return 1;
  *out = v;
  return 0;
}

static void usage(FILE *f)
{
  fprintf(f,
          "spikeloop %s -- train spiking neural networks in the loop with imperfect hardware\n"
          "\n"
          "usage: spikeloop [COMMAND] [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  train     train a network (the default command: Yin-Yang, 5-120-3, ideal simulator)\n"
          "  eval      re-evaluate the final model stored in a run log\n"
          "  dataset   write a data set to HDF5 for inspection\n"
          "  experiment  run a published experiment (--list shows them)\n"
          "  chip      inspect an emulated chip (chip truth: its hidden mismatch)\n"
          "  bench     time the benchmark workloads: W1, W2, W3 (WORKLOADS.md), C1, C2 (CIM.md)\n"
          "  characterise  record how each neuron of a chip responds (calibration protocols)\n"
          "  fit       fit every neuron of a characterisation recording: a digital twin\n"
          "  calibrate search each neuron's configuration so that it meets common targets\n"
          "\n"
          "options:\n"
          "  -h, --help     this help; 'spikeloop COMMAND --help' for a command's options\n"
          "  --version      print the version and git revision\n"
          "\n"
          "Run without arguments, spikeloop runs 'train' with every default and logs to\n"
          "spikeloop_run.h5.\n",
          sl_version());
}

static int dispatch(int argc, char **argv)
{
  if (argc < 2)
    return cmd_train(0, argv + 1);
  const char *cmd = argv[1];
  if (cli_is_help(cmd)) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("spikeloop %s (git %s)\n", sl_version(), sl_git_revision());
    return 0;
  }
  if (strcmp(cmd, "train") == 0)
    return cmd_train(argc - 2, argv + 2);
  if (strcmp(cmd, "eval") == 0)
    return cmd_eval(argc - 2, argv + 2);
  if (strcmp(cmd, "dataset") == 0)
    return cmd_dataset(argc - 2, argv + 2);
  if (strcmp(cmd, "experiment") == 0)
    return cmd_experiment(argc - 2, argv + 2);
  if (strcmp(cmd, "chip") == 0)
    return cmd_chip(argc - 2, argv + 2);
  if (strcmp(cmd, "bench") == 0)
    return cmd_bench(argc - 2, argv + 2);
  if (strcmp(cmd, "characterise") == 0)
    return cmd_characterise(argc - 2, argv + 2);
  if (strcmp(cmd, "fit") == 0)
    return cmd_fit(argc - 2, argv + 2);
  if (strcmp(cmd, "calibrate") == 0)
    return cmd_calibrate(argc - 2, argv + 2);
  if (cmd[0] == '-')
    return cmd_train(argc - 1, argv + 1); /* options of the default command */
  return cli_usage_error(NULL, "unknown command '%s' (known: train, eval, dataset, experiment, "
                         "chip, bench, characterise, fit, calibrate)", cmd);
}

int main(int argc, char **argv)
{
  sl_clear_error();
#ifdef HAVE_MPI
  /* `train` and `bench` started by mpirun train data-parallel (README
   * "Data-parallel training over MPI"); everything else, and both started
   * without mpirun, run without initialising MPI */
  int train = argc < 2 || strcmp(argv[1], "train") == 0 || strcmp(argv[1], "bench") == 0 ||
              argv[1][0] == '-';
  int launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
  if (train && launched) {
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
      fprintf(stderr, "spikeloop: MPI_Init failed\n");
      return 1;
    }
    int rc = dispatch(argc, argv);
    if (rc)
      MPI_Abort(MPI_COMM_WORLD, rc);
    MPI_Finalize();
    return rc;
  }
#endif
  return dispatch(argc, argv);
}
