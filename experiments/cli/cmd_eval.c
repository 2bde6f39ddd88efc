/* cmd_eval.c -- `spikeloop eval --log FILE.h5`: rebuild the final model of a
 * run log and evaluate it on its test set. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop eval --log FILE.h5 [--threads N]\n"
         "\n"
         "Rebuild the network stored in a complete run log (config, /params, /mismatch)\n"
         "and print its accuracy, loss and hidden activity on the run's test set.\n");
}

int cmd_eval(int argc, char **argv)
{
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  const cli_spec spec = {"eval", usage, CLI_LOG | CLI_THREADS, 1, NULL, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  const char *log_path = sh.log;
  if (!log_path)
    return cli_usage_error("eval", "--log FILE.h5 is required");
  if (cli_apply_threads(&sh))
    return 1;
  sl_eval_result res;
  if (sl_run_eval(log_path, &res))
    return cli_fail("eval");
  printf("%s: test accuracy %.2f%%  loss %.4f  hidden spikes/neuron/sample %.3f\n", log_path,
         100 * res.accuracy, res.loss, res.hidden_rate);
  return 0;
}
