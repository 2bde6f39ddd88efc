/* cmd_experiment.c -- `spikeloop experiment NAME [--log FILE.h5] [--set ...]`,
 * `spikeloop experiment NAME --resume LOG.h5` (continue a killed run: its
 * logged training session restores its checkpoint, exp_session_train; a
 * multi-phase experiment reads its stored phases back, phase_ckpt.c) and
 * `spikeloop experiment --list`. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "experiments.h"

#include <stdio.h>
#include <string.h>

static const experiment *const all[] = {&exp_yinyang_loop, &exp_mismatch_sweep,
                                        &exp_fashion16_loop, &exp_shd_loop, &exp_twin_loop,
                                        &exp_mcnn_hybrid, &exp_dynresnet,
                                        &exp_ternary_noise, &exp_dynpointnet,
                                        &exp_memristor_twin, NULL};

static void usage(void)
{
  printf("usage: spikeloop experiment NAME [--log FILE.h5] [--config FILE] [--set key=value ...]\n"
         "                                [--calib FILE.h5] [--threads N]\n"
         "       spikeloop experiment NAME --resume LOG.h5 [--threads N]\n"
         "       spikeloop experiment --list\n"
         "\n"
         "Run a published experiment. Its own settings are applied over the defaults,\n"
         "then --config and --set. The log (default NAME.h5) holds the headline\n"
         "figures as /summary attributes. --calib FILE.h5 loads a chip calibration\n"
         "(spikeloop calibrate) into the backend (calib=FILE in backend.options).\n"
         "--resume LOG.h5 continues the killed run NAME of LOG.h5: its phases without a\n"
         "log run again (seeded: the same results), its logged training continues from\n"
         "the last checkpoint (yinyang_loop, fashion16_loop, twin_loop, dynresnet,\n"
         "dynpointnet, ternary_noise); mismatch_sweep, mcnn_hybrid and memristor_twin\n"
         "read their finished phases back from the log and run the one in progress\n"
         "again, its training from its last checkpoint.\n"
         "Settings given as well must repeat the logged ones.\n");
}

static void list(void)
{
  for (size_t i = 0; all[i]; i++)
    printf("  %-16s %s\n", all[i]->name, all[i]->description);
}

/* The first key whose value differs between a and b, or NULL. */
static const char *config_diff(const sl_config *a, const sl_config *b, char *va, char *vb,
                               size_t len)
{
  for (size_t i = 0; i < sl_config_num_keys(); i++)
    if (sl_config_get_index(a, i, va, len) || sl_config_get_index(b, i, vb, len) ||
        strcmp(va, vb) != 0)
      return sl_config_key_name(i);
  return NULL;
}

/* --resume LOG.h5: the log must be of experiment e, with a checkpoint and
 * not finished; settings given (cfg differs from the experiment's own,
 * given0) must equal the logged ones. */
static int resume_experiment(const experiment *e, const char *path, const sl_config *cfg,
                             const sl_config *given0, const cli_shared *sh)
{
  static sl_config logged;
  static char va[4096], vb[4096];
  char command[160], want[160];
  long epoch = 0;
  double done;
  logged = *given0;
  snprintf(want, sizeof want, "experiment %s", e->name);
  sl_runlog_reader *r = NULL;
  if (sl_runlog_open(&r, path) || sl_runlog_read_config(r, &logged) ||
      sl_runlog_get_meta(r, "command", command, sizeof command)) {
    sl_runlog_reader_close(r);
    return cli_fail("--resume");
  }
  int finished = sl_runlog_get_summary(r, "test_accuracy", &done) == SL_OK;
  int no_ckpt = !finished && strcmp(command, want) == 0 && sl_runlog_ckpt_epoch(r, &epoch);
  sl_runlog_reader_close(r);
  if (strcmp(command, want) != 0) {
    fprintf(stderr, "spikeloop: --resume: '%s' is the log of '%s', not of '%s'\n", path, command,
            want);
    return 1;
  }
  if (finished) {
    fprintf(stderr, "spikeloop: --resume: '%s': the run finished (it has /summary): nothing to "
                    "resume\n", path);
    return 1;
  }
  if (no_ckpt && !e->phased)
    return cli_fail("--resume");
  if (e->phased)
    epoch = 0; /* its trainings log no /metrics rows */
  sl_clear_error();
  const char *key = config_diff(cfg, given0, va, vb, sizeof va) ? config_diff(cfg, &logged, va,
                                                                               vb, sizeof va)
                                                                : NULL;
  if (key) {
    fprintf(stderr, "spikeloop: --resume: '%s': the configuration differs from the logged "
                    "run's: %s is '%s' given, '%s' in the log\n", path, key, va, vb);
    return 1;
  }
  if (cli_apply_threads(sh))
    return 1;
  sl_runlog *log = NULL;
  if (sl_runlog_reopen(&log, path, epoch))
    return cli_fail("--resume");
  if (e->phased)
    printf("spikeloop %s: experiment %s resumed: stored phases read back, the phase in progress "
           "run again (its training from its last checkpoint), %d thread(s); log %s\n",
           sl_version(), e->name, sl_get_num_threads(), path);
  else
    printf("spikeloop %s: experiment %s resumed after epoch %ld of its logged training, %d "
           "thread(s); log %s\n", sl_version(), e->name, epoch, sl_get_num_threads(), path);
  fflush(stdout);
  exp_phase_reset();
  exp_set_resume(path);
  int rc = e->run(&logged, log);
  exp_set_resume(NULL);
  int rc2 = sl_runlog_close(log);
  if (rc || rc2)
    return cli_fail(e->name);
  printf("log written to %s\n", path);
  return 0;
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
  const char *resume = NULL;
  const cli_option own[] = {
      {.name = "--resume", .kind = CLI_TEXT, .out = &resume, .needs = "a run log (FILE.h5)"},
      {0}};
  const sl_config given0 = cfg;
  const cli_spec spec = {"experiment", usage,
                         CLI_CONFIG | CLI_SET | CLI_LOG | CLI_CALIB | CLI_THREADS, 1, own, NULL};
  rc = cli_parse(&spec, &sh, argc - 1, argv + 1);
  if (rc != CLI_RUN)
    return rc;
  if (resume && strcmp(sh.log, default_log) != 0 && strcmp(sh.log, resume) != 0)
    return cli_usage_error("experiment", "--resume appends to its own log: --log %s is another "
                           "file", sh.log);
  if (resume)
    return resume_experiment(e, resume, &cfg, &given0, &sh);
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
