/* cmd_nir.c -- `spikeloop export` and `spikeloop import`: a run log's
 * network as a NIR graph (HDF5, spikeloop/nir.h) and back. Import writes a
 * complete run log (evaluated on the configuration's test set) that `eval`
 * and `train --init` accept. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"
#include "spikeloop/nir.h"

#include <stdio.h>
#include <string.h>

static void export_usage(void)
{
  printf("usage: spikeloop export --log RUN.h5 --out NET.nir\n"
         "\n"
         "Write the final network of a complete run log as a NIR graph (HDF5): Linear\n"
         "weights, CubaLIF hidden layers (a Linear cycle for recurrent ones), a CubaLI\n"
         "readout, every per-neuron parameter as an array; the run's configuration goes\n"
         "to /spikeloop, which other NIR readers ignore. See README.md (NIR).\n");
}

int cmd_export(int argc, char **argv)
{
  const char *out = NULL;
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"}, {0}};
  const cli_spec spec = {"export", export_usage, CLI_LOG, 0, own, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (!sh.log || !out)
    return cli_usage_error("export", "--log RUN.h5 and --out NET.nir are required");
  sl_config cfg;
  sl_net *net = NULL;
  if (sl_run_load_net(sh.log, &cfg, &net))
    return cli_fail("export");
  rc = sl_nir_write(out, net, &cfg);
  sl_net_free(net);
  if (rc)
    return cli_fail("export");
  printf("%s: network written to %s (NIR)\n", sh.log, out);
  return 0;
}

static void import_usage(void)
{
  printf("usage: spikeloop import NET.nir --out RUN.h5 [--config FILE] [--set key=value ...]\n"
         "                        [--threads N]\n"
         "\n"
         "Read a NIR graph (HDF5) of the shape Input -> synapses -> spiking layer (LIF,\n"
         "CubaLIF, IF; optionally recurrent) -> ... -> synapses -> LI / CubaLI -> Output\n"
         "into a run log whose network `eval` evaluates and `train --init` trains from.\n"
         "The configuration is the defaults, then the one a spikeloop export stored,\n"
         "then --config and --set; net.hidden and net.recurrent come from the graph.\n"
         "net.dt is the time step the graph is discretised with. The network is\n"
         "evaluated on the configuration's test set (its data must have the graph's\n"
         "inputs and outputs).\n");
}

int cmd_import(int argc, char **argv)
{
  int rc = cli_first(import_usage, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  const char *nir = argv[0], *out = NULL;
  if (nir[0] == '-')
    return cli_usage_error("import", "the first argument must be the NIR file");
  sl_config cfg;
  sl_config_defaults(&cfg);
  int found = 0;
  if (sl_nir_read_config(nir, &cfg, &found))
    return cli_fail("import");
  cli_shared sh = {&cfg, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--out", .kind = CLI_TEXT, .out = &out, .needs = "a file name"}, {0}};
  const cli_spec spec = {"import", import_usage, CLI_CONFIG | CLI_SET | CLI_THREADS, 0, own, NULL};
  rc = cli_parse(&spec, &sh, argc - 1, argv + 1);
  if (rc != CLI_RUN)
    return rc;
  if (!out)
    return cli_usage_error("import", "--out RUN.h5 is required");
  if (cli_apply_threads(&sh))
    return 1;
  sl_net *net = NULL;
  if (sl_nir_read(nir, &cfg, !found, &net))
    return cli_fail("import");
  char command[600];
  snprintf(command, sizeof command, "import %s", nir);
  sl_run_meta meta = {command, cfg.seed, sl_get_num_threads()};
  sl_eval_result res;
  const size_t n_in = sl_net_get_spec(net)->n_in, n_out = sl_net_get_spec(net)->n_out;
  rc = sl_run_save_net(&cfg, net, out, &meta, &res);
  sl_net_free(net);
  if (rc)
    return cli_fail("import");
  char hidden[256];
  sl_config_get(&cfg, "net.hidden", hidden, sizeof hidden);
  printf("%s: network %zu-%s-%zu imported to %s; test accuracy %.2f%% on %s\n", nir, n_in,
         hidden, n_out, out, 100 * res.accuracy, cfg.dataset);
  return 0;
}
