/* test_optim.c -- Adam and SGD over a flat parameter block
 * (spikeloop/optim.h).
 *
 * Each optimiser is checked against an independent implementation in
 * double of PyTorch's update rule, step by step, both on the parameters
 * and on the parameter change (the change is what a bug would distort;
 * the parameters alone would hide it behind their own size). Also: the
 * step decay of the learning rate, rejection of non-finite gradients
 * without any change of state, parameter validation, lookup by name, and
 * that Adam actually minimises a small quadratic.
 */
#include "config.h"
#include "spikeloop/error.h"
#include "spikeloop/optim.h"

#include <stdint.h>
#include <string.h>

#include "testutil.h"

#define NP 37
#define STEPS 5

static uint64_t rng_state = 1;
static void rng_seed(uint64_t s) { rng_state = s * 2685821657736338717ull + 1; }
static double urand(void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

/* Parameters w0 and a gradient sequence g[STEPS][NP]; some gradients are
 * exactly zero, some change sign between steps. */
static void make_problem(float *w0, float g[STEPS][NP], uint64_t seed)
{
  rng_seed(seed);
  for (size_t i = 0; i < NP; i++)
    w0[i] = (float)(0.2 * urand() - 0.1);
  for (size_t s = 0; s < STEPS; s++)
    for (size_t i = 0; i < NP; i++)
      g[s][i] = i % 11 == 3 ? 0.0f : (float)((2.0 * urand() - 1.0) * pow(10.0, -3.0 * urand()));
}

/* torch.optim.Adam (amsgrad off, weight_decay 0), in double:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)          */
static void adam_ref(double *w, double *m, double *v, const float *g, size_t t, double lr,
                     double b1, double b2, double eps)
{
  double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
  for (size_t i = 0; i < NP; i++) {
    m[i] = b1 * m[i] + (1.0 - b1) * g[i];
    v[i] = b2 * v[i] + (1.0 - b2) * (double)g[i] * g[i];
    w[i] -= lr / c1 * m[i] / (sqrt(v[i]) / sqrt(c2) + eps);
  }
}

/* torch.optim.SGD (dampening 0, nesterov off): buf = mu buf + g (buf = g
 * at the first step); w -= lr buf. */
static void sgd_ref(double *w, double *buf, const float *g, size_t t, double lr, double mu)
{
  for (size_t i = 0; i < NP; i++) {
    double d = g[i];
    if (mu > 0) {
      buf[i] = t == 1 ? d : mu * buf[i] + d;
      d = buf[i];
    }
    w[i] -= lr * d;
  }
}

/* Differences of parameters (relative, floor 1: they are O(0.1)) and of
 * their change from w0 (relative to the largest change). */
static void compare(const float *w, const double *ref, const float *w0, double *dw_rel,
                    double *dd_rel)
{
  double dmax = 0.0;
  for (size_t i = 0; i < NP; i++)
    if (fabs(ref[i] - w0[i]) > dmax)
      dmax = fabs(ref[i] - w0[i]);
  *dw_rel = *dd_rel = 0.0;
  for (size_t i = 0; i < NP; i++) {
    double a = fabs(w[i] - ref[i]) / (fabs(ref[i]) > 1.0 ? fabs(ref[i]) : 1.0);
    double d = fabs(((double)w[i] - w0[i]) - (ref[i] - w0[i])) / (dmax > 0 ? dmax : 1.0);
    if (!(a <= *dw_rel))
      *dw_rel = a;
    if (!(d <= *dd_rel))
      *dd_rel = d;
  }
}

static void run_against_ref(const char *name, const sl_optim_params *p, const char *label)
{
  float w0[NP], g[STEPS][NP], w[NP];
  make_problem(w0, g, 7);
  memcpy(w, w0, sizeof w);
  double ref[NP], m[NP] = {0}, v[NP] = {0};
  for (size_t i = 0; i < NP; i++)
    ref[i] = w0[i];
  sl_optim *o = NULL;
  CU_ASSERT_FATAL(sl_optim_create(&o, name, NP, p) == SL_OK);
  CU_ASSERT(strcmp(sl_optim_name(o), name) == 0);
  double worst_w = 0.0, worst_d = 0.0;
  for (size_t s = 0; s < STEPS; s++) {
    CU_ASSERT_FATAL(sl_optim_step(o, w, g[s]) == SL_OK);
    if (strcmp(name, "adam") == 0)
      adam_ref(ref, m, v, g[s], s + 1, p->lr, p->beta1, p->beta2, p->eps);
    else
      sgd_ref(ref, m, g[s], s + 1, p->lr, p->momentum);
    double a, d;
    compare(w, ref, w0, &a, &d);
    if (a > worst_w)
      worst_w = a;
    if (d > worst_d)
      worst_d = d;
  }
  double moved = 0.0;
  for (size_t i = 0; i < NP; i++)
    moved = fabs(ref[i] - w0[i]) > moved ? fabs(ref[i] - w0[i]) : moved;
  printf("\n    %-26s %d steps: params max diff %.2e, change max rel diff %.2e "
         "(largest change %.3g) ",
         label, STEPS, worst_w, worst_d, moved);
  CU_ASSERT(worst_w < 1e-5);
  CU_ASSERT(worst_d < 1e-5);
  CU_ASSERT(moved > 1e-3);
  sl_optim_free(o);
}

static void test_adam(void)
{
  sl_optim_params p = sl_optim_params_default();
  p.lr = 0.01;
  run_against_ref("adam", &p, "adam (0.9, 0.999, 1e-8)");
  /* beta2 close to 1: (1 - beta2) must not be formed from a float beta2 */
  p.beta2 = 0.9999;
  run_against_ref("adam", &p, "adam (0.9, 0.9999, 1e-8)");
  p.beta1 = 0.5;
  p.beta2 = 0.9;
  p.eps = 1e-3; /* eps comparable to sqrt(v): outside vs inside the sqrt matters */
  run_against_ref("adam", &p, "adam (0.5, 0.9, 1e-3)");
}

static void test_sgd(void)
{
  sl_optim_params p = sl_optim_params_default();
  p.lr = 0.5;
  run_against_ref("sgd", &p, "sgd");
  p.momentum = 0.9;
  run_against_ref("sgd", &p, "sgd, momentum 0.9");
}

static void test_lr_decay(void)
{
  sl_optim_params p = sl_optim_params_default();
  p.lr = 0.1;
  p.lr_decay = 0.5;
  p.lr_step = 3;
  sl_optim *o = NULL;
  CU_ASSERT_FATAL(sl_optim_create(&o, "sgd", 1, &p) == SL_OK);
  CU_ASSERT(sl_optim_lr(o) == 0.1);
  const double want[8] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025};
  double worst = 0.0;
  for (size_t e = 0; e < 8; e++) {
    sl_optim_set_epoch(o, e);
    double d = fabs(sl_optim_lr(o) - want[e]) / want[e];
    worst = d > worst ? d : worst;
  }
  sl_optim_set_epoch(o, 30);
  worst = fmax(worst, fabs(sl_optim_lr(o) - 0.1 * pow(0.5, 10)) / (0.1 * pow(0.5, 10)));
  printf("\n    step decay: max rel diff of lr %.2e ", worst);
  CU_ASSERT(worst < 1e-12);
  /* the step uses the decayed rate, and going back to epoch 0 restores it */
  float w = 1.0f, g = 1.0f;
  sl_optim_set_epoch(o, 3);
  CU_ASSERT(sl_optim_step(o, &w, &g) == SL_OK);
  CU_ASSERT(fabs(w - 0.95f) < 1e-7);
  sl_optim_set_epoch(o, 0);
  CU_ASSERT(sl_optim_lr(o) == 0.1);
  CU_ASSERT(sl_optim_step(o, &w, &g) == SL_OK);
  CU_ASSERT(fabs(w - 0.85f) < 1e-7);
  sl_optim_free(o);

  /* decay 1: constant */
  p.lr_decay = 1.0;
  CU_ASSERT_FATAL(sl_optim_create(&o, "adam", 1, &p) == SL_OK);
  sl_optim_set_epoch(o, 100);
  CU_ASSERT(sl_optim_lr(o) == 0.1);
  sl_optim_free(o);
}

static void test_nonfinite_grad(void)
{
  for (size_t k = 0; sl_optim_list()[k]; k++) {
    const char *name = sl_optim_list()[k];
    sl_optim_params p = sl_optim_params_default();
    p.momentum = 0.5;
    float w0[NP], g[STEPS][NP];
    make_problem(w0, g, 3);
    sl_optim *a = NULL, *b = NULL;
    CU_ASSERT_FATAL(sl_optim_create(&a, name, NP, &p) == SL_OK);
    CU_ASSERT_FATAL(sl_optim_create(&b, name, NP, &p) == SL_OK);
    float wa[NP], wb[NP], before[NP], bad[NP];
    memcpy(wa, w0, sizeof wa);
    memcpy(wb, w0, sizeof wb);
    CU_ASSERT(sl_optim_step(a, wa, g[0]) == SL_OK);
    CU_ASSERT(sl_optim_step(b, wb, g[0]) == SL_OK);
    /* a sees two bad gradients, b none */
    memcpy(before, wa, sizeof wa);
    memcpy(bad, g[1], sizeof bad);
    bad[NP - 1] = NAN;
    sl_clear_error();
    CU_ASSERT(sl_optim_step(a, wa, bad) == SL_ENUMERIC);
    CU_ASSERT(sl_last_error()[0] != '\0');
    CU_ASSERT(memcmp(wa, before, sizeof wa) == 0);
    bad[NP - 1] = g[1][NP - 1];
    bad[0] = -INFINITY;
    CU_ASSERT(sl_optim_step(a, wa, bad) == SL_ENUMERIC);
    CU_ASSERT(memcmp(wa, before, sizeof wa) == 0);
    /* no hidden state moved either (moments, step count) */
    for (size_t s = 1; s < STEPS; s++) {
      CU_ASSERT(sl_optim_step(a, wa, g[s]) == SL_OK);
      CU_ASSERT(sl_optim_step(b, wb, g[s]) == SL_OK);
    }
    int same = memcmp(wa, wb, sizeof wa) == 0;
    printf("\n    %s: after rejected NaN/Inf gradients, state %s ", name,
           same ? "identical to a clean run" : "DIFFERS from a clean run");
    CU_ASSERT(same);
    sl_optim_free(a), sl_optim_free(b);
  }
}

static void expect_bad(const char *name, sl_optim_params p, const char *what)
{
  sl_optim *o = (sl_optim *)&o; /* must be reset to NULL */
  sl_clear_error();
  int rc = sl_optim_create(&o, name, 4, &p);
  if (rc != SL_EINVAL || o != NULL || sl_last_error()[0] == '\0')
    printf("\n    %s %s: rc %d, message '%s'", name, what, rc, sl_last_error());
  CU_ASSERT(rc == SL_EINVAL);
  CU_ASSERT(o == NULL);
  CU_ASSERT(sl_last_error()[0] != '\0');
  if (rc == SL_OK)
    sl_optim_free(o);
}

static void test_bad_params(void)
{
  const sl_optim_params d = sl_optim_params_default();
  CU_ASSERT(d.lr == 1e-3 && d.lr_decay == 1.0 && d.lr_step == 1);
  CU_ASSERT(d.beta1 == 0.9 && d.beta2 == 0.999 && d.eps == 1e-8 && d.momentum == 0.0);
  for (size_t k = 0; k < 2; k++) {
    const char *name = k ? "sgd" : "adam";
    sl_optim_params p;
    p = d, p.lr = 0.0, expect_bad(name, p, "lr 0");
    p = d, p.lr = -1e-3, expect_bad(name, p, "lr < 0");
    p = d, p.lr = NAN, expect_bad(name, p, "lr NaN");
    p = d, p.lr = INFINITY, expect_bad(name, p, "lr Inf");
    p = d, p.lr_decay = 0.0, expect_bad(name, p, "lr_decay 0");
    p = d, p.lr_decay = 1.5, expect_bad(name, p, "lr_decay > 1");
    p = d, p.lr_decay = NAN, expect_bad(name, p, "lr_decay NaN");
    p = d, p.lr_step = 0, expect_bad(name, p, "lr_step 0");
    p = d, p.beta1 = 1.0, expect_bad(name, p, "beta1 1");
    p = d, p.beta1 = -0.1, expect_bad(name, p, "beta1 < 0");
    p = d, p.beta2 = 1.0, expect_bad(name, p, "beta2 1");
    p = d, p.beta2 = NAN, expect_bad(name, p, "beta2 NaN");
    p = d, p.eps = 0.0, expect_bad(name, p, "eps 0");
    p = d, p.momentum = 1.0, expect_bad(name, p, "momentum 1");
    p = d, p.momentum = -0.5, expect_bad(name, p, "momentum < 0");
  }
  sl_optim *o = NULL;
  CU_ASSERT(sl_optim_create(&o, "adam", 0, &d) == SL_EINVAL);
  CU_ASSERT(sl_optim_create(&o, "adam", 4, NULL) == SL_EINVAL);
  CU_ASSERT(sl_optim_create(NULL, "adam", 4, &d) == SL_EINVAL);
  CU_ASSERT_FATAL(sl_optim_create(&o, "adam", 4, &d) == SL_OK);
  float w[4] = {0}, g[4] = {0};
  CU_ASSERT(sl_optim_step(o, NULL, g) == SL_EINVAL);
  CU_ASSERT(sl_optim_step(o, w, NULL) == SL_EINVAL);
  sl_optim_free(o);
  sl_optim_free(NULL);
}

static void test_names(void)
{
  const char *const *list = sl_optim_list();
  size_t n = 0;
  int adam = 0, sgd = 0;
  for (; list[n]; n++) {
    adam |= strcmp(list[n], "adam") == 0;
    sgd |= strcmp(list[n], "sgd") == 0;
  }
  CU_ASSERT(n >= 2 && adam && sgd);
  sl_optim_params p = sl_optim_params_default();
  sl_optim *o = (sl_optim *)&o;
  sl_clear_error();
  CU_ASSERT(sl_optim_create(&o, "rmsprop", 4, &p) == SL_ENOTFOUND);
  CU_ASSERT(o == NULL);
  CU_ASSERT(strstr(sl_last_error(), "rmsprop") != NULL);
  CU_ASSERT(strstr(sl_last_error(), "adam") != NULL); /* lists the known ones */
  CU_ASSERT_STRING_EQUAL(sl_last_error(), "unknown optimiser 'rmsprop' (known: adam, sgd)");
  CU_ASSERT(sl_optim_create(&o, NULL, 4, &p) == SL_ENOTFOUND);
  CU_ASSERT(sl_optim_create(&o, "Adam", 4, &p) == SL_ENOTFOUND);
  CU_ASSERT(sl_optim_name(NULL) == NULL);
}

/* f(w) = sum_i a_i (w_i - c_i)^2, minimised by Adam with a decaying rate. */
static void test_adam_quadratic(void)
{
  enum { N = 6 };
  const double a[N] = {1.0, 10.0, 0.1, 3.0, 0.5, 30.0};
  const double c[N] = {1.0, -2.0, 0.5, 0.0, 3.0, -0.25};
  float w[N] = {0}, g[N];
  sl_optim_params p = sl_optim_params_default();
  p.lr = 0.1;
  p.lr_decay = 0.5;
  p.lr_step = 1;
  sl_optim *o = NULL;
  CU_ASSERT_FATAL(sl_optim_create(&o, "adam", N, &p) == SL_OK);
  const size_t steps = 2000, per_epoch = 200;
  for (size_t s = 0; s < steps; s++) {
    sl_optim_set_epoch(o, s / per_epoch);
    for (size_t i = 0; i < N; i++)
      g[i] = (float)(2.0 * a[i] * (w[i] - c[i]));
    CU_ASSERT_FATAL(sl_optim_step(o, w, g) == SL_OK);
  }
  double worst = 0.0, f = 0.0;
  for (size_t i = 0; i < N; i++) {
    worst = fmax(worst, fabs(w[i] - c[i]));
    f += a[i] * (w[i] - c[i]) * (w[i] - c[i]);
  }
  printf("\n    adam on a quadratic: %zu steps, max |w - w*| %.2e, f %.2e ", steps, worst, f);
  CU_ASSERT(worst < 1e-3);
  sl_optim_free(o);
}

/* Save the state after 3 of 5 steps, restore it into a fresh optimiser:
 * the last 2 steps give bit-identical parameters (both optimisers). */
static void test_state_roundtrip(void)
{
  static const char *const names[] = {"adam", "sgd"};
  for (size_t k = 0; k < 2; k++) {
    float w0[NP], g[STEPS][NP], wa[NP], wb[NP];
    make_problem(w0, g, 11 + k);
    sl_optim_params p = sl_optim_params_default();
    p.lr = 0.05;
    p.momentum = 0.9;
    sl_optim *a = NULL, *b = NULL;
    CU_ASSERT_FATAL(sl_optim_create(&a, names[k], NP, &p) == SL_OK);
    CU_ASSERT_FATAL(sl_optim_create(&b, names[k], NP, &p) == SL_OK);
    CU_ASSERT(sl_optim_num_moments(a) == (k == 0 ? 2u : 1u));
    CU_ASSERT(sl_optim_num_params(a) == NP);
    memcpy(wa, w0, sizeof wa);
    for (size_t s = 0; s < 3; s++)
      CU_ASSERT(sl_optim_step(a, wa, g[s]) == SL_OK);
    size_t step = 0;
    const float *m = NULL, *v = NULL;
    CU_ASSERT(sl_optim_state(a, &step, &m, &v) == SL_OK);
    CU_ASSERT(step == 3);
    CU_ASSERT((v != NULL) == (k == 0));
    CU_ASSERT(sl_optim_set_state(b, step, m, v) == SL_OK);
    memcpy(wb, wa, sizeof wb);
    for (size_t s = 3; s < STEPS; s++) {
      CU_ASSERT(sl_optim_step(a, wa, g[s]) == SL_OK);
      CU_ASSERT(sl_optim_step(b, wb, g[s]) == SL_OK);
    }
    CU_ASSERT(memcmp(wa, wb, sizeof wa) == 0);
    CU_ASSERT(sl_optim_set_state(a, 0, NULL, NULL) == SL_EINVAL);
    CU_ASSERT(sl_optim_set_state(NULL, 0, m, v) == SL_EINVAL);
    sl_optim_free(a);
    sl_optim_free(b);
  }
  CU_ASSERT(sl_optim_state(NULL, NULL, NULL, NULL) == SL_EINVAL);
}

int main(void)
{
  static const sl_test_case cases[] = {{"adam vs PyTorch reference", test_adam},
                                       {"sgd and momentum vs PyTorch reference", test_sgd},
                                       {"learning-rate step decay", test_lr_decay},
                                       {"non-finite gradient", test_nonfinite_grad},
                                       {"bad parameters", test_bad_params},
                                       {"lookup by name", test_names},
                                       {"adam minimises a quadratic", test_adam_quadratic},
                                       {"state save and restore", test_state_roundtrip},
                                       {NULL, NULL}};
  return sl_test_run("optim", cases);
}
