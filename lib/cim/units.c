/* units.c -- the building blocks of the dynamic-exit networks (units.h):
 * convolution + batch-norm units and exit heads for training, the
 * effective (ternary) parameters, and folded matrix layers on crossbars
 * for deployment.
 */
#include "config.h"
#include "units.h"
#include "spikeloop/error.h"
#include "spikeloop/ternary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ units */

void slu_unit_layout(slu_unit *u, size_t C, size_t H, size_t W, size_t K, size_t k,
                     size_t stride, size_t *np, size_t *ns)
{
  const sl_conv2d_shape s = {0, C, H, W, K, k, k, stride, k / 2};
  memset(u, 0, sizeof *u);
  u->s = s;
  u->n_w = C * k * k * K;
  u->w = *np;
  u->gamma = u->w + u->n_w;
  u->beta = u->gamma + K;
  *np = u->beta + K;
  u->rmean = *ns;
  u->rvar = *ns + K;
  *ns += 2 * K;
  u->oh = sl_conv2d_out_h(&u->s);
  u->ow = sl_conv2d_out_w(&u->s);
}

size_t slu_unit_out(const slu_unit *u) { return u->s.K * u->oh * u->ow; }

uint64_t slu_unit_macs(const slu_unit *u)
{
  return (uint64_t)u->oh * u->ow * u->s.K * u->s.C * u->s.kh * u->s.kw;
}

void slu_unit_init(const slu_unit *u, float *params, float *stats, sl_rng_state *g)
{
  const double sd = sqrt(2.0 / (double)(u->s.C * u->s.kh * u->s.kw)); /* He */
  for (size_t j = 0; j < u->n_w; j++)
    params[u->w + j] = (float)(sd * sl_rng_normal(g));
  for (size_t j = 0; j < u->s.K; j++) {
    params[u->gamma + j] = 1.0f;
    params[u->beta + j] = 0.0f;
    stats[u->rmean + j] = 0.0f;
    stats[u->rvar + j] = 1.0f;
  }
}

void slu_unit_free(slu_unit *u)
{
  free(u->xhat), free(u->y), free(u->mean), free(u->invstd);
  u->xhat = u->y = u->mean = u->invstd = NULL;
}

int slu_unit_alloc(slu_unit *u, size_t B)
{
  slu_unit_free(u);
  const size_t n = B * slu_unit_out(u);
  u->xhat = malloc(n * sizeof(float));
  u->y = malloc(n * sizeof(float));
  u->mean = malloc(u->s.K * sizeof(float));
  u->invstd = malloc(u->s.K * sizeof(float));
  if (!u->xhat || !u->y || !u->mean || !u->invstd) {
    slu_unit_free(u);
    return sl_error(SL_ENOMEM, "out of memory for a batch of %zu", B);
  }
  return SL_OK;
}

int slu_unit_forward(const slu_ctx *c, slu_unit *u, const float *in, size_t B, int training)
{
  sl_conv2d_shape s = u->s;
  s.B = B;
  const float *w = c->eff + u->w, *g = c->eff + u->gamma, *be = c->eff + u->beta;
  int rc = sl_conv2d_forward(c->scratch, in, w, NULL, &s);
  const size_t HW = u->oh * u->ow;
  if (rc)
    return rc;
  if (training)
    return sl_batchnorm_forward_train(u->y, u->xhat, u->mean, u->invstd, c->scratch, g, be, B,
                                      s.K, HW, c->eps, c->stats + u->rmean, c->stats + u->rvar,
                                      c->momentum);
  return sl_batchnorm_forward_infer(u->y, c->scratch, g, be, c->stats + u->rmean,
                                    c->stats + u->rvar, B, s.K, HW, c->eps);
}

int slu_unit_backward(const slu_ctx *c, const slu_unit *u, const float *dy, const float *in,
                      float *din, size_t B)
{
  sl_conv2d_shape s = u->s;
  s.B = B;
  const size_t n = B * slu_unit_out(u);
  memset(c->dscratch, 0, n * sizeof(float));
  int rc = sl_batchnorm_backward(c->dscratch, c->grads + u->gamma, c->grads + u->beta, dy,
                                 u->xhat, c->eff + u->gamma, u->invstd, B, s.K, u->oh * u->ow);
  /* straight through: the gradient of the ternary weights is the latent's */
  if (!rc)
    rc = sl_conv2d_backward(din, c->grads + u->w, NULL, c->dscratch, in, c->eff + u->w, &s);
  return rc;
}

void slu_relu_mask(float *g, const float *a, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    g[i] = a[i] > 0.0f ? g[i] : 0.0f;
}

/* ------------------------------------------------------------ exit heads */

int slu_exit_forward(const slu_ctx *c, size_t proto, size_t offset, const float *feat, size_t B,
                     size_t C, size_t K, double scale, float *logits, int training)
{
  float *m = c->stats + offset;
  int rc = sl_cosine_forward(logits, feat, m, c->eff + proto, B, C, K, scale);
  if (rc || !training)
    return rc;
  for (size_t j = 0; j < C; j++) {
    double s = 0.0;
    for (size_t b = 0; b < B; b++)
      s += feat[b * C + j];
    m[j] = (float)((1.0 - c->momentum) * m[j] + c->momentum * s / (double)B);
  }
  return SL_OK;
}

int slu_exit_backward(const slu_ctx *c, size_t proto, size_t offset, const float *feat,
                      const float *dlogits, size_t B, size_t C, size_t K, double scale,
                      float *dfeat)
{
  return sl_cosine_backward(dfeat, c->grads + proto, dlogits, feat, c->stats + offset,
                            c->eff + proto, B, C, K, scale);
}

/* ------------------------------------------------------------ ternary */

int slu_effective(float *eff, const float *params, size_t n_params, const slu_tensors *t,
                  int ternary, int ternary_protos, double ternary_t)
{
  memcpy(eff, params, n_params * sizeof(float));
  if (!ternary)
    return SL_OK;
  for (size_t i = 0; i < t->nt; i++) {
    sl_ternary_info info;
    int rc = sl_ternary_quantise(eff + t->off[i], params + t->off[i], t->n[i], ternary_t, &info);
    if (rc)
      return rc;
    t->alpha[i] = info.alpha;
  }
  /* the prototypes as a ternary CAM would hold them: codes per class */
  for (size_t e = 0; ternary_protos && e < t->ne; e++)
    for (size_t k = 0; k < t->n_classes; k++) {
      const size_t at = t->proto[e] + k * t->dim[e];
      int rc = sl_ternary_codes(eff + at, params + at, t->dim[e], ternary_t, NULL);
      if (rc)
        return rc;
    }
  return SL_OK;
}

/* ------------------------------------------------------------ deployed layers */

void slu_layer_free(slu_layer *L)
{
  free(L->w), free(L->gain), free(L->shift), free(L->gamma), free(L->beta);
  sl_cim_free(L->cim);
  memset(L, 0, sizeof *L);
}

int slu_layer_make(slu_layer *L, const slu_deploy *d, const sl_conv2d_shape *s,
                   const float *w_eff, const float *w_latent, const float *scale,
                   const float *shift, unsigned index)
{
  memset(L, 0, sizeof *L);
  L->s = *s;
  L->n_in = s->C * s->kh * s->kw;
  L->n_out = s->K;
  L->index = index;
  const size_t n = L->n_in * L->n_out;
  L->w = malloc(n * sizeof(float));
  L->gain = malloc(L->n_out * sizeof(float));
  L->shift = malloc(L->n_out * sizeof(float));
  if (!L->w || !L->gain || !L->shift)
    return sl_error(SL_ENOMEM, "deploy: out of memory");
  float alpha = 1.0f;
  if (d->ternary) {
    sl_ternary_info info;
    int rc = sl_ternary_codes(L->w, w_latent, n, d->ternary_t, &info);
    if (rc)
      return rc;
    alpha = info.alpha;
  } else {
    memcpy(L->w, w_eff, n * sizeof(float));
  }
  for (size_t k = 0; k < L->n_out; k++) {
    L->gain[k] = alpha * (scale ? scale[k] : 1.0f);
    L->shift[k] = shift ? shift[k] : 0.0f;
  }
  L->alpha = alpha;
  return SL_OK;
}

int slu_layer_from_unit(slu_layer *L, const slu_deploy *d, const slu_unit *u, const float *eff,
                        const float *params, const float *stats, double eps, unsigned index)
{
  const size_t K = u->s.K;
  float *scale = malloc(2 * K * sizeof(float));
  if (!scale)
    return sl_error(SL_ENOMEM, "deploy: out of memory");
  int rc = sl_batchnorm_fold(scale, scale + K, eff + u->gamma, eff + u->beta, stats + u->rmean,
                             stats + u->rvar, K, eps);
  if (!rc)
    rc = slu_layer_make(L, d, &u->s, eff + u->w, params + u->w, scale, scale + K, index);
  free(scale);
  if (!rc) { /* kept for SLU_MEASURE_BN */
    L->gamma = malloc(K * sizeof(float));
    L->beta = malloc(K * sizeof(float));
    if (!L->gamma || !L->beta)
      return sl_error(SL_ENOMEM, "deploy: out of memory");
    memcpy(L->gamma, eff + u->gamma, K * sizeof(float));
    memcpy(L->beta, eff + u->beta, K * sizeof(float));
    L->eps = eps;
  }
  return rc;
}

/* The crossbar of L, from the inputs of its first batch: DAC full scale,
 * programming, ADC range. */
static int layer_calibrate(slu_layer *L, const slu_deploy *d, const float *in, size_t B)
{
  sl_conv2d_shape s = L->s;
  s.B = B;
  const size_t nin = B * s.C * s.H * s.W;
  float xmax = 0.0f;
  for (size_t i = 0; i < nin; i++)
    xmax = fabsf(in[i]) > xmax ? fabsf(in[i]) : xmax;
  sl_cim_params dev = d->device;
  dev.x_max = xmax > 0.0f ? xmax : 1.0;
  dev.noise_seed += L->index;
  dev.chip_seed += L->index;
  if (d->ternary) {
    dev.levels = 2;
    dev.w_max = 1.0;
  }
  int rc = sl_cim_alloc(&L->cim, L->n_in, L->n_out, &dev);
  if (!rc)
    rc = sl_cim_program(L->cim, L->w);
  const size_t P = B * sl_conv2d_out_h(&s) * sl_conv2d_out_w(&s);
  float *cols = rc ? NULL : malloc(P * L->n_in * sizeof(float));
  if (!rc && !cols)
    rc = sl_error(SL_ENOMEM, "deploy: out of memory for %zu calibration rows", P);
  if (!rc)
    rc = sl_conv2d_im2col(cols, in, &s);
  if (!rc)
    rc = sl_cim_calibrate_adc(L->cim, cols, P, d->adc_margin);
  free(cols);
  return rc;
}

/* The BN of L from the mean and variance of the crossbar's raw outputs z
 * (B, K, HW) on this batch: y = gamma (z - mean) / sqrt(var + eps) + beta
 * for the z the chip makes (the ternary magnitude is inside z's scale). */
static void measure_bn(slu_layer *L, const float *z, size_t B, size_t HW)
{
  const size_t K = L->n_out;
  for (size_t k = 0; k < K; k++) {
    double s = 0.0, q = 0.0;
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < HW; i++) {
        const double v = z[(b * K + k) * HW + i];
        s += v;
        q += v * v;
      }
    const double n = (double)(B * HW), m = s / n, var = fmax(q / n - m * m, 0.0);
    const double g = L->gamma[k] / sqrt(var + L->eps);
    L->gain[k] = (float)g;
    L->shift[k] = (float)(L->beta[k] - g * m);
  }
}

int slu_layer_apply(slu_layer *L, const slu_deploy *d, int mode, const float *in, size_t B,
                    float *out)
{
  sl_conv2d_shape s = L->s;
  s.B = B;
  int rc = SL_OK;
  if (mode == SLU_CALIBRATE && d->on_cim && !L->cim)
    rc = layer_calibrate(L, d, in, B);
  if (rc)
    return rc;
  if (L->cim && mode != SLU_CALIBRATE)
    rc = sl_conv2d_forward_cim(out, in, L->cim, NULL, &s);
  else
    rc = sl_conv2d_forward(out, in, L->w, NULL, &s);
  if (rc)
    return rc;
  const size_t HW = sl_conv2d_out_h(&s) * sl_conv2d_out_w(&s), K = s.K;
  if (mode == SLU_MEASURE_BN && L->cim && L->gamma)
    measure_bn(L, out, B, HW);
#pragma omp parallel for schedule(static)
  for (size_t q = 0; q < B * K; q++) {
    const float g = L->gain[q % K], t = L->shift[q % K];
    for (size_t i = 0; i < HW; i++)
      out[q * HW + i] = g * out[q * HW + i] + t;
  }
  return SL_OK;
}

double slu_layer_macs(const slu_layer *L)
{
  return (double)sl_conv2d_out_h(&L->s) * (double)sl_conv2d_out_w(&L->s) * (double)L->n_in *
         (double)L->n_out;
}

void slu_layers_counters(const slu_layer *const *L, size_t n, sl_cim_counters *sum, double *e)
{
  for (size_t i = 0; i < n; i++) {
    if (!L[i]->cim)
      continue;
    sl_cim_counters k;
    sl_cim_counters_get(L[i]->cim, &k);
    if (sum)
      sl_cim_counters_add(sum, &k);
    if (e)
      *e += sl_cim_energy(sl_cim_params_get(L[i]->cim), &k);
  }
}

void slu_layers_counters_reset(const slu_layer *const *L, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (L[i]->cim)
      sl_cim_counters_reset(L[i]->cim);
}

int slu_calibration_pass(const sl_dyn_net *net, const float *x, size_t n)
{
  size_t big = 0, fbig = 0;
  for (size_t s = 0; s < net->n_stages; s++) {
    big = net->out_dim[s] > big ? net->out_dim[s] : big;
    fbig = net->feat_dim[s] > fbig ? net->feat_dim[s] : fbig;
  }
  float *a = malloc(n * big * sizeof(float)), *b = malloc(n * big * sizeof(float)),
        *f = malloc(n * fbig * sizeof(float)), *lg = malloc(n * net->n_classes * sizeof(float));
  int rc = a && b && f && lg ? SL_OK
                             : sl_error(SL_ENOMEM, "deploy: out of memory for %zu calibration "
                                        "samples", n);
  const float *in = x;
  for (size_t s = 0; !rc && s < net->n_stages; s++) {
    float *o = s % 2 ? b : a;
    rc = net->stage(net->net, s, in, n, o, f);
    in = o;
  }
  if (!rc)
    rc = net->head(net->net, f, n, lg);
  free(a), free(b), free(f), free(lg);
  return rc;
}

/* ------------------------------------------------------------ epochs */

int slu_train_epoch(const char *who, void *net, sl_optim *o, slu_step_fn step, const float *x,
                    const int32_t *y, size_t n, size_t dim, size_t batch, uint64_t seed,
                    double *loss, double *accuracy)
{
  const size_t bmax = batch < n ? batch : n;
  size_t *idx = malloc(n * sizeof(size_t));
  float *xb = malloc(bmax * dim * sizeof(float));
  int32_t *yb = malloc(bmax * sizeof(int32_t));
  if (!idx || !xb || !yb) {
    free(idx), free(xb), free(yb);
    return sl_error(SL_ENOMEM, "%s: out of memory", who);
  }
  sl_rng_state g;
  sl_rng_seed(&g, sl_seed_mix(seed, 0xe90c));
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
    const size_t j = (size_t)(sl_rng_uniform(&g) * (double)(i + 1));
    const size_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  double lsum = 0.0;
  size_t hits = 0;
  int rc = SL_OK;
  for (size_t first = 0; !rc && first < n; first += bmax) {
    const size_t B = n - first < bmax ? n - first : bmax;
    for (size_t b = 0; b < B; b++) {
      memcpy(xb + b * dim, x + idx[first + b] * dim, dim * sizeof(float));
      yb[b] = y[idx[first + b]];
    }
    double l = 0.0;
    size_t c = 0;
    rc = step(net, o, xb, yb, B, &l, &c);
    lsum += l * (double)B;
    hits += c;
  }
  free(idx), free(xb), free(yb);
  if (rc)
    return rc;
  if (loss)
    *loss = lsum / (double)n;
  if (accuracy)
    *accuracy = (double)hits / (double)n;
  return SL_OK;
}

size_t slu_count_hits(const float *logits, const int32_t *y, size_t B, size_t nc)
{
  size_t hits = 0;
  for (size_t b = 0; b < B; b++) {
    size_t arg = 0;
    for (size_t j = 1; j < nc; j++)
      if (logits[b * nc + j] > logits[b * nc + arg])
        arg = j;
    hits += (int32_t)arg == y[b];
  }
  return hits;
}

/* ------------------------------------------------------------ deployment */

int slu_deploy_setup(const char *who, const sl_resnet_deploy_params *p, int ternary,
                     double ternary_t, const char *set_ternary, const float *calib_x,
                     size_t n_calib, slu_deploy *how)
{
  if (p->mapping != SL_RESNET_MAP_TERNARY && p->mapping != SL_RESNET_MAP_FP)
    return sl_error(SL_EINVAL, "%s: unknown mapping %d (0 ternary, 1 fp)", who, (int)p->mapping);
  if (p->mapping == SL_RESNET_MAP_TERNARY && !ternary)
    return sl_error(SL_EINVAL, "%s: the ternary mapping needs a network trained ternary (%s)",
                    who, set_ternary);
  if (p->on_cim && (!calib_x || !n_calib))
    return sl_error(SL_EINVAL, "%s: crossbars need a calibration batch", who);
  if (p->on_cim && !(p->adc_margin >= 1.0))
    return sl_error(SL_EINVAL, "%s: adc_margin = %g must be >= 1", who, p->adc_margin);
  int rc = p->on_cim ? sl_cim_params_check(&p->device) : SL_OK;
  if (rc)
    return rc;
  const slu_deploy h = {p->on_cim, p->mapping == SL_RESNET_MAP_TERNARY, p->device,
                        p->adc_margin, ternary_t, p->chip_bn};
  *how = h;
  return SL_OK;
}
