/* net.c -- a stack of LIF layers with an LI readout: parameter block,
 * forward with stored states, and backpropagation through time.
 *
 * Parameters, gradients and the float master weights are three contiguous
 * blocks with the same layout (tensor after tensor, in layer order: w_in
 * then w_rec), so optimisers are a flat loop and logging iterates the
 * tensor table. State buffers are
 * (T, B, N) per layer and grow on demand.
 *
 * The input of every layer (the network input, the spikes of the layer
 * below) is listed as events once per forward pass (lib/events.c); the
 * forward product and the weight gradient of that layer both run over the
 * list. sl_net_infer runs the network without stored states: each sample
 * steps through time with its current state only.
 */
#include "config.h"
#include "spikeloop/net.h"
#include "spikeloop/error.h"
#include "core/kernels.h"
#include "core/lif_row.h"

#include "base/rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TENSORS (2 * SL_MAX_LAYERS + 1)

typedef struct {
  size_t layer, rows, cols, offset;
  const char *name;
} tensor_rec;

typedef struct {
  float *h, *i_syn, *v, *s, *gs, *gh;
  uint8_t *clamp;
  uint32_t *rows, *count; /* hidden: each row's spikes (slk_lif_layer_forward) */
  float *dtau_mem, *dtau_syn;
  size_t w_in, w_rec; /* tensor indices; w_rec = SIZE_MAX if feed-forward */
} layer_buf;

struct sl_net {
  sl_net_spec spec;
  size_t n_layers_total; /* hidden + readout */
  size_t size[SL_MAX_LAYERS + 1];
  char names[SL_MAX_LAYERS + 1][24];
  sl_neurons neurons[SL_MAX_LAYERS + 1];
  slk_decay decay[SL_MAX_LAYERS + 1]; /* per layer, brought up to date by update_decays */
  tensor_rec tensors[MAX_TENSORS];
  size_t n_tensors, n_params;
  float *params, *grads;
  float *master; /* float master weights, same layout: what the optimiser steps */
  layer_buf buf[SL_MAX_LAYERS + 1];
  size_t capacity; /* T*B the buffers hold */
  size_t T, B;     /* of the last forward */
  const float *x;  /* dense input of the last forward (not owned), or NULL */
  const slk_events *in_ev; /* events of that input: ev[0], or a caller's sl_spikes */
  int tau_grad, use_ref;
  int drop_currents;   /* sl_net_keep_currents(net, 0) */
  int currents_kept;   /* the last forward stored h and i_syn of the hidden layers */
  slk_events ev[SL_MAX_LAYERS + 1]; /* events of each layer's input, last forward */
  int ev_valid;                     /* ev[] belong to the last forward */
  slk_events ev_infer;              /* input events of the last sl_net_infer */
  float *infer_last;                /* (B, n_out) readout membrane at its last step */
  size_t infer_cap;
};

sl_net_spec sl_net_spec_default(void)
{
  sl_net_spec s;
  memset(&s, 0, sizeof s);
  s.n_in = 5;
  s.n_out = 3;
  s.n_layers = 1;
  s.n_hidden[0] = 120;
  s.dt = 1e-3;
  s.hidden = sl_neuron_nominal_default();
  s.readout = sl_neuron_nominal_default();
  s.lif = sl_lif_options_default();
  return s;
}

static int check_spec(const sl_net_spec *s)
{
  if (!s)
    return sl_error(SL_EINVAL, "network spec is NULL");
  if (s->n_in == 0 || s->n_out == 0)
    return sl_error(SL_EINVAL, "network needs n_in > 0 and n_out > 0 (got %zu, %zu)", s->n_in,
                    s->n_out);
  if (s->n_layers == 0 || s->n_layers > SL_MAX_LAYERS)
    return sl_error(SL_EINVAL, "network needs 1..%d hidden layers (got %zu)", SL_MAX_LAYERS,
                    s->n_layers);
  for (size_t l = 0; l < s->n_layers; l++)
    if (s->n_hidden[l] == 0)
      return sl_error(SL_EINVAL, "hidden layer %zu has zero neurons", l);
  if (!(s->dt > 0) || !isfinite(s->dt))
    return sl_error(SL_EINVAL, "time step dt = %g must be positive and finite", s->dt);
  if (!s->lif.surrogate)
    return sl_error(SL_EINVAL, "network spec has no surrogate");
  if (!(s->lif.beta > 0) || !isfinite(s->lif.beta))
    return sl_error(SL_EINVAL, "surrogate beta = %g must be positive", s->lif.beta);
  if (s->lif.reset != SL_RESET_TO_VALUE && s->lif.reset != SL_RESET_SUBTRACT)
    return sl_error(SL_EINVAL, "unknown reset mode %d", s->lif.reset);
  return SL_OK;
}

static void free_buffers(sl_net *net)
{
  for (size_t l = 0; l < net->n_layers_total; l++) {
    layer_buf *b = &net->buf[l];
    free(b->h), free(b->i_syn), free(b->v), free(b->s), free(b->gs), free(b->gh);
    free(b->clamp), free(b->rows), free(b->count);
    b->h = b->i_syn = b->v = b->s = b->gs = b->gh = NULL;
    b->clamp = NULL;
    b->rows = b->count = NULL;
  }
  net->capacity = 0;
}

void sl_net_free(sl_net *net)
{
  if (!net)
    return;
  free_buffers(net);
  for (size_t l = 0; l < net->n_layers_total; l++)
    slk_events_free(&net->ev[l]);
  slk_events_free(&net->ev_infer);
  free(net->infer_last);
  for (size_t l = 0; l < net->n_layers_total; l++) {
    sl_neurons_free(&net->neurons[l]);
    slk_decay_free(&net->decay[l]);
    free(net->buf[l].dtau_mem);
    free(net->buf[l].dtau_syn);
  }
  free(net->params);
  free(net->grads);
  free(net->master);
  free(net);
}

static void add_tensor(sl_net *net, size_t layer, const char *name, size_t rows, size_t cols)
{
  tensor_rec *t = &net->tensors[net->n_tensors++];
  t->layer = layer;
  t->name = name;
  t->rows = rows;
  t->cols = cols;
  t->offset = net->n_params;
  net->n_params += rows * cols;
}

int sl_net_create(sl_net **out, const sl_net_spec *spec)
{
  if (!out)
    return sl_error(SL_EINVAL, "sl_net_create: NULL output");
  *out = NULL;
  int rc = check_spec(spec);
  if (rc)
    return rc;
  sl_net *net = calloc(1, sizeof *net);
  if (!net)
    return sl_error(SL_ENOMEM, "sl_net_create: out of memory");
  net->spec = *spec;
  net->n_layers_total = spec->n_layers + 1;
  size_t pre = spec->n_in;
  for (size_t l = 0; l < net->n_layers_total; l++) {
    int readout = l == spec->n_layers;
    size_t n = readout ? spec->n_out : spec->n_hidden[l];
    net->size[l] = n;
    if (readout)
      snprintf(net->names[l], sizeof net->names[l], "readout");
    else
      snprintf(net->names[l], sizeof net->names[l], "hidden%u", (unsigned)l);
    if ((rc = sl_neurons_alloc(&net->neurons[l], n, readout ? &spec->readout : &spec->hidden)))
      goto fail;
    net->buf[l].w_in = net->n_tensors;
    add_tensor(net, l, "w_in", pre, n);
    net->buf[l].w_rec = SIZE_MAX;
    if (!readout && spec->recurrent[l]) {
      net->buf[l].w_rec = net->n_tensors;
      add_tensor(net, l, "w_rec", n, n);
    }
    pre = n;
  }
  net->params = calloc(net->n_params, sizeof(float));
  net->grads = calloc(net->n_params, sizeof(float));
  net->master = calloc(net->n_params, sizeof(float));
  if (!net->params || !net->grads || !net->master) {
    rc = sl_error(SL_ENOMEM, "sl_net_create: out of memory for %zu parameters", net->n_params);
    goto fail;
  }
  *out = net;
  return SL_OK;
fail:
  sl_net_free(net);
  return rc;
}

const sl_net_spec *sl_net_get_spec(const sl_net *net) { return net ? &net->spec : NULL; }

sl_neurons *sl_net_neurons(sl_net *net, size_t layer)
{
  return net && layer < net->n_layers_total ? &net->neurons[layer] : NULL;
}

const char *sl_net_layer_name(const sl_net *net, size_t layer)
{
  return net && layer < net->n_layers_total ? net->names[layer] : NULL;
}

int sl_net_init_weights(sl_net *net, double scale, uint64_t seed)
{
  if (!net)
    return sl_error(SL_EINVAL, "sl_net_init_weights: NULL network");
  if (!(scale > 0) || !isfinite(scale))
    return sl_error(SL_EINVAL, "weight init scale = %g must be positive", scale);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!r)
    return sl_error(SL_ENOMEM, "sl_net_init_weights: cannot allocate generator");
  gsl_rng_set(r, (unsigned long)(sl_seed_mix(seed, 0) & 0xffffffffu) | 1u);
  for (size_t i = 0; i < net->n_tensors; i++) {
    const tensor_rec *t = &net->tensors[i];
    double sd = scale / sqrt((double)t->rows);
    float *w = net->params + t->offset;
    for (size_t j = 0; j < t->rows * t->cols; j++)
      w[j] = (float)gsl_ran_gaussian_ziggurat(r, sd);
  }
  gsl_rng_free(r);
  memcpy(net->master, net->params, net->n_params * sizeof(float));
  return SL_OK;
}

size_t sl_net_num_tensors(const sl_net *net) { return net ? net->n_tensors : 0; }

int sl_net_tensor(sl_net *net, size_t i, sl_tensor *out)
{
  if (!net || !out || i >= net->n_tensors)
    return sl_error(SL_EINVAL, "tensor index %zu out of range", i);
  const tensor_rec *t = &net->tensors[i];
  out->layer = net->names[t->layer];
  out->name = t->name;
  out->layer_index = t->layer;
  out->rows = t->rows;
  out->cols = t->cols;
  out->data = net->params + t->offset;
  out->grad = net->grads + t->offset;
  return SL_OK;
}

int sl_net_find_tensor(sl_net *net, const char *layer, const char *name, sl_tensor *out)
{
  if (!net || !layer || !name)
    return sl_error(SL_EINVAL, "sl_net_find_tensor: NULL argument");
  for (size_t i = 0; i < net->n_tensors; i++) {
    const tensor_rec *t = &net->tensors[i];
    if (strcmp(net->names[t->layer], layer) == 0 && strcmp(t->name, name) == 0)
      return sl_net_tensor(net, i, out);
  }
  return sl_error(SL_ENOTFOUND, "network has no tensor %s/%s", layer, name);
}

size_t sl_net_num_params(const sl_net *net) { return net ? net->n_params : 0; }
float *sl_net_params(sl_net *net) { return net ? net->params : NULL; }
float *sl_net_grads(sl_net *net) { return net ? net->grads : NULL; }
float *sl_net_master(sl_net *net) { return net ? net->master : NULL; }

void sl_net_zero_grad(sl_net *net)
{
  if (!net)
    return;
  memset(net->grads, 0, net->n_params * sizeof(float));
  for (size_t l = 0; l < net->n_layers_total; l++) {
    if (net->buf[l].dtau_mem)
      memset(net->buf[l].dtau_mem, 0, net->size[l] * sizeof(float));
    if (net->buf[l].dtau_syn)
      memset(net->buf[l].dtau_syn, 0, net->size[l] * sizeof(float));
  }
}

int sl_net_check(const sl_net *net)
{
  if (!net)
    return sl_error(SL_EINVAL, "network is NULL");
  for (size_t i = 0; i < net->n_tensors; i++) {
    const tensor_rec *t = &net->tensors[i];
    if (!slk_all_finite(net->params + t->offset, t->rows * t->cols))
      return sl_error(SL_ENUMERIC, "weights %s/%s contain NaN or Inf", net->names[t->layer],
                      t->name);
  }
  for (size_t l = 0; l < net->n_layers_total; l++) {
    int rc = sl_neurons_check(&net->neurons[l], net->spec.dt);
    if (rc)
      return sl_error(rc, "layer %s: %s", net->names[l], sl_last_error());
  }
  return SL_OK;
}

static int grow(sl_net *net, size_t TB)
{
  if (TB <= net->capacity)
    return SL_OK;
  free_buffers(net);
  for (size_t l = 0; l < net->n_layers_total; l++) {
    layer_buf *b = &net->buf[l];
    size_t n = TB * net->size[l];
    int hidden = l < net->spec.n_layers;
    b->h = malloc(n * sizeof(float));
    b->i_syn = malloc(n * sizeof(float));
    b->v = malloc(n * sizeof(float));
    b->gh = malloc(n * sizeof(float));
    if (hidden) {
      b->s = malloc(n * sizeof(float));
      b->clamp = malloc(n); /* gs only when an unfused backward needs it (gs_buffer) */
      b->rows = malloc(TB * (net->size[l] + SLK_ROW_PAD) * sizeof *b->rows);
      b->count = malloc(TB * sizeof *b->count);
    }
    if (!b->h || !b->i_syn || !b->v || !b->gh ||
        (hidden && (!b->s || !b->clamp || !b->rows || !b->count))) {
      free_buffers(net);
      return sl_error(SL_ENOMEM, "network: out of memory for states of %zu steps x samples", TB);
    }
  }
  net->capacity = TB;
  return SL_OK;
}

/* The dense dL/dS buffer of hidden layer l, for the unfused backward. */
static float *gs_buffer(sl_net *net, size_t l)
{
  layer_buf *b = &net->buf[l];
  if (!b->gs && !(b->gs = malloc(net->capacity * net->size[l] * sizeof(float))))
    sl_error(SL_ENOMEM, "network: out of memory for dL/dS of %zu steps x samples",
             net->capacity);
  return b->gs;
}

size_t sl_net_state_bytes(const sl_net *net)
{
  if (!net)
    return 0;
  size_t bytes = 0;
  for (size_t l = 0; l < net->n_layers_total; l++) {
    const layer_buf *b = &net->buf[l];
    const size_t n = net->size[l];
    size_t per_row = 0; /* bytes per (t, b) row */
    const int currents = l == net->spec.n_layers || net->currents_kept; /* else untouched */
    per_row += currents * ((b->h != NULL) + (b->i_syn != NULL)) + (b->v != NULL) + (b->s != NULL);
    per_row += (b->gs != NULL) + (b->gh != NULL);
    per_row *= n * sizeof(float);
    per_row += b->clamp ? n : 0;
    per_row += b->rows ? (n + SLK_ROW_PAD) * sizeof *b->rows + sizeof *b->count : 0;
    bytes += per_row * net->capacity;
  }
  for (size_t l = 0; l < net->n_layers_total; l++) /* event lists */
    bytes += net->ev[l].cap_nnz * (sizeof(uint32_t) + sizeof(float)) +
             net->ev[l].cap_rows * sizeof(size_t);
  return bytes;
}

/* The decay factors of every layer, recomputed where the time constants
 * changed since the last pass: callers may edit the neurons at any time
 * (sl_net_neurons), so every pass brings them up to date. */
static int update_decays(sl_net *net)
{
  int rc = SL_OK;
  for (size_t l = 0; l < net->n_layers_total && !rc; l++)
    rc = slk_decay_update(&net->decay[l], &net->neurons[l],
                          l < net->spec.n_layers ? net->spec.lif.scale_input
                                                 : net->spec.readout_scale_input,
                          net->spec.dt);
  return rc;
}

/* Buffers for T x B and the bookkeeping of a new forward pass over x. */
static int begin_forward(sl_net *net, const float *x, size_t T, size_t B)
{
  int rc = grow(net, T * B);
  if (!rc)
    rc = update_decays(net);
  if (rc)
    return rc;
  net->T = T;
  net->B = B;
  net->x = x;
  net->in_ev = &net->ev[0];
  net->ev_valid = 0;
  return SL_OK;
}

/* The event list of layer l's input (fast path): the caller's (layer 0,
 * x NULL), the rows the fused layer below listed, or listed from the dense
 * raster `in` (TB, K). */
static int input_events(sl_net *net, size_t l, const float *in, size_t TB, size_t K,
                        int below_listed, const slk_events **out)
{
  if (l == 0 && !in) {
    *out = net->in_ev;
    return SL_OK;
  }
  *out = &net->ev[l];
  if (below_listed)
    return slk_events_from_rows(&net->ev[l], TB, K, net->buf[l - 1].rows, net->buf[l - 1].count);
  int rc = slk_events_build(&net->ev[l], in, TB, K);
  return rc == SL_ENUMERIC ? sl_error(SL_ENUMERIC, "network input contains NaN or Inf") : rc;
}

/* The layers of a forward pass whose input is x (dense), or for layer 0
 * the event list net->in_ev if x is NULL. The fast path runs hidden layers
 * fused (slk_lif_layer_forward) unless spikes are smooth; the reference
 * path runs the plain dense kernels (an event-list input through the
 * event product, which is bit-identical to the dense one). */
static int forward_layers(sl_net *net, const float *x, size_t T, size_t B)
{
  const size_t TB = T * B, L = net->spec.n_layers;
  const sl_lif_options *o = &net->spec.lif;
  const float *in = x;
  size_t K = net->spec.n_in;
  int rc = SL_OK, below_listed = 0;
  /* tau gradients and the unfused layers read the currents back */
  const int keep = !net->drop_currents || net->tau_grad || net->use_ref || o->smooth;
  net->currents_kept = keep;
  for (size_t l = 0; l <= L && !rc; l++) {
    layer_buf *b = &net->buf[l];
    const size_t N = net->size[l];
    const float *w = net->params + net->tensors[b->w_in].offset;
    const float *w_rec = b->w_rec == SIZE_MAX ? NULL : net->params + net->tensors[b->w_rec].offset;
    const int fused = !net->use_ref && !o->smooth && l < L;
    const slk_events *ev = NULL;
    if (net->use_ref && in)
      slk_matmul_ref(b->h, in, w, TB, K, N);
    else if ((rc = input_events(net, l, in, TB, K, below_listed, &ev)))
      return rc;
    else if (fused)
      rc = slk_lif_layer_forward(&net->neurons[l], &net->decay[l], o, net->spec.dt, T, B, ev, w,
                                 w_rec,
                                 keep ? b->h : NULL, keep ? b->i_syn : NULL, b->v, b->s,
                                 b->clamp, b->rows, b->count);
    else
      slk_matmul_ev(b->h, ev, w, N);
    if (!rc && l < L && !fused && net->use_ref)
      rc = sl_lif_forward_ref(&net->neurons[l], o, net->spec.dt, T, B, w_rec, b->h, b->i_syn,
                              b->v, b->s, b->clamp);
    else if (!rc && l < L && !fused)
      rc = slk_lif_layer_forward(&net->neurons[l], &net->decay[l], o, net->spec.dt, T, B, NULL,
                                 NULL, w_rec, b->h, b->i_syn, b->v, b->s, b->clamp, NULL, NULL);
    else if (!rc && l == L)
      rc = slk_li_forward(&net->neurons[l], &net->decay[l], net->spec.dt, T, B, b->h, b->i_syn,
                          b->v);
    in = b->s;
    K = N;
    below_listed = fused;
  }
  net->ev_valid = !rc && !net->use_ref;
  return rc;
}

int sl_net_forward(sl_net *net, const float *x, size_t T, size_t B)
{
  if (!net || !x)
    return sl_error(SL_EINVAL, "sl_net_forward: NULL argument");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "sl_net_forward: T = %zu and B = %zu must be positive", T, B);
  /* the fast path checks the input while it lists its events */
  if (net->use_ref && !slk_all_finite(x, T * B * net->spec.n_in))
    return sl_error(SL_ENUMERIC, "network input contains NaN or Inf");
  int rc = begin_forward(net, x, T, B);
  return rc ? rc : forward_layers(net, x, T, B);
}

int sl_net_forward_spikes(sl_net *net, const sl_spikes *x)
{
  if (!net || !x)
    return sl_error(SL_EINVAL, "sl_net_forward_spikes: NULL argument");
  if (x->ev.K != net->spec.n_in)
    return sl_error(SL_ESHAPE, "spike list has %zu channels but the network %zu inputs",
                    x->ev.K, net->spec.n_in);
  int rc = begin_forward(net, NULL, x->T, x->B);
  if (rc)
    return rc;
  net->in_ev = &x->ev;
  return forward_layers(net, NULL, x->T, x->B);
}

int sl_net_forward_injected(sl_net *net, const float *x, size_t T, size_t B,
                            const float *const *v_meas, const float *const *s_meas)
{
  if (!net || !x || !v_meas || !s_meas)
    return sl_error(SL_EINVAL, "sl_net_forward_injected: NULL argument");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "sl_net_forward_injected: T = %zu and B = %zu must be positive",
                    T, B);
  const size_t TB = T * B, L = net->spec.n_layers;
  if (!slk_all_finite(x, TB * net->spec.n_in))
    return sl_error(SL_ENUMERIC, "network input contains NaN or Inf");
  for (size_t l = 0; l <= L; l++) {
    if (!v_meas[l] || (l < L && !s_meas[l]))
      return sl_error(SL_EINVAL, "sl_net_forward_injected: no measurement for layer %s",
                      net->names[l]);
    if (!slk_all_finite(v_meas[l], TB * net->size[l]))
      return sl_error(SL_ENUMERIC, "measured membrane of layer %s contains NaN or Inf",
                      net->names[l]);
  }
  int rc = begin_forward(net, x, T, B);
  if (rc)
    return rc;
  net->currents_kept = 1; /* computed below from the measured spikes */
  const float *in = x;
  size_t K = net->spec.n_in;
  for (size_t l = 0; l <= L; l++) {
    layer_buf *b = &net->buf[l];
    const size_t N = net->size[l];
    if ((rc = slk_events_build(&net->ev[l], in, TB, K)))
      return rc;
    slk_matmul_ev(b->h, &net->ev[l], net->params + net->tensors[b->w_in].offset, N);
    const float *w_rec =
        b->w_rec == SIZE_MAX ? NULL : net->params + net->tensors[b->w_rec].offset;
    if (l < L) {
      memcpy(b->s, s_meas[l], TB * N * sizeof(float));
      memset(b->clamp, 0, TB * N);
    }
    rc = slk_lif_currents(&net->neurons[l], &net->decay[l], net->spec.dt, T, B, w_rec, b->s, b->h,
                          b->i_syn);
    if (rc)
      return rc;
    memcpy(b->v, v_meas[l], TB * N * sizeof(float));
    in = b->s;
    K = N;
  }
  net->ev_valid = 1;
  return SL_OK;
}

int sl_net_state(sl_net *net, size_t layer, sl_layer_state *out)
{
  if (!net || !out || layer >= net->n_layers_total)
    return sl_error(SL_EINVAL, "sl_net_state: layer %zu out of range", layer);
  if (net->capacity == 0)
    return sl_error(SL_EINVAL, "sl_net_state: no forward pass yet");
  const layer_buf *b = &net->buf[layer];
  out->T = net->T;
  out->B = net->B;
  out->N = net->size[layer];
  const int kept = layer == net->spec.n_layers || net->currents_kept;
  out->h = kept ? b->h : NULL;
  out->i_syn = kept ? b->i_syn : NULL;
  out->v = b->v;
  out->s = b->s;
  out->clamp = b->clamp;
  return SL_OK;
}

int sl_net_spike_count(const sl_net *net, size_t layer, double *count)
{
  if (!net || !count || layer >= net->spec.n_layers)
    return sl_error(SL_EINVAL, "sl_net_spike_count: no hidden layer %zu", layer);
  if (net->capacity == 0)
    return sl_error(SL_EINVAL, "sl_net_spike_count: no forward pass yet");
  const size_t n = net->T * net->B * net->size[layer];
  double a[4] = {0.0, 0.0, 0.0, 0.0};
  if (net->ev_valid) { /* the spikes as the layer above's input events */
    const slk_events *ev = &net->ev[layer + 1];
    size_t e = 0;
    for (; e + 4 <= ev->nnz; e += 4)
      for (int j = 0; j < 4; j++)
        a[j] += ev->val[e + j];
    for (; e < ev->nnz; e++)
      a[0] += ev->val[e];
  } else {
    const float *s = net->buf[layer].s;
    for (size_t i = 0; i < n; i++)
      a[i & 3] += s[i];
  }
  *count = (a[0] + a[1]) + (a[2] + a[3]);
  return SL_OK;
}

const float *sl_net_output(const sl_net *net)
{
  return net && net->capacity ? net->buf[net->spec.n_layers].v : NULL;
}

/* dw (K, N) += in^T @ gh for the input `in` (TB, K) of layer l: over the
 * events the forward listed, or dense. */
static void weight_grad(sl_net *net, size_t l, float *dw, const float *in, const float *gh,
                        size_t K, size_t N)
{
  const size_t TB = net->T * net->B;
  if (l == 0 && !in) /* an event-list input (sl_net_forward_spikes) */
    slk_matmul_tn_acc_ev(dw, net->in_ev, gh, N);
  else if (net->ev_valid && !net->use_ref)
    slk_matmul_tn_acc_ev(dw, &net->ev[l], gh, N);
  else
    (net->use_ref ? slk_matmul_tn_acc_ref : slk_matmul_tn_acc)(dw, in, gh, TB, K, N);
}

/* Up to this many units above, dL/dS of a hidden layer is computed row by
 * row inside the fused backward (a gather of FUSE_ABOVE_MAX rows per row);
 * a wider layer above goes through the dense product (CBLAS). */
#define FUSE_ABOVE_MAX 32

/* The fused hidden-layer backward applies: fast kernels over valid event
 * lists, Heaviside spikes, SuperSpike, no tau gradients, a narrow layer above. */
static int backward_fused(const sl_net *net, size_t n_above)
{
  const sl_lif_options *o = &net->spec.lif;
  return !net->use_ref && net->ev_valid && !net->tau_grad && !o->smooth &&
         o->surrogate->id == SL_SURROGATE_SUPERSPIKE && n_above <= FUSE_ABOVE_MAX;
}

int sl_net_backward(sl_net *net, const float *gv_out, const float *const *gs_extra)
{
  if (!net || !gv_out)
    return sl_error(SL_EINVAL, "sl_net_backward: NULL argument");
  if (net->capacity == 0 || (!net->x && !net->in_ev))
    return sl_error(SL_EINVAL, "sl_net_backward: no forward pass to differentiate");
  if (net->tau_grad && !net->currents_kept)
    return sl_error(SL_EINVAL, "sl_net_backward: tau gradients need the synaptic currents, which "
                               "the last forward did not keep (enable them before it)");
  const size_t T = net->T, B = net->B, TB = T * B, L = net->spec.n_layers;
  const double dt = net->spec.dt;
  int ref = net->use_ref;
  layer_buf *ro = &net->buf[L];
  int rc = update_decays(net);
  if (!rc)
    rc = slk_li_backward(&net->neurons[L], &net->decay[L], net->spec.readout_scale_input, dt, T, B,
                         ro->i_syn, ro->v, gv_out, ro->gh, ro->dtau_mem, ro->dtau_syn);
  if (rc)
    return rc;
  /* gh of the layer above, the weights it came through, and their sizes */
  const float *gh_above = ro->gh;
  size_t w_above = ro->w_in, n_above = net->size[L];
  for (size_t l = L; l-- > 0;) {
    layer_buf *b = &net->buf[l];
    const size_t N = net->size[l];
    const tensor_rec *ta = &net->tensors[w_above];
    weight_grad(net, l + 1, net->grads + ta->offset, b->s, gh_above, N, n_above);
    const float *w_rec = b->w_rec == SIZE_MAX ? NULL : net->params + net->tensors[b->w_rec].offset;
    float *dw_rec = b->w_rec == SIZE_MAX ? NULL : net->grads + net->tensors[b->w_rec].offset;
    const float *extra = gs_extra ? gs_extra[l] : NULL;
    if (backward_fused(net, n_above)) {
      rc = slk_lif_layer_backward(&net->neurons[l], &net->decay[l], &net->spec.lif, dt, T, B,
                                  gh_above, n_above, net->params + ta->offset, extra, NULL, NULL,
                                  w_rec, b->v, b->s, b->clamp, b->gh);
      if (!rc && dw_rec && T > 1) { /* dW_rec += S[t-1]^T gh[t]: the spikes' events of t < T-1 */
        slk_events first = net->ev[l + 1];
        first.R = (T - 1) * B;
        first.nnz = first.ptr[first.R];
        slk_matmul_tn_acc_ev(dw_rec, &first, b->gh + B * N, N);
      }
    } else {
      if (!gs_buffer(net, l))
        return SL_ENOMEM;
      (ref ? slk_matmul_nt_ref : slk_matmul_nt)(b->gs, gh_above, net->params + ta->offset, TB, N,
                                                n_above);
      if (extra)
        for (size_t i = 0; i < TB * N; i++)
          b->gs[i] += extra[i];
      if (ref)
        rc = sl_lif_backward_ref(&net->neurons[l], &net->spec.lif, dt, T, B, w_rec, b->i_syn,
                                 b->v, b->s, b->clamp, b->gs, NULL, b->gh, dw_rec, b->dtau_mem,
                                 b->dtau_syn);
      else
        rc = slk_lif_backward(&net->neurons[l], &net->decay[l], &net->spec.lif, dt, T, B, w_rec,
                              b->i_syn, b->v, b->s, b->clamp, b->gs, NULL, b->gh, dw_rec,
                              b->dtau_mem, b->dtau_syn);
    }
    if (rc)
      return rc;
    gh_above = b->gh;
    w_above = b->w_in;
    n_above = N;
  }
  const tensor_rec *t0 = &net->tensors[w_above];
  weight_grad(net, 0, net->grads + t0->offset, net->x, gh_above, net->spec.n_in, n_above);
  return SL_OK;
}

int sl_net_enable_tau_grad(sl_net *net, int on)
{
  if (!net)
    return sl_error(SL_EINVAL, "sl_net_enable_tau_grad: NULL network");
  for (size_t l = 0; l < net->n_layers_total; l++) {
    layer_buf *b = &net->buf[l];
    free(b->dtau_mem), free(b->dtau_syn);
    b->dtau_mem = b->dtau_syn = NULL;
    if (on) {
      b->dtau_mem = calloc(net->size[l], sizeof(float));
      b->dtau_syn = calloc(net->size[l], sizeof(float));
      if (!b->dtau_mem || !b->dtau_syn) {
        sl_net_enable_tau_grad(net, 0);
        return sl_error(SL_ENOMEM, "sl_net_enable_tau_grad: out of memory");
      }
    }
  }
  net->tau_grad = on;
  return SL_OK;
}

int sl_net_tau_grad(sl_net *net, size_t layer, float **dtau_mem, float **dtau_syn)
{
  if (!net || layer >= net->n_layers_total || !dtau_mem || !dtau_syn)
    return sl_error(SL_EINVAL, "sl_net_tau_grad: bad arguments");
  *dtau_mem = net->buf[layer].dtau_mem;
  *dtau_syn = net->buf[layer].dtau_syn;
  return SL_OK;
}

void sl_net_keep_currents(sl_net *net, int on)
{
  if (net)
    net->drop_currents = !on;
}

void sl_net_use_reference(sl_net *net, int on)
{
  if (net)
    net->use_ref = on ? 1 : 0;
}

/* ------------------------------------------------------------ inference */

/* The rolling state of one sample in one hidden layer (N neurons). */
typedef struct {
  float *h, *i[2], *vp, *v, *s; /* i: I of the current / previous step */
  int32_t *left;
  uint8_t *clamp;
  uint32_t *idx[2]; /* spikes of the current / previous step: neuron indices */
  float *val[2];    /* and values */
  size_t n[2];
} infer_layer;

/* floats of a sample's scratch per layer of N: h, i[2], vp, v, s, left,
 * clamp (one float each, to keep alignment simple), idx[2] (with the room
 * slk_row_list needs), val[2] */
#define INFER_FLOATS(N) (12 * (N) + 2 * SLK_ROW_PAD)

static void infer_layer_view(infer_layer *il, float *mem, size_t N)
{
  const size_t P = SLK_ROW_PAD;
  il->h = mem, il->vp = mem + 2 * N, il->v = mem + 3 * N, il->s = mem + 4 * N;
  il->i[0] = mem + N, il->i[1] = mem + 11 * N + 2 * P;
  il->left = (int32_t *)(mem + 5 * N);
  il->clamp = (uint8_t *)(mem + 6 * N);
  il->idx[0] = (uint32_t *)(mem + 7 * N), il->idx[1] = (uint32_t *)(mem + 8 * N + P);
  il->val[0] = mem + 9 * N + 2 * P, il->val[1] = mem + 10 * N + 2 * P;
  il->n[0] = il->n[1] = 0;
}

/* List the spikes of a row (ascending) into idx, and their values into val
 * unless they are Heaviside spikes (val then holds ones throughout);
 * returns their sum. */
static double list_spikes(const float *s, size_t N, int smooth, uint32_t *idx, float *val,
                          size_t *n)
{
  if (!smooth) {
    *n = slk_row_list(s, N, idx);
    return (double)*n;
  }
  int c = slk_row_events(s, N, idx, val); /* s is finite: c >= 0 */
  double total = 0.0;
  for (int e = 0; e < c; e++)
    total += val[e];
  *n = c > 0 ? (size_t)c : 0;
  return total;
}

/* Sample b through all T steps; mem is its scratch. Returns its hidden
 * spike total; writes logits (n_out) if not NULL and the last readout
 * membrane v_last (n_out). The operations and their order are those of
 * sl_net_forward: h = x W (events ascending), + S[t-1] W_rec (spiking
 * neurons ascending), the shared LIF row step, the LI readout. */
static double infer_sample(const sl_net *net, const slk_events *ev, const slk_decay *d, size_t b,
                           size_t T, size_t B, float *mem, float *logits, float *v_last)
{
  const size_t L = net->spec.n_layers, n_out = net->spec.n_out;
  infer_layer il[SL_MAX_LAYERS];
  for (size_t l = 0; l < L; l++) {
    const size_t N = net->size[l];
    infer_layer_view(&il[l], mem, N);
    mem += INFER_FLOATS(N);
    for (size_t n = 0; n < N; n++) /* the values of Heaviside spikes */
      il[l].val[0][n] = il[l].val[1][n] = 1.0f;
    memset(il[l].i[0], 0, N * sizeof(float));
    memset(il[l].i[1], 0, N * sizeof(float));
    memset(il[l].left, 0, N * sizeof(int32_t));
    for (size_t n = 0; n < N; n++)
      il[l].vp[n] = net->neurons[l].v_leak[n];
  }
  float *h_o = mem, *i_o = mem + n_out, *v_o = mem + 2 * n_out, *mx = mem + 3 * n_out;
  memset(i_o, 0, n_out * sizeof(float));
  for (size_t k = 0; k < n_out; k++)
    v_o[k] = net->neurons[L].v_leak[k];
  double spikes = 0.0;
  for (size_t t = 0; t < T; t++) {
    const size_t r = t * B + b;
    const uint32_t *in_idx = ev->idx + ev->ptr[r];
    const float *in_val = ev->val + ev->ptr[r];
    size_t n_in = ev->ptr[r + 1] - ev->ptr[r];
    for (size_t l = 0; l < L; l++) {
      infer_layer *x = &il[l];
      const size_t N = net->size[l];
      const layer_buf *lb = &net->buf[l];
      slk_gather_row(x->h, in_idx, in_val, n_in, net->params + net->tensors[lb->w_in].offset, N);
      const int cur = (int)(t & 1), prev = 1 - cur;
      if (lb->w_rec != SIZE_MAX && t > 0)
        slk_gather_add_row(x->h, x->idx[prev], x->val[prev], x->n[prev],
                           net->params + net->tensors[lb->w_rec].offset, N);
      slk_lif_step(&net->neurons[l], &d[l], &net->spec.lif, N, x->h, x->i[prev], x->i[cur], x->vp,
                   x->left, x->v, x->s, x->clamp);
      spikes += list_spikes(x->s, N, net->spec.lif.smooth, x->idx[cur], x->val[cur], &x->n[cur]);
      in_idx = x->idx[cur], in_val = x->val[cur], n_in = x->n[cur];
    }
    slk_gather_row(h_o, in_idx, in_val, n_in, net->params + net->tensors[net->buf[L].w_in].offset,
                   n_out);
    slk_li_row(&net->neurons[L], &d[L], n_out, h_o, i_o, v_o);
    /* logits = max over time, a non-finite value sticks (as in sl_loss_ce) */
    for (size_t k = 0; k < n_out; k++)
      if (t == 0 || (isfinite(mx[k]) && (!isfinite(v_o[k]) || v_o[k] > mx[k])))
        mx[k] = v_o[k];
  }
  if (logits)
    memcpy(logits, mx, n_out * sizeof(float));
  memcpy(v_last, v_o, n_out * sizeof(float));
  return spikes;
}

/* Inference over the input events ev of (T, B) rows. */
static int infer_run(sl_net *net, const slk_events *ev, size_t T, size_t B, float *logits,
                     sl_infer_stats *stats)
{
  const size_t L = net->spec.n_layers, n_out = net->spec.n_out;
  if (B * n_out > net->infer_cap) {
    float *p = realloc(net->infer_last, B * n_out * sizeof(float));
    if (!p)
      return sl_error(SL_ENOMEM, "sl_net_infer: out of memory");
    net->infer_last = p;
    net->infer_cap = B * n_out;
  }
  size_t per = 4 * n_out; /* scratch floats per sample */
  for (size_t l = 0; l < L; l++)
    per += INFER_FLOATS(net->size[l]);
  float *scratch = malloc(B * per * sizeof(float));
  int rc = scratch ? update_decays(net) : sl_error(SL_ENOMEM, "sl_net_infer: out of memory");
  double *per_sample = rc ? NULL : malloc(B * sizeof(double));
  if (!rc && !per_sample)
    rc = sl_error(SL_ENOMEM, "sl_net_infer: out of memory");
  if (!rc) {
#pragma omp parallel for schedule(static) if (B > 1)
    for (size_t b = 0; b < B; b++)
      per_sample[b] = infer_sample(net, ev, net->decay, b, T, B, scratch + b * per,
                                   logits ? logits + b * n_out : NULL, net->infer_last + b * n_out);
  }
  double spikes = 0.0; /* summed in sample order: the same for any thread count */
  for (size_t b = 0; !rc && b < B; b++)
    spikes += per_sample[b];
  free(per_sample);
  free(scratch);
  if (!rc && stats)
    stats->hidden_spikes = spikes;
  return rc;
}

int sl_net_infer(sl_net *net, const float *x, size_t T, size_t B, float *logits,
                 sl_infer_stats *stats)
{
  if (!net || !x)
    return sl_error(SL_EINVAL, "sl_net_infer: NULL argument");
  if (T == 0 || B == 0)
    return sl_error(SL_EINVAL, "sl_net_infer: T = %zu and B = %zu must be positive", T, B);
  int rc = slk_events_build(&net->ev_infer, x, T * B, net->spec.n_in);
  if (rc == SL_ENUMERIC)
    return sl_error(SL_ENUMERIC, "network input contains NaN or Inf");
  return rc ? rc : infer_run(net, &net->ev_infer, T, B, logits, stats);
}

int sl_net_infer_spikes(sl_net *net, const sl_spikes *sp, float *logits, sl_infer_stats *stats)
{
  if (!net || !sp)
    return sl_error(SL_EINVAL, "sl_net_infer_spikes: NULL argument");
  if (sp->ev.K != net->spec.n_in)
    return sl_error(SL_ESHAPE, "spike list has %zu channels but the network %zu inputs",
                    sp->ev.K, net->spec.n_in);
  return infer_run(net, &sp->ev, sp->T, sp->B, logits, stats);
}

const float *sl_net_infer_last(const sl_net *net)
{
  return net && net->infer_cap ? net->infer_last : NULL;
}
