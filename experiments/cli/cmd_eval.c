/* cmd_eval.c -- `spikeloop eval --log FILE.h5`: rebuild the final model of a
 * run log and evaluate it on its test set. */
#include "config.h"
#include "cli.h"
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
  const char *log_path = NULL;
  long threads = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      usage();
      return 0;
    } else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
      log_path = argv[++i];
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      if (cli_parse_long(argv[++i], 1, 4096, &threads))
        return cli_usage_error("eval", "--threads needs a positive integer");
    } else {
      return cli_usage_error("eval", "unknown or incomplete option '%s'", argv[i]);
    }
  }
  if (!log_path)
    return cli_usage_error("eval", "--log FILE.h5 is required");
  if (threads && sl_set_num_threads((int)threads))
    return cli_fail("--threads");
  sl_eval_result res;
  if (sl_run_eval(log_path, &res))
    return cli_fail("eval");
  printf("%s: test accuracy %.2f%%  loss %.4f  hidden spikes/neuron/sample %.3f\n", log_path,
         100 * res.accuracy, res.loss, res.hidden_rate);
  return 0;
}
