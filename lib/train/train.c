/* train.c -- the trainer (one batch: forward, loss, backward, update) and
 * evaluation, with the forward pass on the simulator or through a loop.
 *
 * The trainer owns the per-batch buffers (loss gradient, regulariser
 * gradients) and the optimiser. The optimiser steps the network's float
 * master weights; the sync then copies them into the weights the network
 * uses, or in the loop quantises them into those and the backend's.
 */
#include "config.h"
#include "spikeloop/train.h"
#include "spikeloop/dist.h"
#include "spikeloop/error.h"
#include "spikeloop/loop.h"
#include "spikeloop/loss.h"
#include "spikeloop/optim.h"
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ trainer */

struct sl_trainer {
  sl_net *net;
  sl_loop *loop;                     /* forward on a backend, or NULL */
  sl_optim *opt;
  int loss_kind;
  double reg_spikes, reg_amp;
  float *gv;                         /* (T,B,n_out) */
  float *gs_reg[SL_MAX_LAYERS];      /* (T,B,N_l) */
  size_t capacity;
  size_t B_global; /* data-parallel: samples of a step over all ranks, 0 = off */
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
  sl_net_keep_currents(net, 0); /* backward does not read them (tau gradients aside) */
  /* train from the weights the network has, however they were set */
  memcpy(sl_net_master(net), sl_net_params(net), sl_net_num_params(net) * sizeof(float));
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

int sl_trainer_set_loop(sl_trainer *tr, sl_loop *loop)
{
  if (!tr)
    return sl_error(SL_EINVAL, "sl_trainer_set_loop: NULL trainer");
  if (loop && sl_loop_net(loop) != tr->net)
    return sl_error(SL_EINVAL, "sl_trainer_set_loop: the loop drives another network");
  tr->loop = loop;
  return SL_OK;
}

int sli_trainer_loss_kind(const sl_trainer *tr) { return tr->loss_kind; }

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
double sli_hidden_spike_total(sl_net *net)
{
  const sl_net_spec *s = sl_net_get_spec(net);
  double total = 0.0;
  for (size_t l = 0; l < s->n_layers; l++) {
    double c;
    if (sl_net_spike_count(net, l, &c) == SL_OK)
      total += c;
  }
  return total;
}

int sli_sync_weights(sl_net *net, sl_loop *loop)
{
  if (loop)
    return sl_loop_sync_weights(loop, NULL);
  memcpy(sl_net_params(net), sl_net_master(net), sl_net_num_params(net) * sizeof(float));
  return SL_OK;
}

/* The input of a step: a dense raster x (T, B, n_in), or an event list. */
typedef struct {
  const float *x;
  const sl_spikes *sp;
} step_input;

static int trainer_step(sl_trainer *tr, step_input in, const int32_t *y, size_t T, size_t B,
                        sl_batch_stats *stats)
{
  if (!tr || !(in.x || in.sp) || !y)
    return sl_error(SL_EINVAL, "sl_trainer_step: NULL argument");
  if (in.sp && tr->loop)
    return sl_error(SL_EINVAL, "sl_trainer_step_spikes: in-the-loop training takes the dense "
                               "raster (the backend is driven by it)");
  const size_t B_global = tr->B_global;
  const int dist = B_global > 0 && sl_dist_size() > 1;
  sl_net *net = tr->net;
  const sl_net_spec *s = sl_net_get_spec(net);
  int rc = trainer_grow(tr, T * B);
  if (!rc)
    rc = tr->loop  ? sl_loop_forward(tr->loop, in.x, T, B)
         : in.sp ? sl_net_forward_spikes(net, in.sp)
                 : sl_net_forward(net, in.x, T, B);
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
  double hidden = sli_hidden_spike_total(net);
  if (dist) { /* average the slices' mean gradients over the global batch */
    float *g = sl_net_grads(net);
    const size_t n = sl_net_num_params(net);
    const float w = (float)((double)B / (double)B_global);
    for (size_t i = 0; i < n; i++)
      g[i] *= w;
    double st[3] = {loss * (double)B, (double)correct, hidden};
    if ((rc = sl_dist_sum_float(g, n)) || (rc = sl_dist_sum_double(st, 3)))
      return rc;
    loss = st[0] / (double)B_global;
    correct = (size_t)(st[1] + 0.5);
    hidden = st[2];
    B = B_global;
  }
  if ((rc = sl_optim_step(tr->opt, sl_net_master(net), sl_net_grads(net))) ||
      (rc = sli_sync_weights(net, tr->loop)))
    return rc;
  if (stats) {
    stats->loss = loss;
    stats->correct = correct;
    stats->n = B;
    stats->hidden_spikes = hidden;
  }
  return SL_OK;
}

int sl_trainer_set_global_batch(sl_trainer *tr, size_t B_global)
{
  if (!tr)
    return sl_error(SL_EINVAL, "sl_trainer_set_global_batch: NULL trainer");
  tr->B_global = B_global;
  return SL_OK;
}

int sl_trainer_step(sl_trainer *tr, const float *x, const int32_t *y, size_t T, size_t B,
                    sl_batch_stats *stats)
{
  step_input in = {x, NULL};
  return trainer_step(tr, in, y, T, B, stats);
}

int sl_trainer_step_spikes(sl_trainer *tr, const sl_spikes *x, const int32_t *y,
                           sl_batch_stats *stats)
{
  step_input in = {NULL, x};
  size_t T = 0, B = 0;
  if (x && sl_spikes_shape(x, &T, &B, NULL))
    return sl_error(SL_EINVAL, "sl_trainer_step_spikes: %s", sl_last_error());
  return trainer_step(tr, in, y, T, B, stats);
}

/* ------------------------------------------------------------ evaluation */

size_t sli_hidden_neurons(const sl_net_spec *s)
{
  size_t n = 0;
  for (size_t l = 0; l < s->n_layers; l++)
    n += s->n_hidden[l];
  return n;
}

/* Encode samples idx[0..B) of d into raster (T,B,D) and labels. */
int sli_make_batch(const sl_encoder *enc, const sl_dataset *d, const size_t *idx, size_t B,
                      uint64_t seed, float *xbuf, float *raster, int32_t *labels, uint64_t *ids)
{
  for (size_t b = 0; b < B; b++) {
    memcpy(xbuf + b * d->dim, d->x + idx[b] * d->dim, d->dim * sizeof(float));
    labels[b] = d->y[idx[b]];
    ids[b] = idx[b];
  }
  return sl_encode(enc, xbuf, B, d->dim, ids, seed, raster);
}

void sli_batch_free(sli_batch *b)
{
  free(b->xbuf), free(b->raster), free(b->labels), free(b->ids), free(b->idx);
}

int sli_batch_alloc(sli_batch *b, const sl_encoder *enc, size_t dim, size_t batch,
                            size_t n_idx)
{
  size_t D = sl_encoder_out_dim(enc, dim);
  b->xbuf = malloc(batch * dim * sizeof(float));
  b->raster = malloc(enc->t_steps * batch * D * sizeof(float));
  b->labels = malloc(batch * sizeof(int32_t));
  b->ids = malloc(batch * sizeof(uint64_t));
  b->idx = malloc(n_idx * sizeof(size_t));
  if (!b->xbuf || !b->raster || !b->labels || !b->ids || !b->idx) {
    sli_batch_free(b);
    return sl_error(SL_ENOMEM, "out of memory for batches of %zu", batch);
  }
  return SL_OK;
}

/* Evaluate with the forward pass on the simulator (loop == NULL) or a backend. */
/* A counter the backend answers through read_config (e.g. the memristor's
 * "reads"), or -1 if it has none. */
static double hw_counter(sl_loop *loop, const char *key)
{
  char buf[64];
  sl_hw *hw = loop ? sl_loop_hw(loop) : NULL;
  if (!hw || sl_hw_read_config(hw, key, buf, sizeof buf) != SL_OK) {
    sl_clear_error();
    return -1.0;
  }
  return strtod(buf, NULL);
}

/* The hardware-aware columns of one batch run on the loop's backend: the
 * spikes and membrane samples it reported per sample, and the growth of
 * its conversion / read counters (before[k] from hw_counter) shared evenly
 * over the batch (a crossbar reads every vector whole, so each sample
 * costs the same). */
static const char *const hw_keys[] = {"reads", "read_pulses", "dac_conversions",
                                      "adc_conversions"};
#define N_HW_KEYS (sizeof hw_keys / sizeof hw_keys[0])

static int count_hw(sl_nb *nb, sl_loop *loop, size_t B, const double *before, double *tmp)
{
  const sl_observations *o = sl_loop_observations(loop);
  int rc = SL_OK;
  if (o && o->B == B) {
    for (size_t b = 0; b < B; b++)
      tmp[b] = 0.0;
    for (size_t e = 0; e < o->n_spikes; e++)
      if (o->spike_sample[e] < B)
        tmp[o->spike_sample[e]] += 1.0;
    rc = sl_nb_set_column(nb, "hw.spikes", tmp, B);
    for (size_t b = 0; b < B; b++)
      tmp[b] = (double)(o->n_samples * o->n_neurons);
    if (!rc)
      rc = sl_nb_set_column(nb, "hw.membrane_samples", tmp, B);
  }
  for (size_t k = 0; !rc && k < N_HW_KEYS; k++) {
    if (before[k] < 0)
      continue;
    double after = hw_counter(loop, hw_keys[k]);
    char name[48];
    snprintf(name, sizeof name, "hw.%s", hw_keys[k]);
    for (size_t b = 0; b < B; b++)
      tmp[b] = (after - before[k]) / (double)B;
    rc = sl_nb_set_column(nb, name, tmp, B);
  }
  return rc;
}

int sli_evaluate(sl_net *net, sl_loop *loop, const sl_encoder *enc, const sl_dataset *d,
                 size_t batch, int loss_kind, sl_eval_result *res, sl_nb *nb)
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
  sli_batch bb = {0};
  int rc = sli_batch_alloc(&bb, enc, d->dim, batch, batch);
  if (rc)
    return rc;
  double *tmp = nb ? malloc(batch * sizeof *tmp) : NULL;
  if (nb && !tmp) {
    sli_batch_free(&bb);
    return sl_error(SL_ENOMEM, "sl_evaluate: out of memory");
  }
  const size_t T = enc->t_steps;
  double loss_sum = 0.0, spikes = 0.0;
  size_t correct = 0;
  for (size_t start = 0; start < d->n && !rc; start += batch) {
    size_t B = d->n - start < batch ? d->n - start : batch;
    for (size_t b = 0; b < B; b++)
      bb.idx[b] = start + b;
    double loss = 0.0;
    size_t c = 0;
    double before[N_HW_KEYS];
    for (size_t k = 0; k < N_HW_KEYS; k++)
      before[k] = nb && loop ? hw_counter(loop, hw_keys[k]) : -1.0;
    rc = sli_make_batch(enc, d, bb.idx, B, 0, bb.xbuf, bb.raster, bb.labels, bb.ids);
    if (!rc)
      rc = loop ? sl_loop_forward(loop, bb.raster, T, B) : sl_net_forward(net, bb.raster, T, B);
    if (!rc && nb)
      rc = sl_nb_count(nb, net, bb.raster, T, B);
    if (!rc && nb && loop)
      rc = count_hw(nb, loop, B, before, tmp);
    if (!rc)
      rc = sl_loss_ce(loss_kind, T, B, s->n_out, sl_net_output(net), bb.labels, 0.0, &loss, NULL,
                      NULL, &c);
    loss_sum += loss * (double)B;
    correct += c;
    spikes += sli_hidden_spike_total(net);
  }
  sli_batch_free(&bb);
  free(tmp);
  if (rc)
    return rc;
  res->accuracy = (double)correct / (double)d->n;
  res->loss = loss_sum / (double)d->n;
  res->hidden_rate = spikes / ((double)d->n * (double)sli_hidden_neurons(s));
  return SL_OK;
}

int sl_evaluate(sl_net *net, const sl_encoder *enc, const sl_dataset *d, size_t batch,
                int loss_kind, sl_eval_result *res)
{
  return sli_evaluate(net, NULL, enc, d, batch, loss_kind, res, NULL);
}

int sl_evaluate_loop(sl_loop *loop, const sl_encoder *enc, const sl_dataset *d, size_t batch,
                     int loss_kind, sl_eval_result *res)
{
  if (!loop)
    return sl_error(SL_EINVAL, "sl_evaluate_loop: NULL loop");
  return sli_evaluate(sl_loop_net(loop), loop, enc, d, batch, loss_kind, res, NULL);
}

struct sl_optim *sli_trainer_optim(sl_trainer *tr) { return tr ? tr->opt : NULL; }
