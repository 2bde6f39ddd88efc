/* fuzz_runlog.c -- libFuzzer harness: run logs as `eval` and `train
 * --resume` read them: sl_run_load_net (configuration, final weights and
 * per-neuron arrays), sl_nb_read (/metrics_nb of `eval --metrics`), the
 * epoch counters, and sl_session_restore of the last checkpoint.
 * Structure-level mutations of the template runlog.h5 (a finished 2-epoch
 * run on 40 Yin-Yang rows with checkpoints and NeuroBench metrics).
 *
 * The configuration comes from the file: a mutated data.n_train of 10^9 is
 * a valid setting that asks for 10^9 rows. Such inputs are skipped (a
 * resource cap of the harness, not of the reader) so that the fuzzer
 * measures parsing, not data generation. */
#include <stdint.h>
#include <string.h>

#include "spikeloop/config.h"
#include "spikeloop/error.h"
#include "spikeloop/nbmetrics.h"
#include "spikeloop/net.h"
#include "spikeloop/runlog.h"
#include "spikeloop/session.h"
#include "h5mut.h"

/* 1 if building the run the config describes is small enough to fuzz. */
static int small_run(const sl_config *c)
{
  long units = 0;
  for (size_t l = 0; l < c->n_layers && l < SL_CONFIG_MAX_LAYERS; l++)
    units += c->hidden[l];
  return strcmp(c->dataset, "yinyang") == 0 && c->n_train <= 100 && c->n_val <= 100 &&
         c->n_test <= 100 && c->t_steps <= 200 && units <= 64 && c->batch <= 100 &&
         strcmp(c->backend, "ideal") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();
  const char *path = fz_scratch(".h5");
  if (fz_h5_mutate(fz_named_template("runlog.h5"), path, data, size) < 0)
    return 0;
  static sl_config cfg;
  sl_runlog_reader *r = NULL;
  int small = 0;
  sl_config_defaults(&cfg);
  if (sl_runlog_open(&r, path) == SL_OK && sl_runlog_read_config(r, &cfg) == SL_OK) {
    long e;
    sl_runlog_get_epochs(r, &e);
    sl_runlog_ckpt_epoch(r, &e);
    small = small_run(&cfg);
  }
  if (small) {
    sl_net *net = NULL;
    sl_run_load_net(path, &cfg, &net);
    sl_net_free(net);
    sl_clear_error();
    sl_nb *nb = NULL;
    sl_nb_static st;
    double acc;
    sl_nb_read(path, &nb, &st, &acc);
    sl_nb_free(nb);
    sl_clear_error();
    sl_session *s = NULL;
    sl_config_defaults(&cfg);
    if (sl_runlog_read_config(r, &cfg) == SL_OK && small_run(&cfg)) {
      cfg.record[0] = cfg.init[0] = cfg.twin[0] = '\0';
      if (sl_session_create(&s, &cfg) == SL_OK)
        sl_session_restore(s, r);
      sl_session_free(s);
    }
  }
  sl_runlog_reader_close(r);
  sl_clear_error();
  return 0;
}
