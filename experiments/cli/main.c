/* main.c -- entry point of the spikeloop command-line tool: looks the command
 * up in the command table, dispatches to it and prints the top-level help
 * (its command list is generated from the table). */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_MPI
#include <mpi.h>
#endif

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;  /* its line in the top-level --help */
  int data_parallel; /* started by mpirun, it runs over MPI (trains data-parallel, or
                        splits the chips of characterise / fit --chip-seed LIST) */
} command;

static const command commands[] = {
    {"train", cmd_train,
     "train a network (the default command: Yin-Yang, 5-120-3, ideal simulator)", 1},
    {"eval", cmd_eval, "re-evaluate the final model stored in a run log", 0},
    {"dataset", cmd_dataset, "write a data set to HDF5 for inspection", 0},
    {"experiment", cmd_experiment, "run a published experiment (--list shows them)", 0},
    {"chip", cmd_chip, "inspect an emulated chip (chip truth: its hidden mismatch)", 0},
    {"bench", cmd_bench,
     "time the benchmark workloads: W1, W2, W3 (WORKLOADS.md), C1, C2 (CIM.md)", 1},
    {"characterise", cmd_characterise,
     "record how each neuron (bss2) or device (memristor) of a chip responds", 1},
    {"fit", cmd_fit, "fit a characterisation recording: a digital twin (or crossbar map)", 1},
    {"twin", cmd_twin, "merge twins of disjoint neuron sets (twin merge A.h5 B.h5 --out T.h5)", 0},
    {"calibrate", cmd_calibrate, "search each neuron's configuration so that it meets common targets",
     0},
    {"export", cmd_export, "write the network of a run log as a NIR graph (HDF5)", 0},
    {"import", cmd_import, "read a NIR graph into a run log (for eval and train --init)", 0},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command *find(const char *name)
{
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void usage(FILE *f)
{
  fprintf(f,
          "spikeloop %s -- train spiking neural networks in the loop with imperfect hardware\n"
          "\n"
          "usage: spikeloop [COMMAND] [OPTIONS]\n"
          "\n"
          "commands:\n",
          sl_version());
  for (size_t i = 0; i < N_COMMANDS; i++) /* names longer than the column get two spaces */
    fprintf(f, "  %-9s%s%s\n", commands[i].name, strlen(commands[i].name) > 9 ? "  " : " ",
            commands[i].help);
  fprintf(f, "\n"
             "options:\n"
             "  -h, --help     this help; 'spikeloop COMMAND --help' for a command's options\n"
             "  --version      print the version and git revision\n"
             "\n"
             "Run without arguments, spikeloop runs 'train' with every default and logs to\n"
             "spikeloop_run.h5.\n");
}

static int unknown_command(const char *name)
{
  char known[256] = "";
  for (size_t i = 0; i < N_COMMANDS; i++)
    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
             commands[i].name);
  return cli_usage_error(NULL, "unknown command '%s' (known: %s)", name, known);
}

static int dispatch(int argc, char **argv)
{
  if (argc < 2)
    return cmd_train(0, argv + 1);
  const char *name = argv[1];
  if (cli_is_help(name)) {
    usage(stdout);
    return 0;
  }
  if (strcmp(name, "--version") == 0) {
    printf("spikeloop %s (git %s)\n", sl_version(), sl_git_revision());
    return 0;
  }
  const command *c = find(name);
  if (c)
    return c->fn(argc - 2, argv + 2);
  if (name[0] == '-')
    return cmd_train(argc - 1, argv + 1); /* options of the default command */
  return unknown_command(name);
}

int main(int argc, char **argv)
{
  sl_clear_error();
  /* a typo in SPIKELOOP_ISA, or a path this CPU lacks, is an error rather
   * than a silent fallback: the figures measured would name the wrong path */
  if (sl_isa_init()) {
    fprintf(stderr, "spikeloop: %s\n", sl_last_error());
    return 1;
  }
#ifdef HAVE_MPI
  /* `train` and `bench` started by mpirun train data-parallel (README
   * "Data-parallel training over MPI"), `characterise` and `fit` split their
   * chips over the ranks; everything else, and these started without
   * mpirun, run without initialising MPI */
  const command *c = argc < 2 ? NULL : find(argv[1]);
  int train = argc < 2 || (c && c->data_parallel) || argv[1][0] == '-';
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
