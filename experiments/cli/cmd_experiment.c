/* cmd_experiment.c -- `spikeloop experiment NAME [--log FILE.h5] [--set ...]`
 * and `spikeloop experiment --list`. */
#include "config.h"
#include "cli.h"
#include "cli_calib.h"
#include "experiments.h"

#include <stdio.h>
#include <string.h>

static const experiment *const all[] = {&exp_yinyang_loop, &exp_mismatch_sweep,
                                        &exp_fashion16_loop, &exp_twin_loop,
                                        &exp_mcnn_hybrid, NULL};

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
  if (argc < 1 || cli_is_help(argv[0])) {
    usage();
    return argc < 1 ? 2 : 0;
  }
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
  const char *log_path = default_log;
  long threads = 0;
  const char *calib = NULL;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && sl_config_load(&cfg, argv[++i]))
      return cli_fail("config");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is_help(a)) {
      usage();
      return 0;
    } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
      i++;
    } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
      if (sl_config_set_pair(&cfg, argv[++i]))
        return cli_fail("--set");
    } else if (strcmp(a, "--log") == 0 && i + 1 < argc) {
      log_path = argv[++i];
    } else if (strcmp(a, "--calib") == 0 && i + 1 < argc) {
      calib = argv[++i];
    } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
      if (cli_parse_long(argv[++i], 1, 4096, &threads))
        return cli_usage_error("experiment", "--threads needs a positive integer");
    } else {
      return cli_usage_error("experiment", "unknown or incomplete option '%s'", a);
    }
  }
  if (calib && cli_append_calib(&cfg, calib))
    return cli_fail("--calib");
  if (sl_config_validate(&cfg))
    return cli_fail("config");
  if (threads && sl_set_num_threads((int)threads))
    return cli_fail("--threads");
  char command[160];
  snprintf(command, sizeof command, "experiment %s", e->name);
  sl_run_meta meta = {command, cfg.seed, sl_get_num_threads()};
  sl_runlog *log = NULL;
  if (sl_runlog_create(&log, log_path, &cfg, &meta))
    return cli_fail(log_path);
  printf("spikeloop %s: experiment %s, %d thread(s); log %s\n", sl_version(), e->name,
         sl_get_num_threads(), log_path);
  fflush(stdout);
  int rc = e->run(&cfg, log);
  int rc2 = sl_runlog_close(log);
  if (rc || rc2)
    return cli_fail(e->name);
  printf("log written to %s\n", log_path);
  return 0;
}
