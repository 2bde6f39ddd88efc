/* pointnet_deploy.c -- a trained sl_pointnet for inference, level by level
 * (spikeloop/pointnet.h): each MLP layer with its batch norm becomes one
 * folded matrix layer of units.c, applied to the grouped rows (a 1x1
 * convolution on (rows, C, 1, 1)), exact or on a crossbar; sampling,
 * grouping, ReLU and pooling are digital. Calibration as resnet_deploy.c.
 */
#include "config.h"
#include "pointnet_internal.h"
#include "spikeloop/error.h"

#include <stdlib.h>
#include <string.h>

struct sl_pointnet_deployed {
  slu_deploy how;
  int mode; /* SLU_RUN, SLU_CALIBRATE or SLU_MEASURE_BN (units.h) */
  sl_pointnet_spec spec;
  slp_level lv[SL_POINTNET_MAX_LEVELS];   /* geometry, and grouping buffers of its own */
  slu_layer mlp[SL_POINTNET_MAX_LEVELS][SL_POINTNET_MAX_MLP];
  slu_layer fc;
  size_t cap;
  float *xyz, *feat, *a, *b; /* unpacked stage input; MLP activations */
};

static void level_buffers_free(slp_level *L)
{
  free(L->gidx), free(L->cxyz), free(L->rows), free(L->amax), free(L->pooled), free(L->feat);
  free(L->fmax);
  L->fmax = NULL;
  L->gidx = NULL, L->amax = NULL;
  L->cxyz = L->rows = L->pooled = L->feat = NULL;
}

void sl_pointnet_deployed_free(sl_pointnet_deployed *d)
{
  if (!d)
    return;
  for (size_t l = 0; l < SL_POINTNET_MAX_LEVELS; l++) {
    level_buffers_free(&d->lv[l]);
    for (size_t j = 0; j < SL_POINTNET_MAX_MLP; j++)
      slu_layer_free(&d->mlp[l][j]);
  }
  slu_layer_free(&d->fc);
  free(d->xyz), free(d->feat), free(d->a), free(d->b);
  free(d);
}

static int ensure(sl_pointnet_deployed *d, size_t B)
{
  if (B <= d->cap)
    return SL_OK;
  size_t in = d->spec.n_points * 3, act = 0;
  int ok = 1;
  for (size_t l = 0; l < d->spec.n_levels; l++) {
    slp_level *L = &d->lv[l];
    level_buffers_free(L);
    const size_t rows = B * L->np * L->k;
#define ALLOC(ptr, n) ok = ok && ((ptr) = malloc((n) * sizeof *(ptr))) != NULL
    ALLOC(L->gidx, rows);
    ALLOC(L->cxyz, B * L->np * 3);
    ALLOC(L->rows, rows * (3 + L->cin));
    ALLOC(L->amax, B * L->np * L->cout);
    ALLOC(L->pooled, B * L->np * L->cout);
    ALLOC(L->feat, B * L->cout);
    ALLOC(L->fmax, B * L->cout);
    for (size_t j = 0; j < L->sp.n_mlp; j++)
      act = rows * L->sp.mlp[j] > act ? rows * L->sp.mlp[j] : act;
    in = B * L->pin * (3 + L->cin) > in ? B * L->pin * (3 + L->cin) : in;
  }
  free(d->xyz), free(d->feat), free(d->a), free(d->b);
  ALLOC(d->xyz, in);
  ALLOC(d->feat, in);
  ALLOC(d->a, act);
  ALLOC(d->b, act);
#undef ALLOC
  d->cap = ok ? B : 0;
  return ok ? SL_OK : sl_error(SL_ENOMEM, "pointnet_deploy: out of memory for a batch of %zu", B);
}

/* stage s on B samples: in (B, in_dim) -> out (B, out_dim), feat (B, C) */
static int stage(void *net, size_t s, const float *in, size_t B, float *out, float *feat)
{
  sl_pointnet_deployed *d = net;
  if (s >= d->spec.n_levels || !B)
    return sl_error(SL_EINVAL, "pointnet_deployed: stage %zu of %zu, batch %zu", s,
                    d->spec.n_levels, B);
  int rc = ensure(d, B);
  if (rc)
    return rc;
  slp_level *L = &d->lv[s];
  const float *xyz = in, *f = NULL;
  if (s) { /* unpack [xyz | features] of the previous level's points */
    const size_t P = L->pin, C = L->cin, w = P * (3 + C);
    for (size_t b = 0; b < B; b++) {
      memcpy(d->xyz + b * P * 3, in + b * w, P * 3 * sizeof(float));
      memcpy(d->feat + b * P * C, in + b * w + P * 3, P * C * sizeof(float));
    }
    xyz = d->xyz;
    f = d->feat;
  }
  rc = slp_group(L, xyz, f, B);
  const size_t rows = B * L->np * L->k;
  const float *a = L->rows;
  for (size_t j = 0; !rc && j < L->sp.n_mlp; j++) {
    float *o = j % 2 ? d->b : d->a;
    rc = slu_layer_apply(&d->mlp[s][j], &d->how, d->mode, a, rows, o);
    for (size_t i = 0; !rc && i < rows * L->sp.mlp[j]; i++)
      o[i] = o[i] > 0.0f ? o[i] : 0.0f;
    a = o;
  }
  if (rc)
    return rc;
  slp_pool(L, a, B);
  const size_t C = L->cout, np = L->np;
  if (L->global)
    memcpy(out, L->pooled, B * C * sizeof(float));
  else
    for (size_t b = 0; b < B; b++) {
      float *o = out + b * np * (3 + C);
      memcpy(o, L->cxyz + b * np * 3, np * 3 * sizeof(float));
      memcpy(o + np * 3, L->pooled + b * np * C, np * C * sizeof(float));
    }
  if (feat)
    memcpy(feat, L->feat, B * C * sizeof(float));
  return SL_OK;
}

static int head(void *net, const float *feat, size_t B, float *logits)
{
  sl_pointnet_deployed *d = net;
  return slu_layer_apply(&d->fc, &d->how, d->mode, feat, B, logits);
}

static size_t all_layers(const sl_pointnet_deployed *d, const slu_layer **L)
{
  size_t n = 0;
  for (size_t l = 0; l < d->spec.n_levels; l++)
    for (size_t j = 0; j < d->lv[l].sp.n_mlp; j++)
      L[n++] = &d->mlp[l][j];
  L[n++] = &d->fc;
  return n;
}

void sl_pointnet_deployed_counters(const sl_pointnet_deployed *d, sl_cim_counters *sum,
                                   double *energy_j)
{
  sl_cim_counters t;
  memset(&t, 0, sizeof t);
  double e = 0.0;
  const slu_layer *L[SLP_MAX_TENSORS];
  if (d)
    slu_layers_counters(L, all_layers(d, L), &t, &e);
  if (sum)
    *sum = t;
  if (energy_j)
    *energy_j = e;
}

static double energy(void *net)
{
  double e = 0.0;
  sl_pointnet_deployed_counters(net, NULL, &e);
  return e;
}

int sl_pointnet_deployed_dyn(sl_pointnet_deployed *d, sl_dyn_net *out)
{
  if (!d || !out)
    return sl_error(SL_EINVAL, "pointnet_deployed_dyn: NULL argument");
  memset(out, 0, sizeof *out);
  out->n_stages = d->spec.n_levels;
  out->n_classes = d->spec.n_classes;
  out->in_dim = d->spec.n_points * 3;
  for (size_t s = 0; s < d->spec.n_levels; s++) {
    const slp_level *L = &d->lv[s];
    out->out_dim[s] = L->global ? L->cout : L->np * (3 + L->cout);
    out->feat_dim[s] = L->cout;
    for (size_t j = 0; j < L->sp.n_mlp; j++)
      out->stage_macs[s] += slu_layer_macs(&d->mlp[s][j]) * (double)(L->np * L->k);
  }
  out->head_macs = slu_layer_macs(&d->fc);
  out->net = d;
  out->stage = stage;
  out->head = head;
  out->energy = energy;
  return SL_OK;
}

int sl_pointnet_deploy(sl_pointnet_deployed **out, sl_pointnet *p,
                       const sl_resnet_deploy_params *dp, const float *calib_x, size_t n_calib)
{
  if (!out || !p || !dp)
    return sl_error(SL_EINVAL, "pointnet_deploy: NULL argument");
  *out = NULL;
  slu_deploy how;
  int rc = slu_deploy_setup("pointnet_deploy", dp, p->spec.ternary, p->spec.ternary_t,
                            "sl_pointnet_set_ternary", calib_x, n_calib, &how);
  if (rc)
    return rc;
  sl_pointnet_deployed *d = calloc(1, sizeof *d);
  if (!d)
    return sl_error(SL_ENOMEM, "pointnet_deploy: out of memory");
  d->how = how;
  d->spec = p->spec;
  for (size_t l = 0; l < SL_POINTNET_MAX_LEVELS; l++) {
    d->lv[l] = p->lv[l]; /* geometry; the buffers are made anew */
    memset(d->lv[l].act, 0, sizeof d->lv[l].act);
    d->lv[l].gidx = NULL, d->lv[l].amax = d->lv[l].fmax = NULL;
    d->lv[l].cxyz = d->lv[l].rows = d->lv[l].pooled = d->lv[l].feat = NULL;
    d->lv[l].exit_logits = d->lv[l].dexit = d->lv[l].dpooled = d->lv[l].dfeat = NULL;
    for (size_t j = 0; j < SL_POINTNET_MAX_MLP; j++) {
      d->lv[l].mlp[j].y = d->lv[l].mlp[j].xhat = NULL;
      d->lv[l].mlp[j].mean = d->lv[l].mlp[j].invstd = NULL;
    }
  }
  rc = slp_effective(p);
  unsigned t = 0;
  for (size_t l = 0; !rc && l < p->spec.n_levels; l++)
    for (size_t j = 0; !rc && j < p->lv[l].sp.n_mlp; j++)
      rc = slu_layer_from_unit(&d->mlp[l][j], &d->how, &p->lv[l].mlp[j], p->eff, p->params,
                               p->stats, p->spec.bn_eps, t++);
  const size_t C = p->lv[p->spec.n_levels - 1].cout, nc = p->spec.n_classes;
  const sl_conv2d_shape fs = {0, C, 1, 1, nc, 1, 1, 1, 0};
  if (!rc)
    rc = slu_layer_make(&d->fc, &d->how, &fs, p->eff + p->fc_w, p->params + p->fc_w, NULL,
                        p->eff + p->fc_b, t);
  sl_dyn_net net;
  if (!rc && dp->on_cim && !(rc = sl_pointnet_deployed_dyn(d, &net))) {
    d->mode = SLU_CALIBRATE;
    rc = slu_calibration_pass(&net, calib_x, n_calib);
    if (!rc && d->how.chip_bn) { /* the BNs as the programmed chip needs them */
      d->mode = SLU_MEASURE_BN;
      rc = slu_calibration_pass(&net, calib_x, n_calib);
    }
    d->mode = SLU_RUN;
  }
  if (rc) {
    sl_pointnet_deployed_free(d);
    return rc;
  }
  *out = d;
  return SL_OK;
}
