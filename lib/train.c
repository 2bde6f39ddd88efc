/* train.c -- from a configuration to a trained, logged network.
 *
 * The trainer owns the per-batch buffers (loss gradient, regulariser
 * gradients) and the optimiser; the run driver owns the data, the epoch
 * loop and the run log. Shuffling and rate-coding noise are seeded from
 * train.seed and the epoch number, so a run is reproducible for any
 * number of threads.
 */
#include "config.h"
#include "spikeloop/train.h"
#include "spikeloop/error.h"
#include "spikeloop/loss.h"
#include "spikeloop/optim.h"
#include "spikeloop/version.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ from config */

int sl_net_spec_from_config(const sl_config *cfg, size_t n_in, size_t n_out, sl_net_spec *spec)
{
  if (!cfg || !spec)
    return sl_error(SL_EINVAL, "sl_net_spec_from_config: NULL argument");
  int rc = sl_config_validate(cfg);
  if (rc)
    return rc;
  sl_net_spec s = sl_net_spec_default();
  s.n_in = n_in;
  s.n_out = n_out;
  s.n_layers = cfg->n_layers;
  for (size_t l = 0; l < cfg->n_layers; l++) {
    s.n_hidden[l] = (size_t)cfg->hidden[l];
    s.recurrent[l] = cfg->recurrent[l];
  }
  s.dt = cfg->dt;
  s.hidden.tau_mem = cfg->tau_mem;
  s.hidden.tau_syn = cfg->tau_syn;
  s.hidden.v_th = cfg->v_th;
  s.hidden.v_leak = cfg->v_leak;
  s.hidden.v_reset = cfg->v_reset;
  s.hidden.gain = cfg->gain;
  s.hidden.refrac = (int)cfg->refrac;
  s.readout = sl_neuron_nominal_default();
  s.readout.tau_mem = cfg->ro_tau_mem;
  s.readout.tau_syn = cfg->ro_tau_syn;
  s.readout.v_leak = 0.0;
  s.lif.reset = strcmp(cfg->reset, "subtract") == 0 ? SL_RESET_SUBTRACT : SL_RESET_TO_VALUE;
  s.lif.detach_reset = cfg->detach_reset;
  s.lif.scale_input = cfg->scale_input;
  s.lif.surrogate = sl_surrogate_find(cfg->surrogate);
  if (!s.lif.surrogate)
    return sl_error(SL_ENOTFOUND, "unknown surrogate '%s' (known: superspike, sigmoid, arctan)",
                    cfg->surrogate);
  s.lif.beta = cfg->sg_beta;
  s.readout_scale_input = cfg->scale_input;
  *spec = s;
  return SL_OK;
}

int sl_net_from_config(sl_net **out, const sl_config *cfg, size_t n_in, size_t n_out)
{
  sl_net_spec spec;
  int rc = sl_net_spec_from_config(cfg, n_in, n_out, &spec);
  if (rc)
    return rc;
  sl_net *net = NULL;
  if ((rc = sl_net_create(&net, &spec)))
    return rc;
  sl_mismatch_spec mm = {cfg->mm_tau_mem, cfg->mm_tau_syn, cfg->mm_v_th,
                         cfg->mm_v_leak,  cfg->mm_v_reset, cfg->mm_gain};
  size_t layers = spec.n_layers + (cfg->mm_readout ? 1 : 0);
  for (size_t l = 0; l < layers && !rc; l++)
    rc = sl_neurons_draw_mismatch(sl_net_neurons(net, l), &mm, sl_seed_mix(cfg->mm_seed, l));
  if (!rc)
    rc = sl_net_init_weights(net, cfg->init_scale, cfg->seed);
  if (!rc)
    rc = sl_net_check(net);
  if (rc) {
    sl_net_free(net);
    return rc;
  }
  *out = net;
  return SL_OK;
}

int sl_encoder_from_config(const sl_config *cfg, sl_encoder *e)
{
  if (!cfg || !e)
    return sl_error(SL_EINVAL, "sl_encoder_from_config: NULL argument");
  *e = sl_encoder_default();
  int rc = sl_encoder_kind_from_name(cfg->encoder, &e->kind);
  if (rc)
    return rc;
  e->t_steps = (size_t)cfg->t_steps;
  e->dt = cfg->dt;
  e->t_early = cfg->t_early;
  e->t_late = cfg->t_late;
  e->tau_in = cfg->tau_in;
  e->x_min = cfg->x_min;
  e->rate_max = cfg->rate_max;
  e->bias = cfg->bias;
  e->bias_time = cfg->bias_time;
  return SL_OK;
}

int sl_data_from_config(const sl_config *cfg, sl_dataset *train, sl_dataset *val,
                        sl_dataset *test)
{
  if (!cfg)
    return sl_error(SL_EINVAL, "sl_data_from_config: NULL config");
  if (strcmp(cfg->dataset, "yinyang") != 0)
    return sl_error(SL_ENOTFOUND, "unknown data set '%s' (known: yinyang)", cfg->dataset);
  int rc = SL_OK;
  if (train && (rc = sl_yinyang_generate(train, (size_t)cfg->n_train, cfg->seed_train)))
    return rc;
  if (val && cfg->n_val > 0 && (rc = sl_yinyang_generate(val, (size_t)cfg->n_val, cfg->seed_val)))
    return rc;
  if (test && (rc = sl_yinyang_generate(test, (size_t)cfg->n_test, cfg->seed_test)))
    return rc;
  return SL_OK;
}

/* ------------------------------------------------------------ trainer */

struct sl_trainer {
  sl_net *net;
  sl_optim *opt;
  int loss_kind;
  double reg_spikes, reg_amp;
  float *gv;                         /* (T,B,n_out) */
  float *gs_reg[SL_MAX_LAYERS];      /* (T,B,N_l) */
  size_t capacity;
};

int sl_trainer_create(sl_trainer **out, sl_net *net, const sl_config *cfg)
{
  if (!out || !net || !cfg)
    return sl_error(SL_EINVAL, "sl_trainer_create: NULL argument");
  *out = NULL;
  sl_trainer *tr = calloc(1, sizeof *tr);
  if (!tr)
    return sl_error(SL_ENOMEM, "sl_trainer_create: out of memory");
  tr->net = net;
  tr->reg_spikes = cfg->reg_spikes;
  tr->reg_amp = cfg->reg_amp;
  int rc = sl_loss_from_name(cfg->loss, &tr->loss_kind);
  sl_optim_params op = sl_optim_params_default();
  op.lr = cfg->lr;
  op.lr_decay = cfg->lr_decay;
  op.lr_step = (size_t)cfg->lr_step;
  op.beta1 = cfg->beta1;
  op.beta2 = cfg->beta2;
  op.eps = cfg->eps;
  op.momentum = cfg->momentum;
  if (!rc)
    rc = sl_optim_create(&tr->opt, cfg->optimizer, sl_net_num_params(net), &op);
  if (rc) {
    sl_trainer_free(tr);
    return rc;
  }
  *out = tr;
  return SL_OK;
}

static void trainer_free_buffers(sl_trainer *tr)
{
  free(tr->gv);
  tr->gv = NULL;
  for (size_t l = 0; l < SL_MAX_LAYERS; l++) {
    free(tr->gs_reg[l]);
    tr->gs_reg[l] = NULL;
  }
  tr->capacity = 0;
}

void sl_trainer_free(sl_trainer *tr)
{
  if (!tr)
    return;
  trainer_free_buffers(tr);
  sl_optim_free(tr->opt);
  free(tr);
}

void sl_trainer_set_epoch(sl_trainer *tr, size_t epoch)
{
  if (tr)
    sl_optim_set_epoch(tr->opt, epoch);
}

static int trainer_grow(sl_trainer *tr, size_t TB)
{
  if (TB <= tr->capacity)
    return SL_OK;
  trainer_free_buffers(tr);
  const sl_net_spec *s = sl_net_get_spec(tr->net);
  tr->gv = malloc(TB * s->n_out * sizeof(float));
  int ok = tr->gv != NULL;
  for (size_t l = 0; l < s->n_layers && ok; l++)
    ok = (tr->gs_reg[l] = malloc(TB * s->n_hidden[l] * sizeof(float))) != NULL;
  if (!ok) {
    trainer_free_buffers(tr);
    return sl_error(SL_ENOMEM, "trainer: out of memory");
  }
  tr->capacity = TB;
  return SL_OK;
}

/* Sum of hidden spikes of the last forward. */
static double hidden_spike_total(sl_net *net)
{
  const sl_net_spec *s = sl_net_get_spec(net);
  double total = 0.0;
  for (size_t l = 0; l < s->n_layers; l++) {
    sl_layer_state st;
    if (sl_net_state(net, l, &st))
      continue;
    for (size_t i = 0; i < st.T * st.B * st.N; i++)
      total += st.s[i];
  }
  return total;
}

int sl_trainer_step(sl_trainer *tr, const float *x, const int32_t *y, size_t T, size_t B,
                    sl_batch_stats *stats)
{
  if (!tr || !x || !y)
    return sl_error(SL_EINVAL, "sl_trainer_step: NULL argument");
  sl_net *net = tr->net;
  const sl_net_spec *s = sl_net_get_spec(net);
  int rc = trainer_grow(tr, T * B);
  if (!rc)
    rc = sl_net_forward(net, x, T, B);
  double loss = 0.0;
  size_t correct = 0;
  if (!rc)
    rc = sl_loss_ce(tr->loss_kind, T, B, s->n_out, sl_net_output(net), y, tr->reg_amp, &loss,
                    tr->gv, NULL, &correct);
  const float *extra[SL_MAX_LAYERS] = {NULL};
  for (size_t l = 0; l < s->n_layers && !rc && tr->reg_spikes > 0; l++) {
    sl_layer_state st;
    double r = 0.0;
    rc = sl_net_state(net, l, &st);
    if (!rc) {
      memset(tr->gs_reg[l], 0, T * B * st.N * sizeof(float));
      rc = sl_reg_spike_count(T, B, st.N, st.s, tr->reg_spikes, &r, tr->gs_reg[l]);
    }
    loss += r;
    extra[l] = tr->gs_reg[l];
  }
  if (rc)
    return rc;
  sl_net_zero_grad(net);
  if ((rc = sl_net_backward(net, tr->gv, extra)))
    return rc;
  if ((rc = sl_optim_step(tr->opt, sl_net_params(net), sl_net_grads(net))))
    return rc;
  if (stats) {
    stats->loss = loss;
    stats->correct = correct;
    stats->n = B;
    stats->hidden_spikes = hidden_spike_total(net);
  }
  return SL_OK;
}

/* ------------------------------------------------------------ evaluation */

static size_t hidden_neurons(const sl_net_spec *s)
{
  size_t n = 0;
  for (size_t l = 0; l < s->n_layers; l++)
    n += s->n_hidden[l];
  return n;
}

/* Encode samples idx[0..B) of d into raster (T,B,D) and labels. */
static int make_batch(const sl_encoder *enc, const sl_dataset *d, const size_t *idx, size_t B,
                      uint64_t seed, float *xbuf, float *raster, int32_t *labels, uint64_t *ids)
{
  for (size_t b = 0; b < B; b++) {
    memcpy(xbuf + b * d->dim, d->x + idx[b] * d->dim, d->dim * sizeof(float));
    labels[b] = d->y[idx[b]];
    ids[b] = idx[b];
  }
  return sl_encode(enc, xbuf, B, d->dim, ids, seed, raster);
}

typedef struct {
  float *xbuf, *raster;
  int32_t *labels;
  uint64_t *ids;
  size_t *idx;
} batch_bufs;

static void batch_bufs_free(batch_bufs *b)
{
  free(b->xbuf), free(b->raster), free(b->labels), free(b->ids), free(b->idx);
}

static int batch_bufs_alloc(batch_bufs *b, const sl_encoder *enc, size_t dim, size_t batch,
                            size_t n_idx)
{
  size_t D = sl_encoder_out_dim(enc, dim);
  b->xbuf = malloc(batch * dim * sizeof(float));
  b->raster = malloc(enc->t_steps * batch * D * sizeof(float));
  b->labels = malloc(batch * sizeof(int32_t));
  b->ids = malloc(batch * sizeof(uint64_t));
  b->idx = malloc(n_idx * sizeof(size_t));
  if (!b->xbuf || !b->raster || !b->labels || !b->ids || !b->idx) {
    batch_bufs_free(b);
    return sl_error(SL_ENOMEM, "out of memory for batches of %zu", batch);
  }
  return SL_OK;
}

int sl_evaluate(sl_net *net, const sl_encoder *enc, const sl_dataset *d, size_t batch,
                int loss_kind, sl_eval_result *res)
{
  if (!net || !enc || !d || !res || batch == 0 || d->n == 0)
    return sl_error(SL_EINVAL, "sl_evaluate: empty arguments");
  const sl_net_spec *s = sl_net_get_spec(net);
  if (sl_encoder_out_dim(enc, d->dim) != s->n_in)
    return sl_error(SL_ESHAPE, "data set gives %zu inputs per sample but the network takes %zu",
                    sl_encoder_out_dim(enc, d->dim), s->n_in);
  if (d->n_classes > s->n_out)
    return sl_error(SL_ESHAPE, "data set has %zu classes but the network %zu outputs",
                    d->n_classes, s->n_out);
  batch_bufs bb = {0};
  int rc = batch_bufs_alloc(&bb, enc, d->dim, batch, batch);
  if (rc)
    return rc;
  const size_t T = enc->t_steps;
  double loss_sum = 0.0, spikes = 0.0;
  size_t correct = 0;
  for (size_t start = 0; start < d->n && !rc; start += batch) {
    size_t B = d->n - start < batch ? d->n - start : batch;
    for (size_t b = 0; b < B; b++)
      bb.idx[b] = start + b;
    double loss = 0.0;
    size_t c = 0;
    rc = make_batch(enc, d, bb.idx, B, 0, bb.xbuf, bb.raster, bb.labels, bb.ids);
    if (!rc)
      rc = sl_net_forward(net, bb.raster, T, B);
    if (!rc)
      rc = sl_loss_ce(loss_kind, T, B, s->n_out, sl_net_output(net), bb.labels, 0.0, &loss, NULL,
                      NULL, &c);
    loss_sum += loss * (double)B;
    correct += c;
    spikes += hidden_spike_total(net);
  }
  batch_bufs_free(&bb);
  if (rc)
    return rc;
  res->accuracy = (double)correct / (double)d->n;
  res->loss = loss_sum / (double)d->n;
  res->hidden_rate = spikes / ((double)d->n * (double)hidden_neurons(s));
  return SL_OK;
}

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

int sl_run_train(const sl_config *cfg, const char *log_path, const sl_run_meta *meta,
                 sl_progress_fn progress, void *user, sl_run_result *res)
{
  if (!cfg)
    return sl_error(SL_EINVAL, "sl_run_train: NULL config");
  const double t0 = now_seconds();
  sl_dataset train = {0}, val = {0}, test = {0};
  sl_encoder enc;
  sl_net *net = NULL;
  sl_trainer *tr = NULL;
  sl_runlog *log = NULL;
  batch_bufs bb = {0};
  int rc = sl_config_validate(cfg);
  if (!rc)
    rc = sl_encoder_from_config(cfg, &enc);
  if (!rc)
    rc = sl_data_from_config(cfg, &train, &val, &test);
  if (!rc)
    rc = sl_net_from_config(&net, cfg, sl_encoder_out_dim(&enc, train.dim), train.n_classes);
  if (!rc)
    rc = sl_trainer_create(&tr, net, cfg);
  if (!rc)
    rc = batch_bufs_alloc(&bb, &enc, train.dim, (size_t)cfg->batch, train.n);
  if (!rc && log_path) {
    sl_run_meta m = {"train", cfg->seed, sl_get_num_threads()};
    rc = sl_runlog_create(&log, log_path, cfg, meta ? meta : &m);
  }
  const size_t T = enc.t_steps, batch = (size_t)cfg->batch;
  const size_t n_hidden = net ? hidden_neurons(sl_net_get_spec(net)) : 0;
  sl_eval_result ev_test = {0}, ev_val = {0};
  double train_acc = 0.0;
  long epoch = 0;
  for (; !rc && epoch < cfg->epochs; epoch++) {
    const double te = now_seconds();
    sl_trainer_set_epoch(tr, (size_t)epoch);
    shuffle(bb.idx, train.n, sl_seed_mix(cfg->seed, 1000 + (uint64_t)epoch));
    double loss_sum = 0.0, spikes = 0.0;
    size_t correct = 0, seen = 0;
    for (size_t start = 0; start + batch <= train.n && !rc; start += batch) {
      sl_batch_stats st;
      rc = make_batch(&enc, &train, bb.idx + start, batch, sl_seed_mix(cfg->seed, (uint64_t)epoch),
                      bb.xbuf, bb.raster, bb.labels, bb.ids);
      if (!rc)
        rc = sl_trainer_step(tr, bb.raster, bb.labels, T, batch, &st);
      if (rc)
        break;
      loss_sum += st.loss * (double)batch;
      correct += st.correct;
      spikes += st.hidden_spikes;
      seen += batch;
    }
    if (!rc)
      rc = sl_evaluate(net, &enc, &test, batch, tr->loss_kind, &ev_test);
    if (!rc && val.n)
      rc = sl_evaluate(net, &enc, &val, batch, tr->loss_kind, &ev_val);
    if (rc)
      break;
    train_acc = seen ? (double)correct / (double)seen : 0.0;
    sl_epoch_metrics m = {epoch + 1,
                          seen ? loss_sum / (double)seen : 0.0,
                          train_acc,
                          val.n ? ev_val.accuracy : NAN,
                          ev_test.accuracy,
                          seen ? spikes / ((double)seen * (double)n_hidden) : 0.0,
                          now_seconds() - te};
    if (log)
      rc = sl_runlog_append_epoch(log, &m);
    if (progress)
      progress(&m, user);
  }
  if (!rc && cfg->epochs == 0) {
    rc = sl_evaluate(net, &enc, &test, batch, tr->loss_kind, &ev_test);
    if (!rc && val.n)
      rc = sl_evaluate(net, &enc, &val, batch, tr->loss_kind, &ev_val);
  }
  const double seconds = now_seconds() - t0;
  if (!rc && log) {
    rc = log_network(log, net);
    if (!rc)
      rc = sl_runlog_put_summary(log, "val_accuracy", val.n ? ev_val.accuracy : 0.0);
    if (!rc)
      rc = sl_runlog_finish(log, ev_test.accuracy, epoch, seconds);
  }
  if (log) {
    int rc2 = sl_runlog_close(log);
    if (!rc)
      rc = rc2;
  }
  if (!rc && res) {
    res->test_accuracy = ev_test.accuracy;
    res->val_accuracy = val.n ? ev_val.accuracy : NAN;
    res->train_accuracy = train_acc;
    res->seconds = seconds;
    res->epochs = epoch;
  }
  batch_bufs_free(&bb);
  sl_trainer_free(tr);
  sl_net_free(net);
  sl_dataset_free(&train);
  sl_dataset_free(&val);
  sl_dataset_free(&test);
  return rc;
}

int sl_run_eval(const char *log_path, sl_eval_result *res)
{
  if (!log_path || !res)
    return sl_error(SL_EINVAL, "sl_run_eval: NULL argument");
  sl_runlog_reader *r = NULL;
  sl_config cfg;
  sl_dataset test = {0};
  sl_encoder enc;
  sl_net *net = NULL;
  int loss_kind = SL_LOSS_MAX;
  sl_config_defaults(&cfg);
  int rc = sl_runlog_open(&r, log_path);
  if (!rc)
    rc = sl_runlog_read_config(r, &cfg);
  double acc;
  if (!rc && sl_runlog_get_summary(r, "test_accuracy", &acc))
    rc = sl_error(SL_EFORMAT, "%s: the run did not finish (no /summary); nothing to evaluate",
                  log_path);
  if (!rc)
    rc = sl_encoder_from_config(&cfg, &enc);
  if (!rc)
    rc = sl_data_from_config(&cfg, NULL, NULL, &test);
  if (!rc)
    rc = sl_net_from_config(&net, &cfg, sl_encoder_out_dim(&enc, test.dim), test.n_classes);
  if (!rc)
    rc = sl_loss_from_name(cfg.loss, &loss_kind);
  if (!rc)
    rc = load_network(r, net);
  if (!rc)
    rc = sl_net_check(net);
  if (!rc)
    rc = sl_evaluate(net, &enc, &test, (size_t)cfg.batch, loss_kind, res);
  sl_net_free(net);
  sl_dataset_free(&test);
  sl_runlog_reader_close(r);
  return rc;
}
