/* pointnet.c -- PointNet++ (spikeloop/pointnet.h): farthest point sampling
 * and ball query, grouping and pooling of set-abstraction levels, and the
 * network's training (forward with the exit heads, loss, backward, epochs).
 * The shared MLP layers are units.c's convolution + BN units, used as 1x1
 * convolutions on (rows, C, 1, 1); deployment is pointnet_deploy.c.
 */
#include "config.h"
#include "pointnet_internal.h"
#include "spikeloop/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ geometry */

static float dist2(const float *a, const float *b)
{
  const float dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return dx * dx + dy * dy + dz * dz;
}

static int fps_check(const size_t *idx, const float *xyz, size_t P, size_t npoint)
{
  if (!idx || !xyz)
    return sl_error(SL_EINVAL, "fps: NULL argument");
  if (!P || !npoint || npoint > P)
    return sl_error(SL_EINVAL, "fps: %zu of %zu points (need 1 <= npoint <= P)", npoint, P);
  return SL_OK;
}

int sl_fps(size_t *idx, const float *xyz, size_t P, size_t npoint)
{
  int rc = fps_check(idx, xyz, P, npoint);
  if (rc)
    return rc;
  float *d = malloc(P * sizeof(float));
  if (!d)
    return sl_error(SL_ENOMEM, "fps: out of memory");
  for (size_t i = 0; i < P; i++)
    d[i] = INFINITY;
  size_t last = 0;
  idx[0] = 0;
  for (size_t s = 1; s < npoint; s++) {
    /* each point's distance to the nearest chosen one, kept up to date */
    size_t best = 0;
    float bd = -1.0f;
    for (size_t i = 0; i < P; i++) {
      const float v = dist2(xyz + 3 * i, xyz + 3 * last);
      if (v < d[i])
        d[i] = v;
      if (d[i] > bd)
        bd = d[i], best = i;
    }
    idx[s] = last = best;
  }
  free(d);
  return SL_OK;
}

int sl_fps_ref(size_t *idx, const float *xyz, size_t P, size_t npoint)
{
  int rc = fps_check(idx, xyz, P, npoint);
  if (rc)
    return rc;
  idx[0] = 0;
  for (size_t s = 1; s < npoint; s++) {
    size_t best = 0;
    float bd = -1.0f;
    for (size_t i = 0; i < P; i++) {
      float m = INFINITY;
      for (size_t j = 0; j < s; j++)
        m = fminf(m, dist2(xyz + 3 * i, xyz + 3 * idx[j]));
      if (m > bd)
        bd = m, best = i;
    }
    idx[s] = best;
  }
  return SL_OK;
}

int sl_ball_query(size_t *idx, size_t *found, const float *xyz, size_t P, const float *centres,
                  size_t npoint, double radius, size_t k)
{
  if (!idx || !xyz || !centres)
    return sl_error(SL_EINVAL, "ball_query: NULL argument");
  if (!P || !npoint || !k)
    return sl_error(SL_EINVAL, "ball_query: P = %zu, npoint = %zu, k = %zu must be positive", P,
                    npoint, k);
  if (!(radius > 0.0) || !isfinite(radius))
    return sl_error(SL_EINVAL, "ball_query: radius = %g must be positive", radius);
  const float r2 = (float)(radius * radius);
  for (size_t c = 0; c < npoint; c++) {
    const float *q = centres + 3 * c;
    size_t *g = idx + c * k, n = 0, nearest = 0;
    float nd = INFINITY;
    for (size_t i = 0; i < P && n < k; i++) {
      const float v = dist2(xyz + 3 * i, q);
      if (v <= r2)
        g[n++] = i;
      if (v < nd)
        nd = v, nearest = i;
    }
    if (found)
      found[c] = n;
    if (!n) { /* no point within the radius: the nearest one */
      for (size_t i = 0; i < P; i++)
        if (dist2(xyz + 3 * i, q) < nd)
          nd = dist2(xyz + 3 * i, q), nearest = i;
      g[n++] = nearest;
    }
    for (size_t j = n; j < k; j++)
      g[j] = g[0];
  }
  return SL_OK;
}

/* ------------------------------------------------------------ spec, layout */

sl_pointnet_spec sl_pointnet_spec_default(void)
{
  sl_pointnet_spec s;
  memset(&s, 0, sizeof s);
  s.n_points = 512;
  s.n_classes = 10;
  s.n_levels = 3;
  const sl_sa_spec l0 = {128, 0.2, 16, 3, {32, 32, 64, 0}};
  const sl_sa_spec l1 = {32, 0.4, 16, 3, {64, 64, 128, 0}};
  const sl_sa_spec l2 = {0, 0.0, 0, 3, {128, 256, 512, 0}};
  s.level[0] = l0, s.level[1] = l1, s.level[2] = l2;
  s.ternary_t = 0.7;
  s.bn_eps = 1e-5;
  s.bn_momentum = 0.1;
  s.exit_weight = 0.5;
  s.exit_scale = 10.0;
  return s;
}

static int spec_check(const sl_pointnet_spec *s)
{
  if (!s->n_points || s->n_classes < 2)
    return sl_error(SL_EINVAL, "pointnet: n_points = %zu, n_classes = %zu (need > 0, >= 2)",
                    s->n_points, s->n_classes);
  if (s->n_levels < 2 || s->n_levels > SL_POINTNET_MAX_LEVELS)
    return sl_error(SL_EINVAL, "pointnet: n_levels = %zu (2..%d)", s->n_levels,
                    SL_POINTNET_MAX_LEVELS);
  size_t pin = s->n_points;
  for (size_t l = 0; l < s->n_levels; l++) {
    const sl_sa_spec *v = &s->level[l];
    const int global = l + 1 == s->n_levels;
    if (global != (v->npoint == 0))
      return sl_error(SL_EINVAL, "pointnet: level[%zu].npoint = %zu (the last level, and only "
                      "it, is global: npoint 0)", l, v->npoint);
    if (!global && (v->npoint > pin || !v->k || !(v->radius > 0.0)))
      return sl_error(SL_EINVAL, "pointnet: level[%zu]: npoint %zu of %zu points, k %zu, radius "
                      "%g (need npoint <= points in, k > 0, radius > 0)", l, v->npoint, pin,
                      v->k, v->radius);
    if (!v->n_mlp || v->n_mlp > SL_POINTNET_MAX_MLP)
      return sl_error(SL_EINVAL, "pointnet: level[%zu].n_mlp = %zu (1..%d)", l, v->n_mlp,
                      SL_POINTNET_MAX_MLP);
    for (size_t j = 0; j < v->n_mlp; j++)
      if (!v->mlp[j])
        return sl_error(SL_EINVAL, "pointnet: level[%zu].mlp[%zu] must be positive", l, j);
    pin = v->npoint;
  }
  if (!(s->bn_eps > 0.0) || !(s->bn_momentum >= 0.0 && s->bn_momentum <= 1.0) ||
      !(s->exit_weight >= 0.0) || !(s->exit_scale > 0.0) || !(s->ternary_t >= 0.0))
    return sl_error(SL_EINVAL, "pointnet: bn_eps > 0, bn_momentum in [0, 1], exit_weight >= 0, "
                    "exit_scale > 0 and ternary_t >= 0 are required");
  if (s->exit_pool != SL_POINTNET_POOL_MEAN && s->exit_pool != SL_POINTNET_POOL_MAX)
    return sl_error(SL_EINVAL, "pointnet: exit_pool %d (mean 0, max 1)", (int)s->exit_pool);
  return SL_OK;
}

static void layout(sl_pointnet *p)
{
  const sl_pointnet_spec *s = &p->spec;
  size_t np = 0, ns = 0, pin = s->n_points, cin = 0;
  for (size_t l = 0; l < s->n_levels; l++) {
    slp_level *L = &p->lv[l];
    L->sp = s->level[l];
    L->global = l + 1 == s->n_levels;
    L->pin = pin;
    L->cin = cin;
    L->np = L->global ? 1 : L->sp.npoint;
    L->k = L->global ? pin : L->sp.k;
    size_t c = 3 + cin;
    for (size_t j = 0; j < L->sp.n_mlp; j++) {
      slu_unit_layout(&L->mlp[j], c, 1, 1, L->sp.mlp[j], 1, 1, &np, &ns);
      c = L->sp.mlp[j];
    }
    L->cout = c;
    L->is_exit = !L->global;
    L->feat_max = s->exit_pool == SL_POINTNET_POOL_MAX;
    if (L->is_exit) {
      L->proto = np;
      np += s->n_classes * c;
      L->offset = ns;
      ns += c;
    }
    pin = L->np;
    cin = c;
  }
  p->fc_w = np;
  p->fc_b = np + cin * s->n_classes;
  p->n_params = p->fc_b + s->n_classes;
  p->n_stats = ns;
}

size_t sl_pointnet_level_channels(const sl_pointnet *p, size_t l)
{
  return p && l < p->spec.n_levels ? p->lv[l].cout : 0;
}

uint64_t sl_pointnet_level_macs(const sl_pointnet *p, size_t l)
{
  if (!p || l >= p->spec.n_levels)
    return 0;
  const slp_level *L = &p->lv[l];
  uint64_t m = 0;
  for (size_t j = 0; j < L->sp.n_mlp; j++)
    m += slu_unit_macs(&L->mlp[j]); /* per row */
  return m * L->np * L->k;
}

uint64_t sl_pointnet_head_macs(const sl_pointnet *p)
{
  return p ? (uint64_t)p->lv[p->spec.n_levels - 1].cout * p->spec.n_classes : 0;
}

/* ------------------------------------------------------------ create, buffers */

static void level_free(slp_level *L)
{
  for (size_t j = 0; j < SL_POINTNET_MAX_MLP; j++) {
    slu_unit_free(&L->mlp[j]);
    free(L->act[j]);
    L->act[j] = NULL;
  }
  free(L->gidx), free(L->cxyz), free(L->rows), free(L->amax), free(L->pooled), free(L->feat);
  free(L->exit_logits), free(L->dexit), free(L->dpooled), free(L->dfeat), free(L->fmax);
  L->gidx = NULL, L->amax = L->fmax = NULL;
  L->cxyz = L->rows = L->pooled = L->feat = L->exit_logits = L->dexit = L->dpooled = L->dfeat =
      NULL;
}

static void buffers_free(sl_pointnet *p)
{
  for (size_t l = 0; l < SL_POINTNET_MAX_LEVELS; l++)
    level_free(&p->lv[l]);
  free(p->scratch), free(p->dscratch), free(p->dbuf[0]), free(p->dbuf[1]);
  free(p->logits), free(p->dlogits);
  p->scratch = p->dscratch = p->dbuf[0] = p->dbuf[1] = p->logits = p->dlogits = NULL;
  p->cap = 0;
}

void sl_pointnet_free(sl_pointnet *p)
{
  if (!p)
    return;
  buffers_free(p);
  free(p->params), free(p->grads), free(p->stats), free(p->eff);
  free(p);
}

static int ensure_batch(sl_pointnet *p, size_t B)
{
  if (B <= p->cap)
    return SL_OK;
  buffers_free(p);
  const size_t nc = p->spec.n_classes;
  size_t big = 0, bigrow = 0;
  int ok = 1;
#define ALLOC(ptr, n) ok = ok && ((ptr) = malloc((n) * sizeof *(ptr))) != NULL
  for (size_t l = 0; l < p->spec.n_levels; l++) {
    slp_level *L = &p->lv[l];
    const size_t rows = B * L->np * L->k;
    ALLOC(L->gidx, B * L->np * L->k);
    ALLOC(L->cxyz, B * L->np * 3);
    ALLOC(L->rows, rows * (3 + L->cin));
    bigrow = rows * (3 + L->cin) > bigrow ? rows * (3 + L->cin) : bigrow;
    for (size_t j = 0; j < L->sp.n_mlp; j++) {
      ok = ok && slu_unit_alloc(&L->mlp[j], rows) == SL_OK;
      ALLOC(L->act[j], rows * L->sp.mlp[j]);
      big = rows * L->sp.mlp[j] > big ? rows * L->sp.mlp[j] : big;
    }
    ALLOC(L->amax, B * L->np * L->cout);
    ALLOC(L->pooled, B * L->np * L->cout);
    ALLOC(L->dpooled, B * L->np * L->cout);
    ALLOC(L->feat, B * L->cout);
    ALLOC(L->dfeat, B * L->cout);
    ALLOC(L->fmax, B * L->cout);
    if (L->is_exit) {
      ALLOC(L->exit_logits, B * nc);
      ALLOC(L->dexit, B * nc);
    }
  }
  big = bigrow > big ? bigrow : big;
  ALLOC(p->scratch, big);
  ALLOC(p->dscratch, big);
  ALLOC(p->dbuf[0], big);
  ALLOC(p->dbuf[1], big);
  ALLOC(p->logits, B * nc);
  ALLOC(p->dlogits, B * nc);
#undef ALLOC
  if (!ok) {
    buffers_free(p);
    return sl_error(SL_ENOMEM, "pointnet: out of memory for a batch of %zu", B);
  }
  p->cap = B;
  return SL_OK;
}

static void init_params(sl_pointnet *p, uint64_t seed)
{
  sl_rng_state g;
  sl_rng_seed(&g, sl_seed_mix(seed, 0x9017e7));
  memset(p->params, 0, p->n_params * sizeof(float));
  for (size_t l = 0; l < p->spec.n_levels; l++) {
    slp_level *L = &p->lv[l];
    for (size_t j = 0; j < L->sp.n_mlp; j++)
      slu_unit_init(&L->mlp[j], p->params, p->stats, &g);
    for (size_t i = 0; L->is_exit && i < p->spec.n_classes * L->cout; i++)
      p->params[L->proto + i] = (float)sl_rng_normal(&g);
  }
  const size_t C = p->lv[p->spec.n_levels - 1].cout;
  const double sd = sqrt(1.0 / (double)C);
  for (size_t i = 0; i < C * p->spec.n_classes; i++)
    p->params[p->fc_w + i] = (float)(sd * sl_rng_normal(&g));
}

int sl_pointnet_create(sl_pointnet **out, const sl_pointnet_spec *spec, uint64_t seed)
{
  if (!out || !spec)
    return sl_error(SL_EINVAL, "pointnet: NULL argument");
  *out = NULL;
  int rc = spec_check(spec);
  if (rc)
    return rc;
  sl_pointnet *p = calloc(1, sizeof *p);
  if (!p)
    return sl_error(SL_ENOMEM, "pointnet: out of memory");
  p->spec = *spec;
  layout(p);
  p->params = calloc(p->n_params, sizeof(float));
  p->grads = calloc(p->n_params, sizeof(float));
  p->eff = calloc(p->n_params, sizeof(float));
  p->stats = calloc(p->n_stats ? p->n_stats : 1, sizeof(float));
  if (!p->params || !p->grads || !p->eff || !p->stats) {
    sl_pointnet_free(p);
    return sl_error(SL_ENOMEM, "pointnet: out of memory for %zu parameters", p->n_params);
  }
  init_params(p, seed);
  *out = p;
  return SL_OK;
}

const sl_pointnet_spec *sl_pointnet_get_spec(const sl_pointnet *p) { return p ? &p->spec : NULL; }
size_t sl_pointnet_num_params(const sl_pointnet *p) { return p ? p->n_params : 0; }
float *sl_pointnet_params(sl_pointnet *p) { return p ? p->params : NULL; }
float *sl_pointnet_grads(sl_pointnet *p) { return p ? p->grads : NULL; }
size_t sl_pointnet_num_stats(const sl_pointnet *p) { return p ? p->n_stats : 0; }
float *sl_pointnet_stats(sl_pointnet *p) { return p ? p->stats : NULL; }
const float *sl_pointnet_logits(const sl_pointnet *p) { return p && p->batch ? p->logits : NULL; }

void sl_pointnet_zero_grad(sl_pointnet *p)
{
  if (p)
    memset(p->grads, 0, p->n_params * sizeof(float));
}

const float *sl_pointnet_features(const sl_pointnet *p, size_t l)
{
  return p && p->batch && l < p->spec.n_levels ? p->lv[l].feat : NULL;
}

int sl_pointnet_set_ternary(sl_pointnet *p, int ternary)
{
  if (!p)
    return sl_error(SL_EINVAL, "pointnet: NULL network");
  p->spec.ternary = ternary != 0;
  return SL_OK;
}

int slp_effective(sl_pointnet *p)
{
  size_t off[SLP_MAX_TENSORS], n[SLP_MAX_TENSORS], proto[SL_POINTNET_MAX_LEVELS],
      dim[SL_POINTNET_MAX_LEVELS];
  slu_tensors t = {0, off, n, p->alpha, 0, proto, dim, p->spec.n_classes};
  for (size_t l = 0; l < p->spec.n_levels; l++) {
    const slp_level *L = &p->lv[l];
    for (size_t j = 0; j < L->sp.n_mlp; j++) {
      off[t.nt] = L->mlp[j].w;
      n[t.nt++] = L->mlp[j].n_w;
    }
    if (L->is_exit) {
      proto[t.ne] = L->proto;
      dim[t.ne++] = L->cout;
    }
  }
  off[t.nt] = p->fc_w;
  n[t.nt++] = p->lv[p->spec.n_levels - 1].cout * p->spec.n_classes;
  return slu_effective(p->eff, p->params, p->n_params, &t, p->spec.ternary,
                       p->spec.ternary_prototypes, p->spec.ternary_t);
}

int sl_pointnet_effective_params(sl_pointnet *p, float *out)
{
  if (!p || !out)
    return sl_error(SL_EINVAL, "pointnet: NULL argument");
  int rc = slp_effective(p);
  if (!rc)
    memcpy(out, p->eff, p->n_params * sizeof(float));
  return rc;
}

/* ------------------------------------------------------------ grouping, pooling */

int slp_group(slp_level *L, const float *xyz, const float *feat, size_t B)
{
  const size_t np = L->np, k = L->k, pin = L->pin, cin = L->cin, w = 3 + cin;
  int fail = 0;
#pragma omp parallel for schedule(dynamic)
  for (size_t b = 0; b < B; b++) {
    const float *x = xyz + b * pin * 3;
    size_t *g = L->gidx + b * np * k;
    float *c = L->cxyz + b * np * 3;
    if (L->global) {
      c[0] = c[1] = c[2] = 0.0f; /* one group of every point, around the origin */
      for (size_t j = 0; j < k; j++)
        g[j] = j;
    } else {
      size_t *ci = malloc(np * sizeof(size_t));
      int rc = ci ? sl_fps(ci, x, pin, np) : SL_ENOMEM;
      for (size_t i = 0; !rc && i < np; i++)
        memcpy(c + 3 * i, x + 3 * ci[i], 3 * sizeof(float));
      if (!rc)
        rc = sl_ball_query(g, NULL, x, pin, c, np, L->sp.radius, k);
      free(ci);
      if (rc) {
#pragma omp atomic write
        fail = 1;
        continue;
      }
    }
    for (size_t i = 0; i < np; i++)
      for (size_t j = 0; j < k; j++) {
        const size_t src = g[i * k + j];
        float *row = L->rows + ((b * np + i) * k + j) * w;
        for (size_t d = 0; d < 3; d++)
          row[d] = x[3 * src + d] - c[3 * i + d];
        if (cin)
          memcpy(row + 3, feat + (b * pin + src) * cin, cin * sizeof(float));
      }
  }
  return fail ? sl_error(SL_ENOMEM, "pointnet: out of memory while grouping") : SL_OK;
}

void slp_pool(slp_level *L, const float *act, size_t B)
{
  const size_t np = L->np, k = L->k, C = L->cout;
#pragma omp parallel for schedule(static)
  for (size_t q = 0; q < B * np; q++) {
    const float *a = act + q * k * C;
    float *o = L->pooled + q * C;
    uint32_t *am = L->amax + q * C;
    for (size_t c = 0; c < C; c++)
      o[c] = a[c], am[c] = 0;
    for (size_t j = 1; j < k; j++)
      for (size_t c = 0; c < C; c++)
        if (a[j * C + c] > o[c])
          o[c] = a[j * C + c], am[c] = (uint32_t)j;
  }
  for (size_t b = 0; b < B; b++)
    for (size_t c = 0; c < C; c++) {
      const float *pc = L->pooled + b * np * C + c;
      if (L->feat_max) {
        uint32_t at = 0;
        for (size_t i = 1; i < np; i++)
          at = pc[i * C] > pc[at * C] ? (uint32_t)i : at;
        L->feat[b * C + c] = pc[at * C];
        L->fmax[b * C + c] = at;
        continue;
      }
      double s = 0.0;
      for (size_t i = 0; i < np; i++)
        s += pc[i * C];
      L->feat[b * C + c] = (float)(s / (double)np);
    }
}

/* ------------------------------------------------------------ forward */

static slu_ctx ctx(sl_pointnet *p)
{
  slu_ctx c = {p->eff, p->grads, p->stats, p->scratch, p->dscratch, p->spec.bn_eps,
               p->spec.bn_momentum};
  return c;
}

static int level_forward(sl_pointnet *p, slp_level *L, const float *xyz, const float *feat,
                         size_t B, int training)
{
  const slu_ctx c = ctx(p);
  const size_t rows = B * L->np * L->k;
  int rc = slp_group(L, xyz, feat, B);
  const float *in = L->rows;
  for (size_t j = 0; !rc && j < L->sp.n_mlp; j++) {
    rc = slu_unit_forward(&c, &L->mlp[j], in, rows, training);
    if (!rc)
      rc = sl_relu_forward(L->act[j], L->mlp[j].y, rows * L->sp.mlp[j]);
    in = L->act[j];
  }
  if (rc)
    return rc;
  slp_pool(L, in, B);
  if (L->is_exit)
    rc = slu_exit_forward(&c, L->proto, L->offset, L->feat, B, L->cout, p->spec.n_classes,
                          p->spec.exit_scale, L->exit_logits, training);
  return rc;
}

int sl_pointnet_forward(sl_pointnet *p, const float *x, size_t B, int training)
{
  if (!p || !x)
    return sl_error(SL_EINVAL, "pointnet_forward: NULL argument");
  if (!B)
    return sl_error(SL_EINVAL, "pointnet_forward: empty batch");
  const size_t n = B * p->spec.n_points * 3;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return sl_error(SL_ENUMERIC, "pointnet_forward: coordinate %zu of cloud %zu is not finite",
                      i % (p->spec.n_points * 3), i / (p->spec.n_points * 3));
  int rc = ensure_batch(p, B);
  if (!rc)
    rc = slp_effective(p);
  p->batch = 0;
  p->x = x;
  const float *xyz = x, *feat = NULL;
  for (size_t l = 0; !rc && l < p->spec.n_levels; l++) {
    rc = level_forward(p, &p->lv[l], xyz, feat, B, training);
    xyz = p->lv[l].cxyz;
    feat = p->lv[l].pooled;
  }
  const slp_level *last = &p->lv[p->spec.n_levels - 1];
  if (!rc)
    rc = sl_fc_forward(p->logits, last->feat, p->eff + p->fc_w, p->eff + p->fc_b, B, last->cout,
                       p->spec.n_classes);
  if (rc)
    return rc;
  p->batch = B;
  p->trained_forward = training != 0;
  return SL_OK;
}

/* ------------------------------------------------------------ loss, backward */

int sl_pointnet_loss(sl_pointnet *p, const int32_t *labels, double *loss, size_t *correct)
{
  if (!p || !labels || !loss)
    return sl_error(SL_EINVAL, "pointnet_loss: NULL argument");
  if (!p->batch)
    return sl_error(SL_EINVAL, "pointnet_loss: no forward pass yet");
  const size_t B = p->batch, nc = p->spec.n_classes;
  memset(p->dlogits, 0, B * nc * sizeof(float));
  double total = 0.0;
  int rc = sl_softmax_xent(p->logits, labels, B, nc, &total, p->dlogits, correct);
  const float w = (float)p->spec.exit_weight;
  for (size_t l = 0; !rc && l + 1 < p->spec.n_levels; l++) {
    slp_level *L = &p->lv[l];
    double e = 0.0;
    memset(L->dexit, 0, B * nc * sizeof(float));
    rc = sl_softmax_xent(L->exit_logits, labels, B, nc, &e, L->dexit, NULL);
    for (size_t i = 0; i < B * nc; i++)
      L->dexit[i] *= w;
    total += w * e;
  }
  if (rc)
    return rc;
  *loss = total;
  p->have_loss = 1;
  return SL_OK;
}

/* L->dpooled holds dL/d(pooled) from the next level (or the head); dfeat_in
 * (B, pin, cin; zeroed by the caller; NULL at the first level) receives the
 * gradient of the level's input features. */
static int level_backward(sl_pointnet *p, slp_level *L, float *dfeat_in, size_t B)
{
  const slu_ctx c = ctx(p);
  const size_t np = L->np, k = L->k, C = L->cout, rows = B * np * k;
  int rc = SL_OK;
  if (L->is_exit) {
    memset(L->dfeat, 0, B * C * sizeof(float));
    rc = slu_exit_backward(&c, L->proto, L->offset, L->feat, L->dexit, B, C, p->spec.n_classes,
                           p->spec.exit_scale, L->dfeat);
    if (!rc && L->feat_max) /* the maximum's group takes the gradient */
      for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < C; j++)
          L->dpooled[(b * np + L->fmax[b * C + j]) * C + j] += L->dfeat[b * C + j];
    else
      for (size_t q = 0; !rc && q < B * np; q++)
        for (size_t j = 0; j < C; j++)
          L->dpooled[q * C + j] += L->dfeat[(q / np) * C + j] / (float)np;
  }
  if (rc)
    return rc;
  /* the maximum of each group and channel takes the gradient */
  const size_t nl = L->sp.n_mlp;
  float *dcur = p->dbuf[0], *dnext = p->dbuf[1];
  memset(dcur, 0, rows * C * sizeof(float));
#pragma omp parallel for schedule(static)
  for (size_t q = 0; q < B * np; q++)
    for (size_t j = 0; j < C; j++)
      dcur[(q * k + L->amax[q * C + j]) * C + j] = L->dpooled[q * C + j];
  for (size_t j = nl; !rc && j-- > 0;) {
    slu_relu_mask(dcur, L->act[j], rows * L->sp.mlp[j]);
    const size_t cin = j ? L->sp.mlp[j - 1] : 3 + L->cin;
    const int need_din = j || dfeat_in;
    if (need_din)
      memset(dnext, 0, rows * cin * sizeof(float));
    rc = slu_unit_backward(&c, &L->mlp[j], dcur, j ? L->act[j - 1] : L->rows,
                           need_din ? dnext : NULL, rows);
    float *t = dcur;
    dcur = dnext;
    dnext = t;
  }
  if (rc || !dfeat_in)
    return rc;
  /* dcur: the rows' gradient (rows, 3 + cin); the features part goes back
   * to the input points (one thread per cloud: groups of a cloud overlap) */
  const size_t w = 3 + L->cin;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < B; b++)
    for (size_t i = 0; i < np * k; i++) {
      const size_t src = L->gidx[b * np * k + i];
      const float *g = dcur + (b * np * k + i) * w + 3;
      float *d = dfeat_in + (b * L->pin + src) * L->cin;
      for (size_t ch = 0; ch < L->cin; ch++)
        d[ch] += g[ch];
    }
  return SL_OK;
}

int sl_pointnet_backward(sl_pointnet *p)
{
  if (!p)
    return sl_error(SL_EINVAL, "pointnet_backward: NULL network");
  if (!p->have_loss || !p->trained_forward)
    return sl_error(SL_EINVAL, "pointnet_backward: needs a training forward and "
                    "sl_pointnet_loss");
  const size_t B = p->batch, nl = p->spec.n_levels;
  slp_level *last = &p->lv[nl - 1];
  memset(last->dpooled, 0, B * last->cout * sizeof(float));
  /* the global level's pooled vector is its feature (one group) */
  int rc = sl_fc_backward(last->dpooled, p->grads + p->fc_w, p->grads + p->fc_b, p->dlogits,
                          last->feat, p->eff + p->fc_w, B, last->cout, p->spec.n_classes);
  for (size_t l = nl; !rc && l-- > 0;) {
    slp_level *L = &p->lv[l];
    float *din = l ? p->lv[l - 1].dpooled : NULL;
    if (din)
      memset(din, 0, B * L->pin * L->cin * sizeof(float));
    rc = level_backward(p, L, din, B);
  }
  p->have_loss = 0;
  return rc;
}

/* ------------------------------------------------------------ epochs */

/* The family's slu_step_fn. */
static int pointnet_step(void *net, sl_optim *o, const float *x, const int32_t *y, size_t B,
                      double *loss, size_t *hits)
{
  sl_pointnet *p = net;
  sl_pointnet_zero_grad(p);
  int rc = sl_pointnet_forward(p, x, B, 1);
  if (!rc)
    rc = sl_pointnet_loss(p, y, loss, hits);
  if (!rc)
    rc = sl_pointnet_backward(p);
  if (!rc)
    rc = sl_optim_step(o, p->params, p->grads);
  return rc;
}

int sl_pointnet_train_epoch(sl_pointnet *p, sl_optim *o, const float *x, const int32_t *y,
                            size_t n, size_t batch, uint64_t seed, double *loss,
                            double *accuracy)
{
  if (!p || !o || !x || !y)
    return sl_error(SL_EINVAL, "pointnet_train_epoch: NULL argument");
  if (!n || !batch)
    return sl_error(SL_EINVAL, "pointnet_train_epoch: n = %zu, batch = %zu (need > 0)", n,
                    batch);
  return slu_train_epoch("pointnet_train_epoch", p, o, pointnet_step, x, y, n,
                         p->spec.n_points * 3, batch, seed, loss, accuracy);
}

int sl_pointnet_recalibrate(sl_pointnet *p, const float *x, size_t n, size_t batch)
{
  if (!p || !x)
    return sl_error(SL_EINVAL, "pointnet_recalibrate: NULL argument");
  if (!n || !batch)
    return sl_error(SL_EINVAL, "pointnet_recalibrate: n = %zu, batch = %zu (need > 0)", n,
                    batch);
  const size_t dim = p->spec.n_points * 3;
  const double keep = p->spec.bn_momentum;
  int rc = SL_OK;
  size_t k = 0;
  for (size_t first = 0; !rc && first < n; first += batch, k++) {
    p->spec.bn_momentum = 1.0 / (double)(k + 1);
    rc = sl_pointnet_forward(p, x + first * dim, n - first < batch ? n - first : batch, 1);
  }
  p->spec.bn_momentum = keep;
  p->have_loss = 0;
  return rc;
}

int sl_pointnet_evaluate(sl_pointnet *p, const float *x, const int32_t *y, size_t n,
                         size_t batch, double *accuracy)
{
  if (!p || !x || !y || !accuracy)
    return sl_error(SL_EINVAL, "pointnet_evaluate: NULL argument");
  if (!n || !batch)
    return sl_error(SL_EINVAL, "pointnet_evaluate: n = %zu, batch = %zu (need > 0)", n, batch);
  const size_t dim = p->spec.n_points * 3, nc = p->spec.n_classes;
  size_t hits = 0;
  for (size_t first = 0; first < n; first += batch) {
    const size_t B = n - first < batch ? n - first : batch;
    int rc = sl_pointnet_forward(p, x + first * dim, B, 0);
    if (rc)
      return rc;
    hits += slu_count_hits(p->logits, y + first, B, nc);
  }
  *accuracy = (double)hits / (double)n;
  return SL_OK;
}
