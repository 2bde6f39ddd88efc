/* session.c -- a whole run: data, network, trainer and (optionally) a
 * backend built from a configuration; the epoch loop with per-epoch
 * evaluation and progress; the HDF5 run log; re-evaluation of a log.
 *
 * Shuffling and rate-coding noise are seeded from train.seed and the epoch
 * number, so a run is reproducible for any number of threads.
 */
#include "config.h"
#include "spikeloop/session.h"
#include "spikeloop/fromconfig.h"
#include "spikeloop/dist.h"
#include "spikeloop/error.h"
#include "spikeloop/loss.h"
#include "spikeloop/nbmetrics.h"
#include "spikeloop/version.h"
#include "base/rng.h"
#include "train_internal.h"
#include "session_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ a whole run */

static double now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fisher-Yates with the run's generator. */
static void shuffle(size_t *idx, size_t n, uint64_t seed)
{
  sl_rng_state r;
  sl_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(sl_rng_uniform(&r) * (double)i);
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}

/* The arrays a run log stores of a network, in order: every weight tensor
 * as params/<layer>/<name>, then every layer's per-neuron parameters as
 * mismatch/<layer>/<param>. Fills *a with the k-th; returns 0 past the end. */
typedef struct {
  char path[128];
  float *f;     /* float data, or NULL */
  int32_t *i;   /* int data (refrac), or NULL */
  size_t rows, cols;
} net_array;

static int net_array_at(sl_net *net, size_t k, net_array *a)
{
  memset(a, 0, sizeof *a);
  size_t nt = sl_net_num_tensors(net);
  if (k < nt) {
    sl_tensor t;
    if (sl_net_tensor(net, k, &t))
      return 0;
    snprintf(a->path, sizeof a->path, "params/%s/%s", t.layer, t.name);
    a->f = t.data;
    a->rows = t.rows;
    a->cols = t.cols;
    return 1;
  }
  k -= nt;
  const size_t per_layer = SL_NEURON_NFLOAT + 1;
  sl_neurons *p = sl_net_neurons(net, k / per_layer);
  if (!p)
    return 0;
  const char *layer = sl_net_layer_name(net, k / per_layer);
  size_t j = k % per_layer;
  a->rows = p->n;
  if (j < SL_NEURON_NFLOAT) {
    snprintf(a->path, sizeof a->path, "mismatch/%s/%s", layer, sl_neurons_float_name(j));
    a->f = sl_neurons_param(p, sl_neurons_float_name(j));
  } else {
    snprintf(a->path, sizeof a->path, "mismatch/%s/refrac", layer);
    a->i = p->refrac;
  }
  return 1;
}

/* Stage the network's weights and per-neuron parameters into the log. */
static int log_network(sl_runlog *log, sl_net *net)
{
  int rc = SL_OK;
  net_array a;
  for (size_t k = 0; !rc && net_array_at(net, k, &a); k++)
    rc = a.f ? sl_runlog_put_float(log, a.path, a.f, a.rows, a.cols)
             : sl_runlog_put_int(log, a.path, a.i, a.rows);
  return rc;
}

/* Load the network's weights and per-neuron parameters from a log. */
static int load_network(sl_runlog_reader *r, sl_net *net)
{
  int rc = SL_OK;
  net_array a;
  for (size_t k = 0; !rc && net_array_at(net, k, &a); k++)
    rc = a.f ? sl_runlog_get_float(r, a.path, a.f, a.rows, a.cols)
             : sl_runlog_get_int(r, a.path, a.i, a.rows);
  return rc;
}

/* train.init: take the network (weights, per-neuron parameters) of the
 * run log at path as the start; the architecture must be the same (the
 * shapes are checked, the messages name the array). */
static int load_init(sl_net *net, const char *path)
{
  sl_runlog_reader *r = NULL;
  int rc = sl_runlog_open(&r, path);
  if (!rc)
    rc = load_network(r, net);
  sl_runlog_reader_close(r);
  if (rc) {
    char why[1024];
    snprintf(why, sizeof why, "%s", sl_last_error());
    return sl_error(rc, "train.init: %s", why);
  }
  memcpy(sl_net_master(net), sl_net_params(net), sl_net_num_params(net) * sizeof(float));
  return sl_net_check(net);
}

/* ------------------------------------------------------------ sessions */


void sl_session_free(sl_session *s)
{
  if (!s)
    return;
  sli_batch_free(&s->bb);
  free(s->pulses);
  sl_trainer_free(s->tr);
  sl_loop_free(s->loop);
  sl_hw_close(s->hw);
  sl_net_free(s->net);
  sl_dataset_free(&s->train);
  sl_dataset_free(&s->val);
  sl_dataset_free(&s->test);
  free(s);
}

/* The endurance budget of backends that count programming pulses
 * (read_config "pulses", e.g. memristor): the total spent by the end of
 * each epoch, the first write included. Other backends: nothing. */
static int record_pulses(sl_session *s)
{
  char buf[32];
  if (!s->hw || sl_hw_read_config(s->hw, "pulses", buf, sizeof buf) != SL_OK) {
    sl_clear_error();
    return SL_OK;
  }
  double *p = realloc(s->pulses, (s->n_pulses + 1) * sizeof *p);
  if (!p)
    return sl_error(SL_ENOMEM, "session: out of memory");
  s->pulses = p;
  s->pulses[s->n_pulses++] = strtod(buf, NULL);
  return SL_OK;
}

int sl_session_create(sl_session **out, const sl_config *cfg)
{
  if (!out || !cfg)
    return sl_error(SL_EINVAL, "sl_session_create: NULL argument");
  *out = NULL;
  int rc = sl_config_validate(cfg);
  if (rc)
    return rc;
  sl_session *s = calloc(1, sizeof *s);
  if (!s)
    return sl_error(SL_ENOMEM, "sl_session_create: out of memory");
  s->cfg = *cfg;
  rc = sl_encoder_from_config(cfg, &s->enc);
  if (!rc)
    rc = sl_data_from_config(cfg, &s->train, &s->val, &s->test);
  if (!rc)
    rc = sl_net_from_config(&s->net, cfg, sl_encoder_out_dim(&s->enc, s->train.dim),
                            s->train.n_classes);
  if (!rc && cfg->init[0])
    rc = load_init(s->net, cfg->init);
  if (!rc)
    rc = sl_trainer_create(&s->tr, s->net, cfg);
  if (!rc)
    rc = sli_batch_alloc(&s->bb, &s->enc, s->train.dim, (size_t)cfg->batch, s->train.n);
  /* the ideal backend with neither options nor recording is the simulator
   * itself: skip the interface (the results are identical, test_loop) */
  int direct = strcmp(cfg->backend, "ideal") == 0 && !cfg->backend_options[0] && !cfg->record[0];
  if (!rc && !direct) {
    /* over MPI every rank drives its own backend instance; ranks > 0 record
     * to backend.record + ".rank<r>" */
    sl_config *hc = malloc(sizeof *hc);
    if (!hc)
      rc = sl_error(SL_ENOMEM, "sl_session_create: out of memory");
    if (!rc) {
      *hc = *cfg;
      if (hc->record[0] && sl_dist_rank() > 0)
        snprintf(hc->record, sizeof hc->record, "%.*s.rank%d", (int)sizeof hc->record - 16,
                 cfg->record, sl_dist_rank());
      rc = sl_hw_from_config(&s->hw, &s->loop, hc, s->net, s->enc.t_steps, (size_t)cfg->batch);
    }
    free(hc);
    if (!rc)
      rc = sl_trainer_set_loop(s->tr, s->loop);
  }
  if (rc) {
    sl_session_free(s);
    return rc;
  }
  *out = s;
  return SL_OK;
}

const sl_config *sl_session_config(const sl_session *s) { return s ? &s->cfg : NULL; }
sl_net *sl_session_net(sl_session *s) { return s ? s->net : NULL; }
sl_loop *sl_session_loop(sl_session *s) { return s ? s->loop : NULL; }
long sl_session_epochs(const sl_session *s) { return s ? s->epoch : 0; }

int sl_session_evaluate(sl_session *s, int which, sl_eval_result *res)
{
  if (!s || !res)
    return sl_error(SL_EINVAL, "sl_session_evaluate: NULL argument");
  const sl_dataset *d = which == SL_SET_TRAIN ? &s->train : which == SL_SET_VAL ? &s->val
                                                                                 : &s->test;
  if (which < SL_SET_TRAIN || which > SL_SET_TEST || d->n == 0)
    return sl_error(SL_EINVAL, "sl_session_evaluate: no data set %d", which);
  return sli_evaluate(s->net, s->loop, &s->enc, d, (size_t)s->cfg.batch,
                      sli_trainer_loss_kind(s->tr), res, NULL);
}

int sl_session_nb_metrics(sl_session *s, int which, sl_nb **out, sl_nb_static *st,
                          sl_eval_result *res)
{
  if (!s || !out || !st || !res)
    return sl_error(SL_EINVAL, "sl_session_nb_metrics: NULL argument");
  *out = NULL;
  const sl_dataset *d = which == SL_SET_TRAIN ? &s->train : which == SL_SET_VAL ? &s->val
                                                                                 : &s->test;
  if (which < SL_SET_TRAIN || which > SL_SET_TEST || d->n == 0)
    return sl_error(SL_EINVAL, "sl_session_nb_metrics: no data set %d", which);
  sl_nb *nb = NULL;
  int rc = sl_nb_create(&nb, s->net);
  if (!rc)
    rc = sl_nb_static_count(s->net, st);
  if (!rc)
    rc = sli_evaluate(s->net, s->loop, &s->enc, d, (size_t)s->cfg.batch,
                      sli_trainer_loss_kind(s->tr), res, nb);
  /* faulty devices of a crossbar backend */
  static const char *const stuck[] = {"stuck_on", "stuck_off"};
  for (size_t k = 0; !rc && s->hw && k < 2; k++) {
    char buf[32], name[32];
    if (sl_hw_read_config(s->hw, stuck[k], buf, sizeof buf) != SL_OK) {
      sl_clear_error();
      continue;
    }
    snprintf(name, sizeof name, "hw.%s_devices", stuck[k]);
    rc = sl_nb_set_static(nb, name, strtod(buf, NULL));
  }
  if (rc) {
    sl_nb_free(nb);
    return rc;
  }
  *out = nb;
  return SL_OK;
}

int sl_session_log_nb_metrics(sl_session *s, sl_runlog *log)
{
  if (!s || !log)
    return sl_error(SL_EINVAL, "sl_session_log_nb_metrics: NULL argument");
  sl_nb *nb = NULL;
  sl_nb_static st;
  sl_eval_result ev;
  int rc = sl_session_nb_metrics(s, SL_SET_TEST, &nb, &st, &ev);
  if (!rc)
    rc = sl_nb_write(nb, &st, ev.accuracy, log);
  sl_nb_free(nb);
  return rc;
}

int sl_session_set_weights(sl_session *s, sl_net *src)
{
  if (!s || !src)
    return sl_error(SL_EINVAL, "sl_session_set_weights: NULL argument");
  size_t n = sl_net_num_params(s->net);
  if (sl_net_num_params(src) != n || sl_net_num_tensors(src) != sl_net_num_tensors(s->net))
    return sl_error(SL_ESHAPE, "sl_session_set_weights: the networks differ in architecture");
  memcpy(sl_net_master(s->net), sl_net_params(src), n * sizeof(float));
  return sli_sync_weights(s->net, s->loop);
}

int sl_session_train(sl_session *s, long epochs, sl_runlog *log, sl_progress_fn progress,
                     void *user, sl_run_result *res)
{
  if (!s)
    return sl_error(SL_EINVAL, "sl_session_train: NULL session");
  const double t0 = now_seconds();
  s->t0 = t0;
  const sl_config *cfg = &s->cfg;
  const size_t T = s->enc.t_steps, batch = (size_t)cfg->batch;
  const size_t n_hidden = sli_hidden_neurons(sl_net_get_spec(s->net));
  /* data-parallel over MPI: rank r takes samples [lo, hi) of every global
   * batch (slices differ by at most one sample when batch % ranks != 0) */
  const size_t ranks = (size_t)sl_dist_size(), rank = (size_t)sl_dist_rank();
  if (batch < ranks)
    return sl_error(SL_EINVAL, "train.batch %zu is smaller than the %zu MPI ranks", batch, ranks);
  const size_t lo = rank * batch / ranks, hi = (rank + 1) * batch / ranks;
  sl_eval_result ev_test = {0}, ev_val = {0};
  double train_acc = 0.0;
  int rc = SL_OK;
  for (long e = 0; !rc && e < epochs; e++) {
    const double te = now_seconds();
    const long epoch = s->epoch;
    sl_trainer_set_epoch(s->tr, (size_t)epoch);
    shuffle(s->bb.idx, s->train.n, sl_seed_mix(cfg->seed, 1000 + (uint64_t)epoch));
    double loss_sum = 0.0, spikes = 0.0;
    size_t correct = 0, seen = 0;
    for (size_t start = 0; start + batch <= s->train.n && !rc; start += batch) {
      sl_batch_stats st;
      rc = sli_make_batch(&s->enc, &s->train, s->bb.idx + start + lo, hi - lo,
                          sl_seed_mix(cfg->seed, (uint64_t)epoch), s->bb.xbuf, s->bb.raster,
                          s->bb.labels, s->bb.ids);
      if (!rc)
        rc = sl_trainer_set_global_batch(s->tr, ranks > 1 ? batch : 0);
      if (!rc)
        rc = sl_trainer_step(s->tr, s->bb.raster, s->bb.labels, T, hi - lo, &st);
      if (rc)
        break;
      loss_sum += st.loss * (double)batch;
      correct += st.correct;
      spikes += st.hidden_spikes;
      seen += batch;
    }
    if (!rc)
      rc = sl_session_evaluate(s, SL_SET_TEST, &ev_test);
    if (!rc && s->val.n)
      rc = sl_session_evaluate(s, SL_SET_VAL, &ev_val);
    if (rc)
      break;
    s->epoch++;
    train_acc = seen ? (double)correct / (double)seen : 0.0;
    sl_epoch_metrics m = {s->epoch,
                          seen ? loss_sum / (double)seen : 0.0,
                          train_acc,
                          s->val.n ? ev_val.accuracy : NAN,
                          ev_test.accuracy,
                          seen ? spikes / ((double)seen * (double)n_hidden) : 0.0,
                          now_seconds() - te};
    if (log && !s->no_metrics)
      rc = sl_runlog_append_epoch(log, &m);
    if (!rc)
      rc = record_pulses(s);
    s->last[0] = train_acc;
    s->last[1] = s->val.n ? ev_val.accuracy : 0.0; /* finite: checkpoints refuse NaN */
    s->last[2] = m.test_accuracy;
    s->restored = 0;
    if (!rc && log && s->checkpointing)
      rc = sl_session_checkpoint(s, log);
    if (progress && rank == 0)
      progress(&m, user);
  }
  if (!rc && epochs == 0 && s->restored) { /* a restored checkpoint's results stand */
    train_acc = s->last[0];
    ev_val.accuracy = s->last[1];
    ev_test.accuracy = s->last[2];
  } else if (!rc && epochs == 0) {
    rc = sl_session_evaluate(s, SL_SET_TEST, &ev_test);
    if (!rc && s->val.n)
      rc = sl_session_evaluate(s, SL_SET_VAL, &ev_val);
  }
  if (!rc && res) {
    res->test_accuracy = ev_test.accuracy;
    res->val_accuracy = s->val.n ? ev_val.accuracy : NAN;
    res->train_accuracy = train_acc;
    res->seconds = s->seconds_before + now_seconds() - t0;
    res->epochs = s->epoch;
  }
  return rc;
}

int sl_session_log_network(sl_session *s, sl_runlog *log)
{
  if (!s || !log)
    return sl_error(SL_EINVAL, "sl_session_log_network: NULL argument");
  return log_network(log, s->net);
}

/* The end of a logged run: stage the network and the summary, finish. */
static int finish_log(sl_session *s, sl_runlog *log, const sl_run_result *r)
{
  int rc = log_network(log, s->net);
  if (!rc)
    rc = sl_session_log_nb_metrics(s, log);
  if (!rc)
    rc = sl_runlog_put_summary(log, "val_accuracy", s->val.n ? r->val_accuracy : 0.0);
  if (!rc && s->n_pulses)
    rc = sl_runlog_put_summary_array(log, "prog_pulses_per_epoch", s->pulses, s->n_pulses);
  if (!rc)
    rc = sl_runlog_finish(log, r->test_accuracy, r->epochs, r->seconds);
  return rc;
}

int sl_run_train(const sl_config *cfg, const char *log_path, const sl_run_meta *meta,
                 sl_progress_fn progress, void *user, sl_run_result *res)
{
  if (!cfg)
    return sl_error(SL_EINVAL, "sl_run_train: NULL config");
  sl_session *s = NULL;
  sl_runlog *log = NULL;
  sl_run_result r = {0};
  int rc = sl_session_create(&s, cfg);
  /* over MPI rank 0 alone writes the log; every rank stops if it fails */
  if (!rc && log_path && sl_dist_rank() == 0) {
    sl_run_meta m = {"train", cfg->seed, sl_get_num_threads()};
    rc = sl_runlog_create(&log, log_path, cfg, meta ? meta : &m);
  }
  if (sl_dist_any(rc != SL_OK) && !rc)
    rc = sl_error(SL_EIO, "another MPI rank failed to set up the run");
  if (!rc) {
    sl_session_set_checkpointing(s, 1);
    rc = sl_session_train(s, cfg->epochs, log, progress, user, &r);
  }
  if (!rc && log)
    rc = finish_log(s, log, &r);
  if (log) {
    int rc2 = sl_runlog_close(log);
    if (!rc)
      rc = rc2;
  }
  if (!rc && res)
    *res = r;
  sl_session_free(s);
  return rc;
}

/* The first config key whose value differs between a and b, or NULL. */
static const char *config_diff(const sl_config *a, const sl_config *b, char *va, char *vb,
                               size_t len)
{
  for (size_t i = 0; i < sl_config_num_keys(); i++) {
    if (sl_config_get_index(a, i, va, len) != SL_OK || sl_config_get_index(b, i, vb, len) != SL_OK)
      return sl_config_key_name(i);
    if (strcmp(va, vb) != 0)
      return sl_config_key_name(i);
  }
  return NULL;
}

int sl_run_resume(const char *log_path, const sl_config *expect, sl_progress_fn progress,
                  void *user, sl_run_result *res)
{
  if (!log_path)
    return sl_error(SL_EINVAL, "sl_run_resume: NULL log path");
  if (sl_dist_size() > 1)
    return sl_error(SL_EUNSUPPORTED, "sl_run_resume: resuming over MPI ranks is not supported");
  sl_runlog_reader *rd = NULL;
  sl_runlog *log = NULL;
  sl_session *s = NULL;
  sl_run_result r = {0};
  sl_config *cfg = malloc(sizeof *cfg);
  char *va = malloc(8192), *vb = va ? va + 4096 : NULL;
  long epoch = 0;
  int rc = cfg && va ? SL_OK : sl_error(SL_ENOMEM, "sl_run_resume: out of memory");
  if (!rc) {
    sl_config_defaults(cfg);
    rc = sl_runlog_open(&rd, log_path);
  }
  if (!rc)
    rc = sl_runlog_read_config(rd, cfg);
  double done;
  if (!rc) {
    if (sl_runlog_get_summary(rd, "test_accuracy", &done) == SL_OK)
      rc = sl_error(SL_EFORMAT, "'%s': the run finished (it has /summary): nothing to resume",
                    log_path);
    else
      sl_clear_error();
  }
  if (!rc)
    rc = sl_runlog_ckpt_epoch(rd, &epoch);
  if (!rc && expect) {
    const char *key = config_diff(cfg, expect, va, vb, 4096);
    if (key)
      rc = sl_error(SL_EINVAL, "'%s': the configuration differs from the logged run's: %s is "
                    "'%s' in the log, '%s' given", log_path, key, va, vb);
  }
  if (!rc && epoch > cfg->epochs)
    rc = sl_error(SL_EFORMAT, "'%s': the checkpoint is of epoch %ld, past train.epochs = %ld",
                  log_path, epoch, cfg->epochs);
  if (!rc)
    rc = sl_session_create(&s, cfg);
  if (!rc)
    rc = sl_session_restore(s, rd);
  sl_runlog_reader_close(rd);
  if (!rc)
    rc = sl_runlog_reopen(&log, log_path, epoch);
  /* killed after the last checkpoint: 0 epochs, whose results are the
   * checkpoint's */
  if (!rc) {
    sl_session_set_checkpointing(s, 1);
    rc = sl_session_train(s, cfg->epochs - epoch, log, progress, user, &r);
  }
  if (!rc)
    rc = finish_log(s, log, &r);
  if (log) {
    int rc2 = sl_runlog_close(log);
    if (!rc)
      rc = rc2;
  }
  if (!rc && res)
    *res = r;
  sl_session_free(s);
  free(cfg);
  free(va);
  return rc;
}

/* The final network of a complete log, built for its config's test set
 * (*test, *enc filled when not NULL). */
static int load_run(const char *log_path, sl_config *cfg, sl_encoder *enc, sl_dataset *test,
                    sl_net **out)
{
  sl_runlog_reader *r = NULL;
  sl_net *net = NULL;
  sl_encoder e;
  sl_dataset t = {0};
  sl_config_defaults(cfg);
  int rc = sl_runlog_open(&r, log_path);
  if (!rc)
    rc = sl_runlog_read_config(r, cfg);
  double acc;
  if (!rc && sl_runlog_get_summary(r, "test_accuracy", &acc))
    rc = sl_error(SL_EFORMAT, "%s: the run did not finish (no /summary); nothing to evaluate",
                  log_path);
  /* the log holds the per-neuron parameters the run used (/mismatch): the
   * twin file and the start network need not exist any more */
  cfg->twin[0] = '\0';
  cfg->init[0] = '\0';
  if (!rc)
    rc = sl_encoder_from_config(cfg, &e);
  if (!rc)
    rc = sl_data_from_config(cfg, NULL, NULL, &t);
  if (!rc)
    rc = sl_net_from_config(&net, cfg, sl_encoder_out_dim(&e, t.dim), t.n_classes);
  if (!rc)
    rc = load_network(r, net);
  if (!rc) {
    memcpy(sl_net_master(net), sl_net_params(net), sl_net_num_params(net) * sizeof(float));
    rc = sl_net_check(net);
  }
  sl_runlog_reader_close(r);
  if (rc) {
    sl_net_free(net);
    sl_dataset_free(&t);
    return rc;
  }
  if (enc)
    *enc = e;
  if (test)
    *test = t;
  else
    sl_dataset_free(&t);
  *out = net;
  return SL_OK;
}

int sl_run_load_net(const char *log_path, sl_config *cfg, sl_net **out)
{
  if (!log_path || !cfg || !out)
    return sl_error(SL_EINVAL, "sl_run_load_net: NULL argument");
  *out = NULL;
  return load_run(log_path, cfg, NULL, NULL, out);
}

int sl_run_save_net(const sl_config *cfg, sl_net *net, const char *log_path,
                    const sl_run_meta *meta, sl_eval_result *res)
{
  if (!cfg || !net || !log_path)
    return sl_error(SL_EINVAL, "sl_run_save_net: NULL argument");
  sl_config c = *cfg;
  snprintf(c.backend, sizeof c.backend, "ideal");
  c.backend_options[0] = c.record[0] = c.init[0] = '\0';
  sl_session *s = NULL;
  sl_runlog *log = NULL;
  sl_eval_result ev = {0};
  int rc = sl_session_create(&s, &c);
  const sl_net_spec *a = NULL, *b = sl_net_get_spec(net);
  if (!rc) {
    a = sl_net_get_spec(s->net);
    if (a->n_in != b->n_in || a->n_out != b->n_out || a->n_layers != b->n_layers)
      rc = sl_error(SL_ESHAPE, "sl_run_save_net: the network has %zu inputs, %zu outputs and %zu "
                    "hidden layers; the configuration's data and net.hidden give %zu, %zu, %zu "
                    "(set data.* / encoder.* to a data set of that shape)", b->n_in, b->n_out,
                    b->n_layers, a->n_in, a->n_out, a->n_layers);
  }
  if (!rc)
    rc = sl_session_set_weights(s, net);
  for (size_t l = 0; !rc && l <= b->n_layers; l++) {
    sl_neurons *dst = sl_net_neurons(s->net, l), *src = sl_net_neurons(net, l);
    for (size_t k = 0; k < SL_NEURON_NFLOAT; k++)
      memcpy(sl_neurons_param(dst, sl_neurons_float_name(k)),
             sl_neurons_param(src, sl_neurons_float_name(k)), src->n * sizeof(float));
    memcpy(dst->refrac, src->refrac, src->n * sizeof(int32_t));
  }
  if (!rc)
    rc = sl_net_check(s->net);
  if (!rc)
    rc = sl_session_evaluate(s, SL_SET_TEST, &ev);
  if (!rc) {
    sl_run_meta m = {"import", c.seed, sl_get_num_threads()};
    rc = sl_runlog_create(&log, log_path, &c, meta ? meta : &m);
  }
  if (!rc)
    rc = log_network(log, s->net);
  if (!rc)
    rc = sl_runlog_finish(log, ev.accuracy, 0, 0.0);
  if (log) {
    int rc2 = sl_runlog_close(log);
    if (!rc)
      rc = rc2;
  }
  if (!rc && res)
    *res = ev;
  sl_session_free(s);
  return rc;
}

int sl_run_eval(const char *log_path, sl_eval_result *res)
{
  if (!log_path || !res)
    return sl_error(SL_EINVAL, "sl_run_eval: NULL argument");
  sl_config cfg;
  sl_dataset test = {0};
  sl_encoder enc;
  sl_net *net = NULL;
  int loss_kind = SL_LOSS_MAX;
  int rc = load_run(log_path, &cfg, &enc, &test, &net);
  if (!rc)
    rc = sl_loss_from_name(cfg.loss, &loss_kind);
  if (!rc)
    rc = sl_evaluate(net, &enc, &test, (size_t)cfg.batch, loss_kind, res);
  sl_net_free(net);
  sl_dataset_free(&test);
  return rc;
}

int sl_run_eval_metrics(const char *log_path, sl_eval_result *res, sl_nb **out,
                        sl_nb_static *st)
{
  if (!log_path || !res || !out || !st)
    return sl_error(SL_EINVAL, "sl_run_eval_metrics: NULL argument");
  *out = NULL;
  sl_runlog_reader *r = NULL;
  sl_session *s = NULL;
  sl_config *cfg = malloc(sizeof *cfg);
  if (!cfg)
    return sl_error(SL_ENOMEM, "sl_run_eval_metrics: out of memory");
  sl_config_defaults(cfg);
  int rc = sl_runlog_open(&r, log_path);
  if (!rc)
    rc = sl_runlog_read_config(r, cfg);
  double acc;
  if (!rc && sl_runlog_get_summary(r, "test_accuracy", &acc))
    rc = sl_error(SL_EFORMAT, "%s: the run did not finish (no /summary); nothing to evaluate",
                  log_path);
  /* the log holds the neurons the run used (the twin file need not exist),
   * and re-evaluating must not overwrite the run's recording */
  cfg->twin[0] = '\0';
  cfg->record[0] = '\0';
  if (!rc)
    rc = sl_session_create(&s, cfg);
  if (!rc)
    rc = load_network(r, s->net);
  if (!rc)
    rc = sl_net_check(s->net);
  if (!rc) {
    memcpy(sl_net_master(s->net), sl_net_params(s->net),
           sl_net_num_params(s->net) * sizeof(float));
    rc = sli_sync_weights(s->net, s->loop);
  }
  if (!rc)
    rc = sl_session_nb_metrics(s, SL_SET_TEST, out, st, res);
  sl_session_free(s);
  sl_runlog_reader_close(r);
  free(cfg);
  return rc;
}
