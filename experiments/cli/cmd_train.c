/* cmd_train.c -- `spikeloop train`: configure, train with per-epoch
 * progress, write the HDF5 run log, print the final accuracy; or, with
 * --resume LOG.h5, continue a killed run from its last checkpoint. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop train [--config FILE] [--set key=value ...] [--log FILE.h5]\n"
         "                       [--backend NAME] [--record FILE.h5] [--calib FILE.h5]\n"
         "                       [--init RUN.h5] [--threads N]\n"
         "                       [--mem-limit BYTES] [--dry-run] [--print-config] [--quiet]\n"
         "       spikeloop train --resume LOG.h5 [--threads N] [--quiet]\n"
         "\n"
         "Train a spiking network as the configuration says and log the run to HDF5.\n"
         "The log gets a checkpoint at the end of every epoch (weights, optimiser\n"
         "state, the backend's state), so that a run killed at any point continues\n"
         "with --resume.\n"
         "\n"
         "  --config FILE     read settings from an INI-style key=value file\n"
         "  --set key=value   override one setting (repeatable; applied after --config)\n"
         "  --log FILE.h5     run log (default: spikeloop_run.h5)\n"
         "  --backend NAME    run the forward pass on a backend and train in the loop:\n"
         "                    ideal (default: plain simulation), bss2 (the emulated\n"
         "                    BrainScaleS-2 chip), memristor, replay, or a plugin (same as\n"
         "                    --set backend.name=NAME; options: --set backend.options=...)\n"
         "  --record FILE.h5  record every weight write and observation of the backend\n"
         "  --calib FILE.h5   load a calibration (spikeloop calibrate) into the backend:\n"
         "                    appends calib=FILE.h5 to backend.options\n"
         "  --init RUN.h5     start from a run log: its configuration (options after\n"
         "                    --init apply on top) and its network (weights and\n"
         "                    per-neuron parameters), e.g. a log of spikeloop import\n"
         "  --threads N       OpenMP threads (default: all cores)\n"
         "  --resume LOG.h5   continue the killed run of LOG.h5 from its last complete\n"
         "                    epoch, with the configuration of the log, appending to it;\n"
         "                    the result equals an uninterrupted run's (bit-identical on\n"
         "                    the ideal, bss2 and memristor backends; see README.md).\n"
         "                    --config/--set/--backend given as well must repeat the\n"
         "                    logged configuration exactly\n"
         "  --mem-limit BYTES refuse to start when the estimated peak memory exceeds\n"
         "                    BYTES (suffix K, M, G, T: powers of 1024; default: the\n"
         "                    MemAvailable of /proc/meminfo)\n"
         "  --dry-run         print the estimate of peak memory (weights, optimiser\n"
         "                    moments, states over steps x batch x neurons kept for\n"
         "                    backpropagation, data) and whether it fits, then exit\n"
         "                    (status 1 if it does not fit)\n"
         "  --print-config    print every setting with its help and exit (with the\n"
         "                    memory estimate as comments at the end)\n"
         "  --quiet           no per-epoch progress lines\n"
         "\n"
         "Progress: one line per epoch with loss, train / validation / test accuracy,\n"
         "hidden spikes per neuron per sample and seconds. The default run is Yin-Yang\n"
         "on a 5-120-3 network in the ideal simulator. See README.md for the keys and\n"
         "the run-log format, or run with --print-config.\n");
}

/* --record FILE.h5: backend.record of the config, in order with --set */
static int set_record(void *cfg, const char *value, const char *command)
{
  return sl_config_set(cfg, "backend.record", value) ? cli_fail("--record") : 0;
}

/* --init RUN.h5: the run's configuration (/config) over what came before,
 * and its network as the start (train.init); options after it apply on top */
static int set_init(void *cfg, const char *value, const char *command)
{
  sl_runlog_reader *r = NULL;
  int rc = sl_runlog_open(&r, value);
  if (!rc)
    rc = sl_runlog_read_config(r, cfg);
  sl_runlog_reader_close(r);
  if (!rc)
    rc = sl_config_set(cfg, "train.init", value);
  return rc ? cli_fail("--init") : 0;
}

/* --mem-limit BYTES: a byte count with an optional K/M/G/T suffix (1024^k) */
static int set_mem_limit(void *out, const char *value, const char *command)
{
  char *end = NULL;
  double v = strtod(value, &end);
  double scale = 1.0;
  switch (end && *end ? *end : 0) {
  case 0: break;
  case 'K': case 'k': scale = 1024.0; end++; break;
  case 'M': case 'm': scale = 1024.0 * 1024; end++; break;
  case 'G': case 'g': scale = 1024.0 * 1024 * 1024; end++; break;
  case 'T': case 't': scale = 1024.0 * 1024 * 1024 * 1024; end++; break;
  default: end = NULL;
  }
  if (end == value || !end || (*end && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0) ||
      !(v > 0) || !(v * scale < 1e21))
    return cli_usage_error(command, "--mem-limit needs a positive byte count such as 2G or "
                           "512M (found '%s')", value);
  *(double *)out = v * scale;
  return 0;
}

/* The memory estimate of cfg against the limit (--mem-limit, else
 * MemAvailable): printed with --dry-run (to out), and a one-line refusal on
 * stderr when it does not fit. Returns 0 if the run fits (or the memory
 * available is unknown), 1 if not or on error. */
static int check_memory(const sl_config *cfg, double limit, FILE *out)
{
  sl_mem_estimate e;
  if (sl_mem_estimate_config(cfg, &e))
    return cli_fail("memory estimate");
  const char *source = "--mem-limit";
  if (!(limit > 0)) {
    source = "MemAvailable in /proc/meminfo";
    if (sl_mem_available(&limit)) {
      if (out)
        fprintf(out, "memory available: unknown (%s)\n", sl_last_error());
      sl_clear_error();
      limit = 0;
    }
  }
  char a[32], b[32], c[32], d[32], g[32], h[32], k[32], t[32];
  if (out) {
    fprintf(out, "memory estimate (peak resident): %s (%.0f bytes)\n",
            sl_mem_format(e.total, t, sizeof t), e.total);
    fprintf(out, "  states kept for BPTT  %s  (%zu steps x %zu samples x %zu neurons)\n",
            sl_mem_format(e.states, a, sizeof a), e.steps, e.batch_size, e.neurons);
    fprintf(out, "  weights               %s  (%zu parameters: values, gradients, master copy)\n",
            sl_mem_format(e.weights, b, sizeof b), e.n_params);
    fprintf(out, "  optimiser moments     %s\n", sl_mem_format(e.optimiser, c, sizeof c));
    fprintf(out, "  input raster          %s  (%zu steps x %zu samples x %zu inputs)\n",
            sl_mem_format(e.batch, d, sizeof d), e.steps, e.batch_size, e.n_in);
    fprintf(out, "  data sets             %s\n", sl_mem_format(e.data, g, sizeof g));
    if (e.backend > 0)
      fprintf(out, "  backend observations  %s\n", sl_mem_format(e.backend, h, sizeof h));
    fprintf(out, "  process baseline      %s\n", sl_mem_format(e.baseline, k, sizeof k));
    if (limit > 0)
      fprintf(out, "memory available: %s (%s): %s\n", sl_mem_format(limit, a, sizeof a), source,
              e.total <= limit ? "fits" : "does NOT fit");
  }
  if (limit > 0 && e.total > limit) {
    fprintf(stderr,
            "spikeloop: train: the run needs an estimated %s (states over %zu steps x %zu "
            "samples x %zu neurons: %s) but %s is available (%s); lower train.batch, "
            "encoder.t_steps or net.hidden%s\n",
            sl_mem_format(e.total, t, sizeof t), e.steps, e.batch_size, e.neurons,
            sl_mem_format(e.states, a, sizeof a), sl_mem_format(limit, b, sizeof b), source,
            strcmp(source, "--mem-limit") == 0 ? ", or raise --mem-limit" : "");
    return 1;
  }
  return 0;
}

static void progress(const sl_epoch_metrics *m, void *user)
{
  const long *epochs = user;
  printf("epoch %3ld/%ld  loss %.4f  train %6.2f%%  val %6.2f%%  test %6.2f%%  "
         "spikes/neuron %.3f  %.2fs\n",
         m->epoch, *epochs, m->loss, 100 * m->train_accuracy, 100 * m->val_accuracy,
         100 * m->test_accuracy, m->hidden_rate, m->seconds);
  fflush(stdout);
}

/* Does cfg differ from the defaults in any key (were settings given)? */
static int config_given(const sl_config *cfg)
{
  sl_config def;
  sl_config_defaults(&def);
  char a[4096], b[4096];
  for (size_t i = 0; i < sl_config_num_keys(); i++)
    if (sl_config_get_index(cfg, i, a, sizeof a) || sl_config_get_index(&def, i, b, sizeof b) ||
        strcmp(a, b) != 0)
      return 1;
  return 0;
}

/* --resume LOG.h5: settings given on the command line must repeat the log's. */
static int resume_run(const char *path, const sl_config *given, const cli_shared *sh, int quiet)
{
  static sl_config cfg; /* the log's: static, large */
  sl_config_defaults(&cfg);
  sl_runlog_reader *r = NULL;
  long epoch = 0;
  if (sl_runlog_open(&r, path) || sl_runlog_read_config(r, &cfg) ||
      sl_runlog_ckpt_epoch(r, &epoch)) {
    sl_runlog_reader_close(r);
    return cli_fail("--resume");
  }
  double done;
  int finished = sl_runlog_get_summary(r, "test_accuracy", &done) == SL_OK;
  sl_runlog_reader_close(r);
  if (finished) {
    fprintf(stderr, "spikeloop: --resume: '%s': the run finished (it has /summary): nothing to "
                    "resume\n", path);
    return 1;
  }
  sl_clear_error();
  if (cli_apply_threads(sh))
    return 1;
  printf("spikeloop %s: resuming %s after epoch %ld of %ld (backend %s, %d thread(s))\n",
         sl_version(), path, epoch, cfg.epochs, cfg.backend, sl_get_num_threads());
  fflush(stdout);
  sl_run_result res;
  if (sl_run_resume(path, config_given(given) ? given : NULL, quiet ? NULL : progress,
                    &cfg.epochs, &res))
    return cli_fail("--resume");
  printf("final test accuracy %.2f%% (validation %.2f%%, %ld epochs, %.1f s); log written to %s\n",
         100 * res.test_accuracy, 100 * res.val_accuracy, res.epochs, res.seconds, path);
  return 0;
}

int cmd_train(int argc, char **argv)
{
  sl_config cfg;
  sl_config_defaults(&cfg);
  int print_config = 0, quiet = 0, dry_run = 0;
  double mem_limit = 0;
  const char *resume = NULL;
  cli_shared sh = {&cfg, NULL, NULL, NULL, NULL, 0};
  const cli_option own[] = {
      {.name = "--resume", .kind = CLI_TEXT, .out = &resume, .needs = "a run log (FILE.h5)"},
      {.name = "--record", .kind = CLI_CALL, .out = &cfg, .needs = "a value", .call = set_record},
      {.name = "--init", .kind = CLI_CALL, .out = &cfg, .needs = "a value", .call = set_init},
      {.name = "--print-config", .kind = CLI_FLAG, .out = &print_config},
      {.name = "--dry-run", .kind = CLI_FLAG, .out = &dry_run},
      {.name = "--mem-limit", .kind = CLI_CALL, .out = &mem_limit, .needs = "a byte count",
       .call = set_mem_limit},
      {.name = "--quiet", .kind = CLI_FLAG, .out = &quiet},
      {0}};
  const cli_spec spec = {"train", usage,
                         CLI_CONFIG | CLI_SET | CLI_LOG | CLI_CALIB | CLI_THREADS | CLI_BACKEND,
                         0, own, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  if (resume && sh.log && strcmp(sh.log, resume) != 0)
    return cli_usage_error("train", "--resume appends to its own log: --log %s is another file",
                           sh.log);
  if (resume && !print_config)
    return resume_run(resume, &cfg, &sh, quiet);
  const char *log_path = sh.log ? sh.log : "spikeloop_run.h5";
  if (print_config) {
    if (sl_config_write(&cfg, stdout))
      return cli_fail("print-config");
    sl_mem_estimate e; /* a comment: the output stays a valid config file */
    char t[32];
    if (sl_mem_estimate_config(&cfg, &e) == SL_OK)
      printf("\n# memory estimate (peak resident, spikeloop train --dry-run for the parts): %s\n",
             sl_mem_format(e.total, t, sizeof t));
    sl_clear_error();
    return 0;
  }
  if (sl_config_validate(&cfg))
    return cli_fail("config");
  if (dry_run)
    return check_memory(&cfg, mem_limit, stdout);
  if (check_memory(&cfg, mem_limit, NULL))
    return 1;
  if (cli_apply_threads(&sh))
    return 1;
  char hidden[256];
  sl_config_get(&cfg, "net.hidden", hidden, sizeof hidden);
  const int ranks = sl_dist_size(), rank0 = sl_dist_rank() == 0;
  if (rank0 && ranks > 1)
    printf("spikeloop: data-parallel over %d MPI ranks, %ld samples of each batch per rank\n",
           ranks, (cfg.batch + ranks - 1) / ranks);
  if (rank0)
    printf("spikeloop %s: training %s, hidden %s, %ld epochs, batch %ld, backend %s, %d "
         "thread(s); log %s\n",
         sl_version(), cfg.dataset, hidden, cfg.epochs, cfg.batch, cfg.backend,
         sl_get_num_threads(), log_path);
  fflush(stdout);
  sl_run_meta meta = {"train", cfg.seed, sl_get_num_threads()};
  sl_run_result res;
  if (sl_run_train(&cfg, log_path, &meta, quiet ? NULL : progress, &cfg.epochs, &res))
    return cli_fail("train");
  if (rank0)
    printf("final test accuracy %.2f%% (validation %.2f%%, %ld epochs, %.1f s); log written to %s\n",
         100 * res.test_accuracy, 100 * res.val_accuracy, res.epochs, res.seconds, log_path);
  return 0;
}
