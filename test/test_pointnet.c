/* test_pointnet.c -- PointNet++ (lib/cim/pointnet.c, pointnet_deploy.c):
 * farthest point sampling against its definition, ball query against a
 * brute-force search, gradients of the whole loss against central finite
 * differences, the straight-through estimator, BN folding and ideal
 * crossbars against the float network, MAC counts, training on a toy
 * task, bad input.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/pointnet.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

/* n points uniform in the unit ball, from the fixtures' generator */
static void cloud(float *xyz, size_t n, uint64_t seed)
{
  sl_test_seed(seed);
  for (size_t i = 0; i < n;) {
    float p[3];
    sl_test_fill_uniform(p, 3, -1, 1);
    if (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] <= 1.0f)
      memcpy(xyz + 3 * i++, p, sizeof p);
  }
}

static void test_fps(void)
{
  const size_t sizes[][2] = {{1, 1}, {10, 10}, {50, 7}, {300, 64}};
  for (size_t t = 0; t < 4; t++) {
    const size_t P = sizes[t][0], m = sizes[t][1];
    float *xyz = sl_test_falloc(3 * P);
    cloud(xyz, P, 3 + t);
    size_t a[64], b[64];
    CU_ASSERT_FATAL(sl_fps(a, xyz, P, m) == SL_OK);
    CU_ASSERT_FATAL(sl_fps_ref(b, xyz, P, m) == SL_OK);
    CU_ASSERT(memcmp(a, b, m * sizeof(size_t)) == 0);
    CU_ASSERT(a[0] == 0);
    for (size_t i = 0; i < m; i++) /* distinct */
      for (size_t j = 0; j < i; j++)
        CU_ASSERT(a[i] != a[j]);
    free(xyz);
  }
  float p[6] = {0, 0, 0, 1, 0, 0};
  size_t idx[3];
  CU_ASSERT(sl_fps(idx, p, 2, 3) == SL_EINVAL);
}

/* the definition, written out */
static void brute_ball(size_t *idx, const float *xyz, size_t P, const float *c, double r,
                       size_t k)
{
  size_t n = 0, nearest = 0;
  double nd = INFINITY;
  for (size_t i = 0; i < P; i++) {
    const double d = pow(xyz[3 * i] - c[0], 2) + pow(xyz[3 * i + 1] - c[1], 2) +
                     pow(xyz[3 * i + 2] - c[2], 2);
    if (d <= r * r && n < k)
      idx[n++] = i;
    if (d < nd)
      nd = d, nearest = i;
  }
  if (!n)
    idx[n++] = nearest;
  for (size_t j = n; j < k; j++)
    idx[j] = idx[0];
}

static void test_ball_query(void)
{
  const size_t P = 200, M = 30, k = 12;
  float *xyz = sl_test_falloc(3 * P), *c = sl_test_falloc(3 * M);
  cloud(xyz, P, 11);
  cloud(c, M, 12);
  c[0] = 5.0f; /* a centre far from every point: its nearest one */
  const double radii[3] = {0.05, 0.3, 2.5};
  for (size_t t = 0; t < 3; t++) {
    size_t got[30 * 12], want[12], found[30];
    CU_ASSERT_FATAL(sl_ball_query(got, found, xyz, P, c, M, radii[t], k) == SL_OK);
    for (size_t m = 0; m < M; m++) {
      brute_ball(want, xyz, P, c + 3 * m, radii[t], k);
      CU_ASSERT(memcmp(got + m * k, want, k * sizeof(size_t)) == 0);
      CU_ASSERT(found[m] <= k);
    }
    CU_ASSERT(found[0] == 0);
  }
  size_t g[4];
  CU_ASSERT(sl_ball_query(g, NULL, xyz, P, c, 1, -1.0, 4) == SL_EINVAL);
  free(xyz), free(c);
}

/* ------------------------------------------------------------ a small network */

enum { NP = 24, NC = 3 };

/* how the small network's exits pool their centres (the tests try both) */
static sl_pointnet_pool exit_pool = SL_POINTNET_POOL_MEAN;

static sl_pointnet_spec small_spec(void)
{
  sl_pointnet_spec s = sl_pointnet_spec_default();
  s.n_points = NP;
  s.n_classes = NC;
  s.n_levels = 3;
  const sl_sa_spec l0 = {8, 0.6, 4, 2, {4, 5, 0, 0}};
  const sl_sa_spec l1 = {4, 0.9, 3, 1, {6, 0, 0, 0}};
  const sl_sa_spec l2 = {0, 0.0, 0, 1, {7, 0, 0, 0}};
  s.level[0] = l0, s.level[1] = l1, s.level[2] = l2;
  s.exit_weight = 0.7;
  s.exit_scale = 4.0;
  s.exit_pool = exit_pool;
  return s;
}

static sl_pointnet *small_net(int ternary, double momentum, uint64_t seed)
{
  sl_pointnet_spec s = small_spec();
  s.ternary = ternary;
  s.bn_momentum = momentum;
  sl_pointnet *p = NULL;
  CU_ASSERT_FATAL(sl_pointnet_create(&p, &s, seed) == SL_OK);
  float *st = sl_pointnet_stats(p);
  sl_test_seed(seed + 100);
  for (size_t i = 0; i < sl_pointnet_num_stats(p); i++) {
    const float u = (float)sl_test_urand();
    st[i] = st[i] == 1.0f ? 0.5f + u : 0.3f * (u - 0.5f);
  }
  return p;
}

static void batch(float *x, int32_t *y, size_t B, uint64_t seed)
{
  cloud(x, B * NP, seed);
  for (size_t b = 0; b < B; b++)
    y[b] = (int32_t)(b % NC);
}

static double loss_at(sl_pointnet *p, const float *x, const int32_t *y, size_t B)
{
  double l = 0.0;
  CU_ASSERT_FATAL(sl_pointnet_forward(p, x, B, 1) == SL_OK);
  CU_ASSERT_FATAL(sl_pointnet_loss(p, y, &l, NULL) == SL_OK);
  return l;
}

/* Every parameter's gradient against central differences (the max
 * pooling's and ReLUs' kinks make the error fall with the step). */
static void gradients_fd(void)
{
  const size_t B = 5;
  float x[5 * NP * 3];
  int32_t y[5];
  batch(x, y, B, 7);
  sl_pointnet *p = small_net(0, 0.0, 3);
  const size_t n = sl_pointnet_num_params(p);
  float *w = sl_pointnet_params(p), *g = sl_test_falloc(n);
  sl_pointnet_zero_grad(p);
  loss_at(p, x, y, B);
  CU_ASSERT_FATAL(sl_pointnet_backward(p) == SL_OK);
  memcpy(g, sl_pointnet_grads(p), n * sizeof(float));
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float keep = w[i];
    const double eps = 3e-4 * fmax(1.0, fabs(keep));
    w[i] = keep + (float)eps;
    const double lp = loss_at(p, x, y, B);
    w[i] = keep - (float)eps;
    const double lm = loss_at(p, x, y, B);
    w[i] = keep;
    const double fdv = (lp - lm) / (2.0 * eps);
    num += pow(fdv - g[i], 2);
    den += fdv * fdv;
  }
  const double rel = sqrt(num / den);
  if (!(rel < 2e-2))
    printf("\n    exit_pool %d: normwise |fd - analytic| / |fd| = %g over %zu parameters ",
           (int)exit_pool, rel, n);
  CU_ASSERT(rel < 2e-2 && den > 0.0);
  free(g);
  sl_pointnet_free(p);
}

static void test_gradients_fd(void)
{
  for (int pool = SL_POINTNET_POOL_MEAN; pool <= SL_POINTNET_POOL_MAX; pool++) {
    exit_pool = (sl_pointnet_pool)pool;
    gradients_fd();
  }
  exit_pool = SL_POINTNET_POOL_MEAN;
}

static void test_straight_through(void)
{
  const size_t B = 6;
  float x[6 * NP * 3];
  int32_t y[6];
  batch(x, y, B, 11);
  sl_pointnet *t = small_net(1, 0.0, 5), *f = small_net(0, 0.0, 5);
  const size_t n = sl_pointnet_num_params(t);
  CU_ASSERT_FATAL(sl_pointnet_effective_params(t, sl_pointnet_params(f)) == SL_OK);
  sl_pointnet_zero_grad(t);
  sl_pointnet_zero_grad(f);
  CU_ASSERT(loss_at(t, x, y, B) == loss_at(f, x, y, B));
  CU_ASSERT_FATAL(sl_pointnet_backward(t) == SL_OK);
  CU_ASSERT_FATAL(sl_pointnet_backward(f) == SL_OK);
  CU_ASSERT(memcmp(sl_pointnet_grads(t), sl_pointnet_grads(f), n * sizeof(float)) == 0);
  sl_pointnet_free(t);
  sl_pointnet_free(f);
}

/* A deployed network run stage by stage against the unfolded inference. */
static double compare_deployed(sl_pointnet *p, sl_pointnet_deployed *d, const float *x, size_t B)
{
  sl_dyn_net net;
  CU_ASSERT_FATAL(sl_pointnet_deployed_dyn(d, &net) == SL_OK);
  const size_t C[3] = {5, 6, 7};
  float o0[8 * 8 * 8], o1[8 * 4 * 9], o2[8 * 7], f[3][8 * 7], lg[8 * NC];
  float *outs[3] = {o0, o1, o2};
  const float *in = x;
  for (size_t s = 0; s < 3; s++) {
    CU_ASSERT_FATAL(net.stage(net.net, s, in, B, outs[s], f[s]) == SL_OK);
    in = outs[s];
  }
  CU_ASSERT_FATAL(net.head(net.net, f[2], B, lg) == SL_OK);
  CU_ASSERT_FATAL(sl_pointnet_forward(p, x, B, 0) == SL_OK);
  double worst = sl_test_max_rel_diff(lg, sl_pointnet_logits(p), B * NC, 1.0);
  for (size_t s = 0; s < 3; s++)
    worst = fmax(worst, sl_test_max_rel_diff(f[s], sl_pointnet_features(p, s), B * C[s], 1.0));
  /* an exit level's feature pools the centres' features of its output
   * (per cloud: np centres' xyz, then their C features) by exit_pool */
  const size_t npt[2] = {8, 4};
  for (size_t s = 0; s < 2; s++)
    for (size_t b = 0; b < B; b++)
      for (size_t c = 0; c < C[s]; c++) {
        const float *pooled = outs[s] + b * npt[s] * (3 + C[s]) + npt[s] * 3 + c;
        double want = exit_pool == SL_POINTNET_POOL_MAX ? -INFINITY : 0.0;
        for (size_t i = 0; i < npt[s]; i++)
          want = exit_pool == SL_POINTNET_POOL_MAX ? fmax(want, pooled[i * C[s]])
                                                   : want + pooled[i * C[s]] / (double)npt[s];
        worst = fmax(worst, fabs(f[s][b * C[s] + c] - want) / fmax(1.0, fabs(want)));
      }
  return worst;
}

static void test_deployment(void)
{
  const size_t B = 8;
  float x[8 * NP * 3];
  int32_t y[8];
  batch(x, y, B, 13);
  for (int run = 0; run < 3; run++) { /* float, ternary, float with exits pooled by max */
    const int ternary = run == 1;
    exit_pool = run == 2 ? SL_POINTNET_POOL_MAX : SL_POINTNET_POOL_MEAN;
    sl_pointnet *p = small_net(ternary, 0.1, 9);
    sl_resnet_deploy_params dp = sl_resnet_deploy_params_default();
    dp.mapping = ternary ? SL_RESNET_MAP_TERNARY : SL_RESNET_MAP_FP;
    sl_pointnet_deployed *d = NULL;
    CU_ASSERT_FATAL(sl_pointnet_deploy(&d, p, &dp, NULL, 0) == SL_OK);
    double diff = compare_deployed(p, d, x, B);
    if (!(diff < 1e-4))
      printf("\n    float deployment, ternary %d: max rel diff %g ", ternary, diff);
    CU_ASSERT(diff < 1e-4);
    sl_pointnet_deployed_free(d);
    /* crossbars with every non-ideality off compute the same */
    dp.on_cim = 1;
    dp.device.levels = 0;
    dp.device.prog_sd = dp.device.read_sd = dp.device.drift_nu = 0.0;
    dp.device.dac_bits = dp.device.adc_bits = 0;
    CU_ASSERT_FATAL(sl_pointnet_deploy(&d, p, &dp, x, B) == SL_OK);
    diff = compare_deployed(p, d, x, B);
    if (!(diff < 1e-4))
      printf("\n    ideal crossbars, ternary %d: max rel diff %g ", ternary, diff);
    CU_ASSERT(diff < 1e-4);
    sl_cim_counters k;
    double e = 0.0;
    sl_pointnet_deployed_counters(d, &k, &e);
    CU_ASSERT(k.mvms > 0 && e > 0.0);
    sl_pointnet_deployed_free(d);
    sl_pointnet_free(p);
  }
  exit_pool = SL_POINTNET_POOL_MEAN;
}

/* Programming errors shift every column's output; re-estimating the
 * folded BNs from the programmed chip's outputs (chip_bn) takes most of
 * that shift out again. */
static void test_chip_bn(void)
{
  const size_t B = 8;
  float x[8 * NP * 3];
  int32_t y[8];
  batch(x, y, B, 17);
  sl_pointnet *p = small_net(0, 0.1, 21);
  /* statistics of this batch, as the chip's would be measured on it */
  CU_ASSERT_FATAL(sl_pointnet_recalibrate(p, x, B, B) == SL_OK);
  sl_resnet_deploy_params dp = sl_resnet_deploy_params_default();
  dp.on_cim = 1;
  dp.device.levels = 0;
  dp.device.read_sd = dp.device.drift_nu = 0.0;
  dp.device.dac_bits = dp.device.adc_bits = 0;
  dp.device.prog_sd = 0.05;
  dp.device.max_pulses = 1;
  double err[2];
  for (int on = 0; on < 2; on++) {
    dp.chip_bn = on;
    sl_pointnet_deployed *d = NULL;
    CU_ASSERT_FATAL(sl_pointnet_deploy(&d, p, &dp, x, B) == SL_OK);
    err[on] = compare_deployed(p, d, x, B);
    sl_pointnet_deployed_free(d);
  }
  if (!(err[1] < 0.5 * err[0]))
    printf("\n    max rel diff to the float network: %g without, %g with chip_bn ", err[0],
           err[1]);
  CU_ASSERT(err[1] < 0.5 * err[0]);
  sl_pointnet_free(p);
}

static void test_macs(void)
{
  sl_pointnet *p = small_net(0, 0.1, 1);
  /* level 0: 8 groups x 4 rows x (3x4 + 4x5); level 1: 4 x 3 x (8x6);
   * global: 4 rows x (9x7); head 7 x 3 */
  CU_ASSERT(sl_pointnet_level_macs(p, 0) == 32 * (12 + 20));
  CU_ASSERT(sl_pointnet_level_macs(p, 1) == 12 * 48);
  CU_ASSERT(sl_pointnet_level_macs(p, 2) == 4 * 63);
  CU_ASSERT(sl_pointnet_head_macs(p) == 21);
  sl_resnet_deploy_params dp = sl_resnet_deploy_params_default();
  sl_pointnet_deployed *d = NULL;
  sl_dyn_net net;
  CU_ASSERT_FATAL(sl_pointnet_deploy(&d, p, &dp, NULL, 0) == SL_OK);
  CU_ASSERT_FATAL(sl_pointnet_deployed_dyn(d, &net) == SL_OK);
  CU_ASSERT(net.n_stages == 3 && net.in_dim == NP * 3);
  CU_ASSERT(net.out_dim[0] == 8 * 8 && net.out_dim[1] == 4 * 9 && net.out_dim[2] == 7);
  CU_ASSERT(sl_dyn_full_macs(&net) == 32 * 32 + 12 * 48 + 4 * 63 + 21);
  sl_pointnet_deployed_free(d);
  sl_pointnet_free(p);
}

/* Three classes: points on a line, a flat disk, or a ball. */
static void toy(float *x, int32_t *y, size_t n, uint64_t seed)
{
  cloud(x, n * NP, seed);
  for (size_t i = 0; i < n; i++) {
    y[i] = (int32_t)(i % NC);
    for (size_t j = 0; j < NP; j++) {
      float *q = x + (i * NP + j) * 3;
      if (y[i] == 0)
        q[1] *= 0.05f, q[2] *= 0.05f;
      else if (y[i] == 1)
        q[2] *= 0.05f;
    }
  }
}

static void test_training_learns(void)
{
  const size_t n = 90;
  float *x = sl_test_falloc(n * NP * 3);
  int32_t y[90];
  toy(x, y, n, 5);
  sl_pointnet *p = small_net(0, 0.1, 2);
  sl_optim_params op = sl_optim_params_default();
  op.lr = 0.02;
  sl_optim *o = NULL;
  CU_ASSERT_FATAL(sl_optim_create(&o, "adam", sl_pointnet_num_params(p), &op) == SL_OK);
  double l0 = 0, l = 0, acc = 0;
  for (int e = 0; e < 25; e++)
    CU_ASSERT_FATAL(sl_pointnet_train_epoch(p, o, x, y, n, 15, (uint64_t)e, e ? &l : &l0,
                                            NULL) == SL_OK);
  CU_ASSERT_FATAL(sl_pointnet_recalibrate(p, x, n, 30) == SL_OK);
  CU_ASSERT_FATAL(sl_pointnet_evaluate(p, x, y, n, 30, &acc) == SL_OK);
  if (!(l < 0.5 * l0 && acc > 0.9))
    printf("\n    loss %g -> %g, accuracy %g ", l0, l, acc);
  CU_ASSERT(l < 0.5 * l0);
  CU_ASSERT(acc > 0.9);
  sl_optim_free(o);
  sl_pointnet_free(p);
  free(x);
}

static void test_bad_input(void)
{
  sl_pointnet_spec s = small_spec();
  sl_pointnet *p = NULL;
  s.level[2].npoint = 2; /* the last level must be global */
  sl_clear_error();
  CU_ASSERT(sl_pointnet_create(&p, &s, 1) == SL_EINVAL && p == NULL);
  CU_ASSERT(sl_test_msg_has("level[2]"));
  s = small_spec();
  s.level[0].npoint = NP + 1;
  CU_ASSERT(sl_pointnet_create(&p, &s, 1) == SL_EINVAL);
  p = small_net(0, 0.1, 1);
  float x[2 * NP * 3];
  cloud(x, 2 * NP, 3);
  x[5] = NAN;
  CU_ASSERT(sl_pointnet_forward(p, x, 2, 1) == SL_ENUMERIC);
  CU_ASSERT(sl_pointnet_backward(p) == SL_EINVAL);
  sl_resnet_deploy_params dp = sl_resnet_deploy_params_default();
  dp.mapping = SL_RESNET_MAP_TERNARY;
  sl_pointnet_deployed *d = NULL;
  CU_ASSERT(sl_pointnet_deploy(&d, p, &dp, NULL, 0) == SL_EINVAL && d == NULL);
  sl_pointnet_free(p);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"farthest point sampling = its definition", test_fps},
      {"ball query = brute force", test_ball_query},
      {"gradients of the whole loss vs finite differences", test_gradients_fd},
      {"ternary training: straight-through gradients", test_straight_through},
      {"deployment: folded float and ideal crossbars = the network", test_deployment},
      {"BN re-estimated on the programmed chip", test_chip_bn},
      {"MAC counts and the dynamic-inference view", test_macs},
      {"training learns a toy task", test_training_learns},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run("pointnet", cases);
}
