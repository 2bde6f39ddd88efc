/* cmd_experiment.c -- `spikeloop experiment NAME [--log FILE.h5] [--set ...]`
 * and `spikeloop experiment --list`. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "experiments.h"

#include <stdio.h>
#include <string.h>

static const experiment *const all[] = {&exp_yinyang_loop, &exp_mismatch_sweep,
                                        &exp_fashion16_loop, &exp_shd_loop, &exp_twin_loop,
                                        &exp_mcnn_hybrid, &exp_dynresnet,
                                        &exp_ternary_noise, &exp_dynpointnet, NULL};

static void usage(void)
{
  printf("usage: spikeloop experiment NAME [--log FILE.h5] [--config FILE] [--set key=value ...]\n"
         "                                [--calib FILE.h5] [--threads N]\n"
         "       spikeloop experiment --list\n"
         "\n"
         "Run a published experiment. Its own settings are applied over the defaults,\n"
         "then --config and --set. The log (default NAME.h5) holds the headline\n"
         "figures as /summary attributes. --calib FILE.h5 loads a chip calibration\n"
         "(spikeloop calibrate) into the backend (calib=FILE in backend.options).\n");
}

static void list(void)
{
  for (size_t i = 0; all[i]; i++)
    printf("  %-16s %s\n", all[i]->name, all[i]->description);
}

int cmd_experiment(int argc, char **argv)
{
  int rc = cli_first(usage, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (strcmp(argv[0], "--list") == 0) {
    list();
    return 0;
  }
  const experiment *e = NULL;
  for (size_t i = 0; all[i]; i++)
    if (strcmp(all[i]->name, argv[0]) == 0)
      e = all[i];
  if (!e) {
    fprintf(stderr, "spikeloop experiment: unknown experiment '%s'; known:\n", argv[0]);
    for (size_t i = 0; all[i]; i++)
      fprintf(stderr, "  %s\n", all[i]->name);
    return 2;
  }
  sl_config cfg;
  sl_config_defaults(&cfg);
  for (const char *const *d = e->defaults; *d; d++)
    if (sl_config_set_pair(&cfg, *d))
      return cli_fail(e->name);
  char default_log[128];
  snprintf(default_log, sizeof default_log, "%s.h5", e->name);
  cli_shared sh = {&cfg, default_log, NULL, NULL, NULL, 0};
  const cli_spec spec = {"experiment", usage,
                         CLI_CONFIG | CLI_SET | CLI_LOG | CLI_CALIB | CLI_THREADS, 1, NULL, NULL};
  rc = cli_parse(&spec, &sh, argc - 1, argv + 1);
  if (rc != CLI_RUN)
    return rc;
  const char *log_path = sh.log;
  if (sl_config_validate(&cfg))
    return cli_fail("config");
  if (e->check && e->check(&cfg))
    return cli_fail(e->name);
  if (cli_apply_threads(&sh))
    return 1;
  char command[160];
  snprintf(command, sizeof command, "experiment %s", e->name);
  sl_run_meta meta = {command, cfg.seed, sl_get_num_threads()};
  sl_runlog *log = NULL;
  if (sl_runlog_create(&log, log_path, &cfg, &meta))
    return cli_fail(log_path);
  printf("spikeloop %s: experiment %s, %d thread(s); log %s\n", sl_version(), e->name,
         sl_get_num_threads(), log_path);
  fflush(stdout);
  rc = e->run(&cfg, log);
  int rc2 = sl_runlog_close(log);
  if (rc || rc2)
    return cli_fail(e->name);
  printf("log written to %s\n", log_path);
  return 0;
}
