/* test_resnet.c -- the residual network (lib/cim/resnet.c, resnet_deploy.c)
 * on a small instance: gradients of the whole loss (head and exit heads)
 * against central finite differences; the straight-through estimator of
 * ternary training; batch-norm folding (deployed float network = the
 * unfolded inference, both mappings); crossbars with every non-ideality
 * off = the float deployment; MAC counts; training learns a toy task; bad
 * input.
 */
#include "config.h"
#include "spikeloop/ann.h"
#include "spikeloop/error.h"
#include "spikeloop/resnet.h"
#include "spikeloop/ternary.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

enum { SIDE = 6, NC = 3, DIM = SIDE * SIDE };

/* stem 3; blocks 3 (identity skip), 4 stride 2 (projection), 5 (projection) */
static sl_resnet_spec small_spec(void)
{
  sl_resnet_spec s = sl_resnet_spec_default();
  s.in_c = 1;
  s.in_h = s.in_w = SIDE;
  s.n_classes = NC;
  s.stem_c = 3;
  s.stem_stride = 1;
  s.n_blocks = 3;
  const size_t c[3] = {3, 4, 5}, st[3] = {1, 2, 1};
  for (size_t b = 0; b < 3; b++)
    s.block_c[b] = c[b], s.block_stride[b] = st[b];
  s.exit_weight = 0.7;
  s.exit_scale = 4.0;
  return s;
}

static sl_resnet *small_net(int ternary, double momentum, uint64_t seed)
{
  sl_resnet_spec s = small_spec();
  s.ternary = ternary;
  s.bn_momentum = momentum;
  sl_resnet *r = NULL;
  CU_ASSERT_FATAL(sl_resnet_create(&r, &s, seed) == SL_OK);
  /* non-trivial BN affine maps and statistics, exit offsets */
  float *p = sl_resnet_params(r), *st = sl_resnet_stats(r);
  sl_test_seed(seed + 100);
  for (size_t i = 0; i < sl_resnet_num_stats(r); i++) {
    const float u = (float)sl_test_urand();
    st[i] = st[i] == 1.0f ? 0.5f + u : 0.3f * (u - 0.5f); /* variances stay positive */
  }
  (void)p;
  return r;
}

static void batch(float *x, int32_t *y, size_t B, uint64_t seed)
{
  sl_test_seed(seed);
  sl_test_fill_uniform(x, B * DIM, 0, 1);
  for (size_t b = 0; b < B; b++)
    y[b] = (int32_t)(b % NC);
}

static double loss_at(sl_resnet *r, const float *x, const int32_t *y, size_t B)
{
  double l = 0.0;
  CU_ASSERT_FATAL(sl_resnet_forward(r, x, B, 1) == SL_OK);
  CU_ASSERT_FATAL(sl_resnet_loss(r, y, &l, NULL) == SL_OK);
  return l;
}

/* Analytic gradients against central differences over every parameter.
 * The error falls with the step (2 to 7% normwise at 1e-2, 0.7% at 3e-4):
 * the ReLU kinks a step crosses, not the gradient. */
static void test_gradients_fd(void)
{
  const size_t B = 5;
  float x[5 * DIM];
  int32_t y[5];
  batch(x, y, B, 7);
  sl_resnet *r = small_net(0, 0.0, 3); /* momentum 0: statistics stay put */
  const size_t n = sl_resnet_num_params(r);
  float *p = sl_resnet_params(r), *g = sl_test_falloc(n);
  sl_resnet_zero_grad(r);
  loss_at(r, x, y, B);
  CU_ASSERT_FATAL(sl_resnet_backward(r) == SL_OK);
  memcpy(g, sl_resnet_grads(r), n * sizeof(float));
  double num = 0.0, den = 0.0, worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < n; i++) {
    const float keep = p[i];
    const double eps = 3e-4 * fmax(1.0, fabs(keep));
    p[i] = keep + (float)eps;
    const double lp = loss_at(r, x, y, B);
    p[i] = keep - (float)eps;
    const double lm = loss_at(r, x, y, B);
    p[i] = keep;
    const double fdv = (lp - lm) / (2.0 * eps), d = fabs(fdv - g[i]);
    num += d * d;
    den += fdv * fdv;
    if (d > worst)
      worst = d, worst_i = i;

  }
  const double rel = sqrt(num / den);
  if (!(rel < 2e-2))
    printf("\n    normwise |fd - analytic| / |fd| = %g (worst %g at %zu of %zu) ", rel, worst,
           worst_i, n);
  CU_ASSERT(rel < 2e-2);
  CU_ASSERT(den > 0.0);
  free(g);
  sl_resnet_free(r);
}

/* Ternary training = float training of the ternarised weights, with the
 * gradient passed straight to the latent ones. */
static void test_straight_through(void)
{
  const size_t B = 6;
  float x[6 * DIM];
  int32_t y[6];
  batch(x, y, B, 11);
  sl_resnet *t = small_net(1, 0.0, 5), *f = small_net(0, 0.0, 5);
  const size_t n = sl_resnet_num_params(t);
  CU_ASSERT_FATAL(sl_resnet_effective_params(t, sl_resnet_params(f)) == SL_OK);
  /* the effective weights are ternary per tensor: few distinct magnitudes */
  CU_ASSERT(memcmp(sl_resnet_params(f), sl_resnet_params(t), n * sizeof(float)) != 0);
  sl_resnet_zero_grad(t);
  sl_resnet_zero_grad(f);
  double lt = loss_at(t, x, y, B), lf = loss_at(f, x, y, B);
  CU_ASSERT(lt == lf);
  CU_ASSERT(memcmp(sl_resnet_logits(t), sl_resnet_logits(f), B * NC * sizeof(float)) == 0);
  CU_ASSERT_FATAL(sl_resnet_backward(t) == SL_OK);
  CU_ASSERT_FATAL(sl_resnet_backward(f) == SL_OK);
  CU_ASSERT(memcmp(sl_resnet_grads(t), sl_resnet_grads(f), n * sizeof(float)) == 0);
  sl_resnet_free(t);
  sl_resnet_free(f);
}

/* Run a deployed network stage by stage; feats (3 blocks), logits. */
static void run_deployed(sl_resnet_deployed *d, const float *x, size_t B, float **feat,
                         float *logits)
{
  float a[8 * 3 * DIM], b[8 * 5 * DIM];
  const float *in = x;
  for (size_t s = 0; s < 3; s++) {
    float *o = s % 2 ? b : a;
    CU_ASSERT_FATAL(sl_resnet_deployed_stage(d, s, in, B, o, feat[s]) == SL_OK);
    in = o;
  }
  CU_ASSERT_FATAL(sl_resnet_deployed_head(d, feat[2], B, logits) == SL_OK);
}

static double compare_deployed(sl_resnet *r, sl_resnet_deployed *d, const float *x, size_t B)
{
  const size_t C[3] = {3, 4, 5};
  float f0[8 * 3], f1[8 * 4], f2[8 * 5], lg[8 * NC];
  float *feat[3] = {f0, f1, f2};
  run_deployed(d, x, B, feat, lg);
  CU_ASSERT_FATAL(sl_resnet_forward(r, x, B, 0) == SL_OK);
  double worst = sl_test_max_rel_diff(lg, sl_resnet_logits(r), B * NC, 1.0);
  for (size_t s = 0; s < 3; s++)
    worst = fmax(worst, sl_test_max_rel_diff(feat[s], sl_resnet_features(r, s), B * C[s], 1.0));
  return worst;
}

static void test_bn_folding(void)
{
  const size_t B = 8;
  float x[8 * DIM];
  int32_t y[8];
  batch(x, y, B, 13);
  for (int ternary = 0; ternary < 2; ternary++) {
    sl_resnet *r = small_net(ternary, 0.1, 9);
    for (int m = ternary ? 0 : 1; m < 2; m++) {
      sl_resnet_deploy_params p = sl_resnet_deploy_params_default();
      p.mapping = m ? SL_RESNET_MAP_FP : SL_RESNET_MAP_TERNARY;
      sl_resnet_deployed *d = NULL;
      CU_ASSERT_FATAL(sl_resnet_deploy(&d, r, &p, NULL, 0) == SL_OK);
      const double diff = compare_deployed(r, d, x, B);
      if (!(diff < 1e-4))
        printf("\n    ternary %d mapping %d: max rel diff %g ", ternary, m, diff);
      CU_ASSERT(diff < 1e-4);
      sl_resnet_deployed_free(d);
    }
    sl_resnet_free(r);
  }
}

/* Crossbars without noise, DAC, ADC or levels compute the float network. */
static void test_cim_ideal(void)
{
  const size_t B = 8;
  float x[8 * DIM];
  int32_t y[8];
  batch(x, y, B, 17);
  for (int ternary = 0; ternary < 2; ternary++) {
    sl_resnet *r = small_net(ternary, 0.1, 21);
    sl_resnet_deploy_params p = sl_resnet_deploy_params_default();
    p.on_cim = 1;
    p.mapping = ternary ? SL_RESNET_MAP_TERNARY : SL_RESNET_MAP_FP;
    p.device.levels = 0;
    p.device.prog_sd = 0.0;
    p.device.read_sd = 0.0;
    p.device.dac_bits = 0;
    p.device.adc_bits = 0;
    p.device.drift_nu = 0.0;
    sl_resnet_deployed *d = NULL;
    CU_ASSERT_FATAL(sl_resnet_deploy(&d, r, &p, x, B) == SL_OK);
    const double diff = compare_deployed(r, d, x, B);
    if (!(diff < 1e-4))
      printf("\n    ternary %d: max rel diff %g ", ternary, diff);
    CU_ASSERT(diff < 1e-4);
    sl_cim_counters k;
    double e = 0.0;
    sl_resnet_deployed_counters(d, &k, &e);
    CU_ASSERT(k.mvms > 0 && e > 0.0);
    /* a noisy chip differs, and costs the same reads */
    sl_resnet_deployed_free(d);
    p.device.read_sd = 0.05;
    p.device.adc_bits = 8;
    p.device.dac_bits = 8;
    CU_ASSERT_FATAL(sl_resnet_deploy(&d, r, &p, x, B) == SL_OK);
    const double noisy = compare_deployed(r, d, x, B);
    CU_ASSERT(noisy > 1e-4 && noisy < 1.0);
    sl_resnet_deployed_free(d);
    sl_resnet_free(r);
  }
}

static void test_macs_and_dyn(void)
{
  sl_resnet *r = small_net(0, 0.1, 1);
  /* stem 6x6x9x3; block 0: two 3x3 convs 3->3 at 6x6; block 1: 3->4 s2
   * (3x3), 4->4 (3x3), 1x1 projection 3->4 at 3x3; block 2: 4->5, 5->5,
   * projection 4->5 at 3x3 */
  const uint64_t stem = 36 * 9 * 3, b0 = 2 * 36 * 27 * 3, b1 = 9 * 27 * 4 + 9 * 36 * 4 + 9 * 3 * 4,
                 b2 = 9 * 36 * 5 + 9 * 45 * 5 + 9 * 4 * 5, head = 5 * NC;
  CU_ASSERT(sl_resnet_block_macs(r, 0) == stem + b0);
  CU_ASSERT(sl_resnet_block_macs(r, 1) == b1);
  CU_ASSERT(sl_resnet_block_macs(r, 2) == b2);
  CU_ASSERT(sl_resnet_head_macs(r) == head);
  CU_ASSERT(sl_resnet_total_macs(r) == stem + b0 + b1 + b2 + head);
  sl_resnet_deploy_params p = sl_resnet_deploy_params_default();
  sl_resnet_deployed *d = NULL;
  sl_dyn_net dn;
  CU_ASSERT_FATAL(sl_resnet_deploy(&d, r, &p, NULL, 0) == SL_OK);
  CU_ASSERT_FATAL(sl_resnet_deployed_dyn(d, &dn) == SL_OK);
  CU_ASSERT(dn.n_stages == 3 && dn.n_classes == NC && dn.in_dim == DIM);
  CU_ASSERT(dn.out_dim[1] == 4 * 9 && dn.feat_dim[2] == 5);
  CU_ASSERT(sl_dyn_full_macs(&dn) == (double)sl_resnet_total_macs(r));
  sl_resnet_deployed_free(d);
  sl_resnet_free(r);
}

/* Recalibration on one batch: the stem's running mean and variance are
 * that batch's (the unbiased variance), computed here from the stem
 * convolution directly; inference then nearly matches the training-mode
 * forward of the batch (biased vs unbiased variance apart). */
static void test_recalibrate(void)
{
  const size_t B = 16;
  float x[16 * DIM];
  int32_t y[16];
  batch(x, y, B, 23);
  sl_resnet *r = small_net(0, 0.1, 4); /* statistics far from this batch's */
  float train[16 * NC];
  CU_ASSERT_FATAL(sl_resnet_forward(r, x, B, 1) == SL_OK);
  memcpy(train, sl_resnet_logits(r), sizeof train);
  CU_ASSERT_FATAL(sl_resnet_forward(r, x, B, 0) == SL_OK);
  const double before = sl_test_max_rel_diff(sl_resnet_logits(r), train, B * NC, 1.0);
  const float keep = sl_resnet_params(r)[0];
  CU_ASSERT_FATAL(sl_resnet_recalibrate(r, x, B, B) == SL_OK);
  CU_ASSERT(sl_resnet_params(r)[0] == keep);
  /* the stem: conv 1 -> 3 channels, 3x3, pad 1; its weights come first in
   * the params, its running mean and variance first in the stats */
  const sl_conv2d_shape cs = {B, 1, SIDE, SIDE, 3, 3, 3, 1, 1};
  float u[16 * 3 * DIM];
  CU_ASSERT_FATAL(sl_conv2d_forward(u, x, sl_resnet_params(r), NULL, &cs) == SL_OK);
  const float *st = sl_resnet_stats(r);
  for (size_t c = 0; c < 3; c++) {
    double m = 0, v = 0;
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < DIM; i++)
        m += u[(b * 3 + c) * DIM + i];
    m /= (double)(B * DIM);
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < DIM; i++)
        v += pow(u[(b * 3 + c) * DIM + i] - m, 2);
    v /= (double)(B * DIM - 1);
    CU_ASSERT(fabs(st[c] - m) < 1e-5 * fmax(1.0, fabs(m)));
    CU_ASSERT(fabs(st[3 + c] - v) < 1e-4 * v);
  }
  CU_ASSERT_FATAL(sl_resnet_forward(r, x, B, 0) == SL_OK);
  const double after = sl_test_max_rel_diff(sl_resnet_logits(r), train, B * NC, 1.0);
  if (!(after < 0.1 && before > 5 * after))
    printf("\n    inference vs training forward: before %g, after %g ", before, after);
  CU_ASSERT(after < 0.1 && before > 5 * after);
  /* two batches of 8: the stem mean is the mean of the two batch means */
  CU_ASSERT_FATAL(sl_resnet_recalibrate(r, x, B, 8) == SL_OK);
  for (size_t c = 0; c < 3; c++) {
    double m = 0;
    for (size_t b = 0; b < B; b++)
      for (size_t i = 0; i < DIM; i++)
        m += u[(b * 3 + c) * DIM + i];
    m /= (double)(B * DIM); /* equal halves: the mean of the means is the mean */
    CU_ASSERT(fabs(st[c] - m) < 1e-5 * fmax(1.0, fabs(m)));
  }
  CU_ASSERT(sl_resnet_recalibrate(r, x, B, 0) == SL_EINVAL);
  sl_resnet_free(r);
}

/* Three classes: a bright left, middle or right column band. */
static void toy(float *x, int32_t *y, size_t n, uint64_t seed)
{
  sl_test_seed(seed);
  for (size_t i = 0; i < n; i++) {
    y[i] = (int32_t)(i % NC);
    for (size_t p = 0; p < DIM; p++) {
      const size_t col = p % SIDE;
      x[i * DIM + p] = (float)(0.3 * sl_test_urand() + (col / 2 == (size_t)y[i] ? 0.7 : 0.0));
    }
  }
}

static void test_training_learns(void)
{
  const size_t n = 120;
  float *x = sl_test_falloc(n * DIM);
  int32_t y[120];
  toy(x, y, n, 5);
  for (int ternary = 0; ternary < 2; ternary++) {
    sl_resnet *r = small_net(ternary, 0.1, 2);
    sl_optim_params op = sl_optim_params_default();
    op.lr = 0.01;
    sl_optim *o = NULL;
    CU_ASSERT_FATAL(sl_optim_create(&o, "adam", sl_resnet_num_params(r), &op) == SL_OK);
    double l0 = 0, l = 0, acc = 0;
    for (int e = 0; e < 15; e++)
      CU_ASSERT_FATAL(sl_resnet_train_epoch(r, o, x, y, n, 16, (uint64_t)e, e ? &l : &l0, NULL) ==
                      SL_OK);
    CU_ASSERT_FATAL(sl_resnet_evaluate(r, x, y, n, 50, &acc) == SL_OK);
    if (!(l < 0.5 * l0 && acc > 0.9))
      printf("\n    ternary %d: loss %g -> %g, accuracy %g ", ternary, l0, l, acc);
    CU_ASSERT(l < 0.5 * l0);
    CU_ASSERT(acc > 0.9);
    sl_optim_free(o);
    sl_resnet_free(r);
  }
  free(x);
}

static void test_bad_input(void)
{
  sl_resnet_spec s = small_spec();
  sl_resnet *r = NULL;
  s.block_stride[1] = 3;
  sl_clear_error();
  CU_ASSERT(sl_resnet_create(&r, &s, 1) == SL_EINVAL && r == NULL);
  CU_ASSERT(sl_test_msg_has("block_stride[1]"));
  s = small_spec();
  s.n_blocks = 0;
  CU_ASSERT(sl_resnet_create(&r, &s, 1) == SL_EINVAL);
  r = small_net(0, 0.1, 1);
  float x[2 * DIM] = {0};
  int32_t y[2] = {0, 5};
  CU_ASSERT(sl_resnet_backward(r) == SL_EINVAL); /* no forward yet */
  x[7] = NAN;
  CU_ASSERT(sl_resnet_forward(r, x, 2, 1) == SL_ENUMERIC);
  x[7] = 0.0f;
  CU_ASSERT(sl_resnet_forward(r, x, 0, 1) == SL_EINVAL);
  CU_ASSERT_FATAL(sl_resnet_forward(r, x, 2, 1) == SL_OK);
  double l;
  CU_ASSERT(sl_resnet_loss(r, y, &l, NULL) == SL_EINVAL); /* label 5 of 3 classes */
  sl_resnet_deploy_params p = sl_resnet_deploy_params_default();
  p.mapping = SL_RESNET_MAP_TERNARY;
  sl_resnet_deployed *d = NULL;
  sl_clear_error();
  CU_ASSERT(sl_resnet_deploy(&d, r, &p, NULL, 0) == SL_EINVAL && d == NULL);
  CU_ASSERT(sl_test_msg_has("ternary"));
  p.mapping = SL_RESNET_MAP_FP;
  p.on_cim = 1;
  CU_ASSERT(sl_resnet_deploy(&d, r, &p, NULL, 0) == SL_EINVAL); /* no calibration data */
  sl_resnet_free(r);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"gradients of the whole loss vs finite differences", test_gradients_fd},
      {"ternary training: straight-through gradients", test_straight_through},
      {"BN folded deployment = unfolded inference (both mappings)", test_bn_folding},
      {"ideal crossbars = float deployment; noise changes it", test_cim_ideal},
      {"MAC counts and the dynamic-inference view", test_macs_and_dyn},
      {"recalibrated statistics = the batch's", test_recalibrate},
      {"training learns a toy task (float and ternary)", test_training_learns},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run("resnet", cases);
}
