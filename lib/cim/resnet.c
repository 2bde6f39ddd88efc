/* resnet.c -- the residual network of spikeloop/resnet.h: layout of the
 * parameter and statistics blocks, forward pass (training with batch
 * statistics, or inference with running statistics), loss with the exit
 * heads, backward pass, and the epoch loop. Deployment (folding, crossbars)
 * is resnet_deploy.c; the layer kernels are ann.c and ann_blocks.c.
 *
 * A "unit" is a convolution followed by its batch norm; a block is two
 * units, an optional projection unit, the add and the ReLUs. Activations
 * and caches live in buffers sized for the largest batch seen so far.
 */
#include "config.h"
#include "resnet_internal.h"
#include "spikeloop/ann.h"
#include "spikeloop/error.h"
#include "spikeloop/ternary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sl_resnet_spec sl_resnet_spec_default(void)
{
  sl_resnet_spec s;
  memset(&s, 0, sizeof s);
  s.in_c = 1;
  s.in_h = 28;
  s.in_w = 28;
  s.n_classes = 10;
  s.stem_c = 16;
  s.stem_stride = 2;
  s.n_blocks = 4;
  const size_t c[4] = {32, 32, 64, 64}, st[4] = {2, 1, 2, 1};
  for (size_t b = 0; b < 4; b++) {
    s.block_c[b] = c[b];
    s.block_stride[b] = st[b];
  }
  s.ternary = 0;
  s.ternary_t = SL_TERNARY_T;
  s.ternary_prototypes = 1;
  s.bn_eps = 1e-5;
  s.bn_momentum = 0.1;
  s.exit_weight = 0.5;
  s.exit_scale = 10.0;
  return s;
}

static int spec_check(const sl_resnet_spec *s)
{
  if (!s->in_c || !s->in_h || !s->in_w)
    return sl_error(SL_EINVAL, "resnet: in_c, in_h, in_w must be positive");
  if (s->n_classes < 2)
    return sl_error(SL_EINVAL, "resnet: n_classes = %zu (need >= 2)", s->n_classes);
  if (!s->stem_c)
    return sl_error(SL_EINVAL, "resnet: stem_c must be positive");
  if (s->stem_stride != 1 && s->stem_stride != 2)
    return sl_error(SL_EINVAL, "resnet: stem_stride = %zu (1 or 2)", s->stem_stride);
  if (!s->n_blocks || s->n_blocks > SL_RESNET_MAX_BLOCKS)
    return sl_error(SL_EINVAL, "resnet: n_blocks = %zu (1..%d)", s->n_blocks,
                    SL_RESNET_MAX_BLOCKS);
  for (size_t b = 0; b < s->n_blocks; b++) {
    if (!s->block_c[b])
      return sl_error(SL_EINVAL, "resnet: block_c[%zu] must be positive", b);
    if (s->block_stride[b] != 1 && s->block_stride[b] != 2)
      return sl_error(SL_EINVAL, "resnet: block_stride[%zu] = %zu (1 or 2)", b,
                      s->block_stride[b]);
  }
  if (!(s->ternary_t >= 0.0) || !isfinite(s->ternary_t))
    return sl_error(SL_EINVAL, "resnet: ternary_t = %g must be >= 0", s->ternary_t);
  if (!(s->bn_eps > 0.0))
    return sl_error(SL_EINVAL, "resnet: bn_eps = %g must be > 0", s->bn_eps);
  if (!(s->bn_momentum >= 0.0 && s->bn_momentum <= 1.0))
    return sl_error(SL_EINVAL, "resnet: bn_momentum = %g must be in [0, 1]", s->bn_momentum);
  if (!(s->exit_weight >= 0.0) || !isfinite(s->exit_weight))
    return sl_error(SL_EINVAL, "resnet: exit_weight = %g must be >= 0", s->exit_weight);
  if (!(s->exit_scale > 0.0) || !isfinite(s->exit_scale))
    return sl_error(SL_EINVAL, "resnet: exit_scale = %g must be > 0", s->exit_scale);
  return SL_OK;
}

/* ------------------------------------------------------------ layout */

static void layout(sl_resnet *r)
{
  const sl_resnet_spec *s = &r->spec;
  size_t np = 0, ns = 0, C = s->in_c, H = s->in_h, W = s->in_w;
  slu_unit_layout(&r->stem, C, H, W, s->stem_c, 3, s->stem_stride, &np, &ns);
  C = s->stem_c;
  H = r->stem.oh;
  W = r->stem.ow;
  for (size_t b = 0; b < s->n_blocks; b++) {
    slr_block *k = &r->blocks[b];
    const size_t K = s->block_c[b], st = s->block_stride[b];
    k->cin = C;
    k->hin = H;
    k->win = W;
    slu_unit_layout(&k->c1, C, H, W, K, 3, st, &np, &ns);
    slu_unit_layout(&k->c2, K, k->c1.oh, k->c1.ow, K, 3, 1, &np, &ns);
    k->has_proj = st != 1 || C != K;
    if (k->has_proj)
      slu_unit_layout(&k->proj, C, H, W, K, 1, st, &np, &ns);
    k->c = K;
    k->h = k->c1.oh;
    k->w = k->c1.ow;
    k->is_exit = b + 1 < s->n_blocks;
    if (k->is_exit) {
      k->proto = np;
      np += s->n_classes * K;
      k->offset = ns;
      ns += K;
    }
    C = K;
    H = k->h;
    W = k->w;
  }
  r->fc_w = np;
  r->fc_b = np + C * s->n_classes;
  np = r->fc_b + s->n_classes;
  r->n_params = np;
  r->n_stats = ns;
}

uint64_t sl_resnet_block_macs(const sl_resnet *r, size_t b)
{
  if (!r || b >= r->spec.n_blocks)
    return 0;
  const slr_block *k = &r->blocks[b];
  uint64_t m = slu_unit_macs(&k->c1) + slu_unit_macs(&k->c2) + (k->has_proj ? slu_unit_macs(&k->proj) : 0);
  return b == 0 ? m + slu_unit_macs(&r->stem) : m;
}

uint64_t sl_resnet_head_macs(const sl_resnet *r)
{
  return r ? (uint64_t)r->blocks[r->spec.n_blocks - 1].c * r->spec.n_classes : 0;
}

uint64_t sl_resnet_total_macs(const sl_resnet *r)
{
  uint64_t m = sl_resnet_head_macs(r);
  for (size_t b = 0; r && b < r->spec.n_blocks; b++)
    m += sl_resnet_block_macs(r, b);
  return m;
}

void sl_resnet_block_shape(const sl_resnet *r, size_t b, size_t *c, size_t *h, size_t *w)
{
  const int ok = r && b < r->spec.n_blocks;
  if (c)
    *c = ok ? r->blocks[b].c : 0;
  if (h)
    *h = ok ? r->blocks[b].h : 0;
  if (w)
    *w = ok ? r->blocks[b].w : 0;
}

/* ------------------------------------------------------------ create */

static void init_params(sl_resnet *r, uint64_t seed)
{
  sl_rng_state g;
  sl_rng_seed(&g, sl_seed_mix(seed, 0x5e57e7));
  float *p = r->params;
  memset(p, 0, r->n_params * sizeof(float));
  for (size_t i = 0; i < r->n_units; i++)
    slu_unit_init(r->units[i], p, r->stats, &g);
  for (size_t b = 0; b < r->spec.n_blocks; b++)
    if (r->blocks[b].is_exit)
      for (size_t j = 0; j < r->spec.n_classes * r->blocks[b].c; j++)
        p[r->blocks[b].proto + j] = (float)sl_rng_normal(&g);
  const size_t C = r->blocks[r->spec.n_blocks - 1].c;
  const double sd = sqrt(1.0 / (double)C);
  for (size_t j = 0; j < C * r->spec.n_classes; j++)
    p[r->fc_w + j] = (float)(sd * sl_rng_normal(&g));
}

int sl_resnet_create(sl_resnet **out, const sl_resnet_spec *spec, uint64_t seed)
{
  if (!out || !spec)
    return sl_error(SL_EINVAL, "resnet: NULL argument");
  *out = NULL;
  int rc = spec_check(spec);
  if (rc)
    return rc;
  sl_resnet *r = calloc(1, sizeof *r);
  if (!r)
    return sl_error(SL_ENOMEM, "resnet: out of memory");
  r->spec = *spec;
  layout(r);
  r->units[r->n_units++] = &r->stem;
  for (size_t b = 0; b < spec->n_blocks; b++) {
    r->units[r->n_units++] = &r->blocks[b].c1;
    r->units[r->n_units++] = &r->blocks[b].c2;
    if (r->blocks[b].has_proj)
      r->units[r->n_units++] = &r->blocks[b].proj;
  }
  r->params = calloc(r->n_params, sizeof(float));
  r->grads = calloc(r->n_params, sizeof(float));
  r->eff = calloc(r->n_params, sizeof(float));
  r->stats = calloc(r->n_stats ? r->n_stats : 1, sizeof(float));
  if (!r->params || !r->grads || !r->eff || !r->stats) {
    sl_resnet_free(r);
    return sl_error(SL_ENOMEM, "resnet: out of memory for %zu parameters", r->n_params);
  }
  init_params(r, seed);
  *out = r;
  return SL_OK;
}

static void buffers_free(sl_resnet *r)
{
  for (size_t i = 0; i < r->n_units; i++)
    slu_unit_free(r->units[i]);
  for (size_t b = 0; b < SL_RESNET_MAX_BLOCKS; b++) {
    slr_block *k = &r->blocks[b];
    free(k->r1), free(k->out), free(k->feat), free(k->exit_logits), free(k->dexit);
    free(k->dout), free(k->dr1), free(k->dfeat);
    k->r1 = k->out = k->feat = k->exit_logits = k->dexit = k->dout = k->dr1 = k->dfeat = NULL;
  }
  free(r->h0), free(r->dh0), free(r->scratch), free(r->dscratch), free(r->logits);
  free(r->dlogits);
  r->h0 = r->dh0 = r->scratch = r->dscratch = r->logits = r->dlogits = NULL;
  r->cap = 0;
}

void sl_resnet_free(sl_resnet *r)
{
  if (!r)
    return;
  buffers_free(r);
  free(r->params), free(r->grads), free(r->eff), free(r->stats);
  free(r);
}

/* Activation buffers for batches of up to B samples. */
static int ensure_batch(sl_resnet *r, size_t B)
{
  if (B <= r->cap)
    return SL_OK;
  buffers_free(r);
  const size_t nc = r->spec.n_classes;
  size_t big = 0; /* largest conv output, for the scratch buffers */
  int ok = 1;
#define ALLOC(p, n) ok = ok && ((p) = malloc((n) * sizeof(float))) != NULL
  for (size_t i = 0; i < r->n_units; i++) {
    const size_t n = B * slu_unit_out(r->units[i]);
    big = n > big ? n : big;
    ok = ok && slu_unit_alloc(r->units[i], B) == SL_OK;
  }
  const size_t n0 = B * r->stem.s.K * r->stem.oh * r->stem.ow;
  ALLOC(r->h0, n0);
  ALLOC(r->dh0, n0);
  for (size_t b = 0; b < r->spec.n_blocks; b++) {
    slr_block *k = &r->blocks[b];
    const size_t n = B * k->c * k->h * k->w;
    ALLOC(k->r1, n);
    ALLOC(k->out, n);
    ALLOC(k->dout, n);
    ALLOC(k->dr1, n);
    ALLOC(k->feat, B * k->c);
    ALLOC(k->dfeat, B * k->c);
    if (k->is_exit) {
      ALLOC(k->exit_logits, B * nc);
      ALLOC(k->dexit, B * nc);
    }
  }
  ALLOC(r->scratch, big);
  ALLOC(r->dscratch, big);
  ALLOC(r->logits, B * nc);
  ALLOC(r->dlogits, B * nc);
#undef ALLOC
  if (!ok) {
    buffers_free(r);
    return sl_error(SL_ENOMEM, "resnet: out of memory for a batch of %zu", B);
  }
  r->cap = B;
  return SL_OK;
}

/* ------------------------------------------------------------ accessors */

const sl_resnet_spec *sl_resnet_get_spec(const sl_resnet *r) { return r ? &r->spec : NULL; }
size_t sl_resnet_num_params(const sl_resnet *r) { return r ? r->n_params : 0; }
float *sl_resnet_params(sl_resnet *r) { return r ? r->params : NULL; }
float *sl_resnet_grads(sl_resnet *r) { return r ? r->grads : NULL; }
size_t sl_resnet_num_stats(const sl_resnet *r) { return r ? r->n_stats : 0; }
float *sl_resnet_stats(sl_resnet *r) { return r ? r->stats : NULL; }
const float *sl_resnet_logits(const sl_resnet *r) { return r && r->batch ? r->logits : NULL; }

void sl_resnet_zero_grad(sl_resnet *r)
{
  if (r)
    memset(r->grads, 0, r->n_params * sizeof(float));
}

const float *sl_resnet_features(const sl_resnet *r, size_t b)
{
  return r && r->batch && b < r->spec.n_blocks ? r->blocks[b].feat : NULL;
}

const float *sl_resnet_exit_logits(const sl_resnet *r, size_t e)
{
  return r && r->batch && e + 1 < r->spec.n_blocks ? r->blocks[e].exit_logits : NULL;
}

int sl_resnet_set_ternary(sl_resnet *r, int ternary)
{
  if (!r)
    return sl_error(SL_EINVAL, "resnet: NULL network");
  r->spec.ternary = ternary != 0;
  return SL_OK;
}

/* The weight tensors of the network (every unit's and the FC's) and the
 * exit prototypes. */
int slr_effective(sl_resnet *r)
{
  size_t off[SLR_MAX_TENSORS], n[SLR_MAX_TENSORS], proto[SL_RESNET_MAX_BLOCKS],
      dim[SL_RESNET_MAX_BLOCKS];
  slu_tensors t = {0, off, n, r->alpha, 0, proto, dim, r->spec.n_classes};
  for (size_t i = 0; i < r->n_units; i++) {
    off[t.nt] = r->units[i]->w;
    n[t.nt++] = r->units[i]->n_w;
  }
  off[t.nt] = r->fc_w;
  n[t.nt++] = r->blocks[r->spec.n_blocks - 1].c * r->spec.n_classes;
  for (size_t b = 0; b + 1 < r->spec.n_blocks; b++) {
    proto[t.ne] = r->blocks[b].proto;
    dim[t.ne++] = r->blocks[b].c;
  }
  return slu_effective(r->eff, r->params, r->n_params, &t, r->spec.ternary,
                       r->spec.ternary_prototypes, r->spec.ternary_t);
}

slu_ctx slr_ctx(sl_resnet *r)
{
  slu_ctx c = {r->eff, r->grads, r->stats, r->scratch, r->dscratch, r->spec.bn_eps,
               r->spec.bn_momentum};
  return c;
}

int sl_resnet_effective_params(sl_resnet *r, float *out)
{
  if (!r || !out)
    return sl_error(SL_EINVAL, "resnet: NULL argument");
  int rc = slr_effective(r);
  if (!rc)
    memcpy(out, r->eff, r->n_params * sizeof(float));
  return rc;
}

/* ------------------------------------------------------------ forward */

static int block_forward(sl_resnet *r, slr_block *k, const float *in, size_t B, int training)
{
  const size_t n = B * k->c * k->h * k->w;
  const slu_ctx c = slr_ctx(r);
  int rc = slu_unit_forward(&c, &k->c1, in, B, training);
  if (!rc)
    rc = sl_relu_forward(k->r1, k->c1.y, n);
  if (!rc)
    rc = slu_unit_forward(&c, &k->c2, k->r1, B, training);
  if (!rc && k->has_proj)
    rc = slu_unit_forward(&c, &k->proj, in, B, training);
  if (!rc)
    rc = sl_add_forward(k->out, k->c2.y, k->has_proj ? k->proj.y : in, n);
  if (!rc)
    rc = sl_relu_forward(k->out, k->out, n);
  if (!rc)
    rc = sl_gap_forward(k->feat, k->out, B, k->c, k->h * k->w);
  if (!rc && k->is_exit)
    rc = slu_exit_forward(&c, k->proto, k->offset, k->feat, B, k->c, r->spec.n_classes,
                          r->spec.exit_scale, k->exit_logits, training);
  return rc;
}

int sl_resnet_forward(sl_resnet *r, const float *x, size_t B, int training)
{
  if (!r || !x)
    return sl_error(SL_EINVAL, "resnet_forward: NULL argument");
  if (!B)
    return sl_error(SL_EINVAL, "resnet_forward: empty batch");
  const size_t nin = B * r->spec.in_c * r->spec.in_h * r->spec.in_w;
  for (size_t i = 0; i < nin; i++)
    if (!isfinite(x[i]))
      return sl_error(SL_ENUMERIC, "resnet_forward: input value %zu (sample %zu) is not finite",
                      i, i / (nin / B));
  int rc = ensure_batch(r, B);
  if (!rc)
    rc = slr_effective(r);
  r->batch = 0;
  r->x = x;
  const slu_ctx c = slr_ctx(r);
  if (!rc)
    rc = slu_unit_forward(&c, &r->stem, x, B, training);
  if (!rc)
    rc = sl_relu_forward(r->h0, r->stem.y, B * r->stem.s.K * r->stem.oh * r->stem.ow);
  const float *h = r->h0;
  for (size_t b = 0; !rc && b < r->spec.n_blocks; b++) {
    rc = block_forward(r, &r->blocks[b], h, B, training);
    h = r->blocks[b].out;
  }
  const slr_block *last = &r->blocks[r->spec.n_blocks - 1];
  if (!rc)
    rc = sl_fc_forward(r->logits, last->feat, r->eff + r->fc_w, r->eff + r->fc_b, B, last->c,
                       r->spec.n_classes);
  if (rc)
    return rc;
  r->batch = B;
  r->trained_forward = training != 0;
  return SL_OK;
}

/* ------------------------------------------------------------ loss, backward */

int sl_resnet_loss(sl_resnet *r, const int32_t *labels, double *loss, size_t *correct)
{
  if (!r || !labels || !loss)
    return sl_error(SL_EINVAL, "resnet_loss: NULL argument");
  if (!r->batch)
    return sl_error(SL_EINVAL, "resnet_loss: no forward pass yet");
  const size_t B = r->batch, nc = r->spec.n_classes;
  memset(r->dlogits, 0, B * nc * sizeof(float));
  double total = 0.0;
  int rc = sl_softmax_xent(r->logits, labels, B, nc, &total, r->dlogits, correct);
  const float w = (float)r->spec.exit_weight;
  for (size_t b = 0; !rc && b + 1 < r->spec.n_blocks; b++) {
    slr_block *k = &r->blocks[b];
    double l = 0.0;
    memset(k->dexit, 0, B * nc * sizeof(float));
    rc = sl_softmax_xent(k->exit_logits, labels, B, nc, &l, k->dexit, NULL);
    for (size_t i = 0; i < B * nc; i++)
      k->dexit[i] *= w;
    total += w * l;
  }
  if (rc)
    return rc;
  *loss = total;
  r->have_loss = 1;
  return SL_OK;
}

/* k->dout holds dL/d(out) from the next block (or zero); din (zeroed by
 * the caller) receives dL/d(input). */
static int block_backward(sl_resnet *r, slr_block *k, const float *in, float *din, size_t B)
{
  const size_t n = B * k->c * k->h * k->w;
  const slu_ctx c = slr_ctx(r);
  int rc = SL_OK;
  if (k->is_exit) {
    memset(k->dfeat, 0, B * k->c * sizeof(float));
    rc = slu_exit_backward(&c, k->proto, k->offset, k->feat, k->dexit, B, k->c,
                           r->spec.n_classes, r->spec.exit_scale, k->dfeat);
  }
  if (!rc && (k->is_exit || k == &r->blocks[r->spec.n_blocks - 1]))
    rc = sl_gap_backward(k->dout, k->dfeat, B, k->c, k->h * k->w);
  if (rc)
    return rc;
  slu_relu_mask(k->dout, k->out, n); /* now dL/d(sum) = dL/d(BN2 out) = dL/d(skip) */
  memset(k->dr1, 0, n * sizeof(float));
  rc = slu_unit_backward(&c, &k->c2, k->dout, k->r1, k->dr1, B);
  if (!rc) {
    slu_relu_mask(k->dr1, k->r1, n);
    rc = slu_unit_backward(&c, &k->c1, k->dr1, in, din, B);
  }
  if (!rc && k->has_proj)
    rc = slu_unit_backward(&c, &k->proj, k->dout, in, din, B);
  if (!rc && !k->has_proj)
    rc = sl_add_backward(din, NULL, k->dout, n);
  return rc;
}

int sl_resnet_backward(sl_resnet *r)
{
  if (!r)
    return sl_error(SL_EINVAL, "resnet_backward: NULL network");
  if (!r->have_loss || !r->trained_forward)
    return sl_error(SL_EINVAL, "resnet_backward: needs a training forward and sl_resnet_loss");
  const size_t B = r->batch, L = r->spec.n_blocks;
  slr_block *last = &r->blocks[L - 1];
  memset(last->dfeat, 0, B * last->c * sizeof(float));
  int rc = sl_fc_backward(last->dfeat, r->grads + r->fc_w, r->grads + r->fc_b, r->dlogits,
                          last->feat, r->eff + r->fc_w, B, last->c, r->spec.n_classes);
  memset(last->dout, 0, B * last->c * last->h * last->w * sizeof(float));
  for (size_t b = L; !rc && b-- > 0;) {
    slr_block *k = &r->blocks[b];
    const float *in = b ? r->blocks[b - 1].out : r->h0;
    float *din = b ? r->blocks[b - 1].dout : r->dh0;
    const size_t nin = B * k->cin * k->hin * k->win;
    memset(din, 0, nin * sizeof(float));
    rc = block_backward(r, k, in, din, B);
  }
  if (!rc) {
    const size_t n0 = B * r->stem.s.K * r->stem.oh * r->stem.ow;
    slu_relu_mask(r->dh0, r->h0, n0);
    const slu_ctx c = slr_ctx(r);
    rc = slu_unit_backward(&c, &r->stem, r->dh0, r->x, NULL, B);
  }
  r->have_loss = 0;
  return rc;
}

/* ------------------------------------------------------------ epochs */

/* The family's slu_step_fn. */
static int resnet_step(void *net, sl_optim *o, const float *x, const int32_t *y, size_t B,
                      double *loss, size_t *hits)
{
  sl_resnet *r = net;
  sl_resnet_zero_grad(r);
  int rc = sl_resnet_forward(r, x, B, 1);
  if (!rc)
    rc = sl_resnet_loss(r, y, loss, hits);
  if (!rc)
    rc = sl_resnet_backward(r);
  if (!rc)
    rc = sl_optim_step(o, r->params, r->grads);
  return rc;
}

int sl_resnet_train_epoch(sl_resnet *r, sl_optim *o, const float *x, const int32_t *y, size_t n,
                          size_t batch, uint64_t seed, double *loss, double *accuracy)
{
  if (!r || !o || !x || !y)
    return sl_error(SL_EINVAL, "resnet_train_epoch: NULL argument");
  if (!n || !batch)
    return sl_error(SL_EINVAL, "resnet_train_epoch: n = %zu, batch = %zu (need > 0)", n, batch);
  const size_t dim = r->spec.in_c * r->spec.in_h * r->spec.in_w;
  return slu_train_epoch("resnet_train_epoch", r, o, resnet_step, x, y, n, dim, batch, seed, loss,
                         accuracy);
}

int sl_resnet_recalibrate(sl_resnet *r, const float *x, size_t n, size_t batch)
{
  if (!r || !x)
    return sl_error(SL_EINVAL, "resnet_recalibrate: NULL argument");
  if (!n || !batch)
    return sl_error(SL_EINVAL, "resnet_recalibrate: n = %zu, batch = %zu (need > 0)", n, batch);
  const size_t dim = r->spec.in_c * r->spec.in_h * r->spec.in_w;
  const double keep = r->spec.bn_momentum;
  int rc = SL_OK;
  size_t k = 0;
  for (size_t first = 0; !rc && first < n; first += batch, k++) {
    r->spec.bn_momentum = 1.0 / (double)(k + 1); /* the first batch replaces, then averages */
    rc = sl_resnet_forward(r, x + first * dim, n - first < batch ? n - first : batch, 1);
  }
  r->spec.bn_momentum = keep;
  r->have_loss = 0;
  return rc;
}

int sl_resnet_evaluate(sl_resnet *r, const float *x, const int32_t *y, size_t n, size_t batch,
                       double *accuracy)
{
  if (!r || !x || !y || !accuracy)
    return sl_error(SL_EINVAL, "resnet_evaluate: NULL argument");
  if (!n || !batch)
    return sl_error(SL_EINVAL, "resnet_evaluate: n = %zu, batch = %zu (need > 0)", n, batch);
  const size_t dim = r->spec.in_c * r->spec.in_h * r->spec.in_w, nc = r->spec.n_classes;
  size_t hits = 0;
  for (size_t first = 0; first < n; first += batch) {
    const size_t B = n - first < batch ? n - first : batch;
    int rc = sl_resnet_forward(r, x + first * dim, B, 0);
    if (rc)
      return rc;
    hits += slu_count_hits(r->logits, y + first, B, nc);
  }
  *accuracy = (double)hits / (double)n;
  return SL_OK;
}
