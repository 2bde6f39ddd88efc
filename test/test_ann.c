/* test_ann.c -- the ANN layers of include/spikeloop/ann.h: every fast
 * kernel against its reference (forward and backward, with padding,
 * strides and overlapping pools), every backward against central finite
 * differences of the forward (in double through the reference kernels),
 * the crossbar variants against the float forward with the non-idealities
 * off, and bad shapes.
 */
#include "config.h"
#include "spikeloop/ann.h"
#include "spikeloop/error.h"
#include "testutil.h"

#include <string.h>

static unsigned rng_state = 12345u;
static float urand(void)
{
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}
static float *rand_array(size_t n)
{
  float *a = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++)
    a[i] = urand();
  return a;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

/* L = sum(out .* r): dL/dout = r. */
static double dotf(const float *a, const float *b, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return s;
}

static const sl_conv2d_shape conv_shapes[] = {
    {2, 1, 7, 6, 3, 3, 3, 1, 0}, {2, 2, 6, 7, 4, 3, 3, 1, 1}, {1, 3, 8, 8, 2, 3, 2, 2, 1},
    {9, 5, 1, 1, 4, 1, 1, 1, 0} /* pointwise: plain rows */};
#define N_CONV_SHAPES (sizeof conv_shapes / sizeof conv_shapes[0])

static void test_conv_against_ref(void)
{
  for (size_t t = 0; t < N_CONV_SHAPES; t++) {
    const sl_conv2d_shape *s = &conv_shapes[t];
    const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s);
    const size_t nin = s->B * s->C * s->H * s->W, R = s->C * s->kh * s->kw,
                 nout = s->B * s->K * OH * OW;
    float *in = rand_array(nin), *w = rand_array(R * s->K), *bias = rand_array(s->K);
    float *o1 = zeros(nout), *o2 = zeros(nout), *g = rand_array(nout);
    float *di1 = zeros(nin), *di2 = zeros(nin), *dw1 = zeros(R * s->K), *dw2 = zeros(R * s->K);
    float *db1 = zeros(s->K), *db2 = zeros(s->K);
    CU_ASSERT_FATAL(sl_conv2d_forward(o1, in, w, bias, s) == SL_OK);
    CU_ASSERT_FATAL(sl_conv2d_forward_ref(o2, in, w, bias, s) == SL_OK);
    double df = sl_test_max_rel_diff(o1, o2, nout, 1.0);
    CU_ASSERT_FATAL(sl_conv2d_backward(di1, dw1, db1, g, in, w, s) == SL_OK);
    CU_ASSERT_FATAL(sl_conv2d_backward_ref(di2, dw2, db2, g, in, w, s) == SL_OK);
    double dd = fmax(sl_test_max_rel_diff(di1, di2, nin, 1.0),
                     fmax(sl_test_max_rel_diff(dw1, dw2, R * s->K, 1.0),
                          sl_test_max_rel_diff(db1, db2, s->K, 1.0)));
    printf("\n    conv %zu: forward %.1e backward %.1e ", t, df, dd);
    CU_ASSERT(df < 1e-5);
    CU_ASSERT(dd < 1e-5);
    free(in), free(w), free(bias), free(o1), free(o2), free(g), free(di1), free(di2);
    free(dw1), free(dw2), free(db1), free(db2);
  }
}

/* Central differences of L(p) = sum(forward(p) .* r) for one parameter
 * array p of n values; returns the max relative error against grad. */
typedef double (*loss_fn)(void *ctx);
static double fd_check(float *p, size_t n, const float *grad, loss_fn f, void *ctx)
{
  double worst = 0.0;
  const float eps = 1e-2f;
  for (size_t i = 0; i < n; i++) {
    float keep = p[i];
    p[i] = keep + eps;
    double lp = f(ctx);
    p[i] = keep - eps;
    double lm = f(ctx);
    p[i] = keep;
    double num = (lp - lm) / (2.0 * eps), e = fabs(num - grad[i]) / fmax(1.0, fabs(num));
    if (!(e <= worst))
      worst = isnan(e) ? INFINITY : e;
  }
  return worst;
}

typedef struct {
  const sl_conv2d_shape *s;
  float *in, *w, *bias, *out, *r;
  size_t nout;
} conv_ctx;
static double conv_loss(void *v)
{
  conv_ctx *c = v;
  sl_conv2d_forward_ref(c->out, c->in, c->w, c->bias, c->s);
  return dotf(c->out, c->r, c->nout);
}

static void test_conv_gradcheck(void)
{
  const sl_conv2d_shape *s = &conv_shapes[1];
  const size_t OH = sl_conv2d_out_h(s), OW = sl_conv2d_out_w(s);
  const size_t nin = s->B * s->C * s->H * s->W, R = s->C * s->kh * s->kw,
               nout = s->B * s->K * OH * OW;
  conv_ctx c = {s, rand_array(nin), rand_array(R * s->K), rand_array(s->K), zeros(nout),
                rand_array(nout), nout};
  float *di = zeros(nin), *dw = zeros(R * s->K), *db = zeros(s->K);
  CU_ASSERT_FATAL(sl_conv2d_backward(di, dw, db, c.r, c.in, c.w, s) == SL_OK);
  double e1 = fd_check(c.in, nin, di, conv_loss, &c), e2 = fd_check(c.w, R * s->K, dw, conv_loss, &c),
         e3 = fd_check(c.bias, s->K, db, conv_loss, &c);
  printf("\n    finite differences: d/dinput %.1e d/dw %.1e d/db %.1e ", e1, e2, e3);
  CU_ASSERT(e1 < 1e-3 && e2 < 1e-3 && e3 < 1e-3);
  free(c.in), free(c.w), free(c.bias), free(c.out), free(c.r), free(di), free(dw), free(db);
}

typedef struct {
  const sl_pool_shape *s;
  float *in, *out, *r;
  size_t *arg, nout;
  int avg;
} pool_ctx;
static double pool_loss(void *v)
{
  pool_ctx *c = v;
  if (c->avg)
    sl_avgpool_forward_ref(c->out, c->in, c->s);
  else
    sl_maxpool_forward_ref(c->out, c->arg, c->in, c->s);
  return dotf(c->out, c->r, c->nout);
}

static void test_pooling(void)
{
  static const sl_pool_shape shapes[] = {{2, 3, 6, 6, 2, 2}, {1, 2, 9, 9, 3, 2}, {2, 1, 5, 7, 2, 2}};
  for (size_t t = 0; t < 3; t++) {
    const sl_pool_shape *s = &shapes[t];
    const size_t nin = s->B * s->C * s->H * s->W, nout = s->B * s->C * sl_pool_out_h(s) *
                                                        sl_pool_out_w(s);
    /* distinct values spaced well beyond the finite-difference step */
    float *in = malloc(nin * sizeof(float));
    for (size_t i = 0; i < nin; i++)
      in[i] = (float)((i * 37) % nin) * 0.1f - 1.0f;
    float *o1 = zeros(nout), *o2 = zeros(nout), *r = rand_array(nout);
    size_t *a1 = calloc(nout, sizeof(size_t)), *a2 = calloc(nout, sizeof(size_t));
    float *d1 = zeros(nin), *d2 = zeros(nin);
    for (int avg = 0; avg < 2; avg++) {
      memset(d1, 0, nin * sizeof(float));
      memset(d2, 0, nin * sizeof(float));
      if (avg) {
        CU_ASSERT_FATAL(sl_avgpool_forward(o1, in, s) == SL_OK);
        CU_ASSERT_FATAL(sl_avgpool_forward_ref(o2, in, s) == SL_OK);
        CU_ASSERT_FATAL(sl_avgpool_backward(d1, r, s) == SL_OK);
        CU_ASSERT_FATAL(sl_avgpool_backward_ref(d2, r, s) == SL_OK);
      } else {
        CU_ASSERT_FATAL(sl_maxpool_forward(o1, a1, in, s) == SL_OK);
        CU_ASSERT_FATAL(sl_maxpool_forward_ref(o2, a2, in, s) == SL_OK);
        CU_ASSERT(memcmp(a1, a2, nout * sizeof(size_t)) == 0);
        CU_ASSERT_FATAL(sl_maxpool_backward(d1, r, a1, s) == SL_OK);
        CU_ASSERT_FATAL(sl_maxpool_backward_ref(d2, r, a2, s) == SL_OK);
      }
      CU_ASSERT(sl_test_max_rel_diff(o1, o2, nout, 1.0) < 1e-6);
      CU_ASSERT(sl_test_max_rel_diff(d1, d2, nin, 1.0) < 1e-6);
      pool_ctx c = {s, in, zeros(nout), r, calloc(nout, sizeof(size_t)), nout, avg};
      double e = fd_check(in, nin, d1, pool_loss, &c);
      printf("\n    %s pool %zu: finite differences %.1e ", avg ? "avg" : "max", t, e);
      CU_ASSERT(e < 1e-3);
      free(c.out);
      free(c.arg);
    }
    free(in), free(o1), free(o2), free(r), free(a1), free(a2), free(d1), free(d2);
  }
}

typedef struct {
  float *in, *w, *b, *out, *r;
  size_t B, ni, no;
} fc_ctx;
static double fc_loss(void *v)
{
  fc_ctx *c = v;
  sl_fc_forward_ref(c->out, c->in, c->w, c->b, c->B, c->ni, c->no);
  for (size_t i = 0; i < c->B * c->no; i++) /* through a ReLU too */
    c->out[i] = c->out[i] > 0 ? c->out[i] : 0;
  return dotf(c->out, c->r, c->B * c->no);
}

static void test_fc_relu(void)
{
  const size_t B = 5, ni = 13, no = 7;
  fc_ctx c = {rand_array(B * ni), rand_array(ni * no), rand_array(no), zeros(B * no),
              rand_array(B * no), B, ni, no};
  float *o1 = zeros(B * no), *o2 = zeros(B * no);
  CU_ASSERT_FATAL(sl_fc_forward(o1, c.in, c.w, c.b, B, ni, no) == SL_OK);
  CU_ASSERT_FATAL(sl_fc_forward_ref(o2, c.in, c.w, c.b, B, ni, no) == SL_OK);
  CU_ASSERT(sl_test_max_rel_diff(o1, o2, B * no, 1.0) < 1e-5);
  /* backward through the ReLU: keep pre-activations away from 0 */
  for (size_t i = 0; i < B * no; i++)
    if (fabsf(o1[i]) < 0.05f)
      c.b[i % no] += 0.2f;
  CU_ASSERT_FATAL(sl_fc_forward(o1, c.in, c.w, c.b, B, ni, no) == SL_OK);
  float *a = zeros(B * no), *g = zeros(B * no);
  CU_ASSERT_FATAL(sl_relu_forward(a, o1, B * no) == SL_OK);
  CU_ASSERT_FATAL(sl_relu_backward(g, c.r, o1, B * no) == SL_OK);
  float *di[2] = {zeros(B * ni), zeros(B * ni)}, *dw[2] = {zeros(ni * no), zeros(ni * no)},
        *db[2] = {zeros(no), zeros(no)};
  CU_ASSERT_FATAL(sl_fc_backward(di[0], dw[0], db[0], g, c.in, c.w, B, ni, no) == SL_OK);
  CU_ASSERT_FATAL(sl_fc_backward_ref(di[1], dw[1], db[1], g, c.in, c.w, B, ni, no) == SL_OK);
  CU_ASSERT(sl_test_max_rel_diff(di[0], di[1], B * ni, 1.0) < 1e-5);
  CU_ASSERT(sl_test_max_rel_diff(dw[0], dw[1], ni * no, 1.0) < 1e-5);
  CU_ASSERT(sl_test_max_rel_diff(db[0], db[1], no, 1.0) < 1e-5);
  double e1 = fd_check(c.in, B * ni, di[0], fc_loss, &c), e2 = fd_check(c.w, ni * no, dw[0],
                                                                         fc_loss, &c),
         e3 = fd_check(c.b, no, db[0], fc_loss, &c);
  printf("\n    fc+relu finite differences %.1e %.1e %.1e ", e1, e2, e3);
  CU_ASSERT(e1 < 1e-3 && e2 < 1e-3 && e3 < 1e-3);
  /* flatten: identity copy, gradient added */
  float *f = zeros(B * ni), *df = zeros(B * ni);
  CU_ASSERT(sl_flatten_forward(f, c.in, B * ni) == SL_OK);
  CU_ASSERT(memcmp(f, c.in, B * ni * sizeof(float)) == 0);
  CU_ASSERT(sl_flatten_backward(df, c.in, B * ni) == SL_OK);
  CU_ASSERT(memcmp(df, c.in, B * ni * sizeof(float)) == 0);
  free(f), free(df), free(a), free(g), free(o1), free(o2);
  for (int k = 0; k < 2; k++)
    free(di[k]), free(dw[k]), free(db[k]);
  free(c.in), free(c.w), free(c.b), free(c.out), free(c.r);
}

static void test_softmax_xent(void)
{
  const size_t B = 4, n = 5;
  float *z = rand_array(B * n), *g = zeros(B * n);
  int32_t y[4] = {0, 3, 4, 1};
  double loss, lp, lm;
  size_t correct;
  CU_ASSERT_FATAL(sl_softmax_xent(z, y, B, n, &loss, g, &correct) == SL_OK);
  CU_ASSERT(correct <= B && loss > 0);
  double worst = 0;
  for (size_t i = 0; i < B * n; i++) {
    float k = z[i];
    z[i] = k + 1e-2f;
    sl_softmax_xent(z, y, B, n, &lp, NULL, NULL);
    z[i] = k - 1e-2f;
    sl_softmax_xent(z, y, B, n, &lm, NULL, NULL);
    z[i] = k;
    worst = fmax(worst, fabs((lp - lm) / 2e-2 - g[i]));
  }
  printf("\n    softmax cross-entropy finite differences %.1e ", worst);
  CU_ASSERT(worst < 1e-4);
  y[0] = 7;
  CU_ASSERT(sl_softmax_xent(z, y, B, n, &loss, NULL, NULL) == SL_EINVAL);
  y[0] = 0;
  z[3] = NAN;
  CU_ASSERT(sl_softmax_xent(z, y, B, n, &loss, NULL, NULL) == SL_ENUMERIC);
  free(z), free(g);
}

/* On a crossbar with every non-ideality off and continuous conductances,
 * the products equal the float ones; with noise they stay close. */
static void test_on_crossbar(void)
{
  const sl_conv2d_shape s = {3, 2, 8, 8, 5, 3, 3, 1, 0};
  const size_t OH = sl_conv2d_out_h(&s), OW = sl_conv2d_out_w(&s), R = 18;
  const size_t nin = 3 * 2 * 64, nout = 3 * 5 * OH * OW;
  float *in = rand_array(nin), *w = rand_array(R * 5), *bias = rand_array(5);
  for (size_t i = 0; i < nin; i++)
    in[i] = fabsf(in[i]);
  float *o1 = zeros(nout), *o2 = zeros(nout);
  sl_cim_params p = sl_cim_params_default();
  p.levels = 0;
  p.prog_sd = p.read_sd = 0;
  p.dac_bits = p.adc_bits = 0;
  p.drift_nu = 0;
  sl_cim *c = NULL;
  CU_ASSERT_FATAL(sl_cim_alloc(&c, R, 5, &p) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_program(c, w) == SL_OK);
  CU_ASSERT_FATAL(sl_conv2d_forward(o1, in, w, bias, &s) == SL_OK);
  CU_ASSERT_FATAL(sl_conv2d_forward_cim(o2, in, c, bias, &s) == SL_OK);
  double d = sl_test_max_rel_diff(o2, o1, nout, 1.0);
  printf("\n    conv on an ideal crossbar: %.1e ", d);
  CU_ASSERT(d < 1e-5);
  float *f1 = zeros(3 * 5), *f2 = zeros(3 * 5);
  CU_ASSERT_FATAL(sl_fc_forward(f1, in, w, bias, 3, R, 5) == SL_OK);
  CU_ASSERT_FATAL(sl_fc_forward_cim(f2, in, c, bias, 3) == SL_OK);
  CU_ASSERT(sl_test_max_rel_diff(f2, f1, 15, 1.0) < 1e-5);
  /* a crossbar of the wrong size */
  sl_conv2d_shape s2 = s;
  s2.K = 4;
  CU_ASSERT(sl_conv2d_forward_cim(o2, in, c, bias, &s2) == SL_ESHAPE);
  sl_cim_free(c);
  /* noisy: 15 levels, write noise, read noise, 8-bit DAC and ADC */
  p = sl_cim_params_default();
  p.adc_bits = 0;
  CU_ASSERT_FATAL(sl_cim_alloc(&c, R, 5, &p) == SL_OK);
  CU_ASSERT_FATAL(sl_cim_program(c, w) == SL_OK);
  CU_ASSERT_FATAL(sl_conv2d_forward_cim(o2, in, c, bias, &s) == SL_OK);
  double num = 0, den = 0;
  for (size_t i = 0; i < nout; i++) {
    num += (o2[i] - o1[i]) * (o2[i] - o1[i]);
    den += o1[i] * o1[i];
  }
  printf("noisy crossbar relative error %.3f ", sqrt(num / den));
  CU_ASSERT(sqrt(num / den) > 0.001 && sqrt(num / den) < 0.3);
  in[7] = NAN;
  CU_ASSERT(sl_conv2d_forward_cim(o2, in, c, bias, &s) == SL_ENUMERIC);
  sl_cim_free(c);
  free(in), free(w), free(bias), free(o1), free(o2), free(f1), free(f2);
}

static void test_bad_shapes(void)
{
  float a[64] = {0}, b[64] = {0};
  size_t arg[64];
  sl_conv2d_shape s = {1, 1, 2, 2, 1, 3, 3, 1, 0};
  CU_ASSERT(sl_conv2d_out_h(&s) == 0);
  CU_ASSERT(sl_conv2d_forward(a, b, b, NULL, &s) == SL_EINVAL);
  CU_ASSERT(sl_conv2d_backward_ref(a, a, a, b, b, b, &s) == SL_EINVAL);
  s.pad = 1; /* now 4 x 4 padded: fits */
  CU_ASSERT(sl_conv2d_forward(a, b, b, NULL, &s) == SL_OK);
  s.stride = 0;
  CU_ASSERT(sl_conv2d_forward_ref(a, b, b, NULL, &s) == SL_EINVAL);
  CU_ASSERT(sl_conv2d_forward(NULL, b, b, NULL, &s) == SL_EINVAL);
  sl_pool_shape p = {1, 1, 3, 3, 4, 1};
  CU_ASSERT(sl_maxpool_forward(a, arg, b, &p) == SL_EINVAL);
  CU_ASSERT(sl_avgpool_forward(a, b, &p) == SL_EINVAL);
  p.k = 2;
  CU_ASSERT(sl_maxpool_forward(a, NULL, b, &p) == SL_EINVAL);
  CU_ASSERT(sl_fc_forward(a, b, b, NULL, 0, 3, 3) == SL_EINVAL);
  CU_ASSERT(sl_relu_forward(NULL, b, 3) == SL_EINVAL);
}

int main(void)
{
  static const sl_test_case cases[] = {{"conv2d fast vs reference", test_conv_against_ref},
                                       {"conv2d gradient check", test_conv_gradcheck},
                                       {"max and average pooling", test_pooling},
                                       {"fully connected, ReLU, flatten", test_fc_relu},
                                       {"softmax cross-entropy", test_softmax_xent},
                                       {"layers on a crossbar", test_on_crossbar},
                                       {"bad shapes", test_bad_shapes},
                                       {NULL, NULL}};
  return sl_test_run("ann", cases);
}
