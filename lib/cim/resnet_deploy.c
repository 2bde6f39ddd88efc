/* resnet_deploy.c -- a trained sl_resnet for inference, stage by stage
 * (spikeloop/resnet.h, "deployment"): each convolution with its batch norm
 * becomes one matrix layer y_k = gain_k (x w_k) + shift_k, the FC one more,
 * and every matrix product runs exact in float or on an sl_cim.
 *
 * Calibration: sl_resnet_deploy runs the calibration batch through the
 * float version first; each crossbar is created when its layer first sees
 * data, with the DAC full scale x_max = the largest input value, programmed
 * and its ADC range set from that batch's im2col rows. Later layers thus
 * calibrate on ideal activations, as a chip would be set up from a model.
 */
#include "config.h"
#include "resnet_internal.h"
#include "spikeloop/error.h"
#include "spikeloop/ternary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  sl_conv2d_shape s;   /* B set per call; the FC is a 1x1 convolution on (C, 1, 1) */
  size_t n_in, n_out;
  float *w;            /* (n_in, n_out): the crossbar's matrix */
  float *gain, *shift; /* (n_out) */
  sl_cim *cim;         /* NULL: exact float */
  unsigned index;      /* noise seed offset */
} dep_layer;

typedef struct {
  dep_layer c1, c2, proj;
  int has_proj;
  size_t c, h, w, cin, hin, win;
} dep_block;

struct sl_resnet_deployed {
  sl_resnet_deploy_params p;
  sl_resnet_spec spec;
  dep_layer stem, fc;
  dep_block blocks[SL_RESNET_MAX_BLOCKS];
  int calibrating;
  size_t cap;
  float *h0, *t1, *t2, *tp; /* stage buffers for cap samples */
};

sl_resnet_deploy_params sl_resnet_deploy_params_default(void)
{
  sl_resnet_deploy_params p;
  memset(&p, 0, sizeof p);
  p.on_cim = 0;
  p.mapping = SL_RESNET_MAP_FP;
  p.device = sl_cim_params_default();
  p.device.dac_mode = SL_CIM_DAC_LEVEL;
  p.device.dac_bits = 8;
  p.adc_margin = 1.25;
  return p;
}

static void layer_free(dep_layer *L)
{
  free(L->w), free(L->gain), free(L->shift);
  sl_cim_free(L->cim);
  memset(L, 0, sizeof *L);
}

void sl_resnet_deployed_free(sl_resnet_deployed *d)
{
  if (!d)
    return;
  layer_free(&d->stem);
  layer_free(&d->fc);
  for (size_t b = 0; b < SL_RESNET_MAX_BLOCKS; b++) {
    layer_free(&d->blocks[b].c1);
    layer_free(&d->blocks[b].c2);
    layer_free(&d->blocks[b].proj);
  }
  free(d->h0), free(d->t1), free(d->t2), free(d->tp);
  free(d);
}

/* The matrix, gain and shift of one layer: weights at params offset w_off
 * (n_in x n_out), column scale/shift from the BN (or 1 and the bias);
 * index: the layer's noise seed offset. */
static int layer_make(dep_layer *L, sl_resnet *r, const sl_resnet_deploy_params *p,
                      const sl_conv2d_shape *s, size_t w_off, const float *bn_scale,
                      const float *bn_shift, unsigned index)
{
  L->s = *s;
  L->n_in = s->C * s->kh * s->kw;
  L->n_out = s->K;
  L->index = index;
  const size_t n = L->n_in * L->n_out;
  L->w = malloc(n * sizeof(float));
  L->gain = malloc(L->n_out * sizeof(float));
  L->shift = malloc(L->n_out * sizeof(float));
  if (!L->w || !L->gain || !L->shift)
    return sl_error(SL_ENOMEM, "resnet_deploy: out of memory");
  if (p->mapping == SL_RESNET_MAP_TERNARY) {
    sl_ternary_info info;
    int rc = sl_ternary_codes(L->w, r->params + w_off, n, r->spec.ternary_t, &info);
    if (rc)
      return rc;
    for (size_t k = 0; k < L->n_out; k++) {
      L->gain[k] = info.alpha * bn_scale[k];
      L->shift[k] = bn_shift[k];
    }
  } else {
    memcpy(L->w, r->eff + w_off, n * sizeof(float));
    for (size_t k = 0; k < L->n_out; k++) {
      L->gain[k] = bn_scale[k];
      L->shift[k] = bn_shift[k];
    }
  }
  return SL_OK;
}

/* A unit's layer: its BN folded. */
static int unit_make(dep_layer *L, sl_resnet *r, const sl_resnet_deploy_params *p,
                     const slr_unit *u, size_t t)
{
  const size_t K = u->s.K;
  float *scale = malloc(2 * K * sizeof(float));
  if (!scale)
    return sl_error(SL_ENOMEM, "resnet_deploy: out of memory");
  int rc = sl_batchnorm_fold(scale, scale + K, r->eff + u->gamma, r->eff + u->beta,
                             r->stats + u->rmean, r->stats + u->rvar, K, r->spec.bn_eps);
  if (!rc)
    rc = layer_make(L, r, p, &u->s, u->w, scale, scale + K, (unsigned)t);
  free(scale);
  return rc;
}

static int ensure(sl_resnet_deployed *d, size_t B)
{
  if (B <= d->cap)
    return SL_OK;
  free(d->h0), free(d->t1), free(d->t2), free(d->tp);
  size_t big = 0;
  for (size_t b = 0; b < d->spec.n_blocks; b++) {
    const size_t n = d->blocks[b].c * d->blocks[b].h * d->blocks[b].w;
    big = n > big ? n : big;
  }
  const size_t n0 = d->stem.s.K * sl_conv2d_out_h(&d->stem.s) * sl_conv2d_out_w(&d->stem.s);
  d->h0 = malloc(B * n0 * sizeof(float));
  d->t1 = malloc(B * big * sizeof(float));
  d->t2 = malloc(B * big * sizeof(float));
  d->tp = malloc(B * big * sizeof(float));
  if (!d->h0 || !d->t1 || !d->t2 || !d->tp) {
    free(d->h0), free(d->t1), free(d->t2), free(d->tp);
    d->h0 = d->t1 = d->t2 = d->tp = NULL;
    d->cap = 0;
    return sl_error(SL_ENOMEM, "resnet_deploy: out of memory for a batch of %zu", B);
  }
  d->cap = B;
  return SL_OK;
}

/* The crossbar of L, from the inputs `in` of its first batch: DAC full
 * scale, programming, ADC range. */
static int layer_calibrate(sl_resnet_deployed *d, dep_layer *L, const float *in, size_t B)
{
  const sl_conv2d_shape s = {B, L->s.C, L->s.H, L->s.W, L->s.K, L->s.kh, L->s.kw, L->s.stride,
                             L->s.pad};
  const size_t nin = B * s.C * s.H * s.W;
  float xmax = 0.0f;
  for (size_t i = 0; i < nin; i++)
    xmax = fabsf(in[i]) > xmax ? fabsf(in[i]) : xmax;
  sl_cim_params dev = d->p.device;
  dev.x_max = xmax > 0.0f ? xmax : 1.0;
  dev.noise_seed += L->index;
  dev.chip_seed += L->index;
  if (d->p.mapping == SL_RESNET_MAP_TERNARY) {
    dev.levels = 2;
    dev.w_max = 1.0;
  }
  int rc = sl_cim_alloc(&L->cim, L->n_in, L->n_out, &dev);
  if (!rc)
    rc = sl_cim_program(L->cim, L->w);
  const size_t P = B * sl_conv2d_out_h(&s) * sl_conv2d_out_w(&s);
  float *cols = rc ? NULL : malloc(P * L->n_in * sizeof(float));
  if (!rc && !cols)
    rc = sl_error(SL_ENOMEM, "resnet_deploy: out of memory for %zu calibration rows", P);
  if (!rc)
    rc = sl_conv2d_im2col(cols, in, &s);
  if (!rc)
    rc = sl_cim_calibrate_adc(L->cim, cols, P, d->p.adc_margin);
  free(cols);
  return rc;
}

/* out (B, K, OH, OW) = gain (in * w) + shift, on the crossbar or exact. */
static int layer_apply(sl_resnet_deployed *d, dep_layer *L, const float *in, size_t B, float *out)
{
  sl_conv2d_shape s = L->s;
  s.B = B;
  int rc = SL_OK;
  if (d->calibrating && d->p.on_cim && !L->cim)
    rc = layer_calibrate(d, L, in, B);
  if (rc)
    return rc;
  if (L->cim && !d->calibrating)
    rc = sl_conv2d_forward_cim(out, in, L->cim, NULL, &s);
  else
    rc = sl_conv2d_forward(out, in, L->w, NULL, &s);
  if (rc)
    return rc;
  const size_t HW = sl_conv2d_out_h(&s) * sl_conv2d_out_w(&s), K = s.K;
#pragma omp parallel for schedule(static)
  for (size_t q = 0; q < B * K; q++) {
    const float g = L->gain[q % K], t = L->shift[q % K];
    for (size_t i = 0; i < HW; i++)
      out[q * HW + i] = g * out[q * HW + i] + t;
  }
  return SL_OK;
}

static void relu(float *a, size_t n)
{
  for (size_t i = 0; i < n; i++)
    a[i] = a[i] > 0.0f ? a[i] : 0.0f;
}

int sl_resnet_deployed_stage(sl_resnet_deployed *d, size_t st, const float *in, size_t B,
                             float *out, float *feat)
{
  if (!d || !in || !out)
    return sl_error(SL_EINVAL, "resnet_deployed_stage: NULL argument");
  if (st >= d->spec.n_blocks)
    return sl_error(SL_EINVAL, "resnet_deployed_stage: stage %zu of %zu", st, d->spec.n_blocks);
  if (!B)
    return sl_error(SL_EINVAL, "resnet_deployed_stage: empty batch");
  int rc = ensure(d, B);
  if (!rc && st == 0) {
    rc = layer_apply(d, &d->stem, in, B, d->h0);
    relu(d->h0, B * d->stem.s.K * sl_conv2d_out_h(&d->stem.s) * sl_conv2d_out_w(&d->stem.s));
    in = d->h0;
  }
  dep_block *k = &d->blocks[st];
  const size_t n = B * k->c * k->h * k->w;
  if (!rc)
    rc = layer_apply(d, &k->c1, in, B, d->t1);
  if (!rc) {
    relu(d->t1, n);
    rc = layer_apply(d, &k->c2, d->t1, B, d->t2);
  }
  if (!rc && k->has_proj)
    rc = layer_apply(d, &k->proj, in, B, d->tp);
  if (rc)
    return rc;
  const float *skip = k->has_proj ? d->tp : in;
  for (size_t i = 0; i < n; i++) {
    const float v = d->t2[i] + skip[i];
    out[i] = v > 0.0f ? v : 0.0f;
  }
  return feat ? sl_gap_forward(feat, out, B, k->c, k->h * k->w) : SL_OK;
}

int sl_resnet_deployed_head(sl_resnet_deployed *d, const float *feat, size_t B, float *logits)
{
  if (!d || !feat || !logits)
    return sl_error(SL_EINVAL, "resnet_deployed_head: NULL argument");
  if (!B)
    return sl_error(SL_EINVAL, "resnet_deployed_head: empty batch");
  return layer_apply(d, &d->fc, feat, B, logits);
}

/* every layer, for the counters */
static size_t all_layers(const sl_resnet_deployed *d, const dep_layer **L)
{
  size_t n = 0;
  L[n++] = &d->stem;
  for (size_t b = 0; b < d->spec.n_blocks; b++) {
    L[n++] = &d->blocks[b].c1;
    L[n++] = &d->blocks[b].c2;
    if (d->blocks[b].has_proj)
      L[n++] = &d->blocks[b].proj;
  }
  L[n++] = &d->fc;
  return n;
}

void sl_resnet_deployed_counters(const sl_resnet_deployed *d, sl_cim_counters *sum,
                                 double *energy_j)
{
  sl_cim_counters t;
  memset(&t, 0, sizeof t);
  double e = 0.0;
  const dep_layer *L[SLR_MAX_TENSORS];
  const size_t n = d ? all_layers(d, L) : 0;
  for (size_t i = 0; i < n; i++) {
    if (!L[i]->cim)
      continue;
    sl_cim_counters k;
    sl_cim_counters_get(L[i]->cim, &k);
    sl_cim_counters_add(&t, &k);
    e += sl_cim_energy(sl_cim_params_get(L[i]->cim), &k);
  }
  if (sum)
    *sum = t;
  if (energy_j)
    *energy_j = e;
}

void sl_resnet_deployed_counters_reset(sl_resnet_deployed *d)
{
  const dep_layer *L[SLR_MAX_TENSORS];
  const size_t n = d ? all_layers(d, L) : 0;
  for (size_t i = 0; i < n; i++)
    if (L[i]->cim)
      sl_cim_counters_reset(L[i]->cim);
}

static int build(sl_resnet_deployed *d, sl_resnet *r, const sl_resnet_deploy_params *p)
{
  size_t t = 0;
  int rc = unit_make(&d->stem, r, p, &r->stem, t++);
  for (size_t b = 0; !rc && b < r->spec.n_blocks; b++) {
    const slr_block *k = &r->blocks[b];
    dep_block *q = &d->blocks[b];
    q->c = k->c, q->h = k->h, q->w = k->w, q->cin = k->cin, q->hin = k->hin, q->win = k->win;
    q->has_proj = k->has_proj;
    rc = unit_make(&q->c1, r, p, &k->c1, t++);
    if (!rc)
      rc = unit_make(&q->c2, r, p, &k->c2, t++);
    if (!rc && k->has_proj)
      rc = unit_make(&q->proj, r, p, &k->proj, t++);
  }
  if (rc)
    return rc;
  /* the FC: a 1x1 convolution on (C, 1, 1); gain 1, shift = bias */
  const size_t C = r->blocks[r->spec.n_blocks - 1].c, nc = r->spec.n_classes;
  const sl_conv2d_shape fs = {0, C, 1, 1, nc, 1, 1, 1, 0};
  float *one = malloc(nc * sizeof(float));
  if (!one)
    return sl_error(SL_ENOMEM, "resnet_deploy: out of memory");
  for (size_t k = 0; k < nc; k++)
    one[k] = 1.0f;
  rc = layer_make(&d->fc, r, p, &fs, r->fc_w, one, r->eff + r->fc_b, (unsigned)t);
  free(one);
  return rc;
}

int sl_resnet_deploy(sl_resnet_deployed **out, sl_resnet *r, const sl_resnet_deploy_params *p,
                     const float *calib_x, size_t n_calib)
{
  if (!out || !r || !p)
    return sl_error(SL_EINVAL, "resnet_deploy: NULL argument");
  *out = NULL;
  if (p->mapping != SL_RESNET_MAP_TERNARY && p->mapping != SL_RESNET_MAP_FP)
    return sl_error(SL_EINVAL, "resnet_deploy: unknown mapping %d (0 ternary, 1 fp)",
                    (int)p->mapping);
  if (p->mapping == SL_RESNET_MAP_TERNARY && !r->spec.ternary)
    return sl_error(SL_EINVAL, "resnet_deploy: the ternary mapping needs a network trained "
                    "ternary (sl_resnet_set_ternary)");
  if (p->on_cim && (!calib_x || !n_calib))
    return sl_error(SL_EINVAL, "resnet_deploy: crossbars need a calibration batch");
  if (p->on_cim && !(p->adc_margin >= 1.0))
    return sl_error(SL_EINVAL, "resnet_deploy: adc_margin = %g must be >= 1", p->adc_margin);
  int rc = p->on_cim ? sl_cim_params_check(&p->device) : SL_OK;
  if (rc)
    return rc;
  sl_resnet_deployed *d = calloc(1, sizeof *d);
  if (!d)
    return sl_error(SL_ENOMEM, "resnet_deploy: out of memory");
  d->p = *p;
  d->spec = r->spec;
  rc = slr_effective(r);
  if (!rc)
    rc = build(d, r, p);
  if (!rc && p->on_cim) {
    /* one pass of the calibration batch through the float layers */
    const size_t L = r->spec.n_blocks;
    d->calibrating = 1;
    float *a = NULL, *b = NULL, *f = malloc(n_calib * d->blocks[L - 1].c * sizeof(float)),
          *lg = malloc(n_calib * r->spec.n_classes * sizeof(float));
    size_t big = 0;
    for (size_t s = 0; s < L; s++)
      big = d->blocks[s].c * d->blocks[s].h * d->blocks[s].w > big
                ? d->blocks[s].c * d->blocks[s].h * d->blocks[s].w
                : big;
    a = malloc(n_calib * big * sizeof(float));
    b = malloc(n_calib * big * sizeof(float));
    if (!a || !b || !f || !lg)
      rc = sl_error(SL_ENOMEM, "resnet_deploy: out of memory for %zu calibration samples",
                    n_calib);
    const float *in = calib_x;
    for (size_t s = 0; !rc && s < L; s++) {
      float *o = s % 2 ? b : a;
      rc = sl_resnet_deployed_stage(d, s, in, n_calib, o, s + 1 == L ? f : NULL);
      in = o;
    }
    if (!rc)
      rc = sl_resnet_deployed_head(d, f, n_calib, lg);
    free(a), free(b), free(f), free(lg);
    d->calibrating = 0;
  }
  if (rc) {
    sl_resnet_deployed_free(d);
    return rc;
  }
  *out = d;
  return SL_OK;
}

static int dyn_stage(void *net, size_t s, const float *in, size_t B, float *out, float *feat)
{
  return sl_resnet_deployed_stage(net, s, in, B, out, feat);
}

static int dyn_head(void *net, const float *feat, size_t B, float *logits)
{
  return sl_resnet_deployed_head(net, feat, B, logits);
}

static double dyn_energy(void *net)
{
  double e = 0.0;
  sl_resnet_deployed_counters(net, NULL, &e);
  return e;
}

static double layer_macs(const dep_layer *L)
{
  return (double)sl_conv2d_out_h(&L->s) * (double)sl_conv2d_out_w(&L->s) * (double)L->n_in *
         (double)L->n_out;
}

int sl_resnet_deployed_dyn(sl_resnet_deployed *d, sl_dyn_net *out)
{
  if (!d || !out)
    return sl_error(SL_EINVAL, "resnet_deployed_dyn: NULL argument");
  if (d->spec.n_blocks > SL_DYN_MAX_STAGES)
    return sl_error(SL_EINVAL, "resnet_deployed_dyn: %zu blocks (at most %d stages)",
                    d->spec.n_blocks, SL_DYN_MAX_STAGES);
  memset(out, 0, sizeof *out);
  out->n_stages = d->spec.n_blocks;
  out->n_classes = d->spec.n_classes;
  out->in_dim = d->spec.in_c * d->spec.in_h * d->spec.in_w;
  for (size_t s = 0; s < d->spec.n_blocks; s++) {
    const dep_block *k = &d->blocks[s];
    out->out_dim[s] = k->c * k->h * k->w;
    out->feat_dim[s] = k->c;
    out->stage_macs[s] = layer_macs(&k->c1) + layer_macs(&k->c2) +
                         (k->has_proj ? layer_macs(&k->proj) : 0.0) +
                         (s == 0 ? layer_macs(&d->stem) : 0.0);
  }
  out->head_macs = layer_macs(&d->fc);
  out->net = d;
  out->stage = dyn_stage;
  out->head = dyn_head;
  out->energy = dyn_energy;
  return SL_OK;
}
