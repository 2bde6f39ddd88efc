/* cmd_eval.c -- `spikeloop eval --log FILE.h5 [--metrics]`: rebuild the
 * final model of a run log and evaluate it on its test set; with --metrics,
 * on the run's backend, with the NeuroBench metric table. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "spikeloop/spikeloop.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
  printf("usage: spikeloop eval --log FILE.h5 [--metrics] [--threads N]\n"
         "\n"
         "Rebuild the network stored in a complete run log (config, /params, /mismatch)\n"
         "and print its accuracy, loss and hidden activity on the run's test set.\n"
         "\n"
         "  --metrics   run the test set through the run's forward path (its backend,\n"
         "              rebuilt from the config: an emulated chip from its seeds) and\n"
         "              print the NeuroBench metrics: static ones, then every per-sample\n"
         "              count with its mean, sd, min, median and max over the samples,\n"
         "              the hardware's own (hw.*) beside them. README: \"NeuroBench metrics\".\n");
}

/* 1234567 -> "1.235 M", 1234.5 -> "1.235 k", 12.345 -> "12.35", 7 -> "7". */
static void fmt(char *buf, size_t n, double v)
{
  if (isnan(v))
    snprintf(buf, n, "-");
  else if (fabs(v) >= 1e6)
    snprintf(buf, n, "%.4g M", v / 1e6);
  else if (fabs(v) >= 1e3)
    snprintf(buf, n, "%.4g k", v / 1e3);
  else if (v == floor(v))
    snprintf(buf, n, "%.0f", v);
  else
    snprintf(buf, n, "%.4g", v);
}

static void print_table(const sl_nb *nb, const sl_nb_static *st, const sl_eval_result *res)
{
  char a[32];
  printf("\nNeuroBench metrics (%zu test samples)\n", sl_nb_rows(nb));
  printf("  %-34s %.2f%%\n", "classification_accuracy", 100 * res->accuracy);
  printf("static\n");
  if (isnan(st->parameter_count)) {
    printf("  %-34s not counted for this network\n", "footprint, parameters, sparsity");
  } else {
    fmt(a, sizeof a, st->footprint_bytes);
    printf("  %-34s %s bytes\n", "footprint", a);
    fmt(a, sizeof a, st->parameter_count);
    printf("  %-34s %s\n", "parameter_count", a);
    printf("  %-34s %.4f (%.0f zero weights)\n", "connection_sparsity",
           st->connection_sparsity, st->zero_weights);
  }
  for (size_t i = 0; i < sl_nb_num_static(nb); i++) {
    double v = 0;
    const char *name = sl_nb_static_at(nb, i, &v);
    fmt(a, sizeof a, v);
    printf("  %-34s %s\n", name, a);
  }
  printf("per sample %-26s %10s %10s %10s %10s %10s\n", "", "mean", "sd", "min", "median",
         "max");
  for (size_t c = 0; c < sl_nb_columns(nb); c++) {
    sl_nb_stats s;
    if (sl_nb_stats_get(nb, c, &s) || s.n == 0)
      continue;
    char m[32], d[32], lo[32], md[32], hi[32];
    fmt(m, sizeof m, s.mean), fmt(d, sizeof d, s.sd), fmt(lo, sizeof lo, s.min);
    fmt(md, sizeof md, s.median), fmt(hi, sizeof hi, s.max);
    printf("  %-34s %10s %10s %10s %10s %10s\n", sl_nb_column_name(nb, c), m, d, lo, md, hi);
  }
}

int cmd_eval(int argc, char **argv)
{
  cli_shared sh = {NULL, NULL, NULL, NULL, NULL, 0};
  int metrics = 0;
  const cli_option own[] = {{.name = "--metrics", .kind = CLI_FLAG, .out = &metrics}, {NULL}};
  const cli_spec spec = {"eval", usage, CLI_LOG | CLI_THREADS, 1, own, NULL};
  int rc = cli_parse(&spec, &sh, argc, argv);
  if (rc != CLI_RUN)
    return rc;
  const char *log_path = sh.log;
  if (!log_path)
    return cli_usage_error("eval", "--log FILE.h5 is required");
  if (cli_apply_threads(&sh))
    return 1;
  sl_eval_result res;
  if (!metrics) {
    if (sl_run_eval(log_path, &res))
      return cli_fail("eval");
    printf("%s: test accuracy %.2f%%  loss %.4f  hidden spikes/neuron/sample %.3f\n", log_path,
           100 * res.accuracy, res.loss, res.hidden_rate);
    return 0;
  }
  sl_nb *nb = NULL;
  sl_nb_static st;
  /* a spiking run is rebuilt and counted again; another network (an
   * experiment's CNN) is printed as the experiment counted it */
  sl_runlog_reader *rd = NULL;
  if (sl_runlog_open(&rd, log_path))
    return cli_fail("eval");
  const int snn = sl_runlog_exists(rd, "params/readout/w_in");
  sl_runlog_reader_close(rd);
  if (!snn) {
    double acc;
    if (sl_nb_read(log_path, &nb, &st, &acc))
      return cli_fail("eval");
    res.accuracy = acc;
    printf("%s: not a spiking run; the NeuroBench metrics its experiment counted:\n", log_path);
    print_table(nb, &st, &res);
    sl_nb_free(nb);
    return 0;
  }
  if (sl_run_eval_metrics(log_path, &res, &nb, &st))
    return cli_fail("eval");
  printf("%s: test accuracy %.2f%%  loss %.4f  hidden spikes/neuron/sample %.3f\n", log_path,
         100 * res.accuracy, res.loss, res.hidden_rate);
  print_table(nb, &st, &res);
  sl_nb_free(nb);
  /* a chip with programming or temporal noise answers a rebuilt run a
   * little differently from the trained one: say what the log holds */
  sl_runlog_reader *r = NULL;
  float logged;
  if (sl_runlog_open(&r, log_path) == SL_OK &&
      sl_runlog_get_float(r, "metrics_nb/accuracy", &logged, 1, 0) == SL_OK &&
      fabs((double)logged - res.accuracy) > 1e-6)
    printf("(the run log's /metrics_nb, counted on the backend as trained: accuracy %.2f%%;\n"
           " this pass rebuilt the backend, whose noise draws differ)\n", 100 * (double)logged);
  sl_clear_error();
  sl_runlog_reader_close(r);
  return 0;
}
