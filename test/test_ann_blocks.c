/* test_ann_blocks.c -- the residual-network layers of ann.h
 * (lib/cim/ann_blocks.c): batch norm (training, inference, folding),
 * global average pooling, the residual add and the cosine head. Every fast
 * kernel against its double-precision reference, every backward against
 * central finite differences of the reference forward (in double), and
 * bad arguments.
 */
#include "config.h"
#include "spikeloop/ann.h"
#include "spikeloop/error.h"

#include <string.h>

#include "fixtures.h"
#include "testutil.h"

static float *randn(size_t n, double lo, double hi)
{
  float *a = sl_test_falloc(n);
  sl_test_fill_uniform(a, n, lo, hi);
  return a;
}

static double dot(const float *a, const float *b, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return s;
}

/* ------------------------------------------------------------ batch norm */

static const size_t bn_shapes[][3] = {{4, 3, 5}, {1, 2, 9}, {7, 5, 1}, {3, 16, 49}, {300, 16, 1}};

static void test_bn_fast_vs_ref(void)
{
  sl_test_seed(1);
  for (size_t t = 0; t < sizeof bn_shapes / sizeof bn_shapes[0]; t++) {
    const size_t B = bn_shapes[t][0], C = bn_shapes[t][1], HW = bn_shapes[t][2], n = B * C * HW;
    float *x = randn(n, -2, 3), *g = randn(C, 0.5, 1.5), *be = randn(C, -1, 1);
    float *y1 = sl_test_falloc(n), *y2 = sl_test_falloc(n), *h1 = sl_test_falloc(n),
          *h2 = sl_test_falloc(n);
    float m1[16], m2[16], s1[16], s2[16], rm1[16], rm2[16], rv1[16], rv2[16];
    for (size_t c = 0; c < C; c++)
      rm1[c] = rm2[c] = 0.5f, rv1[c] = rv2[c] = 2.0f;
    CU_ASSERT_FATAL(sl_batchnorm_forward_train(y1, h1, m1, s1, x, g, be, B, C, HW, 1e-5, rm1, rv1,
                                               0.1) == SL_OK);
    CU_ASSERT_FATAL(sl_batchnorm_forward_train_ref(y2, h2, m2, s2, x, g, be, B, C, HW, 1e-5, rm2,
                                                   rv2, 0.1) == SL_OK);
    double d = fmax(sl_test_max_rel_diff(y1, y2, n, 1.0), sl_test_max_rel_diff(h1, h2, n, 1.0));
    d = fmax(d, sl_test_max_rel_diff(m1, m2, C, 1.0));
    d = fmax(d, sl_test_max_rel_diff(s1, s2, C, 1.0));
    d = fmax(d, sl_test_max_rel_diff(rm1, rm2, C, 1.0));
    d = fmax(d, sl_test_max_rel_diff(rv1, rv2, C, 1.0));
    if (!(d < 1e-5))
      printf("\n    shape %zu: forward max rel diff %g ", t, d);
    CU_ASSERT(d < 1e-5);
    /* the batch is normalised: mean 0, variance ~1 per channel */
    for (size_t c = 0; c < C && B * HW > 1; c++) {
      double mu = 0.0, v = 0.0;
      for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < HW; i++)
          mu += h1[(b * C + c) * HW + i];
      mu /= (double)(B * HW);
      for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < HW; i++)
          v += pow(h1[(b * C + c) * HW + i] - mu, 2);
      v /= (double)(B * HW);
      CU_ASSERT(fabs(mu) < 1e-5);
      CU_ASSERT(fabs(v - 1.0) < 1e-3);
    }
    float *dy = randn(n, -1, 1), *dx1 = sl_test_falloc(n), *dx2 = sl_test_falloc(n);
    float dg1[16] = {0}, dg2[16] = {0}, db1[16] = {0}, db2[16] = {0};
    CU_ASSERT(sl_batchnorm_backward(dx1, dg1, db1, dy, h1, g, s1, B, C, HW) == SL_OK);
    CU_ASSERT(sl_batchnorm_backward_ref(dx2, dg2, db2, dy, h2, g, s2, B, C, HW) == SL_OK);
    d = fmax(sl_test_normwise_rel_diff(dx1, dx2, n), sl_test_normwise_rel_diff(dg1, dg2, C));
    d = fmax(d, sl_test_normwise_rel_diff(db1, db2, C));
    if (!(d < 1e-5))
      printf("\n    shape %zu: backward normwise diff %g ", t, d);
    CU_ASSERT(d < 1e-5);
    free(x), free(g), free(be), free(y1), free(y2), free(h1), free(h2), free(dy), free(dx1),
        free(dx2);
  }
}

/* L = sum r .* BN(x): dL/dx, dL/dgamma, dL/dbeta by central differences of
 * the reference forward. */
static double bn_loss(const float *x, const float *g, const float *be, const float *r, size_t B,
                      size_t C, size_t HW)
{
  const size_t n = B * C * HW;
  float *y = sl_test_falloc(n), *h = sl_test_falloc(n), m[8], s[8];
  sl_batchnorm_forward_train_ref(y, h, m, s, x, g, be, B, C, HW, 1e-5, NULL, NULL, 0.0);
  double l = dot(y, r, n);
  free(y), free(h);
  return l;
}

static double fd(float *v, size_t i, double eps, const float *x, const float *g, const float *be,
                 const float *r, size_t B, size_t C, size_t HW)
{
  const float keep = v[i];
  v[i] = keep + (float)eps;
  double lp = bn_loss(x, g, be, r, B, C, HW);
  v[i] = keep - (float)eps;
  double lm = bn_loss(x, g, be, r, B, C, HW);
  v[i] = keep;
  return (lp - lm) / (2.0 * eps);
}

static void test_bn_fd(void)
{
  sl_test_seed(2);
  const size_t B = 3, C = 2, HW = 4, n = B * C * HW;
  float *x = randn(n, -1, 1), *g = randn(C, 0.5, 1.5), *be = randn(C, -1, 1), *r = randn(n, -1, 1);
  float *y = sl_test_falloc(n), *h = sl_test_falloc(n), m[2], s[2];
  CU_ASSERT_FATAL(sl_batchnorm_forward_train(y, h, m, s, x, g, be, B, C, HW, 1e-5, NULL, NULL,
                                             0.0) == SL_OK);
  float *dx = sl_test_falloc(n), dg[2] = {0}, db[2] = {0};
  CU_ASSERT_FATAL(sl_batchnorm_backward(dx, dg, db, r, h, g, s, B, C, HW) == SL_OK);
  double worst = 0.0;
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, fabs(fd(x, i, 1e-3, x, g, be, r, B, C, HW) - dx[i]));
  for (size_t c = 0; c < C; c++) {
    worst = fmax(worst, fabs(fd(g, c, 1e-3, x, g, be, r, B, C, HW) - dg[c]));
    worst = fmax(worst, fabs(fd(be, c, 1e-3, x, g, be, r, B, C, HW) - db[c]));
  }
  if (!(worst < 2e-3))
    printf("\n    max |fd - analytic| %g ", worst);
  CU_ASSERT(worst < 2e-3);
  free(x), free(g), free(be), free(r), free(y), free(h), free(dx);
}

/* Inference = the folded affine map = gamma (x - rm) / sqrt(rv + eps) + beta. */
static void test_bn_infer_fold(void)
{
  sl_test_seed(3);
  const size_t B = 2, C = 3, HW = 5, n = B * C * HW;
  float *x = randn(n, -2, 2), *g = randn(C, 0.5, 2), *be = randn(C, -1, 1);
  float rm[3] = {0.1f, -0.4f, 1.0f}, rv[3] = {0.5f, 2.0f, 0.01f};
  float *y = sl_test_falloc(n), sc[3], sh[3];
  CU_ASSERT_FATAL(sl_batchnorm_forward_infer(y, x, g, be, rm, rv, B, C, HW, 1e-5) == SL_OK);
  CU_ASSERT_FATAL(sl_batchnorm_fold(sc, sh, g, be, rm, rv, C, 1e-5) == SL_OK);
  double worst = 0.0;
  for (size_t b = 0; b < B; b++)
    for (size_t c = 0; c < C; c++)
      for (size_t i = 0; i < HW; i++) {
        const size_t o = (b * C + c) * HW + i;
        const double want = g[c] * (x[o] - rm[c]) / sqrt(rv[c] + 1e-5) + be[c];
        worst = fmax(worst, fabs(y[o] - want) / fmax(1.0, fabs(want)));
        worst = fmax(worst, fabs(sc[c] * x[o] + sh[c] - want) / fmax(1.0, fabs(want)));
      }
  CU_ASSERT(worst < 1e-5);
  /* in place */
  CU_ASSERT(sl_batchnorm_forward_infer(x, x, g, be, rm, rv, B, C, HW, 1e-5) == SL_OK);
  CU_ASSERT(memcmp(x, y, n * sizeof(float)) == 0);
  rv[1] = NAN;
  sl_clear_error();
  CU_ASSERT(sl_batchnorm_fold(sc, sh, g, be, rm, rv, C, 1e-5) == SL_ENUMERIC);
  CU_ASSERT(sl_test_msg_has("channel 1"));
  free(x), free(g), free(be), free(y);
}

/* ------------------------------------------------------------ GAP, add */

static void test_gap_add(void)
{
  sl_test_seed(4);
  const size_t B = 3, C = 4, HW = 7, n = B * C * HW;
  float *x = randn(n, -1, 1), o1[12], o2[12];
  CU_ASSERT(sl_gap_forward(o1, x, B, C, HW) == SL_OK);
  CU_ASSERT(sl_gap_forward_ref(o2, x, B, C, HW) == SL_OK);
  CU_ASSERT(sl_test_max_rel_diff(o1, o2, B * C, 1.0) < 1e-6);
  /* backward: L = sum r .* gap(x) is linear, so the gradient is exact */
  float r[12], *dx = sl_test_falloc(n);
  sl_test_fill_uniform(r, 12, -1, 1);
  CU_ASSERT(sl_gap_backward(dx, r, B, C, HW) == SL_OK);
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float keep = x[i];
    x[i] = keep + 1e-2f;
    sl_gap_forward_ref(o2, x, B, C, HW);
    double lp = dot(o2, r, 12);
    x[i] = keep - 1e-2f;
    sl_gap_forward_ref(o2, x, B, C, HW);
    double lm = dot(o2, r, 12);
    x[i] = keep;
    worst = fmax(worst, fabs((lp - lm) / 2e-2 - dx[i]));
  }
  CU_ASSERT(worst < 1e-4);
  /* add: out = a + b; backward adds dout into both */
  float a[5] = {1, 2, 3, 4, 5}, b[5] = {-1, 0.5f, 2, 0, 1}, s[5], da[5] = {1, 1, 1, 1, 1},
        db[5] = {0}, g[5] = {0.5f, -1, 2, 0, 3};
  CU_ASSERT(sl_add_forward(s, a, b, 5) == SL_OK);
  for (int i = 0; i < 5; i++)
    CU_ASSERT(s[i] == a[i] + b[i]);
  CU_ASSERT(sl_add_backward(da, db, g, 5) == SL_OK);
  for (int i = 0; i < 5; i++)
    CU_ASSERT(da[i] == 1 + g[i] && db[i] == g[i]);
  CU_ASSERT(sl_add_forward(a, a, b, 5) == SL_OK); /* in place */
  CU_ASSERT(memcmp(a, s, sizeof s) == 0);
  free(x), free(dx);
}

/* ------------------------------------------------------------ cosine head */

static void test_cosine(void)
{
  sl_test_seed(5);
  const size_t B = 4, D = 6, K = 3;
  float *f = randn(B * D, 0, 2), *p = randn(K * D, -1, 1), m[6];
  sl_test_fill_uniform(m, D, 0, 1);
  float l1[12], l2[12];
  for (int with_m = 0; with_m < 2; with_m++) {
    const float *mm = with_m ? m : NULL;
    CU_ASSERT(sl_cosine_forward(l1, f, mm, p, B, D, K, 7.0) == SL_OK);
    CU_ASSERT(sl_cosine_forward_ref(l2, f, mm, p, B, D, K, 7.0) == SL_OK);
    CU_ASSERT(sl_test_max_rel_diff(l1, l2, B * K, 1.0) < 1e-5);
    for (size_t i = 0; i < B * K; i++)
      CU_ASSERT(fabs(l1[i]) <= 7.0 + 1e-5);
    float r[12], *df1 = sl_test_falloc(B * D), *df2 = sl_test_falloc(B * D),
                 *dp1 = sl_test_falloc(K * D), *dp2 = sl_test_falloc(K * D);
    sl_test_fill_uniform(r, 12, -1, 1);
    CU_ASSERT(sl_cosine_backward(df1, dp1, r, f, mm, p, B, D, K, 7.0) == SL_OK);
    CU_ASSERT(sl_cosine_backward_ref(df2, dp2, r, f, mm, p, B, D, K, 7.0) == SL_OK);
    CU_ASSERT(sl_test_normwise_rel_diff(df1, df2, B * D) < 1e-5);
    CU_ASSERT(sl_test_normwise_rel_diff(dp1, dp2, K * D) < 1e-5);
    /* central differences of L = sum r .* logits */
    double worst = 0.0;
    for (int which = 0; which < 2; which++) {
      float *v = which ? p : f, *g = which ? dp1 : df1;
      const size_t n = which ? K * D : B * D;
      for (size_t i = 0; i < n; i++) {
        const float keep = v[i];
        v[i] = keep + 1e-3f;
        sl_cosine_forward_ref(l2, f, mm, p, B, D, K, 7.0);
        double lp = dot(l2, r, 12);
        v[i] = keep - 1e-3f;
        sl_cosine_forward_ref(l2, f, mm, p, B, D, K, 7.0);
        double lm = dot(l2, r, 12);
        v[i] = keep;
        worst = fmax(worst, fabs((lp - lm) / 2e-3 - g[i]));
      }
    }
    if (!(worst < 2e-3))
      printf("\n    cosine: max |fd - analytic| %g ", worst);
    CU_ASSERT(worst < 2e-3);
    free(df1), free(df2), free(dp1), free(dp2);
  }
  /* a zero feature has cosine 0 and no gradient */
  float z[6] = {0}, lz[3], dz[6] = {0}, r3[3] = {1, 1, 1};
  CU_ASSERT(sl_cosine_forward(lz, z, NULL, p, 1, D, K, 5.0) == SL_OK);
  CU_ASSERT(lz[0] == 0.0f && lz[1] == 0.0f && lz[2] == 0.0f);
  CU_ASSERT(sl_cosine_backward(dz, NULL, r3, z, NULL, p, 1, D, K, 5.0) == SL_OK);
  CU_ASSERT(sl_test_max_abs(dz, 6) == 0.0);
  free(f), free(p);
}

static void test_bad_input(void)
{
  float a[8] = {0}, b[8] = {0}, c[8] = {0}, d[8] = {0}, e[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  sl_clear_error();
  CU_ASSERT(sl_batchnorm_forward_train(a, b, c, d, a, e, c, 2, 2, 2, 0.0, NULL, NULL, 0.1) ==
            SL_EINVAL);
  CU_ASSERT(sl_test_msg_has("eps"));
  CU_ASSERT(sl_batchnorm_forward_train(a, b, c, d, a, e, c, 2, 2, 2, 1e-5, NULL, NULL, 1.5) ==
            SL_EINVAL);
  CU_ASSERT(sl_batchnorm_forward_train(a, b, c, d, a, e, c, 0, 2, 2, 1e-5, NULL, NULL, 0.1) ==
            SL_EINVAL);
  CU_ASSERT(sl_batchnorm_backward(a, b, c, NULL, a, e, d, 2, 2, 2) == SL_EINVAL);
  CU_ASSERT(sl_gap_forward(a, NULL, 1, 1, 1) == SL_EINVAL);
  CU_ASSERT(sl_gap_forward(a, b, 1, 0, 1) == SL_EINVAL);
  CU_ASSERT(sl_add_forward(a, NULL, b, 2) == SL_EINVAL);
  CU_ASSERT(sl_cosine_forward(a, b, NULL, c, 1, 0, 2, 1.0) == SL_EINVAL);
  CU_ASSERT(sl_cosine_forward(a, b, NULL, c, 1, 2, 2, NAN) == SL_EINVAL);
}

int main(void)
{
  static const sl_test_case cases[] = {
      {"batch norm fast vs reference (forward, running stats, backward)", test_bn_fast_vs_ref},
      {"batch norm backward vs finite differences", test_bn_fd},
      {"batch norm inference equals its folded affine map", test_bn_infer_fold},
      {"global average pooling and residual add", test_gap_add},
      {"cosine head vs reference and finite differences", test_cosine},
      {"bad input", test_bad_input},
      {NULL, NULL}};
  return sl_test_run("ann_blocks", cases);
}
