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

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  slu_layer c1, c2, proj;
  int has_proj;
  size_t c, h, w, cin, hin, win;
} dep_block;

struct sl_resnet_deployed {
  sl_resnet_deploy_params p;
  slu_deploy how;
  sl_resnet_spec spec;
  slu_layer stem, fc;
  dep_block blocks[SL_RESNET_MAX_BLOCKS];
  int mode; /* SLU_RUN, SLU_CALIBRATE or SLU_MEASURE_BN (units.h) */
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

void sl_resnet_deployed_free(sl_resnet_deployed *d)
{
  if (!d)
    return;
  slu_layer_free(&d->stem);
  slu_layer_free(&d->fc);
  for (size_t b = 0; b < SL_RESNET_MAX_BLOCKS; b++) {
    slu_layer_free(&d->blocks[b].c1);
    slu_layer_free(&d->blocks[b].c2);
    slu_layer_free(&d->blocks[b].proj);
  }
  free(d->h0), free(d->t1), free(d->t2), free(d->tp);
  free(d);
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
    rc = slu_layer_apply(&d->stem, &d->how, d->mode, in, B, d->h0);
    relu(d->h0, B * d->stem.s.K * sl_conv2d_out_h(&d->stem.s) * sl_conv2d_out_w(&d->stem.s));
    in = d->h0;
  }
  dep_block *k = &d->blocks[st];
  const size_t n = B * k->c * k->h * k->w;
  if (!rc)
    rc = slu_layer_apply(&k->c1, &d->how, d->mode, in, B, d->t1);
  if (!rc) {
    relu(d->t1, n);
    rc = slu_layer_apply(&k->c2, &d->how, d->mode, d->t1, B, d->t2);
  }
  if (!rc && k->has_proj)
    rc = slu_layer_apply(&k->proj, &d->how, d->mode, in, B, d->tp);
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
  return slu_layer_apply(&d->fc, &d->how, d->mode, feat, B, logits);
}

/* every layer, for the counters */
static size_t all_layers(const sl_resnet_deployed *d, const slu_layer **L)
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
  const slu_layer *L[SLR_MAX_TENSORS];
  if (d)
    slu_layers_counters(L, all_layers(d, L), &t, &e);
  if (sum)
    *sum = t;
  if (energy_j)
    *energy_j = e;
}

void sl_resnet_deployed_counters_reset(sl_resnet_deployed *d)
{
  const slu_layer *L[SLR_MAX_TENSORS];
  if (d)
    slu_layers_counters_reset(L, all_layers(d, L));
}

static int build(sl_resnet_deployed *d, sl_resnet *r)
{
  const slu_deploy *h = &d->how;
  unsigned t = 0;
  int rc = slu_layer_from_unit(&d->stem, h, &r->stem, r->eff, r->params, r->stats, r->spec.bn_eps,
                               t++);
  for (size_t b = 0; !rc && b < r->spec.n_blocks; b++) {
    const slr_block *k = &r->blocks[b];
    dep_block *q = &d->blocks[b];
    q->c = k->c, q->h = k->h, q->w = k->w, q->cin = k->cin, q->hin = k->hin, q->win = k->win;
    q->has_proj = k->has_proj;
    rc = slu_layer_from_unit(&q->c1, h, &k->c1, r->eff, r->params, r->stats, r->spec.bn_eps, t++);
    if (!rc)
      rc = slu_layer_from_unit(&q->c2, h, &k->c2, r->eff, r->params, r->stats, r->spec.bn_eps,
                               t++);
    if (!rc && k->has_proj)
      rc = slu_layer_from_unit(&q->proj, h, &k->proj, r->eff, r->params, r->stats,
                               r->spec.bn_eps, t++);
  }
  /* the FC: a 1x1 convolution on (C, 1, 1); gain 1, shift = bias */
  const size_t C = r->blocks[r->spec.n_blocks - 1].c, nc = r->spec.n_classes;
  const sl_conv2d_shape fs = {0, C, 1, 1, nc, 1, 1, 1, 0};
  if (!rc)
    rc = slu_layer_make(&d->fc, h, &fs, r->eff + r->fc_w, r->params + r->fc_w, NULL,
                        r->eff + r->fc_b, t);
  return rc;
}

int sl_resnet_deploy(sl_resnet_deployed **out, sl_resnet *r, const sl_resnet_deploy_params *p,
                     const float *calib_x, size_t n_calib)
{
  if (!out || !r || !p)
    return sl_error(SL_EINVAL, "resnet_deploy: NULL argument");
  *out = NULL;
  slu_deploy how;
  int rc = slu_deploy_setup("resnet_deploy", p, r->spec.ternary, r->spec.ternary_t,
                            "sl_resnet_set_ternary", calib_x, n_calib, &how);
  if (rc)
    return rc;
  sl_resnet_deployed *d = calloc(1, sizeof *d);
  if (!d)
    return sl_error(SL_ENOMEM, "resnet_deploy: out of memory");
  d->p = *p;
  d->spec = r->spec;
  d->how = how;
  rc = slr_effective(r);
  if (!rc)
    rc = build(d, r);
  sl_dyn_net net;
  if (!rc && p->on_cim && !(rc = sl_resnet_deployed_dyn(d, &net))) {
    /* one pass of the calibration batch through the float layers */
    d->mode = SLU_CALIBRATE;
    rc = slu_calibration_pass(&net, calib_x, n_calib);
    if (!rc && d->how.chip_bn) { /* the BNs as the programmed chip needs them */
      d->mode = SLU_MEASURE_BN;
      rc = slu_calibration_pass(&net, calib_x, n_calib);
    }
    d->mode = SLU_RUN;
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
    out->stage_macs[s] = slu_layer_macs(&k->c1) + slu_layer_macs(&k->c2) +
                         (k->has_proj ? slu_layer_macs(&k->proj) : 0.0) +
                         (s == 0 ? slu_layer_macs(&d->stem) : 0.0);
  }
  out->head_macs = slu_layer_macs(&d->fc);
  out->net = d;
  out->stage = dyn_stage;
  out->head = dyn_head;
  out->energy = dyn_energy;
  return SL_OK;
}
